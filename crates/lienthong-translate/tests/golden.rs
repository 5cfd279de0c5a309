//! Golden tests of the shipped mappings: a hand-made change event of each source table in, the
//! whole canonical record (entity, provenance, quality flags with their messages) out.
//!
//! The rows are written the way each source stores them (see the comment at the top of each
//! mapping file). A change here is a change of the translator's output contract: review it as
//! one.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lienthong_proto::v1::{
    CivilServant, CivilServantCategory, CodedValue, Date, Decimal, EmploymentStatus,
    InsuranceScheme, Operation, Person, PersonName, Place, PostgresPosition, Provenance, Quality,
    QualityCriterion, QualityFlag, QualitySeverity, Sex, SocialInsuranceRecord, SourcePosition,
    source_position,
};
use lienthong_translate::sample::{change_event, row_from_json};
use lienthong_translate::{CanonicalEntity, CodeLists, MappedRecord, MappingSet, RecordOperation};
use serde_json::json;

use QualityCriterion::{Clean, Complete, Correct, Live, Shared, Unified};
use QualitySeverity::{Error, Info, Warning};

fn schemas() -> &'static (CodeLists, MappingSet) {
    static LOADED: OnceLock<(CodeLists, MappingSet)> = OnceLock::new();
    LOADED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let lists = CodeLists::load_dir(dir.join("codelists")).unwrap();
        let mappings = MappingSet::load_dir(dir.join("mappings"), &lists).unwrap();
        (lists, mappings)
    })
}

/// 2025-08-01 10:00 in Vietnam: after the province merger of 2025-07-01.
fn august_2025() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_754_017_200)
}

fn translate(
    source: &str,
    schema: &str,
    table: &str,
    operation: Operation,
    row: serde_json::Value,
    key: &str,
    sequence: u64,
) -> MappedRecord {
    let (lists, mappings) = schemas();
    let mapping = mappings.find(source, schema, table).unwrap();
    let event = change_event(
        mapping,
        operation,
        row_from_json(&row).unwrap(),
        &[key],
        august_2025(),
        sequence,
    );
    mappings.apply(&event, lists, august_2025()).unwrap()
}

fn flag(
    criterion: QualityCriterion,
    severity: QualitySeverity,
    field: &str,
    code: &str,
    message: &str,
) -> QualityFlag {
    QualityFlag {
        criterion: criterion as i32,
        severity: severity as i32,
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }
}

