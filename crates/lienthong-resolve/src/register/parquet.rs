//! Loading the register from a Parquet snapshot, as exported by the population database's data
//! warehouse or written by pandas, Polars, DuckDB or Spark.
//!
//! The columns are the register's (`COLUMNS`), found by name; other columns are not read.
//! Exporters disagree on types, so each column may come as text or as the natural type of its
//! value: numbers for IDs, province codes and sex (`1`/`2`), a date or timestamp for the birth
//! date, a boolean for `deceased`, a list of text for `superseded_ids`, dictionary-encoded text for
//! any of them. Every value is turned into the text the CSV loader reads, so both loaders accept
//! and reject exactly the same rows. Compression: Snappy, Zstandard, LZ4 or none.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::cast::AsArray as _;
use arrow_array::types::{
    Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fmt::Write as _;

use super::{COLUMNS, LoadReport, RegisterError, RegisterRow, column_positions, parse_row};
use crate::index::PopulationIndex;
use crate::normalise::VietnameseNameNormaliser;
use crate::record::ProvinceMap;
use crate::values::ProvinceCodes;

/// Zero-padded width of each register column when it comes as an integer: an exporter that
/// typed the 12-digit personal ID (or the 2-digit province code) as a number dropped its leading
/// zeros, and the width gives them back unambiguously. 0: no padding.
const DIGITS: [usize; COLUMNS.len()] = [12, 12, 0, 0, 0, 0, 0, 2, 0];

/// Rows decoded at a time: large enough to amortise decoding, small enough to stay in cache.
const BATCH_ROWS: usize = 8_192;

/// Why a Parquet snapshot cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ParquetRegisterError {
    #[error("cannot open the register snapshot {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the register snapshot {path} is not a readable Parquet file: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error("the register snapshot {path} could not be decoded: {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error(
        "the register snapshot {path}: column `{column}` has type {data_type}, which the register loader does not read (use text, an integer, a date, a boolean or a list of text)"
    )]
    UnsupportedType {
        path: PathBuf,
        column: &'static str,
        data_type: DataType,
    },
}

impl From<ParquetRegisterError> for RegisterError {
    fn from(e: ParquetRegisterError) -> Self {
        RegisterError::Parquet(Box::new(e))
    }
}

/// Checks that a Parquet snapshot opens and has the register columns in types the loader reads,
/// reading only its footer (for `lienthong validate`).
pub fn check_parquet(path: &Path) -> Result<(), RegisterError> {
    open(path).map(|_| ())
}

/// Builds the index from a Parquet snapshot. Rows are decoded a batch at a time and streamed into
/// the build, so the file is never held in memory whole.
pub fn load_parquet(
    path: &Path,
    map: &ProvinceMap,
    codes: ProvinceCodes,
) -> Result<(PopulationIndex, LoadReport), RegisterError> {
    let (builder, at) = open(path)?;
    // Read only the register's columns; `at` then indexes the projected batch.
    let mut roots: Vec<usize> = at.to_vec();
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let projected: [usize; COLUMNS.len()] =
        at.map(|root| roots.iter().position(|r| *r == root).unwrap_or_default());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|source| ParquetRegisterError::Parquet {
            path: path.to_path_buf(),
            source,
        })?;

    let mut report = LoadReport::default();
    let mut failure = None;
    let mut number = 0u64;
    let mut texts: [String; COLUMNS.len()] = Default::default();
    let mut batches = reader.into_iter();
    let mut current: Option<(RecordBatch, usize)> = None;
    let entries = std::iter::from_fn(|| {
        loop {
            let (batch, row) = match &mut current {
                Some((batch, row)) if *row < batch.num_rows() => (batch, row),
                _ => match batches.next() {
                    None => return None,
                    Some(Err(source)) => {
                        failure = Some(ParquetRegisterError::Decode {
                            path: path.to_path_buf(),
                            source,
                        });
                        return None;
                    }
                    Some(Ok(batch)) => {
                        current = Some((batch, 0));
                        continue;
                    }
                },
            };
            let i = *row;
            *row += 1;
            number += 1;
            for ((text, column), digits) in texts.iter_mut().zip(projected).zip(DIGITS) {
                text.clear();
                write_text(batch.column(column), i, digits, text);
            }
            let parsed = parse_row(
                &RegisterRow {
                    personal_id: &texts[0],
                    superseded_ids: &texts[1],
                    family_name: &texts[2],
                    middle_name: &texts[3],
                    given_name: &texts[4],
                    birth_date: &texts[5],
                    sex: &texts[6],
                    birth_province: &texts[7],
                    deceased: &texts[8],
                },
                map,
                codes,
            );
            match parsed {
                Ok(entry) => {
                    report.loaded += 1;
                    return Some(entry);
                }
                Err(why) => report.reject(format!("row {number}"), why),
            }
        }
    });
    let index = PopulationIndex::build(
        entries,
        Arc::new(VietnameseNameNormaliser::default()),
        map.clone(),
    )?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    Ok((index, report))
}

