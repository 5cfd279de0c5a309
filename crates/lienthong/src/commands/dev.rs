//! `lienthong dev`: every service of one config in one process, for a laptop, the demo and
//! small installations.
//!
//! The services are the same code the separate commands run: one [`ServiceRuntime`] (one
//! health endpoint, one metrics registry, one shutdown) and one set of sharing policies serve
//! them all. When one service stops with an error the others are stopped too, as a supervisor
//! would restart a failed container: every stage resumes from its committed offsets and every
//! connector from its saved position.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::ExitCode;

use lienthong_runtime::service::ServiceRuntime;

use super::Shared;
use crate::config::LienthongConfig;

/// A service `lienthong dev` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Service {
    SourcePostgres,
    SourceMysql,
    SourcePoll,
    Translate,
    Resolve,
    Sink,
    Store,
    Share,
    Lookup,
}

impl Service {
    pub const ALL: [Service; 9] = [
        Service::SourcePostgres,
        Service::SourceMysql,
        Service::SourcePoll,
        Service::Translate,
        Service::Resolve,
        Service::Sink,
        Service::Store,
        Service::Share,
        Service::Lookup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::SourcePostgres => "source-postgres",
            Service::SourceMysql => "source-mysql",
            Service::SourcePoll => "source-poll",
            Service::Translate => "translate",
            Service::Resolve => "resolve",
            Service::Sink => "sink",
            Service::Store => "store",
            Service::Share => "share",
            Service::Lookup => "lookup",
        }
    }

    /// Why this config gives the service nothing to do, if it does not.
    pub fn unconfigured(self, cfg: &LienthongConfig) -> Option<&'static str> {
        match self {
            Service::SourcePostgres if cfg.source_postgres.is_empty() => {
                Some("no [source_postgres.<id>] section")
            }
            Service::SourceMysql if cfg.source_mysql.is_empty() => {
                Some("no [source_mysql.<id>] section")
            }
            Service::SourcePoll if cfg.source_poll.is_empty() => {
                Some("no [source_poll.<id>] section")
            }
            Service::Sink if cfg.sink.routes.is_empty() => Some("no [[sink.routes]]"),
            Service::Store if cfg.store.database.as_deref().is_none_or(str::is_empty) => {
                Some("[store] database is not set")
            }
            Service::Lookup if !cfg.audit.enabled => {
                Some("the lookup API audits every call and [audit] is not enabled")
            }
            _ => None,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The services to run: those named in `only` (each must be configured), or every configured
/// one; minus `skip`.
pub fn select(
    cfg: &LienthongConfig,
    only: &[Service],
    skip: &[Service],
) -> Result<Vec<Service>, String> {
    let mut chosen = Vec::new();
    for service in Service::ALL {
        if skip.contains(&service) || (!only.is_empty() && !only.contains(&service)) {
            continue;
        }
        match service.unconfigured(cfg) {
            None => chosen.push(service),
            Some(why) if only.contains(&service) => {
                return Err(format!("cannot run {service}: {why}"));
            }
            Some(_) => {}
        }
    }
    if chosen.is_empty() {
        return Err("no service left to run".to_owned());
    }
    Ok(chosen)
}

type Run<'a> = Pin<Box<dyn Future<Output = anyhow::Result<ExitCode>> + 'a>>;

fn serve<'a>(
    service: Service,
    cfg: &'a LienthongConfig,
    runtime: &'a ServiceRuntime,
    shared: &'a Shared,
) -> Run<'a> {
    match service {
        Service::SourcePostgres => Box::pin(super::source_postgres::serve(cfg, runtime, &[])),
        Service::SourceMysql => Box::pin(super::source_mysql::serve(cfg, runtime, &[])),
        Service::SourcePoll => Box::pin(super::source_poll::serve(cfg, runtime, &[])),
        Service::Translate => Box::pin(super::translate::serve(cfg, runtime, shared)),
        Service::Resolve => Box::pin(super::resolve::serve(cfg, runtime, shared)),
        Service::Sink => Box::pin(super::sink::serve(cfg, runtime, shared)),
        Service::Store => Box::pin(super::store::serve(cfg, runtime, shared)),
        Service::Share => Box::pin(super::share::serve(cfg, runtime, shared)),
        Service::Lookup => Box::pin(super::lookup::serve(cfg, runtime, shared)),
    }
}

pub async fn run(
    file: Option<&Path>,
    only: &[Service],
    skip: &[Service],
) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let services = match select(&cfg, only, skip) {
        Ok(services) => services,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(super::exit_config());
        }
    };
    let runtime = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    let names: Vec<&str> = services.iter().map(|s| s.name()).collect();
    println!("running {}", names.join(", "));
    if let Some(address) = runtime.health_address {
        println!("health and metrics on http://{address} (/healthz, /readyz, /metrics)");
    }
    tracing::info!(services = %names.join(","), "lienthong dev started");

    let shared = Shared::default();
    let (cfg, runtime_ref, shared_ref) = (&cfg, &runtime, &shared);
    let runs = services.iter().map(|&service| async move {
        let outcome = serve(service, cfg, runtime_ref, shared_ref).await;
        let failed = !matches!(outcome, Ok(code) if code == ExitCode::SUCCESS);
        if failed && !runtime_ref.shutdown.is_triggered() {
            eprintln!("error: {service} stopped; stopping the other services");
        }
        if failed {
            runtime_ref.shutdown.trigger();
        }
        (service, outcome)
    });
    let mut exit = ExitCode::SUCCESS;
    for (service, outcome) in futures::future::join_all(runs).await {
        match outcome {
            Ok(code) if code == ExitCode::SUCCESS => {
                tracing::info!(service = %service, "service stopped");
            }
            Ok(code) => {
                if exit == ExitCode::SUCCESS {
                    exit = code;
                }
            }
            Err(e) => {
                eprintln!("error: {service}: {e:#}");
                exit = ExitCode::FAILURE;
            }
        }
    }
    shared.finish().await;
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in defaults: no sources, routes, store or audit.
    fn defaults() -> LienthongConfig {
        crate::config::load(None).unwrap()
    }

    #[test]
    fn runs_what_the_config_configures() {
        let cfg = defaults();
        let chosen = select(&cfg, &[], &[]).unwrap();
        assert_eq!(
            chosen,
            vec![Service::Translate, Service::Resolve, Service::Share]
        );
    }

    #[test]
    fn a_named_service_must_be_configured() {
        let cfg = defaults();
        let err = select(&cfg, &[Service::Sink], &[]).unwrap_err();
        assert!(
            err.contains("sink") && err.contains("[[sink.routes]]"),
            "{err}"
        );
        let err = select(&cfg, &[Service::Lookup], &[]).unwrap_err();
        assert!(err.contains("[audit]"), "{err}");
    }

    #[test]
    fn only_and_skip() {
        let cfg = defaults();
        assert_eq!(
            select(&cfg, &[Service::Translate], &[]).unwrap(),
            vec![Service::Translate]
        );
        assert_eq!(
            select(&cfg, &[], &[Service::Resolve, Service::Share]).unwrap(),
            vec![Service::Translate]
        );
        assert!(select(&cfg, &[Service::Translate], &[Service::Translate]).is_err());
    }
}
