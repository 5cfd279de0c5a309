//! The connection to the polled database, one per dialect: connecting with the session
//! settings the value decoding relies on, reading the catalog, running page queries with their
//! bound cells and reading result rows into [`Cell`]s. The only module of the crate that talks
//! to the source database.

use std::str::FromStr as _;
use std::time::Duration;

use futures::TryStreamExt as _;
use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{Connection as _, Row as _, TypeInfo as _, ValueRef as _};

use crate::catalog::{CatalogColumn, CatalogTable, TableName};
use crate::dialect::{Dialect, PageQuery, ReadAs, quote_ident};
use crate::values::{Cell, shortest_f32};

/// How long SQLite waits for a writer's lock before a query fails (and the poll is retried).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open connection to the polled database.
#[derive(Debug)]
pub enum SourceDb {
    Postgres(PgConnection),
    MySql(MySqlConnection),
    Sqlite(SqliteConnection),
}

/// The dialect a URL names, by scheme.
pub fn dialect_of(url: &str) -> Option<Dialect> {
    match url.split(':').next().unwrap_or_default() {
        "postgres" | "postgresql" => Some(Dialect::Postgres),
        "mysql" | "mariadb" => Some(Dialect::MySql),
        "sqlite" => Some(Dialect::Sqlite),
        _ => None,
    }
}

