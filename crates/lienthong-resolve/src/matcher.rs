//! The verdict for one record: which register person it is, how sure, and why.
//!
//! 1. **Deterministic.** A well-formed stated personal ID found in the register (as a current
//!    or a superseded number) is compared with the record's other fields. Their evidence decides
//!    only whether to *veto* the number: an ID has no check digit, so a typo often lands on
//!    another real person, and then names and birth date disagree wholesale. Unless they
//!    disagree by more than [`MatcherConfig::pin_contradiction_bits`], the result is MATCHED, or
//!    MATCHED_WITH_DISCREPANCIES listing every differing field with both values (a corrected
//!    sex or birth year is a discrepancy to report, not a reason to reject: the register
//!    re-issues numbers after such corrections).
//! 2. **Probabilistic.** Otherwise the record's blocks, plus every register number one typo away
//!    from the stated one, give candidates; each is scored by the Fellegi–Sunter model. The best
//!    is MATCHED when its probability reaches [`MatcherConfig::match_threshold`] and it leads
//!    every other likely candidate by [`MatcherConfig::ambiguity_margin_bits`]; two or more likely
//!    candidates without such a lead are AMBIGUOUS; anything else is NOT_FOUND.
//! 3. **Invalid input.** With no usable personal ID and not enough fields to search (a given
//!    name and a birth year at least), the record is INVALID_INPUT with the reason. A record
//!    whose well-formed ID is not in the register (or was vetoed) and that has too little else
//!    to search by is NOT_FOUND, with a note saying why.
//!
//! Probabilities are per pair (record, candidate), as the model computes them; the ambiguity
//! margin, not a renormalisation across candidates, decides when two candidates are too close.
//!
//! The result ([`Resolution`]) carries everything `lienthong.v1.ResolutionResult` needs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use crate::hash::SplitMix64;
use crate::index::{
    BlockProbe, BlockingKey, BlockingQuery, PersonId, PersonKeys, PersonView, PopulationIndex,
};
use crate::levels::{
    ComparisonVector, Field, FieldLevels, NameForms, NameLevel, NameRole, PinLevel, PreparedName,
    compare_birth_dates, compare_names, compare_pins, compare_provinces, compare_sex,
};
use crate::model::{FieldValues, Model, Score, TermFrequencies};
use crate::normalise::NameNormaliser;
use crate::record::{PartialDate, Pin, Province, Sex};
use crate::training::PatternCounts;

/// Thresholds of the matcher. Defaults in [`MatcherConfig::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherConfig {
    /// Probability at or above which the best candidate is the person.
    pub match_threshold: f64,
    /// Probability at or above which a candidate is *likely*: listed in the result, and two
    /// likely candidates without a clear leader make the record AMBIGUOUS.
    pub candidate_threshold: f64,
    /// How many bits (log2 of the likelihood ratio) the best candidate must lead the second
    /// likely one by. 5 bits: the best is at least 32 times likelier.
    pub ambiguity_margin_bits: f64,
    /// A stated personal ID found in the register is vetoed when the other fields' weights sum
    /// below this (bits). −6: vetoed when the other fields are at least 64 times likelier for
    /// someone else, which a one-digit typo landing on another person produces and a genuine
    /// record with a corrected sex or birth year does not.
    pub pin_contradiction_bits: f64,
    /// Blocks larger than this are not read: a key that common narrows nothing down.
    pub max_block_size: usize,
    /// At most this many candidates are listed in a result.
    pub max_candidates: usize,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        Self {
            match_threshold: 0.95,
            candidate_threshold: 0.5,
            ambiguity_margin_bits: 5.0,
            pin_contradiction_bits: -6.0,
            max_block_size: 5_000,
            max_candidates: 5,
        }
    }
}

/// Why a [`MatcherConfig`] is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid matcher configuration: {0}")]
pub struct ConfigError(String);

impl MatcherConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let probability = |p: f64| p > 0.0 && p < 1.0;
        let problem = if !probability(self.match_threshold) {
            Some(format!(
                "match_threshold {} must be in (0, 1)",
                self.match_threshold
            ))
        } else if !probability(self.candidate_threshold) {
            Some(format!(
                "candidate_threshold {} must be in (0, 1)",
                self.candidate_threshold
            ))
        } else if self.candidate_threshold > self.match_threshold {
            Some("candidate_threshold must not exceed match_threshold".to_owned())
        } else if !(self.ambiguity_margin_bits >= 0.0 && self.ambiguity_margin_bits.is_finite()) {
            Some(format!(
                "ambiguity_margin_bits {} must be a non-negative number",
                self.ambiguity_margin_bits
            ))
        } else if !(self.pin_contradiction_bits <= 0.0 && self.pin_contradiction_bits.is_finite()) {
            Some(format!(
                "pin_contradiction_bits {} must be a non-positive number",
                self.pin_contradiction_bits
            ))
        } else if self.max_block_size == 0 || self.max_candidates == 0 {
            Some("max_block_size and max_candidates must be at least 1".to_owned())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(ConfigError(p)))
    }
}

/// A name as a source holds it: parts, or only the whole name (then split by the normaliser).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryName {
    pub full: String,
    pub family: String,
    pub middle: String,
    pub given: String,
}

/// A record to resolve. Empty strings and `None` mean "not stated".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryRecord {
    /// The personal ID as the source stated it (surrounding spaces are ignored).
    pub personal_id: String,
    pub name: QueryName,
    pub birth_date: PartialDate,
    pub sex: Option<Sex>,
    pub birth_province: Option<Province>,
}

/// `lienthong.v1.MatchStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchStatus {
    Matched,
    MatchedWithDiscrepancies,
    NotFound,
    Ambiguous,
    InvalidInput,
}

/// `lienthong.v1.MatchMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchMethod {
    PersonalId,
    Probabilistic,
}

/// How one field compared (`lienthong.v1.FieldComparison`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldComparison {
    pub field: Field,
    /// Level label; `"null"` when missing on a side, `"superseded"` for a stated personal ID
    /// that is an earlier number of the person (weighed as exact).
    pub level: &'static str,
    /// Bits this field contributed (term-frequency adjustment included).
    pub match_weight: f64,
    pub record_value: String,
    pub register_value: String,
    pub discrepancy: bool,
}

/// One scored register person (`lienthong.v1.MatchCandidate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchCandidate {
    pub personal_id: Pin,
    pub probability: f64,
    pub match_weight: f64,
    pub comparisons: Vec<FieldComparison>,
    pub deceased: bool,
}

