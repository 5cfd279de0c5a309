//! Reading a code-list directory: the manifest (`codelists.toml`) and the CSV files it names.
//!
//! A data file starts with `#` lines (provenance, kept verbatim), then a CSV header and rows.
//! Known columns: `code` and `display` (required), `display_en`, `parent_code`, `valid_from`,
//! `valid_to` (`YYYY-MM-DD`), `aliases` and `replaced_by` (`;`-separated), `verified`
//! (`true`/`false`). Every other column is an attribute. A crosswalk file has the columns
//! `from_code` and `to_code`, and any others as notes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{CodeEntry, CodeList, CodeListError, Crosswalk, ListInfo, MANIFEST_FILE, UnitLevel};
use crate::date::CivilDate;
use crate::location::{Document, FieldPath, TomlProblem};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default, rename = "list")]
    lists: Vec<ListManifest>,
    #[serde(default, rename = "crosswalk")]
    crosswalks: Vec<CrosswalkManifest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListManifest {
    code_system: String,
    name: String,
    file: String,
    version: String,
    source: String,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_to: Option<String>,
    #[serde(default = "yes")]
    verified: bool,
    #[serde(default = "yes")]
    complete: bool,
    #[serde(default)]
    unit_level: Option<UnitLevel>,
    #[serde(default)]
    parent_system: Option<String>,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CrosswalkManifest {
    name: String,
    file: String,
    from_system: String,
    to_system: String,
    effective: String,
    source: String,
    #[serde(default)]
    note: String,
}

fn yes() -> bool {
    true
}

type Loaded = (BTreeMap<String, CodeList>, Vec<Crosswalk>);

pub(super) fn load_dir(dir: &Path) -> Result<Loaded, CodeListError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = read(&manifest_path)?;
    let manifest_error = |problem: TomlProblem| CodeListError::Manifest {
        file: manifest_path.clone(),
        position: problem.position,
        path: problem.path,
        message: problem.message,
    };
    let (manifest, document) = Document::parse::<Manifest>(&text).map_err(manifest_error)?;
    let problem =
        |path: FieldPath, message: String| manifest_error(document.problem(path, message));

    let mut lists = BTreeMap::new();
    for (i, spec) in manifest.lists.iter().enumerate() {
        let at = FieldPath::root().key("list").index(i);
        if lists.contains_key(&spec.code_system) {
            return Err(problem(
                at.key("code_system"),
                format!("code system {:?} is listed twice", spec.code_system),
            ));
        }
        let date = |field: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| {
                    CivilDate::parse_iso(v).ok_or_else(|| {
                        problem(
                            at.key(field),
                            format!("{v:?} is not a date written YYYY-MM-DD"),
                        )
                    })
                })
                .transpose()
        };
        let valid_from = date("valid_from", &spec.valid_from)?;
        let valid_to = date("valid_to", &spec.valid_to)?;
        if let (Some(from), Some(to)) = (valid_from, valid_to)
            && to < from
        {
            return Err(problem(
                at.key("valid_to"),
                format!("valid_to {to} is before valid_from {from}"),
            ));
        }
        let file = dir.join(&spec.file);
        let table = read_table(&file, &read(&file)?)?;
        let info = ListInfo {
            code_system: spec.code_system.clone(),
            name: spec.name.clone(),
            version: spec.version.clone(),
            source: spec.source.clone(),
            valid_from,
            valid_to,
            verified: spec.verified,
            complete: spec.complete,
            unit_level: spec.unit_level,
            parent_system: spec.parent_system.clone(),
            note: spec.note.clone(),
            provenance: table.provenance.clone(),
            file: file.clone(),
        };
        let entries = entries_of(&info, &table)?;
        lists.insert(spec.code_system.clone(), CodeList::new(info, entries));
    }

    for (i, spec) in manifest.lists.iter().enumerate() {
        let Some(parent_system) = &spec.parent_system else {
            continue;
        };
        let Some(parent) = lists.get(parent_system) else {
            return Err(problem(
                FieldPath::root().key("list").index(i).key("parent_system"),
                format!("no code list {parent_system:?} is listed"),
            ));
        };
        let list = &lists[&spec.code_system];
        if let Some(orphan) = list
            .entries()
            .iter()
            .find(|e| !e.parent_code.is_empty() && parent.get(&e.parent_code).is_none())
        {
            return Err(CodeListError::Data {
                file: list.info().file.clone(),
                line: 0,
                message: format!(
                    "code {} has parent_code {}, which is not in {parent_system}",
                    orphan.code, orphan.parent_code
                ),
            });
        }
    }

    let mut crosswalks = Vec::new();
    for (i, spec) in manifest.crosswalks.iter().enumerate() {
        let at = FieldPath::root().key("crosswalk").index(i);
        let effective = CivilDate::parse_iso(&spec.effective).ok_or_else(|| {
            problem(
                at.key("effective"),
                format!("{:?} is not a date written YYYY-MM-DD", spec.effective),
            )
        })?;
        for (field, system) in [
            ("from_system", &spec.from_system),
            ("to_system", &spec.to_system),
        ] {
            if !lists.contains_key(system) {
                return Err(problem(
                    at.key(field),
                    format!("no code list {system:?} is listed"),
                ));
            }
        }
        let file = dir.join(&spec.file);
        let table = read_table(&file, &read(&file)?)?;
        let pairs = crosswalk_pairs(&table, &lists[&spec.from_system], &lists[&spec.to_system])?;
        crosswalks.push(Crosswalk {
            name: spec.name.clone(),
            from_system: spec.from_system.clone(),
            to_system: spec.to_system.clone(),
            effective,
            source: spec.source.clone(),
            note: spec.note.clone(),
            provenance: table.provenance.clone(),
            file,
            pairs,
        });
    }

    // A code's `replaced_by` is what the crosswalks say, unless its file says it itself.
    for crosswalk in &crosswalks {
        let Some(list) = lists.get_mut(&crosswalk.from_system) else {
            continue;
        };
        let mut entries = std::mem::take(&mut list.entries);
        for entry in &mut entries {
            for target in crosswalk.targets(&entry.code) {
                if !entry.replaced_by.contains(target) {
                    entry.replaced_by.push(target.clone());
                }
            }
        }
        *list = CodeList::new(list.info.clone(), entries);
    }
    Ok((lists, crosswalks))
}

