//! `lienthong validate`: load the configuration, then reach every dependency it names without
//! moving data. Each check prints one line; the exit status says whether all passed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use lienthong_policy::Policies;
use lienthong_runtime::database::{self, DatabaseKind};
use lienthong_runtime::grpc;
use lienthong_runtime::kafka::TopicAdmin;

use crate::config::LienthongConfig;

use super::{exit_config, exit_dependency};

pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let source = file.map_or("built-in defaults".to_string(), |p| p.display().to_string());
    let cfg = match crate::config::load(file) {
        Ok(cfg) => cfg,
        Err(e) => {
            println!("FAIL  config    {source}");
            eprintln!("error: {e}");
            return Ok(exit_config());
        }
    };
    println!("ok    config    {source}");

    let mut failures = 0;
    let kafka_target = &cfg.kafka.bootstrap_servers;
    match TopicAdmin::new(&cfg.kafka) {
        Err(e) => {
            failures += 1;
            println!("FAIL  kafka     {kafka_target}: {e}");
        }
        Ok(admin) => match admin.cluster_info().await {
            Ok(info) => println!(
                "ok    kafka     {kafka_target}: {} broker(s) [{}], {} topic(s)",
                info.brokers.len(),
                info.brokers.join(", "),
                info.topics.len()
            ),
            Err(e) => {
                failures += 1;
                println!("FAIL  kafka     {e}");
            }
        },
    }

    // Which databases answered, for the sections that name them.
    let mut reachable = BTreeMap::new();
    for (name, db) in &cfg.databases {
        let checked = database::check(db).await;
        match &checked {
            Ok(info) => println!(
                "ok    database  {name} {}: {}",
                db.display_url(),
                first_line(&info.version)
            ),
            Err(e) => {
                failures += 1;
                println!("FAIL  database  {name}: {e}");
            }
        }
        reachable.insert(name.as_str(), checked.is_ok());
    }

    for (id, source) in &cfg.source_postgres {
        let url = cfg.databases[&source.database].url.expose();
        for check in lienthong_source_postgres::checks::run(id, source, url).await {
            if check.ok {
                println!("ok    source    {id}: {}: {}", check.name, check.detail);
            } else {
                failures += 1;
                println!("FAIL  source    {id}: {}: {}", check.name, check.detail);
            }
        }
    }

    for (id, source) in &cfg.source_mysql {
        let url = cfg.databases[&source.database].url.expose();
        for check in lienthong_source_mysql::checks::run(source, url).await {
            if check.ok {
                println!("ok    source    {id}: {}: {}", check.name, check.detail);
            } else {
                failures += 1;
                println!("FAIL  source    {id}: {}: {}", check.name, check.detail);
            }
        }
    }

    for (id, source) in &cfg.source_poll {
        let url = cfg.databases[&source.database].url.expose();
        for check in lienthong_source_poll::checks::run(id, source, url).await {
            if check.ok {
                println!("ok    source    {id}: {}: {}", check.name, check.detail);
            } else {
                failures += 1;
                println!("FAIL  source    {id}: {}: {}", check.name, check.detail);
            }
        }
    }

    for (id, endpoint) in &cfg.sink.endpoints {
        let metrics = lienthong_sink_http::metrics::SinkMetrics::default();
        let checked = match lienthong_sink_http::Endpoint::new(id, endpoint, metrics) {
            Ok(client) => client.probe().await,
            Err(e) => Err(e.to_string()),
        };
        match checked {
            Ok(detail) => println!("ok    sink      {id}: {detail}"),
            Err(e) => {
                failures += 1;
                println!("FAIL  sink      {id}: {e}");
            }
        }
    }

    for (passed, line) in super::resolve::checks(&cfg.resolve) {
        if passed {
            println!("ok    resolve   {line}");
        } else {
            failures += 1;
            println!("FAIL  resolve   {line}");
        }
    }

    for (section, passed, line) in sharing_checks(&cfg, &reachable) {
        let status = if passed { "ok  " } else { "FAIL" };
        let mut lines = line.lines();
        println!(
            "{status}  {section:<10}{}",
            lines.next().unwrap_or_default()
        );
        for more in lines {
            println!("                {more}");
        }
        if !passed {
            failures += 1;
        }
    }

    if failures == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {failures} check(s) failed");
        Ok(exit_dependency())
    }
}

