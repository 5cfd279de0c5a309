//! Character tables of the two legacy encodings, and the byte view of text that was decoded as
//! Windows-1252 or Latin-1.
//!
//! Sources, cross-checked against each other (all agree on every entry used here):
//! - TCVN 5712:1993: GNU libiconv `lib/tcvn.h` (full VN1 table); Unikey `tables/singlebyte/tcvn3.cpp`
//!   (as in ibus-unikey); bogoengine `charset.hpp`; npm `vietnamese-conversion` `src/charsets.ts`.
//!   The split into VN3 (VSCII-3) and the VN2 (VSCII-2) additions follows the standard's own
//!   description as summarised in the Wikipedia article "VSCII": VN3 adds 67 lower-case letters,
//!   7 upper-case letters without tone and NBSP to ASCII; VN2 adds the upper-case letters with
//!   tone that fit in 0xA0–0xFF and the five combining tone marks.
//! - VNI-Windows: Unikey `tables/doublebytes/vni_win.cpp`; npm `vietnamese-conversion`.

use std::sync::LazyLock;

use crate::text::Tone;

/// Bytes 0x80–0x9F as Windows-1252 decodes them. The other bytes of Windows-1252 are the Latin-1
/// code points; the five undefined bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) come through decoders as
/// the C1 control characters of the same value, which Latin-1 also gives.
const CP1252_HIGH: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// The byte a character stands for when legacy bytes were decoded as Windows-1252 or Latin-1;
/// `None` for characters neither decoding produces (which proves the text is real Unicode).
pub(crate) fn byte_of(c: char) -> Option<u8> {
    match u8::try_from(u32::from(c)) {
        Ok(byte) => Some(byte),
        Err(_) => CP1252_HIGH.iter().find(|(ch, _)| *ch == c).map(|(_, b)| *b),
    }
}

/// The character Windows-1252 decodes `byte` to (Latin-1 for the bytes Windows-1252 leaves
/// undefined). Inverse of [`byte_of`] on bytes.
#[cfg(test)]
pub(crate) fn char_of(byte: u8) -> char {
    CP1252_HIGH
        .iter()
        .find(|(_, b)| *b == byte)
        .map_or(char::from(byte), |(c, _)| *c)
}

/// TCVN3 (TCVN 5712:1993 VN3, "ABC"): every byte above 0x7F it assigns. 0xA1–0xA7 are the seven
/// capitals without tone; the capitals with tone do not exist in VN3 (an all-capital font
/// draws the lower-case bytes as capitals).
pub(crate) const TCVN3: [(u8, char); 75] = [
    (0xA0, '\u{00A0}'),
    (0xA1, 'Ă'),
    (0xA2, 'Â'),
    (0xA3, 'Ê'),
    (0xA4, 'Ô'),
    (0xA5, 'Ơ'),
    (0xA6, 'Ư'),
    (0xA7, 'Đ'),
    (0xA8, 'ă'),
    (0xA9, 'â'),
    (0xAA, 'ê'),
    (0xAB, 'ô'),
    (0xAC, 'ơ'),
    (0xAD, 'ư'),
    (0xAE, 'đ'),
    (0xB5, 'à'),
    (0xB6, 'ả'),
    (0xB7, 'ã'),
    (0xB8, 'á'),
    (0xB9, 'ạ'),
    (0xBB, 'ằ'),
    (0xBC, 'ẳ'),
    (0xBD, 'ẵ'),
    (0xBE, 'ắ'),
    (0xC6, 'ặ'),
    (0xC7, 'ầ'),
    (0xC8, 'ẩ'),
    (0xC9, 'ẫ'),
    (0xCA, 'ấ'),
    (0xCB, 'ậ'),
    (0xCC, 'è'),
    (0xCE, 'ẻ'),
    (0xCF, 'ẽ'),
    (0xD0, 'é'),
    (0xD1, 'ẹ'),
    (0xD2, 'ề'),
    (0xD3, 'ể'),
    (0xD4, 'ễ'),
    (0xD5, 'ế'),
    (0xD6, 'ệ'),
    (0xD7, 'ì'),
    (0xD8, 'ỉ'),
    (0xDC, 'ĩ'),
    (0xDD, 'í'),
    (0xDE, 'ị'),
    (0xDF, 'ò'),
    (0xE1, 'ỏ'),
    (0xE2, 'õ'),
    (0xE3, 'ó'),
    (0xE4, 'ọ'),
    (0xE5, 'ồ'),
    (0xE6, 'ổ'),
    (0xE7, 'ỗ'),
    (0xE8, 'ố'),
    (0xE9, 'ộ'),
    (0xEA, 'ờ'),
    (0xEB, 'ở'),
    (0xEC, 'ỡ'),
    (0xED, 'ớ'),
    (0xEE, 'ợ'),
    (0xEF, 'ù'),
    (0xF1, 'ủ'),
    (0xF2, 'ũ'),
    (0xF3, 'ú'),
    (0xF4, 'ụ'),
    (0xF5, 'ừ'),
    (0xF6, 'ử'),
    (0xF7, 'ữ'),
    (0xF8, 'ứ'),
    (0xF9, 'ự'),
    (0xFA, 'ỳ'),
    (0xFB, 'ỷ'),
    (0xFC, 'ỹ'),
    (0xFD, 'ý'),
    (0xFE, 'ỵ'),
];

