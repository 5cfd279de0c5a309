//! The partner-topic projection stage (`lienthong share`): resolved and canonical records in,
//! for every partner whose sharing policy enables an entity's partner topic a copy carrying
//! only the granted fields out to `share.<partner>.<entity>.v1` (same key, same protobuf
//! message, the standard headers), every delivered record audited through an [`AuditSink`].
//!
//! Partners decode these topics with the published `proto/` files; fields a policy does not
//! grant are absent (cleared), not blanked with placeholders.

pub mod audit;
pub mod config;
pub mod project;
pub mod stage;

pub use audit::{
    AuditError, AuditLogSink, AuditSink, KafkaAuditSink, PersonalId, ShareAudit, ShareResult,
};
pub use config::{ShareConfig, ShareInputs};
pub use project::{PartnerRecord, Projection, project};
pub use stage::{STAGE, ShareError, ShareMetrics, ShareStage};
