//! The connector: reads each table in keyset pages from its saved cursor, publishes the rows,
//! saves the cursor once the broker acknowledged them, sleeps, and polls again; runs the full
//! compare when it is due; restarts from the saved state after any transient failure.
//!
//! State in the state topic, per source:
//!
//! | key | what |
//! |---|---|
//! | `source-poll/<id>/table/<schema.table>` | the table's [`TableState`]: cursor, initial-load flag, safety window |
//! | `source-poll/<id>/schemas` | schema versions of the polled tables |
//! | `source-poll/<id>/compare` | when the last full compare completed ([`CompareState`]) |
//!
//! **Delivery.** A page's events are handed to the producer, then every acknowledgement is
//! awaited, then the table's state (cursor past the page, window) is saved and acknowledged,
//! and only then is the next page of that table read. A kill -9 at any point repeats at most
//! the page in flight: its rows are read again from the saved cursor and published again with
//! the same idempotency keys and positions.
//!
//! **A poll.** Each table first re-reads its safety window (rows between the window's floor
//! and the cursor; see [`crate::state`]) and publishes the rows it does not remember, then
//! reads the rows after the cursor. Tables take turns page by page. When every table was read
//! to its end the connector sleeps `poll_interval_ms`. The catalog of each table is read again
//! before each poll; a change of its columns is a new schema version.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lienthong_proto::v1::{DeadLetter, Value};
use lienthong_runtime::config::Secret;
use lienthong_runtime::error::{Classify, ErrorClass, classify_kafka, classify_sqlx};
use lienthong_runtime::health::Readiness;
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventProducer, KafkaConfig, OutboundRecord, PendingDelivery, RecordHeaders,
    StateStore, TopicAdmin, dead_letter_topic,
};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_runtime::retry::RetryConfig;
use lienthong_runtime::{Metrics, Shutdown};

use crate::catalog::{CatalogTable, TableName};
use crate::compare::{self, key_identity};
use crate::config::{PollSourceConfig, PollTableConfig};
use crate::cursor::{WindowUnit, floor_cell, window_point};
use crate::database::SourceDb;
use crate::dialect::{Bind, Dialect, PageStart};
use crate::events::{Masker, PolledRow, PolledTable, Publish, RowContext, now_timestamp};
use crate::metrics::SourceMetrics;
use crate::schema_versions::SchemaVersions;
use crate::state::{CompareState, TableState};
use crate::values::{Cell, to_proto};

/// The stage name in dead-letter topics and metrics.
pub const STAGE: &str = "source-poll";

/// Why the connector stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    NeedsOperator(String),
    #[error("source database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Produce(#[from] lienthong_runtime::kafka::ProduceError),
    #[error(transparent)]
    Admin(#[from] lienthong_runtime::kafka::AdminError),
    #[error(transparent)]
    State(#[from] lienthong_runtime::kafka::StateError),
    #[error(transparent)]
    Kafka(#[from] lienthong_runtime::kafka::KafkaError),
    #[error("reading {topic} for the full compare: {source}")]
    TopicRead {
        topic: String,
        #[source]
        source: lienthong_runtime::kafka::KafkaError,
    },
}

impl Classify for SourceError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NeedsOperator(hint) => ErrorClass::operator(hint.clone()),
            Self::Sql(e) => classify_source_sql(e),
            Self::Produce(e) => e.class(),
            Self::Admin(e) => e.class(),
            Self::State(e) => e.class(),
            Self::Kafka(e) => e.class(),
            Self::TopicRead { source, .. } => classify_kafka(source),
        }
    }
}

/// Source database errors: SQLite's "busy"/"locked" (a writer holds the file longer than the
/// busy timeout) are transient; a failure to read a value is an operator matter here, since
/// values are read as text or raw storage and a failure means the driver and the catalog
/// disagree. Everything else as every stage classifies it.
fn classify_source_sql(error: &sqlx::Error) -> ErrorClass {
    if let sqlx::Error::Database(db) = error
        && matches!(
            db.code().as_deref(),
            Some("5" | "6" | "261" | "262" | "517")
        )
        && db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
    {
        return ErrorClass::Transient;
    }
    match classify_sqlx(error) {
        ErrorClass::DeadLetter { .. } => {
            ErrorClass::operator(format!("reading rows from the source failed: {error}"))
        }
        other => other,
    }
}

