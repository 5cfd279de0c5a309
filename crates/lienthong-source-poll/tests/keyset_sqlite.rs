//! The keyset queries against a real SQLite database (no broker): pages of any size visit every
//! row exactly once, in order, however many rows share a cursor value; the safety-window query
//! returns exactly the rows between its floor and the cursor.

#![allow(clippy::unwrap_used)]

use lienthong_source_poll::PollSourceConfig;
use lienthong_source_poll::catalog::TableName;
use lienthong_source_poll::database::SourceDb;
use lienthong_source_poll::dialect::{Bind, PageStart};
use lienthong_source_poll::events::PolledTable;
use lienthong_source_poll::values::Cell;

async fn source() -> (tempfile::TempDir, SourceDb, PolledTable) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("legacy.db").display()
    );
    let mut db = SourceDb::connect(&url).await.unwrap();
    let SourceDb::Sqlite(conn) = &mut db else {
        panic!("not SQLite")
    };
    // Composite key; 250 rows share one timestamp, keys of 1 to 3 digits in both parts.
    let mut rows = Vec::new();
    for i in 0..250 {
        rows.push(format!(
            "('{}', {}, 'dòng {i}', '2025-07-01 08:00:00')",
            ["A", "B", "C"][i % 3],
            i * 7 % 251
        ));
    }
    for i in 250..300 {
        rows.push(format!(
            "('A', {}, 'dòng {i}', '2025-07-01 08:00:{:02}')",
            1000 + i,
            i % 60
        ));
    }
    sqlx::raw_sql(&format!(
        "CREATE TABLE ho_so (ma TEXT NOT NULL, so INTEGER NOT NULL, noi_dung TEXT,
                             cap_nhat TEXT NOT NULL, PRIMARY KEY (ma, so));
         INSERT INTO ho_so VALUES {};",
        rows.join(", ")
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    let catalog = db
        .table(&TableName::new("main", "ho_so"))
        .await
        .unwrap()
        .unwrap();
    let config: PollSourceConfig = serde_json::from_value(serde_json::json!({
        "database": "legacy",
        "tables": [{ "table": "main.ho_so", "cursor": ["cap_nhat"] }],
    }))
    .unwrap();
    let table = PolledTable::new(
        &catalog,
        &config.tables[0],
        &config,
        "s",
        db.dialect(),
        "legacy.db",
        1,
    )
    .unwrap();
    (dir, db, table)
}

fn ordering(table: &PolledTable, row: &[Cell]) -> Vec<Cell> {
    table.ordering.iter().map(|&i| row[i].clone()).collect()
}

/// Reads pages of `batch` rows from `start` (after a position, or from a floor up to a
/// cursor) until a short page.
async fn read_all(
    db: &mut SourceDb,
    table: &PolledTable,
    batch: u32,
    floor: Option<&Cell>,
    up_to: Option<&[Cell]>,
) -> Vec<Vec<Cell>> {
    let mut all = Vec::new();
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let start = match (&after, floor) {
            (Some(_), _) => PageStart::After,
            (None, Some(_)) => PageStart::Floor,
            (None, None) => PageStart::First,
        };
        let query = table.shape().page(start, up_to.is_some(), batch);
        let binds: Vec<&Cell> = query
            .binds
            .iter()
            .map(|b| match b {
                Bind::After(i) => &after.as_ref().unwrap()[*i],
                Bind::UpTo(i) => &up_to.unwrap()[*i],
                Bind::Floor => floor.unwrap(),
            })
            .collect();
        let rows = db.fetch(&query, &binds).await.unwrap();
        let full = rows.len() == batch as usize;
        if let Some(last) = rows.last() {
            after = Some(ordering(table, last));
        }
        all.extend(rows);
        if !full {
            return all;
        }
    }
}

#[tokio::test]
async fn pages_of_any_size_visit_every_row_once_in_order() {
    let (_dir, mut db, table) = source().await;
    let everything = read_all(&mut db, &table, 10_000, None, None).await;
    assert_eq!(everything.len(), 300);
    for batch in [1, 7, 40, 249, 250, 251] {
        let paged = read_all(&mut db, &table, batch, None, None).await;
        assert_eq!(paged, everything, "batch {batch}");
    }
    // In cursor order, then key order.
    let keys: Vec<(String, String, i64)> = everything
        .iter()
        .map(|r| {
            let (Cell::Text(t), Cell::Text(m), Cell::Int(s)) = (&r[3], &r[0], &r[1]) else {
                panic!("{r:?}")
            };
            (t.clone(), m.clone(), *s)
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn the_window_query_stops_at_the_cursor() {
    let (_dir, mut db, table) = source().await;
    let everything = read_all(&mut db, &table, 10_000, None, None).await;
    // The cursor at the 100th of the rows sharing 08:00:00; the floor at that timestamp.
    let cursor = ordering(&table, &everything[99]);
    let floor = Cell::Text("2025-07-01 08:00:00".into());
    for batch in [3, 100, 1000] {
        let window = read_all(&mut db, &table, batch, Some(&floor), Some(&cursor)).await;
        assert_eq!(window, everything[..100], "batch {batch}");
    }
    // A floor above every row: nothing.
    let late = Cell::Text("2025-07-01 09:00:00".into());
    assert!(
        read_all(&mut db, &table, 10, Some(&late), Some(&cursor))
            .await
            .is_empty()
    );
}

/// SQLite lets a `TEXT PRIMARY KEY` hold NULL: such a row cannot be ordered or published, and
/// must not hide the rows after it.
#[tokio::test]
async fn a_null_key_does_not_hide_the_rows_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("legacy.db").display()
    );
    let mut db = SourceDb::connect(&url).await.unwrap();
    let SourceDb::Sqlite(conn) = &mut db else {
        panic!("not SQLite")
    };
    sqlx::raw_sql(
        "CREATE TABLE ma_so (ma TEXT PRIMARY KEY, cap_nhat TEXT NOT NULL);
         INSERT INTO ma_so VALUES (NULL, 't1'), ('a', 't1'), ('b', 't1'), ('c', 't2');",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let catalog = db
        .table(&TableName::new("main", "ma_so"))
        .await
        .unwrap()
        .unwrap();
    let config: PollSourceConfig = serde_json::from_value(serde_json::json!({
        "database": "legacy",
        "tables": [{ "table": "main.ma_so", "cursor": ["cap_nhat"] }],
    }))
    .unwrap();
    let table = PolledTable::new(
        &catalog,
        &config.tables[0],
        &config,
        "s",
        db.dialect(),
        "legacy.db",
        1,
    )
    .unwrap();
    let keys: Vec<Cell> = read_all(&mut db, &table, 1, None, None)
        .await
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(
        keys,
        ["a", "b", "c"].map(|k| Cell::Text(k.into())),
        "NULLs first in SQLite's order would otherwise stop the scan at the first page"
    );
}
