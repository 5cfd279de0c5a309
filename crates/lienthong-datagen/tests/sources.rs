//! The source tables' rows against the shipped mapping files, without any server: every row
//! goes through the translator's mapping engine as a change event, typed as the database would
//! send it, and what comes out must agree with the truth (the findings each defect causes, the
//! rows dead-lettered, a clean row with nothing to report). Error and defect rates, determinism
//! by seed, people shared between the tables and with the register, and the files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use lienthong_datagen::output::{REGISTER_FILE, SUMMARY_FILE, TRUTH_FILE};
use lienthong_datagen::sources::civil_service::{self, HoSoCanBo};
use lienthong_datagen::sources::social_insurance::{self, QuaTrinhThamGia};
use lienthong_datagen::sources::value::{ColumnSpec, SqlValue, date_seconds, vietnam_datetime};
use lienthong_datagen::sources::{Generated, TRUTH_COLUMNS, TruthRow};
use lienthong_datagen::{
    Date, Defect, DefectRates, ErrorKind, Register, SourceOptions, SourcePlan, SourceSummary,
    generate_sources, plan_sources,
};
use lienthong_proto::v1::{Operation, QualitySeverity, Sex};
use lienthong_translate::sample::{change_event, row_from_json};
use lienthong_translate::{CodeLists, MappedRecord, Mapping, MappingError};
use serde_json::{Map, Value as Json, json};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

static CODE_LISTS: LazyLock<CodeLists> =
    LazyLock::new(|| CodeLists::load_dir(schemas().join("codelists")).unwrap());

fn mapping(path: &str) -> Mapping {
    Mapping::load(schemas().join("mappings").join(path), &CODE_LISTS).unwrap()
}

/// 2026-11-20 10:00 in Vietnam: the instant rows are made for and translated at.
fn now() -> i64 {
    date_seconds(Date::new(2026, 11, 20).unwrap()) + 3 * 3600
}

fn options(seed: u64) -> SourceOptions {
    SourceOptions {
        people: 30_000,
        civil_servants: 3_000,
        insured: 2_000,
        seed,
        now: now(),
        ..SourceOptions::default()
    }
}

/// A row as the database sends it: typed by column, `char(n)` blank-padded by PostgreSQL.
fn sample(columns: &[ColumnSpec], values: &[SqlValue], pads_char: bool) -> Json {
    let mut row = Map::new();
    for (column, value) in columns.iter().zip(values) {
        let json = match value {
            SqlValue::Null => Json::Null,
            SqlValue::Int(i) => json!(i),
            SqlValue::Text(s) => match column.char_length() {
                Some(n) if pads_char => json!(format!("{s:<n$}")),
                _ => json!(s),
            },
            SqlValue::Date(d) => json!({ "date": d.to_string() }),
            SqlValue::Decimal(d) => json!({ "decimal": d }),
            SqlValue::Instant(t) => json!({ "timestamp": t }),
            SqlValue::VietnamDateTime(t) => json!({ "datetime": vietnam_datetime(*t) }),
        };
        row.insert(column.name.to_owned(), json);
    }
    Json::Object(row)
}

fn translate(
    mapping: &Mapping,
    row: Json,
    key: &str,
    n: u64,
) -> Result<MappedRecord, MappingError> {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(now()).unwrap());
    let event = change_event(
        mapping,
        Operation::Insert,
        row_from_json(&row).unwrap(),
        &[key],
        at,
        n,
    );
    mapping.apply(&event, &CODE_LISTS, at)
}

fn codes(record: &MappedRecord) -> Vec<&str> {
    record
        .quality
        .flags
        .iter()
        .map(|f| f.code.as_str())
        .collect()
}

/// Findings that are more than a note.
fn problems(record: &MappedRecord) -> Vec<&str> {
    record
        .quality
        .flags
        .iter()
        .filter(|f| f.severity != QualitySeverity::Info as i32)
        .map(|f| f.code.as_str())
        .collect()
}

