//! What the source databases know about a person beyond the register's fields (ethnic group,
//! religion, hometown, telephone, residence, the old identity card), and the reference tables
//! their rows draw from: communes, ranks and salary scales, positions, employers.
//!
//! A person's attributes come from a generator seeded by the person's ID number, so the
//! civil-servant and the social-security database state the same ethnic group, hometown and
//! telephone for one person — and write the ethnic group in their own code lists.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::names::Weighted;
use crate::noise::strip_diacritics;
use crate::provinces::{PROVINCES_FROM_2025, PROVINCES_PRE_2025, current_province};
use crate::register::{Person, Sex};

/// An ethnic group with its code in each of the two official lists, which disagree (04 is Mường
/// in the 2008 list and Hoa in the 1979 one), and its approximate share of the population in
/// percent (2019 census, rounded). The 13 largest groups with a verified code in both lists; the
/// smaller groups are left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EthnicGroup {
    pub name: &'static str,
    /// Code in `vn.ethnic.qd1019-2008` (QĐ 1019/QĐ-TCTK, 2008).
    pub code_2008: &'static str,
    /// Code in `vn.ethnic.qd121-1979` (QĐ 121-TCTK/PPCD, 1979).
    pub code_1979: &'static str,
    pub share: f64,
}

#[rustfmt::skip]
pub const ETHNIC_GROUPS: [EthnicGroup; 13] = [
    EthnicGroup { name: "Kinh", code_2008: "01", code_1979: "01", share: 85.3 },
    EthnicGroup { name: "Tày", code_2008: "02", code_1979: "02", share: 1.9 },
    EthnicGroup { name: "Thái", code_2008: "03", code_1979: "03", share: 1.9 },
    EthnicGroup { name: "Mường", code_2008: "04", code_1979: "06", share: 1.5 },
    EthnicGroup { name: "Khơ-me", code_2008: "05", code_1979: "05", share: 1.4 },
    EthnicGroup { name: "Hoa", code_2008: "06", code_1979: "04", share: 0.8 },
    EthnicGroup { name: "Nùng", code_2008: "07", code_1979: "07", share: 1.1 },
    EthnicGroup { name: "H'Mông", code_2008: "08", code_1979: "08", share: 1.5 },
    EthnicGroup { name: "Dao", code_2008: "09", code_1979: "09", share: 0.9 },
    EthnicGroup { name: "Gia Rai", code_2008: "10", code_1979: "10", share: 0.5 },
    EthnicGroup { name: "Ê-đê", code_2008: "11", code_1979: "12", share: 0.4 },
    EthnicGroup { name: "Ba Na", code_2008: "12", code_1979: "13", share: 0.3 },
    EthnicGroup { name: "Sán Chay", code_2008: "13", code_1979: "15", share: 0.2 },
];

/// Religions with their code in `vn.religion` and a rough share in percent; most people state
/// none (`00`).
pub const RELIGIONS: [(&str, f64); 6] = [
    ("00", 86.3),
    ("01", 4.8),
    ("02", 6.1),
    ("03", 1.0),
    ("04", 0.6),
    ("05", 1.2),
];

/// A commune (xã, phường, đặc khu) from 2025-07-01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commune {
    /// Five digits, `vn.commune.2025`.
    pub code: String,
    /// `Phường Ba Đình`, `Xã Tân Lập`.
    pub display: String,
    /// The province (code from 2025-07-01).
    pub province: u8,
}

/// The commune list the translator checks codes against, embedded when the crate is built.
const COMMUNES_2025_CSV: &str = include_str!("../../../../schemas/codelists/vn.commune.2025.csv");

static COMMUNES: LazyLock<BTreeMap<u8, Vec<Commune>>> = LazyLock::new(|| {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(COMMUNES_2025_CSV.as_bytes());
    let mut by_province: BTreeMap<u8, Vec<Commune>> = BTreeMap::new();
    for record in reader.records().flatten() {
        let (Some(code), Some(display), Some(parent)) =
            (record.get(0), record.get(1), record.get(2))
        else {
            continue;
        };
        let Ok(province) = parent.parse::<u8>() else {
            continue;
        };
        by_province.entry(province).or_default().push(Commune {
            code: code.to_owned(),
            display: display.to_owned(),
            province,
        });
    }
    by_province
});

