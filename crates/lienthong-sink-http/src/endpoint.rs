//! The delivery core of one platform endpoint: send a batch until the platform gives a verdict
//! on every record.
//!
//! - Transient failures (network errors, 5xx, 408, 425, 429, unreadable answers, an unreachable
//!   token endpoint) are retried with exponential backoff and jitter, never given up on; a
//!   `Retry-After` is honoured (up to `retry.max_retry_after_ms`). The circuit breaker stops all
//!   lanes from hammering an endpoint that is down. A failed TLS handshake is retried too (a
//!   platform renewing its certificate recovers by itself), but counted as `tls` rather than
//!   `network` and logged as an error naming the settings to check.
//! - 401 renews the OAuth2 token and sends again; a static token the platform refuses, or client
//!   credentials the token endpoint refuses, stop the stage for an operator.
//! - A 4xx refusal of a whole batch is narrowed down by splitting the batch in halves, so only
//!   the records the platform refuses are refused; the order of records is kept.
//! - Every request carries the X-Road identification, a fresh message id, a `Content-Digest` of
//!   its body, the bearer token and the records' idempotency keys.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use backon::BackoffBuilder as _;
use base64::Engine as _;
use lienthong_runtime::Shutdown;
use sha2::Digest as _;

use crate::adapter::{Adapter, Answer, RecordAnswer, XRoad};
use crate::auth::{AuthError, TokenSource, error_chain};
use crate::breaker::{Admission, Breaker};
use crate::config::{AuthConfig, DeliveryRetry, EndpointConfig, XRoadConfig};
use crate::metrics::SinkMetrics;
use crate::record::SinkRecord;

/// The platform's final word on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted { reference: Option<String> },
    Duplicate { reference: Option<String> },
    Refused { kind: String, reason: String },
}

/// A record's delivery.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Requests that carried the record.
    pub attempts: u32,
    /// From its first request to the verdict.
    pub latency: Duration,
    pub http_status: u16,
    /// X-Road message id of the request that got the verdict.
    pub message_id: String,
}

/// Why a delivery did not finish.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// Shutdown was requested; the records are not done and will be read again.
    #[error("stopped before the platform answered")]
    Stopped,
    /// Only an operator can fix this (refused credentials).
    #[error("{0}")]
    NeedsOperator(String),
}

/// Why an endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("endpoint {endpoint}: cannot read {path}: {reason}")]
    File {
        endpoint: String,
        path: String,
        reason: String,
    },
    #[error("endpoint {endpoint}: {reason}")]
    Client { endpoint: String, reason: String },
}

/// One platform endpoint with its client, token, breaker and adapter.
#[derive(Debug)]
pub struct Endpoint {
    id: String,
    base: String,
    http: reqwest::Client,
    tokens: TokenSource,
    static_credentials: bool,
    breaker: Breaker,
    adapter: Adapter,
    xroad: XRoadConfig,
    retry: DeliveryRetry,
    metrics: SinkMetrics,
}

/// The platform's answer once it is a verdict (what [`Endpoint::send_until_answered`] returns).
enum Settled {
    PerRecord(Vec<RecordAnswer>),
    Refused { kind: String, reason: String },
}

/// A run of records sent together, with what it went through so far.
struct Chunk {
    records: Vec<SinkRecord>,
    attempts: u32,
    started: Option<Instant>,
}

