//! Metrics of one polled source, labelled with its source id (and table where it matters).

use lienthong_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub table: String,
}

#[derive(Debug, Clone, Default)]
pub struct SourceMetrics {
    /// Rows returned by poll queries (window re-reads included).
    pub rows_polled: Counter,
    /// Change events acknowledged by the broker (tombstones not counted).
    pub events: Counter,
    /// Rows found below the cursor inside the safety window: the late commits it exists for.
    pub late_rows: Counter,
    /// Rows that could not be published, sent to `dlq.source-poll`.
    pub dead_lettered: Counter,
    /// Deletes published by full compares (rows gone from the source).
    pub full_compare_deletes: Counter,
    /// Full compares completed.
    pub full_compares: Counter,
    /// Window rows given up to stay within `max_window_rows`.
    pub window_truncated: Counter,
    /// Seconds since each table was last read to its end: every change committed before then
    /// (and within the safety window's assumption) is published.
    pub cursor_lag_seconds: Family<TableLabels, Gauge>,
    /// Rows remembered in each table's safety window.
    pub window_rows: Family<TableLabels, Gauge>,
}

impl SourceMetrics {
    pub fn register(metrics: &Metrics, source_id: &str) -> Self {
        let m = Self::default();
        let label = ("source", source_id);
        metrics.register_labeled(
            "source_poll_rows_polled",
            "Rows returned by poll queries, safety-window re-reads included",
            label,
            m.rows_polled.clone(),
        );
        metrics.register_labeled(
            "source_poll_events",
            "Change events published and acknowledged",
            label,
            m.events.clone(),
        );
        metrics.register_labeled(
            "source_poll_late_rows",
            "Rows found below the cursor inside the safety window (committed late)",
            label,
            m.late_rows.clone(),
        );
        metrics.register_labeled(
            "source_poll_dead_lettered",
            "Rows that could not be captured",
            label,
            m.dead_lettered.clone(),
        );
        metrics.register_labeled(
            "source_poll_full_compare_deletes",
            "Deletes published by full compares",
            label,
            m.full_compare_deletes.clone(),
        );
        metrics.register_labeled(
            "source_poll_full_compares",
            "Full compares completed",
            label,
            m.full_compares.clone(),
        );
        metrics.register_labeled(
            "source_poll_window_truncated",
            "Safety-window rows given up to stay within max_window_rows",
            label,
            m.window_truncated.clone(),
        );
        metrics.register_labeled(
            "source_poll_cursor_lag_seconds",
            "Seconds since the table was last read to its end",
            label,
            m.cursor_lag_seconds.clone(),
        );
        metrics.register_labeled(
            "source_poll_window_rows",
            "Rows remembered in the table's safety window",
            label,
            m.window_rows.clone(),
        );
        m
    }

    pub fn table(table: &str) -> TableLabels {
        TableLabels {
            table: table.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_named_lienthong_source_poll() {
        let metrics = Metrics::new();
        let m = SourceMetrics::register(&metrics, "hr");
        m.events.inc();
        m.cursor_lag_seconds
            .get_or_create(&SourceMetrics::table("public.can_bo"))
            .set(3);
        let text = metrics.encode();
        assert!(
            text.contains("lienthong_source_poll_events_total{source=\"hr\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "lienthong_source_poll_cursor_lag_seconds{source=\"hr\",table=\"public.can_bo\"} 3"
            ),
            "{text}"
        );
    }
}
