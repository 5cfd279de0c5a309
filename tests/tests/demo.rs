//! `make demo` end to end: the demo script on its own stack (ports 29092, 56432, 54306, data
//! under `.lienthong/demo/`), with small sizes, run twice to show it is repeatable. Checks what
//! it promises to show: every civil-servant file of the source in the store and delivered to
//! the platform simulator, the reconciliation report, a lookup answered with the partner's
//! policy applied, and the quality summary.

use std::path::PathBuf;
use std::process::Command;

use lienthong_tests::lienthong_bin;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_demo() -> String {
    let mut cmd = Command::new(repo().join("deploy/local/demo.sh"));
    for (k, _) in std::env::vars() {
        if k.starts_with("LIENTHONG") {
            cmd.env_remove(k);
        }
    }
    let output = cmd
        .env("LIENTHONG_DEMO_BIN", lienthong_bin())
        .env("LIENTHONG_DEMO_PEOPLE", "4000")
        .env("LIENTHONG_DEMO_CIVIL_SERVANTS", "300")
        .env("LIENTHONG_DEMO_INSURED", "150")
        .env("LIENTHONG_DEMO_RATE", "20")
        .env("LIENTHONG_DEMO_SECONDS", "8")
        .output()
        .expect("running deploy/local/demo.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the demo failed ({}):\n{stdout}\n{stderr}\n--- dev.log:\n{}",
        output.status,
        std::fs::read_to_string(repo().join(".lienthong/demo/logs/dev.log")).unwrap_or_default()
    );
    stdout
}

fn demo_file(name: &str) -> String {
    let path = repo().join(".lienthong/demo").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_str(&demo_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn count(summary: &serde_json::Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {summary}"))
}

fn check_run(stdout: &str) {
    for shown in [
        "Reconciliation",
        "Delivered to the platform simulator",
        "A lookup through the gRPC API",
        "Data quality: the six criteria",
        "Where to look",
    ] {
        assert!(
            stdout.contains(shown),
            "the demo did not show {shown:?}:\n{stdout}"
        );
    }

    let summary = json("summary.json");
    // Every civil-servant file the source holds at the end is current in the store: the
    // snapshot and the live changes (hires, corrections, removals) all arrived.
    let source = count(&summary, "source_civil_servants");
    assert!(source >= 300, "{summary}");
    assert_eq!(count(&summary, "store_civil_servants"), source, "{summary}");
    // Contribution periods: the rows the MariaDB mapping refuses are dead-lettered, not lost.
    let periods = count(&summary, "source_contribution_periods");
    let stored = count(&summary, "store_contribution_periods");
    let dead = count(&summary, "dead_lettered");
    assert!(stored <= periods, "{summary}");
    assert!(
        periods - stored <= dead,
        "rows neither stored nor dead-lettered: {summary}"
    );
    // The platform holds one record per file ever delivered (removed files as deletions).
    assert!(count(&summary, "platform_records") >= source, "{summary}");
    let platform = json("platform-counts.json");
    assert_eq!(platform["rejected_total"], 0, "{platform}");

    // The report for officials, one CSV line per record of the list.
    let report = demo_file("report/report.csv");
    assert!(
        report.lines().count() > 300,
        "report.csv has {} lines",
        report.lines().count()
    );
    assert!(demo_file("report/report.html").contains("<html"));

    // The lookup answered as the demo partner: granted fields present, sensitive ones masked.
    let lookup = json("lookup-example.json");
    let person = &lookup["civilServant"]["person"];
    assert_eq!(
        person["personalId"].as_str().map(str::len),
        Some(12),
        "{lookup}"
    );
    assert!(
        person["name"]["full"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{lookup}"
    );
    assert!(person.get("ethnicity").is_none(), "{lookup}");
    let masked: Vec<&str> = lookup["maskedFields"]
        .as_array()
        .expect("maskedFields")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(masked.contains(&"person.ethnicity"), "{masked:?}");

    // The quality summary covers both entities of the sources.
    let quality = stdout
        .split("Data quality: the six criteria")
        .nth(1)
        .expect("quality section");
    assert!(quality.contains("civil_servant"), "{quality}");
    assert!(quality.contains("social_insurance"), "{quality}");
    assert!(
        quality.contains("đúng") && quality.contains("dùng chung"),
        "{quality}"
    );
}

#[test]
fn the_demo_runs_end_to_end_and_again() {
    let first = run_demo();
    check_run(&first);
    // Repeatable: a second run starts from an empty demo stack and shows the same.
    let second = run_demo();
    check_run(&second);
}
