//! The initial snapshot: every captured table read once, chunk by chunk in primary-key order,
//! inside one consistent read view whose binlog position is known exactly, so that streaming
//! from that position afterwards has no gap and no overlap.
//!
//! **Opening the view.** On MariaDB, `START TRANSACTION WITH CONSISTENT SNAPSHOT` also fixes the
//! status variables `Binlog_snapshot_file` / `Binlog_snapshot_position` to the binlog position
//! the view corresponds to (every transaction before it visible, none after), without any global
//! lock; `BINLOG_GTID_POS()` turns that into the GTID position. MySQL has no such variables, so
//! there the view is opened under a brief `FLUSH TABLES WITH READ LOCK`, during which the binlog
//! position is read, and the lock is released before any row is read. (Only transactional
//! engines such as InnoDB take part in a consistent view; `lienthong validate` flags others.)
//!
//! **Progress.** After each chunk the broker acknowledged, the table's last key is saved in the
//! state topic; a progress line is logged per chunk.
//!
//! **Resuming after a crash.** The view dies with the connection, so a resumed snapshot reads
//! the remaining rows in a *new* view, at a later position P2, and publishes them as reads with
//! that position, while streaming still starts at the first view's position P1 (the rows read
//! before the crash need the changes after P1). This is correct without watermarks because
//! the binlog carries full row images: for a key read at P2, the stream repeats changes between
//! P1 and P2 that the read already contains. The connector drops exactly those: each table keeps
//! a list of [`Segment`]s — "keys after K were read at position P" — and a change whose
//! transaction is included in its key's segment position is skipped ([`ResumeFilter`]). Finding
//! the segment needs key comparison in the server's order, which is done for integer keys; for
//! other keys of a table read in more than one view the older changes are published anyway,
//! after the read, and since each carries the full row the table still converges to the right
//! state after P2 (as with any at-least-once replay). This trades a re-read of nothing against
//! watermark machinery a binlog source cannot write without write access to the database.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::mysql::{MySqlConnection, MySqlRow};

use crate::binlog::temporal::{Date, DateTime, Time, Timestamp};
use crate::binlog::{ServerFlavor, Value};
use crate::catalog::{self, quote_ident};
use crate::events::CapturedTable;
use crate::position::{StreamPosition, TransactionGtid};

/// Snapshot progress, saved in the state topic under `source-mysql/<source>/snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotState {
    /// Identifies this snapshot run in event positions.
    pub id: String,
    /// Where streaming starts once the snapshot is done: the first view's position.
    pub stream_start: StreamPosition,
    pub tables: Vec<TableProgress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    /// `database.table`.
    pub table: String,
    pub done: bool,
    /// Key of the last row published, as text in key order (see [`crate::events::key_text`]).
    pub last_key: Option<Vec<String>>,
    pub rows: u64,
    pub chunks: u64,
    /// Which view each part of the table was read in, by ascending `after_key`.
    pub segments: Vec<Segment>,
}

/// Rows with keys after `after_key` (all rows when `None`), up to the next segment's, were read
/// in the view at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub after_key: Option<Vec<String>>,
    pub at: StreamPosition,
}

impl SnapshotState {
    /// A new snapshot of `tables` (dotted names) in the view at `position`.
    pub fn new(tables: &[String], position: &StreamPosition) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            stream_start: position.clone(),
            tables: tables
                .iter()
                .map(|t| TableProgress {
                    table: t.clone(),
                    done: false,
                    last_key: None,
                    rows: 0,
                    chunks: 0,
                    segments: vec![Segment {
                        after_key: None,
                        at: position.clone(),
                    }],
                })
                .collect(),
        }
    }

    pub fn complete(&self) -> bool {
        self.tables.iter().all(|t| t.done)
    }

    /// Continues an interrupted snapshot in a new view at `position`: each unfinished table's
    /// remaining rows are read there. A segment under which nothing was read yet is moved to
    /// the new view rather than kept empty.
    pub fn resume_at(&mut self, position: &StreamPosition) {
        for table in self.tables.iter_mut().filter(|t| !t.done) {
            match table.segments.last_mut() {
                Some(last) if last.after_key == table.last_key => last.at = position.clone(),
                _ => table.segments.push(Segment {
                    after_key: table.last_key.clone(),
                    at: position.clone(),
                }),
            }
        }
    }
}

