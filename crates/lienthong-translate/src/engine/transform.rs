//! Running one transform step on one value.
//!
//! A step either returns the new value, adds a finding and returns a value (a TCVN3 name was
//! converted, a code is valid but expired), or fails. What a failure does — flag the record and
//! leave the field empty, or reject the record — is the field's `on_error` (and for code look-ups
//! `unmapped`), decided by the caller.
//!
//! Every step but `default`, `coalesce` and `concat` passes a missing value (null, blank text)
//! through as null: a missing value is reported once, by the required-field check, not by every
//! step it passes.

use std::borrow::Cow;

use lienthong_proto::v1::{QualityCriterion, QualitySeverity};
use lienthong_vietnamese::legacy::{self, Encoding, LegacyError};
use lienthong_vietnamese::names::PersonName;
use lienthong_vietnamese::text::{cleaned, fold, nfc, place_tones, title_cased_name};
use rustc_hash::FxHashMap;

use super::value::{FieldValue, IntText};
use crate::codelist::{CodeEntry, CodeList, CodeLists, NameMatch, Resolution, SystemName};
use crate::date::{CivilDate, is_partial, is_valid_date, parse_date};
use crate::draft::{CodedDraft, Text};
use crate::mapping::Step;
use crate::mapping::spec::{LookupBy, Unmapped};
use crate::mapping::target::Sensitivity;
use crate::quality::{Findings, codes};
use crate::record::{push_record_id_prefix, push_source_key};
use crate::text::trim as trim_str;

/// What a step needs besides its value: what the record is made from (`'a`, as long as the
/// record), and the findings of the record so far (`'f`).
pub(crate) struct StepContext<'a, 'f> {
    pub(crate) code_lists: &'a CodeLists,
    /// The date of the change in Vietnam: code validity is judged on it.
    pub(crate) change_date: CivilDate,
    pub(crate) source_id: &'a str,
    /// The value as the source held it (before any step), for `CodedValue.original`.
    pub(crate) original: Text<'a>,
    /// The target's path, for findings.
    pub(crate) field: &'a str,
    pub(crate) sensitivity: Sensitivity,
    pub(crate) findings: &'f mut Findings,
}

/// A step could not convert its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepFailure {
    pub(crate) criterion: QualityCriterion,
    pub(crate) severity: QualitySeverity,
    pub(crate) code: &'static str,
    /// Never quotes a personal value (see [`describe`]).
    pub(crate) message: String,
}

impl StepFailure {
    fn invalid(code: &'static str, message: String) -> Self {
        StepFailure {
            criterion: QualityCriterion::Correct,
            severity: QualitySeverity::Error,
            code,
            message,
        }
    }
}

/// How a value appears in a message: quoted (cut to 64 characters) for non-personal fields,
/// "the value" otherwise.
pub(crate) fn describe(text: &str, sensitivity: Sensitivity) -> Cow<'static, str> {
    if sensitivity == Sensitivity::Public {
        let cut: String = text.chars().take(64).collect();
        Cow::Owned(if cut.len() < text.len() {
            format!("{cut:?}…")
        } else {
            format!("{cut:?}")
        })
    } else {
        Cow::Borrowed("the value")
    }
}

impl StepContext<'_, '_> {
    fn describe(&self, text: &str) -> Cow<'static, str> {
        describe(text, self.sensitivity)
    }

    fn note(
        &mut self,
        criterion: QualityCriterion,
        severity: QualitySeverity,
        code: &str,
        message: String,
    ) {
        self.findings
            .add(criterion, severity, self.field, code, message);
    }
}

