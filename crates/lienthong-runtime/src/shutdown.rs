//! Graceful shutdown: SIGINT or SIGTERM cancels one token every task watches. Stages finish the
//! record in hand, wait for outstanding acknowledgements, commit, and exit.

use tokio_util::sync::CancellationToken;

/// Cloneable shutdown signal.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// A shutdown that fires on SIGINT (Ctrl-C) or SIGTERM (Kubernetes, systemd).
    pub fn on_signals() -> std::io::Result<Self> {
        let shutdown = Self::new();
        let trigger = shutdown.clone();
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::spawn(async move {
            #[cfg(unix)]
            let which = tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            #[cfg(not(unix))]
            let which = {
                let _ = tokio::signal::ctrl_c().await;
                "Ctrl-C"
            };
            tracing::info!(signal = which, "shutting down");
            trigger.trigger();
        });
        Ok(shutdown)
    }

    /// Starts the shutdown.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when the shutdown starts.
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }
}
