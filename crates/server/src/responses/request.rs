//! OpenAI Responses request bodies (platform.openai.com, "Responses" API
//! reference) and their checks: `input` (a text, or items: messages,
//! `function_call`, `function_call_output`, `reasoning`) as the chat
//! template's messages, function `tools` / `tool_choice` as the shared
//! function-calling set, `text.format` and `reasoning` as the answer's
//! [`Wants`], the sampling fields as a `GenerateRequest`.

use crate::answer::{Schema, Wants};
use crate::defaults::Defaults;
use crate::error::ApiError;
use crate::models::KeepAlive;
use crate::tools::{self, ToolSet};
use engine::{GenerateRequest, Message, Prompt};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    Items(Vec<Value>),
}

#[derive(Deserialize)]
pub struct ResponsesRequest {
    pub model: String,
    pub input: Option<Input>,
    pub instructions: Option<String>,
    pub tools: Option<Vec<Value>>,
    pub tool_choice: Option<Value>,
    pub text: Option<Value>,
    pub reasoning: Option<Value>,
    #[serde(default)]
    pub stream: bool,
    pub store: Option<bool>,
    pub previous_response_id: Option<String>,
    pub max_output_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub parallel_tool_calls: Option<bool>,
    pub metadata: Option<Value>,
    pub user: Option<String>,
    pub truncation: Option<String>,
    pub background: Option<bool>,
    pub conversation: Option<Value>,
    /// hearth's extensions (as on the Chat Completions API).
    pub top_k: Option<usize>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub seed: Option<i64>,
    pub keep_alive: Option<Value>,
    /// hearth: most reasoning tokens before the answer is asked for (-1:
    /// no limit).
    pub thinking_budget: Option<i64>,
}

pub struct Plan {
    pub req: GenerateRequest,
    pub keep_alive: Option<KeepAlive>,
    pub tools: Option<ToolSet>,
    /// The request's `tools` as it sent them (echoed in the response).
    pub tools_echo: Value,
    pub tool_choice_echo: Value,
    pub one_call: bool,
    pub wants: Wants,
    /// `text.format` as echoed in the response.
    pub format_echo: Value,
    pub reasoning_echo: Value,
    /// The reasoning item gets a summary (`reasoning.summary` set).
    pub summary: bool,
    pub store: bool,
}

fn bad(field: impl Into<String>, msg: impl Into<String>) -> ApiError {
    ApiError::bad(field, msg)
}