pub(crate) fn run<'a>(
    step: &'a Step,
    value: FieldValue<'a>,
    cx: &mut StepContext<'a, '_>,
) -> Result<FieldValue<'a>, StepFailure> {
    if value.is_missing() && !matches!(step, Step::Default(_) | Step::Coalesce | Step::Concat(_)) {
        return Ok(FieldValue::Null);
    }
    let text = |value: FieldValue<'a>| value.into_text().unwrap_or_default();
    Ok(match step {
        Step::Trim => FieldValue::Text(trim(text(value))),
        Step::Nfc => FieldValue::Text(rewrite(text(value), nfc)),
        Step::Clean => FieldValue::Text(rewrite(text(value), cleaned)),
        Step::Upper => FieldValue::Text(change_case(text(value), Case::Upper)),
        Step::Lower => FieldValue::Text(change_case(text(value), Case::Lower)),
        Step::TitleCase => FieldValue::Text(rewrite(text(value), title_cased_name)),
        Step::Tones(style) => FieldValue::Text(Cow::Owned(place_tones(&text(value), *style))),
        Step::LegacyDecode(encoding) => {
            FieldValue::Text(Cow::Owned(legacy_decode(&text(value), *encoding, cx)))
        }
        Step::Replace(regex, with) => FieldValue::Text(rewrite(text(value), |t| {
            regex.replace_all(t, with.as_str())
        })),
        Step::Split { separator, index } => {
            let text = text(value);
            let parts: Vec<&str> = text.split(separator.as_str()).collect();
            let i = if *index < 0 {
                usize::try_from(-i64::from(*index))
                    .ok()
                    .and_then(|back| parts.len().checked_sub(back))
            } else {
                usize::try_from(*index).ok()
            };
            i.and_then(|i| parts.get(i)).map_or(FieldValue::Null, |p| {
                FieldValue::Text(Cow::Owned((*p).to_owned()))
            })
        }
        Step::Pad { width, with } => {
            let text = text(value);
            let missing = width.saturating_sub(text.chars().count());
            FieldValue::Text(Cow::Owned(
                std::iter::repeat_n(*with, missing)
                    .chain(text.chars())
                    .collect(),
            ))
        }
        Step::Default(default) => {
            if value.is_missing() {
                FieldValue::Text(Cow::Borrowed(default))
            } else {
                value
            }
        }
        Step::Concat(separator) => {
            let items = match value {
                FieldValue::List(items) => items,
                other => vec![other],
            };
            let parts: Vec<String> = items
                .iter()
                .filter(|v| !v.is_missing())
                .filter_map(FieldValue::to_text)
                .map(|s| s.trim().to_owned())
                .collect();
            if parts.is_empty() {
                FieldValue::Null
            } else {
                FieldValue::Text(Cow::Owned(parts.join(separator)))
            }
        }
        Step::Coalesce => match value {
            FieldValue::List(items) => items
                .into_iter()
                .find(|v| !v.is_missing())
                .unwrap_or(FieldValue::Null),
            other => other,
        },
        Step::Int => FieldValue::Int(to_int(&value).ok_or_else(|| {
            StepFailure::invalid(
                codes::VALUE_INVALID_NUMBER,
                format!(
                    "{} is not a whole number",
                    cx.describe(&value.to_text().unwrap_or_default())
                ),
            )
        })?),
        Step::Decimal { comma } => {
            FieldValue::Decimal(Cow::Owned(to_decimal(&value, *comma).ok_or_else(|| {
                StepFailure::invalid(
                    codes::VALUE_INVALID_NUMBER,
                    format!(
                        "{} is not a decimal number written with {:?} as decimal point",
                        cx.describe(&value.to_text().unwrap_or_default()),
                        if *comma { ',' } else { '.' }
                    ),
                )
            })?))
        }
        Step::Bool => FieldValue::Bool(to_bool(&value).ok_or_else(|| {
            StepFailure::invalid(
                codes::VALUE_INVALID_BOOL,
                format!(
                    "{} is not a yes/no value",
                    cx.describe(&value.to_text().unwrap_or_default())
                ),
            )
        })?),
        Step::Date { patterns, partial } => to_date(value, patterns, *partial, cx)?,
        Step::SplitName => match PersonName::parse(&text(value)) {
            Ok(name) => FieldValue::Name {
                family: name.family,
                middle: name.middle,
                given: name.given,
            },
            Err(_) => FieldValue::Null,
        },
        Step::Map {
            values,
            fold: folded,
            unmapped,
        } => {
            // An integer is looked up by its text without allocating it.
            let (int, owned) = match value {
                FieldValue::Int(i) => (Some(IntText::new(i)), None),
                other => (None, Some(text(other))),
            };
            let text = int
                .as_ref()
                .map_or_else(|| owned.as_deref().unwrap_or_default(), IntText::as_str);
            match map_lookup(values, *folded, *unmapped, text, cx)? {
                Mapped::To(mapped) => FieldValue::Text(Cow::Borrowed(mapped)),
                Mapped::Kept => FieldValue::Text(match owned {
                    Some(owned) => owned,
                    None => Cow::Owned(text.to_owned()),
                }),
                Mapped::Null => FieldValue::Null,
            }
        }
        Step::Code {
            system,
            by,
            unmapped,
            unverified_note,
        } => {
            let int;
            let text = match value {
                FieldValue::Int(i) => {
                    int = IntText::new(i);
                    Cow::Borrowed(int.as_str())
                }
                other => text(other),
            };
            code(system, *by, *unmapped, unverified_note, &text, cx)?
        }
        Step::LocalCode { system, note } => {
            // With a display column, the source's value is the code column's.
            let (code, display, from_list) = match &value {
                FieldValue::List(items) => (
                    items
                        .first()
                        .and_then(FieldValue::to_text)
                        .unwrap_or_default(),
                    items
                        .get(1)
                        .and_then(FieldValue::to_text)
                        .unwrap_or_default(),
                    true,
                ),
                other => (
                    other.to_text().unwrap_or_default(),
                    Cow::Borrowed(""),
                    false,
                ),
            };
            let original = if from_list {
                None
            } else {
                Some(cx.original.clone())
            };
            local_code(system, note, code, display, original, cx)
        }
        Step::Province {
            system,
            by,
            unmapped,
            unverified_note,
        } => {
            let int;
            let text = match value {
                FieldValue::Int(i) => {
                    int = IntText::new(i);
                    Cow::Borrowed(int.as_str())
                }
                other => text(other),
            };
            province(system, *by, *unmapped, unverified_note, &text, cx)?
        }
        Step::RecordRef { schema, table, key } => {
            // Not missing: checked on entry (a list may still hold a missing value).
            record_ref(cx.source_id, schema, table, key, value)
        }
    })
}

