//! Applying a mapping to a change event: [`Mapping::apply`].
//!
//! Pure: the same event, code lists and `now` give the same record. No I/O, no clock.

mod assign;
mod transform;
mod value;

use std::collections::HashSet;
use std::time::SystemTime;

use lienthong_proto::v1::source_position::Kind as PositionKind;
use lienthong_proto::v1::{
    ChangeEvent, Column, Operation, PersonName, Provenance, Quality, QualityCriterion,
    QualitySeverity, SourcePosition, Value,
};

use crate::codelist::CodeLists;
use crate::date::{CivilDate, to_timestamp};
use crate::entity::CanonicalEntity;
use crate::mapping::spec::{Condition, OnError};
use crate::mapping::target::Slot;
use crate::mapping::{CompiledField, Input, Mapping, MappingSet};
use crate::quality::{CheckContext, Findings, check_record, codes};
use crate::record::{
    MappedRecord, MappingError, RecordOperation, operation_name, record_id, source_key,
};
use assign::{AssignError, assign};
use transform::{StepContext, StepFailure};
use value::FieldValue;

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
        let table = format!("{}.{}", event.schema, event.table);
        let operation = Operation::try_from(event.op).unwrap_or(Operation::Unspecified);
        let row: &[Column] = match operation {
            Operation::Unspecified => return Err(MappingError::UnspecifiedOperation),
            Operation::Truncate => return Err(MappingError::Truncate { table }),
            Operation::Read | Operation::Insert | Operation::Update => {
                match event.after.as_ref().filter(|r| !r.columns.is_empty()) {
                    Some(after) => &after.columns,
                    None => {
                        return Err(MappingError::MissingRow {
                            operation: operation_name(operation).to_owned(),
                            image: "after",
                        });
                    }
                }
            }
            Operation::Delete => event.before.as_ref().map_or(&[], |r| r.columns.as_slice()),
        };
        let position_text = event
            .position
            .as_ref()
            .and_then(position_text)
            .ok_or(MappingError::NoPosition)?;
        let key = source_key_of(self, event, row)?;
        let record_id = record_id(&event.source_id, &event.schema, &event.table, &key);
        let change_date = event
            .commit_time
            .as_ref()
            .or(event.capture_time.as_ref())
            .and_then(CivilDate::in_vietnam_at)
            .or_else(|| CivilDate::in_vietnam(now))
            .unwrap_or(CivilDate::UNIX_EPOCH);
        let provenance = Provenance {
            source_id: event.source_id.clone(),
            schema: event.schema.clone(),
            table: event.table.clone(),
            source_key: key,
            position: event.position.clone(),
            mapping_id: self.id().to_owned(),
            mapping_version: self.version().to_owned(),
            source_commit_time: event.commit_time,
            translated_at: Some(to_timestamp(now)),
            source_operation: operation as i32,
            idempotency_key: format!(
                "{}:{position_text}:{}@{}",
                event.source_id,
                self.id(),
                self.version()
            ),
        };
        let mut entity = CanonicalEntity::empty(self.entity(), &record_id);
        if operation == Operation::Delete {
            entity.set_provenance(provenance);
            return Ok(MappedRecord {
                key: record_id,
                operation: RecordOperation::Delete,
                entity,
                quality: Quality::default(),
            });
        }

        if let Some(person) = entity.person_mut()
            && self.entity() != crate::entity::EntityKind::Person
        {
            // The person inside a civil-servant file or insurance record is this row's person.
            person.record_id = record_id.clone();
        }
        let mut findings = Findings::default();
        let mut assigned: HashSet<Slot> = HashSet::new();
        let mut required: Vec<&CompiledField> = Vec::new();
        let mut name_part_originals: Vec<(Slot, String)> = Vec::new();
        for field in &self.fields {
            if field.required {
                required.push(field);
            }
            if let Some(condition) = &field.when
                && !condition_holds(condition, row, &table)?
            {
                continue;
            }
            if assigned.contains(&field.slot) {
                continue;
            }
            let (value, original) = read_input(field, event, row, &table, &mut findings)?;
            let mut cx = StepContext {
                code_lists,
                change_date,
                source_id: &event.source_id,
                original: &original,
                field: &field.path,
                sensitivity: field.slot.sensitivity(),
                findings: &mut findings,
            };
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
            match assign(&mut entity, field.slot, current, &original) {
                Ok(true) => {
                    assigned.insert(field.slot);
                    if matches!(
                        field.slot,
                        Slot::NameFamily | Slot::NameMiddle | Slot::NameGiven
                    ) {
                        name_part_originals.push((field.slot, original));
                    }
                }
                Ok(false) => {}
                Err(AssignError(message)) => {
                    let failure = StepFailure {
                        criterion: QualityCriterion::Correct,
                        severity: QualitySeverity::Error,
                        code: codes::VALUE_WRONG_TYPE,
                        message,
                    };
                    on_failure(field, failure, &mut findings)?;
                }
            }
        }
        if !name_part_originals.is_empty()
            && let Some(person) = entity.person_mut()
        {
            compose_name(
                person.name.get_or_insert_with(PersonName::default),
                &mut name_part_originals,
            );
            assigned.insert(Slot::Name);
        }
        let mut reported = HashSet::new();
        for field in required {
            if !assigned.contains(&field.slot) && reported.insert(field.slot) {
                findings.add(
                    QualityCriterion::Complete,
                    QualitySeverity::Error,
                    &field.path,
                    codes::FIELD_MISSING,
                    format!(
                        "required field has no value (from {})",
                        input_description(field)
                    ),
                );
            }
        }

        let row_updated = match &self.quality_settings().updated_column {
            Some(column) => Some(updated_date(column, row, &table)?),
            None => None,
        };
        let context = CheckContext {
            change_date,
            commit_time: event.commit_time.as_ref(),
            now,
            settings: self.quality_settings(),
            row_updated,
            assigned: &assigned,
            code_lists,
        };
        check_record(&entity, &context, &mut findings);
        let quality = findings.into_quality();
        entity.set_quality(quality.clone());
        entity.set_provenance(provenance);
        Ok(MappedRecord {
            key: record_id,
            operation: RecordOperation::Upsert,
            entity,
            quality,
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
        self.find(&event.source_id, &event.schema, &event.table)
            .ok_or_else(|| MappingError::NoMapping {
                source_id: event.source_id.clone(),
                schema: event.schema.clone(),
                table: event.table.clone(),
            })?
            .apply(event, code_lists, now)
    }
}

