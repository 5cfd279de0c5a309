//! LGSP-style endpoint: `POST /lgsp/{ministry}/v1/{entity}`, one record per request, its JSON
//! object as the whole body and its key in the `Idempotency-Key` header. Deduplication compares
//! the raw body bytes. Answers use the envelope `{"code", "message", "data"}` common to
//! ministry integration platforms, with `code` `"0"` for success.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};

use crate::digest::sha256_hex;
use crate::gate::{AppState, Rejection, admit, check_path_name, idempotency_key_header};
use crate::store::{AcceptOutcome, NewRecord};
use crate::tls::ClientCertificate;

pub(crate) const FLAVOUR: &str = "lgsp";

pub(crate) async fn record(
    State(state): State<Arc<AppState>>,
    Path((ministry, entity)): Path<(String, String)>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    match handle(
        &state,
        &ministry,
        &entity,
        &headers,
        certificate.as_ref(),
        body,
    )
    .await
    {
        Ok(response) => response,
        Err(rejection) => {
            rejection.count(&state.store).await;
            render_error(&rejection)
        }
    }
}

async fn handle(
    state: &AppState,
    ministry: &str,
    entity: &str,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let admitted = admit(state, headers, certificate, body).await?;
    check_path_name("ministry", ministry)?;
    check_path_name("entity", entity)?;
    let key = idempotency_key_header(headers)?;
    let text = std::str::from_utf8(&admitted.body)
        .map_err(|_| Rejection::bad_request("invalid_body", "body is not UTF-8"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => {}
        Ok(_) => {
            return Err(Rejection::bad_request(
                "invalid_body",
                "body must be one JSON object",
            ));
        }
        Err(e) => {
            return Err(Rejection::bad_request(
                "invalid_body",
                format!("body is not JSON: {e}"),
            ));
        }
    }
    let scoped_entity = format!("{ministry}/{entity}");
    let outcome = state
        .store
        .accept(&NewRecord {
            flavour: FLAVOUR,
            idempotency_key: &key,
            entity: &scoped_entity,
            body: text,
            body_sha256: &sha256_hex(&admitted.body),
            client_id: admitted.client_id(),
            message_id: admitted.message_id(),
        })
        .await?;
    let (status, reference, duplicate) = match outcome {
        AcceptOutcome::Created { reference } => (StatusCode::CREATED, reference, false),
        AcceptOutcome::Duplicate { reference, .. } => (StatusCode::OK, reference, true),
        AcceptOutcome::Conflict { reference } => {
            let mut rejection = Rejection::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "this Idempotency-Key was already used for a different body",
            );
            rejection.message = format!("{} (original reference {reference})", rejection.message);
            return Err(rejection);
        }
    };
    let body = json!({
        "code": "0",
        "message": if duplicate { "duplicate" } else { "created" },
        "data": {"reference": reference, "duplicate": duplicate, "idempotencyKey": key},
    });
    Ok((status, Json(body)).into_response())
}

/// `{"code": "<REASON>", "message", "data": null}` with the reason code in upper case.
pub(crate) fn render_error(rejection: &Rejection) -> Response {
    let body = json!({
        "code": rejection.code.to_ascii_uppercase(),
        "message": rejection.message,
        "data": null,
    });
    let mut response = (rejection.status, Json(body)).into_response();
    response.headers_mut().extend(rejection.headers.clone());
    response
}
