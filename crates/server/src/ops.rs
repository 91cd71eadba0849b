//! For operators: `GET /health` and `POST /tokenize` / `/detokenize` in
//! llama-server's shapes (its `tools/server/README.md`), `GET /metrics` in
//! Prometheus' text format (`metrics.rs`).

use crate::error::{ApiError, Flavor};
use crate::models::Lease;
use crate::{Body, Shared};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

fn lerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::LlamaCpp)
}

/// `GET /health`: `{"status": "ok"}` while the server answers (models load
/// on their first request). `?model=NAME` asks about one model: ok when it
/// is loaded, 503 `Loading model` (llama-server's answer while it loads)
/// while it is loading, 503 when it is not loaded, 404 when unknown.
pub async fn health(
    State(st): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let loaded: Vec<String> = st.mgr.loaded().iter().map(|s| s.name.clone()).collect();
    let loading = st.mgr.loading();
    let Some(name) = q.get("model") else {
        return Ok(
            Json(json!({"status": "ok", "models_loaded": loaded, "loading": loading}))
                .into_response(),
        );
    };
    let e = st
        .mgr
        .catalog
        .resolve(name)
        .map_err(|_| lerr(ApiError::not_found_model(name)))?;
    if loaded.contains(&e.name) {
        return Ok(Json(json!({"status": "ok"})).into_response());
    }
    let msg = if loading.as_deref() == Some(e.name.as_str()) {
        "Loading model".to_string()
    } else {
        format!(
            "model '{}' is not loaded; it loads on its first request",
            e.name
        )
    };
    Err(lerr(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg)))
}

/// `GET /metrics`: Prometheus' text exposition format 0.0.4.
pub async fn metrics(State(st): State<Shared>) -> Response {
    let body = crate::metrics::render(&st);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct TokenizeReq {
    /// hearth serves many models: which one (optional when it serves or has
    /// loaded exactly one).
    pub model: Option<String>,
    pub content: String,
    /// Add the model's BOS (and EOS, if it wants one).
    #[serde(default)]
    pub add_special: bool,
    /// Read special-token text (`<|im_start|>`) as those tokens.
    #[serde(default = "yes")]
    pub parse_special: bool,
    /// `[{"id", "piece"}]` instead of bare ids.
    #[serde(default)]
    pub with_pieces: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub struct DetokenizeReq {
    pub model: Option<String>,
    pub tokens: Vec<u32>,
}

/// The model a tokenize request means: the one it names, else the only one
/// loaded, else the only one served.
async fn model_for(st: &Shared, asked: Option<&str>) -> Result<Lease, ApiError> {
    let name = match asked {
        Some(n) => n.to_string(),
        None => {
            let loaded = st.mgr.loaded();
            let served = st.mgr.catalog.list();
            match (loaded.as_slice(), served.as_slice()) {
                ([one], _) => one.name.clone(),
                (_, [one]) => one.name.clone(),
                _ => {
                    return Err(ApiError::bad(
                        "model",
                        format!(
                            "model: this server has {} models; name one (\"model\": \"...\"; GET /v1/models lists them)",
                            served.len()
                        ),
                    ))
                }
            }
        }
    };
    st.mgr.get(&name, None).await
}

pub async fn tokenize(
    State(st): State<Shared>,
    body: Result<Body<TokenizeReq>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let Body(r) = body.map_err(lerr)?;
    let lease = model_for(&st, r.model.as_deref()).await.map_err(lerr)?;
    let tok = &lease.slot.lm.tokenizer;
    let ids = tok.encode(&r.content, r.add_special, r.parse_special);
    if !r.with_pieces {
        return Ok(Json(json!({ "tokens": ids })));
    }
    let tokens: Vec<Value> = ids
        .iter()
        .map(|&id| {
            // as llama-server: the piece as text when it is valid UTF-8,
            // else its bytes
            let b = tok.token_to_piece_special(id);
            let piece = match std::str::from_utf8(b) {
                Ok(s) => json!(s),
                Err(_) => json!(b),
            };
            json!({"id": id, "piece": piece})
        })
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

pub async fn detokenize(
    State(st): State<Shared>,
    body: Result<Body<DetokenizeReq>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let Body(r) = body.map_err(lerr)?;
    let lease = model_for(&st, r.model.as_deref()).await.map_err(lerr)?;
    let tok = &lease.slot.lm.tokenizer;
    tok.check_ids(&r.tokens)
        .map_err(|e| lerr(ApiError::bad("tokens", format!("tokens: {e}"))))?;
    // special tokens as their text, as llama-server's (common_token_to_piece)
    let text = String::from_utf8_lossy(&tok.decode_bytes(&r.tokens, true)).into_owned();
    Ok(Json(json!({ "content": text })))
}