/// Why a record could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum InvalidReason {
    /// No usable personal ID, and these fields needed for a search are missing.
    InsufficientFields {
        missing: Vec<&'static str>,
        /// The stated personal ID and why it is unusable, when one was stated.
        personal_id_problem: Option<String>,
    },
}

impl fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InsufficientFields {
                missing,
                personal_id_problem,
            } => {
                match personal_id_problem {
                    Some(problem) => write!(f, "personal ID unusable ({problem})")?,
                    None => f.write_str("no personal ID")?,
                }
                write!(f, " and the record lacks {}", missing.join(", "))
            }
        }
    }
}

/// Something a steward should know about how a record was resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ResolutionNote {
    /// The stated personal ID is not a 12-digit number; it was ignored.
    MalformedPersonalId { reason: String },
    /// The stated personal ID is well formed but nobody in the register holds it.
    PersonalIdNotFound,
    /// The stated personal ID belongs to a register person whose other fields disagree too much:
    /// it was treated as a typo, and the record searched for by its other fields.
    PersonalIdContradicted {
        holder: Pin,
        other_fields_weight: f64,
    },
}

/// The resolver's verdict (`lienthong.v1.ResolutionResult` without the timestamp).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub status: MatchStatus,
    /// `None` for INVALID_INPUT.
    pub method: Option<MatchMethod>,
    /// The personal ID as the record stated it.
    pub stated_personal_id: String,
    /// The register's current personal ID of the matched person (MATCHED*).
    pub personal_id: Option<Pin>,
    /// The stated ID was an earlier number of the matched person.
    pub stated_id_superseded: bool,
    /// Match probability of the matched (or best) pair; 0 when there was no candidate.
    pub probability: f64,
    pub match_weight: f64,
    /// Every field of the matched candidate, or of the best candidate when it is likely but not
    /// a match (AMBIGUOUS, NOT_FOUND); empty otherwise, so a result never discloses register
    /// values of a person the record is unlikely to be.
    pub comparisons: Vec<FieldComparison>,
    /// The comparisons with `discrepancy` set.
    pub discrepancies: Vec<FieldComparison>,
    /// Likely candidates, best first (the match itself included).
    pub candidates: Vec<MatchCandidate>,
    pub invalid_reason: Option<InvalidReason>,
    pub model_version: String,
    /// The matched person is recorded as deceased.
    pub deceased: bool,
    pub notes: Vec<ResolutionNote>,
    /// How each blocking key fared (probabilistic path).
    pub blocks: Vec<BlockProbe>,
}

/// A record with its names prepared and its personal ID parsed, ready to compare with many
/// register people.
#[derive(Debug, Clone)]
pub struct PreparedRecord {
    stated_pin: String,
    pin: Option<Pin>,
    pin_problem: Option<String>,
    family: Option<PreparedName>,
    middle: Option<PreparedName>,
    given: Option<PreparedName>,
    birth_date: PartialDate,
    sex: Option<Sex>,
    birth_province: Option<Province>,
}

impl PreparedRecord {
    pub fn new(normaliser: &dyn NameNormaliser, record: &QueryRecord) -> Self {
        let stated_pin = record.personal_id.trim().to_owned();
        let (pin, pin_problem) = if stated_pin.is_empty() {
            (None, None)
        } else {
            match Pin::parse(&stated_pin) {
                Ok(pin) => (Some(pin), None),
                Err(error) => (None, Some(error.to_string())),
            }
        };
        let name = &record.name;
        let split;
        let (family, middle, given) = if name.family.trim().is_empty()
            && name.given.trim().is_empty()
            && !name.full.trim().is_empty()
        {
            split = normaliser.split_full_name(&name.full);
            (&split.family, &split.middle, &split.given)
        } else {
            (&name.family, &name.middle, &name.given)
        };
        Self {
            stated_pin,
            pin,
            pin_problem,
            family: PreparedName::new(normaliser, family, NameRole::Family),
            middle: PreparedName::new(normaliser, middle, NameRole::Middle),
            given: PreparedName::new(normaliser, given, NameRole::Given),
            birth_date: record.birth_date,
            sex: record.sex,
            birth_province: record.birth_province,
        }
    }

    /// The parsed personal ID, when one was stated and well formed.
    pub fn pin(&self) -> Option<Pin> {
        self.pin
    }

    fn blocking_query(&self) -> BlockingQuery<'_> {
        BlockingQuery {
            family_name: self.family.as_ref(),
            middle_name: self.middle.as_ref(),
            given_name: self.given.as_ref(),
            birth_date: self.birth_date,
            sex: self.sex,
            birth_province: self.birth_province,
        }
    }

    /// The fields a search needs and the record lacks.
    fn missing_for_search(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.given.is_none() {
            missing.push("given name");
        }
        if self.birth_date.year().is_none() {
            missing.push("birth year");
        }
        missing
    }
}

/// How the stated personal ID relates to the person being compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatedPin {
    /// Compare the stated number with the person's current one.
    Compare,
    /// The stated number is an earlier number of this person: weigh as exact.
    Superseded,
    /// The stated number was vetoed for this person: leave it out.
    Ignore,
}

/// A compared pair: levels and term frequencies, ready for the model.
struct Comparison {
    levels: FieldLevels,
    frequencies: TermFrequencies,
    pin_superseded: bool,
}

/// The name parts: their slot in [`PersonKeys::names`], role and field.
const NAME_PARTS: [(usize, NameRole, Field); 3] = [
    (0, NameRole::Family, Field::FamilyName),
    (1, NameRole::Middle, Field::MiddleName),
    (2, NameRole::Given, Field::GivenName),
];

/// One name part of a record compared with one register spelling.
#[derive(Debug, Clone, Copy)]
struct NameOutcome {
    level: Option<NameLevel>,
    /// The register spelling's term frequency.
    frequency: Option<f64>,
}

/// A record's name comparisons, remembered by register spelling id when `remember` is set: the
/// people of a block share a handful of spellings, and the level and frequency depend on the
/// spelling alone.
struct NameMemo {
    remember: bool,
    seen: [HashMap<u32, NameOutcome, BuildHasherDefault<SpellingHasher>>; 3],
}

impl NameMemo {
    /// Compares every time (one person, or pairs of unrelated records).
    fn direct() -> Self {
        Self {
            remember: false,
            seen: Default::default(),
        }
    }

    /// Remembers outcomes: many people compared with one record.
    fn remembering() -> Self {
        Self {
            remember: true,
            seen: Default::default(),
        }
    }

    /// Forgets every outcome (for the next record), keeping the tables' room.
    fn clear(&mut self) {
        for seen in &mut self.seen {
            seen.clear();
        }
    }

