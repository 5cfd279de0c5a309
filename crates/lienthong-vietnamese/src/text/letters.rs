//! The Vietnamese letters as data: which characters are vowels, which carry a tone, and how a
//! vowel splits into its toneless letter and its tone.
//!
//! A Vietnamese vowel letter is one of the twelve bases `a ă â e ê i o ô ơ u ư y` (upper or lower
//! case) with at most one of five tone marks. The vowel diacritics (breve, circumflex, horn) are
//! part of the letter; the tone mark is not. Unicode composes both into one precomposed character
//! (`ệ` = `e` + circumflex + dot below), so moving or removing a tone means taking the precomposed
//! character apart. The tables here are built once from Unicode normalisation itself, so they
//! cannot drift from it.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use unicode_normalization::UnicodeNormalization;

/// The six tones of Vietnamese. [`Tone::Level`] (thanh ngang) has no mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tone {
    /// Thanh ngang: no mark.
    Level,
    /// Thanh huyền: grave accent (à).
    Grave,
    /// Thanh sắc: acute accent (á).
    Acute,
    /// Thanh hỏi: hook above (ả).
    Hook,
    /// Thanh ngã: tilde (ã).
    Tilde,
    /// Thanh nặng: dot below (ạ).
    Dot,
}

impl Tone {
    /// Every tone, level first.
    pub const ALL: [Tone; 6] = [
        Tone::Level,
        Tone::Grave,
        Tone::Acute,
        Tone::Hook,
        Tone::Tilde,
        Tone::Dot,
    ];

    /// The combining mark that writes this tone, `None` for [`Tone::Level`].
    pub fn combining_mark(self) -> Option<char> {
        match self {
            Tone::Level => None,
            Tone::Grave => Some('\u{0300}'),
            Tone::Acute => Some('\u{0301}'),
            Tone::Hook => Some('\u{0309}'),
            Tone::Tilde => Some('\u{0303}'),
            Tone::Dot => Some('\u{0323}'),
        }
    }

    /// The tone a combining mark writes. The deprecated tone marks U+0340 and U+0341 count as
    /// grave and acute, as Unicode makes them canonically equivalent.
    pub fn from_combining_mark(mark: char) -> Option<Tone> {
        match mark {
            '\u{0300}' | '\u{0340}' => Some(Tone::Grave),
            '\u{0301}' | '\u{0341}' => Some(Tone::Acute),
            '\u{0309}' => Some(Tone::Hook),
            '\u{0303}' => Some(Tone::Tilde),
            '\u{0323}' => Some(Tone::Dot),
            _ => None,
        }
    }
}

/// The twelve vowel letters without tone, lower case.
pub(crate) const VOWEL_BASES: [char; 12] =
    ['a', 'ă', 'â', 'e', 'ê', 'i', 'o', 'ô', 'ơ', 'u', 'ư', 'y'];

/// Consonant letters of the Vietnamese alphabet (lower case), plus f, j, w, z, which Vietnamese
/// words do not use but loanwords and names of other ethnic groups do.
const CONSONANTS: [char; 21] = [
    'b', 'c', 'd', 'đ', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'q', 'r', 's', 't', 'v', 'w',
    'x', 'z',
];

/// Looked up for every letter of every word that tone placement and the legacy-encoding
/// detector read, so keyed with a hash made for small keys.
struct Tables {
    /// Every vowel letter (both cases, all tones) → (toneless letter of the same case, tone).
    split: FxHashMap<char, (char, Tone)>,
    /// (toneless letter, tone) → precomposed letter.
    join: FxHashMap<(char, Tone), char>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| {
    let mut split = FxHashMap::default();
    let mut join = FxHashMap::default();
    for lower in VOWEL_BASES {
        for base in std::iter::once(lower).chain(lower.to_uppercase()) {
            for tone in Tone::ALL {
                let mut composed = String::with_capacity(4);
                composed.push(base);
                composed.extend(tone.combining_mark());
                let composed: String = composed.nfc().collect();
                let mut chars = composed.chars();
                // Every Vietnamese vowel with every tone has a precomposed character; the
                // table test checks all 144 exist, so nothing is skipped in practice.
                if let (Some(letter), None) = (chars.next(), chars.next()) {
                    split.insert(letter, (base, tone));
                    join.insert((base, tone), letter);
                }
            }
        }
    }
    Tables { split, join }
});