impl TableProgress {
    /// Records a published chunk of `read` rows ending at `last_key`, logs progress, and says
    /// whether the table is done (a short chunk is the last one).
    pub fn record_chunk(
        &mut self,
        read: usize,
        last_key: Option<Vec<String>>,
        chunk_size: u32,
        estimated_rows: u64,
    ) -> bool {
        self.rows += read as u64;
        self.chunks += 1;
        if last_key.is_some() {
            self.last_key = last_key;
        }
        self.done = read < chunk_size as usize;
        let percent = if self.done {
            100.0
        } else if estimated_rows > 0 {
            (self.rows as f64 * 100.0 / estimated_rows as f64).min(99.0)
        } else {
            0.0
        };
        tracing::info!(
            table = %self.table,
            rows = self.rows,
            chunks = self.chunks,
            percent = format!("{percent:.0}"),
            done = self.done,
            "snapshot progress"
        );
        self.done
    }
}

/// Decides which streamed changes a resumed snapshot already published (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ResumeFilter {
    tables: HashMap<String, Vec<Segment>>,
}

impl ResumeFilter {
    /// The filter of a snapshot's segments. Tables read entirely in the stream's starting view
    /// need no filtering and are left out.
    pub fn new(state: &SnapshotState) -> Self {
        let tables = state
            .tables
            .iter()
            .filter(|t| t.segments.iter().any(|s| s.at != state.stream_start))
            .map(|t| (t.table.clone(), t.segments.clone()))
            .collect();
        Self { tables }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether the change to `key` of `table`, in the transaction `gtid` that started at
    /// `file`/`offset`, is already contained in a snapshot read of that key.
    pub fn already_read(
        &self,
        table: &CapturedTable,
        key: &[String],
        gtid: &TransactionGtid,
        file: &str,
        offset: u64,
    ) -> bool {
        let Some(segments) = self.tables.get(&table.table.dotted()) else {
            return false;
        };
        let segment = match segments.as_slice() {
            [only] => only,
            _ if table.integer_key() => {
                let Some(key) = integer_key(key) else {
                    return false;
                };
                let found = segments.iter().rev().find(|s| match &s.after_key {
                    None => true,
                    Some(after) => integer_key(after).is_some_and(|after| after < key),
                });
                match found {
                    Some(segment) => segment,
                    None => return false,
                }
            }
            // Keys that cannot be ordered here: publish (see the module docs).
            _ => return false,
        };
        segment.at.includes(gtid, file, offset)
    }
}

fn integer_key(parts: &[String]) -> Option<Vec<i128>> {
    parts.iter().map(|p| p.parse().ok()).collect()
}

/// A read view consistent with a known binlog position.
#[derive(Debug)]
pub struct ConsistentSnapshot {
    conn: MySqlConnection,
    pub position: StreamPosition,
}

impl ConsistentSnapshot {
    /// Opens the view on `conn` (see the module docs for how, per server).
    pub async fn open(
        mut conn: MySqlConnection,
        flavor: ServerFlavor,
    ) -> Result<Self, sqlx::Error> {
        sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut conn)
            .await?;
        let position = match flavor {
            ServerFlavor::MariaDb => {
                sqlx::raw_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .execute(&mut conn)
                    .await?;
                let rows = sqlx::raw_sql("SHOW STATUS LIKE 'binlog_snapshot_%'")
                    .fetch_all(&mut conn)
                    .await?;
                let mut file = None;
                let mut offset = None;
                for row in &rows {
                    let name = catalog::text(row, 0)?
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    let value = catalog::text(row, 1)?;
                    match name.as_str() {
                        "binlog_snapshot_file" => file = value,
                        "binlog_snapshot_position" => {
                            offset = value.and_then(|v| v.trim().parse::<u64>().ok())
                        }
                        _ => {}
                    }
                }
                let (Some(file), Some(offset)) = (file.filter(|f| !f.is_empty()), offset) else {
                    return Err(sqlx::Error::Protocol(
                        "the server reports no Binlog_snapshot_file/position: binary logging (log_bin) is off".into(),
                    ));
                };
                let row = sqlx::query("SELECT BINLOG_GTID_POS(?, ?)")
                    .bind(&file)
                    .bind(offset)
                    .fetch_one(&mut conn)
                    .await?;
                let gtid = catalog::text(&row, 0)?.unwrap_or_default();
                StreamPosition {
                    gtid: catalog::parse_mariadb_gtid(&gtid)?,
                    file,
                    offset,
                }
            }
            ServerFlavor::MySql => {
                sqlx::raw_sql("FLUSH TABLES WITH READ LOCK")
                    .execute(&mut conn)
                    .await?;
                let opened = async {
                    sqlx::raw_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                        .execute(&mut conn)
                        .await?;
                    catalog::master_status(&mut conn).await
                }
                .await;
                // Released whatever happened: the lock stops every writer of the server.
                sqlx::raw_sql("UNLOCK TABLES").execute(&mut conn).await?;
                let (file, offset, executed) = opened?;
                StreamPosition {
                    gtid: catalog::parse_mysql_gtid(executed.as_deref().unwrap_or_default())?,
                    file,
                    offset,
                }
            }
        };
        Ok(Self { conn, position })
    }

