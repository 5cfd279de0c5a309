//! `lienthong audit verify`: walk the audit log's hash chain and say whether it is intact.
//! Reads only: no migrations, no writes, so read-only credentials suffice. And how the
//! services that append (`lookup`, `share`) open the log.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use lienthong_audit::{AuditLog, AuditTopic};
use lienthong_runtime::kafka::{EventProducer, TopicAdmin};
use lienthong_runtime::service::ServiceRuntime;

use crate::config::LienthongConfig;

/// Opens the `[audit]` log for appending: creates the audit topic when one is set, connects
/// to the database and creates or migrates the log's schema.
pub async fn open_log(cfg: &LienthongConfig, service: &ServiceRuntime) -> anyhow::Result<AuditLog> {
    let name = &cfg.audit.database;
    let database = cfg
        .databases
        .get(name)
        .with_context(|| format!("[audit] database `{name}` is not a [databases] entry"))?;
    let topic = if cfg.audit.topic.is_empty() {
        None
    } else {
        TopicAdmin::new(&cfg.kafka)?
            .ensure_topics(&[cfg.audit.topic.as_str()])
            .await
            .with_context(|| format!("audit topic {}", cfg.audit.topic))?;
        let producer = EventProducer::new(&cfg.kafka, "audit", service.kafka_metrics.clone())?;
        Some(AuditTopic::new(producer, cfg.audit.topic.clone()))
    };
    AuditLog::connect(database.url.expose(), cfg.audit.subject_key.expose(), topic)
        .await
        .context("audit log")
}

/// The chain is broken: some row was changed, deleted or inserted outside the log.
const EXIT_TAMPERED: u8 = 1;
/// No verdict: the config is invalid or the database could not be read.
const EXIT_FAILED: u8 = 2;

/// Exit status: 0 intact, 1 tampered, 2 the config or the database failed.
pub async fn verify(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = match crate::config::load(file) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    let name = &cfg.audit.database;
    if name.is_empty() {
        eprintln!(
            "error: [audit] database is not set: name the [databases] entry of the audit log"
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let Some(database) = cfg.databases.get(name) else {
        eprintln!("error: [audit] database names [databases.{name}], which is not configured");
        return Ok(ExitCode::from(EXIT_FAILED));
    };
    println!("verifying the audit log in {}", database.display_url());
    match lienthong_audit::verify_database(database.url.expose()).await {
        Ok(report) => {
            println!("{report}");
            if report.is_intact() {
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(EXIT_TAMPERED))
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}
