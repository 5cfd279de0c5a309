//! Synthetic population register and source records with known truth, for the resolver's tests
//! and benchmarks.
//!
//! Distributions follow what is known of Vietnamese names: family-name shares from the project's
//! reference table `vn_surnames_top14.csv` (Nguyễn ~38%, the top 14 ~90%) with the rest spread
//! over a few dozen rarer names; middle names by sex (Văn, Thị dominant); a few hundred given
//! names with Zipf-like frequencies. Birth provinces are the 63 pre-2025 provinces with their
//! real merger into the 34 (`vn_province_merger_map_63_to_34.csv`). Personal IDs follow the
//! `PPP G YY NNNNNN` structure.
//!
//! Source records derived from register people get errors injected at stated rates (missing or
//! mistyped IDs, tone-placement variants, stripped diacritics, upper case, regional spellings,
//! given-name typos, missing middle names, day/month swaps, partial dates, year ±1, the other
//! province code list, wrong or missing sex).

#![allow(dead_code)]

use std::collections::HashSet;

use lienthong_resolve::matcher::{QueryName, QueryRecord};
use lienthong_resolve::{
    PartialDate, PersonName, Pin, PopulationEntry, Province, ProvinceCodeSystem, ProvinceMap, Sex,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Old (pre-2025) province code → post-2025 code, all 63 rows of
/// `vn_province_merger_map_63_to_34.csv` (Nghị quyết 202/2025/QH15).
#[rustfmt::skip]
pub const MERGER: [(u8, u8); 63] = [
    (1, 1), (2, 8), (4, 4), (6, 19), (8, 8), (10, 15), (11, 11), (12, 12), (14, 14), (15, 15),
    (17, 25), (19, 19), (20, 20), (22, 22), (24, 24), (25, 25), (26, 25), (27, 24), (30, 31),
    (31, 31), (33, 33), (34, 33), (35, 37), (36, 37), (37, 37), (38, 38), (40, 40), (42, 42),
    (44, 44), (45, 44), (46, 46), (48, 48), (49, 48), (51, 51), (52, 52), (54, 66), (56, 56),
    (58, 56), (60, 68), (62, 51), (64, 52), (66, 66), (67, 68), (68, 68), (70, 75), (72, 80),
    (74, 79), (75, 75), (77, 79), (79, 79), (80, 80), (82, 82), (83, 86), (84, 86), (86, 86),
    (87, 82), (89, 91), (91, 91), (92, 92), (93, 92), (94, 92), (95, 96), (96, 96),
];

pub fn province_map() -> ProvinceMap {
    ProvinceMap::from_pairs(MERGER).expect("the merger table is consistent")
}

/// Family names with shares in percent. The top 14 from the reference table (Hoàng/Huỳnh and
/// Vũ/Võ split roughly north/south), then rarer names sharing the remaining ~10%.
#[rustfmt::skip]
const FAMILY: &[(&str, f64)] = &[
    ("Nguyễn", 38.4), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.1), ("Hoàng", 2.7), ("Huỳnh", 2.4),
    ("Phan", 4.5), ("Vũ", 2.0), ("Võ", 1.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4),
    ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0), ("Lý", 0.5), ("Trịnh", 0.6), ("Đinh", 0.6),
    ("Lâm", 0.5), ("Phùng", 0.4), ("Mai", 0.4), ("Tô", 0.3), ("Trương", 0.5), ("Hà", 0.5),
    ("Lưu", 0.3), ("Cao", 0.3), ("Lương", 0.3), ("Châu", 0.3), ("Tạ", 0.2), ("Quách", 0.2),
    ("Đoàn", 0.4), ("Vương", 0.2), ("Thái", 0.2), ("Kiều", 0.1), ("Mạc", 0.1), ("Âu", 0.05),
    ("La", 0.1), ("Tăng", 0.1), ("Khúc", 0.05), ("Đàm", 0.1), ("Chu", 0.2), ("Giang", 0.1),
    ("Hứa", 0.1), ("Thân", 0.1), ("Triệu", 0.2), ("Nghiêm", 0.1), ("Doãn", 0.05), ("Bạch", 0.05),
    ("Ông", 0.05), ("Ninh", 0.05), ("Diệp", 0.05), ("Lò", 0.05), ("Quan", 0.05), ("Lục", 0.05),
    ("Văn", 0.05), ("Hoàng Phủ", 0.01), ("Tôn Nữ", 0.01),
];

