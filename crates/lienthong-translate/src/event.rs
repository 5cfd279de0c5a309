//! Change events read in place: the parts of a `lienthong.v1.ChangeEvent` that the mapping
//! engine uses, borrowed instead of copied.
//!
//! Decoding an event into [`ChangeEvent`] copies every column name and every text value into a
//! string of its own, only for the engine to read each of them once. [`EventRef::read`] reads the
//! protobuf bytes where they lie: names and texts are slices of the record, and only the row
//! vectors are allocated. [`EventRef::of`] gives the same view of an event already decoded, so
//! [`crate::Mapping::apply`] and the stage run one engine.
//!
//! The reader handles the encoding every protobuf library writes: each known field with its
//! declared wire type, singular fields once. Anything else (unknown fields, a singular field
//! repeated, array values, groups, malformed bytes) is left to prost: `read` answers `None` and
//! the caller decodes the event with prost and takes [`EventRef::of`] of it, so every input
//! is accepted or rejected exactly as prost decides, with prost's error. The tests check that
//! whatever `read` accepts, prost decodes to the same view.

use lienthong_proto::v1::source_position::Kind as PositionKind;
use lienthong_proto::v1::value::Kind;
use lienthong_proto::v1::{
    ChangeEvent, Column, Date, LocalDateTime, SourcePosition, TimeOfDay, Value,
};
use prost::Message;
use prost_types::Timestamp;

/// The parts of a change event the mapping engine reads. A row image the event lacks is empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventRef<'a> {
    pub(crate) source_id: &'a str,
    pub(crate) schema: &'a str,
    pub(crate) table: &'a str,
    /// `lienthong.v1.Operation`, as sent (unknown values included).
    pub(crate) op: i32,
    pub(crate) before: Vec<ColumnRef<'a>>,
    pub(crate) after: Vec<ColumnRef<'a>>,
    pub(crate) key: Vec<ColumnRef<'a>>,
    pub(crate) position: Option<SourcePosition>,
    pub(crate) commit_time: Option<Timestamp>,
    pub(crate) capture_time: Option<Timestamp>,
}

/// One column of a row image or of the key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnRef<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: ValueRef<'a>,
}

