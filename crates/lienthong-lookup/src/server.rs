//! The gRPC server: the lookup services with the standard health service and server reflection
//! (generic clients such as `grpcurl` call it without the `.proto` files), TLS when configured.

use std::time::Duration;

use lienthong_proto::v1::code_list_service_server::CodeListServiceServer;
use lienthong_proto::v1::lookup_service_server::LookupServiceServer;
use lienthong_proto::v1::resolve_service_server::ResolveServiceServer;
use lienthong_runtime::Shutdown;
use lienthong_runtime::grpc::{self, GrpcTlsConfig};

use crate::api::LookupApi;

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Setup(#[from] grpc::GrpcError),
    #[error("server reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("the gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// Serves `api` on `listener` until `shutdown`; health turns NOT_SERVING when it begins.
pub async fn serve(
    api: LookupApi,
    listener: tokio::net::TcpListener,
    tls: Option<&GrpcTlsConfig>,
    default_timeout: Duration,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<LookupServiceServer<LookupApi>>().await;
    health
        .set_serving::<CodeListServiceServer<LookupApi>>()
        .await;
    health
        .set_serving::<ResolveServiceServer<LookupApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(lienthong_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    grpc::server(tls, default_timeout)?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(LookupServiceServer::new(api.clone()))
        .add_service(CodeListServiceServer::new(api.clone()))
        .add_service(ResolveServiceServer::new(api))
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.cancelled().await;
            health
                .set_not_serving::<LookupServiceServer<LookupApi>>()
                .await;
            health
                .set_not_serving::<CodeListServiceServer<LookupApi>>()
                .await;
            health
                .set_not_serving::<ResolveServiceServer<LookupApi>>()
                .await;
        })
        .await?;
    Ok(())
}
