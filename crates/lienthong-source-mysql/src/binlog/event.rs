//! Decoding one whole event: header, checksum, and the body by event type.

use super::error::DecodeError;
use super::format::{ChecksumAlgorithm, FormatDescription, verify_crc32};
use super::gtid::{GtidInterval, MariadbGtid, MysqlGtidSet, Uuid};
use super::header::{EVENT_HEADER_LEN, EventHeader, event_type};
use super::query::QueryEvent;
use super::reader::Reader;
use super::rows::{RowsEvent, is_rows_event};
use super::table_map::TableMap;

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub header: EventHeader,
    pub data: EventData,
}

/// The body of an event, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    FormatDescription(FormatDescription),
    Rotate(Rotate),
    /// The server stopped; the file ends here.
    Stop,
    /// A transaction on transactional tables committed.
    Xid {
        xid: u64,
    },
    Query(QueryEvent),
    /// Sent by the server while idle; `header.log_pos` is its current position.
    Heartbeat {
        log_file: String,
    },
    TableMap(TableMap),
    Rows(RowsEvent),
    /// The server lost events (e.g. a failed write to the binlog): a replica must stop.
    Incident {
        code: u16,
        message: String,
    },
    /// MySQL (`binlog_rows_query_log_events`): the statement that produced the next rows events.
    RowsQuery {
        sql: Vec<u8>,
    },
    /// MariaDB (`binlog_annotate_row_events`): the statement that produced the next rows events.
    MariadbAnnotateRows {
        sql: Vec<u8>,
    },
    /// MariaDB: crash recovery may start from this binlog file.
    MariadbBinlogCheckpoint {
        log_file: String,
    },
    MariadbGtid(MariadbGtidEvent),
    /// MariaDB: the last GTID of each (domain, server) at the start of a binlog file.
    MariadbGtidList {
        flags: u8,
        gtids: Vec<MariadbGtid>,
    },
    MysqlGtid(MysqlGtidEvent),
    /// MySQL: every transaction in earlier binlog files.
    MysqlPreviousGtids(MysqlGtidSet),
    /// Any other event type, its data (after the header, without the checksum) as written.
    Unknown {
        type_code: u8,
        raw: Vec<u8>,
    },
}

/// ROTATE_EVENT: the stream continues in another binlog file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotate {
    /// Position in the next file to continue from (4, after the magic, at a file's start).
    pub position: u64,
    pub next_file: String,
}

/// MariaDB GTID_EVENT: the start of a transaction (event group) and its GTID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MariadbGtidEvent {
    /// Domain and sequence from the event, server id from the event header.
    pub gtid: MariadbGtid,
    /// `FL_*` bits; see the methods.
    pub flags: u8,
    /// Transactions committed in the same group commit on the source share this id.
    pub commit_id: Option<u64>,
    /// The XA transaction id, for `XA PREPARE` and the `XA COMMIT`/`ROLLBACK` of a prepared one.
    pub xid: Option<XaId>,
    /// `FL_EXTRA_*` bits (MariaDB 10.5+), 0 when absent.
    pub flags_extra: u8,
    /// For transactions that touched several engines: how many beyond the first.
    pub extra_engines: Option<u8>,
    /// For the `COMMIT ALTER`/`ROLLBACK ALTER` of a split `ALTER TABLE`: the `START ALTER`'s
    /// sequence number.
    pub start_alter_sequence: Option<u64>,
}

/// An XA transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XaId {
    pub format_id: u32,
    pub gtrid: Vec<u8>,
    pub bqual: Vec<u8>,
}

/// Bits of [`MariadbGtidEvent::flags`].
pub mod mariadb_gtid_flags {
    /// The group is one statement with no COMMIT after it (DDL, or a non-transactional change).
    pub const STANDALONE: u8 = 0x01;
    pub const GROUP_COMMIT_ID: u8 = 0x02;
    /// The group can be rolled back (only transactional tables).
    pub const TRANSACTIONAL: u8 = 0x04;
    pub const ALLOW_PARALLEL: u8 = 0x08;
    pub const WAITED: u8 = 0x10;
    pub const DDL: u8 = 0x20;
    pub const PREPARED_XA: u8 = 0x40;
    pub const COMPLETED_XA: u8 = 0x80;
}