/// The communes of a province (code from 2025-07-01); empty for an unknown code.
pub fn communes(province: u8) -> &'static [Commune] {
    COMMUNES.get(&province).map_or(&[], Vec::as_slice)
}

/// Mobile prefixes in use since the 2018 renumbering (the first three digits of ten).
const MOBILE_PREFIXES: [&str; 26] = [
    "032", "033", "034", "035", "036", "037", "038", "039", "070", "076", "077", "078", "079",
    "081", "082", "083", "084", "085", "086", "088", "089", "090", "091", "093", "094", "096",
];

const MAIL_DOMAINS: [&str; 3] = ["gmail.com", "yahoo.com", "outlook.com"];

/// Hamlets and residential groups, as the detail of a hometown or an address names them.
const HAMLET_KINDS: [&str; 5] = ["Thôn", "Xóm", "Tổ dân phố", "Ấp", "Bản"];
const HAMLET_NAMES: [&str; 12] = [
    "Đông",
    "Tây",
    "Nam",
    "Bắc",
    "Trung",
    "Thượng",
    "Hạ",
    "Tân Lập",
    "Tân Hòa",
    "Phú Mỹ",
    "An Bình",
    "Đoài",
];

/// Streets named after historical figures, found in most towns.
const STREETS: [&str; 16] = [
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Quang Trung",
    "Nguyễn Huệ",
    "Hùng Vương",
    "Lê Duẩn",
    "Phan Chu Trinh",
    "Nguyễn Du",
    "Lê Thánh Tông",
    "Trần Phú",
    "Điện Biên Phủ",
    "Nguyễn Văn Cừ",
    "Bà Triệu",
];

/// What the source databases know about a person beyond the register's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonAttributes {
    pub ethnic_group: &'static EthnicGroup,
    /// `vn.religion` code.
    pub religion: &'static str,
    /// Hometown (quê quán) province, code from 2025-07-01.
    pub hometown_province: u8,
    pub hometown_commune: Option<&'static Commune>,
    /// `Thôn Đông`, `Tổ dân phố 5`.
    pub hometown_detail: String,
    /// Ten digits.
    pub mobile: String,
    /// `hoanganh.nv@gmail.com`.
    pub email: String,
    /// Province of permanent residence, pre-2025 code (as the social-security database still
    /// writes it).
    pub residence_province: u8,
    /// The address line: house number, street, commune and province from 2025-07-01.
    pub address: String,
    /// The 9-digit number of the old identity card, for people old enough to have had one.
    pub former_id: Option<String>,
}

impl PersonAttributes {
    /// The attributes of `person`: the same for every table and every run with the same
    /// `seed`.
    pub fn of(person: &Person, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ id_hash(&person.personal_id));
        let ethnic = Weighted::new(ETHNIC_GROUPS.iter().map(|g| (g, g.share)));
        let religion = Weighted::new(RELIGIONS.iter().map(|(code, share)| (*code, *share)));
        let ethnic_group = ethnic.pick(&mut rng);
        let religion = religion.pick(&mut rng);

        let born_in = person.current_birth_province();
        let hometown_province = if rng.random_bool(0.85) {
            born_in
        } else {
            PROVINCES_FROM_2025[rng.random_range(0..PROVINCES_FROM_2025.len())].code
        };
        let hometown_communes = communes(hometown_province);
        let hometown_commune = (!hometown_communes.is_empty())
            .then(|| &hometown_communes[rng.random_range(0..hometown_communes.len())]);
        let hometown_detail = hamlet(&mut rng);

        let mut mobile = MOBILE_PREFIXES[rng.random_range(0..MOBILE_PREFIXES.len())].to_owned();
        for _ in 0..7 {
            mobile.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        let email = email(person, &mut rng);

        let residence_province = if rng.random_bool(0.75) {
            person.birth_province
        } else {
            PROVINCES_PRE_2025[rng.random_range(0..PROVINCES_PRE_2025.len())].code
        };
        let address = address(residence_province, &mut rng);
        // Identity cards of 9 digits were issued until 2016; people born before 2000 had one.
        let former_id = (person.birth_date.year() < 2000 && rng.random_bool(0.6)).then(|| {
            let mut id = char::from(b'0' + rng.random_range(0..4u8)).to_string();
            for _ in 0..8 {
                id.push(char::from(b'0' + rng.random_range(0..10u8)));
            }
            id
        });
        Self {
            ethnic_group,
            religion,
            hometown_province,
            hometown_commune,
            hometown_detail,
            mobile,
            email,
            residence_province,
            address,
            former_id,
        }
    }
}

