//! `lienthong datagen seed` and `lienthong datagen workload` as real processes against the
//! local stack's PostgreSQL and MariaDB, each test in databases of its own (created by the seed
//! command, dropped at the end): the tables hold what `datagen.json` and `truth.csv` say, every
//! row read back from the databases translates with the shipped mapping files as its truth says
//! (`lienthong mapping test`), and the workload's summary counts are exactly what a comparison
//! of the tables before and after shows, whether it stops after N changes or on SIGTERM.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lienthong_tests::{lienthong, lienthong_bin, stack, text};
use serde_json::{Map, Value as Json, json};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection, Row};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// A PostgreSQL and a MariaDB database of the test's own, named but not created: the seed
/// command creates them. Dropped when the test ends, failed or not.
struct Databases {
    postgres_name: String,
    mariadb_name: String,
    postgres: String,
    mariadb: String,
}

impl Databases {
    fn new(prefix: &str) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let postgres_name = format!("lt_{prefix}_{tag}");
        let mariadb_name = format!("lt_{prefix}_{tag}");
        let base = |url: &str| url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        Self {
            postgres: format!("{}/{postgres_name}", base(&stack::postgres_url())),
            mariadb: format!("{}/{mariadb_name}", base(&stack::mariadb_url())),
            postgres_name,
            mariadb_name,
        }
    }

    async fn pg(&self) -> PgConnection {
        PgConnection::connect(&self.postgres)
            .await
            .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"))
    }

    async fn my(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.mariadb)
            .await
            .unwrap_or_else(|e| panic!("{e}: is the local stack up? (`make up`)"))
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let (pg, my) = (self.postgres_name.clone(), self.mariadb_name.clone());
        // Drop runs inside the test's runtime: clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&stack::postgres_url()).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {pg} WITH (FORCE)").as_str())
                        .await;
                }
                if let Ok(mut admin) = MySqlConnection::connect(&stack::mariadb_url()).await {
                    let _ = admin
                        .execute(format!("DROP DATABASE IF EXISTS {my}").as_str())
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// `lienthong datagen seed` into `dbs`, files into `out`; returns `datagen.json`.
fn seed(dbs: &Databases, out: &Path, extra: &[&str]) -> Json {
    let mut args = vec![
        "datagen",
        "seed",
        "--postgres",
        &dbs.postgres,
        "--mariadb",
        &dbs.mariadb,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = lienthong(&args, &[]);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "seed failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("rows into public.ho_so_can_bo"), "{stdout}");
    assert!(stdout.contains("rows into QUA_TRINH_THAM_GIA"), "{stdout}");
    // The URLs' passwords are never shown.
    assert!(!stdout.contains(":lienthong@"), "{stdout}");
    serde_json::from_slice(&std::fs::read(out.join("datagen.json")).unwrap()).unwrap()
}

/// `truth.csv`, by record id.
fn truth(out: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(out.join("truth.csv")).unwrap();
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Every `ho_so_can_bo` row as a sample row of `lienthong mapping test`, typed as the
/// connector sends it (dates, exact decimals, the instant of `timestamptz`, padded `char`).
async fn civil_servant_rows(pg: &mut PgConnection) -> Vec<Json> {
    let rows = sqlx::query(
        "SELECT row_to_json(t)::text, extract(epoch FROM cap_nhat_luc)::bigint, \
         he_so_luong::text, he_so_phu_cap_cv::text FROM public.ho_so_can_bo t ORDER BY id",
    )
    .fetch_all(pg)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let mut object: Map<String, Json> =
                serde_json::from_str(&row.get::<String, _>(0)).unwrap();
            for date in [
                "ngay_sinh",
                "ngay_tuyen_dung",
                "ngay_bo_nhiem_ngach",
                "ngay_vao_dang",
            ] {
                if let Some(Json::String(d)) = object.get(date).cloned() {
                    object.insert(date.to_owned(), json!({ "date": d }));
                }
            }
            object.insert(
                "cap_nhat_luc".to_owned(),
                json!({ "timestamp": row.get::<i64, _>(1) }),
            );
            for (i, column) in [(2, "he_so_luong"), (3, "he_so_phu_cap_cv")] {
                let value: Option<String> = row.get(i);
                object.insert(
                    column.to_owned(),
                    value.map_or(Json::Null, |v| json!({ "decimal": v })),
                );
            }
            Json::Object(object)
        })
        .collect()
}

const BHXH_COLUMNS: [&str; 19] = [
    "ID",
    "MA_SO_BHXH",
    "SO_CCCD",
    "SO_CMND",
    "HO_TEN",
    "NGAY_SINH",
    "GIOI_TINH",
    "MA_DAN_TOC",
    "MA_TINH_KS",
    "MA_TINH",
    "DIA_CHI",
    "DIEN_THOAI",
    "LOAI_BH",
    "MA_DON_VI",
    "TEN_DON_VI",
    "MUC_LUONG",
    "TU_THANG",
    "DEN_THANG",
    "NGAY_CAP_NHAT",
];

/// Every `QUA_TRINH_THAM_GIA` row as a sample row, typed as the binlog connector sends it.
async fn social_insurance_rows(my: &mut MySqlConnection) -> Vec<Json> {
    let select: Vec<String> = BHXH_COLUMNS
        .iter()
        .map(|c| match *c {
            "ID" | "GIOI_TINH" => format!("CAST({c} AS SIGNED)"),
            "MUC_LUONG" => format!("CAST({c} AS CHAR)"),
            "NGAY_CAP_NHAT" => format!("DATE_FORMAT({c}, '%Y-%m-%d %H:%i:%s')"),
            _ => (*c).to_owned(),
        })
        .collect();
    let rows = sqlx::query(&format!(
        "SELECT {} FROM QUA_TRINH_THAM_GIA ORDER BY ID",
        select.join(", ")
    ))
    .fetch_all(my)
    .await
    .unwrap();
    rows.iter()
        .map(|row| {
            let mut object = Map::new();
            for (i, column) in BHXH_COLUMNS.iter().enumerate() {
                let value = match *column {
                    "ID" | "GIOI_TINH" => row
                        .get::<Option<i64>, _>(i)
                        .map_or(Json::Null, |v| json!(v)),
                    "MUC_LUONG" => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!({ "decimal": v })),
                    "NGAY_CAP_NHAT" => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!({ "datetime": v })),
                    _ => row
                        .get::<Option<String>, _>(i)
                        .map_or(Json::Null, |v| json!(v)),
                };
                object.insert((*column).to_owned(), value);
            }
            Json::Object(object)
        })
        .collect()
}

