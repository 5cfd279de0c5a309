//! `lienthong datagen`: synthetic data with known truth, for the resolver's tests, benchmarks
//! and the demo.
//!
//! | command | what |
//! |---|---|
//! | `lienthong datagen --out DIR` | a population register and a civil-servant list as CSV files, with the truth |
//! | `lienthong datagen seed` | the source databases the shipped mappings read: `public.ho_so_can_bo` in PostgreSQL, `QUA_TRINH_THAM_GIA` in MariaDB, people shared with a register written as CSV, errors and defects injected, the truth in `truth.csv` |
//! | `lienthong datagen workload` | a live, rate-limited workload of changes against those tables; progress on standard error, a JSON summary on standard output |

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use lienthong_datagen::db::{self, DbError};
use lienthong_datagen::output::{CIVIL_SERVANTS_FILE, REGISTER_FILE, SUMMARY_FILE, TRUTH_FILE};
use lienthong_datagen::sources::{civil_service, social_insurance};
use lienthong_datagen::workload::{self, Report, WorkloadError, WorkloadOptions, WorkloadTargets};
use lienthong_datagen::{
    DatagenOptions, Date, DefectRates, ErrorKind, Rates, RegisterOptions, SourceOptions,
    SourceSummary, Summary,
};
use lienthong_runtime::Shutdown;

use super::{exit_config, exit_dependency};

/// `lienthong datagen`: without a subcommand, the CSV files of a register and a civil-servant
/// list.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DatagenArgs {
    #[command(subcommand)]
    pub command: Option<DatagenCommand>,
    #[command(flatten)]
    pub files: FilesArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum DatagenCommand {
    /// Create and fill the source databases the shipped mapping files read: the civil-servant
    /// database (PostgreSQL, public.ho_so_can_bo) and the social-security database (MariaDB,
    /// QUA_TRINH_THAM_GIA), drawn from a population register written as register.csv, with
    /// errors and defects injected and the truth of every row in truth.csv. Databases that do
    /// not exist are created; tables are created if missing and must be empty.
    Seed(SeedArgs),
    /// Apply a live workload of changes to seeded tables: hires, promotions, transfers,
    /// corrections, retirements, removals, new contribution periods, some with errors; one
    /// transaction per change, at a precise rate, until --changes, --duration or SIGINT/SIGTERM.
    /// Progress goes to standard error, a JSON summary line to standard output.
    Workload(WorkloadArgs),
}

/// The CSV files.
#[derive(Debug, clap::Args)]
pub struct FilesArgs {
    /// Directory to write register.csv, civil_servants.csv, truth.csv and datagen.json into
    /// (created if missing; existing files are replaced).
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// People in the register.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub people: u64,
    /// Rows in the civil-servant list (people absent from the register and duplicates
    /// included).
    #[arg(long = "civil-servants", value_name = "N", default_value_t = 10_000)]
    pub civil_servants: usize,
    /// The same seed gives the same files.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Error rates (TOML: `typo = 0.05`, one line per error kind); kinds it leaves out keep
    /// their defaults.
    #[arg(long, value_name = "FILE")]
    pub rates: Option<PathBuf>,
    /// The day the civil-servant list describes: its people are 18–65 and alive on it.
    #[arg(
        long = "reference-date",
        value_name = "YYYY-MM-DD",
        default_value = "2026-01-01"
    )]
    pub reference_date: Date,
}

/// The databases to seed or change (at least one).
#[derive(Debug, clap::Args)]
#[group(id = "databases", required = true, multiple = true)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the civil-servant database (table public.ho_so_can_bo), e.g.
    /// postgres://user:password@host:5432/csdl_cbccvc.
    #[arg(
        long,
        value_name = "URL",
        env = "LIENTHONG_DATAGEN_POSTGRES",
        hide_env_values = true
    )]
    pub postgres: Option<String>,
    /// MariaDB/MySQL URL of the social-security database (table QUA_TRINH_THAM_GIA), e.g.
    /// mysql://user:password@host:3306/bhxh (the shipped mapping reads the database `bhxh`).
    #[arg(
        long,
        value_name = "URL",
        env = "LIENTHONG_DATAGEN_MARIADB",
        hide_env_values = true
    )]
    pub mariadb: Option<String>,
}

