//! Shortcuts through a field's pipeline, for the shapes most fields of most mappings have: one
//! column written as it is, or one column's text through clean-up steps (trim, clean, case,
//! NFC, replace) and at most one look-up at the end (code list, province, value table, record
//! reference), a code column with its display column, and a whole name cleaned, cased and split.
//!
//! The pipeline ([`super::transform::run`], then [`super::assign::assign`]) wraps the value
//! into a [`FieldValue`] for every step and checks it against every step's kinds; for a column
//! of text going through two or three steps that costs more than the steps themselves. A
//! shortcut runs the same steps through the same functions on the column's text as it is, and
//! writes the result through the same assignment. It takes only values it can carry the whole
//! way without a surprise (text or an integer for a look-up, NULL) and otherwise does nothing,
//! so the caller runs the pipeline: the outcome is the pipeline's either way. The engine's tests
//! translate every shipped mapping with and without shortcuts on arbitrary rows and compare.

use std::borrow::Cow;

use lienthong_vietnamese::names::PersonName;

use super::assign::{
    AssignError, assign, assign_as_sent, assign_cased_name, assign_clean_text, assign_made,
    assign_sex_code,
};
use super::transform::{
    self, CodeFound, Mapped, StepContext, StepFailure, change_case_step, map_lookup, record_ref,
    rewrite_step,
};
use super::value::{FieldValue, IntText};
use crate::codelist::CodeLists;
use crate::date::CivilDate;
use crate::draft::{Draft, Text};
use crate::event::ValueRef;
use crate::mapping::target::{Slot, SlotKind};
use crate::mapping::{CompiledField, Input, Step};
use crate::quality::Findings;

/// Which shortcut a field may take, decided once from its slot, input and steps when the
/// mapping is loaded (what [`take`] and [`take_local_code`] would otherwise work out for every
/// value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shortcut {
    /// None: every value goes through the pipeline.
    Pipeline,
    /// One column and no steps: the value as sent.
    AsSent,
    /// One column, through steps none of which fills in a missing value, so NULL is never
    /// assigned. Text goes the short way when `text`: clean-up steps, then a look-up as the
    /// last step when `look_up`; an integer when that look-up is the only step.
    Steps { text: bool, look_up: bool },
    /// A code column and its display column, into one `local_code` step.
    LocalCode,
    /// One column of whole names through `clean`, `title_case` and `split_name`, the usual way
    /// of mapping a name.
    Name,
}

impl Shortcut {
    pub(crate) fn of(slot: Slot, input: &Input, steps: &[Step]) -> Shortcut {
        let Input::Columns(columns) = input else {
            return Shortcut::Pipeline;
        };
        // Name parts keep their source text for the whole name; the pipeline does that.
        if matches!(slot, Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven) {
            return Shortcut::Pipeline;
        }
        match (columns.len(), steps) {
            (2, [Step::LocalCode { .. }]) => Shortcut::LocalCode,
            (1, []) => Shortcut::AsSent,
            (1, [Step::Clean, Step::TitleCase, Step::SplitName]) if slot == Slot::Name => {
                Shortcut::Name
            }
            // Steps that turn a missing value into one are the pipeline's business.
            (1, steps)
                if !steps
                    .iter()
                    .any(|s| matches!(s, Step::Default(_) | Step::Coalesce | Step::Concat(_))) =>
            {
                let (look_up, clean_up) = match steps.split_last() {
                    Some((last, rest)) if is_look_up(last) => (true, rest),
                    _ => (false, steps),
                };
                Shortcut::Steps {
                    text: clean_up.iter().all(is_clean_up),
                    look_up,
                }
            }
            _ => Shortcut::Pipeline,
        }
    }
}

