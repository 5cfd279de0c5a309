//! The Kafka helpers against a real Kafka-protocol broker (the local stack's, or the one named
//! by LIENTHONG_TEST_BROKER). Every test uses its own topics and groups.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::BTreeMap;
use std::time::Duration;

use lienthong_proto::v1::DeadLetter;
use lienthong_runtime::config::Secret;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventConsumer, EventProducer, InboundRecord, KafkaConfig, OutboundRecord,
    RecordHeaders, Rejection, TopicAdmin, TopicOutcome, TopicOverride, TopicPolicy, TopicSettings,
};
use lienthong_runtime::metrics::{KafkaMetrics, Metrics};
use lienthong_runtime::telemetry::{self, LogFormat, TelemetryConfig};
use opentelemetry::trace::TraceContextExt;
use prost::Message;
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn broker() -> String {
    std::env::var("LIENTHONG_TEST_BROKER").unwrap_or_else(|_| "127.0.0.1:19092".to_string())
}

fn kafka_config() -> KafkaConfig {
    KafkaConfig {
        bootstrap_servers: broker(),
        client_id: "lienthong-test".into(),
        message_timeout_ms: 30_000,
        request_timeout_ms: 10_000,
        session_timeout_ms: 10_000,
        fetch_wait_max_ms: 100,
        properties: BTreeMap::new(),
        secret_properties: BTreeMap::<String, Secret<String>>::new(),
        topics: TopicPolicy {
            create: true,
            default: TopicSettings {
                partitions: 1,
                replication_factor: 1,
                config: BTreeMap::new(),
            },
            overrides: BTreeMap::from([(
                "multi.*".to_string(),
                TopicOverride {
                    partitions: Some(3),
                    ..Default::default()
                },
            )]),
        },
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}.{}", uuid::Uuid::new_v4().simple())
}

async fn create_topics(config: &KafkaConfig, names: &[&str]) {
    let admin = TopicAdmin::new(config).unwrap();
    admin.ensure_topics(names).await.unwrap_or_else(|e| {
        panic!("{e}\n(is the broker running? `make up` starts the local stack)")
    });
}

async fn recv(consumer: &EventConsumer) -> InboundRecord {
    tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("no record within 30 s")
        .unwrap()
}

fn init_tracing() {
    // The global tracer provider gives spans OpenTelemetry ids, as in a running service.
    let guard = telemetry::init(&TelemetryConfig {
        service_name: "lienthong-test".into(),
        log_format: LogFormat::Text,
        log_level: "warn".into(),
        otlp_endpoint: None,
        trace_sample_ratio: 1.0,
    })
    .unwrap();
    std::mem::forget(guard);
}

#[tokio::test]
async fn records_keep_key_payload_and_headers_and_join_the_trace() {
    init_tracing();
    let config = kafka_config();
    let topic = unique("test.headers");
    create_topics(&config, &[&topic]).await;
    let metrics = KafkaMetrics::register(&Metrics::new());
    let producer = EventProducer::new(&config, "test", metrics.clone()).unwrap();

    let span = tracing::info_span!("capture_change");
    let trace_id = span.context().span().span_context().trace_id();
    assert!(trace_id != opentelemetry::trace::TraceId::INVALID);
    let mut sent = Vec::new();
    {
        let _entered = span.enter();
        let mut pending = Vec::new();
        for i in 0..20 {
            let key = format!("can_bo:{i}").into_bytes();
            let payload = format!("Nguyễn Văn {i}").into_bytes();
            let mut headers = RecordHeaders::with_idempotency_key(format!("csdl:0/{i:X}:0"))
                .source_position(format!("lsn=0/{i:X}"))
                .schema_version("2")
                .protobuf("ChangeEvent");
            headers.other.push(("x-origin".into(), vec![0, 1, 2]));
            pending.push(
                producer
                    .enqueue(OutboundRecord {
                        topic: &topic,
                        key: Some(&key),
                        payload: Some(&payload),
                        headers: headers.clone(),
                    })
                    .await
                    .unwrap(),
            );
            sent.push((key, payload, headers));
        }
        // A tombstone: key, no payload.
        pending.push(
            producer
                .enqueue(OutboundRecord {
                    topic: &topic,
                    key: Some(b"can_bo:0"),
                    payload: None,
                    headers: RecordHeaders::with_idempotency_key("csdl:delete:0"),
                })
                .await
                .unwrap(),
        );
        let mut last = -1;
        for p in pending {
            let d = p.acknowledged().await.unwrap();
            assert!(d.offset > last, "acknowledged out of order");
            last = d.offset;
        }
    }
    assert_eq!(metrics.produced(&topic), 21);

    let consumer = EventConsumer::new(&config, &unique("group"), metrics).unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    for (i, (key, payload, headers)) in sent.iter().enumerate() {
        let r = recv(&consumer).await;
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.key.as_ref(), Some(key));
        assert_eq!(r.payload.as_ref(), Some(payload));
        assert_eq!(r.headers.idempotency_key, headers.idempotency_key);
        assert_eq!(r.headers.source_position, headers.source_position);
        assert_eq!(r.headers.schema_version.as_deref(), Some("2"));
        assert_eq!(
            r.headers.content_type.as_deref(),
            Some("application/x-protobuf; messageType=lienthong.v1.ChangeEvent")
        );
        assert_eq!(r.headers.other, headers.other);
        // The producer's span context travelled in `traceparent`.
        let remote = r.headers.trace_context();
        assert_eq!(remote.span().span_context().trace_id(), trace_id);
        let child = r.span("test");
        assert_eq!(child.context().span().span_context().trace_id(), trace_id);
    }
    let tombstone = recv(&consumer).await;
    assert_eq!(tombstone.key.as_deref(), Some(&b"can_bo:0"[..]));
    assert_eq!(tombstone.payload, None);
}

