#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{Column, Operation, QualityFlag, Row};
use serde_json::json;

use super::*;
use crate::entity::{CanonicalEntity, EntityKind};
use crate::sample::{change_event, row_from_json};

fn code_lists() -> &'static CodeLists {
    static LISTS: OnceLock<CodeLists> = OnceLock::new();
    LISTS.get_or_init(|| {
        CodeLists::load_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists"))
            .unwrap()
    })
}

/// 2025-08-01 10:00 in Vietnam (after the province merger).
fn august_2025() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_754_017_200)
}

fn mapping(entity: &str, fields: &str) -> Mapping {
    let text = format!(
        "id = \"t.m\"\nversion = \"3\"\nentity = \"{entity}\"\n\
         [source]\nid = \"src\"\nschema = \"s\"\ntable = \"t\"\n{fields}"
    );
    Mapping::parse(&text, Path::new("t.toml"), code_lists()).unwrap()
}

fn event(m: &Mapping, op: Operation, row: serde_json::Value) -> ChangeEvent {
    change_event(
        m,
        op,
        row_from_json(&row).unwrap(),
        &["id"],
        august_2025(),
        42,
    )
}

fn apply(m: &Mapping, row: serde_json::Value) -> MappedRecord {
    m.apply(
        &event(m, Operation::Insert, row),
        code_lists(),
        august_2025(),
    )
    .unwrap()
}

fn flag_codes(record: &MappedRecord) -> Vec<String> {
    record
        .quality
        .flags
        .iter()
        .map(|f| f.code.clone())
        .collect()
}

fn flag<'a>(record: &'a MappedRecord, code: &str) -> &'a QualityFlag {
    record
        .quality
        .flags
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no flag {code} in {:?}", flag_codes(record)))
}

fn person(record: &MappedRecord) -> &lienthong_proto::v1::Person {
    record.entity.person().unwrap()
}

#[test]
fn provenance_and_keys_are_stable() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.phone\"\nfrom = \"phone\"\n",
    );
    let r = apply(&m, json!({"id": 7, "phone": "0912345678"}));
    assert_eq!(r.key, "src:s.t:id=7");
    assert_eq!(r.kind(), EntityKind::Person);
    let CanonicalEntity::Person(p) = &r.entity else {
        panic!()
    };
    assert_eq!(p.record_id, "src:s.t:id=7");
    let prov = r.provenance().unwrap();
    assert_eq!(prov.source_key, "id=7");
    assert_eq!(prov.mapping_id, "t.m");
    assert_eq!(prov.mapping_version, "3");
    assert_eq!(prov.source_operation, Operation::Insert as i32);
    assert_eq!(r.idempotency_key(), "src:000000000000002A:0:t.m@3");
    assert_eq!(prov.translated_at.unwrap().seconds, 1_754_017_200);
    // The same event gives the same record.
    assert_eq!(apply(&m, json!({"id": 7, "phone": "0912345678"})), r);
}

#[test]
fn deletes_give_an_id_only_record_to_tombstone() {
    let m = mapping(
        "civil_servant",
        "[[field]]\ntarget = \"person.phone\"\nfrom = \"phone\"\n",
    );
    let r = m
        .apply(
            &event(&m, Operation::Delete, json!({"id": 9})),
            code_lists(),
            august_2025(),
        )
        .unwrap();
    assert!(r.is_delete());
    assert_eq!(r.key, "src:s.t:id=9");
    let CanonicalEntity::CivilServant(cs) = &r.entity else {
        panic!()
    };
    assert_eq!(cs.record_id, "src:s.t:id=9");
    assert!(cs.person.is_none());
    assert_eq!(
        cs.provenance.as_ref().unwrap().source_operation,
        Operation::Delete as i32
    );
}

