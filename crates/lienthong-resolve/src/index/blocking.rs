//! Blocking: which register entries are worth scoring against a record.
//!
//! Scoring a record against all ~100 million people is out of the question; scoring it against
//! the people who share *something* specific with it is cheap. Each blocking key picks such a
//! "something"; a record's candidates are the union of its blocks. A true match is missed only
//! when errors break every key at once, so the keys are chosen to fail on *different* errors:
//!
//! | key | built from | survives |
//! |---|---|---|
//! | [`BlockingKey::DateSex`] | full birth date + sex | any name error: typos, missing diacritics, another spelling |
//! | [`BlockingKey::NameYear`] | family key + folded given name + birth year | day/month swapped, partial dates ("1975"), province errors |
//! | [`BlockingKey::NameProvince`] | family key + folded middle + folded given + birth province (post-2025) | any birth-date error, including the year |
//! | [`BlockingKey::InitialsYearProvince`] | initials of family key and given name + birth year + province (post-2025) | typos after the first letter in *any* name part combined with day/month errors |
//!
//! Block sizes measured on 10 million synthetic people (`examples/index_memory.rs`; the
//! synthetic register has a few hundred given names, far fewer than the real one, so real blocks
//! of the name keys are smaller):
//!
//! | key | blocks | average block a person is in | largest |
//! |---|---|---|---|
//! | date_sex | 62,094 | 168 | 263 |
//! | name_year | 492,837 | 583 | 5,191 |
//! | name_province | 1,651,087 | 323 | 16,042 |
//! | initials_year_province | 487,674 | 142 | 1,541 |
//!
//! The "family key" is the regional variant group when the family name has one (Hoàng and Huỳnh
//! share a key), else the folded family name; all names are folded (no tones, no diacritics,
//! đ → d) so the keys survive tone and diacritic errors. Provinces are mapped to their post-2025
//! unit, so a record holding the old code of Hà Giang meets a register entry holding the new
//! Tuyên Quang. A personal ID typo needs no key of its own: the matcher looks up the ~120
//! numbers one typo away directly.
//!
//! Why not the simpler (family name, birth year)? At 10 M people the block Nguyễn × 1985 holds
//! about 45,000 people, and at national scale ten times that: every such record would be scored
//! against a district. Adding the given name keeps blocks in the thousands at worst, and the
//! matcher skips a block above its size limit (a name as common as Nguyễn Thị Linh in Hồ Chí
//! Minh City says little) and relies on the record's other keys.
//!
//! Keys are 32-bit values (the date key exactly, the others a stable hash of their parts). A hash
//! collision merges two blocks, which only adds candidates for the scorer to reject.

use std::collections::HashMap;
use std::mem::size_of;

use serde::Serialize;

use crate::hash::{fold32, mix64};
use crate::levels::Field;
use crate::record::{PartialDate, Sex};

use super::sorted::FencedKeys;

/// The blocking keys of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockingKey {
    /// Full birth date and sex.
    DateSex,
    /// Family key, folded given name and birth year.
    NameYear,
    /// Family key, folded middle and given names, and the post-2025 birth province.
    NameProvince,
    /// Initials of the family key and the given name, birth year and post-2025 birth province.
    InitialsYearProvince,
}

impl BlockingKey {
    /// Number of keys.
    pub const COUNT: usize = 4;

    /// Every key, in a fixed order (the order of the index's block tables).
    pub const ALL: [Self; Self::COUNT] = [
        Self::DateSex,
        Self::NameYear,
        Self::NameProvince,
        Self::InitialsYearProvince,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::DateSex => "date_sex",
            Self::NameYear => "name_year",
            Self::NameProvince => "name_province",
            Self::InitialsYearProvince => "initials_year_province",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The fields whose comparison the key conditions on: among pairs sharing this key, these
    /// fields agree (or nearly) for matches and non-matches alike, so an EM session trained on
    /// the key's pairs must hold them fixed.
    pub fn conditioned_fields(self) -> &'static [Field] {
        match self {
            Self::DateSex => &[Field::BirthDate, Field::Sex],
            Self::NameYear => &[Field::FamilyName, Field::GivenName, Field::BirthDate],
            Self::NameProvince => &[
                Field::FamilyName,
                Field::MiddleName,
                Field::GivenName,
                Field::BirthProvince,
            ],
            Self::InitialsYearProvince => &[
                Field::FamilyName,
                Field::GivenName,
                Field::BirthDate,
                Field::BirthProvince,
            ],
        }
    }
}

/// The parts keys are built from, as hashes; the same for a record and a register entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct KeyParts {
    /// Hash and initial of the family key; `None` without a family name.
    pub(crate) family: Option<(u64, u32)>,
    /// Hash of the folded middle name (of "" when absent: no middle name is a value too).
    pub(crate) middle: u64,
    /// Hash and initial of the folded given name; `None` without a given name.
    pub(crate) given: Option<(u64, u32)>,
    pub(crate) birth_date: PartialDate,
    pub(crate) sex: Option<Sex>,
    /// Post-2025 code of the birth province.
    pub(crate) province: Option<u8>,
}

fn combine(tag: u64, parts: &[u64]) -> u32 {
    let mut hash = mix64(tag);
    for &part in parts {
        hash = mix64(hash ^ part);
    }
    fold32(hash)
}

