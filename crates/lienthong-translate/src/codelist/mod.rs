//! Code lists (danh mục dùng chung): the canonical values coded fields are checked and translated
//! against, kept as data in `schemas/codelists/` and read at start-up, so a list is updated by
//! editing a file and restarting, not by rebuilding.
//!
//! Every coded value names its code system, because two official lists can give one code two
//! meanings: ethnic group 04 is Hoa in the 1979 list (QĐ 121-TCTK/PPCD) and Mường in the 2008
//! list (QĐ 1019/QĐ-TCTK). Nothing here converts between such lists.
//!
//! Codes have validity dates. On 2025-07-01 the 63 provinces became 34 (each new province kept
//! the code of one old province, so `01` and `79` are in both lists) and the communes were merged;
//! old codes stay valid forever inside old records and old ID numbers. The lists of both periods
//! are kept side by side, with *crosswalks* that say which new code replaced an old one and from
//! when ([`CodeLists::resolve_on`]). The commune crosswalk of 2025 is many-to-many (communes were
//! split by area) and is not part of the reference data, so commune codes are never translated
//! across the reform.
//!
//! The directory layout and file format are described in `schemas/codelists/README.md`;
//! [`generate`] builds the files from the project's reference tables.

mod generate;
mod load;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use lienthong_proto::v1 as pb;
use lienthong_vietnamese::text::{fold, fold_tones};
use rustc_hash::FxHashMap;
use serde::Deserialize;

use crate::date::CivilDate;
use crate::location::{FieldPath, TextPosition};

pub use generate::{GenerateError, generate};

/// File name of the manifest in a code-list directory.
pub const MANIFEST_FILE: &str = "codelists.toml";

/// Code system of the administrative provinces before 2025-07-01 (63 units).
pub const PROVINCE_PRE_2025: &str = "vn.province.pre2025";
/// Code system of the administrative provinces from 2025-07-01 (34 units).
pub const PROVINCE_2025: &str = "vn.province.2025";
/// Code system of the districts abolished on 2025-07-01.
pub const DISTRICT_PRE_2025: &str = "vn.district.pre2025";
/// Code system of the communes before 2025-07-01.
pub const COMMUNE_PRE_2025: &str = "vn.commune.pre2025";
/// Code system of the communes from 2025-07-01.
pub const COMMUNE_2025: &str = "vn.commune.2025";
/// Ethnic groups, Quyết định 121-TCTK/PPCD (1979): 04 = Hoa.
pub const ETHNIC_1979: &str = "vn.ethnic.qd121-1979";
/// Ethnic groups, Quyết định 1019/QĐ-TCTK (2008): 04 = Mường. Partial.
pub const ETHNIC_2008: &str = "vn.ethnic.qd1019-2008";
/// The canonical sex values (those of `lienthong.v1.Sex`).
pub const SEX: &str = "lienthong.sex";
/// Religions (unverified list).
pub const RELIGION: &str = "vn.religion";

/// The administrative level of a list of administrative units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    Province,
    District,
    Commune,
}

/// What a code list is and where it comes from (one `[[list]]` entry of the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInfo {
    /// Identifier every coded value carries, e.g. `vn.province.2025`.
    pub code_system: String,
    /// Name of the list in Vietnamese.
    pub name: String,
    pub version: String,
    /// Legal or statistical basis, and where the data was taken from.
    pub source: String,
    /// Validity of the whole list; a code's own dates, when given, take precedence.
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    /// False for lists taken from sources that could not be checked against the official text:
    /// values coded in them are flagged.
    pub verified: bool,
    /// False for lists known to lack codes: a code missing from such a list may still be valid.
    pub complete: bool,
    /// Set for lists of administrative units.
    pub unit_level: Option<UnitLevel>,
    /// The list `parent_code` refers to (communes → districts or provinces).
    pub parent_system: Option<String>,
    pub note: String,
    /// The header lines of the data file (`#` lines): the provenance of the data, as the reference
    /// tables state it.
    pub provenance: Vec<String>,
    /// The data file.
    pub file: PathBuf,
}