#[test]
fn events_that_cannot_be_mapped_say_why() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.phone\"\nfrom = \"phone\"\n",
    );
    let err = |e: ChangeEvent| m.apply(&e, code_lists(), august_2025()).unwrap_err();

    let mut truncate = event(&m, Operation::Insert, json!({"id": 1}));
    truncate.op = Operation::Truncate as i32;
    assert_eq!(err(truncate).kind(), "mapping.truncate");

    let mut no_row = event(&m, Operation::Update, json!({"id": 1}));
    no_row.after = None;
    assert_eq!(
        err(no_row).to_string(),
        "UPDATE change without the row image after the change"
    );

    let mut other_table = event(&m, Operation::Insert, json!({"id": 1, "phone": "1"}));
    other_table.table = "u".into();
    assert_eq!(err(other_table).kind(), "mapping.wrong_table");

    let mut no_position = event(&m, Operation::Insert, json!({"id": 1, "phone": "1"}));
    no_position.position = None;
    assert_eq!(err(no_position), MappingError::NoPosition);

    let e = err(event(&m, Operation::Insert, json!({"id": 1, "fone": "1"})));
    assert_eq!(
        e.to_string(),
        "column phone is not in the row of s.t; the row has: fone, id"
    );

    let e = err(event(
        &m,
        Operation::Insert,
        json!({"id": null, "phone": "1"}),
    ));
    assert_eq!(e.kind(), "mapping.key");
    let mut keyless = event(&m, Operation::Insert, json!({"id": 1, "phone": "1"}));
    keyless.key.clear();
    assert!(err(keyless).to_string().contains("set source.key"));
}

#[test]
fn a_chosen_key_replaces_the_primary_key() {
    let text = "id = \"t.k\"\nversion = \"1\"\nentity = \"social_insurance\"\n\
                [source]\nid = \"src\"\nschema = \"s\"\ntable = \"t\"\nkey = [\"so\", \"tu\"]\n\
                [[field]]\ntarget = \"insurance_number\"\nfrom = \"so\"\n";
    let m = Mapping::parse(text, Path::new("k.toml"), code_lists()).unwrap();
    let r = apply(&m, json!({"id": 1, "so": " 0123456789 ", "tu": "01/2020"}));
    assert_eq!(r.key, "src:s.t:so=0123456789&tu=01/2020");
    let e = m
        .apply(
            &event(&m, Operation::Insert, json!({"id": 1, "so": "", "tu": "x"})),
            code_lists(),
            august_2025(),
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "key column so: the key value is empty");
}

#[test]
fn the_first_field_with_a_value_wins_and_conditions_select_fields() {
    let m = mapping(
        "person",
        r#"
[[field]]
target = "person.phone"
from = "mobile"
when = { column = "kind", in = ["1", "2"] }

[[field]]
target = "person.phone"
from = "home"

[[field]]
target = "person.email"
from = "email"
when = { column = "email", present = true, not_equals = "none" }
"#,
    );
    let r = apply(
        &m,
        json!({"id": 1, "kind": 2, "mobile": "0912000001", "home": "0243000001", "email": "none"}),
    );
    assert_eq!(person(&r).phone, "0912000001");
    assert_eq!(person(&r).email, "");
    let r = apply(
        &m,
        json!({"id": 1, "kind": 3, "mobile": "0912000001", "home": "0243000001", "email": "a@b.vn"}),
    );
    assert_eq!(person(&r).phone, "0243000001");
    assert_eq!(person(&r).email, "a@b.vn");
    // An empty first choice falls through to the next.
    let r = apply(
        &m,
        json!({"id": 1, "kind": 1, "mobile": " ", "home": "0243000001", "email": null}),
    );
    assert_eq!(person(&r).phone, "0243000001");
}

#[test]
fn bad_values_flag_or_reject_as_the_field_says() {
    let fields = |on_error: &str| {
        format!(
            "[[field]]\ntarget = \"person.birth_date\"\nfrom = \"born\"\non_error = \"{on_error}\"\n\
             transforms = [{{ date = {{ formats = [\"dd/mm/yyyy\"] }} }}]\n"
        )
    };
    let flagging = mapping("person", &fields("flag"));
    let r = apply(&flagging, json!({"id": 1, "born": "31/02/1980"}));
    assert!(person(&r).birth_date.is_none());
    let f = flag(&r, "value.invalid_date");
    assert_eq!(f.field, "person.birth_date");
    assert_eq!(f.criterion, QualityCriterion::Correct as i32);
    assert_eq!(f.severity, QualitySeverity::Error as i32);
    assert_eq!(
        f.message,
        "cannot read the value as a date: day 31 does not exist in 1980-02 (column born); the field \
         is left empty"
    );
    assert!(
        !r.quality
            .passed
            .contains(&(QualityCriterion::Correct as i32))
    );

    let rejecting = mapping("person", &fields("reject"));
    let e = rejecting
        .apply(
            &event(
                &rejecting,
                Operation::Insert,
                json!({"id": 1, "born": "31/02/1980"}),
            ),
            code_lists(),
            august_2025(),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "field person.birth_date (from column born): cannot read the value as a date: day 31 does \
         not exist in 1980-02"
    );
    assert_eq!(e.kind(), "mapping.field");
}