/// Room for a source key of these columns and a short value each.
fn key_len_hint(key: &[String]) -> usize {
    key.iter().map(|k| k.len() + 12).sum()
}

/// A `local_code` step's value: `code` (not trimmed) in the source's own `system`, with its
/// `display` text; `original` is the source's text when it is not the code column's.
pub(super) fn local_code<'a>(
    system: &'a str,
    note: &str,
    code: Text<'a>,
    display: Text<'a>,
    original: Option<Text<'a>>,
    cx: &mut StepContext<'_, '_>,
) -> FieldValue<'a> {
    if trim_str(&code).is_empty() {
        return FieldValue::Null;
    }
    cx.note(
        QualityCriterion::Unified,
        QualitySeverity::Info,
        codes::CODE_LOCAL_SYSTEM,
        note.to_owned(),
    );
    let trimmed = match &code {
        Cow::Borrowed(code) => Cow::Borrowed(trim_str(code)),
        Cow::Owned(code) => Cow::Owned(trim_str(code).to_owned()),
    };
    FieldValue::Coded {
        value: CodedDraft {
            code_system: Cow::Borrowed(system),
            code: trimmed,
            display: rewrite(display, cleaned),
            original: original.unwrap_or(code),
        },
        as_of: None,
    }
}

/// What a value table gave for a value.
pub(super) enum Mapped<'v> {
    To(&'v str),
    /// Not in the table, and kept as it was (`unmapped = "keep"`).
    Kept,
    /// Not in the table, flagged and left empty.
    Null,
}

/// Looks `text` up in a `map` step's value table.
pub(super) fn map_lookup<'v>(
    values: &'v FxHashMap<String, String>,
    folded: bool,
    unmapped: Unmapped,
    text: &str,
    cx: &mut StepContext<'_, '_>,
) -> Result<Mapped<'v>, StepFailure> {
    let found = if folded {
        values.get(fold(text).as_str())
    } else {
        values.get(trim_str(text))
    };
    Ok(match (found, unmapped) {
        (Some(mapped), _) => Mapped::To(mapped),
        (None, Unmapped::Keep) => Mapped::Kept,
        (None, Unmapped::Reject) => {
            return Err(StepFailure {
                criterion: QualityCriterion::Unified,
                severity: QualitySeverity::Error,
                code: codes::MAP_UNMAPPED,
                message: format!("{} is not in the value table", cx.describe(text)),
            });
        }
        (None, Unmapped::Flag) => {
            let message = format!("{} is not in the value table", cx.describe(text));
            cx.note(
                QualityCriterion::Unified,
                QualitySeverity::Error,
                codes::MAP_UNMAPPED,
                message,
            );
            Mapped::Null
        }
    })
}

/// A `record_ref` step on a value that is not missing: the record id of the referenced row.
pub(super) fn record_ref(
    source_id: &str,
    schema: &str,
    table: &str,
    key: &[String],
    value: FieldValue<'_>,
) -> FieldValue<'static> {
    // `record_id(source, schema, table, source_key(key names with the values))`, written into
    // one string; a single value (the usual reference) without a list.
    let mut id =
        String::with_capacity(source_id.len() + schema.len() + table.len() + 3 + key_len_hint(key));
    push_record_id_prefix(&mut id, source_id, schema, table);
    match value {
        FieldValue::List(items) => {
            if items.iter().any(FieldValue::is_missing) {
                return FieldValue::Null;
            }
            let texts: Vec<Cow<'_, str>> = items
                .iter()
                .map(|v| v.to_text().unwrap_or_default())
                .collect();
            push_source_key(
                &mut id,
                key.iter()
                    .map(String::as_str)
                    .zip(texts.iter().map(|t| t.trim())),
            );
        }
        FieldValue::Int(i) => {
            let text = IntText::new(i);
            push_source_key(&mut id, key.iter().map(String::as_str).zip([text.as_str()]));
        }
        other => {
            let text = other.to_text().unwrap_or_default();
            push_source_key(&mut id, key.iter().map(String::as_str).zip([text.trim()]));
        }
    }
    FieldValue::Text(Cow::Owned(id))
}

