//! The fault suite: the whole pipeline — both connectors, the translator, the resolver, the sink
//! and the store, each its own process, with the platform simulator as NDOP — over a PostgreSQL,
//! a MariaDB and a broker of the test's own, under a continuous workload of source changes while
//! faults are injected:
//!
//! - kill -9 of every service in turn and at random (seeded), each restarted after a moment;
//! - the broker taken away and given back (every connection to it cut, new ones refused);
//! - PostgreSQL and MariaDB restarted (real restarts: every session and replication stream cut);
//! - the platform simulator down (its process killed) for a while, then answering 429s;
//! - malformed rows, invalid encodings and invalid ID numbers at the sources (`datagen`'s
//!   defects plus rows written here: an 11-digit ID number, names in VNI bytes and in
//!   double-encoded UTF-8, an impossible birth date, an unreadable contribution period).
//!
//! When the workload has ended and the pipeline has drained, the final content of both source
//! tables is compared with what the store and the platform simulator hold: every row's current
//! version, translated from the source row by the shipped mappings, must be what the store and
//! the simulator hold (or the row must be in a dead-letter topic with its reason), deleted rows
//! deleted, nothing stored twice. The stages' counts balance topic by topic (records in =
//! records out + dead-lettered), counted by idempotency key, since a service's own counters
//! start again at every kill. A summary table goes to standard output.
//!
//! The broker is tansu 0.6.0, whose faults the test works around, since they are not lienthong's:
//!
//! - it cannot be restarted: with memory storage it loses everything, and its SQLite engine
//!   panics on the first idempotent produce after a restart. Nor can it be frozen (SIGSTOP, then
//!   SIGCONT): when a consumer group's members time out while it is frozen (even for 5 s with a
//!   6 s session timeout), that group never consumes again, its members and new ones left
//!   without partitions while a new group reads the topic. So the broker's outage happens in
//!   front of it: it advertises a proxy, through which every client connects, and the proxy
//!   closes every connection and refuses new ones for the outage, as clients see a broker that
//!   stopped, then accepts again, as they see it restarted;
//! - it answers nothing to a fetch that starts inside a record batch, so a consumer restarted at
//!   a committed offset in the middle of a batch would wait forever (Apache Kafka returns the
//!   batch and the client skips to the offset): the services here produce batches of one record
//!   (`batch.num.messages = 1`), which changes nothing else about them.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use lienthong_proto::v1::{
    ChangeEvent, CivilServant, DeadLetter, Operation, ResolvedCivilServant, SocialInsuranceRecord,
};
use lienthong_runtime::kafka::{EventConsumer, InboundRecord, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::cluster::TemporaryCluster;
use lienthong_tests::events::int_key;
use lienthong_tests::mariadb_server::TemporaryMariadb;
use lienthong_tests::process::Service;
use lienthong_tests::proxy::TcpProxy;
use lienthong_tests::topics::{TopicReader, kafka_config_for};
use lienthong_tests::{free_port, lienthong, lienthong_bin, text};
use lienthong_translate::mapping::Mapping;
use lienthong_translate::record::{MappedRecord, MappingError};
use lienthong_translate::{CanonicalEntity, CodeLists, MappingSet};
use prost::Message as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value as Json, json};
use sqlx::{Connection as _, Executor as _, MySqlConnection, PgConnection, Row as _};

// ------------------------------------------------------------------------------------------------
// Sizes and faults. The whole test must stay within about ten minutes on a 2-core machine.

/// People in the population register the resolver loads.
const PEOPLE: u64 = 5_000;
/// Civil-servant files (PostgreSQL) and social-insurance participants (MariaDB) seeded.
const CIVIL_SERVANTS: u64 = 300;
const INSURED: u64 = 200;
/// The workload: changes per second, for this long.
const WORKLOAD_RATE: f64 = 8.0;
const WORKLOAD: Duration = Duration::from_secs(170);
/// kill -9s of services over the workload (each service at least once).
const KILLS: usize = 24;
/// The seed of the data, the workload and the fault plan.
const SEED: u64 = 909;
/// How long the broker is unreachable.
const BROKER_OUTAGE: Duration = Duration::from_secs(20);
/// How long the platform simulator is down, and how long it then answers 429.
const PLATFORM_DOWN: Duration = Duration::from_secs(60);
const PLATFORM_429: Duration = Duration::from_secs(20);
/// Longest wait for the pipeline to drain once the faults stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(240);

/// Defect rates of the seed and of new rows of the workload: higher than the defaults, so each
/// kind shows up in a small data set.
const DEFECTS: &str = "invalid_id = 0.03\nvni = 0.03\nunknown_code = 0.02\nimpossible_date = 0.03\n\
     partial_birth_date = 0.02\nunreadable_period = 0.03\ninvalid_insurance_number = 0.02\n";

const CIVIL_TABLE: &str = "public.ho_so_can_bo";
const INSURANCE_TABLE: &str = "QUA_TRINH_THAM_GIA";
const CIVIL_TOPIC: &str = "cdc.csdl-cbcc.public.ho_so_can_bo";
const INSURANCE_TOPIC: &str = "cdc.bhxh.bhxh.QUA_TRINH_THAM_GIA";
const CANONICAL_CIVIL: &str = "canonical.civil_servant.v1";
const CANONICAL_INSURANCE: &str = "canonical.social_insurance.v1";
const RESOLVED_CIVIL: &str = "resolved.civil_servant.v1";

/// Ids of the civil-servant rows this test writes itself (beside datagen's defects), far above
/// the workload's: it numbers the rows it inserts itself.
const MOJIBAKE_NAME_ID: i64 = 9_000_001;
const SHORT_ID_ID: i64 = 9_000_002;
const VNI_NAME_ID: i64 = 9_000_003;
/// The first id of the social-insurance rows this test writes.
const INSURANCE_DEFECT_IDS: i64 = 9_000_101;

/// The services, in the order they start.
const SERVICES: [&str; 6] = [
    "store",
    "sink",
    "resolve",
    "translate",
    "source-mysql",
    "source-postgres",
];

/// Consumer groups (the services' defaults) and the topics each reads.
const GROUPS: [(&str, &str, &[&str]); 4] = [
    (
        "translate",
        "lienthong-translate",
        &[CIVIL_TOPIC, INSURANCE_TOPIC],
    ),
    ("resolve", "lienthong-resolve", &[CANONICAL_CIVIL]),
    ("sink", "lienthong-sink", &[RESOLVED_CIVIL]),
    (
        "store",
        "lienthong-store",
        &[RESOLVED_CIVIL, CANONICAL_INSURANCE],
    ),
];

const DLQ_TOPICS: [&str; 6] = [
    "dlq.source-postgres",
    "dlq.source-mysql",
    "dlq.translate",
    "dlq.resolve",
    "dlq.sink",
    "dlq.store",
];

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

// ------------------------------------------------------------------------------------------------
// The platform simulator.

const CLIENT_ID: &str = "bnv-hub";
const CLIENT_SECRET: &str = "fault-suite-secret";

struct Simulator {
    service: Service,
    base: String,
    http: reqwest::Client,
}

