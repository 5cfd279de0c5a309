//! Builds the code-list directory (`schemas/codelists/`) from the project's reference tables
//! (`refdata/*.csv`, each with its sources in `#` header lines).
//!
//! The generator is deterministic: the same tables give byte-identical files, so the committed
//! lists can be checked against a fresh run. It refuses tables that contradict each other (a
//! province in the merger map but not in the province list, a district with two names...), and it
//! keeps every reference table's header lines at the top of the file made from it.
//!
//! Verification is carried over and, where the reference table's own columns show a conflict,
//! computed: in the 1979 ethnic list a code counts as verified when the official text was seen
//! or both independent transcriptions agree on the name, and is marked unverified otherwise
//! (the table's note says the transcriptions agree on 01–51, but they name 20 and 21 the other
//! way round).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lienthong_vietnamese::text::fold;

use super::load::{Table, read_table};
use super::{CodeListError, name_keys, strip_unit_type};

/// The reference tables read, by role.
const PROVINCES_63: &str = "vn_province_codes_63_pre_2025.csv";
const PROVINCES_34: &str = "vn_province_codes_34_from_2025-07-01.csv";
const PROVINCES_CURRENT: &str = "vn_provinces_current.csv";
const MERGER_MAP: &str = "vn_province_merger_map_63_to_34.csv";
const COMMUNES_PRE_2025: &str = "vn_communes_pre_2025.csv";
const COMMUNES_CURRENT: &str = "vn_communes_current.csv";
const ETHNIC_1979: &str = "vn_ethnic_codes_QD121-TCTK-PPCD_1979.csv";
const ETHNIC_2008: &str = "vn_ethnic_codes_QD1019-TCTK_2008_partial.csv";
const RELIGION: &str = "vn_religion_codes_UNVERIFIED.csv";

/// The reference tables contradict each other or lack something the lists need.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Table(#[from] CodeListError),
    #[error("{}: {message}", file.display())]
    Check { file: PathBuf, message: String },
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

/// Reads the reference tables in `refdata_dir` and returns the files of a code-list directory,
/// by file name (the manifest [`super::MANIFEST_FILE`] and one CSV per list or crosswalk).
pub fn generate(refdata_dir: &Path) -> Result<BTreeMap<String, String>, GenerateError> {
    let table = |name: &str| -> Result<Table, GenerateError> {
        let path = refdata_dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| GenerateError::Check {
            file: path.clone(),
            message: e.to_string(),
        })?;
        Ok(read_table(&path, &text)?)
    };
    let mut files = BTreeMap::new();
    files.insert("codelists.toml".to_owned(), MANIFEST.to_owned());

    let provinces_63 = table(PROVINCES_63)?;
    files.insert(
        "vn.province.pre2025.csv".into(),
        provinces_pre_2025(&provinces_63)?,
    );
    let provinces_34 = table(PROVINCES_34)?;
    let current = table(PROVINCES_CURRENT)?;
    let merger = table(MERGER_MAP)?;
    files.insert(
        "vn.province.2025.csv".into(),
        provinces_2025(&provinces_34, &current)?,
    );
    files.insert(
        "vn.province.merger-2025.csv".into(),
        merger_crosswalk(&merger, &provinces_63, &provinces_34)?,
    );
    let communes_pre = table(COMMUNES_PRE_2025)?;
    files.insert(
        "vn.district.pre2025.csv".into(),
        districts_pre_2025(&communes_pre)?,
    );
    files.insert(
        "vn.commune.pre2025.csv".into(),
        communes_pre_2025(&communes_pre)?,
    );
    files.insert(
        "vn.commune.2025.csv".into(),
        communes_2025(&table(COMMUNES_CURRENT)?)?,
    );
    files.insert(
        "vn.ethnic.qd121-1979.csv".into(),
        ethnic_1979(&table(ETHNIC_1979)?)?,
    );
    files.insert(
        "vn.ethnic.qd1019-2008.csv".into(),
        ethnic_2008(&table(ETHNIC_2008)?)?,
    );
    files.insert("vn.religion.csv".into(), religion(&table(RELIGION)?)?);
    files.insert("lienthong.sex.csv".into(), sex()?);
    Ok(files)
}

