//! Vietnamese personal names: the family / middle / given split, and the regional spelling
//! variants that name matching must treat as the same name.
//!
//! A Vietnamese name is written family name first, given name last, with any number of middle
//! names between (`Nguyễn Thị Minh Khai`: family Nguyễn, middle Thị Minh, given Khai). People are
//! called and sorted by the given name, which is why it is kept apart.
//!
//! Some names have two spellings because of the naming taboo (kiêng húy) of the Nguyễn lords and
//! kings: in the South and Centre the forbidden syllable was pronounced and written differently,
//! and families kept the changed form (`Hoàng` → `Huỳnh` for lord Nguyễn Hoàng). A register in
//! Hà Nội and one in Cần Thơ can hold the same person as `Hoàng Văn An` and `Huỳnh Văn An`.

use std::fmt;
use std::str::FromStr;

use crate::text::{cleaned, fold, fold_tones};

/// A personal name split into family name, middle name(s) and given name.
///
/// `family` is the first word, `given` the last, `middle` everything between (words joined by
/// one space; empty when there are only two words). A one-word name (some people of ethnic
/// minorities, or a record holding only the given name) has only `given`.
///
/// Compound family names (`Tôn Thất`, `Âu Dương`) cannot be told from a family name followed by
/// a middle name without a list of them, so they come out as family + first middle word;
/// comparing [`PersonName::full`] keys avoids depending on the split.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonName {
    pub family: String,
    pub middle: String,
    pub given: String,
}

/// A name could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing is left after removing white space and invisible characters.
    #[error("the name is empty")]
    Empty,
}

impl PersonName {
    /// Splits a full name. The text is [`clean`](crate::text::clean)ed first (NFC, whitespace collapsed, invisible
    /// characters removed); letters and case are kept as written.
    ///
    /// ```
    /// use lienthong_vietnamese::names::PersonName;
    /// let name = PersonName::parse("  Nguyễn  Thị Minh   Khai ")?;
    /// assert_eq!(name.family, "Nguyễn");
    /// assert_eq!(name.middle, "Thị Minh");
    /// assert_eq!(name.given, "Khai");
    /// assert_eq!(name.full(), "Nguyễn Thị Minh Khai");
    ///
    /// let single = PersonName::parse("Hen")?;
    /// assert_eq!((single.family.as_str(), single.given.as_str()), ("", "Hen"));
    /// # Ok::<(), lienthong_vietnamese::names::NameError>(())
    /// ```
    pub fn parse(full: &str) -> Result<Self, NameError> {
        let cleaned = cleaned(full);
        // Clean text is trimmed and has single spaces between words: the family name runs to
        // the first space, the given name from the last, and the middle names are what lies
        // between, spaces included.
        let (family, middle, given) = match (cleaned.find(' '), cleaned.rfind(' ')) {
            _ if cleaned.is_empty() => return Err(NameError::Empty),
            (Some(first), Some(last)) => (
                &cleaned[..first],
                cleaned.get(first + 1..last).unwrap_or_default(),
                &cleaned[last + 1..],
            ),
            _ => ("", "", &cleaned[..]),
        };
        Ok(PersonName {
            family: family.to_owned(),
            middle: middle.to_owned(),
            given: given.to_owned(),
        })
    }

    /// The parts joined by single spaces, empty parts left out.
    pub fn full(&self) -> String {
        join_name_parts(&self.family, &self.middle, &self.given)
    }
}

/// The parts of a name that are not empty, joined by single spaces (as [`PersonName::full`]).
pub fn join_name_parts(family: &str, middle: &str, given: &str) -> String {
    let mut full = String::with_capacity(family.len() + middle.len() + given.len() + 2);
    for part in [family, middle, given] {
        if part.is_empty() {
            continue;
        }
        if !full.is_empty() {
            full.push(' ');
        }
        full.push_str(part);
    }
    full
}

impl FromStr for PersonName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonName::parse(s)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full())
    }
}