/// Bits of [`MariadbGtidEvent::flags_extra`].
pub mod mariadb_gtid_flags_extra {
    pub const MULTI_ENGINE: u8 = 0x01;
    pub const START_ALTER: u8 = 0x02;
    pub const COMMIT_ALTER: u8 = 0x04;
    pub const ROLLBACK_ALTER: u8 = 0x08;
}

impl MariadbGtidEvent {
    /// Whether the group is a single statement without BEGIN/COMMIT (it ends after the next
    /// event): DDL and changes to non-transactional tables.
    pub fn is_standalone(&self) -> bool {
        self.flags & mariadb_gtid_flags::STANDALONE != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.flags & mariadb_gtid_flags::TRANSACTIONAL != 0
    }

    pub fn is_ddl(&self) -> bool {
        self.flags & mariadb_gtid_flags::DDL != 0
    }

    fn decode(data: &[u8], header: &EventHeader) -> Result<Self, DecodeError> {
        use mariadb_gtid_flags::*;
        let mut reader = Reader::new(data, EVENT_HEADER_LEN);
        let sequence = reader.u64("GTID sequence number")?;
        let domain_id = reader.u32("GTID domain id")?;
        let flags = reader.u8("GTID flags")?;
        let commit_id = if flags & GROUP_COMMIT_ID != 0 {
            Some(reader.u64("commit id")?)
        } else {
            None
        };
        let xid = if flags & (PREPARED_XA | COMPLETED_XA) != 0 {
            let format_id = reader.u32("XA format id")?;
            let gtrid_len = usize::from(reader.u8("XA gtrid length")?);
            let bqual_len = usize::from(reader.u8("XA bqual length")?);
            Some(XaId {
                format_id,
                gtrid: reader.take(gtrid_len, "XA gtrid")?.to_vec(),
                bqual: reader.take(bqual_len, "XA bqual")?.to_vec(),
            })
        } else {
            None
        };
        // What follows is optional and zero-padded to the 19-byte post-header: a zero byte
        // means "no extra flags".
        let mut flags_extra = 0;
        let mut extra_engines = None;
        let mut start_alter_sequence = None;
        if !reader.is_empty() {
            use mariadb_gtid_flags_extra::*;
            flags_extra = reader.u8("GTID extra flags")?;
            if flags_extra & MULTI_ENGINE != 0 {
                extra_engines = Some(reader.u8("extra engines")?);
            }
            if flags_extra & (COMMIT_ALTER | ROLLBACK_ALTER) != 0 {
                start_alter_sequence = Some(reader.u64("start alter sequence number")?);
            }
        }
        Ok(Self {
            gtid: MariadbGtid {
                domain_id,
                server_id: header.server_id,
                sequence,
            },
            flags,
            commit_id,
            xid,
            flags_extra,
            extra_engines,
            start_alter_sequence,
        })
    }
}

/// MySQL GTID_LOG_EVENT (or ANONYMOUS_GTID_LOG_EVENT): the start of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlGtidEvent {
    /// An ANONYMOUS_GTID event: GTIDs are off, `source` and `number` are zero.
    pub anonymous: bool,
    /// Bit 0: the transaction may contain statement-based events.
    pub flags: u8,
    pub source: Uuid,
    pub number: u64,
    /// Logical clock of the multi-threaded replica scheduler.
    pub last_committed: Option<i64>,
    pub sequence_number: Option<i64>,
    /// Microseconds since the epoch when this server committed the transaction (8.0.1+).
    pub immediate_commit_timestamp: Option<u64>,
    /// Microseconds since the epoch when the original source committed it.
    pub original_commit_timestamp: Option<u64>,
    /// Bytes of the whole transaction in the binlog (8.0.2+).
    pub transaction_length: Option<u64>,
    pub immediate_server_version: Option<u32>,
    pub original_server_version: Option<u32>,
}

