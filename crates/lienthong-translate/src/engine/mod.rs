//! Applying a mapping to a change event: [`Mapping::apply`].
//!
//! Pure: the same event, code lists and `now` give the same record. No I/O, no clock.

mod assign;
mod shortcut;
mod transform;
mod value;

use std::borrow::Cow;
use std::time::SystemTime;

use lienthong_proto::v1::source_position::Kind as PositionKind;
use lienthong_proto::v1::{
    ChangeEvent, Operation, Quality, QualityCriterion, QualitySeverity, SourcePosition,
};

use crate::codelist::CodeLists;
use crate::date::{CivilDate, to_timestamp};
use crate::draft::{Draft, NameDraft, ProvenanceDraft};
use crate::event::{ColumnRef, EventRef, ValueRef};
use crate::mapping::spec::{Condition, OnError};
use crate::mapping::target::{Slot, SlotSet};
use crate::mapping::{ColumnId, CompiledField, Input, Mapping, MappingSet, Positions};
use crate::quality::{CheckContext, Findings, check_record, codes};
use crate::record::{
    MappedRecord, MappingError, RecordOperation, operation_name, push_source_key, record_id,
};
use assign::{AssignError, assign};
pub(crate) use shortcut::Shortcut;
use shortcut::{RecordContext, Taken};
use transform::StepFailure;
use value::FieldValue;
pub(crate) use value::IntText;

impl Mapping {
    /// Translates one change event of the mapping's source table into a canonical record.
    ///
    /// - Snapshot reads, inserts and updates give [`RecordOperation::Upsert`] with the entity
    ///   built from the row after the change, its provenance, and its quality findings. Values
    ///   that cannot be converted leave their field empty and flag the record, unless their field
    ///   says `on_error = "reject"`.
    /// - Deletes give [`RecordOperation::Delete`]: the entity carries only its id and provenance.
    /// - `Err` when the event cannot be translated at all (no row, no key, a column the mapping
    ///   reads is not in the row, a rejecting field failed, a TRUNCATE): the caller dead-letters
    ///   it with [`MappingError::kind`] and the message.
    ///
    /// `now` is when the translation happens: it stamps `provenance.translated_at` and measures
    /// how old the change is. Code validity is judged on the change's own date (its commit time
    /// in Vietnam), so replaying old events gives the same output.
    pub fn apply(
        &self,
        event: &ChangeEvent,
        code_lists: &CodeLists,
        now: SystemTime,
    ) -> Result<MappedRecord, MappingError> {
        self.translate(&EventRef::of(event), code_lists, now)
            .map(Translated::into_record)
    }

