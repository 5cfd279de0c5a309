//! Interned names. Vietnamese names repeat heavily (about 14 family names cover 90% of people, a
//! few dozen middle names and a few thousand given names cover most of the rest), so each
//! distinct spelling is stored once and people refer to it by a `u32`. The foldings the
//! comparators need are computed once per distinct spelling, not once per person.

use std::mem::size_of;

use crate::hash::{Fnv1a, fnv1a, mix64};
use crate::levels::{NameForms, NameRole};
use crate::normalise::NameNormaliser;

/// The table would need offsets beyond `u32`: some 4 GiB of distinct name text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableFull;

/// Append-only interned strings: one text buffer, the end offset of each string, and an
/// open-addressing hash table of ids (linear probing, at most half full).
#[derive(Debug, Clone, Default)]
pub(crate) struct StringTable {
    text: String,
    ends: Vec<u32>,
    /// 0 = empty slot, else id + 1. Length is zero or a power of two.
    slots: Vec<u32>,
}

impl StringTable {
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&str> {
        let i = usize::try_from(id).ok()?;
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }

    /// The id of `s`, if interned.
    pub(crate) fn find(&self, s: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        // Truncating the hash to the table size is the point of masking.
        let mut slot = (fnv1a(s.as_bytes()) as usize) & mask;
        loop {
            let entry = self.slots[slot];
            if entry == 0 {
                return None;
            }
            if self.get(entry - 1) == Some(s) {
                return Some(entry - 1);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The id of `s`, interning it if new; the flag says whether it was new.
    pub(crate) fn intern(&mut self, s: &str) -> Result<(u32, bool), TableFull> {
        if let Some(id) = self.find(s) {
            return Ok((id, false));
        }
        let end = u32::try_from(self.text.len() + s.len()).map_err(|_| TableFull)?;
        let id = u32::try_from(self.ends.len()).map_err(|_| TableFull)?;
        if id == u32::MAX - 1 {
            return Err(TableFull);
        }
        self.text.push_str(s);
        self.ends.push(end);
        if (self.ends.len()) * 2 > self.slots.len() {
            self.rehash((self.ends.len() * 2).next_power_of_two().max(16));
        } else {
            self.place(id);
        }
        Ok((id, true))
    }

    fn place(&mut self, id: u32) {
        let mask = self.slots.len() - 1;
        let hash = self.get(id).map_or(0, |s| fnv1a(s.as_bytes()));
        let mut slot = (hash as usize) & mask;
        while self.slots[slot] != 0 {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = id + 1;
    }

    fn rehash(&mut self, size: usize) {
        self.slots = vec![0; size];
        for id in 0..self.ends.len() {
            // `intern` keeps the count below u32::MAX.
            self.place(id as u32);
        }
    }

    /// Rebuilds a table from its text and end offsets (as saved), checking them.
    pub(crate) fn from_parts(text: String, ends: Vec<u32>) -> Result<Self, String> {
        let mut start = 0usize;
        for (i, &end) in ends.iter().enumerate() {
            let end = end as usize;
            if end < start || end > text.len() || !text.is_char_boundary(end) {
                return Err(format!(
                    "string {i} ends at {end}, which is not a valid offset"
                ));
            }
            start = end;
        }
        if start != text.len() {
            return Err("string text has bytes after the last string".to_owned());
        }
        let mut table = Self {
            text,
            ends,
            slots: Vec::new(),
        };
        table.rehash((table.ends.len() * 2).next_power_of_two().max(16));
        for id in 0..table.ends.len() {
            let s = table.get(id as u32).unwrap_or_default();
            if table.find(s) != Some(id as u32) {
                return Err(format!("string {s:?} is stored twice"));
            }
        }
        table.text.shrink_to_fit();
        table.ends.shrink_to_fit();
        Ok(table)
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn ends(&self) -> &[u32] {
        &self.ends
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * size_of::<u32>()
            + self.slots.capacity() * size_of::<u32>()
    }
}

/// What the index keeps per distinct folded name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoldedInfo {
    /// Hash of the folded text.
    pub(crate) hash: u64,
    /// First character of the folded text (0 when empty).
    pub(crate) initial: u32,
    /// Hash and first character of the family key: the variant group when the folded text has
    /// one, else the folded text itself.
    pub(crate) key_hash: u64,
    pub(crate) key_initial: u32,
    /// Id in the group table, or `NO_GROUP`.
    pub(crate) group: u32,
}

const NO_GROUP: u32 = u32::MAX;

/// Forms of a distinct original spelling.
#[derive(Debug, Clone, Copy)]
struct FormIds {
    tone: u32,
    folded: u32,
}

/// Hash of a name part as blocking keys use it.
pub(crate) fn part_hash(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}

/// First character of a text as a number, 0 when empty.
pub(crate) fn initial(text: &str) -> u32 {
    text.chars().next().map_or(0, u32::from)
}

/// The interned names of the index with their forms. Id 0 is the empty name (absent).
#[derive(Debug, Clone)]
pub(crate) struct NameTable {
    originals: StringTable,
    forms: Vec<FormIds>,
    tones: StringTable,
    folded: StringTable,
    folded_info: Vec<FoldedInfo>,
    groups: StringTable,
    /// Digest of every derived form, in id order: a saved index compares it with what the
    /// normaliser it is loaded with produces.
    fingerprint: u64,
}

impl NameTable {
    pub(crate) fn new(normaliser: &dyn NameNormaliser) -> Self {
        let mut table = Self {
            originals: StringTable::default(),
            forms: Vec::new(),
            tones: StringTable::default(),
            folded: StringTable::default(),
            folded_info: Vec::new(),
            groups: StringTable::default(),
            fingerprint: 0,
        };
        // Id 0 of every table is the empty string; on an empty table this cannot fail.
        let _ = table.intern(normaliser, "");
        table
    }

    /// Rebuilds the table (and every derived form) from saved original spellings.
    pub(crate) fn from_originals(
        normaliser: &dyn NameNormaliser,
        originals: StringTable,
    ) -> Result<Self, String> {
        if originals.get(0) != Some("") {
            return Err("name 0 is not the empty name".to_owned());
        }
        let mut table = Self::new(normaliser);
        for id in 1..originals.len() {
            let text = originals.get(id as u32).unwrap_or_default();
            let new_id = table
                .intern(normaliser, text)
                .map_err(|_| "name table overflow".to_owned())?;
            if new_id as usize != id {
                return Err(format!("name {text:?} is stored twice"));
            }
        }
        table.shrink_to_fit();
        Ok(table)
    }

    /// The id of an original spelling, interning it (and its forms) if new.
    pub(crate) fn intern(
        &mut self,
        normaliser: &dyn NameNormaliser,
        text: &str,
    ) -> Result<u32, TableFull> {
        if let Some(id) = self.originals.find(text) {
            return Ok(id);
        }
        let tone_text = normaliser.fold_tones(text);
        let folded_text = normaliser.fold(text);
        let group_text = normaliser.family_variant_group(&folded_text);
        // Interned before the folded text, so a full table cannot leave a folded text without
        // its info.
        let group = match group_text {
            Some(g) => self.groups.intern(g)?.0,
            None => NO_GROUP,
        };
        let (tone, _) = self.tones.intern(&tone_text)?;
        let (folded, new_folded) = self.folded.intern(&folded_text)?;
        if new_folded {
            let key_text = group_text.unwrap_or(&folded_text);
            self.folded_info.push(FoldedInfo {
                hash: part_hash(&folded_text),
                initial: initial(&folded_text),
                key_hash: part_hash(key_text),
                key_initial: initial(key_text),
                group,
            });
        }
        let (id, _) = self.originals.intern(text)?;
        self.forms.push(FormIds { tone, folded });
        let mut digest = Fnv1a::new();
        for part in [text, &tone_text, &folded_text] {
            digest.write(part.as_bytes());
            digest.write(&[0xFF]);
        }
        if let Some(group) = group_text {
            digest.write(group.as_bytes());
        }
        self.fingerprint = mix64(self.fingerprint ^ digest.finish());
        Ok(id)
    }

    /// The id of an original spelling, if interned.
    #[cfg(test)]
    pub(crate) fn find(&self, text: &str) -> Option<u32> {
        self.originals.find(text)
    }

    /// The id of a folded text, if any name folds to it.
    pub(crate) fn find_folded(&self, folded: &str) -> Option<u32> {
        self.folded.find(folded)
    }

    pub(crate) fn folded_id(&self, id: u32) -> u32 {
        self.forms.get(id as usize).map_or(0, |f| f.folded)
    }

    pub(crate) fn folded_info(&self, folded_id: u32) -> Option<&FoldedInfo> {
        self.folded_info.get(folded_id as usize)
    }

    /// The forms of a name for comparison; `None` for the empty name.
    pub(crate) fn forms(&self, id: u32, role: NameRole) -> Option<NameForms<'_>> {
        if id == 0 {
            return None;
        }
        let ids = self.forms.get(id as usize)?;
        let group = match role {
            NameRole::Family => self
                .folded_info(ids.folded)
                .filter(|info| info.group != NO_GROUP)
                .and_then(|info| self.groups.get(info.group)),
            NameRole::Middle | NameRole::Given => None,
        };
        Some(NameForms {
            original: self.originals.get(id)?,
            tone_folded: self.tones.get(ids.tone)?,
            folded: self.folded.get(ids.folded)?,
            variant_group: group,
        })
    }

    /// Number of distinct original spellings (including the empty name).
    pub(crate) fn len(&self) -> usize {
        self.originals.len()
    }

    /// Number of distinct folded texts.
    pub(crate) fn folded_len(&self) -> usize {
        self.folded.len()
    }

    pub(crate) fn originals(&self) -> &StringTable {
        &self.originals
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.originals.shrink_to_fit();
        self.tones.shrink_to_fit();
        self.folded.shrink_to_fit();
        self.groups.shrink_to_fit();
        self.forms.shrink_to_fit();
        self.folded_info.shrink_to_fit();
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.originals.memory_bytes()
            + self.tones.memory_bytes()
            + self.folded.memory_bytes()
            + self.groups.memory_bytes()
            + self.forms.capacity() * size_of::<FormIds>()
            + self.folded_info.capacity() * size_of::<FoldedInfo>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::VietnameseNameNormaliser;
    use proptest::prelude::*;

    #[test]
    fn string_table_interns_once() {
        let mut table = StringTable::default();
        let (a, new_a) = table.intern("Nguyễn").unwrap();
        let (b, new_b) = table.intern("Trần").unwrap();
        let (a_again, new_again) = table.intern("Nguyễn").unwrap();
        assert!(new_a && new_b && !new_again);
        assert_eq!(a, a_again);
        assert_ne!(a, b);
        assert_eq!(table.get(a), Some("Nguyễn"));
        assert_eq!(table.find("Lê"), None);
        let rebuilt =
            StringTable::from_parts(table.text().to_owned(), table.ends().to_vec()).unwrap();
        assert_eq!(rebuilt.find("Trần"), Some(b));
    }

    #[test]
    fn string_table_parts_are_checked() {
        // "ễ" is three bytes: an offset inside it is not a boundary.
        assert!(StringTable::from_parts("Nguyễn".to_owned(), vec![5, 8]).is_err());
        assert!(StringTable::from_parts("ab".to_owned(), vec![1]).is_err());
        assert!(StringTable::from_parts("aa".to_owned(), vec![1, 2]).is_err());
        assert!(StringTable::from_parts("ab".to_owned(), vec![2, 1]).is_err());
    }

    #[test]
    fn name_table_shares_forms() {
        let normaliser = VietnameseNameNormaliser::default();
        let mut names = NameTable::new(&normaliser);
        let hoa1 = names.intern(&normaliser, "Hoà").unwrap();
        let hoa2 = names.intern(&normaliser, "Hòa").unwrap();
        let hoa3 = names.intern(&normaliser, "Hoa").unwrap();
        assert_ne!(hoa1, hoa2);
        assert_eq!(names.folded_id(hoa1), names.folded_id(hoa3));
        let f1 = names.forms(hoa1, NameRole::Given).unwrap();
        let f2 = names.forms(hoa2, NameRole::Given).unwrap();
        assert_eq!(f1.tone_folded, f2.tone_folded);
        assert!(names.forms(0, NameRole::Given).is_none());
        let huynh = names.intern(&normaliser, "Huỳnh").unwrap();
        let hoang = names.intern(&normaliser, "Hoàng").unwrap();
        let group = |id| names.forms(id, NameRole::Family).unwrap().variant_group;
        assert_eq!(group(huynh), Some("Hoàng/Huỳnh"));
        assert_eq!(group(huynh), group(hoang));
        assert_eq!(
            names.forms(huynh, NameRole::Given).unwrap().variant_group,
            None
        );
        let info = |id| *names.folded_info(names.folded_id(id)).unwrap();
        assert_eq!(info(huynh).key_hash, info(hoang).key_hash);
        assert_ne!(info(huynh).hash, info(hoang).hash);

        let rebuilt = NameTable::from_originals(&normaliser, names.originals().clone()).unwrap();
        assert_eq!(rebuilt.fingerprint(), names.fingerprint());
        assert_eq!(rebuilt.find("Hòa"), Some(hoa2));
    }

    proptest! {
        #[test]
        fn interning_is_a_bijection(words in proptest::collection::vec("[a-zđ]{0,6}", 0..200)) {
            let mut table = StringTable::default();
            let ids: Vec<u32> = words.iter().map(|w| table.intern(w).unwrap().0).collect();
            for (word, id) in words.iter().zip(&ids) {
                prop_assert_eq!(table.get(*id), Some(word.as_str()));
                prop_assert_eq!(table.find(word), Some(*id));
            }
            let distinct: std::collections::HashSet<&String> = words.iter().collect();
            prop_assert_eq!(table.len(), distinct.len());
        }
    }
}
