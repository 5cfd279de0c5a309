//! The civil-servant database (PostgreSQL): table `public.ho_so_can_bo`, one row per
//! civil-servant file, shaped as `schemas/mappings/csdl-cbcc/ho_so_can_bo.toml` describes it.

use lienthong_vietnamese::legacy::{self, Encoding};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::{POSITIONS, PersonAttributes, RANKS, Rank, is_retired, rank};
use super::defects::{Defect, DefectRates};
use super::value::{ColumnSpec, SqlValue, coefficient_text, date_seconds};
use super::{Generated, Subject, finding, malformed_id};
use crate::date::Date;
use crate::errors::ErrorKind;
use crate::organisations::organisations;
use crate::register::{Person, Sex};

/// The connector's source id, as the mapping names it.
pub const SOURCE_ID: &str = "csdl-cbcc";
pub const SCHEMA: &str = "public";
pub const TABLE: &str = "ho_so_can_bo";

/// The columns, in table order, with the types of the mapping file's header comment.
#[rustfmt::skip]
pub const COLUMNS: [ColumnSpec; 28] = [
    ColumnSpec { name: "id", sql_type: "bigint" },
    ColumnSpec { name: "so_dinh_danh", sql_type: "char(12)" },
    ColumnSpec { name: "ho_ten", sql_type: "varchar(100)" },
    ColumnSpec { name: "ngay_sinh", sql_type: "date" },
    ColumnSpec { name: "gioi_tinh", sql_type: "smallint" },
    ColumnSpec { name: "ma_dan_toc", sql_type: "char(2)" },
    ColumnSpec { name: "ma_ton_giao", sql_type: "char(2)" },
    ColumnSpec { name: "noi_sinh_ma_tinh", sql_type: "char(2)" },
    ColumnSpec { name: "que_quan_ma_tinh", sql_type: "char(2)" },
    ColumnSpec { name: "que_quan_ma_xa", sql_type: "char(5)" },
    ColumnSpec { name: "que_quan_chi_tiet", sql_type: "varchar(255)" },
    ColumnSpec { name: "dien_thoai", sql_type: "varchar(20)" },
    ColumnSpec { name: "email", sql_type: "varchar(100)" },
    ColumnSpec { name: "loai_can_bo", sql_type: "varchar(3)" },
    ColumnSpec { name: "trang_thai", sql_type: "smallint" },
    ColumnSpec { name: "don_vi_id", sql_type: "bigint" },
    ColumnSpec { name: "ten_don_vi", sql_type: "varchar(255)" },
    ColumnSpec { name: "ma_chuc_vu", sql_type: "varchar(10)" },
    ColumnSpec { name: "ten_chuc_vu", sql_type: "varchar(100)" },
    ColumnSpec { name: "ma_ngach", sql_type: "varchar(10)" },
    ColumnSpec { name: "ten_ngach", sql_type: "varchar(100)" },
    ColumnSpec { name: "bac_luong", sql_type: "smallint" },
    ColumnSpec { name: "he_so_luong", sql_type: "numeric(4,2)" },
    ColumnSpec { name: "he_so_phu_cap_cv", sql_type: "numeric(4,2)" },
    ColumnSpec { name: "ngay_tuyen_dung", sql_type: "date" },
    ColumnSpec { name: "ngay_bo_nhiem_ngach", sql_type: "date" },
    ColumnSpec { name: "ngay_vao_dang", sql_type: "date" },
    ColumnSpec { name: "cap_nhat_luc", sql_type: "timestamptz" },
];

/// `trang_thai` codes of the table.
pub mod status {
    pub const ACTIVE: i16 = 1;
    pub const RETIRED: i16 = 2;
    pub const RESIGNED: i16 = 3;
    pub const TRANSFERRED: i16 = 5;
    pub const SUSPENDED: i16 = 7;
}

