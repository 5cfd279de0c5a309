//! The MariaDB/MySQL connector as a real process against the local stack's MariaDB (row binlog,
//! GTID) and broker: snapshot + streaming over many types, a schema change mid-stream, kill -9
//! during the snapshot and during streaming with a count-and-content check, and legacy latin1
//! text beside utf8mb4 Vietnamese text.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lienthong_proto::v1::{ChangeEvent, Date, DeadLetter, Operation, Row, value::Kind};
use lienthong_tests::events::{column, ids_cover, int_key};
use lienthong_tests::process::Service;
use lienthong_tests::stack;
use lienthong_tests::topics::{TopicReader, event_count};
use sqlx::{Connection, Executor, MySqlConnection};

struct Setup {
    database: String,
    url: String,
    source: String,
    dir: tempfile::TempDir,
    config: String,
}

/// A database of the test's own in the stack's MariaDB, the tables created by `ddl`, and a
/// config capturing every table of that database. `extra` is appended to the source's section;
/// `SOURCE` in it stands for the source id.
async fn setup(prefix: &str, ddl: &[&str], extra: &str) -> Setup {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let database = format!("lt_{prefix}_{tag}");
    let admin_url = stack::mariadb_url();
    let mut admin = MySqlConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"));
    admin
        .execute(format!("CREATE DATABASE {database} CHARACTER SET utf8mb4").as_str())
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let url = format!("{base}/{database}");
    let setup_db = Setup {
        source: format!("t{tag}"),
        dir: tempfile::tempdir().unwrap(),
        config: String::new(),
        database,
        url,
    };
    for statement in ddl {
        setup_db.exec(statement).await;
    }
    // Server ids are per replica connection: one of its own per test, away from the server's 1.
    let server_id = 100_000 + rand::random::<u32>() % 1_000_000_000;
    let extra = extra.replace("SOURCE", &setup_db.source);
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
[source_mysql.{source}]
database = "src"
server_id = {server_id}
tables = ["{database}.*"]
heartbeat_interval_ms = 1000
position_save_interval_ms = 300
{extra}
"#,
        broker = stack::broker(),
        url = setup_db.url,
        source = setup_db.source,
        database = setup_db.database,
    );
    let path = setup_db.dir.path().join("lienthong.toml");
    std::fs::write(&path, &config).unwrap();
    Setup {
        config: path.display().to_string(),
        ..setup_db
    }
}

impl Setup {
    fn topic(&self, table: &str) -> String {
        format!("cdc.{}.{}.{table}", self.source, self.database)
    }

    fn start(&self) -> Service {
        Service::start(
            &["source-mysql", "--config", &self.config],
            &self.dir.path().join("connector.log"),
        )
    }

    async fn connect(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.url).await.unwrap()
    }

    async fn exec(&self, sql: &str) {
        let mut conn = self.connect().await;
        conn.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    }

    async fn finish(self) {
        let mut admin = MySqlConnection::connect(&stack::mariadb_url())
            .await
            .unwrap();
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {}", self.database).as_str())
            .await;
    }
}

fn has_column(row: &Row, name: &str) -> bool {
    row.columns.iter().any(|c| c.name == name)
}

const TYPED_TABLE: &str = "CREATE TABLE ho_so (
    id INT PRIMARY KEY,
    ho_ten VARCHAR(100) NOT NULL,
    he_so DECIMAL(5,2),
    ngay_sinh DATE,
    cap_nhat DATETIME(3),
    thoi_diem TIMESTAMP NULL,
    so_lon BIGINT UNSIGNED,
    thong_tin JSON,
    anh BLOB,
    gioi_tinh ENUM('nam','nữ'),
    quyen SET('doc','ghi','xoa'),
    ghi_chu VARCHAR(50) CHARACTER SET latin1
) DEFAULT CHARSET=utf8mb4";

