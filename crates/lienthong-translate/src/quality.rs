//! Quality checks for the six criteria the state sets for master data: *đúng* (correct), *đủ*
//! (complete), *sạch* (clean), *sống* (live), *thống nhất* (unified), *dùng chung* (shared).
//!
//! A finding never stops a record: the record flows with its flags, and data stewards fix the
//! source. Each flag has a stable machine code (constants in [`codes`]), the criterion, a severity
//! and a message. Messages name fields and problems but never quote values of personal fields:
//! the record already carries the value, and messages are copied into reports and logs.
//!
//! Findings come from two places: the mapping engine, while it converts fields (a date it cannot
//! read, a code not in its list, a required field left empty), and the record-level checks
//! afterwards, on the finished entity (ID number consistency, formats, freshness, shareability).
//!
//! A criterion *passes* when it has no WARNING or ERROR finding. INFO findings are notes for
//! audit (a value was converted from TCVN3, an old province code was translated) and do not make
//! a criterion fail.

use std::time::SystemTime;

use lienthong_proto::v1::{Date, Quality, QualityCriterion, QualityFlag, QualitySeverity, Sex};
use lienthong_vietnamese::legacy::{self, Encoding};
use lienthong_vietnamese::pin::{self, PersonalId, PinDiscrepancy, PinError};
use lienthong_vietnamese::text::{fold_tones, is_clean, is_letter};

use crate::codelist::{
    COMMUNE_2025, COMMUNE_PRE_2025, CodeLists, DISTRICT_PRE_2025, PROVINCE_2025, PROVINCE_PRE_2025,
};
use crate::date::{CivilDate, day_range, is_partial, unix_seconds};
use crate::draft::{CodedDraft, Draft, NameDraft, PersonDraft, PlaceDraft};
use crate::engine::IntText;
use crate::entity::CanonicalEntity;
use crate::mapping::spec::QualitySpec;
use crate::mapping::target::{PlaceField, PlacePart, Sensitivity, Slot, SlotSet};

/// The stable machine codes of quality flags.
pub mod codes {
    // đúng
    pub const VALUE_INVALID_DATE: &str = "value.invalid_date";
    pub const VALUE_INVALID_NUMBER: &str = "value.invalid_number";
    pub const VALUE_INVALID_BOOL: &str = "value.invalid_bool";
    pub const VALUE_WRONG_TYPE: &str = "value.wrong_type";
    pub const VALUE_OUT_OF_RANGE: &str = "value.out_of_range";
    pub const PIN_INVALID: &str = "pin.invalid";
    pub const PIN_BIRTH_YEAR_MISMATCH: &str = "pin.birth_year_mismatch";
    pub const PIN_SEX_MISMATCH: &str = "pin.sex_mismatch";
    pub const PIN_PROVINCE_MISMATCH: &str = "pin.province_mismatch";
    pub const FORMER_ID_INVALID: &str = "former_id.invalid";
    pub const INSURANCE_NUMBER_INVALID: &str = "insurance_number.invalid";
    pub const PHONE_INVALID: &str = "phone.invalid";
    pub const EMAIL_INVALID: &str = "email.invalid";
    pub const DATE_IN_FUTURE: &str = "date.in_future";
    pub const DATE_IMPLAUSIBLE: &str = "date.implausible";
    pub const DATE_PARTIAL: &str = "date.partial";
    pub const DATE_BEFORE_BIRTH: &str = "date.before_birth";
    pub const PERIOD_REVERSED: &str = "period.reversed";
    pub const PLACE_COMMUNE_OUTSIDE_PROVINCE: &str = "place.commune_outside_province";
    // đủ
    pub const FIELD_MISSING: &str = "field.missing";
    pub const SOURCE_VALUE_NOT_SENT: &str = "source.value_not_sent";
    // sạch
    pub const TEXT_LEGACY_DECODED: &str = "text.legacy_decoded";
    pub const TEXT_UNKNOWN_ENCODING: &str = "text.unknown_encoding";
    pub const TEXT_LEGACY_ENCODING: &str = "text.legacy_encoding";
    pub const TEXT_REPLACEMENT_CHARACTER: &str = "text.replacement_character";
    pub const TEXT_NOT_CLEAN: &str = "text.not_clean";
    pub const NAME_STRAY_CHARACTERS: &str = "name.stray_characters";
    // sống
    pub const SOURCE_STALE: &str = "source.stale";
    pub const SOURCE_NO_COMMIT_TIME: &str = "source.no_commit_time";
    pub const SOURCE_COMMIT_TIME_IN_FUTURE: &str = "source.commit_time_in_future";
    pub const RECORD_NOT_UPDATED: &str = "record.not_updated";
    pub const RECORD_NO_UPDATE_DATE: &str = "record.no_update_date";
    // thống nhất
    pub const CODE_UNKNOWN: &str = "code.unknown";
    pub const CODE_NOT_IN_PARTIAL_LIST: &str = "code.not_in_partial_list";
    pub const CODE_AMBIGUOUS_NAME: &str = "code.ambiguous_name";
    pub const CODE_EXPIRED: &str = "code.expired";
    pub const CODE_NOT_YET_VALID: &str = "code.not_yet_valid";
    pub const CODE_UNVERIFIED: &str = "code.unverified";
    pub const CODE_LOCAL_SYSTEM: &str = "code.local_system";
    pub const PROVINCE_TRANSLATED: &str = "province.translated";
    pub const MAP_UNMAPPED: &str = "map.unmapped";
    // dùng chung
    pub const SHARING_RESTRICTED: &str = "sharing.restricted";
    pub const SHARING_NO_SHARED_KEY: &str = "sharing.no_shared_key";
    pub const SHARING_SENSITIVE_FIELDS: &str = "sharing.sensitive_fields";

