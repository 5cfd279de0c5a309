//! Partner topics as a partner meets them: `lienthong share` runs as a real process against the
//! broker with policies written to a directory; a plain Kafka consumer written here reads
//! `share.<partner>.civil_servant.v1` and decodes the records with descriptors compiled from the
//! published `proto/` files by `protoc`, not with lienthong's Rust types. Granted fields arrive,
//! others do not, sensitive ones only where named; a partner without the entity gets nothing; a
//! policy edited while the stage runs applies to later records; every delivery is audited.
//! `lienthong policy check` shows an operator the same rules.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lienthong_proto::v1::{
    CivilServant, CodedValue, Date, DeadLetter, Decimal, MatchStatus, Person, PersonName,
    ResolutionResult, ResolvedCivilServant,
};
use lienthong_runtime::kafka::{EventProducer, OutboundRecord, RecordHeaders, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::process::Service;
use lienthong_tests::topics::{TopicReader, kafka_config};
use lienthong_tests::{lienthong, stack, text};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, ReflectMessage as _};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Headers as _, Message as _};
use sha2::{Digest as _, Sha256};

/// A policy file granting the civil-servant entity `fields`, with its partner topic.
fn civil_servant_policy(id: &str, fields: &[&str]) -> String {
    let fields: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
    format!(
        r#"
id = "{id}"
name = "Partner {id}"
purposes = ["statistics-{id}", "verification"]

[entities.civil_servant]
fields = [{}]
topic = true
topic_purpose = "statistics-{id}"
"#,
        fields.join(", ")
    )
}

