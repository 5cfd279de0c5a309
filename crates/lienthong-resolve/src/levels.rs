//! Comparison levels per field, as in Splink: each field of a (record, register entry) pair is
//! classified into one of a few ordered levels, strongest agreement first, and the model gives
//! each level its own weight. A field missing on either side has no level (`None`, the "null
//! level"): it contributes nothing, neither for nor against.
//!
//! | field | levels, strongest first |
//! |---|---|
//! | names (family, middle, given) | exact · tone-folded · diacritic-folded · regional variant · Jaro–Winkler ≥ 0.92 · ≥ 0.85 · tokens reordered · different |
//! | birth date | exact · partial agreement · day/month swapped · year ±1 · same year · different |
//! | sex | equal · different |
//! | birth province | exact · same after the 2025 merger · different |
//! | personal ID | exact · typo (one digit, or two adjacent swapped) · different |
//!
//! Level labels are stable identifiers: they name the levels in saved model parameters and in
//! `lienthong.v1.FieldComparison.level`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::compare::{jaro_winkler, same_tokens_reordered};
use crate::normalise::NameNormaliser;
use crate::record::{PartialDate, Pin, Province, ProvinceMap, Sex};

/// Jaro–Winkler on folded names at or above which names are "very similar" (one letter off in a
/// name of six or more).
pub const NAME_JARO_WINKLER_HIGH: f64 = 0.92;
/// Jaro–Winkler on folded names at or above which names are "similar".
pub const NAME_JARO_WINKLER_MEDIUM: f64 = 0.85;

/// A compared field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    PersonalId,
    FamilyName,
    MiddleName,
    GivenName,
    BirthDate,
    Sex,
    BirthProvince,
}

impl Field {
    /// Number of fields.
    pub const COUNT: usize = 7;

    /// Every field, in the order of [`Field::index`].
    pub const ALL: [Self; Self::COUNT] = [
        Self::PersonalId,
        Self::FamilyName,
        Self::MiddleName,
        Self::GivenName,
        Self::BirthDate,
        Self::Sex,
        Self::BirthProvince,
    ];

    /// The canonical field name (as in `lienthong.v1.FieldComparison.field`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PersonalId => "personal_id",
            Self::FamilyName => "family_name",
            Self::MiddleName => "middle_name",
            Self::GivenName => "given_name",
            Self::BirthDate => "birth_date",
            Self::Sex => "sex",
            Self::BirthProvince => "birth_province",
        }
    }

    /// Position in [`Field::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Labels of the field's levels, strongest first; a level's index is its position here.
    pub fn level_labels(self) -> &'static [&'static str] {
        match self {
            Self::PersonalId => PinLevel::LABELS,
            Self::FamilyName | Self::MiddleName | Self::GivenName => NameLevel::LABELS,
            Self::BirthDate => DateLevel::LABELS,
            Self::Sex => SexLevel::LABELS,
            Self::BirthProvince => PlaceLevel::LABELS,
        }
    }

    /// True when a pair at this level differs in a way a data steward should see.
    pub fn is_discrepancy(self, level: u8) -> bool {
        match self {
            Self::PersonalId => PinLevel::from_index(level).is_some_and(PinLevel::is_discrepancy),
            Self::FamilyName | Self::MiddleName | Self::GivenName => {
                NameLevel::from_index(level).is_some_and(NameLevel::is_discrepancy)
            }
            Self::BirthDate => DateLevel::from_index(level).is_some_and(DateLevel::is_discrepancy),
            Self::Sex => SexLevel::from_index(level).is_some_and(SexLevel::is_discrepancy),
            Self::BirthProvince => {
                PlaceLevel::from_index(level).is_some_and(PlaceLevel::is_discrepancy)
            }
        }
    }

    /// True for the levels at which both values are the same name up to spelling (exact,
    /// tone-folded, diacritic-folded): the levels where how common that name is matters, and the
    /// term-frequency adjustment applies.
    pub fn is_same_value_level(self, level: u8) -> bool {
        match self {
            Self::FamilyName | Self::MiddleName | Self::GivenName => {
                NameLevel::from_index(level).is_some_and(NameLevel::is_same_name)
            }
            _ => false,
        }
    }

    /// True for the three name fields.
    pub fn is_name(self) -> bool {
        matches!(self, Self::FamilyName | Self::MiddleName | Self::GivenName)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Defines a level enum with its labels, discrepancy flags and index conversions.
macro_rules! comparison_levels {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $label:literal, discrepancy = $discrepancy:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every level, strongest first.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];
            /// The levels' labels, in the order of [`Self::ALL`].
            pub const LABELS: &'static [&'static str] = &[$($label),+];

            /// The stable label of the level.
            pub fn label(self) -> &'static str {
                Self::LABELS[self.index_usize()]
            }

            /// True when a pair at this level differs in a way a data steward should see.
            pub fn is_discrepancy(self) -> bool {
                match self {
                    $(Self::$variant => $discrepancy,)+
                }
            }

            /// Position in [`Self::ALL`].
            pub fn index(self) -> u8 {
                self as u8
            }

            fn index_usize(self) -> usize {
                self as usize
            }

            /// The level at a position of [`Self::ALL`].
            pub fn from_index(index: u8) -> Option<Self> {
                Self::ALL.get(usize::from(index)).copied()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}

