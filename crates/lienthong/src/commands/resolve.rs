//! `lienthong resolve` (the resolver service: gRPC, stream stage, register feed),
//! `lienthong resolve model show|train` and `lienthong reconcile` (batch reconciliation).

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use lienthong_resolve::feed::{Feed, FeedPositions, read_snapshot};
use lienthong_resolve::grpc::{ResolveApi, ServerAccess, bind, serve as serve_grpc};
use lienthong_resolve::index::PopulationIndex;
use lienthong_resolve::matcher::Matcher;
use lienthong_resolve::model::{Model, ModelParams, probability_from_weight};
use lienthong_resolve::reconcile::report::{Language, write_all};
use lienthong_resolve::reconcile::{
    ColumnMapping, InputTable, prepare, read_csv, read_postgres, resolve_all, summarise,
};
use lienthong_resolve::register::{
    LoadReport, RegisterSource, empty_index, load_csv, load_file, load_parquet, load_postgres,
};
use lienthong_resolve::service::{
    ResolveConfig, ResolveMetrics, Resolver, load_model, load_province_map, model_for,
};
use lienthong_resolve::stage::ResolveStage;
use lienthong_resolve::training::{FitSettings, fit};
use lienthong_resolve::values::ProvinceCodes;
use lienthong_resolve::{Field, ProvinceMap};
use lienthong_runtime::database::DatabaseConfig;
use lienthong_runtime::service::ServiceRuntime;
use lienthong_runtime::stage::supervise;

use super::{exit_config, exit_dependency};

/// Loads the index: the snapshot when there is one, else the configured base register.
async fn load_index(
    config: &ResolveConfig,
    databases: &BTreeMap<String, DatabaseConfig>,
    provinces: &ProvinceMap,
) -> anyhow::Result<(PopulationIndex, FeedPositions)> {
    if let Some(path) = &config.snapshot
        && let Some((index, positions)) = read_snapshot(path, provinces)
            .with_context(|| format!("the index snapshot {} is unreadable", path.display()))?
    {
        tracing::info!(snapshot = %path.display(), people = index.len(), ?positions, "index read from its snapshot");
        return Ok((index, positions));
    }
    let started = Instant::now();
    let (index, report) = match &config.register {
        RegisterSource::None => (empty_index(provinces.clone()), LoadReport::default()),
        RegisterSource::Csv {
            path,
            province_codes,
        } => {
            let (path, map, codes) = (path.clone(), provinces.clone(), *province_codes);
            tokio::task::spawn_blocking(move || load_csv(&path, &map, codes)).await??
        }
        RegisterSource::Parquet {
            path,
            province_codes,
        } => {
            let (path, map, codes) = (path.clone(), provinces.clone(), *province_codes);
            tokio::task::spawn_blocking(move || load_parquet(&path, &map, codes)).await??
        }
        RegisterSource::Postgres {
            database,
            query,
            province_codes,
        } => {
            let db = databases.get(database).with_context(|| {
                format!("[resolve.register] names database `{database}`, which [databases] lacks")
            })?;
            load_postgres(db.url.expose(), query, provinces, *province_codes).await?
        }
    };
    report_load(&report, started.elapsed());
    Ok((index, FeedPositions::default()))
}

fn report_load(report: &LoadReport, took: Duration) {
    eprintln!(
        "register: {} people loaded in {:.1} s, {} rows rejected",
        report.loaded,
        took.as_secs_f64(),
        report.rejected
    );
    for problem in &report.problems {
        eprintln!("  rejected {problem}");
    }
    if report.rejected > report.problems.len() as u64 {
        eprintln!(
            "  ... and {} more",
            report.rejected - report.problems.len() as u64
        );
    }
}

