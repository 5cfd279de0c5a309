//! Per-partner sharing policies: who a partner is (token hashes, client-certificate names), which
//! entities and which fields of them it may read, for which stated purposes, and which partner
//! topics (`share.<partner>.<entity>.v1`) it receives. The same policy governs lookups and
//! partner topics.
//!
//! One TOML file per partner in a directory (see `schemas/policies/`). Deny by default: an
//! entity a policy does not list is refused, a field no granted path covers is cleared, and
//! sensitive personal data (Decree 13/2023/NĐ-CP: ethnic origin, religion, political
//! affiliation; and salary) is masked even under a wildcard unless a path names it. Field paths
//! are checked against the published protobuf descriptors when the policies load, so a typo is
//! an error naming the file and the path, never a silently empty grant.
//!
//! [`Policies`] holds the set in force and swaps it whole when the directory changes; a set that
//! does not load never replaces a good one.
//!
//! ```toml
//! id = "bhxh-viet-nam"
//! name = "Bảo hiểm xã hội Việt Nam"
//! purposes = ["doi-soat-dong-bhxh"]
//!
//! [authentication]
//! token_sha256 = ["<sha-256 of the token, hex>"]
//! certificate_subjects = ["CN=lgsp.baohiemxahoi.gov.vn,O=Bao hiem xa hoi Viet Nam,C=VN"]
//!
//! [entities.civil_servant]
//! fields = ["record_id", "person.*", "organisation_id", "salary_coefficient", "resolution.status"]
//! topic = true
//! ```

mod entity;
mod fields;
mod partner;
mod reload;
mod set;

use std::path::PathBuf;
use std::time::Duration;

use lienthong_runtime::config::{Problems, Validate};
use serde::{Deserialize, Serialize};

pub use entity::{Entity, PolicyMessage, UnknownEntity};
pub use fields::{NAMED_ONLY, named_only_reason};
pub use partner::{Denied, EntityPolicy, Grant, PartnerPolicy, normalize_subject, token_sha256};
pub use reload::Policies;
pub use set::{PolicyError, PolicyProblem, PolicySet};

/// `[policy]`: where the partner policies live.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Directory of partner policy files, one `<partner>.toml` per partner.
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// How often the directory is checked for changed policy files, in milliseconds; 0 turns
    /// reloading off (a restart is then needed to apply a change).
    #[serde(
        rename = "reload_interval_ms",
        default = "default_reload_interval",
        with = "millis"
    )]
    #[schemars(with = "u64")]
    pub reload_interval: Duration,
}

fn default_dir() -> PathBuf {
    PathBuf::from("schemas/policies")
}

pub(crate) fn default_reload_interval() -> Duration {
    Duration::from_secs(2)
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            dir: default_dir(),
            reload_interval: default_reload_interval(),
        }
    }
}

impl Validate for PolicyConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.dir.as_os_str().is_empty() {
            problems.push("dir", "must not be empty");
        }
    }
}

/// A [`Duration`] written as whole milliseconds, as every other interval in the configuration.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}
