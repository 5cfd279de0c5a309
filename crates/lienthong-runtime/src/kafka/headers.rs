//! The headers every lienthong Kafka record carries, and W3C trace-context propagation through
//! them. Header values are UTF-8 text so partners can read them with any Kafka client.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use rdkafka::message::{BorrowedHeaders, Header, Headers, OwnedHeaders};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Stable across redelivery: derived from the source id and the source position.
pub const IDEMPOTENCY_KEY: &str = "lienthong-idempotency-key";
/// The source position in text form.
pub const SOURCE_POSITION: &str = "lienthong-source-position";
/// Version of the source schema or mapping that produced the record.
pub const SCHEMA_VERSION: &str = "lienthong-schema-version";
/// `application/x-protobuf; messageType=lienthong.v1.<Message>`.
pub const CONTENT_TYPE: &str = "lienthong-content-type";
/// W3C trace context.
pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

/// The lienthong headers of one record, plus any other headers it carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordHeaders {
    pub idempotency_key: Option<String>,
    pub source_position: Option<String>,
    pub schema_version: Option<String>,
    pub content_type: Option<String>,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    /// Headers lienthong does not interpret, in record order (kept so that dead letters and
    /// pass-through stages lose nothing).
    pub other: Vec<(String, Vec<u8>)>,
}

impl RecordHeaders {
    /// Headers for a new record, with the idempotency key set.
    pub fn with_idempotency_key(key: impl Into<String>) -> Self {
        Self {
            idempotency_key: Some(key.into()),
            ..Self::default()
        }
    }

    pub fn source_position(mut self, position: impl Into<String>) -> Self {
        self.source_position = Some(position.into());
        self
    }

    pub fn schema_version(mut self, version: impl Into<String>) -> Self {
        self.schema_version = Some(version.into());
        self
    }

    /// Sets the content type for a `lienthong.v1` protobuf message.
    pub fn protobuf(mut self, message_name: &str) -> Self {
        self.content_type = Some(lienthong_proto::content_type(message_name));
        self
    }

    /// Sets `traceparent`/`tracestate` from the current tracing span, so the consumer's span
    /// joins the same trace. Leaves them unset when there is no active OpenTelemetry span.
    pub fn inject_current_trace(&mut self) {
        let context = tracing::Span::current().context();
        let propagator = TraceContextPropagator::new();
        propagator.inject_context(&context, &mut TraceInjector(self));
    }

    /// Starts the trace of a record that begins one — a change a connector captured: a root
    /// span of its own (`change`, with the topic), whose context the headers carry. Every record
    /// derived from this one downstream continues this trace, so one change is one trace from
    /// its capture to its delivery. Sampling follows `[telemetry] trace_sample_ratio`.
    pub fn start_trace(mut self, topic: &str) -> Self {
        let span = tracing::info_span!(parent: None, "change", topic = topic);
        let context = span.context();
        TraceContextPropagator::new().inject_context(&context, &mut TraceInjector(&mut self));
        self
    }

    /// The OpenTelemetry context these headers carry (empty when they carry none).
    pub fn trace_context(&self) -> opentelemetry::Context {
        TraceContextPropagator::new().extract(&TraceExtractor(self))
    }

    /// Converts to rdkafka headers.
    pub fn to_kafka(&self) -> OwnedHeaders {
        let named = [
            (IDEMPOTENCY_KEY, &self.idempotency_key),
            (SOURCE_POSITION, &self.source_position),
            (SCHEMA_VERSION, &self.schema_version),
            (CONTENT_TYPE, &self.content_type),
            (TRACEPARENT, &self.traceparent),
            (TRACESTATE, &self.tracestate),
        ];
        let mut headers = OwnedHeaders::new_with_capacity(named.len() + self.other.len());
        for (key, value) in named {
            if let Some(value) = value {
                headers = headers.insert(Header {
                    key,
                    value: Some(value.as_bytes()),
                });
            }
        }
        for (key, value) in &self.other {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_slice()),
            });
        }
        headers
    }

    /// Reads rdkafka headers. Non-UTF-8 values of lienthong headers are kept under `other`.
    pub fn from_kafka(headers: Option<&BorrowedHeaders>) -> Self {
        let mut out = Self::default();
        let Some(headers) = headers else {
            return out;
        };
        for header in headers.iter() {
            let bytes = header.value.unwrap_or_default();
            let text = std::str::from_utf8(bytes).ok().map(str::to_string);
            let slot = match header.key {
                IDEMPOTENCY_KEY => &mut out.idempotency_key,
                SOURCE_POSITION => &mut out.source_position,
                SCHEMA_VERSION => &mut out.schema_version,
                CONTENT_TYPE => &mut out.content_type,
                TRACEPARENT => &mut out.traceparent,
                TRACESTATE => &mut out.tracestate,
                _ => {
                    out.other.push((header.key.to_string(), bytes.to_vec()));
                    continue;
                }
            };
            match text {
                Some(text) => *slot = Some(text),
                None => out.other.push((header.key.to_string(), bytes.to_vec())),
            }
        }
        out
    }

    /// Every header as (key, bytes), in the order [`RecordHeaders::to_kafka`] writes them.
    pub fn pairs(&self) -> Vec<(String, Vec<u8>)> {
        let kafka = self.to_kafka();
        kafka
            .iter()
            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
            .collect()
    }
}

struct TraceInjector<'a>(&'a mut RecordHeaders);

impl Injector for TraceInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.0.traceparent = Some(value),
            TRACESTATE => self.0.tracestate = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

struct TraceExtractor<'a>(&'a RecordHeaders);

impl Extractor for TraceExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.0.traceparent.as_deref(),
            TRACESTATE => self.0.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn round_trip_through_kafka_headers() {
        let mut headers = RecordHeaders::with_idempotency_key("csdl:0/16B3748:0")
            .source_position("lsn=0/16B3748 seq=0")
            .schema_version("3")
            .protobuf("ChangeEvent");
        headers.traceparent =
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
        headers
            .other
            .push(("x-partner".to_string(), vec![0xff, 0x00]));
        let kafka = headers.to_kafka();
        let back = RecordHeaders::from_kafka(Some(kafka.as_borrowed()));
        assert_eq!(back, headers);
    }

    #[test]
    fn trace_context_extracts_the_remote_span() {
        let headers = RecordHeaders {
            traceparent: Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
            ),
            ..RecordHeaders::default()
        };
        let cx = headers.trace_context();
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_remote());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
    }

    #[test]
    fn no_traceparent_means_no_remote_span() {
        let cx = RecordHeaders::default().trace_context();
        assert!(!cx.span().span_context().is_valid());
    }
}
