//! `lienthong` as an operator meets it: help, `validate` on good and bad configs, `config show`,
//! `schema descriptor-set`. Runs the real binary against the local stack.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::path::Path;

use lienthong_tests::{lienthong, stack, text};

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn good_config() -> String {
    format!(
        r#"
[kafka]
bootstrap_servers = "{}"
request_timeout_ms = 5000

[databases.csdl]
url = "{}"

[databases.bhxh]
url = "{}"
"#,
        stack::broker(),
        stack::postgres_url(),
        stack::mariadb_url()
    )
}

#[test]
fn help_lists_every_command_and_each_has_help() {
    let out = lienthong(&["--help"], &[]);
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    for command in ["source-postgres", "validate", "config", "topics", "schema"] {
        assert!(
            stdout.contains(command),
            "{command} missing from:\n{stdout}"
        );
    }
    for args in [
        &["validate", "--help"][..],
        &["source-postgres", "--help"],
        &["config", "show", "--help"],
        &["config", "schema", "--help"],
        &["topics", "ensure", "--help"],
        &["topics", "list", "--help"],
        &["schema", "descriptor-set", "--help"],
    ] {
        let out = lienthong(args, &[]);
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
        assert!(text(&out).0.contains("Usage:"), "{args:?}");
    }
}

#[test]
fn validate_succeeds_on_a_good_config_and_names_each_dependency() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "good.toml", &good_config());
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("ok    config    {path}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ok    kafka     {}", stack::broker())),
        "{stdout}"
    );
    assert!(stdout.contains("ok    database  csdl"), "{stdout}");
    assert!(stdout.contains("PostgreSQL"), "{stdout}");
    assert!(stdout.contains("ok    database  bhxh"), "{stdout}");
    assert!(stdout.contains("MariaDB"), "{stdout}");
    assert!(
        !stdout.contains(":lienthong@"),
        "database password printed:\n{stdout}"
    );
}

#[test]
fn validate_reports_a_missing_file() {
    let out = lienthong(
        &["validate", "--config", "/nonexistent/lienthong.toml"],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("config file /nonexistent/lienthong.toml does not exist"),
        "{stderr}"
    );
}

#[test]
fn validate_reports_bad_toml_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        "[kafka]\nbootstrap_servers = \"a:1\n",
    );
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("is not valid TOML"), "{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn validate_reports_an_unknown_key_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "typo.toml",
        "[kafka]\nbootstrap_server = \"a:1\"\n",
    );
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("unknown field `bootstrap_server`"),
        "{stderr}"
    );
}

#[test]
fn validate_reports_a_wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "type.toml",
        "[kafka]\nrequest_timeout_ms = \"soon\"\n",
    );
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("soon"), "{stderr}");
    assert!(stderr.contains("request_timeout_ms"), "{stderr}");
}

#[test]
fn validate_reports_every_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rules.toml",
        "[kafka]\nbootstrap_servers = \"localhost\"\n[kafka.topics.default]\npartitions = 0\nreplication_factor = 1\n[databases.x]\nurl = \"oracle://db\"\n",
    );
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("kafka.bootstrap_servers: `localhost` has no port"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kafka.topics.default.partitions: must be at least 1"),
        "{stderr}"
    );
    assert!(stderr.contains("databases.x.url"), "{stderr}");
}

#[test]
fn validate_reports_an_unreachable_broker_and_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "down.toml",
        "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\nrequest_timeout_ms = 1500\n[databases.csdl]\nurl = \"postgres://u:topsecret@127.0.0.1:1/x\"\nconnect_timeout_ms = 1500\n",
    );
    let out = lienthong(&["validate", "--config", &path], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAIL  kafka     cannot reach the Kafka cluster at 127.0.0.1:1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  database  csdl: cannot connect to postgres://u:***@127.0.0.1:1/x"),
        "{stdout}"
    );
    assert!(!stdout.contains("topsecret") && !stderr.contains("topsecret"));
    assert!(stderr.contains("2 check(s) failed"), "{stderr}");
}

#[test]
fn environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "good.toml", &good_config());
    let out = lienthong(
        &["validate", "--config", &path],
        &[
            ("LIENTHONG__KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1"),
            ("LIENTHONG__KAFKA__REQUEST_TIMEOUT_MS", "1500"),
        ],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  kafka     cannot reach the Kafka cluster at 127.0.0.1:1"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    database  csdl"), "{stdout}");
}

#[test]
fn config_show_prints_the_effective_config_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "c.toml",
        "[databases.csdl]\nurl = \"postgres://u:topsecret@db/x\"\n[kafka.secret_properties]\n\"sasl.password\" = \"alsosecret\"\n",
    );
    let out = lienthong(
        &["config", "show", "--config", &path],
        &[("LIENTHONG__RETRY__MAX_RETRIES", "7")],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stdout.contains("topsecret") && !stdout.contains("alsosecret"),
        "{stdout}"
    );
    assert!(stdout.contains("max_retries = 7"), "{stdout}");
    assert!(
        stdout.contains("bootstrap_servers = \"127.0.0.1:19092\""),
        "{stdout}"
    );
}

#[test]
fn descriptor_set_is_exported_for_partners() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("lienthong.pb");
    let out = lienthong(
        &[
            "schema",
            "descriptor-set",
            "--out",
            &out_path.display().to_string(),
        ],
        &[],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(
        std::fs::read(out_path).unwrap(),
        lienthong_proto::FILE_DESCRIPTOR_SET
    );
}

