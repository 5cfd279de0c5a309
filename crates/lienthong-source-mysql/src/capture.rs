//! The stream loop's core: decodes binlog events, follows transactions and table versions,
//! turns row changes into change events, publishes them, and hands positions to the [`Acker`],
//! which confirms a position only after the broker acknowledged everything before it.
//!
//! Position rule: the position after a transaction (its GTID added to the GTID state; the file
//! and offset just past its commit event) is confirmed once every event of that transaction and
//! of all earlier ones was acknowledged. A restart resumes from the last confirmed position, so a
//! transaction is either wholly confirmed or replayed wholly; replayed events carry the same
//! positions and idempotency keys (`<source>:<gtid>:<n>`, n counting the transaction's rows).
//!
//! Table metadata: a TABLE_MAP event gives column types; names, signedness, character sets and
//! ENUM/SET labels come from the map's optional metadata when the server logs it
//! (`binlog_row_metadata=FULL`) and from `information_schema` otherwise. The catalog facts of a
//! table are read once and again after every DDL statement that passes in the stream; a new
//! column list is a new schema version. Facts that do not fit a table map (another column count
//! or type — the table changed again since) are read again; if they still do not fit, the map's
//! own metadata describes the earlier definition when the server logs column names
//! ([`CatalogTable::from_table_map`], a schema version of its own), and otherwise that table's
//! rows are dead-lettered with the reason rather than decoded wrongly.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lienthong_proto::v1::{
    BinlogPosition, ChangeEvent, DeadLetter, Operation, SnapshotPosition, SourcePosition,
    source_position,
};
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventProducer, OutboundRecord, PendingDelivery, ProduceError, RecordHeaders,
};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, watch};

use crate::binlog::event::{EventData, MariadbGtidEvent, MysqlGtidEvent};
use crate::binlog::gtid::MysqlGtid;
use crate::binlog::{
    BinlogDecoder, ChecksumAlgorithm, ColumnType, DecodeError, EventHeader, QueryEvent, QueryKind,
    RowChange, RowsEvent, TableMap, TableSchema, Value,
};
use crate::catalog::{CatalogTable, TableRef};
use crate::config::MysqlSourceConfig;
use crate::events::{CapturedTable, EventError, Masker};
use crate::metrics::SourceMetrics;
use crate::position::{StreamPosition, TransactionGtid};
use crate::schema_versions::SchemaVersions;
use crate::snapshot::ResumeFilter;

/// Work for the acker, in publication order.
#[derive(Debug)]
pub enum AckItem {
    /// An event handed to the producer.
    Record(PendingDelivery),
    /// Every item before this completes the transaction after which the stream stands at
    /// `position`; it committed at `commit_time` (Unix seconds; 0 when unknown).
    Commit {
        position: StreamPosition,
        commit_time: u32,
    },
    /// Every item before this completes a snapshot chunk.
    ChunkPublished(oneshot::Sender<()>),
}

/// Awaits acknowledgements in publication order and advances the confirmed position.
///
/// Contract: `confirmed` only ever changes to the position after a transaction all of whose
/// events, and all earlier events, were acknowledged by the broker.
#[derive(Debug)]
pub struct Acker {
    pub items: mpsc::Receiver<AckItem>,
    pub confirmed: watch::Sender<Option<StreamPosition>>,
    pub metrics: SourceMetrics,
}

impl Acker {
    pub async fn run(mut self) -> Result<(), ProduceError> {
        while let Some(item) = self.items.recv().await {
            match item {
                AckItem::Record(delivery) => {
                    delivery.acknowledged().await?;
                }
                AckItem::Commit {
                    position,
                    commit_time,
                } => {
                    self.confirmed.send_replace(Some(position));
                    self.metrics.confirmed_transactions.inc();
                    if commit_time != 0 {
                        let lag = unix_now().as_secs_f64() - f64::from(commit_time);
                        self.metrics.commit_to_ack.observe(lag.max(0.0));
                    }
                }
                AckItem::ChunkPublished(done) => {
                    let _ = done.send(());
                }
            }
        }
        Ok(())
    }
}

/// Why the stream loop stopped.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("decoding the binlog event at {position}: {source}")]
    Decode {
        position: String,
        #[source]
        source: DecodeError,
    },
    #[error("rows event for table id {0} without its table map")]
    UnknownTable(u64),
    #[error(
        "the server wrote an INCIDENT event ({message}): it lost changes it should have logged; \
         check the source server, then re-snapshot this source (delete its state) if rows are missing"
    )]
    Incident { message: String },
    #[error(
        "a data change on {schema} was logged as a statement, not as rows: `{statement}`; the \
         connector can only capture row events: set binlog_format=ROW on the source server"
    )]
    StatementLogged { schema: String, statement: String },
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error("the acknowledgement task stopped")]
    AckerStopped,
    #[error("reading the catalog: {0}")]
    Catalog(#[from] sqlx::Error),
}

