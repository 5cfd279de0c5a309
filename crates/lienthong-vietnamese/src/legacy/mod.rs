//! Detection and conversion of the 8-bit Vietnamese encodings of old databases: TCVN3 (ABC,
//! TCVN 5712:1993 VN3) and VNI-Windows.
//!
//! Before Unicode, Vietnamese text was stored as bytes that only a matching font turned into
//! Vietnamese letters. Databases stored those bytes in Latin-1 or Windows-1252 columns, so they
//! reach the hub as ordinary Unicode text of Latin-1 characters that reads as mojibake:
//!
//! | stored as | arrives as | is |
//! |---|---|---|
//! | TCVN3 | `NguyÔn V¨n §øc` | Nguyễn Văn Đức |
//! | VNI-Windows | `Nguyeãn Vaên Ñöùc` | Nguyễn Văn Đức |
//!
//! TCVN3 gives every lower-case letter one byte and has capitals without tone only (`Ă Â Ê Ô Ơ
//! Ư Đ`); capitals with a tone were drawn by switching to an all-capital font over the
//! lower-case bytes. VNI writes a base letter followed by a mark byte (`e` + `ã` = `ễ`), except
//! for `i` with tones, `ơ`, `ư`, `đ` and `ỵ`, which have their own bytes. The tables, with their
//! sources, are in `legacy/tables.rs`.
//!
//! [`detect`] decides how a value reads best, and [`to_unicode`] converts. Both work on the raw
//! value: run them before [`crate::text::clean`], which removes the soft hyphen U+00AD — in
//! TCVN3 that byte is the letter `ư`. [`from_unicode`] goes the other way, to make test data
//! that looks like an old database's.

mod tables;

use std::fmt;

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::text::{Plausibility, Tone, join_vowel, nfc, plausibility, split_vowel, upper_one};
use tables::{
    TCVN3, TCVN3_VN2_CAPITALS, TCVN3_VN2_TONES, Tcvn3Byte, VNI_LETTERS, VNI_MARKS, VniByte,
    VowelMark, byte_of, tcvn3_byte, vni_byte,
};

/// How a text value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Already Unicode (or plain ASCII, which reads the same in every encoding): use as is.
    Unicode,
    /// TCVN3 / ABC bytes read as Windows-1252 or Latin-1.
    Tcvn3,
    /// VNI-Windows bytes read as Windows-1252 or Latin-1.
    Vni,
    /// Non-ASCII text that reads as Vietnamese in none of the encodings (or equally well in both
    /// legacy ones): leave it as it is and flag it.
    Unknown,
}

impl Encoding {
    /// Stable lower-case name, for quality flags and provenance.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Unicode => "unicode",
            Encoding::Tcvn3 => "tcvn3",
            Encoding::Vni => "vni",
            Encoding::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value could not be converted from a legacy encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LegacyError {
    /// The text contains a character that no byte decodes to in Windows-1252 or Latin-1, so it is
    /// not legacy bytes read as text (most likely it is Unicode already).
    #[error(
        "character {ch:?} at byte offset {offset} is not a Windows-1252/Latin-1 byte, so the \
         text is not legacy-encoded"
    )]
    NotByteText { offset: usize, ch: char },

    /// A VNI mark byte follows nothing it can combine with (the value is damaged, or not VNI).
    #[error("VNI mark {ch:?} at byte offset {offset} follows no vowel it can combine with")]
    OrphanMark { offset: usize, ch: char },

    /// [`Encoding::Unknown`] was asked for: there is no table to convert from (or to).
    #[error("the encoding is unknown, so there is nothing to convert from")]
    UnknownEncoding,

    /// [`from_unicode`] met a character the target encoding cannot write (a letter of another
    /// language, a symbol whose byte means a Vietnamese letter there, any other script).
    #[error("character {ch:?} at byte offset {offset} cannot be written in {encoding}")]
    Unencodable {
        offset: usize,
        ch: char,
        encoding: Encoding,
    },
}