/// A self-signed certificate for `name` with its key, and a second key that is not its own.
fn certificate_files(dir: &Path, name: &str) -> (String, String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    (
        write(dir, &format!("{name}.pem"), &cert.pem()),
        write(dir, &format!("{name}.key"), &key.serialize_pem()),
        write(dir, &format!("{name}-other.key"), &other.serialize_pem()),
    )
}

#[test]
fn validate_checks_policies_tls_files_and_databases_of_the_sections_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    write(
        &policies,
        "bhxh.toml",
        "id = \"bhxh\"\nname = \"BHXH\"\npurposes = [\"doi-soat\"]\n[entities.civil_servant]\nfields = [\"record_id\"]\ntopic = true\n",
    );
    let (cert, key, other_key) = certificate_files(dir.path(), "lookup.lienthong.internal");
    let (resolve_cert, resolve_key, _) =
        certificate_files(dir.path(), "resolve.lienthong.internal");
    let codelists = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/codelists")
        .display()
        .to_string();
    let base = format!(
        r#"
[kafka]
bootstrap_servers = "{broker}"
request_timeout_ms = 5000
[databases.log]
url = "{pg}"
[databases.bhxh]
url = "{maria}"
[databases.down]
url = "postgres://u:topsecret@127.0.0.1:1/x"
connect_timeout_ms = 1500
[policy]
dir = "{policies}"
[store]
database = "log"
[audit]
enabled = true
database = "log"
subject_key = "0123456789abcdef0123456789abcdef-validate"
"#,
        broker = stack::broker(),
        pg = stack::postgres_url(),
        maria = stack::mariadb_url(),
        policies = policies.display(),
    );

    // Everything in order, bar the one unreachable database.
    let good = write(
        dir.path(),
        "good.toml",
        &format!(
            "{base}[lookup]\ndatabase = \"log\"\n[lookup.tls]\ncert = \"{cert}\"\nkey = \"{key}\"\n[resolve]\ncodelists = \"{codelists}\"\n[resolve.tls]\ncert = \"{resolve_cert}\"\nkey = \"{resolve_key}\"\n"
        ),
    );
    let out = lienthong(&["validate", "--config", &good], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("1 check(s) failed"), "{stdout}\n{stderr}");
    for line in [
        format!(
            "ok    policy    {}: 1 partner(s), 1 partner topic(s)",
            policies.display()
        ),
        "ok    store     database `log` (".to_owned(),
        "ok    audit     database `log` (".to_owned(),
        "ok    lookup    database `log` (".to_owned(),
        "ok    lookup    tls: certificate CN=lookup.lienthong.internal, lookup.lienthong.internal; no client certificates"
            .to_owned(),
        "ok    resolve   tls: certificate CN=resolve.lienthong.internal, resolve.lienthong.internal".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    assert!(stdout.contains("PostgreSQL, reachable"), "{stdout}");

    // A broken policy file, a lookup database that is no entry, then one that is MariaDB, the
    // audit log on an unreachable database, and TLS keys that do not match their certificates.
    write(&policies, "broken.toml", "id = \"broken\"\nname = ");
    let bad = write(
        dir.path(),
        "bad.toml",
        &format!(
            "{}[lookup]\ndatabase = \"nowhere\"\n[lookup.tls]\ncert = \"{cert}\"\nkey = \"{other_key}\"\n[resolve]\ncodelists = \"{codelists}\"\n[resolve.tls]\ncert = \"{resolve_cert}\"\nkey = \"{cert}\"\n",
            base.replace(
                "database = \"log\"\nsubject_key",
                "database = \"down\"\nsubject_key"
            )
        ),
    );
    let out = lienthong(&["validate", "--config", &bad], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for line in [
        format!("FAIL  policy    {}: ", policies.display()),
        "broken.toml".to_owned(),
        "ok    store     database `log`".to_owned(),
        "FAIL  audit     database `down` (postgres://u:***@127.0.0.1:1/x) is unreachable"
            .to_owned(),
        "FAIL  lookup    database `nowhere` is not a [databases] entry".to_owned(),
        "FAIL  lookup    tls: ".to_owned(),
        "do not belong together".to_owned(),
        "FAIL  resolve   tls: ".to_owned(),
        "holds no PEM private key".to_owned(),
    ] {
        assert!(stdout.contains(&line), "{line}\n{stdout}");
    }
    assert!(!stdout.contains("topsecret"), "{stdout}");
    let mariadb = write(
        dir.path(),
        "mariadb.toml",
        &format!("{base}[lookup]\ndatabase = \"bhxh\"\n"),
    );
    let out = lienthong(&["validate", "--config", &mariadb], &[]);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("FAIL  lookup    database `bhxh` (mysql://"),
        "{stdout}"
    );
    assert!(stdout.contains("is not PostgreSQL"), "{stdout}");

    // Sections not in use are not checked: no [audit], [lookup], [store] or policies here.
    let plain = write(dir.path(), "plain.toml", &good_config());
    let out = lienthong(&["validate", "--config", &plain], &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for section in ["policy", "audit", "lookup", "store"] {
        assert!(
            !stdout.contains(&format!("  {section} ")),
            "{section} checked:\n{stdout}"
        );
    }
}
