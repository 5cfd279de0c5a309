//! Unicode handling for Vietnamese text: normalisation, cleaning, tone-mark placement, comparison
//! keys and name casing.
//!
//! The same name reaches the hub in many byte forms: precomposed (NFC) or decomposed (NFD)
//! Unicode, with the tone mark on different vowels (`Hoà` / `Hòa`), with invisible characters
//! copied from web forms, in upper case from old registers. Every function here leaves its input
//! alone, so the original value can be kept next to the normalised one for provenance; those that
//! return a `Cow` borrow the input when it is already in the form asked for, which most values
//! of a source are (the translator runs them on every field of every record).
//!
//! | function | use |
//! |---|---|
//! | [`nfc`] | canonical composition; the form every canonical record is stored in |
//! | [`clean`] | [`nfc`] + trim, collapse whitespace, drop invisible and stray characters |
//! | [`cleaned`], [`is_clean`] | the same, borrowing text that is clean already |
//! | [`place_tones`] | rewrite tone marks to one [`ToneStyle`] |
//! | [`fold_tones`] | key that ignores case and tone placement only (`Hoà` = `hòa` ≠ `Hoa`) |
//! | [`fold`] | key that ignores case and every diacritic (`Đặng` = `dang`) |
//! | [`title_case_name`] | display casing of a personal name ([`title_cased_name`] borrows) |
//! | [`is_syllable`] | whether a word is a well-formed Vietnamese syllable |
//! | [`is_letter`] | `char::is_alphabetic`, quick for the Latin letters |

mod letters;
pub(crate) mod syllable;

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{UnicodeNormalization, is_nfc};

pub use letters::Tone;
pub use syllable::ToneStyle;

pub(crate) use letters::{join_vowel, letters, split_vowel, upper_one};

/// The text in Unicode Normalization Form C, borrowed when it already is.
///
/// NFC is the form precomposed-character keyboards produce and the form canonical records are
/// stored in; decomposed input (macOS file names, some web forms) compares unequal to it
/// byte-wise until normalised.
///
/// ```
/// use lienthong_vietnamese::text::nfc;
/// let decomposed = "Nguye\u{0302}\u{0303}n"; // e + circumflex + tilde
/// assert_eq!(nfc(decomposed), "Nguyễn");
/// assert!(matches!(nfc("Nguyễn"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn nfc(s: &str) -> Cow<'_, str> {
    if already_nfc(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.nfc().collect())
    }
}

/// Cleans free text for storage and comparison: removes invisible and stray characters, trims,
/// collapses every run of whitespace (any Unicode white space, including tabs, line breaks and
/// no-break spaces) into one ASCII space, and returns the result in NFC.
///
/// Removed: control characters, format characters that carry no text (soft hyphen, zero-width
/// space/joiners, word joiner, byte-order mark, bidirectional controls, interlinear annotation
/// marks, tag characters), the combining grapheme joiner and variation selectors (they block
/// canonical composition, so `e`+U+034F+tilde would never become `ẽ`), noncharacters, and
/// combining marks with no letter before them. The replacement character U+FFFD is kept on
/// purpose: it records that an earlier decoding lost data, which a data steward must see.
///
/// Decode legacy-encoded values ([`crate::legacy`]) before cleaning them: in TCVN3 the soft
/// hyphen's byte is the letter `ư`.
///
/// ```
/// use lienthong_vietnamese::text::clean;
/// assert_eq!(clean("  Nguyễn\u{00A0}\u{200B}Văn\t\tAn \u{FEFF}"), "Nguyễn Văn An");
/// assert_eq!(clean("Lê\u{0000} Thị\r\nHồng"), "Lê Thị Hồng");
/// ```
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if is_combining_mark(c) && (out.is_empty() || pending_space) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    into_nfc(out)
}

