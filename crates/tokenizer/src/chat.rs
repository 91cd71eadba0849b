//! Chat templates: the file's `tokenizer.chat_template` (Jinja, rendered with
//! minijinja in HF-compatible mode: `trim_blocks`, `lstrip_blocks`, Python
//! string methods via pycompat) or a built-in template for known families.

use crate::{Tokenizer, TokenizerError};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: String,
    pub content: String,
    /// An assistant turn's function calls, as OpenAI's `tool_calls` (each
    /// `{"id", "type": "function", "function": {"name", "arguments"}}`, the
    /// arguments an object), for templates that render them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<serde_json::Value>,
    /// A `tool` turn's answer to this call id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// An assistant turn's reasoning (its thinking), for templates that
    /// render it (Qwen3, gpt-oss's `thinking` ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            content: content.into(),
            ..Default::default()
        }
    }
    pub fn system(c: impl Into<String>) -> Self {
        Self::new("system", c)
    }
    pub fn user(c: impl Into<String>) -> Self {
        Self::new("user", c)
    }
    pub fn assistant(c: impl Into<String>) -> Self {
        Self::new("assistant", c)
    }
}

/// A rendered conversation: the prompt text plus the byte ranges of `text`
/// that came from message contents (where special tokens must not be parsed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderedChat {
    pub text: String,
    pub content_ranges: Vec<(usize, usize)>,
}

impl RenderedChat {
    /// Text with no user content at all (everything may contain special tokens).
    pub fn trusted(text: impl Into<String>) -> Self {
        RenderedChat {
            text: text.into(),
            content_ranges: Vec::new(),
        }
    }
}

/// Gemma 3's official format (system prompt folded into the first user turn).
pub const GEMMA_TEMPLATE: &str = "{{ bos_token }}\
{%- if messages[0]['role'] == 'system' -%}\
{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\
{%- set loop_messages = messages[1:] -%}\
{%- else -%}\
{%- set first_user_prefix = '' -%}\
{%- set loop_messages = messages -%}\
{%- endif -%}\
{%- for message in loop_messages -%}\
{%- if message['role'] == 'assistant' -%}{%- set role = 'model' -%}{%- else -%}{%- set role = message['role'] -%}{%- endif -%}\
{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') + message['content'] | trim + '<end_of_turn>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}";

/// ChatML (`<|im_start|>role\ncontent<|im_end|>\n`).
pub const CHATML_TEMPLATE: &str = "{%- for message in messages -%}\
{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}\
{%- endfor -%}\
{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}";

/// How to render a conversation: the arguments of transformers'
/// `apply_chat_template` beyond the messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions<'a> {
    /// End with the start of an assistant turn.
    pub add_generation_prompt: bool,
    /// OpenAI-style function definitions (`[{"type": "function", "function": {...}}]`).
    pub tools: Option<&'a serde_json::Value>,
    /// Further template variables (`apply_chat_template(**kwargs)`):
    /// `enable_thinking`, `reasoning_effort`, `date_string`, ... They may
    /// replace `bos_token`/`eos_token`, not `messages`, `tools`, `documents`
    /// or `add_generation_prompt`.
    pub kwargs: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The instant `strftime_now` formats, in Unix seconds (UTC); now when `None`.
    pub now: Option<i64>,
}

/// The variables every render sets, which `kwargs` may not replace.
const RESERVED: [&str; 4] = ["messages", "tools", "documents", "add_generation_prompt"];

/// Hard cap on template source size.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// Bounds on one rendering, so that a template from a model file cannot hang
/// or exhaust the process (a nested loop, output that never ends): minijinja
/// instructions ("fuel") — [`RENDER_FUEL`], far beyond what real templates
/// use (a few hundred per message) — and output bytes — [`RENDER_BYTES`] plus
/// [`RENDER_BYTES_PER_INPUT`] per byte of the messages and tools. (Not
/// bounded: memory of a string a template builds up in a variable without
/// writing it — `{% set %}` blocks, repeated `~` — only its steps are.)
pub const RENDER_FUEL: u64 = 20_000_000;
pub const RENDER_BYTES: usize = 1 << 20;
pub const RENDER_BYTES_PER_INPUT: usize = 8;

