//! The polling connector against the local stack's PostgreSQL and broker, and SQLite files of
//! the tests' own: initial load then increments, many rows sharing one timestamp across page
//! boundaries, a row committed after the cursor passed its timestamp, soft deletes, hard
//! deletes found by the full compare, and kill -9 of the connector process mid-run.
//!
//! The connector runs through the library (`PollSource`), in this process or — for kill -9 — in
//! a child process that is this test binary re-run on the ignored test
//! `poll_connector_process`.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use lienthong_proto::v1::{ChangeEvent, ChangeKey, Operation, source_position, value};
use lienthong_runtime::config::Secret;
use lienthong_runtime::health::Health;
use lienthong_runtime::kafka::InboundRecord;
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::{Metrics, Shutdown};
use lienthong_source_poll::metrics::SourceMetrics;
use lienthong_source_poll::{PollSource, PollSourceConfig, SourceContext, SourceError};
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::topics::{TopicReader, event_count, kafka_config};
use prost::Message as _;
use sqlx::{Connection as _, Executor as _, MySqlConnection, SqliteConnection};

/// Environment variable carrying a child connector's settings (JSON).
const CHILD_ENV: &str = "LIENTHONG_TEST_POLL_CHILD";

fn retry() -> RetryConfig {
    RetryConfig {
        initial_delay_ms: 200,
        max_delay_ms: 2_000,
        factor: 2.0,
        max_retries: 0,
        jitter: true,
    }
}

/// One connector's settings: a source id of its own (so topics of its own), a state topic of
/// its own, the source database URL and the `[source_poll.<id>]` section as JSON.
#[derive(Debug, Clone)]
struct Poll {
    source: String,
    state_topic: String,
    url: String,
    config: serde_json::Value,
}

impl Poll {
    /// `tables` is the `tables` array; `settings` adds or overrides source settings.
    fn new(url: &str, tables: serde_json::Value, settings: serde_json::Value) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let mut config = serde_json::json!({
            "database": "src",
            "tables": tables,
            "poll_interval_ms": 200,
            "batch_size": 100,
        });
        if let (Some(c), Some(s)) = (config.as_object_mut(), settings.as_object()) {
            for (k, v) in s {
                c.insert(k.clone(), v.clone());
            }
        }
        Self {
            source: format!("p{tag}"),
            state_topic: format!("lienthong.state.{tag}"),
            url: url.to_string(),
            config,
        }
    }

    fn source_config(&self) -> PollSourceConfig {
        serde_json::from_value(self.config.clone()).unwrap()
    }

    fn topic(&self, schema_and_table: &str) -> String {
        format!("cdc.{}.{schema_and_table}", self.source)
    }

    fn connector(&self, metrics: &Metrics) -> PollSource {
        let kafka = kafka_config();
        PollSource::new(
            &self.source,
            self.source_config(),
            Secret::new(self.url.clone()),
            SourceContext {
                kafka: &kafka,
                retry: &retry(),
                kafka_metrics: KafkaMetrics::default(),
                metrics,
                readiness: Health::new().component("source-poll"),
                state_topic: &self.state_topic,
            },
        )
    }

    /// Runs the connector in this process until [`Running::stop`].
    fn start(&self) -> Running {
        let metrics = Metrics::new();
        let connector = self.connector(&metrics);
        let shutdown = Shutdown::new();
        let stop = shutdown.clone();
        let source_metrics = connector.metrics().clone();
        // A runtime of its own on a thread of its own: the connector's future is not `Send`
        // (sqlx's MySQL executor), as in the CLI, which runs sources on one task.
        let handle = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(connector.run(stop))
        });
        Running {
            shutdown,
            handle,
            metrics: source_metrics,
        }
    }

    /// Runs the connector in a child process (for kill -9), logging to `log`.
    fn start_process(&self, log: &std::path::Path) -> ChildConnector {
        let settings = serde_json::json!({
            "source": self.source,
            "state_topic": self.state_topic,
            "url": self.url,
            "config": self.config,
        })
        .to_string();
        let mut child = ChildConnector {
            settings,
            log: log.to_path_buf(),
            child: None,
        };
        child.restart();
        child
    }
}

#[derive(Debug)]
struct Running {
    shutdown: Shutdown,
    handle: std::thread::JoinHandle<Result<(), SourceError>>,
    metrics: SourceMetrics,
}

impl Running {
    /// Stops it and returns how it ended (an error only when an operator must act).
    async fn stop(self) -> Result<(), SourceError> {
        self.shutdown.trigger();
        let handle = self.handle;
        tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || handle.join()),
        )
        .await
        .expect("the connector stops within a minute of shutdown")
        .unwrap()
        .unwrap()
    }
}

