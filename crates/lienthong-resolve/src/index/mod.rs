//! The population index: every person of the register in memory, compact enough for
//! 100 million people on one machine, with exact lookup by personal ID and blocking keys for
//! candidate search.
//!
//! # Layout (bytes per person)
//!
//! | structure | bytes | what |
//! |---|---|---|
//! | `pins` | 8 | current personal ID as `u64` |
//! | `attrs` | 4 | birth date (21 bits), sex (2), birth province code and list (8) |
//! | `flags` | 1 | deceased, retired |
//! | `family`, `middle`, `given` | 12 | ids into the name table |
//! | PIN index | 12 | `(pin, person)` sorted by pin, as two arrays |
//! | 4 blocking tables | 32 | `key << 32 \| person`, sorted |
//! | **total** | **69** | plus the name table, which grows with distinct spellings, not people |
//!
//! Persons are numbered in insertion order ([`PersonId`]) and keep their number for the life of
//! the index, so arrays indexed by person never move. Superseded personal IDs (numbers re-issued
//! after a correction) are a separate sorted array pointing at the person.
//!
//! # Live updates
//!
//! [`PopulationIndex::upsert`] applies one register change (a registration, a correction, a
//! re-issued number, a merge of duplicate registrations) immediately: columns are updated in
//! place, and what the sorted arrays cannot absorb goes to small hash maps (the *delta*). People
//! changed since the last compaction are tracked; a blocking entry of a changed person is only
//! believed if it still matches the person's current key, so stale entries never surface.
//! [`PopulationIndex::compact`] merges the delta into the sorted arrays in linear time; call it
//! when [`PopulationIndex::pending_changes`] grows (the shell does it on a timer or a count).
//!
//! # Concurrency
//!
//! Lookups take `&self` and are safe from many threads; changes take `&mut self`. A service wraps
//! the index in a read-write lock or swaps whole indexes.

mod blocking;
mod names;
mod snapshot;
mod sorted;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::mem::size_of;
use std::sync::Arc;

use serde::Serialize;

pub use blocking::BlockingKey;
pub use snapshot::{SNAPSHOT_FORMAT_VERSION, SnapshotError};

use blocking::{BlockTable, KeyParts, entry, entry_person};
use names::{NameTable, initial, part_hash};
use sorted::FencedKeys;

use crate::levels::{NameForms, NameRole, PreparedName};
use crate::normalise::NameNormaliser;
use crate::record::{PartialDate, PersonName, Pin, PopulationEntry, Province, ProvinceMap, Sex};

const DECEASED: u8 = 1;
/// The person was merged into another (a duplicate registration): kept as a tombstone so person
/// numbers stay stable, invisible to every lookup.
const RETIRED: u8 = 2;

/// A person's number in the index. Stable while the index lives (compaction does not renumber);
/// not meaningful across indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct PersonId(u32);

impl PersonId {
    pub fn new(slot: u32) -> Self {
        Self(slot)
    }

    pub fn slot(self) -> u32 {
        self.0
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// A personal ID found in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinMatch {
    pub person: PersonId,
    /// The number looked up is an earlier number of the person, not the current one.
    pub superseded: bool,
}

/// One person as the comparators see them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersonView<'a> {
    pub id: PersonId,
    pub pin: Pin,
    pub family_name: Option<NameForms<'a>>,
    pub middle_name: Option<NameForms<'a>>,
    pub given_name: Option<NameForms<'a>>,
    pub birth_date: PartialDate,
    pub sex: Option<Sex>,
    pub birth_province: Option<Province>,
    pub deceased: bool,
    /// Share of the register whose family name folds to the same text (term frequency).
    pub family_frequency: Option<f64>,
    pub middle_frequency: Option<f64>,
    pub given_frequency: Option<f64>,
}

impl PersonView<'_> {
    /// The register's spelling of the name.
    pub fn name(&self) -> PersonName {
        let text =
            |forms: Option<NameForms<'_>>| forms.map_or(String::new(), |f| f.original.to_owned());
        PersonName {
            family: text(self.family_name),
            middle: text(self.middle_name),
            given: text(self.given_name),
        }
    }
}

/// What scoring needs of a person, as the index stores it: names are spelling ids (0 for none),
/// so a comparison can be remembered per spelling, and the rest is decoded on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct PersonKeys {
    pin: u64,
    attrs: u32,
    /// Spelling ids of the family, middle and given names.
    pub(crate) names: [u32; 3],
}

impl PersonKeys {
    pub(crate) fn pin(&self) -> Pin {
        pin_of(self.pin)
    }

    pub(crate) fn birth_date(&self) -> PartialDate {
        attr_date(self.attrs)
    }

    pub(crate) fn sex(&self) -> Option<Sex> {
        attr_sex(self.attrs)
    }

    pub(crate) fn birth_province(&self) -> Option<Province> {
        attr_province(self.attrs)
    }
}

/// What a record offers for blocking.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockingQuery<'a> {
    pub family_name: Option<&'a PreparedName>,
    pub middle_name: Option<&'a PreparedName>,
    pub given_name: Option<&'a PreparedName>,
    pub birth_date: PartialDate,
    pub sex: Option<Sex>,
    pub birth_province: Option<Province>,
}

