//! The lookup API's client of the resolver (`ResolveService` of `lienthong resolve`), which it
//! delegates `ResolveService` calls to: over TLS with a client certificate when
//! `[lookup] resolver_tls` is set, with `[lookup] resolver_token` as a bearer token when set,
//! so that a resolver admitting only listed callers lets it in.

use std::time::Duration;

use lienthong_proto::v1::resolve_service_client::ResolveServiceClient;
use lienthong_runtime::grpc::{self, GrpcError};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::config::LookupConfig;

/// How long connecting to the resolver may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client of the resolver that presents the configured credentials.
pub type ResolverClient = ResolveServiceClient<InterceptedService<Channel, ResolverCredentials>>;

/// Adds `authorization: Bearer <token>` to every call when a token is configured. `Debug` does
/// not print the token.
#[derive(Clone, Default)]
pub struct ResolverCredentials {
    authorization: Option<MetadataValue<Ascii>>,
}

impl std::fmt::Debug for ResolverCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolverCredentials")
            .field("token", &self.authorization.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ResolverCredentials {
    /// Credentials carrying `token`; none for an empty token.
    pub fn bearer(token: &str) -> Result<Self, ResolverSetupError> {
        if token.is_empty() {
            return Ok(Self::default());
        }
        let mut value: MetadataValue<Ascii> = format!("Bearer {token}")
            .parse()
            .map_err(|_| ResolverSetupError::Token)?;
        // Kept out of HTTP/2 header compression tables and debug output.
        value.set_sensitive(true);
        Ok(Self {
            authorization: Some(value),
        })
    }
}

impl tonic::service::Interceptor for ResolverCredentials {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The resolver client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ResolverSetupError {
    #[error("[lookup] resolver {url}: {source}")]
    Url {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("[lookup] resolver_tls: {0}")]
    Tls(#[from] GrpcError),
    #[error("[lookup] resolver_tls: {0}")]
    TlsConfig(#[source] tonic::transport::Error),
    #[error("[lookup] resolver_token may hold only visible ASCII characters")]
    Token,
}

/// The resolver client of `config`, or `None` when no resolver is configured. Connects lazily:
/// an unreachable resolver makes `ResolveService` calls answer UNAVAILABLE, not the lookup API
/// fail to start.
pub fn connect(config: &LookupConfig) -> Result<Option<ResolverClient>, ResolverSetupError> {
    let Some(url) = &config.resolver else {
        return Ok(None);
    };
    let mut endpoint =
        Endpoint::from_shared(url.clone()).map_err(|source| ResolverSetupError::Url {
            url: url.clone(),
            source,
        })?;
    if let Some(tls) = &config.resolver_tls {
        endpoint = endpoint
            .tls_config(grpc::client_tls(tls)?)
            .map_err(ResolverSetupError::TlsConfig)?;
    }
    let channel = endpoint.connect_timeout(CONNECT_TIMEOUT).connect_lazy();
    let credentials = ResolverCredentials::bearer(config.resolver_token.expose())?;
    Ok(Some(ResolveServiceClient::with_interceptor(
        channel,
        credentials,
    )))
}

#[cfg(test)]
mod tests {
    use lienthong_runtime::config::Secret;
    use tonic::service::Interceptor as _;

    use super::*;

    #[test]
    fn the_token_travels_as_a_bearer_header_and_never_prints() {
        let mut credentials = ResolverCredentials::bearer("s3cret-token").unwrap();
        let request = credentials.call(Request::new(())).unwrap();
        assert_eq!(
            request.metadata().get("authorization").unwrap(),
            "Bearer s3cret-token"
        );
        assert!(!format!("{credentials:?}").contains("s3cret"));
        let mut none = ResolverCredentials::bearer("").unwrap();
        let request = none.call(Request::new(())).unwrap();
        assert!(request.metadata().get("authorization").is_none());
        assert!(matches!(
            ResolverCredentials::bearer("line\nbreak"),
            Err(ResolverSetupError::Token)
        ));
    }

    #[tokio::test]
    async fn a_client_exists_only_with_a_resolver() {
        assert!(connect(&LookupConfig::default()).unwrap().is_none());
        let config = LookupConfig {
            resolver: Some("http://127.0.0.1:50051".into()),
            resolver_token: Secret::new("t".into()),
            ..LookupConfig::default()
        };
        assert!(connect(&config).unwrap().is_some());
        let config = LookupConfig {
            resolver: Some("https://127.0.0.1:50051".into()),
            resolver_tls: Some(lienthong_runtime::grpc::GrpcClientTlsConfig {
                ca: "/nonexistent/ca.pem".into(),
                cert: None,
                key: None,
                domain: None,
            }),
            ..LookupConfig::default()
        };
        assert!(matches!(
            connect(&config),
            Err(ResolverSetupError::Tls(GrpcError::Read { .. }))
        ));
    }
}
