//! The gRPC lookup API over a million stored civil servants: `lienthong lookup` (release build)
//! answers `GetCivilServant` and `GetPerson` by personal ID for a partner with a token, every
//! call audited, while one client sends calls at a fixed rate whatever the answers' pace (open
//! loop) and times each one.
//!
//! The store lives in a database of the benchmark's own in the local PostgreSQL
//! ([`DATABASE`]), written through the store's bulk path (`Store::load_versions`) and kept
//! between runs: a run that finds the civil servants loaded uses them as they are.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use chrono::Utc;
use lienthong_proto::v1::lookup_service_client::LookupServiceClient;
use lienthong_proto::v1::{
    self as pb, CivilServant, CodedValue, Date, Decimal, GetCivilServantRequest, GetPersonRequest,
    MatchStatus, Person, PersonName, Place, Provenance, ResolutionResult, ResolvedCivilServant,
};
use lienthong_store::{NewVersion, Store, Subject};
use rand::{Rng as _, SeedableRng as _};
use sqlx::Connection as _;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::Args;
use crate::postgres::metrics_text;
use crate::report::Report;
use crate::service::{Connector, wait_for_log};

/// The benchmark's database in the local stack's PostgreSQL, kept between runs. Tests create
/// databases of their own with random names, so this one is never theirs.
const DATABASE: &str = "lt_bench_lookup";

const PARTNER: &str = "bench-portal";
const PURPOSE: &str = "do-kiem-hieu-nang";
const TOKEN: &str = "bench-lookup-token-0001-of-the-benchmark";
/// Key of the audit log's subject hashes; the bench's own, not a secret.
const SUBJECT_KEY: &str = "bench-lookup-subject-key-0123456789abcdef";

/// Versions per `load_versions` call (one transaction), and calls in flight.
const LOAD_BATCH: u64 = 10_000;
const LOAD_IN_FLIGHT: usize = 2;

/// Province codes of the personal IDs (the first three digits of a CCCD number).
const PROVINCES: [&str; 8] = ["001", "079", "031", "048", "092", "038", "040", "026"];
const GIVEN: [&str; 10] = [
    "An", "Bình", "Chi", "Dũng", "Hà", "Hòa", "Lan", "Minh", "Nam", "Thảo",
];
const FAMILY: [&str; 6] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ"];
const MIDDLE: [&str; 5] = ["Văn", "Thị", "Thị Thu", "Đức", "Ngọc"];

fn record_id(i: u64) -> String {
    format!("csdl-cbcc:public.ho_so_can_bo:id={i}")
}

/// The personal ID of civil servant `i`, unique for every `i` below 80 million: province,
/// century-and-sex digit, birth year, and a six-digit serial.
fn personal_id(i: u64) -> String {
    let serial = i % 1_000_000;
    let province = PROVINCES[(i / 1_000_000) as usize % PROVINCES.len()];
    let block = i / 1_000_000 / PROVINCES.len() as u64;
    format!(
        "{province}{}{:02}{serial:06}",
        block % 10,
        60 + (i / 7) % 40
    )
}

