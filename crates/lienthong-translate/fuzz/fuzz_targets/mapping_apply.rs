//! Feeds arbitrary rows (built from the fuzzer's bytes by `sample::arbitrary_row`: every column
//! type, impossible dates, legacy-encoded and invalid text, missing and unknown columns) through
//! every shipped mapping under every operation. The property: no panic, no unbounded work, and
//! each row either translates into an encodable record or is rejected with a `mapping.*` kind.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use lienthong_proto::v1::Operation;
use lienthong_translate::sample::{arbitrary_row, change_event};
use lienthong_translate::{CodeLists, MappingSet};

fn schemas() -> &'static (CodeLists, MappingSet) {
    static LOADED: OnceLock<(CodeLists, MappingSet)> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas");
        let lists = CodeLists::load_dir(dir.join("codelists")).expect("code lists");
        let mappings = MappingSet::load_dir(dir.join("mappings"), &lists).expect("mappings");
        (lists, mappings)
    })
}

const OPERATIONS: [Operation; 4] = [
    Operation::Read,
    Operation::Insert,
    Operation::Update,
    Operation::Delete,
];

fuzz_target!(|data: &[u8]| {
    let (lists, mappings) = schemas();
    let now = UNIX_EPOCH + Duration::from_secs(1_754_017_200);
    let operation = OPERATIONS[usize::from(data.first().copied().unwrap_or(0)) % 4];
    for mapping in mappings.iter() {
        let row = arbitrary_row(&mapping.columns(), data);
        let event = change_event(mapping, operation, row, &[], now, 1);
        match mapping.apply(&event, lists, now) {
            Ok(record) => {
                assert!(!record.key.is_empty());
                let _ = record.entity.encode_to_vec();
            }
            Err(e) => assert!(e.kind().starts_with("mapping."), "{}", e.kind()),
        }
    }
});
