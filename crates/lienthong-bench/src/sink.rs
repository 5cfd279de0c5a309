//! The HTTP sink: canonical civil servants already in the broker delivered to the platform
//! simulator on loopback (NGSP adapter, batches), records per second and delivery latency.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use lienthong_proto::v1::{CivilServant, CodedValue, Date, Person, PersonName, Place};
use lienthong_runtime::kafka::{EventProducer, OutboundRecord, RecordHeaders, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::topics::kafka_config_for;
use prost::Message as _;

use crate::Args;
use crate::postgres::{metric_value, metrics_text};
use crate::report::{Report, per_second};
use crate::service::{Connector, http_get, wait_for_log};

const TOPIC: &str = "canonical.civil_servant.v1";

fn servant(i: i64) -> CivilServant {
    let coded = |code: &str, label: &str| CodedValue {
        code: code.to_string(),
        display: label.to_string(),
        ..CodedValue::default()
    };
    CivilServant {
        record_id: format!("csdl-cbcc:public.ho_so_can_bo:id={i}"),
        person: Some(Person {
            record_id: format!("csdl-cbcc:public.ho_so_can_bo:id={i}"),
            personal_id: format!("0010{}{:06}", 85 + i % 10, i % 1_000_000),
            name: Some(PersonName {
                full: format!("Nguyễn Thị Thu Hòa {i}"),
                family: "Nguyễn".into(),
                middle: "Thị Thu".into(),
                given: "Hòa".into(),
                original: format!("Nguyễn Thị Thu Hòa {i}"),
            }),
            birth_date: Some(Date {
                year: 1960 + (i % 40) as i32,
                month: 1 + (i % 12) as i32,
                day: 1 + (i % 28) as i32,
            }),
            birth_place: Some(Place {
                province: Some(coded("01", "Thành phố Hà Nội")),
                ..Place::default()
            }),
            ..Person::default()
        }),
        organisation_id: format!("org-{}", i % 500),
        organisation_name: "Sở Nội vụ thành phố Hà Nội".into(),
        position: Some(coded("CV", "Chuyên viên")),
        rank: Some(coded("01.003", "Chuyên viên")),
        salary_step: 3,
        ..CivilServant::default()
    }
}

/// The upper bound of the histogram bucket holding quantile `q` of a Prometheus histogram.
fn histogram_quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count: f64 = l.rsplit(' ').next()?.parse().ok()?;
            Some((bound, count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    buckets
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(bound, _)| *bound)
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let records = args.sink_records;
    let work = std::env::temp_dir().join(format!(
        "lienthong-bench-sink-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work)?;
    let broker = PrivateBroker::start(&work.join("broker"));
    let kafka = kafka_config_for(&broker.address());
    TopicAdmin::new(&kafka)?.ensure_topics(&[TOPIC]).await?;

    println!("writing {records} canonical records to the broker...");
    let producer = EventProducer::new(&kafka, "bench", KafkaMetrics::default())?;
    let mut payload_bytes = 0usize;
    let mut pending = Vec::new();
    for i in 0..records {
        let payload = servant(i).encode_to_vec();
        payload_bytes += payload.len();
        let key = format!("csdl-cbcc:public.ho_so_can_bo:id={i}");
        pending.push(
            producer
                .enqueue(OutboundRecord {
                    topic: TOPIC,
                    key: Some(key.as_bytes()),
                    payload: Some(&payload),
                    headers: RecordHeaders::with_idempotency_key(format!("csdl-cbcc:0/{i:X}:0"))
                        .protobuf("CivilServant"),
                })
                .await?,
        );
        if pending.len() >= 10_000 {
            for p in pending.drain(..) {
                p.acknowledged().await?;
            }
        }
    }
    for p in pending {
        p.acknowledged().await?;
    }

    let sim_port = lienthong_tests::free_port();
    let sim_config = work.join("platform-sim.toml");
    std::fs::write(
        &sim_config,
        format!(
            r#"
listen = "127.0.0.1:{sim_port}"
[auth]
[[auth.static_tokens]]
client_id = "bench"
token = "bench-static-token-0001"
[checks]
max_batch_records = 1000
"#
        ),
    )?;
    let sim_log = work.join("platform-sim.log");
    let sim = Connector::start(&args.lienthong, "platform-sim", &sim_config, &sim_log)?;
    wait_for_log(&sim_log, "listening on")?;

    let health_port = lienthong_tests::free_port();
    let config = work.join("sink.toml");
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
partitions = 8
replication_factor = 1
[state]
topic = "lienthong.state"
[sink]
group_id = "bench-sink"
[sink.endpoints.ndxp]
adapter = "ngsp"
url = "http://127.0.0.1:{sim_port}"
auth = {{ kind = "static", token = "bench-static-token-0001" }}
xroad = {{ client = "VN/GOV/000.00.00.H29/lienthong-hub", service = "VN/GOV/000.00.00.G22/ndxp/records", user_id = "lienthong", purpose = "bench" }}
[[sink.routes]]
topic = "{TOPIC}"
endpoint = "ndxp"
lanes = {lanes}
batch = {{ max_records = {batch}, linger_ms = 5 }}
"#,
            broker = broker.address(),
            lanes = args.sink_lanes,
            batch = args.sink_batch,
        ),
    )?;
    let metrics = format!("127.0.0.1:{health_port}");
    println!("delivering to the platform simulator...");
    let started = Instant::now();
    let sink = Connector::start(&args.lienthong, "sink", &config, &work.join("sink.log"))?;
    let mut last_report = Instant::now();
    loop {
        let done = metric_value(&metrics, "lienthong_sink_records_total")
            .await
            .unwrap_or(0.0);
        if done >= records as f64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("not delivered within 900 s ({done} records)");
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!("  {:.0} s: {done} records", started.elapsed().as_secs_f64());
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let text = metrics_text(&metrics).await?;
    let p50 = histogram_quantile(&text, "lienthong_sink_delivery_latency_seconds", 0.5)
        .context("no latency histogram")?;
    let p99 = histogram_quantile(&text, "lienthong_sink_delivery_latency_seconds", 0.99)
        .context("no latency histogram")?;
    sink.stop();

    // The simulator's own count: every record stored once.
    let answer = http_get(&format!("127.0.0.1:{sim_port}"), "/_sim/counts").await?;
    let (_, body) = answer.split_once("\r\n\r\n").context("no HTTP body")?;
    let stored: serde_json::Value = serde_json::from_str(body)?;
    anyhow::ensure!(
        stored["records"].as_i64() == Some(records),
        "the simulator holds {} records, {records} sent",
        stored["records"]
    );
    sim.stop();

    report.section(
        "HTTP sink",
        &format!(
            "{records} canonical civil servants (protobuf, {avg} bytes on average) wait in the broker; then `lienthong sink` (release build) starts and delivers them to `lienthong platform-sim` on loopback through the NGSP adapter: proto3 JSON payloads in batches of up to {batch} records, {lanes} lanes, bearer token, X-Road headers and a body digest on every request; the simulator checks them, deduplicates by idempotency key and stores every record (in-memory SQLite, so that the platform's disk is not what is measured). The time runs from sink start until its own counter says every record has the platform's verdict and its receipt was acknowledged by the broker; the simulator's count then confirms every record stored once. Latency is from a record's first request to the platform's answer, read from the sink's histogram (upper bound of the bucket).",
            avg = payload_bytes / records.max(1) as usize,
            batch = args.sink_batch,
            lanes = args.sink_lanes,
        ),
        vec![
            [
                "records delivered per second".into(),
                per_second(records as f64, seconds),
                format!("{seconds:.1} s for {records} records; target ≥ 20,000/s"),
            ],
            [
                "delivery latency p50".into(),
                format!("≤ {:.0} ms", p50 * 1000.0),
                "per batch request, platform on loopback".into(),
            ],
            [
                "delivery latency p99".into(),
                format!("≤ {:.0} ms", p99 * 1000.0),
                String::new(),
            ],
        ],
    );
    drop(broker);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_is_the_bound_of_the_bucket_reaching_it() {
        let text = "x_bucket{endpoint=\"a\",le=\"0.01\"} 50\nx_bucket{endpoint=\"a\",le=\"0.1\"} 99\nx_bucket{endpoint=\"a\",le=\"+Inf\"} 100\n";
        assert_eq!(histogram_quantile(text, "x", 0.5), Some(0.01));
        assert_eq!(histogram_quantile(text, "x", 0.99), Some(0.1));
        assert_eq!(histogram_quantile(text, "x", 1.0), Some(f64::INFINITY));
        assert_eq!(histogram_quantile(text, "y", 0.5), None);
    }
}
