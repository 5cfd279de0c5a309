//! `lienthong mapping test`: a mapping file tried on sample rows, without Kafka.
//!
//! Prints, per row, the canonical record the translator would publish (as JSON with the
//! protobuf field names) and every quality finding, or the reason the row would go to
//! `dlq.translate`. Exit status: 0 every row translated, 1 some row rejected, 2 the mapping, the
//! code lists or the sample file could not be read.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context as _, bail};
use lienthong_proto::v1::{Operation, QualityCriterion, QualityFlag, QualitySeverity};
use lienthong_translate::trial::{self, InputFormat, TrialRow, TrialSummary};
use lienthong_translate::{CodeLists, MappedRecord, Mapping, RecordOperation};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use serde_json::{Value as Json, json};

/// How `mapping test` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Readable: each row's record as indented JSON, then its findings, then a summary.
    Text,
    /// One JSON object per row (for scripts); the summary goes to standard error.
    Json,
}

/// The change-event operation the sample rows stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SampleOperation {
    /// Rows read by a snapshot.
    Read,
    Insert,
    Update,
    /// Rows deleted at the source (the row is the deleted row).
    Delete,
}

impl SampleOperation {
    fn operation(self) -> Operation {
        match self {
            SampleOperation::Read => Operation::Read,
            SampleOperation::Insert => Operation::Insert,
            SampleOperation::Update => Operation::Update,
            SampleOperation::Delete => Operation::Delete,
        }
    }
}

/// What `lienthong mapping test` was asked.
#[derive(Debug)]
pub struct TestRequest<'a> {
    pub mapping: &'a Path,
    pub input: &'a Path,
    pub codelists: Option<&'a Path>,
    pub operation: SampleOperation,
    pub key_columns: &'a [String],
    pub at: Option<&'a str>,
    pub format: OutputFormat,
}

pub fn test(request: &TestRequest<'_>) -> anyhow::Result<ExitCode> {
    let codelists_dir = match request.codelists {
        Some(dir) => dir.to_path_buf(),
        None => find_codelists(request.mapping)?,
    };
    let code_lists = CodeLists::load_dir(&codelists_dir)
        .with_context(|| format!("loading code lists from {}", codelists_dir.display()))?;
    // The mapping's own error message names file, line and field.
    let mapping = Mapping::load(request.mapping, &code_lists).map_err(anyhow::Error::msg)?;
    let format = InputFormat::from_path(request.input).with_context(|| {
        format!(
            "{}: name the sample file .json, .jsonl or .csv so its format is known",
            request.input.display()
        )
    })?;
    let text = std::fs::read_to_string(request.input)
        .with_context(|| format!("reading {}", request.input.display()))?;
    let rows =
        trial::read_rows(&text, format).with_context(|| format!("{}", request.input.display()))?;
    let now = match request.at {
        Some(at) => chrono::DateTime::parse_from_rfc3339(at)
            .with_context(|| format!("--at {at:?} is not an RFC 3339 instant"))?
            .into(),
        None => SystemTime::now(),
    };
    let keys: Vec<&str> = request.key_columns.iter().map(String::as_str).collect();
    if mapping.source().key.is_empty() && keys.is_empty() {
        bail!(
            "mapping {} names no source.key: pass the key columns with --key COLUMN",
            mapping.id()
        );
    }
    let results = trial::run(
        &mapping,
        &code_lists,
        rows,
        request.operation.operation(),
        &keys,
        now,
    );
    let summary = TrialSummary::of(&results);
    let pool = DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET)
        .context("reading the built-in protobuf descriptors")?;
    let mut out = std::io::stdout().lock();
    match request.format {
        OutputFormat::Text => {
            writeln!(
                out,
                "mapping {} {} ({}.{} of {} -> {}), {} row(s) from {}",
                mapping.id(),
                mapping.version(),
                mapping.source().schema,
                mapping.source().table,
                mapping.source().id,
                mapping.entity().topic(),
                summary.rows,
                request.input.display()
            )?;
            for result in &results {
                write_text(&mut out, &pool, result)?;
            }
            writeln!(out, "\n{}", summary_line(&summary))?;
        }
        OutputFormat::Json => {
            for result in &results {
                writeln!(out, "{}", row_json(&pool, result)?)?;
            }
            eprintln!("{}", summary_line(&summary));
        }
    }
    Ok(if summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `codelists/` beside the mapping's `mappings/` directory (the repository's `schemas/`
/// layout), else `schemas/codelists` under the current directory.
fn find_codelists(mapping: &Path) -> anyhow::Result<PathBuf> {
    let candidates = mapping
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("codelists"))
        .chain(std::iter::once(PathBuf::from("schemas/codelists")));
    for dir in candidates {
        if dir.is_dir() {
            return Ok(dir);
        }
    }
    bail!(
        "no code lists found beside {} or in ./schemas/codelists: pass --codelists DIR",
        mapping.display()
    )
}

