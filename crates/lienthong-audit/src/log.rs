//! The audit log in PostgreSQL: migrations, serialised appends and the streaming verification.

use std::time::Duration;

use futures::TryStreamExt as _;
use lienthong_runtime::Metrics;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Executor as _, Postgres, QueryBuilder, Row as _};

use crate::chain::{
    BreakKind, ChainBreak, ChainHead, ChainWalker, ChainedRecord, GENESIS, HASH_LEN, Hash,
    stored_instant, to_hex,
};
use crate::publish::{Publisher, PublisherMetrics};
use crate::subject::SubjectKey;
use crate::topic::AuditTopic;
use crate::{AuditError, AuditEvent};

/// The schema's migrations, applied with `search_path = lienthong_audit`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Advisory-lock key held while the schema is created and migrated, so that services starting
/// together do not race on `CREATE SCHEMA`. ("lt-audit" in ASCII.)
const MIGRATION_LOCK: i64 = 0x6c74_2d61_7564_6974;

/// Rows per `INSERT` statement: 11 parameters each, well under PostgreSQL's 65,535.
const INSERT_CHUNK: usize = 1_000;

pub(crate) const COLUMNS: &str =
    "seq, at, partner, method, subject_hash, fields, purpose, result, detail, prev_hash, hash";

/// The audit log.
///
/// Contract: [`AuditLog::append`] is safe to call concurrently, from any number of tasks and
/// processes: appends are serialised by the chain head's row lock, each batch is one
/// transaction (all of it or none of it is in the log), and sequence numbers are gapless. An
/// append returns once the batch is committed. When a topic is configured, a task publishes
/// committed records to it in seq order, at least once, even those a broker outage or a crash
/// kept from it before ([`crate::publish`]); [`AuditLog::flush`] waits for it.
pub struct AuditLog {
    pool: PgPool,
    subject_key: SubjectKey,
    publisher: Option<Publisher>,
    metrics: AuditMetrics,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("topic", &self.topic())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

#[derive(Clone, Debug, Default)]
struct AuditMetrics {
    appended: Family<ResultLabels, Counter>,
    publish_errors: Counter,
    unpublished: Gauge,
}

impl AuditLog {
    /// Connects to the PostgreSQL database at `url`, creating or migrating the
    /// `lienthong_audit` schema. `subject_key` keys the hash of personal IDs (must not be
    /// empty); `producer`, when given, receives a copy of every appended record: a task
    /// publishes the log to it from where that topic's progress stands, so it must be called
    /// within a Tokio runtime.
    pub async fn connect(
        url: &str,
        subject_key: &str,
        producer: Option<AuditTopic>,
    ) -> Result<AuditLog, AuditError> {
        if subject_key.is_empty() {
            return Err(AuditError::EmptySubjectKey);
        }
        migrate(url).await?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(AuditError::connect(url))?;
        let metrics = AuditMetrics::default();
        let publisher = producer.map(|topic| {
            let counters = PublisherMetrics {
                errors: metrics.publish_errors.clone(),
                unpublished: metrics.unpublished.clone(),
            };
            Publisher::spawn(pool.clone(), topic, counters)
        });
        Ok(AuditLog {
            pool,
            subject_key: SubjectKey::new(subject_key),
            publisher,
            metrics,
        })
    }

    /// Registers `lienthong_audit_events_appended_total{result}`,
    /// `lienthong_audit_publish_errors_total` and `lienthong_audit_unpublished` on the
    /// process's registry.
    pub fn register_metrics(&self, metrics: &Metrics) {
        metrics.register(
            "audit_events_appended",
            "Audit events committed to the audit log, by result",
            self.metrics.appended.clone(),
        );
        metrics.register(
            "audit_publish_errors",
            "Publication rounds that left audit records off the audit topic (retried)",
            self.metrics.publish_errors.clone(),
        );
        metrics.register(
            "audit_unpublished",
            "Audit records committed to the log and not yet on the audit topic",
            self.metrics.unpublished.clone(),
        );
    }

    /// The topic appended records are also published to, when there is one.
    pub fn topic(&self) -> Option<&str> {
        self.publisher.as_ref().map(Publisher::topic)
    }

