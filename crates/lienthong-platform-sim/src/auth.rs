//! Bearer-token authentication: tokens issued by the OAuth2 client-credentials grant
//! (RFC 6749 §4.4) with an expiry, and static tokens from the configuration.
//!
//! Issued tokens live in memory only. A restart of the simulator therefore invalidates every
//! issued token, as a key rotation on a real platform would; clients must handle the resulting
//! `401` by fetching a new token. Static tokens survive restarts because they come from config.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::RngCore as _;

use crate::config::AuthConfig;

/// How long an expired token is remembered, so that a late client gets "token expired" rather
/// than "unknown token" (which helps tell a refresh bug from a credential bug).
const EXPIRED_TOKEN_MEMORY: Duration = Duration::from_secs(3600);

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub client_id: String,
    /// The `X-Road-Client` this caller is bound to, if its credential names one.
    pub xroad_client: Option<String>,
}

/// Why a request's credentials were refused; the `WWW-Authenticate` error code of RFC 6750.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing bearer token: send Authorization: Bearer <token>")]
    Missing,
    #[error("Authorization header is not a bearer token")]
    Malformed,
    #[error("unknown bearer token")]
    Unknown,
    #[error("bearer token expired")]
    Expired,
}

impl AuthError {
    /// The `WWW-Authenticate` value for this error (RFC 6750 §3).
    pub fn www_authenticate(&self, realm: &str) -> String {
        match self {
            // No error attribute when no credentials were sent (RFC 6750 §3.1).
            AuthError::Missing => format!("Bearer realm=\"{realm}\""),
            AuthError::Malformed => {
                format!("Bearer realm=\"{realm}\", error=\"invalid_request\"")
            }
            AuthError::Unknown | AuthError::Expired => format!(
                "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{self}\""
            ),
        }
    }
}

/// Why a token request was refused, as the `error` of an RFC 6749 §5.2 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRequestError {
    #[error("invalid_request")]
    InvalidRequest(String),
    #[error("invalid_client")]
    InvalidClient,
    #[error("unsupported_grant_type")]
    UnsupportedGrantType(String),
}

/// A token issued by the client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: Duration,
}

#[derive(Debug)]
struct LiveToken {
    caller: Caller,
    expires_at: Instant,
}

/// Issues and checks bearer tokens.
#[derive(Debug)]
pub struct TokenAuthority {
    config: AuthConfig,
    issued: HashMap<String, LiveToken>,
}

impl TokenAuthority {
    pub fn new(config: AuthConfig) -> Self {
        Self {
            config,
            issued: HashMap::new(),
        }
    }

    /// Runs the client-credentials grant.
    pub fn issue(
        &mut self,
        grant_type: Option<&str>,
        client_id: Option<&str>,
        client_secret: Option<&str>,
        now: Instant,
    ) -> Result<IssuedToken, TokenRequestError> {
        match grant_type {
            None => {
                return Err(TokenRequestError::InvalidRequest(
                    "grant_type is required".into(),
                ));
            }
            Some("client_credentials") => {}
            Some(other) => return Err(TokenRequestError::UnsupportedGrantType(other.into())),
        }
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(TokenRequestError::InvalidClient);
        };
        let client = self
            .config
            .oauth_clients
            .iter()
            .find(|c| c.client_id == client_id)
            .filter(|c| constant_time_eq(c.client_secret.expose(), client_secret))
            .ok_or(TokenRequestError::InvalidClient)?;
        let caller = Caller {
            client_id: client.client_id.clone(),
            xroad_client: client.xroad_client.clone(),
        };
        let expires_in = Duration::from_secs(self.config.token_ttl_seconds);
        self.issued
            .retain(|_, t| now.saturating_duration_since(t.expires_at) < EXPIRED_TOKEN_MEMORY);
        let access_token = random_token();
        self.issued.insert(
            access_token.clone(),
            LiveToken {
                caller,
                expires_at: now + expires_in,
            },
        );
        Ok(IssuedToken {
            access_token,
            expires_in,
        })
    }

    /// Checks an `Authorization` header value. `Ok(None)` means anonymous access was allowed.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        now: Instant,
    ) -> Result<Option<Caller>, AuthError> {
        let Some(value) = authorization else {
            return if self.config.allow_anonymous {
                Ok(None)
            } else {
                Err(AuthError::Missing)
            };
        };
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::Malformed)?;
        if let Some(live) = self.issued.get(token) {
            return if now < live.expires_at {
                Ok(Some(live.caller.clone()))
            } else {
                Err(AuthError::Expired)
            };
        }
        self.config
            .static_tokens
            .iter()
            .find(|t| constant_time_eq(t.token.expose(), token))
            .map(|t| {
                Some(Caller {
                    client_id: t.client_id.clone(),
                    xroad_client: t.xroad_client.clone(),
                })
            })
            .ok_or(AuthError::Unknown)
    }
}