/// Catalog facts the binlog lacks, looked up over SQL.
pub trait CatalogLookup {
    /// `information_schema` facts of a table; `None` when it does not exist (any more).
    fn table(
        &mut self,
        table: &TableRef,
    ) -> impl std::future::Future<Output = Result<Option<CatalogTable>, sqlx::Error>> + Send;
}

/// The transaction being received.
#[derive(Debug, Clone)]
struct Transaction {
    gtid: TransactionGtid,
    /// Binlog coordinates of its first event, its identity when there are no GTIDs.
    start_file: String,
    start_offset: u64,
    /// Ends after its first statement (MariaDB's standalone groups: DDL).
    standalone: bool,
    commit_time: u32,
    sequence: u64,
}

impl Transaction {
    fn id(&self) -> String {
        match self.gtid {
            TransactionGtid::None => format!("{}:{}", self.start_file, self.start_offset),
            gtid => gtid.to_string(),
        }
    }
}

/// An event held back until the next one (or the commit) shows whether it is the last of its
/// transaction.
#[derive(Debug)]
struct Held {
    table: Arc<CapturedTable>,
    key: Option<Vec<u8>>,
    event: ChangeEvent,
    idempotency_key: String,
    position_text: String,
    tombstone: bool,
}

/// How a table map resolved: captured (with its schema for decoding), not captured, or
/// captured but not decodable (the reason goes with its rows to the dead-letter topic).
#[derive(Debug, Clone)]
enum Resolved {
    NotCaptured,
    Captured(Arc<CapturedTable>, Arc<TableSchema>),
    Unusable(Arc<CapturedTable>, String),
}

/// What the processor needs at construction.
#[derive(Debug)]
pub struct ProcessorParts<L> {
    pub source_id: String,
    pub config: Arc<MysqlSourceConfig>,
    pub producer: EventProducer,
    pub dlq: DeadLetterQueue,
    pub acks: mpsc::Sender<AckItem>,
    pub lookup: L,
    pub versions: SchemaVersions,
    pub metrics: SourceMetrics,
    /// Where the stream starts (the confirmed position).
    pub start: StreamPosition,
    pub resume_filter: ResumeFilter,
}

/// Stream state: the decoder, the open transaction, table versions, the position.
pub struct StreamProcessor<L: CatalogLookup> {
    source_id: String,
    config: Arc<MysqlSourceConfig>,
    masker: Option<Masker>,
    producer: EventProducer,
    dlq: DeadLetterQueue,
    acks: mpsc::Sender<AckItem>,
    lookup: L,
    versions: SchemaVersions,
    metrics: SourceMetrics,
    decoder: BinlogDecoder,
    /// Binlog file of the events being received.
    file: String,
    /// The position after the last transaction handed to the acker.
    position: StreamPosition,
    transaction: Option<Transaction>,
    held: Option<Held>,
    /// Catalog facts by table; `true` once a DDL passed and they must be read again.
    catalog: HashMap<TableRef, (CatalogTable, bool)>,
    /// Table versions by table (current version).
    captured: HashMap<TableRef, Arc<CapturedTable>>,
    /// Resolved table maps by table id.
    resolved: HashMap<u64, (TableMap, Resolved)>,
    resume_filter: ResumeFilter,
}

impl<L: CatalogLookup> std::fmt::Debug for StreamProcessor<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamProcessor")
            .field("source_id", &self.source_id)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// Table ids are cached per table map; a long-running server hands out new ids after each
/// DDL or table reopen, so the cache is cleared past this size.
const MAX_RESOLVED_TABLE_MAPS: usize = 4096;

impl<L: CatalogLookup> StreamProcessor<L> {
    pub fn new(parts: ProcessorParts<L>) -> Self {
        let masker = parts
            .config
            .hash_salt
            .as_ref()
            .map(|s| Masker::new(s.expose()));
        Self {
            source_id: parts.source_id,
            masker,
            producer: parts.producer,
            dlq: parts.dlq,
            acks: parts.acks,
            lookup: parts.lookup,
            versions: parts.versions,
            metrics: parts.metrics,
            // The stream's first event (an artificial ROTATE) carries no checksum; the format
            // description after it says what the rest carry.
            decoder: BinlogDecoder::new(ChecksumAlgorithm::Off),
            file: parts.start.file.clone(),
            position: parts.start,
            transaction: None,
            held: None,
            catalog: HashMap::new(),
            captured: HashMap::new(),
            resolved: HashMap::new(),
            resume_filter: parts.resume_filter,
            config: parts.config,
        }
    }

    /// Schema versions, to be saved when changed.
    pub fn versions(&self) -> &SchemaVersions {
        &self.versions
    }