/// Whether [`clean`] would return `s` unchanged: no white space but single ASCII spaces between
/// other characters, nothing [`clean`] removes, and NFC. Answered without building a string.
///
/// ```
/// use lienthong_vietnamese::text::is_clean;
/// assert!(is_clean("Nguyễn Văn An"));
/// assert!(!is_clean("Nguyễn  Văn An"));
/// assert!(!is_clean(" Nguyễn"));
/// assert!(!is_clean("Nguye\u{0302}\u{0303}n")); // decomposed
/// ```
pub fn is_clean(s: &str) -> bool {
    // At the start, as after a space, neither a space nor a combining mark may come.
    let mut after_space = true;
    // Whether every character so far is stable in NFC (then the text is in NFC).
    let mut stable = true;
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        // ASCII (most of the text) byte by byte, without decoding.
        if byte.is_ascii() {
            at += 1;
            match byte {
                b' ' if after_space => return false,
                b' ' => after_space = true,
                // ASCII white space other than the space is a control character, as is DEL.
                _ if byte.is_ascii_control() => return false,
                _ => after_space = false,
            }
            continue;
        }
        // Vietnamese letters by their bytes, without decoding them: U+00C0–U+023F (lead bytes
        // C3–C8, two bytes, all stable in NFC) and U+1E00–U+1EFF (E1 B8–BB, three bytes, stable
        // from U+1EA0 to U+1EF9). Neither white space nor invisible nor combining marks.
        match (byte, bytes.get(at + 1), bytes.get(at + 2)) {
            (0xC3..=0xC8, ..) => {
                at += 2;
                after_space = false;
                continue;
            }
            (0xE1, Some(&second @ 0xB8..=0xBB), Some(&third)) => {
                at += 3;
                after_space = false;
                stable &= matches!((second, third), (0xBA, 0xA0..) | (0xBB, ..=0xB9));
                continue;
            }
            _ => {}
        }
        // `at` is at the start of a character: every byte before was a whole character.
        let Some(c) = s.get(at..).and_then(|rest| rest.chars().next()) else {
            return false;
        };
        at += c.len_utf8();
        if matches!(c, '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}') {
            // The Latin blocks Vietnamese is written in (most letters of a value): neither white
            // space nor invisible nor combining marks, so only NFC stability is left to check.
            stable &= is_stable_in_nfc(c);
        } else if c.is_whitespace() || is_invisible(c) || (after_space && is_combining_mark(c)) {
            return false;
        } else {
            stable &= is_stable_in_nfc(c);
        }
        after_space = false;
    }
    (s.is_empty() || !after_space) && (stable || is_nfc(s))
}

/// [`clean`], borrowing `s` when it is clean already ([`is_clean`]).
///
/// ```
/// use std::borrow::Cow;
/// use lienthong_vietnamese::text::cleaned;
/// assert!(matches!(cleaned("Vụ Tổ chức"), Cow::Borrowed(_)));
/// assert_eq!(cleaned(" Vụ  Tổ chức "), "Vụ Tổ chức");
/// ```
pub fn cleaned(s: &str) -> Cow<'_, str> {
    if is_clean(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(clean(s))
    }
}

/// Characters [`clean`] removes: they render as nothing, or as noise, and break comparison.
fn is_invisible(c: char) -> bool {
    let cp = u32::from(c);
    c.is_control()
        || matches!(
            cp,
            0x00AD                      // soft hyphen
            | 0x034F                    // combining grapheme joiner
            | 0x061C                    // Arabic letter mark
            | 0x180B..=0x180F           // Mongolian variation selectors and vowel separator
            | 0x200B..=0x200F           // zero-width space, ZWNJ, ZWJ, LRM, RLM
            | 0x202A..=0x202E           // bidirectional embeddings and overrides
            | 0x2060..=0x2064           // word joiner, invisible operators
            | 0x2066..=0x206F           // bidirectional isolates, deprecated format characters
            | 0xFDD0..=0xFDEF           // noncharacters
            | 0xFE00..=0xFE0F           // variation selectors
            | 0xFEFF                    // byte-order mark / zero-width no-break space
            | 0xFFF9..=0xFFFB           // interlinear annotation
            | 0xE0001 | 0xE0020..=0xE007F // tag characters
            | 0xE0100..=0xE01EF         // variation selectors supplement
        )
        || (cp & 0xFFFE) == 0xFFFE // U+xxFFFE and U+xxFFFF in every plane are noncharacters
}

fn into_nfc(s: String) -> String {
    if already_nfc(&s) {
        s
    } else {
        s.nfc().collect()
    }
}

