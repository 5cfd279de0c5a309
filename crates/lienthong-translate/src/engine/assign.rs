//! Writing a field's final value into the record being built, converting it to the field's
//! type.

use std::borrow::Cow;

use lienthong_proto::v1 as pb;
use lienthong_proto::v1::Date;
use lienthong_vietnamese::names::{PersonName, join_name_parts};
use lienthong_vietnamese::text::{clean, fold, in_nfc, nfc, title_cased_name};

use super::transform::{normalise_decimal, normalised_decimal, to_int};
use super::value::FieldValue;
use crate::codelist::SEX;
use crate::date::{CivilDate, is_valid_date};
use crate::draft::{
    CivilServantDraft, CodedDraft, Draft, NameDraft, PersonDraft, PlaceDraft, Text,
};
use crate::entity::CanonicalEntity;
use crate::event::ValueRef;
use crate::mapping::target::{PlaceField, PlacePart, Slot, SlotKind};
use crate::text::{is_blank, trim};

/// The value does not fit the field; the message never quotes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssignError(pub(crate) String);

/// The value converted to the field's kind.
enum Converted<'a> {
    Text(Text<'a>),
    /// A whole name: its parts, and `full`, the parts joined.
    Name {
        full: Text<'a>,
        family: Text<'a>,
        middle: Text<'a>,
        given: Text<'a>,
    },
    Date(Date),
    Sex(pb::Sex),
    Coded(CodedDraft<'a>, Option<Date>),
    Enum(i32),
    Int(i32),
    Decimal(Text<'a>),
    TextList(Vec<String>),
}

impl<'a> Converted<'a> {
    fn name(family: Text<'a>, middle: Text<'a>, given: Text<'a>) -> Self {
        Converted::Name {
            full: Cow::Owned(join_name_parts(&family, &middle, &given)),
            family,
            middle,
            given,
        }
    }
}

/// Sets `slot` of `record` to `value`. Returns false (and sets nothing) when the value is
/// missing. `original` is the value as the source held it, kept in `PersonName.original`.
pub(crate) fn assign<'a>(
    record: &mut Draft<'a>,
    slot: Slot,
    value: FieldValue<'a>,
    original: &Text<'a>,
) -> Result<bool, AssignError> {
    if value.is_missing() {
        return Ok(false);
    }
    let converted = convert(slot, value)?;
    let Some(converted) = converted else {
        return Ok(false);
    };
    write(record, slot, converted, original);
    Ok(true)
}

/// [`assign`] of what the steps most fields end with, in the kind of slot that takes it as it
/// is: a coded value, text, the name of an enum value. The same result, without going through
/// every kind of conversion.
pub(crate) fn assign_made<'a>(
    record: &mut Draft<'a>,
    slot: Slot,
    value: FieldValue<'a>,
    original: &Text<'a>,
) -> Result<bool, AssignError> {
    let converted = match (slot.kind(), value) {
        (SlotKind::Coded, FieldValue::Coded { value, as_of }) => {
            if value.code.is_empty() && value.original.is_empty() {
                return Ok(false);
            }
            Converted::Coded(value, as_of)
        }
        (SlotKind::Text, FieldValue::Text(text)) => {
            if is_blank(&text) {
                return Ok(false);
            }
            Converted::Text(trimmed_nfc(text))
        }
        (SlotKind::Enum, FieldValue::Text(text)) => {
            if is_blank(&text) {
                return Ok(false);
            }
            Converted::Enum(enum_value(slot, &text)?)
        }
        (_, value) => return assign(record, slot, value, original),
    };
    write(record, slot, converted, original);
    Ok(true)
}

/// [`assign`] of text that is clean ([`lienthong_vietnamese::text::is_clean`]) to a text slot:
/// clean text is trimmed and in NFC, so it is set as it is.
pub(crate) fn assign_clean_text<'a>(record: &mut Draft<'a>, slot: Slot, text: Text<'a>) {
    // Not a name slot (their original text matters): no name slot is a text slot.
    write(record, slot, Converted::Text(text), &Cow::Borrowed(""));
}

