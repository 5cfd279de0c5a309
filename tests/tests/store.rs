//! The store stage as a real process, against the broker and PostgreSQL: resolved and canonical
//! records in, one row per version out (deletes as deleted versions, re-issued personal IDs in
//! their table), unreadable records in `dlq.store`, the counts balancing; then killed, and the
//! topics replayed from the beginning with a new consumer group: every row stays byte for byte
//! as it was.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lienthong_proto::v1::{
    AdministrativeUnit, CivilServant, Date, DeadLetter, MatchStatus, Operation, Organisation,
    Person, PersonName, PopulationChangeKind, PopulationRecord, Provenance, ResolutionResult,
    ResolvedCivilServant, ResolvedPerson, SocialInsuranceRecord,
};
use lienthong_runtime::kafka::{
    EventProducer, OutboundRecord, RecordHeaders, TopicAdmin, TopicSettings,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::process::Service;
use lienthong_tests::stack;
use lienthong_tests::topics::{TopicReader, kafka_config};
use prost::Message as _;
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection};

/// The source commit time of version `n` of a record, in seconds since the epoch.
fn commit(n: i64) -> i64 {
    1_750_000_000 + n * 60
}

fn provenance(key: &str, n: i64, operation: Operation) -> Provenance {
    let mut provenance = Provenance {
        source_id: "qlcb".into(),
        idempotency_key: key.into(),
        source_operation: operation as i32,
        ..Provenance::default()
    };
    provenance
        .source_commit_time
        .get_or_insert_with(Default::default)
        .seconds = commit(n);
    provenance
        .translated_at
        .get_or_insert_with(Default::default)
        .seconds = 1_760_000_000;
    provenance
}

fn person(record_id: &str, name: &str, personal_id: &str) -> Person {
    Person {
        record_id: record_id.into(),
        personal_id: personal_id.into(),
        name: Some(PersonName {
            full: name.into(),
            ..PersonName::default()
        }),
        birth_date: Some(Date {
            year: 1985,
            month: 3,
            day: 14,
        }),
        ..Person::default()
    }
}

fn matched(personal_id: &str) -> Option<ResolutionResult> {
    Some(ResolutionResult {
        status: MatchStatus::Matched as i32,
        personal_id: personal_id.into(),
        ..ResolutionResult::default()
    })
}

/// A record to produce: topic, key, value (`None`: a tombstone), idempotency-key header.
struct Input {
    topic: String,
    key: String,
    value: Option<Vec<u8>>,
    header_key: String,
}

fn config(dir: &Path, tag: &str, db_url: &str, topics: &Topics, group: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{group}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"
[telemetry]
log_level = "info,rdkafka=warn"
log_format = "text"
[health]
enabled = true
listen = "127.0.0.1:0"
[kafka]
bootstrap_servers = "{broker}"
[retry]
initial_delay_ms = 200
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[databases.store]
url = "{db_url}"
[store]
database = "store"
group_id = "{group}"
population_topic = "{population}"
batch_size = 16
batch_linger_ms = 50
lag_interval_ms = 200
[store.topics]
person = "{person}"
civil_servant = "{civil_servant}"
organisation = "{organisation}"
administrative_unit = "{unit}"
social_insurance = "{insurance}"
"#,
            broker = stack::broker(),
            population = topics.population,
            person = topics.person,
            civil_servant = topics.civil_servant,
            organisation = topics.organisation,
            unit = topics.unit,
            insurance = topics.insurance,
        ),
    )
    .unwrap();
    path
}

struct Topics {
    person: String,
    civil_servant: String,
    organisation: String,
    unit: String,
    insurance: String,
    population: String,
}

impl Topics {
    fn all(&self) -> [&str; 6] {
        [
            &self.person,
            &self.civil_servant,
            &self.organisation,
            &self.unit,
            &self.insurance,
            &self.population,
        ]
    }
}