/// Whether `s` is in NFC. Text made only of characters that NFC leaves alone whatever surrounds
/// them (everything below the combining marks at U+0300, and the precomposed Vietnamese letters
/// U+1EA0–U+1EF9) is decided by one pass over it; anything else goes through the general check,
/// which looks every character up in Unicode's tables.
/// Whether `s` is in NFC already ([`nfc`] would borrow it).
pub fn in_nfc(s: &str) -> bool {
    already_nfc(s)
}

fn already_nfc(s: &str) -> bool {
    all_stable_in_nfc(s) || is_nfc(s)
}

/// `s.chars().all(is_stable_in_nfc)`, read by bytes: below U+0300 is ASCII or a two-byte
/// character with lead byte C2–CB; U+1EA0–U+1EF9 are E1 BA A0 to E1 BB B9.
fn all_stable_in_nfc(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += match (byte, bytes.get(at + 1), bytes.get(at + 2)) {
            (..0x80, ..) => 1,
            (0xC2..=0xCB, ..) => 2,
            (0xE1, Some(0xBA), Some(0xA0..)) | (0xE1, Some(0xBB), Some(..=0xB9)) => 3,
            _ => return false,
        };
    }
    true
}

/// Characters whose NFC quick-check property is Yes and whose canonical combining class is 0:
/// a string of only such characters is in NFC (UAX #15, quick check). The tests check every
/// character of both ranges against Unicode's tables.
fn is_stable_in_nfc(c: char) -> bool {
    c < '\u{0300}' || ('\u{1EA0}'..='\u{1EF9}').contains(&c)
}

/// Rewrites the tone mark of every Vietnamese syllable in `s` to the position `style` prescribes.
/// The result is in NFC.
///
/// Only where the tone sits changes: every letter keeps its vowel diacritics and its case, and
/// everything that is not a Vietnamese syllable with exactly one tone (foreign words, words with
/// digits, syllables carrying two tone marks) is left as it was. A misplaced tone is moved too
/// (`tóan` → `toán`), because the position is computed from the letters alone. That also makes
/// the function idempotent, and `place_tones(place_tones(s, a), b) == place_tones(s, b)`.
///
/// The two styles differ only for `oa`, `oe`, `uy` without a final consonant (see [`ToneStyle`]).
///
/// ```
/// use lienthong_vietnamese::text::{place_tones, ToneStyle};
/// assert_eq!(place_tones("Hoà Thuỷ khoẻ", ToneStyle::Old), "Hòa Thủy khỏe");
/// assert_eq!(place_tones("Hòa Thủy khỏe", ToneStyle::New), "Hoà Thuỷ khoẻ");
/// // Not affected by style: a final consonant, a diacritic vowel, three vowels.
/// assert_eq!(place_tones("Hoàng Nguyễn ngoài", ToneStyle::New), "Hoàng Nguyễn ngoài");
/// // A misplaced tone is corrected.
/// assert_eq!(place_tones("tóan HÒAN", ToneStyle::Old), "toán HOÀN");
/// ```
pub fn place_tones(s: &str, style: ToneStyle) -> String {
    let s = nfc(s);
    let mut out = String::with_capacity(s.len());
    let mut word_start: Option<usize> = None;
    for (i, c) in s.char_indices() {
        let in_word = c.is_alphabetic() || is_combining_mark(c);
        match (in_word, word_start) {
            (true, None) => word_start = Some(i),
            (true, Some(_)) => {}
            (false, Some(start)) => {
                push_retoned(&mut out, &s[start..i], style);
                word_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
        }
    }
    if let Some(start) = word_start {
        push_retoned(&mut out, &s[start..], style);
    }
    into_nfc(out)
}

fn push_retoned(out: &mut String, word: &str, style: ToneStyle) {
    match retone(word, style) {
        Some(retoned) => out.push_str(&retoned),
        None => out.push_str(word),
    }
}

/// The word with its single tone moved to the right vowel, `None` to keep it as it is.
fn retone(word: &str, style: ToneStyle) -> Option<String> {
    let letters = letters(word)?;
    let mut toned = letters.iter().filter(|l| l.tone != Tone::Level);
    let tone = toned.next()?.tone;
    if toned.next().is_some() {
        return None;
    }
    let lower: Vec<char> = letters.iter().map(|l| l.lower).collect();
    let at = syllable::tone_position(&lower, style)?;
    letters
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == at {
                join_vowel(l.base, tone)
            } else {
                Some(l.base)
            }
        })
        .collect()
}