/// How `value` reads best: as Unicode, as TCVN3 or VNI mojibake, or as none of them.
///
/// The rules, in order:
/// 1. ASCII text is [`Encoding::Unicode`] (it reads the same in every encoding).
/// 2. Text containing any character that neither Windows-1252 nor Latin-1 produces from a byte
///    (`ễ`, `ư`, `Đ`...) is [`Encoding::Unicode`]: it cannot be legacy bytes.
/// 3. Otherwise every word that contains a non-ASCII character is read three ways (as it is, as
///    TCVN3, as VNI). Each reading scores +2 if it is a well-formed Vietnamese syllable
///    ([`crate::text::is_syllable`]) in usual letter case, +1 if it is one with odd case (`ThÕ`)
///    or with its tone mark on a vowel neither placement style uses (a slip in real text,
///    typical of a wrong reading), −2 otherwise. A legacy encoding wins only with a positive
///    score strictly above the Unicode reading's, so ties go to Unicode: ordinary Vietnamese in
///    Unicode is never converted. No positive score, or a tie between the two legacy readings,
///    gives [`Encoding::Unknown`].
///
/// One short value can be genuinely ambiguous: the TCVN3 bytes of `Vũ` read `Vò`, itself a
/// Vietnamese word, and this function then answers Unicode. To settle the encoding of a legacy
/// source, collect the evidence of many values with [`detect_many`].
///
/// ```
/// use lienthong_vietnamese::legacy::{detect, Encoding};
/// assert_eq!(detect("NguyÔn V¨n §øc"), Encoding::Tcvn3);
/// assert_eq!(detect("Nguyeãn Vaên Ñöùc"), Encoding::Vni);
/// assert_eq!(detect("Nguyễn Văn Đức"), Encoding::Unicode);
/// assert_eq!(detect("Lê Thị Hà"), Encoding::Unicode); // Latin-1 letters only, still Unicode
/// assert_eq!(detect("Nguyen Van Duc"), Encoding::Unicode);
/// assert_eq!(detect("25°C"), Encoding::Unknown);
/// ```
pub fn detect(value: &str) -> Encoding {
    detect_many([value])
}

/// One encoding for many values from the same source (a column, a table, a file), from the sum
/// of their evidence (see [`detect`] for the scoring).
///
/// Values that settle themselves are left out of the sum: ASCII values, and values with
/// characters no legacy byte decodes to. If only such values are present the answer is
/// [`Encoding::Unicode`]. This suits a source that is wholly legacy; for a partly converted
/// source, decide value by value with [`detect`], as [`to_unicode`] into a legacy encoding would
/// damage a Unicode value made only of Latin-1 letters (`Lê Hà`).
///
/// ```
/// use lienthong_vietnamese::legacy::{detect, detect_many, Encoding};
/// // "Vũ" alone reads as the Unicode word "vò"; the column as a whole is clearly TCVN3.
/// assert_eq!(detect("Vò"), Encoding::Unicode);
/// assert_eq!(detect_many(["Vò", "TrÇn", "Lª", "§Æng"]), Encoding::Tcvn3);
/// ```
pub fn detect_many<'a, I>(values: I) -> Encoding
where
    I: IntoIterator<Item = &'a str>,
{
    let mut evidence = Evidence::default();
    for value in values {
        if value.is_ascii() || value.chars().any(|c| byte_of(c).is_none()) {
            continue;
        }
        evidence.add(value);
    }
    evidence.decide()
}

/// Sum of the votes of every non-ASCII word under each reading.
#[derive(Debug, Default)]
struct Evidence {
    unicode: i64,
    tcvn3: i64,
    vni: i64,
}

