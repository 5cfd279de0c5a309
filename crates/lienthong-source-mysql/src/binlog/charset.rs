//! Character sets of text values, by collation id, and their conversion to Rust strings.
//!
//! The binlog carries string values as the bytes stored in the table, and names their encoding by
//! *collation id* (the table map's charset metadata, a query's `character_set_client`). This
//! module maps the ids of the character sets lienthong's sources use to a [`Charset`] and decodes
//! bytes in them.
//!
//! **latin1 is not ISO-8859-1.** MySQL's and MariaDB's `latin1` is Windows-1252 (cp1252): bytes
//! 0x80–0x9F are `€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ`, and the five bytes
//! cp1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 controls of the same
//! number. Every one of the 256 bytes therefore maps to a distinct character, so
//! [`encode_latin1`] gives back exactly the bytes [`decode_text`] was given. That matters here:
//! old Vietnamese applications stored TCVN3 (ABC), VNI or even UTF-8 bytes in latin1 columns
//! through a latin1 connection; the server kept the bytes as they came, and the translator must
//! get those same bytes back to decode the legacy encoding.

use std::fmt;

/// Collation id of the `binary` character set (BLOB, BINARY, VARBINARY columns).
pub const BINARY_COLLATION: u16 = 63;

/// A character set this module can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// MySQL's `utf8` before 8.0 / `utf8mb3`: UTF-8 limited to the Basic Multilingual Plane.
    Utf8mb3,
    /// Full UTF-8.
    Utf8mb4,
    /// MySQL's `latin1`, which is Windows-1252 (see the module documentation).
    Latin1,
    /// US-ASCII (7-bit).
    Ascii,
    /// Bytes with no character meaning.
    Binary,
}

impl Charset {
    /// The character set's name as the server spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8mb3 => "utf8mb3",
            Self::Utf8mb4 => "utf8mb4",
            Self::Latin1 => "latin1",
            Self::Ascii => "ascii",
            Self::Binary => "binary",
        }
    }
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The character set of a collation id, for the character sets this module decodes; `None` for
/// any other (cp1251, gbk, ...) or an id no server assigns.
///
/// Ids are those of MariaDB 10.11 (checked against its
/// `information_schema.COLLATION_CHARACTER_SET_APPLICABILITY`, including the `nopad` collations
/// at 1024 + n and the UCA 14.0 collations from 2048) and MySQL 8 (the `_0900_` collations,
/// 255–323, and `utf8mb3_tolower_ci`, 76).
pub fn charset_of_collation(collation: u16) -> Option<Charset> {
    match collation {
        BINARY_COLLATION => Some(Charset::Binary),
        5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 | 1032 | 1071 => Some(Charset::Latin1),
        11 | 65 | 1035 | 1089 => Some(Charset::Ascii),
        33 | 76 | 83 | 192..=215 | 223 | 576..=578 | 1057 | 1107 | 1216 | 1238 => {
            Some(Charset::Utf8mb3)
        }
        45 | 46 | 224..=247 | 255..=323 | 608..=610 | 1069 | 1070 | 1248 | 1270 => {
            Some(Charset::Utf8mb4)
        }
        // MariaDB 10.10+: UCA 14.0 collations, ids 2048 + 256 × charset slot + variant. Slot 0
        // is utf8mb3, slot 1 utf8mb4 (the slots for ucs2/utf16/utf32 are not decoded here).
        2048..=2303 => Some(Charset::Utf8mb3),
        2304..=2559 => Some(Charset::Utf8mb4),
        _ => None,
    }
}