/// A column value, borrowed. The five text kinds of `lienthong.v1.Value` (text, UUID, JSON, raw
/// text, interval) are all [`ValueRef::Text`]: the engine reads them alike.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueRef<'a> {
    /// SQL NULL, or no value at all.
    Null,
    /// Not sent because it did not change (not NULL: the row before has it).
    Unchanged,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal(&'a str),
    Text(&'a str),
    Bytes(&'a [u8]),
    Date(Date),
    Time(TimeOfDay),
    /// A date and time without zone: its date.
    DateTime(Date),
    /// An instant: its seconds since the Unix epoch.
    Timestamp(i64),
    /// An array (only from a decoded event: the reader leaves arrays to prost).
    Array(&'a [Value]),
}

impl<'a> EventRef<'a> {
    /// The view of a decoded event.
    pub(crate) fn of(event: &'a ChangeEvent) -> Self {
        let columns = |row: &'a Option<lienthong_proto::v1::Row>| {
            row.as_ref()
                .map_or_else(Vec::new, |r| r.columns.iter().map(ColumnRef::of).collect())
        };
        EventRef {
            source_id: &event.source_id,
            schema: &event.schema,
            table: &event.table,
            op: event.op,
            before: columns(&event.before),
            after: columns(&event.after),
            key: event.key.iter().map(ColumnRef::of).collect(),
            position: event.position.clone(),
            commit_time: event.commit_time,
            capture_time: event.capture_time,
        }
    }

    /// Reads an encoded `ChangeEvent` in place; `None` when the bytes are not in the plain form
    /// the reader handles (see the module documentation), whether or not prost can decode them.
    pub(crate) fn read(bytes: &'a [u8]) -> Option<Self> {
        read_event(bytes).ok()
    }
}

impl<'a> ColumnRef<'a> {
    fn of(column: &'a Column) -> Self {
        ColumnRef {
            name: &column.name,
            value: ValueRef::of(column.value.as_ref()),
        }
    }
}

impl<'a> ValueRef<'a> {
    /// The view of a decoded value (`None`: the column had no value).
    pub(crate) fn of(value: Option<&'a Value>) -> Self {
        let Some(kind) = value.and_then(|v| v.kind.as_ref()) else {
            return ValueRef::Null;
        };
        match kind {
            Kind::Null(_) => ValueRef::Null,
            Kind::Unchanged(_) => ValueRef::Unchanged,
            Kind::BoolValue(b) => ValueRef::Bool(*b),
            Kind::IntValue(i) => ValueRef::Int(*i),
            Kind::UintValue(u) => ValueRef::UInt(*u),
            Kind::FloatValue(f) => ValueRef::Float(*f),
            Kind::DecimalValue(d) => ValueRef::Decimal(&d.value),
            Kind::TextValue(s)
            | Kind::UuidValue(s)
            | Kind::JsonValue(s)
            | Kind::RawText(s)
            | Kind::IntervalValue(s) => ValueRef::Text(s),
            Kind::BytesValue(b) => ValueRef::Bytes(b),
            Kind::DateValue(d) => ValueRef::Date(*d),
            Kind::TimeValue(t) => ValueRef::Time(*t),
            Kind::DatetimeValue(dt) => ValueRef::DateTime(dt.date.unwrap_or_default()),
            Kind::TimestampValue(ts) => ValueRef::Timestamp(ts.seconds),
            Kind::ArrayValue(list) => ValueRef::Array(&list.values),
        }
    }
}

/// The bytes are not in the form the reader handles; prost decides about them.
#[derive(Debug)]
struct NotPlain;

type Read<T> = Result<T, NotPlain>;

/// One field of a message: its number and its data by wire type.
enum Data<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32,
    Bytes(&'a [u8]),
}

/// The fields of one message, in order.
struct Fields<'a> {
    rest: &'a [u8],
    /// Singular fields already read (bit = field number), to leave repeats to prost, which
    /// merges them.
    seen: u64,
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields {
            rest: bytes,
            seen: 0,
        }
    }

    #[inline]
    fn next(&mut self) -> Read<Option<(u32, Data<'a>)>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        // As prost: a key beyond 32 bits, or field number 0, is an error.
        let key = u32::try_from(key).map_err(|_| NotPlain)?;
        let number = key >> 3;
        if number == 0 {
            return Err(NotPlain);
        }
        let data = match key & 7 {
            0 => Data::Varint(self.varint()?),
            1 => Data::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| NotPlain)?;
                Data::Bytes(self.take(len)?)
            }
            5 => {
                self.take_array::<4>()?;
                Data::Fixed32
            }
            // Groups (3, 4) and the undefined wire types 6 and 7.
            _ => return Err(NotPlain),
        };
        Ok(Some((number, data)))
    }

    /// The bytes of length-delimited field `number` when it comes next with a one-byte key (as
    /// every encoder writes fields 1-15), without going through [`Fields::next`].
    #[inline]
    fn bytes_of(&mut self, number: u8) -> Read<Option<&'a [u8]>> {
        if self.rest.first() != Some(&(number << 3 | 2)) {
            return Ok(None);
        }
        self.rest = &self.rest[1..];
        let len = usize::try_from(self.varint()?).map_err(|_| NotPlain)?;
        self.take(len).map(Some)
    }

    /// Marks singular field `number` as read; a second occurrence is not plain.
    #[inline]
    fn once(&mut self, number: u32) -> Read<()> {
        let bit = 1u64.checked_shl(number).ok_or(NotPlain)?;
        if self.seen & bit != 0 {
            return Err(NotPlain);
        }
        self.seen |= bit;
        Ok(())
    }

    /// A base-128 varint of at most ten bytes, the tenth holding only the top bit, as prost
    /// accepts them.
    #[inline]
    fn varint(&mut self) -> Read<u64> {
        match self.rest.first() {
            Some(&byte) if byte < 0x80 => {
                self.rest = &self.rest[1..];
                Ok(u64::from(byte))
            }
            _ => self.long_varint(),
        }
    }

    fn long_varint(&mut self) -> Read<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7F) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(NotPlain);
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err(NotPlain)
    }

    #[inline]
    fn take(&mut self, len: usize) -> Read<&'a [u8]> {
        if len > self.rest.len() {
            return Err(NotPlain);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    #[inline]
    fn take_array<const N: usize>(&mut self) -> Read<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| NotPlain)
    }
}

