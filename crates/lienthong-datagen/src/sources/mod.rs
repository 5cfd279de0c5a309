//! Source databases shaped as the shipped mapping files expect them, drawn from the register
//! with known truth: the civil-servant database (PostgreSQL, `public.ho_so_can_bo`) and the
//! social-security database (MariaDB, `QUA_TRINH_THAM_GIA`).
//!
//! [`plan_sources`] makes every row in memory (pure, deterministic by seed and `now`);
//! [`generate_sources`] also writes the files a test or the demo checks the pipeline against:
//!
//! | file | what |
//! |---|---|
//! | `register.csv` | the population register extract for the resolver ([`crate::output`] format) |
//! | `truth.csv` | per source row: `record_id,table,id,personal_id,errors,findings,outcome` — the record id the translator gives the row, the person's current register number (empty when absent from the register), the `;`-joined person-level errors ([`ErrorKind`]) and defects ([`Defect`]), the quality finding codes the shipped mapping must report, and `translated` or `dead_lettered` |
//! | `datagen.json` | [`SourceSummary`]: options, rates, counts per table, error kind, defect and finding |
//!
//! People are shared: civil servants are register people drawn as the CSV list draws them
//! ([`ListSampler`]), a share of them also contribute to social insurance, and the other
//! participants are further register people; some people of each table are absent from the
//! register, some are in a table twice. Loading the rows into the databases is [`crate::db`]'s
//! job.

pub mod attributes;
pub mod civil_service;
pub mod defects;
pub mod social_insurance;
pub mod value;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::DatagenError;
use crate::civil_servants::{DEFAULT_REFERENCE_DATE, ListOptions, ListSampler};
use crate::date::Date;
use crate::errors::{ErrorKind, Rates, join_kinds};
use crate::noise::{Noise, StatedPerson};
use crate::organisations::organisation_index;
use crate::output::{REGISTER_FILE, RegisterCounts, RegisterWriter, SUMMARY_FILE, TRUTH_FILE};
use crate::register::{Person, Register, RegisterOptions};
use attributes::{ENTERPRISES, Employer, enterprise, public_employer};
use civil_service::{CivilServiceRows, HoSoCanBo};
use defects::{Defect, DefectRates};
use social_insurance::{QuaTrinhThamGia, SocialInsuranceRows, insurance_number};

/// The quality finding codes generated rows are known to produce (those of
/// `lienthong_translate::quality::codes`).
pub mod finding {
    pub const PIN_INVALID: &str = "pin.invalid";
    pub const TEXT_LEGACY_ENCODING: &str = "text.legacy_encoding";
    pub const CODE_UNKNOWN: &str = "code.unknown";
    pub const MAP_UNMAPPED: &str = "map.unmapped";
    pub const VALUE_INVALID_DATE: &str = "value.invalid_date";
    pub const DATE_PARTIAL: &str = "date.partial";
    pub const INSURANCE_NUMBER_INVALID: &str = "insurance_number.invalid";
}

/// A generated row with its truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated<R> {
    pub row: R,
    /// The id the translator gives the row's record (its Kafka key).
    pub record_id: String,
    /// The current register number of the person the row describes; `None` when the person is
    /// absent from the register.
    pub personal_id: Option<String>,
    /// Person-level errors of what the row states, in [`ErrorKind::ALL`] order.
    pub errors: Vec<ErrorKind>,
    /// Defects of the row's values, in [`Defect::ALL`] order.
    pub defects: Vec<Defect>,
    /// Finding codes the shipped mapping must report for the row (it may report more).
    pub findings: Vec<&'static str>,
    /// Whether the translator must dead-letter the row.
    pub rejected: bool,
}

impl<R> Generated<R> {
    /// Without any error or defect.
    pub fn is_clean(&self) -> bool {
        self.errors.is_empty() && self.defects.is_empty()
    }

    /// The `truth.csv` row.
    pub fn truth(&self, table: &str, id: i64) -> TruthRow {
        TruthRow {
            record_id: self.record_id.clone(),
            table: table.to_owned(),
            id,
            personal_id: self.personal_id.clone().unwrap_or_default(),
            errors: join_errors(&self.errors, &self.defects),
            findings: self.findings.join(";"),
            outcome: if self.rejected {
                Outcome::DeadLettered
            } else {
                Outcome::Translated
            },
        }
    }
}