/// How people and their errors are made: the seed command's choices, which the workload must
/// repeat to know the register.
#[derive(Debug, clap::Args)]
pub struct GenerationArgs {
    /// People in the register (the workload: as many as the tables were seeded with).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub people: u64,
    /// The same seed gives the same register and rows (the workload: the seed's, so new people
    /// come from the same register).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Person-level error rates (TOML: `typo = 0.05`); kinds it leaves out keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub rates: Option<PathBuf>,
    /// Defect rates (TOML: `invalid_id = 0.01`, kinds: invalid_id, vni, unknown_code,
    /// impossible_date, partial_birth_date, unreadable_period, invalid_insurance_number);
    /// kinds it leaves out keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub defects: Option<PathBuf>,
    /// No person-level errors and no defects at all (overrides --rates and --defects).
    #[arg(long = "no-errors")]
    pub no_errors: bool,
    /// The day the data describes: people are 18–65 and alive on it, histories end with it.
    #[arg(
        long = "reference-date",
        value_name = "YYYY-MM-DD",
        default_value = "2026-01-01"
    )]
    pub reference_date: Date,
}

#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub databases: DatabaseArgs,
    /// Rows of ho_so_can_bo (civil-servant files; duplicates and people absent from the
    /// register included).
    #[arg(long = "civil-servants", value_name = "N", default_value_t = 10_000)]
    pub civil_servants: usize,
    /// Participants of QUA_TRINH_THAM_GIA, each with one to four contribution periods (rows).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub insured: usize,
    #[command(flatten)]
    pub generation: GenerationArgs,
    /// Directory to write register.csv, truth.csv and datagen.json into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Drop and recreate tables that already exist.
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, clap::Args)]
pub struct WorkloadArgs {
    #[command(flatten)]
    pub databases: DatabaseArgs,
    /// Changes (transactions) per second.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 50.0)]
    pub rate: f64,
    /// Stop after this long: 90, 90s, 2m, 1h30m, 500ms.
    #[arg(long, value_name = "DURATION", value_parser = workload::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many committed changes.
    #[arg(long, value_name = "N")]
    pub changes: Option<u64>,
    /// Share of changes made to the civil-servant table when both databases are given.
    #[arg(
        long = "civil-service-share",
        value_name = "SHARE",
        default_value_t = 0.5
    )]
    pub civil_service_share: f64,
    #[command(flatten)]
    pub generation: GenerationArgs,
}

pub async fn run(args: DatagenArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => run_files(&args.files),
        Some(DatagenCommand::Seed(seed)) => run_seed(&seed).await,
        Some(DatagenCommand::Workload(w)) => run_workload(&w).await,
    }
}

fn read_rates(path: Option<&Path>) -> anyhow::Result<Rates> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(Rates::from_toml(&text).with_context(|| format!("in {}", path.display()))?)
        }
        None => Ok(Rates::default()),
    }
}

fn read_defects(path: Option<&Path>) -> anyhow::Result<DefectRates> {
    match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok(DefectRates::from_toml(&text).with_context(|| format!("in {}", path.display()))?)
        }
        None => Ok(DefectRates::default()),
    }
}

impl GenerationArgs {
    fn rates(&self) -> anyhow::Result<(Rates, DefectRates)> {
        if self.no_errors {
            return Ok((Rates::none(), DefectRates::none()));
        }
        Ok((
            read_rates(self.rates.as_deref())?,
            read_defects(self.defects.as_deref())?,
        ))
    }
}

/// The CSV files of the register and the civil-servant list.
pub fn run_files(args: &FilesArgs) -> anyhow::Result<ExitCode> {
    let out = args
        .out
        .as_deref()
        .context("--out DIR is required: where to write the files")?;
    let options = DatagenOptions {
        people: args.people,
        civil_servants: args.civil_servants,
        seed: args.seed,
        reference_date: args.reference_date,
        rates: read_rates(args.rates.as_deref())?,
        register: RegisterOptions::default(),
    };
    let started = Instant::now();
    let summary = lienthong_datagen::generate(&options, out)?;
    print!("{}", report(&summary, out));
    println!("done in {:.1?}", started.elapsed());
    Ok(ExitCode::SUCCESS)
}

