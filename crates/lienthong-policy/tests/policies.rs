//! Policies as an operator writes them: parsing, deny by default, wildcards against sensitive
//! fields, unknown paths, caller authentication, and hot reload from a directory.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lienthong_policy::{
    Denied, Entity, Policies, PolicyError, PolicySet, normalize_subject, token_sha256,
};
use lienthong_proto::v1::{
    CivilServant, CodedValue, Date, Decimal, MatchStatus, Organisation, Person, PersonName,
    ResolutionResult, ResolvedCivilServant, ResolvedPerson,
};
use prost::Message as _;

fn load(files: &[(&str, &str)]) -> Result<PolicySet, PolicyError> {
    PolicySet::from_sources(
        files
            .iter()
            .map(|(name, text)| (PathBuf::from(format!("/policies/{name}")), text.to_string())),
    )
}

fn problems(result: Result<PolicySet, PolicyError>) -> String {
    match result {
        Err(e @ PolicyError::Invalid { .. }) => e.to_string(),
        Err(other) => panic!("expected an invalid policy, got {other}"),
        Ok(_) => panic!("expected the policy to be refused"),
    }
}

const LABOUR: &str = r#"
id = "bo-lao-dong"
name = "Bộ Lao động"
purposes = ["thong-ke", "xac-minh"]

[authentication]
token_sha256 = ["TOKEN_HASH"]
certificate_subjects = ["CN=lgsp.molisa.gov.vn, O=Bo Lao dong, C=VN", "lgsp.molisa.gov.vn"]

[entities.civil_servant]
fields = ["record_id", "person.name", "person.birth_date", "rank", "organisation_id"]
purposes = ["thong-ke"]
topic = true
"#;

fn labour() -> String {
    LABOUR.replace("TOKEN_HASH", &token_sha256("labour-token"))
}

fn servant() -> CivilServant {
    CivilServant {
        record_id: "csdl:id=7".into(),
        person: Some(Person {
            record_id: "csdl:id=7".into(),
            personal_id: "001085012345".into(),
            name: Some(PersonName {
                full: "Nguyễn Thị Hoà".into(),
                family: "Nguyễn".into(),
                middle: "Thị".into(),
                given: "Hoà".into(),
                original: "Nguyen Thi Hoa".into(),
            }),
            birth_date: Some(Date {
                year: 1985,
                month: 3,
                day: 9,
            }),
            sex: 2,
            ethnicity: Some(CodedValue {
                code_system: "vn.ethnic.2008".into(),
                code: "01".into(),
                display: "Kinh".into(),
                original: "Kinh".into(),
            }),
            religion: Some(CodedValue {
                code_system: "vn.religion".into(),
                code: "00".into(),
                display: "Không".into(),
                original: String::new(),
            }),
            phone: "0912345678".into(),
            ..Person::default()
        }),
        organisation_id: "org:12".into(),
        organisation_name: "Sở Nội vụ".into(),
        rank: Some(CodedValue {
            code_system: "vn.rank".into(),
            code: "01.003".into(),
            display: "Chuyên viên".into(),
            original: String::new(),
        }),
        salary_step: 3,
        salary_coefficient: Some(Decimal {
            value: "3.00".into(),
        }),
        position_allowance: Some(Decimal {
            value: "0.20".into(),
        }),
        party_admission_date: Some(Date {
            year: 2010,
            month: 5,
            day: 19,
        }),
        ..CivilServant::default()
    }
}

#[test]
fn the_shipped_examples_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/policies");
    let set = PolicySet::load_dir(&dir).unwrap();
    assert!(set.len() >= 3, "{}", set.len());
    let bhxh = set.partner("bhxh-viet-nam").unwrap();
    let rules = bhxh.entity(Entity::CivilServant).unwrap();
    assert_eq!(
        rules.masked_sensitive(),
        ["person.ethnicity", "person.religion"]
    );
    assert_eq!(
        rules.granted_sensitive(),
        ["position_allowance", "salary_coefficient"]
    );
    assert!(rules.shares_resolution());
    assert!(
        set.partner_topics()
            .iter()
            .any(|(p, e, t)| p == "bhxh-viet-nam"
                && *e == Entity::CivilServant
                && t == "share.bhxh-viet-nam.civil_servant.v1")
    );
    // Lookups only: no topic.
    assert!(
        set.partner("cong-dvc-quoc-gia")
            .unwrap()
            .topics()
            .is_empty()
    );
}

