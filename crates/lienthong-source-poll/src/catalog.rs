//! What the connector knows about a polled table: its columns with their types and its primary
//! key, as read from the source's catalog by [`crate::database`]. Pure data.

use sha2::{Digest, Sha256};

/// A table's schema (PostgreSQL schema, MySQL database, SQLite `main`) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.to_string(),
            name: name.to_string(),
        }
    }

    pub fn dotted(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    /// The type as the source spells it, published in `ColumnSchema.source_type`:
    /// PostgreSQL `int4`, `numeric(5,2)`; MySQL `COLUMN_TYPE` (`decimal(10,2) unsigned`);
    /// SQLite the declared type (`TEXT`, `DATETIME`, or empty).
    pub source_type: String,
    /// The type's base name in lower case, which decides how values are read: PostgreSQL
    /// `typname`, MySQL `DATA_TYPE`, SQLite the declared type.
    pub data_type: String,
    pub nullable: bool,
    /// PostgreSQL only: type OID and modifier (for decoding text values) and the SQL spelling
    /// of the type (for casts of bound values). 0, -1 and empty elsewhere.
    pub type_oid: u32,
    pub type_modifier: i32,
    pub type_sql: String,
}

impl CatalogColumn {
    /// A column of a MySQL or SQLite table (no PostgreSQL type facts).
    pub fn plain(name: &str, data_type: &str, source_type: &str, nullable: bool) -> Self {
        Self {
            name: name.to_string(),
            source_type: source_type.to_string(),
            data_type: data_type.to_ascii_lowercase(),
            nullable,
            type_oid: 0,
            type_modifier: -1,
            type_sql: String::new(),
        }
    }
}

/// Catalog facts of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTable {
    pub table: TableName,
    /// In table order.
    pub columns: Vec<CatalogColumn>,
    /// Primary-key column names in key order; empty when the table has none.
    pub primary_key: Vec<String>,
}

impl CatalogTable {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Identifies the column list: a change of it (a column added, dropped, retyped, or the
    /// key changed) is a new schema version.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        for c in &self.columns {
            h.update(c.name.as_bytes());
            h.update([0]);
            h.update(c.source_type.as_bytes());
            h.update([u8::from(c.nullable)]);
        }
        h.update(b"key");
        for k in &self.primary_key {
            h.update(k.as_bytes());
            h.update([0]);
        }
        h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_follow_columns_and_key() {
        let table = CatalogTable {
            table: TableName::new("main", "t"),
            columns: vec![
                CatalogColumn::plain("id", "integer", "INTEGER", false),
                CatalogColumn::plain("ten", "text", "TEXT", true),
            ],
            primary_key: vec!["id".into()],
        };
        let mut retyped = table.clone();
        retyped.columns[1].source_type = "VARCHAR(10)".into();
        let mut rekeyed = table.clone();
        rekeyed.primary_key.clear();
        assert_eq!(table.fingerprint(), table.clone().fingerprint());
        assert_ne!(table.fingerprint(), retyped.fingerprint());
        assert_ne!(table.fingerprint(), rekeyed.fingerprint());
        assert_eq!(table.column_index("ten"), Some(1));
        assert_eq!(table.table.dotted(), "main.t");
    }
}
