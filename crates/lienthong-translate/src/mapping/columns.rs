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
#[derive(Debug, Clone)]
pub(crate) struct ColumnIndex {
    names: Vec<String>,
    ids: FxHashMap<String, ColumnId>,
    /// The ids by [`bucket`] of their name's bytes. The event reader looks up every column name
    /// of every row, before the name is checked as UTF-8 (see [`ColumnIndex::find`]): a bucket
    /// and a comparison or two cost less than hashing the name.
    buckets: Vec<Vec<ColumnId>>,
}

const BUCKETS: usize = 128;

/// Names of one table mostly differ in length or in their first or last letter.
fn bucket(name: &[u8]) -> usize {
    let (first, last) = match name {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    (name.len() * 31 + usize::from(first) * 7 + usize::from(last)) % BUCKETS
}

/// `a == b`, for the short strings column names are: compared a word at a time rather than by a
/// call to `memcmp`, which costs more than the comparison itself at these lengths.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        // Two words, overlapping when shorter than 16 bytes, cover the whole name.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

/// The 8 bytes of `s` at `at` (0 when out of range, which callers never ask for).
#[inline]
fn word(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_le_bytes)
}

/// The 4 bytes of `s` at `at`.
#[inline]
fn half(s: &[u8], at: usize) -> u32 {
    s.get(at..at + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_le_bytes)
}

impl Default for ColumnIndex {
    fn default() -> Self {
        ColumnIndex {
            names: Vec::new(),
            ids: FxHashMap::default(),
            buckets: vec![Vec::new(); BUCKETS],
        }
    }
}

/// Where each column of a [`ColumnIndex`] is in one row: the position of its first occurrence.
#[derive(Debug, Clone)]
pub(crate) struct Positions(Vec<Option<usize>>);

/// The same when they place every column the same ([`Positions::none`] places none, as the
/// positions of a row without the index's columns do).
impl PartialEq for Positions {
    fn eq(&self, other: &Self) -> bool {
        let len = self.0.len().max(other.0.len());
        (0..len).all(|i| self.0.get(i).copied().flatten() == other.0.get(i).copied().flatten())
    }
}

impl Eq for Positions {}

impl ColumnIndex {
    /// The id of `name`, numbering it if it is new.
    pub(crate) fn add(&mut self, name: &str) -> ColumnId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = ColumnId(self.names.len());
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        self.buckets[bucket(name.as_bytes())].push(id);
        id
    }

    pub(crate) fn name(&self, id: ColumnId) -> &str {
        &self.names[id.0]
    }

    /// The column whose name is these bytes: its name as text, and its id.
    #[inline]
    pub(crate) fn find(&self, name: &[u8]) -> Option<(&str, ColumnId)> {
        self.buckets[bucket(name)].iter().find_map(|&id| {
            let known = self.name(id);
            same_bytes(known.as_bytes(), name).then_some((known, id))
        })
    }

    /// [`ColumnIndex::find`], trying first the column numbered after `previous` (the last
    /// column of the row found so far): rows mostly hold their columns in the order the mapping
    /// names them, so a row is read with one comparison per column instead of a look-up.
    #[inline(always)]
    pub(crate) fn find_next(
        &self,
        name: &[u8],
        previous: Option<ColumnId>,
    ) -> Option<(&str, ColumnId)> {
        let guess = previous.map_or(0, |ColumnId(p)| p + 1);
        if let Some(known) = self.names.get(guess)
            && same_bytes(known.as_bytes(), name)
        {
            return Some((known, ColumnId(guess)));
        }
        self.find(name)
    }

    /// Finds the columns in a row given by its column names, in order.
    pub(crate) fn locate<'r>(&self, row: impl IntoIterator<Item = &'r str>) -> Positions {
        let mut positions = self.no_positions();
        for (at, name) in row.into_iter().enumerate() {
            if let Some((_, id)) = self.find(name.as_bytes()) {
                positions.found(id, at);
            }
        }
        positions
    }

    /// Positions of a row that has none of the columns (yet).
    pub(crate) fn no_positions(&self) -> Positions {
        Positions(vec![None; self.names.len()])
    }
}

impl Positions {
    /// Positions of no row: none of any index's columns, and room for none (see
    /// [`ColumnIndex::no_positions`] for a row to be read).
    pub(crate) fn none() -> Self {
        Positions(Vec::new())
    }

    /// Records that the column is at `at`, unless it was found before.
    pub(crate) fn found(&mut self, id: ColumnId, at: usize) {
        if let Some(position) = self.0.get_mut(id.0) {
            position.get_or_insert(at);
        }
    }

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
        assert_eq!(index.find(b"ho_ten"), Some(("ho_ten", name)));
        assert_eq!(index.find(b"ho_te"), None);
        assert_eq!(index.find(b""), None);
        // The guess of the next column is only a guess.
        assert_eq!(
            index.find_next(b"email", Some(name)),
            Some(("email", missing))
        );
        assert_eq!(index.find_next(b"id", Some(name)), Some(("id", id)));
        assert_eq!(index.find_next(b"ho_ten", None), Some(("ho_ten", name)));
        assert_eq!(index.find_next(b"x", Some(missing)), None);
    }

    #[test]
    fn bytes_compare_as_slices_do() {
        let words: Vec<Vec<u8>> = (0..40usize)
            .map(|n| {
                (0..n)
                    .map(|i| b"abcdefghijklmnopqrstuvwxyz"[(i * 7 + n) % 26])
                    .collect()
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(same_bytes(a, b), a == b);
                for i in 0..b.len() {
                    let mut c = b.clone();
                    c[i] ^= 1;
                    assert_eq!(same_bytes(a, &c), *a == c, "{a:?} {c:?}");
                }
            }
        }
    }

    #[test]
    fn every_name_is_found_by_its_bytes_among_many() {
        let mut index = ColumnIndex::default();
        let names: Vec<String> = (0..600)
            .map(|i| format!("c{i}_{}", "x".repeat(i % 7)))
            .collect();
        let ids: Vec<ColumnId> = names.iter().map(|n| index.add(n)).collect();
        index.add("");
        for (name, id) in names.iter().zip(ids) {
            assert_eq!(index.find(name.as_bytes()), Some((name.as_str(), id)));
            assert_eq!(index.find(format!("{name}?").as_bytes()), None);
        }
        assert!(index.find(b"").is_some());
    }
}
