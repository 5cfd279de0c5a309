#![allow(clippy::unwrap_used)]

use lienthong_proto::v1::{
    BinlogPosition, ColumnSchema, Decimal, Operation, PollCursor, PostgresPosition, Row,
    SnapshotPosition, ValueList, source_position,
};
use proptest::prelude::*;

use super::*;
use crate::mapping::ColumnIndex;
use crate::sample::arbitrary_row;

/// Views compare by their debug form: a float column may hold NaN.
fn same(a: &EventRef<'_>, b: &EventRef<'_>) -> bool {
    let view = |e: &EventRef<'_>| {
        format!(
            "{:?}",
            EventRef {
                located: None,
                ..e.clone()
            }
        )
    };
    view(a) == view(b)
}

/// Whether a row, the key or a poll cursor holds an array: those events are left to prost.
fn has_array(event: &ChangeEvent) -> bool {
    let array =
        |v: Option<&Value>| matches!(v.and_then(|v| v.kind.as_ref()), Some(Kind::ArrayValue(_)));
    let rows = [&event.before, &event.after];
    let in_columns = rows
        .iter()
        .flat_map(|r| r.iter().flat_map(|r| &r.columns))
        .chain(&event.key)
        .any(|c| array(c.value.as_ref()));
    let in_cursor = match event.position.as_ref().and_then(|p| p.kind.as_ref()) {
        Some(source_position::Kind::Poll(poll)) => poll.cursor.iter().any(|v| array(Some(v))),
        _ => false,
    };
    in_columns || in_cursor
}

/// A change event whose every part comes from `data`.
fn event_from(data: &[u8]) -> ChangeEvent {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let columns = ["id", "ho_ten", "ngay_sinh", "he_so", "ảnh"];
    let row = arbitrary_row(&columns, data);
    let key: Vec<Column> = row.columns.iter().take(1).cloned().collect();
    let position = match byte(1) % 5 {
        0 => None,
        1 => Some(source_position::Kind::Postgres(PostgresPosition {
            commit_lsn: u64::from(byte(2)) << 40,
            lsn: 7,
            sequence: u64::from(byte(3)),
            xid: 9,
        })),
        2 => Some(source_position::Kind::Binlog(BinlogPosition {
            gtid: "0-1-42".into(),
            file: "mysql-bin.000003".into(),
            offset: 1_234,
            row_index: u32::from(byte(3)),
            ..BinlogPosition::default()
        })),
        3 => Some(source_position::Kind::Poll(PollCursor {
            cursor: arbitrary_row(&["c"], &data[data.len().min(3)..])
                .columns
                .into_iter()
                .filter_map(|c| c.value)
                .collect(),
            poll_sequence: 5,
        })),
        _ => Some(source_position::Kind::Snapshot(Box::new(
            SnapshotPosition {
                snapshot_id: "s-1".into(),
                chunk: 3,
                row_index: 4,
                ..SnapshotPosition::default()
            },
        ))),
    };
    let (before, after) = if byte(0) % 3 == 0 {
        (Some(row), None)
    } else {
        (
            (byte(0) % 3 == 1).then(|| Row {
                columns: key.clone(),
            }),
            Some(row),
        )
    };
    ChangeEvent {
        source_id: "csdl-cbcc".into(),
        database: "csdl_cbccvc".into(),
        schema: "public".into(),
        table: "hồ_sơ".into(),
        op: i32::from(byte(4)) - 2,
        before,
        after,
        key,
        transaction_id: "774".into(),
        position: position.map(|kind| SourcePosition { kind: Some(kind) }),
        commit_time: (byte(5) % 2 == 0).then_some(Timestamp {
            seconds: 1_754_017_200,
            nanos: 5,
        }),
        capture_time: Some(Timestamp {
            seconds: -3,
            nanos: 0,
        }),
        schema_version: u32::from(byte(6)),
        table_schema: (0..byte(7) % 3)
            .map(|i| ColumnSchema {
                name: format!("c{i}"),
                source_type: "varchar(10)".into(),
                nullable: i % 2 == 0,
                primary_key_ordinal: u32::from(i),
            })
            .collect(),
        last_in_transaction: byte(8) % 2 == 0,
    }
}

