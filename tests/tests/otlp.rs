//! OTLP export end to end: a `lienthong dev` process (the PostgreSQL connector and the
//! translator) with `[telemetry] otlp_endpoint` set exports one trace per change — the
//! connector's `change` span and the translator's `process_record` span under it — with the
//! trace id the change's records carry in their `traceparent` header, and its JSON log lines
//! logged while handling a change carry that change's trace id and the handling span's id.
//!
//! The trace receiver is an OTLP/gRPC `TraceService` served by this test process, not an
//! OpenTelemetry Collector: no Collector binary can be installed on the machines these tests
//! run on (no network beyond package registries), and a Collector would only forward what it
//! received anyway. The receiver speaks the same protocol a Collector does (the
//! `opentelemetry-proto` service definitions over real gRPC on a TCP port), so the process under
//! test exports exactly as it would to a Collector; the test then sees every span as sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lienthong_proto::v1::{ChangeEvent, Operation};
use lienthong_runtime::kafka::InboundRecord;
use lienthong_tests::broker::PrivateBroker;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::process::Service;
use lienthong_tests::seed_civil_servants;
use lienthong_tests::topics::TopicReader;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

const SERVICE_NAME: &str = "lienthong-otlp-e2e";
/// Civil servants in the snapshot.
const ROWS: usize = 20;
/// Rows updated once the connector streams.
const UPDATES: usize = 5;
const TABLE_TOPIC: &str = "cdc.csdl-cbcc.public.ho_so_can_bo";

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// One span as the receiver got it, ids in lowercase hex as `traceparent` writes them.
#[derive(Debug, Clone)]
struct ReceivedSpan {
    name: String,
    service_name: Option<String>,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: Vec<KeyValue>,
}

impl ReceivedSpan {
    fn attribute(&self, key: &str) -> Option<String> {
        string_attribute(&self.attributes, key)
    }
}

/// An OTLP `TraceService` keeping every span it is sent.
#[derive(Debug, Clone, Default)]
struct TraceReceiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

