//! The translator's per-core rate: protobuf change events of the civil-servant database in,
//! canonical `CivilServant` records (protobuf, with quality flags and headers) out, on one
//! thread. This is the work `lienthong translate` does per record between consuming and
//! producing, so it bounds what one core of the stage can sustain whatever the broker.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::bail;
use lienthong_proto::v1::{
    ChangeEvent, Column, Date, Decimal, Operation, PostgresPosition, Row, SourcePosition, Value,
    source_position, value::Kind,
};
use lienthong_runtime::kafka::{InboundRecord, RecordHeaders};
use lienthong_translate::stage::{Catalog, TranslateConfig, Translation, translate};
use prost::Message as _;

use crate::report::{Report, per_second};

const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi"];
const MIDDLE: [&str; 6] = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thu"];
const GIVEN: [&str; 8] = ["An", "Bình", "Hà", "Hòa", "Long", "Lan", "Tuấn", "Yến"];
/// Province codes valid since 2025-07-01, and a few that are not (flagged, not rejected).
const PROVINCE: [&str; 10] = ["01", "04", "08", "25", "31", "46", "79", "92", "96", "99"];
const CATEGORY: [&str; 5] = ["CB", "CC", "VC", "CCX", "HD"];

fn text(s: impl Into<String>) -> Value {
    Value {
        kind: Some(Kind::TextValue(s.into())),
    }
}

fn int(i: i64) -> Value {
    Value {
        kind: Some(Kind::IntValue(i)),
    }
}

fn date(year: i32, month: i32, day: i32) -> Value {
    Value {
        kind: Some(Kind::DateValue(Date { year, month, day })),
    }
}

fn column(name: &str, value: Value) -> Column {
    Column {
        name: name.into(),
        value: Some(value),
        source_type: String::new(),
    }
}

/// The `i`-th row of the civil-servant table, varied enough that code-list lookups, name
/// handling and ID checks do real work (some IDs disagree with the birth year or province, some
/// province codes are not in the list; every record carries at least the sharing-policy finding
/// for its sensitive fields).
fn row(i: i64) -> Row {
    let n = i as usize;
    let year = 1960 + (i % 45) as i32;
    let sex = 1 + i % 2;
    let province = PROVINCE[n % PROVINCE.len()];
    // Century/sex digit of the personal ID: 0/1 for 1900s men/women, 2/3 for 2000s.
    let century_sex = if year >= 2000 { 2 } else { 0 } + (sex - 1);
    let pin = format!(
        "0{province}{century_sex}{:02}{:06}",
        year % 100,
        i % 1_000_000
    );
    let name = format!(
        "{} {} {}",
        FAMILY[n % FAMILY.len()],
        MIDDLE[(n / 8) % MIDDLE.len()],
        GIVEN[(n / 48) % GIVEN.len()]
    );
    Row {
        columns: vec![
            column("id", int(i)),
            column("so_dinh_danh", text(pin)),
            column("ho_ten", text(name)),
            column(
                "ngay_sinh",
                date(year, 1 + (i % 12) as i32, 1 + (i % 28) as i32),
            ),
            column("gioi_tinh", int(sex)),
            column("ma_dan_toc", text(format!("{:02}", 1 + i % 54))),
            column("ma_ton_giao", text("00")),
            column("noi_sinh_ma_tinh", text(province)),
            column("que_quan_ma_tinh", text(province)),
            column("que_quan_ma_xa", text("04792")),
            column("que_quan_chi_tiet", text("Thôn Đông, khu 3")),
            column("dien_thoai", text("0912345678")),
            column("email", text(format!("cb{i}@moha.gov.vn"))),
            column("loai_can_bo", text(CATEGORY[n % CATEGORY.len()])),
            column("trang_thai", int(1 + i % 7)),
            column("don_vi_id", int(17 + i % 300)),
            column("ten_don_vi", text("Vụ Tổ chức - Biên chế")),
            column("ma_chuc_vu", text("CV")),
            column("ten_chuc_vu", text("Chuyên viên")),
            column("ma_ngach", text("01.003")),
            column("ten_ngach", text("Chuyên viên")),
            column("bac_luong", int(1 + i % 9)),
            column(
                "he_so_luong",
                Value {
                    kind: Some(Kind::DecimalValue(Decimal {
                        value: format!("{}.{:02}", 2 + i % 6, i % 100),
                    })),
                },
            ),
            column(
                "he_so_phu_cap_cv",
                Value {
                    kind: Some(Kind::Null(true)),
                },
            ),
            column("ngay_tuyen_dung", date(2010 + (i % 14) as i32, 9, 1)),
            column("ngay_bo_nhiem_ngach", date(2015 + (i % 9) as i32, 1, 1)),
            column(
                "ngay_vao_dang",
                Value {
                    kind: Some(Kind::Null(true)),
                },
            ),
            column(
                "cap_nhat_luc",
                Value {
                    kind: Some(Kind::TimestampValue(prost_types::Timestamp {
                        seconds: 1_753_000_000 + i,
                        nanos: 0,
                    })),
                },
            ),
        ],
    }
}