/// How one blocking key fared for a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockProbe {
    pub key: BlockingKey,
    /// Entries under the record's key (an upper bound: stale entries of changed people count).
    pub size: usize,
    /// The block exceeded the size limit and was not read: the key is too common to help.
    pub skipped: bool,
}

/// A record's candidates: the union of its blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Candidates {
    /// Distinct, ascending.
    pub people: Vec<PersonId>,
    /// One entry per key the record could form, in [`BlockingKey::ALL`] order.
    pub probes: Vec<BlockProbe>,
}

/// The shape of one blocking table, for choosing [`crate::matcher::MatcherConfig::max_block_size`]
/// and watching key quality.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlockStats {
    pub key: BlockingKey,
    /// People with this key.
    pub entries: usize,
    /// Distinct key values.
    pub blocks: usize,
    /// Size of the largest block.
    pub largest: usize,
    /// Average size of the block a person is in (Σ size² / Σ size): the candidates a record
    /// of a typical person meets through this key.
    pub mean_block_of_person: f64,
}

/// What [`PopulationIndex::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    pub person: PersonId,
    pub kind: UpsertKind,
    /// Current numbers of *other* people that the entry lists as superseded: those people were
    /// duplicate registrations of this one and are now retired, their numbers pointing here.
    pub retired: Vec<Pin>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertKind {
    /// A person new to the index.
    Inserted,
    /// A person already in the index under the same number; fields replaced.
    Updated,
    /// A person already in the index under an earlier number, now known by the new one.
    Reissued { previous: Pin },
}

/// Why an entry cannot go into the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("personal ID {0} appears twice in the register")]
    DuplicatePin(Pin),
    #[error("personal ID {0} is listed as superseded by the same entry that holds it")]
    SupersedesItself(Pin),
    #[error(
        "personal ID {pin} is listed as superseded but is the current number of another person"
    )]
    SupersededPinInUse { pin: Pin },
    #[error("superseded personal ID {pin} is claimed by two people")]
    ConflictingSupersededPin { pin: Pin },
    #[error("the index holds at most {} people", u32::MAX - 1)]
    TooManyPeople,
    #[error("the name table is full (4 GiB of distinct name text)")]
    NameTableFull,
}

impl From<names::TableFull> for IndexError {
    fn from(_: names::TableFull) -> Self {
        Self::NameTableFull
    }
}

/// Memory in use, by structure, in bytes (allocated capacities, not lengths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MemoryReport {
    /// Live people (not a byte count).
    pub people: usize,
    pub columns: usize,
    pub names: usize,
    pub pin_index: usize,
    pub superseded: usize,
    pub blocks: [usize; BlockingKey::COUNT],
    pub delta: usize,
    pub term_counts: usize,
}

impl MemoryReport {
    pub fn total(&self) -> usize {
        self.columns
            + self.names
            + self.pin_index
            + self.superseded
            + self.blocks.iter().sum::<usize>()
            + self.delta
            + self.term_counts
    }

    /// Bytes per live person (0 for an empty index).
    pub fn bytes_per_person(&self) -> f64 {
        if self.people == 0 {
            0.0
        } else {
            self.total() as f64 / self.people as f64
        }
    }
}

/// Heap bytes of a `std` hash map (hashbrown) with the given capacity: buckets are a power of
/// two holding the capacity at 7/8 load, each with one control byte, plus one group of trailing
/// control bytes.
pub(crate) fn hash_map_bytes<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (size_of::<(K, V)>() + 1) + 16
}

/// The population register in memory. See the module documentation.
pub struct PopulationIndex {
    normaliser: Arc<dyn NameNormaliser>,
    provinces: ProvinceMap,
    names: NameTable,

    pins: Vec<u64>,
    attrs: Vec<u32>,
    flags: Vec<u8>,
    family: Vec<u32>,
    middle: Vec<u32>,
    given: Vec<u32>,

    /// Sorted by key; entries of changed people may be stale (checked on lookup).
    pin_keys: FencedKeys,
    pin_people: Vec<u32>,
    superseded_keys: Vec<u64>,
    superseded_people: Vec<u32>,
    blocks: [BlockTable; BlockingKey::COUNT],

    /// People below this number were in the sorted arrays at the last compaction.
    base_people: u32,
    /// People below `base_people` changed since the last compaction.
    dirty: HashSet<u32>,
    delta_pins: HashMap<u64, u32>,
    /// Overrides the sorted superseded array.
    delta_superseded: HashMap<u64, u32>,

    /// Per folded name id: live people with that folded family / middle / given name.
    term_counts: [Vec<u32>; 3],
    live: u32,
}

impl fmt::Debug for PopulationIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopulationIndex")
            .field("people", &self.live)
            .field("slots", &self.pins.len())
            .field("distinct_names", &self.names.len())
            .field("pending_changes", &self.pending_changes())
            .finish_non_exhaustive()
    }
}

fn pack_attrs(date: PartialDate, sex: Option<Sex>, province: Option<Province>) -> u32 {
    date.pack() | (Sex::code(sex) << 21) | (u32::from(Province::pack(province)) << 23)
}