/// A connector in a process of its own: this test binary running `poll_connector_process`.
#[derive(Debug)]
struct ChildConnector {
    settings: String,
    log: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl ChildConnector {
    fn restart(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "poll_connector_process",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, &self.settings)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildConnector {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- connector process output:\n{log}");
        }
    }
}

/// Not a test of its own: the body of the child process of the kill -9 test. Without its
/// settings in the environment it returns at once.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "runs only as the child process of kill_9_mid_run_loses_nothing"]
async fn poll_connector_process() {
    let Ok(settings) = std::env::var(CHILD_ENV) else {
        return;
    };
    let settings: serde_json::Value = serde_json::from_str(&settings).unwrap();
    let poll = Poll {
        source: settings["source"].as_str().unwrap().to_string(),
        state_topic: settings["state_topic"].as_str().unwrap().to_string(),
        url: settings["url"].as_str().unwrap().to_string(),
        config: settings["config"].clone(),
    };
    let metrics = Metrics::new();
    let connector = poll.connector(&metrics);
    eprintln!("child connector {} starting", poll.source);
    // Runs until killed.
    let outcome = connector.run(Shutdown::new()).await;
    panic!("the connector returned: {outcome:?}");
}

// ---------------------------------------------------------------------------------------------
// Source databases

/// A source database the connector polls.
#[derive(Debug)]
enum Source {
    Postgres(TestDatabase),
    /// A database of its own on the local stack's MariaDB.
    MariaDb {
        url: String,
        name: String,
    },
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
}

impl Source {
    async fn postgres(prefix: &str) -> Self {
        Self::Postgres(TestDatabase::create(&format!("lt_{prefix}")).await)
    }

    async fn mariadb() -> Self {
        let admin_url = lienthong_tests::stack::mariadb_url();
        let name = format!("lt_poll_{}", uuid::Uuid::new_v4().simple());
        let mut admin = MySqlConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        Self::MariaDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("legacy.db").display());
        // Created here: the connector opens an existing file only.
        let conn = SqliteConnection::connect(&format!("{url}?mode=rwc"))
            .await
            .unwrap();
        conn.close().await.unwrap();
        Self::Sqlite { url, _dir: dir }
    }

    fn url(&self) -> String {
        match self {
            Self::Postgres(db) => db.url.clone(),
            Self::MariaDb { url, .. } | Self::Sqlite { url, .. } => url.clone(),
        }
    }

    /// The schema tables live in: `public`, the MariaDB database, or SQLite's `main`.
    fn schema(&self) -> String {
        match self {
            Self::Postgres(_) => "public".into(),
            Self::MariaDb { name, .. } => name.clone(),
            Self::Sqlite { .. } => "main".into(),
        }
    }

    /// Runs statements separated by `;`.
    async fn exec(&self, sql: &str) {
        match self {
            Self::Postgres(db) => db.exec(sql).await,
            Self::MariaDb { url, .. } => {
                let mut conn = MySqlConnection::connect(url).await.unwrap();
                for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                    conn.execute(statement)
                        .await
                        .unwrap_or_else(|e| panic!("{e}\n{statement}"));
                }
                conn.close().await.unwrap();
            }
            Self::Sqlite { url, .. } => {
                let mut conn = SqliteConnection::connect(url).await.unwrap();
                conn.execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{e}\n{sql}"));
                conn.close().await.unwrap();
            }
        }
    }

    async fn finish(self) {
        match self {
            // No slot: polling never makes one.
            Self::Postgres(db) => db.drop_with_slot("lt_test_none").await,
            Self::MariaDb { name, .. } => {
                let mut admin = MySqlConnection::connect(&lienthong_tests::stack::mariadb_url())
                    .await
                    .unwrap();
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name}").as_str())
                    .await;
            }
            Self::Sqlite { .. } => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading what was published

fn int_key(event: &ChangeEvent) -> i64 {
    match event.key[0].value.as_ref().and_then(|v| v.kind.as_ref()) {
        Some(value::Kind::IntValue(i)) => *i,
        other => panic!("key is not an integer: {other:?}"),
    }
}

fn record_key_id(record: &InboundRecord) -> i64 {
    let key = ChangeKey::decode(record.key.as_deref().unwrap()).unwrap();
    match key.columns[0].value.as_ref().and_then(|v| v.kind.as_ref()) {
        Some(value::Kind::IntValue(i)) => *i,
        other => panic!("key is not an integer: {other:?}"),
    }
}

fn column<'a>(row: &'a lienthong_proto::v1::Row, name: &str) -> &'a value::Kind {
    row.columns
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.value.as_ref())
        .and_then(|v| v.kind.as_ref())
        .unwrap_or_else(|| panic!("no column {name} in {row:?}"))
}

