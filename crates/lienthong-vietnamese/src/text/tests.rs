#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use super::*;
use crate::test_support::{any_text, syllable, vietnamese_text};

// ---------------------------------------------------------------------------------------------
// nfc / clean

#[test]
fn nfc_composes_decomposed_vietnamese() {
    assert_eq!(nfc("Tra\u{0302}\u{0300}n Thi\u{0323}"), "Trần Thị");
    // Deprecated tone marks are canonically equivalent to the ordinary ones.
    assert_eq!(nfc("a\u{0341}"), "á");
    // Marks in non-canonical order (dot below after circumflex) still compose.
    assert_eq!(nfc("e\u{0302}\u{0323}"), "ệ");
    assert_eq!(nfc("e\u{0323}\u{0302}"), "ệ");
}

#[test]
fn clean_removes_noise_and_keeps_text() {
    assert_eq!(clean(""), "");
    assert_eq!(clean(" \t\n "), "");
    assert_eq!(clean("\u{0301}Anh"), "Anh", "leading stray mark");
    assert_eq!(
        clean("Anh \u{0301}Tú"),
        "Anh Tú",
        "stray mark after a space"
    );
    assert_eq!(
        clean("Le\u{034F}\u{0302}"),
        "Lê",
        "grapheme joiner no longer blocks composition"
    );
    assert_eq!(clean("Hồ\u{FE0F}ng"), "Hồng");
    assert_eq!(clean("Võ\u{202E}Văn"), "VõVăn");
    assert_eq!(clean("Phạm\u{3000}Anh"), "Phạm Anh", "ideographic space");
    assert_eq!(
        clean("Trương \u{FFFD}"),
        "Trương \u{FFFD}",
        "replacement char kept"
    );
    assert_eq!(clean("Ng\u{00AD}uyễn"), "Nguyễn", "soft hyphen");
}

#[test]
fn the_nfc_shortcut_ranges_are_stable_characters() {
    use unicode_normalization::char::canonical_combining_class;
    use unicode_normalization::{IsNormalized, is_nfc_quick};
    let ranges = [('\u{0}', '\u{02FF}'), ('\u{1EA0}', '\u{1EF9}')];
    for c in ranges.into_iter().flat_map(|(from, to)| from..=to) {
        assert!(is_stable_in_nfc(c), "{c:?}");
        assert_eq!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes, "{c:?}");
        assert_eq!(canonical_combining_class(c), 0, "{c:?}");
    }
    for outside in ['\u{0300}', '\u{0341}', '\u{1E9F}', '\u{1EFA}', '\u{2126}'] {
        assert!(!is_stable_in_nfc(outside), "{outside:?}");
    }
    // The general check still decides text outside the ranges.
    assert!(already_nfc("Ω"));
    assert!(!already_nfc("\u{2126}"));
    assert!(!already_nfc("Le\u{0302}"));
}

#[test]
fn is_letter_is_is_alphabetic() {
    for c in ('\0'..='\u{3000}').chain('\u{1E00}'..='\u{1F00}') {
        assert_eq!(is_letter(c), c.is_alphabetic(), "{c:?}");
    }
}

#[test]
fn stability_in_nfc_is_read_from_the_bytes_as_from_the_characters() {
    for c in ('\0'..='\u{2FFF}').chain('\u{FB00}'..='\u{FFFF}') {
        for s in [c.to_string(), format!("a{c}ẫ"), format!("{c}{c}")] {
            assert_eq!(
                all_stable_in_nfc(&s),
                s.chars().all(is_stable_in_nfc),
                "{s:?}"
            );
        }
    }
}

#[test]
fn every_character_of_the_first_planes_is_judged_clean_as_clean_leaves_it() {
    // `is_clean` reads ASCII and the Latin blocks by a shorter way than other characters.
    for c in ('\0'..='\u{2FFF}').chain('\u{FB00}'..='\u{FFFF}') {
        for s in [
            c.to_string(),
            format!("a{c}"),
            format!("a {c}"),
            format!("{c}b"),
            format!("a{c} b"),
            format!("ẹ{c}\u{0301}"),
        ] {
            assert_eq!(is_clean(&s), clean(&s) == s, "{s:?}");
        }
    }
}

