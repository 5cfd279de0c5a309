//! `lienthong source-postgres`: run the configured PostgreSQL sources.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;
use lienthong_source_postgres::{PostgresSource, SourceContext};

pub async fn run(file: Option<&Path>, only: &[String]) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    super::select_sources(&cfg.source_postgres, only, "source_postgres")?;
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    serve(&cfg, &service, only).await
}

/// Runs the sources named by `only` (all when empty) with `service`'s telemetry, metrics,
/// health and shutdown until shutdown or until one needs an operator.
pub async fn serve(
    cfg: &crate::config::LienthongConfig,
    service: &ServiceRuntime,
    only: &[String],
) -> anyhow::Result<ExitCode> {
    let selected = super::select_sources(&cfg.source_postgres, only, "source_postgres")?;
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
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn request_snapshot(
    file: Option<&Path>,
    source: &str,
    tables: &[String],
) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;

    let cfg = crate::config::load(file)?;
    let source_cfg = cfg
        .source_postgres
        .get(source)
        .with_context(|| format!("no [source_postgres.{source}] in the configuration"))?;
    for table in tables {
        let captured = source_cfg
            .tables
            .iter()
            .any(|p| lienthong_source_postgres::config::pattern_matches(p, table))
            && !source_cfg
                .exclude_tables
                .iter()
                .any(|p| lienthong_source_postgres::config::pattern_matches(p, table));
        if !captured {
            anyhow::bail!(
                "source {source} does not capture {table} (see its tables / exclude_tables)"
            );
        }
    }
    let url = cfg.databases[&source_cfg.database].url.expose();
    let mut conn = lienthong_source_postgres::catalog::connect(url)
        .await
        .with_context(|| {
            format!(
                "connecting to {}",
                cfg.databases[&source_cfg.database].display_url()
            )
        })?;
    let lsn = lienthong_source_postgres::catalog::request_snapshot(&mut conn, tables).await?;
    println!(
        "requested a snapshot of {} at {lsn}: the connector of {source} reads it while streaming continues",
        tables.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
