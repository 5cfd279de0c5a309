//! The 19-byte header every binlog event (format version 4) starts with, and the event type codes.

use super::error::DecodeError;
use super::reader::Reader;

/// Length of the v4 event header.
pub const EVENT_HEADER_LEN: usize = 19;

/// Event type codes. MySQL numbers its events from 0 upwards; MariaDB numbers its own from 160 so
/// the two never collide, and reads MySQL's where they mean the same thing.
pub mod event_type {
    pub const UNKNOWN: u8 = 0;
    pub const START_V3: u8 = 1;
    pub const QUERY: u8 = 2;
    pub const STOP: u8 = 3;
    pub const ROTATE: u8 = 4;
    pub const INTVAR: u8 = 5;
    pub const LOAD: u8 = 6;
    pub const SLAVE: u8 = 7;
    pub const CREATE_FILE: u8 = 8;
    pub const APPEND_BLOCK: u8 = 9;
    pub const EXEC_LOAD: u8 = 10;
    pub const DELETE_FILE: u8 = 11;
    pub const NEW_LOAD: u8 = 12;
    pub const RAND: u8 = 13;
    pub const USER_VAR: u8 = 14;
    pub const FORMAT_DESCRIPTION: u8 = 15;
    pub const XID: u8 = 16;
    pub const BEGIN_LOAD_QUERY: u8 = 17;
    pub const EXECUTE_LOAD_QUERY: u8 = 18;
    pub const TABLE_MAP: u8 = 19;
    pub const PRE_GA_WRITE_ROWS: u8 = 20;
    pub const PRE_GA_UPDATE_ROWS: u8 = 21;
    pub const PRE_GA_DELETE_ROWS: u8 = 22;
    pub const WRITE_ROWS_V1: u8 = 23;
    pub const UPDATE_ROWS_V1: u8 = 24;
    pub const DELETE_ROWS_V1: u8 = 25;
    pub const INCIDENT: u8 = 26;
    pub const HEARTBEAT: u8 = 27;
    pub const IGNORABLE: u8 = 28;
    pub const ROWS_QUERY: u8 = 29;
    pub const WRITE_ROWS_V2: u8 = 30;
    pub const UPDATE_ROWS_V2: u8 = 31;
    pub const DELETE_ROWS_V2: u8 = 32;
    pub const GTID: u8 = 33;
    pub const ANONYMOUS_GTID: u8 = 34;
    pub const PREVIOUS_GTIDS: u8 = 35;
    pub const TRANSACTION_CONTEXT: u8 = 36;
    pub const VIEW_CHANGE: u8 = 37;
    pub const XA_PREPARE: u8 = 38;
    pub const PARTIAL_UPDATE_ROWS: u8 = 39;
    pub const TRANSACTION_PAYLOAD: u8 = 40;
    pub const HEARTBEAT_V2: u8 = 41;
    pub const GTID_TAGGED: u8 = 42;

    pub const MARIADB_ANNOTATE_ROWS: u8 = 160;
    pub const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
    pub const MARIADB_GTID: u8 = 162;
    pub const MARIADB_GTID_LIST: u8 = 163;
    pub const MARIADB_START_ENCRYPTION: u8 = 164;
    pub const MARIADB_QUERY_COMPRESSED: u8 = 165;
    pub const MARIADB_WRITE_ROWS_COMPRESSED_V1: u8 = 166;
    pub const MARIADB_UPDATE_ROWS_COMPRESSED_V1: u8 = 167;
    pub const MARIADB_DELETE_ROWS_COMPRESSED_V1: u8 = 168;
    pub const MARIADB_WRITE_ROWS_COMPRESSED: u8 = 169;
    pub const MARIADB_UPDATE_ROWS_COMPRESSED: u8 = 170;
    pub const MARIADB_DELETE_ROWS_COMPRESSED: u8 = 171;
}