#[test]
fn an_entity_not_listed_is_denied_and_a_purpose_must_be_allowed() {
    let set = load(&[("bo-lao-dong.toml", &labour())]).unwrap();
    let partner = set.partner("bo-lao-dong").unwrap();
    assert_eq!(partner.id(), "bo-lao-dong");
    assert_eq!(
        partner.authorize(Entity::Person, "thong-ke").unwrap_err(),
        Denied::EntityNotGranted {
            partner: "bo-lao-dong".into(),
            entity: Entity::Person
        }
    );
    assert_eq!(
        partner.authorize(Entity::CivilServant, "  ").unwrap_err(),
        Denied::PurposeMissing
    );
    // Allowed for the partner, but not for this entity.
    let denied = partner
        .authorize(Entity::CivilServant, "xac-minh")
        .unwrap_err();
    assert!(
        denied.to_string().contains("`xac-minh`") && denied.to_string().contains("thong-ke"),
        "{denied}"
    );
    let grant = partner
        .authorize(Entity::CivilServant, " thong-ke ")
        .unwrap();
    assert_eq!(grant.purpose(), "thong-ke");
    assert_eq!(
        grant.fields(),
        [
            "organisation_id",
            "person.birth_date",
            "person.name",
            "rank",
            "record_id"
        ]
    );
    // The topic purpose defaults to the entity's first purpose.
    assert_eq!(
        partner.topic_grant(Entity::CivilServant).unwrap().purpose(),
        "thong-ke"
    );
    assert!(partner.topic_grant(Entity::Person).is_none());
}

#[test]
fn a_grant_clears_every_field_it_does_not_cover() {
    let set = load(&[("bo-lao-dong.toml", &labour())]).unwrap();
    let grant = set
        .partner("bo-lao-dong")
        .unwrap()
        .authorize(Entity::CivilServant, "thong-ke")
        .unwrap();
    let mut record = servant();
    let masked = grant.apply(&mut record);
    assert_eq!(
        masked,
        [
            "organisation_name",
            "party_admission_date",
            "person.ethnicity",
            "person.personal_id",
            "person.phone",
            "person.record_id",
            "person.religion",
            "person.sex",
            "position_allowance",
            "salary_coefficient",
            "salary_step",
        ]
    );
    let person = record.person.as_ref().unwrap();
    assert_eq!(person.name.as_ref().unwrap().full, "Nguyễn Thị Hoà");
    assert_eq!(person.birth_date.as_ref().unwrap().year, 1985);
    assert!(person.personal_id.is_empty() && person.phone.is_empty());
    assert!(person.ethnicity.is_none() && person.religion.is_none());
    assert_eq!(record.rank.as_ref().unwrap().code, "01.003");
    assert_eq!(record.organisation_id, "org:12");
    assert!(record.salary_coefficient.is_none() && record.salary_step == 0);
    // Applying again masks nothing more.
    assert!(grant.apply(&mut record).is_empty());
}