    /// Every code, for documentation checks.
    pub const ALL: &[&str] = &[
        VALUE_INVALID_DATE,
        VALUE_INVALID_NUMBER,
        VALUE_INVALID_BOOL,
        VALUE_WRONG_TYPE,
        VALUE_OUT_OF_RANGE,
        PIN_INVALID,
        PIN_BIRTH_YEAR_MISMATCH,
        PIN_SEX_MISMATCH,
        PIN_PROVINCE_MISMATCH,
        FORMER_ID_INVALID,
        INSURANCE_NUMBER_INVALID,
        PHONE_INVALID,
        EMAIL_INVALID,
        DATE_IN_FUTURE,
        DATE_IMPLAUSIBLE,
        DATE_PARTIAL,
        DATE_BEFORE_BIRTH,
        PERIOD_REVERSED,
        PLACE_COMMUNE_OUTSIDE_PROVINCE,
        FIELD_MISSING,
        SOURCE_VALUE_NOT_SENT,
        TEXT_LEGACY_DECODED,
        TEXT_UNKNOWN_ENCODING,
        TEXT_LEGACY_ENCODING,
        TEXT_REPLACEMENT_CHARACTER,
        TEXT_NOT_CLEAN,
        NAME_STRAY_CHARACTERS,
        SOURCE_STALE,
        SOURCE_NO_COMMIT_TIME,
        SOURCE_COMMIT_TIME_IN_FUTURE,
        RECORD_NOT_UPDATED,
        RECORD_NO_UPDATE_DATE,
        CODE_UNKNOWN,
        CODE_NOT_IN_PARTIAL_LIST,
        CODE_AMBIGUOUS_NAME,
        CODE_EXPIRED,
        CODE_NOT_YET_VALID,
        CODE_UNVERIFIED,
        CODE_LOCAL_SYSTEM,
        PROVINCE_TRANSLATED,
        MAP_UNMAPPED,
        SHARING_RESTRICTED,
        SHARING_NO_SHARED_KEY,
        SHARING_SENSITIVE_FIELDS,
    ];
}

/// The six criteria, in order.
pub const CRITERIA: [QualityCriterion; 6] = [
    QualityCriterion::Correct,
    QualityCriterion::Complete,
    QualityCriterion::Clean,
    QualityCriterion::Live,
    QualityCriterion::Unified,
    QualityCriterion::Shared,
];

/// Findings collected for one record.
#[derive(Debug)]
pub(crate) struct Findings {
    flags: Vec<QualityFlag>,
}

impl Default for Findings {
    fn default() -> Self {
        // Records mostly get a handful of findings: room for them without growing.
        Findings {
            flags: Vec::with_capacity(8),
        }
    }
}

