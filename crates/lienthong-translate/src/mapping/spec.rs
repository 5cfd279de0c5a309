//! The mapping file format, as serde types. `schemas/mapping.schema.json` is generated from these
//! types and `schemas/mappings/README.md` describes them for people; the doc comments here become
//! the schema's descriptions, so they are written for the author of a mapping file.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::target;
use crate::entity::EntityKind;

/// One mapping file: how the rows of one source table become one kind of canonical entity.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "lienthong mapping file")]
pub struct MappingFile {
    /// Identifier of the mapping, unique among all mapping files, e.g. `bhxh.qua_trinh_tham_gia`.
    /// Every output record names it in `provenance.mapping_id`.
    pub id: String,
    /// Version of the mapping, written into every output record (`provenance.mapping_version`).
    /// Change it whenever a change to the file changes what it outputs.
    pub version: String,
    /// What the mapping is for, for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The canonical entity the rows become; the output topic is `canonical.<entity>.v1`.
    pub entity: EntityKind,
    pub source: SourceSpec,
    #[serde(default)]
    pub quality: QualitySpec,
    /// The output fields, applied in order. When several fields set the same target, the first
    /// that gives a value wins.
    #[serde(rename = "field")]
    pub fields: Vec<FieldSpec>,
}

/// The source table the mapping reads.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Configured id of the source database (the change events' `source_id`).
    pub id: String,
    /// PostgreSQL schema, or the MySQL/MariaDB database the table is in.
    pub schema: String,
    pub table: String,
    /// Columns that identify a row, when they should not be the table's primary key (for
    /// example a stable business number instead of a surrogate key). Default: the primary key
    /// the change event carries. Deletes then need these columns in the row image before the
    /// change (PostgreSQL `REPLICA IDENTITY FULL`, MySQL/MariaDB `binlog_row_image = FULL`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
}

/// Settings of the quality checks that depend on the source.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualitySpec {
    /// "sống": a change translated more than this many days after the source committed it is
    /// flagged stale.
    #[serde(default = "default_max_change_age_days")]
    pub max_change_age_days: u32,
    /// "sống": a column holding when the row was last updated or reviewed at the source. With
    /// `max_row_age_days`, a record not updated for longer is flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_row_age_days: Option<u32>,
    /// "dùng chung": whether the source's owner allows sharing these records with other systems
    /// at all. Partner-specific rules live in the sharing policy, not here.
    #[serde(default = "yes")]
    pub shareable: bool,
    /// Why the records may not be shared (required when `shareable` is false).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub restriction: String,
}

impl Default for QualitySpec {
    fn default() -> Self {
        QualitySpec {
            max_change_age_days: default_max_change_age_days(),
            updated_column: None,
            max_row_age_days: None,
            shareable: true,
            restriction: String::new(),
        }
    }
}

fn default_max_change_age_days() -> u32 {
    7
}

fn yes() -> bool {
    true
}

/// One output field.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The canonical field to set, e.g. `person.birth_date`, `salary_coefficient`. Which targets
    /// exist depends on the entity (see schemas/mappings/README.md).
    pub target: TargetName,
    /// The source column, or several columns (for `concat`, `coalesce`, `local_code` with a
    /// display column, `record_ref` with a composite key). Exactly one of `from` and `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Columns>,
    /// A constant instead of a column, e.g. `value = "civil_servant"` for every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Steps applied in order to the value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transforms: Vec<Transform>,
    /// Set the field only for rows that meet this condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// "đủ": a record without a value for this target is flagged incomplete.
    #[serde(default)]
    pub required: bool,
    /// What a value that cannot be converted does: flag the record and leave the field empty
    /// (default), or reject the whole record to the dead-letter topic.
    #[serde(default)]
    pub on_error: OnError,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A canonical field path (checked against the mapping's entity when the file is loaded).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct TargetName(pub String);

impl JsonSchema for TargetName {
    fn schema_name() -> Cow<'static, str> {
        "TargetName".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = target::all_target_names();
        json_schema!({
            "description": "A canonical field path; which ones exist depends on the entity.",
            "type": "string",
            "enum": names,
        })
    }
}

/// One column name, or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, expecting = "a column name or a list of column names")]
pub enum Columns {
    One(String),
    Many(Vec<String>),
}

impl Columns {
    pub fn names(&self) -> &[String] {
        match self {
            Columns::One(name) => std::slice::from_ref(name),
            Columns::Many(names) => names,
        }
    }
}

/// A row condition on one column's value (compared as text, trimmed). Every operator given must
/// hold.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub column: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<String>,
    /// The value is one of these.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<String>>,
    /// True: the column has a non-empty value; false: it is null or empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// What a value that cannot be converted does to the record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// The field stays empty and the record carries a quality flag saying why.
    #[default]
    Flag,
    /// The record is not translated: it goes to the dead-letter topic with the reason.
    Reject,
}

/// What a value missing from a code list or value map does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unmapped {
    /// Keep the source value as `original` of an empty coded value (or leave a mapped value
    /// empty) and flag the record.
    #[default]
    Flag,
    /// Reject the record to the dead-letter topic.
    Reject,
    /// `map` only: pass the value through unchanged.
    Keep,
}

