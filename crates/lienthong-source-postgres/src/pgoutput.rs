//! Decoder of the messages that PostgreSQL's `pgoutput` plugin sends over logical replication,
//! protocol version 2 (PostgreSQL 14+: streaming of large in-progress transactions).
//!
//! This module does no I/O. [`decode`] takes the payload of one `XLogData` message (the bytes
//! after the `w` header of the streaming replication protocol) and returns the logical message it
//! holds. It never panics and never allocates more than the input could describe: every length and
//! count is checked against the bytes that remain before anything is read or reserved, so it is
//! safe on hostile or corrupt input (it is fuzzed: `fuzz/fuzz_targets/pgoutput_decode.rs`).
//!
//! The decoder is stateless. Which messages may follow which (Begin … Commit, StreamStart …
//! StreamStop) is the caller's state machine; the decoder only needs to know whether it is inside
//! a streamed block, because there Relation, Type, Insert, Update, Delete, Truncate and Message
//! carry the xid of their transaction in front of their body.
//!
//! Layouts follow "Logical Replication Message Formats" in the PostgreSQL documentation. All
//! integers are big-endian; a `String` is NUL-terminated; timestamps are microseconds since the
//! PostgreSQL epoch, 2000-01-01 00:00:00 UTC.

use std::fmt;

/// A WAL position (log sequence number).
pub type Lsn = u64;

/// A PostgreSQL transaction id.
pub type Xid = u32;

/// The pgoutput `proto_version` this decoder understands; pass it to `START_REPLICATION`.
pub const PROTOCOL_VERSION: u32 = 2;

/// Seconds from the Unix epoch (1970-01-01) to the PostgreSQL epoch (2000-01-01), both UTC.
pub const POSTGRES_EPOCH_UNIX_SECONDS: i64 = 946_684_800;

/// One decoded pgoutput message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogicalMessage {
    Begin(Begin),
    Commit(Commit),
    Origin(Origin),
    Relation(Relation),
    Type(TypeMessage),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    Truncate(Truncate),
    Message(Message),
    StreamStart(StreamStart),
    StreamStop,
    StreamCommit(StreamCommit),
    StreamAbort(StreamAbort),
}

impl LogicalMessage {
    /// The message's name as the PostgreSQL documentation spells it, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Begin(_) => "Begin",
            Self::Commit(_) => "Commit",
            Self::Origin(_) => "Origin",
            Self::Relation(_) => "Relation",
            Self::Type(_) => "Type",
            Self::Insert(_) => "Insert",
            Self::Update(_) => "Update",
            Self::Delete(_) => "Delete",
            Self::Truncate(_) => "Truncate",
            Self::Message(_) => "Message",
            Self::StreamStart(_) => "Stream Start",
            Self::StreamStop => "Stream Stop",
            Self::StreamCommit(_) => "Stream Commit",
            Self::StreamAbort(_) => "Stream Abort",
        }
    }
}

/// Start of a (non-streamed) transaction (`B`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Commit time in microseconds since 2000-01-01 00:00:00 UTC (PostgreSQL epoch); see
    /// [`postgres_time_to_timestamp`].
    pub commit_time_us: i64,
    pub xid: Xid,
}

/// End of a (non-streamed) transaction (`C`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Currently always 0.
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// LSN just past the commit record: the position to confirm once the transaction is durable.
    pub end_lsn: Lsn,
    /// Microseconds since the PostgreSQL epoch.
    pub commit_time_us: i64,
}

/// The replication origin a transaction came from (`O`), sent after Begin when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// LSN of the commit on the origin server.
    pub commit_lsn: Lsn,
    pub name: String,
}

/// Which old values an Update or Delete carries (`pg_class.relreplident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: the primary key's columns.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: every column.
    Full,
    /// `i`: the columns of a chosen unique index.
    Index,
}

impl ReplicaIdentity {
    /// The byte pgoutput sends for this setting.
    pub fn as_byte(self) -> u8 {
        match self {
            Self::Default => b'd',
            Self::Nothing => b'n',
            Self::Full => b'f',
            Self::Index => b'i',
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'd' => Some(Self::Default),
            b'n' => Some(Self::Nothing),
            b'f' => Some(Self::Full),
            b'i' => Some(Self::Index),
            _ => None,
        }
    }
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Bit 0 set: the column is part of the replica identity key.
    pub flags: u8,
    pub name: String,
    pub type_oid: u32,
    /// `atttypmod`; -1 when the type has no modifier.
    pub type_modifier: i32,
}

impl RelationColumn {
    /// Whether the column is part of the key sent in Update and Delete messages.
    pub fn is_key(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// A table's shape (`R`), sent before the first change to it in a session and again whenever it
/// changes. Tuples of later Insert/Update/Delete messages list values in this column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    pub oid: u32,
    /// Schema name; pgoutput sends an empty string for `pg_catalog`.
    pub namespace: String,
    pub name: String,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<RelationColumn>,
}

/// A non-built-in type used by a later Relation (`Y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMessage {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    pub oid: u32,
    /// Schema name; empty for `pg_catalog`.
    pub namespace: String,
    pub name: String,
}

/// One column value of a [`Tuple`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// `n`: SQL NULL.
    Null,
    /// `u`: a TOASTed value that did not change; its bytes are not sent.
    UnchangedToast,
    /// `t`: the value in the type's text output format.
    Text(Vec<u8>),
    /// `b`: the value in the type's binary format (only with the `binary` option).
    Binary(Vec<u8>),
}

