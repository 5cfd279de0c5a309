//! What the connector asks the source over an ordinary SQL connection: the server's flavor and
//! settings, the captured tables and their columns from `information_schema` (the facts a table
//! map lacks under `binlog_row_metadata=NO_LOG`), and the current binlog position.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{ConnectOptions, Row};

use crate::binlog::{
    ColumnFacts, ColumnSchema, ColumnType, ServerFlavor, TableFacts, TableMap, TableSchema,
};
use crate::capture::type_fits;
use crate::config::MysqlSourceConfig;
use crate::position::{GtidState, StreamPosition};

/// A table the connector captures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub database: String,
    pub name: String,
}

impl TableRef {
    pub fn new(database: &str, name: &str) -> Self {
        Self {
            database: database.to_string(),
            name: name.to_string(),
        }
    }

    /// `` `database`.`table` ``, quoted for SQL.
    pub fn quoted(&self) -> String {
        format!(
            "{}.{}",
            quote_ident(&self.database),
            quote_ident(&self.name)
        )
    }

    pub fn dotted(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }
}

/// An identifier in backquotes, backquotes inside doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A column as `information_schema.COLUMNS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// `DATA_TYPE`, lower case: `int`, `varchar`, `decimal`, `enum`, ...
    pub data_type: String,
    /// `COLUMN_TYPE`: the full SQL type, `int(10) unsigned`, `enum('nam','nữ')`, ...
    pub column_type: String,
    /// Collation id of `COLLATION_NAME` (character columns).
    pub collation: Option<u16>,
    pub nullable: bool,
    /// A MariaDB `JSON` column: `LONGTEXT` with the `json_valid()` check MariaDB adds for it.
    pub is_json: bool,
}

impl CatalogColumn {
    /// The facts the binlog decoder needs about this column.
    pub fn facts(&self) -> ColumnFacts {
        ColumnFacts::from_information_schema(&self.name, &self.column_type, self.collation)
    }

    /// Whether the type is `UNSIGNED` (numeric columns).
    pub fn unsigned(&self) -> bool {
        self.facts().unsigned.unwrap_or(false)
    }
}

/// Catalog facts about one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTable {
    pub table: TableRef,
    /// Columns in table order (row images list them in this order).
    pub columns: Vec<CatalogColumn>,
    /// Column indexes of the primary key, in key order (empty when the table has none).
    pub primary_key: Vec<usize>,
    /// Storage engine (`InnoDB`, `Aria`, `MyISAM`, ...).
    pub engine: Option<String>,
    /// The server's row estimate, for snapshot progress.
    pub estimated_rows: u64,
}

impl CatalogTable {
    /// The facts the binlog decoder joins with a table map.
    pub fn facts(&self) -> TableFacts {
        TableFacts {
            columns: self.columns.iter().map(CatalogColumn::facts).collect(),
            primary_key: (!self.primary_key.is_empty()).then(|| self.primary_key.clone()),
        }
    }

