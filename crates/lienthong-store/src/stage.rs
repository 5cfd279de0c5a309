//! The store stage (`lienthong store`): the resolved and canonical entity topics and the
//! population register's topic in, rows of the store out.
//!
//! Records are written in batches, one database transaction per batch, and a batch's offsets
//! are committed only after its transaction committed (and its dead letters were
//! acknowledged): after a crash the batch is read again, and the idempotent write path makes
//! the second application change nothing. For every record exactly one of: stored, a duplicate
//! (its idempotency key was stored already), ignored (a register change superseding no
//! number), or dead-lettered to `dlq.store` (a value that is not its topic's message, or a
//! record without identity). `lienthong_store_records_total{entity, outcome}` lets an operator
//! check that records in = stored + duplicate + ignored + dead-lettered;
//! `lienthong_store_consumer_lag{topic, partition}` is the end offset minus the group's
//! committed offset.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lienthong_proto::v1::PopulationRecord;
use lienthong_runtime::config::Secret;
use lienthong_runtime::error::{Classify, ErrorClass};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    AdminError, DeadLetterQueue, EventConsumer, EventProducer, InboundRecord, KafkaConfig,
    KafkaError, ProduceError, Rejection, TopicAdmin,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::stage::{NeedsOperator, supervise};
use lienthong_runtime::{Metrics, Shutdown};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prost::Message as _;
use tokio::sync::OnceCell;

use crate::config::StoreConfig;
use crate::entity::Entity;
use crate::error::StoreError;
use crate::store::Store;
use crate::version::{Applied, Change, KafkaOrigin, NewVersion, RecordContext, Supersession};

/// The stage name in dead-letter topics, metrics and readiness.
pub const STAGE: &str = "store";

/// The metric label of records of the register topic.
const POPULATION: &str = "population";

/// What a topic the stage reads holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicContent {
    Entity(Entity),
    /// `lienthong.v1.PopulationRecord`s.
    Population,
}

impl TopicContent {
    /// The `entity` metric label.
    pub fn label(self) -> &'static str {
        match self {
            TopicContent::Entity(e) => e.name(),
            TopicContent::Population => POPULATION,
        }
    }
}

/// The topics of a configuration and what each holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMap {
    topics: Vec<(String, TopicContent)>,
}

impl TopicMap {
    pub fn new(config: &StoreConfig) -> Self {
        let mut topics: Vec<(String, TopicContent)> = config
            .topics
            .read()
            .into_iter()
            .map(|(entity, topic)| (topic.to_string(), TopicContent::Entity(entity)))
            .collect();
        if !config.population_topic.is_empty() {
            topics.push((config.population_topic.clone(), TopicContent::Population));
        }
        Self { topics }
    }

    pub fn content(&self, topic: &str) -> Option<TopicContent> {
        self.topics
            .iter()
            .find(|(t, _)| t == topic)
            .map(|(_, c)| *c)
    }

    pub fn names(&self) -> Vec<&str> {
        self.topics.iter().map(|(t, _)| t.as_str()).collect()
    }
}

