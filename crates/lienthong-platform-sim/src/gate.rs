//! The checks every platform request passes before a flavour looks at its body, in this order:
//! faults, credentials (bearer token, or the client certificate where the config allows it),
//! body size, X-Road headers (and the client ids bound to the credential and to the client
//! certificate), body hash. A failed check is a [`Rejection`], which each flavour renders in its
//! own error shape.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::auth::{AuthError, Caller, TokenAuthority};
use crate::config::PlatformSimConfig;
use crate::digest;
use crate::faults::{FaultEngine, Verdict};
use crate::store::RecordStore;
use crate::tls::ClientCertificate;
use crate::xroad::{self, XRoadHeaders};

/// Realm named in `WWW-Authenticate`.
pub(crate) const REALM: &str = "lienthong-platform-sim";

/// Header carrying a single-record request's idempotency key.
pub(crate) const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Shared state of one running simulator.
#[derive(Debug)]
pub(crate) struct AppState {
    pub config: PlatformSimConfig,
    pub store: RecordStore,
    pub tokens: Mutex<TokenAuthority>,
    pub faults: Arc<Mutex<FaultEngine>>,
}

impl AppState {
    pub fn tokens(&self) -> MutexGuard<'_, TokenAuthority> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultEngine> {
        lock_faults(&self.faults)
    }
}

/// Locks the fault engine. A panic while holding the lock cannot leave the engine inconsistent
/// (every update is a single assignment), so a poisoned lock is used as is.
pub(crate) fn lock_faults(faults: &Mutex<FaultEngine>) -> MutexGuard<'_, FaultEngine> {
    faults.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a rejection is counted by the inspection API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tally {
    /// Under `rejected.<code>`.
    Rejected,
    /// Under `faults.<kind>`.
    Fault(&'static str),
}

/// A refused platform request: status, a stable reason code, a human message and extra headers.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub tally: Tally,
}

impl Rejection {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
            tally: Tally::Rejected,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn with_header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(value) = HeaderValue::from_str(&value) {
            self.headers.push((name, value));
        }
        self
    }

    fn fault(mut self, kind: &'static str) -> Self {
        self.tally = Tally::Fault(kind);
        self
    }

    /// Counts this rejection in the store. A counting failure is logged, not returned: the
    /// client must still get the platform's answer.
    pub async fn count(&self, store: &RecordStore) {
        let result = match self.tally {
            Tally::Rejected => store.count_rejection(self.code).await,
            Tally::Fault(kind) => store.count_fault(kind).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, code = self.code, "cannot count a rejection");
        }
    }
}

impl From<crate::error::SimError> for Rejection {
    fn from(error: crate::error::SimError) -> Self {
        tracing::error!(%error, "platform-sim internal error");
        Rejection::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the platform simulator failed to store the request",
        )
    }
}

/// A request that passed the gate.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub caller: Option<Caller>,
    pub xroad: Option<XRoadHeaders>,
    pub body: Bytes,
}

impl Admitted {
    pub fn client_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|c| c.client_id.as_str())
    }

    pub fn message_id(&self) -> Option<&str> {
        self.xroad.as_ref().map(|x| x.message_id.as_str())
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, ()>> {
    headers.get(name).map(|v| v.to_str().map_err(|_| ()))
}

/// Applies the fault plan (sleeping for injected latency) and returns the fault, if any.
pub(crate) async fn apply_faults(state: &AppState) -> Result<(), Rejection> {
    let admission = state.faults().admit(Instant::now());
    if !admission.delay.is_zero() {
        tokio::time::sleep(admission.delay).await;
    }
    verdict_to_result(admission.verdict)
}

pub(crate) fn verdict_to_result(verdict: Verdict) -> Result<(), Rejection> {
    match verdict {
        Verdict::Proceed => Ok(()),
        Verdict::Fail { status } => Err(Rejection::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "injected_error",
            "injected server error",
        )
        .fault("error")),
        Verdict::RateLimited {
            retry_after_seconds,
        } => Err(Rejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry after {retry_after_seconds} s"),
        )
        .with_header(header::RETRY_AFTER, retry_after_seconds.to_string())
        .fault("rate_limited")),
        Verdict::Unavailable {
            retry_after_seconds,
        } => Err(Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("platform unavailable; retry after {retry_after_seconds} s"),
        )
        .with_header(header::RETRY_AFTER, retry_after_seconds.to_string())
        .fault("unavailable")),
    }
}

