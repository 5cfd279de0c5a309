//! Trying a mapping on sample rows, without Kafka: the core of `lienthong mapping test`, so a
//! data steward can develop a mapping file alone.
//!
//! Sample rows come as JSON (an array of row objects, one object, or one object per line; values
//! as [`crate::sample`] describes) or CSV (a header line of column names, then one row per line;
//! every cell is text, an empty cell is NULL). Each row becomes a change event of the mapping's
//! source table and goes through [`Mapping::apply`] exactly as in the running translator.

use std::path::Path;
use std::time::SystemTime;

use lienthong_proto::v1::{Column, Operation, Row, Value, value::Kind};
use serde_json::Value as Json;

use crate::codelist::CodeLists;
use crate::mapping::Mapping;
use crate::record::{MappedRecord, MappingError};
use crate::sample::{SampleError, change_event, row_from_json};

/// How the sample file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Json,
    Csv,
}

impl InputFormat {
    /// The format a file name implies: `.json`/`.jsonl`/`.ndjson` or `.csv`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" | "jsonl" | "ndjson" => Some(InputFormat::Json),
            "csv" => Some(InputFormat::Csv),
            _ => None,
        }
    }
}

/// The sample file could not be read as rows. Row and line numbers start at 1.
#[derive(Debug, thiserror::Error)]
pub enum SampleInputError {
    #[error("line {line}: not JSON: {reason}")]
    Json { line: usize, reason: String },
    #[error("row {row}: {source}")]
    Row { row: usize, source: SampleError },
    #[error(
        "the JSON holds no rows: write an array of row objects, one object, or one object per line"
    )]
    NoRows,
    #[error("line {line}: {reason}")]
    Csv { line: u64, reason: String },
}

/// Reads the sample rows of a file's text.
pub fn read_rows(text: &str, format: InputFormat) -> Result<Vec<Row>, SampleInputError> {
    match format {
        InputFormat::Json => read_json(text),
        InputFormat::Csv => read_csv(text),
    }
}

fn read_json(text: &str) -> Result<Vec<Row>, SampleInputError> {
    let items: Vec<Json> = match serde_json::from_str::<Json>(text) {
        Ok(Json::Array(items)) => items,
        Ok(one @ Json::Object(_)) => vec![one],
        Ok(_) => return Err(SampleInputError::NoRows),
        // An array that does not parse: its own error names the line.
        Err(whole) if text.trim_start().starts_with('[') || text.trim().lines().count() <= 1 => {
            return Err(SampleInputError::Json {
                line: whole.line(),
                reason: whole.to_string(),
            });
        }
        // Otherwise one object per line (blank lines allowed).
        Err(_) => {
            let mut items = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let item =
                    serde_json::from_str::<Json>(line).map_err(|e| SampleInputError::Json {
                        line: i + 1,
                        reason: e.to_string(),
                    })?;
                items.push(item);
            }
            items
        }
    };
    if items.is_empty() {
        return Err(SampleInputError::NoRows);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            row_from_json(item).map_err(|source| SampleInputError::Row { row: i + 1, source })
        })
        .collect()
}

fn read_csv(text: &str) -> Result<Vec<Row>, SampleInputError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| SampleInputError::Csv {
        line: e.position().map_or(0, csv::Position::line),
        reason: e.to_string(),
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(SampleInputError::Csv {
            line: 1,
            reason: "the first line must name the columns".into(),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let columns = headers
            .iter()
            .zip(record.iter())
            .map(|(name, cell)| Column {
                name: name.clone(),
                value: Some(Value {
                    kind: Some(if cell.is_empty() {
                        Kind::Null(true)
                    } else {
                        Kind::TextValue(cell.to_owned())
                    }),
                }),
                source_type: String::new(),
            })
            .collect();
        rows.push(Row { columns });
    }
    if rows.is_empty() {
        return Err(SampleInputError::Csv {
            line: 2,
            reason: "no rows after the header line".into(),
        });
    }
    Ok(rows)
}

/// What the mapping made of one sample row.
#[derive(Debug)]
pub struct TrialRow {
    /// 1-based position of the row in the sample file.
    pub row: usize,
    pub outcome: Result<MappedRecord, MappingError>,
}

/// Applies the mapping to every row as a change event of `operation` committed at `now`.
/// `key_columns` names the key when the mapping's `source.key` does not.
pub fn run(
    mapping: &Mapping,
    code_lists: &CodeLists,
    rows: Vec<Row>,
    operation: Operation,
    key_columns: &[&str],
    now: SystemTime,
) -> Vec<TrialRow> {
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let event = change_event(mapping, operation, row, key_columns, now, i as u64 + 1);
            TrialRow {
                row: i + 1,
                outcome: mapping.apply(&event, code_lists, now),
            }
        })
        .collect()
}

/// Counts for the summary line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrialSummary {
    pub rows: usize,
    pub translated: usize,
    pub with_findings: usize,
    pub rejected: usize,
}

