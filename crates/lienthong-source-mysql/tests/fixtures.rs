//! Decodes binlog files recorded from a real MariaDB 10.11 and checks every row value against
//! what the SQL wrote.
//!
//! `tests/fixtures/capture.sh` ran `tests/fixtures/workload.sql` three times, once per
//! `binlog_row_metadata` setting, and kept each binlog file byte for byte:
//!
//! | file | table maps carry | decoded with |
//! |---|---|---|
//! | `mariadb-10.11-full.bin` | signedness, charsets, names, labels, primary keys | the table maps alone |
//! | `mariadb-10.11-minimal.bin` | signedness, charsets | plus `information_schema` facts |
//! | `mariadb-10.11-no-log.bin` (the server's default) | nothing | plus `information_schema` facts |
//!
//! The facts are `tests/fixtures/columns.tsv`, the server's `information_schema.COLUMNS` for the
//! fixture tables. All three files must decode to the same rows, which are the workload's.
//! Other sessions' transactions in the same files are decoded but not checked.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use lienthong_source_mysql::binlog::event::EventData;
use lienthong_source_mysql::binlog::temporal::{Date, DateTime, Time, Timestamp};
use lienthong_source_mysql::binlog::{
    BinlogDecoder, ChecksumAlgorithm, ColumnFacts, DecodeError, MariadbGtid, MariadbGtidPosition,
    QueryKind, RowChange, RowImage, TableFacts, TableSchema, Value, binlog_file_events,
    decode_text, encode_latin1,
};

const SCHEMA: &str = "lienthong_binlog_fixture";
const UTF8MB4_UNICODE_CI: u16 = 224;
const UTF8MB4_BIN: u16 = 46;
const UTF8MB3_GENERAL_CI: u16 = 33;
const ASCII_GENERAL_CI: u16 = 11;
const LATIN1_SWEDISH_CI: u16 = 8;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The fixture tables' columns as `information_schema` reported them.
fn information_schema_facts() -> HashMap<String, TableFacts> {
    let text = String::from_utf8(fixture("columns.tsv")).unwrap();
    let mut tables: HashMap<String, TableFacts> = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [table, position, name, column_type, collation, key] = fields[..] else {
            panic!("bad columns.tsv line {line:?}");
        };
        let facts = tables.entry(table.to_owned()).or_default();
        let index: usize = position.parse::<usize>().unwrap() - 1;
        assert_eq!(
            index,
            facts.columns.len(),
            "columns.tsv is in ordinal order"
        );
        let collation = (!collation.is_empty()).then(|| collation.parse().unwrap());
        facts.columns.push(ColumnFacts::from_information_schema(
            name,
            column_type,
            collation,
        ));
        if key == "PRI" {
            facts.primary_key.get_or_insert_with(Vec::new).push(index);
        }
    }
    tables
}

/// What one capture decodes to.
#[derive(Debug, Default)]
struct Decoded {
    /// Row changes of the fixture schema, in order, with their table.
    changes: Vec<(String, RowChange)>,
    /// Statements of the fixture schema's event groups, in order.
    queries: Vec<(QueryKind, String)>,
    /// Every GTID in the file, in order, with whether its group was standalone.
    gtids: Vec<(MariadbGtid, bool)>,
    /// The GTID list at the start of the file.
    gtid_list: Vec<MariadbGtid>,
    /// Per event group of the fixture schema: how it ended (XID, COMMIT query, or standalone).
    group_ends: Vec<&'static str>,
    /// Facts the table maps of fixture tables lacked, before any information_schema facts.
    unknown_facts: usize,
}

