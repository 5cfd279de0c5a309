//! The platform flavours, one module each: request shape, response shape and error body. They
//! share the checks in [`crate::gate`] and the storage in [`crate::store`].

pub(crate) mod lgsp;
pub(crate) mod ndop;
pub(crate) mod ngsp;

use crate::digest::sha256_hex;
use crate::gate::{Admitted, AppState, Rejection, check_idempotency_key};
use crate::store::{AcceptOutcome, NewRecord};

/// The fate of one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordResult {
    Created { reference: String },
    Duplicate { reference: String },
    Conflict { reference: String },
    Invalid { message: String },
}

/// Identity of a batch record for deduplication: the hash of its JSON as re-serialised by the
/// simulator (object keys in sorted order), so whitespace does not matter but content does.
pub(crate) fn json_hash(value: &serde_json::Value) -> String {
    sha256_hex(value.to_string().as_bytes())
}

/// A batch record checked and ready for storage, or refused before storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchRecord {
    Valid {
        key: String,
        entity: String,
        /// The record as stored (JSON text).
        body: String,
        /// [`json_hash`] of its identity.
        body_sha256: String,
    },
    Invalid {
        message: String,
    },
}

impl BatchRecord {
    /// A record with its key checked; `identity` is what deduplication compares.
    pub(crate) fn new(
        key: &str,
        entity: &str,
        body: &serde_json::Value,
        identity: &serde_json::Value,
    ) -> Self {
        match check_idempotency_key(key) {
            Err(message) => Self::Invalid { message },
            Ok(()) => Self::Valid {
                key: key.to_owned(),
                entity: entity.to_owned(),
                body: body.to_string(),
                body_sha256: json_hash(identity),
            },
        }
    }
}

/// Stores a batch's valid records in one transaction and returns every record's fate in request
/// order; invalid records and conflicts are counted as rejections.
pub(crate) async fn store_batch(
    state: &AppState,
    admitted: &Admitted,
    flavour: &str,
    records: &[BatchRecord],
) -> Result<Vec<RecordResult>, Rejection> {
    let valid: Vec<NewRecord<'_>> = records
        .iter()
        .filter_map(|record| match record {
            BatchRecord::Valid {
                key,
                entity,
                body,
                body_sha256,
            } => Some(NewRecord {
                flavour,
                idempotency_key: key,
                entity,
                body,
                body_sha256,
                client_id: admitted.client_id(),
                message_id: admitted.message_id(),
            }),
            BatchRecord::Invalid { .. } => None,
        })
        .collect();
    let mut outcomes = if valid.is_empty() {
        Vec::new()
    } else {
        state.store.accept_batch(&valid).await?
    }
    .into_iter();
    let (mut invalid, mut conflicts) = (0, 0);
    let mut results = Vec::with_capacity(records.len());
    for record in records {
        results.push(match record {
            BatchRecord::Invalid { message } => {
                invalid += 1;
                RecordResult::Invalid {
                    message: message.clone(),
                }
            }
            BatchRecord::Valid { .. } => match outcomes.next() {
                Some(AcceptOutcome::Created { reference }) => RecordResult::Created { reference },
                Some(AcceptOutcome::Duplicate { reference, .. }) => {
                    RecordResult::Duplicate { reference }
                }
                Some(AcceptOutcome::Conflict { reference }) => {
                    conflicts += 1;
                    RecordResult::Conflict { reference }
                }
                None => unreachable!("the store answers once per record"),
            },
        });
    }
    if invalid > 0 {
        state
            .store
            .count_rejections("invalid_record", invalid)
            .await?;
    }
    if conflicts > 0 {
        state
            .store
            .count_rejections("idempotency_conflict", conflicts)
            .await?;
    }
    Ok(results)
}

/// Refuses a batch with more records than configured.
pub(crate) fn check_batch_size(state: &AppState, len: usize) -> Result<(), Rejection> {
    let max = state.config.checks.max_batch_records;
    if len == 0 {
        return Err(Rejection::bad_request(
            "invalid_body",
            "the batch has no records",
        ));
    }
    if len > max {
        return Err(Rejection::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("the batch has {len} records; at most {max} are accepted"),
        ));
    }
    Ok(())
}
