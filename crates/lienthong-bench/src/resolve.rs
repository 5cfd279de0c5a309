//! The population-ID resolver at register scale, through the same paths the commands use:
//! `lienthong-datagen` writes a register and a civil-servant list with injected errors and
//! ground truth as CSV; the register is loaded with the resolver's CSV loader into the index;
//! the model is estimated from a sample of the list without labels; the whole list is
//! reconciled on every core (as `lienthong reconcile` does), and precision and recall are
//! scored against the truth per injected error kind; then the gRPC service, in this process
//! over loopback, is driven at a fixed request rate.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lienthong_datagen::{DatagenOptions, generate};
use lienthong_proto::v1::resolve_service_client::ResolveServiceClient;
use lienthong_proto::v1::{CodedValue, Date, Person, PersonName, Place, ResolveRequest, Sex};
use lienthong_resolve::grpc::{ResolveApi, ServerAccess, bind, serve};
use lienthong_resolve::matcher::{MatchStatus, Matcher, MatcherConfig};
use lienthong_resolve::model::Model;
use lienthong_resolve::reconcile::{ColumnMapping, prepare, read_csv, resolve_all};
use lienthong_resolve::register::load_csv;
use lienthong_resolve::service::{ResolveMetrics, Resolver, load_province_map};
use lienthong_resolve::training::{FitSettings, fit};
use lienthong_resolve::values::ProvinceCodes;
use lienthong_runtime::{Metrics, Shutdown};

use crate::report::{Report, per_second};

/// Per error kind (and overall): rows, rows with a register entry, right, wrong, NOT_FOUND
/// correct among absent people.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    rows: u64,
    present: u64,
    right: u64,
    wrong: u64,
    absent: u64,
    absent_right: u64,
}

