//! The translator's pure core: source rows in, canonical master data out.
//!
//! Every source database (25 of them, each with its own column names, formats and code lists)
//! is described by a *mapping file*; onboarding a source is writing one, not code. This crate
//! reads those files and applies them to change events; every module but [`stage`] is pure (no
//! Kafka, no async, no clock). [`stage`] is the `lienthong translate` service around it:
//! consuming `cdc.*`, producing `canonical.<entity>.v1`, dead-lettering, reloading mappings.
//!
//! | module | job |
//! |---|---|
//! | [`mapping`] | mapping files: format, loading with precise errors, JSON Schema |
//! | [`Mapping::apply`] (module `engine`) | one change event → one [`MappedRecord`] or a [`MappingError`] |
//! | [`codelist`] | code lists with validity dates and crosswalks (63 → 34 provinces, both ethnic lists...) |
//! | [`quality`] | the six criteria: đúng, đủ, sạch, sống, thống nhất, dùng chung |
//! | [`date`] | calendar dates and Vietnamese date formats, partial dates included |
//! | [`entity`] | the canonical entities as one enum |
//! | [`record`] | the translation result, record ids |
//! | `draft` | records while they are built, their text borrowed from the event and code lists |
//! | `event` | change events read in place from their protobuf bytes, for the stage |
//! | `wire` | canonical records written as protobuf in one pass, for the stage |
//! | [`trial`] | `lienthong mapping test`: a mapping tried on sample rows (JSON or CSV), no Kafka |
//! | [`stage`] | the Kafka stage: offsets committed after acknowledgement, `dlq.translate`, reload |
//!
//! Vietnamese text rules (NFC, tone marks, TCVN3/VNI, names, ID numbers) come from
//! `lienthong-vietnamese`.
//!
//! ```
//! use std::path::Path;
//! use std::time::SystemTime;
//! use lienthong_translate::{codelist::CodeLists, mapping::MappingSet};
//!
//! let schemas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
//! let code_lists = CodeLists::load_dir(schemas.join("codelists"))?;
//! let mappings = MappingSet::load_dir(schemas.join("mappings"), &code_lists)?;
//! let mapping = mappings.find("bhxh", "bhxh", "QUA_TRINH_THAM_GIA").expect("shipped mapping");
//! assert_eq!(mapping.entity().topic(), "canonical.social_insurance.v1");
//! // For each change event of that table:
//! // let record = mapping.apply(&event, &code_lists, SystemTime::now())?;
//! # let _ = SystemTime::now();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod codelist;
pub mod date;
mod draft;
mod engine;
pub mod entity;
mod event;
pub mod location;
pub mod mapping;
pub mod quality;
pub mod record;
pub mod sample;
pub mod stage;
mod text;
pub mod trial;
mod wire;

pub use codelist::CodeLists;
pub use entity::{CanonicalEntity, EntityKind};
pub use mapping::{Mapping, MappingFileError, MappingSet, MappingSetError};
pub use record::{MappedRecord, MappingError, RecordOperation};
