//! TABLE_MAP_EVENT: the shape of a table, sent before the row events that change it.
//!
//! A table map gives a table id (valid until the next table map for the same table, and only in
//! this stream) the table's name, each column's type code and type metadata (string lengths,
//! decimal precision, fractional-second digits, ...) and which columns may be NULL. That is
//! enough to split a row image into values, not always to interpret them: signedness, character
//! sets, column names and ENUM/SET labels are in the *optional metadata* block, which the server
//! writes according to `binlog_row_metadata` (MySQL 8.0.1+, MariaDB 10.5+):
//!
//! | setting | what the optional metadata holds |
//! |---|---|
//! | `NO_LOG` (MariaDB's default) | nothing |
//! | `MINIMAL` (MySQL's default) | signedness, character sets, geometry types |
//! | `FULL` | also column names, ENUM/SET labels, primary key, (MySQL) column visibility |
//!
//! What the table map lacks, the connector supplies from `information_schema` as
//! [`ColumnFacts`](super::schema::ColumnFacts); [`TableSchema`](super::schema::TableSchema) joins
//! the two.

use super::error::DecodeError;
use super::format::ServerFlavor;
use super::header::event_type;
use super::reader::{Bitmap, Reader};

/// Column type codes (`enum_field_types`) as they appear in a table map.
pub mod type_code {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    /// MariaDB: a `VARCHAR ... COMPRESSED` column.
    pub const MARIADB_BLOB_COMPRESSED: u8 = 140;
    /// MariaDB: a `BLOB`/`TEXT ... COMPRESSED` column.
    pub const MARIADB_VARCHAR_COMPRESSED: u8 = 141;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}

/// A column's type with the metadata that shapes its values in a row image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `TINYINT` (1 byte).
    Tiny,
    /// `SMALLINT` (2 bytes).
    Short,
    /// `MEDIUMINT` (3 bytes).
    Int24,
    /// `INT` (4 bytes).
    Long,
    /// `BIGINT` (8 bytes).
    LongLong,
    Float,
    Double,
    /// `DECIMAL(precision, scale)`.
    NewDecimal {
        precision: u8,
        scale: u8,
    },
    /// The pre-5.0 `DECIMAL` (stored as text); not decodable from a row image.
    OldDecimal,
    /// A column of type NULL (never holds a value).
    Null,
    Year,
    Date,
    /// Old `TIME` format (no fractions).
    Time,
    /// Old `DATETIME` format (no fractions).
    DateTime,
    /// Old `TIMESTAMP` format (no fractions).
    Timestamp,
    Time2 {
        fractional_digits: u8,
    },
    DateTime2 {
        fractional_digits: u8,
    },
    Timestamp2 {
        fractional_digits: u8,
    },
    /// `VARCHAR`/`VARBINARY`; the maximum length is in bytes.
    VarChar {
        max_length: u16,
    },
    /// `CHAR`/`BINARY`; the maximum length is in bytes.
    String {
        max_length: u16,
    },
    /// `ENUM`, stored as its 1-based index in 1 or 2 bytes.
    Enum {
        pack_length: u8,
    },
    /// `SET`, stored as a bitmask of 1–8 bytes.
    Set {
        pack_length: u8,
    },
    /// `BIT(bits)`.
    Bit {
        bits: u16,
    },
    /// `BLOB`/`TEXT` of any size (and MariaDB's `JSON`); the length prefix takes 1–4 bytes.
    Blob {
        length_bytes: u8,
    },
    /// MySQL's binary `JSON`.
    Json {
        length_bytes: u8,
    },
    /// Any spatial type: 4-byte SRID then WKB.
    Geometry {
        length_bytes: u8,
    },
    /// MariaDB's compressed `BLOB`/`TEXT`; not decodable here.
    BlobCompressed {
        length_bytes: u8,
    },
    /// MariaDB's compressed `VARCHAR`; not decodable here.
    VarCharCompressed {
        max_length: u16,
    },
}

