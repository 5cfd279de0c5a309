//! The full compare: finds rows deleted outright (hard deletes), which no poll can see, by
//! comparing the keys the connector has published with the keys the source table holds now.
//!
//! **Where the published keys come from.** The table's own change topic: the connector reads
//! it from the start to its end offsets and keeps, per key, whether its latest record is live
//! (a row image) or gone (a delete event or a tombstone). Nothing else has to be kept durable
//! and kept in step with the topic, and the topic is exactly what readers believe exists. It
//! needs the topic to keep every key's latest record: a compacted topic (`cleanup.policy =
//! compact`, set through `[kafka.topics.overrides]`) or one with unlimited retention; a key
//! whose records expired is not known any more, so its deletion is not found. Memory is about
//! 40 bytes per published key while the compare runs.
//!
//! **Order.** The topic is read first, then the source's keys: a key published before the
//! topic read and absent from the source afterwards was deleted in between, whatever happened
//! meanwhile. Rows inserted after the topic read are not in the topic and cannot be mistaken
//! for deletions. The connector does not poll while it compares, so nothing is published in
//! between. A soft-deleted row counts as absent.
//!
//! **What is published.** For each key gone from the source: a delete event whose before image
//! is the row as last published and whose position is that row's cursor with the compare's
//! run number, then a tombstone.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use lienthong_proto::v1::{
    ChangeEvent, ChangeKey, Column, Operation, PollCursor, SourcePosition, source_position,
};
use lienthong_runtime::kafka::{KafkaConfig, KafkaError, RDKafkaErrorCode, RecordHeaders};
use prost::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use crate::events::{PolledTable, Publish, now_timestamp};

/// A key's identity for the compare: its column names and values, not their source types, so
/// a retyped key column (`varchar(10)` → `varchar(20)`) is still the same key.
pub fn key_identity(columns: &[Column]) -> u128 {
    let mut h = Sha256::new();
    for c in columns {
        h.update((c.name.len() as u64).to_be_bytes());
        h.update(c.name.as_bytes());
        let value = c
            .value
            .as_ref()
            .map(|v| v.encode_to_vec())
            .unwrap_or_default();
        h.update((value.len() as u64).to_be_bytes());
        h.update(&value);
    }
    let mut first = [0u8; 16];
    first.copy_from_slice(&h.finalize()[..16]);
    u128::from_be_bytes(first)
}

/// The latest record of a key in the topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Latest {
    live: bool,
    partition: i32,
    offset: i64,
}

/// What the change topic says about each key.
#[derive(Debug, Default)]
pub struct PublishedKeys {
    keys: HashMap<u128, Latest>,
}

impl PublishedKeys {
    /// Folds in one record; records of a partition must come in offset order. Records without
    /// a decodable key are not the connector's and are ignored.
    pub fn record(
        &mut self,
        key: Option<&[u8]>,
        payload: Option<&[u8]>,
        partition: i32,
        offset: i64,
    ) {
        let Some(key) = key.and_then(|k| ChangeKey::decode(k).ok()) else {
            return;
        };
        let live = match payload {
            None => false,
            // A payload that does not decode is still a row someone published.
            Some(p) => ChangeEvent::decode(p).map_or(true, |e| e.op != Operation::Delete as i32),
        };
        self.keys.insert(
            key_identity(&key.columns),
            Latest {
                live,
                partition,
                offset,
            },
        );
    }

    /// Keys whose latest record is a row image.
    pub fn live(&self) -> usize {
        self.keys.values().filter(|l| l.live).count()
    }

    /// The source still holds this key.
    pub fn present_in_source(&mut self, identity: u128) {
        self.keys.remove(&identity);
    }

    /// Where the latest records of the live keys the source no longer holds are, by partition
    /// and offset.
    pub fn missing(&self) -> HashSet<(i32, i64)> {
        self.keys
            .values()
            .filter(|l| l.live)
            .map(|l| (l.partition, l.offset))
            .collect()
    }
}

/// One record read back from the change topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub payload: Option<Vec<u8>>,
    pub idempotency_key: Option<String>,
}

