//! FORMAT_DESCRIPTION_EVENT: what the events of a binlog file look like, and their checksums.
//!
//! Every binlog file (and every replication stream, after its first ROTATE) starts with a format
//! description event (FDE). It says how long the fixed part ("post-header") of each event type is
//! — a reader must skip what it does not understand, since newer servers append fields — and
//! whether every event ends with a 4-byte CRC32 checksum.

use super::error::DecodeError;
use super::header::{EVENT_HEADER_LEN, EventHeader, event_flags, event_type};
use super::reader::Reader;

/// Size of a CRC32 checksum at the end of an event.
pub const CHECKSUM_LEN: usize = 4;

/// Length of the server version field in a format description event.
const SERVER_VERSION_LEN: usize = 50;

/// How each event of the file is checksummed (`binlog_checksum` on the server that wrote it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumAlgorithm {
    /// No checksum: events end with their body.
    #[default]
    Off,
    /// Every event ends with the CRC32 (ISO-HDLC, as zlib computes it) of all bytes before it.
    Crc32,
}

impl ChecksumAlgorithm {
    /// Bytes the checksum adds at the end of each event.
    pub fn len(self) -> usize {
        match self {
            Self::Off => 0,
            Self::Crc32 => CHECKSUM_LEN,
        }
    }

    /// Whether events carry no checksum.
    pub fn is_empty(self) -> bool {
        self == Self::Off
    }

    /// The algorithm a server names in `@@binlog_checksum` (`NONE` or `CRC32`), case-insensitive.
    pub fn from_server_setting(setting: &str) -> Option<Self> {
        if setting.eq_ignore_ascii_case("NONE") {
            Some(Self::Off)
        } else if setting.eq_ignore_ascii_case("CRC32") {
            Some(Self::Crc32)
        } else {
            None
        }
    }

    fn from_byte(byte: u8) -> Result<Self, DecodeError> {
        match byte {
            0 => Ok(Self::Off),
            1 => Ok(Self::Crc32),
            // BINLOG_CHECKSUM_ALG_UNDEF: written by servers that had no checksum policy when the
            // file was made; such files carry no checksums.
            255 => Ok(Self::Off),
            algorithm => Err(DecodeError::UnknownChecksumAlgorithm { algorithm }),
        }
    }
}

/// The server family that wrote a binlog. The formats agree almost everywhere; where they do
/// not (which columns the table map's optional metadata lists cover), decoding asks this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServerFlavor {
    MariaDb,
    #[default]
    MySql,
}

/// A decoded FORMAT_DESCRIPTION_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    /// Always 4 (MySQL 5.0 and later, every MariaDB).
    pub binlog_version: u16,
    /// e.g. `10.11.9-MariaDB-log` or `8.0.36`.
    pub server_version: String,
    /// When the binlog file was created (seconds since the Unix epoch); 0 in the FDE of a
    /// replication stream that does not start at a file's beginning.
    pub create_timestamp: u32,
    /// Length of every event's common header; always 19.
    pub header_length: u8,
    /// Post-header length of each event type, indexed by type code − 1.
    pub post_header_lengths: Vec<u8>,
    /// How the events after this one (and this one) are checksummed.
    pub checksum: ChecksumAlgorithm,
}

impl FormatDescription {
    /// The format to assume before the first FDE of a stream has been seen: the layout of MySQL
    /// 5.6+ and MariaDB 10+, with the checksum the replication connection negotiated (the first,
    /// artificial ROTATE of a stream already carries it).
    pub fn assumed(checksum: ChecksumAlgorithm) -> Self {
        Self {
            binlog_version: 4,
            server_version: String::new(),
            create_timestamp: 0,
            header_length: EVENT_HEADER_LEN as u8,
            post_header_lengths: Vec::new(),
            checksum,
        }
    }