fn read(path: &Path) -> Result<String, CodeListError> {
    std::fs::read_to_string(path).map_err(|source| CodeListError::Io {
        path: path.to_path_buf(),
        source: Arc::new(source),
    })
}

/// A data file split into its parts.
#[derive(Debug)]
pub(super) struct Table {
    pub(super) file: PathBuf,
    /// The `#` lines, without the `#` and one following space.
    pub(super) provenance: Vec<String>,
    pub(super) headers: Vec<String>,
    /// 1-based file line of each row, and its cells.
    pub(super) rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    fn required_column(&self, name: &str) -> Result<usize, CodeListError> {
        self.column(name).ok_or_else(|| CodeListError::Data {
            file: self.file.clone(),
            line: self.provenance.len() + 1,
            message: format!("the header has no column {name:?}"),
        })
    }

    fn error(&self, line: usize, message: String) -> CodeListError {
        CodeListError::Data {
            file: self.file.clone(),
            line,
            message,
        }
    }
}

pub(super) fn read_table(file: &Path, text: &str) -> Result<Table, CodeListError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut provenance = Vec::new();
    let mut rest = text;
    while let Some(line) = rest.strip_prefix('#') {
        let (line, after) = line.split_once('\n').unwrap_or((line, ""));
        let line = line.strip_suffix('\r').unwrap_or(line);
        provenance.push(line.strip_prefix(' ').unwrap_or(line).to_owned());
        rest = after;
    }
    let offset = provenance.len();
    let data_error = |line: usize, message: String| CodeListError::Data {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(rest.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| data_error(offset + 1, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if let Some(duplicate) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| headers[..*i].contains(h))
        .map(|(_, h)| h)
    {
        return Err(data_error(
            offset + 1,
            format!("column {duplicate:?} appears twice in the header"),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e
                .position()
                .map_or(0, |p| offset + usize::try_from(p.line()).unwrap_or(0));
            data_error(line, e.to_string())
        })?;
        let line = offset
            + record
                .position()
                .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
        rows.push((line, record.iter().map(|c| c.trim().to_owned()).collect()));
    }
    Ok(Table {
        file: file.to_path_buf(),
        provenance,
        headers,
        rows,
    })
}

const KNOWN_COLUMNS: &[&str] = &[
    "code",
    "display",
    "display_en",
    "parent_code",
    "valid_from",
    "valid_to",
    "aliases",
    "verified",
    "replaced_by",
];

fn entries_of(info: &ListInfo, table: &Table) -> Result<Vec<CodeEntry>, CodeListError> {
    let code = table.required_column("code")?;
    let display = table.required_column("display")?;
    let column = |name| table.column(name);
    let (display_en, parent, from, to, aliases, verified, replaced_by) = (
        column("display_en"),
        column("parent_code"),
        column("valid_from"),
        column("valid_to"),
        column("aliases"),
        column("verified"),
        column("replaced_by"),
    );
    let attributes: Vec<(usize, &String)> = table
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !KNOWN_COLUMNS.contains(&h.as_str()))
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut entries = Vec::with_capacity(table.rows.len());
    for (line, row) in &table.rows {
        let cell = |i: Option<usize>| i.map_or("", |i| row[i].as_str());
        let code_value = row[code].as_str();
        if code_value.is_empty() {
            return Err(table.error(*line, "the code is empty".into()));
        }
        if let Some(first) = seen.insert(code_value, *line) {
            return Err(table.error(
                *line,
                format!("code {code_value} appears twice (first on line {first})"),
            ));
        }
        if row[display].is_empty() {
            return Err(table.error(*line, format!("code {code_value} has no display name")));
        }
        let date = |i: Option<usize>, name: &str| -> Result<Option<CivilDate>, CodeListError> {
            match cell(i) {
                "" => Ok(None),
                text => CivilDate::parse_iso(text).map(Some).ok_or_else(|| {
                    table.error(
                        *line,
                        format!("{name} {text:?} is not a date written YYYY-MM-DD"),
                    )
                }),
            }
        };
        let valid_from = date(from, "valid_from")?.or(info.valid_from);
        let valid_to = date(to, "valid_to")?.or(info.valid_to);
        let verified = match cell(verified) {
            "" | "true" => true,
            "false" => false,
            other => {
                return Err(table.error(
                    *line,
                    format!("verified must be true or false, not {other:?}"),
                ));
            }
        };
        let list = |text: &str| -> Vec<String> {
            text.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        entries.push(CodeEntry {
            code: code_value.to_owned(),
            display: row[display].clone(),
            display_en: cell(display_en).to_owned(),
            parent_code: cell(parent).to_owned(),
            valid_from,
            valid_to,
            aliases: list(cell(aliases)),
            verified: verified && info.verified,
            replaced_by: list(cell(replaced_by)),
            attributes: attributes
                .iter()
                .filter(|(i, _)| !row[*i].is_empty())
                .map(|(i, name)| ((*name).clone(), row[*i].clone()))
                .collect(),
        });
    }
    Ok(entries)
}

fn crosswalk_pairs(
    table: &Table,
    from: &CodeList,
    to: &CodeList,
) -> Result<BTreeMap<String, Vec<String>>, CodeListError> {
    let from_column = table.required_column("from_code")?;
    let to_column = table.required_column("to_code")?;
    let mut pairs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (line, row) in &table.rows {
        let resolve = |list: &CodeList, code: &str| {
            list.canonical_code(code).map(str::to_owned).ok_or_else(|| {
                table.error(
                    *line,
                    format!("code {code:?} is not in {}", list.code_system()),
                )
            })
        };
        let old = resolve(from, &row[from_column])?;
        let new = resolve(to, &row[to_column])?;
        let targets = pairs.entry(old.clone()).or_default();
        if targets.contains(&new) {
            return Err(table.error(*line, format!("pair {old} → {new} appears twice")));
        }
        targets.push(new);
    }
    Ok(pairs)
}
