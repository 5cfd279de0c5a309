#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::*;

/// The committed code-list directory.
fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists")
}

/// Loaded once per test binary: the commune lists make a load take a few milliseconds.
fn committed() -> &'static CodeLists {
    static LISTS: OnceLock<CodeLists> = OnceLock::new();
    LISTS.get_or_init(|| CodeLists::load_dir(committed_dir()).unwrap())
}

fn day(y: i32, m: u8, d: u8) -> CivilDate {
    CivilDate::new(y, m, d).unwrap()
}

#[test]
fn committed_lists_have_the_expected_sizes() {
    let sizes: BTreeMap<&str, usize> = committed()
        .lists()
        .map(|l| (l.code_system(), l.len()))
        .collect();
    assert_eq!(
        sizes,
        BTreeMap::from([
            ("lienthong.sex", 2),
            ("vn.commune.2025", 3321),
            ("vn.commune.pre2025", 10_035),
            ("vn.district.pre2025", 691),
            ("vn.ethnic.qd1019-2008", 20),
            ("vn.ethnic.qd121-1979", 54),
            ("vn.province.2025", 34),
            ("vn.province.pre2025", 63),
            ("vn.religion", 15),
        ])
    );
}

#[test]
fn province_lists_split_at_the_merger() {
    let lists = committed();
    let old = lists.list(PROVINCE_PRE_2025).unwrap().info();
    let new = lists.list(PROVINCE_2025).unwrap().info();
    assert_eq!(old.valid_to, Some(day(2025, 6, 30)));
    assert_eq!(old.valid_from, None);
    assert_eq!(new.valid_from, Some(day(2025, 7, 1)));
    assert_eq!(new.valid_to, None);
    assert_eq!(old.unit_level, Some(UnitLevel::Province));
    // Each old code's ID-number prefix is the code with a leading 0.
    for list in [PROVINCE_PRE_2025, PROVINCE_2025] {
        for e in lists.list(list).unwrap().entries() {
            assert_eq!(
                e.attribute("pin_prefix"),
                Some(format!("0{}", e.code).as_str())
            );
        }
    }
    // No new codes: every 2025 code is also a pre-2025 code.
    for e in lists.list(PROVINCE_2025).unwrap().entries() {
        assert!(
            lists.lookup(PROVINCE_PRE_2025, &e.code).is_some(),
            "{}",
            e.code
        );
    }
}

#[test]
fn every_old_province_maps_to_exactly_one_new_province() {
    let lists = committed();
    let merger: Vec<&Crosswalk> = lists.crosswalks_from(PROVINCE_PRE_2025).collect();
    assert_eq!(merger.len(), 1);
    let merger = merger[0];
    assert_eq!(merger.to_system, PROVINCE_2025);
    assert_eq!(merger.effective, day(2025, 7, 1));
    let old = lists.list(PROVINCE_PRE_2025).unwrap();
    let mut reached = BTreeSet::new();
    for e in old.entries() {
        let targets = merger.targets(&e.code);
        assert_eq!(targets.len(), 1, "{} maps to {targets:?}", e.code);
        assert_eq!(e.replaced_by, targets);
        reached.insert(targets[0].clone());
    }
    // ... and the 34 new provinces are exactly the targets, each listing its old provinces.
    let new = lists.list(PROVINCE_2025).unwrap();
    let all_new: BTreeSet<String> = new.entries().iter().map(|e| e.code.clone()).collect();
    assert_eq!(reached, all_new);
    for e in new.entries() {
        let mut merged_from: Vec<&str> = e.attribute("merged_from").unwrap().split(';').collect();
        let mut predecessors: Vec<&str> = merger
            .pairs()
            .filter(|(_, to)| *to == e.code)
            .map(|(from, _)| from)
            .collect();
        merged_from.sort_unstable();
        predecessors.sort_unstable();
        assert_eq!(merged_from, predecessors, "province {}", e.code);
        // The surviving code is always one of the merged provinces.
        assert!(merged_from.contains(&e.code.as_str()));
    }
}