impl Simulator {
    fn start(dir: &Path) -> Self {
        let port = free_port();
        let config = dir.join("platform-sim.toml");
        std::fs::write(
            &config,
            format!(
                r#"
listen = "127.0.0.1:{port}"
database = "{db}"
[auth]
token_ttl_seconds = 300
[[auth.oauth_clients]]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
xroad_client = "VN/GOV/000.00.00.H29/lienthong-hub"
"#,
                db = dir.join("platform-sim.sqlite").display(),
            ),
        )
        .unwrap();
        let service = Service::start(
            &["platform-sim", "--config", config.to_str().unwrap()],
            &dir.join("platform-sim.log"),
        );
        let sim = Self {
            service,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        sim.wait_until_listening(1);
        sim
    }

    /// Waits for the `nth` "listening on" line of the log (one per start).
    fn wait_until_listening(&self, nth: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.service.log().matches("listening on ").count() < nth {
            assert!(
                Instant::now() < deadline,
                "the simulator did not start:\n{}",
                self.service.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    async fn get(&self, path: &str) -> Json {
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

    async fn counts(&self) -> Json {
        self.get("/_sim/counts").await
    }

    async fn set_faults(&self, plan: Json) {
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

    /// Every record of a flavour, in arrival order.
    async fn records(&self, flavour: &str) -> Vec<Json> {
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
}

// ------------------------------------------------------------------------------------------------
// The services.

/// The config every service shares; each gets its own `[health]` listener on top.
#[allow(clippy::too_many_arguments)]
fn base_config(
    dir: &Path,
    broker: &str,
    csdl: &str,
    bhxh: &str,
    store: &str,
    register: &Path,
    sim: &str,
    resolve_port: u16,
) -> String {
    let schemas = schemas();
    format!(
        r#"
[telemetry]
log_level = "info,rdkafka=warn"

[kafka]
bootstrap_servers = "{broker}"
# A killed consumer's partitions go to its successor after this long.
session_timeout_ms = 6000

[kafka.properties]
# The rebalance after a kill waits at most this long for members that will never rejoin.
"max.poll.interval.ms" = "10000"
# Also here, not only as session_timeout_ms: the connectors' state-topic reader takes the
# properties but not session_timeout_ms, and librdkafka refuses a session timeout (45 s by
# default) above max.poll.interval.ms.
"session.timeout.ms" = "6000"
# One record per batch: tansu 0.6.0 answers nothing to a fetch starting inside a batch (see the
# module documentation).
"batch.num.messages" = "1"

[kafka.topics.default]
partitions = 3
replication_factor = 1

[kafka.topics.overrides."dlq.*"]
partitions = 1

[retry]
initial_delay_ms = 200
max_delay_ms = 3000

[databases.csdl]
url = "{csdl}"

[databases.bhxh]
url = "{bhxh}"

[databases.store]
url = "{store}"

[source_postgres.csdl-cbcc]
database = "csdl"
slot = "lienthong_faults"
publication = "lienthong_faults"
tables = ["{CIVIL_TABLE}"]
heartbeat_interval_ms = 1000
spill_dir = "{spill}"

[source_mysql.bhxh]
database = "bhxh"
server_id = 4242
tables = ["bhxh.{INSURANCE_TABLE}"]

[translate]
mappings = "{mappings}"
codelists = "{codelists}"
reload_interval_ms = 0
commit_interval_ms = 200

[resolve]
listen = "127.0.0.1:{resolve_port}"
codelists = "{codelists}"
snapshot = "{snapshot}"
register = {{ kind = "csv", path = "{register}" }}
commit_interval_ms = 200

[sink]
commit_interval_ms = 200

[sink.endpoints.ndop]
adapter = "ndop"
url = "{sim}"
dataset = "csdl-cbccvc"
auth = {{ kind = "oauth2", token_url = "{sim}/oauth2/token", client_id = "{CLIENT_ID}", client_secret = "{CLIENT_SECRET}" }}
xroad = {{ client = "VN/GOV/000.00.00.H29/lienthong-hub", service = "VN/GOV/000.00.00.G22/ndop/records", user_id = "lienthong", purpose = "dong-bo-csdl-cbccvc" }}
timeout_ms = 5000
retry = {{ initial_delay_ms = 100, max_delay_ms = 2000 }}
breaker = {{ failure_threshold = 5, open_ms = 1000 }}

[[sink.routes]]
topic = "{RESOLVED_CIVIL}"
endpoint = "ndop"

[store]
database = "store"
max_connections = 3
batch_linger_ms = 50
lag_interval_ms = 1000
"#,
        spill = dir.join("spill").display(),
        mappings = schemas.join("mappings").display(),
        codelists = schemas.join("codelists").display(),
        snapshot = dir.join("population-index.snapshot").display(),
        register = register.display(),
    )
}

/// The service processes, by name, with their health endpoints; shared by the fault driver and
/// the supervisor.
struct Services {
    running: Mutex<BTreeMap<&'static str, Service>>,
    health: BTreeMap<&'static str, String>,
    /// Exits nobody asked for, by service: the supervisor restarted it each time.
    unexpected_exits: Mutex<BTreeMap<&'static str, usize>>,
}

impl Services {
    fn start(dir: &Path, base: &str) -> Self {
        let mut running = BTreeMap::new();
        let mut health = BTreeMap::new();
        for name in SERVICES {
            let port = free_port();
            let config = dir.join(format!("{name}.toml"));
            std::fs::write(
                &config,
                format!("{base}\n[health]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n"),
            )
            .unwrap();
            let service = Service::start(
                &[name, "--config", config.to_str().unwrap()],
                &dir.join(format!("{name}.log")),
            );
            running.insert(name, service);
            health.insert(name, format!("http://127.0.0.1:{port}"));
        }
        Self {
            running: Mutex::new(running),
            health,
            unexpected_exits: Mutex::new(BTreeMap::new()),
        }
    }

    async fn wait_until_ready(&self, timeout: Duration) {
        let http = reqwest::Client::new();
        for name in SERVICES {
            let url = format!("{}/readyz", self.health[name]);
            let deadline = Instant::now() + timeout;
            loop {
                let ready = http
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                if Instant::now() > deadline {
                    let log = self.running.lock().unwrap()[name].log();
                    panic!("{name} is not ready after {timeout:?}:\n{log}");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }

    fn kill9(&self, name: &str) {
        self.running.lock().unwrap().get_mut(name).unwrap().kill9();
    }

    fn restart(&self, name: &str) {
        self.running
            .lock()
            .unwrap()
            .get_mut(name)
            .unwrap()
            .restart();
    }

    /// Restarts any service that exited on its own (as a service manager would), counting it.
    fn supervise_once(&self) {
        let mut running = self.running.lock().unwrap();
        for (name, service) in running.iter_mut() {
            if let Some(status) = service.exited() {
                eprintln!("fault suite: {name} exited by itself ({status}); restarting it");
                *self
                    .unexpected_exits
                    .lock()
                    .unwrap()
                    .entry(name)
                    .or_default() += 1;
                service.restart();
            }
        }
    }

    fn terminate_all(&self) {
        for service in self.running.lock().unwrap().values_mut() {
            service.terminate();
        }
    }
}

/// Restarts services that exit by themselves, every half second, until dropped (also when the
/// test fails: the services then stop with the test instead of being restarted behind it).
struct Supervisor {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Supervisor {
    fn start(services: Arc<Services>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    services.supervise_once();
                    std::thread::sleep(Duration::from_millis(500));
                }
            })
        };
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The workload's process, killed if the test ends before it does.
struct Workload {
    child: std::process::Child,
    /// Where its progress and warnings go.
    log: PathBuf,
}

impl Workload {
    /// Waits for the end and returns the summary line.
    async fn finish(&mut self) -> Json {
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut self.child.stdout.take().unwrap(), &mut stdout).unwrap();
        assert!(
            status.success(),
            "the workload failed ({status}): {stdout}\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------------
// The fault plan.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill(&'static str),
    CutBroker,
    RestoreBroker,
    RestartPostgres,
    RestartMariadb,
    StopPlatform,
    StartPlatform,
    WriteDefects,
}

/// When each fault happens, from the workload's start. Kills are spread over the run with
/// seeded jitter; the first six go to each service once, in a seeded order.
fn fault_plan(rng: &mut StdRng) -> Vec<(Duration, Fault)> {
    let secs = |s: f64| Duration::from_secs_f64(s);
    let mut plan = vec![
        (secs(10.0), Fault::WriteDefects),
        (secs(25.0), Fault::CutBroker),
        (secs(25.0) + BROKER_OUTAGE, Fault::RestoreBroker),
        (secs(55.0), Fault::RestartPostgres),
        (secs(70.0), Fault::StopPlatform),
        (secs(70.0) + PLATFORM_DOWN, Fault::StartPlatform),
        (secs(95.0), Fault::RestartMariadb),
    ];
    let mut victims: Vec<&'static str> = SERVICES.to_vec();
    victims.shuffle(rng);
    while victims.len() < KILLS {
        victims.push(SERVICES[rng.random_range(0..SERVICES.len())]);
    }
    let (first, last) = (6.0, WORKLOAD.as_secs_f64() - 12.0);
    let step = (last - first) / KILLS as f64;
    for (i, victim) in victims.into_iter().enumerate() {
        let at = first + step * i as f64 + rng.random_range(0.0..step * 0.8);
        plan.push((secs(at), Fault::Kill(victim)));
    }
    plan.sort_by_key(|(at, _)| *at);
    plan
}

/// What the fault driver did, for the summary.
#[derive(Debug, Default)]
struct FaultLog {
    kills: BTreeMap<&'static str, usize>,
    broker_outages: usize,
    postgres_restarts: usize,
    mariadb_restarts: usize,
    platform_outages: usize,
    defect_rows: usize,
}

// ------------------------------------------------------------------------------------------------
// Source rows, as the translator's sample rows.

/// Every row of `ho_so_can_bo` as a sample row of the translator (dates, exact decimals,
/// instants typed as the connector sends them), by id.
async fn civil_rows(pg: &mut PgConnection) -> BTreeMap<i64, Json> {
    let columns: Vec<(String, String)> = sqlx::query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'ho_so_can_bo' ORDER BY ordinal_position",
    )
    .fetch_all(&mut *pg)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, kind)| {
            let value = match kind.as_str() {
                "date" => format!("jsonb_build_object('date', {name}::text)"),
                "timestamp with time zone" => {
                    format!("jsonb_build_object('timestamp', extract(epoch FROM {name})::bigint)")
                }
                "numeric" => format!("jsonb_build_object('decimal', {name}::text)"),
                _ => format!("to_jsonb({name})"),
            };
            format!("'{name}', CASE WHEN {name} IS NULL THEN NULL ELSE {value} END")
        })
        .collect();
    sqlx::query(&format!(
        "SELECT id, jsonb_build_object({})::text FROM {CIVIL_TABLE}",
        fields.join(", ")
    ))
    .fetch_all(pg)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get::<i64, _>(0),
            serde_json::from_str(&r.get::<String, _>(1)).unwrap(),
        )
    })
    .collect()
}

/// Every row of `QUA_TRINH_THAM_GIA` as a sample row, typed as the binlog connector sends it.
async fn insurance_rows(my: &mut MySqlConnection) -> BTreeMap<i64, Json> {
    let columns: Vec<(String, String)> = sqlx::query(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = 'bhxh' AND TABLE_NAME = 'QUA_TRINH_THAM_GIA' ORDER BY ORDINAL_POSITION",
    )
    .fetch_all(&mut *my)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    let select: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind.as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => {
                format!("CAST({name} AS SIGNED)")
            }
            "datetime" => format!("DATE_FORMAT({name}, '%Y-%m-%d %H:%i:%s')"),
            _ => format!("CAST({name} AS CHAR)"),
        })
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT {} FROM {INSURANCE_TABLE}",
        select.join(", ")
    ))
    .fetch_all(my)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let mut object = serde_json::Map::new();
            let mut id = 0;
            for (i, (name, kind)) in columns.iter().enumerate() {
                let value = match kind.as_str() {
                    "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => {
                        let v: Option<i64> = row.get(i);
                        if name == "ID" {
                            id = v.unwrap();
                        }
                        v.map_or(Json::Null, |v| json!(v))
                    }
                    "decimal" => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!({ "decimal": v })),
                    "datetime" => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!({ "datetime": v })),
                    "date" => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!({ "date": v })),
                    _ => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!(v)),
                };
                object.insert(name.clone(), value);
            }
            (id, Json::Object(object))
        })
        .collect()
}