    /// True once after the schema versions changed.
    pub fn take_versions_dirty(&mut self) -> bool {
        self.versions.take_dirty()
    }

    /// The current version of a captured table, reading its catalog facts when needed.
    pub async fn table_version(
        &mut self,
        table: &TableRef,
    ) -> Result<Option<Arc<CapturedTable>>, CaptureError> {
        let stale = self.catalog.get(table).is_none_or(|(_, stale)| *stale);
        if stale {
            self.refresh_catalog(table).await?;
        }
        Ok(self.captured.get(table).cloned())
    }

    async fn refresh_catalog(&mut self, table: &TableRef) -> Result<(), CaptureError> {
        let Some(catalog) = self.lookup.table(table).await? else {
            self.catalog.remove(table);
            self.captured.remove(table);
            return Ok(());
        };
        let (version, changed) = self
            .versions
            .version_for(&table.dotted(), &catalog.fingerprint());
        if changed {
            tracing::info!(table = %table.dotted(), version, "table schema changed: new schema version");
        }
        let unchanged = self
            .captured
            .get(table)
            .is_some_and(|t| t.schema_version == version && t.catalog == catalog);
        if !unchanged {
            let captured =
                CapturedTable::from_catalog(&catalog, &self.config, &self.source_id, version);
            self.captured.insert(table.clone(), Arc::new(captured));
        }
        self.catalog.insert(table.clone(), (catalog, false));
        Ok(())
    }

    /// Handles one event's bytes, as the server sent them.
    pub async fn handle(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        let event = self.decoder.decode(bytes).map_err(|source| {
            let position = EventHeader::decode(bytes)
                .map(|h| format!("{}:{}", self.file, event_start(&h)))
                .unwrap_or_else(|_| self.file.clone());
            CaptureError::Decode { position, source }
        })?;
        let header = event.header;
        match event.data {
            EventData::Rotate(rotate) => {
                self.file = rotate.next_file;
                if self.transaction.is_none() {
                    self.position.file = self.file.clone();
                    self.position.offset = rotate.position;
                }
            }
            EventData::MariadbGtid(gtid) => self.on_mariadb_gtid(&gtid, &header).await?,
            EventData::MysqlGtid(gtid) => self.on_mysql_gtid(&gtid, &header).await?,
            EventData::Query(query) => self.on_query(&query, &header).await?,
            EventData::Xid { .. } => self.end_transaction(&header).await?,
            EventData::TableMap(map) => self.on_table_map(map).await?,
            EventData::Rows(rows) => self.on_rows(&rows, &header).await?,
            EventData::Incident { message, .. } => return Err(CaptureError::Incident { message }),
            _ => {}
        }
        Ok(())
    }

    async fn on_mariadb_gtid(
        &mut self,
        gtid: &MariadbGtidEvent,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        self.begin_transaction(
            TransactionGtid::Mariadb(gtid.gtid),
            gtid.is_standalone(),
            header,
        )
        .await
    }

    async fn on_mysql_gtid(
        &mut self,
        gtid: &MysqlGtidEvent,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        let id = if gtid.anonymous {
            TransactionGtid::None
        } else {
            TransactionGtid::Mysql(MysqlGtid {
                source: gtid.source,
                number: gtid.number,
            })
        };
        self.begin_transaction(id, false, header).await
    }

    async fn begin_transaction(
        &mut self,
        gtid: TransactionGtid,
        standalone: bool,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        if self.transaction.is_some() {
            // A transaction without its end: the server never writes one, but a position must
            // never be confirmed inside the next transaction either.
            tracing::warn!(file = %self.file, offset = event_start(header), "transaction began before the previous one ended");
            self.end_transaction_at(event_start(header), header.timestamp)
                .await?;
        }
        self.transaction = Some(Transaction {
            gtid,
            start_file: self.file.clone(),
            start_offset: event_start(header),
            standalone,
            commit_time: header.timestamp,
            sequence: 0,
        });
        Ok(())
    }

    async fn end_transaction(&mut self, header: &EventHeader) -> Result<(), CaptureError> {
        self.end_transaction_at(u64::from(header.log_pos), header.timestamp)
            .await
    }

    /// Closes the open transaction: its last event is released and the position after it
    /// (GTID added; `end_offset` in the current file) goes to the acker.
    async fn end_transaction_at(
        &mut self,
        end_offset: u64,
        timestamp: u32,
    ) -> Result<(), CaptureError> {
        self.release_held(true).await?;
        let transaction = self.transaction.take();
        let mut position = self.position.clone();
        if let Some(t) = &transaction {
            position.gtid.advance(&t.gtid);
        }
        if end_offset > 0 {
            position.file = self.file.clone();
            position.offset = end_offset;
        }
        let commit_time = transaction.as_ref().map_or(timestamp, |t| t.commit_time);
        self.position = position.clone();
        self.acks
            .send(AckItem::Commit {
                position,
                commit_time,
            })
            .await
            .map_err(|_| CaptureError::AckerStopped)?;
        let lag = unix_now().as_secs_f64() - f64::from(commit_time);
        self.metrics
            .capture_lag_seconds
            .set(lag.max(0.0).round() as i64);
        Ok(())
    }