fn decode_capture(name: &str, facts: Option<&HashMap<String, TableFacts>>) -> Decoded {
    let bytes = fixture(name);
    let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
    let mut decoded = Decoded::default();
    let mut in_fixture_group = false;
    let mut standalone = false;
    for item in binlog_file_events(&bytes).unwrap() {
        let (position, event_bytes) = item.unwrap();
        let event = decoder
            .decode(event_bytes)
            .unwrap_or_else(|error| panic!("{name} at {position}: {error}"));
        assert_eq!(
            u64::from(event.header.log_pos),
            position + u64::from(event.header.event_size),
            "log_pos of the event at {position}"
        );
        match &event.data {
            EventData::MariadbGtidList { gtids, .. } => decoded.gtid_list = gtids.clone(),
            EventData::MariadbGtid(gtid) => {
                decoded.gtids.push((gtid.gtid, gtid.is_standalone()));
                standalone = gtid.is_standalone();
                in_fixture_group = false;
            }
            EventData::Query(query) => {
                let text = query.sql_text().unwrap();
                let fixture_statement = query.schema == SCHEMA || text.contains(SCHEMA);
                if fixture_statement && query.kind() != QueryKind::Begin {
                    decoded.queries.push((query.kind(), text));
                }
                if query.kind() == QueryKind::Commit && in_fixture_group {
                    decoded.group_ends.push("COMMIT");
                } else if standalone && fixture_statement {
                    decoded.group_ends.push("standalone");
                }
            }
            EventData::Xid { .. } if in_fixture_group => decoded.group_ends.push("XID"),
            EventData::Rows(rows) => {
                let map = decoder.table_map(rows.table_id).unwrap();
                let table_facts = facts.and_then(|facts| facts.get(&map.table));
                let is_fixture = map.schema == SCHEMA;
                if is_fixture {
                    decoded.unknown_facts +=
                        TableSchema::new(map, None).unwrap().unknown_facts().len();
                }
                let schema = TableSchema::new(map, table_facts.filter(|_| is_fixture))
                    .unwrap_or_else(|error| panic!("{name}: {error}"));
                let changes = rows
                    .rows(&schema)
                    .unwrap_or_else(|error| panic!("{name} at {position}: {error}"));
                if is_fixture {
                    in_fixture_group = true;
                    decoded.changes.extend(
                        changes
                            .into_iter()
                            .map(|change| (map.table.clone(), change)),
                    );
                }
            }
            _ => {}
        }
    }
    decoded
}

// ---------------------------------------------------------------------------------- values ---

fn int(value: i64) -> Value {
    Value::Int(value)
}

fn uint(value: u64) -> Value {
    Value::UInt(value)
}

fn dec(text: &str) -> Value {
    Value::Decimal(text.to_owned())
}

fn text_in(text: &str, collation: u16) -> Value {
    Value::String {
        bytes: text.as_bytes().to_vec(),
        collation: Some(collation),
    }
}

/// utf8mb4_unicode_ci text, the fixture schema's default.
fn text(text: &str) -> Value {
    text_in(text, UTF8MB4_UNICODE_CI)
}

fn latin1_bytes(bytes: &[u8]) -> Value {
    Value::String {
        bytes: bytes.to_vec(),
        collation: Some(LATIN1_SWEDISH_CI),
    }
}

fn enumerated(index: u16, label: &str) -> Value {
    Value::Enum {
        index,
        label: Some(label.to_owned()),
    }
}

fn set(bits: u64, members: &[&str]) -> Value {
    Value::Set {
        bits,
        members: Some(members.iter().map(|m| (*m).to_owned()).collect()),
    }
}

fn datetime(text: &str, fractional_digits: u8) -> Value {
    // "YYYY-MM-DD hh:mm:ss[.f]"
    let (date, time) = text.split_once(' ').unwrap();
    let (clock, fraction) = time.split_once('.').unwrap_or((time, ""));
    let clock: Vec<u8> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    Value::DateTime(DateTime {
        date: parse_date(date),
        hour: clock[0],
        minute: clock[1],
        second: clock[2],
        microsecond: microseconds(fraction),
        fractional_digits,
    })
}

