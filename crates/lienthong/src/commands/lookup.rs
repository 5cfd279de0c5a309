//! `lienthong lookup`: the gRPC lookup API for integrators and partner ministries.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use lienthong_audit::{AuditLog, AuditTopic};
use lienthong_lookup::server::serve;
use lienthong_lookup::units::Units;
use lienthong_lookup::{Auditor, LookupApi, LookupMetrics};
use lienthong_policy::Policies;
use lienthong_proto::v1::resolve_service_client::ResolveServiceClient;
use lienthong_runtime::grpc::bind;
use lienthong_runtime::kafka::{EventProducer, TopicAdmin};
use lienthong_runtime::service::ServiceRuntime;
use lienthong_store::Store;
use lienthong_translate::codelist::CodeLists;

use super::{exit_config, exit_dependency};

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let lookup = cfg.lookup.clone();
    if !cfg.audit.enabled {
        eprintln!(
            "error: the lookup API audits every call: enable [audit] (database, subject_key) first"
        );
        return Ok(exit_config());
    }
    let (Some(store_db), Some(audit_db)) = (
        cfg.databases.get(&lookup.database),
        cfg.databases.get(&cfg.audit.database),
    ) else {
        eprintln!(
            "error: [lookup] database `{}` and [audit] database `{}` must both be [databases] entries",
            lookup.database, cfg.audit.database
        );
        return Ok(exit_config());
    };
    let units = match CodeLists::load_dir(&lookup.codelists) {
        Ok(lists) => Units::new(lists),
        Err(e) => {
            eprintln!("error: code lists: {e}");
            return Ok(exit_config());
        }
    };
    let policies = match Policies::from_config(&cfg.policy) {
        Ok(policies) => Arc::new(policies),
        Err(e) => {
            eprintln!("error: sharing policies: {e}");
            return Ok(exit_config());
        }
    };
    let resolver = match &lookup.resolver {
        None => None,
        Some(url) => match tonic::transport::Endpoint::from_shared(url.clone()) {
            Ok(endpoint) => Some(ResolveServiceClient::new(
                endpoint
                    .connect_timeout(Duration::from_secs(5))
                    .connect_lazy(),
            )),
            Err(e) => {
                eprintln!("error: [lookup] resolver {url}: {e}");
                return Ok(exit_config());
            }
        },
    };

    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    let readiness = service.health.component("lookup");
    readiness.not_ready("connecting to the store and the audit log");
    let store = match Store::connect(store_db.url.expose(), lookup.max_connections).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: store: {e}");
            return Ok(exit_dependency());
        }
    };
    let topic = if cfg.audit.topic.is_empty() {
        None
    } else {
        let admin = TopicAdmin::new(&cfg.kafka)?;
        if let Err(e) = admin.ensure_topics(&[cfg.audit.topic.as_str()]).await {
            eprintln!("error: audit topic {}: {e}", cfg.audit.topic);
            return Ok(exit_dependency());
        }
        let producer =
            EventProducer::new(&cfg.kafka, "lookup-audit", service.kafka_metrics.clone())?;
        Some(AuditTopic::new(producer, cfg.audit.topic.clone()))
    };
    let log = match AuditLog::connect(audit_db.url.expose(), cfg.audit.subject_key.expose(), topic)
        .await
    {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: audit log: {e}");
            return Ok(exit_dependency());
        }
    };
    log.register_metrics(&service.metrics);
    policies.register_metrics(&service.metrics);
    let reload = policies.spawn_reload(service.shutdown.clone());
    let (auditor, appender) = Auditor::spawn(Arc::new(log));
    let api = LookupApi::new(
        store,
        policies.clone(),
        auditor,
        units,
        resolver,
        lookup.max_page_size,
        LookupMetrics::register(&service.metrics),
    );

    let (addr, listener) = bind(lookup.listen).await?;
    println!(
        "grpc listening on {addr} ({}; {} partner policies)",
        if lookup.tls.is_some() {
            "TLS"
        } else {
            "plaintext"
        },
        policies.current().len()
    );
    if lookup.tls.is_none() {
        tracing::warn!(
            "[lookup] has no tls: tokens travel in the clear; configure tls outside local use"
        );
    }
    readiness.ready();
    let served = serve(
        api,
        listener,
        lookup.tls.as_ref(),
        Duration::from_millis(lookup.request_timeout_ms),
        service.shutdown.clone(),
    )
    .await;
    service.shutdown.trigger();
    let _ = reload.await;
    // The server has dropped every handle to the appender: it writes what it holds and ends.
    let _ = appender.await;
    match served {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: lookup: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