    /// A text that changes whenever a column is added, dropped, renamed, retyped or moved, or
    /// the key changes: a new fingerprint is a new schema version.
    pub fn fingerprint(&self) -> String {
        let mut text: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{}:{}:{}:{}",
                    c.name,
                    c.column_type,
                    c.collation.map_or(String::new(), |id| id.to_string()),
                    u8::from(c.is_json)
                )
            })
            .collect();
        text.push(format!("pk={:?}", self.primary_key));
        text.join(",")
    }

    /// The table as a table map's own metadata describes it (`binlog_row_metadata=FULL`), for
    /// rows written under an earlier definition than `current`, the one `information_schema`
    /// gives now: the connector meets such rows when several DDL statements passed before it
    /// read the table's facts. Columns the current definition still has with a fitting type keep
    /// their catalog description (JSON flag, exact SQL type); the key comes from the map, or else
    /// from the current key's column names. `None` when the map carries no column names or the
    /// key cannot be found.
    pub fn from_table_map(map: &TableMap, current: &CatalogTable) -> Option<CatalogTable> {
        map.optional_metadata.column_names.as_ref()?;
        let schema = TableSchema::new(map, None).ok()?;
        let mut columns = Vec::with_capacity(schema.columns.len());
        for column in &schema.columns {
            let name = column.name.clone()?;
            let same = current.columns.iter().find(|c| {
                c.name == name
                    && type_fits(&c.data_type, &column.column_type)
                    && (!column.column_type.is_numeric()
                        || column.unsigned.is_none()
                        || c.facts().unsigned == column.unsigned)
                    && (column.collation.is_none() || c.collation == column.collation)
            });
            columns.push(match same {
                Some(known) => CatalogColumn {
                    nullable: column.nullable,
                    ..known.clone()
                },
                None => {
                    let (data_type, column_type) = sql_type(column);
                    CatalogColumn {
                        name,
                        data_type,
                        column_type,
                        collation: column.collation,
                        nullable: column.nullable,
                        is_json: false,
                    }
                }
            });
        }
        let primary_key = match schema.primary_key {
            Some(key) => key,
            None => current
                .primary_key
                .iter()
                .map(|&i| {
                    let name = &current.columns.get(i)?.name;
                    columns.iter().position(|c| &c.name == name)
                })
                .collect::<Option<Vec<usize>>>()?,
        };
        Some(CatalogTable {
            table: current.table.clone(),
            columns,
            primary_key,
            engine: current.engine.clone(),
            estimated_rows: current.estimated_rows,
        })
    }

    /// Why this table cannot be captured, if it cannot.
    pub fn capture_problem(&self) -> Option<String> {
        if self.primary_key.is_empty() {
            return Some(format!(
                "table {} has no primary key: change events are keyed by it; add one (ALTER TABLE {} ADD PRIMARY KEY (...)) or exclude the table",
                self.table.dotted(),
                self.table.quoted()
            ));
        }
        None
    }
}

