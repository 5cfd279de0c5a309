//! One partner's policy: the file format, its checks, and the decisions it makes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use prost_reflect::{DynamicMessage, ReflectMessage as _};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::entity::{Entity, PolicyMessage};
use crate::fields::{self, FieldTree};

/// A policy file as written (`<partner>.toml`). Unknown keys are errors.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    /// The partner id: letters, digits, `-`, `_`; names its topics. Must match the file name.
    id: String,
    /// Display name (the agency's official name).
    name: String,
    /// The agreement or legal act the sharing rests on, shown by `policy check`.
    #[serde(default)]
    legal_basis: Option<String>,
    /// Purposes the partner may state.
    purposes: Vec<String>,
    #[serde(default)]
    authentication: AuthenticationFile,
    /// Granted entities by name; an entity not listed is denied.
    #[serde(default)]
    entities: BTreeMap<String, EntityFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticationFile {
    /// SHA-256 (hex) of each bearer token the partner may present. Never the token itself.
    #[serde(default)]
    token_sha256: Vec<String>,
    /// Client-certificate subjects (RFC 4514, `CN=...,O=...,C=VN`) or subject alternative
    /// names (DNS names, e-mail addresses, URIs) accepted for mutual TLS.
    #[serde(default)]
    certificate_subjects: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityFile {
    /// Granted field paths of the entity message.
    fields: Vec<String>,
    /// Purposes accepted for this entity (default: all of the partner's); a subset of them.
    #[serde(default)]
    purposes: Option<Vec<String>>,
    /// Produce the partner topic `share.<partner>.<entity>.v1`.
    #[serde(default)]
    topic: bool,
    /// The purpose recorded for records of the partner topic (default: the entity's first).
    #[serde(default)]
    topic_purpose: Option<String>,
}

/// What a partner may read of one entity.
#[derive(Debug, Clone)]
pub struct EntityPolicy {
    entity: Entity,
    fields: Vec<String>,
    purposes: Vec<String>,
    topic_purpose: Option<String>,
    record: FieldTree,
    resolution: Option<FieldTree>,
}

impl EntityPolicy {
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// The granted field paths as the policy states them, sorted.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Purposes accepted for this entity.
    pub fn purposes(&self) -> &[String] {
        &self.purposes
    }

    /// The purpose recorded for partner-topic records, when the partner topic is produced.
    pub fn topic_purpose(&self) -> Option<&str> {
        self.topic_purpose.as_deref()
    }

    /// Whether the resolver's verdict (`resolution` of `Resolved*` records) is shared.
    pub fn shares_resolution(&self) -> bool {
        self.resolution.is_some()
    }

    /// Sensitive (named-only) fields inside the granted area that stay masked because no path
    /// names them, sorted.
    pub fn masked_sensitive(&self) -> Vec<String> {
        self.named_only().0
    }

    /// Sensitive (named-only) fields the policy names, sorted.
    pub fn granted_sensitive(&self) -> Vec<String> {
        self.named_only().1
    }

    fn named_only(&self) -> (Vec<String>, Vec<String>) {
        let (mut masked, mut granted) = (Vec::new(), Vec::new());
        fields::named_only_fields(
            &fields::message(self.entity.message_name()),
            Some(&self.record),
            false,
            "",
            &mut masked,
            &mut granted,
        );
        if let Some(tree) = &self.resolution {
            fields::named_only_fields(
                &fields::message("lienthong.v1.ResolutionResult"),
                Some(tree),
                false,
                "resolution",
                &mut masked,
                &mut granted,
            );
        }
        masked.sort();
        granted.sort();
        (masked, granted)
    }

    fn apply_dynamic(&self, msg: &mut DynamicMessage) -> Vec<String> {
        let mut masked = BTreeSet::new();
        let desc = msg.descriptor();
        let name = desc.full_name();
        if name == self.entity.message_name() {
            fields::filter(msg, Some(&self.record), false, "", &mut masked);
        } else if Some(name) == self.entity.resolved_message_name() {
            msg.take_unknown_fields().for_each(drop);
            for field in desc.fields() {
                if !msg.has_field(&field) {
                    continue;
                }
                let (tree, prefix) = match field.name() {
                    "record" => (Some(&self.record), ""),
                    "resolution" if self.resolution.is_some() => {
                        (self.resolution.as_ref(), "resolution")
                    }
                    other => {
                        masked.insert(other.to_string());
                        msg.clear_field(&field);
                        continue;
                    }
                };
                if let prost_reflect::Value::Message(inner) = msg.get_field_mut(&field) {
                    fields::filter(inner, tree, false, prefix, &mut masked);
                }
            }
        } else {
            // Not this entity's message: nothing of it is granted.
            tracing::warn!(
                entity = %self.entity,
                message = name,
                "a grant was applied to another entity's message; cleared it whole"
            );
            fields::clear_all(msg, "", &mut masked);
        }
        masked.into_iter().collect()
    }
}

/// One partner's sharing policy.
#[derive(Debug, Clone)]
pub struct PartnerPolicy {
    id: String,
    name: String,
    legal_basis: Option<String>,
    file: PathBuf,
    purposes: Vec<String>,
    token_hashes: Vec<[u8; 32]>,
    certificate_subjects: Vec<String>,
    entities: BTreeMap<Entity, EntityPolicy>,
}

/// Why a request is refused; the text is fit for a PERMISSION_DENIED status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("partner {partner} is not granted {entity} data")]
    EntityNotGranted { partner: String, entity: Entity },
    #[error("a purpose is required: state why the data is needed")]
    PurposeMissing,
    #[error(
        "purpose `{purpose}` is not one partner {partner} may state for {entity} data (allowed: {})",
        allowed.join(", ")
    )]
    PurposeNotAllowed {
        partner: String,
        entity: Entity,
        purpose: String,
        allowed: Vec<String>,
    },
}

