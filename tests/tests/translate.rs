//! The translator as a real process against the broker: change events of the legacy system's
//! table in, canonical civil servants out, garbage and unmapped records in `dlq.translate`, and
//! the counts balance (records in = translated + dead-lettered). A mapping edited while the
//! stage runs is picked up without a restart.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use lienthong_proto::v1::{CivilServant, DeadLetter, Operation};
use lienthong_runtime::kafka::{EventProducer, OutboundRecord, RecordHeaders, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::process::Service;
use lienthong_tests::stack;
use lienthong_tests::topics::{TopicReader, kafka_config};
use lienthong_translate::CodeLists;
use lienthong_translate::mapping::Mapping;
use prost::Message as _;
use serde_json::json;

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// The shipped legacy mapping, moved to source id `source` and mapping version `version`.
fn write_mapping(dir: &Path, source: &str, version: &str) -> PathBuf {
    let text = std::fs::read_to_string(schemas().join("mappings/legacy-qlcb/hoso.toml")).unwrap();
    let text = text
        .replace(
            "id = \"legacy-qlcb.hoso\"",
            &format!("id = \"{source}.hoso\""),
        )
        .replace("version = \"1.0.0\"", &format!("version = \"{version}\""))
        .replace("id = \"legacy-qlcb\"", &format!("id = \"{source}\""));
    assert!(text.contains(source), "the shipped mapping changed shape");
    let path = dir.join("hoso.toml");
    // Written beside, then renamed: the stage never reads half a file.
    let tmp = dir.join("hoso.toml.part");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    path
}

fn row(id: i64) -> serde_json::Value {
    json!({
        "MACB": id,
        "HOTEN": "TrÇn ThÞ Thu Hµ",
        "NGAYSINH": "00/00/1968",
        "PHAI": "N÷",
        "SOCMND": "012345678",
        "NOISINH": "Th¸i B×nh",
        "QUEQUAN": "Thõa Thiªn HuÕ",
        "DANTOC": "Kinh",
        "DONVI": "Së Néi vô",
        "HESOLUONG": "4,98",
        "NGAYVAOCQ": "1/9/1990",
        "TINHTRANG": "L",
        "NGAYSUA": {"datetime": "2024-05-02 10:00:00"},
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn change_events_become_canonical_records_and_garbage_is_dead_lettered() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let source = format!("t{tag}");
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    std::fs::create_dir_all(&mappings).unwrap();
    let mapping_file = write_mapping(&mappings, &source, "1.0.0");
    let code_lists = CodeLists::load_dir(schemas().join("codelists")).unwrap();
    let mapping = Mapping::load(&mapping_file, &code_lists).unwrap();

    // The input: 40 inserts, 5 deletes, 3 records that are not change events, 2 change events
    // of a table no mapping covers.
    let input = format!("cdc.{source}.qlcb.HOSO");
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    admin.ensure_topics(&[input.as_str()]).await.unwrap();
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    let mut sent = 0usize;
    let mut publish = |key: String, payload: Vec<u8>| {
        sent += 1;
        let producer = producer.clone();
        let input = input.clone();
        async move {
            producer
                .send(OutboundRecord {
                    topic: &input,
                    key: Some(key.as_bytes()),
                    payload: Some(&payload),
                    headers: RecordHeaders::with_idempotency_key(format!(
                        "in:{key}:{}",
                        payload.len()
                    )),
                })
                .await
                .unwrap();
        }
    };
    let now = SystemTime::now();
    for i in 0..40i64 {
        let event = lienthong_translate::sample::change_event(
            &mapping,
            Operation::Insert,
            lienthong_translate::sample::row_from_json(&row(1000 + i)).unwrap(),
            &["MACB"],
            now,
            i as u64 + 1,
        );
        publish(format!("MACB={}", 1000 + i), event.encode_to_vec()).await;
    }
    for i in 0..5i64 {
        let event = lienthong_translate::sample::change_event(
            &mapping,
            Operation::Delete,
            lienthong_translate::sample::row_from_json(&json!({"MACB": 1000 + i})).unwrap(),
            &["MACB"],
            now,
            100 + i as u64,
        );
        publish(format!("MACB={}", 1000 + i), event.encode_to_vec()).await;
    }
    for garbage in [
        &b"\xff\xfe not protobuf"[..],
        b"\x0a\xff\xff\xff",
        b"{\"json\": 1}",
    ] {
        publish("garbage".to_string(), garbage.to_vec()).await;
    }
    for i in 0..2i64 {
        let mut event = lienthong_translate::sample::change_event(
            &mapping,
            Operation::Insert,
            lienthong_translate::sample::row_from_json(&row(5000 + i)).unwrap(),
            &["MACB"],
            now,
            200 + i as u64,
        );
        event.table = "NOT_MAPPED".to_string();
        publish(format!("MACB={}", 5000 + i), event.encode_to_vec()).await;
    }
    assert_eq!(sent, 50);

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
[translate]
mappings = "{mappings}"
codelists = "{codelists}"
group_id = "translate-{tag}"
reload_interval_ms = 300
commit_interval_ms = 200
"#,
            broker = stack::broker(),
            mappings = mappings.display(),
            codelists = schemas().join("codelists").display(),
        ),
    )
    .unwrap();
    let mut stage = Service::start(
        &["translate", "--config", config.to_str().unwrap()],
        &dir.path().join("translate.log"),
    );

    // Out: 40 upserts + 5 deletes each followed by a tombstone, all of this source.
    let ours = |r: &lienthong_runtime::kafka::InboundRecord| {
        r.key
            .as_deref()
            .is_some_and(|k| String::from_utf8_lossy(k).starts_with(&format!("{source}:")))
    };
    let mut canonical = TopicReader::new("canonical.civil_servant.v1").await;
    canonical
        .read_until(Duration::from_secs(60), |rs| {
            rs.iter().filter(|r| ours(r)).count() >= 50
        })
        .await;
    let out: Vec<_> = canonical
        .records
        .iter()
        .filter(|r| ours(r))
        .cloned()
        .collect();
    let tombstones = out.iter().filter(|r| r.payload.is_none()).count();
    assert_eq!(tombstones, 5);
    let servants: Vec<CivilServant> = out
        .iter()
        .filter_map(|r| r.payload.as_deref())
        .map(|p| CivilServant::decode(p).unwrap())
        .collect();
    assert_eq!(servants.len(), 45);
    let first = servants
        .iter()
        .find(|s| s.record_id.ends_with("MACB=1005"))
        .unwrap_or_else(|| panic!("{:?}", servants.first()));
    let person = first.person.as_ref().unwrap();
    assert_eq!(
        person.name.as_ref().unwrap().full,
        "Trần Thị Thu Hà",
        "{person:?}"
    );
    let provenance = first.provenance.as_ref().unwrap();
    assert_eq!(provenance.mapping_version, "1.0.0");
    assert!(first.quality.is_some());
    // Headers: the idempotency key is the provenance's, stable across redelivery.
    assert!(out.iter().all(|r| r.headers.idempotency_key.is_some()));

    // Dead letters: the 3 garbage records and the 2 unmapped ones, with reason and position.
    let mut dlq = TopicReader::new("dlq.translate").await;
    let letters = |rs: &[lienthong_runtime::kafka::InboundRecord]| -> Vec<DeadLetter> {
        rs.iter()
            .filter_map(|r| r.payload.as_deref())
            .map(|p| DeadLetter::decode(p).unwrap())
            .filter(|l| l.topic == format!("cdc.{source}.qlcb.HOSO"))
            .collect()
    };
    dlq.read_until(Duration::from_secs(30), |rs| letters(rs).len() >= 5)
        .await;
    let letters = letters(&dlq.records);
    assert_eq!(letters.len(), 5);
    assert_eq!(
        letters.iter().filter(|l| l.error_kind == "decode").count(),
        3
    );
    assert_eq!(
        letters
            .iter()
            .filter(|l| l.error_kind == "mapping.no_mapping" && l.reason.contains("NOT_MAPPED"))
            .count(),
        2
    );
    assert!(
        letters
            .iter()
            .all(|l| l.stage == "translate" && l.offset >= 0)
    );
    // In = translated + dead-lettered.
    assert_eq!(sent, (servants.len()) + letters.len());

    // A new mapping version is picked up without a restart.
    write_mapping(&mappings, &source, "1.1.0");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let event = lienthong_translate::sample::change_event(
        &mapping,
        Operation::Insert,
        lienthong_translate::sample::row_from_json(&row(9000)).unwrap(),
        &["MACB"],
        now,
        900,
    );
    producer
        .send(OutboundRecord {
            topic: &input,
            key: Some(b"MACB=9000"),
            payload: Some(&event.encode_to_vec()),
            headers: RecordHeaders::with_idempotency_key("in:9000"),
        })
        .await
        .unwrap();
    canonical
        .read_until(Duration::from_secs(30), |rs| {
            rs.iter().any(|r| {
                ours(r)
                    && r.payload.as_deref().is_some_and(|p| {
                        let s = CivilServant::decode(p).unwrap();
                        s.record_id.ends_with("MACB=9000")
                            && s.provenance.unwrap().mapping_version == "1.1.0"
                    })
            })
        })
        .await;
    assert!(
        stage.log().contains("mappings and code lists reloaded"),
        "{}",
        stage.log()
    );
    stage.terminate();
}