/// Why bytes could not be turned into a string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("collation id {collation} is not of a character set this decoder knows")]
    UnknownCollation { collation: u16 },

    #[error(
        "the column's collation is not known: give it as a column fact, or set \
         binlog_row_metadata=MINIMAL or FULL on the server"
    )]
    CollationUnknown,

    #[error("the bytes are in the binary character set, which has no text meaning")]
    Binary,

    #[error("{charset} text is not valid UTF-8 (valid up to byte {valid_up_to})")]
    InvalidUtf8 {
        charset: Charset,
        valid_up_to: usize,
    },

    #[error("utf8mb3 text holds a 4-byte character at byte {offset}, which utf8mb3 cannot store")]
    Utf8mb3Supplementary { offset: usize },

    #[error("ascii text has byte {byte:#04x} at offset {offset}, outside 7-bit ASCII")]
    NotAscii { offset: usize, byte: u8 },

    #[error("character {character:?} has no latin1 (cp1252) encoding")]
    NotLatin1 { character: char },
}

/// Decodes text stored in the character set of `collation` (a collation id).
///
/// utf8mb3/utf8mb4 must be valid UTF-8 (and utf8mb3 free of 4-byte sequences); ascii must be
/// 7-bit; latin1 always decodes (cp1252, see the module documentation) and round-trips through
/// [`encode_latin1`]. Binary bytes are refused ([`TextError::Binary`]): they are not text, and a
/// caller that wants them as text must choose the encoding itself.
pub fn decode_text(bytes: &[u8], collation: u16) -> Result<String, TextError> {
    let charset =
        charset_of_collation(collation).ok_or(TextError::UnknownCollation { collation })?;
    decode_in(bytes, charset)
}

/// Decodes text in a known [`Charset`]; see [`decode_text`].
pub fn decode_in(bytes: &[u8], charset: Charset) -> Result<String, TextError> {
    match charset {
        Charset::Utf8mb4 => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|error| TextError::InvalidUtf8 {
                charset,
                valid_up_to: error.valid_up_to(),
            }),
        Charset::Utf8mb3 => {
            let text = std::str::from_utf8(bytes).map_err(|error| TextError::InvalidUtf8 {
                charset,
                valid_up_to: error.valid_up_to(),
            })?;
            match text.char_indices().find(|(_, c)| c.len_utf8() == 4) {
                Some((offset, _)) => Err(TextError::Utf8mb3Supplementary { offset }),
                None => Ok(text.to_owned()),
            }
        }
        Charset::Ascii => match bytes.iter().position(|byte| !byte.is_ascii()) {
            Some(offset) => Err(TextError::NotAscii {
                offset,
                byte: bytes[offset],
            }),
            None => Ok(bytes.iter().map(|&byte| char::from(byte)).collect()),
        },
        Charset::Latin1 => Ok(bytes.iter().map(|&byte| latin1_char(byte)).collect()),
        Charset::Binary => Err(TextError::Binary),
    }
}

/// Encodes a string in MySQL's latin1 (cp1252): the inverse of decoding latin1 with
/// [`decode_text`], byte for byte.
pub fn encode_latin1(text: &str) -> Result<Vec<u8>, TextError> {
    text.chars()
        .map(|character| latin1_byte(character).ok_or(TextError::NotLatin1 { character }))
        .collect()
}