/// `DATA_TYPE` and `COLUMN_TYPE` as `information_schema` would write them for a column known
/// only from a table map.
fn sql_type(column: &ColumnSchema) -> (String, String) {
    use ColumnType as T;
    let binary = column.collation == Some(BINARY_COLLATION);
    let quote = |label: &String| format!("'{}'", label.replace('\'', "''"));
    let labels = || {
        column
            .labels
            .as_ref()
            .map(|l| l.iter().map(quote).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let (data_type, column_type) = match column.column_type {
        T::NewDecimal { precision, scale } => (
            "decimal".to_string(),
            format!("decimal({precision},{scale})"),
        ),
        T::VarChar { .. } | T::VarCharCompressed { .. } if binary => {
            ("varbinary".into(), "varbinary".into())
        }
        T::VarChar { .. } | T::VarCharCompressed { .. } => ("varchar".into(), "varchar".into()),
        T::String { .. } if binary => ("binary".into(), "binary".into()),
        T::String { .. } => ("char".into(), "char".into()),
        T::Blob { .. } | T::BlobCompressed { .. } if binary => {
            ("longblob".into(), "longblob".into())
        }
        T::Blob { .. } | T::BlobCompressed { .. } => ("longtext".into(), "longtext".into()),
        T::Enum { .. } => ("enum".into(), format!("enum({})", labels())),
        T::Set { .. } => ("set".into(), format!("set({})", labels())),
        T::Bit { bits } => ("bit".into(), format!("bit({bits})")),
        other => {
            let name = other.name().to_ascii_lowercase();
            (name.clone(), name)
        }
    };
    let column_type = if column.column_type.is_numeric() && column.unsigned == Some(true) {
        format!("{column_type} unsigned")
    } else {
        column_type
    };
    (data_type, column_type)
}

/// Collation id 63: `binary` (byte strings, not text).
const BINARY_COLLATION: u16 = 63;

/// What the connector needs to know about the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub flavor: ServerFlavor,
    pub version: String,
    pub server_id: u32,
}

/// Opens an ordinary SQL connection: UTF-8 (utf8mb4) client character set, UTC session time
/// zone (so `TIMESTAMP` values are never shifted through a local zone).
pub async fn connect(url: &str) -> Result<MySqlConnection, sqlx::Error> {
    let url = crate::client::normalise_url(url);
    let options: MySqlConnectOptions = url.parse()?;
    let mut conn = options
        .charset("utf8mb4")
        .timezone(Some("+00:00".to_string()))
        .disable_statement_logging()
        .connect()
        .await?;
    sqlx::raw_sql("SET SESSION sql_mode = ''")
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// Text of a column, however the server typed it (information_schema columns are `VARCHAR`
/// on one server and `VARBINARY` on another).
pub fn text(row: &MySqlRow, index: usize) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(index)?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// The server's flavor, version and id.
pub async fn server_info(conn: &mut MySqlConnection) -> Result<ServerInfo, sqlx::Error> {
    let row = sqlx::query("SELECT VERSION(), CAST(@@server_id AS UNSIGNED)")
        .fetch_one(&mut *conn)
        .await?;
    let version = text(&row, 0)?.unwrap_or_default();
    let server_id: u64 = row.try_get(1)?;
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        ServerFlavor::MariaDb
    } else {
        ServerFlavor::MySql
    };
    Ok(ServerInfo {
        flavor,
        version,
        server_id: u32::try_from(server_id).unwrap_or(u32::MAX),
    })
}

/// A global variable as text (`None` when the server has no such variable).
pub async fn variable(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    let rows = sqlx::raw_sql(&format!(
        "SHOW GLOBAL VARIABLES LIKE '{}'",
        name.replace('\'', "")
    ))
    .fetch_all(&mut *conn)
    .await?;
    rows.first()
        .map(|r| text(r, 1))
        .transpose()
        .map(Option::flatten)
}

/// Base tables matching the configuration's patterns, in name order.
pub async fn captured_tables(
    conn: &mut MySqlConnection,
    config: &MysqlSourceConfig,
) -> Result<Vec<TableRef>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
         WHERE TABLE_TYPE = 'BASE TABLE'
           AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
         ORDER BY TABLE_SCHEMA, TABLE_NAME",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = Vec::new();
    for row in &rows {
        let (Some(database), Some(name)) = (text(row, 0)?, text(row, 1)?) else {
            continue;
        };
        if config.captures(&database, &name) {
            tables.push(TableRef { database, name });
        }
    }
    Ok(tables)
}

