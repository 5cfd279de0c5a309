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

/// Stores one batch record, counting conflicts and invalid records as rejections.
pub(crate) async fn store_batch_record(
    state: &AppState,
    admitted: &Admitted,
    flavour: &str,
    key: &str,
    entity: &str,
    body: &serde_json::Value,
    identity: &serde_json::Value,
) -> Result<RecordResult, Rejection> {
    if let Err(message) = check_idempotency_key(key) {
        state.store.count_rejection("invalid_record").await?;
        return Ok(RecordResult::Invalid { message });
    }
    let outcome = state
        .store
        .accept(&NewRecord {
            flavour,
            idempotency_key: key,
            entity,
            body: &body.to_string(),
            body_sha256: &json_hash(identity),
            client_id: admitted.client_id(),
            message_id: admitted.message_id(),
        })
        .await?;
    Ok(match outcome {
        AcceptOutcome::Created { reference } => RecordResult::Created { reference },
        AcceptOutcome::Duplicate { reference, .. } => RecordResult::Duplicate { reference },
        AcceptOutcome::Conflict { reference } => {
            state.store.count_rejection("idempotency_conflict").await?;
            RecordResult::Conflict { reference }
        }
    })
}

/// Counts an invalid batch record.
pub(crate) async fn invalid_record(
    state: &AppState,
    message: String,
) -> Result<RecordResult, Rejection> {
    state.store.count_rejection("invalid_record").await?;
    Ok(RecordResult::Invalid { message })
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
