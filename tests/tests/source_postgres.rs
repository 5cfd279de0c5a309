//! The PostgreSQL connector as a real process against the local stack's PostgreSQL and broker:
//! snapshot + streaming over many types, kill -9 during snapshot and streaming, a transaction
//! larger than the memory bound, a schema change mid-stream, masking, and clear errors.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lienthong_proto::v1::{ChangeEvent, Operation, value};
use lienthong_tests::events::{column, ids_cover, int_key};
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::process::Service;
use lienthong_tests::topics::{TopicReader, event_count};
use lienthong_tests::{lienthong, stack, text};

struct Setup {
    db: TestDatabase,
    slot: String,
    source: String,
    dir: tempfile::TempDir,
    config: String,
}

async fn setup(prefix: &str, tables: &str, extra: &str) -> Setup {
    setup_on(&stack::broker(), prefix, tables, extra).await
}

/// `extra` is appended to the source's section; `SOURCE` in it stands for the source id (for
/// sub-tables such as `[source_postgres.SOURCE.snapshot]`).
async fn setup_on(broker: &str, prefix: &str, tables: &str, extra: &str) -> Setup {
    let db = TestDatabase::create(&format!("lt_{prefix}")).await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let slot = format!("lt_test_{tag}");
    let source = format!("t{tag}");
    let dir = tempfile::tempdir().unwrap();
    let extra = extra.replace("SOURCE", &source);
    let config = format!(
        r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
message_timeout_ms = 10000
[kafka.topics.default]
partitions = 1
replication_factor = 1
[retry]
initial_delay_ms = 200
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[databases.src]
url = "{url}"
[source_postgres.{source}]
database = "src"
slot = "{slot}"
publication = "lt_pub_{tag}"
tables = [{tables}]
heartbeat_interval_ms = 1000
status_interval_ms = 300
spill_dir = "{spill}"
{extra}
"#,
        url = db.url,
        spill = dir.path().join("spill").display(),
    );
    let path = dir.path().join("lienthong.toml");
    std::fs::write(&path, &config).unwrap();
    Setup {
        db,
        slot,
        source,
        config: path.display().to_string(),
        dir,
    }
}

impl Setup {
    fn topic(&self, table: &str) -> String {
        format!("cdc.{}.public.{table}", self.source)
    }

    fn start(&self) -> Service {
        Service::start(
            &["source-postgres", "--config", &self.config],
            &self.dir.path().join("connector.log"),
        )
    }

