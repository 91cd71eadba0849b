//! Ollama's API: `/api/chat`, `/api/generate` (NDJSON streaming by
//! default), `/api/tags`, `/api/show`, `/api/ps`, `/api/pull`,
//! `/api/delete`, `/api/copy`, `/api/version`.

use crate::catalog::{self, CatalogError, Entry};
use crate::error::{ApiError, Flavor};
use crate::gen::{self, Choice};
use crate::models::{KeepAlive, Lease};
use crate::{Body, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::scheduler::Event;
use engine::{GenerateRequest, GenerateStats, Message, Prompt, SamplingParams};
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc;

fn oerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::Ollama)
}

#[derive(Deserialize, Default)]
pub struct Options {
    pub temperature: Option<f32>,
    pub top_k: Option<i64>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub seed: Option<i64>,
    pub num_predict: Option<i64>,
    pub stop: Option<Vec<String>>,
    pub repeat_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub repeat_last_n: Option<i64>,
    /// Accepted; the context is the server's (--ctx-size).
    #[allow(dead_code)]
    pub num_ctx: Option<i64>,
    /// hearth's extension: speculative decoding (as the OpenAI API's
    /// `speculative`; see `crate::spec`).
    pub speculative: Option<Value>,
}

#[derive(Deserialize)]
pub struct OMessage {
    pub role: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub images: Option<Vec<String>>,
    /// An assistant turn's calls: `[{"function": {"name", "arguments": {...}}}]`.
    pub tool_calls: Option<Vec<Value>>,
}

#[derive(Deserialize)]
pub struct ChatRequest {
    pub model: String,
    #[serde(default)]
    pub messages: Vec<OMessage>,
    /// Function definitions (as OpenAI's), for templates that take them.
    pub tools: Option<Vec<Value>>,
    pub stream: Option<bool>,
    pub format: Option<Value>,
    #[serde(default)]
    pub options: Options,
    pub keep_alive: Option<Value>,
    /// A thinking model: `true`/`false` or `"low"`/`"medium"`/`"high"`.
    pub think: Option<Value>,
    /// hearth: most reasoning tokens before the answer is asked for.
    pub thinking_budget: Option<i64>,
}

#[derive(Deserialize)]
pub struct GenerateReq {
    pub model: String,
    #[serde(default)]
    pub prompt: String,
    pub system: Option<String>,
    #[serde(default)]
    pub raw: bool,
    pub stream: Option<bool>,
    pub format: Option<Value>,
    #[serde(default)]
    pub options: Options,
    pub keep_alive: Option<Value>,
    pub images: Option<Vec<String>>,
    pub think: Option<Value>,
    pub thinking_budget: Option<i64>,
}

/// `d`: the model's own settings (a created model's), under the request's.
fn sampling(
    o: &Options,
    d: &crate::defaults::Defaults,
) -> Result<(SamplingParams, Option<usize>, Vec<String>), ApiError> {
    let mut s = d.sampling();
    if let Some(t) = o.temperature {
        s.temperature = t;
    }
    if let Some(k) = o.top_k {
        if k < 0 {
            return Err(ApiError::bad(
                "options.top_k",
                format!("options.top_k must be >= 0, got {k}"),
            ));
        }
        s.top_k = k as usize;
    }
    if let Some(p) = o.top_p {
        s.top_p = p;
    }
    if let Some(p) = o.min_p {
        s.min_p = p;
    }
    if let Some(x) = o.seed {
        s.seed = x as u64;
    }
    if let Some(r) = o.repeat_penalty {
        s.repeat_penalty = r;
    }
    if let Some(p) = o.presence_penalty {
        s.presence_penalty = p;
    }
    if let Some(p) = o.frequency_penalty {
        s.frequency_penalty = p;
    }
    if let Some(n) = o.repeat_last_n {
        s.penalty_last_n = if n < 0 { usize::MAX / 2 } else { n as usize };
    }
    if let Err(engine::SamplerError::InvalidParam {
        field,
        value,
        allowed,
    }) = s.validate()
    {
        let f = format!("options.{field}");
        return Err(ApiError::bad(
            f.clone(),
            format!("{f} is {value}; allowed: {allowed}"),
        ));
    }
    let max = match o.num_predict {
        None => d.max_tokens().unwrap_or(None),
        Some(n) if n < 0 => None,
        Some(0) => Some(0),
        Some(n) => Some(n as usize),
    };
    let stop = o
        .stop
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    Ok((s, max, d.stop(stop)))
}