/// Runs every common check on one platform request. `certificate` is the verified client
/// certificate of the connection, when it came over mutual TLS.
pub(crate) async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    certificate: Option<&ClientCertificate>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Admitted, Rejection> {
    apply_faults(state).await?;

    let authorization = match header_text(headers, header::AUTHORIZATION.as_str()) {
        None => None,
        Some(Ok(value)) => Some(value),
        Some(Err(())) => {
            return Err(unauthorized(&AuthError::Malformed));
        }
    };
    let caller = match (authorization, certificate) {
        // Mutual TLS as the only credential, when allowed; a request that sends a token is
        // judged by the token.
        (None, Some(certificate)) if state.config.auth.allow_client_certificate => Some(Caller {
            client_id: certificate.caller_id(),
            xroad_client: certificate.xroad_client.clone(),
        }),
        _ => state
            .tokens()
            .authenticate(authorization, Instant::now())
            .map_err(|e| unauthorized(&e))?,
    };

    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "body_too_large"
        } else {
            "invalid_body"
        };
        Rejection::new(status, code, rejection.body_text())
    })?;

    let checks = &state.config.checks;
    let xroad = if checks.require_xroad_headers {
        let parsed = XRoadHeaders::from_lookup(|name| header_text(headers, name)).map_err(|e| {
            let code = match e {
                xroad::XRoadError::Missing(_) => "missing_header",
                xroad::XRoadError::Invalid { .. } => "invalid_header",
            };
            Rejection::bad_request(code, e.to_string())
        })?;
        let client = parsed.client.to_string();
        // The certificate's binding first: it names the certificate, which says more than "this
        // credential" when the caller authenticated by that certificate.
        if let Some(certificate) = certificate
            && let Some(bound) = certificate.xroad_client.as_deref()
            && client != bound
        {
            return Err(Rejection::new(
                StatusCode::FORBIDDEN,
                "client_mismatch",
                format!(
                    "X-Road-Client {client} is not the subsystem bound to the client certificate {}",
                    certificate.caller_id()
                ),
            ));
        }
        if let Some(bound) = caller.as_ref().and_then(|c| c.xroad_client.as_deref())
            && client != bound
        {
            return Err(Rejection::new(
                StatusCode::FORBIDDEN,
                "client_mismatch",
                format!(
                    "X-Road-Client {client} is not the subsystem registered for this credential"
                ),
            ));
        }
        Some(parsed)
    } else {
        None
    };

    if checks.require_digest {
        let content_digest = header_text(headers, "content-digest");
        let legacy_digest = header_text(headers, "digest");
        let content_digest = digest_text(content_digest, "Content-Digest")?;
        let legacy_digest = digest_text(legacy_digest, "Digest")?;
        digest::verify(content_digest, legacy_digest, &body).map_err(|e| {
            let code = match e {
                digest::DigestError::Missing => "missing_digest",
                _ => "invalid_digest",
            };
            Rejection::bad_request(code, e.to_string())
        })?;
    }

    if let Some(xroad) = &xroad {
        state.store.note_message_id(&xroad.message_id).await?;
    }

    Ok(Admitted {
        caller,
        xroad,
        body,
    })
}

fn digest_text<'a>(
    value: Option<Result<&'a str, ()>>,
    name: &'static str,
) -> Result<Option<&'a str>, Rejection> {
    match value {
        None => Ok(None),
        Some(Ok(text)) => Ok(Some(text)),
        Some(Err(())) => Err(Rejection::bad_request(
            "invalid_digest",
            format!("{name} is not visible ASCII"),
        )),
    }
}

fn unauthorized(error: &AuthError) -> Rejection {
    let code = match error {
        AuthError::Missing => "missing_token",
        AuthError::Malformed | AuthError::Unknown => "invalid_token",
        AuthError::Expired => "expired_token",
    };
    Rejection::new(StatusCode::UNAUTHORIZED, code, error.to_string())
        .with_header(header::WWW_AUTHENTICATE, error.www_authenticate(REALM))
}

/// Checks an idempotency key: 1–255 visible ASCII characters.
pub(crate) fn check_idempotency_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 255 {
        return Err("idempotency key must be 1-255 characters".into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("idempotency key must be visible ASCII without spaces".into());
    }
    Ok(())
}

/// The `Idempotency-Key` header of a single-record request.
pub(crate) fn idempotency_key_header(headers: &HeaderMap) -> Result<String, Rejection> {
    let value = headers.get(HEADER_IDEMPOTENCY_KEY).ok_or_else(|| {
        Rejection::bad_request("missing_header", "missing header Idempotency-Key")
    })?;
    let key = value
        .to_str()
        .map_err(|_| Rejection::bad_request("invalid_header", "Idempotency-Key is not ASCII"))?;
    check_idempotency_key(key)
        .map_err(|m| Rejection::bad_request("invalid_header", format!("Idempotency-Key: {m}")))?;
    Ok(key.to_owned())
}

/// Checks a path name (dataset, ministry, entity): 1–64 of `a-z 0-9 _ . -`.
pub(crate) fn check_path_name(what: &str, name: &str) -> Result<(), Rejection> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Rejection::new(
            StatusCode::NOT_FOUND,
            "unknown_resource",
            format!("{what} {name:?} is not a valid name (1-64 of a-z 0-9 _ . -)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys() {
        assert!(check_idempotency_key("person:001099012345:v3").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("has space").is_err());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn path_names() {
        assert!(check_path_name("dataset", "civil-servants.v1").is_ok());
        assert!(check_path_name("dataset", "Upper").is_err());
        assert!(check_path_name("dataset", "").is_err());
    }
}
