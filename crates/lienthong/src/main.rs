//! `lienthong`: one binary, a subcommand per service and per operator task.

mod commands;
mod config;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the translator and connectors allocate per record, and it is markedly faster at
/// that than the system allocator (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// lienthong: event-driven integration hub for a ministry's national and sector databases.
///
/// Captures changes from the source databases, translates them into canonical master data,
/// reconciles people against the population register and shares the result with the national
/// platforms, partner ministries and integrators.
#[derive(Debug, Parser)]
#[command(name = "lienthong", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The config file every command takes. Settings are layered: built-in defaults, then this
/// file, then `LIENTHONG__SECTION__KEY` environment variables.
#[derive(Debug, clap::Args)]
struct ConfigArg {
    /// Path of the TOML config file.
    #[arg(long, short = 'c', env = "LIENTHONG_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Capture changes from PostgreSQL sources (logical replication, pgoutput) into
    /// `cdc.<source>.<schema>.<table>` topics: snapshot, then streaming, positions confirmed only
    /// after the broker acknowledged. Runs until SIGINT/SIGTERM.
    SourcePostgres(SourcePostgresArgs),
    /// Capture changes from MariaDB/MySQL sources (row-based binlog, GTID positions) into
    /// `cdc.<source>.<database>.<table>` topics: a consistent snapshot, then streaming from its
    /// binlog position, positions saved only after the broker acknowledged. Runs until
    /// SIGINT/SIGTERM.
    SourceMysql(SourceMysqlArgs),
    /// Capture changes from databases without log access by polling (PostgreSQL,
    /// MySQL/MariaDB, SQLite) into `cdc.<source>.<schema>.<table>` topics: keyset pages by a
    /// cursor column, soft deletes as deletes, a periodic full compare for hard deletes; a
    /// table's cursor is saved only after the broker acknowledged. Runs until SIGINT/SIGTERM.
    SourcePoll(SourcePollArgs),
    /// Translate change events into canonical entities with the mapping files of `[translate]`:
    /// `cdc.*` in, `canonical.<entity>.v1` out, untranslatable records to `dlq.translate`.
    /// Mapping files reload when they change. Runs until SIGINT/SIGTERM.
    Translate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Deliver records to the national data-sharing platforms (NGSP/NDXP, NDOP, LGSP) with the
    /// endpoints and routes of `[sink]`: exactly once in effect (idempotency keys, retries, offsets
    /// committed after the platform's verdict), receipts to `receipts`, refused records to
    /// `dlq.sink`. Runs until SIGINT/SIGTERM.
    Sink {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Resolve people against the population register: the gRPC `ResolveService`, the stream
    /// stage (`canonical.person.v1`, `canonical.civil_servant.v1` → `resolved.*.v1` and the
    /// review topic) and the register feed (`population.v1`) in one process, with `[resolve]`.
    /// Runs until SIGINT/SIGTERM.
    Resolve(ResolveArgs),
    /// Materialise master data in PostgreSQL with `[store]`: the resolved person and civil-servant
    /// topics and the canonical organisation, administrative-unit and social-insurance topics
    /// in, every version kept with its validity interval (deletes as deleted versions),
    /// superseded personal IDs from `population.v1`; written in batches, idempotently (a replay
    /// changes nothing), offsets committed after each batch; unreadable records to `dlq.store`.
    /// Runs until SIGINT/SIGTERM.
    Store {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Project records to partner topics: `resolved.person.v1`, `resolved.civil_servant.v1` and
    /// the canonical organisation, administrative-unit and social-insurance topics in; for every
    /// partner whose policy (`[policy] dir`) enables an entity's topic, the record with only the
    /// granted fields out to `share.<partner>.<entity>.v1`, each delivery audited; unreadable
    /// records to `dlq.share`. Policy files reload when they change. Runs until SIGINT/SIGTERM.
    Share {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Serve the gRPC lookup API to integrators and partners (`[lookup]`): people, civil
    /// servants, administrative units and code lists from the store, identity resolution through
    /// the resolver; callers authenticated by client certificate or token, answers filtered by
    /// their sharing policy, every call audited. Runs until SIGINT/SIGTERM.
    Lookup(LookupArgs),
    /// Run every configured service in one process from one config — connectors, translator,
    /// resolver, sink, store, partner topics, lookup API — sharing one health and metrics
    /// endpoint. For a laptop, the demo and small installations; in production run each
    /// service as its own process. When one service stops with an error the others stop too.
    /// Runs until SIGINT/SIGTERM.
    Dev(DevArgs),
    /// Summarise the quality of the master data in the store against the six criteria (đúng,
    /// đủ, sạch, sống, thống nhất, dùng chung): per entity the share of current records passing
    /// each, how people matched the population register, and the most frequent flags.
    Quality {
        #[command(flatten)]
        config: ConfigArg,
        /// Print the counts as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Partner sharing policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Reconcile (đối soát) a list against the population register — a CSV export or a
    /// PostgreSQL query, any column names — and write a report for officials: CSV (opens in
    /// Excel), JSON, and an HTML summary with charts, in Vietnamese (or English).
    Reconcile(ReconcileArgs),
    /// Generate synthetic data with known truth: a population register (realistic Vietnamese
    /// names, birth dates, places, valid personal IDs, superseded numbers) and a civil-servant
    /// list drawn from it with errors injected at configurable rates, plus the ground truth.
    /// `datagen seed` fills the source databases the shipped mappings read; `datagen workload`
    /// changes them live.
    Datagen(commands::datagen::DatagenArgs),
    /// Run an HTTP server that behaves like the platforms' endpoints (OAuth2 and static tokens,
    /// X-Road headers, body digests, idempotency, SQLite storage, inspection API, fault
    /// injection), for tests, the demo and integrators. Runs until SIGINT/SIGTERM.
    PlatformSim(PlatformSimArgs),
    /// Develop mapping files: try one on sample rows, without Kafka.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Check the configuration and reach every dependency it names (Kafka cluster, databases)
    /// without moving any data. Exit status: 0 all good, 1 a dependency failed, 2 bad config.
    Validate {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create and list Kafka topics with the partitions and configs of `[kafka.topics]`.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Export the protobuf contracts for partners.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// The audit log of lookups and deliveries.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Show what a partner can see: per entity the granted fields, the sensitive fields that
    /// stay masked, the accepted purposes and the partner topics. Exit status: 0 shown, 1 no
    /// such partner, 2 the configuration or a policy file does not load.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// The partner id (the policy file's name without `.toml`).
        #[arg(long, value_name = "ID")]
        partner: String,
        /// Read the policies from this directory instead of `[policy] dir`.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the audit log's hash chain in the `[audit] database` and report the first changed,
    /// deleted or re-linked row. Reads only. Exit status: 0 intact, 1 tampered, 2 the config or
    /// the database failed.
    Verify {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SourcePostgresArgs {
    #[command(subcommand)]
    command: Option<SourcePostgresCommand>,
    #[command(flatten)]
    config: ConfigArg,
    /// Run only these source ids (default: every `[source_postgres.<id>]`).
    #[arg(long = "source", value_name = "ID")]
    sources: Vec<String>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct LookupArgs {
    #[command(subcommand)]
    command: Option<LookupCommand>,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, Subcommand)]
enum LookupCommand {
    /// Call a lookup API once as a partner (token or client certificate) and print the answer
    /// as protobuf JSON: a person, a civil servant or an administrative unit. Exit status: 0
    /// answered, 1 refused or not found (the gRPC status is printed), 2 bad arguments.
    Get(commands::lookup_get::GetArgs),
}

#[derive(Debug, clap::Args)]
struct DevArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Run only these services (each must be configured). Default: every service the config
    /// gives something to do.
    #[arg(long = "service", value_name = "NAME", value_delimiter = ',')]
    services: Vec<commands::dev::Service>,
    /// Leave these services out.
    #[arg(long = "skip", value_name = "NAME", value_delimiter = ',')]
    skip: Vec<commands::dev::Service>,
}

#[derive(Debug, clap::Args)]
struct SourceMysqlArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Run only these source ids (default: every `[source_mysql.<id>]`).
    #[arg(long = "source", value_name = "ID")]
    sources: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct SourcePollArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Run only these source ids (default: every `[source_poll.<id>]`).
    #[arg(long = "source", value_name = "ID")]
    sources: Vec<String>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ResolveArgs {
    #[command(subcommand)]
    command: Option<ResolveCommand>,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, Subcommand)]
enum ResolveCommand {
    /// The resolver's model parameters.
    #[command(subcommand)]
    Model(ModelCommand),
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum ModelCommand {
    /// Print the parameters: prior, m and u per comparison level with the match weight each
    /// level contributes, term-frequency adjustments, and what they were estimated from.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        /// The model file (default: the config's `[resolve] model`).
        #[arg(long, value_name = "FILE")]
        model: Option<PathBuf>,
    },
    /// Estimate the parameters from a list and the register, without labels (u from random
    /// pairs, m by expectation–maximisation), and write them as JSON.
    Train {
        #[command(flatten)]
        config: ConfigArg,
        #[command(flatten)]
        register: commands::resolve::RegisterArgs,
        #[command(flatten)]
        input: commands::resolve::InputArgs,
        /// Where to write the model.
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
        /// Version recorded in the model and in every result it produces.
        #[arg(long, value_name = "NAME")]
        model_version: Option<String>,
        /// Train on at most this many records of the list (an even sample).
        #[arg(long, default_value_t = 20_000)]
        sample: usize,
    },
}

#[derive(Debug, clap::Args)]
struct ReconcileArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    register: commands::resolve::RegisterArgs,
    #[command(flatten)]
    input: commands::resolve::InputArgs,
    /// Model parameters (default: the config's `[resolve] model`, else estimated from the list).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Directory for report.csv, report.json and report.html.
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// Report language: vi or en.
    #[arg(long, default_value = "vi")]
    lang: lienthong_resolve::reconcile::report::Language,
    /// Threads resolving records (default: every core).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct PlatformSimArgs {
    /// The simulator's own TOML file (listen address, database, clients, checks, faults); see
    /// `deploy/local/platform-sim.toml`. Without it: 127.0.0.1:8480, in memory, deny all.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen here instead of the file's `listen`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Store in this SQLite file instead of the file's `database`.
    #[arg(long, value_name = "FILE")]
    database: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum SourcePostgresCommand {
    /// Ask the connector of a source to read tables again (an incremental snapshot) while
    /// streaming continues. The request is written to the source's WAL, so a connector that is
    /// down picks it up when it resumes.
    Snapshot {
        #[command(flatten)]
        config: ConfigArg,
        /// The source id.
        #[arg(long, value_name = "ID")]
        source: String,
        /// Tables to read again, as `schema.table`.
        #[arg(long = "table", value_name = "SCHEMA.TABLE", required = true)]
        tables: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum MappingCommand {
    /// Translate sample rows with a mapping file and show each canonical record with its
    /// quality findings, or why the row would be dead-lettered. Exit status: 0 every row
    /// translated, 1 some row rejected, 2 the mapping, code lists or sample file unreadable.
    Test {
        /// The mapping file (TOML).
        #[arg(long, value_name = "FILE")]
        mapping: PathBuf,
        /// Sample rows: `.json` (an array of row objects, one object, or one object per line)
        /// or `.csv` (a header line of column names; every cell text, empty cells NULL).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Code-list directory (default: `codelists/` beside the mapping's directory tree, else
        /// `./schemas/codelists`).
        #[arg(long, value_name = "DIR")]
        codelists: Option<PathBuf>,
        /// What the rows stand for.
        #[arg(long, value_enum, default_value = "read")]
        op: commands::mapping::SampleOperation,
        /// Key columns, when the mapping's `source.key` does not name them.
        #[arg(long = "key", value_name = "COLUMN")]
        key: Vec<String>,
        /// Evaluate as of this instant (RFC 3339; default now): freshness checks depend on it.
        #[arg(long, value_name = "INSTANT")]
        at: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: commands::mapping::OutputFormat,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults + file + environment) as TOML, secrets hidden.
    Show {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the JSON Schema of the config file.
    Schema,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create the named topics if they do not exist (idempotent).
    Ensure {
        #[command(flatten)]
        config: ConfigArg,
        /// Topic names.
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// List the cluster's topics with their partition counts.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Debug, Subcommand)]
enum SchemaCommand {
    /// Write the FileDescriptorSet of every lienthong.v1 message, for
    /// `protoc --decode=lienthong.v1.ChangeEvent --descriptor_set_in=FILE`.
    DescriptorSet {
        /// Output file.
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::SourcePostgres(args) => match args.command {
            None => {
                commands::source_postgres::run(args.config.config.as_deref(), &args.sources).await
            }
            Some(SourcePostgresCommand::Snapshot {
                config,
                source,
                tables,
            }) => {
                commands::source_postgres::request_snapshot(
                    config.config.as_deref(),
                    &source,
                    &tables,
                )
                .await
            }
        },
        Command::SourceMysql(args) => {
            commands::source_mysql::run(args.config.config.as_deref(), &args.sources).await
        }
        Command::SourcePoll(args) => {
            commands::source_poll::run(args.config.config.as_deref(), &args.sources).await
        }
        Command::Dev(args) => {
            commands::dev::run(args.config.config.as_deref(), &args.services, &args.skip).await
        }
        Command::Quality { config, json } => {
            commands::quality::run(config.config.as_deref(), json).await
        }
        Command::Translate { config } => commands::translate::run(config.config.as_deref()).await,
        Command::Sink { config } => commands::sink::run(config.config.as_deref()).await,
        Command::Share { config } => commands::share::run(config.config.as_deref()).await,
        Command::Store { config } => commands::store::run(config.config.as_deref()).await,
        Command::Lookup(args) => match args.command {
            None => commands::lookup::run(args.config.config.as_deref()).await,
            Some(LookupCommand::Get(get)) => commands::lookup_get::run(get).await,
        },
        Command::Policy(PolicyCommand::Check {
            config,
            partner,
            dir,
        }) => commands::policy::check(config.config.as_deref(), dir.as_deref(), &partner),
        Command::Resolve(args) => match args.command {
            None => commands::resolve::run(args.config.config.as_deref()).await,
            Some(ResolveCommand::Model(ModelCommand::Show { config, model })) => {
                commands::resolve::show_model(config.config.as_deref(), model.as_deref())
            }
            Some(ResolveCommand::Model(ModelCommand::Train {
                config,
                register,
                input,
                out,
                model_version,
                sample,
            })) => {
                commands::resolve::train_model(
                    config.config.as_deref(),
                    &register,
                    &input,
                    &out,
                    model_version.as_deref(),
                    sample,
                )
                .await
            }
        },
        Command::Datagen(args) => commands::datagen::run(args).await,
        Command::Reconcile(args) => {
            commands::resolve::reconcile(commands::resolve::ReconcileRequest {
                config: args.config.config.as_deref(),
                register: &args.register,
                input: &args.input,
                model: args.model.as_deref(),
                out: &args.out,
                lang: args.lang,
                threads: args.threads,
            })
            .await
        }
        Command::PlatformSim(args) => {
            commands::platform_sim::run(
                args.config.as_deref(),
                args.listen,
                args.database.as_deref(),
            )
            .await
        }
        Command::Mapping(MappingCommand::Test {
            mapping,
            input,
            codelists,
            op,
            key,
            at,
            format,
        }) => commands::mapping::test(&commands::mapping::TestRequest {
            mapping: &mapping,
            input: &input,
            codelists: codelists.as_deref(),
            operation: op,
            key_columns: &key,
            at: at.as_deref(),
            format,
        }),
        Command::Validate { config } => commands::validate::run(config.config.as_deref()).await,
        Command::Audit(AuditCommand::Verify { config }) => {
            commands::audit::verify(config.config.as_deref()).await
        }
        Command::Config(ConfigCommand::Show { config }) => {
            commands::config::show(config.config.as_deref())
        }
        Command::Config(ConfigCommand::Schema) => commands::config::schema(),
        Command::Topics(TopicsCommand::Ensure { config, topics }) => {
            commands::topics::ensure(config.config.as_deref(), &topics).await
        }
        Command::Topics(TopicsCommand::List { config }) => {
            commands::topics::list(config.config.as_deref()).await
        }
        Command::Schema(SchemaCommand::DescriptorSet { out }) => {
            commands::schema::descriptor_set(&out)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            commands::exit_config()
        }
    }
}