fn text(row: &lienthong_proto::v1::Row, name: &str) -> String {
    match column(row, name) {
        value::Kind::TextValue(s) => s.clone(),
        other => panic!("{name} is not text: {other:?}"),
    }
}

/// Decoded change events with their records' idempotency keys.
fn events_with_keys(records: &[InboundRecord]) -> Vec<(String, ChangeEvent)> {
    records
        .iter()
        .filter_map(|r| {
            let payload = r.payload.as_ref()?;
            Some((
                r.headers.idempotency_key.clone().unwrap(),
                ChangeEvent::decode(payload.as_slice()).unwrap(),
            ))
        })
        .collect()
}

/// A read condition: every id in `want` has an event.
fn ids_cover(mut want: BTreeSet<i64>) -> impl FnMut(&[InboundRecord]) -> bool {
    let mut scanned = 0;
    move |records| {
        for r in &records[scanned..] {
            if let Some(p) = &r.payload {
                want.remove(&int_key(&ChangeEvent::decode(p.as_slice()).unwrap()));
            }
        }
        scanned = records.len();
        want.is_empty()
    }
}

/// Reads for `quiet` more and returns how many records arrived meanwhile.
async fn settle(reader: &mut TopicReader, quiet: Duration) -> usize {
    let before = reader.records.len();
    let deadline = tokio::time::Instant::now() + quiet;
    let _ = tokio::time::timeout_at(deadline, async {
        loop {
            let n = reader.records.len();
            reader
                .read_until(Duration::from_secs(3600), |r| r.len() > n)
                .await;
        }
    })
    .await;
    reader.records.len() - before
}

/// Counts events per id and checks each event's `noi_dung` is `dòng <id>`.
fn count_by_id(events: &[ChangeEvent]) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for e in events {
        let id = int_key(e);
        if let Some(after) = &e.after {
            assert_eq!(
                text(after, "noi_dung"),
                format!("dòng {id}"),
                "content of {id}"
            );
        }
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread")]
async fn initial_load_then_increments_postgres() {
    let db = Source::postgres("poll_incr").await;
    db.exec(
        "CREATE TABLE can_bo (
            id int8 PRIMARY KEY, ho_ten text NOT NULL, he_so numeric(5,2),
            tao_luc timestamptz NOT NULL, cap_nhat timestamptz NOT NULL
         );
         INSERT INTO can_bo VALUES
           (1, 'Nguyễn Văn An', 4.98, '2025-07-01 08:00:00+07', '2025-07-01 08:00:00+07'),
           (2, 'Trần Thị Bình', 2.34, '2025-07-01 08:00:01+07', '2025-07-01 08:00:01+07'),
           (3, 'Lê Văn Cường', 3.00, '2025-07-01 08:00:02+07', '2025-07-01 08:00:02+07');",
    )
    .await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{
            "table": "public.can_bo",
            "cursor": ["cap_nhat"],
            "created_column": "tao_luc",
        }]),
        serde_json::json!({}),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic("public.can_bo")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 3)
        .await;
    let events = reader.events();
    assert!(
        events.iter().all(|e| e.op == Operation::Read as i32),
        "{events:?}"
    );
    let first = events.iter().find(|e| int_key(e) == 1).unwrap();
    let after = first.after.as_ref().unwrap();
    assert_eq!(text(after, "ho_ten"), "Nguyễn Văn An");
    assert_eq!(
        column(after, "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "4.98".into()
        })
    );
    // 08:00 at +07 is 01:00 UTC; the commit time of a polled row is its timestamp cursor.
    assert!(
        matches!(column(after, "cap_nhat"), value::Kind::TimestampValue(t) if t.seconds == 1_751_331_600)
    );
    assert_eq!(first.commit_time.unwrap().seconds, 1_751_331_600);
    assert_eq!(first.schema, "public");
    assert_eq!(first.table, "can_bo");
    assert_eq!(first.schema_version, 1);
    let Some(source_position::Kind::Poll(position)) =
        first.position.as_ref().and_then(|p| p.kind.as_ref())
    else {
        panic!("not a poll cursor: {:?}", first.position)
    };
    assert_eq!(position.cursor.len(), 2, "cursor value, then the key");
    assert_eq!(
        position.cursor[1].kind,
        Some(value::Kind::IntValue(1)),
        "{position:?}"
    );
    assert!(position.poll_sequence >= 1);
    for r in &reader.records {
        assert!(r.headers.idempotency_key.is_some());
        assert!(r.headers.source_position.is_some());
    }

    // Increments: a new row (created after the previous poll: INSERT) and a changed one
    // (created before: UPDATE).
    db.exec(
        "INSERT INTO can_bo VALUES (4, 'Phạm Thị Dung', 1.00, now(), now());
         UPDATE can_bo SET he_so = 5.08, cap_nhat = now() WHERE id = 1;",
    )
    .await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 5)
        .await;
    let events = reader.events();
    let changes: BTreeMap<i64, &ChangeEvent> =
        events[3..].iter().map(|e| (int_key(e), e)).collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes[&4].op, Operation::Insert as i32);
    assert_eq!(changes[&1].op, Operation::Update as i32);
    assert_eq!(
        column(changes[&1].after.as_ref().unwrap(), "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "5.08".into()
        })
    );
    // Later polls re-read the safety window and publish nothing again.
    assert_eq!(settle(&mut reader, Duration::from_secs(3)).await, 0);
    assert!(connector.metrics.rows_polled.get() >= 5);
    assert_eq!(connector.metrics.events.get(), 5);
    connector.stop().await.unwrap();
    db.finish().await;
}