/// Checks one translated row against its truth; returns whether it was clean.
fn check<R>(generated: &Generated<R>, outcome: Result<MappedRecord, MappingError>) -> bool {
    let record = match outcome {
        Err(e) => {
            assert!(
                generated.rejected,
                "{}: rejected ({e}) but not expected to be",
                generated.record_id
            );
            assert_eq!(e.kind(), "mapping.field");
            return false;
        }
        Ok(record) => record,
    };
    assert!(
        !generated.rejected,
        "{}: translated but expected to be dead-lettered",
        generated.record_id
    );
    assert_eq!(record.key, generated.record_id);
    let found = codes(&record);
    for expected in &generated.findings {
        assert!(
            found.contains(expected),
            "{}: {:?} {:?} expected {expected}, found {found:?}",
            generated.record_id,
            generated.errors,
            generated.defects
        );
    }
    if generated.is_clean() {
        assert!(
            problems(&record).is_empty(),
            "{}: a clean row has findings {:?}",
            generated.record_id,
            problems(&record)
        );
        return true;
    }
    false
}

fn truth_person(
    plan_register: &HashMap<String, lienthong_datagen::Person>,
    id: &Option<String>,
) -> Option<lienthong_datagen::Person> {
    id.as_ref().and_then(|id| plan_register.get(id)).cloned()
}

/// The register of `options`, by current number.
fn register(options: &SourceOptions) -> HashMap<String, lienthong_datagen::Person> {
    Register::new(options.seed)
        .take(usize::try_from(options.people).unwrap())
        .map(|p| (p.personal_id.clone(), p))
        .collect()
}

fn boosted_defects() -> DefectRates {
    let mut defects = DefectRates::none();
    for defect in Defect::ALL {
        *defects.rate_mut(defect) = 0.04;
    }
    defects
}

#[test]
fn civil_servant_rows_translate_with_the_shipped_mapping_as_their_truth_says() {
    let options = SourceOptions {
        defects: boosted_defects(),
        ..options(11)
    };
    let plan = plan_sources(&options).unwrap();
    let people = register(&options);
    let mapping = mapping("csdl-cbcc/ho_so_can_bo.toml");
    let mut clean = 0;
    let mut defects_seen = HashSet::new();
    for (i, generated) in plan.civil_servants.iter().enumerate() {
        let row = sample(&civil_service::COLUMNS, &generated.row.values(), true);
        let outcome = translate(&mapping, row, "id", i as u64 + 1);
        let translated = outcome.clone().ok();
        if check(generated, outcome) {
            clean += 1;
            // A clean row states its person exactly as the register does.
            let person = truth_person(&people, &generated.personal_id)
                .expect("clean rows are in the register");
            let record = translated.unwrap();
            let stated = record.entity.person().unwrap();
            assert_eq!(stated.personal_id, person.personal_id);
            assert_eq!(
                stated.name.as_ref().unwrap().full,
                person.full_name(),
                "{}",
                generated.record_id
            );
            let born = stated.birth_date.as_ref().unwrap();
            assert_eq!(
                (born.year, born.month, born.day),
                (
                    i32::from(person.birth_date.year()),
                    i32::from(person.birth_date.month()),
                    i32::from(person.birth_date.day())
                )
            );
            let sex = match person.sex {
                lienthong_datagen::Sex::Male => Sex::Male,
                lienthong_datagen::Sex::Female => Sex::Female,
            };
            assert_eq!(stated.sex, sex as i32);
        }
        defects_seen.extend(generated.defects.iter().copied());
    }
    assert!(clean > plan.civil_servants.len() / 2, "{clean} clean rows");
    // The defects that can occur in this table did.
    for defect in [Defect::InvalidId, Defect::Vni, Defect::UnknownCode] {
        assert!(defects_seen.contains(&defect), "{defect}");
    }
    assert!(!plan.civil_servants.iter().any(|g| g.rejected));
}