/// `rewrite` for the shortcuts.
pub(super) fn rewrite_step<'a>(
    text: Cow<'a, str>,
    change: impl for<'t> FnOnce(&'t str) -> Cow<'t, str>,
) -> Cow<'a, str> {
    rewrite(text, change)
}

/// An `upper` or `lower` step on text.
pub(super) fn change_case_step(text: Cow<'_, str>, upper: bool) -> Cow<'_, str> {
    change_case(text, if upper { Case::Upper } else { Case::Lower })
}

/// The text without surrounding white space, still borrowed if it was.
pub(super) fn trim(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(t) => Cow::Borrowed(trim_str(t)),
        Cow::Owned(t) if trim_str(&t).len() == t.len() => Cow::Owned(t),
        Cow::Owned(t) => Cow::Owned(trim_str(&t).to_owned()),
    }
}

/// `change(text)`, keeping `text` (and so its borrow of the event) where nothing changes.
fn rewrite<'a>(
    text: Cow<'a, str>,
    change: impl for<'t> FnOnce(&'t str) -> Cow<'t, str>,
) -> Cow<'a, str> {
    let changed = match change(&text) {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    };
    changed.map_or(text, Cow::Owned)
}

#[derive(Clone, Copy)]
enum Case {
    Upper,
    Lower,
}

/// The text in upper or lower case, borrowed where it is in that case already.
fn change_case(text: Cow<'_, str>, case: Case) -> Cow<'_, str> {
    // ASCII (codes, e-mail addresses) by its bytes: Unicode's case mappings of ASCII letters
    // are the ASCII ones, and leave everything else in ASCII as it is.
    if text.is_ascii() {
        let changes = |byte: &u8| match case {
            Case::Upper => byte.is_ascii_lowercase(),
            Case::Lower => byte.is_ascii_uppercase(),
        };
        if !text.as_bytes().iter().any(changes) {
            return text;
        }
        return Cow::Owned(match case {
            Case::Upper => text.to_ascii_uppercase(),
            Case::Lower => text.to_ascii_lowercase(),
        });
    }
    // `str::to_lowercase` differs from mapping each character only for a capital sigma, which
    // is not its own lower case: a text of characters that map to themselves is kept either way.
    let unchanged = |c: char| {
        let mut mapped = match case {
            Case::Upper => CaseMapping::Upper(c.to_uppercase()),
            Case::Lower => CaseMapping::Lower(c.to_lowercase()),
        };
        mapped.next() == Some(c) && mapped.next().is_none()
    };
    if text.chars().all(unchanged) {
        return text;
    }
    Cow::Owned(match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
    })
}

/// The characters of one case mapping.
enum CaseMapping {
    Upper(std::char::ToUppercase),
    Lower(std::char::ToLowercase),
}

impl Iterator for CaseMapping {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self {
            CaseMapping::Upper(chars) => chars.next(),
            CaseMapping::Lower(chars) => chars.next(),
        }
    }
}

fn legacy_decode(text: &str, encoding: Option<Encoding>, cx: &mut StepContext<'_, '_>) -> String {
    let encoding = encoding.unwrap_or_else(|| legacy::detect(text));
    match encoding {
        Encoding::Unicode => return text.to_owned(),
        Encoding::Unknown => {
            cx.note(
                QualityCriterion::Clean,
                QualitySeverity::Warning,
                codes::TEXT_UNKNOWN_ENCODING,
                "the text reads as neither Unicode nor TCVN3 nor VNI; kept as it is".into(),
            );
            return text.to_owned();
        }
        Encoding::Tcvn3 | Encoding::Vni => {}
    }
    match legacy::to_unicode(text, encoding) {
        Ok(decoded) => {
            if decoded != text {
                cx.note(
                    QualityCriterion::Clean,
                    QualitySeverity::Info,
                    codes::TEXT_LEGACY_DECODED,
                    format!("converted from {encoding} to Unicode"),
                );
            }
            decoded
        }
        // A value already converted to Unicode in a source that is otherwise legacy.
        Err(LegacyError::NotByteText { .. }) => text.to_owned(),
        Err(e) => {
            cx.note(
                QualityCriterion::Clean,
                QualitySeverity::Warning,
                codes::TEXT_UNKNOWN_ENCODING,
                format!("cannot be read as {encoding}: {e}; kept as it is"),
            );
            text.to_owned()
        }
    }
}