/// `lienthong mapping test --format json` of `rows` with a shipped mapping: one result per row.
fn mapping_test(dir: &Path, mapping: &str, key: &str, rows: &[Json]) -> (Option<i32>, Vec<Json>) {
    let input = dir.join(format!("{key}-rows.jsonl"));
    let lines: Vec<String> = rows.iter().map(Json::to_string).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let mapping = schemas().join("mappings").join(mapping);
    let run = lienthong(
        &[
            "mapping",
            "test",
            "--mapping",
            mapping.to_str().unwrap(),
            "--key",
            key,
            "--input",
            input.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    let (stdout, stderr) = text(&run);
    let results: Vec<Json> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}\n{stderr}")))
        .collect();
    assert_eq!(results.len(), rows.len(), "{stderr}");
    (run.status.code(), results)
}

/// Checks each translated row against its truth row; returns (clean rows, rejected rows).
fn check_against_truth(results: &[Json], truth: &[&HashMap<String, String>]) -> (usize, usize) {
    let (mut clean, mut rejected) = (0, 0);
    for (result, truth) in results.iter().zip(truth) {
        let record_id = &truth["record_id"];
        if truth["outcome"] == "dead_lettered" {
            assert_eq!(result["outcome"], "rejected", "{record_id}: {result}");
            assert_eq!(result["kind"], "mapping.field", "{record_id}: {result}");
            rejected += 1;
            continue;
        }
        assert_eq!(result["outcome"], "translated", "{record_id}: {result}");
        assert_eq!(result["key"], record_id.as_str());
        let findings = result["findings"].as_array().unwrap();
        let codes: HashSet<&str> = findings
            .iter()
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        for expected in truth["findings"].split(';').filter(|s| !s.is_empty()) {
            assert!(
                codes.contains(expected),
                "{record_id} ({}): {expected} expected, found {codes:?}",
                truth["errors"]
            );
        }
        if truth["errors"].is_empty() {
            clean += 1;
            let problems: Vec<&Json> = findings
                .iter()
                .filter(|f| f["severity"] != "info")
                .collect();
            assert!(
                problems.is_empty(),
                "{record_id}: a clean row has {problems:?}"
            );
            // A clean row states its person's current number.
            assert_eq!(
                result["entity"]["person"]["personal_id"],
                truth["personal_id"].as_str(),
                "{record_id}"
            );
        }
    }
    (clean, rejected)
}

#[tokio::test(flavor = "multi_thread")]
async fn seeded_tables_hold_the_truth_and_translate_with_the_shipped_mappings() {
    let dbs = Databases::new("dgseed");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    // More defects than by default, so each kind shows up in a small data set.
    let defects = dir.path().join("defects.toml");
    std::fs::write(
        &defects,
        "invalid_id = 0.03\nvni = 0.03\nunknown_code = 0.03\nimpossible_date = 0.03\n\
         partial_birth_date = 0.03\nunreadable_period = 0.03\ninvalid_insurance_number = 0.03\n",
    )
    .unwrap();
    let started = Instant::now();
    let summary = seed(
        &dbs,
        &out,
        &[
            "--people",
            "30000",
            "--civil-servants",
            "3000",
            "--insured",
            "2000",
            "--seed",
            "11",
            "--defects",
            defects.to_str().unwrap(),
        ],
    );
    eprintln!("seeded in {:.1?}", started.elapsed());
    let civil = &summary["tables"]["ho_so_can_bo"];
    let insurance = &summary["tables"]["QUA_TRINH_THAM_GIA"];
    assert_eq!(civil["rows"], 3000);
    assert_eq!(insurance["people"], 2000);

    // The databases hold exactly the rows the summary and the truth describe.
    let mut pg = dbs.pg().await;
    let mut my = dbs.my().await;
    let pg_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.ho_so_can_bo")
        .fetch_one(&mut pg)
        .await
        .unwrap();
    let my_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM QUA_TRINH_THAM_GIA")
        .fetch_one(&mut my)
        .await
        .unwrap();
    assert_eq!(pg_rows, civil["rows"].as_i64().unwrap());
    assert_eq!(my_rows, insurance["rows"].as_i64().unwrap());
    let truth = truth(&out);
    let civil_truth: Vec<&HashMap<String, String>> = truth
        .iter()
        .filter(|t| t["table"] == "ho_so_can_bo")
        .collect();
    let insurance_truth: Vec<&HashMap<String, String>> = truth
        .iter()
        .filter(|t| t["table"] == "QUA_TRINH_THAM_GIA")
        .collect();
    assert_eq!(civil_truth.len() as i64, pg_rows);
    assert_eq!(insurance_truth.len() as i64, my_rows);

    // People are shared with the register the resolver loads, and between the databases.
    let register: HashSet<String> = csv::Reader::from_path(out.join("register.csv"))
        .unwrap()
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .collect();
    assert_eq!(register.len(), 30_000);
    let ids = |rows: &[&HashMap<String, String>]| -> HashSet<String> {
        rows.iter()
            .map(|t| t["personal_id"].clone())
            .filter(|id| !id.is_empty())
            .collect()
    };
    let (civil_ids, insured_ids) = (ids(&civil_truth), ids(&insurance_truth));
    assert!(
        civil_ids
            .iter()
            .chain(&insured_ids)
            .all(|id| register.contains(id))
    );
    let shared = civil_ids.intersection(&insured_ids).count();
    assert!(shared >= 550, "{shared} people in both databases");
    // Most rows state the number the register has; the ID column is what the truth says.
    let stated: Vec<(i64, Option<String>)> =
        sqlx::query("SELECT id, btrim(so_dinh_danh) FROM public.ho_so_can_bo ORDER BY id")
            .fetch_all(&mut pg)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    let as_registered = stated
        .iter()
        .zip(&civil_truth)
        .filter(|((id, stated), truth)| {
            assert_eq!(truth["id"], id.to_string());
            stated.as_deref() == Some(truth["personal_id"].as_str())
        })
        .count();
    assert!(as_registered > 2_400, "{as_registered}");

    // Every row, read back from the database, translates as its truth says.
    let rows = civil_servant_rows(&mut pg).await;
    let (code, results) = mapping_test(dir.path(), "csdl-cbcc/ho_so_can_bo.toml", "id", &rows);
    assert_eq!(code, Some(0), "no civil-servant row is dead-lettered");
    let (clean, rejected) = check_against_truth(&results, &civil_truth);
    assert_eq!(rejected, 0);
    assert_eq!(clean as u64, civil["clean"].as_u64().unwrap());
    assert!(clean > 1_500, "{clean}");

    let rows = social_insurance_rows(&mut my).await;
    let (code, results) = mapping_test(dir.path(), "bhxh/qua_trinh_tham_gia.toml", "ID", &rows);
    let (clean, rejected) = check_against_truth(&results, &insurance_truth);
    assert_eq!(
        rejected as u64,
        insurance["dead_lettered"].as_u64().unwrap()
    );
    assert!(rejected > 0, "unreadable periods are dead-lettered");
    assert_eq!(code, Some(1), "some rows are rejected");
    assert_eq!(clean as u64, insurance["clean"].as_u64().unwrap());

    // Seeding again into tables that hold rows is refused, unless --replace.
    let again = lienthong(
        &[
            "datagen",
            "seed",
            "--postgres",
            &dbs.postgres,
            "--out",
            dir.path().join("again").to_str().unwrap(),
            "--people",
            "5000",
            "--civil-servants",
            "100",
        ],
        &[],
    );
    let (stdout, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("already holds 3000 row(s)"), "{stderr}");
    assert!(!stderr.contains(":lienthong@"), "{stderr}");
    let replaced = lienthong(
        &[
            "datagen",
            "seed",
            "--postgres",
            &dbs.postgres,
            "--out",
            dir.path().join("again").to_str().unwrap(),
            "--people",
            "5000",
            "--civil-servants",
            "100",
            "--replace",
        ],
        &[],
    );
    assert!(replaced.status.success(), "{:?}", text(&replaced));
    let pg_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM public.ho_so_can_bo")
        .fetch_one(&mut pg)
        .await
        .unwrap();
    assert_eq!(pg_rows, 100);
}

/// The content of each row of both tables, by id, and the columns the kinds of change touch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CivilRow {
    status: Option<i16>,
    rank: Option<String>,
    step: Option<i16>,
    organisation: Option<i64>,
    whole: String,
}