/// The delete of a row found gone, built from its latest published record. `None` when the
/// record's key does not decode (then it was not the connector's).
pub fn gone_row(
    table: &PolledTable,
    record: &TopicRecord,
    source_id: &str,
    compare_run: u64,
) -> Option<(Publish, String, String)> {
    let key = ChangeKey::decode(record.key.as_slice()).ok()?;
    let last = record
        .payload
        .as_deref()
        .and_then(|p| ChangeEvent::decode(p).ok());
    let cursor = match last
        .as_ref()
        .and_then(|e| e.position.as_ref())
        .and_then(|p| p.kind.as_ref())
    {
        Some(source_position::Kind::Poll(p)) => p.cursor.clone(),
        _ => Vec::new(),
    };
    let event = ChangeEvent {
        source_id: source_id.to_string(),
        database: table.database.clone(),
        schema: table.catalog.table.schema.clone(),
        table: table.catalog.table.name.clone(),
        op: Operation::Delete as i32,
        before: last.as_ref().and_then(|e| e.after.clone()),
        after: None,
        key: key.columns.clone(),
        transaction_id: String::new(),
        position: Some(SourcePosition {
            kind: Some(source_position::Kind::Poll(PollCursor {
                cursor,
                poll_sequence: compare_run,
            })),
        }),
        commit_time: Some(now_timestamp()),
        capture_time: Some(now_timestamp()),
        schema_version: table.schema_version,
        table_schema: Vec::new(),
        last_in_transaction: true,
    };
    // The deletion of that row version: the same however often the compare finds it.
    let idempotency_key = match &record.idempotency_key {
        Some(k) => format!("{k}:gone"),
        None => format!(
            "{source_id}:{}:gone:{:032x}:{}:{}",
            table.catalog.table.dotted(),
            key_identity(&key.columns),
            record.partition,
            record.offset
        ),
    };
    let position_text = format!(
        "compare={compare_run} table={} after={}@{}",
        table.catalog.table.dotted(),
        record.partition,
        record.offset
    );
    Some((
        Publish {
            record_key: record.key.clone(),
            event,
            tombstone: true,
        },
        idempotency_key,
        position_text,
    ))
}

