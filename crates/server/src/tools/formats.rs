//! How each model family writes tool calls, and reading them back — whole or
//! as the answer streams. The format is the one the model's chat template
//! declares (`ToolFormat::from_template`); each reader is tested on text the
//! real template renders for an assistant turn with calls
//! (`tests/fixtures/tool-calls`, made by `scripts/make-tool-call-fixtures.py`).
//!
//! | family | calls as the model writes them |
//! |---|---|
//! | Hermes, Qwen 2.5 / 3, Granite 4 | `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` per call |
//! | Llama 3.1–3.3 | `{"name": …, "parameters": {…}}` (after `<|python_tag|>` or not), `;` between calls |
//! | Mistral Nemo | `[TOOL_CALLS][{"name": …, "arguments": {…}, "id": …}, …]` |
//! | Mistral Small 3.2, Devstral, Ministral | `[TOOL_CALLS]name[CALL_ID]id[ARGS]{…}` per call |
//! | Qwen3-Coder | `<tool_call>\n<function=name>\n<parameter=p>\nvalue\n</parameter>\n</function>\n</tool_call>` |
//! | gpt-oss (harmony) | `to=functions.name … <|message|>{…}` (ended by `<|call|>`) |
//! | Granite 3.x | `<|tool_call|>[{"name": …, "arguments": {…}}, …]` |
//! | Phi-4-mini | `functools[{"name": …, "arguments": {…}}, …]` |
//! | DeepSeek R1 | `<｜tool▁call▁begin｜>function<｜tool▁sep｜>name\n```json\n{…}\n```<｜tool▁call▁end｜>` |
//!
//! The reader scans the whole answer so far each time (answers are short):
//! content is the text outside calls (a possible start of a call marker at
//! its end is held back until it is decided), and each call's arguments are
//! the JSON text as written, so what streams is always a prefix of the final
//! text and the pieces add up to it.

/// A family's tool-call format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolFormat {
    Hermes,
    Llama3,
    MistralList,
    MistralArgs,
    QwenXml,
    Harmony,
    GraniteList,
    Phi4,
    DeepSeek,
}

impl ToolFormat {
    /// The format a chat template's source asks for (Hermes when it names none).
    pub fn from_template(src: &str) -> ToolFormat {
        if src.contains("<function=") && src.contains("<parameter=") {
            ToolFormat::QwenXml
        } else if src.contains("to=functions.") || src.contains("<|channel|>") {
            ToolFormat::Harmony
        } else if src.contains("[TOOL_CALLS]") && src.contains("[ARGS]") {
            ToolFormat::MistralArgs
        } else if src.contains("[TOOL_CALLS]") {
            ToolFormat::MistralList
        } else if src.contains("tool▁call▁begin") {
            ToolFormat::DeepSeek
        } else if src.contains("<|tool_call|>") {
            ToolFormat::GraniteList
        } else if src.contains("functools") || src.contains("<|tool|>") {
            ToolFormat::Phi4
        } else if src.contains("<tool_call>") {
            ToolFormat::Hermes
        } else if src.contains("<|python_tag|>") || src.contains("ipython") {
            ToolFormat::Llama3
        } else {
            ToolFormat::Hermes
        }
    }

    /// Whether the format's markers are special (control) tokens, which the
    /// answer's text must then show (`GenerateRequest::special_text`).
    pub fn needs_special_text(self) -> bool {
        !matches!(
            self,
            ToolFormat::Hermes | ToolFormat::QwenXml | ToolFormat::Phi4
        )
    }