fn parse_date(text: &str) -> Date {
    let parts: Vec<&str> = text.split('-').collect();
    Date {
        year: parts[0].parse().unwrap(),
        month: parts[1].parse().unwrap(),
        day: parts[2].parse().unwrap(),
    }
}

fn microseconds(fraction: &str) -> u32 {
    format!("{fraction:0<6}").parse().unwrap()
}

fn date(text: &str) -> Value {
    Value::Date(parse_date(text))
}

fn time(text: &str, fractional_digits: u8) -> Value {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
    let clock: Vec<&str> = clock.split(':').collect();
    Value::Time(Time {
        negative,
        hours: clock[0].parse().unwrap(),
        minutes: clock[1].parse().unwrap(),
        seconds: clock[2].parse().unwrap(),
        microseconds: microseconds(fraction),
        fractional_digits,
    })
}

fn timestamp(seconds: i64, microseconds: u32, fractional_digits: u8) -> Value {
    Value::Timestamp(Timestamp {
        seconds,
        microseconds,
        fractional_digits,
    })
}

/// A spatial value as MariaDB stores it: SRID, then the WKB of a point.
fn point(srid: u32, x: f64, y: f64) -> Value {
    let mut bytes = srid.to_le_bytes().to_vec();
    bytes.push(1);
    bytes.extend(1u32.to_le_bytes());
    bytes.extend(x.to_le_bytes());
    bytes.extend(y.to_le_bytes());
    Value::Geometry(bytes)
}

fn nulls(count: usize) -> impl Iterator<Item = Value> {
    std::iter::repeat_n(Value::Null, count)
}

fn full(values: impl IntoIterator<Item = Value>) -> RowImage {
    RowImage(values.into_iter().map(Some).collect())
}

fn insert(table: &str, values: impl IntoIterator<Item = Value>) -> (String, RowChange) {
    (
        table.to_owned(),
        RowChange::Insert {
            after: full(values),
        },
    )
}

fn update(table: &str, before: RowImage, after: RowImage) -> (String, RowChange) {
    (table.to_owned(), RowChange::Update { before, after })
}

fn delete(table: &str, before: RowImage) -> (String, RowChange) {
    (table.to_owned(), RowChange::Delete { before })
}

