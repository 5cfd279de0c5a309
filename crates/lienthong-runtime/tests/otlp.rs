//! Span export over OTLP/gRPC, against a real trace receiver served by this test process.
//!
//! The global subscriber can be installed once per process, so this file holds a single
//! scenario: `telemetry::init` with an endpoint, two nested spans, the guard dropped (which
//! flushes the batch exporter), and the receiver checked for both spans.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::time::Duration;

use lienthong_runtime::telemetry::{self, LogFormat, TelemetryConfig};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tokio::sync::mpsc;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

const SERVICE_NAME: &str = "lienthong-otlp-test";
/// How long the receiver may take to see the spans once the guard has flushed them.
const EXPORT_DEADLINE: Duration = Duration::from_secs(10);

/// One span as the receiver got it, with its resource's `service.name` alongside.
#[derive(Debug)]
struct ReceivedSpan {
    name: String,
    service_name: Option<String>,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: Vec<KeyValue>,
}

/// An OTLP `TraceService` that hands every span it is sent to the test.
#[derive(Debug)]
struct TraceReceiver {
    spans: mpsc::UnboundedSender<ReceivedSpan>,
}

#[tonic::async_trait]
impl TraceService for TraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        for resource_spans in request.into_inner().resource_spans {
            let service_name = resource_spans
                .resource
                .as_ref()
                .and_then(|resource| string_attribute(&resource.attributes, "service.name"));
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                // The test may already have failed and dropped its end; nothing to do then.
                let _ = self.spans.send(ReceivedSpan {
                    name: span.name,
                    service_name: service_name.clone(),
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    attributes: span.attributes,
                });
            }
        }
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

/// Waits for `count` spans, failing the test if they do not all arrive within the deadline.
async fn receive_spans(
    spans: &mut mpsc::UnboundedReceiver<ReceivedSpan>,
    count: usize,
) -> Vec<ReceivedSpan> {
    let deadline = tokio::time::Instant::now() + EXPORT_DEADLINE;
    let mut received = Vec::new();
    while received.len() < count {
        match tokio::time::timeout_at(deadline, spans.recv()).await {
            Ok(Some(span)) => received.push(span),
            Ok(None) => panic!("the OTLP receiver stopped"),
            Err(_) => panic!(
                "the OTLP receiver got {} of {count} spans within {EXPORT_DEADLINE:?}: {:?}",
                received.len(),
                received.iter().map(|s| &s.name).collect::<Vec<_>>(),
            ),
        }
    }
    received
}

// Multi-threaded: the batch exporter's gRPC client and the receiver both run on the runtime
// while a blocking thread waits for the flush.
#[tokio::test(flavor = "multi_thread")]
async fn spans_reach_the_configured_otlp_endpoint_with_service_name_and_parentage() {
    let (spans_tx, mut spans_rx) = mpsc::unbounded_channel();
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = incoming.local_addr().unwrap();
    tokio::spawn(
        Server::builder()
            .add_service(TraceServiceServer::new(TraceReceiver { spans: spans_tx }))
            .serve_with_incoming(incoming),
    );

    let guard = telemetry::init(&TelemetryConfig {
        service_name: SERVICE_NAME.to_owned(),
        log_format: LogFormat::Text,
        log_level: "warn".to_owned(),
        otlp_endpoint: Some(format!("http://{addr}")),
        trace_sample_ratio: 1.0,
    })
    .unwrap();
    {
        let capture = tracing::info_span!("capture_change", table = "can_bo");
        let _entered = capture.enter();
        tracing::info_span!("decode_row").in_scope(|| {});
    }
    // Dropping the guard shuts the provider down, blocking until the batch exporter has sent
    // what it holds; keep that wait off the runtime's workers.
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let spans = receive_spans(&mut spans_rx, 2).await;
    let span_named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no span named {name} among {spans:?}"))
    };
    let capture = span_named("capture_change");
    let decode = span_named("decode_row");

    for span in [capture, decode] {
        assert_eq!(span.service_name.as_deref(), Some(SERVICE_NAME), "{span:?}");
    }
    assert_eq!(
        string_attribute(&capture.attributes, "table").as_deref(),
        Some("can_bo")
    );
    assert_eq!(capture.trace_id.len(), 16);
    assert!(capture.trace_id.iter().any(|&b| b != 0), "{capture:?}");
    assert!(
        capture.parent_span_id.is_empty(),
        "capture_change should be a root span: {capture:?}"
    );
    assert_eq!(decode.trace_id, capture.trace_id);
    assert_eq!(decode.parent_span_id, capture.span_id);
}
