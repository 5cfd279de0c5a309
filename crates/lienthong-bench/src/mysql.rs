//! The MariaDB/MySQL connector: draining a binlog backlog of row changes into the broker, beside
//! the raw producer ceiling and MariaDB's own binlog reader over the same backlog.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::stack;
use lienthong_tests::topics::{TopicReader, kafka_config_for};
use sqlx::{Connection as _, Executor as _, MySqlConnection};

use crate::Args;
use crate::postgres::{metric_value, raw_producer_seconds};
use crate::report::{Report, per_second};
use crate::service::{Connector, wait_for_log};

const TABLE_SQL: &str = "CREATE TABLE nhat_ky (
    id BIGINT PRIMARY KEY, ho_ten VARCHAR(100), ngay_sinh DATE, he_so DECIMAL(5,2),
    cap_nhat DATETIME(6), ghi_chu VARCHAR(100)) DEFAULT CHARSET=utf8mb4";

/// Six columns of civil-servant-like data, ids `from..to` (MariaDB's sequence engine).
fn insert_sql(from: i64, to: i64) -> String {
    format!(
        "INSERT INTO nhat_ky SELECT seq, CONCAT('Nguyễn Văn ', seq),
         DATE_ADD('1970-01-01', INTERVAL seq % 15000 DAY), (seq % 900) / 100 + 1, NOW(6),
         CONCAT('ghi chú số ', seq) FROM seq_{from}_to_{}",
        to - 1
    )
}

/// User, password, host and port of a `mysql://user:password@host:port/db` URL.
fn url_parts(url: &str) -> anyhow::Result<(String, String, String, String)> {
    let rest = url
        .split_once("://")
        .map(|(_, r)| r)
        .context("URL without scheme")?;
    let (auth, host) = rest.split_once('@').context("URL without user")?;
    let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
    let host = host.split('/').next().unwrap_or(host);
    let (host, port) = host.split_once(':').unwrap_or((host, "3306"));
    Ok((user.into(), password.into(), host.into(), port.into()))
}

