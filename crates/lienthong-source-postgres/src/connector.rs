//! The connector: prepares the source (publication, slot, topics), runs the snapshot and the
//! stream loop, confirms positions, writes heartbeats, and restarts from the slot after any
//! transient failure.

use std::sync::Arc;
use std::time::Duration;

use lienthong_runtime::config::Secret;
use lienthong_runtime::error::{Classify, ErrorClass, classify_sqlstate, classify_sqlx};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventProducer, KafkaConfig, StateStore, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::{Metrics, Shutdown};
use sqlx::PgConnection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::capture::{Acker, CaptureError, KeyLookup, ProcessorParts, StreamProcessor};
use crate::catalog::{self, MESSAGE_PREFIX_HEARTBEAT, TableInfo};
use crate::config::{PostgresSourceConfig, SnapshotMode};
use crate::metrics::SourceMetrics;
use crate::pgoutput::{Lsn, lsn_to_string};
use crate::schema_versions::SchemaVersions;
use crate::snapshot::{self, Chunk, ExportedSnapshot, SnapshotError, SnapshotState};
use crate::walsender::{ConnectOptions, ReplicationConnection, ServerFrame, WalSenderError};

/// The stage name in dead-letter topics and metrics.
pub const STAGE: &str = "source-postgres";

/// Why the connector stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    NeedsOperator(String),
    #[error("replication connection: {0}")]
    WalSender(#[from] WalSenderError),
    #[error("source database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    #[error(transparent)]
    Publication(#[from] catalog::PublicationError),
    #[error(transparent)]
    Admin(#[from] lienthong_runtime::kafka::AdminError),
    #[error(transparent)]
    State(#[from] lienthong_runtime::kafka::StateError),
    #[error(transparent)]
    Kafka(#[from] lienthong_runtime::kafka::KafkaError),
}

impl Classify for SourceError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NeedsOperator(hint) => ErrorClass::operator(hint.clone()),
            Self::WalSender(e) => match e {
                WalSenderError::Server { code, message, .. } => match code.as_str() {
                    // Slot in use by another walsender: an earlier run of ours still ending.
                    "55006" => ErrorClass::Transient,
                    _ => classify_sqlstate(code, message),
                },
                WalSenderError::Url(m) => ErrorClass::operator(m.clone()),
                WalSenderError::UnsupportedAuth(_) | WalSenderError::PasswordRequired => {
                    ErrorClass::operator(e.to_string())
                }
                _ => ErrorClass::Transient,
            },
            Self::Sql(e) => classify_sqlx(e),
            Self::Capture(e) => match e {
                CaptureError::Produce(p) => p.class(),
                CaptureError::Catalog(s) => classify_sqlx(s),
                CaptureError::State(s) => s.class(),
                CaptureError::Decode { .. } => ErrorClass::operator(format!(
                    "{e}: the server sent a message this version cannot read"
                )),
                _ => ErrorClass::Transient,
            },
            Self::Snapshot(e) => match e {
                snapshot::SnapshotError::Sql { source, .. } => classify_sqlx(source),
                snapshot::SnapshotError::State(s) => s.class(),
                snapshot::SnapshotError::StreamStopped => ErrorClass::Transient,
            },
            Self::Publication(catalog::PublicationError::Sql(e)) => classify_sqlx(e),
            Self::Publication(e) => ErrorClass::operator(e.to_string()),
            Self::Admin(e) => e.class(),
            Self::State(e) => e.class(),
            Self::Kafka(e) => e.class(),
        }
    }
}

/// One running PostgreSQL source.
#[derive(Debug, Clone)]
pub struct PostgresSource {
    source_id: String,
    config: Arc<PostgresSourceConfig>,
    url: Secret<String>,
    kafka: KafkaConfig,
    retry: RetryConfig,
    kafka_metrics: KafkaMetrics,
    metrics: SourceMetrics,
    state_topic: String,
    readiness: Readiness,
}

/// Everything a source needs from the process around it.
#[derive(Debug)]
pub struct SourceContext<'a> {
    pub kafka: &'a KafkaConfig,
    pub retry: &'a RetryConfig,
    pub kafka_metrics: KafkaMetrics,
    pub metrics: &'a Metrics,
    pub readiness: Readiness,
    /// Compacted topic holding connector state.
    pub state_topic: &'a str,
}

