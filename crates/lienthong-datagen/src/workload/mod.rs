//! A live workload of realistic changes against the seeded source tables, at a precise rate.
//!
//! | table | changes (kind names of the summary) |
//! |---|---|
//! | `ho_so_can_bo` | `hire` (insert), `promotion` (a salary step or the next rank), `transfer` (another organisation), `correction` (a superseded ID number, a name or a birth date set to the register's), `retirement` and `resignation` (status updates), `removal` (a file deleted) |
//! | `QUA_TRINH_THAM_GIA` | `enrolment` (a new participant's first period), `salary_change` and `employer_change` (the open period closed and a new one opened, or the open period updated when it began this month), `correction` (every row of a participant), `stop` (the open period closed), `removal` (a period deleted) |
//!
//! Each change is one transaction. Hires and enrolments are new people of the register (some
//! absent from it), stated with errors and defects at the seed's rates, and a share of
//! enrolments are people just hired as civil servants. Corrections look people up in the
//! register, as a data steward does.
//!
//! A row is changed at most once per run (new rows are never changed again), so the counts of
//! the summary are exactly what a comparison of the tables before and after shows: rows
//! inserted, rows updated, rows deleted. When no unchanged row is left for a kind, the change
//! becomes a hire or an enrolment.
//!
//! The register is made again from its seed and size (the seed command's), so corrections and
//! hires know who is who without reading any file.

pub mod bucket;
mod civil_service;
mod social_insurance;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::DatagenError;
use crate::civil_servants::{DEFAULT_REFERENCE_DATE, is_eligible};
use crate::date::Date;
use crate::db::DbError;
use crate::errors::{ErrorKind, Rates};
use crate::noise::{Noise, StatedPerson};
use crate::register::{Person, Register, RegisterOptions};
use crate::sources::defects::DefectRates;
use bucket::TokenBucket;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    /// Changes per second.
    pub rate: f64,
    /// Stop after this many committed changes.
    pub changes: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    pub seed: u64,
    /// The register the tables were seeded from: size, options and the day it describes.
    pub people: u64,
    pub register: RegisterOptions,
    pub reference_date: Date,
    /// Errors and defects of new people's rows.
    pub rates: Rates,
    pub defects: DefectRates,
    /// Share of changes made to the civil-servant table when both databases are targets.
    pub civil_service_share: f64,
    /// How often [`Report::Progress`] comes.
    pub progress_every: Duration,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        Self {
            rate: 50.0,
            changes: None,
            duration: None,
            seed: 2026,
            people: 100_000,
            register: RegisterOptions::default(),
            reference_date: DEFAULT_REFERENCE_DATE,
            rates: Rates::default(),
            defects: DefectRates::default(),
            civil_service_share: 0.5,
            progress_every: Duration::from_secs(1),
        }
    }
}

impl WorkloadOptions {
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(WorkloadError::Options(format!(
                "the rate must be a positive number of changes per second, not {}",
                self.rate
            )));
        }
        if !(0.0..=1.0).contains(&self.civil_service_share) {
            return Err(WorkloadError::Options(format!(
                "civil_service_share {} is not between 0 and 1",
                self.civil_service_share
            )));
        }
        self.rates.validate()?;
        self.defects.validate()?;
        self.register.validate()?;
        Ok(())
    }
}

/// The databases to change: URLs of the seeded databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkloadTargets {
    pub postgres: Option<String>,
    pub mariadb: Option<String>,
}

/// Why the workload stopped early or could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("{0}")]
    Options(String),
    #[error(transparent)]
    Datagen(#[from] DatagenError),
    #[error("name a database to change: a PostgreSQL URL, a MariaDB URL, or both")]
    NoTarget,
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("{target}: {message}")]
    Table { target: String, message: String },
}

/// Why the workload stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The number of changes asked for was made.
    Changes,
    /// The duration asked for passed.
    Duration,
    /// The stop future completed (SIGINT, SIGTERM).
    Signal,
}

/// Committed changes of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableChanges {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Committed changes per kind.
    pub kinds: BTreeMap<String, u64>,
}

/// Source positions after the last commit, for waiting until a connector has caught up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    /// `pg_current_wal_lsn()` after the last commit.
    pub postgres_lsn: Option<String>,
    /// `@@gtid_binlog_pos` (MariaDB) or `@@gtid_executed` (MySQL) after the last commit.
    pub mariadb_gtid: Option<String>,
}

