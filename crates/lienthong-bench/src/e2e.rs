//! End to end: a row committed in the civil-servant database travels through `lienthong dev`
//! (PostgreSQL connector → translator → resolver → HTTP sink, one process, release build) to
//! `lienthong platform-sim` standing in for NDOP, on a broker of the benchmark's own.
//!
//! Three measures, in one run:
//! - the time from each change's source commit to the platform accepting its record, at a fixed
//!   rate of inserts (p50, p99);
//! - the maximum sustained rate: a backlog of inserts waits in the replication slot while the
//!   process is stopped, then drains through every stage to the platform;
//! - the raw broker ceiling: the runtime's producer writing records of the change events' size,
//!   with nothing else to do.
//!
//! The rows are realistic civil-servant files: `lienthong datagen seed` writes a few thousand
//! (errors and defects injected at its default rates), they become templates, and every insert
//! copies one under a fresh id. Templates whose copy the pipeline does not deliver (a defect it
//! dead-letters, a record the platform refuses) are dropped after a warm-up pass, so every row
//! inserted while measuring is expected at the platform and is counted there.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use lienthong_proto::v1::{ChangeEvent, CivilServant, Provenance, ResolvedCivilServant, value};
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::topics::{TopicReader, kafka_config_for};
use prost::Message as _;
use sqlx::{Connection as _, PgConnection};

use crate::Args;
use crate::postgres::raw_producer_seconds;
use crate::report::{Report, per_second};
use crate::service::{Connector, http_get, wait_for_log};

/// Ids of inserted rows start here, above every seeded id.
const FIRST_ID: i64 = 100_000_000;
/// People in the seeded register (the resolver's index).
const PEOPLE: u64 = 20_000;
/// Rows per transaction of the backlog.
const BACKLOG_TRANSACTION: i64 = 1_000;
const TABLE_TOPIC: &str = "cdc.csdl-cbcc.public.ho_so_can_bo";
const CANONICAL_TOPIC: &str = "canonical.civil_servant.v1";
const RESOLVED_TOPIC: &str = "resolved.civil_servant.v1";
/// Services `lienthong dev` runs.
const SERVICES: &str = "source-postgres,translate,resolve,sink";
/// The simulator's largest page of `GET /_sim/records`.
const PAGE: usize = 1_000;

/// `lienthong dev --config <config> --service <SERVICES>`, output appended to a log; killed if the
/// benchmark fails half-way.
struct Pipeline {
    child: Child,
}

impl Pipeline {
    fn start(binary: &Path, config: &Path, log: &Path) -> anyhow::Result<Self> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(binary)
            .arg("dev")
            .arg("--config")
            .arg(config)
            .args(["--service", SERVICES])
            .env("RUST_LOG", "info,rdkafka=warn")
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out))
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self { child })
    }

    /// SIGTERM, then wait: every stage commits what was acknowledged, the connector its
    /// position.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The civil-servant table and the templates its inserts copy.
struct Source {
    conn: PgConnection,
    /// Columns of `ho_so_can_bo` other than `id`, and what an insert puts in each.
    columns: String,
    values: String,
    /// Columns of `ho_so_can_bo`, `id` included.
    column_count: usize,
    templates: i64,
}

