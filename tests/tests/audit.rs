//! The audit log end to end: `lienthong audit verify` as a real process on an intact log and on
//! one a superuser tampered with, and appended events arriving on the audit topic of the real
//! broker, read by a consumer of the test's own.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use lienthong_audit::{AuditEvent, AuditLog, AuditTopic};
use lienthong_runtime::kafka::{EventProducer, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::topics::{TopicReader, kafka_config, kafka_config_for};
use lienthong_tests::{lienthong, text};
use serde_json::Value;

const KEY: &str = "e2e-audit-subject-key-0123456789abcdef";

fn event(partner: &str, personal_id: &str, result: &str) -> AuditEvent {
    AuditEvent {
        partner: partner.into(),
        method: "lienthong.v1.LookupService/GetPerson".into(),
        subject: Some(personal_id.into()),
        fields: vec!["name.family".into(), "birth_date".into()],
        purpose: "doi-soat-dong-bhxh".into(),
        result: result.into(),
        detail: String::new(),
        at: Utc::now(),
    }
}

/// A config naming the test database as the audit log's.
fn write_config(dir: &Path, url: &str) -> String {
    let path = dir.join("lienthong.toml");
    std::fs::write(
        &path,
        format!("[databases.audit]\nurl = \"{url}\"\n\n[audit]\ndatabase = \"audit\"\n"),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn verify_exits_0_on_an_intact_log_and_1_naming_the_seq_when_tampered() {
    let db = TestDatabase::create("lt_audit_e2e").await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &db.url);

    // A database without an audit log is no verdict: exit 2.
    let out = lienthong(&["audit", "verify", "--config", &config], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("no audit log"), "{stderr}");

    let log = AuditLog::connect(&db.url, KEY, None).await.unwrap();
    for batch in 0..4 {
        let events = (0..5)
            .map(|i| event("bhxh", &format!("0010900{batch}{i:04}"), "ok"))
            .collect();
        log.append(events).await.unwrap();
    }

    let out = lienthong(&["audit", "verify", "--config", &config], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("audit log intact: 20 event(s)"), "{stdout}");
    // The password of the URL never reaches the output.
    assert!(!stdout.contains(":lienthong@"), "{stdout}");

    // A superuser hides that a lookup was refused: the trigger must be disabled first.
    db.exec(
        "ALTER TABLE lienthong_audit.events DISABLE TRIGGER events_append_only;
         UPDATE lienthong_audit.events SET result = 'ok', purpose = 'khac' WHERE seq = 13;
         ALTER TABLE lienthong_audit.events ENABLE TRIGGER events_append_only",
    )
    .await;
    let out = lienthong(&["audit", "verify", "--config", &config], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("TAMPERED at seq 13"), "{stdout}");
    assert!(stdout.contains("hash mismatch"), "{stdout}");
    assert!(
        stdout.contains("12 event(s) before it check out"),
        "{stdout}"
    );

    // An unknown [audit] database is a config error: exit 2.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[audit]\ndatabase = \"missing\"\n").unwrap();
    let out = lienthong(
        &["audit", "verify", "--config", broken.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("audit.database"), "{stderr}");

    db.drop_with_slot("lt_audit_e2e_no_slot").await;
}

/// A fresh database named `name` and a fresh audit topic on the broker.
async fn database_and_topic(name: &str) -> (TestDatabase, String) {
    let db = TestDatabase::create(name).await;
    let topic = format!("audit.{name}.{}", uuid::Uuid::new_v4().simple());
    TopicAdmin::new(&kafka_config())
        .unwrap()
        .ensure_topics(&[&topic])
        .await
        .unwrap_or_else(|e| panic!("{e} (is the broker up? `make up`)"));
    (db, topic)
}

#[tokio::test]
async fn appended_events_are_published_to_the_audit_topic() {
    let (db, topic) = database_and_topic("lt_audit_topic").await;
    let kafka = kafka_config();
    let producer = EventProducer::new(&kafka, "audit-e2e", KafkaMetrics::default()).unwrap();
    let log = AuditLog::connect(&db.url, KEY, Some(AuditTopic::new(producer, &topic)))
        .await
        .unwrap();

    let ids = ["079203004567", "001090012345", "036185000111"];
    log.append(vec![
        event("bhxh", ids[0], "ok"),
        event("ndop", ids[1], "permission_denied"),
    ])
    .await
    .unwrap();
    let mut delivered = event("ndop", ids[2], "delivered");
    delivered.method = "share.ndop.civil_servant.v1".into();
    let mut no_subject = event("bhxh", "", "ok");
    no_subject.subject = None;
    no_subject.method = "lienthong.v1.CodeListService/ListCodeLists".into();
    assert_eq!(log.append(vec![delivered, no_subject]).await.unwrap(), 4);

    let mut reader = TopicReader::new(&topic).await;
    let records = reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 4)
        .await
        .to_vec();
    let mut by_seq = BTreeMap::new();
    for record in &records {
        let payload = record.payload.as_deref().unwrap();
        let text = std::str::from_utf8(payload).unwrap();
        for id in ids {
            assert!(!text.contains(id), "raw personal ID on the topic: {text}");
        }
        let value: Value = serde_json::from_slice(payload).unwrap();
        let seq = value["seq"].as_u64().unwrap();
        assert_eq!(
            record.key.as_deref(),
            value["partner"].as_str().map(str::as_bytes)
        );
        assert_eq!(
            record.headers.idempotency_key.as_deref(),
            Some(format!("audit:{seq}").as_str())
        );
        assert_eq!(
            record.headers.content_type.as_deref(),
            Some("application/json")
        );
        by_seq.insert(seq, value);
    }
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(by_seq[&1]["subject_hash"], log.subject_hash(ids[0]));
    assert_eq!(by_seq[&2]["result"], "permission_denied");
    assert_eq!(by_seq[&3]["method"], "share.ndop.civil_servant.v1");
    assert_eq!(by_seq[&4]["subject_hash"], Value::Null);

    // The topic carries the chain as stored: same hashes, each linked to the one before.
    let mut conn = db.connect().await;
    let stored: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM lienthong_audit.events ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    for (seq, hash) in stored {
        let published = &by_seq[&(seq as u64)];
        assert_eq!(
            published["hash"],
            lienthong_audit::chain::to_hex(&hash),
            "seq {seq}"
        );
        if seq > 1 {
            assert_eq!(published["prev_hash"], by_seq[&(seq as u64 - 1)]["hash"]);
        }
    }
    assert!(log.verify().await.unwrap().is_intact());
    drop(conn);
    db.drop_with_slot("lt_audit_topic_no_slot").await;
}

/// The seq of each audit-topic record, in the order the topic holds them.
fn seqs(records: &[lienthong_runtime::kafka::InboundRecord]) -> Vec<u64> {
    records
        .iter()
        .map(|r| {
            let value: Value = serde_json::from_slice(r.payload.as_deref().unwrap()).unwrap();
            value["seq"].as_u64().unwrap()
        })
        .collect()
}

async fn topic_progress(db: &TestDatabase, topic: &str) -> Option<i64> {
    let mut conn = db.connect().await;
    sqlx::query_scalar("SELECT seq FROM lienthong_audit.topic_progress WHERE topic = $1")
        .bind(topic)
        .fetch_optional(&mut conn)
        .await
        .unwrap()
}

/// The audit topic is fed from the log. With the broker away, appends still commit (once: an
/// unacknowledged publication is not a reason to append again) and the topic gets nothing; the
/// next service publishing to that topic puts every record there, once and in seq order, and
/// so do several services appending and publishing at the same time.
#[tokio::test]
async fn records_the_broker_missed_reach_the_topic_once_and_in_order_from_the_next_publisher() {
    let (db, topic) = database_and_topic("lt_audit_outbox").await;
    let kafka = kafka_config();
    let publishing_to = |kafka: &lienthong_runtime::kafka::KafkaConfig| {
        let producer = EventProducer::new(kafka, "audit-outbox", KafkaMetrics::default()).unwrap();
        Some(AuditTopic::new(producer, &topic))
    };

    // A broker address nothing listens on.
    let mut away = kafka_config_for(&format!("127.0.0.1:{}", lienthong_tests::free_port()));
    away.message_timeout_ms = 1_000;
    let log = AuditLog::connect(&db.url, KEY, publishing_to(&away))
        .await
        .unwrap();
    for batch in 1..=3u64 {
        let events = vec![
            event("bhxh", "079203004567", "ok"),
            event("ndop", "001090012345", "delivered"),
        ];
        assert_eq!(log.append(events).await.unwrap(), batch * 2);
    }
    match log.flush(Duration::from_secs(3)).await {
        Err(lienthong_audit::AuditError::Unpublished {
            published: 0,
            head: 6,
            ..
        }) => {}
        other => panic!("the topic cannot have the records yet: {other:?}"),
    }
    assert_eq!(topic_progress(&db, &topic).await.unwrap_or(0), 0);
    log.close().await;

    // The next publisher of the topic, with the broker reachable.
    let log = AuditLog::connect(&db.url, KEY, publishing_to(&kafka))
        .await
        .unwrap();
    log.flush(Duration::from_secs(60)).await.unwrap();
    assert_eq!(topic_progress(&db, &topic).await, Some(6));
    let mut reader = TopicReader::new(&topic).await;
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= 6)
        .await;
    reader.read_for(Duration::from_secs(2)).await;
    assert_eq!(seqs(&reader.records), (1..=6).collect::<Vec<_>>());

    // Two services appending concurrently, each publishing to the same topic: one publisher
    // at a time, so every record once, in seq order.
    let other = AuditLog::connect(&db.url, KEY, publishing_to(&kafka))
        .await
        .unwrap();
    let logs = [std::sync::Arc::new(log), std::sync::Arc::new(other)];
    let appenders: Vec<_> = (0..4)
        .map(|task| {
            let log = logs[task % 2].clone();
            tokio::spawn(async move {
                for _ in 0..10 {
                    let events = (0..3)
                        .map(|_| event("lgsp", "036185000111", "ok"))
                        .collect();
                    log.append(events).await.unwrap();
                }
            })
        })
        .collect();
    for appender in appenders {
        appender.await.unwrap();
    }
    let total = 6 + 4 * 10 * 3;
    for log in &logs {
        log.flush(Duration::from_secs(60)).await.unwrap();
    }
    assert_eq!(topic_progress(&db, &topic).await, Some(total));
    reader
        .read_until(Duration::from_secs(60), |r| r.len() >= total as usize)
        .await;
    reader.read_for(Duration::from_secs(2)).await;
    assert_eq!(
        seqs(&reader.records),
        (1..=total as u64).collect::<Vec<_>>()
    );

    let report = logs[0].verify().await.unwrap();
    assert!(report.is_intact(), "{report}");
    assert_eq!(report.checked, total as u64, "nothing appended twice");
    for log in logs {
        std::sync::Arc::into_inner(log).unwrap().close().await;
    }
    db.drop_with_slot("lt_audit_outbox_no_slot").await;
}