    /// The next chunk of `table` after `after` (key texts), in key order: each row's values in
    /// table column order, as the binlog decoder would have decoded them.
    pub async fn read_chunk(
        &mut self,
        table: &CapturedTable,
        after: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<Vec<Option<Value>>>, sqlx::Error> {
        let sql = chunk_sql(table, after.is_some(), limit);
        let mut query = sqlx::query(&sql);
        if let Some(after) = after {
            for value in key_bindings(table, after) {
                query = query.bind(value);
            }
        }
        let rows = query.fetch_all(&mut self.conn).await?;
        rows.iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| decode_cell(row, i, c).map(Some))
                    .collect()
            })
            .collect()
    }

    /// Ends the read view.
    pub async fn finish(mut self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(&mut self.conn).await?;
        Ok(())
    }
}

/// The SELECT of one chunk, keyset-paginated on the primary key. A composite key's "after" is
/// spelled as `(k1 > ?) OR (k1 = ? AND k2 > ?) ...`, which every server turns into an index range
/// (a row-constructor comparison is not a range on older MariaDB versions).
pub fn chunk_sql(table: &CapturedTable, after: bool, limit: u32) -> String {
    let columns: Vec<String> = table.columns.iter().map(select_expression).collect();
    let keys: Vec<String> = table
        .key
        .iter()
        .map(|&k| quote_ident(&table.columns[k].name))
        .collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        columns.join(", "),
        table.table.quoted()
    );
    if after {
        let placeholders: Vec<String> = table
            .key
            .iter()
            .map(|&k| {
                if is_binary(&table.columns[k].rules.data_type) {
                    "UNHEX(?)".to_string()
                } else {
                    "?".to_string()
                }
            })
            .collect();
        let disjuncts: Vec<String> = (0..keys.len())
            .map(|n| {
                let mut parts: Vec<String> = (0..n)
                    .map(|m| format!("{} = {}", keys[m], placeholders[m]))
                    .collect();
                parts.push(format!("{} > {}", keys[n], placeholders[n]));
                format!("({})", parts.join(" AND "))
            })
            .collect();
        sql.push_str(&format!(" WHERE {}", disjuncts.join(" OR ")));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", keys.join(", ")));
    sql
}

/// The values bound to [`chunk_sql`]'s condition, in placeholder order: disjunct *d* compares
/// key parts 0..=*d*, so part *m* is bound once in each disjunct from *m* on.
fn key_bindings(table: &CapturedTable, after: &[String]) -> Vec<String> {
    let n = table.key.len().min(after.len());
    (0..n)
        .flat_map(|disjunct| after.iter().take(disjunct + 1).cloned())
        .collect()
}

fn is_binary(data_type: &str) -> bool {
    matches!(
        data_type,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob"
    )
}

