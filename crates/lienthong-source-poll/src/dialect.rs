//! The SQL the connector sends, per database dialect. Pure: builds text, runs nothing.
//!
//! **Keyset pages.** A table is read in the order of its *ordering columns*: the cursor
//! columns, then the key columns not already among them. A page is
//!
//! ```sql
//! SELECT <every column> FROM t
//!  WHERE c1 IS NOT NULL [AND c2 IS NOT NULL] AND (c1, k1) > ($1, $2)
//!  ORDER BY c1, k1 LIMIT n
//! ```
//!
//! and the next page starts after the last row of this one (columns are qualified with a table
//! alias in the real text, so `ORDER BY` never means a text-cast output column). Because the key is part of the
//! order, rows that share a cursor value are never skipped however pages cut through them. The
//! comparison is the database's own (its collation, its date-time arithmetic): the connector
//! never orders values itself, it only binds back what it read. MySQL/MariaDB spell the row
//! comparison as `(c1 > ?) OR (c1 = ? AND k1 > ?)`, which MariaDB turns into an index range (it
//! does not for a row constructor).
//!
//! **How values travel.** PostgreSQL columns are selected as text (`c::text`, under the session
//! settings of the PostgreSQL connector) and bound back as `CAST($n AS <type>)`, which round-trips
//! every type exactly. MySQL columns are selected in a form whose text is exact (`CAST(d AS
//! CHAR)` for decimals and date-times, integers as integers) and bound back with a cast for
//! types whose comparison with a string would not be exact (decimals, date-times). SQLite values
//! are read and bound with their own storage class.
//!
//! Rows with a NULL cursor or key column cannot take part in a keyset order and are never read.

use crate::catalog::{CatalogColumn, TableName};

/// The SQL dialects the connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

/// How the shell reads a selected cell from a result row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAs {
    /// Text (PostgreSQL: every column, cast to text).
    Text,
    Int,
    UInt,
    Float32,
    Float64,
    /// Binary data.
    Bytes,
    /// Character data read as bytes: valid UTF-8 becomes text, anything else stays bytes (and
    /// the row is dead-lettered with the reason rather than failing the page).
    TextOrBytes,
    /// Whatever storage class the value has (SQLite).
    Dynamic,
}

