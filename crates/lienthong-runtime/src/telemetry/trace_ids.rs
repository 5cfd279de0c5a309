//! Trace and span ids in log lines, so a log line leads to its trace and a trace to its logs.
//!
//! A line logged while a span with OpenTelemetry context is entered carries that span's trace id
//! and span id: top-level `trace_id` and `span_id` fields in JSON, ` trace_id=… span_id=…` at the
//! end of a text line. A line logged outside any such span is left as it is.
//!
//! The ids come from the thread's current OpenTelemetry context. `tracing-opentelemetry` keeps a
//! span's context in a private extension of the span, but it activates that context whenever the
//! span is entered (its default "context activation"); so while a span is entered, the current
//! context is the span's, including a parent set from a record's `traceparent` header. Spans the
//! OpenTelemetry layer does not see (below its level filter) activate nothing, and a line logged
//! in one shows the nearest exported span's ids, which is where a trace viewer finds it.

use std::fmt;

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The trace and span a log line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

impl TraceIds {
    /// The ids of the thread's current OpenTelemetry span, when there is a valid one.
    pub fn current() -> Option<Self> {
        opentelemetry::Context::map_current(|context| {
            let span = context.span();
            let span = span.span_context();
            span.is_valid().then(|| Self {
                trace_id: span.trace_id(),
                span_id: span.span_id(),
            })
        })
    }
}

/// How the line the inner formatter writes is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// One JSON object per line.
    Json,
    /// `key=value` text.
    Text,
}

/// An event formatter that adds the current [`TraceIds`] to the line another formatter writes.
///
/// When there are ids to add, the inner formatter writes into a buffer rather than the real
/// writer, so it does not learn whether that writer takes ANSI colours: give it its colour
/// setting itself (`Format::with_ansi`).
#[derive(Debug, Clone)]
pub struct WithTraceIds<F> {
    inner: F,
    layout: Layout,
}

impl<F> WithTraceIds<F> {
    /// For a formatter writing one JSON object per line (`fmt::format().json()`).
    pub fn json(inner: F) -> Self {
        Self {
            inner,
            layout: Layout::Json,
        }
    }

    /// For a formatter writing `key=value` text (`fmt::format()`).
    pub fn text(inner: F) -> Self {
        Self {
            inner,
            layout: Layout::Text,
        }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(ids) = TraceIds::current() else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match self.layout {
            Layout::Json => add_to_json(&mut line, ids),
            Layout::Text => add_to_text(&mut line, ids),
        }
        writer.write_str(&line)
    }
}

/// Adds `"trace_id"` and `"span_id"` as the last members of the JSON object `line` holds (with
/// its line end). A line that is not one object is left alone rather than broken.
fn add_to_json(line: &mut String, ids: TraceIds) {
    let object = line.trim_end();
    if !(object.starts_with('{') && object.ends_with('}')) {
        return;
    }
    let close = object.len() - 1;
    let separator = if object[1..close].trim().is_empty() {
        ""
    } else {
        ","
    };
    // Hex digits need no JSON escaping.
    let members = format!(
        r#"{separator}"trace_id":"{}","span_id":"{}""#,
        ids.trace_id, ids.span_id
    );
    line.insert_str(close, &members);
}

