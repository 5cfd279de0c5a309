//! Snapshots of captured tables while streaming continues, chunk by chunk, with watermarks in
//! the WAL (the DBLog method): for each chunk the snapshot task writes a low watermark, reads the
//! chunk (`WHERE key > last ORDER BY key LIMIT n`), hands it to the stream loop and writes a
//! high watermark. The stream loop remembers which keys of the table changed between the two
//! watermarks; at the high watermark it publishes the chunk's other rows as READ events. A row
//! that changed in the window is left to its change events, which are newer. So every key's
//! events form a true history, streaming never pauses, and a crash loses at most the chunk in
//! hand: progress is saved only after the broker acknowledged the chunk.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, Row};
use tokio::sync::{mpsc, oneshot};

use crate::catalog::{MESSAGE_PREFIX_WATERMARK, TableInfo, emit_message};
use crate::walsender::quote_ident;
use lienthong_runtime::kafka::StateStore;

/// Snapshot progress, saved in the state topic under `<source>/snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotState {
    /// Identifies this snapshot run in event positions.
    pub id: String,
    pub tables: Vec<TableProgress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableProgress {
    /// `schema.table`.
    pub table: String,
    pub done: bool,
    /// Key of the last row read, as text, in key order.
    pub last_key: Option<Vec<String>>,
    pub rows: u64,
    pub chunks: u64,
}

impl SnapshotState {
    pub fn new(tables: &[TableInfo]) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            tables: tables
                .iter()
                .map(|t| TableProgress {
                    table: t.table.dotted(),
                    done: false,
                    last_key: None,
                    rows: 0,
                    chunks: 0,
                })
                .collect(),
        }
    }

    pub fn complete(&self) -> bool {
        self.tables.iter().all(|t| t.done)
    }
}

/// A chunk of rows for the stream loop: values as text in table column order.
#[derive(Debug)]
pub struct Chunk {
    /// Watermark id (`low:<id>:...` / `high:<id>`).
    pub id: String,
    pub snapshot_id: String,
    pub table: String,
    pub number: u64,
    pub rows: Vec<Vec<Option<String>>>,
    /// Fired by the stream loop once every event of the chunk was acknowledged.
    pub published: oneshot::Sender<()>,
}

/// Watermark message content: `low:<id>:<schema.table>` or `high:<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watermark {
    Low { id: String, table: String },
    High { id: String },
}