/// Who a row is about and what it states: the person, whether the register holds them, what
/// the row states about them and the person-level errors of that.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub person: &'a Person,
    pub in_register: bool,
    pub stated: &'a StatedPerson,
    /// In [`ErrorKind::ALL`] order.
    pub errors: &'a [ErrorKind],
}

/// What the translator must do with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Translated,
    DeadLettered,
}

/// One `truth.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthRow {
    pub record_id: String,
    pub table: String,
    pub id: i64,
    pub personal_id: String,
    pub errors: String,
    pub findings: String,
    pub outcome: Outcome,
}

pub const TRUTH_COLUMNS: [&str; 7] = [
    "record_id",
    "table",
    "id",
    "personal_id",
    "errors",
    "findings",
    "outcome",
];

/// A value for an ID number column that cannot be a personal ID number: the old card's
/// number, a letter typed for a digit, or a digit dropped.
pub(crate) fn malformed_id(id: &str, former_card: Option<&str>, rng: &mut StdRng) -> String {
    let choice = rng.random_range(0..3u8);
    if choice == 0
        && let Some(card) = former_card
    {
        return card.to_owned();
    }
    let mut chars: Vec<char> = id.chars().collect();
    let lookalikes: Vec<usize> = (0..chars.len())
        .filter(|&i| matches!(chars[i], '0' | '1'))
        .collect();
    if choice == 1 && !lookalikes.is_empty() {
        let at = lookalikes[rng.random_range(0..lookalikes.len())];
        chars[at] = if chars[at] == '0' { 'O' } else { 'l' };
    } else if !chars.is_empty() {
        chars.remove(rng.random_range(0..chars.len()));
    }
    chars.into_iter().collect()
}

/// What [`plan_sources`] makes.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// People in the register.
    pub people: u64,
    /// Rows of `ho_so_can_bo` (duplicates and people absent from the register included).
    pub civil_servants: usize,
    /// Participants of `QUA_TRINH_THAM_GIA` (each with one to four contribution periods).
    pub insured: usize,
    /// Share of participants drawn from the civil servants of `ho_so_can_bo`; the others are
    /// drawn from the whole register, so a few more are civil servants by chance.
    pub insured_civil_servant_share: f64,
    pub seed: u64,
    /// The day the data describes: people are of working age on it, histories end with it.
    pub reference_date: Date,
    pub rates: Rates,
    pub defects: DefectRates,
    pub register: RegisterOptions,
    /// Seconds since 1970: rows were last updated before it.
    pub now: i64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            people: 100_000,
            civil_servants: 10_000,
            insured: 10_000,
            insured_civil_servant_share: 0.3,
            seed: 2026,
            reference_date: DEFAULT_REFERENCE_DATE,
            rates: Rates::default(),
            defects: DefectRates::default(),
            register: RegisterOptions::default(),
            now: value::date_seconds(DEFAULT_REFERENCE_DATE),
        }
    }
}

impl SourceOptions {
    pub fn validate(&self) -> Result<(), DatagenError> {
        self.rates.validate()?;
        self.defects.validate()?;
        self.register.validate()?;
        if !(0.0..=1.0).contains(&self.insured_civil_servant_share) {
            return Err(DatagenError::Rate {
                name: "insured_civil_servant_share".to_owned(),
                value: self.insured_civil_servant_share,
            });
        }
        Ok(())
    }
}

/// Every generated row.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcePlan {
    pub register: RegisterCounts,
    /// `ho_so_can_bo`, ids 1, 2, ...
    pub civil_servants: Vec<Generated<HoSoCanBo>>,
    /// `QUA_TRINH_THAM_GIA`, ids 1, 2, ..., a participant's periods together.
    pub social_insurance: Vec<Generated<QuaTrinhThamGia>>,
    /// Participants of `QUA_TRINH_THAM_GIA`.
    pub participants: usize,
}