/// The final account: printed as one JSON line for driver scripts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// Committed changes (transactions).
    pub changes: u64,
    /// Changes rolled back because the connection was lost.
    pub failed: u64,
    /// Changes whose commit may or may not have happened (the connection was lost during it).
    pub uncertain: u64,
    /// Committed changes whose new row holds a person-level error or a defect.
    pub with_errors: u64,
    pub elapsed_seconds: f64,
    /// Committed changes per second.
    pub rate: f64,
    pub stopped_by: StopReason,
    /// Per table name (`ho_so_can_bo`, `QUA_TRINH_THAM_GIA`).
    pub tables: BTreeMap<String, TableChanges>,
    pub positions: Positions,
}

/// What the workload tells while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Progress {
        changes: u64,
        elapsed: Duration,
        /// Changes per second since the previous report.
        recent_rate: f64,
    },
    /// A problem it works around (a lost connection, a reconnection).
    Warning(String),
}

/// What one change did, once committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    kind: &'static str,
    inserted: u64,
    updated: u64,
    deleted: u64,
    with_errors: bool,
}

/// How an attempted change ended.
#[derive(Debug)]
enum Attempt {
    Committed(Applied),
    /// Nothing to change for this kind (no candidate row): try another kind.
    Nothing,
    /// Rolled back: the connection was lost before the commit.
    Failed(DbError),
    /// The connection was lost during the commit.
    Uncertain(DbError),
}

/// Register people the workload draws from: new hires (eligible people in no table) and, by
/// ID number, the people of the tables (for corrections).
#[derive(Debug)]
struct People {
    /// People whose current or superseded number a table states, by that number.
    known: HashMap<String, usize>,
    known_people: Vec<Person>,
    /// Eligible register people in no table, in random order.
    candidates: Vec<Person>,
    /// The register stream after its last person: people absent from it.
    after_register: Register,
    noise: Noise,
    reference_date: Date,
    not_in_register: f64,
    /// Civil servants hired by this run, who may enrol in social insurance next.
    recent_hires: Vec<(Person, bool, usize)>,
}

/// How many hire candidates to keep: enough for hours of changes at demo rates.
const CANDIDATES: usize = 50_000;

impl People {
    fn load(
        options: &WorkloadOptions,
        stated_ids: &HashSet<String>,
        rng: &mut StdRng,
    ) -> Result<Self, WorkloadError> {
        let mut register = Register::with_options(options.seed, options.register.clone())?;
        let mut known = HashMap::new();
        let mut known_people = Vec::new();
        let mut candidates: Vec<Person> = Vec::with_capacity(CANDIDATES);
        let mut eligible_seen = 0u64;
        for _ in 0..options.people {
            let person = register.person();
            let stated = std::iter::once(&person.personal_id)
                .chain(&person.superseded_ids)
                .any(|id| stated_ids.contains(id));
            if stated {
                for id in std::iter::once(&person.personal_id).chain(&person.superseded_ids) {
                    known.insert(id.clone(), known_people.len());
                }
                known_people.push(person);
            } else if is_eligible(&person, options.reference_date) {
                // Reservoir sampling: a uniform sample of the eligible people.
                eligible_seen += 1;
                if candidates.len() < CANDIDATES {
                    candidates.push(person);
                } else {
                    let j = rng.random_range(0..eligible_seen);
                    if let Some(slot) = usize::try_from(j).ok().and_then(|j| candidates.get_mut(j))
                    {
                        *slot = person;
                    }
                }
            }
        }
        Ok(Self {
            known,
            known_people,
            candidates,
            after_register: register,
            noise: Noise::new(options.rates.clone(), options.seed ^ 0x3041_0000_0000_0006),
            reference_date: options.reference_date,
            not_in_register: options.rates.not_in_register,
            recent_hires: Vec::new(),
        })
    }

    /// The register person a stated number belongs to, and whether the number is superseded.
    fn by_id(&self, id: &str) -> Option<(&Person, bool)> {
        let person = self.known_people.get(*self.known.get(id)?)?;
        Some((person, person.personal_id != id))
    }

    /// A new person: usually an eligible register person in no table, sometimes one absent from
    /// the register. Returns the person and whether they are in the register.
    fn newcomer(&mut self, rng: &mut StdRng) -> (Person, bool) {
        if !self.candidates.is_empty() && !rng.random_bool(self.not_in_register) {
            let i = rng.random_range(0..self.candidates.len());
            return (self.candidates.swap_remove(i), true);
        }
        loop {
            let person = self.after_register.person();
            if is_eligible(&person, self.reference_date) {
                return (person, false);
            }
        }
    }