    async fn finish(self) {
        self.db.drop_with_slot(&self.slot).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_then_stream_with_typed_values() {
    let s = setup("types", "\"public.ho_so\"", "").await;
    s.db.exec(
        "CREATE TABLE ho_so (
            id int8 PRIMARY KEY, ho_ten text NOT NULL, he_so numeric(5,2), ngay_sinh date,
            cap_nhat timestamptz, dang_vien bool, ma uuid, thong_tin jsonb, anh bytea,
            ky_nang text[], ghi_chu varchar(50)
         );
         INSERT INTO ho_so VALUES
           (1, 'Nguyễn Văn An', 4.98, '1975-04-30', '2025-07-01 08:00:00+07', true,
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"don_vi\": \"Bộ Nội vụ\"}', '\\x00ff', ARRAY['Tiếng Anh','Tin học'], NULL),
           (2, 'Trần Thị Bình', 2.34, '1990-02-28', NULL, false, NULL, NULL, NULL, NULL, 'ghi chú');",
    )
    .await;
    let mut connector = s.start();
    let mut reader = TopicReader::new(&s.topic("ho_so")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 2)
        .await;
    let events = reader.events();
    assert!(
        events.iter().all(|e| e.op == Operation::Read as i32),
        "{events:?}"
    );
    let first = events.iter().find(|e| int_key(e) == 1).unwrap();
    let row = first.after.as_ref().unwrap();
    assert_eq!(
        column(row, "ho_ten"),
        &value::Kind::TextValue("Nguyễn Văn An".into())
    );
    assert_eq!(
        column(row, "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "4.98".into()
        })
    );
    assert!(
        matches!(column(row, "ngay_sinh"), value::Kind::DateValue(d) if (d.year, d.month, d.day) == (1975, 4, 30))
    );
    // 08:00 at +07 is 01:00 UTC.
    assert!(
        matches!(column(row, "cap_nhat"), value::Kind::TimestampValue(t) if t.seconds == 1_751_331_600)
    );
    assert_eq!(column(row, "dang_vien"), &value::Kind::BoolValue(true));
    assert_eq!(
        column(row, "ma"),
        &value::Kind::UuidValue("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())
    );
    assert!(
        matches!(column(row, "thong_tin"), value::Kind::JsonValue(j) if j.contains("Bộ Nội vụ"))
    );
    assert_eq!(
        column(row, "anh"),
        &value::Kind::BytesValue(vec![0x00, 0xff])
    );
    assert!(matches!(column(row, "ky_nang"), value::Kind::ArrayValue(a) if a.values.len() == 2));
    assert_eq!(column(row, "ghi_chu"), &value::Kind::Null(true));
    assert_eq!(first.schema_version, 1);
    assert!(
        first
            .table_schema
            .iter()
            .any(|c| c.name == "id" && c.primary_key_ordinal == 1)
    );

    // Streaming after the snapshot.
    s.db.exec(
        "INSERT INTO ho_so (id, ho_ten, he_so) VALUES (3, 'Lê Văn Cường', 3.00);
         UPDATE ho_so SET he_so = 5.08 WHERE id = 1;
         DELETE FROM ho_so WHERE id = 2;",
    )
    .await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 5)
        .await;
    let events = reader.events();
    let streamed: Vec<&ChangeEvent> = events
        .iter()
        .filter(|e| e.op != Operation::Read as i32)
        .collect();
    assert_eq!(streamed.len(), 3, "{streamed:?}");
    assert_eq!(streamed[0].op, Operation::Insert as i32);
    assert_eq!(int_key(streamed[0]), 3);
    assert_eq!(streamed[1].op, Operation::Update as i32);
    assert_eq!(
        column(streamed[1].after.as_ref().unwrap(), "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "5.08".into()
        })
    );
    assert_eq!(streamed[2].op, Operation::Delete as i32);
    assert_eq!(int_key(streamed[2]), 2);
    // The three statements ran as one transaction (one simple-query batch).
    assert!(
        streamed
            .iter()
            .all(|e| e.transaction_id == streamed[0].transaction_id)
    );
    let last: Vec<bool> = streamed.iter().map(|e| e.last_in_transaction).collect();
    assert_eq!(last, [false, false, true]);
    // The delete is followed by a tombstone with the same key.
    let delete_index = reader
        .records
        .iter()
        .position(|r| {
            r.headers
                .idempotency_key
                .as_deref()
                .is_some_and(|k| !k.contains("snapshot"))
                && {
                    r.payload.as_ref().is_some_and(|p| {
                        <ChangeEvent as prost::Message>::decode(p.as_slice())
                            .unwrap()
                            .op
                            == Operation::Delete as i32
                    })
                }
        })
        .unwrap();
    reader
        .read_until(Duration::from_secs(30), |r| r.len() > delete_index + 1)
        .await;
    let tombstone = &reader.records[delete_index + 1];
    assert_eq!(tombstone.payload, None);
    assert_eq!(tombstone.key, reader.records[delete_index].key);
    for r in &reader.records {
        assert!(r.headers.idempotency_key.is_some());
        assert!(r.headers.source_position.is_some());
    }

    // A large value stored out of line (TOAST) that an UPDATE does not touch is not sent by
    // PostgreSQL: the event says "unchanged", which is not NULL.
    s.db.exec(
        "ALTER TABLE ho_so ALTER COLUMN ho_ten SET STORAGE EXTERNAL;
         UPDATE ho_so SET ho_ten = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g) WHERE id = 3;",
    )
    .await;
    s.db.exec("UPDATE ho_so SET he_so = 1.00 WHERE id = 3")
        .await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 7)
        .await;
    let events = reader.events();
    let last = events.last().unwrap();
    assert_eq!(last.op, Operation::Update as i32);
    let after = last.after.as_ref().unwrap();
    assert_eq!(column(after, "ho_ten"), &value::Kind::Unchanged(true));
    assert_eq!(column(after, "ghi_chu"), &value::Kind::Null(true));
    assert_eq!(
        column(after, "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "1.00".into()
        })
    );

    assert!(
        connector.terminate().is_some_and(|s| s.success()),
        "{}",
        connector.log()
    );
    s.finish().await;
}