/// Comparison key that ignores case, tone-mark placement and text noise, but keeps every letter,
/// vowel diacritic and tone: `Hoà` and `hòa` give the same key, `Hoa` and `Hóa` do not.
///
/// It is [`clean`], lower case, then [`place_tones`] in [`ToneStyle::Old`].
///
/// ```
/// use lienthong_vietnamese::text::fold_tones;
/// assert_eq!(fold_tones("Hoà"), fold_tones(" hòa "));
/// assert_ne!(fold_tones("Hoà"), fold_tones("Hoa"));
/// assert_eq!(fold_tones("NGUYỄN  Thị THUỶ"), "nguyễn thị thủy");
/// ```
pub fn fold_tones(s: &str) -> String {
    let lower: String = cleaned(s).chars().flat_map(char::to_lowercase).collect();
    place_tones(&lower, ToneStyle::Old)
}

/// Comparison key that ignores case, every diacritic (tones and vowel marks) and text noise:
/// [`clean`], lower case, all combining marks removed, `đ` → `d`. Vietnamese text becomes plain
/// ASCII letters and single spaces.
///
/// `Đ`/`đ` has no Unicode decomposition (the bar is part of the letter, not a mark), so removing
/// marks alone would leave it; it is mapped explicitly. So is the look-alike `Ð`/`ð` (Icelandic
/// eth, U+00D0/U+00F0), which appears where `Đ` went through the wrong code page or keyboard;
/// Vietnamese has no eth, so the mapping cannot merge two real letters.
///
/// Folding loses information on purpose (`Lê` and `Lệ` fold alike); use it to find candidates,
/// and [`fold_tones`] or the exact value to decide.
///
/// ```
/// use lienthong_vietnamese::text::fold;
/// assert_eq!(fold("  ĐẶNG Thị   Hồng "), "dang thi hong");
/// assert_eq!(fold("Nguye\u{0302}\u{0303}n"), fold("nguyễn"));
/// assert_eq!(fold("Ðỗ"), "do");
/// ```
pub fn fold(s: &str) -> String {
    let lower: String = cleaned(s).chars().flat_map(char::to_lowercase).collect();
    let stripped: String = lower
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'ð' => 'd',
            other => other,
        })
        .collect();
    into_nfc(stripped)
}

/// Display casing for a personal name: [`clean`], then every word starts with a capital letter
/// and continues in lower case. A letter after a hyphen, an apostrophe or a full stop also starts
/// a word, for names of other ethnic groups (`H'Hen Niê`, `Y-Moan`) and initials.
///
/// Casing uses Unicode case mappings, which cover every Vietnamese letter (`ễ` → `Ễ`, `đ` → `Đ`).
///
/// ```
/// use lienthong_vietnamese::text::title_case_name;
/// assert_eq!(title_case_name("NGUYỄN văn  a"), "Nguyễn Văn A");
/// assert_eq!(title_case_name("đặng thị ánh ngọc"), "Đặng Thị Ánh Ngọc");
/// assert_eq!(title_case_name("h'hen niê"), "H'Hen Niê");
/// ```
pub fn title_case_name(s: &str) -> String {
    let cleaned = cleaned(s);
    let mut out = String::with_capacity(cleaned.len());
    let mut at_word_start = true;
    for c in cleaned.chars() {
        if is_letter(c) {
            if at_word_start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            at_word_start = false;
        } else if is_combining_mark(c) {
            out.push(c);
        } else {
            out.push(c);
            at_word_start = true;
        }
    }
    into_nfc(out)
}

/// [`title_case_name`], borrowing `s` when it is already clean and cased that way.
///
/// ```
/// use std::borrow::Cow;
/// use lienthong_vietnamese::text::title_cased_name;
/// assert!(matches!(title_cased_name("Đặng Thị Ánh"), Cow::Borrowed(_)));
/// assert_eq!(title_cased_name("ĐẶNG thị ánh"), "Đặng Thị Ánh");
/// ```
pub fn title_cased_name(s: &str) -> Cow<'_, str> {
    if is_clean(s) && is_title_cased(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(title_case_name(s))
    }
}