/// The column values of one row, in the column order of its [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple(pub Vec<TupleValue>);

/// A new row (`I`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    pub relation_oid: u32,
    pub new: Tuple,
}

/// A changed row (`U`). At most one of `key` and `old` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    pub relation_oid: u32,
    /// `K`: the old key, sent when the update changed a replica identity column (only the key
    /// columns hold values, the others are null).
    pub key: Option<Tuple>,
    /// `O`: the whole old row, sent with `REPLICA IDENTITY FULL`.
    pub old: Option<Tuple>,
    pub new: Tuple,
}

/// A deleted row (`D`). Exactly one of `key` and `old` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    pub relation_oid: u32,
    /// `K`: the key of the deleted row.
    pub key: Option<Tuple>,
    /// `O`: the whole deleted row, with `REPLICA IDENTITY FULL`.
    pub old: Option<Tuple>,
}

/// `TRUNCATE` of one or more tables (`T`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// Bit 0: `CASCADE`; bit 1: `RESTART IDENTITY`.
    pub options: u8,
    pub relation_oids: Vec<u32>,
}

impl Truncate {
    /// `TRUNCATE ... CASCADE`.
    pub fn cascade(&self) -> bool {
        self.options & 1 != 0
    }

    /// `TRUNCATE ... RESTART IDENTITY`.
    pub fn restart_identity(&self) -> bool {
        self.options & 2 != 0
    }
}

/// A logical decoding message written with `pg_logical_emit_message` (`M`); sent only when the
/// subscriber asked for `messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Set inside a streamed block.
    pub xid: Option<Xid>,
    /// Transactional messages arrive inside their transaction and only if it commits;
    /// non-transactional ones arrive at once, outside any Begin … Commit.
    pub transactional: bool,
    pub lsn: Lsn,
    pub prefix: String,
    pub content: Vec<u8>,
}

/// Start of a block of changes of an in-progress transaction (`S`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStart {
    pub xid: Xid,
    /// Whether this is the transaction's first block.
    pub first_segment: bool,
}

/// Commit of a streamed transaction (`c`): its blocks' changes take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCommit {
    pub xid: Xid,
    /// Currently always 0.
    pub flags: u8,
    pub commit_lsn: Lsn,
    pub end_lsn: Lsn,
    /// Microseconds since the PostgreSQL epoch.
    pub commit_time_us: i64,
}

/// Abort of a streamed transaction (`A`), or of one of its subtransactions when `subxid != xid`:
/// the changes streamed for `subxid` are discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAbort {
    pub xid: Xid,
    pub subxid: Xid,
}

/// Why a message could not be decoded. Offsets count bytes from the start of the message (the
/// type byte is at offset 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty pgoutput message")]
    Empty,

    #[error("unknown pgoutput message type byte {}", describe_byte(*byte))]
    UnknownMessageType { byte: u8 },

    #[error(
        "pgoutput {name} message (type byte {}) needs protocol version 3 or later; this decoder \
         speaks version {PROTOCOL_VERSION}",
        describe_byte(*byte)
    )]
    UnsupportedMessageType { byte: u8, name: &'static str },

    #[error(
        "message truncated reading {field} at offset {offset}: needs {needed} bytes, \
         {available} left"
    )]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },

    #[error("{field} at offset {offset} has no terminating NUL byte")]
    UnterminatedString { field: &'static str, offset: usize },

    #[error("{field} at offset {offset} is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        field: &'static str,
        offset: usize,
        valid_up_to: usize,
    },

    #[error("{field} at offset {offset} has negative length {length}")]
    NegativeLength {
        field: &'static str,
        offset: usize,
        length: i32,
    },

    #[error(
        "{count} {field} declared at offset {offset} need at least {min_bytes} bytes, \
         only {available} left"
    )]
    CountExceedsInput {
        field: &'static str,
        count: usize,
        offset: usize,
        min_bytes: usize,
        available: usize,
    },

    #[error("unknown replica identity byte {} at offset {offset}", describe_byte(*byte))]
    UnknownReplicaIdentity { byte: u8, offset: usize },

    #[error("unknown tuple value kind byte {} at offset {offset}", describe_byte(*byte))]
    UnknownTupleValueKind { byte: u8, offset: usize },

    #[error(
        "{message} message: expected {expected} at offset {offset}, found {}",
        describe_byte(*found)
    )]
    UnexpectedTupleMarker {
        message: &'static str,
        expected: &'static str,
        found: u8,
        offset: usize,
    },

    #[error("{count} trailing bytes after the {message} message, from offset {offset}")]
    TrailingBytes {
        message: &'static str,
        offset: usize,
        count: usize,
    },
}

/// A byte as hex, plus the ASCII character when it is printable (message types are letters).
fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("0x{byte:02x} ('{}')", char::from(byte))
    } else {
        format!("0x{byte:02x}")
    }
}

