//! What `lienthong validate` verifies on a polled source, without publishing anything: each
//! table exists, its configured columns exist, it has a key, its cursor columns cannot be NULL
//! (NULL-cursor rows are never polled), and a first page can be read with the connector's own
//! query. Each problem is a message saying what to change.

use crate::catalog::TableName;
use crate::config::PollSourceConfig;
use crate::database::SourceDb;
use crate::dialect::PageStart;
use crate::events::PolledTable;

/// One verified fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: true,
            detail: detail.into(),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok: false,
            detail: detail.into(),
        }
    }
}

/// Runs every check; stops early only when the database cannot be reached at all.
pub async fn run(source_id: &str, config: &PollSourceConfig, url: &str) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut db = match SourceDb::connect(url).await {
        Ok(db) => db,
        Err(e) => {
            checks.push(Check::fail("connect", e.to_string()));
            return checks;
        }
    };
    for table in &config.tables {
        let Some((schema, name)) = table.schema_and_name() else {
            continue;
        };
        let name = TableName::new(schema, name);
        let dotted = name.dotted();
        let catalog = match db.table(&name).await {
            Ok(Some(catalog)) => catalog,
            Ok(None) => {
                checks.push(Check::fail(
                    "table",
                    format!("{dotted} does not exist, or the user cannot see it"),
                ));
                continue;
            }
            Err(e) => {
                checks.push(Check::fail("table", format!("{dotted}: {e}")));
                continue;
            }
        };
        let polled = match PolledTable::new(&catalog, table, config, source_id, db.dialect(), "", 1)
        {
            Ok(polled) => polled,
            Err(problem) => {
                checks.push(Check::fail("table", problem));
                continue;
            }
        };
        let key: Vec<&str> = polled
            .key
            .iter()
            .map(|&i| polled.columns[i].name.as_str())
            .collect();
        checks.push(Check::pass(
            "table",
            format!(
                "{dotted}: cursor ({}) then key ({})",
                table.cursor.join(", "),
                key.join(", ")
            ),
        ));
        let nullable: Vec<&str> = polled
            .ordering
            .iter()
            .filter(|&&i| polled.columns[i].nullable)
            .map(|&i| polled.columns[i].name.as_str())
            .collect();
        if nullable.is_empty() {
            checks.push(Check::pass(
                "cursor",
                format!("{dotted}: cursor and key NOT NULL"),
            ));
        } else {
            checks.push(Check::fail(
                "cursor",
                format!(
                    "{dotted}: cursor or key column(s) {} may be NULL, and rows where they are are never polled: declare them NOT NULL (with a default) or fill them",
                    nullable.join(", ")
                ),
            ));
        }
        let ordering: Vec<String> = polled
            .ordering
            .iter()
            .map(|&i| polled.columns[i].name.clone())
            .collect();
        match db.indexes(&name).await {
            Ok(indexes) => checks.push(index_check(&dotted, &ordering, &indexes)),
            Err(e) => checks.push(Check::fail("index", format!("{dotted}: {e}"))),
        }
        let query = polled.shape().page(PageStart::First, false, 1);
        match db.fetch(&query, &[]).await {
            Ok(rows) => checks.push(Check::pass(
                "select",
                format!("{dotted}: first page readable ({} row)", rows.len()),
            )),
            Err(e) => checks.push(Check::fail("select", format!("{dotted}: {e}"))),
        }
    }
    db.close().await;
    checks
}

/// Whether an index serves the keyset order: one whose columns start with the ordering
/// columns (cursor, then key), or at least with the first cursor column. Without one, every
/// page sorts the whole table.
pub fn index_check(dotted: &str, ordering: &[String], indexes: &[Vec<String>]) -> Check {
    let full = indexes.iter().any(|i| i.starts_with(ordering));
    let leading = indexes.iter().any(|i| i.first() == ordering.first());
    if full {
        Check::pass(
            "index",
            format!("{dotted}: ({}) indexed", ordering.join(", ")),
        )
    } else if leading {
        Check::pass(
            "index",
            format!(
                "{dotted}: {} indexed; an index on ({}) would serve pages exactly",
                ordering[0],
                ordering.join(", ")
            ),
        )
    } else {
        Check::fail(
            "index",
            format!(
                "{dotted}: no index starts with the cursor: every poll sorts the whole table; CREATE INDEX ON {dotted} ({})",
                ordering.join(", ")
            ),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_source_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("legacy.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let SourceDb::Sqlite(mut conn) = SourceDb::connect(&url).await.unwrap() else {
            panic!()
        };
        sqlx::raw_sql(
            "CREATE TABLE ho_so (id INTEGER PRIMARY KEY, cap_nhat TEXT NOT NULL);
             CREATE TABLE nhat_ky (ma TEXT, sua_luc TEXT);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let config: PollSourceConfig = toml::from_str(
            r#"
            database = "legacy"
            [[tables]]
            table = "main.ho_so"
            cursor = ["cap_nhat"]
            [[tables]]
            table = "main.nhat_ky"
            cursor = ["sua_luc"]
            key = ["ma"]
            [[tables]]
            table = "main.khong_co"
            cursor = ["x"]
            [[tables]]
            table = "main.ho_so"
            cursor = ["sua_luc"]
            "#,
        )
        .unwrap();
        let checks = run("s", &config, &url).await;
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.detail.as_str())
            .collect();
        assert_eq!(failed.len(), 5, "{checks:#?}");
        assert!(
            failed[0].contains("main.ho_so: no index starts with the cursor"),
            "{}",
            failed[0]
        );
        assert!(
            failed[1].contains("main.nhat_ky: cursor or key column(s) sua_luc, ma may be NULL"),
            "{}",
            failed[1]
        );
        assert!(failed[2].contains("CREATE INDEX ON main.nhat_ky (sua_luc, ma)"));
        assert!(failed[3].contains("main.khong_co does not exist"));
        assert!(failed[4].contains("cursor column `sua_luc` of main.ho_so"));
        assert!(
            checks
                .iter()
                .any(|c| c.ok && c.detail == "main.ho_so: first page readable (0 row)")
        );
        let one = |name: &str| vec![name.to_string()];
        let ordering = ["c".to_string(), "k".to_string()];
        let exact = vec!["c".to_string(), "k".to_string(), "x".to_string()];
        assert!(index_check("t", &ordering, &[one("k"), exact]).ok);
        assert!(index_check("t", &ordering, &[one("c")]).ok);
        let wrong_order = vec!["k".to_string(), "c".to_string()];
        assert!(!index_check("t", &ordering, &[one("k"), wrong_order]).ok);
        let unreachable = run("s", &config, "sqlite:///nonexistent/dir/x.db").await;
        assert_eq!(unreachable.len(), 1);
        assert_eq!(unreachable[0].name, "connect");
    }
}
