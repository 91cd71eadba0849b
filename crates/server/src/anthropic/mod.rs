//! Anthropic's Messages API: `POST /v1/messages` (whole or streamed) and
//! `POST /v1/messages/count_tokens`, errors in Anthropic's shape, the key
//! as `x-api-key` or Bearer (`lib.rs`). The protocol only: prompts go
//! through the same template, tools and scheduler as the other APIs.

mod request;
mod stream;

use crate::answer::{self, End, Piece};
use crate::defaults::Defaults;
use crate::error::{ApiError, Flavor};
use crate::gen;
use crate::models::Lease;
use crate::{Body, Shared};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::{Message, Prompt};
use request::{conversation, plan, MessagesRequest, Plan};
use serde_json::{json, Value};
use std::time::Instant;
use stream::{message, usage, Events};

const ENDPOINT: &str = "POST /v1/messages";

fn aerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::Anthropic)
}

fn new_id(prefix: &str) -> String {
    gen::new_id(prefix).replacen('-', "_", 1)
}

/// The prompt's token ids with the answer's start after the template's
/// generation prompt (Anthropic's "prefill": the client's text, never read
/// as special tokens).
fn prefill_prompt(
    lease: &Lease,
    msgs: &[Message],
    pre: &str,
    kwargs: &serde_json::Map<String, Value>,
) -> Result<Vec<u32>, ApiError> {
    let lm = &lease.slot.lm;
    let tpl = lm
        .template
        .as_ref()
        .map_err(|e| ApiError::bad("messages", e.clone()))?;
    let opts = engine::RenderOptions {
        add_generation_prompt: true,
        tools: None,
        kwargs: (!kwargs.is_empty()).then_some(kwargs),
        now: None,
    };
    let never = std::sync::atomic::AtomicBool::new(false);
    let mut r = tpl
        .render_with_cancel(msgs, &opts, &never)
        .map_err(|e| ApiError::bad("messages", e.to_string()))?;
    let at = r.text.len();
    r.text.push_str(pre);
    r.content_ranges.push((at, r.text.len()));
    gen::check_prompt_len(lease, lm.tokenizer.encode_chat(&r), "messages")
}

/// The request made ready: plan, conversation, model, prompt.
struct Ready {
    plan: Plan,
    lease: Lease,
    tool_prefix: String,
    prompt_tokens: usize,
}