/// Civil servant `i` as the resolver publishes it: matched to its personal ID.
fn servant(i: u64) -> ResolvedCivilServant {
    let coded = |system: &str, code: &str, display: &str| CodedValue {
        code_system: system.into(),
        code: code.into(),
        display: display.into(),
        ..CodedValue::default()
    };
    let id = personal_id(i);
    let (family, middle, given) = (
        FAMILY[(i % 6) as usize],
        MIDDLE[(i / 6 % 5) as usize],
        GIVEN[(i / 30 % 10) as usize],
    );
    ResolvedCivilServant {
        record: Some(CivilServant {
            record_id: record_id(i),
            person: Some(Person {
                record_id: record_id(i),
                personal_id: id.clone(),
                name: Some(PersonName {
                    full: format!("{family} {middle} {given}"),
                    family: family.into(),
                    middle: middle.into(),
                    given: given.into(),
                    ..PersonName::default()
                }),
                birth_date: Some(Date {
                    year: 1960 + (i / 7 % 40) as i32,
                    month: 1 + (i % 12) as i32,
                    day: 1 + (i % 28) as i32,
                }),
                sex: if i.is_multiple_of(2) {
                    pb::Sex::Female as i32
                } else {
                    pb::Sex::Male as i32
                },
                birth_place: Some(Place {
                    province: Some(coded("vn.province", "01", "Thành phố Hà Nội")),
                    ..Place::default()
                }),
                ethnicity: Some(coded("vn.ethnic.qd1019-2008", "01", "Kinh")),
                phone: format!("09{:08}", i % 100_000_000),
                ..Person::default()
            }),
            organisation_id: format!("org-{}", i % 2_000),
            organisation_name: format!("Sở Nội vụ số {}", i % 2_000),
            position: Some(coded("vn.position", "CV", "Chuyên viên")),
            rank: Some(coded("vn.rank", "01.003", "Chuyên viên")),
            salary_step: 1 + (i % 9) as i32,
            salary_coefficient: Some(Decimal {
                value: format!("{:.2}", 2.34 + (i % 9) as f64 * 0.33),
            }),
            provenance: Some(Provenance {
                source_id: "csdl-cbcc".into(),
                idempotency_key: format!("bench-lookup:{i}:v1"),
                ..Provenance::default()
            }),
            ..CivilServant::default()
        }),
        resolution: Some(ResolutionResult {
            status: MatchStatus::Matched as i32,
            stated_personal_id: id.clone(),
            personal_id: id,
            ..ResolutionResult::default()
        }),
    }
}

/// The benchmark database's URL, creating the database when it does not exist.
async fn database_url() -> anyhow::Result<String> {
    let admin_url = lienthong_tests::stack::postgres_url();
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .with_context(|| format!("connecting to {admin_url}: is the local stack up?"))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
            .execute(&mut admin)
            .await?;
    }
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    Ok(format!("{base}/{DATABASE}"))
}

/// How the civil servants came to be in the store.
enum Seeded {
    Reused,
    Loaded { rows: u64, seconds: f64 },
}