#[rustfmt::skip]
const MIDDLE_MALE: &[(&str, f64)] = &[
    ("Văn", 32.0), ("Đức", 6.0), ("Minh", 7.0), ("Quang", 5.0), ("Hữu", 4.0), ("Thanh", 4.0),
    ("Công", 3.0), ("Xuân", 2.0), ("Ngọc", 3.0), ("Hoàng", 2.0), ("Quốc", 4.0), ("Duy", 2.0),
    ("Trọng", 2.0), ("Đình", 3.0), ("Mạnh", 1.5), ("Tiến", 1.5), ("Thế", 2.0), ("Bá", 1.0),
    ("Anh", 2.0), ("Hải", 1.0), ("Nhật", 1.0), ("Gia", 2.0), ("Tuấn", 1.0), ("Trung", 1.0),
    ("Kim", 0.5), ("Phúc", 0.5), ("Văn Minh", 0.5), ("Hoàng Gia", 0.3), ("", 5.0),
];

#[rustfmt::skip]
const MIDDLE_FEMALE: &[(&str, f64)] = &[
    ("Thị", 42.0), ("Thu", 4.0), ("Ngọc", 6.0), ("Thanh", 4.0), ("Minh", 3.0), ("Hồng", 3.0),
    ("Kim", 3.0), ("Bích", 2.0), ("Mai", 1.5), ("Phương", 2.0), ("Thùy", 2.0), ("Khánh", 1.5),
    ("Diệu", 1.0), ("Quỳnh", 1.0), ("Bảo", 1.5), ("Thị Thu", 2.0), ("Thị Minh", 1.5),
    ("Thị Ngọc", 1.5), ("Thị Kim", 1.0), ("Hoài", 1.0), ("Tường", 0.5), ("Lan", 1.0), ("", 4.0),
];

#[rustfmt::skip]
const GIVEN_MALE: &[&str] = &[
    "Anh", "Minh", "Hùng", "Dũng", "Tuấn", "Nam", "Hải", "Long", "Sơn", "Thắng", "Cường", "Huy",
    "Hoàng", "Hưng", "Đức", "Quang", "Phong", "Trung", "Thành", "Bình", "Hòa", "Tùng", "Khoa",
    "Việt", "Lâm", "Hiếu", "Tài", "Vinh", "Toàn", "Phúc", "Khánh", "Thịnh", "Tiến", "Kiên",
    "Quân", "Đạt", "Duy", "Hậu", "Hiển", "Hiệp", "Khang", "Khôi", "Lộc", "Luân", "Mạnh", "Nghĩa",
    "Nhân", "Nhật", "Phát", "Phước", "Quốc", "Tâm", "Tân", "Thái", "Thiện", "Thông", "Trí",
    "Trọng", "Tú", "Vũ", "Vương", "Xuân", "Bảo", "Chiến", "Chính", "Công", "Cảnh", "Châu", "Danh",
    "Dương", "Định", "Đông", "Giang", "Hào", "Hiền", "Hoan", "Hội", "Học", "Khải", "Khương",
    "Lực", "Lượng", "Mẫn", "Ninh", "Pháp", "Quyết", "Quý", "Sang", "Tấn", "Thạch", "Thuận",
    "Thụy", "Toản", "Tráng", "Triều", "Trường", "Tuyên", "Uy", "Văn", "Vĩnh", "Vỹ", "Yên", "Ân",
    "Bằng", "Cần", "Cương", "Diệu", "Đăng", "Điệp", "Hạnh", "Hòe", "Huân", "Kha", "Khiêm", "Lãm",
    "Lĩnh", "Lợi", "Mạo", "Nguyên", "Phi", "Phú", "Quảng", "Sỹ", "Tín", "Tuệ", "Tường", "Vĩ",
];