#[test]
fn social_security_rows_translate_with_the_shipped_mapping_as_their_truth_says() {
    let options = SourceOptions {
        defects: boosted_defects(),
        ..options(12)
    };
    let plan = plan_sources(&options).unwrap();
    let people = register(&options);
    let mapping = mapping("bhxh/qua_trinh_tham_gia.toml");
    let (mut clean, mut rejected) = (0, 0);
    let mut defects_seen = HashSet::new();
    for (i, generated) in plan.social_insurance.iter().enumerate() {
        let row = sample(&social_insurance::COLUMNS, &generated.row.values(), false);
        let outcome = translate(&mapping, row, "ID", i as u64 + 1);
        rejected += usize::from(outcome.is_err());
        let translated = outcome.clone().ok();
        if check(generated, outcome) {
            clean += 1;
            let person = truth_person(&people, &generated.personal_id)
                .expect("clean rows are in the register");
            let record = translated.unwrap();
            let stated = record.entity.person().unwrap();
            assert_eq!(stated.personal_id, person.personal_id);
            // Capitals in the source, the register's spelling once title-cased.
            assert_eq!(
                stated.name.as_ref().unwrap().full,
                person.full_name(),
                "{}",
                generated.record_id
            );
        }
        defects_seen.extend(generated.defects.iter().copied());
    }
    assert!(
        clean > plan.social_insurance.len() / 3,
        "{clean} clean rows"
    );
    assert!(rejected > 0, "some unreadable periods are dead-lettered");
    assert_eq!(
        rejected,
        plan.social_insurance.iter().filter(|g| g.rejected).count()
    );
    assert_eq!(defects_seen.len(), Defect::ALL.len(), "{defects_seen:?}");
}

#[test]
fn periods_are_consistent_histories_and_participants_share_their_personal_data() {
    let plan = plan_sources(&options(13)).unwrap();
    let mut by_number: HashMap<&str, Vec<&QuaTrinhThamGia>> = HashMap::new();
    for g in &plan.social_insurance {
        by_number
            .entry(g.row.ma_so_bhxh.as_str())
            .or_default()
            .push(&g.row);
    }
    let unreadable: HashSet<i64> = plan
        .social_insurance
        .iter()
        .filter(|g| g.defects.contains(&Defect::UnreadablePeriod))
        .map(|g| g.row.id)
        .collect();
    assert!(
        by_number.len() >= plan.participants * 99 / 100,
        "{} {}",
        by_number.len(),
        plan.participants
    );
    let reference = social_insurance::Month::of(Date::new(2026, 1, 1).unwrap());
    for rows in by_number.values() {
        let first = rows[0];
        let mut previous_end: Option<social_insurance::Month> = None;
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                (&row.ho_ten, &row.so_cccd, &row.ngay_sinh),
                (&first.ho_ten, &first.so_cccd, &first.ngay_sinh)
            );
            if unreadable.contains(&row.id) {
                assert!(row.tu_thang.starts_with("13/"), "{}", row.tu_thang);
                continue;
            }
            let from = social_insurance::Month::parse(&row.tu_thang).unwrap();
            assert!(
                from >= social_insurance::FIRST_MONTH && from <= reference,
                "{}",
                row.tu_thang
            );
            if let Some(end) = previous_end {
                assert!(from > end, "periods overlap: {rows:?}");
            }
            if row.den_thang.is_empty() {
                assert_eq!(i + 1, rows.len(), "only the last period is open");
            } else {
                let to = social_insurance::Month::parse(&row.den_thang).unwrap();
                assert!(to >= from && to <= reference);
                previous_end = Some(to);
            }
            assert!(
                row.muc_luong >= 3_500_000 && row.muc_luong % 1_000 == 0,
                "{}",
                row.muc_luong
            );
            assert!(row.ngay_cap_nhat <= now());
            assert!(row.ma_don_vi.as_deref().is_none_or(|c| c.len() <= 10));
        }
    }
    // The civil servants' files are plausible careers.
    for g in &plan.civil_servants {
        let row: &HoSoCanBo = &g.row;
        assert!(
            row.ngay_tuyen_dung
                >= row
                    .ngay_sinh
                    .shift_years(18)
                    .unwrap()
                    .min(row.ngay_tuyen_dung)
        );
        assert!(row.ngay_bo_nhiem_ngach >= row.ngay_tuyen_dung);
        assert!(
            row.ngay_vao_dang
                .is_none_or(|d| d <= Date::new(2026, 1, 1).unwrap())
        );
        assert!((1..=12).contains(&row.bac_luong));
        assert!(
            (186..=800).contains(&row.he_so_luong),
            "{}",
            row.he_so_luong
        );
        assert!(row.cap_nhat_luc <= now());
    }
}

