//! Anthropic Messages request bodies (docs.anthropic.com, "Messages" API
//! reference) and their checks: the conversation (text, `tool_use`,
//! `tool_result` and `thinking` blocks) as the chat template's messages,
//! `tools` / `tool_choice` as the shared function-calling set, the sampling
//! fields as a `GenerateRequest`.

use crate::answer::Wants;
use crate::defaults::Defaults;
use crate::error::ApiError;
use crate::models::KeepAlive;
use crate::tools::{self, ToolSet};
use engine::{GenerateRequest, Message, Prompt};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Text {
    One(String),
    Blocks(Vec<Value>),
}

#[derive(Deserialize)]
pub struct AMessage {
    pub role: String,
    pub content: Text,
}

/// `POST /v1/messages` (and, without `max_tokens`, `/count_tokens`).
#[derive(Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<AMessage>,
    pub max_tokens: Option<i64>,
    pub system: Option<Text>,
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub stream: bool,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i64>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub thinking: Option<Value>,
    /// hearth's extensions (as on the OpenAI API).
    pub seed: Option<i64>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub keep_alive: Option<Value>,
}

/// The request as the generation path takes it.
pub struct Plan {
    pub req: GenerateRequest,
    pub keep_alive: Option<KeepAlive>,
    pub tools: Option<ToolSet>,
    /// Only the first call counts (`tool_choice.disable_parallel_tool_use`).
    pub one_call: bool,
    pub wants: Wants,
}

/// The texts of `blocks` (only `text` blocks), for `system` and tool results.
fn texts(field: &str, t: &Text) -> Result<String, ApiError> {
    match t {
        Text::One(s) => Ok(s.clone()),
        Text::Blocks(bs) => {
            let mut out = Vec::new();
            for (j, b) in bs.iter().enumerate() {
                match (b.get("type").and_then(Value::as_str), b.get("text")) {
                    (Some("text"), Some(Value::String(s))) => out.push(s.as_str()),
                    (k, _) => {
                        return Err(ApiError::bad(
                            format!("{field}[{j}]"),
                            format!(
                                "{field}[{j}]: a {} block is not supported here (text blocks only)",
                                k.unwrap_or("typeless")
                            ),
                        ))
                    }
                }
            }
            Ok(out.join("\n"))
        }
    }
}

