//! Group commit of audit events: every call waits until its event is in the audit log, but
//! concurrent calls share one append (one transaction, one link of the hash chain per event), so
//! the log keeps up with thousands of calls a second.

use std::sync::Arc;

use lienthong_audit::{AuditEvent, AuditLog};
use tokio::sync::{mpsc, oneshot};

/// Most events written by one append.
const MAX_BATCH: usize = 1_000;

type Reply = oneshot::Sender<Result<(), String>>;

/// Hands events to the appender task.
#[derive(Debug, Clone)]
pub struct Auditor {
    tx: mpsc::Sender<(AuditEvent, Reply)>,
}

/// The event could not be recorded; the call must not answer with data.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the audit log is unavailable: {0}")]
pub struct AuditUnavailable(pub String);

impl Auditor {
    /// Starts the appender task; it ends when every `Auditor` clone is dropped.
    pub fn spawn(log: Arc<AuditLog>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        let task = tokio::spawn(append_loop(log, rx));
        (Self { tx }, task)
    }

    /// Records `event` and returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditUnavailable> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((event, reply))
            .await
            .map_err(|_| AuditUnavailable("the audit appender has stopped".into()))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(AuditUnavailable(message)),
            Err(_) => Err(AuditUnavailable("the audit appender has stopped".into())),
        }
    }
}

async fn append_loop(log: Arc<AuditLog>, mut rx: mpsc::Receiver<(AuditEvent, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (events, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let outcome = log.append(events).await.map(|_| ()).map_err(|e| {
            tracing::error!(error = %e, "audit events could not be appended");
            e.to_string()
        });
        for reply in replies {
            // The caller may have gone (deadline): its event is recorded all the same.
            let _ = reply.send(outcome.clone());
        }
    }
}