fn summary_line(s: &TrialSummary) -> String {
    format!(
        "{} row(s): {} translated ({} with findings), {} rejected",
        s.rows, s.translated, s.with_findings, s.rejected
    )
}

fn write_text(
    out: &mut impl std::io::Write,
    pool: &DescriptorPool,
    result: &TrialRow,
) -> anyhow::Result<()> {
    match &result.outcome {
        Ok(record) => {
            let operation = match record.operation {
                RecordOperation::Upsert => "upsert",
                RecordOperation::Delete => "delete (then a tombstone)",
            };
            writeln!(
                out,
                "\nrow {}: {} {} key {}",
                result.row,
                operation,
                record.kind().message_name(),
                record.key
            )?;
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&entity_json(pool, record)?)?
            )?;
            if record.quality.flags.is_empty() {
                writeln!(out, "  no findings")?;
            }
            for flag in &record.quality.flags {
                writeln!(
                    out,
                    "  {:<7} {:<10} {:<32} {}: {}",
                    severity(flag),
                    criterion(flag),
                    if flag.field.is_empty() {
                        "(record)"
                    } else {
                        &flag.field
                    },
                    flag.code,
                    flag.message
                )?;
            }
        }
        Err(e) => writeln!(
            out,
            "\nrow {}: REJECTED ({}), would go to dlq.translate: {e}",
            result.row,
            e.kind()
        )?,
    }
    Ok(())
}

fn row_json(pool: &DescriptorPool, result: &TrialRow) -> anyhow::Result<Json> {
    Ok(match &result.outcome {
        Ok(record) => json!({
            "row": result.row,
            "outcome": "translated",
            "operation": match record.operation {
                RecordOperation::Upsert => "upsert",
                RecordOperation::Delete => "delete",
            },
            "topic": record.topic(),
            "key": record.key,
            "entity": entity_json(pool, record)?,
            "findings": record.quality.flags.iter().map(|f| json!({
                "criterion": criterion(f),
                "severity": severity(f),
                "field": f.field,
                "code": f.code,
                "message": f.message,
            })).collect::<Vec<_>>(),
        }),
        Err(e) => json!({
            "row": result.row,
            "outcome": "rejected",
            "kind": e.kind(),
            "reason": e.to_string(),
        }),
    })
}

/// The entity as the protobuf JSON mapping writes it, with the `.proto` field names.
fn entity_json(pool: &DescriptorPool, record: &MappedRecord) -> anyhow::Result<Json> {
    let name = format!("lienthong.v1.{}", record.kind().message_name());
    let descriptor = pool
        .get_message_by_name(&name)
        .with_context(|| format!("{name} is not in the built-in descriptors"))?;
    let message = DynamicMessage::decode(descriptor, record.entity.encode_to_vec().as_slice())
        .with_context(|| format!("re-reading the {name} just encoded"))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    Ok(message.serialize_with_options(serde_json::value::Serializer, &options)?)
}

/// The criterion's Vietnamese name, as the state's requirements write it.
fn criterion(flag: &QualityFlag) -> &'static str {
    match QualityCriterion::try_from(flag.criterion) {
        Ok(QualityCriterion::Correct) => "đúng",
        Ok(QualityCriterion::Complete) => "đủ",
        Ok(QualityCriterion::Clean) => "sạch",
        Ok(QualityCriterion::Live) => "sống",
        Ok(QualityCriterion::Unified) => "thống nhất",
        Ok(QualityCriterion::Shared) => "dùng chung",
        Ok(QualityCriterion::Unspecified) | Err(_) => "?",
    }
}

fn severity(flag: &QualityFlag) -> &'static str {
    match QualitySeverity::try_from(flag.severity) {
        Ok(QualitySeverity::Info) => "info",
        Ok(QualitySeverity::Warning) => "warning",
        Ok(QualitySeverity::Error) => "error",
        Ok(QualitySeverity::Unspecified) | Err(_) => "?",
    }
}