/// The capitals with tone that VN2 (TCVN 5712:1993 VN2) places in positions VN3 leaves
/// unassigned. Decoding them cannot misread VN3 text, and it recovers capitals from VN2 sources.
pub(crate) const TCVN3_VN2_CAPITALS: [(u8, char); 16] = [
    (0xAF, 'Ằ'),
    (0xBA, 'Ẳ'),
    (0xBF, 'Ẵ'),
    (0xC0, 'Ắ'),
    (0xC1, 'Ầ'),
    (0xC2, 'Ẩ'),
    (0xC3, 'Ẫ'),
    (0xC4, 'Ấ'),
    (0xC5, 'Ề'),
    (0xCD, 'Ể'),
    (0xD9, 'Ễ'),
    (0xDA, 'Ế'),
    (0xDB, 'Ồ'),
    (0xE0, 'Ổ'),
    (0xF0, 'Ỗ'),
    (0xFF, 'Ố'),
];

/// The combining tone marks of VN2 (0xB0–0xB4). VN3 leaves these bytes unassigned and fonts
/// show the Latin-1 symbols there (`°`, `±`, `²`, `³`, `´`), so a decoder applies them only
/// right after a vowel they can combine with.
pub(crate) const TCVN3_VN2_TONES: [(u8, Tone); 5] = [
    (0xB0, Tone::Grave),
    (0xB1, Tone::Hook),
    (0xB2, Tone::Tilde),
    (0xB3, Tone::Acute),
    (0xB4, Tone::Dot),
];

/// The vowel diacritic a VNI mark byte adds, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VowelMark {
    None,
    Circumflex,
    Breve,
}

/// VNI-Windows letters written as one byte: `i` with a tone, `ơ`, `ư`, `đ` and `ỵ` (lower case,
/// upper case).
pub(crate) const VNI_LETTERS: [(u8, u8, char); 9] = [
    (0xED, 0xCD, 'í'),
    (0xEC, 0xCC, 'ì'),
    (0xE6, 0xC6, 'ỉ'),
    (0xF3, 0xD3, 'ĩ'),
    (0xF2, 0xD2, 'ị'),
    (0xF4, 0xD4, 'ơ'),
    (0xF6, 0xD6, 'ư'),
    (0xF1, 0xD1, 'đ'),
    (0xEE, 0xCE, 'ỵ'),
];

/// VNI-Windows mark bytes, written after the base letter: (lower-case byte, upper-case byte,
/// vowel diacritic, tone). The upper-case bytes are drawn for capital base letters; which of the
/// two follows a letter does not change the letter.
pub(crate) const VNI_MARKS: [(u8, u8, VowelMark, Tone); 17] = [
    (0xF9, 0xD9, VowelMark::None, Tone::Acute),
    (0xF8, 0xD8, VowelMark::None, Tone::Grave),
    (0xFB, 0xDB, VowelMark::None, Tone::Hook),
    (0xF5, 0xD5, VowelMark::None, Tone::Tilde),
    (0xEF, 0xCF, VowelMark::None, Tone::Dot),
    (0xE2, 0xC2, VowelMark::Circumflex, Tone::Level),
    (0xE1, 0xC1, VowelMark::Circumflex, Tone::Acute),
    (0xE0, 0xC0, VowelMark::Circumflex, Tone::Grave),
    (0xE5, 0xC5, VowelMark::Circumflex, Tone::Hook),
    (0xE3, 0xC3, VowelMark::Circumflex, Tone::Tilde),
    (0xE4, 0xC4, VowelMark::Circumflex, Tone::Dot),
    (0xEA, 0xCA, VowelMark::Breve, Tone::Level),
    (0xE9, 0xC9, VowelMark::Breve, Tone::Acute),
    (0xE8, 0xC8, VowelMark::Breve, Tone::Grave),
    (0xFA, 0xDA, VowelMark::Breve, Tone::Hook),
    (0xFC, 0xDC, VowelMark::Breve, Tone::Tilde),
    (0xEB, 0xCB, VowelMark::Breve, Tone::Dot),
];