#[test]
fn wildcards_never_reach_sensitive_fields_unless_they_are_named() {
    let policy = |fields: &str| {
        format!(
            "id = \"p\"\nname = \"P\"\npurposes = [\"x\"]\n[entities.civil_servant]\nfields = {fields}\n"
        )
    };
    let apply = |fields: &str| {
        let set = load(&[("p.toml", &policy(fields))]).unwrap();
        let grant = set
            .partner("p")
            .unwrap()
            .authorize(Entity::CivilServant, "x")
            .unwrap();
        let mut record = servant();
        let masked = grant.apply(&mut record);
        (record, masked)
    };

    let (record, masked) = apply(r#"["*"]"#);
    assert_eq!(
        masked,
        [
            "party_admission_date",
            "person.ethnicity",
            "person.religion",
            "position_allowance",
            "salary_coefficient"
        ]
    );
    assert_eq!(record.person.as_ref().unwrap().phone, "0912345678");
    assert_eq!(record.salary_step, 3, "a step is not a salary amount");

    let (record, masked) = apply(r#"["person.*", "person.ethnicity"]"#);
    let person = record.person.as_ref().unwrap();
    assert_eq!(person.ethnicity.as_ref().unwrap().display, "Kinh");
    assert!(person.religion.is_none());
    assert!(masked.contains(&"person.religion".to_string()));
    assert!(masked.contains(&"record_id".to_string()));

    // Naming a field inside a sensitive one grants only that field.
    let (record, _) = apply(r#"["*", "person.ethnicity.code", "salary_coefficient"]"#);
    let ethnicity = record.person.as_ref().unwrap().ethnicity.clone().unwrap();
    assert_eq!(ethnicity.code, "01");
    assert!(ethnicity.display.is_empty() && ethnicity.code_system.is_empty());
    assert_eq!(record.salary_coefficient.unwrap().value, "3.00");
    assert!(record.position_allowance.is_none());

    // `person` alone is `person.*`.
    let (record, _) = apply(r#"["person"]"#);
    assert!(record.person.as_ref().unwrap().ethnicity.is_none());
    assert_eq!(record.person.unwrap().phone, "0912345678");
}

#[test]
fn resolution_is_shared_only_when_granted() {
    let resolved = || ResolvedCivilServant {
        record: Some(servant()),
        resolution: Some(ResolutionResult {
            status: MatchStatus::Matched as i32,
            personal_id: "001085012345".into(),
            model_version: "m1".into(),
            candidates: vec![lienthong_proto::v1::MatchCandidate {
                personal_id: "001085099999".into(),
                ..Default::default()
            }],
            ..ResolutionResult::default()
        }),
    };
    let with = |fields: &str| {
        let text = format!(
            "id = \"p\"\nname = \"P\"\npurposes = [\"x\"]\n[entities.civil_servant]\nfields = {fields}\n"
        );
        let set = load(&[("p.toml", &text)]).unwrap();
        let grant = set
            .partner("p")
            .unwrap()
            .authorize(Entity::CivilServant, "x")
            .unwrap();
        let mut record = resolved();
        let masked = grant.apply(&mut record);
        (record, masked)
    };
    let (record, masked) = with(r#"["*"]"#);
    assert!(record.resolution.is_none());
    assert!(masked.contains(&"resolution".to_string()), "{masked:?}");
    assert_eq!(record.record.unwrap().record_id, "csdl:id=7");

    let (record, masked) = with(r#"["record_id", "resolution"]"#);
    let resolution = record.resolution.unwrap();
    assert_eq!(resolution.status, MatchStatus::Matched as i32);
    assert!(
        resolution.candidates.is_empty(),
        "other people's IDs need naming"
    );
    assert!(masked.contains(&"resolution.candidates".to_string()));
    assert!(masked.contains(&"person".to_string()), "{masked:?}");

    let (record, _) = with(r#"["record_id", "resolution.status"]"#);
    let resolution = record.resolution.unwrap();
    assert_eq!(resolution.status, MatchStatus::Matched as i32);
    assert!(resolution.personal_id.is_empty());

    // The person grant works on ResolvedPerson too.
    let text =
        "id = \"p\"\nname = \"P\"\npurposes = [\"x\"]\n[entities.person]\nfields = [\"name\"]\n";
    let set = load(&[("p.toml", text)]).unwrap();
    let grant = set
        .partner("p")
        .unwrap()
        .authorize(Entity::Person, "x")
        .unwrap();
    let mut person = ResolvedPerson {
        record: servant().person,
        resolution: Some(ResolutionResult::default()),
    };
    grant.apply(&mut person);
    assert!(person.record.as_ref().unwrap().name.is_some());
    assert!(person.record.unwrap().personal_id.is_empty());
}

#[test]
fn a_grant_applied_to_another_entity_clears_it_whole() {
    let set = load(&[("bo-lao-dong.toml", &labour())]).unwrap();
    let grant = set
        .partner("bo-lao-dong")
        .unwrap()
        .authorize(Entity::CivilServant, "thong-ke")
        .unwrap();
    let mut org = Organisation {
        record_id: "org:1".into(),
        name: "Sở Nội vụ".into(),
        ..Organisation::default()
    };
    assert_eq!(grant.apply(&mut org), ["name", "record_id"]);
    assert_eq!(org, Organisation::default());
}

#[test]
fn fields_unknown_to_this_build_are_cleared() {
    let set = load(&[(
        "p.toml",
        "id = \"p\"\nname = \"P\"\npurposes = [\"x\"]\n[entities.civil_servant]\nfields = [\"*\"]\n",
    )])
    .unwrap();
    let grant = set
        .partner("p")
        .unwrap()
        .authorize(Entity::CivilServant, "x")
        .unwrap();
    let mut bytes = servant().encode_to_vec();
    // Field 99, varint 1: what a newer schema might add.
    bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
    let pool = prost_reflect::DescriptorPool::decode(lienthong_proto::FILE_DESCRIPTOR_SET).unwrap();
    let desc = pool
        .get_message_by_name("lienthong.v1.CivilServant")
        .unwrap();
    let mut dynamic = prost_reflect::DynamicMessage::decode(desc, bytes.as_slice()).unwrap();
    assert_eq!(dynamic.unknown_fields().count(), 1);
    grant.apply_dynamic(&mut dynamic);
    assert_eq!(dynamic.unknown_fields().count(), 0);
    let back = CivilServant::decode(prost::Message::encode_to_vec(&dynamic).as_slice()).unwrap();
    assert_eq!(back.record_id, "csdl:id=7");
}

#[test]
fn problems_name_the_file_and_the_path() {
    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &labour().replace("person.birth_date", "person.birthdate"),
    )]));
    assert!(
        text.contains("/policies/bo-lao-dong.toml")
            && text.contains("`person.birthdate`")
            && text.contains("lienthong.v1.Person has no field `birthdate`"),
        "{text}"
    );

    let text = problems(load(&[("other.toml", &labour())]));
    assert!(text.contains("name the file `bo-lao-dong.toml`"), "{text}");

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &labour().replace("topic = true", "topic = true\ncolour = \"red\""),
    )]));
    assert!(text.contains("colour"), "{text}");

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &LABOUR.replace("TOKEN_HASH", "labour-token"),
    )]));
    assert!(text.contains("token_sha256[0] is not a SHA-256"), "{text}");

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &labour().replace("topic = true", "topic = true\ntopic_purpose = \"xac-minh\""),
    )]));
    assert!(text.contains("topic_purpose `xac-minh`"), "{text}");

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &labour().replace("[entities.civil_servant]", "[entities.civil_servants]"),
    )]));
    assert!(text.contains("unknown entity `civil_servants`"), "{text}");

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &format!(
            "{}\n[entities.organisation]\nfields = [\"resolution\"]\n",
            labour()
        ),
    )]));
    assert!(
        text.contains("organisation records carry no resolution"),
        "{text}"
    );

    let text = problems(load(&[(
        "bo-lao-dong.toml",
        &labour().replace("purposes = [\"thong-ke\"]", "purposes = [\"ban-du-lieu\"]"),
    )]));
    assert!(
        text.contains("`ban-du-lieu` is not among the partner's purposes"),
        "{text}"
    );

    // Every problem of every file at once.
    let text = problems(load(&[
        ("a.toml", "id = \"a\"\nname = \"A\"\npurposes = []\n"),
        ("b.toml", "id = \"b\"\nname = \"B\"\n"),
    ]));
    assert!(
        text.contains("a.toml: purposes: state at least one purpose"),
        "{text}"
    );
    assert!(
        text.contains("b.toml") && text.contains("purposes"),
        "{text}"
    );
}

