//! The simulator over real HTTP on 127.0.0.1, driven with reqwest the way a sink would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use lienthong_platform_sim::digest::{content_digest_value, legacy_digest_value};
use lienthong_platform_sim::{
    BoundServer, OAuthClient, PlatformSimConfig, Secret, SimError, StaticToken, serve,
};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const CLIENT_ID: &str = "bnv-hub";
const CLIENT_SECRET: &str = "hub-secret-value";
const STATIC_TOKEN: &str = "static-token-for-legacy-sink";
const BOUND_TOKEN: &str = "static-token-bound-to-subsystem";
const XROAD_CLIENT: &str = "VN/GOV/000.00.00.H29/lienthong-hub";

struct Sim {
    server: BoundServer,
    stop: oneshot::Sender<()>,
    base: String,
    http: Client,
}

fn config() -> PlatformSimConfig {
    let mut config = PlatformSimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..PlatformSimConfig::default()
    };
    config.auth.oauth_clients.push(OAuthClient {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        xroad_client: None,
    });
    config.auth.static_tokens.push(StaticToken {
        client_id: "legacy".into(),
        token: Secret::new(STATIC_TOKEN),
        xroad_client: None,
    });
    config.auth.static_tokens.push(StaticToken {
        client_id: "bound".into(),
        token: Secret::new(BOUND_TOKEN),
        xroad_client: Some("VN/GOV/000.00.00.G22/other-system".into()),
    });
    config
}