/// One participant before their rows are made.
struct Participant {
    person: Person,
    in_register: bool,
    stated: StatedPerson,
    errors: Vec<ErrorKind>,
    employer: Employer,
}

/// Every row, in memory, without writing files.
pub fn plan_sources(options: &SourceOptions) -> Result<SourcePlan, DatagenError> {
    build(options, &mut |_| Ok(())).map_err(|e| match e {
        BuildError::Datagen(e) => e,
        // The sink above never fails.
        BuildError::Register(source) => DatagenError::Write {
            path: REGISTER_FILE.into(),
            source,
        },
    })
}

enum BuildError {
    Datagen(DatagenError),
    Register(io::Error),
}

fn build(
    options: &SourceOptions,
    each_person: &mut dyn FnMut(&Person) -> io::Result<()>,
) -> Result<SourcePlan, BuildError> {
    options.validate().map_err(BuildError::Datagen)?;
    let mut register = Register::with_options(options.seed, options.register.clone())
        .map_err(BuildError::Datagen)?;
    let list_options = |size, seed| ListOptions {
        size,
        reference_date: options.reference_date,
        rates: options.rates.clone(),
        seed,
    };
    let mut servants = ListSampler::new(list_options(options.civil_servants, options.seed))
        .map_err(BuildError::Datagen)?;
    let from_servants = ((options.insured as f64 * options.insured_civil_servant_share).round()
        as usize)
        .min(options.civil_servants)
        .min(options.insured);
    let mut others = ListSampler::new(list_options(
        options.insured - from_servants,
        options.seed ^ 0x1A5D_0000_0000_0003,
    ))
    .map_err(BuildError::Datagen)?;

    let mut counts = RegisterCounts {
        people: options.people,
        with_superseded_id: 0,
        deceased: 0,
        eligible: 0,
    };
    for _ in 0..options.people {
        let person = register.person();
        each_person(&person).map_err(BuildError::Register)?;
        counts.with_superseded_id += u64::from(!person.superseded_ids.is_empty());
        counts.deceased += u64::from(person.deceased);
        servants.offer(&person);
        others.offer(&person);
    }
    counts.eligible = servants.eligible_seen();
    let servant_list = servants.finish(&mut register);
    let other_list = others.finish(&mut register);

    let mut civil_rows = CivilServiceRows::new(
        options.seed,
        options.defects.clone(),
        options.reference_date,
        options.now,
    );
    let civil_servants: Vec<Generated<HoSoCanBo>> = servant_list
        .entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let organisation = organisation_index(&entry.organisation.code).unwrap_or_default();
            let subject = Subject {
                person: &entry.person,
                in_register: entry.in_register,
                stated: &entry.stated,
                errors: &entry.errors,
            };
            civil_rows.file(
                i64::try_from(i).unwrap_or(i64::MAX - 1) + 1,
                subject,
                organisation,
            )
        })
        .collect();

    // Civil servants contribute through their organisation; the social-security database
    // states them in its own words, so their errors are drawn again.
    let mut rng = StdRng::seed_from_u64(options.seed ^ 0x1A5D_0000_0000_0004);
    let mut noise = Noise::new(options.rates.clone(), options.seed ^ 0x1A5D_0000_0000_0005);
    let mut participants: Vec<Participant> = servant_list
        .entries
        .iter()
        .filter(|e| !e.has(ErrorKind::Duplicate))
        .take(from_servants)
        .map(|entry| {
            let (stated, mut errors) = noise.state(&entry.person);
            if !entry.in_register {
                errors.push(ErrorKind::NotInRegister);
            }
            let organisation = organisation_index(&entry.organisation.code).unwrap_or_default();
            Participant {
                person: entry.person.clone(),
                in_register: entry.in_register,
                stated,
                errors,
                employer: public_employer(organisation),
            }
        })
        .collect();
    // The other participants work for enterprises, unless the register sample picked a civil
    // servant again: they contribute through their organisation too.
    let organisation_of: HashMap<&str, usize> = servant_list
        .entries
        .iter()
        .map(|e| {
            (
                e.person.personal_id.as_str(),
                organisation_index(&e.organisation.code).unwrap_or_default(),
            )
        })
        .collect();
    participants.extend(other_list.entries.into_iter().map(|entry| {
        let employer = match organisation_of.get(entry.person.personal_id.as_str()) {
            Some(&organisation) => public_employer(organisation),
            None => enterprise(rng.random_range(0..ENTERPRISES)),
        };
        Participant {
            employer,
            person: entry.person,
            in_register: entry.in_register,
            stated: entry.stated,
            errors: entry.errors,
        }
    }));
    participants.shuffle(&mut rng);

    let mut insurance_rows = SocialInsuranceRows::new(
        options.seed,
        options.defects.clone(),
        options.reference_date,
        options.now,
    );
    let mut social_insurance = Vec::with_capacity(participants.len() * 3);
    for (serial, p) in participants.iter_mut().enumerate() {
        p.errors
            .sort_unstable_by_key(|kind| ErrorKind::ALL.iter().position(|k| k == kind));
        let first_id = i64::try_from(social_insurance.len()).unwrap_or(i64::MAX - 10) + 1;
        let subject = Subject {
            person: &p.person,
            in_register: p.in_register,
            stated: &p.stated,
            errors: &p.errors,
        };
        social_insurance.extend(insurance_rows.participant(
            first_id,
            insurance_number(p.person.birth_province, serial as u64),
            subject,
            &p.employer,
        ));
    }
    Ok(SourcePlan {
        register: counts,
        civil_servants,
        social_insurance,
        participants: participants.len(),
    })
}