impl PostgresSource {
    pub fn new(
        source_id: &str,
        config: PostgresSourceConfig,
        url: Secret<String>,
        ctx: SourceContext<'_>,
    ) -> Self {
        Self {
            source_id: source_id.to_string(),
            config: Arc::new(config),
            url,
            kafka: ctx.kafka.clone(),
            retry: ctx.retry.clone(),
            kafka_metrics: ctx.kafka_metrics,
            metrics: SourceMetrics::register(ctx.metrics, source_id),
            state_topic: ctx.state_topic.to_string(),
            readiness: ctx.readiness,
        }
    }

    /// Runs until `shutdown`, restarting from the slot's confirmed position after transient
    /// failures (with backoff). Returns an error only when an operator must act.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), SourceError> {
        use backon::BackoffBuilder as _;
        let mut delays = self.retry.backoff().build();
        loop {
            let started = std::time::Instant::now();
            let outcome = self.run_once(&shutdown).await;
            if started.elapsed() > Duration::from_secs(60) {
                // It ran for a while: the next failure is a new incident, not the same one.
                delays = self.retry.backoff().build();
            }
            match outcome {
                Ok(()) => return Ok(()),
                Err(e) => match e.class() {
                    ErrorClass::Transient => {
                        self.readiness.not_ready(e.to_string());
                        let delay = delays.next().unwrap_or(Duration::from_secs(30));
                        tracing::warn!(source = %self.source_id, error = %e, ?delay, "connector restarting from the confirmed position");
                        self.kafka_metrics.record_retry(STAGE);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = shutdown.cancelled() => return Ok(()),
                        }
                    }
                    ErrorClass::NeedsOperator { hint } => {
                        self.readiness.not_ready(hint.clone());
                        tracing::error!(source = %self.source_id, error = %e, %hint, "connector stopped: operator action needed");
                        return Err(e);
                    }
                    ErrorClass::DeadLetter { .. } => return Err(e),
                },
            }
        }
    }

    fn state_key(&self, aspect: &str) -> String {
        format!("source-postgres/{}/{aspect}", self.source_id)
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), SourceError> {
        let url = self.url.expose();
        // A producer per run: after delivery timeouts an idempotent producer can be left in a
        // fatal state, and a restart must not inherit it.
        let producer = EventProducer::new(
            &self.kafka,
            &format!("source-postgres-{}", self.source_id),
            self.kafka_metrics.clone(),
        )?;
        let mut sql = catalog::connect(url).await?;
        let tables = catalog::captured_tables(&mut sql, &self.config).await?;
        if tables.is_empty() {
            return Err(SourceError::NeedsOperator(format!(
                "no table matches {:?} in source {}",
                self.config.tables, self.source_id
            )));
        }
        let mut infos = Vec::with_capacity(tables.len());
        for t in &tables {
            let info = catalog::table_info(&mut sql, t).await?;
            if let Some(problem) = info.identity_problem() {
                return Err(SourceError::NeedsOperator(problem));
            }
            infos.push(info);
        }
        let added = catalog::ensure_publication(
            &mut sql,
            &self.config.publication,
            &tables,
            self.config.create_publication,
        )
        .await?;
        if !added.is_empty() {
            tracing::info!(source = %self.source_id, publication = %self.config.publication, tables = ?added.iter().map(|t| t.dotted()).collect::<Vec<_>>(), "tables added to publication");
        }

        let admin = TopicAdmin::new(&self.kafka)?;
        let mut topics: Vec<String> = infos
            .iter()
            .map(|i| {
                format!(
                    "{}.{}.{}.{}",
                    self.config.topic_prefix, self.source_id, i.table.schema, i.table.name
                )
            })
            .collect();
        topics.push(dead_letter_topic(STAGE));
        admin
            .ensure_topics(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        let state = StateStore::open(&self.kafka, &self.state_topic, producer.clone()).await?;

        let options = ConnectOptions::from_url(url, &format!("lienthong-{}", self.source_id))?;
        let mut replication = ReplicationConnection::connect(&options).await?;
        let snapshot_key = self.state_key("snapshot");
        // The initial snapshot reads the slot's exported snapshot when this run creates the
        // slot; one resumed after a crash continues with watermarks while streaming.
        let mut exported: Option<(ExportedSnapshot, Lsn)> = None;
        let mut pending_snapshot = match catalog::slot_info(&mut sql, &self.config.slot).await? {
            None => {
                // Save the snapshot plan before the slot exists: a crash in between must not
                // leave a slot without its snapshot.
                let plan = (self.config.snapshot.mode == SnapshotMode::Initial)
                    .then(|| SnapshotState::new(&infos));
                if let Some(plan) = &plan {
                    snapshot::save(&state, &snapshot_key, plan).await?;
                }
                let slot = replication
                    .create_slot(&self.config.slot, plan.is_some())
                    .await?;
                tracing::info!(source = %self.source_id, slot = %slot.name, consistent_point = %lsn_to_string(slot.consistent_point), "replication slot created");
                if let Some(name) = &slot.snapshot_name {
                    // Imported before the replication connection's next command ends it.
                    let reader = ExportedSnapshot::import(catalog::connect(url).await?, name)
                        .await
                        .map_err(|source| SnapshotError::Sql {
                            table: "(importing the exported snapshot)".into(),
                            source,
                        })?;
                    exported = Some((reader, slot.consistent_point));
                }
                plan
            }
            Some(slot) => {
                if slot.wal_status.as_deref() == Some("lost") {
                    return Err(SourceError::NeedsOperator(format!(
                        "replication slot {} lost WAL it needed (wal_status = lost): changes were missed; drop the slot and let the connector re-snapshot",
                        self.config.slot
                    )));
                }
                if slot.plugin.as_deref() != Some("pgoutput") {
                    return Err(SourceError::NeedsOperator(format!(
                        "replication slot {} uses plugin {:?}, not pgoutput",
                        self.config.slot, slot.plugin
                    )));
                }
                snapshot::load(&state, &snapshot_key)
                    .await?
                    .filter(|s| !s.complete())
            }
        };

        let mut versions: SchemaVersions = state
            .load(&self.state_key("schemas"))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let catalog_tables: Vec<_> = infos
            .iter()
            .map(|i| (i.as_relation(), i.primary_key.clone()))
            .collect();
        // Register catalog versions now so the first events already carry them.
        for (relation, _) in &catalog_tables {
            versions.version_for(
                &relation.namespace,
                &relation.name,
                &crate::events::relation_fingerprint(relation),
            );
        }

        let spill_dir = self.config.spill_dir.join(&self.source_id);
        crate::spill::clear(&spill_dir).map_err(CaptureError::Spill)?;

        let (ack_tx, ack_rx) = mpsc::channel(self.config.max_in_flight);
        let (confirmed_tx, mut confirmed_rx) = watch::channel::<Lsn>(0);
        let mut acker = tokio::spawn(
            Acker {
                items: ack_rx,
                confirmed: confirmed_tx,
                commit_to_ack: self.metrics.commit_to_ack.clone(),
            }
            .run(),
        );
        let (chunk_tx, chunk_rx) = mpsc::channel(1);
        let queue_key = self.state_key("snapshot-queue");
        let mut queue: Vec<String> = state
            .load(&queue_key)
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let spawn_snapshot = |plan: SnapshotState, conn: PgConnection| {
            tokio::spawn(snapshot::run(
                conn,
                plan,
                infos.clone(),
                self.config.snapshot.chunk_size,
                chunk_tx.clone(),
                state.clone(),
                snapshot_key.clone(),
            ))
        };
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let mut processor = StreamProcessor::new(ProcessorParts {
            source_id: self.source_id.clone(),
            database: options.database.clone(),
            config: self.config.clone(),
            producer: producer.clone(),
            dlq,
            acks: ack_tx,
            keys: CatalogKeys(sql),
            versions,
            metrics: self.metrics.clone(),
            chunks: chunk_rx,
            catalog_tables,
        });
        let mut schemas_dirty = processor.take_versions_dirty();
        self.readiness.ready();

        if let Some((reader, consistent_point)) = exported.take()
            && let Some(plan) = pending_snapshot.take()
        {
            let outcome = self
                .exported_snapshot(
                    reader,
                    plan,
                    consistent_point,
                    &infos,
                    &mut processor,
                    (&state, &snapshot_key),
                    shutdown,
                )
                .await;
            match outcome {
                Ok(true) => {}
                Ok(false) => {
                    drop(processor);
                    let _ = tokio::time::timeout(Duration::from_secs(30), &mut acker).await;
                    tracing::info!(source = %self.source_id, "connector stopped during the initial snapshot; it resumes on restart");
                    return Ok(());
                }
                Err(e) => {
                    acker.abort();
                    return Err(match e {
                        SourceError::Capture(CaptureError::AckerStopped) => {
                            acker_error(&mut acker).await
                        }
                        other => other,
                    });
                }
            }
        }

        let mut stream = replication
            .start_replication(&self.config.slot, 0, &self.config.publication)
            .await?;
        tracing::info!(source = %self.source_id, slot = %self.config.slot, "streaming changes");
        let mut snapshot_task = match pending_snapshot {
            Some(plan) => Some(spawn_snapshot(plan, catalog::connect(url).await?)),
            None => None,
        };
        let heartbeat = self.spawn_heartbeat(url).await;

        let mut received: Lsn = 0;
        let mut status =
            tokio::time::interval(Duration::from_millis(self.config.status_interval_ms));
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result: Result<(), SourceError> = loop {
            if snapshot_task.is_none() && !queue.is_empty() {
                let tables: Vec<TableInfo> = infos
                    .iter()
                    .filter(|i| queue.contains(&i.table.dotted()))
                    .cloned()
                    .collect();
                let plan = SnapshotState::new(&tables);
                snapshot::save(&state, &snapshot_key, &plan).await?;
                queue.clear();
                state.save(&queue_key, b"[]").await?;
                tracing::info!(source = %self.source_id, tables = ?plan.tables.iter().map(|t| &t.table).collect::<Vec<_>>(), "incremental snapshot starting");
                snapshot_task = Some(spawn_snapshot(plan, catalog::connect(url).await?));
            }
            if schemas_dirty {
                let bytes = serde_json::to_vec(processor.versions()).unwrap_or_default();
                state.save(&self.state_key("schemas"), &bytes).await?;
            }
            tokio::select! {
                frame = stream.next_frame() => {
                    match frame? {
                        ServerFrame::XLogData { wal_start, wal_end, data, .. } => {
                            received = received.max(wal_end);
                            if let Err(e) = processor.handle(wal_start, &data).await {
                                break Err(match e {
                                    // The acker's own error says why.
                                    CaptureError::AckerStopped => acker_error(&mut acker).await,
                                    other => other.into(),
                                });
                            }
                        }
                        ServerFrame::Keepalive { wal_end, reply_requested, .. } => {
                            received = received.max(wal_end);
                            if reply_requested {
                                let flushed = *confirmed_rx.borrow();
                                stream.send_status(received, flushed, flushed).await?;
                            }
                        }
                    }
                    schemas_dirty = processor.take_versions_dirty();
                    let requested = processor.take_snapshot_requests();
                    if !requested.is_empty() {
                        for table in requested {
                            if !infos.iter().any(|i| i.table.dotted() == table) {
                                tracing::warn!(source = %self.source_id, %table, "snapshot requested for a table this source does not capture; ignored");
                            } else if !queue.contains(&table) {
                                queue.push(table);
                            }
                        }
                        // Saved before the signal's commit can be confirmed: the request
                        // survives a crash.
                        state.save(&queue_key, &serde_json::to_vec(&queue).unwrap_or_default()).await?;
                    }
                }
                _ = status.tick() => {
                    let flushed = *confirmed_rx.borrow();
                    self.metrics.confirmed_lsn.set(flushed as i64);
                    stream.send_status(received.max(flushed), flushed, flushed).await?;
                }
                _ = confirmed_rx.changed() => {}
                done = &mut acker => {
                    break match done {
                        Ok(Ok(())) => Err(CaptureError::AckerStopped.into()),
                        Ok(Err(e)) => Err(CaptureError::Produce(e).into()),
                        Err(_) => Err(CaptureError::AckerStopped.into()),
                    };
                }
                done = async { match snapshot_task.as_mut() { Some(t) => t.await, None => std::future::pending().await } } => {
                    snapshot_task = None;
                    match done {
                        Ok(Ok(finished)) => {
                            let rows: u64 = finished.tables.iter().map(|t| t.rows).sum();
                            tracing::info!(source = %self.source_id, rows, "snapshot complete");
                        }
                        Ok(Err(e)) => break Err(e.into()),
                        Err(_) => break Err(CaptureError::AckerStopped.into()),
                    }
                }
                _ = shutdown.cancelled() => {
                    // Everything enqueued so far gets its acknowledgement, then the last
                    // position is confirmed.
                    drop(processor);
                    let drained = tokio::time::timeout(Duration::from_secs(30), &mut acker).await;
                    let flushed = *confirmed_rx.borrow();
                    let _ = stream.send_status(received.max(flushed), flushed, flushed).await;
                    tracing::info!(source = %self.source_id, confirmed = %lsn_to_string(flushed), drained = drained.is_ok(), "connector stopped");
                    break Ok(());
                }
            }
        };
        heartbeat.abort();
        if let Some(task) = snapshot_task {
            task.abort();
        }
        acker.abort();
        result
    }

    /// Reads every table of `plan` from the slot's exported snapshot and publishes it before
    /// streaming starts, saving progress after each acknowledged chunk. Returns `false` when
    /// shutdown interrupted it (the saved progress resumes with watermarks on restart).
    #[allow(clippy::too_many_arguments)]
    async fn exported_snapshot<K: KeyLookup>(
        &self,
        mut reader: ExportedSnapshot,
        mut plan: SnapshotState,
        consistent_point: Lsn,
        infos: &[TableInfo],
        processor: &mut StreamProcessor<K>,
        (state, key): (&StateStore, &str),
        shutdown: &Shutdown,
    ) -> Result<bool, SourceError> {
        let chunk_size = self.config.snapshot.chunk_size;
        tracing::info!(source = %self.source_id, consistent_point = %lsn_to_string(consistent_point), tables = plan.tables.len(), "initial snapshot from the slot's exported snapshot");
        for index in 0..plan.tables.len() {
            let name = plan.tables[index].table.clone();
            let Some(info) = infos.iter().find(|i| i.table.dotted() == name) else {
                plan.tables[index].done = true;
                continue;
            };
            tracing::info!(table = %name, estimated_rows = info.estimated_rows, "snapshot of table starting");
            while !plan.tables[index].done {
                if shutdown.is_triggered() {
                    return Ok(false);
                }
                let after = plan.tables[index].last_key.clone();
                let rows = reader
                    .read_chunk(info, after.as_deref(), chunk_size)
                    .await
                    .map_err(|source| SnapshotError::Sql {
                        table: name.clone(),
                        source,
                    })?;
                let read = rows.len();
                let last_key = rows.last().map(|r| snapshot::key_text(info, r));
                let (published, acknowledged) = oneshot::channel();
                let chunk = Chunk {
                    id: format!("exported:{}", plan.id),
                    snapshot_id: plan.id.clone(),
                    table: name.clone(),
                    number: plan.tables[index].chunks,
                    rows,
                    published,
                };
                processor
                    .publish_exported_chunk(chunk, consistent_point)
                    .await?;
                acknowledged.await.map_err(|_| CaptureError::AckerStopped)?;
                plan.tables[index].record_chunk(read, last_key, chunk_size, info.estimated_rows);
                snapshot::save(state, key, &plan).await?;
            }
        }
        let rows: u64 = plan.tables.iter().map(|t| t.rows).sum();
        tracing::info!(source = %self.source_id, rows, "snapshot complete");
        // Releasing the snapshot early only helps vacuum; a failure here loses nothing.
        if let Err(e) = reader.finish().await {
            tracing::warn!(source = %self.source_id, error = %e, "ending the snapshot transaction failed");
        }
        Ok(true)
    }

    async fn spawn_heartbeat(&self, url: &str) -> tokio::task::JoinHandle<()> {
        let interval = self.config.heartbeat_interval_ms;
        let slot = self.config.slot.clone();
        let metrics = self.metrics.clone();
        let url = url.to_string();
        let source = self.source_id.clone();
        tokio::spawn(async move {
            if interval == 0 {
                return;
            }
            let mut ticker = tokio::time::interval(Duration::from_millis(interval));
            let mut conn: Option<PgConnection> = None;
            loop {
                ticker.tick().await;
                if conn.is_none() {
                    conn = catalog::connect(&url).await.ok();
                }
                let Some(c) = conn.as_mut() else { continue };
                let now = format!("{:?}", std::time::SystemTime::now());
                if let Err(e) = catalog::emit_message(c, MESSAGE_PREFIX_HEARTBEAT, &now).await {
                    tracing::warn!(source = %source, error = %e, "heartbeat failed");
                    conn = None;
                    continue;
                }
                if let Ok(Some(lag)) = catalog::slot_lag_bytes(c, &slot).await {
                    metrics.slot_lag_bytes.set(lag);
                }
            }
        })
    }
}

/// The error that ended the acknowledgement task.
async fn acker_error(
    acker: &mut tokio::task::JoinHandle<Result<(), lienthong_runtime::kafka::ProduceError>>,
) -> SourceError {
    match tokio::time::timeout(Duration::from_secs(5), acker).await {
        Ok(Ok(Err(e))) => CaptureError::Produce(e).into(),
        _ => CaptureError::AckerStopped.into(),
    }
}

/// Primary keys from the catalog, over the connector's SQL connection.
#[derive(Debug)]
pub struct CatalogKeys(pub PgConnection);

impl KeyLookup for CatalogKeys {
    async fn primary_key(&mut self, schema: &str, table: &str) -> Result<Vec<String>, sqlx::Error> {
        let info: TableInfo = catalog::table_info(
            &mut self.0,
            &catalog::TableRef {
                schema: schema.to_string(),
                name: table.to_string(),
            },
        )
        .await?;
        Ok(info.primary_key)
    }
}