fn is_geometry(data_type: &str) -> bool {
    matches!(
        data_type,
        "geometry"
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

fn is_integer(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
    )
}

/// Each column selected in a form that decodes exactly like the binlog's value: text as its
/// stored bytes (decoded by the same code as the stream), ENUM/SET as their index/bits,
/// `TIMESTAMP` as the Unix time the server stores, exact decimals as text.
fn select_expression(column: &crate::events::CapturedColumn) -> String {
    let q = quote_ident(&column.name);
    let data_type = column.rules.data_type.as_str();
    let unsigned = column.source_type.to_ascii_lowercase().contains("unsigned")
        || column.source_type.to_ascii_lowercase().contains("zerofill");
    match data_type {
        t if is_integer(t) && unsigned => format!("CAST({q} AS UNSIGNED)"),
        t if is_integer(t) => format!("CAST({q} AS SIGNED)"),
        "year" | "bit" | "enum" | "set" => format!("CAST({q} + 0 AS UNSIGNED)"),
        "float" | "double" | "real" => q,
        "timestamp" => format!("CAST(UNIX_TIMESTAMP({q}) AS CHAR)"),
        "decimal" | "numeric" | "date" | "datetime" | "time" => format!("CAST({q} AS CHAR)"),
        "json" => format!("CAST({q} AS CHAR CHARACTER SET utf8mb4)"),
        t if is_binary(t) || is_geometry(t) => q,
        _ => format!("CAST({q} AS BINARY)"),
    }
}

fn bad_value(column: &str, text: &str, what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("column {column}: {text:?} is not {what}").into())
}

/// Decodes one selected cell into the decoder's [`Value`].
fn decode_cell(
    row: &MySqlRow,
    index: usize,
    column: &crate::events::CapturedColumn,
) -> Result<Value, sqlx::Error> {
    let data_type = column.rules.data_type.as_str();
    let name = column.name.as_str();
    let text = || -> Result<Option<String>, sqlx::Error> { catalog::text(row, index) };
    let value = match data_type {
        t if is_integer(t) => {
            if select_expression(column).contains("UNSIGNED") {
                row.try_get_unchecked::<Option<u64>, _>(index)?
                    .map(Value::UInt)
            } else {
                row.try_get_unchecked::<Option<i64>, _>(index)?
                    .map(Value::Int)
            }
        }
        "year" => row
            .try_get_unchecked::<Option<u64>, _>(index)?
            .map(|y| Value::Year(y as u16)),
        "bit" => row
            .try_get_unchecked::<Option<u64>, _>(index)?
            .map(Value::Bit),
        "enum" => row
            .try_get_unchecked::<Option<u64>, _>(index)?
            .map(|i| Value::Enum {
                index: i as u16,
                label: None,
            }),
        "set" => row
            .try_get_unchecked::<Option<u64>, _>(index)?
            .map(|bits| Value::Set {
                bits,
                members: None,
            }),
        "float" => row
            .try_get_unchecked::<Option<f32>, _>(index)?
            .map(Value::Float),
        "double" | "real" => row
            .try_get_unchecked::<Option<f64>, _>(index)?
            .map(Value::Double),
        "decimal" | "numeric" => text()?.map(Value::Decimal),
        "date" => match text()? {
            None => None,
            Some(t) => Some(Value::Date(
                parse_date(&t).ok_or_else(|| bad_value(name, &t, "a date"))?,
            )),
        },
        "datetime" => match text()? {
            None => None,
            Some(t) => Some(Value::DateTime(
                parse_datetime(&t).ok_or_else(|| bad_value(name, &t, "a datetime"))?,
            )),
        },
        "time" => match text()? {
            None => None,
            Some(t) => Some(Value::Time(
                parse_time(&t).ok_or_else(|| bad_value(name, &t, "a time"))?,
            )),
        },
        "timestamp" => match text()? {
            None => None,
            Some(t) => Some(Value::Timestamp(
                parse_unix_time(&t).ok_or_else(|| bad_value(name, &t, "a Unix time"))?,
            )),
        },
        "json" => text()?.map(Value::Json),
        t if is_geometry(t) => row
            .try_get_unchecked::<Option<Vec<u8>>, _>(index)?
            .map(Value::Geometry),
        t if is_binary(t) => row
            .try_get_unchecked::<Option<Vec<u8>>, _>(index)?
            .map(Value::Binary),
        _ => row
            .try_get_unchecked::<Option<Vec<u8>>, _>(index)?
            .map(|bytes| Value::String {
                bytes,
                collation: column.rules.collation,
            }),
    };
    Ok(value.unwrap_or(Value::Null))
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.trim().splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    Some(Date { year, month, day })
}

