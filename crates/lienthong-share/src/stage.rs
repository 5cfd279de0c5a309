//! The `lienthong share` stage: reads the resolved and canonical topics, and for every partner
//! whose policy enables an entity's partner topic publishes each record, filtered to the
//! partner's grant, to `share.<partner>.<entity>.v1`.
//!
//! Records are taken in batches of up to `[share] max_batch`; the policies in force are taken
//! once per batch, so a policy change applies from the next batch without a restart, and
//! partner topics a new policy enables are created before anything is published to them. For a
//! batch the stage publishes every partner record, waits until the broker acknowledged each,
//! then hands the batch's audit events to the [`AuditSink`] and waits until they are stored,
//! and only then lets the batch's input offsets be committed. A crash anywhere in between
//! redelivers the batch: partners may see a record twice (same key, same idempotency key) and
//! the audit may hold its event twice, but nothing is shared unaudited and nothing is lost.
//!
//! For every input record and every partner exactly one of: produced, filtered (the policy
//! does not enable the partner topic of the record's entity), or dead-lettered (the record
//! cannot be read; it goes to `dlq.share` once). `lienthong_share_partner_records_total
//! {partner, entity, outcome}` lets an operator check, per partner, that records in = produced
//! + filtered + dead-lettered.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use lienthong_policy::{Entity, Policies, PolicySet};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    AdminError, DeadLetterQueue, EventConsumer, EventProducer, KafkaConfig, KafkaError,
    OutboundRecord, ProduceError, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::stage::{InFlight, StageError, acker_ended, acknowledge, finish, supervise};
use lienthong_runtime::{Classify, ErrorClass, Metrics, Shutdown};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::mpsc;

use crate::audit::{AuditError, AuditSink};
use crate::config::ShareConfig;
use crate::project::{Projection, project};

/// The stage name in dead-letter topics, client ids and metrics.
pub const STAGE: &str = "share";

/// Why the stage stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Stage(#[from] StageError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl From<KafkaError> for ShareError {
    fn from(e: KafkaError) -> Self {
        Self::Stage(e.into())
    }
}

impl From<AdminError> for ShareError {
    fn from(e: AdminError) -> Self {
        Self::Stage(e.into())
    }
}

impl From<ProduceError> for ShareError {
    fn from(e: ProduceError) -> Self {
        Self::Stage(e.into())
    }
}

impl Classify for ShareError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Stage(e) => e.class(),
            Self::Audit(e) => e.class(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartnerLabels {
    partner: String,
    entity: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputLabels {
    entity: &'static str,
    outcome: &'static str,
}

/// The stage's counters.
#[derive(Debug, Clone, Default)]
pub struct ShareMetrics {
    partner_records: Family<PartnerLabels, Counter>,
    records: Family<InputLabels, Counter>,
}

impl ShareMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "share_partner_records",
            "Input records per partner and entity, by outcome (produced, filtered: the policy does not enable the partner topic, dead_lettered)",
            m.partner_records.clone(),
        );
        metrics.register(
            "share_records",
            "Input records of the share stage by entity and outcome (projected, dead_lettered)",
            m.records.clone(),
        );
        m
    }

    fn partner(&self, partner: &str, entity: Option<Entity>, outcome: &'static str) {
        self.partner_records
            .get_or_create(&PartnerLabels {
                partner: partner.to_string(),
                entity: entity.map_or("unknown", Entity::name),
                outcome,
            })
            .inc();
    }

    fn input(&self, entity: Option<Entity>, outcome: &'static str) {
        self.records
            .get_or_create(&InputLabels {
                entity: entity.map_or("unknown", Entity::name),
                outcome,
            })
            .inc();
    }

    /// Records of `partner` and `entity` with `outcome` so far.
    pub fn partner_count(&self, partner: &str, entity: Entity, outcome: &'static str) -> u64 {
        self.partner_records
            .get_or_create(&PartnerLabels {
                partner: partner.to_string(),
                entity: entity.name(),
                outcome,
            })
            .get()
    }
}

/// The share stage.
#[derive(Debug)]
pub struct ShareStage {
    config: ShareConfig,
    policies: Arc<Policies>,
    audit: Arc<dyn AuditSink>,
    kafka: KafkaConfig,
    retry: RetryConfig,
    kafka_metrics: KafkaMetrics,
    metrics: ShareMetrics,
    readiness: Readiness,
}

