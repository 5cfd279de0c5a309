//! The `lienthong sink` service: consumes the routed topics and delivers their records to the
//! platforms, exactly once in effect.
//!
//! - Each route spreads its records over `lanes` by Kafka key; a lane sends one batch at a
//!   time, so the records of one key reach the platform in order while other keys go ahead.
//! - A record is finished when the platform gave its verdict and the receipt (and, for a
//!   refused record, the dead letter with the platform's answer) was acknowledged by the
//!   broker. A partition's offset is committed only past finished records, so after a crash
//!   or restart every unfinished record is sent again, and the platform's deduplication by
//!   idempotency key makes that harmless.
//! - Records that cannot be sent at all (not decodable) go to `dlq.sink` at once; tombstones
//!   are skipped (the delete record before them was delivered).
//!
//! For every input record exactly one of: a receipt with status ACCEPTED or DUPLICATE, a
//! receipt with status REJECTED plus a dead letter, a dead letter alone (undecodable), or a
//! skipped tombstone; `lienthong_sink_records_total` counts each.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use lienthong_proto::v1::{DeliveryReceipt, DeliveryStatus};
use lienthong_runtime::error::{Classify, ErrorClass};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    AdminError, DeadLetterQueue, EventConsumer, EventProducer, KafkaConfig, KafkaError,
    OutboundRecord, ProduceError, RecordHeaders, Rejection, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::{Metrics, Shutdown};
use prost::Message as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::config::{BatchConfig, SinkConfig};
use crate::endpoint::{DeliverError, Endpoint, Outcome, SetupError, Verdict};
use crate::metrics::SinkMetrics;
use crate::offsets::OffsetTracker;
use crate::record::{Preparer, SinkRecord, Unsendable};

/// The stage name in dead-letter topics, consumer groups and metrics.
pub const STAGE: &str = "sink";

/// Why the stage stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    NeedsOperator(String),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error("a delivery lane stopped unexpectedly")]
    LaneStopped,
}

impl Classify for StageError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NeedsOperator(hint) => ErrorClass::operator(hint.clone()),
            Self::Setup(e) => ErrorClass::operator(e.to_string()),
            Self::Kafka(e) => e.class(),
            Self::Admin(e) => e.class(),
            Self::Produce(e) => e.class(),
            Self::LaneStopped => ErrorClass::Transient,
        }
    }
}

/// A record handed to a lane, holding its place in the in-flight limit.
struct Item {
    record: SinkRecord,
    permit: OwnedSemaphorePermit,
}

/// What every lane shares.
struct Shared {
    producer: EventProducer,
    dlq: DeadLetterQueue,
    tracker: Mutex<OffsetTracker>,
    metrics: SinkMetrics,
    receipts_topic: String,
}

impl Shared {
    fn tracker(&self) -> std::sync::MutexGuard<'_, OffsetTracker> {
        // Plain bookkeeping: a panic elsewhere cannot leave it half-updated.
        self.tracker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The sink stage.
#[derive(Debug)]
pub struct SinkStage {
    config: SinkConfig,
    kafka: KafkaConfig,
    retry: RetryConfig,
    kafka_metrics: KafkaMetrics,
    metrics: SinkMetrics,
    readiness: Readiness,
}

impl SinkStage {
    pub fn new(
        config: SinkConfig,
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
            metrics: SinkMetrics::register(metrics),
            readiness,
        }
    }

