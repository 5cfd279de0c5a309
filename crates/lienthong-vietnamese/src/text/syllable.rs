//! Structure of a written Vietnamese syllable: onset consonant(s), vowel cluster, final
//! consonant, and where the tone mark goes.
//!
//! A syllable is written `onset? vowels coda?` with one tone. Two spellings need care:
//! - `qu` is an onset: the `u` is not a vowel of the rhyme (`quý` = `qu` + `ý`).
//! - `gi` is an onset when a vowel follows (`giữa` = `gi` + `ữa`), but in `gì`, `gìn` the `i`
//!   is the vowel (`g` + `ì`).
//!
//! The tone mark goes on the main vowel (Quy tắc đặt dấu thanh; summarised e.g. in the
//! Launchpad Vietnamese translators' spelling guide, help.launchpad.net/Translations/Vietnamese/Spelling):
//! 1. a vowel with a diacritic (ă â ê ô ơ ư) is the main vowel; in `ươ` it is the `ơ`;
//! 2. otherwise a single vowel takes it; of three vowels the middle one (`ngoài`, `khuỷu`);
//! 3. of two vowels: the second when a final consonant follows (`hoàn`, `huỳnh`), else the first
//!    (`mùa`, `tài`) — except `oa`, `oe`, `uy` with no final consonant, the only place the two
//!    styles differ: old style `hòa`, `khỏe`, `thúy`; new style `hoà`, `khoẻ`, `thuý`.

use super::letters::{Tone, has_vowel_diacritic, is_vowel_base};

/// Where to put the tone mark in the two-vowel rhymes `oa`, `oe`, `uy` without a final consonant.
///
/// The names follow Vietnamese usage, "kiểu cũ" / "kiểu mới": the old, traditional style marks
/// the first vowel (`hòa`, `hủy`; the Launchpad Vietnamese translators' guide calls it "kiểu cũ"
/// and notes that the press and textbooks use it); the new style marks the second, main vowel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToneStyle {
    /// Kiểu cũ: `hòa`, `thúy`, `khỏe`.
    Old,
    /// Kiểu mới: `hoà`, `thuý`, `khoẻ`.
    New,
}

/// Onsets, longest first so a prefix match picks `ngh` over `ng` over `n`.
pub(crate) const ONSETS: [&str; 27] = [
    "ngh", "ch", "gh", "gi", "kh", "ng", "nh", "ph", "qu", "th", "tr", "b", "c", "d", "đ", "g",
    "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x",
];

const CODAS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// Every rhyme (vần) of standard Vietnamese spelling, without tone, as written after an onset
/// other than `qu` and `gi` (see [`rhyme_fits_onset`] for those two).
///
/// Built from the structure of the written rhyme, (medial o/u) + nucleus + final, keeping the
/// combinations standard spelling uses; it includes rare rhymes of native words (`oong`, `ooc`,
/// `uych`, `oeo`, `uyu`, `yêng`) but not loanword-only ones.
pub(crate) const RHYMES: &[&str] = &[
    // nucleus a, ă, â
    "a", "ac", "ach", "ai", "am", "an", "ang", "anh", "ao", "ap", "at", "au", "ay", //
    "ăc", "ăm", "ăn", "ăng", "ăp", "ăt", //
    "âc", "âm", "ân", "âng", "âp", "ât", "âu", "ây", //
    // nucleus e, ê
    "e", "ec", "em", "en", "eng", "eo", "ep", "et", //
    "ê", "êch", "êm", "ên", "ênh", "êp", "êt", "êu", //
    // nucleus i and the diphthong iê/yê
    "i", "ia", "ich", "im", "in", "inh", "ip", "it", "iu", //
    "iêc", "iêm", "iên", "iêng", "iêp", "iêt", "iêu", //
    "y", "yêm", "yên", "yêng", "yêt", "yêu", //
    // nucleus o, ô, ơ
    "o", "oc", "oi", "om", "on", "ong", "op", "ot", "ooc", "oong", //
    "ô", "ôc", "ôi", "ôm", "ôn", "ông", "ôp", "ôt", //
    "ơ", "ơi", "ơm", "ơn", "ơp", "ơt", //
    // nucleus u and the diphthong uô
    "u", "ua", "uc", "ui", "um", "un", "ung", "up", "ut", //
    "uôc", "uôi", "uôm", "uôn", "uông", "uôt", //
    // nucleus ư and the diphthong ươ
    "ư", "ưa", "ưc", "ưi", "ưm", "ưn", "ưng", "ưt", "ưu", //
    "ươc", "ươi", "ươm", "ươn", "ương", "ươp", "ươt", "ươu", //
    // medial o
    "oa", "oac", "oach", "oai", "oam", "oan", "oang", "oanh", "oao", "oap", "oat", "oay", //
    "oăc", "oăm", "oăn", "oăng", "oăt", //
    "oe", "oen", "oeo", "oet", //
    // medial u
    "uân", "uâng", "uât", "uây", //
    "uê", "uêch", "uênh", "uơ", //
    "uy", "uya", "uych", "uyn", "uynh", "uyp", "uyt", "uyu", "uyên", "uyêt", //
];

