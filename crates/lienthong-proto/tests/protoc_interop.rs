//! Partners decode our Kafka records with standard tools, not with our code. These tests encode
//! with the generated Rust types and decode with `protoc --decode` (and the reverse), using the
//! same `protoc` binary partners would download.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use lienthong_proto::v1::{
    ChangeEvent, Column, Operation, PostgresPosition, Row, SourcePosition, Value, source_position,
    value,
};
use prost::Message;

fn proto_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn protoc(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let include = protoc_bin_vendored::include_path().unwrap();
    run_protoc(
        &[
            &format!("-I{}", proto_root().display()),
            &format!("-I{}", include.display()),
        ],
        args,
        stdin,
    )
}

fn run_protoc(includes: &[&str], args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let protoc = protoc_bin_vendored::protoc_bin_path().unwrap();
    let mut child = Command::new(protoc)
        .args(includes)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "protoc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn column(name: &str, kind: value::Kind) -> Column {
    Column {
        name: name.into(),
        value: Some(Value { kind: Some(kind) }),
        source_type: String::new(),
    }
}

fn sample_event() -> ChangeEvent {
    ChangeEvent {
        source_id: "csdl-cbccvc".into(),
        database: "cbccvc".into(),
        schema: "public".into(),
        table: "can_bo".into(),
        op: Operation::Update as i32,
        after: Some(Row {
            columns: vec![
                column("id", value::Kind::IntValue(-42)),
                column("ho_ten", value::Kind::TextValue("Nguyễn Thị Hoà".into())),
                column(
                    "he_so_luong",
                    value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
                        value: "4.98".into(),
                    }),
                ),
                column("ghi_chu", value::Kind::Null(true)),
            ],
        }),
        position: Some(SourcePosition {
            kind: Some(source_position::Kind::Postgres(PostgresPosition {
                commit_lsn: 0x16B3748,
                lsn: 0x16B3700,
                sequence: 2,
                xid: 771,
            })),
        }),
        schema_version: 3,
        last_in_transaction: true,
        ..Default::default()
    }
}

#[test]
fn protoc_decodes_what_we_encode() {
    let bytes = sample_event().encode_to_vec();
    let text = String::from_utf8(protoc(
        &[
            "--decode=lienthong.v1.ChangeEvent",
            "lienthong/v1/change_event.proto",
        ],
        &bytes,
    ))
    .unwrap();
    for expected in [
        "source_id: \"csdl-cbccvc\"",
        "op: OPERATION_UPDATE",
        "int_value: -42",
        "value: \"4.98\"",
        "null: true",
        "commit_lsn: 23803720",
        "schema_version: 3",
        "last_in_transaction: true",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // protoc prints non-ASCII text as octal escapes of its UTF-8 bytes; check them byte-exact.
    assert!(
        text.contains(r#"text_value: "Nguy\341\273\205n Th\341\273\213 Ho\303\240""#),
        "{text}"
    );
}

#[test]
fn we_decode_what_protoc_encodes() {
    let event = sample_event();
    let text = protoc(
        &[
            "--decode=lienthong.v1.ChangeEvent",
            "lienthong/v1/change_event.proto",
        ],
        &event.encode_to_vec(),
    );
    let bytes = protoc(
        &[
            "--encode=lienthong.v1.ChangeEvent",
            "lienthong/v1/change_event.proto",
        ],
        &text,
    );
    assert_eq!(ChangeEvent::decode(bytes.as_slice()).unwrap(), event);
}

#[test]
fn published_descriptor_set_decodes_without_the_proto_files() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("lienthong.pb");
    std::fs::write(&set, lienthong_proto::FILE_DESCRIPTOR_SET).unwrap();
    // No -I: the descriptor set is all protoc gets.
    let text = String::from_utf8(run_protoc(
        &[],
        &[
            &format!("--descriptor_set_in={}", set.display()),
            "--decode=lienthong.v1.ChangeEvent",
            "lienthong/v1/change_event.proto",
        ],
        &sample_event().encode_to_vec(),
    ))
    .unwrap();
    assert!(text.contains("table: \"can_bo\""), "{text}");
}

#[test]
fn every_proto_file_is_listed() {
    let mut on_disk: Vec<String> = std::fs::read_dir(proto_root().join("lienthong/v1"))
        .unwrap()
        .map(|e| format!("lienthong/v1/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".proto"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = lienthong_proto::PROTO_FILES
        .iter()
        .map(|s| s.to_string())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}