/// Reads the cells of a reference table by column name.
struct Columns<'t> {
    table: &'t Table,
}

impl<'t> Columns<'t> {
    fn new(table: &'t Table) -> Self {
        Columns { table }
    }

    fn index(&self, name: &str) -> Result<usize, GenerateError> {
        self.table
            .headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| self.error(format!("no column {name:?}")))
    }

    /// Every row as a map from the named columns to their cells.
    fn rows(&self, names: &[&str]) -> Result<Vec<BTreeMap<String, String>>, GenerateError> {
        let indexes = names
            .iter()
            .map(|n| self.index(n).map(|i| ((*n).to_owned(), i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self
            .table
            .rows
            .iter()
            .map(|(_, row)| {
                indexes
                    .iter()
                    .map(|(name, i)| (name.clone(), row[*i].clone()))
                    .collect()
            })
            .collect())
    }

    fn error(&self, message: String) -> GenerateError {
        GenerateError::Check {
            file: self.table.file.clone(),
            message,
        }
    }
}

/// A CSV file with its header lines: what it is, how it was made, and the reference table's own
/// header lines.
fn write_file(
    code_system: &str,
    from: &[&Table],
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<String, GenerateError> {
    let mut out = String::new();
    let names: Vec<String> = from
        .iter()
        .filter_map(|t| t.file.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    out.push_str(&format!(
        "# {code_system}: generated from the reference table{} {} by \
         `cargo run -p lienthong-translate --example generate_codelists -- <refdata dir> <this dir>`.\n",
        if names.len() > 1 { "s" } else { "" },
        names.join(" and "),
    ));
    out.push_str(
        "# Read at start-up: an edit takes effect at the next start and is lost when the lists are regenerated.\n",
    );
    for table in from {
        for line in &table.provenance {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(headers)?;
    for row in rows {
        writer.write_record(row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| GenerateError::Csv(csv::Error::from(e.into_error())))?;
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(out)
}

/// Names other than `display` that name the same thing differently (not just in case or tone
/// placement), for look-ups by name.
fn aliases(display: &str, candidates: &[&str]) -> String {
    let mut seen: Vec<(String, String)> = vec![name_keys(&strip_unit_type(display))];
    let mut out = Vec::new();
    for candidate in candidates {
        let candidate = candidate.trim();
        if candidate.is_empty() {
            continue;
        }
        let keys = name_keys(&strip_unit_type(candidate));
        if !seen.contains(&keys) {
            seen.push(keys);
            out.push(candidate.to_owned());
        }
    }
    out.join(";")
}

fn provinces_pre_2025(table: &Table) -> Result<String, GenerateError> {
    let columns = Columns::new(table);
    let rows = columns.rows(&[
        "cccd_code",
        "gso_code",
        "cccd_name",
        "gso_full_name",
        "gso_full_name_en",
        "unit_type",
        "commune_count_pre_merger",
    ])?;
    if rows.len() != 63 {
        return Err(columns.error(format!("{} provinces, expected 63", rows.len())));
    }
    let mut out = Vec::new();
    for r in &rows {
        if r["cccd_code"] != format!("0{}", r["gso_code"]) {
            return Err(columns.error(format!(
                "ID-number prefix {} does not match statistics code {}",
                r["cccd_code"], r["gso_code"]
            )));
        }
        out.push(vec![
            r["gso_code"].clone(),
            r["gso_full_name"].clone(),
            r["gso_full_name_en"].clone(),
            aliases(&r["gso_full_name"], &[&r["cccd_name"]]),
            r["unit_type"].clone(),
            r["cccd_code"].clone(),
            r["commune_count_pre_merger"].clone(),
        ]);
    }
    write_file(
        super::PROVINCE_PRE_2025,
        &[table],
        &[
            "code",
            "display",
            "display_en",
            "aliases",
            "unit_type",
            "pin_prefix",
            "commune_count",
        ],
        &out,
    )
}

fn provinces_2025(table: &Table, current: &Table) -> Result<String, GenerateError> {
    let columns = Columns::new(table);
    let rows = columns.rows(&[
        "gso_code",
        "cccd_prefix_if_born_here",
        "full_name_2025_07",
        "unit_type_2025_07",
        "full_name_current",
        "unit_type_current",
        "commune_count_2025_07",
        "commune_count_current",
        "merged_from_old_codes",
    ])?;
    if rows.len() != 34 {
        return Err(columns.error(format!("{} provinces, expected 34", rows.len())));
    }
    let current_columns = Columns::new(current);
    let current_rows = current_columns.rows(&["code", "name", "full_name", "unit_type"])?;
    let current_by_code: BTreeMap<&str, &BTreeMap<String, String>> = current_rows
        .iter()
        .map(|r| (r["code"].as_str(), r))
        .collect();
    if current_by_code.len() != rows.len() {
        return Err(current_columns.error(format!(
            "{} current provinces, but {} in {PROVINCES_34}",
            current_by_code.len(),
            rows.len()
        )));
    }
    let mut out = Vec::new();
    for r in &rows {
        let Some(now) = current_by_code.get(r["gso_code"].as_str()) else {
            return Err(current_columns.error(format!("no province {}", r["gso_code"])));
        };
        if now["full_name"] != r["full_name_current"] || now["unit_type"] != r["unit_type_current"]
        {
            return Err(current_columns.error(format!(
                "province {} is {:?} ({}) here but {:?} ({}) in {PROVINCES_34}",
                r["gso_code"],
                now["full_name"],
                now["unit_type"],
                r["full_name_current"],
                r["unit_type_current"]
            )));
        }
        out.push(vec![
            r["gso_code"].clone(),
            r["full_name_current"].clone(),
            aliases(
                &r["full_name_current"],
                &[&r["full_name_2025_07"], &now["name"]],
            ),
            r["unit_type_current"].clone(),
            r["full_name_2025_07"].clone(),
            r["unit_type_2025_07"].clone(),
            r["cccd_prefix_if_born_here"].clone(),
            r["commune_count_2025_07"].clone(),
            r["commune_count_current"].clone(),
            r["merged_from_old_codes"].clone(),
        ]);
    }
    write_file(
        super::PROVINCE_2025,
        &[table, current],
        &[
            "code",
            "display",
            "aliases",
            "unit_type",
            "full_name_2025_07",
            "unit_type_2025_07",
            "pin_prefix",
            "commune_count_2025_07",
            "commune_count_current",
            "merged_from",
        ],
        &out,
    )
}

fn merger_crosswalk(table: &Table, old: &Table, new: &Table) -> Result<String, GenerateError> {
    let columns = Columns::new(table);
    let rows = columns.rows(&[
        "old_cccd_code",
        "old_gso_code",
        "old_full_name",
        "new_gso_code",
        "new_full_name_2025_07",
        "new_communes_whose_code_came_from_this_old_province",
    ])?;
    let old_codes: BTreeSet<String> = Columns::new(old)
        .rows(&["gso_code"])?
        .into_iter()
        .map(|r| r["gso_code"].clone())
        .collect();
    let new_rows = Columns::new(new).rows(&["gso_code", "merged_from_old_codes"])?;
    let mut merged_from: BTreeMap<String, String> = BTreeMap::new();
    for r in &new_rows {
        for code in r["merged_from_old_codes"].split(';') {
            merged_from.insert(code.trim().to_owned(), r["gso_code"].clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in &rows {
        let (from, to) = (&r["old_gso_code"], &r["new_gso_code"]);
        if !seen.insert(from.clone()) {
            return Err(columns.error(format!("old province {from} is mapped twice")));
        }
        if !old_codes.contains(from) {
            return Err(columns.error(format!("old province {from} is not in {PROVINCES_63}")));
        }
        if merged_from.get(from) != Some(to) {
            return Err(columns.error(format!(
                "old province {from} → {to} here, but {PROVINCES_34} merges it into {:?}",
                merged_from.get(from)
            )));
        }
        out.push(vec![
            from.clone(),
            to.clone(),
            r["old_full_name"].clone(),
            r["new_full_name_2025_07"].clone(),
            r["new_communes_whose_code_came_from_this_old_province"].clone(),
        ]);
    }
    if seen != old_codes {
        let missing: Vec<_> = old_codes.difference(&seen).cloned().collect();
        return Err(columns.error(format!("old provinces without a new one: {missing:?}")));
    }
    write_file(
        "vn.province.merger-2025",
        &[table],
        &[
            "from_code",
            "to_code",
            "from_name",
            "to_name",
            "new_communes_from_this_province",
        ],
        &out,
    )
}

fn districts_pre_2025(communes: &Table) -> Result<String, GenerateError> {
    let columns = Columns::new(communes);
    let rows = columns.rows(&["district_code", "district_full_name", "province_code"])?;
    let mut districts: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in &rows {
        let value = (r["district_full_name"].clone(), r["province_code"].clone());
        match districts.get(&r["district_code"]) {
            Some(existing) if *existing != value => {
                return Err(columns.error(format!(
                    "district {} is {existing:?} and {value:?}",
                    r["district_code"]
                )));
            }
            Some(_) => {}
            None => {
                districts.insert(r["district_code"].clone(), value);
            }
        }
    }
    let out: Vec<Vec<String>> = districts
        .into_iter()
        .map(|(code, (name, province))| vec![code, name, province])
        .collect();
    write_file(
        super::DISTRICT_PRE_2025,
        &[communes],
        &["code", "display", "parent_code"],
        &out,
    )
}

fn communes_pre_2025(communes: &Table) -> Result<String, GenerateError> {
    let rows = Columns::new(communes).rows(&[
        "code",
        "name",
        "full_name",
        "district_code",
        "province_code",
        "unit_type",
    ])?;
    let out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r["code"].clone(),
                r["full_name"].clone(),
                r["district_code"].clone(),
                r["name"].clone(),
                r["province_code"].clone(),
                r["unit_type"].clone(),
            ]
        })
        .collect();
    write_file(
        super::COMMUNE_PRE_2025,
        &[communes],
        &[
            "code",
            "display",
            "parent_code",
            "name",
            "province_code",
            "unit_type",
        ],
        &out,
    )
}

fn communes_2025(communes: &Table) -> Result<String, GenerateError> {
    let rows = Columns::new(communes).rows(&[
        "code",
        "name",
        "full_name",
        "province_code",
        "unit_type",
    ])?;
    let out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r["code"].clone(),
                r["full_name"].clone(),
                r["province_code"].clone(),
                r["name"].clone(),
                r["unit_type"].clone(),
            ]
        })
        .collect();
    write_file(
        super::COMMUNE_2025,
        &[communes],
        &["code", "display", "parent_code", "name", "unit_type"],
        &out,
    )
}

/// Letters only, without diacritics: `Ê-đê`, `Ê Đê` and `Ede` compare equal.
fn letters_key(name: &str) -> String {
    fold(name)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// Removes a trailing note about where a transcription was seen: `Gia Rai (oxyz.wordpress.com
/// copy)` → `Gia Rai`.
fn without_copy_note(name: &str) -> &str {
    match name.rfind(" (") {
        Some(i) if name.ends_with(" copy)") => &name[..i],
        _ => name,
    }
}

fn ethnic_1979(table: &Table) -> Result<String, GenerateError> {
    let rows = Columns::new(table).rows(&[
        "code",
        "name_source_A",
        "name_source_B",
        "official_text_seen",
        "verification",
    ])?;
    let mut out = Vec::new();
    for r in &rows {
        let (a, b) = (r["name_source_A"].as_str(), r["name_source_B"].as_str());
        let official = without_copy_note(&r["official_text_seen"]);
        let sources_agree = letters_key(a) == letters_key(b);
        let verified = !official.is_empty() || sources_agree;
        let display = if official.is_empty() { a } else { official };
        // The other transcription's name is an alias only when it names the same group.
        let alias_candidates: Vec<&str> = if verified { vec![a, b] } else { vec![a] };
        out.push(vec![
            r["code"].clone(),
            display.to_owned(),
            aliases(display, &alias_candidates),
            verified.to_string(),
            a.to_owned(),
            b.to_owned(),
            r["verification"].clone(),
            if verified {
                String::new()
            } else {
                format!("transcriptions disagree: A (with C) {a:?}, B {b:?}; A is shown")
            },
        ]);
    }
    write_file(
        super::ETHNIC_1979,
        &[table],
        &[
            "code",
            "display",
            "aliases",
            "verified",
            "name_source_a",
            "name_source_b",
            "verification",
            "conflict",
        ],
        &out,
    )
}

fn ethnic_2008(table: &Table) -> Result<String, GenerateError> {
    let rows = Columns::new(table).rows(&["code", "name", "source"])?;
    let out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r["code"].clone(),
                r["name"].clone(),
                // Names 14-20 were restored by hand from text without diacritics.
                (r["source"] == "qcvn109").to_string(),
                r["source"].clone(),
            ]
        })
        .collect();
    write_file(
        super::ETHNIC_2008,
        &[table],
        &["code", "display", "verified", "source"],
        &out,
    )
}

fn religion(table: &Table) -> Result<String, GenerateError> {
    let rows = Columns::new(table).rows(&["code", "name"])?;
    let out: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![r["code"].clone(), r["name"].clone()])
        .collect();
    write_file(super::RELIGION, &[table], &["code", "display"], &out)
}