#[inline]
fn text(bytes: &[u8]) -> Read<&str> {
    std::str::from_utf8(bytes).map_err(|_| NotPlain)
}

/// A nested message of fixed-size fields, decoded by prost (no allocation).
fn nested<M: Message + Default>(bytes: &[u8]) -> Read<M> {
    M::decode(bytes).map_err(|_| NotPlain)
}

fn read_event(bytes: &[u8]) -> Read<EventRef<'_>> {
    let mut event = EventRef::default();
    let mut fields = Fields::new(bytes);
    while let Some((number, data)) = fields.next()? {
        if !matches!(number, 8 | 14) {
            fields.once(number)?;
        }
        match (number, data) {
            (1, Data::Bytes(b)) => event.source_id = text(b)?,
            (3, Data::Bytes(b)) => event.schema = text(b)?,
            (4, Data::Bytes(b)) => event.table = text(b)?,
            // database, transaction_id: not used, but prost checks that they are text.
            (2 | 9, Data::Bytes(b)) => {
                text(b)?;
            }
            // prost reads an enum as the low 32 bits of the varint.
            (5, Data::Varint(v)) => event.op = v as i32,
            (6, Data::Bytes(b)) => event.before = read_row(b)?,
            (7, Data::Bytes(b)) => event.after = read_row(b)?,
            (8, Data::Bytes(b)) => event.key.push(read_column(b)?),
            (10, Data::Bytes(b)) => event.position = Some(read_position(b)?),
            (11, Data::Bytes(b)) => event.commit_time = Some(nested(b)?),
            (12, Data::Bytes(b)) => event.capture_time = Some(nested(b)?),
            // schema_version, last_in_transaction.
            (13 | 15, Data::Varint(_)) => {}
            (14, Data::Bytes(b)) => check_column_schema(b)?,
            _ => return Err(NotPlain),
        }
    }
    Ok(event)
}

/// A source position, decoded by prost. A poll cursor holding an array is left to the whole
/// decode: arrays nest, and prost's nesting limit counts from the event.
fn read_position(bytes: &[u8]) -> Read<SourcePosition> {
    let position: SourcePosition = nested(bytes)?;
    if let Some(PositionKind::Poll(poll)) = &position.kind
        && poll
            .cursor
            .iter()
            .any(|v| matches!(v.kind, Some(Kind::ArrayValue(_))))
    {
        return Err(NotPlain);
    }
    Ok(position)
}

fn read_row(bytes: &[u8]) -> Read<Vec<ColumnRef<'_>>> {
    let mut columns = Vec::new();
    let mut fields = Fields::new(bytes);
    while let Some(column) = fields.bytes_of(1)? {
        columns.push(read_column(column)?);
    }
    while let Some((number, data)) = fields.next()? {
        match (number, data) {
            (1, Data::Bytes(b)) => columns.push(read_column(b)?),
            _ => return Err(NotPlain),
        }
    }
    Ok(columns)
}