/// A reading's vote for one word: +2 for a Vietnamese syllable, +1 for one with its tone mark
/// where neither style puts it or with odd letter case (`ThÕ`), −2 for anything else.
///
/// Letter case weighs because several TCVN3 bytes are Latin-1 capitals (`Õ` is `ế`): read as
/// Unicode, TCVN3 text shows capitals inside lower-case words.
fn vote(reading: Option<&str>) -> i8 {
    let Some(word) = reading else {
        return -2;
    };
    match plausibility(word) {
        Plausibility::Syllable if usual_case(word) => 2,
        Plausibility::Syllable | Plausibility::MisplacedTone => 1,
        Plausibility::NotASyllable => -2,
    }
}

/// Lower case, upper case, or one capital followed by lower case.
fn usual_case(word: &str) -> bool {
    let mut letters = word.chars().filter(|c| c.is_alphabetic());
    let Some(first) = letters.next() else {
        return true;
    };
    let rest: Vec<char> = letters.collect();
    rest.iter().all(|c| c.is_lowercase())
        || (first.is_uppercase() && rest.iter().all(|c| c.is_uppercase()))
}

/// The votes of one word under the three readings: (Unicode, TCVN3, VNI).
fn word_votes(word: &str) -> (i8, i8, i8) {
    let unicode = vote(Some(word));
    let tcvn3 = decode_tcvn3(word).map(|w| restore_capitals(&w));
    let tcvn3 = vote(tcvn3.ok().as_deref());
    let vni = vote(decode_vni(word).ok().as_deref());
    (unicode, tcvn3, vni)
}

/// Words already voted on, by this thread. Reading a word three ways costs some microseconds,
/// and the words that need it — names and places spelt only with Latin-1 letters (`Lê`,
/// `Hoàng`, `Bùi`, `Hà`) — come back record after record. Bounded: emptied when full.
struct VoteMemo(FxHashMap<Box<str>, (i8, i8, i8)>);

impl VoteMemo {
    const CAPACITY: usize = 4096;
    /// Longer words (no syllable is) are voted on each time rather than kept.
    const LONGEST: usize = 32;

    fn votes(&mut self, word: &str) -> (i8, i8, i8) {
        if word.len() > Self::LONGEST {
            return word_votes(word);
        }
        if let Some(&votes) = self.0.get(word) {
            return votes;
        }
        let votes = word_votes(word);
        if self.0.len() >= Self::CAPACITY {
            self.0.clear();
        }
        self.0.insert(word.into(), votes);
        votes
    }
}

thread_local! {
    static VOTES: std::cell::RefCell<VoteMemo> =
        std::cell::RefCell::new(VoteMemo(FxHashMap::default()));
}

impl Evidence {
    fn add(&mut self, value: &str) {
        for word in words(value).filter(|w| !w.is_ascii()) {
            let (unicode, tcvn3, vni) = VOTES.with(|memo| match memo.try_borrow_mut() {
                Ok(mut memo) => memo.votes(word),
                // Not reachable (nothing in `word_votes` comes back here); never worth a panic.
                Err(_) => word_votes(word),
            });
            self.unicode += i64::from(unicode);
            self.tcvn3 += i64::from(tcvn3);
            self.vni += i64::from(vni);
        }
    }

    fn decide(&self) -> Encoding {
        let legacy = self.tcvn3.max(self.vni);
        if self.unicode >= legacy {
            // No evidence at all means every value settled itself as Unicode.
            if self.unicode > 0 || self.is_empty() {
                Encoding::Unicode
            } else {
                Encoding::Unknown
            }
        } else if legacy <= 0 || self.tcvn3 == self.vni {
            Encoding::Unknown
        } else if self.tcvn3 > self.vni {
            Encoding::Tcvn3
        } else {
            Encoding::Vni
        }
    }

    fn is_empty(&self) -> bool {
        (self.unicode, self.tcvn3, self.vni) == (0, 0, 0)
    }
}

/// The words of a value as the detector sees them: runs of ASCII letters and non-ASCII
/// characters, split at white space and at ASCII digits and punctuation. Those separators mean
/// the same in every reading; the legacy encodings put letters only in bytes above 0x7F.
fn words(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || (c.is_ascii() && !c.is_ascii_alphabetic()))
        .filter(|w| !w.is_empty())
}

