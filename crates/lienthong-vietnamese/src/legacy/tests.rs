#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use super::tables::{TCVN3, TCVN3_VN2_CAPITALS, VNI_LETTERS, VNI_MARKS, char_of};
use super::*;
use crate::test_support::{LOWER_LETTERS, corpus, well_formed_syllable};
use crate::text::{fold_tones, is_syllable, title_case_name};

// ---------------------------------------------------------------------------------------------
// Test-only encoders, built from the same tables as the decoders. They produce what a legacy
// database column holds: the legacy bytes, read back as Windows-1252 text.

/// Unicode → TCVN3 (VN3) as ABC data holds it: capitals with a tone do not exist in VN3, so they
/// are written with the lower-case byte (what an all-capital font displays as a capital).
fn encode_tcvn3(text: &str) -> String {
    let table: HashMap<char, u8> = TCVN3.iter().map(|(b, c)| (*c, *b)).collect();
    text.nfc()
        .map(|c| {
            if c.is_ascii() {
                return c;
            }
            let lower = c.to_lowercase().next().unwrap();
            let byte = table
                .get(&c)
                .or_else(|| table.get(&lower))
                .unwrap_or_else(|| panic!("{c:?} has no TCVN3 byte"));
            char_of(*byte)
        })
        .collect()
}

/// Unicode → VNI-Windows: one-byte letters as such, other letters as base + mark byte, the mark
/// in the case of the letter.
fn encode_vni(text: &str) -> String {
    let mut out = String::new();
    for c in text.nfc() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        let upper = c.is_uppercase();
        let pick = |lower: u8, upper_byte: u8| char_of(if upper { upper_byte } else { lower });
        if let Some((lo, up, _)) = VNI_LETTERS
            .iter()
            .find(|(_, _, l)| *l == c || crate::text::upper_one(*l) == c)
        {
            out.push(pick(*lo, *up));
            continue;
        }
        let Some((base, tone)) = split_vowel(c) else {
            // Not a Vietnamese letter (NBSP, symbols): the same byte in VNI.
            assert!(byte_of(c).is_some(), "{c:?} cannot be written in VNI");
            out.push(c);
            continue;
        };
        let (plain, mark) = match base.to_lowercase().next().unwrap() {
            'â' => ('a', VowelMark::Circumflex),
            'ê' => ('e', VowelMark::Circumflex),
            'ô' => ('o', VowelMark::Circumflex),
            'ă' => ('a', VowelMark::Breve),
            other => (other, VowelMark::None),
        };
        match plain {
            'ơ' | 'ư' => {
                let (lo, up, _) = VNI_LETTERS.iter().find(|(_, _, l)| *l == plain).unwrap();
                out.push(pick(*lo, *up));
            }
            p if upper => out.extend(p.to_uppercase()),
            p => out.push(p),
        }
        if (mark, tone) != (VowelMark::None, Tone::Level) {
            let (lo, up, _, _) = VNI_MARKS
                .iter()
                .find(|(_, _, m, t)| (*m, *t) == (mark, tone))
                .unwrap();
            out.push(pick(*lo, *up));
        }
    }
    out
}

#[test]
fn encoders_cover_every_letter_and_reproduce_known_bytes() {
    for c in LOWER_LETTERS.chars() {
        let upper = crate::text::upper_one(c);
        for letter in [c, upper] {
            let s = letter.to_string();
            assert_eq!(to_unicode(&encode_vni(&s), Encoding::Vni).unwrap(), s);
        }
        assert_eq!(
            to_unicode(&encode_tcvn3(&c.to_string()), Encoding::Tcvn3).unwrap(),
            c.to_string()
        );
    }
    assert_eq!(encode_tcvn3("Nguyễn Văn"), "NguyÔn V¨n");
    assert_eq!(encode_vni("Nguyễn Văn"), "Nguyeãn Vaên");
    assert_eq!(encode_vni("ĐƯỜNG"), "ÑÖÔØNG");
    assert_eq!(encode_tcvn3("ĐƯỜNG"), "§¦êNG");
}