pub fn plan(r: &ResponsesRequest, d: &Defaults) -> Result<Plan, ApiError> {
    if r.background == Some(true) {
        return Err(bad(
            "background",
            "background: hearth answers while you wait (or streams); leave background out",
        ));
    }
    if r.conversation.is_some() {
        return Err(bad(
            "conversation",
            "conversation: hearth keeps no conversation objects; chain responses with previous_response_id, or send the whole conversation as input",
        ));
    }
    let mut s = d.sampling();
    if let Some(t) = r.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(bad(
                "temperature",
                format!("temperature must be between 0 and 2, got {t}"),
            ));
        }
        s.temperature = t;
    }
    if let Some(p) = r.top_p {
        s.top_p = p;
    }
    if let Some(k) = r.top_k {
        s.top_k = k;
    }
    if let Some(p) = r.min_p {
        s.min_p = p;
    }
    if let Some(p) = r.repeat_penalty {
        s.repeat_penalty = p;
    }
    if let Some(p) = r.presence_penalty {
        s.presence_penalty = p;
    }
    if let Some(p) = r.frequency_penalty {
        s.frequency_penalty = p;
    }
    if let Some(x) = r.seed {
        s.seed = x as u64;
    }
    if let Err(engine::SamplerError::InvalidParam {
        field,
        value,
        allowed,
    }) = s.validate()
    {
        return Err(bad(
            field,
            format!("{field} is {value}; allowed: {allowed}"),
        ));
    }
    let max_tokens = match r.max_output_tokens {
        Some(m) if m < 1 => {
            return Err(bad(
                "max_output_tokens",
                format!("max_output_tokens must be at least 1, got {m}"),
            ))
        }
        Some(m) => Some(m as usize),
        None => d.max_tokens().unwrap_or(None),
    };
    let keep_alive = match &r.keep_alive {
        None => None,
        Some(v) => Some(KeepAlive::parse(v).map_err(|e| bad("keep_alive", e))?),
    };
    let mut wants = Wants::default();
    let (format_echo, schema) = text_format(r.text.as_ref())?;
    wants.schema = schema;
    let (reasoning_echo, summary) = match &r.reasoning {
        None | Some(Value::Null) => {
            wants.thinking = crate::structured::openai_thinking(None, None, r.thinking_budget)?;
            (json!({"effort": null, "summary": null}), false)
        }
        Some(v) => {
            let effort = v.get("effort").and_then(Value::as_str);
            if let Some(e) = effort {
                if !matches!(e, "none" | "minimal" | "low" | "medium" | "high" | "xhigh") {
                    return Err(bad(
                        "reasoning.effort",
                        format!("reasoning.effort must be none, minimal, low, medium, high or xhigh, got {e:?}"),
                    ));
                }
            }
            let summary = v
                .get("summary")
                .or_else(|| v.get("generate_summary"))
                .and_then(Value::as_str);
            if let Some(s) = summary {
                if !matches!(s, "auto" | "concise" | "detailed") {
                    return Err(bad(
                        "reasoning.summary",
                        format!("reasoning.summary must be auto, concise or detailed, got {s:?}"),
                    ));
                }
            }
            // a thinking model's template told the level where it takes one
            // (none: no reasoning); without an effort, the model's default
            let level = effort.map(|e| if e == "xhigh" { "high" } else { e });
            wants.thinking = crate::structured::openai_thinking(level, None, r.thinking_budget)?;
            (
                json!({"effort": effort, "summary": summary}),
                summary.is_some(),
            )
        }
    };
    let (tools, tools_echo) = tool_set(r)?;
    if tools.is_some() && wants.schema.is_some() {
        return Err(bad(
            "text.format",
            "text.format json cannot be combined with tools; ask for one or the other",
        ));
    }
    Ok(Plan {
        req: GenerateRequest {
            prompt: Prompt::Tokens(Vec::new()),
            max_tokens,
            sampling: s,
            stop: d.stop(Vec::new()),
            ..Default::default()
        },
        keep_alive,
        tools,
        tools_echo,
        tool_choice_echo: r.tool_choice.clone().unwrap_or_else(|| json!("auto")),
        one_call: r.parallel_tool_calls == Some(false),
        wants,
        format_echo,
        reasoning_echo,
        summary,
        store: r.store.unwrap_or(true),
    })
}

/// `text.format`: `text` (default), `json_object`, or `json_schema` with
/// `name`, `schema`, `strict`, `description`.
fn text_format(text: Option<&Value>) -> Result<(Value, Option<Schema>), ApiError> {
    let Some(f) = text.and_then(|t| t.get("format")).filter(|f| !f.is_null()) else {
        return Ok((json!({"type": "text"}), None));
    };
    match f.get("type").and_then(Value::as_str) {
        Some("text") => Ok((f.clone(), None)),
        Some("json_object") => Ok((f.clone(), Some(Schema::default()))),
        Some("json_schema") => {
            let schema = f.get("schema").cloned();
            if !schema.as_ref().is_some_and(Value::is_object) {
                return Err(bad(
                    "text.format.schema",
                    "text.format.schema: a JSON schema object is required with type json_schema",
                ));
            }
            let s = Schema {
                description: f
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                schema,
            };
            Ok((f.clone(), Some(s)))
        }
        other => Err(bad(
            "text.format.type",
            format!(
                "text.format.type must be text, json_object or json_schema, got {}",
                other.map_or("nothing".into(), |o| format!("{o:?}"))
            ),
        )),
    }
}

