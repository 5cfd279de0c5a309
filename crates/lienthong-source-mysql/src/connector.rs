//! The connector: checks the source, takes the initial snapshot (or resumes it), streams the
//! binlog from the confirmed position, saves positions once the broker acknowledged them, and
//! restarts from the last saved position after any transient failure.
//!
//! State in the state topic, per source:
//!
//! | key | what |
//! |---|---|
//! | `source-mysql/<id>/position` | the confirmed [`StreamPosition`]: GTID state, file, offset |
//! | `source-mysql/<id>/snapshot` | snapshot progress ([`SnapshotState`]) |
//! | `source-mysql/<id>/schemas` | schema versions of the captured tables |
//!
//! Unlike a PostgreSQL slot, the server keeps no position for a binlog reader: the saved
//! position is the only one. It is saved only after every event before it was acknowledged, and
//! at most `position_save_interval_ms` behind the confirmed one, so a kill -9 replays at most
//! that window (same events, same idempotency keys). The server must keep binlogs longer than
//! the connector can be down (`binlog_expire_logs_seconds`); a purged position stops the
//! connector with a message saying so.

use std::sync::Arc;
use std::time::Duration;

use lienthong_runtime::config::Secret;
use lienthong_runtime::error::{Classify, ErrorClass, classify_sqlx};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventProducer, KafkaConfig, StateStore, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::{Metrics, Shutdown};
use sqlx::mysql::MySqlConnection;
use tokio::sync::{mpsc, oneshot, watch};

use crate::binlog::ServerFlavor;
use crate::capture::{
    Acker, CaptureError, CatalogLookup, ProcessorParts, SnapshotChunk, StreamProcessor,
};
use crate::catalog::{self, CatalogTable, TableRef};
use crate::client::{BinlogConnection, ClientError, server_errors};
use crate::config::{MysqlSourceConfig, SnapshotMode};
use crate::metrics::SourceMetrics;
use crate::position::StreamPosition;
use crate::schema_versions::SchemaVersions;
use crate::snapshot::{ConsistentSnapshot, ResumeFilter, SnapshotState};

/// The stage name in dead-letter topics and metrics.
pub const STAGE: &str = "source-mysql";

/// Why the connector stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    NeedsOperator(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("source database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Capture(#[from] CaptureError),
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
            Self::Client(e) => match e.server_code() {
                Some(server_errors::FATAL_READING_BINLOG) => ErrorClass::operator(format!(
                    "{e}: the saved position is no longer in the server's binlogs (purged, or the server was replaced). Changes since were missed: delete this source's state (source-mysql/<id>/*) to take a new snapshot, and keep binlogs longer (binlog_expire_logs_seconds)"
                )),
                Some(server_errors::SPECIFIC_ACCESS_DENIED) => ErrorClass::operator(format!(
                    "{e}: GRANT REPLICATION SLAVE ON *.* TO the connector's user"
                )),
                Some(server_errors::ACCESS_DENIED | server_errors::DB_ACCESS_DENIED) => {
                    ErrorClass::operator(format!("{e}: check the user and password"))
                }
                _ => match e {
                    ClientError::Url(m) => ErrorClass::operator(m.clone()),
                    _ => ErrorClass::Transient,
                },
            },
            Self::Sql(e) => classify_sqlx(e),
            Self::Capture(e) => match e {
                CaptureError::Produce(p) => p.class(),
                CaptureError::Catalog(s) => classify_sqlx(s),
                CaptureError::AckerStopped => ErrorClass::Transient,
                CaptureError::Decode { .. } => ErrorClass::operator(format!(
                    "{e}: the server sent an event this version cannot read"
                )),
                other => ErrorClass::operator(other.to_string()),
            },
            Self::Admin(e) => e.class(),
            Self::State(e) => e.class(),
            Self::Kafka(e) => e.class(),
        }
    }
}

