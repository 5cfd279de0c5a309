//! A table's columns as row decoding needs them: the table map joined with facts the connector
//! read from `information_schema`.
//!
//! A table map alone may not say whether an `INT` is `UNSIGNED`, which character set a `VARCHAR`
//! uses, what a column is called or what an `ENUM`'s labels are: that depends on the server's
//! `binlog_row_metadata` (see [`table_map`](super::table_map)). [`TableSchema::new`] takes the
//! table map and, optionally, [`TableFacts`] and fills each column from whichever knows.
//! When both know a fact and disagree, the facts describe another version of the table than the
//! one the events were written with (a DDL happened in between), and decoding with them would be
//! silently wrong, so that is an error ([`DecodeError::FactsConflict`]) rather than a choice.
//!
//! [`TableSchema::unknown_facts`] lists what is still unknown, so a connector can check once per
//! table map whether it must look anything up. An integer of unknown signedness decodes as signed
//! (the SQL default); a string of unknown collation keeps `collation: None`.

use std::fmt;

use super::charset::decode_text;
use super::error::DecodeError;
use super::table_map::{ColumnType, DefaultCharset, TableMap};

/// What the connector knows about one column from `information_schema.COLUMNS` (and
/// `COLLATIONS` for the id). Every field is optional: give what you have.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnFacts {
    /// `COLUMN_NAME`.
    pub name: Option<String>,
    /// Whether `COLUMN_TYPE` says `unsigned` (numeric columns only).
    pub unsigned: Option<bool>,
    /// Collation id of `COLLATION_NAME` (string, TEXT, ENUM and SET columns).
    pub collation: Option<u16>,
    /// The labels of an `ENUM` or `SET`, in definition order (parsed from `COLUMN_TYPE`).
    pub labels: Option<Vec<String>>,
}

impl ColumnFacts {
    /// Facts from one row of `information_schema.COLUMNS`: `COLUMN_NAME`, `COLUMN_TYPE` (such as
    /// `int(10) unsigned`, `enum('nam','nữ')`, `varbinary(20)`) and the id of `COLLATION_NAME`
    /// (`None` where the server shows NULL).
    ///
    /// `UNSIGNED` (or `ZEROFILL`, which implies it) is read from the type; ENUM and SET labels are
    /// unquoted (`''` inside a label is a quote); the binary string types, for which the server
    /// shows no collation, get the `binary` collation (63).
    pub fn from_information_schema(
        column_name: &str,
        column_type: &str,
        collation: Option<u16>,
    ) -> Self {
        let lower = column_type.to_ascii_lowercase();
        let base = lower.split(['(', ' ']).next().unwrap_or_default();
        let numeric = matches!(
            base,
            "tinyint"
                | "smallint"
                | "mediumint"
                | "int"
                | "integer"
                | "bigint"
                | "decimal"
                | "numeric"
                | "float"
                | "double"
                | "real"
        );
        let unsigned = numeric.then(|| {
            lower
                .split_whitespace()
                .any(|word| word == "unsigned" || word == "zerofill")
        });
        let binary = matches!(
            base,
            "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
        );
        let labels = match base {
            "enum" | "set" => parse_labels(column_type),
            _ => None,
        };
        Self {
            name: Some(column_name.to_owned()),
            unsigned,
            collation: collation.or(binary.then_some(super::charset::BINARY_COLLATION)),
            labels,
        }
    }
}

/// The labels of `enum('a','b''c')`: quoted, comma-separated, quotes doubled inside.
fn parse_labels(column_type: &str) -> Option<Vec<String>> {
    let open = column_type.find('(')?;
    let mut chars = column_type[open + 1..].chars().peekable();
    let mut labels = Vec::new();
    loop {
        if chars.next()? != '\'' {
            return None;
        }
        let mut label = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    label.push('\'');
                }
                '\'' => break,
                other => label.push(other),
            }
        }
        labels.push(label);
        match chars.next()? {
            ',' => continue,
            ')' => return Some(labels),
            _ => return None,
        }
    }
}

/// Facts about a whole table, columns in ordinal order (`ORDINAL_POSITION` 1 is index 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableFacts {
    pub columns: Vec<ColumnFacts>,
    /// Column indexes of the primary key, in key order.
    pub primary_key: Option<Vec<usize>>,
}