#[test]
fn is_clean_and_cleaned_agree_with_clean() {
    for clean_text in [
        "",
        "Nguyễn Văn An",
        "Thôn Đông, khu 3",
        "Trương \u{FFFD}",
        "x\u{0301}",
    ] {
        assert!(is_clean(clean_text), "{clean_text:?}");
        assert!(matches!(cleaned(clean_text), Cow::Borrowed(_)));
    }
    for messy in [
        " An",
        "An ",
        "An  Bình",
        "An\tBình",
        "An\u{00A0}Bình",
        "\u{0301}An",
        "An \u{0301}Bình",
        "Ng\u{00AD}uyễn",
        "Hồ\u{FE0F}ng",
        "Le\u{0302}",
        " ",
    ] {
        assert!(!is_clean(messy), "{messy:?}");
        assert_eq!(cleaned(messy), clean(messy), "{messy:?}");
    }
}

#[test]
fn title_cased_name_borrows_only_what_is_cased_already() {
    for cased in [
        "Nguyễn Văn An",
        "H'Hen Niê",
        "Y-Moan",
        "Đặng Thị Ánh Ngọc",
        "",
    ] {
        assert!(
            matches!(title_cased_name(cased), Cow::Borrowed(_)),
            "{cased:?}"
        );
    }
    for uncased in ["nguyễn Văn An", "NGUYỄN", "H'hen Niê", "Đặng  Thị", "ǅ"] {
        assert!(
            matches!(title_cased_name(uncased), Cow::Owned(_)),
            "{uncased:?}"
        );
        assert_eq!(title_cased_name(uncased), title_case_name(uncased));
    }
}

// ---------------------------------------------------------------------------------------------
// place_tones

#[test]
fn old_and_new_style_pairs() {
    let pairs = [
        ("hòa", "hoà"),
        ("Thúy", "Thuý"),
        ("khỏe", "khoẻ"),
        ("Hóa", "Hoá"),
        ("hủy", "huỷ"),
        ("lòe", "loè"),
        ("XÒE", "XOÈ"),
        ("Khỏa", "Khoả"),
        ("tùy", "tuỳ"),
        ("Thụy", "Thuỵ"),
        ("lũy", "luỹ"),
    ];
    for (old, new) in pairs {
        assert_eq!(place_tones(old, ToneStyle::New), new);
        assert_eq!(place_tones(new, ToneStyle::Old), old);
        assert_eq!(place_tones(old, ToneStyle::Old), old);
        assert_eq!(place_tones(new, ToneStyle::New), new);
    }
}

#[test]
fn style_independent_syllables_are_corrected_to_the_one_right_place() {
    let cases = [
        ("hòan", "hoàn"),
        ("tóan", "toán"),
        ("hùynh", "huỳnh"),
        ("qúy", "quý"),
        ("gía", "giá"),
        ("ngòai", "ngoài"),
        ("ngoaì", "ngoài"),
        ("nguỳên", "nguyền"),
        ("ngừơi", "người"),
        ("thủơ", "thuở"),
        ("múa", "múa"),
        ("mưá", "mứa"),
        ("khuỷu", "khuỷu"),
        ("quốc", "quốc"),
        ("gìn", "gìn"),
        ("giữ", "giữ"),
        ("yến", "yến"),
        ("Tuấn", "Tuấn"),
        ("TÙÂN", "TUẦN"),
    ];
    for (input, want) in cases {
        for style in [ToneStyle::Old, ToneStyle::New] {
            assert_eq!(place_tones(input, style), want, "{input} {style:?}");
        }
    }
}

#[test]
fn place_tones_leaves_non_syllables_alone() {
    for s in [
        "Noël",
        "José",
        "Café",
        "Kŏ",
        "hòahòa",
        "H2Ó",
        "ǹg",
        "Krông Búk",
        "háá",
        "",
        "  ",
        "東京",
    ] {
        assert_eq!(place_tones(s, ToneStyle::New), nfc(s), "{s}");
    }
}

#[test]
fn place_tones_keeps_separators_and_case() {
    assert_eq!(
        place_tones("  Hòa-Thủy,\tKHỎE!", ToneStyle::New),
        "  Hoà-Thuỷ,\tKHOẺ!"
    );
    // Decomposed input comes out precomposed.
    assert_eq!(
        place_tones("Nguye\u{0302}\u{0300}n", ToneStyle::Old),
        "Nguyền"
    );
    // e + grave + circumflex is a different (non-Vietnamese) grapheme than ề: left alone.
    assert_eq!(
        place_tones("Nguye\u{0300}\u{0302}n", ToneStyle::Old),
        "Nguyè\u{0302}n"
    );
}

