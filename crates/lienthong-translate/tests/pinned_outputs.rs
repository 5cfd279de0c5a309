//! The stage's translation pinned byte for byte: a few thousand change events of the shipped
//! mappings — realistic rows of each source table, with columns swapped for odd, legacy, missing
//! or arbitrary values, under every operation, with and without a key, a position, a commit
//! time or a full row — go through [`translate`], and a fingerprint of everything it gives
//! (topics, keys, payload bytes, headers, quality findings, dead-letter kind and reason) is
//! compared with `tests/pinned_outputs.txt`.
//!
//! The file was written before the translator was reworked for speed, so the rework is shown to
//! change no output. A deliberate change of the output contract rewrites it:
//! `LIENTHONG_BLESS=1 cargo test -p lienthong-translate --test pinned_outputs`, and the diff of
//! the file then shows how many records the change touches. On a mismatch the test prints the
//! first differing event's translation in full.

#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{
    BinlogPosition, ChangeEvent, Column, PollCursor, Row, SnapshotPosition, SourcePosition, Value,
    source_position,
};
use lienthong_runtime::kafka::{InboundRecord, RecordHeaders};
use lienthong_translate::sample::{arbitrary_row, change_event, row_from_json};
use lienthong_translate::stage::{Catalog, TranslateConfig, Translation, translate};
use prost::Message as _;
use serde_json::{Value as Json, json};

/// Events per shipped mapping.
const EVENTS: u64 = 900;

/// 2025-08-01 10:00 in Vietnam: after the province merger of 2025-07-01.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_754_017_200)
}

fn catalog() -> Catalog {
    let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    Catalog::load(&TranslateConfig {
        mappings: schemas.join("mappings"),
        codelists: schemas.join("codelists"),
        ..TranslateConfig::default()
    })
    .unwrap()
}

/// SplitMix64: the same sequence on every machine.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const FAMILY: [&str; 10] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Huỳnh", "Võ",
];
const MIDDLE: [&str; 7] = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", ""];
const GIVEN: [&str; 10] = [
    "An", "Bình", "Hà", "Hòa", "Hoà", "Long", "Lan", "Tuấn", "Yến", "Đức",
];

/// A row of the civil-servant table as the source writes it.
fn cbcc_row(i: u64, dice: &mut Dice) -> Json {
    let year = 1955 + dice.below(55) as i64;
    let sex = 1 + dice.below(2) as i64;
    let province = *dice.pick(&[
        "01", "04", "08", "25", "31", "46", "79", "92", "96", "99", "02",
    ]);
    let century_sex = if year >= 2000 { 2 } else { 0 } + (sex - 1);
    let pin = format!(
        "0{province}{century_sex}{:02}{:06}",
        year % 100,
        i % 1_000_000
    );
    let middle = *dice.pick(&MIDDLE);
    let name = if middle.is_empty() {
        format!("{} {}", dice.pick(&FAMILY), dice.pick(&GIVEN))
    } else {
        format!("{} {middle} {}", dice.pick(&FAMILY), dice.pick(&GIVEN))
    };
    json!({
        "id": i,
        "so_dinh_danh": pin,
        "ho_ten": name,
        "ngay_sinh": {"date": format!("{year}-{:02}-{:02}", 1 + dice.below(12), 1 + dice.below(28))},
        "gioi_tinh": sex,
        "ma_dan_toc": format!("{:02}", 1 + dice.below(56)),
        "ma_ton_giao": dice.pick(&["00", "01", "02", "13", "99"]),
        "noi_sinh_ma_tinh": province,
        "que_quan_ma_tinh": dice.pick(&["01", "25", "79", "33", "46"]),
        "que_quan_ma_xa": dice.pick(&["04792", "07870", "00004", "26734", "99999"]),
        "que_quan_chi_tiet": dice.pick(&["Thôn Đông, khu 3", "Số 5 ngõ 12", "Xóm  Mới "]),
        "dien_thoai": dice.pick(&["0912345678", "091 234.5678", "+84912345678", "12345"]),
        "email": format!("cb{i}@moha.gov.vn"),
        "loai_can_bo": dice.pick(&["CB", "CC", "VC", "CCX", "HD"]),
        "trang_thai": 1 + dice.below(7),
        "don_vi_id": 17 + dice.below(300),
        "ten_don_vi": "Vụ Tổ chức - Biên chế",
        "ma_chuc_vu": dice.pick(&["CV", "PV", "VT"]),
        "ten_chuc_vu": dice.pick(&["Chuyên viên", "Phó Vụ trưởng", "Vụ trưởng"]),
        "ma_ngach": dice.pick(&["01.003", "01.002", "01.001", "13.095"]),
        "ten_ngach": "Chuyên viên",
        "bac_luong": 1 + dice.below(9),
        "he_so_luong": {"decimal": format!("{}.{:02}", 2 + dice.below(6), dice.below(100))},
        "he_so_phu_cap_cv": if dice.one_in(3) { json!({"decimal": "0.70"}) } else { Json::Null },
        "ngay_tuyen_dung": {"date": format!("{}-09-01", 2000 + dice.below(26))},
        "ngay_bo_nhiem_ngach": {"date": format!("{}-01-01", 2010 + dice.below(16))},
        "ngay_vao_dang": if dice.one_in(2) { json!({"date": "2012-05-19"}) } else { Json::Null },
        "cap_nhat_luc": {"timestamp": 1_700_000_000 + dice.below(60_000_000) as i64},
    })
}