/// Splits a precomposed Vietnamese vowel into its toneless letter (same case) and its tone.
/// `None` when `c` is not a Vietnamese vowel letter (consonants, digits, other scripts, and
/// vowels with marks Vietnamese does not use, such as `ë`).
pub(crate) fn split_vowel(c: char) -> Option<(char, Tone)> {
    TABLES.split.get(&c).copied()
}

/// The precomposed letter for a toneless vowel letter and a tone; `None` if `base` is not one of
/// the twelve vowel letters (either case).
pub(crate) fn join_vowel(base: char, tone: Tone) -> Option<char> {
    TABLES.join.get(&(base, tone)).copied()
}

/// Lower-cases a character that is known to lower-case to exactly one character (all Vietnamese
/// letters do); other characters are returned unchanged.
pub(crate) fn lower_one(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Upper-cases a character that is known to upper-case to exactly one character (all Vietnamese
/// letters do); other characters are returned unchanged.
pub(crate) fn upper_one(c: char) -> char {
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Whether `c` (lower case, toneless) is one of the twelve vowel letters.
pub(crate) fn is_vowel_base(c: char) -> bool {
    VOWEL_BASES.contains(&c)
}

/// Whether `c` (lower case) is one of the consonant letters (see [`CONSONANTS`]).
pub(crate) fn is_consonant(c: char) -> bool {
    CONSONANTS.contains(&c)
}

/// Whether `c` (lower case, toneless) carries a vowel diacritic (breve, circumflex or horn).
/// These letters are always the main vowel of their syllable, which is why the tone goes on them.
pub(crate) fn has_vowel_diacritic(c: char) -> bool {
    matches!(c, 'ă' | 'â' | 'ê' | 'ô' | 'ơ' | 'ư')
}

/// One letter of a word: the character without its tone (original case), the lower-case form of
/// that, and the tone it carried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Letter {
    pub(crate) base: char,
    pub(crate) lower: char,
    pub(crate) tone: Tone,
}

/// Takes an NFC word apart into [`Letter`]s. `None` if any character is not a Vietnamese vowel or
/// consonant letter (so foreign words and words with other marks are left alone by callers).
pub(crate) fn letters(word: &str) -> Option<Vec<Letter>> {
    word.chars()
        .map(|c| {
            if let Some((base, tone)) = split_vowel(c) {
                Some(Letter {
                    base,
                    lower: lower_one(base),
                    tone,
                })
            } else {
                let lower = lower_one(c);
                is_consonant(lower).then_some(Letter {
                    base: c,
                    lower,
                    tone: Tone::Level,
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vowel_with_every_tone_has_a_precomposed_letter() {
        // 12 vowels × 2 cases × 6 tones.
        assert_eq!(TABLES.split.len(), 144);
        assert_eq!(TABLES.join.len(), 144);
    }

    #[test]
    fn splits_letters_with_two_marks() {
        assert_eq!(split_vowel('ệ'), Some(('ê', Tone::Dot)));
        assert_eq!(split_vowel('Ặ'), Some(('Ă', Tone::Dot)));
        assert_eq!(split_vowel('ở'), Some(('ơ', Tone::Hook)));
        assert_eq!(split_vowel('Ữ'), Some(('Ư', Tone::Tilde)));
        assert_eq!(split_vowel('ấ'), Some(('â', Tone::Acute)));
        assert_eq!(split_vowel('y'), Some(('y', Tone::Level)));
        assert_eq!(split_vowel('đ'), None);
        assert_eq!(split_vowel('ë'), None);
        assert_eq!(split_vowel('n'), None);
    }

    #[test]
    fn join_inverts_split() {
        for (&letter, &(base, tone)) in &TABLES.split {
            assert_eq!(join_vowel(base, tone), Some(letter));
        }
        assert_eq!(join_vowel('b', Tone::Acute), None);
    }

    #[test]
    fn deprecated_tone_marks_are_grave_and_acute() {
        assert_eq!(Tone::from_combining_mark('\u{0340}'), Some(Tone::Grave));
        assert_eq!(Tone::from_combining_mark('\u{0341}'), Some(Tone::Acute));
        assert_eq!(Tone::from_combining_mark('\u{0302}'), None);
    }

    #[test]
    fn letters_rejects_non_vietnamese_characters() {
        assert!(letters("Nguyễn").is_some());
        assert!(letters("Đặng").is_some());
        assert!(letters("Noël").is_none());
        assert!(letters("abc1").is_none());
    }
}
