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

    /// The report. Sections of `previous` (an earlier report) that this run did not measure
    /// are kept where they were, marked as such, so `--only` refreshes part of the file.
    pub fn render(&self, previous: Option<&str>) -> String {
        let mut out = String::from(
            "# lienthong benchmarks\n\nWritten by `make bench` (`crates/lienthong-bench`); numbers from one run on the machine below. Targets come from the issues; a ratio compares lienthong with a ceiling measured in the same run.\n\n",
        );
        let _ = writeln!(out, "## Machine\n\n{}\n", machine());
        let mut fresh: Vec<(String, String)> = self
            .sections
            .iter()
            .map(|(title, method, rows)| {
                let mut body = format!("{method}\n\n| measure | value | note |\n|---|---|---|\n");
                for [a, b, c] in rows {
                    let _ = writeln!(body, "| {a} | {b} | {c} |");
                }
                (title.clone(), body)
            })
            .collect();
        for (title, body) in previous.map(sections_of).unwrap_or_default() {
            if title == "Machine" {
                continue;
            }
            match fresh.iter().position(|(t, _)| *t == title) {
                Some(i) => {
                    let (title, body) = fresh.remove(i);
                    let _ = writeln!(out, "## {title}\n\n{body}");
                }
                None => {
                    let _ = writeln!(out, "## {title}\n\n{KEPT}\n\n{body}");
                }
            }
        }
        for (title, body) in fresh {
            let _ = writeln!(out, "## {title}\n\n{body}");
        }
        out
    }
}

const KEPT: &str = "_Kept from an earlier run: this run measured other sections only._";

/// The `## ` sections of a report: title and body (without the kept-from-earlier marker).
fn sections_of(text: &str) -> Vec<(String, String)> {
    let mut sections = Vec::new();
    for chunk in text.split("\n## ").skip(1) {
        let (title, body) = chunk.split_once('\n').unwrap_or((chunk, ""));
        let body = body.trim().trim_start_matches(KEPT).trim();
        sections.push((title.trim().to_string(), format!("{body}\n")));
    }
    sections
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_not_measured_again_are_kept_and_marked() {
        let mut first = Report::new();
        first.section(
            "A",
            "method a",
            vec![["x".into(), "1".into(), String::new()]],
        );
        first.section(
            "B",
            "method b",
            vec![["y".into(), "2".into(), String::new()]],
        );
        let written = first.render(None);
        let mut second = Report::new();
        second.section(
            "B",
            "method b",
            vec![["y".into(), "3".into(), String::new()]],
        );
        let rewritten = second.render(Some(&written));
        assert!(
            rewritten.contains("## A\n\n_Kept from an earlier run"),
            "{rewritten}"
        );
        assert!(rewritten.contains("| x | 1 |  |"));
        assert!(rewritten.contains("| y | 3 |  |"));
        assert!(!rewritten.contains("| y | 2 |"));
        assert!(rewritten.find("## A").unwrap() < rewritten.find("## B").unwrap());
        // A third run measuring A again drops the marker.
        let mut third = Report::new();
        third.section(
            "A",
            "method a",
            vec![["x".into(), "4".into(), String::new()]],
        );
        let again = third.render(Some(&rewritten));
        assert!(!again.contains("## A\n\n_Kept"), "{again}");
        assert!(again.contains("## B\n\n_Kept"), "{again}");
        assert_eq!(again.matches("## Machine").count(), 1);
    }
}