/// An integer from an integer, integral decimal or float, or text of one.
pub(crate) fn to_int(value: &FieldValue<'_>) -> Option<i64> {
    match value {
        FieldValue::Int(i) => Some(*i),
        FieldValue::UInt(u) => i64::try_from(*u).ok(),
        FieldValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            // Exact: the float is integral and within the range where every integer is exact.
            format!("{f:.0}").parse().ok()
        }
        FieldValue::Decimal(d) => decimal_to_int(d),
        FieldValue::Text(s) => {
            let s = s.trim();
            s.strip_prefix('+')
                .unwrap_or(s)
                .parse::<i64>()
                .ok()
                .or_else(|| normalise_decimal(s, false).and_then(|d| decimal_to_int(&d)))
        }
        _ => None,
    }
}

fn decimal_to_int(d: &str) -> Option<i64> {
    match d.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole.parse().ok(),
        Some(_) => None,
        None => d.parse().ok(),
    }
}

/// An exact decimal in canonical form (`-12.50`: optional minus, no leading zeros, the scale
/// kept).
pub(crate) fn to_decimal(value: &FieldValue<'_>, comma: bool) -> Option<String> {
    match value {
        FieldValue::Int(i) => Some(i.to_string()),
        FieldValue::UInt(u) => Some(u.to_string()),
        FieldValue::Float(f) if f.is_finite() => normalise_decimal(&f.to_string(), false),
        FieldValue::Decimal(d) => normalise_decimal(d, false),
        FieldValue::Text(s) => normalise_decimal(s, comma),
        _ => None,
    }
}

/// Reads decimal text. With `comma`, `,` is the decimal point and `.` or spaces group
/// thousands (`5.000.000,50`); otherwise `.` is the decimal point and there is no grouping.
/// [`normalise_decimal`] (dot notation) of source text, borrowed when it is in canonical form
/// already, as decimal columns send their values.
pub(crate) fn normalised_decimal(text: &str) -> Option<Cow<'_, str>> {
    if is_canonical_decimal(text) {
        return Some(Cow::Borrowed(text));
    }
    normalise_decimal(text, false).map(Cow::Owned)
}

/// Whether `text` is what [`normalise_decimal`] makes of it: digits without leading zeros (or
/// one zero), a point and digits if there is a fraction, a minus sign only before a number that
/// is not zero, nothing else.
fn is_canonical_decimal(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (negative, number) = match text.strip_prefix('-') {
        Some(number) => (true, number),
        None => (false, text),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let zero = whole == "0" && fraction.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    digits(whole)
        && (whole == "0" || !whole.starts_with('0'))
        && fraction.is_none_or(digits)
        && !(negative && zero)
}

pub(crate) fn normalise_decimal(text: &str, comma: bool) -> Option<String> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let regrouped: String;
    let digits: &str = if comma {
        let (whole, fraction) = digits.split_once(',').unwrap_or((digits, ""));
        if fraction.contains([',', '.']) {
            return None;
        }
        // Thousands groups after the first must have three digits.
        let groups: Vec<&str> = whole.split(['.', ' ', '\u{00A0}']).collect();
        if groups.len() > 1 && groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
        let whole = groups.concat();
        regrouped = if fraction.is_empty() {
            whole
        } else {
            format!("{whole}.{fraction}")
        };
        &regrouped
    } else {
        digits
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || digits.ends_with('.')
    {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let mut canonical = String::with_capacity(whole.len() + fraction.len() + 2);
    if negative && !zero {
        canonical.push('-');
    }
    canonical.push_str(whole);
    if !fraction.is_empty() {
        canonical.push('.');
        canonical.push_str(fraction);
    }
    Some(canonical)
}

fn to_bool(value: &FieldValue<'_>) -> Option<bool> {
    match value {
        FieldValue::Bool(b) => Some(*b),
        FieldValue::Int(1) => Some(true),
        FieldValue::Int(0) => Some(false),
        FieldValue::Text(s) => match fold(s).as_str() {
            "true" | "t" | "1" | "y" | "yes" | "co" | "x" => Some(true),
            "false" | "f" | "0" | "n" | "no" | "khong" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn to_date(
    value: FieldValue<'_>,
    patterns: &[crate::date::DatePattern],
    partial: bool,
    cx: &StepContext<'_, '_>,
) -> Result<FieldValue<'static>, StepFailure> {
    let invalid = |reason: String| StepFailure::invalid(codes::VALUE_INVALID_DATE, reason);
    let date = match value {
        FieldValue::Date(d) | FieldValue::DateTime(d) => {
            if !is_valid_date(&d) {
                return Err(invalid("the source holds an impossible date".into()));
            }
            d
        }
        FieldValue::Instant(seconds) => CivilDate::in_vietnam_at_unix_seconds(seconds)
            .map(CivilDate::to_proto)
            .ok_or_else(|| invalid("the timestamp is outside years 1-9999".into()))?,
        other => {
            let text = other.to_text().unwrap_or_default();
            match parse_date(&text, patterns, partial) {
                Ok(Some(date)) => date,
                Ok(None) => return Ok(FieldValue::Null),
                Err(e) => {
                    return Err(invalid(format!(
                        "cannot read {} as a date: {e}",
                        cx.describe(&text)
                    )));
                }
            }
        }
    };
    if is_partial(&date) && !partial {
        return Err(invalid(
            "the date is partial and this field allows only whole dates".into(),
        ));
    }
    Ok(FieldValue::Date(date))
}

/// What looking a value up found.
enum Lookup<'a> {
    Found(&'a CodeEntry),
    Ambiguous(usize),
    NotFound,
}

fn look_up<'a>(list: &'a CodeList, text: &str, by: LookupBy) -> Lookup<'a> {
    match by {
        LookupBy::Code => list.get(text).map_or(Lookup::NotFound, Lookup::Found),
        LookupBy::Name => match list.find_by_name(text) {
            NameMatch::Found(entry) => Lookup::Found(entry),
            NameMatch::Ambiguous(many) => Lookup::Ambiguous(many.len()),
            NameMatch::NotFound => Lookup::NotFound,
        },
    }
}

/// The coded value of a code list's entry, its text borrowed from the list.
pub(super) fn coded<'a>(
    system: &'a str,
    entry: &'a CodeEntry,
    original: Text<'a>,
) -> CodedDraft<'a> {
    CodedDraft {
        code_system: Cow::Borrowed(system),
        code: Cow::Borrowed(&entry.code),
        display: Cow::Borrowed(&entry.display),
        original,
    }
}