#[test]
fn defects_and_errors_come_at_their_rates() {
    let mut defects = DefectRates::none();
    for defect in Defect::ALL {
        *defects.rate_mut(defect) = 0.1;
    }
    let options = SourceOptions {
        people: 60_000,
        civil_servants: 8_000,
        insured: 6_000,
        defects,
        ..options(14)
    };
    let plan = plan_sources(&options).unwrap();
    let share = |rows: usize, of: usize| rows as f64 / of.max(1) as f64;
    let civil = &plan.civil_servants;
    let with = |d: Defect| civil.iter().filter(|g| g.defects.contains(&d)).count();
    let stated_id = civil
        .iter()
        .filter(|g| !g.errors.contains(&ErrorKind::MissingId))
        .count();
    let invalid = share(with(Defect::InvalidId), stated_id);
    assert!((0.085..0.115).contains(&invalid), "invalid_id {invalid}");
    let unknown = share(with(Defect::UnknownCode), civil.len());
    assert!((0.085..0.115).contains(&unknown), "unknown_code {unknown}");
    // VNI applies to names with diacritics not already stored in TCVN3 or stripped.
    let vni = share(with(Defect::Vni), civil.len());
    assert!((0.07..0.11).contains(&vni), "vni {vni}");
    for d in [
        Defect::ImpossibleDate,
        Defect::PartialBirthDate,
        Defect::UnreadablePeriod,
        Defect::InvalidInsuranceNumber,
    ] {
        assert_eq!(with(d), 0, "{d} cannot occur in ho_so_can_bo");
    }

    let insured = &plan.social_insurance;
    let with = |d: Defect| insured.iter().filter(|g| g.defects.contains(&d)).count();
    let rows = insured.len();
    // Row-level defects per row; personal ones per participant, so per row on average too,
    // with more spread (participants have one to four rows).
    for (defect, low, high) in [
        (Defect::UnreadablePeriod, 0.085, 0.115),
        (Defect::UnknownCode, 0.085, 0.115),
        (Defect::ImpossibleDate, 0.075, 0.125),
        (Defect::InvalidInsuranceNumber, 0.075, 0.125),
        // Only where the date is not impossible already.
        (Defect::PartialBirthDate, 0.065, 0.115),
    ] {
        let rate = share(with(defect), rows);
        assert!((low..high).contains(&rate), "{defect} {rate}");
    }
    // Person-level errors at the default rates (missing_id 5%, typo 3% where a name can slip).
    let missing = share(
        insured
            .iter()
            .filter(|g| g.errors.contains(&ErrorKind::MissingId))
            .count(),
        rows,
    );
    assert!((0.035..0.065).contains(&missing), "missing_id {missing}");
    assert!(
        insured
            .iter()
            .all(|g| !g.errors.contains(&ErrorKind::OldProvinceCode))
    );
    let absent = share(
        civil.iter().filter(|g| g.personal_id.is_none()).count(),
        civil.len(),
    );
    assert!((0.02..0.04).contains(&absent), "not_in_register {absent}");
}

#[test]
fn the_same_seed_gives_the_same_rows() {
    let small = |seed| SourceOptions {
        people: 8_000,
        civil_servants: 500,
        insured: 400,
        ..options(seed)
    };
    let a = plan_sources(&small(21)).unwrap();
    let b = plan_sources(&small(21)).unwrap();
    assert_eq!(a, b);
    let c = plan_sources(&small(22)).unwrap();
    assert_ne!(a.civil_servants[0].row, c.civil_servants[0].row);
    // `now` moves update times only.
    let later = plan_sources(&SourceOptions {
        now: now() + 86_400,
        ..small(21)
    })
    .unwrap();
    let names = |p: &SourcePlan| {
        p.civil_servants
            .iter()
            .map(|g| g.row.ho_ten.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&later));
}

