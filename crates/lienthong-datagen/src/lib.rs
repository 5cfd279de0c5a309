//! Synthetic data with known truth for the population-ID resolver: a Vietnamese population
//! register, and a civil-servant list drawn from it with errors injected at stated rates.
//!
//! | module | job |
//! |---|---|
//! | [`register`] | register people ([`Person`]) from an endless deterministic stream ([`Register`]); unique `PPP G YY NNNNNN` numbers, superseded numbers |
//! | [`names`] | family, middle and given names with their frequencies |
//! | [`provinces`] | the 63 pre-2025 provinces, the 34 units from 2025-07-01, the merger map |
//! | [`errors`] | the kinds of error ([`ErrorKind`]) and their rates ([`Rates`]) |
//! | [`noise`] | what a source row states about a person, errors injected ([`Noise`]) |
//! | [`organisations`] | central and provincial organisations that employ civil servants |
//! | [`civil_servants`] | the list: a sample of working-age register people, absent people, duplicates ([`ListSampler`]) |
//! | [`output`] | the CSV files and `datagen.json`; [`generate`] writes them all |
//! | [`sources`] | the civil-servant (PostgreSQL) and social-security (MariaDB) source tables the shipped mappings read, rows and truth ([`plan_sources`], [`generate_sources`]) |
//! | [`db`] | creating those tables and bulk-loading the rows |
//! | [`workload`] | a live workload of changes against the loaded tables, rate-limited ([`workload::run`]) |
//!
//! Everything is deterministic by seed. The register is a stream, so ten million people go to
//! disk without being held in memory:
//!
//! ```
//! use lienthong_datagen::{ListOptions, ListSampler, Register};
//!
//! let mut register = Register::new(2026);
//! let mut sampler = ListSampler::new(ListOptions::new(100, 7))?;
//! for person in register.by_ref().take(2_000) {
//!     sampler.offer(&person); // and write it out
//! }
//! let list = sampler.finish(&mut register);
//! assert_eq!(list.len(), 100);
//! for entry in &list.entries {
//!     // What the row states, and the truth: who it is and which errors it holds.
//!     let _ = (&entry.stated, entry.truth_id(), &entry.errors);
//! }
//! # Ok::<(), lienthong_datagen::DatagenError>(())
//! ```

use std::path::PathBuf;

pub mod civil_servants;
pub mod date;
pub mod db;
pub mod errors;
pub mod names;
pub mod noise;
pub mod organisations;
pub mod output;
pub mod provinces;
pub mod register;
pub mod sources;
pub mod workload;

pub use civil_servants::{
    CivilServantList, DEFAULT_REFERENCE_DATE, ListEntry, ListOptions, ListSampler, WORKING_AGES,
    draw_list, is_eligible,
};
pub use date::{Date, DateError};
pub use errors::{ErrorKind, Rates};
pub use noise::{Noise, ProvinceList, StatedPerson, StatedProvince, strip_diacritics};
pub use organisations::Organisation;
pub use output::{DatagenOptions, Summary, generate};
pub use register::{Person, Register, RegisterOptions, Sex};
pub use sources::defects::{Defect, DefectRates};
pub use sources::{SourceOptions, SourcePlan, SourceSummary, generate_sources, plan_sources};

/// Why data could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DatagenError {
    #[error("{name} = {value} is not a probability between 0 and 1")]
    Rate { name: String, value: f64 },
    #[error("`{0}` is not an error kind")]
    UnknownErrorKind(String),
    #[error("the rates are not valid TOML of error kinds and rates: {0}")]
    RatesFile(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the summary as JSON: {0}")]
    Json(#[source] serde_json::Error),
}