#[test]
fn required_fields_left_empty_are_flagged_once() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.phone\"\nfrom = \"a\"\nrequired = true\n\
         [[field]]\ntarget = \"person.phone\"\nfrom = \"b\"\nrequired = true\n\
         [[field]]\ntarget = \"person.email\"\nfrom = \"e\"\n",
    );
    let r = apply(&m, json!({"id": 1, "a": null, "b": "", "e": null}));
    let missing: Vec<&QualityFlag> = r
        .quality
        .flags
        .iter()
        .filter(|f| f.code == "field.missing")
        .collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].field, "person.phone");
    assert_eq!(
        missing[0].message,
        "required field has no value (from column a)"
    );
    assert!(
        !r.quality
            .passed
            .contains(&(QualityCriterion::Complete as i32))
    );
    let r = apply(
        &m,
        json!({"id": 1, "a": null, "b": "0912345678", "e": null}),
    );
    assert!(!flag_codes(&r).contains(&"field.missing".to_owned()));
    assert!(
        r.quality
            .passed
            .contains(&(QualityCriterion::Complete as i32))
    );
}

#[test]
fn names_from_parts_or_whole_keep_the_source_spelling() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.name.family\"\nfrom = \"ho\"\n\
         [[field]]\ntarget = \"person.name.middle\"\nfrom = \"dem\"\n\
         [[field]]\ntarget = \"person.name.given\"\nfrom = \"ten\"\n",
    );
    let r = apply(
        &m,
        json!({"id": 1, "ho": "NGUYỄN", "dem": "văn", "ten": "an"}),
    );
    let name = person(&r).name.clone().unwrap();
    assert_eq!(name.full, "Nguyễn Văn An");
    assert_eq!(name.original, "NGUYỄN văn an");

    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.name\"\nfrom = [\"ho\", \"ten\"]\ntransforms = [{ concat = \" \" }]\n",
    );
    let r = apply(&m, json!({"id": 1, "ho": "trần thị", "ten": "BÉ"}));
    let name = person(&r).name.clone().unwrap();
    assert_eq!(
        (name.full.as_str(), name.given.as_str()),
        ("Trần Thị Bé", "Bé")
    );
    assert_eq!(name.original, "trần thị BÉ");
}

#[test]
fn legacy_names_are_decoded_and_noted() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.name\"\nfrom = \"ten\"\ntransforms = [{ legacy_decode = \"auto\" }]\n",
    );
    let r = apply(&m, json!({"id": 1, "ten": "NguyÔn V¨n §øc"}));
    let name = person(&r).name.clone().unwrap();
    assert_eq!(name.full, "Nguyễn Văn Đức");
    assert_eq!(name.original, "NguyÔn V¨n §øc");
    let note = flag(&r, "text.legacy_decoded");
    assert_eq!(note.severity, QualitySeverity::Info as i32);
    assert_eq!(note.message, "converted from tcvn3 to Unicode");
    // INFO notes do not fail the criterion.
    assert!(r.quality.passed.contains(&(QualityCriterion::Clean as i32)));

    // Without the transform, the clean check catches the legacy text.
    let plain = mapping(
        "person",
        "[[field]]\ntarget = \"person.name\"\nfrom = \"ten\"\n",
    );
    let r = apply(&plain, json!({"id": 1, "ten": "NguyÔn V¨n §øc"}));
    assert_eq!(flag(&r, "text.legacy_encoding").field, "person.name");
    assert!(!r.quality.passed.contains(&(QualityCriterion::Clean as i32)));

    // Bytes of a binary column read as Latin-1.
    let r = apply(&m, json!({"id": 1, "ten": {"latin1": "4e677579d46e"}}));
    assert_eq!(person(&r).name.clone().unwrap().full, "Nguyễn");
}