impl SourceDb {
    /// Connects and sets the session up: PostgreSQL with the PostgreSQL connector's settings
    /// (ISO dates, UTC, exact floats, hex bytea), MySQL/MariaDB in UTC with `utf8mb4`, SQLite
    /// waiting for writers' locks.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        match dialect_of(url) {
            Some(Dialect::Postgres) => Ok(Self::Postgres(
                lienthong_source_postgres::catalog::connect(url).await?,
            )),
            Some(Dialect::MySql) => {
                let url = match url.strip_prefix("mariadb:") {
                    Some(rest) => format!("mysql:{rest}"),
                    None => url.to_string(),
                };
                let mut conn = MySqlConnection::connect(&url).await?;
                sqlx::raw_sql("SET time_zone = '+00:00', NAMES utf8mb4")
                    .execute(&mut conn)
                    .await?;
                Ok(Self::MySql(conn))
            }
            Some(Dialect::Sqlite) => {
                let options =
                    SqliteConnectOptions::from_str(url)?.busy_timeout(SQLITE_BUSY_TIMEOUT);
                Ok(Self::Sqlite(
                    SqliteConnection::connect_with(&options).await?,
                ))
            }
            None => Err(sqlx::Error::Configuration(
                format!(
                    "{} is not a postgres://, mysql:// or sqlite:// URL",
                    lienthong_runtime::config::redact_url(url)
                )
                .into(),
            )),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) => Dialect::Postgres,
            Self::MySql(_) => Dialect::MySql,
            Self::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The database's name for `ChangeEvent.database`: PostgreSQL's `current_database()`, the
    /// MySQL schema (`None`: each table's own), SQLite's file name.
    pub async fn database_name(&mut self, url: &str) -> Result<Option<String>, sqlx::Error> {
        match self {
            Self::Postgres(conn) => Ok(Some(
                sqlx::query_scalar::<_, String>("SELECT current_database()::text")
                    .fetch_one(conn)
                    .await?,
            )),
            Self::MySql(_) => Ok(None),
            Self::Sqlite(_) => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or_default();
                Ok(Some(
                    std::path::Path::new(path)
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| path.to_string()),
                ))
            }
        }
    }

    /// The table's columns and primary key; `None` when it does not exist.
    pub async fn table(&mut self, table: &TableName) -> Result<Option<CatalogTable>, sqlx::Error> {
        let (columns, primary_key) = match self {
            Self::Postgres(conn) => postgres_catalog(conn, table).await?,
            Self::MySql(conn) => mysql_catalog(conn, table).await?,
            Self::Sqlite(conn) => sqlite_catalog(conn, table).await?,
        };
        Ok((!columns.is_empty()).then(|| CatalogTable {
            table: table.clone(),
            columns,
            primary_key,
        }))
    }

    /// The column lists of the table's indexes, each in index order.
    pub async fn indexes(&mut self, table: &TableName) -> Result<Vec<Vec<String>>, sqlx::Error> {
        let pairs: Vec<(String, String)> = match self {
            Self::Postgres(conn) => {
                let qualified = format!(
                    "{}.{}",
                    quote_ident(Dialect::Postgres, &table.schema),
                    quote_ident(Dialect::Postgres, &table.name)
                );
                sqlx::query_as(
                    "SELECT i.indexrelid::regclass::text, a.attname::text
                       FROM pg_index i
                       CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                      WHERE i.indrelid = to_regclass($1)
                      ORDER BY 1, k.ord",
                )
                .bind(qualified)
                .fetch_all(conn)
                .await?
            }
            Self::MySql(conn) => {
                let rows = sqlx::query(
                    "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
                      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX",
                )
                .bind(&table.schema)
                .bind(&table.name)
                .fetch_all(conn)
                .await?;
                rows.iter()
                    .map(|r| Ok((schema_text(r, 0)?, schema_text(r, 1)?)))
                    .collect::<Result<_, sqlx::Error>>()?
            }
            Self::Sqlite(conn) => {
                sqlx::query_as(
                    "SELECT il.name, ii.name FROM pragma_index_list(?1, ?2) AS il,
                            pragma_index_info(il.name, ?2) AS ii
                      WHERE ii.name IS NOT NULL ORDER BY il.name, ii.seqno",
                )
                .bind(&table.name)
                .bind(&table.schema)
                .fetch_all(conn)
                .await?
            }
        };
        let mut indexes: Vec<(String, Vec<String>)> = Vec::new();
        for (index, column) in pairs {
            match indexes.last_mut() {
                Some((name, columns)) if *name == index => columns.push(column),
                _ => indexes.push((index, vec![column])),
            }
        }
        Ok(indexes.into_iter().map(|(_, columns)| columns).collect())
    }

    /// Runs a page query with `binds` (one cell per placeholder) and reads every row.
    pub async fn fetch(
        &mut self,
        query: &PageQuery,
        binds: &[&Cell],
    ) -> Result<Vec<Vec<Cell>>, sqlx::Error> {
        match self {
            Self::Postgres(conn) => {
                let rows = bind_postgres(sqlx::query(&query.sql), binds)
                    .fetch_all(conn)
                    .await?;
                rows.iter().map(postgres_cells).collect()
            }
            Self::MySql(conn) => {
                let rows = bind_mysql(sqlx::query(&query.sql), binds)
                    .fetch_all(conn)
                    .await?;
                rows.iter().map(|r| mysql_cells(r, &query.reads)).collect()
            }
            Self::Sqlite(conn) => {
                let rows = bind_sqlite(sqlx::query(&query.sql), binds)
                    .fetch_all(conn)
                    .await?;
                rows.iter().map(sqlite_cells).collect()
            }
        }
    }

    /// Runs a query without binds and hands each row to `each` as it arrives (the full
    /// compare's key scan, which may be larger than memory should hold at once).
    pub async fn for_each_row(
        &mut self,
        query: &PageQuery,
        mut each: impl FnMut(Vec<Cell>),
    ) -> Result<u64, sqlx::Error> {
        let mut count = 0;
        match self {
            Self::Postgres(conn) => {
                let mut rows = sqlx::query(&query.sql).fetch(conn);
                while let Some(row) = rows.try_next().await? {
                    each(postgres_cells(&row)?);
                    count += 1;
                }
            }
            Self::MySql(conn) => {
                let mut rows = sqlx::query(&query.sql).fetch(conn);
                while let Some(row) = rows.try_next().await? {
                    each(mysql_cells(&row, &query.reads)?);
                    count += 1;
                }
            }
            Self::Sqlite(conn) => {
                let mut rows = sqlx::query(&query.sql).fetch(conn);
                while let Some(row) = rows.try_next().await? {
                    each(sqlite_cells(&row)?);
                    count += 1;
                }
            }
        }
        Ok(count)
    }

    pub async fn close(self) {
        let _ = match self {
            Self::Postgres(c) => c.close().await,
            Self::MySql(c) => c.close().await,
            Self::Sqlite(c) => c.close().await,
        };
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;
type MySqlQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// PostgreSQL placeholders cast their parameter to the column's type, so text is bound for
/// every cell (other kinds only occur in cells this crate made, never from PostgreSQL rows).
fn bind_postgres<'q>(mut query: PgQuery<'q>, binds: &[&Cell]) -> PgQuery<'q> {
    for cell in binds {
        query = match cell {
            Cell::Null => query.bind(None::<String>),
            other => query.bind(other.display()),
        };
    }
    query
}