/// What `lienthong validate` checks of `[resolve]` when the resolver is configured (a model,
/// a snapshot, a register source or TLS): the TLS files, the province map, the model file, the
/// register extract's columns or the snapshot's readability. `(passed, line)` per check.
pub fn checks(config: &ResolveConfig) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    if let Some(tls) = &config.tls {
        match lienthong_runtime::grpc::check_server_tls(tls) {
            Ok(summary) => out.push((true, format!("tls: {summary}"))),
            Err(e) => out.push((false, format!("tls: {e}"))),
        }
    }
    let configured = config.model.is_some()
        || config.snapshot.is_some()
        || config.register != RegisterSource::None
        || config.tls.is_some();
    if !configured {
        return out;
    }
    match load_province_map(&config.codelists) {
        Ok(map) => out.push((
            true,
            format!("province merger map: {} old codes", map.pairs().count()),
        )),
        Err(e) => out.push((false, format!("province merger map: {e}"))),
    }
    if let Some(path) = &config.model {
        match load_model(path).and_then(|p| {
            Model::new(p).map_err(|source| lienthong_resolve::service::SetupError::Model {
                path: path.clone(),
                source,
            })
        }) {
            Ok(model) => out.push((true, format!("model {}", model.version()))),
            Err(e) => out.push((false, e.to_string())),
        }
    }
    if let Some(path) = &config.snapshot {
        let detail = match std::fs::metadata(path) {
            Ok(m) => (
                true,
                format!("snapshot {} ({} bytes)", path.display(), m.len()),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                true,
                format!(
                    "snapshot {} not written yet: the register source is used",
                    path.display()
                ),
            ),
            Err(e) => (false, format!("snapshot {}: {e}", path.display())),
        };
        out.push(detail);
    }
    let extract = match &config.register {
        RegisterSource::Csv { path, .. } => {
            Some((path, lienthong_resolve::register::check_csv(path)))
        }
        RegisterSource::Parquet { path, .. } => {
            Some((path, lienthong_resolve::register::check_parquet(path)))
        }
        RegisterSource::None | RegisterSource::Postgres { .. } => None,
    };
    match extract {
        Some((path, Ok(()))) => out.push((true, format!("register extract {}", path.display()))),
        Some((path, Err(e))) => {
            out.push((false, format!("register extract {}: {e}", path.display())))
        }
        None => {}
    }
    out
}

/// `lienthong resolve`: gRPC, the stream stage and the register feed in one process.
pub async fn run(file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let service = ServiceRuntime::start(&cfg.telemetry, &cfg.health).await?;
    serve(&cfg, &service, &super::Shared::default()).await
}

/// Runs the resolver with `service`'s telemetry, metrics, health and shutdown until shutdown.
pub async fn serve(
    cfg: &crate::config::LienthongConfig,
    service: &ServiceRuntime,
    _shared: &super::Shared,
) -> anyhow::Result<ExitCode> {
    let resolve = cfg.resolve.clone();
    let provinces = match load_province_map(&resolve.codelists) {
        Ok(map) => map,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit_config());
        }
    };
    let readiness = service.health.component("resolve");
    readiness.not_ready("loading the register");
    let (index, mut positions) = match load_index(&resolve, &cfg.databases, &provinces).await {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(exit_dependency());
        }
    };
    let model = match model_for(&resolve, index.len()) {
        Ok(model) => model,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit_config());
        }
    };
    if resolve.model.is_none() {
        tracing::warn!(
            "no [resolve] model file: using the built-in starting values; train one with `lienthong resolve model train`"
        );
    }
    let matcher = Matcher::new(model, resolve.matcher.clone())?;
    let resolver = Resolver::new(index, matcher, ResolveMetrics::register(&service.metrics));

    let access = ServerAccess::from_config(&resolve);
    if access.callers.is_open() {
        tracing::warn!(
            "[resolve] admits every caller: list allowed_callers or allowed_token_sha256 outside local use"
        );
    }
    if resolve.tls.is_none() {
        tracing::warn!(
            "[resolve] has no tls: register data and tokens travel in the clear; configure tls outside local use"
        );
    }
    let (addr, listener) = bind(resolve.listen).await?;
    println!("grpc listening on {addr}");
    tracing::info!(
        tls = resolve.tls.is_some(),
        allowed_callers = resolve.allowed_callers.len(),
        allowed_tokens = resolve.allowed_token_sha256.len(),
        "resolver gRPC access"
    );
    let shutdown = service.shutdown.clone();
    let grpc = tokio::spawn(serve_grpc(
        ResolveApi::new(resolver.clone(), provinces.clone()),
        listener,
        access,
        Duration::from_millis(resolve.request_timeout_ms),
        shutdown.clone(),
    ));

    let feed = Feed {
        resolver: resolver.clone(),
        kafka: cfg.kafka.clone(),
        kafka_metrics: service.kafka_metrics.clone(),
        topic: resolve.population_topic.clone(),
        provinces: provinces.clone(),
        snapshot: resolve.snapshot.clone(),
        snapshot_every: Duration::from_secs(resolve.snapshot_interval_s.max(1)),
    };
    let feed_readiness = service.health.component("resolve-register");
    let feed_task = {
        let shutdown = shutdown.clone();
        let kafka_metrics = service.kafka_metrics.clone();
        let retry = cfg.retry.clone();
        tokio::spawn(async move {
            let positions = &tokio::sync::Mutex::new(std::mem::take(&mut positions));
            let (feed, stop) = (&feed, &shutdown);
            let readiness = &feed_readiness;
            supervise(
                "resolve-register",
                &retry,
                readiness,
                &kafka_metrics,
                stop,
                move || async move {
                    readiness.ready();
                    feed.run(&mut *positions.lock().await, stop).await
                },
            )
            .await
        })
    };

    let stage = ResolveStage::new(
        resolver,
        provinces,
        resolve,
        &cfg.kafka,
        &cfg.retry,
        service.kafka_metrics.clone(),
        &service.metrics,
        readiness,
    );
    let stage_result = stage.run(shutdown.clone()).await;
    // The stage stops on shutdown or when an operator must act: stop the rest with it.
    shutdown.trigger();
    let mut failed = false;
    if let Err(e) = stage_result {
        eprintln!("error: resolve stage: {e}");
        failed = true;
    }
    match feed_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: register feed: {e}");
            failed = true;
        }
        Err(e) => {
            eprintln!("error: register feed: {e}");
            failed = true;
        }
    }
    match grpc.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            eprintln!("error: gRPC: {e}");
            failed = true;
        }
        Err(e) => {
            eprintln!("error: gRPC: {e}");
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `lienthong resolve model show`: the parameters a data steward can read.
pub fn show_model(file: Option<&Path>, model: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = match model {
        Some(path) => Some(path.to_path_buf()),
        None => crate::config::load(file)?.resolve.model,
    };
    let params = match &path {
        Some(path) => match load_model(path) {
            Ok(params) => params,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(exit_config());
            }
        },
        None => {
            println!(
                "no model file configured ([resolve] model): showing the built-in starting values"
            );
            ModelParams::starting_values("starting-values")
        }
    };
    let model = Model::new(params.clone())?;
    print!("{}", describe_model(&model));
    Ok(ExitCode::SUCCESS)
}

