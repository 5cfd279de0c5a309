//! Schema versions of polled tables: each change of a table's columns or key (seen when the
//! catalog is read again before each poll) gives the table a new version, carried in every
//! event so readers never mis-read rows across a DDL change. Saved in the state topic so
//! versions survive restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersions {
    /// `schema.table` → (version, column fingerprint).
    tables: BTreeMap<String, (u32, String)>,
    #[serde(skip)]
    dirty: bool,
}

impl SchemaVersions {
    /// The version for a table with this fingerprint, and whether this is a change from the
    /// version known before (a new table starts at 1 and is not a change).
    pub fn version_for(&mut self, table: &str, fingerprint: &str) -> (u32, bool) {
        match self.tables.get_mut(table) {
            Some((version, known)) if known == fingerprint => (*version, false),
            Some((version, known)) => {
                *version += 1;
                *known = fingerprint.to_string();
                self.dirty = true;
                (*version, true)
            }
            None => {
                self.tables
                    .insert(table.to_string(), (1, fingerprint.to_string()));
                self.dirty = true;
                (1, false)
            }
        }
    }

    /// True once after each change: the caller saves the versions then.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn versions_advance_only_on_change_and_survive_serialisation() {
        let mut v = SchemaVersions::default();
        assert_eq!(v.version_for("main.t", "a"), (1, false));
        assert!(v.take_dirty());
        assert_eq!(v.version_for("main.t", "a"), (1, false));
        assert!(!v.take_dirty());
        assert_eq!(v.version_for("main.t", "b"), (2, true));
        let back: SchemaVersions =
            serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        let mut back = back;
        assert_eq!(back.version_for("main.t", "b"), (2, false));
        assert_eq!(back.version_for("main.t", "c"), (3, true));
    }
}
