//! `lienthong validate` on MariaDB sources: every setting or grant the binlog connector needs is
//! named with what to change when it is missing, and passes on the shared stack's server. The
//! failing servers are MariaDB servers of the tests' own, because the shared stack must keep its
//! CDC settings.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use lienthong_tests::mariadb_server::TemporaryMariadb;
use lienthong_tests::{lienthong, stack, text};

/// A config with one MariaDB source on `url`, written into `dir`.
fn config(dir: &std::path::Path, url: &str, server_id: u32, tables: &str) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let body = format!(
        r#"
[telemetry]
log_level = "warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
[state]
topic = "lienthong.state.{tag}"
[databases.src]
url = "{url}"
[source_mysql.kiemtra]
database = "src"
server_id = {server_id}
tables = ["{tables}"]
"#,
        broker = stack::broker(),
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

fn check_line<'a>(output: &'a str, status: &str, check: &str) -> &'a str {
    output
        .lines()
        .find(|l| {
            l.starts_with(&format!("{status:<6}source    kiemtra: "))
                && l.contains(&format!(": {check}: "))
        })
        .unwrap_or_else(|| panic!("no {status} `{check}` check in:\n{output}"))
}

fn assert_fails_with(output: &str, check: &str, needle: &str) {
    let line = check_line(output, "FAIL", check);
    assert!(
        line.contains(needle),
        "`{check}` should say `{needle}`:\n{output}"
    );
}

#[test]
fn statement_binlog_minimal_images_own_server_id_and_missing_grants_are_named() {
    let server = TemporaryMariadb::start(&[
        "--server-id=7",
        "--log-bin=binlog",
        "--binlog-format=STATEMENT",
        "--binlog-row-image=MINIMAL",
    ]);
    server.sql(
        "CREATE DATABASE hoso; CREATE TABLE hoso.can_bo (id INT PRIMARY KEY, ten VARCHAR(50)); \
         CREATE USER 'plain'@'127.0.0.1' IDENTIFIED BY 'matkhau'; \
         GRANT SELECT ON hoso.* TO 'plain'@'127.0.0.1'",
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("plain", "matkhau", "hoso");
    let (code, output) = validate(&config(dir.path(), &url, 7, "hoso.*"));
    assert_eq!(code, Some(1), "{output}");
    assert_fails_with(
        &output,
        "binlog_format",
        "is STATEMENT: run SET GLOBAL binlog_format = 'ROW'",
    );
    assert_fails_with(
        &output,
        "binlog_row_image",
        "is MINIMAL: run SET GLOBAL binlog_row_image = 'FULL'",
    );
    assert_fails_with(
        &output,
        "server_id",
        "7 is the source server's own @@server_id",
    );
    assert_fails_with(
        &output,
        "grants",
        "GRANT REPLICATION SLAVE ON *.* TO 'plain'@'127.0.0.1'",
    );
    assert_fails_with(&output, "grants", "GRANT BINLOG MONITOR ON *.* TO");
    // What is right is said to be right.
    check_line(&output, "ok", "log_bin");
}

#[test]
fn a_server_without_binary_log_is_told_to_enable_it() {
    let server = TemporaryMariadb::start(&["--server-id=3"]);
    server.sql(
        "CREATE DATABASE hoso; CREATE TABLE hoso.can_bo (id INT PRIMARY KEY); \
         CREATE USER 'cdc'@'127.0.0.1' IDENTIFIED BY 'matkhau'; \
         GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'cdc'@'127.0.0.1'",
    );
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("cdc", "matkhau", "hoso");
    let (code, output) = validate(&config(dir.path(), &url, 4001, "hoso.*"));
    assert_eq!(code, Some(1), "{output}");
    assert_fails_with(&output, "log_bin", "binary logging is off: add log_bin");
    check_line(&output, "ok", "grants");
    check_line(&output, "ok", "server_id");
}

#[test]
fn the_stack_server_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let url = stack::mariadb_url();
    let db = url.rsplit('/').next().unwrap().to_string();
    let (code, output) = validate(&config(dir.path(), &url, 4002, &format!("{db}.*")));
    for check in [
        "log_bin",
        "binlog_format",
        "binlog_row_image",
        "server_id",
        "grants",
    ] {
        check_line(&output, "ok", check);
    }
    // The stack's database may hold no table yet: only that may fail.
    let failures: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("FAIL") && !l.contains(": tables: "))
        .collect();
    assert!(failures.is_empty(), "{output}");
    if !output.contains(": tables: ") {
        assert_eq!(code, Some(0), "{output}");
    }
}