fn describe_model(model: &Model) -> String {
    use std::fmt::Write as _;
    let params = model.params();
    let mut out = String::new();
    let _ = writeln!(out, "model {}", params.model_version);
    let _ = writeln!(
        out,
        "prior λ = {:.3e} (weight {:+.2} bits: a pair agreeing on nothing is the same person with probability {:.2e})",
        params.prior,
        model.prior_weight(),
        probability_from_weight(model.prior_weight())
    );
    for field in Field::ALL {
        let Some(comparison) = params.comparison(field) else {
            continue;
        };
        let _ = writeln!(out, "\n{field}");
        let _ = writeln!(
            out,
            "  {:<24} {:>10} {:>12} {:>9}",
            "level", "m", "u", "weight"
        );
        for (i, level) in comparison.levels.iter().enumerate() {
            let weight = u8::try_from(i).map_or(0.0, |l| model.level_weight(field, l));
            let _ = writeln!(
                out,
                "  {:<24} {:>10.5} {:>12.3e} {:>+9.2}",
                level.level, level.m, level.u, weight
            );
        }
        if let Some(tf) = &comparison.tf_adjustment {
            let _ = writeln!(out, "  term-frequency adjustment: {tf:?}");
        }
    }
    let training = serde_json::to_string_pretty(&params.training).unwrap_or_default();
    let _ = writeln!(out, "\ntraining: {training}");
    out
}

/// Where a batch command gets its register from.
#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    /// Register extract with the register columns: Parquet when the name ends in `.parquet`,
    /// CSV otherwise. Without it, the `[resolve]` snapshot or register of the config file is
    /// used.
    #[arg(long, value_name = "FILE")]
    pub register: Option<PathBuf>,
    /// The code list of the register extract's province codes.
    #[arg(long, value_enum, default_value = "pre2025")]
    pub register_codes: CodesArg,
    /// Code-list directory (for the province merger map); default: the config's
    /// `[resolve] codelists`.
    #[arg(long, value_name = "DIR")]
    pub codelists: Option<PathBuf>,
}

/// Which province code list values come from.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CodesArg {
    Pre2025,
    From2025,
    Auto,
}

impl From<CodesArg> for ProvinceCodes {
    fn from(value: CodesArg) -> Self {
        match value {
            CodesArg::Pre2025 => Self::Pre2025,
            CodesArg::From2025 => Self::From2025,
            CodesArg::Auto => Self::Auto,
        }
    }
}

