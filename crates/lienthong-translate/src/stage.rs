//! The `lienthong translate` service: consumes the `cdc.*` topics its mappings name, publishes
//! canonical entities to `canonical.<entity>.v1` (and a tombstone after a delete), dead-letters
//! what cannot be translated to `dlq.translate`, and commits an input offset only after
//! everything produced for it and for every earlier record of its partition was acknowledged.
//!
//! Mapping files and code lists are re-read when a file under their directories changes; a set
//! that fails to load is reported (log and metric) and the previous one stays in use, so a typo
//! in a mapping never stops translation. Subscriptions follow the mappings.
//!
//! For every input record exactly one of: one canonical record (two records for a delete: the
//! entity with `source_operation = DELETE`, then the tombstone), or one dead letter. The
//! counters `lienthong_translate_records_total{outcome}` let an operator check that records in
//! = translated + dead-lettered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lienthong_proto::v1::{ChangeEvent, Quality, QualityCriterion, QualitySeverity};
use lienthong_runtime::config::{Problems, Validate};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventConsumer, EventProducer, InboundRecord, KafkaConfig, OutboundRecord,
    RecordHeaders, Rejection, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
pub use lienthong_runtime::stage::StageError;
use lienthong_runtime::stage::{InFlight, acker_ended, acknowledge, finish, supervise};
use lienthong_runtime::{Metrics, Shutdown};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::codelist::CodeLists;
use crate::draft::Envelope;
use crate::engine::Translated;
use crate::entity::EntityKind;
use crate::event::EventRef;
use crate::mapping::{Mapping, MappingSet};
use crate::record::RecordOperation;

/// The stage name in dead-letter topics, consumer groups and metrics.
pub const STAGE: &str = "translate";

/// `[translate]`.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslateConfig {
    /// Directory of mapping files (`*.toml`, searched recursively).
    #[serde(default = "default_mappings")]
    pub mappings: PathBuf,
    /// Directory of code lists.
    #[serde(default = "default_codelists")]
    pub codelists: PathBuf,
    /// Prefix of the change-event topics: a mapping of source `s`, table `d.t` reads
    /// `<input_prefix>.s.d.t`.
    #[serde(default = "default_input_prefix")]
    pub input_prefix: String,
    /// Consumer group of the stage (replicas of the stage share it and split the partitions).
    #[serde(default = "default_group_id")]
    pub group_id: String,
    /// How often the mapping and code-list directories are checked for changes; 0 turns
    /// reloading off (a restart is then needed to pick up a change).
    #[serde(default = "default_reload_interval_ms")]
    pub reload_interval_ms: u64,
    /// Input records translated but not yet acknowledged by the broker, at most.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How often acknowledged input offsets are committed.
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
}

fn default_mappings() -> PathBuf {
    PathBuf::from("schemas/mappings")
}
fn default_codelists() -> PathBuf {
    PathBuf::from("schemas/codelists")
}
fn default_input_prefix() -> String {
    "cdc".to_string()
}
fn default_group_id() -> String {
    "lienthong-translate".to_string()
}
fn default_reload_interval_ms() -> u64 {
    2_000
}
fn default_max_in_flight() -> usize {
    20_000
}
fn default_commit_interval_ms() -> u64 {
    1_000
}

impl Default for TranslateConfig {
    fn default() -> Self {
        Self {
            mappings: default_mappings(),
            codelists: default_codelists(),
            input_prefix: default_input_prefix(),
            group_id: default_group_id(),
            reload_interval_ms: default_reload_interval_ms(),
            max_in_flight: default_max_in_flight(),
            commit_interval_ms: default_commit_interval_ms(),
        }
    }
}

impl Validate for TranslateConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.input_prefix.is_empty() || self.input_prefix.contains(char::is_whitespace) {
            problems.push("input_prefix", "a non-empty topic prefix without spaces");
        }
        if self.group_id.is_empty() {
            problems.push("group_id", "must not be empty");
        }
        if self.max_in_flight == 0 {
            problems.push("max_in_flight", "at least 1");
        }
        if self.commit_interval_ms == 0 {
            problems.push("commit_interval_ms", "at least 1 ms");
        }
    }
}

/// The mappings and code lists in use, swapped whole on reload.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub mappings: Arc<MappingSet>,
    pub code_lists: CodeLists,
}

/// Why loading mappings or code lists failed: every problem, each with its file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

