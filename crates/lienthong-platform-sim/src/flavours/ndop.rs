//! NDOP-style endpoint: `POST /ndop/api/v1/datasets/{dataset}/records`, a batch of
//! `{"key", "data"}` items for one dataset, answered with a summary and one result per item.
//! Errors are RFC 9457 problem details (`application/problem+json`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{BatchRecord, RecordResult, check_batch_size, store_batch};
use crate::gate::{AppState, Rejection, admit, check_path_name};
use crate::tls::ClientCertificate;

pub(crate) const FLAVOUR: &str = "ndop";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    items: Vec<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    key: String,
    data: Value,
}

pub(crate) async fn records(
    State(state): State<Arc<AppState>>,
    Path(dataset): Path<String>,
    headers: HeaderMap,
    certificate: Option<Extension<ClientCertificate>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let certificate = certificate.map(|Extension(c)| c);
    match handle(&state, &dataset, &headers, certificate.as_ref(), body).await {
        Ok(response) => response,
        Err(rejection) => {
            rejection.count(&state.store).await;
            render_error(&rejection)
        }
    }
}

async fn handle(
    state: &AppState,
    dataset: &str,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Rejection> {
    let admitted = admit(state, headers, certificate, body).await?;
    check_path_name("dataset", dataset)?;
    let batch: Batch = serde_json::from_slice(&admitted.body)
        .map_err(|e| Rejection::bad_request("invalid_body", format!("invalid batch: {e}")))?;
    check_batch_size(state, batch.items.len())?;

    let prepared: Vec<BatchRecord> = batch
        .items
        .iter()
        .map(|raw| match serde_json::from_value::<Item>(raw.clone()) {
            Err(e) => BatchRecord::Invalid {
                message: format!("invalid item: {e}"),
            },
            Ok(item) => BatchRecord::new(&item.key, dataset, &item.data, &item.data),
        })
        .collect();
    let results = store_batch(state, &admitted, FLAVOUR, &prepared).await?;

    let mut items = Vec::with_capacity(results.len());
    let (mut created, mut duplicate, mut conflict, mut invalid) = (0, 0, 0, 0);
    for (raw, result) in batch.items.iter().zip(results) {
        let key = raw.get("key").and_then(Value::as_str).map(str::to_owned);
        items.push(match result {
            RecordResult::Created { reference } => {
                created += 1;
                json!({"key": key, "result": "created", "ref": reference, "duplicate": false})
            }
            RecordResult::Duplicate { reference } => {
                duplicate += 1;
                json!({"key": key, "result": "duplicate", "ref": reference, "duplicate": true})
            }
            RecordResult::Conflict { reference } => {
                conflict += 1;
                json!({"key": key, "result": "conflict", "ref": reference, "duplicate": false,
                       "detail": "key already used for different data"})
            }
            RecordResult::Invalid { message } => {
                invalid += 1;
                json!({"key": key, "result": "invalid", "duplicate": false, "detail": message})
            }
        });
    }
    let body = json!({
        "dataset": dataset,
        "summary": {"created": created, "duplicate": duplicate, "conflict": conflict, "invalid": invalid},
        "items": items,
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// Problem details: `type` is `urn:lienthong:platform-sim:ndop:<code>`.
pub(crate) fn render_error(rejection: &Rejection) -> Response {
    let body = json!({
        "type": format!("urn:lienthong:platform-sim:ndop:{}", rejection.code),
        "title": rejection.status.canonical_reason().unwrap_or("Error"),
        "status": rejection.status.as_u16(),
        "detail": rejection.message,
    });
    let mut response = (rejection.status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response.headers_mut().extend(rejection.headers.clone());
    response
}