    async fn on_query(
        &mut self,
        query: &QueryEvent,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        match query.kind() {
            QueryKind::Begin => {
                if self.transaction.is_none() {
                    self.begin_transaction(TransactionGtid::None, false, header)
                        .await?;
                }
            }
            QueryKind::Commit | QueryKind::Rollback => self.end_transaction(header).await?,
            QueryKind::Ddl => {
                self.on_ddl(query, header).await?;
                // DDL commits implicitly: it is its own transaction.
                self.end_transaction(header).await?;
            }
            QueryKind::Savepoint | QueryKind::Xa => {}
            QueryKind::Other => {
                let text = query.sql_text().unwrap_or_default();
                if is_data_change(&text) && self.statement_may_touch_captured(&query.schema, &text)
                {
                    return Err(CaptureError::StatementLogged {
                        schema: query.schema.clone(),
                        statement: text.chars().take(200).collect(),
                    });
                }
                if self.transaction.as_ref().is_some_and(|t| t.standalone) {
                    self.end_transaction(header).await?;
                }
            }
        }
        Ok(())
    }

    /// Whether a statement in default database `schema` could change a captured table.
    fn statement_may_touch_captured(&self, schema: &str, text: &str) -> bool {
        let lower = text.to_ascii_lowercase();
        self.config.tables.iter().any(|pattern| {
            let database = pattern.split('.').next().unwrap_or_default();
            crate::config::pattern_matches(database, schema)
                || (!database.contains('*') && lower.contains(&database.to_ascii_lowercase()))
        })
    }

    /// A DDL statement: every table's catalog facts are read again at its next table map
    /// (DDL is rare; re-reading a few tables is cheaper than parsing every dialect of ALTER).
    /// `TRUNCATE` of a captured table is published: the binlog holds it as a statement, with no
    /// rows.
    async fn on_ddl(
        &mut self,
        query: &QueryEvent,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        for (_, stale) in self.catalog.values_mut() {
            *stale = true;
        }
        self.resolved.clear();
        let text = query.sql_text().unwrap_or_default();
        tracing::info!(schema = %query.schema, statement = %text.chars().take(200).collect::<String>(), "DDL in the binlog: table facts will be read again");
        if let Some(table) = truncated_table(&text, &query.schema)
            && self.config.captures(&table.database, &table.name)
            && let Some(captured) = self.table_version(&table).await?
        {
            self.on_truncate(captured, header).await?;
        }
        Ok(())
    }

    async fn on_table_map(&mut self, map: TableMap) -> Result<(), CaptureError> {
        if let Some((known, _)) = self.resolved.get(&map.table_id)
            && *known == map
        {
            return Ok(());
        }
        if self.resolved.len() >= MAX_RESOLVED_TABLE_MAPS {
            self.resolved.clear();
        }
        let resolved = self.resolve(&map).await?;
        self.resolved.insert(map.table_id, (map, resolved));
        Ok(())
    }

    async fn resolve(&mut self, map: &TableMap) -> Result<Resolved, CaptureError> {
        if !self.config.captures(&map.schema, &map.table) {
            return Ok(Resolved::NotCaptured);
        }
        let table = TableRef::new(&map.schema, &map.table);
        let mut refreshed = false;
        if self.catalog.get(&table).is_none_or(|(_, stale)| *stale) {
            self.refresh_catalog(&table).await?;
            refreshed = true;
        }
        loop {
            let Some(captured) = self.captured.get(&table).cloned() else {
                // Dropped since: nothing to decode with.
                return Ok(Resolved::NotCaptured);
            };
            match fit(map, &captured.catalog) {
                Ok(schema) => return Ok(Resolved::Captured(captured, Arc::new(schema))),
                Err(_) if !refreshed => {
                    self.refresh_catalog(&table).await?;
                    refreshed = true;
                }
                Err(reason) => {
                    // Rows of an earlier definition: with binlog_row_metadata=FULL the map
                    // describes them itself.
                    if let Some(earlier) = CatalogTable::from_table_map(map, &captured.catalog)
                        && let Ok(schema) = fit(map, &earlier)
                    {
                        let (version, _) = self
                            .versions
                            .version_for(&table.dotted(), &earlier.fingerprint());
                        tracing::info!(table = %table.dotted(), version, "rows of an earlier table definition: decoded with the table map's own column facts");
                        let captured = CapturedTable::from_catalog(
                            &earlier,
                            &self.config,
                            &self.source_id,
                            version,
                        );
                        return Ok(Resolved::Captured(Arc::new(captured), Arc::new(schema)));
                    }
                    tracing::error!(table = %table.dotted(), %reason, "table map does not fit the table's current definition; its rows go to the dead-letter topic");
                    return Ok(Resolved::Unusable(captured, reason));
                }
            }
        }
    }

