//! OpenAI's Responses API: `POST /v1/responses` (whole or as the typed
//! event stream), `GET` and `DELETE /v1/responses/{id}`. Stateless unless a
//! response is stored (`store`, default true): then it is kept in memory
//! (`memory.rs`: bounded time, count and bytes; never on disk) so that a
//! later request can continue it with `previous_response_id`. The protocol
//! only: prompts go through the same template, tools and scheduler as the
//! other APIs.

mod memory;
mod request;
mod stream;

pub use memory::Memory;

use crate::answer::{self, End, Piece};
use crate::defaults::Defaults;
use crate::error::ApiError;
use crate::gen;
use crate::models::Lease;
use crate::{Body, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::Message;
use memory::{Missing, Stored};
use request::{input_messages, plan, Plan, ResponsesRequest};
use serde_json::{json, Value};
use std::time::Instant;
use stream::{call_item, message_item, reasoning_item, response, usage, Events, Head};

const ENDPOINT: &str = "POST /v1/responses";

fn new_id(prefix: &str) -> String {
    gen::new_id(prefix).replacen('-', "_", 1)
}

fn not_kept(st: &Shared, id: &str, field: &str, why: Missing) -> ApiError {
    let m = &st.responses;
    let limits = format!(
        "hearth keeps stored responses in memory for {}s (at most {} of them, {} MB), never across restarts",
        m.ttl.as_secs(),
        m.max,
        m.max_bytes >> 20
    );
    let msg = match why {
        Missing::Expired(reason) => {
            format!("{field}: response '{id}' has expired ({reason}); {limits}. Send the conversation as input instead")
        }
        Missing::Unknown => format!(
            "{field}: no response '{id}' is stored here (a response made with store: false is not kept; {limits})"
        ),
    };
    let (status, code) = if field == "previous_response_id" {
        (StatusCode::BAD_REQUEST, "previous_response_not_found")
    } else {
        (StatusCode::NOT_FOUND, "response_not_found")
    };
    let mut e = ApiError::new(status, msg).with_code(code);
    e.param = Some(field.to_string());
    e
}

/// What the response object repeats of the request.
fn head(r: &ResponsesRequest, p: &Plan, model: &str) -> Head {
    let mut echo = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        echo.insert(k.to_string(), v);
    };
    put("instructions", json!(r.instructions));
    put("max_output_tokens", json!(r.max_output_tokens));
    put("metadata", r.metadata.clone().unwrap_or_else(|| json!({})));
    put(
        "parallel_tool_calls",
        json!(r.parallel_tool_calls.unwrap_or(true)),
    );
    put("previous_response_id", json!(r.previous_response_id));
    put("reasoning", p.reasoning_echo.clone());
    put("store", json!(p.store));
    put("temperature", json!(p.req.sampling.temperature));
    put("text", json!({ "format": p.format_echo }));
    put("tool_choice", p.tool_choice_echo.clone());
    put("tools", p.tools_echo.clone());
    put("top_p", json!(p.req.sampling.top_p));
    put(
        "truncation",
        json!(r.truncation.clone().unwrap_or_else(|| "disabled".into())),
    );
    put("user", json!(r.user));
    put("background", json!(false));
    Head {
        id: new_id("resp"),
        created_at: gen::unix_now(),
        model: model.to_string(),
        echo,
    }
}

/// The request made ready: plan, conversation, model, prompt.
struct Ready {
    plan: Plan,
    lease: Lease,
    head: Head,
    tool_prefix: String,
    /// The conversation to keep (without `instructions`).
    conversation: Vec<Message>,
}