/// [`assign`] of a whole name `full` that is clean and in the casing [`title_cased_name`] gives,
/// split into its words as `PersonName::parse` splits it (so [`assign`] would leave every part
/// as it is). A name that is clean is never blank: the name is always set.
pub(crate) fn assign_cased_name<'a>(
    record: &mut Draft<'a>,
    slot: Slot,
    full: &'a str,
    original: &Text<'a>,
) {
    // Clean text is trimmed and has single spaces between words: the family name runs to the
    // first space, the given name from the last, the middle names are what lies between.
    let (family, middle, given) = match (full.find(' '), full.rfind(' ')) {
        (Some(first), Some(last)) => (
            &full[..first],
            full.get(first + 1..last).unwrap_or_default(),
            &full[last + 1..],
        ),
        _ => ("", "", full),
    };
    let name = Converted::Name {
        full: Cow::Borrowed(full),
        family: Cow::Borrowed(family),
        middle: Cow::Borrowed(middle),
        given: Cow::Borrowed(given),
    };
    write(record, slot, name, original);
}

/// [`assign`] of a column's value as the source sent it, for a field without transforms, in
/// the cases that need no conversion work and cannot fail: a valid date, an integer that fits,
/// a decimal in canonical-able form, or NULL (nothing set: `Some(false)`). `None` for every
/// other case, which the caller takes through [`assign`]; nothing is set then.
pub(crate) fn assign_as_sent<'a>(
    record: &mut Draft<'a>,
    slot: Slot,
    value: ValueRef<'a>,
) -> Option<bool> {
    let converted = match (slot.kind(), value) {
        (_, ValueRef::Null) => return Some(false),
        (SlotKind::Date, ValueRef::Date(d)) if is_valid_date(&d) => Converted::Date(d),
        (SlotKind::Int, ValueRef::Int(i)) => Converted::Int(i32::try_from(i).ok()?),
        (SlotKind::Decimal, ValueRef::Decimal(d)) => Converted::Decimal(normalised_decimal(d)?),
        _ => return None,
    };
    // Not a name slot (their original text matters): no slot of these kinds is one.
    write(record, slot, converted, &Cow::Borrowed(""));
    Some(true)
}

fn wrong(slot: Slot, value: &FieldValue<'_>, hint: &str) -> AssignError {
    AssignError(format!(
        "`{slot}` takes {hint}, but the value is a {}",
        value.type_name()
    ))
}

