//! Metrics of one MariaDB/MySQL source, labelled with its source id.

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
    /// Changes a resumed snapshot had already read, not published again.
    pub skipped_after_resume: Counter,
    /// Seconds between the source's commit and its capture, for the last transaction.
    pub capture_lag_seconds: Gauge,
    /// Transactions whose events were all acknowledged (captured tables or not).
    pub confirmed_transactions: Counter,
    /// Seconds from a transaction's commit in the source to the broker's acknowledgement of its
    /// last event.
    pub commit_to_ack: Histogram,
}

impl Default for SourceMetrics {
    fn default() -> Self {
        Self {
            events: Counter::default(),
            snapshot_rows: Counter::default(),
            dead_lettered: Counter::default(),
            skipped_after_resume: Counter::default(),
            capture_lag_seconds: Gauge::default(),
            confirmed_transactions: Counter::default(),
            commit_to_ack: Histogram::new(COMMIT_TO_ACK_BUCKETS),
        }
    }
}

impl SourceMetrics {
    pub fn register(metrics: &Metrics, source_id: &str) -> Self {
        let m = Self::default();
        let label = ("source", source_id);
        metrics.register_labeled(
            "source_mysql_events",
            "Change events published",
            label,
            m.events.clone(),
        );
        metrics.register_labeled(
            "source_mysql_snapshot_rows",
            "Rows published by snapshots",
            label,
            m.snapshot_rows.clone(),
        );
        metrics.register_labeled(
            "source_mysql_dead_lettered",
            "Rows that could not be captured",
            label,
            m.dead_lettered.clone(),
        );
        metrics.register_labeled(
            "source_mysql_skipped_after_resume",
            "Streamed changes already contained in a resumed snapshot's reads",
            label,
            m.skipped_after_resume.clone(),
        );
        metrics.register_labeled(
            "source_mysql_lag_seconds",
            "Commit to capture delay of the last transaction",
            label,
            m.capture_lag_seconds.clone(),
        );
        metrics.register_labeled(
            "source_mysql_confirmed_transactions",
            "Transactions confirmed after the broker acknowledged all their events",
            label,
            m.confirmed_transactions.clone(),
        );
        metrics.register_labeled(
            "source_mysql_commit_to_ack_seconds",
            "Source commit to broker acknowledgement of the transaction's last event",
            label,
            m.commit_to_ack.clone(),
        );
        m
    }
}