async fn civil_snapshot(pg: &mut PgConnection) -> BTreeMap<i64, CivilRow> {
    sqlx::query(
        "SELECT id, trang_thai, ma_ngach, bac_luong, don_vi_id, row_to_json(t)::text \
         FROM public.ho_so_can_bo t",
    )
    .fetch_all(pg)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get(0),
            CivilRow {
                status: r.get(1),
                rank: r.get(2),
                step: r.get(3),
                organisation: r.get(4),
                whole: r.get(5),
            },
        )
    })
    .collect()
}

async fn insurance_snapshot(my: &mut MySqlConnection) -> BTreeMap<i64, String> {
    let columns: Vec<String> = BHXH_COLUMNS
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS CHAR), '<null>')"))
        .collect();
    sqlx::query(&format!(
        "SELECT ID, CONCAT_WS('|', {}) FROM QUA_TRINH_THAM_GIA",
        columns.join(", ")
    ))
    .fetch_all(my)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// Rows inserted, updated and deleted between two snapshots.
fn diff<V: PartialEq>(before: &BTreeMap<i64, V>, after: &BTreeMap<i64, V>) -> (u64, u64, u64) {
    let inserted = after.keys().filter(|k| !before.contains_key(k)).count();
    let deleted = before.keys().filter(|k| !after.contains_key(k)).count();
    let updated = before
        .iter()
        .filter(|(k, v)| after.get(k).is_some_and(|a| a != *v))
        .count();
    (inserted as u64, updated as u64, deleted as u64)
}