/// One polled source.
#[derive(Debug, Clone)]
pub struct PollSource {
    source_id: String,
    config: Arc<PollSourceConfig>,
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

impl PollSource {
    pub fn new(
        source_id: &str,
        config: PollSourceConfig,
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

    /// The source's metrics (for tests and progress reports).
    pub fn metrics(&self) -> &SourceMetrics {
        &self.metrics
    }

    /// Runs until `shutdown`, restarting from the saved state after transient failures (with
    /// backoff). Returns an error only when an operator must act.
    pub async fn run(&self, shutdown: Shutdown) -> Result<(), SourceError> {
        use backon::BackoffBuilder as _;
        let mut delays = self.retry.backoff().build();
        loop {
            let started = Instant::now();
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
                        tracing::warn!(source = %self.source_id, error = %e, ?delay, "connector restarting from the saved cursors");
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
        format!("source-poll/{}/{aspect}", self.source_id)
    }

    async fn run_once(&self, shutdown: &Shutdown) -> Result<(), SourceError> {
        let url = self.url.expose();
        // A producer per run: after delivery timeouts an idempotent producer can be left in a
        // fatal state, and a restart must not inherit it.
        let producer = EventProducer::new(
            &self.kafka,
            &format!("source-poll-{}", self.source_id),
            self.kafka_metrics.clone(),
        )?;
        let mut db = SourceDb::connect(url).await?;
        let database = db.database_name(url).await?;
        let mut catalogs = Vec::with_capacity(self.config.tables.len());
        for table in &self.config.tables {
            let name = table_name(table)?;
            let catalog = db.table(&name).await?.ok_or_else(|| {
                SourceError::NeedsOperator(format!(
                    "table {} of source {} does not exist (or the connector's user cannot see it)",
                    name.dotted(),
                    self.source_id
                ))
            })?;
            for column in &table.cursor {
                if catalog
                    .columns
                    .iter()
                    .any(|c| &c.name == column && c.nullable)
                {
                    tracing::warn!(table = %name.dotted(), %column, "cursor column is nullable: rows where it is NULL are never polled");
                }
            }
            let key = if table.key.is_empty() {
                &catalog.primary_key
            } else {
                &table.key
            };
            let ordering: Vec<String> = table
                .cursor
                .iter()
                .chain(key.iter().filter(|k| !table.cursor.contains(k)))
                .cloned()
                .collect();
            let indexes = db.indexes(&name).await?;
            if !crate::checks::index_check(&name.dotted(), &ordering, &indexes).ok {
                tracing::warn!(table = %name.dotted(), "no index starts with the cursor column: every poll sorts the whole table (`lienthong validate` says which index to create)");
            }
            catalogs.push(catalog);
        }

        let admin = TopicAdmin::new(&self.kafka)?;
        let state = StateStore::open(&self.kafka, &self.state_topic, producer.clone()).await?;
        let schemas_key = self.state_key("schemas");
        let compare_key = self.state_key("compare");
        let mut versions: SchemaVersions =
            load_json(&state, &schemas_key).await?.unwrap_or_default();
        let compare_state: CompareState =
            load_json(&state, &compare_key).await?.unwrap_or_default();
        let mut tables = Vec::with_capacity(catalogs.len());
        for (config, catalog) in self.config.tables.iter().zip(catalogs) {
            let dotted = catalog.table.dotted();
            let (version, _) = versions.version_for(&dotted, &catalog.fingerprint());
            let db_name = database
                .clone()
                .unwrap_or_else(|| catalog.table.schema.clone());
            let polled = PolledTable::new(
                &catalog,
                config,
                &self.config,
                &self.source_id,
                db.dialect(),
                &db_name,
                version,
            )
            .map_err(SourceError::NeedsOperator)?;
            let state_key = self.state_key(&format!("table/{dotted}"));
            let saved: TableState = load_json(&state, &state_key).await?.unwrap_or_default();
            tracing::info!(
                table = %dotted,
                cursor = ?saved.cursor.as_ref().map(|c| c.iter().map(Cell::display).collect::<Vec<_>>()),
                initial_load_done = saved.initial_load_done,
                window_rows = saved.window.len(),
                "table state loaded"
            );
            tables.push(TableRun {
                window: self.config.safety_window(config),
                config: config.clone(),
                polled,
                state: saved,
                state_key,
                scan: Scan::Done,
                previous_cursor: None,
                caught_up_at: None,
            });
        }
        let mut topics: Vec<String> = tables.iter().map(|t| t.polled.topic.clone()).collect();
        topics.push(dead_letter_topic(STAGE));
        admin
            .ensure_topics(&topics.iter().map(String::as_str).collect::<Vec<_>>())
            .await?;
        if versions.take_dirty() {
            save_json(&state, &schemas_key, &versions).await?;
        }

        let mut poller = Poller {
            source_id: self.source_id.clone(),
            config: self.config.clone(),
            kafka: self.kafka.clone(),
            dlq: DeadLetterQueue::new(STAGE, producer.clone(), self.kafka_metrics.clone()),
            producer,
            state,
            admin,
            masker: self
                .config
                .hash_salt
                .as_ref()
                .map(|s| Masker::new(s.expose())),
            metrics: self.metrics.clone(),
            versions,
            schemas_key,
            compare_key,
            compare_state,
            database,
            started: Instant::now(),
            tables,
        };
        self.readiness.ready();
        tracing::info!(source = %self.source_id, tables = poller.tables.len(), "polling");
        let result = poller.run(&mut db, shutdown).await;
        db.close().await;
        if result.is_ok() {
            tracing::info!(source = %self.source_id, "connector stopped");
        }
        result
    }
}

fn table_name(table: &PollTableConfig) -> Result<TableName, SourceError> {
    table
        .schema_and_name()
        .map(|(s, t)| TableName::new(s, t))
        .ok_or_else(|| SourceError::NeedsOperator(format!("`{}` is not schema.table", table.table)))
}

/// Where a table's reading stands within one poll.
#[derive(Debug, Clone)]
enum Scan {
    /// Re-reading the safety window: from `floor` up to the saved cursor, after `after`.
    Window {
        floor: Cell,
        after: Option<Vec<Cell>>,
    },
    /// Reading the rows after the cursor.
    New,
    /// Read to the end for this poll.
    Done,
}

#[derive(Debug)]
struct TableRun {
    config: PollTableConfig,
    polled: PolledTable,
    state: TableState,
    state_key: String,
    /// (date-time milliseconds, integer units).
    window: (u64, u64),
    scan: Scan,
    /// The first cursor column's value when this poll began (for `created_column`).
    previous_cursor: Option<Value>,
    caught_up_at: Option<Instant>,
}

impl TableRun {
    fn dotted(&self) -> String {
        self.polled.catalog.table.dotted()
    }

    /// The first cursor column's cell and value at the saved cursor, with its point.
    fn cursor_point(&self) -> Option<(Cell, Value, i64, WindowUnit)> {
        let cell = self.state.cursor.as_ref()?.first()?.clone();
        let column = &self.polled.catalog.columns[self.polled.cursor[0]];
        let value = to_proto(self.polled.dialect, column, &cell).ok()?;
        let (point, unit) = window_point(&value)?;
        Some((cell, value, point, unit))
    }

    fn window_width(&self, unit: WindowUnit) -> i64 {
        let (ms, ids) = self.window;
        match unit {
            WindowUnit::Micros => i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX),
            WindowUnit::Units => i64::try_from(ids).unwrap_or(i64::MAX),
        }
    }

    /// The safety window's lower bound for the saved cursor: the cell to bind, and the point
    /// it really stands for once written in the column's form (rendering may round down; every
    /// row a re-read returns is at or above it, so the window must remember exactly the rows at
    /// or above it). `None` when no window applies.
    fn window_floor(&self) -> Option<(Cell, i64)> {
        let (cell, value, point, unit) = self.cursor_point()?;
        let width = self.window_width(unit);
        if width == 0 {
            return None;
        }
        let floor_point = self.state.window.floor(point.saturating_sub(width));
        let floor = floor_cell(self.polled.dialect, &cell, &value, floor_point)?;
        let column = &self.polled.catalog.columns[self.polled.cursor[0]];
        let (written, _) = window_point(&to_proto(self.polled.dialect, column, &floor).ok()?)?;
        Some((floor, written))
    }

    /// Plans this poll: the safety window first when it applies, then the new rows.
    fn begin_poll(&mut self) {
        self.previous_cursor = self.state.cursor.as_ref().and_then(|c| {
            let column = &self.polled.catalog.columns[self.polled.cursor[0]];
            c.first()
                .and_then(|cell| to_proto(self.polled.dialect, column, cell).ok())
        });
        self.scan = Scan::New;
        let Some((floor, written)) = self.window_floor() else {
            return;
        };
        if self
            .state
            .window
            .raised_floor()
            .is_some_and(|raised| written < raised)
        {
            // The bound cannot be written precisely enough to leave out rows the window gave
            // up: re-reading them would publish them again at every poll.
            return;
        }
        self.state.window.forget_below(written);
        self.scan = Scan::Window { floor, after: None };
    }
}

/// The running connector's working set.
struct Poller {
    source_id: String,
    config: Arc<PollSourceConfig>,
    kafka: KafkaConfig,
    producer: EventProducer,
    dlq: DeadLetterQueue,
    state: StateStore,
    admin: TopicAdmin,
    masker: Option<Masker>,
    metrics: SourceMetrics,
    versions: SchemaVersions,
    schemas_key: String,
    compare_key: String,
    compare_state: CompareState,
    database: Option<String>,
    started: Instant,
    tables: Vec<TableRun>,
}

/// What one page did.
#[derive(Debug, Default)]
struct PageOutcome {
    rows: usize,
    published: usize,
}

impl Poller {
    async fn run(&mut self, db: &mut SourceDb, shutdown: &Shutdown) -> Result<(), SourceError> {
        loop {
            if shutdown.is_triggered() {
                return Ok(());
            }
            self.refresh_catalogs(db).await?;
            if !self.poll(db, shutdown).await? {
                return Ok(());
            }
            let now_ms = unix_ms();
            if self
                .compare_state
                .due(now_ms, self.config.full_compare_interval_ms)
            {
                self.full_compare(db).await?;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(self.config.poll_interval_ms)) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
        }
    }