/// Every row of the store, as text, in a fixed order.
async fn dump(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT v::text FROM lienthong_store.versions v ORDER BY entity, record_id, version_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let links: Vec<String> =
        sqlx::query_scalar("SELECT s::text FROM lienthong_store.superseded_ids s ORDER BY old_id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    rows.extend(links);
    rows
}

/// Waits until the store holds `versions` versions and `links` superseded IDs.
async fn wait_for_rows(url: &str, versions: i64, links: i64, service: &Service) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut conn) = PgConnection::connect(url).await {
            let counted: Result<(i64, i64), _> = sqlx::query_as(
                "SELECT (SELECT count(*) FROM lienthong_store.versions),
                        (SELECT count(*) FROM lienthong_store.superseded_ids)",
            )
            .fetch_one(&mut conn)
            .await;
            if let Ok((v, l)) = counted {
                assert!(v <= versions && l <= links, "too many rows: {v} {l}");
                if (v, l) == (versions, links) {
                    return;
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the store did not fill up:\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `/metrics` text of a service, whose health address its log names.
async fn exposition(service: &Service) -> String {
    let log = service.log();
    let bound = log
        .split("bound=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no health address logged:\n{log}"))
        .to_string();
    reqwest::get(format!("http://{bound}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `lienthong_store_records_total` by (entity, outcome).
fn record_counts(text: &str) -> BTreeMap<(String, String), u64> {
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("lienthong_store_records_total{") else {
            continue;
        };
        let (labels, value) = rest.split_once("} ").unwrap();
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
                .unwrap()
                .trim_end_matches('"')
                .to_string()
        };
        counts.insert(
            (label("entity"), label("outcome")),
            value.trim().parse().unwrap(),
        );
    }
    counts
}

/// Polls `/metrics` until the stage has accounted for `total` records.
async fn wait_for_counts(service: &Service, total: u64) -> BTreeMap<(String, String), u64> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counts = record_counts(&exposition(service).await);
        if counts.values().sum::<u64>() >= total {
            return counts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{counts:?}\n{}",
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_keeps_every_version_and_a_replay_changes_no_row() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let dir = tempfile::tempdir().unwrap();
    let topics = Topics {
        person: format!("resolved.person.{tag}.v1"),
        civil_servant: format!("resolved.civil_servant.{tag}.v1"),
        organisation: format!("canonical.organisation.{tag}.v1"),
        unit: format!("canonical.administrative_unit.{tag}.v1"),
        insurance: format!("canonical.social_insurance.{tag}.v1"),
        population: format!("population.{tag}.v1"),
    };
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    for topic in topics.all() {
        admin
            .ensure_topic_with(
                topic,
                &TopicSettings {
                    partitions: 3,
                    replication_factor: 1,
                    config: Default::default(),
                },
            )
            .await
            .unwrap();
    }
    let db = TestDatabase::create("lt_store_e2e").await;

    // 40 civil servants, second versions of 10, one deleted (its DELETE record and tombstone),
    // two values that are no civil servant; 5 persons; an organisation, a unit and a
    // social-insurance record; a re-issued personal ID and a register value that is garbage.
    let mut inputs = Vec::new();
    let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"];
    for i in 0..40 {
        let id = format!("cs:{i:03}");
        let pid = format!("0010850{i:05}");
        let servant = ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: id.clone(),
                person: Some(person(&id, &format!("{} Văn Số {i}", family[i % 5]), &pid)),
                organisation_id: format!("org:{}", i % 4),
                provenance: Some(provenance(&format!("qlcb:{i}"), 1, Operation::Insert)),
                ..CivilServant::default()
            }),
            resolution: matched(&pid),
        };
        inputs.push(Input {
            topic: topics.civil_servant.clone(),
            key: id,
            value: Some(servant.encode_to_vec()),
            header_key: format!("qlcb:{i}"),
        });
    }
    for i in 0..10 {
        let id = format!("cs:{i:03}");
        let pid = format!("0010850{i:05}");
        let servant = ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: id.clone(),
                person: Some(person(&id, &format!("{} Văn Số {i}", family[i % 5]), &pid)),
                organisation_id: "org:moved".into(),
                provenance: Some(provenance(&format!("qlcb:{i}:v2"), 2, Operation::Update)),
                ..CivilServant::default()
            }),
            resolution: matched(&pid),
        };
        inputs.push(Input {
            topic: topics.civil_servant.clone(),
            key: id,
            value: Some(servant.encode_to_vec()),
            header_key: format!("qlcb:{i}:v2"),
        });
    }
    let deleted = ResolvedCivilServant {
        record: Some(CivilServant {
            record_id: "cs:039".into(),
            provenance: Some(provenance("qlcb:39:del", 3, Operation::Delete)),
            ..CivilServant::default()
        }),
        resolution: None,
    };
    inputs.push(Input {
        topic: topics.civil_servant.clone(),
        key: "cs:039".into(),
        value: Some(deleted.encode_to_vec()),
        header_key: "qlcb:39:del".into(),
    });
    inputs.push(Input {
        topic: topics.civil_servant.clone(),
        key: "cs:039".into(),
        value: None,
        header_key: "qlcb:39:del:tombstone".into(),
    });
    for (i, garbage) in [
        b"\x0a\xff\xff\xff".to_vec(),
        b"\xff\xfe not protobuf".to_vec(),
    ]
    .into_iter()
    .enumerate()
    {
        inputs.push(Input {
            topic: topics.civil_servant.clone(),
            key: format!("garbage:{i}"),
            value: Some(garbage),
            header_key: format!("garbage:{i}"),
        });
    }
    for i in 0..5 {
        let id = format!("dancu:{i}");
        let pid = format!("0790900{i:05}");
        let resolved = ResolvedPerson {
            record: Some(Person {
                provenance: Some(provenance(&format!("dancu:{i}"), 1, Operation::Read)),
                ..person(&id, &format!("Đặng Thị Thu {i}"), &pid)
            }),
            resolution: matched(&pid),
        };
        inputs.push(Input {
            topic: topics.person.clone(),
            key: id,
            value: Some(resolved.encode_to_vec()),
            header_key: format!("dancu:{i}"),
        });
    }
    inputs.push(Input {
        topic: topics.organisation.clone(),
        key: "org:0".into(),
        value: Some(
            Organisation {
                record_id: "org:0".into(),
                code: "H01.18".into(),
                name: "Sở Nội vụ".into(),
                provenance: Some(provenance("org:0", 1, Operation::Insert)),
                ..Organisation::default()
            }
            .encode_to_vec(),
        ),
        header_key: "org:0".into(),
    });
    inputs.push(Input {
        topic: topics.unit.clone(),
        key: "dvhc:01".into(),
        value: Some(
            AdministrativeUnit {
                code_system: "vn.province.2025".into(),
                code: "01".into(),
                name: "Thành phố Hà Nội".into(),
                provenance: Some(provenance("dvhc:01", 1, Operation::Insert)),
                ..AdministrativeUnit::default()
            }
            .encode_to_vec(),
        ),
        header_key: "dvhc:01".into(),
    });
    inputs.push(Input {
        topic: topics.insurance.clone(),
        key: "bhxh:1".into(),
        value: Some(
            SocialInsuranceRecord {
                record_id: "bhxh:1".into(),
                insurance_number: "0123456789".into(),
                person: Some(person("bhxh:1", "Đặng Thị Thu 0", "079090000000")),
                provenance: Some(provenance("bhxh:1", 1, Operation::Insert)),
                ..SocialInsuranceRecord::default()
            }
            .encode_to_vec(),
        ),
        header_key: "bhxh:1".into(),
    });
    let reissue = PopulationRecord {
        personal_id: "001085000999".into(),
        superseded_ids: vec!["001085000001".into()],
        change: PopulationChangeKind::Reissued as i32,
        ..PopulationRecord::default()
    };
    inputs.push(Input {
        topic: topics.population.clone(),
        key: reissue.personal_id.clone(),
        value: Some(reissue.encode_to_vec()),
        header_key: "pop:1".into(),
    });
    inputs.push(Input {
        topic: topics.population.clone(),
        key: "garbage".into(),
        value: Some(b"\xff\xff\xff".to_vec()),
        header_key: "pop:garbage".into(),
    });
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    for input in &inputs {
        producer
            .send(OutboundRecord {
                topic: &input.topic,
                key: Some(input.key.as_bytes()),
                payload: input.value.as_deref(),
                headers: RecordHeaders::with_idempotency_key(input.header_key.clone())
                    .source_position(format!("pos:{}", input.header_key)),
            })
            .await
            .unwrap();
    }
    let total = inputs.len() as u64;
    assert_eq!(total, 64);

    // The stage stores them.
    let first_config = config(dir.path(), &tag, &db.url, &topics, &format!("store-{tag}"));
    let mut service = Service::start(
        &["store", "--config", first_config.to_str().unwrap()],
        &dir.path().join("store.log"),
    );
    service.wait_for_log("bound=", Duration::from_secs(60));
    // 40 + 10 + 2 (delete, tombstone) civil servant versions, 5 + 1 + 1 + 1 others; one link.
    wait_for_rows(&db.url, 60, 1, &service).await;
    let counts = wait_for_counts(&service, total).await;
    let count = |entity: &str, outcome: &str| {
        counts
            .get(&(entity.to_string(), outcome.to_string()))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count("civil_servant", "stored"), 52, "{counts:?}");
    assert_eq!(count("civil_servant", "dead_lettered"), 2, "{counts:?}");
    assert_eq!(count("person", "stored"), 5);
    assert_eq!(count("organisation", "stored"), 1);
    assert_eq!(count("administrative_unit", "stored"), 1);
    assert_eq!(count("social_insurance", "stored"), 1);
    assert_eq!(count("population", "stored"), 1);
    assert_eq!(count("population", "dead_lettered"), 1);
    assert_eq!(
        counts.values().sum::<u64>(),
        total,
        "in = stored + dead-lettered"
    );

    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let current: Vec<(String, i64)> = sqlx::query_as(
        "SELECT entity, count(*) FROM lienthong_store.versions
         WHERE valid_to IS NULL AND NOT deleted GROUP BY entity ORDER BY entity",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        current,
        [
            ("administrative_unit".to_string(), 1),
            ("civil_servant".to_string(), 39),
            ("organisation".to_string(), 1),
            ("person".to_string(), 5),
            ("social_insurance".to_string(), 1),
        ]
    );
    // A civil servant's two versions: the first closed when the second began.
    type Row = (
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        bool,
        Option<String>,
        Option<String>,
        Vec<u8>,
    );
    let versions: Vec<Row> = sqlx::query_as(
        "SELECT name_folded, personal_id, organisation_id, valid_from, valid_to, deleted,
                source_position, kafka_topic, body
         FROM lienthong_store.versions WHERE entity = 'civil_servant' AND record_id = 'cs:003'
         ORDER BY valid_from",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(versions.len(), 2);
    let (name, pid, org, from, to, deleted, position, topic, body) = &versions[0];
    assert_eq!(name, "pham van so 3");
    assert_eq!(pid.as_deref(), Some("001085000003"));
    assert_eq!(org.as_deref(), Some("org:3"));
    assert_eq!(from.timestamp(), commit(1));
    assert_eq!(to.unwrap().timestamp(), commit(2));
    assert!(!deleted);
    assert_eq!(position.as_deref(), Some("pos:qlcb:3"));
    assert_eq!(topic.as_deref(), Some(topics.civil_servant.as_str()));
    assert_eq!(
        ResolvedCivilServant::decode(body.as_slice())
            .unwrap()
            .record
            .unwrap()
            .record_id,
        "cs:003"
    );
    assert_eq!(versions[1].2.as_deref(), Some("org:moved"));
    assert_eq!(versions[1].4, None);
    // The deleted one: its live version, the DELETE record's, the tombstone's.
    let deletion: Vec<(bool, bool)> = sqlx::query_as(
        "SELECT deleted, body IS NULL FROM lienthong_store.versions
         WHERE entity = 'civil_servant' AND record_id = 'cs:039' ORDER BY version_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(deletion, [(false, false), (true, false), (true, true)]);
    let link: (String, String) =
        sqlx::query_as("SELECT old_id, current_id FROM lienthong_store.superseded_ids")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(link, ("001085000001".into(), "001085000999".into()));

    // The three unreadable records are in dlq.store with their reasons.
    let mut dlq = TopicReader::new("dlq.store").await;
    let ours = |records: &[lienthong_runtime::kafka::InboundRecord]| -> Vec<DeadLetter> {
        records
            .iter()
            .filter_map(|r| r.payload.as_deref())
            .filter_map(|p| DeadLetter::decode(p).ok())
            .filter(|l| topics.all().contains(&l.topic.as_str()))
            .collect()
    };
    dlq.read_until(Duration::from_secs(30), |rs| ours(rs).len() >= 3)
        .await;
    let letters = ours(&dlq.records);
    assert_eq!(letters.len(), 3, "{letters:?}");
    assert!(letters.iter().all(|l| l.stage == "store"
        && l.error_kind == "decode"
        && !l.reason.is_empty()
        && !l.payload.is_empty()));

    // Lag: every partition read to its end.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = exposition(&service).await;
        let lags: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("lienthong_store_consumer_lag{"))
            .collect();
        if lags.len() == 18 && lags.iter().all(|l| l.ends_with(" 0")) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{lags:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Killed, then every topic replayed from the beginning by a new consumer group: every
    // record is a duplicate (or dead-lettered again), and no row changes.
    let before = dump(&db.url).await;
    assert_eq!(before.len(), 61);
    service.kill9();
    let replay_config = config(
        dir.path(),
        &tag,
        &db.url,
        &topics,
        &format!("store-{tag}-replay"),
    );
    let replay = Service::start(
        &["store", "--config", replay_config.to_str().unwrap()],
        &dir.path().join("replay.log"),
    );
    replay.wait_for_log("bound=", Duration::from_secs(60));
    let counts = wait_for_counts(&replay, total).await;
    let stored: u64 = counts
        .iter()
        .filter(|((_, outcome), _)| outcome == "stored")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(stored, 0, "{counts:?}");
    assert_eq!(
        counts
            .get(&("civil_servant".to_string(), "duplicate".to_string()))
            .copied(),
        Some(52)
    );
    assert_eq!(
        counts
            .get(&("population".to_string(), "duplicate".to_string()))
            .copied(),
        Some(1)
    );
    assert_eq!(dump(&db.url).await, before, "the replay changed the store");
    drop(replay);
    drop(conn);
    db.drop_with_slot("lt_store_e2e_no_slot").await;
}
