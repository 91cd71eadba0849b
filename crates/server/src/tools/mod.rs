//! Function calling, shared by the OpenAI and Ollama APIs: the `tools` a
//! request declares (checked, rendered by chat templates that take them), the
//! calls of earlier assistant turns as templates want them, and the calls read
//! back from a generated answer.

pub mod formats;
mod strict;

use crate::error::ApiError;
use crate::gen;
use crate::models::Lease;
use engine::Message;
pub use formats::{Delta, ToolFormat, ToolStream};
use serde_json::Value;

/// The prompt tokens of `messages` rendered by the model's chat template,
/// with `kwargs` as extra template variables (`enable_thinking`,
/// `reasoning_effort`, …) and `tools` (a 400 naming `tools` when the
/// template takes none), and the start of the answer a forcing
/// `tool_choice` writes for the model: the prompt ends with it, so the model
/// continues a call (of the named function, or of one it picks) instead of
/// deciding whether to make one. The answer is read for calls with that
/// start put back in front ([`ToolSet::answer`]). The template (the file's)
/// is rendered and the text tokenized off the runtime, cancelled with the
/// request.
pub async fn chat_prompt(
    lease: &Lease,
    messages: &[Message],
    tools: Option<&ToolSet>,
    kwargs: &serde_json::Map<String, Value>,
) -> Result<Prompted, ApiError> {
    let lm = lease.slot.lm.clone();
    let tpl = lm.template.as_ref().map_err(|e| {
        let e = engine::EngineError::NoTemplate(e.clone());
        crate::error::from_engine(&e)
    })?;
    if tools.is_some() && !tpl.supports_tools() {
        return Err(ApiError::bad(
            "tools",
            format!(
                "tools: the chat template of {} has no function calling; leave tools out",
                lease.slot.name
            ),
        ));
    }
    let format = ToolFormat::from_template(tpl.source());
    let strict = match tools {
        Some(t) => t.strict_grammar(format, &lm)?,
        None => None,
    };
    let prefix = match tools.map(|t| &t.force) {
        // a strict call's grammar writes the opening itself
        _ if strict.is_some() => String::new(),
        None | Some(Force::Auto) => String::new(),
        Some(Force::Required) => format.forced_prefix(None).unwrap_or_default(),
        Some(Force::Named(n)) => format.forced_prefix(Some(n)).unwrap_or_default(),
    };
    let (lm2, msgs, list, kw, pre) = (
        lm.clone(),
        messages.to_vec(),
        tools.map(|t| t.list.clone()),
        kwargs.clone(),
        prefix.clone(),
    );
    let ids = gen::off_runtime(move |cancel| {
        let tpl = lm2.template.as_ref().expect("checked above");
        let opts = engine::RenderOptions {
            add_generation_prompt: true,
            tools: list.as_ref(),
            kwargs: (!kw.is_empty()).then_some(&kw),
            now: None,
        };
        tpl.render_with_cancel(&msgs, &opts, cancel)
            .map(|mut rendered| {
                // template-authored text (outside every message's content range)
                rendered.text.push_str(&pre);
                lm2.tokenizer.encode_chat(&rendered)
            })
    })
    .await?
    .map_err(|e| {
        if tools.is_some() {
            return ApiError::bad("messages", e.to_string());
        }
        // as every chat prompt (`gen::prepare`): a template the model file
        // brought that fails or is stopped is the server's error, not the
        // request's
        let mut a = crate::error::from_engine(&engine::EngineError::from(e));
        if a.status.is_client_error() {
            a.param = Some("messages".to_string());
        }
        a
    })?;
    let ids = gen::check_prompt_len(lease, ids, "messages")?;
    if ids.is_empty() {
        return Err(crate::error::from_engine(&engine::EngineError::EmptyPrompt));
    }
    Ok(Prompted {
        ids,
        prefix,
        format,
        strict,
    })
}

/// A chat prompt rendered for the model (see [`chat_prompt`]).
pub struct Prompted {
    pub ids: Vec<u32>,
    /// The start of the answer written in the prompt (a forced call's opening).
    pub prefix: String,
    /// How the model writes calls.
    pub format: ToolFormat,
    /// The grammar of calls of `strict` functions: their arguments follow
    /// the function's `parameters` schema ([`ToolSet::strict_grammar`]).
    pub strict: Option<engine::Grammar>,
}