/// The event type's name as the servers' sources spell it, for logs and errors.
pub fn event_type_name(type_code: u8) -> &'static str {
    use event_type::*;
    match type_code {
        UNKNOWN => "UNKNOWN_EVENT",
        START_V3 => "START_EVENT_V3",
        QUERY => "QUERY_EVENT",
        STOP => "STOP_EVENT",
        ROTATE => "ROTATE_EVENT",
        INTVAR => "INTVAR_EVENT",
        LOAD => "LOAD_EVENT",
        SLAVE => "SLAVE_EVENT",
        CREATE_FILE => "CREATE_FILE_EVENT",
        APPEND_BLOCK => "APPEND_BLOCK_EVENT",
        EXEC_LOAD => "EXEC_LOAD_EVENT",
        DELETE_FILE => "DELETE_FILE_EVENT",
        NEW_LOAD => "NEW_LOAD_EVENT",
        RAND => "RAND_EVENT",
        USER_VAR => "USER_VAR_EVENT",
        FORMAT_DESCRIPTION => "FORMAT_DESCRIPTION_EVENT",
        XID => "XID_EVENT",
        BEGIN_LOAD_QUERY => "BEGIN_LOAD_QUERY_EVENT",
        EXECUTE_LOAD_QUERY => "EXECUTE_LOAD_QUERY_EVENT",
        TABLE_MAP => "TABLE_MAP_EVENT",
        PRE_GA_WRITE_ROWS => "PRE_GA_WRITE_ROWS_EVENT",
        PRE_GA_UPDATE_ROWS => "PRE_GA_UPDATE_ROWS_EVENT",
        PRE_GA_DELETE_ROWS => "PRE_GA_DELETE_ROWS_EVENT",
        WRITE_ROWS_V1 => "WRITE_ROWS_EVENT_V1",
        UPDATE_ROWS_V1 => "UPDATE_ROWS_EVENT_V1",
        DELETE_ROWS_V1 => "DELETE_ROWS_EVENT_V1",
        INCIDENT => "INCIDENT_EVENT",
        HEARTBEAT => "HEARTBEAT_LOG_EVENT",
        IGNORABLE => "IGNORABLE_LOG_EVENT",
        ROWS_QUERY => "ROWS_QUERY_LOG_EVENT",
        WRITE_ROWS_V2 => "WRITE_ROWS_EVENT",
        UPDATE_ROWS_V2 => "UPDATE_ROWS_EVENT",
        DELETE_ROWS_V2 => "DELETE_ROWS_EVENT",
        GTID => "GTID_LOG_EVENT",
        ANONYMOUS_GTID => "ANONYMOUS_GTID_LOG_EVENT",
        PREVIOUS_GTIDS => "PREVIOUS_GTIDS_LOG_EVENT",
        TRANSACTION_CONTEXT => "TRANSACTION_CONTEXT_EVENT",
        VIEW_CHANGE => "VIEW_CHANGE_EVENT",
        XA_PREPARE => "XA_PREPARE_LOG_EVENT",
        PARTIAL_UPDATE_ROWS => "PARTIAL_UPDATE_ROWS_EVENT",
        TRANSACTION_PAYLOAD => "TRANSACTION_PAYLOAD_EVENT",
        HEARTBEAT_V2 => "HEARTBEAT_LOG_EVENT_V2",
        GTID_TAGGED => "GTID_TAGGED_LOG_EVENT",
        MARIADB_ANNOTATE_ROWS => "ANNOTATE_ROWS_EVENT",
        MARIADB_BINLOG_CHECKPOINT => "BINLOG_CHECKPOINT_EVENT",
        MARIADB_GTID => "GTID_EVENT",
        MARIADB_GTID_LIST => "GTID_LIST_EVENT",
        MARIADB_START_ENCRYPTION => "START_ENCRYPTION_EVENT",
        MARIADB_QUERY_COMPRESSED => "QUERY_COMPRESSED_EVENT",
        MARIADB_WRITE_ROWS_COMPRESSED_V1 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
        MARIADB_UPDATE_ROWS_COMPRESSED_V1 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
        MARIADB_DELETE_ROWS_COMPRESSED_V1 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
        MARIADB_WRITE_ROWS_COMPRESSED => "WRITE_ROWS_COMPRESSED_EVENT",
        MARIADB_UPDATE_ROWS_COMPRESSED => "UPDATE_ROWS_COMPRESSED_EVENT",
        MARIADB_DELETE_ROWS_COMPRESSED => "DELETE_ROWS_COMPRESSED_EVENT",
        _ => "unknown event type",
    }
}