impl Source {
    /// Moves the seeded rows into the template table `bench_mau` (numbered from 0 by `n`) and
    /// leaves `ho_so_can_bo` empty. Runs before the connector first starts, so the move is not
    /// captured.
    async fn from_seeded(url: &str) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect(url).await?;
        sqlx::raw_sql(
            "CREATE TABLE bench_mau AS
                 SELECT (row_number() OVER (ORDER BY id) - 1)::int8 AS n, * FROM public.ho_so_can_bo;
             CREATE INDEX ON bench_mau (n);
             TRUNCATE public.ho_so_can_bo",
        )
        .execute(&mut conn)
        .await?;
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = 'ho_so_can_bo' AND column_name <> 'id'
             ORDER BY ordinal_position",
        )
        .fetch_all(&mut conn)
        .await?;
        anyhow::ensure!(!names.is_empty(), "ho_so_can_bo has no columns");
        // A copy is a file updated now, as a new hire's is.
        let values: Vec<String> = names
            .iter()
            .map(|c| match c.as_str() {
                "cap_nhat_luc" => "now()".to_owned(),
                c => format!("m.{c}"),
            })
            .collect();
        let mut source = Self {
            conn,
            columns: names.join(", "),
            values: values.join(", "),
            column_count: names.len() + 1,
            templates: 0,
        };
        source.count_templates().await?;
        Ok(source)
    }

    async fn count_templates(&mut self) -> anyhow::Result<()> {
        self.templates = sqlx::query_scalar("SELECT count(*) FROM bench_mau")
            .fetch_one(&mut self.conn)
            .await?;
        anyhow::ensure!(self.templates > 0, "no template rows left");
        Ok(())
    }

    /// Inserts copies `from..to` (row id `FIRST_ID + k`, template `k mod templates`).
    fn insert_sql(&self, from: i64, to: i64) -> String {
        format!(
            "INSERT INTO public.ho_so_can_bo (id, {columns})
             SELECT {FIRST_ID} + g, {values} FROM generate_series({from}, {to} - 1) g
             JOIN bench_mau m ON m.n = g % {templates}",
            columns = self.columns,
            values = self.values,
            templates = self.templates,
        )
    }

    async fn insert(&mut self, from: i64, to: i64) -> anyhow::Result<()> {
        sqlx::raw_sql(&self.insert_sql(from, to))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    /// Keeps the templates whose copies (`copies`, numbered as inserted) reached the platform,
    /// numbered from 0 again.
    async fn keep_delivered(&mut self, copies: &BTreeSet<i64>) -> anyhow::Result<i64> {
        let delivered: Vec<i64> = copies.iter().map(|k| k % self.templates).collect();
        sqlx::query("DELETE FROM bench_mau WHERE NOT (n = ANY($1))")
            .bind(&delivered)
            .execute(&mut self.conn)
            .await?;
        sqlx::raw_sql(
            "UPDATE bench_mau m SET n = r.renumbered
             FROM (SELECT n, row_number() OVER (ORDER BY n) - 1 AS renumbered FROM bench_mau) r
             WHERE m.n = r.n",
        )
        .execute(&mut self.conn)
        .await?;
        let before = self.templates;
        self.count_templates().await?;
        Ok(before - self.templates)
    }
}

/// One record the platform simulator accepted.
#[derive(Debug)]
struct Accepted {
    /// The simulator's row id (the order of acceptance).
    row: i64,
    /// The copy number `k` of the source row (`id = FIRST_ID + k`).
    copy: i64,
    commit: DateTime<Utc>,
    received: DateTime<Utc>,
}

/// The platform simulator's inspection API.
struct Platform {
    address: String,
}