/// What the shipped mapping makes of each row: the expected canonical record, or why it is
/// dead-lettered.
fn translate_rows(
    mapping: &Mapping,
    code_lists: &CodeLists,
    rows: &BTreeMap<i64, Json>,
    key: &str,
) -> BTreeMap<i64, Result<MappedRecord, MappingError>> {
    let samples = rows
        .values()
        .map(|r| lienthong_translate::sample::row_from_json(r).unwrap())
        .collect();
    let results = lienthong_translate::trial::run(
        mapping,
        code_lists,
        samples,
        Operation::Read,
        &[key],
        SystemTime::now(),
    );
    rows.keys()
        .copied()
        .zip(results.into_iter().map(|r| r.outcome))
        .collect()
}

/// The content a stage must carry unchanged: provenance (positions, times) and quality (whose
/// freshness checks depend on the clock) set aside.
fn civil_content(mut record: CivilServant) -> CivilServant {
    record.provenance = None;
    record.quality = None;
    if let Some(person) = record.person.as_mut() {
        person.provenance = None;
        person.quality = None;
    }
    record
}

fn insurance_content(mut record: SocialInsuranceRecord) -> SocialInsuranceRecord {
    record.provenance = None;
    record.quality = None;
    if let Some(person) = record.person.as_mut() {
        person.provenance = None;
        person.quality = None;
    }
    record
}

/// The content of an expected record, as one comparable value.
fn expected_content(record: &MappedRecord) -> Content {
    match &record.entity {
        CanonicalEntity::CivilServant(c) => Content::Civil(civil_content(c.clone())),
        CanonicalEntity::SocialInsurance(s) => Content::Insurance(insurance_content(s.clone())),
        other => panic!("unexpected entity {other:?}"),
    }
}

/// The comparable content of a record of either table.
// A few values at a time, compared and dropped: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
enum Content {
    Civil(CivilServant),
    Insurance(SocialInsuranceRecord),
}

// ------------------------------------------------------------------------------------------------
// Kafka: lag, end offsets, whole topics.

async fn partitions(admin: &TopicAdmin, topic: &str) -> Option<usize> {
    admin.cluster_info().await.ok()?.partitions_of(topic)
}