    /// What a new row states about `person`, with its errors.
    fn state(&mut self, person: &Person, in_register: bool) -> (StatedPerson, Vec<ErrorKind>) {
        let (stated, mut errors) = self.noise.state(person);
        if !in_register {
            errors.push(ErrorKind::NotInRegister);
            errors.sort_unstable_by_key(|kind| ErrorKind::ALL.iter().position(|k| k == kind));
        }
        (stated, errors)
    }
}

/// Seconds since 1970, now.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Runs the workload until `changes` are committed, `duration` passes or `stop` completes,
/// reporting progress and warnings through `report`.
///
/// A lost connection is reconnected, the change counted as failed (or uncertain when the
/// commit itself was interrupted), and the run goes on; a statement the server refuses (a
/// missing table, a constraint) stops the run with the error.
pub async fn run(
    options: &WorkloadOptions,
    targets: &WorkloadTargets,
    stop: impl Future<Output = ()>,
    mut report: impl FnMut(Report),
) -> Result<WorkloadSummary, WorkloadError> {
    options.validate()?;
    if targets.postgres.is_none() && targets.mariadb.is_none() {
        return Err(WorkloadError::NoTarget);
    }
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x3041_0000_0000_0007);
    let now = unix_now();
    let mut civil = match &targets.postgres {
        Some(url) => Some(civil_service::CivilService::open(url, options, now).await?),
        None => None,
    };
    let mut insurance = match &targets.mariadb {
        Some(url) => Some(social_insurance::SocialInsurance::open(url, options, now).await?),
        None => None,
    };
    let mut stated_ids = HashSet::new();
    if let Some(c) = &civil {
        stated_ids.extend(c.stated_ids.iter().cloned());
    }
    if let Some(s) = &insurance {
        stated_ids.extend(s.stated_ids.iter().cloned());
    }
    let mut people = People::load(options, &stated_ids, &mut rng)?;

    tokio::pin!(stop);
    let started = Instant::now();
    let mut bucket = TokenBucket::for_rate(options.rate, started);
    let mut tables: BTreeMap<String, TableChanges> = BTreeMap::new();
    let (mut changes, mut failed, mut uncertain, mut with_errors) = (0u64, 0u64, 0u64, 0u64);
    let mut last_report = (started, 0u64);
    let deadline = options.duration.map(|d| started + d);
    let stopped_by = loop {
        if options.changes.is_some_and(|n| changes >= n) {
            break StopReason::Changes;
        }
        // Checked on every change, not only while waiting: at a rate the databases cannot
        // keep up with, there is never a wait.
        let signalled = tokio::select! {
            biased;
            () = &mut stop => true,
            () = std::future::ready(()) => false,
        };
        if signalled {
            break StopReason::Signal;
        }
        // Wait for a token, the deadline or the stop signal, whichever comes first.
        let took = loop {
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                break Err(StopReason::Duration);
            }
            match bucket.try_take(now) {
                Ok(()) => break Ok(()),
                Err(wait) => {
                    let until = deadline.map_or(now + wait, |d| d.min(now + wait));
                    tokio::select! {
                        () = &mut stop => break Err(StopReason::Signal),
                        () = tokio::time::sleep_until(until.into()) => {}
                    }
                }
            }
        };
        if let Err(reason) = took {
            break reason;
        }
        let on_civil_service = match (&civil, &insurance) {
            (Some(_), Some(_)) => rng.random_bool(options.civil_service_share),
            (Some(_), None) => true,
            _ => false,
        };
        let now = unix_now();
        let (table, attempt) = if on_civil_service {
            let Some(c) = civil.as_mut() else { continue };
            (
                crate::sources::civil_service::TABLE,
                c.change(&mut rng, &mut people, now, &mut report).await?,
            )
        } else {
            let Some(s) = insurance.as_mut() else {
                continue;
            };
            (
                crate::sources::social_insurance::TABLE,
                s.change(&mut rng, &mut people, now, &mut report).await?,
            )
        };
        match attempt {
            Attempt::Committed(applied) => {
                changes += 1;
                with_errors += u64::from(applied.with_errors);
                let t = tables.entry(table.to_owned()).or_default();
                t.inserted += applied.inserted;
                t.updated += applied.updated;
                t.deleted += applied.deleted;
                *t.kinds.entry(applied.kind.to_owned()).or_default() += 1;
            }
            Attempt::Nothing => {}
            Attempt::Failed(e) => {
                failed += 1;
                report(Report::Warning(format!("change rolled back: {e}")));
            }
            Attempt::Uncertain(e) => {
                uncertain += 1;
                report(Report::Warning(format!(
                    "connection lost while committing; the change may or may not be in the table: {e}"
                )));
            }
        }
        let now = Instant::now();
        if now.duration_since(last_report.0) >= options.progress_every {
            let interval = now.duration_since(last_report.0).as_secs_f64();
            report(Report::Progress {
                changes,
                elapsed: now.duration_since(started),
                recent_rate: (changes - last_report.1) as f64 / interval,
            });
            last_report = (now, changes);
        }
    };
    let elapsed = started.elapsed();
    let mut positions = Positions::default();
    if let Some(c) = civil.as_mut() {
        positions.postgres_lsn = c.position().await;
    }
    if let Some(s) = insurance.as_mut() {
        positions.mariadb_gtid = s.position().await;
    }
    for table in [
        crate::sources::civil_service::TABLE,
        crate::sources::social_insurance::TABLE,
    ] {
        let targeted = match table {
            crate::sources::civil_service::TABLE => civil.is_some(),
            _ => insurance.is_some(),
        };
        if targeted {
            tables.entry(table.to_owned()).or_default();
        }
    }
    Ok(WorkloadSummary {
        changes,
        failed,
        uncertain,
        with_errors,
        elapsed_seconds: elapsed.as_secs_f64(),
        rate: changes as f64 / elapsed.as_secs_f64().max(1e-9),
        stopped_by,
        tables,
        positions,
    })
}

