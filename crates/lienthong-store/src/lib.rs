//! The materialised master data: every version of every resolved person and civil servant and
//! every canonical organisation, administrative unit and social-insurance record, in
//! PostgreSQL, with the validity interval of each version, soft deletes, and the personal IDs
//! the population register re-issued. The gRPC lookup API answers from it.
//!
//! | module | job |
//! |---|---|
//! | [`entity`] | the five entities: names, default topics, messages |
//! | [`version`] | what is written: versions and their query columns, register links (pure) |
//! | [`store`] | [`Store`]: migrations, the idempotent batch write path, the queries |
//! | [`quality`] | the six criteria over the current records: passes, flags, match outcomes |
//! | [`query`] | the answers' shapes, search pages and their tokens (pure) |
//! | [`stage`] | `lienthong store`: consume, write in batches, dead-letter, commit, lag |
//! | [`config`] | `[store]` |
//!
//! Tables (schema `lienthong_store`, see `migrations/`): `versions`, partitioned by entity
//! into `person`, `civil_servant`, `organisation`, `administrative_unit` and
//! `social_insurance`; `superseded_ids` (old personal ID → the number that replaced it).

pub mod config;
pub mod entity;
pub mod error;
pub mod quality;
pub mod query;
pub mod stage;
pub mod store;
pub mod version;

pub use config::{StoreConfig, StoreTopics};
pub use entity::Entity;
pub use error::StoreError;
pub use quality::{EntityQuality, QualitySummary};
pub use query::{
    CivilServantPage, CivilServantQuery, CivilServantView, PersonView, StoredRecord, StoredVersion,
    Subject,
};
pub use stage::{StoreMetrics, StoreStage};
pub use store::Store;
pub use version::{Applied, Change, KafkaOrigin, NewVersion, RecordContext, Supersession};
