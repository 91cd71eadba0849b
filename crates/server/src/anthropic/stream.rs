//! Anthropic's server-sent events, in its order (docs.anthropic.com,
//! "Streaming Messages"): `message_start`, then per content block
//! `content_block_start`, `content_block_delta`s (`text_delta`,
//! `thinking_delta` then `signature_delta`, `input_json_delta`),
//! `content_block_stop`; then `message_delta` (`stop_reason`,
//! `stop_sequence`, usage) and `message_stop`. Each is `event: NAME` +
//! `data: JSON`.

use crate::answer::Piece;
use serde_json::{json, Value};

/// Reasoning is not signed by anyone here; clients that send thinking
/// blocks back get them ignored, whatever this says.
pub const SIGNATURE: &str = "hearth-local-unsigned";

/// Anthropic's `usage`: `input_tokens` are the prompt tokens computed,
/// `cache_read_input_tokens` those taken from a cache (their sum is what
/// `count_tokens` says).
pub fn usage(prompt: usize, cached: usize, output: usize) -> Value {
    json!({
        "input_tokens": prompt.saturating_sub(cached),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
        "output_tokens": output,
    })
}

/// A whole `message` object.
pub fn message(
    id: &str,
    model: &str,
    content: Vec<Value>,
    stop_reason: Option<&str>,
    stop_sequence: Option<&str>,
    usage: Value,
) -> Value {
    json!({
        "id": id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason, "stop_sequence": stop_sequence,
        "usage": usage,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Open {
    Text,
    Thinking,
    /// A `tool_use` block: the index of its call among the answer's calls.
    Tool(usize),
}

/// Builds the event stream of one message, live or from a finished one.
pub struct Events {
    index: usize,
    open: Option<Open>,
}

/// One event as SSE text.
pub fn sse(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

impl Events {
    /// `message_start` (the message without content, usage so far) and a `ping`.
    pub fn start(id: &str, model: &str, prompt_tokens: usize) -> (Events, String) {
        let m = message(id, model, vec![], None, None, usage(prompt_tokens, 0, 0));
        let out = sse(
            "message_start",
            &json!({"type": "message_start", "message": m}),
        ) + &sse("ping", &json!({"type": "ping"}));
        (
            Events {
                index: 0,
                open: None,
            },
            out,
        )
    }

    fn close(&mut self, out: &mut String) {
        if let Some(o) = self.open.take() {
            if o == Open::Thinking {
                out.push_str(&sse(
                    "content_block_delta",
                    &json!({"type": "content_block_delta", "index": self.index,
                        "delta": {"type": "signature_delta", "signature": SIGNATURE}}),
                ));
            }
            out.push_str(&sse(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    /// A piece of text or reasoning: into the open block of its kind, else
    /// a new block.
    pub fn piece(&mut self, p: &Piece) -> String {
        let mut out = String::new();
        let (kind, text) = match p {
            Piece::Text(t) => (Open::Text, t),
            Piece::Thinking(t) => (Open::Thinking, t),
        };
        if text.is_empty() {
            return out;
        }
        if self.open != Some(kind) {
            self.close(&mut out);
            let block = match kind {
                Open::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
                _ => json!({"type": "text", "text": ""}),
            };
            out.push_str(&sse(
                "content_block_start",
                &json!({"type": "content_block_start", "index": self.index, "content_block": block}),
            ));
            self.open = Some(kind);
        }
        let delta = match kind {
            Open::Thinking => json!({"type": "thinking_delta", "thinking": text}),
            _ => json!({"type": "text_delta", "text": text}),
        };
        out.push_str(&sse(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        ));
        out
    }

    /// A tool reader's pieces: content as text, each call as a `tool_use`
    /// block (id `toolu_…`) whose input streams as `input_json_delta`s.
    pub fn tool_deltas(&mut self, deltas: Vec<crate::tools::Delta>) -> String {
        use crate::tools::Delta;
        let mut out = String::new();
        for d in deltas {
            match d {
                Delta::Content(c) => out.push_str(&self.piece(&Piece::Text(c))),
                Delta::Start { index, name } => {
                    self.close(&mut out);
                    let id = crate::gen::new_id("toolu").replacen('-', "_", 1);
                    out.push_str(&sse(
                        "content_block_start",
                        &json!({"type": "content_block_start", "index": self.index,
                            "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
                    ));
                    self.open = Some(Open::Tool(index));
                }
                Delta::Args { index, text } => {
                    if self.open != Some(Open::Tool(index)) || text.is_empty() {
                        continue;
                    }
                    out.push_str(&sse(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": self.index,
                            "delta": {"type": "input_json_delta", "partial_json": text}}),
                    ));
                }
            }
        }
        out
    }

    /// A whole `tool_use` block (its input as one `input_json_delta`).
    pub fn tool_use(&mut self, id: &str, name: &str, input: &Value) -> String {
        let mut out = String::new();
        self.close(&mut out);
        out.push_str(&sse(
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}),
        ));
        out.push_str(&sse(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": self.index,
                "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        ));
        out.push_str(&sse(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": self.index}),
        ));
        self.index += 1;
        out
    }

    /// The last block's stop, `message_delta` and `message_stop`.
    pub fn finish(
        &mut self,
        stop_reason: &str,
        stop_sequence: Option<&str>,
        usage: Value,
    ) -> String {
        let mut out = String::new();
        self.close(&mut out);
        out.push_str(&sse(
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                "usage": usage}),
        ));
        out.push_str(&sse("message_stop", &json!({"type": "message_stop"})));
        out
    }

    /// A finished message as its whole event stream.
    pub fn replay(m: &Value, prompt_tokens: usize) -> String {
        let id = m["id"].as_str().unwrap_or("");
        let model = m["model"].as_str().unwrap_or("");
        let (mut ev, mut out) = Events::start(id, model, prompt_tokens);
        for b in m["content"].as_array().into_iter().flatten() {
            let s = |k: &str| b[k].as_str().unwrap_or("").to_string();
            out.push_str(&match b["type"].as_str() {
                Some("thinking") => ev.piece(&Piece::Thinking(s("thinking"))),
                Some("tool_use") => ev.tool_use(&s("id"), &s("name"), &b["input"]),
                _ => ev.piece(&Piece::Text(s("text"))),
            });
        }
        out.push_str(&ev.finish(
            m["stop_reason"].as_str().unwrap_or("end_turn"),
            m["stop_sequence"].as_str(),
            m["usage"].clone(),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (event name, data) pairs of an SSE text, each data's `type` equal to its name.
    fn parse(s: &str) -> Vec<(String, Value)> {
        s.split("\n\n")
            .filter(|b| !b.is_empty())
            .map(|b| {
                let (e, d) = b.split_once('\n').unwrap();
                let name = e.strip_prefix("event: ").unwrap().to_string();
                let v: Value = serde_json::from_str(d.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(v["type"], name.as_str());
                (name, v)
            })
            .collect()
    }

    #[test]
    fn the_event_sequence_is_anthropics() {
        let (mut ev, mut out) = Events::start("msg_1", "m", 12);
        for p in [
            Piece::Thinking("Let me".into()),
            Piece::Thinking(" think.".into()),
            Piece::Text("Hello".into()),
            Piece::Text(String::new()),
            Piece::Text(" there".into()),
        ] {
            out.push_str(&ev.piece(&p));
        }
        out.push_str(&ev.tool_use("toolu_1", "f", &json!({"a": 1})));
        out.push_str(&ev.finish("tool_use", None, usage(12, 4, 7)));
        let names: Vec<String> = parse(&out).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_delta", // signature_delta
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let ev = parse(&out);
        assert_eq!(ev[0].1["message"]["usage"]["input_tokens"], 12);
        assert_eq!(ev[2].1["content_block"]["type"], "thinking");
        assert_eq!(ev[5].1["delta"]["type"], "signature_delta");
        assert_eq!(
            (ev[7].1["index"].clone(), ev[9].1["delta"]["text"].clone()),
            (json!(1), json!(" there"))
        );
        assert_eq!(ev[12].1["delta"]["partial_json"], "{\"a\":1}");
        assert_eq!(ev[14].1["usage"]["input_tokens"], 8);
        assert_eq!(ev[14].1["usage"]["cache_read_input_tokens"], 4);
        assert_eq!(ev[14].1["delta"]["stop_reason"], "tool_use");
    }

    #[test]
    fn a_finished_message_replays_as_its_stream() {
        let m = message(
            "msg_2",
            "m",
            vec![
                json!({"type": "text", "text": "Sure."}),
                json!({"type": "tool_use", "id": "toolu_9", "name": "get", "input": {"x": "y"}}),
            ],
            Some("tool_use"),
            None,
            usage(5, 0, 3),
        );
        let ev = parse(&Events::replay(&m, 5));
        assert_eq!(ev.len(), 10);
        assert_eq!(ev[3].1["delta"]["text"], "Sure.");
        assert_eq!(ev[5].1["content_block"]["id"], "toolu_9");
        assert_eq!(ev[8].1["delta"]["stop_reason"], "tool_use");
    }
}