#[test]
fn codes_are_checked_and_tagged_with_their_system() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.ethnicity\"\nfrom = \"dt\"\n\
         transforms = [{ code = { system = \"vn.ethnic.qd1019-2008\" } }]\n\
         [[field]]\ntarget = \"person.religion\"\nfrom = \"tg\"\n\
         transforms = [{ code = { system = \"vn.religion\" } }]\n",
    );
    let r = apply(&m, json!({"id": 1, "dt": 4, "tg": "00"}));
    let ethnicity = person(&r).ethnicity.clone().unwrap();
    assert_eq!(
        (
            ethnicity.code_system.as_str(),
            ethnicity.code.as_str(),
            ethnicity.display.as_str()
        ),
        ("vn.ethnic.qd1019-2008", "04", "Mường")
    );
    assert_eq!(ethnicity.original, "4");
    // The religion list is unverified: noted, not failed.
    assert_eq!(flag(&r, "code.unverified").field, "person.religion");
    // A code beyond the partial 2008 list is a warning, not an error; the value is kept as original.
    let r = apply(&m, json!({"id": 1, "dt": "35", "tg": null}));
    let ethnicity = person(&r).ethnicity.clone().unwrap();
    assert_eq!(
        (ethnicity.code.as_str(), ethnicity.original.as_str()),
        ("", "35")
    );
    let f = flag(&r, "code.not_in_partial_list");
    assert_eq!(f.severity, QualitySeverity::Warning as i32);
    // Sensitive values are never quoted in messages.
    assert!(!f.message.contains("35"), "{}", f.message);
    let r = apply(&m, json!({"id": 1, "dt": "01", "tg": "99"}));
    assert_eq!(
        flag(&r, "code.unknown").severity,
        QualitySeverity::Error as i32
    );
    assert!(
        !r.quality
            .passed
            .contains(&(QualityCriterion::Unified as i32))
    );
    assert_eq!(
        flag(&r, "sharing.sensitive_fields").message,
        "sensitive personal data (person.ethnicity, person.religion): masked for partners unless \
         their policy grants it"
    );
}

#[test]
fn old_provinces_become_new_ones_from_the_change_date() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.hometown.province\"\nfrom = \"tinh\"\n\
         transforms = [{ province = { system = \"vn.province.pre2025\" } }]\n",
    );
    let r = apply(&m, json!({"id": 1, "tinh": "26"}));
    let place = person(&r).hometown.clone().unwrap();
    let province = place.province.unwrap();
    assert_eq!(
        (
            province.code_system.as_str(),
            province.code.as_str(),
            province.display.as_str()
        ),
        ("vn.province.2025", "25", "Tỉnh Phú Thọ")
    );
    assert_eq!(province.original, "26");
    assert_eq!(
        place.as_of,
        Some(CivilDate::new(2025, 8, 1).unwrap().to_proto())
    );
    assert_eq!(
        flag(&r, "province.translated").message,
        "province 26 (Tỉnh Vĩnh Phúc) of vn.province.pre2025 is part of 25 (Tỉnh Phú Thọ) of \
         vn.province.2025 since 2025-07-01"
    );
    // A change committed before the merger keeps the old code.
    let before = UNIX_EPOCH + Duration::from_secs(1_748_736_000); // 2025-06-01
    let e = change_event(
        &m,
        Operation::Insert,
        row_from_json(&json!({"id": 1, "tinh": "26"})).unwrap(),
        &["id"],
        before,
        1,
    );
    let r = m.apply(&e, code_lists(), before).unwrap();
    let province = person(&r).hometown.clone().unwrap().province.unwrap();
    assert_eq!(
        (province.code_system.as_str(), province.code.as_str()),
        ("vn.province.pre2025", "26")
    );
    assert!(!flag_codes(&r).contains(&"province.translated".to_owned()));
}

