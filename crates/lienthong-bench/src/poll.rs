//! The polling connector: reading a table of rows it has not seen into the broker, in pages of
//! a given size, beside the raw producer ceiling for events of the same sizes.

use std::time::{Duration, Instant};

use anyhow::bail;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::topics::{TopicReader, kafka_config_for};

use crate::Args;
use crate::postgres::{metric_value, raw_producer_seconds};
use crate::report::{Report, per_second};
use crate::service::Connector;

/// The PostgreSQL benchmark's six columns, with a cursor index as a polled table needs.
const TABLE_SQL: &str = "CREATE TABLE nhat_ky (
    id int8 PRIMARY KEY, ho_ten text, ngay_sinh date, he_so numeric(5,2),
    cap_nhat timestamptz NOT NULL, ghi_chu text);
    CREATE INDEX nhat_ky_cap_nhat ON nhat_ky (cap_nhat, id)";

/// Rows `from..to`, one second apart in `cap_nhat` (a table's history, not one burst).
fn insert_sql(from: i64, to: i64) -> String {
    format!(
        "INSERT INTO nhat_ky SELECT g, 'Nguyễn Văn ' || g, date '1970-01-01' + (g % 15000)::int,
         (g % 900)::numeric / 100 + 1, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second',
         'ghi chú số ' || g FROM generate_series({from}, {to} - 1) g"
    )
}

/// Page sizes measured.
const BATCH_SIZES: [u32; 2] = [1_000, 5_000];

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!(
        "lienthong-bench-poll-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work)?;
    let broker = PrivateBroker::start(&work.join("broker"));
    let kafka = kafka_config_for(&broker.address());
    let db = TestDatabase::create("lt_bench_poll").await;
    db.exec(TABLE_SQL).await;
    println!("writing {} rows to poll...", args.rows);
    let mut id = 0;
    while id < args.rows {
        let to = (id + args.rows_per_transaction).min(args.rows);
        db.exec(&insert_sql(id, to)).await;
        id = to;
    }
    db.exec("ANALYZE nhat_ky").await;

    let mut rows = Vec::new();
    let mut sizes = (0, 0);
    let mut first_rate = None;
    for batch_size in BATCH_SIZES {
        // A source id of its own per run: its own topic and no saved cursor.
        let source = format!("bench{batch_size}");
        let topic = format!("cdc.{source}.public.nhat_ky");
        let health_port = lienthong_tests::free_port();
        let config = work.join(format!("{source}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"
[health]
enabled = true
listen = "127.0.0.1:{health_port}"
[kafka]
bootstrap_servers = "{broker}"
[kafka.topics.default]
partitions = 1
replication_factor = 1
[state]
topic = "lienthong.state"
[databases.src]
url = "{url}"
[source_poll.{source}]
database = "src"
batch_size = {batch_size}
poll_interval_ms = 200
[[source_poll.{source}.tables]]
table = "public.nhat_ky"
cursor = ["cap_nhat"]
"#,
                broker = broker.address(),
                url = db.url,
            ),
        )?;
        let metrics_url = format!("127.0.0.1:{health_port}");
        let log = work.join(format!("{source}.log"));
        println!("polling the table in pages of {batch_size}...");
        // Timed by the connector's own count of events acknowledged by the broker, read from
        // its /metrics every 20 ms; the topic is counted afterwards by a consumer, outside the
        // clock.
        let started = Instant::now();
        let connector = Connector::start(&args.lienthong, "source-poll", &config, &log)?;
        let mut last_report = Instant::now();
        loop {
            let events = metric_value(&metrics_url, "lienthong_source_poll_events_total")
                .await
                .unwrap_or(0.0);
            if events >= args.rows as f64 {
                break;
            }
            if started.elapsed() > Duration::from_secs(900) {
                bail!("the table was not read within 900 s ({events} events)");
            }
            if last_report.elapsed() > Duration::from_secs(5) {
                println!(
                    "  {:.0} s: {events} events",
                    started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        connector.stop();
        let mut reader = TopicReader::on(&broker.address(), &topic).await;
        reader
            .read_until(Duration::from_secs(300), |r| r.len() as i64 >= args.rows)
            .await;
        anyhow::ensure!(
            reader.records.len() as i64 == args.rows,
            "{} events in {topic}, {} expected",
            reader.records.len(),
            args.rows
        );
        let sample = &reader.records[..1_000.min(reader.records.len())];
        sizes = (
            sample
                .iter()
                .map(|r| r.key.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
                / sample.len(),
            sample
                .iter()
                .map(|r| r.payload.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
                / sample.len(),
        );
        first_rate.get_or_insert(args.rows as f64 / seconds);
        rows.push([
            format!("rows polled into the broker, pages of {batch_size}"),
            per_second(args.rows as f64, seconds),
            format!("{seconds:.1} s for {} rows", args.rows),
        ]);
    }

    println!("raw producer ceiling...");
    let (key_len, payload_len) = sizes;
    let raw_seconds = raw_producer_seconds(&kafka, args.rows, key_len, payload_len).await?;
    rows.push([
        "raw producer ceiling".into(),
        per_second(args.rows as f64, raw_seconds),
        format!(
            "first polling run / ceiling = {:.2}",
            first_rate.unwrap_or(0.0) / (args.rows as f64 / raw_seconds)
        ),
    ]);
    report.section(
        "Polling connector",
        &format!(
            "A PostgreSQL table of {rows} rows (six columns: int8, text, date, numeric, timestamptz, text; `cap_nhat` one second apart, indexed with the key) that the connector has not read yet; then `lienthong source-poll` (release build) starts and reads it by keyset pages ordered by (`cap_nhat`, `id`) into the broker. The time runs from process start until the connector's own counter says every row's event was acknowledged by the broker (each page's cursor is saved only after that); a consumer then checks that the topic holds every event. Each event is a protobuf `ChangeEvent` of {payload_len} bytes with a {key_len}-byte key. Beside it, in the same run: the raw producer ceiling (the same producer settings, records of the same sizes, no database).",
            rows = args.rows,
        ),
        rows,
    );

    drop(broker);
    db.drop_with_slot("none").await;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
