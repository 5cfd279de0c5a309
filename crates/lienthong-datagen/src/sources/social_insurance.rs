//! The social-security database (MariaDB): table `QUA_TRINH_THAM_GIA`, one row per contribution
//! period of a participant with the participant's personal data repeated on every row, shaped
//! as `schemas/mappings/bhxh/qua_trinh_tham_gia.toml` describes it.

use std::fmt;

use lienthong_vietnamese::legacy::{self, Encoding};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::{ENTERPRISES, Employer, PersonAttributes, enterprise, is_retired};
use super::defects::{Defect, DefectRates};
use super::value::{ColumnSpec, SqlValue};
use super::{Generated, Subject, finding, malformed_id};
use crate::date::Date;
use crate::errors::ErrorKind;
use crate::register::Sex;

/// The connector's source id, and the MariaDB database the mapping names.
pub const SOURCE_ID: &str = "bhxh";
pub const SCHEMA: &str = "bhxh";
pub const TABLE: &str = "QUA_TRINH_THAM_GIA";

/// The columns, in table order, with the types of the mapping file's header comment.
#[rustfmt::skip]
pub const COLUMNS: [ColumnSpec; 19] = [
    ColumnSpec { name: "ID", sql_type: "BIGINT" },
    ColumnSpec { name: "MA_SO_BHXH", sql_type: "CHAR(10)" },
    ColumnSpec { name: "SO_CCCD", sql_type: "VARCHAR(12)" },
    ColumnSpec { name: "SO_CMND", sql_type: "VARCHAR(12)" },
    ColumnSpec { name: "HO_TEN", sql_type: "VARCHAR(100)" },
    ColumnSpec { name: "NGAY_SINH", sql_type: "VARCHAR(10)" },
    ColumnSpec { name: "GIOI_TINH", sql_type: "TINYINT" },
    ColumnSpec { name: "MA_DAN_TOC", sql_type: "CHAR(2)" },
    ColumnSpec { name: "MA_TINH_KS", sql_type: "CHAR(3)" },
    ColumnSpec { name: "MA_TINH", sql_type: "CHAR(2)" },
    ColumnSpec { name: "DIA_CHI", sql_type: "VARCHAR(255)" },
    ColumnSpec { name: "DIEN_THOAI", sql_type: "VARCHAR(15)" },
    ColumnSpec { name: "LOAI_BH", sql_type: "CHAR(2)" },
    ColumnSpec { name: "MA_DON_VI", sql_type: "VARCHAR(10)" },
    ColumnSpec { name: "TEN_DON_VI", sql_type: "VARCHAR(255)" },
    ColumnSpec { name: "MUC_LUONG", sql_type: "DECIMAL(15,0)" },
    ColumnSpec { name: "TU_THANG", sql_type: "CHAR(7)" },
    ColumnSpec { name: "DEN_THANG", sql_type: "CHAR(7)" },
    ColumnSpec { name: "NGAY_CAP_NHAT", sql_type: "DATETIME" },
];

/// `LOAI_BH`: compulsory (bắt buộc), voluntary (tự nguyện), health (y tế), unemployment
/// (thất nghiệp).
pub mod scheme {
    pub const COMPULSORY: &str = "BB";
    pub const VOLUNTARY: &str = "TN";
    pub const HEALTH: &str = "YT";
    pub const UNEMPLOYMENT: &str = "TT";
}

/// The social insurance scheme started in 1995: no period begins earlier.
pub const FIRST_MONTH: Month = Month {
    year: 1995,
    month: 1,
};

/// A calendar month, written `mm/yyyy` as `TU_THANG` and `DEN_THANG` hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: u16,
    /// 1–12.
    pub month: u8,
}

