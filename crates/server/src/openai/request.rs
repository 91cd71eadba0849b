//! OpenAI request bodies and their checks: every field parsed, range-checked
//! and turned into a `GenerateRequest` (`plan`), with the checks that need
//! the model (`for_model`) and the chat messages (`chat_messages`).

use crate::error::ApiError;
use crate::models::KeepAlive;
use engine::{GenerateRequest, Message, Prompt, SamplingParams};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
pub struct Part {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Deserialize)]
pub struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    /// An assistant turn's function calls (OpenAI's shape).
    pub tool_calls: Option<Vec<Value>>,
    /// A `tool` turn: the call it answers.
    pub tool_call_id: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

#[derive(Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
}

/// Fields common to both endpoints (plus hearth's extensions `top_k`,
/// `min_p`, `repeat_penalty`, `keep_alive`).
#[derive(Deserialize, Default)]
pub struct Common {
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<usize>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub n: Option<usize>,
    #[serde(default)]
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
    pub stop: Option<OneOrMany>,
    pub seed: Option<i64>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub response_format: Option<ResponseFormat>,
    pub keep_alive: Option<Value>,
    /// OpenAI's `{"token id": bias}`, bias in -100..=100.
    pub logit_bias: Option<std::collections::HashMap<String, f32>>,
    /// llama.cpp server's / vLLM's extension: never end on an
    /// end-of-generation token (run to `max_tokens` or the context's end).
    #[serde(default)]
    pub ignore_eos: bool,
}

#[derive(Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<ChatMessage>,
    /// Function definitions (rendered by templates that take `tools`).
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    #[serde(default)]
    pub logprobs: bool,
    pub top_logprobs: Option<usize>,
    #[serde(flatten)]
    pub common: Common,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum CompletionPrompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
}

#[derive(Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: CompletionPrompt,
    pub logprobs: Option<usize>,
    #[serde(default)]
    pub echo: bool,
    #[serde(flatten)]
    pub common: Common,
}

pub(super) struct Plan {
    pub(super) req: GenerateRequest,
    pub(super) n: usize,
    pub(super) json: bool,
    pub(super) keep_alive: Option<KeepAlive>,
    /// The function definitions rendered: the answer is read for calls of them.
    pub(super) tools: Option<Value>,
}

pub(super) fn plan(c: &Common, default_max: Option<usize>) -> Result<Plan, ApiError> {
    let mut s = SamplingParams::default();
    if let Some(t) = c.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::bad(
                "temperature",
                format!("temperature must be between 0 and 2, got {t}"),
            ));
        }
        s.temperature = t;
    }
    if let Some(p) = c.top_p {
        s.top_p = p;
    }
    if let Some(k) = c.top_k {
        s.top_k = k;
    }
    if let Some(p) = c.min_p {
        s.min_p = p;
    }
    if let Some(r) = c.repeat_penalty {
        s.repeat_penalty = r;
    }
    if let Some(p) = c.presence_penalty {
        s.presence_penalty = p;
    }
    if let Some(p) = c.frequency_penalty {
        s.frequency_penalty = p;
    }
    if let Some(seed) = c.seed {
        s.seed = seed as u64;
    }
    for (k, &b) in c.logit_bias.iter().flatten() {
        let Ok(id) = k.trim().parse::<u32>() else {
            return Err(ApiError::bad("logit_bias", format!("logit_bias keys are token ids (as strings, e.g. \"50256\"), got {k:?}")));
        };
        if !(-100.0..=100.0).contains(&b) {
            return Err(ApiError::bad("logit_bias", format!("logit_bias values must be between -100 and 100, got {b} for token {id}")));
        }
        s.logit_bias.push((id, b));
    }
    s.logit_bias.sort_unstable_by_key(|&(id, _)| id);
    if let Err(sampler::SamplerError::InvalidParam {
        field,
        value,
        allowed,
    }) = s.validate()
    {
        return Err(ApiError::bad(
            field,
            format!("{field} is {value}; allowed: {allowed}"),
        ));
    }
    let max = match (c.max_completion_tokens, c.max_tokens) {
        (Some(m), _) => Some(("max_completion_tokens", m)),
        (None, Some(m)) => Some(("max_tokens", m)),
        _ => None,
    };
    let max_tokens = match max {
        Some((f, m)) if m < 1 => {
            return Err(ApiError::bad(f, format!("{f} must be at least 1, got {m}")))
        }
        Some((_, m)) => Some(m as usize),
        None => default_max,
    };
    let n = c.n.unwrap_or(1);
    if !(1..=16).contains(&n) {
        return Err(ApiError::bad(
            "n",
            format!("n must be between 1 and 16, got {n}"),
        ));
    }
    let stop = c.stop.as_ref().map(|s| match s {
        OneOrMany::One(x) => vec![x.clone()],
        OneOrMany::Many(v) => v.clone(),
    });
    let stop: Vec<String> = stop
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let json = match &c.response_format {
        None => false,
        Some(f) => match f.kind.as_str() {
            "text" => false,
            "json_object" | "json_schema" => true,
            other => return Err(ApiError::bad(
                "response_format.type",
                format!(
                    "response_format.type '{other}' is not supported; use 'text' or 'json_object'"
                ),
            )),
        },
    };
    let keep_alive = match &c.keep_alive {
        None => None,
        Some(v) => Some(KeepAlive::parse(v).map_err(|e| ApiError::bad("keep_alive", e))?),
    };
    let req = GenerateRequest {
        prompt: Prompt::Tokens(Vec::new()),
        max_tokens,
        sampling: s,
        stop,
    };
    Ok(Plan {
        req,
        n,
        json,
        keep_alive,
        tools: None,
    })
}

