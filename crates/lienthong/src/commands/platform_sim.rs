//! `lienthong platform-sim`: the platform simulator as a process of its own.
//!
//! It prints `listening on ADDR` once it accepts connections (scripts and tests wait for that
//! line), logs with the `[telemetry]` defaults, and stops cleanly on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use lienthong_platform_sim::{PlatformSimConfig, SimError};
use lienthong_runtime::Shutdown;

use super::{exit_config, exit_dependency};

/// Reads the simulator's TOML file; unknown keys are errors.
pub fn load(file: &Path) -> anyhow::Result<PlatformSimConfig> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid simulator config", file.display()))
}

pub async fn run(
    file: Option<&Path>,
    listen: Option<SocketAddr>,
    database: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut config = match file {
        None => PlatformSimConfig::default(),
        Some(file) => match load(file) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(exit_config());
            }
        },
    };
    if let Some(listen) = listen {
        config.listen = listen;
    }
    if let Some(database) = database {
        config.database = Some(database.to_path_buf());
    }
    let telemetry = crate::config::load(None)?.telemetry;
    let _guard =
        lienthong_runtime::telemetry::init(&lienthong_runtime::telemetry::TelemetryConfig {
            service_name: "lienthong-platform-sim".to_string(),
            ..telemetry
        })?;
    let shutdown = Shutdown::on_signals()?;
    let stop = shutdown.clone();
    let server =
        match lienthong_platform_sim::serve(config, async move { stop.cancelled().await }).await {
            Ok(server) => server,
            Err(SimError::InvalidConfig(problems)) => {
                for problem in problems {
                    eprintln!("error: {problem}");
                }
                return Ok(exit_config());
            }
            Err(e) => {
                eprintln!("error: platform-sim: {e}");
                return Ok(exit_dependency());
            }
        };
    println!("listening on {}", server.local_addr());
    match server.wait().await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: platform-sim: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