    /// Reads every table's catalog again; a changed column list is a new schema version.
    async fn refresh_catalogs(&mut self, db: &mut SourceDb) -> Result<(), SourceError> {
        for index in 0..self.tables.len() {
            let name = self.tables[index].polled.catalog.table.clone();
            let catalog = db.table(&name).await?.ok_or_else(|| {
                SourceError::NeedsOperator(format!(
                    "table {} of source {} no longer exists",
                    name.dotted(),
                    self.source_id
                ))
            })?;
            self.apply_catalog(index, catalog, db.dialect())?;
        }
        if self.versions.take_dirty() {
            save_json(&self.state, &self.schemas_key, &self.versions).await?;
        }
        Ok(())
    }

    fn apply_catalog(
        &mut self,
        index: usize,
        catalog: CatalogTable,
        dialect: Dialect,
    ) -> Result<bool, SourceError> {
        let table = &mut self.tables[index];
        if table.polled.catalog == catalog {
            return Ok(false);
        }
        let dotted = catalog.table.dotted();
        let (version, changed) = self.versions.version_for(&dotted, &catalog.fingerprint());
        if changed {
            tracing::info!(table = %dotted, version, "table schema changed: new schema version");
        }
        let db_name = self
            .database
            .clone()
            .unwrap_or_else(|| catalog.table.schema.clone());
        table.polled = PolledTable::new(
            &catalog,
            &table.config,
            &self.config,
            &self.source_id,
            dialect,
            &db_name,
            version,
        )
        .map_err(SourceError::NeedsOperator)?;
        Ok(true)
    }