comparison_levels! {
    /// How two names (one part, or a whole name) compare.
    NameLevel {
        /// Identical text.
        Exact = "exact", discrepancy = false;
        /// Identical once tone-mark placement and case are made canonical (Hoà / Hòa, THUÝ / Thúy).
        ToneFolded = "tone_folded", discrepancy = false;
        /// Identical once all diacritics are removed (Nguyen / Nguyễn): the same name, but one side
        /// lost its marks, which a steward should fix at the source.
        DiacriticFolded = "diacritic_folded", discrepancy = true;
        /// The same family name spelt the northern or the southern way (Hoàng / Huỳnh, Vũ / Võ).
        RegionalVariant = "regional_variant", discrepancy = true;
        /// Jaro–Winkler of the folded names ≥ 0.92.
        JaroWinklerHigh = "jaro_winkler_0.92", discrepancy = true;
        /// Jaro–Winkler of the folded names ≥ 0.85.
        JaroWinklerMedium = "jaro_winkler_0.85", discrepancy = true;
        /// The same syllables in another order (Thị Minh / Minh Thị).
        TokensReordered = "tokens_reordered", discrepancy = true;
        Different = "different", discrepancy = true;
    }
}

impl NameLevel {
    /// Exact, tone-folded or diacritic-folded: the same name up to spelling.
    pub fn is_same_name(self) -> bool {
        matches!(self, Self::Exact | Self::ToneFolded | Self::DiacriticFolded)
    }
}

comparison_levels! {
    /// How two birth dates compare.
    DateLevel {
        /// Both full and equal.
        Exact = "exact", discrepancy = false;
        /// At least one side partial ("1975", "03/1975") and every part known on both agrees.
        PartialAgreement = "partial_agreement", discrepancy = false;
        /// Both full, same year, day and month swapped (03/12 vs 12/03).
        DayMonthSwapped = "day_month_swapped", discrepancy = true;
        /// Both full, same day and month, years one apart.
        YearOffByOne = "year_off_by_one", discrepancy = true;
        /// Same year, nothing else in common.
        SameYear = "same_year", discrepancy = true;
        Different = "different", discrepancy = true;
    }
}

comparison_levels! {
    /// How two recorded sexes compare.
    SexLevel {
        Equal = "equal", discrepancy = false;
        Different = "different", discrepancy = true;
    }
}

comparison_levels! {
    /// How two provinces compare.
    PlaceLevel {
        /// Same code in the same list.
        Exact = "exact", discrepancy = false;
        /// Different codes or lists that name the same post-2025 unit (an old code and the new
        /// unit it merged into): not a discrepancy, old codes stay valid in old records.
        SameAfterMerger = "same_after_merger", discrepancy = false;
        Different = "different", discrepancy = true;
    }
}

comparison_levels! {
    /// How two personal ID numbers compare.
    PinLevel {
        Exact = "exact", discrepancy = false;
        /// One digit differs, or two adjacent digits are swapped: the usual typing errors.
        Typo = "typo", discrepancy = true;
        Different = "different", discrepancy = true;
    }
}

/// Which part of a name a text is. Regional variant groups apply to family names only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameRole {
    Family,
    Middle,
    Given,
}

impl NameRole {
    pub fn field(self) -> Field {
        match self {
            Self::Family => Field::FamilyName,
            Self::Middle => Field::MiddleName,
            Self::Given => Field::GivenName,
        }
    }
}

/// The forms of one name the ladder compares, borrowed (the index keeps them per distinct name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameForms<'a> {
    pub original: &'a str,
    /// [`NameNormaliser::fold_tones`] of the original.
    pub tone_folded: &'a str,
    /// [`NameNormaliser::fold`] of the original.
    pub folded: &'a str,
    /// [`NameNormaliser::family_variant_group`] of the folded form, for family names.
    pub variant_group: Option<&'a str>,
}