/// What a shortcut did.
pub(super) enum Taken {
    /// Nothing: run the pipeline.
    No,
    /// A step failed (nothing was written), as the pipeline's step would have.
    StepFailed(StepFailure),
    /// The value went to the assignment, with this result.
    Assigned(Result<bool, AssignError>),
    /// The value was set, and it is text known to be clean (the record's checks need not
    /// look at it again): text `clean` kept as it was, or a name cased as it was.
    SetClean,
}

/// What the steps of every field of a record share.
pub(super) struct RecordContext<'a> {
    pub(super) code_lists: &'a CodeLists,
    pub(super) change_date: CivilDate,
    pub(super) source_id: &'a str,
}

impl<'a> RecordContext<'a> {
    /// The context of `field`'s steps; `original` is the source's text of the value.
    pub(super) fn steps<'f>(
        &self,
        field: &'a CompiledField,
        original: Text<'a>,
        findings: &'f mut Findings,
    ) -> StepContext<'a, 'f> {
        StepContext {
            code_lists: self.code_lists,
            change_date: self.change_date,
            source_id: self.source_id,
            original,
            field: &field.path,
            sensitivity: field.slot.sensitivity(),
            findings,
        }
    }
}

/// Runs `field` on its column's `value` if its [`Shortcut`] (one column) fits the value.
pub(super) fn take<'a>(
    field: &'a CompiledField,
    value: ValueRef<'a>,
    record: &mut Draft<'a>,
    context: &RecordContext<'a>,
    findings: &mut Findings,
) -> Taken {
    match (field.shortcut, value) {
        (Shortcut::AsSent, value) => match assign_as_sent(record, field.slot, value) {
            Some(set) => Taken::Assigned(Ok(set)),
            None => Taken::No,
        },
        // Every step passes a missing value on as NULL, and NULL is not assigned.
        (Shortcut::Steps { .. } | Shortcut::Name, ValueRef::Null) => Taken::Assigned(Ok(false)),
        (
            Shortcut::Steps {
                text: true,
                look_up,
            },
            ValueRef::Text(text),
        ) => through_steps(field, text, look_up, record, context, findings),
        // Look-ups read an integer by its text; nothing else is shortened for integers.
        (Shortcut::Steps { look_up: true, .. }, ValueRef::Int(i)) if field.steps.len() == 1 => {
            let digits = IntText::new(i);
            let original = if field.keeps_original {
                Cow::Owned(digits.as_str().to_owned())
            } else {
                Cow::Borrowed("")
            };
            let text = Cow::Borrowed(digits.as_str());
            look_up(
                field,
                &field.steps[0],
                text,
                original,
                record,
                context,
                findings,
            )
        }
        (Shortcut::Name, ValueRef::Text(text)) => whole_name(field, text, record),
        _ => Taken::No,
    }
}

/// The steps on a column's text: clean-up steps, then a look-up as the last step when
/// `look_up`.
fn through_steps<'a>(
    field: &'a CompiledField,
    source: &'a str,
    look_up: bool,
    record: &mut Draft<'a>,
    context: &RecordContext<'a>,
    findings: &mut Findings,
) -> Taken {
    // What the pipeline keeps as the source's text: the column's, before any step.
    let original = Cow::Borrowed(if field.keeps_original { source } else { "" });
    let (last, clean_up) = match field.steps.split_last() {
        Some((last, rest)) if look_up => (Some(last), rest),
        _ => (None, field.steps.as_slice()),
    };
    let mut text = Cow::Borrowed(source);
    // Whether the last step was `clean`, and found the text clean as it was.
    let mut clean = false;
    for step in clean_up {
        // A value that became blank is missing: every later step passes it on as NULL.
        if is_blank(&text) {
            return Taken::Assigned(Ok(false));
        }
        (text, clean) = match step {
            Step::Clean => match lienthong_vietnamese::text::cleaned(&text) {
                Cow::Borrowed(_) => (text, true),
                Cow::Owned(cleaned) => (Cow::Owned(cleaned), false),
            },
            other => (clean_up_step(other, text), false),
        };
    }
    if is_blank(&text) {
        return Taken::Assigned(Ok(false));
    }
    match last {
        Some(step) => self::look_up(field, step, text, original, record, context, findings),
        // Clean text is trimmed and in NFC: a text field takes it as it is.
        None if clean && field.slot.kind() == SlotKind::Text => {
            assign_clean_text(record, field.slot, text);
            Taken::SetClean
        }
        None => finish(field, Ok(FieldValue::Text(text)), &original, record),
    }
}

