//! `hearth serve`: an OpenAI- and Ollama-compatible HTTP API over the
//! engine's continuous-batching scheduler. Loopback by default, prompts not
//! logged, every endpoint behind the API key when one is set.
//!
//! [`app`] builds the router (tests drive it on a real socket), [`run`]
//! serves it until `shutdown` resolves.

mod answer;
mod anthropic;
pub mod catalog;
mod create;
pub mod defaults;
mod embed;
pub mod error;
pub mod gen;
pub mod guard;
pub use engine::jsonfix;
mod listen;
pub mod metrics;
pub(crate) mod model_info;
pub mod models;
mod ollama;
mod openai;
mod ops;
mod pull;
mod responses;
mod spec;
mod structured;
mod tools;
pub mod web;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::{ApiError, Flavor};
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use models::{KeepAlive, Manager};

/// Server settings beyond the models.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Required as `Authorization: Bearer KEY` on every endpoint when set.
    pub api_key: Option<String>,
    /// Origins allowed by CORS; empty = no CORS headers (browsers refuse).
    /// `*` allows any origin.
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Print prompts and outputs (off by default: they are private).
    pub log_prompts: bool,
    /// Print nothing per request.
    pub quiet: bool,
    /// Host names the server answers to besides loopback and the address it
    /// listens on (`--allowed-host`; `*`: any). See `guard`.
    pub allowed_hosts: Vec<String>,
    /// Let `/api/pull` fetch plain-http URLs and URLs naming this machine or
    /// its local network (`--allow-any-pull`); off: catalog names, `hf.co/`
    /// references and https URLs of other hosts only.
    pub allow_any_pull: bool,
    /// How long a client may take to send a request's headers, and then its
    /// body; also how long an idle kept-alive connection stays open.
    pub read_timeout: Duration,
    /// Connections served at once at most; more wait until one closes.
    pub max_connections: usize,
    /// How long `/v1/responses` keeps a stored response for
    /// `previous_response_id` (in memory only; gone on restart).
    pub responses_ttl: Duration,
    /// Stored responses kept at most (oldest dropped first).
    pub responses_max: usize,
    /// Bytes of stored responses kept at most (oldest dropped first).
    pub responses_max_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            api_key: None,
            cors_origins: Vec::new(),
            max_body: 8 << 20,
            log_prompts: false,
            quiet: false,
            allowed_hosts: Vec::new(),
            allow_any_pull: false,
            read_timeout: Duration::from_secs(30),
            max_connections: 256,
            responses_ttl: Duration::from_secs(30 * 60),
            responses_max: 256,
            responses_max_bytes: 64 << 20,
        }
    }
}

pub struct AppState {
    pub mgr: Manager,
    pub cfg: ServerConfig,
    /// Counters and gauges for `GET /metrics`.
    pub metrics: metrics::Metrics,
    /// Responses kept for `previous_response_id` (`/v1/responses`).
    pub responses: responses::Memory,
}

impl AppState {
    pub fn new(mgr: Manager, cfg: ServerConfig) -> AppState {
        let responses = responses::Memory::new(
            cfg.responses_ttl,
            cfg.responses_max,
            cfg.responses_max_bytes,
        );
        AppState {
            mgr,
            cfg,
            metrics: metrics::Metrics::default(),
            responses,
        }
    }
}

pub type Shared = Arc<AppState>;

/// The router with every endpoint, the web-page guard (Host, Origin, JSON
/// only: `guard`), auth, CORS and the body limit, for a server listening on
/// `bound`.
pub fn app_on(state: Shared, bound: Option<std::net::IpAddr>) -> Router {
    let g = Arc::new(guard::Guard {
        hosts: state
            .cfg
            .allowed_hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect(),
        bound,
        origins: state.cfg.cors_origins.clone(),
    });
    app(state).layer(middleware::from_fn_with_state(g, guard::check))
}

