//! NDOP: `POST /ndop/api/v1/datasets/{dataset}/records` with `{"items": [{"key", "data"}]}`;
//! one result per item (`created`, `duplicate`, `conflict`, `invalid`). Errors are RFC 9457
//! problem details.

use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{Answer, RecordAnswer, Request, match_by_key, refused_or_retry};
use crate::record::SinkRecord;

#[derive(Serialize)]
struct Body<'a> {
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Item<'a> {
    key: &'a str,
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Reply {
    items: Vec<ReplyItem>,
}

#[derive(Deserialize)]
struct ReplyItem {
    key: Option<String>,
    result: String,
    #[serde(default, rename = "ref")]
    reference: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

/// The records resource of a dataset.
pub(super) fn path(dataset: &str) -> String {
    format!("/ndop/api/v1/datasets/{dataset}/records")
}

pub(super) fn request(dataset: &str, records: &[SinkRecord]) -> Request {
    let body = Body {
        items: records
            .iter()
            .map(|r| Item {
                key: &r.idempotency_key,
                data: &r.payload,
            })
            .collect(),
    };
    Request {
        path: path(dataset),
        body: serde_json::to_vec(&body).unwrap_or_default(),
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
                reason: format!("unreadable NDOP answer: {e}"),
                retry_after: None,
            };
        }
    };
    let results = reply
        .items
        .into_iter()
        .filter_map(|item| {
            let key = item.key?;
            let answer = match item.result.as_str() {
                "created" => RecordAnswer::Stored {
                    reference: item.reference,
                    duplicate: false,
                },
                "duplicate" => RecordAnswer::Stored {
                    reference: item.reference,
                    duplicate: true,
                },
                other => RecordAnswer::Refused {
                    kind: format!("ndop-{other}"),
                    reason: match item.detail {
                        Some(d) => format!("{other}: {d}"),
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

    #[test]
    fn items_carry_key_and_data() {
        let request = request("can-bo", &[record("k1", r#"{"x":[1,2]}"#)]);
        assert_eq!(request.path, "/ndop/api/v1/datasets/can-bo/records");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["items"][0]["key"], "k1");
        assert_eq!(body["items"][0]["data"]["x"][1], 2);
    }

    #[test]
    fn item_results_map_to_verdicts() {
        let records = [record("a", "{}"), record("b", "{}")];
        let body = br#"{"dataset":"d","summary":{},"items":[
            {"key":"a","result":"duplicate","ref":"R-1","duplicate":true},
            {"key":"b","result":"invalid","duplicate":false,"detail":"bad key"}]}"#;
        let Answer::PerRecord(answers) = interpret(StatusCode::OK, body, &records) else {
            panic!();
        };
        assert_eq!(
            answers[0],
            RecordAnswer::Stored {
                reference: Some("R-1".into()),
                duplicate: true
            }
        );
        assert_eq!(
            answers[1],
            RecordAnswer::Refused {
                kind: "ndop-invalid".into(),
                reason: "invalid: bad key".into()
            }
        );
    }
}