/// Writes `n` rows in transactions of `per_tx`, ids from `start`.
async fn write_rows(db: &TestDatabase, start: i64, n: i64, per_tx: i64) {
    let mut conn = db.connect().await;
    let mut id = start;
    while id < start + n {
        let end = (id + per_tx).min(start + n);
        sqlx::query("INSERT INTO nhat_ky (id, noi_dung) SELECT g, 'dòng ' || g FROM generate_series($1::int8, $2::int8 - 1) g")
            .bind(id)
            .bind(end)
            .execute(&mut conn)
            .await
            .unwrap();
        id = end;
    }
}

fn assert_every_id_once_or_more(events: &[ChangeEvent], ids: std::ops::Range<i64>) {
    let mut seen = BTreeMap::new();
    for e in events {
        let row = e.after.as_ref().unwrap();
        let id = int_key(e);
        let content = column(row, "noi_dung").clone();
        assert_eq!(
            content,
            value::Kind::TextValue(format!("dòng {id}")),
            "content of {id}"
        );
        *seen.entry(id).or_insert(0) += 1;
    }
    let missing: Vec<i64> = ids
        .clone()
        .filter(|i| !seen.contains_key(i))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "missing ids (first 10): {missing:?}");
    assert_eq!(seen.len(), ids.count());
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_streaming_loses_nothing() {
    let s = setup("kill", "\"public.nhat_ky\"", "").await;
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    let total = 3_000;
    let writer = {
        let url = s.db.url.clone();
        let name = s.db.name.clone();
        tokio::spawn(async move {
            let db = TestDatabase { name, url };
            write_rows(&db, 0, total, 7).await;
        })
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300 + rand::random::<u64>() % 700)).await;
        connector.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        connector.restart();
    }
    writer.await.unwrap();
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    let want: BTreeSet<i64> = (0..total).collect();
    reader
        .read_until(Duration::from_secs(120), ids_cover(want))
        .await;
    let events = reader.events();
    assert_every_id_once_or_more(&events, 0..total);
    // Duplicates are true duplicates: same idempotency key, same position.
    let mut by_key: BTreeMap<String, &ChangeEvent> = BTreeMap::new();
    for (r, e) in reader
        .records
        .iter()
        .filter(|r| r.payload.is_some())
        .zip(events.iter())
    {
        let k = r.headers.idempotency_key.clone().unwrap();
        if let Some(prev) = by_key.insert(k, e) {
            assert_eq!(prev.position, e.position);
            assert_eq!(prev.after, e.after);
        }
    }
    assert_eq!(
        by_key.len(),
        total as usize,
        "one idempotency key per change"
    );
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_snapshot_resumes_and_loses_nothing() {
    let s = setup(
        "snapkill",
        "\"public.nhat_ky\"",
        "[source_postgres.SOURCE.snapshot]\nchunk_size = 500\n",
    )
    .await;
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    let rows = 20_000;
    write_rows(&s.db, 0, rows, 5_000).await;
    let mut connector = s.start();
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 1_500)
        .await;
    connector.kill9();
    // Changes while the connector is down, to rows already read and not yet read.
    s.db.exec("INSERT INTO nhat_ky VALUES (20000, 'dòng 20000'); UPDATE nhat_ky SET noi_dung = noi_dung WHERE id IN (1, 19999)")
        .await;
    connector.restart();
    let want: BTreeSet<i64> = (0..=rows).collect();
    reader
        .read_until(Duration::from_secs(120), ids_cover(want))
        .await;
    connector.wait_for_log("snapshot complete", Duration::from_secs(60));
    assert_every_id_once_or_more(&reader.events(), 0..rows + 1);
    let log = connector.log();
    assert!(
        log.contains("resumed_after=Some"),
        "second run resumed the snapshot:\n{log}"
    );
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn transaction_larger_than_the_memory_bound_arrives_whole() {
    let s = setup(
        "bigtx",
        "\"public.nhat_ky\"",
        "max_in_flight = 500\nspill_memory_bytes = 262144\n",
    )
    .await;
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    // One transaction of 60,000 rows: far beyond logical_decoding_work_mem on the local stack
    // (64kB), so the server streams it in progress, and beyond the connector's memory limit
    // for it (256kB), so the connector moves it to disk.
    let n = 60_000;
    s.db.exec(&format!(
        "INSERT INTO nhat_ky (id, noi_dung) SELECT g, 'dòng ' || g FROM generate_series(0, {}) g",
        n - 1
    ))
    .await;
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(180), |r| event_count(r) >= n as usize)
        .await;
    let events = reader.events();
    assert_every_id_once_or_more(&events, 0..n);
    let xids: BTreeSet<&str> = events.iter().map(|e| e.transaction_id.as_str()).collect();
    assert_eq!(xids.len(), 1, "one transaction");
    assert_eq!(events.iter().filter(|e| e.last_in_transaction).count(), 1);
    assert!(events.last().unwrap().last_in_transaction);
    assert!(
        connector
            .log()
            .contains("streamed transaction moved to disk"),
        "{}",
        connector.log()
    );
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_change_mid_stream_is_a_new_version() {
    let s = setup("ddl", "\"public.don_vi\"", "").await;
    s.db.exec("CREATE TABLE don_vi (id int4 PRIMARY KEY, ten text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    s.db.exec("INSERT INTO don_vi VALUES (1, 'Sở Nội vụ')")
        .await;
    s.db.exec("ALTER TABLE don_vi ADD COLUMN ma_tinh varchar(3)")
        .await;
    s.db.exec("INSERT INTO don_vi VALUES (2, 'Sở Tư pháp', '001')")
        .await;
    s.db.exec("ALTER TABLE don_vi DROP COLUMN ma_tinh").await;
    s.db.exec("INSERT INTO don_vi VALUES (3, 'Sở Y tế')").await;
    let mut reader = TopicReader::new(&s.topic("don_vi")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 3)
        .await;
    let events = reader.events();
    let versions: Vec<u32> = events.iter().map(|e| e.schema_version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(events[1].after.as_ref().unwrap().columns.len(), 3);
    assert_eq!(
        column(events[1].after.as_ref().unwrap(), "ma_tinh"),
        &value::Kind::TextValue("001".into())
    );
    assert_eq!(events[2].after.as_ref().unwrap().columns.len(), 2);
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_is_masked_and_excluded_columns_never_leave() {
    let s = setup(
        "mask",
        "\"public.can_bo\"",
        "exclude_columns = [\"public.can_bo.mat_khau\"]\nhash_salt = \"muoi-sau-ky-tu-toi-thieu\"\n[source_postgres.SOURCE.mask_columns]\n\"public.can_bo.so_dinh_danh\" = \"hash\"\n\"public.can_bo.dien_thoai\" = \"redact\"\n",
    )
    .await;
    s.db.exec("CREATE TABLE can_bo (id int4 PRIMARY KEY, so_dinh_danh char(12), dien_thoai text, mat_khau text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    s.db.exec("INSERT INTO can_bo VALUES (1, '001203000123', '0912345678', 'bí mật'), (2, '001203000123', NULL, 'x')")
        .await;
    let mut reader = TopicReader::new(&s.topic("can_bo")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 2)
        .await;
    let events = reader.events();
    for e in &events {
        let row = e.after.as_ref().unwrap();
        assert!(row.columns.iter().all(|c| c.name != "mat_khau"));
        assert_eq!(column(row, "dien_thoai"), &value::Kind::Null(true));
        let value::Kind::TextValue(hash) = column(row, "so_dinh_danh") else {
            panic!("hash expected")
        };
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains("001203000123"));
    }
    // Same input, same hash: joins on the masked column still work.
    assert_eq!(
        column(events[0].after.as_ref().unwrap(), "so_dinh_danh"),
        column(events[1].after.as_ref().unwrap(), "so_dinh_danh")
    );
    for r in &reader.records {
        let raw = String::from_utf8_lossy(r.payload.as_deref().unwrap_or_default()).into_owned();
        assert!(
            !raw.contains("0912345678") && !raw.contains("bí mật") && !raw.contains("001203000123")
        );
    }
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_without_key_stops_the_connector_with_a_clear_message() {
    let s = setup("nokey", "\"public.*\"", "").await;
    s.db.exec("CREATE TABLE khong_khoa (ten text)").await;
    let out = lienthong(&["validate", "--config", &s.config], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("has no primary key and REPLICA IDENTITY DEFAULT"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    source"), "{stdout}");
    assert!(stdout.contains("wal_level: logical"), "{stdout}");

    let mut connector = s.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = connector.exited() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "{}", connector.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    assert!(
        connector
            .log()
            .contains("ALTER TABLE \"public\".\"khong_khoa\" REPLICA IDENTITY FULL"),
        "{}",
        connector.log()
    );
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn broker_outage_is_waited_out_without_loss() {
    let broker_dir = tempfile::tempdir().unwrap();
    let broker = lienthong_tests::broker::PrivateBroker::start(broker_dir.path());
    let s = setup_on(&broker.address(), "outage", "\"public.nhat_ky\"", "").await;
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    write_rows(&s.db, 0, 500, 10).await;
    broker.pause();
    // Changes keep coming while the broker is away, for longer than a produce timeout.
    write_rows(&s.db, 500, 500, 10).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    write_rows(&s.db, 1_000, 500, 10).await;
    broker.unpause();
    write_rows(&s.db, 1_500, 500, 10).await;
    let mut reader = TopicReader::on(&broker.address(), &s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(120), ids_cover((0..2_000).collect()))
        .await;
    assert_every_id_once_or_more(&reader.events(), 0..2_000);
    assert!(connector.exited().is_none(), "the connector kept running");
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_snapshot_on_demand_while_streaming() {
    let s = setup(
        "resnap",
        "\"public.nhat_ky\"",
        "[source_postgres.SOURCE.snapshot]\nmode = \"never\"\nchunk_size = 100\n",
    )
    .await;
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    // Rows from before the connector existed: with mode = never, nothing reads them yet.
    write_rows(&s.db, 0, 1_000, 1_000).await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    write_rows(&s.db, 1_000, 10, 1).await;
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(60), ids_cover((1_000..1_010).collect()))
        .await;
    assert!(
        reader
            .events()
            .iter()
            .all(|e| e.op == Operation::Insert as i32)
    );

    let out = lienthong(
        &[
            "source-postgres",
            "snapshot",
            "--config",
            &s.config,
            "--source",
            &s.source,
            "--table",
            "public.nhat_ky",
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(
        text(&out)
            .0
            .contains("requested a snapshot of public.nhat_ky")
    );
    // Streaming goes on during the snapshot.
    write_rows(&s.db, 1_010, 300, 3).await;
    reader
        .read_until(Duration::from_secs(120), ids_cover((0..1_310).collect()))
        .await;
    connector.wait_for_log("snapshot complete", Duration::from_secs(60));
    let events = reader.events();
    assert_every_id_once_or_more(&events, 0..1_310);
    let reads = events
        .iter()
        .filter(|e| e.op == Operation::Read as i32)
        .count();
    assert!(
        reads >= 1_000,
        "the old rows came as snapshot reads: {reads}"
    );

    // A table the source does not capture is refused up front.
    let out = lienthong(
        &[
            "source-postgres",
            "snapshot",
            "--config",
            &s.config,
            "--source",
            &s.source,
            "--table",
            "public.khac",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).1.contains("does not capture public.khac"),
        "{:?}",
        text(&out)
    );
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn initial_snapshot_is_consistent_with_the_slot_under_concurrent_writes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use lienthong_proto::v1::source_position;

    let s = setup(
        "consistent",
        "\"public.so_dem\"",
        "[source_postgres.SOURCE.snapshot]\nchunk_size = 200\n",
    )
    .await;
    let rows = 5_000_i64;
    s.db.exec(&format!(
        "CREATE TABLE so_dem (id int8 PRIMARY KEY, lan int8 NOT NULL);
         INSERT INTO so_dem SELECT g, 0 FROM generate_series(0, {}) g",
        rows - 1
    ))
    .await;
    // Every transaction adds 1 to the counter of a few rows, before, during and after the
    // snapshot: each key's events must then count 0, 1, 2, ... with no step missing (a gap)
    // and none repeated or going back (an overlap).
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let mut conn = s.db.connect().await;
        tokio::spawn(async move {
            let mut transactions = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<i64> = (0..8).map(|_| rand::random_range(0..rows)).collect();
                sqlx::query("UPDATE so_dem SET lan = lan + 1 WHERE id = ANY($1)")
                    .bind(&ids)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                transactions += 1;
            }
            transactions
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut connector = s.start();
    let log_watch = tokio::task::spawn_blocking({
        let log = s.dir.path().join("connector.log");
        move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while !std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("snapshot complete")
            {
                assert!(std::time::Instant::now() < deadline, "no snapshot complete");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    log_watch.await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let transactions = writer.await.unwrap();
    assert!(
        transactions > 50,
        "the writer ran throughout: {transactions}"
    );

    let mut conn = s.db.connect().await;
    let want: BTreeMap<i64, i64> = sqlx::query_as("SELECT id, lan FROM so_dem")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let counter = |e: &ChangeEvent| match column(e.after.as_ref().unwrap(), "lan") {
        value::Kind::IntValue(i) => *i,
        other => panic!("lan is {other:?}"),
    };
    let mut reader = TopicReader::new(&s.topic("so_dem")).await;
    let mut latest: BTreeMap<i64, i64> = BTreeMap::new();
    let mut scanned = 0;
    reader
        .read_until(Duration::from_secs(120), |records| {
            for r in &records[scanned..] {
                if let Some(p) = &r.payload {
                    let e = <ChangeEvent as prost::Message>::decode(p.as_slice()).unwrap();
                    latest.insert(int_key(&e), counter(&e));
                }
            }
            scanned = records.len();
            latest == want
        })
        .await;

    let mut history: BTreeMap<i64, Vec<(i32, i64)>> = BTreeMap::new();
    for e in reader.events() {
        if e.op == Operation::Read as i32 {
            let Some(source_position::Kind::Snapshot(p)) =
                e.position.as_ref().and_then(|p| p.kind.as_ref())
            else {
                panic!("a READ without a snapshot position: {e:?}")
            };
            assert!(
                matches!(
                    p.consistent_with.as_ref().and_then(|c| c.kind.as_ref()),
                    Some(source_position::Kind::Postgres(_))
                ),
                "a READ from the exported snapshot names the slot position it matches: {p:?}"
            );
        }
        history
            .entry(int_key(&e))
            .or_default()
            .push((e.op, counter(&e)));
    }
    assert_eq!(history.len() as i64, rows);
    for (id, events) in &history {
        assert_eq!(
            events[0].0,
            Operation::Read as i32,
            "key {id} starts with its snapshot row: {events:?}"
        );
        assert!(
            events[1..]
                .iter()
                .all(|(op, _)| *op == Operation::Update as i32),
            "key {id}: one snapshot row, then updates: {events:?}"
        );
        for pair in events.windows(2) {
            assert_eq!(
                pair[1].1,
                pair[0].1 + 1,
                "key {id}: each update follows the previous state: {events:?}"
            );
        }
    }
    let log = connector.log();
    assert!(
        log.contains("initial snapshot from the slot's exported snapshot"),
        "{log}"
    );
    assert!(log.contains("percent="), "progress is reported:\n{log}");
    connector.terminate();
    s.finish().await;
}

/// The value of the first sample of `name` (with any labels) in an OpenMetrics text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(address: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn lag_and_positions_are_exported_as_metrics() {
    let s = setup("metrics", "\"public.nhat_ky\"", "").await;
    let port = lienthong_tests::free_port();
    let address = format!("127.0.0.1:{port}");
    let config = std::fs::read_to_string(&s.config).unwrap().replace(
        "[health]\nenabled = false",
        &format!("[health]\nenabled = true\nlisten = \"{address}\""),
    );
    std::fs::write(&s.config, config).unwrap();
    s.db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text)")
        .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    write_rows(&s.db, 0, 300, 10).await;
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(60), ids_cover((0..300).collect()))
        .await;

    let prefix = "lienthong_source_postgres";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let metrics = loop {
        let metrics = scrape(&address).await;
        // The slot lag comes with the first heartbeat, the confirmed position with the next
        // status update.
        let ready = sample(&metrics, &format!("{prefix}_slot_lag_bytes")).is_some_and(|v| v > 0.0)
            && sample(&metrics, &format!("{prefix}_confirmed_lsn")).is_some_and(|v| v > 0.0);
        if ready {
            break metrics;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        sample(&metrics, &format!("{prefix}_events_total")),
        Some(300.0),
        "{metrics}"
    );
    let acked = sample(&metrics, &format!("{prefix}_commit_to_ack_seconds_count")).unwrap();
    assert!(acked >= 30.0, "30 transactions acknowledged: {metrics}");
    let seconds = sample(&metrics, &format!("{prefix}_commit_to_ack_seconds_sum")).unwrap();
    assert!(seconds > 0.0 && seconds / acked < 10.0, "{metrics}");
    assert!(sample(&metrics, &format!("{prefix}_lag_milliseconds")).is_some());
    // Every metric carries the source id.
    assert!(
        metrics.contains(&format!("source=\"{}\"", s.source)),
        "{metrics}"
    );
    connector.terminate();
    s.finish().await;
}