/// An assistant message's tool call as chat templates want it: the
/// `arguments` JSON string parsed to an object (templates print it with
/// `tojson`).
fn call_for_template(i: usize, j: usize, mut c: Value) -> Result<Value, ApiError> {
    let field = format!("messages[{i}].tool_calls[{j}]");
    let f = c.get_mut("function").ok_or_else(|| ApiError::bad(field.clone(), format!("{field}.function is missing")))?;
    if !f.get("name").is_some_and(Value::is_string) {
        return Err(ApiError::bad(field.clone(), format!("{field}.function.name must be a string")));
    }
    if let Some(Value::String(a)) = f.get("arguments") {
        let parsed: Value = serde_json::from_str(a)
            .map_err(|e| ApiError::bad(field.clone(), format!("{field}.function.arguments is not JSON: {e}")))?;
        f["arguments"] = parsed;
    }
    Ok(c)
}

/// The `tools` to render (None when there are none or `tool_choice` is
/// "none"), each checked to be a function with a name.
pub(super) fn tools(tools: Option<Vec<Value>>, choice: Option<&Value>) -> Result<Option<Value>, ApiError> {
    match choice {
        None => {}
        Some(Value::String(c)) if c == "auto" => {}
        Some(Value::String(c)) if c == "none" => return Ok(None),
        Some(other) => {
            return Err(ApiError::bad(
                "tool_choice",
                format!("tool_choice {other} is not supported: hearth lets the model decide (\"auto\") or renders no tools (\"none\")"),
            ))
        }
    }
    let Some(list) = tools.filter(|t| !t.is_empty()) else { return Ok(None) };
    for (i, t) in list.iter().enumerate() {
        let ok = t.get("type").and_then(Value::as_str) == Some("function")
            && t.get("function").and_then(|f| f.get("name")).is_some_and(Value::is_string);
        if !ok {
            return Err(ApiError::bad(format!("tools[{i}]"), format!("tools[{i}] must be {{\"type\": \"function\", \"function\": {{\"name\": ..., \"parameters\": ...}}}}")));
        }
    }
    Ok(Some(Value::Array(list)))
}

/// One tool call as OpenAI's `tool_calls` entry, from a `{"name": ...,
/// "arguments": ...}` object naming one of `names` (None otherwise).
fn call_from(v: &Value, names: &[&str], new_id: &impl Fn() -> String) -> Option<Value> {
    let name = v.get("name")?.as_str()?;
    if !names.contains(&name) {
        return None;
    }
    let args = match v.get("arguments").or_else(|| v.get("parameters")) {
        Some(Value::String(s)) => s.clone(),
        Some(a) => a.to_string(),
        None => "{}".to_string(),
    };
    Some(serde_json::json!({"id": new_id(), "type": "function", "function": {"name": name, "arguments": args}}))
}

/// The tool calls in a generated answer, as OpenAI's `tool_calls`: the
/// `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks the Qwen
/// 2.5 / Hermes templates ask for, or — small models often drop the tags — an
/// answer that is nothing but such objects (one per line, code fences
/// allowed). Only names of the request's tools count. The rest of the text is
/// the content (None when only calls remain); a block that does not parse
/// stays in the content.
pub(super) fn parse_tool_calls(text: &str, names: &[&str], new_id: impl Fn() -> String) -> (Option<String>, Vec<Value>) {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let (mut content, mut calls, mut rest) = (String::new(), Vec::new(), text);
    while let Some(a) = rest.find(OPEN) {
        content.push_str(&rest[..a]);
        let after = &rest[a + OPEN.len()..];
        let (body, used, next) = match after.find(CLOSE) {
            Some(b) => (&after[..b], &rest[a..a + OPEN.len() + b + CLOSE.len()], &after[b + CLOSE.len()..]),
            None => (after, &rest[a..], ""),
        };
        let v = engine::jsonfix::repair(body).and_then(|t| serde_json::from_str::<Value>(&t).ok());
        match v.and_then(|v| call_from(&v, names, &new_id)) {
            Some(c) => calls.push(c),
            None => content.push_str(used),
        }
        rest = next;
    }
    content.push_str(rest);
    if calls.is_empty() {
        let bare = content.trim().trim_start_matches("```json").trim_start_matches("```").trim_end_matches("```").trim();
        let found: Option<Vec<Value>> = bare
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str::<Value>(l.trim()).ok().and_then(|v| call_from(&v, names, &new_id)))
            .collect();
        let whole = serde_json::from_str::<Value>(bare).ok().and_then(|v| call_from(&v, names, &new_id));
        if let Some(c) = whole {
            return (None, vec![c]);
        }
        if let Some(cs) = found.filter(|c| !c.is_empty()) {
            return (None, cs);
        }
    }
    let content = content.trim();
    ((!content.is_empty() || calls.is_empty()).then(|| content.to_string()), calls)
}