/// Makes sure civil servants `0..count` are stored: reuses a complete earlier load, else loads
/// from where an interrupted one stopped (the writes are idempotent by key, so an overlap with
/// stored rows changes nothing).
async fn seed(store: &Store, count: u64) -> anyhow::Result<Seeded> {
    let stored = store.counts().await?["civil_servant"];
    if stored >= count {
        let last = store
            .civil_servant(&Subject::RecordId(record_id(count - 1)))
            .await?
            .context("the bench database holds other civil servants than this benchmark's")?;
        let id = last
            .civil_servant
            .person
            .map(|p| p.personal_id)
            .unwrap_or_default();
        anyhow::ensure!(
            id == personal_id(count - 1),
            "the bench database's civil servants differ from this benchmark's (drop database {DATABASE})"
        );
        return Ok(Seeded::Reused);
    }
    // Batches were written in order, LOAD_IN_FLIGHT at a time: every batch before these is
    // complete.
    let from = (stored / LOAD_BATCH).saturating_sub(LOAD_IN_FLIGHT as u64) * LOAD_BATCH;
    println!("lookup: loading civil servants {from}..{count} into {DATABASE}...");
    let started = Instant::now();
    let mut loads = tokio::task::JoinSet::new();
    let mut next = from;
    let mut loaded = 0u64;
    let mut last_report = Instant::now();
    while next < count || !loads.is_empty() {
        while next < count && loads.len() < LOAD_IN_FLIGHT {
            let (start, end) = (next, (next + LOAD_BATCH).min(count));
            next = end;
            let store = store.clone();
            loads.spawn(async move {
                let versions = tokio::task::spawn_blocking(move || {
                    let now = Utc::now();
                    (start..end)
                        .map(|i| NewVersion::civil_servant(&servant(i), now))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await??;
                let stored = store.load_versions(&versions).await?;
                anyhow::Ok(stored as u64)
            });
        }
        if let Some(done) = loads.join_next().await {
            loaded += done??;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  {:.0} s: {} of {count}",
                started.elapsed().as_secs_f64(),
                next.min(count)
            );
            last_report = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    // Fresh statistics, so the planner knows the tables' size.
    sqlx::query("ANALYZE lienthong_store.versions")
        .execute(store.pool())
        .await?;
    Ok(Seeded::Loaded {
        rows: loaded,
        seconds,
    })
}

fn token_sha256() -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(TOKEN.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_config(
    work: &Path,
    url: &str,
    port: u16,
    health_port: u16,
) -> anyhow::Result<std::path::PathBuf> {
    let policies = work.join("policies");
    std::fs::create_dir_all(&policies)?;
    std::fs::write(
        policies.join(format!("{PARTNER}.toml")),
        format!(
            r#"
id = "{PARTNER}"
name = "Cổng thử tải"
purposes = ["{PURPOSE}"]
[authentication]
token_sha256 = ["{hash}"]
[entities.person]
fields = ["record_id", "personal_id", "name.*", "birth_date", "sex", "resolution.status"]
[entities.civil_servant]
fields = ["record_id", "person.*", "organisation_id", "organisation_name", "rank", "resolution.status", "resolution.personal_id"]
"#,
            hash = token_sha256()
        ),
    )?;
    let config = work.join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[telemetry]
log_level = "info"
[health]
enabled = true
listen = "127.0.0.1:{health_port}"
[kafka]
bootstrap_servers = "{broker}"
[state]
topic = "lienthong.state.bench-lookup"
[databases.store]
url = "{url}"
[policy]
dir = "{policies}"
[audit]
enabled = true
database = "store"
subject_key = "{SUBJECT_KEY}"
topic = ""
[lookup]
listen = "127.0.0.1:{port}"
database = "store"
codelists = "{codelists}"
"#,
            broker = lienthong_tests::stack::broker(),
            policies = policies.display(),
            codelists = crate::translate::schemas_dir()?.join("codelists").display(),
        ),
    )?;
    Ok(config)
}

/// One call: which method, whether the answer was right, its time from send to answer.
#[derive(Debug, Clone, Copy)]
struct Call {
    civil_servant: bool,
    outcome: Outcome,
    latency: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Right,
    /// An answer about someone else, or without the granted fields.
    Wrong,
    /// A gRPC status, by its code's number.
    Failed(i32),
}

/// Calls `GetCivilServant` (`civil_servant`) or `GetPerson` for civil servant `i`, checks the
/// answer names them.
async fn call(
    mut client: LookupServiceClient<Channel>,
    authorization: MetadataValue<tonic::metadata::Ascii>,
    civil_servant: bool,
    i: u64,
) -> Outcome {
    let id = personal_id(i);
    let answer = if civil_servant {
        let mut request = tonic::Request::new(GetCivilServantRequest {
            subject: Some(pb::get_civil_servant_request::Subject::PersonalId(
                id.clone(),
            )),
            purpose: PURPOSE.into(),
        });
        request
            .metadata_mut()
            .insert("authorization", authorization);
        client.get_civil_servant(request).await.map(|r| {
            let servant = r.into_inner().civil_servant.unwrap_or_default();
            servant.record_id == record_id(i) && servant.person.is_some_and(|p| p.personal_id == id)
        })
    } else {
        let mut request = tonic::Request::new(GetPersonRequest {
            personal_id: id.clone(),
            purpose: PURPOSE.into(),
        });
        request
            .metadata_mut()
            .insert("authorization", authorization);
        client
            .get_person(request)
            .await
            .map(|r| r.into_inner().person.is_some_and(|p| p.personal_id == id))
    };
    match answer {
        Ok(true) => Outcome::Right,
        Ok(false) => Outcome::Wrong,
        Err(status) => Outcome::Failed(status.code() as i32),
    }
}

/// Cumulative counts by upper bound of the histogram `name` in a `/metrics` text, summed over
/// its label sets (both methods).
fn histogram_buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        let Some(le) = line.split("le=\"").nth(1).and_then(|r| r.split('"').next()) else {
            continue;
        };
        let bound = if le == "+Inf" {
            f64::INFINITY
        } else {
            match le.parse() {
                Ok(bound) => bound,
                Err(_) => continue,
            }
        };
        let Some(count) = line.rsplit(' ').next().and_then(|c| c.parse::<f64>().ok()) else {
            continue;
        };
        match buckets.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, total)) => *total += count,
            None => buckets.push((bound, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The upper bound of the bucket holding quantile `q` of the calls between two snapshots.
fn quantile_between(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> Option<f64> {
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(bound, count)| {
            let earlier = before
                .iter()
                .find(|(b, _)| b == bound)
                .map_or(0.0, |(_, c)| *c);
            (*bound, count - earlier)
        })
        .collect();
    let total = delta.last()?.1;
    delta
        .iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(bound, _)| *bound)
}

fn bound_text(bound: Option<f64>) -> String {
    match bound {
        Some(b) if b.is_finite() => format!("≤ {} ms", (b * 1e6).round() / 1e3),
        Some(_) => "> the largest bucket".into(),
        None => "-".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks_per_second())
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub async fn run(args: &Args, report: &mut Report) -> anyhow::Result<()> {
    let count = args.lookup_civil_servants;
    anyhow::ensure!(count > 0, "--lookup-civil-servants must be positive");
    let (rate, seconds) = (args.lookup_rate, args.lookup_seconds);
    anyhow::ensure!(
        rate > 0 && seconds > 0,
        "--lookup-rate and --lookup-seconds must be positive"
    );
    let url = database_url().await?;
    let store = Store::connect(&url, 4).await?;
    let seeded = seed(&store, count).await?;
    let stored = store.counts().await?["civil_servant"];
    store.pool().close().await;

    let work = std::env::temp_dir().join(format!(
        "lienthong-bench-lookup-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&work)?;
    let port = lienthong_tests::free_port();
    let health_port = lienthong_tests::free_port();
    let metrics = format!("127.0.0.1:{health_port}");
    let config = write_config(&work, &url, port, health_port)?;
    let log = work.join("lookup.log");
    let lookup = Connector::start(&args.lienthong, "lookup", &config, &log)?;
    wait_for_log(&log, "grpc listening on")?;

    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .connect()
        .await?;
    let client = LookupServiceClient::new(channel);
    let authorization: MetadataValue<_> = format!("Bearer {TOKEN}").parse()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(8);

    // Warm-up: connections of the pool, the server's code paths, some of the indexes' pages.
    println!("lookup: warming up...");
    for n in 0..2_000u64 {
        let outcome = call(
            client.clone(),
            authorization.clone(),
            n.is_multiple_of(2),
            rng.random_range(0..count),
        )
        .await;
        if outcome != Outcome::Right {
            bail!(
                "warm-up call answered {outcome:?}; see {}:\n{}",
                log.display(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
    }

    println!("lookup: {rate} calls/s for {seconds} s over {count} civil servants...");
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let server_before = histogram_buckets(
        &metrics_text(&metrics).await?,
        "lienthong_lookup_call_seconds",
    );
    let cpu_before = cpu_seconds(lookup.id());
    // Other processes on the machine weigh on the tail: say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    // How far behind its schedule the generator sent each call: the open loop holds while
    // this stays small.
    let mut behind_max = Duration::ZERO;
    for n in 0..total {
        let due = started + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        behind_max = behind_max.max(tokio::time::Instant::now() - due);
        let civil_servant = n.is_multiple_of(2);
        let i = rng.random_range(0..count);
        let (client, authorization) = (client.clone(), authorization.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let outcome = call(client, authorization, civil_servant, i).await;
            Call {
                civil_servant,
                outcome,
                latency: sent.elapsed(),
            }
        }));
    }
    let sent_seconds = started.elapsed().as_secs_f64();
    let mut calls = Vec::with_capacity(tasks.len());
    for task in tasks {
        calls.push(task.await?);
    }
    let run_seconds = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, cpu_seconds(lookup.id())) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let server_after = histogram_buckets(
        &metrics_text(&metrics).await?,
        "lienthong_lookup_call_seconds",
    );
    anyhow::ensure!(
        !server_after.is_empty(),
        "no lienthong_lookup_call_seconds histogram in the lookup's /metrics"
    );
    lookup.stop();

    let mut outcomes: BTreeMap<Outcome, u64> = BTreeMap::new();
    for c in &calls {
        *outcomes.entry(c.outcome).or_default() += 1;
    }
    let right = outcomes.get(&Outcome::Right).copied().unwrap_or(0);
    let errors: Vec<String> = outcomes
        .iter()
        .filter(|(o, _)| **o != Outcome::Right)
        .map(|(o, n)| match o {
            Outcome::Failed(code) => format!("{n} {:?}", tonic::Code::from(*code)),
            _ => format!("{n} wrong answers"),
        })
        .collect();
    let latencies = |filter: &dyn Fn(&Call) -> bool| {
        let mut l: Vec<Duration> = calls
            .iter()
            .filter(|c| filter(c))
            .map(|c| c.latency)
            .collect();
        l.sort_unstable();
        l
    };
    let all = latencies(&|_| true);
    let servants = latencies(&|c| c.civil_servant);
    let persons = latencies(&|c| !c.civil_servant);
    let achieved = total as f64 / sent_seconds;
    println!(
        "lookup: p50 {} p99 {} max {}, {right} of {total} right, achieved {achieved:.0}/s",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(all.last().copied().unwrap_or_default())
    );

    let seeded_note = match seeded {
        Seeded::Reused => "loaded by an earlier run and reused".to_string(),
        Seeded::Loaded { rows, seconds } => format!(
            "{rows} loaded in {seconds:.0} s through `Store::load_versions` ({:.0}/s)",
            rows as f64 / seconds.max(1e-9)
        ),
    };
    report.section(
        "Lookup API",
        &format!(
            "{stored} resolved civil servants are stored in the local PostgreSQL (database `{DATABASE}`, kept between runs) through the store's own write path. `lienthong lookup` (release build, plaintext gRPC on loopback) serves them to a partner that authenticates with a bearer token; its policy grants the person's and the civil servant's identifying fields, so every answer is masked by the policy, and every call is written to the hash-chained audit log in the same database before it answers (group commit). One tonic client on one HTTP/2 connection sends calls at a fixed rate of {rate}/s for {seconds} s whatever the answers' pace (open loop), half `GetCivilServant` and half `GetPerson` (which finds the person in the civil servant's record), each for a personal ID drawn at random from all the stored ones; each call is timed from its send to its answer and its answer checked to name the person asked for. 2,000 calls warm up first. Client, server and PostgreSQL share the machine's cores; the 1-minute load average was {load} when the calls started."
        ),
        vec![
            [
                "stored civil servants".into(),
                stored.to_string(),
                seeded_note,
            ],
            [
                format!("lookup latency at {rate}/s, p50"),
                ms(percentile(&all, 0.50)),
                format!(
                    "GetCivilServant {}, GetPerson {}",
                    ms(percentile(&servants, 0.50)),
                    ms(percentile(&persons, 0.50))
                ),
            ],
            [
                format!("lookup latency at {rate}/s, p99"),
                ms(percentile(&all, 0.99)),
                format!(
                    "GetCivilServant {}, GetPerson {}; max {}",
                    ms(percentile(&servants, 0.99)),
                    ms(percentile(&persons, 0.99)),
                    ms(all.last().copied().unwrap_or_default())
                ),
            ],
            [
                "in the server, p50 / p99".into(),
                format!(
                    "{} / {}",
                    bound_text(quantile_between(&server_before, &server_after, 0.50)),
                    bound_text(quantile_between(&server_before, &server_after, 0.99))
                ),
                "the lookup's own histogram (upper bound of the bucket), audit included".into(),
            ],
            [
                "calls answered right".into(),
                format!("{right} of {total}"),
                if errors.is_empty() {
                    "no errors".into()
                } else {
                    errors.join(", ")
                },
            ],
            [
                "achieved rate".into(),
                format!("{achieved:.0}/s"),
                format!(
                    "sent in {sent_seconds:.1} s (at most {} behind schedule), all answered after {run_seconds:.1} s",
                    ms(behind_max)
                ),
            ],
            [
                "lookup process CPU".into(),
                cpu.map_or_else(
                    || "-".into(),
                    |cpu| format!("{:.0}% of a core", cpu / run_seconds * 100.0),
                ),
                cpu.map_or_else(String::new, |cpu| {
                    format!("{:.0} µs per call", cpu / total as f64 * 1e6)
                }),
            ],
        ],
    );
    let _ = std::fs::remove_dir_all(&work);
    anyhow::ensure!(right == total, "lookup calls failed: {}", errors.join(", "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_ids_are_twelve_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..2_100_000)
            .step_by(997)
            .chain([0, 999_999, 1_000_000, 7_999_999, 8_000_000])
            .map(personal_id)
            .collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
        );
        assert_eq!(ids.len(), (0..2_100_000).step_by(997).count() + 5 - 1);
    }

    #[test]
    fn a_stored_servant_is_found_by_its_personal_id() {
        let version = NewVersion::civil_servant(&servant(123_456), Utc::now()).unwrap();
        assert_eq!(version.record_id, record_id(123_456));
        assert_eq!(
            version.personal_id.as_deref(),
            Some(personal_id(123_456).as_str())
        );
        assert_eq!(version.idempotency_key, "bench-lookup:123456:v1");
    }

    #[test]
    fn server_quantiles_come_from_the_difference_of_two_snapshots() {
        let text = |fast: u64, slow: u64| {
            format!(
                "x_bucket{{method=\"GetPerson\",le=\"0.001\"}} {fast}\n\
                 x_bucket{{method=\"GetPerson\",le=\"0.2\"}} {}\n\
                 x_bucket{{method=\"GetPerson\",le=\"+Inf\"}} {}\n\
                 x_bucket{{method=\"GetCivilServant\",le=\"0.001\"}} {fast}\n\
                 x_bucket{{method=\"GetCivilServant\",le=\"0.2\"}} {}\n\
                 x_bucket{{method=\"GetCivilServant\",le=\"+Inf\"}} {}\n\
                 x_count 7\n",
                fast + slow,
                fast + slow,
                fast + slow,
                fast + slow
            )
        };
        let before = histogram_buckets(&text(1_000, 0), "x");
        assert_eq!(
            before,
            [(0.001, 2_000.0), (0.2, 2_000.0), (f64::INFINITY, 2_000.0)]
        );
        // Between the snapshots: 98 fast and 2 slow calls per method.
        let after = histogram_buckets(&text(1_098, 2), "x");
        assert_eq!(quantile_between(&before, &after, 0.5), Some(0.001));
        assert_eq!(quantile_between(&before, &after, 0.98), Some(0.001));
        assert_eq!(quantile_between(&before, &after, 0.99), Some(0.2));
        assert_eq!(quantile_between(&[], &[], 0.5), None);
        assert_eq!(bound_text(Some(0.2)), "≤ 200 ms");
    }

    #[test]
    fn the_policy_token_hash_is_the_token_sha256() {
        assert_eq!(token_sha256().len(), 64);
        assert_ne!(token_sha256(), TOKEN);
    }
}