#[test]
fn callers_are_found_by_token_hash_and_certificate_names() {
    let other = r#"
id = "bo-tai-chinh"
name = "Bộ Tài chính"
purposes = ["du-toan"]
[authentication]
token_sha256 = ["HASH"]
"#
    .replace("HASH", &token_sha256("finance-token").to_uppercase());
    let set = load(&[
        ("bo-lao-dong.toml", &labour()),
        ("bo-tai-chinh.toml", &other),
    ])
    .unwrap();
    assert_eq!(set.by_token("labour-token").unwrap().id(), "bo-lao-dong");
    assert_eq!(set.by_token("finance-token").unwrap().id(), "bo-tai-chinh");
    assert!(set.by_token("labour-token ").is_none());
    assert!(set.by_token("").is_none());
    assert_eq!(
        set.by_certificate(&["cn=LGSP.molisa.gov.vn,o=Bo Lao dong,c=VN".into()])
            .unwrap()
            .id(),
        "bo-lao-dong"
    );
    assert_eq!(
        set.by_certificate(&["CN=somebody".into(), "lgsp.molisa.gov.vn".into()])
            .unwrap()
            .id(),
        "bo-lao-dong"
    );
    assert!(
        set.by_certificate(&["CN=lgsp.molisa.gov.vn".into()])
            .is_none()
    );
    assert!(set.by_certificate(&[]).is_none());
    assert_eq!(normalize_subject("A = b , C=d"), "a=b,c=d");

    // One token, one partner.
    let clash = other.replace(
        &token_sha256("finance-token").to_uppercase(),
        &token_sha256("labour-token"),
    );
    let text = problems(load(&[
        ("bo-lao-dong.toml", &labour()),
        ("bo-tai-chinh.toml", &clash),
    ]));
    assert!(
        text.contains("also listed by partner bo-lao-dong"),
        "{text}"
    );
}