fn sex() -> Result<String, GenerateError> {
    let mut out = String::from(
        "# lienthong.sex: the canonical sex values, numbered as the lienthong.v1.Sex enum (1 male, 2 female).\n\
         # Written by the generator (no reference table): source codings (1/0, Nam/Nữ, M/F) are mapped to these in each mapping file.\n",
    );
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer.write_record(["code", "display", "display_en", "aliases"])?;
    writer.write_record(["1", "Nam", "male", "male;M"])?;
    writer.write_record(["2", "Nữ", "female", "female;F"])?;
    let bytes = writer
        .into_inner()
        .map_err(|e| GenerateError::Csv(csv::Error::from(e.into_error())))?;
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(out)
}

/// The manifest. Metadata that is not in the reference tables (names, validity, verification)
/// is stated here, once.
const MANIFEST: &str = r#"# Code lists the translator loads at start-up (see README.md in this directory).
# Generated by `cargo run -p lienthong-translate --example generate_codelists -- <refdata dir> <this dir>`.
# Dates are YYYY-MM-DD; a list without valid_from / valid_to is open at that end.

[[list]]
code_system = "vn.province.pre2025"
name = "Tỉnh, thành phố trực thuộc trung ương trước ngày 01/07/2025 (63 đơn vị)"
file = "vn.province.pre2025.csv"
version = "2025-03-01"
source = "Danh mục đơn vị hành chính (Tổng cục Thống kê), dữ liệu đến 2025-03-01; mã 3 chữ số trên số định danh: Thông tư 07/2016/TT-BCA Phụ lục 1"
valid_to = "2025-06-30"
unit_level = "province"
note = "Old codes stay valid inside old records and old ID numbers; the crosswalk vn.province.merger-2025 gives the province each became part of."