#[inline]
fn read_column(bytes: &[u8]) -> Read<ColumnRef<'_>> {
    let mut column = ColumnRef {
        name: "",
        value: ValueRef::Null,
    };
    let mut fields = Fields::new(bytes);
    // Name then value, as encoders write them, read directly; the rest field by field.
    if let Some(name) = fields.bytes_of(1)? {
        fields.once(1)?;
        column.name = text(name)?;
    }
    if let Some(value) = fields.bytes_of(2)? {
        fields.once(2)?;
        column.value = read_value(value)?;
    }
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1, Data::Bytes(b)) => column.name = text(b)?,
            (2, Data::Bytes(b)) => column.value = read_value(b)?,
            // source_type
            (3, Data::Bytes(b)) => {
                text(b)?;
            }
            _ => return Err(NotPlain),
        }
    }
    Ok(column)
}

#[inline]
fn read_value(bytes: &[u8]) -> Read<ValueRef<'_>> {
    let mut fields = Fields::new(bytes);
    // Text is most columns' kind: read it directly.
    if let Some(text_bytes) = fields.bytes_of(7)? {
        return match fields.rest {
            [] => Ok(ValueRef::Text(text(text_bytes)?)),
            _ => Err(NotPlain),
        };
    }
    let Some((number, data)) = fields.next()? else {
        return Ok(ValueRef::Null);
    };
    let value = match (number, data) {
        (1, Data::Varint(_)) => ValueRef::Null,
        (2, Data::Varint(v)) => ValueRef::Bool(v != 0),
        // sint64: zigzag.
        (3, Data::Varint(v)) => ValueRef::Int(((v >> 1) as i64) ^ -((v & 1) as i64)),
        (4, Data::Varint(v)) => ValueRef::UInt(v),
        (5, Data::Fixed64(bits)) => ValueRef::Float(f64::from_bits(bits)),
        (6, Data::Bytes(b)) => ValueRef::Decimal(read_decimal(b)?),
        (7 | 13 | 14 | 17 | 18, Data::Bytes(b)) => ValueRef::Text(text(b)?),
        (8, Data::Bytes(b)) => ValueRef::Bytes(b),
        (9, Data::Bytes(b)) => ValueRef::Date(read_date(b)?),
        (10, Data::Bytes(b)) => ValueRef::Time(nested(b)?),
        (11, Data::Bytes(b)) => {
            ValueRef::DateTime(nested::<LocalDateTime>(b)?.date.unwrap_or_default())
        }
        (12, Data::Bytes(b)) => ValueRef::Timestamp(nested::<Timestamp>(b)?.seconds),
        (16, Data::Varint(_)) => ValueRef::Unchanged,
        _ => return Err(NotPlain),
    };
    // A second kind replaces or merges into the first in prost.
    if fields.next()?.is_some() {
        return Err(NotPlain);
    }
    Ok(value)
}

/// A `Date`: three int32 fields, read as prost reads them (the low 32 bits of the varint).
fn read_date(bytes: &[u8]) -> Read<Date> {
    let mut date = Date::default();
    let mut fields = Fields::new(bytes);
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1, Data::Varint(v)) => date.year = v as i32,
            (2, Data::Varint(v)) => date.month = v as i32,
            (3, Data::Varint(v)) => date.day = v as i32,
            _ => return Err(NotPlain),
        }
    }
    Ok(date)
}

fn read_decimal(bytes: &[u8]) -> Read<&str> {
    let mut value = "";
    let mut fields = Fields::new(bytes);
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1, Data::Bytes(b)) => value = text(b)?,
            _ => return Err(NotPlain),
        }
    }
    Ok(value)
}

/// `ColumnSchema`: checked as prost would check it, not kept.
fn check_column_schema(bytes: &[u8]) -> Read<()> {
    let mut fields = Fields::new(bytes);
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1 | 2, Data::Bytes(b)) => {
                text(b)?;
            }
            (3 | 4, Data::Varint(_)) => {}
            _ => return Err(NotPlain),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
