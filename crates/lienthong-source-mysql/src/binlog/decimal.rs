//! `DECIMAL` (`NEWDECIMAL`) values: MySQL's packed binary format to exact decimal text.
//!
//! A `DECIMAL(precision, scale)` stores its integer digits and its fraction digits separately, each
//! in groups of nine decimal digits per 4-byte big-endian word. The integer part's leftover
//! digits (`(precision - scale) % 9`) form a shorter group at its front, the fraction's leftover
//! digits a shorter group at its end, each in the fewest bytes that hold that many digits. The
//! first byte's top bit is flipped so that positive numbers sort above negative ones, and a
//! negative number has every byte inverted. The format never stores a sign for zero.

use super::error::ValueError;
use super::reader::uint_be;

const DIGITS_PER_WORD: u32 = 9;
const WORD_LEN: usize = 4;
/// Bytes that hold a group of 0..=9 decimal digits.
const GROUP_LEN: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// Largest precision a server accepts (MySQL and MariaDB: 65).
pub const MAX_PRECISION: u8 = 65;

/// Bytes a `DECIMAL(precision, scale)` value takes in a row image, or `None` when the pair is not
/// a valid definition.
pub fn decimal_binary_len(precision: u8, scale: u8) -> Option<usize> {
    if precision == 0 || precision > MAX_PRECISION || scale > precision {
        return None;
    }
    let integer_digits = u32::from(precision - scale);
    let scale = u32::from(scale);
    Some(part_len(integer_digits) + part_len(scale))
}

fn part_len(digits: u32) -> usize {
    (digits / DIGITS_PER_WORD) as usize * WORD_LEN + GROUP_LEN[(digits % DIGITS_PER_WORD) as usize]
}

/// Decodes a `DECIMAL(precision, scale)` from the start of `bytes` into its exact text (`-12.50`,
/// `0.000001`, `123`): an optional `-`, the integer part without leading zeros (`0` when it is
/// zero), and, when `scale > 0`, a `.` and exactly `scale` fraction digits. Returns the text and
/// the number of bytes read.
pub fn decode_decimal(
    bytes: &[u8],
    precision: u8,
    scale: u8,
) -> Result<(String, usize), ValueError> {
    const NAME: &str = "DECIMAL";
    let len = decimal_binary_len(precision, scale).ok_or_else(|| ValueError::InvalidMetadata {
        type_name: NAME,
        reason: format!("precision {precision} and scale {scale} define no DECIMAL"),
    })?;
    let stored = bytes.get(..len).ok_or(ValueError::Truncated {
        type_name: NAME,
        needed: len,
        available: bytes.len(),
    })?;

    let negative = stored[0] & 0x80 == 0;
    let mask = if negative { 0xFF } else { 0x00 };
    let mut unpacked: Vec<u8> = stored.iter().map(|byte| byte ^ mask).collect();
    unpacked[0] ^= 0x80;

    let integer_digits = u32::from(precision - scale);
    let fraction_digits = u32::from(scale);
    let mut position = 0usize;
    let mut read_group = |digits: u32| -> Result<u32, ValueError> {
        let group_len = GROUP_LEN[digits as usize];
        let value = uint_be(&unpacked[position..position + group_len]) as u32;
        position += group_len;
        if u64::from(value) >= 10u64.pow(digits) {
            return Err(ValueError::Invalid {
                type_name: NAME,
                reason: format!("digit group {value} has more than {digits} digits"),
            });
        }
        Ok(value)
    };

    let mut integer = String::new();
    let leading = integer_digits % DIGITS_PER_WORD;
    if leading > 0 {
        let value = read_group(leading)?;
        integer.push_str(&value.to_string());
    }
    for _ in 0..integer_digits / DIGITS_PER_WORD {
        let value = read_group(DIGITS_PER_WORD)?;
        integer.push_str(&format!("{value:09}"));
    }
    let integer = integer.trim_start_matches('0');

    let mut fraction = String::new();
    for _ in 0..fraction_digits / DIGITS_PER_WORD {
        let value = read_group(DIGITS_PER_WORD)?;
        fraction.push_str(&format!("{value:09}"));
    }
    let trailing = fraction_digits % DIGITS_PER_WORD;
    if trailing > 0 {
        let value = read_group(trailing)?;
        fraction.push_str(&format!("{value:0width$}", width = trailing as usize));
    }

    let is_zero = integer.is_empty() && fraction.bytes().all(|digit| digit == b'0');
    let mut text = String::with_capacity(integer.len() + fraction.len() + 3);
    if negative && !is_zero {
        text.push('-');
    }
    text.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(&fraction);
    }
    Ok((text, len))
}