fn convert<'a>(slot: Slot, value: FieldValue<'a>) -> Result<Option<Converted<'a>>, AssignError> {
    Ok(Some(match slot.kind() {
        SlotKind::Text => match &value {
            FieldValue::Text(_)
            | FieldValue::Int(_)
            | FieldValue::UInt(_)
            | FieldValue::Decimal(_)
            | FieldValue::Bytes(_) => {
                Converted::Text(trimmed_nfc(value.into_text().unwrap_or_default()))
            }
            _ => return Err(wrong(slot, &value, "text")),
        },
        SlotKind::Name => match value {
            FieldValue::Name {
                family,
                middle,
                given,
            } => Converted::name(
                title_cased(Cow::Owned(family)),
                title_cased(Cow::Owned(middle)),
                title_cased(Cow::Owned(given)),
            ),
            FieldValue::Text(text) => match PersonName::parse(&title_cased_name(&text)) {
                Ok(name) => Converted::name(
                    Cow::Owned(name.family),
                    Cow::Owned(name.middle),
                    Cow::Owned(name.given),
                ),
                Err(_) => return Ok(None),
            },
            other => return Err(wrong(slot, &other, "a name")),
        },
        SlotKind::Date => match value {
            FieldValue::Date(d) | FieldValue::DateTime(d) if is_valid_date(&d) => {
                Converted::Date(d)
            }
            FieldValue::Date(_) | FieldValue::DateTime(_) => {
                return Err(AssignError(format!(
                    "`{slot}`: the source holds an impossible date"
                )));
            }
            FieldValue::Instant(seconds) => match CivilDate::in_vietnam_at_unix_seconds(seconds) {
                Some(d) => Converted::Date(d.to_proto()),
                None => {
                    return Err(AssignError(format!(
                        "`{slot}`: the timestamp is outside years 1-9999"
                    )));
                }
            },
            other => {
                return Err(wrong(
                    slot,
                    &other,
                    "a date (read text with the `date` transform)",
                ));
            }
        },
        SlotKind::Sex => Converted::Sex(to_sex(slot, &value)?),
        SlotKind::Coded => match value {
            FieldValue::Coded { value, as_of } => Converted::Coded(value, as_of),
            other => return Err(wrong(slot, &other, "a coded value")),
        },
        SlotKind::Enum => {
            let FieldValue::Text(text) = &value else {
                return Err(wrong(slot, &value, "a name of the enum (text)"));
            };
            Converted::Enum(enum_value(slot, text)?)
        }
        SlotKind::Int => {
            let n = to_int(&value).ok_or_else(|| wrong(slot, &value, "a whole number"))?;
            Converted::Int(
                i32::try_from(n)
                    .map_err(|_| AssignError(format!("`{slot}`: the number is out of range")))?,
            )
        }
        SlotKind::Decimal => {
            let text = match &value {
                FieldValue::Decimal(d) | FieldValue::Text(d) => match d {
                    Cow::Borrowed(d) => normalised_decimal(d),
                    Cow::Owned(d) => normalise_decimal(d, false).map(Cow::Owned),
                },
                FieldValue::Int(_) | FieldValue::UInt(_) | FieldValue::Float(_) => value
                    .to_text()
                    .and_then(|t| normalise_decimal(&t, false))
                    .map(Cow::Owned),
                _ => None,
            };
            Converted::Decimal(text.ok_or_else(|| {
                wrong(
                    slot,
                    &value,
                    "a decimal number (use `decimal_comma` for 4,98)",
                )
            })?)
        }
        SlotKind::TextList => {
            let items = match value {
                FieldValue::List(items) => items,
                other => vec![other],
            };
            let texts: Vec<String> = items
                .iter()
                .filter(|v| !v.is_missing())
                .filter_map(FieldValue::to_text)
                .map(|t| clean(&t))
                .collect();
            if texts.is_empty() {
                return Ok(None);
            }
            Converted::TextList(texts)
        }
    }))
}

