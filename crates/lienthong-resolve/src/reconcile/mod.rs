//! Batch reconciliation (đối soát): a whole list — an HR export, a table — resolved against the
//! register, with a report for officials.
//!
//! Any export works: a [`ColumnMapping`] says which column holds what, and the usual Vietnamese
//! and English header names are recognised without one. Names held in a legacy encoding (TCVN3,
//! VNI) are converted first. Without a model file, the model is estimated from the list itself
//! (EM needs no labels). Records are resolved on every core; the result keeps the input order.

pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::convert::decode_legacy;
use crate::index::PopulationIndex;
use crate::matcher::{MatchStatus, Matcher, QueryName, QueryRecord, Resolution};
use crate::record::{Pin, ProvinceMap};
use crate::values::{DateOrder, ProvinceCodes, parse_date, parse_province, parse_sex};

/// Which input column holds each field. Unset fields are looked up among the usual header
/// names ([`ColumnMapping::detect`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ColumnMapping {
    pub record_id: Option<String>,
    /// The whole name in one column ...
    pub full_name: Option<String>,
    /// ... or in parts.
    pub family_name: Option<String>,
    pub middle_name: Option<String>,
    pub given_name: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub personal_id: Option<String>,
    pub birth_province: Option<String>,
    pub organisation: Option<String>,
    /// Order of day, month and year in dates like `12/04/1990`.
    pub date_order: DateOrder,
    /// Which list the province codes come from.
    pub province_codes: ProvinceCodes,
}

/// Header names recognised for each field, compared after folding case and diacritics.
const KNOWN: &[(&str, &[&str])] = &[
    (
        "record_id",
        &[
            "ma_ho_so",
            "ma_hs",
            "record_id",
            "id",
            "ma",
            "ma_can_bo",
            "stt",
        ],
    ),
    (
        "full_name",
        &[
            "ho_va_ten",
            "ho_ten",
            "hoten",
            "full_name",
            "name",
            "ten_day_du",
        ],
    ),
    (
        "family_name",
        &["ho", "family_name", "last_name", "surname"],
    ),
    ("middle_name", &["ten_dem", "dem", "middle_name"]),
    ("given_name", &["ten", "given_name", "first_name"]),
    (
        "birth_date",
        &[
            "ngay_sinh",
            "ngaysinh",
            "birth_date",
            "date_of_birth",
            "dob",
        ],
    ),
    ("sex", &["gioi_tinh", "gioitinh", "sex", "gender"]),
    (
        "personal_id",
        &[
            "so_dinh_danh",
            "so_ddcn",
            "so_cccd",
            "cccd",
            "personal_id",
            "pin",
            "so_dinh_danh_ca_nhan",
        ],
    ),
    (
        "birth_province",
        &[
            "noi_sinh",
            "ma_tinh_noi_sinh",
            "tinh_noi_sinh",
            "birth_province",
        ],
    ),
    (
        "organisation",
        &[
            "co_quan",
            "ten_co_quan",
            "don_vi",
            "ten_don_vi",
            "organisation",
            "organization",
        ],
    ),
];

fn fold_header(h: &str) -> String {
    lienthong_vietnamese::text::fold(h.trim_start_matches('\u{feff}')).replace([' ', '-', '.'], "_")
}

/// Column positions resolved against a header row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub record_id: Option<usize>,
    pub full_name: Option<usize>,
    pub family_name: Option<usize>,
    pub middle_name: Option<usize>,
    pub given_name: Option<usize>,
    pub birth_date: Option<usize>,
    pub sex: Option<usize>,
    pub personal_id: Option<usize>,
    pub birth_province: Option<usize>,
    pub organisation: Option<usize>,
}