/// Every row change workload.sql makes, in order.
fn expected_changes() -> Vec<(String, RowChange)> {
    let integer_row_3 = |ti: i64, biu: u64| {
        vec![
            int(3),
            int(ti),
            uint(0),
            int(0),
            uint(0),
            int(0),
            uint(0),
            int(0),
            uint(0),
            int(0),
            uint(biu),
            Value::Year(0),
            Value::Bit(0b10_0000_0001),
            Value::Float(0.0),
            Value::Double(0.0),
        ]
    };
    let integer_row_4 = || std::iter::once(int(4)).chain(nulls(14));
    let decimal_row = |id: i64, du: &str| {
        if id == 3 {
            vec![
                int(3),
                dec("0.000000"),
                dec("0.00"),
                dec("0"),
                dec("0.000000000"),
                dec("0.000000000"),
                dec("0.000000000000000000000000000000"),
                dec(du),
            ]
        } else {
            vec![
                int(4),
                dec("-0.000001"),
                dec("0.01"),
                dec("-1"),
                dec("0.000000001"),
                dec("-0.000000001"),
                dec("0.000000000000000000000000000001"),
                dec(du),
            ]
        }
    };
    let texts_row_1 = |v: &str, c: Option<&str>| {
        vec![
            int(1),
            text(v),
            c.map_or(Value::Null, text),
            text(&"Nguyễn Thị Ánh ".repeat(40)),
            text(&"ệ".repeat(200)),
            text("Tiếng Việt"),
            text("Hồ Chí Minh 😀"),
            text(&"ơ".repeat(300)),
            text("Cần Thơ"),
            Value::Binary(vec![0x00, 0xFF, 0x10]),
            Value::Binary(vec![0x01, 0x02, 0x00, 0x00]),
            Value::Binary(vec![0xDE, 0xAD, 0xBE, 0xEF]),
            Value::Binary(vec![]),
            text_in("Phở", UTF8MB3_GENERAL_CI),
            text_in("ascii only", ASCII_GENERAL_CI),
            text_in("Ánh", UTF8MB4_BIN),
        ]
    };
    let enums_row_5 = |quyen: Value| {
        vec![
            int(5),
            enumerated(1, "nam"),
            quyen,
            enumerated(2, "e002"),
            enumerated(1, "x"),
        ]
    };
    let minimal = |id: i64, width: usize| {
        let mut values = vec![Some(int(id))];
        values.resize(width, None);
        RowImage(values)
    };
    let all_bytes: Vec<u8> = (0..=255).collect();

    vec![
        // integers
        insert(
            "integers",
            [
                int(1),
                int(-128),
                uint(0),
                int(-32_768),
                uint(0),
                int(-8_388_608),
                uint(0),
                int(-2_147_483_648),
                uint(0),
                int(i64::MIN),
                uint(0),
                Value::Year(1901),
                Value::Bit(0),
                Value::Float(-1.5),
                Value::Double(-2.25),
            ],
        ),
        insert(
            "integers",
            [
                int(2),
                int(127),
                uint(255),
                int(32_767),
                uint(65_535),
                int(8_388_607),
                uint(16_777_215),
                int(2_147_483_647),
                uint(4_294_967_295),
                int(i64::MAX),
                uint(u64::MAX),
                Value::Year(2155),
                Value::Bit(0b11_1111_1111),
                Value::Float(3.5),
                Value::Double(1e300),
            ],
        ),
        insert("integers", integer_row_3(0, 0)),
        insert("integers", integer_row_4()),
        // decimals
        insert(
            "decimals",
            [
                int(1),
                dec("12345678901234.123456"),
                dec("123.45"),
                dec("1234567890"),
                dec("0.123456789"),
                dec("123456789.123456789"),
                dec("12345678901234567890123456789012345.123456789012345678901234567890"),
                dec("12345678.9999"),
            ],
        ),
        insert(
            "decimals",
            [
                int(2),
                dec("-12345678901234.123456"),
                dec("-123.45"),
                dec("-1234567890"),
                dec("-0.123456789"),
                dec("-123456789.123456789"),
                dec("-99999999999999999999999999999999999.999999999999999999999999999999"),
                dec("0.0000"),
            ],
        ),
        insert("decimals", decimal_row(3, "0.0000")),
        insert("decimals", decimal_row(4, "0.0001")),
        insert("decimals", std::iter::once(int(5)).chain(nulls(7))),
        // temporals
        insert(
            "temporals",
            [
                int(1),
                datetime("2024-02-29 13:45:06", 0),
                datetime("2024-02-29 13:45:06.1", 1),
                datetime("2024-02-29 13:45:06.12", 2),
                datetime("2024-02-29 13:45:06.123", 3),
                datetime("2024-02-29 13:45:06.1234", 4),
                datetime("2024-02-29 13:45:06.12345", 5),
                datetime("2024-02-29 13:45:06.123456", 6),
                timestamp(1_709_214_306, 0, 0),
                timestamp(1_709_214_306, 123_000, 3),
                timestamp(1_709_214_306, 123_456, 6),
                time("13:45:06", 0),
                time("13:45:06.1", 1),
                time("13:45:06.123", 3),
                time("13:45:06.1234", 4),
                time("13:45:06.123456", 6),
                date("2024-02-29"),
            ],
        ),
        insert(
            "temporals",
            std::iter::once(int(2))
                .chain((0..=6).map(|digits| datetime("0000-00-00 00:00:00", digits)))
                .chain([
                    timestamp(0, 0, 0),
                    timestamp(0, 0, 3),
                    timestamp(0, 0, 6),
                    time("-838:59:59", 0),
                    time("-00:00:00.5", 1),
                    time("-12:34:56.789", 3),
                    time("-01:02:03.0001", 4),
                    time("-00:00:00.000001", 6),
                    date("0000-00-00"),
                ]),
        ),
        insert(
            "temporals",
            [
                int(3),
                datetime("9999-12-31 23:59:59", 0),
                datetime("9999-12-31 23:59:59.9", 1),
                datetime("9999-12-31 23:59:59.99", 2),
                datetime("9999-12-31 23:59:59.999", 3),
                datetime("9999-12-31 23:59:59.9999", 4),
                datetime("9999-12-31 23:59:59.99999", 5),
                datetime("9999-12-31 23:59:59.999999", 6),
                timestamp(2_147_483_647, 0, 0),
                timestamp(2_147_483_647, 999_000, 3),
                timestamp(2_147_483_647, 999_999, 6),
                time("838:59:59", 0),
                time("838:59:59.9", 1),
                time("838:59:59.999", 3),
                time("838:59:59.9999", 4),
                time("838:59:59.999999", 6),
                date("9999-12-31"),
            ],
        ),
        insert(
            "temporals",
            [
                int(4),
                datetime("1000-01-01 00:00:00", 0),
                datetime("1000-01-01 00:00:00.0", 1),
                datetime("1000-01-01 00:00:00.01", 2),
                datetime("1000-01-01 00:00:00.001", 3),
                datetime("1000-01-01 00:00:00.0001", 4),
                datetime("1000-01-01 00:00:00.00001", 5),
                datetime("1000-01-01 00:00:00.000001", 6),
                timestamp(1, 0, 0),
                timestamp(1, 1_000, 3),
                timestamp(1, 1, 6),
                time("00:00:00", 0),
                time("-00:00:00.1", 1),
                time("00:00:00.001", 3),
                time("00:00:00.0001", 4),
                time("00:00:00.000001", 6),
                date("2024-00-15"),
            ],
        ),
        insert("temporals", std::iter::once(int(5)).chain(nulls(16))),
        // texts
        insert("texts", texts_row_1("Nguyễn Thị Ánh", Some("Đà Nẵng"))),
        insert(
            "texts",
            std::iter::once(int(2))
                .chain((0..8).map(|_| text("")))
                .chain([
                    Value::Binary(vec![]),
                    Value::Binary(vec![0; 4]),
                    Value::Binary(vec![]),
                    Value::Binary(vec![]),
                    text_in("", UTF8MB3_GENERAL_CI),
                    text_in("", ASCII_GENERAL_CI),
                    text_in("", UTF8MB4_BIN),
                ]),
        ),
        insert("texts", std::iter::once(int(3)).chain(nulls(15))),
        // legacy_latin1: the bytes the latin1 client sent, unchanged.
        insert(
            "legacy_latin1",
            [
                int(1),
                latin1_bytes("Nguyễn Thị Ánh".as_bytes()),
                latin1_bytes("Đặng Văn Lâm".as_bytes()),
                latin1_bytes(b"ABC"),
            ],
        ),
        insert(
            "legacy_latin1",
            [
                int(2),
                latin1_bytes(&[0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0x9F, 0xA0, 0xFF]),
                latin1_bytes(&all_bytes),
                latin1_bytes(&[0xC0, 0xE9]),
            ],
        ),
        insert("legacy_latin1", std::iter::once(int(3)).chain(nulls(3))),
        // enums_sets
        insert(
            "enums_sets",
            [
                int(1),
                enumerated(2, "nữ"),
                set(0b10_0000_1001, &["đọc", "quản trị", "a10"]),
                enumerated(300, "e300"),
                enumerated(2, "ÿ"),
            ],
        ),
        insert(
            "enums_sets",
            [
                int(2),
                enumerated(1, "nam"),
                set(0, &[]),
                enumerated(1, "e001"),
                enumerated(1, "x"),
            ],
        ),
        insert("enums_sets", std::iter::once(int(3)).chain(nulls(4))),
        insert(
            "enums_sets",
            [
                int(4),
                enumerated(3, "khác"),
                set(0b1_0000_0000, &["a9"]),
                enumerated(256, "e256"),
                enumerated(1, "x"),
            ],
        ),
        // json_geo
        insert(
            "json_geo",
            [
                int(1),
                text_in(
                    r#"{"ten": "Nguyễn Văn A", "tuoi": 30, "con": [1, 2.5, null, true]}"#,
                    UTF8MB4_BIN,
                ),
                point(4326, 105.85, 21.03),
                point(0, 1.0, 2.0),
            ],
        ),
        insert("json_geo", std::iter::once(int(2)).chain(nulls(3))),
        // Updates and deletes, FULL images.
        update(
            "integers",
            full(integer_row_3(0, 0)),
            full(integer_row_3(5, 42)),
        ),
        update(
            "texts",
            full(texts_row_1("Nguyễn Thị Ánh", Some("Đà Nẵng"))),
            full(texts_row_1("Lê Văn Tám", None)),
        ),
        delete("integers", full(integer_row_4())),
        update(
            "decimals",
            full(decimal_row(3, "0.0000")),
            full(decimal_row(3, "1.0000")),
        ),
        update(
            "decimals",
            full(decimal_row(4, "0.0001")),
            full(decimal_row(4, "1.0001")),
        ),
        // The transaction.
        insert("enums_sets", enums_row_5(set(0b10, &["ghi"]))),
        update(
            "enums_sets",
            full(enums_row_5(set(0b10, &["ghi"]))),
            full(enums_row_5(set(0b100, &["xoá"]))),
        ),
        delete("enums_sets", full(enums_row_5(set(0b100, &["xoá"])))),
        // MINIMAL images.
        update("texts", minimal(1, 16), {
            let mut after = vec![None; 16];
            after[5] = Some(text("Hà Nội"));
            RowImage(after)
        }),
        delete("temporals", minimal(4, 17)),
        // After DDL; the non-transactional table.
        insert("ddl_demo", [int(1), text("sau khi đổi")]),
        insert("aria_log", [int(1), text("ghi nhật ký")]),
    ]
}