impl MysqlGtidEvent {
    fn decode(data: &[u8], anonymous: bool) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(data, EVENT_HEADER_LEN);
        let flags = reader.u8("GTID flags")?;
        let source = Uuid(reader.array("source UUID")?);
        let number = reader.u64("GTID number")?;
        let mut event = Self {
            anonymous,
            flags,
            source,
            number,
            last_committed: None,
            sequence_number: None,
            immediate_commit_timestamp: None,
            original_commit_timestamp: None,
            transaction_length: None,
            immediate_server_version: None,
            original_server_version: None,
        };
        // Fields after the number were added release by release; each is present only if the
        // writer knew it.
        const LOGICAL_TIMESTAMP_TYPE: u8 = 2;
        if reader.remaining() >= 17 && reader.rest().first() == Some(&LOGICAL_TIMESTAMP_TYPE) {
            reader.skip(1, "logical timestamp type")?;
            event.last_committed = Some(reader.u64("last committed")? as i64);
            event.sequence_number = Some(reader.u64("sequence number")? as i64);
        }
        if reader.remaining() >= 7 {
            const HAS_ORIGINAL: u64 = 1 << 55;
            let immediate = reader.uint_le(7, "immediate commit timestamp")?;
            event.immediate_commit_timestamp = Some(immediate & !HAS_ORIGINAL);
            event.original_commit_timestamp = if immediate & HAS_ORIGINAL != 0 {
                Some(reader.uint_le(7, "original commit timestamp")?)
            } else {
                Some(immediate & !HAS_ORIGINAL)
            };
            if !reader.is_empty() {
                event.transaction_length = Some(reader.packed_u64("transaction length")?);
            }
            if reader.remaining() >= 4 {
                const HAS_ORIGINAL_VERSION: u32 = 1 << 31;
                let immediate = reader.u32("immediate server version")?;
                event.immediate_server_version = Some(immediate & !HAS_ORIGINAL_VERSION);
                event.original_server_version = if immediate & HAS_ORIGINAL_VERSION != 0 {
                    Some(reader.u32("original server version")?)
                } else {
                    Some(immediate & !HAS_ORIGINAL_VERSION)
                };
            }
        }
        Ok(event)
    }
}

/// Decodes one whole event: `bytes` is exactly the event (header, body and checksum, as the
/// header's size says). `format` is the format of the events around it: the file's or stream's
/// last FORMAT_DESCRIPTION_EVENT, or [`FormatDescription::assumed`] before the first.
///
/// The checksum is verified when the format says events carry one; a format description event
/// always says for itself. Row events of MariaDB's compressed formats, MySQL's compressed
/// transaction payloads and partial JSON updates are errors, not [`EventData::Unknown`]: they
/// hold row changes this decoder cannot read, and skipping them would lose data silently.
pub fn decode_event(bytes: &[u8], format: &FormatDescription) -> Result<Event, DecodeError> {
    let header = EventHeader::decode(bytes)?;
    if header.event_size as usize != bytes.len() {
        return Err(DecodeError::EventSizeMismatch {
            declared: header.event_size,
            actual: bytes.len(),
        });
    }
    if header.event_type == event_type::FORMAT_DESCRIPTION {
        let format = FormatDescription::decode(bytes, &header)?;
        return Ok(Event {
            header,
            data: EventData::FormatDescription(format),
        });
    }
    let data_end = match format.checksum {
        ChecksumAlgorithm::Off => bytes.len(),
        ChecksumAlgorithm::Crc32 => {
            verify_crc32(bytes, &header)?;
            bytes.len() - format.checksum.len()
        }
    };
    let data = bytes
        .get(EVENT_HEADER_LEN..data_end)
        .ok_or(DecodeError::Truncated {
            field: "checksum",
            offset: EVENT_HEADER_LEN,
            needed: format.checksum.len(),
            available: bytes.len().saturating_sub(EVENT_HEADER_LEN),
        })?;
    let data = decode_data(&header, data, format)?;
    Ok(Event { header, data })
}