/// Where a rendering writes: counts the bytes against the output bound and
/// stops at once when the caller cancels.
struct BoundedOut<'a> {
    buf: Vec<u8>,
    limit: usize,
    full: bool,
    cancel: &'a AtomicBool,
}

impl std::io::Write for BoundedOut<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled")); // (not Interrupted: write_all retries that)
        }
        if self.buf.len() + b.len() > self.limit {
            self.full = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct ChatTemplate {
    name: String,
    source: String,
    builtin: bool,
    env: minijinja::Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("name", &self.name)
            .field("builtin", &self.builtin)
            .finish()
    }
}

/// The instant [`pin_template_clock`] fixed, `i64::MIN` when none.
static PINNED_NOW: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);

/// Fix the instant every template's `strftime_now` formats (Unix seconds,
/// UTC) for the rest of the process, where a render does not give its own
/// ([`RenderOptions::now`]). Templates that print today's date (gpt-oss's,
/// Llama 3.x's) otherwise give another prompt, and so other greedy tokens,
/// each day. The environment's `SOURCE_DATE_EPOCH` (the reproducible-builds
/// convention) does the same without code.
pub fn pin_template_clock(unix_secs: i64) {
    PINNED_NOW.store(unix_secs, std::sync::atomic::Ordering::Relaxed);
}

fn unix_now() -> i64 {
    let pinned = PINNED_NOW.load(std::sync::atomic::Ordering::Relaxed);
    if pinned != i64::MIN {
        return pinned;
    }
    static EPOCH: std::sync::OnceLock<Option<i64>> = std::sync::OnceLock::new();
    let env = *EPOCH.get_or_init(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    });
    env.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

fn strftime_now(fmt: String) -> String {
    strftime(&fmt, unix_now())
}

