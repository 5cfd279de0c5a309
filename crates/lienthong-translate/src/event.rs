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
    ChangeEvent, Column, Date, LocalDateTime, PostgresPosition, SourcePosition, TimeOfDay, Value,
};
use prost::Message;
use prost_types::Timestamp;

use crate::mapping::{ColumnId, ColumnIndex, Positions};

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
    /// Where a mapping's columns are in the row images, when the event was read with that
    /// mapping's columns at hand ([`EventRef::read_for`]).
    pub(crate) located: Option<Located<'a>>,
}

/// The columns of one [`ColumnIndex`] found in an event's row images as they were read.
#[derive(Debug, Clone)]
pub(crate) struct Located<'a> {
    pub(crate) index: &'a ColumnIndex,
    pub(crate) before: Positions,
    pub(crate) after: Positions,
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
            located: None,
        }
    }

    /// Reads an encoded `ChangeEvent` in place; `None` when the bytes are not in the plain form
    /// the reader handles (see the module documentation), whether or not prost can decode them.
    #[cfg(test)]
    pub(crate) fn read(bytes: &'a [u8]) -> Option<Self> {
        read_event(bytes, |_, _, _| None).ok()
    }

    /// [`EventRef::read`], with the columns of the mapping of the event's table at hand:
    /// `columns_of(source_id, schema, table)` gives them, asked once, before the first row.
    ///
    /// The rows are then located as they are read ([`EventRef::located`]), and a column name
    /// that is one of the mapping's is taken from the mapping instead of being checked as UTF-8
    /// (the same bytes, known to be text). The view is the same as [`EventRef::read`]'s.
    pub(crate) fn read_for(
        bytes: &'a [u8],
        columns_of: impl FnOnce(&str, &str, &str) -> Option<&'a ColumnIndex>,
    ) -> Option<Self> {
        read_event(bytes, columns_of).ok()
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

    /// The varint field `number` when it comes next with a one-byte key, as [`Fields::bytes_of`]
    /// for length-delimited fields.
    #[inline]
    fn varint_of(&mut self, number: u8) -> Read<Option<u64>> {
        if self.rest.first() != Some(&(number << 3)) {
            return Ok(None);
        }
        self.rest = &self.rest[1..];
        self.varint().map(Some)
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

fn read_event<'a>(
    bytes: &'a [u8],
    columns_of: impl FnOnce(&str, &str, &str) -> Option<&'a ColumnIndex>,
) -> Read<EventRef<'a>> {
    let mut event = EventRef::default();
    let mut fields = Fields::new(bytes);
    // Asked for at the first row or key column: encoders write the table's names before.
    let mut columns_of = Some(columns_of);
    let mut index: Option<&'a ColumnIndex> = None;
    let mut positions: Option<(Positions, Positions)> = None;
    while let Some((number, data)) = fields.next()? {
        if !matches!(number, 8 | 14) {
            fields.once(number)?;
        }
        if matches!(number, 6..=8)
            && let Some(find) = columns_of.take()
        {
            index = find(event.source_id, event.schema, event.table);
            // The row before a change is there for updates and deletes only: its positions
            // are made when it comes.
            positions = index.map(|i| (Positions::none(), i.no_positions()));
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
            (6, Data::Bytes(b)) => {
                if let (Some(index), Some(positions)) = (index, positions.as_mut()) {
                    positions.0 = index.no_positions();
                }
                event.before = read_row(b, index, positions.as_mut().map(|p| &mut p.0))?;
            }
            (7, Data::Bytes(b)) => {
                event.after = read_row(b, index, positions.as_mut().map(|p| &mut p.1))?;
            }
            (8, Data::Bytes(b)) => event.key.push(read_column(b, index)?.0),
            (10, Data::Bytes(b)) => event.position = Some(read_position(b)?),
            (11, Data::Bytes(b)) => event.commit_time = Some(read_timestamp(b)?),
            (12, Data::Bytes(b)) => event.capture_time = Some(read_timestamp(b)?),
            // schema_version, last_in_transaction.
            (13 | 15, Data::Varint(_)) => {}
            (14, Data::Bytes(b)) => check_column_schema(b)?,
            _ => return Err(NotPlain),
        }
    }
    if let (Some(index), Some((before, after))) = (index, positions) {
        event.located = Some(Located {
            index,
            before,
            after,
        });
    }
    Ok(event)
}