/// Decodes one pgoutput message.
///
/// `in_stream` must be true between a StreamStart and its StreamStop: there Relation, Type,
/// Insert, Update, Delete, Truncate and Message carry a leading xid, which ends up in their `xid`
/// field (otherwise `None`). The whole of `bytes` must be one message: trailing bytes are an error.
///
/// Messages of protocol versions 3 and 4 (two-phase commit, parallel streaming) are rejected with
/// [`DecodeError::UnsupportedMessageType`]; the server sends them only to a subscriber that asked
/// for those versions.
pub fn decode(bytes: &[u8], in_stream: bool) -> Result<LogicalMessage, DecodeError> {
    let mut reader = Reader::new(bytes);
    let Ok(type_byte) = reader.u8("message type") else {
        return Err(DecodeError::Empty);
    };
    let message = match type_byte {
        b'B' => LogicalMessage::Begin(Begin {
            final_lsn: reader.u64("final LSN")?,
            commit_time_us: reader.i64("commit timestamp")?,
            xid: reader.u32("xid")?,
        }),
        b'C' => LogicalMessage::Commit(Commit {
            flags: reader.u8("flags")?,
            commit_lsn: reader.u64("commit LSN")?,
            end_lsn: reader.u64("end LSN")?,
            commit_time_us: reader.i64("commit timestamp")?,
        }),
        b'O' => LogicalMessage::Origin(Origin {
            commit_lsn: reader.u64("origin commit LSN")?,
            name: reader.string("origin name")?,
        }),
        b'R' => LogicalMessage::Relation(decode_relation(&mut reader, in_stream)?),
        b'Y' => LogicalMessage::Type(TypeMessage {
            xid: reader.streamed_xid(in_stream)?,
            oid: reader.u32("type OID")?,
            namespace: reader.string("type namespace")?,
            name: reader.string("type name")?,
        }),
        b'I' => {
            let xid = reader.streamed_xid(in_stream)?;
            let relation_oid = reader.u32("relation OID")?;
            reader.expect_marker("Insert", b'N', "'N' (new tuple)")?;
            let new = decode_tuple(&mut reader)?;
            LogicalMessage::Insert(Insert {
                xid,
                relation_oid,
                new,
            })
        }
        b'U' => LogicalMessage::Update(decode_update(&mut reader, in_stream)?),
        b'D' => LogicalMessage::Delete(decode_delete(&mut reader, in_stream)?),
        b'T' => LogicalMessage::Truncate(decode_truncate(&mut reader, in_stream)?),
        b'M' => {
            let xid = reader.streamed_xid(in_stream)?;
            let flags = reader.u8("message flags")?;
            LogicalMessage::Message(Message {
                xid,
                // Only bit 0 is defined; any other bit is ignored rather than rejected so that a
                // future flag does not stop replication.
                transactional: flags & 1 != 0,
                lsn: reader.u64("message LSN")?,
                prefix: reader.string("message prefix")?,
                content: reader.length_prefixed("message content")?.to_vec(),
            })
        }
        b'S' => LogicalMessage::StreamStart(StreamStart {
            xid: reader.u32("xid")?,
            first_segment: reader.u8("first segment flag")? != 0,
        }),
        b'E' => LogicalMessage::StreamStop,
        b'c' => LogicalMessage::StreamCommit(StreamCommit {
            xid: reader.u32("xid")?,
            flags: reader.u8("flags")?,
            commit_lsn: reader.u64("commit LSN")?,
            end_lsn: reader.u64("end LSN")?,
            commit_time_us: reader.i64("commit timestamp")?,
        }),
        b'A' => LogicalMessage::StreamAbort(StreamAbort {
            xid: reader.u32("xid")?,
            subxid: reader.u32("subtransaction xid")?,
        }),
        byte => {
            return Err(match later_protocol_message_name(byte) {
                Some(name) => DecodeError::UnsupportedMessageType { byte, name },
                None => DecodeError::UnknownMessageType { byte },
            });
        }
    };
    reader.finish(message.name())?;
    Ok(message)
}

/// Messages that exist in pgoutput protocol versions 3 (two-phase commit) and later.
fn later_protocol_message_name(byte: u8) -> Option<&'static str> {
    match byte {
        b'b' => Some("Begin Prepare"),
        b'P' => Some("Prepare"),
        b'K' => Some("Commit Prepared"),
        b'r' => Some("Rollback Prepared"),
        b'p' => Some("Stream Prepare"),
        _ => None,
    }
}

fn decode_relation(reader: &mut Reader<'_>, in_stream: bool) -> Result<Relation, DecodeError> {
    let xid = reader.streamed_xid(in_stream)?;
    let oid = reader.u32("relation OID")?;
    let namespace = reader.string("relation namespace")?;
    let name = reader.string("relation name")?;
    let identity_offset = reader.offset;
    let identity_byte = reader.u8("replica identity")?;
    let replica_identity =
        ReplicaIdentity::from_byte(identity_byte).ok_or(DecodeError::UnknownReplicaIdentity {
            byte: identity_byte,
            offset: identity_offset,
        })?;
    let column_count = usize::from(reader.u16("column count")?);
    // flags (1) + name of at least its NUL (1) + type OID (4) + type modifier (4)
    reader.check_count_fits(column_count, 10, "relation columns")?;
    let mut columns = Vec::with_capacity(column_count);
    for _ in 0..column_count {
        columns.push(RelationColumn {
            flags: reader.u8("column flags")?,
            name: reader.string("column name")?,
            type_oid: reader.u32("column type OID")?,
            type_modifier: reader.i32("column type modifier")?,
        });
    }
    Ok(Relation {
        xid,
        oid,
        namespace,
        name,
        replica_identity,
        columns,
    })
}

