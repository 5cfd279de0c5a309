//! What the simulated platform accepted, in SQLite, plus the counters the inspection API reports.
//!
//! Idempotency keys are scoped per flavour: a sink sends the same record, with the same key, to
//! several platforms, and each platform deduplicates on its own. Within a flavour:
//!
//! - a new key is stored with a fresh platform reference (`<FLAVOUR>-<UUIDv7>`);
//! - a known key with the same body hash is a duplicate: the stored row's attempt count goes up
//!   and the original reference is returned;
//! - a known key with a different body hash is a conflict; nothing changes.
//!
//! A request's records are judged and stored together, in one `BEGIN IMMEDIATE` transaction:
//! the batch's keys are read, each record's outcome is decided in request order against what is
//! stored and what the batch stored before it (so a key repeated within a batch is a duplicate or
//! a conflict of its first occurrence), and the new rows and the attempt counts are written with
//! one statement each. The transaction holds SQLite's write lock from its start, so no other
//! writer can change a key between the read and the write, and two concurrent deliveries of one
//! key cannot both create a row. A handful of statements per request rather than one or more per
//! record keeps the simulator's storage from being what a sink benchmark measures.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions as _, Row as _};

use crate::error::SimError;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flavour TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        entity TEXT NOT NULL,
        body TEXT NOT NULL,
        body_sha256 TEXT NOT NULL,
        reference TEXT NOT NULL,
        client_id TEXT,
        message_id TEXT,
        received_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        UNIQUE (flavour, idempotency_key)
    )",
    "CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS message_ids (message_id TEXT PRIMARY KEY)",
];

/// One record offered for storage.
#[derive(Debug, Clone)]
pub struct NewRecord<'a> {
    pub flavour: &'a str,
    pub idempotency_key: &'a str,
    pub entity: &'a str,
    /// The record as JSON text.
    pub body: &'a str,
    /// Lower-case hex SHA-256 of what the flavour defines as the record's identity bytes.
    pub body_sha256: &'a str,
    pub client_id: Option<&'a str>,
    pub message_id: Option<&'a str>,
}

/// What storing a record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptOutcome {
    Created { reference: String },
    Duplicate { reference: String, attempts: i64 },
    Conflict { reference: String },
}

/// A stored record, as the inspection API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRecord {
    pub id: i64,
    pub flavour: String,
    pub idempotency_key: String,
    pub entity: String,
    /// The stored JSON; shown as a string if it somehow is not JSON.
    pub body: serde_json::Value,
    pub body_sha256: String,
    pub reference: String,
    pub client_id: Option<String>,
    pub message_id: Option<String>,
    pub received_at: String,
    pub last_seen_at: String,
    pub attempts: i64,
}

/// Totals for `GET /_sim/counts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Distinct records stored.
    pub records: i64,
    /// Deliveries of stored records, first ones and duplicates.
    pub deliveries: i64,
    /// Deliveries recognised as duplicates.
    pub duplicates: i64,
    pub by_flavour: BTreeMap<String, i64>,
    pub by_entity: BTreeMap<String, BTreeMap<String, i64>>,
    /// Requests or batch records refused, by reason code (see the crate docs).
    pub rejected: BTreeMap<String, i64>,
    pub rejected_total: i64,
    /// Injected faults, by kind: `error`, `rate_limited`, `unavailable`.
    pub faults: BTreeMap<String, i64>,
    /// Requests that reused an `X-Road-Id` seen before (not refused: a retry may reuse it).
    pub message_ids_reused: i64,
}

/// Filter and page of `GET /_sim/records`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub flavour: Option<String>,
    pub entity: Option<String>,
    /// Return records with `id` greater than this.
    pub after: Option<i64>,
    pub limit: u32,
}

/// SQLite-backed storage; cheap to clone.
#[derive(Debug, Clone)]
pub struct RecordStore {
    pool: SqlitePool,
}

const REJECTED_PREFIX: &str = "rejected.";
const FAULT_PREFIX: &str = "fault.";