    /// One poll of every table, page by page in turns, until each was read to its end.
    /// Returns `false` when shutdown interrupted it.
    async fn poll(&mut self, db: &mut SourceDb, shutdown: &Shutdown) -> Result<bool, SourceError> {
        for table in &mut self.tables {
            table.begin_poll();
        }
        loop {
            let mut active = false;
            for index in 0..self.tables.len() {
                if matches!(self.tables[index].scan, Scan::Done) {
                    continue;
                }
                if shutdown.is_triggered() {
                    return Ok(false);
                }
                active = true;
                self.page(db, index).await?;
            }
            let lag_now = Instant::now();
            for table in &self.tables {
                let since = table.caught_up_at.unwrap_or(self.started);
                self.metrics
                    .cursor_lag_seconds
                    .get_or_create(&SourceMetrics::table(&table.dotted()))
                    .set(lag_now.duration_since(since).as_secs() as i64);
            }
            if !active {
                return Ok(true);
            }
        }
    }

    /// Reads, publishes and confirms one page of table `index`.
    async fn page(&mut self, db: &mut SourceDb, index: usize) -> Result<(), SourceError> {
        let batch = self.config.batch_size;
        let rows = match self.fetch_page(db, index, batch).await {
            Ok(rows) => rows,
            Err(SourceError::Sql(e @ sqlx::Error::Database(_))) => {
                // A DDL statement between the catalog read and the query: read the catalog
                // again and retry once with the new column list.
                let name = self.tables[index].polled.catalog.table.clone();
                let changed = match db.table(&name).await? {
                    Some(catalog) => self.apply_catalog(index, catalog, db.dialect())?,
                    None => false,
                };
                if !changed {
                    return Err(e.into());
                }
                if self.versions.take_dirty() {
                    save_json(&self.state, &self.schemas_key, &self.versions).await?;
                }
                self.fetch_page(db, index, batch).await?
            }
            Err(e) => return Err(e),
        };
        self.metrics.rows_polled.inc_by(rows.len() as u64);
        let full = rows.len() >= batch as usize;
        let in_window = matches!(self.tables[index].scan, Scan::Window { .. });
        let outcome = if in_window {
            self.publish_window_page(index, rows).await?
        } else {
            self.publish_new_page(index, rows).await?
        };
        let table = &mut self.tables[index];
        let mut load_completed = false;
        if !full {
            table.scan = match table.scan {
                Scan::Window { .. } => Scan::New,
                _ => {
                    table.caught_up_at = Some(Instant::now());
                    if !table.state.initial_load_done {
                        table.state.initial_load_done = true;
                        load_completed = true;
                        tracing::info!(table = %table.dotted(), pages = table.state.poll_sequence, "initial load complete");
                    }
                    Scan::Done
                }
            };
        }
        let table = &self.tables[index];
        if load_completed {
            save_json(&self.state, &table.state_key, &table.state).await?;
        }
        self.metrics
            .window_rows
            .get_or_create(&SourceMetrics::table(&table.dotted()))
            .set(table.state.window.len() as i64);
        if outcome.published > 0 {
            tracing::debug!(table = %table.dotted(), rows = outcome.rows, published = outcome.published, "page published");
        }
        Ok(())
    }