/// A column added to a polled table: the next rows carry it under a new schema version.
#[tokio::test(flavor = "multi_thread")]
async fn schema_change_is_a_new_version_postgres() {
    let db = Source::postgres("poll_ddl").await;
    db.exec(
        "CREATE TABLE don_vi (id int4 PRIMARY KEY, ten text NOT NULL, cap_nhat int8 NOT NULL);
         INSERT INTO don_vi VALUES (1, 'Sở Nội vụ', 1);",
    )
    .await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{ "table": "public.don_vi", "cursor": ["cap_nhat"] }]),
        serde_json::json!({}),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic("public.don_vi")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 1)
        .await;
    db.exec(
        "ALTER TABLE don_vi ADD COLUMN ma_tinh varchar(3);
         INSERT INTO don_vi VALUES (2, 'Sở Tư pháp', 2, '001');",
    )
    .await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 2)
        .await;
    let events = reader.events();
    assert_eq!(events[0].schema_version, 1);
    assert_eq!(events[0].after.as_ref().unwrap().columns.len(), 3);
    assert_eq!(events[1].schema_version, 2);
    assert_eq!(text(events[1].after.as_ref().unwrap(), "ma_tinh"), "001");
    assert!(events[1].table_schema.iter().any(|c| c.name == "ma_tinh"));
    connector.stop().await.unwrap();
    db.finish().await;
}