impl Month {
    pub fn of(date: Date) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// `months` later (earlier when negative).
    pub fn plus(self, months: i32) -> Self {
        let index = i32::from(self.year) * 12 + i32::from(self.month) - 1 + months;
        Self {
            year: u16::try_from(index.div_euclid(12)).unwrap_or(0),
            month: u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1),
        }
    }

    /// Months from `self` to `later` (negative when `later` is earlier).
    pub fn until(self, later: Month) -> i32 {
        (i32::from(later.year) - i32::from(self.year)) * 12 + i32::from(later.month)
            - i32::from(self.month)
    }

    /// Reads `mm/yyyy`.
    pub fn parse(text: &str) -> Option<Self> {
        let (month, year) = text.trim().split_once('/')?;
        let month: u8 = month.parse().ok()?;
        let year: u16 = year.parse().ok()?;
        (1..=12).contains(&month).then_some(Self { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:04}", self.month, self.year)
    }
}

/// One row of `QUA_TRINH_THAM_GIA`. Fields are the columns; `None` is NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuaTrinhThamGia {
    pub id: i64,
    pub ma_so_bhxh: String,
    pub so_cccd: Option<String>,
    pub so_cmnd: Option<String>,
    pub ho_ten: String,
    /// `dd/mm/yyyy`, partial (`00/00/yyyy`) or, as a defect, impossible.
    pub ngay_sinh: Option<String>,
    pub gioi_tinh: Option<i16>,
    pub ma_dan_toc: Option<String>,
    pub ma_tinh_ks: Option<String>,
    pub ma_tinh: String,
    pub dia_chi: Option<String>,
    pub dien_thoai: Option<String>,
    pub loai_bh: String,
    pub ma_don_vi: Option<String>,
    pub ten_don_vi: Option<String>,
    /// VND.
    pub muc_luong: u64,
    /// `mm/yyyy`.
    pub tu_thang: String,
    /// `mm/yyyy`; empty while the period is open.
    pub den_thang: String,
    /// Seconds since 1970 (written as Vietnam's wall-clock time).
    pub ngay_cap_nhat: i64,
}

impl QuaTrinhThamGia {
    /// The values in [`COLUMNS`] order.
    pub fn values(&self) -> Vec<SqlValue> {
        let text = |v: &Option<String>| SqlValue::text(v.clone());
        vec![
            SqlValue::Int(self.id),
            SqlValue::Text(self.ma_so_bhxh.clone()),
            text(&self.so_cccd),
            text(&self.so_cmnd),
            SqlValue::Text(self.ho_ten.clone()),
            text(&self.ngay_sinh),
            self.gioi_tinh
                .map_or(SqlValue::Null, |s| SqlValue::Int(i64::from(s))),
            text(&self.ma_dan_toc),
            text(&self.ma_tinh_ks),
            SqlValue::Text(self.ma_tinh.clone()),
            text(&self.dia_chi),
            text(&self.dien_thoai),
            SqlValue::Text(self.loai_bh.clone()),
            text(&self.ma_don_vi),
            text(&self.ten_don_vi),
            SqlValue::Decimal(self.muc_luong.to_string()),
            SqlValue::Text(self.tu_thang.clone()),
            SqlValue::Text(self.den_thang.clone()),
            SqlValue::VietnamDateTime(self.ngay_cap_nhat),
        ]
    }

    /// The record id the translator gives this row: `bhxh:bhxh.QUA_TRINH_THAM_GIA:ID=17`.
    pub fn record_id(&self) -> String {
        record_id(self.id)
    }
}

/// The record id of the row with this `ID`.
pub fn record_id(id: i64) -> String {
    format!("{SOURCE_ID}:{SCHEMA}.{TABLE}:ID={id}")
}

/// `sex` as `GIOI_TINH` codes it: 1 male, 0 female.
pub fn sex_code(sex: Sex) -> i16 {
    match sex {
        Sex::Male => 1,
        Sex::Female => 0,
    }
}

/// A social insurance number: ten digits, the first two the province (pre-2025 code) where
/// the book was opened, then a serial. `serial` below 10⁸ gives distinct numbers.
pub fn insurance_number(province: u8, serial: u64) -> String {
    // An odd multiplier coprime with 10⁸ permutes the serials, so numbers look random.
    let scrambled = serial.wrapping_mul(7_305_221) % 100_000_000;
    format!("{:02}{scrambled:08}", province % 100)
}

