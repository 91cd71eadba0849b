//! Strict tool calls: the Lark grammar (llguidance) that holds the calls of
//! `strict` functions to their `parameters` schema while sampling, in each
//! family's own call format (`formats.rs`).
//!
//! A forcing `tool_choice` (`required`, a named function): the answer is the
//! call(s). `auto`: the text is free until the model opens a call, the call
//! then follows the grammar, and text is free again after it, so the model
//! still decides whether to call. How "opens a call" is recognised depends on
//! the family's opening marker:
//!
//! - a special (control) token in the model's vocabulary (Mistral's
//!   `[TOOL_CALLS]`, Granite 3's `<|tool_call|>`, DeepSeek's
//!   `<｜tool▁calls▁begin｜>` where the file marks them so): free text can
//!   never contain a special token, so the text simply runs until the model
//!   samples the marker;
//! - text (Hermes / Qwen `<tool_call>`, Qwen3-Coder, Phi-4-mini `functools[`,
//!   and any marker the vocabulary has no special token for): llguidance's
//!   lazy rule — the free text ends at the first opening marker — and the
//!   text after a call may never contain one;
//! - none (Llama 3.x writes a bare `{"name": …, "parameters": …}` object,
//!   optionally after `<|python_tag|>`): as its reader (`formats::parse`)
//!   decides, an answer that starts (after whitespace) with `{` or
//!   `<|python_tag|>` is calls, any other answer is free text that may not
//!   start so. So under `auto` the first character decides: `{` commits to a
//!   call.
//!
//! gpt-oss (harmony) writes a call as a message of its own
//! (`<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{…}<|call|>`),
//! between the reasoning and the final answer: its grammar covers the whole
//! output (under `auto`: analysis messages free, then the final message free
//! or a call; forced: the call alone, as a forcing `tool_choice` without
//! `strict` opens it in the prompt), and the engine applies it to every
//! token (`sampler::Constraint::over_whole_output`). The call's `<|call|>`
//! (an end of generation) is not part of it: the grammar is complete after
//! the arguments, and the reader takes the call's end from there.

use super::{Force, ToolFormat, ToolSet};
use crate::error::ApiError;
use engine::harmony::{harmony_analysis, lit, mark, parts, Part, ANY};
use engine::{Grammar, LoadedModel, Tokenizer};
use serde_json::{json, Value};

/// A function a call may name, and the schema its arguments follow (`None`:
/// not strict, any object).
struct Candidate {
    name: String,
    params: Option<Value>,
}

/// `s` as a regular expression matching it literally (inside Lark's `/…/`).
pub(super) fn regex_lit(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '/' => out.push_str("\\/"),
            c if "\\.+*?()|[]{}^$".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The JSON schema of one call object `{"name": <name>, key: <params>}`
/// (`id`: a Mistral Nemo call's optional id as well).
fn call_object(c: &Candidate, key: &str, id: bool) -> Value {
    let params = args_schema(c);
    let mut props = serde_json::Map::new();
    props.insert("name".into(), json!({ "const": c.name }));
    props.insert(key.into(), params);
    if id {
        props.insert("id".into(), json!({"type": "string"}));
    }
    json!({
        "type": "object",
        "properties": props,
        "required": ["name", key],
        "additionalProperties": false,
    })
}

/// Whitespace a call's JSON may use between tokens: as hearth's JSON
/// schemas elsewhere (one space, or a newline and a bounded indentation), so
/// a model cannot run on in whitespace inside a call.
const WHITESPACE: &str = r"\x20|\n[\x20\x09]{0,20}";

/// A schema for `%json`, with hearth's bounded whitespace (unless it sets
/// its own `x-guidance`).
fn bounded(mut s: Value) -> Value {
    if let Value::Object(m) = &mut s {
        m.entry("x-guidance")
            .or_insert_with(|| json!({ "whitespace_pattern": WHITESPACE }));
    }
    s
}

/// The schema a candidate's arguments follow (any object when it is not
/// strict).
fn args_schema(c: &Candidate) -> Value {
    c.params
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}))
}

/// `call: %json {anyOf: call objects}`.
fn json_call(cands: &[Candidate], key: &str, id: bool) -> String {
    let any: Vec<Value> = cands.iter().map(|c| call_object(c, key, id)).collect();
    format!("call: %json {}\n", bounded(json!({ "anyOf": any })))
}

