//! The sink's metric families (`lienthong_sink_*`), labelled by endpoint.

use lienthong_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    endpoint: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    endpoint: String,
    reason: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        300.0,
    ])
}

fn batch_histogram() -> Histogram {
    Histogram::new([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0])
}

/// Metric families of the sink stage.
#[derive(Debug, Clone)]
pub struct SinkMetrics {
    records: Family<OutcomeLabels, Counter>,
    requests: Family<StatusLabels, Counter>,
    retries: Family<ReasonLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    batch: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    breaker_state: Family<EndpointLabels, Gauge>,
    breaker_opened: Family<EndpointLabels, Counter>,
}

impl Default for SinkMetrics {
    fn default() -> Self {
        Self {
            records: Family::default(),
            requests: Family::default(),
            retries: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            batch: Family::new_with_constructor(batch_histogram),
            breaker_state: Family::default(),
            breaker_opened: Family::default(),
        }
    }
}

impl SinkMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "sink_records",
            "Records by endpoint and outcome (accepted, duplicate, rejected, dead_lettered, skipped_tombstone)",
            m.records.clone(),
        );
        metrics.register(
            "sink_requests",
            "HTTP requests to platforms by endpoint and status (\"network\" or \"tls\" when no answer came)",
            m.requests.clone(),
        );
        metrics.register(
            "sink_retries",
            "Requests sent again, by endpoint and reason",
            m.retries.clone(),
        );
        metrics.register(
            "sink_delivery_latency_seconds",
            "From a record's first request to the platform's verdict",
            m.latency.clone(),
        );
        metrics.register("sink_batch_records", "Records per request", m.batch.clone());
        metrics.register(
            "sink_breaker_state",
            "Circuit breaker per endpoint: 0 closed, 1 open, 2 half-open",
            m.breaker_state.clone(),
        );
        metrics.register(
            "sink_breaker_opened",
            "Times the circuit breaker of an endpoint opened",
            m.breaker_opened.clone(),
        );
        m
    }

    pub fn record(&self, endpoint: &str, outcome: &str) {
        self.records
            .get_or_create(&OutcomeLabels {
                endpoint: endpoint.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn request(&self, endpoint: &str, status: &str, records: usize) {
        self.requests
            .get_or_create(&StatusLabels {
                endpoint: endpoint.to_string(),
                status: status.to_string(),
            })
            .inc();
        self.batch
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .observe(records as f64);
    }

    pub fn retry(&self, endpoint: &str, reason: &str) {
        self.retries
            .get_or_create(&ReasonLabels {
                endpoint: endpoint.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn latency(&self, endpoint: &str, seconds: f64) {
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .observe(seconds);
    }

    pub fn breaker(&self, endpoint: &str, state: i64, opened: bool) {
        let labels = EndpointLabels {
            endpoint: endpoint.to_string(),
        };
        self.breaker_state.get_or_create(&labels).set(state);
        if opened {
            self.breaker_opened.get_or_create(&labels).inc();
        }
    }
}
