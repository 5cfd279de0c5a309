//! Loading the population register into the index: from a CSV extract, a Parquet snapshot, a
//! PostgreSQL table or query, or from an index snapshot written earlier.
//!
//! Every source has the same columns (extra columns are ignored):
//!
//! | column | value |
//! |---|---|
//! | `personal_id` | the current 12-digit number |
//! | `superseded_ids` | earlier numbers, separated by `;` (or a PostgreSQL array) |
//! | `family_name`, `middle_name`, `given_name` | the name's parts |
//! | `birth_date` | `YYYY-MM-DD` (or a partial `YYYY-MM`, `YYYY`) |
//! | `sex` | `male`/`female` (also `Nam`/`Nữ`, `1`/`2`) |
//! | `birth_province` | the province code of birth registration |
//! | `deceased` | `true`/`false` (empty: false) |
//!
//! A row that cannot be read is left out and reported with its line (or row number) and
//! reason; the load never stops for one bad row. Inconsistencies between rows (one number held
//! by two people) stop the load: the extract is not a register.

mod parquet;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use crate::index::{IndexError, PopulationIndex};
use crate::normalise::VietnameseNameNormaliser;
use crate::record::{PersonName, Pin, PopulationEntry, ProvinceMap};
use crate::values::{DateOrder, ProvinceCodes, parse_date, parse_province, parse_sex};

pub use self::parquet::{ParquetRegisterError, check_parquet, load_parquet};

/// The register columns, in the order of a CSV extract.
pub const COLUMNS: [&str; 9] = [
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

/// `[resolve.register]`: where the base register comes from when there is no snapshot.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegisterSource {
    /// No base extract: the index starts empty and is filled from the `population.v1` topic.
    #[default]
    None,
    /// A CSV extract with the register columns (header row, UTF-8).
    Csv {
        path: PathBuf,
        #[serde(default = "default_register_codes")]
        province_codes: ProvinceCodes,
    },
    /// A Parquet snapshot with the register columns (text or typed: see
    /// [`load_parquet`]).
    Parquet {
        path: PathBuf,
        #[serde(default = "default_register_codes")]
        province_codes: ProvinceCodes,
    },
    /// A PostgreSQL query whose result has the register columns (any column types that cast to
    /// text), e.g. `SELECT * FROM population_register`.
    Postgres {
        /// A database of `[databases]`.
        database: String,
        query: String,
        #[serde(default = "default_register_codes")]
        province_codes: ProvinceCodes,
    },
}

fn default_register_codes() -> ProvinceCodes {
    ProvinceCodes::Pre2025
}

/// Why the register could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot read the register extract {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the register extract {path} is not valid CSV: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error(transparent)]
    Parquet(Box<ParquetRegisterError>),
    #[error("the register extract lacks the column(s) {0}")]
    MissingColumns(String),
    #[error("the register query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("the register is inconsistent: {0}")]
    Inconsistent(#[from] IndexError),
    #[error("the index build stopped unexpectedly")]
    BuildStopped,
}

/// One register row's values as text.
#[derive(Debug, Default, Clone, Copy)]
pub struct RegisterRow<'a> {
    pub personal_id: &'a str,
    pub superseded_ids: &'a str,
    pub family_name: &'a str,
    pub middle_name: &'a str,
    pub given_name: &'a str,
    pub birth_date: &'a str,
    pub sex: &'a str,
    pub birth_province: &'a str,
    pub deceased: &'a str,
}

