//! What the connector asks the source's catalog over an ordinary SQL connection: captured
//! tables, their keys and replica identity, the publication and the slot, server settings.

use sqlx::{Connection, PgConnection, Row};

use crate::config::{PostgresSourceConfig, pattern_matches};
use crate::walsender::{SESSION_SETTINGS, quote_ident};

/// A table the connector captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    pub schema: String,
    pub name: String,
}

impl TableRef {
    /// `"schema"."table"`, quoted for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }

    pub fn dotted(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// How UPDATE and DELETE identify the old row (`ALTER TABLE ... REPLICA IDENTITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentitySetting {
    /// The primary key (needs one).
    Default,
    /// The whole old row.
    Full,
    /// A unique index.
    Index,
    /// Nothing: UPDATE and DELETE fail on a published table.
    Nothing,
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    /// `format_type(...)`: the SQL spelling of the type, for casts.
    pub type_sql: String,
}

/// Catalog facts about one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    pub table: TableRef,
    /// The table's OID (pgoutput names relations by it).
    pub oid: u32,
    pub replica_identity: ReplicaIdentitySetting,
    /// Primary-key columns in key order (empty when the table has none).
    pub primary_key: Vec<String>,
    /// Columns in table order, as pgoutput sends them.
    pub columns: Vec<CatalogColumn>,
    /// The planner's row estimate, for snapshot progress.
    pub estimated_rows: i64,
}

impl TableInfo {
    /// Why this table cannot be captured correctly, if it cannot.
    pub fn identity_problem(&self) -> Option<String> {
        match (self.replica_identity, self.primary_key.is_empty()) {
            (ReplicaIdentitySetting::Nothing, _) => Some(format!(
                "table {} has REPLICA IDENTITY NOTHING: UPDATE and DELETE on it would fail once published; run ALTER TABLE {} REPLICA IDENTITY DEFAULT (with a primary key) or FULL",
                self.table.dotted(),
                self.table.quoted()
            )),
            (ReplicaIdentitySetting::Default, true) => Some(format!(
                "table {} has no primary key and REPLICA IDENTITY DEFAULT: add a primary key, or run ALTER TABLE {} REPLICA IDENTITY FULL",
                self.table.dotted(),
                self.table.quoted()
            )),
            _ => None,
        }
    }

    /// The Relation message pgoutput would send for this table, so that snapshot rows are
    /// built by the same code as streamed rows.
    pub fn as_relation(&self) -> crate::pgoutput::Relation {
        crate::pgoutput::Relation {
            xid: None,
            oid: self.oid,
            namespace: self.table.schema.clone(),
            name: self.table.name.clone(),
            replica_identity: match self.replica_identity {
                ReplicaIdentitySetting::Default => crate::pgoutput::ReplicaIdentity::Default,
                ReplicaIdentitySetting::Full => crate::pgoutput::ReplicaIdentity::Full,
                ReplicaIdentitySetting::Index => crate::pgoutput::ReplicaIdentity::Index,
                ReplicaIdentitySetting::Nothing => crate::pgoutput::ReplicaIdentity::Nothing,
            },
            columns: self
                .columns
                .iter()
                .map(|c| crate::pgoutput::RelationColumn {
                    flags: u8::from(self.primary_key.contains(&c.name)),
                    name: c.name.clone(),
                    type_oid: c.type_oid,
                    type_modifier: c.type_modifier,
                })
                .collect(),
        }
    }
}

/// Opens an ordinary SQL connection with lienthong's session settings.
pub async fn connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    for (name, value) in SESSION_SETTINGS {
        if *name == "client_encoding" {
            continue;
        }
        sqlx::query(&format!("SET {name} = '{value}'"))
            .execute(&mut conn)
            .await?;
    }
    Ok(conn)
}

/// Tables matching the include patterns and none of the exclude patterns.
pub async fn captured_tables(
    conn: &mut PgConnection,
    config: &PostgresSourceConfig,
) -> Result<Vec<TableRef>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
         ORDER BY 1, 2",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| TableRef {
            schema: r.get(0),
            name: r.get(1),
        })
        .filter(|t| {
            let name = t.dotted();
            config.tables.iter().any(|p| pattern_matches(p, &name))
                && !config
                    .exclude_tables
                    .iter()
                    .any(|p| pattern_matches(p, &name))
        })
        .collect())
}