    async fn fetch_page(
        &self,
        db: &mut SourceDb,
        index: usize,
        batch: u32,
    ) -> Result<Vec<Vec<Cell>>, SourceError> {
        let table = &self.tables[index];
        let shape = table.polled.shape();
        let empty = Vec::new();
        let cursor = table.state.cursor.as_ref().unwrap_or(&empty);
        let (query, after, floor) = match &table.scan {
            Scan::Window { floor, after } => {
                let start = if after.is_some() {
                    PageStart::After
                } else {
                    PageStart::Floor
                };
                (
                    shape.page(start, true, batch),
                    after.as_ref().unwrap_or(&empty),
                    Some(floor),
                )
            }
            Scan::New if table.state.cursor.is_some() => {
                (shape.page(PageStart::After, false, batch), cursor, None)
            }
            Scan::New | Scan::Done => (shape.page(PageStart::First, false, batch), &empty, None),
        };
        let null = Cell::Null;
        let binds: Vec<&Cell> = query
            .binds
            .iter()
            .map(|b| match b {
                Bind::After(i) => after.get(*i).unwrap_or(&null),
                Bind::UpTo(i) => cursor.get(*i).unwrap_or(&null),
                Bind::Floor => floor.unwrap_or(&null),
            })
            .collect();
        Ok(db.fetch(&query, &binds).await?)
    }

    fn row_context(&self, index: usize, poll_sequence: u64) -> RowContext<'_> {
        let table = &self.tables[index];
        RowContext {
            source_id: &self.source_id,
            masker: self.masker.as_ref(),
            initial_load: !table.state.initial_load_done,
            previous_cursor: table.previous_cursor.as_ref(),
            poll_sequence,
            read_at: now_timestamp(),
        }
    }