/// The router without the web-page guard (see [`app_on`]).
pub fn app(state: Shared) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/embeddings", post(embed::openai))
        .route("/v1/models", get(openai::models))
        .route("/v1/models/{*id}", get(openai::model))
        .route("/api/chat", post(ollama::chat))
        .route("/api/generate", post(ollama::generate))
        .route("/api/tags", get(ollama::tags))
        .route("/api/show", post(ollama::show))
        .route("/api/ps", get(ollama::ps))
        .route("/api/pull", post(pull::pull))
        .route("/api/embed", post(embed::ollama))
        .route("/api/embeddings", post(embed::ollama_legacy))
        .route("/api/delete", axum::routing::delete(ollama::delete))
        .route("/api/copy", post(ollama::copy))
        .route("/api/version", get(ollama::version))
        .route("/api/create", post(create::create))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/responses", post(responses::create))
        .route(
            "/v1/responses/{id}",
            get(responses::retrieve).delete(responses::delete),
        )
        .route("/health", get(ops::health))
        .route("/metrics", get(ops::metrics))
        .route("/tokenize", post(ops::tokenize))
        .route("/detokenize", post(ops::detokenize))
        .route("/", get(web::root).head(web::root))
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.cfg.max_body))
        .layer(axum::Extension(BodyTimeout(state.cfg.read_timeout)))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(state.clone(), redact_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state.clone());
    if state.cfg.cors_origins.is_empty() {
        return api;
    }
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = &state.cfg.cors_origins;
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    api.layer(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::DELETE,
                Method::HEAD,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::HeaderName::from_static("x-api-key"),
                header::HeaderName::from_static("anthropic-version"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// Serve until `shutdown` resolves; unloads idle models in the background.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let reaper = {
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let st2 = st.clone();
                let _ = tokio::task::spawn_blocking(move || st2.mgr.reap()).await;
            }
        })
    };
    let bound = listener.local_addr().ok().map(|a| a.ip());
    let r = listen::serve(listener, app_on(state.clone(), bound), &state, shutdown).await;
    reaper.abort();
    r
}

pub(crate) fn flavor_of(path: &str) -> Flavor {
    if path.starts_with("/api/") {
        Flavor::Ollama
    } else if path.starts_with("/v1/messages") {
        Flavor::Anthropic
    } else if matches!(path, "/health" | "/tokenize" | "/detokenize" | "/metrics") {
        Flavor::LlamaCpp
    } else {
        Flavor::OpenAi
    }
}

/// The routes whose handlers log a line of their own for a successful
/// request (with token counts: `gen::log_request`).
const GENERATION_ROUTES: [&str; 7] = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/api/chat",
    "/api/generate",
    "/api/embed",
    "/api/embeddings",
];

async fn auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = Instant::now();
    let r = check_key(&st, req, next).await;
    // Successful generations log their own line (with token counts); every
    // other request (listings, copy, delete, the page's files) and every
    // refused one gets one here, without its content.
    let failed = r.status().is_client_error() || r.status().is_server_error();
    if !st.cfg.quiet && (failed || !GENERATION_ROUTES.contains(&path.as_str())) {
        eprintln!(
            "{} {method} {path} time={:.2}s status={}",
            gen::rfc3339(std::time::SystemTime::now()),
            started.elapsed().as_secs_f64(),
            r.status().as_u16()
        );
    }
    r
}