/// What a partner may read of an entity for a stated purpose: the decision of
/// [`PartnerPolicy::authorize`], applied to records with [`Grant::apply`].
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    partner: &'a PartnerPolicy,
    policy: &'a EntityPolicy,
    purpose: &'a str,
}

impl<'a> Grant<'a> {
    pub fn partner(&self) -> &'a PartnerPolicy {
        self.partner
    }

    pub fn entity(&self) -> Entity {
        self.policy.entity
    }

    /// The purpose the grant was given for, as the policy spells it.
    pub fn purpose(&self) -> &'a str {
        self.purpose
    }

    /// The entity's rules (fields, purposes, topic).
    pub fn policy(&self) -> &'a EntityPolicy {
        self.policy
    }

    /// The granted field paths, as the policy states them, sorted.
    pub fn fields(&self) -> Vec<String> {
        self.policy.fields.clone()
    }

    /// Clears every field of `message` the grant does not cover and returns the paths of those
    /// that held a value, sorted.
    ///
    /// `message` is the entity's message, or for person and civil servant the resolver's
    /// wrapper (`ResolvedPerson`, `ResolvedCivilServant`): then the grant's paths apply to
    /// `record`, and `resolution` is kept only when the policy names `resolution` (or paths
    /// inside it); masked paths of the record are reported without the `record.` prefix. Any
    /// other message is cleared whole.
    pub fn apply<M: PolicyMessage>(&self, message: &mut M) -> Vec<String> {
        let mut dynamic = DynamicMessage::new(fields::message(M::FULL_NAME));
        if dynamic.transcode_from(message).is_err() {
            // Our own message always re-decodes; if it ever did not, share nothing of it.
            *message = M::default();
            return vec!["*".to_string()];
        }
        let masked = self.apply_dynamic(&mut dynamic);
        *message = dynamic.transcode_to().unwrap_or_default();
        masked
    }

    /// [`Grant::apply`] on a message decoded with the published descriptors.
    pub fn apply_dynamic(&self, msg: &mut DynamicMessage) -> Vec<String> {
        self.policy.apply_dynamic(msg)
    }
}

impl PartnerPolicy {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn legal_basis(&self) -> Option<&str> {
        self.legal_basis.as_deref()
    }

    /// The file the policy was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Purposes the partner may state (for any entity).
    pub fn purposes(&self) -> &[String] {
        &self.purposes
    }

    /// How many bearer tokens the partner may present.
    pub fn token_count(&self) -> usize {
        self.token_hashes.len()
    }

    /// Certificate subjects and names accepted for mutual TLS, as normalised.
    pub fn certificate_subjects(&self) -> &[String] {
        &self.certificate_subjects
    }

    /// The granted entities, in [`Entity::ALL`] order.
    pub fn entities(&self) -> impl Iterator<Item = &EntityPolicy> {
        self.entities.values()
    }

    /// The rules of one entity, when granted.
    pub fn entity(&self, entity: Entity) -> Option<&EntityPolicy> {
        self.entities.get(&entity)
    }

