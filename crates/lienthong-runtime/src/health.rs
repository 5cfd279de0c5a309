//! `/healthz` (liveness), `/readyz` (readiness) and `/metrics` (Prometheus), on one small HTTP
//! listener every service runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::config::{Problems, Validate};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// `[health]`: the health and metrics listener.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    pub enabled: bool,
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
}

impl Validate for HealthConfig {
    fn validate(&self, _problems: &mut Problems) {}
}

/// Readiness of the process's components. A process is ready when it has at least one component
/// and every component is ready. Cloning shares the state.
#[derive(Clone, Default, Debug)]
pub struct Health {
    components: Arc<RwLock<BTreeMap<String, ComponentState>>>,
}

/// A component's readiness as shown at `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ComponentState {
    Starting,
    Ready,
    NotReady { reason: String },
}

/// The handle a component uses to report its readiness.
#[derive(Debug, Clone)]
pub struct Readiness {
    name: String,
    health: Health,
}

impl Readiness {
    pub fn ready(&self) {
        self.health.set(&self.name, ComponentState::Ready);
    }

    pub fn not_ready(&self, reason: impl Into<String>) {
        self.health.set(
            &self.name,
            ComponentState::NotReady {
                reason: reason.into(),
            },
        );
    }
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a component, initially starting (not ready).
    pub fn component(&self, name: &str) -> Readiness {
        self.set(name, ComponentState::Starting);
        Readiness {
            name: name.to_string(),
            health: self.clone(),
        }
    }

    pub fn is_ready(&self) -> bool {
        let components = self.read();
        !components.is_empty() && components.values().all(|s| *s == ComponentState::Ready)
    }

    pub fn snapshot(&self) -> BTreeMap<String, ComponentState> {
        self.read().clone()
    }

    fn set(&self, name: &str, state: ComponentState) {
        let mut components = self.components.write().unwrap_or_else(|p| p.into_inner());
        components.insert(name.to_string(), state);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ComponentState>> {
        self.components.read().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
struct AppState {
    health: Health,
    metrics: Metrics,
}

/// Binds `listen` and serves the endpoints until `shutdown` fires. Returns the bound address
/// (useful with port 0) once the listener is up.
pub async fn serve(
    listen: SocketAddr,
    health: Health,
    metrics: Metrics,
    shutdown: Shutdown,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { health, metrics });
    tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "health endpoint stopped");
        }
    });
    tracing::info!(%bound, "health and metrics endpoint listening");
    Ok(bound)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let status = if state.health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "ready": status == StatusCode::OK,
            "components": state.health.snapshot(),
        })),
    )
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_is() {
        let health = Health::new();
        assert!(!health.is_ready(), "no components: not ready");
        let a = health.component("consumer");
        let b = health.component("producer");
        a.ready();
        assert!(!health.is_ready());
        b.ready();
        assert!(health.is_ready());
        b.not_ready("broker unreachable");
        assert!(!health.is_ready());
        assert_eq!(
            health.snapshot()["producer"],
            ComponentState::NotReady {
                reason: "broker unreachable".into()
            }
        );
    }
}