/// One column, ready for decoding its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSchema {
    /// Position in the table (0-based), which is its position in row images.
    pub index: usize,
    pub name: Option<String>,
    /// The type code as the table map wrote it.
    pub type_code: u8,
    pub column_type: ColumnType,
    pub nullable: bool,
    /// For numeric columns: whether `UNSIGNED`, when known.
    pub unsigned: Option<bool>,
    /// For string, TEXT/BLOB, ENUM and SET columns: the collation id, when known (63 = binary).
    pub collation: Option<u16>,
    /// For ENUM and SET columns: the labels, when known.
    pub labels: Option<Vec<String>>,
    /// For GEOMETRY columns: the geometry type (0 GEOMETRY, 1 POINT, 2 LINESTRING, ...).
    pub geometry_type: Option<u64>,
}

impl ColumnSchema {
    /// The column's name, or `#<index>` when it is not known, for errors and logs.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("#{}", self.index))
    }
}

/// A fact [`TableSchema::unknown_facts`] reports missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FactKind {
    Name,
    Signedness,
    Collation,
    Labels,
}

impl fmt::Display for FactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Name => "name",
            Self::Signedness => "signedness",
            Self::Collation => "collation",
            Self::Labels => "ENUM/SET labels",
        })
    }
}

/// A table's columns for decoding its row events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub table_id: u64,
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnSchema>,
    /// Primary key column indexes in key order, when known (empty for a table without one).
    pub primary_key: Option<Vec<usize>>,
}

impl TableSchema {
    /// Joins a table map with optional facts. Fails when the facts have another number of
    /// columns, or contradict the table map's optional metadata, or when that metadata does not
    /// fit the table's columns.
    pub fn new(map: &TableMap, facts: Option<&TableFacts>) -> Result<Self, DecodeError> {
        let table = map.qualified_name();
        if let Some(facts) = facts
            && facts.columns.len() != map.columns.len()
        {
            return Err(DecodeError::FactsCountMismatch {
                table,
                facts: facts.columns.len(),
                table_columns: map.columns.len(),
            });
        }
        let from_map = MetadataColumns::resolve(map)?;
        let mut columns = Vec::with_capacity(map.columns.len());
        for (index, column) in map.columns.iter().enumerate() {
            let fact = facts.and_then(|facts| facts.columns.get(index));
            let known = &from_map.columns[index];
            let column_type = column.column_type;
            let conflict =
                |what, from_table_map: String, from_facts: String| DecodeError::FactsConflict {
                    table: table.clone(),
                    column: index,
                    what,
                    from_table_map,
                    from_facts,
                };
            let name = merge(
                known.name.clone(),
                fact.and_then(|f| f.name.clone()),
                |a, b| conflict("the name", a.clone(), b.clone()),
            )?;
            let unsigned = if column_type.is_numeric() {
                merge(known.unsigned, fact.and_then(|f| f.unsigned), |a, b| {
                    conflict("UNSIGNED", a.to_string(), b.to_string())
                })?
            } else {
                None
            };
            let takes_collation = column_type.is_character() || column_type.is_enum_or_set();
            let collation = if takes_collation {
                merge(known.collation, fact.and_then(|f| f.collation), |a, b| {
                    conflict("the collation id", a.to_string(), b.to_string())
                })?
            } else {
                None
            };
            let labels = if column_type.is_enum_or_set() {
                // Labels are stored in the column's character set; without it they stay unknown.
                let decoded =
                    known
                        .labels
                        .as_ref()
                        .zip(collation)
                        .and_then(|(labels, collation)| {
                            labels
                                .iter()
                                .map(|label| decode_text(label, collation).ok())
                                .collect::<Option<Vec<String>>>()
                        });
                merge(decoded, fact.and_then(|f| f.labels.clone()), |a, b| {
                    conflict("the labels", format!("{a:?}"), format!("{b:?}"))
                })?
            } else {
                None
            };
            columns.push(ColumnSchema {
                index,
                name,
                type_code: column.type_code,
                column_type,
                nullable: column.nullable,
                unsigned,
                collation,
                labels,
                geometry_type: known.geometry_type,
            });
        }
        let primary_key = match (
            from_map.primary_key,
            facts.and_then(|f| f.primary_key.clone()),
        ) {
            (Some(from_map), Some(from_facts)) if from_map != from_facts => {
                return Err(DecodeError::FactsConflict {
                    table,
                    column: from_map.first().copied().unwrap_or(0),
                    what: "the primary key",
                    from_table_map: format!("{from_map:?}"),
                    from_facts: format!("{from_facts:?}"),
                });
            }
            (Some(key), _) | (None, Some(key)) => Some(key),
            (None, None) => None,
        };
        if let Some(key) = &primary_key
            && let Some(&bad) = key.iter().find(|&&column| column >= columns.len())
        {
            return Err(DecodeError::InvalidOptionalMetadata {
                table,
                reason: format!("primary key column {bad} is past the last column"),
            });
        }
        Ok(Self {
            table_id: map.table_id,
            schema: map.schema.clone(),
            table: map.table.clone(),
            columns,
            primary_key,
        })
    }