#[test]
fn a_plain_event_reads_as_its_decoded_view() {
    let event = ChangeEvent {
        source_id: "src".into(),
        schema: "s".into(),
        table: "t".into(),
        op: Operation::Update as i32,
        after: Some(Row {
            columns: vec![
                Column {
                    name: "ten".into(),
                    value: Some(Value {
                        kind: Some(Kind::TextValue("Vụ Tổ chức".into())),
                    }),
                    source_type: "text".into(),
                },
                Column {
                    name: "he_so".into(),
                    value: Some(Value {
                        kind: Some(Kind::DecimalValue(Decimal {
                            value: "4.98".into(),
                        })),
                    }),
                    source_type: String::new(),
                },
                Column {
                    name: "n".into(),
                    value: Some(Value {
                        kind: Some(Kind::IntValue(-7)),
                    }),
                    source_type: String::new(),
                },
                Column {
                    name: "khong".into(),
                    value: None,
                    source_type: String::new(),
                },
            ],
        }),
        ..ChangeEvent::default()
    };
    let bytes = event.encode_to_vec();
    let read = EventRef::read(&bytes).unwrap();
    assert!(same(&read, &EventRef::of(&event)));
    assert_eq!(read.after[0].name, "ten");
    assert!(matches!(read.after[0].value, ValueRef::Text("Vụ Tổ chức")));
    assert!(matches!(read.after[1].value, ValueRef::Decimal("4.98")));
    assert!(matches!(read.after[2].value, ValueRef::Int(-7)));
    assert!(matches!(read.after[3].value, ValueRef::Null));
    assert!(read.before.is_empty());
}

#[test]
fn what_prost_merges_or_skips_is_left_to_prost() {
    let event = ChangeEvent {
        source_id: "src".into(),
        after: Some(Row::default()),
        ..ChangeEvent::default()
    };
    let mut bytes = event.encode_to_vec();
    assert!(EventRef::read(&bytes).is_some());
    // The same singular field twice: prost keeps the last (or merges messages).
    let mut twice = bytes.clone();
    twice.extend_from_slice(&bytes);
    assert!(ChangeEvent::decode(twice.as_slice()).is_ok());
    assert!(EventRef::read(&twice).is_none());
    // An unknown field (number 99, varint 1): prost skips it.
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    assert!(ChangeEvent::decode(bytes.as_slice()).is_ok());
    assert!(EventRef::read(&bytes).is_none());
    // An array value: prost decodes it, with its nesting limit.
    let with_array = ChangeEvent {
        after: Some(Row {
            columns: vec![Column {
                name: "a".into(),
                value: Some(Value {
                    kind: Some(Kind::ArrayValue(ValueList::default())),
                }),
                source_type: String::new(),
            }],
        }),
        ..ChangeEvent::default()
    };
    assert!(EventRef::read(&with_array.encode_to_vec()).is_none());
}

#[test]
fn dates_decimals_and_nulls_read_as_prost_reads_them() {
    let date = |year, month, day| Value {
        kind: Some(Kind::DateValue(Date { year, month, day })),
    };
    let decimal = |value: &str| Value {
        kind: Some(Kind::DecimalValue(Decimal {
            value: value.into(),
        })),
    };
    let null = |is_null| Value {
        kind: Some(Kind::Null(is_null)),
    };
    // Every form the reader takes a short way, and its neighbours that it does not.
    for value in [
        date(2025, 7, 1),
        date(1960, 12, 31),
        date(128, 1, 1),
        date(16383, 127, 127),
        date(16384, 1, 1),
        date(127, 1, 1),
        date(2025, 128, 1),
        date(2025, 0, 1),
        date(2025, 1, 0),
        date(-44, 0, 0),
        date(i32::MAX, i32::MIN, -1),
        date(0, 0, 0),
        decimal("4.98"),
        decimal(""),
        decimal(&"9".repeat(130)),
        null(true),
        null(false),
    ] {
        let event = ChangeEvent {
            after: Some(Row {
                columns: vec![Column {
                    name: "d".into(),
                    value: Some(value),
                    source_type: String::new(),
                }],
            }),
            ..ChangeEvent::default()
        };
        let bytes = event.encode_to_vec();
        assert!(same(
            &EventRef::read(&bytes).unwrap(),
            &EventRef::of(&event)
        ));
    }
}