/// Minimal UTC strftime (%Y %m %d %e %H %M %S %B %b %A %a %y %j %%).
pub(crate) fn strftime(fmt: &str, secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // civil from days (Howard Hinnant)
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    if m <= 2 {
        y += 1;
    }
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const DAYS: [&str; 7] = [
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
    ];
    let wd = DAYS[days.rem_euclid(7) as usize];
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + if leap && m > 2 { 1 } else { 0 };
    let mut out = String::new();
    let mut it = fmt.chars();
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('Y') => out.push_str(&y.to_string()),
            Some('y') => out.push_str(&format!("{:02}", y % 100)),
            Some('m') => out.push_str(&format!("{m:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('e') => out.push_str(&format!("{d:>2}")),
            Some('H') => out.push_str(&format!("{:02}", sod / 3600)),
            Some('M') => out.push_str(&format!("{:02}", sod / 60 % 60)),
            Some('S') => out.push_str(&format!("{:02}", sod % 60)),
            Some('j') => out.push_str(&format!("{yday:03}")),
            Some('B') => out.push_str(MONTHS[(m - 1) as usize]),
            Some('b') => out.push_str(&MONTHS[(m - 1) as usize][..3]),
            Some('A') => out.push_str(wd),
            Some('a') => out.push_str(&wd[..3]),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

impl ChatTemplate {
    /// The file's `tokenizer.chat_template`, or a built-in one chosen by
    /// architecture / vocabulary (Gemma, then ChatML), else an error.
    pub fn from_gguf(f: &gguf::GgufFile, tok: &Tokenizer) -> Result<ChatTemplate, TokenizerError> {
        if let Some(v) = f.get("tokenizer.chat_template") {
            let src = v.as_str().ok_or_else(|| TokenizerError::WrongType {
                key: "tokenizer.chat_template".into(),
                expected: "string",
            })?;
            return Self::new("tokenizer.chat_template", src, false, tok);
        }
        let arch = f.architecture().map(|s| s.to_string());
        if let Some(b) = Self::builtin_for(arch.as_deref(), tok) {
            return Ok(b);
        }
        Err(TokenizerError::NoTemplate { arch })
    }

    /// A built-in template for the family, if one fits.
    pub fn builtin_for(arch: Option<&str>, tok: &Tokenizer) -> Option<ChatTemplate> {
        let is_gemma = matches!(arch, Some(a) if a.starts_with("gemma"))
            || (tok.token_id("<start_of_turn>").is_some()
                && tok.token_id("<end_of_turn>").is_some());
        if is_gemma {
            return Self::new("built-in gemma", GEMMA_TEMPLATE, true, tok).ok();
        }
        if tok.token_id("<|im_start|>").is_some() {
            return Self::new("built-in chatml", CHATML_TEMPLATE, true, tok).ok();
        }
        None
    }

    /// Compiles a template. `name` is used in error messages.
    pub fn new(
        name: &str,
        source: &str,
        builtin: bool,
        tok: &Tokenizer,
    ) -> Result<ChatTemplate, TokenizerError> {
        let text = |id: Option<u32>| {
            id.map(|i| tok.token_text(i).to_string())
                .unwrap_or_default()
        };
        let mut t = Self::from_source(name, source, &text(tok.bos()), &text(tok.eos()))?;
        t.builtin = builtin;
        Ok(t)
    }

    /// Compiles a template with the `bos_token` and `eos_token` texts it is
    /// given (no vocabulary needed).
    pub fn from_source(
        name: &str,
        source: &str,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate, TokenizerError> {
        let terr = |msg: String| TokenizerError::Template {
            which: name.to_string(),
            msg,
        };
        if source.len() > MAX_TEMPLATE_BYTES {
            return Err(terr(format!(
                "template is {} bytes (cap {MAX_TEMPLATE_BYTES})",
                source.len()
            )));
        }
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        env.set_recursion_limit(200);
        env.set_fuel(Some(RENDER_FUEL));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // Python's printing of None/True/lists, transformers' `tojson`, generators
        crate::pyjinja::install(&mut env);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    format!("raise_exception: {msg}"),
                ))
            },
        );
        env.add_function("strftime_now", strftime_now);
        let compiled = crate::pyjinja::rewrite_generation_tags(source).into_owned();
        env.add_template_owned("chat", compiled)
            .map_err(|e| terr(describe(&e)))?;
        Ok(ChatTemplate {
            name: name.to_string(),
            source: source.to_string(),
            builtin: false,
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    fn render_raw(
        &self,
        messages: &[Message],
        opts: &RenderOptions,
        cancel: &AtomicBool,
    ) -> Result<String, TokenizerError> {
        use minijinja::Value;
        let t = self.env.get_template("chat").map_err(|e| self.err(&e))?;
        // transformers: special tokens, then the caller's kwargs, then the fixed arguments
        let mut ctx: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
        ctx.insert("bos_token".into(), Value::from(self.bos_token.as_str()));
        ctx.insert("eos_token".into(), Value::from(self.eos_token.as_str()));
        for (k, v) in opts.kwargs.into_iter().flatten() {
            if RESERVED.contains(&k.as_str()) {
                return Err(TokenizerError::Template {
                    which: self.name.clone(),
                    msg: format!("template argument `{k}` cannot be set by a keyword argument"),
                });
            }
            ctx.insert(k.clone(), Value::from_serialize(v));
        }
        if let Some(now) = opts.now {
            let f = move |fmt: String| strftime(&fmt, now);
            ctx.insert("strftime_now".into(), Value::from_function(f));
        }
        ctx.insert("messages".into(), Value::from_serialize(messages));
        ctx.insert(
            "tools".into(),
            opts.tools.map_or(Value::from(()), Value::from_serialize),
        );
        ctx.insert("documents".into(), Value::from(()));
        ctx.insert(
            "add_generation_prompt".into(),
            Value::from(opts.add_generation_prompt),
        );
        let input: usize = messages
            .iter()
            .map(|m| {
                m.content.len()
                    + m.role.len()
                    + m.tool_calls.as_ref().map_or(0, |c| c.to_string().len())
                    + m.reasoning_content.as_ref().map_or(0, String::len)
            })
            .sum::<usize>()
            + opts.tools.map_or(0, |t| t.to_string().len())
            + opts.kwargs.map_or(0, |k| {
                serde_json::Value::Object(k.clone()).to_string().len()
            });
        let limit = RENDER_BYTES.saturating_add(input.saturating_mul(RENDER_BYTES_PER_INPUT));
        let mut out = BoundedOut {
            buf: Vec::new(),
            limit,
            full: false,
            cancel,
        };
        // The template engine panics on a few odd templates (minijinja 2.24
        // indexes past the end when slicing an empty string or list backwards,
        // `''[::-1]`: found by the long fuzz run); a panic there is the
        // template's failure, not hearth's.
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            t.render_captured_to(ctx, &mut out)
        }));
        let Ok(rendered) = rendered else {
            return Err(self.bounded(
                "the template engine failed on it (a slice of an empty string or list, read backwards?)"
                    .into(),
            ));
        };
        if let Err(e) = rendered {
            return Err(if cancel.load(Ordering::Relaxed) {
                TokenizerError::Cancelled
            } else if e.kind() == minijinja::ErrorKind::OutOfFuel {
                self.bounded(format!(
                    "it did not finish within {RENDER_FUEL} steps (a loop without end?)"
                ))
            } else if out.full {
                self.bounded(format!(
                    "it wrote more than {} MB for {input} bytes of messages",
                    limit >> 20
                ))
            } else {
                self.err(&e)
            });
        }
        String::from_utf8(out.buf).map_err(|_| self.bounded("it wrote invalid UTF-8".into()))
    }

    fn bounded(&self, why: String) -> TokenizerError {
        TokenizerError::Template {
            which: self.name.clone(),
            msg: format!(
                "the model file's chat template was stopped: {why}; the template is broken or hostile \
                 (run the prompt with --raw, or /v1/completions, to do without it)"
            ),
        }
    }

    /// Whether the template renders a `tools` list (function calling).
    pub fn supports_tools(&self) -> bool {
        self.source().contains("tools")
    }

    fn err(&self, e: &minijinja::Error) -> TokenizerError {
        TokenizerError::Template {
            which: self.name.clone(),
            msg: describe(e),
        }
    }

    /// Renders the conversation. The returned `content_ranges` mark message
    /// contents so that `Tokenizer::encode_chat` never turns user text into
    /// special tokens.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<RenderedChat, TokenizerError> {
        self.render_with_tools(messages, None, add_generation_prompt)
    }

    /// [`Self::render`] with OpenAI-style `tools` (function definitions) for
    /// templates that take them.
    pub fn render_with_tools(
        &self,
        messages: &[Message],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
    ) -> Result<RenderedChat, TokenizerError> {
        let opts = RenderOptions {
            add_generation_prompt,
            tools,
            ..Default::default()
        };
        self.render_with(messages, &opts)
    }

    /// [`Self::render_with_tools`] that stops (with
    /// [`TokenizerError::Cancelled`]) as soon as it next writes once `cancel`
    /// is set. Every rendering is also bounded in steps and output (see
    /// [`RENDER_FUEL`]).
    pub fn render_cancellable(
        &self,
        messages: &[Message],
        tools: Option<&serde_json::Value>,
        add_generation_prompt: bool,
        cancel: &AtomicBool,
    ) -> Result<RenderedChat, TokenizerError> {
        let opts = RenderOptions {
            add_generation_prompt,
            tools,
            ..Default::default()
        };
        self.render_with_cancel(messages, &opts, cancel)
    }

    /// [`Self::render`] with all of `apply_chat_template`'s arguments: tools,
    /// template kwargs such as `enable_thinking`, a fixed clock. Every
    /// rendering is bounded in steps and output (see [`RENDER_FUEL`]).
    pub fn render_with(
        &self,
        messages: &[Message],
        opts: &RenderOptions,
    ) -> Result<RenderedChat, TokenizerError> {
        self.render_with_cancel(messages, opts, &AtomicBool::new(false))
    }

    /// [`Self::render_with`] that stops (with [`TokenizerError::Cancelled`])
    /// as soon as it next writes once `cancel` is set — a server request
    /// whose client left.
    pub fn render_with_cancel(
        &self,
        messages: &[Message],
        opts: &RenderOptions,
        cancel: &AtomicBool,
    ) -> Result<RenderedChat, TokenizerError> {
        // one instant for both renders below
        let opts = &RenderOptions {
            now: Some(opts.now.unwrap_or_else(unix_now)),
            ..*opts
        };
        let real = self.render_raw(messages, opts, cancel)?;
        // Render again with each content replaced by a unique sentinel to learn
        // where contents land in the output.
        let sentinel = |i: usize| format!("\u{E000}hearth-msg-{i}\u{E001}");
        let smsgs: Vec<Message> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| Message {
                content: sentinel(i),
                ..m.clone()
            })
            .collect();
        if let Ok(stext) = self.render_raw(&smsgs, opts, cancel) {
            type Variant = fn(&str) -> &str;
            let variants: [Variant; 3] = [|s| s, |s| s.trim(), |s| s.trim_end()];
            for v in variants {
                if let Some(r) = substitute(&stext, messages, &sentinel, v) {
                    if r.text == real {
                        return Ok(r);
                    }
                }
            }
        }
        // Fallback: locate contents in order in the real text.
        let mut ranges = Vec::new();
        let mut pos = 0;
        for m in messages {
            for c in [m.content.as_str(), m.content.trim()] {
                if c.is_empty() {
                    continue;
                }
                if let Some(p) = real[pos..].find(c) {
                    ranges.push((pos + p, pos + p + c.len()));
                    pos += p + c.len();
                    break;
                }
            }
        }
        Ok(RenderedChat {
            text: real,
            content_ranges: ranges,
        })
    }
}