    /// `schema.table`, for errors and logs.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// The facts still unknown, as (column index, fact): names, signedness of numeric columns,
    /// collations of string/TEXT/ENUM/SET columns, labels of ENUM/SET columns. Empty when the
    /// table map had full metadata or the facts filled every gap.
    pub fn unknown_facts(&self) -> Vec<(usize, FactKind)> {
        let mut unknown = Vec::new();
        for column in &self.columns {
            let column_type = column.column_type;
            if column.name.is_none() {
                unknown.push((column.index, FactKind::Name));
            }
            if column_type.is_numeric() && column.unsigned.is_none() {
                unknown.push((column.index, FactKind::Signedness));
            }
            if (column_type.is_character() || column_type.is_enum_or_set())
                && column.collation.is_none()
            {
                unknown.push((column.index, FactKind::Collation));
            }
            if column_type.is_enum_or_set() && column.labels.is_none() {
                unknown.push((column.index, FactKind::Labels));
            }
        }
        unknown
    }
}

/// Both sources agree, or only one knows: the known value. Both know and differ: the error.
fn merge<T: PartialEq>(
    from_map: Option<T>,
    from_facts: Option<T>,
    conflict: impl FnOnce(&T, &T) -> DecodeError,
) -> Result<Option<T>, DecodeError> {
    match (from_map, from_facts) {
        (Some(a), Some(b)) if a != b => Err(conflict(&a, &b)),
        (Some(value), _) | (None, Some(value)) => Ok(Some(value)),
        (None, None) => Ok(None),
    }
}

/// What the optional metadata says about each column.
#[derive(Debug, Default)]
struct MetadataColumn {
    name: Option<String>,
    unsigned: Option<bool>,
    collation: Option<u16>,
    labels: Option<Vec<Vec<u8>>>,
    geometry_type: Option<u64>,
}

#[derive(Debug)]
struct MetadataColumns {
    columns: Vec<MetadataColumn>,
    primary_key: Option<Vec<usize>>,
}

