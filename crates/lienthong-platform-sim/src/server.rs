//! The HTTP shell: routes, the token endpoint, the inspection and fault API, the listener that
//! can drop connections, and [`serve`] (plain HTTP here, HTTPS through [`crate::tls`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::auth::{TokenAuthority, TokenRequestError};
use crate::config::PlatformSimConfig;
use crate::error::SimError;
use crate::faults::{FaultEngine, FaultPlan};
use crate::flavours::{lgsp, ndop, ngsp};
use crate::gate::{AppState, REALM, lock_faults, verdict_to_result};
use crate::store::{ListQuery, RecordStore};
use crate::tls::ServerTls;

/// A running simulator.
#[derive(Debug)]
pub struct BoundServer {
    local_addr: SocketAddr,
    tls: bool,
    task: JoinHandle<Result<(), SimError>>,
}

impl BoundServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server speaks TLS (a `[tls]` section was configured).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Base URL, e.g. `http://127.0.0.1:8480`, or `https://127.0.0.1:8443` with `[tls]`.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Waits until the server has stopped (after the shutdown future completed and open
    /// connections finished) and its database is closed.
    pub async fn wait(self) -> Result<(), SimError> {
        match self.task.await {
            Ok(result) => result,
            Err(join_error) => Err(SimError::Serve(Arc::new(io::Error::other(join_error)))),
        }
    }
}

/// Validates `config`, opens the database, binds the listener and starts serving (HTTPS when
/// `config.tls` is set, else plain HTTP) in a background task until `shutdown` completes.
/// Returns once the server accepts connections.
pub async fn serve<F>(config: PlatformSimConfig, shutdown: F) -> Result<BoundServer, SimError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let problems = config.validate();
    if !problems.is_empty() {
        return Err(SimError::InvalidConfig(problems));
    }
    // Loaded again after `validate` read the same files: this is the setup that is served.
    let tls = config
        .tls
        .as_ref()
        .map(ServerTls::load)
        .transpose()
        .map_err(SimError::InvalidConfig)?;
    let store = RecordStore::open(config.database.as_deref()).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.listen,
            source: Arc::new(source),
        })?;
    let local_addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.listen,
        source: Arc::new(source),
    })?;
    let faults = Arc::new(Mutex::new(FaultEngine::new(
        config.faults.clone(),
        Instant::now(),
    )));
    let state = Arc::new(AppState {
        store: store.clone(),
        tokens: Mutex::new(TokenAuthority::new(config.auth.clone())),
        faults: Arc::clone(&faults),
        config,
    });
    let app = router(state);
    let listener = FaultingListener {
        inner: listener,
        faults,
    };
    let is_tls = tls.is_some();
    tracing::info!(%local_addr, tls = is_tls, "platform simulator listening");
    let task = tokio::spawn(async move {
        let result = match tls {
            Some(tls) => {
                crate::tls::serve(listener, tls, app, shutdown).await;
                Ok(())
            }
            None => axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .map_err(|e| SimError::Serve(Arc::new(e))),
        };
        store.close().await;
        result
    });
    Ok(BoundServer {
        local_addr,
        tls: is_tls,
        task,
    })
}

fn router(state: Arc<AppState>) -> Router {
    let max_body = state.config.checks.max_body_bytes;
    Router::new()
        .route("/oauth2/token", post(token))
        .route("/ngsp/v1/records", post(ngsp::records))
        .route(
            "/ndop/api/v1/datasets/{dataset}/records",
            post(ndop::records),
        )
        .route("/lgsp/{ministry}/v1/{entity}", post(lgsp::record))
        .route("/_sim/health", get(health))
        .route("/_sim/counts", get(counts))
        .route("/_sim/records", get(list_records))
        .route("/_sim/records/{flavour}/{key}", get(get_record))
        .route("/_sim/reset", post(reset))
        .route(
            "/_sim/faults",
            get(get_faults).post(set_faults).delete(clear_faults),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// OAuth2 token endpoint

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    // Accepted and ignored: the simulator has a single scope.
    #[serde(rename = "scope")]
    _scope: Option<String>,
}

/// `POST /oauth2/token` (RFC 6749 §4.4): form body with `grant_type=client_credentials`, client
/// credentials in the form or in HTTP Basic authentication.
async fn token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let admission = state.faults().admit_token_request(Instant::now());
    if !admission.delay.is_zero() {
        tokio::time::sleep(admission.delay).await;
    }
    if let Err(rejection) = verdict_to_result(admission.verdict) {
        rejection.count(&state.store).await;
        let mut response = (
            rejection.status,
            Json(
                json!({"error": "temporarily_unavailable", "error_description": rejection.message}),
            ),
        )
            .into_response();
        response.headers_mut().extend(rejection.headers);
        return response;
    }
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => {
            return token_error(
                &state,
                &TokenRequestError::InvalidRequest(rejection.body_text()),
            )
            .await;
        }
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_basic);
    let (client_id, client_secret) = match &basic {
        Some((id, secret)) => (Some(id.as_str()), Some(secret.as_str())),
        None => (form.client_id.as_deref(), form.client_secret.as_deref()),
    };
    let issued = state.tokens().issue(
        form.grant_type.as_deref(),
        client_id,
        client_secret,
        Instant::now(),
    );
    match issued {
        Ok(issued) => {
            let mut response = Json(json!({
                "access_token": issued.access_token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in.as_secs(),
            }))
            .into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => token_error(&state, &error).await,
    }
}