fn is_rhyme(rhyme: &str) -> bool {
    RHYMES.contains(&rhyme)
}

/// Whether the rhyme begins with a front vowel (i, y, e, ê), before which Vietnamese spelling
/// writes /k/ as `k`, /ɣ/ as `gh` and /ŋ/ as `ngh` — and never `c`, `g`, `ng`.
fn starts_front(rhyme: &str) -> bool {
    rhyme.starts_with(['i', 'y', 'e', 'ê'])
}

/// Whether `rhyme` is a valid continuation of `onset`.
///
/// After `qu` the medial `u` is already written, so the rhyme is what follows it: `quân` is
/// `qu` + `ân` (rhyme `uân`), `quang` is `qu` + `ang` (rhyme `oang` — written with `u` after
/// `q`), `quốc` is `qu` + `ôc` (rhyme `uôc`). The old spellings `qui`, `quít` are accepted. After `gi` the `i`
/// of an `iê` diphthong is not written twice: `giếng` is `gi` + `ếng` (rhyme `iêng`).
fn rhyme_fits_onset(onset: &str, rhyme: &str) -> bool {
    match onset {
        "qu" => {
            !rhyme.is_empty()
                && (is_rhyme(&format!("u{rhyme}"))
                    || is_rhyme(&format!("o{rhyme}"))
                    || matches!(rhyme, "i" | "it"))
        }
        "gi" => {
            !rhyme.is_empty()
                && !rhyme.starts_with('i')
                && (is_rhyme(rhyme) || is_rhyme(&format!("i{rhyme}")))
        }
        "k" => starts_front(rhyme) && is_rhyme(rhyme),
        "gh" | "ngh" => starts_front(rhyme) && !rhyme.starts_with('y') && is_rhyme(rhyme),
        "c" | "ng" => !starts_front(rhyme) && is_rhyme(rhyme),
        // `g` before `i` is the `gì`, `gìn` spelling; before e, ê it would be `gh`.
        "g" => !rhyme.starts_with(['y', 'e', 'ê']) && is_rhyme(rhyme),
        _ => is_rhyme(rhyme),
    }
}

/// Whether `letters` (lower case, toneless, one syllable) with `tone` is a well-formed Vietnamese
/// syllable: a known onset, a rhyme of standard spelling that fits it (with `k`, `gh`, `ngh`
/// before i, y, e, ê and `c`, `g`, `ng` elsewhere), and no tone other than sắc or nặng on a
/// syllable ending in c, ch, p or t (those syllables only carry these two).
pub(crate) fn is_well_formed(letters: &[char], tone: Tone) -> bool {
    let word: String = letters.iter().collect();
    let stop_final = ["c", "ch", "p", "t"].iter().any(|f| word.ends_with(f));
    if stop_final && !matches!(tone, Tone::Acute | Tone::Dot) {
        return false;
    }
    // An empty onset first, then every onset that prefixes the word; `gìn` fails as `gi` + `n`
    // and succeeds as `g` + `in`.
    std::iter::once("")
        .chain(ONSETS.iter().copied())
        .filter(|onset| word.starts_with(onset))
        .any(|onset| {
            let rhyme = &word[onset.len()..];
            !rhyme.is_empty() && rhyme_fits_onset(onset, rhyme)
        })
}