    /// Decides whether the partner may read `entity` for `purpose`. Deny by default: an entity
    /// the policy does not list, an empty purpose, or a purpose it does not list is refused.
    pub fn authorize(&self, entity: Entity, purpose: &str) -> Result<Grant<'_>, Denied> {
        let Some(policy) = self.entities.get(&entity) else {
            return Err(Denied::EntityNotGranted {
                partner: self.id.clone(),
                entity,
            });
        };
        let purpose = purpose.trim();
        if purpose.is_empty() {
            return Err(Denied::PurposeMissing);
        }
        match policy.purposes.iter().find(|p| p.as_str() == purpose) {
            Some(allowed) => Ok(Grant {
                partner: self,
                policy,
                purpose: allowed,
            }),
            None => Err(Denied::PurposeNotAllowed {
                partner: self.id.clone(),
                entity,
                purpose: purpose.to_string(),
                allowed: policy.purposes.clone(),
            }),
        }
    }

    /// The grant for the partner topic of `entity`, when the policy enables that topic; its
    /// purpose is the policy's topic purpose.
    pub fn topic_grant(&self, entity: Entity) -> Option<Grant<'_>> {
        let policy = self.entities.get(&entity)?;
        let purpose = policy.topic_purpose.as_deref()?;
        Some(Grant {
            partner: self,
            policy,
            purpose,
        })
    }

    /// The partner topics the policy enables, as (entity, topic name).
    pub fn topics(&self) -> Vec<(Entity, String)> {
        self.entities
            .values()
            .filter(|p| p.topic_purpose.is_some())
            .map(|p| (p.entity, p.entity.partner_topic(&self.id)))
            .collect()
    }

    pub(crate) fn token_hashes(&self) -> &[[u8; 32]] {
        &self.token_hashes
    }
}