    /// Runs until `shutdown`, restarting from the committed offsets after transient failures
    /// (with backoff). Returns an error only when an operator must act.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), StageError> {
        use backon::BackoffBuilder as _;
        if self.config.routes.is_empty() {
            return Err(StageError::NeedsOperator(
                "no [[sink.routes]] configured: nothing to deliver".to_string(),
            ));
        }
        let mut delays = self.retry.backoff().build();
        loop {
            let started = Instant::now();
            let outcome = self.run_once(&shutdown).await;
            if started.elapsed() > Duration::from_secs(60) {
                delays = self.retry.backoff().build();
            }
            let Err(e) = outcome else { return Ok(()) };
            if let ErrorClass::NeedsOperator { hint } = e.class() {
                self.readiness.not_ready(hint.clone());
                return Err(StageError::NeedsOperator(hint));
            }
            self.readiness.not_ready(e.to_string());
            let delay = delays.next().unwrap_or(Duration::from_secs(30));
            tracing::warn!(error = %e, ?delay, "sink restarting from the committed offsets");
            self.kafka_metrics.record_retry(STAGE);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
        }
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), StageError> {
        let mut endpoints = BTreeMap::new();
        for (id, config) in &self.config.endpoints {
            endpoints.insert(
                id.clone(),
                Arc::new(Endpoint::new(id, config, self.metrics.clone())?),
            );
        }
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let admin = TopicAdmin::new(&self.kafka)?;
        let mut topics: Vec<&str> = self
            .config
            .routes
            .iter()
            .map(|r| r.topic.as_str())
            .collect();
        let dlq_topic = dead_letter_topic(STAGE);
        topics.push(&self.config.receipts_topic);
        topics.push(&dlq_topic);
        admin.ensure_topics(&topics).await?;

        let consumer = EventConsumer::new(
            &self.kafka,
            &self.config.group_id,
            self.kafka_metrics.clone(),
        )?;
        let inputs: Vec<&str> = self
            .config
            .routes
            .iter()
            .map(|r| r.topic.as_str())
            .collect();
        consumer.subscribe(&inputs)?;

        let shared = Arc::new(Shared {
            producer,
            dlq,
            tracker: Mutex::new(OffsetTracker::new()),
            metrics: self.metrics.clone(),
            receipts_topic: self.config.receipts_topic.clone(),
        });
        // Lanes stop on shutdown or when this run ends with an error.
        let stop = Shutdown::new();
        let mut lanes = JoinSet::new();
        struct Route {
            endpoint: String,
            entity: String,
            message: Option<String>,
            lanes: Vec<mpsc::Sender<Item>>,
        }
        let mut routes: BTreeMap<String, Route> = BTreeMap::new();
        for route in &self.config.routes {
            let endpoint = endpoints.get(&route.endpoint).cloned().ok_or_else(|| {
                StageError::NeedsOperator(format!(
                    "route {} names endpoint {}, which is not configured",
                    route.topic, route.endpoint
                ))
            })?;
            let mut senders = Vec::with_capacity(route.lanes);
            for _ in 0..route.lanes {
                let (tx, rx) = mpsc::channel(route.batch.max_records.max(1) * 2);
                senders.push(tx);
                lanes.spawn(lane(
                    rx,
                    endpoint.clone(),
                    route.batch.clone(),
                    shared.clone(),
                    stop.clone(),
                ));
            }
            routes.insert(
                route.topic.clone(),
                Route {
                    endpoint: route.endpoint.clone(),
                    entity: route.entity_name(),
                    message: route.message.clone(),
                    lanes: senders,
                },
            );
        }
        let preparer = Preparer::new();
        let limit = Arc::new(Semaphore::new(self.config.max_in_flight));
        let mut commit_tick =
            tokio::time::interval(Duration::from_millis(self.config.commit_interval_ms));
        commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.readiness.ready();
        tracing::info!(routes = ?inputs, endpoints = ?endpoints.keys().collect::<Vec<_>>(), "delivering");

        let result: Result<(), StageError> = loop {
            let next = async {
                let permit = limit.clone().acquire_owned().await;
                (permit, consumer.recv().await)
            };
            let (permit, record) = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                done = lanes.join_next() => break Err(match done {
                    Some(Ok(Err(e))) => e,
                    _ => StageError::LaneStopped,
                }),
                _ = commit_tick.tick() => {
                    if let Err(e) = commit(&consumer, &shared).await {
                        break Err(e);
                    }
                    continue;
                }
                (permit, record) = next => (permit, record),
            };
            let Ok(permit) = permit else {
                break Err(StageError::LaneStopped);
            };
            let record = match record {
                Ok(record) => record,
                Err(e) => break Err(e.into()),
            };
            let Some(route) = routes.get(&record.topic) else {
                // Subscribed topics are exactly the routes' topics.
                continue;
            };
            shared
                .tracker()
                .begin(&record.topic, record.partition, record.offset);
            if record.payload.is_none() {
                self.metrics.record(&route.endpoint, "skipped_tombstone");
                shared
                    .tracker()
                    .finish(&record.topic, record.partition, record.offset);
                continue;
            }
            match preparer.prepare(record, &route.entity, route.message.as_deref()) {
                Ok(prepared) => {
                    let lane = (prepared.lane_hash % route.lanes.len() as u64) as usize;
                    let item = Item {
                        record: prepared,
                        permit,
                    };
                    if route.lanes[lane].send(item).await.is_err() {
                        break Err(StageError::LaneStopped);
                    }
                }
                Err(unsendable) => {
                    let Unsendable { record, error: why } = *unsendable;
                    tracing::warn!(position = %record.position(), error = %why, "record cannot be sent; dead-lettered");
                    let rejection = Rejection {
                        kind: why.kind().to_string(),
                        reason: why.to_string(),
                        attempts: 0,
                    };
                    if let Err(e) = shared.dlq.reject(&record, &rejection).await {
                        break Err(e.into());
                    }
                    self.metrics.record(&route.endpoint, "dead_lettered");
                    shared
                        .tracker()
                        .finish(&record.topic, record.partition, record.offset);
                }
            }
        };
        // Let the lanes finish what they hold on a clean stop, then commit what is finished.
        stop.trigger();
        drop(routes);
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(done) = lanes.join_next().await {
                if let Ok(Err(e)) = done {
                    tracing::warn!(error = %e, "lane stopped with an error");
                }
            }
        })
        .await;
        if drained.is_err() {
            lanes.abort_all();
        }
        let committed = commit(&consumer, &shared).await;
        self.readiness.not_ready("stopped");
        result.and(committed)
    }
}