impl ColumnType {
    /// The SQL name of the type family, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Tiny => "TINYINT",
            Self::Short => "SMALLINT",
            Self::Int24 => "MEDIUMINT",
            Self::Long => "INT",
            Self::LongLong => "BIGINT",
            Self::Float => "FLOAT",
            Self::Double => "DOUBLE",
            Self::NewDecimal { .. } => "DECIMAL",
            Self::OldDecimal => "DECIMAL (pre-5.0)",
            Self::Null => "NULL",
            Self::Year => "YEAR",
            Self::Date => "DATE",
            Self::Time | Self::Time2 { .. } => "TIME",
            Self::DateTime | Self::DateTime2 { .. } => "DATETIME",
            Self::Timestamp | Self::Timestamp2 { .. } => "TIMESTAMP",
            Self::VarChar { .. } => "VARCHAR",
            Self::String { .. } => "CHAR",
            Self::Enum { .. } => "ENUM",
            Self::Set { .. } => "SET",
            Self::Bit { .. } => "BIT",
            Self::Blob { .. } => "BLOB",
            Self::Json { .. } => "JSON",
            Self::Geometry { .. } => "GEOMETRY",
            Self::BlobCompressed { .. } => "BLOB COMPRESSED",
            Self::VarCharCompressed { .. } => "VARCHAR COMPRESSED",
        }
    }

    /// Whether the column is an integer, floating-point or decimal number (the types `UNSIGNED`
    /// applies to).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Self::Tiny
                | Self::Short
                | Self::Int24
                | Self::Long
                | Self::LongLong
                | Self::Float
                | Self::Double
                | Self::NewDecimal { .. }
        )
    }

    /// Whether the column holds bytes in a character set: the string and BLOB/TEXT types
    /// (binary ones have the `binary` collation, 63).
    pub fn is_character(&self) -> bool {
        matches!(
            self,
            Self::VarChar { .. }
                | Self::String { .. }
                | Self::Blob { .. }
                | Self::BlobCompressed { .. }
                | Self::VarCharCompressed { .. }
        )
    }

    /// Whether the optional metadata's ENUM/SET character set lists have an entry for it.
    pub fn is_enum_or_set(&self) -> bool {
        matches!(self, Self::Enum { .. } | Self::Set { .. })
    }

    /// Whether the optional metadata's signedness bitmap has a bit for this column. MariaDB
    /// gives `YEAR` one too (its YEAR is an unsigned TINYINT inside the server); MySQL does not.
    pub fn in_signedness_list(&self, flavor: ServerFlavor) -> bool {
        self.is_numeric() || (flavor == ServerFlavor::MariaDb && *self == Self::Year)
    }

    /// Whether the optional metadata's character set lists have an entry for this column.
    /// MariaDB lists spatial columns too (with the binary collation: they are BLOBs inside the
    /// server); MySQL does not.
    pub fn in_charset_list(&self, flavor: ServerFlavor) -> bool {
        self.is_character()
            || (flavor == ServerFlavor::MariaDb && matches!(self, Self::Geometry { .. }))
    }

    /// Reads a column's type metadata for `code` from the table map's metadata block.
    fn read(code: u8, column: usize, metadata: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use type_code::*;
        let one = |metadata: &mut Reader<'_>| metadata.u8("column metadata");
        Ok(match code {
            DECIMAL => Self::OldDecimal,
            TINY => Self::Tiny,
            SHORT => Self::Short,
            INT24 => Self::Int24,
            LONG => Self::Long,
            LONGLONG => Self::LongLong,
            FLOAT => {
                one(metadata)?;
                Self::Float
            }
            DOUBLE => {
                one(metadata)?;
                Self::Double
            }
            NULL => Self::Null,
            TIMESTAMP => Self::Timestamp,
            DATE | NEWDATE => Self::Date,
            TIME => Self::Time,
            DATETIME => Self::DateTime,
            YEAR => Self::Year,
            VARCHAR | VAR_STRING => Self::VarChar {
                max_length: metadata.u16("column metadata")?,
            },
            MARIADB_VARCHAR_COMPRESSED => Self::VarCharCompressed {
                max_length: metadata.u16("column metadata")?,
            },
            BIT => {
                let bits = one(metadata)?;
                let bytes = one(metadata)?;
                Self::Bit {
                    bits: u16::from(bytes) * 8 + u16::from(bits),
                }
            }
            TIMESTAMP2 => Self::Timestamp2 {
                fractional_digits: one(metadata)?,
            },
            DATETIME2 => Self::DateTime2 {
                fractional_digits: one(metadata)?,
            },
            TIME2 => Self::Time2 {
                fractional_digits: one(metadata)?,
            },
            JSON => Self::Json {
                length_bytes: one(metadata)?,
            },
            GEOMETRY => Self::Geometry {
                length_bytes: one(metadata)?,
            },
            TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB => Self::Blob {
                length_bytes: one(metadata)?,
            },
            MARIADB_BLOB_COMPRESSED => Self::BlobCompressed {
                length_bytes: one(metadata)?,
            },
            NEWDECIMAL => Self::NewDecimal {
                precision: one(metadata)?,
                scale: one(metadata)?,
            },
            STRING | ENUM | SET => {
                let real_type = one(metadata)?;
                let length = one(metadata)?;
                Self::from_string_metadata(real_type, length, column)?
            }
            type_code => return Err(DecodeError::UnknownColumnType { column, type_code }),
        })
    }

    /// `CHAR`, `ENUM` and `SET` all travel as type STRING with two metadata bytes: the real type
    /// and the length. A `CHAR` longer than 255 bytes (`CHAR(255)` in utf8mb4 is 1020) keeps the
    /// two high bits of its 10-bit length in bits 4–5 of the real type byte, inverted: real type
    /// bytes always have both bits set, so a byte with either clear carries a long length.
    fn from_string_metadata(real_type: u8, length: u8, column: usize) -> Result<Self, DecodeError> {
        let (real_type, max_length) = if real_type & 0x30 != 0x30 {
            (
                real_type | 0x30,
                u16::from(length) | (u16::from((real_type & 0x30) ^ 0x30) << 4),
            )
        } else {
            (real_type, u16::from(length))
        };
        match real_type {
            type_code::STRING => Ok(Self::String { max_length }),
            type_code::ENUM => Ok(Self::Enum {
                pack_length: length,
            }),
            type_code::SET => Ok(Self::Set {
                pack_length: length,
            }),
            type_code => Err(DecodeError::UnknownColumnType { column, type_code }),
        }
    }
}