#[test]
fn the_directory_reloads_and_a_broken_file_keeps_the_previous_set() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let tmp = dir.path().join(format!(".{name}.part"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.path().join(name)).unwrap();
    };
    write("bo-lao-dong.toml", &labour());
    std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
    let policies = Policies::load(dir.path()).unwrap();
    let first = policies.current();
    assert_eq!(first.len(), 1);
    assert!(!policies.reload_if_changed().unwrap(), "nothing changed");

    // A new partner and a changed grant.
    write(
        "bo-lao-dong.toml",
        &labour().replace("\"rank\",", "\"rank\", \"salary_coefficient\","),
    );
    write(
        "bo-tai-chinh.toml",
        "id = \"bo-tai-chinh\"\nname = \"Bộ Tài chính\"\npurposes = [\"du-toan\"]\n",
    );
    assert!(policies.reload_if_changed().unwrap());
    let second = policies.current();
    assert_eq!(second.len(), 2);
    assert!(
        second
            .partner("bo-lao-dong")
            .unwrap()
            .entity(Entity::CivilServant)
            .unwrap()
            .fields()
            .contains(&"salary_coefficient".to_string())
    );
    // The set taken before is untouched.
    assert_eq!(first.len(), 1);

    // A broken file: the error names it, and the previous set stays in force.
    write("bo-tai-chinh.toml", "id = \"bo-tai-chinh\"\nname = ");
    let e = policies.reload_if_changed().unwrap_err();
    assert!(e.to_string().contains("bo-tai-chinh.toml"), "{e}");
    assert!(Arc::ptr_eq(&policies.current(), &second));
    assert_eq!(policies.reload_count("failed"), 1);
    // Reported once, not at every look.
    assert!(!policies.reload_if_changed().unwrap());
    assert_eq!(policies.reload_count("failed"), 1);

    // Fixed: loads again. Removing a file removes the partner.
    std::fs::remove_file(dir.path().join("bo-tai-chinh.toml")).unwrap();
    assert!(policies.reload_if_changed().unwrap());
    assert_eq!(policies.current().len(), 1);
    assert_eq!(policies.reload_count("ok"), 2);
}

#[tokio::test]
async fn the_reload_task_follows_the_directory_until_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bo-lao-dong.toml"), labour()).unwrap();
    let config = lienthong_policy::PolicyConfig {
        dir: dir.path().to_path_buf(),
        reload_interval: Duration::from_millis(50),
    };
    let policies = Arc::new(Policies::from_config(&config).unwrap());
    let shutdown = lienthong_runtime::Shutdown::new();
    let task = policies.spawn_reload(shutdown.clone());
    std::fs::write(
        dir.path().join("bo-lao-dong.toml"),
        labour().replace(
            "name = \"Bộ Lao động\"",
            "name = \"Bộ Lao động – Thương binh và Xã hội\"",
        ),
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while policies.current().partner("bo-lao-dong").unwrap().name() == "Bộ Lao động" {
        assert!(tokio::time::Instant::now() < deadline, "not reloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

#[test]
fn a_missing_directory_is_its_own_error() {
    let e = Policies::load("/nonexistent/policies").unwrap_err();
    assert!(matches!(e, PolicyError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/policies"));
}
