//! The store against a real PostgreSQL (the local stack's, a database per test): versions and
//! their validity intervals, soft deletes, idempotent replays compared row for row, superseded
//! personal IDs, search with Vietnamese folding, and pagination.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use lienthong_proto::v1::{
    CivilServant, Date, MatchStatus, Operation, Organisation, Person, PersonName, Provenance,
    ResolutionResult, ResolvedCivilServant, ResolvedPerson,
};
use lienthong_store::{
    Applied, Change, CivilServantQuery, Entity, KafkaOrigin, NewVersion, RecordContext, Store,
    StoreError, StoredRecord, Subject, Supersession,
};
use support::TestDatabase;

fn t(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000 + seconds, 0).unwrap()
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

/// A civil servant as the resolver publishes it.
#[derive(Clone)]
struct Servant {
    record_id: String,
    name: String,
    personal_id: String,
    organisation: String,
    birth: (i32, i32, i32),
    key: String,
    commit: Option<DateTime<Utc>>,
    operation: Operation,
    resolved_at: DateTime<Utc>,
}

impl Servant {
    fn new(record_id: &str, name: &str, key: &str, commit: DateTime<Utc>) -> Self {
        Self {
            record_id: record_id.into(),
            name: name.into(),
            personal_id: String::new(),
            organisation: "org:sonoivu".into(),
            birth: (1980, 5, 17),
            key: key.into(),
            commit: Some(commit),
            operation: Operation::Update,
            resolved_at: t(0),
        }
    }

    fn message(&self) -> ResolvedCivilServant {
        ResolvedCivilServant {
            record: Some(CivilServant {
                record_id: self.record_id.clone(),
                person: Some(Person {
                    record_id: self.record_id.clone(),
                    personal_id: self.personal_id.clone(),
                    name: Some(PersonName {
                        full: self.name.clone(),
                        ..PersonName::default()
                    }),
                    birth_date: Some(Date {
                        year: self.birth.0,
                        month: self.birth.1,
                        day: self.birth.2,
                    }),
                    ..Person::default()
                }),
                organisation_id: self.organisation.clone(),
                provenance: Some(Provenance {
                    idempotency_key: self.key.clone(),
                    source_commit_time: self.commit.map(timestamp),
                    translated_at: Some(timestamp(self.resolved_at)),
                    source_operation: self.operation as i32,
                    ..Provenance::default()
                }),
                ..CivilServant::default()
            }),
            resolution: Some(ResolutionResult {
                status: MatchStatus::Matched as i32,
                personal_id: self.personal_id.clone(),
                resolved_at: Some(timestamp(self.resolved_at)),
                ..ResolutionResult::default()
            }),
        }
    }

    fn version(&self) -> NewVersion {
        NewVersion::civil_servant(&self.message(), t(10_000)).unwrap()
    }

    fn change(&self) -> Change {
        Change::Version(self.version())
    }
}

fn person(record_id: &str, name: &str, stated: &str, register: &str, key: &str) -> NewVersion {
    let resolved = ResolvedPerson {
        record: Some(Person {
            record_id: record_id.into(),
            personal_id: stated.into(),
            name: Some(PersonName {
                full: name.into(),
                ..PersonName::default()
            }),
            provenance: Some(Provenance {
                idempotency_key: key.into(),
                source_commit_time: Some(timestamp(t(100))),
                ..Provenance::default()
            }),
            ..Person::default()
        }),
        resolution: Some(ResolutionResult {
            status: if register.is_empty() {
                MatchStatus::NotFound
            } else {
                MatchStatus::Matched
            } as i32,
            personal_id: register.into(),
            ..ResolutionResult::default()
        }),
    };
    NewVersion::person(&resolved, t(10_000)).unwrap()
}

fn servant_name(view: &lienthong_store::CivilServantView) -> String {
    view.civil_servant
        .person
        .as_ref()
        .and_then(|p| p.name.as_ref())
        .map(|n| n.full.clone())
        .unwrap_or_default()
}

/// Every row of the store's tables as text, in a fixed order.
async fn dump(store: &Store) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT v::text FROM lienthong_store.versions v ORDER BY entity, version_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let links: Vec<String> =
        sqlx::query_scalar("SELECT s::text FROM lienthong_store.superseded_ids s ORDER BY old_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    rows.extend(links);
    rows
}