// ---------------------------------------------------------------------------------------------
// fold / fold_tones / title_case_name

#[test]
fn fold_handles_every_vietnamese_letter() {
    let upper = "ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬĐÈÉẺẼẸÊỀẾỂỄỆÌÍỈĨỊÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢÙÚỦŨỤƯỪỨỬỮỰỲÝỶỸỴ";
    let lower = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ";
    assert_eq!(upper.chars().count(), 67);
    assert_eq!(lower.chars().count(), 67);
    let want: String = [
        ('a', 17),
        ('d', 1),
        ('e', 11),
        ('i', 5),
        ('o', 17),
        ('u', 11),
        ('y', 5),
    ]
    .iter()
    .flat_map(|&(c, n)| std::iter::repeat_n(c, n))
    .collect();
    assert_eq!(fold(upper), want);
    assert_eq!(fold(lower), want);
}

#[test]
fn fold_tones_distinguishes_tones_but_not_placement_or_case() {
    assert_eq!(fold_tones("THUỶ"), fold_tones("thủy"));
    assert_eq!(fold_tones("Hoà Bình"), "hòa bình");
    assert_ne!(fold_tones("Hòa"), fold_tones("Hóa"));
    assert_ne!(fold_tones("Đào"), fold_tones("Dao"));
}

#[test]
fn title_case_examples() {
    assert_eq!(title_case_name("ĐỖ THỊ ỨC"), "Đỗ Thị Ức");
    assert_eq!(title_case_name("ôn   ích khiêm"), "Ôn Ích Khiêm");
    assert_eq!(title_case_name("lê v.a."), "Lê V.A.");
    assert_eq!(title_case_name("y-moan ênuôl"), "Y-Moan Ênuôl");
    assert_eq!(title_case_name(""), "");
}

#[test]
fn title_case_covers_every_vietnamese_letter() {
    for c in crate::test_support::LOWER_LETTERS.chars() {
        let upper = letters::upper_one(c);
        assert_ne!(upper, c);
        assert_eq!(
            title_case_name(&format!("{c}{upper}")),
            format!("{upper}{c}")
        );
        assert_eq!(
            title_case_name(&format!("{upper}{upper} {c}")),
            format!("{upper}{c} {upper}")
        );
    }
}

#[test]
fn is_syllable_examples() {
    for w in [
        "Đặng", "ngoằn", "NGOÈO", "thuở", "khuỷu", "Quỳnh", "giếng", "yểng",
    ] {
        assert!(is_syllable(w), "{w}");
    }
    for w in ["Aø", "V¨n", "ngoằnn", "hoàá", "", "Nguyễn Văn", "ab"] {
        assert!(!is_syllable(w), "{w}");
    }
}

// ---------------------------------------------------------------------------------------------
// properties

/// Removes tone marks only, keeping every other mark and the case.
fn strip_tones(s: &str) -> String {
    s.nfd()
        .filter(|c| Tone::from_combining_mark(*c).is_none())
        .nfc()
        .collect()
}

