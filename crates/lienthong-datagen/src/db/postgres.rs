//! The civil-servant database in PostgreSQL: `public.ho_so_can_bo`, loaded with `COPY`.
//!
//! The table has a primary key, so the logical-replication connector identifies rows of
//! updates and deletes by it without `REPLICA IDENTITY FULL`.

use std::str::FromStr as _;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, Executor as _, PgConnection};

use super::{DbError, is_plain_identifier, redact};
use crate::sources::civil_service::{COLUMNS, HoSoCanBo, SCHEMA, TABLE};
use crate::sources::value::SqlValue;

/// `schema.table`.
pub fn qualified_table() -> String {
    format!("{SCHEMA}.{TABLE}")
}

/// The `CREATE TABLE` of `ho_so_can_bo`.
pub fn create_table_sql() -> String {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| {
            if c.name == "id" {
                format!("    {} {} PRIMARY KEY", c.name, c.sql_type)
            } else {
                format!("    {} {}", c.name, c.sql_type)
            }
        })
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{}\n)",
        qualified_table(),
        columns.join(",\n")
    )
}

/// Connects to `url`; with `create_database`, creates the database it names first if it does
/// not exist (the role needs CREATEDB).
pub async fn connect(url: &str, create_database: bool) -> Result<PgConnection, DbError> {
    let target = redact(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| DbError::Url {
        target: target.clone(),
        reason: e.to_string(),
    })?;
    match PgConnection::connect_with(&options).await {
        Err(sqlx::Error::Database(e))
            if create_database && e.code().as_deref() == Some("3D000") =>
        {
            let name = options.get_database().unwrap_or_default().to_owned();
            if !is_plain_identifier(&name) {
                return Err(DbError::Url {
                    target,
                    reason: format!(
                        "database {name:?} does not exist, and only names of letters, digits and _ are created"
                    ),
                });
            }
            let admin_options = options.clone().database("postgres");
            let mut admin = PgConnection::connect_with(&admin_options)
                .await
                .map_err(|source| DbError::Connect {
                    target: target.clone(),
                    source,
                })?;
            let created = admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await;
            match created {
                Ok(_) => {}
                // Created meanwhile by someone else: fine.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
                Err(source) => {
                    return Err(DbError::Statement {
                        target,
                        what: format!("creating database {name}"),
                        source,
                    });
                }
            }
            let _ = admin.close().await;
            PgConnection::connect_with(&options)
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
    conn: &mut PgConnection,
    target: &str,
    replace: bool,
) -> Result<(), DbError> {
    if replace {
        conn.execute(format!("DROP TABLE IF EXISTS {}", qualified_table()).as_str())
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
            table: qualified_table(),
            rows,
        });
    }
    Ok(())
}

pub async fn row_count(conn: &mut PgConnection, target: &str) -> Result<i64, DbError> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {}", qualified_table()))
        .fetch_one(conn)
        .await
        .map_err(statement(target, "counting rows"))
}

/// Appends one row in `COPY` text format: tab-separated, `\N` for NULL, backslash escapes.
pub fn copy_text_row(values: &[SqlValue], out: &mut Vec<u8>) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value.to_sql_text() {
            None => out.extend_from_slice(b"\\N"),
            Some(text) => {
                for byte in text.bytes() {
                    match byte {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        other => out.push(other),
                    }
                }
            }
        }
    }
    out.push(b'\n');
}

/// Loads rows with one `COPY`, sent in chunks of about a megabyte. Returns the rows copied.
pub async fn load<'a>(
    conn: &mut PgConnection,
    target: &str,
    rows: impl IntoIterator<Item = &'a HoSoCanBo>,
) -> Result<u64, DbError> {
    const CHUNK: usize = 1 << 20;
    let columns: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        qualified_table(),
        columns.join(", ")
    );
    let mut copy = conn
        .copy_in_raw(&sql)
        .await
        .map_err(statement(target, "starting COPY"))?;
    let mut buffer = Vec::with_capacity(CHUNK + 4096);
    for row in rows {
        copy_text_row(&row.values(), &mut buffer);
        if buffer.len() >= CHUNK {
            if let Err(e) = copy.send(buffer.as_slice()).await {
                let _ = copy.abort("send failed").await;
                return Err(statement(target, "sending COPY data")(e));
            }
            buffer.clear();
        }
    }
    if !buffer.is_empty()
        && let Err(e) = copy.send(buffer.as_slice()).await
    {
        let _ = copy.abort("send failed").await;
        return Err(statement(target, "sending COPY data")(e));
    }
    copy.finish()
        .await
        .map_err(statement(target, "finishing COPY"))
}

/// `INSERT` of one row with every parameter cast to its column's type (parameters are sent as
/// text).
pub fn insert_sql() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let params: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, c.sql_type))
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        qualified_table(),
        names.join(", "),
        params.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Date;

    #[test]
    fn copy_text_escapes_what_it_must() {
        let mut out = Vec::new();
        copy_text_row(
            &[
                SqlValue::Int(7),
                SqlValue::Null,
                SqlValue::Text("a\tb\\c\nd".to_owned()),
                SqlValue::Date(Date::MIN),
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "7\t\\N\ta\\tb\\\\c\\nd\t0001-01-01\n"
        );
    }

    #[test]
    fn ddl_names_every_column_of_the_mapping() {
        let ddl = create_table_sql();
        assert!(ddl.contains("id bigint PRIMARY KEY"), "{ddl}");
        assert!(ddl.contains("he_so_luong numeric(4,2)"), "{ddl}");
        assert_eq!(ddl.matches(",\n").count(), 27);
        assert!(insert_sql().contains("$28::timestamptz"));
    }
}