impl MetadataColumns {
    /// Assigns the optional metadata's lists (one entry per column of some kind) to columns.
    fn resolve(map: &TableMap) -> Result<Self, DecodeError> {
        let meta = &map.optional_metadata;
        let table = map.qualified_name();
        let invalid = |reason: String| DecodeError::InvalidOptionalMetadata {
            table: table.clone(),
            reason,
        };
        let flavor = map.flavor;
        let types: Vec<ColumnType> = map.columns.iter().map(|c| c.column_type).collect();
        let mut columns: Vec<MetadataColumn> =
            types.iter().map(|_| MetadataColumn::default()).collect();
        let indexes_where = |keep: &dyn Fn(&ColumnType) -> bool| -> Vec<usize> {
            types
                .iter()
                .enumerate()
                .filter(|(_, t)| keep(t))
                .map(|(index, _)| index)
                .collect()
        };

        if let Some(names) = &meta.column_names {
            if names.len() != columns.len() {
                return Err(invalid(format!(
                    "{} column names for {} columns",
                    names.len(),
                    columns.len()
                )));
            }
            for (column, name) in columns.iter_mut().zip(names) {
                let name = String::from_utf8(name.clone())
                    .map_err(|_| invalid("a column name is not valid UTF-8".to_owned()))?;
                column.name = Some(name);
            }
        }

        if let Some(bits) = &meta.signedness {
            let numeric = indexes_where(&|t| t.in_signedness_list(flavor));
            if bits.len() < numeric.len() {
                return Err(invalid(format!(
                    "{} signedness bits for {} numeric columns",
                    bits.len(),
                    numeric.len()
                )));
            }
            for (&index, &unsigned) in numeric.iter().zip(bits) {
                // A MariaDB YEAR has a bit too, but signedness means nothing for it.
                if types[index].is_numeric() {
                    columns[index].unsigned = Some(unsigned);
                }
            }
        }

        let character = indexes_where(&|t| t.in_charset_list(flavor));
        let collations = charset_list(
            meta.default_charset.as_ref(),
            meta.column_charsets.as_deref(),
            character.len(),
        )
        .map_err(|reason| invalid(format!("character columns: {reason}")))?;
        if let Some(collations) = collations {
            for (&index, collation) in character.iter().zip(collations) {
                columns[index].collation = Some(collation);
            }
        }

        let enum_or_set = indexes_where(&ColumnType::is_enum_or_set);
        let collations = charset_list(
            meta.enum_and_set_default_charset.as_ref(),
            meta.enum_and_set_column_charsets.as_deref(),
            enum_or_set.len(),
        )
        .map_err(|reason| invalid(format!("ENUM/SET columns: {reason}")))?;
        if let Some(collations) = collations {
            for (&index, collation) in enum_or_set.iter().zip(collations) {
                columns[index].collation = Some(collation);
            }
        }

        let is_enum = |t: &ColumnType| matches!(t, ColumnType::Enum { .. });
        let is_set = |t: &ColumnType| matches!(t, ColumnType::Set { .. });
        for (values, keep, kind) in [
            (
                &meta.enum_values,
                &is_enum as &dyn Fn(&ColumnType) -> bool,
                "ENUM",
            ),
            (&meta.set_values, &is_set, "SET"),
        ] {
            if let Some(values) = values {
                let indexes = indexes_where(keep);
                if values.len() != indexes.len() {
                    return Err(invalid(format!(
                        "{} {kind} label lists for {} {kind} columns",
                        values.len(),
                        indexes.len()
                    )));
                }
                for (&index, labels) in indexes.iter().zip(values) {
                    columns[index].labels = Some(labels.clone());
                }
            }
        }

        if let Some(geometry_types) = &meta.geometry_types {
            let geometry = indexes_where(&|t| matches!(t, ColumnType::Geometry { .. }));
            if geometry_types.len() != geometry.len() {
                return Err(invalid(format!(
                    "{} geometry types for {} geometry columns",
                    geometry_types.len(),
                    geometry.len()
                )));
            }
            for (&index, &geometry_type) in geometry.iter().zip(geometry_types) {
                columns[index].geometry_type = Some(geometry_type);
            }
        }

        let primary_key = meta.primary_key.clone().or_else(|| {
            meta.primary_key_with_prefix
                .as_ref()
                .map(|key| key.iter().map(|&(column, _)| column).collect())
        });
        if let Some(key) = &primary_key
            && let Some(&bad) = key.iter().find(|&&column| column >= columns.len())
        {
            return Err(invalid(format!(
                "primary key column {bad} is past the last column"
            )));
        }
        Ok(Self {
            columns,
            primary_key,
        })
    }
}

