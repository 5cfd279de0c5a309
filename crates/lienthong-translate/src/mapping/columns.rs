//! The source columns a mapping reads, numbered when the mapping is loaded.
//!
//! A mapping of a 28-column table reads about as many columns; finding each by name in the row
//! would compare names some 400 times per record. Instead every column the mapping names gets a
//! [`ColumnId`] at load time, and [`ColumnIndex::locate`] goes over a row once, giving where each
//! of them is. Rows of one table nearly always come in the same order, but nothing relies on it.

use rustc_hash::FxHashMap;

/// A column's number in its mapping's [`ColumnIndex`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ColumnId(usize);

/// Every column a mapping names (inputs, conditions, key columns, the last-update column),
/// each once.
#[derive(Debug, Clone, Default)]
pub(crate) struct ColumnIndex {
    names: Vec<String>,
    ids: FxHashMap<String, ColumnId>,
}

/// Where each column of a [`ColumnIndex`] is in one row: the position of its first occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Positions(Vec<Option<usize>>);

impl ColumnIndex {
    /// The id of `name`, numbering it if it is new.
    pub(crate) fn add(&mut self, name: &str) -> ColumnId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = ColumnId(self.names.len());
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    pub(crate) fn name(&self, id: ColumnId) -> &str {
        &self.names[id.0]
    }

    /// Finds the columns in a row given by its column names, in order.
    pub(crate) fn locate<'r>(&self, row: impl IntoIterator<Item = &'r str>) -> Positions {
        let mut positions = vec![None; self.names.len()];
        for (at, name) in row.into_iter().enumerate() {
            if let Some(id) = self.ids.get(name) {
                positions[id.0].get_or_insert(at);
            }
        }
        Positions(positions)
    }
}

impl Positions {
    /// The column's position in the row, `None` when the row lacks it.
    pub(crate) fn get(&self, id: ColumnId) -> Option<usize> {
        self.0.get(id.0).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_numbered_once_and_found_at_their_first_occurrence() {
        let mut index = ColumnIndex::default();
        let id = index.add("id");
        let name = index.add("ho_ten");
        assert_eq!(index.add("id"), id);
        assert_eq!(index.name(name), "ho_ten");
        let missing = index.add("email");

        let positions = index.locate(["ho_ten", "x", "id", "ho_ten"]);
        assert_eq!(positions.get(name), Some(0));
        assert_eq!(positions.get(id), Some(2));
        assert_eq!(positions.get(missing), None);
        // Names compare exactly.
        assert_eq!(index.locate(["ID", "Ho_ten "]).get(id), None);
        assert_eq!(index.locate([]).get(name), None);
    }
}