/// The finding for a value that is not in its list; reject mode makes it the failure.
fn unmapped_value<'a>(
    list: &'a CodeList,
    text: &str,
    by: LookupBy,
    lookup: &Lookup<'_>,
    unmapped: Unmapped,
    cx: &mut StepContext<'a, '_>,
) -> Result<FieldValue<'a>, StepFailure> {
    let system = list.code_system();
    let value = cx.describe(text.trim());
    let (code, severity, message) = match (lookup, by) {
        (Lookup::Ambiguous(n), _) => (
            codes::CODE_AMBIGUOUS_NAME,
            QualitySeverity::Warning,
            format!("{n} codes of {system} carry the name {value}"),
        ),
        (_, LookupBy::Name) => (
            codes::CODE_UNKNOWN,
            QualitySeverity::Error,
            format!("no code of {system} is named {value}"),
        ),
        _ if !list.info().complete => (
            codes::CODE_NOT_IN_PARTIAL_LIST,
            QualitySeverity::Warning,
            [
                &*value,
                " is not in ",
                system,
                ", which is known to be incomplete: it may still be valid",
            ]
            .concat(),
        ),
        _ => (
            codes::CODE_UNKNOWN,
            QualitySeverity::Error,
            format!("{value} is not a code of {system}"),
        ),
    };
    if unmapped == Unmapped::Reject {
        return Err(StepFailure {
            criterion: QualityCriterion::Unified,
            severity,
            code,
            message,
        });
    }
    cx.note(QualityCriterion::Unified, severity, code, message);
    Ok(FieldValue::Coded {
        value: CodedDraft {
            code_system: Cow::Borrowed(system),
            original: cx.original.clone(),
            ..CodedDraft::default()
        },
        as_of: None,
    })
}

fn note_unverified(entry: &CodeEntry, note: &str, cx: &mut StepContext<'_, '_>) {
    if !entry.verified {
        cx.note(
            QualityCriterion::Unified,
            QualitySeverity::Info,
            codes::CODE_UNVERIFIED,
            note.to_owned(),
        );
    }
}

pub(super) fn code<'a>(
    system: &'a SystemName,
    by: LookupBy,
    unmapped: Unmapped,
    unverified_note: &str,
    text: &str,
    cx: &mut StepContext<'a, '_>,
) -> Result<FieldValue<'a>, StepFailure> {
    Ok(
        match code_entry(system, by, unmapped, unverified_note, text, cx)? {
            CodeFound::Entry(entry) => FieldValue::Coded {
                value: coded(system, entry, cx.original.clone()),
                as_of: None,
            },
            CodeFound::Value(value) => value,
        },
    )
}