/// Test-only encoder: the inverse of [`decode_decimal`], written from the format description.
#[cfg(test)]
pub(crate) fn encode_decimal(text: &str, precision: u8, scale: u8) -> Vec<u8> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (integer, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let integer_digits = usize::from(precision - scale);
    let scale = usize::from(scale);
    assert!(integer.len() <= integer_digits.max(1) && fraction.len() <= scale);
    let integer = format!("{integer:0>integer_digits$}");
    let integer = &integer[integer.len() - integer_digits..];
    let fraction = format!("{fraction:0<scale$}");

    let mut bytes = Vec::new();
    let mut push_group = |group: &str| {
        if group.is_empty() {
            return;
        }
        let value: u32 = group.parse().unwrap_or(0);
        let len = GROUP_LEN[group.len()];
        bytes.extend_from_slice(&value.to_be_bytes()[4 - len..]);
    };
    let leading = integer_digits % 9;
    push_group(&integer[..leading]);
    for chunk in integer.as_bytes()[leading..].chunks(9) {
        push_group(std::str::from_utf8(chunk).unwrap_or("0"));
    }
    for chunk in fraction.as_bytes().chunks(9) {
        push_group(std::str::from_utf8(chunk).unwrap_or("0"));
    }
    bytes[0] ^= 0x80;
    if negative {
        bytes.iter_mut().for_each(|byte| *byte ^= 0xFF);
    }
    bytes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode(bytes: &[u8], precision: u8, scale: u8) -> String {
        let (text, len) = decode_decimal(bytes, precision, scale).unwrap();
        assert_eq!(len, bytes.len());
        text
    }

    #[test]
    fn known_encodings() {
        // DECIMAL(14,4) 1234567890.1234: a 1-digit leading group (1 byte), one full word, and a
        // 4-digit fraction group (2 bytes); then its negation.
        let positive = [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
        assert_eq!(decode(&positive, 14, 4), "1234567890.1234");
        let negative: Vec<u8> = positive.iter().map(|byte| byte ^ 0xFF).collect();
        assert_eq!(decode(&negative, 14, 4), "-1234567890.1234");
    }

    #[test]
    fn lengths() {
        assert_eq!(decimal_binary_len(10, 0), Some(5));
        assert_eq!(decimal_binary_len(20, 6), Some(4 + 3 + 3));
        assert_eq!(decimal_binary_len(65, 30), Some(16 + 14));
        assert_eq!(decimal_binary_len(1, 1), Some(1));
        assert_eq!(decimal_binary_len(0, 0), None);
        assert_eq!(decimal_binary_len(5, 6), None);
        assert_eq!(decimal_binary_len(66, 0), None);
    }

    #[test]
    fn round_trips_of_edge_cases() {
        let cases: &[(&str, u8, u8)] = &[
            ("0", 1, 0),
            ("9", 1, 0),
            ("-9", 1, 0),
            ("0.5", 1, 1),
            ("-0.5", 1, 1),
            ("0.000001", 20, 6),
            ("-0.000001", 20, 6),
            ("12345678901234.123456", 20, 6),
            ("-12345678901234.123456", 20, 6),
            ("99999999999999.999999", 20, 6),
            ("-99999999999999.999999", 20, 6),
            ("1.10", 5, 2),
            ("-1000000000", 10, 0),
            ("123456789", 9, 0),
            ("-123456789.123456789", 18, 9),
            ("1.1234567891", 11, 10),
            (
                "12345678901234567890123456789012345.123456789012345678901234567890",
                65,
                30,
            ),
            (
                "-99999999999999999999999999999999999.999999999999999999999999999999",
                65,
                30,
            ),
        ];
        for &(text, precision, scale) in cases {
            let bytes = encode_decimal(text, precision, scale);
            assert_eq!(decode(&bytes, precision, scale), text, "{text}");
        }
    }

    #[test]
    fn zero_is_printed_without_a_sign_and_with_its_scale() {
        let bytes = encode_decimal("0", 20, 6);
        assert_eq!(decode(&bytes, 20, 6), "0.000000");
        // A negative zero is not written by servers; it prints as zero.
        let negative_zero: Vec<u8> = bytes.iter().map(|byte| byte ^ 0xFF).collect();
        assert_eq!(decode(&negative_zero, 20, 6), "0.000000");
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_decimal(&[0x80], 20, 6),
            Err(ValueError::Truncated {
                type_name: "DECIMAL",
                needed: 10,
                available: 1
            })
        );
        assert!(matches!(
            decode_decimal(&[0x80], 3, 4),
            Err(ValueError::InvalidMetadata { .. })
        ));
        // A 1-digit group holding 10.
        assert!(matches!(
            decode_decimal(&[0x80 | 10], 1, 0),
            Err(ValueError::Invalid { .. })
        ));
        // A full word above 999999999.
        assert!(matches!(
            decode_decimal(&[0xBF, 0xFF, 0xFF, 0xFF], 9, 0),
            Err(ValueError::Invalid { .. })
        ));
    }

    fn decimal_strategy() -> impl Strategy<Value = (String, u8, u8)> {
        (1u8..=65)
            .prop_flat_map(|precision| (Just(precision), 0u8..=precision.min(30)))
            .prop_flat_map(|(precision, scale)| {
                let integer_digits = usize::from(precision - scale);
                (
                    Just(precision),
                    Just(scale),
                    any::<bool>(),
                    proptest::collection::vec(0u8..10, integer_digits),
                    proptest::collection::vec(0u8..10, usize::from(scale)),
                )
            })
            .prop_map(|(precision, scale, negative, integer, fraction)| {
                let integer: String = integer.iter().map(|d| char::from(b'0' + d)).collect();
                let integer = integer.trim_start_matches('0');
                let integer = if integer.is_empty() { "0" } else { integer };
                let fraction: String = fraction.iter().map(|d| char::from(b'0' + d)).collect();
                let mut text = String::new();
                let zero = integer == "0" && fraction.bytes().all(|d| d == b'0');
                if negative && !zero {
                    text.push('-');
                }
                text.push_str(integer);
                if !fraction.is_empty() {
                    text.push('.');
                    text.push_str(&fraction);
                }
                (text, precision, scale)
            })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip((text, precision, scale) in decimal_strategy()) {
            let bytes = encode_decimal(&text, precision, scale);
            prop_assert_eq!(Some(bytes.len()), decimal_binary_len(precision, scale));
            let (decoded, len) = decode_decimal(&bytes, precision, scale).unwrap();
            prop_assert_eq!(len, bytes.len());
            prop_assert_eq!(decoded, text);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            precision in 0u8..=70, scale in 0u8..=40,
        ) {
            let _ = decode_decimal(&bytes, precision, scale);
        }
    }
}