/// SHA-256 of a bearer token as lowercase hex: what a policy's `token_sha256` lists.
pub fn token_sha256(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn parse_hex_digest(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// A certificate subject or name in the form policies are compared in: trimmed, lower case,
/// no spaces around `,` `=` `+`, inner runs of spaces as one.
pub fn normalize_subject(subject: &str) -> String {
    let mut out = String::with_capacity(subject.len());
    let mut chars = subject.trim().chars().peekable();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if std::mem::take(&mut space) {
                    out.push(' ');
                }
                out.push('\\');
                if let Some(escaped) = chars.next() {
                    out.extend(escaped.to_lowercase());
                }
            }
            ',' | '=' | '+' => {
                space = false;
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
            }
            c if c.is_whitespace() => space = true,
            c => {
                if std::mem::take(&mut space) {
                    out.push(' ');
                }
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

/// Partner ids name Kafka topics: lower-case letters, digits, `-` and `_`, at most 64.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// Parses and checks one policy file; every problem is returned, each a sentence.
pub(crate) fn parse(file: &Path, text: &str) -> Result<PartnerPolicy, Vec<String>> {
    let raw: PolicyFile =
        toml::from_str(text).map_err(|e| vec![e.to_string().trim().to_string()])?;
    let mut problems = Vec::new();
    let id = raw.id.trim().to_string();
    if !valid_id(&id) {
        problems.push(format!(
            "id `{id}`: use lower-case letters, digits, '-' and '_' (it names Kafka topics)"
        ));
    }
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != id {
        problems.push(format!(
            "id `{id}` does not match the file name: name the file `{id}.toml`"
        ));
    }
    if raw.name.trim().is_empty() {
        problems.push("name must not be empty".to_string());
    }
    let purposes = check_purposes(&raw.purposes, "purposes", &mut problems);
    if raw.purposes.is_empty() {
        problems.push("purposes: state at least one purpose".to_string());
    }

    let mut token_hashes = Vec::new();
    for (i, hash) in raw.authentication.token_sha256.iter().enumerate() {
        match parse_hex_digest(hash) {
            Some(digest) if !token_hashes.contains(&digest) => token_hashes.push(digest),
            Some(_) => problems.push(format!(
                "authentication.token_sha256[{i}] is listed twice"
            )),
            None => problems.push(format!(
                "authentication.token_sha256[{i}] is not a SHA-256 in hex (64 hex digits): list the token's hash, never the token"
            )),
        }
    }
    let mut certificate_subjects = Vec::new();
    for (i, subject) in raw.authentication.certificate_subjects.iter().enumerate() {
        let normalized = normalize_subject(subject);
        if normalized.is_empty() {
            problems.push(format!("authentication.certificate_subjects[{i}] is empty"));
        } else if !certificate_subjects.contains(&normalized) {
            certificate_subjects.push(normalized);
        }
    }

    let mut entities = BTreeMap::new();
    for (name, spec) in &raw.entities {
        let entity = match name.parse::<Entity>() {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("entities.{name}: {e}"));
                continue;
            }
        };
        if let Some(policy) = compile_entity(entity, spec, &purposes, &mut problems) {
            entities.insert(entity, policy);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(PartnerPolicy {
        id,
        name: raw.name.trim().to_string(),
        legal_basis: raw.legal_basis.map(|s| s.trim().to_string()),
        file: file.to_path_buf(),
        purposes,
        token_hashes,
        certificate_subjects,
        entities,
    })
}

fn check_purposes(list: &[String], at: &str, problems: &mut Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, purpose) in list.iter().enumerate() {
        let purpose = purpose.trim();
        if purpose.is_empty() {
            problems.push(format!("{at}[{i}] is empty"));
        } else if out.iter().any(|p| p == purpose) {
            problems.push(format!("{at}[{i}] `{purpose}` is listed twice"));
        } else {
            out.push(purpose.to_string());
        }
    }
    out
}

fn compile_entity(
    entity: Entity,
    spec: &EntityFile,
    partner_purposes: &[String],
    problems: &mut Vec<String>,
) -> Option<EntityPolicy> {
    let at = format!("entities.{entity}");
    let before = problems.len();
    if spec.fields.is_empty() {
        problems.push(format!(
            "{at}.fields: grant at least one field, or remove the entity to deny it"
        ));
    }
    let record_desc = fields::message(entity.message_name());
    let mut record = FieldTree::default();
    let mut resolution: Option<FieldTree> = None;
    let mut paths = BTreeSet::new();
    for path in &spec.fields {
        let path = path.trim();
        let segments: Vec<&str> = path.split('.').collect();
        let outcome = if segments.first() == Some(&"resolution") {
            if entity.resolved_message_name().is_none() {
                Err(format!(
                    "`{path}`: {entity} records carry no resolution (only person and civil_servant do)"
                ))
            } else if segments.len() == 1 {
                resolution = Some(FieldTree::everything());
                Ok(())
            } else {
                resolution.get_or_insert_with(FieldTree::default).add(
                    &fields::message("lienthong.v1.ResolutionResult"),
                    &segments[1..],
                    path,
                )
            }
        } else if path.is_empty() {
            Err("an empty path".to_string())
        } else {
            record.add(&record_desc, &segments, path)
        };
        match outcome {
            Ok(()) => {
                paths.insert(path.to_string());
            }
            Err(e) => problems.push(format!("{at}.fields: {e}")),
        }
    }
    let purposes = match &spec.purposes {
        None => partner_purposes.to_vec(),
        Some(list) => {
            let own = check_purposes(list, &format!("{at}.purposes"), problems);
            for p in &own {
                if !partner_purposes.contains(p) {
                    problems.push(format!(
                        "{at}.purposes: `{p}` is not among the partner's purposes ({})",
                        partner_purposes.join(", ")
                    ));
                }
            }
            if list.is_empty() {
                problems.push(format!(
                    "{at}.purposes: empty; omit it to accept the partner's purposes"
                ));
            }
            own
        }
    };
    let topic_purpose = match (&spec.topic_purpose, spec.topic) {
        (Some(_), false) => {
            problems.push(format!(
                "{at}.topic_purpose is set but topic = false: set topic = true or remove it"
            ));
            None
        }
        (None, false) => None,
        (Some(p), true) => {
            let p = p.trim();
            if !purposes.iter().any(|q| q == p) {
                problems.push(format!(
                    "{at}.topic_purpose `{p}` is not among the purposes accepted for {entity} ({})",
                    purposes.join(", ")
                ));
            }
            Some(p.to_string())
        }
        (None, true) => purposes.first().cloned(),
    };
    (problems.len() == before).then(|| EntityPolicy {
        entity,
        fields: paths.into_iter().collect(),
        purposes,
        topic_purpose,
        record,
        resolution,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_compare_without_case_and_spacing() {
        assert_eq!(
            normalize_subject("  CN=lgsp.Example.gov.vn, O = Bộ  Tài chính ,C=VN "),
            "cn=lgsp.example.gov.vn,o=bộ tài chính,c=vn"
        );
        assert_eq!(normalize_subject("CN=a\\, b"), "cn=a\\, b");
    }

    #[test]
    fn token_hashes_are_hex_sha256() {
        let h = token_sha256("s3cret");
        assert_eq!(h.len(), 64);
        assert_eq!(parse_hex_digest(&h), Some(token_digest("s3cret")));
        assert_eq!(
            parse_hex_digest(&h.to_uppercase()),
            Some(token_digest("s3cret"))
        );
        assert_eq!(parse_hex_digest("s3cret"), None);
    }

    #[test]
    fn ids_name_topics() {
        assert!(valid_id("bhxh-viet-nam"));
        assert!(valid_id("bo_tai_chinh2"));
        for bad in ["", "Bo", "a.b", "-x", "a b", "bộ"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
