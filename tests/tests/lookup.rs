//! The lookup API as a real process: `lienthong lookup` over a store in the local PostgreSQL,
//! with partner policies, mutual TLS and tokens, and the hash-chained audit log. Callers are
//! written here, outside the crate: a typed tonic client, and a generic client that learns the
//! services through server reflection and calls them with dynamic messages.

#![allow(clippy::unwrap_used)] // a failed step should fail the test, loudly

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Buf as _, BufMut as _};
use lienthong_proto::v1::code_list_service_client::CodeListServiceClient;
use lienthong_proto::v1::lookup_service_client::LookupServiceClient;
use lienthong_proto::v1::{
    self as pb, CivilServant, CodedValue, Date, Decimal, GetAdministrativeUnitRequest,
    GetCivilServantRequest, GetPersonRequest, MatchStatus, Person, PersonName, PopulationRecord,
    Provenance, ResolutionResult, ResolvedCivilServant, ResolvedPerson, SearchCivilServantsRequest,
};
use lienthong_store::{Change, NewVersion, Store, Supersession};
use lienthong_tests::postgres::TestDatabase;
use lienthong_tests::process::Service;
use lienthong_tests::{lienthong, stack, text};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Request};

const PORTAL_TOKEN: &str = "portal-token-of-the-lookup-test";
const FINANCE_TOKEN: &str = "finance-token-of-the-lookup-test";
const BHXH_SUBJECT: &str = "CN=bhxh-lookup,O=Bao hiem xa hoi,C=VN";
const SUBJECT_KEY: &str = "0123456789abcdef0123456789abcdef-lookup-test";

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A CA with a server certificate and client certificates, as PEM files.
struct Pki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    ca: PathBuf,
}

impl Pki {
    fn new(dir: &Path, name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let ca = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca, params.self_signed(&key).unwrap().pem()).unwrap();
        Self {
            dir: dir.to_path_buf(),
            issuer: Issuer::new(params, key),
            ca,
        }
    }

    /// (certificate, key) files of a certificate for `dn` (C, O, CN) and `sans`.
    fn issue(
        &self,
        file: &str,
        dn: [&str; 3],
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, dn[0]);
        params
            .distinguished_name
            .push(DnType::OrganizationName, dn[1]);
        params.distinguished_name.push(DnType::CommonName, dn[2]);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_file, key_file) = (
            self.dir.join(format!("{file}.pem")),
            self.dir.join(format!("{file}.key")),
        );
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }
}