/// Converts `value` from `from` to Unicode (NFC).
///
/// - [`Encoding::Unicode`]: the value in NFC.
/// - [`Encoding::Tcvn3`]: byte by byte through the TCVN3 table. The VN2 additions that VN3
///   leaves unassigned are decoded too (capitals with tone; combining tone marks, applied only
///   right after a vowel). Bytes with no Vietnamese meaning (`°`, `€`) stay as they are.
///   Capitals with tone are restored where the case is clear, because TCVN3 text in capitals was
///   typed as lower-case bytes in an all-capital font: a word with at least two capitals and no
///   unambiguous lower-case letter is upper-cased (`NGUYÔN` → `NGUYỄN`), and so is every word
///   when the whole value has no unambiguous lower-case letter (`Vâ V¡N` → `VÕ VĂN`). A capital
///   with tone at the start of a mixed-case word cannot be told from its lower-case letter and
///   stays lower case (`¸nh` → `ánh`); [`crate::text::title_case_name`] fixes names for display.
/// - [`Encoding::Vni`]: base letters combine with the mark bytes that follow them. A mark byte
///   with no letter to combine with is an error, as it means the value is not VNI or is damaged.
/// - [`Encoding::Unknown`]: an error.
///
/// Any encoding but Unicode fails on characters that no Windows-1252/Latin-1 byte gives.
///
/// ```
/// use lienthong_vietnamese::legacy::{to_unicode, Encoding, LegacyError};
/// assert_eq!(to_unicode("NguyÔn V¨n §øc", Encoding::Tcvn3)?, "Nguyễn Văn Đức");
/// assert_eq!(to_unicode("NGUYÔN V¡N §øC", Encoding::Tcvn3)?, "NGUYỄN VĂN ĐỨC");
/// assert_eq!(to_unicode("Nguyeãn Vaên Ñöùc", Encoding::Vni)?, "Nguyễn Văn Đức");
/// assert_eq!(
///     to_unicode("Nguyễn", Encoding::Vni),
///     Err(LegacyError::NotByteText { offset: 4, ch: 'ễ' })
/// );
/// # Ok::<(), LegacyError>(())
/// ```
pub fn to_unicode(value: &str, from: Encoding) -> Result<String, LegacyError> {
    let decoded = match from {
        Encoding::Unicode => return Ok(nfc(value).into_owned()),
        Encoding::Tcvn3 => restore_capitals(&decode_tcvn3(value)?),
        Encoding::Vni => decode_vni(value)?,
        Encoding::Unknown => return Err(LegacyError::UnknownEncoding),
    };
    Ok(nfc(&decoded).into_owned())
}