fn substitute(
    stext: &str,
    messages: &[Message],
    sentinel: &dyn Fn(usize) -> String,
    variant: fn(&str) -> &str,
) -> Option<RenderedChat> {
    let mut text = String::with_capacity(stext.len());
    let mut ranges = Vec::new();
    let mut rest = stext;
    while let Some(p) = rest.find('\u{E000}') {
        text.push_str(&rest[..p]);
        let after = &rest[p..];
        let end = after.find('\u{E001}')?;
        let tag = &after[..end + '\u{E001}'.len_utf8()];
        let idx: usize = tag
            .strip_prefix("\u{E000}hearth-msg-")?
            .strip_suffix('\u{E001}')?
            .parse()
            .ok()?;
        if sentinel(idx) != tag || idx >= messages.len() {
            return None;
        }
        let c = variant(&messages[idx].content);
        let s = text.len();
        text.push_str(c);
        if !c.is_empty() {
            ranges.push((s, text.len()));
        }
        rest = &after[tag.len()..];
    }
    text.push_str(rest);
    Some(RenderedChat {
        text,
        content_ranges: ranges,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn strftime_basic() {
        // 2024-03-05 07:08:09 UTC = 1709622489
        assert_eq!(
            super::strftime("%Y-%m-%d %H:%M:%S %b %d %A", 1709622489),
            "2024-03-05 07:08:09 Mar 05 Tuesday"
        );
    }
}