/// Function tools (`{"type": "function", "name", "description",
/// "parameters"}`) in the Chat Completions shape the templates render, and
/// `tool_choice` (`auto`, `none`, `required`, `{"type": "function", "name"}`).
fn tool_set(r: &ResponsesRequest) -> Result<(Option<ToolSet>, Value), ApiError> {
    let mut list = Vec::new();
    for (i, t) in r.tools.iter().flatten().enumerate() {
        let kind = t.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "function" {
            return Err(bad(
                format!("tools[{i}].type"),
                format!("tools[{i}]: {kind:?} tools run at OpenAI; hearth takes function tools ({{\"type\": \"function\", \"name\", \"parameters\"}})"),
            ));
        }
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            return Err(bad(
                format!("tools[{i}].name"),
                format!("tools[{i}].name: missing (a function tool needs a name)"),
            ));
        };
        let mut f = json!({"name": name,
            "parameters": t.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}))});
        if let Some(d) = t.get("description") {
            f["description"] = d.clone();
        }
        // a strict function's arguments follow its parameters schema (no
        // key: strict where the schema can be enforced, `strict_by_default`)
        if let Some(x) = t.get("strict") {
            f["strict"] = x.clone();
        }
        list.push(json!({"type": "function", "function": f}));
    }
    let choice = match &r.tool_choice {
        None => None,
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
            match o.get("name").and_then(Value::as_str) {
                Some(n) => Some(json!({"type": "function", "function": {"name": n}})),
                None => {
                    return Err(bad(
                        "tool_choice.name",
                        "tool_choice.name: missing (the function to call)",
                    ))
                }
            }
        }
        Some(v @ Value::String(_)) => Some(v.clone()),
        Some(other) => {
            return Err(bad(
                "tool_choice",
                format!("tool_choice must be \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"name\": ...}}, got {other}"),
            ))
        }
    };
    let echo = Value::Array(r.tools.clone().unwrap_or_default());
    let list = (!list.is_empty()).then_some(list);
    let mut set = tools::tools(list, choice.as_ref()).map_err(|mut e| {
        e.message = e.message.replace(
            "{\"type\": \"function\", \"function\": {\"name\": ...}}",
            "{\"type\": \"function\", \"name\": ...}",
        );
        e
    })?;
    // OpenAI's Responses API: `strict` defaults to true (a function without
    // the key is strict where its schema can be enforced)
    if let Some(t) = &mut set {
        t.strict_by_default = true;
    }
    Ok((set, echo))
}