    fn compare(
        &mut self,
        index: &PopulationIndex,
        slot: usize,
        role: NameRole,
        record: Option<&PreparedName>,
        spelling: u32,
    ) -> NameOutcome {
        let outcome = || NameOutcome {
            level: compare_names(
                record.map(PreparedName::forms).as_ref(),
                index.name_forms(spelling, role).as_ref(),
            ),
            frequency: index.name_frequency(role, spelling),
        };
        if self.remember {
            *self.seen[slot].entry(spelling).or_insert_with(outcome)
        } else {
            outcome()
        }
    }
}

/// A thread's buffers for the probabilistic search, kept between records so that they are
/// allocated once per thread rather than once per record: blocks hold thousands of people.
struct Search {
    names: NameMemo,
    people: Vec<PersonId>,
    raw: Vec<u32>,
    keys: Vec<(PersonId, PersonKeys)>,
}

thread_local! {
    static SEARCH: RefCell<Search> = RefCell::new(Search {
        names: NameMemo::remembering(),
        people: Vec::new(),
        raw: Vec::new(),
        keys: Vec::new(),
    });
}

/// Hashes a spelling id (a dense `u32`) with one multiply-shift mix; std's SipHash costs more
/// than the lookup it serves.
#[derive(Default)]
struct SpellingHasher(u64);