    /// Decodes an FDE from its whole event bytes (header, body and, when the event says so,
    /// checksum) and verifies its checksum.
    pub(crate) fn decode(event: &[u8], header: &EventHeader) -> Result<Self, DecodeError> {
        let body = event.get(EVENT_HEADER_LEN..).unwrap_or_default();
        let mut reader = Reader::new(body, EVENT_HEADER_LEN);
        let binlog_version = reader.u16("binlog version")?;
        if binlog_version != 4 {
            return Err(DecodeError::UnsupportedBinlogVersion {
                version: binlog_version,
            });
        }
        let version_bytes = reader.take(SERVER_VERSION_LEN, "server version")?;
        let version_end = version_bytes
            .iter()
            .position(|&byte| byte == 0)
            .unwrap_or(version_bytes.len());
        let server_version = String::from_utf8_lossy(&version_bytes[..version_end]).into_owned();
        let create_timestamp = reader.u32("create timestamp")?;
        let header_length = reader.u8("common header length")?;
        if usize::from(header_length) != EVENT_HEADER_LEN {
            return Err(DecodeError::UnsupportedBinlogVersion {
                version: binlog_version,
            });
        }

        // A checksum-aware server ends its FDE with the algorithm byte and a 4-byte checksum
        // (zero when the algorithm is off); older servers end it with the post-header lengths.
        let checksum_aware = server_knows_checksums(&server_version);
        let trailer = if checksum_aware { 1 + CHECKSUM_LEN } else { 0 };
        let lengths_len =
            reader
                .remaining()
                .checked_sub(trailer)
                .ok_or(DecodeError::Truncated {
                    field: "checksum algorithm",
                    offset: reader.position(),
                    needed: trailer,
                    available: reader.remaining(),
                })?;
        let post_header_lengths = reader.take(lengths_len, "post-header lengths")?.to_vec();
        let checksum = if checksum_aware {
            ChecksumAlgorithm::from_byte(reader.u8("checksum algorithm")?)?
        } else {
            ChecksumAlgorithm::Off
        };
        if checksum == ChecksumAlgorithm::Crc32 {
            verify_crc32(event, header)?;
        }
        Ok(Self {
            binlog_version,
            server_version,
            create_timestamp,
            header_length,
            post_header_lengths,
            checksum,
        })
    }

    /// Whether the server is MariaDB (its version string says so).
    pub fn is_mariadb(&self) -> bool {
        self.server_version.contains("MariaDB")
    }

    /// Which server wrote the events: MariaDB when its version says so, else MySQL (also before
    /// any FDE was seen, when the version is unknown).
    pub fn flavor(&self) -> ServerFlavor {
        if self.is_mariadb() {
            ServerFlavor::MariaDb
        } else {
            ServerFlavor::MySql
        }
    }

    /// The post-header length of an event type: as this FDE states it, or, for a type it does
    /// not list, the length current servers write.
    pub fn post_header_len(&self, type_code: u8) -> usize {
        usize::from(type_code)
            .checked_sub(1)
            .and_then(|index| self.post_header_lengths.get(index))
            .map_or_else(
                || default_post_header_len(type_code),
                |&len| usize::from(len),
            )
    }
}

/// Post-header lengths written by MySQL 5.6+ and MariaDB 10+.
fn default_post_header_len(type_code: u8) -> usize {
    use event_type::*;
    match type_code {
        QUERY => 13,
        ROTATE => 8,
        FORMAT_DESCRIPTION => 84,
        TABLE_MAP => 8,
        WRITE_ROWS_V1 | UPDATE_ROWS_V1 | DELETE_ROWS_V1 => 8,
        WRITE_ROWS_V2 | UPDATE_ROWS_V2 | DELETE_ROWS_V2 | PARTIAL_UPDATE_ROWS => 10,
        MARIADB_WRITE_ROWS_COMPRESSED_V1
        | MARIADB_UPDATE_ROWS_COMPRESSED_V1
        | MARIADB_DELETE_ROWS_COMPRESSED_V1 => 8,
        MARIADB_WRITE_ROWS_COMPRESSED
        | MARIADB_UPDATE_ROWS_COMPRESSED
        | MARIADB_DELETE_ROWS_COMPRESSED => 10,
        MARIADB_QUERY_COMPRESSED => 13,
        INCIDENT => 2,
        GTID | ANONYMOUS_GTID => 42,
        MARIADB_GTID => 19,
        MARIADB_GTID_LIST | MARIADB_BINLOG_CHECKPOINT => 4,
        MARIADB_START_ENCRYPTION => 0,
        _ => 0,
    }
}