impl Watermark {
    pub fn parse(content: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(content).ok()?;
        if let Some(rest) = text.strip_prefix("low:") {
            let (id, table) = rest.split_once(':')?;
            Some(Self::Low {
                id: id.to_string(),
                table: table.to_string(),
            })
        } else {
            text.strip_prefix("high:")
                .map(|id| Self::High { id: id.to_string() })
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot query on {table} failed: {source}")]
    Sql {
        table: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("saving snapshot progress: {0}")]
    State(#[from] lienthong_runtime::kafka::StateError),
    #[error("the stream loop stopped")]
    StreamStopped,
}

/// The transaction that imported the snapshot a replication slot exported at its creation: it
/// sees the database exactly as of the slot's consistent point, so rows read through it are
/// older than every change the slot will stream, with no gap and no overlap.
///
/// The exported snapshot exists only until the replication connection runs its next command,
/// and this transaction only while the connector runs: a snapshot interrupted by a crash
/// resumes from its saved progress with the watermark method ([`run`]), which is consistent at
/// any point of the stream.
#[derive(Debug)]
pub struct ExportedSnapshot {
    conn: PgConnection,
}

impl ExportedSnapshot {
    /// Opens a repeatable-read, read-only transaction on `conn` and imports `snapshot_name`.
    pub async fn import(mut conn: PgConnection, snapshot_name: &str) -> Result<Self, sqlx::Error> {
        use sqlx::Executor as _;
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        // The name comes from the server (e.g. `00000003-00000002-1`); quoted as a literal all
        // the same.
        let literal = snapshot_name.replace('\'', "''");
        conn.execute(format!("SET TRANSACTION SNAPSHOT '{literal}'").as_str())
            .await?;
        Ok(Self { conn })
    }

    /// Reads the next chunk of `info` after `after`, in key order.
    pub async fn read_chunk(
        &mut self,
        info: &TableInfo,
        after: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
        read_chunk(&mut self.conn, info, after, limit).await
    }

    /// Ends the transaction, releasing the snapshot (and what it holds back from vacuum).
    pub async fn finish(mut self) -> Result<(), sqlx::Error> {
        use sqlx::Executor as _;
        self.conn.execute("COMMIT").await?;
        Ok(())
    }
}

impl TableProgress {
    /// Records a chunk of `read` rows whose last key is `last_key`, logs progress, and says
    /// whether the table is done (a short chunk is the last one).
    pub fn record_chunk(
        &mut self,
        read: usize,
        last_key: Option<Vec<String>>,
        chunk_size: u32,
        estimated_rows: i64,
    ) -> bool {
        self.rows += read as u64;
        self.chunks += 1;
        if last_key.is_some() {
            self.last_key = last_key;
        }
        self.done = read < chunk_size as usize;
        let percent = if estimated_rows > 0 {
            (self.rows as f64 * 100.0 / estimated_rows as f64).min(100.0)
        } else {
            100.0
        };
        tracing::info!(
            table = %self.table,
            rows = self.rows,
            percent = format!("{percent:.0}"),
            done = self.done,
            "snapshot progress"
        );
        self.done
    }
}

/// Runs the snapshot to completion, saving progress after each published chunk.
pub async fn run(
    mut conn: PgConnection,
    mut state: SnapshotState,
    tables: Vec<TableInfo>,
    chunk_size: u32,
    chunks: mpsc::Sender<Chunk>,
    store: StateStore,
    state_key: String,
) -> Result<SnapshotState, SnapshotError> {
    for index in 0..state.tables.len() {
        if state.tables[index].done {
            continue;
        }
        let name = state.tables[index].table.clone();
        let Some(info) = tables.iter().find(|t| t.table.dotted() == name) else {
            // No longer captured (filters changed): nothing to read.
            state.tables[index].done = true;
            continue;
        };
        tracing::info!(
            table = %name,
            estimated_rows = info.estimated_rows,
            resumed_after = ?state.tables[index].last_key,
            "snapshot of table starting"
        );
        let sql_err = |source| SnapshotError::Sql {
            table: name.clone(),
            source,
        };
        loop {
            let id = uuid::Uuid::new_v4().simple().to_string();
            emit_message(
                &mut conn,
                MESSAGE_PREFIX_WATERMARK,
                &format!("low:{id}:{name}"),
            )
            .await
            .map_err(sql_err)?;
            let progress = &state.tables[index];
            let rows = read_chunk(&mut conn, info, progress.last_key.as_deref(), chunk_size)
                .await
                .map_err(sql_err)?;
            let read = rows.len();
            let last_key = rows.last().map(|r| key_text(info, r));
            let (published, acknowledged) = oneshot::channel();
            chunks
                .send(Chunk {
                    id: id.clone(),
                    snapshot_id: state.id.clone(),
                    table: name.clone(),
                    number: progress.chunks,
                    rows,
                    published,
                })
                .await
                .map_err(|_| SnapshotError::StreamStopped)?;
            emit_message(&mut conn, MESSAGE_PREFIX_WATERMARK, &format!("high:{id}"))
                .await
                .map_err(sql_err)?;
            acknowledged
                .await
                .map_err(|_| SnapshotError::StreamStopped)?;

            let done =
                state.tables[index].record_chunk(read, last_key, chunk_size, info.estimated_rows);
            // Saved after every acknowledged chunk: a restart resumes after it.
            save(&store, &state_key, &state).await?;
            if done {
                break;
            }
        }
    }
    Ok(state)
}

/// Saves snapshot progress.
pub async fn save(
    store: &StateStore,
    key: &str,
    state: &SnapshotState,
) -> Result<(), SnapshotError> {
    let bytes = serde_json::to_vec(state).unwrap_or_default();
    store.save(key, &bytes).await?;
    Ok(())
}

/// Loads snapshot progress; a record that does not parse counts as none.
pub async fn load(store: &StateStore, key: &str) -> Result<Option<SnapshotState>, SnapshotError> {
    Ok(store
        .load(key)
        .await?
        .and_then(|b| serde_json::from_slice(&b).ok()))
}

/// The key of a row read by a chunk query, as text in key order (what `last_key` stores).
pub fn key_text(info: &TableInfo, row: &[Option<String>]) -> Vec<String> {
    info.primary_key
        .iter()
        .map(|k| {
            info.columns
                .iter()
                .position(|c| &c.name == k)
                .and_then(|i| row.get(i).cloned().flatten())
                .unwrap_or_default()
        })
        .collect()
}

/// The SELECT of one chunk: every column as text, keyset-paginated on the primary key.
///
/// Values are rendered by the types' output functions (`format('%s', v)`), exactly as pgoutput
/// renders them in the stream; a plain `::text` cast differs for some types (`true::text` is
/// `true`, the output function says `t`).
pub fn chunk_sql(info: &TableInfo, after: bool, limit: u32) -> String {
    let columns: Vec<String> = info
        .columns
        .iter()
        .map(|c| {
            let q = quote_ident(&c.name);
            format!("CASE WHEN {q} IS NULL THEN NULL ELSE format('%s', {q}) END")
        })
        .collect();
    let keys: Vec<String> = info.primary_key.iter().map(|k| quote_ident(k)).collect();
    let mut sql = format!("SELECT {} FROM {}", columns.join(", "), info.table.quoted());
    if after {
        let params: Vec<String> = info
            .primary_key
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let ty = info
                    .columns
                    .iter()
                    .find(|c| &c.name == k)
                    .map_or("text", |c| c.type_sql.as_str());
                format!("${}::{ty}", i + 1)
            })
            .collect();
        sql.push_str(&format!(
            " WHERE ({}) > ({})",
            keys.join(", "),
            params.join(", ")
        ));
    }
    sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", keys.join(", ")));
    sql
}

async fn read_chunk(
    conn: &mut PgConnection,
    info: &TableInfo,
    after: Option<&[String]>,
    limit: u32,
) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    let sql = chunk_sql(info, after.is_some(), limit);
    let mut query = sqlx::query(&sql);
    for value in after.unwrap_or_default() {
        query = query.bind(value);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            (0..info.columns.len())
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogColumn, ReplicaIdentitySetting, TableRef};

