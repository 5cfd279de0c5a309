//! `lienthong translate`: run the translator stage.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;
use lienthong_translate::stage::TranslateStage;

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    let stage = TranslateStage::new(
        cfg.translate.clone(),
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        service.health.component("translate"),
    );
    match stage.run(service.shutdown.clone()).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: translate: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