    /// A page of the safety-window re-read: rows the window remembers were published already;
    /// the others committed after the cursor passed their value, and are published now.
    async fn publish_window_page(
        &mut self,
        index: usize,
        rows: Vec<Vec<Cell>>,
    ) -> Result<PageOutcome, SourceError> {
        let sequence = self.tables[index].state.poll_sequence + 1;
        let count = rows.len();
        let mut late = Vec::new();
        let mut last = None;
        {
            let ctx = self.row_context(index, sequence);
            let table = &self.tables[index];
            for cells in rows {
                let row = table.polled.poll_row(cells, &ctx);
                last = Some(row.ordering.clone());
                // Rows without a place on the window's line cannot have been remembered, nor
                // be late: they are left to the cursor.
                if let Some(point) = row.point
                    && !table.state.window.contains(point, row.fingerprint)
                {
                    late.push(row);
                }
            }
        }
        if let Scan::Window { after, .. } = &mut self.tables[index].scan {
            *after = last;
        }
        if late.is_empty() {
            return Ok(PageOutcome {
                rows: count,
                published: 0,
            });
        }
        self.metrics.late_rows.inc_by(late.len() as u64);
        tracing::info!(table = %self.tables[index].dotted(), rows = late.len(), "rows committed after the cursor passed their value (inside the safety window): publishing them");
        let published = self.publish_rows(index, &late).await?;
        let table = &mut self.tables[index];
        for row in &late {
            if let Some(point) = row.point {
                table.state.window.insert(point, row.fingerprint);
            }
        }
        table.state.poll_sequence = sequence;
        self.limit_window(index);
        let key = self.tables[index].state_key.clone();
        save_json(&self.state, &key, &self.tables[index].state).await?;
        Ok(PageOutcome {
            rows: count,
            published,
        })
    }

    /// A page of rows after the cursor: all published; the cursor moves past the last.
    async fn publish_new_page(
        &mut self,
        index: usize,
        rows: Vec<Vec<Cell>>,
    ) -> Result<PageOutcome, SourceError> {
        if rows.is_empty() {
            return Ok(PageOutcome::default());
        }
        let sequence = self.tables[index].state.poll_sequence + 1;
        let polled: Vec<PolledRow> = {
            let ctx = self.row_context(index, sequence);
            let table = &self.tables[index];
            rows.into_iter()
                .map(|cells| table.polled.poll_row(cells, &ctx))
                .collect()
        };
        let published = self.publish_rows(index, &polled).await?;
        let table = &mut self.tables[index];
        for row in &polled {
            if let Some((point, unit)) = row.first_cursor.as_ref().and_then(window_point)
                && table.window_width(unit) > 0
            {
                table.state.window.insert(point, row.fingerprint);
            }
        }
        table.state.cursor = polled.last().map(|r| r.ordering.clone());
        table.state.poll_sequence = sequence;
        if let Some((_, written)) = table.window_floor() {
            table.state.window.forget_below(written);
        }
        self.limit_window(index);
        let key = self.tables[index].state_key.clone();
        save_json(&self.state, &key, &self.tables[index].state).await?;
        Ok(PageOutcome {
            rows: polled.len(),
            published,
        })
    }

    /// Keeps the window within `max_window_rows`.
    fn limit_window(&mut self, index: usize) {
        let max = self.config.max_window_rows;
        let table = &mut self.tables[index];
        let Some((_, _, point, _)) = table.cursor_point() else {
            return;
        };
        let dropped = table.state.window.limit(max, point);
        if dropped > 0 {
            self.metrics.window_truncated.inc_by(dropped as u64);
            tracing::warn!(table = %table.dotted(), dropped, max_window_rows = max, "safety window over its limit: its oldest rows are no longer re-read (late commits among them would be missed)");
        }
    }

    /// Publishes rows (dead-lettering those that cannot be published) and waits for every
    /// acknowledgement. Returns the number of change events published.
    async fn publish_rows(&self, index: usize, rows: &[PolledRow]) -> Result<usize, SourceError> {
        let table = &self.tables[index].polled;
        let mut pending: Vec<PendingDelivery> = Vec::with_capacity(rows.len());
        let mut published = 0;
        for row in rows {
            match &row.outcome {
                Ok(publish) => {
                    self.enqueue(
                        table,
                        publish,
                        &row.idempotency_key,
                        &row.position_text,
                        &mut pending,
                    )
                    .await?;
                    published += 1;
                }
                Err(e) => {
                    let letter = DeadLetter {
                        error_kind: "decode".into(),
                        reason: format!("{}: {e}", table.catalog.table.dotted()),
                        topic: table.topic.clone(),
                        source_position: Some(row.position.clone()),
                        idempotency_key: row.idempotency_key.clone(),
                        attempts: 1,
                        ..DeadLetter::default()
                    };
                    self.dlq.reject_source(letter, None).await?;
                    self.metrics.dead_lettered.inc();
                }
            }
        }
        for delivery in pending {
            delivery.acknowledged().await?;
        }
        self.metrics.events.inc_by(published as u64);
        Ok(published)
    }

