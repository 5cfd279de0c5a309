//! Feeds arbitrary bytes to the binlog decoder: as one event under each checksum setting and
//! server flavor, as the events of a whole binlog file (so table maps and the rows events after
//! them meet), and as column values under a spread of column types. The property is that nothing
//! panics, overflows or allocates without bound, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lienthong_source_mysql::binlog::schema::ColumnSchema;
use lienthong_source_mysql::binlog::{
    BINLOG_MAGIC, BinlogDecoder, ChecksumAlgorithm, ColumnType, EventData, FormatDescription,
    TableSchema, binlog_file_events, decode_event, decode_value, json,
};

/// Column types whose value formats have the most structure.
const COLUMN_TYPES: &[ColumnType] = &[
    ColumnType::Int24,
    ColumnType::NewDecimal { precision: 20, scale: 6 },
    ColumnType::NewDecimal { precision: 65, scale: 30 },
    ColumnType::DateTime2 { fractional_digits: 6 },
    ColumnType::Time2 { fractional_digits: 3 },
    ColumnType::Timestamp2 { fractional_digits: 2 },
    ColumnType::Time,
    ColumnType::DateTime,
    ColumnType::String { max_length: 1020 },
    ColumnType::Blob { length_bytes: 4 },
    ColumnType::Json { length_bytes: 4 },
    ColumnType::Bit { bits: 17 },
    ColumnType::Set { pack_length: 8 },
    ColumnType::Enum { pack_length: 2 },
];

fn column(column_type: ColumnType) -> ColumnSchema {
    ColumnSchema {
        index: 0,
        name: None,
        type_code: 0,
        column_type,
        nullable: true,
        unsigned: Some(true),
        collation: Some(63),
        labels: Some(vec!["a".to_owned(), "b".to_owned()]),
        geometry_type: None,
    }
}

fn decode_stream(decoder: &mut BinlogDecoder, events: &[u8]) {
    let mut file = BINLOG_MAGIC.to_vec();
    file.extend_from_slice(events);
    let Ok(events) = binlog_file_events(&file) else {
        return;
    };
    for item in events.take(256) {
        let Ok((_, event)) = item else { break };
        if let Ok(event) = decoder.decode(event)
            && let EventData::Rows(rows) = &event.data
            && let Some(map) = decoder.table_map(rows.table_id)
            && let Ok(schema) = TableSchema::new(map, None)
        {
            let _ = rows.rows(&schema);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for checksum in [ChecksumAlgorithm::Off, ChecksumAlgorithm::Crc32] {
        for version in ["", "10.11.19-MariaDB-log"] {
            let mut format = FormatDescription::assumed(checksum);
            format.server_version = version.to_owned();
            if let Ok(event) = decode_event(data, &format)
                && let EventData::TableMap(map) = &event.data
            {
                let _ = TableSchema::new(map, None);
            }
        }
        decode_stream(&mut BinlogDecoder::new(checksum), data);
    }
    for &column_type in COLUMN_TYPES {
        let _ = decode_value(data, &column(column_type));
    }
    let _ = json::json_to_text(data);
});