/// Writes a policy file beside, then renames it, so the stage never reads half a file.
fn write_policy(dir: &Path, id: &str, text: &str) {
    let tmp = dir.join(format!(".{id}.toml.part"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(format!("{id}.toml"))).unwrap();
}

fn personal_id(i: usize) -> String {
    format!("0010850{i:05}")
}

fn servant(i: usize) -> ResolvedCivilServant {
    ResolvedCivilServant {
        record: Some(CivilServant {
            record_id: format!("csdl:id={i}"),
            person: Some(Person {
                record_id: format!("csdl:id={i}"),
                personal_id: personal_id(i),
                name: Some(PersonName {
                    full: format!("Nguyễn Văn Số {i}"),
                    family: "Nguyễn".into(),
                    middle: "Văn".into(),
                    given: format!("Số {i}"),
                    original: String::new(),
                }),
                birth_date: Some(Date {
                    year: 1980 + i as i32,
                    month: 1,
                    day: 2,
                }),
                sex: 1,
                ethnicity: Some(CodedValue {
                    code_system: "vn.ethnic.2008".into(),
                    code: "04".into(),
                    display: "Mường".into(),
                    original: "Muong".into(),
                }),
                religion: Some(CodedValue {
                    code_system: "vn.religion".into(),
                    code: "01".into(),
                    display: "Phật giáo".into(),
                    original: String::new(),
                }),
                phone: "0912000000".into(),
                ..Person::default()
            }),
            organisation_id: "org:so-noi-vu".into(),
            organisation_name: "Sở Nội vụ".into(),
            rank: Some(CodedValue {
                code_system: "vn.rank".into(),
                code: "01.003".into(),
                display: "Chuyên viên".into(),
                original: String::new(),
            }),
            salary_step: 4,
            salary_coefficient: Some(Decimal {
                value: "3.33".into(),
            }),
            position_allowance: Some(Decimal {
                value: "0.25".into(),
            }),
            ..CivilServant::default()
        }),
        resolution: Some(ResolutionResult {
            status: MatchStatus::Matched as i32,
            stated_personal_id: personal_id(i),
            personal_id: personal_id(i),
            model_version: "test".into(),
            ..ResolutionResult::default()
        }),
    }
}

/// The descriptors partners build from the published `.proto` files with `protoc`.
fn published_descriptors(dir: &Path) -> DescriptorPool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut files: Vec<String> = std::fs::read_dir(root.join("lienthong/v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "proto"))
        .map(|p| format!("lienthong/v1/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    files.sort();
    let out = dir.join("published.desc");
    let status = Command::new(protoc_bin_vendored::protoc_bin_path().unwrap())
        .arg(format!("-I{}", root.display()))
        .arg(format!(
            "-I{}",
            protoc_bin_vendored::include_path().unwrap().display()
        ))
        .arg("--include_imports")
        .arg(format!("--descriptor_set_out={}", out.display()))
        .args(&files)
        .status()
        .unwrap();
    assert!(status.success(), "protoc failed");
    DescriptorPool::decode(std::fs::read(out).unwrap().as_slice()).unwrap()
}

/// Whether the field at a dotted path is set (proto3: holds a non-default value).
fn has(message: &DynamicMessage, path: &str) -> bool {
    let (first, rest) = path
        .split_once('.')
        .map_or((path, None), |(a, b)| (a, Some(b)));
    let Some(field) = message.descriptor().get_field_by_name(first) else {
        panic!("no field {first} in {}", message.descriptor().full_name());
    };
    if !message.has_field(&field) {
        return false;
    }
    match rest {
        None => true,
        Some(rest) => has(message.get_field(&field).as_message().unwrap(), rest),
    }
}

/// The text at a dotted path.
fn text_at(message: &DynamicMessage, path: &str) -> String {
    let (first, rest) = path
        .split_once('.')
        .map_or((path, None), |(a, b)| (a, Some(b)));
    let value = message.get_field_by_name(first).unwrap();
    match rest {
        None => value.as_str().unwrap().to_string(),
        Some(rest) => text_at(value.as_message().unwrap(), rest),
    }
}

/// A record as a plain Kafka client sees it.
#[derive(Debug, Clone)]
struct PlainRecord {
    topic: String,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: HashMap<String, String>,
}

/// A consumer of `topics` from the beginning, with nothing of lienthong's in it.
fn plain_consumer(topics: &[&str]) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", stack::broker())
        .set(
            "group.id",
            format!("partner-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(topics).unwrap();
    consumer
}

/// Reads into `into` until `done` holds, or panics after `timeout`.
async fn read_until(
    consumer: &StreamConsumer,
    into: &mut Vec<PlainRecord>,
    timeout: Duration,
    done: impl Fn(&[PlainRecord]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !done(into) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}; read {} records: {:?}",
            into.len(),
            into.iter().map(|r| &r.topic).collect::<Vec<_>>()
        );
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await {
            let headers = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            into.push(PlainRecord {
                topic: m.topic().to_string(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().map(<[u8]>::to_vec),
                headers,
            });
        }
    }
}

/// Reads whatever arrives within `window`.
async fn read_for(consumer: &StreamConsumer, into: &mut Vec<PlainRecord>, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    read_until(consumer, into, window + Duration::from_secs(5), |_| {
        tokio::time::Instant::now() >= deadline
    })
    .await;
}

async fn wait_for_topic(admin: &TopicAdmin, topic: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while admin
        .cluster_info()
        .await
        .unwrap()
        .partitions_of(topic)
        .is_none()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{topic} never appeared"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `name{labels} value` from the OpenMetrics exposition, 0 when absent.
fn metric(exposition: &str, name_and_labels: &str) -> u64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn partners_receive_only_their_granted_fields_and_every_delivery_is_audited() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let dir = tempfile::tempdir().unwrap();
    let pool = published_descriptors(dir.path());
    let resolved = pool
        .get_message_by_name("lienthong.v1.ResolvedCivilServant")
        .unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();

    // a: names and birth dates under `person.*` (ethnicity and religion stay masked), rank,
    // organisation and the match status. b: named sensitive fields, ethnicity and salary.
    // c: people only; it must get nothing of the civil servants.
    let (a, b, c, d) = (
        format!("a{tag}"),
        format!("b{tag}"),
        format!("c{tag}"),
        format!("d{tag}"),
    );
    let a_fields = [
        "record_id",
        "person.*",
        "rank",
        "organisation_id",
        "resolution.status",
    ];
    write_policy(&policies, &a, &civil_servant_policy(&a, &a_fields));
    let b_fields = [
        "record_id",
        "person.name",
        "person.ethnicity",
        "salary_coefficient",
        "position_allowance",
    ];
    write_policy(&policies, &b, &civil_servant_policy(&b, &b_fields));
    write_policy(
        &policies,
        &c,
        &format!(
            "id = \"{c}\"\nname = \"C\"\npurposes = [\"p\"]\n[entities.person]\nfields = [\"*\"]\ntopic = true\n"
        ),
    );

    let input = format!("resolved.civil_servant.{tag}.v1");
    let audit_topic = format!("audit.{tag}");
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    admin.ensure_topics(&[input.as_str()]).await.unwrap();
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    let send = |key: String, payload: Option<Vec<u8>>| {
        let producer = producer.clone();
        let input = input.clone();
        async move {
            producer
                .send(OutboundRecord {
                    topic: &input,
                    key: Some(key.as_bytes()),
                    payload: payload.as_deref(),
                    headers: RecordHeaders::with_idempotency_key(format!("in:{key}"))
                        .source_position(format!("pos:{key}"))
                        .protobuf("ResolvedCivilServant"),
                })
                .await
                .unwrap();
        }
    };
    // In: five civil servants, one record that is not one, one tombstone.
    for i in 0..5 {
        send(format!("csdl:id={i}"), Some(servant(i).encode_to_vec())).await;
    }
    send("garbage".into(), Some(b"\x0a\xff\xff\xff".to_vec())).await;
    send("csdl:id=0".into(), None).await;

    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = true
listen = "127.0.0.1:0"
[kafka]
bootstrap_servers = "{broker}"
[kafka.topics.default]
partitions = 1
replication_factor = 1
[retry]
initial_delay_ms = 200
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[policy]
dir = "{policies}"
reload_interval_ms = 200
[share]
group_id = "share-{tag}"
audit_topic = "{audit_topic}"
commit_interval_ms = 200
[share.inputs]
person = "resolved.person.{tag}.v1"
civil_servant = "{input}"
organisation = "canonical.organisation.{tag}.v1"
administrative_unit = "canonical.administrative_unit.{tag}.v1"
social_insurance = "canonical.social_insurance.{tag}.v1"
"#,
            broker = stack::broker(),
            policies = policies.display(),
        ),
    )
    .unwrap();
    let mut stage = Service::start(
        &["share", "--config", config.to_str().unwrap()],
        &dir.path().join("share.log"),
    );
    stage.wait_for_log("sharing inputs=", Duration::from_secs(120));

    let topic_a = format!("share.{a}.civil_servant.v1");
    let topic_b = format!("share.{b}.civil_servant.v1");
    wait_for_topic(&admin, &topic_a).await;
    wait_for_topic(&admin, &topic_b).await;
    let partner = plain_consumer(&[topic_a.as_str(), topic_b.as_str()]);
    let mut seen = Vec::new();
    let count = |rs: &[PlainRecord], topic: &str| rs.iter().filter(|r| r.topic == topic).count();
    read_until(&partner, &mut seen, Duration::from_secs(60), |rs| {
        count(rs, &topic_a) >= 6 && count(rs, &topic_b) >= 6
    })
    .await;

    let decode = |r: &PlainRecord| {
        DynamicMessage::decode(resolved.clone(), r.payload.as_deref().unwrap()).unwrap()
    };
    for (topic, id) in [(&topic_a, &a), (&topic_b, &b)] {
        let records: Vec<&PlainRecord> = seen.iter().filter(|r| &r.topic == topic).collect();
        assert_eq!(
            records.len(),
            6,
            "five records and the tombstone, nothing else"
        );
        assert!(records[5].payload.is_none(), "the tombstone passes on");
        assert_eq!(records[5].key.as_deref(), Some(&b"csdl:id=0"[..]));
        for (i, r) in records[..5].iter().enumerate() {
            assert_eq!(r.key.as_deref(), Some(format!("csdl:id={i}").as_bytes()));
            assert_eq!(
                r.headers["lienthong-content-type"],
                "application/x-protobuf; messageType=lienthong.v1.ResolvedCivilServant"
            );
            assert_eq!(
                r.headers["lienthong-idempotency-key"],
                format!("in:csdl:id={i}:share.{id}")
            );
            assert_eq!(
                r.headers["lienthong-source-position"],
                format!("pos:csdl:id={i}")
            );
            let m = decode(r);
            assert_eq!(text_at(&m, "record.record_id"), format!("csdl:id={i}"));
            assert_eq!(
                text_at(&m, "record.person.name.full"),
                format!("Nguyễn Văn Số {i}")
            );
            assert!(!has(&m, "record.person.religion"), "never granted");
            assert!(!has(&m, "record.organisation_name"), "not granted");
        }
    }
    let first = |topic: &str| decode(seen.iter().find(|r| r.topic == topic).unwrap());
    let from_a = first(&topic_a);
    assert!(has(&from_a, "record.person.birth_date"));
    assert!(has(&from_a, "record.person.phone"));
    assert_eq!(
        text_at(&from_a, "record.person.personal_id"),
        personal_id(0)
    );
    assert!(
        !has(&from_a, "record.person.ethnicity"),
        "sensitive: masked under person.*"
    );
    assert!(!has(&from_a, "record.salary_coefficient"));
    assert!(!has(&from_a, "record.position_allowance"));
    assert_eq!(text_at(&from_a, "record.rank.code"), "01.003");
    assert!(has(&from_a, "resolution.status"));
    assert!(!has(&from_a, "resolution.personal_id"));
    let from_b = first(&topic_b);
    assert_eq!(text_at(&from_b, "record.person.ethnicity.display"), "Mường");
    assert_eq!(text_at(&from_b, "record.salary_coefficient.value"), "3.33");
    assert_eq!(text_at(&from_b, "record.position_allowance.value"), "0.25");
    assert!(!has(&from_b, "record.person.birth_date"));
    assert!(!has(&from_b, "record.person.personal_id"));
    assert!(!has(&from_b, "record.rank"));
    assert!(
        !has(&from_b, "resolution"),
        "the verdict is not granted to b"
    );

    // c has no civil-servant grant: no topic, nothing produced; its person topic exists.
    let info = admin.cluster_info().await.unwrap();
    assert!(
        info.partitions_of(&format!("share.{c}.civil_servant.v1"))
            .is_none()
    );
    assert!(
        info.partitions_of(&format!("share.{c}.person.v1"))
            .is_some()
    );

    // The unreadable record went to dlq.share, once.
    let mut dlq = TopicReader::new("dlq.share").await;
    let ours = |rs: &[lienthong_runtime::kafka::InboundRecord]| -> Vec<DeadLetter> {
        rs.iter()
            .filter_map(|r| r.payload.as_deref())
            .map(|p| DeadLetter::decode(p).unwrap())
            .filter(|l| l.topic == input)
            .collect()
    };
    dlq.read_until(Duration::from_secs(30), |rs| !ours(rs).is_empty())
        .await;
    let letters = ours(&dlq.records);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].error_kind, "decode");
    assert_eq!(letters[0].stage, "share");

    // Per partner: in = produced + filtered + dead-lettered.
    let log = stage.log();
    let bound = log
        .split("bound=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .to_string();
    let exposition = || async {
        reqwest::get(format!("http://{bound}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let partner_metric = |text: &str, p: &str, outcome: &str| {
        metric(
            text,
            &format!(
                "lienthong_share_partner_records_total{{partner=\"{p}\",entity=\"civil_servant\",outcome=\"{outcome}\"}}"
            ),
        )
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut text = exposition().await;
    while partner_metric(&text, &a, "produced") < 6 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = exposition().await;
    }
    assert_eq!(partner_metric(&text, &a, "produced"), 6, "{text}");
    assert_eq!(partner_metric(&text, &a, "dead_lettered"), 1);
    assert_eq!(partner_metric(&text, &a, "filtered"), 0);
    assert_eq!(partner_metric(&text, &c, "filtered"), 7);
    assert_eq!(partner_metric(&text, &c, "produced"), 0);

    // Policies change while the stage runs: a gains the salary coefficient and loses the rank,
    // d arrives, and b's file breaks (b keeps its previous policy).
    let a_fields_2 = [
        "record_id",
        "person.*",
        "organisation_id",
        "salary_coefficient",
        "resolution.status",
    ];
    write_policy(&policies, &a, &civil_servant_policy(&a, &a_fields_2));
    write_policy(&policies, &d, &civil_servant_policy(&d, &["record_id"]));
    stage.wait_for_log("partners=4", Duration::from_secs(30));
    write_policy(&policies, &b, "id = \"broken\nname = ");
    stage.wait_for_log("do not load", Duration::from_secs(30));
    for i in 5..7 {
        send(format!("csdl:id={i}"), Some(servant(i).encode_to_vec())).await;
    }
    let topic_d = format!("share.{d}.civil_servant.v1");
    wait_for_topic(&admin, &topic_d).await;
    read_until(&partner, &mut seen, Duration::from_secs(60), |rs| {
        count(rs, &topic_a) >= 8 && count(rs, &topic_b) >= 8
    })
    .await;
    let later: Vec<DynamicMessage> = seen
        .iter()
        .filter(|r| r.topic == topic_a)
        .skip(6)
        .map(decode)
        .collect();
    for m in &later {
        assert_eq!(text_at(m, "record.salary_coefficient.value"), "3.33");
        assert!(!has(m, "record.rank"), "no longer granted");
        assert!(!has(m, "record.person.ethnicity"));
    }
    for r in seen.iter().filter(|r| r.topic == topic_b).skip(6) {
        let m = decode(r);
        assert_eq!(
            text_at(&m, "record.person.ethnicity.display"),
            "Mường",
            "the broken file left b's previous policy in force"
        );
    }
    let newcomer = plain_consumer(&[topic_d.as_str()]);
    let mut d_seen = Vec::new();
    read_until(&newcomer, &mut d_seen, Duration::from_secs(30), |rs| {
        rs.len() >= 2
    })
    .await;
    for (r, i) in d_seen.iter().zip(5..) {
        let m = decode(r);
        assert_eq!(text_at(&m, "record.record_id"), format!("csdl:id={i}"));
        assert!(!has(&m, "record.person"));
    }

    // The audit topic: one event per partner record, the personal ID only as its SHA-256.
    let delivered = 8 + 8 + 2;
    let auditor = plain_consumer(&[audit_topic.as_str()]);
    let mut events = Vec::new();
    read_until(&auditor, &mut events, Duration::from_secs(30), |rs| {
        rs.len() >= delivered
    })
    .await;
    read_for(&auditor, &mut events, Duration::from_secs(2)).await;
    assert_eq!(events.len(), delivered, "one event per delivered record");
    let events: Vec<serde_json::Value> = events
        .iter()
        .map(|r| {
            let payload = r.payload.as_deref().unwrap();
            let text = String::from_utf8(payload.to_vec()).unwrap();
            for i in 0..7 {
                assert!(!text.contains(&personal_id(i)), "raw personal ID in {text}");
            }
            assert_eq!(r.headers["lienthong-content-type"], "application/json");
            serde_json::from_slice(payload).unwrap()
        })
        .collect();
    for e in &events {
        assert_eq!(e["method"], "share.civil_servant");
        assert_eq!(e["result"], "delivered");
        let p = e["partner"].as_str().unwrap();
        assert_eq!(e["purpose"], format!("statistics-{p}"));
        assert_eq!(e["topic"], format!("share.{p}.civil_servant.v1"));
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
    }
    let of = |p: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["partner"] == p).collect()
    };
    assert_eq!(of(&a).len(), 8);
    assert_eq!(of(&b).len(), 8);
    assert_eq!(of(&d).len(), 2);
    let a_events = of(&a);
    assert_eq!(a_events[0]["subject"], sha256_hex(&personal_id(0)));
    assert_eq!(
        a_events[0]["fields"],
        serde_json::json!([
            "organisation_id",
            "person.*",
            "rank",
            "record_id",
            "resolution.status"
        ])
    );
    assert!(
        a_events[5]["subject"].is_null(),
        "a tombstone is about no one"
    );
    assert_eq!(a_events[6]["subject"], sha256_hex(&personal_id(5)));
    assert!(
        a_events[6]["fields"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("salary_coefficient"))
    );

    let status = stage.terminate().unwrap();
    assert!(status.success(), "{}", stage.log());
}

/// With `[audit]` enabled the deliveries go to the hash-chained audit log, which alone feeds
/// the audit topic: one shape of event there, the stage's own JSON events not produced at all.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_audit_log_enabled_every_delivery_is_a_chained_event_with_a_keyed_subject() {
    const SUBJECT_KEY: &str = "share-e2e-subject-key-0123456789abcdef";
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = lienthong_tests::postgres::TestDatabase::create("lt_share_audit").await;
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let partner = format!("e{tag}");
    let fields = ["record_id", "person.name", "organisation_id"];
    write_policy(
        &policies,
        &partner,
        &civil_servant_policy(&partner, &fields),
    );

    let input = format!("resolved.civil_servant.{tag}.v1");
    let audit_topic = format!("audit.{tag}");
    let unused_share_topic = format!("share-audit.{tag}");
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    admin.ensure_topics(&[input.as_str()]).await.unwrap();
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    // Four civil servants and a tombstone.
    let delivered = 5;
    for i in 0..4 {
        let key = format!("csdl:id={i}");
        producer
            .send(OutboundRecord {
                topic: &input,
                key: Some(key.as_bytes()),
                payload: Some(&servant(i).encode_to_vec()),
                headers: RecordHeaders::with_idempotency_key(format!("in:{key}")),
            })
            .await
            .unwrap();
    }
    producer
        .send(OutboundRecord {
            topic: &input,
            key: Some(b"csdl:id=0"),
            payload: None,
            headers: RecordHeaders::with_idempotency_key("in:csdl:id=0:deleted".to_string()),
        })
        .await
        .unwrap();

    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
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
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[databases.audit]
url = "{url}"
[audit]
enabled = true
database = "audit"
subject_key = "{SUBJECT_KEY}"
topic = "{audit_topic}"
[policy]
dir = "{policies}"
[share]
group_id = "share-{tag}"
audit_topic = "{unused_share_topic}"
commit_interval_ms = 200
[share.inputs]
person = "resolved.person.{tag}.v1"
civil_servant = "{input}"
organisation = "canonical.organisation.{tag}.v1"
administrative_unit = "canonical.administrative_unit.{tag}.v1"
social_insurance = "canonical.social_insurance.{tag}.v1"
"#,
            broker = stack::broker(),
            url = db.url,
            policies = policies.display(),
        ),
    )
    .unwrap();
    let mut stage = Service::start(
        &["share", "--config", config.to_str().unwrap()],
        &dir.path().join("share.log"),
    );
    stage.wait_for_log("sharing inputs=", Duration::from_secs(120));
    let topic = format!("share.{partner}.civil_servant.v1");
    wait_for_topic(&admin, &topic).await;
    let consumer = plain_consumer(&[topic.as_str()]);
    let mut seen = Vec::new();
    read_until(&consumer, &mut seen, Duration::from_secs(60), |rs| {
        rs.len() >= delivered
    })
    .await;

    // The log holds one event per delivered record, in delivery order, once the stage has
    // recorded the batch (it does so before committing its offsets).
    let mut conn = db.connect().await;
    let rows = || async {
        sqlx::query_as::<
            _,
            (
                i64,
                String,
                String,
                Option<String>,
                Vec<String>,
                String,
                String,
                String,
            ),
        >(
            "SELECT seq, partner, method, subject_hash, fields, purpose, result, detail
             FROM lienthong_audit.events ORDER BY seq",
        )
        .fetch_all(&mut db.connect().await)
        .await
        .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut events = rows().await;
    while events.len() < delivered && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        events = rows().await;
    }
    assert_eq!(events.len(), delivered, "{events:?}\n{}", stage.log());
    let key = lienthong_audit::SubjectKey::new(SUBJECT_KEY);
    for (i, (seq, p, method, subject, fields, purpose, result, detail)) in events.iter().enumerate()
    {
        assert_eq!(*seq, i as i64 + 1);
        assert_eq!(p, &partner);
        assert_eq!(
            method, &topic,
            "deliveries are named by their partner topic"
        );
        assert_eq!(purpose, &format!("statistics-{partner}"));
        assert_eq!(result, "delivered");
        assert!(detail.starts_with("delivery "), "{detail}");
        if i < 4 {
            let subject = subject.as_deref().unwrap();
            assert_eq!(subject, key.hash(&personal_id(i)), "keyed hash of the ID");
            assert_ne!(subject, sha256_hex(&personal_id(i)), "not a plain hash");
            assert_eq!(fields, &["organisation_id", "person.name", "record_id"]);
        } else {
            assert!(subject.is_none(), "a tombstone is about no one");
            assert!(fields.is_empty());
        }
    }
    let details: std::collections::BTreeSet<&String> = events.iter().map(|e| &e.7).collect();
    assert_eq!(details.len(), delivered, "one delivery hash per record");
    let stored: String = sqlx::query_scalar(
        "SELECT string_agg(concat_ws('|', partner, method, subject_hash, detail, fields::text), ';')
         FROM lienthong_audit.events",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for i in 0..4 {
        assert!(!stored.contains(&personal_id(i)), "raw personal ID stored");
    }

    // The audit topic carries the log's records, and the stage's own JSON events are not made.
    let auditor = plain_consumer(&[audit_topic.as_str()]);
    let mut published = Vec::new();
    read_until(&auditor, &mut published, Duration::from_secs(30), |rs| {
        rs.len() >= delivered
    })
    .await;
    read_for(&auditor, &mut published, Duration::from_secs(2)).await;
    assert_eq!(published.len(), delivered);
    for (r, (seq, ..)) in published.iter().zip(&events) {
        let text = String::from_utf8(r.payload.clone().unwrap()).unwrap();
        for i in 0..4 {
            assert!(!text.contains(&personal_id(i)), "raw personal ID in {text}");
        }
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["seq"], *seq, "{text}");
        assert_eq!(value["method"], topic.as_str());
        assert!(value["hash"].is_string() && value["prev_hash"].is_string());
        assert!(value.get("idempotency_key").is_none(), "one shape only");
    }
    let info = admin.cluster_info().await.unwrap();
    assert!(
        info.partitions_of(&unused_share_topic).is_none(),
        "[share] audit_topic is unused while [audit] is enabled"
    );

    let status = stage.terminate().unwrap();
    assert!(status.success(), "{}", stage.log());
    let out = lienthong(
        &["audit", "verify", "--config", config.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("audit log intact: {delivered} event(s)")),
        "{stdout}"
    );
}

