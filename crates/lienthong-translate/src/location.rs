//! Where in a TOML file a problem is: line, column and the field path (`field[3].transforms[1]`),
//! for error messages a person can act on without a debugger.
//!
//! Two kinds of problem need it. Errors found while deserializing come with a byte span from the
//! `toml` parser and a field path from `serde_path_to_error`. Errors found afterwards, when a
//! loaded file is checked against its meaning (an unknown code list, a regex that does not
//! compile), know only the field path; [`Document::locate`] finds the span of that path in the
//! parsed document.

use std::fmt;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path to a field of a TOML document, printed `field[3].transforms[1].code.system`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path with a key appended.
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Key(key.to_owned()));
        next
    }

    /// This path with an array index appended.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Index(index));
        next
    }

    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        FieldPath(
            path.iter()
                .filter_map(|segment| match segment {
                    Segment::Seq { index } => Some(PathSegment::Index(*index)),
                    Segment::Map { key } | Segment::Enum { variant: key } => {
                        Some(PathSegment::Key(key.clone()))
                    }
                    Segment::Unknown => None,
                })
                .collect(),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column (in characters) of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    pub line: usize,
    pub column: usize,
}

impl TextPosition {
    /// The position of byte `offset` of `text` (clamped to the text).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        TextPosition { line, column }
    }
}

impl fmt::Display for TextPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A problem in a TOML document: where, which field, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlProblem {
    /// `None` when the document is not even TOML at a place with a known position (rare).
    pub position: Option<TextPosition>,
    pub path: FieldPath,
    pub message: String,
}

/// A parsed TOML document, kept to locate fields of the value deserialized from it.
#[derive(Debug)]
pub struct Document<'a> {
    text: &'a str,
    root: DeTable<'a>,
}

impl<'a> Document<'a> {
    /// Parses `text` and deserializes it into `T`.
    pub fn parse<T: DeserializeOwned>(text: &'a str) -> Result<(T, Document<'a>), TomlProblem> {
        let root = DeTable::parse(text).map_err(|e| TomlProblem {
            position: e.span().map(|s| TextPosition::of_offset(text, s.start)),
            path: FieldPath::root(),
            message: e.message().trim_end().to_owned(),
        })?;
        let document = Document {
            text,
            root: root.get_ref().clone(),
        };
        let deserializer = toml::de::Deserializer::from(root);
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(value) => Ok((value, document)),
            Err(e) => {
                let path = FieldPath::from_serde(e.path());
                let span = e.inner().span().or_else(|| document.span_of(&path));
                Err(TomlProblem {
                    position: span.map(|s| TextPosition::of_offset(text, s.start)),
                    path,
                    message: e.inner().message().trim_end().to_owned(),
                })
            }
        }
    }

    /// A problem about the field at `path`, positioned at that field (or at its nearest
    /// enclosing field present in the document).
    pub fn problem(&self, path: FieldPath, message: impl Into<String>) -> TomlProblem {
        TomlProblem {
            position: self.locate(&path),
            path,
            message: message.into(),
        }
    }

    /// The position of the field at `path`, or of its nearest enclosing field that is written in
    /// the document (a field left to its default is not).
    pub fn locate(&self, path: &FieldPath) -> Option<TextPosition> {
        self.span_of(path)
            .map(|span| TextPosition::of_offset(self.text, span.start))
    }

    fn span_of(&self, path: &FieldPath) -> Option<Range<usize>> {
        let mut best = None;
        let mut current: Option<&DeValue<'_>> = None;
        for segment in path.segments() {
            let next = match (current, segment) {
                (None, PathSegment::Key(key)) => table_entry(&self.root, key),
                (Some(DeValue::Table(table)), PathSegment::Key(key)) => table_entry(table, key),
                (Some(DeValue::Array(array)), PathSegment::Index(index)) => array.get(*index),
                _ => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            current = Some(next.get_ref());
        }
        best
    }
}

fn table_entry<'t, 'i>(
    table: &'t DeTable<'i>,
    key: &str,
) -> Option<&'t toml::Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default, rename = "item")]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        value: u32,
    }

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "ab\nđc d\n";
        assert_eq!(
            TextPosition::of_offset(text, 0),
            TextPosition { line: 1, column: 1 }
        );
        // "đ" is two bytes: byte 6 is the 'd' after the space, column 4.
        assert_eq!(
            TextPosition::of_offset(text, 7),
            TextPosition { line: 2, column: 4 }
        );
        assert_eq!(TextPosition::of_offset(text, 4).line, 2);
        assert_eq!(TextPosition::of_offset(text, 999).line, 3);
    }

    #[test]
    fn deserialization_errors_have_line_and_path() {
        let text = "name = \"x\"\n\n[[item]]\nvalue = 1\n\n[[item]]\nvalue = \"two\"\n";
        let e = Document::parse::<Doc>(text).unwrap_err();
        assert_eq!(e.path.to_string(), "item[1].value");
        assert_eq!(e.position.unwrap().line, 7);
        assert!(e.message.contains("invalid type"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = Document::parse::<Doc>("name = \"x\"\nvalue = = 2\n").unwrap_err();
        assert_eq!(e.position.unwrap().line, 2);
        assert_eq!(e.path, FieldPath::root());
    }

    #[test]
    fn later_problems_are_located_by_path() {
        let text = "name = \"x\"\n[[item]]\nvalue = 1\n[[item]]\nvalue = 2\n";
        let (_, doc) = Document::parse::<Doc>(text).unwrap();
        let path = FieldPath::root().key("item").index(1).key("value");
        assert_eq!(doc.locate(&path).unwrap().line, 5);
        // A field not written in the file is located at its nearest written parent.
        let missing = FieldPath::root().key("item").index(0).key("absent");
        assert_eq!(doc.locate(&missing).unwrap().line, 2);
        assert_eq!(
            doc.problem(path, "too big").path.to_string(),
            "item[1].value"
        );
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }
}