    /// Stops publishing and closes the database connections, where a service would exit:
    /// records not yet on the topic are published by the next publisher of the topic.
    pub async fn close(mut self) {
        if let Some(publisher) = self.publisher.take() {
            publisher.stop().await;
        }
        self.pool.close().await;
    }

    /// Waits until every record appended so far (by any process) is on the audit topic, for
    /// at most `timeout`: what a service does before it exits. `Ok` at once without a topic;
    /// [`AuditError::Unpublished`] when records remain (they are published by the next
    /// publisher of the topic).
    pub async fn flush(&self, timeout: Duration) -> Result<(), AuditError> {
        let Some(publisher) = &self.publisher else {
            return Ok(());
        };
        let head: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM lienthong_audit.chain_head WHERE singleton")
                .fetch_optional(&self.pool)
                .await
                .map_err(AuditError::database("reading the chain head"))?;
        let head = seq_from_db(head.unwrap_or(0));
        let published = publisher.wait_for(head, timeout).await;
        if published >= head {
            Ok(())
        } else {
            Err(AuditError::Unpublished {
                topic: publisher.topic().to_string(),
                published,
                head,
            })
        }
    }

    /// The keyed hash that stands for `personal_id` in the log (HMAC-SHA256, lowercase hex):
    /// for an auditor's "who read about this person".
    pub fn subject_hash(&self, personal_id: &str) -> String {
        self.subject_key.hash(personal_id)
    }