#[test]
fn policy_check_shows_what_a_partner_can_see() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    write_policy(
        &policies,
        "bo-noi-vu",
        &civil_servant_policy(
            "bo-noi-vu",
            &[
                "record_id",
                "person.*",
                "salary_coefficient",
                "resolution.status",
            ],
        ),
    );
    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!("[policy]\ndir = \"{}\"\n", policies.display()),
    )
    .unwrap();
    let check = |partner: &str| {
        lienthong(
            &[
                "policy",
                "check",
                "--config",
                config.to_str().unwrap(),
                "--partner",
                partner,
            ],
            &[],
        )
    };

    let out = check("bo-noi-vu");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("partner   bo-noi-vu (Partner bo-noi-vu)"),
        "{stdout}"
    );
    assert!(stdout.contains("person: denied"), "{stdout}");
    assert!(
        stdout.contains(
            "fields            person.*, record_id, resolution.status, salary_coefficient"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("masked sensitive  person.ethnicity (sensitive: ethnic origin), person.religion (sensitive: religion)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("granted sensitive salary_coefficient (sensitive: salary)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "partner topic     share.bo-noi-vu.civil_servant.v1 (purpose statistics-bo-noi-vu)"
        ),
        "{stdout}"
    );

    let out = check("bo-ngoai-giao");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("no policy for partner `bo-ngoai-giao`") && stderr.contains("bo-noi-vu"),
        "{stderr}"
    );

    // A typo in a field path: refused with the file and the path.
    write_policy(
        &policies,
        "bo-noi-vu",
        &civil_servant_policy("bo-noi-vu", &["record_id", "person.birth_day"]),
    );
    let out = check("bo-noi-vu");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains(&policies.join("bo-noi-vu.toml").display().to_string())
            && stderr.contains("`person.birth_day`"),
        "{stderr}"
    );
}
