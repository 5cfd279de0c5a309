//! One trace per change across services: the W3C trace context a connector puts on a change
//! event travels in the Kafka headers through the translator and the resolver, so every record
//! derived from one source change carries that change's trace id. Runs `lienthong dev` (the
//! connector, translator and resolver in one process) on a broker of the test's own, so the
//! shipped mappings' fixed topic names start empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use lienthong_runtime::kafka::InboundRecord;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::process::Service;
use lienthong_tests::topics::TopicReader;
use lienthong_tests::{lienthong, seed_civil_servants, text};

const ROWS: usize = 40;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// The trace id of a record's `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn trace_id(record: &InboundRecord) -> String {
    let parent = record.headers.traceparent.as_deref().unwrap_or_else(|| {
        panic!(
            "{} offset {} has no traceparent header",
            record.topic, record.offset
        )
    });
    let parts: Vec<&str> = parent.split('-').collect();
    assert_eq!(parts.len(), 4, "malformed traceparent {parent}");
    assert_eq!(parts[1].len(), 32, "malformed traceparent {parent}");
    assert_ne!(parts[1], "0".repeat(32), "invalid (zero) trace id");
    parts[1].to_owned()
}

/// Trace ids by record key.
fn traces_by_key(records: &[InboundRecord]) -> BTreeMap<Vec<u8>, BTreeSet<String>> {
    let mut out: BTreeMap<Vec<u8>, BTreeSet<String>> = BTreeMap::new();
    for record in records.iter().filter(|r| r.payload.is_some()) {
        out.entry(record.key.clone().unwrap_or_default())
            .or_default()
            .insert(trace_id(record));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_of_a_change_carries_its_trace() {
    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateBroker::start(&dir.path().join("broker"));
    let db = TestDatabase::create("trace").await;
    let data = dir.path().join("data");

    seed_civil_servants(&db.url, &data, 2000, ROWS as u64);

    let slot = format!("trace_{}", uuid::Uuid::new_v4().simple());
    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[health]
enabled = false

[kafka]
bootstrap_servers = "{broker}"

[kafka.topics.default]
partitions = 2
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
"#,
            broker = broker.address(),
            db = db.url,
            spill = dir.path().join("spill").display(),
            mappings = repo("schemas/mappings"),
            codelists = repo("schemas/codelists"),
            register = data.join("register.csv").display(),
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let ensured = lienthong(
        &["topics", "ensure", "--config", &config, "population.v1"],
        &[],
    );
    assert!(ensured.status.success(), "{:?}", text(&ensured));

    let log = dir.path().join("dev.log");
    let mut dev = Service::start(
        &[
            "dev",
            "--config",
            &config,
            "--service",
            "source-postgres,translate,resolve",
        ],
        &log,
    );

    let mut cdc = TopicReader::on(&broker.address(), "cdc.csdl-cbcc.public.ho_so_can_bo").await;
    cdc.read_until(Duration::from_secs(120), |r| {
        r.iter().filter(|r| r.payload.is_some()).count() >= ROWS
    })
    .await;
    let mut canonical = TopicReader::on(&broker.address(), "canonical.civil_servant.v1").await;
    canonical
        .read_until(Duration::from_secs(120), |r| {
            r.iter().filter(|r| r.payload.is_some()).count() >= ROWS
        })
        .await;
    let mut resolved = TopicReader::on(&broker.address(), "resolved.civil_servant.v1").await;
    resolved
        .read_until(Duration::from_secs(120), |r| {
            r.iter().filter(|r| r.payload.is_some()).count() >= ROWS
        })
        .await;
    assert!(
        dev.exited().is_none(),
        "lienthong dev stopped:\n{}",
        dev.log()
    );

    // One trace per change: every snapshot row's event starts a trace of its own.
    let changes: Vec<String> = cdc
        .records
        .iter()
        .filter(|r| r.payload.is_some())
        .map(trace_id)
        .collect();
    let distinct: BTreeSet<&String> = changes.iter().collect();
    assert_eq!(distinct.len(), changes.len(), "changes share a trace id");

    // The translator's output continues the change's trace ...
    let canonical_traces = traces_by_key(&canonical.records);
    assert_eq!(canonical_traces.len(), ROWS, "one civil servant per row");
    for (key, traces) in &canonical_traces {
        for trace in traces {
            assert!(
                distinct.contains(trace),
                "canonical record {} has trace {trace}, which no change started",
                String::from_utf8_lossy(key)
            );
        }
    }
    // ... and so does the resolver's, record by record.
    let resolved_traces = traces_by_key(&resolved.records);
    assert_eq!(resolved_traces.len(), ROWS);
    for (key, traces) in &resolved_traces {
        assert_eq!(
            Some(traces),
            canonical_traces.get(key),
            "resolved record {} is not in its canonical record's trace",
            String::from_utf8_lossy(key)
        );
    }

    dev.terminate();
    drop(broker);
    db.drop_with_slot(&slot).await;
}