/// Bits of [`EventHeader::flags`].
pub mod event_flags {
    /// Set in a binlog file's format description event while the server has the file open; a
    /// file whose FDE still has it after the server stopped was not closed cleanly.
    pub const BINLOG_IN_USE: u16 = 0x0001;
    pub const THREAD_SPECIFIC: u16 = 0x0004;
    pub const SUPPRESS_USE: u16 = 0x0008;
    /// Made up by the server for the replication stream (the first ROTATE, a GTID list), not
    /// read from a binlog file: it has no position of its own.
    pub const ARTIFICIAL: u16 = 0x0020;
    pub const RELAY_LOG: u16 = 0x0040;
    /// A reader that does not know the event type may skip the event.
    pub const IGNORABLE: u16 = 0x0080;
    /// MariaDB: written with `@@skip_replication` set.
    pub const SKIP_REPLICATION: u16 = 0x8000;
}

/// The common header of a v4 event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventHeader {
    /// Seconds since the Unix epoch when the statement began (not when it committed); 0 on the
    /// artificial events of the replication stream.
    pub timestamp: u32,
    pub event_type: u8,
    /// `server_id` of the server that first wrote the event (the origin, on a replica's binlog).
    pub server_id: u32,
    /// Size of the whole event: header, body and checksum.
    pub event_size: u32,
    /// Position just past this event in its binlog file: the position to resume from after it.
    /// 0 on artificial events.
    pub log_pos: u32,
    pub flags: u16,
}

impl EventHeader {
    /// Reads the header from the first 19 bytes of an event.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes, 0);
        let header = Self {
            timestamp: reader.u32("event timestamp")?,
            event_type: reader.u8("event type")?,
            server_id: reader.u32("server id")?,
            event_size: reader.u32("event size")?,
            log_pos: reader.u32("log position")?,
            flags: reader.u16("event flags")?,
        };
        if (header.event_size as usize) < EVENT_HEADER_LEN {
            return Err(DecodeError::EventSizeTooSmall {
                declared: header.event_size,
            });
        }
        Ok(header)
    }

    pub fn type_name(&self) -> &'static str {
        event_type_name(self.event_type)
    }

    /// Whether the server made this event up for the replication stream.
    pub fn is_artificial(&self) -> bool {
        self.flags & event_flags::ARTIFICIAL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_header() {
        let bytes = [
            0x10, 0x20, 0x30, 0x40, 0x02, 0x01, 0, 0, 0, 0x40, 0, 0, 0, 0x00, 0x01, 0, 0, 0x08,
            0x00,
        ];
        assert_eq!(
            EventHeader::decode(&bytes),
            Ok(EventHeader {
                timestamp: 0x4030_2010,
                event_type: event_type::QUERY,
                server_id: 1,
                event_size: 64,
                log_pos: 256,
                flags: event_flags::SUPPRESS_USE,
            })
        );
    }

    #[test]
    fn rejects_a_size_smaller_than_the_header() {
        let mut bytes = [0u8; 19];
        bytes[9] = 18;
        assert_eq!(
            EventHeader::decode(&bytes),
            Err(DecodeError::EventSizeTooSmall { declared: 18 })
        );
    }

    #[test]
    fn rejects_a_short_header() {
        assert!(matches!(
            EventHeader::decode(&[0u8; 18]),
            Err(DecodeError::Truncated { .. })
        ));
    }
}