fn decode_data(
    header: &EventHeader,
    data: &[u8],
    format: &FormatDescription,
) -> Result<EventData, DecodeError> {
    use event_type::*;
    let type_code = header.event_type;
    let post_header_len = format.post_header_len(type_code);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    Ok(match type_code {
        ROTATE => {
            let mut reader = Reader::new(data, EVENT_HEADER_LEN);
            let position = if post_header_len >= 8 {
                reader.u64("rotate position")?
            } else {
                4
            };
            reader.skip(post_header_len.saturating_sub(8), "post-header")?;
            EventData::Rotate(Rotate {
                position,
                next_file: text(reader.take_rest()),
            })
        }
        STOP => EventData::Stop,
        XID => {
            let reader = &mut Reader::new(data, EVENT_HEADER_LEN);
            let xid = reader.u64("xid")?;
            reader.finish("XID event")?;
            EventData::Xid { xid }
        }
        QUERY => EventData::Query(QueryEvent::decode(data, post_header_len)?),
        HEARTBEAT => EventData::Heartbeat {
            log_file: text(data),
        },
        TABLE_MAP => EventData::TableMap(TableMap::decode(data, post_header_len, format.flavor())?),
        code if is_rows_event(code) => {
            EventData::Rows(RowsEvent::decode(data, code, post_header_len)?)
        }
        INCIDENT => {
            let mut reader = Reader::new(data, EVENT_HEADER_LEN);
            let code = reader.u16("incident code")?;
            reader.skip(post_header_len.saturating_sub(2), "post-header")?;
            let message = if reader.is_empty() {
                String::new()
            } else {
                let len = usize::from(reader.u8("incident message length")?);
                text(reader.take(len, "incident message")?)
            };
            EventData::Incident { code, message }
        }
        ROWS_QUERY => EventData::RowsQuery {
            // One length byte (which overflows for long statements, so it is ignored), then the
            // statement to the end of the event.
            sql: data.get(1..).unwrap_or_default().to_vec(),
        },
        MARIADB_ANNOTATE_ROWS => EventData::MariadbAnnotateRows { sql: data.to_vec() },
        MARIADB_BINLOG_CHECKPOINT => {
            let mut reader = Reader::new(data, EVENT_HEADER_LEN);
            let len = reader.u32("checkpoint file name length")? as usize;
            EventData::MariadbBinlogCheckpoint {
                log_file: text(reader.take(len, "checkpoint file name")?),
            }
        }
        MARIADB_GTID => EventData::MariadbGtid(MariadbGtidEvent::decode(data, header)?),
        MARIADB_GTID_LIST => decode_gtid_list(data)?,
        GTID | ANONYMOUS_GTID => {
            EventData::MysqlGtid(MysqlGtidEvent::decode(data, type_code == ANONYMOUS_GTID)?)
        }
        PREVIOUS_GTIDS => EventData::MysqlPreviousGtids(decode_gtid_set(data)?),
        MARIADB_QUERY_COMPRESSED
        | MARIADB_WRITE_ROWS_COMPRESSED_V1
        | MARIADB_UPDATE_ROWS_COMPRESSED_V1
        | MARIADB_DELETE_ROWS_COMPRESSED_V1
        | MARIADB_WRITE_ROWS_COMPRESSED
        | MARIADB_UPDATE_ROWS_COMPRESSED
        | MARIADB_DELETE_ROWS_COMPRESSED => {
            return Err(DecodeError::CompressedEvent {
                event_type: type_code,
            });
        }
        TRANSACTION_PAYLOAD => {
            return Err(DecodeError::UnsupportedEvent {
                event_type: type_code,
                reason: "a compressed transaction (binlog_transaction_compression=ON); turn it \
                         off on the source",
            });
        }
        PARTIAL_UPDATE_ROWS => {
            return Err(DecodeError::UnsupportedEvent {
                event_type: type_code,
                reason: "partial JSON updates (binlog_row_value_options=PARTIAL_JSON); clear \
                         that option on the source",
            });
        }
        PRE_GA_WRITE_ROWS | PRE_GA_UPDATE_ROWS | PRE_GA_DELETE_ROWS => {
            return Err(DecodeError::UnsupportedEvent {
                event_type: type_code,
                reason: "rows events of MySQL 5.1.0–5.1.15",
            });
        }
        _ => EventData::Unknown {
            type_code,
            raw: data.to_vec(),
        },
    })
}

fn decode_gtid_list(data: &[u8]) -> Result<EventData, DecodeError> {
    let mut reader = Reader::new(data, EVENT_HEADER_LEN);
    let count_and_flags = reader.u32("GTID count")?;
    // The top 4 bits are flags; the rest is the count.
    let flags = (count_and_flags >> 28) as u8;
    let count = (count_and_flags & 0x0FFF_FFFF) as usize;
    reader.check_count_fits(count, 16, "GTIDs")?;
    let mut gtids = Vec::with_capacity(count);
    for _ in 0..count {
        let domain_id = reader.u32("GTID domain id")?;
        let server_id = reader.u32("GTID server id")?;
        let sequence = reader.u64("GTID sequence number")?;
        gtids.push(MariadbGtid {
            domain_id,
            server_id,
            sequence,
        });
    }
    Ok(EventData::MariadbGtidList { flags, gtids })
}