/// `nfc(text.trim())`, borrowed where the text is: text a step already made (and owns) is kept
/// when it is trimmed and in NFC, instead of being copied.
fn trimmed_nfc(text: Text<'_>) -> Text<'_> {
    match text {
        // ASCII is in NFC.
        Cow::Borrowed(text) if text.is_ascii() => Cow::Borrowed(trim(text)),
        Cow::Borrowed(text) => nfc(trim(text)),
        Cow::Owned(owned)
            if trim(&owned).len() == owned.len() && (owned.is_ascii() || in_nfc(&owned)) =>
        {
            Cow::Owned(owned)
        }
        Cow::Owned(owned) => Cow::Owned(nfc(trim(&owned)).into_owned()),
    }
}

/// The name part in [`title_cased_name`] casing, kept as it is when it has that casing.
fn title_cased(part: Text<'_>) -> Text<'_> {
    let changed = match title_cased_name(&part) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    changed.map_or(part, Cow::Owned)
}

/// The sex a code of `code_system` stands for.
fn sex_of_code(slot: Slot, code_system: &str, code: &str) -> Result<pb::Sex, AssignError> {
    if code_system != SEX {
        return Err(AssignError(format!(
            "`{slot}` takes codes of {SEX}, not of {code_system}"
        )));
    }
    match code {
        "1" => Ok(pb::Sex::Male),
        "2" => Ok(pb::Sex::Female),
        _ => Err(AssignError(format!("`{slot}`: {SEX} has no such code"))),
    }
}

/// [`assign`] of the coded value of a code found in a list (`code` not empty) to a sex slot,
/// without making the coded value: only its system and code matter there.
pub(crate) fn assign_sex_code(
    record: &mut Draft<'_>,
    slot: Slot,
    code_system: &str,
    code: &str,
) -> Result<bool, AssignError> {
    let sex = sex_of_code(slot, code_system, code)?;
    write(record, slot, Converted::Sex(sex), &Cow::Borrowed(""));
    Ok(true)
}

fn to_sex(slot: Slot, value: &FieldValue<'_>) -> Result<pb::Sex, AssignError> {
    match value {
        FieldValue::Coded { value: coded, .. } => {
            sex_of_code(slot, &coded.code_system, &coded.code)
        }
        FieldValue::Text(text) => match fold(text).as_str() {
            "male" | "m" | "nam" => Ok(pb::Sex::Male),
            "female" | "f" | "nu" => Ok(pb::Sex::Female),
            _ => Err(AssignError(format!(
                "`{slot}` takes male or female (map the source's values with `map`)"
            ))),
        },
        other => Err(wrong(
            slot,
            other,
            "male or female (map numeric codes with `map` or `code`)",
        )),
    }
}

/// A proto enum value from its short name (`civil_servant`) or its full name
/// (`CIVIL_SERVANT_CATEGORY_CIVIL_SERVANT`). UNSPECIFIED is never accepted.
fn enum_value(slot: Slot, text: &str) -> Result<i32, AssignError> {
    let (prefix, lookup): (&str, fn(&str) -> Option<i32>) = match slot {
        Slot::Category => ("CIVIL_SERVANT_CATEGORY", |s| {
            pb::CivilServantCategory::from_str_name(s).map(|v| v as i32)
        }),
        Slot::Status => ("EMPLOYMENT_STATUS", |s| {
            pb::EmploymentStatus::from_str_name(s).map(|v| v as i32)
        }),
        Slot::OrgLevel => ("ORGANISATION_LEVEL", |s| {
            pb::OrganisationLevel::from_str_name(s).map(|v| v as i32)
        }),
        Slot::UnitLevel => ("ADMINISTRATIVE_LEVEL", |s| {
            pb::AdministrativeLevel::from_str_name(s).map(|v| v as i32)
        }),
        _ => ("INSURANCE_SCHEME", |s| {
            pb::InsuranceScheme::from_str_name(s).map(|v| v as i32)
        }),
    };
    let name = trim(text);
    if let Some(value) = by_short_name(slot, prefix, name) {
        return Ok(value);
    }
    let value = if name.is_ascii() {
        let mut buffer = [0u8; 64];
        ascii_full_name(prefix, name, &mut buffer).and_then(lookup)
    } else {
        let name = name.to_uppercase();
        let full = if name.starts_with(prefix) {
            name
        } else {
            [prefix, "_", &name].concat()
        };
        lookup(&full)
    };
    value.filter(|&v| v != 0).ok_or_else(|| {
        AssignError(format!(
            "`{slot}`: {} is not one of its values ({})",
            super::transform::describe(text, crate::mapping::target::Sensitivity::Public),
            enum_names(slot).join(", ")
        ))
    })
}

/// The value `name` stands for when it is the short name of one (`civil_servant`, in any ASCII
/// case): what the look-up by full name in [`enum_value`] finds for it, without building the
/// full name. `None` for anything else, which that look-up decides.
fn by_short_name(slot: Slot, prefix: &str, name: &str) -> Option<i32> {
    let has_prefix = name
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()));
    if has_prefix {
        return None;
    }
    short_names(slot)
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name))
        .map(|&(_, value)| value)
}