[[list]]
code_system = "vn.province.2025"
name = "Tỉnh, thành phố trực thuộc trung ương từ ngày 01/07/2025 (34 đơn vị)"
file = "vn.province.2025.csv"
version = "2026-04-30"
source = "Nghị quyết 202/2025/QH15; mã theo Quyết định 19/2025/QĐ-TTg; tên hiện hành đến Nghị quyết 30/2026/QH16"
valid_from = "2025-07-01"
unit_level = "province"
note = "No new codes: each new province kept the code of one old province. Đồng Nai became a municipality (Thành phố Đồng Nai) on 2026-04-30; full_name_2025_07 keeps the name of 2025-07-01. Whether ID numbers of births registered after 2025-07-01 use pin_prefix is unverified."

[[list]]
code_system = "vn.district.pre2025"
name = "Quận, huyện, thị xã, thành phố thuộc tỉnh trước ngày 01/07/2025"
file = "vn.district.pre2025.csv"
version = "2025-03-01"
source = "Danh mục đơn vị hành chính (Tổng cục Thống kê), dữ liệu đến 2025-03-01"
valid_to = "2025-06-30"
unit_level = "district"
parent_system = "vn.province.pre2025"
note = "The district level was abolished on 2025-07-01; no successor codes."

[[list]]
code_system = "vn.commune.pre2025"
name = "Xã, phường, thị trấn trước ngày 01/07/2025"
file = "vn.commune.pre2025.csv"
version = "2025-03-01"
source = "Danh mục đơn vị hành chính (Tổng cục Thống kê), dữ liệu đến 2025-03-01"
valid_to = "2025-06-30"
unit_level = "commune"
parent_system = "vn.district.pre2025"
note = "Communes were merged many-to-many (partly by area) on 2025-07-01; no crosswalk is given, so old commune codes are never translated to new ones."