fn decode_update(reader: &mut Reader<'_>, in_stream: bool) -> Result<Update, DecodeError> {
    let xid = reader.streamed_xid(in_stream)?;
    let relation_oid = reader.u32("relation OID")?;
    let mut key = None;
    let mut old = None;
    let marker_offset = reader.offset;
    match reader.u8("tuple marker")? {
        b'K' => key = Some(decode_tuple(reader)?),
        b'O' => old = Some(decode_tuple(reader)?),
        b'N' => {}
        found => {
            return Err(DecodeError::UnexpectedTupleMarker {
                message: "Update",
                expected: "'K', 'O' or 'N'",
                found,
                offset: marker_offset,
            });
        }
    }
    if key.is_some() || old.is_some() {
        reader.expect_marker("Update", b'N', "'N' (new tuple)")?;
    }
    let new = decode_tuple(reader)?;
    Ok(Update {
        xid,
        relation_oid,
        key,
        old,
        new,
    })
}

fn decode_delete(reader: &mut Reader<'_>, in_stream: bool) -> Result<Delete, DecodeError> {
    let xid = reader.streamed_xid(in_stream)?;
    let relation_oid = reader.u32("relation OID")?;
    let marker_offset = reader.offset;
    let (key, old) = match reader.u8("tuple marker")? {
        b'K' => (Some(decode_tuple(reader)?), None),
        b'O' => (None, Some(decode_tuple(reader)?)),
        found => {
            return Err(DecodeError::UnexpectedTupleMarker {
                message: "Delete",
                expected: "'K' or 'O'",
                found,
                offset: marker_offset,
            });
        }
    };
    Ok(Delete {
        xid,
        relation_oid,
        key,
        old,
    })
}

fn decode_truncate(reader: &mut Reader<'_>, in_stream: bool) -> Result<Truncate, DecodeError> {
    let xid = reader.streamed_xid(in_stream)?;
    // An Int32 on the wire; PostgreSQL never sends a negative count, so read it unsigned and let
    // the size check reject absurd values.
    let relation_count = reader.u32("relation count")? as usize;
    let options = reader.u8("truncate options")?;
    reader.check_count_fits(relation_count, 4, "truncated relation OIDs")?;
    let mut relation_oids = Vec::with_capacity(relation_count);
    for _ in 0..relation_count {
        relation_oids.push(reader.u32("truncated relation OID")?);
    }
    Ok(Truncate {
        xid,
        options,
        relation_oids,
    })
}

/// TupleData: Int16 column count, then per column a kind byte and, for `t` and `b`, an Int32
/// length and that many bytes.
fn decode_tuple(reader: &mut Reader<'_>) -> Result<Tuple, DecodeError> {
    let column_count = usize::from(reader.u16("tuple column count")?);
    reader.check_count_fits(column_count, 1, "tuple values")?;
    let mut values = Vec::with_capacity(column_count);
    for _ in 0..column_count {
        let kind_offset = reader.offset;
        let value = match reader.u8("tuple value kind")? {
            b'n' => TupleValue::Null,
            b'u' => TupleValue::UnchangedToast,
            b't' => TupleValue::Text(reader.length_prefixed("text tuple value")?.to_vec()),
            b'b' => TupleValue::Binary(reader.length_prefixed("binary tuple value")?.to_vec()),
            byte => {
                return Err(DecodeError::UnknownTupleValueKind {
                    byte,
                    offset: kind_offset,
                });
            }
        };
        values.push(value);
    }
    Ok(Tuple(values))
}

/// A cursor over one message's bytes. Every read checks bounds and reports what it was reading
/// and where, so that an error names the field that did not fit.
#[derive(Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    /// Invariant: `offset <= bytes.len()`.
    offset: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.offset..).unwrap_or_default()
    }

    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        match rest.get(..len) {
            Some(taken) => {
                self.offset += len;
                Ok(taken)
            }
            None => Err(DecodeError::Truncated {
                field,
                offset: self.offset,
                needed: len,
                available: rest.len(),
            }),
        }
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let offset = self.offset;
        let taken = self.take(N, field)?;
        <[u8; N]>::try_from(taken).map_err(|_| DecodeError::Truncated {
            field,
            offset,
            needed: N,
            available: taken.len(),
        })
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(field).map(|[byte]| byte)
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.array(field).map(u16::from_be_bytes)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.array(field).map(u32::from_be_bytes)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, DecodeError> {
        self.array(field).map(i32::from_be_bytes)
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.array(field).map(u64::from_be_bytes)
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        self.array(field).map(i64::from_be_bytes)
    }

    fn streamed_xid(&mut self, in_stream: bool) -> Result<Option<Xid>, DecodeError> {
        if in_stream {
            self.u32("streamed transaction xid").map(Some)
        } else {
            Ok(None)
        }
    }

    /// A NUL-terminated UTF-8 string (the connection's client_encoding must be UTF8).
    fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let offset = self.offset;
        let rest = self.rest();
        let Some(nul) = rest.iter().position(|&byte| byte == 0) else {
            return Err(DecodeError::UnterminatedString { field, offset });
        };
        let text = self.take(nul, field)?;
        self.take(1, field)?;
        match std::str::from_utf8(text) {
            Ok(text) => Ok(text.to_owned()),
            Err(error) => Err(DecodeError::InvalidUtf8 {
                field,
                offset,
                valid_up_to: error.valid_up_to(),
            }),
        }
    }

    /// An Int32 length followed by that many bytes.
    fn length_prefixed(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let offset = self.offset;
        let length = self.i32(field)?;
        let Ok(length) = usize::try_from(length) else {
            return Err(DecodeError::NegativeLength {
                field,
                offset,
                length,
            });
        };
        self.take(length, field)
    }

    fn expect_marker(
        &mut self,
        message: &'static str,
        marker: u8,
        expected: &'static str,
    ) -> Result<(), DecodeError> {
        let offset = self.offset;
        let found = self.u8("tuple marker")?;
        if found == marker {
            Ok(())
        } else {
            Err(DecodeError::UnexpectedTupleMarker {
                message,
                expected,
                found,
                offset,
            })
        }
    }

    /// Rejects a count whose items could not fit in the remaining bytes, before anything is
    /// allocated for them: a corrupt count must not reserve memory the input cannot back.
    fn check_count_fits(
        &self,
        count: usize,
        min_bytes_each: usize,
        field: &'static str,
    ) -> Result<(), DecodeError> {
        let min_bytes = count.saturating_mul(min_bytes_each);
        let available = self.rest().len();
        if min_bytes > available {
            Err(DecodeError::CountExceedsInput {
                field,
                count,
                offset: self.offset,
                min_bytes,
                available,
            })
        } else {
            Ok(())
        }
    }

    fn finish(self, message: &'static str) -> Result<(), DecodeError> {
        let count = self.rest().len();
        if count == 0 {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                message,
                offset: self.offset,
                count,
            })
        }
    }
}