/// One code of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: String,
    /// Label in Vietnamese.
    pub display: String,
    pub display_en: String,
    /// Code of the unit above (district of a commune, province of a district), in the list of
    /// the level above of the same period.
    pub parent_code: String,
    /// Validity of the code (the list's when the code has none of its own).
    pub valid_from: Option<CivilDate>,
    pub valid_to: Option<CivilDate>,
    /// Other names the code is known by, for look-ups by name.
    pub aliases: Vec<String>,
    /// False when this code's meaning could not be verified (the list's `verified` also applies).
    pub verified: bool,
    /// Codes that replace this one after `valid_to`, in the crosswalk's target system.
    pub replaced_by: Vec<String>,
    /// Further columns of the data file, by column name.
    pub attributes: BTreeMap<String, String>,
}

impl CodeEntry {
    /// Whether the code is valid on `date` (open-ended where no date is known).
    pub fn is_valid_on(&self, date: CivilDate) -> bool {
        self.valid_from.is_none_or(|from| from <= date) && self.valid_to.is_none_or(|to| date <= to)
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

/// A code list: its [`ListInfo`] and its codes, indexed by code and by name.
#[derive(Debug, Clone)]
pub struct CodeList {
    info: ListInfo,
    entries: Vec<CodeEntry>,
    by_code: FxHashMap<String, usize>,
    /// Built on the first look-up by name: most lists are only ever looked up by code, and the
    /// commune lists have thousands of names.
    names: OnceLock<NameIndex>,
    /// Length of every code, when all codes are digits of one length.
    numeric_width: Option<usize>,
}

#[derive(Debug, Clone, Default)]
struct NameIndex {
    /// Name keys that keep diacritics (case and tone placement ignored).
    exact: HashMap<String, Vec<usize>>,
    /// Name keys without any diacritics.
    loose: HashMap<String, Vec<usize>>,
}

/// The result of a look-up by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch<'a> {
    Found(&'a CodeEntry),
    /// Several codes carry this name (`Phường 1` exists in many districts).
    Ambiguous(Vec<&'a CodeEntry>),
    NotFound,
}

impl CodeList {
    fn new(info: ListInfo, entries: Vec<CodeEntry>) -> Self {
        let by_code = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code.clone(), i))
            .collect();
        let numeric_width = entries.first().map(|e| e.code.len()).filter(|&width| {
            entries
                .iter()
                .all(|e| e.code.len() == width && e.code.bytes().all(|b| b.is_ascii_digit()))
        });
        CodeList {
            info,
            entries,
            by_code,
            names: OnceLock::new(),
            numeric_width,
        }
    }

    fn name_index(&self) -> &NameIndex {
        self.names.get_or_init(|| {
            let mut index = NameIndex::default();
            let units = self.info.unit_level.is_some();
            for (i, entry) in self.entries.iter().enumerate() {
                let names = std::iter::once(&entry.display).chain(&entry.aliases);
                for name in names.flat_map(|n| name_variants(n, units)) {
                    let (key, loose) = name_keys(&name);
                    for (map, key) in [(&mut index.exact, key), (&mut index.loose, loose)] {
                        let slot = map.entry(key).or_default();
                        if !slot.contains(&i) {
                            slot.push(i);
                        }
                    }
                }
            }
            index
        })
    }

    pub fn info(&self) -> &ListInfo {
        &self.info
    }

    pub fn code_system(&self) -> &str {
        &self.info.code_system
    }

    /// The codes, in file order.
    pub fn entries(&self) -> &[CodeEntry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The code as this list writes it: surrounding white space is ignored, and in a list of
    /// numeric codes of one width a number written with fewer or more leading zeros is padded to
    /// that width (`4` and `004` are `04` in a two-digit list: integer columns lose leading
    /// zeros, and ID-number prefixes add one).
    ///
    /// ```
    /// # let lists = lienthong_translate::codelist::CodeLists::load_dir(
    /// #     std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists"))?;
    /// let provinces = lists.list("vn.province.pre2025").unwrap();
    /// assert_eq!(provinces.canonical_code(" 79 "), Some("79"));
    /// assert_eq!(provinces.canonical_code("079"), Some("79"));
    /// assert_eq!(provinces.canonical_code("1"), Some("01"));
    /// assert_eq!(provinces.canonical_code("03"), None);
    /// # Ok::<(), lienthong_translate::codelist::CodeListError>(())
    /// ```
    pub fn canonical_code(&self, code: &str) -> Option<&str> {
        self.index_of(code).map(|i| self.entries[i].code.as_str())
    }

    fn index_of(&self, code: &str) -> Option<usize> {
        let code = crate::text::trim(code);
        if let Some(&i) = self.by_code.get(code) {
            return Some(i);
        }
        let width = self.numeric_width?;
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let significant = code.trim_start_matches('0');
        // `format!("{significant:0>width$}")`, on the stack for the widths codes have.
        let mut buffer = [b'0'; 16];
        let padded = match buffer.get_mut(..width) {
            Some(padded) if significant.len() <= width => {
                padded[width - significant.len()..].copy_from_slice(significant.as_bytes());
                std::str::from_utf8(padded).ok()?
            }
            _ if significant.len() <= width => {
                return self
                    .by_code
                    .get(&format!("{significant:0>width$}"))
                    .copied();
            }
            _ => return None,
        };
        self.by_code.get(padded).copied()
    }

    /// The entry for `code` (see [`CodeList::canonical_code`] for the forms accepted).
    pub fn get(&self, code: &str) -> Option<&CodeEntry> {
        self.index_of(code).map(|i| &self.entries[i])
    }

    /// Finds a code by its name: the display name or an alias, a part in parentheses
    /// (`Kinh (Việt)` is found as `Kinh` and as `Việt`), and for administrative units the name
    /// without its unit type (`Tỉnh`, `Thành phố`, `TP.`, `Quận`, `Phường`...).
    ///
    /// Names compare ignoring case, tone-mark placement, hyphens and apostrophes first; only if
    /// that finds nothing are all diacritics ignored (`Ha Noi`).
    ///
    /// ```
    /// # use lienthong_translate::codelist::{CodeLists, NameMatch};
    /// # let lists = CodeLists::load_dir(
    /// #     std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists"))?;
    /// let provinces = lists.list("vn.province.pre2025").unwrap();
    /// let code = |name| match provinces.find_by_name(name) {
    ///     NameMatch::Found(e) => Some(e.code.as_str()),
    ///     _ => None,
    /// };
    /// assert_eq!(code("Tỉnh Hoà Bình"), Some("17"));
    /// assert_eq!(code("hoa binh"), Some("17"));
    /// assert_eq!(code("TP. Hồ Chí Minh"), Some("79"));
    /// assert_eq!(code("Thừa Thiên Huế"), Some("46"));
    /// # Ok::<(), lienthong_translate::codelist::CodeListError>(())
    /// ```
    pub fn find_by_name(&self, name: &str) -> NameMatch<'_> {
        let query = if self.info.unit_level.is_some() {
            strip_unit_type(name)
        } else {
            lienthong_vietnamese::text::clean(name)
        };
        let (key, loose) = name_keys(&query);
        let names = self.name_index();
        for (index, key) in [(&names.exact, key), (&names.loose, loose)] {
            match index.get(&key).map(Vec::as_slice) {
                Some([one]) => return NameMatch::Found(&self.entries[*one]),
                Some(many) if many.len() > 1 => {
                    return NameMatch::Ambiguous(many.iter().map(|&i| &self.entries[i]).collect());
                }
                _ => {}
            }
        }
        NameMatch::NotFound
    }

    /// The list as the `lienthong.v1.CodeList` message.
    pub fn to_proto(&self) -> pb::CodeList {
        pb::CodeList {
            code_system: self.info.code_system.clone(),
            name: self.info.name.clone(),
            version: self.info.version.clone(),
            source: self.info.source.clone(),
            valid_from: self.info.valid_from.map(CivilDate::to_proto),
            valid_to: self.info.valid_to.map(CivilDate::to_proto),
            codes: self
                .entries
                .iter()
                .map(|e| pb::Code {
                    code_system: self.info.code_system.clone(),
                    code: e.code.clone(),
                    display: e.display.clone(),
                    display_en: e.display_en.clone(),
                    parent_code: e.parent_code.clone(),
                    valid_from: e.valid_from.map(CivilDate::to_proto),
                    valid_to: e.valid_to.map(CivilDate::to_proto),
                    replaced_by: e.replaced_by.clone(),
                    attributes: e
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .chain((!e.verified).then(|| ("verified".to_owned(), "false".to_owned())))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A name and the parts of it that also identify the code: `Kinh (Việt)` → itself, `Kinh`,
/// `Việt`. Names of administrative units lose their unit type (`Tỉnh`, `Phường`...).
fn name_variants(name: &str, units: bool) -> Vec<String> {
    let normalise = |s: &str| {
        if units {
            strip_unit_type(s)
        } else {
            lienthong_vietnamese::text::clean(s)
        }
    };
    let mut variants = vec![normalise(name)];
    if let Some(open) = name.find('(')
        && let Some(close) = name[open..].find(')')
    {
        let inside = &name[open + 1..open + close];
        let outside = format!("{} {}", &name[..open], &name[open + close + 1..]);
        variants.push(normalise(&outside));
        variants.extend(inside.split([',', ';']).map(normalise));
    }
    variants.retain(|v| !v.trim().is_empty());
    variants
}

/// The two comparison keys of a name: diacritics kept (case and tone placement ignored), and
/// diacritics removed. Hyphens, apostrophes and full stops count as spaces in both.
fn name_keys(name: &str) -> (String, String) {
    let spaced: String = name
        .chars()
        .map(|c| match c {
            '-' | '\'' | '’' | '‘' | '.' | '_' => ' ',
            c => c,
        })
        .collect();
    (fold_tones(&spaced), fold(&spaced))
}

/// Unit-type words that may precede the name of an administrative unit, as folded text
/// (longest first, so `thành phố` is tried before `thành`).
const UNIT_TYPE_PREFIXES: &[&str] = &[
    "thanh pho truc thuoc trung uong",
    "thanh pho",
    "thi tran",
    "thi xa",
    "dac khu",
    "tinh",
    "quan",
    "huyen",
    "phuong",
    "xa",
    "tp",
];

/// The name without a leading unit type (`Tỉnh Hà Giang` → `Hà Giang`, `TP. Hồ Chí Minh` → `Hồ Chí
/// Minh`). A name that would be left empty, or only digits of a numbered ward (`Phường 1`), is
/// kept whole: `1` alone names nothing.
fn strip_unit_type(name: &str) -> String {
    let cleaned = lienthong_vietnamese::text::clean(name);
    let words: Vec<&str> = cleaned.split(' ').collect();
    for prefix in UNIT_TYPE_PREFIXES {
        let n = prefix.split(' ').count();
        if words.len() <= n {
            continue;
        }
        let head = fold(&words[..n].join(" ").replace('.', ""));
        if head == *prefix {
            let rest = words[n..].join(" ");
            let rest = rest.trim_start_matches(['.', ' ']).to_owned();
            if rest.is_empty() || rest.chars().all(|c| c.is_ascii_digit()) {
                return cleaned;
            }
            return rest;
        }
    }
    cleaned
}

/// Old codes of one system replaced by codes of another from a date (one `[[crosswalk]]` of
/// the manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crosswalk {
    pub name: String,
    pub from_system: String,
    pub to_system: String,
    /// The first day the target codes apply.
    pub effective: CivilDate,
    pub source: String,
    pub note: String,
    pub provenance: Vec<String>,
    pub file: PathBuf,
    /// Old code → new codes (several when the unit was split).
    pairs: BTreeMap<String, Vec<String>>,
}

impl Crosswalk {
    /// The codes that replaced `code` (as the source list writes it), empty if none.
    pub fn targets(&self, code: &str) -> &[String] {
        self.pairs.get(code).map_or(&[], Vec::as_slice)
    }

    /// Every pair, old code first.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .flat_map(|(from, to)| to.iter().map(move |t| (from.as_str(), t.as_str())))
    }
}

/// How a code stands on a date (see [`CodeLists::resolve_on`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// The code is valid on the date.
    Valid {
        system: &'a str,
        entry: &'a CodeEntry,
    },
    /// The code had expired by the date; these codes of `system` replaced it and are valid then.
    Replaced {
        from: &'a CodeEntry,
        system: &'a str,
        to: Vec<&'a CodeEntry>,
    },
    /// The code had expired by the date and no crosswalk says what replaced it.
    Expired { entry: &'a CodeEntry },
    /// The code was not yet valid on the date.
    NotYetValid { entry: &'a CodeEntry },
    /// No such code in the list (or no such list).
    Unknown,
}

/// Every code list and crosswalk of a directory. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct CodeLists {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// This load's number, which no other load of the process has (see [`SystemName`]).
    generation: u64,
    dir: PathBuf,
    /// Sorted by code system.
    lists: Vec<CodeList>,
    /// Where each code system is in `lists`. Hashed: the translator looks a list up for every
    /// coded field of every record, and an ordered map would compare long, alike names
    /// (`vn.province.2025`, `vn.province.pre2025`) several times per look-up.
    by_system: FxHashMap<String, usize>,
    crosswalks: Vec<Crosswalk>,
}

/// A code-list directory could not be loaded. Every variant names the file, and the line where
/// there is one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CodeListError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("{}:{}: {path}: {message}", file.display(), position.map_or_else(|| "?".to_owned(), |p| p.to_string()))]
    Manifest {
        file: PathBuf,
        position: Option<TextPosition>,
        path: FieldPath,
        message: String,
    },
    #[error("{}:{line}: {message}", file.display())]
    Data {
        file: PathBuf,
        /// 1-based line of the file (0 when the problem is the file as a whole).
        line: usize,
        message: String,
    },
}

impl CodeLists {
    /// Loads the manifest [`MANIFEST_FILE`] of `dir` and every file it names.
    ///
    /// Everything is checked before anything is used: codes unique per list, dates well formed,
    /// crosswalk codes present in their lists, parent codes present in the list of the level
    /// above when both lists are loaded. A broken file stops the load with its name and line.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, CodeListError> {
        let dir = dir.as_ref();
        let (lists, crosswalks) = load::load_dir(dir)?;
        let by_system = lists
            .keys()
            .enumerate()
            .map(|(i, system)| (system.clone(), i))
            .collect();
        static LOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(CodeLists {
            inner: Arc::new(Inner {
                generation: LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                dir: dir.to_path_buf(),
                lists: lists.into_values().collect(),
                by_system,
                crosswalks,
            }),
        })
    }

    /// The directory the lists were loaded from.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn list(&self, code_system: &str) -> Option<&CodeList> {
        let at = *self.inner.by_system.get(code_system)?;
        Some(&self.inner.lists[at])
    }

    /// `code_system` as a mapping keeps it: with where its list is in these lists.
    pub(crate) fn system_name(&self, code_system: &str) -> SystemName {
        SystemName {
            at: self
                .inner
                .by_system
                .get(code_system)
                .map(|&at| (self.inner.generation, at)),
            name: code_system.to_owned(),
        }
    }

    /// [`CodeLists::list`] of a code system a mapping keeps: found where it was when these are
    /// the lists the mapping was checked against, without hashing its name.
    #[inline]
    pub(crate) fn list_of(&self, system: &SystemName) -> Option<&CodeList> {
        match system.at {
            Some((generation, at)) if generation == self.inner.generation => {
                self.inner.lists.get(at)
            }
            _ => self.list(&system.name),
        }
    }

    /// Every list, by code system.
    pub fn lists(&self) -> impl Iterator<Item = &CodeList> {
        self.inner.lists.iter()
    }

    pub fn crosswalks(&self) -> &[Crosswalk] {
        &self.inner.crosswalks
    }

    /// The entry for `code` in `code_system`.
    pub fn lookup(&self, code_system: &str, code: &str) -> Option<&CodeEntry> {
        self.list(code_system)?.get(code)
    }

    /// Whether `code` exists in `code_system` and is valid on `date`.
    ///
    /// ```
    /// # use lienthong_translate::{codelist::CodeLists, date::CivilDate};
    /// # let lists = CodeLists::load_dir(
    /// #     std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists"))?;
    /// let day = |y, m, d| CivilDate::new(y, m, d).unwrap();
    /// // Bình Dương (74) was merged into Hồ Chí Minh City on 2025-07-01.
    /// assert!(lists.is_valid_on("vn.province.pre2025", "74", day(2025, 6, 30)));
    /// assert!(!lists.is_valid_on("vn.province.pre2025", "74", day(2025, 7, 1)));
    /// assert!(lists.is_valid_on("vn.province.2025", "79", day(2025, 7, 1)));
    /// # Ok::<(), lienthong_translate::codelist::CodeListError>(())
    /// ```
    pub fn is_valid_on(&self, code_system: &str, code: &str, date: CivilDate) -> bool {
        self.lookup(code_system, code)
            .is_some_and(|e| e.is_valid_on(date))
    }

    /// The crosswalks that start from `code_system`.
    pub fn crosswalks_from(&self, code_system: &str) -> impl Iterator<Item = &Crosswalk> {
        self.inner
            .crosswalks
            .iter()
            .filter(move |c| c.from_system == code_system)
    }

    /// How `code` of `code_system` stands on `date`: valid as it is, replaced by codes of a
    /// successor list (following crosswalks in effect by `date`, several steps if need be), expired
    /// without a known successor, or not yet valid.
    ///
    /// ```
    /// # use lienthong_translate::{codelist::{CodeLists, Resolution}, date::CivilDate};
    /// # let lists = CodeLists::load_dir(
    /// #     std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/codelists"))?;
    /// let day = |y, m, d| CivilDate::new(y, m, d).unwrap();
    /// // Hà Giang (02) became part of Tuyên Quang (08).
    /// match lists.resolve_on("vn.province.pre2025", "02", day(2025, 8, 1)) {
    ///     Resolution::Replaced { system, to, .. } => {
    ///         assert_eq!(system, "vn.province.2025");
    ///         assert_eq!(to[0].code, "08");
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), lienthong_translate::codelist::CodeListError>(())
    /// ```
    pub fn resolve_on(&self, code_system: &str, code: &str, date: CivilDate) -> Resolution<'_> {
        let Some((list, entry)) = self
            .list(code_system)
            .and_then(|list| Some((list, list.get(code)?)))
        else {
            return Resolution::Unknown;
        };
        self.resolve_entry_on(list, entry, date)
    }

    /// [`CodeLists::resolve_on`] of an entry already found in its list.
    pub(crate) fn resolve_entry_on<'a>(
        &'a self,
        list: &'a CodeList,
        entry: &'a CodeEntry,
        date: CivilDate,
    ) -> Resolution<'a> {
        let system = list.code_system();
        if entry.is_valid_on(date) {
            return Resolution::Valid { system, entry };
        }
        if entry.valid_from.is_some_and(|from| date < from) {
            return Resolution::NotYetValid { entry };
        }
        match self.successors_on(system, entry, date, 0) {
            Some((to_system, to)) if !to.is_empty() => Resolution::Replaced {
                from: entry,
                system: to_system,
                to,
            },
            _ => Resolution::Expired { entry },
        }
    }

    /// Crosswalks can chain (a unit merged twice); the depth bounds a cycle in bad data.
    fn successors_on<'a>(
        &'a self,
        system: &str,
        entry: &'a CodeEntry,
        date: CivilDate,
        depth: usize,
    ) -> Option<(&'a str, Vec<&'a CodeEntry>)> {
        const MAX_CHAIN: usize = 8;
        if depth >= MAX_CHAIN {
            return None;
        }
        let crosswalk = self
            .crosswalks_from(system)
            .filter(|c| c.effective <= date && !c.targets(&entry.code).is_empty())
            .max_by_key(|c| c.effective)?;
        let target_list = self.list(&crosswalk.to_system)?;
        let mut found: Vec<&CodeEntry> = Vec::new();
        let mut found_system = crosswalk.to_system.as_str();
        for target in crosswalk.targets(&entry.code) {
            let Some(next) = target_list.get(target) else {
                continue;
            };
            if next.is_valid_on(date) {
                found.push(next);
            } else if let Some((system, further)) =
                self.successors_on(&crosswalk.to_system, next, date, depth + 1)
            {
                found_system = system;
                found.extend(further);
            }
        }
        found.dedup_by(|a, b| a.code == b.code);
        Some((found_system, found))
    }
}

/// The name of a code system in a mapping's step, and where its list was in the code lists the
/// mapping was checked against (their load's number, and the list's position). Used with other
/// lists (a reload), the name is looked up again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemName {
    name: String,
    at: Option<(u64, usize)>,
}

impl std::ops::Deref for SystemName {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for SystemName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Display for UnitLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnitLevel::Province => "province",
            UnitLevel::District => "district",
            UnitLevel::Commune => "commune",
        })
    }
}

#[cfg(test)]
mod tests;
