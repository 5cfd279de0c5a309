//! Identity resolution against the National Population Database: the pure core of the resolver.
//!
//! A record from a source database (a civil servant, an insured person) names a person by
//! personal ID number, name, birth date, sex and birth province, each possibly missing or wrong.
//! This crate decides which person of the population register the record is, and says why:
//!
//! | module | job |
//! |---|---|
//! | [`record`] | the compared values: personal ID, partial birth date, sex, province and the 2025 merger map |
//! | [`normalise`] | the name foldings comparisons need ([`NameNormaliser`]) and a built-in implementation |
//! | [`compare`] | string comparators: Jaro, Jaro–Winkler, bounded Levenshtein/Damerau, token comparisons |
//! | [`levels`] | comparison levels per field (exact, tone-folded, day/month swapped, ...) |
//! | [`model`] | Fellegi–Sunter weights with term-frequency adjustment, explanations, JSON parameters |
//! | [`training`] | u from random pairs, m by expectation–maximisation |
//! | [`index`] | the compact in-memory population index: lookup by ID, blocking, live updates, snapshots |
//! | [`matcher`] | the verdict: deterministic by ID, else probabilistic; MATCHED / AMBIGUOUS / NOT_FOUND ... |
//!
//! Those modules are the pure core: no I/O beyond `std::io::{Read, Write}` for index
//! snapshots, nothing async, tested without servers. The service shell wraps them:
//!
//! | module | job |
//! |---|---|
//! | [`values`], [`convert`] | reading exported values; contracts (`lienthong.v1`) to and from the core's types |
//! | [`register`] | loading the register from a CSV extract or a PostgreSQL query |
//! | [`service`] | `[resolve]` configuration, the shared index + matcher, metrics |
//! | [`feed`] | `population.v1` keeps the index live; snapshots with their topic positions |
//! | [`grpc`] | `ResolveService` with health and reflection, TLS when configured |
//! | [`callers`] | who may call it: allowed certificate names and tokens |
//! | [`stage`] | `canonical.*` → `resolved.*` and the review topic |
//! | [`reconcile`] | batch reconciliation of a list and the reports for officials |

pub mod callers;
pub mod compare;
pub mod convert;
pub mod feed;
pub mod grpc;
mod hash;
pub mod index;
pub mod levels;
pub mod matcher;
pub mod model;
pub mod normalise;
pub mod reconcile;
pub mod record;
pub mod register;
pub mod service;
pub mod stage;
#[cfg(test)]
mod testing;
pub mod training;
pub mod values;

pub use index::{PersonId, PopulationIndex};
pub use levels::{ComparisonVector, Field, FieldLevels};
pub use matcher::{MatchStatus, Matcher, MatcherConfig, QueryRecord, Resolution};
pub use model::{Explanation, Model, ModelParams};
pub use normalise::{NameNormaliser, VietnameseNameNormaliser};
pub use record::{
    PartialDate, PersonName, Pin, PopulationEntry, Province, ProvinceCodeSystem, ProvinceMap, Sex,
};