/// The list to reconcile.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// A CSV export (UTF-8, `,` or `;`).
    #[arg(long, value_name = "FILE", required_unless_present = "input_postgres")]
    pub input: Option<PathBuf>,
    /// Read the list from PostgreSQL instead: a connection URL ...
    #[arg(long, value_name = "URL", requires = "query", conflicts_with = "input")]
    pub input_postgres: Option<String>,
    /// ... and the query whose rows are the list.
    #[arg(long, value_name = "SQL")]
    pub query: Option<String>,
    /// Column mapping (TOML: `full_name = "Họ tên"`, `birth_date = "NS"`, `date_order = "dmy"`,
    /// `province_codes = "auto"`, ...). Unmapped fields are recognised by usual header names.
    #[arg(long, value_name = "FILE")]
    pub columns: Option<PathBuf>,
    /// One mapping as `field=column` (repeatable), over the file's.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
}

fn column_mapping(args: &InputArgs) -> anyhow::Result<ColumnMapping> {
    let mut mapping: ColumnMapping = match &args.columns {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("{} is not a column mapping", path.display()))?
        }
        None => ColumnMapping::default(),
    };
    for pair in &args.map {
        let (field, column) = pair
            .split_once('=')
            .with_context(|| format!("--map {pair}: expected FIELD=COLUMN"))?;
        let column = Some(column.to_string());
        match field.trim() {
            "record_id" => mapping.record_id = column,
            "full_name" => mapping.full_name = column,
            "family_name" => mapping.family_name = column,
            "middle_name" => mapping.middle_name = column,
            "given_name" => mapping.given_name = column,
            "birth_date" => mapping.birth_date = column,
            "sex" => mapping.sex = column,
            "personal_id" => mapping.personal_id = column,
            "birth_province" => mapping.birth_province = column,
            "organisation" => mapping.organisation = column,
            other => anyhow::bail!(
                "--map {other}: fields are record_id, full_name, family_name, middle_name, given_name, birth_date, sex, personal_id, birth_province, organisation"
            ),
        }
    }
    Ok(mapping)
}

async fn read_input(args: &InputArgs) -> anyhow::Result<InputTable> {
    Ok(match (&args.input, &args.input_postgres, &args.query) {
        (Some(path), _, _) => read_csv(path)?,
        (None, Some(url), Some(query)) => read_postgres(url, query).await?,
        _ => anyhow::bail!("give --input FILE, or --input-postgres URL with --query SQL"),
    })
}

/// The province map and index for a batch command.
async fn batch_register(
    cfg: &crate::config::LienthongConfig,
    args: &RegisterArgs,
) -> anyhow::Result<(ProvinceMap, PopulationIndex)> {
    let codelists = args
        .codelists
        .clone()
        .unwrap_or(cfg.resolve.codelists.clone());
    let provinces = load_province_map(&codelists)?;
    let started = Instant::now();
    let index = match &args.register {
        Some(path) => {
            let (path, map, codes) = (
                path.clone(),
                provinces.clone(),
                ProvinceCodes::from(args.register_codes),
            );
            let (index, report) =
                tokio::task::spawn_blocking(move || load_file(&path, &map, codes)).await??;
            report_load(&report, started.elapsed());
            index
        }
        None => {
            load_index(&cfg.resolve, &cfg.databases, &provinces)
                .await?
                .0
        }
    };
    if index.is_empty() {
        anyhow::bail!(
            "the register is empty: give --register FILE, or configure [resolve] register or snapshot"
        );
    }
    Ok((provinces, index))
}

/// Progress on stderr: a bar on a terminal, a line per tenth otherwise.
struct Progress {
    total: usize,
    started: Instant,
    terminal: bool,
    last: std::sync::Mutex<(Instant, usize)>,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            started: Instant::now(),
            terminal: std::io::stderr().is_terminal(),
            last: std::sync::Mutex::new((Instant::now(), 0)),
        }
    }

    fn update(&self, done: usize) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let tenth = (self.total / 10).max(1);
        let due = if self.terminal {
            last.0.elapsed() >= Duration::from_millis(200) || done == self.total
        } else {
            done / tenth > last.1 / tenth || done == self.total
        };
        if !due || done < last.1 {
            return;
        }
        *last = (Instant::now(), done);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = (self.total.saturating_sub(done)) as f64 / rate.max(1e-9);
        let share = done as f64 / self.total.max(1) as f64;
        if self.terminal {
            let filled = (share * 30.0) as usize;
            eprint!(
                "\r[{}{}] {:>5.1}% {done}/{} {:.0} records/s, {:.0} s left   ",
                "#".repeat(filled),
                "-".repeat(30 - filled.min(30)),
                share * 100.0,
                self.total,
                rate,
                eta
            );
            if done == self.total {
                eprintln!();
            }
        } else {
            eprintln!(
                "reconciled {done}/{} ({:.0}%), {:.0} records/s",
                self.total,
                share * 100.0,
                rate
            );
        }
    }
}