/// The server's directories as they may appear in a message, with what
/// replaces them in answers: the models directory, those of files served
/// by `--model`, the home and temporary directories.
pub(crate) fn private_dirs(st: &AppState) -> Vec<(String, &'static str)> {
    let mut dirs: Vec<(std::path::PathBuf, &'static str)> = Vec::new();
    if let Some(d) = st.mgr.catalog.dir() {
        dirs.push((d.to_path_buf(), "<models>"));
    }
    for e in st.mgr.catalog.list() {
        if let Some(p) = e.path.parent() {
            dirs.push((p.to_path_buf(), "<models>"));
        }
    }
    if let Some(h) = std::env::var_os("HOME") {
        dirs.push((h.into(), "<home>"));
    }
    dirs.push((std::env::temp_dir(), "<tmp>"));
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for (d, r) in dirs {
        for p in [Some(d.clone()), d.canonicalize().ok()]
            .into_iter()
            .flatten()
        {
            let s = p.display().to_string();
            let s = s.trim_end_matches('/').to_string();
            if s.len() > 1 && !out.iter().any(|(x, _)| *x == s) {
                out.push((s, r));
            }
        }
    }
    // longest first, so a directory inside another is replaced whole
    out.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    out
}

/// `msg` with the server's directories replaced (see [`private_dirs`]).
pub(crate) fn redact(msg: &str, dirs: &[(String, &'static str)]) -> String {
    let mut m = msg.to_string();
    for (d, r) in dirs {
        if m.contains(d.as_str()) {
            m = m.replace(d.as_str(), r);
        }
    }
    m
}

/// Error answers never name a path on the server: whatever a message
/// carries (a file that failed to load, a store error), the server's
/// directories are replaced before it leaves.
async fn redact_errors(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let r = next.run(req).await;
    if !(r.status().is_client_error() || r.status().is_server_error()) {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return (parts.status, "error").into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let dirs = private_dirs(&st);
    let clean = redact(&text, &dirs);
    // JSON escapes `/` only optionally; the directories are plain text in it
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(clean))
}

async fn check_key(st: &AppState, req: Request, next: Next) -> Response {
    // the chat page's own files load without the key (the page asks for it)
    let public = web::is_public(req.method(), req.uri().path(), req.headers());
    if let Some(key) = st.cfg.api_key.as_ref().filter(|_| !public) {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        // Anthropic's clients send the key as `x-api-key`.
        let x_api_key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
        let ok = bearer
            .into_iter()
            .chain(x_api_key)
            .any(|given| ct_eq(given.trim().as_bytes(), key.as_bytes()));
        if !ok {
            let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong API key: send the header 'Authorization: Bearer KEY' (or 'x-api-key: KEY') with the key the server was started with")
                .with_code("invalid_api_key")
                .flavor(flavor_of(req.uri().path()))
                .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
    }
    next.run(req).await
}

/// Constant-time comparison (the key's length is not secret).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn not_found(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {} {}", req.method(), req.uri().path()),
    )
    .flavor(flavor_of(req.uri().path()))
    .into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
    .flavor(flavor_of(req.uri().path()))
    .into_response()
}

/// A JSON body parsed into `T`; errors name the field at fault
/// (`messages[0].role: missing field`), too large a body is 413, one not
/// sent within the read timeout 408.
pub struct Body<T>(pub T);

/// How long reading a request body may take.
#[derive(Clone, Copy)]
struct BodyTimeout(Duration);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let flavor = flavor_of(req.uri().path());
        let limit = req
            .extensions()
            .get::<BodyTimeout>()
            .map(|t| t.0)
            .unwrap_or(Duration::from_secs(30));
        let read = tokio::time::timeout(limit, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the request body was not received within {} s",
                        limit.as_secs_f64()
                    ),
                )
                .flavor(flavor)
            })?;
        let bytes = read.map_err(|e| {
            let status = e.status();
            let msg = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than the server allows (--max-body)".to_string()
            } else {
                format!("could not read the request body: {e}")
            };
            ApiError::new(status, msg).flavor(flavor)
        })?;
        parse_json(&bytes).map(Body).map_err(|e| e.flavor(flavor))
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad("body", format!("body: malformed JSON: {e}")))?;
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(&v, &mut track);
    T::deserialize(de).map_err(|e: serde_json::Error| {
        let path = track.path().to_string();
        let field = if path == "." || path.is_empty() {
            missing_field(&e.to_string())
                .or_else(|| culprit::<T>(&v, &e.to_string()))
                .unwrap_or_else(|| "body".into())
        } else {
            path
        };
        ApiError::bad(field.clone(), format!("{field}: {e}"))
    })
}

/// The top-level field at fault when the error has no path (fields of a
/// `#[serde(flatten)]`ed struct lose it): taking fields away one after
/// another, the one whose removal makes the error go away or change.
fn culprit<T: DeserializeOwned>(v: &serde_json::Value, msg: &str) -> Option<String> {
    let mut o = v.as_object()?.clone();
    let keys: Vec<String> = o.keys().cloned().collect();
    for k in keys {
        let val = o.remove(&k)?;
        match T::deserialize(&serde_json::Value::Object(o.clone())) {
            Ok(_) => return Some(k),
            // a required field: keep it
            Err(e) if missing_field(&e.to_string()).as_deref() == Some(k.as_str()) => {
                o.insert(k, val);
            }
            Err(e) if e.to_string() != msg => return Some(k),
            Err(_) => {}
        }
    }
    None
}

fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}