/// The personal columns a participant's rows repeat, and the defects they hold.
#[derive(Debug, Clone)]
struct PersonalColumns {
    ma_so_bhxh: String,
    so_cccd: Option<String>,
    so_cmnd: Option<String>,
    ho_ten: String,
    ngay_sinh: Option<String>,
    gioi_tinh: Option<i16>,
    ma_dan_toc: Option<String>,
    ma_tinh_ks: Option<String>,
    ma_tinh: String,
    dia_chi: Option<String>,
    dien_thoai: Option<String>,
    defects: Vec<Defect>,
    findings: Vec<&'static str>,
}

/// One contribution period's own values.
#[derive(Debug, Clone, Copy)]
struct Period {
    from: Month,
    /// `None` while open.
    to: Option<Month>,
    salary: u64,
    updated: i64,
}

/// Makes the rows of `QUA_TRINH_THAM_GIA`. Deterministic by seed: the same participants in
/// the same order get the same rows.
#[derive(Debug)]
pub struct SocialInsuranceRows {
    rng: StdRng,
    seed: u64,
    defects: DefectRates,
    reference_date: Date,
    now: i64,
}

impl SocialInsuranceRows {
    /// `now` (seconds since 1970) bounds every update time; `reference_date` is the last month
    /// of the history.
    pub fn new(seed: u64, defects: DefectRates, reference_date: Date, now: i64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ 0xB4C5_0000_0000_0002),
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

    /// The contribution history of a participant, rows numbered from `first_id`: one to four
    /// periods from their first job to the reference month, the last with `employer` and open
    /// unless they are past retirement age. The subject's errors that cannot show in this
    /// table are dropped.
    pub fn participant(
        &mut self,
        first_id: i64,
        number: String,
        subject: Subject<'_>,
        employer: &Employer,
    ) -> Vec<Generated<QuaTrinhThamGia>> {
        let errors = shown_errors(subject.errors);
        let subject = Subject {
            errors: &errors,
            ..subject
        };
        let person = subject.person;
        let personal = self.personal_columns(number, subject);
        let reference = Month::of(self.reference_date);
        let start_age = self.rng.random_range(18..=25);
        let start = person
            .birth_date
            .shift_years(start_age)
            .map_or(FIRST_MONTH, Month::of)
            .max(FIRST_MONTH)
            .min(reference);
        let retired = is_retired(person.sex, person.age_on(self.reference_date));
        let periods = self.rng.random_range(1..=4usize);
        let mut salary = 1_000 * self.rng.random_range(3_500..8_000u64);
        let mut rows = Vec::with_capacity(periods);
        let mut from = start;
        for i in 0..periods {
            let length = self.rng.random_range(6..=120);
            let until = from.plus(length - 1).min(reference);
            let last = i + 1 == periods || until >= reference;
            let (to, employer) = if last {
                let to = if retired { Some(until) } else { None };
                (to, employer.clone())
            } else if self.rng.random_bool(0.5) {
                (Some(until), employer.clone())
            } else {
                (
                    Some(until),
                    enterprise(self.rng.random_range(0..ENTERPRISES)),
                )
            };
            let updated = self.update_time();
            rows.push(self.period(
                first_id + i64::try_from(i).unwrap_or(0),
                &personal,
                subject,
                &employer,
                Period {
                    from,
                    to,
                    salary,
                    updated,
                },
            ));
            if last {
                break;
            }
            // `until` is before the reference month here, so the next period starts after it.
            from = until.plus(self.rng.random_range(1..=7)).min(reference);
            salary = (salary + salary * self.rng.random_range(5..25u64) / 100) / 1_000 * 1_000;
        }
        rows
    }

    /// A new participant's first period, open from `month`, updated at `now`.
    pub fn enrolment(
        &mut self,
        id: i64,
        number: String,
        subject: Subject<'_>,
        employer: &Employer,
        month: Month,
    ) -> Generated<QuaTrinhThamGia> {
        let errors = shown_errors(subject.errors);
        let subject = Subject {
            errors: &errors,
            ..subject
        };
        let personal = self.personal_columns(number, subject);
        let period = Period {
            from: month,
            to: None,
            salary: 1_000 * self.rng.random_range(4_960..12_000u64),
            updated: self.now,
        };
        self.period(id, &personal, subject, employer, period)
    }