/// Reads every partition of `topic` from its start to its end, handing each record to `each`.
/// Blocking: run it off the async threads.
///
/// A partition ends at the consumer's end-of-partition event; nothing writes to the topic while
/// it is read. The high watermark read at the start only says whether there is anything to
/// read (some brokers report it short of the newest batch, so records past it are read too):
/// a partition past it that stays quiet for a second counts as ended as well.
fn read_topic(
    config: &KafkaConfig,
    topic: &str,
    partitions: usize,
    mut each: impl FnMut(i32, i64, Option<&[u8]>, Option<&[u8]>, &RecordHeaders),
) -> Result<(), KafkaError> {
    const QUIET: Duration = Duration::from_secs(1);
    let timeout = Duration::from_millis(config.request_timeout_ms);
    let mut cfg = config.client_config("poll-compare");
    // No group: partitions are assigned by hand and nothing is committed.
    cfg.set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("group.id", "lienthong-poll-compare");
    let consumer: BaseConsumer = cfg.create()?;
    let mut tpl = TopicPartitionList::new();
    // Partition → (high watermark at the start, whether a record at or past it was read).
    let mut open: HashMap<i32, (i64, bool)> = HashMap::new();
    for p in 0..partitions as i32 {
        let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))?;
            open.insert(p, (high, false));
        }
    }
    if open.is_empty() {
        return Ok(());
    }
    consumer.assign(&tpl)?;
    let mut last_progress = Instant::now();
    while !open.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Err(KafkaError::PartitionEOF(p))) => {
                open.remove(&p);
                last_progress = Instant::now();
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(message)) => {
                last_progress = Instant::now();
                let p = message.partition();
                let headers = RecordHeaders::from_kafka(message.headers());
                each(
                    p,
                    message.offset(),
                    message.key(),
                    message.payload(),
                    &headers,
                );
                if let Some((high, past)) = open.get_mut(&p)
                    && message.offset() >= *high - 1
                {
                    *past = true;
                }
            }
            None => {
                let quiet = last_progress.elapsed();
                if quiet > QUIET && open.values().all(|(_, past)| *past) {
                    break;
                }
                if quiet > timeout * 3 {
                    return Err(KafkaError::MessageConsumption(
                        RDKafkaErrorCode::RequestTimedOut,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The published keys of `topic`.
pub async fn published_keys(
    config: &KafkaConfig,
    topic: &str,
    partitions: usize,
) -> Result<PublishedKeys, KafkaError> {
    let config = config.clone();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let mut keys = PublishedKeys::default();
        read_topic(&config, &topic, partitions, |p, o, key, payload, _| {
            keys.record(key, payload, p, o);
        })?;
        Ok(keys)
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))
}

/// The records of `topic` at the `wanted` partitions and offsets.
pub async fn records_at(
    config: &KafkaConfig,
    topic: &str,
    partitions: usize,
    wanted: HashSet<(i32, i64)>,
) -> Result<Vec<TopicRecord>, KafkaError> {
    let config = config.clone();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let mut found = Vec::with_capacity(wanted.len());
        read_topic(
            &config,
            &topic,
            partitions,
            |p, o, key, payload, headers| {
                if let Some(key) = key
                    && wanted.contains(&(p, o))
                {
                    found.push(TopicRecord {
                        partition: p,
                        offset: o,
                        key: key.to_vec(),
                        payload: payload.map(<[u8]>::to_vec),
                        idempotency_key: headers.idempotency_key.clone(),
                    });
                }
            },
        )?;
        Ok(found)
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::{CatalogColumn, CatalogTable, TableName};
    use crate::config::PollSourceConfig;
    use crate::dialect::Dialect;
    use lienthong_proto::v1::{Row, Value, value::Kind};

    fn key(id: i64, source_type: &str) -> ChangeKey {
        ChangeKey {
            source_id: "s".into(),
            schema: "main".into(),
            table: "t".into(),
            columns: vec![Column {
                name: "id".into(),
                value: Some(Value {
                    kind: Some(Kind::IntValue(id)),
                }),
                source_type: source_type.into(),
            }],
        }
    }

    fn event(op: Operation, id: i64) -> Vec<u8> {
        ChangeEvent {
            op: op as i32,
            key: key(id, "INTEGER").columns,
            after: (op != Operation::Delete).then(|| Row {
                columns: key(id, "INTEGER").columns,
            }),
            position: Some(SourcePosition {
                kind: Some(source_position::Kind::Poll(PollCursor {
                    cursor: vec![Value {
                        kind: Some(Kind::TextValue("2025-07-01".into())),
                    }],
                    poll_sequence: 3,
                })),
            }),
            ..ChangeEvent::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn the_latest_record_of_each_key_decides() {
        let mut keys = PublishedKeys::default();
        let k = |id| key(id, "INTEGER").encode_to_vec();
        // 1: published, still in the source. 2: published, gone. 3: deleted by a soft delete
        // (delete event + tombstone). 4: deleted, then published again, then gone.
        keys.record(Some(&k(1)), Some(&event(Operation::Read, 1)), 0, 0);
        keys.record(Some(&k(2)), Some(&event(Operation::Read, 2)), 0, 1);
        keys.record(Some(&k(3)), Some(&event(Operation::Update, 3)), 0, 2);
        keys.record(Some(&k(3)), Some(&event(Operation::Delete, 3)), 0, 3);
        keys.record(Some(&k(3)), None, 0, 4);
        keys.record(Some(&k(4)), None, 0, 5);
        keys.record(Some(&k(4)), Some(&event(Operation::Insert, 4)), 0, 6);
        keys.record(None, Some(b"not ours"), 0, 7);
        keys.record(Some(b"\xff\xff"), None, 0, 8);
        assert_eq!(keys.live(), 3);
        // The source's key 1 was published with another source type: still the same key.
        keys.present_in_source(key_identity(&key(1, "BIGINT").columns));
        assert_eq!(keys.missing(), HashSet::from([(0, 1), (0, 6)]));
    }

    #[test]
    fn gone_rows_become_deletes_from_their_last_image() {
        let source: PollSourceConfig =
            toml::from_str("database = \"x\"\n[[tables]]\ntable = \"main.t\"\ncursor = [\"id\"]\n")
                .unwrap();
        let catalog = CatalogTable {
            table: TableName::new("main", "t"),
            columns: vec![CatalogColumn::plain("id", "integer", "INTEGER", false)],
            primary_key: vec!["id".into()],
        };
        let table = PolledTable::new(
            &catalog,
            &source.tables[0],
            &source,
            "s",
            Dialect::Sqlite,
            "x.db",
            4,
        )
        .unwrap();
        let record = TopicRecord {
            partition: 0,
            offset: 6,
            key: key(4, "INTEGER").encode_to_vec(),
            payload: Some(event(Operation::Insert, 4)),
            idempotency_key: Some("s:main.t:00ab".into()),
        };
        let (publish, idempotency_key, position) = gone_row(&table, &record, "s", 2).unwrap();
        assert_eq!(publish.event.op, Operation::Delete as i32);
        assert!(publish.tombstone);
        assert_eq!(publish.record_key, record.key);
        assert_eq!(publish.event.before.as_ref().unwrap().columns.len(), 1);
        assert_eq!(publish.event.schema_version, 4);
        let Some(source_position::Kind::Poll(p)) =
            publish.event.position.as_ref().unwrap().kind.as_ref()
        else {
            panic!()
        };
        assert_eq!(p.poll_sequence, 2);
        assert_eq!(p.cursor.len(), 1);
        assert_eq!(idempotency_key, "s:main.t:00ab:gone");
        assert_eq!(position, "compare=2 table=main.t after=0@6");
        assert!(
            gone_row(
                &table,
                &TopicRecord {
                    key: b"\xff".to_vec(),
                    ..record
                },
                "s",
                2
            )
            .is_none()
        );
    }
}