/// A row of the social-security participation table.
fn bhxh_row(i: u64, dice: &mut Dice) -> Json {
    json!({
        "ID": i,
        "MA_SO_BHXH": dice.pick(&["0123456789", "012345678", "01234567AB"]),
        "SO_CCCD": dice.pick(&["001185012345", "079301000123", "12345"]),
        "SO_CMND": dice.pick(&["011234567", "", "0112345678"]),
        "HO_TEN": dice.pick(&["LÊ THỊ HOÀ", "nguyễn văn an", "Trần  Thu Hà", "Phạm Văn Đức"]),
        "NGAY_SINH": dice.pick(&["00/03/1985", "12/03/1985", "1985", "31/02/1985", "2030"]),
        "GIOI_TINH": dice.below(3),
        "MA_DAN_TOC": format!("{:02}", 1 + dice.below(56)),
        "MA_TINH_KS": dice.pick(&["001", "079", "999"]),
        "MA_TINH": dice.pick(&["27", "01", "99", "34"]),
        "DIA_CHI": dice.pick(&["Số 5 ngõ 12, Từ Sơn", "Thôn  Đông"]),
        "DIEN_THOAI": dice.pick(&["0987654321", "098-765-4321", "abc"]),
        "LOAI_BH": dice.pick(&["bb", "tn", "BB", "xx"]),
        "MA_DON_VI": "TA1234",
        "TEN_DON_VI": "Công ty TNHH Minh Phát",
        "MUC_LUONG": {"decimal": dice.pick(&["8500000", "0", "-5"])},
        "TU_THANG": dice.pick(&["01/2020", "01/2020", "03/2021", "06/2015", "13/2020", "2020"]),
        "DEN_THANG": dice.pick(&["", "12/2019", "06/2024"]),
        "NGAY_CAP_NHAT": {"datetime": dice.pick(&["2025-07-30 09:15:00", "2019-01-01 00:00:00"])},
    })
}