#[test]
fn every_commune_and_district_has_its_province() {
    let lists = committed();
    let districts = lists.list(DISTRICT_PRE_2025).unwrap();
    for commune in lists.list(COMMUNE_PRE_2025).unwrap().entries() {
        let district = districts.get(&commune.parent_code).unwrap();
        assert_eq!(
            commune.attribute("province_code"),
            Some(district.parent_code.as_str()),
            "commune {}",
            commune.code
        );
        assert!(
            lists
                .lookup(PROVINCE_PRE_2025, &district.parent_code)
                .is_some()
        );
    }
    let mut per_province: BTreeMap<&str, usize> = BTreeMap::new();
    for commune in lists.list(COMMUNE_2025).unwrap().entries() {
        assert!(lists.lookup(PROVINCE_2025, &commune.parent_code).is_some());
        *per_province
            .entry(commune.parent_code.as_str())
            .or_default() += 1;
    }
    // The commune counts the province list states agree with the commune list.
    for province in lists.list(PROVINCE_2025).unwrap().entries() {
        let stated: usize = province
            .attribute("commune_count_current")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            per_province[province.code.as_str()],
            stated,
            "{}",
            province.code
        );
    }
}

#[test]
fn codes_are_unique_within_each_system() {
    for list in committed().lists() {
        let codes: BTreeSet<&str> = list.entries().iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes.len(), list.len(), "{}", list.code_system());
    }
}

#[test]
fn the_two_ethnic_lists_keep_their_own_meanings() {
    let lists = committed();
    assert_eq!(
        lists.lookup(ETHNIC_1979, "04").unwrap().display,
        "Hoa (Hán)"
    );
    assert_eq!(lists.lookup(ETHNIC_2008, "04").unwrap().display, "Mường");
    assert!(!lists.list(ETHNIC_2008).unwrap().info().complete);
    assert!(lists.list(ETHNIC_1979).unwrap().info().complete);
    let unverified_1979: Vec<&str> = lists
        .list(ETHNIC_1979)
        .unwrap()
        .entries()
        .iter()
        .filter(|e| !e.verified)
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(unverified_1979, ["20", "21", "52", "53", "54"]);
    let unverified_2008: Vec<&str> = lists
        .list(ETHNIC_2008)
        .unwrap()
        .entries()
        .iter()
        .filter(|e| !e.verified)
        .map(|e| e.code.as_str())
        .collect();
    assert_eq!(unverified_2008, ["14", "15", "16", "17", "18", "19", "20"]);
    // An unverified list marks every code unverified.
    let religion = lists.list(RELIGION).unwrap();
    assert!(!religion.info().verified);
    assert!(religion.entries().iter().all(|e| !e.verified));
    // Provenance lines of the reference tables are kept.
    assert!(
        religion
            .info()
            .provenance
            .iter()
            .any(|l| l.starts_with("UNVERIFIED"))
    );
}

#[test]
fn codes_are_found_in_the_forms_sources_write_them() {
    let provinces = committed().list(PROVINCE_PRE_2025).unwrap();
    assert_eq!(provinces.canonical_code("1"), Some("01"));
    assert_eq!(provinces.canonical_code("001"), Some("01"));
    assert_eq!(provinces.canonical_code("0001"), Some("01"));
    assert_eq!(provinces.canonical_code(" 96\t"), Some("96"));
    assert_eq!(provinces.canonical_code("100"), None);
    assert_eq!(provinces.canonical_code(""), None);
    assert_eq!(provinces.canonical_code("0"), None);
    assert_eq!(provinces.canonical_code("-1"), None);
    let sex = committed().list(SEX).unwrap();
    assert_eq!(sex.canonical_code("01"), Some("1"));
}