impl Findings {
    pub(crate) fn add(
        &mut self,
        criterion: QualityCriterion,
        severity: QualitySeverity,
        field: &str,
        code: &str,
        message: impl Into<String>,
    ) {
        self.flags.push(QualityFlag {
            criterion: criterion.into(),
            severity: severity.into(),
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn into_quality(self) -> Quality {
        summarise(self.flags)
    }
}

/// The [`Quality`] of a record with these findings: the flags, and the criteria that passed
/// (no WARNING or ERROR finding).
pub fn summarise(flags: Vec<QualityFlag>) -> Quality {
    // The criteria with a WARNING or ERROR finding, one bit each by their number, in one pass.
    let mut failing = 0u64;
    for flag in &flags {
        if matches!(
            QualitySeverity::try_from(flag.severity),
            Ok(QualitySeverity::Warning | QualitySeverity::Error)
        ) && let Ok(bit) = u32::try_from(flag.criterion)
        {
            failing |= 1u64.checked_shl(bit).unwrap_or(0);
        }
    }
    let passed = CRITERIA
        .into_iter()
        .map(|c| c as i32)
        .filter(|&c| failing & (1u64 << c) == 0)
        .collect();
    Quality { flags, passed }
}

/// What the record-level checks need to know besides the entity.
#[derive(Debug)]
pub(crate) struct CheckContext<'a> {
    /// The date of the change in Vietnam (what "future" means for the record's dates).
    pub(crate) change_date: CivilDate,
    pub(crate) commit_time: Option<&'a prost_types::Timestamp>,
    pub(crate) now: SystemTime,
    pub(crate) settings: &'a QualitySpec,
    /// The row's last-update date, when the mapping names an `updated_column`; `Some(None)`
    /// when it names one but the row has no date in it.
    pub(crate) row_updated: Option<Option<CivilDate>>,
    /// The fields the mapping set.
    pub(crate) assigned: SlotSet,
    /// The text fields set with text known to be clean (it went through `clean` unchanged).
    pub(crate) clean_texts: SlotSet,
    pub(crate) code_lists: &'a CodeLists,
}

use QualityCriterion::{Clean, Correct, Live, Shared};
use QualitySeverity::{Error, Info, Warning};

/// Runs the checks that need the whole record.
pub(crate) fn check_record(
    entity: &Draft<'_>,
    context: &CheckContext<'_>,
    findings: &mut Findings,
) {
    // Read once, for the ID checks and the shared-key check.
    let personal_id = entity
        .person()
        .filter(|p| !p.personal_id.is_empty())
        .map(|p| PersonalId::parse(&p.personal_id));
    if let Some(person) = entity.person() {
        check_person(person, personal_id.as_ref(), context, findings);
    }
    check_entity_fields(entity, context, findings);
    check_text(entity, context.clean_texts, findings);
    check_live(context, findings);
    check_shared(
        entity,
        matches!(personal_id, Some(Ok(_))),
        context,
        findings,
    );
}

/// The province (code system and code) a commune belongs to, from the code lists.
fn province_of_commune<'a>(
    commune: &CodedDraft<'_>,
    lists: &'a CodeLists,
) -> Option<(&'static str, &'a str)> {
    match commune.code_system.as_ref() {
        COMMUNE_2025 => lists
            .lookup(COMMUNE_2025, &commune.code)
            .map(|e| (PROVINCE_2025, e.parent_code.as_str())),
        COMMUNE_PRE_2025 => {
            let district = lists.lookup(COMMUNE_PRE_2025, &commune.code)?;
            lists
                .lookup(DISTRICT_PRE_2025, &district.parent_code)
                .map(|d| (PROVINCE_PRE_2025, d.parent_code.as_str()))
        }
        _ => None,
    }
}

/// A place's commune must lie in its province. A pre-2025 commune under a province already
/// translated to the 2025 list is compared through the province merger.
fn check_place(
    place: &PlaceDraft<'_>,
    field: PlaceField,
    lists: &CodeLists,
    findings: &mut Findings,
) {
    let (Some(province), Some(commune)) = (&place.province, &place.commune) else {
        return;
    };
    if province.code.is_empty() || commune.code.is_empty() {
        return;
    }
    let Some((system, commune_province)) = province_of_commune(commune, lists) else {
        return;
    };
    let same = if system == province.code_system {
        commune_province == province.code
    } else if system == PROVINCE_PRE_2025 && province.code_system == PROVINCE_2025 {
        lists.crosswalks_from(PROVINCE_PRE_2025).any(|c| {
            c.targets(commune_province)
                .iter()
                .any(|target| *target == *province.code)
        })
    } else {
        // A 2025 commune under a pre-2025 province: the merger cannot be read backwards.
        return;
    };
    if !same {
        findings.add(
            Correct,
            Warning,
            Slot::Place(field, PlacePart::Commune).name(),
            codes::PLACE_COMMUNE_OUTSIDE_PROVINCE,
            [
                "commune ",
                commune.code.as_ref(),
                " of ",
                commune.code_system.as_ref(),
                " is not in province ",
                province.code.as_ref(),
                " of ",
                province.code_system.as_ref(),
            ]
            .concat(),
        );
    }
}

/// `personal_id`: the parsed personal ID number, `None` when the record has none.
fn check_person(
    person: &PersonDraft<'_>,
    personal_id: Option<&Result<PersonalId, PinError>>,
    context: &CheckContext<'_>,
    findings: &mut Findings,
) {
    for (field, place) in [
        (PlaceField::BirthPlace, &person.birth_place),
        (PlaceField::Hometown, &person.hometown),
        (PlaceField::PermanentResidence, &person.permanent_residence),
        (PlaceField::CurrentResidence, &person.current_residence),
    ] {
        if let Some(place) = place {
            check_place(place, field, context.code_lists, findings);
        }
    }
    let birth = person.birth_date.as_ref();
    if let Some(date) = birth.filter(|d| d.year != 0) {
        check_past_date(date, "person.birth_date", context, findings);
        if date.year < 1900 {
            findings.add(
                Correct,
                Warning,
                "person.birth_date",
                codes::DATE_IMPLAUSIBLE,
                "birth year before 1900",
            );
        }
        if is_partial(date) {
            findings.add(
                Correct,
                Info,
                "person.birth_date",
                codes::DATE_PARTIAL,
                "partial birth date: the source knows only the year or the month",
            );
        }
    }
    if let Some(personal_id) = personal_id {
        match personal_id {
            Err(e) => findings.add(
                Correct,
                Error,
                "person.personal_id",
                codes::PIN_INVALID,
                pin_error_message(e),
            ),
            Ok(id) => check_pin_consistency(id, person, findings),
        }
    }
    if !person.former_id_number.is_empty() {
        let n = &person.former_id_number;
        if !(matches!(n.len(), 9 | 12) && n.bytes().all(|b| b.is_ascii_digit())) {
            findings.add(
                Correct,
                Warning,
                "person.former_id_number",
                codes::FORMER_ID_INVALID,
                format!(
                    "a former identity card number has 9 or 12 digits; this one has {} characters{}",
                    n.chars().count(),
                    if n.bytes().all(|b| b.is_ascii_digit()) {
                        ""
                    } else {
                        ", not all digits"
                    }
                ),
            );
        }
    }
    if !person.phone.is_empty() && !is_phone_number(&person.phone) {
        findings.add(
            Correct,
            Warning,
            "person.phone",
            codes::PHONE_INVALID,
            "not a Vietnamese telephone number (10 or 11 digits starting with 0, or +84)",
        );
    }
    if !person.email.is_empty() && !is_email(&person.email) {
        findings.add(
            Correct,
            Warning,
            "person.email",
            codes::EMAIL_INVALID,
            "not an e-mail address",
        );
    }
}

fn pin_error_message(e: &PinError) -> String {
    match e {
        PinError::WrongLength { len } => {
            format!("a personal ID number has 12 digits; this value has {len} characters")
        }
        PinError::NonDigit { position, .. } => {
            format!("the character at position {position} is not a digit")
        }
        PinError::UnknownPrefix { .. } => {
            "the first three digits are neither a birth-registration \
                                           province code (001-096) nor a code for births abroad"
                .into()
        }
        PinError::CenturyDigitNotInUse { digit, first_year } => format!(
            "the fourth digit {digit} is for births from {first_year}; no such number is issued yet"
        ),
    }
}

fn check_pin_consistency(id: &PersonalId, person: &PersonDraft<'_>, findings: &mut Findings) {
    let birth_year = person
        .birth_date
        .as_ref()
        .filter(|d| d.year > 0)
        .and_then(|d| u16::try_from(d.year).ok());
    let sex = match Sex::try_from(person.sex) {
        Ok(Sex::Male) => Some(pin::Sex::Male),
        Ok(Sex::Female) => Some(pin::Sex::Female),
        _ => None,
    };
    let province = person
        .birth_place
        .as_ref()
        .and_then(|p| p.province.as_ref())
        .filter(|c| !c.code.is_empty());
    // The ID number holds the pre-2025 province of birth registration. A birth place already
    // translated to a 2025 province is compared through the merger instead.
    let (old_province, new_province) = match province {
        Some(c) if c.code_system == PROVINCE_PRE_2025 => (Some(c.code.as_ref()), None),
        Some(c) if c.code_system == PROVINCE_2025 => (None, Some(c)),
        _ => (None, None),
    };
    for discrepancy in pin::consistency(id, birth_year, sex, old_province) {
        let (field, code, severity, message) = match discrepancy {
            PinDiscrepancy::BirthYear { .. } => (
                "person.birth_date",
                codes::PIN_BIRTH_YEAR_MISMATCH,
                Warning,
                "the birth year differs from the one the personal ID number encodes (the number \
                 may have been re-issued after a correction)"
                    .to_owned(),
            ),
            PinDiscrepancy::Sex { .. } => (
                "person.sex",
                codes::PIN_SEX_MISMATCH,
                Warning,
                "the sex differs from the one the personal ID number encodes (the number may have \
                 been re-issued after a correction)"
                    .to_owned(),
            ),
            PinDiscrepancy::BirthProvince {
                same_province_since_2025,
                ..
            } => (
                "person.birth_place.province",
                codes::PIN_PROVINCE_MISMATCH,
                if same_province_since_2025 {
                    Info
                } else {
                    Warning
                },
                if same_province_since_2025 {
                    "the birth province differs from the ID number's, but both became one province on \
                     2025-07-01"
                        .to_owned()
                } else {
                    "the birth province differs from the province of birth registration in the \
                     personal ID number"
                        .to_owned()
                },
            ),
        };
        findings.add(Correct, severity, field, code, message);
    }
    if let (Some(place), Some(registered)) = (new_province, id.birth_province())
        && place.code != registered.merged_into_gso_code
    {
        findings.add(
            Correct,
            Warning,
            "person.birth_place.province",
            codes::PIN_PROVINCE_MISMATCH,
            "the birth province is not the province that the ID number's province of birth \
             registration became part of",
        );
    }
}

/// 10 or 11 digits starting with 0 once spaces, dots, hyphens and brackets are removed; `+84` or
/// `84` before the number stands for the leading 0.
fn is_phone_number(phone: &str) -> bool {
    // The characters that count, as ASCII: anything else makes the number invalid, and no
    // valid number has more than 13 ("+84" and 10 digits).
    let mut buffer = [0u8; 13];
    let mut len = 0;
    for c in phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
    {
        if len == buffer.len() || !(c.is_ascii_digit() || c == '+') {
            return false;
        }
        buffer[len] = c as u8;
        len += 1;
    }
    let number = &buffer[..len];
    // The national form: `+84` or `84` (followed by at least nine digits) stand for a 0.
    let (digits, national_len) = if let Some(rest) = number.strip_prefix(b"+84") {
        (rest, rest.len() + 1)
    } else if let Some(rest) = number.strip_prefix(b"84").filter(|r| r.len() >= 9) {
        (rest, rest.len() + 1)
    } else if number.first() == Some(&b'0') {
        (number, number.len())
    } else {
        return false;
    };
    matches!(national_len, 10 | 11) && digits.iter().all(u8::is_ascii_digit)
}

fn is_email(email: &str) -> bool {
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        _ => false,
    }
}

