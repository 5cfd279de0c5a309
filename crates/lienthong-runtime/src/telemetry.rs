//! Logs and traces. Logs go to stdout as text or JSON; spans are exported over OTLP/gRPC when an
//! endpoint is configured. Trace context is always generated (even without an exporter) so that
//! the `traceparent` header ties a change's records together across services, and a line logged
//! inside a span carries the span's trace and span ids (see [`trace_ids`]).

mod trace_ids;

pub use trace_ids::{TraceIds, WithTraceIds};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use serde::{Deserialize, Serialize};
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{Problems, Validate};

/// `[telemetry]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `service.name` of exported spans.
    pub service_name: String,
    pub log_format: LogFormat,
    /// Log filter in `RUST_LOG` syntax (`info`, `lienthong=debug,rdkafka=warn`). `RUST_LOG`, when
    /// set, takes precedence.
    pub log_level: String,
    /// OTLP/gRPC collector endpoint (`http://otel-collector:4317`); no export when unset.
    pub otlp_endpoint: Option<String>,
    /// Fraction of traces exported, 0.0 to 1.0.
    pub trace_sample_ratio: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Validate for TelemetryConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.service_name.trim().is_empty() {
            problems.push("service_name", "must not be empty");
        }
        if let Err(e) = EnvFilter::try_new(&self.log_level) {
            problems.push("log_level", format!("not a valid filter: {e}"));
        }
        if let Some(endpoint) = &self.otlp_endpoint
            && url::Url::parse(endpoint).is_err()
        {
            problems.push(
                "otlp_endpoint",
                "must be a URL such as http://collector:4317",
            );
        }
        if !(0.0..=1.0).contains(&self.trace_sample_ratio) {
            problems.push("trace_sample_ratio", "must be between 0.0 and 1.0");
        }
    }
}

/// Keeps the tracer provider alive; dropping it flushes spans not yet exported.
///
/// The flush blocks until the exporter has sent what it holds, and the exporter's I/O runs on
/// the Tokio runtime: drop the guard where the runtime's worker threads can still run (a
/// multi-thread runtime, outside its workers), or the last spans wait for the export timeout.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("lienthong: flushing traces failed: {e}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot set up the OTLP exporter for {endpoint}: {message}")]
    Exporter { endpoint: String, message: String },
}

/// Installs the global subscriber and propagator. Call once, early, inside the Tokio runtime.
/// A second call (tests) keeps the first subscriber.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.trace_sample_ratio,
        ))));
    if let Some(endpoint) = &config.otlp_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| TelemetryError::Exporter {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer("lienthong");
    opentelemetry::global::set_tracer_provider(provider.clone());

    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let fmt = log_layer(config.log_format, ansi, std::io::stdout);
    // The log filter applies to log output only: spans carry trace context across services
    // whatever the log level, so the OpenTelemetry layer sees every span at INFO and above.
    let traces = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    // Already installed (a second call in the same process) is fine.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(traces)
        .try_init();
    Ok(TelemetryGuard { provider })
}

/// The log output layer: one line per event in `format`, with the trace and span ids of the
/// span it was logged in, written to `writer`. `ansi` colours text lines (for a terminal).
pub(crate) fn log_layer<S, W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(ansi)
            .with_writer(writer)
            .event_format(WithTraceIds::text(
                tracing_subscriber::fmt::format()
                    .with_target(true)
                    .with_ansi(ansi),
            ))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(writer)
            .fmt_fields(JsonFields::new())
            .event_format(WithTraceIds::json(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ))
            .boxed(),
    }
}
