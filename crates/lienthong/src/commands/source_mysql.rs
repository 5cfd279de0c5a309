//! `lienthong source-mysql`: run the configured MariaDB/MySQL sources.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;
use lienthong_source_mysql::{MysqlSource, SourceContext};

pub async fn run(file: Option<&Path>, only: &[String]) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    super::select_sources(&cfg.source_mysql, only, "source_mysql")?;
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
    let selected = super::select_sources(&cfg.source_mysql, only, "source_mysql")?;
    let sources: Vec<(&String, MysqlSource)> = selected
        .into_iter()
        .map(|(id, source_cfg)| {
            let db = &cfg.databases[&source_cfg.database];
            let source = MysqlSource::new(
                id,
                source_cfg.clone(),
                db.url.clone(),
                SourceContext {
                    kafka: &cfg.kafka,
                    retry: &cfg.retry,
                    kafka_metrics: service.kafka_metrics.clone(),
                    metrics: &service.metrics,
                    readiness: service.health.component(&format!("source-mysql/{id}")),
                    state_topic: &cfg.state.topic,
                },
            );
            (id, source)
        })
        .collect();
    let runs = sources
        .iter()
        .map(|(id, source)| (*id, source.run(service.shutdown.clone())))
        .collect();
    Ok(super::run_sources(&service.shutdown, runs).await)
}
