//! `lienthong.v1.ResolveService` over gRPC, with the standard health service and server
//! reflection (so `grpcurl` and other generic clients can call it without the `.proto` files).
//!
//! TLS (with client certificates when `client_ca` is set) comes from the shared plumbing in
//! [`lienthong_runtime::grpc`]; [`AllowedCallers`] stands in front of `ResolveService`, while
//! health and reflection, which reveal nothing about people, stay open for probes and tools.
//!
//! Status codes: UNAUTHENTICATED for a caller the allow-list does not admit;
//! INVALID_ARGUMENT (with the offending field in a `BadRequest` detail) for a request without a
//! person; DEADLINE_EXCEEDED when the caller's deadline (or the configured default) passes;
//! UNAVAILABLE while the server shuts down. A person that cannot be resolved
//! is not an error: it answers OK with status INVALID_INPUT and the reason.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::Stream;
use lienthong_proto::v1::resolve_service_server::{ResolveService, ResolveServiceServer};
use lienthong_proto::v1::{ResolveRequest, ResolveResponse};
use lienthong_runtime::Shutdown;
use lienthong_runtime::grpc::{self, GrpcTlsConfig};
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Response, Status, Streaming};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::callers::AllowedCallers;
use crate::convert::{query_from_person, resolution_to_pb};
use crate::record::ProvinceMap;
use crate::service::{ResolveConfig, Resolver};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error(transparent)]
    Setup(#[from] grpc::GrpcError),
    #[error("the gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The service implementation.
#[derive(Debug, Clone)]
pub struct ResolveApi {
    resolver: Arc<Resolver>,
    provinces: ProvinceMap,
}

impl ResolveApi {
    pub fn new(resolver: Arc<Resolver>, provinces: ProvinceMap) -> Self {
        Self {
            resolver,
            provinces,
        }
    }

    fn answer(&self, request: ResolveRequest) -> Result<ResolveResponse, Status> {
        let Some(person) = request.person.as_ref() else {
            return Err(Status::with_error_details(
                Code::InvalidArgument,
                "the request has no person to resolve",
                ErrorDetails::with_bad_request_violation("person", "required"),
            ));
        };
        let query = query_from_person(&self.provinces, person);
        let resolution = self.resolver.resolve(&query, "grpc");
        Ok(ResolveResponse {
            request_id: request.request_id,
            result: Some(resolution_to_pb(
                &resolution,
                request.include_candidates,
                SystemTime::now(),
            )),
        })
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ResolveResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ResolveService for ResolveApi {
    async fn resolve(
        &self,
        request: Request<ResolveRequest>,
    ) -> Result<Response<ResolveResponse>, Status> {
        self.answer(request.into_inner()).map(Response::new)
    }

    type ResolveBatchStream = ResponseStream;

    async fn resolve_batch(
        &self,
        request: Request<Streaming<ResolveRequest>>,
    ) -> Result<Response<Self::ResolveBatchStream>, Status> {
        let mut requests = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<ResolveResponse, Status>>(256);
        let api = self.clone();
        tokio::spawn(async move {
            loop {
                let next = match requests.message().await {
                    Ok(Some(request)) => api.answer(request),
                    Ok(None) => break,
                    Err(status) => Err(status),
                };
                let failed = next.is_err();
                // The caller went away: nothing more to answer.
                if tx.send(next).await.is_err() || failed {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Binds `listen` (port 0 picks a free port) and returns the bound address with the listener.
pub async fn bind(listen: SocketAddr) -> Result<(SocketAddr, tokio::net::TcpListener), GrpcError> {
    Ok(grpc::bind(listen).await?)
}

/// How callers reach the service: TLS when configured, and who is let in.
#[derive(Debug, Clone, Default)]
pub struct ServerAccess {
    pub tls: Option<GrpcTlsConfig>,
    pub callers: AllowedCallers,
}

impl ServerAccess {
    /// The access `[resolve]` configures.
    pub fn from_config(config: &ResolveConfig) -> Self {
        Self {
            tls: config.tls.clone(),
            callers: AllowedCallers::new(&config.allowed_callers, &config.allowed_token_sha256),
        }
    }
}

/// Serves `api` with health and reflection on `listener` until `shutdown`, with `access`'s TLS
/// and allow-list.
pub async fn serve(
    api: ResolveApi,
    listener: tokio::net::TcpListener,
    access: ServerAccess,
    default_timeout: Duration,
    shutdown: Shutdown,
) -> Result<(), GrpcError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ResolveServiceServer<ResolveApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lienthong_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    grpc::server(access.tls.as_ref(), default_timeout)?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(InterceptedService::new(
            ResolveServiceServer::new(api),
            access.callers,
        ))
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.cancelled().await;
            health
                .set_not_serving::<ResolveServiceServer<ResolveApi>>()
                .await;
        })
        .await?;
    Ok(())
}