[[list]]
code_system = "vn.commune.2025"
name = "Xã, phường, đặc khu từ ngày 01/07/2025"
file = "vn.commune.2025.csv"
version = "2026-04-30"
source = "Quyết định 19/2025/QĐ-TTg; loại đơn vị hiện hành đến Nghị quyết 30/2026/QH16"
valid_from = "2025-07-01"
unit_level = "commune"
parent_system = "vn.province.2025"

[[list]]
code_system = "vn.ethnic.qd121-1979"
name = "Danh mục các thành phần dân tộc Việt Nam (1979)"
file = "vn.ethnic.qd121-1979.csv"
version = "1979-03-02"
source = "Quyết định 121-TCTK/PPCD ngày 02/03/1979 của Tổng cục Thống kê"
note = "04 = Hoa in this list (04 = Mường in vn.ethnic.qd1019-2008). Official text seen for 01-11 only; 12-54 from two independent transcriptions. Codes where they disagree (20, 21, 52, 53, 54) are unverified."

[[list]]
code_system = "vn.ethnic.qd1019-2008"
name = "Danh mục dân tộc Việt Nam (2008)"
file = "vn.ethnic.qd1019-2008.csv"
version = "2008-11-12"
source = "Quyết định 1019/QĐ-TCTK ngày 12/11/2008; Phụ lục E của QCVN 109:2017/BTTTT"
complete = false
note = "04 = Mường in this list (04 = Hoa in vn.ethnic.qd121-1979). Partial: codes 21-54 were not found, so a code missing here may still be valid. Names 14-20 were restored by hand and are unverified."

