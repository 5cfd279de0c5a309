//! Metrics of one PostgreSQL source, labelled with its source id.

use lienthong_runtime::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

/// Upper bounds (seconds) of the commit-to-acknowledgement histogram.
pub const COMMIT_TO_ACK_BUCKETS: [f64; 18] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0,
    5.0, 10.0,
];

#[derive(Debug, Clone)]
pub struct SourceMetrics {
    pub events: Counter,
    pub snapshot_rows: Counter,
    pub dead_lettered: Counter,
    /// Milliseconds between the source's commit and its capture, for the last transaction.
    pub capture_lag_ms: Gauge,
    /// WAL bytes the slot holds back (current WAL position minus confirmed position).
    pub slot_lag_bytes: Gauge,
    /// The confirmed position, as a number (LSN).
    pub confirmed_lsn: Gauge,
    /// Seconds from a transaction's commit in the source to the broker's acknowledgement of its
    /// last event: the connector's end-to-end lag, per transaction.
    pub commit_to_ack: Histogram,
}

impl Default for SourceMetrics {
    fn default() -> Self {
        Self {
            events: Counter::default(),
            snapshot_rows: Counter::default(),
            dead_lettered: Counter::default(),
            capture_lag_ms: Gauge::default(),
            slot_lag_bytes: Gauge::default(),
            confirmed_lsn: Gauge::default(),
            commit_to_ack: Histogram::new(COMMIT_TO_ACK_BUCKETS),
        }
    }
}

impl SourceMetrics {
    pub fn register(metrics: &Metrics, source_id: &str) -> Self {
        let m = Self::default();
        let label = ("source", source_id);
        metrics.register_labeled(
            "source_postgres_events",
            "Change events published",
            label,
            m.events.clone(),
        );
        metrics.register_labeled(
            "source_postgres_snapshot_rows",
            "Rows published by snapshots",
            label,
            m.snapshot_rows.clone(),
        );
        metrics.register_labeled(
            "source_postgres_dead_lettered",
            "Rows that could not be captured",
            label,
            m.dead_lettered.clone(),
        );
        metrics.register_labeled(
            "source_postgres_lag_milliseconds",
            "Commit to capture delay of the last transaction",
            label,
            m.capture_lag_ms.clone(),
        );
        metrics.register_labeled(
            "source_postgres_slot_lag_bytes",
            "WAL held back by the replication slot",
            label,
            m.slot_lag_bytes.clone(),
        );
        metrics.register_labeled(
            "source_postgres_confirmed_lsn",
            "Position confirmed to the server",
            label,
            m.confirmed_lsn.clone(),
        );
        metrics.register_labeled(
            "source_postgres_commit_to_ack_seconds",
            "Source commit to broker acknowledgement of the transaction's last event",
            label,
            m.commit_to_ack.clone(),
        );
        m
    }
}