/// A row of the legacy personnel table: TCVN3 or VNI text, names instead of codes.
fn legacy_row(i: u64, dice: &mut Dice) -> Json {
    let tcvn3 = dice.one_in(2);
    let pick = |dice: &mut Dice, t: &[&str], v: &[&str]| {
        if tcvn3 {
            (*dice.pick(t)).to_owned()
        } else {
            (*dice.pick(v)).to_owned()
        }
    };
    json!({
        "MACB": i,
        "HOTEN": pick(dice, &["TrÇn ThÞ Thu Hµ", "NguyÔn V¨n An", "Lª V¨n B×nh"], &["Nguyeãn Vaên Ñöùc", "Traàn Thò Lan"]),
        "NGAYSINH": dice.pick(&["00/00/1968", "15/3/1990", "1/9/1975", "1968", "32/1/1990"]),
        "PHAI": pick(dice, &["N÷", "Nam"], &["Nöõ", "Nam"]),
        "SOCMND": dice.pick(&["012345678", "001090012345", "12"]),
        "NOISINH": pick(dice, &["Th¸i B×nh", "Hµ Néi", "Kh«ng râ"], &["Haø Noäi", "Quaûng Nam"]),
        "QUEQUAN": pick(dice, &["Thõa Thiªn HuÕ", "NghÖ An"], &["Quaûng Nam", "Haø Noäi"]),
        "DANTOC": pick(dice, &["Kinh", "Tµy", "M\u{AD}êng"], &["Taøy", "Kinh"]),
        "DONVI": pick(dice, &["Së Néi vô"], &["Sôû Noäi vuï"]),
        "HESOLUONG": dice.pick(&["4,98", "3,66", "5.000,5", "abc"]),
        "NGAYVAOCQ": dice.pick(&["1/9/1990", "00/00/2015", "2015"]),
        "TINHTRANG": dice.pick(&["L", "l", "N", "X"]),
        "NGAYSUA": {"datetime": dice.pick(&["2024-05-02 10:00:00", "2025-07-31 16:20:00"])},
    })
}

/// Values any column may be swapped for.
fn odd_value(dice: &mut Dice) -> Json {
    let texts = [
        "",
        "   ",
        " 01 ",
        "nguyễn  văn   AN",
        "NGUYỄN VĂN AN",
        "Nguyễn Văn An2",
        "Hoà",
        "Ho\u{0300}a",
        "TrÇn ThÞ",
        "Nguyeãn",
        "a\u{200B}b",
        "x\u{FFFD}y",
        "31/02/2020",
        "00/00/1968",
        "4,98",
        "-0.5",
        "99",
        "34",
        "Kinh",
        "null",
        "0912 345 678",
        "an@",
    ];
    match dice.below(10) {
        0 => Json::Null,
        1 => json!(dice.below(100) as i64 - 10),
        2 => json!({"decimal": dice.pick(&["0.00", "-1.5", "12.345", "7"])}),
        3 => json!({"date": dice.pick(&["2030-01-01", "1850-06-15", "2000-02-29"])}),
        4 => json!({"timestamp": dice.pick(&[0i64, 1_754_017_200, 1_900_000_000])}),
        5 => json!({"datetime": "2025-07-01 00:00:00"}),
        6 => json!([dice.pick(&texts), 3]),
        7 => json!({"latin1": "4ea7e9"}),
        _ => json!(dice.pick(&texts)),
    }
}

/// The row with some columns changed, dropped, or sent as unchanged.
fn mutate(row: &Json, columns: &[&str], dice: &mut Dice) -> Row {
    let mut row = row.clone();
    let object = row.as_object_mut().unwrap();
    let changes = match dice.below(4) {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 1 + dice.below(6),
    };
    for _ in 0..changes {
        let column = (*dice.pick(columns)).to_owned();
        object.insert(column, odd_value(dice));
    }
    let mut row = row_from_json(&row).unwrap();
    if dice.one_in(12) {
        // An arbitrary value, as the fuzz target makes them.
        let column = *dice.pick(columns);
        let data = dice.bytes(24);
        if let Some(value) = arbitrary_row(&[column], &data).columns.pop() {
            for c in row.columns.iter_mut().filter(|c| c.name == column) {
                c.value.clone_from(&value.value);
            }
        }
    }
    if dice.one_in(10) {
        let at = dice.below(row.columns.len());
        row.columns[at].value = Some(Value {
            kind: Some(Kind::Unchanged(true)),
        });
    }
    if dice.one_in(25) {
        let at = dice.below(row.columns.len());
        row.columns.remove(at);
    }
    if dice.one_in(8) {
        // Another column order than the table's.
        row.columns.reverse();
    }
    row
}

