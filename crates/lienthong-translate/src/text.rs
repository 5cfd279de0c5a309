//! Text helpers of the translator's hot paths.

/// [`str::trim`], answered without decoding characters when `s` starts and ends with a visible
/// ASCII character, as codes, numbers and most values do: no end is then white space. (White
/// space is either ASCII, and none of it visible, or a character of several bytes, none of
/// which is ASCII.)
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let visible = |byte: &u8| (0x21..0x7F).contains(byte);
    match s.as_bytes() {
        [first, .., last] if visible(first) && visible(last) => s,
        [only] if visible(only) => s,
        _ => s.trim(),
    }
}

/// Whether `s` is empty or white space only (`s.chars().all(char::is_whitespace)`), answered
/// at the first byte for text that starts with a visible ASCII character.
#[inline]
pub(crate) fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(0x21..0x7F) => false,
        Some(_) => s.chars().all(char::is_whitespace),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_as_the_standard_library_does() {
        let ends = [
            "", " ", "\t", "\n", "\u{A0}", "\u{3000}", "\u{85}", "\u{200B}", "a", "Z", "0", "~",
            "\u{7F}", "\u{1F}", "é", "ễ", "!",
        ];
        for first in ends {
            for middle in ["", "x", " ", "Nguyễn Văn", "\u{A0}"] {
                for last in ends {
                    let s = [first, middle, last].concat();
                    assert_eq!(trim(&s), s.trim(), "{s:?}");
                    assert_eq!(is_blank(&s), s.chars().all(char::is_whitespace), "{s:?}");
                }
            }
        }
    }
}