/// What was written, file by file, and the list's rows per error kind.
fn report(summary: &Summary, out: &Path) -> String {
    let file = |name: &str| out.join(name).display().to_string();
    let register = &summary.register;
    let list = &summary.civil_servants;
    let mut text = format!(
        "{}: {} people ({} with a superseded number, {} deceased, {} aged 18–65 on {})\n",
        file(REGISTER_FILE),
        register.people,
        register.with_superseded_id,
        register.deceased,
        register.eligible,
        summary.reference_date,
    );
    text.push_str(&format!(
        "{}: {} rows ({} of register people, {} not in the register, {} duplicates, {} without errors)\n",
        file(CIVIL_SERVANTS_FILE),
        list.rows,
        list.in_register,
        list.not_in_register,
        list.duplicates,
        list.clean,
    ));
    text.push_str(&format!(
        "{}: the person and errors of every row\n{}: seed {}, rates and counts\n",
        file(TRUTH_FILE),
        file(SUMMARY_FILE),
        summary.seed,
    ));
    text.push_str("rows per error kind (rate):\n");
    for kind in ErrorKind::ALL {
        let rows = summary
            .errors
            .get(kind.as_str())
            .copied()
            .unwrap_or_default();
        let rate = summary.rates.rate(kind);
        if rows > 0 || rate > 0.0 {
            text.push_str(&format!("  {kind:<24}{rows:>9}  ({rate})\n"));
        }
    }
    text
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A database problem: said on standard error, exit status 1.
fn database_failure(e: &DbError) -> ExitCode {
    eprintln!("error: {e}");
    exit_dependency()
}

async fn run_seed(args: &SeedArgs) -> anyhow::Result<ExitCode> {
    let (rates, defects) = args.generation.rates()?;
    let options = SourceOptions {
        people: args.generation.people,
        // A table that is not seeded gets no rows, in the databases or in the truth.
        civil_servants: if args.databases.postgres.is_some() {
            args.civil_servants
        } else {
            0
        },
        insured: if args.databases.mariadb.is_some() {
            args.insured
        } else {
            0
        },
        seed: args.generation.seed,
        reference_date: args.generation.reference_date,
        rates,
        defects,
        now: unix_now(),
        ..SourceOptions::default()
    };
    options.validate()?;

    // Reach and prepare both databases before generating anything.
    let mut postgres = None;
    if let Some(url) = &args.databases.postgres {
        let target = db::redact(url);
        let prepared = async {
            let mut conn = db::postgres::connect(url, true).await?;
            db::postgres::prepare_table(&mut conn, &target, args.replace).await?;
            Ok::<_, DbError>(conn)
        }
        .await;
        match prepared {
            Ok(conn) => postgres = Some((conn, target)),
            Err(e) => return Ok(database_failure(&e)),
        }
    }
    let mut mariadb = None;
    if let Some(url) = &args.databases.mariadb {
        let target = db::redact(url);
        let prepared = async {
            let mut conn = db::mariadb::connect(url, true).await?;
            db::mariadb::prepare_table(&mut conn, &target, args.replace).await?;
            Ok::<_, DbError>(conn)
        }
        .await;
        match prepared {
            Ok(conn) => mariadb = Some((conn, target)),
            Err(e) => return Ok(database_failure(&e)),
        }
    }

    let started = Instant::now();
    let (plan, summary) = lienthong_datagen::generate_sources(&options, &args.out)?;
    println!(
        "generated in {:.1?}: {} register people, {} civil-servant files, {} contribution periods of {} participants",
        started.elapsed(),
        plan.register.people,
        plan.civil_servants.len(),
        plan.social_insurance.len(),
        plan.participants
    );
    if let Some((conn, target)) = postgres.as_mut() {
        let started = Instant::now();
        let loaded = match db::postgres::load(
            conn,
            target,
            plan.civil_servants.iter().map(|g| &g.row),
        )
        .await
        {
            Ok(n) => n,
            Err(e) => return Ok(database_failure(&e)),
        };
        let elapsed = started.elapsed();
        println!(
            "{target}: {} rows into {} in {:.1?} ({:.0} rows/s)",
            loaded,
            db::postgres::qualified_table(),
            elapsed,
            loaded as f64 / elapsed.as_secs_f64().max(1e-6)
        );
    }
    if let Some((conn, target)) = mariadb.as_mut() {
        let started = Instant::now();
        let loaded =
            match db::mariadb::load(conn, target, plan.social_insurance.iter().map(|g| &g.row))
                .await
            {
                Ok(n) => n,
                Err(e) => return Ok(database_failure(&e)),
            };
        let elapsed = started.elapsed();
        println!(
            "{target}: {} rows into {} in {:.1?} ({:.0} rows/s)",
            loaded,
            social_insurance::TABLE,
            elapsed,
            loaded as f64 / elapsed.as_secs_f64().max(1e-6)
        );
    }
    print!("{}", seed_report(&summary, &args.out));
    Ok(ExitCode::SUCCESS)
}

/// The files and, per table, its rows, errors, defects and expected findings.
fn seed_report(summary: &SourceSummary, out: &Path) -> String {
    let file = |name: &str| out.join(name).display().to_string();
    let mut text = format!(
        "{}: {} people ({} with a superseded number, {} deceased, {} aged 18–65 on {})\n{}: the record id, person, errors, expected findings and outcome of every row\n{}: options, rates and counts\n",
        file(REGISTER_FILE),
        summary.register.people,
        summary.register.with_superseded_id,
        summary.register.deceased,
        summary.register.eligible,
        summary.reference_date,
        file(TRUTH_FILE),
        file(SUMMARY_FILE),
    );
    for (table, counts) in summary.tables.iter().filter(|(_, c)| c.rows > 0) {
        text.push_str(&format!(
            "{table} (source {}, schema {}): {} rows of {} people ({} not in the register, {} duplicates, {} clean, {} to be dead-lettered)\n",
            counts.source_id,
            counts.schema,
            counts.rows,
            counts.people,
            counts.not_in_register,
            counts.duplicates,
            counts.clean,
            counts.dead_lettered,
        ));
        let errors: Vec<String> = counts
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        text.push_str(&format!("  errors and defects: {}\n", errors.join(", ")));
        let findings: Vec<String> = counts
            .findings
            .iter()
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        text.push_str(&format!(
            "  findings the mapping must report: {}\n",
            findings.join(", ")
        ));
    }
    text.push_str(&format!(
        "connectors: PostgreSQL source id {} (schema {}), MariaDB source id {} (database {}), as the shipped mappings name them\n",
        civil_service::SOURCE_ID,
        civil_service::SCHEMA,
        social_insurance::SOURCE_ID,
        social_insurance::SCHEMA,
    ));
    text
}

async fn run_workload(args: &WorkloadArgs) -> anyhow::Result<ExitCode> {
    let (rates, defects) = args.generation.rates()?;
    let options = WorkloadOptions {
        rate: args.rate,
        changes: args.changes,
        duration: args.duration,
        seed: args.generation.seed,
        people: args.generation.people,
        register: RegisterOptions::default(),
        reference_date: args.generation.reference_date,
        rates,
        defects,
        civil_service_share: args.civil_service_share,
        progress_every: Duration::from_secs(1),
    };
    let targets = WorkloadTargets {
        postgres: args.databases.postgres.clone(),
        mariadb: args.databases.mariadb.clone(),
    };
    let shown: Vec<String> = [&targets.postgres, &targets.mariadb]
        .into_iter()
        .flatten()
        .map(|url| db::redact(url))
        .collect();
    eprintln!(
        "workload: {} changes/s against {}{}; SIGINT or SIGTERM stops it",
        args.rate,
        shown.join(" and "),
        match (args.changes, args.duration) {
            (Some(n), Some(d)) => format!(", {n} changes or {d:?}"),
            (Some(n), None) => format!(", {n} changes"),
            (None, Some(d)) => format!(", for {d:?}"),
            (None, None) => String::new(),
        }
    );
    let shutdown = Shutdown::on_signals()?;
    let stop = shutdown.clone();
    let outcome = workload::run(
        &options,
        &targets,
        async move { stop.cancelled().await },
        |report| match report {
            Report::Progress {
                changes,
                elapsed,
                recent_rate,
            } => eprintln!(
                "workload: {changes} changes in {:.1} s ({recent_rate:.1}/s)",
                elapsed.as_secs_f64()
            ),
            Report::Warning(message) => eprintln!("workload: warning: {message}"),
        },
    )
    .await;
    match outcome {
        Ok(summary) => {
            eprintln!(
                "workload: stopped ({:?}): {} changes in {:.1} s ({:.1}/s), {} failed, {} uncertain",
                summary.stopped_by,
                summary.changes,
                summary.elapsed_seconds,
                summary.rate,
                summary.failed,
                summary.uncertain
            );
            println!("{}", serde_json::to_string(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(WorkloadError::Database(e)) => Ok(database_failure(&e)),
        Err(e @ WorkloadError::Table { .. }) => {
            eprintln!("error: {e}");
            Ok(exit_dependency())
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_config())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: DatagenArgs,
    }

    #[test]
    fn defaults_and_a_rates_file() {
        let cli = Cli::try_parse_from(["datagen", "--out", "x"]).unwrap();
        assert!(cli.args.command.is_none());
        assert_eq!(cli.args.files.people, 100_000);
        assert_eq!(cli.args.files.civil_servants, 10_000);
        assert_eq!(cli.args.files.seed, 2026);
        assert_eq!(cli.args.files.reference_date.to_string(), "2026-01-01");
        assert!(
            Cli::try_parse_from(["datagen"]).is_err(),
            "--out is required"
        );
        assert!(
            Cli::try_parse_from(["datagen", "--out", "x", "--reference-date", "1/1/2026"]).is_err()
        );

        let dir = std::env::temp_dir().join(format!("lienthong-datagen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rates = dir.join("rates.toml");
        std::fs::write(&rates, "typo = 0.5\nmissing_sex = 0.2\n").unwrap();
        let out = dir.join("out");
        let cli = Cli::try_parse_from([
            "datagen",
            "--out",
            out.to_str().unwrap(),
            "--people",
            "3000",
            "--civil-servants",
            "200",
            "--rates",
            rates.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(run_files(&cli.args.files).unwrap(), ExitCode::SUCCESS);
        let summary: Summary =
            serde_json::from_slice(&std::fs::read(out.join(SUMMARY_FILE)).unwrap()).unwrap();
        assert_eq!(summary.rates.typo, 0.5);
        assert_eq!(summary.rates.missing_sex, 0.2);
        assert_eq!(summary.register.people, 3000);
        assert!(summary.errors["missing_sex"] > 0);
        let text = report(&summary, &out);
        assert!(text.contains("3000 people"), "{text}");
        assert!(text.contains("missing_sex"), "{text}");

        std::fs::write(&rates, "typos = 0.5\n").unwrap();
        assert!(
            run_files(&cli.args.files).is_err(),
            "unknown kinds are refused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn seed_and_workload_take_their_own_options() {
        let cli = Cli::try_parse_from([
            "datagen",
            "seed",
            "--postgres",
            "postgres://u:p@h/db",
            "--insured",
            "5",
            "--out",
            "d",
        ])
        .unwrap();
        let Some(DatagenCommand::Seed(seed)) = cli.args.command else {
            panic!("a seed command");
        };
        assert_eq!(seed.insured, 5);
        assert_eq!(seed.civil_servants, 10_000);
        assert_eq!(seed.generation.people, 100_000);
        assert_eq!(seed.databases.mariadb, None);
        assert!(!seed.replace);
        // A database is needed, and --out.
        assert!(Cli::try_parse_from(["datagen", "seed", "--out", "d"]).is_err());
        assert!(Cli::try_parse_from(["datagen", "seed", "--mariadb", "mysql://h/b"]).is_err());
        // The list's options belong to the list.
        assert!(
            Cli::try_parse_from(["datagen", "--out", "x", "seed", "--mariadb", "mysql://h/b"])
                .is_err()
        );

        let cli = Cli::try_parse_from([
            "datagen",
            "workload",
            "--mariadb",
            "mysql://h/b",
            "--rate",
            "120",
            "--duration",
            "1m30s",
            "--seed",
            "7",
        ])
        .unwrap();
        let Some(DatagenCommand::Workload(w)) = cli.args.command else {
            panic!("a workload command");
        };
        assert_eq!(w.rate, 120.0);
        assert_eq!(w.duration, Some(Duration::from_secs(90)));
        assert_eq!(w.changes, None);
        assert_eq!(w.generation.seed, 7);
        assert!(
            Cli::try_parse_from([
                "datagen",
                "workload",
                "--mariadb",
                "m://h/b",
                "--duration",
                "5x"
            ])
            .is_err()
        );
    }

    #[test]
    fn no_errors_means_none_of_either_kind() {
        let cli = Cli::try_parse_from([
            "datagen",
            "seed",
            "--postgres",
            "postgres://h/db",
            "--out",
            "d",
            "--no-errors",
        ])
        .unwrap();
        let Some(DatagenCommand::Seed(seed)) = cli.args.command else {
            panic!("a seed command");
        };
        let (rates, defects) = seed.generation.rates().unwrap();
        assert_eq!((rates, defects), (Rates::none(), DefectRates::none()));
    }
}