#[test]
fn names_find_codes_or_say_why_not() {
    let lists = committed();
    let found = |system: &str, name: &str| match lists.list(system).unwrap().find_by_name(name) {
        NameMatch::Found(e) => Ok(e.code.clone()),
        NameMatch::Ambiguous(many) => Err(many.len()),
        NameMatch::NotFound => Err(0),
    };
    assert_eq!(found(PROVINCE_PRE_2025, "Hà Giang"), Ok("02".into()));
    assert_eq!(found(PROVINCE_PRE_2025, "TỈNH HÀ GIANG"), Ok("02".into()));
    assert_eq!(found(PROVINCE_PRE_2025, "Tp Hồ Chí Minh"), Ok("79".into()));
    assert_eq!(found(PROVINCE_PRE_2025, "Bà Rịa-Vũng Tàu"), Ok("77".into()));
    assert_eq!(found(PROVINCE_PRE_2025, "Dak Lak"), Ok("66".into()));
    assert_eq!(found(PROVINCE_PRE_2025, "Hà Tây"), Err(0));
    assert_eq!(found(ETHNIC_1979, "Kinh"), Ok("01".into()));
    assert_eq!(found(ETHNIC_1979, "việt"), Ok("01".into()));
    assert_eq!(found(ETHNIC_1979, "Khmer"), Ok("05".into()));
    assert_eq!(found(ETHNIC_1979, "Ê Đê"), Ok("12".into()));
    assert_eq!(found(ETHNIC_2008, "Hoa"), Ok("06".into()));
    assert_eq!(found(SEX, "nữ"), Ok("2".into()));
    assert_eq!(found(SEX, "NU"), Ok("2".into()));
    assert_eq!(found(SEX, "male"), Ok("1".into()));
    // Numbered wards repeat across districts; the number alone is never taken as a name.
    assert!(matches!(found(COMMUNE_PRE_2025, "Phường 1"), Err(n) if n > 10));
    assert_eq!(found(COMMUNE_PRE_2025, "1"), Err(0));
}

#[test]
fn resolution_follows_the_merger_from_its_effective_date() {
    let lists = committed();
    // Vĩnh Phúc (26) became part of Phú Thọ (25).
    assert!(matches!(
        lists.resolve_on(PROVINCE_PRE_2025, "26", day(2025, 6, 30)),
        Resolution::Valid { system: PROVINCE_PRE_2025, entry } if entry.code == "26"
    ));
    match lists.resolve_on(PROVINCE_PRE_2025, "26", day(2025, 7, 1)) {
        Resolution::Replaced { from, system, to } => {
            assert_eq!(from.code, "26");
            assert_eq!(system, PROVINCE_2025);
            assert_eq!(
                to.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(),
                ["25"]
            );
        }
        other => panic!("{other:?}"),
    }
    // The surviving code resolves to itself in the new list.
    assert!(matches!(
        lists.resolve_on(PROVINCE_PRE_2025, "25", day(2026, 1, 1)),
        Resolution::Replaced { to, .. } if to[0].code == "25" && to[0].display == "Tỉnh Phú Thọ"
    ));
    assert!(matches!(
        lists.resolve_on(PROVINCE_2025, "25", day(2025, 6, 30)),
        Resolution::NotYetValid { .. }
    ));
    // Communes and districts have no crosswalk: they expire without a successor.
    assert!(matches!(
        lists.resolve_on(DISTRICT_PRE_2025, "001", day(2025, 7, 1)),
        Resolution::Expired { .. }
    ));
    assert_eq!(
        lists.resolve_on(PROVINCE_PRE_2025, "03", day(2025, 7, 1)),
        Resolution::Unknown
    );
    assert_eq!(
        lists.resolve_on("no.such.list", "01", day(2025, 7, 1)),
        Resolution::Unknown
    );
}

#[test]
fn lists_export_as_protobuf_code_lists() {
    let list = committed().list(PROVINCE_PRE_2025).unwrap().to_proto();
    assert_eq!(list.code_system, PROVINCE_PRE_2025);
    assert_eq!(list.codes.len(), 63);
    let binh_duong = list.codes.iter().find(|c| c.code == "74").unwrap();
    assert_eq!(binh_duong.replaced_by, ["79"]);
    assert_eq!(binh_duong.valid_to, Some(day(2025, 6, 30).to_proto()));
    assert_eq!(binh_duong.attributes["pin_prefix"], "074");
    let ethnic = committed().list(ETHNIC_1979).unwrap().to_proto();
    let brau = ethnic.codes.iter().find(|c| c.code == "52").unwrap();
    assert_eq!(brau.attributes["verified"], "false");
}

/// Writes a code-list directory with one small list (and the given extra files) and loads it.
fn load_fixture(manifest: &str, files: &[(&str, &str)]) -> Result<CodeLists, CodeListError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MANIFEST_FILE), manifest).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    CodeLists::load_dir(dir.path())
}

