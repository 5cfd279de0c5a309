//! Bearer tokens for platform requests: none, a static token, or OAuth2 client credentials
//! renewed before they expire.
//!
//! One token is shared by every lane of an endpoint; when it needs renewing, one lane fetches a
//! new one while the others wait for it (no stampede on the token endpoint). A 401 from the
//! platform discards the token so the next request fetches a fresh one.

use std::time::{Duration, Instant};

use lienthong_runtime::config::Secret;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::config::AuthConfig;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint is unreachable or failing: retry later.
    #[error("token endpoint {url}: {reason}")]
    Unavailable { url: String, reason: String },
    /// The token endpoint refused our credentials: an operator must fix them.
    #[error("token endpoint {url} refused the client credentials of {client_id}: {reason}")]
    Refused {
        url: String,
        client_id: String,
        reason: String,
    },
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    renew_at: Instant,
}

/// Where an endpoint's bearer token comes from.
#[derive(Debug)]
pub enum TokenSource {
    None,
    Static(Secret<String>),
    OAuth2(OAuth2Client),
}

/// OAuth2 client-credentials flow with a cached token.
#[derive(Debug)]
pub struct OAuth2Client {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Secret<String>,
    scope: Option<String>,
    refresh_before: Duration,
    current: Mutex<Option<Token>>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct TokenErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenSource {
    pub fn new(config: &AuthConfig, http: reqwest::Client) -> Self {
        match config {
            AuthConfig::None => Self::None,
            AuthConfig::Static { token } => Self::Static(token.clone()),
            AuthConfig::Oauth2 {
                token_url,
                client_id,
                client_secret,
                scope,
                refresh_before_expiry_s,
            } => Self::OAuth2(OAuth2Client {
                http,
                token_url: token_url.clone(),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
                scope: scope.clone(),
                refresh_before: Duration::from_secs(*refresh_before_expiry_s),
                current: Mutex::new(None),
            }),
        }
    }

    /// The bearer token to send now, `None` when the endpoint takes none.
    pub async fn bearer(&self) -> Result<Option<String>, AuthError> {
        match self {
            Self::None => Ok(None),
            Self::Static(token) => Ok(Some(token.expose().clone())),
            Self::OAuth2(client) => client.token().await.map(Some),
        }
    }

    /// The platform refused `token`: forget it so the next request gets a new one. Returns
    /// whether a fresh token can be had at all (false for static tokens and none).
    pub async fn rejected(&self, token: Option<&str>) -> bool {
        match self {
            Self::OAuth2(client) => {
                let mut current = client.current.lock().await;
                if current.as_ref().map(|t| t.value.as_str()) == token {
                    *current = None;
                }
                true
            }
            _ => false,
        }
    }
}

impl OAuth2Client {
    async fn token(&self) -> Result<String, AuthError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let fetched = self.fetch().await?;
        let value = fetched.value.clone();
        *current = Some(fetched);
        Ok(value)
    }

    async fn fetch(&self) -> Result<Token, AuthError> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope.as_str()));
        }
        let unavailable = |reason: String| AuthError::Unavailable {
            url: self.token_url.clone(),
            reason,
        };
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(error_chain(&e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(error_chain(&e)))?;
        if status.is_success() {
            let parsed: TokenResponse = serde_json::from_slice(&body)
                .map_err(|e| unavailable(format!("unreadable token response: {e}")))?;
            // A token without a lifetime is renewed every 5 minutes.
            let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(300));
            let margin = self.refresh_before.min(lifetime / 5);
            tracing::debug!(client_id = %self.client_id, ?lifetime, "new platform token");
            return Ok(Token {
                value: parsed.access_token,
                renew_at: started + lifetime - margin,
            });
        }
        let reason = match serde_json::from_slice::<TokenErrorResponse>(&body) {
            Ok(e) => match e.error_description {
                Some(d) => format!("{} ({d})", e.error),
                None => e.error,
            },
            Err(_) => format!("HTTP {status}"),
        };
        if matches!(status.as_u16(), 400 | 401 | 403) {
            Err(AuthError::Refused {
                url: self.token_url.clone(),
                client_id: self.client_id.clone(),
                reason,
            })
        } else {
            Err(unavailable(reason))
        }
    }
}

/// An error with its causes, for messages ("error sending request: connection refused").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