#[tokio::test]
async fn migrations_keep_to_their_schema_and_run_once() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    // Connecting again (a restart, a second instance) finds the schema current.
    let again = Store::connect(&db.url, 2).await.unwrap();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    .fetch_all(again.pool())
    .await
    .unwrap();
    assert!(
        tables.iter().all(|(schema, _)| schema == "lienthong_store"),
        "{tables:?}"
    );
    for table in [
        "_sqlx_migrations",
        "versions",
        "person",
        "civil_servant",
        "organisation",
        "administrative_unit",
        "social_insurance",
        "superseded_ids",
    ] {
        assert!(
            tables.iter().any(|(_, t)| t == table),
            "{table}: {tables:?}"
        );
    }
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.len(), 5);
    assert!(counts.values().all(|n| *n == 0));
}

#[tokio::test]
async fn versions_close_each_other_and_as_of_answers_what_a_record_said_then() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let v1 = Servant::new("cs:1", "Nguyễn Văn An", "k1", t(100));
    let mut v2 = Servant::new("cs:1", "Nguyễn Văn An", "k2", t(200));
    v2.organisation = "org:sotuphap".into();
    let mut v3 = Servant::new("cs:1", "Nguyễn Văn An", "k3", t(300));
    v3.organisation = "org:sotaichinh".into();
    let mut v4 = v3.clone();
    v4.key = "k4".into();
    v4.commit = Some(t(400));
    v4.organisation = "org:vanphong".into();
    // Late and early: a version whose commit time precedes the current one's.
    let mut v5 = v4.clone();
    v5.key = "k5".into();
    v5.commit = Some(t(350));
    v5.organisation = "org:ubnd".into();

    assert_eq!(
        store.write_batch(&[v1.change()]).await.unwrap(),
        [Applied::Stored]
    );
    assert_eq!(
        store.write_batch(&[v2.change()]).await.unwrap(),
        [Applied::Stored]
    );
    // Two versions of one record in one batch chain in batch order.
    assert_eq!(
        store
            .write_batch(&[v3.change(), v4.change()])
            .await
            .unwrap(),
        [Applied::Stored, Applied::Stored]
    );
    assert_eq!(
        store.write_batch(&[v5.change()]).await.unwrap(),
        [Applied::Stored]
    );

    let history = store.history(Entity::CivilServant, "cs:1").await.unwrap();
    let intervals: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> =
        history.iter().map(|v| (v.valid_from, v.valid_to)).collect();
    assert_eq!(
        intervals,
        [
            (t(100), Some(t(200))),
            (t(200), Some(t(300))),
            (t(300), Some(t(400))),
            (t(400), Some(t(400))),
            (t(400), None),
        ],
        "each version ends where the next begins; the late one starts no earlier than the one it replaced"
    );
    assert_eq!(
        history
            .iter()
            .map(|v| v.idempotency_key.as_str())
            .collect::<Vec<_>>(),
        ["k1", "k2", "k3", "k4", "k5"]
    );

    let organisation_at = |at| {
        let store = store.clone();
        async move {
            let version = store
                .as_of(Entity::CivilServant, "cs:1", at)
                .await
                .unwrap()?;
            match version.record().unwrap() {
                Some(StoredRecord::CivilServant(c)) => Some(c.record.unwrap().organisation_id),
                other => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(
        organisation_at(t(99)).await,
        None,
        "before the first version"
    );
    assert_eq!(
        organisation_at(t(100)).await.as_deref(),
        Some("org:sonoivu")
    );
    assert_eq!(
        organisation_at(t(199)).await.as_deref(),
        Some("org:sonoivu")
    );
    assert_eq!(
        organisation_at(t(200)).await.as_deref(),
        Some("org:sotuphap")
    );
    assert_eq!(
        organisation_at(t(399)).await.as_deref(),
        Some("org:sotaichinh")
    );
    // k4's interval is empty: at 400 the late version k5 holds.
    assert_eq!(organisation_at(t(400)).await.as_deref(), Some("org:ubnd"));
    assert_eq!(
        organisation_at(t(90_000)).await.as_deref(),
        Some("org:ubnd")
    );

    let current = store
        .civil_servant(&Subject::RecordId("cs:1".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.civil_servant.organisation_id, "org:ubnd");
    assert_eq!(store.counts().await.unwrap()["civil_servant"], 1);

    // Without a commit time a version starts when it was received.
    let mut undated = v1.clone();
    undated.record_id = "cs:2".into();
    undated.key = "u1".into();
    undated.commit = None;
    store.write_batch(&[undated.change()]).await.unwrap();
    let stored = store
        .as_of(Entity::CivilServant, "cs:2", t(10_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.valid_from, t(10_000));
}

#[tokio::test]
async fn a_delete_closes_the_record_and_leaves_its_history() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let live = Servant::new("cs:9", "Lê Thị Hồng", "a1", t(100));
    let mut other = Servant::new("cs:10", "Lê Văn Nam", "b1", t(100));
    other.personal_id = "001085000010".into();
    store
        .write_batch(&[live.change(), other.change()])
        .await
        .unwrap();
    assert_eq!(store.counts().await.unwrap()["civil_servant"], 2);

    // The translator's DELETE: a record with provenance.source_operation = DELETE, then a
    // tombstone.
    let mut deleted = Servant::new("cs:9", "", "a2", t(200));
    deleted.operation = Operation::Delete;
    let tombstone = NewVersion::tombstone(
        Entity::CivilServant,
        "cs:9",
        &RecordContext {
            idempotency_key: Some("a2:tombstone".into()),
            origin: Some(KafkaOrigin {
                topic: "resolved.civil_servant.v1".into(),
                partition: 0,
                offset: 3,
            }),
            ..RecordContext::default()
        },
        t(250),
    )
    .unwrap();
    assert_eq!(
        store
            .write_batch(&[deleted.change(), Change::Version(tombstone)])
            .await
            .unwrap(),
        [Applied::Stored, Applied::Stored]
    );
    assert!(
        store
            .civil_servant(&Subject::RecordId("cs:9".into()))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.counts().await.unwrap()["civil_servant"], 1);
    let at_150 = store
        .as_of(Entity::CivilServant, "cs:9", t(150))
        .await
        .unwrap()
        .unwrap();
    assert!(!at_150.deleted);
    let at_220 = store
        .as_of(Entity::CivilServant, "cs:9", t(220))
        .await
        .unwrap()
        .unwrap();
    assert!(at_220.deleted && at_220.body.is_some(), "the DELETE record");
    let at_300 = store
        .as_of(Entity::CivilServant, "cs:9", t(300))
        .await
        .unwrap()
        .unwrap();
    assert!(at_300.deleted && at_300.body.is_none(), "the tombstone");
    assert_eq!(at_300.record().unwrap(), None);
    assert_eq!(
        at_300.origin,
        Some(KafkaOrigin {
            topic: "resolved.civil_servant.v1".into(),
            partition: 0,
            offset: 3
        })
    );

    // Created again at the source: live again, the deletion kept in its history.
    let again = Servant::new("cs:9", "Lê Thị Hồng", "a3", t(400));
    store.write_batch(&[again.change()]).await.unwrap();
    assert!(
        store
            .civil_servant(&Subject::RecordId("cs:9".into()))
            .await
            .unwrap()
            .is_some()
    );
    let history = store.history(Entity::CivilServant, "cs:9").await.unwrap();
    assert_eq!(
        history.iter().map(|v| v.deleted).collect::<Vec<_>>(),
        [false, true, true, false]
    );

    // A deleted civil servant is found neither by personal ID nor by search.
    let mut gone = Servant::new("cs:10", "", "b2", t(500));
    gone.operation = Operation::Delete;
    store.write_batch(&[gone.change()]).await.unwrap();
    assert!(
        store
            .civil_servant(&Subject::PersonalId("001085000010".into()))
            .await
            .unwrap()
            .is_none()
    );
    let page = store
        .search_civil_servants(&CivilServantQuery {
            name_prefix: Some("le van".into()),
            ..CivilServantQuery::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn applying_a_batch_again_changes_nothing() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let mut servants: Vec<Servant> = (0..50)
        .map(|i| {
            let mut s = Servant::new(
                &format!("cs:{i}"),
                &format!("Phạm Minh Đức {i}"),
                &format!("src:{i}"),
                t(i),
            );
            s.personal_id = format!("0010850{i:05}");
            s
        })
        .collect();
    // Second versions of some records, deletes and a tombstone in the same batch.
    for i in 0..10 {
        let mut s = servants[i].clone();
        s.key = format!("src:{i}:v2");
        s.commit = Some(t(1_000 + i as i64));
        s.organisation = "org:other".into();
        servants.push(s);
    }
    let mut deleted = Servant::new("cs:20", "", "src:20:del", t(2_000));
    deleted.operation = Operation::Delete;
    servants.push(deleted);
    let mut changes: Vec<Change> = servants.iter().map(Servant::change).collect();
    changes.push(Change::Version(
        NewVersion::tombstone(
            Entity::CivilServant,
            "cs:20",
            &RecordContext {
                idempotency_key: Some("src:20:del:tombstone".into()),
                ..RecordContext::default()
            },
            t(2_001),
        )
        .unwrap(),
    ));
    let organisation = Organisation {
        record_id: "org:sonoivu".into(),
        code: "H01.18".into(),
        name: "Sở Nội vụ".into(),
        provenance: Some(Provenance {
            idempotency_key: "org:1".into(),
            ..Provenance::default()
        }),
        ..Organisation::default()
    };
    changes.push(Change::Version(
        NewVersion::from_body(
            Entity::Organisation,
            prost::Message::encode_to_vec(&organisation),
            t(3_000),
        )
        .unwrap(),
    ));
    changes.push(Change::Register(vec![Supersession {
        old_id: "001085000001".into(),
        current_id: "001085000777".into(),
        changed_at: Some(t(5)),
        origin: None,
    }]));
    changes.push(Change::Register(Vec::new()));

    let first = store.write_batch(&changes).await.unwrap();
    assert!(
        first[..changes.len() - 1]
            .iter()
            .all(|a| *a == Applied::Stored),
        "{first:?}"
    );
    assert_eq!(first[changes.len() - 1], Applied::Ignored);
    let before = dump(&store).await;
    assert_eq!(before.len(), 50 + 10 + 2 + 1 + 1);

    // The same batch again, and again with the resolver's timestamps changed (as a replay
    // through the resolver would make them): every record a duplicate, no row touched.
    let second = store.write_batch(&changes).await.unwrap();
    let mut replayed: Vec<Change> = servants
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.resolved_at = t(99_999);
            s.change()
        })
        .collect();
    replayed.extend(changes[servants.len()..].iter().cloned());
    let third = store.write_batch(&replayed).await.unwrap();
    for applied in [&second, &third] {
        assert!(
            applied[..changes.len() - 1]
                .iter()
                .all(|a| *a == Applied::Duplicate),
            "{applied:?}"
        );
    }
    assert_eq!(dump(&store).await, before);
    // Split differently, the replay still changes nothing.
    for chunk in replayed.chunks(7) {
        store.write_batch(chunk).await.unwrap();
    }
    assert_eq!(dump(&store).await, before);
    assert_eq!(
        store
            .load_versions(&servants.iter().map(Servant::version).collect::<Vec<_>>())
            .await
            .unwrap(),
        0
    );
    assert_eq!(dump(&store).await, before);
}

#[tokio::test]
async fn a_superseded_personal_id_answers_with_the_person_under_their_current_number() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 2).await.unwrap();
    let (a, b, c) = ("001080000001", "001080000002", "001080000003");
    // A was re-issued as B, B later as C: a chain.
    let links = |old: &str, new: &str, at: i64| {
        Change::Register(vec![Supersession {
            old_id: old.into(),
            current_id: new.into(),
            changed_at: Some(t(at)),
            origin: None,
        }])
    };
    assert_eq!(
        store
            .write_batch(&[links(a, b, 10), links(b, c, 20)])
            .await
            .unwrap(),
        [Applied::Stored, Applied::Stored]
    );
    assert_eq!(
        store.write_batch(&[links(a, b, 10)]).await.unwrap(),
        [Applied::Duplicate]
    );
    assert_eq!(store.current_personal_id(a).await.unwrap(), c);
    assert_eq!(store.current_personal_id(c).await.unwrap(), c);

    // Nothing stored yet: no answer by any number.
    assert!(store.person(a).await.unwrap().is_none());

    // Only a civil servant holds the person: its embedded person answers.
    let mut servant = Servant::new("cs:1", "Hoàng Thị Thu", "s1", t(50));
    servant.personal_id = c.into();
    store.write_batch(&[servant.change()]).await.unwrap();
    let view = store.person(a).await.unwrap().unwrap();
    assert_eq!(view.person.name.unwrap().full, "Hoàng Thị Thu");
    assert_eq!(view.redirected_from.as_deref(), Some(a));
    let by_old = store
        .civil_servant(&Subject::PersonalId(b.into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_old.civil_servant.record_id, "cs:1");

    // Person records from two sources: one still under the old number B (not matched), one
    // resolved to C. The one under the current number answers.
    store
        .write_batch(&[
            Change::Version(person("dancu:1", "Hoàng Thị Thu", b, "", "p1")),
            Change::Version(person("bhxh:7", "Hoàng Thị Thu", a, c, "p2")),
        ])
        .await
        .unwrap();
    let view = store.person(b).await.unwrap().unwrap();
    assert_eq!(view.person.record_id, "bhxh:7");
    assert_eq!(view.redirected_from.as_deref(), Some(b));
    assert_eq!(view.resolution.unwrap().status, MatchStatus::Matched as i32);
    let direct = store.person(c).await.unwrap().unwrap();
    assert_eq!(direct.person.record_id, "bhxh:7");
    assert_eq!(direct.redirected_from, None);

    // Of two changes claiming one old number, the later wins whichever is read last.
    let d = "001080000004";
    store.write_batch(&[links(c, d, 40)]).await.unwrap();
    assert_eq!(
        store.write_batch(&[links(c, a, 30)]).await.unwrap(),
        [Applied::Duplicate]
    );
    assert_eq!(store.current_personal_id(a).await.unwrap(), d);
    // Someone unknown: no answer.
    assert!(store.person("079199000000").await.unwrap().is_none());
}

#[tokio::test]
async fn search_folds_names_filters_and_pages_through_every_match_once() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    let names = [
        "Nguyễn Văn An",
        "NGUYỄN VĂN ANH",
        "Nguyễn Văn Bình",
        "Nguyễn Thị Hoà",
        "Trần Văn An",
        "Đặng Văn Đức",
        "Nguyễn Vân",
    ];
    let mut batch = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut s = Servant::new(&format!("cs:{i}"), name, &format!("k{i}"), t(1));
        s.organisation = if i % 2 == 0 { "org:a" } else { "org:b" }.into();
        s.birth = (1970 + i as i32, 1, 2);
        batch.push(s.change());
    }
    store.write_batch(&batch).await.unwrap();
    let search = |name: Option<&str>, org: Option<&str>, birth: Option<NaiveDate>| {
        let store = store.clone();
        let query = CivilServantQuery {
            organisation_id: org.map(str::to_string),
            name_prefix: name.map(str::to_string),
            birth_date: birth,
            page_size: 100,
            page_token: None,
        };
        async move {
            let page = store.search_civil_servants(&query).await.unwrap();
            assert!(page.next_page_token.is_none());
            page.items.iter().map(servant_name).collect::<Vec<_>>()
        }
    };
    // Folding drops tone and vowel marks alike: "Vân" is found with "Văn".
    assert_eq!(
        search(Some("nguyen van"), None, None).await,
        [
            "Nguyễn Vân",
            "Nguyễn Văn An",
            "NGUYỄN VĂN ANH",
            "Nguyễn Văn Bình"
        ]
    );
    assert_eq!(
        search(Some("Nguyễn Văn A"), None, None).await,
        ["Nguyễn Văn An", "NGUYỄN VĂN ANH"]
    );
    assert_eq!(
        search(Some("dang van duc"), None, None).await,
        ["Đặng Văn Đức"]
    );
    assert_eq!(
        search(Some("nguyen thi hoa"), None, None).await,
        ["Nguyễn Thị Hoà"]
    );
    assert_eq!(
        search(Some("nguyen"), Some("org:a"), None).await,
        ["Nguyễn Vân", "Nguyễn Văn An", "Nguyễn Văn Bình"]
    );
    assert_eq!(
        search(None, None, NaiveDate::from_ymd_opt(1974, 1, 2)).await,
        ["Trần Văn An"]
    );
    assert!(search(Some("nguyen van an"), Some("org:b"), None).await == ["NGUYỄN VĂN ANH"]);
    assert!(search(Some("pham"), None, None).await.is_empty());
    assert_eq!(search(None, None, None).await.len(), names.len());
}