fn typed_row(id: i64) -> String {
    format!(
        "INSERT INTO ho_so VALUES ({id}, 'Nguyễn Văn An 🌾', 4.98, '1975-04-30',
         '2025-07-01 08:00:00.125', '2025-07-01 01:00:00', 18446744073709551615,
         '{{\"don_vi\": \"Bộ Nội vụ\"}}', X'00FF', 'nữ', 'doc,xoa', 'TrÇn ThÞ Thu Hµ')"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_then_stream_with_typed_values() {
    let s = setup("types", &[TYPED_TABLE], "").await;
    // The connection's time zone is UTC: the TIMESTAMP is 2025-07-01 01:00:00 UTC.
    let mut conn = s.connect().await;
    conn.execute("SET time_zone = '+00:00'").await.unwrap();
    conn.execute(typed_row(1).as_str()).await.unwrap();
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    conn.execute(typed_row(2).as_str()).await.unwrap();
    conn.execute("UPDATE ho_so SET he_so = 5.08 WHERE id = 2")
        .await
        .unwrap();
    conn.execute("DELETE FROM ho_so WHERE id = 1")
        .await
        .unwrap();

    let mut reader = TopicReader::new(&s.topic("ho_so")).await;
    // read 1, insert 2, update 2, delete 1 and its tombstone.
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 5)
        .await;
    let events = reader.events();
    let ops: Vec<(i64, Operation)> = events.iter().map(|e| (int_key(e), e.op())).collect();
    assert_eq!(
        ops,
        vec![
            (1, Operation::Read),
            (2, Operation::Insert),
            (2, Operation::Update),
            (1, Operation::Delete)
        ]
    );
    let read = events[0].after.as_ref().unwrap();
    assert_eq!(
        column(read, "ho_ten"),
        &Kind::TextValue("Nguyễn Văn An 🌾".into())
    );
    assert!(matches!(column(read, "he_so"), Kind::DecimalValue(d) if d.value == "4.98"));
    assert_eq!(
        column(read, "ngay_sinh"),
        &Kind::DateValue(Date {
            year: 1975,
            month: 4,
            day: 30
        })
    );
    match column(read, "cap_nhat") {
        Kind::DatetimeValue(dt) => {
            let t = dt.time.unwrap();
            assert_eq!((t.hours, t.minutes, t.seconds), (8, 0, 0));
            assert_eq!(dt.date.unwrap().day, 1);
        }
        other => panic!("DATETIME gave {other:?}"),
    }
    assert!(
        matches!(column(read, "thoi_diem"), Kind::TimestampValue(t) if t.seconds == 1_751_331_600),
        "{:?}",
        column(read, "thoi_diem")
    );
    assert_eq!(column(read, "so_lon"), &Kind::UintValue(u64::MAX));
    assert!(
        matches!(column(read, "thong_tin"), Kind::JsonValue(j) if j.contains("Bộ Nội vụ")),
        "{:?}",
        column(read, "thong_tin")
    );
    assert_eq!(column(read, "anh"), &Kind::BytesValue(vec![0x00, 0xff]));
    assert_eq!(column(read, "gioi_tinh"), &Kind::TextValue("nữ".into()));
    assert_eq!(column(read, "quyen"), &Kind::TextValue("doc,xoa".into()));
    assert_eq!(
        column(read, "ghi_chu"),
        &Kind::TextValue("TrÇn ThÞ Thu Hµ".into())
    );

    // The same row read by the snapshot and decoded from the binlog gives the same values.
    let inserted = events[1].after.as_ref().unwrap();
    for c in &read.columns {
        if c.name != "id" {
            assert_eq!(
                Some(column(inserted, &c.name)),
                c.value.as_ref().and_then(|v| v.kind.as_ref()),
                "{}: snapshot and binlog disagree",
                c.name
            );
        }
    }

    // Full row images: the update has its before image, the delete its row.
    let update = &events[2];
    assert!(
        matches!(column(update.before.as_ref().unwrap(), "he_so"), Kind::DecimalValue(d) if d.value == "4.98")
    );
    assert!(
        matches!(column(update.after.as_ref().unwrap(), "he_so"), Kind::DecimalValue(d) if d.value == "5.08")
    );
    assert!(events[3].before.is_some() && events[3].after.is_none());
    // Each event carries its binlog position; the delete is followed by a tombstone of its key.
    assert!(events.iter().all(|e| e.position.is_some()));
    let last = reader.records.last().unwrap();
    assert!(last.payload.is_none(), "tombstone after the delete");
    assert_eq!(last.key, reader.records[3].key);
    assert!(events.iter().skip(1).all(|e| !e.transaction_id.is_empty()));

    assert!(
        connector.terminate().is_some_and(|st| st.success()),
        "{}",
        connector.log()
    );
    s.finish().await;
}

