//! Metrics of one PostgreSQL source, labelled with its source id.

use lienthong_runtime::Metrics;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Debug, Clone, Default)]
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
        m
    }
}
