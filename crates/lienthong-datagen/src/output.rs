//! The files: `register.csv`, `civil_servants.csv`, `truth.csv` and `datagen.json`, and
//! [`generate`], which writes them all.
//!
//! | file | columns |
//! |---|---|
//! | `register.csv` | `personal_id,superseded_ids,family_name,middle_name,given_name,birth_date,sex,birth_province,deceased` (`;`-joined superseded ids, `YYYY-MM-DD`, `male`/`female`, 2-digit pre-2025 code, `true`/`false`) |
//! | `civil_servants.csv` | `ma_ho_so,ho_va_ten,ngay_sinh,gioi_tinh,so_dinh_danh,noi_sinh,ma_co_quan,co_quan`, with a UTF-8 byte-order mark as Vietnamese HR systems export for Excel (`dd/mm/yyyy`, `Nam`/`Nữ`, 2-digit province code) |
//! | `truth.csv` | `ma_ho_so,personal_id,errors`: the current register number of the person each row describes (empty when absent from the register) and the row's `;`-joined error kinds |
//! | `datagen.json` | [`Summary`]: seed, options, counts, rates and rows per error kind |
//!
//! All are UTF-8 with a header row, comma-separated, fields quoted only when they need it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::DatagenError;
use crate::civil_servants::{
    CivilServantList, DEFAULT_REFERENCE_DATE, ListEntry, ListOptions, ListSampler,
};
use crate::date::Date;
use crate::errors::{Rates, join_kinds};
use crate::register::{Person, Register, RegisterOptions};

pub const REGISTER_FILE: &str = "register.csv";
pub const CIVIL_SERVANTS_FILE: &str = "civil_servants.csv";
pub const TRUTH_FILE: &str = "truth.csv";
pub const SUMMARY_FILE: &str = "datagen.json";

pub const REGISTER_COLUMNS: [&str; 9] = [
    "personal_id",
    "superseded_ids",
    "family_name",
    "middle_name",
    "given_name",
    "birth_date",
    "sex",
    "birth_province",
    "deceased",
];

pub const CIVIL_SERVANT_COLUMNS: [&str; 8] = [
    "ma_ho_so",
    "ho_va_ten",
    "ngay_sinh",
    "gioi_tinh",
    "so_dinh_danh",
    "noi_sinh",
    "ma_co_quan",
    "co_quan",
];

pub const TRUTH_COLUMNS: [&str; 3] = ["ma_ho_so", "personal_id", "errors"];

/// The byte-order mark `civil_servants.csv` starts with.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One `register.csv` row, for reading the file back with `csv` and serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRow {
    pub personal_id: String,
    pub superseded_ids: String,
    pub family_name: String,
    pub middle_name: String,
    pub given_name: String,
    pub birth_date: String,
    pub sex: String,
    pub birth_province: String,
    pub deceased: String,
}

/// One `civil_servants.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CivilServantRow {
    pub ma_ho_so: String,
    pub ho_va_ten: String,
    pub ngay_sinh: String,
    pub gioi_tinh: String,
    pub so_dinh_danh: String,
    pub noi_sinh: String,
    pub ma_co_quan: String,
    pub co_quan: String,
}

impl From<&ListEntry> for CivilServantRow {
    fn from(entry: &ListEntry) -> Self {
        let stated = &entry.stated;
        Self {
            ma_ho_so: entry.record_id.clone(),
            ho_va_ten: stated.full_name(),
            ngay_sinh: stated.birth_date.dmy(),
            gioi_tinh: stated
                .sex
                .map(|s| s.vietnamese().to_owned())
                .unwrap_or_default(),
            so_dinh_danh: stated.personal_id.clone().unwrap_or_default(),
            noi_sinh: stated
                .birth_province
                .map(|p| format!("{:02}", p.code))
                .unwrap_or_default(),
            ma_co_quan: entry.organisation.code.clone(),
            co_quan: entry.organisation.name.clone(),
        }
    }
}

/// One `truth.csv` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthRow {
    pub ma_ho_so: String,
    pub personal_id: String,
    pub errors: String,
}