/// Formats an LSN the way PostgreSQL does: high and low 32 bits in uppercase hex without zero
/// padding, separated by `/` ("16/B374D848", "0/0").
pub fn lsn_to_string(lsn: Lsn) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// An LSN given in text that is not of the form `hex/hex`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid LSN {text:?}: expected two hexadecimal numbers of 1 to 8 digits separated by '/', \
     like \"16/B374D848\""
)]
pub struct ParseLsnError {
    pub text: String,
}

/// Parses an LSN in PostgreSQL's text form (`pg_lsn`): `XXXXXXXX/XXXXXXXX`, each half 1 to 8 hex
/// digits of either case. Inverse of [`lsn_to_string`].
pub fn parse_lsn(text: &str) -> Result<Lsn, ParseLsnError> {
    let error = || ParseLsnError {
        text: text.to_owned(),
    };
    let (high, low) = text.split_once('/').ok_or_else(error)?;
    let half = |part: &str| -> Result<u64, ParseLsnError> {
        let is_hex =
            !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex {
            return Err(error());
        }
        u64::from_str_radix(part, 16).map_err(|_| error())
    };
    Ok((half(high)? << 32) | half(low)?)
}

/// Converts a pgoutput timestamp (microseconds since 2000-01-01 UTC) to a protobuf Timestamp.
/// Exact for every `i64` input.
pub fn postgres_time_to_timestamp(micros_since_postgres_epoch: i64) -> prost_types::Timestamp {
    let whole_seconds = micros_since_postgres_epoch.div_euclid(1_000_000);
    let micros = micros_since_postgres_epoch.rem_euclid(1_000_000);
    prost_types::Timestamp {
        seconds: whole_seconds + POSTGRES_EPOCH_UNIX_SECONDS,
        // rem_euclid keeps this in 0..1_000_000, so the product fits in i32.
        nanos: (micros * 1_000) as i32,
    }
}