fn bind_mysql<'q>(mut query: MySqlQuery<'q>, binds: &[&Cell]) -> MySqlQuery<'q> {
    for cell in binds {
        query = match cell {
            Cell::Null => query.bind(None::<String>),
            Cell::Int(i) => query.bind(*i),
            Cell::UInt(u) => query.bind(*u),
            Cell::Float(f) => query.bind(*f),
            Cell::Text(s) => query.bind(s.clone()),
            Cell::Bytes(b) => query.bind(b.clone()),
        };
    }
    query
}

fn bind_sqlite<'q>(mut query: SqliteQuery<'q>, binds: &[&Cell]) -> SqliteQuery<'q> {
    for cell in binds {
        query = match cell {
            Cell::Null => query.bind(None::<String>),
            Cell::Int(i) => query.bind(*i),
            Cell::UInt(u) => match i64::try_from(*u) {
                Ok(i) => query.bind(i),
                Err(_) => query.bind(*u as f64),
            },
            Cell::Float(f) => query.bind(*f),
            Cell::Text(s) => query.bind(s.clone()),
            Cell::Bytes(b) => query.bind(b.clone()),
        };
    }
    query
}

fn postgres_cells(row: &PgRow) -> Result<Vec<Cell>, sqlx::Error> {
    (0..row.columns().len())
        .map(|i| {
            Ok(match row.try_get::<Option<String>, _>(i)? {
                Some(text) => Cell::Text(text),
                None => Cell::Null,
            })
        })
        .collect()
}

fn text_or_bytes(bytes: Vec<u8>) -> Cell {
    match String::from_utf8(bytes) {
        Ok(text) => Cell::Text(text),
        Err(e) => Cell::Bytes(e.into_bytes()),
    }
}

fn mysql_cells(row: &MySqlRow, reads: &[ReadAs]) -> Result<Vec<Cell>, sqlx::Error> {
    reads
        .iter()
        .enumerate()
        .map(|(i, read)| {
            let cell = match read {
                ReadAs::Int => row.try_get_unchecked::<Option<i64>, _>(i)?.map(Cell::Int),
                ReadAs::UInt => row.try_get_unchecked::<Option<u64>, _>(i)?.map(Cell::UInt),
                ReadAs::Float32 => row
                    .try_get_unchecked::<Option<f32>, _>(i)?
                    .map(|f| Cell::Float(shortest_f32(f))),
                ReadAs::Float64 => row.try_get_unchecked::<Option<f64>, _>(i)?.map(Cell::Float),
                ReadAs::Bytes => row
                    .try_get_unchecked::<Option<Vec<u8>>, _>(i)?
                    .map(Cell::Bytes),
                ReadAs::Text | ReadAs::TextOrBytes | ReadAs::Dynamic => row
                    .try_get_unchecked::<Option<Vec<u8>>, _>(i)?
                    .map(text_or_bytes),
            };
            Ok(cell.unwrap_or(Cell::Null))
        })
        .collect()
}

