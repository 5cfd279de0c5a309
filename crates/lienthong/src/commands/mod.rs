//! One module per operator command.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use lienthong_policy::Policies;
use lienthong_runtime::Shutdown;
use lienthong_runtime::service::ServiceRuntime;

pub mod audit;
pub mod config;
pub mod datagen;
pub mod dev;
pub mod lookup;
pub mod lookup_get;
pub mod mapping;
pub mod platform_sim;
pub mod policy;
pub mod quality;
pub mod resolve;
pub mod schema;
pub mod share;
pub mod sink;
pub mod source_mysql;
pub mod source_poll;
pub mod source_postgres;
pub mod store;
pub mod topics;
pub mod translate;
pub mod validate;

/// A dependency (broker, database) could not be reached or refused us.
pub fn exit_dependency() -> ExitCode {
    ExitCode::from(1)
}
/// The configuration could not be loaded or is invalid.
pub fn exit_config() -> ExitCode {
    ExitCode::from(2)
}

/// The `[<section>.<id>]` entries to run: those named by `--source` (each must exist), or all.
pub fn select_sources<'a, T>(
    configured: &'a BTreeMap<String, T>,
    only: &[String],
    section: &str,
) -> anyhow::Result<Vec<(&'a String, &'a T)>> {
    for id in only {
        if !configured.contains_key(id) {
            anyhow::bail!("no [{section}.{id}] in the configuration");
        }
    }
    let selected: Vec<_> = configured
        .iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("the configuration has no [{section}.<id>] section");
    }
    Ok(selected)
}

/// Runs sources concurrently until each stops; exit status 1 when any failed.
///
/// They run on this task rather than as spawned tasks: the MySQL driver's futures are not
/// provably `Send` to the compiler (higher-ranked lifetimes in sqlx's executor), and each
/// connector's own work (producing, acknowledging) runs in tasks it spawns itself. One source
/// needing an operator stops the process: a supervisor restarts it once fixed, and the others
/// resume from their saved positions.
pub async fn run_sources<E: Display>(
    shutdown: &Shutdown,
    runs: Vec<(&String, impl Future<Output = Result<(), E>>)>,
) -> ExitCode {
    let runs = runs.into_iter().map(|(id, run)| {
        let stop_all = shutdown.clone();
        async move {
            let outcome = run.await;
            if outcome.is_err() {
                stop_all.trigger();
            }
            (id, outcome)
        }
    });
    let mut failed = false;
    for (id, outcome) in futures::future::join_all(runs).await {
        match outcome {
            Ok(()) => tracing::info!(source = %id, "source stopped"),
            Err(e) => {
                failed = true;
                eprintln!("error: source {id}: {e}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// How long a stopping service waits for the audit topic to catch up with the audit log.
const AUDIT_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the services of one process share: one [`ServiceRuntime`] (telemetry, metrics, health,
/// shutdown) and the sharing policies, loaded, registered in the metrics and watched for
/// changes once however many services use them (`lienthong dev` runs `share` and `lookup`
/// together).
#[derive(Debug, Default)]
pub struct Shared {
    policies: Mutex<Option<Arc<Policies>>>,
    reloads: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    audit_log: tokio::sync::OnceCell<Arc<lienthong_audit::AuditLog>>,
}

impl Shared {
    /// The `[policy] dir` policies, loaded on first use.
    pub fn policies(
        &self,
        cfg: &crate::config::LienthongConfig,
        service: &ServiceRuntime,
    ) -> Result<Arc<Policies>, lienthong_policy::PolicyError> {
        let mut slot = self.policies.lock().expect("policies lock");
        if let Some(policies) = slot.as_ref() {
            return Ok(policies.clone());
        }
        let policies = Arc::new(Policies::from_config(&cfg.policy)?);
        policies.register_metrics(&service.metrics);
        let reload = policies.spawn_reload(service.shutdown.clone());
        self.reloads.lock().expect("reloads lock").push(reload);
        *slot = Some(policies.clone());
        Ok(policies)
    }

    /// The `[audit]` log, connected (and its metrics registered) on first use: `lookup` and
    /// `share` append to one log through one pool however many of them run.
    pub async fn audit_log(
        &self,
        cfg: &crate::config::LienthongConfig,
        service: &ServiceRuntime,
    ) -> anyhow::Result<Arc<lienthong_audit::AuditLog>> {
        self.audit_log
            .get_or_try_init(|| async {
                let log = audit::open_log(cfg, service).await?;
                log.register_metrics(&service.metrics);
                Ok(Arc::new(log))
            })
            .await
            .cloned()
    }

    /// Waits for the background tasks once the shutdown was triggered, and gives the audit
    /// log's publisher a moment to put what was appended on the audit topic (whatever it
    /// cannot is published by the next service that publishes to that topic).
    pub async fn finish(&self) {
        let reloads = std::mem::take(&mut *self.reloads.lock().expect("reloads lock"));
        for reload in reloads {
            let _ = reload.await;
        }
        if let Some(log) = self.audit_log.get()
            && let Err(e) = log.flush(AUDIT_FLUSH_TIMEOUT).await
        {
            tracing::warn!(error = %e, "stopping with audit records not yet on the audit topic");
        }
    }
}
