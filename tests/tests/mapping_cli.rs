//! `lienthong mapping test` as a data steward meets it: a shipped mapping tried on sample rows
//! in JSON and CSV, a rejected row, a broken mapping file. No broker or database is involved.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::path::{Path, PathBuf};

use lienthong_tests::{lienthong, text};
use serde_json::Value as Json;

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn legacy_mapping() -> String {
    schemas()
        .join("mappings/legacy-qlcb/hoso.toml")
        .display()
        .to_string()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// Two rows of the legacy personnel system: TCVN3 text, a year-only birth date, a decimal
/// comma; the second with an ethnic group name that is in no code list.
const LEGACY_ROWS: &str = r#"[
  {"MACB": 1205, "HOTEN": "TrÇn ThÞ Thu Hµ", "NGAYSINH": "00/00/1968", "PHAI": "N÷",
   "SOCMND": "012345678", "NOISINH": "Th¸i B×nh", "QUEQUAN": null, "DANTOC": "Kinh",
   "DONVI": "Së Néi vô", "HESOLUONG": "4,98", "NGAYVAOCQ": "1/9/1990", "TINHTRANG": "L",
   "NGAYSUA": {"datetime": "2025-07-30 10:00:00"}},
  {"MACB": 1206, "HOTEN": "Lª V¨n B×nh", "NGAYSINH": "15/03/1975", "PHAI": "Nam",
   "SOCMND": null, "NOISINH": null, "QUEQUAN": null, "DANTOC": "Kh«ng râ", "DONVI": null,
   "HESOLUONG": null, "NGAYVAOCQ": null, "TINHTRANG": "L",
   "NGAYSUA": {"datetime": "2025-07-30 10:00:00"}}
]"#;

#[test]
fn json_sample_rows_show_canonical_records_and_findings() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "rows.json", LEGACY_ROWS);
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &legacy_mapping(),
            "--key",
            "MACB",
            "--input",
            &input,
            "--at",
            "2025-08-01T10:00:00+07:00",
            "--format",
            "json",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows: Vec<Json> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    let first = &rows[0];
    assert_eq!(first["outcome"], "translated");
    assert_eq!(first["topic"], "canonical.civil_servant.v1");
    assert_eq!(first["key"], "legacy-qlcb:qlcb.HOSO:MACB=1205");
    // The entity as protobuf JSON with the .proto field names, decoded from TCVN3.
    let name = &first["entity"]["person"]["name"];
    assert_eq!(name["full"], "Trần Thị Thu Hà", "{first}");
    assert_eq!(name["family"], "Trần");
    assert_eq!(first["entity"]["person"]["birth_date"]["year"], 1968);
    assert_eq!(first["entity"]["provenance"]["mapping_version"], "1.0.0");
    let findings = first["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "text.legacy_decoded" && f["criterion"] == "sạch"),
        "{findings:?}"
    );
    // The unknown ethnic group is a thống nhất finding; the record still flows.
    let second = &rows[1];
    assert_eq!(second["outcome"], "translated");
    assert!(
        second["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["criterion"] == "thống nhất" && f["field"] == "person.ethnicity"),
        "{second}"
    );
    assert!(stderr.contains("2 row(s): 2 translated"), "{stderr}");
}

#[test]
fn csv_sample_rows_and_readable_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "rows.csv",
        "MACB,HOTEN,NGAYSINH,PHAI,SOCMND,NOISINH,QUEQUAN,DANTOC,DONVI,HESOLUONG,NGAYVAOCQ,TINHTRANG,NGAYSUA\n\
         1301,Ph¹m V¨n Long,1980,Nam,,,,Kinh,,\"3,33\",,L,2025-07-30 10:00:00\n",
    );
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &legacy_mapping(),
            "--key",
            "MACB",
            "--input",
            &input,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("mapping legacy-qlcb.hoso 1.0.0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("row 1: upsert CivilServant key legacy-qlcb:qlcb.HOSO:MACB=1301"),
        "{stdout}"
    );
    assert!(stdout.contains("\"full\": \"Phạm Văn Long\""), "{stdout}");
    assert!(stdout.contains("1 row(s): 1 translated"), "{stdout}");
}

#[test]
fn a_row_that_cannot_be_translated_is_shown_with_its_reason_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    // No key column: the record has no identity, so the translator would dead-letter it.
    let input = write(
        dir.path(),
        "rows.jsonl",
        &format!(
            "{}\n{{\"HOTEN\": \"B\"}}\n",
            LEGACY_ROWS
                .lines()
                .skip(1)
                .take(4)
                .collect::<Vec<_>>()
                .join(" ")
                .trim_end_matches(',')
        ),
    );
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &legacy_mapping(),
            "--key",
            "MACB",
            "--input",
            &input,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("row 2: REJECTED (mapping."), "{stdout}");
    assert!(stdout.contains("would go to dlq.translate"), "{stdout}");
    assert!(stdout.contains("2 row(s): 1 translated"), "{stdout}");
    assert!(stdout.contains("1 rejected"), "{stdout}");
}

#[test]
fn a_broken_mapping_or_sample_is_reported_with_its_place_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "rows.json", r#"[{"MACB": 1}]"#);
    let mapping = write(
        dir.path(),
        "broken.toml",
        "id = \"x\"\nversion = \"1.0.0\"\nentity = \"civil_servant\"\n\n[source]\nid = \"s\"\nschema = \"a\"\ntable = \"b\"\nkey = [\"ID\"]\n\n[[field]]\ntarget = \"person.no_such_field\"\nfrom = \"HOTEN\"\n",
    );
    let codelists = schemas().join("codelists").display().to_string();
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &mapping,
            "--codelists",
            &codelists,
            "--input",
            &input,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    // file:line:column, then the field.
    assert!(stderr.contains("broken.toml:12:"), "{stderr}");
    assert!(stderr.contains("person.no_such_field"), "{stderr}");

    let bad_sample = write(dir.path(), "bad.json", "[{\"MACB\": 1},\n{\"MACB\": }]");
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &legacy_mapping(),
            "--key",
            "MACB",
            "--input",
            &bad_sample,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("bad.json"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");

    // The legacy table's mapping names no key columns: the steward is told to give them.
    let out = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            &legacy_mapping(),
            "--input",
            &input,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("--key COLUMN"), "{stderr}");
}
