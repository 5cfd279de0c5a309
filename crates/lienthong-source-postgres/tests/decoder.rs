//! Property tests of the pgoutput decoder against an independent encoder written from the
//! documented message layouts: arbitrary messages survive encode → decode unchanged, every strict
//! prefix of an encoding fails cleanly, trailing bytes are rejected, and no input panics.
#![allow(clippy::unwrap_used)]

use lienthong_source_postgres::pgoutput::{
    Begin, Commit, DecodeError, Delete, Insert, LogicalMessage, Message, Origin, Relation,
    RelationColumn, ReplicaIdentity, StreamAbort, StreamCommit, StreamStart, Truncate, Tuple,
    TupleValue, TypeMessage, Update, Xid, decode, lsn_to_string, parse_lsn,
};
use proptest::prelude::*;

// ---- encoder ------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn string(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    fn length_prefixed(&mut self, bytes: &[u8]) {
        self.i32(i32::try_from(bytes.len()).unwrap());
        self.0.extend_from_slice(bytes);
    }
    fn xid(&mut self, xid: Option<Xid>) {
        if let Some(xid) = xid {
            self.u32(xid);
        }
    }
    fn tuple(&mut self, tuple: &Tuple) {
        self.u16(u16::try_from(tuple.0.len()).unwrap());
        for value in &tuple.0 {
            match value {
                TupleValue::Null => self.u8(b'n'),
                TupleValue::UnchangedToast => self.u8(b'u'),
                TupleValue::Text(bytes) => {
                    self.u8(b't');
                    self.length_prefixed(bytes);
                }
                TupleValue::Binary(bytes) => {
                    self.u8(b'b');
                    self.length_prefixed(bytes);
                }
            }
        }
    }
}

/// Encodes a message as pgoutput protocol version 2 would send it. Streamed messages carry their
/// xid exactly when their `xid` field is set.
fn encode(message: &LogicalMessage) -> Vec<u8> {
    let mut out = Encoder::default();
    match message {
        LogicalMessage::Begin(m) => {
            out.u8(b'B');
            out.u64(m.final_lsn);
            out.i64(m.commit_time_us);
            out.u32(m.xid);
        }
        LogicalMessage::Commit(m) => {
            out.u8(b'C');
            out.u8(m.flags);
            out.u64(m.commit_lsn);
            out.u64(m.end_lsn);
            out.i64(m.commit_time_us);
        }
        LogicalMessage::Origin(m) => {
            out.u8(b'O');
            out.u64(m.commit_lsn);
            out.string(&m.name);
        }
        LogicalMessage::Relation(m) => {
            out.u8(b'R');
            out.xid(m.xid);
            out.u32(m.oid);
            out.string(&m.namespace);
            out.string(&m.name);
            out.u8(m.replica_identity.as_byte());
            out.u16(u16::try_from(m.columns.len()).unwrap());
            for column in &m.columns {
                out.u8(column.flags);
                out.string(&column.name);
                out.u32(column.type_oid);
                out.i32(column.type_modifier);
            }
        }
        LogicalMessage::Type(m) => {
            out.u8(b'Y');
            out.xid(m.xid);
            out.u32(m.oid);
            out.string(&m.namespace);
            out.string(&m.name);
        }
        LogicalMessage::Insert(m) => {
            out.u8(b'I');
            out.xid(m.xid);
            out.u32(m.relation_oid);
            out.u8(b'N');
            out.tuple(&m.new);
        }
        LogicalMessage::Update(m) => {
            out.u8(b'U');
            out.xid(m.xid);
            out.u32(m.relation_oid);
            if let Some(key) = &m.key {
                out.u8(b'K');
                out.tuple(key);
            }
            if let Some(old) = &m.old {
                out.u8(b'O');
                out.tuple(old);
            }
            out.u8(b'N');
            out.tuple(&m.new);
        }
        LogicalMessage::Delete(m) => {
            out.u8(b'D');
            out.xid(m.xid);
            out.u32(m.relation_oid);
            if let Some(key) = &m.key {
                out.u8(b'K');
                out.tuple(key);
            }
            if let Some(old) = &m.old {
                out.u8(b'O');
                out.tuple(old);
            }
        }
        LogicalMessage::Truncate(m) => {
            out.u8(b'T');
            out.xid(m.xid);
            out.u32(u32::try_from(m.relation_oids.len()).unwrap());
            out.u8(m.options);
            for oid in &m.relation_oids {
                out.u32(*oid);
            }
        }
        LogicalMessage::Message(m) => {
            out.u8(b'M');
            out.xid(m.xid);
            out.u8(u8::from(m.transactional));
            out.u64(m.lsn);
            out.string(&m.prefix);
            out.length_prefixed(&m.content);
        }
        LogicalMessage::StreamStart(m) => {
            out.u8(b'S');
            out.u32(m.xid);
            out.u8(u8::from(m.first_segment));
        }
        LogicalMessage::StreamStop => out.u8(b'E'),
        LogicalMessage::StreamCommit(m) => {
            out.u8(b'c');
            out.u32(m.xid);
            out.u8(m.flags);
            out.u64(m.commit_lsn);
            out.u64(m.end_lsn);
            out.i64(m.commit_time_us);
        }
        LogicalMessage::StreamAbort(m) => {
            out.u8(b'A');
            out.u32(m.xid);
            out.u32(m.subxid);
        }
    }
    out.0
}