/// Catalog facts of `table`.
pub async fn table_info(
    conn: &mut PgConnection,
    table: &TableRef,
) -> Result<TableInfo, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.oid::int8, c.relreplident::text, c.reltuples::int8 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(&table.schema)
    .bind(&table.name)
    .fetch_one(&mut *conn)
    .await?;
    let oid: i64 = row.get(0);
    let identity: String = row.get(1);
    let estimated_rows: i64 = row.get(2);
    let primary_key: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
         WHERE i.indrelid = $1::int8::oid AND i.indisprimary ORDER BY k.ord",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await?;
    let columns = sqlx::query(
        "SELECT attname::text, atttypid::int8, atttypmod, format_type(atttypid, atttypmod) FROM pg_attribute
         WHERE attrelid = $1::int8::oid AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
         ORDER BY attnum",
    )
    .bind(oid)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        let type_oid: i64 = r.get(1);
        CatalogColumn {
            name: r.get(0),
            type_oid: type_oid as u32,
            type_modifier: r.get(2),
            type_sql: r.get(3),
        }
    })
    .collect();
    Ok(TableInfo {
        table: table.clone(),
        oid: oid as u32,
        replica_identity: match identity.as_str() {
            "f" => ReplicaIdentitySetting::Full,
            "i" => ReplicaIdentitySetting::Index,
            "n" => ReplicaIdentitySetting::Nothing,
            _ => ReplicaIdentitySetting::Default,
        },
        primary_key,
        columns,
        estimated_rows: estimated_rows.max(0),
    })
}

/// Creates the publication when missing and adds every captured table it lacks.
/// Returns the tables that were added.
pub async fn ensure_publication(
    conn: &mut PgConnection,
    publication: &str,
    tables: &[TableRef],
    create: bool,
) -> Result<Vec<TableRef>, PublicationError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)")
            .bind(publication)
            .fetch_one(&mut *conn)
            .await?;
    if !exists {
        if !create {
            return Err(PublicationError::Missing(publication.to_string()));
        }
        let list: Vec<String> = tables.iter().map(TableRef::quoted).collect();
        let sql = if list.is_empty() {
            format!("CREATE PUBLICATION {}", quote_ident(publication))
        } else {
            format!(
                "CREATE PUBLICATION {} FOR TABLE {}",
                quote_ident(publication),
                list.join(", ")
            )
        };
        sqlx::query(&sql).execute(&mut *conn).await?;
        return Ok(tables.to_vec());
    }
    let published: Vec<(String, String)> = sqlx::query_as(
        "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1",
    )
    .bind(publication)
    .fetch_all(&mut *conn)
    .await?;
    let missing: Vec<TableRef> = tables
        .iter()
        .filter(|t| {
            !published
                .iter()
                .any(|(s, n)| *s == t.schema && *n == t.name)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        if !create {
            return Err(PublicationError::TablesMissing {
                publication: publication.to_string(),
                tables: missing.iter().map(TableRef::dotted).collect(),
            });
        }
        let list: Vec<String> = missing.iter().map(TableRef::quoted).collect();
        sqlx::query(&format!(
            "ALTER PUBLICATION {} ADD TABLE {}",
            quote_ident(publication),
            list.join(", ")
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(missing)
}

#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    #[error("publication {0} does not exist and create_publication is false")]
    Missing(String),
    #[error("publication {publication} lacks tables {tables:?} and create_publication is false")]
    TablesMissing {
        publication: String,
        tables: Vec<String>,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// A replication slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active: bool,
    pub confirmed_flush_lsn: Option<String>,
    /// `reserved`, `extended`, `unreserved` or `lost` (WAL needed by the slot was removed).
    pub wal_status: Option<String>,
}

pub async fn slot_info(
    conn: &mut PgConnection,
    slot: &str,
) -> Result<Option<SlotInfo>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT plugin::text, database::text, active, confirmed_flush_lsn::text, wal_status
         FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SlotInfo {
        plugin: r.get(0),
        database: r.get(1),
        active: r.get(2),
        confirmed_flush_lsn: r.get(3),
        wal_status: r.get(4),
    }))
}

/// Bytes of WAL the slot holds back (current WAL position minus confirmed position).
pub async fn slot_lag_bytes(
    conn: &mut PgConnection,
    slot: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT (pg_current_wal_lsn() - confirmed_flush_lsn)::int8 FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(conn)
    .await
    .map(Option::flatten)
}

/// Prefix of lienthong's logical messages in the WAL.
pub const MESSAGE_PREFIX_HEARTBEAT: &str = "lienthong-heartbeat";
pub const MESSAGE_PREFIX_WATERMARK: &str = "lienthong-watermark";
/// Requests to a running connector, written to the WAL so that they arrive in order with the
/// changes and survive the connector being down.
pub const MESSAGE_PREFIX_SIGNAL: &str = "lienthong-signal";

/// A signal's content (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// Tables (`schema.table`) to snapshot again while streaming continues.
    #[serde(default)]
    pub snapshot: Vec<String>,
}

/// Asks the connector(s) streaming this database to snapshot `tables` again.
pub async fn request_snapshot(
    conn: &mut PgConnection,
    tables: &[String],
) -> Result<String, sqlx::Error> {
    let signal = Signal {
        snapshot: tables.to_vec(),
    };
    let content = serde_json::to_string(&signal).unwrap_or_default();
    emit_message(conn, MESSAGE_PREFIX_SIGNAL, &content).await
}

/// Writes a transactional logical message to the WAL and returns its LSN.
pub async fn emit_message(
    conn: &mut PgConnection,
    prefix: &str,
    content: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_logical_emit_message(true, $1, $2)::text")
        .bind(prefix)
        .bind(content)
        .fetch_one(conn)
        .await
}