/// An event date (birth, recruitment...) must not be after the change.
fn check_past_date(date: &Date, field: &str, context: &CheckContext<'_>, findings: &mut Findings) {
    if let Some((earliest, _)) = day_range(date)
        && earliest > context.change_date
    {
        findings.add(
            Correct,
            Error,
            field,
            codes::DATE_IN_FUTURE,
            format!(
                "the date is after the change itself ({})",
                context.change_date
            ),
        );
    }
}

/// `from` must not be after `to` (with partial dates, only when every reading says so).
fn check_order(
    from: Option<&Date>,
    to: Option<&Date>,
    field: &str,
    code: &str,
    message: &str,
    findings: &mut Findings,
) {
    if let (Some((from_earliest, _)), Some((_, to_latest))) =
        (from.and_then(day_range), to.and_then(day_range))
        && from_earliest > to_latest
    {
        findings.add(Correct, Error, field, code, message);
    }
}

fn check_positive(value: Option<&str>, field: &str, allow_zero: bool, findings: &mut Findings) {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return;
    };
    let negative = value.starts_with('-');
    let zero = value
        .trim_start_matches(['-', '+'])
        .chars()
        .all(|c| c == '0' || c == '.');
    if negative && !zero || (zero && !allow_zero) {
        findings.add(
            Correct,
            Error,
            field,
            codes::VALUE_OUT_OF_RANGE,
            if allow_zero {
                "the amount is negative"
            } else {
                "the amount must be greater than zero"
            },
        );
    }
}