impl Hasher for SpellingHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.0 = u64::from(value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A scored candidate, before anything is explained.
#[derive(Debug, Clone, Copy)]
struct Scored {
    person: PersonId,
    pin: Pin,
    match_weight: f64,
    probability: f64,
}

impl Scored {
    /// The ranking order: higher weight first, then the lower personal ID.
    fn ranks_before(&self, other: &Self) -> bool {
        self.match_weight
            .total_cmp(&other.match_weight)
            .then_with(|| other.pin.cmp(&self.pin))
            .is_gt()
    }
}

fn show_name(forms: Option<&NameForms<'_>>) -> String {
    forms.map_or(String::new(), |f| f.original.to_owned())
}

fn show<T: fmt::Display>(value: Option<T>) -> String {
    value.map_or(String::new(), |v| v.to_string())
}

/// The resolver: a model and its thresholds.
#[derive(Debug, Clone)]
pub struct Matcher {
    model: Model,
    config: MatcherConfig,
}

impl Matcher {
    pub fn new(model: Model, config: MatcherConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self { model, config })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.config
    }

    fn compare(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        person: &PersonKeys,
        stated: StatedPin,
        names: &mut NameMemo,
    ) -> Comparison {
        let personal_id = match stated {
            StatedPin::Compare => compare_pins(record.pin, Some(person.pin())),
            StatedPin::Superseded => record.pin.map(|_| PinLevel::Exact),
            StatedPin::Ignore => None,
        };
        let [family, middle, given] = NAME_PARTS.map(|(slot, role, field)| {
            let prepared = match field {
                Field::FamilyName => record.family.as_ref(),
                Field::MiddleName => record.middle.as_ref(),
                _ => record.given.as_ref(),
            };
            names.compare(index, slot, role, prepared, person.names[slot])
        });
        let levels = FieldLevels {
            personal_id,
            family_name: family.level,
            middle_name: middle.level,
            given_name: given.level,
            birth_date: compare_birth_dates(record.birth_date, person.birth_date()),
            sex: compare_sex(record.sex, person.sex()),
            birth_province: compare_provinces(
                record.birth_province,
                person.birth_province(),
                index.provinces(),
            ),
        };
        let mut frequencies = TermFrequencies::default();
        frequencies.set(Field::FamilyName, family.frequency);
        frequencies.set(Field::MiddleName, middle.frequency);
        frequencies.set(Field::GivenName, given.frequency);
        Comparison {
            levels,
            frequencies,
            pin_superseded: stated == StatedPin::Superseded,
        }
    }

    /// Compares and scores one person (`None` when the person is not live).
    fn score_person(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        person: PersonId,
        stated: StatedPin,
        names: &mut NameMemo,
    ) -> Option<(Comparison, Score)> {
        let keys = index.person_keys(person)?;
        Some(self.score_keys(index, record, &keys, stated, names))
    }

    fn score_keys(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        person: &PersonKeys,
        stated: StatedPin,
        names: &mut NameMemo,
    ) -> (Comparison, Score) {
        let comparison = self.compare(index, record, person, stated, names);
        let score = self
            .model
            .score(&comparison.levels.vector(), &comparison.frequencies);
        (comparison, score)
    }

    /// The comparison vector of a record and a register person, for training.
    pub fn comparison_vector(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        person: PersonId,
    ) -> Option<ComparisonVector> {
        self.comparison_vector_with(index, record, person, &mut NameMemo::direct())
    }

    fn comparison_vector_with(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        person: PersonId,
        names: &mut NameMemo,
    ) -> Option<ComparisonVector> {
        let keys = index.person_keys(person)?;
        Some(
            self.compare(index, record, &keys, StatedPin::Compare, names)
                .levels
                .vector(),
        )
    }

    fn field_comparisons(
        &self,
        record: &PreparedRecord,
        person: &PersonView<'_>,
        comparison: &Comparison,
    ) -> Vec<FieldComparison> {
        let mut values = FieldValues::default();
        values.set(
            Field::PersonalId,
            record.stated_pin.clone(),
            person.pin.to_string(),
        );
        values.set(
            Field::FamilyName,
            record.family.as_ref().map_or("", PreparedName::original),
            show_name(person.family_name.as_ref()),
        );
        values.set(
            Field::MiddleName,
            record.middle.as_ref().map_or("", PreparedName::original),
            show_name(person.middle_name.as_ref()),
        );
        values.set(
            Field::GivenName,
            record.given.as_ref().map_or("", PreparedName::original),
            show_name(person.given_name.as_ref()),
        );
        values.set(
            Field::BirthDate,
            record.birth_date.to_string(),
            person.birth_date.to_string(),
        );
        values.set(
            Field::Sex,
            show(record.sex.map(Sex::as_str)),
            show(person.sex.map(Sex::as_str)),
        );
        values.set(
            Field::BirthProvince,
            show(record.birth_province),
            show(person.birth_province),
        );
        let explanation =
            self.model
                .explain(&comparison.levels.vector(), &comparison.frequencies, values);
        explanation
            .fields
            .into_iter()
            .map(|f| {
                let superseded = f.field == Field::PersonalId && comparison.pin_superseded;
                FieldComparison {
                    field: f.field,
                    level: if superseded { "superseded" } else { f.level },
                    match_weight: f.match_weight,
                    discrepancy: f.discrepancy || superseded,
                    record_value: f.record_value,
                    register_value: f.register_value,
                }
            })
            .collect()
    }

    fn candidate(
        &self,
        record: &PreparedRecord,
        person: &PersonView<'_>,
        comparison: &Comparison,
        score: &Score,
    ) -> MatchCandidate {
        MatchCandidate {
            personal_id: person.pin,
            probability: score.probability,
            match_weight: score.match_weight,
            comparisons: self.field_comparisons(record, person, comparison),
            deceased: person.deceased,
        }
    }

    fn empty_resolution(&self, record: &PreparedRecord, status: MatchStatus) -> Resolution {
        Resolution {
            status,
            method: None,
            stated_personal_id: record.stated_pin.clone(),
            personal_id: None,
            stated_id_superseded: false,
            probability: 0.0,
            match_weight: 0.0,
            comparisons: Vec::new(),
            discrepancies: Vec::new(),
            candidates: Vec::new(),
            invalid_reason: None,
            model_version: self.model.version().to_owned(),
            deceased: false,
            notes: Vec::new(),
            blocks: Vec::new(),
        }
    }

    fn matched(
        &self,
        mut resolution: Resolution,
        method: MatchMethod,
        best: MatchCandidate,
        stated_id_superseded: bool,
    ) -> Resolution {
        let discrepancies: Vec<FieldComparison> = best
            .comparisons
            .iter()
            .filter(|c| c.discrepancy)
            .cloned()
            .collect();
        resolution.status = if discrepancies.is_empty() {
            MatchStatus::Matched
        } else {
            MatchStatus::MatchedWithDiscrepancies
        };
        resolution.method = Some(method);
        resolution.personal_id = Some(best.personal_id);
        resolution.stated_id_superseded = stated_id_superseded;
        resolution.probability = best.probability;
        resolution.match_weight = best.match_weight;
        resolution.comparisons = best.comparisons.clone();
        resolution.discrepancies = discrepancies;
        resolution.deceased = best.deceased;
        if resolution.candidates.is_empty() {
            resolution.candidates.push(best);
        }
        resolution
    }

    /// Resolves one record against the index.
    pub fn resolve(&self, index: &PopulationIndex, record: &QueryRecord) -> Resolution {
        let record = PreparedRecord::new(index.normaliser(), record);
        self.resolve_prepared(index, &record)
    }

    /// [`Matcher::resolve`] for a record already prepared with the index's normaliser.
    pub fn resolve_prepared(&self, index: &PopulationIndex, record: &PreparedRecord) -> Resolution {
        let mut resolution = self.empty_resolution(record, MatchStatus::NotFound);
        let mut vetoed: Option<PersonId> = None;

        if let Some(problem) = &record.pin_problem {
            resolution.notes.push(ResolutionNote::MalformedPersonalId {
                reason: problem.clone(),
            });
        }
        if let Some(pin) = record.pin {
            match index.lookup_pin(pin) {
                Some(hit) => {
                    let stated = if hit.superseded {
                        StatedPin::Superseded
                    } else {
                        StatedPin::Compare
                    };
                    let scored = self.score_person(
                        index,
                        record,
                        hit.person,
                        stated,
                        &mut NameMemo::direct(),
                    );
                    if let (Some((comparison, score)), Some(person)) =
                        (scored, index.person(hit.person))
                    {
                        let others = score.weight_without(Field::PersonalId);
                        if others >= self.config.pin_contradiction_bits {
                            let best = self.candidate(record, &person, &comparison, &score);
                            return self.matched(
                                resolution,
                                MatchMethod::PersonalId,
                                best,
                                hit.superseded,
                            );
                        }
                        resolution
                            .notes
                            .push(ResolutionNote::PersonalIdContradicted {
                                holder: person.pin,
                                other_fields_weight: others,
                            });
                        vetoed = Some(hit.person);
                    }
                }
                None => resolution.notes.push(ResolutionNote::PersonalIdNotFound),
            }
        }

        let missing = record.missing_for_search();
        if !missing.is_empty() {
            if record.pin.is_none() {
                resolution.status = MatchStatus::InvalidInput;
                resolution.invalid_reason = Some(InvalidReason::InsufficientFields {
                    missing,
                    personal_id_problem: record.pin_problem.clone(),
                });
            }
            return resolution;
        }

        resolution.method = Some(MatchMethod::Probabilistic);
        SEARCH.with_borrow_mut(|search| {
            let Search {
                names,
                people,
                raw,
                keys,
            } = search;
            resolution.blocks = index.candidates_into(
                &record.blocking_query(),
                self.config.max_block_size,
                people,
                raw,
            );
            if let Some(pin) = record.pin {
                people.extend(
                    pin_neighbours(pin).filter_map(|p| index.lookup_pin(p).map(|m| m.person)),
                );
            }
            if let Some(person) = vetoed {
                people.push(person);
            }
            people.sort_unstable();
            people.dedup();
            index.people_keys(people, keys);
            names.clear();
            self.resolve_among(index, record, resolution, keys, vetoed, names)
        })
    }

    /// The probabilistic verdict among `people`, the record's live candidates (sorted, distinct).
    fn resolve_among(
        &self,
        index: &PopulationIndex,
        record: &PreparedRecord,
        mut resolution: Resolution,
        people: &[(PersonId, PersonKeys)],
        vetoed: Option<PersonId>,
        names: &mut NameMemo,
    ) -> Resolution {
        // Every candidate is scored, but only the likely ones (and the best) are explained: a
        // block can hold thousands of people, and explaining costs text and allocations.
        let stated_for = |person: PersonId| {
            if Some(person) == vetoed {
                StatedPin::Ignore
            } else {
                StatedPin::Compare
            }
        };
        let mut likely: Vec<Scored> = Vec::new();
        let mut best_unlikely: Option<Scored> = None;
        for &(person, keys) in people {
            let (_, score) = self.score_keys(index, record, &keys, stated_for(person), names);
            let scored = Scored {
                person,
                pin: keys.pin(),
                match_weight: score.match_weight,
                probability: score.probability,
            };
            if score.probability >= self.config.candidate_threshold {
                likely.push(scored);
            } else if best_unlikely.is_none_or(|b| scored.ranks_before(&b)) {
                best_unlikely = Some(scored);
            }
        }
        likely.sort_by(|a, b| {
            b.match_weight
                .total_cmp(&a.match_weight)
                .then_with(|| a.pin.cmp(&b.pin))
        });
        let explained = |scored: &Scored, names: &mut NameMemo| {
            let stated = stated_for(scored.person);
            let (comparison, score) =
                self.score_person(index, record, scored.person, stated, names)?;
            let person = index.person(scored.person)?;
            Some((person, comparison, score))
        };
        resolution.candidates = likely
            .iter()
            .take(self.config.max_candidates)
            .filter_map(|s| explained(s, names))
            .map(|(person, comparison, score)| self.candidate(record, &person, &comparison, &score))
            .collect();
        let Some(best) = likely.first().or(best_unlikely.as_ref()) else {
            return resolution;
        };
        resolution.probability = best.probability;
        resolution.match_weight = best.match_weight;
        // Every other candidate is unlikely (below `candidate_threshold`) unless it is in
        // `likely`, so only the second likely one can take the lead away.
        let clear_lead = likely.get(1).is_none_or(|second| {
            best.match_weight - second.match_weight >= self.config.ambiguity_margin_bits
        });
        let best_explained = (best.probability >= self.config.candidate_threshold)
            .then(|| explained(best, names))
            .flatten();
        if best.probability >= self.config.match_threshold
            && clear_lead
            && let Some((person, comparison, score)) = &best_explained
        {
            let best = self.candidate(record, person, comparison, score);
            return self.matched(resolution, MatchMethod::Probabilistic, best, false);
        }
        let likely = likely.len();
        // The best candidate's fields are explained only when it is likely: the register
        // values of an unrelated person are personal data the caller has no reason to see.
        if let Some((person, comparison, _)) = &best_explained {
            resolution.comparisons = self.field_comparisons(record, person, comparison);
            resolution.discrepancies = resolution
                .comparisons
                .iter()
                .filter(|c| c.discrepancy)
                .cloned()
                .collect();
        }
        resolution.status = if likely >= 2 {
            MatchStatus::Ambiguous
        } else {
            MatchStatus::NotFound
        };
        resolution
    }

    /// Comparison vectors of every (record, person) pair sharing `key`: the candidate pairs of
    /// one EM session.
    pub fn blocked_pairs(
        &self,
        index: &PopulationIndex,
        records: &[QueryRecord],
        key: BlockingKey,
    ) -> PatternCounts {
        let mut patterns = PatternCounts::new();
        for record in records {
            let prepared = PreparedRecord::new(index.normaliser(), record);
            let mut names = NameMemo::remembering();
            for person in index.block(key, &prepared.blocking_query()) {
                if let Some(vector) =
                    self.comparison_vector_with(index, &prepared, person, &mut names)
                {
                    patterns.add(vector);
                }
            }
        }
        patterns
    }

    /// Comparison vectors of `pairs` random (record, register person) pairs, drawn with a
    /// deterministic generator seeded by `seed`: the input of u estimation.
    pub fn random_pairs(
        &self,
        index: &PopulationIndex,
        records: &[QueryRecord],
        pairs: usize,
        seed: u64,
    ) -> PatternCounts {
        let mut patterns = PatternCounts::new();
        if records.is_empty() || index.is_empty() {
            return patterns;
        }
        let prepared: Vec<PreparedRecord> = records
            .iter()
            .map(|r| PreparedRecord::new(index.normaliser(), r))
            .collect();
        let mut rng = SplitMix64::new(seed);
        let slots = index.slots() as u64;
        let mut drawn = 0;
        // Retired slots are skipped; give up after many misses rather than loop forever.
        let mut attempts = 0usize;
        while drawn < pairs && attempts < pairs.saturating_mul(20) {
            attempts += 1;
            let record = &prepared[rng.below(prepared.len() as u64) as usize];
            // Slots fit in u32 by construction of the index.
            let person = PersonId::new(rng.below(slots) as u32);
            if let Some(vector) = self.comparison_vector(index, record, person) {
                patterns.add(vector);
                drawn += 1;
            }
        }
        patterns
    }
}