/// Converts Unicode text to `to`, returned the way a legacy database column holds it: the
/// encoding's bytes read back as Latin-1 text (`Nguyễn Văn Đức` → `NguyÔn V¨n §øc` in TCVN3,
/// `Nguyeãn Vaên Ñöùc` in VNI). The value is first put in NFC; error offsets are byte offsets
/// into that form, which is the value itself when it was NFC already.
///
/// - [`Encoding::Unicode`]: the value in NFC.
/// - [`Encoding::Tcvn3`]: one byte per letter. Capitals with a tone do not exist in VN3, so they
///   are written as VN2 writes them: the precomposed VN2 capital where there is one (`Ễ`), else
///   the capital without tone followed by VN2's combining tone byte (`Á` = `A` + `³`). This keeps
///   the case that plain VN3 data loses (`¸nh` reads back as `ánh`).
/// - [`Encoding::Vni`]: one-byte letters as such, other letters as base letter + mark byte, the
///   mark byte in the case of the letter (`ễ` = `e` + `ã`, `Ễ` = `E` + `Ã`).
/// - [`Encoding::Unknown`]: an error.
///
/// ASCII is written as it is. Other characters are written as their own byte when that byte
/// means nothing in the encoding (`€` in both, `°` in VNI), and are an error otherwise
/// ([`LegacyError::Unencodable`]: `ñ` is VNI's `đ`, `°` is a TCVN3 tone mark, `ü` is a VNI mark
/// and a TCVN3 letter; scripts beyond Latin-1 have no byte at all).
///
/// [`to_unicode`] reads the result back to the NFC value: in VNI always; in TCVN3 for text in
/// one casing (lower case, every word capitalised, or capitals), which names and records are.
/// TCVN3 text that mixes casings can come back with more capitals, because the decoder takes a
/// word with no unambiguous lower-case letter in a value otherwise in capitals, or a word with
/// two capitals and no unambiguous lower-case letter, to be typed in capitals (`THAI Bỳ` →
/// `THAI BỲ`, `ĐĂà` → `ĐĂÀ`).
///
/// ```
/// use lienthong_vietnamese::legacy::{from_unicode, to_unicode, Encoding, LegacyError};
/// let tcvn3 = from_unicode("Nguyễn Văn Đức", Encoding::Tcvn3)?;
/// assert_eq!(tcvn3, "NguyÔn V¨n §øc");
/// assert_eq!(to_unicode(&tcvn3, Encoding::Tcvn3)?, "Nguyễn Văn Đức");
/// assert_eq!(from_unicode("Nguyễn Văn Đức", Encoding::Vni)?, "Nguyeãn Vaên Ñöùc");
/// assert_eq!(from_unicode("Ánh", Encoding::Tcvn3)?, "A\u{00B3}nh");
/// assert_eq!(
///     from_unicode("Muñoz", Encoding::Vni),
///     Err(LegacyError::Unencodable { offset: 2, ch: 'ñ', encoding: Encoding::Vni })
/// );
/// # Ok::<(), LegacyError>(())
/// ```
pub fn from_unicode(value: &str, to: Encoding) -> Result<String, LegacyError> {
    let value = nfc(value);
    match to {
        Encoding::Unicode => Ok(value.into_owned()),
        Encoding::Tcvn3 => encode_tcvn3(&value),
        Encoding::Vni => encode_vni(&value),
        Encoding::Unknown => Err(LegacyError::UnknownEncoding),
    }
}

/// Every character TCVN3 writes as one byte above 0x7F (VN3 letters, NBSP, VN2 capitals).
static TCVN3_OF_CHAR: LazyLock<FxHashMap<char, u8>> = LazyLock::new(|| {
    TCVN3
        .iter()
        .chain(TCVN3_VN2_CAPITALS.iter())
        .map(|(byte, letter)| (*letter, *byte))
        .collect()
});

/// The character a byte of 0xA0 and above reads as: Latin-1 and Windows-1252 agree there, and
/// every byte the encoders write is in that range.
fn high_byte_char(byte: u8) -> char {
    char::from(byte)
}

/// `ch`, which has no letter meaning in the target encoding, written as its own byte when that
/// byte means nothing there either (so the decoder passes it through).
fn passes_through(ch: char, meaningless: impl Fn(u8) -> bool) -> bool {
    byte_of(ch).is_some_and(meaningless)
}

fn encode_tcvn3(value: &str) -> Result<String, LegacyError> {
    let mut out = String::with_capacity(value.len());
    for (offset, ch) in value.char_indices() {
        if ch.is_ascii() {
            out.push(ch);
        } else if let Some(byte) = TCVN3_OF_CHAR.get(&ch) {
            out.push(high_byte_char(*byte));
        } else if let Some((base, tone)) = split_vowel(ch)
            && let Some(&(tone_byte, _)) = TCVN3_VN2_TONES.iter().find(|(_, t)| *t == tone)
            && let Some(base_char) = tcvn3_toneless(base)
        {
            // A capital with tone and no precomposed VN2 byte: the lower-case letters all have
            // one, so only capitals get here.
            out.push(base_char);
            out.push(high_byte_char(tone_byte));
        } else if passes_through(ch, |b| tcvn3_byte(b).is_none()) {
            out.push(ch);
        } else {
            return Err(LegacyError::Unencodable {
                offset,
                ch,
                encoding: Encoding::Tcvn3,
            });
        }
    }
    Ok(out)
}

