//! The audit log against a real PostgreSQL (the local stack's, or LIENTHONG_TEST_PG_URL), each
//! test in a database of its own: concurrent appenders forming one chain, the triggers refusing
//! changes, and every kind of tampering found at its sequence number.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use lienthong_audit::{AuditError, AuditEvent, AuditLog, BreakKind, ChainedRecord, VerifyReport};
use sqlx::{Connection, Executor, PgConnection, Row};

const KEY: &str = "test-subject-key-0123456789abcdef";

/// A database of the test's own, dropped at the end.
struct TestDatabase {
    name: String,
    url: String,
}

fn admin_url() -> String {
    std::env::var("LIENTHONG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://lienthong:lienthong@127.0.0.1:55432/lienthong".into())
}

impl TestDatabase {
    async fn create() -> Self {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"));
        let name = format!("lt_audit_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Self {
            url: format!("{base}/{name}"),
            name,
        }
    }

    async fn conn(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    async fn exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        self.conn().await.execute(sql).await.map(|_| ())
    }

    async fn drop(self) {
        let mut conn = PgConnection::connect(&admin_url()).await.unwrap();
        let _ = conn
            .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
            .await;
    }
}

fn event(partner: &str, n: usize) -> AuditEvent {
    AuditEvent {
        partner: partner.into(),
        method: "lienthong.v1.LookupService/GetPerson".into(),
        subject: Some(format!("0010900{n:05}")),
        fields: vec![
            "name.family".into(),
            "name.given".into(),
            "birth_date".into(),
        ],
        purpose: "social insurance enrolment".into(),
        result: "ok".into(),
        detail: format!("call {n}"),
        at: Utc::now(),
    }
}

async fn log_with(db: &TestDatabase, events: usize) -> AuditLog {
    let log = AuditLog::connect(&db.url, KEY, None).await.unwrap();
    let last = log
        .append((1..=events).map(|n| event("bhxh", n)).collect())
        .await
        .unwrap();
    assert_eq!(last, events as u64);
    log
}

fn assert_broken_at(report: &VerifyReport, seq: u64, kind: impl Fn(&BreakKind) -> bool) {
    let broken = report
        .broken
        .as_ref()
        .unwrap_or_else(|| panic!("tampering not detected: {report}"));
    assert_eq!(broken.seq, seq, "{report}");
    assert!(kind(&broken.kind), "{report}");
    assert!(!report.is_intact());
    assert_eq!(report.checked, seq - 1, "{report}");
}

#[tokio::test]
async fn concurrent_appenders_form_one_gapless_chain() {
    let db = TestDatabase::create().await;
    const TASKS: usize = 6;
    const BATCHES: usize = 15;
    // Each task connects on its own (its own pool, as separate processes would), all at once:
    // the schema is created and migrated once.
    let runs = (0..TASKS).map(|task| {
        let url = db.url.clone();
        tokio::spawn(async move {
            let log = AuditLog::connect(&url, KEY, None).await.unwrap();
            let mut batches = Vec::new();
            for batch in 0..BATCHES {
                let size = 1 + (task + batch) % 7;
                let events = (0..size)
                    .map(|i| event(&format!("partner-{task}"), batch * 10 + i))
                    .collect();
                let last = log.append(events).await.unwrap();
                batches.push((last + 1 - size as u64, last));
            }
            batches
        })
    });
    let mut ranges: Vec<(u64, u64, usize)> = Vec::new();
    for (task, run) in futures::future::join_all(runs)
        .await
        .into_iter()
        .enumerate()
    {
        ranges.extend(run.unwrap().into_iter().map(|(a, b)| (a, b, task)));
    }
    ranges.sort();
    // Each batch got one contiguous run of seqs, and the runs tile 1..=total.
    let mut next = 1;
    for (first, last, _) in &ranges {
        assert_eq!(*first, next, "batches overlap or leave a gap: {ranges:?}");
        next = last + 1;
    }
    let total = next - 1;

    let mut conn = db.conn().await;
    let rows = sqlx::query("SELECT seq, partner FROM lienthong_audit.events ORDER BY seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, total);
    let seqs: BTreeSet<i64> = rows.iter().map(|r| r.get("seq")).collect();
    assert_eq!(seqs, (1..=total as i64).collect());
    // A batch's rows are the task's own events.
    for (first, last, task) in &ranges {
        for row in &rows[(*first - 1) as usize..*last as usize] {
            assert_eq!(row.get::<String, _>("partner"), format!("partner-{task}"));
        }
    }

    let log = AuditLog::connect(&db.url, KEY, None).await.unwrap();
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.checked, total);
    assert_eq!(report.head.seq, total);
    let same = lienthong_audit::verify_database(&db.url).await.unwrap();
    assert_eq!(same, report);
    db.drop().await;
}