[[list]]
code_system = "lienthong.sex"
name = "Giới tính"
file = "lienthong.sex.csv"
version = "1"
source = "lienthong: the values of the lienthong.v1.Sex enum"

[[list]]
code_system = "vn.religion"
name = "Tôn giáo"
file = "vn.religion.csv"
version = "unverified"
source = "Unofficial: one third-party application file; the official list is in QCVN 109:2017/BTTTT Phụ lục G"
verified = false
note = "UNVERIFIED: every value coded in this list is flagged until the list is checked against the official text."

[[crosswalk]]
name = "vn.province.merger-2025"
file = "vn.province.merger-2025.csv"
from_system = "vn.province.pre2025"
to_system = "vn.province.2025"
effective = "2025-07-01"
source = "Nghị quyết 202/2025/QH15 (adopted 2025-06-12)"
note = "Every old province became part of exactly one new province."
"#;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn aliases_skip_spellings_that_compare_equal() {
        assert_eq!(aliases("Tỉnh Hoà Bình", &["Hòa Bình", "HOÀ BÌNH"]), "");
        assert_eq!(
            aliases("Thành phố Huế", &["Thừa Thiên Huế", "Huế"]),
            "Thừa Thiên Huế"
        );
        assert_eq!(aliases("Khơ-Me", &["Khơ-me", "Khmer"]), "Khmer");
    }

    #[test]
    fn copy_notes_are_removed_from_names() {
        assert_eq!(
            without_copy_note("Gia Rai (oxyz.wordpress.com copy)"),
            "Gia Rai"
        );
        assert_eq!(without_copy_note("Kinh (Việt)"), "Kinh (Việt)");
    }

    #[test]
    fn letters_key_ignores_marks_and_punctuation() {
        assert_eq!(letters_key("Ê-đê"), letters_key("Ê Đê"));
        assert_eq!(letters_key("Xtiêng"), letters_key("X'Tiêng"));
        assert_ne!(letters_key("Mnông"), letters_key("Ra Glai"));
    }
}
