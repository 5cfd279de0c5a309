//! Delivery to the national data-sharing platforms (NGSP/NDXP, NDOP, a ministry LGSP; Decree
//! 194/2025, Decree 278/2025) over HTTP: `lienthong sink`.
//!
//! The platforms promise nothing about retries or duplicates (they are synchronous RPC, like
//! X-Road), so the sink makes delivery exactly once *in effect*: every record carries an
//! idempotency key stable across redelivery, transient failures are retried until the platform
//! answers, and a Kafka offset is committed only after the platform's verdict on every record
//! before it was recorded.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | `[sink]`: endpoints (adapter, URL, auth, TLS, X-Road ids, retry, breaker) and routes |
//! | [`record`] | a Kafka record → idempotency key, entity, proto3 JSON payload |
//! | [`adapter`] | each platform's request and answer shapes, one module each |
//! | [`auth`] | bearer tokens: static, OAuth2 client credentials renewed before expiry |
//! | [`breaker`] | the circuit breaker of an endpoint |
//! | [`endpoint`] | the delivery core: send until every record has a verdict |
//! | [`offsets`] | which offsets may be committed when records finish out of order |
//! | [`stage`] | the Kafka stage: lanes per key, receipts, `dlq.sink`, commits |

pub mod adapter;
pub mod auth;
pub mod breaker;
pub mod config;
pub mod endpoint;
pub mod metrics;
pub mod offsets;
pub mod record;
pub mod stage;

pub use config::{AdapterKind, SinkConfig};
pub use endpoint::{Endpoint, Outcome, Verdict};
pub use stage::{STAGE, SinkStage, StageError};
