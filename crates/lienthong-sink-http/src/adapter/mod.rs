//! The platforms' request and answer shapes, one module each, over one vocabulary: an adapter
//! turns a batch into a request ([`Adapter::request`]) and an HTTP answer into an [`Answer`]
//! ([`Adapter::interpret`]). Retrying, batching and authentication live in the delivery core
//! and know nothing of any platform.

mod lgsp;
mod ndop;
mod ngsp;

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::config::{AdapterKind, EndpointConfig};
use crate::record::SinkRecord;

/// One HTTP request to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Appended to the endpoint's base URL.
    pub path: String,
    pub body: Vec<u8>,
    /// Headers of this adapter besides the common ones (auth, X-Road, digest).
    pub headers: Vec<(&'static str, String)>,
}

/// The platform's verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordAnswer {
    /// Stored now (`duplicate: false`) or earlier under the same key with the same content.
    Stored {
        reference: Option<String>,
        duplicate: bool,
    },
    /// Refused for good (invalid record, key conflict).
    Refused { kind: String, reason: String },
}

/// What an HTTP answer means for the records of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// One verdict per record, in request order.
    PerRecord(Vec<RecordAnswer>),
    /// Nothing can be concluded: send the same records again later (network error, 5xx, 429,
    /// an answer we cannot read). Safe because the platform deduplicates by key.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// 401: renew the token and send again.
    Unauthorized { reason: String },
    /// The whole request was refused for good (4xx): with one record, that record is refused;
    /// with several, the batch is split to find which.
    Refused { kind: String, reason: String },
}

/// The X-Road-style identification of one request.
#[derive(Debug, Clone)]
pub struct XRoad<'a> {
    pub client: &'a str,
    pub service: Option<&'a str>,
    pub message_id: &'a str,
    pub user_id: &'a str,
    pub purpose: &'a str,
}

/// One endpoint's adapter.
#[derive(Debug, Clone)]
pub struct Adapter {
    kind: AdapterKind,
    dataset: String,
    ministry: String,
}

impl Adapter {
    pub fn new(config: &EndpointConfig) -> Self {
        Self {
            kind: config.adapter,
            dataset: config.dataset.clone().unwrap_or_default(),
            ministry: config.ministry.clone().unwrap_or_default(),
        }
    }

    pub fn kind(&self) -> AdapterKind {
        self.kind
    }

    /// NDOP's dataset (empty for other adapters).
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// LGSP's ministry (empty for other adapters).
    pub fn ministry(&self) -> &str {
        &self.ministry
    }

    /// Most records one request can carry (`None`: as many as the route's batch allows).
    pub fn max_records(&self) -> Option<usize> {
        match self.kind {
            AdapterKind::Lgsp => Some(1),
            AdapterKind::Ngsp | AdapterKind::Ndop => None,
        }
    }

    /// Where `lienthong validate` sends an empty request: the adapter's own resource, so that a
    /// platform checks the credentials before refusing the empty body; nothing is stored.
    pub fn probe_path(&self) -> String {
        match self.kind {
            AdapterKind::Ngsp => ngsp::PATH.to_string(),
            AdapterKind::Ndop => ndop::path(&self.dataset),
            AdapterKind::Lgsp => lgsp::path(&self.ministry, "_probe"),
        }
    }

    /// The request for `records` (never empty; at most [`Adapter::max_records`]).
    pub fn request(&self, xroad: &XRoad<'_>, records: &[SinkRecord]) -> Request {
        match self.kind {
            AdapterKind::Ngsp => ngsp::request(xroad, records),
            AdapterKind::Ndop => ndop::request(&self.dataset, records),
            AdapterKind::Lgsp => lgsp::request(&self.ministry, &records[0]),
        }
    }

    /// What the platform's answer means for `records`.
    pub fn interpret(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        records: &[SinkRecord],
    ) -> Answer {
        if let Some(answer) = common_status(status, headers, body) {
            return answer;
        }
        match self.kind {
            AdapterKind::Ngsp => ngsp::interpret(status, body, records),
            AdapterKind::Ndop => ndop::interpret(status, body, records),
            AdapterKind::Lgsp => lgsp::interpret(status, body),
        }
    }
}

