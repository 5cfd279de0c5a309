//! The store itself: a PostgreSQL pool, the batch write path and the queries.
//!
//! Contract of the write path ([`Store::write_batch`], [`Store::load_versions`]):
//! - one transaction per call: either every change of the batch is applied or none is;
//! - idempotent: a version whose `(entity, idempotency_key)` is stored already changes nothing,
//!   so redelivering or replaying a topic from the beginning leaves every row as it was (bodies
//!   are never compared: `resolved_at` and `translated_at` differ between deliveries);
//! - a new version closes the record's current one (`valid_to` = the new `valid_from`) in the
//!   same transaction; versions of one record are applied in batch order;
//! - safe for concurrent calls: the current versions a batch replaces are locked, and a race on
//!   a record's first version fails with a unique violation, classified transient (retry).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr as _;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use lienthong_proto::v1::{ResolvedCivilServant, ResolvedPerson};
use prost::Message as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Postgres, QueryBuilder, Row as _, Transaction};

use crate::entity::Entity;
use crate::error::StoreError;
use crate::query::{
    CivilServantPage, CivilServantQuery, CivilServantView, PageCursor, PersonView, PreparedSearch,
    StoredVersion, Subject, prefix_upper_bound,
};
use crate::version::{Applied, Change, KafkaOrigin, NewVersion, Supersession};

/// The PostgreSQL schema of the store's tables (and of its migration bookkeeping).
pub const SCHEMA: &str = "lienthong_store";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How many superseded-ID links a lookup follows: re-issues are rare corrections, so a longer
/// chain is a loop in the data, which this bound stops.
const MAX_CHAIN: i32 = 16;