fn sqlite_cells(row: &SqliteRow) -> Result<Vec<Cell>, sqlx::Error> {
    (0..row.columns().len())
        .map(|i| {
            let raw = row.try_get_raw(i)?;
            if raw.is_null() {
                return Ok(Cell::Null);
            }
            // The value's own storage class, not the column's declared type.
            let class = raw.type_info().name().to_string();
            Ok(match class.as_str() {
                "INTEGER" => Cell::Int(row.try_get_unchecked::<i64, _>(i)?),
                "REAL" => Cell::Float(row.try_get_unchecked::<f64, _>(i)?),
                "BLOB" => Cell::Bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
                _ => text_or_bytes(row.try_get_unchecked::<Vec<u8>, _>(i)?),
            })
        })
        .collect()
}

type Catalog = (Vec<CatalogColumn>, Vec<String>);

async fn postgres_catalog(
    conn: &mut PgConnection,
    table: &TableName,
) -> Result<Catalog, sqlx::Error> {
    let qualified = format!(
        "{}.{}",
        quote_ident(Dialect::Postgres, &table.schema),
        quote_ident(Dialect::Postgres, &table.name)
    );
    let rows = sqlx::query(
        "SELECT a.attname::text, a.atttypid::int8, a.atttypmod, format_type(a.atttypid, a.atttypmod),
                t.typname::text, NOT a.attnotnull
           FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
          ORDER BY a.attnum",
    )
    .bind(&qualified)
    .fetch_all(&mut *conn)
    .await?;
    let columns = rows
        .iter()
        .map(|r| {
            let oid = u32::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0);
            let modifier: i32 = r.try_get(2)?;
            let type_sql: String = r.try_get(3)?;
            Ok(CatalogColumn {
                name: r.try_get(0)?,
                source_type: lienthong_source_postgres::values::builtin_type_name(oid, modifier)
                    .unwrap_or_else(|| type_sql.clone()),
                data_type: r.try_get(4)?,
                nullable: r.try_get(5)?,
                type_oid: oid,
                type_modifier: modifier,
                type_sql,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let primary_key = sqlx::query_scalar::<_, String>(
        "SELECT a.attname::text
           FROM pg_index i
           CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = to_regclass($1) AND i.indisprimary
          ORDER BY k.ord",
    )
    .bind(&qualified)
    .fetch_all(&mut *conn)
    .await?;
    Ok((columns, primary_key))
}

/// Text of an `information_schema` cell: servers differ in whether these are `VARCHAR` or
/// `VARBINARY`, so they are read as bytes.
fn schema_text(row: &MySqlRow, index: usize) -> Result<String, sqlx::Error> {
    Ok(row
        .try_get_unchecked::<Option<Vec<u8>>, _>(index)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}

async fn mysql_catalog(
    conn: &mut MySqlConnection,
    table: &TableName,
) -> Result<Catalog, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    let columns = rows
        .iter()
        .map(|r| {
            Ok(CatalogColumn::plain(
                &schema_text(r, 0)?,
                &schema_text(r, 1)?,
                &schema_text(r, 2)?,
                schema_text(r, 3)? == "YES",
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let keys = sqlx::query(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'
          ORDER BY ORDINAL_POSITION",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_all(&mut *conn)
    .await?;
    let primary_key = keys
        .iter()
        .map(|r| schema_text(r, 0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((columns, primary_key))
}

async fn sqlite_catalog(
    conn: &mut SqliteConnection,
    table: &TableName,
) -> Result<Catalog, sqlx::Error> {
    let rows = sqlx::query(r#"SELECT name, type, "notnull", pk FROM pragma_table_info(?1, ?2)"#)
        .bind(&table.name)
        .bind(&table.schema)
        .fetch_all(&mut *conn)
        .await?;
    let mut key: Vec<(i64, String)> = Vec::new();
    let mut columns = rows
        .iter()
        .map(|r| {
            let name: String = r.try_get(0)?;
            let declared: String = r.try_get(1)?;
            let not_null: i64 = r.try_get(2)?;
            let pk: i64 = r.try_get(3)?;
            if pk > 0 {
                key.push((pk, name.clone()));
            }
            Ok(CatalogColumn::plain(
                &name,
                &declared,
                &declared,
                not_null == 0,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    // A primary key may hold NULL in SQLite unless declared NOT NULL, except the rowid alias
    // (a single `INTEGER PRIMARY KEY` column), which never does.
    if let [(_, only)] = key.as_slice()
        && let Some(c) = columns.iter_mut().find(|c| &c.name == only)
        && c.data_type == "integer"
    {
        c.nullable = false;
    }
    key.sort();
    Ok((columns, key.into_iter().map(|(_, name)| name).collect()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dialects_by_scheme() {
        assert_eq!(dialect_of("postgresql://h/db"), Some(Dialect::Postgres));
        assert_eq!(dialect_of("mariadb://h/db"), Some(Dialect::MySql));
        assert_eq!(dialect_of("sqlite:///tmp/x.db"), Some(Dialect::Sqlite));
        assert_eq!(dialect_of("oracle://h/db"), None);
    }

    #[tokio::test]
    async fn sqlite_catalog_and_cells() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("hr.db").display());
        let mut db = SourceDb::connect(&url).await.unwrap();
        let SourceDb::Sqlite(conn) = &mut db else {
            panic!()
        };
        sqlx::raw_sql(
            "CREATE TABLE can_bo (ma TEXT NOT NULL, stt INTEGER NOT NULL, ten TEXT, he_so REAL,
                                  anh BLOB, PRIMARY KEY (stt, ma));
             INSERT INTO can_bo VALUES ('A', 1, 'Nguyễn', 4.5, x'00ff'), ('B', 2, NULL, 3, NULL);",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let table = db
            .table(&TableName::new("main", "can_bo"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(table.primary_key, ["stt", "ma"]);
        assert_eq!(table.columns[2].data_type, "text");
        assert!(table.columns[2].nullable && !table.columns[0].nullable);
        let SourceDb::Sqlite(conn) = &mut db else {
            panic!()
        };
        sqlx::raw_sql(
            "CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (ma TEXT PRIMARY KEY)",
        )
        .execute(&mut *conn)
        .await
        .unwrap();
        let a = db
            .table(&TableName::new("main", "a"))
            .await
            .unwrap()
            .unwrap();
        let b = db
            .table(&TableName::new("main", "b"))
            .await
            .unwrap()
            .unwrap();
        assert!(!a.columns[0].nullable, "the rowid alias is never NULL");
        assert!(
            b.columns[0].nullable,
            "SQLite lets other primary keys hold NULL"
        );
        let SourceDb::Sqlite(conn) = &mut db else {
            panic!()
        };
        sqlx::raw_sql("CREATE INDEX can_bo_ten ON can_bo (ten, he_so)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut indexes = db.indexes(&TableName::new("main", "can_bo")).await.unwrap();
        indexes.sort();
        assert_eq!(indexes, [vec!["stt", "ma"], vec!["ten", "he_so"]]);
        assert!(
            db.table(&TableName::new("main", "missing"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            db.database_name(&url).await.unwrap().as_deref(),
            Some("hr.db")
        );
        let query = PageQuery {
            sql: "SELECT ma, stt, ten, he_so, anh FROM can_bo WHERE stt > ? ORDER BY stt".into(),
            binds: Vec::new(),
            reads: vec![ReadAs::Dynamic; 5],
        };
        let rows = db.fetch(&query, &[&Cell::Int(0)]).await.unwrap();
        assert_eq!(
            rows[0],
            [
                Cell::Text("A".into()),
                Cell::Int(1),
                Cell::Text("Nguyễn".into()),
                Cell::Float(4.5),
                Cell::Bytes(vec![0, 255])
            ]
        );
        // Storage class, not declared type: 3 was stored in a REAL column as a REAL.
        assert_eq!(rows[1][3], Cell::Float(3.0));
        assert_eq!(rows[1][2], Cell::Null);
        db.close().await;
    }
}
