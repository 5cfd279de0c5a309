//! Pure decoder of the MariaDB/MySQL binary log (format version 4), for row-based replication.
//!
//! Nothing here does I/O: functions take event bytes and return typed values, never panic, and
//! never allocate more than the input can describe (every count and length is checked against
//! the bytes that remain first). Hostile or corrupt input gives a [`DecodeError`]. The decoders
//! are fuzzed (`fuzz/fuzz_targets/binlog_decode.rs`) and property-tested.
//!
//! MariaDB 10.x is the primary target (the social-security database runs 10.11); MySQL 8 decodes
//! the same way where the formats agree, and its own events (GTIDs, v2 rows, binary JSON) are
//! handled too.
//!
//! | module | job |
//! |---|---|
//! | [`header`] | the 19-byte event header, event type codes |
//! | [`format`](mod@format) | FORMAT_DESCRIPTION_EVENT, CRC32 checksums |
//! | [`event`] | one whole event → [`Event`]; the small control events and GTID events |
//! | [`query`] | QUERY_EVENT: statement text, status variables, BEGIN/COMMIT/DDL |
//! | [`table_map`] | TABLE_MAP_EVENT: column types, metadata, optional metadata |
//! | [`schema`] | a table map joined with facts from `information_schema` |
//! | [`rows`] | WRITE/UPDATE/DELETE_ROWS: row images |
//! | [`value`] | column values; [`decimal`], [`temporal`] and [`json`] for their formats |
//! | [`charset`] | collation ids, text decoding (latin1 is cp1252) |
//! | [`gtid`] | MariaDB GTID positions, MySQL GTID sets |
//! | [`stream`] | splitting a binlog file; a stateful decoder for a stream |
//!
//! Typical use over a stream of event bytes:
//!
//! ```
//! use lienthong_source_mysql::binlog::{BinlogDecoder, ChecksumAlgorithm, EventData, TableSchema};
//!
//! fn on_event(decoder: &mut BinlogDecoder, bytes: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//!     let event = decoder.decode(bytes)?;
//!     if let EventData::Rows(rows) = &event.data {
//!         let map = decoder.table_map(rows.table_id).ok_or("rows event without its table map")?;
//!         let schema = TableSchema::new(map, None)?;
//!         for change in rows.rows(&schema)? {
//!             println!("{change:?}");
//!         }
//!     }
//!     Ok(())
//! }
//! # let _ = on_event;
//! # let _ = BinlogDecoder::new(ChecksumAlgorithm::Crc32);
//! ```

pub mod charset;
pub mod decimal;
mod error;
pub mod event;
pub mod format;
pub mod gtid;
pub mod header;
pub mod json;
pub mod query;
mod reader;
pub mod rows;
pub mod schema;
pub mod stream;
pub mod table_map;
pub mod temporal;
pub mod value;

pub use charset::{Charset, TextError, decode_text, encode_latin1};
pub use error::{DecodeError, ValueError};
pub use event::{Event, EventData, decode_event};
pub use format::{ChecksumAlgorithm, FormatDescription, ServerFlavor};
pub use gtid::{MariadbGtid, MariadbGtidPosition, MysqlGtid, MysqlGtidSet};
pub use header::EventHeader;
pub use query::{QueryEvent, QueryKind};
pub use rows::{RowChange, RowImage, RowsEvent, RowsKind};
pub use schema::{ColumnFacts, ColumnSchema, TableFacts, TableSchema};
pub use stream::{BINLOG_MAGIC, BinlogDecoder, binlog_file_events};
pub use table_map::{ColumnType, TableMap};
pub use value::{Value, decode_value};