/// FNV-1a of an ID number: a stable seed per person.
fn id_hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hamlet(rng: &mut StdRng) -> String {
    let kind = HAMLET_KINDS[rng.random_range(0..HAMLET_KINDS.len())];
    if rng.random_bool(0.5) {
        format!("{kind} {}", rng.random_range(1..=15u8))
    } else {
        format!(
            "{kind} {}",
            HAMLET_NAMES[rng.random_range(0..HAMLET_NAMES.len())]
        )
    }
}

/// `given` + initials of the family and middle names, ASCII, at a personal mail provider.
fn email(person: &Person, rng: &mut StdRng) -> String {
    let ascii = |text: &str| -> String {
        strip_diacritics(text)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .flat_map(|c| c.to_lowercase())
            .collect()
    };
    let initials: String = [&person.family_name, &person.middle_name]
        .iter()
        .flat_map(|part| part.split_whitespace())
        .filter_map(|word| ascii(word).chars().next())
        .collect();
    let mut local = format!("{}.{initials}", ascii(&person.given_name));
    if rng.random_bool(0.6) {
        local.push_str(&rng.random_range(1..100u8).to_string());
    }
    format!(
        "{local}@{}",
        MAIL_DOMAINS[rng.random_range(0..MAIL_DOMAINS.len())]
    )
}

/// `Số 12 đường Lê Lợi, Phường Ba Đình, thành phố Hà Nội`: the address as written today, in the
/// province a pre-2025 residence became part of.
fn address(residence_province: u8, rng: &mut StdRng) -> String {
    let unit = crate::provinces::current_code(residence_province)
        .and_then(current_province)
        .unwrap_or(&PROVINCES_FROM_2025[0]);
    let street = STREETS[rng.random_range(0..STREETS.len())];
    let number = rng.random_range(1..=250u16);
    match communes(unit.code) {
        [] => format!("Số {number} đường {street}, {}", unit.full_name()),
        list => {
            let commune = &list[rng.random_range(0..list.len())];
            format!(
                "Số {number} đường {street}, {}, {}",
                commune.display,
                unit.full_name()
            )
        }
    }
}

/// A rank (ngạch) of civil servants with its salary scale: the first coefficient, the
/// increment per step and the number of steps, in hundredths, from the salary tables of
/// Decree 204/2004/NĐ-CP (scales A3.1, A2.1, A1, A0, B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rank {
    /// `csdl-cbcc.ngach` code, e.g. `01.003`.
    pub code: &'static str,
    pub name: &'static str,
    pub first_coefficient: u16,
    pub increment: u16,
    pub steps: u8,
    /// Years between salary steps: three for university-level scales, two below.
    pub years_per_step: u8,
    /// The rank one is promoted to, if any.
    pub next: Option<&'static str>,
}

impl Rank {
    /// The coefficient of `step` (1-based, capped at the last step), in hundredths.
    pub fn coefficient(&self, step: u8) -> u16 {
        let step = step.clamp(1, self.steps);
        self.first_coefficient + self.increment * u16::from(step - 1)
    }

    /// The first step of this rank whose coefficient is at least `hundredths` (on promotion a
    /// civil servant keeps at least the pay they had), the last step if none is.
    pub fn step_for(&self, hundredths: u16) -> u8 {
        (1..=self.steps)
            .find(|&s| self.coefficient(s) >= hundredths)
            .unwrap_or(self.steps)
    }
}

#[rustfmt::skip]
pub const RANKS: [Rank; 8] = [
    Rank { code: "01.001", name: "Chuyên viên cao cấp", first_coefficient: 620, increment: 36, steps: 6, years_per_step: 3, next: None },
    Rank { code: "01.002", name: "Chuyên viên chính", first_coefficient: 440, increment: 34, steps: 8, years_per_step: 3, next: Some("01.001") },
    Rank { code: "01.003", name: "Chuyên viên", first_coefficient: 234, increment: 33, steps: 9, years_per_step: 3, next: Some("01.002") },
    Rank { code: "01.004", name: "Cán sự", first_coefficient: 210, increment: 31, steps: 10, years_per_step: 2, next: Some("01.003") },
    Rank { code: "01.005", name: "Nhân viên", first_coefficient: 186, increment: 20, steps: 12, years_per_step: 2, next: Some("01.004") },
    Rank { code: "04.023", name: "Thanh tra viên cao cấp", first_coefficient: 620, increment: 36, steps: 6, years_per_step: 3, next: None },
    Rank { code: "04.024", name: "Thanh tra viên chính", first_coefficient: 440, increment: 34, steps: 8, years_per_step: 3, next: Some("04.023") },
    Rank { code: "04.025", name: "Thanh tra viên", first_coefficient: 234, increment: 33, steps: 9, years_per_step: 3, next: Some("04.024") },
];