/// A name with its forms computed once, for a record compared with many register entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedName {
    original: String,
    tone_folded: String,
    folded: String,
    variant_group: Option<String>,
}

impl PreparedName {
    /// `None` when the text has no letters to compare (empty or only spaces).
    pub fn new(normaliser: &dyn NameNormaliser, text: &str, role: NameRole) -> Option<Self> {
        let original = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if original.is_empty() {
            return None;
        }
        let folded = normaliser.fold(&original);
        let variant_group = match role {
            NameRole::Family => normaliser.family_variant_group(&folded).map(str::to_owned),
            NameRole::Middle | NameRole::Given => None,
        };
        Some(Self {
            tone_folded: normaliser.fold_tones(&original),
            folded,
            variant_group,
            original,
        })
    }

    pub fn forms(&self) -> NameForms<'_> {
        NameForms {
            original: &self.original,
            tone_folded: &self.tone_folded,
            folded: &self.folded,
            variant_group: self.variant_group.as_deref(),
        }
    }

    pub fn original(&self) -> &str {
        &self.original
    }

    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// The variant group when there is one, else the folded name: the form under which two
    /// spellings of one family name meet (used for blocking).
    pub fn family_key(&self) -> &str {
        self.variant_group.as_deref().unwrap_or(&self.folded)
    }
}

/// Compares two names; `None` when either is missing.
pub fn compare_names(a: Option<&NameForms<'_>>, b: Option<&NameForms<'_>>) -> Option<NameLevel> {
    let (a, b) = (a?, b?);
    if a.original.is_empty() || b.original.is_empty() {
        return None;
    }
    let level = if a.original == b.original {
        NameLevel::Exact
    } else if a.tone_folded == b.tone_folded {
        NameLevel::ToneFolded
    } else if a.folded == b.folded {
        NameLevel::DiacriticFolded
    } else if a.variant_group.is_some() && a.variant_group == b.variant_group {
        NameLevel::RegionalVariant
    } else {
        let similarity = jaro_winkler(a.folded, b.folded);
        if similarity >= NAME_JARO_WINKLER_HIGH {
            NameLevel::JaroWinklerHigh
        } else if similarity >= NAME_JARO_WINKLER_MEDIUM {
            NameLevel::JaroWinklerMedium
        } else if same_tokens_reordered(a.folded, b.folded) {
            NameLevel::TokensReordered
        } else {
            NameLevel::Different
        }
    };
    Some(level)
}

/// Compares two birth dates; `None` when either is entirely unknown.
pub fn compare_birth_dates(a: PartialDate, b: PartialDate) -> Option<DateLevel> {
    let (year_a, year_b) = (a.year()?, b.year()?);
    if a.is_full() && a == b {
        return Some(DateLevel::Exact);
    }
    let agrees = |x: Option<u8>, y: Option<u8>| match (x, y) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    if year_a == year_b && agrees(a.month(), b.month()) && agrees(a.day(), b.day()) {
        // Not both full (that would be exact), so at least one side is partial.
        return Some(DateLevel::PartialAgreement);
    }
    if a.is_full() && b.is_full() {
        if year_a == year_b && a.day() == b.month() && a.month() == b.day() {
            return Some(DateLevel::DayMonthSwapped);
        }
        if year_a.abs_diff(year_b) == 1 && a.month() == b.month() && a.day() == b.day() {
            return Some(DateLevel::YearOffByOne);
        }
    }
    if year_a == year_b {
        return Some(DateLevel::SameYear);
    }
    Some(DateLevel::Different)
}

/// Compares two sexes; `None` when either is unknown.
pub fn compare_sex(a: Option<Sex>, b: Option<Sex>) -> Option<SexLevel> {
    let (a, b) = (a?, b?);
    Some(if a == b {
        SexLevel::Equal
    } else {
        SexLevel::Different
    })
}

/// Compares two provinces through the merger map; `None` when either is missing. Codes the map
/// cannot place compare as different unless identical.
pub fn compare_provinces(
    a: Option<Province>,
    b: Option<Province>,
    map: &ProvinceMap,
) -> Option<PlaceLevel> {
    let (a, b) = (a?, b?);
    if a == b {
        return Some(PlaceLevel::Exact);
    }
    match (map.current_code(a), map.current_code(b)) {
        (Some(x), Some(y)) if x == y => Some(PlaceLevel::SameAfterMerger),
        _ => Some(PlaceLevel::Different),
    }
}