/// Quotes an identifier.
pub fn quote_ident(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The alias the polled table has in every query. Columns are always qualified with it: an
/// unqualified `ORDER BY "id"` would sort by the *output* column `"id"::text` in PostgreSQL,
/// as text, while the keyset condition compares the column itself.
const TABLE_ALIAS: &str = "t";

/// A column of the polled table, qualified with its alias.
pub fn column_ref(dialect: Dialect, name: &str) -> String {
    format!(
        "{}.{}",
        quote_ident(dialect, TABLE_ALIAS),
        quote_ident(dialect, name)
    )
}

/// The qualified, quoted table name.
pub fn table_sql(dialect: Dialect, table: &TableName) -> String {
    format!(
        "{}.{}",
        quote_ident(dialect, &table.schema),
        quote_ident(dialect, &table.name)
    )
}

fn is_mysql_integer(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

fn is_mysql_binary(data_type: &str) -> bool {
    matches!(
        data_type,
        "binary"
            | "varbinary"
            | "tinyblob"
            | "blob"
            | "mediumblob"
            | "longblob"
            | "geometry"
            | "point"
            | "linestring"
            | "polygon"
            | "multipoint"
            | "multilinestring"
            | "multipolygon"
            | "geometrycollection"
            | "geomcollection"
    )
}

fn is_mysql_unsigned(column: &CatalogColumn) -> bool {
    let t = column.source_type.to_ascii_lowercase();
    t.contains("unsigned") || t.contains("zerofill")
}

/// How a column is selected and read.
pub fn select_expression(dialect: Dialect, column: &CatalogColumn) -> (String, ReadAs) {
    let q = column_ref(dialect, &column.name);
    match dialect {
        Dialect::Postgres => (format!("{q}::text"), ReadAs::Text),
        Dialect::Sqlite => (q, ReadAs::Dynamic),
        Dialect::MySql => match column.data_type.as_str() {
            t if is_mysql_integer(t) && is_mysql_unsigned(column) => {
                (format!("CAST({q} AS UNSIGNED)"), ReadAs::UInt)
            }
            t if is_mysql_integer(t) => (format!("CAST({q} AS SIGNED)"), ReadAs::Int),
            "year" => (format!("CAST({q} AS SIGNED)"), ReadAs::Int),
            "bit" => (format!("CAST({q} + 0 AS UNSIGNED)"), ReadAs::UInt),
            "float" => (q, ReadAs::Float32),
            "double" | "real" => (q, ReadAs::Float64),
            "decimal" | "numeric" | "date" | "datetime" | "timestamp" | "time" => {
                (format!("CAST({q} AS CHAR)"), ReadAs::TextOrBytes)
            }
            t if is_mysql_binary(t) => (q, ReadAs::Bytes),
            _ => (
                format!("CAST({q} AS CHAR CHARACTER SET utf8mb4)"),
                ReadAs::TextOrBytes,
            ),
        },
    }
}

/// `decimal(10,2) unsigned` → `(10,2)`.
fn decimal_precision(source_type: &str) -> Option<&str> {
    let start = source_type.find('(')?;
    let end = start + source_type[start..].find(')')?;
    let inner = &source_type[start + 1..end];
    inner
        .split(',')
        .all(|p| !p.trim().is_empty() && p.trim().bytes().all(|b| b.is_ascii_digit()))
        .then(|| &source_type[start..=end])
}

/// The placeholder a value of `column` is bound through, `n` being its 1-based number
/// (PostgreSQL numbers its parameters; the others use `?`).
pub fn placeholder(dialect: Dialect, column: &CatalogColumn, n: usize) -> String {
    match dialect {
        Dialect::Postgres => format!("CAST(${n} AS {})", column.type_sql),
        Dialect::Sqlite => "?".to_string(),
        Dialect::MySql => match column.data_type.as_str() {
            "decimal" | "numeric" => format!(
                "CAST(? AS DECIMAL{})",
                decimal_precision(&column.source_type).unwrap_or("(65,30)")
            ),
            "date" => "CAST(? AS DATE)".to_string(),
            "datetime" | "timestamp" => "CAST(? AS DATETIME(6))".to_string(),
            "time" => "CAST(? AS TIME(6))".to_string(),
            _ => "?".to_string(),
        },
    }
}

/// What a placeholder of a page query binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// The `i`-th ordering cell of the position the page starts after.
    After(usize),
    /// The `i`-th ordering cell of the position the page must not go beyond.
    UpTo(usize),
    /// The lowest value of the first cursor column the page starts at.
    Floor,
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStart {
    /// At the first row.
    First,
    /// After a position (exclusive).
    After,
    /// At the first row whose first cursor column is at least a value (the safety window).
    Floor,
}

/// A page query and what its placeholders bind, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub sql: String,
    pub binds: Vec<Bind>,
    /// How each selected column is read, in table column order.
    pub reads: Vec<ReadAs>,
}

/// The columns of a table as a page query sees them.
#[derive(Debug, Clone, Copy)]
pub struct TableShape<'a> {
    pub dialect: Dialect,
    pub table: &'a TableName,
    pub columns: &'a [CatalogColumn],
    /// Indexes of the cursor columns, in cursor order.
    pub cursor: &'a [usize],
    /// Indexes of the ordering columns: the cursor columns, then the key columns not among
    /// them.
    pub ordering: &'a [usize],
}

struct Placeholders {
    dialect: Dialect,
    binds: Vec<Bind>,
}

impl Placeholders {
    fn next(&mut self, column: &CatalogColumn, bind: Bind) -> String {
        self.binds.push(bind);
        placeholder(self.dialect, column, self.binds.len())
    }
}