const DDL_STEPS: [&str; 7] = [
    "INSERT INTO don_vi VALUES (1, 'Vụ Tổ chức')",
    "ALTER TABLE don_vi ADD COLUMN cap INT DEFAULT 7",
    "INSERT INTO don_vi VALUES (2, 'Vụ Pháp chế', 8)",
    "ALTER TABLE don_vi DROP COLUMN ten",
    "INSERT INTO don_vi VALUES (3, 9)",
    "ALTER TABLE don_vi MODIFY cap BIGINT",
    "INSERT INTO don_vi VALUES (4, 1099511627776)",
];

#[tokio::test(flavor = "multi_thread")]
async fn schema_change_mid_stream_gives_a_new_schema_version() {
    let s = setup(
        "ddl",
        &["CREATE TABLE don_vi (id INT PRIMARY KEY, ten VARCHAR(50))"],
        "",
    )
    .await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    let mut conn = s.connect().await;
    let mut reader = None;
    // Each change is captured before the next DDL: the connector's table facts, read again
    // after each DDL it meets, are those the rows were written with.
    for (step, sql) in DDL_STEPS.iter().enumerate() {
        conn.execute(*sql).await.unwrap();
        if step % 2 == 0 {
            if reader.is_none() {
                reader = Some(TopicReader::new(&s.topic("don_vi")).await);
            }
            let want = step / 2 + 1;
            reader
                .as_mut()
                .unwrap()
                .read_until(Duration::from_secs(60), |r| event_count(r) >= want)
                .await;
        }
    }
    let events = reader.unwrap().events();
    assert_eq!(events.len(), 4);
    let rows: Vec<&Row> = events.iter().map(|e| e.after.as_ref().unwrap()).collect();
    assert_eq!(
        column(rows[0], "ten"),
        &Kind::TextValue("Vụ Tổ chức".into())
    );
    assert!(!has_column(rows[0], "cap"));
    assert_eq!(
        column(rows[1], "ten"),
        &Kind::TextValue("Vụ Pháp chế".into())
    );
    assert_eq!(column(rows[1], "cap"), &Kind::IntValue(8));
    assert!(!has_column(rows[2], "ten"), "dropped column gone");
    assert_eq!(column(rows[2], "cap"), &Kind::IntValue(9));
    assert_eq!(column(rows[3], "cap"), &Kind::IntValue(1_099_511_627_776));
    let versions: Vec<u32> = events.iter().map(|e| e.schema_version).collect();
    assert!(
        versions.windows(2).all(|w| w[1] > w[0]),
        "each change of columns is a new schema version: {versions:?}"
    );
    let log = connector.log();
    assert!(log.contains("DDL in the binlog"), "{log}");
    assert!(connector.terminate().is_some_and(|st| st.success()));
    s.finish().await;
}

