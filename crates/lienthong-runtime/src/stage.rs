//! The skeleton every consume-transform-produce stage shares: the restart loop that tells
//! transient failures from those an operator must fix, and the acknowledger that commits an
//! input offset only after everything produced for it (and for every earlier record of its
//! partition) was acknowledged by the broker.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use tokio::sync::mpsc;

use crate::error::{Classify, ErrorClass};
use crate::health::Readiness;
use crate::kafka::{AdminError, EventConsumer, PendingDelivery, ProduceError};
use crate::metrics::KafkaMetrics;
use crate::retry::RetryConfig;
use crate::shutdown::Shutdown;

/// One input record on its way: the deliveries of what was produced for it.
#[derive(Debug)]
pub struct InFlight {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub deliveries: Vec<PendingDelivery>,
}

/// Why the acknowledger stopped.
#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error(transparent)]
    Commit(#[from] KafkaError),
}

impl Classify for AckError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Produce(e) => e.class(),
            Self::Commit(e) => e.class(),
        }
    }
}

/// Waits for the deliveries of each input record in order, and commits the next offset of each
/// partition once every record before it was acknowledged: at most every `every`, and at the
/// end when `rx` closes.
pub async fn acknowledge(
    mut rx: mpsc::Receiver<InFlight>,
    consumer: EventConsumer,
    every: Duration,
) -> Result<(), AckError> {
    let mut done: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut dirty = false;
    let mut last_commit = Instant::now();
    loop {
        let next = if dirty {
            match tokio::time::timeout(every, rx.recv()).await {
                Ok(item) => item,
                Err(_) => {
                    commit(&consumer, &done).await?;
                    dirty = false;
                    last_commit = Instant::now();
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(item) = next else { break };
        for delivery in item.deliveries {
            delivery.acknowledged().await?;
        }
        done.insert((item.topic, item.partition), item.offset + 1);
        dirty = true;
        if last_commit.elapsed() >= every {
            commit(&consumer, &done).await?;
            dirty = false;
            last_commit = Instant::now();
        }
    }
    if dirty {
        commit(&consumer, &done).await?;
    }
    Ok(())
}

async fn commit(
    consumer: &EventConsumer,
    done: &BTreeMap<(String, i32), i64>,
) -> Result<(), KafkaError> {
    let offsets: Vec<(String, i32, i64)> = done
        .iter()
        .map(|((topic, partition), next)| (topic.clone(), *partition, *next))
        .collect();
    consumer.commit_offsets(&offsets).await
}

/// Why a consume-transform-produce stage stopped or restarts.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("{0}")]
    NeedsOperator(String),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error(transparent)]
    Ack(#[from] AckError),
    #[error("the acknowledgement task stopped")]
    AckerStopped,
}

impl Classify for StageError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NeedsOperator(hint) => ErrorClass::operator(hint.clone()),
            Self::Kafka(e) => e.class(),
            Self::Admin(e) => e.class(),
            Self::Produce(e) => e.class(),
            Self::Ack(e) => e.class(),
            Self::AckerStopped => ErrorClass::Transient,
        }
    }
}

impl From<NeedsOperator> for StageError {
    fn from(e: NeedsOperator) -> Self {
        Self::NeedsOperator(e.0)
    }
}

/// The acknowledger task of [`acknowledge`].
pub type Acker = tokio::task::JoinHandle<Result<(), AckError>>;

/// Why the acknowledger ended while the stage was still reading (polled in its `select!`).
pub fn acker_ended(done: Result<Result<(), AckError>, tokio::task::JoinError>) -> StageError {
    match done {
        Ok(Err(e)) => e.into(),
        _ => StageError::AckerStopped,
    }
}

/// Ends a run: closes the acknowledger's channel and, on a clean stop, lets it finish (up to
/// 30 s) so that the offsets of everything acknowledged are committed.
pub async fn finish(
    result: Result<(), StageError>,
    ack_tx: mpsc::Sender<InFlight>,
    acker: &mut Acker,
) -> Result<(), StageError> {
    drop(ack_tx);
    let finished = tokio::time::timeout(Duration::from_secs(30), acker).await;
    match (result, finished) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(Ok(Ok(())))) => Ok(()),
        (Ok(()), Ok(Ok(Err(e)))) => Err(e.into()),
        (Ok(()), _) => Err(StageError::AckerStopped),
    }
}

/// What a stopped stage reports: the hint for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NeedsOperator(pub String);

/// Runs `run_once` until it returns `Ok` (a clean stop) or fails in a way an operator must fix;
/// a transient failure restarts it after a backoff delay (reset once a run lasted a minute),
/// with readiness down meanwhile and the retry counted under `stage`.
pub async fn supervise<E, F, Fut>(
    stage: &'static str,
    retry: &RetryConfig,
    readiness: &Readiness,
    metrics: &KafkaMetrics,
    shutdown: &Shutdown,
    mut run_once: F,
) -> Result<(), NeedsOperator>
where
    E: Classify + Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    use backon::BackoffBuilder as _;
    let mut delays = retry.backoff().build();
    loop {
        let started = Instant::now();
        let outcome = run_once().await;
        if started.elapsed() > Duration::from_secs(60) {
            delays = retry.backoff().build();
        }
        let Err(e) = outcome else { return Ok(()) };
        match e.class() {
            ErrorClass::NeedsOperator { hint } => {
                readiness.not_ready(hint.clone());
                return Err(NeedsOperator(hint));
            }
            _ => {
                readiness.not_ready(e.to_string());
                let delay = delays.next().unwrap_or(Duration::from_secs(30));
                tracing::warn!(stage, error = %e, ?delay, "stage restarting from the committed offsets");
                metrics.record_retry(stage);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
            }
        }
    }
}
