//! The stream loop: reads pgoutput messages from the slot, turns them into change events,
//! publishes them, and confirms positions to the server only after the broker acknowledged
//! everything before them.
//!
//! Position rule: a transaction's commit end LSN is confirmed once every event of that
//! transaction and of all earlier ones was acknowledged ([`Acker`]). After a crash the slot
//! restarts at the last confirmed commit, so a transaction is either wholly confirmed or
//! replayed wholly; replayed events carry the same positions and idempotency keys.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lienthong_proto::v1::{
    ChangeEvent, ChangeKey, DeadLetter, Operation, PostgresPosition, Row, SnapshotPosition,
    SourcePosition, source_position,
};
use lienthong_runtime::kafka::{
    DeadLetterQueue, EventProducer, OutboundRecord, PendingDelivery, ProduceError, RecordHeaders,
};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::PostgresSourceConfig;
use crate::events::{CapturedTable, EventError, Masker, relation_fingerprint};
use crate::metrics::SourceMetrics;
use crate::pgoutput::{self, LogicalMessage, Lsn, Relation, Tuple, TupleValue, Xid, lsn_to_string};
use crate::schema_versions::SchemaVersions;
use crate::snapshot::{Chunk, Watermark};
use crate::spill::Spill;

/// Work for the acker, in publication order.
#[derive(Debug)]
pub enum AckItem {
    /// An event handed to the producer.
    Record(PendingDelivery),
    /// Every item before this closes the transaction committed at `end_lsn`, at
    /// `commit_time_us` (PostgreSQL epoch; 0 when unknown).
    Commit { end_lsn: Lsn, commit_time_us: i64 },
    /// Every item before this completes a snapshot chunk.
    ChunkPublished(oneshot::Sender<()>),
}

/// Awaits acknowledgements in publication order and advances the confirmed position.
///
/// Contract: `confirmed` only ever moves forward, and only to the end LSN of a transaction all
/// of whose events, and all earlier events, were acknowledged by the broker.
#[derive(Debug)]
pub struct Acker {
    pub items: mpsc::Receiver<AckItem>,
    pub confirmed: watch::Sender<Lsn>,
    /// Where commit-to-acknowledgement times are recorded.
    pub commit_to_ack: prometheus_client::metrics::histogram::Histogram,
}