/// How TCVN3 writes a vowel letter without tone: ASCII as is, the others by their byte.
fn tcvn3_toneless(base: char) -> Option<char> {
    if base.is_ascii() {
        Some(base)
    } else {
        TCVN3_OF_CHAR.get(&base).map(|b| high_byte_char(*b))
    }
}

fn encode_vni(value: &str) -> Result<String, LegacyError> {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    for (offset, ch) in value.char_indices() {
        if ch.is_ascii() {
            out.push(ch);
            continue;
        }
        let upper = ch.is_uppercase();
        let in_case =
            |lower: u8, upper_byte: u8| high_byte_char(if upper { upper_byte } else { lower });
        if let Some(&(lower, upper_byte, _)) = VNI_LETTERS
            .iter()
            .find(|(_, _, letter)| *letter == ch || upper_one(*letter) == ch)
        {
            out.push(in_case(lower, upper_byte));
            continue;
        }
        let unencodable = LegacyError::Unencodable {
            offset,
            ch,
            encoding: Encoding::Vni,
        };
        let Some((base, tone)) = split_vowel(ch) else {
            if passes_through(ch, |b| vni_byte(b).is_none()) {
                out.push(ch);
                continue;
            }
            return Err(unencodable);
        };
        let lower_base = base.to_lowercase().next().unwrap_or(base);
        let (plain, mark) = match lower_base {
            'â' => ('a', VowelMark::Circumflex),
            'ê' => ('e', VowelMark::Circumflex),
            'ô' => ('o', VowelMark::Circumflex),
            'ă' => ('a', VowelMark::Breve),
            other => (other, VowelMark::None),
        };
        if plain.is_ascii() {
            out.push(if upper {
                plain.to_ascii_uppercase()
            } else {
                plain
            });
        } else {
            // ơ and ư: one-byte letters, the tone follows as a mark.
            let Some(&(lower, upper_byte, _)) =
                VNI_LETTERS.iter().find(|(_, _, letter)| *letter == plain)
            else {
                return Err(unencodable);
            };
            out.push(in_case(lower, upper_byte));
        }
        if (mark, tone) != (VowelMark::None, Tone::Level) {
            let Some(&(lower, upper_byte, _, _)) = VNI_MARKS
                .iter()
                .find(|(_, _, m, t)| (*m, *t) == (mark, tone))
            else {
                return Err(unencodable);
            };
            out.push(in_case(lower, upper_byte));
        }
    }
    Ok(out)
}

/// The byte a character of `value` stands for.
fn byte_at(offset: usize, ch: char) -> Result<u8, LegacyError> {
    byte_of(ch).ok_or(LegacyError::NotByteText { offset, ch })
}

/// TCVN3 bytes to letters, without restoring capitals.
fn decode_tcvn3(value: &str) -> Result<String, LegacyError> {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    for (offset, ch) in value.char_indices() {
        let byte = byte_at(offset, ch)?;
        if byte.is_ascii() {
            out.push(ch);
            continue;
        }
        match tcvn3_byte(byte) {
            Some(Tcvn3Byte::Letter(letter)) => out.push(letter),
            Some(Tcvn3Byte::Tone(tone)) => {
                let toned = out
                    .chars()
                    .next_back()
                    .and_then(|last| match split_vowel(last) {
                        Some((base, Tone::Level)) => join_vowel(base, tone),
                        _ => None,
                    });
                match toned {
                    Some(letter) => {
                        out.pop();
                        out.push(letter);
                    }
                    None => out.push(ch),
                }
            }
            None => out.push(ch),
        }
    }
    Ok(out)
}