/// What a TCVN3 byte above 0x7F means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tcvn3Byte {
    Letter(char),
    Tone(Tone),
}

/// The meaning of every byte in TCVN3 (with the VN2 additions), indexed by byte.
static TCVN3_BYTES: LazyLock<[Option<Tcvn3Byte>; 256]> = LazyLock::new(|| {
    let mut table = [None; 256];
    for (byte, letter) in TCVN3.iter().chain(TCVN3_VN2_CAPITALS.iter()) {
        table[usize::from(*byte)] = Some(Tcvn3Byte::Letter(*letter));
    }
    for (byte, tone) in TCVN3_VN2_TONES {
        table[usize::from(byte)] = Some(Tcvn3Byte::Tone(tone));
    }
    table
});

pub(crate) fn tcvn3_byte(byte: u8) -> Option<Tcvn3Byte> {
    TCVN3_BYTES[usize::from(byte)]
}

/// What a VNI-Windows byte above 0x7F means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VniByte {
    Letter(char),
    Mark(VowelMark, Tone),
}

/// The meaning of every byte in VNI-Windows, indexed by byte.
static VNI_BYTES: LazyLock<[Option<VniByte>; 256]> = LazyLock::new(|| {
    let mut table = [None; 256];
    for (lower, upper, letter) in VNI_LETTERS {
        table[usize::from(lower)] = Some(VniByte::Letter(letter));
        table[usize::from(upper)] = Some(VniByte::Letter(crate::text::upper_one(letter)));
    }
    for (lower, upper, mark, tone) in VNI_MARKS {
        table[usize::from(lower)] = Some(VniByte::Mark(mark, tone));
        table[usize::from(upper)] = Some(VniByte::Mark(mark, tone));
    }
    table
});

pub(crate) fn vni_byte(byte: u8) -> Option<VniByte> {
    VNI_BYTES[usize::from(byte)]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn byte_view_round_trips_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(byte_of(char_of(b)), Some(b));
        }
        assert_eq!(byte_of('ệ'), None);
        assert_eq!(byte_of('\u{0081}'), Some(0x81));
    }

    #[test]
    fn tcvn3_tables_have_the_published_sizes_and_no_clashes() {
        // VN3: 67 lower-case letters, 7 capitals, NBSP.
        let lower = TCVN3.iter().filter(|(_, c)| c.is_lowercase()).count();
        let upper = TCVN3.iter().filter(|(_, c)| c.is_uppercase()).count();
        assert_eq!((lower, upper), (67, 7));
        let mut bytes = HashSet::new();
        for b in TCVN3
            .iter()
            .map(|(b, _)| *b)
            .chain(TCVN3_VN2_CAPITALS.iter().map(|(b, _)| *b))
            .chain(TCVN3_VN2_TONES.iter().map(|(b, _)| *b))
        {
            assert!(b >= 0xA0);
            assert!(bytes.insert(b), "byte {b:#x} assigned twice");
        }
        // VN2 fills 0xA0–0xFF completely.
        assert_eq!(bytes.len(), 96);
        let letters: HashSet<char> = TCVN3.iter().map(|(_, c)| *c).collect();
        assert_eq!(letters.len(), 75);
    }

    #[test]
    fn vni_tables_have_no_clashes() {
        let mut bytes = HashSet::new();
        for (lower, upper, _) in VNI_LETTERS {
            assert!(bytes.insert(lower) && bytes.insert(upper));
        }
        for (lower, upper, _, _) in VNI_MARKS {
            assert!(bytes.insert(lower) && bytes.insert(upper));
            assert_eq!(
                lower - upper,
                0x20,
                "upper-case byte is the lower-case one minus 0x20"
            );
        }
        assert_eq!(bytes.len(), 52);
    }
}