/// How a format writes its calls, as grammar pieces.
struct Shape {
    /// The text that opens a group of calls (may be empty: Llama 3.x).
    open: String,
    /// The text that closes it.
    close: String,
    /// Rules, among them `calls` (what goes between `open` and `close`).
    rules: String,
}

/// Why a schema cannot be held in Qwen3-Coder's XML parameters.
fn xml_unsupported(fname: &str, key: &str, why: &str) -> String {
    format!("function {fname:?}, parameter {key:?}: {why} cannot be enforced in this model's XML tool-call format (Qwen3-Coder); leave `strict` off for it")
}

/// A string parameter's raw value (the reader, `formats::xml_call`, takes
/// a value that parses as JSON other than a string as that JSON): any text
/// without `</parameter>` that does not read as a number, `true`, `false`,
/// `null`, an object or an array, then the closing.
const XML_STR: &str = r#"XSTR: /(.|\n)*\n<\/parameter>\n/ & ~/(.|\n)*<\/parameter>(.|\n)(.|\n)+/ & ~/[ \t\r\n]*(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null|\{(.|\n)*\}|\[(.|\n)*\])[ \t\r\n]*\n<\/parameter>\n/
XANY: /(.|\n)*\n<\/parameter>\n/ & ~/(.|\n)*<\/parameter>(.|\n)(.|\n)+/
XNAME: /[^>\n]+/
"#;

/// Qwen3-Coder's call of candidate `i`: `<function=NAME>\n`, a
/// `<parameter=KEY>\nVALUE\n</parameter>\n` per parameter (a strict
/// function's: its schema's properties in order, the required ones
/// always, each value as its schema says: JSON for numbers, booleans,
/// objects and arrays, the raw text for strings, one of the listed texts for
/// a string `enum`/`const`), then `</function>`.
fn xml_call(i: usize, c: &Candidate, rules: &mut String) -> Result<String, String> {
    let open = lit(&format!("<function={}>\n", c.name));
    let Some(p) = &c.params else {
        return Ok(format!(
            "{open} (\"<parameter=\" XNAME \">\\n\" XANY)* \"</function>\""
        ));
    };
    let bad = |k: &str, why: &str| xml_unsupported(&c.name, k, why);
    if p.get("type").and_then(Value::as_str) != Some("object") {
        return Err(bad("", "parameters that are not `\"type\": \"object\"`"));
    }
    for k in ["anyOf", "oneOf", "allOf", "$ref", "patternProperties"] {
        if p.get(k).is_some() {
            return Err(bad("", &format!("`{k}` at the top of parameters")));
        }
    }
    let empty = serde_json::Map::new();
    let props = p
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = p
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if let Some(r) = required.iter().find(|r| !props.contains_key(**r)) {
        return Err(bad(r, "a required parameter missing from `properties`"));
    }
    let mut seq = vec![open];
    for (j, (k, s)) in props.iter().enumerate() {
        let rule = format!("c{i}_{j}");
        let head = lit(&format!("<parameter={k}>\n"));
        let string_values = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|x| x.as_str().map(String::from))
                .collect()
        };
        let ty = s.get("type").and_then(Value::as_str);
        let value = if let Some(vals) = s.get("enum").and_then(string_values).or_else(|| {
            s.get("const")
                .and_then(|c| Some(vec![c.as_str()?.to_string()]))
        }) {
            if vals.is_empty() {
                return Err(bad(k, "an empty `enum`"));
            }
            let alts: Vec<String> = vals
                .iter()
                .map(|v| lit(&format!("{v}\n</parameter>\n")))
                .collect();
            format!("({})", alts.join(" | "))
        } else if ty == Some("string") {
            let known = ["type", "description", "title", "default", "examples"];
            if let Some(x) = s
                .as_object()
                .into_iter()
                .flatten()
                .map(|(x, _)| x)
                .find(|x| !known.contains(&x.as_str()))
            {
                return Err(bad(k, &format!("a string's `{x}`")));
            }
            "XSTR".to_string()
        } else if matches!(
            ty,
            Some("integer" | "number" | "boolean" | "array" | "object" | "null")
        ) {
            rules.push_str(&format!("{rule}_v: %json {}\n", bounded(s.clone())));
            format!("{rule}_v \"\\n</parameter>\\n\"")
        } else {
            return Err(bad(k, "a schema without one `type`"));
        };
        rules.push_str(&format!("{rule}: {head} {value}\n"));
        seq.push(if required.contains(&k.as_str()) {
            rule
        } else {
            format!("{rule}?")
        });
    }
    seq.push(lit("</function>"));
    Ok(seq.join(" "))
}

