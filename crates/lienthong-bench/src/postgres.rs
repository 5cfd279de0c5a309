//! The PostgreSQL connector: draining a backlog of row changes into the broker, beside the raw
//! producer ceiling and PostgreSQL's own logical-decoding rate for the same backlog; then the
//! commit-to-consumer latency at a fixed rate.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use lienthong_proto::v1::ChangeEvent;
use lienthong_runtime::kafka::{EventProducer, OutboundRecord, RecordHeaders, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::topics::{TopicReader, kafka_config_for};
use prost::Message as _;

use crate::Args;
use crate::report::{Report, per_second};
use crate::service::{Connector, wait_for_log};

const TABLE_SQL: &str = "CREATE TABLE nhat_ky (
    id int8 PRIMARY KEY, ho_ten text, ngay_sinh date, he_so numeric(5,2),
    cap_nhat timestamptz, ghi_chu text)";

/// Six columns of realistic civil-servant-like data.
fn insert_sql(from: i64, to: i64) -> String {
    format!(
        "INSERT INTO nhat_ky SELECT g, 'Nguyễn Văn ' || g, date '1970-01-01' + (g % 15000)::int,
         (g % 900)::numeric / 100 + 1, now(), 'ghi chú số ' || g FROM generate_series({from}, {to} - 1) g"
    )
}

/// Cumulative bucket counts `(upper bound, count)` of the connector's commit-to-acknowledgement
/// histogram, from its `/metrics` endpoint.
async fn commit_to_ack_buckets(address: &str) -> anyhow::Result<Vec<(f64, u64)>> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    let mut buckets = Vec::new();
    for line in body.lines() {
        let Some(rest) =
            line.strip_prefix("lienthong_source_postgres_commit_to_ack_seconds_bucket{")
        else {
            continue;
        };
        let le = rest
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .context("bucket without le")?;
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse()?
        };
        let count: u64 = line
            .rsplit(' ')
            .next()
            .context("bucket without count")?
            .parse()?;
        buckets.push((bound, count));
    }
    anyhow::ensure!(
        !buckets.is_empty(),
        "no commit-to-ack histogram in /metrics"
    );
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(buckets)
}

/// The `q` quantile of a cumulative histogram, interpolated linearly inside its bucket (as
/// Prometheus' `histogram_quantile` does).
fn histogram_quantile(buckets: &[(f64, u64)], q: f64) -> f64 {
    let Some(&(_, total)) = buckets.last() else {
        return f64::NAN;
    };
    if total == 0 {
        return f64::NAN;
    }
    let rank = q * total as f64;
    let mut lower = (0.0, 0u64);
    for &(bound, count) in buckets {
        if count as f64 >= rank {
            if bound.is_infinite() {
                return lower.0;
            }
            let inside = (count - lower.1) as f64;
            let fraction = if inside > 0.0 {
                (rank - lower.1 as f64) / inside
            } else {
                0.0
            };
            return lower.0 + (bound - lower.0) * fraction;
        }
        lower = (bound, count);
    }
    lower.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Seconds the runtime's producer (the connectors' settings, idempotent, acks=all) takes to have
/// `count` records of the given sizes acknowledged by the broker: the ceiling of any connector
/// writing such events, measured without a database.
pub async fn raw_producer_seconds(
    kafka: &lienthong_runtime::kafka::KafkaConfig,
    count: i64,
    key_len: usize,
    payload_len: usize,
) -> anyhow::Result<f64> {
    let admin = TopicAdmin::new(kafka)?;
    let raw_topic = "bench.raw";
    admin.ensure_topics(&[raw_topic]).await?;
    let producer = EventProducer::new(kafka, "bench", KafkaMetrics::default())?;
    let key = vec![7u8; key_len];
    let payload = vec![42u8; payload_len];
    let raw_started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(100_000);
    let acker = tokio::spawn(async move {
        let mut failures = 0u64;
        while let Some(p) = rx.recv().await {
            let p: lienthong_runtime::kafka::PendingDelivery = p;
            if p.acknowledged().await.is_err() {
                failures += 1;
            }
        }
        failures
    });
    for i in 0..count {
        let pending = producer
            .enqueue(OutboundRecord {
                topic: raw_topic,
                key: Some(&key),
                payload: Some(&payload),
                headers: RecordHeaders::with_idempotency_key(format!("bench:{i}")),
            })
            .await?;
        tx.send(pending).await?;
    }
    drop(tx);
    let failures = acker.await?;
    let seconds = raw_started.elapsed().as_secs_f64();
    anyhow::ensure!(failures == 0, "{failures} raw records failed");
    Ok(seconds)
}

