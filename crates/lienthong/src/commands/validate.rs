//! `lienthong validate`: load the configuration, then reach every dependency it names without
//! moving data. Each check prints one line; the exit status says whether all passed.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::database;
use lienthong_runtime::kafka::TopicAdmin;

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

    for (name, db) in &cfg.databases {
        match database::check(db).await {
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

    if failures == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {failures} check(s) failed");
        Ok(exit_dependency())
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