#[test]
fn code_validity_is_judged_on_the_change_date() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.hometown.commune\"\nfrom = \"xa\"\n\
         transforms = [{ code = { system = \"vn.commune.pre2025\" } }]\n",
    );
    let r = apply(&m, json!({"id": 1, "xa": "00001"}));
    assert_eq!(
        person(&r).hometown.clone().unwrap().commune.unwrap().code,
        "00001"
    );
    let f = flag(&r, "code.expired");
    assert_eq!(
        f.message,
        "code \"00001\" of vn.commune.pre2025 was valid only until 2025-06-30 (the change is of 2025-08-01)"
    );
}

#[test]
fn personal_id_numbers_are_checked_against_the_record() {
    let m = mapping(
        "person",
        r#"
[[field]]
target = "person.personal_id"
from = "pin"

[[field]]
target = "person.birth_date"
from = "born"

[[field]]
target = "person.sex"
from = "sex"

[[field]]
target = "person.birth_place.province"
from = "noi_sinh"
transforms = [{ province = { system = "vn.province.pre2025" } }]
"#,
    );
    let born = |y: &str| json!({"date": format!("{y}-05-01")});
    // Consistent: born 1995, male, registered in Vĩnh Phúc (026), birth place Vĩnh Phúc, now Phú Thọ.
    let r = apply(
        &m,
        json!({"id": 1, "pin": "026095000123", "born": born("1995"), "sex": "male", "noi_sinh": "26"}),
    );
    assert!(
        !flag_codes(&r).iter().any(|c| c.starts_with("pin.")),
        "{:?}",
        flag_codes(&r)
    );
    assert!(
        r.quality
            .passed
            .contains(&(QualityCriterion::Correct as i32))
    );
    assert!(!flag_codes(&r).contains(&"sharing.no_shared_key".to_owned()));
    // Year, sex and province all disagree.
    let r = apply(
        &m,
        json!({"id": 1, "pin": "026095000123", "born": born("1959"), "sex": "female", "noi_sinh": "01"}),
    );
    for code in [
        "pin.birth_year_mismatch",
        "pin.sex_mismatch",
        "pin.province_mismatch",
    ] {
        assert_eq!(
            flag(&r, code).severity,
            QualitySeverity::Warning as i32,
            "{code}"
        );
    }
    // Malformed numbers are errors, and the record cannot be linked.
    let r = apply(
        &m,
        json!({"id": 1, "pin": "02609500012", "born": null, "sex": null, "noi_sinh": null}),
    );
    assert_eq!(
        flag(&r, "pin.invalid").message,
        "a personal ID number has 12 digits; this value has 11 characters"
    );
    assert_eq!(
        flag(&r, "sharing.no_shared_key").criterion,
        QualityCriterion::Shared as i32
    );
}

#[test]
fn freshness_is_measured_from_the_commit() {
    let text = "id = \"t.f\"\nversion = \"1\"\nentity = \"person\"\n\
                [source]\nid = \"src\"\nschema = \"s\"\ntable = \"t\"\n\
                [quality]\nmax_change_age_days = 2\nupdated_column = \"sua\"\nmax_row_age_days = 365\n\
                [[field]]\ntarget = \"person.phone\"\nfrom = \"phone\"\n";
    let m = Mapping::parse(text, Path::new("f.toml"), code_lists()).unwrap();
    let row = |sua: serde_json::Value| {
        row_from_json(&json!({"id": 1, "phone": "0912345678", "sua": sua})).unwrap()
    };
    let e = change_event(
        &m,
        Operation::Update,
        row(json!({"datetime": "2025-07-30 08:00:00"})),
        &["id"],
        august_2025(),
        1,
    );
    let fresh = m.apply(&e, code_lists(), august_2025()).unwrap();
    assert!(
        fresh
            .quality
            .passed
            .contains(&(QualityCriterion::Live as i32))
    );
    let late = m
        .apply(
            &e,
            code_lists(),
            august_2025() + Duration::from_secs(5 * 86_400),
        )
        .unwrap();
    assert_eq!(
        flag(&late, "source.stale").message,
        "the change was committed 5 days before it was translated (limit 2)"
    );
    let e = change_event(
        &m,
        Operation::Update,
        row(json!({"date": "2020-01-01"})),
        &["id"],
        august_2025(),
        1,
    );
    let old = m.apply(&e, code_lists(), august_2025()).unwrap();
    assert_eq!(
        flag(&old, "record.not_updated").message,
        "the source last updated the record on 2020-01-01, 2039 days ago (limit 365)"
    );
    let e = change_event(
        &m,
        Operation::Update,
        row(json!(null)),
        &["id"],
        august_2025(),
        1,
    );
    let unknown = m.apply(&e, code_lists(), august_2025()).unwrap();
    assert_eq!(
        flag(&unknown, "record.no_update_date").criterion,
        QualityCriterion::Live as i32
    );
}