impl RecordStore {
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`.
    pub async fn open(path: Option<&Path>) -> Result<Self, SimError> {
        let pool = match path {
            Some(path) => {
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5))
                    .disable_statement_logging();
                SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
            }
            None => {
                // Each in-memory connection is its own database, so the pool holds exactly one
                // connection and never retires it.
                let options = SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|e| SimError::Database(e.into()))?
                    .disable_statement_logging();
                SqlitePoolOptions::new()
                    .min_connections(1)
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect_with(options)
                    .await
            }
        }
        .map_err(|e| SimError::Database(e.into()))?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await.map_err(db)?;
        }
        Ok(Self { pool })
    }

    /// Stores a record or recognises it as a duplicate or conflict.
    pub async fn accept(&self, record: &NewRecord<'_>) -> Result<AcceptOutcome, SimError> {
        let mut outcomes = self.accept_batch(std::slice::from_ref(record)).await?;
        Ok(outcomes.remove(0))
    }

    /// Stores a batch request's records in one transaction, with each record's outcome in
    /// request order: a key repeated within the batch is a duplicate (same hash) or a conflict
    /// (another hash) of its first occurrence. Either every outcome is committed or, on error,
    /// none is.
    pub async fn accept_batch(
        &self,
        records: &[NewRecord<'_>],
    ) -> Result<Vec<AcceptOutcome>, SimError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_text();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;

        // What is stored under the batch's keys.
        let keys: Vec<[&str; 2]> = records
            .iter()
            .map(|r| [r.flavour, r.idempotency_key])
            .collect();
        let rows = sqlx::query(
            "SELECT r.flavour, r.idempotency_key, r.reference, r.body_sha256, r.attempts
             FROM records r
             JOIN (SELECT DISTINCT value ->> '$[0]' AS flavour, value ->> '$[1]' AS idempotency_key
                   FROM json_each(?1)) k
               ON r.flavour = k.flavour AND r.idempotency_key = k.idempotency_key",
        )
        .bind(json_text(&keys)?)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let mut known: HashMap<(String, String), Known> = HashMap::with_capacity(records.len());
        for row in rows {
            known.insert(
                (
                    row.try_get("flavour").map_err(db)?,
                    row.try_get("idempotency_key").map_err(db)?,
                ),
                Known {
                    reference: row.try_get("reference").map_err(db)?,
                    body_sha256: row.try_get("body_sha256").map_err(db)?,
                    attempts: row.try_get("attempts").map_err(db)?,
                    new: None,
                    seen_again: false,
                },
            );
        }

        // Each record's fate, in order, against the stored rows and the batch's earlier records.
        let mut outcomes = Vec::with_capacity(records.len());
        let mut fresh: Vec<(String, String)> = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let key = (record.flavour.to_owned(), record.idempotency_key.to_owned());
            match known.get_mut(&key) {
                None => {
                    let reference = format!(
                        "{}-{}",
                        record.flavour.to_ascii_uppercase(),
                        uuid::Uuid::now_v7()
                    );
                    outcomes.push(AcceptOutcome::Created {
                        reference: reference.clone(),
                    });
                    known.insert(
                        key.clone(),
                        Known {
                            reference,
                            body_sha256: record.body_sha256.to_owned(),
                            attempts: 1,
                            new: Some(i),
                            seen_again: false,
                        },
                    );
                    fresh.push(key);
                }
                Some(stored) if stored.body_sha256 == record.body_sha256 => {
                    stored.attempts += 1;
                    stored.seen_again = true;
                    outcomes.push(AcceptOutcome::Duplicate {
                        reference: stored.reference.clone(),
                        attempts: stored.attempts,
                    });
                }
                Some(stored) => outcomes.push(AcceptOutcome::Conflict {
                    reference: stored.reference.clone(),
                }),
            }
        }

        // New rows, in request order (so ids follow it), with their final attempt counts.
        if !fresh.is_empty() {
            let rows: Vec<serde_json::Value> = fresh
                .iter()
                .filter_map(|key| {
                    let k = &known[key];
                    let record = &records[k.new?];
                    Some(serde_json::json!([
                        record.flavour,
                        record.idempotency_key,
                        record.entity,
                        record.body,
                        record.body_sha256,
                        k.reference,
                        record.client_id,
                        record.message_id,
                        k.attempts,
                    ]))
                })
                .collect();
            sqlx::query(
                "INSERT INTO records (flavour, idempotency_key, entity, body, body_sha256,
                                      reference, client_id, message_id, received_at,
                                      last_seen_at, attempts)
                 SELECT value ->> '$[0]', value ->> '$[1]', value ->> '$[2]', value ->> '$[3]',
                        value ->> '$[4]', value ->> '$[5]', value ->> '$[6]', value ->> '$[7]',
                        ?2, ?2, value ->> '$[8]'
                 FROM json_each(?1) ORDER BY key",
            )
            .bind(json_text(&rows)?)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }

        // Attempts of rows stored before this batch that it delivered again.
        let again: Vec<(&str, &str, i64)> = known
            .iter()
            .filter(|(_, k)| k.new.is_none() && k.seen_again)
            .map(|((flavour, key), k)| (flavour.as_str(), key.as_str(), k.attempts))
            .collect();
        if !again.is_empty() {
            sqlx::query(
                "UPDATE records SET attempts = a.value ->> '$[2]', last_seen_at = ?2
                 FROM json_each(?1) a
                 WHERE records.flavour = a.value ->> '$[0]'
                   AND records.idempotency_key = a.value ->> '$[1]'",
            )
            .bind(json_text(&again)?)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(outcomes)
    }

    /// Counts one refused request or batch record under `reason`.
    pub async fn count_rejection(&self, reason: &str) -> Result<(), SimError> {
        self.count_rejections(reason, 1).await
    }

    /// Counts `n` refused batch records under `reason`.
    pub async fn count_rejections(&self, reason: &str, n: i64) -> Result<(), SimError> {
        self.add(&format!("{REJECTED_PREFIX}{reason}"), n).await
    }

    /// Counts one injected fault of `kind`.
    pub async fn count_fault(&self, kind: &str) -> Result<(), SimError> {
        self.bump(&format!("{FAULT_PREFIX}{kind}")).await
    }

    async fn bump(&self, name: &str) -> Result<(), SimError> {
        self.add(name, 1).await
    }

    async fn add(&self, name: &str, n: i64) -> Result<(), SimError> {
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
        )
        .bind(name)
        .bind(n)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Remembers a message id; returns whether it had been seen before.
    pub async fn note_message_id(&self, message_id: &str) -> Result<bool, SimError> {
        let result =
            sqlx::query("INSERT INTO message_ids (message_id) VALUES (?1) ON CONFLICT DO NOTHING")
                .bind(message_id)
                .execute(&self.pool)
                .await
                .map_err(db)?;
        let reused = result.rows_affected() == 0;
        if reused {
            self.bump("message_ids_reused").await?;
        }
        Ok(reused)
    }

    pub async fn counts(&self) -> Result<Counts, SimError> {
        let mut counts = Counts::default();
        let rows = sqlx::query(
            "SELECT flavour, entity, COUNT(*) AS n, SUM(attempts) AS deliveries
             FROM records GROUP BY flavour, entity",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        for row in rows {
            let flavour: String = row.try_get("flavour").map_err(db)?;
            let entity: String = row.try_get("entity").map_err(db)?;
            let n: i64 = row.try_get("n").map_err(db)?;
            let deliveries: i64 = row.try_get("deliveries").map_err(db)?;
            counts.records += n;
            counts.deliveries += deliveries;
            *counts.by_flavour.entry(flavour.clone()).or_default() += n;
            counts
                .by_entity
                .entry(flavour)
                .or_default()
                .insert(entity, n);
        }
        counts.duplicates = counts.deliveries - counts.records;
        let counters = sqlx::query("SELECT name, value FROM counters")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        for row in counters {
            let name: String = row.try_get("name").map_err(db)?;
            let value: i64 = row.try_get("value").map_err(db)?;
            if let Some(reason) = name.strip_prefix(REJECTED_PREFIX) {
                counts.rejected.insert(reason.to_owned(), value);
                counts.rejected_total += value;
            } else if let Some(kind) = name.strip_prefix(FAULT_PREFIX) {
                counts.faults.insert(kind.to_owned(), value);
            } else if name == "message_ids_reused" {
                counts.message_ids_reused = value;
            }
        }
        Ok(counts)
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Vec<StoredRecord>, SimError> {
        let rows = sqlx::query(
            "SELECT * FROM records
             WHERE (?1 IS NULL OR flavour = ?1) AND (?2 IS NULL OR entity = ?2) AND id > ?3
             ORDER BY id LIMIT ?4",
        )
        .bind(query.flavour.as_deref())
        .bind(query.entity.as_deref())
        .bind(query.after.unwrap_or(0))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(stored_record).collect()
    }

    pub async fn get(&self, flavour: &str, key: &str) -> Result<Option<StoredRecord>, SimError> {
        let row = sqlx::query("SELECT * FROM records WHERE flavour = ?1 AND idempotency_key = ?2")
            .bind(flavour)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(stored_record).transpose()
    }

    /// Deletes every record, counter and remembered message id.
    pub async fn reset(&self) -> Result<(), SimError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        for table in ["records", "counters", "message_ids"] {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), SimError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Closes every connection, so another server can open the same file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A key's stored (or just decided) state while a batch is judged.
#[derive(Debug)]
struct Known {
    reference: String,
    body_sha256: String,
    /// The attempt count once the batch's records so far are counted.
    attempts: i64,
    /// The index of the batch record that creates the row; `None`: stored before the batch.
    new: Option<usize>,
    /// The batch delivered the key again.
    seen_again: bool,
}

fn json_text(value: &impl Serialize) -> Result<String, SimError> {
    serde_json::to_string(value)
        .map_err(|e| SimError::Database(sqlx::Error::Encode(e.into()).into()))
}

fn stored_record(row: &sqlx::sqlite::SqliteRow) -> Result<StoredRecord, SimError> {
    let body: String = row.try_get("body").map_err(db)?;
    Ok(StoredRecord {
        id: row.try_get("id").map_err(db)?,
        flavour: row.try_get("flavour").map_err(db)?,
        idempotency_key: row.try_get("idempotency_key").map_err(db)?,
        entity: row.try_get("entity").map_err(db)?,
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        body_sha256: row.try_get("body_sha256").map_err(db)?,
        reference: row.try_get("reference").map_err(db)?,
        client_id: row.try_get("client_id").map_err(db)?,
        message_id: row.try_get("message_id").map_err(db)?,
        received_at: row.try_get("received_at").map_err(db)?,
        last_seen_at: row.try_get("last_seen_at").map_err(db)?,
        attempts: row.try_get("attempts").map_err(db)?,
    })
}

fn db(error: sqlx::Error) -> SimError {
    SimError::Database(error.into())
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(key: &'a str, hash: &'a str) -> NewRecord<'a> {
        NewRecord {
            flavour: "ngsp",
            idempotency_key: key,
            entity: "person",
            body: "{\"a\":1}",
            body_sha256: hash,
            client_id: Some("hub"),
            message_id: Some("m1"),
        }
    }

    #[tokio::test]
    async fn dedup_and_conflict() {
        let store = RecordStore::open(None).await.unwrap();
        let AcceptOutcome::Created { reference } = store.accept(&record("k1", "h1")).await.unwrap()
        else {
            panic!("first delivery not created");
        };
        assert!(reference.starts_with("NGSP-"));
        assert_eq!(
            store.accept(&record("k1", "h1")).await.unwrap(),
            AcceptOutcome::Duplicate {
                reference: reference.clone(),
                attempts: 2
            }
        );
        assert_eq!(
            store.accept(&record("k1", "h2")).await.unwrap(),
            AcceptOutcome::Conflict {
                reference: reference.clone()
            }
        );
        // The same key on another flavour is another record.
        let other = NewRecord {
            flavour: "ndop",
            ..record("k1", "h2")
        };
        assert!(matches!(
            store.accept(&other).await.unwrap(),
            AcceptOutcome::Created { .. }
        ));
        store.count_rejection("invalid_digest").await.unwrap();
        store.count_fault("error").await.unwrap();
        assert!(!store.note_message_id("m1").await.unwrap());
        assert!(store.note_message_id("m1").await.unwrap());
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.records, 2);
        assert_eq!(counts.deliveries, 3);
        assert_eq!(counts.duplicates, 1);
        assert_eq!(counts.by_entity["ngsp"]["person"], 1);
        assert_eq!(counts.rejected["invalid_digest"], 1);
        assert_eq!(counts.faults["error"], 1);
        assert_eq!(counts.message_ids_reused, 1);
        let stored = store.get("ngsp", "k1").await.unwrap().unwrap();
        assert_eq!(stored.attempts, 2);
        assert_eq!(stored.body, serde_json::json!({"a": 1}));
        store.reset().await.unwrap();
        assert_eq!(store.counts().await.unwrap(), Counts::default());
    }

    #[tokio::test]
    async fn batch_with_a_duplicate_and_a_conflict_inside_it() {
        let store = RecordStore::open(None).await.unwrap();
        let AcceptOutcome::Created { reference: before } =
            store.accept(&record("k0", "h0")).await.unwrap()
        else {
            panic!("first delivery not created");
        };
        let batch = [
            record("k1", "h1"),
            record("k2", "h2"),
            // The same record again within the batch: a duplicate of the first occurrence.
            record("k1", "h1"),
            // The same key with another body within the batch: a conflict, nothing changes.
            record("k2", "h9"),
            // A key stored by an earlier request: a duplicate of that one.
            record("k0", "h0"),
            record("k3", "h3"),
        ];
        let outcomes = store.accept_batch(&batch).await.unwrap();
        assert_eq!(outcomes.len(), batch.len());
        let created = |i: usize| match &outcomes[i] {
            AcceptOutcome::Created { reference } => reference.clone(),
            other => panic!("record {i} not created: {other:?}"),
        };
        let (k1, k2, k3) = (created(0), created(1), created(5));
        assert_ne!(k1, k2);
        assert_ne!(k1, k3);
        assert_eq!(
            outcomes[2],
            AcceptOutcome::Duplicate {
                reference: k1,
                attempts: 2
            }
        );
        assert_eq!(
            outcomes[3],
            AcceptOutcome::Conflict {
                reference: k2.clone()
            }
        );
        assert_eq!(
            outcomes[4],
            AcceptOutcome::Duplicate {
                reference: before,
                attempts: 2
            }
        );
        let conflicted = store.get("ngsp", "k2").await.unwrap().unwrap();
        assert_eq!(conflicted.body_sha256, "h2");
        assert_eq!(conflicted.attempts, 1);
        assert_eq!(conflicted.reference, k2);
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.records, 4);
        assert_eq!(counts.deliveries, 6);
        assert_eq!(counts.duplicates, 2);

        // The same batch redelivered: every record that was stored is a duplicate now, and the
        // conflicting one still conflicts.
        let again = store.accept_batch(&batch).await.unwrap();
        let kinds: Vec<&str> = again
            .iter()
            .map(|o| match o {
                AcceptOutcome::Created { .. } => "created",
                AcceptOutcome::Duplicate { .. } => "duplicate",
                AcceptOutcome::Conflict { .. } => "conflict",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "duplicate",
                "duplicate",
                "duplicate",
                "conflict",
                "duplicate",
                "duplicate"
            ]
        );
        assert_eq!(store.counts().await.unwrap().records, 4);
        assert_eq!(store.get("ngsp", "k1").await.unwrap().unwrap().attempts, 4);
    }

    #[tokio::test]
    async fn a_failed_batch_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(Some(&dir.path().join("sim.db")))
            .await
            .unwrap();
        // A trigger refusing one key stands in for any failure half-way through a batch.
        sqlx::query(
            "CREATE TRIGGER refuse_bad BEFORE INSERT ON records WHEN NEW.idempotency_key = 'bad'
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let batch = [record("k1", "h1"), record("bad", "h2"), record("k3", "h3")];
        assert!(store.accept_batch(&batch).await.is_err());
        assert_eq!(store.counts().await.unwrap().records, 0);
        assert!(store.get("ngsp", "k1").await.unwrap().is_none());
        // Without the bad record the batch goes through.
        let outcomes = store
            .accept_batch(&[record("k1", "h1"), record("k3", "h3")])
            .await
            .unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, AcceptOutcome::Created { .. }))
        );
        store.count_rejections("invalid_record", 3).await.unwrap();
        store.count_rejection("invalid_record").await.unwrap();
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.records, 2);
        assert_eq!(counts.rejected["invalid_record"], 4);
        assert_eq!(counts.rejected_total, 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_of_the_same_keys_create_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::open(Some(&dir.path().join("sim.db")))
            .await
            .unwrap();
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let mut batches = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let (store, keys) = (store.clone(), keys.clone());
            batches.spawn(async move {
                let batch: Vec<NewRecord<'_>> = keys.iter().map(|k| record(k, "h")).collect();
                store.accept_batch(&batch).await.unwrap()
            });
        }
        let mut created = 0;
        while let Some(outcomes) = batches.join_next().await {
            created += outcomes
                .unwrap()
                .iter()
                .filter(|o| matches!(o, AcceptOutcome::Created { .. }))
                .count();
        }
        assert_eq!(created, keys.len());
        let counts = store.counts().await.unwrap();
        assert_eq!(counts.records, 50);
        assert_eq!(counts.deliveries, 200);
        assert_eq!(store.get("ngsp", "k7").await.unwrap().unwrap().attempts, 4);
    }

    #[tokio::test]
    async fn list_pages_in_id_order() {
        let store = RecordStore::open(None).await.unwrap();
        for i in 0..5 {
            let key = format!("k{i}");
            store.accept(&record(&key, "h")).await.unwrap();
        }
        let first = store
            .list(&ListQuery {
                limit: 2,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            first
                .iter()
                .map(|r| r.idempotency_key.as_str())
                .collect::<Vec<_>>(),
            ["k0", "k1"]
        );
        let rest = store
            .list(&ListQuery {
                after: Some(first[1].id),
                limit: 10,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(rest.len(), 3);
        assert_eq!(rest[0].idempotency_key, "k2");
    }
}