/// cp1252's characters for bytes 0x80–0x9F; the five bytes cp1252 leaves undefined keep their
/// C1 control, as MySQL's latin1 does.
const LATIN1_0X80_TO_0X9F: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn latin1_char(byte: u8) -> char {
    match byte {
        0x80..=0x9F => LATIN1_0X80_TO_0X9F[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

fn latin1_byte(character: char) -> Option<u8> {
    let code = u32::from(character);
    match code {
        0x00..=0x7F | 0xA0..=0xFF => u8::try_from(code).ok(),
        _ => LATIN1_0X80_TO_0X9F
            .iter()
            .position(|&c| c == character)
            .and_then(|index| u8::try_from(0x80 + index).ok()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LATIN1_SWEDISH_CI: u16 = 8;
    const UTF8MB4_GENERAL_CI: u16 = 45;
    const UTF8MB3_GENERAL_CI: u16 = 33;
    const ASCII_GENERAL_CI: u16 = 11;

    #[test]
    fn latin1_is_cp1252() {
        assert_eq!(
            decode_text(&[0x80, 0x93, 0x94, 0x9F, 0xE9], LATIN1_SWEDISH_CI).unwrap(),
            "€“”Ÿé"
        );
        assert_eq!(
            decode_text(&[0x81, 0x8D, 0x8F, 0x90, 0x9D], LATIN1_SWEDISH_CI).unwrap(),
            "\u{81}\u{8D}\u{8F}\u{90}\u{9D}"
        );
    }

    #[test]
    fn every_latin1_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let text = decode_text(&all, LATIN1_SWEDISH_CI).unwrap();
        assert_eq!(text.chars().count(), 256);
        assert_eq!(encode_latin1(&text).unwrap(), all);
    }

    #[test]
    fn legacy_vietnamese_bytes_in_latin1_round_trip() {
        // High bytes as an 8-bit legacy encoding (TCVN3, VNI) writes them, including the ones
        // cp1252 leaves undefined, and the UTF-8 bytes of "Nguyễn" written through a latin1
        // connection: both must come back unchanged.
        let legacy = b"Ngu\x81\x8d\x8f\x90\x9d\xd5n V\xa8n \xb8nh";
        let utf8_via_latin1 = "Nguyễn".as_bytes();
        for bytes in [&legacy[..], utf8_via_latin1] {
            let text = decode_text(bytes, LATIN1_SWEDISH_CI).unwrap();
            assert_eq!(encode_latin1(&text).unwrap(), bytes);
        }
        assert_eq!(
            decode_text(utf8_via_latin1, LATIN1_SWEDISH_CI).unwrap(),
            "Nguyá»…n"
        );
    }

    #[test]
    fn utf8_charsets() {
        assert_eq!(
            decode_text("Nguyễn Thị Ánh".as_bytes(), UTF8MB4_GENERAL_CI).unwrap(),
            "Nguyễn Thị Ánh"
        );
        assert_eq!(
            decode_text(b"ab\xff", UTF8MB4_GENERAL_CI),
            Err(TextError::InvalidUtf8 {
                charset: Charset::Utf8mb4,
                valid_up_to: 2
            })
        );
        assert_eq!(
            decode_text("a😀".as_bytes(), UTF8MB3_GENERAL_CI),
            Err(TextError::Utf8mb3Supplementary { offset: 1 })
        );
        assert_eq!(decode_text("a😀".as_bytes(), 224).unwrap(), "a😀");
    }

    #[test]
    fn ascii_binary_and_unknown() {
        assert_eq!(decode_text(b"abc", ASCII_GENERAL_CI).unwrap(), "abc");
        assert_eq!(
            decode_text(b"ab\x80", ASCII_GENERAL_CI),
            Err(TextError::NotAscii {
                offset: 2,
                byte: 0x80
            })
        );
        assert_eq!(
            decode_text(b"abc", BINARY_COLLATION),
            Err(TextError::Binary)
        );
        assert_eq!(
            decode_text(b"abc", 51),
            Err(TextError::UnknownCollation { collation: 51 })
        );
    }

    #[test]
    fn encode_latin1_refuses_what_latin1_cannot_hold() {
        assert_eq!(
            encode_latin1("ễ"),
            Err(TextError::NotLatin1 { character: 'ễ' })
        );
    }

    #[test]
    fn collation_ids() {
        assert_eq!(charset_of_collation(8), Some(Charset::Latin1));
        assert_eq!(charset_of_collation(255), Some(Charset::Utf8mb4));
        assert_eq!(charset_of_collation(224), Some(Charset::Utf8mb4));
        assert_eq!(charset_of_collation(33), Some(Charset::Utf8mb3));
        assert_eq!(charset_of_collation(63), Some(Charset::Binary));
        assert_eq!(charset_of_collation(51), None);
    }

    proptest! {
        #[test]
        fn latin1_round_trips_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let text = decode_text(&bytes, LATIN1_SWEDISH_CI).unwrap();
            prop_assert_eq!(encode_latin1(&text).unwrap(), bytes);
        }
    }
}