async fn ready(st: &Shared, r: &MessagesRequest, count_only: bool) -> Result<Ready, ApiError> {
    let d = Defaults::of(st, &r.model);
    let mut plan = plan(r, &d, count_only)?;
    let (msgs, prefill) = conversation(r, &d)?;
    if prefill.is_some() && plan.tools.is_some() {
        return Err(ApiError::bad(
            "messages",
            "messages: a final assistant message (the start of the answer) cannot be combined with tools here; leave one out",
        ));
    }
    let lease = st.mgr.get(&r.model, plan.keep_alive).await?;
    gen::refuse_embedding(&lease, "chat")?;
    if let Some(m) = msgs.last() {
        gen::log_content(st, "prompt", &m.content);
    }
    let lm = lease.slot.lm.clone();
    // a thinking model's reasoning, split from the answer (or turned off)
    plan.req.reasoning = plan.wants.thinking.reasoning(&lm);
    let kwargs = plan.wants.thinking.kwargs.clone();
    let tool_prefix = match prefill {
        Some(pre) => {
            plan.req.prompt = Prompt::Tokens(prefill_prompt(&lease, &msgs, &pre, &kwargs)?);
            String::new()
        }
        None => {
            // the tools in the model's own format, its calls read back in it
            let p = crate::tools::chat_prompt(&lease, &msgs, plan.tools.as_ref(), &kwargs).await?;
            p.fit(plan.tools.as_mut(), &mut plan.req, &lm)?
        }
    };
    let prompt_tokens = match &plan.req.prompt {
        Prompt::Tokens(ids) => ids.len(),
        _ => 0,
    };
    Ok(Ready {
        plan,
        lease,
        tool_prefix,
        prompt_tokens,
    })
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, the prompt as
/// `/v1/messages` would read it.
pub async fn count_tokens(
    State(st): State<Shared>,
    Body(r): Body<MessagesRequest>,
) -> Result<Json<Value>, ApiError> {
    let rd = ready(&st, &r, true).await.map_err(aerr)?;
    Ok(Json(json!({ "input_tokens": rd.prompt_tokens })))
}

/// `stop_reason` and `stop_sequence` of a generation.
fn stop_of(rd: &Ready, s: &engine::GenerateStats) -> (&'static str, Option<String>) {
    match answer::end_of(&rd.lease.slot.lm, s, &rd.plan.req.stop) {
        End::Turn => ("end_turn", None),
        End::Stop(x) => ("stop_sequence", Some(x)),
        End::Length => ("max_tokens", None),
    }
}

pub async fn messages(
    State(st): State<Shared>,
    Body(r): Body<MessagesRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let rd = ready(&st, &r, false).await.map_err(aerr)?;
    if r.stream && !(rd.plan.tools.is_some() && rd.plan.one_call) {
        // a refusal (a full queue) is still an HTTP error, before any event
        let rx = gen::submit_n(&rd.lease, &rd.plan.req, None, 1).map_err(aerr)?;
        return Ok(live(st, rd, rx, started));
    }
    // whole: read for tool calls (a streamed request for one call only gets
    // the finished message as its event stream)
    let model = rd.lease.slot.name.clone();
    let mut guard = gen::LeftGuard::new(&st, ENDPOINT, &model, started);
    let choice = match gen::submit_n(&rd.lease, &rd.plan.req, None, 1) {
        Ok(rx) => guard.collect(rx, 1).await,
        Err(e) => Err(e),
    };
    guard.disarm();
    let c = choice.map_err(aerr)?.remove(0);
    let s = c.stats.clone().expect("a finished choice has stats");
    gen::log_request(&st, ENDPOINT, &model, &[&s], "200", started);
    gen::log_content(&st, "output", &c.text);
    let (thinking, text) = (c.reasoning.clone(), c.text.clone());
    let (reason, seq) = stop_of(&rd, &s);
    let (text, mut calls) = match &rd.plan.tools {
        Some(t) => {
            // (a call the limit cut off is left out: its input would not be
            // an object; `stop_reason` says max_tokens)
            let (content, calls) = t.answer_objects(&rd.tool_prefix, &text, reason == "max_tokens");
            (content.unwrap_or_default(), calls)
        }
        None => (text, Vec::new()),
    };
    if rd.plan.one_call {
        calls.truncate(1);
    }
    let mut content = Vec::new();
    if !thinking.is_empty() {
        content.push(
            json!({"type": "thinking", "thinking": thinking, "signature": stream::SIGNATURE}),
        );
    }
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in &calls {
        let input = match &call.arguments {
            v @ Value::Object(_) => v.clone(),
            other => json!({ "input": other }),
        };
        content.push(
            json!({"type": "tool_use", "id": new_id("toolu"), "name": call.name, "input": input}),
        );
    }
    let (reason, seq) = if calls.is_empty() || reason == "max_tokens" {
        (reason, seq)
    } else {
        ("tool_use", None)
    };
    let m = message(
        &new_id("msg"),
        &model,
        content,
        Some(reason),
        seq.as_deref(),
        usage(s.prompt_tokens, s.cached_tokens, s.output_tokens),
    );
    if r.stream {
        return Ok(gen::sse_response(axum::body::Body::from(Events::replay(
            &m,
            rd.prompt_tokens,
        ))));
    }
    Ok(Json(m).into_response())
}

/// The Messages stream of one request, as it is generated.
struct Live {
    rd: Ready,
    ev: Events,
    /// With tools, the answer's text is read for calls as it comes: its
    /// content as text, each call as a tool_use block.
    calls: Option<crate::tools::ToolStream>,
}

impl gen::LiveEvents for Live {
    fn token(&mut self, t: &engine::scheduler::TokenEvent) -> String {
        let mut out = String::new();
        for p in answer::pieces(t) {
            match (&p, &mut self.calls) {
                (Piece::Text(x), Some(c)) => out += &self.ev.tool_deltas(c.push(x)),
                _ => out += &self.ev.piece(&p),
            }
        }
        out
    }

    fn done(&mut self, s: &engine::GenerateStats) -> String {
        let mut out = String::new();
        let (mut reason, mut seq) = stop_of(&self.rd, s);
        if let Some(c) = &mut self.calls {
            out += &self.ev.tool_deltas(c.finish());
            // (stopped by the limit: max_tokens, calls or not; the last
            // call's input streamed as written, unfinished)
            if c.n_calls() > 0 && reason != "max_tokens" {
                (reason, seq) = ("tool_use", None);
            }
        }
        let u = usage(s.prompt_tokens, s.cached_tokens, s.output_tokens);
        out += &self.ev.finish(reason, seq.as_deref(), u);
        out
    }

    fn error(&mut self, e: &engine::EngineError) -> (String, u16) {
        let err = aerr(crate::error::from_engine(e));
        (stream::sse("error", &err.body()), err.status.as_u16())
    }
}

/// Stream the answer as it is generated.
fn live(
    st: Shared,
    rd: Ready,
    rx: tokio::sync::mpsc::UnboundedReceiver<gen::Tagged>,
    started: Instant,
) -> Response {
    let model = rd.lease.slot.name.clone();
    let (ev, head) = Events::start(&new_id("msg"), &model, rd.prompt_tokens);
    let calls = rd.plan.tools.as_ref().map(|t| t.stream(&rd.tool_prefix));
    gen::live_sse(
        st,
        ENDPOINT,
        model,
        head,
        rx,
        started,
        Live { rd, ev, calls },
    )
}
