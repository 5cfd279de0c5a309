//! Strategies shared by the property tests of several modules.

use proptest::prelude::*;

/// Letters of the Vietnamese alphabet in both cases, with every tone.
const VIETNAMESE_LETTERS: &str = "abcdeghiklmnopqrstuvxyABCDEGHIKLMNOPQRSTUVXYđĐ\
àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ\
ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ";

/// Text of Vietnamese letters and spaces, up to 24 characters.
pub(crate) fn vietnamese_text() -> impl Strategy<Value = String> {
    let letters: Vec<char> = VIETNAMESE_LETTERS.chars().chain([' ']).collect();
    proptest::collection::vec(proptest::sample::select(letters), 0..24)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A name part of 1 to 3 syllables of Vietnamese letters.
pub(crate) fn vietnamese_name() -> impl Strategy<Value = String> {
    let letters: Vec<char> = VIETNAMESE_LETTERS.chars().collect();
    let syllable = proptest::collection::vec(proptest::sample::select(letters), 1..7)
        .prop_map(|chars| chars.into_iter().collect::<String>());
    proptest::collection::vec(syllable, 1..4).prop_map(|syllables| syllables.join(" "))
}