fn assert_changes(name: &str, decoded: &Decoded) {
    let expected = expected_changes();
    for (index, (got, want)) in decoded.changes.iter().zip(&expected).enumerate() {
        assert_eq!(got.0, want.0, "{name}: change {index} is on another table");
        if got.1 != want.1 {
            // Name the first differing column, not just the whole row.
            let images = |change: &RowChange| -> Vec<RowImage> {
                match change {
                    RowChange::Insert { after } => vec![after.clone()],
                    RowChange::Update { before, after } => vec![before.clone(), after.clone()],
                    RowChange::Delete { before } => vec![before.clone()],
                }
            };
            for (got_image, want_image) in images(&got.1).iter().zip(images(&want.1).iter()) {
                for (column, (g, w)) in got_image.0.iter().zip(&want_image.0).enumerate() {
                    assert_eq!(g, w, "{name}: change {index} on {}, column {column}", got.0);
                }
            }
            assert_eq!(got.1, want.1, "{name}: change {index} on {}", got.0);
        }
    }
    assert_eq!(
        decoded.changes.len(),
        expected.len(),
        "{name}: number of changes"
    );
}

// ----------------------------------------------------------------------------------- tests ---

#[test]
fn full_metadata_capture_decodes_to_what_the_sql_wrote() {
    let decoded = decode_capture("mariadb-10.11-full.bin", None);
    assert_eq!(
        decoded.unknown_facts, 0,
        "FULL metadata leaves nothing unknown"
    );
    assert_changes("full", &decoded);
}