    /// [`Mapping::apply`] on an event read in place: the record as a draft borrowing from the
    /// event, the mapping and the code lists, its findings beside it.
    pub(crate) fn translate<'a>(
        &'a self,
        event: &'a EventRef<'a>,
        code_lists: &'a CodeLists,
        now: SystemTime,
    ) -> Result<Translated<'a>, MappingError> {
        let source = self.source();
        if event.source_id != source.id
            || event.schema != source.schema
            || event.table != source.table
        {
            return Err(MappingError::WrongTable {
                mapping: self.id().to_owned(),
                expected: format!("{}/{}.{}", source.id, source.schema, source.table),
                found: format!("{}/{}.{}", event.source_id, event.schema, event.table),
            });
        }
        let operation = Operation::try_from(event.op).unwrap_or(Operation::Unspecified);
        let row: &[ColumnRef<'_>] = match operation {
            Operation::Unspecified => return Err(MappingError::UnspecifiedOperation),
            Operation::Truncate => {
                return Err(MappingError::Truncate {
                    table: table_name(event),
                });
            }
            Operation::Read | Operation::Insert | Operation::Update => {
                if event.after.is_empty() {
                    return Err(MappingError::MissingRow {
                        operation: operation_name(operation).to_owned(),
                        image: "after",
                    });
                }
                &event.after
            }
            Operation::Delete => &event.before,
        };
        // `<source_id>:<position>:<mapping id>@<version>`, built in one string.
        let mut idempotency_key = String::with_capacity(
            event.source_id.len() + self.id().len() + self.version().len() + 40,
        );
        idempotency_key.push_str(event.source_id);
        idempotency_key.push(':');
        event
            .position
            .as_ref()
            .and_then(|p| push_position_text(&mut idempotency_key, p))
            .ok_or(MappingError::NoPosition)?;
        idempotency_key.push(':');
        idempotency_key.push_str(self.id());
        idempotency_key.push('@');
        idempotency_key.push_str(self.version());
        // Located already when the event was read for this mapping's columns.
        let positions = match event
            .located
            .as_ref()
            .filter(|l| std::ptr::eq(l.index, &self.columns))
        {
            Some(located) if operation == Operation::Delete => Cow::Borrowed(&located.before),
            Some(located) => Cow::Borrowed(&located.after),
            None => Cow::Owned(self.columns.locate(row.iter().map(|c| c.name))),
        };
        let row = SourceRow {
            mapping: self,
            event,
            columns: row,
            positions,
        };
        let key = source_key_of(&row)?;
        let record_id = record_id(event.source_id, event.schema, event.table, &key);
        let change_date = event
            .commit_time
            .as_ref()
            .or(event.capture_time.as_ref())
            .and_then(CivilDate::in_vietnam_at)
            .or_else(|| CivilDate::in_vietnam(now))
            .unwrap_or(CivilDate::UNIX_EPOCH);
        let provenance = ProvenanceDraft {
            source_id: Cow::Borrowed(event.source_id),
            schema: Cow::Borrowed(event.schema),
            table: Cow::Borrowed(event.table),
            source_key: Cow::Owned(key),
            position: event.position.as_ref(),
            mapping_id: Cow::Borrowed(self.id()),
            mapping_version: Cow::Borrowed(self.version()),
            source_commit_time: event.commit_time,
            translated_at: Some(to_timestamp(now)),
            source_operation: operation as i32,
            idempotency_key: Cow::Owned(idempotency_key),
        };
        // Boxed: a civil-servant file is some kilobytes, and the record moves a few times
        // before it is encoded.
        let mut record = Box::new(Draft::empty(self.entity(), &record_id));
        if operation == Operation::Delete {
            return Ok(Translated {
                key: record_id,
                operation: RecordOperation::Delete,
                record,
                provenance,
                quality: Quality::default(),
            });
        }

        // The person inside a civil-servant file or insurance record is this row's person: it
        // is there, with the record's id, whatever the row gives.
        let _ = record.person_mut();
        let mut findings = Findings::default();
        let shared = RecordContext {
            code_lists,
            change_date,
            source_id: event.source_id,
        };
        let mut assigned = SlotSet::default();
        // The text fields set with text known to be clean.
        let mut clean_texts = SlotSet::default();
        let mut name_part_originals: Vec<(Slot, Cow<'a, str>)> = Vec::new();
        for field in &self.fields {
            if let (Some(condition), Some(column)) = (&field.when, field.when_column)
                && !condition_holds(condition, row.column(column)?)
            {
                continue;
            }
            if assigned.has(field.slot_set) {
                continue;
            }
            // One column, or a code and its display: the value may go the short way (see
            // `shortcut`).
            if self.shortcuts
                && field.shortcut != Shortcut::Pipeline
                && let Some(&first) = field.input_columns.first()
                && let Some(at) = row.positions.get(first)
            {
                let value = row.columns[at].value;
                let taken = match field.shortcut {
                    Shortcut::LocalCode => match field
                        .input_columns
                        .get(1)
                        .and_then(|&second| row.positions.get(second))
                    {
                        Some(second) => shortcut::take_local_code(
                            field,
                            value,
                            row.columns[second].value,
                            &mut record,
                            &shared,
                            &mut findings,
                        ),
                        None => Taken::No,
                    },
                    _ => shortcut::take(field, value, &mut record, &shared, &mut findings),
                };
                match taken {
                    Taken::No => {}
                    Taken::StepFailed(failure) => {
                        on_failure(field, failure, &mut findings)?;
                        continue;
                    }
                    Taken::Assigned(result) => {
                        if settle(field, result, &mut findings)? {
                            assigned.add(field.slot_set);
                        }
                        continue;
                    }
                    Taken::SetClean => {
                        assigned.add(field.slot_set);
                        clean_texts.add(field.slot_set);
                        continue;
                    }
                }
            }
            let (value, original) = read_input(field, &row, &mut findings)?;
            let mut cx = shared.steps(field, original.clone(), &mut findings);
            let mut current = value;
            let mut failed = false;
            for step in &field.steps {
                let input = std::mem::replace(&mut current, FieldValue::Null);
                match transform::run(step, input, &mut cx) {
                    Ok(next) => current = next,
                    Err(failure) => {
                        on_failure(field, failure, &mut findings)?;
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                continue;
            }
            let result = assign(&mut record, field.slot, current, &original);
            if settle(field, result, &mut findings)? {
                assigned.add(field.slot_set);
                if matches!(
                    field.slot,
                    Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven
                ) {
                    name_part_originals.push((field.slot, original));
                }
            }
        }
        if !name_part_originals.is_empty()
            && let Some(person) = record.person_mut()
        {
            compose_name(
                person.name.get_or_insert_with(NameDraft::default),
                &mut name_part_originals,
            );
            clean_texts.remove(Slot::Name);
            assigned.insert(Slot::Name);
        }
        let mut reported = SlotSet::default();
        for field in self.fields.iter().filter(|f| f.required) {
            if !assigned.has(field.slot_set) && !reported.has(field.slot_set) {
                reported.add(field.slot_set);
                findings.add(
                    QualityCriterion::Complete,
                    QualitySeverity::Error,
                    &field.path,
                    codes::FIELD_MISSING,
                    format!(
                        "required field has no value (from {})",
                        field.input_description
                    ),
                );
            }
        }

        let row_updated = match self.updated_column {
            Some(column) => Some(updated_date(row.column(column)?)),
            None => None,
        };
        let context = CheckContext {
            change_date,
            commit_time: event.commit_time.as_ref(),
            now,
            settings: self.quality_settings(),
            row_updated,
            assigned,
            clean_texts,
            code_lists,
        };
        check_record(&record, &context, &mut findings);
        Ok(Translated {
            key: record_id,
            operation: RecordOperation::Upsert,
            record,
            provenance,
            quality: findings.into_quality(),
        })
    }
}

impl MappingSet {
    /// Translates a change event with the mapping of its table ([`Mapping::apply`]);
    /// [`MappingError::NoMapping`] when no mapping file covers the table.
    pub fn apply(
        &self,
        event: &ChangeEvent,
        code_lists: &CodeLists,
        now: SystemTime,
    ) -> Result<MappedRecord, MappingError> {
        self.translate(&EventRef::of(event), code_lists, now)
            .map(Translated::into_record)
    }

    /// [`MappingSet::apply`] on an event read in place (see [`Mapping::translate`]).
    pub(crate) fn translate<'a>(
        &'a self,
        event: &'a EventRef<'a>,
        code_lists: &'a CodeLists,
        now: SystemTime,
    ) -> Result<Translated<'a>, MappingError> {
        self.find(event.source_id, event.schema, event.table)
            .ok_or_else(|| MappingError::NoMapping {
                source_id: event.source_id.to_owned(),
                schema: event.schema.to_owned(),
                table: event.table.to_owned(),
            })?
            .translate(event, code_lists, now)
    }
}