#[tokio::test]
async fn subjects_are_stored_only_as_keyed_hashes() {
    let db = TestDatabase::create().await;
    let log = AuditLog::connect(&db.url, KEY, None).await.unwrap();
    let id = "079203004567";
    let mut with_subject = event("ndop", 1);
    with_subject.subject = Some(id.into());
    // Nanoseconds are dropped to what PostgreSQL stores, so the hash still matches.
    with_subject.at = DateTime::from_timestamp(1_767_225_600, 123_456_789).unwrap();
    let mut without = event("ndop", 2);
    without.subject = None;
    without.fields.clear();
    log.append(vec![with_subject, without]).await.unwrap();

    let mut conn = db.conn().await;
    let stored: Vec<Option<String>> =
        sqlx::query_scalar("SELECT subject_hash FROM lienthong_audit.events ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(stored, [Some(log.subject_hash(id)), None]);
    let other_key = AuditLog::connect(&db.url, "another-key-0123456789abcdefghijk", None)
        .await
        .unwrap();
    assert_ne!(other_key.subject_hash(id), log.subject_hash(id));
    let leaks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM lienthong_audit.events e WHERE e::text LIKE '%' || $1 || '%'",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(leaks, 0, "the raw personal ID is stored somewhere");
    let at: DateTime<Utc> =
        sqlx::query_scalar("SELECT at FROM lienthong_audit.events WHERE seq = 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(at.timestamp_subsec_nanos(), 123_456_000);
    assert!(log.verify().await.unwrap().is_intact());
    db.drop().await;
}

#[tokio::test]
async fn update_delete_and_truncate_are_refused() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 3).await;
    for sql in [
        "UPDATE lienthong_audit.events SET result = 'not_found' WHERE seq = 2",
        "DELETE FROM lienthong_audit.events WHERE seq = 2",
        "TRUNCATE lienthong_audit.events",
        "DELETE FROM lienthong_audit.chain_head",
        "UPDATE lienthong_audit.chain_head SET seq = 1",
    ] {
        let err = db.exec(sql).await.expect_err(sql);
        let text = err.to_string();
        assert!(
            text.contains("append-only") || text.contains("only moves forward"),
            "{sql}: {text}"
        );
    }
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.checked, 3);
    db.drop().await;
}

/// Tampers as a superuser would: with the trigger disabled for the statement.
async fn tamper(db: &TestDatabase, sql: &str) {
    db.exec(&format!(
        "ALTER TABLE lienthong_audit.events DISABLE TRIGGER events_append_only;
         {sql};
         ALTER TABLE lienthong_audit.events ENABLE TRIGGER events_append_only"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_changed_row_is_found_at_its_seq() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 10).await;
    tamper(
        &db,
        "UPDATE lienthong_audit.events SET fields = fields || 'ethnicity'::text WHERE seq = 4",
    )
    .await;
    let report = log.verify().await.unwrap();
    assert_broken_at(&report, 4, |k| matches!(k, BreakKind::HashMismatch { .. }));
    assert!(report.to_string().contains("TAMPERED at seq 4"), "{report}");
    db.drop().await;
}

#[tokio::test]
async fn a_deleted_row_is_found_at_its_seq() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 10).await;
    tamper(&db, "DELETE FROM lienthong_audit.events WHERE seq = 6").await;
    let report = log.verify().await.unwrap();
    assert_broken_at(&report, 6, |k| *k == BreakKind::SeqGap { next_present: 7 });
    db.drop().await;
}