fn keep_alive(v: &Option<Value>) -> Result<Option<KeepAlive>, ApiError> {
    match v {
        None => Ok(None),
        Some(v) => KeepAlive::parse(v)
            .map(Some)
            .map_err(|e| ApiError::bad("keep_alive", e)),
    }
}

fn ns(secs: f64) -> u64 {
    (secs * 1e9) as u64
}

fn final_stats(s: &GenerateStats, total: f64, load: f64) -> serde_json::Map<String, Value> {
    let v = json!({
        "done_reason": gen::finish_str(s.finish),
        "total_duration": ns(total),
        "load_duration": ns(load),
        "prompt_eval_count": s.prompt_tokens,
        "prompt_eval_duration": ns(s.prompt_seconds),
        "eval_count": s.output_tokens,
        "eval_duration": ns(s.gen_seconds),
    });
    match v {
        Value::Object(mut m) => {
            // hearth's extension: speculative decoding's counters
            if let Some(sp) = crate::spec::stats_json([s]) {
                m.insert("speculative".into(), sp);
            }
            m
        }
        _ => unreachable!(),
    }
}

pub async fn chat(
    State(st): State<Shared>,
    body: Result<Body<ChatRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    chat_inner(st, r).await.map_err(oerr)
}

async fn chat_inner(st: Shared, r: ChatRequest) -> Result<Response, ApiError> {
    let started = Instant::now();
    let d = crate::defaults::Defaults::of(&st, &r.model);
    let (sampling, max_tokens, stop) = sampling(&r.options, &d)?;
    let spec = crate::spec::speculation(
        r.options.speculative.as_ref(),
        None,
        "options.speculative",
        &st.mgr.spec,
    )?;
    let ka = keep_alive(&r.keep_alive)?;
    let shape = crate::structured::ollama(r.format.as_ref())?;
    let thinking = crate::structured::ollama_thinking(r.think.as_ref(), r.thinking_budget)?;
    let mut messages = Vec::new();
    for (i, m) in r.messages.into_iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant" | "tool") {
            return Err(ApiError::bad(
                format!("messages[{i}].role"),
                format!(
                    "messages[{i}].role '{}' is not one of system, user, assistant, tool",
                    m.role
                ),
            ));
        }
        if m.images.as_ref().is_some_and(|v| !v.is_empty()) {
            return Err(ApiError::bad(
                format!("messages[{i}].images"),
                "images are not supported by hearth's models",
            ));
        }
        let tool_calls = match m.tool_calls {
            Some(calls) => Some(Value::Array(
                calls
                    .into_iter()
                    .enumerate()
                    .map(|(j, c)| {
                        crate::tools::call_for_template(
                            &format!("messages[{i}].tool_calls[{j}]"),
                            c,
                        )
                    })
                    .collect::<Result<_, _>>()?,
            )),
            None => None,
        };
        messages.push(Message {
            role: m.role,
            content: m.content,
            tool_calls,
            ..Default::default()
        });
    }
    let load_t = Instant::now();
    let lease = st.mgr.get(&r.model, ka).await?;
    gen::refuse_embedding(&lease, "chat")?;
    crate::spec::check_draft(
        r.options.speculative.as_ref(),
        "options.speculative",
        &lease.slot.lm,
    )?;
    let load = load_t.elapsed().as_secs_f64();
    if messages.is_empty() {
        // Ollama: an empty chat loads (or, with keep_alive 0, unloads) the model.
        let reason = unload_if_zero(&st, lease, ka);
        return Ok(Json(
            json!({"model": r.model, "created_at": gen::rfc3339(SystemTime::now()),
            "message": {"role": "assistant", "content": ""}, "done_reason": reason, "done": true}),
        )
        .into_response());
    }
    d.apply_chat(&mut messages);
    if let Some(hint) = &shape.hint {
        match messages.first_mut() {
            Some(m) if m.role == "system" => m.content = format!("{}\n\n{hint}", m.content),
            _ => messages.insert(0, Message::system(hint.clone())),
        }
    }
    if let Some(m) = messages.last() {
        gen::log_content(&st, "prompt", &m.content);
    }
    let tools = crate::tools::tools(r.tools, None)?;
    if tools.is_some() && shape.grammar.is_some() {
        return Err(ApiError::bad(
            "format",
            "format cannot be combined with tools; ask for one or the other",
        ));
    }
    let lm = lease.slot.lm.clone();
    let reasoning = thinking.reasoning(&lm);
    let constraint = shape.compile(&lm, reasoning.as_ref())?;
    // (no tool_choice in Ollama's API: the model decides, nothing forced;
    // a `strict` function's calls follow its schema)
    let mut tools = tools;
    let prompted =
        crate::tools::chat_prompt(&lease, &messages, tools.as_ref(), &thinking.kwargs).await?;
    let mut req = GenerateRequest {
        prompt: Prompt::Tokens(Vec::new()),
        max_tokens,
        sampling,
        stop,
        spec,
        constraint,
        reasoning,
        special_text: false,
    };
    prompted.fit(tools.as_mut(), &mut req, &lm)?;
    run(
        st,
        lease,
        req,
        r.stream.unwrap_or(true),
        tools,
        true,
        r.model,
        ka,
        started,
        load,
    )
    .await
}