fn event(catalog: &Catalog, n: u64, dice: &mut Dice) -> ChangeEvent {
    let mappings: Vec<_> = catalog.mappings.iter().collect();
    let mapping = mappings[(n % mappings.len() as u64) as usize];
    let i = 1 + n / mappings.len() as u64;
    let (base, key) = match mapping.source().id.as_str() {
        "csdl-cbcc" => (cbcc_row(i, dice), "id"),
        "bhxh" => (bhxh_row(i, dice), "ID"),
        "legacy-qlcb" => (legacy_row(i, dice), "MACB"),
        other => panic!("no sample rows for mapping source {other}: add them"),
    };
    let columns: Vec<String> = base.as_object().unwrap().keys().cloned().collect();
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let row = mutate(&base, &columns, dice);
    let operations = [
        lienthong_proto::v1::Operation::Update,
        lienthong_proto::v1::Operation::Update,
        lienthong_proto::v1::Operation::Update,
        lienthong_proto::v1::Operation::Insert,
        lienthong_proto::v1::Operation::Read,
        lienthong_proto::v1::Operation::Delete,
    ];
    let operation = *dice.pick(&operations);
    let committed = now() - Duration::from_secs(dice.below(6 * 86_400) as u64);
    let keys: &[&str] = if dice.one_in(40) { &[] } else { &[key] };
    let mut event = change_event(mapping, operation, row.clone(), keys, committed, i * 64);
    match dice.below(80) {
        0 => event.position = None,
        1 => {
            event.position = Some(SourcePosition {
                kind: Some(source_position::Kind::Binlog(BinlogPosition {
                    gtid: "0-1-42".into(),
                    file: "mysql-bin.000003".into(),
                    offset: i,
                    row_index: 2,
                    server_id: 1,
                })),
            });
        }
        2 => {
            event.position = Some(SourcePosition {
                kind: Some(source_position::Kind::Poll(PollCursor {
                    cursor: vec![
                        Value {
                            kind: Some(Kind::IntValue(i as i64)),
                        },
                        Value {
                            kind: Some(Kind::TextValue("2025-07-01".into())),
                        },
                    ],
                    poll_sequence: 9,
                })),
            });
        }
        3 => {
            event.position = Some(SourcePosition {
                kind: Some(source_position::Kind::Snapshot(Box::new(
                    SnapshotPosition {
                        snapshot_id: "s1".into(),
                        chunk: 3,
                        row_index: i,
                        consistent_with: None,
                    },
                ))),
            });
        }
        4 => event.commit_time = None,
        5 => {
            event.commit_time = None;
            event.capture_time = None;
        }
        6 => {
            event.commit_time = Some(prost_types::Timestamp::from(
                now() + Duration::from_secs(3_600),
            ))
        }
        7 => event.op = 6,
        8 => event.op = 0,
        9 => event.op = 42,
        10 => {
            // An update with the row before it, which has what `Unchanged` columns lack.
            event.before = Some(row);
        }
        11 => event.table = "no_such_table".into(),
        12 => {
            if let Some(after) = &mut event.after {
                after.columns.push(Column {
                    name: "extra".into(),
                    value: None,
                    source_type: "text".into(),
                });
            }
        }
        _ => {}
    }
    event
}

fn inbound(n: u64, payload: Option<Vec<u8>>, dice: &mut Dice) -> InboundRecord {
    let mut headers = RecordHeaders::with_idempotency_key(format!("src:{n:X}"))
        .source_position(format!("pg:{n:X}"));
    if dice.one_in(3) {
        headers.traceparent =
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
        headers.tracestate = Some("lt=1".to_owned());
    }
    InboundRecord {
        topic: "cdc.x".into(),
        partition: 0,
        offset: n as i64,
        key: Some(n.to_string().into_bytes()),
        payload,
        headers,
        timestamp_ms: None,
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases.
fn fnv(bytes: &[u8], hash: &mut u64) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
}

fn field(hash: &mut u64, bytes: &[u8]) {
    fnv(&(bytes.len() as u64).to_le_bytes(), hash);
    fnv(bytes, hash);
}

fn optional(hash: &mut u64, text: Option<&str>) {
    match text {
        None => fnv(&[0], hash),
        Some(t) => {
            fnv(&[1], hash);
            field(hash, t.as_bytes());
        }
    }
}

/// Everything a translation gives, folded into 64 bits.
fn fingerprint(translation: &Translation) -> u64 {
    let mut hash = 0xCBF2_9CE4_8422_2325;
    match translation {
        Translation::Publish(outputs, quality) => {
            fnv(b"P", &mut hash);
            for output in outputs {
                field(&mut hash, output.topic.as_bytes());
                field(&mut hash, output.key.as_bytes());
                match &output.payload {
                    None => fnv(b"tombstone", &mut hash),
                    Some(payload) => field(&mut hash, payload),
                }
                field(&mut hash, output.kind.as_str().as_bytes());
                let h = &output.headers;
                for text in [
                    &h.idempotency_key,
                    &h.source_position,
                    &h.schema_version,
                    &h.content_type,
                    &h.traceparent,
                    &h.tracestate,
                ] {
                    optional(&mut hash, text.as_deref());
                }
                for (name, value) in &h.other {
                    field(&mut hash, name.as_bytes());
                    field(&mut hash, value);
                }
            }
            match quality {
                None => fnv(b"no quality", &mut hash),
                Some(q) => field(&mut hash, &q.encode_to_vec()),
            }
        }
        Translation::Reject(why) => {
            fnv(b"R", &mut hash);
            field(&mut hash, why.kind.as_bytes());
            field(&mut hash, why.reason.as_bytes());
            fnv(&why.attempts.to_le_bytes(), &mut hash);
        }
    }
    hash
}

fn pinned_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pinned_outputs.txt")
}