// ---------------------------------------------------------------------------------------------
// Known mojibake, as found in public legacy-encoded files and converters' documentation.

#[test]
fn known_tcvn3_samples() {
    let samples = [
        ("NguyÔn V¨n", "Nguyễn Văn"),
        // Old-style placement (hòa) is kept: conversion changes encoding, not spelling.
        (
            "Céng hßa x· héi chñ nghÜa ViÖt Nam",
            "Cộng hòa xã hội chủ nghĩa Việt Nam",
        ),
        (
            "Céng hoµ x· héi chñ nghÜa ViÖt Nam",
            "Cộng hoà xã hội chủ nghĩa Việt Nam",
        ),
        ("§éc lËp - Tù do - H¹nh phóc", "Độc lập - Tự do - Hạnh phúc"),
        (
            "B¸o c¸o tµi chÝnh quý II n¨m 2008",
            "Báo cáo tài chính quý II năm 2008",
        ),
        // ư is byte 0xAD, the soft hyphen of Latin-1.
        (
            "QuyÕt ®Þnh cña Bé tr\u{00AD}ëng Bé Tµi chÝnh",
            "Quyết định của Bộ trưởng Bộ Tài chính",
        ),
        ("NhËn ®\u{00AD}îc", "Nhận được"),
        (
            "Ai lµ qu¸n qu©n Master Chef ViÖt Nam mïa ®Çu tiªn",
            "Ai là quán quân Master Chef Việt Nam mùa đầu tiên",
        ),
        // Typed in an all-capital font: lower-case bytes, restored as capitals.
        ("CéNG HßA", "CỘNG HÒA"),
        (
            "CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        ),
    ];
    for (mojibake, want) in samples {
        assert_eq!(detect(mojibake), Encoding::Tcvn3, "{mojibake}");
        assert_eq!(to_unicode(mojibake, Encoding::Tcvn3).unwrap(), want);
    }
}

#[test]
fn known_vni_samples() {
    let samples = [
        ("Nguyeãn Vaên", "Nguyễn Văn"),
        ("Xin chaøo caùc baïn", "Xin chào các bạn"),
        (
            "Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam",
            "Cộng hòa xã hội chủ nghĩa Việt Nam",
        ),
        (
            "COÄNG HOØA XAÕ HOÄI CHUÛ NGHÓA VIEÄT NAM",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        ),
        (
            "Ñoäc laäp - Töï do - Haïnh phuùc",
            "Độc lập - Tự do - Hạnh phúc",
        ),
        (
            "COÂNG TY SAÛN PHAÅM MAÙY TÍNH FUJITSU VIEÄT NAM",
            "CÔNG TY SẢN PHẨM MÁY TÍNH FUJITSU VIỆT NAM",
        ),
        ("ñöôïc nhöõng Chæ thò Myõ", "được những Chỉ thị Mỹ"),
        ("Ñaø Naüng", "Đà Nẵng"),
        ("Haø Noäi", "Hà Nội"),
        ("ÑÔN TRÌNH BAÙO", "ĐƠN TRÌNH BÁO"),
        (
            "Toâi teân laø Nguyeãn Vaên Thöû",
            "Tôi tên là Nguyễn Văn Thử",
        ),
    ];
    for (mojibake, want) in samples {
        assert_eq!(detect(mojibake), Encoding::Vni, "{mojibake}");
        assert_eq!(to_unicode(mojibake, Encoding::Vni).unwrap(), want);
    }
    // One short word is enough when its Unicode reading is not Vietnamese.
    assert_eq!(detect("thuyû"), Encoding::Vni);
    assert_eq!(to_unicode("thuyû", Encoding::Vni).unwrap(), "thuỷ");
}

// ---------------------------------------------------------------------------------------------
// Detection does not misfire.

#[test]
fn unicode_and_ascii_are_never_taken_for_legacy() {
    for s in [
        "",
        "Nguyen Van An",
        "Nguyễn Văn Đức",
        "Lê Thị Hà",
        "Tô Thị Mỹ Hà",
        "Hà Mã Tâm",
        "Võ Thành Tâm",
        "Thái Bá Thùy",
        "Lý Hà",
        "Hòa",
        "Ý",
        "Ánh",
    ] {
        assert_eq!(detect(s), Encoding::Unicode, "{s}");
    }
    for s in corpus() {
        assert_eq!(detect(&s), Encoding::Unicode, "{s}");
    }
}

#[test]
fn text_that_is_vietnamese_in_no_reading_is_unknown() {
    for s in ["25°C", "José Müller", "Ñandú", "ÆØÅ"] {
        assert_eq!(detect(s), Encoding::Unknown, "{s}");
    }
    assert_eq!(
        to_unicode("x", Encoding::Unknown),
        Err(LegacyError::UnknownEncoding)
    );
}

#[test]
fn detect_many_settles_short_ambiguous_values() {
    // TCVN3 "Vũ" is "Vò", a Vietnamese word in its own right.
    assert_eq!(detect("Vò"), Encoding::Unicode);
    assert_eq!(detect_many(["Vò", "NguyÔn", "TrÇn"]), Encoding::Tcvn3);
    assert_eq!(detect_many(["Vuõ", "Nguyeãn", "Traàn"]), Encoding::Vni);
    assert_eq!(detect_many(["Nguyễn", "Trần"]), Encoding::Unicode);
    assert_eq!(detect_many(Vec::<&str>::new()), Encoding::Unicode);
}

#[test]
fn errors_carry_the_position() {
    assert_eq!(
        to_unicode("Nguyễn", Encoding::Tcvn3),
        Err(LegacyError::NotByteText {
            offset: 4, ch: 'ễ'
        })
    );
    assert_eq!(
        to_unicode("Tâm", Encoding::Vni),
        Err(LegacyError::OrphanMark {
            offset: 1, ch: 'â'
        })
    );
    assert_eq!(
        to_unicode("ù", Encoding::Vni),
        Err(LegacyError::OrphanMark {
            offset: 0, ch: 'ù'
        })
    );
    // A second tone on a letter that has one.
    assert_eq!(
        to_unicode("aùø", Encoding::Vni),
        Err(LegacyError::OrphanMark {
            offset: 3, ch: 'ø'
        })
    );
}

#[test]
fn vni_accepts_marks_one_after_another_and_in_either_case() {
    assert_eq!(to_unicode("aâù", Encoding::Vni).unwrap(), "ấ");
    assert_eq!(to_unicode("AÙ", Encoding::Vni).unwrap(), "Á");
    assert_eq!(to_unicode("Aù", Encoding::Vni).unwrap(), "Á");
    assert_eq!(to_unicode("yï", Encoding::Vni).unwrap(), "ỵ");
    assert_eq!(to_unicode("25° €", Encoding::Vni).unwrap(), "25° €");
}

#[test]
fn tcvn3_vn2_additions_and_unassigned_bytes() {
    for (byte, capital) in TCVN3_VN2_CAPITALS {
        let s = char_of(byte).to_string();
        assert_eq!(
            to_unicode(&s, Encoding::Tcvn3).unwrap(),
            capital.to_string()
        );
    }
    // Combining tone marks apply after a toneless vowel only.
    assert_eq!(to_unicode("Ha\u{00B3}", Encoding::Tcvn3).unwrap(), "Há");
    assert_eq!(to_unicode("25\u{00B0}C", Encoding::Tcvn3).unwrap(), "25°C");
    assert_eq!(
        to_unicode("\u{00B8}\u{00B3}", Encoding::Tcvn3).unwrap(),
        "á³"
    );
    // C1 bytes carry nothing in TCVN3 and pass through.
    assert_eq!(to_unicode("“§Æng”", Encoding::Tcvn3).unwrap(), "“Đặng”");
}

#[test]
fn tcvn3_capital_restoration_rules() {
    let cases = [
        ("NGUYÔN V¡N A", "NGUYỄN VĂN A"),
        ("Vâ V¡N A", "VÕ VĂN A"), // the whole value is in capitals
        ("Vâ", "Võ"),             // one capital: mixed case is the likelier reading
        ("Vâ V¨n A", "Võ Văn A"),
        ("NGUYÔN V¨n A", "NGUYỄN Văn A"), // a word in capitals inside mixed text
        ("¸nh", "ánh"),                   // a leading capital with tone is lost in VN3
        ("LI£N TH¤NG", "LIÊN THÔNG"),
        ("ý", "ý"),
    ];
    for (mojibake, want) in cases {
        assert_eq!(
            to_unicode(mojibake, Encoding::Tcvn3).unwrap(),
            want,
            "{mojibake}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips over real names and phrases (every letter, upper and lower case).

/// Whether every non-ASCII word of `s` is itself a Vietnamese syllable, so that the value reads
/// as Vietnamese as it is and detection rightly keeps it as Unicode.
fn reads_as_unicode_vietnamese(s: &str) -> bool {
    words(s).filter(|w| !w.is_ascii()).all(is_syllable)
}

/// Checks that `detect` is never wrong about a value encoded in `encoding`: it finds `encoding`,
/// or Unicode when the mojibake is itself Vietnamese (or ASCII), or Unknown when both legacy
/// readings are equally Vietnamese. Returns 1 for the last two (undecided), 0 otherwise.
fn check_detection(original: &str, encoded: &str, encoding: Encoding) -> usize {
    match detect(encoded) {
        found if found == encoding => 0,
        Encoding::Unicode if encoded.is_ascii() => 0,
        Encoding::Unicode if reads_as_unicode_vietnamese(encoded) => 1,
        Encoding::Unknown => 1,
        other => panic!("{original} → {encoded}: detected as {other}, not {encoding}"),
    }
}

/// TCVN3 loses the case of a capital with tone unless the value shows it is in capitals: it is
/// all upper case and some word has two capitals TCVN3 can write (without tone).
fn tcvn3_keeps_case(s: &str) -> bool {
    let toned = |c: char| split_vowel(c).is_some_and(|(_, tone)| tone != Tone::Level);
    let toned_capital = s.chars().any(|c| c.is_uppercase() && toned(c));
    !toned_capital
        || (s == s.to_uppercase()
            && s.split(' ')
                .any(|w| w.chars().filter(|c| c.is_uppercase() && !toned(*c)).count() >= 2))
}

#[test]
fn vni_round_trip_over_the_corpus() {
    let mut undecided = 0;
    let corpus = corpus();
    for original in &corpus {
        let encoded = encode_vni(original);
        assert_eq!(to_unicode(&encoded, Encoding::Vni).unwrap(), *original);
        undecided += check_detection(original, &encoded, Encoding::Vni);
    }
    assert!(
        undecided * 100 < corpus.len(),
        "{undecided} of {} undecided",
        corpus.len()
    );
}

#[test]
fn tcvn3_round_trip_over_the_corpus() {
    let mut undecided = 0;
    let corpus = corpus();
    for original in &corpus {
        let encoded = encode_tcvn3(original);
        let decoded = to_unicode(&encoded, Encoding::Tcvn3).unwrap();
        if tcvn3_keeps_case(original) {
            assert_eq!(decoded, *original, "{encoded}");
        } else {
            assert_eq!(decoded.to_lowercase(), original.to_lowercase(), "{encoded}");
            assert_eq!(title_case_name(&decoded), title_case_name(original));
        }
        undecided += check_detection(original, &encoded, Encoding::Tcvn3);
    }
    assert!(
        undecided * 100 < corpus.len(),
        "{undecided} of {} undecided",
        corpus.len()
    );
}

#[test]
fn whole_corpus_detects_as_one_source() {
    let corpus = corpus();
    let tcvn3: Vec<String> = corpus.iter().map(|s| encode_tcvn3(s)).collect();
    let vni: Vec<String> = corpus.iter().map(|s| encode_vni(s)).collect();
    assert_eq!(
        detect_many(tcvn3.iter().map(String::as_str)),
        Encoding::Tcvn3
    );
    assert_eq!(detect_many(vni.iter().map(String::as_str)), Encoding::Vni);
    assert_eq!(
        detect_many(corpus.iter().map(String::as_str)),
        Encoding::Unicode
    );
}

// ---------------------------------------------------------------------------------------------
// Properties.

/// Text of well-formed syllables separated by spaces and punctuation.
fn syllable_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            well_formed_syllable(),
            prop::sample::select(vec![" ", ", ", " - ", "\u{00A0}"]),
        ),
        1..6,
    )
    .prop_map(|parts| {
        parts
            .into_iter()
            .map(|(w, sep)| format!("{w}{sep}"))
            .collect()
    })
}

/// Any sequence of Vietnamese letters, ASCII letters and separators (not necessarily words).
fn letter_soup() -> impl Strategy<Value = String> {
    let letters: Vec<char> = LOWER_LETTERS
        .chars()
        .flat_map(|c| [c, crate::text::upper_one(c)])
        .chain("abcdeghiklmnopqrstuvxyAEIOUY ,.-0123".chars())
        .collect();
    prop::collection::vec(prop::sample::select(letters), 0..40)
        .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn vni_is_lossless_for_any_letters(s in letter_soup()) {
        prop_assert_eq!(to_unicode(&encode_vni(&s), Encoding::Vni).unwrap(), s);
    }

    #[test]
    fn tcvn3_keeps_every_letter_and_lower_case_exactly(s in letter_soup()) {
        let decoded = to_unicode(&encode_tcvn3(&s), Encoding::Tcvn3).unwrap();
        prop_assert_eq!(decoded.to_lowercase(), s.to_lowercase());
        let lower = s.to_lowercase();
        prop_assert_eq!(to_unicode(&encode_tcvn3(&lower), Encoding::Tcvn3).unwrap(), lower);
    }

    #[test]
    fn vietnamese_text_is_detected_in_every_form(s in syllable_text()) {
        // Unicode Vietnamese is never taken for legacy text.
        prop_assert_eq!(detect(&s), Encoding::Unicode);
        for (encoded, encoding) in [(encode_vni(&s), Encoding::Vni), (encode_tcvn3(&s), Encoding::Tcvn3)] {
            check_detection(&s, &encoded, encoding);
            let decoded = to_unicode(&encoded, encoding).unwrap();
            prop_assert_eq!(fold_tones(&decoded), fold_tones(&s));
        }
    }

    #[test]
    fn detect_never_panics_and_unicode_input_converts_to_itself(s in any::<String>()) {
        let encoding = detect(&s);
        if encoding == Encoding::Unicode {
            prop_assert_eq!(to_unicode(&s, encoding).unwrap(), crate::text::nfc(&s).into_owned());
        }
        let _ = to_unicode(&s, Encoding::Tcvn3);
        let _ = to_unicode(&s, Encoding::Vni);
    }
}

// ---------------------------------------------------------------------------------------------
// The encoder.

/// Whether `s` has a capital with a tone, which VN3 cannot write (see `from_unicode`).
fn has_toned_capital(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_uppercase() && split_vowel(c).is_some_and(|(_, tone)| tone != Tone::Level))
}