/// 32 random bytes as hex: unguessable and safe in any header.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without an early exit on the first differing byte, so response timing does
/// not reveal how much of a guessed secret was right.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OAuthClient, Secret, StaticToken};

    fn authority(ttl: u64) -> TokenAuthority {
        TokenAuthority::new(AuthConfig {
            oauth_clients: vec![OAuthClient {
                client_id: "hub".into(),
                client_secret: Secret::new("s3cret"),
                xroad_client: None,
            }],
            static_tokens: vec![StaticToken {
                client_id: "legacy".into(),
                token: Secret::new("static-token-0123456789"),
                xroad_client: Some("VN/GOV/M/S".into()),
            }],
            token_ttl_seconds: ttl,
            allow_anonymous: false,
            allow_client_certificate: false,
        })
    }

    #[test]
    fn issued_token_works_until_expiry() {
        let t0 = Instant::now();
        let mut auth = authority(10);
        let token = auth
            .issue(Some("client_credentials"), Some("hub"), Some("s3cret"), t0)
            .unwrap();
        assert_eq!(token.expires_in, Duration::from_secs(10));
        let header = format!("Bearer {}", token.access_token);
        let caller = auth.authenticate(Some(&header), t0 + Duration::from_secs(9));
        assert_eq!(caller.unwrap().unwrap().client_id, "hub");
        assert_eq!(
            auth.authenticate(Some(&header), t0 + Duration::from_secs(10)),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn wrong_credentials_and_grants_are_refused() {
        let t0 = Instant::now();
        let mut auth = authority(10);
        assert_eq!(
            auth.issue(Some("client_credentials"), Some("hub"), Some("nope"), t0),
            Err(TokenRequestError::InvalidClient)
        );
        assert_eq!(
            auth.issue(Some("password"), Some("hub"), Some("s3cret"), t0),
            Err(TokenRequestError::UnsupportedGrantType("password".into()))
        );
        assert!(matches!(
            auth.issue(None, Some("hub"), Some("s3cret"), t0),
            Err(TokenRequestError::InvalidRequest(_))
        ));
    }

    #[test]
    fn static_tokens_and_header_forms() {
        let t0 = Instant::now();
        let auth = authority(10);
        let caller = auth
            .authenticate(Some("bearer static-token-0123456789"), t0)
            .unwrap()
            .unwrap();
        assert_eq!(caller.xroad_client.as_deref(), Some("VN/GOV/M/S"));
        assert_eq!(auth.authenticate(None, t0), Err(AuthError::Missing));
        assert_eq!(
            auth.authenticate(Some("Basic abc"), t0),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.authenticate(Some("Bearer other"), t0),
            Err(AuthError::Unknown)
        );
    }

    #[test]
    fn www_authenticate_follows_rfc6750() {
        assert_eq!(
            AuthError::Missing.www_authenticate("r"),
            "Bearer realm=\"r\""
        );
        assert!(
            AuthError::Expired
                .www_authenticate("r")
                .contains("error=\"invalid_token\"")
        );
    }
}
