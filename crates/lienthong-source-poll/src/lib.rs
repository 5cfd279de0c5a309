//! Change-data-capture by polling, for source databases without log access (many legacy
//! ministry systems): PostgreSQL, MySQL/MariaDB and SQLite through sqlx.
//!
//! Each table is read in keyset pages ordered by its cursor columns and key, from the last
//! acknowledged position on. Rows become the same change events, on the same topics
//! (`cdc.<source>.<schema>.<table>`, keyed by primary key) as the log-based connectors, with a
//! poll cursor as their position. A soft-delete column turns rows into deletes; an optional
//! periodic full compare finds rows deleted outright. A table's cursor is saved only after the
//! broker acknowledged every event up to it.
//!
//! What polling cannot see: intermediate versions of a row changed twice between two polls
//! (only the last is read), rows deleted outright until the next full compare, changes that do
//! not move the cursor column, and rows committed later than the safety window after the
//! cursor value they carry. Prefer the log-based connectors where the source allows them.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | `[source_poll.<id>]` and its validation |
//! | [`catalog`] | what is known of a table: columns, types, primary key |
//! | [`dialect`] | the SQL per dialect: keyset pages, window re-reads, key scans (pure) |
//! | [`values`] | cells read from rows → typed change-event values (pure) |
//! | [`temporal`] | calendar arithmetic and date-time text (pure) |
//! | [`cursor`] | window points and floors, value comparison, row fingerprints (pure) |
//! | [`state`] | a table's durable cursor and safety window (pure) |
//! | [`events`] | rows → change events: operation, masking, keys, positions (pure) |
//! | [`schema_versions`] | a new schema version at each change of a table's columns |
//! | [`metrics`] | `lienthong_source_poll_*` metrics |
//! | [`compare`] | the full compare: published keys versus source keys |
//! | [`database`] | connections and catalog queries per dialect (I/O) |
//! | [`connector`] | the polling loop with restart on transient failures |
//! | [`checks`] | what `lienthong validate` verifies on a polled source |

pub mod catalog;
pub mod checks;
pub mod compare;
pub mod config;
pub mod connector;
pub mod cursor;
pub mod database;
pub mod dialect;
pub mod events;
pub mod metrics;
pub mod schema_versions;
pub mod state;
pub mod temporal;
pub mod values;

pub use config::PollSourceConfig;
pub use connector::{PollSource, STAGE, SourceContext, SourceError};
