//! `lienthong share`: run the partner-topic projection stage.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use lienthong_runtime::service::ServiceRuntime;

use super::Shared;
use crate::config::LienthongConfig;
use lienthong_share::{AuditLogSink, AuditSink, KafkaAuditSink, ShareStage};

use super::{exit_config, exit_dependency};

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    serve(&cfg, &service, &Shared::default()).await
}

/// Runs the stage with `service`'s telemetry, metrics, health and shutdown until shutdown.
pub async fn serve(
    cfg: &LienthongConfig,
    service: &ServiceRuntime,
    shared: &Shared,
) -> anyhow::Result<ExitCode> {
    let policies = match shared.policies(cfg, service) {
        Ok(policies) => policies,
        Err(e) => {
            eprintln!(
                "error: the sharing policies in {} do not load, fix them first:\n{e}",
                cfg.policy.dir.display()
            );
            return Ok(exit_config());
        }
    };
    // One shape of event on the audit topic: the audit log's records when [audit] is enabled
    // (the log publishes them), else the stage's own JSON events.
    let audit: Arc<dyn AuditSink> = if cfg.audit.enabled {
        match shared.audit_log(cfg, service).await {
            Ok(log) => Arc::new(AuditLogSink::new(log)),
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(exit_dependency());
            }
        }
    } else {
        Arc::new(KafkaAuditSink::new(
            &cfg.kafka,
            cfg.share.audit_topic.clone(),
            service.kafka_metrics.clone(),
        )?)
    };
    let stage = ShareStage::new(
        cfg.share.clone(),
        policies,
        audit,
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        service.health.component("share"),
    );
    let outcome = stage.run(service.shutdown.clone()).await;
    service.shutdown.trigger();
    shared.finish().await;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: share: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
