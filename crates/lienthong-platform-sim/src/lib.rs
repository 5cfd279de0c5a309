//! A real HTTP(S) server that behaves like the national data-sharing platforms' endpoints
//! (NGSP/NDXP, NDOP, a ministry LGSP; Decree 194/2025), for tests, the demo and integrators.
//!
//! It checks bearer tokens or client certificates (mutual TLS), X-Road-style headers and body
//! hashes, deduplicates by idempotency key, stores what it accepted in SQLite, lets a test
//! inspect what arrived, and misbehaves on command. The binary wires it as `lienthong platform-sim --config FILE`:
//!
//! ```no_run
//! # async fn run() -> Result<(), lienthong_platform_sim::SimError> {
//! let config = lienthong_platform_sim::PlatformSimConfig::default();
//! let server = lienthong_platform_sim::serve(config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! println!("listening on {}", server.local_addr());
//! server.wait().await
//! # }
//! ```
//!
//! # HTTP contract
//!
//! ## Transport
//!
//! Without a `[tls]` section the simulator speaks plain HTTP/1.1. With one ([`TlsConfig`]) it
//! speaks only HTTPS (TLS 1.2 and 1.3, rustls; HTTP/1.1, or HTTP/2 when the client offers it by
//! ALPN) with the certificate chain and key of `tls.cert` and `tls.key`, and
//! [`BoundServer::base_url`] starts with `https://`.
//!
//! With `tls.client_ca` it runs mutual TLS: every client must present a certificate that chains
//! to one of those CAs, otherwise the TLS handshake fails (no HTTP answer, nothing counted). A
//! verified certificate then matters in two ways:
//!
//! - `[[tls.client_bindings]]` binds a subject CN to one `X-Road-Client`
//!   ([`ClientCertificateBinding`]): every platform request over a connection with such a
//!   certificate must carry that `X-Road-Client`, whatever credential it uses, else
//!   `403 client_mismatch`;
//! - `auth.allow_client_certificate = true` lets a platform request without an `Authorization`
//!   header through on the certificate alone; its caller (`client_id` of stored records) is the
//!   subject CN, or `sha256:<fingerprint>` for a certificate without a CN. Off by default: a
//!   certificate alone then gets `401 missing_token` like any request without credentials.
//!
//! The inspection API (`/_sim/...`) and `POST /oauth2/token` run over the same listener, so
//! with mutual TLS they too need a client certificate.
//!
//! ## Authentication
//!
//! `POST /oauth2/token` implements the OAuth2 client-credentials grant (RFC 6749 §4.4): form body
//! `grant_type=client_credentials&client_id=..&client_secret=..` (or the credentials in HTTP
//! Basic auth). Success: `200 {"access_token", "token_type": "Bearer", "expires_in"}`. Errors:
//! `400 {"error": "invalid_request" | "unsupported_grant_type", "error_description"}`,
//! `401 {"error": "invalid_client"}` with `WWW-Authenticate: Basic`. Issued tokens expire after
//! `auth.token_ttl_seconds` and are lost on restart; static tokens from the config never expire.
//!
//! Every platform request needs `Authorization: Bearer <token>`; otherwise `401` with
//! `WWW-Authenticate: Bearer realm="lienthong-platform-sim"` (plus `error="invalid_token"` and an
//! `error_description` of `unknown bearer token` or `bearer token expired` when one was sent),
//! unless the request came with a client certificate and `auth.allow_client_certificate` is set
//! (see Transport).
//!
//! ## Checks on every platform request, in order
//!
//! 1. injected faults (see below);
//! 2. bearer token (or the client certificate, where allowed) → `401`;
//! 3. body size (`checks.max_body_bytes`) → `413 body_too_large`;
//! 4. X-Road headers (see [`xroad`]): `X-Road-Client` (`INSTANCE/CLASS/MEMBER/SUBSYSTEM`),
//!    `X-Road-Id`, `X-Road-UserId`, `X-Road-Purpose` → `400 missing_header | invalid_header`;
//!    a credential bound to a client id (`xroad_client` in config), or a client certificate
//!    bound to one (`tls.client_bindings`), with another `X-Road-Client` →
//!    `403 client_mismatch`. A reused `X-Road-Id` is counted, not refused;
//! 5. body hash (see [`digest`]): `Content-Digest: sha-256=:<base64>:` or
//!    `Digest: SHA-256=<base64>` → `400 missing_digest | invalid_digest`;
//! 6. the flavour's own body checks → `400 invalid_body`, `413 batch_too_large`,
//!    `404 unknown_resource` (malformed dataset/ministry/entity name in the path).
//!
//! The reason codes above (`missing_token`, `invalid_token`, `expired_token`, ...) appear in each
//! flavour's error body and as keys of `rejected` in `GET /_sim/counts`.
//!
//! ## Flavours
//!
//! Idempotency keys are 1–255 visible ASCII characters, scoped per flavour.
//!
//! **NGSP/NDXP** — `POST /ngsp/v1/records`
//! ```json
//! {"header": {"client": "VN/GOV/000.00.00.H29/lienthong-hub", "service": "VN/GOV/000.00.00.G22/ndxp/records",
//!             "messageId": "<same as X-Road-Id>", "userId": "...", "purpose": "..."},
//!  "records": [{"idempotencyKey": "k1", "entity": "person", "payload": {"...": "..."}}]}
//! ```
//! `header.client` and `header.messageId` must equal `X-Road-Client` and `X-Road-Id`
//! (`400 header_mismatch`). Answer `200`:
//! `{"messageId", "accepted", "duplicates", "failed", "results": [{"idempotencyKey", "status":
//! "ACCEPTED" | "DUPLICATE" | "CONFLICT" | "INVALID", "reference", "duplicate", "error":
//! {"type", "message"}}]}`. A record's identity for deduplication is its `entity` and `payload`.
//! Errors: `{"type": "Client.MissingDigest", "message", "detail": "<error id>"}`
//! (`Server.` for 5xx).
//!
//! **NDOP** — `POST /ndop/api/v1/datasets/{dataset}/records`
//! ```json
//! {"items": [{"key": "k1", "data": {"...": "..."}}]}
//! ```
//! Answer `200`: `{"dataset", "summary": {"created", "duplicate", "conflict", "invalid"},
//! "items": [{"key", "result": "created" | "duplicate" | "conflict" | "invalid", "ref",
//! "duplicate", "detail"}]}`; identity is `data`. Errors are `application/problem+json`:
//! `{"type": "urn:lienthong:platform-sim:ndop:<code>", "title", "status", "detail"}`.
//!
//! **LGSP** — `POST /lgsp/{ministry}/v1/{entity}`, body = one JSON object, key in the
//! `Idempotency-Key` header, identity = the raw body bytes. Answers:
//! `201 {"code": "0", "message": "created", "data": {"reference", "duplicate": false,
//! "idempotencyKey"}}`, `200` with `"duplicate": true` for a repeat,
//! `409 {"code": "IDEMPOTENCY_CONFLICT", ...}` for the same key with another body. Errors:
//! `{"code": "<REASON>", "message", "data": null}`.
//!
//! ## Faults
//!
//! `POST /_sim/faults` with a [`FaultPlan`] as JSON replaces the active plan (also settable as
//! `[faults]` in the config); `GET` shows it, `DELETE` clears it. Injected answers use the
//! flavour's error body with codes `injected_error` (5xx), `rate_limited` (`429` +
//! `Retry-After`), `unavailable` (`503` + `Retry-After`). See [`faults`] for the order and for
//! the `drop` downtime mode, which closes connections instead of answering.
//!
//! ```json
//! {"latency": {"fixed_ms": 50, "jitter_ms": 20},
//!  "error_rate": {"fraction": 0.2, "status": 503, "seed": 7},
//!  "rate_limit": {"retry_after_seconds": 2, "requests": 3},
//!  "downtime": [{"start_after_ms": 0, "for_ms": 1500, "mode": "unavailable"}],
//!  "token_delay_ms": 500}
//! ```
//!
//! ## Inspection (never subject to faults, except `drop` windows)
//!
//! | request | answer |
//! |---|---|
//! | `GET /_sim/health` | `200 {"status": "ok"}` when the database answers, else `503` |
//! | `GET /_sim/counts` | [`store::Counts`]: records, deliveries, duplicates, per flavour and entity, rejected by reason, faults by kind, reused message ids |
//! | `GET /_sim/records?flavour=&entity=&after=&limit=` | `{"records": [StoredRecord...], "next_after": id \| null}`, in arrival order, `limit` 1–1000 (default 100) |
//! | `GET /_sim/records/{flavour}/{key}` | one [`store::StoredRecord`] or `404` |
//! | `POST /_sim/reset` | deletes records, counters and remembered message ids |
//! | `GET / POST / DELETE /_sim/faults` | the fault plan |

pub mod auth;
pub mod config;
pub mod digest;
pub mod error;
pub mod faults;
mod flavours;
mod gate;
mod server;
pub mod store;
mod tls;
pub mod xroad;

pub use config::{
    AuthConfig, ChecksConfig, ClientCertificateBinding, ConfigProblem, OAuthClient,
    PlatformSimConfig, Secret, StaticToken, TlsConfig,
};
pub use error::SimError;
pub use faults::{Downtime, DowntimeMode, ErrorRate, FaultPlan, Latency, RateLimit};
pub use server::{BoundServer, serve};
