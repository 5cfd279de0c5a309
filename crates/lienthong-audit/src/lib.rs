//! The audit log of every lookup and every partner delivery: who (partner), what (method and
//! fields returned), about whom (a keyed hash of the personal ID), when, for what purpose, and
//! with what result — as Decree 13/2023/NĐ-CP asks of anyone processing personal data.
//!
//! The log lives in PostgreSQL (schema `lienthong_audit`) and is tamper-evident:
//! - every record carries the hash of the record before it, and its own hash over a canonical
//!   encoding of its sequence number, that link and every field ([`chain`]), so a changed,
//!   deleted or re-linked row breaks the chain at its sequence number;
//! - sequence numbers are gapless, assigned while holding the chain head's row lock, so any
//!   number of appenders in any number of processes write one chain;
//! - triggers refuse `UPDATE`, `DELETE` and `TRUNCATE`: a superuser can drop them, but not
//!   without the chain showing what was done afterwards;
//! - each appended record is also published as JSON to the audit topic, a copy outside the
//!   database's reach, from the log itself ([`publish`]): an outage of the broker delays the
//!   copy but neither the append nor the record.
//!
//! [`AuditLog::verify`] (and `lienthong audit verify`) walks the chain in sequence order.

pub mod chain;
mod config;
mod log;
pub mod publish;
mod subject;
mod topic;

pub use chain::{BreakKind, ChainBreak, ChainHead, ChainedRecord, Hash};
pub use config::AuditConfig;
pub use log::{AuditLog, VerifyReport, verify_database};
pub use subject::SubjectKey;
pub use topic::AuditTopic;

use lienthong_runtime::error::{ErrorClass, classify_sqlx};
use lienthong_runtime::{Classify, config::redact_url};

/// One audited access, as the service that served it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The partner (ministry, integrator) that made the call or received the record.
    pub partner: String,
    /// What was called: a gRPC method (`lienthong.v1.LookupService/GetPerson`), or
    /// `share.<partner>.<entity>.v1` for a partner-topic delivery.
    pub method: String,
    /// The raw personal ID the call was about, when it was about one person. Hashed with the
    /// subject key on append; never stored or published as it is.
    pub subject: Option<String>,
    /// Paths of the fields returned (`name.family`, `birth_date`), after policy filtering.
    pub fields: Vec<String>,
    /// The purpose the partner's policy states for this access.
    pub purpose: String,
    /// `ok`, `not_found`, `permission_denied`, `invalid_argument`, `delivered`, ...
    pub result: String,
    /// Anything else worth keeping (a denial's reason, a search's filter); never personal data
    /// in the clear.
    pub detail: String,
    /// When the access happened. Stored with microsecond precision.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Why the audit log could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot connect to the audit database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("creating or migrating the audit schema failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("the audit database failed while {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "{url} has no audit log (schema lienthong_audit): no service with [audit] enabled has used it"
    )]
    NoAuditLog { url: String },
    #[error("the subject key is empty: set [audit] subject_key (e.g. `openssl rand -hex 32`)")]
    EmptySubjectKey,
    #[error("event {index} of the batch cannot be stored: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("the audit chain head is unreadable ({reason}): run `lienthong audit verify`")]
    CorruptHead { reason: String },
    #[error(
        "the audit topic {topic} has the log up to seq {published} of {head}; the rest is published by the next service that publishes to it"
    )]
    Unpublished {
        topic: String,
        published: u64,
        head: u64,
    },
}

impl AuditError {
    fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }

    fn connect(url: &str) -> impl FnOnce(sqlx::Error) -> Self + '_ {
        move |source| Self::Connect {
            url: redact_url(url),
            source,
        }
    }
}

impl Classify for AuditError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Connect { source, .. } | Self::Database { source, .. } => classify_sqlx(source),
            Self::Migrate(e) => ErrorClass::operator(format!("fix the audit schema: {e}")),
            Self::NoAuditLog { .. } => {
                ErrorClass::operator("point [audit] database at the audit log's database")
            }
            Self::EmptySubjectKey => ErrorClass::operator("set [audit] subject_key"),
            Self::InvalidEvent { .. } => ErrorClass::DeadLetter {
                kind: "invalid-audit-event",
            },
            Self::CorruptHead { .. } => ErrorClass::operator(
                "the audit log was tampered with: run `lienthong audit verify`",
            ),
            Self::Unpublished { .. } => ErrorClass::Transient,
        }
    }
}
