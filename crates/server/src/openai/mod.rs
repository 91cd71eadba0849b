//! OpenAI's API: `/v1/chat/completions`, `/v1/completions`, `/v1/models`.

use crate::error::ApiError;
use crate::gen::{self, Choice, Tagged};
use crate::models::Lease;
use crate::{Body, Shared};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::scheduler::Event;
use engine::{LoadedModel, Prompt};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Instant;
use tokio::sync::mpsc::{self, UnboundedReceiver};

mod request;
use crate::tools::{tools, ToolSet};
use request::{chat_messages, for_model, plan, CompletionPrompt, Plan, StreamOptions};
pub use request::{ChatRequest, CompletionRequest};

fn token_str(lm: &LoadedModel, id: u32) -> (String, Vec<u8>) {
    let b = lm.tokenizer.token_to_piece(id).to_vec();
    (String::from_utf8_lossy(&b).into_owned(), b)
}

fn chat_logprob(lm: &LoadedModel, t: &engine::scheduler::TokenEvent) -> Value {
    let (tok, bytes) = token_str(lm, t.id);
    let top: Vec<Value> = t
        .top_logprobs
        .iter()
        .map(|&(id, lp)| {
            let (s, b) = token_str(lm, id);
            json!({"token": s, "logprob": lp, "bytes": b})
        })
        .collect();
    json!({"token": tok, "logprob": t.logprob, "bytes": bytes, "top_logprobs": top})
}