impl TraceReceiver {
    fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("receiver lock").clone()
    }
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service_name = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| string_attribute(&resource.attributes, "service.name"));
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                received.push(ReceivedSpan {
                    name: span.name,
                    service_name: service_name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: span.attributes,
                });
            }
        }
        self.spans
            .lock()
            .map_err(|_| Status::internal("receiver lock poisoned"))?
            .extend(received);
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The (trace id, span id) of a record's `traceparent` (`00-<trace id>-<span id>-<flags>`).
fn traceparent(record: &InboundRecord) -> (String, String) {
    let header = record.headers.traceparent.as_deref().unwrap_or_else(|| {
        panic!(
            "{} offset {} has no traceparent header",
            record.topic, record.offset
        )
    });
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "malformed traceparent {header}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// The process's JSON log lines (anything else it printed skipped).
fn json_lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_of_a_change_share_the_trace_its_records_carry() {
    let receiver = TraceReceiver::default();
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let otlp = incoming.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(incoming),
    );

    let dir = tempfile::tempdir().unwrap();
    let broker = PrivateBroker::start(&dir.path().join("broker"));
    let db = TestDatabase::create("otlp").await;
    let data = dir.path().join("data");
    seed_civil_servants(&db.url, &data, 1000, ROWS as u64);

    let slot = format!("otlp_{}", uuid::Uuid::new_v4().simple());
    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[telemetry]
service_name = "{SERVICE_NAME}"
log_format = "json"
otlp_endpoint = "http://{otlp}"
trace_sample_ratio = 1.0

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
"#,
            broker = broker.address(),
            db = db.url,
            spill = dir.path().join("spill").display(),
            mappings = repo("schemas/mappings"),
            codelists = repo("schemas/codelists"),
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let log = dir.path().join("dev.log");
    let mut dev = Service::start(
        &[
            "dev",
            "--config",
            &config,
            "--service",
            "source-postgres,translate",
        ],
        &log,
    );

    // The snapshot, then changes streamed from the WAL: updates, and a TRUNCATE, which the
    // translator cannot turn into records and dead-letters (logging why, inside its span).
    let mut cdc = TopicReader::on(&broker.address(), TABLE_TOPIC).await;
    cdc.read_until(Duration::from_secs(120), |r| {
        r.iter().filter(|r| r.payload.is_some()).count() >= ROWS
    })
    .await;
    db.exec(&format!(
        "UPDATE public.ho_so_can_bo SET dien_thoai = '0912345678' \
         WHERE id IN (SELECT id FROM public.ho_so_can_bo ORDER BY id LIMIT {UPDATES})"
    ))
    .await;
    db.exec("TRUNCATE public.ho_so_can_bo").await;
    let is_truncate = |r: &InboundRecord| {
        r.payload.as_deref().is_some_and(|p| {
            ChangeEvent::decode(p).expect("ChangeEvent").op == Operation::Truncate as i32
        })
    };
    // The topic has several partitions: the truncate can be read before updates of other
    // partitions, so wait for both.
    cdc.read_until(Duration::from_secs(60), |r| {
        let changes = r.iter().filter(|r| r.payload.is_some()).count();
        changes > ROWS + UPDATES && r.iter().any(is_truncate)
    })
    .await;
    let changes: Vec<&InboundRecord> = cdc.records.iter().filter(|r| r.payload.is_some()).collect();
    assert_eq!(
        changes.len(),
        ROWS + UPDATES + 1,
        "snapshot, updates, truncate"
    );
    let truncate = traceparent(changes.iter().find(|r| is_truncate(r)).unwrap());

    // Every change's trace arrives at the receiver while the process runs (the batch exporter
    // sends every few seconds): the connector's `change` span, which the header names as the
    // parent, and the translator's span under it.
    let expected: BTreeMap<String, String> = changes.iter().map(|r| traceparent(r)).collect();
    assert_eq!(expected.len(), changes.len(), "changes share a trace id");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let complete = |spans: &[ReceivedSpan]| {
        expected.iter().all(|(trace, change)| {
            spans
                .iter()
                .any(|s| &s.trace_id == trace && &s.span_id == change)
                && spans
                    .iter()
                    .any(|s| &s.trace_id == trace && &s.parent_span_id == change)
        })
    };
    let spans = loop {
        let spans = receiver.spans();
        if complete(&spans) {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the receiver did not get every change's spans within 60 s; it got {} spans:\n{:#?}\nlog:\n{}",
            spans.len(),
            spans
                .iter()
                .map(|s| (&s.name, &s.trace_id, &s.span_id))
                .collect::<Vec<_>>(),
            dev.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        dev.exited().is_none(),
        "lienthong dev stopped:\n{}",
        dev.log()
    );

    for span in &spans {
        assert_eq!(span.service_name.as_deref(), Some(SERVICE_NAME), "{span:?}");
    }
    let mut translator_spans: BTreeMap<&str, &ReceivedSpan> = BTreeMap::new();
    for (trace, change) in &expected {
        let root = spans
            .iter()
            .find(|s| &s.trace_id == trace && &s.span_id == change)
            .unwrap();
        assert_eq!(root.name, "change", "{root:?}");
        assert!(
            root.parent_span_id.is_empty(),
            "a change starts its trace: {root:?}"
        );
        assert_eq!(
            root.attribute("topic").as_deref(),
            Some(TABLE_TOPIC),
            "{root:?}"
        );
        let translated = spans
            .iter()
            .find(|s| &s.trace_id == trace && &s.parent_span_id == change)
            .unwrap();
        assert_eq!(translated.name, "process_record", "{translated:?}");
        assert_eq!(
            translated.attribute("stage").as_deref(),
            Some("translate"),
            "{translated:?}"
        );
        assert_eq!(
            translated.attribute("topic").as_deref(),
            Some(TABLE_TOPIC),
            "{translated:?}"
        );
        translator_spans.insert(trace, translated);
    }

    // The logs: the dead-letter line names the TRUNCATE's trace and the translator's span for it.
    dev.wait_for_log("record dead-lettered", Duration::from_secs(30));
    let lines = json_lines(&dev.log());
    let dead_lettered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "record dead-lettered")
        .collect();
    assert_eq!(dead_lettered.len(), 1, "{dead_lettered:#?}");
    let line = dead_lettered[0];
    assert_eq!(line["kind"], "mapping.truncate", "{line}");
    assert_eq!(line["trace_id"], truncate.0.as_str(), "{line}");
    assert_eq!(
        line["span_id"],
        translator_spans[truncate.0.as_str()].span_id.as_str(),
        "{line}"
    );
    // Lines logged outside any change's span carry no trace id, and every line that carries one
    // names a trace the receiver got.
    let untraced = lines.iter().find(|l| l["message"] == "translating");
    assert!(
        untraced.is_some_and(|l| l.get("trace_id").is_none()),
        "{untraced:?}"
    );
    let exported: BTreeSet<&str> = spans.iter().map(|s| s.trace_id.as_str()).collect();
    for line in lines.iter().filter(|l| l.get("trace_id").is_some()) {
        let trace = line["trace_id"].as_str().unwrap();
        assert!(
            exported.contains(trace),
            "a log line of an unexported trace: {line}"
        );
    }

    dev.terminate();
    drop(broker);
    db.drop_with_slot(&slot).await;
}