/// A table's columns, key, engine and row estimate; `None` when it does not exist.
pub async fn table_info(
    conn: &mut MySqlConnection,
    table: &TableRef,
    flavor: ServerFlavor,
) -> Result<Option<CatalogTable>, sqlx::Error> {
    let meta = sqlx::query(
        "SELECT ENGINE, CAST(COALESCE(TABLE_ROWS, 0) AS UNSIGNED) FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(&table.database)
    .bind(&table.name)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(meta) = meta else {
        return Ok(None);
    };
    let engine = text(&meta, 0)?;
    let estimated_rows: u64 = meta.try_get(1)?;
    let rows = sqlx::query(
        "SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), c.COLUMN_TYPE, CAST(co.ID AS SIGNED),
                c.IS_NULLABLE, c.COLUMN_KEY
         FROM information_schema.COLUMNS c
         LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME
         WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ?
         ORDER BY c.ORDINAL_POSITION",
    )
    .bind(&table.database)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in &rows {
        let collation: Option<i64> = row.try_get(3)?;
        columns.push(CatalogColumn {
            name: text(row, 0)?.unwrap_or_default(),
            data_type: text(row, 1)?.unwrap_or_default(),
            column_type: text(row, 2)?.unwrap_or_default(),
            collation: collation.and_then(|id| u16::try_from(id).ok()),
            nullable: text(row, 4)?.as_deref() == Some("YES"),
            is_json: false,
        });
    }
    let key_rows = sqlx::query(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
         ORDER BY ORDINAL_POSITION",
    )
    .bind(&table.database)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    let mut primary_key = Vec::new();
    for row in &key_rows {
        let name = text(row, 0)?.unwrap_or_default();
        if let Some(index) = columns.iter().position(|c| c.name == name) {
            primary_key.push(index);
        }
    }
    match flavor {
        ServerFlavor::MySql => {
            for c in &mut columns {
                c.is_json = c.data_type == "json";
            }
        }
        ServerFlavor::MariaDb => {
            // MariaDB's JSON is LONGTEXT plus a CHECK (json_valid(`col`)) it adds itself.
            let checks = sqlx::query(
                "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
                 WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
            )
            .bind(&table.database)
            .bind(&table.name)
            .fetch_all(&mut *conn)
            .await?;
            let clauses: Vec<String> = checks
                .iter()
                .filter_map(|r| text(r, 0).ok().flatten())
                .map(|c| c.to_ascii_lowercase().replace(' ', ""))
                .collect();
            for c in &mut columns {
                let expected = format!("json_valid({})", quote_ident(&c.name.to_ascii_lowercase()));
                c.is_json = c.data_type == "longtext" && clauses.contains(&expected);
            }
        }
    }
    Ok(Some(CatalogTable {
        table: table.clone(),
        columns,
        primary_key,
        engine,
        estimated_rows,
    }))
}

/// The server's current binlog position (where a stream without a snapshot starts).
pub async fn current_position(
    conn: &mut MySqlConnection,
    flavor: ServerFlavor,
) -> Result<StreamPosition, sqlx::Error> {
    let (file, offset, executed) = master_status(conn).await?;
    let gtid = match flavor {
        ServerFlavor::MariaDb => {
            let text: Option<String> = sqlx::query("SELECT @@GLOBAL.gtid_binlog_pos")
                .fetch_one(&mut *conn)
                .await
                .and_then(|r| text(&r, 0))?;
            parse_mariadb_gtid(text.as_deref().unwrap_or_default())?
        }
        ServerFlavor::MySql => parse_mysql_gtid(executed.as_deref().unwrap_or_default())?,
    };
    Ok(StreamPosition { gtid, file, offset })
}

/// `SHOW MASTER STATUS` (`SHOW BINARY LOG STATUS` on MySQL 8.2+): file, position and, on
/// MySQL, the executed GTID set.
pub async fn master_status(
    conn: &mut MySqlConnection,
) -> Result<(String, u64, Option<String>), sqlx::Error> {
    let rows = match sqlx::raw_sql("SHOW MASTER STATUS")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42000") => {
            sqlx::raw_sql("SHOW BINARY LOG STATUS")
                .fetch_all(&mut *conn)
                .await?
        }
        Err(e) => return Err(e),
    };
    let row = rows.first().ok_or_else(|| {
        sqlx::Error::Protocol(
            "SHOW MASTER STATUS returned no row: binary logging (log_bin) is off".into(),
        )
    })?;
    let file = text(row, 0)?.unwrap_or_default();
    let offset = text(row, 1)?
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(4);
    let executed = if row.len() > 4 { text(row, 4)? } else { None };
    Ok((file, offset, executed))
}

pub fn parse_mariadb_gtid(text: &str) -> Result<GtidState, sqlx::Error> {
    text.parse()
        .map(GtidState::Mariadb)
        .map_err(|e| sqlx::Error::Protocol(format!("server GTID position {text:?}: {e}")))
}