    async fn on_rows(
        &mut self,
        rows: &RowsEvent,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        let resolved = match self.resolved.get(&rows.table_id) {
            Some((_, resolved)) => resolved.clone(),
            None => {
                let map = self
                    .decoder
                    .table_map(rows.table_id)
                    .cloned()
                    .ok_or(CaptureError::UnknownTable(rows.table_id))?;
                self.on_table_map(map).await?;
                self.resolved
                    .get(&rows.table_id)
                    .map(|(_, r)| r.clone())
                    .ok_or(CaptureError::UnknownTable(rows.table_id))?
            }
        };
        let (table, schema) = match resolved {
            Resolved::NotCaptured => return Ok(()),
            Resolved::Unusable(table, reason) => {
                return self.reject_event(&table, header, reason).await;
            }
            Resolved::Captured(table, schema) => (table, schema),
        };
        let changes = match rows.rows(&schema) {
            Ok(changes) => changes,
            Err(e) => {
                let reason = format!("{}: {e}", table.table.dotted());
                return self.reject_event(&table, header, reason).await;
            }
        };
        for (row_index, change) in changes.into_iter().enumerate() {
            let (op, before, after) = match change {
                RowChange::Insert { after } => (Operation::Insert, None, Some(after)),
                RowChange::Update { before, after } => {
                    (Operation::Update, Some(before), Some(after))
                }
                RowChange::Delete { before } => (Operation::Delete, Some(before), None),
            };
            self.on_change(
                &table,
                op,
                before.as_ref().map(|r| r.0.as_slice()),
                after.as_ref().map(|r| r.0.as_slice()),
                row_index,
                header,
            )
            .await?;
        }
        Ok(())
    }

    /// The open transaction (one is made up for rows outside any, which servers do not write).
    fn current_transaction(&mut self, header: &EventHeader) -> &mut Transaction {
        let file = self.file.clone();
        self.transaction.get_or_insert_with(|| Transaction {
            gtid: TransactionGtid::None,
            start_file: file,
            start_offset: event_start(header),
            standalone: false,
            commit_time: header.timestamp,
            sequence: 0,
        })
    }

    fn binlog_position(
        &self,
        t: &Transaction,
        header: &EventHeader,
        row_index: usize,
    ) -> BinlogPosition {
        BinlogPosition {
            gtid: t.gtid.to_string(),
            file: self.file.clone(),
            offset: event_start(header),
            row_index: row_index as u32,
            server_id: header.server_id,
        }
    }