/// One column of a [`TableMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableMapColumn {
    /// The type code as written (STRING for `CHAR`, `ENUM` and `SET`).
    pub type_code: u8,
    pub column_type: ColumnType,
    pub nullable: bool,
}

/// A character set declaration of the optional metadata: the collation most columns use, and the
/// columns (by their position among the columns the list covers) that use another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DefaultCharset {
    pub default_collation: u16,
    pub exceptions: Vec<(usize, u16)>,
}

/// The optional metadata block of a table map, as written: lists with one entry per column *of
/// the kind the list covers* (numeric columns for signedness, character columns for charsets,
/// ...). [`TableSchema`](super::schema::TableSchema) assigns the entries to columns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OptionalMetadata {
    /// One flag per numeric column, `true` for `UNSIGNED`.
    pub signedness: Option<Vec<bool>>,
    pub default_charset: Option<DefaultCharset>,
    /// One collation per character column.
    pub column_charsets: Option<Vec<u16>>,
    /// One name per column, as bytes in utf8mb3.
    pub column_names: Option<Vec<Vec<u8>>>,
    /// The labels of each SET column, in the column's character set.
    pub set_values: Option<Vec<Vec<Vec<u8>>>>,
    /// The labels of each ENUM column, in the column's character set.
    pub enum_values: Option<Vec<Vec<Vec<u8>>>>,
    /// One geometry type per GEOMETRY column (0 = GEOMETRY, 1 = POINT, ...).
    pub geometry_types: Option<Vec<u64>>,
    /// Primary key columns (indexes into the table's columns), in key order.
    pub primary_key: Option<Vec<usize>>,
    /// Primary key columns with their prefix length (0 = whole column), in key order.
    pub primary_key_with_prefix: Option<Vec<(usize, usize)>>,
    pub enum_and_set_default_charset: Option<DefaultCharset>,
    /// One collation per ENUM or SET column.
    pub enum_and_set_column_charsets: Option<Vec<u16>>,
    /// One flag per column, `true` when visible (MySQL 8.0.23+ invisible columns).
    pub column_visibility: Option<Vec<bool>>,
    /// Fields of types this decoder does not know, as (type, value) — kept, not dropped, so a
    /// newer server's metadata shows up in logs.
    pub unknown_fields: Vec<(u8, Vec<u8>)>,
}

