//! One module per operator command.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use lienthong_runtime::Shutdown;

pub mod audit;
pub mod config;
pub mod datagen;
pub mod lookup;
pub mod mapping;
pub mod platform_sim;
pub mod policy;
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