/// The index (into `letters`) of the vowel that carries the tone mark in `style`, or `None` when
/// `letters` is not shaped like a Vietnamese syllable (unknown onset, no vowel, a vowel cluster of
/// more than three letters, or a final that is not c, ch, m, n, ng, nh, p, t).
///
/// `letters` are lower case and toneless. The answer depends only on the letters, never on where
/// a tone was before, which is what makes re-placing tones idempotent.
pub(crate) fn tone_position(letters: &[char], style: ToneStyle) -> Option<usize> {
    let onset_len = onset_length(letters)?;
    let rest = &letters[onset_len..];
    let vowel_count = rest.iter().take_while(|c| is_vowel_base(**c)).count();
    if vowel_count == 0 || vowel_count > 3 {
        return None;
    }
    let coda: String = rest[vowel_count..].iter().collect();
    if !CODAS.contains(&coda.as_str()) {
        return None;
    }
    let vowels = &rest[..vowel_count];
    let in_cluster = if let Some(last_marked) = vowels.iter().rposition(|c| has_vowel_diacritic(*c))
    {
        last_marked
    } else {
        match vowels {
            [_] => 0,
            [_, _, _] => 1,
            [first, second] => {
                if !coda.is_empty() {
                    1
                } else if matches!((first, second), ('o', 'a') | ('o', 'e') | ('u', 'y')) {
                    match style {
                        ToneStyle::Old => 0,
                        ToneStyle::New => 1,
                    }
                } else {
                    0
                }
            }
            _ => return None,
        }
    };
    Some(onset_len + in_cluster)
}

