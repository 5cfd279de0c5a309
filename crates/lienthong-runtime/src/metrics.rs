//! Prometheus metrics: one registry per process, served at `/metrics`, and the metric families
//! the shared plumbing records. Stages register their own families on the same registry.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Metric, Registry};

/// The process's metric registry. Cloning shares it.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry whose metric names all start with `lienthong_`.
    pub fn new() -> Self {
        Self {
            registry: Arc::new(Mutex::new(Registry::with_prefix("lienthong"))),
        }
    }

    /// Registers `metric` under `lienthong_<name>`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// Registers `metric` under `lienthong_<name>` with a constant label (`source="csdl"`), so
    /// several instances of a component share one process.
    pub fn register_labeled(
        &self,
        name: &str,
        help: &str,
        label: (&str, &str),
        metric: impl Metric,
    ) {
        self.lock()
            .sub_registry_with_label((label.0.to_string().into(), label.1.to_string().into()))
            .register(name, help, metric);
    }

    /// The OpenMetrics text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.lock());
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves the registry usable: it is only appended to.
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadLetterLabels {
    stage: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    operation: String,
}

/// Counters of the Kafka helpers, by topic.
#[derive(Clone, Debug, Default)]
pub struct KafkaMetrics {
    produced: Family<TopicLabels, Counter>,
    produce_errors: Family<TopicLabels, Counter>,
    consumed: Family<TopicLabels, Counter>,
    commits: Family<TopicLabels, Counter>,
    dead_lettered: Family<DeadLetterLabels, Counter>,
    retries: Family<RetryLabels, Counter>,
}

impl KafkaMetrics {
    /// Creates the families and registers them on `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "kafka_records_produced",
            "Records acknowledged by the broker",
            m.produced.clone(),
        );
        metrics.register(
            "kafka_produce_errors",
            "Records the broker did not acknowledge",
            m.produce_errors.clone(),
        );
        metrics.register(
            "kafka_records_consumed",
            "Records read from the broker",
            m.consumed.clone(),
        );
        metrics.register(
            "kafka_offset_commits",
            "Offset commits acknowledged by the group coordinator",
            m.commits.clone(),
        );
        metrics.register(
            "records_dead_lettered",
            "Records a stage could not process, by stage and error kind",
            m.dead_lettered.clone(),
        );
        metrics.register(
            "retries",
            "Retries of transient failures, by operation",
            m.retries.clone(),
        );
        m
    }

    pub fn record_produced(&self, topic: &str) {
        self.produced.get_or_create(&topic_labels(topic)).inc();
    }

    pub fn record_produce_error(&self, topic: &str) {
        self.produce_errors
            .get_or_create(&topic_labels(topic))
            .inc();
    }

    pub fn record_consumed(&self, topic: &str) {
        self.consumed.get_or_create(&topic_labels(topic)).inc();
    }

    pub fn record_committed(&self, topic: &str) {
        self.commits.get_or_create(&topic_labels(topic)).inc();
    }

    pub fn record_dead_lettered(&self, stage: &str, kind: &str) {
        self.dead_lettered
            .get_or_create(&DeadLetterLabels {
                stage: stage.to_string(),
                kind: kind.to_string(),
            })
            .inc();
    }

    pub fn record_retry(&self, operation: &str) {
        self.retries
            .get_or_create(&RetryLabels {
                operation: operation.to_string(),
            })
            .inc();
    }

    /// Records produced to `topic` so far (for progress reports and tests).
    pub fn produced(&self, topic: &str) -> u64 {
        self.produced.get_or_create(&topic_labels(topic)).get()
    }
}

fn topic_labels(topic: &str) -> TopicLabels {
    TopicLabels {
        topic: topic.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_appear_in_the_exposition() {
        let metrics = Metrics::new();
        let kafka = KafkaMetrics::register(&metrics);
        kafka.record_produced("cdc.csdl.public.can_bo");
        kafka.record_produced("cdc.csdl.public.can_bo");
        kafka.record_dead_lettered("translate", "decode");
        let text = metrics.encode();
        assert!(
            text.contains(
                "lienthong_kafka_records_produced_total{topic=\"cdc.csdl.public.can_bo\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "lienthong_records_dead_lettered_total{stage=\"translate\",kind=\"decode\"} 1"
            ),
            "{text}"
        );
        assert_eq!(kafka.produced("cdc.csdl.public.can_bo"), 2);
    }
}