/// Optional metadata field types.
mod metadata_field {
    pub const SIGNEDNESS: u8 = 1;
    pub const DEFAULT_CHARSET: u8 = 2;
    pub const COLUMN_CHARSET: u8 = 3;
    pub const COLUMN_NAME: u8 = 4;
    pub const SET_STR_VALUE: u8 = 5;
    pub const ENUM_STR_VALUE: u8 = 6;
    pub const GEOMETRY_TYPE: u8 = 7;
    pub const SIMPLE_PRIMARY_KEY: u8 = 8;
    pub const PRIMARY_KEY_WITH_PREFIX: u8 = 9;
    pub const ENUM_AND_SET_DEFAULT_CHARSET: u8 = 10;
    pub const ENUM_AND_SET_COLUMN_CHARSET: u8 = 11;
    pub const COLUMN_VISIBILITY: u8 = 12;
}

/// A decoded TABLE_MAP_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMap {
    /// The id row events use to refer to this table; valid until the next table map for it.
    pub table_id: u64,
    pub flags: u16,
    /// The database (schema) name.
    pub schema: String,
    pub table: String,
    pub columns: Vec<TableMapColumn>,
    pub optional_metadata: OptionalMetadata,
    /// The server that wrote it, which decides how the optional metadata's lists map to columns.
    pub flavor: ServerFlavor,
}

impl TableMap {
    /// `schema.table`, for errors and logs.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// Decodes a table map from the event's data (after the header, before the checksum) given
    /// its post-header length. Offsets in errors count from the start of the event.
    pub(crate) fn decode(
        data: &[u8],
        post_header_len: usize,
        flavor: ServerFlavor,
    ) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(data, super::header::EVENT_HEADER_LEN);
        let table_id = read_table_id(&mut reader, post_header_len, event_type::TABLE_MAP)?;
        let flags = reader.u16("table map flags")?;
        reader.skip(post_header_len.saturating_sub(8), "post-header")?;

        let schema = read_name(&mut reader, "schema name")?;
        let table = read_name(&mut reader, "table name")?;
        let column_count = reader.packed_usize("column count")?;
        reader.check_count_fits(column_count, 1, "column types")?;
        let type_codes = reader.take(column_count, "column types")?;

        let metadata_len = reader.packed_usize("column metadata length")?;
        let metadata_position = reader.position();
        let metadata = reader.take(metadata_len, "column metadata")?;
        let mut metadata = Reader::new(metadata, metadata_position);
        let mut column_types = Vec::with_capacity(column_count);
        for (column, &code) in type_codes.iter().enumerate() {
            column_types.push((code, ColumnType::read(code, column, &mut metadata)?));
        }
        metadata.finish("column metadata")?;

        let nullable = Bitmap::read(&mut reader, column_count, "NULL bitmap")?;
        let columns = column_types
            .into_iter()
            .enumerate()
            .map(|(index, (type_code, column_type))| TableMapColumn {
                type_code,
                column_type,
                nullable: nullable.get(index),
            })
            .collect();
        let optional_metadata = read_optional_metadata(&mut reader)?;
        Ok(Self {
            table_id,
            flags,
            schema,
            table,
            columns,
            optional_metadata,
            flavor,
        })
    }
}

