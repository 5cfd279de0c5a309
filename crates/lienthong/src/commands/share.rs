//! `lienthong share`: run the partner-topic projection stage.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use lienthong_policy::Policies;
use lienthong_runtime::service::ServiceRuntime;
use lienthong_share::{KafkaAuditSink, ShareStage};

use super::exit_config;

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let policies = match Policies::from_config(&cfg.policy) {
        Ok(policies) => Arc::new(policies),
        Err(e) => {
            eprintln!(
                "error: the sharing policies in {} do not load, fix them first:\n{e}",
                cfg.policy.dir.display()
            );
            return Ok(exit_config());
        }
    };
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    policies.register_metrics(&service.metrics);
    let reloading = policies.spawn_reload(service.shutdown.clone());
    let audit = KafkaAuditSink::new(
        &cfg.kafka,
        cfg.share.audit_topic.clone(),
        service.kafka_metrics.clone(),
    )?;
    let stage = ShareStage::new(
        cfg.share.clone(),
        policies,
        Arc::new(audit),
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        service.health.component("share"),
    );
    let outcome = stage.run(service.shutdown.clone()).await;
    service.shutdown.trigger();
    let _ = reloading.await;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: share: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
