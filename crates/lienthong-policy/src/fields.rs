//! Field paths of a grant, checked against the published descriptors, and the filter that
//! clears everything a grant does not cover.
//!
//! A path names fields from the entity message down (`person.name.full`); its last segment may
//! be `*` (`person.*`, or `*` alone for the whole entity), which means the same as naming the
//! field itself: everything below it. Paths of a grant are united. Whatever no path covers is
//! cleared: deny by default, unknown fields (written by a newer schema) included.
//!
//! Some fields are *named-only*: a grant covers them only when a path names them (or a field
//! inside them), never through a wildcard or a parent. These are the sensitive personal data of
//! Decree 13/2023/NĐ-CP found in the contracts (ethnic origin, religion, political affiliation,
//! salary) and the parts of a resolution that would carry other fields' values or other people's
//! IDs around the record's own grants.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::entity::Entity;
use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

/// Fields a grant covers only when a path names them, with why.
pub const NAMED_ONLY: &[(&str, &str)] = &[
    ("lienthong.v1.Person.ethnicity", "sensitive: ethnic origin"),
    ("lienthong.v1.Person.religion", "sensitive: religion"),
    (
        "lienthong.v1.CivilServant.party_admission_date",
        "sensitive: political affiliation",
    ),
    (
        "lienthong.v1.CivilServant.salary_coefficient",
        "sensitive: salary",
    ),
    (
        "lienthong.v1.CivilServant.position_allowance",
        "sensitive: salary",
    ),
    (
        "lienthong.v1.SocialInsuranceRecord.contribution_salary",
        "sensitive: salary",
    ),
    (
        "lienthong.v1.ResolutionResult.comparisons",
        "carries the record's and the register's values of compared fields",
    ),
    (
        "lienthong.v1.ResolutionResult.discrepancies",
        "carries the record's and the register's values of compared fields",
    ),
    (
        "lienthong.v1.ResolutionResult.candidates",
        "carries other people's personal IDs",
    ),
];

/// Why a field is named-only, when it is.
pub(crate) fn field_reason(field: &FieldDescriptor) -> Option<&'static str> {
    let name = field.full_name();
    NAMED_ONLY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Why the field at `path` of an entity's record (or, for `resolution.…`, of its resolution) is
/// covered only when named; `None` for other fields and for paths that name no field.
pub fn named_only_reason(entity: Entity, path: &str) -> Option<&'static str> {
    let (mut desc, rest) = match path.strip_prefix("resolution.") {
        Some(rest) if entity.resolved_message_name().is_some() => {
            (message("lienthong.v1.ResolutionResult"), rest)
        }
        _ => (message(entity.message_name()), path),
    };
    let mut segments = rest.split('.').peekable();
    while let Some(segment) = segments.next() {
        let field = desc.get_field_by_name(segment)?;
        if segments.peek().is_none() {
            return field_reason(&field);
        }
        desc = field.kind().as_message()?.clone();
    }
    None
}

/// The descriptors of every `lienthong.v1` message, from the descriptor set the proto crate
/// embeds.
pub(crate) fn pool() -> &'static DescriptorPool {
    static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set embedded at build time decodes")
    });
    &POOL
}

/// The message descriptor of a full name known to exist in [`pool`].
pub(crate) fn message(full_name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} is in the embedded descriptor set"))
}

/// What the paths of a grant cover below one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldTree {
    /// A path ended here: every field below is covered, named-only fields excepted.
    whole: bool,
    /// Fields named by some path, by field name.
    children: BTreeMap<String, FieldTree>,
}

impl FieldTree {
    /// Covers the whole message (`*`).
    pub(crate) fn everything() -> Self {
        Self {
            whole: true,
            children: BTreeMap::new(),
        }
    }