/// Family names with two regional spellings of the same name (same Chinese character), named by
/// the group `"North/South"` spelling.
///
/// Only pairs attested by more than one source are listed:
/// - Hoàng/Huỳnh (黃): taboo of lord Nguyễn Hoàng — ngotoc.vn "Nói thêm về những từ kỵ húy của
///   người miền Nam"; the refdata file vn_surnames_top14.csv (Wikipedia "Vietnamese name");
///   the list of Kinh family names in "Văn hóa dòng họ" (123docz extract: "Huỳnh (Hoàng)").
/// - Vũ/Võ (武): vn_surnames_top14.csv; "Văn hóa dòng họ" ("Vũ (Võ)").
/// - Chu/Châu (周): taboo of lord Nguyễn Phúc Chu — Wikipedia tiếng Việt "Chu (họ)" (section
///   "Phân biệt họ Châu/Chu"), ngotoc.vn and namthilanguage.edu.vn ("Ngô Tòng Châu thay cho Ngô
///   Tùng Chu"), "Văn hóa dòng họ" ("Chu (Châu)").
/// - Lã/Lữ (呂): "Văn hóa dòng họ" ("Lã (Lữ)"); chuonghung.com "Nguồn gốc họ Lữ" ("họ (tính) Lữ
///   (Lã) 吕").
///
/// Not listed on purpose: look-alike names of different characters (`Đặng`/`Đặng` is one name,
/// `Lê`/`Lý`, `Huỳnh`/`Huyền` are different names) and `Tôn`/`Tông` (`Tôn` 孫 is also a family
/// name in its own right).
const FAMILY_VARIANTS: &[(&str, &[&str])] = &[
    ("Hoàng/Huỳnh", &["Hoàng", "Huỳnh"]),
    ("Vũ/Võ", &["Vũ", "Võ"]),
    ("Chu/Châu", &["Chu", "Châu"]),
    ("Lã/Lữ", &["Lã", "Lữ"]),
];

/// Unaccented spellings (as in records typed without diacritics) that can only be a member of a
/// group. Left out because another family name folds to the same letters: `vu` (Vu 于), `la`
/// (La 羅), `lu` (Lư 盧), `chu` (Chử 褚).
const FAMILY_VARIANTS_UNACCENTED: &[(&str, &str)] = &[
    ("hoang", "Hoàng/Huỳnh"),
    ("huynh", "Hoàng/Huỳnh"),
    ("vo", "Vũ/Võ"),
    ("chau", "Chu/Châu"),
];

/// Syllables of middle and given names with two regional spellings, from the same taboo. Sources
/// (each pair in at least two): ngotoc.vn and ya4r.net "Những địa danh và ngôn ngữ bị kỵ húy tại
/// miền Nam" (Nguyên/Ngươn, Đảm/Đởm, Thái/Thới, Cảnh/Kiểng, Hoàng/Huỳnh, Hồng/Hường,
/// Nhậm/Nhiệm, Thì/Thời, Chu/Châu); namthilanguage.edu.vn "Từ kỵ húy ở Nam Bộ" (Phúc/Phước,
/// Hồng/Hường, Nhậm/Nhiệm, Thì/Thời, Chu/Châu, Tùng/Tòng); Wikipedia tiếng Việt "Kiêng húy" as
/// quoted on tuxetnghiem.vn (Cảnh/Kiểng, Hoa/Huê, Tùng/Tòng, Chu/Châu, Hoàng/Huỳnh,
/// Phúc/Phước); Vũ/Võ as for family names (the taboo was on the character 武, not on the
/// family).
const SYLLABLE_VARIANTS: &[(&str, &[&str])] = &[
    ("Hoàng/Huỳnh", &["Hoàng", "Huỳnh"]),
    ("Vũ/Võ", &["Vũ", "Võ"]),
    ("Chu/Châu", &["Chu", "Châu"]),
    ("Phúc/Phước", &["Phúc", "Phước"]),
    ("Hoa/Huê", &["Hoa", "Huê"]),
    ("Cảnh/Kiểng", &["Cảnh", "Kiểng"]),
    ("Nguyên/Ngươn", &["Nguyên", "Ngươn"]),
    ("Thái/Thới", &["Thái", "Thới"]),
    ("Hồng/Hường", &["Hồng", "Hường"]),
    ("Nhậm/Nhiệm", &["Nhậm", "Nhiệm"]),
    ("Thì/Thời", &["Thì", "Thời"]),
    ("Đảm/Đởm", &["Đảm", "Đởm"]),
    ("Tùng/Tòng", &["Tùng", "Tòng"]),
];