/// Many rows sharing one timestamp, read in pages much smaller than the group; then more rows
/// with the same timestamp, some with keys above the cursor's, some below it (committed late:
/// only the safety window finds those). Every row once, none twice.
async fn equal_timestamps(db: Source) {
    let schema = db.schema();
    db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text NOT NULL, cap_nhat varchar(30) NOT NULL)")
        .await;
    let insert = |from: i64, to: i64, at: &str| {
        let rows: Vec<String> = (from..to)
            .map(|i| format!("({i}, 'dòng {i}', '{at}')"))
            .collect();
        format!("INSERT INTO nhat_ky VALUES {}", rows.join(", "))
    };
    db.exec(&insert(1000, 1250, "2025-07-01 08:00:00")).await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{ "table": format!("{schema}.nhat_ky"), "cursor": ["cap_nhat"] }]),
        serde_json::json!({ "batch_size": 40 }),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic(&format!("{schema}.nhat_ky"))).await;
    reader
        .read_until(Duration::from_secs(60), ids_cover((1000..1250).collect()))
        .await;
    // Same timestamp, keys above the last one read, and below the first one.
    db.exec(&insert(1250, 1300, "2025-07-01 08:00:00")).await;
    db.exec(&insert(900, 950, "2025-07-01 08:00:00")).await;
    // A later timestamp, across pages again.
    db.exec(&insert(2000, 2130, "2025-07-01 08:00:05")).await;
    let want: BTreeSet<i64> = (900..950).chain(1000..1300).chain(2000..2130).collect();
    reader
        .read_until(Duration::from_secs(60), ids_cover(want.clone()))
        .await;
    settle(&mut reader, Duration::from_secs(2)).await;
    let seen = count_by_id(&reader.events());
    assert_eq!(seen.keys().copied().collect::<BTreeSet<_>>(), want);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "published more than once: {twice:?}");
    assert_eq!(
        connector.metrics.late_rows.get(),
        50,
        "ids 900..950 came in late"
    );
    connector.stop().await.unwrap();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn equal_timestamps_across_pages_postgres() {
    equal_timestamps(Source::postgres("poll_eq").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn equal_timestamps_across_pages_sqlite() {
    equal_timestamps(Source::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn equal_timestamps_across_pages_mariadb() {
    equal_timestamps(Source::mariadb().await).await;
}

/// The `updated_at` race: a transaction writes a timestamp, another writes a later one and
/// commits first, the connector passes both... then the first commits. Inside the safety window
/// it is published; with no window it is lost, which is what the window is for.
#[tokio::test(flavor = "multi_thread")]
async fn row_committed_after_the_cursor_passed_it_postgres() {
    for window_ms in [60_000u64, 0] {
        let db = Source::postgres("poll_late").await;
        db.exec("CREATE TABLE ho_so (id int8 PRIMARY KEY, noi_dung text NOT NULL, cap_nhat timestamptz NOT NULL)")
            .await;
        let Source::Postgres(pg) = &db else {
            unreachable!()
        };
        let poll = Poll::new(
            &db.url(),
            serde_json::json!([{ "table": "public.ho_so", "cursor": ["cap_nhat"] }]),
            serde_json::json!({ "safety_window_ms": window_ms }),
        );
        let connector = poll.start();
        let mut slow = pg.connect().await;
        sqlx::raw_sql(
            "BEGIN; INSERT INTO ho_so VALUES (1, 'dòng 1', now() - interval '5 seconds')",
        )
        .execute(&mut slow)
        .await
        .unwrap();
        db.exec("INSERT INTO ho_so VALUES (2, 'dòng 2', now())")
            .await;
        let mut reader = TopicReader::new(&poll.topic("public.ho_so")).await;
        reader
            .read_until(Duration::from_secs(60), ids_cover([2].into()))
            .await;
        // The cursor is past row 1's timestamp now.
        sqlx::raw_sql("COMMIT").execute(&mut slow).await.unwrap();
        if window_ms > 0 {
            reader
                .read_until(Duration::from_secs(30), ids_cover([1].into()))
                .await;
            settle(&mut reader, Duration::from_secs(2)).await;
            let seen = count_by_id(&reader.events());
            assert_eq!(seen, BTreeMap::from([(1, 1), (2, 1)]));
            assert_eq!(connector.metrics.late_rows.get(), 1);
        } else {
            settle(&mut reader, Duration::from_secs(3)).await;
            let seen = count_by_id(&reader.events());
            assert_eq!(
                seen,
                BTreeMap::from([(2, 1)]),
                "without a window the late row is lost"
            );
        }
        connector.stop().await.unwrap();
        drop(slow);
        db.finish().await;
    }
}

/// A soft-deleted row becomes a delete (the row as before image) followed by a tombstone.
async fn soft_delete(db: Source) {
    let schema = db.schema();
    db.exec(
        "CREATE TABLE don_vi (id int8 PRIMARY KEY, noi_dung text NOT NULL, da_xoa int NOT NULL DEFAULT 0, cap_nhat int8 NOT NULL);
         INSERT INTO don_vi (id, noi_dung, cap_nhat) VALUES (1, 'dòng 1', 1), (2, 'dòng 2', 2), (3, 'dòng 3', 3);",
    )
    .await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{
            "table": format!("{schema}.don_vi"),
            "cursor": ["cap_nhat"],
            "soft_delete": { "column": "da_xoa", "deleted_value": 1 },
        }]),
        serde_json::json!({}),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic(&format!("{schema}.don_vi"))).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 3)
        .await;
    db.exec("UPDATE don_vi SET da_xoa = 1, cap_nhat = 4 WHERE id = 2")
        .await;
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 5)
        .await;
    let delete = ChangeEvent::decode(reader.records[3].payload.as_deref().unwrap()).unwrap();
    assert_eq!(delete.op, Operation::Delete as i32);
    assert_eq!(int_key(&delete), 2);
    assert!(delete.after.is_none());
    assert_eq!(text(delete.before.as_ref().unwrap(), "noi_dung"), "dòng 2");
    let tombstone = &reader.records[4];
    assert_eq!(tombstone.payload, None);
    assert_eq!(tombstone.key, reader.records[3].key);
    assert_eq!(record_key_id(tombstone), 2);
    assert_eq!(settle(&mut reader, Duration::from_secs(2)).await, 0);
    connector.stop().await.unwrap();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_delete_becomes_delete_and_tombstone_postgres() {
    soft_delete(Source::postgres("poll_soft").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_delete_becomes_delete_and_tombstone_sqlite() {
    soft_delete(Source::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_delete_becomes_delete_and_tombstone_mariadb() {
    soft_delete(Source::mariadb().await).await;
}

/// Rows deleted outright are found by the full compare: one delete and one tombstone each,
/// for exactly those rows, and not again at the next compare.
async fn full_compare(db: Source) {
    let schema = db.schema();
    db.exec(
        "CREATE TABLE ho_so (id int8 PRIMARY KEY, noi_dung text NOT NULL, cap_nhat int8 NOT NULL)",
    )
    .await;
    let rows: Vec<String> = (1..=30)
        .map(|i| format!("({i}, 'dòng {i}', {i})"))
        .collect();
    db.exec(&format!("INSERT INTO ho_so VALUES {}", rows.join(", ")))
        .await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{ "table": format!("{schema}.ho_so"), "cursor": ["cap_nhat"] }]),
        serde_json::json!({ "full_compare_interval_ms": 1000 }),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic(&format!("{schema}.ho_so"))).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 30)
        .await;
    db.exec("DELETE FROM ho_so WHERE id IN (3, 7, 11, 29)")
        .await;
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 38)
        .await;
    let deletes: BTreeMap<i64, ChangeEvent> = reader.records[30..]
        .iter()
        .filter_map(|r| r.payload.as_ref())
        .map(|p| ChangeEvent::decode(p.as_slice()).unwrap())
        .map(|e| (int_key(&e), e))
        .collect();
    assert_eq!(deletes.keys().copied().collect::<Vec<_>>(), [3, 7, 11, 29]);
    for (id, e) in &deletes {
        assert_eq!(e.op, Operation::Delete as i32);
        assert_eq!(
            text(e.before.as_ref().unwrap(), "noi_dung"),
            format!("dòng {id}")
        );
    }
    let tombstones: BTreeSet<i64> = reader.records[30..]
        .iter()
        .filter(|r| r.payload.is_none())
        .map(record_key_id)
        .collect();
    assert_eq!(tombstones, [3, 7, 11, 29].into());
    // Later compares find nothing more; a new row is polled as usual.
    let compares = connector.metrics.full_compares.get();
    db.exec("INSERT INTO ho_so VALUES (31, 'dòng 31', 31)")
        .await;
    reader
        .read_until(Duration::from_secs(30), ids_cover([31].into()))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while connector.metrics.full_compares.get() < compares + 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no further compare ran"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(connector.metrics.full_compare_deletes.get(), 4);
    assert_eq!(settle(&mut reader, Duration::from_secs(1)).await, 0);
    assert_eq!(reader.records.len(), 39);
    connector.stop().await.unwrap();
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_compare_finds_hard_deletes_postgres() {
    full_compare(Source::postgres("poll_cmp").await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_compare_finds_hard_deletes_sqlite() {
    full_compare(Source::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn full_compare_finds_hard_deletes_mariadb() {
    full_compare(Source::mariadb().await).await;
}

/// MariaDB typed columns: an unsigned key, an exact decimal, a `DATETIME(6)` cursor shared by
/// more rows than a page (bound back through `CAST(? AS DATETIME(6))`), and a row that appears
/// below the cursor inside the safety window, which is what a late commit looks like.
#[tokio::test(flavor = "multi_thread")]
async fn datetime_cursor_and_late_row_mariadb() {
    let db = Source::mariadb().await;
    let schema = db.schema();
    let rows: Vec<String> = (1000..1150)
        .map(|i| {
            format!(
                "({i}, 'dòng {i}', {}.{:02}, '2025-07-01 08:00:00.250000')",
                i % 10,
                i % 100
            )
        })
        .collect();
    db.exec(&format!(
        "CREATE TABLE nhat_ky (id BIGINT UNSIGNED PRIMARY KEY, noi_dung VARCHAR(100) NOT NULL,
                               he_so DECIMAL(5,2), cap_nhat DATETIME(6) NOT NULL);
         INSERT INTO nhat_ky VALUES {}",
        rows.join(", ")
    ))
    .await;
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{ "table": format!("{schema}.nhat_ky"), "cursor": ["cap_nhat"] }]),
        serde_json::json!({ "batch_size": 40 }),
    );
    let connector = poll.start();
    let mut reader = TopicReader::new(&poll.topic(&format!("{schema}.nhat_ky"))).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 150)
        .await;
    let first = reader
        .events()
        .into_iter()
        .find(|e| {
            e.key[0].value.as_ref().and_then(|v| v.kind.clone())
                == Some(value::Kind::UintValue(1007))
        })
        .unwrap();
    let after = first.after.as_ref().unwrap();
    assert_eq!(
        column(after, "he_so"),
        &value::Kind::DecimalValue(lienthong_proto::v1::Decimal {
            value: "7.07".into()
        })
    );
    assert!(matches!(
        column(after, "cap_nhat"),
        value::Kind::DatetimeValue(dt) if dt.time.as_ref().is_some_and(|t| t.nanos == 250_000_000)
    ));
    // Below the cursor (same microsecond, lower key; and 10 s earlier), inside the window.
    db.exec(
        "INSERT INTO nhat_ky VALUES (5, 'dòng 5', 1.00, '2025-07-01 08:00:00.250000');
         INSERT INTO nhat_ky VALUES (6, 'dòng 6', 1.00, '2025-07-01 07:59:50.000000')",
    )
    .await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 152)
        .await;
    assert_eq!(settle(&mut reader, Duration::from_secs(2)).await, 0);
    let ids: BTreeSet<u64> = reader
        .events()
        .iter()
        .map(
            |e| match e.key[0].value.as_ref().and_then(|v| v.kind.clone()) {
                Some(value::Kind::UintValue(u)) => u,
                other => panic!("{other:?}"),
            },
        )
        .collect();
    assert_eq!(ids, (1000..1150).chain([5, 6]).collect());
    assert_eq!(connector.metrics.late_rows.get(), 2);
    connector.stop().await.unwrap();
    db.finish().await;
}