/// The 6-byte table id of a table map or rows event (4 bytes in MySQL 5.0's format, whose
/// post-header is 6 bytes long).
pub(crate) fn read_table_id(
    reader: &mut Reader<'_>,
    post_header_len: usize,
    event_type: u8,
) -> Result<u64, DecodeError> {
    match post_header_len {
        6 => reader.uint_le(4, "table id"),
        len if len >= 8 => reader.uint_le(6, "table id"),
        length => Err(DecodeError::PostHeaderTooShort {
            event_type,
            length,
            needed: 8,
        }),
    }
}

/// A name written as a length byte, the name, and a NUL.
fn read_name(reader: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let len = usize::from(reader.u8(field)?);
    let position = reader.position();
    let bytes = reader.take(len, field)?;
    reader.skip(1, field)?;
    String::from_utf8(bytes.to_vec()).map_err(|error| DecodeError::InvalidUtf8 {
        field,
        offset: position,
        valid_up_to: error.utf8_error().valid_up_to(),
    })
}

fn read_optional_metadata(reader: &mut Reader<'_>) -> Result<OptionalMetadata, DecodeError> {
    use metadata_field::*;
    let mut metadata = OptionalMetadata::default();
    while !reader.is_empty() {
        let field_type = reader.u8("optional metadata type")?;
        let value = reader.packed_bytes("optional metadata field")?;
        let value_position = reader.position() - value.len();
        let mut field = Reader::new(value, value_position);
        match field_type {
            SIGNEDNESS => metadata.signedness = Some(msb_first_bits(value)),
            DEFAULT_CHARSET => metadata.default_charset = Some(read_default_charset(&mut field)?),
            COLUMN_CHARSET => metadata.column_charsets = Some(read_collations(&mut field)?),
            COLUMN_NAME => {
                let mut names = Vec::new();
                while !field.is_empty() {
                    names.push(field.packed_bytes("column name")?.to_vec());
                }
                metadata.column_names = Some(names);
            }
            SET_STR_VALUE => metadata.set_values = Some(read_labels(&mut field)?),
            ENUM_STR_VALUE => metadata.enum_values = Some(read_labels(&mut field)?),
            GEOMETRY_TYPE => {
                let mut types = Vec::new();
                while !field.is_empty() {
                    types.push(field.packed_u64("geometry type")?);
                }
                metadata.geometry_types = Some(types);
            }
            SIMPLE_PRIMARY_KEY => {
                let mut key = Vec::new();
                while !field.is_empty() {
                    key.push(field.packed_usize("primary key column")?);
                }
                metadata.primary_key = Some(key);
            }
            PRIMARY_KEY_WITH_PREFIX => {
                let mut key = Vec::new();
                while !field.is_empty() {
                    let column = field.packed_usize("primary key column")?;
                    let prefix = field.packed_usize("primary key prefix")?;
                    key.push((column, prefix));
                }
                metadata.primary_key_with_prefix = Some(key);
            }
            ENUM_AND_SET_DEFAULT_CHARSET => {
                metadata.enum_and_set_default_charset = Some(read_default_charset(&mut field)?);
            }
            ENUM_AND_SET_COLUMN_CHARSET => {
                metadata.enum_and_set_column_charsets = Some(read_collations(&mut field)?);
            }
            COLUMN_VISIBILITY => metadata.column_visibility = Some(msb_first_bits(value)),
            other => metadata.unknown_fields.push((other, value.to_vec())),
        }
    }
    Ok(metadata)
}

/// A bitmap whose first flag is the most significant bit of the first byte. Trailing padding
/// bits come out as extra `false` flags; consumers take as many as they have columns for.
fn msb_first_bits(bytes: &[u8]) -> Vec<bool> {
    bytes
        .iter()
        .flat_map(|&byte| (0..8).map(move |bit| byte & (0x80 >> bit) != 0))
        .collect()
}

fn collation(reader: &mut Reader<'_>, field: &'static str) -> Result<u16, DecodeError> {
    let position = reader.position();
    let value = reader.packed_u64(field)?;
    u16::try_from(value).map_err(|_| DecodeError::InvalidPackedInteger {
        field,
        offset: position,
        byte: 0xFE,
    })
}