/// Picks one of `choices` by weight.
fn weighted<T: Copy>(choices: &[(T, f64)], rng: &mut StdRng) -> T {
    let total: f64 = choices.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (choice, weight) in choices {
        if x < *weight {
            return *choice;
        }
        x -= weight;
    }
    choices[choices.len() - 1].0
}

/// Takes a random element out of `pool`.
fn take_random<T>(pool: &mut Vec<T>, rng: &mut StdRng) -> Option<T> {
    if pool.is_empty() {
        return None;
    }
    let i = rng.random_range(0..pool.len());
    Some(pool.swap_remove(i))
}

/// Wraps a statement's error with what was being done, and whether it happened while committing
/// (then the change may or may not be in the table).
fn failed(
    target: &str,
    what: &str,
    committing: bool,
) -> impl FnOnce(sqlx::Error) -> (DbError, bool) + use<> {
    let (target, what) = (target.to_owned(), what.to_owned());
    move |source| {
        (
            DbError::Statement {
                target,
                what,
                source,
            },
            committing,
        )
    }
}

/// Whether `e` is the connection's, so the change can be retried after reconnecting; anything
/// else stops the run.
fn classify(e: DbError, committing: bool) -> Result<Attempt, WorkloadError> {
    if e.is_connection_lost() {
        Ok(if committing {
            Attempt::Uncertain(e)
        } else {
            Attempt::Failed(e)
        })
    } else {
        Err(WorkloadError::Database(e))
    }
}

/// Parses a `--duration`: `90`, `90s`, `2m`, `1h`, `500ms`, or combinations (`1m30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds))
            .ok_or_else(|| format!("{text:?} is not a duration"));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: a number needs a unit (ms, s, m, h)"))?;
        let (number, tail) = rest.split_at(digits);
        let value: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a duration"))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" | "min" => value * 60.0,
            "h" => value * 3600.0,
            _ => return Err(format!("{text:?}: unknown unit {unit:?} (ms, s, m, h)")),
        };
        total += Duration::from_secs_f64(seconds);
        rest = next;
    }
    if text.is_empty() {
        return Err("an empty duration".to_owned());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn durations_parse_as_operators_write_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5x", "m", "-3", "1m30"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weighted_choice_and_random_takes_cover_their_inputs() {
        let mut rng = StdRng::seed_from_u64(1);
        let choices = [("a", 1.0), ("b", 3.0)];
        let b = (0..20_000)
            .filter(|_| weighted(&choices, &mut rng) == "b")
            .count();
        assert!((14_500..15_500).contains(&b), "{b}");
        let mut pool: Vec<u32> = (0..100).collect();
        let mut taken: Vec<u32> = std::iter::from_fn(|| take_random(&mut pool, &mut rng)).collect();
        taken.sort_unstable();
        assert_eq!(taken, (0..100).collect::<Vec<_>>());
    }
}