/// Several DDL statements in a burst, faster than the connector reads table facts: a row is
/// never decoded with another definition's columns. With `binlog_row_metadata=FULL` (the local
/// stack's setting) each table map describes its rows itself, so every row arrives, decoded
/// with the columns it was written with, under a schema version of its own; without it, rows
/// that do not fit the current definition are dead-lettered with the reason and position. Either
/// way rows in = events + dead letters.
#[tokio::test(flavor = "multi_thread")]
async fn ddl_burst_never_misdecodes_and_counts_balance() {
    let s = setup(
        "ddlburst",
        &["CREATE TABLE don_vi (id INT PRIMARY KEY, ten VARCHAR(50))"],
        "",
    )
    .await;
    // The dead-letter topic exists before the connector subscribes anything.
    let mut dlq = {
        let admin =
            lienthong_runtime::kafka::TopicAdmin::new(&lienthong_tests::topics::kafka_config())
                .unwrap();
        admin.ensure_topics(&["dlq.source-mysql"]).await.unwrap();
        TopicReader::new("dlq.source-mysql").await
    };
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    let mut conn = s.connect().await;
    for sql in DDL_STEPS {
        conn.execute(sql).await.unwrap();
    }
    let mut reader = TopicReader::new(&s.topic("don_vi")).await;
    let topic = s.topic("don_vi");
    let mine = |records: &[lienthong_runtime::kafka::InboundRecord]| -> Vec<DeadLetter> {
        records
            .iter()
            .filter_map(|r| r.payload.as_ref())
            .map(|p| <DeadLetter as prost::Message>::decode(p.as_slice()).unwrap())
            .filter(|d| d.topic == topic)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        reader.read_for(Duration::from_millis(500)).await;
        dlq.read_for(Duration::from_millis(500)).await;
        if event_count(&reader.records) + mine(&dlq.records).len() >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} events and {} dead letters",
            event_count(&reader.records),
            mine(&dlq.records).len()
        );
    }
    let events = reader.events();
    let letters = mine(&dlq.records);
    assert_eq!(
        events.len() + letters.len(),
        4,
        "rows in = out + dead-lettered"
    );
    for e in &events {
        let row = e.after.as_ref().unwrap();
        match int_key(e) {
            1 => assert_eq!(column(row, "ten"), &Kind::TextValue("Vụ Tổ chức".into())),
            2 => assert_eq!(column(row, "cap"), &Kind::IntValue(8)),
            3 => {
                assert!(!has_column(row, "ten"));
                assert_eq!(column(row, "cap"), &Kind::IntValue(9));
            }
            4 => assert_eq!(column(row, "cap"), &Kind::IntValue(1_099_511_627_776)),
            other => panic!("unexpected id {other}"),
        }
    }
    let metadata: String = sqlx::query_scalar("SELECT @@global.binlog_row_metadata")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    if metadata.eq_ignore_ascii_case("FULL") {
        assert!(letters.is_empty(), "{letters:?}");
        let versions: BTreeSet<u32> = events.iter().map(|e| e.schema_version).collect();
        assert_eq!(versions.len(), 4, "one schema version per definition");
    }
    for letter in &letters {
        assert_eq!(letter.stage, "source-mysql");
        assert!(!letter.reason.is_empty());
        assert!(letter.source_position.is_some(), "{letter:?}");
    }
    assert!(connector.terminate().is_some_and(|st| st.success()));
    s.finish().await;
}

const LOG_TABLE: &str = "CREATE TABLE nhat_ky (id BIGINT PRIMARY KEY, noi_dung VARCHAR(50), lan_sua INT NOT NULL DEFAULT 0) DEFAULT CHARSET=utf8mb4";

/// Inserts ids `start..start + n` in transactions of `per_tx` rows.
async fn write_rows(url: &str, start: i64, n: i64, per_tx: i64) {
    let mut conn = MySqlConnection::connect(url).await.unwrap();
    let mut id = start;
    while id < start + n {
        let end = (id + per_tx).min(start + n);
        let values: Vec<String> = (id..end).map(|i| format!("({i}, 'dòng {i}')")).collect();
        conn.execute(
            format!(
                "INSERT INTO nhat_ky (id, noi_dung) VALUES {}",
                values.join(",")
            )
            .as_str(),
        )
        .await
        .unwrap();
        id = end;
    }
}