/// One running MariaDB/MySQL source.
#[derive(Debug, Clone)]
pub struct MysqlSource {
    source_id: String,
    config: Arc<MysqlSourceConfig>,
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

/// Catalog facts over the connector's own SQL connection.
#[derive(Debug)]
pub struct CatalogConnection {
    pub conn: MySqlConnection,
    pub flavor: ServerFlavor,
}

impl CatalogLookup for CatalogConnection {
    async fn table(&mut self, table: &TableRef) -> Result<Option<CatalogTable>, sqlx::Error> {
        catalog::table_info(&mut self.conn, table, self.flavor).await
    }
}

impl MysqlSource {
    pub fn new(
        source_id: &str,
        config: MysqlSourceConfig,
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

    /// Runs until `shutdown`, restarting from the saved position after transient failures
    /// (with backoff). Returns an error only when an operator must act.
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
                        tracing::warn!(source = %self.source_id, error = %e, ?delay, "connector restarting from the saved position");
                        self.kafka_metrics.record_retry(STAGE);
                        tokio::select! {
                            _ = tokio::time::sleep(delay) => {}
                            _ = shutdown.cancelled() => return Ok(()),
                        }
                    }
                    ErrorClass::NeedsOperator { hint } => {
                        self.readiness.not_ready(hint.clone());
                        tracing::error!(source = %self.source_id, error = %e, %hint, "connector stopped: operator action needed");
                        return Err(SourceError::NeedsOperator(hint));
                    }
                    ErrorClass::DeadLetter { .. } => return Err(e),
                },
            }
        }
    }

    fn state_key(&self, aspect: &str) -> String {
        format!("source-mysql/{}/{aspect}", self.source_id)
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), SourceError> {
        let url = self.url.expose();
        // A producer per run: after delivery timeouts an idempotent producer can be left in a
        // fatal state, and a restart must not inherit it.
        let producer = EventProducer::new(
            &self.kafka,
            &format!("source-mysql-{}", self.source_id),
            self.kafka_metrics.clone(),
        )?;
        let mut sql = catalog::connect(url).await?;
        let server = catalog::server_info(&mut sql).await?;
        if server.server_id == self.config.server_id {
            return Err(SourceError::NeedsOperator(format!(
                "server_id {} of source {} is the source server's own @@server_id: choose another value for [source_mysql.{}].server_id",
                self.config.server_id, self.source_id, self.source_id
            )));
        }
        let tables = catalog::captured_tables(&mut sql, &self.config).await?;
        if tables.is_empty() {
            return Err(SourceError::NeedsOperator(format!(
                "no table matches {:?} in source {}",
                self.config.tables, self.source_id
            )));
        }
        for t in &tables {
            if let Some(info) = catalog::table_info(&mut sql, t, server.flavor).await?
                && let Some(problem) = info.capture_problem()
            {
                return Err(SourceError::NeedsOperator(problem));
            }
        }

        let admin = TopicAdmin::new(&self.kafka)?;
        let mut topics: Vec<String> = tables
            .iter()
            .map(|t| {
                format!(
                    "{}.{}.{}.{}",
                    self.config.topic_prefix, self.source_id, t.database, t.name
                )
            })
            .collect();
        topics.push(dead_letter_topic(STAGE));
        admin
            .ensure_topics(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        let state = StateStore::open(&self.kafka, &self.state_topic, producer.clone()).await?;
        let position_key = self.state_key("position");
        let snapshot_key = self.state_key("snapshot");
        let schemas_key = self.state_key("schemas");
        let saved_position: Option<StreamPosition> = load_json(&state, &position_key).await?;
        let saved_snapshot: Option<SnapshotState> = load_json(&state, &snapshot_key).await?;
        let versions: SchemaVersions = load_json(&state, &schemas_key).await?.unwrap_or_default();

        // Where streaming starts, and the snapshot to take first, if any.
        let dotted: Vec<String> = tables.iter().map(TableRef::dotted).collect();
        let mut pending: Option<(SnapshotState, ConsistentSnapshot)> = None;
        let start = match (saved_position, saved_snapshot.clone()) {
            (None, _) if self.config.snapshot.mode == SnapshotMode::Initial => {
                let view =
                    ConsistentSnapshot::open(catalog::connect(url).await?, server.flavor).await?;
                let plan = SnapshotState::new(&dotted, &view.position);
                // The plan first: a crash before the position is saved starts over cleanly.
                save_json(&state, &snapshot_key, &plan).await?;
                save_json(&state, &position_key, &view.position).await?;
                tracing::info!(source = %self.source_id, position = %view.position, tables = dotted.len(), "initial snapshot starting");
                let start = view.position.clone();
                pending = Some((plan, view));
                start
            }
            (None, _) => {
                let position = catalog::current_position(&mut sql, server.flavor).await?;
                save_json(&state, &position_key, &position).await?;
                tracing::info!(source = %self.source_id, %position, "no snapshot (snapshot.mode = never): streaming from the current position");
                position
            }
            (Some(position), Some(mut plan)) if !plan.complete() => {
                let view =
                    ConsistentSnapshot::open(catalog::connect(url).await?, server.flavor).await?;
                plan.resume_at(&view.position);
                save_json(&state, &snapshot_key, &plan).await?;
                tracing::info!(source = %self.source_id, stream_start = %position, view = %view.position, "resuming the interrupted snapshot in a new read view");
                pending = Some((plan, view));
                position
            }
            (Some(position), _) => position,
        };
        let resume_filter = match (&pending, &saved_snapshot) {
            (Some((plan, _)), _) => ResumeFilter::new(plan),
            (None, Some(plan)) => ResumeFilter::new(plan),
            (None, None) => ResumeFilter::default(),
        };

        let (ack_tx, ack_rx) = mpsc::channel(self.config.max_in_flight);
        let (confirmed_tx, mut confirmed_rx) = watch::channel::<Option<StreamPosition>>(None);
        let mut acker = tokio::spawn(
            Acker {
                items: ack_rx,
                confirmed: confirmed_tx,
                metrics: self.metrics.clone(),
            }
            .run(),
        );
        let dlq = DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone());
        let mut processor = StreamProcessor::new(ProcessorParts {
            source_id: self.source_id.clone(),
            config: self.config.clone(),
            producer: producer.clone(),
            dlq,
            acks: ack_tx,
            lookup: CatalogConnection {
                conn: sql,
                flavor: server.flavor,
            },
            versions,
            metrics: self.metrics.clone(),
            start: start.clone(),
            resume_filter,
        });
        self.readiness.ready();

        if let Some((plan, view)) = pending.take() {
            let outcome = self
                .snapshot(
                    view,
                    plan,
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
                    tracing::info!(source = %self.source_id, "connector stopped during the snapshot; it resumes on restart");
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
        if processor.take_versions_dirty() {
            save_json(&state, &schemas_key, processor.versions()).await?;
        }

        let mut binlog = BinlogConnection::start(
            crate::client::connection_options(url)?,
            self.config.server_id,
            server.flavor,
            &start,
            Duration::from_millis(self.config.heartbeat_interval_ms),
        )
        .await?;
        tracing::info!(source = %self.source_id, from = %start, "streaming changes");

        let mut saved = Some(start);
        let mut save_tick =
            tokio::time::interval(Duration::from_millis(self.config.position_save_interval_ms));
        save_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let result: Result<(), SourceError> = loop {
            tokio::select! {
                event = binlog.next_event() => {
                    let bytes = match event {
                        Ok(bytes) => bytes,
                        Err(e) => break Err(e.into()),
                    };
                    if let Err(e) = processor.handle(&bytes).await {
                        break Err(match e {
                            // The acker's own error says why.
                            CaptureError::AckerStopped => acker_error(&mut acker).await,
                            other => other.into(),
                        });
                    }
                    if processor.take_versions_dirty()
                        && let Err(e) = save_json(&state, &schemas_key, processor.versions()).await
                    {
                        break Err(e);
                    }
                }
                _ = save_tick.tick() => {
                    let confirmed = confirmed_rx.borrow_and_update().clone();
                    if confirmed.is_some() && confirmed != saved {
                        if let Some(position) = &confirmed
                            && let Err(e) = save_json(&state, &position_key, position).await
                        {
                            break Err(e);
                        }
                        saved = confirmed;
                    }
                }
                done = &mut acker => {
                    break match done {
                        Ok(Ok(())) => Err(CaptureError::AckerStopped.into()),
                        Ok(Err(e)) => Err(CaptureError::Produce(e).into()),
                        Err(_) => Err(CaptureError::AckerStopped.into()),
                    };
                }
                _ = shutdown.cancelled() => {
                    // Everything enqueued so far gets its acknowledgement, then the last
                    // confirmed position is saved.
                    drop(processor);
                    let drained = tokio::time::timeout(Duration::from_secs(30), &mut acker).await;
                    let confirmed = confirmed_rx.borrow().clone();
                    if let Some(position) = &confirmed
                        && confirmed != saved
                    {
                        save_json(&state, &position_key, position).await?;
                    }
                    tracing::info!(source = %self.source_id, confirmed = ?confirmed.map(|p| p.to_string()), drained = drained.is_ok(), "connector stopped");
                    break Ok(());
                }
            }
        };
        acker.abort();
        result
    }

    /// Reads every unfinished table of `plan` in `view` and publishes it before streaming
    /// starts, saving progress after each acknowledged chunk. Returns `false` when shutdown
    /// interrupted it (the saved progress resumes on restart).
    async fn snapshot<L: CatalogLookup>(
        &self,
        mut view: ConsistentSnapshot,
        mut plan: SnapshotState,
        processor: &mut StreamProcessor<L>,
        (state, key): (&StateStore, &str),
        shutdown: &Shutdown,
    ) -> Result<bool, SourceError> {
        let chunk_size = self.config.snapshot.chunk_size;
        let taken_at = crate::capture::now_timestamp();
        for index in 0..plan.tables.len() {
            if plan.tables[index].done {
                continue;
            }
            let name = plan.tables[index].table.clone();
            let table_ref = name
                .split_once('.')
                .map(|(d, t)| TableRef::new(d, t))
                .unwrap_or_else(|| TableRef::new("", &name));
            let Some(table) = processor.table_version(&table_ref).await? else {
                // Dropped, or no longer captured: nothing to read.
                plan.tables[index].done = true;
                continue;
            };
            tracing::info!(table = %name, estimated_rows = table.catalog.estimated_rows, resumed_after = ?plan.tables[index].last_key, "snapshot of table starting");
            while !plan.tables[index].done {
                if shutdown.is_triggered() {
                    return Ok(false);
                }
                let after = plan.tables[index].last_key.clone();
                let rows = view
                    .read_chunk(&table, after.as_deref(), chunk_size)
                    .await?;
                let read = rows.len();
                let last_key = match rows.last() {
                    Some(row) => {
                        Some(table.key_of(row, None).map(|(_, text)| text).map_err(|e| {
                            SourceError::NeedsOperator(format!(
                                "snapshot of {name}: a row's primary key cannot be read: {e}"
                            ))
                        })?)
                    }
                    None => None,
                };
                let (published, acknowledged) = oneshot::channel();
                processor
                    .publish_snapshot_chunk(
                        &table,
                        SnapshotChunk {
                            snapshot_id: plan.id.clone(),
                            number: plan.tables[index].chunks,
                            rows,
                            consistent_with: view.position.clone(),
                            taken_at,
                            published,
                        },
                    )
                    .await?;
                acknowledged.await.map_err(|_| CaptureError::AckerStopped)?;
                plan.tables[index].record_chunk(
                    read,
                    last_key,
                    chunk_size,
                    table.catalog.estimated_rows,
                );
                save_json(state, key, &plan).await?;
            }
        }
        let rows: u64 = plan.tables.iter().map(|t| t.rows).sum();
        tracing::info!(source = %self.source_id, rows, "snapshot complete");
        // Ending the view early only releases undo history; a failure here loses nothing.
        if let Err(e) = view.finish().await {
            tracing::warn!(source = %self.source_id, error = %e, "ending the snapshot transaction failed");
        }
        Ok(true)
    }
}

/// Saves a value as JSON under `key`, waiting for the broker's acknowledgement.
async fn save_json<T: serde::Serialize>(
    state: &StateStore,
    key: &str,
    value: &T,
) -> Result<(), SourceError> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        SourceError::NeedsOperator(format!("state {key} cannot be serialised: {e}"))
    })?;
    state.save(key, &bytes).await?;
    Ok(())
}

/// Loads a JSON value saved under `key`. A value that does not parse is an operator matter: the
/// state topic was written by something else, and guessing a position could lose data.
async fn load_json<T: serde::de::DeserializeOwned>(
    state: &StateStore,
    key: &str,
) -> Result<Option<T>, SourceError> {
    match state.load(key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            SourceError::NeedsOperator(format!(
                "state {key} in the state topic does not parse ({e}); delete it to start this source over with a snapshot"
            ))
        }),
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