/// The sampling fields, checked with Anthropic's ranges.
pub fn plan(r: &MessagesRequest, d: &Defaults, count_only: bool) -> Result<Plan, ApiError> {
    let max_tokens = match r.max_tokens {
        Some(m) if m < 1 => {
            return Err(ApiError::bad(
                "max_tokens",
                format!("max_tokens must be at least 1, got {m}"),
            ))
        }
        Some(m) => Some(m as usize),
        None if count_only => None,
        None => {
            return Err(ApiError::bad(
                "max_tokens",
                "max_tokens: Field required (the most tokens to generate)",
            ))
        }
    };
    let mut s = d.sampling();
    if let Some(t) = r.temperature {
        if !(0.0..=1.0).contains(&t) {
            return Err(ApiError::bad(
                "temperature",
                format!("temperature must be between 0 and 1, got {t}"),
            ));
        }
        s.temperature = t;
    }
    if let Some(p) = r.top_p {
        s.top_p = p;
    }
    if let Some(k) = r.top_k {
        if k < 0 {
            return Err(ApiError::bad(
                "top_k",
                format!("top_k must be at least 0, got {k}"),
            ));
        }
        s.top_k = k as usize;
    }
    if let Some(p) = r.min_p {
        s.min_p = p;
    }
    if let Some(p) = r.repeat_penalty {
        s.repeat_penalty = p;
    }
    if let Some(seed) = r.seed {
        s.seed = seed as u64;
    }
    if let Err(engine::SamplerError::InvalidParam {
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
    let stop = d.stop(
        r.stop_sequences
            .iter()
            .flatten()
            .filter(|x| !x.is_empty())
            .cloned()
            .collect(),
    );
    let keep_alive = match &r.keep_alive {
        None => None,
        Some(v) => Some(KeepAlive::parse(v).map_err(|e| ApiError::bad("keep_alive", e))?),
    };
    // Anthropic's models think only when asked: without `thinking` (or
    // with it disabled) a thinking model's template is told not to, and its
    // reasoning gets no tokens
    let mut wants = Wants::default();
    let on = match &r.thinking {
        None => false,
        Some(t) => match t.get("type").and_then(Value::as_str) {
            Some("disabled") => false,
            Some("enabled") => {
                let budget = t.get("budget_tokens").and_then(Value::as_u64);
                let Some(b) = budget.filter(|&b| b >= 1) else {
                    return Err(ApiError::bad(
                        "thinking.budget_tokens",
                        "thinking.budget_tokens: a number of tokens >= 1 is required with thinking enabled",
                    ));
                };
                if max_tokens.is_some_and(|m| b as usize >= m) {
                    return Err(ApiError::bad(
                        "thinking.budget_tokens",
                        format!("thinking.budget_tokens ({b}) must be less than max_tokens"),
                    ));
                }
                wants.thinking.budget = Some(b as usize);
                true
            }
            Some("adaptive") => true,
            _ => {
                return Err(ApiError::bad(
                    "thinking.type",
                    format!(
                        "thinking.type must be \"enabled\", \"disabled\" or \"adaptive\", got {}",
                        t.get("type").unwrap_or(&Value::Null)
                    ),
                ))
            }
        },
    };
    wants.thinking = if on {
        crate::structured::Thinking::on(wants.thinking.budget)
    } else {
        crate::structured::Thinking::none()
    };
    let (tools, one_call) = tool_set(r)?;
    Ok(Plan {
        req: GenerateRequest {
            prompt: Prompt::Tokens(Vec::new()),
            max_tokens,
            sampling: s,
            stop,
            ..Default::default()
        },
        keep_alive,
        tools,
        one_call,
        wants,
    })
}

/// Anthropic's `tools` (`{name, description, input_schema}`) as the OpenAI
/// function shape the templates render, and `tool_choice` (`auto`, `any`,
/// `tool` + `name`, `none`) as the shared forcing.
fn tool_set(r: &MessagesRequest) -> Result<(Option<ToolSet>, bool), ApiError> {
    let mut list = Vec::new();
    for (i, t) in r.tools.iter().flatten().enumerate() {
        let kind = t.get("type").and_then(Value::as_str);
        if kind.is_some_and(|k| k != "custom") {
            return Err(ApiError::bad(
                format!("tools[{i}].type"),
                format!(
                    "tools[{i}]: {} is one of Anthropic's server tools, which run at Anthropic; hearth runs client tools only ({{\"name\", \"description\", \"input_schema\"}})",
                    kind.unwrap_or("")
                ),
            ));
        }
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(ApiError::bad(
                format!("tools[{i}].name"),
                format!("tools[{i}].name: Field required"),
            ));
        };
        let schema = t
            .get("input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        let mut f = json!({"name": name, "parameters": schema});
        if let Some(d) = t.get("description") {
            f["description"] = d.clone();
        }
        // `strict: true`: the call's input follows input_schema
        if let Some(x) = t.get("strict") {
            f["strict"] = x.clone();
        }
        list.push(json!({"type": "function", "function": f}));
    }
    let (choice, one) = match &r.tool_choice {
        None => (None, false),
        Some(c) => {
            let one = c
                .get("disable_parallel_tool_use")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let choice = match c.get("type").and_then(Value::as_str) {
                Some("auto") => json!("auto"),
                Some("any") => json!("required"),
                Some("none") => json!("none"),
                Some("tool") => match c.get("name").and_then(Value::as_str) {
                    Some(n) => json!({"type": "function", "function": {"name": n}}),
                    None => {
                        return Err(ApiError::bad(
                            "tool_choice.name",
                            "tool_choice.name: Field required with type \"tool\"",
                        ))
                    }
                },
                _ => {
                    return Err(ApiError::bad(
                        "tool_choice.type",
                        format!(
                        "tool_choice.type must be \"auto\", \"any\", \"tool\" or \"none\", got {}",
                        c.get("type").unwrap_or(&Value::Null)
                    ),
                    ))
                }
            };
            (Some(choice), one)
        }
    };
    let list = (!list.is_empty()).then_some(list);
    let set = tools::tools(list, choice.as_ref()).map_err(|mut e| {
        // the shared checks speak OpenAI's shapes; say it in Anthropic's
        e.message = e
            .message
            .replace("\"required\"", "{\"type\": \"any\"}")
            .replace(
                "{\"type\": \"function\", \"function\": {\"name\": ...}}",
                "{\"type\": \"tool\", \"name\": ...}",
            );
        e
    })?;
    Ok((set, one))
}

/// The conversation as the template's messages, the request's system text
/// first (else the model's), and a final assistant message's text apart: the
/// start of the answer the model continues (Anthropic's "prefill").
pub fn conversation(
    r: &MessagesRequest,
    d: &Defaults,
) -> Result<(Vec<Message>, Option<String>), ApiError> {
    if r.messages.is_empty() {
        return Err(ApiError::bad(
            "messages",
            "messages: at least one message is required",
        ));
    }
    let mut out = Vec::new();
    if let Some(s) = &r.system {
        let s = texts("system", s)?;
        if !s.is_empty() {
            out.push(Message::system(s));
        }
    }
    for (i, m) in r.messages.iter().enumerate() {
        let role = m.role.as_str();
        if !matches!(role, "user" | "assistant") {
            return Err(ApiError::bad(
                format!("messages[{i}].role"),
                format!("messages[{i}].role must be \"user\" or \"assistant\", got {role:?}"),
            ));
        }
        let blocks = match &m.content {
            Text::One(s) => {
                out.push(Message::new(role, s.clone()));
                continue;
            }
            Text::Blocks(b) => b,
        };
        let mut text = String::new();
        let mut calls = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let at = format!("messages[{i}].content[{j}]");
            let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
            match (role, kind) {
                (_, "text") => {
                    let t = b.get("text").and_then(Value::as_str).ok_or_else(|| {
                        ApiError::bad(format!("{at}.text"), format!("{at}.text: Field required"))
                    })?;
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(t);
                }
                ("assistant", "tool_use") => {
                    let (Some(id), Some(name)) = (
                        b.get("id").and_then(Value::as_str),
                        b.get("name").and_then(Value::as_str),
                    ) else {
                        return Err(ApiError::bad(
                            at.clone(),
                            format!("{at}: a tool_use block needs id and name"),
                        ));
                    };
                    let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                    calls.push(json!({"id": id, "type": "function",
                        "function": {"name": name, "arguments": input}}));
                }
                ("user", "tool_result") => {
                    let id = b
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            ApiError::bad(
                                format!("{at}.tool_use_id"),
                                format!("{at}.tool_use_id: Field required"),
                            )
                        })?;
                    let mut content = match b.get("content") {
                        None | Some(Value::Null) => String::new(),
                        Some(c) => {
                            let t: Text = serde_json::from_value(c.clone()).map_err(|_| {
                                ApiError::bad(
                                    format!("{at}.content"),
                                    format!("{at}.content must be a text or a list of text blocks"),
                                )
                            })?;
                            texts(&format!("{at}.content"), &t)?
                        }
                    };
                    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                        content = format!("Error: {content}");
                    }
                    // the results come before the user's words that follow them
                    if !text.is_empty() {
                        out.push(Message::user(std::mem::take(&mut text)));
                    }
                    out.push(Message {
                        role: "tool".into(),
                        content,
                        tool_call_id: Some(id.to_string()),
                        ..Default::default()
                    });
                }
                // earlier reasoning is not fed back (reasoning models' templates drop it)
                ("assistant", "thinking" | "redacted_thinking") => {}
                (_, "image" | "document" | "search_result" | "container_upload") => {
                    return Err(ApiError::bad(
                        format!("{at}.type"),
                        format!(
                            "{at}: {kind} blocks are not supported by hearth's models (text only)"
                        ),
                    ))
                }
                _ => {
                    return Err(ApiError::bad(
                        format!("{at}.type"),
                        format!("{at}: a {kind:?} block does not belong in a {role} message"),
                    ))
                }
            }
        }
        let ends_with_tool = out.last().is_some_and(|m: &Message| m.role == "tool");
        if !(text.is_empty() && calls.is_empty() && ends_with_tool) {
            out.push(Message {
                role: role.into(),
                content: text,
                tool_calls: (!calls.is_empty()).then_some(Value::Array(calls)),
                ..Default::default()
            });
        }
    }
    d.apply_chat(&mut out);
    // a last assistant message of plain text is the start of the answer
    let prefill = match out.last() {
        Some(m) if m.role == "assistant" && m.tool_calls.is_none() => out.pop().map(|m| m.content),
        _ => None,
    };
    Ok((out, prefill.filter(|p| !p.is_empty())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> MessagesRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn blocks_become_template_messages() {
        let r = req(json!({
            "model": "m", "max_tokens": 10, "system": [{"type": "text", "text": "Be terse."}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18C"}]},
                    {"type": "text", "text": "Thanks"}]},
                {"role": "assistant", "content": "It is"}
            ]
        }));
        let (m, prefill) = conversation(&r, &Defaults::default()).unwrap();
        let roles: Vec<_> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(m[2].content, "Checking.");
        assert_eq!(
            m[2].tool_calls.as_ref().unwrap()[0]["function"]["arguments"]["city"],
            "Paris"
        );
        assert_eq!(
            (m[3].content.as_str(), m[3].tool_call_id.as_deref()),
            ("18C", Some("toolu_1"))
        );
        assert_eq!(m[4].content, "Thanks");
        assert_eq!(prefill.as_deref(), Some("It is"));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let base = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            req(b)
        };
        for (r, needle) in [
            (with("temperature", json!(1.5)), "temperature"),
            (with("max_tokens", json!(0)), "max_tokens"),
            (
                with("thinking", json!({"type": "enabled"})),
                "budget_tokens",
            ),
            (
                with("thinking", json!({"type": "enabled", "budget_tokens": 50})),
                "less than max_tokens",
            ),
            (
                with(
                    "tools",
                    json!([{"type": "web_search_20250305", "name": "web_search"}]),
                ),
                "server tools",
            ),
            (
                with("tool_choice", json!({"type": "any"})),
                "declares no tools",
            ),
            (
                with("tool_choice", json!({"type": "sometimes"})),
                "tool_choice.type",
            ),
        ] {
            let e = plan(&r, &Defaults::default(), false).err().expect(needle);
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
        let mut no_max = base.clone();
        no_max.as_object_mut().unwrap().remove("max_tokens");
        assert!(plan(&req(no_max.clone()), &Defaults::default(), false).is_err());
        assert!(plan(&req(no_max), &Defaults::default(), true).is_ok());
        let img = req(
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}),
        );
        let e = conversation(&img, &Defaults::default()).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0].type"));
        let p = plan(
            &with(
                "tools",
                json!([{"name": "f", "input_schema": {"type": "object"}}]),
            ),
            &Defaults::default(),
            false,
        )
        .unwrap();
        assert_eq!(p.tools.unwrap().list[0]["function"]["name"], "f");
    }
}