    /// Adds one path, checked against `root`'s descriptor. `segments` is the path split on
    /// `.`; `shown` is the path as written, for messages.
    pub(crate) fn add(
        &mut self,
        root: &MessageDescriptor,
        segments: &[&str],
        shown: &str,
    ) -> Result<(), String> {
        let mut node = self;
        let mut desc = root.clone();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if *segment == "*" {
                if !last {
                    return Err(format!("`{shown}`: `*` may only end a path (`person.*`)"));
                }
                node.whole = true;
                return Ok(());
            }
            if segment.is_empty() {
                return Err(format!("`{shown}` has an empty segment"));
            }
            let Some(field) = desc.get_field_by_name(segment) else {
                let known: Vec<String> = desc.fields().map(|f| f.name().to_string()).collect();
                return Err(format!(
                    "`{shown}`: {} has no field `{segment}` (it has: {})",
                    desc.full_name(),
                    known.join(", ")
                ));
            };
            node = node.children.entry(segment.to_string()).or_default();
            if last {
                node.whole = true;
                return Ok(());
            }
            match field.kind() {
                Kind::Message(inner) if !field.is_map() => desc = inner,
                _ => {
                    return Err(format!(
                        "`{shown}`: `{segment}` is not a message, nothing can be selected inside it"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Clears from `msg` every field `node` does not cover; pushes the path (from `prefix`) of every
/// field that held a value and was cleared.
///
/// `inherited` is true when a path covering `msg` as a whole was given above it.
pub(crate) fn filter(
    msg: &mut DynamicMessage,
    node: Option<&FieldTree>,
    inherited: bool,
    prefix: &str,
    masked: &mut BTreeSet<String>,
) {
    // Fields this build does not know cannot have been granted.
    msg.take_unknown_fields().for_each(drop);
    let whole = inherited || node.is_some_and(|n| n.whole);
    let fields: Vec<FieldDescriptor> = msg.descriptor().fields().collect();
    for field in fields {
        if !msg.has_field(&field) {
            continue;
        }
        let child = node.and_then(|n| n.children.get(field.name()));
        let named_only = field_reason(&field).is_some();
        let path = join(prefix, field.name());
        if child.is_none() && (!whole || named_only) {
            msg.clear_field(&field);
            masked.insert(path);
            continue;
        }
        if field.is_map() || !matches!(field.kind(), Kind::Message(_)) {
            continue;
        }
        // A named-only field covered by a path below it gets only what that path says.
        let inherit = whole && !named_only;
        match msg.get_field_mut(&field) {
            Value::Message(inner) => filter(inner, child, inherit, &path, masked),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(inner) = item {
                        filter(inner, child, inherit, &path, masked);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Clears every field of `msg`, pushing the names of those that held a value.
pub(crate) fn clear_all(msg: &mut DynamicMessage, prefix: &str, masked: &mut BTreeSet<String>) {
    filter(msg, None, false, prefix, masked);
}

/// Named-only fields in the area a tree covers: those it leaves masked (covered by a parent or
/// a wildcard but not named) and those it grants (named).
pub(crate) fn named_only_fields(
    desc: &MessageDescriptor,
    node: Option<&FieldTree>,
    inherited: bool,
    prefix: &str,
    masked: &mut Vec<String>,
    granted: &mut Vec<String>,
) {
    let whole = inherited || node.is_some_and(|n| n.whole);
    for field in desc.fields() {
        let child = node.and_then(|n| n.children.get(field.name()));
        let path = join(prefix, field.name());
        if field_reason(&field).is_some() {
            if child.is_some() {
                granted.push(path);
            } else if whole {
                masked.push(path);
            }
            continue;
        }
        if child.is_none() && !whole {
            continue;
        }
        if let Kind::Message(inner) = field.kind()
            && !field.is_map()
            && contains_named_only(&inner)
        {
            named_only_fields(&inner, child, whole, &path, masked, granted);
        }
    }
}

/// Whether a message has a named-only field anywhere below it.
fn contains_named_only(desc: &MessageDescriptor) -> bool {
    fn walk(desc: &MessageDescriptor, seen: &mut BTreeSet<String>) -> bool {
        if !seen.insert(desc.full_name().to_string()) {
            return false;
        }
        desc.fields().any(|f| {
            field_reason(&f).is_some()
                || matches!(f.kind(), Kind::Message(inner) if walk(&inner, seen))
        })
    }
    walk(desc, &mut BTreeSet::new())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tree(root: &str, paths: &[&str]) -> Result<FieldTree, String> {
        let desc = message(root);
        let mut tree = FieldTree::default();
        for p in paths {
            let segments: Vec<&str> = p.split('.').collect();
            tree.add(&desc, &segments, p)?;
        }
        Ok(tree)
    }

    #[test]
    fn every_named_only_field_exists() {
        for (name, _) in NAMED_ONLY {
            let (message_name, field) = name.rsplit_once('.').unwrap();
            assert!(
                message(message_name).get_field_by_name(field).is_some(),
                "{name}"
            );
        }
    }

    #[test]
    fn paths_are_checked_against_the_descriptor() {
        assert!(
            tree(
                "lienthong.v1.CivilServant",
                &["person.name.full", "rank", "person.*"]
            )
            .is_ok()
        );
        let e = tree("lienthong.v1.CivilServant", &["person.nmae"]).unwrap_err();
        assert!(e.contains("lienthong.v1.Person has no field `nmae`"), "{e}");
        let e = tree("lienthong.v1.CivilServant", &["record_id.x"]).unwrap_err();
        assert!(e.contains("not a message"), "{e}");
        let e = tree("lienthong.v1.CivilServant", &["*.name"]).unwrap_err();
        assert!(e.contains("may only end"), "{e}");
        let e = tree("lienthong.v1.CivilServant", &["person..name"]).unwrap_err();
        assert!(e.contains("empty segment"), "{e}");
    }

    #[test]
    fn the_analysis_names_masked_and_granted_sensitive_fields() {
        let t = tree(
            "lienthong.v1.CivilServant",
            &["*", "person.religion", "salary_coefficient"],
        )
        .unwrap();
        let (mut masked, mut granted) = (Vec::new(), Vec::new());
        named_only_fields(
            &message("lienthong.v1.CivilServant"),
            Some(&t),
            false,
            "",
            &mut masked,
            &mut granted,
        );
        masked.sort();
        assert_eq!(
            masked,
            [
                "party_admission_date",
                "person.ethnicity",
                "position_allowance"
            ]
        );
        assert_eq!(granted, ["person.religion", "salary_coefficient"]);
    }
}
