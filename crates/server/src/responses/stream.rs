//! The Responses API's objects and typed event stream (platform.openai.com,
//! "Streaming events"): `response.created`, `response.in_progress`, per
//! output item `response.output_item.added`, its content
//! (`response.content_part.added`, `response.output_text.delta` /
//! `.done`, `response.reasoning_text.delta` / `.done`, the reasoning
//! summary's parts, `response.function_call_arguments.delta` / `.done`),
//! `response.content_part.done`, `response.output_item.done`; then
//! `response.completed` (or `response.incomplete`). Every event carries its
//! `type` and a `sequence_number`, as `event: TYPE` + `data: JSON`.

use crate::answer::Piece;
use crate::tools::Delta;
use serde_json::{json, Value};

/// What every response object of a request repeats.
#[derive(Clone)]
pub struct Head {
    pub id: String,
    pub created_at: u64,
    pub model: String,
    /// Request fields echoed: instructions, max_output_tokens, metadata,
    /// parallel_tool_calls, previous_response_id, reasoning, store,
    /// temperature, text, tool_choice, tools, top_p, truncation, user.
    pub echo: serde_json::Map<String, Value>,
}

/// Responses' `usage`.
pub fn usage(prompt: usize, cached: usize, output: usize) -> Value {
    json!({
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    })
}

/// A response object. `status`: in_progress, completed, incomplete.
pub fn response(h: &Head, status: &str, output: &[Value], usage: Option<Value>) -> Value {
    let mut v = json!({
        "id": h.id, "object": "response", "created_at": h.created_at, "status": status,
        "error": null, "model": h.model, "output": output, "usage": usage,
        "incomplete_details": if status == "incomplete" {
            json!({"reason": "max_output_tokens"})
        } else {
            Value::Null
        },
    });
    for (k, x) in &h.echo {
        v[k] = x.clone();
    }
    v
}

/// An assistant message item.
pub fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

/// A reasoning item (its summary: the reasoning itself, when asked for).
pub fn reasoning_item(id: &str, text: &str, summary: bool) -> Value {
    let s = if summary {
        json!([{"type": "summary_text", "text": text}])
    } else {
        json!([])
    };
    json!({"type": "reasoning", "id": id, "summary": s, "status": "completed",
        "content": [{"type": "reasoning_text", "text": text}]})
}

/// A function call item.
pub fn call_item(id: &str, call_id: &str, name: &str, arguments: &str, status: &str) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
        "arguments": arguments, "status": status})
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Message,
    Reasoning,
    /// A function call (its arguments are the text).
    Call,
}

struct Open {
    kind: Kind,
    id: String,
    text: String,
    /// A call's function name and `call_id`.
    call: Option<(String, String)>,
}

/// Builds one response's events as it is generated, and its output items.
pub struct Events {
    seq: u64,
    output: Vec<Value>,
    open: Option<Open>,
    summary: bool,
    /// The answer's calls seen so far (by their index in the answer), and
    /// how many of them may become items (`parallel_tool_calls: false`: one).
    calls_seen: usize,
    max_calls: usize,
}

fn sse(v: &Value) -> String {
    format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap_or(""))
}

fn new_id(prefix: &str) -> String {
    crate::gen::new_id(prefix).replacen('-', "_", 1)
}

impl Events {
    /// `summary`: reasoning items carry a summary (`reasoning.summary`).
    pub fn new(summary: bool) -> Events {
        Events {
            seq: 0,
            output: Vec::new(),
            open: None,
            summary,
            calls_seen: 0,
            max_calls: usize::MAX,
        }
    }

    fn ev(&mut self, kind: &str, mut v: Value) -> String {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        sse(&v)
    }

    /// At most one function call item (`parallel_tool_calls: false`).
    pub fn one_call(mut self) -> Events {
        self.max_calls = 1;
        self
    }

    /// The output items finished so far.
    pub fn output(&self) -> &[Value] {
        &self.output
    }

    /// No item so far, finished or open.
    pub fn is_empty(&self) -> bool {
        self.output.is_empty() && self.open.is_none()
    }

    /// `response.created` and `response.in_progress`.
    pub fn created(&mut self, h: &Head) -> String {
        let r = response(h, "in_progress", &[], None);
        self.ev("response.created", json!({ "response": r }))
            + &self.ev("response.in_progress", json!({ "response": r }))
    }

