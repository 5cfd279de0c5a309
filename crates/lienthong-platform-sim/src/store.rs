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
//! The insert is a single `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so two concurrent
//! deliveries of one key cannot both create a row.

use std::collections::BTreeMap;
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
        let now = now_text();
        let reference = format!(
            "{}-{}",
            record.flavour.to_ascii_uppercase(),
            uuid::Uuid::now_v7()
        );
        let inserted = sqlx::query(
            "INSERT INTO records (flavour, idempotency_key, entity, body, body_sha256, reference,
                                  client_id, message_id, received_at, last_seen_at, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1)
             ON CONFLICT (flavour, idempotency_key) DO NOTHING
             RETURNING reference",
        )
        .bind(record.flavour)
        .bind(record.idempotency_key)
        .bind(record.entity)
        .bind(record.body)
        .bind(record.body_sha256)
        .bind(&reference)
        .bind(record.client_id)
        .bind(record.message_id)
        .bind(&now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if inserted.is_some() {
            return Ok(AcceptOutcome::Created { reference });
        }
        // The key exists. Count the attempt only when the body is the same, in one statement so
        // a concurrent duplicate cannot be lost.
        let duplicate = sqlx::query(
            "UPDATE records SET attempts = attempts + 1, last_seen_at = ?4
             WHERE flavour = ?1 AND idempotency_key = ?2 AND body_sha256 = ?3
             RETURNING reference, attempts",
        )
        .bind(record.flavour)
        .bind(record.idempotency_key)
        .bind(record.body_sha256)
        .bind(&now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        if let Some(row) = duplicate {
            return Ok(AcceptOutcome::Duplicate {
                reference: row.try_get("reference").map_err(db)?,
                attempts: row.try_get("attempts").map_err(db)?,
            });
        }
        let existing: String = sqlx::query_scalar(
            "SELECT reference FROM records WHERE flavour = ?1 AND idempotency_key = ?2",
        )
        .bind(record.flavour)
        .bind(record.idempotency_key)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(AcceptOutcome::Conflict {
            reference: existing,
        })
    }

    /// Counts one refused request or batch record under `reason`.
    pub async fn count_rejection(&self, reason: &str) -> Result<(), SimError> {
        self.bump(&format!("{REJECTED_PREFIX}{reason}")).await
    }

    /// Counts one injected fault of `kind`.
    pub async fn count_fault(&self, kind: &str) -> Result<(), SimError> {
        self.bump(&format!("{FAULT_PREFIX}{kind}")).await
    }

    async fn bump(&self, name: &str) -> Result<(), SimError> {
        sqlx::query(
            "INSERT INTO counters (name, value) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1",
        )
        .bind(name)
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