impl TrialSummary {
    pub fn of(results: &[TrialRow]) -> Self {
        let mut s = TrialSummary {
            rows: results.len(),
            ..Self::default()
        };
        for r in results {
            match &r.outcome {
                Ok(record) => {
                    s.translated += 1;
                    if !record.quality.flags.is_empty() {
                        s.with_findings += 1;
                    }
                }
                Err(_) => s.rejected += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::mapping::MappingSet;

    fn shipped() -> (CodeLists, MappingSet) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
        let lists = CodeLists::load_dir(dir.join("codelists")).unwrap();
        let mappings = MappingSet::load_dir(dir.join("mappings"), &lists).unwrap();
        (lists, mappings)
    }

    fn text(row: &Row, column: &str) -> Option<Kind> {
        row.columns
            .iter()
            .find(|c| c.name == column)
            .and_then(|c| c.value.clone())
            .and_then(|v| v.kind)
    }

    #[test]
    fn json_array_single_object_and_lines_all_read() {
        let array = read_rows(r#"[{"a": 1}, {"a": 2}]"#, InputFormat::Json).unwrap();
        assert_eq!(array.len(), 2);
        let one = read_rows(r#"{"a": "x"}"#, InputFormat::Json).unwrap();
        assert_eq!(one.len(), 1);
        let lines = read_rows("{\"a\": 1}\n\n{\"a\": 2}\n{\"a\": 3}\n", InputFormat::Json).unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(text(&lines[2], "a"), Some(Kind::IntValue(3)));
    }

    #[test]
    fn json_errors_name_the_line_or_row() {
        let err = read_rows("{\"a\": 1}\n{\"a\": \n", InputFormat::Json).unwrap_err();
        assert!(
            matches!(err, SampleInputError::Json { line: 2, .. }),
            "{err}"
        );
        let err = read_rows("[{\"a\": 1},\n{\"a\": }]", InputFormat::Json).unwrap_err();
        assert!(
            matches!(err, SampleInputError::Json { line: 2, .. }),
            "{err}"
        );
        let err = read_rows(r#"[{"a": 1}, [2]]"#, InputFormat::Json).unwrap_err();
        assert!(matches!(err, SampleInputError::Row { row: 2, .. }), "{err}");
        assert!(matches!(
            read_rows("[]", InputFormat::Json).unwrap_err(),
            SampleInputError::NoRows
        ));
        assert!(matches!(
            read_rows("42", InputFormat::Json).unwrap_err(),
            SampleInputError::NoRows
        ));
    }

    #[test]
    fn csv_cells_are_text_and_empty_cells_null() {
        let rows = read_rows(
            "ID,HO_TEN,NGAY_SINH\n7,Nguyễn Văn An,15/03/1975\n8,,\n",
            InputFormat::Csv,
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(text(&rows[0], "ID"), Some(Kind::TextValue("7".into())));
        assert_eq!(
            text(&rows[0], "HO_TEN"),
            Some(Kind::TextValue("Nguyễn Văn An".into()))
        );
        assert_eq!(text(&rows[1], "HO_TEN"), Some(Kind::Null(true)));
    }

    #[test]
    fn csv_errors_name_the_line() {
        let err = read_rows("A,B\n1,2\n3\n", InputFormat::Csv).unwrap_err();
        assert!(
            matches!(err, SampleInputError::Csv { line: 3, .. }),
            "{err}"
        );
        let err = read_rows("A,B\n", InputFormat::Csv).unwrap_err();
        assert!(matches!(err, SampleInputError::Csv { .. }), "{err}");
    }

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            InputFormat::from_path(Path::new("rows.JSON")),
            Some(InputFormat::Json)
        );
        assert_eq!(
            InputFormat::from_path(Path::new("a/rows.csv")),
            Some(InputFormat::Csv)
        );
        assert_eq!(InputFormat::from_path(Path::new("rows.txt")), None);
    }

    #[test]
    fn rows_translate_or_are_rejected_with_their_reason() {
        let (lists, mappings) = shipped();
        let mapping = mappings.find("legacy-qlcb", "qlcb", "HOSO").unwrap();
        // Row 1 as the legacy system stores it (TCVN3 text, year-only date, decimal comma);
        // row 2 has a date that is no date.
        let sample = r#"[
            {"MACB": 1205, "HOTEN": "Tr\u00c7n Th\u00de Thu H\u00b5", "NGAYSINH": "00/00/1968",
             "PHAI": "N\u00f7", "SOCMND": "012345678", "NOISINH": null, "QUEQUAN": null,
             "DANTOC": "Kinh", "DONVI": null, "HESOLUONG": "4,98", "NGAYVAOCQ": null,
             "TINHTRANG": "L", "NGAYSUA": {"datetime": "2025-07-30 10:00:00"}},
            {"MACB": 1206, "HOTEN": "Le Van B", "NGAYSINH": "31/02/1970", "PHAI": "Nam",
             "SOCMND": null, "NOISINH": null, "QUEQUAN": null, "DANTOC": null, "DONVI": null,
             "HESOLUONG": null, "NGAYVAOCQ": null, "TINHTRANG": "L",
             "NGAYSUA": {"datetime": "2025-07-30 10:00:00"}}
        ]"#;
        let rows = read_rows(sample, InputFormat::Json).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_754_017_200);
        let results = run(mapping, &lists, rows, Operation::Read, &["MACB"], now);
        assert_eq!(results.len(), 2);
        let first = results[0].outcome.as_ref().unwrap();
        assert_eq!(first.key, "legacy-qlcb:qlcb.HOSO:MACB=1205");
        let name = first.entity.person().unwrap().name.clone().unwrap();
        assert_eq!(name.family, "Trần");
        assert_eq!(name.given, "Hà");
        assert!(
            first
                .quality
                .flags
                .iter()
                .any(|f| f.code == "text.legacy_decoded" && f.field == "person.name"),
            "{:?}",
            first.quality.flags
        );
        let second = results[1].outcome.as_ref();
        let summary = TrialSummary::of(&results);
        assert_eq!(summary.rows, 2);
        assert_eq!(summary.translated + summary.rejected, 2);
        assert_eq!(summary.with_findings, summary.translated);
        // An impossible date is a finding or a rejection, never silently accepted.
        match second {
            Ok(record) => assert!(
                record
                    .quality
                    .flags
                    .iter()
                    .any(|f| f.field.contains("birth_date")),
                "{:?}",
                record.quality.flags
            ),
            Err(e) => assert!(e.to_string().contains("NGAYSINH"), "{e}"),
        }
    }
}