/// The values of the enum of an enum slot but UNSPECIFIED, by their names without the prefix
/// (`CIVIL_SERVANT`), as [`enum_value`] reads them.
fn short_names(slot: Slot) -> &'static [(&'static str, i32)] {
    type Table = Vec<(&'static str, i32)>;
    fn table(prefix: &str, name_of: fn(i32) -> Option<&'static str>) -> Table {
        (1..=255)
            .filter_map(|value| {
                let full = name_of(value)?;
                // Names longer than the buffer of `ascii_full_name` are never found.
                let short = full.strip_prefix(prefix)?.strip_prefix('_')?;
                (full.len() <= 64).then_some((short, value))
            })
            .collect()
    }
    static TABLES: std::sync::LazyLock<[Table; 5]> = std::sync::LazyLock::new(|| {
        [
            table("CIVIL_SERVANT_CATEGORY", |v| {
                pb::CivilServantCategory::try_from(v)
                    .ok()
                    .map(|e| e.as_str_name())
            }),
            table("EMPLOYMENT_STATUS", |v| {
                pb::EmploymentStatus::try_from(v)
                    .ok()
                    .map(|e| e.as_str_name())
            }),
            table("ORGANISATION_LEVEL", |v| {
                pb::OrganisationLevel::try_from(v)
                    .ok()
                    .map(|e| e.as_str_name())
            }),
            table("ADMINISTRATIVE_LEVEL", |v| {
                pb::AdministrativeLevel::try_from(v)
                    .ok()
                    .map(|e| e.as_str_name())
            }),
            table("INSURANCE_SCHEME", |v| {
                pb::InsuranceScheme::try_from(v)
                    .ok()
                    .map(|e| e.as_str_name())
            }),
        ]
    });
    let at = match slot {
        Slot::Category => 0,
        Slot::Status => 1,
        Slot::OrgLevel => 2,
        Slot::UnitLevel => 3,
        _ => 4,
    };
    &TABLES[at]
}

/// The full enum name for an ASCII `name` (`civil_servant` → `CIVIL_SERVANT_CATEGORY_CIVIL_SERVANT`,
/// a full name as it is), in upper case, written into `buffer` instead of a new string; `None`
/// when it does not fit, as no enum name is that long.
fn ascii_full_name<'b>(prefix: &str, name: &str, buffer: &'b mut [u8; 64]) -> Option<&'b str> {
    let has_prefix = name
        .as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()));
    let mut len = 0;
    for part in [prefix, "_"]
        .into_iter()
        .filter(|_| !has_prefix)
        .chain([name])
    {
        let end = len + part.len();
        buffer.get_mut(len..end)?.copy_from_slice(part.as_bytes());
        len = end;
    }
    let full = buffer.get_mut(..len)?;
    full.make_ascii_uppercase();
    std::str::from_utf8(full).ok()
}