fn completion_logprobs(
    lm: &LoadedModel,
    toks: &[&engine::scheduler::TokenEvent],
    offset0: usize,
) -> Value {
    let mut tokens = Vec::new();
    let mut lps = Vec::new();
    let mut tops = Vec::new();
    let mut offs = Vec::new();
    let mut off = offset0;
    for t in toks {
        let (s, _) = token_str(lm, t.id);
        offs.push(off);
        off += s.len();
        tokens.push(s);
        lps.push(t.logprob);
        let m: serde_json::Map<String, Value> = t
            .top_logprobs
            .iter()
            .map(|&(id, lp)| (token_str(lm, id).0, json!(lp)))
            .collect();
        tops.push(Value::Object(m));
    }
    json!({"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offs})
}

fn usage(choices: &[Choice]) -> Value {
    let p = choices
        .first()
        .and_then(|c| c.stats.as_ref())
        .map(|s| s.prompt_tokens)
        .unwrap_or(0);
    let c: usize = choices
        .iter()
        .filter_map(|c| c.stats.as_ref())
        .map(|s| s.output_tokens)
        .sum();
    let cached = choices
        .first()
        .and_then(|c| c.stats.as_ref())
        .map(|s| s.cached_tokens)
        .unwrap_or(0);
    let mut u = usage_json(p, cached, c);
    if let Some(sp) = crate::spec::stats_json(choices.iter().filter_map(|c| c.stats.as_ref())) {
        u["speculative"] = sp;
    }
    u
}

/// OpenAI's `usage` object; `prompt_tokens_details.cached_tokens` counts the
/// prompt tokens taken from a cache (an earlier turn's or a concurrent
/// request's shared prefix) instead of being computed. (hearth adds
/// `usage.speculative` when speculative decoding drafted tokens.)
fn usage_json(p: usize, cached: usize, c: usize) -> Value {
    json!({
        "prompt_tokens": p,
        "completion_tokens": c,
        "total_tokens": p + c,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

enum Kind {
    Chat {
        logprobs: Option<usize>,
    },
    Completion {
        logprobs: Option<usize>,
        echo: Option<String>,
    },
}

pub async fn chat(
    State(st): State<Shared>,
    Body(r): Body<ChatRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let d = crate::defaults::Defaults::of(&st, &r.model);
    let mut p = plan(&r.common, None, &d)?;
    p.req.spec = crate::spec::speculation(
        r.common.speculative.as_ref(),
        r.common.speculative_n_max,
        "speculative",
        &st.mgr.spec,
    )?;
    let logprobs = match (r.logprobs, r.top_logprobs) {
        (_, Some(k)) if k > 20 => {
            return Err(ApiError::bad(
                "top_logprobs",
                format!("top_logprobs must be between 0 and 20, got {k}"),
            ))
        }
        (true, k) => Some(k.unwrap_or(0)),
        (false, Some(_)) => {
            return Err(ApiError::bad(
                "logprobs",
                "top_logprobs needs logprobs: true",
            ))
        }
        (false, None) => None,
    };
    let tools = tools(r.tools, r.tool_choice.as_ref())?;
    if let (Some(_), Some((_, field))) = (&tools, &p.shape.grammar) {
        return Err(ApiError::bad(
            field.clone(),
            format!("{field} cannot be combined with tools; ask for one or the other"),
        ));
    }
    let messages = chat_messages(r.messages, p.shape.hint.as_deref(), &d)?;
    let lease = st.mgr.get(&r.model, p.keep_alive).await?;
    gen::refuse_embedding(&lease, "chat")?;
    let lm = lease.slot.lm.clone();
    crate::spec::check_draft(r.common.speculative.as_ref(), "speculative", &lm)?;
    p.req.reasoning = p.thinking.reasoning(&lm);
    for_model(&mut p, &r.common, &lm)?;
    if let Some(m) = messages.last() {
        gen::log_content(&st, "prompt", &m.content);
    }
    let mut tools = tools;
    let prompted =
        crate::tools::chat_prompt(&lease, &messages, tools.as_ref(), &p.thinking.kwargs).await?;
    let prefix = prompted.fit(tools.as_mut(), &mut p.req, &lm)?;
    p.tools = tools.map(|t| (t, prefix));
    respond(
        st,
        lease,
        p,
        Kind::Chat { logprobs },
        r.common.stream,
        r.common.stream_options.unwrap_or_default(),
        started,
    )
    .await
}

pub async fn completions(
    State(st): State<Shared>,
    Body(r): Body<CompletionRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let d = crate::defaults::Defaults::of(&st, &r.model);
    let mut p = plan(&r.common, Some(16), &d)?;
    p.req.spec = crate::spec::speculation(
        r.common.speculative.as_ref(),
        r.common.speculative_n_max,
        "speculative",
        &st.mgr.spec,
    )?;
    if let Some(k) = r.logprobs {
        if k > 5 {
            return Err(ApiError::bad(
                "logprobs",
                format!("logprobs must be between 0 and 5, got {k}"),
            ));
        }
    }
    let lease = st.mgr.get(&r.model, p.keep_alive).await?;
    gen::refuse_embedding(&lease, "complete text")?;
    let lm = lease.slot.lm.clone();
    crate::spec::check_draft(r.common.speculative.as_ref(), "speculative", &lm)?;
    for_model(&mut p, &r.common, &lm)?;
    let (prompt, text) = match r.prompt {
        CompletionPrompt::Text(t) => (Prompt::Raw(t.clone()), Some(t)),
        CompletionPrompt::Texts(v) if v.len() == 1 => {
            (Prompt::Raw(v[0].clone()), Some(v[0].clone()))
        }
        CompletionPrompt::Texts(v) => {
            return Err(ApiError::bad(
                "prompt",
                format!(
                    "prompt holds {} texts; hearth takes one per request",
                    v.len()
                ),
            ))
        }
        CompletionPrompt::Tokens(ids) => {
            lm.tokenizer
                .check_ids(&ids)
                .map_err(|e| ApiError::bad("prompt", e.to_string()))?;
            let t = lm.tokenizer.decode(&ids);
            (Prompt::Tokens(ids), Some(t))
        }
    };
    if let Some(t) = &text {
        gen::log_content(&st, "prompt", t);
    }
    let ids = gen::prepare(&lease, prompt, "prompt").await?;
    p.req.prompt = Prompt::Tokens(ids);
    let echo = if r.echo { text } else { None };
    respond(
        st,
        lease,
        p,
        Kind::Completion {
            logprobs: r.logprobs,
            echo,
        },
        r.common.stream,
        r.common.stream_options.unwrap_or_default(),
        started,
    )
    .await
}

async fn respond(
    st: Shared,
    lease: Lease,
    p: Plan,
    kind: Kind,
    stream: bool,
    so: StreamOptions,
    started: Instant,
) -> Result<Response, ApiError> {
    let model = lease.slot.name.clone();
    let endpoint = match kind {
        Kind::Chat { .. } => "POST /v1/chat/completions",
        Kind::Completion { .. } => "POST /v1/completions",
    };
    let top = match &kind {
        Kind::Chat { logprobs } => *logprobs,
        Kind::Completion { logprobs, .. } => *logprobs,
    };
    if p.tools.is_some() && !stream {
        // the whole answer is read for tool calls
        let mut guard = gen::LeftGuard::new(&st, endpoint, &model, started);
        let choices = match gen::submit_n(&lease, &p.req, top, p.n) {
            Ok(rx) => guard.collect(rx, p.n).await,
            Err(e) => Err(e),
        };
        guard.disarm();
        let choices = choices?;
        return Ok(finish_whole(
            &st,
            &lease,
            kind,
            choices,
            stream,
            so,
            endpoint,
            started,
            p.tools.as_ref().map(|(t, pre)| (t, pre.as_str())),
        ));
    }
    let rx = gen::submit_n(&lease, &p.req, top, p.n)?;
    if !stream {
        let mut guard = gen::LeftGuard::new(&st, endpoint, &model, started);
        let choices = guard.collect(rx, p.n).await;
        guard.disarm();
        let choices = choices?;
        return Ok(finish_whole(
            &st, &lease, kind, choices, false, so, endpoint, started, None,
        ));
    }
    let tools = p.tools.as_ref().map(|(t, pre)| t.stream(pre));
    Ok(stream_response(
        st, lease, kind, rx, p.n, so, model, endpoint, started, tools,
    ))
}

/// A tool reader's pieces as OpenAI chat chunk deltas (`ids`: each call's id,
/// made when it starts).
fn tool_deltas(deltas: Vec<crate::tools::Delta>, ids: &mut Vec<String>) -> Vec<Value> {
    use crate::tools::Delta;
    deltas
        .into_iter()
        .map(|d| match d {
            Delta::Content(c) => json!({"content": c}),
            Delta::Start { index, name } => {
                let id = gen::new_id("call").replacen('-', "_", 1);
                ids.push(id.clone());
                json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]})
            }
            Delta::Args { index, text } => {
                json!({"tool_calls": [{"index": index, "function": {"arguments": text}}]})
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn finish_whole(
    st: &Shared,
    lease: &Lease,
    kind: Kind,
    choices: Vec<Choice>,
    stream: bool,
    so: StreamOptions,
    endpoint: &str,
    started: Instant,
    tools: Option<(&ToolSet, &str)>,
) -> Response {
    let lm = &lease.slot.lm;
    let model = &lease.slot.name;
    let stats: Vec<_> = choices.iter().filter_map(|c| c.stats.as_ref()).collect();
    gen::log_request(st, endpoint, model, &stats, "200", started);
    for c in &choices {
        gen::log_content(st, "output", &c.text);
    }
    let created = gen::unix_now();
    let u = usage(&choices);
    match kind {
        Kind::Chat { logprobs } => {
            let id = gen::new_id("chatcmpl");
            let reasoning = |c: &Choice| (!c.reasoning.is_empty()).then(|| c.reasoning.clone());
            // (content, tool calls, finish reason) per choice
            let parts: Vec<(Option<String>, Vec<Value>, &str)> = choices
                .iter()
                .map(|c| {
                    let finish = c.stats.as_ref().map(|s| s.finish);
                    let fin = finish.map(gen::finish_str).unwrap_or("stop");
                    let Some((t, prefix)) = tools else {
                        return (Some(c.text.clone()), Vec::new(), fin);
                    };
                    let length = finish == Some(engine::FinishReason::Length);
                    let (content, calls) = t.answer(prefix, &c.text, length);
                    let calls: Vec<Value> = calls
                        .iter()
                        .map(|c| c.openai(gen::new_id("call").replacen('-', "_", 1)))
                        .collect();
                    // as OpenAI: an answer the limit stopped is "length",
                    // calls or not (a call it cut off keeps the raw,
                    // unfinished text as its `arguments`: `ToolCall::cut`)
                    let fin = if calls.is_empty() || length {
                        fin
                    } else {
                        "tool_calls"
                    };
                    (content, calls, fin)
                })
                .collect();
            if stream {
                // JSON mode and tool calls stream the finished answer as one piece.
                let mut out = String::new();
                for (i, (content, calls, fin)) in parts.iter().enumerate() {
                    let fin = *fin;
                    let mut deltas = vec![json!({"role": "assistant", "content": ""})];
                    if let Some(r) = reasoning(&choices[i]) {
                        deltas.push(json!({"reasoning_content": r}));
                    }
                    if let Some(t) = content.as_ref().filter(|t| !t.is_empty()) {
                        deltas.push(json!({"content": t}));
                    }
                    if !calls.is_empty() {
                        let indexed: Vec<Value> = calls
                            .iter()
                            .enumerate()
                            .map(|(k, c)| {
                                let mut c = c.clone();
                                c["index"] = json!(k);
                                c
                            })
                            .collect();
                        deltas.push(json!({"tool_calls": indexed}));
                    }
                    for delta in deltas {
                        out.push_str(&sse(&chunk(&id, created, model, json!([{"index": i, "delta": delta, "logprobs": null, "finish_reason": null}]), so.include_usage)));
                    }
                    out.push_str(&sse(&chunk(
                        &id,
                        created,
                        model,
                        json!([{"index": i, "delta": {}, "logprobs": null, "finish_reason": fin}]),
                        so.include_usage,
                    )));
                }
                if so.include_usage {
                    let mut c = chunk(&id, created, model, json!([]), false);
                    c["usage"] = u;
                    out.push_str(&sse(&c));
                }
                out.push_str("data: [DONE]\n\n");
                return gen::sse_response(axum::body::Body::from(out));
            }
            let cs: Vec<Value> = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let lp = logprobs.map(|_| {
                        json!({"content": c.tokens.iter().filter(|t| t.id != u32::MAX).map(|t| chat_logprob(lm, t)).collect::<Vec<_>>(), "refusal": null})
                    });
                    let (content, calls, fin) = &parts[i];
                    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
                    if let Some(r) = reasoning(c) {
                        message["reasoning_content"] = json!(r);
                    }
                    if !calls.is_empty() {
                        message["tool_calls"] = json!(calls);
                    }
                    json!({
                        "index": i,
                        "message": message,
                        "logprobs": lp,
                        "finish_reason": fin,
                    })
                })
                .collect();
            Json(json!({
                "id": id, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": fingerprint(), "choices": cs, "usage": u,
            }))
            .into_response()
        }
        Kind::Completion { logprobs, echo } => {
            let id = gen::new_id("cmpl");
            let cs: Vec<Value> = choices
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pre = echo.clone().unwrap_or_default();
                    let toks: Vec<_> = c.tokens.iter().filter(|t| t.id != u32::MAX).collect();
                    json!({
                        "text": format!("{pre}{}", c.text),
                        "index": i,
                        "logprobs": logprobs.map(|_| completion_logprobs(lm, &toks, pre.len())),
                        "finish_reason": c.stats.as_ref().map(|s| gen::finish_str(s.finish)).unwrap_or("stop"),
                    })
                })
                .collect();
            Json(json!({
                "id": id, "object": "text_completion", "created": created, "model": model,
                "system_fingerprint": fingerprint(), "choices": cs, "usage": u,
            }))
            .into_response()
        }
    }
}

fn fingerprint() -> String {
    format!("hearth-{}", env!("CARGO_PKG_VERSION"))
}

fn chunk(id: &str, created: u64, model: &str, choices: Value, with_null_usage: bool) -> Value {
    let mut v = json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "system_fingerprint": fingerprint(), "choices": choices,
    });
    if with_null_usage {
        v["usage"] = Value::Null;
    }
    v
}