/// `loai_can_bo` codes with their share: most staff of the bodies are civil servants (CC).
const CATEGORIES: [(&str, f64); 5] = [
    ("CC", 0.70),
    ("VC", 0.12),
    ("CB", 0.06),
    ("CCX", 0.04),
    ("HD", 0.08),
];

/// One row of `public.ho_so_can_bo`. Fields are the columns; `None` is NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoSoCanBo {
    pub id: i64,
    pub so_dinh_danh: Option<String>,
    pub ho_ten: String,
    pub ngay_sinh: Date,
    pub gioi_tinh: Option<i16>,
    pub ma_dan_toc: String,
    pub ma_ton_giao: String,
    pub noi_sinh_ma_tinh: Option<String>,
    pub que_quan_ma_tinh: String,
    pub que_quan_ma_xa: Option<String>,
    pub que_quan_chi_tiet: Option<String>,
    pub dien_thoai: Option<String>,
    pub email: Option<String>,
    pub loai_can_bo: String,
    pub trang_thai: i16,
    pub don_vi_id: i64,
    pub ten_don_vi: String,
    pub ma_chuc_vu: Option<String>,
    pub ten_chuc_vu: Option<String>,
    pub ma_ngach: String,
    pub ten_ngach: String,
    pub bac_luong: i16,
    /// Hundredths.
    pub he_so_luong: u16,
    /// Hundredths; `None` without a position.
    pub he_so_phu_cap_cv: Option<u16>,
    pub ngay_tuyen_dung: Date,
    pub ngay_bo_nhiem_ngach: Date,
    pub ngay_vao_dang: Option<Date>,
    /// Seconds since 1970.
    pub cap_nhat_luc: i64,
}

impl HoSoCanBo {
    /// The values in [`COLUMNS`] order.
    pub fn values(&self) -> Vec<SqlValue> {
        let text = |v: &Option<String>| SqlValue::text(v.clone());
        vec![
            SqlValue::Int(self.id),
            text(&self.so_dinh_danh),
            SqlValue::Text(self.ho_ten.clone()),
            SqlValue::Date(self.ngay_sinh),
            self.gioi_tinh
                .map_or(SqlValue::Null, |s| SqlValue::Int(i64::from(s))),
            SqlValue::Text(self.ma_dan_toc.clone()),
            SqlValue::Text(self.ma_ton_giao.clone()),
            text(&self.noi_sinh_ma_tinh),
            SqlValue::Text(self.que_quan_ma_tinh.clone()),
            text(&self.que_quan_ma_xa),
            text(&self.que_quan_chi_tiet),
            text(&self.dien_thoai),
            text(&self.email),
            SqlValue::Text(self.loai_can_bo.clone()),
            SqlValue::Int(i64::from(self.trang_thai)),
            SqlValue::Int(self.don_vi_id),
            SqlValue::Text(self.ten_don_vi.clone()),
            text(&self.ma_chuc_vu),
            text(&self.ten_chuc_vu),
            SqlValue::Text(self.ma_ngach.clone()),
            SqlValue::Text(self.ten_ngach.clone()),
            SqlValue::Int(i64::from(self.bac_luong)),
            SqlValue::Decimal(coefficient_text(self.he_so_luong)),
            self.he_so_phu_cap_cv
                .map_or(SqlValue::Null, |c| SqlValue::Decimal(coefficient_text(c))),
            SqlValue::Date(self.ngay_tuyen_dung),
            SqlValue::Date(self.ngay_bo_nhiem_ngach),
            self.ngay_vao_dang.map_or(SqlValue::Null, SqlValue::Date),
            SqlValue::Instant(self.cap_nhat_luc),
        ]
    }

    /// The record id the translator gives this row: `csdl-cbcc:public.ho_so_can_bo:id=17`.
    pub fn record_id(&self) -> String {
        record_id(self.id)
    }
}

/// The record id of the row with this `id`.
pub fn record_id(id: i64) -> String {
    format!("{SOURCE_ID}:{SCHEMA}.{TABLE}:id={id}")
}