/// MySQL's binary GTID set: a source count, then per source its UUID, an interval count and
/// intervals as (start, end exclusive) pairs of 8-byte integers.
fn decode_gtid_set(data: &[u8]) -> Result<MysqlGtidSet, DecodeError> {
    let mut reader = Reader::new(data, EVENT_HEADER_LEN);
    let position = reader.position();
    let count = reader.u64("GTID source count")?;
    // MySQL 8.3+ marks its tagged format in the top byte.
    if count >> 56 != 0 {
        return Err(DecodeError::TaggedGtidSet { offset: position });
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    reader.check_count_fits(count, 24, "GTID sources")?;
    let mut set = MysqlGtidSet::new();
    for _ in 0..count {
        let source = Uuid(reader.array("source UUID")?);
        let intervals = usize::try_from(reader.u64("GTID interval count")?).unwrap_or(usize::MAX);
        reader.check_count_fits(intervals, 16, "GTID intervals")?;
        for _ in 0..intervals {
            let start = reader.u64("GTID interval start")?;
            let end = reader.u64("GTID interval end")?;
            if start >= 1 && end > start {
                set.add_interval(
                    source,
                    GtidInterval {
                        start,
                        end: end - 1,
                    },
                );
            }
        }
    }
    reader.finish("previous GTIDs event")?;
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::binlog::format::CHECKSUM_LEN;
    use crate::binlog::header::event_flags;

    /// Builds a whole event: header, `data`, and a CRC32 when `checksum` is on.
    pub(crate) fn build_event(
        event_type: u8,
        server_id: u32,
        data: &[u8],
        checksum: bool,
    ) -> Vec<u8> {
        let size = EVENT_HEADER_LEN + data.len() + if checksum { CHECKSUM_LEN } else { 0 };
        let mut bytes = Vec::with_capacity(size);
        bytes.extend(1_700_000_000u32.to_le_bytes());
        bytes.push(event_type);
        bytes.extend(server_id.to_le_bytes());
        bytes.extend((size as u32).to_le_bytes());
        bytes.extend(1234u32.to_le_bytes());
        bytes.extend(0u16.to_le_bytes());
        bytes.extend(data);
        if checksum {
            let crc = crc32fast::hash(&bytes);
            bytes.extend(crc.to_le_bytes());
        }
        bytes
    }

    /// The data of a MariaDB 10.11 format description event.
    pub(crate) fn fde_data(checksum: bool) -> Vec<u8> {
        let mut data = 4u16.to_le_bytes().to_vec();
        let mut version = b"10.11.19-MariaDB-log".to_vec();
        version.resize(50, 0);
        data.extend(version);
        data.extend(0u32.to_le_bytes());
        data.push(19);
        let mut lengths = vec![0u8; 171];
        for (code, len) in [
            (2u8, 13u8),
            (4, 8),
            (15, 84),
            (19, 8),
            (23, 8),
            (24, 8),
            (25, 8),
        ] {
            lengths[usize::from(code) - 1] = len;
        }
        lengths[161] = 19;
        lengths[162] = 4;
        data.extend(lengths);
        data.push(u8::from(checksum));
        data
    }

    fn fde(checksum: bool) -> Vec<u8> {
        // The FDE's own checksum field is always there on a checksum-aware server.
        let mut data = fde_data(checksum);
        if !checksum {
            data.extend([0; 4]);
        }
        build_event(event_type::FORMAT_DESCRIPTION, 1, &data, checksum)
    }

    #[test]
    fn format_description_with_and_without_checksums() {
        let assumed = FormatDescription::assumed(ChecksumAlgorithm::Off);
        for checksum in [false, true] {
            let event = decode_event(&fde(checksum), &assumed).unwrap();
            let EventData::FormatDescription(format) = event.data else {
                panic!("not an FDE: {event:?}");
            };
            assert_eq!(format.server_version, "10.11.19-MariaDB-log");
            assert!(format.is_mariadb());
            assert_eq!(format.post_header_lengths.len(), 171);
            assert_eq!(format.post_header_len(event_type::MARIADB_GTID), 19);
            let expected = if checksum {
                ChecksumAlgorithm::Crc32
            } else {
                ChecksumAlgorithm::Off
            };
            assert_eq!(format.checksum, expected);
        }
    }

    #[test]
    fn fde_checksum_is_computed_without_the_in_use_flag() {
        let mut bytes = fde(true);
        // The server sets the flag in place while the file is open, leaving the CRC as it was.
        bytes[17] |= event_flags::BINLOG_IN_USE as u8;
        let assumed = FormatDescription::assumed(ChecksumAlgorithm::Off);
        assert!(decode_event(&bytes, &assumed).is_ok());
        bytes[30] ^= 1;
        assert!(matches!(
            decode_event(&bytes, &assumed),
            Err(DecodeError::ChecksumMismatch { .. })
        ));
    }

    #[test]
    fn checksums_are_verified_and_stripped() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Crc32);
        let bytes = build_event(event_type::XID, 1, &77u64.to_le_bytes(), true);
        let event = decode_event(&bytes, &format).unwrap();
        assert_eq!(event.data, EventData::Xid { xid: 77 });
        let mut corrupt = bytes.clone();
        corrupt[20] ^= 0x40;
        assert!(matches!(
            decode_event(&corrupt, &format),
            Err(DecodeError::ChecksumMismatch {
                event_type: event_type::XID,
                ..
            })
        ));
        // Without checksums the same bytes have 4 bytes too many for an XID event.
        let off = FormatDescription::assumed(ChecksumAlgorithm::Off);
        assert!(matches!(
            decode_event(&bytes, &off),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn size_must_match_the_header() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        let mut bytes = build_event(event_type::STOP, 1, &[], false);
        bytes.push(0);
        assert_eq!(
            decode_event(&bytes, &format),
            Err(DecodeError::EventSizeMismatch {
                declared: 19,
                actual: 20
            })
        );
    }

    #[test]
    fn rotate_and_heartbeat_and_checkpoint() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        let mut data = 4u64.to_le_bytes().to_vec();
        data.extend(b"mariadb-bin.000002");
        let event =
            decode_event(&build_event(event_type::ROTATE, 1, &data, false), &format).unwrap();
        assert_eq!(
            event.data,
            EventData::Rotate(Rotate {
                position: 4,
                next_file: "mariadb-bin.000002".into()
            })
        );
        let event = decode_event(
            &build_event(event_type::HEARTBEAT, 1, b"mariadb-bin.000002", false),
            &format,
        )
        .unwrap();
        assert_eq!(
            event.data,
            EventData::Heartbeat {
                log_file: "mariadb-bin.000002".into()
            }
        );
        let mut data = 18u32.to_le_bytes().to_vec();
        data.extend(b"mariadb-bin.000001");
        let event = decode_event(
            &build_event(event_type::MARIADB_BINLOG_CHECKPOINT, 1, &data, false),
            &format,
        )
        .unwrap();
        assert_eq!(
            event.data,
            EventData::MariadbBinlogCheckpoint {
                log_file: "mariadb-bin.000001".into()
            }
        );
    }

    #[test]
    fn mariadb_gtid_events() {
        use mariadb_gtid_flags::*;
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        // A standalone DDL: no commit id, zero padding to 19 bytes.
        let mut data = 42u64.to_le_bytes().to_vec();
        data.extend(3u32.to_le_bytes());
        data.push(STANDALONE | DDL);
        data.extend([0; 6]);
        let event = decode_event(
            &build_event(event_type::MARIADB_GTID, 7, &data, false),
            &format,
        )
        .unwrap();
        let EventData::MariadbGtid(gtid) = event.data else {
            panic!("{event:?}")
        };
        assert_eq!(gtid.gtid.to_string(), "3-7-42");
        assert!(gtid.is_standalone() && gtid.is_ddl() && !gtid.is_transactional());
        assert_eq!(gtid.commit_id, None);
        assert_eq!(gtid.flags_extra, 0);

        // A group-committed XA transaction with extra flags.
        let mut data = 43u64.to_le_bytes().to_vec();
        data.extend(0u32.to_le_bytes());
        data.push(GROUP_COMMIT_ID | TRANSACTIONAL | PREPARED_XA);
        data.extend(9u64.to_le_bytes());
        data.extend(1u32.to_le_bytes());
        data.extend([2, 1, b'g', b'1', b'b']);
        data.extend([0x01 | 0x04, 2]);
        data.extend(40u64.to_le_bytes());
        let event = decode_event(
            &build_event(event_type::MARIADB_GTID, 1, &data, false),
            &format,
        )
        .unwrap();
        let EventData::MariadbGtid(gtid) = event.data else {
            panic!("{event:?}")
        };
        assert_eq!(gtid.commit_id, Some(9));
        assert_eq!(
            gtid.xid,
            Some(XaId {
                format_id: 1,
                gtrid: b"g1".to_vec(),
                bqual: b"b".to_vec()
            })
        );
        assert_eq!(gtid.extra_engines, Some(2));
        assert_eq!(gtid.start_alter_sequence, Some(40));
    }

    #[test]
    fn mariadb_gtid_list() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        let mut data = 2u32.to_le_bytes().to_vec();
        for (domain, server, sequence) in [(0u32, 1u32, 100u64), (1, 2, 5)] {
            data.extend(domain.to_le_bytes());
            data.extend(server.to_le_bytes());
            data.extend(sequence.to_le_bytes());
        }
        let event = decode_event(
            &build_event(event_type::MARIADB_GTID_LIST, 1, &data, false),
            &format,
        )
        .unwrap();
        let EventData::MariadbGtidList { flags, gtids } = event.data else {
            panic!("{event:?}")
        };
        assert_eq!(flags, 0);
        let texts: Vec<String> = gtids.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["0-1-100", "1-2-5"]);
        // A count the event cannot hold.
        let data = 1000u32.to_le_bytes();
        assert!(matches!(
            decode_event(
                &build_event(event_type::MARIADB_GTID_LIST, 1, &data, false),
                &format
            ),
            Err(DecodeError::CountExceedsInput { .. })
        ));
    }

    #[test]
    fn mysql_gtid_and_previous_gtids() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        let source: Uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562".parse().unwrap();
        let mut data = vec![1];
        data.extend(source.0);
        data.extend(23u64.to_le_bytes());
        data.push(2);
        data.extend(22u64.to_le_bytes());
        data.extend(23u64.to_le_bytes());
        let immediate: u64 = 1_700_000_000_000_000 | (1 << 55);
        data.extend(&immediate.to_le_bytes()[..7]);
        data.extend(&1_699_999_999_000_000u64.to_le_bytes()[..7]);
        data.extend([0xfc, 0x10, 0x01]);
        data.extend((80_036u32 | (1 << 31)).to_le_bytes());
        data.extend(80_035u32.to_le_bytes());
        let event = decode_event(&build_event(event_type::GTID, 1, &data, false), &format).unwrap();
        let EventData::MysqlGtid(gtid) = event.data else {
            panic!("{event:?}")
        };
        assert_eq!(gtid.source, source);
        assert_eq!(gtid.number, 23);
        assert_eq!(gtid.last_committed, Some(22));
        assert_eq!(gtid.immediate_commit_timestamp, Some(1_700_000_000_000_000));
        assert_eq!(gtid.original_commit_timestamp, Some(1_699_999_999_000_000));
        assert_eq!(gtid.transaction_length, Some(0x0110));
        assert_eq!(gtid.immediate_server_version, Some(80_036));
        assert_eq!(gtid.original_server_version, Some(80_035));

        // MySQL 5.6's short form.
        let event = decode_event(
            &build_event(event_type::ANONYMOUS_GTID, 1, &data[..25], false),
            &format,
        )
        .unwrap();
        let EventData::MysqlGtid(gtid) = event.data else {
            panic!("{event:?}")
        };
        assert!(gtid.anonymous);
        assert_eq!(gtid.last_committed, None);

        let mut data = 1u64.to_le_bytes().to_vec();
        data.extend(source.0);
        data.extend(2u64.to_le_bytes());
        for (start, end) in [(1u64, 6u64), (6, 8)] {
            data.extend(start.to_le_bytes());
            data.extend(end.to_le_bytes());
        }
        let event = decode_event(
            &build_event(event_type::PREVIOUS_GTIDS, 1, &data, false),
            &format,
        )
        .unwrap();
        let EventData::MysqlPreviousGtids(set) = event.data else {
            panic!("{event:?}")
        };
        assert_eq!(set.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7");
        let mut tagged = data.clone();
        tagged[7] = 1;
        assert!(matches!(
            decode_event(
                &build_event(event_type::PREVIOUS_GTIDS, 1, &tagged, false),
                &format
            ),
            Err(DecodeError::TaggedGtidSet { .. })
        ));
    }

    #[test]
    fn events_that_would_lose_rows_are_errors() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        for code in [
            event_type::MARIADB_WRITE_ROWS_COMPRESSED_V1,
            event_type::MARIADB_UPDATE_ROWS_COMPRESSED,
            event_type::MARIADB_QUERY_COMPRESSED,
        ] {
            assert_eq!(
                decode_event(&build_event(code, 1, &[0; 12], false), &format),
                Err(DecodeError::CompressedEvent { event_type: code })
            );
        }
        for code in [
            event_type::TRANSACTION_PAYLOAD,
            event_type::PARTIAL_UPDATE_ROWS,
            event_type::PRE_GA_WRITE_ROWS,
        ] {
            assert!(matches!(
                decode_event(&build_event(code, 1, &[0; 12], false), &format),
                Err(DecodeError::UnsupportedEvent { .. })
            ));
        }
    }

    fn known_type_codes() -> Vec<u8> {
        (0u8..=42).chain(160..=171).chain([200, 255]).collect()
    }

    proptest::proptest! {
        /// Any body under any event type, with a correct header and checksum so that decoding
        /// reaches the body: an error or an event, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(
            type_index in 0usize..57,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            checksum: bool,
            mariadb: bool,
        ) {
            let codes = known_type_codes();
            let code = codes[type_index % codes.len()];
            let mut format = FormatDescription::assumed(if checksum {
                ChecksumAlgorithm::Crc32
            } else {
                ChecksumAlgorithm::Off
            });
            if mariadb {
                format.server_version = "10.11.19-MariaDB-log".into();
            }
            let bytes = build_event(code, 1, &body, checksum);
            if let Ok(Event { data: EventData::TableMap(map), .. }) = decode_event(&bytes, &format) {
                let _ = crate::binlog::schema::TableSchema::new(&map, None);
            }
        }

        /// Rows events with arbitrary row bytes, decoded with a schema of many column types.
        #[test]
        fn arbitrary_rows_never_panic(
            rows in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            kind in 0usize..3,
        ) {
            use crate::binlog::table_map::{table_map_body, type_code::*};
            let types = [LONG, VARCHAR, NEWDECIMAL, DATETIME2, TIME2, BLOB, STRING, JSON, BIT,
                LONGLONG, TIMESTAMP2, YEAR, DATE, SET, DOUBLE];
            let metadata = [0x10, 0x00, 20, 6, 6, 3, 2, 0xFE, 0x0A, 4, 1, 2, 3, 0xF8, 0x02, 8];
            let map_bytes = table_map_body(9, "s", "t", &types, &metadata, &[0xFF, 0xFF], &[]);
            let format = FormatDescription::assumed(ChecksumAlgorithm::Off);
            let event = decode_event(&build_event(event_type::TABLE_MAP, 1, &map_bytes, false), &format);
            let Ok(Event { data: EventData::TableMap(map), .. }) = event else {
                panic!("the table map must decode: {event:?}");
            };
            let schema = crate::binlog::schema::TableSchema::new(&map, None).unwrap();
            let code = [event_type::WRITE_ROWS_V1, event_type::UPDATE_ROWS_V1,
                event_type::DELETE_ROWS_V1][kind];
            let mut data = 9u64.to_le_bytes()[..6].to_vec();
            data.extend([0, 0, types.len() as u8, 0xFF, 0xFF]);
            if kind == 1 {
                data.extend([0xFF, 0xFF]);
            }
            data.extend(&rows);
            if let Ok(Event { data: EventData::Rows(rows), .. }) =
                decode_event(&build_event(code, 1, &data, false), &format)
            {
                let _ = rows.rows(&schema);
            }
        }
    }

    #[test]
    fn unknown_events_keep_their_bytes() {
        let format = FormatDescription::assumed(ChecksumAlgorithm::Crc32);
        let event = decode_event(
            &build_event(event_type::INTVAR, 1, &[2, 9, 0, 0, 0, 0, 0, 0, 0], true),
            &format,
        )
        .unwrap();
        assert_eq!(
            event.data,
            EventData::Unknown {
                type_code: event_type::INTVAR,
                raw: vec![2, 9, 0, 0, 0, 0, 0, 0, 0]
            }
        );
        let event = decode_event(&build_event(200, 1, b"future", true), &format).unwrap();
        assert_eq!(
            event.data,
            EventData::Unknown {
                type_code: 200,
                raw: b"future".to_vec()
            }
        );
    }
}