/// The short names an enum slot accepts, for messages and documentation.
pub(crate) fn enum_names(slot: Slot) -> Vec<String> {
    let names: Vec<&str> = match slot {
        Slot::Category => (1..=5)
            .filter_map(|i| pb::CivilServantCategory::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect(),
        Slot::Status => (1..=7)
            .filter_map(|i| pb::EmploymentStatus::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect(),
        Slot::OrgLevel => (1..=4)
            .filter_map(|i| pb::OrganisationLevel::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect(),
        Slot::UnitLevel => (1..=3)
            .filter_map(|i| pb::AdministrativeLevel::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect(),
        Slot::InsuranceScheme => (1..=4)
            .filter_map(|i| pb::InsuranceScheme::try_from(i).ok())
            .map(|v| v.as_str_name())
            .collect(),
        _ => Vec::new(),
    };
    let prefixes = [
        "CIVIL_SERVANT_CATEGORY_",
        "EMPLOYMENT_STATUS_",
        "ORGANISATION_LEVEL_",
        "ADMINISTRATIVE_LEVEL_",
        "INSURANCE_SCHEME_",
    ];
    names
        .into_iter()
        .map(|n| {
            prefixes
                .iter()
                .find_map(|p| n.strip_prefix(p))
                .unwrap_or(n)
                .to_lowercase()
        })
        .collect()
}

fn place_mut<'p, 'a>(person: &'p mut PersonDraft<'a>, field: PlaceField) -> &'p mut PlaceDraft<'a> {
    let slot = match field {
        PlaceField::BirthPlace => &mut person.birth_place,
        PlaceField::Hometown => &mut person.hometown,
        PlaceField::PermanentResidence => &mut person.permanent_residence,
        PlaceField::CurrentResidence => &mut person.current_residence,
    };
    slot.get_or_insert_with(PlaceDraft::default)
}

fn write<'a>(record: &mut Draft<'a>, slot: Slot, value: Converted<'a>, original: &Text<'a>) {
    if slot.is_person() {
        if let Some(person) = record.person_mut() {
            write_person(person, slot, value, original);
        }
        return;
    }
    if let Draft::CivilServant(cs) = record {
        write_civil_servant(cs, slot, value);
        return;
    }
    match record.message_mut() {
        Some(CanonicalEntity::Organisation(org)) => write_organisation(org, slot, value),
        Some(CanonicalEntity::AdministrativeUnit(unit)) => write_unit(unit, slot, value),
        Some(CanonicalEntity::SocialInsurance(si)) => write_insurance(si, slot, value),
        _ => {}
    }
}

fn write_person<'a>(
    person: &mut PersonDraft<'a>,
    slot: Slot,
    value: Converted<'a>,
    original: &Text<'a>,
) {
    match (slot, value) {
        (Slot::PersonalId, Converted::Text(t)) => person.personal_id = t,
        (Slot::FormerIdNumber, Converted::Text(t)) => person.former_id_number = t,
        (Slot::Phone, Converted::Text(t)) => person.phone = t,
        (Slot::Email, Converted::Text(t)) => person.email = t,
        (
            Slot::Name,
            Converted::Name {
                full,
                family,
                middle,
                given,
            },
        ) => {
            person.name = Some(NameDraft {
                full,
                family,
                middle,
                given,
                original: original.clone(),
            });
        }
        (part @ (Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven), Converted::Text(t)) => {
            let name = person.name.get_or_insert_with(NameDraft::default);
            let t = title_cased(t);
            match part {
                Slot::NameFamily => name.family = t,
                Slot::NameMiddle => name.middle = t,
                _ => name.given = t,
            }
        }
        (Slot::BirthDate, Converted::Date(d)) => person.birth_date = Some(d),
        (Slot::Sex, Converted::Sex(s)) => person.sex = s as i32,
        (Slot::Ethnicity, Converted::Coded(c, _)) => person.ethnicity = Some(c),
        (Slot::Religion, Converted::Coded(c, _)) => person.religion = Some(c),
        (Slot::Nationality, Converted::Coded(c, _)) => person.nationality = Some(c),
        (Slot::Place(field, part), value) => {
            let place = place_mut(person, field);
            match (part, value) {
                (PlacePart::Province, Converted::Coded(c, as_of)) => {
                    place.province = Some(c);
                    if as_of.is_some() {
                        place.as_of = as_of;
                    }
                }
                (PlacePart::District, Converted::Coded(c, _)) => place.district = Some(c),
                (PlacePart::Commune, Converted::Coded(c, _)) => place.commune = Some(c),
                (PlacePart::Detail, Converted::Text(t)) => place.detail = t,
                (PlacePart::Text, Converted::Text(t)) => place.text = t,
                _ => {}
            }
        }
        _ => {}
    }
}

fn write_civil_servant<'a>(cs: &mut CivilServantDraft<'a>, slot: Slot, value: Converted<'a>) {
    match (slot, value) {
        (Slot::Category, Converted::Enum(v)) => cs.category = v,
        (Slot::Status, Converted::Enum(v)) => cs.status = v,
        (Slot::OrganisationId, Converted::Text(t)) => cs.organisation_id = t,
        (Slot::OrganisationName, Converted::Text(t)) => cs.organisation_name = t,
        (Slot::Position, Converted::Coded(c, _)) => cs.position = Some(c),
        (Slot::Rank, Converted::Coded(c, _)) => cs.rank = Some(c),
        (Slot::SalaryStep, Converted::Int(n)) => cs.salary_step = n,
        (Slot::SalaryCoefficient, Converted::Decimal(d)) => cs.salary_coefficient = Some(d),
        (Slot::PositionAllowance, Converted::Decimal(d)) => cs.position_allowance = Some(d),
        (Slot::RecruitmentDate, Converted::Date(d)) => cs.recruitment_date = Some(d),
        (Slot::RankAppointmentDate, Converted::Date(d)) => cs.rank_appointment_date = Some(d),
        (Slot::EducationLevel, Converted::Coded(c, _)) => cs.education_level = Some(c),
        (Slot::PoliticalTheoryLevel, Converted::Coded(c, _)) => {
            cs.political_theory_level = Some(c);
        }
        (Slot::PartyAdmissionDate, Converted::Date(d)) => cs.party_admission_date = Some(d),
        _ => {}
    }
}

fn write_organisation(org: &mut pb::Organisation, slot: Slot, value: Converted<'_>) {
    match (slot, value) {
        (Slot::OrgCode, Converted::Text(t)) => org.code = t.into_owned(),
        (Slot::OrgName, Converted::Text(t)) => org.name = t.into_owned(),
        (Slot::OrgShortName, Converted::Text(t)) => org.short_name = t.into_owned(),
        (Slot::OrgParentId, Converted::Text(t)) => org.parent_id = t.into_owned(),
        (Slot::OrgLevel, Converted::Enum(v)) => org.level = v,
        (Slot::OrgAdministrativeUnit, Converted::Coded(c, _)) => {
            org.administrative_unit = Some(c.into_owned());
        }
        (Slot::OrgEstablished, Converted::Date(d)) => org.established = Some(d),
        (Slot::OrgDissolved, Converted::Date(d)) => org.dissolved = Some(d),
        _ => {}
    }
}

fn write_unit(unit: &mut pb::AdministrativeUnit, slot: Slot, value: Converted<'_>) {
    match (slot, value) {
        (Slot::UnitCodeSystem, Converted::Text(t)) => unit.code_system = t.into_owned(),
        (Slot::UnitCode, Converted::Text(t)) => unit.code = t.into_owned(),
        (Slot::UnitName, Converted::Text(t)) => unit.name = t.into_owned(),
        (Slot::UnitLevel, Converted::Enum(v)) => unit.level = v,
        (Slot::UnitParentCode, Converted::Text(t)) => unit.parent_code = t.into_owned(),
        (Slot::UnitValidFrom, Converted::Date(d)) => unit.valid_from = Some(d),
        (Slot::UnitValidTo, Converted::Date(d)) => unit.valid_to = Some(d),
        (Slot::UnitSuccessorCodes, Converted::TextList(l)) => unit.successor_codes = l,
        (Slot::UnitPredecessorCodes, Converted::TextList(l)) => unit.predecessor_codes = l,
        _ => {}
    }
}

fn write_insurance(si: &mut pb::SocialInsuranceRecord, slot: Slot, value: Converted<'_>) {
    match (slot, value) {
        (Slot::InsuranceNumber, Converted::Text(t)) => si.insurance_number = t.into_owned(),
        (Slot::InsuranceScheme, Converted::Enum(v)) => si.scheme = v,
        (Slot::EmployerCode, Converted::Text(t)) => si.employer_code = t.into_owned(),
        (Slot::EmployerName, Converted::Text(t)) => si.employer_name = t.into_owned(),
        (Slot::ContributionSalary, Converted::Decimal(d)) => {
            si.contribution_salary = Some(pb::Decimal {
                value: d.into_owned(),
            });
        }
        (Slot::PeriodFrom, Converted::Date(d)) => si.period_from = Some(d),
        (Slot::PeriodTo, Converted::Date(d)) => si.period_to = Some(d),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::entity::EntityKind;

    #[test]
    fn enums_take_short_and_full_names_but_not_unspecified() {
        assert_eq!(
            enum_value(Slot::Category, "civil_servant"),
            Ok(pb::CivilServantCategory::CivilServant as i32)
        );
        assert_eq!(
            enum_value(Slot::Status, "EMPLOYMENT_STATUS_RETIRED"),
            Ok(pb::EmploymentStatus::Retired as i32)
        );
        assert!(enum_value(Slot::Status, "unspecified").is_err());
        let e = enum_value(Slot::InsuranceScheme, "private").unwrap_err();
        assert!(
            e.0.contains("compulsory_social, voluntary_social, health, unemployment"),
            "{}",
            e.0
        );
        assert_eq!(
            enum_names(Slot::UnitLevel),
            ["province", "district", "commune"]
        );
        // Case, surrounding space and a prefix written out do not matter; other text does.
        assert_eq!(
            enum_value(Slot::Category, " Civil_Servant "),
            Ok(pb::CivilServantCategory::CivilServant as i32)
        );
        assert_eq!(
            enum_value(Slot::Category, "civil_servant_category_cadre"),
            Ok(pb::CivilServantCategory::Cadre as i32)
        );
        assert!(enum_value(Slot::Category, "civil_servant_category").is_err());
        assert!(enum_value(Slot::Category, &"x".repeat(80)).is_err());
        // Non-ASCII text takes Unicode's upper case: the dotless ı becomes I.
        assert_eq!(
            enum_value(Slot::Status, "actıve"),
            Ok(pb::EmploymentStatus::Active as i32)
        );
    }

    #[test]
    fn names_are_split_cased_and_keep_the_original() {
        let mut entity = Draft::empty(EntityKind::Person, "x");
        let raw = "  NGUYỄN  thị minh KHAI ";
        assert!(
            assign(
                &mut entity,
                Slot::Name,
                FieldValue::Text(raw.into()),
                &raw.into()
            )
            .unwrap()
        );
        let name = entity.person().unwrap().name.clone().unwrap();
        assert_eq!(name.full, "Nguyễn Thị Minh Khai");
        assert_eq!(
            (
                name.family.as_ref(),
                name.middle.as_ref(),
                name.given.as_ref()
            ),
            ("Nguyễn", "Thị Minh", "Khai")
        );
        assert_eq!(name.original, raw);
    }

    #[test]
    fn sex_needs_an_explicit_coding() {
        let mut entity = Draft::empty(EntityKind::Person, "x");
        assert!(
            assign(
                &mut entity,
                Slot::Sex,
                FieldValue::Text("Nữ".into()),
                &"".into()
            )
            .unwrap()
        );
        assert_eq!(entity.person().unwrap().sex, pb::Sex::Female as i32);
        // 1/0 means different things in different sources: an integer is refused.
        assert!(assign(&mut entity, Slot::Sex, FieldValue::Int(1), &"".into()).is_err());
    }

    #[test]
    fn missing_values_set_nothing_and_dates_need_a_date() {
        let mut entity = Draft::empty(EntityKind::CivilServant, "x");
        assert!(!assign(&mut entity, Slot::SalaryStep, FieldValue::Null, &"".into()).unwrap());
        assert!(
            !assign(
                &mut entity,
                Slot::OrganisationName,
                FieldValue::Text("  ".into()),
                &"".into()
            )
            .unwrap()
        );
        let e = assign(
            &mut entity,
            Slot::RecruitmentDate,
            FieldValue::Text("01/02/2003".into()),
            &"".into(),
        )
        .unwrap_err();
        assert!(e.0.contains("`date` transform"), "{}", e.0);
        assert!(
            assign(
                &mut entity,
                Slot::SalaryStep,
                FieldValue::Text("3".into()),
                &"".into()
            )
            .unwrap()
        );
        let Draft::CivilServant(cs) = &entity else {
            unreachable!()
        };
        assert_eq!(cs.salary_step, 3);
    }
}