impl Acker {
    pub async fn run(mut self) -> Result<(), ProduceError> {
        while let Some(item) = self.items.recv().await {
            match item {
                AckItem::Record(delivery) => {
                    delivery.acknowledged().await?;
                }
                AckItem::Commit {
                    end_lsn,
                    commit_time_us,
                } => {
                    self.confirmed.send_if_modified(|c| {
                        let advance = end_lsn > *c;
                        if advance {
                            *c = end_lsn;
                        }
                        advance
                    });
                    if commit_time_us != 0 {
                        let commit_unix_us = commit_time_us + crate::walsender::PG_EPOCH_OFFSET_US;
                        let lag_us = unix_now_us() - commit_unix_us;
                        self.commit_to_ack.observe(lag_us.max(0) as f64 / 1e6);
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
    #[error("decoding pgoutput message at {lsn}: {source}")]
    Decode {
        lsn: String,
        #[source]
        source: pgoutput::DecodeError,
    },
    #[error("change for relation {0} before its Relation message")]
    UnknownRelation(u32),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error("spill file: {0}")]
    Spill(#[from] std::io::Error),
    #[error("the acknowledgement task stopped")]
    AckerStopped,
    #[error("reading the catalog: {0}")]
    Catalog(#[from] sqlx::Error),
    #[error(transparent)]
    State(#[from] lienthong_runtime::kafka::StateError),
}

/// The transaction being received.
#[derive(Debug, Clone)]
struct Transaction {
    xid: Xid,
    commit_lsn: Lsn,
    commit_time_us: i64,
    sequence: u64,
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

/// Looks up catalog facts the Relation message lacks (the primary key).
pub trait KeyLookup {
    /// Primary-key columns of `schema.table`, in key order.
    fn primary_key(
        &mut self,
        schema: &str,
        table: &str,
    ) -> impl std::future::Future<Output = Result<Vec<String>, sqlx::Error>> + Send;
}

/// Stream-loop state: relations seen, the open transaction, spilled streamed transactions and
/// open snapshot windows.
pub struct StreamProcessor<K: KeyLookup> {
    pub source_id: String,
    pub database: String,
    config: Arc<PostgresSourceConfig>,
    masker: Option<Masker>,
    producer: EventProducer,
    dlq: DeadLetterQueue,
    acks: mpsc::Sender<AckItem>,
    keys: K,
    versions: SchemaVersions,
    metrics: SourceMetrics,
    tables: HashMap<u32, Arc<CapturedTable>>,
    transaction: Option<Transaction>,
    held: Option<Held>,
    streaming_xid: Option<Xid>,
    spills: HashMap<Xid, Spill>,
    spill_dir: PathBuf,
    windows: HashMap<String, (String, HashSet<String>)>,
    chunks: mpsc::Receiver<Chunk>,
    pending_chunk: Option<Chunk>,
    snapshot_requests: Vec<String>,
}

impl<K: KeyLookup> std::fmt::Debug for StreamProcessor<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamProcessor")
            .field("source_id", &self.source_id)
            .finish_non_exhaustive()
    }
}

/// What the processor needs at construction.
#[derive(Debug)]
pub struct ProcessorParts<K> {
    pub source_id: String,
    pub database: String,
    pub config: Arc<PostgresSourceConfig>,
    pub producer: EventProducer,
    pub dlq: DeadLetterQueue,
    pub acks: mpsc::Sender<AckItem>,
    pub keys: K,
    pub versions: SchemaVersions,
    pub metrics: SourceMetrics,
    pub chunks: mpsc::Receiver<Chunk>,
    /// Tables known from the catalog, so snapshot chunks can be published before the stream
    /// sent a Relation message for them.
    pub catalog_tables: Vec<(Relation, Vec<String>)>,
}

impl<K: KeyLookup> StreamProcessor<K> {
    pub fn new(parts: ProcessorParts<K>) -> Self {
        let masker = parts
            .config
            .hash_salt
            .as_ref()
            .map(|s| Masker::new(s.expose()));
        let spill_dir = parts.config.spill_dir.join(&parts.source_id);
        let mut processor = Self {
            source_id: parts.source_id,
            database: parts.database,
            masker,
            producer: parts.producer,
            dlq: parts.dlq,
            acks: parts.acks,
            keys: parts.keys,
            versions: parts.versions,
            metrics: parts.metrics,
            tables: HashMap::new(),
            transaction: None,
            held: None,
            streaming_xid: None,
            spills: HashMap::new(),
            spill_dir,
            windows: HashMap::new(),
            chunks: parts.chunks,
            pending_chunk: None,
            snapshot_requests: Vec::new(),
            config: parts.config,
        };
        for (relation, pk) in parts.catalog_tables {
            let version = processor
                .versions
                .version_for(
                    &relation.namespace,
                    &relation.name,
                    &relation_fingerprint(&relation),
                )
                .0;
            let table = CapturedTable::from_relation(
                &relation,
                &processor.config,
                &processor.source_id,
                &pk,
                version,
            );
            processor.tables.insert(relation.oid, Arc::new(table));
        }
        processor
    }

    /// The directory of this source's spill files.
    pub fn spill_dir(&self) -> &std::path::Path {
        &self.spill_dir
    }

    /// Schema versions, to be saved when changed.
    pub fn versions(&self) -> &SchemaVersions {
        &self.versions
    }

    /// Tables whose snapshot was requested by a signal since the last call.
    pub fn take_snapshot_requests(&mut self) -> Vec<String> {
        std::mem::take(&mut self.snapshot_requests)
    }

    /// True once after the schema versions changed.
    pub fn take_versions_dirty(&mut self) -> bool {
        self.versions.take_dirty()
    }

    /// Handles one XLogData payload.
    pub async fn handle(&mut self, wal_start: Lsn, data: &[u8]) -> Result<(), CaptureError> {
        let in_stream = self.streaming_xid.is_some();
        let message = pgoutput::decode(data, in_stream).map_err(|source| CaptureError::Decode {
            lsn: lsn_to_string(wal_start),
            source,
        })?;
        // Inside a stream block, everything but the block's own markers waits for the commit.
        if let Some(xid) = self.streaming_xid
            && !matches!(
                message,
                LogicalMessage::StreamStop
                    | LogicalMessage::StreamCommit(_)
                    | LogicalMessage::StreamAbort(_)
                    | LogicalMessage::StreamStart(_)
            )
        {
            if let LogicalMessage::Relation(relation) = &message {
                self.on_relation(relation).await?;
            }
            let spill = match self.spills.entry(xid) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(Spill::new(
                    &self.spill_dir,
                    xid,
                    self.config.spill_memory_bytes,
                )),
            };
            let was_on_disk = spill.on_disk();
            spill.append(wal_start, data)?;
            if spill.on_disk() && !was_on_disk {
                tracing::info!(
                    xid,
                    records = spill.records,
                    "streamed transaction moved to disk"
                );
            }
            return Ok(());
        }
        self.apply(wal_start, message).await
    }

    async fn apply(&mut self, wal_start: Lsn, message: LogicalMessage) -> Result<(), CaptureError> {
        match message {
            LogicalMessage::Begin(b) => {
                self.transaction = Some(Transaction {
                    xid: b.xid,
                    commit_lsn: b.final_lsn,
                    commit_time_us: b.commit_time_us,
                    sequence: 0,
                });
            }
            LogicalMessage::Commit(c) => {
                self.release_held(true).await?;
                self.transaction = None;
                self.commit(c.end_lsn, c.commit_time_us).await?;
            }
            LogicalMessage::Relation(r) => self.on_relation(&r).await?,
            LogicalMessage::Insert(i) => {
                self.on_change(
                    wal_start,
                    i.relation_oid,
                    Operation::Insert,
                    None,
                    Some(&i.new),
                )
                .await?
            }
            LogicalMessage::Update(u) => {
                let before = before_image(u.old.as_ref(), u.key.as_ref());
                self.on_change(
                    wal_start,
                    u.relation_oid,
                    Operation::Update,
                    before,
                    Some(&u.new),
                )
                .await?
            }
            LogicalMessage::Delete(d) => {
                let before = before_image(d.old.as_ref(), d.key.as_ref());
                self.on_change(wal_start, d.relation_oid, Operation::Delete, before, None)
                    .await?
            }
            LogicalMessage::Truncate(t) => {
                for oid in t.relation_oids {
                    self.on_truncate(wal_start, oid).await?;
                }
            }
            LogicalMessage::Message(m) => {
                if m.prefix == crate::catalog::MESSAGE_PREFIX_WATERMARK {
                    match Watermark::parse(&m.content) {
                        Some(Watermark::Low { id, table }) => {
                            self.windows.insert(id, (table, HashSet::new()));
                        }
                        Some(Watermark::High { id }) => self.on_high_watermark(&id).await?,
                        None => {}
                    }
                }
                if m.prefix == crate::catalog::MESSAGE_PREFIX_SIGNAL {
                    match serde_json::from_slice::<crate::catalog::Signal>(&m.content) {
                        Ok(signal) => self.snapshot_requests.extend(signal.snapshot),
                        Err(e) => tracing::warn!(error = %e, "unreadable signal ignored"),
                    }
                }
                // Heartbeats need no action: their commit advances the confirmed position.
            }
            LogicalMessage::StreamStart(s) => self.streaming_xid = Some(s.xid),
            LogicalMessage::StreamStop => self.streaming_xid = None,
            LogicalMessage::StreamAbort(a) => {
                if a.xid == a.subxid {
                    if let Some(spill) = self.spills.remove(&a.xid) {
                        spill.discard();
                    }
                } else if let Some(spill) = self.spills.get_mut(&a.xid) {
                    spill.aborted_subxacts.insert(a.subxid);
                }
            }
            LogicalMessage::StreamCommit(c) => {
                self.transaction = Some(Transaction {
                    xid: c.xid,
                    commit_lsn: c.commit_lsn,
                    commit_time_us: c.commit_time_us,
                    sequence: 0,
                });
                if let Some(spill) = self.spills.remove(&c.xid) {
                    let mut reader = spill.into_reader()?;
                    while let Some((lsn, bytes)) = reader.next_record()? {
                        let msg = pgoutput::decode(&bytes, true).map_err(|source| {
                            CaptureError::Decode {
                                lsn: lsn_to_string(lsn),
                                source,
                            }
                        })?;
                        if message_xid(&msg).is_some_and(|x| reader.aborted_subxacts.contains(&x)) {
                            continue;
                        }
                        Box::pin(self.apply(lsn, msg)).await?;
                    }
                }
                self.release_held(true).await?;
                self.transaction = None;
                self.commit(c.end_lsn, c.commit_time_us).await?;
            }
            LogicalMessage::Origin(_) | LogicalMessage::Type(_) => {}
        }
        Ok(())
    }

    async fn commit(&mut self, end_lsn: Lsn, commit_time_us: i64) -> Result<(), CaptureError> {
        self.acks
            .send(AckItem::Commit {
                end_lsn,
                commit_time_us,
            })
            .await
            .map_err(|_| CaptureError::AckerStopped)?;
        let commit_unix_ms = (commit_time_us + crate::walsender::PG_EPOCH_OFFSET_US) / 1000;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as i64;
        self.metrics
            .capture_lag_ms
            .set((now_ms - commit_unix_ms).max(0));
        Ok(())
    }

    async fn on_relation(&mut self, relation: &Relation) -> Result<(), CaptureError> {
        let fingerprint = relation_fingerprint(relation);
        let (version, changed) =
            self.versions
                .version_for(&relation.namespace, &relation.name, &fingerprint);
        if changed {
            tracing::info!(table = %format!("{}.{}", relation.namespace, relation.name), version, "table schema changed");
        }
        let pk = self
            .keys
            .primary_key(&relation.namespace, &relation.name)
            .await?;
        let table =
            CapturedTable::from_relation(relation, &self.config, &self.source_id, &pk, version);
        self.tables.insert(relation.oid, Arc::new(table));
        Ok(())
    }

    async fn on_change(
        &mut self,
        wal_start: Lsn,
        oid: u32,
        op: Operation,
        before: Option<(&Tuple, bool)>,
        after: Option<&Tuple>,
    ) -> Result<(), CaptureError> {
        let table = self
            .tables
            .get(&oid)
            .ok_or(CaptureError::UnknownRelation(oid))?;
        let masker = self.masker.as_ref();
        let built: Result<(Option<Row>, Option<Row>, ChangeKey, String), EventError> = (|| {
            let before_row = before
                .map(|(t, key_only)| table.row(t, masker, key_only))
                .transpose()?;
            let after_row = after.map(|t| table.row(t, masker, false)).transpose()?;
            let key_tuple = after.or(before.map(|(t, _)| t)).unwrap_or(&EMPTY_TUPLE);
            let (key, key_text) = table.key_of(key_tuple, masker)?;
            Ok((
                before_row,
                after_row,
                table.record_key(&self.source_id, &key),
                key_text,
            ))
        })();
        let (position, commit_time_us) = next_position(&mut self.transaction, wal_start);
        let PostgresPosition {
            commit_lsn,
            sequence,
            xid,
            ..
        } = position;
        let position_text = format!(
            "commit={} lsn={} seq={sequence}",
            lsn_to_string(commit_lsn),
            lsn_to_string(wal_start)
        );
        let idempotency_key = format!("{}:{commit_lsn:016X}:{sequence}", self.source_id);
        let (before_row, after_row, key, key_text) = match built {
            Ok(parts) => parts,
            Err(e) => {
                let reason = format!("{}.{}: {e}", table.schema, table.name);
                let topic = table.topic.clone();
                self.release_held(false).await?;
                let at = source_position::Kind::Postgres(position);
                return self.reject_row(reason, topic, at, idempotency_key).await;
            }
        };
        for (_, (window_table, keys)) in self.windows.iter_mut() {
            if *window_table == format!("{}.{}", table.schema, table.name) {
                keys.insert(key_text.clone());
            }
        }
        let event = ChangeEvent {
            source_id: self.source_id.clone(),
            database: self.database.clone(),
            schema: table.schema.clone(),
            table: table.name.clone(),
            op: op as i32,
            before: before_row,
            after: after_row,
            key: key.columns.clone(),
            transaction_id: xid.to_string(),
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Postgres(position)),
            }),
            commit_time: Some(pgoutput::postgres_time_to_timestamp(commit_time_us)),
            capture_time: Some(now_timestamp()),
            schema_version: table.schema_version,
            // Appended by `CapturedTable::encode_event`.
            table_schema: Vec::new(),
            last_in_transaction: false,
        };
        let held = Held {
            table: table.clone(),
            key: Some(key.encode_to_vec()),
            event,
            idempotency_key,
            position_text,
            tombstone: op == Operation::Delete,
        };
        self.hold(held).await
    }

    async fn on_truncate(&mut self, wal_start: Lsn, oid: u32) -> Result<(), CaptureError> {
        let (position, commit_time_us) = next_position(&mut self.transaction, wal_start);
        let table = self
            .tables
            .get(&oid)
            .ok_or(CaptureError::UnknownRelation(oid))?;
        let PostgresPosition {
            commit_lsn,
            sequence,
            xid,
            ..
        } = position;
        let event = ChangeEvent {
            source_id: self.source_id.clone(),
            database: self.database.clone(),
            schema: table.schema.clone(),
            table: table.name.clone(),
            op: Operation::Truncate as i32,
            transaction_id: xid.to_string(),
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Postgres(position)),
            }),
            commit_time: Some(pgoutput::postgres_time_to_timestamp(commit_time_us)),
            capture_time: Some(now_timestamp()),
            schema_version: table.schema_version,
            ..ChangeEvent::default()
        };
        let held = Held {
            table: table.clone(),
            key: None,
            event,
            idempotency_key: format!("{}:{commit_lsn:016X}:{sequence}", self.source_id),
            position_text: format!("commit={} seq={sequence}", lsn_to_string(commit_lsn)),
            tombstone: false,
        };
        self.hold(held).await
    }

    async fn on_high_watermark(&mut self, id: &str) -> Result<(), CaptureError> {
        let Some((table_name, changed)) = self.windows.remove(id) else {
            return Ok(());
        };
        // The snapshot task hands over a chunk before writing its high watermark, so the
        // chunk of a current watermark is always waiting here. Watermarks replayed from a run
        // that died before its chunk was confirmed find no chunk (or another one): skip them.
        if self.pending_chunk.is_none() {
            self.pending_chunk = self.chunks.try_recv().ok();
        }
        if self.pending_chunk.as_ref().is_none_or(|c| c.id != id) {
            tracing::debug!(watermark = id, "watermark of an earlier run skipped");
            return Ok(());
        }
        let Some(chunk) = self.pending_chunk.take() else {
            return Ok(());
        };
        self.release_held(false).await?;
        self.publish_chunk(chunk, &table_name, &changed, None).await
    }

    /// Publishes the rows of a chunk read from the exported snapshot of the slot's creation,
    /// before streaming starts: every row is older than every change the stream will carry.
    /// `chunk.published` fires once the broker acknowledged them all.
    pub async fn publish_exported_chunk(
        &mut self,
        chunk: Chunk,
        consistent_point: Lsn,
    ) -> Result<(), CaptureError> {
        let table_name = chunk.table.clone();
        self.publish_chunk(chunk, &table_name, &HashSet::new(), Some(consistent_point))
            .await
    }

    /// Publishes a chunk's rows as READ events, except those whose key is in `changed` (their
    /// change events are newer than the chunk).
    async fn publish_chunk(
        &mut self,
        chunk: Chunk,
        table_name: &str,
        changed: &HashSet<String>,
        consistent_point: Option<Lsn>,
    ) -> Result<(), CaptureError> {
        let consistent_with = consistent_point.map(|lsn| {
            Box::new(SourcePosition {
                kind: Some(source_position::Kind::Postgres(PostgresPosition {
                    commit_lsn: lsn,
                    lsn,
                    sequence: 0,
                    xid: 0,
                })),
            })
        });
        let table = self
            .tables
            .values()
            .find(|t| format!("{}.{}", t.schema, t.name) == table_name)
            .cloned();
        let Some(table) = table else {
            let _ = chunk.published.send(());
            return Ok(());
        };
        let masker = self.masker.clone();
        for (row_index, row) in chunk.rows.iter().enumerate() {
            let tuple = Tuple(
                row.iter()
                    .map(|v| match v {
                        Some(text) => TupleValue::Text(text.clone().into_bytes()),
                        None => TupleValue::Null,
                    })
                    .collect(),
            );
            let position = SnapshotPosition {
                snapshot_id: chunk.snapshot_id.clone(),
                chunk: chunk.number,
                row_index: row_index as u64,
                consistent_with: consistent_with.clone(),
            };
            let built = table
                .key_of(&tuple, masker.as_ref())
                .and_then(|(key, text)| {
                    Ok((key, text, table.row(&tuple, masker.as_ref(), false)?))
                });
            let idempotency_key = format!(
                "{}:snapshot:{}:{}:{}",
                self.source_id, chunk.snapshot_id, chunk.number, row_index
            );
            let (key, key_text, after) = match built {
                Ok(parts) => parts,
                Err(e) => {
                    let at = source_position::Kind::Snapshot(Box::new(position));
                    let reason = format!("{table_name} (snapshot): {e}");
                    self.reject_row(reason, table.topic.clone(), at, idempotency_key)
                        .await?;
                    continue;
                }
            };
            if changed.contains(&key_text) {
                // Changed inside the window: its change events are newer than this row.
                continue;
            }
            let record_key = table.record_key(&self.source_id, &key);
            let event = ChangeEvent {
                source_id: self.source_id.clone(),
                database: self.database.clone(),
                schema: table.schema.clone(),
                table: table.name.clone(),
                op: Operation::Read as i32,
                after: Some(after),
                key,
                position: Some(SourcePosition {
                    kind: Some(source_position::Kind::Snapshot(Box::new(position.clone()))),
                }),
                commit_time: Some(now_timestamp()),
                capture_time: Some(now_timestamp()),
                schema_version: table.schema_version,
                last_in_transaction: true,
                ..ChangeEvent::default()
            };
            let position_text = format!(
                "snapshot={} chunk={} row={row_index}",
                chunk.snapshot_id, chunk.number
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

static EMPTY_TUPLE: Tuple = Tuple(Vec::new());

/// The position of the next change of the open transaction (numbered within it), and the
/// transaction's commit time.
fn next_position(transaction: &mut Option<Transaction>, wal_start: Lsn) -> (PostgresPosition, i64) {
    match transaction {
        Some(t) => {
            let sequence = t.sequence;
            t.sequence += 1;
            (
                PostgresPosition {
                    commit_lsn: t.commit_lsn,
                    lsn: wal_start,
                    sequence,
                    xid: t.xid,
                },
                t.commit_time_us,
            )
        }
        None => (
            PostgresPosition {
                commit_lsn: wal_start,
                lsn: wal_start,
                sequence: 0,
                xid: 0,
            },
            0,
        ),
    }
}

/// The old row of an UPDATE or DELETE: the whole row under REPLICA IDENTITY FULL, otherwise
/// only the key (flagged `true`).
fn before_image<'a>(old: Option<&'a Tuple>, key: Option<&'a Tuple>) -> Option<(&'a Tuple, bool)> {
    old.map(|t| (t, false)).or(key.map(|t| (t, true)))
}

fn message_xid(message: &LogicalMessage) -> Option<Xid> {
    match message {
        LogicalMessage::Insert(m) => m.xid,
        LogicalMessage::Update(m) => m.xid,
        LogicalMessage::Delete(m) => m.xid,
        LogicalMessage::Truncate(m) => m.xid,
        LogicalMessage::Message(m) => m.xid,
        LogicalMessage::Relation(m) => m.xid,
        LogicalMessage::Type(m) => m.xid,
        _ => None,
    }
}

fn unix_now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as i64
}

fn now_timestamp() -> prost_types::Timestamp {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    prost_types::Timestamp {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}