/// Compares two personal ID numbers; `None` when either is missing.
pub fn compare_pins(a: Option<Pin>, b: Option<Pin>) -> Option<PinLevel> {
    let (a, b) = (a?, b?);
    if a == b {
        return Some(PinLevel::Exact);
    }
    Some(if is_pin_typo(a, b) {
        PinLevel::Typo
    } else {
        PinLevel::Different
    })
}

/// True when two different numbers differ in exactly one digit or by one swap of adjacent digits.
pub fn is_pin_typo(a: Pin, b: Pin) -> bool {
    let (x, y) = (a.digits(), b.digits());
    // The first two differing positions, and whether there is a third.
    let mut differing = (0..12).filter(|&i| x[i] != y[i]);
    match (differing.next(), differing.next(), differing.next()) {
        (Some(_), None, _) => true,
        (Some(i), Some(j), None) => j == i + 1 && x[i] == y[j] && x[j] == y[i],
        _ => false,
    }
}

/// The levels of every field for one (record, register entry) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldLevels {
    pub personal_id: Option<PinLevel>,
    pub family_name: Option<NameLevel>,
    pub middle_name: Option<NameLevel>,
    pub given_name: Option<NameLevel>,
    pub birth_date: Option<DateLevel>,
    pub sex: Option<SexLevel>,
    pub birth_province: Option<PlaceLevel>,
}

impl FieldLevels {
    /// The compact form the model works on.
    pub fn vector(&self) -> ComparisonVector {
        let mut levels = [None; Field::COUNT];
        levels[Field::PersonalId.index()] = self.personal_id.map(PinLevel::index);
        levels[Field::FamilyName.index()] = self.family_name.map(NameLevel::index);
        levels[Field::MiddleName.index()] = self.middle_name.map(NameLevel::index);
        levels[Field::GivenName.index()] = self.given_name.map(NameLevel::index);
        levels[Field::BirthDate.index()] = self.birth_date.map(DateLevel::index);
        levels[Field::Sex.index()] = self.sex.map(SexLevel::index);
        levels[Field::BirthProvince.index()] = self.birth_province.map(PlaceLevel::index);
        ComparisonVector(levels)
    }
}

/// The level index of every field ([`Field::level_labels`]), `None` for the null level. Small and
/// hashable, so training can count identical vectors instead of storing pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct ComparisonVector([Option<u8>; Field::COUNT]);

impl ComparisonVector {
    /// Builds a vector from raw level indices, checking each against its field's levels.
    pub fn from_levels(levels: [Option<u8>; Field::COUNT]) -> Option<Self> {
        let valid = Field::ALL.iter().zip(&levels).all(|(field, level)| {
            level.is_none_or(|l| usize::from(l) < field.level_labels().len())
        });
        valid.then_some(Self(levels))
    }

    pub fn level(&self, field: Field) -> Option<u8> {
        self.0[field.index()]
    }

    pub fn levels(&self) -> &[Option<u8>; Field::COUNT] {
        &self.0
    }

