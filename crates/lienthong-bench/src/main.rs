//! `lienthong-bench`: throughput and latency of lienthong's stages against the local stack,
//! each beside the ceiling that bounds it, measured in the same run. Writes BENCHMARKS.md.
//!
//! Speed targets live here, never in tests: numbers depend on the machine.

mod e2e;
mod lookup;
mod mysql;
mod poll;
mod postgres;
mod report;
mod resolve;
mod service;
mod sink;
mod translate;

use std::path::PathBuf;

use clap::Parser;

/// The allocator of the `lienthong` binary, so in-process measurements match it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the benchmarks and writes the report.
#[derive(Debug, Parser)]
struct Args {
    /// The release `lienthong` binary to measure.
    #[arg(long, default_value = "target/release/lienthong")]
    lienthong: PathBuf,
    /// Where to write the report.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Rows in the PostgreSQL and MariaDB backlogs.
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
    /// Change events in the translator benchmark.
    #[arg(long, default_value_t = 200_000)]
    translate_records: i64,
    /// Records in the HTTP sink benchmark, its lanes and its batch size.
    #[arg(long, default_value_t = 200_000)]
    sink_records: i64,
    #[arg(long, default_value_t = 8)]
    sink_lanes: usize,
    #[arg(long, default_value_t = 500)]
    sink_batch: usize,
    /// People in the resolver benchmark's register.
    #[arg(long, default_value_t = 10_000_000)]
    resolve_people: u64,
    /// Rows in the resolver benchmark's list (reconciled in one batch).
    #[arg(long, default_value_t = 1_000_000)]
    resolve_records: usize,
    /// gRPC requests per second in the resolver benchmark.
    #[arg(long, default_value_t = 1_000)]
    resolve_grpc_rate: u64,
    #[arg(long, default_value_t = 20)]
    resolve_grpc_seconds: u64,
    /// Civil servants stored for the lookup benchmark (kept in its database between runs).
    #[arg(long, default_value_t = 1_000_000)]
    lookup_civil_servants: u64,
    /// Lookup calls per second, and for how many seconds.
    #[arg(long, default_value_t = 2_000)]
    lookup_rate: u64,
    #[arg(long, default_value_t = 30)]
    lookup_seconds: u64,
    /// End to end: changes per second of the latency run, and its length in seconds.
    #[arg(long, default_value_t = 1_000)]
    e2e_rate: u64,
    #[arg(long, default_value_t = 30)]
    e2e_seconds: u64,
    /// End to end: changes in the backlog drained to find the maximum sustained rate.
    #[arg(long, default_value_t = 100_000)]
    e2e_backlog: i64,
    /// End to end: civil-servant files seeded as templates of the inserted rows.
    #[arg(long, default_value_t = 2_000)]
    e2e_templates: u64,
    /// Run only these benchmarks (default: all); repeat for several.
    #[arg(long = "only", value_enum, value_name = "BENCH")]
    only: Vec<Bench>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Bench {
    /// PostgreSQL connector: backlog drain, ceilings, latency (needs the local stack).
    Postgres,
    /// MariaDB/MySQL connector: binlog backlog drain, ceilings (needs the local stack).
    Mysql,
    /// Polling connector: rows read into the broker per second (needs the local stack).
    Poll,
    /// Translator per-core rate (no broker or database).
    Translate,
    /// HTTP sink: records delivered per second to the platform simulator, latency.
    Sink,
    /// Population-ID resolver: register scale, precision/recall, batch and gRPC rates.
    Resolve,
    /// gRPC lookup API: latency at a fixed rate over stored civil servants (needs the local
    /// stack's PostgreSQL).
    Lookup,
    /// End to end: source commit → platform accepted through `lienthong dev`, p50/p99 at a
    /// fixed rate, maximum sustained rate, raw broker ceiling (needs the local stack).
    EndToEnd,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.lienthong.exists(),
        "{} not found: build it with `cargo build --release -p lienthong`",
        args.lienthong.display()
    );
    let selected = |bench| args.only.is_empty() || args.only.contains(&bench);
    let mut report = report::Report::new();
    if selected(Bench::Postgres) {
        postgres::run(&args, &mut report).await?;
    }
    if selected(Bench::Mysql) {
        mysql::run(&args, &mut report).await?;
    }
    if selected(Bench::Poll) {
        poll::run(&args, &mut report).await?;
    }
    if selected(Bench::Translate) {
        translate::run(
            &translate::schemas_dir()?,
            args.translate_records,
            &mut report,
        )?;
    }
    if selected(Bench::Sink) {
        sink::run(&args, &mut report).await?;
    }
    if selected(Bench::Resolve) {
        resolve::run(
            args.resolve_people,
            args.resolve_records,
            args.resolve_grpc_rate,
            args.resolve_grpc_seconds,
            &mut report,
        )
        .await?;
    }
    if selected(Bench::Lookup) {
        lookup::run(&args, &mut report).await?;
    }
    if selected(Bench::EndToEnd) {
        e2e::run(&args, &mut report).await?;
    }
    let previous = std::fs::read_to_string(&args.out).ok();
    std::fs::write(&args.out, report.render(previous.as_deref()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
