//! `lienthong source-postgres`: run the configured PostgreSQL sources.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use lienthong_runtime::kafka::EventProducer;
use lienthong_runtime::service::ServiceRuntime;
use lienthong_source_postgres::{PostgresSource, SourceContext};

pub async fn run(file: Option<&Path>, only: &[String]) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    for id in only {
        if !cfg.source_postgres.contains_key(id) {
            anyhow::bail!("no [source_postgres.{id}] in the configuration");
        }
    }
    let selected: Vec<_> = cfg
        .source_postgres
        .iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .collect();
    if selected.is_empty() {
        anyhow::bail!("the configuration has no [source_postgres.<id>] section");
    }
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    let producer = EventProducer::new(&cfg.kafka, "source-postgres", service.kafka_metrics.clone())
        .context("creating the Kafka producer")?;
    let mut tasks = tokio::task::JoinSet::new();
    for (id, source_cfg) in selected {
        let db = &cfg.databases[&source_cfg.database];
        let source = PostgresSource::new(
            id,
            source_cfg.clone(),
            db.url.clone(),
            SourceContext {
                kafka: &cfg.kafka,
                retry: &cfg.retry,
                producer: producer.clone(),
                kafka_metrics: service.kafka_metrics.clone(),
                metrics: &service.metrics,
                readiness: service.health.component(&format!("source-postgres/{id}")),
                state_topic: &cfg.state.topic,
            },
        );
        let shutdown = service.shutdown.clone();
        let id = id.clone();
        tasks.spawn(async move { (id, source.run(shutdown).await) });
    }
    let mut failed = false;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((id, Ok(()))) => tracing::info!(source = %id, "source stopped"),
            Ok((id, Err(e))) => {
                failed = true;
                eprintln!("error: source {id}: {e}");
                // One source needing an operator stops the process: a supervisor restarts it
                // once fixed, and the others resume from their confirmed positions.
                service.shutdown.trigger();
            }
            Err(e) => {
                failed = true;
                eprintln!("error: a source task failed: {e}");
                service.shutdown.trigger();
            }
        }
    }
    producer
        .flush(std::time::Duration::from_secs(10))
        .await
        .ok();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
