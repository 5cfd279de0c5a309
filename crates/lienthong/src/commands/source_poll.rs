//! `lienthong source-poll`: run the configured polled sources.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;
use lienthong_source_poll::{PollSource, SourceContext};

pub async fn run(file: Option<&Path>, only: &[String]) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    for id in only {
        if !cfg.source_poll.contains_key(id) {
            anyhow::bail!("no [source_poll.{id}] in the configuration");
        }
    }
    let selected: Vec<_> = cfg
        .source_poll
        .iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("the configuration has no [source_poll.<id>] section");
    }
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    let sources: Vec<(&String, PollSource)> = selected
        .into_iter()
        .map(|(id, source_cfg)| {
            let db = &cfg.databases[&source_cfg.database];
            let source = PollSource::new(
                id,
                source_cfg.clone(),
                db.url.clone(),
                SourceContext {
                    kafka: &cfg.kafka,
                    retry: &cfg.retry,
                    kafka_metrics: service.kafka_metrics.clone(),
                    metrics: &service.metrics,
                    readiness: service.health.component(&format!("source-poll/{id}")),
                    state_topic: &cfg.state.topic,
                },
            );
            (id, source)
        })
        .collect();
    // The sources run concurrently on this task rather than as spawned tasks: the MySQL
    // driver's futures are not provably `Send` to the compiler (higher-ranked lifetimes in
    // sqlx's executor), and a polled source may be MySQL.
    let runs = sources.iter().map(|(id, source)| {
        let shutdown = service.shutdown.clone();
        let stop_all = service.shutdown.clone();
        async move {
            let outcome = source.run(shutdown).await;
            if outcome.is_err() {
                // One source needing an operator stops the process: a supervisor restarts it
                // once fixed, and the others resume from their saved cursors.
                stop_all.trigger();
            }
            (*id, outcome)
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
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