/// One step of a field's transform pipeline. Steps without options are written as a string
/// (`"trim"`), steps with options as a table with one key (`{ date = { formats = [...] } }`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Remove white space at both ends.
    Trim,
    /// Unicode normalisation form C.
    Nfc,
    /// NFC, trim, collapse white space, remove invisible and control characters.
    Clean,
    Upper,
    Lower,
    /// Personal-name casing: every word capitalised (`NGUYỄN văn a` → `Nguyễn Văn A`).
    TitleCase,
    /// Move tone marks to one placement style: `old` (`hòa`) or `new` (`hoà`).
    Tones(ToneStyleName),
    /// Decode text stored in a legacy 8-bit Vietnamese encoding (in a Latin-1 column):
    /// `auto` detects per value, `tcvn3` and `vni` force one. Unicode values are left alone.
    LegacyDecode(LegacyEncodingName),
    /// Regular-expression replacement of every match.
    Replace(ReplaceSpec),
    /// Split text at a separator and keep one part.
    Split(SplitSpec),
    /// Left-pad text to a width (e.g. ID numbers kept in integer columns lose leading zeros).
    Pad(PadSpec),
    /// Join several columns with this separator, skipping empty ones.
    Concat(String),
    /// The first of several columns that has a value.
    Coalesce,
    /// Integer.
    Int,
    /// Exact decimal number with `.` as decimal point (`4.98`).
    Decimal,
    /// Exact decimal number written the Vietnamese way: `,` as decimal point, `.` or space
    /// between thousands (`4,98`, `5.000.000`).
    DecimalComma,
    /// Boolean from true/false, 1/0, t/f, y/n, yes/no, có/không, x/empty.
    Bool,
    /// A (possibly partial) date read with the given formats.
    Date(DateSpec),
    /// Split a full name into family, middle and given name.
    SplitName,
    /// Translate source values with a table.
    Map(MapSpec),
    /// Look the value up in a canonical code list.
    Code(CodeSpec),
    /// A code of the source's own list that has no canonical list: kept with the given code
    /// system, flagged as not unified. With two columns, the second is the display name.
    LocalCode(LocalCodeSpec),
    /// A province code or name, translated to the province valid on the date of the change
    /// (old codes become post-2025-07-01 codes from that date on).
    Province(ProvinceSpec),
    /// The record id of a row of another table of the same source (for references such as the
    /// employing organisation).
    RecordRef(RecordRefSpec),
    /// This value when the value is missing (null or empty).
    Default(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ToneStyleName {
    /// `òa, òe, ùy`: tone on the first vowel (common in older texts and many databases).
    Old,
    /// `oà, oè, uỳ`: tone on the main vowel (the newer rule).
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegacyEncodingName {
    Auto,
    Tcvn3,
    Vni,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceSpec {
    /// A regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// Replacement; `$1` or `${name}` insert capture groups.
    pub with: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    pub separator: String,
    /// Which part to keep: 0 is the first, -1 the last.
    pub index: i32,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PadSpec {
    pub width: usize,
    /// The padding character (default `0`).
    #[serde(default = "zero")]
    pub with: char,
}

fn zero() -> char {
    '0'
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DateSpec {
    /// Formats tried in order, made of `dd`, `d`, `mm`, `m`, `yyyy` and separators, e.g.
    /// `dd/mm/yyyy`, `d/m/yyyy`, `yyyy-mm-dd`, `mm/yyyy`, `yyyy`. A day or month written `00`
    /// means unknown; `00/00/0000` means no date.
    pub formats: Vec<String>,
    /// Accept partial dates (unknown day, or unknown day and month). Required for formats
    /// without a day.
    #[serde(default)]
    pub partial: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// Source value → output value. Keys are compared with the trimmed source value.
    pub values: BTreeMap<String, String>,
    /// Compare ignoring case and diacritics (`NAM`, `Nam`, `nam` alike).
    #[serde(default)]
    pub fold: bool,
    #[serde(default)]
    pub unmapped: Unmapped,
}

/// How a value is looked up in a code list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LookupBy {
    /// By code (numeric codes match with or without leading zeros).
    #[default]
    Code,
    /// By name (case, tone placement and, failing that, diacritics ignored).
    Name,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    /// The code system, e.g. `vn.ethnic.qd1019-2008` (see schemas/codelists/codelists.toml).
    pub system: String,
    #[serde(default)]
    pub by: LookupBy,
    /// `flag` (default) or `reject`.
    #[serde(default)]
    pub unmapped: Unmapped,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalCodeSpec {
    /// A code system name for the source's own list, e.g. `csdl-cbcc.ngach`.
    pub system: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvinceSpec {
    /// The province list the source uses: `vn.province.pre2025` (63 provinces) or
    /// `vn.province.2025` (34 provinces).
    pub system: String,
    #[serde(default)]
    pub by: LookupBy,
    /// `flag` (default) or `reject`.
    #[serde(default)]
    pub unmapped: Unmapped,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRefSpec {
    /// Schema and table of the referenced rows.
    pub schema: String,
    pub table: String,
    /// Key columns of the referenced table, in key order; the field's columns give their values.
    pub key: Vec<String>,
}