async fn ready(st: &Shared, r: &ResponsesRequest) -> Result<Ready, ApiError> {
    let d = Defaults::of(st, &r.model);
    let mut plan = plan(r, &d)?;
    let prior = match &r.previous_response_id {
        None => Vec::new(),
        Some(id) => {
            st.responses
                .get(id)
                .map_err(|why| not_kept(st, id, "previous_response_id", why))?
                .conversation
        }
    };
    let conversation = input_messages(r.input.as_ref(), prior)?;
    let mut msgs = conversation.clone();
    if let Some(i) = r.instructions.as_ref().filter(|i| !i.is_empty()) {
        msgs.insert(0, Message::system(i.clone()));
    }
    d.apply_chat(&mut msgs);
    if let Some(s) = &plan.wants.schema {
        answer::add_json_instructions(&mut msgs, s);
    }
    let lease = st.mgr.get(&r.model, plan.keep_alive).await?;
    gen::refuse_embedding(&lease, "answer a response")?;
    if let Some(m) = msgs.last() {
        gen::log_content(st, "prompt", &m.content);
    }
    let lm = lease.slot.lm.clone();
    // a thinking model's reasoning, split from the answer; the schema binds
    // the answer only
    plan.req.reasoning = plan.wants.thinking.reasoning(&lm);
    if let Some(s) = &plan.wants.schema {
        plan.req.constraint = s.constraint(&lm, plan.req.reasoning.as_ref())?;
    }
    let kwargs = plan.wants.thinking.kwargs.clone();
    let p = crate::tools::chat_prompt(&lease, &msgs, plan.tools.as_ref(), &kwargs)
        .await
        .map_err(|mut e| {
            if e.param.as_deref() == Some("messages") {
                e.param = Some("input".into());
            }
            e
        })?;
    let tool_prefix = p.fit(plan.tools.as_mut(), &mut plan.req, &lm)?;
    let head = head(r, &plan, &lease.slot.name);
    Ok(Ready {
        plan,
        lease,
        head,
        tool_prefix,
        conversation,
    })
}