impl Platform {
    async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let answer = http_get(&self.address, path).await?;
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .context("no HTTP body from the simulator")?;
        anyhow::ensure!(
            head.starts_with("HTTP/1.1 200"),
            "GET {path}: {}",
            head.lines().next().unwrap_or_default()
        );
        Ok(serde_json::from_str(body)?)
    }

    /// Distinct records stored.
    async fn records(&self) -> anyhow::Result<i64> {
        self.get("/_sim/counts").await?["records"]
            .as_i64()
            .context("no record count")
    }

    /// Every record accepted after simulator row `after`, oldest first.
    async fn accepted_after(&self, mut after: i64) -> anyhow::Result<Vec<Accepted>> {
        let mut out = Vec::new();
        loop {
            let page = self
                .get(&format!(
                    "/_sim/records?flavour=ndop&after={after}&limit={PAGE}"
                ))
                .await?;
            let records = page["records"].as_array().context("no records array")?;
            for record in records {
                out.push(accepted(record)?);
            }
            match page["next_after"].as_i64() {
                Some(next) => after = next,
                None => return Ok(out),
            }
        }
    }

    /// Waits until the simulator holds `count` records, or for `timeout`; the count reached.
    async fn wait_for(&self, count: i64, timeout: Duration) -> anyhow::Result<i64> {
        let deadline = Instant::now() + timeout;
        loop {
            let stored = self.records().await?;
            if stored >= count || Instant::now() > deadline {
                return Ok(stored);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the count has not moved for `quiet` (or reached `count`).
    async fn wait_until_settled(&self, count: i64, quiet: Duration) -> anyhow::Result<i64> {
        let mut last = (self.records().await?, Instant::now());
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let stored = self.records().await?;
            if stored >= count {
                return Ok(stored);
            }
            if stored != last.0 {
                last = (stored, Instant::now());
            } else if last.1.elapsed() > quiet {
                return Ok(stored);
            }
            if Instant::now() > deadline {
                bail!("the platform's count still moves after 300 s ({stored} records)");
            }
        }
    }
}

/// Reads a stored NDOP record: the body is the resolved civil servant in proto3 JSON, whose
/// provenance names the source row and its commit time.
fn accepted(record: &serde_json::Value) -> anyhow::Result<Accepted> {
    let provenance = &record["body"]["record"]["provenance"];
    let key = provenance["sourceKey"]
        .as_str()
        .with_context(|| format!("no record.provenance.sourceKey in {record}"))?;
    let id: i64 = key
        .strip_prefix("id=")
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("source key {key:?} is not id=<number>"))?;
    let time = |value: &serde_json::Value, what: &str| -> anyhow::Result<DateTime<Utc>> {
        let text = value
            .as_str()
            .with_context(|| format!("no {what} in {record}"))?;
        Ok(DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("{what} {text:?}"))?
            .with_timezone(&Utc))
    };
    Ok(Accepted {
        row: record["id"].as_i64().context("no simulator row id")?,
        copy: id - FIRST_ID,
        commit: time(&provenance["sourceCommitTime"], "sourceCommitTime")?,
        received: time(&record["received_at"], "received_at")?,
    })
}