    async fn on_change(
        &mut self,
        table: &Arc<CapturedTable>,
        op: Operation,
        before: Option<&[Option<Value>]>,
        after: Option<&[Option<Value>]>,
        row_index: usize,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        let t = self.current_transaction(header);
        let sequence = t.sequence;
        t.sequence += 1;
        let t = t.clone();
        let position = self.binlog_position(&t, header, row_index);
        let transaction_id = t.id();
        let idempotency_key = format!("{}:{transaction_id}:{sequence}", self.source_id);
        let position_text = format!(
            "{}:{} row={row_index} tx={transaction_id}",
            position.file, position.offset
        );
        let masker = self.masker.as_ref();
        let built: Result<_, EventError> = (|| {
            let before_row = before.map(|v| table.row(v, masker, false)).transpose()?;
            let after_row = after.map(|v| table.row(v, masker, true)).transpose()?;
            let key_values = after.or(before).unwrap_or_default();
            let (key, key_text) = table.key_of(key_values, masker)?;
            Ok((before_row, after_row, key, key_text))
        })();
        let (before_row, after_row, key, key_text) = match built {
            Ok(parts) => parts,
            Err(e) => {
                self.release_held(false).await?;
                let reason = format!("{}: {e}", table.table.dotted());
                let at = source_position::Kind::Binlog(position);
                return self
                    .reject_row(reason, table.topic.clone(), at, idempotency_key)
                    .await;
            }
        };
        if !self.resume_filter.is_empty()
            && self.resume_filter.already_read(
                table,
                &key_text,
                &t.gtid,
                &t.start_file,
                t.start_offset,
            )
        {
            self.metrics.skipped_after_resume.inc();
            return Ok(());
        }
        let record_key = table.record_key(&self.source_id, &key);
        let event = ChangeEvent {
            source_id: self.source_id.clone(),
            database: table.table.database.clone(),
            schema: table.table.database.clone(),
            table: table.table.name.clone(),
            op: op as i32,
            before: before_row,
            after: after_row,
            key,
            transaction_id,
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Binlog(position)),
            }),
            commit_time: Some(prost_types::Timestamp {
                seconds: i64::from(t.commit_time),
                nanos: 0,
            }),
            capture_time: Some(now_timestamp()),
            schema_version: table.schema_version,
            table_schema: Vec::new(),
            last_in_transaction: false,
        };
        self.hold(Held {
            table: table.clone(),
            key: Some(record_key.encode_to_vec()),
            event,
            idempotency_key,
            position_text,
            tombstone: op == Operation::Delete,
        })
        .await
    }

    async fn on_truncate(
        &mut self,
        table: Arc<CapturedTable>,
        header: &EventHeader,
    ) -> Result<(), CaptureError> {
        let t = self.current_transaction(header);
        let sequence = t.sequence;
        t.sequence += 1;
        let t = t.clone();
        let position = self.binlog_position(&t, header, 0);
        let transaction_id = t.id();
        let event = ChangeEvent {
            source_id: self.source_id.clone(),
            database: table.table.database.clone(),
            schema: table.table.database.clone(),
            table: table.table.name.clone(),
            op: Operation::Truncate as i32,
            transaction_id: transaction_id.clone(),
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Binlog(position.clone())),
            }),
            commit_time: Some(prost_types::Timestamp {
                seconds: i64::from(t.commit_time),
                nanos: 0,
            }),
            capture_time: Some(now_timestamp()),
            schema_version: table.schema_version,
            ..ChangeEvent::default()
        };
        self.hold(Held {
            idempotency_key: format!("{}:{transaction_id}:{sequence}", self.source_id),
            position_text: format!("{}:{} tx={transaction_id}", position.file, position.offset),
            table,
            key: None,
            event,
            tombstone: false,
        })
        .await
    }

    /// Dead-letters a whole rows event whose rows cannot be decoded.
    async fn reject_event(
        &mut self,
        table: &CapturedTable,
        header: &EventHeader,
        reason: String,
    ) -> Result<(), CaptureError> {
        self.release_held(false).await?;
        let t = self.current_transaction(header).clone();
        let position = self.binlog_position(&t, header, 0);
        let key = format!("{}:{}:event:{}", self.source_id, t.id(), position.offset);
        self.reject_row(
            reason,
            table.topic.clone(),
            source_position::Kind::Binlog(position),
            key,
        )
        .await
    }

    /// Dead-letters a row that cannot become an event, with its reason and position.
    async fn reject_row(
        &mut self,
        reason: String,
        topic: String,
        at: source_position::Kind,
        idempotency_key: String,
    ) -> Result<(), CaptureError> {
        let letter = DeadLetter {
            error_kind: "decode".into(),
            reason,
            topic,
            source_position: Some(SourcePosition { kind: Some(at) }),
            idempotency_key,
            attempts: 1,
            ..DeadLetter::default()
        };
        self.dlq.reject_source(letter, None).await?;
        self.metrics.dead_lettered.inc();
        Ok(())
    }

    /// Publishes a snapshot chunk's rows of `table` as READ events consistent with
    /// `consistent_with`; `published` fires once the broker acknowledged them all.
    pub async fn publish_snapshot_chunk(
        &mut self,
        table: &Arc<CapturedTable>,
        chunk: SnapshotChunk,
    ) -> Result<(), CaptureError> {
        let consistent_with = Box::new(SourcePosition {
            kind: Some(source_position::Kind::Binlog(BinlogPosition {
                gtid: chunk.consistent_with.gtid.to_string(),
                file: chunk.consistent_with.file.clone(),
                offset: chunk.consistent_with.offset,
                row_index: 0,
                server_id: 0,
            })),
        });
        let masker = self.masker.clone();
        for (row_index, values) in chunk.rows.iter().enumerate() {
            let position = SnapshotPosition {
                snapshot_id: chunk.snapshot_id.clone(),
                chunk: chunk.number,
                row_index: row_index as u64,
                consistent_with: Some(consistent_with.clone()),
            };
            let idempotency_key = format!(
                "{}:snapshot:{}:{}:{}:{row_index}",
                self.source_id,
                chunk.snapshot_id,
                table.table.dotted(),
                chunk.number
            );
            let built = table
                .key_of(values, masker.as_ref())
                .and_then(|(key, _)| Ok((key, table.row(values, masker.as_ref(), true)?)));
            let (key, after) = match built {
                Ok(parts) => parts,
                Err(e) => {
                    let at = source_position::Kind::Snapshot(Box::new(position));
                    let reason = format!("{} (snapshot): {e}", table.table.dotted());
                    self.reject_row(reason, table.topic.clone(), at, idempotency_key)
                        .await?;
                    continue;
                }
            };
            let record_key = table.record_key(&self.source_id, &key);
            let now = now_timestamp();
            let event = ChangeEvent {
                source_id: self.source_id.clone(),
                database: table.table.database.clone(),
                schema: table.table.database.clone(),
                table: table.table.name.clone(),
                op: Operation::Read as i32,
                after: Some(after),
                key,
                position: Some(SourcePosition {
                    kind: Some(source_position::Kind::Snapshot(Box::new(position))),
                }),
                commit_time: Some(chunk.taken_at),
                capture_time: Some(now),
                schema_version: table.schema_version,
                last_in_transaction: true,
                ..ChangeEvent::default()
            };
            let position_text = format!(
                "snapshot={} table={} chunk={} row={row_index}",
                chunk.snapshot_id,
                table.table.dotted(),
                chunk.number
            );
            self.publish(Held {
                table: table.clone(),
                key: Some(record_key.encode_to_vec()),
                event,
                idempotency_key,
                position_text,
                tombstone: false,
            })
            .await?;
            self.metrics.snapshot_rows.inc();
        }
        self.acks
            .send(AckItem::ChunkPublished(chunk.published))
            .await
            .map_err(|_| CaptureError::AckerStopped)
    }

    async fn hold(&mut self, next: Held) -> Result<(), CaptureError> {
        if let Some(previous) = self.held.replace(next) {
            self.publish(previous).await?;
        }
        Ok(())
    }

    async fn release_held(&mut self, last_in_transaction: bool) -> Result<(), CaptureError> {
        if let Some(mut held) = self.held.take() {
            held.event.last_in_transaction = last_in_transaction;
            self.publish(held).await?;
        }
        Ok(())
    }

    async fn publish(&mut self, held: Held) -> Result<(), CaptureError> {
        let payload = held.table.encode_event(&held.event);
        let headers = RecordHeaders::with_idempotency_key(held.idempotency_key.clone())
            .source_position(held.position_text.clone())
            .schema_version(held.event.schema_version.to_string())
            .protobuf("ChangeEvent")
            .start_trace(&held.table.topic);
        let delivery = self
            .producer
            .enqueue(OutboundRecord {
                topic: &held.table.topic,
                key: held.key.as_deref(),
                payload: Some(&payload),
                headers,
            })
            .await?;
        self.acks
            .send(AckItem::Record(delivery))
            .await
            .map_err(|_| CaptureError::AckerStopped)?;
        if held.tombstone {
            let delivery = self
                .producer
                .enqueue(OutboundRecord {
                    topic: &held.table.topic,
                    key: held.key.as_deref(),
                    payload: None,
                    headers: RecordHeaders::with_idempotency_key(format!(
                        "{}:tombstone",
                        held.idempotency_key
                    ))
                    .source_position(held.position_text),
                })
                .await?;
            self.acks
                .send(AckItem::Record(delivery))
                .await
                .map_err(|_| CaptureError::AckerStopped)?;
        }
        self.metrics.events.inc();
        Ok(())
    }
}