    /// Close the open item (`status` for a message: completed or incomplete).
    pub fn close(&mut self, status: &str) -> String {
        let Some(o) = self.open.take() else {
            return String::new();
        };
        let i = self.output.len();
        let mut out = String::new();
        let item = match o.kind {
            Kind::Message => {
                out += &self.ev(
                    "response.output_text.done",
                    json!({"item_id": o.id, "output_index": i,
                    "content_index": 0, "text": o.text, "logprobs": []}),
                );
                out += &self.ev("response.content_part.done", json!({"item_id": o.id, "output_index": i,
                    "content_index": 0, "part": {"type": "output_text", "text": o.text, "annotations": [], "logprobs": []}}));
                message_item(&o.id, &o.text, status)
            }
            Kind::Reasoning => {
                out += &self.ev(
                    "response.reasoning_text.done",
                    json!({"item_id": o.id, "output_index": i,
                    "content_index": 0, "text": o.text}),
                );
                out += &self.ev(
                    "response.content_part.done",
                    json!({"item_id": o.id, "output_index": i,
                    "content_index": 0, "part": {"type": "reasoning_text", "text": o.text}}),
                );
                if self.summary {
                    let part = |t: &str| json!({"type": "summary_text", "text": t});
                    out += &self.ev(
                        "response.reasoning_summary_part.added",
                        json!({"item_id": o.id,
                        "output_index": i, "summary_index": 0, "part": part("")}),
                    );
                    out += &self.ev(
                        "response.reasoning_summary_text.delta",
                        json!({"item_id": o.id,
                        "output_index": i, "summary_index": 0, "delta": o.text}),
                    );
                    out += &self.ev(
                        "response.reasoning_summary_text.done",
                        json!({"item_id": o.id,
                        "output_index": i, "summary_index": 0, "text": o.text}),
                    );
                    out += &self.ev(
                        "response.reasoning_summary_part.done",
                        json!({"item_id": o.id,
                        "output_index": i, "summary_index": 0, "part": part(&o.text)}),
                    );
                }
                reasoning_item(&o.id, &o.text, self.summary)
            }
            Kind::Call => {
                let (name, call_id) = o.call.clone().unwrap_or_default();
                out += &self.ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": o.id, "output_index": i, "name": name, "arguments": o.text}),
                );
                call_item(&o.id, &call_id, &name, &o.text, status)
            }
        };
        out += &self.ev(
            "response.output_item.done",
            json!({"output_index": i, "item": item}),
        );
        self.output.push(item);
        out
    }

    /// A piece of answer or reasoning: into the open item of its kind, else
    /// a new item.
    pub fn piece(&mut self, p: &Piece) -> String {
        let (kind, text) = match p {
            Piece::Text(t) => (Kind::Message, t),
            Piece::Thinking(t) => (Kind::Reasoning, t),
        };
        if text.is_empty() {
            return String::new();
        }
        let mut out = self.open(kind);
        let i = self.output.len();
        let o = self.open.as_mut().expect("opened above");
        o.text.push_str(text);
        let id = o.id.clone();
        let name = match kind {
            Kind::Reasoning => "response.reasoning_text.delta",
            Kind::Message | Kind::Call => "response.output_text.delta",
        };
        let mut v = json!({"item_id": id, "output_index": i, "content_index": 0, "delta": text});
        if kind == Kind::Message {
            v["logprobs"] = json!([]);
        }
        out += &self.ev(name, v);
        out
    }

    /// An (empty) message item, for an answer with no text at all.
    pub fn open_message(&mut self) -> String {
        self.open(Kind::Message)
    }

    /// Open an item of `kind` unless one is open (closing another kind's).
    fn open(&mut self, kind: Kind) -> String {
        let mut out = String::new();
        if self.open.as_ref().map(|o| o.kind) != Some(kind) {
            out += &self.close("completed");
            let i = self.output.len();
            // (a call item opens in `start_call`: `kind` is never `Call` here)
            let (id, item, part) = match kind {
                Kind::Message | Kind::Call => {
                    let id = new_id("msg");
                    let item = json!({"type": "message", "id": id, "status": "in_progress",
                        "role": "assistant", "content": []});
                    (
                        id,
                        item,
                        json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []}),
                    )
                }
                Kind::Reasoning => {
                    let id = new_id("rs");
                    let item = json!({"type": "reasoning", "id": id, "summary": [], "status": "in_progress"});
                    (id, item, json!({"type": "reasoning_text", "text": ""}))
                }
            };
            out += &self.ev(
                "response.output_item.added",
                json!({"output_index": i, "item": item}),
            );
            out += &self.ev(
                "response.content_part.added",
                json!({"item_id": id, "output_index": i, "content_index": 0, "part": part}),
            );
            self.open = Some(Open {
                kind,
                id,
                text: String::new(),
                call: None,
            });
        }
        out
    }

    /// An `error` event (the stream ends after it).
    pub fn error(&mut self, e: &crate::error::ApiError) -> String {
        self.ev(
            "error",
            json!({"code": e.code, "message": e.message, "param": e.param}),
        )
    }

    /// A function call item begins (its arguments come as
    /// `response.function_call_arguments.delta`).
    fn start_call(&mut self, name: &str) -> String {
        let mut out = self.close("completed");
        let i = self.output.len();
        let (id, call_id) = (new_id("fc"), new_id("call"));
        out += &self.ev(
            "response.output_item.added",
            json!({"output_index": i, "item": call_item(&id, &call_id, name, "", "in_progress")}),
        );
        self.open = Some(Open {
            kind: Kind::Call,
            id,
            text: String::new(),
            call: Some((name.to_string(), call_id)),
        });
        out
    }

    /// What the tool-call reader read of an answer as it streams: content
    /// into the message, each call as a function call item whose
    /// arguments stream as they are written.
    pub fn tool_deltas(&mut self, ds: Vec<Delta>) -> String {
        let mut out = String::new();
        for d in ds {
            match d {
                Delta::Content(t) => out += &self.piece(&Piece::Text(t)),
                Delta::Start { index, name } => {
                    self.calls_seen = self.calls_seen.max(index + 1);
                    if index < self.max_calls {
                        out += &self.start_call(&name);
                    }
                }
                Delta::Args { index, text } => {
                    let Some(o) = self.open.as_mut().filter(|o| o.kind == Kind::Call) else {
                        continue;
                    };
                    if index >= self.max_calls || index + 1 != self.calls_seen || text.is_empty() {
                        continue;
                    }
                    o.text.push_str(&text);
                    let id = o.id.clone();
                    let i = self.output.len();
                    out += &self.ev(
                        "response.function_call_arguments.delta",
                        json!({"item_id": id, "output_index": i, "delta": text}),
                    );
                }
            }
        }
        out
    }

    /// `response.completed` (or `response.incomplete`) with the final object.
    pub fn finish(&mut self, r: &Value) -> String {
        let kind = if r["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.ev(kind, json!({ "response": r }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Vec<Value> {
        s.split("\n\n")
            .filter(|b| !b.is_empty())
            .map(|b| {
                let (e, d) = b.split_once('\n').unwrap();
                let v: Value = serde_json::from_str(d.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(Some(v["type"].as_str().unwrap()), e.strip_prefix("event: "));
                v
            })
            .collect()
    }

    fn head() -> Head {
        let mut echo = serde_json::Map::new();
        echo.insert("store".into(), json!(true));
        Head {
            id: "resp_1".into(),
            created_at: 7,
            model: "m".into(),
            echo,
        }
    }

    #[test]
    fn typed_events_in_order_with_sequence_numbers() {
        let h = head();
        let mut ev = Events::new(true);
        let mut out = ev.created(&h);
        for p in [
            Piece::Thinking("hmm".into()),
            Piece::Text("Hel".into()),
            Piece::Text("lo".into()),
        ] {
            out += &ev.piece(&p);
        }
        out += &ev.tool_deltas(vec![
            Delta::Start {
                index: 0,
                name: "get".into(),
            },
            Delta::Args {
                index: 0,
                text: "{\"a\":".into(),
            },
            Delta::Args {
                index: 0,
                text: "1}".into(),
            },
        ]);
        out += &ev.close("completed");
        let r = response(&h, "completed", ev.output(), Some(usage(3, 0, 2)));
        out += &ev.finish(&r);
        let evs = parse(&out);
        let types: Vec<&str> = evs.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.content_part.done",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (i, v) in evs.iter().enumerate() {
            assert_eq!(v["sequence_number"], i);
        }
        assert_eq!(evs[16]["text"], "Hello");
        assert_eq!(evs[14]["output_index"], 1);
        assert_eq!(evs[22]["arguments"], "{\"a\":1}");
        let done = &evs[24]["response"];
        assert_eq!(done["output"][0]["summary"][0]["text"], "hmm");
        assert_eq!(done["output"][1]["content"][0]["text"], "Hello");
        assert!(done["output"][2]["call_id"]
            .as_str()
            .unwrap()
            .starts_with("call_"));
        assert_eq!(done["output"][2]["arguments"], "{\"a\":1}");
        assert_eq!(done["store"], true);
    }

    #[test]
    fn an_incomplete_response_says_why() {
        let h = head();
        let mut ev = Events::new(false);
        ev.piece(&Piece::Text("cut".into()));
        ev.close("incomplete");
        let r = response(&h, "incomplete", ev.output(), Some(usage(1, 0, 1)));
        assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(r["output"][0]["status"], "incomplete");
        assert!(ev.finish(&r).starts_with("event: response.incomplete\n"));
    }
}