/// What one consumed record becomes. Pure apart from `received_at`, the validity start of
/// records without a commit time.
///
/// Identity falls back from the value to the record: the key when the value has no record id,
/// the `lienthong-idempotency-key` header when the value has no provenance key, and the
/// record's position when neither exists (a position is stable when a topic is replayed).
pub fn decode_record(
    topics: &TopicMap,
    record: &InboundRecord,
    received_at: DateTime<Utc>,
) -> Result<Change, Rejection> {
    let reject = |kind: &str, reason: String| Rejection {
        kind: kind.to_string(),
        reason,
        attempts: 1,
    };
    let Some(content) = topics.content(&record.topic) else {
        return Err(reject(
            "topic",
            format!("{} is not a topic the store reads", record.topic),
        ));
    };
    let origin = KafkaOrigin {
        topic: record.topic.clone(),
        partition: record.partition,
        offset: record.offset,
    };
    let entity = match content {
        TopicContent::Population => {
            let Some(payload) = record.payload.as_deref() else {
                // The register never deletes a person (death is a flag): nothing to undo.
                return Ok(Change::Register(Vec::new()));
            };
            let population = PopulationRecord::decode(payload).map_err(|e| {
                reject(
                    "decode",
                    format!("not a lienthong.v1.PopulationRecord: {e}"),
                )
            })?;
            return Supersession::from_population(&population, Some(&origin))
                .map(Change::Register)
                .map_err(|e| reject(e.kind(), e.to_string()));
        }
        TopicContent::Entity(entity) => entity,
    };
    // Keys are record ids, text; a key that is not is no identity (and is needed only when
    // the value has none).
    let key = record
        .key
        .as_deref()
        .and_then(|k| std::str::from_utf8(k).ok())
        .map(str::to_string);
    let context = RecordContext {
        idempotency_key: Some(
            record
                .headers
                .idempotency_key
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| record.position()),
        ),
        source_position: record.headers.source_position.clone(),
        origin: Some(origin),
        key,
    };
    let version = match &record.payload {
        Some(payload) => NewVersion::from_record(entity, payload.clone(), &context, received_at),
        None => NewVersion::tombstone(
            entity,
            context.key.as_deref().unwrap_or_default(),
            &context,
            received_at,
        ),
    };
    version
        .map(Change::Version)
        .map_err(|e| reject(e.kind(), e.to_string()))
}

/// The next offset to read of each partition in `batch`: what to commit once it is stored.
pub fn next_offsets(batch: &[InboundRecord]) -> Vec<(String, i32, i64)> {
    let mut next: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for record in batch {
        let slot = next
            .entry((record.topic.as_str(), record.partition))
            .or_insert(0);
        *slot = (*slot).max(record.offset + 1);
    }
    next.into_iter()
        .map(|((topic, partition), offset)| (topic.to_string(), partition, offset))
        .collect()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordLabels {
    entity: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: i32,
}

/// The stage's metric families.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    records: Family<RecordLabels, Counter>,
    lag: Family<PartitionLabels, Gauge>,
    batch_seconds: Histogram,
}

impl StoreMetrics {
    /// Creates the families and registers them on `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self {
            records: Family::default(),
            lag: Family::default(),
            batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        };
        metrics.register(
            "store_records",
            "Records the store stage read, by entity (or population) and outcome: stored, duplicate, ignored, dead_lettered",
            m.records.clone(),
        );
        metrics.register(
            "store_consumer_lag",
            "Records not yet stored: the partition's end offset minus the group's committed offset",
            m.lag.clone(),
        );
        metrics.register(
            "store_batch_seconds",
            "Time to write one batch: transaction, dead letters and offset commit",
            m.batch_seconds.clone(),
        );
        m
    }

    fn count(&self, entity: &'static str, outcome: &'static str) {
        self.records
            .get_or_create(&RecordLabels { entity, outcome })
            .inc();
    }

    /// Records of `entity` (an entity name or "population") with `outcome` so far.
    pub fn records(&self, entity: &'static str, outcome: &'static str) -> u64 {
        self.records
            .get_or_create(&RecordLabels { entity, outcome })
            .get()
    }
}

/// Why a run of the stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum StoreStageError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Classify for StoreStageError {
    fn class(&self) -> ErrorClass {
        match self {
            StoreStageError::Kafka(e) => e.class(),
            StoreStageError::Admin(e) => e.class(),
            StoreStageError::Produce(e) => e.class(),
            StoreStageError::Store(e) => match e.class() {
                // Records are dead-lettered one by one before a batch fails; a batch that
                // still fails cannot be skipped without losing data.
                ErrorClass::DeadLetter { kind } => {
                    ErrorClass::operator(format!("the store refused a batch ({kind}): {e}"))
                }
                class => class,
            },
        }
    }
}