/// A whole name through `clean`, `title_case` and `split_name`, as the pipeline runs them, and
/// its assignment.
fn whole_name<'a>(field: &CompiledField, source: &'a str, record: &mut Draft<'a>) -> Taken {
    let original = Cow::Borrowed(if field.keeps_original { source } else { "" });
    if is_blank(source) {
        return Taken::Assigned(Ok(false));
    }
    let cleaned = rewrite_step(Cow::Borrowed(source), lienthong_vietnamese::text::cleaned);
    if is_blank(&cleaned) {
        return Taken::Assigned(Ok(false));
    }
    let cased = rewrite_step(cleaned, lienthong_vietnamese::text::title_cased_name);
    if is_blank(&cased) {
        return Taken::Assigned(Ok(false));
    }
    match cased {
        // `title_cased_name` borrowed the text: it is clean (so `PersonName::parse` would split
        // it as it is) and cased already, and so is each of its words.
        Cow::Borrowed(cased) => {
            assign_cased_name(record, field.slot, cased, &original);
            Taken::SetClean
        }
        Cow::Owned(cased) => {
            let Ok(name) = PersonName::parse(&cased) else {
                return Taken::Assigned(Ok(false));
            };
            let value = FieldValue::Name {
                family: name.family,
                middle: name.middle,
                given: name.given,
            };
            Taken::Assigned(assign(record, field.slot, value, &original))
        }
    }
}

fn is_clean_up(step: &Step) -> bool {
    matches!(
        step,
        Step::Trim
            | Step::Nfc
            | Step::Clean
            | Step::Upper
            | Step::Lower
            | Step::TitleCase
            | Step::Replace(..)
    )
}

fn is_look_up(step: &Step) -> bool {
    matches!(
        step,
        Step::Code { .. } | Step::Province { .. } | Step::Map { .. } | Step::RecordRef { .. }
    )
}

/// [`FieldValue::is_missing`] of text.
fn is_blank(text: &str) -> bool {
    crate::text::is_blank(text)
}

/// A clean-up step, as [`transform::run`] runs it on text.
fn clean_up_step<'a>(step: &'a Step, text: Cow<'a, str>) -> Cow<'a, str> {
    match step {
        Step::Trim => transform::trim(text),
        Step::Nfc => rewrite_step(text, lienthong_vietnamese::text::nfc),
        Step::Clean => rewrite_step(text, lienthong_vietnamese::text::cleaned),
        Step::Upper => change_case_step(text, true),
        Step::Lower => change_case_step(text, false),
        Step::TitleCase => rewrite_step(text, lienthong_vietnamese::text::title_cased_name),
        Step::Replace(regex, with) => rewrite_step(text, |t| regex.replace_all(t, with.as_str())),
        // Not a clean-up step: `through_steps` checked.
        _ => text,
    }
}

