//! Keeping the index live: every replica reads all of `population.v1` itself (no consumer
//! group: each holds the whole register) and applies each change; index snapshots on disk carry
//! the offsets they include, so a restart reads the snapshot and resumes the topic from there.
//!
//! A change that cannot be applied (not a `PopulationRecord`, an unusable personal ID, a number
//! claimed twice) goes to `dlq.resolve` with its reason and position. Tombstones are skipped: the
//! register never deletes a person (death is a flag).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lienthong_proto::v1::PopulationRecord;
use lienthong_runtime::Shutdown;
use lienthong_runtime::error::{Classify, ErrorClass};
use lienthong_runtime::kafka::{
    AdminError, DeadLetterQueue, EventConsumer, EventProducer, KafkaConfig, KafkaError,
    ProduceError, Rejection, TopicAdmin,
};
use lienthong_runtime::metrics::KafkaMetrics;
use prost::Message as _;
use serde::{Deserialize, Serialize};

use crate::convert::entry_from_population;
use crate::index::{PopulationIndex, SnapshotError};
use crate::normalise::VietnameseNameNormaliser;
use crate::record::ProvinceMap;
use crate::service::Resolver;

/// The stage name in dead-letter topics and metrics.
pub const STAGE: &str = "resolve";

/// The `population.v1` positions an index includes: next offset per partition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPositions {
    pub topic: String,
    pub next: BTreeMap<i32, i64>,
}

/// Why the feed stopped.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error(
        "topic {0} does not exist: create it (lienthong topics ensure {0}) before the resolver"
    )]
    NoTopic(String),
    #[error("cannot write the index snapshot {path}: {source}")]
    Snapshot {
        path: PathBuf,
        #[source]
        source: SnapshotError,
    },
}

impl Classify for FeedError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Kafka(e) => e.class(),
            Self::Admin(e) => e.class(),
            Self::Produce(e) => e.class(),
            Self::NoTopic(_) => ErrorClass::operator(self.to_string()),
            Self::Snapshot { .. } => ErrorClass::operator(self.to_string()),
        }
    }
}

fn positions_path(snapshot: &Path) -> PathBuf {
    let mut name = snapshot.as_os_str().to_owned();
    name.push(".positions.json");
    PathBuf::from(name)
}

/// Writes the index and the positions it includes, each to a temporary file renamed into
/// place, the index first: a crash between the two leaves older positions beside a newer index,
/// and replaying changes is harmless (applying a change twice changes nothing).
pub fn write_snapshot(
    resolver: &Resolver,
    path: &Path,
    positions: &FeedPositions,
) -> Result<(), FeedError> {
    let fail = |source: SnapshotError| FeedError::Snapshot {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| fail(SnapshotError::from(e)))?;
    }
    let tmp = path.with_extension("tmp");
    {
        let file = std::fs::File::create(&tmp).map_err(|e| fail(SnapshotError::from(e)))?;
        let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
        resolver.index().write_snapshot(&mut writer).map_err(fail)?;
        let file = writer
            .into_inner()
            .map_err(|e| fail(SnapshotError::from(e.into_error())))?;
        file.sync_all().map_err(|e| fail(SnapshotError::from(e)))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| fail(SnapshotError::from(e)))?;
    let json = serde_json::to_vec_pretty(positions).unwrap_or_default();
    let ptmp = positions_path(path).with_extension("tmp");
    std::fs::write(&ptmp, json).map_err(|e| fail(SnapshotError::from(e)))?;
    std::fs::rename(&ptmp, positions_path(path)).map_err(|e| fail(SnapshotError::from(e)))?;
    Ok(())
}

/// Reads a snapshot and its positions; `Ok(None)` when there is none yet.
pub fn read_snapshot(
    path: &Path,
    map: &ProvinceMap,
) -> Result<Option<(PopulationIndex, FeedPositions)>, SnapshotError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SnapshotError::from(e)),
    };
    let index = PopulationIndex::read_snapshot(
        std::io::BufReader::with_capacity(1 << 20, file),
        Arc::new(VietnameseNameNormaliser::default()),
        map.clone(),
    )?;
    // Without its positions file the snapshot's place in the topic is unknown: replay all.
    let positions = std::fs::read(positions_path(path))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    Ok(Some((index, positions)))
}