    /// Appends `events`, in order, as one transaction, and returns the last sequence number
    /// (the current head's when `events` is empty). Personal IDs are replaced by their keyed
    /// hash; times are kept to the microsecond. The records reach the audit topic, when one is
    /// configured, shortly after (see [`AuditLog::flush`]).
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<u64, AuditError> {
        for (index, event) in events.iter().enumerate() {
            check_storable(event).map_err(|reason| AuditError::InvalidEvent { index, reason })?;
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(AuditError::database("starting an append"))?;
        // The lock that makes the chain one chain: held until commit.
        let head_row = sqlx::query(
            "SELECT seq, hash FROM lienthong_audit.chain_head WHERE singleton FOR UPDATE",
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(AuditError::database("locking the chain head"))?;
        let head = read_head(head_row.as_ref()).map_err(|reason| AuditError::CorruptHead {
            reason: reason.to_string(),
        })?;
        if events.is_empty() {
            return Ok(head.seq);
        }

        let mut prev_hash = head.hash;
        let records: Vec<ChainedRecord> = events
            .into_iter()
            .zip(head.seq + 1..)
            .map(|(event, seq)| {
                let mut record = ChainedRecord {
                    seq,
                    at: stored_instant(event.at),
                    subject_hash: event.subject.as_deref().map(|id| self.subject_key.hash(id)),
                    partner: event.partner,
                    method: event.method,
                    fields: event.fields,
                    purpose: event.purpose,
                    result: event.result,
                    detail: event.detail,
                    prev_hash,
                    hash: GENESIS,
                };
                record.hash = record.compute_hash();
                prev_hash = record.hash;
                record
            })
            .collect();
        let Some(last) = records.last() else {
            return Ok(head.seq);
        };
        let last_seq = last.seq;
        let last_hash = last.hash;

        for chunk in records.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Postgres>::new(format!(
                "INSERT INTO lienthong_audit.events ({COLUMNS}) "
            ));
            // Owned values: a builder borrowing the records would make this future !Send.
            insert.push_values(chunk, |mut row, r| {
                row.push_bind(seq_to_db(r.seq))
                    .push_bind(r.at)
                    .push_bind(r.partner.clone())
                    .push_bind(r.method.clone())
                    .push_bind(r.subject_hash.clone())
                    .push_bind(r.fields.clone())
                    .push_bind(r.purpose.clone())
                    .push_bind(r.result.clone())
                    .push_bind(r.detail.clone())
                    .push_bind(r.prev_hash.to_vec())
                    .push_bind(r.hash.to_vec());
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(AuditError::database("inserting audit events"))?;
        }
        sqlx::query(
            "UPDATE lienthong_audit.chain_head SET seq = $1, hash = $2, updated_at = now() WHERE singleton",
        )
        .bind(seq_to_db(last_seq))
        .bind(last_hash.to_vec())
        .execute(&mut *tx)
        .await
        .map_err(AuditError::database("moving the chain head"))?;
        tx.commit()
            .await
            .map_err(AuditError::database("committing audit events"))?;

        for record in &records {
            self.metrics
                .appended
                .get_or_create(&ResultLabels {
                    result: record.result.clone(),
                })
                .inc();
        }
        if let Some(publisher) = &self.publisher {
            publisher.wake();
        }
        Ok(last_seq)
    }

    /// Walks the whole chain in sequence order and reports the first break, if any. Rows are
    /// streamed, so memory stays constant however long the log; the walk reads one consistent
    /// snapshot, so appends running meanwhile neither stall nor confuse it.
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(AuditError::database("connecting for verification"))?;
        verify_on(&mut conn).await
    }
}

/// Verifies the audit log in the database at `url` without changing anything (no migrations):
/// what `lienthong audit verify` runs, with read-only credentials if need be.
pub async fn verify_database(url: &str) -> Result<VerifyReport, AuditError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(AuditError::connect(url))?;
    let present: bool = sqlx::query_scalar(
        "SELECT to_regclass('lienthong_audit.events') IS NOT NULL
            AND to_regclass('lienthong_audit.chain_head') IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(AuditError::database("looking for the audit schema"))?;
    if !present {
        return Err(AuditError::NoAuditLog {
            url: lienthong_runtime::config::redact_url(url),
        });
    }
    let report = verify_on(&mut conn).await;
    let _ = conn.close().await;
    report
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records that checked out, from seq 1 up to the break (all of them when intact).
    pub checked: u64,
    /// The chain head as read (seq 0 and the genesis hash when it is missing).
    pub head: ChainHead,
    /// The first break, or `None` when the chain is intact.
    pub broken: Option<ChainBreak>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.broken {
            None => write!(
                f,
                "audit log intact: {} event(s), seq 1 to {}; chain head hash {}",
                self.checked,
                self.head.seq,
                to_hex(&self.head.hash)
            ),
            Some(b) => write!(
                f,
                "audit log TAMPERED at seq {}: {}\n{} event(s) before it check out; chain head seq {}, hash {}",
                b.seq,
                b.kind,
                self.checked,
                self.head.seq,
                to_hex(&self.head.hash)
            ),
        }
    }
}

/// Creates the schema and applies the migrations under an advisory lock. The migrations run
/// with `search_path = lienthong_audit`, so sqlx's bookkeeping table lives in the schema too.
async fn migrate(url: &str) -> Result<(), AuditError> {
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(AuditError::connect(url))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await
        .map_err(AuditError::database("locking for migrations"))?;
    let migrated = async {
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS lienthong_audit; SET search_path TO lienthong_audit",
        )
        .await
        .map_err(AuditError::database("creating schema lienthong_audit"))?;
        MIGRATOR
            .run_direct(&mut conn)
            .await
            .map_err(AuditError::Migrate)
    }
    .await;
    // Closing the connection releases the lock even if the unlock fails.
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    migrated
}

async fn verify_on(conn: &mut PgConnection) -> Result<VerifyReport, AuditError> {
    let mut tx = conn
        .begin()
        .await
        .map_err(AuditError::database("starting verification"))?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(AuditError::database("starting verification"))?;
    let head_row = sqlx::query("SELECT seq, hash FROM lienthong_audit.chain_head WHERE singleton")
        .fetch_optional(&mut *tx)
        .await
        .map_err(AuditError::database("reading the chain head"))?;
    let head = match read_head(head_row.as_ref()) {
        Ok(head) => head,
        Err(reason) => {
            return Ok(VerifyReport {
                checked: 0,
                head: ChainHead {
                    seq: 0,
                    hash: GENESIS,
                },
                broken: Some(ChainBreak {
                    seq: 0,
                    kind: BreakKind::HeadMissing {
                        reason: reason.to_string(),
                    },
                }),
            });
        }
    };

    let mut walker = ChainWalker::new();
    let mut broken = None;
    {
        let select = format!("SELECT {COLUMNS} FROM lienthong_audit.events ORDER BY seq");
        let mut rows = sqlx::query(&select).fetch(&mut *tx);
        while let Some(row) = rows
            .try_next()
            .await
            .map_err(AuditError::database("reading audit events"))?
        {
            let checked = match read_record(&row) {
                Ok(record) => walker.check(&record),
                Err(reason) => Err(ChainBreak {
                    seq: walker.next_seq(),
                    kind: BreakKind::Malformed { reason },
                }),
            };
            if let Err(b) = checked {
                broken = Some(b);
                break;
            }
        }
    }
    if broken.is_none() {
        broken = walker.finish(&head).err();
    }
    let _ = tx.rollback().await;
    Ok(VerifyReport {
        checked: walker.checked(),
        head,
        broken,
    })
}

fn read_head(row: Option<&PgRow>) -> Result<ChainHead, &'static str> {
    let row = row.ok_or("missing (its row was deleted)")?;
    let seq: i64 = row.try_get("seq").map_err(|_| "unreadable")?;
    let hash: Vec<u8> = row.try_get("hash").map_err(|_| "unreadable")?;
    Ok(ChainHead {
        seq: u64::try_from(seq).map_err(|_| "at a negative seq")?,
        hash: hash
            .try_into()
            .map_err(|_| "holding a hash of the wrong length")?,
    })
}

