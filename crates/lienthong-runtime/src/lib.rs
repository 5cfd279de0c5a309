//! Shared plumbing for lienthong services, and nothing domain-specific: layered configuration,
//! telemetry, Kafka producer/consumer/admin helpers, the error classification and retry policy,
//! the health and metrics endpoint, database reachability checks and graceful shutdown.

pub mod config;
pub mod database;
pub mod error;
pub mod grpc;
pub mod health;
pub mod kafka;
pub mod metrics;
pub mod retry;
pub mod service;
pub mod shutdown;
pub mod stage;
pub mod telemetry;

pub use config::{ConfigError, Problems, Secret, Validate};
pub use error::{Classify, ErrorClass};
pub use health::Health;
pub use metrics::Metrics;
pub use shutdown::Shutdown;