fn quality(flags: Vec<QualityFlag>, passed: &[QualityCriterion]) -> Quality {
    Quality {
        flags,
        passed: passed.iter().map(|c| *c as i32).collect(),
    }
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn coded(system: &str, code: &str, display: &str, original: &str) -> Option<CodedValue> {
    Some(CodedValue {
        code_system: system.into(),
        code: code.into(),
        display: display.into(),
        original: original.into(),
    })
}

fn name(full: &str, family: &str, middle: &str, given: &str, original: &str) -> Option<PersonName> {
    Some(PersonName {
        full: full.into(),
        family: family.into(),
        middle: middle.into(),
        given: given.into(),
        original: original.into(),
    })
}

fn provenance(
    source: &str,
    schema: &str,
    table: &str,
    key: &str,
    mapping: &str,
    operation: Operation,
    sequence: u64,
) -> Option<Provenance> {
    let at = Some(prost_types::Timestamp {
        seconds: 1_754_017_200,
        nanos: 0,
    });
    Some(Provenance {
        source_id: source.into(),
        schema: schema.into(),
        table: table.into(),
        source_key: key.into(),
        position: Some(SourcePosition {
            kind: Some(source_position::Kind::Postgres(PostgresPosition {
                commit_lsn: sequence,
                lsn: sequence,
                sequence: 0,
                xid: 0,
            })),
        }),
        mapping_id: mapping.into(),
        mapping_version: "1.0.0".into(),
        source_commit_time: at,
        translated_at: at,
        source_operation: operation as i32,
        idempotency_key: format!("{source}:{sequence:016X}:0:{mapping}@1.0.0"),
    })
}

const AS_OF: Option<Date> = Some(Date {
    year: 2025,
    month: 8,
    day: 1,
});

// ---------------------------------------------------------------------------------------------
// csdl-cbcc: PostgreSQL, typed columns, 2025 province codes, the 2008 ethnic list.

fn cbcc_row() -> serde_json::Value {
    json!({
        "id": 1001,
        "so_dinh_danh": "025090001234",
        "ho_ten": "nguyễn  văn   AN",
        "ngay_sinh": {"date": "1990-04-12"},
        "gioi_tinh": 1,
        "ma_dan_toc": "04",
        "ma_ton_giao": "00",
        "noi_sinh_ma_tinh": "25",
        "que_quan_ma_tinh": "25",
        "que_quan_ma_xa": "04792",
        "que_quan_chi_tiet": "Thôn Đông,  khu 3",
        "dien_thoai": "091 234.5678",
        "email": " An.NV@Moha.gov.vn ",
        "loai_can_bo": "CC",
        "trang_thai": 1,
        "don_vi_id": 17,
        "ten_don_vi": "Vụ Tổ chức - Biên chế",
        "ma_chuc_vu": "PV",
        "ten_chuc_vu": "Phó Vụ trưởng",
        "ma_ngach": "01.002",
        "ten_ngach": "Chuyên viên chính",
        "bac_luong": 3,
        "he_so_luong": {"decimal": "5.08"},
        "he_so_phu_cap_cv": {"decimal": "0.70"},
        "ngay_tuyen_dung": {"date": "2013-09-01"},
        "ngay_bo_nhiem_ngach": {"date": "2021-01-01"},
        "ngay_vao_dang": null,
        "cap_nhat_luc": {"timestamp": 1_753_000_000},
    })
}

fn cbcc(row: serde_json::Value) -> MappedRecord {
    translate(
        "csdl-cbcc",
        "public",
        "ho_so_can_bo",
        Operation::Update,
        row,
        "id",
        7,
    )
}

const CBCC_SENSITIVE: &str = "sensitive personal data (person.ethnicity, person.religion, \
    position_allowance, salary_coefficient): masked for partners unless their policy grants it";

#[test]
fn civil_servant_database_golden() {
    let record = cbcc(cbcc_row());
    let id = "csdl-cbcc:public.ho_so_can_bo:id=1001";
    let phu_tho = || coded("vn.province.2025", "25", "Tỉnh Phú Thọ", "25");
    let expected_quality = quality(
        vec![
            flag(
                Unified,
                Info,
                "person.religion",
                "code.unverified",
                "the meaning of this code in vn.religion is unverified (see the code list's notes)",
            ),
            flag(
                Unified,
                Info,
                "position",
                "code.local_system",
                "coded in the source's own list csdl-cbcc.chuc_vu, which has no canonical list",
            ),
            flag(
                Unified,
                Info,
                "rank",
                "code.local_system",
                "coded in the source's own list csdl-cbcc.ngach, which has no canonical list",
            ),
            flag(Shared, Info, "", "sharing.sensitive_fields", CBCC_SENSITIVE),
        ],
        &[Correct, Complete, Clean, Live, Unified, Shared],
    );
    let expected = CivilServant {
        record_id: id.into(),
        person: Some(Person {
            record_id: id.into(),
            personal_id: "025090001234".into(),
            name: name("Nguyễn Văn An", "Nguyễn", "Văn", "An", "nguyễn  văn   AN"),
            birth_date: date(1990, 4, 12),
            sex: Sex::Male as i32,
            birth_place: Some(Place {
                province: phu_tho(),
                as_of: AS_OF,
                ..Place::default()
            }),
            hometown: Some(Place {
                province: phu_tho(),
                commune: coded("vn.commune.2025", "04792", "Phường Tân Hoà", "04792"),
                detail: "Thôn Đông, khu 3".into(),
                as_of: AS_OF,
                ..Place::default()
            }),
            ethnicity: coded("vn.ethnic.qd1019-2008", "04", "Mường", "04"),
            religion: coded("vn.religion", "00", "Không", "00"),
            phone: "0912345678".into(),
            email: "an.nv@moha.gov.vn".into(),
            ..Person::default()
        }),
        category: CivilServantCategory::CivilServant as i32,
        status: EmploymentStatus::Active as i32,
        organisation_id: "csdl-cbcc:public.don_vi:id=17".into(),
        organisation_name: "Vụ Tổ chức - Biên chế".into(),
        position: coded("csdl-cbcc.chuc_vu", "PV", "Phó Vụ trưởng", "PV"),
        rank: coded("csdl-cbcc.ngach", "01.002", "Chuyên viên chính", "01.002"),
        salary_step: 3,
        salary_coefficient: Some(Decimal {
            value: "5.08".into(),
        }),
        position_allowance: Some(Decimal {
            value: "0.70".into(),
        }),
        recruitment_date: date(2013, 9, 1),
        rank_appointment_date: date(2021, 1, 1),
        provenance: provenance(
            "csdl-cbcc",
            "public",
            "ho_so_can_bo",
            "id=1001",
            "csdl-cbcc.ho_so_can_bo",
            Operation::Update,
            7,
        ),
        quality: Some(expected_quality.clone()),
        ..CivilServant::default()
    };
    assert_eq!(record.key, id);
    assert_eq!(record.operation, RecordOperation::Upsert);
    assert_eq!(record.topic(), "canonical.civil_servant.v1");
    assert_eq!(record.quality, expected_quality);
    assert_eq!(record.entity, CanonicalEntity::CivilServant(expected));
}

#[test]
fn civil_servant_database_row_with_problems_is_flagged_not_dropped() {
    let mut row = cbcc_row();
    // Born 1959 by the file, 1990 by the ID number; ethnic code beyond the known part of the 2008
    // list; a commune of another province; no rank; a zero salary coefficient; a file not updated
    // since 2020; a name typed with a digit.
    row["ngay_sinh"] = json!({"date": "1959-04-12"});
    row["ma_dan_toc"] = json!("35");
    row["que_quan_ma_xa"] = json!("07870");
    row["ma_ngach"] = json!(null);
    row["ten_ngach"] = json!(null);
    row["he_so_luong"] = json!({"decimal": "0.00"});
    row["cap_nhat_luc"] = json!({"timestamp": 1_590_000_000});
    row["ho_ten"] = json!("Nguyễn Văn An2");
    let record = cbcc(row);
    let expected = quality(
        vec![
            flag(
                Unified,
                Warning,
                "person.ethnicity",
                "code.not_in_partial_list",
                "the value is not in vn.ethnic.qd1019-2008, which is known to be incomplete: it may still be valid",
            ),
            flag(
                Unified,
                Info,
                "person.religion",
                "code.unverified",
                "the meaning of this code in vn.religion is unverified (see the code list's notes)",
            ),
            flag(
                Unified,
                Info,
                "position",
                "code.local_system",
                "coded in the source's own list csdl-cbcc.chuc_vu, which has no canonical list",
            ),
            flag(
                Complete,
                Error,
                "rank",
                "field.missing",
                "required field has no value (from columns ma_ngach, ten_ngach)",
            ),
            flag(
                Correct,
                Warning,
                "person.hometown.commune",
                "place.commune_outside_province",
                "commune 07870 of vn.commune.2025 is not in province 25 of vn.province.2025",
            ),
            flag(
                Correct,
                Warning,
                "person.birth_date",
                "pin.birth_year_mismatch",
                "the birth year differs from the one the personal ID number encodes (the number may have been re-issued after a correction)",
            ),
            flag(
                Correct,
                Error,
                "salary_coefficient",
                "value.out_of_range",
                "the amount must be greater than zero",
            ),
            flag(
                Clean,
                Warning,
                "person.name",
                "name.stray_characters",
                "the name contains digits or symbols",
            ),
            flag(
                Live,
                Warning,
                "",
                "record.not_updated",
                "the source last updated the record on 2020-05-21, 1898 days ago (limit 1095)",
            ),
            flag(Shared, Info, "", "sharing.sensitive_fields", CBCC_SENSITIVE),
        ],
        &[Shared],
    );
    assert_eq!(record.quality, expected);
    let person = record.entity.person().unwrap();
    // The record still carries everything that could be mapped.
    assert_eq!(person.name.as_ref().unwrap().full, "Nguyễn Văn An2");
    assert_eq!(
        person.ethnicity,
        coded("vn.ethnic.qd1019-2008", "", "", "35")
    );
}

// ---------------------------------------------------------------------------------------------
// bhxh: MariaDB, text dates with partial dates, 1/0 sex, pre-2025 province codes, the 1979
// ethnic list.

fn bhxh_row() -> serde_json::Value {
    json!({
        "ID": 88,
        "MA_SO_BHXH": "0123456789",
        "SO_CCCD": "001185012345",
        "SO_CMND": "011234567",
        "HO_TEN": "LÊ THỊ HOÀ",
        "NGAY_SINH": "00/03/1985",
        "GIOI_TINH": 0,
        "MA_DAN_TOC": "04",
        "MA_TINH_KS": "001",
        "MA_TINH": "27",
        "DIA_CHI": "Số 5 ngõ 12, Từ Sơn",
        "DIEN_THOAI": "0987654321",
        "LOAI_BH": "bb",
        "MA_DON_VI": "TA1234",
        "TEN_DON_VI": "Công ty TNHH Minh Phát",
        "MUC_LUONG": {"decimal": "8500000"},
        "TU_THANG": "01/2020",
        "DEN_THANG": "",
        "NGAY_CAP_NHAT": {"datetime": "2025-07-30 09:15:00"},
    })
}

fn bhxh(
    operation: Operation,
    row: serde_json::Value,
) -> Result<MappedRecord, lienthong_translate::MappingError> {
    let (lists, mappings) = schemas();
    let mapping = mappings.find("bhxh", "bhxh", "QUA_TRINH_THAM_GIA").unwrap();
    let event = change_event(
        mapping,
        operation,
        row_from_json(&row).unwrap(),
        &["ID"],
        august_2025(),
        8,
    );
    mapping.apply(&event, lists, august_2025())
}

#[test]
fn social_security_database_golden() {
    let record = bhxh(Operation::Insert, bhxh_row()).unwrap();
    let id = "bhxh:bhxh.QUA_TRINH_THAM_GIA:ID=88";
    let expected_quality = quality(
        vec![
            flag(
                Unified,
                Info,
                "person.birth_place.province",
                "province.translated",
                "province 01 (Thành phố Hà Nội) of vn.province.pre2025 is part of 01 (Thành phố Hà Nội) of vn.province.2025 since 2025-07-01",
            ),
            flag(
                Unified,
                Info,
                "person.permanent_residence.province",
                "province.translated",
                "province 27 (Tỉnh Bắc Ninh) of vn.province.pre2025 is part of 24 (Tỉnh Bắc Ninh) of vn.province.2025 since 2025-07-01",
            ),
            flag(
                Correct,
                Info,
                "person.birth_date",
                "date.partial",
                "partial birth date: the source knows only the year or the month",
            ),
            flag(
                Shared,
                Info,
                "",
                "sharing.sensitive_fields",
                "sensitive personal data (contribution_salary, person.ethnicity): masked for partners unless their policy grants it",
            ),
        ],
        &[Correct, Complete, Clean, Live, Unified, Shared],
    );
    let expected = SocialInsuranceRecord {
        record_id: id.into(),
        insurance_number: "0123456789".into(),
        person: Some(Person {
            record_id: id.into(),
            personal_id: "001185012345".into(),
            former_id_number: "011234567".into(),
            name: name("Lê Thị Hoà", "Lê", "Thị", "Hoà", "LÊ THỊ HOÀ"),
            birth_date: date(1985, 3, 0),
            sex: Sex::Female as i32,
            birth_place: Some(Place {
                province: coded("vn.province.2025", "01", "Thành phố Hà Nội", "001"),
                as_of: AS_OF,
                ..Place::default()
            }),
            permanent_residence: Some(Place {
                province: coded("vn.province.2025", "24", "Tỉnh Bắc Ninh", "27"),
                text: "Số 5 ngõ 12, Từ Sơn".into(),
                as_of: AS_OF,
                ..Place::default()
            }),
            ethnicity: coded("vn.ethnic.qd121-1979", "04", "Hoa (Hán)", "04"),
            phone: "0987654321".into(),
            ..Person::default()
        }),
        scheme: InsuranceScheme::CompulsorySocial as i32,
        employer_code: "TA1234".into(),
        employer_name: "Công ty TNHH Minh Phát".into(),
        contribution_salary: Some(Decimal {
            value: "8500000".into(),
        }),
        period_from: date(2020, 1, 0),
        period_to: None,
        provenance: provenance(
            "bhxh",
            "bhxh",
            "QUA_TRINH_THAM_GIA",
            "ID=88",
            "bhxh.qua_trinh_tham_gia",
            Operation::Insert,
            8,
        ),
        quality: Some(expected_quality),
    };
    assert_eq!(record.topic(), "canonical.social_insurance.v1");
    assert_eq!(record.entity, CanonicalEntity::SocialInsurance(expected));
}

#[test]
fn social_security_codes_keep_their_own_meaning() {
    // 04 is Hoa in the 1979 list this source uses, Mường in the 2008 list of csdl-cbcc.
    let bhxh = bhxh(Operation::Insert, bhxh_row()).unwrap();
    let cbcc = cbcc(cbcc_row());
    let ethnicity = |r: &MappedRecord| r.entity.person().unwrap().ethnicity.clone().unwrap();
    assert_eq!(
        (ethnicity(&bhxh).code, ethnicity(&bhxh).display),
        ("04".into(), "Hoa (Hán)".into())
    );
    assert_eq!(
        (ethnicity(&cbcc).code, ethnicity(&cbcc).display),
        ("04".into(), "Mường".into())
    );
    assert_ne!(ethnicity(&bhxh).code_system, ethnicity(&cbcc).code_system);
}

#[test]
fn social_security_rows_that_cannot_be_placed_are_rejected() {
    let mut row = bhxh_row();
    row["TU_THANG"] = json!("13/2020");
    let e = bhxh(Operation::Insert, row).unwrap_err();
    assert_eq!(e.kind(), "mapping.field");
    assert_eq!(
        e.to_string(),
        "field period_from (from column TU_THANG): cannot read \"13/2020\" as a date: month 13 does not exist"
    );
}

#[test]
fn social_security_deletes_are_tombstones() {
    let record = bhxh(Operation::Delete, json!({"ID": 88})).unwrap();
    assert!(record.is_delete());
    let id = "bhxh:bhxh.QUA_TRINH_THAM_GIA:ID=88";
    assert_eq!(
        record.entity,
        CanonicalEntity::SocialInsurance(SocialInsuranceRecord {
            record_id: id.into(),
            provenance: provenance(
                "bhxh",
                "bhxh",
                "QUA_TRINH_THAM_GIA",
                "ID=88",
                "bhxh.qua_trinh_tham_gia",
                Operation::Delete,
                8,
            ),
            ..SocialInsuranceRecord::default()
        })
    );
    assert_eq!(record.key, id);
}

#[test]
fn social_security_partial_and_odd_values() {
    let mut row = bhxh_row();
    row["NGAY_SINH"] = json!("1985");
    row["GIOI_TINH"] = json!(1);
    row["MA_TINH"] = json!("99");
    row["DEN_THANG"] = json!("12/2019");
    row["SO_CCCD"] = json!(null);
    let record = bhxh(Operation::Update, row).unwrap();
    let codes: Vec<(&str, &str)> = record
        .quality
        .flags
        .iter()
        .map(|f| (f.field.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            ("person.birth_place.province", "province.translated"),
            ("person.permanent_residence.province", "code.unknown"),
            ("person.birth_date", "date.partial"),
            ("period_to", "period.reversed"),
            ("", "sharing.no_shared_key"),
            ("", "sharing.sensitive_fields"),
        ]
    );
    let person = record.entity.person().unwrap();
    assert_eq!(person.birth_date, date(1985, 0, 0));
    assert_eq!(person.sex, Sex::Male as i32);
    assert_eq!(
        person.permanent_residence.as_ref().unwrap().province,
        coded("vn.province.pre2025", "", "", "99")
    );
    assert_eq!(
        record.quality.flags[1].message,
        "\"99\" is not a code of vn.province.pre2025"
    );
}

// ---------------------------------------------------------------------------------------------
// legacy-qlcb: TCVN3 and VNI text in latin1 columns, dates as text with "00/00/yyyy", province
// and ethnic names instead of codes, decimal commas.

fn legacy(row: serde_json::Value) -> MappedRecord {
    translate(
        "legacy-qlcb",
        "qlcb",
        "HOSO",
        Operation::Read,
        row,
        "MACB",
        9,
    )
}

#[test]
fn legacy_system_golden_tcvn3() {
    let record = legacy(json!({
        "MACB": 1205,
        "HOTEN": "TrÇn ThÞ Thu Hµ",
        "NGAYSINH": "00/00/1968",
        "PHAI": "N÷",
        "SOCMND": "012345678",
        "NOISINH": "Th¸i B×nh",
        "QUEQUAN": "Thõa Thiªn HuÕ",
        "DANTOC": "Kinh",
        "DONVI": "Së Néi vô",
        "HESOLUONG": "4,98",
        "NGAYVAOCQ": "1/9/1990",
        "TINHTRANG": "L",
        "NGAYSUA": {"datetime": "2024-05-02 10:00:00"},
    }));
    let id = "legacy-qlcb:qlcb.HOSO:MACB=1205";
    let decoded = |field: &str| {
        flag(
            Clean,
            Info,
            field,
            "text.legacy_decoded",
            "converted from tcvn3 to Unicode",
        )
    };
    let expected_quality = quality(
        vec![
            decoded("person.name"),
            decoded("person.sex"),
            decoded("person.birth_place.province"),
            flag(
                Unified,
                Info,
                "person.birth_place.province",
                "province.translated",
                "province 34 (Tỉnh Thái Bình) of vn.province.pre2025 is part of 33 (Tỉnh Hưng Yên) of vn.province.2025 since 2025-07-01",
            ),
            decoded("person.birth_place.text"),
            decoded("person.hometown.province"),
            flag(
                Unified,
                Info,
                "person.hometown.province",
                "province.translated",
                "province 46 (Thành phố Huế) of vn.province.pre2025 is part of 46 (Thành phố Huế) of vn.province.2025 since 2025-07-01",
            ),
            decoded("person.hometown.text"),
            decoded("organisation_name"),
            flag(
                Correct,
                Info,
                "person.birth_date",
                "date.partial",
                "partial birth date: the source knows only the year or the month",
            ),
            flag(
                Shared,
                Warning,
                "",
                "sharing.no_shared_key",
                "no valid personal ID number: other systems cannot link the person's records (files are keyed by personal ID)",
            ),
            flag(
                Shared,
                Info,
                "",
                "sharing.sensitive_fields",
                "sensitive personal data (person.ethnicity, salary_coefficient): masked for partners unless their policy grants it",
            ),
        ],
        &[Correct, Complete, Clean, Live, Unified],
    );
    let expected = CivilServant {
        record_id: id.into(),
        person: Some(Person {
            record_id: id.into(),
            former_id_number: "012345678".into(),
            name: name(
                "Trần Thị Thu Hà",
                "Trần",
                "Thị Thu",
                "Hà",
                "TrÇn ThÞ Thu Hµ",
            ),
            birth_date: date(1968, 0, 0),
            sex: Sex::Female as i32,
            birth_place: Some(Place {
                province: coded("vn.province.2025", "33", "Tỉnh Hưng Yên", "Th¸i B×nh"),
                text: "Thái Bình".into(),
                as_of: AS_OF,
                ..Place::default()
            }),
            hometown: Some(Place {
                province: coded("vn.province.2025", "46", "Thành phố Huế", "Thõa Thiªn HuÕ"),
                text: "Thừa Thiên Huế".into(),
                as_of: AS_OF,
                ..Place::default()
            }),
            ethnicity: coded("vn.ethnic.qd121-1979", "01", "Kinh (Việt)", "Kinh"),
            ..Person::default()
        }),
        category: CivilServantCategory::CivilServant as i32,
        status: EmploymentStatus::Active as i32,
        organisation_name: "Sở Nội vụ".into(),
        salary_coefficient: Some(Decimal {
            value: "4.98".into(),
        }),
        recruitment_date: date(1990, 9, 1),
        provenance: provenance(
            "legacy-qlcb",
            "qlcb",
            "HOSO",
            "MACB=1205",
            "legacy-qlcb.hoso",
            Operation::Read,
            9,
        ),
        quality: Some(expected_quality),
        ..CivilServant::default()
    };
    assert_eq!(record.entity, CanonicalEntity::CivilServant(expected));
}

#[test]
fn legacy_system_golden_vni_and_personal_id() {
    let record = legacy(json!({
        "MACB": 1206,
        "HOTEN": "Nguyeãn Vaên Ñöùc",
        "NGAYSINH": "15/3/1990",
        "PHAI": "Nam",
        "SOCMND": "001090012345",
        "NOISINH": "Haø Noäi",
        "QUEQUAN": "Quaûng Nam",
        "DANTOC": "Taøy",
        "DONVI": "Sôû Noäi vuï",
        "HESOLUONG": "3,66",
        "NGAYVAOCQ": "00/00/2015",
        "TINHTRANG": "l",
        "NGAYSUA": {"datetime": "2025-07-31 16:20:00"},
    }));
    let person = record.entity.person().unwrap();
    assert_eq!(
        person.name,
        name(
            "Nguyễn Văn Đức",
            "Nguyễn",
            "Văn",
            "Đức",
            "Nguyeãn Vaên Ñöùc"
        )
    );
    assert_eq!(person.personal_id, "001090012345");
    assert_eq!(person.former_id_number, "");
    assert_eq!(person.birth_date, date(1990, 3, 15));
    assert_eq!(person.sex, Sex::Male as i32);
    assert_eq!(
        person.hometown.as_ref().unwrap().province,
        coded("vn.province.2025", "48", "Thành phố Đà Nẵng", "Quaûng Nam")
    );
    assert_eq!(
        person.birth_place.as_ref().unwrap().province,
        coded("vn.province.2025", "01", "Thành phố Hà Nội", "Haø Noäi")
    );
    assert_eq!(
        person.ethnicity,
        coded("vn.ethnic.qd121-1979", "02", "Tày", "Taøy")
    );
    let CanonicalEntity::CivilServant(cs) = &record.entity else {
        panic!("{:?}", record.entity)
    };
    assert_eq!(cs.organisation_name, "Sở Nội vụ");
    assert_eq!(cs.recruitment_date, date(2015, 0, 0));
    assert_eq!(
        cs.salary_coefficient,
        Some(Decimal {
            value: "3.66".into()
        })
    );
    // VNI values are noted as VNI; the ID number agrees with the record, so it can be shared.
    let vni_notes = record
        .quality
        .flags
        .iter()
        .filter(|f| f.code == "text.legacy_decoded")
        .inspect(|f| assert_eq!(f.message, "converted from vni to Unicode"))
        .count();
    assert_eq!(vni_notes, 7);
    assert!(
        record
            .quality
            .flags
            .iter()
            .all(|f| !f.code.starts_with("pin."))
    );
    assert_eq!(
        record.quality.passed,
        [Correct, Complete, Clean, Live, Unified, Shared].map(|c| c as i32)
    );
}

#[test]
fn legacy_names_that_match_no_province_are_flagged() {
    // Hà Tây was merged into Hà Nội in 2008 and is in no current list.
    let record = legacy(json!({
        "MACB": 1207, "HOTEN": "Lª V¨n Nam", "NGAYSINH": "1970", "PHAI": "Nam", "SOCMND": "",
        "NOISINH": "Hµ T©y", "QUEQUAN": "", "DANTOC": "Kinh", "DONVI": "UBND x·", "HESOLUONG": "",
        "NGAYVAOCQ": "", "TINHTRANG": "H", "NGAYSUA": null,
    }));
    let unknown = record
        .quality
        .flags
        .iter()
        .find(|f| f.code == "code.unknown")
        .unwrap();
    assert_eq!(unknown.field, "person.birth_place.province");
    assert_eq!(
        unknown.message,
        "no code of vn.province.pre2025 is named \"Hà Tây\""
    );
    let person = record.entity.person().unwrap();
    assert_eq!(person.birth_place.as_ref().unwrap().text, "Hà Tây");
    assert!(person.hometown.is_none());
    assert!(
        record
            .quality
            .flags
            .iter()
            .any(|f| f.code == "record.no_update_date")
    );
}

#[test]
fn tables_without_a_mapping_are_dead_lettered() {
    let (lists, mappings) = schemas();
    let mapping = mappings.find("bhxh", "bhxh", "QUA_TRINH_THAM_GIA").unwrap();
    let mut event = change_event(
        mapping,
        Operation::Insert,
        row_from_json(&bhxh_row()).unwrap(),
        &["ID"],
        august_2025(),
        1,
    );
    event.table = "NHAT_KY".into();
    let e = mappings.apply(&event, lists, august_2025()).unwrap_err();
    assert_eq!(e.kind(), "mapping.no_mapping");
    assert_eq!(
        e.to_string(),
        "no mapping for table bhxh.NHAT_KY of source bhxh"
    );
}