#[tokio::test]
async fn deleted_last_rows_are_found_against_the_chain_head() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 10).await;
    tamper(&db, "DELETE FROM lienthong_audit.events WHERE seq >= 9").await;
    let report = log.verify().await.unwrap();
    assert_broken_at(&report, 9, |k| *k == BreakKind::Truncated { head_seq: 10 });
    db.drop().await;
}

#[tokio::test]
async fn a_changed_prev_hash_is_found_at_its_seq() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 10).await;
    tamper(
        &db,
        "UPDATE lienthong_audit.events SET prev_hash = decode(repeat('ab', 32), 'hex') WHERE seq = 3",
    )
    .await;
    let report = log.verify().await.unwrap();
    assert_broken_at(&report, 3, |k| {
        matches!(k, BreakKind::PrevHashMismatch { .. })
    });
    db.drop().await;
}

#[tokio::test]
async fn a_row_rewritten_with_a_recomputed_hash_breaks_the_next_link() {
    let db = TestDatabase::create().await;
    let log = log_with(&db, 10).await;
    let mut conn = db.conn().await;
    let row = sqlx::query("SELECT * FROM lienthong_audit.events WHERE seq = 5")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    // What a forger who knows the format would write: the row's own hash is right again.
    let mut forged = ChainedRecord {
        seq: 5,
        at: row.get("at"),
        partner: row.get("partner"),
        method: row.get("method"),
        subject_hash: row.get("subject_hash"),
        fields: row.get("fields"),
        purpose: row.get("purpose"),
        result: "not_found".into(),
        detail: row.get("detail"),
        prev_hash: row.get::<Vec<u8>, _>("prev_hash").try_into().unwrap(),
        hash: [0; 32],
    };
    forged.hash = forged.compute_hash();
    tamper(
        &db,
        &format!(
            "UPDATE lienthong_audit.events SET result = 'not_found', hash = decode('{}', 'hex') WHERE seq = 5",
            lienthong_audit::chain::to_hex(&forged.hash)
        ),
    )
    .await;
    let report = log.verify().await.unwrap();
    assert_broken_at(&report, 6, |k| {
        matches!(k, BreakKind::PrevHashMismatch { .. })
    });
    db.drop().await;
}

#[tokio::test]
async fn appends_go_on_after_reconnecting_and_empty_appends_report_the_head() {
    let db = TestDatabase::create().await;
    let first = log_with(&db, 4).await;
    drop(first);
    let log = AuditLog::connect(&db.url, KEY, None).await.unwrap();
    assert_eq!(log.append(Vec::new()).await.unwrap(), 4);
    assert_eq!(log.append(vec![event("lgsp", 9)]).await.unwrap(), 5);
    let report = log.verify().await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.checked, 5);
    db.drop().await;
}

#[tokio::test]
async fn unstorable_events_and_missing_logs_are_errors() {
    let db = TestDatabase::create().await;
    assert!(matches!(
        lienthong_audit::verify_database(&db.url).await,
        Err(AuditError::NoAuditLog { .. })
    ));
    assert!(matches!(
        AuditLog::connect(&db.url, "", None).await,
        Err(AuditError::EmptySubjectKey)
    ));
    let log = log_with(&db, 2).await;
    let mut bad = event("bhxh", 3);
    bad.detail = "nul\0byte".into();
    let err = log
        .append(vec![event("bhxh", 3), bad])
        .await
        .expect_err("NUL refused");
    assert!(
        matches!(err, AuditError::InvalidEvent { index: 1, .. }),
        "{err}"
    );
    // Nothing of the refused batch was written.
    assert_eq!(log.verify().await.unwrap().checked, 2);
    db.drop().await;
}