async fn end_offsets(admin: &TopicAdmin, topic: &str) -> Vec<i64> {
    match partitions(admin, topic).await {
        Some(n) => admin.end_offsets(topic, n).await.unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Where the pipeline stands: records of every stage's input not yet committed by its group,
/// each lagging partition, and the topics' end offsets (what "still moving" is judged by).
#[derive(Debug, Default, PartialEq)]
struct PipelineState {
    lag: BTreeMap<&'static str, i64>,
    behind: Vec<String>,
    ends: Vec<i64>,
}

async fn pipeline_state(broker: &str) -> PipelineState {
    let config = kafka_config_for(broker);
    let admin = TopicAdmin::new(&config).unwrap();
    let mut lag = BTreeMap::new();
    let mut behind = Vec::new();
    let mut ends = Vec::new();
    for (stage, group, topics) in GROUPS {
        let consumer = EventConsumer::new(&config, group, KafkaMetrics::default()).unwrap();
        let mut stage_lag = 0;
        for topic in topics {
            let end = end_offsets(&admin, topic).await;
            let committed = consumer
                .committed(topic, end.len() as i32)
                .await
                .unwrap_or_default();
            for (p, end) in end.iter().enumerate() {
                let done = committed.get(p).copied().flatten().unwrap_or(0);
                stage_lag += (end - done).max(0);
                if done < *end {
                    behind.push(format!("{group} {topic}/{p}: committed {done} of {end}"));
                }
            }
            ends.extend(end);
        }
        lag.insert(stage, stage_lag);
    }
    for topic in DLQ_TOPICS {
        ends.extend(end_offsets(&admin, topic).await);
    }
    PipelineState { lag, behind, ends }
}

/// A consumer-protocol assignment (version, then topics with their partitions) as text.
fn assigned_partitions(bytes: &[u8]) -> String {
    let mut at = 2; // the version
    let mut take = |n: usize| {
        let slice = bytes.get(at..at + n);
        at += n;
        slice
    };
    let mut topics = Vec::new();
    let Some(count) = take(4).map(|b| i32::from_be_bytes(b.try_into().unwrap())) else {
        return format!("{bytes:?}");
    };
    for _ in 0..count.max(0) {
        let Some(len) = take(2).map(|b| i16::from_be_bytes(b.try_into().unwrap())) else {
            break;
        };
        let name = take(usize::try_from(len.max(0)).unwrap())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let n = take(4).map_or(0, |b| i32::from_be_bytes(b.try_into().unwrap()));
        let partitions: Vec<i32> = (0..n.max(0))
            .filter_map(|_| take(4).map(|b| i32::from_be_bytes(b.try_into().unwrap())))
            .collect();
        topics.push(format!("{name} {partitions:?}"));
    }
    format!("[{}]", topics.join(", "))
}

/// The members the broker lists for each stage's group (for a failure message).
fn group_members(broker: &str) -> String {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let mut out = String::new();
    for (_, group, _) in GROUPS {
        match consumer.fetch_group_list(Some(group), Duration::from_secs(10)) {
            Ok(list) => {
                for g in list.groups() {
                    let members: Vec<String> = g
                        .members()
                        .iter()
                        .map(|m| {
                            format!(
                                "{} assigned {}",
                                m.id(),
                                m.assignment().map_or("nothing".into(), assigned_partitions)
                            )
                        })
                        .collect();
                    out.push_str(&format!(
                        "{}: state {}, members {members:?}\n",
                        g.name(),
                        g.state()
                    ));
                }
            }
            Err(e) => out.push_str(&format!("{group}: {e}\n")),
        }
    }
    out
}

/// Every record of `topic`, read from the beginning up to its end offsets.
async fn read_topic(broker: &str, topic: &str) -> Vec<InboundRecord> {
    let admin = TopicAdmin::new(&kafka_config_for(broker)).unwrap();
    let ends = end_offsets(&admin, topic).await;
    if ends.iter().all(|e| *e == 0) {
        return Vec::new();
    }
    let mut reader = TopicReader::on(broker, topic).await;
    let ends2 = ends.clone();
    reader
        .read_until(Duration::from_secs(120), move |records| {
            let mut last = vec![-1i64; ends2.len()];
            for r in records {
                let p = r.partition as usize;
                last[p] = last[p].max(r.offset);
            }
            ends2
                .iter()
                .zip(&last)
                .all(|(end, last)| *end == 0 || *last >= end - 1)
        })
        .await;
    reader.records.clone()
}

fn idempotency_key(record: &InboundRecord) -> String {
    record.headers.idempotency_key.clone().unwrap_or_default()
}

/// Distinct idempotency keys of the records that carry a value (tombstones aside).
fn value_keys(records: &[InboundRecord]) -> BTreeSet<String> {
    records
        .iter()
        .filter(|r| r.payload.is_some())
        .map(idempotency_key)
        .collect()
}

fn all_keys(records: &[InboundRecord]) -> BTreeSet<String> {
    records.iter().map(idempotency_key).collect()
}

fn letters(records: &[InboundRecord]) -> Vec<DeadLetter> {
    records
        .iter()
        .filter_map(|r| r.payload.as_deref())
        .map(|p| DeadLetter::decode(p).unwrap())
        .collect()
}

/// The last change event of each source row on a change-event topic (same key, same
/// partition: offset order is publication order; a replayed event repeats an earlier one).
fn last_events(records: &[InboundRecord]) -> BTreeMap<i64, (ChangeEvent, String)> {
    let mut sorted: Vec<&InboundRecord> = records.iter().filter(|r| r.payload.is_some()).collect();
    sorted.sort_by_key(|r| (r.partition, r.offset));
    let mut last = BTreeMap::new();
    for r in sorted {
        let event = ChangeEvent::decode(r.payload.as_deref().unwrap()).unwrap();
        last.insert(int_key(&event), (event, idempotency_key(r)));
    }
    last
}

// ------------------------------------------------------------------------------------------------
// Writing defects the seed does not make.

/// Inserts a copy of row `from` of `table` with some columns replaced by SQL expressions.
fn copy_row_sql(
    table: &str,
    columns: &[String],
    key: &str,
    from: i64,
    set: &[(&str, String)],
) -> String {
    let values: Vec<String> = columns
        .iter()
        .map(|c| {
            set.iter()
                .find(|(name, _)| name == c)
                .map_or_else(|| c.clone(), |(_, expr)| expr.clone())
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {key} = {from}",
        columns.join(", "),
        values.join(", ")
    )
}

/// Rows in PostgreSQL: an 11-digit ID number, a VNI-encoded name and a name double-encoded as
/// UTF-8 (translated and flagged). A UTF8 database holds only valid UTF-8, so bytes that are
/// not cannot be written here.
async fn write_postgres_defects(url: &str) -> usize {
    let mut pg = PgConnection::connect(url).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'ho_so_can_bo' ORDER BY ordinal_position",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let from: i64 = sqlx::query_scalar(&format!("SELECT min(id) FROM {CIVIL_TABLE}"))
        .fetch_one(&mut pg)
        .await
        .unwrap();
    let rows = [
        (
            // "Nguyễn Văn Đức" as UTF-8 bytes read as Windows-1252 and stored again.
            MOJIBAKE_NAME_ID,
            vec![("ho_ten", "'Nguyá»…n VÄƒn Äá»©c'".to_string())],
        ),
        (
            SHORT_ID_ID,
            vec![("so_dinh_danh", "'00108501234'".to_string())],
        ),
        (
            VNI_NAME_ID,
            // "Nguyễn Văn Đức" in VNI-Windows bytes read as Latin-1.
            vec![("ho_ten", "'Nguyeãn Vaên Ñöùc'".to_string())],
        ),
    ];
    for (id, mut set) in rows {
        set.push(("id", id.to_string()));
        set.push(("cap_nhat_luc", "now()".to_string()));
        pg.execute(copy_row_sql(CIVIL_TABLE, &columns, "id", from, &set).as_str())
            .await
            .unwrap();
    }
    3
}

/// Rows in MariaDB: an unreadable first month (dead-lettered by the translator), an impossible
/// birth date, an 11-digit ID number, names in VNI and double-encoded. Returns their ids.
async fn write_mariadb_defects(url: &str) -> Vec<i64> {
    let mut my = MySqlConnection::connect(url).await.unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = 'bhxh' AND TABLE_NAME = 'QUA_TRINH_THAM_GIA' ORDER BY ORDINAL_POSITION",
    )
    .fetch_all(&mut my)
    .await
    .unwrap();
    let from: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(MIN(ID) AS SIGNED) FROM {INSURANCE_TABLE}"
    ))
    .fetch_one(&mut my)
    .await
    .unwrap();
    let defects = [
        ("TU_THANG", "'13/2019'"),
        ("NGAY_SINH", "'31/02/1980'"),
        ("SO_CCCD", "'00108501234'"),
        ("HO_TEN", "'NGUYEÃN VAÊN ÑÖÙC'"),
        ("HO_TEN", "'NGUYá»„N VÄ‚N Äá»¨C'"),
    ];
    let mut ids = Vec::new();
    for (i, (column, value)) in defects.into_iter().enumerate() {
        let id = INSURANCE_DEFECT_IDS + i as i64;
        let set = [
            ("ID", id.to_string()),
            (column, value.to_string()),
            ("NGAY_CAP_NHAT", "NOW()".to_string()),
        ];
        my.execute(copy_row_sql(INSURANCE_TABLE, &columns, "ID", from, &set).as_str())
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// Where two texts part, with some context of each.
fn first_difference(a: &str, b: &str) -> String {
    let at = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((i, _), _)| i);
    let around = |s: &str| {
        let start = s.floor_char_boundary(at.saturating_sub(160));
        let end = s.ceil_char_boundary((at + 160).min(s.len()));
        s[start..end].to_string()
    };
    format!("\n  one:   …{}…\n  other: …{}…", around(a), around(b))
}

/// What a platform must hold for a change: the record's content and the match verdict (status
/// and personal ID), without the processing metadata a stage adds when it makes the record.
fn delivered_content(r: &ResolvedCivilServant) -> (CivilServant, i32, String) {
    let resolution = r.resolution.clone().unwrap_or_default();
    (
        civil_content(r.record.clone().unwrap_or_default()),
        resolution.status,
        resolution.personal_id,
    )
}

/// What tells apart the copies of one record (one idempotency key) on the resolved topic: a
/// stage that handled its input again after a kill made it again.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CopyDifferences {
    /// `provenance.translated_at` (the translator's clock).
    translated_at: bool,
    /// `resolution.resolved_at` (the resolver's clock).
    resolved_at: bool,
    /// The rest of the resolution: match weights, probability, comparisons.
    resolution_scores: bool,
    /// The record's quality flags.
    quality: bool,
    /// Anything else.
    content: bool,
}

fn copy_differences(copies: &[ResolvedCivilServant]) -> CopyDifferences {
    let mut d = CopyDifferences::default();
    let Some(first) = copies.first() else {
        return d;
    };
    let translated_at = |r: &ResolvedCivilServant| {
        r.record
            .as_ref()
            .and_then(|c| c.provenance.as_ref())
            .and_then(|p| p.translated_at)
    };
    let resolved_at = |r: &ResolvedCivilServant| r.resolution.as_ref().and_then(|r| r.resolved_at);
    let scores = |r: &ResolvedCivilServant| {
        let mut resolution = r.resolution.clone().unwrap_or_default();
        resolution.resolved_at = None;
        resolution
    };
    let quality = |r: &ResolvedCivilServant| r.record.as_ref().and_then(|c| c.quality.clone());
    for other in &copies[1..] {
        d.translated_at |= translated_at(first) != translated_at(other);
        d.resolved_at |= resolved_at(first) != resolved_at(other);
        d.resolution_scores |= scores(first) != scores(other);
        d.quality |= quality(first) != quality(other);
        d.content |= delivered_content(first) != delivered_content(other);
    }
    d
}

