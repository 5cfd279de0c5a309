//! The mapping engine on arbitrary rows (the property the fuzz target in `fuzz/` checks at
//! scale): for every shipped mapping and every operation, any row either translates into a
//! record that encodes and decodes again, with its key and provenance, or is rejected with a
//! stable error kind. Nothing panics.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use lienthong_proto::v1::Operation;
use lienthong_translate::sample::{arbitrary_row, change_event};
use lienthong_translate::{CodeLists, MappingSet, RecordOperation};
use proptest::prelude::*;

fn schemas() -> &'static (CodeLists, MappingSet) {
    static LOADED: OnceLock<(CodeLists, MappingSet)> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let lists = CodeLists::load_dir(dir.join("codelists")).unwrap();
        let mappings = MappingSet::load_dir(dir.join("mappings"), &lists).unwrap();
        (lists, mappings)
    })
}

const OPERATIONS: [Operation; 4] = [
    Operation::Read,
    Operation::Insert,
    Operation::Update,
    Operation::Delete,
];

fn check(data: &[u8]) -> Result<(), TestCaseError> {
    let (lists, mappings) = schemas();
    let now = UNIX_EPOCH + Duration::from_secs(1_754_017_200);
    let operation = OPERATIONS[usize::from(data.first().copied().unwrap_or(0)) % 4];
    for mapping in mappings.iter() {
        let row = arbitrary_row(&mapping.columns(), data);
        let event = change_event(mapping, operation, row, &[], now, 1);
        match mapping.apply(&event, lists, now) {
            Ok(record) => {
                prop_assert!(!record.key.is_empty());
                prop_assert_eq!(
                    record.operation == RecordOperation::Delete,
                    operation == Operation::Delete
                );
                let provenance = record.provenance().unwrap();
                prop_assert_eq!(&provenance.mapping_id, mapping.id());
                prop_assert_eq!(&provenance.mapping_version, mapping.version());
                prop_assert!(!record.entity.encode_to_vec().is_empty());
            }
            Err(e) => prop_assert!(e.kind().starts_with("mapping."), "{}", e.kind()),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_row_translates_or_is_rejected_with_a_kind(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&data)?;
    }
}

#[test]
fn the_same_bytes_give_the_same_row() {
    let columns = ["a", "b", "c"];
    let data: Vec<u8> = (0u8..=255).collect();
    assert_eq!(
        arbitrary_row(&columns, &data),
        arbitrary_row(&columns, &data)
    );
    // Even no bytes at all make a row (of NULLs).
    assert_eq!(arbitrary_row(&columns, &[]).columns.len(), 3);
}