fn check_entity_fields(entity: &Draft<'_>, context: &CheckContext<'_>, findings: &mut Findings) {
    let birth = entity.person().and_then(|p| p.birth_date.as_ref());
    if let Draft::CivilServant(cs) = entity {
        for (date, field) in [
            (&cs.recruitment_date, "recruitment_date"),
            (&cs.rank_appointment_date, "rank_appointment_date"),
            (&cs.party_admission_date, "party_admission_date"),
        ] {
            if let Some(date) = date.as_ref().filter(|d| d.year != 0) {
                check_past_date(date, field, context, findings);
                check_order(
                    birth,
                    Some(date),
                    field,
                    codes::DATE_BEFORE_BIRTH,
                    "the date is before the person's birth",
                    findings,
                );
            }
        }
        check_positive(
            cs.salary_coefficient.as_deref(),
            "salary_coefficient",
            false,
            findings,
        );
        check_positive(
            cs.position_allowance.as_deref(),
            "position_allowance",
            true,
            findings,
        );
        if context.assigned.contains(Slot::SalaryStep) && cs.salary_step < 1 {
            findings.add(
                Correct,
                Error,
                "salary_step",
                codes::VALUE_OUT_OF_RANGE,
                format!("salary step {} is below 1", cs.salary_step),
            );
        }
    }
    match entity.message() {
        Some(CanonicalEntity::SocialInsurance(si)) => {
            let n = &si.insurance_number;
            if !(n.is_empty() || n.len() == 10 && n.bytes().all(|b| b.is_ascii_digit())) {
                findings.add(
                    Correct,
                    Error,
                    "insurance_number",
                    codes::INSURANCE_NUMBER_INVALID,
                    "a social insurance number has 10 digits",
                );
            }
            check_order(
                si.period_from.as_ref(),
                si.period_to.as_ref(),
                "period_to",
                codes::PERIOD_REVERSED,
                "the period ends before it starts",
                findings,
            );
            check_positive(
                si.contribution_salary.as_ref().map(|d| d.value.as_str()),
                "contribution_salary",
                false,
                findings,
            );
        }
        Some(CanonicalEntity::Organisation(org)) => {
            if let Some(date) = org.established.as_ref().filter(|d| d.year != 0) {
                check_past_date(date, "established", context, findings);
            }
            check_order(
                org.established.as_ref(),
                org.dissolved.as_ref(),
                "dissolved",
                codes::PERIOD_REVERSED,
                "the organisation is dissolved before it was established",
                findings,
            );
        }
        Some(CanonicalEntity::AdministrativeUnit(unit)) => check_order(
            unit.valid_from.as_ref(),
            unit.valid_to.as_ref(),
            "valid_to",
            codes::PERIOD_REVERSED,
            "the unit's validity ends before it starts",
            findings,
        ),
        _ => {}
    }
}