/// A look-up step on text that is not blank, as [`transform::run`] runs it, and the assignment
/// of what it gives.
///
/// `text` lives as long as the record only when it is the column's (not an integer's digits):
/// a look-up that keeps it as the value (`unmapped = "keep"`) copies it.
fn look_up<'a>(
    field: &'a CompiledField,
    step: &'a Step,
    text: Cow<'_, str>,
    original: Text<'a>,
    record: &mut Draft<'a>,
    context: &RecordContext<'a>,
    findings: &mut Findings,
) -> Taken {
    let mut cx = context.steps(field, original, findings);
    let result = match step {
        // A code for the sex: assigning it reads only its system and code, so the coded value
        // (four strings) is not made.
        Step::Code {
            system,
            by,
            unmapped,
            unverified_note,
        } if field.slot.kind() == SlotKind::Sex => {
            match transform::code_entry(system, *by, *unmapped, unverified_note, &text, &mut cx) {
                Ok(CodeFound::Entry(entry)) if !entry.code.is_empty() => {
                    return Taken::Assigned(assign_sex_code(
                        record,
                        field.slot,
                        system,
                        &entry.code,
                    ));
                }
                Ok(CodeFound::Entry(entry)) => Ok(FieldValue::Coded {
                    value: transform::coded(system, entry, cx.original.clone()),
                    as_of: None,
                }),
                Ok(CodeFound::Value(value)) => Ok(value),
                Err(failure) => Err(failure),
            }
        }
        Step::Code {
            system,
            by,
            unmapped,
            unverified_note,
        } => transform::code(system, *by, *unmapped, unverified_note, &text, &mut cx),
        Step::Province {
            system,
            by,
            unmapped,
            unverified_note,
        } => transform::province(system, *by, *unmapped, unverified_note, &text, &mut cx),
        Step::Map {
            values,
            fold,
            unmapped,
        } => match map_lookup(values, *fold, *unmapped, &text, &mut cx) {
            Ok(Mapped::To(mapped)) => Ok(FieldValue::Text(Cow::Borrowed(mapped))),
            Ok(Mapped::Kept) => Ok(FieldValue::Text(Cow::Owned(text.into_owned()))),
            Ok(Mapped::Null) => Ok(FieldValue::Null),
            Err(failure) => Err(failure),
        },
        Step::RecordRef { schema, table, key } => Ok(record_ref(
            cx.source_id,
            schema,
            table,
            key,
            FieldValue::Text(text),
        )),
        // Not a look-up: `take` and `through_steps` checked.
        _ => Ok(FieldValue::Text(Cow::Owned(text.into_owned()))),
    };
    let original = std::mem::take(&mut cx.original);
    finish(field, result, &original, record)
}

/// The two columns of a `local_code` step (code, then display), as [`transform::run`] and the
/// assignment take them, when both are text or NULL ([`Shortcut::LocalCode`]).
pub(super) fn take_local_code<'a>(
    field: &'a CompiledField,
    code: ValueRef<'a>,
    display: ValueRef<'a>,
    record: &mut Draft<'a>,
    context: &RecordContext<'a>,
    findings: &mut Findings,
) -> Taken {
    let [Step::LocalCode { system, note }] = field.steps.as_slice() else {
        return Taken::No;
    };
    let text = |value| match value {
        ValueRef::Text(text) => Some(text),
        ValueRef::Null => Some(""),
        _ => None,
    };
    let (Some(code), Some(display)) = (text(code), text(display)) else {
        return Taken::No;
    };
    // Both missing: the pipeline's list of two missing values is missing, and passes as NULL.
    if is_blank(code) && is_blank(display) {
        return Taken::Assigned(Ok(false));
    }
    // The source's text for a value of two columns is the code column's: no joined text.
    let mut cx = context.steps(field, Cow::Borrowed(""), findings);
    let value = transform::local_code(
        system,
        note,
        Cow::Borrowed(code),
        Cow::Borrowed(display),
        None,
        &mut cx,
    );
    finish(field, Ok(value), &Cow::Borrowed(""), record)
}

fn finish<'a>(
    field: &CompiledField,
    result: Result<FieldValue<'a>, StepFailure>,
    original: &Text<'a>,
    record: &mut Draft<'a>,
) -> Taken {
    match result {
        Ok(value) => Taken::Assigned(assign_made(record, field.slot, value, original)),
        Err(failure) => Taken::StepFailed(failure),
    }
}