pub fn rank(code: &str) -> Option<&'static Rank> {
    RANKS.iter().find(|r| r.code == code)
}

/// A leadership position of the civil-servant database's own list (`csdl-cbcc.chuc_vu`), with
/// its allowance coefficient in hundredths (illustrative values of the scale for provincial
/// departments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub code: &'static str,
    pub name: &'static str,
    pub allowance: u16,
    /// Relative weight among civil servants who hold a position.
    pub weight: u16,
}

#[rustfmt::skip]
pub const POSITIONS: [Position; 4] = [
    Position { code: "GD", name: "Giám đốc", allowance: 90, weight: 1 },
    Position { code: "PGD", name: "Phó Giám đốc", allowance: 70, weight: 3 },
    Position { code: "TP", name: "Trưởng phòng", allowance: 50, weight: 6 },
    Position { code: "PTP", name: "Phó Trưởng phòng", allowance: 30, weight: 10 },
];

/// An employer of the social-security database: a public body (an [`Organisation`] index) or
/// an enterprise.
///
/// [`Organisation`]: crate::Organisation
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employer {
    /// `MA_DON_VI`: ten characters at most. `HC` + five digits for public bodies, `DN` + five
    /// digits for enterprises: codes made for this data set.
    pub code: String,
    pub name: String,
}

const ENTERPRISE_FORMS: [&str; 3] = ["Công ty TNHH", "Công ty Cổ phần", "Doanh nghiệp tư nhân"];
const ENTERPRISE_TRADES: [&str; 10] = [
    "Thương mại",
    "Xây dựng",
    "Dệt may",
    "Thực phẩm",
    "Cơ khí",
    "Vận tải",
    "Phần mềm",
    "Du lịch",
    "Nông sản",
    "Điện tử",
];
const ENTERPRISE_NAMES: [&str; 12] = [
    "An Phát",
    "Hòa Bình",
    "Minh Long",
    "Thành Công",
    "Việt Tiến",
    "Phú Thành",
    "Đại Nam",
    "Hưng Thịnh",
    "Sao Mai",
    "Trường Sơn",
    "Bình Minh",
    "Hồng Hà",
];

/// Enterprises made for this data set: every form × trade × name (360 of them).
pub fn enterprise(index: usize) -> Employer {
    let n = ENTERPRISE_FORMS.len() * ENTERPRISE_TRADES.len() * ENTERPRISE_NAMES.len();
    let i = index % n;
    let form = ENTERPRISE_FORMS[i % ENTERPRISE_FORMS.len()];
    let trade = ENTERPRISE_TRADES[i / ENTERPRISE_FORMS.len() % ENTERPRISE_TRADES.len()];
    let name = ENTERPRISE_NAMES[i / (ENTERPRISE_FORMS.len() * ENTERPRISE_TRADES.len())];
    Employer {
        code: format!("DN{:05}", i + 1),
        name: format!("{form} {trade} {name}"),
    }
}

/// How many enterprises [`enterprise`] knows.
pub const ENTERPRISES: usize =
    ENTERPRISE_FORMS.len() * ENTERPRISE_TRADES.len() * ENTERPRISE_NAMES.len();

/// The public body with organisation index `index` ([`crate::organisations::organisations`]).
pub fn public_employer(index: usize) -> Employer {
    let organisations = crate::organisations::organisations();
    let organisation = &organisations[index % organisations.len()];
    Employer {
        code: format!("HC{:05}", index % organisations.len() + 1),
        name: organisation.name.clone(),
    }
}

