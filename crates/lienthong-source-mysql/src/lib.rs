//! MariaDB and MySQL change-data-capture from the binary log.
//!
//! The connector produces the same change events, topics (`cdc.<source>.<database>.<table>`,
//! keyed by primary key) and no-loss rule as the PostgreSQL connector: a binlog position is
//! saved only after the broker acknowledged every event before it.
//!
//! | module | job |
//! |---|---|
//! | [`binlog`] | pure decoder of binlog events, row images and column values; GTID positions |
//! | [`position`] | positions (GTID state + file/offset) and their ordering |
//! | [`client`] | the binlog connection (replica registration, dump from a position) |
//! | [`catalog`] | tables, columns and keys from `information_schema`; server settings |
//! | [`values`] | decoded column values → typed change-event values |
//! | [`events`] | rows → change events (filters, masking, keys) |
//! | [`capture`] | the stream loop's core and position confirmation |
//! | [`snapshot`] | consistent, chunked, resumable initial snapshots |
//! | [`connector`] | the whole connector with restart on transient failures |
//! | [`checks`] | what `lienthong validate` verifies on a source |

pub mod binlog;
pub mod capture;
pub mod catalog;
pub mod checks;
pub mod client;
pub mod config;
pub mod connector;
pub mod events;
pub mod metrics;
pub mod position;
pub mod schema_versions;
pub mod snapshot;
pub mod values;

pub use config::MysqlSourceConfig;
pub use connector::{MysqlSource, STAGE, SourceContext, SourceError};