#[rustfmt::skip]
const GIVEN_FEMALE: &[&str] = &[
    "Linh", "Hương", "Trang", "Hà", "Lan", "Hằng", "Anh", "Ngọc", "Thảo", "Phương", "Mai", "Hoa",
    "Hạnh", "Dung", "Huyền", "Nhung", "Thủy", "Yến", "Hiền", "Vân", "Thúy", "Hồng", "Loan", "Nga",
    "Quỳnh", "Tâm", "Thu", "Trinh", "Uyên", "Vy", "Chi", "Giang", "Hòa", "Huệ", "Ly", "My",
    "Ngân", "Nhi", "Oanh", "Phượng", "Quyên", "Thanh", "Thơ", "Thùy", "Trâm", "Tuyết", "Xuân",
    "Ánh", "Diệp", "Diệu", "Duyên", "Đào", "Hảo", "Hậu", "Khánh", "Kiều", "Lam", "Lệ", "Liên",
    "Liễu", "Loan Anh", "Lụa", "Mơ", "Mỹ", "Nguyệt", "Nhàn", "Nhạn", "Nương", "Phấn", "Sen",
    "Sương", "Thắm", "Thoa", "Thoan", "Thương", "Tiên", "Trà", "Tú", "Tươi", "Vui", "Xoan", "Yên",
    "Ái", "Bích", "Cúc", "Dịu", "Đan", "Gấm", "Hân", "Hiên", "Hường", "Khuê", "Lài", "Minh", "Na",
    "Nết", "Nhã", "Ngà", "Nhài", "Phúc", "Quế", "Son", "Tâm Anh", "Thi", "Thục", "Thư", "Trúc",
    "Uyển", "Vàng", "Vinh", "Xuyến", "Ý", "Bảo Ngọc", "Bảo Anh", "Khánh Linh",
];

/// Names whose tone placement varies between the old and the new style (open syllables in
/// oa, oe, uy): the register holds one, a source may hold the other.
const TONE_STYLES: &[(&str, &str)] = &[
    ("Hòa", "Hoà"),
    ("Thủy", "Thuỷ"),
    ("Thúy", "Thuý"),
    ("Thùy", "Thuỳ"),
    ("Thụy", "Thuỵ"),
    ("Hòe", "Hoè"),
];

/// Regional spellings of one family name.
const REGIONAL: &[(&str, &str)] = &[("Hoàng", "Huỳnh"), ("Vũ", "Võ")];

fn other_tone_style(name: &str) -> Option<&'static str> {
    TONE_STYLES.iter().find_map(|&(a, b)| {
        if name == a {
            Some(b)
        } else if name == b {
            Some(a)
        } else {
            None
        }
    })
}

fn regional_variant(name: &str) -> Option<&'static str> {
    REGIONAL.iter().find_map(|&(a, b)| {
        if name == a {
            Some(b)
        } else if name == b {
            Some(a)
        } else {
            None
        }
    })
}

/// Picks from weighted choices.
struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<f64>,
}

impl<T: Clone> Weighted<T> {
    fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            total += weight;
            items.push(item);
            cumulative.push(total);
        }
        Self { items, cumulative }
    }

    fn zipf(items: &[T], exponent: f64) -> Self {
        Self::new(
            items
                .iter()
                .cloned()
                .enumerate()
                .map(|(rank, item)| (item, 1.0 / ((rank + 1) as f64).powf(exponent))),
        )
    }

    fn pick(&self, rng: &mut StdRng) -> T {
        let total = *self.cumulative.last().expect("at least one choice");
        let x = rng.random::<f64>() * total;
        let i = self
            .cumulative
            .partition_point(|&c| c <= x)
            .min(self.items.len() - 1);
        self.items[i].clone()
    }
}