/// A message item's text: a string, or its `input_text` / `output_text`
/// parts.
fn item_text(at: &str, c: Option<&Value>) -> Result<String, ApiError> {
    match c {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (j, p) in parts.iter().enumerate() {
                let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
                match (kind, p.get("text").and_then(Value::as_str)) {
                    ("input_text" | "output_text" | "text" | "summary_text", Some(t)) => {
                        out.push_str(t)
                    }
                    ("refusal", _) => {
                        out.push_str(p.get("refusal").and_then(Value::as_str).unwrap_or(""))
                    }
                    _ => {
                        return Err(bad(
                            format!("{at}.content[{j}].type"),
                            format!("{at}.content[{j}]: {kind:?} parts are not supported by hearth's models (text only)"),
                        ))
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(bad(
            format!("{at}.content"),
            format!("{at}.content must be a text or a list of parts, got {other}"),
        )),
    }
}

/// The `input` as messages, after `prior` (a previous response's
/// conversation). Consecutive `function_call` items make one assistant
/// turn; a `function_call_output` is a `tool` turn.
pub fn input_messages(
    input: Option<&Input>,
    prior: Vec<Message>,
) -> Result<Vec<Message>, ApiError> {
    let mut out = prior;
    let items = match input {
        None => {
            return Err(bad(
                "input",
                "input: missing (a text, or a list of input items)",
            ))
        }
        Some(Input::Text(t)) => {
            out.push(Message::user(t.clone()));
            return Ok(out);
        }
        Some(Input::Items(items)) => items,
    };
    for (i, it) in items.iter().enumerate() {
        let at = format!("input[{i}]");
        let kind = it.get("type").and_then(Value::as_str);
        match kind {
            None | Some("message") => {
                let role = it.get("role").and_then(Value::as_str).unwrap_or("");
                let role = match role {
                    "developer" | "system" => "system",
                    "user" | "assistant" => role,
                    other => {
                        return Err(bad(
                            format!("{at}.role"),
                            format!("{at}.role must be user, assistant, system or developer, got {other:?}"),
                        ))
                    }
                };
                out.push(Message::new(role, item_text(&at, it.get("content"))?));
            }
            Some("function_call") => {
                let (Some(id), Some(name)) = (
                    it.get("call_id").and_then(Value::as_str),
                    it.get("name").and_then(Value::as_str),
                ) else {
                    return Err(bad(
                        at.clone(),
                        format!("{at}: a function_call item needs call_id and name"),
                    ));
                };
                let args = it
                    .get("arguments")
                    .cloned()
                    .unwrap_or_else(|| json!("{}"));
                let call = tools::call_for_template(
                    &at,
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}),
                )?;
                match out.last_mut() {
                    Some(m) if m.role == "assistant" && m.tool_calls.is_some() => {
                        if let Some(Value::Array(a)) = &mut m.tool_calls {
                            a.push(call);
                        }
                    }
                    _ => out.push(Message {
                        role: "assistant".into(),
                        tool_calls: Some(Value::Array(vec![call])),
                        ..Default::default()
                    }),
                }
            }
            Some("function_call_output") => {
                let Some(id) = it.get("call_id").and_then(Value::as_str) else {
                    return Err(bad(
                        format!("{at}.call_id"),
                        format!("{at}.call_id: missing (the call this is the output of)"),
                    ));
                };
                let content = match it.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    o => item_text(&format!("{at}.output"), o)?,
                };
                out.push(Message {
                    role: "tool".into(),
                    content,
                    tool_call_id: Some(id.to_string()),
                    ..Default::default()
                });
            }
            // earlier reasoning is not fed back (reasoning models' templates drop it)
            Some("reasoning") => {}
            Some("item_reference") => {
                return Err(bad(
                    format!("{at}.type"),
                    format!("{at}: item_reference is not supported; send the item itself, or chain with previous_response_id"),
                ))
            }
            Some(other) => {
                return Err(bad(
                    format!("{at}.type"),
                    format!("{at}: {other:?} items are not supported by hearth (messages, function_call, function_call_output, reasoning)"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> ResponsesRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn input_items_become_template_messages() {
        let r = req(json!({"model": "m", "input": [
            {"role": "developer", "content": "Be terse."},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"},
            {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ]}));
        let m = input_messages(r.input.as_ref(), vec![Message::user("earlier")]).unwrap();
        let roles: Vec<_> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "system", "user", "assistant", "tool"]);
        let calls = m[3].tool_calls.as_ref().unwrap().as_array().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["function"]["arguments"]["city"], "Paris");
        assert_eq!(m[4].tool_call_id.as_deref(), Some("call_1"));
        let m = input_messages(Some(&Input::Text("hi".into())), vec![]).unwrap();
        assert_eq!((m.len(), m[0].role.as_str()), (1, "user"));
    }

    #[test]
    fn bad_requests_name_the_field() {
        let base = json!({"model": "m", "input": "hi"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            req(b)
        };
        for (r, field) in [
            (with("temperature", json!(3)), "temperature"),
            (with("max_output_tokens", json!(0)), "max_output_tokens"),
            (
                with("tools", json!([{"type": "web_search"}])),
                "tools[0].type",
            ),
            (
                with("tools", json!([{"type": "function"}])),
                "tools[0].name",
            ),
            (
                with("tool_choice", json!({"type": "function"})),
                "tool_choice.name",
            ),
            (
                with("text", json!({"format": {"type": "xml"}})),
                "text.format.type",
            ),
            (
                with(
                    "text",
                    json!({"format": {"type": "json_schema", "name": "x"}}),
                ),
                "text.format.schema",
            ),
            (
                with("reasoning", json!({"effort": "extreme"})),
                "reasoning.effort",
            ),
            (with("background", json!(true)), "background"),
        ] {
            let e = plan(&r, &Defaults::default()).err().expect(field);
            assert_eq!(e.param.as_deref(), Some(field), "{}", e.message);
        }
        let bad_item = req(json!({"model": "m", "input": [{"type": "input_image"}]}));
        let e = input_messages(bad_item.input.as_ref(), vec![]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].type"));
        let p = plan(
            &with(
                "text",
                json!({"format": {"type": "json_schema", "name": "cat", "strict": true,
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}}}}),
            ),
            &Defaults::default(),
        )
        .unwrap();
        let s = p.wants.schema.unwrap();
        assert_eq!(s.schema.unwrap()["properties"]["name"]["type"], "string");
        // reasoning.effort: none turns a thinking template's reasoning off
        // (and gives it no tokens); a level is passed to the template
        let none = plan(
            &with("reasoning", json!({"effort": "none"})),
            &Defaults::default(),
        );
        let t = none.unwrap().wants.thinking;
        assert_eq!(
            (t.kwargs["enable_thinking"].clone(), t.budget),
            (json!(false), Some(0))
        );
        let high = plan(
            &with("reasoning", json!({"effort": "xhigh"})),
            &Defaults::default(),
        );
        let t = high.unwrap().wants.thinking;
        assert_eq!(t.kwargs["reasoning_effort"], "high");
        let p = plan(
            &with(
                "tools",
                json!([{"type": "function", "name": "f", "parameters": {"type": "object"}}]),
            ),
            &Defaults::default(),
        )
        .unwrap();
        assert_eq!(p.tools.unwrap().list[0]["function"]["name"], "f");
    }
}