pub fn parse_mysql_gtid(text: &str) -> Result<GtidState, sqlx::Error> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok(GtidState::None);
    }
    compact
        .parse()
        .map(GtidState::Mysql)
        .map_err(|e| sqlx::Error::Protocol(format!("server GTID set {text:?}: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn earlier_map(with_names: bool) -> TableMap {
        use crate::binlog::table_map::{DefaultCharset, OptionalMetadata, TableMapColumn};
        let col = |type_code, column_type| TableMapColumn {
            type_code,
            column_type,
            nullable: true,
        };
        TableMap {
            table_id: 7,
            flags: 0,
            schema: "db".into(),
            table: "don_vi".into(),
            columns: vec![
                col(3, ColumnType::Long),
                col(15, ColumnType::VarChar { max_length: 200 }),
                col(3, ColumnType::Long),
            ],
            optional_metadata: OptionalMetadata {
                signedness: Some(vec![false, true]),
                default_charset: Some(DefaultCharset {
                    default_collation: 45,
                    exceptions: Vec::new(),
                }),
                column_names: with_names
                    .then(|| vec![b"id".to_vec(), b"ten".to_vec(), b"cap".to_vec()]),
                primary_key: Some(vec![0]),
                ..OptionalMetadata::default()
            },
            flavor: ServerFlavor::MariaDb,
        }
    }

    #[test]
    fn an_earlier_definition_is_taken_from_the_table_map_metadata() {
        // Now: `ten` dropped and `cap` retyped to BIGINT; the map is of rows written before.
        let current = CatalogTable {
            table: TableRef::new("db", "don_vi"),
            columns: vec![
                column("id", "int", "int(11)"),
                column("cap", "bigint", "bigint(20)"),
            ],
            primary_key: vec![0],
            engine: Some("InnoDB".into()),
            estimated_rows: 3,
        };
        let map = earlier_map(true);
        assert!(crate::capture::fit(&map, &current).is_err());
        let earlier = CatalogTable::from_table_map(&map, &current).unwrap();
        let described: Vec<(&str, &str, &str)> = earlier
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.data_type.as_str(),
                    c.column_type.as_str(),
                )
            })
            .collect();
        assert_eq!(
            described,
            vec![
                ("id", "int", "int(11)"),
                ("ten", "varchar", "varchar"),
                ("cap", "int", "int unsigned"),
            ]
        );
        assert_eq!(earlier.columns[1].collation, Some(45));
        assert_eq!(earlier.primary_key, vec![0]);
        assert_ne!(earlier.fingerprint(), current.fingerprint());
        let schema = crate::capture::fit(&map, &earlier).unwrap();
        assert_eq!(schema.columns[2].unsigned, Some(true));
        // Without column names the map cannot describe the table.
        assert!(CatalogTable::from_table_map(&earlier_map(false), &current).is_none());
    }

    fn column(name: &str, data_type: &str, column_type: &str) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            collation: None,
            nullable: true,
            is_json: false,
        }
    }

    #[test]
    fn quoting_and_fingerprints() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(TableRef::new("bhxh", "nguoi").quoted(), "`bhxh`.`nguoi`");
        let mut table = CatalogTable {
            table: TableRef::new("bhxh", "nguoi"),
            columns: vec![column("id", "int", "int(10) unsigned")],
            primary_key: vec![0],
            engine: Some("InnoDB".into()),
            estimated_rows: 0,
        };
        assert!(table.capture_problem().is_none());
        assert_eq!(table.facts().columns[0].unsigned, Some(true));
        let before = table.fingerprint();
        table.columns.push(column("ten", "varchar", "varchar(50)"));
        assert_ne!(table.fingerprint(), before);
        table.primary_key.clear();
        assert!(table.capture_problem().unwrap().contains("ADD PRIMARY KEY"));
    }

    #[test]
    fn gtid_texts() {
        assert_eq!(
            parse_mariadb_gtid("").unwrap(),
            GtidState::Mariadb(Default::default())
        );
        assert!(matches!(
            parse_mariadb_gtid("0-1-5").unwrap(),
            GtidState::Mariadb(_)
        ));
        assert!(parse_mariadb_gtid("x").is_err());
        assert_eq!(parse_mysql_gtid(" \n").unwrap(), GtidState::None);
        assert!(matches!(
            parse_mysql_gtid(
                "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,\n3e11fa47-71ca-11e1-9e33-c80aa9429563:1"
            )
            .unwrap(),
            GtidState::Mysql(_)
        ));
    }
}