pub async fn generate(
    State(st): State<Shared>,
    body: Result<Body<GenerateReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    generate_inner(st, r).await.map_err(oerr)
}

async fn generate_inner(st: Shared, r: GenerateReq) -> Result<Response, ApiError> {
    let started = Instant::now();
    let d = crate::defaults::Defaults::of(&st, &r.model);
    let (sampling, max_tokens, stop) = sampling(&r.options, &d)?;
    let spec = crate::spec::speculation(
        r.options.speculative.as_ref(),
        None,
        "options.speculative",
        &st.mgr.spec,
    )?;
    let ka = keep_alive(&r.keep_alive)?;
    let shape = crate::structured::ollama(r.format.as_ref())?;
    let thinking = crate::structured::ollama_thinking(r.think.as_ref(), r.thinking_budget)?;
    if r.images.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::bad(
            "images",
            "images are not supported by hearth's models",
        ));
    }
    let load_t = Instant::now();
    let lease = st.mgr.get(&r.model, ka).await?;
    gen::refuse_embedding(&lease, "generate text")?;
    crate::spec::check_draft(
        r.options.speculative.as_ref(),
        "options.speculative",
        &lease.slot.lm,
    )?;
    let load = load_t.elapsed().as_secs_f64();
    if r.prompt.is_empty() {
        let reason = unload_if_zero(&st, lease, ka);
        return Ok(Json(
            json!({"model": r.model, "created_at": gen::rfc3339(SystemTime::now()),
            "response": "", "done": true, "done_reason": reason}),
        )
        .into_response());
    }
    gen::log_content(&st, "prompt", &r.prompt);
    let lm = lease.slot.lm.clone();
    let has_template = lm.template.is_ok();
    let chat = !r.raw && has_template;
    let reasoning = if chat { thinking.reasoning(&lm) } else { None };
    let constraint = shape.compile(&lm, reasoning.as_ref())?;
    let ids = if !chat {
        let mut p = r.prompt.clone();
        if let Some(s) = &r.system {
            if !r.raw {
                p = format!("{s}\n\n{p}");
            }
        }
        // raw: the caller's own template, special tokens and all
        gen::prepare(&lease, Prompt::Raw(p), "prompt").await?
    } else {
        // the model's MESSAGE turns, then this prompt (its system message:
        // the request's, else the model's)
        let mut m = d.preset_messages();
        let mut sys = r
            .system
            .clone()
            .or(d.system().map(str::to_string))
            .unwrap_or_default();
        if let Some(hint) = &shape.hint {
            sys = format!("{sys}\n\n{hint}").trim().to_string();
        }
        if !sys.is_empty() {
            m.insert(0, Message::system(sys));
        }
        m.push(Message::user(r.prompt.clone()));
        crate::tools::chat_prompt(&lease, &m, None, &thinking.kwargs)
            .await?
            .ids
    };
    let req = GenerateRequest {
        prompt: Prompt::Tokens(ids),
        max_tokens,
        sampling,
        stop,
        spec,
        constraint,
        reasoning,
        special_text: false,
    };
    run(
        st,
        lease,
        req,
        r.stream.unwrap_or(true),
        None,
        false,
        r.model,
        ka,
        started,
        load,
    )
    .await
}