    /// Update times within the last four years: the mapping flags rows older than five.
    fn update_time(&mut self) -> i64 {
        self.now - self.rng.random_range(0..1_400i64) * 86_400 - self.rng.random_range(0..86_400i64)
    }

    fn personal_columns(&mut self, mut number: String, subject: Subject<'_>) -> PersonalColumns {
        let Subject {
            person,
            stated,
            errors,
            ..
        } = subject;
        let attributes = PersonAttributes::of(person, self.seed);
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
        let mut defects = Vec::new();
        let mut findings = Vec::new();

        let mut so_cccd = stated.personal_id.clone();
        if drew(Defect::InvalidId)
            && let Some(id) = &so_cccd
        {
            so_cccd = Some(malformed_id(
                id,
                attributes.former_id.as_deref(),
                &mut self.rng,
            ));
            defects.push(Defect::InvalidId);
            findings.push(finding::PIN_INVALID);
        }

        // The system writes names in capitals; names stored in a legacy encoding came from
        // older systems as they were.
        let name = stated.full_name();
        let ho_ten = if errors.contains(&ErrorKind::Tcvn3) {
            if legacy::detect(&name) == Encoding::Tcvn3 {
                findings.push(finding::TEXT_LEGACY_ENCODING);
            }
            name
        } else if drew(Defect::Vni)
            && let Ok(vni) = legacy::from_unicode(&name, Encoding::Vni)
            && vni != name
            && legacy::detect(&vni) == Encoding::Vni
        {
            defects.push(Defect::Vni);
            findings.push(finding::TEXT_LEGACY_ENCODING);
            vni
        } else if self.rng.random_bool(0.8) {
            name.to_uppercase()
        } else {
            name
        };

        let date = stated.birth_date;
        let ngay_sinh = if drew(Defect::ImpossibleDate) {
            // The 31st of a month of thirty days.
            let month = [4u8, 6, 9, 11][self.rng.random_range(0..4)];
            defects.push(Defect::ImpossibleDate);
            findings.push(finding::VALUE_INVALID_DATE);
            format!("31/{month:02}/{:04}", date.year())
        } else if drew(Defect::PartialBirthDate) {
            defects.push(Defect::PartialBirthDate);
            findings.push(finding::DATE_PARTIAL);
            if self.rng.random_bool(0.7) {
                format!("00/00/{:04}", date.year())
            } else {
                format!("00/{:02}/{:04}", date.month(), date.year())
            }
        } else {
            date.dmy()
        };

        if drew(Defect::InvalidInsuranceNumber) {
            let at = self.rng.random_range(0..number.len());
            number.remove(at);
            defects.push(Defect::InvalidInsuranceNumber);
            findings.push(finding::INSURANCE_NUMBER_INVALID);
        }

        PersonalColumns {
            ma_so_bhxh: number,
            so_cccd,
            so_cmnd: attributes.former_id.clone(),
            ho_ten,
            ngay_sinh: Some(ngay_sinh),
            gioi_tinh: stated.sex.map(sex_code),
            ma_dan_toc: self
                .rng
                .random_bool(0.85)
                .then(|| attributes.ethnic_group.code_1979.to_owned()),
            // As the ID number writes it: the pre-2025 province of birth registration.
            ma_tinh_ks: stated
                .birth_province
                .map(|_| format!("{:03}", person.birth_province)),
            ma_tinh: format!("{:02}", attributes.residence_province),
            dia_chi: self
                .rng
                .random_bool(0.8)
                .then(|| attributes.address.clone()),
            dien_thoai: self
                .rng
                .random_bool(0.85)
                .then(|| attributes.mobile.clone()),
            defects,
            findings,
        }
    }