    /// The label of a field's level, `"null"` when missing.
    pub fn label(&self, field: Field) -> &'static str {
        self.level(field)
            .and_then(|l| field.level_labels().get(usize::from(l)).copied())
            .unwrap_or("null")
    }

    /// The same vector with one field's level replaced (`None`: treated as missing).
    pub fn with_level(mut self, field: Field, level: Option<u8>) -> Self {
        if level.is_none_or(|l| usize::from(l) < field.level_labels().len()) {
            self.0[field.index()] = level;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalise::VietnameseNameNormaliser;
    use crate::record::ProvinceCodeSystem;
    use proptest::prelude::*;

    fn name(text: &str, role: NameRole) -> PreparedName {
        PreparedName::new(&VietnameseNameNormaliser::default(), text, role).unwrap()
    }

    fn level(a: &str, b: &str, role: NameRole) -> Option<NameLevel> {
        compare_names(Some(&name(a, role).forms()), Some(&name(b, role).forms()))
    }

    #[test]
    fn name_ladder() {
        use NameLevel::*;
        assert_eq!(level("Hoà", "Hoà", NameRole::Given), Some(Exact));
        assert_eq!(level("Hoà", "Hòa", NameRole::Given), Some(ToneFolded));
        assert_eq!(
            level("NGUYỄN", "Nguyễn", NameRole::Family),
            Some(ToneFolded)
        );
        assert_eq!(
            level("Nguyen", "Nguyễn", NameRole::Family),
            Some(DiacriticFolded)
        );
        assert_eq!(
            level("Huỳnh", "Hoàng", NameRole::Family),
            Some(RegionalVariant)
        );
        assert_eq!(level("Võ", "Vũ", NameRole::Family), Some(RegionalVariant));
        // Variant groups are for family names only.
        assert_eq!(level("Võ", "Vũ", NameRole::Given), Some(Different));
        assert_eq!(
            level("Phương", "Phuong", NameRole::Given),
            Some(DiacriticFolded)
        );
        assert_eq!(
            level("Phượng", "Phương", NameRole::Given),
            Some(DiacriticFolded)
        );
        assert_eq!(
            level("Phuongg", "Phương", NameRole::Given),
            Some(JaroWinklerHigh)
        );
        assert_eq!(
            level("Thanh", "Thành", NameRole::Given),
            Some(DiacriticFolded)
        );
        assert_eq!(
            level("Thuy", "Thuyen", NameRole::Given),
            Some(JaroWinklerHigh)
        );
        assert_eq!(
            level("Trung", "Trang", NameRole::Given),
            Some(JaroWinklerMedium)
        );
        assert_eq!(level("Tâm", "Tân", NameRole::Given), Some(Different));
        assert_eq!(
            level("Thị Minh", "Minh Thị", NameRole::Middle),
            Some(TokensReordered)
        );
        assert_eq!(level("An", "Bình", NameRole::Given), Some(Different));
        assert_eq!(
            compare_names(None, Some(&name("An", NameRole::Given).forms())),
            None
        );
        assert!(
            PreparedName::new(&VietnameseNameNormaliser::default(), "   ", NameRole::Given)
                .is_none()
        );
    }

    fn date(y: u16, m: u8, d: u8) -> PartialDate {
        PartialDate::new(y, m, d).unwrap()
    }

    #[test]
    fn date_ladder() {
        use DateLevel::*;
        assert_eq!(
            compare_birth_dates(date(1975, 3, 12), date(1975, 3, 12)),
            Some(Exact)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 0, 0), date(1975, 3, 12)),
            Some(PartialAgreement)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 3, 0), date(1975, 3, 12)),
            Some(PartialAgreement)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 0, 0), date(1975, 0, 0)),
            Some(PartialAgreement),
            "two year-only dates agree only as far as they go"
        );
        assert_eq!(
            compare_birth_dates(date(1975, 4, 0), date(1975, 3, 12)),
            Some(SameYear)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 3, 12), date(1975, 12, 3)),
            Some(DayMonthSwapped)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 3, 12), date(1976, 3, 12)),
            Some(YearOffByOne)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 3, 12), date(1975, 5, 1)),
            Some(SameYear)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 3, 12), date(1977, 3, 12)),
            Some(Different)
        );
        assert_eq!(
            compare_birth_dates(date(1975, 0, 0), date(1976, 3, 12)),
            Some(Different)
        );
        assert_eq!(
            compare_birth_dates(PartialDate::UNKNOWN, date(1975, 3, 12)),
            None
        );
    }

    #[test]
    fn sex_place_and_pin_levels() {
        assert_eq!(
            compare_sex(Some(Sex::Male), Some(Sex::Male)),
            Some(SexLevel::Equal)
        );
        assert_eq!(
            compare_sex(Some(Sex::Male), Some(Sex::Female)),
            Some(SexLevel::Different)
        );
        assert_eq!(compare_sex(None, Some(Sex::Female)), None);

        let map = ProvinceMap::from_pairs([(2, 8), (8, 8)]).unwrap();
        let ha_giang_old = Province::new(ProvinceCodeSystem::Pre2025, 2).unwrap();
        let tuyen_quang_old = Province::new(ProvinceCodeSystem::Pre2025, 8).unwrap();
        let tuyen_quang_new = Province::new(ProvinceCodeSystem::From2025, 8).unwrap();
        let ha_noi = Province::new(ProvinceCodeSystem::Pre2025, 1).unwrap();
        assert_eq!(
            compare_provinces(Some(ha_giang_old), Some(ha_giang_old), &map),
            Some(PlaceLevel::Exact)
        );
        assert_eq!(
            compare_provinces(Some(ha_giang_old), Some(tuyen_quang_new), &map),
            Some(PlaceLevel::SameAfterMerger)
        );
        assert_eq!(
            compare_provinces(Some(ha_giang_old), Some(tuyen_quang_old), &map),
            Some(PlaceLevel::SameAfterMerger),
            "Hà Giang and the old Tuyên Quang are one unit now"
        );
        assert_eq!(
            compare_provinces(Some(ha_noi), Some(tuyen_quang_new), &map),
            Some(PlaceLevel::Different)
        );
        assert_eq!(compare_provinces(None, Some(ha_noi), &map), None);

        let pin = |s: &str| Some(Pin::parse(s).unwrap());
        assert_eq!(
            compare_pins(pin("001090012345"), pin("001090012345")),
            Some(PinLevel::Exact)
        );
        assert_eq!(
            compare_pins(pin("001090012345"), pin("001090012346")),
            Some(PinLevel::Typo)
        );
        assert_eq!(
            compare_pins(pin("001090012345"), pin("001090012354")),
            Some(PinLevel::Typo)
        );
        assert_eq!(
            compare_pins(pin("001090012345"), pin("001090012356")),
            Some(PinLevel::Different)
        );
        assert_eq!(
            compare_pins(pin("001090012345"), pin("101090012346")),
            Some(PinLevel::Different)
        );
        assert_eq!(compare_pins(None, pin("001090012345")), None);
    }

    #[test]
    fn vector_labels_and_validation() {
        let levels = FieldLevels {
            family_name: Some(NameLevel::RegionalVariant),
            birth_date: Some(DateLevel::DayMonthSwapped),
            ..FieldLevels::default()
        };
        let vector = levels.vector();
        assert_eq!(vector.label(Field::FamilyName), "regional_variant");
        assert_eq!(vector.label(Field::BirthDate), "day_month_swapped");
        assert_eq!(vector.label(Field::Sex), "null");
        let mut raw = [None; Field::COUNT];
        raw[Field::Sex.index()] = Some(2);
        assert!(
            ComparisonVector::from_levels(raw).is_none(),
            "sex has two levels"
        );
        assert!(Field::FamilyName.is_discrepancy(NameLevel::DiacriticFolded.index()));
        assert!(!Field::FamilyName.is_discrepancy(NameLevel::ToneFolded.index()));
        assert!(!Field::BirthProvince.is_discrepancy(PlaceLevel::SameAfterMerger.index()));
        assert!(Field::GivenName.is_same_value_level(NameLevel::DiacriticFolded.index()));
        assert!(!Field::GivenName.is_same_value_level(NameLevel::RegionalVariant.index()));
    }

    fn any_date() -> impl Strategy<Value = PartialDate> {
        (1900u16..2030, 0u8..=12, 0u8..=31)
            .prop_filter_map("valid", |(y, m, d)| PartialDate::new(y, m, d).ok())
    }

    proptest! {
        #[test]
        fn name_levels_are_symmetric_and_reflexive(
            a in crate::testing::vietnamese_name(),
            b in crate::testing::vietnamese_name(),
        ) {
            for role in [NameRole::Family, NameRole::Given] {
                let x = name(&a, role);
                let y = name(&b, role);
                prop_assert_eq!(
                    compare_names(Some(&x.forms()), Some(&y.forms())),
                    compare_names(Some(&y.forms()), Some(&x.forms()))
                );
                prop_assert_eq!(compare_names(Some(&x.forms()), Some(&x.forms())), Some(NameLevel::Exact));
            }
        }

        #[test]
        fn date_levels_are_symmetric(a in any_date(), b in any_date()) {
            prop_assert_eq!(compare_birth_dates(a, b), compare_birth_dates(b, a));
            if a.is_full() {
                prop_assert_eq!(compare_birth_dates(a, a), Some(DateLevel::Exact));
            } else {
                prop_assert_eq!(compare_birth_dates(a, a), Some(DateLevel::PartialAgreement));
            }
        }

        #[test]
        fn pin_levels_are_symmetric_and_single_digit_changes_are_typos(
            value in 0u64..=Pin::MAX,
            position in 0usize..12,
            replacement in 0u8..10,
        ) {
            let pin = Pin::from_u64(value).unwrap();
            let mut digits = pin.digits();
            prop_assume!(digits[position] != replacement);
            digits[position] = replacement;
            let other = Pin::from_digits(digits).unwrap();
            prop_assert_eq!(compare_pins(Some(pin), Some(other)), Some(PinLevel::Typo));
            prop_assert_eq!(compare_pins(Some(other), Some(pin)), Some(PinLevel::Typo));
        }
    }
}