impl Endpoint {
    pub fn new(
        id: &str,
        config: &EndpointConfig,
        metrics: SinkMetrics,
    ) -> Result<Self, SetupError> {
        let http = http_client(id, config)?;
        Ok(Self {
            id: id.to_string(),
            base: config.url.trim_end_matches('/').to_string(),
            tokens: TokenSource::new(&config.auth, http.clone()),
            static_credentials: !matches!(config.auth, AuthConfig::Oauth2 { .. }),
            http,
            breaker: Breaker::new(
                config.breaker.failure_threshold,
                Duration::from_millis(config.breaker.open_ms),
            ),
            adapter: Adapter::new(config),
            xroad: config.xroad.clone(),
            retry: config.retry.clone(),
            metrics,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn adapter(&self) -> &Adapter {
        &self.adapter
    }

    /// Delivers `records` in order and returns each with its outcome, in the same order.
    /// Returns only when every record has a verdict, on shutdown, or when an operator must act.
    pub async fn deliver(
        &self,
        records: Vec<SinkRecord>,
        shutdown: &Shutdown,
    ) -> Result<Vec<(SinkRecord, Outcome)>, DeliverError> {
        let per_request = self.adapter.max_records().unwrap_or(usize::MAX).max(1);
        let mut queue: VecDeque<Chunk> = VecDeque::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            queue.push_back(Chunk {
                records: records.by_ref().take(per_request).collect(),
                attempts: 0,
                started: None,
            });
        }
        let mut done = Vec::new();
        while let Some(mut chunk) = queue.pop_front() {
            let (answer, status, message_id) =
                self.send_until_answered(&mut chunk, shutdown).await?;
            let latency = chunk.started.map_or(Duration::ZERO, |s| s.elapsed());
            let outcome = |verdict: Verdict| Outcome {
                verdict,
                attempts: chunk.attempts,
                latency,
                http_status: status,
                message_id: message_id.clone(),
            };
            match answer {
                Settled::PerRecord(answers) => {
                    for (record, answer) in chunk.records.iter().zip(answers) {
                        let verdict = match answer {
                            RecordAnswer::Stored {
                                reference,
                                duplicate: false,
                            } => Verdict::Accepted { reference },
                            RecordAnswer::Stored {
                                reference,
                                duplicate: true,
                            } => Verdict::Duplicate { reference },
                            RecordAnswer::Refused { kind, reason } => {
                                Verdict::Refused { kind, reason }
                            }
                        };
                        self.metrics.latency(&self.id, latency.as_secs_f64());
                        done.push((record.clone(), outcome(verdict)));
                    }
                }
                Settled::Refused { kind, reason } if chunk.records.len() == 1 => {
                    let record = chunk.records.remove(0);
                    done.push((record, outcome(Verdict::Refused { kind, reason })));
                }
                Settled::Refused { reason, .. } => {
                    // Somewhere in the batch is a record the platform will not take: halve the
                    // batch until the refusals name single records. Order is kept.
                    tracing::info!(endpoint = %self.id, records = chunk.records.len(), %reason, "batch refused, splitting it to find the refused records");
                    let second = chunk.records.split_off(chunk.records.len() / 2);
                    queue.push_front(Chunk {
                        records: second,
                        attempts: chunk.attempts,
                        started: chunk.started,
                    });
                    queue.push_front(Chunk {
                        records: chunk.records,
                        attempts: chunk.attempts,
                        started: chunk.started,
                    });
                }
            }
        }
        Ok(done)
    }

    /// Sends the chunk until the answer is a verdict (per record, or a refusal of the whole
    /// request). Returns it with the HTTP status and the message id.
    async fn send_until_answered(
        &self,
        chunk: &mut Chunk,
        shutdown: &Shutdown,
    ) -> Result<(Settled, u16, String), DeliverError> {
        let mut delays = backon::ExponentialBuilder::new()
            .with_min_delay(Duration::from_millis(self.retry.initial_delay_ms))
            .with_max_delay(Duration::from_millis(self.retry.max_delay_ms))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        let max_retry_after = Duration::from_millis(self.retry.max_retry_after_ms);
        let mut fresh_token_refused = false;
        loop {
            self.wait_for_breaker(shutdown).await?;
            let token = match self.tokens.bearer().await {
                Ok(token) => token,
                Err(e @ AuthError::Refused { .. }) => {
                    return Err(DeliverError::NeedsOperator(format!(
                        "endpoint {}: {e}; fix [sink.endpoints.{}.auth]",
                        self.id, self.id
                    )));
                }
                Err(e @ AuthError::Unavailable { .. }) => {
                    let opened = self.breaker.failed(Instant::now());
                    self.metrics
                        .breaker(&self.id, self.breaker.state().gauge(), opened);
                    self.metrics.retry(&self.id, "token");
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    tracing::warn!(endpoint = %self.id, error = %e, ?delay, "no token yet, trying again");
                    sleep_or_stop(delay, shutdown).await?;
                    continue;
                }
            };
            let message_id = uuid::Uuid::new_v4().to_string();
            let request = self.adapter.request(
                &XRoad {
                    client: &self.xroad.client,
                    service: self.xroad.service.as_deref(),
                    message_id: &message_id,
                    user_id: &self.xroad.user_id,
                    purpose: &self.xroad.purpose,
                },
                &chunk.records,
            );
            chunk.attempts += 1;
            chunk.started.get_or_insert_with(Instant::now);
            let mut builder =
                self.post(&request.path, &message_id, &request.body, token.as_deref());
            for (name, value) in &request.headers {
                builder = builder.header(*name, value);
            }
            let sent = tokio::select! {
                sent = builder.body(request.body).send() => sent,
                _ = shutdown.cancelled() => return Err(DeliverError::Stopped),
            };
            // Why no answer came, when none did: "tls" or "network".
            let mut unanswered = None;
            let (answer, status) = match sent {
                Err(e) => {
                    unanswered = Some(if tls_failure(&e).is_some() {
                        "tls"
                    } else {
                        "network"
                    });
                    (
                        Answer::Retry {
                            reason: error_chain(&e),
                            retry_after: None,
                        },
                        0,
                    )
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Ok(body) => (
                            self.adapter
                                .interpret(status, &headers, &body, &chunk.records),
                            status.as_u16(),
                        ),
                        Err(e) => (
                            Answer::Retry {
                                reason: format!("reading the answer: {}", error_chain(&e)),
                                retry_after: None,
                            },
                            status.as_u16(),
                        ),
                    }
                }
            };
            let status_label = match unanswered {
                Some(label) => label.to_string(),
                None => status.to_string(),
            };
            self.metrics
                .request(&self.id, &status_label, chunk.records.len());
            match answer {
                Answer::PerRecord(answers) => {
                    self.breaker.succeeded();
                    self.metrics.breaker(&self.id, 0, false);
                    return Ok((Settled::PerRecord(answers), status, message_id));
                }
                Answer::Refused { kind, reason } => {
                    self.breaker.succeeded();
                    self.metrics.breaker(&self.id, 0, false);
                    return Ok((Settled::Refused { kind, reason }, status, message_id));
                }
                Answer::Unauthorized { reason } => {
                    self.breaker.succeeded();
                    if self.static_credentials {
                        return Err(DeliverError::NeedsOperator(format!(
                            "endpoint {}: the platform refuses the configured credentials ({reason}); fix [sink.endpoints.{}.auth]",
                            self.id, self.id
                        )));
                    }
                    self.metrics.retry(&self.id, "unauthorized");
                    self.tokens.rejected(token.as_deref()).await;
                    if fresh_token_refused {
                        // Even a new token was refused: back off instead of spinning.
                        let delay = delays.next().unwrap_or(Duration::from_secs(10));
                        tracing::warn!(endpoint = %self.id, %reason, ?delay, "a fresh token was refused, trying again later");
                        sleep_or_stop(delay, shutdown).await?;
                    }
                    fresh_token_refused = true;
                }
                Answer::Retry {
                    reason,
                    retry_after,
                } => {
                    fresh_token_refused = false;
                    let opened = self.breaker.failed(Instant::now());
                    self.metrics
                        .breaker(&self.id, self.breaker.state().gauge(), opened);
                    if opened {
                        tracing::warn!(endpoint = %self.id, %reason, "circuit breaker opened");
                    }
                    if unanswered == Some("tls") && (opened || chunk.attempts == 1) {
                        // Retried all the same: the platform may be renewing its certificate.
                        tracing::error!(
                            endpoint = %self.id,
                            %reason,
                            "the TLS handshake with the platform failed: check the platform's certificate against [sink.endpoints.{0}.tls] ca, and that the platform accepts the client certificate (client_cert, client_key); delivery waits and tries again",
                            self.id
                        );
                    }
                    self.metrics
                        .retry(&self.id, unanswered.unwrap_or(retry_reason(status)));
                    let mut delay = delays.next().unwrap_or(Duration::from_secs(10));
                    if let Some(after) = retry_after {
                        delay = delay.max(after.min(max_retry_after));
                    }
                    tracing::debug!(endpoint = %self.id, %reason, ?delay, attempts = chunk.attempts, "sending again later");
                    sleep_or_stop(delay, shutdown).await?;
                }
            }
        }
    }

    async fn wait_for_breaker(&self, shutdown: &Shutdown) -> Result<(), DeliverError> {
        loop {
            match self.breaker.admit(Instant::now()) {
                Admission::Go => {
                    self.metrics
                        .breaker(&self.id, self.breaker.state().gauge(), false);
                    return Ok(());
                }
                Admission::Wait(delay) => sleep_or_stop(delay, shutdown).await?,
            }
        }
    }

    /// A POST to `path` with what every request carries: the X-Road identification, the body's
    /// digest and the bearer token.
    fn post(
        &self,
        path: &str,
        message_id: &str,
        body: &[u8],
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self
            .http
            .post(format!("{}{path}", self.base))
            .header("x-road-client", &self.xroad.client)
            .header("x-road-id", message_id)
            .header("x-road-userid", &self.xroad.user_id)
            .header("x-road-purpose", &self.xroad.purpose)
            .header("content-digest", content_digest(body));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// For `lienthong validate`: reaches the endpoint and checks its credentials without
    /// delivering anything. Returns what was checked.
    pub async fn probe(&self) -> Result<String, String> {
        let token = match self.tokens.bearer().await {
            Ok(token) => token,
            Err(e) => return Err(e.to_string()),
        };
        let message_id = uuid::Uuid::new_v4().to_string();
        // An empty request to the endpoint's own path: a platform checks credentials before it
        // looks at the body, so 401/403 means refused credentials and anything else that the
        // endpoint is there and lets us in. Nothing is stored: the body holds no record.
        let builder = self
            .post(
                &self.adapter.probe_path(),
                &message_id,
                b"",
                token.as_deref(),
            )
            .header("content-type", "application/json");
        match builder.send().await {
            Err(e) => Err(format!("{}: {}", self.base, error_chain(&e))),
            Ok(response) => match response.status().as_u16() {
                401 | 403 => Err(format!(
                    "{} refuses the credentials: HTTP {}",
                    self.base,
                    response.status().as_u16()
                )),
                status => Ok(format!(
                    "{} answers (HTTP {status} to an empty request){}",
                    self.base,
                    if token.is_some() {
                        ", credentials accepted"
                    } else {
                        ""
                    }
                )),
            },
        }
    }
}

/// The TLS error behind a failed request, if the handshake failed or the platform answered
/// with a TLS alert (a refused client certificate shows as one under TLS 1.3). rustls errors
/// travel inside `std::io::Error`s, whose `source()` skips them, so each I/O error is opened.
fn tls_failure<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
    let mut cause = Some(e);
    while let Some(error) = cause {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        cause = error.source();
    }
    None
}

fn retry_reason(status: u16) -> &'static str {
    match status {
        0 => "network",
        429 => "http_429",
        s if s >= 500 => "http_5xx",
        _ => "other",
    }
}