/// A chunk of snapshot rows for [`StreamProcessor::publish_snapshot_chunk`].
#[derive(Debug)]
pub struct SnapshotChunk {
    pub snapshot_id: String,
    pub number: u64,
    pub rows: Vec<Vec<Option<Value>>>,
    /// The view's binlog position.
    pub consistent_with: StreamPosition,
    /// When the view was opened.
    pub taken_at: prost_types::Timestamp,
    pub published: oneshot::Sender<()>,
}

/// Joins a table map with catalog facts, and checks that each column's type family matches
/// (a count or type mismatch means the facts describe another version of the table).
pub fn fit(map: &TableMap, catalog: &CatalogTable) -> Result<TableSchema, String> {
    let schema = TableSchema::new(map, Some(&catalog.facts())).map_err(|e| e.to_string())?;
    for (index, (column, facts)) in map.columns.iter().zip(&catalog.columns).enumerate() {
        if !type_fits(&facts.data_type, &column.column_type) {
            return Err(format!(
                "column {index} ({}) is {} in information_schema but {} in the binlog's table map: the table changed again since these rows were written; set binlog_row_metadata=FULL on the source so table maps carry their own column facts",
                facts.name,
                facts.data_type,
                column.column_type.name()
            ));
        }
    }
    Ok(schema)
}