fn unload_if_zero(st: &Shared, lease: Lease, ka: Option<KeepAlive>) -> &'static str {
    let name = lease.slot.name.clone();
    drop(lease);
    if ka == Some(KeepAlive::For(std::time::Duration::ZERO)) && st.mgr.unload(&name) {
        return "unload";
    }
    "load"
}

#[allow(clippy::too_many_arguments)]
async fn run(
    st: Shared,
    lease: Lease,
    req: GenerateRequest,
    stream: bool,
    tools: Option<crate::tools::ToolSet>,
    is_chat: bool,
    model: String,
    ka: Option<KeepAlive>,
    started: Instant,
    load: f64,
) -> Result<Response, ApiError> {
    let endpoint = if is_chat {
        "POST /api/chat"
    } else {
        "POST /api/generate"
    };
    // the answer's text and a thinking model's reasoning, where each API puts them
    let put = move |v: &mut Value, text: &str, thinking: &str| {
        if is_chat {
            let mut m = json!({"role": "assistant", "content": text});
            if !thinking.is_empty() {
                m["thinking"] = json!(thinking);
            }
            v["message"] = m;
        } else {
            v["response"] = json!(text);
            if !thinking.is_empty() {
                v["thinking"] = json!(thinking);
            }
        }
    };
    let zero_keep = ka == Some(KeepAlive::For(std::time::Duration::ZERO));
    if !stream {
        let choices: Vec<Choice> = {
            let rx = gen::submit_n(&lease, &req, None, 1)?;
            let mut guard = gen::LeftGuard::new(&st, endpoint, &lease.slot.name, started);
            let r = guard.collect(rx, 1).await;
            guard.disarm();
            r?
        };
        let c = &choices[0];
        let s = c.stats.as_ref().expect("done");
        gen::log_request(&st, endpoint, &lease.slot.name, &[s], "200", started);
        gen::log_content(&st, "output", &c.text);
        // the answer, with the calls of declared tools read out of it
        let mut v = json!({"model": model, "created_at": gen::rfc3339(SystemTime::now())});
        match &tools {
            Some(t) => {
                let length = s.finish == engine::FinishReason::Length;
                // (a call the limit cut off is left out: `done_reason` says "length")
                let (content, calls) = t.answer_objects("", &c.text, length);
                put(&mut v, &content.unwrap_or_default(), &c.reasoning);
                if !calls.is_empty() {
                    v["message"]["tool_calls"] = calls.iter().map(|c| c.ollama()).collect();
                }
            }
            None => put(&mut v, &c.text, &c.reasoning),
        };
        v["done"] = json!(true);
        let mut m = match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        m.extend(final_stats(s, started.elapsed().as_secs_f64(), load));
        let name = lease.slot.name.clone();
        drop(lease);
        if zero_keep {
            st.mgr.unload(&name);
        }
        return Ok(Json(Value::Object(m)).into_response());
    }
    let mut rx = gen::submit_n(&lease, &req, None, 1)?;
    let (tx, brx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    // with tools: content as it comes, each call in a line's
    // `message.tool_calls` once it is complete (as Ollama streams them)
    let mut calls = tools.as_ref().map(|t| t.stream_whole(""));
    tokio::spawn(async move {
        let mut status = "200".to_string();
        let mut text = String::new();
        let mut stats = None;
        let mut seen = gen::Seen::default();
        let mut held = String::new();
        loop {
            let next = tokio::select! {
                ev = rx.recv() => ev,
                _ = tx.closed() => {
                    status = "499 (client closed)".into();
                    break;
                }
            };
            let Some((_, ev)) = next else { break };
            seen.note(0, &ev);
            let line = match ev {
                Event::Prefill { .. } => continue,
                Event::Token(t) => {
                    text.push_str(&t.text);
                    let (content, done) = match &mut calls {
                        Some(c) => c.push(&t.text),
                        None => (t.text.clone(), Vec::new()),
                    };
                    if content.is_empty() && t.reasoning.is_empty() && done.is_empty() {
                        continue;
                    }
                    let mut v =
                        json!({"model": model, "created_at": gen::rfc3339(SystemTime::now())});
                    put(&mut v, &content, &t.reasoning);
                    if !done.is_empty() {
                        v["message"]["tool_calls"] = done.iter().map(|c| c.ollama()).collect();
                    }
                    v["done"] = json!(false);
                    v
                }
                Event::Done(s) => {
                    // what a tool reader held back, in a line before the last
                    if let Some(mut c) = calls.take() {
                        let (content, done) = c.finish(s.finish == engine::FinishReason::Length);
                        if !content.is_empty() || !done.is_empty() {
                            let mut v = json!({"model": model,
                                "created_at": gen::rfc3339(SystemTime::now())});
                            put(&mut v, &content, "");
                            if !done.is_empty() {
                                v["message"]["tool_calls"] =
                                    done.iter().map(|c| c.ollama()).collect();
                            }
                            v["done"] = json!(false);
                            held = format!("{v}\n");
                        }
                    }
                    let mut v =
                        json!({"model": model, "created_at": gen::rfc3339(SystemTime::now())});
                    put(&mut v, "", "");
                    v["done"] = json!(true);
                    let mut m = match v {
                        Value::Object(m) => m,
                        _ => unreachable!(),
                    };
                    m.extend(final_stats(&s, started.elapsed().as_secs_f64(), load));
                    stats = Some(s);
                    Value::Object(m)
                }
                Event::Error(e) => {
                    let err = crate::error::from_engine(&e);
                    status = err.status.as_u16().to_string();
                    json!({"error": err.message})
                }
            };
            let out = format!("{}{line}\n", std::mem::take(&mut held));
            if tx.send(Ok(Bytes::from(out))).await.is_err() {
                status = "499 (client closed)".into();
                break;
            }
            if stats.is_some() || status != "200" {
                break;
            }
        }
        drop(rx);
        let done: Vec<_> = stats.iter().cloned().collect();
        let logged = seen.stats(&done, 1);
        let refs: Vec<_> = logged.iter().collect();
        gen::log_request(&st, endpoint, &lease.slot.name, &refs, &status, started);
        gen::log_content(&st, "output", &text);
        let name = lease.slot.name.clone();
        drop(lease);
        if zero_keep {
            st.mgr.unload(&name);
        }
    });
    Ok(ndjson(axum::body::Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(brx),
    )))
}