/// A generator of register people.
pub struct Population {
    rng: StdRng,
    family: Weighted<&'static str>,
    middle_male: Weighted<&'static str>,
    middle_female: Weighted<&'static str>,
    given_male: Weighted<&'static str>,
    given_female: Weighted<&'static str>,
    provinces: Weighted<u8>,
    used_pins: HashSet<u64>,
}

impl Population {
    pub fn new(seed: u64) -> Self {
        // Hà Nội and Hồ Chí Minh City register many more births than other provinces.
        let provinces = Weighted::new(MERGER.iter().map(|&(old, _)| {
            let weight = match old {
                1 => 8.0,
                79 => 9.0,
                _ => 1.4,
            };
            (old, weight)
        }));
        Self {
            rng: StdRng::seed_from_u64(seed),
            family: Weighted::new(FAMILY.iter().copied()),
            middle_male: Weighted::new(MIDDLE_MALE.iter().copied()),
            middle_female: Weighted::new(MIDDLE_FEMALE.iter().copied()),
            given_male: Weighted::zipf(GIVEN_MALE, 0.9),
            given_female: Weighted::zipf(GIVEN_FEMALE, 0.9),
            provinces,
            used_pins: HashSet::new(),
        }
    }

    fn fresh_pin(&mut self, province: u8, sex: Sex, year: u16) -> Pin {
        let century_sex = match (year >= 2000, sex) {
            (false, Sex::Male) => 0,
            (false, Sex::Female) => 1,
            (true, Sex::Male) => 2,
            (true, Sex::Female) => 3,
        };
        loop {
            let value = u64::from(province) * 1_000_000_000
                + century_sex * 100_000_000
                + u64::from(year % 100) * 1_000_000
                + self.rng.random_range(0..1_000_000u64);
            if self.used_pins.insert(value) {
                return Pin::from_u64(value).expect("12 digits");
            }
        }
    }

    /// The next register person.
    pub fn person(&mut self) -> PopulationEntry {
        let sex = if self.rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let family = self.family.pick(&mut self.rng);
        let (middle, given) = match sex {
            Sex::Male => (
                self.middle_male.pick(&mut self.rng),
                self.given_male.pick(&mut self.rng),
            ),
            Sex::Female => (
                self.middle_female.pick(&mut self.rng),
                self.given_female.pick(&mut self.rng),
            ),
        };
        // Half of the register spells the tone-variable names the new way.
        let given = match other_tone_style(given) {
            Some(other) if self.rng.random_bool(0.5) => other,
            _ => given,
        };
        let year = 1940 + (self.rng.random::<f64>().powf(0.8) * 85.0) as u16;
        let month = self.rng.random_range(1..=12u8);
        let day = self
            .rng
            .random_range(1..=lienthong_resolve::record::days_in_month(year, month));
        // Old registrations sometimes hold only the year ("00/00/1950").
        let birth_date = if year < 1960 && self.rng.random_bool(0.15) {
            PartialDate::year_only(year).expect("valid year")
        } else {
            PartialDate::full(year, month, day).expect("valid date")
        };
        let old_code = self.provinces.pick(&mut self.rng);
        let pin = self.fresh_pin(old_code, sex, year);
        // A third of the register already holds the post-2025 code.
        let birth_province = if self.rng.random_bool(0.33) {
            let new_code = MERGER.iter().find(|(o, _)| *o == old_code).map(|(_, n)| *n);
            Province::new(ProvinceCodeSystem::From2025, new_code.unwrap_or(old_code))
        } else {
            Province::new(ProvinceCodeSystem::Pre2025, old_code)
        }
        .ok();
        // About 1% had their number re-issued after a correction.
        let superseded = if self.rng.random_bool(0.01) {
            vec![self.fresh_pin(old_code, sex, year)]
        } else {
            Vec::new()
        };
        PopulationEntry {
            pin,
            superseded,
            name: PersonName::new(family, middle, given),
            birth_date,
            sex: Some(sex),
            birth_province,
            deceased: self.rng.random_bool(0.02),
        }
    }