/// The consumers' fetch wait `lienthong dev` runs with under `config`, as `lienthong config
/// show` resolves it (defaults, the file, then `LIENTHONG__…` variables, which it inherits).
fn fetch_wait_ms(binary: &Path, config: &Path) -> anyhow::Result<String> {
    let shown = Command::new(binary)
        .args(["config", "show", "--config"])
        .arg(config)
        .output()?;
    anyhow::ensure!(
        shown.status.success(),
        "lienthong config show failed: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    String::from_utf8_lossy(&shown.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("fetch_wait_max_ms = "))
        .map(|v| v.trim().to_owned())
        .context("no fetch_wait_max_ms in lienthong config show")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn config_text(
    broker: &str,
    db: &str,
    slot: &str,
    work: &Path,
    schemas: &Path,
    sim_port: u16,
) -> String {
    format!(
        r#"
[health]
enabled = false

[kafka]
bootstrap_servers = "{broker}"

[kafka.topics.default]
partitions = 4
replication_factor = 1

[databases.csdl]
url = "{db}"

[source_postgres.csdl-cbcc]
database = "csdl"
slot = "{slot}"
publication = "{slot}"
tables = ["public.ho_so_can_bo"]
spill_dir = "{spill}"

[translate]
mappings = "{mappings}"
codelists = "{codelists}"

[resolve]
listen = "127.0.0.1:0"
codelists = "{codelists}"
register = {{ kind = "csv", path = "{register}" }}

[sink.endpoints.ndop]
adapter = "ndop"
url = "http://127.0.0.1:{sim_port}"
dataset = "csdl-cbccvc"
auth = {{ kind = "static", token = "bench-static-token-0001" }}
xroad = {{ client = "VN/GOV/000.00.00.H29/lienthong-hub", service = "VN/GOV/000.00.00.G22/ndop/records", user_id = "lienthong", purpose = "bench" }}

[[sink.routes]]
topic = "resolved.civil_servant.v1"
endpoint = "ndop"
"#,
        spill = work.join("spill").display(),
        mappings = schemas.join("mappings").display(),
        codelists = schemas.join("codelists").display(),
        register = work.join("data/register.csv").display(),
    )
}

/// Inserts `copies` at `rate` a second (10 ms ticks, each tick's rows one transaction) and
/// waits for all of them at the platform, which held records up to its row `last_row` before.
/// Returns the records the platform accepted, each change's time from source commit to
/// acceptance (milliseconds, sorted), the seconds the inserts took, and the platform's last row.
async fn fixed_rate(
    source: &mut Source,
    platform: &Platform,
    copies: Range<i64>,
    rate: u64,
    last_row: i64,
) -> anyhow::Result<(Vec<Accepted>, Vec<f64>, f64, i64)> {
    let changes = copies.end - copies.start;
    let before = platform.records().await?;
    let started = Instant::now();
    let mut inserted = 0i64;
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while inserted < changes {
        ticker.tick().await;
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as i64).min(changes);
        if due > inserted {
            source
                .insert(copies.start + inserted, copies.start + due)
                .await?;
            inserted = due;
        }
    }
    let writer_seconds = started.elapsed().as_secs_f64();
    let reached = platform
        .wait_for(before + changes, Duration::from_secs(120))
        .await?;
    anyhow::ensure!(
        reached == before + changes,
        "{} of {changes} changes reached the platform within 120 s after the last insert",
        reached - before
    );
    let run = platform.accepted_after(last_row).await?;
    anyhow::ensure!(
        run.len() as i64 == changes && run.iter().all(|a| copies.contains(&a.copy)),
        "the platform's new records are not the {changes} inserted rows"
    );
    let mut latencies: Vec<f64> = run
        .iter()
        .map(|a| {
            (a.received - a.commit)
                .num_microseconds()
                .unwrap_or(i64::MAX) as f64
                / 1e3
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let last_row = run.last().map_or(last_row, |a| a.row);
    Ok((run, latencies, writer_seconds, last_row))
}

/// When a change of the run was captured and handed on by each stage: the connector's capture
/// time (from the change event) and the Kafka timestamps of its change event, canonical record
/// and resolution (each the producing stage's clock when it enqueued the record, milliseconds).
#[derive(Debug, Default, Clone, Copy)]
struct Handoffs {
    captured: Option<DateTime<Utc>>,
    change_event_ms: Option<i64>,
    canonical_ms: Option<i64>,
    resolution_ms: Option<i64>,
}

/// The copy number of a change event's row (its key column `id`), and its capture time.
fn change_event_copy(payload: &[u8]) -> Option<(i64, Option<DateTime<Utc>>)> {
    let event = ChangeEvent::decode(payload).ok()?;
    let id = event.key.iter().find(|c| c.name == "id")?;
    let Some(value::Kind::IntValue(id)) = id.value.as_ref()?.kind else {
        return None;
    };
    let captured = event
        .capture_time
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?));
    Some((id - FIRST_ID, captured))
}

/// The copy number named by a canonical record's provenance (`id=<number>`).
fn provenance_copy(provenance: Option<&Provenance>) -> Option<i64> {
    let id: i64 = provenance?.source_key.strip_prefix("id=")?.parse().ok()?;
    Some(id - FIRST_ID)
}

/// Reads the change-event, canonical and resolution topics from the beginning and notes, for
/// every change of `copies`, when each stage handed it on.
async fn handoffs(
    broker: &str,
    copies: &Range<i64>,
) -> anyhow::Result<std::collections::BTreeMap<i64, Handoffs>> {
    let mut found: std::collections::BTreeMap<i64, Handoffs> = std::collections::BTreeMap::new();
    let wanted = usize::try_from(copies.end - copies.start)?;
    for topic in [TABLE_TOPIC, CANONICAL_TOPIC, RESOLVED_TOPIC] {
        let mut reader = TopicReader::on(broker, topic).await;
        let mut read = 0;
        let mut complete = 0;
        reader
            .read_until(Duration::from_secs(120), |records| {
                for record in &records[read..] {
                    let Some(payload) = record.payload.as_deref() else {
                        continue;
                    };
                    let (copy, captured) = match topic {
                        TABLE_TOPIC => match change_event_copy(payload) {
                            Some((copy, captured)) => (copy, captured),
                            None => continue,
                        },
                        CANONICAL_TOPIC => match CivilServant::decode(payload) {
                            Ok(c) => match provenance_copy(c.provenance.as_ref()) {
                                Some(copy) => (copy, None),
                                None => continue,
                            },
                            Err(_) => continue,
                        },
                        _ => match ResolvedCivilServant::decode(payload) {
                            Ok(r) => match provenance_copy(
                                r.record.as_ref().and_then(|c| c.provenance.as_ref()),
                            ) {
                                Some(copy) => (copy, None),
                                None => continue,
                            },
                            Err(_) => continue,
                        },
                    };
                    if !copies.contains(&copy) {
                        continue;
                    }
                    let times = found.entry(copy).or_default();
                    let slot = match topic {
                        TABLE_TOPIC => {
                            times.captured = captured;
                            &mut times.change_event_ms
                        }
                        CANONICAL_TOPIC => &mut times.canonical_ms,
                        _ => &mut times.resolution_ms,
                    };
                    if slot.is_none() {
                        complete += 1;
                    }
                    *slot = record.timestamp_ms;
                }
                read = records.len();
                complete >= wanted
            })
            .await;
    }
    Ok(found)
}

/// The hops of a change from source commit to the platform, each as milliseconds per change
/// (sorted), for the changes the platform accepted.
fn hops(
    run: &[Accepted],
    handed: &std::collections::BTreeMap<i64, Handoffs>,
) -> anyhow::Result<Vec<(&'static str, Vec<f64>)>> {
    let mut hops: Vec<(&'static str, Vec<f64>)> = vec![
        ("source commit → captured by the connector", Vec::new()),
        ("captured → change event enqueued", Vec::new()),
        ("change event → canonical record (translator)", Vec::new()),
        ("canonical record → resolution (resolver)", Vec::new()),
        ("resolution → platform accepted (sink)", Vec::new()),
    ];
    // Kafka timestamps and the platform's are whole milliseconds: so are the other points.
    let millis = |t: DateTime<Utc>| t.timestamp_millis() as f64;
    for accepted in run {
        let times = handed
            .get(&accepted.copy)
            .with_context(|| format!("copy {} is in no topic", accepted.copy))?;
        let (Some(captured), Some(event), Some(canonical), Some(resolution)) = (
            times.captured,
            times.change_event_ms,
            times.canonical_ms,
            times.resolution_ms,
        ) else {
            bail!("copy {} lacks a time: {times:?}", accepted.copy);
        };
        let points = [
            millis(accepted.commit),
            millis(captured),
            event as f64,
            canonical as f64,
            resolution as f64,
            millis(accepted.received),
        ];
        for (hop, pair) in hops.iter_mut().zip(points.windows(2)) {
            hop.1.push(pair[1] - pair[0]);
        }
    }
    for hop in &mut hops {
        hop.1.sort_by(f64::total_cmp);
    }
    Ok(hops)
}

/// Waits for the backlog `copies` to reach the platform, which held `before` records (up to its
/// row `last_row`) when the pipeline was started at `started`. Returns the seconds from the
/// platform's first acceptance of a backlog record to its last, and from `started`.
async fn drain(
    platform: &Platform,
    copies: Range<i64>,
    before: i64,
    started: Instant,
    last_row: i64,
) -> anyhow::Result<(f64, f64)> {
    let backlog = copies.end - copies.start;
    let target = before + backlog;
    let mut first_accepted = None;
    let mut last_report = Instant::now();
    loop {
        let stored = platform.records().await?;
        if first_accepted.is_none() && stored > before {
            first_accepted = Some(Instant::now());
        }
        if stored >= target {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!(
                "the backlog did not drain within 600 s ({} of {backlog})",
                stored - before
            );
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            println!(
                "  {:.0} s: {} of {backlog}",
                started.elapsed().as_secs_f64(),
                stored - before
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = Instant::now();
    let drained = platform.accepted_after(last_row).await?;
    anyhow::ensure!(
        drained.len() as i64 == backlog && drained.iter().all(|a| copies.contains(&a.copy)),
        "{} records at the platform after the backlog, not its {backlog} rows",
        drained.len()
    );
    let with_start = (done - started).as_secs_f64();
    let drain = first_accepted.map_or(with_start, |first| (done - first).as_secs_f64());
    Ok((drain, with_start))
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let work: PathBuf = std::env::temp_dir().join(format!(
        "lienthong-bench-e2e-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work)?;
    // The cores are shared: what else ran is part of the result.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let schemas = crate::translate::schemas_dir()?;
    let broker = PrivateBroker::start(&work.join("broker"));
    let kafka = kafka_config_for(&broker.address());
    let db = TestDatabase::create("lt_bench_e2e").await;
    let slot = format!(
        "lt_test_e2e_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );

    println!(
        "seeding {} civil-servant files as templates...",
        args.e2e_templates
    );
    let seeded = Command::new(&args.lienthong)
        .args(["datagen", "seed", "--postgres", &db.url, "--out"])
        .arg(work.join("data"))
        .args(["--people", &PEOPLE.to_string()])
        .args(["--civil-servants", &args.e2e_templates.to_string()])
        .output()?;
    anyhow::ensure!(
        seeded.status.success(),
        "datagen seed failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let mut source = Source::from_seeded(&db.url).await?;

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
"#
        ),
    )?;
    let sim_log = work.join("platform-sim.log");
    let sim = Connector::start(&args.lienthong, "platform-sim", &sim_config, &sim_log)?;
    wait_for_log(&sim_log, "listening on")?;
    let platform = Platform {
        address: format!("127.0.0.1:{sim_port}"),
    };

    let config = work.join("lienthong.toml");
    std::fs::write(
        &config,
        config_text(&broker.address(), &db.url, &slot, &work, &schemas, sim_port),
    )?;
    let ensured = Command::new(&args.lienthong)
        .args(["topics", "ensure", "--config"])
        .arg(&config)
        .arg("population.v1")
        .output()?;
    anyhow::ensure!(
        ensured.status.success(),
        "topics ensure failed: {}",
        String::from_utf8_lossy(&ensured.stderr)
    );
    let fetch_wait = fetch_wait_ms(&args.lienthong, &config)?;
    let log = work.join("dev.log");
    let pipeline = Pipeline::start(&args.lienthong, &config, &log)?;
    for ready in ["streaming changes", "resolving", "delivering"] {
        wait_for_log(&log, ready)?;
    }

    // Warm-up: one copy of every template, which also shows which templates reach the platform.
    let templates = source.templates;
    println!("warm-up: one copy of each of {templates} templates...");
    source.insert(0, templates).await?;
    let warmed = platform
        .wait_until_settled(templates, Duration::from_secs(10))
        .await?;
    let warm_up = platform.accepted_after(0).await?;
    let delivered: BTreeSet<i64> = warm_up.iter().map(|a| a.copy).collect();
    anyhow::ensure!(
        delivered.len() as i64 == warmed,
        "{warmed} records at the platform, {} distinct source rows",
        delivered.len()
    );
    let dropped = source.keep_delivered(&delivered).await?;
    println!("  {warmed} delivered; {dropped} templates the pipeline does not deliver left out");
    let last_row = warm_up.last().map_or(0, |a| a.row);
    let mut next_copy = templates;

    // Latency at a fixed rate.
    let rate = args.e2e_rate;
    let changes = (rate * args.e2e_seconds) as i64;
    println!("{changes} changes at {rate}/s through the pipeline to the platform...");
    let first = next_copy;
    let (run, latencies, writer_seconds, last_row) = fixed_rate(
        &mut source,
        &platform,
        first..first + changes,
        rate,
        last_row,
    )
    .await?;
    println!("where the time goes: reading the topics...");
    let handed = handoffs(&broker.address(), &(first..first + changes)).await?;
    let hops = hops(&run, &handed)?;
    next_copy += changes;

    // Maximum sustained rate: a backlog waits in the slot while the process is stopped, then
    // drains to the platform. Timed from the platform's first acceptance of a backlog record to
    // its last, so start-up (the resolver loading its index) is left out; the time from process
    // start is reported beside it.
    let backlog = args.e2e_backlog;
    println!("backlog of {backlog} changes, drained to the platform...");
    pipeline.stop();
    let mut from = next_copy;
    while from < next_copy + backlog {
        let to = (from + BACKLOG_TRANSACTION).min(next_copy + backlog);
        source.insert(from, to).await?;
        from = to;
    }
    let before = platform.records().await?;
    let started = Instant::now();
    let pipeline = Pipeline::start(&args.lienthong, &config, &log)?;
    let (drain_seconds, with_start_seconds) = drain(
        &platform,
        next_copy..next_copy + backlog,
        before,
        started,
        last_row,
    )
    .await?;
    pipeline.stop();
    sim.stop();

    // The raw broker ceiling, with records of the change events' size.
    let mut reader = TopicReader::on(&broker.address(), TABLE_TOPIC).await;
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 1_000)
        .await;
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
    println!("raw broker ceiling...");
    let raw_seconds = raw_producer_seconds(&kafka, backlog, key_len, payload_len).await?;
    let sustained = backlog as f64 / drain_seconds;
    let raw = backlog as f64 / raw_seconds;

    report.section(
        "End to end",
        &format!(
            "A change committed in the civil-servant database (PostgreSQL, `public.ho_so_can_bo`, {columns} columns) travels through `lienthong dev` (release build; the PostgreSQL connector, translator, resolver and HTTP sink in one process, as in the demo) over a broker of the benchmark's own (4 partitions a topic) to `lienthong platform-sim` on loopback as NDOP (batches, bearer token, X-Road headers, in-memory SQLite). The rows are copies, under fresh ids, of {templates} civil-servant files `lienthong datagen seed` wrote with its default errors and defects (register of {PEOPLE} people); after a warm-up pass of one copy each, templates whose copy the pipeline does not deliver (dead-lettered or refused; {dropped} in this run) are left out, so every measured change is expected at the platform, and the runs check that each arrived once. Latency: rows are inserted at a fixed rate for {seconds} s (10 ms ticks, each tick's rows one transaction); each record's time runs from its source commit (the commit time the connector read from the WAL, in its provenance) to the simulator storing it (its `received_at`, millisecond resolution). Where the time goes, per change of that run: the connector's capture time in its change event and the Kafka timestamps of the change event, the canonical record and the resolution (each the producing stage's clock when it enqueued the record, millisecond resolution), read back from the topics; so a hop that starts at a Kafka timestamp includes the producer's linger, the broker round trip and the next consumer's fetch before that stage's own work. Maximum sustained rate: {backlog} inserts (transactions of {BACKLOG_TRANSACTION}) wait in the replication slot while the process is stopped; then it starts and they drain to the platform, timed from the first backlog record the platform accepted to the last (start-up, mostly the resolver loading its index, left out; the time from process start is in the note). Raw broker ceiling: the runtime's producer (the connectors' settings) writing {backlog} records of the change events' size ({payload_len}-byte values, {key_len}-byte keys) to the same broker, nothing else running. Each change crosses the broker three times (change event, canonical record, resolution) and its sink receipt a fourth, on two cores shared by every process here, so the ratio is far below one by construction. Consumers wait at most {fetch_wait} ms for data (`[kafka] fetch_wait_max_ms`). The machine's one-minute load average when the run began: {load}.",
            seconds = args.e2e_seconds,
            columns = source.column_count,
        ),
        vec![
            [
                format!("source commit → platform accepted p50 at {rate} changes/s"),
                format!("{:.0} ms", percentile(&latencies, 0.50)),
                format!(
                    "{changes} changes in {writer_seconds:.1} s, every one accepted once"
                ),
            ],
            [
                format!("source commit → platform accepted p99 at {rate} changes/s"),
                format!("{:.0} ms", percentile(&latencies, 0.99)),
                format!("max {:.0} ms", latencies.last().copied().unwrap_or(f64::NAN)),
            ],
        ]
        .into_iter()
        .chain(hops.iter().map(|(hop, millis)| {
            [
                format!("{hop}, p50"),
                format!("{:.0} ms", percentile(millis, 0.50)),
                format!(
                    "p99 {:.0} ms, max {:.0} ms",
                    percentile(millis, 0.99),
                    millis.last().copied().unwrap_or(f64::NAN)
                ),
            ]
        }))
        .chain([
            [
                "maximum sustained rate (backlog drained to the platform)".into(),
                per_second(backlog as f64, drain_seconds),
                format!(
                    "{drain_seconds:.1} s for {backlog} changes; {} from process start",
                    per_second(backlog as f64, with_start_seconds)
                ),
            ],
            [
                "raw broker ceiling".into(),
                per_second(backlog as f64, raw_seconds),
                format!("end to end / ceiling = {:.3}", sustained / raw),
            ],
        ])
        .collect(),
    );

    drop(reader);
    drop(broker);
    drop(source);
    db.drop_with_slot(&slot).await;
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_stored_ndop_record_gives_its_copy_and_both_times() {
        let record = serde_json::json!({
            "id": 42,
            "received_at": "2026-03-01T10:00:00.250Z",
            "body": {"record": {"provenance": {
                "sourceKey": format!("id={}", FIRST_ID + 7),
                "sourceCommitTime": "2026-03-01T10:00:00.100500Z",
            }}},
        });
        let stored = accepted(&record).unwrap();
        assert_eq!(stored.row, 42);
        assert_eq!(stored.copy, 7);
        assert_eq!(
            (stored.received - stored.commit).num_microseconds(),
            Some(149_500)
        );
        assert!(accepted(&serde_json::json!({"id": 1, "body": {}})).is_err());
    }

    #[test]
    fn hops_split_the_time_from_commit_to_the_platform() {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };
        let commit = at("2026-03-01T10:00:00.100Z");
        let run = [Accepted {
            row: 1,
            copy: 3,
            commit,
            received: at("2026-03-01T10:00:00.400Z"),
        }];
        let base = commit.timestamp_millis();
        let handed = std::collections::BTreeMap::from([(
            3,
            Handoffs {
                captured: Some(at("2026-03-01T10:00:00.102500Z")),
                change_event_ms: Some(base + 5),
                canonical_ms: Some(base + 110),
                resolution_ms: Some(base + 215),
            },
        )]);
        let split = hops(&run, &handed).unwrap();
        let millis: Vec<f64> = split.iter().map(|(_, m)| m[0]).collect();
        assert_eq!(millis, [2.0, 3.0, 105.0, 105.0, 85.0]);
        // Together they are the whole way.
        assert_eq!(millis.iter().sum::<f64>(), 300.0);

        let mut partial = handed.clone();
        partial.get_mut(&3).unwrap().resolution_ms = None;
        assert!(hops(&run, &partial).is_err());
        assert!(hops(&run, &std::collections::BTreeMap::new()).is_err());
    }

    #[test]
    fn copies_are_read_from_change_event_keys_and_provenance() {
        use lienthong_proto::v1::Column;
        let event = ChangeEvent {
            key: vec![Column {
                name: "id".into(),
                value: Some(lienthong_proto::v1::Value {
                    kind: Some(value::Kind::IntValue(FIRST_ID + 12)),
                }),
                source_type: "int8".into(),
            }],
            capture_time: Some(prost_types::Timestamp {
                seconds: 1_772_359_200,
                nanos: 5_000_000,
            }),
            ..Default::default()
        };
        let (copy, captured) = change_event_copy(&event.encode_to_vec()).unwrap();
        assert_eq!(copy, 12);
        assert_eq!(captured.unwrap().timestamp_millis(), 1_772_359_200_005);
        assert!(change_event_copy(&ChangeEvent::default().encode_to_vec()).is_none());
        assert!(change_event_copy(b"\xff not protobuf").is_none());

        let provenance = Provenance {
            source_key: format!("id={}", FIRST_ID + 4),
            ..Default::default()
        };
        assert_eq!(provenance_copy(Some(&provenance)), Some(4));
        let other = Provenance {
            source_key: "ma=7".into(),
            ..Default::default()
        };
        assert_eq!(provenance_copy(Some(&other)), None);
        assert_eq!(provenance_copy(None), None);
    }

    #[test]
    fn percentiles_of_sorted_values() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), 51.0);
        assert_eq!(percentile(&values, 0.99), 99.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