const SMALL_MANIFEST: &str = r#"[[list]]
code_system = "t.old"
name = "old"
file = "old.csv"
version = "1"
source = "test"
valid_to = "2020-12-31"

[[list]]
code_system = "t.new"
name = "new"
file = "new.csv"
version = "1"
source = "test"
valid_from = "2021-01-01"

[[crosswalk]]
name = "t.merger"
file = "merger.csv"
from_system = "t.old"
to_system = "t.new"
effective = "2021-01-01"
source = "test"
"#;

const OLD: &str = "# old units\ncode,display\n1,Một\n2,Hai\n";
const NEW: &str = "code,display,valid_to\n1,Một mới,\n3,Ba,2022-12-31\n4,Bốn,\n";
const MERGER: &str = "from_code,to_code\n1,1\n2,3\n";

#[test]
fn a_small_directory_loads_and_chains_crosswalks() {
    let manifest = format!(
        "{SMALL_MANIFEST}\n[[crosswalk]]\nname = \"t.second\"\nfile = \"second.csv\"\n\
         from_system = \"t.new\"\nto_system = \"t.new\"\neffective = \"2023-01-01\"\nsource = \"test\"\n"
    );
    let lists = load_fixture(
        &manifest,
        &[
            ("old.csv", OLD),
            ("new.csv", NEW),
            ("merger.csv", MERGER),
            ("second.csv", "from_code,to_code\n3,4\n"),
        ],
    )
    .unwrap();
    assert_eq!(
        lists.list("t.old").unwrap().info().provenance,
        ["old units"]
    );
    // 2 → 3 in 2021, and 3 → 4 in 2023: by 2024, 2 resolves to 4.
    let resolve = |date| match lists.resolve_on("t.old", "2", date) {
        Resolution::Replaced { to, .. } => to.iter().map(|e| e.code.clone()).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(resolve(day(2021, 6, 1)), ["3"]);
    assert_eq!(resolve(day(2024, 1, 1)), ["4"]);
    assert!(matches!(
        lists.resolve_on("t.new", "3", day(2024, 1, 1)),
        Resolution::Replaced { to, .. } if to[0].code == "4"
    ));
}

fn load_error(manifest: &str, files: &[(&str, &str)]) -> String {
    load_fixture(manifest, files).unwrap_err().to_string()
}

#[test]
fn manifest_errors_name_file_line_and_field() {
    let e = load_error(
        &SMALL_MANIFEST.replace(
            "version = \"1\"\nsource = \"test\"\nvalid_from",
            "versoin = \"1\"\nsource = \"test\"\nvalid_from",
        ),
        &[],
    );
    assert!(
        e.contains("codelists.toml:13:1: list[1].versoin: unknown field `versoin`"),
        "{e}"
    );
    let e = load_error(
        &SMALL_MANIFEST.replace("2021-01-01\"\n\n[[cross", "2021-02-30\"\n\n[[cross"),
        &[("old.csv", OLD)],
    );
    assert!(
        e.contains("codelists.toml:15:14: list[1].valid_from: \"2021-02-30\" is not a date"),
        "{e}"
    );
    let e = load_error(
        &SMALL_MANIFEST.replace("to_system = \"t.new\"", "to_system = \"t.newer\""),
        &[("old.csv", OLD), ("new.csv", NEW)],
    );
    assert!(
        e.contains(":21:13: crosswalk[0].to_system: no code list \"t.newer\""),
        "{e}"
    );
    let e = load_error("[[list]]\ncode_system = \n", &[]);
    assert!(e.contains("codelists.toml:2:"), "{e}");
}

#[test]
fn data_errors_name_file_and_line() {
    let e = load_error(
        SMALL_MANIFEST,
        &[(
            "old.csv",
            "# a\n# b\ncode,display\n1,Một\n2,Hai\n1,Lại một\n",
        )],
    );
    assert!(
        e.ends_with("old.csv:6: code 1 appears twice (first on line 4)"),
        "{e}"
    );
    let e = load_error(SMALL_MANIFEST, &[("old.csv", "code,name\n1,Một\n")]);
    assert!(
        e.ends_with("old.csv:1: the header has no column \"display\""),
        "{e}"
    );
    let e = load_error(
        SMALL_MANIFEST,
        &[
            ("old.csv", OLD),
            ("new.csv", "code,display,valid_to\n1,Một,31/12/2022\n"),
        ],
    );
    assert!(
        e.ends_with("new.csv:2: valid_to \"31/12/2022\" is not a date written YYYY-MM-DD"),
        "{e}"
    );
    let e = load_error(
        SMALL_MANIFEST,
        &[
            ("old.csv", "code,display\n1,Một\n2,Hai,thừa\n"),
            ("new.csv", NEW),
        ],
    );
    assert!(e.contains("old.csv:3:"), "{e}");
    let e = load_error(
        SMALL_MANIFEST,
        &[
            ("old.csv", OLD),
            ("new.csv", NEW),
            ("merger.csv", "from_code,to_code\n1,1\n2,9\n"),
        ],
    );
    assert!(
        e.ends_with("merger.csv:3: code \"9\" is not in t.new"),
        "{e}"
    );
    let e = load_error(SMALL_MANIFEST, &[("old.csv", OLD)]);
    assert!(e.contains("new.csv"), "{e}");
}

#[test]
fn parent_codes_must_exist() {
    let manifest = format!(
        "{SMALL_MANIFEST}\n[[list]]\ncode_system = \"t.child\"\nname = \"c\"\nfile = \"child.csv\"\n\
         version = \"1\"\nsource = \"test\"\nparent_system = \"t.new\"\n"
    );
    let files = [("old.csv", OLD), ("new.csv", NEW), ("merger.csv", MERGER)];
    let with_child = |child: &'static str| {
        let mut all = files.to_vec();
        all.push(("child.csv", child));
        load_fixture(&manifest, &all)
    };
    assert!(with_child("code,display,parent_code\n10,Mười,1\n").is_ok());
    let e = with_child("code,display,parent_code\n10,Mười,2\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("code 10 has parent_code 2, which is not in t.new"),
        "{e}"
    );
}