/// The position of a change as text: the PostgreSQL connector's `<commit LSN>:<sequence>`,
/// `<gtid>@<file>:<offset>:<row>` for binlogs, the cursor for polls, the chunk and row for
/// snapshots.
fn position_text(position: &SourcePosition) -> Option<String> {
    Some(match position.kind.as_ref()? {
        PositionKind::Postgres(p) => format!("{:016X}:{}", p.commit_lsn, p.sequence),
        PositionKind::Binlog(b) => format!("{}@{}:{}:{}", b.gtid, b.file, b.offset, b.row_index),
        PositionKind::Poll(p) => format!(
            "poll:{}",
            p.cursor
                .iter()
                .map(|v| key_text(Some(v)).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        ),
        PositionKind::Snapshot(s) => {
            format!("snapshot:{}:{}:{}", s.snapshot_id, s.chunk, s.row_index)
        }
    })
}

/// The text of a key value; `None` for null and for values that cannot identify a row.
fn key_text(value: Option<&Value>) -> Option<String> {
    match FieldValue::from_proto(value)? {
        FieldValue::Null | FieldValue::Float(_) | FieldValue::List(_) => None,
        FieldValue::Bytes(bytes) => Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        other => other.to_text(),
    }
}

fn source_key_of(
    mapping: &Mapping,
    event: &ChangeEvent,
    row: &[Column],
) -> Result<String, MappingError> {
    let key_columns = &mapping.source().key;
    let mut pairs: Vec<(String, String)> = Vec::new();
    if key_columns.is_empty() {
        if event.key.is_empty() {
            return Err(MappingError::Key {
                column: String::new(),
                reason: "the change has no primary key and the mapping names no key columns \
                         (set source.key)"
                    .into(),
            });
        }
        for column in &event.key {
            let text = key_text(column.value.as_ref()).ok_or_else(|| MappingError::Key {
                column: column.name.clone(),
                reason: "the key value is null or not usable as a key".into(),
            })?;
            pairs.push((column.name.clone(), text));
        }
    } else {
        for name in key_columns {
            let value = row
                .iter()
                .chain(&event.key)
                .find(|c| &c.name == name)
                .ok_or_else(|| MappingError::Key {
                    column: name.clone(),
                    reason: "the key column is not in the row".into(),
                })?;
            let text = key_text(value.value.as_ref())
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| MappingError::Key {
                    column: name.clone(),
                    reason: "the key value is empty".into(),
                })?;
            pairs.push((name.clone(), text.trim().to_owned()));
        }
    }
    Ok(source_key(
        pairs.iter().map(|(c, v)| (c.as_str(), v.as_str())),
    ))
}