/// Materialised master data in PostgreSQL. Cloning shares the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Connects with a pool of up to `max_connections` and brings the schema up to date
    /// (migrations under `migrations/`, in schema [`SCHEMA`]).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let connect_error = |source| StoreError::Connect {
            url: lienthong_runtime::config::redact_url(url),
            source,
        };
        let options = PgConnectOptions::from_str(url).map_err(connect_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(connect_error)?;
        Store::with_pool(pool).await
    }

    /// A store on an existing pool; runs the migrations.
    pub async fn with_pool(pool: PgPool) -> Result<Store, StoreError> {
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Runs the migrations on a connection of its own whose `search_path` is the store's
    /// schema, so that sqlx's bookkeeping table lives there too and other components of the
    /// database keep theirs. The connection is closed afterwards rather than returned to the
    /// pool with that setting.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?.detach();
        // Two instances starting at once would race on CREATE SCHEMA.
        let lock: i64 = 0x6c69_656e_7374_6f72; // "lienstor"
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(lock)
            .execute(&mut conn)
            .await?;
        let migrated = async {
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
                .execute(&mut conn)
                .await?;
            sqlx::query(&format!("SET search_path TO {SCHEMA}"))
                .execute(&mut conn)
                .await?;
            MIGRATOR.run_direct(&mut conn).await?;
            Ok::<(), StoreError>(())
        }
        .await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(lock)
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
        migrated?;
        unlocked?;
        Ok(())
    }

    /// Applies a batch in one transaction and says what became of each change, in order.
    pub async fn write_batch(&self, changes: &[Change]) -> Result<Vec<Applied>, StoreError> {
        let mut applied = vec![Applied::Duplicate; changes.len()];
        let mut versions = Vec::new();
        let mut links = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            match change {
                Change::Version(v) => versions.push((i, v)),
                Change::Register(l) => links.push((i, l.as_slice())),
            }
        }
        let mut tx = self.begin_write().await?;
        write_versions(&mut tx, &versions, &mut applied).await?;
        write_links(&mut tx, &links, &mut applied).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Stores versions in one transaction (the bulk path of the benchmark and of initial
    /// loads, the same as [`Store::write_batch`]); returns how many were new.
    pub async fn load_versions(&self, batch: &[NewVersion]) -> Result<usize, StoreError> {
        let mut applied = vec![Applied::Duplicate; batch.len()];
        let versions: Vec<(usize, &NewVersion)> = batch.iter().enumerate().collect();
        let mut tx = self.begin_write().await?;
        write_versions(&mut tx, &versions, &mut applied).await?;
        tx.commit().await?;
        Ok(applied.iter().filter(|a| **a == Applied::Stored).count())
    }

    /// A write transaction whose statements are planned for their actual arguments. The write
    /// statements take arrays of thousands of keys; a cached generic plan, made while a table
    /// was small, scans the table and compares every row with every key (seconds per batch
    /// once the table has grown), where a plan for the actual array probes the indexes.
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET LOCAL plan_cache_mode = force_custom_plan")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Current person by personal ID; a superseded number follows its links to the current
    /// one. A person may come from several source records: the most recently valid one
    /// answers, one stored under the current number before one under an older number. With no
    /// person record, a civil servant with that personal ID answers with its embedded person.
    pub async fn person(&self, personal_id: &str) -> Result<Option<PersonView>, StoreError> {
        let Some(found) = self
            .current_by_personal_id(&PERSON_BY_PERSONAL_ID, personal_id)
            .await?
        else {
            return Ok(None);
        };
        let redirected_from = (found.current_id != personal_id).then(|| personal_id.to_string());
        let view = match found.entity {
            Entity::Person => {
                let resolved =
                    ResolvedPerson::decode(found.body.as_slice()).map_err(|e| found.corrupt(e))?;
                PersonView {
                    person: resolved.record.unwrap_or_default(),
                    resolution: resolved.resolution,
                    redirected_from,
                }
            }
            _ => {
                let resolved = ResolvedCivilServant::decode(found.body.as_slice())
                    .map_err(|e| found.corrupt(e))?;
                PersonView {
                    person: resolved.record.and_then(|c| c.person).unwrap_or_default(),
                    resolution: resolved.resolution,
                    redirected_from,
                }
            }
        };
        Ok(Some(view))
    }

    /// Current civil servant by personal ID (following superseded numbers, the most recently
    /// valid record first) or by record id.
    pub async fn civil_servant(
        &self,
        subject: &Subject,
    ) -> Result<Option<CivilServantView>, StoreError> {
        let body = match subject {
            Subject::PersonalId(id) => self
                .current_by_personal_id(&CIVIL_SERVANT_BY_PERSONAL_ID, id)
                .await?
                .map(|f| (f.record_id, f.body)),
            Subject::RecordId(id) => sqlx::query(
                "SELECT record_id, body FROM lienthong_store.versions
                 WHERE entity = 'civil_servant' AND record_id = $1
                   AND valid_to IS NULL AND NOT deleted",
            )
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| (row.get("record_id"), row.get("body"))),
        };
        let Some((record_id, body)) = body else {
            return Ok(None);
        };
        decode_civil_servant(&record_id, &body).map(Some)
    }

    /// Current, live civil servants matching every filter given, a page at a time in the order
    /// (folded name, record id). The next page starts after the last item of this one, so a
    /// walk through the pages sees every matching record once even while others change.
    pub async fn search_civil_servants(
        &self,
        query: &CivilServantQuery,
    ) -> Result<CivilServantPage, StoreError> {
        let search = PreparedSearch::new(query)?;
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT record_id, name_folded, body FROM lienthong_store.civil_servant
             WHERE entity = 'civil_servant' AND valid_to IS NULL AND NOT deleted",
        );
        if let Some(org) = &search.organisation_id {
            sql.push(" AND organisation_id = ").push_bind(org.clone());
        }
        if let Some(prefix) = &search.name_prefix {
            sql.push(" AND name_folded >= ").push_bind(prefix.clone());
            if let Some(bound) = prefix_upper_bound(prefix) {
                sql.push(" AND name_folded < ").push_bind(bound);
            }
        }
        if let Some(date) = search.birth_date {
            sql.push(" AND birth_date = ").push_bind(date);
        }
        if let Some(after) = &search.after {
            sql.push(" AND (name_folded, record_id) > (")
                .push_bind(after.name_folded.clone())
                .push(", ")
                .push_bind(after.record_id.clone())
                .push(")");
        }
        sql.push(" ORDER BY name_folded, record_id LIMIT ")
            .push_bind(i64::from(search.page_size) + 1);
        let rows = sql.build().fetch_all(&self.pool).await?;
        let more = rows.len() > search.page_size as usize;
        let mut items = Vec::with_capacity(rows.len().min(search.page_size as usize));
        let mut last = None;
        for row in rows.iter().take(search.page_size as usize) {
            let record_id: String = row.get("record_id");
            let body: Vec<u8> = row.get("body");
            items.push(decode_civil_servant(&record_id, &body)?);
            last = Some(PageCursor {
                name_folded: row.get("name_folded"),
                record_id,
            });
        }
        let next_page_token = match (more, last) {
            (true, Some(last)) => Some(search.token_after(&last)),
            _ => None,
        };
        Ok(CivilServantPage {
            items,
            next_page_token,
        })
    }

    /// The version of a record valid at `at` (history), deleted versions included.
    pub async fn as_of(
        &self,
        entity: Entity,
        record_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM lienthong_store.versions
             WHERE entity = $1 AND record_id = $2 AND valid_from <= $3
               AND (valid_to IS NULL OR valid_to > $3)
             ORDER BY valid_from DESC, version_id DESC LIMIT 1"
        ))
        .bind(entity.name())
        .bind(record_id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_version).transpose()
    }

    /// Every stored version of a record, oldest first.
    pub async fn history(
        &self,
        entity: Entity,
        record_id: &str,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM lienthong_store.versions
             WHERE entity = $1 AND record_id = $2 ORDER BY valid_from, version_id"
        ))
        .bind(entity.name())
        .bind(record_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_version).collect()
    }

    /// The register's current number for `personal_id`, following superseded links; the
    /// number itself when it was never re-issued.
    pub async fn current_personal_id(&self, personal_id: &str) -> Result<String, StoreError> {
        let current: Option<String> = sqlx::query_scalar(&format!(
            "WITH RECURSIVE {FORWARD_CHAIN} SELECT id FROM forward ORDER BY depth DESC LIMIT 1"
        ))
        .bind(personal_id)
        .bind(MAX_CHAIN)
        .fetch_optional(&self.pool)
        .await?;
        Ok(current.unwrap_or_else(|| personal_id.to_string()))
    }

    /// Current, non-deleted versions per entity; every entity is present (0 when empty).
    pub async fn counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let rows = sqlx::query(
            "SELECT entity, count(*) AS n FROM lienthong_store.versions
             WHERE valid_to IS NULL AND NOT deleted GROUP BY entity",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts: BTreeMap<String, u64> = Entity::ALL
            .iter()
            .map(|e| (e.name().to_string(), 0))
            .collect();
        for row in rows {
            let n: i64 = row.get("n");
            counts.insert(row.get("entity"), u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    async fn current_by_personal_id(
        &self,
        sql: &str,
        personal_id: &str,
    ) -> Result<Option<FoundByPersonalId>, StoreError> {
        let row = sqlx::query(sql)
            .bind(personal_id)
            .bind(MAX_CHAIN)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let entity: String = row.get("entity");
        Ok(Some(FoundByPersonalId {
            current_id: row.get("current_id"),
            entity: Entity::from_name(&entity).unwrap_or(Entity::Person),
            record_id: row.get("record_id"),
            body: row.get("body"),
        }))
    }
}

struct FoundByPersonalId {
    current_id: String,
    entity: Entity,
    record_id: String,
    body: Vec<u8>,
}

impl FoundByPersonalId {
    fn corrupt(&self, source: prost::DecodeError) -> StoreError {
        StoreError::Corrupt {
            entity: self.entity,
            record_id: self.record_id.clone(),
            source,
        }
    }
}

fn decode_civil_servant(record_id: &str, body: &[u8]) -> Result<CivilServantView, StoreError> {
    let resolved = ResolvedCivilServant::decode(body).map_err(|source| StoreError::Corrupt {
        entity: Entity::CivilServant,
        record_id: record_id.to_string(),
        source,
    })?;
    Ok(CivilServantView {
        civil_servant: resolved.record.unwrap_or_default(),
        resolution: resolved.resolution,
    })
}

/// `forward(id, depth)`: `$1` and the numbers it was superseded by, one link per step, up to
/// `$2` steps.
const FORWARD_CHAIN: &str = "forward(id, depth) AS (
        SELECT $1::text COLLATE \"C\", 0
      UNION ALL
        SELECT s.current_id, f.depth + 1
        FROM lienthong_store.superseded_ids s JOIN forward f ON s.old_id = f.id
        WHERE f.depth < $2
    )";

/// The current live version among `entities` held under any number of the person `$1` is (its
/// current number and every number that number superseded), the most fitting first: persons
/// before civil servants, the current number before older ones, the most recently valid first.
fn by_personal_id_sql(entities: &str) -> String {
    format!(
        "WITH RECURSIVE {FORWARD_CHAIN},
        current_id AS (SELECT id FROM forward ORDER BY depth DESC LIMIT 1),
        backward(id, depth) AS (
            SELECT id, 0 FROM current_id
          UNION ALL
            SELECT s.old_id, b.depth + 1
            FROM lienthong_store.superseded_ids s JOIN backward b ON s.current_id = b.id
            WHERE b.depth < $2
        )
        SELECT (SELECT id FROM current_id) AS current_id, v.entity, v.record_id, v.body
        FROM lienthong_store.versions v
        WHERE v.entity IN ({entities}) AND v.valid_to IS NULL AND NOT v.deleted
          AND v.personal_id IN (SELECT id FROM backward)
        ORDER BY v.entity = 'person' DESC,
                 v.personal_id = (SELECT id FROM current_id) DESC,
                 v.valid_from DESC, v.version_id DESC
        LIMIT 1"
    )
}

static PERSON_BY_PERSONAL_ID: LazyLock<String> =
    LazyLock::new(|| by_personal_id_sql("'person', 'civil_servant'"));
static CIVIL_SERVANT_BY_PERSONAL_ID: LazyLock<String> =
    LazyLock::new(|| by_personal_id_sql("'civil_servant'"));

const VERSION_COLUMNS: &str = "entity, record_id, version_id, personal_id, organisation_id, \
     name_folded, birth_date, code, body, source_position, idempotency_key, valid_from, \
     valid_to, deleted, kafka_topic, kafka_partition, kafka_offset, stored_at";

fn stored_version(row: &PgRow) -> Result<StoredVersion, StoreError> {
    let entity: String = row.try_get("entity")?;
    let entity = Entity::from_name(&entity).ok_or_else(|| {
        StoreError::Database(sqlx::Error::ColumnDecode {
            index: "entity".into(),
            source: format!("unknown entity `{entity}`").into(),
        })
    })?;
    let topic: Option<String> = row.try_get("kafka_topic")?;
    let partition: Option<i32> = row.try_get("kafka_partition")?;
    let offset: Option<i64> = row.try_get("kafka_offset")?;
    let origin = match (topic, partition, offset) {
        (Some(topic), Some(partition), Some(offset)) => Some(KafkaOrigin {
            topic,
            partition,
            offset,
        }),
        _ => None,
    };
    Ok(StoredVersion {
        entity,
        record_id: row.try_get("record_id")?,
        version_id: row.try_get("version_id")?,
        personal_id: row.try_get("personal_id")?,
        organisation_id: row.try_get("organisation_id")?,
        name_folded: row.try_get("name_folded")?,
        birth_date: row.try_get::<Option<NaiveDate>, _>("birth_date")?,
        code: row.try_get("code")?,
        body: row.try_get("body")?,
        source_position: row.try_get("source_position")?,
        idempotency_key: row.try_get("idempotency_key")?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
        deleted: row.try_get("deleted")?,
        origin,
        stored_at: row.try_get("stored_at")?,
    })
}

/// The current version of a record while a batch is applied: stored before, or written by an
/// earlier change of the same batch.
#[derive(Debug, Clone, Copy)]
enum Current {
    Stored {
        version_id: i64,
        valid_from: DateTime<Utc>,
    },
    InBatch {
        row: usize,
        valid_from: DateTime<Utc>,
    },
}

impl Current {
    fn valid_from(self) -> DateTime<Utc> {
        match self {
            Current::Stored { valid_from, .. } | Current::InBatch { valid_from, .. } => valid_from,
        }
    }
}

/// A row to insert: a version with its final interval.
struct Insert<'a> {
    version: &'a NewVersion,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
}