fn inbound(i: i64, committed: SystemTime) -> InboundRecord {
    let after = row(i);
    let key = after.columns[..1].to_vec();
    let commit_time = prost_types::Timestamp::from(committed);
    let lsn = 0x1000_0000 + i as u64 * 64;
    let position = SourcePosition {
        kind: Some(source_position::Kind::Postgres(PostgresPosition {
            commit_lsn: lsn,
            lsn,
            sequence: 0,
            xid: 0,
        })),
    };
    let event = ChangeEvent {
        source_id: "csdl-cbcc".into(),
        database: "csdl_cbccvc".into(),
        schema: "public".into(),
        table: "ho_so_can_bo".into(),
        op: Operation::Update as i32,
        before: None,
        after: Some(after),
        key,
        transaction_id: i.to_string(),
        position: Some(position),
        commit_time: Some(commit_time),
        capture_time: Some(commit_time),
        schema_version: 1,
        table_schema: Vec::new(),
        last_in_transaction: true,
    };
    InboundRecord {
        topic: "cdc.csdl-cbcc.public.ho_so_can_bo".into(),
        partition: 0,
        offset: i,
        key: Some(format!("id={i}").into_bytes()),
        payload: Some(event.encode_to_vec()),
        headers: RecordHeaders::with_idempotency_key(format!("csdl-cbcc:{lsn:X}"))
            .source_position(format!("pg:{lsn:X}")),
        timestamp_ms: None,
    }
}

/// Runs the benchmark: `records` distinct change events, translated three times over on one
/// thread; the best pass is reported (the first warms caches and the allocator).
pub fn run(schemas: &Path, records: i64, report: &mut Report) -> anyhow::Result<()> {
    let config = TranslateConfig {
        mappings: schemas.join("mappings"),
        codelists: schemas.join("codelists"),
        ..TranslateConfig::default()
    };
    let catalog = Catalog::load(&config).map_err(|e| anyhow::anyhow!("{}", e.0))?;
    // 2025-08-01 10:00 in Vietnam; the rows changed a few days before.
    let now = UNIX_EPOCH + Duration::from_secs(1_754_017_200);
    let committed = now - Duration::from_secs(3 * 86_400);
    let input: Vec<InboundRecord> = (1..=records).map(|i| inbound(i, committed)).collect();
    let bytes_in: usize = input
        .iter()
        .map(|r| r.payload.as_ref().map_or(0, Vec::len))
        .sum();

    let mut best = Duration::MAX;
    let mut bytes_out = 0usize;
    let mut flagged = 0usize;
    for _ in 0..3 {
        let started = Instant::now();
        let mut out = 0usize;
        let mut with_flags = 0usize;
        for record in &input {
            match translate(&catalog, record, now) {
                Translation::Publish(outputs, quality) => {
                    out += outputs
                        .iter()
                        .map(|o| o.payload.as_ref().map_or(0, Vec::len))
                        .sum::<usize>();
                    if quality.is_some_and(|q| !q.flags.is_empty()) {
                        with_flags += 1;
                    }
                }
                Translation::Reject(r) => {
                    bail!(
                        "record {} rejected: {}: {}",
                        record.offset,
                        r.kind,
                        r.reason
                    )
                }
            }
        }
        best = best.min(started.elapsed());
        bytes_out = out;
        flagged = with_flags;
    }
    let seconds = best.as_secs_f64();
    let n = records as f64;
    report.section(
        "Translator (per core)",
        &format!(
            "{records} distinct change events of the civil-servant table (`cdc.csdl-cbcc.public.ho_so_can_bo`, 28 columns, mapping `schemas/mappings/csdl-cbcc/ho_so_can_bo.toml`) are translated on one thread by the stage's own function: decode the protobuf `ChangeEvent`, apply the mapping (names, dates, code lists across the 2025 merger, personal-ID checks, the six quality criteria), encode the protobuf `CivilServant` and its headers. Best of three passes; no broker involved, so this is what one core of `lienthong translate` can sustain.",
        ),
        vec![
            [
                "records translated per second, one core".into(),
                per_second(n, seconds),
                format!("{seconds:.2} s for {records} records; target ≥ 200,000/s per core"),
            ],
            [
                "mean time per record".into(),
                format!("{:.2} µs", seconds * 1e6 / n),
                String::new(),
            ],
            [
                "bytes in / out per record".into(),
                format!(
                    "{} / {}",
                    bytes_in / records as usize,
                    bytes_out / records as usize
                ),
                "protobuf ChangeEvent in, protobuf CivilServant out".into(),
            ],
            [
                "records with quality findings".into(),
                format!("{:.1}%", 100.0 * flagged as f64 / n),
                "they flow, flagged".into(),
            ],
        ],
    );
    println!(
        "translate: {} ({} records in {seconds:.2} s)",
        per_second(n, seconds),
        records
    );
    Ok(())
}

/// `schemas/` of the repository the benchmark runs in.
pub fn schemas_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::current_dir()?.join("schemas");
    if !dir.join("mappings").is_dir() {
        bail!(
            "{} has no mappings: run the benchmark from the repository root",
            dir.display()
        );
    }
    Ok(dir)
}