#[test]
fn from_unicode_writes_known_mojibake() {
    let cases = [
        ("Nguyễn Văn Đức", Encoding::Tcvn3, "NguyÔn V¨n §øc"),
        ("Nguyễn Văn Đức", Encoding::Vni, "Nguyeãn Vaên Ñöùc"),
        ("Bộ trưởng", Encoding::Tcvn3, "Bé tr\u{00AD}ëng"),
        ("ĐƯỜNG", Encoding::Vni, "ÑÖÔØNG"),
        (
            "Độc lập - Tự do - Hạnh phúc",
            Encoding::Vni,
            "Ñoäc laäp - Töï do - Haïnh phuùc",
        ),
        // VN2's precomposed capital, and a capital written with a combining tone byte.
        ("NGUYỄN", Encoding::Tcvn3, "NGUY\u{00D9}N"),
        ("Ánh", Encoding::Tcvn3, "A\u{00B3}nh"),
        ("Ợ", Encoding::Tcvn3, "\u{00A5}\u{00B4}"),
        ("kỵ binh", Encoding::Vni, "kî binh"),
        // Characters with no meaning in the encoding keep their byte.
        ("25° €", Encoding::Vni, "25° €"),
        ("“Đặng”", Encoding::Tcvn3, "“§Æng”"),
        ("Hà\u{00A0}Nội", Encoding::Tcvn3, "Hµ\u{00A0}Néi"),
        // ASCII and Unicode are left as they are (in NFC).
        ("Nguyen Van An", Encoding::Tcvn3, "Nguyen Van An"),
        ("Nguye\u{0302}\u{0303}n", Encoding::Unicode, "Nguyễn"),
    ];
    for (unicode, encoding, want) in cases {
        assert_eq!(
            from_unicode(unicode, encoding).unwrap(),
            want,
            "{unicode} in {encoding}"
        );
        assert_eq!(to_unicode(want, encoding).unwrap(), nfc(unicode));
    }
}