impl Shape {
    fn of(format: ToolFormat, cands: &[Candidate], tok: &Tokenizer) -> Result<Shape, String> {
        let list = "calls: \"[\" call (\",\" \" \"? call)* \"]\"\n";
        let (open, close, rules) = match format {
            ToolFormat::Hermes => (
                "<tool_call>\n",
                "\n</tool_call>",
                format!("calls: call\n{}", json_call(cands, "arguments", false)),
            ),
            ToolFormat::Phi4 => (
                "functools",
                "",
                format!("{list}{}", json_call(cands, "arguments", false)),
            ),
            ToolFormat::GraniteList => (
                "<|tool_call|>",
                "",
                format!("{list}{}", json_call(cands, "arguments", false)),
            ),
            ToolFormat::MistralList => (
                "[TOOL_CALLS]",
                "",
                format!("{list}{}", json_call(cands, "arguments", true)),
            ),
            ToolFormat::Llama3 => (
                "",
                "",
                format!(
                    "calls: call (SEP call)*\nSEP: /[ \\t]*[;\\n][ \\t\\n]*/\n{}",
                    json_call(cands, "parameters", false)
                ),
            ),
            ToolFormat::MistralArgs => {
                // `NAME[CALL_ID]id[ARGS]{…}` (the id as Mistral Small 3.2's
                // template writes one; Devstral's has none)
                let mut r = String::from("calls: call\ncall: ");
                let alts: Vec<String> = (0..cands.len()).map(|i| format!("c{i}")).collect();
                r.push_str(&alts.join(" | "));
                r.push('\n');
                let (cid, args) = (mark(tok, "[CALL_ID]"), mark(tok, "[ARGS]"));
                for (i, c) in cands.iter().enumerate() {
                    let params = bounded(args_schema(c));
                    r.push_str(&format!(
                        "c{i}: {} ({cid} /[a-zA-Z0-9]{{9}}/)? {args} c{i}_args\nc{i}_args: %json {params}\n",
                        lit(&c.name)
                    ));
                }
                ("[TOOL_CALLS]", "", r)
            }
            ToolFormat::DeepSeek => {
                // `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜>`,
                // one per line, inside the calls markers
                let (begin, sep, end) = (
                    mark(tok, "<｜tool▁call▁begin｜>"),
                    mark(tok, "<｜tool▁sep｜>"),
                    mark(tok, "<｜tool▁call▁end｜>"),
                );
                let mut r = String::from("calls: call (\"\\n\"? call)*\ncall: ");
                let alts: Vec<String> = (0..cands.len()).map(|i| format!("c{i}")).collect();
                r.push_str(&alts.join(" | "));
                r.push('\n');
                for (i, c) in cands.iter().enumerate() {
                    let params = bounded(args_schema(c));
                    r.push_str(&format!(
                        "c{i}: {begin} \"function\" {sep} {} c{i}_args \"\\n```\" {end}\nc{i}_args: %json {params}\n",
                        lit(&format!("{}\n```json\n", c.name))
                    ));
                }
                ("<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", r)
            }
            ToolFormat::QwenXml => {
                let mut r = String::from("calls: call\ncall: ");
                let alts: Vec<String> = (0..cands.len()).map(|i| format!("c{i}")).collect();
                r.push_str(&alts.join(" | "));
                r.push('\n');
                for (i, c) in cands.iter().enumerate() {
                    let body = xml_call(i, c, &mut r)?;
                    r.push_str(&format!("c{i}: {body}\n"));
                }
                r.push_str(XML_STR);
                ("<tool_call>\n", "\n</tool_call>", r)
            }
            ToolFormat::Harmony => {
                // `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{…}<|call|>`
                let mut r = String::from("calls: call\ncall: ");
                let alts: Vec<String> = (0..cands.len()).map(|i| format!("c{i}")).collect();
                r.push_str(&alts.join(" | "));
                r.push('\n');
                for (i, c) in cands.iter().enumerate() {
                    let params = bounded(args_schema(c));
                    // (`<|call|>`, an end of generation, is not part of it:
                    // the grammar is complete after the arguments)
                    r.push_str(&format!(
                        "c{i}: {} c{i}_args\nc{i}_args: %json {params}\n",
                        mark(
                            tok,
                            &format!(
                                "<|channel|>commentary to=functions.{} <|constrain|>json<|message|>",
                                c.name
                            )
                        ),
                    ));
                }
                ("", "", r)
            }
        };
        Ok(Shape {
            open: open.to_string(),
            close: close.to_string(),
            rules,
        })
    }
}