/// Every 12-digit number one typo away from `pin`: one digit replaced, or two adjacent digits
/// swapped.
pub fn pin_neighbours(pin: Pin) -> impl Iterator<Item = Pin> {
    let digits = pin.digits();
    let substitutions = (0..12).flat_map(move |position| {
        (0..10u8)
            .filter(move |&d| d != digits[position])
            .filter_map(move |d| {
                let mut changed = digits;
                changed[position] = d;
                Pin::from_digits(changed).ok()
            })
    });
    let swaps = (0..11).filter_map(move |position| {
        (digits[position] != digits[position + 1])
            .then(|| {
                let mut changed = digits;
                changed.swap(position, position + 1);
                Pin::from_digits(changed).ok()
            })
            .flatten()
    });
    substitutions.chain(swaps)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::ModelParams;
    use crate::normalise::VietnameseNameNormaliser;
    use crate::record::{PersonName, PopulationEntry, ProvinceCodeSystem, ProvinceMap};
    use proptest::prelude::*;

    fn pin(text: &str) -> Pin {
        Pin::parse(text).unwrap()
    }

    fn old(code: u8) -> Option<Province> {
        Some(Province::new(ProvinceCodeSystem::Pre2025, code).unwrap())
    }

    fn entry(
        pin_text: &str,
        name: (&str, &str, &str),
        date: (u16, u8, u8),
        sex: Sex,
        province: u8,
    ) -> PopulationEntry {
        PopulationEntry {
            pin: pin(pin_text),
            superseded: Vec::new(),
            name: PersonName::new(name.0, name.1, name.2),
            birth_date: PartialDate::new(date.0, date.1, date.2).unwrap(),
            sex: Some(sex),
            birth_province: old(province),
            deceased: false,
        }
    }

    fn register() -> PopulationIndex {
        let mut people = vec![
            entry(
                "001175000001",
                ("Nguyễn", "Thị", "Hoà"),
                (1975, 3, 12),
                Sex::Female,
                1,
            ),
            entry(
                "001080000002",
                ("Trần", "Văn", "Bình"),
                (1980, 7, 1),
                Sex::Male,
                1,
            ),
            entry(
                "002190000003",
                ("Huỳnh", "Minh", "Khôi"),
                (1990, 11, 5),
                Sex::Male,
                2,
            ),
            entry(
                "079185000004",
                ("Lê", "Thị", "Mai"),
                (1985, 1, 20),
                Sex::Female,
                79,
            ),
            // Twins: same name, date and province, different numbers.
            entry(
                "079195000005",
                ("Phạm", "Văn", "Tài"),
                (1995, 6, 6),
                Sex::Male,
                79,
            ),
            entry(
                "079195000006",
                ("Phạm", "Văn", "Tài"),
                (1995, 6, 6),
                Sex::Male,
                79,
            ),
            PopulationEntry {
                deceased: true,
                ..entry(
                    "036150000007",
                    ("Đỗ", "Văn", "Lực"),
                    (1950, 0, 0),
                    Sex::Male,
                    36,
                )
            },
        ];
        // Bình's number was re-issued; his old number is superseded.
        people[1].superseded.push(pin("001180000002"));
        let provinces =
            ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8), (36, 37), (37, 37), (79, 79)])
                .unwrap();
        PopulationIndex::build(
            people,
            Arc::new(VietnameseNameNormaliser::default()),
            provinces,
        )
        .unwrap()
    }

    fn matcher(index: &PopulationIndex) -> Matcher {
        let params =
            ModelParams::starting_values("test-1").with_prior_for_register(index.len() as u64, 0.9);
        Matcher::new(Model::new(params).unwrap(), MatcherConfig::default()).unwrap()
    }

    fn record(
        pin: &str,
        name: (&str, &str, &str),
        date: (u16, u8, u8),
        sex: Option<Sex>,
        province: Option<Province>,
    ) -> QueryRecord {
        QueryRecord {
            personal_id: pin.to_owned(),
            name: QueryName {
                full: String::new(),
                family: name.0.to_owned(),
                middle: name.1.to_owned(),
                given: name.2.to_owned(),
            },
            birth_date: PartialDate::new(date.0, date.1, date.2).unwrap(),
            sex,
            birth_province: province,
        }
    }

    fn field(resolution: &Resolution, field: Field) -> &FieldComparison {
        resolution
            .comparisons
            .iter()
            .find(|c| c.field == field)
            .unwrap()
    }

    #[test]
    fn stated_id_with_agreeing_fields_is_matched() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "001175000001",
                ("Nguyễn", "Thị", "Hoà"),
                (1975, 3, 12),
                Some(Sex::Female),
                old(1),
            ),
        );
        assert_eq!(resolution.status, MatchStatus::Matched);
        assert_eq!(resolution.method, Some(MatchMethod::PersonalId));
        assert_eq!(resolution.personal_id, Some(pin("001175000001")));
        assert!(resolution.discrepancies.is_empty());
        assert_eq!(resolution.comparisons.len(), Field::COUNT);
        assert!(resolution.probability > 0.99);
        assert_eq!(resolution.model_version, "test-1");
        assert_eq!(resolution.candidates.len(), 1);
    }

    #[test]
    fn stated_id_with_tone_variant_and_new_province_code_has_no_discrepancy() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "001175000001",
                ("NGUYỄN", "Thị", "Hòa"),
                (1975, 3, 12),
                Some(Sex::Female),
                Some(Province::new(ProvinceCodeSystem::From2025, 1).unwrap()),
            ),
        );
        assert_eq!(
            resolution.status,
            MatchStatus::Matched,
            "{:?}",
            resolution.discrepancies
        );
        assert_eq!(field(&resolution, Field::GivenName).level, "tone_folded");
        assert_eq!(
            field(&resolution, Field::BirthProvince).level,
            "same_after_merger"
        );
    }

    #[test]
    fn corrected_sex_and_year_are_discrepancies_not_rejections() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "002190000003",
                ("Huỳnh", "Minh", "Khôi"),
                (1991, 11, 5),
                Some(Sex::Female),
                old(2),
            ),
        );
        assert_eq!(resolution.status, MatchStatus::MatchedWithDiscrepancies);
        assert_eq!(resolution.method, Some(MatchMethod::PersonalId));
        let fields: Vec<Field> = resolution.discrepancies.iter().map(|d| d.field).collect();
        assert_eq!(fields, vec![Field::BirthDate, Field::Sex]);
        let date = &resolution.discrepancies[0];
        assert_eq!(date.level, "year_off_by_one");
        assert_eq!(
            (date.record_value.as_str(), date.register_value.as_str()),
            ("1991-11-05", "1990-11-05")
        );
        let sex = &resolution.discrepancies[1];
        assert_eq!(
            (sex.record_value.as_str(), sex.register_value.as_str()),
            ("female", "male")
        );
    }

    #[test]
    fn superseded_id_leads_to_the_current_one_and_says_so() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "001180000002",
                ("Trần", "Văn", "Bình"),
                (1980, 7, 1),
                Some(Sex::Male),
                old(1),
            ),
        );
        assert_eq!(resolution.status, MatchStatus::MatchedWithDiscrepancies);
        assert_eq!(resolution.personal_id, Some(pin("001080000002")));
        assert!(resolution.stated_id_superseded);
        assert_eq!(resolution.stated_personal_id, "001180000002");
        let id = field(&resolution, Field::PersonalId);
        assert_eq!(id.level, "superseded");
        assert!(id.discrepancy);
        assert_eq!(id.register_value, "001080000002");
        assert_eq!(resolution.discrepancies.len(), 1);
    }

    #[test]
    fn a_typo_landing_on_another_person_is_vetoed_and_the_right_person_found() {
        let index = register();
        // Mai's record with a number nobody holds, one digit away from Hoà's.
        let typo = "001175000004";
        assert!(index.lookup_pin(pin(typo)).is_none());
        let mai = record(
            typo,
            ("Lê", "Thị", "Mai"),
            (1985, 1, 20),
            Some(Sex::Female),
            old(79),
        );
        let resolution = matcher(&index).resolve(&index, &mai);
        assert!(
            resolution
                .notes
                .contains(&ResolutionNote::PersonalIdNotFound)
        );
        assert_eq!(resolution.personal_id, Some(pin("079185000004")));
        assert_eq!(resolution.method, Some(MatchMethod::Probabilistic));

        // Hoà's own number stated on Mai's record: names, date and province all disagree.
        let wrong = record(
            "001175000001",
            ("Lê", "Thị", "Mai"),
            (1985, 1, 20),
            Some(Sex::Female),
            old(79),
        );
        let resolution = matcher(&index).resolve(&index, &wrong);
        assert!(matches!(
            resolution.notes.first(),
            Some(ResolutionNote::PersonalIdContradicted { holder, .. }) if *holder == pin("001175000001")
        ));
        assert_eq!(resolution.status, MatchStatus::MatchedWithDiscrepancies);
        assert_eq!(resolution.method, Some(MatchMethod::Probabilistic));
        assert_eq!(resolution.personal_id, Some(pin("079185000004")));
        assert_eq!(field(&resolution, Field::PersonalId).level, "different");
    }

    #[test]
    fn a_one_digit_typo_is_found_through_its_neighbours() {
        let index = register();
        // Khôi's number with two adjacent digits swapped; name without diacritics, date partial.
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "002190000030",
                ("Huynh", "Minh", "Khoi"),
                (1990, 0, 0),
                None,
                None,
            ),
        );
        assert_eq!(
            resolution.personal_id,
            Some(pin("002190000003")),
            "{resolution:#?}"
        );
        assert_eq!(resolution.status, MatchStatus::MatchedWithDiscrepancies);
        assert_eq!(field(&resolution, Field::PersonalId).level, "typo");
        assert_eq!(
            field(&resolution, Field::FamilyName).level,
            "diacritic_folded"
        );
        assert_eq!(
            field(&resolution, Field::BirthDate).level,
            "partial_agreement"
        );
        assert_eq!(field(&resolution, Field::Sex).level, "null");
    }

    #[test]
    fn twins_without_an_id_are_ambiguous() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "",
                ("Phạm", "Văn", "Tài"),
                (1995, 6, 6),
                Some(Sex::Male),
                old(79),
            ),
        );
        assert_eq!(resolution.status, MatchStatus::Ambiguous);
        assert_eq!(resolution.personal_id, None);
        let ranked: Vec<Pin> = resolution
            .candidates
            .iter()
            .map(|c| c.personal_id)
            .collect();
        assert_eq!(ranked, vec![pin("079195000005"), pin("079195000006")]);
        assert!(resolution.candidates.iter().all(|c| c.probability > 0.5));
    }

    #[test]
    fn people_absent_from_the_register_are_not_found() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "",
                ("Trần", "Văn", "Bình"),
                (1964, 2, 2),
                Some(Sex::Male),
                old(2),
            ),
        );
        assert_eq!(resolution.status, MatchStatus::NotFound);
        assert_eq!(resolution.personal_id, None);
        assert!(resolution.probability < 0.5);
        assert!(resolution.candidates.is_empty());
        assert!(
            resolution.comparisons.is_empty(),
            "no register values of unrelated people"
        );
    }

    #[test]
    fn full_name_only_is_split_and_partial_register_dates_agree() {
        let index = register();
        let mut query = record("", ("", "", ""), (1950, 4, 4), Some(Sex::Male), old(36));
        query.name.full = "Đỗ Văn Lực".to_owned();
        let resolution = matcher(&index).resolve(&index, &query);
        assert_eq!(
            resolution.personal_id,
            Some(pin("036150000007")),
            "{resolution:#?}"
        );
        assert!(resolution.deceased);
        assert_eq!(
            field(&resolution, Field::BirthDate).level,
            "partial_agreement"
        );
    }

    #[test]
    fn records_without_enough_to_search_are_invalid() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record("", ("Nguyễn", "", ""), (1975, 0, 0), None, None),
        );
        assert_eq!(resolution.status, MatchStatus::InvalidInput);
        assert_eq!(resolution.method, None);
        assert_eq!(
            resolution.invalid_reason,
            Some(InvalidReason::InsufficientFields {
                missing: vec!["given name"],
                personal_id_problem: None
            })
        );

        let malformed = record("0011750001", ("", "", "Hoà"), (0, 0, 0), None, None);
        let resolution = matcher(&index).resolve(&index, &malformed);
        assert_eq!(resolution.status, MatchStatus::InvalidInput);
        let reason = resolution.invalid_reason.unwrap();
        assert!(reason.to_string().contains("12 digits"), "{reason}");
        assert!(reason.to_string().contains("birth year"), "{reason}");
        assert!(matches!(
            resolution.notes[0],
            ResolutionNote::MalformedPersonalId { .. }
        ));

        // A malformed ID with enough other fields is searched for.
        let searched = record(
            "0011750001",
            ("Nguyễn", "Thị", "Hoà"),
            (1975, 3, 12),
            Some(Sex::Female),
            old(1),
        );
        let resolution = matcher(&index).resolve(&index, &searched);
        assert_eq!(resolution.personal_id, Some(pin("001175000001")));
        assert_eq!(resolution.method, Some(MatchMethod::Probabilistic));

        // A bare, valid, registered ID is enough on its own.
        let bare = record("001175000001", ("", "", ""), (0, 0, 0), None, None);
        let resolution = matcher(&index).resolve(&index, &bare);
        assert_eq!(resolution.status, MatchStatus::Matched);
    }

    /// A register crowded on purpose: few spellings, few birth dates, so blocks are large and
    /// share spellings, as common Vietnamese names make them.
    fn crowded_register(rng: &mut SplitMix64) -> (PopulationIndex, Vec<PopulationEntry>) {
        const FAMILY: [&str; 8] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Vũ", "Võ"];
        const MIDDLE: [&str; 5] = ["Văn", "Thị", "Minh", "Đức", ""];
        const GIVEN: [&str; 9] = [
            "An", "Bình", "Hoà", "Hòa", "Lan", "Mai", "Tài", "Tâm", "Khôi",
        ];
        let mut pick = |options: &[&'static str]| options[rng.below(options.len() as u64) as usize];
        let people: Vec<PopulationEntry> = (0..3_000u32)
            .map(|serial| {
                let sex = if serial % 2 == 0 {
                    Sex::Male
                } else {
                    Sex::Female
                };
                let year = 1980 + (serial % 3) as u16;
                let number = format!("001{}{:02}{serial:06}", serial % 2, year % 100);
                entry(
                    &number,
                    (pick(&FAMILY), pick(&MIDDLE), pick(&GIVEN)),
                    (year, 1 + (serial / 3 % 2) as u8, 1 + (serial / 6 % 3) as u8),
                    sex,
                    [1, 2, 8, 79][(serial / 18 % 4) as usize],
                )
            })
            .collect();
        let provinces = ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8), (79, 79)]).unwrap();
        let index = PopulationIndex::build(
            people.clone(),
            Arc::new(VietnameseNameNormaliser::default()),
            provinces,
        )
        .unwrap();
        (index, people)
    }

    /// A record for someone of the register with a few of the usual slips, or for nobody.
    fn messy_record(rng: &mut SplitMix64, people: &[PopulationEntry]) -> QueryRecord {
        let person = &people[rng.below(people.len() as u64) as usize];
        let mut name = person.name.clone();
        let mut date = person.birth_date;
        let mut province = person.birth_province;
        match rng.below(7) {
            0 => name.given = name.given.to_lowercase(),
            1 => name.family = "Nguyen".to_owned(),
            2 => date = PartialDate::new(date.year().unwrap(), 0, 0).unwrap(),
            3 => province = old(8),
            4 => name.given = "Nhàn".to_owned(),
            5 => {
                // Nobody of the register, sharing only a birth date with some.
                name.family = "Đặng".to_owned();
                name.given = "Xuân".to_owned();
            }
            _ => {}
        }
        QueryRecord {
            personal_id: String::new(),
            name: QueryName {
                full: String::new(),
                family: name.family,
                middle: name.middle,
                given: name.given,
            },
            birth_date: date,
            sex: person.sex,
            birth_province: province,
        }
    }

    /// The search remembers name comparisons per spelling, gathers the candidates' fields
    /// column by column and explains only the likely candidates; scoring every candidate
    /// afresh and ranking them all must give the same verdict.
    #[test]
    fn the_search_agrees_with_scoring_every_candidate_afresh() {
        let mut rng = SplitMix64::new(7);
        let (index, people) = crowded_register(&mut rng);
        let matcher = matcher(&index);
        let config = matcher.config().clone();
        let mut statuses = std::collections::HashMap::new();
        let mut largest = 0;
        for _ in 0..400 {
            let query = messy_record(&mut rng, &people);
            let resolution = matcher.resolve(&index, &query);
            *statuses.entry(resolution.status).or_insert(0) += 1;

            let record = PreparedRecord::new(index.normaliser(), &query);
            let found = index.candidates(&record.blocking_query(), config.max_block_size);
            let mut reference: Vec<(Pin, Score)> = found
                .people
                .iter()
                .filter_map(|&person| {
                    let keys = index.person_keys(person)?;
                    let (_, score) = matcher.score_keys(
                        &index,
                        &record,
                        &keys,
                        StatedPin::Compare,
                        &mut NameMemo::direct(),
                    );
                    Some((keys.pin(), score))
                })
                .collect();
            largest = largest.max(reference.len());
            reference.sort_by(|a, b| {
                b.1.match_weight
                    .total_cmp(&a.1.match_weight)
                    .then_with(|| a.0.cmp(&b.0))
            });
            let likely: Vec<Pin> = reference
                .iter()
                .take_while(|(_, s)| s.probability >= config.candidate_threshold)
                .map(|(pin, _)| *pin)
                .collect();
            let shown: Vec<Pin> = resolution
                .candidates
                .iter()
                .map(|c| c.personal_id)
                .collect();
            assert_eq!(
                shown,
                likely[..likely.len().min(config.max_candidates)],
                "{query:?}"
            );
            let best = reference.first().map(|(_, s)| s);
            assert_eq!(
                resolution.match_weight,
                best.map_or(0.0, |s| s.match_weight)
            );
            assert_eq!(resolution.probability, best.map_or(0.0, |s| s.probability));
            let clear_lead = likely.len() < 2
                || reference[0].1.match_weight - reference[1].1.match_weight
                    >= config.ambiguity_margin_bits;
            let expected = match best {
                Some(best) if best.probability >= config.match_threshold && clear_lead => {
                    if resolution.discrepancies.is_empty() {
                        MatchStatus::Matched
                    } else {
                        MatchStatus::MatchedWithDiscrepancies
                    }
                }
                _ if likely.len() >= 2 => MatchStatus::Ambiguous,
                _ => MatchStatus::NotFound,
            };
            assert_eq!(resolution.status, expected, "{query:?}");
            if matches!(expected, MatchStatus::Ambiguous | MatchStatus::NotFound) {
                assert_eq!(resolution.comparisons.is_empty(), likely.is_empty());
            }
        }
        // The data exercised what the test is about.
        assert!(largest >= 100, "largest candidate set {largest}");
        for status in [
            MatchStatus::Matched,
            MatchStatus::Ambiguous,
            MatchStatus::NotFound,
        ] {
            assert!(statuses.contains_key(&status), "{statuses:?}");
        }
    }

    #[test]
    fn config_is_validated() {
        assert!(MatcherConfig::default().validate().is_ok());
        let bad = [
            MatcherConfig {
                match_threshold: 1.0,
                ..MatcherConfig::default()
            },
            MatcherConfig {
                candidate_threshold: 0.99,
                ..MatcherConfig::default()
            },
            MatcherConfig {
                ambiguity_margin_bits: -1.0,
                ..MatcherConfig::default()
            },
            MatcherConfig {
                pin_contradiction_bits: 3.0,
                ..MatcherConfig::default()
            },
            MatcherConfig {
                max_block_size: 0,
                ..MatcherConfig::default()
            },
        ];
        for config in bad {
            assert!(config.validate().is_err(), "{config:?}");
        }
        let parsed: MatcherConfig = serde_json::from_str(r#"{"match_threshold": 0.9}"#).unwrap();
        assert_eq!(parsed.match_threshold, 0.9);
        assert_eq!(
            parsed.max_candidates,
            MatcherConfig::default().max_candidates
        );
        assert!(serde_json::from_str::<MatcherConfig>(r#"{"match_treshold": 0.9}"#).is_err());
    }

    #[test]
    fn resolution_serialises_for_reports() {
        let index = register();
        let resolution = matcher(&index).resolve(
            &index,
            &record(
                "002190000003",
                ("Huỳnh", "Minh", "Khôi"),
                (1991, 11, 5),
                Some(Sex::Male),
                old(2),
            ),
        );
        let json = serde_json::to_value(&resolution).unwrap();
        assert_eq!(json["status"], "MATCHED_WITH_DISCREPANCIES");
        assert_eq!(json["personal_id"], "002190000003");
        assert_eq!(json["discrepancies"][0]["field"], "birth_date");
    }

    #[test]
    fn training_pairs_come_from_blocks_and_random_draws() {
        let index = register();
        let matcher = matcher(&index);
        let records = vec![
            record(
                "",
                ("Phạm", "Văn", "Tài"),
                (1995, 6, 6),
                Some(Sex::Male),
                old(79),
            ),
            record(
                "",
                ("Nguyen", "Thi", "Hoa"),
                (1975, 3, 12),
                Some(Sex::Female),
                old(1),
            ),
        ];
        let blocked = matcher.blocked_pairs(&index, &records, BlockingKey::DateSex);
        // Tài's record meets both twins, Hoà's record meets Hoà.
        assert_eq!(blocked.pairs(), 3);
        let random = matcher.random_pairs(&index, &records, 100, 9);
        assert_eq!(random.pairs(), 100);
        assert_eq!(
            matcher.random_pairs(&index, &records, 100, 9),
            random,
            "reproducible"
        );
    }

    proptest! {
        #[test]
        fn pin_neighbours_are_exactly_one_typo_away(value in 0u64..=Pin::MAX) {
            let pin = Pin::from_u64(value).unwrap();
            let neighbours: Vec<Pin> = pin_neighbours(pin).collect();
            let digits = pin.digits();
            let swaps = (0..11).filter(|&i| digits[i] != digits[i + 1]).count();
            prop_assert_eq!(neighbours.len(), 12 * 9 + swaps);
            for neighbour in neighbours {
                prop_assert!(crate::levels::is_pin_typo(pin, neighbour));
            }
        }
    }
}
