//! The chat page's JSON endpoints (behind the API key like the others, JSON
//! bodies only so a cross-site form cannot reach them without a preflight):
//!
//! - `GET /ui/models`: the models this server has and the catalog's models
//!   not downloaded yet, each with the context a conversation gets, the
//!   memory it needs there and `hearth fit`'s verdict and predicted tokens/s
//!   (one `engine::fit` formula for both).
//! - `POST /ui/tokens` `{"model", "messages"?, "text"?, "fit"?}`: the tokens
//!   the messages take through the model's chat template, the tokens of a
//!   plain text, and with `fit` how much of that text (in UTF-16 code units,
//!   JavaScript's string length) fits in `fit` tokens.
//! - `POST /ui/extract` `{"name": "report.pdf", "data": BASE64}`: the
//!   document's text through the `extract` crate (what `hearth batch`
//!   reads), files up to [`DOC_MAX_BYTES`].

use crate::error::ApiError;
use crate::{Body, Shared};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use engine::fit::{self, ModelShape, Verdict};
use engine::{Message, Prompt};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Largest document the page may send for extraction.
pub const DOC_MAX_BYTES: usize = 32 << 20;
/// Its base64 (4 characters per 3 bytes) and the JSON around it.
pub const EXTRACT_MAX_BODY: usize = DOC_MAX_BYTES / 3 * 4 + 64 * 1024;

/// The page's endpoints take JSON only: a cross-site `<form>` can send
/// `text/plain` bodies that parse as JSON, but not this content type
/// (which needs a CORS preflight the server does not grant).
fn json_only(h: &HeaderMap) -> Result<(), ApiError> {
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "this endpoint takes a JSON body with 'Content-Type: application/json' (got '{ct}')"
        ),
    ))
}

/// Memory read bandwidth, probed once (half a second) the first time the
/// page asks for the models.
async fn bandwidth(threads: usize) -> Option<f64> {
    static BW: tokio::sync::OnceCell<Option<f64>> = tokio::sync::OnceCell::const_new();
    *BW.get_or_init(|| async move {
        tokio::task::spawn_blocking(move || {
            fit::probe_bandwidth(threads, Duration::from_millis(500))
        })
        .await
        .ok()
        .flatten()
    })
    .await
}

/// The context one conversation gets for a model trained on `n_ctx_train`
/// positions (as `models.rs` sets it when the model loads).
fn context(st: &Shared, n_ctx_train: usize) -> usize {
    let s = &st.mgr.sched;
    s.max_seq_ctx.min(n_ctx_train).max(1).min(s.ctx_budget)
}

/// `hearth fit`'s judgement of a shape at `ctx` with `available` bytes free.
fn judge(shape: &ModelShape, ctx: usize, available: Option<u64>, bw: Option<f64>) -> Value {
    let e = fit::estimate_shape(shape, ctx);
    let verdict = available.map(|a| fit::verdict(e.memory_bytes, a));
    json!({
        "context": ctx,
        "n_ctx_train": shape.n_ctx_train,
        "memory_bytes": e.memory_bytes,
        "verdict": verdict.map(Verdict::as_str),
        "fits": verdict.map(|v| v != Verdict::DoesNotFit),
        // an embedding model makes no text: no generation speed
        "predicted_tok_per_s": bw
            .filter(|_| !shape.embedding)
            .map(|b| (fit::predict_tg(&e, 0, b) * 10.0).round() / 10.0),
        "embedding_model": shape.embedding,
    })
}