async fn commit(consumer: &EventConsumer, shared: &Shared) -> Result<(), StageError> {
    let offsets = shared.tracker().to_commit();
    if offsets.is_empty() {
        return Ok(());
    }
    consumer.commit_offsets(&offsets).await?;
    shared.tracker().committed(&offsets);
    Ok(())
}

/// One lane: batches of its records, delivered one batch at a time.
async fn lane(
    mut rx: mpsc::Receiver<Item>,
    endpoint: Arc<Endpoint>,
    batch: BatchConfig,
    shared: Arc<Shared>,
    stop: Shutdown,
) -> Result<(), StageError> {
    let linger = Duration::from_millis(batch.linger_ms);
    loop {
        let first = tokio::select! {
            item = rx.recv() => match item {
                Some(item) => item,
                None => return Ok(()),
            },
            _ = stop.cancelled() => return Ok(()),
        };
        let mut bytes = first.record.size();
        let mut items = vec![first];
        let deadline = tokio::time::Instant::now() + linger;
        while items.len() < batch.max_records && bytes < batch.max_bytes {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(item) => {
                        bytes += item.record.size();
                        items.push(item);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let (records, permits): (Vec<SinkRecord>, Vec<OwnedSemaphorePermit>) = items
            .into_iter()
            .map(|item| (item.record, item.permit))
            .unzip();
        let delivered = match endpoint.deliver(records, &stop).await {
            Ok(delivered) => delivered,
            Err(DeliverError::Stopped) => return Ok(()),
            Err(DeliverError::NeedsOperator(hint)) => return Err(StageError::NeedsOperator(hint)),
        };
        finish(&endpoint, &shared, &delivered).await?;
        drop(permits);
    }
}

/// Receipts (and dead letters for refused records), acknowledged by the broker, then the
/// records count as finished.
async fn finish(
    endpoint: &Endpoint,
    shared: &Shared,
    delivered: &[(SinkRecord, Outcome)],
) -> Result<(), StageError> {
    let mut acks = Vec::with_capacity(delivered.len());
    for (record, outcome) in delivered {
        let (status, outcome_label) = match &outcome.verdict {
            Verdict::Accepted { .. } => (DeliveryStatus::Accepted, "accepted"),
            Verdict::Duplicate { .. } => (DeliveryStatus::Duplicate, "duplicate"),
            Verdict::Refused { kind, reason } => {
                tracing::warn!(endpoint = %endpoint.id(), key = %record.idempotency_key, %reason, "platform refused the record; dead-lettered");
                shared
                    .dlq
                    .reject(
                        &record.source,
                        &Rejection {
                            kind: format!("platform:{kind}"),
                            reason: format!("{} refused it: {reason}", endpoint.id()),
                            attempts: outcome.attempts,
                        },
                    )
                    .await?;
                (DeliveryStatus::Rejected, "rejected")
            }
        };
        let receipt = receipt(endpoint, record, outcome, status);
        let headers = RecordHeaders {
            idempotency_key: Some(format!("{}:receipt", record.idempotency_key)),
            source_position: record.source.headers.source_position.clone(),
            traceparent: record.source.headers.traceparent.clone(),
            tracestate: record.source.headers.tracestate.clone(),
            ..RecordHeaders::default()
        }
        .protobuf("DeliveryReceipt");
        let payload = receipt.encode_to_vec();
        acks.push(
            shared
                .producer
                .enqueue(OutboundRecord {
                    topic: &shared.receipts_topic,
                    key: Some(record.idempotency_key.as_bytes()),
                    payload: Some(&payload),
                    headers,
                })
                .await?,
        );
        shared.metrics.record(endpoint.id(), outcome_label);
    }
    for ack in acks {
        ack.acknowledged().await?;
    }
    let mut tracker = shared.tracker();
    for (record, _) in delivered {
        tracker.finish(
            &record.source.topic,
            record.source.partition,
            record.source.offset,
        );
    }
    Ok(())
}

fn receipt(
    endpoint: &Endpoint,
    record: &SinkRecord,
    outcome: &Outcome,
    status: DeliveryStatus,
) -> DeliveryReceipt {
    let (reference, error) = match &outcome.verdict {
        Verdict::Accepted { reference } | Verdict::Duplicate { reference } => {
            (reference.clone().unwrap_or_default(), String::new())
        }
        Verdict::Refused { reason, .. } => (String::new(), reason.clone()),
    };
    DeliveryReceipt {
        idempotency_key: record.idempotency_key.clone(),
        topic: record.source.topic.clone(),
        partition: record.source.partition,
        offset: record.source.offset,
        endpoint: endpoint.id().to_string(),
        adapter: endpoint.adapter().kind().as_str().to_string(),
        status: status as i32,
        attempts: outcome.attempts,
        latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
        platform_reference: reference,
        http_status: u32::from(outcome.http_status),
        error,
        message_id: outcome.message_id.clone(),
        delivered_at: Some(prost_types::Timestamp::from(SystemTime::now())),
    }
}