impl Prompted {
    /// Put what rendering decided into `req`: the prompt's ids, the grammar
    /// of `strict` calls (a 400 naming `tools` when a schema cannot be
    /// enforced), the text of special tokens for formats marked by them;
    /// `tools` learns the model's format. Returns the answer's start the
    /// prompt wrote (a forced call's opening).
    pub fn fit(
        self,
        tools: Option<&mut ToolSet>,
        req: &mut engine::GenerateRequest,
        lm: &engine::LoadedModel,
    ) -> Result<String, ApiError> {
        req.prompt = engine::Prompt::Tokens(self.ids);
        if let Some(g) = self.strict {
            let c = crate::structured::compile(lm, &g, "tools")?;
            req.constraint = Some(if self.format == ToolFormat::Harmony {
                // gpt-oss's calls are messages beside the reasoning: the
                // grammar covers the whole output
                c.over_whole_output()
            } else {
                c
            });
        }
        if let Some(t) = tools {
            t.format = self.format;
            req.special_text = self.format.needs_special_text();
        }
        Ok(self.prefix)
    }
}

/// What a request's `tool_choice` asks of the answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Force {
    /// The model decides (`"auto"`, the default).
    Auto,
    /// Some call of a declared function (`"required"`).
    Required,
    /// A call of this function (`{"type": "function", "function": {"name": ...}}`).
    Named(String),
}

/// The checked `tools` of a request and its `tool_choice`.
#[derive(Clone, Debug)]
pub struct ToolSet {
    /// The function definitions, as the template renders them.
    pub list: Value,
    pub force: Force,
    /// How the model writes calls (its template's format; set once the
    /// model is known).
    pub format: ToolFormat,
    /// A function with no `strict` key is strict when its schema can be
    /// enforced (OpenAI's Responses API, where `strict` defaults to true);
    /// false: only `strict: true` is.
    pub strict_by_default: bool,
}

/// An assistant message's tool call as chat templates want it: the
/// `arguments` JSON string parsed to an object (templates print it with
/// `tojson`).
pub fn call_for_template(field: &str, mut c: Value) -> Result<Value, ApiError> {
    let field = field.to_string();
    let f = c
        .get_mut("function")
        .ok_or_else(|| ApiError::bad(field.clone(), format!("{field}.function is missing")))?;
    if !f.get("name").is_some_and(Value::is_string) {
        return Err(ApiError::bad(
            field.clone(),
            format!("{field}.function.name must be a string"),
        ));
    }
    if let Some(Value::String(a)) = f.get("arguments") {
        let parsed: Value = serde_json::from_str(a).map_err(|e| {
            ApiError::bad(
                field.clone(),
                format!("{field}.function.arguments is not JSON: {e}"),
            )
        })?;
        f["arguments"] = parsed;
    }
    Ok(c)
}

/// The `tools` to render (None when there are none or `tool_choice` is
/// "none"), each checked to be a function with a name, and what `tool_choice`
/// asks for: `"auto"` (default), `"none"`, `"required"`, or one function
/// `{"type": "function", "function": {"name": ...}}` (OpenAI's shapes).
pub fn tools(
    tools: Option<Vec<Value>>,
    choice: Option<&Value>,
) -> Result<Option<ToolSet>, ApiError> {
    let bad_choice = |other: &Value| {
        ApiError::bad(
            "tool_choice",
            format!("tool_choice must be \"auto\", \"none\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}, got {other}"),
        )
    };
    let force = match choice {
        None => Force::Auto,
        Some(Value::String(c)) if c == "auto" => Force::Auto,
        Some(Value::String(c)) if c == "none" => return Ok(None),
        Some(Value::String(c)) if c == "required" => Force::Required,
        Some(v @ Value::Object(o)) => {
            if o.get("type").and_then(Value::as_str) != Some("function") {
                return Err(bad_choice(v));
            }
            match o
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
            {
                Some(n) => Force::Named(n.to_string()),
                None => return Err(bad_choice(v)),
            }
        }
        Some(other) => return Err(bad_choice(other)),
    };
    let Some(list) = tools.filter(|t| !t.is_empty()) else {
        if force != Force::Auto {
            return Err(ApiError::bad(
                "tool_choice",
                "tool_choice asks for a tool call but the request declares no tools",
            ));
        }
        return Ok(None);
    };
    for (i, t) in list.iter().enumerate() {
        let ok = t.get("type").and_then(Value::as_str) == Some("function")
            && t.get("function")
                .and_then(|f| f.get("name"))
                .is_some_and(Value::is_string);
        if !ok {
            return Err(ApiError::bad(format!("tools[{i}]"), format!("tools[{i}] must be {{\"type\": \"function\", \"function\": {{\"name\": ..., \"parameters\": ...}}}}")));
        }
    }
    let list = Value::Array(list);
    if let Force::Named(n) = &force {
        if !tool_names(&list).contains(&n.as_str()) {
            return Err(ApiError::bad(
                "tool_choice",
                format!("tool_choice names function {n:?}, which is not among the request's tools"),
            ));
        }
    }
    Ok(Some(ToolSet {
        list,
        force,
        format: ToolFormat::Hermes,
        strict_by_default: false,
    }))
}