/// Length of the onset of a syllable (lower case, toneless letters), `None` if the consonants
/// before the first vowel are not a Vietnamese onset.
fn onset_length(letters: &[char]) -> Option<usize> {
    match letters {
        ['q', 'u', ..] => return Some(2),
        ['q', ..] => return None,
        ['g', 'i', third, ..] if is_vowel_base(*third) => return Some(2),
        _ => {}
    }
    let len = letters.iter().take_while(|c| !is_vowel_base(**c)).count();
    let onset: String = letters[..len].iter().collect();
    (len == 0 || ONSETS.contains(&onset.as_str())).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn pos(s: &str, style: ToneStyle) -> Option<usize> {
        tone_position(&chars(s), style)
    }

    #[test]
    fn diacritic_vowel_takes_the_tone() {
        assert_eq!(pos("nguyên", ToneStyle::Old), Some(4));
        assert_eq!(pos("nguơi", ToneStyle::Old), Some(3));
        assert_eq!(pos("ngươi", ToneStyle::Old), Some(3)); // ươ → ơ
        assert_eq!(pos("thuơ", ToneStyle::Old), Some(3)); // thuở
        assert_eq!(pos("cưu", ToneStyle::Old), Some(1)); // cứu
        assert_eq!(pos("rươu", ToneStyle::New), Some(2)); // rượu
        assert_eq!(pos("xuân", ToneStyle::Old), Some(2));
        assert_eq!(pos("hoăc", ToneStyle::Old), Some(2)); // hoặc
    }

    #[test]
    fn two_vowels_depend_on_final_and_style() {
        assert_eq!(pos("hoa", ToneStyle::Old), Some(1));
        assert_eq!(pos("hoa", ToneStyle::New), Some(2));
        assert_eq!(pos("khoe", ToneStyle::Old), Some(2));
        assert_eq!(pos("khoe", ToneStyle::New), Some(3));
        assert_eq!(pos("thuy", ToneStyle::Old), Some(2));
        assert_eq!(pos("thuy", ToneStyle::New), Some(3));
        assert_eq!(pos("hoan", ToneStyle::Old), Some(2));
        assert_eq!(pos("huynh", ToneStyle::Old), Some(2));
        assert_eq!(pos("mua", ToneStyle::New), Some(1));
        assert_eq!(pos("tai", ToneStyle::New), Some(1));
        assert_eq!(pos("mia", ToneStyle::New), Some(1));
    }

    #[test]
    fn qu_and_gi_onsets() {
        assert_eq!(pos("quy", ToneStyle::Old), Some(2));
        assert_eq!(pos("qua", ToneStyle::Old), Some(2));
        assert_eq!(pos("quyên", ToneStyle::Old), Some(3));
        assert_eq!(pos("quynh", ToneStyle::Old), Some(2));
        assert_eq!(pos("gia", ToneStyle::Old), Some(2));
        assert_eq!(pos("giưa", ToneStyle::Old), Some(2));
        assert_eq!(pos("gin", ToneStyle::Old), Some(1));
        assert_eq!(pos("gi", ToneStyle::Old), Some(1));
        assert_eq!(pos("giêng", ToneStyle::Old), Some(2));
    }

    #[test]
    fn three_vowels_take_the_middle() {
        assert_eq!(pos("ngoai", ToneStyle::Old), Some(3));
        assert_eq!(pos("ngoai", ToneStyle::New), Some(3));
        assert_eq!(pos("khuyu", ToneStyle::Old), Some(3));
        assert_eq!(pos("xoay", ToneStyle::Old), Some(2));
    }

    #[test]
    fn shapes_that_are_not_syllables() {
        assert_eq!(pos("q", ToneStyle::Old), None);
        assert_eq!(pos("bcd", ToneStyle::Old), None);
        assert_eq!(pos("chloe", ToneStyle::Old), None);
        assert_eq!(pos("hoahoa", ToneStyle::Old), None);
        assert_eq!(pos("aoaoa", ToneStyle::Old), None);
        assert_eq!(pos("tras", ToneStyle::Old), None);
    }

    #[test]
    fn well_formed_syllables() {
        for (word, tone) in [
            ("nguyên", Tone::Tilde),
            ("văn", Tone::Level),
            ("đăng", Tone::Dot),
            ("huynh", Tone::Grave),
            ("quôc", Tone::Acute),
            ("quang", Tone::Level),
            ("quân", Tone::Level),
            ("giêng", Tone::Acute),
            ("giưa", Tone::Tilde),
            ("gin", Tone::Grave),
            ("gi", Tone::Grave),
            ("khuya", Tone::Level),
            ("thuơ", Tone::Hook),
            ("nghiêng", Tone::Level),
            ("xoong", Tone::Level),
            ("y", Tone::Acute),
            ("yên", Tone::Level),
            ("oanh", Tone::Level),
            ("ca", Tone::Level),
            ("ke", Tone::Level),
            ("ky", Tone::Grave),
            ("kiêm", Tone::Level),
            ("ghi", Tone::Level),
            ("nghe", Tone::Level),
            ("ngô", Tone::Level),
            ("gân", Tone::Level),
        ] {
            assert!(is_well_formed(&chars(word), tone), "{word} {tone:?}");
        }
    }

    #[test]
    fn ill_formed_syllables() {
        for (word, tone) in [
            ("nguyeon", Tone::Acute),
            ("tac", Tone::Grave), // stop final with huyền
            ("tap", Tone::Level),
            ("q", Tone::Level),
            ("qan", Tone::Level),
            ("bcd", Tone::Level),
            ("nguyơn", Tone::Level),
            ("uơu", Tone::Level),
            ("gii", Tone::Level),
            ("ci", Tone::Level),
            ("ka", Tone::Level),
            ("nghô", Tone::Level),
            ("ngê", Tone::Level),
            ("ghy", Tone::Level),
            ("ge", Tone::Level),
        ] {
            assert!(!is_well_formed(&chars(word), tone), "{word} {tone:?}");
        }
    }
}
