//! `lienthong lookup`: the gRPC lookup API for integrators and partner ministries.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use lienthong_lookup::server::serve as serve_grpc;
use lienthong_lookup::units::Units;
use lienthong_lookup::{Auditor, LookupApi, LookupMetrics};
use lienthong_runtime::grpc::bind;
use lienthong_runtime::service::ServiceRuntime;

use super::Shared;
use crate::config::LienthongConfig;
use lienthong_store::Store;
use lienthong_translate::codelist::CodeLists;

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
    let lookup = cfg.lookup.clone();
    if !cfg.audit.enabled {
        eprintln!(
            "error: the lookup API audits every call: enable [audit] (database, subject_key) first"
        );
        return Ok(exit_config());
    }
    let (Some(store_db), Some(_)) = (
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
    let policies = match shared.policies(cfg, service) {
        Ok(policies) => policies,
        Err(e) => {
            eprintln!("error: sharing policies: {e}");
            return Ok(exit_config());
        }
    };
    let resolver = match lienthong_lookup::resolver::connect(&lookup) {
        Ok(resolver) => resolver,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit_config());
        }
    };
    if lookup
        .resolver
        .as_deref()
        .is_some_and(|url| url.starts_with("http://"))
        && !lookup.resolver_token.expose().is_empty()
    {
        tracing::warn!(
            "[lookup] resolver is http://: resolver_token travels in the clear; use https:// with resolver_tls outside local use"
        );
    }

    let readiness = service.health.component("lookup");
    readiness.not_ready("connecting to the store and the audit log");
    let store = match Store::connect(store_db.url.expose(), lookup.max_connections).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: store: {e}");
            return Ok(exit_dependency());
        }
    };
    let log = match shared.audit_log(cfg, service).await {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit_dependency());
        }
    };
    let (auditor, appender) = Auditor::spawn(log);
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
    let served = serve_grpc(
        api,
        listener,
        lookup.tls.as_ref(),
        Duration::from_millis(lookup.request_timeout_ms),
        service.shutdown.clone(),
    )
    .await;
    service.shutdown.trigger();
    // The server has dropped every handle to the appender: it writes what it holds and ends.
    let _ = appender.await;
    shared.finish().await;
    match served {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: lookup: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