    pub fn people(&mut self, n: usize) -> Vec<PopulationEntry> {
        (0..n).map(|_| self.person()).collect()
    }
}

/// How often each kind of error is injected into a source record (each independently).
#[derive(Debug, Clone)]
pub struct ErrorRates {
    pub pin_missing: f64,
    pub pin_typo: f64,
    pub pin_superseded: f64,
    pub tone_style: f64,
    pub diacritics_stripped: f64,
    pub upper_case: f64,
    pub regional_spelling: f64,
    pub given_typo: f64,
    pub middle_missing: f64,
    pub full_name_only: f64,
    pub day_month_swapped: f64,
    pub year_only: f64,
    pub year_month_only: f64,
    pub year_off_by_one: f64,
    pub other_province_list: f64,
    pub province_missing: f64,
    pub sex_wrong: f64,
    pub sex_missing: f64,
}

impl ErrorRates {
    /// A messy source: every error type well represented.
    pub fn messy() -> Self {
        Self {
            pin_missing: 0.55,
            pin_typo: 0.10,
            pin_superseded: 0.5,
            tone_style: 0.6,
            diacritics_stripped: 0.12,
            upper_case: 0.05,
            regional_spelling: 0.5,
            given_typo: 0.04,
            middle_missing: 0.08,
            full_name_only: 0.05,
            day_month_swapped: 0.08,
            year_only: 0.06,
            year_month_only: 0.04,
            year_off_by_one: 0.02,
            other_province_list: 0.4,
            province_missing: 0.03,
            sex_wrong: 0.01,
            sex_missing: 0.03,
        }
    }
}

/// Removes every diacritic and tone mark (đ → d), keeping case.
pub fn strip_diacritics(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .collect()
}