/// Whether an `information_schema` `DATA_TYPE` can be the type a table map names.
pub fn type_fits(data_type: &str, column_type: &ColumnType) -> bool {
    use ColumnType as T;
    match data_type {
        "tinyint" => matches!(column_type, T::Tiny),
        "smallint" => matches!(column_type, T::Short),
        "mediumint" => matches!(column_type, T::Int24),
        "int" | "integer" => matches!(column_type, T::Long),
        "bigint" => matches!(column_type, T::LongLong),
        "float" => matches!(column_type, T::Float),
        "double" | "real" => matches!(column_type, T::Double),
        "decimal" | "numeric" => matches!(column_type, T::NewDecimal { .. } | T::OldDecimal),
        "year" => matches!(column_type, T::Year),
        "date" => matches!(column_type, T::Date),
        "time" => matches!(column_type, T::Time | T::Time2 { .. }),
        "datetime" => matches!(column_type, T::DateTime | T::DateTime2 { .. }),
        "timestamp" => matches!(column_type, T::Timestamp | T::Timestamp2 { .. }),
        "bit" => matches!(column_type, T::Bit { .. }),
        "char" | "binary" | "varchar" | "varbinary" => matches!(
            column_type,
            T::String { .. } | T::VarChar { .. } | T::VarCharCompressed { .. }
        ),
        "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob" | "mediumblob"
        | "longblob" => matches!(column_type, T::Blob { .. } | T::BlobCompressed { .. }),
        "json" => matches!(column_type, T::Json { .. } | T::Blob { .. }),
        "enum" => matches!(column_type, T::Enum { .. }),
        "set" => matches!(column_type, T::Set { .. }),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            matches!(column_type, T::Geometry { .. })
        }
        // Types this check does not know (a newer server's): the decoder decides.
        _ => true,
    }
}

/// Whether a statement changes data (as opposed to `GRANT`, `FLUSH`, `ANALYZE`, ...).
fn is_data_change(text: &str) -> bool {
    let first = text
        .trim_start()
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "LOAD"
    )
}

/// The table of a `TRUNCATE [TABLE] [db.]name` statement.
pub fn truncated_table(text: &str, default_schema: &str) -> Option<TableRef> {
    let rest = strip_keyword(text.trim_start(), "truncate")?;
    let rest = strip_keyword(rest, "table").unwrap_or(rest);
    let name = rest.trim().trim_end_matches(';').trim_end();
    if name.is_empty() {
        return None;
    }
    let unquote = |part: &str| part.trim_matches('`').replace("``", "`");
    match split_qualified(name) {
        (Some(db), table) => Some(TableRef::new(&unquote(db), &unquote(table))),
        (None, table) if !default_schema.is_empty() => {
            Some(TableRef::new(default_schema, &unquote(table)))
        }
        _ => None,
    }
}

/// `text` after a leading keyword (any case) and the whitespace after it.
fn strip_keyword<'a>(text: &'a str, keyword: &str) -> Option<&'a str> {
    let head = text.get(..keyword.len())?;
    let rest = &text[keyword.len()..];
    (head.eq_ignore_ascii_case(keyword) && rest.starts_with(char::is_whitespace))
        .then(|| rest.trim_start())
}

/// `db.table`, `` `db`.`t.x` `` → (database, table), splitting at a dot outside backquotes.
fn split_qualified(name: &str) -> (Option<&str>, &str) {
    let mut quoted = false;
    for (i, c) in name.char_indices() {
        match c {
            '`' => quoted = !quoted,
            '.' if !quoted => return (Some(&name[..i]), &name[i + 1..]),
            _ => {}
        }
    }
    (None, name)
}

/// Where an event starts in its file (0 for artificial events, whose `log_pos` is 0).
fn event_start(header: &EventHeader) -> u64 {
    u64::from(header.log_pos).saturating_sub(u64::from(header.event_size))
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

pub fn now_timestamp() -> prost_types::Timestamp {
    let d = unix_now();
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn truncate_statements() {
        assert_eq!(
            truncated_table("TRUNCATE TABLE nguoi", "bhxh"),
            Some(TableRef::new("bhxh", "nguoi"))
        );
        assert_eq!(
            truncated_table("truncate `hr`.`can bo`", "bhxh"),
            Some(TableRef::new("hr", "can bo"))
        );
        assert_eq!(truncated_table("TRUNCATE t", ""), None);
        assert_eq!(truncated_table("ALTER TABLE t ADD c INT", "d"), None);
    }

    #[test]
    fn data_changes_are_recognised() {
        assert!(is_data_change("  insert into t values (1)"));
        assert!(is_data_change("UPDATE t SET a = 1"));
        assert!(!is_data_change("GRANT SELECT ON *.* TO x"));
        assert!(!is_data_change("FLUSH PRIVILEGES"));
    }

    #[test]
    fn type_families() {
        assert!(type_fits("int", &ColumnType::Long));
        assert!(!type_fits("int", &ColumnType::LongLong));
        assert!(type_fits(
            "varchar",
            &ColumnType::VarChar { max_length: 400 }
        ));
        assert!(!type_fits("varchar", &ColumnType::Long));
        assert!(type_fits("longtext", &ColumnType::Blob { length_bytes: 4 }));
        assert!(type_fits("json", &ColumnType::Json { length_bytes: 4 }));
        assert!(type_fits(
            "datetime",
            &ColumnType::DateTime2 {
                fractional_digits: 3
            }
        ));
        assert!(type_fits("some_future_type", &ColumnType::Long));
    }
}