pub(crate) fn read_record(row: &PgRow) -> Result<ChainedRecord, String> {
    let get_err = |e: sqlx::Error| format!("unreadable: {e}");
    let seq: i64 = row.try_get("seq").map_err(get_err)?;
    let seq = u64::try_from(seq)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| format!("seq {seq} is below 1"))?;
    let hash_of = |column: &str| -> Result<Hash, String> {
        let bytes: Vec<u8> = row.try_get(column).map_err(get_err)?;
        let len = bytes.len();
        bytes
            .try_into()
            .map_err(|_| format!("seq {seq}: {column} has {len} bytes, not {HASH_LEN}"))
    };
    Ok(ChainedRecord {
        seq,
        at: row.try_get("at").map_err(get_err)?,
        partner: row.try_get("partner").map_err(get_err)?,
        method: row.try_get("method").map_err(get_err)?,
        subject_hash: row.try_get("subject_hash").map_err(get_err)?,
        fields: row
            .try_get::<Option<Vec<String>>, _>("fields")
            .map_err(get_err)?
            .unwrap_or_default(),
        purpose: row.try_get("purpose").map_err(get_err)?,
        result: row.try_get("result").map_err(get_err)?,
        detail: row.try_get("detail").map_err(get_err)?,
        prev_hash: hash_of("prev_hash")?,
        hash: hash_of("hash")?,
    })
}

pub(crate) fn seq_to_db(seq: u64) -> i64 {
    // 2^63 appends would take millennia at any rate this log sees.
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A seq column (`CHECK (seq >= 0)`) as a sequence number.
pub(crate) fn seq_from_db(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

/// PostgreSQL text cannot hold NUL characters: refuse such an event up front, with its index,
/// rather than fail the whole batch in the database.
fn check_storable(event: &AuditEvent) -> Result<(), String> {
    let named = [
        ("partner", event.partner.as_str()),
        ("method", event.method.as_str()),
        ("subject", event.subject.as_deref().unwrap_or_default()),
        ("purpose", event.purpose.as_str()),
        ("result", event.result.as_str()),
        ("detail", event.detail.as_str()),
    ];
    for (name, value) in named {
        if value.contains('\0') {
            return Err(format!("{name} contains a NUL character"));
        }
    }
    if event.fields.iter().any(|f| f.contains('\0')) {
        return Err("a field path contains a NUL character".into());
    }
    if event.partner.is_empty() {
        return Err("partner is empty".into());
    }
    if event.method.is_empty() {
        return Err("method is empty".into());
    }
    Ok(())
}

/// The futures services spawn must be `Send`.
#[cfg(test)]
#[allow(dead_code)] // checked by the compiler, never run
mod send_check {
    use super::*;

    fn is_send<T: Send>(t: T) -> T {
        t
    }

    async fn all(log: &AuditLog) {
        let _ = is_send(AuditLog::connect("", "", None)).await;
        let _ = is_send(log.append(Vec::new())).await;
        let _ = is_send(log.flush(Duration::ZERO)).await;
        let _ = is_send(log.verify()).await;
        let _ = is_send(verify_database("")).await;
    }
}