/// `lienthong resolve model train`.
pub async fn train_model(
    file: Option<&Path>,
    register: &RegisterArgs,
    input: &InputArgs,
    out: &Path,
    version: Option<&str>,
    sample: usize,
) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(file)?;
    let (provinces, index) = batch_register(&cfg, register).await?;
    let mapping = column_mapping(input)?;
    let table = read_input(input).await?;
    let columns = mapping.detect(&table.headers)?;
    let records: Vec<_> = prepare(&table, &columns, &mapping, &provinces)
        .into_iter()
        .map(|r| r.query)
        .collect();
    let step = (records.len() / sample.max(1)).max(1);
    let training: Vec<_> = records.into_iter().step_by(step).collect();
    let version = version.map_or_else(
        || format!("trained-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
        str::to_owned,
    );
    let started = Instant::now();
    let (params, report) = tokio::task::spawn_blocking(move || {
        fit(&index, &training, &version, &FitSettings::default())
    })
    .await??;
    std::fs::write(out, params.to_json()?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "model {} written to {} in {:.1} s ({} random pairs for u)",
        params.model_version,
        out.display(),
        started.elapsed().as_secs_f64(),
        report.random_pairs
    );
    for (key, pairs, em) in &report.sessions {
        println!(
            "  EM on {pairs} pairs blocked by {key}: {} iterations, converged: {}, share of matches {:.4}",
            em.iterations, em.converged, em.in_block_prior
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What `lienthong reconcile` was asked.
#[derive(Debug)]
pub struct ReconcileRequest<'a> {
    pub config: Option<&'a Path>,
    pub register: &'a RegisterArgs,
    pub input: &'a InputArgs,
    pub model: Option<&'a Path>,
    pub out: &'a Path,
    pub lang: Language,
    pub threads: Option<usize>,
}

/// `lienthong reconcile`.
pub async fn reconcile(request: ReconcileRequest<'_>) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::load(request.config)?;
    let (provinces, index) = batch_register(&cfg, request.register).await?;
    let mapping = column_mapping(request.input)?;
    let table = read_input(request.input).await?;
    let columns = mapping.detect(&table.headers)?;
    let records = prepare(&table, &columns, &mapping, &provinces);
    eprintln!("input: {} records", records.len());
    let model_path = request.model.map(Path::to_path_buf).or(cfg.resolve.model);
    let threads = request.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let out = request.out.to_path_buf();
    let lang = request.lang;
    let matcher_config = cfg.resolve.matcher.clone();
    let summary = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let params = match &model_path {
            Some(path) => load_model(path)?,
            None => {
                eprintln!("no model given: estimating one from the list itself (EM, no labels)");
                let queries: Vec<_> = records
                    .iter()
                    .step_by((records.len() / 20_000).max(1))
                    .map(|r| r.query.clone())
                    .collect();
                match fit(&index, &queries, "estimated-from-input", &FitSettings::default()) {
                    Ok((params, _)) => params,
                    Err(e) => {
                        eprintln!(
                            "warning: the list does not support estimating a model ({e}); using the built-in starting values"
                        );
                        ModelParams::starting_values("starting-values")
                            .with_prior_for_register(index.len() as u64, 0.9)
                    }
                }
            }
        };
        let version = params.model_version.clone();
        let matcher = Matcher::new(Model::new(params)?, matcher_config)?;
        let progress = Progress::new(records.len());
        let started = Instant::now();
        let rows = resolve_all(&index, &matcher, records, threads, &|done| {
            progress.update(done);
        });
        let took = started.elapsed();
        let summary = summarise(&rows);
        let generated = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let files = write_all(&out, &rows, &summary, lang, &version, &generated)?;
        Ok((summary, files, took))
    })
    .await??;
    let (summary, files, took) = summary;
    println!(
        "reconciled {} records in {:.1} s ({:.0} records/s)",
        summary.records,
        took.as_secs_f64(),
        summary.records as f64 / took.as_secs_f64().max(1e-6)
    );
    for (status, n) in &summary.by_status {
        println!("  {status:<28} {n}");
    }
    for file in files {
        println!("report: {}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}