    /// The text a forcing `tool_choice` writes to open a call, and with the
    /// function's name (the template's own opening, then the name).
    pub fn forced_prefix(self, name: Option<&str>) -> Option<String> {
        let q = |n: &str| serde_json::Value::String(n.to_string()).to_string();
        Some(match (self, name) {
            (ToolFormat::Hermes, None) => "<tool_call>\n{\"name\": \"".into(),
            (ToolFormat::Hermes, Some(n)) => {
                format!("<tool_call>\n{{\"name\": {}, \"arguments\": ", q(n))
            }
            (ToolFormat::Llama3, None) => "{\"name\": \"".into(),
            (ToolFormat::Llama3, Some(n)) => format!("{{\"name\": {}, \"parameters\": ", q(n)),
            (ToolFormat::QwenXml, None) => "<tool_call>\n<function=".into(),
            (ToolFormat::QwenXml, Some(n)) => format!("<tool_call>\n<function={n}>\n"),
            (ToolFormat::MistralArgs, None) => "[TOOL_CALLS]".into(),
            (ToolFormat::MistralArgs, Some(n)) => format!("[TOOL_CALLS]{n}[ARGS]"),
            (ToolFormat::MistralList, None) => "[TOOL_CALLS][{\"name\": \"".into(),
            (ToolFormat::MistralList, Some(n)) => {
                format!("[TOOL_CALLS][{{\"name\": {}, \"arguments\": ", q(n))
            }
            (ToolFormat::GraniteList, None) => "<|tool_call|>[{\"name\": \"".into(),
            (ToolFormat::GraniteList, Some(n)) => {
                format!("<|tool_call|>[{{\"name\": {}, \"arguments\": ", q(n))
            }
            (ToolFormat::Phi4, None) => "functools[{\"name\": \"".into(),
            (ToolFormat::Phi4, Some(n)) => {
                format!("functools[{{\"name\": {}, \"arguments\": ", q(n))
            }
            // harmony: the generation prompt ends `<|start|>assistant`; a
            // call is a commentary message to the function (the template's
            // own rendering of an assistant call, `<|constrain|>json` and all)
            (ToolFormat::Harmony, None) => "<|channel|>commentary to=functions.".into(),
            (ToolFormat::Harmony, Some(n)) => {
                format!("<|channel|>commentary to=functions.{n} <|constrain|>json<|message|>")
            }
            (ToolFormat::DeepSeek, _) => return None,
        })
    }
}

/// A call read from the answer: its name and its arguments' JSON text (all
/// of it once `done`, else what is written so far).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCall {
    pub name: String,
    pub args: String,
    pub done: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub content: String,
    pub calls: Vec<RawCall>,
}