fn counts(summary: &Json, table: &str) -> (u64, u64, u64) {
    let t = &summary["tables"][table];
    (
        t["inserted"].as_u64().unwrap(),
        t["updated"].as_u64().unwrap(),
        t["deleted"].as_u64().unwrap(),
    )
}

fn kind(summary: &Json, table: &str, kind: &str) -> u64 {
    summary["tables"][table]["kinds"][kind]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workload_of_n_changes_is_exactly_what_the_tables_show() {
    let dbs = Databases::new("dgwork");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    seed(
        &dbs,
        &out,
        &[
            "--people",
            "20000",
            "--civil-servants",
            "1500",
            "--insured",
            "1000",
            "--seed",
            "12",
        ],
    );
    let mut pg = dbs.pg().await;
    let mut my = dbs.my().await;
    let civil_before = civil_snapshot(&mut pg).await;
    let insurance_before = insurance_snapshot(&mut my).await;

    let started = Instant::now();
    let run = lienthong(
        &[
            "datagen",
            "workload",
            "--postgres",
            &dbs.postgres,
            "--mariadb",
            &dbs.mariadb,
            "--changes",
            "200",
            "--rate",
            "100",
            "--seed",
            "12",
            "--people",
            "20000",
        ],
        &[],
    );
    let elapsed = started.elapsed();
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    let summary: Json = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["changes"], 200, "{summary}");
    assert_eq!(summary["stopped_by"], "changes");
    assert_eq!(
        (summary["failed"].as_u64(), summary["uncertain"].as_u64()),
        (Some(0), Some(0))
    );
    // 100 changes per second with a burst of 5: at least (200 - 6) / 100 seconds, and the
    // databases keep up with that rate.
    let seconds = summary["elapsed_seconds"].as_f64().unwrap();
    assert!(
        (1.9..10.0).contains(&seconds),
        "{seconds} s: not rate-limited"
    );
    assert!(summary["rate"].as_f64().unwrap() <= 101.0, "{summary}");
    assert!(elapsed.as_secs_f64() >= seconds);
    assert!(
        summary["positions"]["postgres_lsn"]
            .as_str()
            .is_some_and(|l| l.contains('/'))
    );
    assert!(
        summary["positions"]["mariadb_gtid"].is_string(),
        "{summary}"
    );

    let civil_after = civil_snapshot(&mut pg).await;
    let insurance_after = insurance_snapshot(&mut my).await;
    let civil_counts = counts(&summary, "ho_so_can_bo");
    let insurance_counts = counts(&summary, "QUA_TRINH_THAM_GIA");
    assert_eq!(diff(&civil_before, &civil_after), civil_counts, "{summary}");
    assert_eq!(
        diff(&insurance_before, &insurance_after),
        insurance_counts,
        "{summary}"
    );
    // Both tables gained and changed rows.
    for (inserted, updated, _) in [civil_counts, insurance_counts] {
        assert!(inserted > 0 && updated > 0, "{summary}");
    }
    let kinds_total: u64 = ["ho_so_can_bo", "QUA_TRINH_THAM_GIA"]
        .iter()
        .flat_map(|t| summary["tables"][t]["kinds"].as_object().unwrap().values())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(kinds_total, 200);

    // Each kind of civil-servant change shows as what it is.
    let changed: Vec<(&CivilRow, &CivilRow)> = civil_before
        .iter()
        .filter_map(|(id, before)| civil_after.get(id).map(|after| (before, after)))
        .filter(|(b, a)| b != a)
        .collect();
    let count = |f: &dyn Fn(&CivilRow, &CivilRow) -> bool| {
        changed.iter().filter(|(b, a)| f(b, a)).count() as u64
    };
    let t = "ho_so_can_bo";
    assert_eq!(
        count(&|b, a| b.status == Some(1) && a.status == Some(2)),
        kind(&summary, t, "retirement")
    );
    assert_eq!(
        count(&|b, a| b.status == Some(1) && a.status == Some(3)),
        kind(&summary, t, "resignation")
    );
    assert_eq!(
        count(&|b, a| b.organisation != a.organisation),
        kind(&summary, t, "transfer")
    );
    assert_eq!(
        count(&|b, a| (&b.rank, b.step) != (&a.rank, a.step)),
        kind(&summary, t, "promotion")
    );
    assert_eq!(
        civil_after.len() as u64,
        civil_before.len() as u64 + kind(&summary, t, "hire") - kind(&summary, t, "removal")
    );
    // Every enrolment is a new row; a salary or employer change adds one unless the open period
    // began this month.
    let i = "QUA_TRINH_THAM_GIA";
    let enrolments = kind(&summary, i, "enrolment");
    let new_periods = kind(&summary, i, "salary_change") + kind(&summary, i, "employer_change");
    assert!(
        (enrolments..=enrolments + new_periods).contains(&insurance_counts.0),
        "{summary}"
    );
    assert_eq!(insurance_counts.2, kind(&summary, i, "removal"));

    // Progress went to standard error, not to the JSON line.
    assert!(stderr.contains("workload:"), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_workload_cleanly_with_a_summary() {
    let dbs = Databases::new("dgterm");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    seed(
        &dbs,
        &out,
        &[
            "--people",
            "10000",
            "--civil-servants",
            "600",
            "--insured",
            "400",
            "--seed",
            "13",
        ],
    );
    let mut pg = dbs.pg().await;
    let mut my = dbs.my().await;
    let civil_before = civil_snapshot(&mut pg).await;
    let insurance_before = insurance_snapshot(&mut my).await;

    let child = Command::new(lienthong_bin())
        .args([
            "datagen",
            "workload",
            "--postgres",
            &dbs.postgres,
            "--mariadb",
            &dbs.mariadb,
            "--rate",
            "100",
            "--seed",
            "13",
            "--people",
            "10000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let summary: Json = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["stopped_by"], "signal", "{summary}");
    let changes = summary["changes"].as_u64().unwrap();
    // Starting (the register is made again) takes a moment; then 100 per second.
    assert!((20..=320).contains(&changes), "{changes} changes in 3 s");
    assert!(
        stderr.contains("changes in"),
        "progress is reported: {stderr}"
    );

    let civil_after = civil_snapshot(&mut pg).await;
    let insurance_after = insurance_snapshot(&mut my).await;
    assert_eq!(
        diff(&civil_before, &civil_after),
        counts(&summary, "ho_so_can_bo")
    );
    assert_eq!(
        diff(&insurance_before, &insurance_after),
        counts(&summary, "QUA_TRINH_THAM_GIA")
    );
}
