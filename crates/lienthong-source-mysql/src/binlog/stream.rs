//! A sequence of events: splitting a binlog file, and decoding a stream with the state it needs.

use std::collections::HashMap;

use super::error::DecodeError;
use super::event::{Event, EventData, decode_event};
use super::format::{ChecksumAlgorithm, FormatDescription};
use super::header::EventHeader;
use super::table_map::TableMap;

/// The 4 bytes every binlog file starts with.
pub const BINLOG_MAGIC: [u8; 4] = [0xfe, b'b', b'i', b'n'];

/// Iterates the events of a binlog file's bytes; see [`binlog_file_events`].
#[derive(Debug, Clone)]
pub struct BinlogFileEvents<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

/// Splits the bytes of a whole binlog file (as `mariadb-binlog --raw` or a copy of the server's
/// file holds them) into events, each with its position in the file. The file must start with
/// [`BINLOG_MAGIC`]. A file that ends inside an event (the server was writing it) yields a
/// [`DecodeError::Truncated`] for that last event, after which iteration stops.
pub fn binlog_file_events(file: &[u8]) -> Result<BinlogFileEvents<'_>, DecodeError> {
    if file.get(..4) != Some(&BINLOG_MAGIC[..]) {
        return Err(DecodeError::BadMagic {
            found: file.iter().take(4).copied().collect(),
        });
    }
    Ok(BinlogFileEvents {
        bytes: file,
        offset: BINLOG_MAGIC.len(),
        failed: false,
    })
}

