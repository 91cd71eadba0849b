//! Embeddings: OpenAI's `POST /v1/embeddings`, Ollama's `POST /api/embed`
//! and its older `POST /api/embeddings`. A text's embedding is
//! `LoadedModel::embed_tokens` (mean of the final hidden states after the
//! output norm, unit length — llama.cpp's mean pooling); the work runs on a
//! blocking thread with one thread pool shared by all embedding requests.

use crate::error::{ApiError, Flavor};
use crate::models::{KeepAlive, Lease};
use crate::{Body, Shared};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use engine::{LoadedModel, ThreadPool};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// Most texts in one request.
const MAX_INPUTS: usize = 2048;

/// One pool for all embedding requests (one at a time on it: two would only
/// fight over the cores), with the server's thread count.
fn pool(threads: usize) -> &'static Mutex<ThreadPool> {
    static POOL: OnceLock<Mutex<ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(ThreadPool::new(threads.max(1))))
}

/// Text, texts, token ids, or lists of token ids (OpenAI's `input`).
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Deserialize)]
pub struct OpenAiReq {
    pub model: String,
    pub input: Input,
    pub encoding_format: Option<String>,
    pub dimensions: Option<usize>,
    pub keep_alive: Option<Value>,
}

#[derive(Deserialize)]
pub struct OllamaReq {
    pub model: String,
    pub input: Option<Input>,
    /// `/api/embeddings`' single text.
    pub prompt: Option<String>,
    /// Cut inputs longer than the context (default) instead of an error.
    pub truncate: Option<bool>,
    pub keep_alive: Option<Value>,
}

/// The token lists to embed, each checked against the model's context:
/// too long is cut (`truncate`) or an error naming `field`.
fn token_lists(
    lm: &LoadedModel,
    max: usize,
    input: Input,
    truncate: bool,
    field: &str,
) -> Result<Vec<Vec<u32>>, ApiError> {
    let lists = match input {
        Input::Text(t) => vec![text_tokens(lm, &t, field)?],
        Input::Texts(ts) => ts
            .iter()
            .map(|t| text_tokens(lm, t, field))
            .collect::<Result<_, _>>()?,
        Input::Tokens(ids) => vec![ids],
        Input::TokenLists(l) => l,
    };
    if lists.is_empty() {
        return Err(ApiError::bad(
            field,
            format!("{field} is empty: give a text or a list of texts"),
        ));
    }
    if lists.len() > MAX_INPUTS {
        return Err(ApiError::bad(
            field,
            format!(
                "{field} has {} items; at most {MAX_INPUTS} per request",
                lists.len()
            ),
        ));
    }
    let n_vocab = lm.model.config.n_vocab;
    lists
        .into_iter()
        .enumerate()
        .map(|(i, mut ids)| {
            if ids.is_empty() {
                return Err(ApiError::bad(field, format!("{field}[{i}] is empty")));
            }
            if let Some(&bad) = ids.iter().find(|&&t| t as usize >= n_vocab) {
                return Err(ApiError::bad(field, format!("{field}[{i}] has token id {bad}, past this model's vocabulary (0..{})", n_vocab - 1)));
            }
            if ids.len() > max {
                if !truncate {
                    return Err(ApiError::bad(field, format!("{field}[{i}] is {} tokens but this model's context holds {max}; shorten it", ids.len()))
                        .with_code("context_length_exceeded"));
                }
                ids.truncate(max);
            }
            Ok(ids)
        })
        .collect()
}

fn text_tokens(lm: &LoadedModel, t: &str, field: &str) -> Result<Vec<u32>, ApiError> {
    if t.trim().is_empty() {
        return Err(ApiError::bad(field, format!("{field} has an empty text")));
    }
    Ok(lm.embed_input(t))
}