/// Redeliveries the platform refused as idempotency conflicts although it holds the same change
/// with the same content under the key, by what told the copies apart.
#[derive(Debug, Default)]
struct ConflictTally {
    keys: BTreeSet<String>,
    letters: usize,
    translated_at: usize,
    resolved_at: usize,
    resolution_scores: usize,
    quality: usize,
}

impl ConflictTally {
    fn count(&mut self, key: &str, d: CopyDifferences) {
        self.letters += 1;
        if self.keys.insert(key.to_string()) {
            self.translated_at += usize::from(d.translated_at);
            self.resolved_at += usize::from(d.resolved_at);
            self.resolution_scores += usize::from(d.resolution_scores);
            self.quality += usize::from(d.quality);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The summary.

#[derive(Debug, Default)]
struct Tally {
    checked: usize,
    lost: Vec<String>,
    duplicated: Vec<String>,
    dead_lettered: usize,
}

impl Tally {
    fn lose(&mut self, what: String) {
        self.lost.push(what);
    }
}

fn print_table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap()
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    println!("\n{title}");
    println!("{}", line(header.to_vec()));
    println!(
        "|{}|",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("|")
    );
    for row in rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}

// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_duplicated_under_faults() {
    let started = Instant::now();
    let tempdir = tempfile::tempdir().unwrap();
    // LIENTHONG_FAULTS_KEEP=1 keeps the services' logs and configs for a look afterwards.
    let kept = std::env::var_os("LIENTHONG_FAULTS_KEEP").is_some();
    let dir = &if kept {
        tempdir.keep()
    } else {
        tempdir.path().to_path_buf()
    };
    eprintln!("fault suite: working in {}", dir.display());
    let mut rng = StdRng::seed_from_u64(SEED);

    // A PostgreSQL, a MariaDB and a broker of the test's own, so restarting them disturbs no
    // other test.
    let cluster = TemporaryCluster::start(&[
        ("wal_level", "logical"),
        ("max_connections", "60"),
        ("max_replication_slots", "4"),
        ("max_wal_senders", "4"),
    ]);
    cluster.psql("CREATE DATABASE lienthong_store");
    let csdl_url = format!("postgres://postgres@127.0.0.1:{}/csdl_cbccvc", cluster.port);
    let store_url = format!(
        "postgres://postgres@127.0.0.1:{}/lienthong_store",
        cluster.port
    );
    let mut mariadb = TemporaryMariadb::start(&[
        "--server-id=1",
        "--log-bin=mariadb-bin",
        "--binlog-format=ROW",
        "--binlog-row-image=FULL",
        "--binlog-row-metadata=FULL",
        "--gtid-strict-mode=ON",
        "--log-slave-updates=ON",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        "--max-connections=60",
    ]);
    mariadb.sql(
        "CREATE USER 'lienthong'@'127.0.0.1' IDENTIFIED BY 'lienthong'; \
         GRANT ALL PRIVILEGES ON *.* TO 'lienthong'@'127.0.0.1' WITH GRANT OPTION",
    );
    let bhxh_url = mariadb.url("lienthong", "lienthong", "bhxh");
    // The broker behind a proxy that can be cut (see the module documentation).
    let broker_port = free_port();
    let broker_proxy = TcpProxy::start(([127, 0, 0, 1], broker_port).into()).await;
    let _broker =
        PrivateBroker::start_advertising(&dir.join("broker"), broker_port, broker_proxy.port);
    let broker_address = broker_proxy.address();

    // The sources, with datagen's defects at higher rates.
    let defects = dir.join("defects.toml");
    std::fs::write(&defects, DEFECTS).unwrap();
    let out = dir.join("data");
    let seeded = lienthong(
        &[
            "datagen",
            "seed",
            "--postgres",
            &csdl_url,
            "--mariadb",
            &bhxh_url,
            "--out",
            out.to_str().unwrap(),
            "--people",
            &PEOPLE.to_string(),
            "--civil-servants",
            &CIVIL_SERVANTS.to_string(),
            "--insured",
            &INSURED.to_string(),
            "--seed",
            &SEED.to_string(),
            "--defects",
            defects.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&seeded);
    assert!(seeded.status.success(), "seed failed:\n{stdout}\n{stderr}");
    let seed_summary: Json =
        serde_json::from_slice(&std::fs::read(out.join("datagen.json")).unwrap()).unwrap();
    let seeded_insurance_rows = seed_summary["tables"]["QUA_TRINH_THAM_GIA"]["rows"]
        .as_u64()
        .unwrap();

    // The platform simulator and the services, each its own process.
    let mut sim = Simulator::start(dir);
    let base = base_config(
        dir,
        &broker_address,
        &csdl_url,
        &bhxh_url,
        &store_url,
        &out.join("register.csv"),
        &sim.base,
        free_port(),
    );
    // The register's change topic exists before the resolver follows it, as an operator makes
    // it (`lienthong topics ensure population.v1`); nothing is published to it here.
    TopicAdmin::new(&kafka_config_for(&broker_address))
        .unwrap()
        .ensure_topics(&["population.v1"])
        .await
        .unwrap();
    let services = Arc::new(Services::start(dir, &base));
    services.wait_until_ready(Duration::from_secs(120)).await;

    // The initial snapshots go through before any fault.
    let (drained, state) = wait_for_drain(&broker_address, Duration::from_secs(120), || {}).await;
    assert!(drained, "the initial snapshot did not drain: {state:?}");
    eprintln!(
        "fault suite: snapshot drained after {:.0?}",
        started.elapsed()
    );

    // The workload, and the faults while it runs.
    let workload_log = dir.join("workload.log");
    let workload = Command::new(lienthong_bin())
        .args([
            "datagen",
            "workload",
            "--postgres",
            &csdl_url,
            "--mariadb",
            &bhxh_url,
            "--people",
            &PEOPLE.to_string(),
            "--seed",
            &SEED.to_string(),
            "--defects",
            defects.to_str().unwrap(),
            "--rate",
            &WORKLOAD_RATE.to_string(),
            "--duration",
            &format!("{}s", WORKLOAD.as_secs()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&workload_log).unwrap()))
        .spawn()
        .unwrap();
    let mut workload = Workload {
        child: workload,
        log: workload_log,
    };
    let workload_started = Instant::now();

    let supervisor = Supervisor::start(services.clone());

    let plan = fault_plan(&mut rng);
    let mut log = FaultLog::default();
    let mut mariadb_defect_ids = Vec::new();
    for (at, fault) in plan {
        tokio::time::sleep_until((workload_started + at).into()).await;
        eprintln!(
            "fault suite: {:>5.1} s  {fault:?}",
            workload_started.elapsed().as_secs_f64()
        );
        match fault {
            Fault::Kill(name) => {
                services.kill9(name);
                let down = Duration::from_millis(rng.random_range(300..2500));
                tokio::time::sleep(down).await;
                services.restart(name);
                *log.kills.entry(name).or_default() += 1;
            }
            Fault::CutBroker => {
                broker_proxy.cut();
                log.broker_outages += 1;
            }
            Fault::RestoreBroker => broker_proxy.restore().await,
            Fault::RestartPostgres => {
                tokio::task::block_in_place(|| cluster.restart());
                log.postgres_restarts += 1;
            }
            Fault::RestartMariadb => {
                tokio::task::block_in_place(|| mariadb.restart());
                log.mariadb_restarts += 1;
            }
            Fault::StopPlatform => {
                sim.service.kill9();
                log.platform_outages += 1;
            }
            Fault::StartPlatform => {
                sim.service.restart();
                sim.wait_until_listening(2);
                sim.set_faults(json!({
                    "rate_limit": {
                        "retry_after_seconds": 1,
                        "for_ms": PLATFORM_429.as_millis() as u64,
                    }
                }))
                .await;
            }
            Fault::WriteDefects => {
                log.defect_rows += write_postgres_defects(&csdl_url).await;
                mariadb_defect_ids = write_mariadb_defects(&bhxh_url).await;
                log.defect_rows += mariadb_defect_ids.len();
            }
        }
    }
    let workload_summary = workload.finish().await;
    eprintln!("fault suite: workload {workload_summary}");
    sim.clear_faults().await;
    drop(supervisor);
    services.supervise_once();

    // Drain: every group committed to the end of its input, and nothing moved for a while.
    let (drained, state) = wait_for_drain(&broker_address, DRAIN_TIMEOUT, || {
        services.supervise_once();
    })
    .await;
    eprintln!(
        "fault suite: drained = {drained} after {:.0?}, lag {:?}",
        started.elapsed(),
        state.lag
    );
    // For the failure message: the members the broker counts in each group, while the services
    // still run.
    let members = if drained {
        String::new()
    } else {
        tokio::task::block_in_place(|| group_members(&broker_address))
    };
    let platform_counts = sim.counts().await;
    services.terminate_all();

    // ------------------------------------------------------------------------------------------
    // What the sources hold, and what the shipped mappings make of it.
    let code_lists = CodeLists::load_dir(schemas().join("codelists")).unwrap();
    let mappings = MappingSet::load_dir(schemas().join("mappings"), &code_lists).unwrap();
    let civil_mapping = mappings
        .find("csdl-cbcc", "public", "ho_so_can_bo")
        .unwrap();
    let insurance_mapping = mappings.find("bhxh", "bhxh", "QUA_TRINH_THAM_GIA").unwrap();
    let mut pg = PgConnection::connect(&csdl_url).await.unwrap();
    let mut my = MySqlConnection::connect(&bhxh_url).await.unwrap();
    let civil_source = civil_rows(&mut pg).await;
    let insurance_source = insurance_rows(&mut my).await;
    let civil_expected = translate_rows(civil_mapping, &code_lists, &civil_source, "id");
    let insurance_expected =
        translate_rows(insurance_mapping, &code_lists, &insurance_source, "ID");
    for id in [SHORT_ID_ID, VNI_NAME_ID, MOJIBAKE_NAME_ID] {
        assert!(civil_expected.contains_key(&id), "defect row {id} written");
    }

    // What every topic holds.
    let mut topics: BTreeMap<&str, Vec<InboundRecord>> = BTreeMap::new();
    for topic in [
        CIVIL_TOPIC,
        INSURANCE_TOPIC,
        CANONICAL_CIVIL,
        CANONICAL_INSURANCE,
        RESOLVED_CIVIL,
    ]
    .into_iter()
    .chain(DLQ_TOPICS)
    {
        topics.insert(topic, read_topic(&broker_address, topic).await);
    }
    let dlq = |stage: &str| letters(&topics[format!("dlq.{stage}").as_str()]);

    // What the store and the simulator hold.
    let mut store = PgConnection::connect(&store_url).await.unwrap();
    let versions = sqlx::query(
        "SELECT entity, record_id, idempotency_key, source_position, deleted, body, \
         valid_to IS NULL FROM lienthong_store.versions \
         WHERE entity IN ('civil_servant', 'social_insurance') ORDER BY version_id",
    )
    .fetch_all(&mut store)
    .await
    .unwrap();
    struct Version {
        entity: String,
        record_id: String,
        key: String,
        position: Option<String>,
        deleted: bool,
        body: Option<Vec<u8>>,
        current: bool,
    }
    let versions: Vec<Version> = versions
        .iter()
        .map(|r| Version {
            entity: r.get(0),
            record_id: r.get(1),
            key: r.get(2),
            position: r.get(3),
            deleted: r.get(4),
            body: r.get(5),
            current: r.get(6),
        })
        .collect();
    let current: HashMap<(&str, &str), &Version> = versions
        .iter()
        .filter(|v| v.current)
        .map(|v| ((v.entity.as_str(), v.record_id.as_str()), v))
        .collect();
    let delivered = sim.records("ndop").await;
    let descriptors =
        prost_reflect::DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET).unwrap();
    let resolved_message = descriptors
        .get_message_by_name("lienthong.v1.ResolvedCivilServant")
        .unwrap();
    let from_json = |body: &Json| -> ResolvedCivilServant {
        let message =
            prost_reflect::DynamicMessage::deserialize(resolved_message.clone(), body).unwrap();
        ResolvedCivilServant::decode(message.encode_to_vec().as_slice()).unwrap()
    };

    // ------------------------------------------------------------------------------------------
    // Row by row: the source's final state against the connector's last event, the store's
    // current version and the platform's last record.
    let civil_record_id = |id: i64| format!("csdl-cbcc:public.ho_so_can_bo:id={id}");
    let insurance_record_id = |id: i64| format!("bhxh:bhxh.QUA_TRINH_THAM_GIA:ID={id}");
    let mut store_tally = Tally::default();
    let mut platform_tally = Tally::default();
    let mut capture_tally = Tally::default();
    let translate_dlq: BTreeSet<String> = dlq("translate")
        .iter()
        .map(|l| l.idempotency_key.clone())
        .collect();

    let mut check_rows = |table: &str,
                          mapping: &Mapping,
                          expected: &BTreeMap<i64, Result<MappedRecord, MappingError>>,
                          cdc: &[InboundRecord],
                          entity: &str,
                          record_id: &dyn Fn(i64) -> String| {
        let last = last_events(cdc);
        for (id, outcome) in expected {
            capture_tally.checked += 1;
            store_tally.checked += 1;
            let rid = record_id(*id);
            // The connector's last event for the row says what the row says now.
            let Some((event, event_key)) = last.get(id) else {
                capture_tally.lose(format!("{table} {id}: never captured"));
                store_tally.lose(format!("{rid}: never captured"));
                continue;
            };
            let captured = mapping.apply(event, &code_lists, SystemTime::now());
            match (outcome, &captured) {
                (Ok(want), Ok(got)) if expected_content(want) == expected_content(got) => {}
                (Err(_), Err(_)) => {}
                _ => capture_tally.lose(format!(
                    "{table} {id}: the last captured event is not the row's state\n  row:   {outcome:?}\n  event: {captured:?}"
                )),
            }
            match outcome {
                Err(reason) => {
                    // Dead-lettered by the translator, with its reason.
                    if translate_dlq.contains(event_key) {
                        store_tally.dead_lettered += 1;
                    } else {
                        store_tally.lose(format!(
                            "{rid}: rejected ({reason}) but its last change is not in dlq.translate"
                        ));
                    }
                }
                Ok(want) => {
                    let want = expected_content(want);
                    let Some(version) = current.get(&(entity, rid.as_str())) else {
                        store_tally.lose(format!("{rid}: not in the store"));
                        continue;
                    };
                    if version.deleted {
                        store_tally.lose(format!(
                            "{rid}: deleted in the store, present at the source"
                        ));
                        continue;
                    }
                    let body = version.body.as_deref().unwrap();
                    let got = match entity {
                        "civil_servant" => Content::Civil(civil_content(
                            ResolvedCivilServant::decode(body).unwrap().record.unwrap(),
                        )),
                        _ => Content::Insurance(insurance_content(
                            SocialInsuranceRecord::decode(body).unwrap(),
                        )),
                    };
                    if got != want {
                        store_tally.lose(format!(
                            "{rid}: the store's current version differs from the row\n  want: {want:?}\n  got:  {got:?}"
                        ));
                    }
                }
            }
        }
        // Rows deleted at the source are deleted in the store.
        let live: BTreeSet<String> = expected.keys().map(|id| record_id(*id)).collect();
        for version in current.values().filter(|v| v.entity == entity) {
            if !live.contains(&version.record_id) {
                store_tally.checked += 1;
                if !version.deleted {
                    store_tally.lose(format!(
                        "{}: deleted at the source, live in the store",
                        version.record_id
                    ));
                }
            }
        }
    };
    check_rows(
        CIVIL_TABLE,
        civil_mapping,
        &civil_expected,
        &topics[CIVIL_TOPIC],
        "civil_servant",
        &civil_record_id,
    );
    check_rows(
        INSURANCE_TABLE,
        insurance_mapping,
        &insurance_expected,
        &topics[INSURANCE_TOPIC],
        "social_insurance",
        &insurance_record_id,
    );

    for id in &mariadb_defect_ids {
        assert!(
            insurance_expected.contains_key(id),
            "defect row {id} written"
        );
    }
    assert!(
        insurance_expected[&mariadb_defect_ids[0]].is_err(),
        "an unreadable first month is rejected"
    );

    // The platform: the last record of each civil servant is the row's state (or its deletion).
    let mut platform_last: BTreeMap<String, ResolvedCivilServant> = BTreeMap::new();
    let mut platform_by_position: BTreeMap<(String, Vec<u8>), Vec<String>> = BTreeMap::new();
    for record in &delivered {
        let resolved = from_json(&record["body"]);
        let inner = resolved.record.clone().unwrap();
        let position = inner
            .provenance
            .as_ref()
            .and_then(|p| p.position.as_ref())
            .map(|p| p.encode_to_vec())
            .unwrap_or_default();
        platform_by_position
            .entry((inner.record_id.clone(), position))
            .or_default()
            .push(record["idempotency_key"].as_str().unwrap().to_string());
        platform_last.insert(inner.record_id.clone(), resolved);
    }
    for (id, outcome) in &civil_expected {
        let Ok(want) = outcome else { continue };
        platform_tally.checked += 1;
        let rid = civil_record_id(*id);
        match platform_last.get(&rid) {
            None => platform_tally.lose(format!("{rid}: never delivered")),
            Some(got) => {
                let got = Content::Civil(civil_content(got.record.clone().unwrap()));
                let want = expected_content(want);
                if got != want {
                    platform_tally.lose(format!(
                        "{rid}: the platform's last record differs from the row\n  want: {want:?}\n  got:  {got:?}"
                    ));
                }
            }
        }
    }
    for (rid, resolved) in &platform_last {
        let id: i64 = rid.rsplit('=').next().unwrap().parse().unwrap();
        if !civil_expected.contains_key(&id) {
            platform_tally.checked += 1;
            let operation = resolved
                .record
                .as_ref()
                .and_then(|r| r.provenance.as_ref())
                .map(|p| p.source_operation);
            if operation != Some(Operation::Delete as i32) {
                platform_tally.lose(format!(
                    "{rid}: deleted at the source, last delivered as {operation:?}"
                ));
            }
        }
    }
    // Records the platform refused as idempotency conflicts: a record sent again under a key the
    // platform holds, with other bytes. What the platform holds under that key must be the same
    // change with the same content and verdict, or an update was lost; the Kafka copies of the
    // record tell what made the bytes differ.
    let platform_by_key: HashMap<&str, ResolvedCivilServant> = delivered
        .iter()
        .map(|r| {
            (
                r["idempotency_key"].as_str().unwrap(),
                from_json(&r["body"]),
            )
        })
        .collect();
    let mut resolved_copies: HashMap<String, Vec<ResolvedCivilServant>> = HashMap::new();
    for r in &topics[RESOLVED_CIVIL] {
        if let Some(payload) = r.payload.as_deref() {
            let copy = ResolvedCivilServant::decode(payload).unwrap();
            let copies = resolved_copies.entry(idempotency_key(r)).or_default();
            if !copies.contains(&copy) {
                copies.push(copy);
            }
        }
    }
    let mut conflicts = ConflictTally::default();
    for letter in dlq("sink")
        .iter()
        .filter(|l| l.error_kind.contains("conflict"))
    {
        platform_tally.checked += 1;
        let key = letter.idempotency_key.as_str();
        let sent = ResolvedCivilServant::decode(letter.payload.as_slice()).unwrap();
        match platform_by_key.get(key) {
            None => platform_tally.lose(format!(
                "{key}: refused as a conflict, but the platform holds nothing under that key"
            )),
            Some(held) if delivered_content(held) != delivered_content(&sent) => {
                platform_tally.lose(format!(
                    "{key}: refused as a conflict, and the platform holds another content or verdict under that key: {}",
                    first_difference(
                        &format!("{:?}", delivered_content(&sent)),
                        &format!("{:?}", delivered_content(held))
                    )
                ))
            }
            Some(_) => {
                let copies = resolved_copies.get(key).map_or(&[][..], Vec::as_slice);
                conflicts.count(key, copy_differences(copies));
            }
        }
    }
    // No change delivered twice under two keys; the simulator's own duplicates are recognised
    // redeliveries of one key.
    for ((rid, _), keys) in &platform_by_position {
        if keys.len() > 1 {
            platform_tally
                .duplicated
                .push(format!("{rid}: one change delivered as {keys:?}"));
        }
    }
    // The store: one version per change.
    let mut store_by_position: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
    for v in versions.iter().filter(|v| v.body.is_some()) {
        store_by_position
            .entry((
                v.entity.as_str(),
                v.record_id.as_str(),
                v.position.as_deref().unwrap_or(""),
            ))
            .or_default()
            .push(v.key.as_str());
    }
    for ((_, rid, position), keys) in &store_by_position {
        if keys.len() > 1 {
            store_tally
                .duplicated
                .push(format!("{rid} at {position}: stored as {keys:?}"));
        }
    }
    let store_keys: BTreeSet<String> = versions.iter().map(|v| v.key.clone()).collect();
    assert_eq!(
        store_keys.len(),
        versions.len(),
        "one version per idempotency key"
    );

    // ------------------------------------------------------------------------------------------
    // Stage by stage: records in = records out + dead-lettered, by idempotency key.
    let dlq_keys = |stage: &str| -> BTreeSet<String> {
        dlq(stage)
            .iter()
            .map(|l| l.idempotency_key.clone())
            .collect()
    };
    let mut balance: Vec<Vec<String>> = Vec::new();
    let mut unbalanced: Vec<String> = Vec::new();
    // Connectors: every source change is an event or a dead letter. The workload says how many
    // changes it committed (some, cut by a restart, may or may not have been).
    let table_changes = |table: &str| -> (u64, u64) {
        let t = &workload_summary["tables"][table];
        let n = ["inserted", "updated", "deleted"]
            .iter()
            .map(|k| t[*k].as_u64().unwrap_or(0))
            .sum();
        (n, workload_summary["uncertain"].as_u64().unwrap_or(0))
    };
    let cdc_civil = value_keys(&topics[CIVIL_TOPIC]);
    let cdc_insurance = value_keys(&topics[INSURANCE_TOPIC]);
    let mut source_rows: Vec<Vec<String>> = Vec::new();
    for (name, events, dead, seeded, (changes, uncertain), written) in [
        (
            "source-postgres",
            cdc_civil.len(),
            dlq_keys("source-postgres").len(),
            CIVIL_SERVANTS,
            table_changes("ho_so_can_bo"),
            3u64,
        ),
        (
            "source-mysql",
            cdc_insurance.len(),
            dlq_keys("source-mysql").len(),
            seeded_insurance_rows,
            table_changes("QUA_TRINH_THAM_GIA"),
            mariadb_defect_ids.len() as u64,
        ),
    ] {
        let expected = seeded + changes + written;
        let found = (events + dead) as u64;
        if !(expected..=expected + uncertain).contains(&found) {
            unbalanced.push(format!(
                "{name}: {expected} source changes (+{uncertain} uncertain), {events} events + {dead} dead letters"
            ));
        }
        source_rows.push(vec![
            name.to_string(),
            format!("{expected}"),
            events.to_string(),
            dead.to_string(),
        ]);
    }

    let mut stage_balance = |stage: &str,
                             input: &BTreeSet<String>,
                             output: &BTreeSet<String>,
                             dead: &BTreeSet<String>,
                             out_of: &dyn Fn(&str) -> Option<String>| {
        // `out_of` maps an output key back to its input key.
        let produced: BTreeSet<String> = output.iter().filter_map(|k| out_of(k)).collect();
        let missing: Vec<&String> = input
            .iter()
            .filter(|k| !produced.contains(*k) && !dead.contains(*k))
            .collect();
        let unexpected: Vec<&String> = produced
            .iter()
            .chain(dead)
            .filter(|k| !input.contains(*k))
            .collect();
        let both: Vec<&String> = produced.intersection(dead).collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            unbalanced.push(format!(
                "{stage}: {} in, {} out, {} dead-lettered; missing {:?}; unexpected {:?}",
                input.len(),
                produced.len(),
                dead.len(),
                missing.iter().take(10).collect::<Vec<_>>(),
                unexpected.iter().take(10).collect::<Vec<_>>()
            ));
        }
        balance.push(vec![
            stage.to_string(),
            input.len().to_string(),
            output.len().to_string(),
            dead.len().to_string(),
            both.len().to_string(),
            (missing.len()).to_string(),
            (unexpected.len()).to_string(),
        ]);
    };