async fn write_versions(
    tx: &mut Transaction<'_, Postgres>,
    versions: &[(usize, &NewVersion)],
    applied: &mut [Applied],
) -> Result<(), StoreError> {
    let mut by_entity: BTreeMap<Entity, Vec<(usize, &NewVersion)>> = BTreeMap::new();
    for (i, v) in versions {
        by_entity.entry(v.entity).or_default().push((*i, v));
    }
    for (entity, versions) in by_entity {
        write_entity_versions(tx, entity, &versions, applied).await?;
    }
    Ok(())
}

/// One entity's versions: skip the known keys, lock the current versions of the records
/// touched, chain the new versions of each record in order, close the replaced current
/// versions and insert the new ones. Statements go to the entity's partition directly.
async fn write_entity_versions(
    tx: &mut Transaction<'_, Postgres>,
    entity: Entity,
    versions: &[(usize, &NewVersion)],
    applied: &mut [Applied],
) -> Result<(), StoreError> {
    let table = format!("{SCHEMA}.{}", entity.name());
    let keys: Vec<&str> = versions
        .iter()
        .map(|(_, v)| v.idempotency_key.as_str())
        .collect();
    let known: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT idempotency_key FROM {table}
         WHERE entity = $1 AND idempotency_key = ANY($2)"
    ))
    .bind(entity.name())
    .bind(&keys)
    .fetch_all(&mut **tx)
    .await?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(versions.len());
    let known: HashSet<&str> = known.iter().map(String::as_str).collect();
    let mut fresh: Vec<&NewVersion> = Vec::with_capacity(versions.len());
    for (i, v) in versions {
        let key = v.idempotency_key.as_str();
        if known.contains(key) || !seen.insert(key) {
            applied[*i] = Applied::Duplicate;
        } else {
            applied[*i] = Applied::Stored;
            fresh.push(v);
        }
    }
    if fresh.is_empty() {
        return Ok(());
    }

    let mut record_ids: Vec<&str> = fresh.iter().map(|v| v.record_id.as_str()).collect();
    record_ids.sort_unstable();
    record_ids.dedup();
    let rows = sqlx::query(&format!(
        "SELECT record_id, version_id, valid_from FROM {table}
         WHERE entity = $1 AND record_id = ANY($2) AND valid_to IS NULL
         ORDER BY record_id
         FOR UPDATE"
    ))
    .bind(entity.name())
    .bind(&record_ids)
    .fetch_all(&mut **tx)
    .await?;
    let stored: Vec<(String, Current)> = rows
        .iter()
        .map(|row| {
            (
                row.get::<String, _>("record_id"),
                Current::Stored {
                    version_id: row.get("version_id"),
                    valid_from: row.get("valid_from"),
                },
            )
        })
        .collect();
    let mut current: HashMap<&str, Current> =
        stored.iter().map(|(id, c)| (id.as_str(), *c)).collect();

    let mut inserts: Vec<Insert<'_>> = Vec::with_capacity(fresh.len());
    let mut close_ids: Vec<i64> = Vec::new();
    let mut close_record_ids: Vec<&str> = Vec::new();
    let mut close_at: Vec<DateTime<Utc>> = Vec::new();
    for v in fresh {
        // A version never starts before the one it replaces: clocks of different sources
        // (or "now" for records without a commit time) need not agree.
        let previous = current.get(v.record_id.as_str()).copied();
        let valid_from = previous.map_or(v.valid_from, |p| v.valid_from.max(p.valid_from()));
        match previous {
            Some(Current::Stored { version_id, .. }) => {
                close_ids.push(version_id);
                close_record_ids.push(v.record_id.as_str());
                close_at.push(valid_from);
            }
            Some(Current::InBatch { row, .. }) => inserts[row].valid_to = Some(valid_from),
            None => {}
        }
        current.insert(
            v.record_id.as_str(),
            Current::InBatch {
                row: inserts.len(),
                valid_from,
            },
        );
        inserts.push(Insert {
            version: v,
            valid_from,
            valid_to: None,
        });
    }

    if !close_ids.is_empty() {
        sqlx::query(&format!(
            "UPDATE {table} AS v SET valid_to = c.valid_to
             FROM unnest($2::text[], $3::int8[], $4::timestamptz[])
                  AS c(record_id, version_id, valid_to)
             WHERE v.entity = $1 AND v.record_id = c.record_id AND v.version_id = c.version_id"
        ))
        .bind(entity.name())
        .bind(&close_record_ids)
        .bind(&close_ids)
        .bind(&close_at)
        .execute(&mut **tx)
        .await?;
    }

    let record_id = column(&inserts, |v| v.record_id.as_str());
    let personal_id = column(&inserts, |v| v.personal_id.as_deref());
    let organisation_id = column(&inserts, |v| v.organisation_id.as_deref());
    let name_folded = column(&inserts, |v| v.name_folded.as_str());
    let birth_date = column(&inserts, |v| v.birth_date);
    let code = column(&inserts, |v| v.code.as_deref());
    let body = column(&inserts, |v| v.body.as_deref());
    let source_position = column(&inserts, |v| v.source_position.as_deref());
    let idempotency_key = column(&inserts, |v| v.idempotency_key.as_str());
    let valid_from: Vec<DateTime<Utc>> = inserts.iter().map(|r| r.valid_from).collect();
    let valid_to: Vec<Option<DateTime<Utc>>> = inserts.iter().map(|r| r.valid_to).collect();
    let deleted = column(&inserts, |v| v.deleted);
    let topic = column(&inserts, |v| v.origin.as_ref().map(|o| o.topic.as_str()));
    let partition = column(&inserts, |v| v.origin.as_ref().map(|o| o.partition));
    let offset = column(&inserts, |v| v.origin.as_ref().map(|o| o.offset));
    sqlx::query(&format!(
        "INSERT INTO {table} (entity, record_id, personal_id, organisation_id, name_folded,
             birth_date, code, body, source_position, idempotency_key, valid_from, valid_to,
             deleted, kafka_topic, kafka_partition, kafka_offset)
         SELECT $1, r.record_id, r.personal_id, r.organisation_id, r.name_folded,
             r.birth_date, r.code, r.body, r.source_position, r.idempotency_key, r.valid_from,
             r.valid_to, r.deleted, r.kafka_topic, r.kafka_partition, r.kafka_offset
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[],
             $6::date[], $7::text[], $8::bytea[], $9::text[], $10::text[], $11::timestamptz[],
             $12::timestamptz[], $13::bool[], $14::text[], $15::int4[], $16::int8[])
             WITH ORDINALITY AS r(record_id, personal_id, organisation_id, name_folded,
                 birth_date, code, body, source_position, idempotency_key, valid_from,
                 valid_to, deleted, kafka_topic, kafka_partition, kafka_offset, n)
         ORDER BY r.n"
    ))
    .bind(entity.name())
    .bind(&record_id)
    .bind(&personal_id)
    .bind(&organisation_id)
    .bind(&name_folded)
    .bind(&birth_date)
    .bind(&code)
    .bind(&body)
    .bind(&source_position)
    .bind(&idempotency_key)
    .bind(&valid_from)
    .bind(&valid_to)
    .bind(&deleted)
    .bind(&topic)
    .bind(&partition)
    .bind(&offset)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One column of the rows to insert, for `unnest`.