/// Embed every list on a blocking thread.
async fn run(st: &Shared, lease: &Lease, lists: Vec<Vec<u32>>) -> Result<Vec<Vec<f32>>, ApiError> {
    let lm = lease.slot.lm.clone();
    let threads = st.mgr.sched.threads;
    tokio::task::spawn_blocking(move || {
        let pool = pool(threads).lock().unwrap_or_else(|e| e.into_inner());
        lists
            .iter()
            .map(|ids| {
                lm.embed_tokens(&pool, ids)
                    .map_err(|e| ApiError::internal(e.to_string()))
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::internal(format!("embedding stopped: {e}")))?
}

fn keep_alive(v: &Option<Value>) -> Result<Option<KeepAlive>, ApiError> {
    v.as_ref()
        .map(|v| KeepAlive::parse(v).map_err(|e| ApiError::bad("keep_alive", e)))
        .transpose()
}

fn log(st: &Shared, endpoint: &str, model: &str, tokens: usize, n: usize, started: Instant) {
    if !st.cfg.quiet {
        eprintln!(
            "{} {endpoint} model={model} inputs={n} in={tokens} time={:.2}s status=200",
            crate::gen::rfc3339(std::time::SystemTime::now()),
            started.elapsed().as_secs_f64()
        );
    }
}

pub async fn openai(
    State(st): State<Shared>,
    Body(r): Body<OpenAiReq>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let base64 = match r.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(o) => {
            return Err(ApiError::bad(
                "encoding_format",
                format!("encoding_format must be \"float\" or \"base64\", got {o:?}"),
            ))
        }
    };
    let ka = keep_alive(&r.keep_alive)?;
    let lease = st.mgr.get(&r.model, ka).await?;
    let lm = lease.slot.lm.clone();
    let d = lm.model.config.n_embd;
    let dims = match r.dimensions {
        None => d,
        Some(k) if (1..=d).contains(&k) => k,
        Some(k) => {
            return Err(ApiError::bad(
                "dimensions",
                format!("dimensions must be between 1 and {d} for this model, got {k}"),
            ))
        }
    };
    let lists = token_lists(&lm, lease.slot.ctx, r.input, false, "input")?;
    let tokens: usize = lists.iter().map(Vec::len).sum();
    let n = lists.len();
    let vecs = run(&st, &lease, lists).await?;
    let data: Vec<Value> = vecs
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            if dims < v.len() {
                // shortened as OpenAI's `dimensions`: the first k, unit length again
                v.truncate(dims);
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                if norm > 0.0 {
                    v.iter_mut().for_each(|x| *x /= norm);
                }
            }
            let emb = if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    log(
        &st,
        "POST /v1/embeddings",
        &lease.slot.name,
        tokens,
        n,
        started,
    );
    Ok(Json(json!({
        "object": "list", "data": data, "model": r.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
    .into_response())
}

fn oerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::Ollama)
}

/// `/api/embed` (`input`: text or texts) and `/api/embeddings` (`prompt`).
async fn ollama_common(st: &Shared, r: OllamaReq, legacy: bool) -> Result<Response, ApiError> {
    let started = Instant::now();
    let ka = keep_alive(&r.keep_alive)?;
    let load0 = Instant::now();
    let lease = st.mgr.get(&r.model, ka).await?;
    let load = load0.elapsed();
    let lm: Arc<LoadedModel> = lease.slot.lm.clone();
    let (input, field) = match (legacy, r.input, r.prompt) {
        (true, _, Some(p)) => (Input::Text(p), "prompt"),
        (true, _, None) => {
            return Err(ApiError::bad(
                "prompt",
                "prompt: missing field (the text to embed)",
            ))
        }
        (false, Some(i), _) => (i, "input"),
        (false, None, _) => {
            return Err(ApiError::bad(
                "input",
                "input: missing field (a text or a list of texts)",
            ))
        }
    };
    let lists = token_lists(
        &lm,
        lease.slot.ctx,
        input,
        r.truncate.unwrap_or(true),
        field,
    )?;
    let tokens: usize = lists.iter().map(Vec::len).sum();
    let n = lists.len();
    let vecs = run(st, &lease, lists).await?;
    let endpoint = if legacy {
        "POST /api/embeddings"
    } else {
        "POST /api/embed"
    };
    log(st, endpoint, &lease.slot.name, tokens, n, started);
    if legacy {
        return Ok(Json(json!({"embedding": vecs[0]})).into_response());
    }
    Ok(Json(json!({
        "model": r.model, "embeddings": vecs,
        "total_duration": started.elapsed().as_nanos() as u64,
        "load_duration": load.as_nanos() as u64,
        "prompt_eval_count": tokens,
    }))
    .into_response())
}

pub async fn ollama(
    State(st): State<Shared>,
    body: Result<Body<OllamaReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    ollama_common(&st, r, false).await.map_err(oerr)
}

pub async fn ollama_legacy(
    State(st): State<Shared>,
    body: Result<Body<OllamaReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    ollama_common(&st, r, true).await.map_err(oerr)
}