/// Statuses every platform means the same way: retry, renew the token.
fn common_status(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Option<Answer> {
    let code = status.as_u16();
    if code == 401 {
        return Some(Answer::Unauthorized {
            reason: format!("HTTP 401: {}", excerpt(body)),
        });
    }
    if status.is_server_error() || matches!(code, 408 | 425 | 429) {
        return Some(Answer::Retry {
            reason: format!("HTTP {code}: {}", excerpt(body)),
            retry_after: retry_after(headers, SystemTime::now()),
        });
    }
    None
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The start of a response body, for messages and dead letters.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 512;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.len() <= MAX {
        text.to_string()
    } else {
        let mut end = MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &text[..end])
    }
}

/// A permanent refusal of the whole request, or a retry when the status says nothing definite.
fn refused_or_retry(status: StatusCode, body: &[u8]) -> Answer {
    if status.is_client_error() {
        Answer::Refused {
            kind: format!("http-{}", status.as_u16()),
            reason: format!("HTTP {}: {}", status.as_u16(), excerpt(body)),
        }
    } else {
        Answer::Retry {
            reason: format!("unexpected HTTP {}: {}", status.as_u16(), excerpt(body)),
            retry_after: None,
        }
    }
}

/// Matches per-record results to the request's records by key. A record the answer does not
/// mention is retried: the platform deduplicates, so sending it again is safe.
fn match_by_key(records: &[SinkRecord], results: Vec<(String, RecordAnswer)>) -> Answer {
    let mut by_key: std::collections::HashMap<String, RecordAnswer> =
        std::collections::HashMap::with_capacity(results.len());
    for (key, answer) in results {
        // A key twice in one batch: the later verdict is about the later copy; both copies
        // were stored or both refused, so either verdict serves.
        by_key.insert(key, answer);
    }
    let mut answers = Vec::with_capacity(records.len());
    for record in records {
        match by_key.get(&record.idempotency_key) {
            Some(answer) => answers.push(answer.clone()),
            None => {
                return Answer::Retry {
                    reason: format!(
                        "the answer has no result for record {}",
                        record.idempotency_key
                    ),
                    retry_after: None,
                };
            }
        }
    }
    Answer::PerRecord(answers)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use lienthong_runtime::kafka::{InboundRecord, RecordHeaders};
    use serde_json::value::RawValue;

    pub(crate) fn record(key: &str, json: &str) -> SinkRecord {
        SinkRecord {
            idempotency_key: key.to_string(),
            entity: "civil_servant".into(),
            payload: RawValue::from_string(json.to_string()).unwrap(),
            source: InboundRecord {
                topic: "canonical.civil_servant.v1".into(),
                partition: 0,
                offset: 0,
                key: None,
                payload: None,
                headers: RecordHeaders::default(),
                timestamp_ms: None,
            },
            lane_hash: 0,
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            retry_after(&headers, SystemTime::now()),
            Some(Duration::from_secs(7))
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_767);
        headers.insert(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(10)));
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn common_statuses_mean_the_same_everywhere() {
        let records = [record("k", "{}")];
        for kind in [AdapterKind::Ngsp, AdapterKind::Ndop, AdapterKind::Lgsp] {
            let adapter = Adapter {
                kind,
                dataset: "d".into(),
                ministry: "m".into(),
            };
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", "2".parse().unwrap());
            for status in [429, 500, 502, 503, 504, 408] {
                let answer = adapter.interpret(
                    StatusCode::from_u16(status).unwrap(),
                    &headers,
                    b"{}",
                    &records,
                );
                assert_eq!(
                    answer,
                    Answer::Retry {
                        reason: format!("HTTP {status}: {{}}"),
                        retry_after: Some(Duration::from_secs(2))
                    },
                    "{kind:?} {status}"
                );
            }
            assert!(matches!(
                adapter.interpret(StatusCode::UNAUTHORIZED, &headers, b"", &records),
                Answer::Unauthorized { .. }
            ));
            let answer = adapter.interpret(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                br#"{"error":"missing_digest"}"#,
                &records,
            );
            match answer {
                Answer::Refused { kind, reason } => {
                    assert_eq!(kind, "http-400");
                    assert!(reason.contains("missing_digest"), "{reason}");
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn excerpts_cut_long_bodies_on_a_character_boundary() {
        let long = "Đ".repeat(600);
        let cut = excerpt(long.as_bytes());
        assert!(cut.ends_with('…'));
        assert!(cut.len() < 600);
    }
}