    fn info() -> TableInfo {
        let col = |name: &str, ty: &str| CatalogColumn {
            name: name.into(),
            type_oid: 23,
            type_modifier: -1,
            type_sql: ty.into(),
        };
        TableInfo {
            table: TableRef {
                schema: "public".into(),
                name: "can bo".into(),
            },
            oid: 1,
            replica_identity: ReplicaIdentitySetting::Default,
            primary_key: vec!["don_vi".into(), "id".into()],
            columns: vec![
                col("id", "integer"),
                col("don_vi", "character varying(20)"),
                col("ten", "text"),
            ],
            estimated_rows: 10,
        }
    }

    #[test]
    fn chunk_queries_page_by_key() {
        assert_eq!(
            chunk_sql(&info(), false, 100),
            r#"SELECT CASE WHEN "id" IS NULL THEN NULL ELSE format('%s', "id") END, CASE WHEN "don_vi" IS NULL THEN NULL ELSE format('%s', "don_vi") END, CASE WHEN "ten" IS NULL THEN NULL ELSE format('%s', "ten") END FROM "public"."can bo" ORDER BY "don_vi", "id" LIMIT 100"#
        );
        assert_eq!(
            chunk_sql(&info(), true, 5),
            r#"SELECT CASE WHEN "id" IS NULL THEN NULL ELSE format('%s', "id") END, CASE WHEN "don_vi" IS NULL THEN NULL ELSE format('%s', "don_vi") END, CASE WHEN "ten" IS NULL THEN NULL ELSE format('%s', "ten") END FROM "public"."can bo" WHERE ("don_vi", "id") > ($1::character varying(20), $2::integer) ORDER BY "don_vi", "id" LIMIT 5"#
        );
    }

    #[test]
    fn key_text_follows_key_order() {
        let row = vec![Some("7".to_string()), Some("H01".to_string()), None];
        assert_eq!(key_text(&info(), &row), ["H01", "7"]);
    }

    #[test]
    fn watermarks_parse() {
        assert_eq!(
            Watermark::parse(b"low:abc:public.can_bo"),
            Some(Watermark::Low {
                id: "abc".into(),
                table: "public.can_bo".into()
            })
        );
        assert_eq!(
            Watermark::parse(b"high:abc"),
            Some(Watermark::High { id: "abc".into() })
        );
        assert_eq!(Watermark::parse(b"other"), None);
    }
}