#[test]
fn unchanged_values_come_from_the_row_before() {
    let m = mapping(
        "person",
        "[[field]]\ntarget = \"person.email\"\nfrom = \"email\"\nrequired = true\n",
    );
    let mut e = event(&m, Operation::Update, json!({"id": 1, "email": null}));
    let unchanged = lienthong_proto::v1::Value {
        kind: Some(Kind::Unchanged(true)),
    };
    e.after.as_mut().unwrap().columns[0].value = Some(unchanged);
    let r = m.apply(&e, code_lists(), august_2025()).unwrap();
    assert_eq!(flag(&r, "source.value_not_sent").field, "person.email");
    e.before = Some(Row {
        columns: vec![Column {
            name: "email".into(),
            value: Some(lienthong_proto::v1::Value {
                kind: Some(Kind::TextValue("an@moha.gov.vn".into())),
            }),
            source_type: String::new(),
        }],
    });
    let r = m.apply(&e, code_lists(), august_2025()).unwrap();
    assert_eq!(person(&r).email, "an@moha.gov.vn");
    assert!(
        flag_codes(&r)
            .iter()
            .all(|c| c != "source.value_not_sent" && c != "field.missing")
    );
}

#[test]
fn references_and_constants() {
    let m = mapping(
        "civil_servant",
        "[[field]]\ntarget = \"organisation_id\"\nfrom = [\"cq\", \"dv\"]\n\
         transforms = [{ record_ref = { schema = \"public\", table = \"don_vi\", key = [\"co_quan\", \"ma\"] } }]\n\
         [[field]]\ntarget = \"category\"\nvalue = \"public_employee\"\n\
         [[field]]\ntarget = \"status\"\nfrom = \"tt\"\ntransforms = [{ map = { values = { \"1\" = \"active\" }, unmapped = \"keep\" } }]\n",
    );
    let r = apply(&m, json!({"id": 1, "cq": "BNV", "dv": "V&P", "tt": 1}));
    let CanonicalEntity::CivilServant(cs) = &r.entity else {
        panic!()
    };
    assert_eq!(cs.organisation_id, "src:public.don_vi:co_quan=BNV&ma=V%26P");
    assert_eq!(
        cs.category,
        lienthong_proto::v1::CivilServantCategory::PublicEmployee as i32
    );
    assert_eq!(
        cs.status,
        lienthong_proto::v1::EmploymentStatus::Active as i32
    );
    // A kept value that is no enum name is a type problem of the field.
    let r = apply(&m, json!({"id": 1, "cq": "BNV", "dv": "1", "tt": 9}));
    let f = flag(&r, "value.wrong_type");
    assert_eq!(f.field, "status");
    assert!(
        f.message
            .starts_with("`status`: \"9\" is not one of its values (active, retired"),
        "{}",
        f.message
    );
}

#[test]
fn administrative_units_carry_quality_outside_the_message() {
    let m = mapping(
        "administrative_unit",
        "[[field]]\ntarget = \"code\"\nfrom = \"ma\"\nrequired = true\n\
         [[field]]\ntarget = \"name\"\nfrom = \"ten\"\n\
         [[field]]\ntarget = \"level\"\nvalue = \"commune\"\n\
         [[field]]\ntarget = \"valid_from\"\nfrom = \"tu\"\n\
         [[field]]\ntarget = \"valid_to\"\nfrom = \"den\"\n",
    );
    let r = apply(
        &m,
        json!({"id": 1, "ma": "00004", "ten": "Phường  Ba Đình", "tu": {"date": "2025-07-01"}, "den": {"date": "2025-01-01"}}),
    );
    assert!(r.entity.quality().is_none());
    assert_eq!(flag(&r, "period.reversed").field, "valid_to");
    assert_eq!(flag(&r, "text.not_clean").field, "name");
}

