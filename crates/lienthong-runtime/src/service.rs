//! What every long-running `lienthong` service starts with: telemetry, the metrics registry,
//! the health endpoint and the shutdown signal.

use std::net::SocketAddr;

use crate::health::{self, Health, HealthConfig};
use crate::metrics::{KafkaMetrics, Metrics};
use crate::shutdown::Shutdown;
use crate::telemetry::{self, TelemetryConfig, TelemetryGuard};

/// The shared scaffolding of a running service.
#[derive(Debug)]
pub struct ServiceRuntime {
    pub metrics: Metrics,
    pub kafka_metrics: KafkaMetrics,
    pub health: Health,
    pub shutdown: Shutdown,
    /// Where `/healthz`, `/readyz` and `/metrics` listen, when enabled.
    pub health_address: Option<SocketAddr>,
    _telemetry: TelemetryGuard,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

impl ServiceRuntime {
    /// Installs telemetry and signal handlers and starts the health endpoint.
    pub async fn start(
        telemetry_config: &TelemetryConfig,
        health_config: &HealthConfig,
    ) -> Result<Self, ServiceError> {
        let telemetry = telemetry::init(telemetry_config)?;
        let shutdown = Shutdown::on_signals().map_err(ServiceError::Signals)?;
        let metrics = Metrics::new();
        let kafka_metrics = KafkaMetrics::register(&metrics);
        let health = Health::new();
        let health_address = if health_config.enabled {
            Some(
                health::serve(
                    health_config.listen,
                    health.clone(),
                    metrics.clone(),
                    shutdown.clone(),
                )
                .await
                .map_err(|source| ServiceError::Listen {
                    address: health_config.listen,
                    source,
                })?,
            )
        } else {
            None
        };
        Ok(Self {
            metrics,
            kafka_metrics,
            health,
            shutdown,
            health_address,
            _telemetry: telemetry,
        })
    }
}