fn ndjson(body: axum::body::Body) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response()
}

fn details_json(e: &Entry) -> (Value, catalog::Details) {
    let d = catalog::details(&e.path);
    let v = json!({
        "parent_model": "", "format": "gguf", "family": d.family, "families": [d.family],
        "parameter_size": d.parameter_size, "quantization_level": d.quantization_level,
    });
    (v, d)
}

/// A model's digest: a store model's manifest sha256 (the file's content
/// hash, checked when it was added); a loose file has none recorded, so a
/// stable identifier from its path, size and time stands in (hashing
/// gigabytes per listing would be slow).
fn digest(e: &Entry) -> String {
    if let Ok(m) = store::Manifest::read(&e.path.with_extension("json")) {
        if e.path.file_name().is_some_and(|n| *n == *m.file) {
            return m.sha256;
        }
    }
    use std::hash::{Hash, Hasher};
    let mut out = String::new();
    for salt in 0..4u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (salt, &e.path, e.size, e.modified).hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

pub async fn tags(State(st): State<Shared>) -> Json<Value> {
    let models: Vec<Value> = st
        .mgr
        .catalog
        .list()
        .iter()
        .map(|e| {
            json!({
                "name": e.name, "model": e.name, "modified_at": gen::rfc3339(e.modified),
                "size": e.size, "digest": digest(e), "details": details_json(e).0,
            })
        })
        .collect();
    Json(json!({"models": models}))
}

#[derive(Deserialize)]
pub struct NameReq {
    pub model: Option<String>,
    pub name: Option<String>,
    /// `/api/show`: long arrays (the vocabulary) in full.
    #[serde(default)]
    pub verbose: Option<bool>,
}

impl NameReq {
    fn get(&self) -> Result<String, ApiError> {
        self.model
            .clone()
            .or_else(|| self.name.clone())
            .ok_or_else(|| oerr(ApiError::bad("model", "model: missing field")))
    }
}

fn cat_err(e: CatalogError) -> ApiError {
    oerr(match e {
        CatalogError::NotFound(n) => ApiError::not_found_model(&n),
        CatalogError::Refused(m) => ApiError::bad("model", m),
        CatalogError::Io(m) => ApiError::internal(m),
    })
}

pub async fn show(
    State(st): State<Shared>,
    body: Result<Body<NameReq>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    let name = r.get()?;
    let e = st.mgr.catalog.resolve(&name).map_err(cat_err)?;
    let (det, d) = details_json(&e);
    // a model of the store: its manifest (a created model's settings)
    let manifest = store::Manifest::read(&e.path.with_extension("json"))
        .ok()
        .filter(|m| e.path.file_name().is_some_and(|f| *f == *m.file));
    let md = manifest.as_ref().and_then(|m| m.modelfile.clone());
    // capabilities from the template the model runs with
    let template = md
        .as_ref()
        .and_then(|m| m.template.clone())
        .or(d.chat_template.clone());
    let (info, capabilities) =
        crate::model_info::model_info(&e.path, r.verbose.unwrap_or(false), template.as_deref());
    let mut v = json!({
        "modelfile": store::modelfile_text(&e.path, manifest.as_ref()),
        "parameters": md.as_ref().map(|m| m.parameters_text()).unwrap_or_default(),
        "template": template.unwrap_or_default(),
        "details": det,
        "model_info": info,
        "capabilities": capabilities,
        "modified_at": gen::rfc3339(e.modified),
    });
    if let Some(m) = &md {
        if let Some(s) = &m.system {
            v["system"] = json!(s);
        }
        if !m.license.is_empty() {
            v["license"] = json!(m.license.join("\n"));
        }
        if !m.messages.is_empty() {
            v["messages"] = json!(m.messages);
        }
    }
    Ok(Json(v))
}

pub async fn ps(State(st): State<Shared>) -> Json<Value> {
    let models: Vec<Value> = st
        .mgr
        .loaded()
        .iter()
        .map(|s| {
            let expires = s
                .expires_at()
                .map(gen::rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
            json!({
                "name": s.name, "model": s.name, "size": s.bytes(), "digest": digest(&s.entry),
                "details": details_json(&s.entry).0, "expires_at": expires, "size_vram": 0,
                "context_length": s.ctx,
                "active_requests": s.active.load(std::sync::atomic::Ordering::SeqCst),
                "speculative": crate::spec::counters_json(&s.sched.stats().spec),
            })
        })
        .collect();
    Json(json!({"models": models}))
}

pub async fn delete(
    State(st): State<Shared>,
    body: Result<Body<NameReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    let name = r.get()?;
    let e = st.mgr.catalog.resolve(&name).map_err(cat_err)?;
    st.mgr.unload(&e.name);
    st.mgr.catalog.delete(&name).map_err(cat_err)?;
    Ok(StatusCode::OK.into_response())
}

#[derive(Deserialize)]
pub struct CopyReq {
    pub source: String,
    pub destination: String,
}

pub async fn copy(
    State(st): State<Shared>,
    body: Result<Body<CopyReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    // the copy hashes the file: off the async runtime
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || st2.mgr.catalog.copy(&r.source, &r.destination))
        .await
        .map_err(|e| oerr(ApiError::internal(e.to_string())))?
        .map_err(cat_err)?;
    Ok(StatusCode::OK.into_response())
}

pub async fn version() -> Json<Value> {
    Json(json!({"version": env!("CARGO_PKG_VERSION")}))
}