/// Why an input cannot be reconciled.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("column `{column}` (for {field}) is not in the input; its columns are: {available}")]
    NoSuchColumn {
        field: &'static str,
        column: String,
        available: String,
    },
    #[error(
        "the input has no name column: map full_name, or family_name and given_name (columns: {0})"
    )]
    NoName(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid CSV: {source}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("the input query failed: {0}")]
    Query(#[source] sqlx::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ColumnMapping {
    /// Positions of the fields in `headers`: each set field must name a column; unset ones are
    /// recognised by the usual names.
    pub fn detect(&self, headers: &[String]) -> Result<Columns, ReconcileError> {
        let folded: Vec<String> = headers.iter().map(|h| fold_header(h)).collect();
        let available = headers.join(", ");
        let explicit =
            |field: &'static str, set: &Option<String>| -> Result<Option<usize>, ReconcileError> {
                let Some(column) = set else { return Ok(None) };
                let wanted = fold_header(column);
                folded
                    .iter()
                    .position(|h| *h == wanted)
                    .map(Some)
                    .ok_or_else(|| ReconcileError::NoSuchColumn {
                        field,
                        column: column.clone(),
                        available: available.clone(),
                    })
            };
        let mut columns = Columns {
            record_id: explicit("record_id", &self.record_id)?,
            full_name: explicit("full_name", &self.full_name)?,
            family_name: explicit("family_name", &self.family_name)?,
            middle_name: explicit("middle_name", &self.middle_name)?,
            given_name: explicit("given_name", &self.given_name)?,
            birth_date: explicit("birth_date", &self.birth_date)?,
            sex: explicit("sex", &self.sex)?,
            personal_id: explicit("personal_id", &self.personal_id)?,
            birth_province: explicit("birth_province", &self.birth_province)?,
            organisation: explicit("organisation", &self.organisation)?,
        };
        // Unmapped fields by their usual names, never taking a column already mapped, and the
        // name either whole or in parts: a mapped whole name leaves the parts alone and the
        // other way round (`ten` is "given name" in one export and the whole name in another).
        let name_mapped = [
            &self.full_name,
            &self.family_name,
            &self.middle_name,
            &self.given_name,
        ]
        .iter()
        .any(|m| m.is_some());
        let fields: [(&'static str, bool); 10] = [
            ("record_id", true),
            ("full_name", !name_mapped),
            ("family_name", !name_mapped),
            ("middle_name", !name_mapped),
            ("given_name", !name_mapped),
            ("birth_date", true),
            ("sex", true),
            ("personal_id", true),
            ("birth_province", true),
            ("organisation", true),
        ];
        for (field, may_detect) in fields {
            let slot = match field {
                "record_id" => &mut columns.record_id,
                "full_name" => &mut columns.full_name,
                "family_name" => &mut columns.family_name,
                "middle_name" => &mut columns.middle_name,
                "given_name" => &mut columns.given_name,
                "birth_date" => &mut columns.birth_date,
                "sex" => &mut columns.sex,
                "personal_id" => &mut columns.personal_id,
                "birth_province" => &mut columns.birth_province,
                _ => &mut columns.organisation,
            };
            if slot.is_some() || !may_detect {
                continue;
            }
            let names = KNOWN
                .iter()
                .find(|(f, _)| *f == field)
                .map_or(&[][..], |(_, n)| *n);
            *slot = names
                .iter()
                .find_map(|n| folded.iter().position(|h| h == n));
        }
        let mut taken = std::collections::HashSet::new();
        for slot in [
            &mut columns.record_id,
            &mut columns.full_name,
            &mut columns.family_name,
            &mut columns.middle_name,
            &mut columns.given_name,
            &mut columns.birth_date,
            &mut columns.sex,
            &mut columns.personal_id,
            &mut columns.birth_province,
            &mut columns.organisation,
        ] {
            if let Some(c) = *slot
                && !taken.insert(c)
            {
                *slot = None;
            }
        }
        // A whole name found by its header wins over parts found the same way.
        if !name_mapped && columns.full_name.is_some() {
            columns.family_name = None;
            columns.middle_name = None;
            columns.given_name = None;
        }
        if columns.full_name.is_none()
            && (columns.family_name.is_none() || columns.given_name.is_none())
        {
            return Err(ReconcileError::NoName(available));
        }
        Ok(columns)
    }
}

/// One input row as text, in the order of its header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Where each row came from ("line 12", "row 12").
    pub positions: Vec<String>,
}

/// Reads a CSV export (UTF-8 with or without BOM; `,` or `;` separated, decided from the header).
pub fn read_csv(path: &Path) -> Result<InputTable, ReconcileError> {
    let bytes = std::fs::read(path).map_err(|source| ReconcileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| first.iter().filter(|b| **b == c).count();
    let delimiter = if count(b';') > count(b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text);
    let csv_error = |source| ReconcileError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut table = InputTable {
        headers,
        ..InputTable::default()
    };
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, csv::Position::line);
        table.rows.push(record.iter().map(str::to_owned).collect());
        table.positions.push(format!("line {line}"));
    }
    Ok(table)
}