/// The input events, in order, with the counts of each kind of outcome for the summary line.
fn translations(catalog: &Catalog) -> Vec<(InboundRecord, Translation)> {
    let mut dice = Dice(0x6C69_656E_7468_6F6E);
    let total = EVENTS * catalog.mappings.len() as u64;
    let mut out = Vec::with_capacity(total as usize + 3);
    for n in 0..total {
        let event = event(catalog, n, &mut dice);
        let mut bytes = event.encode_to_vec();
        if dice.one_in(40) {
            // Garbage, or an event the in-place reader leaves to prost (fields out of order).
            if dice.one_in(2) {
                bytes.truncate(bytes.len() / 2);
            } else {
                let mut reordered = Vec::new();
                let mut tail = event.clone();
                tail.source_id.clear();
                tail.encode(&mut reordered).unwrap();
                let head = ChangeEvent {
                    source_id: event.source_id.clone(),
                    ..ChangeEvent::default()
                };
                head.encode(&mut reordered).unwrap();
                bytes = reordered;
            }
        }
        let record = inbound(n, Some(bytes), &mut dice);
        let translation = translate(catalog, &record, now());
        out.push((record, translation));
    }
    let tombstone = inbound(total, None, &mut dice);
    let translation = translate(catalog, &tombstone, now());
    out.push((tombstone, translation));
    out
}

#[test]
fn translations_are_pinned() {
    let catalog = catalog();
    let results = translations(&catalog);
    let mut published = 0;
    let mut rejected = 0;
    let mut flags = 0;
    let mut text = String::new();
    for (n, (_, translation)) in results.iter().enumerate() {
        match translation {
            Translation::Publish(_, quality) => {
                published += 1;
                flags += quality.as_ref().map_or(0, |q| q.flags.len());
            }
            Translation::Reject(_) => rejected += 1,
        }
        writeln!(text, "{n} {:016x}", fingerprint(translation)).unwrap();
    }
    // The mix is wide enough to mean something: most events translate, with findings, and
    // every kind of rejection the mix can cause does happen.
    assert!(published > results.len() * 3 / 4, "{published} published");
    assert!(rejected > results.len() / 50, "{rejected} rejected");
    assert!(flags > published * 3, "{flags} flags");

    let path = pinned_file();
    if std::env::var_os("LIENTHONG_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let pinned = std::fs::read_to_string(&path).unwrap();
    if pinned == text {
        return;
    }
    let differing: Vec<usize> = pinned
        .lines()
        .zip(text.lines())
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(n, _)| n)
        .collect();
    let first = differing.first().copied().unwrap_or(0);
    panic!(
        "{} of {} translations differ from {} (and {} vs {} lines); the first, event {first}:\n\
         input payload {:?}\nnow gives {:#?}",
        differing.len(),
        results.len(),
        path.display(),
        pinned.lines().count(),
        text.lines().count(),
        results.get(first).map(|(r, _)| r.payload.as_deref()),
        results.get(first).map(|(_, t)| t),
    );
}