    /// Hands an event (and its tombstone) to the producer.
    async fn enqueue(
        &self,
        table: &PolledTable,
        publish: &Publish,
        idempotency_key: &str,
        position_text: &str,
        pending: &mut Vec<PendingDelivery>,
    ) -> Result<(), SourceError> {
        let payload = table.encode_event(&publish.event);
        let headers = RecordHeaders::with_idempotency_key(idempotency_key)
            .source_position(position_text)
            .schema_version(publish.event.schema_version.to_string())
            .protobuf("ChangeEvent")
            .start_trace(&table.topic);
        pending.push(
            self.producer
                .enqueue(OutboundRecord {
                    topic: &table.topic,
                    key: Some(&publish.record_key),
                    payload: Some(&payload),
                    headers,
                })
                .await?,
        );
        if publish.tombstone {
            pending.push(
                self.producer
                    .enqueue(OutboundRecord {
                        topic: &table.topic,
                        key: Some(&publish.record_key),
                        payload: None,
                        headers: RecordHeaders::with_idempotency_key(format!(
                            "{idempotency_key}:tombstone"
                        ))
                        .source_position(position_text),
                    })
                    .await?,
            );
        }
        Ok(())
    }

    /// Compares each table's published keys with its keys in the source and publishes a
    /// delete for every published row the source no longer holds (see [`crate::compare`]).
    async fn full_compare(&mut self, db: &mut SourceDb) -> Result<(), SourceError> {
        let run = self.compare_state.runs + 1;
        let info = self.admin.cluster_info().await?;
        for index in 0..self.tables.len() {
            let table = &self.tables[index].polled;
            let topic = table.topic.clone();
            let partitions = info.partitions_of(&topic).unwrap_or(1);
            let started = Instant::now();
            let mut published = compare::published_keys(&self.kafka, &topic, partitions)
                .await
                .map_err(|source| SourceError::TopicRead {
                    topic: topic.clone(),
                    source,
                })?;
            let live = published.live();
            let mut columns = table.key.clone();
            if let Some((soft, _)) = &table.soft_delete {
                columns.push(*soft);
            }
            let query = table.shape().columns_of_every_row(&columns);
            let key_count = table.key.len();
            let masker = self.masker.as_ref();
            let source_rows = db
                .for_each_row(&query, |cells| {
                    if cells.len() > key_count && table.marks_deleted(&cells[key_count]) {
                        return;
                    }
                    // A key that cannot be converted was never published either.
                    if let Ok(key) = table.key_columns(&cells[..key_count], masker) {
                        published.present_in_source(key_identity(&key));
                    }
                })
                .await?;
            let missing = published.missing();
            let mut deletes = 0;
            if !missing.is_empty() {
                let records = compare::records_at(&self.kafka, &topic, partitions, missing)
                    .await
                    .map_err(|source| SourceError::TopicRead {
                        topic: topic.clone(),
                        source,
                    })?;
                let mut pending = Vec::with_capacity(records.len() * 2);
                for record in &records {
                    if let Some((publish, key, position)) =
                        compare::gone_row(table, record, &self.source_id, run)
                    {
                        self.enqueue(table, &publish, &key, &position, &mut pending)
                            .await?;
                        deletes += 1;
                    }
                }
                for delivery in pending {
                    delivery.acknowledged().await?;
                }
                self.metrics.events.inc_by(deletes);
                self.metrics.full_compare_deletes.inc_by(deletes);
            }
            tracing::info!(
                table = %table.catalog.table.dotted(),
                published_live_keys = live,
                source_rows,
                deletes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "full compare done"
            );
        }
        self.compare_state = CompareState {
            last_completed_ms: unix_ms(),
            runs: run,
        };
        self.metrics.full_compares.inc();
        save_json(&self.state, &self.compare_key, &self.compare_state).await?;
        Ok(())
    }
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("source_id", &self.source_id)
            .finish_non_exhaustive()
    }
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
/// state topic was written by something else, and guessing a cursor could lose data.
async fn load_json<T: serde::de::DeserializeOwned>(
    state: &StateStore,
    key: &str,
) -> Result<Option<T>, SourceError> {
    match state.load(key).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            SourceError::NeedsOperator(format!(
                "state {key} in the state topic does not parse ({e}); delete it to read the table again from the start"
            ))
        }),
    }
}