/// The committed files are what the generator makes of the reference tables. Needs the tables:
/// `LIENTHONG_REFDATA_DIR=/path/to/refdata cargo test -p lienthong-translate -- --ignored`.
#[test]
#[ignore = "needs the reference tables: set LIENTHONG_REFDATA_DIR"]
fn committed_files_match_the_generator() {
    let refdata = std::env::var("LIENTHONG_REFDATA_DIR")
        .expect("LIENTHONG_REFDATA_DIR names the directory of the reference tables");
    let generated = generate(Path::new(&refdata)).unwrap();
    let mut committed_names: Vec<String> = std::fs::read_dir(committed_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv") || n.ends_with(".toml"))
        .collect();
    committed_names.sort();
    assert_eq!(
        committed_names,
        generated.keys().cloned().collect::<Vec<_>>()
    );
    for (name, content) in &generated {
        let on_disk = std::fs::read_to_string(committed_dir().join(name)).unwrap();
        assert!(
            on_disk == *content,
            "{name} differs from the generator's output"
        );
    }
}

#[test]
fn a_kept_system_name_finds_its_list_in_these_lists_and_in_a_reload() {
    let lists = committed();
    let religion = lists.system_name("vn.religion");
    let province = lists.system_name("vn.province.2025");
    assert_eq!(&*religion, "vn.religion");
    for (system, code) in [(&religion, "00"), (&province, "79")] {
        let list = lists.list_of(system).unwrap();
        assert_eq!(list.code_system(), &**system);
        assert!(list.get(code).is_some());
    }
    // Another load (a reload) is looked up by name, whatever its lists' order.
    let reloaded = CodeLists::load_dir(committed_dir()).unwrap();
    assert_eq!(
        reloaded.list_of(&religion).unwrap().code_system(),
        "vn.religion"
    );
    assert!(
        reloaded
            .list_of(&lists.system_name("no.such.list"))
            .is_none()
    );
    // A clone is the same load.
    assert_eq!(
        lists.clone().list_of(&province).unwrap().code_system(),
        "vn.province.2025"
    );
}