#[test]
fn minimal_metadata_capture_with_facts_decodes_the_same() {
    let facts = information_schema_facts();
    let decoded = decode_capture("mariadb-10.11-minimal.bin", Some(&facts));
    assert!(decoded.unknown_facts > 0, "MINIMAL lacks names and labels");
    assert_changes("minimal", &decoded);
}

#[test]
fn no_log_capture_with_facts_decodes_the_same() {
    let facts = information_schema_facts();
    let decoded = decode_capture("mariadb-10.11-no-log.bin", Some(&facts));
    assert_changes("no-log", &decoded);
}

#[test]
fn minimal_metadata_agrees_with_information_schema() {
    // TableSchema::new refuses facts that contradict the table map, so decoding the MINIMAL and
    // FULL captures with the facts proves the table maps' signedness and collations equal what
    // information_schema says.
    let facts = information_schema_facts();
    let decoded = decode_capture("mariadb-10.11-full.bin", Some(&facts));
    assert_changes("full with facts", &decoded);
}

#[test]
fn without_metadata_or_facts_unsigned_values_come_out_signed() {
    let decoded = decode_capture("mariadb-10.11-no-log.bin", None);
    assert!(decoded.unknown_facts > 0);
    let (_, RowChange::Insert { after }) = &decoded.changes[1] else {
        panic!("second change is not the insert of integers row 2");
    };
    // TINYINT UNSIGNED 255 read as signed: why the connector must supply facts.
    assert_eq!(after.get(2), Some(&Value::Int(-1)));
    assert_eq!(after.get(10), Some(&Value::Int(-1)));
    // Strings have no collation.
    let (_, RowChange::Insert { after }) = &decoded.changes[14] else {
        panic!("change 14 is not the insert of texts row 1");
    };
    assert!(matches!(
        after.get(1),
        Some(Value::String {
            collation: None,
            ..
        })
    ));
}

