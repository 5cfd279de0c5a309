//! Generators and word lists shared by the unit and property tests of several modules.

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use crate::text::syllable::{ONSETS, RHYMES};
use crate::text::{Tone, ToneStyle, place_tones};

const TONE_MARKS: [&str; 6] = [
    "", "\u{0300}", "\u{0301}", "\u{0309}", "\u{0303}", "\u{0323}",
];

/// How onset + rhyme is written: after `qu` the medial `u`/`o` is the `u` of `qu` (`qu` + `oang`
/// = `quang`); after `gi` the `i` of `iê` is not repeated (`gi` + `iêng` = `giêng`), and a rhyme in
/// `i` makes the onset plain `g` (`gìn`). `None` for combinations standard spelling does not
/// write: `qu` with a rhyme that has no medial, `c`/`g`/`ng` before i, y, e, ê and `k`/`gh`/`ngh`
/// elsewhere.
pub(crate) fn standard_spelling(onset: &str, rhyme: &str) -> Option<String> {
    match onset {
        "qu" => {
            let rest = rhyme
                .strip_prefix('u')
                .or_else(|| rhyme.strip_prefix('o'))?;
            let medial = rest.starts_with(['a', 'ă', 'â', 'e', 'ê', 'y', 'ơ']);
            medial.then(|| format!("qu{rest}"))
        }
        "gi" => Some(match rhyme.strip_prefix('i') {
            Some(rest) if rest.starts_with('ê') => format!("gi{rest}"),
            Some(_) => format!("g{rhyme}"),
            None => format!("gi{rhyme}"),
        }),
        // k, gh, ngh are written before i, y, e, ê, and c, g, ng elsewhere (g also before the
        // i of gì).
        "k" | "gh" | "ngh" => {
            let front =
                rhyme.starts_with(['i', 'e', 'ê']) || (onset == "k" && rhyme.starts_with('y'));
            front.then(|| format!("{onset}{rhyme}"))
        }
        "c" | "ng" | "g" => {
            let back = !rhyme.starts_with(['i', 'y', 'e', 'ê'])
                || (onset == "g" && rhyme.starts_with('i'));
            back.then(|| format!("{onset}{rhyme}"))
        }
        _ => Some(format!("{onset}{rhyme}")),
    }
}

fn is_vowel(c: char) -> bool {
    crate::text::split_vowel(c).is_some()
}

fn with_case(letters: &str, upper: &[bool]) -> String {
    letters
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let up = upper[i % upper.len()];
            let v: Vec<char> = if up {
                c.to_uppercase().collect()
            } else {
                vec![c]
            };
            v
        })
        .collect()
}

/// A syllable of standard spelling, with its tone mark on a random vowel (so both right and
/// wrong placements occur), any tone (also ones a stop final does not allow) and random case.
pub(crate) fn syllable() -> impl Strategy<Value = String> {
    (
        prop::sample::select(ONSETS.to_vec()),
        prop::sample::select(RHYMES.to_vec()),
        0..TONE_MARKS.len(),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<bool>(), 8),
    )
        .prop_filter_map(
            "qu takes only rhymes with a medial",
            |(onset, rhyme, tone, at, upper)| {
                let spelled = standard_spelling(onset, rhyme)?;
                let vowels: Vec<usize> = spelled
                    .chars()
                    .enumerate()
                    .filter(|(_, c)| is_vowel(*c))
                    .map(|(i, _)| i)
                    .collect();
                let mark_at = vowels[at.index(vowels.len())];
                let mut s = String::new();
                for (i, c) in with_case(&spelled, &upper).chars().enumerate() {
                    s.push(c);
                    if i == mark_at {
                        s.push_str(TONE_MARKS[tone]);
                    }
                }
                Some(s.nfc().collect())
            },
        )
}

/// A well-formed syllable: standard spelling, a tone its final allows, the tone mark where the
/// old style puts it, and one of three casings (lower, capitalised, upper).
pub(crate) fn well_formed_syllable() -> impl Strategy<Value = String> {
    (
        prop::sample::select(ONSETS.to_vec()),
        prop::sample::select(RHYMES.to_vec()),
        prop::sample::select(Tone::ALL.to_vec()),
        0..3u8,
    )
        .prop_filter_map(
            "spelling and tone must fit",
            |(onset, rhyme, tone, casing)| {
                let spelled = standard_spelling(onset, rhyme)?;
                let stop = ["c", "ch", "p", "t"].iter().any(|f| spelled.ends_with(f));
                if stop && !matches!(tone, Tone::Acute | Tone::Dot) {
                    return None;
                }
                let first_vowel = spelled.find(is_vowel)?;
                let mut s = spelled.clone();
                if let Some(mark) = tone.combining_mark() {
                    let after = first_vowel + spelled[first_vowel..].chars().next()?.len_utf8();
                    s.insert(after, mark);
                }
                let s = place_tones(&s, ToneStyle::Old);
                Some(match casing {
                    0 => s,
                    1 => {
                        let mut chars = s.chars();
                        let first: String = chars.next()?.to_uppercase().collect();
                        format!("{first}{}", chars.as_str())
                    }
                    _ => s.to_uppercase(),
                })
            },
        )
}