/// One collation per covered column, from the per-column list or from the default plus
/// exceptions; `None` when the metadata has neither.
fn charset_list(
    default: Option<&DefaultCharset>,
    per_column: Option<&[u16]>,
    count: usize,
) -> Result<Option<Vec<u16>>, String> {
    if let Some(per_column) = per_column {
        if per_column.len() != count {
            return Err(format!(
                "{} collations for {count} columns",
                per_column.len()
            ));
        }
        return Ok(Some(per_column.to_vec()));
    }
    let Some(default) = default else {
        return Ok(None);
    };
    let mut collations = vec![default.default_collation; count];
    for &(position, collation) in &default.exceptions {
        let slot = collations
            .get_mut(position)
            .ok_or_else(|| format!("collation for column {position} of {count}"))?;
        *slot = collation;
    }
    Ok(Some(collations))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::binlog::format::ServerFlavor;
    use crate::binlog::table_map::{OptionalMetadata, TableMapColumn};

    fn column(column_type: ColumnType) -> TableMapColumn {
        TableMapColumn {
            type_code: 0,
            column_type,
            nullable: true,
        }
    }

    fn map(optional_metadata: OptionalMetadata) -> TableMap {
        TableMap {
            table_id: 9,
            flags: 0,
            schema: "s".into(),
            table: "t".into(),
            columns: vec![
                column(ColumnType::Long),
                column(ColumnType::VarChar { max_length: 40 }),
                column(ColumnType::Enum { pack_length: 1 }),
                column(ColumnType::LongLong),
                column(ColumnType::Blob { length_bytes: 2 }),
                column(ColumnType::Set { pack_length: 1 }),
            ],
            optional_metadata,
            flavor: ServerFlavor::MySql,
        }
    }

    fn full_metadata() -> OptionalMetadata {
        OptionalMetadata {
            signedness: Some(vec![false, true, false, false, false, false, false, false]),
            default_charset: Some(DefaultCharset {
                default_collation: 45,
                exceptions: vec![(1, 63)],
            }),
            column_names: Some(
                ["id", "ten", "gioi_tinh", "so", "anh", "quyen"]
                    .iter()
                    .map(|n| n.as_bytes().to_vec())
                    .collect(),
            ),
            enum_values: Some(vec![vec![b"nam".to_vec(), "nữ".as_bytes().to_vec()]]),
            set_values: Some(vec![vec![b"doc".to_vec(), b"ghi".to_vec()]]),
            enum_and_set_column_charsets: Some(vec![224, 224]),
            primary_key: Some(vec![0]),
            ..OptionalMetadata::default()
        }
    }

    #[test]
    fn full_metadata_fills_every_column() {
        let schema = TableSchema::new(&map(full_metadata()), None).unwrap();
        assert!(schema.unknown_facts().is_empty());
        let c = &schema.columns;
        assert_eq!(c[0].name.as_deref(), Some("id"));
        assert_eq!(c[0].unsigned, Some(false));
        assert_eq!(c[3].unsigned, Some(true));
        assert_eq!(c[1].collation, Some(45));
        assert_eq!(c[4].collation, Some(63));
        assert_eq!(c[2].collation, Some(224));
        assert_eq!(c[2].labels, Some(vec!["nam".to_owned(), "nữ".to_owned()]));
        assert_eq!(c[5].labels, Some(vec!["doc".to_owned(), "ghi".to_owned()]));
        assert_eq!(c[1].unsigned, None);
        assert_eq!(schema.primary_key, Some(vec![0]));
    }

    #[test]
    fn without_metadata_everything_is_unknown_until_facts_fill_it() {
        let map = map(OptionalMetadata::default());
        let bare = TableSchema::new(&map, None).unwrap();
        let unknown = bare.unknown_facts();
        assert!(unknown.contains(&(0, FactKind::Signedness)));
        assert!(unknown.contains(&(1, FactKind::Collation)));
        assert!(unknown.contains(&(2, FactKind::Labels)));
        assert!(!unknown.contains(&(1, FactKind::Signedness)));
        assert_eq!(unknown.len(), 6 + 2 + 4 + 2);

        let facts = TableFacts {
            columns: vec![
                ColumnFacts {
                    name: Some("id".into()),
                    unsigned: Some(true),
                    ..ColumnFacts::default()
                },
                ColumnFacts {
                    name: Some("ten".into()),
                    collation: Some(8),
                    ..ColumnFacts::default()
                },
                ColumnFacts {
                    name: Some("g".into()),
                    collation: Some(45),
                    labels: Some(vec!["a".into()]),
                    ..ColumnFacts::default()
                },
                ColumnFacts {
                    name: Some("so".into()),
                    unsigned: Some(false),
                    ..ColumnFacts::default()
                },
                ColumnFacts {
                    name: Some("anh".into()),
                    collation: Some(63),
                    ..ColumnFacts::default()
                },
                ColumnFacts {
                    name: Some("q".into()),
                    collation: Some(45),
                    labels: Some(vec!["x".into(), "y".into()]),
                    unsigned: Some(true),
                },
            ],
            primary_key: Some(vec![0, 3]),
        };
        let schema = TableSchema::new(&map, Some(&facts)).unwrap();
        assert!(schema.unknown_facts().is_empty());
        assert_eq!(schema.columns[0].unsigned, Some(true));
        assert_eq!(schema.columns[1].collation, Some(8));
        // UNSIGNED is ignored on a non-numeric column.
        assert_eq!(schema.columns[5].unsigned, None);
        assert_eq!(schema.primary_key, Some(vec![0, 3]));
    }

    #[test]
    fn conflicting_facts_are_refused() {
        let mut facts = TableFacts {
            columns: vec![ColumnFacts::default(); 6],
            primary_key: None,
        };
        facts.columns[3].unsigned = Some(false);
        let error = TableSchema::new(&map(full_metadata()), Some(&facts)).unwrap_err();
        assert!(matches!(
            error,
            DecodeError::FactsConflict {
                column: 3,
                what: "UNSIGNED",
                ..
            }
        ));

        facts.columns[3].unsigned = Some(true);
        facts.columns[1].name = Some("ho_ten".into());
        assert!(matches!(
            TableSchema::new(&map(full_metadata()), Some(&facts)),
            Err(DecodeError::FactsConflict { column: 1, .. })
        ));

        facts.columns.pop();
        assert!(matches!(
            TableSchema::new(&map(full_metadata()), Some(&facts)),
            Err(DecodeError::FactsCountMismatch { facts: 5, .. })
        ));
    }

    #[test]
    fn facts_from_information_schema() {
        let facts = ColumnFacts::from_information_schema("so", "bigint(20) unsigned", None);
        assert_eq!(facts.unsigned, Some(true));
        assert_eq!(facts.name.as_deref(), Some("so"));
        let facts = ColumnFacts::from_information_schema("n", "int(10) unsigned zerofill", None);
        assert_eq!(facts.unsigned, Some(true));
        let facts = ColumnFacts::from_information_schema("n", "decimal(12,4)", None);
        assert_eq!(facts.unsigned, Some(false));
        let facts = ColumnFacts::from_information_schema("t", "varchar(20)", Some(224));
        assert_eq!((facts.unsigned, facts.collation), (None, Some(224)));
        let facts = ColumnFacts::from_information_schema("b", "varbinary(20)", None);
        assert_eq!(facts.collation, Some(63));
        let facts =
            ColumnFacts::from_information_schema("g", "enum('nam','nữ','it''s','a,b')", Some(224));
        assert_eq!(
            facts.labels,
            Some(vec!["nam".into(), "nữ".into(), "it's".into(), "a,b".into()])
        );
        let facts = ColumnFacts::from_information_schema("s", "set('đọc','ghi')", Some(224));
        assert_eq!(facts.labels, Some(vec!["đọc".into(), "ghi".into()]));
        assert_eq!(
            ColumnFacts::from_information_schema("s", "set('unterminated", None).labels,
            None
        );
    }

    #[test]
    fn mariadb_lists_year_and_geometry_mysql_does_not() {
        let columns = vec![
            column(ColumnType::Long),
            column(ColumnType::Year),
            column(ColumnType::Long),
            column(ColumnType::Geometry { length_bytes: 4 }),
            column(ColumnType::VarChar { max_length: 10 }),
        ];
        let mariadb = TableMap {
            columns: columns.clone(),
            optional_metadata: OptionalMetadata {
                // id signed, YEAR (unsigned inside MariaDB), the second INT unsigned.
                signedness: Some(vec![false, true, true, false, false, false, false, false]),
                column_charsets: Some(vec![63, 8]),
                ..OptionalMetadata::default()
            },
            flavor: ServerFlavor::MariaDb,
            ..map(OptionalMetadata::default())
        };
        let schema = TableSchema::new(&mariadb, None).unwrap();
        assert_eq!(schema.columns[0].unsigned, Some(false));
        assert_eq!(schema.columns[1].unsigned, None);
        assert_eq!(schema.columns[2].unsigned, Some(true));
        assert_eq!(schema.columns[3].collation, None);
        assert_eq!(schema.columns[4].collation, Some(8));

        let mysql = TableMap {
            columns,
            optional_metadata: OptionalMetadata {
                signedness: Some(vec![false, true, false, false, false, false, false, false]),
                column_charsets: Some(vec![8]),
                ..OptionalMetadata::default()
            },
            flavor: ServerFlavor::MySql,
            ..map(OptionalMetadata::default())
        };
        let schema = TableSchema::new(&mysql, None).unwrap();
        assert_eq!(schema.columns[2].unsigned, Some(true));
        assert_eq!(schema.columns[4].collation, Some(8));
        // Read with MariaDB's rules, MySQL's single collation does not cover the columns.
        let misread = TableMap {
            flavor: ServerFlavor::MariaDb,
            ..mysql
        };
        assert!(matches!(
            TableSchema::new(&misread, None),
            Err(DecodeError::InvalidOptionalMetadata { .. })
        ));
    }

    #[test]
    fn metadata_that_does_not_fit_the_columns_is_an_error() {
        let mut meta = full_metadata();
        meta.column_names = Some(vec![b"only".to_vec()]);
        assert!(matches!(
            TableSchema::new(&map(meta), None),
            Err(DecodeError::InvalidOptionalMetadata { .. })
        ));
        let mut meta = full_metadata();
        meta.default_charset = Some(DefaultCharset {
            default_collation: 45,
            exceptions: vec![(7, 8)],
        });
        assert!(matches!(
            TableSchema::new(&map(meta), None),
            Err(DecodeError::InvalidOptionalMetadata { .. })
        ));
        let mut meta = full_metadata();
        meta.primary_key = Some(vec![6]);
        assert!(matches!(
            TableSchema::new(&map(meta), None),
            Err(DecodeError::InvalidOptionalMetadata { .. })
        ));
    }
}