/// Reads one row into an index entry.
pub fn parse_row(
    row: &RegisterRow<'_>,
    map: &ProvinceMap,
    codes: ProvinceCodes,
) -> Result<PopulationEntry, String> {
    let pin = Pin::parse(row.personal_id.trim())
        .map_err(|e| format!("personal_id `{}`: {e}", row.personal_id))?;
    let superseded = row
        .superseded_ids
        .trim_matches(|c| c == '{' || c == '}')
        .split([';', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Pin::parse(s).map_err(|e| format!("superseded_ids `{s}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let birth_date =
        parse_date(row.birth_date, DateOrder::Dmy).map_err(|e| format!("birth_date {e}"))?;
    let sex = parse_sex(row.sex).map_err(|e| format!("sex {e}"))?;
    let birth_province = parse_province(row.birth_province, codes, map)
        .map_err(|e| format!("birth_province {e}"))?;
    let deceased = match row.deceased.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "f" | "0" | "no" => false,
        "true" | "t" | "1" | "yes" => true,
        other => return Err(format!("deceased `{other}` is not true/false")),
    };
    Ok(PopulationEntry {
        pin,
        superseded,
        name: PersonName::new(
            row.family_name.trim(),
            row.middle_name.trim(),
            row.given_name.trim(),
        ),
        birth_date,
        sex,
        birth_province,
        deceased,
    })
}

/// How a load went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: u64,
    pub rejected: u64,
    /// The first rejected rows (position and reason), at most [`LoadReport::KEEP`].
    pub problems: Vec<String>,
}

impl LoadReport {
    pub const KEEP: usize = 20;

    fn reject(&mut self, at: String, why: String) {
        self.rejected += 1;
        if self.problems.len() < Self::KEEP {
            self.problems.push(format!("{at}: {why}"));
        }
    }
}

/// An empty index with the resolver's normaliser.
pub fn empty_index(map: ProvinceMap) -> PopulationIndex {
    PopulationIndex::new(Arc::new(VietnameseNameNormaliser::default()), map)
}

/// Where each of [`COLUMNS`] is in a header row (a byte-order mark tolerated), or which are
/// missing.
pub fn column_positions<'a>(
    headers: impl Iterator<Item = &'a str>,
) -> Result<[usize; COLUMNS.len()], RegisterError> {
    let headers: Vec<&str> = headers
        .map(|h| h.trim_start_matches('\u{feff}').trim())
        .collect();
    let mut at = [0usize; COLUMNS.len()];
    let mut missing = Vec::new();
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        match headers.iter().position(|h| *h == name) {
            Some(p) => *slot = p,
            None => missing.push(name),
        }
    }
    if missing.is_empty() {
        Ok(at)
    } else {
        Err(RegisterError::MissingColumns(missing.join(", ")))
    }
}

/// Builds the index from an extract file: Parquet when its name ends in `.parquet` (or
/// `.parq`), CSV otherwise.
pub fn load_file(
    path: &Path,
    map: &ProvinceMap,
    codes: ProvinceCodes,
) -> Result<(PopulationIndex, LoadReport), RegisterError> {
    if is_parquet(path) {
        load_parquet(path, map, codes)
    } else {
        load_csv(path, map, codes)
    }
}

/// Whether an extract file's name says Parquet.
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("parq"))
}

/// Checks that a CSV extract can be opened and has the register columns, reading only its
/// header (for `lienthong validate`).
pub fn check_csv(path: &Path) -> Result<(), RegisterError> {
    let mut reader = csv::Reader::from_path(path).map_err(|source| RegisterError::Csv {
        path: path.to_path_buf(),
        source,
    })?;
    let headers = reader.headers().map_err(|source| RegisterError::Csv {
        path: path.to_path_buf(),
        source,
    })?;
    column_positions(headers.iter()).map(|_| ())
}

/// Builds the index from a CSV extract.
pub fn load_csv(
    path: &Path,
    map: &ProvinceMap,
    codes: ProvinceCodes,
) -> Result<(PopulationIndex, LoadReport), RegisterError> {
    let file = std::fs::File::open(path).map_err(|source| RegisterError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let csv_error = |source| RegisterError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let headers = reader.headers().map_err(csv_error)?.clone();
    let at = column_positions(headers.iter())?;
    let mut report = LoadReport::default();
    let mut read_error = None;
    let mut record = csv::StringRecord::new();
    let entries = std::iter::from_fn(|| {
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => return None,
                Err(e) => {
                    read_error = Some(e);
                    return None;
                }
                Ok(true) => {}
            }
            let field = |i: usize| record.get(at[i]).unwrap_or("");
            let row = RegisterRow {
                personal_id: field(0),
                superseded_ids: field(1),
                family_name: field(2),
                middle_name: field(3),
                given_name: field(4),
                birth_date: field(5),
                sex: field(6),
                birth_province: field(7),
                deceased: field(8),
            };
            match parse_row(&row, map, codes) {
                Ok(entry) => {
                    report.loaded += 1;
                    return Some(entry);
                }
                Err(why) => {
                    let line = record.position().map_or(0, csv::Position::line);
                    report.reject(format!("line {line}"), why);
                }
            }
        }
    });
    let index = PopulationIndex::build(
        entries,
        Arc::new(VietnameseNameNormaliser::default()),
        map.clone(),
    )?;
    if let Some(e) = read_error {
        return Err(csv_error(e));
    }
    Ok((index, report))
}