// ---- strategies -----------------------------------------------------------------------------

/// Names: any characters but NUL, which terminates a pgoutput String.
fn name() -> impl Strategy<Value = String> {
    "[^\\x00]{0,12}"
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..24)
}

fn tuple() -> impl Strategy<Value = Tuple> {
    let value = prop_oneof![
        Just(TupleValue::Null),
        Just(TupleValue::UnchangedToast),
        payload().prop_map(TupleValue::Text),
        payload().prop_map(TupleValue::Binary),
    ];
    proptest::collection::vec(value, 0..8).prop_map(Tuple)
}

fn replica_identity() -> impl Strategy<Value = ReplicaIdentity> {
    prop_oneof![
        Just(ReplicaIdentity::Default),
        Just(ReplicaIdentity::Nothing),
        Just(ReplicaIdentity::Full),
        Just(ReplicaIdentity::Index),
    ]
}

fn relation_column() -> impl Strategy<Value = RelationColumn> {
    (any::<u8>(), name(), any::<u32>(), any::<i32>()).prop_map(
        |(flags, name, type_oid, type_modifier)| RelationColumn {
            flags,
            name,
            type_oid,
            type_modifier,
        },
    )
}

/// Old-row part of an Update: nothing, a key (`K`) or a whole old row (`O`).
fn update_old_part() -> impl Strategy<Value = (Option<Tuple>, Option<Tuple>)> {
    prop_oneof![
        Just((None, None)),
        tuple().prop_map(|key| (Some(key), None)),
        tuple().prop_map(|old| (None, Some(old))),
    ]
}