/// Opens the file, finds the register's columns among the top-level fields and checks that
/// their types are ones [`write_text`] reads.
fn open(
    path: &Path,
) -> Result<
    (
        ParquetRecordBatchReaderBuilder<File>,
        [usize; COLUMNS.len()],
    ),
    RegisterError,
> {
    let file = File::open(path).map_err(|source| ParquetRegisterError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
        ParquetRegisterError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    })?;
    let schema = builder.schema();
    let at = column_positions(schema.fields().iter().map(|f| f.name().as_str()))?;
    for (i, name) in COLUMNS.iter().enumerate() {
        check_type(path, name, schema.field(at[i]).data_type())?;
    }
    Ok((builder, at))
}

/// Whether [`write_text`] reads values of `data_type`.
fn check_type(
    path: &Path,
    column: &'static str,
    data_type: &DataType,
) -> Result<(), ParquetRegisterError> {
    if readable(data_type) {
        Ok(())
    } else {
        Err(ParquetRegisterError::UnsupportedType {
            path: path.to_path_buf(),
            column,
            data_type: data_type.clone(),
        })
    }
}

fn readable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => true,
        DataType::Dictionary(key, value) => key.is_integer() && readable(value),
        DataType::List(item) | DataType::LargeList(item) => {
            readable(item.data_type()) && !matches!(item.data_type(), DataType::List(_))
        }
        _ => false,
    }
}