fn attr_date(attrs: u32) -> PartialDate {
    PartialDate::unpack(attrs).unwrap_or(PartialDate::UNKNOWN)
}

fn attr_sex(attrs: u32) -> Option<Sex> {
    Sex::from_code((attrs >> 21) & 0b11)
}

fn attr_province(attrs: u32) -> Option<Province> {
    // Bits 23..31 hold the province byte.
    Province::unpack(((attrs >> 23) & 0xFF) as u8)
}

/// The text with runs of whitespace collapsed to one space and trimmed, borrowed when already so.
fn collapse_spaces(text: &str) -> Cow<'_, str> {
    let clean = !text.starts_with(char::is_whitespace)
        && !text.ends_with(char::is_whitespace)
        && !text
            .char_indices()
            .any(|(i, c)| c.is_whitespace() && (c != ' ' || text[i + 1..].starts_with(' ')));
    if clean {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

impl PopulationIndex {
    /// An empty index.
    pub fn new(normaliser: Arc<dyn NameNormaliser>, provinces: ProvinceMap) -> Self {
        let names = NameTable::new(normaliser.as_ref());
        Self {
            names,
            normaliser,
            provinces,
            pins: Vec::new(),
            attrs: Vec::new(),
            flags: Vec::new(),
            family: Vec::new(),
            middle: Vec::new(),
            given: Vec::new(),
            pin_keys: FencedKeys::default(),
            pin_people: Vec::new(),
            superseded_keys: Vec::new(),
            superseded_people: Vec::new(),
            blocks: Default::default(),
            base_people: 0,
            dirty: HashSet::new(),
            delta_pins: HashMap::new(),
            delta_superseded: HashMap::new(),
            term_counts: Default::default(),
            live: 0,
        }
    }

    /// Builds the index from a consistent register extract in one pass plus one sort per
    /// structure. Unlike [`PopulationIndex::upsert`], which reconciles, this rejects
    /// inconsistencies: a number held by two entries, a superseded number that is someone's
    /// current number or that two entries claim.
    pub fn build(
        entries: impl IntoIterator<Item = PopulationEntry>,
        normaliser: Arc<dyn NameNormaliser>,
        provinces: ProvinceMap,
    ) -> Result<Self, IndexError> {
        let mut index = Self::new(normaliser, provinces);
        let entries = entries.into_iter();
        let (expected, _) = entries.size_hint();
        index.reserve(expected);
        let mut links: Vec<(u64, u32)> = Vec::new();
        for entry in entries {
            if entry.superseded.contains(&entry.pin) {
                return Err(IndexError::SupersedesItself(entry.pin));
            }
            let person = index.push_person(&entry, true)?;
            links.extend(entry.superseded.iter().map(|old| (old.as_u64(), person)));
        }

        let mut by_pin: Vec<(u64, u32)> = index
            .pins
            .iter()
            .enumerate()
            // `push_person` keeps the count below u32::MAX.
            .map(|(person, &pin)| (pin, person as u32))
            .collect();
        by_pin.sort_unstable();
        if let Some(pair) = by_pin.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(IndexError::DuplicatePin(pin_of(pair[0].0)));
        }
        links.sort_unstable();
        links.dedup();
        if let Some(pair) = links.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(IndexError::ConflictingSupersededPin {
                pin: pin_of(pair[0].0),
            });
        }
        if let Some(&(old, _)) = links
            .iter()
            .find(|(old, _)| by_pin.binary_search_by_key(old, |(pin, _)| *pin).is_ok())
        {
            return Err(IndexError::SupersededPinInUse { pin: pin_of(old) });
        }
        let (pin_keys, pin_people): (Vec<u64>, Vec<u32>) = by_pin.into_iter().unzip();
        index.pin_keys = FencedKeys::new(pin_keys);
        index.pin_people = pin_people;
        (index.superseded_keys, index.superseded_people) = links.into_iter().unzip();
        index.rebuild_all_blocks();
        index.base_people = index.slot_count_u32();
        index.shrink_to_fit();
        Ok(index)
    }

    fn reserve(&mut self, people: usize) {
        self.pins.reserve_exact(people);
        self.attrs.reserve_exact(people);
        self.flags.reserve_exact(people);
        self.family.reserve_exact(people);
        self.middle.reserve_exact(people);
        self.given.reserve_exact(people);
    }

    fn slot_count_u32(&self) -> u32 {
        // `push_person` keeps the count below u32::MAX.
        self.pins.len() as u32
    }

    /// Interns a name part, collapsing stray whitespace.
    fn intern_name(&mut self, text: &str) -> Result<u32, IndexError> {
        let text = collapse_spaces(text);
        Ok(self.names.intern(self.normaliser.as_ref(), &text)?)
    }

    /// Appends a person's columns and counts their names; no lookup structure is touched.
    ///
    /// A bulk build lets the columns double as they grow (and trims them at the end); a live
    /// insert grows them by 1/64 at a time instead, so the first registration after a compaction
    /// does not double the index's largest arrays.
    fn push_person(&mut self, entry: &PopulationEntry, bulk: bool) -> Result<u32, IndexError> {
        let person = u32::try_from(self.pins.len())
            .ok()
            .filter(|p| *p < u32::MAX - 1)
            .ok_or(IndexError::TooManyPeople)?;
        if !bulk && self.pins.len() == self.pins.capacity() {
            self.reserve((self.pins.len() / 64).max(1024));
        }
        let family = self.intern_name(&entry.name.family)?;
        let middle = self.intern_name(&entry.name.middle)?;
        let given = self.intern_name(&entry.name.given)?;
        self.pins.push(entry.pin.as_u64());
        self.attrs.push(pack_attrs(
            entry.birth_date,
            entry.sex,
            entry.birth_province,
        ));
        self.flags.push(if entry.deceased { DECEASED } else { 0 });
        self.family.push(family);
        self.middle.push(middle);
        self.given.push(given);
        self.count_terms(person, 1);
        self.live += 1;
        Ok(person)
    }

    /// Adds `delta` (±1) to the term counts of a person's names.
    fn count_terms(&mut self, person: u32, delta: i32) {
        let p = person as usize;
        let ids = [self.family[p], self.middle[p], self.given[p]];
        for (role, id) in ids.into_iter().enumerate() {
            if id == 0 {
                continue;
            }
            let folded = self.names.folded_id(id) as usize;
            let counts = &mut self.term_counts[role];
            if counts.len() <= folded {
                counts.resize(self.names.folded_len().max(folded + 1), 0);
            }
            counts[folded] = counts[folded].saturating_add_signed(delta);
        }
    }

    fn recount_terms(&mut self) {
        self.term_counts = Default::default();
        self.live = 0;
        for person in 0..self.slot_count_u32() {
            if self.is_live(person) {
                self.count_terms(person, 1);
                self.live += 1;
            }
        }
    }

    fn is_live(&self, person: u32) -> bool {
        self.flags
            .get(person as usize)
            .is_some_and(|f| f & RETIRED == 0)
    }

    fn is_changed(&self, person: u32) -> bool {
        person >= self.base_people || self.dirty.contains(&person)
    }

    fn mark_changed(&mut self, person: u32) {
        if person < self.base_people {
            self.dirty.insert(person);
        }
    }

    /// The blocking-key parts of a person.
    fn person_parts(&self, person: u32) -> KeyParts {
        let p = person as usize;
        let info = |id: u32| {
            (id != 0)
                .then(|| self.names.folded_info(self.names.folded_id(id)))
                .flatten()
        };
        let attrs = self.attrs[p];
        KeyParts {
            family: info(self.family[p]).map(|i| (i.key_hash, i.key_initial)),
            middle: self
                .names
                .folded_info(self.names.folded_id(self.middle[p]))
                .map_or_else(|| part_hash(""), |i| i.hash),
            given: info(self.given[p]).map(|i| (i.hash, i.initial)),
            birth_date: attr_date(attrs),
            sex: attr_sex(attrs),
            province: attr_province(attrs).and_then(|pr| self.provinces.current_code(pr)),
        }
    }

    /// The blocking-key parts of a record.
    fn query_parts(&self, query: &BlockingQuery<'_>) -> KeyParts {
        KeyParts {
            family: query.family_name.map(|n| {
                let key = n.family_key();
                (part_hash(key), initial(key))
            }),
            middle: part_hash(query.middle_name.map_or("", PreparedName::folded)),
            given: query
                .given_name
                .map(|n| (part_hash(n.folded()), initial(n.folded()))),
            birth_date: query.birth_date,
            sex: query.sex,
            province: query
                .birth_province
                .and_then(|p| self.provinces.current_code(p)),
        }
    }

    /// Recomputes every blocking table from the columns (all live people into the sorted base).
    fn rebuild_all_blocks(&mut self) {
        let slots = self.slot_count_u32();
        for key in BlockingKey::ALL {
            let mut base: Vec<u64> = Vec::with_capacity(self.live as usize);
            for person in 0..slots {
                if self.is_live(person)
                    && let Some(value) = self.person_parts(person).key(key)
                {
                    base.push(entry(value, person));
                }
            }
            base.sort_unstable();
            base.shrink_to_fit();
            let table = &mut self.blocks[key.index()];
            table.base = FencedKeys::new(base);
            table.delta = HashMap::new();
        }
    }

    /// Re-creates the delta of changed people from the columns (after loading a snapshot).
    fn rebuild_delta(&mut self) {
        let changed: Vec<u32> = self
            .dirty
            .iter()
            .copied()
            .chain(self.base_people..self.slot_count_u32())
            .collect();
        for person in changed {
            if !self.is_live(person) {
                continue;
            }
            self.delta_pins.insert(self.pins[person as usize], person);
            let parts = self.person_parts(person);
            for key in BlockingKey::ALL {
                if let Some(value) = parts.key(key) {
                    self.blocks[key.index()].add_delta(value, person);
                }
            }
        }
    }

    /// The live person whose *current* number is `pin`.
    fn current_holder(&self, pin: u64) -> Option<u32> {
        let holds = |person: u32| self.is_live(person) && self.pins[person as usize] == pin;
        if let Some(&person) = self.delta_pins.get(&pin)
            && holds(person)
        {
            return Some(person);
        }
        let i = self.pin_keys.lower_bound(pin);
        match (self.pin_keys.as_slice().get(i), self.pin_people.get(i)) {
            (Some(&key), Some(&person)) if key == pin && holds(person) => Some(person),
            _ => None,
        }
    }

    /// The live person an earlier number points to.
    fn superseded_holder(&self, pin: u64) -> Option<u32> {
        let linked = match self.delta_superseded.get(&pin) {
            Some(&person) => Some(person),
            None => {
                let i = self.superseded_keys.partition_point(|&k| k < pin);
                (self.superseded_keys.get(i) == Some(&pin))
                    .then(|| self.superseded_people.get(i).copied())
                    .flatten()
            }
        };
        linked.filter(|&person| self.is_live(person))
    }

    /// Finds a person by personal ID, current or superseded.
    pub fn lookup_pin(&self, pin: Pin) -> Option<PinMatch> {
        let key = pin.as_u64();
        if let Some(person) = self.current_holder(key) {
            return Some(PinMatch {
                person: PersonId(person),
                superseded: false,
            });
        }
        self.superseded_holder(key).map(|person| PinMatch {
            person: PersonId(person),
            superseded: true,
        })
    }

    /// Applies one register change. See [`UpsertOutcome`] for what can happen:
    ///
    /// - the entry's number is someone's current number → that person is updated;
    /// - else one of its superseded numbers is someone's current number → that person is
    ///   re-issued the new number;
    /// - else the entry is a new person.
    ///
    /// Other people whose current number the entry lists as superseded are retired into the
    /// person (duplicate registrations merged). Every superseded number then points to the
    /// person.
    pub fn upsert(&mut self, entry: PopulationEntry) -> Result<UpsertOutcome, IndexError> {
        if entry.superseded.contains(&entry.pin) {
            return Err(IndexError::SupersedesItself(entry.pin));
        }
        let current = self.current_holder(entry.pin.as_u64());
        let mut others: Vec<u32> = Vec::new();
        for old in &entry.superseded {
            if let Some(person) = self.current_holder(old.as_u64())
                && Some(person) != current
                && !others.contains(&person)
            {
                others.push(person);
            }
        }
        let (person, kind) = match current {
            Some(person) => {
                self.update_person(person, &entry)?;
                (person, UpsertKind::Updated)
            }
            None if !others.is_empty() => {
                let person = others.remove(0);
                let previous = pin_of(self.pins[person as usize]);
                self.update_person(person, &entry)?;
                (person, UpsertKind::Reissued { previous })
            }
            None => {
                let person = self.push_person(&entry, false)?;
                self.delta_pins.insert(entry.pin.as_u64(), person);
                let parts = self.person_parts(person);
                for key in BlockingKey::ALL {
                    if let Some(value) = parts.key(key) {
                        self.blocks[key.index()].add_delta(value, person);
                    }
                }
                (person, UpsertKind::Inserted)
            }
        };
        let mut retired = Vec::with_capacity(others.len());
        for other in others {
            retired.push(pin_of(self.pins[other as usize]));
            self.retire(other, person);
        }
        for old in &entry.superseded {
            self.delta_superseded.insert(old.as_u64(), person);
        }
        Ok(UpsertOutcome {
            person: PersonId(person),
            kind,
            retired,
        })
    }

    /// Replaces a person's fields (and possibly number) in place.
    fn update_person(&mut self, person: u32, entry: &PopulationEntry) -> Result<(), IndexError> {
        let family = self.intern_name(&entry.name.family)?;
        let middle = self.intern_name(&entry.name.middle)?;
        let given = self.intern_name(&entry.name.given)?;
        let before = self.person_parts(person);
        let p = person as usize;
        self.count_terms(person, -1);
        self.family[p] = family;
        self.middle[p] = middle;
        self.given[p] = given;
        self.attrs[p] = pack_attrs(entry.birth_date, entry.sex, entry.birth_province);
        self.flags[p] = (self.flags[p] & !DECEASED) | if entry.deceased { DECEASED } else { 0 };
        self.count_terms(person, 1);
        let pin = entry.pin.as_u64();
        if self.pins[p] != pin {
            self.pins[p] = pin;
            self.delta_pins.insert(pin, person);
        }
        self.mark_changed(person);
        let after = self.person_parts(person);
        for key in BlockingKey::ALL {
            if let Some(value) = after.key(key)
                && before.key(key) != Some(value)
            {
                self.blocks[key.index()].add_delta(value, person);
            }
        }
        Ok(())
    }

    /// Retires `person` into `into`: invisible from now on, its numbers pointing to `into`.
    fn retire(&mut self, person: u32, into: u32) {
        self.count_terms(person, -1);
        self.flags[person as usize] |= RETIRED;
        self.live -= 1;
        self.mark_changed(person);
        self.delta_superseded
            .insert(self.pins[person as usize], into);
        // Earlier numbers of the retired person follow it.
        let mut repoint: Vec<u64> = self
            .superseded_keys
            .iter()
            .zip(&self.superseded_people)
            .filter(|(_, p)| **p == person)
            .map(|(k, _)| *k)
            .collect();
        repoint.extend(
            self.delta_superseded
                .iter()
                .filter(|(_, p)| **p == person)
                .map(|(k, _)| *k),
        );
        for key in repoint {
            self.delta_superseded.insert(key, into);
        }
    }

    /// Number of people changed or added since the last compaction.
    pub fn pending_changes(&self) -> usize {
        self.dirty.len() + (self.slot_count_u32() - self.base_people) as usize
    }

    /// Merges every pending change into the sorted arrays, in time linear in the index size.
    pub fn compact(&mut self) {
        let slots = self.slot_count_u32();
        let mut changed_bits = vec![0u64; (slots as usize).div_ceil(64)];
        let mut changed: Vec<u32> = self
            .dirty
            .iter()
            .copied()
            .chain(self.base_people..slots)
            .collect();
        changed.sort_unstable();
        for &person in &changed {
            changed_bits[person as usize / 64] |= 1 << (person % 64);
        }
        let is_changed =
            |person: u32| changed_bits[person as usize / 64] & (1 << (person % 64)) != 0;
        let changed_live: Vec<u32> = changed
            .iter()
            .copied()
            .filter(|&p| self.is_live(p))
            .collect();

        // PIN index: unchanged people keep their entries; changed live people enter afresh.
        let mut fresh: Vec<(u64, u32)> = changed_live
            .iter()
            .map(|&p| (self.pins[p as usize], p))
            .collect();
        fresh.sort_unstable();
        let kept = self
            .pin_keys
            .as_slice()
            .iter()
            .copied()
            .zip(self.pin_people.iter().copied())
            .filter(|&(_, p)| !is_changed(p));
        let capacity = self.pin_keys.len() + fresh.len();
        let merged = merge_sorted(kept, fresh.into_iter(), capacity);
        let (pin_keys, pin_people): (Vec<u64>, Vec<u32>) = merged.into_iter().unzip();
        self.pin_keys = FencedKeys::new(pin_keys);
        self.pin_people = pin_people;

        // Superseded numbers: the delta overrides the base.
        let overrides: Vec<(u64, u32)> = {
            let mut o: Vec<(u64, u32)> = self
                .delta_superseded
                .iter()
                .map(|(k, p)| (*k, *p))
                .collect();
            o.sort_unstable();
            o
        };
        let kept = self
            .superseded_keys
            .iter()
            .copied()
            .zip(self.superseded_people.iter().copied())
            .filter(|(k, _)| !self.delta_superseded.contains_key(k));
        let capacity = self.superseded_keys.len() + overrides.len();
        let merged: Vec<(u64, u32)> = merge_sorted(kept, overrides.into_iter(), capacity)
            .into_iter()
            .filter(|&(_, p)| self.is_live(p))
            .collect();
        (self.superseded_keys, self.superseded_people) = merged.into_iter().unzip();

        // Blocking tables.
        for key in BlockingKey::ALL {
            let mut fresh: Vec<u64> = changed_live
                .iter()
                .filter_map(|&p| self.person_parts(p).key(key).map(|value| entry(value, p)))
                .collect();
            fresh.sort_unstable();
            let table = &self.blocks[key.index()];
            let capacity = table.base.len() + fresh.len();
            let kept = table
                .base
                .as_slice()
                .iter()
                .copied()
                .filter(|&e| !is_changed(entry_person(e)))
                .map(|e| (e, ()));
            let merged: Vec<u64> = merge_sorted(kept, fresh.into_iter().map(|e| (e, ())), capacity)
                .into_iter()
                .map(|(e, ())| e)
                .collect();
            let table = &mut self.blocks[key.index()];
            table.base = FencedKeys::new(merged);
            table.delta = HashMap::new();
        }

        self.base_people = slots;
        self.dirty = HashSet::new();
        self.delta_pins = HashMap::new();
        self.delta_superseded = HashMap::new();
        self.shrink_to_fit();
    }

    fn shrink_to_fit(&mut self) {
        self.names.shrink_to_fit();
        self.pins.shrink_to_fit();
        self.attrs.shrink_to_fit();
        self.flags.shrink_to_fit();
        self.family.shrink_to_fit();
        self.middle.shrink_to_fit();
        self.given.shrink_to_fit();
        self.pin_people.shrink_to_fit();
        self.superseded_keys.shrink_to_fit();
        self.superseded_people.shrink_to_fit();
        for counts in &mut self.term_counts {
            counts.shrink_to_fit();
        }
    }

    /// Number of live people.
    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Number of person slots, retired ones included: valid [`PersonId`]s are below it.
    pub fn slots(&self) -> usize {
        self.pins.len()
    }

    /// Live people, by number.
    pub fn people(&self) -> impl Iterator<Item = PersonId> + '_ {
        (0..self.slot_count_u32())
            .filter(|&p| self.is_live(p))
            .map(PersonId)
    }

    pub fn normaliser(&self) -> &dyn NameNormaliser {
        self.normaliser.as_ref()
    }

    pub fn provinces(&self) -> &ProvinceMap {
        &self.provinces
    }

    /// Share of live people whose name part of `role` folds to `folded`; `None` when nobody's does.
    pub fn term_frequency(&self, role: NameRole, folded: &str) -> Option<f64> {
        let id = self.names.find_folded(folded)?;
        self.frequency_of_folded(role, id)
    }

    fn frequency_of_folded(&self, role: NameRole, folded_id: u32) -> Option<f64> {
        let counts = &self.term_counts[role_slot(role)];
        let count = *counts.get(folded_id as usize)?;
        (count > 0 && self.live > 0).then(|| f64::from(count) / f64::from(self.live))
    }

    fn frequency_of_name(&self, role: NameRole, id: u32) -> Option<f64> {
        if id == 0 {
            return None;
        }
        self.frequency_of_folded(role, self.names.folded_id(id))
    }

    /// A live person; `None` for a retired or unknown number.
    pub fn person(&self, id: PersonId) -> Option<PersonView<'_>> {
        let p = id.index();
        if !self.is_live(id.0) {
            return None;
        }
        let attrs = self.attrs[p];
        Some(PersonView {
            id,
            pin: pin_of(self.pins[p]),
            family_name: self.names.forms(self.family[p], NameRole::Family),
            middle_name: self.names.forms(self.middle[p], NameRole::Middle),
            given_name: self.names.forms(self.given[p], NameRole::Given),
            birth_date: attr_date(attrs),
            sex: attr_sex(attrs),
            birth_province: attr_province(attrs),
            deceased: self.flags[p] & DECEASED != 0,
            family_frequency: self.frequency_of_name(NameRole::Family, self.family[p]),
            middle_frequency: self.frequency_of_name(NameRole::Middle, self.middle[p]),
            given_frequency: self.frequency_of_name(NameRole::Given, self.given[p]),
        })
    }

    /// A live person's scoring keys; `None` for a retired or unknown number.
    pub(crate) fn person_keys(&self, id: PersonId) -> Option<PersonKeys> {
        let p = id.index();
        self.is_live(id.0).then(|| PersonKeys {
            pin: self.pins[p],
            attrs: self.attrs[p],
            names: [self.family[p], self.middle[p], self.given[p]],
        })
    }

    /// Replaces `out` with the scoring keys of the live people among `people`, in order. Each
    /// column is gathered in its own tight loop: the people are scattered over the index, and a
    /// loop with nothing else to do keeps many memory reads in flight instead of one.
    pub(crate) fn people_keys(&self, people: &[PersonId], out: &mut Vec<(PersonId, PersonKeys)>) {
        out.clear();
        out.extend(
            people
                .iter()
                .filter(|p| self.is_live(p.0))
                .map(|&p| (p, PersonKeys::default())),
        );
        for (p, keys) in out.iter_mut() {
            keys.attrs = self.attrs[p.index()];
        }
        for (p, keys) in out.iter_mut() {
            keys.pin = self.pins[p.index()];
        }
        for (slot, column) in [&self.family, &self.middle, &self.given]
            .into_iter()
            .enumerate()
        {
            for (p, keys) in out.iter_mut() {
                keys.names[slot] = column[p.index()];
            }
        }
    }

    /// The forms of a spelling id as [`PersonKeys::names`] holds it; `None` for 0.
    pub(crate) fn name_forms(&self, name: u32, role: NameRole) -> Option<NameForms<'_>> {
        self.names.forms(name, role)
    }

    /// The term frequency of a spelling id's folded form among names of `role`.
    pub(crate) fn name_frequency(&self, role: NameRole, name: u32) -> Option<f64> {
        self.frequency_of_name(role, name)
    }

    /// Whether an entry of a blocking table still describes the person.
    fn entry_holds(&self, key: BlockingKey, value: u32, person: u32) -> bool {
        self.is_live(person)
            && (!self.is_changed(person) || self.person_parts(person).key(key) == Some(value))
    }

    /// The people under one blocking key of a record, without a size limit (for training and
    /// diagnostics). Empty when the record lacks a part the key needs.
    pub fn block(&self, key: BlockingKey, query: &BlockingQuery<'_>) -> Vec<PersonId> {
        let Some(value) = self.query_parts(query).key(key) else {
            return Vec::new();
        };
        let mut raw = Vec::new();
        self.blocks[key.index()].collect(value, &mut raw);
        raw.sort_unstable();
        raw.dedup();
        raw.into_iter()
            .filter(|&p| self.entry_holds(key, value, p))
            .map(PersonId)
            .collect()
    }

    /// A record's candidates: the union of its blocks, skipping blocks larger than
    /// `max_block_size` (a key that common does not narrow anything down).
    pub fn candidates(&self, query: &BlockingQuery<'_>, max_block_size: usize) -> Candidates {
        let mut people = Vec::new();
        let probes = self.candidates_into(query, max_block_size, &mut people, &mut Vec::new());
        Candidates { people, probes }
    }

    /// [`PopulationIndex::candidates`] into buffers the caller keeps: `people` is replaced
    /// (sorted, distinct), `raw` is scratch.
    pub(crate) fn candidates_into(
        &self,
        query: &BlockingQuery<'_>,
        max_block_size: usize,
        people: &mut Vec<PersonId>,
        raw: &mut Vec<u32>,
    ) -> Vec<BlockProbe> {
        let parts = self.query_parts(query);
        people.clear();
        let mut probes = Vec::new();
        for key in BlockingKey::ALL {
            let Some(value) = parts.key(key) else {
                continue;
            };
            let table = &self.blocks[key.index()];
            let size = table.size(value);
            let skipped = size > max_block_size;
            probes.push(BlockProbe { key, size, skipped });
            if skipped {
                continue;
            }
            raw.clear();
            table.collect(value, raw);
            people.extend(
                raw.iter()
                    .copied()
                    .filter(|&p| self.entry_holds(key, value, p))
                    .map(PersonId),
            );
        }
        people.sort_unstable();
        people.dedup();
        probes
    }

    /// The shape of each blocking table as of the last compaction (pending changes are not
    /// counted).
    pub fn block_stats(&self) -> Vec<BlockStats> {
        BlockingKey::ALL
            .iter()
            .map(|&key| {
                let base = self.blocks[key.index()].base.as_slice();
                let (mut blocks, mut largest, mut squares) = (0usize, 0usize, 0f64);
                let mut start = 0;
                while start < base.len() {
                    let value = blocking::entry_key(base[start]);
                    let size = base[start..].partition_point(|&e| blocking::entry_key(e) == value);
                    blocks += 1;
                    largest = largest.max(size);
                    squares += (size * size) as f64;
                    start += size;
                }
                BlockStats {
                    key,
                    entries: base.len(),
                    blocks,
                    largest,
                    mean_block_of_person: if base.is_empty() {
                        0.0
                    } else {
                        squares / base.len() as f64
                    },
                }
            })
            .collect()
    }

    /// Memory in use, by structure.
    pub fn memory_report(&self) -> MemoryReport {
        let vec_bytes = |capacity: usize, element: usize| capacity * element;
        MemoryReport {
            people: self.len(),
            columns: vec_bytes(self.pins.capacity(), size_of::<u64>())
                + vec_bytes(self.attrs.capacity(), size_of::<u32>())
                + vec_bytes(self.flags.capacity(), size_of::<u8>())
                + vec_bytes(
                    self.family.capacity() + self.middle.capacity() + self.given.capacity(),
                    size_of::<u32>(),
                ),
            names: self.names.memory_bytes(),
            pin_index: self.pin_keys.memory_bytes()
                + vec_bytes(self.pin_people.capacity(), size_of::<u32>()),
            superseded: vec_bytes(self.superseded_keys.capacity(), size_of::<u64>())
                + vec_bytes(self.superseded_people.capacity(), size_of::<u32>()),
            blocks: std::array::from_fn(|i| self.blocks[i].memory_bytes()),
            delta: hash_map_bytes::<u32, ()>(self.dirty.capacity())
                + hash_map_bytes::<u64, u32>(self.delta_pins.capacity())
                + hash_map_bytes::<u64, u32>(self.delta_superseded.capacity()),
            term_counts: self
                .term_counts
                .iter()
                .map(|c| c.capacity() * size_of::<u32>())
                .sum(),
        }
    }

    /// Total bytes allocated by the index: the sum of [`PopulationIndex::memory_report`].
    pub fn memory_bytes(&self) -> usize {
        self.memory_report().total()
    }

    /// Writes a snapshot: the whole index, pending changes included, in a versioned binary
    /// format ([`SNAPSHOT_FORMAT_VERSION`]) ending in a checksum.
    pub fn write_snapshot<W: std::io::Write>(&self, writer: W) -> Result<(), SnapshotError> {
        snapshot::write(self, writer)
    }

    /// Reads a snapshot written by [`PopulationIndex::write_snapshot`]. When the normaliser or
    /// the province map differ from those the snapshot was written with, the blocking tables
    /// are rebuilt from the people (slower, but never stale).
    pub fn read_snapshot<R: std::io::Read>(
        reader: R,
        normaliser: Arc<dyn NameNormaliser>,
        provinces: ProvinceMap,
    ) -> Result<Self, SnapshotError> {
        snapshot::read(reader, normaliser, provinces)
    }
}

fn role_slot(role: NameRole) -> usize {
    match role {
        NameRole::Family => 0,
        NameRole::Middle => 1,
        NameRole::Given => 2,
    }
}

fn pin_of(value: u64) -> Pin {
    Pin::from_trusted(value)
}

/// Merges two sorted sequences of `(key, value)` into one sorted vector.
/// `capacity` is an upper bound of the total, so the result never reallocates.
fn merge_sorted<K: Ord + Copy, V: Copy>(
    a: impl Iterator<Item = (K, V)>,
    b: impl Iterator<Item = (K, V)>,
    capacity: usize,
) -> Vec<(K, V)> {
    let mut out = Vec::with_capacity(capacity);
    let mut a = a.peekable();
    let mut b = b.peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.0 <= y.0,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        if let Some(item) = next {
            out.push(item);
        }
    }
    out
}