#[test]
fn malformed_bytes_are_not_read() {
    for bytes in [
        &[0xff, 0xff, 0xff][..],
        &[0x0a, 0x05, b'a'],             // source_id longer than the bytes
        &[0x0a, 0x02, 0xc3, 0x28],       // source_id not UTF-8
        &[0x00, 0x01],                   // field number 0
        &[0x0b, 0x0c],                   // a group
        &[0x28, 0xff, 0xff, 0xff, 0xff], // truncated varint
        &[
            0x28, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
        ], // 10th byte > 1
    ] {
        assert!(EventRef::read(bytes).is_none(), "{bytes:?}");
        assert!(ChangeEvent::decode(bytes).is_err(), "{bytes:?}");
    }
    // The longest varint prost accepts.
    let max_op = [
        0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ];
    let decoded = ChangeEvent::decode(&max_op[..]).unwrap();
    assert_eq!(EventRef::read(&max_op).unwrap().op, decoded.op);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn encoded_events_read_as_prost_decodes_them(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let event = event_from(&data);
        let bytes = event.encode_to_vec();
        let decoded = ChangeEvent::decode(bytes.as_slice()).unwrap();
        match EventRef::read(&bytes) {
            Some(read) => prop_assert!(same(&read, &EventRef::of(&decoded)), "{:?}", event),
            None => prop_assert!(has_array(&event), "{:?}", event),
        }
    }

    #[test]
    fn events_read_for_a_mapping_read_the_same_and_locate_its_columns(
        data in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut index = ColumnIndex::default();
        for name in ["ho_ten", "id", "ảnh", "khong_co"] {
            index.add(name);
        }
        let event = event_from(&data);
        let bytes = event.encode_to_vec();
        let asked = std::cell::Cell::new(0);
        let read = EventRef::read_for(&bytes, |source, schema, table| {
            asked.set(asked.get() + 1);
            assert_eq!((source, schema, table), ("csdl-cbcc", "public", "hồ_sơ"));
            Some(&index)
        });
        prop_assert!(asked.get() <= 1);
        match (read, EventRef::read(&bytes)) {
            (Some(read), Some(plain)) => {
                prop_assert!(same(&read, &plain));
                let located = read.located.as_ref();
                let rows_read = event.before.is_some() || event.after.is_some() || !event.key.is_empty();
                prop_assert_eq!(located.is_some(), rows_read);
                if let Some(located) = located {
                    prop_assert!(std::ptr::eq(located.index, &index));
                    let before = index.locate(read.before.iter().map(|c| c.name));
                    let after = index.locate(read.after.iter().map(|c| c.name));
                    prop_assert_eq!(&located.before, &before);
                    prop_assert_eq!(&located.after, &after);
                }
            }
            (None, None) => {}
            (read, plain) => prop_assert!(false, "read_for {:?}, read {:?}", read.is_some(), plain.is_some()),
        }
    }

    #[test]
    fn damaged_bytes_read_only_as_prost_decodes_them(
        data in proptest::collection::vec(any::<u8>(), 0..200),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        damage in 0u8..3,
    ) {
        let mut bytes = event_from(&data).encode_to_vec();
        if bytes.is_empty() {
            bytes.push(byte);
        }
        let i = at.index(bytes.len());
        match damage {
            0 => bytes[i] = byte,
            1 => bytes.truncate(i),
            _ => bytes.insert(i, byte),
        }
        let mut index = ColumnIndex::default();
        index.add("ho_ten");
        index.add("ảnh");
        if let Some(read) = EventRef::read(&bytes) {
            let decoded = ChangeEvent::decode(bytes.as_slice());
            prop_assert!(decoded.is_ok(), "read what prost rejects: {:?}", decoded);
            prop_assert!(same(&read, &EventRef::of(&decoded.unwrap())));
        }
        // Read for a mapping's columns: the same verdict and view.
        let read_for = EventRef::read_for(&bytes, |_, _, _| Some(&index));
        let read = EventRef::read(&bytes);
        prop_assert_eq!(read_for.is_some(), read.is_some());
        if let (Some(a), Some(b)) = (read_for, read) {
            prop_assert!(same(&a, &b));
        }
    }
}