/// Whether a person of this sex and age is past the retirement age of the reference year
/// (about 61 for men and 57 for women in 2026, rising under the Labour Code of 2019; whole
/// years are enough here).
pub fn is_retired(sex: Sex, age: u16) -> bool {
    match sex {
        Sex::Male => age >= 62,
        Sex::Female => age >= 57,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashSet;
    use std::path::Path;

    use super::*;
    use crate::Register;

    fn codelist(name: &str) -> Vec<(String, String)> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/codelists")
            .join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_owned(), r[1].to_owned())
            })
            .collect()
    }

    #[test]
    fn ethnic_codes_name_the_same_group_in_both_lists() {
        let list_2008 = codelist("vn.ethnic.qd1019-2008.csv");
        let list_1979 = codelist("vn.ethnic.qd121-1979.csv");
        let display = |list: &[(String, String)], code: &str| {
            list.iter()
                .find(|(c, _)| c == code)
                .map(|(_, d)| {
                    strip_diacritics(d)
                        .to_lowercase()
                        .replace(['-', '\'', ' '], "")
                })
                .unwrap()
        };
        for group in ETHNIC_GROUPS {
            let name = strip_diacritics(group.name)
                .to_lowercase()
                .replace(['-', '\'', ' '], "");
            assert!(
                display(&list_2008, group.code_2008).contains(&name),
                "{group:?}"
            );
            assert!(
                display(&list_1979, group.code_1979).contains(&name),
                "{group:?}"
            );
        }
        let religions = codelist("vn.religion.csv");
        for (code, _) in RELIGIONS {
            assert!(religions.iter().any(|(c, _)| c == code), "{code}");
        }
    }

    #[test]
    fn every_unit_has_communes_and_they_are_the_code_list() {
        let all: usize = PROVINCES_FROM_2025
            .iter()
            .map(|p| {
                assert!(!communes(p.code).is_empty(), "{}", p.name);
                communes(p.code).len()
            })
            .sum();
        assert_eq!(all, 3_321);
        assert!(communes(2).is_empty());
        assert!(communes(1).iter().any(|c| c.display == "Phường Ba Đình"));
    }

    #[test]
    fn attributes_are_a_function_of_the_person() {
        let people: Vec<Person> = Register::new(4).take(3_000).collect();
        let mut phones = HashSet::new();
        for person in &people {
            let a = PersonAttributes::of(person, 9);
            assert_eq!(a, PersonAttributes::of(person, 9));
            assert_eq!(a.mobile.len(), 10);
            assert!(a.mobile.bytes().all(|b| b.is_ascii_digit()));
            phones.insert(a.mobile.clone());
            assert!(a.email.is_ascii() && a.email.contains('@'), "{}", a.email);
            let commune = a.hometown_commune.unwrap();
            assert_eq!(commune.province, a.hometown_province);
            if let Some(id) = &a.former_id {
                assert_eq!(id.len(), 9);
            }
        }
        assert!(phones.len() > 2_990);
        let kinh = people
            .iter()
            .filter(|p| PersonAttributes::of(p, 9).ethnic_group.name == "Kinh")
            .count();
        assert!((2_450..2_650).contains(&kinh), "{kinh}");
    }

    #[test]
    fn salary_scales_are_those_of_the_tables() {
        let cv = rank("01.003").unwrap();
        assert_eq!((cv.coefficient(1), cv.coefficient(9)), (234, 498));
        assert_eq!(cv.coefficient(12), 498, "capped at the last step");
        assert_eq!(rank("01.002").unwrap().coefficient(8), 678);
        assert_eq!(rank("01.001").unwrap().coefficient(6), 800);
        assert_eq!(rank("01.004").unwrap().coefficient(10), 489);
        assert_eq!(rank("01.005").unwrap().coefficient(12), 406);
        // Promotion from Chuyên viên step 5 (3.66) to Chuyên viên chính: step 1 (4.40).
        assert_eq!(rank("01.002").unwrap().step_for(366), 1);
        assert_eq!(rank("01.003").unwrap().step_for(300), 3);
        for r in RANKS {
            if let Some(next) = r.next {
                assert!(rank(next).is_some(), "{next}");
            }
        }
        assert!(enterprise(0).code.len() <= 10);
        let names: HashSet<String> = (0..ENTERPRISES).map(|i| enterprise(i).name).collect();
        assert_eq!(names.len(), ENTERPRISES);
        assert!(public_employer(0).code.len() <= 10);
    }
}