/// Appends the value at `row` as the text the CSV extract would hold: empty for null, numbers
/// in decimal (zero-padded to `digits`), dates as `YYYY-MM-DD`, booleans as `true`/`false`, list
/// items joined by `;`. The column's type has passed [`readable`].
fn write_text(column: &ArrayRef, row: usize, digits: usize, out: &mut String) {
    if column.is_null(row) {
        return;
    }
    match column.data_type() {
        DataType::Utf8 => out.push_str(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => out.push_str(column.as_string::<i64>().value(row)),
        DataType::Utf8View => out.push_str(column.as_string_view().value(row)),
        DataType::Boolean => out.push_str(if column.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => push_number(out, column.as_primitive::<Int8Type>().value(row), digits),
        DataType::Int16 => push_number(out, column.as_primitive::<Int16Type>().value(row), digits),
        DataType::Int32 => push_number(out, column.as_primitive::<Int32Type>().value(row), digits),
        DataType::Int64 => push_number(out, column.as_primitive::<Int64Type>().value(row), digits),
        DataType::UInt8 => push_number(out, column.as_primitive::<UInt8Type>().value(row), digits),
        DataType::UInt16 => {
            push_number(out, column.as_primitive::<UInt16Type>().value(row), digits)
        }
        DataType::UInt32 => {
            push_number(out, column.as_primitive::<UInt32Type>().value(row), digits)
        }
        DataType::UInt64 => {
            push_number(out, column.as_primitive::<UInt64Type>().value(row), digits)
        }
        DataType::Date32 => {
            let days = column
                .as_primitive::<arrow_array::types::Date32Type>()
                .value(row);
            push_day(out, i64::from(days));
        }
        DataType::Date64 => {
            let millis = column
                .as_primitive::<arrow_array::types::Date64Type>()
                .value(row);
            push_day(out, millis.div_euclid(86_400_000));
        }
        DataType::Timestamp(unit, _) => {
            use arrow_array::types::{
                TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
                TimestampSecondType,
            };
            // A birth date exported as midnight of that day; the time of day means nothing.
            let (value, per_day) = match unit {
                TimeUnit::Second => (
                    column.as_primitive::<TimestampSecondType>().value(row),
                    86_400,
                ),
                TimeUnit::Millisecond => (
                    column.as_primitive::<TimestampMillisecondType>().value(row),
                    86_400_000,
                ),
                TimeUnit::Microsecond => (
                    column.as_primitive::<TimestampMicrosecondType>().value(row),
                    86_400_000_000,
                ),
                TimeUnit::Nanosecond => (
                    column.as_primitive::<TimestampNanosecondType>().value(row),
                    86_400_000_000_000,
                ),
            };
            push_day(out, value.div_euclid(per_day));
        }
        DataType::Dictionary(_, _) => {
            let dictionary = column.as_any_dictionary();
            let key = dictionary.normalized_keys()[row];
            write_text(dictionary.values(), key, digits, out);
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            push_items(&list.value(row), digits, out);
        }
        DataType::LargeList(_) => {
            let list = column.as_list::<i64>();
            push_items(&list.value(row), digits, out);
        }
        // Null, and (not reachable after `readable`) anything else: no value.
        _ => {}
    }
}

fn push_number(out: &mut String, n: impl std::fmt::Display, digits: usize) {
    let _ = write!(out, "{n:0>digits$}");
}

/// Days since 1970-01-01 as `YYYY-MM-DD`; a day no calendar holds stays empty, and the row is
/// then rejected for its missing birth date.
fn push_day(out: &mut String, days: i64) {
    let date = i32::try_from(days)
        .ok()
        .and_then(|d| d.checked_add(719_163))
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt);
    if let Some(date) = date {
        let _ = write!(out, "{}", date.format("%Y-%m-%d"));
    }
}

fn push_items(items: &ArrayRef, digits: usize, out: &mut String) {
    for i in 0..items.len() {
        if items.is_null(i) {
            continue;
        }
        if !out.is_empty() {
            out.push(';');
        }
        write_text(items, i, digits, out);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        BooleanArray, Date32Array, DictionaryArray, Float64Array, Int32Array, Int64Array,
        StringArray, TimestampMillisecondArray, UInt8Array,
    };
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::record::{PartialDate, Pin, ProvinceCodeSystem, Sex};

    fn map() -> ProvinceMap {
        ProvinceMap::from_pairs([(1, 1), (2, 8), (8, 8)]).unwrap()
    }

    /// Writes `columns` in row groups of two rows, so a load crosses row groups and batches.
    fn write(path: &Path, columns: Vec<(&str, ArrayRef)>, compression: Compression) {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(
            schema.clone(),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap();
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), schema, Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn text(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    /// The rows of the CSV loader's test, as text columns.
    fn text_columns() -> Vec<(&'static str, ArrayRef)> {
        vec![
            (
                "personal_id",
                text(&[
                    Some("002090001234"),
                    Some("001185000001"),
                    Some("12345"),
                    Some("001070000002"),
                ]),
            ),
            (
                "superseded_ids",
                text(&[Some("002190001234"), None, None, None]),
            ),
            (
                "family_name",
                text(&[Some("Nguyễn"), Some("Trần"), Some("Lê"), Some("Lê")]),
            ),
            ("middle_name", text(&[Some("Văn"), Some("Thị"), None, None])),
            (
                "given_name",
                text(&[Some("An"), Some("Bình"), Some("Cường"), Some("Cường")]),
            ),
            (
                "birth_date",
                text(&[
                    Some("1990-04-12"),
                    Some("1985"),
                    Some("1970-01-01"),
                    Some("1970-13-01"),
                ]),
            ),
            (
                "sex",
                text(&[Some("male"), Some("female"), Some("male"), Some("male")]),
            ),
            (
                "birth_province",
                text(&[Some("02"), Some("01"), Some("01"), Some("01")]),
            ),
            (
                "deceased",
                text(&[Some("false"), None, Some("false"), Some("false")]),
            ),
        ]
    }

    #[test]
    fn text_columns_load_like_the_same_rows_in_csv() {
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("register.parquet");
        write(&parquet, text_columns(), Compression::SNAPPY);
        let csv = dir.path().join("register.csv");
        std::fs::write(
            &csv,
            "personal_id,superseded_ids,family_name,middle_name,given_name,birth_date,sex,birth_province,deceased\n\
             002090001234,002190001234,Nguyễn,Văn,An,1990-04-12,male,02,false\n\
             001185000001,,Trần,Thị,Bình,1985,female,01,\n\
             12345,,Lê,,Cường,1970-01-01,male,01,false\n\
             001070000002,,Lê,,Cường,1970-13-01,male,01,false\n",
        )
        .unwrap();

        let (from_parquet, parquet_report) =
            load_parquet(&parquet, &map(), ProvinceCodes::Pre2025).unwrap();
        let (from_csv, csv_report) =
            super::super::load_csv(&csv, &map(), ProvinceCodes::Pre2025).unwrap();
        assert_eq!(parquet_report.loaded, 2);
        assert_eq!(parquet_report.rejected, 2);
        assert_eq!(
            (parquet_report.loaded, parquet_report.rejected),
            (csv_report.loaded, csv_report.rejected)
        );
        // The same reasons; positions are row numbers here, line numbers there.
        let reasons = |r: &LoadReport| -> Vec<String> {
            r.problems
                .iter()
                .map(|p| p.split_once(": ").unwrap().1.to_string())
                .collect()
        };
        assert_eq!(reasons(&parquet_report), reasons(&csv_report));
        assert!(
            parquet_report.problems[0].starts_with("row 3: personal_id"),
            "{:?}",
            parquet_report.problems
        );
        assert!(parquet_report.problems[1].starts_with("row 4: birth_date"));
        for pin in ["002090001234", "002190001234", "001185000001"] {
            let pin = Pin::parse(pin).unwrap();
            let a = from_parquet.lookup_pin(pin).unwrap();
            let b = from_csv.lookup_pin(pin).unwrap();
            let (a, b) = (
                from_parquet.person(a.person).unwrap(),
                from_csv.person(b.person).unwrap(),
            );
            assert_eq!(
                (a.pin, a.birth_date, a.sex, a.birth_province, a.name().given),
                (b.pin, b.birth_date, b.sex, b.birth_province, b.name().given)
            );
        }
    }

    /// A snapshot in exporters' natural types: integer IDs that lost their leading zeros, a
    /// list of superseded numbers, dictionary-encoded names, a date, a small integer for sex, an
    /// integer province code, a boolean.
    #[test]
    fn typed_columns_load_as_their_text_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.parquet");
        let mut superseded = ListBuilder::new(StringBuilder::new());
        superseded.append_value([Some("002190001234")]);
        superseded.append_null();
        superseded.append_value(Vec::<Option<&str>>::new());
        let family: DictionaryArray<Int32Type> =
            vec!["Nguyễn", "Trần", "Nguyễn"].into_iter().collect();
        write(
            &path,
            vec![
                ("note", text(&[Some("x"), Some("y"), Some("z")])),
                (
                    "personal_id",
                    Arc::new(Int64Array::from(vec![
                        2_090_001_234,
                        1_185_000_001,
                        12_345_678_901_234,
                    ])),
                ),
                ("superseded_ids", Arc::new(superseded.finish())),
                ("family_name", Arc::new(family)),
                ("middle_name", text(&[Some("Văn"), Some("Thị"), None])),
                (
                    "given_name",
                    text(&[Some("An"), Some("Bình"), Some("Cường")]),
                ),
                // 1990-04-12, 1985-01-01, 1970-01-01 as days since 1970-01-01.
                (
                    "birth_date",
                    Arc::new(Date32Array::from(vec![7_406, 5_479, 0])),
                ),
                ("sex", Arc::new(UInt8Array::from(vec![1, 2, 1]))),
                ("birth_province", Arc::new(Int32Array::from(vec![2, 1, 1]))),
                (
                    "deceased",
                    Arc::new(BooleanArray::from(vec![Some(false), None, Some(true)])),
                ),
            ],
            Compression::ZSTD(ZstdLevel::default()),
        );

        check_parquet(&path).unwrap();
        let (index, report) = load_parquet(&path, &map(), ProvinceCodes::Pre2025).unwrap();
        assert_eq!(
            (report.loaded, report.rejected),
            (2, 1),
            "{:?}",
            report.problems
        );
        assert!(report.problems[0].starts_with("row 3: personal_id `12345678901234`"));

        let hit = index
            .lookup_pin(Pin::parse("002190001234").unwrap())
            .unwrap();
        assert!(hit.superseded);
        let person = index.person(hit.person).unwrap();
        assert_eq!(person.pin, Pin::parse("002090001234").unwrap());
        assert_eq!(person.name().family, "Nguyễn");
        assert_eq!(person.name().given, "An");
        assert_eq!(person.birth_date, PartialDate::new(1990, 4, 12).unwrap());
        assert_eq!(person.sex, Some(Sex::Male));
        assert_eq!(
            person.birth_province.map(|p| (p.system(), p.code())),
            Some((ProvinceCodeSystem::Pre2025, 2))
        );
        let second = index
            .lookup_pin(Pin::parse("001185000001").unwrap())
            .unwrap();
        let second = index.person(second.person).unwrap();
        assert_eq!(second.sex, Some(Sex::Female));
        assert_eq!(second.birth_date, PartialDate::new(1985, 1, 1).unwrap());
        assert!(!second.deceased);
    }

    #[test]
    fn a_birth_date_exported_as_a_timestamp_is_its_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.parquet");
        let mut columns = text_columns();
        columns.iter_mut().for_each(|(_, a)| *a = a.slice(0, 1));
        // 1990-04-12T00:00:00Z in milliseconds.
        columns[5].1 = Arc::new(TimestampMillisecondArray::from(vec![7_406 * 86_400_000]));
        write(&path, columns, Compression::UNCOMPRESSED);
        let (index, report) = load_parquet(&path, &map(), ProvinceCodes::Pre2025).unwrap();
        assert_eq!(report.loaded, 1, "{:?}", report.problems);
        let hit = index
            .lookup_pin(Pin::parse("002090001234").unwrap())
            .unwrap();
        assert_eq!(
            index.person(hit.person).unwrap().birth_date,
            PartialDate::new(1990, 4, 12).unwrap()
        );
    }

    #[test]
    fn missing_columns_and_unreadable_types_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.parquet");
        write(
            &path,
            vec![("personal_id", text(&[Some("002090001234")]))],
            Compression::SNAPPY,
        );
        let text = check_parquet(&path).unwrap_err().to_string();
        assert!(
            text.contains("superseded_ids") && text.contains("deceased"),
            "{text}"
        );

        let path = dir.path().join("float.parquet");
        let mut columns = text_columns();
        columns[0].1 = Arc::new(Float64Array::from(vec![2.090001234e9; 4]));
        write(&path, columns, Compression::SNAPPY);
        for err in [
            check_parquet(&path).unwrap_err(),
            load_parquet(&path, &map(), ProvinceCodes::Pre2025).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(
                text.contains("`personal_id`") && text.contains("Float64"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_file_that_is_not_parquet_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.parquet");
        std::fs::write(&path, "personal_id,superseded_ids\n").unwrap();
        let text = load_parquet(&path, &map(), ProvinceCodes::Pre2025)
            .unwrap_err()
            .to_string();
        assert!(text.contains("not a readable Parquet file"), "{text}");
        let missing = dir.path().join("absent.parquet");
        assert!(
            check_parquet(&missing)
                .unwrap_err()
                .to_string()
                .contains("cannot open")
        );
    }
}
