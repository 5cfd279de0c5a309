//! Feeds arbitrary bytes to the pgoutput decoder, in and out of a streamed block, and the column
//! values of any decoded row to the text value decoder under a spread of types. The property is
//! that nothing panics, overflows or allocates without bound, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lienthong_source_postgres::pgoutput::{LogicalMessage, Tuple, decode};
use lienthong_source_postgres::values::{decode_tuple_value, type_oid};

/// Types whose text parsers have the most structure, one type not built in (kept as raw text),
/// and arrays, whose parser recurses.
const TYPE_OIDS: &[(u32, i32)] = &[
    (type_oid::BOOL, -1),
    (type_oid::INT8, -1),
    (type_oid::FLOAT8, -1),
    (type_oid::NUMERIC, ((10 << 16) | 2) + 4),
    (type_oid::BYTEA, -1),
    (type_oid::UUID, -1),
    (type_oid::DATE, -1),
    (type_oid::TIMETZ, -1),
    (type_oid::TIMESTAMP, 6),
    (type_oid::TIMESTAMPTZ, -1),
    (type_oid::INTERVAL, -1),
    (type_oid::TEXT_ARRAY, -1),
    (type_oid::INT4_ARRAY, -1),
    (type_oid::TIMESTAMPTZ_ARRAY, -1),
    (16_500, -1),
];

fn decode_values(tuple: &Tuple) {
    for value in &tuple.0 {
        for &(oid, modifier) in TYPE_OIDS {
            let _ = decode_tuple_value(oid, modifier, value);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for in_stream in [false, true] {
        match decode(data, in_stream) {
            Ok(LogicalMessage::Insert(insert)) => decode_values(&insert.new),
            Ok(LogicalMessage::Update(update)) => {
                update.key.iter().chain(&update.old).for_each(decode_values);
                decode_values(&update.new);
            }
            Ok(LogicalMessage::Delete(delete)) => {
                delete.key.iter().chain(&delete.old).for_each(decode_values);
            }
            Ok(_) | Err(_) => {}
        }
    }
});