    // Translator: the output key is `<source>:<position>:<mapping>@<version>`; its input is the
    // event at that position, so it is matched through the records' provenance.
    let cdc_by_position: HashMap<Vec<u8>, String> = [CIVIL_TOPIC, INSURANCE_TOPIC]
        .iter()
        .flat_map(|t| topics[t].iter())
        .filter_map(|r| {
            let event = ChangeEvent::decode(r.payload.as_deref()?).ok()?;
            Some((
                event.position.unwrap_or_default().encode_to_vec(),
                idempotency_key(r),
            ))
        })
        .collect();
    let mut canonical_input: HashMap<String, String> = HashMap::new();
    for r in topics[CANONICAL_CIVIL]
        .iter()
        .chain(&topics[CANONICAL_INSURANCE])
    {
        let Some(payload) = r.payload.as_deref() else {
            continue;
        };
        let provenance = if r.topic == CANONICAL_CIVIL {
            CivilServant::decode(payload).unwrap().provenance
        } else {
            SocialInsuranceRecord::decode(payload).unwrap().provenance
        };
        let position = provenance
            .and_then(|p| p.position)
            .unwrap_or_default()
            .encode_to_vec();
        if let Some(input) = cdc_by_position.get(&position) {
            canonical_input.insert(idempotency_key(r), input.clone());
        }
    }
    let translate_in: BTreeSet<String> = cdc_civil.union(&cdc_insurance).cloned().collect();
    let translate_out: BTreeSet<String> = value_keys(&topics[CANONICAL_CIVIL])
        .union(&value_keys(&topics[CANONICAL_INSURANCE]))
        .cloned()
        .collect();
    stage_balance(
        "translate",
        &translate_in,
        &translate_out,
        &dlq_keys("translate"),
        &|k| canonical_input.get(k).cloned(),
    );
    let same = |k: &str| Some(k.to_string());
    let resolve_in = value_keys(&topics[CANONICAL_CIVIL]);
    let resolve_out = value_keys(&topics[RESOLVED_CIVIL]);
    stage_balance(
        "resolve",
        &resolve_in,
        &resolve_out,
        &dlq_keys("resolve"),
        &same,
    );
    let platform_keys: BTreeSet<String> = delivered
        .iter()
        .map(|r| r["idempotency_key"].as_str().unwrap().to_string())
        .collect();
    stage_balance(
        "sink",
        &resolve_out,
        &platform_keys,
        &dlq_keys("sink"),
        &same,
    );
    let store_in: BTreeSet<String> = all_keys(&topics[RESOLVED_CIVIL])
        .union(&all_keys(&topics[CANONICAL_INSURANCE]))
        .cloned()
        .collect();
    stage_balance("store", &store_in, &store_keys, &dlq_keys("store"), &same);