/// The free-text fields of a record that are not empty, by slot.
fn text_fields<'e>(entity: &'e Draft<'_>) -> Vec<(Slot, &'e str)> {
    let mut out: Vec<(Slot, &str)> = Vec::with_capacity(12);
    if let Some(person) = entity.person() {
        if let Some(name) = &person.name {
            out.push((Slot::Name, name.full.as_ref()));
        }
        let places = [
            (PlaceField::BirthPlace, &person.birth_place),
            (PlaceField::Hometown, &person.hometown),
            (PlaceField::PermanentResidence, &person.permanent_residence),
            (PlaceField::CurrentResidence, &person.current_residence),
        ];
        for (field, place) in places {
            if let Some(place) = place {
                out.push((Slot::Place(field, PlacePart::Detail), place.detail.as_ref()));
                out.push((Slot::Place(field, PlacePart::Text), place.text.as_ref()));
            }
        }
    }
    if let Draft::CivilServant(cs) = entity {
        out.push((Slot::OrganisationName, &cs.organisation_name));
    }
    match entity.message() {
        Some(CanonicalEntity::Organisation(org)) => {
            out.push((Slot::OrgName, &org.name));
            out.push((Slot::OrgShortName, &org.short_name));
        }
        Some(CanonicalEntity::AdministrativeUnit(unit)) => out.push((Slot::UnitName, &unit.name)),
        Some(CanonicalEntity::SocialInsurance(si)) => {
            out.push((Slot::EmployerName, &si.employer_name));
        }
        _ => {}
    }
    out.retain(|(_, value)| !value.is_empty());
    out
}

/// Whether a name still holds legacy bytes: its source spelling reads as TCVN3 or VNI, and the
/// name is not what decoding that spelling gives. (The name itself is title-cased, which can
/// hide the legacy bytes from detection; the source spelling is kept as it was.)
fn name_left_undecoded(name: &NameDraft<'_>) -> Option<Encoding> {
    let encoding = legacy::detect(&name.original);
    if !matches!(encoding, Encoding::Tcvn3 | Encoding::Vni) {
        return None;
    }
    let decoded = legacy::to_unicode(&name.original, encoding).ok()?;
    (fold_tones(&decoded) != fold_tones(&name.full)).then_some(encoding)
}