/// Reads the result of a PostgreSQL query (every column cast to text).
pub async fn read_postgres(url: &str, query: &str) -> Result<InputTable, ReconcileError> {
    use futures::TryStreamExt as _;
    use sqlx::{Column as _, Connection as _, Row as _};
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .map_err(ReconcileError::Query)?;
    // Column names first, from the query's description, so every column can be cast.
    let probe = format!(
        "SELECT * FROM ({}) AS input LIMIT 0",
        query.trim().trim_end_matches(';')
    );
    let description = sqlx::Executor::describe(&mut conn, probe.as_str())
        .await
        .map_err(ReconcileError::Query)?;
    let headers: Vec<String> = description
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let casts: Vec<String> = headers
        .iter()
        .map(|h| format!("(input.\"{}\")::text", h.replace('"', "\"\"")))
        .collect();
    let sql = format!(
        "SELECT {} FROM ({}) AS input",
        casts.join(", "),
        query.trim().trim_end_matches(';')
    );
    let mut table = InputTable {
        headers,
        ..InputTable::default()
    };
    let mut rows = sqlx::query(&sql).fetch(&mut conn);
    while let Some(row) = rows.try_next().await.map_err(ReconcileError::Query)? {
        let values = (0..row.len())
            .map(|i| {
                row.try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            })
            .collect();
        table.rows.push(values);
        table.positions.push(format!("row {}", table.rows.len()));
    }
    Ok(table)
}

/// One input row made ready to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRecord {
    pub record_id: String,
    pub organisation: String,
    pub position: String,
    pub query: QueryRecord,
    /// Problems reading the row's values (a date that is not a date, ...): such values count as
    /// missing.
    pub value_problems: Vec<String>,
    /// The name was stored in a legacy encoding and was converted.
    pub legacy_name: bool,
}

/// Turns the table's rows into records to resolve.
pub fn prepare(
    table: &InputTable,
    columns: &Columns,
    mapping: &ColumnMapping,
    provinces: &ProvinceMap,
) -> Vec<InputRecord> {
    table
        .rows
        .iter()
        .zip(&table.positions)
        .enumerate()
        .map(|(i, (row, position))| {
            let get = |c: Option<usize>| c.and_then(|c| row.get(c)).map_or("", |v| v.trim());
            let mut problems = Vec::new();
            let mut legacy = false;
            let mut text = |c: Option<usize>| {
                let raw = get(c);
                let decoded = decode_legacy(raw);
                legacy |= decoded != raw;
                decoded
            };
            let name = QueryName {
                full: text(columns.full_name),
                family: text(columns.family_name),
                middle: text(columns.middle_name),
                given: text(columns.given_name),
            };
            let birth_date = parse_date(get(columns.birth_date), mapping.date_order)
                .unwrap_or_else(|e| {
                    problems.push(format!("birth_date {e}"));
                    Default::default()
                });
            let sex = parse_sex(get(columns.sex)).unwrap_or_else(|e| {
                problems.push(format!("sex {e}"));
                None
            });
            let birth_province = parse_province(
                get(columns.birth_province),
                mapping.province_codes,
                provinces,
            )
            .unwrap_or_else(|e| {
                problems.push(format!("birth_province {e}"));
                None
            });
            let record_id = match get(columns.record_id) {
                "" => format!("#{}", i + 1),
                id => id.to_owned(),
            };
            InputRecord {
                record_id,
                organisation: get(columns.organisation).to_owned(),
                position: position.clone(),
                query: QueryRecord {
                    personal_id: get(columns.personal_id).to_owned(),
                    name,
                    birth_date,
                    sex,
                    birth_province,
                },
                value_problems: problems,
                legacy_name: legacy,
            }
        })
        .collect()
}

/// One reconciled row.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub input: InputRecord,
    pub resolution: Resolution,
    /// Other rows of the list resolved to the same person (their record ids).
    pub same_person_as: Vec<String>,
}