fn sse(v: &Value) -> String {
    format!("data: {v}\n\n")
}

#[allow(clippy::too_many_arguments)]
fn stream_response(
    st: Shared,
    lease: Lease,
    kind: Kind,
    mut rx: UnboundedReceiver<Tagged>,
    n: usize,
    so: StreamOptions,
    model: String,
    endpoint: &'static str,
    started: Instant,
    tools: Option<crate::tools::ToolStream>,
) -> Response {
    let (tx, brx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    // per choice: its tool reader and the ids of the calls it streamed
    let mut readers: Vec<_> = (0..n)
        .map(|_| (tools.clone(), Vec::<String>::new()))
        .collect();
    tokio::spawn(async move {
        let lm = lease.slot.lm.clone();
        let created = gen::unix_now();
        let is_chat = matches!(kind, Kind::Chat { .. });
        let id = gen::new_id(if is_chat { "chatcmpl" } else { "cmpl" });
        let obj = if is_chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let with_lp = match &kind {
            Kind::Chat { logprobs } | Kind::Completion { logprobs, .. } => logprobs.is_some(),
        };
        let mk = |choices: Value| {
            let mut v = json!({"id": id, "object": obj, "created": created, "model": model,
                "system_fingerprint": fingerprint(), "choices": choices});
            if so.include_usage {
                v["usage"] = Value::Null;
            }
            v
        };
        let send = |v: String| {
            let tx = tx.clone();
            async move { tx.send(Ok(Bytes::from(v))).await.is_ok() }
        };
        // Opening chunks.
        for i in 0..n {
            let first = match &kind {
                Kind::Chat { .. } => {
                    json!([{"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}])
                }
                Kind::Completion { echo: Some(e), .. } => {
                    json!([{"index": i, "text": e, "logprobs": null, "finish_reason": null}])
                }
                Kind::Completion { .. } => continue,
            };
            if !send(sse(&mk(first))).await {
                gen::log_request(&st, endpoint, &model, &[], "499 (client closed)", started);
                return;
            }
        }
        let mut stats = Vec::new();
        let mut texts: Vec<String> = vec![String::new(); n];
        let mut done = 0;
        let mut status = "200".to_string();
        let mut seen = gen::Seen::default();
        while done < n {
            // A client that leaves while nothing streams (a long prompt
            // still being read) is noticed here too.
            let next = tokio::select! {
                ev = rx.recv() => ev,
                _ = tx.closed() => {
                    status = "499 (client closed)".into();
                    break;
                }
            };
            let Some((i, ev)) = next else {
                break;
            };
            seen.note(i, &ev);
            let piece = match ev {
                Event::Prefill { .. } => continue,
                Event::Token(t) => {
                    if t.text.is_empty() && t.reasoning.is_empty() && (!with_lp || t.id == u32::MAX)
                    {
                        continue;
                    }
                    texts[i].push_str(&t.text);
                    let real = t.id != u32::MAX;
                    if let (Some(reader), ids) = &mut readers[i] {
                        // content and tool-call pieces as the answer comes
                        let mut deltas = Vec::new();
                        if !t.reasoning.is_empty() {
                            deltas.push(json!({"reasoning_content": t.reasoning}));
                        }
                        deltas.extend(tool_deltas(reader.push(&t.text), ids));
                        let mut gone = false;
                        for d in deltas {
                            let c = json!([{"index": i, "delta": d, "logprobs": null, "finish_reason": null}]);
                            if !send(sse(&mk(c))).await {
                                gone = true;
                                break;
                            }
                        }
                        if gone {
                            status = "499 (client closed)".into();
                            break;
                        }
                        continue;
                    }
                    match &kind {
                        Kind::Chat { .. } => {
                            let lp = if with_lp && real {
                                json!({"content": [chat_logprob(&lm, &t)], "refusal": null})
                            } else {
                                Value::Null
                            };
                            // a thinking model's reasoning streams as it comes,
                            // apart from the answer (llama-server's and vLLM's field)
                            let mut delta = json!({});
                            if !t.reasoning.is_empty() {
                                delta["reasoning_content"] = json!(t.reasoning);
                            }
                            if !t.text.is_empty() || t.reasoning.is_empty() {
                                delta["content"] = json!(t.text);
                            }
                            json!([{"index": i, "delta": delta, "logprobs": lp, "finish_reason": null}])
                        }
                        Kind::Completion { .. } => {
                            let lp = if with_lp && real {
                                completion_logprobs(&lm, &[&t], 0)
                            } else {
                                Value::Null
                            };
                            json!([{"index": i, "text": t.text, "logprobs": lp, "finish_reason": null}])
                        }
                    }
                }
                Event::Done(s) => {
                    done += 1;
                    let mut fin = gen::finish_str(s.finish);
                    if let (Some(reader), ids) = &mut readers[i] {
                        for d in tool_deltas(reader.finish(), ids) {
                            let c = json!([{"index": i, "delta": d, "logprobs": null, "finish_reason": null}]);
                            let _ = send(sse(&mk(c))).await;
                        }
                        // (an answer the limit stopped stays "length": its
                        // last call's arguments streamed as written, unfinished)
                        if reader.n_calls() > 0 && s.finish != engine::FinishReason::Length {
                            fin = "tool_calls";
                        }
                    }
                    stats.push(s);
                    if is_chat {
                        json!([{"index": i, "delta": {}, "logprobs": null, "finish_reason": fin}])
                    } else {
                        json!([{"index": i, "text": "", "logprobs": null, "finish_reason": fin}])
                    }
                }
                Event::Error(e) => {
                    let err = crate::error::from_engine(&e);
                    status = err.status.as_u16().to_string();
                    let _ = send(sse(&err.body())).await;
                    break;
                }
            };
            if !send(sse(&mk(piece))).await {
                // The client left: dropping `rx` cancels the sequences.
                status = "499 (client closed)".into();
                break;
            }
        }
        drop(rx);
        let logged = seen.stats(&stats, n);
        let refs: Vec<_> = logged.iter().collect();
        gen::log_request(&st, endpoint, &model, &refs, &status, started);
        for t in &texts {
            gen::log_content(&st, "output", t);
        }
        if status != "200" {
            return;
        }
        if so.include_usage {
            let p = stats.first().map(|s| s.prompt_tokens).unwrap_or(0);
            let c: usize = stats.iter().map(|s| s.output_tokens).sum();
            let cached = stats.first().map(|s| s.cached_tokens).unwrap_or(0);
            let mut v = mk(json!([]));
            v["usage"] = usage_json(p, cached, c);
            if let Some(sp) = crate::spec::stats_json(&stats) {
                v["usage"]["speculative"] = sp;
            }
            if !send(sse(&v)).await {
                return;
            }
        }
        let _ = send("data: [DONE]\n\n".to_string()).await;
        drop(lease);
    });
    gen::sse_response(axum::body::Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(brx),
    ))
}

pub async fn models(State(st): State<Shared>) -> Json<Value> {
    let data: Vec<Value> = st.mgr.catalog.list().iter().map(model_obj).collect();
    Json(json!({"object": "list", "data": data}))
}

fn model_obj(e: &crate::catalog::Entry) -> Value {
    let created = e
        .modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    json!({"id": e.name, "object": "model", "created": created, "owned_by": "hearth"})
}

pub async fn model(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match st.mgr.catalog.resolve(&id) {
        Ok(e) => Ok(Json(model_obj(&e))),
        Err(_) => Err(ApiError::not_found_model(&id)),
    }
}