/// `clean_texts`: the text fields known to be clean already.
fn check_text(entity: &Draft<'_>, clean_texts: SlotSet, findings: &mut Findings) {
    if let Some(encoding) = entity
        .person()
        .and_then(|p| p.name.as_ref())
        .and_then(name_left_undecoded)
    {
        findings.add(
            Clean,
            Warning,
            "person.name",
            codes::TEXT_LEGACY_ENCODING,
            format!("the source spelling reads as {encoding}-encoded bytes: add a legacy_decode transform"),
        );
    }
    for (slot, value) in text_fields(entity) {
        let field = slot.name();
        let is_name = slot == Slot::Name;
        // U+FFFD is EF BF BD: the byte search is the quick no.
        if value.as_bytes().contains(&0xEF) && value.contains('\u{FFFD}') {
            findings.add(
                Clean,
                Warning,
                field,
                codes::TEXT_REPLACEMENT_CHARACTER,
                "the text contains U+FFFD: characters were lost when it was decoded upstream",
            );
        }
        // Names were looked at above, in their source spelling.
        let encoding = if is_name {
            Encoding::Unicode
        } else {
            legacy::detect(value)
        };
        if matches!(encoding, Encoding::Tcvn3 | Encoding::Vni) {
            findings.add(
                Clean,
                Warning,
                field,
                codes::TEXT_LEGACY_ENCODING,
                format!(
                    "the text reads as {encoding}-encoded bytes: add a legacy_decode transform"
                ),
            );
        }
        if !clean_texts.contains(slot) && !is_clean(value) {
            findings.add(
                Clean,
                Warning,
                field,
                codes::TEXT_NOT_CLEAN,
                "extra white space or invisible characters: add a clean transform",
            );
        }
        if is_name
            && value.chars().any(|c| {
                !(is_letter(c) || c == ' ' || c == '-' || c == '\'' || c == '.' || unicode_mark(c))
            })
        {
            findings.add(
                Clean,
                Warning,
                field,
                codes::NAME_STRAY_CHARACTERS,
                "the name contains digits or symbols",
            );
        }
    }
}

fn unicode_mark(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
}

fn check_live(context: &CheckContext<'_>, findings: &mut Findings) {
    match context.commit_time {
        None => findings.add(
            Live,
            Warning,
            "",
            codes::SOURCE_NO_COMMIT_TIME,
            "the change has no commit time, so its freshness is unknown",
        ),
        Some(commit) => {
            let age = unix_seconds(context.now).saturating_sub(commit.seconds);
            let max = i64::from(context.settings.max_change_age_days) * 86_400;
            if age > max {
                findings.add(
                    Live,
                    Warning,
                    "",
                    codes::SOURCE_STALE,
                    [
                        "the change was committed ",
                        IntText::new(age / 86_400).as_str(),
                        " days before it was translated (limit ",
                        IntText::new(i64::from(context.settings.max_change_age_days)).as_str(),
                        ")",
                    ]
                    .concat(),
                );
            } else if age < -300 {
                findings.add(
                    Live,
                    Warning,
                    "",
                    codes::SOURCE_COMMIT_TIME_IN_FUTURE,
                    format!(
                        "the commit time is {} seconds ahead of the translator's clock",
                        -age
                    ),
                );
            }
        }
    }
    if let (Some(updated), Some(max_days)) =
        (context.row_updated, context.settings.max_row_age_days)
    {
        let column = context
            .settings
            .updated_column
            .as_deref()
            .unwrap_or_default();
        match updated {
            None => findings.add(
                Live,
                Warning,
                "",
                codes::RECORD_NO_UPDATE_DATE,
                format!("column {column} gives no date of the last update"),
            ),
            Some(date) => {
                let age = context.change_date.days_since_epoch() - date.days_since_epoch();
                if age > i64::from(max_days) {
                    findings.add(
                        Live,
                        Warning,
                        "",
                        codes::RECORD_NOT_UPDATED,
                        format!(
                            "the source last updated the record on {date}, {age} days ago (limit {max_days})"
                        ),
                    );
                }
            }
        }
    }
}