/// Resolves every record on `threads` threads, calling `progress(done)` as they finish.
pub fn resolve_all(
    index: &PopulationIndex,
    matcher: &Matcher,
    records: Vec<InputRecord>,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Reconciled> {
    let done = AtomicUsize::new(0);
    let chunk = records.len().div_ceil(threads.max(1) * 16).max(256);
    let chunks: Vec<&[InputRecord]> = records.chunks(chunk).collect();
    let next = AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Vec<Resolution>>> = (0..chunks.len())
        .map(|_| std::sync::Mutex::new(Vec::new()))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(part) = chunks.get(i) else { break };
                    let resolved: Vec<Resolution> = part
                        .iter()
                        .map(|r| matcher.resolve(index, &r.query))
                        .collect();
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = resolved;
                    let finished = done.fetch_add(part.len(), Ordering::Relaxed) + part.len();
                    progress(finished);
                }
            });
        }
    });
    let resolutions = slots
        .into_iter()
        .flat_map(|slot| slot.into_inner().unwrap_or_else(|p| p.into_inner()));
    let mut out: Vec<Reconciled> = records
        .into_iter()
        .zip(resolutions)
        .map(|(input, resolution)| Reconciled {
            input,
            resolution,
            same_person_as: Vec::new(),
        })
        .collect();
    mark_same_person(&mut out);
    out
}

/// Rows that resolved to the same person: a duplicate in the list, or two people sharing one
/// identity — either way a steward must look.
fn mark_same_person(rows: &mut [Reconciled]) {
    let mut by_person: HashMap<Pin, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        if matches!(
            row.resolution.status,
            MatchStatus::Matched | MatchStatus::MatchedWithDiscrepancies
        ) && let Some(pin) = row.resolution.personal_id
        {
            by_person.entry(pin).or_default().push(i);
        }
    }
    for group in by_person.values().filter(|g| g.len() > 1) {
        let ids: Vec<String> = group
            .iter()
            .map(|&i| rows[i].input.record_id.clone())
            .collect();
        for &i in group {
            rows[i].same_person_as = ids
                .iter()
                .filter(|id| **id != rows[i].input.record_id)
                .cloned()
                .collect();
        }
    }
}

/// Counts for the summary and charts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub records: usize,
    pub by_status: BTreeMap<String, usize>,
    /// Organisation → status → count.
    pub by_organisation: BTreeMap<String, BTreeMap<String, usize>>,
    /// Province (of the register person when matched, else as stated) → status → count.
    pub by_province: BTreeMap<String, BTreeMap<String, usize>>,
    /// Field → number of matched records whose value differs from the register.
    pub discrepancies_by_field: BTreeMap<String, usize>,
    pub superseded_ids: usize,
    pub legacy_names: usize,
    pub same_person_rows: usize,
    pub deceased: usize,
}