#[test]
fn people_are_shared_with_the_register_and_between_the_tables() {
    let options = options(15);
    let plan = plan_sources(&options).unwrap();
    let people = register(&options);
    let civil: HashSet<&String> = plan
        .civil_servants
        .iter()
        .filter_map(|g| g.personal_id.as_ref())
        .collect();
    let insured: HashSet<&String> = plan
        .social_insurance
        .iter()
        .filter_map(|g| g.personal_id.as_ref())
        .collect();
    for id in civil.iter().chain(&insured) {
        assert!(people.contains_key(*id), "{id} is not a register number");
    }
    // 30% of 2,000 participants are drawn from the civil servants (a few of them absent from
    // the register); the register sample of the others finds some more.
    let both = civil.intersection(&insured).count();
    assert!((560..=1_000).contains(&both), "{both}");
    // A civil servant's current period is with their organisation (a public body, `HC`), unless
    // they pay voluntarily.
    let mut last: HashMap<&str, &Generated<QuaTrinhThamGia>> = HashMap::new();
    for g in &plan.social_insurance {
        last.insert(g.row.ma_so_bhxh.as_str(), g);
    }
    let mut public = 0;
    for g in last.values() {
        if g.personal_id.as_ref().is_some_and(|id| civil.contains(id)) {
            if let Some(code) = &g.row.ma_don_vi {
                assert!(code.starts_with("HC"), "{code}");
                public += 1;
            }
        } else if g.personal_id.is_some()
            && let Some(code) = &g.row.ma_don_vi
        {
            assert!(code.starts_with("DN"), "{code}");
        }
    }
    assert!(public >= 500, "{public}");
    // Most civil servants' rows state their ID number as the register has it.
    let stated = plan
        .civil_servants
        .iter()
        .filter(|g| g.personal_id.is_some() && g.row.so_dinh_danh == g.personal_id)
        .count();
    assert!(stated > plan.civil_servants.len() * 85 / 100, "{stated}");
}

#[test]
fn files_hold_the_truth_of_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let options = SourceOptions {
        people: 8_000,
        civil_servants: 600,
        insured: 500,
        ..options(16)
    };
    let (plan, summary) = generate_sources(&options, dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(TRUTH_FILE)).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        TRUTH_COLUMNS
    );
    let rows: Vec<TruthRow> = reader.deserialize().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        plan.civil_servants.len() + plan.social_insurance.len()
    );
    assert_eq!(rows[0].record_id, "csdl-cbcc:public.ho_so_can_bo:id=1");
    let first_insurance = &rows[plan.civil_servants.len()];
    assert_eq!(
        first_insurance.record_id,
        "bhxh:bhxh.QUA_TRINH_THAM_GIA:ID=1"
    );
    for (row, g) in rows.iter().zip(&plan.civil_servants) {
        assert_eq!(row.personal_id, g.personal_id.clone().unwrap_or_default());
        let names: Vec<&str> = row.errors.split(';').filter(|s| !s.is_empty()).collect();
        assert_eq!(names.len(), g.errors.len() + g.defects.len());
    }
    let json: SourceSummary =
        serde_json::from_slice(&std::fs::read(dir.path().join(SUMMARY_FILE)).unwrap()).unwrap();
    assert_eq!(json, summary);
    let civil = &summary.tables["ho_so_can_bo"];
    assert_eq!(civil.rows, 600);
    assert_eq!(civil.source_id, "csdl-cbcc");
    let insurance = &summary.tables["QUA_TRINH_THAM_GIA"];
    assert_eq!(insurance.people, 500);
    assert_eq!(insurance.rows as usize, plan.social_insurance.len());
    assert_eq!(
        insurance.dead_lettered as usize,
        rows.iter()
            .filter(|r| r.outcome == lienthong_datagen::sources::Outcome::DeadLettered)
            .count()
    );
    let register_lines = std::fs::read_to_string(dir.path().join(REGISTER_FILE))
        .unwrap()
        .lines()
        .count();
    assert_eq!(register_lines, 8_001);
}