/// kill -9 of the connector process while rows are written and changed, then restarts: every
/// row arrives with its final content; a row published twice is a true duplicate (same
/// idempotency key, same cursor).
#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_run_loses_nothing() {
    let db = Source::postgres("poll_kill").await;
    db.exec("CREATE TABLE nhat_ky (id int8 PRIMARY KEY, noi_dung text NOT NULL, cap_nhat timestamptz NOT NULL DEFAULT clock_timestamp())")
        .await;
    let Source::Postgres(pg) = &db else {
        unreachable!()
    };
    let poll = Poll::new(
        &db.url(),
        serde_json::json!([{ "table": "public.nhat_ky", "cursor": ["cap_nhat"] }]),
        serde_json::json!({ "batch_size": 50, "poll_interval_ms": 100, "safety_window_ms": 5000 }),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut connector = poll.start_process(&dir.path().join("connector.log"));
    let total: i64 = 3_000;
    let writer = {
        let url = pg.url.clone();
        tokio::spawn(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            let mut id = 0;
            while id < total {
                let end = (id + 7).min(total);
                sqlx::query("INSERT INTO nhat_ky (id, noi_dung) SELECT g, 'tạm ' || g FROM generate_series($1::int8, $2::int8 - 1) g")
                    .bind(id)
                    .bind(end)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                // Each row changes once more after it was inserted (a new cursor value).
                sqlx::query("UPDATE nhat_ky SET noi_dung = 'dòng ' || id, cap_nhat = clock_timestamp() WHERE id >= $1 AND id < $2")
                    .bind(id)
                    .bind(end)
                    .execute(&mut conn)
                    .await
                    .unwrap();
                id = end;
            }
        })
    };
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(500 + rand::random::<u64>() % 1000)).await;
        connector.kill9();
        tokio::time::sleep(Duration::from_millis(200)).await;
        connector.restart();
    }
    writer.await.unwrap();
    let mut reader = TopicReader::new(&poll.topic("public.nhat_ky")).await;
    // Every row's final version ('dòng <id>') arrives.
    let mut want: BTreeSet<i64> = (0..total).collect();
    let mut scanned = 0;
    reader
        .read_until(Duration::from_secs(180), |records| {
            for r in &records[scanned..] {
                if let Some(p) = &r.payload {
                    let e = ChangeEvent::decode(p.as_slice()).unwrap();
                    if e.after
                        .as_ref()
                        .is_some_and(|a| text(a, "noi_dung") == format!("dòng {}", int_key(&e)))
                    {
                        want.remove(&int_key(&e));
                    }
                }
            }
            scanned = records.len();
            want.is_empty()
        })
        .await;
    // Duplicates are true duplicates: the same idempotency key means the same row version.
    let mut by_key: BTreeMap<String, ChangeEvent> = BTreeMap::new();
    for (key, event) in events_with_keys(&reader.records) {
        let content = event.after.clone();
        let Some(source_position::Kind::Poll(position)) =
            event.position.as_ref().and_then(|p| p.kind.clone())
        else {
            panic!("not a poll cursor")
        };
        if let Some(previous) = by_key.get(&key) {
            assert_eq!(previous.after, content, "{key}");
            let Some(source_position::Kind::Poll(before)) =
                previous.position.as_ref().and_then(|p| p.kind.clone())
            else {
                panic!()
            };
            assert_eq!(before.cursor, position.cursor, "{key}");
        } else {
            by_key.insert(key, event);
        }
    }
    // The final content of every row, as the last event of each key says.
    let mut last: BTreeMap<i64, String> = BTreeMap::new();
    for e in reader.events() {
        last.insert(int_key(&e), text(e.after.as_ref().unwrap(), "noi_dung"));
    }
    assert_eq!(last.len(), total as usize);
    for (id, content) in &last {
        assert_eq!(content, &format!("dòng {id}"), "final content of {id}");
    }
    eprintln!(
        "{} events for {} row versions of {total} rows",
        event_count(&reader.records),
        by_key.len()
    );
    connector.kill9();
    db.finish().await;
}

