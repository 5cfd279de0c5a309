//! PostgreSQL change-data-capture: logical replication with the pgoutput plugin.
//!
//! | module | job |
//! |---|---|
//! | [`pgoutput`] | pure decoder of pgoutput messages |
//! | [`values`] | pure decoder of column values (text format) into typed values |
//! | [`walsender`] | the streaming replication protocol client |
//! | [`catalog`] | tables, keys, replica identity, publication and slot, over SQL |
//! | [`events`] | decoded tuples → change events (filters, masking, keys) |
//! | [`capture`] | the stream loop and position confirmation |
//! | [`snapshot`] | watermark-based chunked snapshots while streaming |
//! | [`spill`] | in-progress transactions on disk until they commit |
//! | [`connector`] | the whole connector with restart on transient failures |
//! | [`checks`] | what `lienthong validate` verifies on a source |

pub mod capture;
pub mod catalog;
pub mod checks;
pub mod config;
pub mod connector;
pub mod events;
pub mod metrics;
pub mod pgoutput;
pub mod schema_versions;
pub mod snapshot;
pub mod spill;
pub mod values;
pub mod walsender;

pub use config::PostgresSourceConfig;
pub use connector::{PostgresSource, STAGE, SourceContext, SourceError};
