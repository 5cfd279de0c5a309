//! The social-security database in MariaDB (or MySQL): `QUA_TRINH_THAM_GIA` in the database the
//! URL names (`bhxh` for the shipped mapping), loaded with multi-row `INSERT`s.

use std::str::FromStr as _;

use sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError};
use sqlx::{Connection as _, Executor as _, MySql, MySqlConnection, QueryBuilder};

use super::{DbError, database_name, is_plain_identifier, redact};
use crate::sources::social_insurance::{COLUMNS, QuaTrinhThamGia, TABLE};
use crate::sources::value::SqlValue;

/// Rows per `INSERT`: 19 parameters each stays far below the 65,535 placeholders a prepared
/// statement may hold.
const ROWS_PER_INSERT: usize = 1_000;

/// MariaDB's "unknown database" error number.
const ER_BAD_DB_ERROR: u16 = 1049;

/// The `CREATE TABLE` of `QUA_TRINH_THAM_GIA` (utf8mb4: Vietnamese names, and legacy bytes
/// read as Latin-1 characters).
pub fn create_table_sql() -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| match c.name {
            "ID" => format!(
                "  {} {} NOT NULL AUTO_INCREMENT PRIMARY KEY",
                c.name, c.sql_type
            ),
            "MA_SO_BHXH" | "HO_TEN" => format!("  {} {} NOT NULL", c.name, c.sql_type),
            _ => format!("  {} {}", c.name, c.sql_type),
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (\n{},\n  KEY IX_MA_SO_BHXH (MA_SO_BHXH)\n) DEFAULT CHARSET=utf8mb4",
        columns.join(",\n")
    )
}

/// Connects to `url`; with `create_database`, creates the database it names first if it does
/// not exist.
pub async fn connect(url: &str, create_database: bool) -> Result<MySqlConnection, DbError> {
    let target = redact(url);
    let options = MySqlConnectOptions::from_str(url).map_err(|e| DbError::Url {
        target: target.clone(),
        reason: e.to_string(),
    })?;
    let unknown_database = |e: &sqlx::Error| match e {
        sqlx::Error::Database(e) => e
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|e| e.number() == ER_BAD_DB_ERROR),
        _ => false,
    };
    match MySqlConnection::connect_with(&options).await {
        Err(e) if create_database && unknown_database(&e) => {
            let name = database_name(url).unwrap_or_default();
            if !is_plain_identifier(&name) {
                return Err(DbError::Url {
                    target,
                    reason: format!(
                        "database {name:?} does not exist, and only names of letters, digits and _ are created"
                    ),
                });
            }
            let mut server = url::Url::parse(url).map_err(|e| DbError::Url {
                target: target.clone(),
                reason: e.to_string(),
            })?;
            server.set_path("");
            let admin_options =
                MySqlConnectOptions::from_str(server.as_str()).map_err(|e| DbError::Url {
                    target: target.clone(),
                    reason: e.to_string(),
                })?;
            let mut admin = MySqlConnection::connect_with(&admin_options)
                .await
                .map_err(|source| DbError::Connect {
                    target: target.clone(),
                    source,
                })?;
            admin
                .execute(
                    format!("CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4").as_str(),
                )
                .await
                .map_err(|source| DbError::Statement {
                    target: target.clone(),
                    what: format!("creating database {name}"),
                    source,
                })?;
            let _ = admin.close().await;
            MySqlConnection::connect_with(&options)
                .await
                .map_err(|source| DbError::Connect { target, source })
        }
        result => result.map_err(|source| DbError::Connect { target, source }),
    }
}

fn statement(target: &str, what: &str) -> impl FnOnce(sqlx::Error) -> DbError + use<> {
    let (target, what) = (target.to_owned(), what.to_owned());
    move |source| DbError::Statement {
        target,
        what,
        source,
    }
}

/// Creates the table if it is missing. An existing table must be empty, unless `replace`:
/// then it is dropped and created again.
pub async fn prepare_table(
    conn: &mut MySqlConnection,
    target: &str,
    replace: bool,
) -> Result<(), DbError> {
    if replace {
        conn.execute(format!("DROP TABLE IF EXISTS {TABLE}").as_str())
            .await
            .map_err(statement(target, "dropping the table"))?;
    }
    conn.execute(create_table_sql().as_str())
        .await
        .map_err(statement(target, "creating the table"))?;
    let rows = row_count(conn, target).await?;
    if rows > 0 {
        return Err(DbError::NotEmpty {
            target: target.to_owned(),
            table: TABLE.to_owned(),
            rows,
        });
    }
    Ok(())
}

pub async fn row_count(conn: &mut MySqlConnection, target: &str) -> Result<i64, DbError> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {TABLE}"))
        .fetch_one(conn)
        .await
        .map_err(statement(target, "counting rows"))
}

/// Binds one value: integers as integers, everything else as text the server converts to the
/// column's type.
pub fn push_value(
    builder: &mut sqlx::query_builder::Separated<'_, '_, MySql, &str>,
    value: &SqlValue,
) {
    match value {
        SqlValue::Int(i) => builder.push_bind(*i),
        other => builder.push_bind(other.to_sql_text()),
    };
}

/// Loads rows in one transaction, [`ROWS_PER_INSERT`] per statement. Returns the rows inserted.
pub async fn load<'a>(
    conn: &mut MySqlConnection,
    target: &str,
    rows: impl IntoIterator<Item = &'a QuaTrinhThamGia>,
) -> Result<u64, DbError> {
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let head = format!("INSERT INTO {TABLE} ({}) ", names.join(", "));
    let mut tx = conn
        .begin()
        .await
        .map_err(statement(target, "starting the load"))?;
    let mut inserted = 0;
    let mut batch: Vec<Vec<SqlValue>> = Vec::with_capacity(ROWS_PER_INSERT);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        batch.clear();
        batch.extend(
            rows.by_ref()
                .take(ROWS_PER_INSERT)
                .map(QuaTrinhThamGia::values),
        );
        let mut builder = QueryBuilder::<MySql>::new(head.as_str());
        builder.push_values(&batch, |mut row, values| {
            for value in values {
                push_value(&mut row, value);
            }
        });
        let done = builder
            .build()
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(statement(target, "inserting rows"))?;
        inserted += done.rows_affected();
    }
    tx.commit()
        .await
        .map_err(statement(target, "committing the load"))?;
    Ok(inserted)
}

/// `INSERT` of one row, parameters in [`COLUMNS`] order.
pub fn insert_sql() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let params = vec!["?"; COLUMNS.len()];
    format!(
        "INSERT INTO {TABLE} ({}) VALUES ({})",
        names.join(", "),
        params.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_names_every_column_of_the_mapping() {
        let ddl = create_table_sql();
        assert!(
            ddl.contains("ID BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"),
            "{ddl}"
        );
        assert!(ddl.contains("MUC_LUONG DECIMAL(15,0)"), "{ddl}");
        assert!(ddl.contains("utf8mb4"));
        assert_eq!(insert_sql().matches('?').count(), 19);
    }
}
