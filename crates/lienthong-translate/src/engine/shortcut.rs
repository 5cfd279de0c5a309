//! Shortcuts through a field's pipeline, for the shapes most fields of most mappings have: one
//! column written as it is, or one column's text through clean-up steps (trim, clean, case,
//! NFC, replace) and at most one look-up at the end (code list, province, value table, record
//! reference).
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

use super::assign::{AssignError, assign_as_sent, assign_made, assign_sex_code};
use super::transform::{
    self, CodeFound, Mapped, StepContext, StepFailure, change_case_step, map_lookup, record_ref,
    rewrite_step,
};
use super::value::{FieldValue, IntText};
use crate::entity::CanonicalEntity;
use crate::event::ValueRef;
use crate::mapping::target::{Slot, SlotKind};
use crate::mapping::{CompiledField, Step};

/// What a shortcut did.
pub(super) enum Taken {
    /// Nothing: run the pipeline.
    No,
    /// A step failed (nothing was written), as the pipeline's step would have.
    StepFailed(StepFailure),
    /// The value went to the assignment, with this result.
    Assigned(Result<bool, AssignError>),
}

/// Runs `field` on its column's `value` if a shortcut fits. `cx` is the field's step context,
/// with no `original` (a shortcut knows it from the value).
pub(super) fn take<'a>(
    field: &'a CompiledField,
    value: ValueRef<'a>,
    entity: &mut CanonicalEntity,
    cx: &mut StepContext<'_>,
) -> Taken {
    // Name parts keep their source text for the whole name; the pipeline does that.
    if matches!(
        field.slot,
        Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven
    ) {
        return Taken::No;
    }
    if field.steps.is_empty() {
        return match assign_as_sent(entity, field.slot, value) {
            Some(set) => Taken::Assigned(Ok(set)),
            None => Taken::No,
        };
    }
    // Steps that turn a missing value into one are the pipeline's business.
    if field
        .steps
        .iter()
        .any(|s| matches!(s, Step::Default(_) | Step::Coalesce | Step::Concat(_)))
    {
        return Taken::No;
    }
    match value {
        // Every step passes a missing value on as NULL, and NULL is not assigned.
        ValueRef::Null => Taken::Assigned(Ok(false)),
        ValueRef::Text(text) => through_steps(field, Cow::Borrowed(text), text, entity, cx),
        ValueRef::Int(i) => match field.steps.as_slice() {
            // Look-ups read an integer by its text; nothing else is shortened for integers.
            [
                step @ (Step::Code { .. }
                | Step::Province { .. }
                | Step::Map { .. }
                | Step::RecordRef { .. }),
            ] => {
                let digits = IntText::new(i);
                let original = if field.keeps_original {
                    digits.as_str()
                } else {
                    ""
                };
                let text = Cow::Borrowed(digits.as_str());
                look_up(field, step, text, original, entity, cx)
            }
            _ => Taken::No,
        },
        _ => Taken::No,
    }
}

/// The steps on a column's text: clean-up steps, then at most one look-up as the last step.
fn through_steps<'a>(
    field: &'a CompiledField,
    mut text: Cow<'a, str>,
    source: &'a str,
    entity: &mut CanonicalEntity,
    cx: &mut StepContext<'_>,
) -> Taken {
    // What the pipeline keeps as the source's text: the column's, before any step.
    let original = if field.keeps_original { source } else { "" };
    let (last, clean_up) = match field.steps.split_last() {
        Some((last, rest)) if is_look_up(last) => (Some(last), rest),
        _ => (None, field.steps.as_slice()),
    };
    if !clean_up.iter().all(is_clean_up) {
        return Taken::No;
    }
    for step in clean_up {
        // A value that became blank is missing: every later step passes it on as NULL.
        if is_blank(&text) {
            return Taken::Assigned(Ok(false));
        }
        text = clean_up_step(step, text);
    }
    if is_blank(&text) {
        return Taken::Assigned(Ok(false));
    }
    match last {
        Some(step) => look_up(field, step, text, original, entity, cx),
        None => finish(field, Ok(FieldValue::Text(text)), original, entity),
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
    text.chars().all(char::is_whitespace)
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
fn look_up<'a>(
    field: &CompiledField,
    step: &'a Step,
    text: Cow<'a, str>,
    original: &str,
    entity: &mut CanonicalEntity,
    cx: &mut StepContext<'_>,
) -> Taken {
    let mut cx = StepContext {
        original,
        code_lists: cx.code_lists,
        change_date: cx.change_date,
        source_id: cx.source_id,
        field: &field.path,
        sensitivity: cx.sensitivity,
        findings: &mut *cx.findings,
    };
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
                        entity,
                        field.slot,
                        system,
                        &entry.code,
                    ));
                }
                Ok(CodeFound::Entry(entry)) => Ok(FieldValue::Coded {
                    value: transform::coded(system, entry, original),
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
            Ok(Mapped::Kept) => Ok(FieldValue::Text(text)),
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
        _ => Ok(FieldValue::Text(text)),
    };
    finish(field, result, original, entity)
}

/// The two columns of a `local_code` step (code, then display), as [`transform::run`] and the
/// assignment take them, when both are text or NULL.
pub(super) fn take_local_code(
    field: &CompiledField,
    code: ValueRef<'_>,
    display: ValueRef<'_>,
    entity: &mut CanonicalEntity,
    cx: &mut StepContext<'_>,
) -> Taken {
    let [Step::LocalCode { system, note }] = field.steps.as_slice() else {
        return Taken::No;
    };
    if matches!(
        field.slot,
        Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven
    ) {
        return Taken::No;
    }
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
    let value = transform::local_code(system, note, Cow::Borrowed(code), display, None, cx);
    finish(field, Ok(value), "", entity)
}

fn finish(
    field: &CompiledField,
    result: Result<FieldValue<'_>, StepFailure>,
    original: &str,
    entity: &mut CanonicalEntity,
) -> Taken {
    match result {
        Ok(value) => Taken::Assigned(assign_made(entity, field.slot, value, original)),
        Err(failure) => Taken::StepFailed(failure),
    }
}