    fn period(
        &mut self,
        id: i64,
        personal: &PersonalColumns,
        subject: Subject<'_>,
        employer: &Employer,
        period: Period,
    ) -> Generated<QuaTrinhThamGia> {
        let Period {
            from,
            to,
            salary,
            updated,
        } = period;
        let x = self.rng.random::<f64>();
        let loai_bh = if x < 0.88 {
            scheme::COMPULSORY
        } else if x < 0.96 {
            scheme::VOLUNTARY
        } else if x < 0.98 {
            scheme::UNEMPLOYMENT
        } else {
            scheme::HEALTH
        };
        // Voluntary contributors pay for themselves: no employer.
        let (ma_don_vi, ten_don_vi) = if loai_bh == scheme::VOLUNTARY {
            (None, None)
        } else {
            (Some(employer.code.clone()), Some(employer.name.clone()))
        };
        let mut row = QuaTrinhThamGia {
            id,
            ma_so_bhxh: personal.ma_so_bhxh.clone(),
            so_cccd: personal.so_cccd.clone(),
            so_cmnd: personal.so_cmnd.clone(),
            ho_ten: personal.ho_ten.clone(),
            ngay_sinh: personal.ngay_sinh.clone(),
            gioi_tinh: personal.gioi_tinh,
            ma_dan_toc: personal.ma_dan_toc.clone(),
            ma_tinh_ks: personal.ma_tinh_ks.clone(),
            ma_tinh: personal.ma_tinh.clone(),
            dia_chi: personal.dia_chi.clone(),
            dien_thoai: personal.dien_thoai.clone(),
            loai_bh: loai_bh.to_owned(),
            ma_don_vi,
            ten_don_vi,
            muc_luong: salary,
            tu_thang: from.to_string(),
            den_thang: to.map(|m| m.to_string()).unwrap_or_default(),
            ngay_cap_nhat: updated.min(self.now),
        };
        let mut defects = personal.defects.clone();
        let mut findings = personal.findings.clone();
        let mut rejected = false;
        if self.rng.random_bool(self.defects.unknown_code) {
            match self.rng.random_range(0..4u8) {
                0 => {
                    row.loai_bh = "XX".to_owned();
                    findings.push(finding::MAP_UNMAPPED);
                }
                1 => {
                    row.ma_dan_toc = Some("99".to_owned());
                    findings.push(finding::CODE_UNKNOWN);
                }
                2 => {
                    row.ma_tinh = "99".to_owned();
                    findings.push(finding::CODE_UNKNOWN);
                }
                _ => {
                    row.gioi_tinh = Some(2);
                    findings.push(finding::MAP_UNMAPPED);
                }
            }
            defects.push(Defect::UnknownCode);
        }
        if self.rng.random_bool(self.defects.unreadable_period) {
            row.tu_thang = format!("13/{:04}", from.year);
            defects.push(Defect::UnreadablePeriod);
            rejected = true;
        }
        defects.sort_unstable();
        findings.sort_unstable();
        findings.dedup();
        Generated {
            record_id: row.record_id(),
            row,
            personal_id: subject
                .in_register
                .then(|| subject.person.personal_id.clone()),
            errors: subject.errors.to_vec(),
            defects,
            // A rejected row has no findings: it never becomes a record.
            findings: if rejected { Vec::new() } else { findings },
            rejected,
        }
    }
}

/// The person-level errors that can show in this table: its birth province column holds the
/// pre-2025 code by design, and its names are in capitals by convention.
fn shown_errors(errors: &[ErrorKind]) -> Vec<ErrorKind> {
    errors
        .iter()
        .copied()
        .filter(|e| !matches!(e, ErrorKind::OldProvinceCode | ErrorKind::UpperCase))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn months_count_and_print() {
        let m = Month::parse("03/2019").unwrap();
        assert_eq!(m.to_string(), "03/2019");
        assert_eq!(m.plus(10).to_string(), "01/2020");
        assert_eq!(m.plus(-3).to_string(), "12/2018");
        assert_eq!(m.until(m.plus(25)), 25);
        assert_eq!(Month::parse("13/2019"), None);
        assert_eq!(Month::parse(""), None);
    }

    #[test]
    fn insurance_numbers_are_ten_distinct_digits() {
        let numbers: std::collections::HashSet<String> =
            (0..50_000).map(|s| insurance_number(1, s)).collect();
        assert_eq!(numbers.len(), 50_000);
        assert!(numbers.iter().all(|n| n.len() == 10 && n.starts_with("01")));
    }
}