fn column<'r>(row: &'r [Column], name: &str, table: &str) -> Result<&'r Column, MappingError> {
    row.iter()
        .find(|c| c.name == name)
        .ok_or_else(|| MappingError::MissingColumn {
            column: name.to_owned(),
            table: table.to_owned(),
            available: row
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn condition_holds(
    condition: &Condition,
    row: &[Column],
    table: &str,
) -> Result<bool, MappingError> {
    let value = FieldValue::from_proto(column(row, &condition.column, table)?.value.as_ref())
        .unwrap_or(FieldValue::Null);
    let text = if value.is_missing() {
        None
    } else {
        value.to_text().map(|t| t.trim().to_owned())
    };
    let text = text.as_deref();
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
    Ok(holds)
}

/// The field's input value and the text of what the source held.
fn read_input(
    field: &CompiledField,
    event: &ChangeEvent,
    row: &[Column],
    table: &str,
    findings: &mut Findings,
) -> Result<(FieldValue, String), MappingError> {
    let names = match &field.input {
        Input::Constant(constant) => {
            return Ok((FieldValue::Text(constant.clone()), constant.clone()));
        }
        Input::Columns(names) => names,
    };
    let mut values = Vec::with_capacity(names.len());
    for name in names {
        let col = column(row, name, table)?;
        let value = match FieldValue::from_proto(col.value.as_ref()) {
            Some(v) => v,
            None => {
                // Not sent because unchanged: the row before the change has it, if the source's
                // replica identity includes it.
                let before = event
                    .before
                    .as_ref()
                    .and_then(|b| b.columns.iter().find(|c| &c.name == name))
                    .and_then(|c| FieldValue::from_proto(c.value.as_ref()));
                before.unwrap_or_else(|| {
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
                })
            }
        };
        values.push(value);
    }
    let original = values
        .iter()
        .filter_map(FieldValue::to_text)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let value = if values.len() == 1 {
        values.pop().unwrap_or(FieldValue::Null)
    } else {
        FieldValue::List(values)
    };
    Ok((value, original))
}

fn input_description(field: &CompiledField) -> String {
    match &field.input {
        Input::Columns(names) if names.len() == 1 => format!("column {}", names[0]),
        Input::Columns(names) => format!("columns {}", names.join(", ")),
        Input::Constant(_) => "a constant".to_owned(),
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
            source_desc: input_description(field),
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
                    failure.message,
                    input_description(field)
                ),
            );
            Ok(())
        }
    }
}

/// Fills `full` and `original` of a name mapped part by part.
fn compose_name(name: &mut PersonName, originals: &mut [(Slot, String)]) {
    name.full = [&name.family, &name.middle, &name.given]
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let order = |slot: &Slot| match slot {
        Slot::NameFamily => 0,
        Slot::NameMiddle => 1,
        _ => 2,
    };
    originals.sort_by_key(|(slot, _)| order(slot));
    name.original = originals
        .iter()
        .map(|(_, o)| o.as_str())
        .filter(|o| !o.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
}

/// The date in the row's last-update column, `None` when it holds none.
fn updated_date(
    column_name: &str,
    row: &[Column],
    table: &str,
) -> Result<Option<CivilDate>, MappingError> {
    let value = FieldValue::from_proto(column(row, column_name, table)?.value.as_ref())
        .unwrap_or(FieldValue::Null);
    Ok(match value {
        FieldValue::Date(d) | FieldValue::DateTime(d) => CivilDate::from_proto(&d),
        FieldValue::Instant(seconds) => CivilDate::in_vietnam_at_unix_seconds(seconds),
        FieldValue::Text(t) => t.get(..10).and_then(CivilDate::parse_iso),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