#[test]
fn from_unicode_rejects_what_the_encoding_lacks() {
    let cases = [
        ("Muñoz", Encoding::Vni, 2, 'ñ'),    // 0xF1 is VNI's đ
        ("Müller", Encoding::Vni, 1, 'ü'),   // 0xFC is a VNI mark
        ("Müller", Encoding::Tcvn3, 1, 'ü'), // 0xFC is TCVN3's ỹ
        ("25°C", Encoding::Tcvn3, 2, '°'),   // 0xB0 is a VN2 tone mark
        ("Lê 黎", Encoding::Tcvn3, 4, '黎'),
        ("Lê 黎", Encoding::Vni, 4, '黎'),
        ("Ðỗ", Encoding::Tcvn3, 0, 'Ð'), // the Icelandic eth is TCVN3's é
    ];
    for (text, encoding, offset, ch) in cases {
        assert_eq!(
            from_unicode(text, encoding),
            Err(LegacyError::Unencodable {
                offset,
                ch,
                encoding
            }),
            "{text} in {encoding}"
        );
    }
    assert_eq!(
        from_unicode("x", Encoding::Unknown),
        Err(LegacyError::UnknownEncoding)
    );
}

#[test]
fn from_unicode_agrees_with_the_reference_encoders() {
    for original in corpus() {
        assert_eq!(
            from_unicode(&original, Encoding::Vni).unwrap(),
            encode_vni(&original)
        );
        // VN3 writes capitals with tone with the lower-case byte; from_unicode keeps the case.
        if !has_toned_capital(&original) {
            assert_eq!(
                from_unicode(&original, Encoding::Tcvn3).unwrap(),
                encode_tcvn3(&original)
            );
        }
    }
}