/// Vietnamese-looking text: syllables (not all well formed) joined by assorted separators.
pub(crate) fn vietnamese_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            syllable(),
            prop::sample::select(vec![" ", "  ", "\u{00A0}", "-", ", ", "\t", "\u{200B}"]),
        ),
        0..6,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, sep)| format!("{w}{sep}"))
            .collect()
    })
}

/// Either Vietnamese-looking text or arbitrary Unicode.
pub(crate) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![3 => vietnamese_text(), 1 => any::<String>()]
}

/// The 67 lower-case letters of Vietnamese that are not ASCII, in alphabetical order.
pub(crate) const LOWER_LETTERS: &str =
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ";

/// Family names, the most common first (as in vn_surnames_top14.csv), then other real ones.
pub(crate) const FAMILY_NAMES: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Trương", "Đinh", "Lâm", "Mai", "Tạ", "Quách", "Ưng", "Âu", "Ông",
    "Kiều", "Khúc", "Lã", "Lữ", "Chu", "Châu", "Thái", "Tô", "Ứng", "Ôn", "Ấu", "Triệu", "Đoàn",
    "Lưu", "Mạc",
];

pub(crate) const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Hữu", "Đức", "Ngọc", "Thanh", "Minh", "Quốc", "Xuân", "Thuỳ", "Diệu", "Bảo",
    "Công", "Thế", "Ánh", "Mỹ", "Phước", "Phúc", "Quang", "Kiều", "Tường", "Ẩn", "Ỷ", "Hoài",
];

pub(crate) const GIVEN_NAMES: &[&str] = &[
    "An", "Anh", "Ánh", "Ân", "Ẩn", "Bình", "Bé", "Cường", "Dũng", "Đạt", "Giang", "Hà", "Hải",
    "Hằng", "Hạnh", "Hiền", "Hiếu", "Hoà", "Hòa", "Hoàng", "Hồng", "Huệ", "Hùng", "Hương", "Huyền",
    "Ích", "Khoa", "Khải", "Lan", "Linh", "Loan", "Long", "Lộc", "Mai", "Mẫn", "Minh", "My", "Mỹ",
    "Nam", "Nga", "Ngân", "Nghĩa", "Ngọc", "Nhung", "Oanh", "Phát", "Phúc", "Phước", "Phương",
    "Quân", "Quý", "Quỳnh", "Sơn", "Tâm", "Thảo", "Thắng", "Thu", "Thuận", "Thủy", "Thuỷ", "Thúy",
    "Thư", "Tiến", "Toàn", "Trang", "Trí", "Trung", "Tú", "Tuấn", "Tuyết", "Uyên", "Vân", "Việt",
    "Vinh", "Vy", "Xuân", "Yến", "Ý", "Ước", "Ấn", "Đào",
];

/// Phrases of administrative records, chosen so that with the names every lower-case letter
/// occurs (and, upper-cased, every capital).
pub(crate) const PHRASES: &[&str] = &[
    "Sở Tư pháp tỉnh Thừa Thiên Huế",
    "Ủy ban nhân dân thành phố Hồ Chí Minh",
    "Bộ Nội vụ",
    "Sổ hộ khẩu",
    "Cục Quản lý xuất nhập cảnh",
    "Trưởng Công an xã",
    "thẳng thắn",
    "ẵm bé",
    "chè xanh",
    "trẻ em",
    "vẽ tranh",
    "mẹ hiền",
    "thể thao",
    "có lẽ",
    "nhỏ bé",
    "lớn lên",
    "đổ vỡ",
    "lợi ích",
    "lịch sử",
    "lực lượng",
    "kỵ binh",
    "Quyết định số 12/QĐ-UBND ngày 15/3/1998",
];

/// Full names built from the lists (every given name with every family name, middle names
/// cycling).
pub(crate) fn full_names() -> Vec<String> {
    GIVEN_NAMES
        .iter()
        .enumerate()
        .flat_map(|(i, given)| {
            FAMILY_NAMES.iter().enumerate().map(move |(j, family)| {
                let middle = MIDDLE_NAMES[(i * 7 + j * 3) % MIDDLE_NAMES.len()];
                format!("{family} {middle} {given}")
            })
        })
        .collect()
}

/// Every name and phrase in its own casing, in lower case and in upper case.
pub(crate) fn corpus() -> Vec<String> {
    full_names()
        .into_iter()
        .chain(PHRASES.iter().map(|p| (*p).to_owned()))
        .flat_map(|s| {
            let lower = s.to_lowercase();
            let upper = s.to_uppercase();
            [s, lower, upper]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn corpus_covers_all_134_letters() {
        let corpus: HashSet<char> = corpus()
            .iter()
            .flat_map(|n| n.chars().collect::<Vec<_>>())
            .collect();
        let lower: Vec<char> = LOWER_LETTERS.chars().collect();
        assert_eq!(lower.len(), 67);
        for c in &lower {
            let upper = crate::text::upper_one(*c);
            assert!(corpus.contains(c), "{c} missing");
            assert!(corpus.contains(&upper), "{upper} missing");
            assert_ne!(*c, upper);
        }
    }
}