pub fn summarise(rows: &[Reconciled]) -> Summary {
    let mut s = Summary {
        records: rows.len(),
        ..Summary::default()
    };
    for row in rows {
        let status = crate::service::status_label(row.resolution.status).to_string();
        *s.by_status.entry(status.clone()).or_default() += 1;
        let organisation = if row.input.organisation.is_empty() {
            "—".to_string()
        } else {
            row.input.organisation.clone()
        };
        *s.by_organisation
            .entry(organisation)
            .or_default()
            .entry(status.clone())
            .or_default() += 1;
        let province = row
            .resolution
            .comparisons
            .iter()
            .find(|c| c.field == crate::levels::Field::BirthProvince)
            .map(|c| {
                if c.register_value.is_empty() {
                    c.record_value.clone()
                } else {
                    c.register_value.clone()
                }
            })
            .filter(|p| !p.is_empty())
            .or_else(|| row.input.query.birth_province.map(|p| p.to_string()))
            .unwrap_or_else(|| "—".to_string());
        *s.by_province
            .entry(province)
            .or_default()
            .entry(status)
            .or_default() += 1;
        for d in &row.resolution.discrepancies {
            *s.discrepancies_by_field
                .entry(d.field.name().to_string())
                .or_default() += 1;
        }
        s.superseded_ids += usize::from(row.resolution.stated_id_superseded);
        s.legacy_names += usize::from(row.input.legacy_name);
        s.same_person_rows += usize::from(!row.same_person_as.is_empty());
        s.deceased += usize::from(row.resolution.deceased);
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn usual_vietnamese_headers_are_recognised() {
        let columns = ColumnMapping::default()
            .detect(&headers(&[
                "\u{feff}Mã hồ sơ",
                "Họ và tên",
                "Ngày sinh",
                "Giới tính",
                "Số định danh",
                "Nơi sinh",
                "Cơ quan",
            ]))
            .unwrap();
        assert_eq!(columns.record_id, Some(0));
        assert_eq!(columns.full_name, Some(1));
        assert_eq!(columns.birth_date, Some(2));
        assert_eq!(columns.sex, Some(3));
        assert_eq!(columns.personal_id, Some(4));
        assert_eq!(columns.birth_province, Some(5));
        assert_eq!(columns.organisation, Some(6));
    }

    #[test]
    fn a_mapped_whole_name_is_not_also_read_as_a_part() {
        let mapping = ColumnMapping {
            full_name: Some("ten".into()),
            record_id: Some("ma".into()),
            ..ColumnMapping::default()
        };
        let columns = mapping
            .detect(&headers(&["ma", "ten", "ho", "ngay_sinh"]))
            .unwrap();
        assert_eq!(columns.full_name, Some(1));
        assert_eq!(columns.given_name, None);
        assert_eq!(columns.family_name, None);
        assert_eq!(columns.birth_date, Some(3));
        // Parts by their headers when there is no whole name.
        let columns = ColumnMapping::default()
            .detect(&headers(&["ho", "ten_dem", "ten", "id"]))
            .unwrap();
        assert_eq!(
            (columns.family_name, columns.middle_name, columns.given_name),
            (Some(0), Some(1), Some(2))
        );
        assert_eq!(columns.record_id, Some(3));
    }

    #[test]
    fn a_mapping_names_columns_and_a_wrong_name_is_reported_with_the_columns() {
        let mapping = ColumnMapping {
            full_name: Some("TEN NV".into()),
            birth_date: Some("dob2".into()),
            ..ColumnMapping::default()
        };
        let err = mapping
            .detect(&headers(&["TEN NV", "DOB"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("dob2") && err.contains("TEN NV, DOB"), "{err}");
        assert!(matches!(
            ColumnMapping::default().detect(&headers(&["a", "b"])),
            Err(ReconcileError::NoName(_))
        ));
    }

    #[test]
    fn rows_become_records_with_legacy_names_converted_and_bad_values_noted() {
        let table = InputTable {
            headers: headers(&[
                "ma_ho_so",
                "ho_va_ten",
                "ngay_sinh",
                "gioi_tinh",
                "noi_sinh",
            ]),
            rows: vec![
                vec![
                    "A1".into(),
                    "NguyÔn V¨n §øc".into(),
                    "12/04/1990".into(),
                    "Nam".into(),
                    "02".into(),
                ],
                vec![
                    "".into(),
                    "Lê An".into(),
                    "1990-14-01".into(),
                    "?".into(),
                    "".into(),
                ],
            ],
            positions: vec!["line 2".into(), "line 3".into()],
        };
        let mapping = ColumnMapping::default();
        let columns = mapping.detect(&table.headers).unwrap();
        let map = ProvinceMap::from_pairs([(2, 8), (8, 8)]).unwrap();
        let records = prepare(&table, &columns, &mapping, &map);
        assert_eq!(records[0].query.name.full, "Nguyễn Văn Đức");
        assert!(records[0].legacy_name);
        assert!(records[0].query.birth_date.is_full());
        assert!(records[0].value_problems.is_empty());
        assert_eq!(records[1].record_id, "#2");
        assert_eq!(
            records[1].value_problems.len(),
            2,
            "{:?}",
            records[1].value_problems
        );
    }

    #[test]
    fn semicolon_exports_with_a_bom_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(
            &path,
            "\u{feff}ho_ten;ngay_sinh\nLê An;1990\nTrần Bình;1991\n",
        )
        .unwrap();
        let table = read_csv(&path).unwrap();
        assert_eq!(table.headers, ["ho_ten", "ngay_sinh"]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1][0], "Trần Bình");
        assert_eq!(table.positions[1], "line 3");
    }
}
