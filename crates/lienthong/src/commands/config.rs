//! `lienthong config show|schema`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

pub fn show(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let text = toml::to_string_pretty(&cfg).context("rendering the configuration")?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

pub fn schema() -> anyhow::Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::config::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}