/// `HH:MM:SS[.ffffff]` → (hours, minutes, seconds, microseconds, fraction digits).
fn parse_clock(text: &str) -> Option<(u16, u8, u8, u32, u8)> {
    let (clock, fraction) = match text.split_once('.') {
        Some((c, f)) => (c, f),
        None => (text, ""),
    };
    let mut parts = clock.splitn(3, ':');
    let hours = parts.next()?.parse().ok()?;
    let minutes = parts.next()?.parse().ok()?;
    let seconds = parts.next()?.parse().ok()?;
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    Some((hours, minutes, seconds, micros, fraction.len() as u8))
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn parse_datetime(text: &str) -> Option<DateTime> {
    let (date, clock) = text.trim().split_once(' ')?;
    let date = parse_date(date)?;
    let (hour, minute, second, microsecond, digits) = parse_clock(clock)?;
    Some(DateTime {
        date,
        hour: u8::try_from(hour).ok()?,
        minute,
        second,
        microsecond,
        fractional_digits: digits,
    })
}

/// `[-]HHH:MM:SS[.ffffff]`.
pub fn parse_time(text: &str) -> Option<Time> {
    let text = text.trim();
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (hours, minutes, seconds, microseconds, digits) = parse_clock(rest)?;
    Some(Time {
        negative,
        hours,
        minutes,
        seconds,
        microseconds,
        fractional_digits: digits,
    })
}

/// `UNIX_TIMESTAMP()` text: `1709214306` or `1709214306.123456`.
pub fn parse_unix_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let (seconds, fraction) = match text.split_once('.') {
        Some((s, f)) => (s, f),
        None => (text, ""),
    };
    if fraction.len() > 6 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let microseconds = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").parse().ok()?
    };
    Some(Timestamp {
        seconds: seconds.parse().ok()?,
        microseconds,
        fractional_digits: fraction.len() as u8,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogColumn, CatalogTable, TableRef};
    use crate::position::GtidState;

    fn position(gtid: &str) -> StreamPosition {
        StreamPosition {
            gtid: GtidState::Mariadb(gtid.parse().unwrap()),
            file: "bin.000001".into(),
            offset: 4,
        }
    }

    fn table(key_types: &[(&str, &str)]) -> CapturedTable {
        let mut columns: Vec<CatalogColumn> = key_types
            .iter()
            .map(|(name, data_type)| CatalogColumn {
                name: (*name).into(),
                data_type: (*data_type).into(),
                column_type: (*data_type).into(),
                collation: None,
                nullable: false,
                is_json: false,
            })
            .collect();
        columns.push(CatalogColumn {
            name: "ten".into(),
            data_type: "varchar".into(),
            column_type: "varchar(20)".into(),
            collation: Some(224),
            nullable: true,
            is_json: false,
        });
        let catalog = CatalogTable {
            table: TableRef::new("bhxh", "nguoi"),
            primary_key: (0..key_types.len()).collect(),
            columns,
            engine: None,
            estimated_rows: 0,
        };
        let config: crate::config::MysqlSourceConfig =
            toml::from_str("database = \"d\"\nserver_id = 1\ntables = [\"bhxh.*\"]").unwrap();
        CapturedTable::from_catalog(&catalog, &config, "s", 1)
    }

    #[test]
    fn chunk_queries_page_by_key() {
        let t = table(&[("id", "bigint")]);
        assert_eq!(
            chunk_sql(&t, false, 100),
            "SELECT CAST(`id` AS SIGNED), CAST(`ten` AS BINARY) FROM `bhxh`.`nguoi` ORDER BY `id` LIMIT 100"
        );
        assert_eq!(
            chunk_sql(&t, true, 5),
            "SELECT CAST(`id` AS SIGNED), CAST(`ten` AS BINARY) FROM `bhxh`.`nguoi` WHERE (`id` > ?) ORDER BY `id` LIMIT 5"
        );
        let t = table(&[("don_vi", "varbinary"), ("id", "int")]);
        assert!(chunk_sql(&t, true, 5).contains(
            "WHERE (`don_vi` > UNHEX(?)) OR (`don_vi` = UNHEX(?) AND `id` > ?) ORDER BY `don_vi`, `id`"
        ));
        assert_eq!(
            key_bindings(&t, &["AB".into(), "7".into()]),
            ["AB", "AB", "7"]
        );
    }

    #[test]
    fn temporal_texts() {
        assert_eq!(
            parse_datetime("2024-02-29 13:45:06.12")
                .unwrap()
                .microsecond,
            120_000
        );
        assert!(parse_datetime("0000-00-00 00:00:00").unwrap().is_zero());
        let t = parse_time("-838:59:59.000001").unwrap();
        assert!(t.negative && t.hours == 838 && t.microseconds == 1);
        assert_eq!(
            parse_unix_time("1709214306.5").unwrap().microseconds,
            500_000
        );
        assert_eq!(parse_unix_time("0").unwrap().seconds, 0);
        assert!(parse_unix_time("12.1234567").is_none());
        assert!(parse_date("2024-02").is_none());
    }

    #[test]
    fn resumed_snapshots_keep_segments() {
        let p1 = position("0-1-10");
        let p2 = position("0-1-20");
        let p3 = position("0-1-30");
        let mut state = SnapshotState::new(&["bhxh.a".into(), "bhxh.b".into()], &p1);
        state.tables[0].last_key = Some(vec!["100".into()]);
        state.resume_at(&p2);
        // Table a was read up to 100 at p1: the rest at p2. Table b had nothing read: all at p2.
        assert_eq!(state.tables[0].segments.len(), 2);
        assert_eq!(state.tables[1].segments.len(), 1);
        assert_eq!(state.tables[1].segments[0].at, p2);
        state.resume_at(&p3);
        assert_eq!(state.tables[0].segments.len(), 2);
        assert_eq!(state.tables[0].segments[1].at, p3);

        let filter = ResumeFilter::new(&state);
        let t = table(&[("id", "int")]);
        let mut t_a = t.clone();
        t_a.table = TableRef::new("bhxh", "a");
        let gtid = |seq: u64| {
            TransactionGtid::Mariadb(crate::binlog::MariadbGtid {
                domain_id: 0,
                server_id: 1,
                sequence: seq,
            })
        };
        // Key 50 was read at p1: a change after p1 is published.
        assert!(!filter.already_read(&t_a, &["50".into()], &gtid(15), "f", 0));
        // Key 150 was read at p3: changes up to p3 are in the read.
        assert!(filter.already_read(&t_a, &["150".into()], &gtid(15), "f", 0));
        assert!(filter.already_read(&t_a, &["150".into()], &gtid(30), "f", 0));
        assert!(!filter.already_read(&t_a, &["150".into()], &gtid(31), "f", 0));
        // Keys that do not order as integers are published.
        let mut text_key = table(&[("ma", "varchar")]);
        text_key.table = TableRef::new("bhxh", "a");
        assert!(!filter.already_read(&text_key, &["x".into()], &gtid(15), "f", 0));
        // A table read wholly in one later view needs no key order.
        let mut t_b = text_key.clone();
        t_b.table = TableRef::new("bhxh", "b");
        assert!(filter.already_read(&t_b, &["x".into()], &gtid(25), "f", 0));
        assert!(!filter.already_read(&t_b, &["x".into()], &gtid(31), "f", 0));
    }

    #[test]
    fn progress_marks_the_short_chunk_last() {
        let mut state = SnapshotState::new(&["bhxh.a".into()], &position("0-1-1"));
        let t = &mut state.tables[0];
        assert!(!t.record_chunk(10, Some(vec!["10".into()]), 10, 25));
        assert!(t.record_chunk(3, Some(vec!["13".into()]), 10, 25));
        assert_eq!((t.rows, t.chunks), (13, 2));
        assert_eq!(t.last_key, Some(vec!["13".into()]));
        assert!(state.complete());
    }
}