/// Any message, with the leading xid of streamable messages present exactly when `in_stream`.
fn message(in_stream: bool) -> impl Strategy<Value = LogicalMessage> {
    let xid = move || -> BoxedStrategy<Option<Xid>> {
        if in_stream {
            any::<u32>().prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        }
    };
    prop_oneof![
        (any::<u64>(), any::<i64>(), any::<u32>()).prop_map(|(final_lsn, commit_time_us, xid)| {
            LogicalMessage::Begin(Begin {
                final_lsn,
                commit_time_us,
                xid,
            })
        }),
        (any::<u8>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(
            |(flags, commit_lsn, end_lsn, commit_time_us)| LogicalMessage::Commit(Commit {
                flags,
                commit_lsn,
                end_lsn,
                commit_time_us,
            })
        ),
        (any::<u64>(), name())
            .prop_map(|(commit_lsn, name)| LogicalMessage::Origin(Origin { commit_lsn, name })),
        (
            xid(),
            any::<u32>(),
            name(),
            name(),
            replica_identity(),
            proptest::collection::vec(relation_column(), 0..6),
        )
            .prop_map(|(xid, oid, namespace, name, replica_identity, columns)| {
                LogicalMessage::Relation(Relation {
                    xid,
                    oid,
                    namespace,
                    name,
                    replica_identity,
                    columns,
                })
            }),
        (xid(), any::<u32>(), name(), name()).prop_map(|(xid, oid, namespace, name)| {
            LogicalMessage::Type(TypeMessage {
                xid,
                oid,
                namespace,
                name,
            })
        }),
        (xid(), any::<u32>(), tuple()).prop_map(|(xid, relation_oid, new)| {
            LogicalMessage::Insert(Insert {
                xid,
                relation_oid,
                new,
            })
        }),
        (xid(), any::<u32>(), update_old_part(), tuple()).prop_map(
            |(xid, relation_oid, (key, old), new)| LogicalMessage::Update(Update {
                xid,
                relation_oid,
                key,
                old,
                new,
            })
        ),
        (xid(), any::<u32>(), tuple(), any::<bool>()).prop_map(
            |(xid, relation_oid, tuple, is_key)| {
                let (key, old) = if is_key {
                    (Some(tuple), None)
                } else {
                    (None, Some(tuple))
                };
                LogicalMessage::Delete(Delete {
                    xid,
                    relation_oid,
                    key,
                    old,
                })
            }
        ),
        (
            xid(),
            any::<u8>(),
            proptest::collection::vec(any::<u32>(), 0..8)
        )
            .prop_map(|(xid, options, relation_oids)| {
                LogicalMessage::Truncate(Truncate {
                    xid,
                    options,
                    relation_oids,
                })
            }),
        (xid(), any::<bool>(), any::<u64>(), name(), payload()).prop_map(
            |(xid, transactional, lsn, prefix, content)| LogicalMessage::Message(Message {
                xid,
                transactional,
                lsn,
                prefix,
                content,
            })
        ),
        (any::<u32>(), any::<bool>()).prop_map(|(xid, first_segment)| {
            LogicalMessage::StreamStart(StreamStart { xid, first_segment })
        }),
        Just(LogicalMessage::StreamStop),
        (
            any::<u32>(),
            any::<u8>(),
            any::<u64>(),
            any::<u64>(),
            any::<i64>()
        )
            .prop_map(|(xid, flags, commit_lsn, end_lsn, commit_time_us)| {
                LogicalMessage::StreamCommit(StreamCommit {
                    xid,
                    flags,
                    commit_lsn,
                    end_lsn,
                    commit_time_us,
                })
            }),
        (any::<u32>(), any::<u32>())
            .prop_map(|(xid, subxid)| LogicalMessage::StreamAbort(StreamAbort { xid, subxid })),
    ]
}

fn message_in_either_mode() -> impl Strategy<Value = (LogicalMessage, bool)> {
    any::<bool>().prop_flat_map(|in_stream| (message(in_stream), Just(in_stream)))
}

// ---- properties -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoded_messages_decode_to_themselves((message, in_stream) in message_in_either_mode()) {
        let bytes = encode(&message);
        prop_assert_eq!(decode(&bytes, in_stream), Ok(message));
    }

    #[test]
    fn every_strict_prefix_fails((message, in_stream) in message_in_either_mode()) {
        let bytes = encode(&message);
        for len in 0..bytes.len() {
            let result = decode(&bytes[..len], in_stream);
            prop_assert!(result.is_err(), "prefix of {} bytes decoded to {:?}", len, result);
        }
    }

    #[test]
    fn trailing_bytes_are_rejected(
        (message, in_stream) in message_in_either_mode(),
        extra in proptest::collection::vec(any::<u8>(), 1..4),
    ) {
        let mut bytes = encode(&message);
        let end = bytes.len();
        bytes.extend_from_slice(&extra);
        let is_trailing_error = matches!(
            decode(&bytes, in_stream),
            Err(DecodeError::TrailingBytes { offset, count, .. })
                if offset == end && count == extra.len()
        );
        prop_assert!(is_trailing_error);
    }

    #[test]
    fn corrupted_messages_never_panic(
        (message, in_stream) in message_in_either_mode(),
        position in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let mut bytes = encode(&message);
        let index = position.index(bytes.len());
        bytes[index] = replacement;
        let _ = decode(&bytes, in_stream);
        let _ = decode(&bytes, !in_stream);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        type_byte in prop::sample::select(b"BCORYIUDTMSEcAbPKrpZ".to_vec()),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = vec![type_byte];
        bytes.extend_from_slice(&body);
        let _ = decode(&bytes, false);
        let _ = decode(&bytes, true);
    }

    #[test]
    fn lsn_text_round_trips(lsn in any::<u64>()) {
        let text = lsn_to_string(lsn);
        prop_assert_eq!(parse_lsn(&text), Ok(lsn));
        prop_assert_eq!(parse_lsn(&text.to_lowercase()), Ok(lsn));
    }
}

#[test]
fn streamed_messages_need_the_stream_flag() {
    // An Insert with a streamed xid, read as if outside a stream, takes the xid's bytes for the
    // relation OID and then finds no 'N' marker where it expects one.
    let insert = LogicalMessage::Insert(Insert {
        xid: Some(0x0102_0304),
        relation_oid: 16_384,
        new: Tuple(vec![TupleValue::Null]),
    });
    let bytes = encode(&insert);
    assert_eq!(decode(&bytes, true).unwrap(), insert);
    assert!(decode(&bytes, false).is_err());
}
