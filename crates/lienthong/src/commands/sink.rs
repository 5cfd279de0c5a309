//! `lienthong sink`: run the delivery stage.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;

use super::Shared;
use crate::config::LienthongConfig;
use lienthong_sink_http::SinkStage;

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    serve(&cfg, &service, &Shared::default()).await
}

/// Runs the stage with `service`'s telemetry, metrics, health and shutdown until shutdown.
pub async fn serve(
    cfg: &LienthongConfig,
    service: &ServiceRuntime,
    _shared: &Shared,
) -> anyhow::Result<ExitCode> {
    let stage = SinkStage::new(
        cfg.sink.clone(),
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        service.health.component("sink"),
    );
    match stage.run(service.shutdown.clone()).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: sink: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