/// A counter's value summed over its label sets, from a service's `/metrics` endpoint.
/// The text a service's `/metrics` answers (headers included).
pub async fn metrics_text(address: &str) -> anyhow::Result<String> {
    crate::service::http_get(address, "/metrics").await
}

pub async fn metric_value(address: &str, name: &str) -> anyhow::Result<f64> {
    let body = metrics_text(address).await?;
    let mut total = 0.0;
    for line in body.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if rest.starts_with('{') || rest.starts_with(' ') {
            total += rest
                .rsplit(' ')
                .next()
                .context("sample without value")?
                .parse::<f64>()?;
        }
    }
    Ok(total)
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let work =
        std::env::temp_dir().join(format!("lienthong-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&work)?;
    let broker = PrivateBroker::start(&work.join("broker"));
    let kafka = kafka_config_for(&broker.address());
    let db = TestDatabase::create("lt_bench").await;
    db.exec(TABLE_SQL).await;
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let slot = format!("lt_test_bench_{tag}");
    let recv_slot = format!("lt_test_recv_{tag}");
    let publication = format!("lt_bench_{tag}");
    let config = work.join("lienthong.toml");
    let health_port = lienthong_tests::free_port();
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
[source_postgres.bench]
database = "src"
slot = "{slot}"
publication = "{publication}"
tables = ["public.nhat_ky"]
max_in_flight = 100000
status_interval_ms = 100
spill_dir = "{spill}"
[source_postgres.bench.snapshot]
mode = "never"
"#,
            broker = broker.address(),
            url = db.url,
            spill = work.join("spill").display(),
        ),
    )?;
    let metrics_url = format!("127.0.0.1:{health_port}");
    let log = work.join("connector.log");
    let topic = "cdc.bench.public.nhat_ky";

    // The connector creates slot and publication; PostgreSQL's own decoder gets a slot too.
    let connector = Connector::start(&args.lienthong, "source-postgres", &config, &log)?;
    wait_for_log(&log, "streaming changes")?;
    connector.stop();
    let mut conn = db.connect().await;
    sqlx::query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')")
        .bind(&recv_slot)
        .execute(&mut conn)
        .await?;

    println!("writing a backlog of {} rows...", args.rows);
    let mut id = 0;
    // A WAL position inside the last transaction: once the slot's confirmed position passes
    // it, the connector has had every event of the backlog acknowledged by the broker.
    let mut inside_last = String::new();
    while id < args.rows {
        let to = (id + args.rows_per_transaction).min(args.rows);
        if to == args.rows {
            let mut tx = sqlx::Connection::begin(&mut conn).await?;
            sqlx::query(&insert_sql(id, to)).execute(&mut *tx).await?;
            inside_last = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
        } else {
            sqlx::query(&insert_sql(id, to)).execute(&mut conn).await?;
        }
        id = to;
    }
    let end_lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(&mut conn)
        .await?;

    println!("pg_recvlogical over the same backlog...");
    let recv_started = Instant::now();
    let status = Command::new("pg_recvlogical")
        .args(["--dbname"])
        .arg(format!(
            "host=127.0.0.1 port={} user=lienthong password=lienthong dbname={}",
            std::env::var("LIENTHONG_PG_PORT").unwrap_or_else(|_| "55432".into()),
            db.name
        ))
        .args([
            "--slot",
            &recv_slot,
            "--start",
            "--no-loop",
            "--endpos",
            &end_lsn,
        ])
        .args(["-o", "proto_version=1", "-o"])
        .arg(format!("publication_names={publication}"))
        .args(["-f"])
        .arg(work.join("recvlogical.out"))
        .status()
        .context("running pg_recvlogical")?;
    let recv_seconds = recv_started.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "pg_recvlogical failed: {status}");

    println!("draining the backlog through the connector...");
    // Timed by the slot: the connector confirms a position only after the broker acknowledged
    // every event before it, and reports it every 100 ms. The events are counted afterwards by
    // a consumer (tansu 0.6.0 reports end offsets short of the newest batch), outside the clock.
    let drain_started = Instant::now();
    let connector = Connector::start(&args.lienthong, "source-postgres", &config, &log)?;
    let mut last_report = Instant::now();
    loop {
        let passed: Option<bool> = sqlx::query_scalar(
            "SELECT confirmed_flush_lsn > $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
        )
        .bind(&slot)
        .bind(&inside_last)
        .fetch_optional(&mut conn)
        .await?
        .flatten();
        if passed == Some(true) {
            break;
        }
        if drain_started.elapsed() > Duration::from_secs(600) {
            bail!("the backlog was not drained within 600 s");
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!("  {:.0} s", drain_started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    let mut reader = TopicReader::on(&broker.address(), topic).await;
    reader
        .read_until(Duration::from_secs(300), |r| r.len() as i64 >= args.rows)
        .await;
    anyhow::ensure!(
        reader.records.len() as i64 == args.rows,
        "{} events in the topic, {} expected",
        reader.records.len(),
        args.rows
    );

    // Event sizes, for the producer ceiling.
    let sample = &reader.records[..1_000];
    let key_len = sample
        .iter()
        .map(|r| r.key.as_ref().map_or(0, Vec::len))
        .sum::<usize>()
        / sample.len();
    let payload_len = sample
        .iter()
        .map(|r| r.payload.as_ref().map_or(0, Vec::len))
        .sum::<usize>()
        / sample.len();

    println!("raw producer ceiling...");
    let raw_seconds = raw_producer_seconds(&kafka, args.rows, key_len, payload_len).await?;

    println!("steady-state latency at {} rows/s...", args.steady_rate);
    let acks_before = commit_to_ack_buckets(&metrics_url).await?;
    let mut latencies = Vec::new();
    let steady_from = args.rows;
    let steady_rows = (args.steady_rate * args.steady_seconds) as i64;
    let writer = {
        let url = db.url.clone();
        let rate = args.steady_rate;
        tokio::spawn(async move {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await?;
            let per_tick = (rate / 100).max(1) as i64;
            let mut ticker = tokio::time::interval(Duration::from_millis(10));
            let mut id = steady_from;
            while id < steady_from + steady_rows {
                ticker.tick().await;
                let to = (id + per_tick).min(steady_from + steady_rows);
                sqlx::query(&insert_sql(id, to)).execute(&mut conn).await?;
                id = to;
            }
            anyhow::Ok(())
        })
    };
    let mut seen = 0i64;
    let deadline = Instant::now() + Duration::from_secs(args.steady_seconds + 120);
    let mut scanned = reader.records.len();
    while seen < steady_rows && Instant::now() < deadline {
        reader
            .read_until(Duration::from_secs(60), |r| r.len() > scanned)
            .await;
        let now_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64;
        for r in &reader.records[scanned..] {
            let Some(p) = &r.payload else { continue };
            let event = ChangeEvent::decode(p.as_slice())?;
            let id = match event
                .key
                .first()
                .and_then(|c| c.value.as_ref())
                .and_then(|v| v.kind.as_ref())
            {
                Some(lienthong_proto::v1::value::Kind::IntValue(i)) => *i,
                _ => continue,
            };
            if id < steady_from {
                continue;
            }
            if let Some(t) = event.commit_time {
                let commit_us = t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000;
                latencies.push((now_us - commit_us) as f64 / 1_000.0);
                seen += 1;
            }
        }
        scanned = reader.records.len();
    }
    writer.await??;
    let acks_after = commit_to_ack_buckets(&metrics_url).await?;
    connector.stop();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let acks: Vec<(f64, u64)> = acks_after
        .iter()
        .zip(&acks_before)
        .map(|((le, after), (_, before))| (*le, after - before))
        .collect();
    let transactions = acks.last().map_or(0, |(_, n)| *n);

    let events_per_s = args.rows as f64 / drain_seconds;
    let raw_per_s = args.rows as f64 / raw_seconds;
    let recv_per_s = args.rows as f64 / recv_seconds;
    report.section(
        "PostgreSQL connector",
        &format!(
            "A backlog of {rows} inserts in {txs} transactions (six columns: int8, text, date, numeric, timestamptz, text) waits in the slot; then `lienthong source-postgres` (release build) starts and drains it into the broker. The time runs from process start (so it includes start-up) until the slot's confirmed position passes the last transaction: the connector confirms a position only after the broker acknowledged every event before it. A consumer then checks that the topic holds every event. Each event is a protobuf `ChangeEvent` of {payload_len} bytes with a {key_len}-byte key and five headers. Beside it, in the same run: the raw producer ceiling (the same producer settings, records of the same sizes, no database) and PostgreSQL's own logical decoding of the same backlog (`pg_recvlogical` with pgoutput writing to a file). Then rows are inserted at a fixed rate while the connector runs: the connector's own histogram gives each transaction's time from the source commit to the broker's acknowledgement of its last event, and a consumer reading along gives each event's time from the commit to its receipt (which adds the consumer's fetch wait).",
            rows = args.rows,
            txs = args.rows / args.rows_per_transaction,
        ),
        vec![
            [
                "backlog drained into the broker".into(),
                per_second(args.rows as f64, drain_seconds),
                format!("{drain_seconds:.1} s for {} events; target ≥ 50,000/s", args.rows),
            ],
            [
                "raw producer ceiling".into(),
                per_second(args.rows as f64, raw_seconds),
                format!("connector / ceiling = {:.2}", events_per_s / raw_per_s),
            ],
            [
                "PostgreSQL logical decoding (pg_recvlogical)".into(),
                per_second(args.rows as f64, recv_seconds),
                format!("connector / pg_recvlogical = {:.2}", events_per_s / recv_per_s),
            ],
            [
                format!("commit → broker acknowledgement p50 at {} rows/s", args.steady_rate),
                format!("{:.1} ms", histogram_quantile(&acks, 0.50) * 1e3),
                format!(
                    "{transactions} transactions over {} s (the connector's histogram)",
                    args.steady_seconds
                ),
            ],
            [
                format!("commit → broker acknowledgement p99 at {} rows/s", args.steady_rate),
                format!("{:.1} ms", histogram_quantile(&acks, 0.99) * 1e3),
                String::new(),
            ],
            [
                format!("commit → consumer latency p50 at {} rows/s", args.steady_rate),
                format!("{:.1} ms", percentile(&latencies, 0.50)),
                format!("{} events over {} s", latencies.len(), args.steady_seconds),
            ],
            [
                format!("commit → consumer latency p99 at {} rows/s", args.steady_rate),
                format!("{:.1} ms", percentile(&latencies, 0.99)),
                String::new(),
            ],
        ],
    );

    drop(broker);
    let _ = sqlx::query("SELECT pg_drop_replication_slot($1)")
        .bind(&recv_slot)
        .execute(&mut conn)
        .await;
    drop(conn);
    db.drop_with_slot(&slot).await;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::histogram_quantile;

    #[test]
    fn quantiles_interpolate_inside_their_bucket() {
        // 10 observations ≤ 0.01 s, 10 more ≤ 0.02 s, none beyond.
        let buckets = [(0.01, 10), (0.02, 20), (0.05, 20), (f64::INFINITY, 20)];
        assert!((histogram_quantile(&buckets, 0.5) - 0.01).abs() < 1e-12);
        assert!((histogram_quantile(&buckets, 0.75) - 0.015).abs() < 1e-12);
        assert!((histogram_quantile(&buckets, 0.25) - 0.005).abs() < 1e-12);
        assert!(histogram_quantile(&[(0.01, 0), (f64::INFINITY, 0)], 0.5).is_nan());
    }
}