/// The server's current binlog file and offset.
async fn binlog_position(conn: &mut MySqlConnection) -> anyhow::Result<(String, u64)> {
    let (file, offset, _, _): (String, u64, String, String) =
        sqlx::query_as("SHOW MASTER STATUS").fetch_one(conn).await?;
    Ok((file, offset))
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let work = std::env::temp_dir().join(format!(
        "lienthong-bench-mysql-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work)?;
    let broker = PrivateBroker::start(&work.join("broker"));
    let kafka = kafka_config_for(&broker.address());
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let database = format!("lt_bench_{tag}");
    let admin_url = stack::mariadb_url();
    let mut admin = MySqlConnection::connect(&admin_url)
        .await
        .with_context(|| format!("{admin_url}: is the local stack up? (`make up`)"))?;
    admin
        .execute(format!("CREATE DATABASE {database}").as_str())
        .await?;
    let base = admin_url.rsplit_once('/').map_or(&*admin_url, |(b, _)| b);
    let url = format!("{base}/{database}");
    let mut conn = MySqlConnection::connect(&url).await?;
    conn.execute(TABLE_SQL).await?;

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
[source_mysql.bench]
database = "src"
server_id = {server_id}
tables = ["{database}.nhat_ky"]
max_in_flight = 100000
position_save_interval_ms = 200
[source_mysql.bench.snapshot]
mode = "never"
"#,
            broker = broker.address(),
            server_id = 200_000 + rand::random::<u32>() % 1_000_000,
        ),
    )?;
    let metrics_url = format!("127.0.0.1:{health_port}");
    let log = work.join("connector.log");
    let topic = format!("cdc.bench.{database}.nhat_ky");

    // A first run saves a position before the backlog; the second run drains from it.
    let connector = Connector::start(&args.lienthong, "source-mysql", &config, &log)?;
    wait_for_log(&log, "streaming changes")?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    connector.stop();
    let (file, start_offset) = binlog_position(&mut conn).await?;

    let transactions = args.rows / args.rows_per_transaction;
    println!("writing a binlog backlog of {} rows...", args.rows);
    let mut id = 0;
    while id < args.rows {
        let to = (id + args.rows_per_transaction).min(args.rows);
        conn.execute(insert_sql(id, to).as_str()).await?;
        id = to;
    }
    let (end_file, end_offset) = binlog_position(&mut conn).await?;

    println!("mariadb-binlog over the same backlog...");
    let (user, password, host, port) = url_parts(&admin_url)?;
    let binlog_started = Instant::now();
    let mut command = Command::new("mariadb-binlog");
    command
        .args([
            "--read-from-remote-server",
            "--verbose",
            "--base64-output=decode-rows",
        ])
        .arg(format!("--host={host}"))
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"))
        .arg(format!("--password={password}"))
        .arg(format!("--start-position={start_offset}"))
        .arg(format!(
            "--result-file={}",
            work.join("binlog.txt").display()
        ));
    if end_file == file {
        command.arg(format!("--stop-position={end_offset}"));
    }
    let status = command
        .arg(&file)
        .status()
        .context("running mariadb-binlog")?;
    let binlog_seconds = binlog_started.elapsed().as_secs_f64();
    // Only a run that printed every row counts as the reader's rate.
    let printed_rows = std::fs::read_to_string(work.join("binlog.txt"))
        .map(|text| text.matches("### INSERT INTO").count())
        .unwrap_or(0);
    let binlog_reader = status.success() && printed_rows as i64 >= args.rows;
    if !binlog_reader {
        println!("mariadb-binlog printed {printed_rows} rows ({status}): left out of the report");
    }

    println!("draining the backlog through the connector...");
    // Timed by the connector's own count of transactions confirmed (every event acknowledged by
    // the broker), read from its /metrics every 20 ms; the events are counted afterwards by a
    // consumer, outside the clock.
    let drain_started = Instant::now();
    let connector = Connector::start(&args.lienthong, "source-mysql", &config, &log)?;
    let mut last_report = Instant::now();
    loop {
        let confirmed = metric_value(
            &metrics_url,
            "lienthong_source_mysql_confirmed_transactions_total",
        )
        .await
        .unwrap_or(0.0);
        let events = metric_value(&metrics_url, "lienthong_source_mysql_events_total")
            .await
            .unwrap_or(0.0);
        if confirmed >= transactions as f64 && events >= args.rows as f64 {
            break;
        }
        if drain_started.elapsed() > Duration::from_secs(600) {
            bail!(
                "the backlog was not drained within 600 s ({events} events, {confirmed} transactions confirmed)"
            );
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  {:.0} s: {events} events",
                drain_started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    connector.stop();
    let mut reader = TopicReader::on(&broker.address(), &topic).await;
    reader
        .read_until(Duration::from_secs(300), |r| r.len() as i64 >= args.rows)
        .await;
    anyhow::ensure!(
        reader.records.len() as i64 == args.rows,
        "{} events in the topic, {} expected",
        reader.records.len(),
        args.rows
    );
    let sample = &reader.records[..1_000.min(reader.records.len())];
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

    let events_per_s = args.rows as f64 / drain_seconds;
    let raw_per_s = args.rows as f64 / raw_seconds;
    let binlog_per_s = args.rows as f64 / binlog_seconds;
    let mut rows = vec![
        [
            "binlog backlog drained into the broker".into(),
            per_second(args.rows as f64, drain_seconds),
            format!("{drain_seconds:.1} s for {} events", args.rows),
        ],
        [
            "raw producer ceiling".into(),
            per_second(args.rows as f64, raw_seconds),
            format!("connector / ceiling = {:.2}", events_per_s / raw_per_s),
        ],
    ];
    if binlog_reader {
        rows.push([
            "MariaDB's binlog reader (mariadb-binlog, rows decoded to text)".into(),
            per_second(args.rows as f64, binlog_seconds),
            format!(
                "connector / mariadb-binlog = {:.2}",
                events_per_s / binlog_per_s
            ),
        ]);
    }
    report.section(
        "MariaDB/MySQL connector",
        &format!(
            "A backlog of {rows} inserts in {transactions} transactions (six columns: BIGINT, VARCHAR, DATE, DECIMAL, DATETIME(6), VARCHAR) waits in MariaDB's row binlog after the connector's saved position; then `lienthong source-mysql` (release build) starts and drains it into the broker. The time runs from process start until the connector has confirmed every transaction (a transaction is confirmed only after the broker acknowledged all its events, and the connector's own counter says so); a consumer then checks that the topic holds every event. Each event is a protobuf `ChangeEvent` of {payload_len} bytes with a {key_len}-byte key. Beside it, in the same run: the raw producer ceiling (the same producer settings, records of the same sizes, no database) and MariaDB's own `mariadb-binlog` reading the same binlog range from the server and printing the rows.",
            rows = args.rows,
        ),
        rows,
    );

    drop(broker);
    drop(conn);
    let _ = admin
        .execute(format!("DROP DATABASE IF EXISTS {database}").as_str())
        .await;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::url_parts;

    #[test]
    fn url_parts_are_found() {
        let (user, password, host, port) =
            url_parts("mysql://lienthong:secret@127.0.0.1:53306/lienthong").unwrap();
        assert_eq!(
            (
                user.as_str(),
                password.as_str(),
                host.as_str(),
                port.as_str()
            ),
            ("lienthong", "secret", "127.0.0.1", "53306")
        );
        assert_eq!(url_parts("mysql://root@db/x").unwrap().3, "3306");
    }
}