/// `datagen.json` of `lienthong datagen seed`: how the data was made and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSummary {
    pub seed: u64,
    pub reference_date: Date,
    /// Seconds since 1970 of the `now` the rows were made for.
    pub now: i64,
    pub people: u64,
    pub civil_servants: usize,
    pub insured: usize,
    pub insured_civil_servant_share: f64,
    pub register: RegisterCounts,
    /// Per table name (`ho_so_can_bo`, `QUA_TRINH_THAM_GIA`).
    pub tables: BTreeMap<String, TableCounts>,
    pub rates: Rates,
    pub defect_rates: DefectRates,
    pub register_options: RegisterOptions,
}

/// What one table holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounts {
    /// The connector's source id and the schema the shipped mapping names.
    pub source_id: String,
    pub schema: String,
    pub rows: u64,
    /// Civil-servant files, or social-security participants.
    pub people: u64,
    /// Rows describing a register person.
    pub in_register: u64,
    pub not_in_register: u64,
    /// Rows of a person the table holds twice (the second file or book).
    pub duplicates: u64,
    /// Rows without any error or defect.
    pub clean: u64,
    /// Rows the translator must dead-letter.
    pub dead_lettered: u64,
    /// Rows per error kind and per defect (every kind, zero included).
    pub errors: BTreeMap<String, u64>,
    /// Rows per finding code the mapping must report.
    pub findings: BTreeMap<String, u64>,
}

fn table_counts<R>(
    rows: &[Generated<R>],
    source_id: &str,
    schema: &str,
    people: usize,
) -> TableCounts {
    let mut errors: BTreeMap<String, u64> = ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), 0))
        .chain(Defect::ALL.iter().map(|d| (d.as_str().to_owned(), 0)))
        .collect();
    let mut findings: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows {
        for kind in &row.errors {
            *errors.entry(kind.as_str().to_owned()).or_default() += 1;
        }
        for defect in &row.defects {
            *errors.entry(defect.as_str().to_owned()).or_default() += 1;
        }
        for code in &row.findings {
            *findings.entry((*code).to_owned()).or_default() += 1;
        }
    }
    let count = |f: &dyn Fn(&Generated<R>) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
    TableCounts {
        source_id: source_id.to_owned(),
        schema: schema.to_owned(),
        rows: rows.len() as u64,
        people: people as u64,
        in_register: count(&|r| r.personal_id.is_some()),
        not_in_register: count(&|r| r.personal_id.is_none()),
        duplicates: count(&|r| r.errors.contains(&ErrorKind::Duplicate)),
        clean: count(&|r| r.is_clean()),
        dead_lettered: count(&|r| r.rejected),
        errors,
        findings,
    }
}