/// `valid_personal_id`: whether the record's person has a valid personal ID number.
fn check_shared(
    entity: &Draft<'_>,
    valid_personal_id: bool,
    context: &CheckContext<'_>,
    findings: &mut Findings,
) {
    if !context.settings.shareable {
        findings.add(
            Shared,
            Warning,
            "",
            codes::SHARING_RESTRICTED,
            format!(
                "the source does not allow sharing these records: {}",
                context.settings.restriction
            ),
        );
    }
    let shared_key_missing = match entity.message() {
        Some(CanonicalEntity::Organisation(org)) => org.code.is_empty().then_some(
            "no electronic identifier code (mã định danh điện tử): other systems cannot link the \
             organisation",
        ),
        Some(CanonicalEntity::AdministrativeUnit(unit)) => unit
            .code
            .is_empty()
            .then_some("no unit code: other systems cannot link the unit"),
        _ => (!valid_personal_id).then_some(
            "no valid personal ID number: other systems cannot link the person's records \
                 (files are keyed by personal ID)",
        ),
    };
    if let Some(message) = shared_key_missing {
        findings.add(Shared, Warning, "", codes::SHARING_NO_SHARED_KEY, message);
    }
    let mut message = String::new();
    for slot in sensitive_slots_by_name()
        .iter()
        .filter(|s| context.assigned.contains(**s))
    {
        if message.is_empty() {
            message.reserve(160);
            message.push_str("sensitive personal data (");
        } else {
            message.push_str(", ");
        }
        message.push_str(slot.name());
    }
    if !message.is_empty() {
        message.push_str("): masked for partners unless their policy grants it");
        findings.add(Shared, Info, "", codes::SHARING_SENSITIVE_FIELDS, message);
    }
}

/// The slots of sensitive data, in the order of their names (as the finding lists them).
fn sensitive_slots_by_name() -> &'static [Slot] {
    static SENSITIVE: std::sync::LazyLock<Vec<Slot>> = std::sync::LazyLock::new(|| {
        let mut slots: Vec<Slot> = Slot::all()
            .into_iter()
            .filter(|s| s.sensitivity() == Sensitivity::Sensitive)
            .collect();
        slots.sort_by_key(|s| s.name());
        slots
    });
    &SENSITIVE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_national_and_international_form() {
        for ok in [
            "0912345678",
            "091 234 5678",
            "091.234.5678",
            "+84 912 345 678",
            "84912345678",
            "(024) 3825 1234",
        ] {
            assert!(is_phone_number(ok), "{ok}");
        }
        for bad in [
            "912345678",
            "09123456789012",
            "0912-ABC-678",
            "",
            "+1 202 555 0100",
        ] {
            assert!(!is_phone_number(bad), "{bad}");
        }
    }

    /// The first, allocating version of [`is_phone_number`], as the reference.
    fn is_phone_number_reference(phone: &str) -> bool {
        let digits: String = phone
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let national = if let Some(rest) = digits.strip_prefix("+84") {
            format!("0{rest}")
        } else if let Some(rest) = digits.strip_prefix("84").filter(|r| r.len() >= 9) {
            format!("0{rest}")
        } else {
            digits
        };
        matches!(national.len(), 10 | 11)
            && national.starts_with('0')
            && national.bytes().all(|b| b.is_ascii_digit())
    }

    proptest::proptest! {
        #[test]
        fn phone_check_agrees_with_the_reference(phone in "[+0-9 .()\\-a8４]{0,16}") {
            proptest::prop_assert_eq!(is_phone_number(&phone), is_phone_number_reference(&phone));
        }
    }

    #[test]
    fn email_shape() {
        assert!(is_email("an.nv@moha.gov.vn"));
        for bad in [
            "an.nv", "a@b", "a@@b.vn", "a b@c.vn", "@c.vn", "a@.vn", "a@vn.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn criteria_pass_unless_warned() {
        let flag = |criterion: QualityCriterion, severity: QualitySeverity| QualityFlag {
            criterion: criterion.into(),
            severity: severity.into(),
            ..QualityFlag::default()
        };
        let quality = summarise(vec![
            flag(Correct, Info),
            flag(Clean, Warning),
            flag(QualityCriterion::Unified, Error),
        ]);
        let passed: Vec<i32> = [Correct, QualityCriterion::Complete, Live, Shared]
            .into_iter()
            .map(|c| c as i32)
            .collect();
        assert_eq!(quality.passed, passed);
        assert_eq!(quality.flags.len(), 3);
    }

    #[test]
    fn amounts_must_be_positive() {
        let run = |v: &str, allow_zero| {
            let mut f = Findings::default();
            check_positive(Some(v), "x", allow_zero, &mut f);
            f.flags.len()
        };
        assert_eq!(run("4.98", false), 0);
        assert_eq!(run("0.00", false), 1);
        assert_eq!(run("0.00", true), 0);
        assert_eq!(run("-1", true), 1);
        assert_eq!(run("-0.0", true), 0);
    }
}
