//! The audit topic fed from the log (a transactional outbox): an append commits to
//! `lienthong_audit.events` and returns; a publisher task copies committed records to the topic
//! in seq order and records how far it got in `lienthong_audit.topic_progress`, in the same
//! transaction that holds that row's lock while the broker acknowledges the batch.
//!
//! So a record is never appended twice because the broker was away (the append does not wait
//! for it), and never missing from the topic because the process died between commit and
//! publication (the next publisher of that topic, in this process or another, starts from the
//! recorded progress). One publisher at a time feeds a topic: the others find the row locked
//! and look again later, and their own appends are published by the one holding it. Delivery
//! is at least once (a crash after the broker's acknowledgement and before the commit
//! republishes that batch); consumers keep the first record of each `seq`.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use lienthong_runtime::kafka::ProduceError;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};
use tokio::sync::{Notify, watch};

use crate::chain::ChainedRecord;
use crate::log::{COLUMNS, read_record, seq_from_db, seq_to_db};
use crate::topic::AuditTopic;

/// Records per round: one `SELECT`, one produce batch, one progress update.
const BATCH: i64 = 1_000;

/// How often an idle publisher looks for records appended by other processes, and retries the
/// topic's row when another process's publisher holds it.
const POLL: Duration = Duration::from_secs(1);

/// The first and the longest wait after a failed round.
const RETRY_MIN: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Why a round published nothing.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("the audit database failed while {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("the audit topic did not acknowledge records {first} to {last}: {source}")]
    Produce {
        first: u64,
        last: u64,
        #[source]
        source: ProduceError,
    },
    #[error("the audit log holds a record that cannot be read ({0}): run `lienthong audit verify`")]
    Malformed(String),
}

fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> RoundError {
    move |source| RoundError::Database { operation, source }
}

/// What one round found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// This publisher holds the topic's row: everything up to `through` is on the topic, and
    /// `behind` committed records are not yet.
    Held {
        through: u64,
        sent: usize,
        behind: u64,
    },
    /// Another publisher holds the topic's row; it publishes this process's appends too.
    Busy { through: u64, behind: u64 },
}

/// The publisher task's handle, owned by the [`AuditLog`](crate::AuditLog): dropping it stops
/// the task (what it has not published yet stays recorded as unpublished).
#[derive(Debug)]
pub(crate) struct Publisher {
    state: Arc<State>,
    topic: String,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    wake: Notify,
    /// The highest seq known to be on the topic.
    published: watch::Sender<u64>,
}

/// The counters the task keeps on the log's metrics.
#[derive(Debug, Clone)]
pub(crate) struct PublisherMetrics {
    pub errors: Counter,
    pub unpublished: Gauge,
}

impl Publisher {
    /// Starts publishing the log in `pool` to `topic`, from where the topic's progress row says.
    pub(crate) fn spawn(pool: PgPool, topic: AuditTopic, metrics: PublisherMetrics) -> Self {
        let state = Arc::new(State {
            wake: Notify::new(),
            published: watch::Sender::new(0),
        });
        let name = topic.topic().to_string();
        let task = tokio::spawn(run(pool, topic, state.clone(), metrics));
        Self {
            state,
            topic: name,
            task,
        }
    }

    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// Tells the task that records were appended.
    pub(crate) fn wake(&self) {
        self.state.wake.notify_one();
    }

    /// The highest seq known to be on the topic.
    pub(crate) fn published(&self) -> u64 {
        *self.state.published.borrow()
    }

    /// Waits until every record up to `seq` is on the topic, or `timeout` passes; returns the
    /// highest seq known to be on it.
    pub(crate) async fn wait_for(&self, seq: u64, timeout: Duration) -> u64 {
        self.wake();
        let mut published = self.state.published.subscribe();
        let _ = tokio::time::timeout(timeout, published.wait_for(|p| *p >= seq)).await;
        self.published()
    }
}