/// What a `code` step found: the entry (its findings noted), or the value for a code not in
/// the list.
pub(super) enum CodeFound<'l> {
    Entry(&'l CodeEntry),
    Value(FieldValue<'l>),
}

/// [`code`], up to making the coded value of an entry found.
pub(super) fn code_entry<'l>(
    system: &SystemName,
    by: LookupBy,
    unmapped: Unmapped,
    unverified_note: &str,
    text: &str,
    cx: &mut StepContext<'l, '_>,
) -> Result<CodeFound<'l>, StepFailure> {
    let lists: &'l CodeLists = cx.code_lists;
    // Checked when the mapping was loaded; a reload of the code lists may have dropped it.
    let Some(list) = lists.list_of(system) else {
        return Err(StepFailure {
            criterion: QualityCriterion::Unified,
            severity: QualitySeverity::Error,
            code: codes::CODE_UNKNOWN,
            message: format!("the code list {system} is no longer loaded"),
        });
    };
    let lookup = look_up(list, text, by);
    let Lookup::Found(entry) = lookup else {
        return unmapped_value(list, text, by, &lookup, unmapped, cx).map(CodeFound::Value);
    };
    if !entry.is_valid_on(cx.change_date) {
        let expired = entry.valid_to.is_some_and(|to| to < cx.change_date);
        let (code, when) = if expired {
            (
                codes::CODE_EXPIRED,
                format!(
                    "was valid only until {}",
                    entry.valid_to.map_or_else(String::new, |d| d.to_string())
                ),
            )
        } else {
            (
                codes::CODE_NOT_YET_VALID,
                format!(
                    "is valid only from {}",
                    entry.valid_from.map_or_else(String::new, |d| d.to_string())
                ),
            )
        };
        let message = format!(
            "code {} of {system} {when} (the change is of {})",
            cx.describe(&entry.code),
            cx.change_date
        );
        cx.note(
            QualityCriterion::Unified,
            QualitySeverity::Warning,
            code,
            message,
        );
    }
    note_unverified(entry, unverified_note, cx);
    Ok(CodeFound::Entry(entry))
}