impl ToolSet {
    /// The functions a call may name (all, or the one `tool_choice` names),
    /// each strict or not: `strict: true`, or — where the API's default is
    /// strict (`strict_by_default`, OpenAI's Responses) — no `strict` key
    /// and a schema that can be enforced (`usable`).
    fn candidates(&self, usable: impl Fn(&Candidate) -> bool) -> Vec<Candidate> {
        let fs = self.list.as_array().into_iter().flatten();
        fs.filter_map(|t| t.get("function"))
            .filter(|f| match &self.force {
                Force::Auto | Force::Required => true,
                Force::Named(n) => f.get("name").and_then(Value::as_str) == Some(n),
            })
            .map(|f| {
                let name = f
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let params = f
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"}));
                let c = Candidate {
                    name,
                    params: Some(params),
                };
                match f.get("strict") {
                    Some(Value::Bool(true)) => c,
                    None if self.strict_by_default && usable(&c) => c,
                    _ => Candidate { params: None, ..c },
                }
            })
            .collect()
    }

    /// The grammar of calls when a candidate function is strict (OpenAI's
    /// `function.strict`; see the module's doc for each format): each call
    /// is the family's call of a candidate, its arguments following that
    /// function's `parameters` schema (a candidate that is not strict: any
    /// object). A forcing `tool_choice` (`required`, named): the answer is
    /// the call (for list formats, a list of calls). `auto`: free text, the
    /// call once the model opens one, free text again. `None` when no
    /// candidate is strict. A 400 naming `tools` when a strict schema cannot
    /// be held in the format (Qwen3-Coder's XML parameters take plain types
    /// only).
    pub fn strict_grammar(
        &self,
        format: ToolFormat,
        lm: &LoadedModel,
    ) -> Result<Option<Grammar>, ApiError> {
        let tok = &lm.tokenizer;
        let usable = |c: &Candidate| {
            let one = [Candidate {
                name: c.name.clone(),
                params: c.params.clone(),
            }];
            let Ok(shape) = Shape::of(format, &one, tok) else {
                return false;
            };
            lm.constraint(&Grammar::Lark(self.assemble(format, &shape, tok, true)))
                .is_ok()
        };
        let cands = self.candidates(usable);
        if !cands.iter().any(|c| c.params.is_some()) {
            return Ok(None);
        }
        let shape = Shape::of(format, &cands, tok)
            .map_err(|m| ApiError::bad("tools", format!("tools: {m}")))?;
        Ok(Some(Grammar::Lark(self.assemble(
            format,
            &shape,
            tok,
            self.force != Force::Auto,
        ))))
    }

    /// The whole grammar of an answer with calls of `shape` (`forced`: the
    /// answer is the calls).
    fn assemble(&self, format: ToolFormat, shape: &Shape, tok: &Tokenizer, forced: bool) -> String {
        let (open, close) = (mark(tok, &shape.open), mark(tok, &shape.close));
        let mut g = String::new();
        if format == ToolFormat::Harmony {
            g.push_str(&harmony_start(tok, forced));
        } else if forced {
            g.push_str(&format!("start: {open} calls {close}\n"));
        } else if format == ToolFormat::Llama3 {
            g.push_str(&llama3_auto(tok));
        } else {
            let p = parts(tok, &shape.open);
            match p.first() {
                Some(Part::Special(_)) => {
                    // free text never holds a special token: it runs until
                    // the model writes the opening marker
                    g.push_str(&format!(
                        "start: TEXT? ({open} calls {close} TEXT?)*\nTEXT: /(.|\\n)+/\n"
                    ));
                }
                Some(Part::Text(first)) => {
                    let rest: Vec<String> = p[1..]
                        .iter()
                        .map(|x| match x {
                            Part::Text(t) => lit(t),
                            Part::Special(id) => format!("<[{id}]>"),
                        })
                        .collect();
                    g.push_str(&auto_grammar(
                        format,
                        &regex_lit(first),
                        &rest.join(" "),
                        &close,
                    ));
                }
                None => g.push_str(&format!("start: calls {close}\n")),
            }
        }
        g.push_str(&shape.rules);
        g
    }
}