async fn start(config: PlatformSimConfig) -> Sim {
    let (stop, stopped) = oneshot::channel::<()>();
    let server = serve(config, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let base = server.base_url();
    Sim {
        server,
        stop,
        base,
        http: Client::new(),
    }
}

impl Sim {
    async fn shutdown(self) {
        drop(self.http);
        self.stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.server.wait())
            .await
            .expect("server did not stop")
            .unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A platform POST with every required header, authenticated with `token`.
    fn platform_post(&self, path: &str, body: &[u8], token: &str) -> RequestBuilder {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("x-road-client", XROAD_CLIENT)
            .header("x-road-id", uuid::Uuid::new_v4().to_string())
            .header("x-road-userid", "VN/bnv/nguyenvana")
            .header("x-road-purpose", "civil-servant-db-sync")
            .header("content-digest", content_digest_value(body))
            .body(body.to_vec())
    }

    async fn lgsp(&self, key: &str, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        self.platform_post("/lgsp/bnv/v1/civil-servant", &bytes, STATIC_TOKEN)
            .header("idempotency-key", key)
            .send()
            .await
            .unwrap()
    }

    async fn token(&self) -> Response {
        self.http
            .post(self.url("/oauth2/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
    }

    async fn counts(&self) -> Value {
        self.get_json("/_sim/counts").await
    }

    async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    async fn set_faults(&self, plan: Value) {
        let response = self
            .http
            .post(self.url("/_sim/faults"))
            .json(&plan)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
    }
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn oauth_token_flow_with_expiry() {
    let mut config = config();
    config.auth.token_ttl_seconds = 1;
    let sim = start(config).await;

    let response = sim.token().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 1);
    let access = token["access_token"].as_str().unwrap().to_owned();

    let body = br#"{"personalId":"001099012345"}"#;
    let send = |token: String, key: &'static str| {
        sim.platform_post("/lgsp/bnv/v1/person", body, &token)
            .header("idempotency-key", key)
            .send()
    };
    assert_eq!(
        send(access.clone(), "k1").await.unwrap().status(),
        StatusCode::CREATED
    );

    // Missing token: challenge without an error attribute.
    let response = sim
        .http
        .post(sim.url("/lgsp/bnv/v1/person"))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate"),
        "Bearer realm=\"lienthong-platform-sim\""
    );
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "MISSING_TOKEN");

    // Unknown token.
    let response = send("not-a-token".into(), "k2").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "www-authenticate").contains("error=\"invalid_token\""));

    // Expired token, then a fresh one works.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = send(access, "k3").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&response, "www-authenticate");
    assert!(
        challenge.contains("invalid_token") && challenge.contains("expired"),
        "{challenge}"
    );
    let fresh: Value = sim.token().await.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        send(fresh, "k3").await.unwrap().status(),
        StatusCode::CREATED
    );

    // Credentials in HTTP Basic auth are accepted too.
    let response = sim
        .http
        .post(sim.url("/oauth2/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Wrong secret and wrong grant type.
    let response = sim
        .http
        .post(sim.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let response = sim
        .http
        .post(sim.url("/oauth2/token"))
        .form(&[("grant_type", "password"), ("client_id", CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );

    let counts = sim.counts().await;
    assert_eq!(counts["rejected"]["missing_token"], 1);
    assert_eq!(counts["rejected"]["invalid_token"], 1);
    assert_eq!(counts["rejected"]["expired_token"], 1);
    assert_eq!(counts["rejected"]["token_invalid_client"], 1);
    assert_eq!(counts["records"], 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn header_and_digest_checks() {
    let sim = start(config()).await;
    let body = serde_json::to_vec(&json!({"items": [{"key": "a", "data": {"x": 1}}]})).unwrap();
    let path = "/ndop/api/v1/datasets/civil-servants/records";

    // Missing X-Road-Client: the header map of reqwest cannot remove a set header, so build
    // the request by hand.
    let response = sim
        .http
        .post(sim.url(path))
        .bearer_auth(STATIC_TOKEN)
        .header("x-road-id", "m-1")
        .header("x-road-userid", "u")
        .header("x-road-purpose", "p")
        .header("content-digest", content_digest_value(&body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:lienthong:platform-sim:ndop:missing_header"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("X-Road-Client")
    );

    // Malformed client id.
    let response = sim
        .platform_post(path, &body, STATIC_TOKEN)
        .headers(replacing("x-road-client", "VN/GOV/only-three"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:lienthong:platform-sim:ndop:invalid_header"
    );

    // Digest of another body.
    let response = sim
        .platform_post(path, &body, STATIC_TOKEN)
        .headers(replacing(
            "content-digest",
            &content_digest_value(b"something else"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        problem["type"],
        "urn:lienthong:platform-sim:ndop:invalid_digest"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );

    // No digest at all, on the NGSP flavour: X-Road fault shape.
    let response = sim
        .http
        .post(sim.url("/ngsp/v1/records"))
        .bearer_auth(STATIC_TOKEN)
        .header("x-road-client", XROAD_CLIENT)
        .header("x-road-id", "m-2")
        .header("x-road-userid", "u")
        .header("x-road-purpose", "p")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let fault: Value = response.json().await.unwrap();
    assert_eq!(fault["type"], "Client.MissingDigest");

    // The legacy Digest header is accepted on its own.
    let response = sim
        .http
        .post(sim.url(path))
        .bearer_auth(STATIC_TOKEN)
        .header("x-road-client", XROAD_CLIENT)
        .header("x-road-id", "m-3")
        .header("x-road-userid", "u")
        .header("x-road-purpose", "p")
        .header("digest", legacy_digest_value(&body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // LGSP needs Idempotency-Key.
    let response = sim
        .platform_post("/lgsp/bnv/v1/person", b"{}", STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "MISSING_HEADER"
    );

    // A credential bound to another subsystem.
    let response = sim
        .platform_post("/lgsp/bnv/v1/person", b"{}", BOUND_TOKEN)
        .header("idempotency-key", "k")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Envelope header differing from the X-Road headers.
    let envelope = serde_json::to_vec(&json!({
        "header": {"client": "VN/GOV/000.00.00.H29/another", "service": "s", "messageId": "x",
                   "userId": "u", "purpose": "p"},
        "records": [{"idempotencyKey": "k", "entity": "person", "payload": {}}],
    }))
    .unwrap();
    let response = sim
        .platform_post("/ngsp/v1/records", &envelope, STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.json::<Value>().await.unwrap()["type"],
        "Client.HeaderMismatch"
    );

    let counts = sim.counts().await;
    assert_eq!(counts["rejected"]["missing_header"], 2);
    assert_eq!(counts["rejected"]["invalid_header"], 1);
    assert_eq!(counts["rejected"]["invalid_digest"], 1);
    assert_eq!(counts["rejected"]["missing_digest"], 1);
    assert_eq!(counts["rejected"]["client_mismatch"], 1);
    assert_eq!(counts["rejected"]["header_mismatch"], 1);
    assert_eq!(counts["rejected_total"], 7);
    assert_eq!(counts["records"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn dedup_conflict_and_inspection() {
    let sim = start(config()).await;

    // LGSP: created, duplicate with the same reference, conflict with another body.
    let first = sim.lgsp("cs-1", &json!({"name": "Nguyễn Văn A"})).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["data"]["duplicate"], false);
    let reference = first["data"]["reference"].as_str().unwrap().to_owned();
    assert!(reference.starts_with("LGSP-"));
    let again = sim.lgsp("cs-1", &json!({"name": "Nguyễn Văn A"})).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["data"]["duplicate"], true);
    assert_eq!(again["data"]["reference"], reference.as_str());
    let conflict = sim.lgsp("cs-1", &json!({"name": "Nguyễn Văn B"})).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(
        conflict.json::<Value>().await.unwrap()["code"],
        "IDEMPOTENCY_CONFLICT"
    );

    // NGSP batch: per-record results, including a duplicate inside the batch, a conflict and
    // an invalid record.
    let message_id = "msg-batch-1";
    let envelope = json!({
        "header": {"client": XROAD_CLIENT, "service": "VN/GOV/000.00.00.G22/ndxp/records",
                   "messageId": message_id, "userId": "VN/bnv/a", "purpose": "sync"},
        "records": [
            {"idempotencyKey": "p-1", "entity": "person", "payload": {"id": 1}},
            {"idempotencyKey": "p-1", "entity": "person", "payload": {"id": 1}},
            {"idempotencyKey": "p-1", "entity": "person", "payload": {"id": 2}},
            {"entity": "person", "payload": {"id": 3}},
            {"idempotencyKey": "p-2", "entity": "unit", "payload": {"id": 4}},
        ],
    });
    let bytes = serde_json::to_vec(&envelope).unwrap();
    let response = sim
        .platform_post("/ngsp/v1/records", &bytes, STATIC_TOKEN)
        .headers(replacing("x-road-id", message_id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let result: Value = response.json().await.unwrap();
    let statuses: Vec<&str> = result["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ACCEPTED", "DUPLICATE", "CONFLICT", "INVALID", "ACCEPTED"]
    );
    assert_eq!(
        result["results"][0]["reference"],
        result["results"][1]["reference"]
    );
    assert_eq!(result["results"][1]["duplicate"], true);
    assert_eq!(
        result["results"][2]["error"]["type"],
        "Client.IdempotencyConflict"
    );
    assert_eq!(
        (result["accepted"].clone(), result["failed"].clone()),
        (json!(2), json!(2))
    );

    // NDOP batch redelivered as a whole: all duplicates the second time.
    let batch = serde_json::to_vec(&json!({"items": [
        {"key": "d-1", "data": {"v": 1}}, {"key": "d-2", "data": {"v": 2}}
    ]}))
    .unwrap();
    let path = "/ndop/api/v1/datasets/civil-servants/records";
    for expected in ["created", "duplicate"] {
        let response = sim
            .platform_post(path, &batch, STATIC_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["items"][0]["result"], expected);
        assert_eq!(body["items"][1]["result"], expected);
    }

    // Inspection: by key, list with paging, counts, reset.
    let stored = sim.get_json("/_sim/records/lgsp/cs-1").await;
    assert_eq!(stored["attempts"], 2);
    assert_eq!(stored["reference"], reference.as_str());
    assert_eq!(stored["entity"], "bnv/civil-servant");
    assert_eq!(stored["body"]["name"], "Nguyễn Văn A");
    assert_eq!(stored["client_id"], "legacy");
    let missing = sim
        .http
        .get(sim.url("/_sim/records/lgsp/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let page = sim.get_json("/_sim/records?limit=2").await;
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    let after = page["next_after"].as_i64().unwrap();
    let rest = sim
        .get_json(&format!("/_sim/records?limit=10&after={after}"))
        .await;
    assert_eq!(rest["records"].as_array().unwrap().len(), 3);
    assert!(rest["next_after"].is_null());
    let ndop_only = sim.get_json("/_sim/records?flavour=ndop").await;
    assert_eq!(ndop_only["records"].as_array().unwrap().len(), 2);

    let counts = sim.counts().await;
    assert_eq!(counts["records"], 5);
    assert_eq!(counts["duplicates"], 4);
    assert_eq!(counts["deliveries"], 9);
    assert_eq!(
        counts["by_flavour"],
        json!({"lgsp": 1, "ndop": 2, "ngsp": 2})
    );
    assert_eq!(counts["by_entity"]["ngsp"], json!({"person": 1, "unit": 1}));
    assert_eq!(counts["rejected"]["idempotency_conflict"], 2);
    assert_eq!(counts["rejected"]["invalid_record"], 1);

    let response = sim.http.post(sim.url("/_sim/reset")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let counts = sim.counts().await;
    assert_eq!(counts["records"], 0);
    assert_eq!(counts["rejected_total"], 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn records_survive_a_restart_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.database = Some(dir.path().join("platform.sqlite"));

    let sim = start(config.clone()).await;
    let response = sim.lgsp("persist-1", &json!({"v": 1})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reference = response.json::<Value>().await.unwrap()["data"]["reference"].clone();
    sim.shutdown().await;

    let sim = start(config).await;
    let response = sim.lgsp("persist-1", &json!({"v": 1})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["duplicate"], true);
    assert_eq!(body["data"]["reference"], reference);
    assert_eq!(
        sim.lgsp("persist-1", &json!({"v": 2})).await.status(),
        StatusCode::CONFLICT
    );
    let counts = sim.counts().await;
    assert_eq!(counts["records"], 1);
    assert_eq!(counts["duplicates"], 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let sim = start(config()).await;
    sim.set_faults(json!({"rate_limit": {"retry_after_seconds": 2, "requests": 2}}))
        .await;
    for i in 0..2 {
        let response = sim.lgsp(&format!("r-{i}"), &json!({})).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after"), "2");
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "RATE_LIMITED"
        );
    }
    assert_eq!(
        sim.lgsp("r-2", &json!({})).await.status(),
        StatusCode::CREATED
    );
    let counts = sim.counts().await;
    assert_eq!(counts["faults"]["rate_limited"], 2);
    assert_eq!(counts["records"], 1);

    // A window form, and the plan is visible through GET.
    sim.set_faults(json!({"rate_limit": {"retry_after_seconds": 1, "for_ms": 300}}))
        .await;
    assert_eq!(
        sim.get_json("/_sim/faults").await["rate_limit"]["for_ms"],
        300
    );
    assert_eq!(
        sim.lgsp("w-1", &json!({})).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        sim.lgsp("w-1", &json!({})).await.status(),
        StatusCode::CREATED
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn seeded_error_rate_is_reproducible() {
    let sim = start(config()).await;
    let mut runs = Vec::new();
    for run in 0..2 {
        sim.set_faults(json!({"error_rate": {"fraction": 0.5, "status": 503, "seed": 42}}))
            .await;
        let mut statuses = Vec::new();
        for i in 0..24 {
            let response = sim.lgsp(&format!("e-{run}-{i}"), &json!({"i": i})).await;
            statuses.push(response.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "same seed, same failures");
    let failures = runs[0].iter().filter(|s| **s == 503).count();
    assert!((4..=20).contains(&failures), "{failures} failures of 24");
    assert!(runs[0].iter().all(|s| *s == 503 || *s == 201));
    let counts = sim.counts().await;
    assert_eq!(counts["faults"]["error"], 2 * failures);
    assert_eq!(counts["records"], 48 - 2 * failures);

    // A failed request's body is the flavour's error shape.
    sim.set_faults(json!({"error_rate": {"fraction": 1.0, "status": 502}}))
        .await;
    let body = serde_json::to_vec(&json!({"items": [{"key": "z", "data": {}}]})).unwrap();
    let response = sim
        .platform_post("/ndop/api/v1/datasets/x/records", &body, STATIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        response.json::<Value>().await.unwrap()["type"],
        "urn:lienthong:platform-sim:ndop:injected_error"
    );
    let response = sim
        .http
        .delete(sim.url("/_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        sim.lgsp("after-clear", &json!({})).await.status(),
        StatusCode::CREATED
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn downtime_window_then_recovery() {
    let sim = start(config()).await;
    sim.set_faults(json!({"downtime": [{"for_ms": 700}]})).await;
    let response = sim.lgsp("down-1", &json!({})).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, "retry-after"), "1");
    let token = sim.token().await;
    assert_eq!(token.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The inspection API stays up during an `unavailable` window.
    assert_eq!(sim.counts().await["faults"]["unavailable"], 2);

    tokio::time::sleep(Duration::from_millis(750)).await;
    assert_eq!(
        sim.lgsp("down-1", &json!({})).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(sim.token().await.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_mode_closes_connections_then_recovers() {
    let sim = start(config()).await;
    // Open a keep-alive connection before the window.
    assert_eq!(
        sim.lgsp("before", &json!({})).await.status(),
        StatusCode::CREATED
    );
    sim.set_faults(json!({"downtime": [{"start_after_ms": 0, "for_ms": 600, "mode": "drop"}]}))
        .await;
    let body = serde_json::to_vec(&json!({})).unwrap();
    let error = sim
        .platform_post("/lgsp/bnv/v1/person", &body, STATIC_TOKEN)
        .header("idempotency-key", "during")
        .send()
        .await
        .expect_err("a request during a drop window must fail at the transport");
    assert!(!error.is_status());
    // New connections are closed too, including the inspection API.
    let fresh = Client::new();
    assert!(fresh.get(sim.url("/_sim/health")).send().await.is_err());

    tokio::time::sleep(Duration::from_millis(650)).await;
    let health = fresh.get(sim.url("/_sim/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let response = sim
        .platform_post("/lgsp/bnv/v1/person", &body, STATIC_TOKEN)
        .header("idempotency-key", "during")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_and_slow_token_endpoint() {
    let sim = start(config()).await;
    sim.set_faults(json!({"latency": {"fixed_ms": 250, "jitter_ms": 50}, "token_delay_ms": 300}))
        .await;
    let started = Instant::now();
    assert_eq!(
        sim.lgsp("slow-1", &json!({})).await.status(),
        StatusCode::CREATED
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "{took:?}");

    let started = Instant::now();
    assert_eq!(sim.token().await.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    // The inspection API is not delayed.
    let started = Instant::now();
    sim.counts().await;
    assert!(started.elapsed() < Duration::from_millis(250));
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_fault_plans_and_configs_are_refused() {
    let sim = start(config()).await;
    let response = sim
        .http
        .post(sim.url("/_sim/faults"))
        .json(&json!({"error_rate": {"fraction": 2.0}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["problems"][0]
            .as_str()
            .unwrap()
            .contains("error_rate.fraction")
    );
    let response = sim
        .http
        .post(sim.url("/_sim/faults"))
        .json(&json!({"latncy": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.get_json("/_sim/health").await["status"], "ok");
    sim.shutdown().await;

    // Deny by default: no credentials configured is an error, not an open server.
    let empty = PlatformSimConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..PlatformSimConfig::default()
    };
    match serve(empty, async {}).await {
        Err(SimError::InvalidConfig(problems)) => assert_eq!(problems[0].field, "auth"),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }

    // TOML: unknown keys are refused, secrets never print.
    let parsed: Result<PlatformSimConfig, _> =
        toml::from_str("listen = \"127.0.0.1:0\"\nlisten_port = 1\n");
    assert!(parsed.is_err());
    let parsed: PlatformSimConfig = toml::from_str(
        r#"
        listen = "127.0.0.1:0"
        [auth]
        token_ttl_seconds = 5
        [[auth.oauth_clients]]
        client_id = "hub"
        client_secret = "very-secret-value"
        [faults.rate_limit]
        retry_after_seconds = 3
        requests = 1
        "#,
    )
    .unwrap();
    assert!(parsed.validate().is_empty());
    assert!(!format!("{parsed:?}").contains("very-secret-value"));

    // Faults from the config are active from the start.
    let sim = start(PlatformSimConfig {
        auth: config().auth,
        ..parsed
    })
    .await;
    let response = sim.lgsp("cfg-1", &json!({})).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&response, "retry-after"), "3");
    sim.shutdown().await;
}

/// Headers that replace (not add to) the ones `platform_post` set: `RequestBuilder::header`
/// appends, and a repeated header is a different request.
fn replacing(name: &'static str, value: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(name, value.parse().unwrap());
    headers
}