impl From<&ListEntry> for TruthRow {
    fn from(entry: &ListEntry) -> Self {
        Self {
            ma_ho_so: entry.record_id.clone(),
            personal_id: entry.truth_id().unwrap_or_default().to_owned(),
            errors: join_kinds(&entry.errors),
        }
    }
}

/// A CSV writer that writes the header only when told (`serialize` would write its own).
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .buffer_capacity(1 << 16)
        .from_writer(out)
}

/// Writes `register.csv` one person at a time.
#[derive(Debug)]
pub struct RegisterWriter<W: Write> {
    csv: csv::Writer<W>,
    date: String,
    superseded: String,
}

impl<W: Write> RegisterWriter<W> {
    /// Writes the header.
    pub fn new(out: W) -> io::Result<Self> {
        let mut csv = csv_writer(out);
        csv.write_record(REGISTER_COLUMNS)?;
        Ok(Self {
            csv,
            date: String::with_capacity(10),
            superseded: String::new(),
        })
    }

    pub fn write(&mut self, person: &Person) -> io::Result<()> {
        use std::fmt::Write as _;
        self.date.clear();
        // Writing into a String cannot fail.
        let _ = write!(self.date, "{}", person.birth_date);
        self.superseded.clear();
        for (i, id) in person.superseded_ids.iter().enumerate() {
            if i > 0 {
                self.superseded.push(';');
            }
            self.superseded.push_str(id);
        }
        let province = [
            b'0' + person.birth_province / 10 % 10,
            b'0' + person.birth_province % 10,
        ];
        let fields: [&[u8]; 9] = [
            person.personal_id.as_bytes(),
            self.superseded.as_bytes(),
            person.family_name.as_bytes(),
            person.middle_name.as_bytes(),
            person.given_name.as_bytes(),
            self.date.as_bytes(),
            person.sex.as_str().as_bytes(),
            &province,
            if person.deceased { b"true" } else { b"false" },
        ];
        self.csv.write_record(fields)?;
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        self.csv
            .into_inner()
            .map_err(|e| io::Error::other(e.error().to_string()))
    }
}

/// Writes `civil_servants.csv`: the byte-order mark, the header, a row per entry.
pub fn write_civil_servants<W: Write>(mut out: W, list: &CivilServantList) -> io::Result<W> {
    out.write_all(UTF8_BOM)?;
    let mut csv = csv_writer(out);
    csv.write_record(CIVIL_SERVANT_COLUMNS)?;
    for entry in &list.entries {
        csv.serialize(CivilServantRow::from(entry))?;
    }
    csv.into_inner()
        .map_err(|e| io::Error::other(e.error().to_string()))
}

/// Writes `truth.csv`.
pub fn write_truth<W: Write>(out: W, list: &CivilServantList) -> io::Result<W> {
    let mut csv = csv_writer(out);
    csv.write_record(TRUTH_COLUMNS)?;
    for entry in &list.entries {
        csv.serialize(TruthRow::from(entry))?;
    }
    csv.into_inner()
        .map_err(|e| io::Error::other(e.error().to_string()))
}

/// Everything [`generate`] makes, beyond the output directory.
#[derive(Debug, Clone, PartialEq)]
pub struct DatagenOptions {
    /// People in the register.
    pub people: u64,
    /// Rows in the civil-servant list.
    pub civil_servants: usize,
    pub seed: u64,
    /// The day the list describes: civil servants are of working age on it.
    pub reference_date: Date,
    pub rates: Rates,
    pub register: RegisterOptions,
}

impl Default for DatagenOptions {
    fn default() -> Self {
        Self {
            people: 100_000,
            civil_servants: 10_000,
            seed: 2026,
            reference_date: DEFAULT_REFERENCE_DATE,
            rates: Rates::default(),
            register: RegisterOptions::default(),
        }
    }
}

