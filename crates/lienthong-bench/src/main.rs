//! `lienthong-bench`: throughput and latency of lienthong's stages against the local stack,
//! each beside the ceiling that bounds it, measured in the same run. Writes BENCHMARKS.md.
//!
//! Speed targets live here, never in tests: numbers depend on the machine.

mod postgres;
mod report;

use std::path::PathBuf;

use clap::Parser;

/// Runs the benchmarks and writes the report.
#[derive(Debug, Parser)]
struct Args {
    /// The release `lienthong` binary to measure.
    #[arg(long, default_value = "target/release/lienthong")]
    lienthong: PathBuf,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Rows in the PostgreSQL backlog.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    /// Rows per source transaction in the backlog.
    #[arg(long, default_value_t = 1_000)]
    rows_per_transaction: i64,
    /// Rate (rows/s) of the steady-state latency run, and its length in seconds.
    #[arg(long, default_value_t = 2_000)]
    steady_rate: u64,
    #[arg(long, default_value_t = 20)]
    steady_seconds: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.lienthong.exists(),
        "{} not found: build it with `cargo build --release -p lienthong`",
        args.lienthong.display()
    );
    let mut report = report::Report::new();
    postgres::run(&args, &mut report).await?;
    std::fs::write(&args.out, report.render())?;
    println!("wrote {}", args.out.display());
    Ok(())
}