/// What was done to a record, for diagnosing misses.
#[derive(Debug, Clone, Default)]
pub struct Injected(pub Vec<&'static str>);

/// A source record derived from a register person, with errors injected.
pub fn source_record(
    entry: &PopulationEntry,
    rates: &ErrorRates,
    rng: &mut StdRng,
) -> (QueryRecord, Injected) {
    let mut injected = Injected::default();
    let mut hit = |p: f64, what: &'static str, rng: &mut StdRng| {
        let yes = rng.random_bool(p);
        if yes {
            injected.0.push(what);
        }
        yes
    };

    let personal_id = if hit(rates.pin_missing, "pin_missing", rng) {
        String::new()
    } else if hit(rates.pin_typo, "pin_typo", rng) {
        let mut digits = entry.pin.digits();
        if rng.random_bool(0.5) {
            // One digit replaced, in the six random digits or the year.
            let position = rng.random_range(4..12);
            digits[position] = (digits[position] + rng.random_range(1..10u8)) % 10;
        } else {
            let position = rng.random_range(3..11);
            digits.swap(position, position + 1);
        }
        Pin::from_digits(digits).expect("digits").to_string()
    } else if !entry.superseded.is_empty() && hit(rates.pin_superseded, "pin_superseded", rng) {
        entry.superseded[0].to_string()
    } else {
        entry.pin.to_string()
    };

    let mut family = entry.name.family.clone();
    let mut middle = entry.name.middle.clone();
    let mut given = entry.name.given.clone();
    if let Some(other) = regional_variant(&family)
        && hit(rates.regional_spelling, "regional_spelling", rng)
    {
        family = other.to_owned();
    }
    if let Some(other) = other_tone_style(&given)
        && hit(rates.tone_style, "tone_style", rng)
    {
        given = other.to_owned();
    }
    if hit(rates.given_typo, "given_typo", rng) {
        let mut chars: Vec<char> = given.chars().collect();
        // Not the first letter: typing errors rarely hit it, and nothing could find the person
        // if every key broke at once.
        if chars.len() > 2 {
            let at = rng.random_range(1..chars.len());
            chars[at] = ['a', 'e', 'i', 'o', 'u', 'n', 'h', 't'][rng.random_range(0..8)];
            given = chars.into_iter().collect();
        }
    }
    if hit(rates.middle_missing, "middle_missing", rng) {
        middle.clear();
    }
    if hit(rates.diacritics_stripped, "diacritics_stripped", rng) {
        family = strip_diacritics(&family);
        middle = strip_diacritics(&middle);
        given = strip_diacritics(&given);
    }
    if hit(rates.upper_case, "upper_case", rng) {
        family = family.to_uppercase();
        middle = middle.to_uppercase();
        given = given.to_uppercase();
    }
    let name = if hit(rates.full_name_only, "full_name_only", rng) {
        QueryName {
            full: PersonName {
                family,
                middle,
                given,
            }
            .full(),
            ..QueryName::default()
        }
    } else {
        QueryName {
            full: String::new(),
            family,
            middle,
            given,
        }
    };

    let date = entry.birth_date;
    let birth_date = match (date.year(), date.month(), date.day()) {
        (Some(y), Some(m), Some(d)) => {
            if d <= 12 && d != m && hit(rates.day_month_swapped, "day_month_swapped", rng) {
                PartialDate::full(y, d, m).unwrap_or(date)
            } else if hit(rates.year_only, "year_only", rng) {
                PartialDate::year_only(y).expect("year")
            } else if hit(rates.year_month_only, "year_month_only", rng) {
                PartialDate::new(y, m, 0).expect("year and month")
            } else if hit(rates.year_off_by_one, "year_off_by_one", rng) {
                PartialDate::full(y + 1, m, d).unwrap_or(date)
            } else {
                date
            }
        }
        _ => date,
    };

    let birth_province = if hit(rates.province_missing, "province_missing", rng) {
        None
    } else if hit(rates.other_province_list, "other_province_list", rng) {
        entry.birth_province.and_then(|p| match p.system() {
            ProvinceCodeSystem::Pre2025 => {
                let new_code = MERGER
                    .iter()
                    .find(|(o, _)| *o == p.code())
                    .map(|(_, n)| *n)?;
                Province::new(ProvinceCodeSystem::From2025, new_code).ok()
            }
            // The old code is recoverable only from the ID prefix, which a source may do.
            ProvinceCodeSystem::From2025 => Province::new(
                ProvinceCodeSystem::Pre2025,
                entry.pin.registration_code() as u8,
            )
            .ok(),
        })
    } else {
        entry.birth_province
    };

    let sex = if hit(rates.sex_missing, "sex_missing", rng) {
        None
    } else if hit(rates.sex_wrong, "sex_wrong", rng) {
        entry.sex.map(|s| match s {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        })
    } else {
        entry.sex
    };

    (
        QueryRecord {
            personal_id,
            name,
            birth_date,
            sex,
            birth_province,
        },
        injected,
    )
}

/// Source records with their truth: the current personal ID of the person each describes, or
/// `None` for people absent from the register.
pub fn source_records(
    present: &[PopulationEntry],
    absent: &[PopulationEntry],
    rates: &ErrorRates,
    seed: u64,
) -> Vec<(QueryRecord, Option<Pin>, Injected)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut records: Vec<(QueryRecord, Option<Pin>, Injected)> =
        Vec::with_capacity(present.len() + absent.len());
    for (entries, in_register) in [(present, true), (absent, false)] {
        for entry in entries {
            let (record, injected) = source_record(entry, rates, &mut rng);
            records.push((record, in_register.then_some(entry.pin), injected));
        }
    }
    // Interleave present and absent people.
    for i in (1..records.len()).rev() {
        let j = rng.random_range(0..=i);
        records.swap(i, j);
    }
    records
}

/// `n` distinct people picked from a slice.
pub fn sample<T: Clone>(items: &[T], n: usize, seed: u64) -> Vec<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut picked: Vec<T> = Vec::with_capacity(n);
    let mut used = HashSet::new();
    while picked.len() < n.min(items.len()) {
        let i = rng.random_range(0..items.len());
        if used.insert(i) {
            picked.push(items[i].clone());
        }
    }
    picked
}