impl Catalog {
    /// Loads the code lists, then the mappings (which check their code-list references).
    pub fn load(config: &TranslateConfig) -> Result<Self, LoadError> {
        let code_lists = CodeLists::load_dir(&config.codelists)
            .map_err(|e| LoadError(format!("code lists in {}: {e}", config.codelists.display())))?;
        let mappings = MappingSet::load_dir(&config.mappings, &code_lists).map_err(|e| {
            LoadError(
                e.0.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
        Ok(Self {
            mappings: Arc::new(mappings),
            code_lists,
        })
    }

    /// The change-event topics the mappings read, sorted.
    pub fn input_topics(&self, prefix: &str) -> Vec<String> {
        self.mappings
            .iter()
            .map(|m| {
                let s = m.source();
                format!("{prefix}.{}.{}.{}", s.id, s.schema, s.table)
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The canonical topics the mappings write, sorted.
    pub fn output_topics(&self) -> Vec<String> {
        self.mappings
            .iter()
            .map(|m| m.entity().topic())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// A fingerprint of the files under some directories (path, size, modification time), to
/// notice edits without reading every file.
pub fn fingerprint(dirs: &[&Path]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => walk(&path, out),
                Ok(m) => out.push((path, m.len(), m.modified().ok())),
                Err(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for dir in dirs {
        walk(dir, &mut out);
    }
    out.sort();
    out
}

/// What one input record becomes.
#[derive(Debug)]
pub enum Translation {
    /// Records to publish (topic, key, payload; `None` payload = tombstone) with their headers,
    /// and the quality findings of the translated record (`None` for an input tombstone).
    Publish(Vec<Output>, Option<Quality>),
    /// Not translatable: dead-letter it.
    Reject(Rejection),
}

/// One record to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub topic: String,
    pub key: String,
    pub payload: Option<Vec<u8>>,
    pub headers: RecordHeaders,
    pub kind: EntityKind,
}

impl Output {
    /// The record for the producer, its headers moved out (an output is sent once).
    fn outbound(&mut self) -> OutboundRecord<'_> {
        let headers = std::mem::take(&mut self.headers);
        OutboundRecord {
            topic: &self.topic,
            key: Some(self.key.as_bytes()),
            payload: self.payload.as_deref(),
            headers,
        }
    }
}

/// Translates one input record. Pure apart from the clock value passed in.
///
/// The same as decoding the `ChangeEvent` and applying [`MappingSet::apply`], encoding the
/// record's entity: the event is read in place where its bytes allow it (see `event`), and the
/// findings are moved into the entity for encoding rather than copied.
pub fn translate(catalog: &Catalog, record: &InboundRecord, now: SystemTime) -> Translation {
    let Some(payload) = record.payload.as_deref() else {
        // A tombstone of the change-event topic: the delete event before it was translated
        // already; nothing to add.
        return Translation::Publish(Vec::new(), None);
    };
    let decoded;
    // Read for the mapping of its table, so that its columns are located as they are read.
    let mut found: Option<&Mapping> = None;
    let event = match EventRef::read_for(payload, |source, schema, table| {
        found = catalog.mappings.find(source, schema, table);
        found.map(|m| &m.columns)
    }) {
        Some(event) => event,
        None => match ChangeEvent::decode(payload) {
            Ok(event) => {
                decoded = event;
                EventRef::of(&decoded)
            }
            Err(e) => {
                return Translation::Reject(Rejection {
                    kind: "decode".to_string(),
                    reason: format!("not a lienthong.v1.ChangeEvent: {e}"),
                    attempts: 1,
                });
            }
        },
    };
    // The mapping found while reading is the one of the event's table, unless the event named
    // its table after its rows (no encoder does): then it is looked up again.
    let translated = match found.filter(|m| {
        let source = m.source();
        (
            source.id.as_str(),
            source.schema.as_str(),
            source.table.as_str(),
        ) == (event.source_id, event.schema, event.table)
    }) {
        Some(mapping) => mapping.translate(&event, &catalog.code_lists, now),
        None => catalog.mappings.translate(&event, &catalog.code_lists, now),
    };
    match translated {
        Ok(translated) => {
            let (outputs, quality) = outputs(translated, record);
            Translation::Publish(outputs, Some(quality))
        }
        Err(e) => Translation::Reject(Rejection {
            kind: e.kind().to_string(),
            reason: e.to_string(),
            attempts: 1,
        }),
    }
}

/// The records to publish for a translated change, and its findings.
fn outputs(translated: Translated<'_>, input: &InboundRecord) -> (Vec<Output>, Quality) {
    let Translated {
        key,
        operation,
        record,
        provenance,
        quality,
    } = translated;
    let kind = record.kind();
    let tombstone = operation == RecordOperation::Delete;
    // A delete's record carries no findings; an upsert's are moved in for encoding and back.
    let envelope = Envelope {
        record_id: &key,
        provenance: &provenance,
    };
    let (payload, quality) = record.encode(envelope, (!tombstone).then_some(quality));
    let quality = quality.unwrap_or_default();
    let schema_version = [&*provenance.mapping_id, "@", &*provenance.mapping_version].concat();
    let tombstone_key = tombstone.then(|| [&*provenance.idempotency_key, ":tombstone"].concat());
    let mut headers = RecordHeaders::with_idempotency_key(provenance.idempotency_key);
    headers.source_position = input.headers.source_position.clone();
    headers.schema_version = Some(schema_version);
    headers.traceparent = input.headers.traceparent.clone();
    headers.tracestate = input.headers.tracestate.clone();
    headers.content_type = Some(kind.content_type().to_owned());
    let mut out = Vec::with_capacity(if tombstone { 2 } else { 1 });
    if let Some(tombstone_key) = tombstone_key {
        let mut tombstone = headers.clone();
        tombstone.idempotency_key = Some(tombstone_key);
        out.push(Output {
            topic: kind.topic(),
            key: key.clone(),
            payload: Some(payload),
            headers,
            kind,
        });
        out.push(Output {
            topic: kind.topic(),
            key,
            payload: None,
            headers: tombstone,
            kind,
        });
    } else {
        out.push(Output {
            topic: kind.topic(),
            key,
            payload: Some(payload),
            headers,
            kind,
        });
    }
    (out, quality)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlagLabels {
    criterion: String,
    severity: String,
}

/// The stage's metric families.
#[derive(Debug, Clone, Default)]
pub struct TranslateMetrics {
    records: Family<OutcomeLabels, Counter>,
    flags: Family<FlagLabels, Counter>,
    reloads: Family<OutcomeLabels, Counter>,
}

impl TranslateMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "translate_records",
            "Input change events by outcome (translated, dead_lettered, skipped_tombstone)",
            m.records.clone(),
        );
        metrics.register(
            "translate_quality_flags",
            "Quality findings on translated records, by criterion and severity",
            m.flags.clone(),
        );
        metrics.register(
            "translate_reloads",
            "Reloads of mappings and code lists, by outcome (ok, failed)",
            m.reloads.clone(),
        );
        m
    }

    fn outcome(&self, outcome: &str) {
        self.records
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    fn reload(&self, outcome: &str) {
        self.reloads
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    fn quality(&self, quality: &Quality) {
        for flag in &quality.flags {
            let criterion =
                QualityCriterion::try_from(flag.criterion).map_or("unknown", |c| c.as_str_name());
            let severity =
                QualitySeverity::try_from(flag.severity).map_or("unknown", |s| s.as_str_name());
            self.flags
                .get_or_create(&FlagLabels {
                    criterion: criterion.to_string(),
                    severity: severity.to_string(),
                })
                .inc();
        }
    }
}

/// The translate stage.
#[derive(Debug)]
pub struct TranslateStage {
    config: TranslateConfig,
    kafka: KafkaConfig,
    retry: RetryConfig,
    kafka_metrics: KafkaMetrics,
    metrics: TranslateMetrics,
    readiness: Readiness,
}

impl TranslateStage {
    pub fn new(
        config: TranslateConfig,
        kafka: &KafkaConfig,
        retry: &RetryConfig,
        kafka_metrics: KafkaMetrics,
        metrics: &Metrics,
        readiness: Readiness,
    ) -> Self {
        Self {
            config,
            kafka: kafka.clone(),
            retry: retry.clone(),
            kafka_metrics,
            metrics: TranslateMetrics::register(metrics),
            readiness,
        }
    }

    /// Runs until `shutdown`, restarting from the last committed offsets after transient
    /// failures (with backoff). Returns an error only when an operator must act.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), StageError> {
        let catalog = Catalog::load(&self.config).map_err(|e| {
            StageError::NeedsOperator(format!("the mappings do not load, fix them first:\n{e}"))
        })?;
        if catalog.mappings.is_empty() {
            return Err(StageError::NeedsOperator(format!(
                "no mapping file under {}",
                self.config.mappings.display()
            )));
        }
        let catalog = &tokio::sync::Mutex::new(catalog);
        let stop = &shutdown;
        supervise(
            STAGE,
            &self.retry,
            &self.readiness,
            &self.kafka_metrics,
            &shutdown,
            move || async move {
                let mut catalog = catalog.lock().await;
                self.run_once(&mut catalog, stop).await
            },
        )
        .await
        .map_err(|e| StageError::NeedsOperator(e.0))
    }

    async fn ensure_topics(&self, admin: &TopicAdmin, catalog: &Catalog) -> Result<(), StageError> {
        let mut topics = catalog.input_topics(&self.config.input_prefix);
        topics.extend(catalog.output_topics());
        topics.push(dead_letter_topic(STAGE));
        admin
            .ensure_topics(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        Ok(())
    }

    async fn run_once(&self, catalog: &mut Catalog, shutdown: &Shutdown) -> Result<(), StageError> {
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let admin = TopicAdmin::new(&self.kafka)?;
        self.ensure_topics(&admin, catalog).await?;
        let consumer = EventConsumer::new(
            &self.kafka,
            &self.config.group_id,
            self.kafka_metrics.clone(),
        )?;
        let mut subscribed = catalog.input_topics(&self.config.input_prefix);
        consumer.subscribe(&subscribed.iter().map(String::as_str).collect::<Vec<_>>())?;
        tracing::info!(topics = ?subscribed, mappings = catalog.mappings.len(), "translating");

        let (ack_tx, ack_rx) = mpsc::channel::<InFlight>(self.config.max_in_flight);
        let mut acker = tokio::spawn(acknowledge(
            ack_rx,
            consumer.clone(),
            Duration::from_millis(self.config.commit_interval_ms),
        ));
        self.readiness.ready();

        let dirs = [
            self.config.mappings.as_path(),
            self.config.codelists.as_path(),
        ];
        let mut seen = fingerprint(&dirs);
        let reload_every = (self.config.reload_interval_ms > 0)
            .then(|| Duration::from_millis(self.config.reload_interval_ms));
        let mut reload_tick =
            tokio::time::interval(reload_every.unwrap_or(Duration::from_secs(3600)));
        reload_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reload_tick.tick().await;

        let result = loop {
            let record = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                done = &mut acker => break Err(acker_ended(done)),
                _ = reload_tick.tick(), if reload_every.is_some() => {
                    let now_seen = fingerprint(&dirs);
                    if now_seen != seen {
                        seen = now_seen;
                        match Catalog::load(&self.config) {
                            Ok(next) => {
                                self.metrics.reload("ok");
                                let versions: Vec<String> = next
                                    .mappings
                                    .iter()
                                    .map(|m| format!("{}@{}", m.id(), m.version()))
                                    .collect();
                                tracing::info!(mappings = ?versions, "mappings and code lists reloaded");
                                *catalog = next;
                                let topics = catalog.input_topics(&self.config.input_prefix);
                                if topics != subscribed {
                                    self.ensure_topics(&admin, catalog).await?;
                                    consumer.subscribe(&topics.iter().map(String::as_str).collect::<Vec<_>>())?;
                                    tracing::info!(?topics, "subscriptions follow the mappings");
                                    subscribed = topics;
                                }
                            }
                            Err(e) => {
                                self.metrics.reload("failed");
                                tracing::error!(error = %e, "changed mappings or code lists do not load; still translating with the previous ones");
                            }
                        }
                    }
                    continue;
                }
                record = consumer.recv() => record?,
            };
            // The record's span is entered only while this task runs for it: around the
            // translation, and around each poll of the sends (whose logs, a dead letter's among
            // them, carry the record's trace).
            let span = record.span(STAGE);
            let translation = span.in_scope(|| translate(catalog, &record, SystemTime::now()));
            let deliveries = async {
                Ok::<_, StageError>(match translation {
                    Translation::Publish(mut outputs, quality) => {
                        match &quality {
                            Some(quality) => {
                                self.metrics.outcome("translated");
                                self.metrics.quality(quality);
                            }
                            None => self.metrics.outcome("skipped_tombstone"),
                        }
                        producer
                            .enqueue_all(outputs.iter_mut().map(Output::outbound))
                            .await?
                    }
                    Translation::Reject(why) => {
                        dlq.reject(&record, &why).await?;
                        self.metrics.outcome("dead_lettered");
                        Vec::new()
                    }
                })
            }
            .instrument(span)
            .await?;
            let item = InFlight {
                topic: record.topic,
                partition: record.partition,
                offset: record.offset,
                deliveries,
            };
            if ack_tx.send(item).await.is_err() {
                break Err(StageError::AckerStopped);
            }
        };
        finish(result, ack_tx, &mut acker).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use lienthong_proto::v1::Operation;

    fn schemas() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
    }

    fn shipped() -> (TranslateConfig, Catalog) {
        let config = TranslateConfig {
            mappings: schemas().join("mappings"),
            codelists: schemas().join("codelists"),
            ..TranslateConfig::default()
        };
        let catalog = Catalog::load(&config).unwrap();
        (config, catalog)
    }

    fn inbound(payload: Option<Vec<u8>>) -> InboundRecord {
        InboundRecord {
            topic: "cdc.x.y.z".to_string(),
            partition: 0,
            offset: 7,
            key: Some(b"k".to_vec()),
            payload,
            headers: RecordHeaders::default().source_position("0/1:0"),
            timestamp_ms: None,
        }
    }

    #[test]
    fn topics_follow_the_shipped_mappings() {
        let (config, catalog) = shipped();
        let inputs = catalog.input_topics(&config.input_prefix);
        assert!(inputs.len() >= 3, "{inputs:?}");
        assert!(inputs.iter().all(|t| t.starts_with("cdc.")));
        let outputs = catalog.output_topics();
        assert!(
            outputs
                .iter()
                .all(|t| t.starts_with("canonical.") && t.ends_with(".v1"))
        );
    }

    #[test]
    fn garbage_and_unmapped_tables_are_rejected_with_their_kind() {
        let (_, catalog) = shipped();
        let Translation::Reject(why) = translate(
            &catalog,
            &inbound(Some(vec![0xff, 0xff, 0xff])),
            SystemTime::now(),
        ) else {
            panic!("garbage translated");
        };
        assert_eq!(why.kind, "decode");

        let event = ChangeEvent {
            source_id: "nowhere".into(),
            schema: "s".into(),
            table: "t".into(),
            op: Operation::Insert as i32,
            ..ChangeEvent::default()
        };
        let Translation::Reject(why) = translate(
            &catalog,
            &inbound(Some(event.encode_to_vec())),
            SystemTime::now(),
        ) else {
            panic!("unmapped table translated");
        };
        assert_eq!(why.kind, "mapping.no_mapping");
        assert!(why.reason.contains("nowhere"), "{}", why.reason);
    }

    #[test]
    fn input_tombstones_produce_nothing() {
        let (_, catalog) = shipped();
        let Translation::Publish(out, _) = translate(&catalog, &inbound(None), SystemTime::now())
        else {
            panic!("tombstone rejected");
        };
        assert!(out.is_empty());
    }

    #[test]
    fn a_delete_publishes_the_entity_then_a_tombstone() {
        let (_, catalog) = shipped();
        let mapping = catalog.mappings.iter().next().unwrap();
        // A delete needs the key columns in the row image: take them from the mapping.
        let key_cols: Vec<String> = if mapping.source().key.is_empty() {
            mapping
                .columns()
                .iter()
                .take(1)
                .map(|c| c.to_string())
                .collect()
        } else {
            mapping.source().key.clone()
        };
        let image: serde_json::Map<String, serde_json::Value> = key_cols
            .iter()
            .map(|c| (c.clone(), serde_json::json!("1")))
            .collect();
        let row = crate::sample::row_from_json(&serde_json::Value::Object(image)).unwrap();
        let keys: Vec<&str> = key_cols.iter().map(String::as_str).collect();
        let event = crate::sample::change_event(
            mapping,
            Operation::Delete,
            row,
            &keys,
            SystemTime::now(),
            42,
        );
        match translate(
            &catalog,
            &inbound(Some(event.encode_to_vec())),
            SystemTime::now(),
        ) {
            Translation::Publish(out, quality) => {
                assert!(quality.is_some());
                assert_eq!(out.len(), 2, "{out:?}");
                assert!(out[0].payload.is_some());
                assert!(out[1].payload.is_none());
                assert_eq!(out[0].key, out[1].key);
                assert_ne!(
                    out[0].headers.idempotency_key,
                    out[1].headers.idempotency_key
                );
                assert_eq!(out[0].headers.source_position.as_deref(), Some("0/1:0"));
            }
            Translation::Reject(why) => panic!("delete rejected: {why:?}"),
        }
    }

    /// The catalog of the shipped mappings, loaded once for the property tests.
    fn shipped_catalog() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| shipped().1)
    }

    /// `translate` against what it did before events were read in place: decode with prost,
    /// [`MappingSet::apply`], encode the record's entity.
    fn check_against_apply(catalog: &Catalog, bytes: Vec<u8>, now: SystemTime) {
        let expected = catalog.mappings.apply(
            &ChangeEvent::decode(bytes.as_slice()).unwrap(),
            &catalog.code_lists,
            now,
        );
        match (translate(catalog, &inbound(Some(bytes)), now), expected) {
            (Translation::Publish(out, quality), Ok(record)) => {
                assert_eq!(out.len(), if record.is_delete() { 2 } else { 1 });
                assert_eq!(
                    out[0].payload.as_deref(),
                    Some(record.entity.encode_to_vec().as_slice())
                );
                assert_eq!(quality.as_ref(), Some(&record.quality));
                assert_eq!(out[0].key, record.key);
                assert_eq!(out[0].topic, record.topic());
                assert_eq!(
                    out[0].headers.idempotency_key.as_deref(),
                    Some(record.idempotency_key())
                );
            }
            (Translation::Reject(why), Err(e)) => {
                assert_eq!(why.kind, e.kind());
                assert_eq!(why.reason, e.to_string());
            }
            (got, expected) => panic!("translated {got:?}, applying gave {expected:?}"),
        }
    }

    #[test]
    fn a_civil_servant_file_translates_as_decoding_and_applying() {
        let (_, catalog) = shipped();
        let mapping = catalog
            .mappings
            .find("csdl-cbcc", "public", "ho_so_can_bo")
            .unwrap();
        let row = crate::sample::row_from_json(&serde_json::json!({
            "id": 1001,
            "so_dinh_danh": "025090001234",
            "ho_ten": "nguyễn  văn   AN",
            "ngay_sinh": {"date": "1990-04-12"},
            "gioi_tinh": 1,
            "ma_dan_toc": "04",
            "ma_ton_giao": "00",
            "noi_sinh_ma_tinh": "25",
            "que_quan_ma_tinh": "02",
            "que_quan_ma_xa": "04792",
            "que_quan_chi_tiet": "Thôn Đông,  khu 3",
            "dien_thoai": "091 234.5678",
            "email": " An.NV@Moha.gov.vn ",
            "loai_can_bo": "CC",
            "trang_thai": 1,
            "don_vi_id": 17,
            "ten_don_vi": "Vụ Tổ chức - Biên chế",
            "ma_chuc_vu": "PV",
            "ten_chuc_vu": "Phó Vụ trưởng",
            "ma_ngach": "01.002",
            "ten_ngach": "Chuyên viên chính",
            "bac_luong": 3,
            "he_so_luong": {"decimal": "5.08"},
            "he_so_phu_cap_cv": {"decimal": "0.70"},
            "ngay_tuyen_dung": {"date": "2013-09-01"},
            "ngay_bo_nhiem_ngach": {"date": "2021-01-01"},
            "ngay_vao_dang": null,
            "cap_nhat_luc": {"timestamp": 1_590_000_000},
        }))
        .unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_754_017_200);
        for operation in [Operation::Update, Operation::Delete] {
            let event =
                crate::sample::change_event(mapping, operation, row.clone(), &["id"], now, 7);
            let bytes = event.encode_to_vec();
            assert!(EventRef::read(&bytes).is_some(), "read in place");
            check_against_apply(&catalog, bytes, now);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn any_row_translates_as_decoding_and_applying(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            let catalog = shipped_catalog();
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_754_017_200);
            let operations = [Operation::Read, Operation::Insert, Operation::Update, Operation::Delete];
            let operation = operations[usize::from(data.first().copied().unwrap_or(0)) % 4];
            for mapping in catalog.mappings.iter() {
                let row = crate::sample::arbitrary_row(&mapping.columns(), &data);
                let event = crate::sample::change_event(mapping, operation, row, &[], now, 1);
                check_against_apply(catalog, event.encode_to_vec(), now);
            }
        }
    }

    #[test]
    fn fingerprint_notices_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.toml"), "x").unwrap();
        let before = fingerprint(&[dir.path()]);
        std::fs::write(dir.path().join("a.toml"), "xy").unwrap();
        assert_ne!(before, fingerprint(&[dir.path()]));
    }

    #[test]
    fn config_rules() {
        let mut problems = Problems::new();
        TranslateConfig {
            max_in_flight: 0,
            group_id: String::new(),
            ..TranslateConfig::default()
        }
        .validate(&mut problems);
        assert_eq!(problems.iter().count(), 2);
    }
}