/// End of the JSON value at the start of `s` (after whitespace): `(end,
/// complete)` — the byte after it, or `s.len()` with `complete == false`
/// when it is not finished yet.
fn json_span(s: &str) -> (usize, bool) {
    let b = s.as_bytes();
    let mut i = s.len() - s.trim_start().len();
    if i >= b.len() {
        return (b.len(), false);
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    let scalar = !matches!(b[i], b'{' | b'[' | b'"');
    while i < b.len() {
        let c = b[i];
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
                if depth == 0 {
                    return (i + 1, true);
                }
            }
        } else if scalar {
            if matches!(
                c,
                b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t' | b';' | b'<'
            ) {
                return (i, true);
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return (i + 1, true);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    (b.len(), false)
}

/// A call object `{"name": …, "arguments"|"parameters": …}` at the start
/// of `s`: (call if its name is known, end of the object, complete).
pub(super) fn call_object(s: &str) -> (Option<RawCall>, usize, bool) {
    let lead = s.len() - s.trim_start().len();
    let b = s.as_bytes();
    if b.get(lead) != Some(&b'{') {
        return (None, lead, false);
    }
    let mut i = lead + 1;
    let (mut name, mut args, mut args_done) = (None::<String>, None::<String>, false);
    loop {
        let rest = &s[i..];
        let t = rest.trim_start();
        i += rest.len() - t.len();
        match t.as_bytes().first() {
            None => break,
            Some(b'}') => {
                let call = name.map(|n| RawCall {
                    name: n,
                    args: args.unwrap_or_else(|| "{}".into()),
                    done: true,
                });
                return (call, i + 1, true);
            }
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return (None, i, false),
        }
        let (kend, kdone) = json_span(&s[i..]);
        if !kdone {
            break;
        }
        let key: String = serde_json::from_str(&s[i..i + kend]).unwrap_or_default();
        i += kend;
        let rest = &s[i..];
        let t = rest.trim_start();
        i += rest.len() - t.len();
        match t.as_bytes().first() {
            Some(b':') => i += 1,
            None => break,
            Some(_) => return (None, i, false),
        }
        let rest = &s[i..];
        let vstart = i + rest.len() - rest.trim_start().len();
        let (vend, vdone) = json_span(&s[i..]);
        let value = &s[vstart..i + vend];
        match key.as_str() {
            "name" if vdone => name = serde_json::from_str::<String>(value).ok(),
            "arguments" | "parameters" => {
                args = Some(value.to_string());
                args_done = vdone;
            }
            _ => {}
        }
        i += vend;
        if !vdone {
            break;
        }
    }
    let call = name.map(|n| RawCall {
        name: n,
        args: args.unwrap_or_default(),
        done: false,
    });
    let _ = args_done;
    (call, s.len(), false)
}

/// A JSON list of call objects at the start of `s`: (calls, end, complete).
fn call_list(s: &str) -> (Vec<RawCall>, usize, bool) {
    let lead = s.len() - s.trim_start().len();
    let mut calls = Vec::new();
    if s.as_bytes().get(lead) != Some(&b'[') {
        return (calls, lead, false);
    }
    let mut i = lead + 1;
    loop {
        let rest = &s[i..];
        let t = rest.trim_start();
        i += rest.len() - t.len();
        match t.as_bytes().first() {
            None => return (calls, s.len(), false),
            Some(b']') => return (calls, i + 1, true),
            Some(b',') => i += 1,
            Some(_) => {
                let (c, end, done) = call_object(&s[i..]);
                calls.extend(c);
                if !done {
                    return (calls, s.len(), false);
                }
                i += end;
            }
        }
    }
}

/// Length of the longest suffix of `s` that is a proper prefix of one of
/// `markers` (held back: it may become a marker).
fn held(s: &str, markers: &[&str]) -> usize {
    let mut best = 0;
    for m in markers {
        for n in (1..m.len().min(s.len() + 1)).rev() {
            if n > best && s.is_char_boundary(s.len() - n) && m.starts_with(&s[s.len() - n..]) {
                best = n;
                break;
            }
        }
    }
    best
}

/// Read `text` (the whole answer so far; `fin`: it is complete).
pub fn parse(format: ToolFormat, text: &str, fin: bool) -> Parsed {
    let mut p = Parsed::default();
    match format {
        // small models often drop the tags: an answer that starts as a call
        // object is read as bare calls (content when it is no call)
        ToolFormat::Hermes if text.trim_start().starts_with('{') => llama3(text, fin, &mut p),
        // or fence them as JSON code
        ToolFormat::Hermes if fenced(text, fin, &mut p) => {}
        ToolFormat::Hermes => tagged(text, fin, "<tool_call>", "</tool_call>", &mut p, |body| {
            let (c, end, done) = call_object(body);
            (c.into_iter().collect(), end, done)
        }),
        ToolFormat::QwenXml => tagged(text, fin, "<tool_call>", "</tool_call>", &mut p, xml_call),
        ToolFormat::MistralList => tagged(text, fin, "[TOOL_CALLS]", "", &mut p, call_list),
        ToolFormat::GraniteList => tagged(text, fin, "<|tool_call|>", "", &mut p, call_list),
        ToolFormat::Phi4 => tagged(text, fin, "functools", "", &mut p, call_list),
        ToolFormat::MistralArgs => tagged(text, fin, "[TOOL_CALLS]", "", &mut p, mistral_args),
        ToolFormat::DeepSeek => tagged(
            text,
            fin,
            "<｜tool▁call▁begin｜>",
            "<｜tool▁call▁end｜>",
            &mut p,
            deepseek_call,
        ),
        ToolFormat::Harmony => harmony(text, fin, &mut p),
        ToolFormat::Llama3 => llama3(text, fin, &mut p),
    }
    // markers around the calls are not content
    for m in [
        "<｜tool▁calls▁begin｜>",
        "<｜tool▁calls▁end｜>",
        "<|python_tag|>",
    ] {
        if p.content.contains(m) {
            p.content = p.content.replace(m, "");
        }
    }
    p
}

/// Calls each opened by `open` (and closed by `close`, when the format has
/// one), read by `body`; text elsewhere is content.
fn tagged(
    text: &str,
    fin: bool,
    open: &str,
    close: &str,
    p: &mut Parsed,
    body: impl Fn(&str) -> (Vec<RawCall>, usize, bool),
) {
    let mut rest = text;
    while let Some(a) = rest.find(open) {
        p.content.push_str(&rest[..a]);
        let after = &rest[a + open.len()..];
        let (calls, end, done) = body(after);
        p.calls.extend(calls);
        if !done {
            return;
        }
        let mut next = &after[end..];
        if !close.is_empty() {
            let t = next.trim_start();
            if let Some(r) = t.strip_prefix(close) {
                next = r;
            } else if !fin && close.starts_with(t) {
                return;
            }
        }
        rest = next;
    }
    // (DeepSeek's calls sit inside one more marker)
    let keep = if fin {
        0
    } else {
        held(
            rest,
            &[open, "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"],
        )
    };
    p.content.push_str(&rest[..rest.len() - keep]);
}

/// `<function=name>` `<parameter=p>value</parameter>`… `</function>`.
fn xml_call(s: &str) -> (Vec<RawCall>, usize, bool) {
    let lead = s.len() - s.trim_start().len();
    let t = &s[lead..];
    let Some(r) = t.strip_prefix("<function=") else {
        return (
            Vec::new(),
            if "<function=".starts_with(t) {
                s.len()
            } else {
                lead
            },
            !"<function=".starts_with(t) && !t.is_empty(),
        );
    };
    let Some(gt) = r.find('>') else {
        return (Vec::new(), s.len(), false);
    };
    let name = r[..gt].trim().to_string();
    let mut i = lead + "<function=".len() + gt + 1;
    let mut args = String::from("{");
    loop {
        let t = s[i..].trim_start();
        i = s.len() - t.len();
        if let Some(r) = t.strip_prefix("</function>") {
            args.push('}');
            let _ = r;
            let call = RawCall {
                name,
                args,
                done: true,
            };
            return (vec![call], i + "</function>".len(), true);
        }
        let Some(r) = t.strip_prefix("<parameter=") else {
            // incomplete: the arguments written so far
            return (
                vec![RawCall {
                    name,
                    args,
                    done: false,
                }],
                s.len(),
                false,
            );
        };
        let (Some(gt), Some(end)) = (r.find('>'), r.find("</parameter>")) else {
            return (
                vec![RawCall {
                    name,
                    args,
                    done: false,
                }],
                s.len(),
                false,
            );
        };
        let key = r[..gt].trim();
        let raw = r[gt + 1..end].trim_matches('\n');
        let value = match serde_json::from_str::<serde_json::Value>(raw) {
            Ok(v) if !v.is_string() => v.to_string(),
            _ => serde_json::Value::String(raw.to_string()).to_string(),
        };
        if args.len() > 1 {
            args.push_str(", ");
        }
        args.push_str(&format!(
            "{}: {value}",
            serde_json::Value::String(key.to_string())
        ));
        i += "<parameter=".len() + end + "</parameter>".len();
    }
}

/// `name[CALL_ID]id[ARGS]{…}` after `[TOOL_CALLS]`.
fn mistral_args(s: &str) -> (Vec<RawCall>, usize, bool) {
    let Some(a) = s.find("[ARGS]") else {
        return (Vec::new(), s.len(), false);
    };
    let name = s[..a]
        .split("[CALL_ID]")
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let from = a + "[ARGS]".len();
    let rest = &s[from..];
    let vstart = from + rest.len() - rest.trim_start().len();
    let (end, done) = json_span(rest);
    let call = RawCall {
        name,
        args: s[vstart..from + end].to_string(),
        done,
    };
    (vec![call], from + end, done)
}

/// `function<｜tool▁sep｜>name\n```json\n{…}\n```` before `<｜tool▁call▁end｜>`.
fn deepseek_call(s: &str) -> (Vec<RawCall>, usize, bool) {
    const SEP: &str = "<｜tool▁sep｜>";
    let Some(a) = s.find(SEP) else {
        return (Vec::new(), s.len(), false);
    };
    let r = &s[a + SEP.len()..];
    let Some(nl) = r.find('\n') else {
        return (Vec::new(), s.len(), false);
    };
    let name = r[..nl].trim().to_string();
    let mut i = a + SEP.len() + nl + 1;
    let t = s[i..].trim_start();
    if "```json\n".starts_with(t) || "```\n".starts_with(t) {
        // the fence is still being written
        return (
            vec![RawCall {
                name,
                args: String::new(),
                done: false,
            }],
            s.len(),
            false,
        );
    }
    if let Some(r) = t.strip_prefix("```json").or_else(|| t.strip_prefix("```")) {
        i = s.len() - r.len();
    }
    let rest = &s[i..];
    let vstart = i + rest.len() - rest.trim_start().len();
    let (end, done) = json_span(rest);
    let args = s[vstart..i + end].to_string();
    let mut j = i + end;
    if done {
        let t = s[j..].trim_start();
        if let Some(r) = t.strip_prefix("```") {
            j = s.len() - r.len();
        } else if !t.is_empty() && "```".starts_with(t) {
            // the closing fence is still being written
            return (vec![RawCall { name, args, done }], s.len(), false);
        }
    }
    (vec![RawCall { name, args, done }], j, done)
}

const H_MESSAGE: &str = "<|message|>";

/// harmony: `to=functions.NAME …<|message|>ARGS`, ended by `<|call|>`,
/// `<|end|>` or the end of the answer; other text (the final message's) is
/// content, harmony's markers dropped.
fn harmony(text: &str, fin: bool, p: &mut Parsed) {
    let mut rest = text;
    while let Some(a) = rest.find("to=functions.") {
        // the header this recipient belongs to starts at the last `<|channel|>`
        // or `<|start|>` before it (or right there)
        let head_start = rest[..a]
            .rfind("<|channel|>")
            .filter(|&c| !rest[c..a].contains(H_MESSAGE))
            .unwrap_or(a);
        p.content.push_str(&harmony_text(&rest[..head_start]));
        let r = &rest[a + "to=functions.".len()..];
        let name_end = r
            .find(|c: char| c.is_whitespace() || c == '<')
            .unwrap_or(r.len());
        let name = r[..name_end].to_string();
        let Some(m) = r.find(H_MESSAGE) else {
            return;
        };
        let body = &r[m + H_MESSAGE.len()..];
        let vstart = body.len() - body.trim_start().len();
        let (end, done) = json_span(body);
        p.calls.push(RawCall {
            name,
            args: body[vstart..end].to_string(),
            done: done || fin,
        });
        if !done {
            return;
        }
        let mut next = &body[end..];
        for m in ["<|call|>", "<|end|>"] {
            if let Some(r) = next.trim_start().strip_prefix(m) {
                next = r;
            }
        }
        rest = next;
    }
    let keep = if fin {
        0
    } else {
        // (and a marker being written: it is dropped once whole)
        held(
            rest,
            &[
                "to=functions.",
                "<|channel|>",
                "<|start|>",
                "<|call|>",
                "<|end|>",
                "<|return|>",
            ],
        )
    };
    p.content
        .push_str(&harmony_text(&rest[..rest.len() - keep]));
}

/// Answer text without harmony's markers.
fn harmony_text(s: &str) -> String {
    let mut c = s.to_string();
    for m in [
        "<|start|>assistant",
        "<|start|>",
        "<|end|>",
        "<|call|>",
        "<|return|>",
    ] {
        c = c.replace(m, "");
    }
    c
}

/// Llama 3.x: the answer is calls only — `{"name": …, "parameters": …}`
/// objects (after `<|python_tag|>` or not, `;` or newlines between) — or
/// plain content.
fn llama3(text: &str, fin: bool, p: &mut Parsed) {
    let t = text.trim_start();
    let t = t.strip_prefix("<|python_tag|>").unwrap_or(t);
    let mut i = text.len() - t.len();
    if !t.starts_with('{') {
        if !fin && (t.is_empty() || "<|python_tag|>".starts_with(t)) {
            return;
        }
        p.content.push_str(text);
        return;
    }
    let mut calls = Vec::new();
    loop {
        let (c, end, done) = call_object(&text[i..]);
        let Some(c) = c else {
            if done || fin {
                // an object that is no call: the answer is content
                p.content.push_str(text);
                p.calls.clear();
            }
            return;
        };
        calls.push(c);
        p.calls = calls.clone();
        if !done {
            return;
        }
        i += end;
        let r = text[i..].trim_start_matches([';', ' ', '\n', '\r', '\t']);
        i = text.len() - r.len();
        if r.is_empty() || !r.starts_with('{') {
            if !r.is_empty() {
                p.content.push_str(r);
            }
            return;
        }
    }
}

/// Bare calls in a code fence (```` ```json ````, as small models write them
/// when they drop the tags): read into `p`, the fence not content. False when
/// `text` is no fenced call (nor, while it streams, a possible start of one).
fn fenced(text: &str, fin: bool, p: &mut Parsed) -> bool {
    let Some(r) = text.trim_start().strip_prefix("```") else {
        return !fin && "```".starts_with(text.trim_start());
    };
    let lang = r.len()
        - r.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .len();
    if !"json".starts_with(&r[..lang]) {
        return false;
    }
    let body = r[lang..].trim_start();
    if body.is_empty() {
        // still deciding
        return !fin;
    }
    if !body.starts_with('{') {
        return false;
    }
    let mut q = Parsed::default();
    llama3(body, fin, &mut q);
    if q.calls.is_empty() {
        if fin || !q.content.is_empty() {
            p.content.push_str(text);
        }
        return true;
    }
    p.calls = q.calls;
    let rest = q.content.trim_start();
    let rest = rest.strip_prefix("```").unwrap_or(rest);
    if fin || !"```".starts_with(rest) {
        p.content.push_str(rest);
    }
    true
}

/// What streams out of an answer with tools, piece by piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delta {
    Content(String),
    /// A call begins: its index among the answer's calls and its name.
    Start {
        index: usize,
        name: String,
    },
    /// More of a call's arguments text.
    Args {
        index: usize,
        text: String,
    },
}

/// Reads calls out of an answer as it streams: each piece of text in, the
/// content and call pieces it completes out.
#[derive(Clone, Debug)]
pub struct ToolStream {
    format: ToolFormat,
    names: Vec<String>,
    text: String,
    sent_content: usize,
    /// Per call streamed: its arguments text sent so far.
    sent: Vec<usize>,
}

impl ToolStream {
    /// `prefix`: what the prompt already wrote of the answer (a forced call's opening).
    pub fn new(format: ToolFormat, names: Vec<String>, prefix: &str) -> ToolStream {
        ToolStream {
            format,
            names,
            text: prefix.to_string(),
            sent_content: 0,
            sent: Vec::new(),
        }
    }

    pub fn push(&mut self, piece: &str) -> Vec<Delta> {
        self.text.push_str(piece);
        self.diff(false)
    }

    /// The end of the answer: what was held back.
    pub fn finish(&mut self) -> Vec<Delta> {
        self.diff(true)
    }

    /// Calls streamed so far.
    pub fn n_calls(&self) -> usize {
        self.sent.len()
    }

    fn diff(&mut self, fin: bool) -> Vec<Delta> {
        let mut p = parse(self.format, &self.text, fin);
        if fin
            && self.format == ToolFormat::Hermes
            && self.sent.is_empty()
            && !p.calls.is_empty()
            && !p.calls.iter().any(|c| self.names.contains(&c.name))
        {
            // as a whole Hermes answer is read (`parse_tool_calls`): what
            // looked like calls but names no declared function is content
            p = Parsed {
                content: self.text.clone(),
                calls: Vec::new(),
            };
        }
        let mut out = Vec::new();
        let calls: Vec<&RawCall> = p
            .calls
            .iter()
            .filter(|c| self.names.iter().any(|n| n == &c.name))
            .collect();
        if p.content.len() > self.sent_content && p.content.is_char_boundary(self.sent_content) {
            let c = &p.content[self.sent_content..];
            // whitespace alone (around calls) waits until text follows it;
            // the answer's leading whitespace is not content
            if !c.trim().is_empty() {
                let c = if self.sent_content == 0 {
                    c.trim_start()
                } else {
                    c
                };
                out.push(Delta::Content(c.to_string()));
                self.sent_content = p.content.len();
            }
        }
        for (k, c) in calls.iter().enumerate() {
            if k == self.sent.len() {
                out.push(Delta::Start {
                    index: k,
                    name: c.name.clone(),
                });
                self.sent.push(0);
            }
            let sent = self.sent[k];
            if c.args.len() > sent && c.args.is_char_boundary(sent) {
                out.push(Delta::Args {
                    index: k,
                    text: c.args[sent..].to_string(),
                });
                self.sent[k] = c.args.len();
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "formats_tests.rs"]
mod tests;