/// Builds the index from a PostgreSQL query. Rows are streamed into the build on a thread of
/// its own, so the register is never held twice.
pub async fn load_postgres(
    url: &str,
    query: &str,
    map: &ProvinceMap,
    codes: ProvinceCodes,
) -> Result<(PopulationIndex, LoadReport), RegisterError> {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(RegisterError::Query)?;
    let casts: Vec<String> = COLUMNS
        .iter()
        .map(|c| format!("({c})::text AS {c}"))
        .collect();
    let sql = format!(
        "SELECT {} FROM ({}) AS register",
        casts.join(", "),
        query.trim().trim_end_matches(';')
    );
    let (tx, rx) = std::sync::mpsc::sync_channel::<PopulationEntry>(8_192);
    let build_map = map.clone();
    let builder = std::thread::spawn(move || {
        PopulationIndex::build(rx, Arc::new(VietnameseNameNormaliser::default()), build_map)
    });
    let mut report = LoadReport::default();
    let mut rows = sqlx::query(&sql).fetch(&mut conn);
    let mut number = 0u64;
    let mut failure = None;
    loop {
        let row = match rows.try_next().await {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                failure = Some(RegisterError::Query(e));
                break;
            }
        };
        number += 1;
        let text = |name: &str| -> String {
            row.try_get::<Option<String>, _>(name)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let values: Vec<String> = COLUMNS.iter().map(|c| text(c)).collect();
        let parsed = parse_row(
            &RegisterRow {
                personal_id: &values[0],
                superseded_ids: &values[1],
                family_name: &values[2],
                middle_name: &values[3],
                given_name: &values[4],
                birth_date: &values[5],
                sex: &values[6],
                birth_province: &values[7],
                deceased: &values[8],
            },
            map,
            codes,
        );
        match parsed {
            Ok(entry) => {
                report.loaded += 1;
                if tx.send(entry).is_err() {
                    // The build stopped early: its error says why.
                    break;
                }
            }
            Err(why) => report.reject(format!("row {number}"), why),
        }
    }
    drop(rows);
    drop(tx);
    let built = builder.join().map_err(|_| RegisterError::BuildStopped)?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((built?, report))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::record::{ProvinceCodeSystem, Sex};

    fn map() -> ProvinceMap {
        ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8)]).unwrap()
    }

    #[test]
    fn a_csv_extract_loads_and_bad_rows_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.csv");
        std::fs::write(
            &path,
            "personal_id,superseded_ids,family_name,middle_name,given_name,birth_date,sex,birth_province,deceased,extra\n\
             002090001234,002190001234,Nguyễn,Văn,An,1990-04-12,male,02,false,x\n\
             001185000001,,Trần,Thị,Bình,1985,female,01,,y\n\
             12345,,Lê,,Cường,1970-01-01,male,01,false,z\n\
             001070000002,,Lê,,Cường,1970-13-01,male,01,false,z\n",
        )
        .unwrap();
        let (index, report) = load_csv(&path, &map(), ProvinceCodes::Pre2025).unwrap();
        assert_eq!(index.len(), 2);
        assert_eq!(report.loaded, 2);
        assert_eq!(report.rejected, 2);
        assert!(
            report.problems[0].starts_with("line 4: personal_id"),
            "{:?}",
            report.problems
        );
        assert!(
            report.problems[1].starts_with("line 5: birth_date"),
            "{:?}",
            report.problems
        );
        let found = index
            .lookup_pin(Pin::parse("002190001234").unwrap())
            .unwrap();
        let person = index.person(found.person).unwrap();
        assert_eq!(person.name().given, "An");
        assert_eq!(person.sex, Some(Sex::Male));
        assert_eq!(
            person.birth_province.map(|p| (p.system(), p.code())),
            Some((ProvinceCodeSystem::Pre2025, 2))
        );
    }

    #[test]
    fn missing_columns_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.csv");
        std::fs::write(&path, "personal_id,family_name\n001090000001,Lê\n").unwrap();
        let err = load_csv(&path, &map(), ProvinceCodes::Pre2025).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("superseded_ids") && text.contains("deceased"),
            "{text}"
        );
    }

    #[test]
    fn two_people_with_one_number_stop_the_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.csv");
        let header = COLUMNS.join(",");
        std::fs::write(
            &path,
            format!(
                "{header}\n001090000001,,Lê,,An,1990,male,01,\n001090000001,,Lê,,Bình,1990,male,01,\n"
            ),
        )
        .unwrap();
        assert!(matches!(
            load_csv(&path, &map(), ProvinceCodes::Pre2025),
            Err(RegisterError::Inconsistent(IndexError::DuplicatePin(_)))
        ));
    }
}
