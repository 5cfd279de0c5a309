//! `lienthong store`: run the master-data store stage.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;

use super::Shared;
use crate::config::LienthongConfig;
use lienthong_store::StoreStage;

use super::exit_config;

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
    // The configuration was validated: a database named here is a PostgreSQL entry.
    let Some(database) = cfg
        .store
        .database
        .as_ref()
        .and_then(|name| cfg.databases.get(name))
    else {
        eprintln!(
            "error: [store] database is not set: name the [databases] entry (PostgreSQL) the store writes to"
        );
        return Ok(exit_config());
    };
    tracing::info!(database = %database.display_url(), "store database");
    let stage = StoreStage::new(
        cfg.store.clone(),
        database.url.clone(),
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        service.health.component("store"),
    );
    match stage.run(service.shutdown.clone()).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: store: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
