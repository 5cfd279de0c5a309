//! A ministry LGSP: `POST /lgsp/{ministry}/v1/{entity}`, one record per request as the whole
//! body, its key in `Idempotency-Key`. `201` created, `200` with `duplicate: true` for a repeat,
//! `409 IDEMPOTENCY_CONFLICT` for the same key with another body.

use reqwest::StatusCode;
use serde::Deserialize;

use super::{Answer, RecordAnswer, Request, excerpt, refused_or_retry};
use crate::record::SinkRecord;

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    data: Option<ReplyData>,
}

#[derive(Deserialize)]
struct ReplyData {
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    duplicate: bool,
}

/// The resource of an entity at a ministry.
pub(super) fn path(ministry: &str, entity: &str) -> String {
    format!("/lgsp/{ministry}/v1/{entity}")
}

pub(super) fn request(ministry: &str, record: &SinkRecord) -> Request {
    Request {
        path: path(ministry, &record.entity),
        body: record.payload.get().as_bytes().to_vec(),
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("idempotency-key", record.idempotency_key.clone()),
        ],
    }
}

pub(super) fn interpret(status: StatusCode, body: &[u8]) -> Answer {
    if status == StatusCode::CONFLICT {
        return Answer::PerRecord(vec![RecordAnswer::Refused {
            kind: "lgsp-conflict".into(),
            reason: format!("HTTP 409: {}", excerpt(body)),
        }]);
    }
    if !status.is_success() {
        return refused_or_retry(status, body);
    }
    match serde_json::from_slice::<Reply>(body) {
        Ok(Reply { data: Some(data) }) => Answer::PerRecord(vec![RecordAnswer::Stored {
            reference: data.reference,
            duplicate: data.duplicate,
        }]),
        Ok(Reply { data: None }) => Answer::PerRecord(vec![RecordAnswer::Stored {
            reference: None,
            duplicate: status == StatusCode::OK,
        }]),
        Err(e) => Answer::Retry {
            reason: format!("unreadable LGSP answer: {e}"),
            retry_after: None,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::adapter::tests::record;

    #[test]
    fn the_body_is_the_record_and_the_key_a_header() {
        let request = request("bnv", &record("k9", r#"{"a":"Ư"}"#));
        assert_eq!(request.path, "/lgsp/bnv/v1/civil_servant");
        assert_eq!(request.body, r#"{"a":"Ư"}"#.as_bytes());
        assert!(
            request
                .headers
                .contains(&("idempotency-key", "k9".to_string()))
        );
    }

    #[test]
    fn created_duplicate_and_conflict() {
        assert_eq!(
            interpret(
                StatusCode::CREATED,
                br#"{"code":"0","message":"created","data":{"reference":"L-1","duplicate":false,"idempotencyKey":"k"}}"#
            ),
            Answer::PerRecord(vec![RecordAnswer::Stored {
                reference: Some("L-1".into()),
                duplicate: false
            }])
        );
        assert_eq!(
            interpret(
                StatusCode::OK,
                br#"{"code":"0","data":{"reference":"L-1","duplicate":true}}"#
            ),
            Answer::PerRecord(vec![RecordAnswer::Stored {
                reference: Some("L-1".into()),
                duplicate: true
            }])
        );
        assert!(matches!(
            &interpret(StatusCode::CONFLICT, br#"{"code":"IDEMPOTENCY_CONFLICT"}"#),
            Answer::PerRecord(v) if matches!(&v[0], RecordAnswer::Refused { kind, .. } if kind == "lgsp-conflict")
        ));
    }
}