/// Appends ` trace_id=… span_id=…` to the text `line`, before its line end.
fn add_to_text(line: &mut String, ids: TraceIds) {
    let end = line.trim_end_matches(['\r', '\n']).len();
    let fields = format!(" trace_id={} span_id={}", ids.trace_id, ids.span_id);
    line.insert_str(end, &fields);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io;
    use std::sync::{Arc, Mutex};

    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::kafka::RecordHeaders;
    use crate::telemetry::{LogFormat, log_layer};

    /// Everything the log layer wrote, shared with the test.
    #[derive(Debug, Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    /// Runs `body` under the subscriber `telemetry::init` builds (the same log layer, an
    /// OpenTelemetry layer with a tracer that exports nowhere), returning the log lines.
    fn logged(format: LogFormat, body: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(log_layer(format, false, captured.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, body);
        captured.lines()
    }

    fn ids_of(span: &tracing::Span) -> TraceIds {
        let context = span.context();
        let span = context.span();
        let span = span.span_context();
        assert!(span.is_valid());
        TraceIds {
            trace_id: span.trace_id(),
            span_id: span.span_id(),
        }
    }

    fn json(line: &str) -> serde_json::Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[test]
    fn json_lines_in_a_span_carry_its_trace_and_span_ids_at_the_top_level() {
        let mut expected = Vec::new();
        let lines = logged(LogFormat::Json, || {
            tracing::info!("before any span");
            let outer = tracing::info_span!("change", table = "ho_so_can_bo");
            let _outer = outer.enter();
            tracing::info!(rows = 3, "in the outer span");
            let inner = tracing::info_span!("decode_row");
            inner.in_scope(|| tracing::warn!("in the inner span"));
            expected = vec![ids_of(&outer), ids_of(&inner)];
        });
        assert_eq!(lines.len(), 3, "{lines:#?}");

        let before = json(&lines[0]);
        assert_eq!(before["message"], "before any span", "{before}");
        assert!(before.get("trace_id").is_none(), "{before}");
        assert!(before.get("span_id").is_none(), "{before}");

        for (line, ids) in lines[1..].iter().zip(&expected) {
            let line = json(line);
            assert_eq!(line["trace_id"], ids.trace_id.to_string(), "{line}");
            assert_eq!(line["span_id"], ids.span_id.to_string(), "{line}");
            // What the JSON format wrote before is all still there.
            assert!(line["timestamp"].is_string(), "{line}");
            assert!(line["span"]["name"].is_string(), "{line}");
        }
        assert_eq!(json(&lines[1])["rows"], 3);
        // One trace, two spans.
        assert_eq!(expected[0].trace_id, expected[1].trace_id);
        assert_ne!(expected[0].span_id, expected[1].span_id);
    }

    #[test]
    fn text_lines_in_a_span_end_with_its_trace_and_span_ids() {
        let mut expected = None;
        let lines = logged(LogFormat::Text, || {
            let span = tracing::info_span!("change");
            span.in_scope(|| tracing::info!(table = "ho_so_can_bo", "captured"));
            expected = Some(ids_of(&span));
            tracing::info!("after the span");
        });
        let ids = expected.unwrap();
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].ends_with(&format!(
                "captured table=\"ho_so_can_bo\" trace_id={} span_id={}",
                ids.trace_id, ids.span_id
            )),
            "{}",
            lines[0]
        );
        assert!(!lines[1].contains("trace_id="), "{}", lines[1]);
    }

    /// A consuming stage's span joins the trace its record's `traceparent` names: the log line
    /// carries that trace id, so a record's header and the stage's logs lead to the same trace.
    #[test]
    fn a_span_continuing_a_remote_trace_logs_the_remote_trace_id() {
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let headers = RecordHeaders {
            traceparent: Some(format!("00-{trace_id}-00f067aa0ba902b7-01")),
            ..RecordHeaders::default()
        };
        let mut span_id = None;
        let lines = logged(LogFormat::Json, || {
            let span = tracing::info_span!("process_record");
            span.set_parent(headers.trace_context()).unwrap();
            span.in_scope(|| tracing::warn!("record dead-lettered"));
            span_id = Some(ids_of(&span).span_id);
        });
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let line = json(&lines[0]);
        assert_eq!(line["trace_id"], trace_id, "{line}");
        // The stage's own span, not the producer's.
        assert_eq!(line["span_id"], span_id.unwrap().to_string(), "{line}");
        assert_ne!(line["span_id"], "00f067aa0ba902b7", "{line}");
    }

    #[test]
    fn a_line_that_is_not_one_json_object_is_left_alone() {
        let ids = TraceIds {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        };
        let mut empty = "{}\n".to_owned();
        add_to_json(&mut empty, ids);
        assert_eq!(
            empty,
            "{\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"}\n"
        );
        let mut broken = "not json\n".to_owned();
        add_to_json(&mut broken, ids);
        assert_eq!(broken, "not json\n");
    }

    #[test]
    fn the_trace_context_propagator_and_the_log_agree_on_the_trace_id_format() {
        // The `traceparent` header and the log line both print the trace id as 32 lowercase
        // hex digits, so an operator can search logs for a header's trace id verbatim.
        let mut header = std::collections::HashMap::new();
        let mut logged_ids = None;
        let lines = logged(LogFormat::Text, || {
            let span = tracing::info_span!("change");
            TraceContextPropagator::new().inject_context(&span.context(), &mut header);
            span.in_scope(|| tracing::info!("captured"));
            logged_ids = Some(ids_of(&span));
        });
        let traceparent = &header["traceparent"];
        let ids = logged_ids.unwrap();
        assert!(
            traceparent.contains(&format!("-{}-{}-", ids.trace_id, ids.span_id)),
            "{traceparent}"
        );
        assert!(lines[0].contains(&format!("trace_id={}", ids.trace_id)));
    }
}