/// The checks of the sections in use among `[policy]`, `[store]`, `[audit]` and `[lookup]`:
/// `(section, passed, line)` each. `[audit]` is in use when enabled, `[store]` when it names a
/// database, `[lookup]` when `[audit]` is enabled (as `lienthong dev` decides whether to run
/// it) or when it is configured at all, and `[policy]` when the lookup API or the share stage
/// is configured, `[policy]` itself is, or its directory exists.
fn sharing_checks(
    cfg: &LienthongConfig,
    reachable: &BTreeMap<&str, bool>,
) -> Vec<(&'static str, bool, String)> {
    let mut out = Vec::new();
    let lookup_in_use = super::dev::Service::Lookup.unconfigured(cfg).is_none()
        || cfg.lookup != lienthong_lookup::LookupConfig::default();
    let policy_in_use = lookup_in_use
        || cfg.share != lienthong_share::ShareConfig::default()
        || cfg.policy != lienthong_policy::PolicyConfig::default()
        || cfg.policy.dir.is_dir();
    if policy_in_use {
        let dir = cfg.policy.dir.display();
        match Policies::from_config(&cfg.policy) {
            Ok(policies) => {
                let set = policies.current();
                out.push((
                    "policy",
                    true,
                    format!(
                        "{dir}: {} partner(s), {} partner topic(s)",
                        set.len(),
                        set.partner_topics().len()
                    ),
                ));
            }
            Err(e) => out.push(("policy", false, format!("{dir}: {e}"))),
        }
    }
    if let Some(name) = cfg.store.database.as_deref().filter(|n| !n.is_empty()) {
        out.push(postgres_entry(cfg, reachable, "store", name));
    }
    if cfg.audit.enabled {
        out.push(postgres_entry(cfg, reachable, "audit", &cfg.audit.database));
    }
    if lookup_in_use {
        out.push(postgres_entry(
            cfg,
            reachable,
            "lookup",
            &cfg.lookup.database,
        ));
        if let Some(tls) = &cfg.lookup.tls {
            match grpc::check_server_tls(tls) {
                Ok(summary) => out.push(("lookup", true, format!("tls: {summary}"))),
                Err(e) => out.push(("lookup", false, format!("tls: {e}"))),
            }
        }
        if let Some(tls) = &cfg.lookup.resolver_tls {
            match grpc::check_client_tls(tls) {
                Ok(summary) => out.push(("lookup", true, format!("resolver_tls: {summary}"))),
                Err(e) => out.push(("lookup", false, format!("resolver_tls: {e}"))),
            }
        }
    }
    out
}

/// Whether `[section] database = name` is a reachable PostgreSQL `[databases]` entry.
fn postgres_entry(
    cfg: &LienthongConfig,
    reachable: &BTreeMap<&str, bool>,
    section: &'static str,
    name: &str,
) -> (&'static str, bool, String) {
    let Some(db) = cfg.databases.get(name) else {
        return (
            section,
            false,
            format!(
                "database `{name}` is not a [databases] entry: add [databases.{name}] or name another"
            ),
        );
    };
    if db.kind() != Some(DatabaseKind::Postgres) {
        return (
            section,
            false,
            format!(
                "database `{name}` ({}) is not PostgreSQL: [{section}] needs a postgres:// database",
                db.display_url()
            ),
        );
    }
    if reachable.get(name) != Some(&true) {
        return (
            section,
            false,
            format!(
                "database `{name}` ({}) is unreachable (see its database line)",
                db.display_url()
            ),
        );
    }
    (
        section,
        true,
        format!(
            "database `{name}` ({}): PostgreSQL, reachable",
            db.display_url()
        ),
    )
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
