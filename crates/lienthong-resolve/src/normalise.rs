//! The name folding the comparators rely on, behind a trait so the project's Vietnamese text
//! library can supply it, and a small built-in implementation.
//!
//! Comparison levels for names (see [`crate::levels`]) step down from "identical" through
//! "identical once tone-mark placement and case are set aside" and "identical once every
//! diacritic is set aside" to regional variants and string similarity. Those middle steps need
//! two foldings and a table of variant family names; this module defines what they must do and
//! nothing about how.

/// Foldings of Vietnamese names used for comparison.
///
/// Contract for implementations:
/// - Inputs are single name parts or whole names, NFC, possibly with several space-separated
///   syllables. Outputs collapse runs of whitespace to one space and trim.
/// - `fold` and `fold_tones` are idempotent (`fold(fold(x)) == fold(x)`) and `fold` of
///   `fold_tones(x)` equals `fold(x)`: tone folding keeps strictly more than diacritic folding.
/// - Results must not change while an index built with them is in use; an index saved to disk
///   detects a changed normaliser when loaded and rebuilds what depends on it.
/// - Implementations are shared across threads (`Send + Sync`) and must be pure.
pub trait NameNormaliser: Send + Sync {
    /// Every tone mark and diacritic removed, đ → d, lowercase: "Nguyễn Thị Hoà" → "nguyen thi hoa".
    fn fold(&self, name: &str) -> String;

    /// Only the tone-mark placement and letter case made canonical, everything else kept:
    /// "Hoà" and "Hòa", "THUÝ" and "thúy" fold to the same text, "Hoa" and "Hòa" do not.
    fn fold_tones(&self, name: &str) -> String;

    /// The group a *folded* family name belongs to when regions spell the same name differently
    /// (Hoàng in the North / Huỳnh in the South, Vũ / Võ), or `None`. Two names with the same
    /// group are the same family name.
    fn family_variant_group<'a>(&'a self, folded_family: &str) -> Option<&'a str>;

    /// Splits a whole name into family, middle and given parts. The default takes the first
    /// syllable as the family name and the last as the given name, which is right for most
    /// Vietnamese names; implementations that know compound family names (Tôn Thất, Âu Dương)
    /// should override it.
    fn split_full_name(&self, full: &str) -> NameParts {
        let tokens: Vec<&str> = full.split_whitespace().collect();
        match tokens.as_slice() {
            [] => NameParts::default(),
            [given] => NameParts {
                given: (*given).to_owned(),
                ..NameParts::default()
            },
            [family, middle @ .., given] => NameParts {
                family: (*family).to_owned(),
                middle: middle.join(" "),
                given: (*given).to_owned(),
            },
        }
    }
}

/// A whole name split into parts; empty parts are absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameParts {
    pub family: String,
    pub middle: String,
    pub given: String,
}

/// The [`NameNormaliser`] of production: the Vietnamese text rules of `lienthong-vietnamese`
/// (the same the translator applies), so a name folds the same way in every stage.
///
/// Family-name variant groups come from that crate's table of regional spellings (Hoàng/Huỳnh,
/// Vũ/Võ, Chu/Châu, Lã/Lữ) and apply to the *folded* name. Folding makes some of them ambiguous
/// (`vu` is Vũ but also the rare name Vu): for matching that is acceptable, because a shared
/// group is one comparison level among others, with its own weight estimated from the data —
/// an occasional wrong grouping lowers that weight a little instead of forcing a match.
#[derive(Debug, Clone)]
pub struct VietnameseNameNormaliser {
    groups: std::collections::HashMap<String, &'static str>,
}

impl Default for VietnameseNameNormaliser {
    fn default() -> Self {
        let groups = lienthong_vietnamese::names::family_variant_groups()
            .flat_map(|(group, members)| {
                members
                    .iter()
                    .map(move |m| (lienthong_vietnamese::text::fold(m), group))
            })
            .collect();
        Self { groups }
    }
}