/// The function names declared in `tools` (checked by [`tools`]).
pub(super) fn tool_names(tools: &Value) -> Vec<&str> {
    tools
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("function")?.get("name")?.as_str())
        .collect()
}

pub(super) fn chat_messages(msgs: Vec<ChatMessage>, json: bool) -> Result<Vec<Message>, ApiError> {
    if msgs.is_empty() {
        return Err(ApiError::bad(
            "messages",
            "messages must hold at least one message",
        ));
    }
    let mut out = Vec::with_capacity(msgs.len() + 1);
    for (i, m) in msgs.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "developer" => "system".to_string(),
            "system" | "user" | "assistant" | "tool" | "function" => m.role,
            other => {
                return Err(ApiError::bad(
                    format!("messages[{i}].role"),
                    format!("messages[{i}].role '{other}' is not one of system, developer, user, assistant, tool"),
                ))
            }
        };
        let content = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut s = String::new();
                for (j, p) in parts.into_iter().enumerate() {
                    match (p.kind.as_str(), p.text) {
                        ("text", Some(t)) => s.push_str(&t),
                        (k, _) => {
                            return Err(ApiError::bad(
                                format!("messages[{i}].content[{j}].type"),
                                format!("messages[{i}].content[{j}].type '{k}' is not supported (text only)"),
                            ))
                        }
                    }
                }
                s
            }
        };
        let tool_calls = match m.tool_calls {
            Some(calls) if role == "assistant" => Some(Value::Array(
                calls.into_iter().enumerate().map(|(j, c)| call_for_template(i, j, c)).collect::<Result<_, _>>()?,
            )),
            Some(_) => {
                return Err(ApiError::bad(format!("messages[{i}].tool_calls"), format!("messages[{i}].tool_calls belongs to assistant messages only")))
            }
            None => None,
        };
        out.push(Message { role, content, tool_calls, tool_call_id: m.tool_call_id });
    }
    if json {
        let hint = engine::jsonfix::HINT;
        match out.first_mut() {
            Some(m) if m.role == "system" => {
                m.content = format!("{}\n\n{hint}", m.content);
            }
            _ => out.insert(0, Message::system(hint)),
        }
    }
    Ok(out)
}

/// The checks and settings that need the model: `logit_bias` ids inside its
/// vocabulary, and `ignore_eos` as a ban on its end-of-generation tokens.
pub(super) fn for_model(p: &mut Plan, c: &Common, lm: &engine::LoadedModel) -> Result<(), ApiError> {
    let n_vocab = lm.model.config.n_vocab;
    if let Some(&(id, _)) = p.req.sampling.logit_bias.iter().find(|(id, _)| *id as usize >= n_vocab) {
        return Err(ApiError::bad("logit_bias", format!("logit_bias names token {id}, but this model's vocabulary has ids 0..{}", n_vocab - 1)));
    }
    if c.ignore_eos {
        let bias = &mut p.req.sampling.logit_bias;
        bias.extend(lm.tokenizer.eog_ids().iter().map(|&id| (id, f32::NEG_INFINITY)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_tool_calls;
    use serde_json::Value;

    fn parse(t: &str) -> (Option<String>, Vec<(String, Value)>) {
        let (c, calls) = parse_tool_calls(t, &["get_weather", "add"], || "call_1".into());
        let calls = calls
            .iter()
            .map(|c| {
                assert_eq!(c["type"], "function");
                assert_eq!(c["id"], "call_1");
                let args: Value = serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
                (c["function"]["name"].as_str().unwrap().to_string(), args)
            })
            .collect();
        (c, calls)
    }

    #[test]
    fn tool_calls_are_read_from_answers() {
        let (c, calls) = parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
        assert_eq!(c, None);
        assert_eq!(calls, vec![("get_weather".into(), serde_json::json!({"city": "Paris"}))]);
        // text around calls stays content; two calls; arguments given as a string
        let (c, calls) = parse("Let me check.\n<tool_call>{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>");
        assert_eq!(c.as_deref(), Some("Let me check."));
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0], ("add".into(), serde_json::json!({"a": 1})));
        // the tags dropped, as small models do; fenced too
        let (c, calls) = parse("{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}");
        assert_eq!((c, calls.len()), (None, 1));
        let (_, calls) = parse("```json\n{\"name\": \"add\", \"arguments\": {\"a\": 2}}\n```");
        assert_eq!(calls.len(), 1);
        // an unknown function, a plain answer, a broken block: content, no calls
        for t in ["{\"name\": \"rm_rf\", \"arguments\": {}}", "Paris is sunny.", "<tool_call>{not json</tool_call> ok"] {
            let (c, calls) = parse(t);
            assert!(calls.is_empty(), "{t}");
            assert_eq!(c.as_deref(), Some(t), "{t}");
        }
    }
}