#[tokio::test]
async fn restarted_consumer_resumes_from_the_committed_offset() {
    let config = kafka_config();
    let topic = unique("test.resume");
    let group = unique("group");
    create_topics(&config, &[&topic]).await;
    let metrics = KafkaMetrics::default();
    let producer = EventProducer::new(&config, "test", metrics.clone()).unwrap();
    for i in 0..100u32 {
        producer
            .send(OutboundRecord {
                topic: &topic,
                key: Some(&i.to_be_bytes()),
                payload: Some(format!("record {i}").as_bytes()),
                headers: RecordHeaders::with_idempotency_key(format!("k{i}")),
            })
            .await
            .unwrap();
    }

    let mut seen = std::collections::BTreeSet::new();
    {
        let first = EventConsumer::new(&config, &group, metrics.clone()).unwrap();
        first.subscribe(&[&topic]).unwrap();
        for i in 0..50 {
            let r = recv(&first).await;
            assert_eq!(r.offset, i);
            seen.insert(r.payload.clone().unwrap());
            // Processed and committed up to offset 39; 40..49 read but never committed, as
            // when a stage crashes before its output was acknowledged.
            if i == 39 {
                first.commit(&r).await.unwrap();
            }
        }
        assert_eq!(first.committed(&topic, 1).await.unwrap(), vec![Some(40)]);
    }

    let second = EventConsumer::new(&config, &group, metrics).unwrap();
    second.subscribe(&[&topic]).unwrap();
    let resumed = recv(&second).await;
    assert_eq!(
        resumed.offset, 40,
        "must resume right after the committed offset"
    );
    seen.insert(resumed.payload.clone().unwrap());
    for expected in 41..100 {
        let r = recv(&second).await;
        assert_eq!(r.offset, expected);
        seen.insert(r.payload.clone().unwrap());
    }
    assert_eq!(seen.len(), 100, "every record delivered at least once");
}

#[tokio::test]
async fn rejected_records_reach_the_dead_letter_topic_with_reason_and_bytes() {
    let config = kafka_config();
    let input = unique("test.dlq-input");
    let stage = unique("stage");
    let dlq_topic = lienthong_runtime::kafka::dead_letter_topic(&stage);
    create_topics(&config, &[&input, &dlq_topic]).await;
    let metrics = KafkaMetrics::default();
    let producer = EventProducer::new(&config, "test", metrics.clone()).unwrap();
    let garbage = vec![0xff, 0xfe, 0x00, 0x42];
    producer
        .send(OutboundRecord {
            topic: &input,
            key: Some(b"row-7"),
            payload: Some(&garbage),
            headers: RecordHeaders::with_idempotency_key("src:7").source_position("lsn=0/7"),
        })
        .await
        .unwrap();

    let consumer = EventConsumer::new(&config, &unique("group"), metrics.clone()).unwrap();
    consumer.subscribe(&[&input]).unwrap();
    let record = recv(&consumer).await;
    let dlq = DeadLetterQueue::new(&stage, producer, metrics);
    dlq.reject(
        &record,
        &Rejection {
            kind: "decode".into(),
            reason: "not a ChangeEvent: invalid wire type".into(),
            attempts: 1,
        },
    )
    .await
    .unwrap();

    let reader = EventConsumer::new(&config, &unique("group"), KafkaMetrics::default()).unwrap();
    reader.subscribe(&[&dlq_topic]).unwrap();
    let letter_record = recv(&reader).await;
    assert_eq!(letter_record.key.as_deref(), Some(&b"row-7"[..]));
    assert_eq!(
        letter_record.headers.idempotency_key.as_deref(),
        Some("src:7")
    );
    let letter = DeadLetter::decode(letter_record.payload.unwrap().as_slice()).unwrap();
    assert_eq!(letter.stage, stage);
    assert_eq!(letter.error_kind, "decode");
    assert_eq!(letter.reason, "not a ChangeEvent: invalid wire type");
    assert_eq!(letter.topic, input);
    assert_eq!(letter.offset, 0);
    assert_eq!(letter.payload, garbage);
    assert!(
        letter
            .headers
            .iter()
            .any(|h| h.key == "lienthong-source-position" && h.value == b"lsn=0/7")
    );
}

