//! The sink as a real process, through the real broker, against the platform simulator as a
//! real process: the platform down for a while then back, 429 storms, 30% random 5xx, tokens
//! expiring mid-run, kill -9 of the sink mid-batch. In every case each record arrives exactly
//! once at the simulator (count and content checked), the consumer group's offsets reach the end
//! of the input (nothing left behind), every record has a receipt, and records the platform
//! refuses or that cannot be read are in `dlq.sink` with the reason.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use lienthong_proto::v1::{
    CivilServant, DeadLetter, DeliveryReceipt, DeliveryStatus, Person, PersonName,
};
use lienthong_runtime::kafka::{
    EventConsumer, EventProducer, OutboundRecord, RecordHeaders, TopicAdmin,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::process::Service;
use lienthong_tests::stack;
use lienthong_tests::topics::{TopicReader, kafka_config};
use prost::Message as _;
use serde_json::{Value, json};

const CLIENT_ID: &str = "bnv-hub";
const CLIENT_SECRET: &str = "hub-secret";
const STATIC_TOKEN: &str = "static-token-for-tests";

/// The platform simulator as a process of its own, on a free port, storing in SQLite.
struct Simulator {
    service: Service,
    base: String,
    http: reqwest::Client,
}

impl Simulator {
    fn start(dir: &Path, token_ttl_seconds: u64) -> Self {
        let config = dir.join("platform-sim.toml");
        std::fs::write(
            &config,
            format!(
                r#"
listen = "127.0.0.1:0"
database = "{db}"
[auth]
token_ttl_seconds = {token_ttl_seconds}
[[auth.oauth_clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
[[auth.static_tokens]]
client_id = "static-client"
token = "{STATIC_TOKEN}"
"#,
                db = dir.join("platform-sim.sqlite").display(),
            ),
        )
        .unwrap();
        let log = dir.join("platform-sim.log");
        let service = Service::start(
            &["platform-sim", "--config", config.to_str().unwrap()],
            &log,
        );
        service.wait_for_log("listening on ", Duration::from_secs(30));
        let text = service.log();
        let addr = text
            .lines()
            .find_map(|l| l.strip_prefix("listening on "))
            .unwrap()
            .trim()
            .to_string();
        Self {
            service,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    async fn faults(&self, plan: Value) {
        let response = self
            .http
            .post(format!("{}/_sim/faults", self.base))
            .json(&plan)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{:?}",
            response.text().await
        );
    }

    async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/_sim/faults", self.base))
            .send()
            .await
            .unwrap();
    }

    /// `GET` of an inspection path; retried while a `drop` downtime window closes every
    /// connection, inspection included.
    async fn get(&self, path: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.http.get(format!("{}{path}", self.base)).send().await {
                Ok(response) => return response.json().await.unwrap(),
                Err(e) if Instant::now() < deadline => {
                    eprintln!("simulator: {e}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => panic!("the simulator does not answer {path}: {e}"),
            }
        }
    }

    async fn counts(&self) -> Value {
        self.get("/_sim/counts").await
    }

    /// Every stored record of a flavour, in arrival order.
    async fn records(&self, flavour: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0i64;
        loop {
            let page = self
                .get(&format!(
                    "/_sim/records?flavour={flavour}&after={after}&limit=1000"
                ))
                .await;
            all.extend(page["records"].as_array().unwrap().iter().cloned());
            match page["next_after"].as_i64() {
                Some(next) => after = next,
                None => return all,
            }
        }
    }

    async fn wait_for_records(&self, want: i64, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let counts = self.counts().await;
            if counts["records"].as_i64().unwrap() >= want {
                return counts;
            }
            assert!(
                Instant::now() < deadline,
                "the simulator holds {} of {want} records after {timeout:?}: {counts}\n{}",
                counts["records"],
                self.service.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// How the sink authenticates in a test.
enum Auth {
    OAuth2 { refresh_before_expiry_s: u64 },
    Static,
}

struct Case {
    tag: String,
    topic: String,
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        Self {
            topic: format!("canonical.sinktest_{tag}.v1"),
            tag,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The sink's config file: one endpoint of `adapter` at the simulator, one route.
    fn config(&self, sim: &Simulator, adapter: &str, auth: Auth, max_records: usize) -> String {
        let auth = match auth {
            Auth::OAuth2 {
                refresh_before_expiry_s,
            } => format!(
                r#"{{ kind = "oauth2", token_url = "{}/oauth2/token", client_id = "{CLIENT_ID}", client_secret = "{CLIENT_SECRET}", refresh_before_expiry_s = {refresh_before_expiry_s} }}"#,
                sim.base
            ),
            Auth::Static => format!(r#"{{ kind = "static", token = "{STATIC_TOKEN}" }}"#),
        };
        let extra = match adapter {
            "ndop" => "dataset = \"can-bo-cong-chuc\"",
            "lgsp" => "ministry = \"bnv\"",
            _ => "",
        };
        let path = self.dir.path().join("lienthong.toml");
        std::fs::write(
            &path,
            format!(
                r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
# A killed sink's partitions go to its successor after this long.
session_timeout_ms = 6000
[kafka.properties]
# The rebalance after a kill waits at most this long for members that will never rejoin.
"max.poll.interval.ms" = "10000"
[kafka.topics.default]
partitions = 3
replication_factor = 1
[retry]
initial_delay_ms = 200
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[sink]
group_id = "sink-{tag}"
receipts_topic = "receipts.{tag}"
commit_interval_ms = 200
[sink.endpoints.platform]
adapter = "{adapter}"
url = "{base}"
{extra}
auth = {auth}
xroad = {{ client = "VN/GOV/000.00.00.H29/lienthong-hub", service = "VN/GOV/000.00.00.G22/ndxp/records", user_id = "lienthong", purpose = "dong-bo-csdl-cbccvc" }}
timeout_ms = 5000
retry = {{ initial_delay_ms = 50, max_delay_ms = 1000 }}
breaker = {{ failure_threshold = 5, open_ms = 300 }}
[[sink.routes]]
topic = "{topic}"
endpoint = "platform"
entity = "civil_servant"
lanes = 4
batch = {{ max_records = {max_records}, linger_ms = 10 }}
"#,
                broker = stack::broker(),
                tag = self.tag,
                base = sim.base,
                topic = self.topic,
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    }

    fn start_sink(&self, config: &str) -> Service {
        Service::start(
            &["sink", "--config", config],
            &self.dir.path().join("sink.log"),
        )
    }
}

fn servant(i: usize) -> CivilServant {
    CivilServant {
        record_id: format!("cbcc:{i}"),
        person: Some(Person {
            personal_id: format!("0010850{i:05}"),
            name: Some(PersonName {
                full: format!("Nguyễn Thị Hòa {i}"),
                ..PersonName::default()
            }),
            ..Person::default()
        }),
        organisation_name: "Sở Nội vụ".into(),
        ..CivilServant::default()
    }
}

/// What a test put on the input topic.
#[derive(Default)]
struct Input {
    /// Idempotency key → personal ID, for the records the platform should store.
    good: BTreeMap<String, String>,
    /// Idempotency keys of records the platform refuses.
    refused: BTreeSet<String>,
    /// Records that cannot be decoded.
    garbage: usize,
    tombstones: usize,
    total: usize,
}

/// Writes the input, one record per batch: tansu 0.6.0 answers nothing to a fetch that starts
/// inside a batch, so a consumer resuming from a committed offset in the middle of a batch would
/// wait forever (Apache Kafka returns the batch and the client skips the records before the
/// offset). Awaiting each record's acknowledgement before the next keeps batches of one.
async fn produce(topic: &str, input: &mut Input, good: usize, refused: usize, garbage: usize) {
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    admin.ensure_topics(&[topic]).await.unwrap();
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    let mut acks = Vec::new();
    let base = input.total;
    for i in base..base + good {
        let key = format!("cbcc:{i}:0/{i:X}");
        let payload = servant(i).encode_to_vec();
        input
            .good
            .insert(key.clone(), servant(i).person.unwrap().personal_id);
        acks.push(
            producer
                .send(OutboundRecord {
                    topic,
                    // A few keys repeat, so per-key ordering and batching meet.
                    key: Some(format!("cs-{}", i % 97).as_bytes()),
                    payload: Some(&payload),
                    headers: RecordHeaders::with_idempotency_key(key).protobuf("CivilServant"),
                })
                .await
                .unwrap(),
        );
    }
    for i in 0..refused {
        // Not visible ASCII: every platform refuses such an idempotency key for that record.
        let key = format!("refused key {}", base + i);
        input.refused.insert(key.clone());
        let payload = servant(900_000 + i).encode_to_vec();
        acks.push(
            producer
                .send(OutboundRecord {
                    topic,
                    key: Some(b"refused"),
                    payload: Some(&payload),
                    headers: RecordHeaders::with_idempotency_key(key).protobuf("CivilServant"),
                })
                .await
                .unwrap(),
        );
    }
    for _ in 0..garbage {
        acks.push(
            producer
                .send(OutboundRecord {
                    topic,
                    key: Some(b"garbage"),
                    payload: Some(b"\xff\xff\xff not a CivilServant"),
                    headers: RecordHeaders::default().protobuf("CivilServant"),
                })
                .await
                .unwrap(),
        );
    }
    assert_eq!(acks.len(), good + refused + garbage);
    input.garbage += garbage;
    input.total += good + refused + garbage;
}

async fn produce_tombstone(topic: &str, input: &mut Input) {
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    producer
        .send(OutboundRecord {
            topic,
            key: Some(b"cs-1"),
            payload: None,
            headers: RecordHeaders::default(),
        })
        .await
        .unwrap();
    input.tombstones += 1;
    input.total += 1;
}

/// Exactly once at the platform: every good record stored once with its content, no other.
async fn assert_exactly_once(sim: &Simulator, flavour: &str, input: &Input) {
    let stored = sim.records(flavour).await;
    let mut seen = BTreeMap::new();
    for record in &stored {
        let key = record["idempotency_key"].as_str().unwrap().to_string();
        assert!(
            seen.insert(key.clone(), record.clone()).is_none(),
            "{key} stored twice"
        );
    }
    assert_eq!(
        seen.len(),
        input.good.len(),
        "stored {} records, sent {} good ones",
        seen.len(),
        input.good.len()
    );
    for (key, personal_id) in &input.good {
        let record = seen
            .get(key)
            .unwrap_or_else(|| panic!("{key} never arrived"));
        // The platform stores each record's own JSON, whatever the request's envelope.
        let person = &record["body"]["person"];
        assert_eq!(person["personalId"], personal_id.as_str(), "{record}");
        assert!(
            person["name"]["full"]
                .as_str()
                .unwrap()
                .starts_with("Nguyễn Thị Hòa"),
            "{record}"
        );
        // Where each platform files the record: NDOP under its dataset, LGSP under
        // ministry/entity, NGSP under the record's entity.
        let entity = match flavour {
            "ndop" => "can-bo-cong-chuc",
            "lgsp" => "bnv/civil_servant",
            _ => "civil_servant",
        };
        assert_eq!(record["entity"], entity);
    }
}

/// The group's offsets reach the end of the input: nothing is left behind.
async fn assert_committed_to_end(case: &Case, input: &Input) {
    let consumer = EventConsumer::new(
        &kafka_config(),
        &format!("sink-{}", case.tag),
        KafkaMetrics::default(),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let committed: i64 = consumer
            .committed(&case.topic, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.unwrap_or(0))
            .sum();
        if committed == input.total as i64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "committed {committed} of {} input records",
            input.total
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A receipt for every delivered and refused record; dead letters for refused and garbage.
async fn assert_receipts_and_dead_letters(case: &Case, input: &Input) {
    let mut receipts = TopicReader::new(&format!("receipts.{}", case.tag)).await;
    let want: BTreeSet<String> = input
        .good
        .keys()
        .chain(input.refused.iter())
        .cloned()
        .collect();
    receipts
        .read_until(Duration::from_secs(30), |rs| {
            let keys: BTreeSet<String> = rs
                .iter()
                .map(|r| {
                    DeliveryReceipt::decode(r.payload.as_deref().unwrap())
                        .unwrap()
                        .idempotency_key
                })
                .collect();
            want.is_subset(&keys)
        })
        .await;
    for r in &receipts.records {
        let receipt = DeliveryReceipt::decode(r.payload.as_deref().unwrap()).unwrap();
        assert_eq!(receipt.endpoint, "platform");
        assert!(receipt.attempts >= 1);
        if input.refused.contains(&receipt.idempotency_key) {
            assert_eq!(receipt.status, DeliveryStatus::Rejected as i32);
            assert!(!receipt.error.is_empty());
        } else {
            assert!(
                receipt.status == DeliveryStatus::Accepted as i32
                    || receipt.status == DeliveryStatus::Duplicate as i32,
                "{receipt:?}"
            );
            assert!(!receipt.platform_reference.is_empty(), "{receipt:?}");
        }
    }

    let expected_dead = input.refused.len() + input.garbage;
    if expected_dead == 0 {
        return;
    }
    let mut dlq = TopicReader::new("dlq.sink").await;
    let ours = |r: &lienthong_runtime::kafka::InboundRecord| {
        DeadLetter::decode(r.payload.as_deref().unwrap())
            .unwrap()
            .topic
            == case.topic
    };
    dlq.read_until(Duration::from_secs(30), |rs| {
        rs.iter().filter(|r| ours(r)).count() >= expected_dead
    })
    .await;
    let letters: Vec<DeadLetter> = dlq
        .records
        .iter()
        .filter(|r| ours(r))
        .map(|r| DeadLetter::decode(r.payload.as_deref().unwrap()).unwrap())
        .collect();
    let decode = letters.iter().filter(|l| l.error_kind == "decode").count();
    let refused: BTreeSet<String> = letters
        .iter()
        .filter(|l| l.error_kind.starts_with("platform:"))
        .map(|l| l.idempotency_key.clone())
        .collect();
    assert_eq!(decode, input.garbage, "{letters:#?}");
    assert_eq!(refused, input.refused, "{letters:#?}");
    for letter in &letters {
        assert_eq!(letter.stage, "sink");
        assert!(!letter.reason.is_empty());
        assert!(!letter.payload.is_empty(), "the original bytes are kept");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ngsp_down_for_a_while_then_back_and_bad_records_dead_lettered() {
    let case = Case::new();
    let sim = Simulator::start(case.dir.path(), 300);
    let mut input = Input::default();
    produce(&case.topic, &mut input, 400, 2, 3).await;
    produce_tombstone(&case.topic, &mut input).await;
    // Down (503 with Retry-After) from now for 3 s, then connections dropped for 1.5 s.
    sim.faults(json!({"downtime": [
        {"start_after_ms": 0, "for_ms": 3000, "mode": "unavailable"},
        {"start_after_ms": 3000, "for_ms": 1500, "mode": "drop"}
    ]}))
    .await;
    let config = case.config(
        &sim,
        "ngsp",
        Auth::OAuth2 {
            refresh_before_expiry_s: 30,
        },
        50,
    );
    let _sink = case.start_sink(&config);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        sim.counts().await["records"],
        0,
        "nothing can be stored while the platform is down"
    );
    sim.wait_for_records(400, Duration::from_secs(60)).await;
    assert_exactly_once(&sim, "ngsp", &input).await;
    assert_committed_to_end(&case, &input).await;
    assert_receipts_and_dead_letters(&case, &input).await;
    let counts = sim.counts().await;
    assert!(
        counts["faults"]["unavailable"].as_i64().unwrap_or(0) > 0,
        "the outage was seen: {counts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ndop_429_storm_and_thirty_percent_5xx() {
    let case = Case::new();
    let sim = Simulator::start(case.dir.path(), 300);
    let mut input = Input::default();
    produce(&case.topic, &mut input, 600, 1, 0).await;
    sim.faults(json!({
        "rate_limit": {"retry_after_seconds": 1, "for_ms": 2000},
        "error_rate": {"fraction": 0.3, "status": 503, "seed": 11}
    }))
    .await;
    let config = case.config(&sim, "ndop", Auth::Static, 40);
    let _sink = case.start_sink(&config);

    sim.wait_for_records(600, Duration::from_secs(90)).await;
    assert_exactly_once(&sim, "ndop", &input).await;
    assert_committed_to_end(&case, &input).await;
    assert_receipts_and_dead_letters(&case, &input).await;
    let counts = sim.counts().await;
    assert!(
        counts["faults"]["rate_limited"].as_i64().unwrap_or(0) > 0,
        "{counts}"
    );
    assert!(
        counts["faults"]["error"].as_i64().unwrap_or(0) > 0,
        "{counts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lgsp_tokens_expire_mid_run() {
    let case = Case::new();
    // Tokens live 2 s and the sink uses each to the end, so requests meet expired tokens (401)
    // and the sink must fetch new ones without losing or repeating records.
    let sim = Simulator::start(case.dir.path(), 2);
    sim.faults(json!({"latency": {"fixed_ms": 30}})).await;
    let mut input = Input::default();
    produce(&case.topic, &mut input, 400, 1, 1).await;
    let config = case.config(
        &sim,
        "lgsp",
        Auth::OAuth2 {
            refresh_before_expiry_s: 0,
        },
        10,
    );
    let sink = case.start_sink(&config);

    sim.wait_for_records(400, Duration::from_secs(90)).await;
    assert_exactly_once(&sim, "lgsp", &input).await;
    assert_committed_to_end(&case, &input).await;
    assert_receipts_and_dead_letters(&case, &input).await;
    let counts = sim.counts().await;
    assert!(
        counts["rejected"]["expired_token"].as_i64().unwrap_or(0) > 0,
        "no request met an expired token, the test proves nothing: {counts}\n{}",
        sink.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_batch_delivers_everything_exactly_once() {
    let case = Case::new();
    let sim = Simulator::start(case.dir.path(), 300);
    // Slow answers keep batches in flight when the kills land.
    sim.faults(json!({"latency": {"fixed_ms": 100, "jitter_ms": 100}}))
        .await;
    let mut input = Input::default();
    produce(&case.topic, &mut input, 3000, 0, 0).await;
    let config = case.config(
        &sim,
        "ngsp",
        Auth::OAuth2 {
            refresh_before_expiry_s: 30,
        },
        10,
    );
    let mut sink = case.start_sink(&config);

    let mut kills = 0;
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while kills < 4 && Instant::now() < deadline {
        let stored = sim.counts().await["records"].as_i64().unwrap();
        if stored >= 3000 {
            break;
        }
        if stored > last + 150 {
            sink.kill9();
            kills += 1;
            last = stored;
            sink.restart();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kills >= 2, "only {kills} kills landed before the end");
    sim.clear_faults().await;
    let counts = sim.wait_for_records(3000, Duration::from_secs(120)).await;
    assert_exactly_once(&sim, "ngsp", &input).await;
    assert_committed_to_end(&case, &input).await;
    assert_receipts_and_dead_letters(&case, &input).await;
    assert!(
        counts["duplicates"].as_i64().unwrap() > 0,
        "no record was sent again after a kill, the test proves nothing: {counts}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_stop_the_sink_and_validate_names_them() {
    let case = Case::new();
    let sim = Simulator::start(case.dir.path(), 300);
    let config = case.config(
        &sim,
        "ngsp",
        Auth::OAuth2 {
            refresh_before_expiry_s: 30,
        },
        10,
    );
    let output = lienthong_tests::lienthong(&["validate", "--config", &config], &[]);
    let (out, err) = lienthong_tests::text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("ok    sink      platform:"), "{out}");
    assert!(out.contains("credentials accepted"), "{out}");

    let wrong = std::fs::read_to_string(&config)
        .unwrap()
        .replace(CLIENT_SECRET, "not-the-secret");
    std::fs::write(&config, wrong).unwrap();
    let output = lienthong_tests::lienthong(&["validate", "--config", &config], &[]);
    let (out, _) = lienthong_tests::text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL  sink      platform:"), "{out}");
    assert!(out.contains("refused the client credentials"), "{out}");

    let mut input = Input::default();
    produce(&case.topic, &mut input, 5, 0, 0).await;
    let mut sink = case.start_sink(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = sink.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the sink kept running with refused credentials"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!status.success());
    assert!(
        sink.log().contains("refused the client credentials"),
        "{}",
        sink.log()
    );
    assert_eq!(sim.counts().await["records"], 0);
}