/// A `google.protobuf.Timestamp` of the plain form (seconds, then nanos, each at most once),
/// read as prost reads it; anything else is left to prost.
fn read_timestamp(bytes: &[u8]) -> Read<Timestamp> {
    let mut timestamp = Timestamp::default();
    let mut fields = Fields::new(bytes);
    // Seconds then nanos, as encoders write them, read directly; the rest field by field.
    if let Some(seconds) = fields.varint_of(1)? {
        fields.once(1)?;
        timestamp.seconds = seconds as i64;
    }
    if let Some(nanos) = fields.varint_of(2)? {
        fields.once(2)?;
        timestamp.nanos = nanos as i32;
    }
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1, Data::Varint(v)) => timestamp.seconds = v as i64,
            (2, Data::Varint(v)) => timestamp.nanos = v as i32,
            _ => return Err(NotPlain),
        }
    }
    Ok(timestamp)
}

/// A source position, decoded by prost. A poll cursor holding an array is left to the whole
/// decode: arrays nest, and prost's nesting limit counts from the event.
fn read_position(bytes: &[u8]) -> Read<SourcePosition> {
    if let Some(postgres) = read_postgres_position(bytes) {
        return Ok(SourcePosition {
            kind: Some(PositionKind::Postgres(postgres)),
        });
    }
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

/// A `SourcePosition` holding a `PostgresPosition` in the plain form (every source of
/// PostgreSQL writes it so), read without prost; `None` for anything else, which
/// [`read_position`] leaves to prost.
fn read_postgres_position(bytes: &[u8]) -> Option<PostgresPosition> {
    let mut outer = Fields::new(bytes);
    let inner = outer.bytes_of(1).ok()??;
    if !outer.rest.is_empty() {
        return None;
    }
    let mut position = PostgresPosition::default();
    let mut fields = Fields::new(inner);
    while let Some((number, data)) = fields.next().ok()? {
        fields.once(number).ok()?;
        match (number, data) {
            (1, Data::Varint(v)) => position.commit_lsn = v,
            (2, Data::Varint(v)) => position.lsn = v,
            (3, Data::Varint(v)) => position.sequence = v,
            // uint32: the low 32 bits, as prost reads it.
            (4, Data::Varint(v)) => position.xid = v as u32,
            _ => return None,
        }
    }
    Some(position)
}

/// The columns of a row; with a mapping's `index`, each of its columns is located in
/// `positions` (first occurrence) as it is read.
fn read_row<'a>(
    bytes: &'a [u8],
    index: Option<&'a ColumnIndex>,
    mut positions: Option<&mut Positions>,
) -> Read<Vec<ColumnRef<'a>>> {
    // A column takes some 20 to 40 bytes: room for all of them at once, mostly, instead of
    // growing the vector four or five times (bounded for rows of long texts).
    let mut columns = Vec::with_capacity((bytes.len() / 20 + 1).min(128));
    let mut fields = Fields::new(bytes);
    // The last of the mapping's columns found, for guessing the next (see `find_next`).
    let mut previous = None;
    loop {
        let column = match fields.bytes_of(1)? {
            Some(column) => column,
            None => match fields.next()? {
                None => break,
                Some((1, Data::Bytes(column))) => column,
                Some(_) => return Err(NotPlain),
            },
        };
        let (column, id) = match plain_column(column) {
            Some((name, value)) => {
                let (name, id) = match index.and_then(|index| index.find_next(name, previous)) {
                    Some((known, id)) => (known, Some(id)),
                    None => (text(name)?, None),
                };
                let value = match value {
                    // Text with a length below 128, alone: most values, read here directly.
                    Some([0x3A, len @ ..0x80, text_bytes @ ..])
                        if text_bytes.len() == usize::from(*len) =>
                    {
                        ValueRef::Text(text(text_bytes)?)
                    }
                    Some(value) => read_value(value)?,
                    None => ValueRef::Null,
                };
                (ColumnRef { name, value }, id)
            }
            None => read_column(column, index)?,
        };
        if let Some(id) = id {
            previous = Some(id);
            if let Some(positions) = positions.as_deref_mut() {
                positions.found(id, columns.len());
            }
        }
        columns.push(column);
    }
    Ok(columns)
}

/// The name and value of a column as every encoder writes one: the name (a length below 128),
/// then the value if any (the same), and nothing else; `None` for any other form, which
/// [`read_column`] reads field by field.
#[inline]
fn plain_column(bytes: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let [0x0A, name_len @ ..0x80, rest @ ..] = bytes else {
        return None;
    };
    let (name, rest) = rest.split_at_checked(usize::from(*name_len))?;
    match rest {
        [] => Some((name, None)),
        [0x12, value_len @ ..0x80, value @ ..] if value.len() == usize::from(*value_len) => {
            Some((name, Some(value)))
        }
        _ => None,
    }
}