impl ShareStage {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: ShareConfig,
        policies: Arc<Policies>,
        audit: Arc<dyn AuditSink>,
        kafka: &KafkaConfig,
        retry: &RetryConfig,
        kafka_metrics: KafkaMetrics,
        metrics: &Metrics,
        readiness: Readiness,
    ) -> Self {
        Self {
            config,
            policies,
            audit,
            kafka: kafka.clone(),
            retry: retry.clone(),
            kafka_metrics,
            metrics: ShareMetrics::register(metrics),
            readiness,
        }
    }

    pub fn metrics(&self) -> &ShareMetrics {
        &self.metrics
    }

    /// Runs until `shutdown`, restarting from the committed offsets after transient failures.
    /// Returns an error only when an operator must act.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), ShareError> {
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
        .map_err(|e| ShareError::Stage(StageError::NeedsOperator(e.0)))
    }

    /// Creates the partner topics of `set` not created by this run yet.
    async fn ensure_partner_topics(
        &self,
        admin: &TopicAdmin,
        set: &PolicySet,
        ensured: &mut BTreeSet<String>,
    ) -> Result<(), ShareError> {
        let new: Vec<String> = set
            .partner_topics()
            .into_iter()
            .map(|(_, _, topic)| topic)
            .filter(|t| !ensured.contains(t))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        admin
            .ensure_topics(&new.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        tracing::info!(topics = ?new, "partner topics ready");
        ensured.extend(new);
        Ok(())
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), ShareError> {
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let admin = TopicAdmin::new(&self.kafka)?;
        let inputs: Vec<&str> = self
            .config
            .inputs
            .topics()
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        let dead_letters = dead_letter_topic(STAGE);
        let mut topics = inputs.clone();
        topics.push(&dead_letters);
        topics.extend(self.audit.publishes_to());
        admin.ensure_topics(&topics).await?;
        let mut set = self.policies.current();
        let mut ensured = BTreeSet::new();
        self.ensure_partner_topics(&admin, &set, &mut ensured)
            .await?;
        let consumer = EventConsumer::new(
            &self.kafka,
            &self.config.group_id,
            self.kafka_metrics.clone(),
        )?;
        consumer.subscribe(&inputs)?;
        tracing::info!(
            ?inputs,
            partners = set.len(),
            partner_topics = ensured.len(),
            "sharing"
        );
        let (ack_tx, ack_rx) = mpsc::channel::<InFlight>(self.config.max_batch.max(1) * 2);
        let mut acker = tokio::spawn(acknowledge(
            ack_rx,
            consumer.clone(),
            Duration::from_millis(self.config.commit_interval_ms),
        ));
        self.readiness.ready();
        let result: Result<(), ShareError> = loop {
            let first = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                done = &mut acker => break Err(acker_ended(done).into()),
                record = consumer.recv() => record?,
            };
            let mut batch = vec![first];
            while batch.len() < self.config.max_batch {
                match consumer.recv().now_or_never() {
                    Some(record) => batch.push(record?),
                    None => break,
                }
            }

            let current = self.policies.current();
            if !Arc::ptr_eq(&current, &set) {
                set = current;
                self.ensure_partner_topics(&admin, &set, &mut ensured)
                    .await?;
            }
            let now = chrono::Utc::now();
            let mut pending = Vec::new();
            let mut produced: Vec<(String, Entity)> = Vec::new();
            let mut audits = Vec::new();
            let mut positions = Vec::with_capacity(batch.len());
            for record in &batch {
                let span = record.span(STAGE);
                let projection = span.in_scope(|| project(&set, &self.config.inputs, record, now));
                match projection {
                    Projection::Share {
                        entity,
                        records,
                        filtered,
                    } => {
                        self.metrics.input(Some(entity), "projected");
                        for partner in &filtered {
                            self.metrics.partner(partner, Some(entity), "filtered");
                        }
                        for out in records {
                            pending.push(
                                producer
                                    .enqueue(OutboundRecord {
                                        topic: &out.topic,
                                        key: out.key.as_deref(),
                                        payload: out.payload.as_deref(),
                                        headers: out.headers,
                                    })
                                    .await?,
                            );
                            produced.push((out.partner, entity));
                            audits.push(out.audit);
                        }
                    }
                    Projection::Reject {
                        entity,
                        rejection,
                        lost,
                        filtered,
                    } => {
                        dlq.reject(record, &rejection).await?;
                        self.metrics.input(entity, "dead_lettered");
                        for partner in &lost {
                            self.metrics.partner(partner, entity, "dead_lettered");
                        }
                        for partner in &filtered {
                            self.metrics.partner(partner, entity, "filtered");
                        }
                    }
                }
                positions.push((record.topic.clone(), record.partition, record.offset));
            }
            for delivery in pending {
                delivery.acknowledged().await?;
            }
            for (partner, entity) in &produced {
                self.metrics.partner(partner, Some(*entity), "produced");
            }
            if !audits.is_empty() {
                self.audit.record(audits).await?;
            }
            let mut acker_gone = false;
            for (topic, partition, offset) in positions {
                let item = InFlight {
                    topic,
                    partition,
                    offset,
                    deliveries: Vec::new(),
                };
                if ack_tx.send(item).await.is_err() {
                    acker_gone = true;
                    break;
                }
            }
            if acker_gone {
                break Err(StageError::AckerStopped.into());
            }
        };
        // Let the acknowledger commit what was fully processed, whatever stopped the run.
        let finished = finish(Ok(()), ack_tx, &mut acker).await;
        result?;
        Ok(finished?)
    }
}