pub(super) fn province<'a>(
    system: &'a SystemName,
    by: LookupBy,
    unmapped: Unmapped,
    unverified_note: &str,
    text: &str,
    cx: &mut StepContext<'a, '_>,
) -> Result<FieldValue<'a>, StepFailure> {
    let lists: &'a CodeLists = cx.code_lists;
    let Some(list) = lists.list_of(system) else {
        return Err(StepFailure {
            criterion: QualityCriterion::Unified,
            severity: QualitySeverity::Error,
            code: codes::CODE_UNKNOWN,
            message: format!("the code list {system} is no longer loaded"),
        });
    };
    let lookup = look_up(list, text, by);
    let Lookup::Found(entry) = lookup else {
        return unmapped_value(list, text, by, &lookup, unmapped, cx);
    };
    note_unverified(entry, unverified_note, cx);
    let as_of = Some(cx.change_date.to_proto());
    let date = cx.change_date;
    let (value, note) = match lists.resolve_entry_on(list, entry, date) {
        Resolution::Replaced {
            from,
            system: to_system,
            to,
        } if to.len() == 1 => {
            let new = to[0];
            let since = new
                .valid_from
                .map_or_else(|| "its replacement".to_owned(), |d| d.to_string());
            (
                coded(to_system, new, cx.original.clone()),
                Some((
                    QualitySeverity::Info,
                    codes::PROVINCE_TRANSLATED,
                    format!(
                        "province {} ({}) of {system} is part of {} ({}) of {to_system} since {since}",
                        from.code, from.display, new.code, new.display
                    ),
                )),
            )
        }
        Resolution::Replaced { to, .. } => (
            coded(system, entry, cx.original.clone()),
            Some((
                QualitySeverity::Warning,
                codes::CODE_EXPIRED,
                format!(
                    "province {} of {system} was split into {} units; kept as it was",
                    entry.code,
                    to.len()
                ),
            )),
        ),
        Resolution::Expired { .. } => (
            coded(system, entry, cx.original.clone()),
            Some((
                QualitySeverity::Warning,
                codes::CODE_EXPIRED,
                format!(
                    "province {} of {system} is no longer valid on {date} and no successor is known",
                    entry.code
                ),
            )),
        ),
        Resolution::NotYetValid { .. } => (
            coded(system, entry, cx.original.clone()),
            Some((
                QualitySeverity::Warning,
                codes::CODE_NOT_YET_VALID,
                format!(
                    "province {} of {system} is not yet valid on {date}",
                    entry.code
                ),
            )),
        ),
        Resolution::Valid { .. } | Resolution::Unknown => {
            (coded(system, entry, cx.original.clone()), None)
        }
    };
    if let Some((severity, code, message)) = note {
        cx.note(QualityCriterion::Unified, severity, code, message);
    }
    Ok(FieldValue::Coded { value, as_of })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn decimals_in_both_notations() {
        let dot = |s| normalise_decimal(s, false);
        let comma = |s| normalise_decimal(s, true);
        assert_eq!(dot("4.98").as_deref(), Some("4.98"));
        assert_eq!(dot("+004.50").as_deref(), Some("4.50"));
        assert_eq!(dot("-0.0").as_deref(), Some("0.0"));
        assert_eq!(dot(".5").as_deref(), Some("0.5"));
        assert_eq!(dot("5."), None);
        assert_eq!(dot("4,98"), None);
        assert_eq!(dot("1e3"), None);
        assert_eq!(dot(""), None);
        assert_eq!(comma("4,98").as_deref(), Some("4.98"));
        assert_eq!(comma("5.000.000").as_deref(), Some("5000000"));
        assert_eq!(comma("5 000 000,5").as_deref(), Some("5000000.5"));
        assert_eq!(comma("5.00.000"), None);
        assert_eq!(comma("4,98,1"), None);
    }

    #[test]
    fn integers_from_every_numeric_form() {
        assert_eq!(to_int(&FieldValue::Text(" +42 ".into())), Some(42));
        assert_eq!(to_int(&FieldValue::Text("3.00".into())), Some(3));
        assert_eq!(to_int(&FieldValue::Text("3.5".into())), None);
        assert_eq!(to_int(&FieldValue::Decimal("-7.000".into())), Some(-7));
        assert_eq!(to_int(&FieldValue::Float(12.0)), Some(12));
        assert_eq!(to_int(&FieldValue::Float(12.5)), None);
        assert_eq!(to_int(&FieldValue::UInt(u64::MAX)), None);
        assert_eq!(to_int(&FieldValue::Bool(true)), None);
    }

    #[test]
    fn booleans_in_vietnamese_and_english() {
        for (s, b) in [
            ("Có", true),
            ("KHÔNG", false),
            ("x", true),
            ("0", false),
            ("yes", true),
        ] {
            assert_eq!(to_bool(&FieldValue::Text(s.into())), Some(b), "{s}");
        }
        assert_eq!(to_bool(&FieldValue::Text("maybe".into())), None);
        assert_eq!(to_bool(&FieldValue::Int(2)), None);
    }

    #[test]
    fn personal_values_are_never_quoted() {
        assert_eq!(describe("079301000123", Sensitivity::Personal), "the value");
        assert_eq!(describe("04", Sensitivity::Sensitive), "the value");
        assert_eq!(describe("01.003", Sensitivity::Public), "\"01.003\"");
        assert!(describe(&"x".repeat(100), Sensitivity::Public).ends_with('…'));
    }

    proptest! {
        #[test]
        fn canonical_decimals_are_fixed_points(whole in 0u64..1_000_000_000, frac in "[0-9]{0,4}", neg: bool) {
            let text = format!("{}{whole}{}{frac}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "." });
            let once = normalise_decimal(&text, false).unwrap();
            prop_assert_eq!(normalise_decimal(&once, false), Some(once.clone()));
            // The comma notation of the same number reads the same.
            let comma_text = text.replace('.', ",");
            prop_assert_eq!(normalise_decimal(&comma_text, true), Some(once));
        }

        #[test]
        fn decimals_borrowed_when_canonical_read_the_same(text in "[-+ ]?[0-9]{0,3}[.,]?[0-9]{0,3}[ x]?") {
            let borrowed = normalised_decimal(&text);
            let owned = normalise_decimal(&text, false);
            prop_assert_eq!(borrowed.as_deref(), owned.as_deref());
            prop_assert_eq!(matches!(borrowed, Some(Cow::Borrowed(_))), is_canonical_decimal(&text));
        }
    }

    #[test]
    fn canonical_decimals_are_borrowed() {
        for canonical in ["0", "4.98", "-1.50", "0.00", "10", "-0.01"] {
            assert!(
                matches!(normalised_decimal(canonical), Some(Cow::Borrowed(_))),
                "{canonical}"
            );
        }
        for other in ["04.98", "-0", "-0.00", "+1", " 1", "1.", ".5", "1e3", ""] {
            assert!(
                !matches!(normalised_decimal(other), Some(Cow::Borrowed(_))),
                "{other}"
            );
        }
    }
}