#[test]
fn from_unicode_round_trips_the_corpus_exactly() {
    let corpus = corpus();
    for original in &corpus {
        for encoding in [Encoding::Tcvn3, Encoding::Vni, Encoding::Unicode] {
            let encoded = from_unicode(original, encoding).unwrap();
            assert_eq!(
                to_unicode(&encoded, encoding).unwrap(),
                *original,
                "{original} → {encoded} in {encoding}"
            );
        }
    }
    // Every toned capital needs the VN2 additions, and they read back exactly.
    for c in LOWER_LETTERS.chars() {
        let upper = crate::text::upper_one(c).to_string();
        let encoded = from_unicode(&upper, Encoding::Tcvn3).unwrap();
        assert_eq!(to_unicode(&encoded, Encoding::Tcvn3).unwrap(), upper);
    }
}

/// A full name from the corpus lists, in its own casing, lower case or upper case.
fn corpus_name() -> impl Strategy<Value = String> {
    (
        prop::sample::select(crate::test_support::full_names()),
        0..3u8,
    )
        .prop_map(|(name, casing)| match casing {
            0 => name,
            1 => name.to_lowercase(),
            _ => name.to_uppercase(),
        })
}

/// [`syllable_text`] in one casing throughout: lower case, every word capitalised, or upper case.
/// (Capitalised words next to words in capitals can read back from TCVN3 with more capitals; see
/// `from_unicode`.)
fn one_casing_text() -> impl Strategy<Value = String> {
    (syllable_text(), 0..3u8).prop_map(|(s, casing)| match casing {
        0 => s.to_lowercase(),
        1 => {
            let mut out = String::with_capacity(s.len());
            let mut at_word_start = true;
            for c in s.chars() {
                if c.is_alphabetic() {
                    if at_word_start {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                    at_word_start = false;
                } else {
                    out.push(c);
                    at_word_start = true;
                }
            }
            out
        }
        _ => s.to_uppercase(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn from_unicode_round_trips_names(name in corpus_name()) {
        for encoding in [Encoding::Tcvn3, Encoding::Vni] {
            let encoded = from_unicode(&name, encoding).unwrap();
            prop_assert_eq!(to_unicode(&encoded, encoding).unwrap(), name.clone());
        }
    }

    #[test]
    fn from_unicode_round_trips_vietnamese_text(s in one_casing_text()) {
        for encoding in [Encoding::Tcvn3, Encoding::Vni] {
            let encoded = from_unicode(&s, encoding).unwrap();
            prop_assert_eq!(to_unicode(&encoded, encoding).unwrap(), s.clone());
        }
        // Decomposed input encodes as its NFC form does.
        let decomposed: String = s.nfd().collect();
        prop_assert_eq!(
            from_unicode(&decomposed, Encoding::Vni).unwrap(),
            from_unicode(&s, Encoding::Vni).unwrap()
        );
    }

    #[test]
    fn from_unicode_keeps_every_letter(s in letter_soup()) {
        let vni = from_unicode(&s, Encoding::Vni).unwrap();
        prop_assert_eq!(to_unicode(&vni, Encoding::Vni).unwrap(), s.clone());
        // TCVN3: exact in one case; odd mixed case may gain capitals, never lose letters.
        let tcvn3 = to_unicode(&from_unicode(&s, Encoding::Tcvn3).unwrap(), Encoding::Tcvn3).unwrap();
        prop_assert_eq!(tcvn3.to_lowercase(), s.to_lowercase());
        for one_case in [s.to_lowercase(), s.to_uppercase()] {
            let encoded = from_unicode(&one_case, Encoding::Tcvn3).unwrap();
            prop_assert_eq!(to_unicode(&encoded, Encoding::Tcvn3).unwrap(), one_case);
        }
    }

    #[test]
    fn from_unicode_fails_only_on_characters_it_cannot_write(s in any::<String>()) {
        for encoding in [Encoding::Tcvn3, Encoding::Vni] {
            match from_unicode(&s, encoding) {
                Ok(encoded) => {
                    prop_assert!(encoded.chars().all(|c| byte_of(c).is_some()));
                }
                Err(LegacyError::Unencodable { offset, ch, .. }) => {
                    let normalised = nfc(&s);
                    prop_assert_eq!(normalised[offset..].chars().next(), Some(ch));
                    prop_assert!(!ch.is_ascii());
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }
    }
}
