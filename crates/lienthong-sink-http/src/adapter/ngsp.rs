//! NGSP/NDXP: `POST /ngsp/v1/records`, the batch in an envelope whose header repeats the X-Road
//! identifiers; one result per record (`ACCEPTED`, `DUPLICATE`, `CONFLICT`, `INVALID`).

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Answer, RecordAnswer, Request, XRoad, match_by_key, refused_or_retry};
use crate::record::SinkRecord;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    header: Header<'a>,
    records: Vec<Record<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    client: &'a str,
    service: &'a str,
    message_id: &'a str,
    user_id: &'a str,
    purpose: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    idempotency_key: &'a str,
    entity: &'a str,
    payload: &'a RawValue,
}

#[derive(Deserialize)]
struct Reply {
    results: Vec<ReplyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplyResult {
    idempotency_key: Option<String>,
    status: String,
    #[serde(default)]
    reference: Option<String>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// The records resource.
pub(super) const PATH: &str = "/ngsp/v1/records";

pub(super) fn request(xroad: &XRoad<'_>, records: &[SinkRecord]) -> Request {
    let envelope = Envelope {
        header: Header {
            client: xroad.client,
            service: xroad.service.unwrap_or_default(),
            message_id: xroad.message_id,
            user_id: xroad.user_id,
            purpose: xroad.purpose,
        },
        records: records
            .iter()
            .map(|r| Record {
                idempotency_key: &r.idempotency_key,
                entity: &r.entity,
                payload: &r.payload,
            })
            .collect(),
    };
    Request {
        path: PATH.to_string(),
        // Serialising borrowed strings and already-valid JSON cannot fail.
        body: serde_json::to_vec(&envelope).unwrap_or_default(),
        headers: vec![("content-type", "application/json".to_string())],
    }
}

pub(super) fn interpret(status: StatusCode, body: &[u8], records: &[SinkRecord]) -> Answer {
    if !status.is_success() {
        return refused_or_retry(status, body);
    }
    let reply: Reply = match serde_json::from_slice(body) {
        Ok(reply) => reply,
        Err(e) => {
            return Answer::Retry {
                reason: format!("unreadable NGSP answer: {e}"),
                retry_after: None,
            };
        }
    };
    let results = reply
        .results
        .into_iter()
        .filter_map(|r| {
            let key = r.idempotency_key?;
            let answer = match r.status.as_str() {
                "ACCEPTED" => RecordAnswer::Stored {
                    reference: r.reference,
                    duplicate: false,
                },
                "DUPLICATE" => RecordAnswer::Stored {
                    reference: r.reference,
                    duplicate: true,
                },
                other => RecordAnswer::Refused {
                    kind: format!("ngsp-{}", other.to_ascii_lowercase()),
                    reason: match r.error {
                        Some(e) => format!("{other}: {e}"),
                        None => other.to_string(),
                    },
                },
            };
            Some((key, answer))
        })
        .collect();
    match_by_key(records, results)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::adapter::tests::record;

    fn xroad() -> XRoad<'static> {
        XRoad {
            client: "VN/GOV/000.00.00.H29/hub",
            service: Some("VN/GOV/000.00.00.G22/ndxp/records"),
            message_id: "m-1",
            user_id: "lienthong",
            purpose: "sync",
        }
    }

    #[test]
    fn the_envelope_repeats_the_xroad_header_and_embeds_payloads() {
        let records = [record("k1", r#"{"a":1}"#), record("k2", r#"{"b":"Đ"}"#)];
        let request = request(&xroad(), &records);
        assert_eq!(request.path, "/ngsp/v1/records");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["header"]["client"], "VN/GOV/000.00.00.H29/hub");
        assert_eq!(body["header"]["messageId"], "m-1");
        assert_eq!(body["header"]["userId"], "lienthong");
        assert_eq!(body["records"][1]["idempotencyKey"], "k2");
        assert_eq!(body["records"][1]["entity"], "civil_servant");
        assert_eq!(body["records"][1]["payload"]["b"], "Đ");
    }

    #[test]
    fn results_are_matched_by_key_whatever_their_order() {
        let records = [record("k1", "{}"), record("k2", "{}"), record("k3", "{}")];
        let body = br#"{"messageId":"m","accepted":1,"duplicates":1,"failed":1,"results":[
            {"idempotencyKey":"k3","status":"CONFLICT","duplicate":false,"error":{"type":"Client.IdempotencyConflict","message":"x"}},
            {"idempotencyKey":"k1","status":"ACCEPTED","reference":"r1","duplicate":false},
            {"idempotencyKey":"k2","status":"DUPLICATE","reference":"r0","duplicate":true}]}"#;
        let Answer::PerRecord(answers) = interpret(StatusCode::OK, body, &records) else {
            panic!("not per record");
        };
        assert_eq!(
            answers[0],
            RecordAnswer::Stored {
                reference: Some("r1".into()),
                duplicate: false
            }
        );
        assert_eq!(
            answers[1],
            RecordAnswer::Stored {
                reference: Some("r0".into()),
                duplicate: true
            }
        );
        assert!(
            matches!(&answers[2], RecordAnswer::Refused { kind, .. } if kind == "ngsp-conflict")
        );
    }

    #[test]
    fn a_missing_result_or_garbage_means_send_again() {
        let records = [record("k1", "{}"), record("k2", "{}")];
        let body = br#"{"results":[{"idempotencyKey":"k1","status":"ACCEPTED"}]}"#;
        assert!(matches!(
            interpret(StatusCode::OK, body, &records),
            Answer::Retry { .. }
        ));
        assert!(matches!(
            interpret(StatusCode::OK, b"<html>", &records),
            Answer::Retry { .. }
        ));
    }
}