impl ToolSet {
    /// The tool calls and the content of a generated `text` that followed
    /// `prefix` (see [`prompt_with_tools`]). `cut`: the generation stopped
    /// at the token limit, so its last call may be unfinished
    /// ([`ToolCall::cut`]).
    pub fn answer(&self, prefix: &str, text: &str, cut: bool) -> (Option<String>, Vec<ToolCall>) {
        let names = tool_names(&self.list);
        let text = format!("{prefix}{text}");
        if self.format == ToolFormat::Hermes {
            // also reads calls small models write without the tags
            return parse_tool_calls(&text, &names, cut);
        }
        let p = formats::parse(self.format, &text, true);
        let calls: Vec<&formats::RawCall> = p
            .calls
            .iter()
            .filter(|c| names.contains(&c.name.as_str()))
            .collect();
        let n = calls.len();
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| ToolCall::of(c, cut && i + 1 == n))
            .collect();
        if calls.is_empty() && self.format == ToolFormat::Llama3 {
            return parse_tool_calls(&text, &names, cut);
        }
        let content = p.content.trim();
        (
            (!content.is_empty() || calls.is_empty()).then(|| content.to_string()),
            calls,
        )
    }

    /// [`ToolSet::answer`] for the APIs whose call arguments are an object
    /// (Ollama, Anthropic): a call the token limit cut off is left out
    /// ([`ToolCall::cut`]); the answer's end reason tells the client.
    pub fn answer_objects(
        &self,
        prefix: &str,
        text: &str,
        cut: bool,
    ) -> (Option<String>, Vec<ToolCall>) {
        let (content, mut calls) = self.answer(prefix, text, cut);
        calls.retain(|c| !c.cut);
        (content, calls)
    }

    /// A reader of this answer's whole calls as it streams (Ollama's
    /// shape: each call once it is complete).
    pub fn stream_whole(&self, prefix: &str) -> WholeCalls {
        WholeCalls {
            inner: self.stream(prefix),
            format: self.format,
            names: tool_names(&self.list)
                .into_iter()
                .map(String::from)
                .collect(),
            text: prefix.to_string(),
            done: 0,
        }
    }

    /// A reader of this answer's calls as it streams (`prefix`: the forced
    /// opening the prompt wrote).
    pub fn stream(&self, prefix: &str) -> ToolStream {
        ToolStream::new(
            self.format,
            tool_names(&self.list)
                .into_iter()
                .map(String::from)
                .collect(),
            prefix,
        )
    }
}

/// Reads an answer as it streams into its content, as it comes, and its
/// calls, each once it is complete (its closing written, or the answer
/// ended).
pub struct WholeCalls {
    inner: ToolStream,
    format: ToolFormat,
    names: Vec<String>,
    text: String,
    /// Calls handed out so far.
    done: usize,
}

impl WholeCalls {
    /// The content and the calls that `piece` completes.
    pub fn push(&mut self, piece: &str) -> (String, Vec<ToolCall>) {
        self.text.push_str(piece);
        let deltas = self.inner.push(piece);
        (content_of(deltas), self.calls(false, false))
    }