async fn token_error(state: &AppState, error: &TokenRequestError) -> Response {
    let description = match error {
        TokenRequestError::InvalidRequest(detail) => detail.clone(),
        TokenRequestError::InvalidClient => "unknown client or wrong secret".to_owned(),
        TokenRequestError::UnsupportedGrantType(grant) => {
            format!("grant type {grant:?} is not supported; use client_credentials")
        }
    };
    if let Err(e) = state.store.count_rejection(&format!("token_{error}")).await {
        tracing::warn!(error = %e, "cannot count a token rejection");
    }
    let body = Json(json!({"error": error.to_string(), "error_description": description}));
    let mut response = match error {
        TokenRequestError::InvalidClient => (StatusCode::UNAUTHORIZED, body).into_response(),
        _ => (StatusCode::BAD_REQUEST, body).into_response(),
    };
    if matches!(error, TokenRequestError::InvalidClient)
        && let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{REALM}\""))
    {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `Basic base64(client_id:client_secret)`.
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Inspection and control API

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "failing", "error": error.to_string()})),
        )
            .into_response(),
    }
}

fn internal(error: &SimError) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": error.to_string()})),
    )
        .into_response()
}

async fn counts(State(state): State<Arc<AppState>>) -> Response {
    match state.store.counts().await {
        Ok(counts) => Json(counts).into_response(),
        Err(error) => internal(&error),
    }
}

/// Default and largest page size of `GET /_sim/records`.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    flavour: Option<String>,
    entity: Option<String>,
    after: Option<i64>,
    limit: Option<u32>,
}

async fn list_records(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Query(params) = match params {
        Ok(params) => params,
        Err(rejection) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": rejection.body_text()})),
            )
                .into_response();
        }
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let query = ListQuery {
        flavour: params.flavour,
        entity: params.entity,
        after: params.after,
        limit,
    };
    match state.store.list(&query).await {
        Ok(records) => {
            // A full page may have a successor; a short page is the last.
            let next_after = (records.len() == limit as usize)
                .then(|| records.last().map(|r| r.id))
                .flatten();
            Json(json!({"records": records, "next_after": next_after})).into_response()
        }
        Err(error) => internal(&error),
    }
}

async fn get_record(
    State(state): State<Arc<AppState>>,
    Path((flavour, key)): Path<(String, String)>,
) -> Response {
    match state.store.get(&flavour, &key).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no {flavour} record with key {key:?}")})),
        )
            .into_response(),
        Err(error) => internal(&error),
    }
}

async fn reset(State(state): State<Arc<AppState>>) -> Response {
    match state.store.reset().await {
        Ok(()) => Json(json!({"reset": true})).into_response(),
        Err(error) => internal(&error),
    }
}

async fn get_faults(State(state): State<Arc<AppState>>) -> Response {
    Json(state.faults().plan().clone()).into_response()
}

async fn set_faults(
    State(state): State<Arc<AppState>>,
    plan: Result<Json<FaultPlan>, JsonRejection>,
) -> Response {
    let plan = match plan {
        Ok(Json(plan)) => plan,
        Err(rejection) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"problems": [rejection.body_text()]})),
            )
                .into_response();
        }
    };
    let problems = plan.validate();
    if !problems.is_empty() {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "problems": problems })),
        )
            .into_response();
    }
    *state.faults() = FaultEngine::new(plan.clone(), Instant::now());
    tracing::info!(?plan, "fault plan armed");
    Json(json!({ "armed": plan })).into_response()
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> Response {
    *state.faults() = FaultEngine::new(FaultPlan::default(), Instant::now());
    Json(json!({ "armed": FaultPlan::default() })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Listener that drops connections during `drop` downtime windows

#[derive(Debug)]
pub(crate) struct FaultingListener {
    inner: TcpListener,
    faults: Arc<Mutex<FaultEngine>>,
}

impl axum::serve::Listener for FaultingListener {
    type Io = FaultingStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
            if lock_faults(&self.faults).dropping_connections(Instant::now()) {
                // Closing at once is what a client sees from a port with nothing healthy
                // behind it: the connection ends before any response.
                drop(stream);
                continue;
            }
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY");
            }
            return (
                FaultingStream {
                    inner: stream,
                    faults: Arc::clone(&self.faults),
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that fails its next read while a `drop` window is active, so keep-alive
/// connections opened before the window are cut too.
#[derive(Debug)]
pub(crate) struct FaultingStream {
    inner: TcpStream,
    faults: Arc<Mutex<FaultEngine>>,
}

impl AsyncRead for FaultingStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if result.is_ready() && lock_faults(&this.faults).dropping_connections(Instant::now()) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "platform-sim downtime window (drop mode)",
            )));
        }
        result
    }
}

impl AsyncWrite for FaultingStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("hub:s3:cret");
        assert_eq!(
            parse_basic(&format!("Basic {encoded}")),
            Some(("hub".into(), "s3:cret".into()))
        );
        assert_eq!(parse_basic("Bearer x"), None);
    }
}
