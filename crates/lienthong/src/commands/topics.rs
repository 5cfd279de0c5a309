//! `lienthong topics ensure|list`.

use std::path::Path;
use std::process::ExitCode;

use lienthong_runtime::kafka::{TopicAdmin, TopicOutcome};

use super::exit_dependency;

pub async fn ensure(file: Option<&Path>, topics: &[String]) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let admin = TopicAdmin::new(&cfg.kafka)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    match admin.ensure_topics(&names).await {
        Ok(outcomes) => {
            for (topic, outcome) in outcomes {
                let settings = cfg.kafka.topics.settings_for(&topic);
                match outcome {
                    TopicOutcome::Created => println!(
                        "created  {topic} (partitions={}, replication_factor={})",
                        settings.partitions, settings.replication_factor
                    ),
                    TopicOutcome::AlreadyExists => println!("exists   {topic}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_dependency())
        }
    }
}

pub async fn list(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let admin = TopicAdmin::new(&cfg.kafka)?;
    match admin.cluster_info().await {
        Ok(mut info) => {
            info.topics.sort();
            for (topic, partitions) in info.topics {
                println!("{topic}\t{partitions}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_dependency())
        }
    }
}