#[tokio::test]
async fn pages_cover_every_match_exactly_once_in_a_stable_order() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    // 237 matches with many equal names (the order breaks ties by record id), and others.
    let given = ["An", "Bình", "Chi", "Dũng"];
    let mut batch = Vec::new();
    for i in 0..300 {
        let name = format!("Nguyễn Văn {}", given[i % given.len()]);
        let mut s = Servant::new(&format!("cs:{i:04}"), &name, &format!("k{i}"), t(1));
        s.organisation = if i < 237 { "org:x" } else { "org:y" }.into();
        batch.push(s.change());
    }
    store.write_batch(&batch).await.unwrap();
    let query = |token: Option<String>| CivilServantQuery {
        organisation_id: Some("org:x".into()),
        name_prefix: Some("nguyen".into()),
        page_size: 10,
        page_token: token,
        ..CivilServantQuery::default()
    };
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = store
            .search_civil_servants(&query(token.clone()))
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 10);
        seen.extend(page.items.iter().map(|v| {
            (
                lienthong_vietnamese::text::fold(&servant_name(v)),
                v.civil_servant.record_id.clone(),
            )
        }));
        if pages == 3 {
            // Records change while a client pages: a new version of one already seen, and of
            // one not yet seen, are neither repeated nor skipped.
            let mut seen_again = Servant::new("cs:0000", "Nguyễn Văn An", "k0:v2", t(2));
            seen_again.organisation = "org:x".into();
            let mut later = Servant::new("cs:0235", "Nguyễn Văn Dũng", "k235:v2", t(2));
            later.organisation = "org:x".into();
            store
                .write_batch(&[seen_again.change(), later.change()])
                .await
                .unwrap();
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 24);
    assert_eq!(seen.len(), 237);
    let unique: BTreeSet<&(String, String)> = seen.iter().collect();
    assert_eq!(unique.len(), 237, "no record twice");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in (name, record id) order");
    let expected: BTreeSet<String> = (0..237).map(|i| format!("cs:{i:04}")).collect();
    assert_eq!(
        seen.iter()
            .map(|(_, id)| id.clone())
            .collect::<BTreeSet<_>>(),
        expected
    );

    // A token is refused with other filters, damaged, or made up.
    let first = store.search_civil_servants(&query(None)).await.unwrap();
    let token = first.next_page_token.unwrap();
    let mut other = query(Some(token.clone()));
    other.organisation_id = Some("org:y".into());
    let mut damaged = token.clone();
    damaged.insert(5, 'A');
    for bad in [
        other,
        query(Some(damaged)),
        query(Some("bm90IGEgdG9rZW4".into())),
    ] {
        let err = store.search_civil_servants(&bad).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidPageToken), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_civil_servants_load_in_bulk_in_parallel() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url, 4).await.unwrap();
    let total = 100_000;
    let chunk = 5_000;
    let loaders = 2;
    let started = Instant::now();
    // Loaders in parallel, on disjoint records, as a bulk load would run them.
    let mut tasks = tokio::task::JoinSet::new();
    for loader in 0..loaders {
        let store = store.clone();
        tasks.spawn(async move {
            let mut stored = 0;
            for start in (loader * chunk..total).step_by(chunk * loaders) {
                let versions: Vec<NewVersion> = (start..start + chunk)
                    .map(|i| {
                        let mut s = Servant::new(
                            &format!("cs:{i:07}"),
                            "Nguyễn Thị Minh Khai",
                            &format!("bulk:{i}"),
                            t(0) + Duration::seconds(i as i64),
                        );
                        s.personal_id = format!("001180{i:06}");
                        s.organisation = format!("org:{}", i % 500);
                        s.version()
                    })
                    .collect();
                stored += store.load_versions(&versions).await.unwrap();
            }
            stored
        });
    }
    let mut stored = 0;
    while let Some(done) = tasks.join_next().await {
        stored += done.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "loaded {stored} civil servants in {:.1} s ({:.0}/s)",
        took.as_secs_f64(),
        stored as f64 / took.as_secs_f64()
    );
    assert_eq!(stored, total);
    assert_eq!(store.counts().await.unwrap()["civil_servant"], total as u64);
    let found = store
        .civil_servant(&Subject::PersonalId("001180054321".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.civil_servant.record_id, "cs:0054321");
    let page = store
        .search_civil_servants(&CivilServantQuery {
            organisation_id: Some("org:7".into()),
            name_prefix: Some("nguyen thi minh".into()),
            page_size: 500,
            ..CivilServantQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 200);
    assert!(page.next_page_token.is_none());
}