/// Follows `population.v1`.
#[derive(Debug)]
pub struct Feed {
    pub resolver: Arc<Resolver>,
    pub kafka: KafkaConfig,
    pub kafka_metrics: KafkaMetrics,
    pub topic: String,
    pub provinces: ProvinceMap,
    pub snapshot: Option<PathBuf>,
    pub snapshot_every: Duration,
}

impl Feed {
    /// Applies changes from `positions` on until `shutdown`; writes a snapshot every
    /// `snapshot_every` when changes arrived and at the end. `positions` advances as changes
    /// are applied, so a restart after a transient failure resumes where this run stopped.
    pub async fn run(
        &self,
        positions: &mut FeedPositions,
        shutdown: &Shutdown,
    ) -> Result<(), FeedError> {
        let admin = TopicAdmin::new(&self.kafka)?;
        let partitions = admin
            .cluster_info()
            .await?
            .partitions_of(&self.topic)
            .ok_or_else(|| FeedError::NoTopic(self.topic.clone()))?;
        if positions.topic != self.topic {
            *positions = FeedPositions {
                topic: self.topic.clone(),
                next: BTreeMap::new(),
            };
        }
        let producer = EventProducer::new(&self.kafka, STAGE, self.kafka_metrics.clone())?;
        let dlq = DeadLetterQueue::new(STAGE, producer, self.kafka_metrics.clone());
        let consumer = EventConsumer::new(
            &self.kafka,
            "lienthong-resolve-register",
            self.kafka_metrics.clone(),
        )?;
        let start: Vec<(i32, Option<i64>)> = (0..partitions as i32)
            .map(|p| (p, positions.next.get(&p).copied()))
            .collect();
        consumer.assign(&self.topic, &start)?;
        tracing::info!(topic = %self.topic, ?start, "following the register");
        let mut tick = tokio::time::interval(self.snapshot_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut changed = false;
        let result = loop {
            let record = tokio::select! {
                _ = shutdown.cancelled() => break Ok(()),
                _ = tick.tick() => {
                    if changed && let Some(path) = &self.snapshot {
                        self.save(path, positions).await?;
                        changed = false;
                    }
                    continue;
                }
                record = consumer.recv() => record?,
            };
            if let Some(payload) = &record.payload {
                let applied = PopulationRecord::decode(payload.as_slice())
                    .map_err(|e| Rejection {
                        kind: "decode".to_string(),
                        reason: format!("not a lienthong.v1.PopulationRecord: {e}"),
                        attempts: 1,
                    })
                    .and_then(|r| {
                        entry_from_population(&self.provinces, &r).map_err(|e| Rejection {
                            kind: "register.invalid".to_string(),
                            reason: e.to_string(),
                            attempts: 1,
                        })
                    })
                    .and_then(|entry| {
                        self.resolver.apply(entry).map_err(|e| Rejection {
                            kind: "register.inconsistent".to_string(),
                            reason: e.to_string(),
                            attempts: 1,
                        })
                    });
                if let Err(why) = applied {
                    tracing::warn!(position = %record.position(), reason = %why.reason, "register change dead-lettered");
                    dlq.reject(&record, &why).await?;
                }
                changed = true;
            }
            positions.next.insert(record.partition, record.offset + 1);
        };
        if changed && let Some(path) = &self.snapshot {
            self.save(path, positions).await?;
        }
        result
    }

    async fn save(&self, path: &Path, positions: &FeedPositions) -> Result<(), FeedError> {
        tracing::info!(snapshot = %path.display(), positions = ?positions.next, "writing the index snapshot");
        let resolver = self.resolver.clone();
        let path = path.to_path_buf();
        let positions = positions.clone();
        tokio::task::spawn_blocking(move || write_snapshot(&resolver, &path, &positions))
            .await
            .unwrap_or_else(|e| {
                Err(FeedError::Snapshot {
                    path: PathBuf::new(),
                    source: SnapshotError::from(std::io::Error::other(e.to_string())),
                })
            })
    }
}
