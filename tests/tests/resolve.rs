//! The population-ID resolver as real processes: `lienthong datagen` makes a register and a
//! civil-servant list with injected errors and ground truth; `lienthong reconcile` reconciles
//! the list (from CSV and from PostgreSQL) and its report is checked against the truth;
//! `lienthong resolve` answers gRPC calls, resolves canonical records from the broker, follows
//! the register topic, and restarts from its index snapshot.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lienthong_proto::v1::resolve_service_client::ResolveServiceClient;
use lienthong_proto::v1::{
    CodedValue, Date, MatchMethod, MatchStatus, Person, PersonName, Place, PopulationChangeKind,
    PopulationRecord, ResolveRequest, ResolvedPerson, Sex,
};
use lienthong_runtime::kafka::{EventProducer, OutboundRecord, RecordHeaders, TopicAdmin};
use lienthong_runtime::metrics::KafkaMetrics;
use lienthong_tests::process::Service;
use lienthong_tests::topics::{TopicReader, kafka_config};
use lienthong_tests::{lienthong, stack, text};
use prost::Message as _;

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

/// `lienthong datagen` into `dir`.
fn datagen(dir: &Path, people: usize, servants: usize, seed: u64) {
    let out = lienthong(
        &[
            "datagen",
            "--out",
            dir.to_str().unwrap(),
            "--people",
            &people.to_string(),
            "--civil-servants",
            &servants.to_string(),
            "--seed",
            &seed.to_string(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "datagen failed:\n{stdout}\n{stderr}");
}

/// Reads a CSV (BOM tolerated) into rows of named values.
fn read_rows(path: &Path) -> Vec<HashMap<String, String>> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
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

/// Precision and recall of a report (column names in `lang`) against `truth.csv`.
fn score(report: &Path, truth: &Path, lang: &str) -> (f64, f64, f64, usize) {
    let (id_col, status_col, register_col) = match lang {
        "en" => ("Record ID", "Outcome", "Register personal ID"),
        _ => ("Mã hồ sơ", "Kết quả", "Số định danh trong CSDL dân cư"),
    };
    let truth: HashMap<String, String> = read_rows(truth)
        .into_iter()
        .map(|r| (r["ma_ho_so"].clone(), r["personal_id"].clone()))
        .collect();
    let rows = read_rows(report);
    let (mut right, mut wrong, mut present, mut absent, mut absent_right) = (0, 0, 0, 0, 0);
    for row in &rows {
        let expected = &truth[&row[id_col]];
        let found = &row[register_col];
        let matched = !found.is_empty();
        if expected.is_empty() {
            absent += 1;
            absent_right += usize::from(!matched);
        } else {
            present += 1;
        }
        if matched {
            if found == expected {
                right += 1;
            } else {
                wrong += 1;
                eprintln!("wrong: {row:?} (truth {expected})");
            }
        }
        assert!(!row[status_col].is_empty());
    }
    let precision = f64::from(right) / f64::from((right + wrong).max(1));
    let recall = f64::from(right) / f64::from(present.max(1));
    let not_found = absent_right as f64 / absent.max(1) as f64;
    (precision, recall, not_found, rows.len())
}

#[test]
fn a_generated_list_reconciles_from_csv_and_from_postgresql_with_reports_for_officials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    datagen(&data, 30_000, 3_000, 7);
    let register = data.join("register.csv");
    let list = data.join("civil_servants.csv");
    let truth = data.join("truth.csv");

    // From the CSV export, Vietnamese report.
    let out = dir.path().join("report-vi");
    let run = lienthong(
        &[
            "reconcile",
            "--register",
            register.to_str().unwrap(),
            "--codelists",
            schemas().join("codelists").to_str().unwrap(),
            "--input",
            list.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&run);
    assert!(
        run.status.success(),
        "reconcile failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("reconciled"), "{stdout}");
    let csv_bytes = std::fs::read(out.join("report.csv")).unwrap();
    assert!(
        csv_bytes.starts_with(b"\xef\xbb\xbf"),
        "Excel needs the BOM"
    );
    let (precision, recall, not_found, rows) = score(&out.join("report.csv"), &truth, "vi");
    eprintln!(
        "csv: precision {precision:.4} recall {recall:.4} not-found {not_found:.4} over {rows}"
    );
    assert!(rows >= 3_000, "{rows} rows");
    assert!(precision >= 0.995, "precision {precision}");
    assert!(recall >= 0.97, "recall {recall}");
    assert!(not_found >= 0.97, "not found right {not_found}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Báo cáo đối soát") && html.contains("<svg"),
        "{html:.300}"
    );
    assert!(html.contains("Sai lệch theo trường thông tin"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["records"].as_array().unwrap().len(), rows);
    assert_eq!(json["summary"]["records"].as_u64().unwrap() as usize, rows);
    assert!(
        json["summary"]["legacy_names"].as_u64().unwrap() > 0,
        "TCVN3 names seen"
    );

    // The same list from PostgreSQL, with columns renamed and mapped, English report.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let table = format!("cs_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&stack::postgres_url())
            .await
            .unwrap();
        sqlx::query(&format!(
            "CREATE TABLE {table} (ma text, ten text, dob text, phai text, ddcn text, tinh text, cq text)"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        for row in read_rows(&list) {
            sqlx::query(&format!(
                "INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(&row["ma_ho_so"])
            .bind(&row["ho_va_ten"])
            .bind(&row["ngay_sinh"])
            .bind(&row["gioi_tinh"])
            .bind(&row["so_dinh_danh"])
            .bind(&row["noi_sinh"])
            .bind(&row["co_quan"])
            .execute(&mut conn)
            .await
            .unwrap();
        }
    });
    let out_en = dir.path().join("report-en");
    let run = lienthong(
        &[
            "reconcile",
            "--register",
            register.to_str().unwrap(),
            "--codelists",
            schemas().join("codelists").to_str().unwrap(),
            "--input-postgres",
            &stack::postgres_url(),
            "--query",
            &format!("SELECT * FROM {table} ORDER BY ma"),
            "--map",
            "record_id=ma",
            "--map",
            "full_name=ten",
            "--map",
            "birth_date=dob",
            "--map",
            "sex=phai",
            "--map",
            "personal_id=ddcn",
            "--map",
            "birth_province=tinh",
            "--map",
            "organisation=cq",
            "--lang",
            "en",
            "--out",
            out_en.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, stderr) = text(&run);
    assert!(
        run.status.success(),
        "reconcile from PostgreSQL failed:\n{stdout}\n{stderr}"
    );
    let (p2, r2, _, rows2) = score(&out_en.join("report.csv"), &truth, "en");
    assert_eq!(rows2, rows);
    assert!(
        (p2 - precision).abs() < 0.01 && (r2 - recall).abs() < 0.01,
        "{p2} {r2}"
    );
    let html = std::fs::read_to_string(out_en.join("report.html")).unwrap();
    assert!(html.contains("Reconciliation with the National Population Database"));

    // A column mapping naming a column the input lacks is refused, naming what it has.
    let run = lienthong(
        &[
            "reconcile",
            "--register",
            register.to_str().unwrap(),
            "--codelists",
            schemas().join("codelists").to_str().unwrap(),
            "--input",
            list.to_str().unwrap(),
            "--map",
            "birth_date=NGAY_SINH_X",
            "--out",
            dir.path().join("never").to_str().unwrap(),
        ],
        &[],
    );
    let (_, stderr) = text(&run);
    assert!(!run.status.success());
    assert!(
        stderr.contains("NGAY_SINH_X") && stderr.contains("ho_va_ten"),
        "{stderr}"
    );
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&stack::postgres_url())
            .await
            .unwrap();
        sqlx::query(&format!("DROP TABLE {table}"))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

/// Writes the register CSV that datagen made as a Parquet snapshot in the types an exporter
/// would choose: the personal ID as an integer (its leading zeros lost), superseded numbers as a
/// list, the province code as an integer, `deceased` as a boolean, Zstandard compression.
fn register_as_parquet(csv_path: &Path, parquet_path: &Path) -> usize {
    use arrow_array::builder::{
        BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    };
    use arrow_array::{ArrayRef, RecordBatch};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    let rows = read_rows(csv_path);
    let mut pin = Int64Builder::new();
    let mut superseded = ListBuilder::new(StringBuilder::new());
    let mut texts: [StringBuilder; 5] = Default::default();
    let mut province = Int32Builder::new();
    let mut deceased = BooleanBuilder::new();
    for row in &rows {
        pin.append_value(row["personal_id"].parse().unwrap());
        superseded.append_value(
            row["superseded_ids"]
                .split(';')
                .filter(|s| !s.is_empty())
                .map(Some),
        );
        for (builder, column) in texts.iter_mut().zip([
            "family_name",
            "middle_name",
            "given_name",
            "birth_date",
            "sex",
        ]) {
            match row[column].as_str() {
                "" => builder.append_null(),
                v => builder.append_value(v),
            }
        }
        match row["birth_province"].as_str() {
            "" => province.append_null(),
            v => province.append_value(v.parse().unwrap()),
        }
        deceased.append_value(row["deceased"] == "true");
    }
    let [family, middle, given, birth, sex] = texts.map(|mut b| Arc::new(b.finish()) as ArrayRef);
    let batch = RecordBatch::try_from_iter([
        ("personal_id", Arc::new(pin.finish()) as ArrayRef),
        ("superseded_ids", Arc::new(superseded.finish())),
        ("family_name", family),
        ("middle_name", middle),
        ("given_name", given),
        ("birth_date", birth),
        ("sex", sex),
        ("birth_province", Arc::new(province.finish())),
        ("deceased", Arc::new(deceased.finish())),
    ])
    .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(10_000))
        .build();
    let file = std::fs::File::create(parquet_path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    rows.len()
}

/// The same register as a Parquet snapshot reconciles the list exactly as its CSV extract does.
#[test]
fn a_parquet_register_snapshot_reconciles_exactly_as_its_csv_extract() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    datagen(&data, 10_000, 1_000, 11);
    let parquet = data.join("register.parquet");
    let people = register_as_parquet(&data.join("register.csv"), &parquet);
    let reconcile = |register: &Path, out: &Path| {
        let run = lienthong(
            &[
                "reconcile",
                "--register",
                register.to_str().unwrap(),
                "--codelists",
                schemas().join("codelists").to_str().unwrap(),
                "--input",
                data.join("civil_servants.csv").to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &[],
        );
        let (stdout, stderr) = text(&run);
        assert!(
            run.status.success(),
            "reconcile failed:\n{stdout}\n{stderr}"
        );
        stderr
    };
    let from_csv = dir.path().join("from-csv");
    let from_parquet = dir.path().join("from-parquet");
    reconcile(&data.join("register.csv"), &from_csv);
    let log = reconcile(&parquet, &from_parquet);
    assert!(
        log.contains(&format!("register: {people} people loaded"))
            && log.contains(" 0 rows rejected"),
        "{log}"
    );
    let csv_rows = read_rows(&from_csv.join("report.csv"));
    let parquet_rows = read_rows(&from_parquet.join("report.csv"));
    assert!(csv_rows.len() >= 1_000);
    assert_eq!(
        csv_rows, parquet_rows,
        "the two registers gave different verdicts"
    );
    let (precision, recall, _, _) = score(
        &from_parquet.join("report.csv"),
        &data.join("truth.csv"),
        "vi",
    );
    assert!(precision >= 0.995 && recall >= 0.97, "{precision} {recall}");
}

fn person(name: &str, birth: (i32, i32, i32), sex: Sex, province: &str, pin: &str) -> Person {
    Person {
        personal_id: pin.to_string(),
        name: Some(PersonName {
            full: name.to_string(),
            ..PersonName::default()
        }),
        birth_date: Some(Date {
            year: birth.0,
            month: birth.1,
            day: birth.2,
        }),
        sex: sex as i32,
        birth_place: Some(Place {
            province: Some(CodedValue {
                code_system: "vn.province.pre2025".into(),
                code: province.into(),
                ..CodedValue::default()
            }),
            ..Place::default()
        }),
        ..Person::default()
    }
}

fn register_person(row: &HashMap<String, String>) -> Person {
    let date: Vec<i32> = row["birth_date"]
        .split('-')
        .map(|p| p.parse().unwrap())
        .collect();
    let name = [&row["family_name"], &row["middle_name"], &row["given_name"]]
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let sex = if row["sex"] == "male" {
        Sex::Male
    } else {
        Sex::Female
    };
    person(
        &name,
        (date[0], date[1], date[2]),
        sex,
        &row["birth_province"],
        "",
    )
}

async fn resolve(
    client: &mut ResolveServiceClient<tonic::transport::Channel>,
    person: Person,
) -> lienthong_proto::v1::ResolutionResult {
    client
        .resolve(ResolveRequest {
            request_id: "r".into(),
            person: Some(person),
            include_candidates: false,
            purpose: "test".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resolver_service_answers_grpc_follows_the_register_topic_and_restarts_from_its_snapshot()
 {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    datagen(&data, 20_000, 10, 11);
    let register_rows = read_rows(&data.join("register.csv"));
    let population = format!("population.{tag}.v1");
    let review = format!("review.{tag}.v1");
    let admin = TopicAdmin::new(&kafka_config()).unwrap();
    admin
        .ensure_topics(&[population.as_str(), "canonical.person.v1"])
        .await
        .unwrap();
    let snapshot = dir.path().join("index/register.snapshot");
    let config = dir.path().join("lienthong.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[telemetry]
log_level = "info,rdkafka=warn"
[health]
enabled = false
[kafka]
bootstrap_servers = "{broker}"
[kafka.topics.default]
partitions = 1
replication_factor = 1
[retry]
initial_delay_ms = 200
max_delay_ms = 2000
[state]
topic = "lienthong.state.{tag}"
[resolve]
codelists = "{codelists}"
listen = "127.0.0.1:0"
population_topic = "{population}"
review_topic = "{review}"
inputs = ["canonical.person.v1"]
group_id = "resolve-{tag}"
commit_interval_ms = 200
snapshot = "{snapshot}"
snapshot_interval_s = 1
[resolve.register]
kind = "csv"
path = "{register}"
"#,
            broker = stack::broker(),
            codelists = schemas().join("codelists").display(),
            snapshot = snapshot.display(),
            register = data.join("register.csv").display(),
        ),
    )
    .unwrap();
    let checked = lienthong(&["validate", "--config", config.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok    resolve   register extract"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    resolve   province merger map: 63 old codes"),
        "{stdout}"
    );
    let log = dir.path().join("resolve.log");
    let mut service = Service::start(&["resolve", "--config", config.to_str().unwrap()], &log);
    service.wait_for_log("grpc listening on ", Duration::from_secs(120));
    let addr = |service: &Service| {
        let log = service.log();
        let line = log
            .lines()
            .rfind(|l| l.starts_with("grpc listening on "))
            .unwrap()
            .to_string();
        format!("http://{}", line.trim_start_matches("grpc listening on "))
    };
    let mut client = ResolveServiceClient::connect(addr(&service)).await.unwrap();

    // Health: SERVING.
    let channel = tonic::transport::Channel::from_shared(addr(&service))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "lienthong.v1.ResolveService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING");

    // A register person by their ID: MATCHED by personal ID.
    let someone = &register_rows[17];
    let mut by_id = register_person(someone);
    by_id.personal_id = someone["personal_id"].clone();
    let result = resolve(&mut client, by_id.clone()).await;
    assert_eq!(result.status, MatchStatus::Matched as i32, "{result:?}");
    assert_eq!(result.method, MatchMethod::PersonalId as i32);
    assert_eq!(result.personal_id, someone["personal_id"]);
    assert!(!result.comparisons.is_empty());

    // The same person without an ID and without diacritics: found by name, date, sex, place.
    let mut plain = register_person(someone);
    let name = plain.name.as_ref().unwrap().full.clone();
    plain.name.as_mut().unwrap().full = lienthong_vietnamese_fold(&name);
    let result = resolve(&mut client, plain).await;
    assert!(
        result.status == MatchStatus::Matched as i32
            || result.status == MatchStatus::MatchedWithDiscrepancies as i32,
        "{result:?}"
    );
    assert_eq!(result.method, MatchMethod::Probabilistic as i32);
    assert_eq!(result.personal_id, someone["personal_id"]);

    // Wrong birth date by a day-month swap with the right ID: a discrepancy, both values given.
    let swappable = register_rows
        .iter()
        .find(|row| {
            let date: Vec<u32> = row["birth_date"]
                .split('-')
                .map(|p| p.parse().unwrap())
                .collect();
            date[2] <= 12 && date[2] != date[1]
        })
        .unwrap();
    let mut swapped = register_person(swappable);
    swapped.personal_id = swappable["personal_id"].clone();
    let date = swapped.birth_date.as_mut().unwrap();
    std::mem::swap(&mut date.day, &mut date.month);
    let result = resolve(&mut client, swapped).await;
    assert_eq!(
        result.status,
        MatchStatus::MatchedWithDiscrepancies as i32,
        "{result:?}"
    );
    assert!(result.discrepancies.iter().any(|d| d.field == "birth_date"
        && !d.record_value.is_empty()
        && !d.register_value.is_empty()));

    // Nobody: NOT_FOUND; no name: INVALID_INPUT (an answer, not an error).
    let nobody = person("Khúc Thừa Dụ", (1901, 2, 3), Sex::Male, "01", "");
    assert_eq!(
        resolve(&mut client, nobody).await.status,
        MatchStatus::NotFound as i32
    );
    let empty = Person::default();
    let result = resolve(&mut client, empty).await;
    assert_eq!(result.status, MatchStatus::InvalidInput as i32);
    assert!(!result.invalid_reason.is_empty());

    // A request without a person is INVALID_ARGUMENT naming the field.
    let status = client.resolve(ResolveRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("person"), "{status:?}");

    // Streaming batch: answers in request order.
    let requests: Vec<ResolveRequest> = register_rows[100..160]
        .iter()
        .enumerate()
        .map(|(i, row)| ResolveRequest {
            request_id: format!("b{i}"),
            person: Some(register_person(row)),
            ..ResolveRequest::default()
        })
        .collect();
    let mut answers = client
        .resolve_batch(futures::stream::iter(requests.clone()))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(answer) = answers.message().await.unwrap() {
        got.push(answer);
    }
    assert_eq!(got.len(), requests.len());
    for (i, answer) in got.iter().enumerate() {
        assert_eq!(answer.request_id, format!("b{i}"));
    }
    let matched = got
        .iter()
        .zip(&register_rows[100..160])
        .filter(|(a, row)| a.result.as_ref().unwrap().personal_id == row["personal_id"])
        .count();
    assert!(
        matched >= 57,
        "{matched} of 60 found by name, date, sex and place"
    );

    // The register topic: a new person and a re-issued number arrive live.
    let producer = EventProducer::new(&kafka_config(), "test", KafkaMetrics::default()).unwrap();
    let newcomer = PopulationRecord {
        personal_id: "001299123456".into(),
        name: Some(PersonName {
            family: "Ông".into(),
            middle: "Ích".into(),
            given: "Khiêm".into(),
            ..PersonName::default()
        }),
        birth_date: Some(Date {
            year: 1999,
            month: 5,
            day: 6,
        }),
        sex: Sex::Male as i32,
        change: PopulationChangeKind::Registered as i32,
        ..PopulationRecord::default()
    };
    let reissued_from = register_rows[40]["personal_id"].clone();
    let mut reissued_pin = reissued_from.clone();
    // A different serial: the person's new number.
    reissued_pin.replace_range(6.., "999999");
    let mut reissued = PopulationRecord {
        personal_id: reissued_pin.clone(),
        superseded_ids: vec![reissued_from.clone()],
        change: PopulationChangeKind::Reissued as i32,
        ..PopulationRecord::default()
    };
    let as_person = register_person(&register_rows[40]);
    reissued.name = Some(PersonName {
        full: as_person.name.as_ref().unwrap().full.clone(),
        family: register_rows[40]["family_name"].clone(),
        middle: register_rows[40]["middle_name"].clone(),
        given: register_rows[40]["given_name"].clone(),
        ..PersonName::default()
    });
    reissued.birth_date = as_person.birth_date;
    reissued.sex = as_person.sex;
    reissued.birth_place = as_person.birth_place;
    for (key, record) in [
        (newcomer.personal_id.clone(), newcomer.encode_to_vec()),
        (reissued.personal_id.clone(), reissued.encode_to_vec()),
        ("garbage".to_string(), b"\xff\xff not a record".to_vec()),
    ] {
        producer
            .send(OutboundRecord {
                topic: &population,
                key: Some(key.as_bytes()),
                payload: Some(&record),
                headers: RecordHeaders::with_idempotency_key(format!("pop:{key}")),
            })
            .await
            .unwrap();
    }
    let newcomer_query = person("Ông Ích Khiêm", (1999, 5, 6), Sex::Male, "", "001299123456");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let result = resolve(&mut client, newcomer_query.clone()).await;
        if result.status == MatchStatus::Matched as i32 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{result:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut old_number = register_person(&register_rows[40]);
    old_number.personal_id = reissued_from.clone();
    let result = resolve(&mut client, old_number.clone()).await;
    assert_eq!(result.personal_id, reissued_pin, "{result:?}");
    assert!(result.stated_id_superseded);

    // The stream stage: canonical persons in, resolved persons out, non-matches also to review,
    // garbage to dlq.resolve; in = out + dead-lettered.
    let keys: Vec<String> = (0..4).map(|i| format!("{tag}:p{i}")).collect();
    let inputs: Vec<Vec<u8>> = vec![
        by_id.encode_to_vec(),
        person("Khúc Thừa Dụ", (1901, 2, 3), Sex::Male, "01", "").encode_to_vec(),
        Person::default().encode_to_vec(),
        b"\x0a\xff\xff\xff".to_vec(),
    ];
    for (key, payload) in keys.iter().zip(&inputs) {
        producer
            .send(OutboundRecord {
                topic: "canonical.person.v1",
                key: Some(key.as_bytes()),
                payload: Some(payload),
                headers: RecordHeaders::with_idempotency_key(format!("in:{key}")),
            })
            .await
            .unwrap();
    }
    let ours = |r: &lienthong_runtime::kafka::InboundRecord| {
        r.key
            .as_deref()
            .is_some_and(|k| String::from_utf8_lossy(k).starts_with(&format!("{tag}:")))
    };
    let mut resolved = TopicReader::new("resolved.person.v1").await;
    resolved
        .read_until(Duration::from_secs(60), |rs| {
            rs.iter().filter(|r| ours(r)).count() >= 3
        })
        .await;
    let out: Vec<ResolvedPerson> = resolved
        .records
        .iter()
        .filter(|r| ours(r))
        .map(|r| ResolvedPerson::decode(r.payload.as_deref().unwrap()).unwrap())
        .collect();
    let statuses: Vec<i32> = out
        .iter()
        .map(|r| r.resolution.as_ref().unwrap().status)
        .collect();
    assert_eq!(
        statuses,
        [
            MatchStatus::Matched as i32,
            MatchStatus::NotFound as i32,
            MatchStatus::InvalidInput as i32
        ]
    );
    assert!(resolved.records.iter().filter(|r| ours(r)).all(|r| {
        r.headers
            .idempotency_key
            .as_deref()
            .is_some_and(|k| k.starts_with("in:"))
    }));
    let mut review_reader = TopicReader::new(&review).await;
    // Earlier runs' records on the shared canonical topic reach the review topic too.
    review_reader
        .read_until(Duration::from_secs(30), |rs| {
            rs.iter().filter(|r| ours(r)).count() >= 2
        })
        .await;
    assert_eq!(review_reader.records.iter().filter(|r| ours(r)).count(), 2);
    let mut dlq = TopicReader::new("dlq.resolve").await;
    dlq.read_until(Duration::from_secs(30), |rs| {
        rs.iter().any(&ours)
            && rs.iter().any(|r| {
                r.payload.as_deref().is_some_and(|p| {
                    lienthong_proto::v1::DeadLetter::decode(p).is_ok_and(|l| l.topic == population)
                })
            })
    })
    .await;
    let letters: Vec<lienthong_proto::v1::DeadLetter> = dlq
        .records
        .iter()
        .filter_map(|r| r.payload.as_deref())
        .map(|p| lienthong_proto::v1::DeadLetter::decode(p).unwrap())
        .filter(|l| l.topic == population || l.key == keys[3].as_bytes())
        .collect();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        letters
            .iter()
            .all(|l| l.error_kind == "decode" && !l.reason.is_empty())
    );
    assert_eq!(out.len() + 1, inputs.len(), "in = out + dead-lettered");

    // Restart from the snapshot alone: the register extract is gone, the live changes stay.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let status = service.terminate().unwrap();
    assert!(status.success(), "{}", service.log());
    assert!(snapshot.exists());
    std::fs::remove_file(data.join("register.csv")).unwrap();
    service.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while service.log().matches("grpc listening on ").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", service.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        service.log().contains("index read from its snapshot"),
        "{}",
        service.log()
    );
    let mut client = ResolveServiceClient::connect(addr(&service)).await.unwrap();
    assert_eq!(
        resolve(&mut client, newcomer_query).await.status,
        MatchStatus::Matched as i32
    );
    assert_eq!(
        resolve(&mut client, old_number).await.personal_id,
        reissued_pin
    );
    let status = service.terminate().unwrap();
    assert!(status.success());
}

/// Diacritics and case removed, as a legacy system without Vietnamese input would store it.
fn lienthong_vietnamese_fold(name: &str) -> String {
    lienthong_vietnamese::text::fold(name).to_uppercase()
}