#[tokio::test]
async fn topics_are_created_once_with_the_configured_partitions() {
    let config = kafka_config();
    let multi = unique("multi");
    let single = unique("single");
    let admin = TopicAdmin::new(&config).unwrap();
    let first = admin.ensure_topics(&[&multi, &single]).await.unwrap();
    assert!(
        first.iter().all(|(_, o)| *o == TopicOutcome::Created),
        "{first:?}"
    );
    let again = admin.ensure_topics(&[&multi, &single]).await.unwrap();
    assert!(
        again.iter().all(|(_, o)| *o == TopicOutcome::AlreadyExists),
        "{again:?}"
    );
    let info = admin.cluster_info().await.unwrap();
    assert_eq!(info.partitions_of(&multi), Some(3));
    assert_eq!(info.partitions_of(&single), Some(1));
}

#[tokio::test]
async fn missing_topic_is_an_error_when_creation_is_disabled() {
    let mut config = kafka_config();
    config.topics.create = false;
    let admin = TopicAdmin::new(&config).unwrap();
    let topic = unique("absent");
    let err = admin.ensure_topics(&[&topic]).await.unwrap_err();
    assert!(err.to_string().contains(&topic), "{err}");
    let info = admin.cluster_info().await.unwrap();
    assert_eq!(info.partitions_of(&topic), None, "nothing was created");
}

#[tokio::test]
async fn unreachable_broker_is_reported_with_its_address() {
    let mut config = kafka_config();
    config.bootstrap_servers = "127.0.0.1:1".into();
    config.request_timeout_ms = 1_000;
    let admin = TopicAdmin::new(&config).unwrap();
    let err = admin.cluster_info().await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

#[tokio::test]
async fn state_store_returns_the_last_value_per_key() {
    let config = kafka_config();
    let topic = unique("test.state");
    let producer = EventProducer::new(&config, "test", KafkaMetrics::default()).unwrap();
    let store = lienthong_runtime::kafka::StateStore::open(&config, &topic, producer)
        .await
        .unwrap();
    assert_eq!(store.load("csdl/snapshot").await.unwrap(), None);
    store.save("csdl/snapshot", b"table=1").await.unwrap();
    store.save("bhxh/snapshot", b"other").await.unwrap();
    store.save("csdl/snapshot", b"table=2").await.unwrap();
    assert_eq!(
        store.load("csdl/snapshot").await.unwrap().as_deref(),
        Some(&b"table=2"[..])
    );
    assert_eq!(
        store.load("bhxh/snapshot").await.unwrap().as_deref(),
        Some(&b"other"[..])
    );
    assert_eq!(store.load("absent").await.unwrap(), None);
    // Opening again (a restarted connector) sees the same state.
    let again = lienthong_runtime::kafka::StateStore::open(
        &config,
        &topic,
        EventProducer::new(&config, "test", KafkaMetrics::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        again.load("csdl/snapshot").await.unwrap().as_deref(),
        Some(&b"table=2"[..])
    );
}

#[tokio::test]
async fn end_offsets_count_the_records_of_each_partition() {
    let config = kafka_config();
    let topic = unique("test.offsets");
    create_topics(&config, &[&topic]).await;
    let producer = EventProducer::new(&config, "test", KafkaMetrics::default()).unwrap();
    for i in 0..25u32 {
        producer
            .send(OutboundRecord {
                topic: &topic,
                key: Some(&i.to_be_bytes()),
                payload: Some(b"x"),
                headers: RecordHeaders::default(),
            })
            .await
            .unwrap();
    }
    let admin = TopicAdmin::new(&config).unwrap();
    assert_eq!(admin.end_offsets(&topic, 1).await.unwrap(), vec![25]);
}