    // ------------------------------------------------------------------------------------------
    // The summary.
    let counts = sim.counts().await;
    let mut fault_rows: Vec<Vec<String>> = log
        .kills
        .iter()
        .map(|(name, n)| vec![format!("kill -9 {name}"), n.to_string()])
        .collect();
    fault_rows.extend([
        vec![
            format!(
                "broker unreachable {} s (connections cut at a proxy)",
                BROKER_OUTAGE.as_secs()
            ),
            log.broker_outages.to_string(),
        ],
        vec![
            "PostgreSQL restart".into(),
            log.postgres_restarts.to_string(),
        ],
        vec!["MariaDB restart".into(), log.mariadb_restarts.to_string()],
        vec![
            format!(
                "platform down {} s (process killed)",
                PLATFORM_DOWN.as_secs()
            ),
            log.platform_outages.to_string(),
        ],
        vec![
            format!("platform 429s for {} s (answers)", PLATFORM_429.as_secs()),
            platform_counts["faults"]["rate_limited"]
                .as_i64()
                .unwrap_or(0)
                .to_string(),
        ],
        vec![
            "defect rows written beside datagen's".into(),
            log.defect_rows.to_string(),
        ],
    ]);
    for (name, n) in services.unexpected_exits.lock().unwrap().iter() {
        fault_rows.push(vec![
            format!("{name} exited by itself (restarted)"),
            n.to_string(),
        ]);
    }
    print_table("Faults injected", &["fault", "count"], &fault_rows);
    print_table(
        "Source changes",
        &["connector", "changes", "events", "dead-lettered"],
        &source_rows,
    );
    print_table(
        "Stage balance (distinct idempotency keys)",
        &[
            "stage",
            "in",
            "out",
            "dead-lettered",
            "out and dead",
            "missing",
            "unexpected",
        ],
        &balance,
    );
    let tally_rows: Vec<Vec<String>> = [
        ("capture (source row = last event)", &capture_tally),
        ("store (row = current version)", &store_tally),
        ("platform (row = last record)", &platform_tally),
    ]
    .iter()
    .map(|(what, t)| {
        vec![
            what.to_string(),
            t.checked.to_string(),
            t.lost.len().to_string(),
            t.duplicated.len().to_string(),
            t.dead_lettered.to_string(),
        ]
    })
    .collect();
    if !conflicts.keys.is_empty() {
        println!(
            "\nplatform: {} records (in {} dead letters) sent again under a key the platform holds \
             were refused as idempotency conflicts, although it holds the same content and verdict \
             under that key; their copies on {RESOLVED_CIVIL} differ in translated_at ({}), \
             resolved_at ({}), match scores ({}), quality flags ({})",
            conflicts.keys.len(),
            conflicts.letters,
            conflicts.translated_at,
            conflicts.resolved_at,
            conflicts.resolution_scores,
            conflicts.quality
        );
    }
    print_table(
        "Records checked",
        &[
            "against the sources",
            "checked",
            "lost",
            "duplicated",
            "dead-lettered",
        ],
        &tally_rows,
    );
    let dead_rows: Vec<Vec<String>> = DLQ_TOPICS
        .iter()
        .map(|t| {
            let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
            for l in letters(&topics[t]) {
                *reasons.entry(l.error_kind.clone()).or_default() += 1;
            }
            let reasons: Vec<String> = reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
            vec![
                t.to_string(),
                topics[t].len().to_string(),
                reasons.join(", "),
            ]
        })
        .collect();
    print_table("Dead letters", &["topic", "records", "by kind"], &dead_rows);
    println!(
        "\nplatform simulator: {} records, {} deliveries, {} recognised as duplicates, refused {}; \
         workload: {} changes ({} failed, {} uncertain); drained: {drained}; {:.0?} in all",
        counts["records"],
        counts["deliveries"],
        counts["duplicates"],
        counts["rejected"],
        workload_summary["changes"],
        workload_summary["failed"],
        workload_summary["uncertain"],
        started.elapsed()
    );

