//! The files `generate` writes: exact columns, readable back with the `csv` crate, the same as
//! the in-memory data of the same seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;

use lienthong_datagen::errors::parse_kinds;
use lienthong_datagen::output::{
    CIVIL_SERVANT_COLUMNS, CivilServantRow, REGISTER_COLUMNS, RegisterRow, TRUTH_COLUMNS, TruthRow,
    UTF8_BOM,
};
use lienthong_datagen::{
    DatagenOptions, Date, ErrorKind, ListOptions, Person, Register, Summary, draw_list, generate,
};

fn read<T: serde::de::DeserializeOwned>(path: &Path, columns: &[&str]) -> Vec<T> {
    let bytes = std::fs::read(path).unwrap();
    let text = bytes.strip_prefix(UTF8_BOM).unwrap_or(&bytes);
    let mut reader = csv::Reader::from_reader(text);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, columns);
    reader.deserialize().map(Result::unwrap).collect()
}

#[test]
fn generated_files_round_trip_and_match_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let options = DatagenOptions {
        people: 20_000,
        civil_servants: 2_000,
        seed: 77,
        ..DatagenOptions::default()
    };
    let summary = generate(&options, dir.path()).unwrap();

    // The same seed, in memory.
    let mut register = Register::new(options.seed);
    let people: Vec<Person> = register.by_ref().take(20_000).collect();
    let list = draw_list(
        &people,
        &mut register,
        ListOptions {
            size: options.civil_servants,
            reference_date: options.reference_date,
            rates: options.rates.clone(),
            seed: options.seed,
        },
    )
    .unwrap();

    let rows: Vec<RegisterRow> = read(&dir.path().join("register.csv"), &REGISTER_COLUMNS);
    assert_eq!(rows.len(), people.len());
    for (row, person) in rows.iter().zip(&people) {
        assert_eq!(row.personal_id, person.personal_id);
        assert_eq!(row.superseded_ids, person.superseded_ids.join(";"));
        assert_eq!(
            (&row.family_name, &row.middle_name, &row.given_name),
            (&person.family_name, &person.middle_name, &person.given_name)
        );
        assert_eq!(row.birth_date.parse::<Date>().unwrap(), person.birth_date);
        assert_eq!(row.sex, person.sex.as_str());
        assert_eq!(row.birth_province, format!("{:02}", person.birth_province));
        assert_eq!(row.deceased, person.deceased.to_string());
    }
    assert!(rows.iter().any(|r| r.superseded_ids.len() == 12));
    assert!(rows.iter().any(|r| r.birth_province.starts_with('0')));

    let bytes = std::fs::read(dir.path().join("civil_servants.csv")).unwrap();
    assert!(
        bytes.starts_with(UTF8_BOM),
        "Excel needs the byte-order mark"
    );
    assert!(bytes[UTF8_BOM.len()..].starts_with(b"ma_ho_so,ho_va_ten,ngay_sinh,"));
    let servants: Vec<CivilServantRow> = read(
        &dir.path().join("civil_servants.csv"),
        &CIVIL_SERVANT_COLUMNS,
    );
    let truth: Vec<TruthRow> = read(&dir.path().join("truth.csv"), &TRUTH_COLUMNS);
    assert_eq!(servants.len(), list.len());
    assert_eq!(truth.len(), list.len());
    for ((row, truth), entry) in servants.iter().zip(&truth).zip(&list.entries) {
        assert_eq!(*row, CivilServantRow::from(entry));
        assert_eq!(row.ma_ho_so, truth.ma_ho_so);
        assert_eq!(truth.personal_id, entry.truth_id().unwrap_or(""));
        assert_eq!(parse_kinds(&truth.errors).unwrap(), entry.errors);
        // Formats an HR export uses.
        let date = &row.ngay_sinh;
        assert!(
            date.len() == 10 && &date[2..3] == "/" && &date[5..6] == "/",
            "{date}"
        );
        assert!(["Nam", "Nữ"].contains(&row.gioi_tinh.as_str()));
        assert!(row.so_dinh_danh.is_empty() || row.so_dinh_danh.len() == 12);
        assert_eq!(row.so_dinh_danh.is_empty(), entry.has(ErrorKind::MissingId));
        assert_eq!(row.noi_sinh.len(), 2);
        if truth.errors.contains("not_in_register") {
            assert!(truth.personal_id.is_empty());
        }
    }
    // Organisation names with a comma are quoted, and come back whole.
    assert!(servants.iter().any(|r| r.co_quan.contains(',')));

    let json = std::fs::read_to_string(dir.path().join("datagen.json")).unwrap();
    let read_back: Summary = serde_json::from_str(&json).unwrap();
    assert_eq!(read_back, summary);
    assert_eq!(summary.register.people, 20_000);
    assert_eq!(summary.civil_servants.rows, list.len() as u64);
    let errors = list.error_counts();
    for kind in ErrorKind::ALL {
        assert_eq!(summary.errors[kind.as_str()], errors[&kind], "{kind}");
    }
    assert_eq!(
        summary.civil_servants.not_in_register,
        truth.iter().filter(|t| t.personal_id.is_empty()).count() as u64
    );
    let ids: HashSet<&str> = truth.iter().map(|t| t.ma_ho_so.as_str()).collect();
    assert_eq!(ids.len(), truth.len());
}

#[test]
fn invalid_rates_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut options = DatagenOptions::default();
    options.rates.typo = 2.0;
    assert!(generate(&options, &out).is_err());
    assert!(!out.exists());
}