/// The shape of a catalog model from the catalog's facts (as `hearth fit`
/// judges a model before it is downloaded: the tokenizer's heap estimated).
fn catalog_shape(f: &store::catalog::Facts) -> ModelShape {
    ModelShape {
        n_layer: f.n_layer,
        kv_layers: f.kv_layers.unwrap_or(f.n_layer),
        kv_per_token: f.kv_per_token,
        row_table_bytes: f.row_table_bytes,
        recurrent_bytes: 0,
        n_embd: f.n_embd,
        n_head: f.n_head,
        n_head_kv: f.n_head_kv,
        head_dim: f.head_dim,
        n_ff: f.n_ff,
        n_vocab: f.n_vocab,
        n_ctx_train: f.n_ctx_train,
        tensor_bytes: f.tensor_bytes,
        embd_bytes: f.embd_bytes,
        output_tensor: f.output_tensor,
        metadata_bytes: fit::metadata_bytes_estimate(f.n_vocab, f.n_merges, f.token_scores),
        // a mixture of experts: the experts a token leaves idle
        idle_expert_bytes: f.idle_expert_bytes(),
        embedding: fit::is_embedding_arch(&f.arch),
    }
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

fn models_json(st: &Shared, bw: Option<f64>) -> Value {
    let mem = fit::memory_info();
    let available = mem.map(|m| m.1);
    let loaded = st.mgr.loaded();
    let have = st.mgr.catalog.list();
    let models: Vec<Value> = have
        .iter()
        .map(|e| {
            let slot = loaded.iter().find(|s| s.name == e.name);
            let mut v = json!({
                "name": e.name,
                "size": e.size,
                "loaded": slot.is_some(),
            });
            let shape = gguf::GgufFile::open(&e.path)
                .map_err(|x| x.to_string())
                .and_then(|f| ModelShape::from_gguf(&f).map_err(|x| x.to_string()));
            match shape {
                Ok(shape) => {
                    let ctx = slot.map_or_else(|| context(st, shape.n_ctx_train), |s| s.ctx);
                    // a loaded model's memory is already taken from what is available
                    let avail = available.map(|a| a + slot.map_or(0, |s| s.bytes()));
                    merge(&mut v, judge(&shape, ctx, avail, bw));
                    let d = crate::catalog::details(&e.path);
                    merge(
                        &mut v,
                        json!({
                            "family": d.family,
                            "parameter_size": d.parameter_size,
                            "quantization": d.quantization_level,
                            "has_template": d.chat_template.is_some(),
                        }),
                    );
                }
                Err(x) => merge(&mut v, json!({ "error": x })),
            }
            v
        })
        .collect();
    let names: Vec<&str> = have.iter().map(|e| e.name.as_str()).collect();
    let catalog: Vec<Value> = store::catalog::entries()
        .iter()
        .filter(|c| !names.contains(&format!("{}:{}", c.name, c.tag).as_str()))
        .map(|c| {
            let f = &c.facts;
            let mut v = json!({
                "name": format!("{}:{}", c.name, c.tag),
                "about": c.about,
                "file_bytes": f.file_bytes,
                "size_is_estimate": f.size_is_estimate,
                "supported": engine::fit::arch_supported(&f.arch),
            });
            if engine::fit::arch_supported(&f.arch) {
                let shape = catalog_shape(f);
                merge(
                    &mut v,
                    judge(&shape, context(st, shape.n_ctx_train), available, bw),
                );
            }
            v
        })
        .collect();
    json!({
        "models": models,
        "catalog": catalog,
        "offline": store::offline_env(),
        "can_pull": st.mgr.catalog.dir().is_some() && !store::offline_env(),
        "memory_total_bytes": mem.map(|m| m.0),
        "memory_available_bytes": available,
        "bandwidth_bytes_per_s": bw.map(f64::round),
    })
}

pub async fn models(State(st): State<Shared>) -> Result<Json<Value>, ApiError> {
    let bw = bandwidth(st.mgr.sched.threads).await;
    let st2 = st.clone();
    let v = tokio::task::spawn_blocking(move || models_json(&st2, bw))
        .await
        .map_err(|e| ApiError::internal(format!("listing the models failed: {e}")))?;
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Msg {
    role: String,
    content: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensReq {
    model: String,
    messages: Option<Vec<Msg>>,
    text: Option<String>,
    /// With `text`: how much of it fits in this many tokens.
    fit: Option<usize>,
}

/// The longest prefix of `text` that takes at most `limit` tokens, cut back
/// to the last line or word break within its last eighth (so a document is
/// not cut mid-word), in bytes.
fn fitting_prefix(tok: &engine::Tokenizer, text: &str, ids: &[u32], limit: usize) -> usize {
    if ids.len() <= limit {
        return text.len();
    }
    let count = |end: usize| tok.encode(&text[..end], false, false).len();
    // First guess: the text of the first `limit` tokens, when it is a prefix.
    let guess = tok.decode(&ids[..limit]);
    let mut end = if text.starts_with(&guess) {
        guess.len()
    } else {
        0
    };
    if end == 0 || count(end) > limit {
        // Binary search over byte offsets floored to character boundaries
        // (it may stop one character short; the cut below backs off anyway).
        let (mut lo, mut hi) = (0usize, if end > 0 { end } else { text.len() });
        while lo < hi {
            let mut mid = lo + (hi - lo).div_ceil(2);
            while !text.is_char_boundary(mid) {
                mid -= 1;
            }
            if mid == lo {
                break;
            }
            if count(mid) <= limit {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        end = lo;
    }
    let floor = end - end / 8;
    let head = &text[..end];
    head.rfind('\n')
        .filter(|&i| i >= floor && i > 0)
        .or_else(|| {
            head.rfind(char::is_whitespace)
                .filter(|&i| i >= floor && i > 0)
        })
        .unwrap_or(end)
}

pub async fn tokens(
    State(st): State<Shared>,
    headers: HeaderMap,
    Body(r): Body<TokensReq>,
) -> Result<Json<Value>, ApiError> {
    json_only(&headers)?;
    if r.messages.is_none() && r.text.is_none() {
        return Err(ApiError::bad(
            "messages",
            "give messages (a conversation to count through the chat template) or text (to count plainly)",
        ));
    }
    if r.fit.is_some() && r.text.is_none() {
        return Err(ApiError::bad("fit", "fit needs text: the text to fit"));
    }
    let messages = match r.messages {
        None => None,
        Some(ms) => {
            let mut out = Vec::with_capacity(ms.len());
            for (i, m) in ms.into_iter().enumerate() {
                if !["system", "user", "assistant"].contains(&m.role.as_str()) {
                    return Err(ApiError::bad(
                        format!("messages[{i}].role"),
                        format!(
                            "messages[{i}].role '{}' is not one of system, user, assistant",
                            m.role
                        ),
                    ));
                }
                out.push(Message::new(m.role, m.content));
            }
            Some(out)
        }
    };
    let lease = st.mgr.get(&r.model, None).await?;
    let ctx = lease.slot.ctx;
    let lm = lease.slot.lm.clone();
    let (text, fit_limit) = (r.text, r.fit);
    let v = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let mut v = json!({ "model": lease.slot.name, "context": ctx });
        if let Some(ms) = messages {
            let n = if ms.is_empty() {
                0
            } else {
                lm.prompt_tokens(&Prompt::Chat(ms))
                    .map_err(|e| crate::error::from_engine(&e))?
                    .len()
            };
            v["prompt_tokens"] = json!(n);
        }
        if let Some(t) = &text {
            let ids = lm.tokenizer.encode(t, false, false);
            v["text_tokens"] = json!(ids.len());
            if let Some(limit) = fit_limit {
                let end = fitting_prefix(&lm.tokenizer, t, &ids, limit);
                v["fit_utf16"] = json!(t[..end].encode_utf16().count());
                v["fit_tokens"] = json!(lm.tokenizer.encode(&t[..end], false, false).len());
            }
        }
        drop(lease);
        Ok(v)
    })
    .await
    .map_err(|e| ApiError::internal(format!("counting tokens failed: {e}")))??;
    Ok(Json(v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractReq {
    /// The file's name: its extension says what kind of document it is.
    name: String,
    /// The file's bytes, base64 (standard alphabet, padded).
    data: String,
}

pub async fn extract(
    headers: HeaderMap,
    Body(r): Body<ExtractReq>,
) -> Result<Json<Value>, ApiError> {
    json_only(&headers)?;
    // Only the file's own name (a browser sends no path; keep errors short).
    let name = r
        .name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_string();
    let Some(kind) = extract::kind_of(std::path::Path::new(&name)) else {
        return Err(ApiError::bad(
            "name",
            format!(
                "name: '{name}' is not a document type the page reads; attach .txt, .md, .pdf, .docx or .html"
            ),
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(r.data.trim())
        .map_err(|e| ApiError::bad("data", format!("data: not base64 ({e})")))?;
    if bytes.len() > DOC_MAX_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{name} is {:.1} MiB; the page takes documents up to {} MiB (`hearth batch` reads up to {} MiB)",
                bytes.len() as f64 / (1 << 20) as f64,
                DOC_MAX_BYTES >> 20,
                extract::MAX_FILE_BYTES >> 20
            ),
        ));
    }
    let n = bytes.len();
    let name2 = name.clone();
    let text = tokio::task::spawn_blocking(move || extract::extract_bytes(kind, &bytes, &name2))
        .await
        .map_err(|e| ApiError::internal(format!("reading {name} failed: {e}")))?
        .map_err(|e| {
            let status = match e {
                extract::ExtractError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            ApiError::new(status, e.to_string())
        })?;
    Ok(Json(json!({
        "name": name,
        "kind": kind.as_str(),
        "bytes": n,
        "chars": text.chars().count(),
        "text": text,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_only_refuses_what_a_form_can_send() {
        let mut h = HeaderMap::new();
        assert!(json_only(&h).is_err());
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            let e = json_only(&h).unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}");
        }
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(json_only(&h).is_ok());
    }
}