impl TableShape<'_> {
    fn ordering_names(&self) -> Vec<String> {
        self.ordering
            .iter()
            .map(|&i| column_ref(self.dialect, &self.columns[i].name))
            .collect()
    }

    /// `(o1, o2) > (p1, p2)`, or the expanded form on MySQL. `bind(i)` says what the `i`-th
    /// ordering cell binds.
    fn greater_than(&self, p: &mut Placeholders, bind: impl Fn(usize) -> Bind) -> String {
        let names = self.ordering_names();
        match self.dialect {
            Dialect::Postgres | Dialect::Sqlite => {
                let values: Vec<String> = (0..names.len())
                    .map(|i| p.next(&self.columns[self.ordering[i]], bind(i)))
                    .collect();
                format!("({}) > ({})", names.join(", "), values.join(", "))
            }
            Dialect::MySql => {
                let disjuncts: Vec<String> = (0..names.len())
                    .map(|d| {
                        let mut parts: Vec<String> = (0..d)
                            .map(|m| {
                                let v = p.next(&self.columns[self.ordering[m]], bind(m));
                                format!("{} = {v}", names[m])
                            })
                            .collect();
                        let v = p.next(&self.columns[self.ordering[d]], bind(d));
                        parts.push(format!("{} > {v}", names[d]));
                        format!("({})", parts.join(" AND "))
                    })
                    .collect();
                format!("({})", disjuncts.join(" OR "))
            }
        }
    }

    /// The SELECT list and how each column is read.
    fn select_list(&self, indexes: impl Iterator<Item = usize>) -> (String, Vec<ReadAs>) {
        let (exprs, reads): (Vec<String>, Vec<ReadAs>) = indexes
            .map(|i| select_expression(self.dialect, &self.columns[i]))
            .unzip();
        (exprs.join(", "), reads)
    }

    /// Rows with a NULL in an ordering column cannot take part in a keyset order: a NULL
    /// bound back makes every comparison unknown and would hide the rows after it. The cursor
    /// columns, and key columns the catalog says may be NULL (SQLite allows NULL in most
    /// primary keys), are required NOT NULL.
    fn not_null(&self) -> Vec<String> {
        self.ordering
            .iter()
            .filter(|&&i| self.cursor.contains(&i) || self.columns[i].nullable)
            .map(|&i| {
                format!(
                    "{} IS NOT NULL",
                    column_ref(self.dialect, &self.columns[i].name)
                )
            })
            .collect()
    }

    /// One keyset page of at most `limit` rows. With `up_to`, rows after the position bound
    /// by [`Bind::UpTo`] are left out (re-reading the safety window below the cursor).
    pub fn page(&self, start: PageStart, up_to: bool, limit: u32) -> PageQuery {
        let mut p = Placeholders {
            dialect: self.dialect,
            binds: Vec::new(),
        };
        let mut conditions = self.not_null();
        match start {
            PageStart::First => {}
            PageStart::After => conditions.push(self.greater_than(&mut p, Bind::After)),
            PageStart::Floor => {
                let first = self.cursor[0];
                let v = p.next(&self.columns[first], Bind::Floor);
                conditions.push(format!(
                    "{} >= {v}",
                    column_ref(self.dialect, &self.columns[first].name)
                ));
            }
        }
        if up_to {
            conditions.push(format!("NOT {}", self.greater_than(&mut p, Bind::UpTo)));
        }
        let (select, reads) = self.select_list(0..self.columns.len());
        let sql = format!(
            "SELECT {select} FROM {} AS {} WHERE {} ORDER BY {} LIMIT {limit}",
            table_sql(self.dialect, self.table),
            quote_ident(self.dialect, TABLE_ALIAS),
            conditions.join(" AND "),
            self.ordering_names().join(", "),
        );
        PageQuery {
            sql,
            binds: p.binds,
            reads,
        }
    }

    /// Every row's `columns` (for the full compare: the key, and the soft-delete column), in
    /// no particular order.
    pub fn columns_of_every_row(&self, columns: &[usize]) -> PageQuery {
        let (select, reads) = self.select_list(columns.iter().copied());
        PageQuery {
            sql: format!(
                "SELECT {select} FROM {} AS {}",
                table_sql(self.dialect, self.table),
                quote_ident(self.dialect, TABLE_ALIAS)
            ),
            binds: Vec::new(),
            reads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg_column(name: &str, type_sql: &str) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            source_type: type_sql.into(),
            data_type: type_sql.into(),
            nullable: false,
            type_oid: 0,
            type_modifier: -1,
            type_sql: type_sql.into(),
        }
    }

    fn columns(dialect: Dialect) -> Vec<CatalogColumn> {
        match dialect {
            Dialect::Postgres => vec![
                pg_column("id", "bigint"),
                pg_column("ten", "text"),
                pg_column("cap_nhat", "timestamp with time zone"),
            ],
            Dialect::MySql => vec![
                CatalogColumn::plain("id", "bigint", "bigint(20) unsigned", false),
                CatalogColumn::plain("ten", "varchar", "varchar(100)", true),
                CatalogColumn::plain("cap_nhat", "datetime", "datetime(6)", false),
            ],
            Dialect::Sqlite => vec![
                CatalogColumn::plain("id", "integer", "INTEGER", false),
                CatalogColumn::plain("ten", "text", "TEXT", true),
                CatalogColumn::plain("cap_nhat", "text", "TEXT", false),
            ],
        }
    }

    fn shape_page(dialect: Dialect, start: PageStart, up_to: bool) -> PageQuery {
        let table = TableName::new("s", "t");
        let columns = columns(dialect);
        TableShape {
            dialect,
            table: &table,
            columns: &columns,
            cursor: &[2],
            ordering: &[2, 0],
        }
        .page(start, up_to, 500)
    }

    #[test]
    fn postgres_pages_use_row_comparison_and_exact_casts() {
        let q = shape_page(Dialect::Postgres, PageStart::After, false);
        assert_eq!(
            q.sql,
            "SELECT \"t\".\"id\"::text, \"t\".\"ten\"::text, \"t\".\"cap_nhat\"::text \
             FROM \"s\".\"t\" AS \"t\" WHERE \"t\".\"cap_nhat\" IS NOT NULL AND \
             (\"t\".\"cap_nhat\", \"t\".\"id\") > \
             (CAST($1 AS timestamp with time zone), CAST($2 AS bigint)) \
             ORDER BY \"t\".\"cap_nhat\", \"t\".\"id\" LIMIT 500"
        );
        assert_eq!(q.binds, [Bind::After(0), Bind::After(1)]);
        assert_eq!(q.reads, [ReadAs::Text; 3]);
    }

    #[test]
    fn window_pages_start_at_the_floor_and_stop_at_the_cursor() {
        let q = shape_page(Dialect::Postgres, PageStart::Floor, true);
        assert!(
            q.sql.contains(
                "\"t\".\"cap_nhat\" >= CAST($1 AS timestamp with time zone) AND NOT (\"t\".\"cap_nhat\", \"t\".\"id\") > (CAST($2 AS timestamp with time zone), CAST($3 AS bigint))"
            ),
            "{}",
            q.sql
        );
        assert_eq!(q.binds, [Bind::Floor, Bind::UpTo(0), Bind::UpTo(1)]);
        let q = shape_page(Dialect::Postgres, PageStart::After, true);
        assert_eq!(
            q.binds,
            [Bind::After(0), Bind::After(1), Bind::UpTo(0), Bind::UpTo(1)]
        );
        assert!(q.sql.contains("CAST($4 AS bigint)"), "{}", q.sql);
    }

    #[test]
    fn mysql_pages_expand_the_row_comparison() {
        let q = shape_page(Dialect::MySql, PageStart::After, false);
        assert_eq!(
            q.sql,
            "SELECT CAST(`t`.`id` AS UNSIGNED), CAST(`t`.`ten` AS CHAR CHARACTER SET utf8mb4), \
             CAST(`t`.`cap_nhat` AS CHAR) FROM `s`.`t` AS `t` WHERE `t`.`cap_nhat` IS NOT NULL AND \
             ((`t`.`cap_nhat` > CAST(? AS DATETIME(6))) OR (`t`.`cap_nhat` = CAST(? AS DATETIME(6)) AND `t`.`id` > ?)) \
             ORDER BY `t`.`cap_nhat`, `t`.`id` LIMIT 500"
        );
        assert_eq!(q.binds, [Bind::After(0), Bind::After(0), Bind::After(1)]);
        assert_eq!(
            q.reads,
            [ReadAs::UInt, ReadAs::TextOrBytes, ReadAs::TextOrBytes]
        );
    }

    #[test]
    fn sqlite_pages_bind_plain_values() {
        let q = shape_page(Dialect::Sqlite, PageStart::First, false);
        assert_eq!(
            q.sql,
            "SELECT \"t\".\"id\", \"t\".\"ten\", \"t\".\"cap_nhat\" FROM \"s\".\"t\" AS \"t\" \
             WHERE \"t\".\"cap_nhat\" IS NOT NULL ORDER BY \"t\".\"cap_nhat\", \"t\".\"id\" LIMIT 500"
        );
        assert!(q.binds.is_empty());
        let q = shape_page(Dialect::Sqlite, PageStart::After, false);
        assert!(
            q.sql
                .contains("(\"t\".\"cap_nhat\", \"t\".\"id\") > (?, ?)"),
            "{}",
            q.sql
        );
    }

    #[test]
    fn mysql_types_are_read_and_bound_exactly() {
        let col = |data_type: &str, source_type: &str| {
            CatalogColumn::plain("c", data_type, source_type, true)
        };
        assert_eq!(
            select_expression(Dialect::MySql, &col("int", "int(11)")),
            ("CAST(`t`.`c` AS SIGNED)".into(), ReadAs::Int)
        );
        assert_eq!(
            select_expression(Dialect::MySql, &col("blob", "blob")).1,
            ReadAs::Bytes
        );
        assert_eq!(
            select_expression(Dialect::MySql, &col("float", "float")).1,
            ReadAs::Float32
        );
        assert_eq!(
            placeholder(Dialect::MySql, &col("decimal", "decimal(10,2) unsigned"), 1),
            "CAST(? AS DECIMAL(10,2))"
        );
        assert_eq!(
            placeholder(Dialect::MySql, &col("decimal", "decimal"), 1),
            "CAST(? AS DECIMAL(65,30))"
        );
        assert_eq!(
            placeholder(Dialect::MySql, &col("timestamp", "timestamp(3)"), 1),
            "CAST(? AS DATETIME(6))"
        );
        assert_eq!(
            placeholder(Dialect::MySql, &col("varchar", "varchar(9)"), 1),
            "?"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident(Dialect::MySql, "a`b"), "`a``b`");
        assert_eq!(quote_ident(Dialect::Postgres, "a\"b"), "\"a\"\"b\"");
        let table = TableName::new("main", "can bo");
        assert_eq!(table_sql(Dialect::Sqlite, &table), "\"main\".\"can bo\"");
    }

    #[test]
    fn every_row_query_selects_only_the_asked_columns() {
        let table = TableName::new("s", "t");
        let columns = columns(Dialect::Postgres);
        let q = TableShape {
            dialect: Dialect::Postgres,
            table: &table,
            columns: &columns,
            cursor: &[2],
            ordering: &[2, 0],
        }
        .columns_of_every_row(&[0, 1]);
        assert_eq!(
            q.sql,
            "SELECT \"t\".\"id\"::text, \"t\".\"ten\"::text FROM \"s\".\"t\" AS \"t\""
        );
    }
}