/// The tone marks of `s`, in order.
fn tones_of(s: &str) -> Vec<Tone> {
    s.nfd().filter_map(Tone::from_combining_mark).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn place_tones_changes_no_letter(s in any_text(), new in any::<bool>()) {
        let style = if new { ToneStyle::New } else { ToneStyle::Old };
        let out = place_tones(&s, style);
        prop_assert_eq!(fold(&out), fold(&s));
        prop_assert_eq!(strip_tones(&out), strip_tones(&s));
        let (mut a, mut b) = (tones_of(&out), tones_of(&s));
        a.sort_by_key(|t| *t as u8);
        b.sort_by_key(|t| *t as u8);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn place_tones_is_idempotent(s in any_text(), new in any::<bool>()) {
        let style = if new { ToneStyle::New } else { ToneStyle::Old };
        let once = place_tones(&s, style);
        prop_assert_eq!(place_tones(&once, style), once.clone());
        prop_assert!(unicode_normalization::is_nfc(&once));
    }

    #[test]
    fn old_new_old_round_trip(s in any_text()) {
        let old = place_tones(&s, ToneStyle::Old);
        let new = place_tones(&old, ToneStyle::New);
        prop_assert_eq!(place_tones(&new, ToneStyle::Old), old.clone());
        prop_assert_eq!(place_tones(&old, ToneStyle::New), new);
    }

    #[test]
    fn syllables_are_recognised_in_any_case_and_placement(s in syllable()) {
        // Generated from the spelling tables, so well-formed unless the tone breaks the
        // stop-final rule.
        let stop = ["c", "ch", "p", "t"].iter().any(|f| fold(&s).ends_with(f));
        let tone = tones_of(&s).first().copied().unwrap_or(Tone::Level);
        let tone_ok = !stop || matches!(tone, Tone::Acute | Tone::Dot);
        prop_assert_eq!(is_syllable(&s), tone_ok, "{}", s);
        prop_assert_eq!(is_syllable(&place_tones(&s, ToneStyle::New)), tone_ok);
    }

    #[test]
    fn clean_output_is_tidy(s in any_text()) {
        let c = clean(&s);
        prop_assert_eq!(clean(&c), c.clone());
        prop_assert!(!c.starts_with(' ') && !c.ends_with(' ') && !c.contains("  "));
        prop_assert!(!c.chars().any(|ch| ch.is_whitespace() && ch != ' '));
        prop_assert!(!c.chars().any(is_invisible));
        prop_assert!(unicode_normalization::is_nfc(&c));
    }

    #[test]
    fn fold_is_a_stable_key(s in any_text()) {
        let f = fold(&s);
        prop_assert_eq!(fold(&f), f.clone());
        let decomposed: String = s.nfd().collect();
        prop_assert_eq!(fold(&decomposed), f.clone());
        prop_assert!(!f.chars().any(|c| is_combining_mark(c) || c == 'đ'));
    }

    #[test]
    fn fold_of_vietnamese_is_ascii_and_caseless(s in vietnamese_text()) {
        let f = fold(&s);
        prop_assert!(f.is_ascii());
        prop_assert_eq!(fold(&s.to_uppercase()), f.clone());
        prop_assert_eq!(fold(&s.to_lowercase()), f);
    }

    #[test]
    fn fold_tones_ignores_style_and_case(s in vietnamese_text()) {
        // Cleaning first: clean() drops zero-width spaces, which can join two syllables into a
        // word that is no syllable at all, whose tones are then left where they are.
        let s = clean(&s);
        let k = fold_tones(&s);
        prop_assert_eq!(fold_tones(&place_tones(&s, ToneStyle::New)), k.clone());
        prop_assert_eq!(fold_tones(&s.to_uppercase()), k.clone());
        prop_assert_eq!(fold_tones(&k), k);
    }

    #[test]
    fn is_clean_is_clean_leaving_the_text_alone(s in any_text()) {
        prop_assert_eq!(is_clean(&s), clean(&s) == s);
        prop_assert_eq!(cleaned(&s), clean(&s));
        let c = clean(&s);
        prop_assert!(is_clean(&c));
        let decomposed: String = c.nfd().collect();
        prop_assert_eq!(is_clean(&decomposed), clean(&decomposed) == decomposed);
    }

    #[test]
    fn nfc_shortcut_agrees_with_the_tables(s in any_text()) {
        prop_assert_eq!(already_nfc(&s), unicode_normalization::is_nfc(&s));
        let decomposed: String = s.nfd().collect();
        prop_assert_eq!(already_nfc(&decomposed), unicode_normalization::is_nfc(&decomposed));
    }

    #[test]
    fn title_cased_name_is_title_case_name(s in any_text()) {
        prop_assert_eq!(title_cased_name(&s), title_case_name(&s));
    }

    #[test]
    fn title_cased_vietnamese_names_are_borrowed(s in vietnamese_text()) {
        let t = title_case_name(&s);
        prop_assert!(matches!(title_cased_name(&t), Cow::Borrowed(_)), "{:?}", t);
    }

    #[test]
    fn title_case_keeps_letters(s in vietnamese_text()) {
        let t = title_case_name(&s);
        prop_assert_eq!(title_case_name(&t), t.clone());
        prop_assert_eq!(fold(&t), fold(&s.to_lowercase()));
    }
}