    let lost: Vec<&String> = [&capture_tally, &store_tally, &platform_tally]
        .iter()
        .flat_map(|t| &t.lost)
        .collect();
    let duplicated: Vec<&String> = [&capture_tally, &store_tally, &platform_tally]
        .iter()
        .flat_map(|t| &t.duplicated)
        .collect();
    for tally in [&capture_tally, &store_tally, &platform_tally] {
        for line in tally.lost.iter().take(10) {
            eprintln!("LOST {line}");
        }
    }
    for line in duplicated.iter().take(20) {
        eprintln!("DUPLICATED {line}");
    }
    for line in &unbalanced {
        eprintln!("UNBALANCED {line}");
    }
    assert!(
        drained,
        "the pipeline did not drain: {:?}\n{}\n{}",
        state.lag,
        state.behind.join("\n"),
        members
    );
    assert_eq!(lost.len(), 0, "records lost");
    assert_eq!(duplicated.len(), 0, "records duplicated");
    // A change processed again after a kill must reach the platform as the same bytes, which it
    // recognises as a duplicate: a refusal as a conflict dead-letters a record that was fine.
    assert!(
        conflicts.keys.is_empty(),
        "{} redeliveries refused as idempotency conflicts: {:?}",
        conflicts.letters,
        conflicts.keys.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        unbalanced.is_empty(),
        "counts do not balance: {unbalanced:?}"
    );
    // Every service was killed at least once, and the kills were many.
    assert!(
        SERVICES
            .iter()
            .all(|s| log.kills.get(s).is_some_and(|n| *n > 0))
    );
    assert!(log.kills.values().sum::<usize>() >= 20);
    // The defects made it to the dead-letter topics with their reasons.
    assert!(dlq("translate").iter().all(|l| !l.reason.is_empty()));
    assert!(
        store_tally.dead_lettered > 0,
        "rejected rows are dead-lettered"
    );
}

/// Waits until every stage's group has committed to the end of its input and no topic has
/// grown for a while; returns whether it did, with the last state seen.
async fn wait_for_drain(
    broker: &str,
    timeout: Duration,
    mut between: impl FnMut(),
) -> (bool, PipelineState) {
    let deadline = Instant::now() + timeout;
    let mut previous = Vec::new();
    let mut quiet = 0;
    loop {
        let state = pipeline_state(broker).await;
        let idle = state.lag.values().all(|l| *l == 0) && state.ends == previous;
        quiet = if idle { quiet + 1 } else { 0 };
        if quiet >= 3 {
            return (true, state);
        }
        if Instant::now() > deadline {
            return (false, state);
        }
        between();
        previous = state.ends.clone();
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