impl Publisher {
    /// Stops the task and waits until it has let go of its transaction.
    pub(crate) async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(pool: PgPool, topic: AuditTopic, state: Arc<State>, metrics: PublisherMetrics) {
    let backoff = ExponentialBuilder::new()
        .with_min_delay(RETRY_MIN)
        .with_max_delay(RETRY_MAX)
        .without_max_times()
        .with_jitter();
    let mut delays = backoff.build();
    loop {
        match round(&pool, &topic).await {
            Ok(round) => {
                delays = backoff.build();
                let (through, behind, idle) = match round {
                    Round::Held {
                        through,
                        sent,
                        behind,
                    } => (through, behind, sent == 0 || behind == 0),
                    Round::Busy { through, behind } => (through, behind, true),
                };
                state.published.send_if_modified(|p| {
                    let moved = through > *p;
                    *p = (*p).max(through);
                    moved
                });
                metrics
                    .unpublished
                    .set(i64::try_from(behind).unwrap_or(i64::MAX));
                if idle {
                    // Until records are appended here, or POLL passes (another process's
                    // appends, or the row another publisher holds).
                    tokio::select! {
                        () = state.wake.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
            }
            Err(e) => {
                metrics.errors.inc();
                let delay = delays.next().unwrap_or(RETRY_MAX);
                tracing::warn!(
                    topic = topic.topic(),
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "audit records are in the log but not yet on the audit topic"
                );
                // Appends meanwhile do not cut the wait short: they are published together.
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Publishes the next batch of committed records, if this publisher can take the topic's row.
async fn round(pool: &PgPool, topic: &AuditTopic) -> Result<Round, RoundError> {
    let mut tx = pool
        .begin()
        .await
        .map_err(database("starting a publication round"))?;
    let held = match lock_progress(pool, &mut tx, topic.topic()).await? {
        Some(progress) => progress,
        None => {
            let _ = tx.rollback().await;
            let (through, head) = progress_and_head(pool, topic.topic()).await?;
            return Ok(Round::Busy {
                through,
                behind: head.saturating_sub(through),
            });
        }
    };
    let head: i64 =
        sqlx::query_scalar("SELECT seq FROM lienthong_audit.chain_head WHERE singleton")
            .fetch_optional(&mut *tx)
            .await
            .map_err(database("reading the chain head"))?
            .unwrap_or(0);
    let head = seq_from_db(head);
    let select = format!(
        "SELECT {COLUMNS} FROM lienthong_audit.events WHERE seq > $1 ORDER BY seq LIMIT {BATCH}"
    );
    let records = sqlx::query(&select)
        .bind(seq_to_db(held))
        .fetch_all(&mut *tx)
        .await
        .map_err(database("reading unpublished audit records"))?
        .iter()
        .map(read_record)
        .collect::<Result<Vec<ChainedRecord>, String>>()
        .map_err(RoundError::Malformed)?;
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        let _ = tx.rollback().await;
        return Ok(Round::Held {
            through: held,
            sent: 0,
            behind: head.saturating_sub(held),
        });
    };
    let (first, through) = (first.seq, last.seq);
    topic
        .publish(&records)
        .await
        .map_err(|source| RoundError::Produce {
            first,
            last: through,
            source,
        })?;
    sqlx::query(
        "UPDATE lienthong_audit.topic_progress SET seq = $2, updated_at = now() WHERE topic = $1",
    )
    .bind(topic.topic())
    .bind(seq_to_db(through))
    .execute(&mut *tx)
    .await
    .map_err(database("recording the topic's progress"))?;
    tx.commit()
        .await
        .map_err(database("committing the topic's progress"))?;
    Ok(Round::Held {
        through,
        sent: records.len(),
        behind: head.saturating_sub(through),
    })
}

/// Locks the topic's progress row and returns its seq, creating the row (at 0: the topic gets
/// the whole log) the first time the topic is published to; `None` when another publisher
/// holds it.
async fn lock_progress(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    topic: &str,
) -> Result<Option<u64>, RoundError> {
    const LOCK: &str =
        "SELECT seq FROM lienthong_audit.topic_progress WHERE topic = $1 FOR UPDATE SKIP LOCKED";
    let locked: Option<i64> = sqlx::query_scalar(LOCK)
        .bind(topic)
        .fetch_optional(&mut **tx)
        .await
        .map_err(database("locking the topic's progress"))?;
    if let Some(seq) = locked {
        return Ok(Some(seq_from_db(seq)));
    }
    // Held by another publisher, or missing: the row is created in a statement of its own, so
    // that no publisher waits on another's uncommitted creation.
    let created = sqlx::query(
        "INSERT INTO lienthong_audit.topic_progress (topic, seq) VALUES ($1, 0)
         ON CONFLICT (topic) DO NOTHING",
    )
    .bind(topic)
    .execute(pool)
    .await
    .map_err(database("creating the topic's progress"))?;
    if created.rows_affected() == 0 {
        return Ok(None);
    }
    let locked: Option<i64> = sqlx::query_scalar(LOCK)
        .bind(topic)
        .fetch_optional(&mut **tx)
        .await
        .map_err(database("locking the topic's progress"))?;
    Ok(locked.map(seq_from_db))
}

/// The topic's progress and the chain head, read without locks.
async fn progress_and_head(pool: &PgPool, topic: &str) -> Result<(u64, u64), RoundError> {
    let (progress, head): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT seq FROM lienthong_audit.topic_progress WHERE topic = $1),
                (SELECT seq FROM lienthong_audit.chain_head WHERE singleton)",
    )
    .bind(topic)
    .fetch_one(pool)
    .await
    .map_err(database("reading the topic's progress"))?;
    Ok((
        seq_from_db(progress.unwrap_or(0)),
        seq_from_db(head.unwrap_or(0)),
    ))
}
