//! The markdown report: the machine, then one table per benchmark.

use std::fmt::Write as _;

#[derive(Debug, Default)]
pub struct Report {
    sections: Vec<(String, String, Vec<[String; 3]>)>,
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    /// A section: title, a paragraph on method, rows of (measure, value, note).
    pub fn section(&mut self, title: &str, method: &str, rows: Vec<[String; 3]>) {
        self.sections
            .push((title.to_string(), method.to_string(), rows));
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# lienthong benchmarks\n\nWritten by `make bench` (`crates/lienthong-bench`); numbers from one run on the machine below. Targets come from the issues; a ratio compares lienthong with a ceiling measured in the same run.\n\n",
        );
        let _ = writeln!(out, "## Machine\n\n{}\n", machine());
        for (title, method, rows) in &self.sections {
            let _ = writeln!(out, "## {title}\n\n{method}\n");
            out.push_str("| measure | value | note |\n|---|---|---|\n");
            for [a, b, c] in rows {
                let _ = writeln!(out, "| {a} | {b} | {c} |");
            }
            out.push('\n');
        }
        out
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!(
        "- CPU: {cpu}, {cores} cores available\n- memory: {memory_gib:.1} GiB\n- broker: tansu 0.6.0, in-memory storage, started by the benchmark on its own port\n- PostgreSQL: the local stack's (`deploy/local/stack.sh`)"
    )
}

/// A rate as text.
pub fn per_second(count: f64, seconds: f64) -> String {
    if seconds <= 0.0 {
        return "-".into();
    }
    format!("{:.0}/s", count / seconds)
}