#[test]
fn the_core_can_be_shared_across_worker_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Mapping>();
    shared::<crate::MappingSet>();
    shared::<CodeLists>();
    shared::<MappedRecord>();
    shared::<MappingError>();
}

/// Every shape a shortcut takes, and some it must leave to the pipeline.
fn shortcut_shapes() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(|| {
        mapping(
            "civil_servant",
            r#"
[[field]]
target = "person.personal_id"
from = "a"
transforms = ["trim"]
[[field]]
target = "person.email"
from = "b"
transforms = ["trim", "lower"]
[[field]]
target = "person.phone"
from = "c"
transforms = [{ replace = { pattern = "[\\s.]", with = "" } }]
[[field]]
target = "person.ethnicity"
from = "d"
transforms = [{ code = { system = "vn.ethnic.qd1019-2008" } }]
[[field]]
target = "person.sex"
from = "e"
transforms = [{ code = { system = "lienthong.sex" } }]
[[field]]
target = "person.birth_place.province"
from = "f"
transforms = ["clean", { province = { system = "vn.province.pre2025" } }]
[[field]]
target = "person.hometown.province"
from = "g"
transforms = ["clean", { province = { system = "vn.province.pre2025", by = "name", unmapped = "reject" } }]
on_error = "flag"
[[field]]
target = "person.religion"
from = "h"
transforms = ["upper", { code = { system = "vn.religion" } }]
[[field]]
target = "category"
from = "i"
transforms = ["trim", { map = { values = { CB = "cadre", CC = "civil_servant", X = "no_such_category" } } }]
[[field]]
target = "status"
from = "j"
transforms = [{ map = { values = { "1" = "active", "2" = "retired" }, fold = true, unmapped = "keep" } }]
[[field]]
target = "organisation_id"
from = "k"
transforms = [{ record_ref = { schema = "public", table = "don_vi", key = ["id"] } }]
[[field]]
target = "organisation_name"
from = "l"
transforms = ["nfc", "title_case", "clean"]
[[field]]
target = "person.hometown.detail"
from = "m"
[[field]]
target = "salary_step"
from = "n"
[[field]]
target = "salary_coefficient"
from = "o"
[[field]]
target = "recruitment_date"
from = "p"
[[field]]
target = "person.name.family"
from = "q"
transforms = ["trim"]
[[field]]
target = "person.nationality"
from = "r"
transforms = [{ code = { system = "vn.ethnic.qd1019-2008", by = "name" } }]
[[field]]
target = "person.former_id_number"
from = "s"
transforms = ["trim", { default = "none" }]
[[field]]
target = "position_allowance"
from = "t"
transforms = ["trim"]
[[field]]
target = "position"
from = ["v", "w"]
transforms = [{ local_code = { system = "t.chuc_vu" } }]
[[field]]
target = "rank"
from = ["w"]
transforms = ["trim", { local_code = { system = "t.ngach" } }]
[[field]]
target = "person.permanent_residence.text"
from = "u"
transforms = [{ replace = { pattern = "^\\s*$", with = "(blank)" } }, "lower"]
[[field]]
target = "person.name"
from = "x"
transforms = ["clean", "title_case", "split_name"]
"#,
        )
    })
}

/// Values that make the shapes above take every turn.
const ODD_TEXTS: &[&str] = &[
    "",
    " ",
    "\t",
    " 04 ",
    "04",
    "1",
    "2",
    "3",
    "01",
    "79",
    "34",
    "99",
    "Kinh",
    "Tày",
    "Hà Nội",
    "Tỉnh Thái Bình",
    "CB",
    " CC ",
    "cc",
    "x",
    "X",
    "Nguyễn  Văn AN",
    "Nguyễn Văn An",
    "Lê",
    "đặng thị ánh ngọc",
    "H'Hen Niê",
    " Trần\u{00A0}Thị  Bích ",
    "Nguye\u{0302}\u{0303}n Thị Minh Khai",
    "AN.NV@Moha.gov.vn ",
    "091 234.5678",
    "0,5",
    "4.98",
    "2024-01-02",
    "Ho\u{0300}a",
    "a\u{200B}b",
    "17",
    "id=1&x",
];