/// A translated change: the record as a draft, its provenance and findings beside it. A
/// [`MappedRecord`] holds the findings twice (in the entity and beside it), and the stage needs
/// them in the record only while it encodes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Translated<'a> {
    pub(crate) key: String,
    pub(crate) operation: RecordOperation,
    /// Without its record ids (they are `key`), provenance and quality.
    pub(crate) record: Box<Draft<'a>>,
    pub(crate) provenance: ProvenanceDraft<'a>,
    /// Empty for a delete.
    pub(crate) quality: Quality,
}

impl Translated<'_> {
    pub(crate) fn into_record(self) -> MappedRecord {
        let mut entity = self
            .record
            .into_entity(&self.key, self.provenance.into_owned());
        if self.operation == RecordOperation::Upsert {
            entity.set_quality(self.quality.clone());
        }
        MappedRecord {
            key: self.key,
            operation: self.operation,
            entity,
            quality: self.quality,
        }
    }
}

/// The row image a record is built from, with the mapping's columns located in it.
struct SourceRow<'r, 'a> {
    mapping: &'r Mapping,
    event: &'r EventRef<'a>,
    columns: &'r [ColumnRef<'a>],
    positions: Cow<'r, Positions>,
}

impl<'r, 'a> SourceRow<'r, 'a> {
    /// The column of the mapping numbered `id`; an error when the row lacks it.
    fn column(&self, id: ColumnId) -> Result<&'r ColumnRef<'a>, MappingError> {
        match self.positions.get(id) {
            Some(at) => Ok(&self.columns[at]),
            None => Err(MappingError::MissingColumn {
                column: self.mapping.columns.name(id).to_owned(),
                table: table_name(self.event),
                available: self
                    .columns
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

fn table_name(event: &EventRef<'_>) -> String {
    format!("{}.{}", event.schema, event.table)
}

/// Appends the position of a change as text: the PostgreSQL connector's
/// `<commit LSN>:<sequence>`, `<gtid>@<file>:<offset>:<row>` for binlogs, the cursor for polls,
/// the chunk and row for snapshots. `None` (and nothing appended) for a position of no kind.
fn push_position_text(out: &mut String, position: &SourcePosition) -> Option<()> {
    match position.kind.as_ref()? {
        // Every record of a PostgreSQL source comes this way: written without `format!`.
        PositionKind::Postgres(p) => {
            push_hex16(out, p.commit_lsn);
            out.push(':');
            push_decimal(out, p.sequence);
        }
        other => out.push_str(&position_text(other)),
    }
    Some(())
}

/// `format!("{value:016X}")`.
fn push_hex16(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..16).rev() {
        out.push(char::from(DIGITS[((value >> (shift * 4)) & 0xF) as usize]));
    }
}

/// `format!("{value}")`.
fn push_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// The text of a position of another kind than PostgreSQL's (see [`push_position_text`]).
fn position_text(position: &PositionKind) -> String {
    match position {
        PositionKind::Postgres(p) => format!("{:016X}:{}", p.commit_lsn, p.sequence),
        PositionKind::Binlog(b) => format!("{}@{}:{}:{}", b.gtid, b.file, b.offset, b.row_index),
        PositionKind::Poll(p) => format!(
            "poll:{}",
            p.cursor
                .iter()
                .map(|v| key_text(ValueRef::of(Some(v))).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        ),
        PositionKind::Snapshot(s) => {
            format!("snapshot:{}:{}:{}", s.snapshot_id, s.chunk, s.row_index)
        }
    }
}

/// The text of a key value; `None` for null and for values that cannot identify a row.
fn key_text(value: ValueRef<'_>) -> Option<Cow<'_, str>> {
    match FieldValue::from_value(value)? {
        FieldValue::Null | FieldValue::Float(_) | FieldValue::List(_) => None,
        FieldValue::Bytes(bytes) => Some(Cow::Owned(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        )),
        other => other.into_text(),
    }
}

fn source_key_of(row: &SourceRow<'_, '_>) -> Result<String, MappingError> {
    let mapping = row.mapping;
    let key_columns = &mapping.key_columns;
    // The `col=value` pairs of `source_key`, written into one string as the columns are read.
    let mut key = String::with_capacity(32);
    fn push_pair(key: &mut String, column: &str, value: &str) {
        if !key.is_empty() {
            key.push('&');
        }
        push_source_key(key, [(column, value)]);
    }
    if key_columns.is_empty() {
        if row.event.key.is_empty() {
            return Err(MappingError::Key {
                column: String::new(),
                reason: "the change has no primary key and the mapping names no key columns \
                         (set source.key)"
                    .into(),
            });
        }
        for column in &row.event.key {
            // An integer key (the usual one) without allocating its text.
            if let ValueRef::Int(i) = column.value {
                push_pair(&mut key, column.name, IntText::new(i).as_str());
                continue;
            }
            let text = key_text(column.value).ok_or_else(|| MappingError::Key {
                column: column.name.to_owned(),
                reason: "the key value is null or not usable as a key".into(),
            })?;
            push_pair(&mut key, column.name, &text);
        }
    } else {
        for &id in key_columns {
            let name = mapping.columns.name(id);
            let column = match row.positions.get(id) {
                Some(at) => &row.columns[at],
                None => row
                    .event
                    .key
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| MappingError::Key {
                        column: name.to_owned(),
                        reason: "the key column is not in the row".into(),
                    })?,
            };
            if let ValueRef::Int(i) = column.value {
                push_pair(&mut key, name, IntText::new(i).as_str());
                continue;
            }
            let text = key_text(column.value)
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| MappingError::Key {
                    column: name.to_owned(),
                    reason: "the key value is empty".into(),
                })?;
            push_pair(&mut key, name, text.trim());
        }
    }
    Ok(key)
}

fn condition_holds(condition: &Condition, column: &ColumnRef<'_>) -> bool {
    let value = FieldValue::from_value(column.value).unwrap_or(FieldValue::Null);
    let text = if value.is_missing() {
        None
    } else {
        value.to_text()
    };
    let text = text.as_deref().map(str::trim);
    let mut holds = true;
    if let Some(expected) = &condition.equals {
        holds &= text == Some(expected.trim());
    }
    if let Some(unexpected) = &condition.not_equals {
        holds &= text != Some(unexpected.trim());
    }
    if let Some(list) = &condition.one_of {
        holds &= text.is_some_and(|t| list.iter().any(|v| v.trim() == t));
    }
    if let Some(list) = &condition.not_in {
        holds &= !text.is_some_and(|t| list.iter().any(|v| v.trim() == t));
    }
    if let Some(present) = condition.present {
        holds &= text.is_some() == present;
    }
    holds
}

/// The field's input value and, where the field keeps it, the text of what the source held.
fn read_input<'a>(
    field: &'a CompiledField,
    row: &SourceRow<'_, 'a>,
    findings: &mut Findings,
) -> Result<(FieldValue<'a>, Cow<'a, str>), MappingError> {
    if let Input::Constant(constant) = &field.input {
        return Ok((
            FieldValue::Text(Cow::Borrowed(constant)),
            Cow::Borrowed(constant),
        ));
    }
    if let [id] = field.input_columns[..] {
        let value = column_value(field, id, row, findings)?;
        let original = if field.keeps_original {
            value.to_text().unwrap_or_default()
        } else {
            Cow::Borrowed("")
        };
        return Ok((value, original));
    }
    let mut values = Vec::with_capacity(field.input_columns.len());
    for &id in &field.input_columns {
        values.push(column_value(field, id, row, findings)?);
    }
    let original = if field.keeps_original {
        Cow::Owned(
            values
                .iter()
                .filter_map(FieldValue::to_text)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        Cow::Borrowed("")
    };
    Ok((FieldValue::List(values), original))
}

/// The value of one input column.
fn column_value<'a>(
    field: &CompiledField,
    id: ColumnId,
    row: &SourceRow<'_, 'a>,
    findings: &mut Findings,
) -> Result<FieldValue<'a>, MappingError> {
    let column = row.column(id)?;
    if let Some(value) = FieldValue::from_value(column.value) {
        return Ok(value);
    }
    // Not sent because unchanged: the row before the change has it, if the source's replica
    // identity includes it.
    let name = row.mapping.columns.name(id);
    let before = row
        .event
        .before
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| FieldValue::from_value(c.value));
    Ok(before.unwrap_or_else(|| {
        findings.add(
            QualityCriterion::Complete,
            QualitySeverity::Warning,
            &field.path,
            codes::SOURCE_VALUE_NOT_SENT,
            format!(
                "column {name} was not sent because it did not change, and the row \
                 before the change lacks it (the source needs a full replica identity)"
            ),
        );
        FieldValue::Null
    }))
}

/// Whether the assignment set the field; a value that does not fit it is a failure of the field.
fn settle(
    field: &CompiledField,
    result: Result<bool, AssignError>,
    findings: &mut Findings,
) -> Result<bool, MappingError> {
    match result {
        Ok(set) => Ok(set),
        Err(AssignError(message)) => {
            let failure = StepFailure {
                criterion: QualityCriterion::Correct,
                severity: QualitySeverity::Error,
                code: codes::VALUE_WRONG_TYPE,
                message,
            };
            on_failure(field, failure, findings)?;
            Ok(false)
        }
    }
}

fn on_failure(
    field: &CompiledField,
    failure: StepFailure,
    findings: &mut Findings,
) -> Result<(), MappingError> {
    match field.on_error {
        OnError::Reject => Err(MappingError::Field {
            target: field.path.clone(),
            source_desc: field.input_description.clone(),
            reason: failure.message,
        }),
        OnError::Flag => {
            findings.add(
                failure.criterion,
                failure.severity,
                &field.path,
                failure.code,
                format!(
                    "{} ({}); the field is left empty",
                    failure.message, field.input_description
                ),
            );
            Ok(())
        }
    }
}

/// Fills `full` and `original` of a name mapped part by part.
fn compose_name<'a>(name: &mut NameDraft<'a>, originals: &mut [(Slot, Cow<'a, str>)]) {
    name.full = Cow::Owned(
        [&name.family, &name.middle, &name.given]
            .into_iter()
            .map(|p| p.as_ref())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    );
    let order = |slot: &Slot| match slot {
        Slot::NameFamily => 0,
        Slot::NameMiddle => 1,
        _ => 2,
    };
    originals.sort_by_key(|(slot, _)| order(slot));
    name.original = Cow::Owned(
        originals
            .iter()
            .map(|(_, o)| o.as_ref())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    );
}

/// The date in the row's last-update column, `None` when it holds none.
fn updated_date(column: &ColumnRef<'_>) -> Option<CivilDate> {
    match FieldValue::from_value(column.value).unwrap_or(FieldValue::Null) {
        FieldValue::Date(d) | FieldValue::DateTime(d) => CivilDate::from_proto(&d),
        FieldValue::Instant(seconds) => CivilDate::in_vietnam_at_unix_seconds(seconds),
        FieldValue::Text(t) => t.get(..10).and_then(CivilDate::parse_iso),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
