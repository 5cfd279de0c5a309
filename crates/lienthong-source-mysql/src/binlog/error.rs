//! Why bytes could not be decoded.

use super::header::event_type_name;

/// Why a binlog event, or a row or value inside one, could not be decoded.
///
/// Offsets count bytes from the start of the event (its header's first byte). Every variant means
/// the bytes are not what the server writes, or use a feature this decoder does not support; none
/// is transient, so the connector stops on them (or dead-letters the event) rather than retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated reading {field} at offset {offset}: needs {needed} bytes, {available} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },

    #[error("not a binlog file: it starts with {found:02x?}, not the magic fe 62 69 6e")]
    BadMagic { found: Vec<u8> },

    #[error("event declares a size of {declared} bytes, smaller than its 19-byte header")]
    EventSizeTooSmall { declared: u32 },

    #[error("event declares a size of {declared} bytes but {actual} bytes were given")]
    EventSizeMismatch { declared: u32, actual: usize },

    #[error(
        "CRC32 mismatch in {} event: stored {stored:#010x}, computed {computed:#010x}",
        event_type_name(*event_type)
    )]
    ChecksumMismatch {
        event_type: u8,
        stored: u32,
        computed: u32,
    },

    #[error("unknown binlog checksum algorithm {algorithm} (known: 0 = off, 1 = CRC32)")]
    UnknownChecksumAlgorithm { algorithm: u8 },

    #[error(
        "binlog format version {version} is not supported (only version 4, MySQL 5.0+ and MariaDB)"
    )]
    UnsupportedBinlogVersion { version: u16 },

    #[error(
        "{} event has a post-header of {length} bytes; this decoder needs at least {needed}",
        event_type_name(*event_type)
    )]
    PostHeaderTooShort {
        event_type: u8,
        length: usize,
        needed: usize,
    },

    #[error(
        "{count} {field} declared at offset {offset} need at least {min_bytes} bytes, only \
         {available} left"
    )]
    CountExceedsInput {
        field: &'static str,
        count: u64,
        offset: usize,
        min_bytes: u64,
        available: usize,
    },

    #[error("{field} at offset {offset} starts with byte {byte}, which begins no packed integer")]
    InvalidPackedInteger {
        field: &'static str,
        offset: usize,
        byte: u8,
    },

    #[error("{field} at offset {offset} is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        field: &'static str,
        offset: usize,
        valid_up_to: usize,
    },

    #[error("{count} trailing bytes after the {what}, from offset {offset}")]
    TrailingBytes {
        what: &'static str,
        offset: usize,
        count: usize,
    },

    #[error(
        "{} (type {event_type}) is a compressed event: the server runs with log_bin_compress=ON, \
         which this decoder does not support; turn it off on the source",
        event_type_name(*event_type)
    )]
    CompressedEvent { event_type: u8 },

    #[error(
        "{} (type {event_type}) carries changes this decoder cannot read: {reason}",
        event_type_name(*event_type)
    )]
    UnsupportedEvent {
        event_type: u8,
        reason: &'static str,
    },

    #[error(
        "the GTID set at offset {offset} uses MySQL 8.3+ tagged GTIDs, which are not supported"
    )]
    TaggedGtidSet { offset: usize },

    #[error("column {column} has type code {type_code}, which this decoder does not know")]
    UnknownColumnType { column: usize, type_code: u8 },

    #[error("optional metadata of table {table}: {reason}")]
    InvalidOptionalMetadata { table: String, reason: String },

    #[error(
        "rows event is for table id {rows_table_id}, the schema given is of table id {schema_table_id}"
    )]
    TableIdMismatch {
        rows_table_id: u64,
        schema_table_id: u64,
    },

    #[error("rows event has {event_columns} columns, the table map of {table} has {table_columns}")]
    ColumnCountMismatch {
        table: String,
        event_columns: usize,
        table_columns: usize,
    },

    #[error("column facts for {table} list {facts} columns, the table map has {table_columns}")]
    FactsCountMismatch {
        table: String,
        facts: usize,
        table_columns: usize,
    },

    #[error(
        "column {column} of {table}: the table map says {what} is {from_table_map}, the column \
         facts say {from_facts}; the facts are likely from another version of the table"
    )]
    FactsConflict {
        table: String,
        column: usize,
        what: &'static str,
        from_table_map: String,
        from_facts: String,
    },

    #[error(
        "row {row} of the rows event, column {column} ({column_name}) at offset {offset}: {source}"
    )]
    Value {
        row: usize,
        column: usize,
        column_name: String,
        offset: usize,
        #[source]
        source: ValueError,
    },
}

/// Why one column value could not be decoded from a row image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{type_name} value needs {needed} bytes, {available} left in the row")]
    Truncated {
        type_name: &'static str,
        needed: usize,
        available: usize,
    },

    #[error("{type_name} column has invalid metadata: {reason}")]
    InvalidMetadata {
        type_name: &'static str,
        reason: String,
    },

    #[error("invalid {type_name} value: {reason}")]
    Invalid {
        type_name: &'static str,
        reason: String,
    },

    #[error("{type_name} columns are not supported: {reason}")]
    Unsupported {
        type_name: &'static str,
        reason: &'static str,
    },
}