impl Tally {
    fn precision(&self) -> f64 {
        self.right as f64 / (self.right + self.wrong).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.right as f64 / self.present.max(1) as f64
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn read_truth(path: &Path) -> anyhow::Result<HashMap<String, (String, Vec<String>)>> {
    let mut reader = csv::Reader::from_path(path)?;
    let mut truth = HashMap::new();
    for row in reader.records() {
        let row = row?;
        let errors = row[2]
            .split(';')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect();
        truth.insert(row[0].to_owned(), (row[1].to_owned(), errors));
    }
    Ok(truth)
}

/// A list row as a canonical person, for gRPC requests.
fn person_of(row: &csv::StringRecord) -> Person {
    let date: Vec<i32> = row[2].split('/').filter_map(|p| p.parse().ok()).collect();
    let (day, month, year) = match date.as_slice() {
        [d, m, y] => (*d, *m, *y),
        _ => (0, 0, 0),
    };
    Person {
        personal_id: row[4].to_owned(),
        name: Some(PersonName {
            full: row[1].to_owned(),
            ..PersonName::default()
        }),
        birth_date: Some(Date { year, month, day }),
        sex: match &row[3] {
            "Nam" => Sex::Male as i32,
            "Nữ" => Sex::Female as i32,
            _ => Sex::Unspecified as i32,
        },
        birth_place: Some(Place {
            province: Some(CodedValue {
                code: row[5].to_owned(),
                ..CodedValue::default()
            }),
            ..Place::default()
        }),
        ..Person::default()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub async fn run(
    people: u64,
    records: usize,
    grpc_rate: u64,
    grpc_seconds: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_path_buf();
    let codelists = crate::translate::schemas_dir()?.join("codelists");
    let provinces = load_province_map(&codelists)?;

    println!("resolve: generating a register of {people} people and a list of {records} rows");
    let started = Instant::now();
    let options = DatagenOptions {
        people,
        civil_servants: records,
        seed: 2026,
        ..DatagenOptions::default()
    };
    let generated = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || generate(&options, &data)).await??
    };
    let generate_secs = started.elapsed().as_secs_f64();

    println!("resolve: building the index");
    let started = Instant::now();
    let (index, load) = {
        let (path, map) = (data.join("register.csv"), provinces.clone());
        tokio::task::spawn_blocking(move || load_csv(&path, &map, ProvinceCodes::Pre2025)).await??
    };
    let build_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        load.rejected == 0,
        "register rows rejected: {:?}",
        load.problems
    );
    let memory = index.memory_report();
    let bytes_per_person = memory.bytes_per_person();
    let projected_gib = bytes_per_person * 1e8 / f64::from(1u32 << 30);

    let table = read_csv(&data.join("civil_servants.csv"))?;
    let mapping = ColumnMapping::default();
    let columns = mapping.detect(&table.headers)?;
    let inputs = prepare(&table, &columns, &mapping, &provinces);
    let truth = read_truth(&data.join("truth.csv"))?;

    println!("resolve: estimating the model");
    let started = Instant::now();
    let sample: Vec<_> = inputs
        .iter()
        .step_by((inputs.len() / 20_000).max(1))
        .map(|r| r.query.clone())
        .collect();
    let index = Arc::new(index);
    let (params, fit_report) = {
        let index = index.clone();
        tokio::task::spawn_blocking(move || fit(&index, &sample, "bench", &FitSettings::default()))
            .await??
    };
    let fit_secs = started.elapsed().as_secs_f64();
    let matcher = Matcher::new(Model::new(params)?, MatcherConfig::default())?;

    println!("resolve: reconciling {} rows", inputs.len());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let started = Instant::now();
    let (rows, matcher) = {
        let index = index.clone();
        tokio::task::spawn_blocking(move || {
            let rows = resolve_all(&index, &matcher, inputs, threads, &|_| {});
            (rows, matcher)
        })
        .await?
    };
    let reconcile_secs = started.elapsed().as_secs_f64();

    let mut overall = Tally::default();
    let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
    let mut statuses: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &rows {
        let (expected, errors) = truth
            .get(&row.input.record_id)
            .ok_or_else(|| anyhow::anyhow!("{} not in truth.csv", row.input.record_id))?;
        let matched = matches!(
            row.resolution.status,
            MatchStatus::Matched | MatchStatus::MatchedWithDiscrepancies
        );
        *statuses
            .entry(lienthong_resolve::service::status_label(
                row.resolution.status,
            ))
            .or_default() += 1;
        let found = row
            .resolution
            .personal_id
            .map(|p| p.to_string())
            .unwrap_or_default();
        let tally = |t: &mut Tally| {
            t.rows += 1;
            if expected.is_empty() {
                t.absent += 1;
                t.absent_right += u64::from(!matched);
            } else {
                t.present += 1;
            }
            if matched {
                if found == *expected {
                    t.right += 1;
                } else {
                    t.wrong += 1;
                }
            }
        };
        tally(&mut overall);
        if errors.is_empty() {
            tally(by_kind.entry("(no error)".into()).or_default());
        }
        for kind in errors {
            tally(by_kind.entry(kind.clone()).or_default());
        }
    }
    drop(rows);

    // gRPC at a fixed rate against the same index.
    println!("resolve: gRPC at {grpc_rate} requests/s for {grpc_seconds} s");
    let index = Arc::try_unwrap(index).map_err(|_| anyhow::anyhow!("index still shared"))?;
    let resolver = Resolver::new(index, matcher, ResolveMetrics::register(&Metrics::new()));
    let (addr, listener) = bind("127.0.0.1:0".parse()?).await?;
    let shutdown = Shutdown::new();
    let server = tokio::spawn(serve(
        ResolveApi::new(resolver, provinces),
        listener,
        ServerAccess::default(),
        Duration::from_secs(5),
        shutdown.clone(),
    ));
    let client = ResolveServiceClient::connect(format!("http://{addr}")).await?;
    let bytes = std::fs::read(data.join("civil_servants.csv"))?;
    let mut list = csv::Reader::from_reader(bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes));
    let people: Vec<Person> = list
        .records()
        .take(20_000)
        .filter_map(Result::ok)
        .map(|r| person_of(&r))
        .collect();
    anyhow::ensure!(!people.is_empty(), "no list rows for gRPC requests");
    // Warm up connections and caches.
    for person in people.iter().take(200) {
        client
            .clone()
            .resolve(ResolveRequest {
                person: Some(person.clone()),
                ..ResolveRequest::default()
            })
            .await?;
    }
    let total = grpc_rate * grpc_seconds;
    let interval = Duration::from_secs_f64(1.0 / grpc_rate as f64);
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let mut client = client.clone();
        let person = people[i as usize % people.len()].clone();
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = client
                .resolve(ResolveRequest {
                    request_id: i.to_string(),
                    person: Some(person),
                    ..ResolveRequest::default()
                })
                .await
                .is_ok();
            (sent.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failures = 0u64;
    for task in tasks {
        let (latency, ok) = task.await?;
        latencies.push(latency);
        failures += u64::from(!ok);
    }
    let achieved = total as f64 / started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    shutdown.trigger();
    server.await??;

    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let p50 = percentile(&latencies, 0.50);
    let p99 = percentile(&latencies, 0.99);
    let absent_ratio = overall.absent_right as f64 / overall.absent.max(1) as f64;
    let mut rows_out = vec![
        [
            "register".into(),
            format!("{people} people", people = generated.register.people),
            format!(
                "{} with a superseded number; generated with the list in {generate_secs:.0} s",
                generated.register.with_superseded_id
            ),
        ],
        [
            "index build (CSV load included)".into(),
            format!("{build_secs:.1} s"),
            per_second(generated.register.people as f64, build_secs),
        ],
        [
            "index memory".into(),
            format!("{bytes_per_person:.1} bytes/person"),
            format!(
                "target ≤ 100; {:.2} GiB in all; 100,000,000 people would take {projected_gib:.1} GiB (machine: 24 GiB)",
                memory.total() as f64 / f64::from(1u32 << 30)
            ),
        ],
        [
            "model estimation".into(),
            format!("{fit_secs:.1} s"),
            format!(
                "{} random pairs; EM sessions: {}",
                fit_report.random_pairs,
                fit_report
                    .sessions
                    .iter()
                    .map(|(k, pairs, em)| format!(
                        "{k} {pairs} pairs, {} iterations{}",
                        em.iterations,
                        if em.converged { "" } else { " (not converged)" }
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ],
        [
            "batch reconcile".into(),
            per_second(overall.rows as f64, reconcile_secs),
            format!(
                "{} rows against {} people on {threads} threads in {reconcile_secs:.1} s; target ≥ 50,000/s",
                overall.rows, generated.register.people
            ),
        ],
        [
            "precision (present people)".into(),
            format!("{:.4}", overall.precision()),
            format!(
                "target ≥ 0.999; {} right, {} wrong",
                overall.right, overall.wrong
            ),
        ],
        [
            "recall (present people)".into(),
            format!("{:.4}", overall.recall()),
            format!(
                "target ≥ 0.995; {} rows with a register entry",
                overall.present
            ),
        ],
        ["F1".into(), format!("{:.4}", overall.f1()), String::new()],
        [
            "NOT_FOUND right for absent people".into(),
            format!("{absent_ratio:.4}"),
            format!("target ≥ 0.99; {} absent rows", overall.absent),
        ],
        [
            "outcomes".into(),
            statuses
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            String::new(),
        ],
        [
            format!("gRPC Resolve at {grpc_rate}/s, p50"),
            ms(p50),
            format!(
                "{total} requests over {grpc_seconds} s, achieved {achieved:.0}/s, {failures} failed"
            ),
        ],
        [
            format!("gRPC Resolve at {grpc_rate}/s, p99"),
            ms(p99),
            format!(
                "target ≤ 5 ms; max {}",
                ms(latencies.last().copied().unwrap_or_default())
            ),
        ],
    ];
    for (kind, t) in &by_kind {
        rows_out.push([
            format!("error `{kind}`"),
            if t.present == 0 {
                "— (nobody to find)".to_string()
            } else {
                format!(
                    "P {:.4} · R {:.4} · F1 {:.4}",
                    t.precision(),
                    t.recall(),
                    t.f1()
                )
            },
            format!(
                "{} rows, {} present; {} wrong; NOT_FOUND right {}/{}",
                t.rows, t.present, t.wrong, t.absent_right, t.absent
            ),
        ]);
    }
    report.section(
        "Population-ID resolver",
        "`lienthong-datagen` writes a register and a civil-servant list with errors injected at its default rates (typos, lost diacritics, TCVN3 names, day/month swaps, one wrong ID digit, superseded IDs, old province codes, missing IDs, regional spellings, people absent from the register, duplicates, ...) and the ground truth. The register CSV is loaded into the index with the resolver's loader; the model is estimated without labels from 20,000 rows of the list; the whole list is reconciled on every core as `lienthong reconcile` does and scored against the truth (a row counts right when it is MATCHED or MATCHED_WITH_DISCREPANCIES to the true current number; precision and recall are over rows whose person is in the register). Then the gRPC service runs in this process against the same index and one client sends `Resolve` calls over loopback at a fixed rate, each timed from send to answer.",
        rows_out,
    );
    Ok(())
}