impl<'a> Iterator for BinlogFileEvents<'a> {
    /// The event's position (offset in the file) and its bytes.
    type Item = Result<(u64, &'a [u8]), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.bytes.get(self.offset..)?;
        if rest.is_empty() {
            return None;
        }
        let result = EventHeader::decode(rest).and_then(|header| {
            let size = header.event_size as usize;
            rest.get(..size).ok_or(DecodeError::Truncated {
                field: "event",
                offset: self.offset,
                needed: size,
                available: rest.len(),
            })
        });
        match result {
            Ok(event) => {
                let position = self.offset as u64;
                self.offset += event.len();
                Some(Ok((position, event)))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// Decodes a stream of events, keeping what later events need: the current format description
/// and the table maps of the current statement.
///
/// Feed it every event of a file or replication stream in order. Table maps are kept until the
/// first table map after a statement's last rows event (servers send a statement's table maps
/// before each statement), so the cache stays as small as one statement's tables.
#[derive(Debug, Clone)]
pub struct BinlogDecoder {
    format: FormatDescription,
    table_maps: HashMap<u64, TableMap>,
    statement_ended: bool,
}

impl BinlogDecoder {
    /// A decoder for a stream whose events carry `checksum` until its first format description
    /// says otherwise (a replication stream's first, artificial ROTATE already carries the
    /// checksum the connection negotiated with `@master_binlog_checksum`).
    pub fn new(checksum: ChecksumAlgorithm) -> Self {
        Self {
            format: FormatDescription::assumed(checksum),
            table_maps: HashMap::new(),
            statement_ended: false,
        }
    }

    /// The format description in force.
    pub fn format(&self) -> &FormatDescription {
        &self.format
    }

    /// Decodes the next event of the stream (`event` is exactly one event's bytes).
    pub fn decode(&mut self, event: &[u8]) -> Result<Event, DecodeError> {
        let event = decode_event(event, &self.format)?;
        match &event.data {
            EventData::FormatDescription(format) => self.format = format.clone(),
            EventData::TableMap(map) => {
                if self.statement_ended {
                    self.table_maps.clear();
                    self.statement_ended = false;
                }
                self.table_maps.insert(map.table_id, map.clone());
            }
            EventData::Rows(rows) if rows.is_statement_end() => self.statement_ended = true,
            _ => {}
        }
        Ok(event)
    }

    /// The table map a rows event refers to.
    pub fn table_map(&self, table_id: u64) -> Option<&TableMap> {
        self.table_maps.get(&table_id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::binlog::event::tests::{build_event, fde_data};
    use crate::binlog::header::event_type;
    use crate::binlog::table_map::{table_map_body, type_code};
    use proptest::prelude::*;

    fn file() -> Vec<u8> {
        let mut file = BINLOG_MAGIC.to_vec();
        file.extend(build_event(
            event_type::FORMAT_DESCRIPTION,
            1,
            &fde_data(true),
            true,
        ));
        let table = table_map_body(5, "s", "t", &[type_code::LONG], &[], &[0], &[]);
        file.extend(build_event(event_type::TABLE_MAP, 1, &table, true));
        let mut rows = 5u64.to_le_bytes()[..6].to_vec();
        rows.extend([1, 0, 1, 1, 0]);
        rows.extend(7i32.to_le_bytes());
        file.extend(build_event(event_type::WRITE_ROWS_V1, 1, &rows, true));
        file.extend(build_event(event_type::XID, 1, &3u64.to_le_bytes(), true));
        file
    }

    #[test]
    fn splits_a_file_and_decodes_it_with_state() {
        let file = file();
        let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
        let mut kinds = Vec::new();
        let mut position_after = 4;
        for item in binlog_file_events(&file).unwrap() {
            let (position, bytes) = item.unwrap();
            assert_eq!(position, position_after);
            let event = decoder.decode(bytes).unwrap();
            position_after = position + u64::from(event.header.event_size);
            if let EventData::Rows(rows) = &event.data {
                let map = decoder.table_map(rows.table_id).unwrap();
                let schema = crate::binlog::schema::TableSchema::new(map, None).unwrap();
                assert_eq!(rows.rows(&schema).unwrap().len(), 1);
            }
            kinds.push(event.header.event_type);
        }
        assert_eq!(position_after, file.len() as u64);
        assert_eq!(
            kinds,
            [
                event_type::FORMAT_DESCRIPTION,
                event_type::TABLE_MAP,
                event_type::WRITE_ROWS_V1,
                event_type::XID
            ]
        );
        assert_eq!(decoder.format().checksum, ChecksumAlgorithm::Crc32);
    }

    #[test]
    fn table_maps_are_dropped_after_the_statement() {
        let file = file();
        let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
        for item in binlog_file_events(&file).unwrap() {
            decoder.decode(item.unwrap().1).unwrap();
        }
        assert!(decoder.table_map(5).is_some());
        let table = table_map_body(6, "s", "u", &[type_code::TINY], &[], &[0], &[]);
        decoder
            .decode(&build_event(event_type::TABLE_MAP, 1, &table, true))
            .unwrap();
        assert!(decoder.table_map(5).is_none());
        assert!(decoder.table_map(6).is_some());
    }

    #[test]
    fn bad_magic_and_truncated_files() {
        assert_eq!(
            binlog_file_events(b"\xfebiX").err(),
            Some(DecodeError::BadMagic {
                found: b"\xfebiX".to_vec()
            })
        );
        let file = file();
        let cut = &file[..file.len() - 3];
        let results: Vec<_> = binlog_file_events(cut).unwrap().collect();
        assert_eq!(results.len(), 4);
        assert!(matches!(
            results.last(),
            Some(Err(DecodeError::Truncated { field: "event", .. }))
        ));
    }

    /// A MySQL 8 stream: its FDE, a table map with MySQL's optional metadata (no bit for YEAR,
    /// no collation for GEOMETRY), and a v2 write with a binary JSON value.
    #[test]
    fn mysql8_stream_with_v2_rows_and_binary_json() {
        use crate::binlog::json::encode::{Doc, document};
        use crate::binlog::value::Value;

        let mut fde = 4u16.to_le_bytes().to_vec();
        let mut version = b"8.0.36".to_vec();
        version.resize(50, 0);
        fde.extend(version);
        fde.extend(0u32.to_le_bytes());
        fde.push(19);
        let mut lengths = vec![0u8; 41];
        for (code, len) in [
            (2u8, 13u8),
            (4, 8),
            (19, 8),
            (30, 10),
            (31, 10),
            (32, 10),
            (33, 42),
        ] {
            lengths[usize::from(code) - 1] = len;
        }
        fde.extend(lengths);
        fde.push(1);

        let types = [
            type_code::LONG,
            type_code::JSON,
            type_code::YEAR,
            type_code::LONG,
            type_code::GEOMETRY,
            type_code::VARCHAR,
        ];
        let metadata = [4, 4, 40, 0];
        let mut optional = vec![1, 1, 0b0100_0000]; // id signed, second INT unsigned
        optional.extend([3, 1, 45]); // one character column: the VARCHAR
        let table = table_map_body(77, "hr", "ho_so", &types, &metadata, &[0x3E], &optional);

        let json = document(
            &Doc::Object(vec![
                ("ten".into(), Doc::Str("Trần Thị Bích".into())),
                ("bac_luong".into(), Doc::Double(2.34)),
            ]),
            false,
        );
        let mut rows = 77u64.to_le_bytes()[..6].to_vec();
        rows.extend([1, 0]); // STMT_END
        rows.extend(2u16.to_le_bytes()); // no extra data
        rows.extend([6, 0b11_1111]);
        rows.push(0b01_0000); // GEOMETRY is NULL
        rows.extend(7i32.to_le_bytes());
        rows.extend((json.len() as u32).to_le_bytes());
        rows.extend(&json);
        rows.push(124); // YEAR 2024
        rows.extend(u32::MAX.to_le_bytes());
        rows.extend([2, b'o', b'k']);

        let events = [
            build_event(event_type::FORMAT_DESCRIPTION, 1, &fde, true),
            build_event(event_type::TABLE_MAP, 1, &table, true),
            build_event(event_type::WRITE_ROWS_V2, 1, &rows, true),
        ];
        let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
        let mut changes = Vec::new();
        for event in &events {
            if let EventData::Rows(rows) = decoder.decode(event).unwrap().data {
                let map = decoder.table_map(rows.table_id).unwrap();
                let schema = crate::binlog::schema::TableSchema::new(map, None).unwrap();
                changes = rows.rows(&schema).unwrap();
            }
        }
        assert_eq!(
            decoder.format().flavor(),
            crate::binlog::format::ServerFlavor::MySql
        );
        let [crate::binlog::rows::RowChange::Insert { after }] = &changes[..] else {
            panic!("{changes:?}");
        };
        assert_eq!(after.get(0), Some(&Value::Int(7)));
        assert_eq!(
            after.get(1),
            Some(&Value::Json(
                r#"{"ten": "Trần Thị Bích", "bac_luong": 2.34}"#.to_owned()
            ))
        );
        assert_eq!(after.get(2), Some(&Value::Year(2024)));
        assert_eq!(after.get(3), Some(&Value::UInt(u64::from(u32::MAX))));
        assert_eq!(after.get(4), Some(&Value::Null));
        assert_eq!(
            after.get(5),
            Some(&Value::String {
                bytes: b"ok".to_vec(),
                collation: Some(45)
            })
        );
    }

    proptest! {
        /// Whatever follows the magic, splitting and decoding never panic.
        #[test]
        fn arbitrary_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut file = BINLOG_MAGIC.to_vec();
            file.extend(bytes);
            let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
            for item in binlog_file_events(&file).unwrap().take(64) {
                let Ok((_, event)) = item else { break };
                let _ = decoder.decode(event);
            }
        }

        /// Flipping any byte of a checksummed file is caught by a checksum or a decode error,
        /// or leaves events that still decode; it never panics.
        #[test]
        fn corrupted_files_never_panic(index in 4usize..200, bit in 0u8..8) {
            let mut file = file();
            let index = index % file.len();
            file[index] ^= 1 << bit;
            let mut decoder = BinlogDecoder::new(ChecksumAlgorithm::Off);
            if let Ok(events) = binlog_file_events(&file) {
                for item in events {
                    let Ok((_, event)) = item else { break };
                    if decoder.decode(event).is_err() {
                        break;
                    }
                }
            }
        }
    }
}