fn assert_every_id_present(events: &[ChangeEvent], ids: std::ops::Range<i64>) {
    let mut seen = BTreeMap::new();
    for e in events {
        let id = int_key(e);
        assert_eq!(
            column(e.after.as_ref().unwrap(), "noi_dung"),
            &Kind::TextValue(format!("dòng {id}")),
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
    let s = setup("kill", &[LOG_TABLE], "").await;
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    let total = 3_000;
    let writer = {
        let url = s.url.clone();
        tokio::spawn(async move { write_rows(&url, 0, total, 7).await })
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300 + rand::random::<u64>() % 700)).await;
        connector.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        connector.restart();
    }
    writer.await.unwrap();
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(120), ids_cover((0..total).collect()))
        .await;
    let events = reader.events();
    assert_every_id_present(&events, 0..total);
    // Duplicates are true duplicates: same idempotency key, same position, same row.
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
        &[LOG_TABLE],
        "[source_mysql.SOURCE.snapshot]\nchunk_size = 500\n",
    )
    .await;
    let rows = 20_000;
    write_rows(&s.url, 0, rows, 2_000).await;
    let mut connector = s.start();
    let mut reader = TopicReader::new(&s.topic("nhat_ky")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 1_500)
        .await;
    connector.kill9();
    // Changes while the connector is down, to rows already read and not yet read.
    let mut conn = s.connect().await;
    conn.execute("INSERT INTO nhat_ky (id, noi_dung) VALUES (20000, 'dòng 20000')")
        .await
        .unwrap();
    conn.execute("UPDATE nhat_ky SET lan_sua = lan_sua + 1 WHERE id IN (1, 19999)")
        .await
        .unwrap();
    connector.restart();
    reader
        .read_until(Duration::from_secs(120), ids_cover((0..=rows).collect()))
        .await;
    connector.wait_for_log("snapshot complete", Duration::from_secs(60));
    assert_every_id_present(&reader.events(), 0..rows + 1);
    let log = connector.log();
    assert!(
        log.contains("resuming the interrupted snapshot"),
        "second run resumed the snapshot:\n{log}"
    );
    // Streaming goes on after the resumed snapshot.
    conn.execute("INSERT INTO nhat_ky (id, noi_dung) VALUES (20001, 'dòng 20001')")
        .await
        .unwrap();
    reader
        .read_until(Duration::from_secs(60), ids_cover([20_001].into()))
        .await;
    connector.terminate();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_latin1_and_utf8mb4_vietnamese_text_round_trip() {
    // Legacy applications stored TCVN3 or VNI bytes in latin1 columns: the connector must give
    // back exactly the characters the server holds (the translator later turns them into
    // Unicode Vietnamese). Modern columns hold Vietnamese in utf8mb4, in NFC and NFD forms.
    let s = setup(
        "text",
        &["CREATE TABLE hoso (
            macb INT PRIMARY KEY,
            hoten_tcvn3 VARCHAR(60) CHARACTER SET latin1,
            hoten_vni VARCHAR(60) CHARACTER SET latin1,
            hoten VARCHAR(60) CHARACTER SET utf8mb4,
            ghi_chu TEXT CHARACTER SET utf8mb4
        )"],
        "",
    )
    .await;
    let samples: [(&str, &str, &str, &str); 3] = [
        (
            "TrÇn ThÞ Thu Hµ",
            "Traàn Thò Thu Haø",
            "Trần Thị Thu Hà",
            "Quê: Thừa Thiên Huế 🌸",
        ),
        (
            "NguyÔn V¨n §øc",
            "Nguyeãn Vaên Ñöùc",
            "Nguyễn Văn Đức",
            // "Hoà" with the combining grave (NFD-ish input kept as stored).
            "Hoa\u{300} Bình",
        ),
        ("Lª Th¸i Tæ", "Leâ Thaùi Toå", "Lê Thái Tổ", "ĐẮK LẮK"),
    ];
    let insert = |id: i64, (a, b, c, d): (&str, &str, &str, &str)| {
        format!("INSERT INTO hoso VALUES ({id}, '{a}', '{b}', '{c}', '{d}')")
    };
    let mut conn = s.connect().await;
    for (i, sample) in samples.iter().enumerate() {
        conn.execute(insert(i as i64 + 1, *sample).as_str())
            .await
            .unwrap();
    }
    let mut connector = s.start();
    connector.wait_for_log("streaming changes", Duration::from_secs(60));
    for (i, sample) in samples.iter().enumerate() {
        conn.execute(insert(i as i64 + 11, *sample).as_str())
            .await
            .unwrap();
    }
    let mut reader = TopicReader::new(&s.topic("hoso")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 6)
        .await;
    let events = reader.events();
    assert_eq!(events.len(), 6);
    for event in &events {
        let id = int_key(event);
        let (a, b, c, d) = samples[usize::try_from(id % 10 - 1).unwrap()];
        let row = event.after.as_ref().unwrap();
        let how = if event.op() == Operation::Read {
            "snapshot"
        } else {
            "binlog"
        };
        assert_eq!(
            column(row, "hoten_tcvn3"),
            &Kind::TextValue(a.into()),
            "{how} {id}"
        );
        assert_eq!(
            column(row, "hoten_vni"),
            &Kind::TextValue(b.into()),
            "{how} {id}"
        );
        assert_eq!(
            column(row, "hoten"),
            &Kind::TextValue(c.into()),
            "{how} {id}"
        );
        assert_eq!(
            column(row, "ghi_chu"),
            &Kind::TextValue(d.into()),
            "{how} {id}"
        );
    }
    // What the server itself returns for the latin1 column is what the events carry.
    let stored: String = sqlx::query_scalar("SELECT hoten_tcvn3 FROM hoso WHERE macb = 11")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, samples[0].0);
    assert!(connector.terminate().is_some_and(|st| st.success()));
    s.finish().await;
}
