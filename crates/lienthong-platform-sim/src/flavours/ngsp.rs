//! NGSP/NDXP-style endpoint: `POST /ngsp/v1/records`, a batch in an envelope whose header repeats
//! the X-Road identifiers, answered with one result per record. Errors use the X-Road REST fault
//! shape `{"type": "Client.<Code>" | "Server.<Code>", "message", "detail"}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{BatchRecord, RecordResult, check_batch_size, store_batch};
use crate::gate::{AppState, Rejection, admit};
use crate::tls::ClientCertificate;

pub(crate) const FLAVOUR: &str = "ngsp";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    header: EnvelopeHeader,
    records: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvelopeHeader {
    client: String,
    service: String,
    message_id: String,
    user_id: String,
    purpose: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvelopeRecord {
    idempotency_key: String,
    entity: String,
    payload: Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordOutcome {
    idempotency_key: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    duplicate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

pub(crate) async fn records(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    match handle(&state, &headers, certificate.as_ref(), body).await {
        Ok(response) => response,
        Err(rejection) => {
            rejection.count(&state.store).await;
            render_error(&rejection)
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let admitted = admit(state, headers, certificate, body).await?;
    let envelope: Envelope = serde_json::from_slice(&admitted.body)
        .map_err(|e| Rejection::bad_request("invalid_body", format!("invalid envelope: {e}")))?;
    let header = &envelope.header;
    for (name, value) in [
        ("header.client", &header.client),
        ("header.service", &header.service),
        ("header.messageId", &header.message_id),
        ("header.userId", &header.user_id),
        ("header.purpose", &header.purpose),
    ] {
        if value.trim().is_empty() {
            return Err(Rejection::bad_request(
                "invalid_body",
                format!("{name} must not be empty"),
            ));
        }
    }
    if let Some(xroad) = &admitted.xroad
        && (header.client != xroad.client.to_string() || header.message_id != xroad.message_id)
    {
        return Err(Rejection::bad_request(
            "header_mismatch",
            "envelope header.client / header.messageId differ from X-Road-Client / X-Road-Id",
        ));
    }
    check_batch_size(state, envelope.records.len())?;

    let prepared: Vec<BatchRecord> = envelope
        .records
        .iter()
        .map(
            |raw| match serde_json::from_value::<EnvelopeRecord>(raw.clone()) {
                Err(e) => BatchRecord::Invalid {
                    message: format!("invalid record: {e}"),
                },
                Ok(record) => match crate::gate::check_path_name("entity", &record.entity) {
                    Err(rejection) => BatchRecord::Invalid {
                        message: rejection.message,
                    },
                    Ok(()) => {
                        let identity = json!({"entity": record.entity, "payload": record.payload});
                        BatchRecord::new(
                            &record.idempotency_key,
                            &record.entity,
                            &record.payload,
                            &identity,
                        )
                    }
                },
            },
        )
        .collect();
    let stored = store_batch(state, &admitted, FLAVOUR, &prepared).await?;
    let results: Vec<RecordOutcome> = envelope
        .records
        .iter()
        .zip(stored)
        .map(|(raw, result)| {
            let key = raw
                .get("idempotencyKey")
                .and_then(Value::as_str)
                .map(str::to_owned);
            outcome(key, result)
        })
        .collect();
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    let body = json!({
        "messageId": header.message_id,
        "accepted": count("ACCEPTED"),
        "duplicates": count("DUPLICATE"),
        "failed": count("CONFLICT") + count("INVALID"),
        "results": results,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

fn outcome(key: Option<String>, result: RecordResult) -> RecordOutcome {
    let fault = |code: &str, message: String| Some(json!({"type": code, "message": message}));
    match result {
        RecordResult::Created { reference } => RecordOutcome {
            idempotency_key: key,
            status: "ACCEPTED",
            reference: Some(reference),
            duplicate: false,
            error: None,
        },
        RecordResult::Duplicate { reference } => RecordOutcome {
            idempotency_key: key,
            status: "DUPLICATE",
            reference: Some(reference),
            duplicate: true,
            error: None,
        },
        RecordResult::Conflict { reference } => RecordOutcome {
            idempotency_key: key,
            status: "CONFLICT",
            reference: Some(reference),
            duplicate: false,
            error: fault(
                "Client.IdempotencyConflict",
                "this idempotency key was already used for a different record".into(),
            ),
        },
        RecordResult::Invalid { message } => RecordOutcome {
            idempotency_key: key,
            status: "INVALID",
            reference: None,
            duplicate: false,
            error: fault("Client.InvalidRecord", message),
        },
    }
}

/// X-Road REST fault body: `type` is `Client.` for 4xx and `Server.` for 5xx, followed by the
/// reason code in UpperCamelCase.
pub(crate) fn render_error(rejection: &Rejection) -> Response {
    let side = if rejection.status.is_server_error() {
        "Server"
    } else {
        "Client"
    };
    let code: String = rejection
        .code
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    let body = json!({
        "type": format!("{side}.{code}"),
        "message": rejection.message,
        "detail": uuid::Uuid::now_v7().to_string(),
    });
    let mut response = (rejection.status, Json(body)).into_response();
    response.headers_mut().extend(rejection.headers.clone());
    response
}