impl SourcePlan {
    /// The summary of this plan, made with `options`.
    pub fn summary(&self, options: &SourceOptions) -> SourceSummary {
        let mut tables = BTreeMap::new();
        tables.insert(
            civil_service::TABLE.to_owned(),
            table_counts(
                &self.civil_servants,
                civil_service::SOURCE_ID,
                civil_service::SCHEMA,
                self.civil_servants.len(),
            ),
        );
        tables.insert(
            social_insurance::TABLE.to_owned(),
            table_counts(
                &self.social_insurance,
                social_insurance::SOURCE_ID,
                social_insurance::SCHEMA,
                self.participants,
            ),
        );
        SourceSummary {
            seed: options.seed,
            reference_date: options.reference_date,
            now: options.now,
            people: options.people,
            civil_servants: options.civil_servants,
            insured: options.insured,
            insured_civil_servant_share: options.insured_civil_servant_share,
            register: self.register.clone(),
            tables,
            rates: options.rates.clone(),
            defect_rates: options.defects.clone(),
            register_options: options.register.clone(),
        }
    }

    /// Every `truth.csv` row: the civil servants', then the social-security rows.
    pub fn truth_rows(&self) -> impl Iterator<Item = TruthRow> + '_ {
        let civil = self
            .civil_servants
            .iter()
            .map(|g| g.truth(civil_service::TABLE, g.row.id));
        let insurance = self
            .social_insurance
            .iter()
            .map(|g| g.truth(social_insurance::TABLE, g.row.id));
        civil.chain(insurance)
    }
}

/// Makes every row and writes `register.csv`, `truth.csv` and `datagen.json` into `out_dir`
/// (created if missing): the register streams to its file without being held in memory.
pub fn generate_sources(
    options: &SourceOptions,
    out_dir: &Path,
) -> Result<(SourcePlan, SourceSummary), DatagenError> {
    options.validate()?;
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| DatagenError::Write { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(write_error(out_dir))?;
    let register_path = out_dir.join(REGISTER_FILE);
    let file = std::fs::File::create(&register_path).map_err(write_error(&register_path))?;
    let mut writer = RegisterWriter::new(io::BufWriter::with_capacity(1 << 16, file))
        .map_err(write_error(&register_path))?;
    let plan = build(options, &mut |person| writer.write(person)).map_err(|e| match e {
        BuildError::Datagen(e) => e,
        BuildError::Register(source) => DatagenError::Write {
            path: register_path.clone(),
            source,
        },
    })?;
    writer
        .finish()
        .and_then(|mut w| w.flush())
        .map_err(write_error(&register_path))?;

    let truth_path = out_dir.join(TRUTH_FILE);
    let file = std::fs::File::create(&truth_path).map_err(write_error(&truth_path))?;
    let mut csv = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(io::BufWriter::with_capacity(1 << 16, file));
    let csv_error = |e: csv::Error| io::Error::other(e.to_string());
    csv.write_record(TRUTH_COLUMNS)
        .map_err(csv_error)
        .map_err(write_error(&truth_path))?;
    for row in plan.truth_rows() {
        csv.serialize(row)
            .map_err(csv_error)
            .map_err(write_error(&truth_path))?;
    }
    csv.into_inner()
        .map_err(|e| io::Error::other(e.error().to_string()))
        .and_then(|mut w| w.flush())
        .map_err(write_error(&truth_path))?;

    let summary = plan.summary(options);
    let summary_path = out_dir.join(SUMMARY_FILE);
    let mut json = serde_json::to_string_pretty(&summary).map_err(DatagenError::Json)?;
    json.push('\n');
    std::fs::write(&summary_path, json).map_err(write_error(&summary_path))?;
    Ok((plan, summary))
}

/// The `;`-joined names of a row's errors and defects, as `truth.csv` writes them.
pub fn join_errors(errors: &[ErrorKind], defects: &[Defect]) -> String {
    let mut text = join_kinds(errors);
    for defect in defects {
        if !text.is_empty() {
            text.push(';');
        }
        text.push_str(defect.as_str());
    }
    text
}