#[test]
fn latin1_values_round_trip_and_match_the_servers_own_conversion() {
    let decoded = decode_capture("mariadb-10.11-full.bin", None);
    let latin1: Vec<&RowImage> = decoded
        .changes
        .iter()
        .filter(|(table, _)| table == "legacy_latin1")
        .map(|(_, change)| match change {
            RowChange::Insert { after } => after,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let server = String::from_utf8(fixture("latin1.tsv")).unwrap();
    let hex = |text: &str| -> Option<Vec<u8>> {
        (text != "NULL").then(|| {
            (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                .collect()
        })
    };
    let mut rows = 0;
    for (line, image) in server.lines().zip(latin1) {
        let fields: Vec<&str> = line.split('\t').collect();
        for (column, stored, as_utf8) in [(1, fields[1], fields[2]), (2, fields[3], fields[4])] {
            let value = image.get(column).unwrap();
            let Some(stored) = hex(stored) else {
                assert_eq!(value, &Value::Null);
                continue;
            };
            let Value::String { bytes, collation } = value else {
                panic!("{value:?}");
            };
            assert_eq!(bytes, &stored, "the binlog holds the stored bytes");
            let text = decode_text(bytes, collation.unwrap()).unwrap();
            let server_text = String::from_utf8(hex(as_utf8).unwrap()).unwrap();
            assert_eq!(
                text, server_text,
                "decodes as CONVERT(... USING utf8mb4) does"
            );
            assert_eq!(
                encode_latin1(&text).unwrap(),
                stored,
                "and encodes back to the bytes"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, 3);
}

#[test]
fn transactions_gtids_and_statements() {
    let decoded = decode_capture("mariadb-10.11-full.bin", None);

    // GTIDs continue the GTID list and follow each other in domain 0 (gtid_strict_mode=ON).
    let mut position = MariadbGtidPosition::from_gtid_list(&decoded.gtid_list);
    assert!(!position.is_empty());
    for (gtid, _) in &decoded.gtids {
        assert!(!position.includes(gtid), "{gtid} replayed");
        assert_eq!(
            position.advance(*gtid),
            lienthong_source_mysql::binlog::gtid::Advance::Forward
        );
        assert_eq!(gtid.sequence, position.get(0).unwrap().sequence);
    }
    let last = decoded.gtids.last().unwrap().0;
    assert_eq!(position.to_string(), format!("0-1-{}", last.sequence));
    let reparsed: MariadbGtidPosition = position.to_string().parse().unwrap();
    assert_eq!(reparsed, position);

    // Statements: DDL is classified, the fixture's DML is not in query events (ROW format).
    let kinds: Vec<QueryKind> = decoded.queries.iter().map(|(kind, _)| *kind).collect();
    let ddl = kinds.iter().filter(|kind| **kind == QueryKind::Ddl).count();
    // DROP DATABASE, CREATE DATABASE, 7 CREATE TABLE, one ALTER TABLE, one CREATE TABLE (Aria).
    assert_eq!(ddl, 2 + 7 + 1 + 2, "{:#?}", decoded.queries);
    assert!(
        decoded
            .queries
            .iter()
            .any(|(kind, sql)| *kind == QueryKind::Ddl
                && sql.starts_with("ALTER TABLE ddl_demo ADD COLUMN"))
    );

    // Standalone DDL groups, XID-ended transactions, and the Aria insert ended by COMMIT.
    let ends = &decoded.group_ends;
    assert_eq!(ends.iter().filter(|end| **end == "standalone").count(), ddl);
    assert_eq!(ends.iter().filter(|end| **end == "COMMIT").count(), 1);
    // One transaction per DML statement outside BEGIN/COMMIT (autocommit), one for the explicit
    // transaction: 7 inserts + 4 FULL updates/deletes + 1 + 2 MINIMAL + 1 (ddl_demo).
    assert_eq!(
        ends.iter().filter(|end| **end == "XID").count(),
        7 + 4 + 1 + 2 + 1
    );
}

#[test]
fn the_format_description_checksum_ignores_the_in_use_flag() {
    // A binlog file the server still has open has the "in use" flag set in its FDE, written
    // after the checksum was computed (the server clears it on close, and when it sends the
    // FDE to a replica). Setting it on the real FDE must not break the checksum.
    let bytes = fixture("mariadb-10.11-full.bin");
    let (_, fde) = binlog_file_events(&bytes).unwrap().next().unwrap().unwrap();
    let mut open = fde.to_vec();
    assert_eq!(open[17] & 1, 0, "a closed file's FDE");
    open[17] |= 1;
    let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
    let event = decoder.decode(&open).unwrap();
    let EventData::FormatDescription(format) = event.data else {
        panic!("not an FDE: {event:?}");
    };
    assert_eq!(format.checksum, ChecksumAlgorithm::Crc32);
    assert!(format.server_version.starts_with("10.11."));
    // Any other bit of the flags is covered.
    open[17] |= 2;
    assert!(matches!(
        BinlogDecoder::new(ChecksumAlgorithm::Off).decode(&open),
        Err(DecodeError::ChecksumMismatch { .. })
    ));
}

#[test]
fn a_flipped_bit_anywhere_is_caught_by_the_checksum() {
    let bytes = fixture("mariadb-10.11-full.bin");
    // One byte inside each of a few events (skipping each event's header, whose size field
    // would change the framing rather than the content).
    let events: Vec<(u64, usize)> = binlog_file_events(&bytes)
        .unwrap()
        .map(|item| {
            let (position, event) = item.unwrap();
            (position, event.len())
        })
        .collect();
    for &(position, len) in events.iter().step_by(7) {
        let mut corrupt = bytes.clone();
        let index = position as usize + 19 + (len - 19) / 2;
        corrupt[index] ^= 0x10;
        let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
        let error = binlog_file_events(&corrupt)
            .unwrap()
            .map(|item| decoder.decode(item.unwrap().1))
            .find_map(Result::err)
            .unwrap_or_else(|| panic!("corruption at {index} went unnoticed"));
        assert!(
            matches!(error, DecodeError::ChecksumMismatch { .. }),
            "corruption at {index}: {error}"
        );
    }
}