impl KeyParts {
    /// The value of one key, `None` when a part it needs is missing.
    pub(crate) fn key(&self, key: BlockingKey) -> Option<u32> {
        match key {
            BlockingKey::DateSex => {
                let sex = self.sex?;
                self.birth_date
                    .is_full()
                    .then(|| self.birth_date.pack() | (Sex::code(Some(sex)) << 21))
            }
            BlockingKey::NameYear => {
                let (family, _) = self.family?;
                let (given, _) = self.given?;
                let year = self.birth_date.year()?;
                Some(combine(1, &[family, given, u64::from(year)]))
            }
            BlockingKey::NameProvince => {
                let (family, _) = self.family?;
                let (given, _) = self.given?;
                let province = self.province?;
                Some(combine(
                    2,
                    &[family, self.middle, given, u64::from(province)],
                ))
            }
            BlockingKey::InitialsYearProvince => {
                let (_, family_initial) = self.family?;
                let (_, given_initial) = self.given?;
                let year = self.birth_date.year()?;
                let province = self.province?;
                Some(combine(
                    3,
                    &[
                        u64::from(family_initial),
                        u64::from(given_initial),
                        u64::from(year),
                        u64::from(province),
                    ],
                ))
            }
        }
    }
}

/// One key's entries: a sorted base array of `key << 32 | person` (8 bytes per person, no
/// per-block allocation) plus a small map for people added or changed since the last
/// compaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockTable {
    pub(crate) base: FencedKeys,
    pub(crate) delta: HashMap<u32, Vec<u32>>,
}

pub(crate) fn entry(key: u32, person: u32) -> u64 {
    (u64::from(key) << 32) | u64::from(person)
}

pub(crate) fn entry_key(entry: u64) -> u32 {
    (entry >> 32) as u32
}

pub(crate) fn entry_person(entry: u64) -> u32 {
    // The low half is the person by construction.
    (entry & 0xFFFF_FFFF) as u32
}

impl BlockTable {
    fn base_range(&self, key: u32) -> &[u64] {
        let low = entry(key, 0);
        let base = self.base.as_slice();
        let start = self.base.lower_bound(low);
        let end = start + base[start..].partition_point(|&e| entry_key(e) == key);
        &base[start..end]
    }

    /// Number of entries under `key` (stale ones included: an upper bound).
    pub(crate) fn size(&self, key: u32) -> usize {
        self.base_range(key).len() + self.delta.get(&key).map_or(0, Vec::len)
    }

    /// Appends the people under `key` (stale entries included; the caller filters).
    pub(crate) fn collect(&self, key: u32, out: &mut Vec<u32>) {
        out.extend(self.base_range(key).iter().map(|&e| entry_person(e)));
        if let Some(people) = self.delta.get(&key) {
            out.extend_from_slice(people);
        }
    }

    pub(crate) fn add_delta(&mut self, key: u32, person: u32) {
        self.delta.entry(key).or_default().push(person);
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.base.memory_bytes()
            + super::hash_map_bytes::<u32, Vec<u32>>(self.delta.capacity())
            + self
                .delta
                .values()
                .map(|v| v.capacity() * size_of::<u32>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> KeyParts {
        KeyParts {
            family: Some((11, u32::from('n'))),
            middle: 22,
            given: Some((33, u32::from('a'))),
            birth_date: PartialDate::new(1975, 3, 12).unwrap(),
            sex: Some(Sex::Female),
            province: Some(8),
        }
    }

    #[test]
    fn keys_need_their_parts() {
        let full = parts();
        for key in BlockingKey::ALL {
            assert!(full.key(key).is_some(), "{key:?}");
        }
        let year_only = KeyParts {
            birth_date: PartialDate::year_only(1975).unwrap(),
            ..full
        };
        assert_eq!(year_only.key(BlockingKey::DateSex), None);
        assert_eq!(
            year_only.key(BlockingKey::NameYear),
            full.key(BlockingKey::NameYear)
        );
        let no_province = KeyParts {
            province: None,
            ..full
        };
        assert_eq!(no_province.key(BlockingKey::NameProvince), None);
        assert_eq!(no_province.key(BlockingKey::InitialsYearProvince), None);
        let no_sex = KeyParts { sex: None, ..full };
        assert_eq!(no_sex.key(BlockingKey::DateSex), None);
    }

    #[test]
    fn keys_depend_on_exactly_their_parts() {
        let full = parts();
        let other_day = KeyParts {
            birth_date: PartialDate::new(1975, 12, 3).unwrap(),
            ..full
        };
        assert_ne!(
            other_day.key(BlockingKey::DateSex),
            full.key(BlockingKey::DateSex)
        );
        assert_eq!(
            other_day.key(BlockingKey::NameYear),
            full.key(BlockingKey::NameYear)
        );
        let other_given_same_initial = KeyParts {
            given: Some((44, u32::from('a'))),
            ..full
        };
        assert_ne!(
            other_given_same_initial.key(BlockingKey::NameYear),
            full.key(BlockingKey::NameYear)
        );
        assert_eq!(
            other_given_same_initial.key(BlockingKey::InitialsYearProvince),
            full.key(BlockingKey::InitialsYearProvince)
        );
        // The keys of different kinds do not coincide for the same parts.
        assert_ne!(
            full.key(BlockingKey::NameYear),
            full.key(BlockingKey::NameProvince)
        );
    }

    #[test]
    fn block_table_finds_base_and_delta_entries() {
        let mut base = vec![entry(5, 1), entry(5, 7), entry(9, 2), entry(u32::MAX, 3)];
        base.sort_unstable();
        let mut table = BlockTable {
            base: FencedKeys::new(base),
            delta: HashMap::new(),
        };
        table.add_delta(5, 42);
        let mut out = Vec::new();
        table.collect(5, &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![1, 7, 42]);
        assert_eq!(table.size(5), 3);
        assert_eq!(table.size(6), 0);
        out.clear();
        table.collect(u32::MAX, &mut out);
        assert_eq!(out, vec![3]);
    }
}