/// Whether a server of this version writes the checksum algorithm into its FDE: MySQL from
/// 5.6.1, MariaDB from 5.3.
fn server_knows_checksums(server_version: &str) -> bool {
    let (major, minor, patch) = parse_version(server_version);
    if server_version.contains("MariaDB") {
        (major, minor) >= (5, 3)
    } else {
        (major, minor, patch) >= (5, 6, 1)
    }
}

/// The leading `major.minor.patch` of a version string; missing parts are 0.
fn parse_version(version: &str) -> (u32, u32, u32) {
    let mut parts = version.split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    (major, minor, patch)
}

/// Verifies the CRC32 at the end of `event`.
///
/// The server computes an FDE's checksum with the "binlog in use" flag cleared, because it clears
/// that flag in place when it closes the file without rewriting the checksum; it is cleared here
/// too before computing.
pub(crate) fn verify_crc32(event: &[u8], header: &EventHeader) -> Result<(), DecodeError> {
    let Some(data_len) = event.len().checked_sub(CHECKSUM_LEN) else {
        return Err(DecodeError::Truncated {
            field: "checksum",
            offset: 0,
            needed: CHECKSUM_LEN,
            available: event.len(),
        });
    };
    let (data, stored) = event.split_at(data_len);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    let mut hasher = crc32fast::Hasher::new();
    if header.event_type == event_type::FORMAT_DESCRIPTION
        && header.flags & event_flags::BINLOG_IN_USE != 0
        && data.len() >= EVENT_HEADER_LEN
    {
        let flags = header.flags & !event_flags::BINLOG_IN_USE;
        hasher.update(&data[..17]);
        hasher.update(&flags.to_le_bytes());
        hasher.update(&data[EVENT_HEADER_LEN..]);
    } else {
        hasher.update(data);
    }
    let computed = hasher.finalize();
    if computed == stored {
        Ok(())
    } else {
        Err(DecodeError::ChecksumMismatch {
            event_type: header.event_type,
            stored,
            computed,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_know_checksums() {
        assert!(server_knows_checksums("10.11.9-MariaDB-log"));
        assert!(server_knows_checksums("5.5.68-MariaDB"));
        assert!(!server_knows_checksums("5.2.14-MariaDB"));
        assert!(server_knows_checksums("8.0.36"));
        assert!(server_knows_checksums("5.6.1-m5"));
        assert!(!server_knows_checksums("5.6.0"));
        assert!(!server_knows_checksums("5.5.62-log"));
    }

    #[test]
    fn post_header_lengths_fall_back_to_current_defaults() {
        let mut format = FormatDescription::assumed(ChecksumAlgorithm::Off);
        assert_eq!(format.post_header_len(event_type::QUERY), 13);
        assert_eq!(format.post_header_len(event_type::WRITE_ROWS_V2), 10);
        assert_eq!(format.post_header_len(0), 0);
        format.post_header_lengths = vec![56, 13, 0, 8];
        assert_eq!(format.post_header_len(event_type::QUERY), 13);
        assert_eq!(format.post_header_len(event_type::START_V3), 56);
        assert_eq!(format.post_header_len(event_type::MARIADB_GTID), 19);
    }

    #[test]
    fn server_settings_name_algorithms() {
        assert_eq!(
            ChecksumAlgorithm::from_server_setting("crc32"),
            Some(ChecksumAlgorithm::Crc32)
        );
        assert_eq!(
            ChecksumAlgorithm::from_server_setting("NONE"),
            Some(ChecksumAlgorithm::Off)
        );
        assert_eq!(ChecksumAlgorithm::from_server_setting("md5"), None);
    }
}