/// `datagen.json`: how the data was made and what it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub seed: u64,
    pub reference_date: Date,
    pub register: RegisterCounts,
    pub civil_servants: ListCounts,
    pub rates: Rates,
    pub register_options: RegisterOptions,
    /// Rows per error kind (every kind, zero included).
    pub errors: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterCounts {
    pub people: u64,
    /// People with a superseded number.
    pub with_superseded_id: u64,
    pub deceased: u64,
    /// People alive and of working age on the reference date.
    pub eligible: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCounts {
    pub rows: u64,
    /// Rows describing a register person (duplicates included).
    pub in_register: u64,
    pub not_in_register: u64,
    pub duplicates: u64,
    /// Rows without any error.
    pub clean: u64,
}

fn create(path: &Path) -> Result<BufWriter<File>, DatagenError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 16, f))
        .map_err(|source| DatagenError::Write {
            path: path.to_owned(),
            source,
        })
}

fn finish_file(path: &Path, result: io::Result<BufWriter<File>>) -> Result<(), DatagenError> {
    let write_error = |source| DatagenError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = result.map_err(write_error)?;
    file.flush().map_err(write_error)
}

/// Generates the register and the civil-servant list into `out_dir` (created if missing): the
/// register streams to `register.csv` without being held in memory.
pub fn generate(options: &DatagenOptions, out_dir: &Path) -> Result<Summary, DatagenError> {
    options.rates.validate()?;
    std::fs::create_dir_all(out_dir).map_err(|source| DatagenError::Write {
        path: out_dir.to_owned(),
        source,
    })?;
    let path = |name: &str| -> PathBuf { out_dir.join(name) };

    let mut register = Register::with_options(options.seed, options.register.clone())?;
    let mut sampler = ListSampler::new(ListOptions {
        size: options.civil_servants,
        reference_date: options.reference_date,
        rates: options.rates.clone(),
        seed: options.seed,
    })?;
    let register_path = path(REGISTER_FILE);
    let write_error = |source| DatagenError::Write {
        path: register_path.clone(),
        source,
    };
    let mut writer = RegisterWriter::new(create(&register_path)?).map_err(write_error)?;
    let mut counts = RegisterCounts {
        people: options.people,
        with_superseded_id: 0,
        deceased: 0,
        eligible: 0,
    };
    for _ in 0..options.people {
        let person = register.person();
        writer.write(&person).map_err(write_error)?;
        counts.with_superseded_id += u64::from(!person.superseded_ids.is_empty());
        counts.deceased += u64::from(person.deceased);
        sampler.offer(&person);
    }
    finish_file(&register_path, writer.finish())?;
    counts.eligible = sampler.eligible_seen();

    let list = sampler.finish(&mut register);
    let list_path = path(CIVIL_SERVANTS_FILE);
    finish_file(&list_path, write_civil_servants(create(&list_path)?, &list))?;
    let truth_path = path(TRUTH_FILE);
    finish_file(&truth_path, write_truth(create(&truth_path)?, &list))?;

    let errors = list.error_counts();
    let count = |kind| errors.get(&kind).copied().unwrap_or_default();
    let summary = Summary {
        seed: options.seed,
        reference_date: options.reference_date,
        register: counts,
        civil_servants: ListCounts {
            rows: list.len() as u64,
            in_register: list.entries.iter().filter(|e| e.in_register).count() as u64,
            not_in_register: count(crate::ErrorKind::NotInRegister),
            duplicates: count(crate::ErrorKind::Duplicate),
            clean: list.entries.iter().filter(|e| e.errors.is_empty()).count() as u64,
        },
        rates: options.rates.clone(),
        register_options: options.register.clone(),
        errors: errors
            .iter()
            .map(|(kind, n)| (kind.as_str().to_owned(), *n))
            .collect(),
    };
    let summary_path = path(SUMMARY_FILE);
    let mut json = serde_json::to_string_pretty(&summary).map_err(DatagenError::Json)?;
    json.push('\n');
    std::fs::write(&summary_path, json).map_err(|source| DatagenError::Write {
        path: summary_path,
        source,
    })?;
    Ok(summary)
}