/// `lienthong source-poll` and `lienthong validate` as an operator runs them: a SQLite file
/// polled by the CLI process, changes arriving, a clean exit on SIGTERM.
#[tokio::test(flavor = "multi_thread")]
async fn cli_polls_a_sqlite_file_and_validate_names_the_missing_index() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hr.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    conn.execute(
        "CREATE TABLE can_bo (id INTEGER PRIMARY KEY, ho_ten TEXT NOT NULL, cap_nhat INTEGER NOT NULL);
         INSERT INTO can_bo VALUES (1, 'Nguyễn Văn An', 10), (2, 'Trần Thị Bình', 11);",
    )
    .await
    .unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let source = format!("c{tag}");
    let config = dir.path().join("lienthong.toml");
    let write_config = || {
        std::fs::write(
            &config,
            format!(
                r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
[kafka.topics.default]
partitions = 1
replication_factor = 1
[state]
topic = "lienthong.state.{tag}"
[databases.hr]
url = "sqlite://{file}"
[source_poll.{source}]
database = "hr"
poll_interval_ms = 200
[[source_poll.{source}.tables]]
table = "main.can_bo"
cursor = ["cap_nhat"]
"#,
                broker = lienthong_tests::stack::broker(),
                file = file.display(),
            ),
        )
        .unwrap();
    };
    write_config();
    let config_path = config.display().to_string();

    // Without the (cursor, key) index, validate says which statement creates it.
    let out = lienthong_tests::lienthong(&["validate", "--config", &config_path], &[]);
    let (stdout, stderr) = lienthong_tests::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("FAIL  source    {source}: "))
                && l.contains("CREATE INDEX")),
        "{stdout}"
    );
    conn.execute("CREATE INDEX can_bo_cap_nhat ON can_bo (cap_nhat, id)")
        .await
        .unwrap();
    let out = lienthong_tests::lienthong(&["validate", "--config", &config_path], &[]);
    let (stdout, stderr) = lienthong_tests::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let mut service = lienthong_tests::process::Service::start(
        &["source-poll", "--config", &config_path],
        &dir.path().join("connector.log"),
    );
    let mut reader = TopicReader::new(&format!("cdc.{source}.main.can_bo")).await;
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 2)
        .await;
    conn.execute("INSERT INTO can_bo VALUES (3, 'Lê Văn Cường', 12); UPDATE can_bo SET ho_ten = 'Nguyễn Văn Ân', cap_nhat = 13 WHERE id = 1")
        .await
        .unwrap();
    reader
        .read_until(Duration::from_secs(60), |r| event_count(r) >= 4)
        .await;
    let events: Vec<ChangeEvent> = reader.events();
    let ops: Vec<(i64, Operation)> = events.iter().map(|e| (int_key(e), e.op())).collect();
    assert_eq!(&ops[..2], &[(1, Operation::Read), (2, Operation::Read)]);
    assert_eq!(ops[2].0, 3);
    assert_eq!(ops[3].0, 1);
    assert_eq!(
        text(events[3].after.as_ref().unwrap(), "ho_ten"),
        "Nguyễn Văn Ân"
    );
    assert!(
        service.terminate().is_some_and(|s| s.success()),
        "{}",
        service.log()
    );
}