fn write_policies(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("bhxh.toml"),
        format!(
            r#"
id = "bhxh"
name = "Bảo hiểm xã hội Việt Nam"
purposes = ["doi-soat"]
[authentication]
certificate_subjects = ["{BHXH_SUBJECT}"]
[entities.civil_servant]
fields = ["record_id", "person.*", "organisation_id", "rank", "salary_coefficient", "resolution.status", "resolution.personal_id"]
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("portal.toml"),
        format!(
            r#"
id = "portal"
name = "Cổng Dịch vụ công"
purposes = ["thu-tuc"]
[authentication]
token_sha256 = ["{}"]
[entities.person]
fields = ["record_id", "personal_id", "name.*", "birth_date"]
[entities.civil_servant]
fields = ["record_id", "person.name.*", "organisation_id"]
[entities.administrative_unit]
fields = ["*"]
"#,
            sha256_hex(PORTAL_TOKEN)
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("finance.toml"),
        format!(
            r#"
id = "finance"
name = "Bộ Tài chính"
purposes = ["du-toan"]
[authentication]
token_sha256 = ["{}"]
[entities.organisation]
fields = ["*"]
"#,
            sha256_hex(FINANCE_TOKEN)
        ),
    )
    .unwrap();
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn person(record_id: &str, personal_id: &str, full: &str, birth: Option<Date>) -> Person {
    let mut parts = full.split(' ');
    let family = parts.next().unwrap().to_owned();
    let given = full.rsplit(' ').next().unwrap().to_owned();
    Person {
        record_id: record_id.to_owned(),
        personal_id: personal_id.to_owned(),
        name: Some(PersonName {
            full: full.to_owned(),
            family,
            given,
            ..PersonName::default()
        }),
        birth_date: birth,
        sex: pb::Sex::Male as i32,
        ethnicity: Some(CodedValue {
            code_system: "vn.ethnic.qd1019-2008".into(),
            code: "01".into(),
            display: "Kinh".into(),
            ..CodedValue::default()
        }),
        phone: "0912345678".into(),
        ..Person::default()
    }
}

fn provenance(key: &str) -> Option<Provenance> {
    Some(Provenance {
        source_id: "csdl-cbcc".into(),
        idempotency_key: key.to_owned(),
        ..Provenance::default()
    })
}

fn matched(personal_id: &str) -> Option<ResolutionResult> {
    Some(ResolutionResult {
        status: MatchStatus::Matched as i32,
        stated_personal_id: personal_id.to_owned(),
        personal_id: personal_id.to_owned(),
        ..ResolutionResult::default()
    })
}

fn civil_servant(
    n: usize,
    personal_id: &str,
    full: &str,
    organisation: &str,
) -> ResolvedCivilServant {
    let record_id = format!("csdl-cbcc:id={n}");
    ResolvedCivilServant {
        record: Some(CivilServant {
            record_id: record_id.clone(),
            person: Some(person(&record_id, personal_id, full, date(1985, 3, 12))),
            organisation_id: organisation.to_owned(),
            organisation_name: format!("Cơ quan {organisation}"),
            rank: Some(CodedValue {
                code_system: "vn.rank".into(),
                code: "01.003".into(),
                display: "Chuyên viên".into(),
                ..CodedValue::default()
            }),
            salary_step: 3,
            salary_coefficient: Some(Decimal {
                value: "3.33".into(),
            }),
            provenance: provenance(&format!("cs-{n}-v1")),
            ..CivilServant::default()
        }),
        resolution: matched(personal_id),
    }
}

/// Seeds the store through its own write path: 1 named civil servant, 120 more in one
/// organisation for paging, a person, and a register re-issue of that person's number.
async fn seed(url: &str) {
    let store = Store::connect(url, 2).await.unwrap();
    let now = chrono::Utc::now();
    let mut changes = vec![Change::Version(
        NewVersion::civil_servant(
            &civil_servant(1, "001085012345", "Nguyễn Văn An", "org-1"),
            now,
        )
        .unwrap(),
    )];
    let given = ["Bình", "Chi", "Dũng", "Hà", "Lan", "Minh"];
    for n in 0..120 {
        let id = format!("0011850{n:05}");
        let name = format!("Trần Thị {}", given[n % given.len()]);
        changes.push(Change::Version(
            NewVersion::civil_servant(&civil_servant(100 + n, &id, &name, "org-2"), now).unwrap(),
        ));
    }
    let mut resolved = ResolvedPerson {
        record: Some(person(
            "bhxh:so=7901234567",
            "079090001234",
            "Lê Thị Hồng",
            date(1990, 8, 1),
        )),
        resolution: matched("079090001234"),
    };
    resolved.record.as_mut().unwrap().provenance = provenance("person-1-v1");
    changes.push(Change::Version(NewVersion::person(&resolved, now).unwrap()));
    changes.push(Change::Register(
        Supersession::from_population(
            &PopulationRecord {
                personal_id: "079090001234".into(),
                superseded_ids: vec!["079190001234".into()],
                ..PopulationRecord::default()
            },
            None,
        )
        .unwrap(),
    ));
    store.write_batch(&changes).await.unwrap();
}

fn config(dir: &Path, url: &str, tls: Option<(&Path, &Path, &Path)>) -> PathBuf {
    let tls = tls.map_or_else(String::new, |(cert, key, ca)| {
        format!(
            "[lookup.tls]\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
            cert.display(),
            key.display(),
            ca.display()
        )
    });
    let file = dir.join("lienthong.toml");
    std::fs::write(
        &file,
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
[state]
topic = "lienthong.state.lookup-test"
[databases.store]
url = "{url}"
[policy]
dir = "{policies}"
reload_interval_ms = 200
[audit]
enabled = true
database = "store"
subject_key = "{SUBJECT_KEY}"
topic = ""
[lookup]
listen = "127.0.0.1:0"
codelists = "{codelists}"
{tls}"#,
            broker = stack::broker(),
            policies = dir.join("policies").display(),
            codelists = schemas().join("codelists").display(),
        ),
    )
    .unwrap();
    file
}

fn address(service: &Service) -> String {
    service.wait_for_log("grpc listening on ", Duration::from_secs(60));
    let log = service.log();
    let line = log
        .lines()
        .find(|l| l.starts_with("grpc listening on "))
        .unwrap();
    line.trim_start_matches("grpc listening on ")
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

async fn audit_rows(url: &str) -> Vec<(String, String, String, Option<String>)> {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::query_as(
        "SELECT partner, method, result, subject_hash FROM lienthong_audit.events ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn partners_look_up_what_their_policy_grants_over_mutual_tls_and_tokens_and_every_call_is_audited()
 {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create("lookup").await;
    seed(&db.url).await;
    write_policies(&dir.path().join("policies"));
    let pki = Pki::new(dir.path(), "partners");
    let (server_cert, server_key) = pki.issue(
        "server",
        ["VN", "Bo Noi vu", "lienthong-lookup"],
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (bhxh_cert, bhxh_key) = pki.issue(
        "bhxh",
        ["VN", "Bao hiem xa hoi", "bhxh-lookup"],
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (stranger_cert, stranger_key) = pki.issue(
        "stranger",
        ["VN", "Khong ai", "stranger"],
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let config = config(
        dir.path(),
        &db.url,
        Some((&server_cert, &server_key, &pki.ca)),
    );
    let checked = lienthong(&["validate", "--config", config.to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.code() != Some(2), "{stdout}\n{stderr}");

    let service = Service::start(
        &["lookup", "--config", config.to_str().unwrap()],
        &dir.path().join("lookup.log"),
    );
    let addr = address(&service);
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}");
    let ca = Certificate::from_pem(std::fs::read(&pki.ca).unwrap());
    let channel = |identity: Option<(&Path, &Path)>| {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(ca.clone())
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(cert).unwrap(),
                std::fs::read(key).unwrap(),
            ));
        }
        Channel::from_shared(url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy()
    };

    // BHXH with its client certificate: the civil servant, salary granted by name, ethnicity
    // masked although `person.*` is granted (sensitive), phone present (under person.*).
    let mut bhxh = LookupServiceClient::new(channel(Some((&bhxh_cert, &bhxh_key))));
    let answer = bhxh
        .get_civil_servant(GetCivilServantRequest {
            subject: Some(pb::get_civil_servant_request::Subject::PersonalId(
                "001085012345".into(),
            )),
            purpose: "doi-soat".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let servant = answer.civil_servant.unwrap();
    assert_eq!(servant.record_id, "csdl-cbcc:id=1");
    assert_eq!(servant.salary_coefficient.unwrap().value, "3.33");
    let person = servant.person.unwrap();
    assert_eq!(person.name.unwrap().full, "Nguyễn Văn An");
    assert_eq!(person.phone, "0912345678");
    assert!(person.ethnicity.is_none(), "ethnicity must be masked");
    assert!(servant.organisation_name.is_empty(), "not granted");
    assert!(
        answer.masked_fields.iter().any(|f| f.contains("ethnicity")),
        "{:?}",
        answer.masked_fields
    );
    let resolution = answer.resolution.unwrap();
    assert_eq!(resolution.personal_id, "001085012345");

    // A purpose the policy does not allow: PERMISSION_DENIED. No purpose: INVALID_ARGUMENT.
    let denied = bhxh
        .get_civil_servant(GetCivilServantRequest {
            subject: Some(pb::get_civil_servant_request::Subject::PersonalId(
                "001085012345".into(),
            )),
            purpose: "to-mo".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let invalid = bhxh
        .get_civil_servant(GetCivilServantRequest {
            subject: Some(pb::get_civil_servant_request::Subject::PersonalId(
                "001085012345".into(),
            )),
            purpose: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(violations(&invalid), ["purpose"]);
    // BHXH is not granted persons.
    let not_granted = bhxh
        .get_person(GetPersonRequest {
            personal_id: "079090001234".into(),
            purpose: "doi-soat".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_granted.code(), Code::PermissionDenied);

    // A certificate from the partners' CA that no policy names; and no credentials at all.
    let mut stranger = LookupServiceClient::new(channel(Some((&stranger_cert, &stranger_key))));
    let refused = stranger
        .get_person(GetPersonRequest {
            personal_id: "079090001234".into(),
            purpose: "thu-tuc".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let mut anonymous = LookupServiceClient::new(channel(None));
    let refused = anonymous
        .get_person(GetPersonRequest {
            personal_id: "079090001234".into(),
            purpose: "thu-tuc".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refused = anonymous
        .get_person(with_token(
            GetPersonRequest {
                personal_id: "079090001234".into(),
                purpose: "thu-tuc".into(),
            },
            "not-a-token-anyone-was-given",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // The portal by token over server-authenticated TLS: a superseded number redirects; only
    // granted fields come back.
    let mut portal = LookupServiceClient::new(channel(None));
    let answer = portal
        .get_person(with_token(
            GetPersonRequest {
                personal_id: "079190001234".into(),
                purpose: "thu-tuc".into(),
            },
            PORTAL_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.redirected_from, "079190001234");
    let found = answer.person.unwrap();
    assert_eq!(found.personal_id, "079090001234");
    assert_eq!(found.name.unwrap().full, "Lê Thị Hồng");
    assert_eq!(found.birth_date, date(1990, 8, 1));
    assert!(found.phone.is_empty() && found.ethnicity.is_none());
    assert!(answer.resolution.is_none(), "resolution not granted");

    let missing = portal
        .get_person(with_token(
            GetPersonRequest {
                personal_id: "001099000001".into(),
                purpose: "thu-tuc".into(),
            },
            PORTAL_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = portal
        .get_person(with_token(
            GetPersonRequest {
                personal_id: "12345".into(),
                purpose: "thu-tuc".into(),
            },
            PORTAL_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(violations(&malformed), ["personal_id"]);

    // Search: folded name prefix within an organisation, pages covering every match once.
    let mut seen = std::collections::BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = portal
            .search_civil_servants(with_token(
                SearchCivilServantsRequest {
                    organisation_id: "org-2".into(),
                    name: "tran thi".into(),
                    page_size: 50,
                    page_token: token.clone(),
                    purpose: "thu-tuc".into(),
                    ..SearchCivilServantsRequest::default()
                },
                PORTAL_TOKEN,
            ))
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        for servant in &page.civil_servants {
            assert!(servant.salary_coefficient.is_none(), "not granted");
            assert!(seen.insert(servant.record_id.clone()), "seen twice");
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!((seen.len(), pages), (120, 3));
    let bad_token = portal
        .search_civil_servants(with_token(
            SearchCivilServantsRequest {
                organisation_id: "org-2".into(),
                page_token: "forged".into(),
                purpose: "thu-tuc".into(),
                ..SearchCivilServantsRequest::default()
            },
            PORTAL_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(violations(&bad_token), ["page_token"]);

    // An old province code answers with the province it became.
    let unit = portal
        .get_administrative_unit(with_token(
            GetAdministrativeUnitRequest {
                code: "02".into(),
                purpose: "thu-tuc".into(),
                as_of: date(2026, 1, 1),
                ..GetAdministrativeUnitRequest::default()
            },
            PORTAL_TOKEN,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unit.unit.unwrap().code_system, "vn.province.pre2025");
    assert_eq!(unit.current_units[0].code, "08");
    let mut lists = CodeListServiceClient::new(channel(None));
    let listed = lists
        .list_code_lists(with_token(pb::ListCodeListsRequest {}, PORTAL_TOKEN))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed
            .code_lists
            .iter()
            .any(|l| l.code_system == "vn.province.2025")
    );

    // Finance holds no grant for civil servants.
    let mut finance = LookupServiceClient::new(channel(None));
    let denied = finance
        .get_civil_servant(with_token(
            GetCivilServantRequest {
                subject: Some(pb::get_civil_servant_request::Subject::RecordId(
                    "csdl-cbcc:id=1".into(),
                )),
                purpose: "du-toan".into(),
            },
            FINANCE_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // A generic client: discover the service through reflection, call it with dynamic messages.
    let pool = reflect(channel(None), "lienthong.v1.LookupService").await;
    let request_type = pool
        .get_message_by_name("lienthong.v1.GetPersonRequest")
        .unwrap();
    let response_type = pool
        .get_message_by_name("lienthong.v1.GetPersonResponse")
        .unwrap();
    let mut request = DynamicMessage::new(request_type);
    request.set_field_by_name(
        "personal_id",
        prost_reflect::Value::String("079090001234".into()),
    );
    request.set_field_by_name("purpose", prost_reflect::Value::String("thu-tuc".into()));
    let mut grpc = tonic::client::Grpc::new(channel(None));
    grpc.ready().await.unwrap();
    let answer = grpc
        .unary(
            with_token(request, PORTAL_TOKEN),
            "/lienthong.v1.LookupService/GetPerson".parse().unwrap(),
            DynamicCodec(response_type),
        )
        .await
        .unwrap()
        .into_inner();
    let name = answer
        .get_field_by_name("person")
        .unwrap()
        .as_message()
        .unwrap()
        .get_field_by_name("name")
        .unwrap()
        .as_message()
        .unwrap()
        .get_field_by_name("full")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(name, "Lê Thị Hồng");

    // A policy change applies without a restart: the portal loses persons.
    std::fs::write(
        dir.path().join("policies/portal.toml"),
        format!(
            "id = \"portal\"\nname = \"Cổng\"\npurposes = [\"thu-tuc\"]\n[authentication]\ntoken_sha256 = [\"{}\"]\n[entities.administrative_unit]\nfields = [\"*\"]\n",
            sha256_hex(PORTAL_TOKEN)
        ),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let outcome = portal
            .get_person(with_token(
                GetPersonRequest {
                    personal_id: "079090001234".into(),
                    purpose: "thu-tuc".into(),
                },
                PORTAL_TOKEN,
            ))
            .await;
        if outcome
            .as_ref()
            .is_err_and(|s| s.code() == Code::PermissionDenied)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the policy change did not apply: {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every call above left an audit record, personal IDs only as keyed hashes, and the chain
    // verifies.
    let rows = audit_rows(&db.url).await;
    let results: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    for expected in [
        "ok",
        "permission_denied",
        "invalid_argument",
        "unauthenticated",
        "not_found",
    ] {
        assert!(
            results.contains(&expected),
            "{expected} missing: {results:?}"
        );
    }
    assert!(rows.iter().any(|r| r.0 == "bhxh"
        && r.1 == "lienthong.v1.LookupService/GetCivilServant"
        && r.2 == "ok"));
    for row in &rows {
        if let Some(hash) = &row.3 {
            assert!(!hash.contains("001085012345") && !hash.contains("079090001234"));
        }
    }
    assert!(rows.iter().filter(|r| r.3.is_some()).count() >= 5);
    let verify = lienthong(
        &["audit", "verify", "--config", config.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&verify);
    assert!(verify.status.success(), "{stdout}\n{stderr}");
    drop(service);
}

/// The descriptors of `service` and everything it uses, from the server's reflection service:
/// the file defining the symbol, then every import the answers name, asked for by file name.
async fn reflect(channel: Channel, service: &str) -> DescriptorPool {
    use std::collections::BTreeMap;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(channel);
    let mut files: BTreeMap<String, prost_types::FileDescriptorProto> = BTreeMap::new();
    let mut wanted = vec![MessageRequest::FileContainingSymbol(service.to_owned())];
    while let Some(ask) = wanted.pop() {
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(ask),
        };
        let mut responses = client
            .server_reflection_info(with_token(futures::stream::iter([request]), PORTAL_TOKEN))
            .await
            .unwrap()
            .into_inner();
        let response = responses.message().await.unwrap().unwrap();
        let Some(MessageResponse::FileDescriptorResponse(answer)) = response.message_response
        else {
            panic!("no descriptors: {response:?}");
        };
        for bytes in answer.file_descriptor_proto {
            let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
            for import in &file.dependency {
                if !files.contains_key(import) && import != file.name() {
                    wanted.push(MessageRequest::FileByFilename(import.clone()));
                }
            }
            files.insert(file.name().to_owned(), file);
        }
        wanted.retain(|w| !matches!(w, MessageRequest::FileByFilename(n) if files.contains_key(n)));
    }
    let mut pool = DescriptorPool::new();
    // Add each file once its imports are in.
    let mut pending: Vec<_> = files.into_values().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|file| pool.add_file_descriptor_proto(file.clone()).is_err());
        assert!(pending.len() < before, "unresolvable descriptors");
    }
    pool
}

/// A gRPC codec for dynamic messages of one response type.
#[derive(Clone)]
struct DynamicCodec(MessageDescriptor);

struct DynamicEncoder;
struct DynamicDecoder(MessageDescriptor);

impl tonic::codec::Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

impl tonic::codec::Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: DynamicMessage,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        dst.put_slice(&item.encode_to_vec());
        Ok(())
    }
}

impl tonic::codec::Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<DynamicMessage>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        DynamicMessage::decode(self.0.clone(), bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

const RESOLVER_TOKEN: &str = "resolver-token-of-the-lookup-test";

/// The first person of a `lienthong datagen` register, as the resolver is asked about them.
fn first_registered(register: &Path) -> Person {
    let mut reader = csv::Reader::from_path(register).unwrap();
    let headers = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let get = |name: &str| {
        let i = headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .unwrap();
        row[i].to_owned()
    };
    let birth: Vec<i32> = get("birth_date")
        .split('-')
        .map(|p| p.parse().unwrap())
        .collect();
    let full = [get("family_name"), get("middle_name"), get("given_name")]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut found = person(
        "register:1",
        &get("personal_id"),
        &full,
        date(birth[0], birth[1], birth[2]),
    );
    found.sex = if get("sex") == "male" {
        pb::Sex::Male as i32
    } else {
        pb::Sex::Female as i32
    };
    found.ethnicity = None;
    found.phone.clear();
    found
}

fn resolve_request(person: &Person) -> pb::ResolveRequest {
    pb::ResolveRequest {
        request_id: "r1".into(),
        person: Some(person.clone()),
        include_candidates: false,
        purpose: "thu-tuc".into(),
    }
}

/// Appends the resolver client settings to a lookup config written by [`config`] (without
/// `[lookup.tls]`, so the file ends inside `[lookup]`).
fn with_resolver(config: &Path, port: &str, ca: &Path, client: Option<(&Path, &Path)>) {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(config)
        .unwrap();
    let identity = client.map_or_else(String::new, |(cert, key)| {
        format!(
            "cert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        )
    });
    write!(
        file,
        "resolver = \"https://localhost:{port}\"\n[lookup.resolver_tls]\nca = \"{}\"\n{identity}",
        ca.display()
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_resolver_admits_only_listed_callers_over_tls_and_the_lookup_api_is_one_of_them() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let generated = lienthong(
        &[
            "datagen",
            "--out",
            data.to_str().unwrap(),
            "--people",
            "300",
            "--civil-servants",
            "5",
            "--seed",
            "5",
        ],
        &[],
    );
    assert!(generated.status.success(), "{:?}", text(&generated));
    let someone = first_registered(&data.join("register.csv"));

    let pki = Pki::new(dir.path(), "internal");
    let (resolver_cert, resolver_key) = pki.issue(
        "resolver",
        ["VN", "Bo Noi vu", "lienthong-resolve"],
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (lookup_cert, lookup_key) = pki.issue(
        "lookup-client",
        ["VN", "Bo Noi vu", "lienthong-lookup"],
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let (stranger_cert, stranger_key) = pki.issue(
        "stranger",
        ["VN", "Khong ai", "stranger"],
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let resolve_config = dir.path().join("resolve.toml");
    std::fs::write(
        &resolve_config,
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
[state]
topic = "lienthong.state.{tag}"
[resolve]
codelists = "{codelists}"
listen = "127.0.0.1:0"
population_topic = "population.{tag}.v1"
review_topic = "review.{tag}.v1"
inputs = ["canonical.person.v1"]
group_id = "resolve-{tag}"
allowed_callers = ["cn=lienthong-lookup, o=Bo Noi vu, c=VN"]
allowed_token_sha256 = ["{token_hash}"]
[resolve.tls]
cert = "{cert}"
key = "{key}"
client_ca = "{ca}"
[resolve.register]
kind = "csv"
path = "{register}"
"#,
            broker = stack::broker(),
            codelists = schemas().join("codelists").display(),
            token_hash = sha256_hex(RESOLVER_TOKEN),
            cert = resolver_cert.display(),
            key = resolver_key.display(),
            ca = pki.ca.display(),
            register = data.join("register.csv").display(),
        ),
    )
    .unwrap();
    let checked = lienthong(
        &["validate", "--config", resolve_config.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "ok    resolve   tls: certificate CN=lienthong-resolve,O=Bo Noi vu,C=VN, localhost; client certificates optional (1 CA(s))"
        ),
        "{stdout}"
    );
    let resolver = Service::start(
        &["resolve", "--config", resolve_config.to_str().unwrap()],
        &dir.path().join("resolve.log"),
    );
    let resolver_addr = address(&resolver);
    let port = resolver_addr.rsplit(':').next().unwrap().to_owned();
    let ca = Certificate::from_pem(std::fs::read(&pki.ca).unwrap());
    let channel = |identity: Option<(&Path, &Path)>| {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(ca.clone())
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(
                std::fs::read(cert).unwrap(),
                std::fs::read(key).unwrap(),
            ));
        }
        Channel::from_shared(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy()
    };
    use lienthong_proto::v1::resolve_service_client::ResolveServiceClient;

    // The lookup API's certificate: answered.
    let mut listed = ResolveServiceClient::new(channel(Some((&lookup_cert, &lookup_key))));
    let answer = listed
        .resolve(resolve_request(&someone))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(answer.personal_id, someone.personal_id, "{answer:?}");
    assert!(
        answer.status == MatchStatus::Matched as i32
            || answer.status == MatchStatus::MatchedWithDiscrepancies as i32,
        "{answer:?}"
    );
    // A listed token over server-authenticated TLS: answered.
    let mut by_token = ResolveServiceClient::new(channel(None));
    assert!(
        by_token
            .resolve(with_token(resolve_request(&someone), RESOLVER_TOKEN))
            .await
            .is_ok()
    );
    // A certificate of the same CA that is not listed, no credentials, a wrong token: refused.
    let mut stranger = ResolveServiceClient::new(channel(Some((&stranger_cert, &stranger_key))));
    let refused = stranger
        .resolve(resolve_request(&someone))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(refused.message().contains("allowed_callers"), "{refused:?}");
    let refused = by_token
        .resolve(resolve_request(&someone))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let refused = by_token
        .resolve(with_token(resolve_request(&someone), "a-guessed-token"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    // Plaintext is not served at all; health stays open to probes over TLS.
    let plaintext = ResolveServiceClient::connect(format!("http://{resolver_addr}")).await;
    let plain_call = match plaintext {
        Ok(mut client) => client.resolve(resolve_request(&someone)).await.is_ok(),
        Err(_) => false,
    };
    assert!(!plain_call, "a plaintext call was answered");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(None));
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "lienthong.v1.ResolveService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serving.status, 1, "SERVING");

    // The lookup API with its client certificate delegates a partner's call: answered.
    let db = TestDatabase::create("lookup_resolver").await;
    write_policies(&dir.path().join("policies"));
    let lookup_config = config(dir.path(), &db.url, None);
    with_resolver(
        &lookup_config,
        &port,
        &pki.ca,
        Some((&lookup_cert, &lookup_key)),
    );
    let checked = lienthong(
        &["validate", "--config", lookup_config.to_str().unwrap()],
        &[],
    );
    let (stdout, stderr) = text(&checked);
    assert!(
        stdout.contains(
            "ok    lookup    resolver_tls: 1 CA(s); client certificate CN=lienthong-lookup,O=Bo Noi vu,C=VN"
        ),
        "{stdout}\n{stderr}"
    );
    let lookup = Service::start(
        &["lookup", "--config", lookup_config.to_str().unwrap()],
        &dir.path().join("lookup.log"),
    );
    let mut portal = ResolveServiceClient::connect(format!("http://{}", address(&lookup)))
        .await
        .unwrap();
    let answer = portal
        .resolve(with_token(resolve_request(&someone), PORTAL_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap();
    assert_eq!(answer.personal_id, someone.personal_id, "{answer:?}");

    // A lookup API trusting the resolver's CA but without a certificate or token of its own is
    // refused by the resolver: its caller learns the resolver is unavailable, its log says why.
    let other = dir.path().join("uncredentialed");
    std::fs::create_dir_all(&other).unwrap();
    write_policies(&other.join("policies"));
    let other_config = config(&other, &db.url, None);
    with_resolver(&other_config, &port, &pki.ca, None);
    let uncredentialed = Service::start(
        &["lookup", "--config", other_config.to_str().unwrap()],
        &other.join("lookup.log"),
    );
    let mut portal = ResolveServiceClient::connect(format!("http://{}", address(&uncredentialed)))
        .await
        .unwrap();
    let refused = portal
        .resolve(with_token(resolve_request(&someone), PORTAL_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !uncredentialed
        .log()
        .contains("client certificate or a bearer token")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the lookup API's log does not say why: {}",
            uncredentialed.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        resolver.log().contains("resolver call refused"),
        "{}",
        resolver.log()
    );
    assert!(!resolver.log().contains(RESOLVER_TOKEN));
    drop((lookup, uncredentialed, resolver));
}