/// `sex` as `gioi_tinh` codes it (the `lienthong.sex` coding).
pub fn sex_code(sex: Sex) -> i16 {
    match sex {
        Sex::Male => 1,
        Sex::Female => 2,
    }
}

/// Makes the rows of `ho_so_can_bo`. Deterministic by seed: the same people in the same order
/// get the same rows.
#[derive(Debug)]
pub struct CivilServiceRows {
    rng: StdRng,
    seed: u64,
    defects: DefectRates,
    reference_date: Date,
    /// Rows were last updated at most this long before `now`.
    now: i64,
}

/// Where a file's row comes from: a file opened long ago ([`CivilServiceRows::file`]) or a new
/// hire ([`CivilServiceRows::hire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Career {
    Established,
    Hired { on: Date },
}

impl CivilServiceRows {
    /// `now` (seconds since 1970) bounds every update time; `reference_date` is the day the
    /// files describe.
    pub fn new(seed: u64, defects: DefectRates, reference_date: Date, now: i64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0xC5DB_0000_0000_0001),
            seed,
            defects,
            reference_date,
            now,
        }
    }

    /// Rows made from now on are updated at `now` (seconds since 1970).
    pub fn set_now(&mut self, now: i64) {
        self.now = now;
    }

    /// The file of a person employed by organisation `organisation` (an index of
    /// [`organisations`]) for years.
    pub fn file(
        &mut self,
        id: i64,
        subject: Subject<'_>,
        organisation: usize,
    ) -> Generated<HoSoCanBo> {
        self.row(id, subject, organisation, Career::Established)
    }

    /// The file of a person hired on `on`: first rank, first step, active.
    pub fn hire(
        &mut self,
        id: i64,
        subject: Subject<'_>,
        organisation: usize,
        on: Date,
    ) -> Generated<HoSoCanBo> {
        self.row(id, subject, organisation, Career::Hired { on })
    }

    fn row(
        &mut self,
        id: i64,
        subject: Subject<'_>,
        organisation: usize,
        career: Career,
    ) -> Generated<HoSoCanBo> {
        let Subject {
            person,
            in_register,
            stated,
            errors,
        } = subject;
        let errors = errors.to_vec();
        let attributes = PersonAttributes::of(person, self.seed);
        let organisations = organisations();
        let organisation_index = organisation % organisations.len();
        let employer = &organisations[organisation_index];
        let mut defects = Vec::new();
        let mut findings = Vec::new();

        // Draw every defect once per row, in the same order, so one rate does not move the
        // others' draws.
        let drawn: Vec<bool> = Defect::ALL
            .iter()
            .map(|d| self.rng.random_bool(self.defects.rate(*d)))
            .collect();
        let drew = |d: Defect| {
            Defect::ALL
                .iter()
                .position(|x| *x == d)
                .is_some_and(|i| drawn[i])
        };

        let mut so_dinh_danh = stated.personal_id.clone();
        if drew(Defect::InvalidId)
            && let Some(id) = &so_dinh_danh
        {
            so_dinh_danh = Some(malformed_id(
                id,
                attributes.former_id.as_deref(),
                &mut self.rng,
            ));
            defects.push(Defect::InvalidId);
            findings.push(finding::PIN_INVALID);
        }

        let mut ho_ten = stated.full_name();
        if errors.contains(&ErrorKind::Tcvn3) && legacy::detect(&ho_ten) == Encoding::Tcvn3 {
            findings.push(finding::TEXT_LEGACY_ENCODING);
        } else if drew(Defect::Vni)
            && !errors.contains(&ErrorKind::Tcvn3)
            && let Ok(vni) = legacy::from_unicode(&ho_ten, Encoding::Vni)
            && vni != ho_ten
            && legacy::detect(&vni) == Encoding::Vni
        {
            ho_ten = vni;
            defects.push(Defect::Vni);
            findings.push(finding::TEXT_LEGACY_ENCODING);
        }

        let gioi_tinh = stated.sex.map(sex_code);
        let noi_sinh_ma_tinh = stated.birth_province.map(|p| format!("{:02}", p.code));

        let age = person.age_on(self.reference_date);
        let (recruited, rank, appointed, step) =
            self.career(person, employer.code.as_str(), career);
        let he_so_luong = rank.coefficient(step);
        let category = match career {
            Career::Hired { .. } => "CC",
            Career::Established => pick(&CATEGORIES, &mut self.rng),
        };
        let trang_thai = match career {
            Career::Hired { .. } => status::ACTIVE,
            Career::Established if is_retired(person.sex, age) => status::RETIRED,
            Career::Established => {
                let x = self.rng.random::<f64>();
                if x < 0.01 {
                    status::TRANSFERRED
                } else if x < 0.015 {
                    status::SUSPENDED
                } else if x < 0.02 {
                    status::RESIGNED
                } else {
                    status::ACTIVE
                }
            }
        };
        // One in five of those aged 30 or more holds a leadership position.
        let position = match career {
            Career::Established if age >= 30 && self.rng.random_bool(0.2) => {
                let total: u16 = POSITIONS.iter().map(|p| p.weight).sum();
                let mut x = self.rng.random_range(0..total);
                POSITIONS.iter().find(|p| {
                    if x < p.weight {
                        true
                    } else {
                        x -= p.weight;
                        false
                    }
                })
            }
            _ => None,
        };
        let party =
            (matches!(career, Career::Established) && self.rng.random_bool(0.45)).then(|| {
                let earliest = person
                    .birth_date
                    .shift_years(18)
                    .unwrap_or(recruited)
                    .max(recruited.shift_years(-3).unwrap_or(recruited));
                self.date_between(earliest, self.reference_date)
            });
        let dien_thoai = self.rng.random_bool(0.9).then(|| {
            let m = &attributes.mobile;
            match self.rng.random_range(0..3u8) {
                0 => m.clone(),
                1 => format!("{} {} {}", &m[..4], &m[4..7], &m[7..]),
                _ => format!("{}.{}.{}", &m[..4], &m[4..7], &m[7..]),
            }
        });
        let email = self.rng.random_bool(0.7).then(|| attributes.email.clone());
        let updated_days = self.rng.random_range(0..730i64);
        let cap_nhat_luc = match career {
            Career::Hired { .. } => self.now,
            Career::Established => {
                (self.now - updated_days * 86_400 - self.rng.random_range(0..86_400i64))
                    .max(date_seconds(recruited))
                    .min(self.now)
            }
        };

        let mut row = HoSoCanBo {
            id,
            so_dinh_danh,
            ho_ten,
            ngay_sinh: stated.birth_date,
            gioi_tinh,
            ma_dan_toc: attributes.ethnic_group.code_2008.to_owned(),
            ma_ton_giao: attributes.religion.to_owned(),
            noi_sinh_ma_tinh,
            que_quan_ma_tinh: format!("{:02}", attributes.hometown_province),
            que_quan_ma_xa: attributes.hometown_commune.map(|c| c.code.clone()),
            que_quan_chi_tiet: self
                .rng
                .random_bool(0.8)
                .then(|| attributes.hometown_detail.clone()),
            dien_thoai,
            email,
            loai_can_bo: category.to_owned(),
            trang_thai,
            don_vi_id: organisation_id(organisation_index),
            ten_don_vi: employer.name.clone(),
            ma_chuc_vu: position.map(|p| p.code.to_owned()),
            ten_chuc_vu: position.map(|p| p.name.to_owned()),
            ma_ngach: rank.code.to_owned(),
            ten_ngach: rank.name.to_owned(),
            bac_luong: i16::from(step),
            he_so_luong,
            he_so_phu_cap_cv: position.map(|p| p.allowance),
            ngay_tuyen_dung: recruited,
            ngay_bo_nhiem_ngach: appointed,
            ngay_vao_dang: party,
            cap_nhat_luc,
        };

        if drew(Defect::UnknownCode) {
            // One coded column holds a code of no list; the finding depends on its transform.
            match self.rng.random_range(0..4u8) {
                0 => {
                    row.gioi_tinh = Some(3);
                    findings.push(finding::CODE_UNKNOWN);
                }
                1 => {
                    row.loai_can_bo = "XX".to_owned();
                    findings.push(finding::MAP_UNMAPPED);
                }
                2 => {
                    row.trang_thai = 9;
                    findings.push(finding::MAP_UNMAPPED);
                }
                _ => {
                    row.ma_ton_giao = "99".to_owned();
                    findings.push(finding::CODE_UNKNOWN);
                }
            }
            defects.push(Defect::UnknownCode);
        }

        defects.sort_unstable();
        findings.sort_unstable();
        findings.dedup();
        Generated {
            record_id: row.record_id(),
            row,
            personal_id: in_register.then(|| person.personal_id.clone()),
            errors,
            defects,
            findings,
            rejected: false,
        }
    }

    /// Recruitment date, rank, appointment to the rank and salary step.
    fn career(
        &mut self,
        person: &Person,
        organisation: &str,
        career: Career,
    ) -> (Date, &'static Rank, Date, u8) {
        let inspector = organisation.ends_with(".TT") || organisation == "TW.TTCP";
        let base = |general: &'static str, inspection: &'static str| {
            rank(if inspector { inspection } else { general }).unwrap_or(&RANKS[2])
        };
        if let Career::Hired { on } = career {
            return (on, base("01.003", "04.025"), on, 1);
        }
        let adult = person
            .birth_date
            .shift_years(18)
            .unwrap_or(person.birth_date);
        let age_at_recruitment = self.rng.random_range(22..=30);
        let earliest = person
            .birth_date
            .shift_years(age_at_recruitment)
            .unwrap_or(adult)
            .min(self.reference_date);
        let recruited = self.date_between(earliest.max(adult), self.reference_date);
        let years = recruited.age_on(self.reference_date);
        let x = self.rng.random::<f64>();
        // Seniority decides how far up the scales a career has gone.
        let rank = if years >= 20 && x < 0.12 {
            base("01.001", "04.023")
        } else if years >= 9 && x < 0.45 {
            base("01.002", "04.024")
        } else if x < 0.85 || inspector {
            base("01.003", "04.025")
        } else if x < 0.95 {
            rank("01.004").unwrap_or(&RANKS[3])
        } else {
            rank("01.005").unwrap_or(&RANKS[4])
        };
        // A recruit enters at Chuyên viên or below; higher ranks come after years of service.
        let entry_rank = matches!(rank.code, "01.003" | "04.025" | "01.004" | "01.005");
        let appointed = if entry_rank {
            recruited
        } else {
            let from = recruited
                .shift_years(i32::from(years.min(9)))
                .unwrap_or(recruited);
            self.date_between(from.min(self.reference_date), self.reference_date)
        };
        let years_in_rank = appointed.age_on(self.reference_date);
        let step = u8::try_from(1 + years_in_rank / u16::from(rank.years_per_step))
            .unwrap_or(u8::MAX)
            .min(rank.steps);
        (recruited, rank, appointed, step)
    }

    fn date_between(&mut self, from: Date, to: Date) -> Date {
        let (a, b) = (date_seconds(from), date_seconds(to));
        if b <= a {
            return from;
        }
        let days = (b - a) / 86_400;
        let offset = self.rng.random_range(0..=days);
        super::value::vietnam_date(a + offset * 86_400)
    }
}

/// `don_vi_id` of the organisation with this index of [`organisations`]: its position, from 1.
pub fn organisation_id(index: usize) -> i64 {
    i64::try_from(index).unwrap_or(i64::MAX - 1) + 1
}

fn pick(choices: &[(&'static str, f64)], rng: &mut StdRng) -> &'static str {
    let total: f64 = choices.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (choice, weight) in choices {
        if x < *weight {
            return choice;
        }
        x -= weight;
    }
    choices.last().map_or("", |(c, _)| c)
}
