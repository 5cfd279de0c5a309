//! `lienthong validate` on PostgreSQL sources that are not ready for change capture: each
//! problem is named with what to change. The servers are clusters of the tests' own, because the
//! shared stack must keep its CDC settings.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::time::{Duration, Instant};

use lienthong_tests::cluster::TemporaryCluster;
use lienthong_tests::process::Service;
use lienthong_tests::{lienthong, stack, text};

/// A config with one PostgreSQL source on `url`, written into `dir`.
fn config(dir: &std::path::Path, url: &str, tables: &str, create_publication: bool) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let body = format!(
        r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
[kafka.topics.default]
partitions = 1
replication_factor = 1
[retry]
initial_delay_ms = 200
max_delay_ms = 1000
[state]
topic = "lienthong.state.{tag}"
[databases.src]
url = "{url}"
[source_postgres.kiemtra]
database = "src"
slot = "lt_slot"
publication = "lt_pub"
create_publication = {create_publication}
tables = [{tables}]
spill_dir = "{spill}"
"#,
        broker = stack::broker(),
        spill = dir.join("spill").display(),
    );
    let path = dir.join(format!("lienthong-{tag}.toml"));
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn validate(config: &str) -> (Option<i32>, String) {
    let out = lienthong(&["validate", "--config", config], &[]);
    let (stdout, stderr) = text(&out);
    (out.status.code(), format!("{stdout}\n{stderr}"))
}

fn assert_line(output: &str, check: &str, needle: &str) {
    let line = output
        .lines()
        .find(|l| l.starts_with("FAIL  source    kiemtra: ") && l.contains(&format!(": {check}: ")))
        .unwrap_or_else(|| panic!("no failed `{check}` check in:\n{output}"));
    assert!(
        line.contains(needle),
        "`{check}` should say `{needle}`:\n{output}"
    );
}

#[test]
fn every_missing_prerequisite_is_named_with_its_fix() {
    let cluster = TemporaryCluster::start(&[
        ("wal_level", "replica"),
        ("max_replication_slots", "1"),
        ("max_wal_senders", "2"),
    ]);
    cluster.psql("SELECT pg_create_physical_replication_slot('occupied')");
    cluster.psql("CREATE ROLE plain LOGIN");
    cluster.psql("CREATE TABLE public.khong_khoa (ten text)");
    cluster.psql("CREATE TABLE public.co_khoa (id int8 PRIMARY KEY)");
    cluster.psql("REVOKE CREATE ON DATABASE postgres FROM PUBLIC");

    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &cluster.url("plain"), "\"public.*\"", false);
    let (code, out) = validate(&path);
    assert_eq!(code, Some(1), "{out}");
    assert_line(&out, "wal_level", "is replica: set wal_level = logical");
    assert_line(
        &out,
        "replication privilege",
        "role plain lacks REPLICATION: run ALTER ROLE plain REPLICATION",
    );
    assert_line(
        &out,
        "replication slot",
        "all 1 slots (max_replication_slots) are used",
    );
    assert_line(
        &out,
        "tables",
        "has no primary key and REPLICA IDENTITY DEFAULT",
    );
    assert_line(
        &out,
        "tables",
        "role plain cannot SELECT from public.co_khoa: GRANT SELECT ON \"public\".\"co_khoa\" TO plain",
    );
    assert_line(
        &out,
        "publication",
        "lt_pub does not exist and create_publication is false",
    );
    // The server's own words for a walsender refused to a plain role vary by version.
    assert_line(&out, "replication connection", "");

    // The same source with create_publication on, but a role that may not create one.
    let path = config(
        dir.path(),
        &cluster.url("plain"),
        "\"public.co_khoa\"",
        true,
    );
    let (code, out) = validate(&path);
    assert_eq!(code, Some(1), "{out}");
    assert_line(
        &out,
        "publication",
        "role plain cannot create it: GRANT CREATE ON DATABASE",
    );
}

#[test]
fn a_publication_without_a_captured_table_is_reported() {
    let cluster = TemporaryCluster::start(&[("wal_level", "logical")]);
    cluster.psql("CREATE TABLE public.a (id int8 PRIMARY KEY)");
    cluster.psql("CREATE TABLE public.b (id int8 PRIMARY KEY)");
    cluster.psql("CREATE PUBLICATION lt_pub FOR TABLE public.a");
    let dir = tempfile::tempdir().unwrap();

    let path = config(dir.path(), &cluster.url("postgres"), "\"public.*\"", false);
    let (code, out) = validate(&path);
    assert_eq!(code, Some(1), "{out}");
    assert_line(
        &out,
        "publication",
        "lt_pub lacks public.b and create_publication is false: ALTER PUBLICATION \"lt_pub\" ADD TABLE \"public\".\"b\"",
    );
    assert!(
        out.contains("ok    source    kiemtra: wal_level: logical"),
        "{out}"
    );

    // With create_publication the connector adds the table itself, and says so.
    let path = config(dir.path(), &cluster.url("postgres"), "\"public.*\"", true);
    let (code, out) = validate(&path);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("publication: lt_pub exists; the connector will add public.b"),
        "{out}"
    );
}

#[test]
fn a_slot_that_lost_its_wal_is_reported_and_refused() {
    // Slots may keep at most 1 MB of WAL: a few segment switches invalidate an idle slot.
    let cluster = TemporaryCluster::start(&[
        ("wal_level", "logical"),
        ("max_slot_wal_keep_size", "'1MB'"),
        ("wal_keep_size", "0"),
    ]);
    cluster.psql("CREATE TABLE public.nhat_ky (id int8 PRIMARY KEY, noi_dung text)");
    cluster.psql("SELECT pg_create_logical_replication_slot('lt_slot', 'pgoutput')");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    while cluster.psql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'lt_slot'")
        != "lost"
    {
        assert!(Instant::now() < deadline, "the slot never lost its WAL");
        cluster.psql(&format!(
            "INSERT INTO nhat_ky SELECT g, repeat('x', 200) FROM generate_series({}, {}) g",
            round * 20_000,
            round * 20_000 + 19_999
        ));
        cluster.psql("SELECT pg_switch_wal()");
        cluster.psql("CHECKPOINT");
        round += 1;
    }

    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        &cluster.url("postgres"),
        "\"public.nhat_ky\"",
        true,
    );
    let (code, out) = validate(&path);
    assert_eq!(code, Some(1), "{out}");
    assert_line(
        &out,
        "replication slot",
        "lt_slot lost WAL it needed (wal_status = lost): drop it; the connector will re-snapshot",
    );

    // The connector refuses to stream from it (changes were missed) and stops with the fix.
    let mut connector = Service::start(
        &["source-postgres", "--config", &path],
        &dir.path().join("connector.log"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = connector.exited() {
            break status;
        }
        assert!(Instant::now() < deadline, "{}", connector.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    assert!(
        connector.log().contains("lost WAL it needed"),
        "{}",
        connector.log()
    );
}