fn translate_both_ways(m: &Mapping, event: &ChangeEvent) {
    let mut plain = m.clone();
    plain.shortcuts = false;
    let short = m.apply(event, code_lists(), august_2025());
    let long = plain.apply(event, code_lists(), august_2025());
    assert_eq!(short, long, "{event:?}");
}

#[test]
fn shortcuts_give_what_the_pipeline_gives_for_odd_texts() {
    let m = shortcut_shapes();
    let columns = m.columns();
    for (i, text) in ODD_TEXTS.iter().enumerate() {
        for shift in 0..columns.len() {
            let row: serde_json::Map<String, serde_json::Value> = columns
                .iter()
                .enumerate()
                .map(|(c, name)| {
                    let value = match (c + shift + i) % 9 {
                        0 => json!(ODD_TEXTS[(c + i) % ODD_TEXTS.len()]),
                        1 => json!((c + shift) as i64 - 1),
                        2 => serde_json::Value::Null,
                        3 => {
                            let decimal = ["4.980", "-0.5", "1e3", "7"][c % 4];
                            json!({ "decimal": decimal })
                        }
                        4 => {
                            let int = [1_i64 << 40, -(1_i64 << 33), 0, 2][(c + i) % 4];
                            json!(int)
                        }
                        5 => {
                            let date = ["2024-02-29", "1990-01-01"][c % 2];
                            json!({ "date": date })
                        }
                        6 => json!({"timestamp": 1_754_017_200}),
                        7 => json!(c % 2 == 0),
                        _ => json!(text),
                    };
                    (name.to_string(), value)
                })
                .chain([("id".to_owned(), json!(i))])
                .collect();
            let event = event(m, Operation::Update, serde_json::Value::Object(row));
            translate_both_ways(m, &event);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

    #[test]
    fn shortcuts_give_what_the_pipeline_gives(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
    ) {
        static SHIPPED: OnceLock<crate::MappingSet> = OnceLock::new();
        let shipped = SHIPPED.get_or_init(|| {
            crate::MappingSet::load_dir(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/mappings"),
                code_lists(),
            )
            .unwrap()
        });
        let operations = [Operation::Read, Operation::Insert, Operation::Update, Operation::Delete];
        let operation = operations[usize::from(data.first().copied().unwrap_or(0)) % 4];
        for m in shipped.iter().chain([shortcut_shapes()]) {
            let columns = m.columns();
            let mut row = crate::sample::arbitrary_row(&columns, &data);
            // Every column present (as NULL if need be): a missing one rejects the record
            // before any field is looked at.
            for name in &columns {
                if !row.columns.iter().any(|c| c.name == *name) {
                    row.columns.push(Column {
                        name: (*name).to_owned(),
                        value: None,
                        source_type: String::new(),
                    });
                }
            }
            // A key, so that the record is not rejected for want of one.
            row.columns.push(Column {
                name: "id".to_owned(),
                value: Some(lienthong_proto::v1::Value {
                    kind: Some(Kind::IntValue(7)),
                }),
                source_type: String::new(),
            });
            let event = change_event(m, operation, row, &["id"], august_2025(), 1);
            translate_both_ways(m, &event);
        }
    }
}

proptest::proptest! {
    #[test]
    fn positions_and_integers_are_written_as_format_writes_them(
        lsn in proptest::prelude::any::<u64>(),
        sequence in proptest::prelude::any::<u64>(),
        int in proptest::prelude::any::<i64>(),
    ) {
        let mut text = String::new();
        push_hex16(&mut text, lsn);
        text.push(':');
        push_decimal(&mut text, sequence);
        proptest::prop_assert_eq!(text, format!("{lsn:016X}:{sequence}"));
        let digits = IntText::new(int);
        proptest::prop_assert_eq!(digits.as_str(), int.to_string());
    }
}
