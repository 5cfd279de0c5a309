//! The lookup API (`lienthong lookup`): synchronous gRPC look-ups for integrators and partner
//! ministries — people, civil servants, administrative units and code lists — authenticated by
//! client certificate or token, filtered by each partner's sharing policy and audited.

pub mod api;
pub mod audit;
pub mod config;
pub mod resolver;
pub mod server;
pub mod units;

pub use api::{LookupApi, LookupMetrics};
pub use audit::Auditor;
pub use config::LookupConfig;