async fn sleep_or_stop(delay: Duration, shutdown: &Shutdown) -> Result<(), DeliverError> {
    tokio::select! {
        _ = tokio::time::sleep(delay) => Ok(()),
        _ = shutdown.cancelled() => Err(DeliverError::Stopped),
    }
}

/// `Content-Digest: sha-256=:<base64>:` (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    let digest = sha2::Sha256::digest(body);
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn http_client(id: &str, config: &EndpointConfig) -> Result<reqwest::Client, SetupError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| SetupError::File {
            endpoint: id.to_string(),
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let client_error = |reason: String| SetupError::Client {
        endpoint: id.to_string(),
        reason,
    };
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.timeout_ms))
        .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("lienthong-sink/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &config.tls.ca_file {
        let pem = read(ca)?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| client_error(format!("CA file {}: {e}", ca.display())))?;
        if certificates.is_empty() {
            return Err(client_error(format!(
                "CA file {} holds no certificate",
                ca.display()
            )));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let (Some(cert), Some(key)) = (&config.tls.client_cert, &config.tls.client_key) {
        let mut pem = read(cert)?;
        pem.push(b'\n');
        pem.extend(read(key)?);
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| client_error(format!("client certificate {}: {e}", cert.display())))?;
        builder = builder.identity(identity);
    }
    builder.build().map_err(|e| client_error(error_chain(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_rfc_9530_example_shape() {
        // sha-256 of the empty body.
        assert_eq!(
            content_digest(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    /// An error that wraps another, as the HTTP client's layers do.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapped(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn tls_failures_are_found_inside_io_errors_deep_in_the_chain() {
        let untrusted = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted.clone());
        let chain = Wrapped(Box::new(Wrapped(Box::new(io))));
        assert_eq!(tls_failure(&chain), Some(&untrusted));

        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired);
        assert_eq!(tls_failure(&Wrapped(Box::new(alert.clone()))), Some(&alert));

        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(tls_failure(&Wrapped(Box::new(refused))), None);
        let other = std::io::Error::other("connection reset by peer");
        assert_eq!(tls_failure(&Wrapped(Box::new(other))), None);
    }
}