impl fmt::Display for ReplicaIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Nothing => "nothing",
            Self::Full => "full",
            Self::Index => "index",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds fixtures field by field, so each test reads like the documented layout.
    #[derive(Debug, Default)]
    struct Bytes(Vec<u8>);

    impl Bytes {
        fn new(type_byte: u8) -> Self {
            Self(vec![type_byte])
        }
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn u16(mut self, v: u16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u64(mut self, v: u64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn string(mut self, s: &str) -> Self {
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(0);
            self
        }
        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }
        fn text_value(self, s: &str) -> Self {
            self.u8(b't').i32(s.len() as i32).raw(s.as_bytes())
        }
    }

    /// Every strict prefix of a valid message must fail without panicking, and so must the
    /// message with one extra byte.
    fn assert_prefixes_fail(bytes: &[u8], in_stream: bool) {
        for len in 0..bytes.len() {
            let result = decode(&bytes[..len], in_stream);
            assert!(result.is_err(), "prefix of {len} bytes decoded: {result:?}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(matches!(
            decode(&longer, in_stream),
            Err(DecodeError::TrailingBytes { count: 1, .. })
        ));
    }

    fn decode_fixture(bytes: &[u8], in_stream: bool) -> LogicalMessage {
        assert_prefixes_fail(bytes, in_stream);
        match decode(bytes, in_stream) {
            Ok(message) => message,
            Err(error) => panic!("fixture did not decode: {error}"),
        }
    }

    #[test]
    fn begin() {
        let bytes = Bytes::new(b'B')
            .u64(0x16_B374_D848)
            .i64(777_000_123_456)
            .u32(731)
            .0;
        assert_eq!(bytes.len(), 1 + 8 + 8 + 4);
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Begin(Begin {
                final_lsn: 0x16_B374_D848,
                commit_time_us: 777_000_123_456,
                xid: 731,
            })
        );
    }

    #[test]
    fn commit() {
        let bytes = Bytes::new(b'C').u8(0).u64(100).u64(180).i64(-5).0;
        assert_eq!(bytes.len(), 1 + 1 + 8 + 8 + 8);
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Commit(Commit {
                flags: 0,
                commit_lsn: 100,
                end_lsn: 180,
                commit_time_us: -5,
            })
        );
    }

    #[test]
    fn origin() {
        let bytes = Bytes::new(b'O').u64(42).string("node_hà_nội").0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Origin(Origin {
                commit_lsn: 42,
                name: "node_hà_nội".into(),
            })
        );
    }

    fn relation_body(bytes: Bytes) -> Bytes {
        bytes
            .u32(16_384)
            .string("public")
            .string("citizen")
            .u8(b'f')
            .u16(2)
            .u8(1)
            .string("id")
            .u32(20)
            .i32(-1)
            .u8(0)
            .string("full_name")
            .u32(1043)
            .i32(104)
    }

    fn expected_relation(xid: Option<Xid>) -> LogicalMessage {
        LogicalMessage::Relation(Relation {
            xid,
            oid: 16_384,
            namespace: "public".into(),
            name: "citizen".into(),
            replica_identity: ReplicaIdentity::Full,
            columns: vec![
                RelationColumn {
                    flags: 1,
                    name: "id".into(),
                    type_oid: 20,
                    type_modifier: -1,
                },
                RelationColumn {
                    flags: 0,
                    name: "full_name".into(),
                    type_oid: 1043,
                    type_modifier: 104,
                },
            ],
        })
    }

    #[test]
    fn relation() {
        let bytes = relation_body(Bytes::new(b'R')).0;
        let message = decode_fixture(&bytes, false);
        assert_eq!(message, expected_relation(None));
        let LogicalMessage::Relation(relation) = message else {
            unreachable!()
        };
        assert!(relation.columns[0].is_key());
        assert!(!relation.columns[1].is_key());
    }

    #[test]
    fn relation_in_stream_has_leading_xid() {
        let bytes = relation_body(Bytes::new(b'R').u32(900)).0;
        assert_eq!(decode_fixture(&bytes, true), expected_relation(Some(900)));
        // The same bytes outside a stream are misread and must not decode silently.
        assert!(decode(&bytes, false).is_err());
    }

    #[test]
    fn relation_replica_identities() {
        for (byte, identity) in [
            (b'd', ReplicaIdentity::Default),
            (b'n', ReplicaIdentity::Nothing),
            (b'f', ReplicaIdentity::Full),
            (b'i', ReplicaIdentity::Index),
        ] {
            assert_eq!(identity.as_byte(), byte);
            let bytes = Bytes::new(b'R')
                .u32(1)
                .string("")
                .string("t")
                .u8(byte)
                .u16(0)
                .0;
            let Ok(LogicalMessage::Relation(relation)) = decode(&bytes, false) else {
                panic!("identity {byte} did not decode");
            };
            assert_eq!(relation.replica_identity, identity);
        }
        let bytes = Bytes::new(b'R')
            .u32(1)
            .string("")
            .string("t")
            .u8(b'x')
            .u16(0)
            .0;
        assert_eq!(
            decode(&bytes, false),
            Err(DecodeError::UnknownReplicaIdentity {
                byte: b'x',
                offset: 8
            })
        );
    }

    #[test]
    fn type_message() {
        let bytes = Bytes::new(b'Y')
            .u32(7)
            .u32(90_001)
            .string("census")
            .string("ethnic_code")
            .0;
        assert_eq!(
            decode_fixture(&bytes, true),
            LogicalMessage::Type(TypeMessage {
                xid: Some(7),
                oid: 90_001,
                namespace: "census".into(),
                name: "ethnic_code".into(),
            })
        );
    }

    #[test]
    fn insert_with_every_tuple_value_kind() {
        let bytes = Bytes::new(b'I')
            .u32(16_384)
            .u8(b'N')
            .u16(4)
            .text_value("42")
            .u8(b'n')
            .u8(b'u')
            .u8(b'b')
            .i32(2)
            .raw(&[0xDE, 0xAD])
            .0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Insert(Insert {
                xid: None,
                relation_oid: 16_384,
                new: Tuple(vec![
                    TupleValue::Text(b"42".to_vec()),
                    TupleValue::Null,
                    TupleValue::UnchangedToast,
                    TupleValue::Binary(vec![0xDE, 0xAD]),
                ]),
            })
        );
    }

    #[test]
    fn insert_empty_text_value() {
        let bytes = Bytes::new(b'I').u32(1).u8(b'N').u16(1).text_value("").0;
        let Ok(LogicalMessage::Insert(insert)) = decode(&bytes, false) else {
            panic!("did not decode");
        };
        assert_eq!(insert.new, Tuple(vec![TupleValue::Text(Vec::new())]));
    }

    #[test]
    fn update_new_only() {
        let bytes = Bytes::new(b'U').u32(5).u8(b'N').u16(1).text_value("a").0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Update(Update {
                xid: None,
                relation_oid: 5,
                key: None,
                old: None,
                new: Tuple(vec![TupleValue::Text(b"a".to_vec())]),
            })
        );
    }

    #[test]
    fn update_with_key_and_with_old() {
        for (marker, is_key) in [(b'K', true), (b'O', false)] {
            let bytes = Bytes::new(b'U')
                .u32(99)
                .u32(5)
                .u8(marker)
                .u16(2)
                .text_value("1")
                .u8(b'n')
                .u8(b'N')
                .u16(2)
                .text_value("2")
                .u8(b'u')
                .0;
            let previous = Tuple(vec![TupleValue::Text(b"1".to_vec()), TupleValue::Null]);
            let (key, old) = if is_key {
                (Some(previous), None)
            } else {
                (None, Some(previous))
            };
            assert_eq!(
                decode_fixture(&bytes, true),
                LogicalMessage::Update(Update {
                    xid: Some(99),
                    relation_oid: 5,
                    key,
                    old,
                    new: Tuple(vec![
                        TupleValue::Text(b"2".to_vec()),
                        TupleValue::UnchangedToast
                    ]),
                })
            );
        }
    }

    #[test]
    fn update_rejects_bad_markers() {
        let bytes = Bytes::new(b'U').u32(5).u8(b'X').u16(0).0;
        assert_eq!(
            decode(&bytes, false),
            Err(DecodeError::UnexpectedTupleMarker {
                message: "Update",
                expected: "'K', 'O' or 'N'",
                found: b'X',
                offset: 5,
            })
        );
        // After an old key the new tuple must follow, not a second key.
        let bytes = Bytes::new(b'U').u32(5).u8(b'K').u16(0).u8(b'K').u16(0).0;
        assert_eq!(
            decode(&bytes, false),
            Err(DecodeError::UnexpectedTupleMarker {
                message: "Update",
                expected: "'N' (new tuple)",
                found: b'K',
                offset: 8,
            })
        );
    }

    #[test]
    fn delete_with_key_and_with_old() {
        let bytes = Bytes::new(b'D').u32(5).u8(b'K').u16(1).text_value("7").0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Delete(Delete {
                xid: None,
                relation_oid: 5,
                key: Some(Tuple(vec![TupleValue::Text(b"7".to_vec())])),
                old: None,
            })
        );
        let bytes = Bytes::new(b'D').u32(5).u8(b'O').u16(1).u8(b'n').0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Delete(Delete {
                xid: None,
                relation_oid: 5,
                key: None,
                old: Some(Tuple(vec![TupleValue::Null])),
            })
        );
        let bytes = Bytes::new(b'D').u32(5).u8(b'N').u16(0).0;
        assert!(matches!(
            decode(&bytes, false),
            Err(DecodeError::UnexpectedTupleMarker { found: b'N', .. })
        ));
    }

    #[test]
    fn truncate() {
        let bytes = Bytes::new(b'T').u32(2).u8(3).u32(16_384).u32(16_390).0;
        let message = decode_fixture(&bytes, false);
        assert_eq!(
            message,
            LogicalMessage::Truncate(Truncate {
                xid: None,
                options: 3,
                relation_oids: vec![16_384, 16_390],
            })
        );
        let LogicalMessage::Truncate(truncate) = message else {
            unreachable!()
        };
        assert!(truncate.cascade());
        assert!(truncate.restart_identity());
        let plain = Truncate {
            xid: None,
            options: 0,
            relation_oids: vec![],
        };
        assert!(!plain.cascade() && !plain.restart_identity());
    }

    #[test]
    fn message() {
        let bytes = Bytes::new(b'M')
            .u8(1)
            .u64(0xABCD)
            .string("lienthong")
            .i32(3)
            .raw(&[0, 1, 2])
            .0;
        assert_eq!(
            decode_fixture(&bytes, false),
            LogicalMessage::Message(Message {
                xid: None,
                transactional: true,
                lsn: 0xABCD,
                prefix: "lienthong".into(),
                content: vec![0, 1, 2],
            })
        );
        let streamed = Bytes::new(b'M').u32(12).u8(0).u64(1).string("").i32(0).0;
        assert_eq!(
            decode_fixture(&streamed, true),
            LogicalMessage::Message(Message {
                xid: Some(12),
                transactional: false,
                lsn: 1,
                prefix: String::new(),
                content: vec![],
            })
        );
    }

    #[test]
    fn stream_messages() {
        let start = Bytes::new(b'S').u32(77).u8(1).0;
        assert_eq!(
            decode_fixture(&start, false),
            LogicalMessage::StreamStart(StreamStart {
                xid: 77,
                first_segment: true
            })
        );
        assert_eq!(decode_fixture(b"E", true), LogicalMessage::StreamStop);
        let commit = Bytes::new(b'c').u32(77).u8(0).u64(10).u64(20).i64(30).0;
        assert_eq!(commit.len(), 1 + 4 + 1 + 8 + 8 + 8);
        assert_eq!(
            decode_fixture(&commit, false),
            LogicalMessage::StreamCommit(StreamCommit {
                xid: 77,
                flags: 0,
                commit_lsn: 10,
                end_lsn: 20,
                commit_time_us: 30,
            })
        );
        let abort = Bytes::new(b'A').u32(77).u32(78).0;
        assert_eq!(
            decode_fixture(&abort, false),
            LogicalMessage::StreamAbort(StreamAbort {
                xid: 77,
                subxid: 78
            })
        );
    }

    #[test]
    fn empty_and_unknown_types() {
        assert_eq!(decode(&[], false), Err(DecodeError::Empty));
        assert_eq!(
            decode(b"Z", false),
            Err(DecodeError::UnknownMessageType { byte: b'Z' })
        );
        assert_eq!(
            decode(b"P", false),
            Err(DecodeError::UnsupportedMessageType {
                byte: b'P',
                name: "Prepare"
            })
        );
        assert_eq!(
            DecodeError::UnknownMessageType { byte: b'Z' }.to_string(),
            "unknown pgoutput message type byte 0x5a ('Z')"
        );
    }

    #[test]
    fn truncation_names_field_and_offset() {
        let bytes = Bytes::new(b'B').u64(1).u32(0).0;
        assert_eq!(
            decode(&bytes, false),
            Err(DecodeError::Truncated {
                field: "commit timestamp",
                offset: 9,
                needed: 8,
                available: 4,
            })
        );
    }

    #[test]
    fn counts_larger_than_input_fail_before_allocating() {
        let bytes = Bytes::new(b'I').u32(1).u8(b'N').u16(65_535).raw(b"nnn").0;
        assert_eq!(
            decode(&bytes, false),
            Err(DecodeError::CountExceedsInput {
                field: "tuple values",
                count: 65_535,
                offset: 8,
                min_bytes: 65_535,
                available: 3,
            })
        );
        let bytes = Bytes::new(b'T').u32(u32::MAX).u8(0).u32(1).0;
        assert!(matches!(
            decode(&bytes, false),
            Err(DecodeError::CountExceedsInput {
                field: "truncated relation OIDs",
                ..
            })
        ));
        let bytes = Bytes::new(b'R')
            .u32(1)
            .string("")
            .string("t")
            .u8(b'd')
            .u16(2)
            .raw(&[0; 12])
            .0;
        assert!(matches!(
            decode(&bytes, false),
            Err(DecodeError::CountExceedsInput {
                field: "relation columns",
                ..
            })
        ));
    }

    #[test]
    fn bad_lengths_strings_and_kinds() {
        let negative = Bytes::new(b'I').u32(1).u8(b'N').u16(1).u8(b't').i32(-1).0;
        assert_eq!(
            decode(&negative, false),
            Err(DecodeError::NegativeLength {
                field: "text tuple value",
                offset: 9,
                length: -1,
            })
        );
        let huge = Bytes::new(b'I')
            .u32(1)
            .u8(b'N')
            .u16(1)
            .u8(b't')
            .i32(i32::MAX)
            .raw(b"ab")
            .0;
        assert!(matches!(
            decode(&huge, false),
            Err(DecodeError::Truncated {
                field: "text tuple value",
                available: 2,
                ..
            })
        ));
        let kind = Bytes::new(b'I').u32(1).u8(b'N').u16(1).u8(b'q').0;
        assert_eq!(
            decode(&kind, false),
            Err(DecodeError::UnknownTupleValueKind {
                byte: b'q',
                offset: 8
            })
        );
        let unterminated = Bytes::new(b'O').u64(1).raw(b"abc").0;
        assert_eq!(
            decode(&unterminated, false),
            Err(DecodeError::UnterminatedString {
                field: "origin name",
                offset: 9
            })
        );
        let invalid_utf8 = Bytes::new(b'O').u64(1).raw(&[b'a', 0xFF, 0]).0;
        assert_eq!(
            decode(&invalid_utf8, false),
            Err(DecodeError::InvalidUtf8 {
                field: "origin name",
                offset: 9,
                valid_up_to: 1
            })
        );
    }

    #[test]
    fn lsn_text_round_trip() {
        assert_eq!(lsn_to_string(0x16_B374_D848), "16/B374D848");
        assert_eq!(lsn_to_string(0), "0/0");
        assert_eq!(lsn_to_string(u64::MAX), "FFFFFFFF/FFFFFFFF");
        assert_eq!(parse_lsn("16/B374D848"), Ok(0x16_B374_D848));
        assert_eq!(parse_lsn("16/b374d848"), Ok(0x16_B374_D848));
        assert_eq!(parse_lsn("0/0"), Ok(0));
        assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Ok(u64::MAX));
        for bad in [
            "",
            "/",
            "1/",
            "/1",
            "1",
            "1/2/3",
            "G/0",
            "+1/0",
            "100000000/0",
            " 1/0",
            "1/0 ",
        ] {
            assert_eq!(
                parse_lsn(bad),
                Err(ParseLsnError { text: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn postgres_epoch_conversion() {
        assert_eq!(
            postgres_time_to_timestamp(0),
            prost_types::Timestamp {
                seconds: 946_684_800,
                nanos: 0
            }
        );
        assert_eq!(
            postgres_time_to_timestamp(-1),
            prost_types::Timestamp {
                seconds: 946_684_799,
                nanos: 999_999_000
            }
        );
        assert_eq!(
            postgres_time_to_timestamp(1_500_001),
            prost_types::Timestamp {
                seconds: 946_684_801,
                nanos: 500_001_000
            }
        );
        let extreme = postgres_time_to_timestamp(i64::MIN);
        assert!((0..1_000_000_000).contains(&extreme.nanos));
        let extreme = postgres_time_to_timestamp(i64::MAX);
        assert!((0..1_000_000_000).contains(&extreme.nanos));
    }
}