/// Llama 3.x under `auto`: calls (after `<|python_tag|>` or not), or free
/// text that starts with neither `{` nor `<|python_tag|>`.
fn llama3_auto(tok: &Tokenizer) -> String {
    let pt = parts(tok, "<|python_tag|>");
    let (tag, not_tag) = match pt.as_slice() {
        [Part::Special(id)] => (format!("<[{id}]>"), String::new()),
        _ => (
            lit("<|python_tag|>"),
            format!(" & ~/[ \\t\\n]*<\\|python_tag\\|>{ANY}/"),
        ),
    };
    format!(
        "start: (bare | FREE)?\nbare: {tag}? LEAD? calls TAIL?\n\
         FREE: /(.|\\n)+/ & ~/[ \\t\\n]*\\{{{ANY}/{not_tag}\n\
         LEAD: /[ \\t\\n]+/\nTAIL: /[ \\t\\n]+/\n"
    )
}

/// gpt-oss (harmony), the whole output after `<|start|>assistant`: under
/// `auto`, any analysis messages (free text up to `<|end|>`: a lazy rule
/// where the marker is text in the vocabulary), then a final message (free)
/// or a call; forced: the call. Each message as the template writes one.
fn harmony_start(tok: &Tokenizer, forced: bool) -> String {
    if forced {
        // as a forcing `tool_choice` without `strict` (whose prompt opens
        // the call): the answer is the call, no reasoning first
        return "start: calls\n".to_string();
    }
    let fin = mark(tok, "<|channel|>final<|message|>");
    format!(
        "start: analysis* (calls | final)\nfinal: {fin} HTEXT?\n{}",
        harmony_analysis(tok)
    )
}

/// The grammar of an answer under `tool_choice: "auto"` whose calls open
/// with text matching `open_rx` (a regular expression), go on with `rest`
/// (Lark; usually empty), then `calls`, closed by `close` (Lark): free
/// text, then any number of (free text up to the opening — a lazy rule: it
/// ends at the first one —, a call, the closing), then free text without an
/// opening. Hermes answers are also read for calls written without the tags
/// (`parse_tool_calls`: an answer that is only call objects, one per line,
/// fenced or not), so there an answer that starts as such an object is one
/// (or more) calls of the grammar, and an answer with no tagged call may
/// not start like one.
fn auto_grammar(format: ToolFormat, open_rx: &str, rest: &str, close: &str) -> String {
    let no_open = format!(r"~/{ANY}{open_rx}{ANY}/");
    let hermes = format == ToolFormat::Hermes;
    let mut g = String::new();
    if hermes {
        // the first text may not start as a bare call either (its text
        // lexeme would swallow the call's JSON)
        g.push_str(&format!(
            "start: tagged | FREE | bare\ntagged: pre0 {rest} calls {close} (pre {rest} calls {close})* POST\n\
             pre0[lazy]: /[ \\t\\n]*([^ \\t\\n{{`]{ANY})?{open_rx}/\n\
             FREE: /{ANY}/ & {no_open} & ~/[ \\t\\n]*(```(json)?)?[ \\t\\n]*\\{{{ANY}/\n\
             bare: LEAD? call (SEP call)* TAIL?\n\
             LEAD: /[ \\t\\n]+|[ \\t\\n]*```(json)?[ \\t\\n]*/\n\
             SEP: /[ \\t]*\\n[ \\t\\n]*/\n\
             TAIL: /[ \\t\\n]+|[ \\t\\n]*```[ \\t\\n]*/\n"
        ));
    } else {
        g.push_str(&format!(
            "start: tagged | FREE\ntagged: (pre {rest} calls {close})+ POST\nFREE: /{ANY}/ & {no_open}\n"
        ));
    }
    g.push_str(&format!(
        "pre[lazy]: /{ANY}{open_rx}/\nPOST: /{ANY}/ & {no_open}\n"
    ));
    g
}

#[cfg(test)]
#[path = "strict_tests.rs"]
mod tests;