fn read_default_charset(field: &mut Reader<'_>) -> Result<DefaultCharset, DecodeError> {
    let default_collation = collation(field, "default collation")?;
    let mut exceptions = Vec::new();
    while !field.is_empty() {
        let column = field.packed_usize("charset column index")?;
        exceptions.push((column, collation(field, "column collation")?));
    }
    Ok(DefaultCharset {
        default_collation,
        exceptions,
    })
}

fn read_collations(field: &mut Reader<'_>) -> Result<Vec<u16>, DecodeError> {
    let mut collations = Vec::new();
    while !field.is_empty() {
        collations.push(collation(field, "column collation")?);
    }
    Ok(collations)
}

fn read_labels(field: &mut Reader<'_>) -> Result<Vec<Vec<Vec<u8>>>, DecodeError> {
    let mut columns = Vec::new();
    while !field.is_empty() {
        let count = field.packed_usize("label count")?;
        field.check_count_fits(count, 1, "labels")?;
        let mut labels = Vec::with_capacity(count);
        for _ in 0..count {
            labels.push(field.packed_bytes("label")?.to_vec());
        }
        columns.push(labels);
    }
    Ok(columns)
}

/// Test-only: builds a table map event's data (post-header and body, 8-byte post-header).
#[cfg(test)]
pub(crate) fn table_map_body(
    table_id: u64,
    schema: &str,
    table: &str,
    types: &[u8],
    metadata: &[u8],
    nullable: &[u8],
    optional: &[u8],
) -> Vec<u8> {
    let mut body = table_id.to_le_bytes()[..6].to_vec();
    body.extend([1, 0]);
    body.push(schema.len() as u8);
    body.extend(schema.as_bytes());
    body.push(0);
    body.push(table.len() as u8);
    body.extend(table.as_bytes());
    body.push(0);
    body.push(types.len() as u8);
    body.extend(types);
    body.push(metadata.len() as u8);
    body.extend(metadata);
    body.extend(nullable);
    body.extend(optional);
    body
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_types_metadata_and_nulls() {
        use type_code::*;
        let types = [
            LONG, VARCHAR, STRING, STRING, STRING, NEWDECIMAL, DATETIME2, BLOB, BIT, DOUBLE, JSON,
        ];
        let metadata = [
            0x00, 0x04, // VARCHAR(256 bytes)
            0xCE, 0xFC, // CHAR of 1020 bytes: 0xFE with bits 4–5 flipped, length 0x3FC
            0xF7, 0x01, // ENUM, 1 byte
            0xF8, 0x02, // SET, 2 bytes
            20, 6, // DECIMAL(20,6)
            6, // DATETIME(6)
            4, // LONGBLOB
            3, 1, // BIT(11)
            8, // DOUBLE
            4, // JSON
        ];
        let body = table_map_body(
            0x0000_0102_0304,
            "lienthong",
            "người",
            &types,
            &metadata,
            &[0b1111_1110, 0b0000_0111],
            &[],
        );
        let map = TableMap::decode(&body, 8, ServerFlavor::MySql).unwrap();
        assert_eq!(map.table_id, 0x0102_0304);
        assert_eq!(map.schema, "lienthong");
        assert_eq!(map.table, "người");
        let kinds: Vec<ColumnType> = map.columns.iter().map(|c| c.column_type).collect();
        assert_eq!(
            kinds,
            vec![
                ColumnType::Long,
                ColumnType::VarChar { max_length: 1024 },
                ColumnType::String { max_length: 1020 },
                ColumnType::Enum { pack_length: 1 },
                ColumnType::Set { pack_length: 2 },
                ColumnType::NewDecimal {
                    precision: 20,
                    scale: 6
                },
                ColumnType::DateTime2 {
                    fractional_digits: 6
                },
                ColumnType::Blob { length_bytes: 4 },
                ColumnType::Bit { bits: 11 },
                ColumnType::Double,
                ColumnType::Json { length_bytes: 4 },
            ]
        );
        assert!(!map.columns[0].nullable);
        assert!(map.columns[1].nullable);
        assert!(map.columns[10].nullable);
        assert_eq!(map.optional_metadata, OptionalMetadata::default());
    }

    #[test]
    fn decodes_optional_metadata() {
        use type_code::*;
        let types = [LONG, VARCHAR, STRING, LONGLONG, GEOMETRY];
        let metadata = [0x28, 0x00, 0xF7, 0x01, 4];
        let mut optional = Vec::new();
        // Signedness: INT signed, BIGINT unsigned → bits 0b01.
        optional.extend([1, 1, 0b0100_0000]);
        // Default charset 45, the first character column uses 8 instead.
        optional.extend([2, 3, 45, 0, 8]);
        // Names.
        optional.extend([
            4, 16, 2, b'i', b'd', 3, b't', b'e', b'n', 4, b'm', b'a', b'u', b'?',
        ]);
        optional.extend([3, b'b', b'i', b'g']);
        optional.extend([6, 6, 2, 1, b'x', 2, b'y', b'z']);
        // ENUM values (one column: 'x', 'yz'), geometry type POINT, primary key (0, 3).
        optional.extend([7, 1, 1, 8, 2, 0, 3]);
        // An unknown field type.
        optional.extend([200, 2, 9, 9]);
        let body = table_map_body(7, "s", "t", &types, &metadata, &[0x1F], &optional);
        let map = TableMap::decode(&body, 8, ServerFlavor::MySql).unwrap();
        let meta = &map.optional_metadata;
        assert_eq!(
            meta.signedness.as_deref().map(|bits| &bits[..2]),
            Some(&[false, true][..])
        );
        assert_eq!(
            meta.default_charset,
            Some(DefaultCharset {
                default_collation: 45,
                exceptions: vec![(0, 8)]
            })
        );
        assert_eq!(
            meta.column_names,
            Some(vec![
                b"id".to_vec(),
                b"ten".to_vec(),
                b"mau?".to_vec(),
                b"big".to_vec()
            ])
        );
        assert_eq!(
            meta.enum_values,
            Some(vec![vec![b"x".to_vec(), b"yz".to_vec()]])
        );
        assert_eq!(meta.geometry_types, Some(vec![1]));
        assert_eq!(meta.primary_key, Some(vec![0, 3]));
        assert_eq!(meta.unknown_fields, vec![(200, vec![9, 9])]);
    }

    #[test]
    fn four_byte_table_ids_of_old_servers() {
        let mut body = vec![5, 0, 0, 0, 0, 0];
        body.extend([1, b's', 0, 1, b't', 0, 1, type_code::TINY, 0, 0]);
        let map = TableMap::decode(&body, 6, ServerFlavor::MySql).unwrap();
        assert_eq!(map.table_id, 5);
        assert_eq!(map.columns.len(), 1);
    }

    #[test]
    fn errors() {
        // Unknown column type.
        let body = table_map_body(1, "s", "t", &[0x30], &[], &[0], &[]);
        assert_eq!(
            TableMap::decode(&body, 8, ServerFlavor::MySql),
            Err(DecodeError::UnknownColumnType {
                column: 0,
                type_code: 0x30
            })
        );
        // Metadata block longer than the columns use.
        let body = table_map_body(1, "s", "t", &[type_code::TINY], &[1], &[0], &[]);
        assert!(matches!(
            TableMap::decode(&body, 8, ServerFlavor::MySql),
            Err(DecodeError::TrailingBytes { .. })
        ));
        // Every truncation is an error, never a panic.
        let body = table_map_body(
            1,
            "s",
            "t",
            &[type_code::VARCHAR, type_code::NEWDECIMAL],
            &[10, 0, 10, 2],
            &[3],
            &[4, 2, 1, b'a'],
        );
        assert!(TableMap::decode(&body, 8, ServerFlavor::MySql).is_ok());
        for len in 0..body.len() {
            if len == body.len() - 4 {
                // Exactly the table map without its optional metadata: valid.
                continue;
            }
            assert!(
                TableMap::decode(&body[..len], 8, ServerFlavor::MySql).is_err(),
                "prefix {len}"
            );
        }
    }
}