/// Keep a finished response for `previous_response_id` (unless `store: false`).
fn keep(st: &Shared, rd: &Ready, r: &Value, text: &str) {
    if !rd.plan.store {
        return;
    }
    let calls: Vec<Value> = r["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["type"] == "function_call")
        .filter_map(|i| {
            crate::tools::call_for_template(
                "output",
                json!({"id": i["call_id"], "type": "function",
                    "function": {"name": i["name"], "arguments": i["arguments"]}}),
            )
            .ok()
        })
        .collect();
    let mut conversation = rd.conversation.clone();
    conversation.push(Message {
        role: "assistant".into(),
        content: text.to_string(),
        tool_calls: (!calls.is_empty()).then_some(Value::Array(calls)),
        ..Default::default()
    });
    st.responses.put(
        rd.head.id.clone(),
        Stored {
            response: r.clone(),
            conversation,
            model: rd.lease.slot.name.clone(),
        },
    );
}

pub async fn create(
    State(st): State<Shared>,
    Body(r): Body<ResponsesRequest>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let rd = ready(&st, &r).await?;
    if r.stream {
        // a refusal (a full queue) is still an HTTP error, before any event
        let rx = gen::submit_n(&rd.lease, &rd.plan.req, None, 1)?;
        return Ok(live(st, rd, rx, started));
    }
    // whole: read for tool calls
    let model = rd.lease.slot.name.clone();
    let mut guard = gen::LeftGuard::new(&st, ENDPOINT, &model, started);
    let choice = match gen::submit_n(&rd.lease, &rd.plan.req, None, 1) {
        Ok(rx) => guard.collect(rx, 1).await.map(|mut v| v.remove(0)),
        Err(e) => Err(e),
    };
    guard.disarm();
    let c = choice?;
    let s = c.stats.clone().expect("a finished choice has stats");
    gen::log_request(&st, ENDPOINT, &model, &[&s], "200", started);
    gen::log_content(&st, "output", &c.text);
    let (thinking, text) = (c.reasoning.clone(), c.text.clone());
    let length = answer::end_of(&rd.lease.slot.lm, &s, &rd.plan.req.stop) == End::Length;
    let (text, mut calls) = match &rd.plan.tools {
        Some(t) => {
            let (content, calls) = t.answer(&rd.tool_prefix, &text, length);
            (content.unwrap_or_default(), calls)
        }
        None => (text, Vec::new()),
    };
    if rd.plan.one_call {
        calls.truncate(1);
    }
    // stopped by the limit: incomplete, calls or not (a call it cut off is
    // an `incomplete` item with the raw, unfinished arguments: `ToolCall::cut`)
    let status = if length { "incomplete" } else { "completed" };
    let mut output = Vec::new();
    if !thinking.is_empty() {
        output.push(reasoning_item(&new_id("rs"), &thinking, rd.plan.summary));
    }
    if !text.is_empty() || calls.is_empty() {
        output.push(message_item(&new_id("msg"), &text, status));
    }
    for call in &calls {
        let args = match &call.arguments {
            Value::String(s) => s.clone(),
            a => a.to_string(),
        };
        let call_id = new_id("call");
        output.push(call_item(
            &new_id("fc"),
            &call_id,
            &call.name,
            &args,
            if call.cut { "incomplete" } else { "completed" },
        ));
    }
    let u = usage(s.prompt_tokens, s.cached_tokens, s.output_tokens);
    let resp = response(&rd.head, status, &output, Some(u));
    keep(&st, &rd, &resp, &text);
    Ok(Json(resp).into_response())
}

/// The Responses event stream of one request, as it is generated.
struct Live {
    st: Shared,
    rd: Ready,
    ev: Events,
    /// With tools, the answer's text is read for calls as it comes: its
    /// content into the message, each call a function call item whose
    /// arguments stream as they are written.
    calls: Option<crate::tools::ToolStream>,
    /// The answer's content (without its calls), kept with the response.
    content: String,
}

impl Live {
    fn text(&mut self, x: &str) -> String {
        let Some(c) = &mut self.calls else {
            self.content.push_str(x);
            return self.ev.piece(&Piece::Text(x.to_string()));
        };
        let ds = c.push(x);
        self.deltas(ds)
    }

    fn deltas(&mut self, ds: Vec<crate::tools::Delta>) -> String {
        for d in &ds {
            if let crate::tools::Delta::Content(t) = d {
                self.content.push_str(t);
            }
        }
        self.ev.tool_deltas(ds)
    }
}

impl gen::LiveEvents for Live {
    fn token(&mut self, t: &engine::scheduler::TokenEvent) -> String {
        let mut out = String::new();
        for p in answer::pieces(t) {
            match &p {
                Piece::Text(x) => out += &self.text(x),
                Piece::Thinking(_) => out += &self.ev.piece(&p),
            }
        }
        out
    }

    fn done(&mut self, s: &engine::GenerateStats) -> String {
        let mut out = String::new();
        if let Some(c) = &mut self.calls {
            let ds = c.finish();
            out += &self.deltas(ds);
        }
        let rd = &self.rd;
        let length = answer::end_of(&rd.lease.slot.lm, s, &rd.plan.req.stop) == End::Length;
        // (stopped by the limit: incomplete, calls or not; a call still
        // open is closed `incomplete`, its arguments streamed as written)
        let status = if length { "incomplete" } else { "completed" };
        if self.ev.is_empty() {
            // an empty answer is still a message
            out += &self.ev.open_message();
        }
        out += &self.ev.close(status);
        let u = usage(s.prompt_tokens, s.cached_tokens, s.output_tokens);
        let resp = response(&rd.head, status, self.ev.output(), Some(u));
        out += &self.ev.finish(&resp);
        keep(&self.st, rd, &resp, &self.content);
        out
    }

    fn error(&mut self, e: &engine::EngineError) -> (String, u16) {
        let err = crate::error::from_engine(e);
        (self.ev.error(&err), err.status.as_u16())
    }
}

/// Stream the answer as it is generated: reasoning, content and function
/// calls (their arguments in pieces) as they come.
fn live(
    st: Shared,
    rd: Ready,
    rx: tokio::sync::mpsc::UnboundedReceiver<gen::Tagged>,
    started: Instant,
) -> Response {
    let model = rd.lease.slot.name.clone();
    let mut ev = Events::new(rd.plan.summary);
    if rd.plan.one_call {
        ev = ev.one_call();
    }
    let first = ev.created(&rd.head);
    let calls = rd.plan.tools.as_ref().map(|t| t.stream(&rd.tool_prefix));
    let live = Live {
        st: st.clone(),
        rd,
        ev,
        calls,
        content: String::new(),
    };
    gen::live_sse(st, ENDPOINT, model, first, rx, started, live)
}

/// `GET /v1/responses/{id}`: a stored response.
pub async fn retrieve(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    st.responses
        .get(&id)
        .map(|s| Json(s.response))
        .map_err(|why| not_kept(&st, &id, "response_id", why))
}

/// `DELETE /v1/responses/{id}`: forget a stored response.
pub async fn delete(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if st.responses.delete(&id) {
        return Ok(Json(
            json!({"id": id, "object": "response", "deleted": true}),
        ));
    }
    let why = st.responses.get(&id).err().unwrap_or(Missing::Unknown);
    Err(not_kept(&st, &id, "response_id", why))
}