fn column<'a, T>(inserts: &[Insert<'a>], value: impl Fn(&'a NewVersion) -> T) -> Vec<T> {
    inserts.iter().map(|r| value(r.version)).collect()
}

/// Register changes: the winning link per old number (see [`Supersession::wins_over`]) is
/// upserted, replacing a stored link only when it wins over it too.
async fn write_links(
    tx: &mut Transaction<'_, Postgres>,
    changes: &[(usize, &[Supersession])],
    applied: &mut [Applied],
) -> Result<(), StoreError> {
    let mut winners: HashMap<&str, (usize, &Supersession)> = HashMap::new();
    for (i, links) in changes {
        applied[*i] = if links.is_empty() {
            Applied::Ignored
        } else {
            Applied::Duplicate
        };
        for link in links.iter() {
            match winners.get(link.old_id.as_str()) {
                Some((_, held)) if !link.wins_over(held) => {}
                _ => {
                    winners.insert(link.old_id.as_str(), (*i, link));
                }
            }
        }
    }
    if winners.is_empty() {
        return Ok(());
    }
    let mut winners: Vec<(usize, &Supersession)> = winners.into_values().collect();
    winners.sort_by(|a, b| a.1.old_id.cmp(&b.1.old_id));
    let old: Vec<&str> = winners.iter().map(|(_, l)| l.old_id.as_str()).collect();
    let new: Vec<&str> = winners.iter().map(|(_, l)| l.current_id.as_str()).collect();
    let changed_at: Vec<Option<DateTime<Utc>>> =
        winners.iter().map(|(_, l)| l.changed_at).collect();
    let topic: Vec<Option<&str>> = winners
        .iter()
        .map(|(_, l)| l.origin.as_ref().map(|o| o.topic.as_str()))
        .collect();
    let partition: Vec<Option<i32>> = winners
        .iter()
        .map(|(_, l)| l.origin.as_ref().map(|o| o.partition))
        .collect();
    let offset: Vec<Option<i64>> = winners
        .iter()
        .map(|(_, l)| l.origin.as_ref().map(|o| o.offset))
        .collect();
    let written: Vec<String> = sqlx::query_scalar(
        "INSERT INTO lienthong_store.superseded_ids AS s
             (old_id, current_id, changed_at, kafka_topic, kafka_partition, kafka_offset)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[],
             $5::int4[], $6::int8[])
         ON CONFLICT (old_id) DO UPDATE SET
             current_id = excluded.current_id, changed_at = excluded.changed_at,
             kafka_topic = excluded.kafka_topic, kafka_partition = excluded.kafka_partition,
             kafka_offset = excluded.kafka_offset, stored_at = now()
         WHERE (coalesce(excluded.changed_at, '-infinity'), excluded.current_id)
             > (coalesce(s.changed_at, '-infinity'), s.current_id)
         RETURNING old_id",
    )
    .bind(&old)
    .bind(&new)
    .bind(&changed_at)
    .bind(&topic)
    .bind(&partition)
    .bind(&offset)
    .fetch_all(&mut **tx)
    .await?;
    let written: HashSet<&str> = written.iter().map(String::as_str).collect();
    for (i, link) in winners {
        if written.contains(link.old_id.as_str()) {
            applied[i] = Applied::Stored;
        }
    }
    Ok(())
}