    /// The end of the answer: what was held back, and the last calls.
    /// `cut`: the generation stopped at the token limit; a call it cut off
    /// ([`ToolCall::cut`]) is left out (Ollama's arguments are an object,
    /// which an unfinished call does not have; `done_reason: "length"`
    /// tells the client the answer was cut).
    pub fn finish(&mut self, cut: bool) -> (String, Vec<ToolCall>) {
        let deltas = self.inner.finish();
        let mut calls = self.calls(true, cut);
        calls.retain(|c| !c.cut);
        (content_of(deltas), calls)
    }

    fn calls(&mut self, fin: bool, cut: bool) -> Vec<ToolCall> {
        let p = formats::parse(self.format, &self.text, fin);
        let known: Vec<&formats::RawCall> = p
            .calls
            .iter()
            .filter(|c| self.names.iter().any(|n| n == &c.name))
            .collect();
        let n = known.len();
        let done: Vec<ToolCall> = known
            .into_iter()
            .take_while(|c| c.done || fin)
            .enumerate()
            .map(|(i, c)| ToolCall::of(c, cut && i + 1 == n))
            .collect();
        let new = done.get(self.done..).unwrap_or_default().to_vec();
        self.done = self.done.max(done.len());
        new
    }
}

fn content_of(deltas: Vec<Delta>) -> String {
    deltas
        .into_iter()
        .filter_map(|d| match d {
            Delta::Content(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// A call read from an answer: a declared function and its arguments (a JSON
/// value; arguments the model wrote as a JSON string are parsed).
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Value,
    /// The token limit cut this call off before its arguments were
    /// finished: `arguments` is the raw, incomplete text the model wrote (a
    /// string, never a "repaired" object that would pass for the model's
    /// call). Each API says so — OpenAI: `finish_reason: "length"` with the
    /// text as `arguments` (a string there anyway); Responses: the call
    /// item `incomplete`, the response `incomplete`; Ollama and Anthropic,
    /// whose arguments are an object: the call left out, `done_reason:
    /// "length"` / `stop_reason: "max_tokens"`.
    pub cut: bool,
}

impl ToolCall {
    /// A call as a format's reader read it: its arguments text parsed as
    /// JSON. Text that is not JSON is repaired (a model's slip: a missing
    /// brace, JavaScript-style keys) — unless the answer was cut off by the
    /// token limit right there (`cut`: the answer's last call, in an answer
    /// that stopped at the limit), where it is the unfinished start of the
    /// arguments: kept as it is and the call marked [`ToolCall::cut`].
    pub fn of(c: &formats::RawCall, cut: bool) -> ToolCall {
        let parsed = serde_json::from_str(&c.args).ok();
        let cut = cut && parsed.is_none();
        let arguments = parsed
            .or_else(|| {
                if cut {
                    return None;
                }
                engine::jsonfix::repair(&c.args).and_then(|t| serde_json::from_str(&t).ok())
            })
            .unwrap_or_else(|| Value::String(c.args.clone()));
        ToolCall {
            name: c.name.clone(),
            arguments,
            cut,
        }
    }

    /// OpenAI's `tool_calls` entry (arguments as a JSON string).
    pub fn openai(&self, id: String) -> Value {
        let args = match &self.arguments {
            Value::String(s) => s.clone(),
            a => a.to_string(),
        };
        serde_json::json!({"id": id, "type": "function", "function": {"name": self.name, "arguments": args}})
    }

    /// Ollama's `tool_calls` entry (arguments as an object).
    pub fn ollama(&self) -> Value {
        serde_json::json!({"function": {"name": self.name, "arguments": self.arguments}})
    }
}

/// The call in a `{"name": ..., "arguments": ...}` object naming one of `names`.
fn call_from(v: &Value, names: &[&str]) -> Option<ToolCall> {
    let name = v.get("name")?.as_str()?;
    if !names.contains(&name) {
        return None;
    }
    let arguments = match v.get("arguments").or_else(|| v.get("parameters")) {
        Some(Value::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
        }
        Some(a) => a.clone(),
        None => Value::Object(Default::default()),
    };
    Some(ToolCall {
        name: name.to_string(),
        arguments,
        cut: false,
    })
}

fn parse_call(text: &str, names: &[&str]) -> Option<ToolCall> {
    serde_json::from_str::<Value>(text.trim())
        .ok()
        .and_then(|v| call_from(&v, names))
}

/// The tool calls in a generated answer: the `<tool_call>{"name": ...,
/// "arguments": {...}}</tool_call>` blocks the Qwen 2.5 / Hermes templates ask
/// for, or — small models often drop the tags — an answer that is nothing but
/// such objects (one per line, code fences allowed). Only names of the
/// request's tools count. The rest of the text is the content (None when only
/// calls remain); a block that does not parse stays in the content. `cut`:
/// the answer stopped at the token limit, so an unclosed last block whose
/// arguments are unfinished is a cut call ([`ToolCall::cut`]), not repaired.
pub fn parse_tool_calls(text: &str, names: &[&str], cut: bool) -> (Option<String>, Vec<ToolCall>) {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let (mut content, mut calls, mut rest) = (String::new(), Vec::new(), text);
    while let Some(a) = rest.find(OPEN) {
        content.push_str(&rest[..a]);
        let after = &rest[a + OPEN.len()..];
        let (body, used, next) = match after.find(CLOSE) {
            Some(b) => (
                &after[..b],
                &rest[a..a + OPEN.len() + b + CLOSE.len()],
                &after[b + CLOSE.len()..],
            ),
            None => (after, &rest[a..], ""),
        };
        let unfinished = cut && !after.contains(CLOSE);
        let call = match formats::call_object(body) {
            // the limit stopped the model inside this call's arguments
            (Some(c), _, false) if unfinished && names.contains(&c.name.as_str()) => {
                Some(ToolCall::of(&c, true))
            }
            _ => engine::jsonfix::repair(body).and_then(|t| parse_call(&t, names)),
        };
        match call {
            Some(c) => calls.push(c),
            None => content.push_str(used),
        }
        rest = next;
    }
    content.push_str(rest);
    if calls.is_empty() {
        let bare = content
            .trim()
            .trim_start_matches("```json")
            .trim_start_matches("```")
            .trim_end_matches("```")
            .trim();
        if let Some(c) = parse_call(bare, names) {
            return (None, vec![c]);
        }
        let lines: Option<Vec<ToolCall>> = bare
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_call(l, names))
            .collect();
        if let Some(cs) = lines.filter(|c| !c.is_empty()) {
            return (None, cs);
        }
    }
    let content = content.trim();
    (
        (!content.is_empty() || calls.is_empty()).then(|| content.to_string()),
        calls,
    )
}

/// The function names declared in `tools` (checked by [`tools`]).
pub fn tool_names(tools: &Value) -> Vec<&str> {
    tools
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("function")?.get("name")?.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{parse_tool_calls, tools, Force};
    use serde_json::{json, Value};

    #[test]
    fn tool_choice_shapes() {
        let list = || {
            Some(vec![
                json!({"type": "function", "function": {"name": "add"}}),
            ])
        };
        let force = |c: Value| tools(list(), Some(&c)).map(|t| t.map(|t| t.force));
        assert_eq!(force(json!("auto")).unwrap(), Some(Force::Auto));
        assert_eq!(force(json!("none")).unwrap(), None);
        assert_eq!(force(json!("required")).unwrap(), Some(Force::Required));
        assert_eq!(
            force(json!({"type": "function", "function": {"name": "add"}})).unwrap(),
            Some(Force::Named("add".into()))
        );
        for bad in [
            json!("always"),
            json!({"type": "function", "function": {"name": "sub"}}),
            json!({"type": "x"}),
            json!(3),
        ] {
            assert!(force(bad.clone()).is_err(), "{bad}");
        }
        // forcing a call with no tools declared is an error; auto/none are fine
        assert!(tools(None, Some(&json!("required"))).is_err());
        assert!(tools(None, Some(&json!("auto"))).unwrap().is_none());
        // the forced start is put back before the answer is read
        let t = tools(list(), Some(&json!("required"))).unwrap().unwrap();
        let (content, calls) = t.answer(
            "<tool_call>\n{\"name\": \"",
            "add\", \"arguments\": {\"a\": 1}}\n</tool_call>",
            false,
        );
        assert_eq!((content, calls.len()), (None, 1));
        assert_eq!(calls[0].arguments, json!({"a": 1}));
    }

    fn parse(t: &str) -> (Option<String>, Vec<(String, Value)>) {
        let (c, calls) = parse_tool_calls(t, &["get_weather", "add"], false);
        let calls = calls
            .iter()
            .map(|c| {
                // the two APIs' shapes of the same call
                let o = c.openai("call_1".into());
                assert_eq!(o["type"], "function");
                assert_eq!(o["id"], "call_1");
                let args: Value =
                    serde_json::from_str(o["function"]["arguments"].as_str().unwrap()).unwrap();
                assert_eq!(c.ollama()["function"]["arguments"], args);
                (o["function"]["name"].as_str().unwrap().to_string(), args)
            })
            .collect();
        (c, calls)
    }

    #[test]
    fn tool_calls_are_read_from_answers() {
        let (c, calls) = parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
        assert_eq!(c, None);
        assert_eq!(
            calls,
            vec![("get_weather".into(), serde_json::json!({"city": "Paris"}))]
        );
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
        for t in [
            "{\"name\": \"rm_rf\", \"arguments\": {}}",
            "Paris is sunny.",
            "<tool_call>{not json</tool_call> ok",
        ] {
            let (c, calls) = parse(t);
            assert!(calls.is_empty(), "{t}");
            assert_eq!(c.as_deref(), Some(t), "{t}");
        }
    }

    /// A call the token limit cut off keeps the text the model wrote (not
    /// "repaired" into an object that would pass for its call), and is left
    /// out where arguments must be an object; a call finished before the
    /// cut, or an answer that was not cut, reads as before.
    #[test]
    fn a_call_cut_by_the_limit_is_kept_raw_or_left_out() {
        let decl = || {
            Some(vec![
                json!({"type": "function", "function": {"name": "get_weather"}}),
            ])
        };
        let mut t = tools(decl(), None).unwrap().unwrap();
        let harmony = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Par";
        for (format, text) in [
            (super::ToolFormat::Harmony, harmony.to_string()),
            (
                super::ToolFormat::Hermes,
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par"
                    .to_string(),
            ),
        ] {
            t.format = format;
            let (_, calls) = t.answer("", &text, true);
            assert_eq!(calls.len(), 1, "{format:?}");
            assert!(calls[0].cut, "{format:?}");
            assert_eq!(calls[0].arguments, json!("{\"city\": \"Par"), "{format:?}");
            assert_eq!(
                calls[0].openai("c".into())["function"]["arguments"],
                "{\"city\": \"Par"
            );
            assert!(t.answer_objects("", &text, true).1.is_empty(), "{format:?}");
            // not cut (the model's own slip): repaired, as before
            let (_, calls) = t.answer("", &text, false);
            assert!(!calls[0].cut, "{format:?}");
            assert_eq!(calls[0].arguments, json!({"city": "Par"}), "{format:?}");
            // streamed whole calls (Ollama): left out at a cut
            let mut w = t.stream_whole("");
            assert!(w.push(&text).1.is_empty());
            assert!(w.finish(true).1.is_empty(), "{format:?}");
            let mut w = t.stream_whole("");
            w.push(&text);
            assert_eq!(w.finish(false).1.len(), 1, "{format:?}");
        }
        // a call finished before the limit is a call
        t.format = super::ToolFormat::Harmony;
        let done = "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Paris\"}";
        let (_, calls) = t.answer_objects("", done, true);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, json!({"city": "Paris"}));
    }

    #[test]
    fn a_streamed_call_of_no_declared_function_is_content() {
        let t = tools(
            Some(vec![
                json!({"type": "function", "function": {"name": "get_weather"}}),
            ]),
            None,
        )
        .unwrap()
        .unwrap();
        let text = "```json\n{\"name\": \"add\", \"arguments\": {\"a\": 5}}\n```";
        let mut w = t.stream_whole("");
        let mut content = String::new();
        for piece in text.split_inclusive(' ') {
            let (c, calls) = w.push(piece);
            assert!(calls.is_empty());
            content.push_str(&c);
        }
        let (c, calls) = w.finish(false);
        content.push_str(&c);
        assert!(calls.is_empty());
        // as the whole answer is read
        assert_eq!(Some(content), t.answer("", text, false).0);
    }
}