/// A lower-case vowel with a tone: in TCVN3 output it may stand for a capital drawn by an
/// all-capital font. Every other lower-case letter is unambiguously lower case, because TCVN3 has
/// capitals for it.
fn ambiguous_case(c: char) -> bool {
    c.is_lowercase() && split_vowel(c).is_some_and(|(_, tone)| tone != Tone::Level)
}

/// Upper-cases the ambiguous letters of words written in capitals (see [`to_unicode`]).
fn restore_capitals(text: &str) -> String {
    let word_ranges: Vec<(usize, usize)> = {
        let mut ranges = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_alphabetic(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    ranges.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            ranges.push((s, text.len()));
        }
        ranges
    };
    // Per word: (capitals, unambiguous lower-case letters, has an ambiguous letter).
    let all_words: Vec<(usize, usize, bool)> = word_ranges
        .iter()
        .map(|&(start, end)| {
            let word = &text[start..end];
            let upper = word.chars().filter(|c| c.is_uppercase()).count();
            let definite_lower = word
                .chars()
                .filter(|c| c.is_lowercase() && !ambiguous_case(*c))
                .count();
            (upper, definite_lower, word.chars().any(ambiguous_case))
        })
        .collect();
    let text_in_capitals = all_words.iter().all(|(_, lower, _)| *lower == 0)
        && all_words.iter().any(|(upper, _, _)| *upper >= 2);

    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (&(start, end), &(upper, definite_lower, ambiguous)) in word_ranges.iter().zip(&all_words) {
        out.push_str(&text[last..start]);
        let word = &text[start..end];
        if ambiguous && (text_in_capitals || (definite_lower == 0 && upper >= 2)) {
            out.extend(word.chars().map(upper_one));
        } else {
            out.push_str(word);
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// VNI bytes to letters.
fn decode_vni(value: &str) -> Result<String, LegacyError> {
    let mut out = String::with_capacity(value.len());
    for (offset, ch) in value.char_indices() {
        let byte = byte_at(offset, ch)?;
        if byte.is_ascii() {
            out.push(ch);
            continue;
        }
        match vni_byte(byte) {
            Some(VniByte::Letter(letter)) => out.push(letter),
            Some(VniByte::Mark(mark, tone)) => {
                let marked = out.pop().and_then(|last| apply_vni_mark(last, mark, tone));
                match marked {
                    Some(letter) => out.push(letter),
                    None => return Err(LegacyError::OrphanMark { offset, ch }),
                }
            }
            None => out.push(ch),
        }
    }
    Ok(out)
}

/// `letter` with a VNI mark's vowel diacritic and tone added, `None` if they do not fit (a
/// consonant, a second tone, a circumflex on `u`...). Marks one after another are accepted too
/// (`a` + `â` + `ù` = `ấ`, the same letter as `a` + `á`): they are unambiguous.
fn apply_vni_mark(letter: char, mark: VowelMark, tone: Tone) -> Option<char> {
    let (base, current) = split_vowel(letter)?;
    let base = match (mark, base) {
        (VowelMark::None, base) => base,
        (VowelMark::Circumflex, 'a') => 'â',
        (VowelMark::Circumflex, 'e') => 'ê',
        (VowelMark::Circumflex, 'o') => 'ô',
        (VowelMark::Circumflex, 'A') => 'Â',
        (VowelMark::Circumflex, 'E') => 'Ê',
        (VowelMark::Circumflex, 'O') => 'Ô',
        (VowelMark::Breve, 'a') => 'ă',
        (VowelMark::Breve, 'A') => 'Ă',
        _ => return None,
    };
    let tone = match (current, tone) {
        (current, Tone::Level) => current,
        (Tone::Level, new) => new,
        _ => return None,
    };
    join_vowel(base, tone)
}

#[cfg(test)]
mod tests;