/// Whether every letter of `s` already has the case [`title_case_name`] gives it.
fn is_title_cased(s: &str) -> bool {
    let mut at_word_start = true;
    for c in s.chars() {
        if is_letter(c) {
            let cased = if c.is_ascii() {
                c.is_ascii_uppercase() == at_word_start
            } else if at_word_start {
                single(c.to_uppercase()) == Some(c)
            } else {
                single(c.to_lowercase()) == Some(c)
            };
            if !cased {
                return false;
            }
            at_word_start = false;
        } else if !is_combining_mark(c) {
            at_word_start = true;
        }
    }
    true
}

/// Whether `c` is a letter: [`char::is_alphabetic`], answered without Unicode's tables for ASCII
/// and for the Latin letters Vietnamese is written with (U+00C0–U+024F but `×` and `÷`, and
/// U+1E00–U+1EFF, every one of them a letter).
///
/// ```
/// use lienthong_vietnamese::text::is_letter;
/// assert!(is_letter('ễ') && is_letter('Đ') && is_letter('a'));
/// assert!(!is_letter('×') && !is_letter('1') && !is_letter(' '));
/// ```
pub fn is_letter(c: char) -> bool {
    match c {
        'a'..='z' | 'A'..='Z' => true,
        '\0'..='\u{7F}' => false,
        '\u{C0}'..='\u{24F}' => c != '×' && c != '÷',
        '\u{1E00}'..='\u{1EFF}' => true,
        _ => c.is_alphabetic(),
    }
}

/// The only character of a case mapping, `None` when it gives several (`ß` → `SS`).
fn single(mut mapped: impl Iterator<Item = char>) -> Option<char> {
    match (mapped.next(), mapped.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Whether `word` is one well-formed Vietnamese syllable: a known onset, a rhyme of standard
/// spelling, at most one tone mark, and only sắc or nặng on a syllable ending in c, ch, p or t.
/// Case and tone placement do not matter.
///
/// Loanwords and names in the languages of other ethnic groups (`Đắk`, `Krông`) are not
/// Vietnamese syllables in this sense; use this to measure how Vietnamese a text reads (as the
/// legacy-encoding detector does), not to reject a value.
///
/// ```
/// use lienthong_vietnamese::text::is_syllable;
/// assert!(is_syllable("Nguyễn"));
/// assert!(is_syllable("QUỐC"));
/// assert!(is_syllable("gìn"));
/// assert!(!is_syllable("NguyÔn")); // TCVN3 bytes read as Latin-1
/// assert!(!is_syllable("tàc"));    // huyền on a stop final
/// assert!(!is_syllable("hello"));
/// ```
pub fn is_syllable(word: &str) -> bool {
    plausibility(word) != Plausibility::NotASyllable
}

/// How well one word reads as a Vietnamese syllable, from worst to best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Plausibility {
    NotASyllable,
    /// Well formed, but the tone mark is where neither style puts it (`tóan`): a typing slip in
    /// real text, and typical of a wrong reading of legacy bytes.
    MisplacedTone,
    Syllable,
}

pub(crate) fn plausibility(word: &str) -> Plausibility {
    let word = nfc(word);
    let Some(letters) = letters(&word) else {
        return Plausibility::NotASyllable;
    };
    let mut toned = letters
        .iter()
        .enumerate()
        .filter(|(_, l)| l.tone != Tone::Level);
    let first_toned = toned.next();
    if toned.next().is_some() {
        return Plausibility::NotASyllable;
    }
    let tone = first_toned.map_or(Tone::Level, |(_, l)| l.tone);
    let lower: Vec<char> = letters.iter().map(|l| l.lower).collect();
    if !syllable::is_well_formed(&lower, tone) {
        return Plausibility::NotASyllable;
    }
    match first_toned {
        Some((at, _))
            if [ToneStyle::Old, ToneStyle::New]
                .iter()
                .all(|style| syllable::tone_position(&lower, *style) != Some(at)) =>
        {
            Plausibility::MisplacedTone
        }
        _ => Plausibility::Syllable,
    }
}

#[cfg(test)]
mod tests;