/// A column, and its id when it is one of `index`'s.
#[inline]
fn read_column<'a>(
    bytes: &'a [u8],
    index: Option<&'a ColumnIndex>,
) -> Read<(ColumnRef<'a>, Option<ColumnId>)> {
    let mut column = ColumnRef {
        name: "",
        value: ValueRef::Null,
    };
    let mut id = None;
    let mut fields = Fields::new(bytes);
    // Name then value, as encoders write them, read directly; the rest field by field.
    if let Some(name) = fields.bytes_of(1)? {
        fields.once(1)?;
        (column.name, id) = named(name, index, None)?;
    }
    if let Some(value) = fields.bytes_of(2)? {
        fields.once(2)?;
        column.value = read_value(value)?;
    }
    while let Some((number, data)) = fields.next()? {
        fields.once(number)?;
        match (number, data) {
            (1, Data::Bytes(b)) => (column.name, id) = named(b, index, None)?,
            (2, Data::Bytes(b)) => column.value = read_value(b)?,
            // source_type
            (3, Data::Bytes(b)) => {
                text(b)?;
            }
            _ => return Err(NotPlain),
        }
    }
    Ok((column, id))
}

/// A column name: the mapping's own text when it is one of `index`'s columns (the same bytes,
/// so nothing to check), else the bytes checked as UTF-8.
#[inline]
fn named<'a>(
    name: &'a [u8],
    index: Option<&'a ColumnIndex>,
    previous: Option<ColumnId>,
) -> Read<(&'a str, Option<ColumnId>)> {
    if let Some((known, id)) = index.and_then(|index| index.find_next(name, previous)) {
        return Ok((known, Some(id)));
    }
    Ok((text(name)?, None))
}

#[inline]
fn read_value(bytes: &[u8]) -> Read<ValueRef<'_>> {
    // The forms most values take, each kind's field alone in the value, read directly.
    match bytes {
        // Text with a length below 128.
        [0x3A, len @ ..0x80, text_bytes @ ..] if text_bytes.len() == usize::from(*len) => {
            return Ok(ValueRef::Text(text(text_bytes)?));
        }
        // NULL.
        [0x08, ..0x80] => return Ok(ValueRef::Null),
        // A whole date whose year takes two bytes (128 to 16383): year, month, day.
        [
            0x4A,
            7,
            0x08,
            low @ 0x80..=0xFF,
            high @ ..0x80,
            0x10,
            month @ ..0x80,
            0x18,
            day @ ..0x80,
        ] => {
            return Ok(ValueRef::Date(Date {
                year: i32::from(low & 0x7F) | i32::from(*high) << 7,
                month: i32::from(*month),
                day: i32::from(*day),
            }));
        }
        // A decimal of a short text.
        [0x32, len @ ..0x80, 0x0A, value_len @ ..0x80, value @ ..]
            if usize::from(*len) == value.len() + 2 && value.len() == usize::from(*value_len) =>
        {
            return Ok(ValueRef::Decimal(text(value)?));
        }
        _ => {}
    }
    let mut fields = Fields::new(bytes);
    // The kinds most columns hold, read directly: the kind's field alone in the value.
    let only = |fields: &Fields<'_>, value| match fields.rest {
        [] => Ok(value),
        _ => Err(NotPlain),
    };
    if let Some(text_bytes) = fields.bytes_of(7)? {
        return only(&fields, ValueRef::Text(text(text_bytes)?));
    }
    if let Some(v) = fields.varint_of(3)? {
        return only(&fields, ValueRef::Int(zigzag(v)));
    }
    if let Some(date) = fields.bytes_of(9)? {
        return only(&fields, ValueRef::Date(read_date(date)?));
    }
    if let Some(timestamp) = fields.bytes_of(12)? {
        return only(
            &fields,
            ValueRef::Timestamp(read_timestamp(timestamp)?.seconds),
        );
    }
    let Some((number, data)) = fields.next()? else {
        return Ok(ValueRef::Null);
    };
    let value = match (number, data) {
        (1, Data::Varint(_)) => ValueRef::Null,
        (2, Data::Varint(v)) => ValueRef::Bool(v != 0),
        (3, Data::Varint(v)) => ValueRef::Int(zigzag(v)),
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

/// A `sint64` as prost reads it: zigzag.
#[inline]
fn zigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A `Date`: three int32 fields, read as prost reads them (the low 32 bits of the varint).
fn read_date(bytes: &[u8]) -> Read<Date> {
    let mut date = Date::default();
    let mut fields = Fields::new(bytes);
    // Year, month and day in order, as encoders write a whole date, read directly; then
    // whatever else field by field (a part that is 0 is not written).
    if let Some(year) = fields.varint_of(1)? {
        fields.once(1)?;
        date.year = year as i32;
        if let Some(month) = fields.varint_of(2)? {
            fields.once(2)?;
            date.month = month as i32;
            if let Some(day) = fields.varint_of(3)? {
                fields.once(3)?;
                date.day = day as i32;
            }
        }
    }
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