fn lookup(table: &[(&'static str, &[&str])], word: &str) -> Option<&'static str> {
    let key = fold_tones(word);
    table
        .iter()
        .find(|(_, members)| members.iter().any(|m| fold_tones(m) == key))
        .map(|(group, _)| *group)
}

/// Every family-name variant group: its name and its members, as spelled with diacritics.
pub fn family_variant_groups() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
    FAMILY_VARIANTS.iter().copied()
}

/// The variant group of a family name: two family names in the same group are the same name in
/// different regional spellings, and match.
///
/// Any form of the name works: case, Unicode form and tone placement do not matter (the lookup
/// uses [`fold_tones`]), and a name typed without diacritics is recognised when the unaccented
/// letters can only mean a member of a group (`HUYNH`, but not `VU`, which may be the name Vu).
/// `None` for names without a variant.
///
/// ```
/// use lienthong_vietnamese::names::family_variant_group;
/// assert_eq!(family_variant_group("Hoàng"), family_variant_group("HUỲNH"));
/// assert_eq!(family_variant_group("Vũ"), Some("Vũ/Võ"));
/// assert_eq!(family_variant_group("võ"), Some("Vũ/Võ"));
/// assert_eq!(family_variant_group("Huynh"), Some("Hoàng/Huỳnh"));
/// assert_eq!(family_variant_group("Vu"), None);
/// assert_eq!(family_variant_group("Nguyễn"), None);
/// ```
pub fn family_variant_group(family: &str) -> Option<&'static str> {
    lookup(FAMILY_VARIANTS, family).or_else(|| {
        let folded = fold(family);
        // Only for input written without diacritics: `Vu` is not a spelling of `Vũ`.
        (folded == fold_tones(family))
            .then(|| {
                FAMILY_VARIANTS_UNACCENTED
                    .iter()
                    .find(|(key, _)| *key == folded)
                    .map(|(_, group)| *group)
            })
            .flatten()
    })
}

/// The variant group of one syllable of a middle or given name (`Phúc`/`Phước`,
/// `Hồng`/`Hường`...), including the family-name pairs that also occur in given names. Matches
/// only spelled with diacritics: unaccented, these syllables collide with other names (`Hoa` and
/// `Hòa`, `Hue` for `Huê` and `Huệ`).
///
/// ```
/// use lienthong_vietnamese::names::syllable_variant_group;
/// assert_eq!(syllable_variant_group("Phước"), syllable_variant_group("phúc"));
/// assert_eq!(syllable_variant_group("Huê"), Some("Hoa/Huê"));
/// assert_eq!(syllable_variant_group("Huệ"), None);
/// ```
pub fn syllable_variant_group(syllable: &str) -> Option<&'static str> {
    lookup(SYLLABLE_VARIANTS, syllable)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;
    use crate::test_support::{FAMILY_NAMES, full_names};
    use crate::text::clean;

    #[test]
    fn parse_splits_two_three_and_more_words() {
        let two = PersonName::parse("Lê Hà").unwrap();
        assert_eq!(
            (two.family.as_str(), two.middle.as_str(), two.given.as_str()),
            ("Lê", "", "Hà")
        );
        let three = PersonName::parse("Trần Văn An").unwrap();
        assert_eq!(three.middle, "Văn");
        let five = PersonName::parse("Tôn Nữ Thị Ngọc\u{00A0}Lan").unwrap();
        assert_eq!(
            (
                five.family.as_str(),
                five.middle.as_str(),
                five.given.as_str()
            ),
            ("Tôn", "Nữ Thị Ngọc", "Lan")
        );
        assert_eq!(five.to_string(), "Tôn Nữ Thị Ngọc Lan");
    }

    /// The first version of [`PersonName::parse`], splitting into words, as the reference.
    fn parse_reference(full: &str) -> Result<PersonName, NameError> {
        let cleaned = cleaned(full);
        let words: Vec<&str> = cleaned.split(' ').filter(|w| !w.is_empty()).collect();
        let (family, middle, given) = match words.as_slice() {
            [] => return Err(NameError::Empty),
            [given] => ("", String::new(), *given),
            [family, given] => (*family, String::new(), *given),
            [family, middle @ .., given] => (*family, middle.join(" "), *given),
        };
        Ok(PersonName {
            family: family.to_owned(),
            middle,
            given: given.to_owned(),
        })
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_reference(s in crate::test_support::any_text()) {
            let parsed = PersonName::parse(&s);
            prop_assert_eq!(&parsed, &parse_reference(&s));
            if let Ok(name) = parsed {
                let full = [&name.family, &name.middle, &name.given]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(" ");
                prop_assert_eq!(name.full(), full);
            }
        }
    }

    #[test]
    fn parse_rejects_empty_names() {
        for s in ["", "   ", "\u{200B}\t\u{FEFF}"] {
            assert_eq!(PersonName::parse(s), Err(NameError::Empty));
        }
    }

    #[test]
    fn parse_normalises_the_text() {
        let name: PersonName = "Nguye\u{0302}\u{0303}n\u{200B} Văn  Ánh".parse().unwrap();
        assert_eq!(name.family, "Nguyễn");
        assert_eq!(name.full(), "Nguyễn Văn Ánh");
    }

    #[test]
    fn variant_groups_are_symmetric_and_case_and_placement_blind() {
        for (group, members) in FAMILY_VARIANTS {
            for m in *members {
                assert_eq!(family_variant_group(m), Some(*group));
                assert_eq!(family_variant_group(&m.to_uppercase()), Some(*group));
                assert_eq!(syllable_variant_group(m).is_some(), *group != "Lã/Lữ");
            }
        }
        for (group, members) in SYLLABLE_VARIANTS {
            for m in *members {
                assert_eq!(syllable_variant_group(m), Some(*group));
                assert_eq!(syllable_variant_group(&m.to_lowercase()), Some(*group));
            }
        }
        assert_eq!(family_variant_group("Lữ"), family_variant_group("LÃ"));
        assert_eq!(family_variant_group("La"), None);
        assert_eq!(family_variant_group("Lư"), None);
        assert_eq!(family_variant_group("Chử"), None);
        assert_eq!(family_variant_group("Đặng"), None);
        assert_eq!(syllable_variant_group("Hòa"), None);
        assert_eq!(syllable_variant_group("Hoa"), Some("Hoa/Huê"));
    }

    #[test]
    fn unaccented_fallback_only_where_unambiguous() {
        assert_eq!(family_variant_group("HOANG"), Some("Hoàng/Huỳnh"));
        assert_eq!(family_variant_group("vo"), Some("Vũ/Võ"));
        assert_eq!(family_variant_group("Chau"), Some("Chu/Châu"));
        assert_eq!(family_variant_group("Chu"), Some("Chu/Châu")); // exact spelling
        for s in ["vu", "la", "lu", "Vó", "Hoang\u{0301}"] {
            assert_eq!(family_variant_group(s), None, "{s}");
        }
        // Every unaccented key is the fold of a member of its group.
        for (key, group) in FAMILY_VARIANTS_UNACCENTED {
            let (_, members) = FAMILY_VARIANTS.iter().find(|(g, _)| g == group).unwrap();
            assert!(members.iter().any(|m| fold(m) == *key));
        }
    }

    #[test]
    fn the_common_family_names_have_no_accidental_group() {
        let grouped: Vec<&str> = FAMILY_NAMES
            .iter()
            .copied()
            .filter(|f| family_variant_group(f).is_some())
            .collect();
        assert_eq!(
            grouped,
            ["Hoàng", "Huỳnh", "Vũ", "Võ", "Lã", "Lữ", "Chu", "Châu"]
        );
    }

    proptest! {
        #[test]
        fn parse_then_full_is_the_cleaned_name(i in 0..5000usize, extra in "[ \t\u{00A0}]{0,3}") {
            let names = full_names();
            let name = &names[i % names.len()];
            let messy = format!("{extra}{}{extra}", name.replace(' ', &format!(" {extra}")));
            let parsed = PersonName::parse(&messy).unwrap();
            prop_assert_eq!(parsed.full(), name.clone());
            prop_assert_eq!(PersonName::parse(&parsed.full()).unwrap(), parsed.clone());
            prop_assert!(!parsed.family.is_empty() && !parsed.given.is_empty());
            prop_assert!(!parsed.given.contains(' ') && !parsed.family.contains(' '));
        }

        #[test]
        fn parse_never_fails_on_text_with_a_letter(s in "\\PC*[a-zA-Zà-ỹ]\\PC*") {
            let parsed = PersonName::parse(&s).unwrap();
            prop_assert_eq!(parsed.full(), clean(&s));
        }
    }
}