/// The store stream stage.
#[derive(Debug)]
pub struct StoreStage {
    config: StoreConfig,
    database_url: Secret<String>,
    topics: TopicMap,
    kafka: KafkaConfig,
    retry: RetryConfig,
    kafka_metrics: KafkaMetrics,
    metrics: StoreMetrics,
    readiness: Readiness,
    store: OnceCell<Store>,
}

/// A task aborted when its owner ends (the lag measurement of one run).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl StoreStage {
    /// A stage writing to the PostgreSQL database at `database_url`.
    pub fn new(
        config: StoreConfig,
        database_url: Secret<String>,
        kafka: &KafkaConfig,
        retry: &RetryConfig,
        kafka_metrics: KafkaMetrics,
        metrics: &Metrics,
        readiness: Readiness,
    ) -> Self {
        Self {
            topics: TopicMap::new(&config),
            config,
            database_url,
            kafka: kafka.clone(),
            retry: retry.clone(),
            kafka_metrics,
            metrics: StoreMetrics::register(metrics),
            readiness,
            store: OnceCell::new(),
        }
    }

    pub fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// Runs until `shutdown`, restarting from the committed offsets after transient failures
    /// (the database or the broker away); stops for an operator otherwise.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), NeedsOperator> {
        let stop = &shutdown;
        supervise(
            STAGE,
            &self.retry,
            &self.readiness,
            &self.kafka_metrics,
            stop,
            move || self.run_once(stop),
        )
        .await
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), StoreStageError> {
        let store = self
            .store
            .get_or_try_init(|| {
                Store::connect(self.database_url.expose(), self.config.max_connections)
            })
            .await?;
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer, self.kafka_metrics.clone());
        let admin = TopicAdmin::new(&self.kafka)?;
        let inputs = self.topics.names();
        let mut topics = inputs.clone();
        topics.push(dlq.topic());
        admin.ensure_topics(&topics).await?;
        let consumer = EventConsumer::new(
            &self.kafka,
            &self.config.group_id,
            self.kafka_metrics.clone(),
        )?;
        consumer.subscribe(&inputs)?;
        let _lag = AbortOnDrop(tokio::spawn(measure_lag(
            admin,
            consumer.clone(),
            inputs.iter().map(|t| t.to_string()).collect(),
            Duration::from_millis(self.config.lag_interval_ms),
            self.metrics.lag.clone(),
        )));
        tracing::info!(inputs = ?inputs, group = %self.config.group_id, "storing");
        self.readiness.ready();
        let linger = Duration::from_millis(self.config.batch_linger_ms);
        loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                record = consumer.recv() => record?,
            };
            let mut batch = vec![first];
            let deadline = tokio::time::sleep(linger);
            tokio::pin!(deadline);
            let mut stopping = false;
            while batch.len() < self.config.batch_size {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => {
                        stopping = true;
                        break;
                    }
                    _ = &mut deadline => break,
                    record = consumer.recv() => batch.push(record?),
                }
            }
            self.write(store, &batch, &dlq, &consumer).await?;
            if stopping {
                return Ok(());
            }
        }
    }

    /// Stores a batch, dead-letters what cannot be stored, counts, and commits the offsets.
    async fn write(
        &self,
        store: &Store,
        batch: &[InboundRecord],
        dlq: &DeadLetterQueue,
        consumer: &EventConsumer,
    ) -> Result<(), StoreStageError> {
        let started = Instant::now();
        let received_at = Utc::now();
        let mut changes = Vec::with_capacity(batch.len());
        let mut outcomes: Vec<Result<usize, Rejection>> = Vec::with_capacity(batch.len());
        for record in batch {
            let decoded = {
                let span = record.span(STAGE);
                let _entered = span.enter();
                decode_record(&self.topics, record, received_at)
            };
            outcomes.push(decoded.map(|change| {
                changes.push(change);
                changes.len() - 1
            }));
        }
        let applied: Vec<Result<Applied, Rejection>> = match store.write_batch(&changes).await {
            Ok(applied) => applied.into_iter().map(Ok).collect(),
            Err(e) if matches!(e.class(), ErrorClass::DeadLetter { .. }) => {
                tracing::warn!(error = %e, records = batch.len(), "a batch was refused: writing its records one at a time");
                self.write_one_by_one(store, &changes).await?
            }
            Err(e) => return Err(e.into()),
        };
        for (record, outcome) in batch.iter().zip(outcomes) {
            let label = self
                .topics
                .content(&record.topic)
                .map_or("unknown", TopicContent::label);
            let result = outcome.and_then(|i| applied[i].clone());
            match result {
                Ok(applied) => self.metrics.count(label, applied.as_str()),
                Err(why) => {
                    dlq.reject(record, &why).await?;
                    self.metrics.count(label, "dead_lettered");
                }
            }
        }
        consumer.commit_offsets(&next_offsets(batch)).await?;
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Applies each change in a transaction of its own, so that the one the database refuses
    /// is dead-lettered and the others are stored.
    async fn write_one_by_one(
        &self,
        store: &Store,
        changes: &[Change],
    ) -> Result<Vec<Result<Applied, Rejection>>, StoreStageError> {
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            match store.write_batch(std::slice::from_ref(change)).await {
                Ok(a) => applied.push(Ok(a.first().copied().unwrap_or(Applied::Duplicate))),
                Err(e) => match e.class() {
                    ErrorClass::DeadLetter { kind } => applied.push(Err(Rejection {
                        kind: kind.to_string(),
                        reason: e.to_string(),
                        attempts: 1,
                    })),
                    _ => return Err(e.into()),
                },
            }
        }
        Ok(applied)
    }
}