impl NameNormaliser for VietnameseNameNormaliser {
    fn fold(&self, name: &str) -> String {
        lienthong_vietnamese::text::fold(name)
    }

    fn fold_tones(&self, name: &str) -> String {
        lienthong_vietnamese::text::fold_tones(name)
    }

    fn family_variant_group<'a>(&'a self, folded_family: &str) -> Option<&'a str> {
        self.groups.get(folded_family).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    fn n() -> VietnameseNameNormaliser {
        VietnameseNameNormaliser::default()
    }

    #[test]
    fn fold_removes_tones_diacritics_and_case() {
        assert_eq!(n().fold("Nguyễn Thị  Hoà"), "nguyen thi hoa");
        assert_eq!(n().fold("ĐẶNG Văn Đức"), "dang van duc");
        assert_eq!(n().fold("  Trương   Mỹ  "), "truong my");
        assert_eq!(n().fold("Lưu Hữu Phước"), "luu huu phuoc");
    }

    #[test]
    fn fold_tones_makes_placement_and_case_canonical() {
        assert_eq!(n().fold_tones("Hoà"), n().fold_tones("Hòa"));
        assert_eq!(n().fold_tones("Thuý"), n().fold_tones("Thúy"));
        assert_eq!(n().fold_tones("KHOẺ"), n().fold_tones("khỏe"));
        assert_eq!(n().fold_tones("NGUYỄN"), n().fold_tones("Nguyễn"));
        // Different tones and missing tones stay different.
        assert_ne!(n().fold_tones("Hoà"), n().fold_tones("Hoả"));
        assert_ne!(n().fold_tones("Hoà"), n().fold_tones("Hoa"));
        // Vowel quality is kept: ơ vs o.
        assert_ne!(n().fold_tones("Phơ"), n().fold_tones("Pho"));
        // The tone of ươ sits on ơ: "người" folds to itself.
        assert_eq!(n().fold_tones("người"), "người");
        // Decomposed input (NFD) folds like composed input.
        let decomposed: String = "Hoà".nfd().collect();
        assert_eq!(n().fold_tones(&decomposed), n().fold_tones("Hoà"));
    }

    #[test]
    fn variant_groups() {
        assert_eq!(
            n().family_variant_group(&n().fold("Hoàng")),
            n().family_variant_group(&n().fold("Huỳnh"))
        );
        assert_eq!(
            n().family_variant_group(&n().fold("Vũ")),
            n().family_variant_group(&n().fold("Võ"))
        );
        assert_eq!(n().family_variant_group(&n().fold("Nguyễn")), None);
        assert_eq!(
            n().family_variant_group(&n().fold("Châu")),
            n().family_variant_group("chu")
        );
        assert!(n().family_variant_group("chau").is_some());
    }

    #[test]
    fn split_full_name_takes_first_and_last_syllable() {
        let parts = n().split_full_name("Nguyễn Thị Minh Khai");
        assert_eq!(parts.family, "Nguyễn");
        assert_eq!(parts.middle, "Thị Minh");
        assert_eq!(parts.given, "Khai");
        let two = n().split_full_name("Lê Lợi");
        assert_eq!((two.family.as_str(), two.middle.as_str()), ("Lê", ""));
        assert_eq!(n().split_full_name("  ").given, "");
    }

    proptest! {
        #[test]
        fn foldings_are_idempotent_and_nested(name in crate::testing::vietnamese_text()) {
            let folded = n().fold(&name);
            let toned = n().fold_tones(&name);
            prop_assert_eq!(n().fold(&folded), folded.clone());
            prop_assert_eq!(n().fold_tones(&toned), toned.clone());
            prop_assert_eq!(n().fold(&toned), folded);
        }

        #[test]
        fn foldings_are_idempotent_on_any_text(name in any::<String>()) {
            let folded = n().fold(&name);
            let toned = n().fold_tones(&name);
            prop_assert_eq!(n().fold(&folded), folded);
            prop_assert_eq!(n().fold_tones(&toned), toned);
        }
    }
}