/// Sets the lag gauges every `every`: the end offset of each partition minus the group's
/// committed offset (the whole partition when nothing is committed yet). A failed measurement
/// is skipped: lag is an observation, not a reason to stop storing.
async fn measure_lag(
    admin: TopicAdmin,
    consumer: EventConsumer,
    topics: Vec<String>,
    every: Duration,
    lag: Family<PartitionLabels, Gauge>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let info = match admin.cluster_info().await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "lag not measured");
                continue;
            }
        };
        for topic in &topics {
            let Some(partitions) = info.partitions_of(topic) else {
                continue;
            };
            let ends = admin.end_offsets(topic, partitions).await;
            let committed = consumer
                .committed(topic, i32::try_from(partitions).unwrap_or(i32::MAX))
                .await;
            let (Ok(ends), Ok(committed)) = (ends, committed) else {
                continue;
            };
            for (partition, (end, committed)) in ends.iter().zip(committed).enumerate() {
                let behind = (end - committed.unwrap_or(0)).max(0);
                lag.get_or_create(&PartitionLabels {
                    topic: topic.clone(),
                    partition: i32::try_from(partition).unwrap_or(i32::MAX),
                })
                .set(behind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lienthong_proto::v1::{CivilServant, Provenance, ResolvedCivilServant};
    use lienthong_runtime::kafka::RecordHeaders;

    fn record(topic: &str, offset: i64, key: &str, payload: Option<Vec<u8>>) -> InboundRecord {
        InboundRecord {
            topic: topic.into(),
            partition: 1,
            offset,
            key: Some(key.as_bytes().to_vec()),
            payload,
            headers: RecordHeaders::with_idempotency_key(format!("hdr:{offset}")),
            timestamp_ms: None,
        }
    }

    fn servant(key: &str) -> Vec<u8> {
        ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: "cs:1".into(),
                provenance: Some(Provenance {
                    idempotency_key: key.into(),
                    ..Provenance::default()
                }),
                ..CivilServant::default()
            }),
            resolution: None,
        }
        .encode_to_vec()
    }

    #[test]
    fn records_become_versions_tombstones_links_or_rejections() {
        let topics = TopicMap::new(&StoreConfig::default());
        let now = Utc::now();
        let topic = "resolved.civil_servant.v1";

        let Ok(Change::Version(v)) = decode_record(
            &topics,
            &record(topic, 7, "cs:1", Some(servant("src:1"))),
            now,
        ) else {
            panic!("a version");
        };
        assert_eq!(v.entity, Entity::CivilServant);
        assert_eq!(v.idempotency_key, "src:1", "the provenance key first");
        assert_eq!(
            v.origin,
            Some(KafkaOrigin {
                topic: topic.into(),
                partition: 1,
                offset: 7
            })
        );
        // No provenance key: the header's; no header either: the position.
        let Ok(Change::Version(v)) =
            decode_record(&topics, &record(topic, 8, "cs:1", Some(servant(""))), now)
        else {
            panic!("a version");
        };
        assert_eq!(v.idempotency_key, "hdr:8");
        let mut bare = record(topic, 9, "cs:1", Some(servant("")));
        bare.headers = RecordHeaders::default();
        let Ok(Change::Version(v)) = decode_record(&topics, &bare, now) else {
            panic!("a version");
        };
        assert_eq!(v.idempotency_key, format!("{topic}/1@9"));

        let Ok(Change::Version(t)) = decode_record(&topics, &record(topic, 10, "cs:1", None), now)
        else {
            panic!("a tombstone");
        };
        assert!(t.deleted && t.body.is_none() && t.record_id == "cs:1");

        let garbage = decode_record(
            &topics,
            &record(topic, 11, "cs:2", Some(b"\x0a\xff\xff\xff".to_vec())),
            now,
        )
        .unwrap_err();
        assert_eq!(garbage.kind, "decode");
        let mut keyless = record(topic, 12, "", None);
        keyless.key = None;
        assert_eq!(
            decode_record(&topics, &keyless, now).unwrap_err().kind,
            "invalid"
        );
        assert_eq!(
            decode_record(&topics, &record("elsewhere", 1, "k", None), now)
                .unwrap_err()
                .kind,
            "topic"
        );

        let reissue = PopulationRecord {
            personal_id: "001090000002".into(),
            superseded_ids: vec!["001090000001".into()],
            ..PopulationRecord::default()
        };
        let Ok(Change::Register(links)) = decode_record(
            &topics,
            &record(
                "population.v1",
                3,
                "001090000002",
                Some(reissue.encode_to_vec()),
            ),
            now,
        ) else {
            panic!("links");
        };
        assert_eq!(links.len(), 1);
        assert_eq!(
            decode_record(&topics, &record("population.v1", 4, "x", None), now),
            Ok(Change::Register(Vec::new()))
        );
        assert_eq!(
            decode_record(
                &topics,
                &record("population.v1", 5, "x", Some(b"\xff\xff".to_vec())),
                now
            )
            .unwrap_err()
            .kind,
            "decode"
        );
    }

    #[test]
    fn offsets_to_commit_are_one_past_the_last_of_each_partition() {
        let mut batch = vec![
            record("a", 5, "k", None),
            record("a", 9, "k", None),
            record("b", 2, "k", None),
        ];
        batch[2].partition = 0;
        assert_eq!(
            next_offsets(&batch),
            vec![("a".to_string(), 1, 10), ("b".to_string(), 0, 3)]
        );
    }

    #[test]
    fn counts_appear_in_the_exposition() {
        let registry = Metrics::new();
        let metrics = StoreMetrics::register(&registry);
        metrics.count("civil_servant", "stored");
        metrics.count("civil_servant", "stored");
        assert_eq!(metrics.records("civil_servant", "stored"), 2);
        let text = registry.encode();
        assert!(
            text.contains(
                "lienthong_store_records_total{entity=\"civil_servant\",outcome=\"stored\"} 2"
            ),
            "{text}"
        );
    }
}
