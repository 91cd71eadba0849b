//! Ollama's Modelfile: `FROM`, `SYSTEM`, `PARAMETER`, `TEMPLATE`, `LICENSE`,
//! `MESSAGE` (the format of github.com/ollama/ollama `parser/parser.go` and
//! `docs/modelfile.md`: one instruction per line, case-insensitive, `#`
//! comments, values bare to the end of the line or quoted with `"` or `"""`,
//! which may span lines). A created model keeps what its Modelfile set as
//! [`ModelDefaults`] in its manifest; `hearth run`/`chat`/`serve` apply them
//! whenever the model is used.
//!
//! `TEMPLATE` here is a Jinja chat template (the language of a GGUF's
//! `tokenizer.chat_template`), not Ollama's Go templates: those are refused
//! with an error saying so.

use crate::error::StoreError;
use serde::{Deserialize, Serialize};

/// What a created model sets, stored in its manifest (`modelfile`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelDefaults {
    /// The `FROM` it was created from, as written (a store name or a path).
    pub from: String,
    /// The system message used when a request brings none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// A Jinja chat template replacing the GGUF's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// License texts (`LICENSE`, repeatable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub license: Vec<String>,
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub parameters: Params,
    /// A conversation put before every conversation with the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<PresetMessage>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PresetMessage {
    pub role: String,
    pub content: String,
}

/// `PARAMETER` values (Ollama's names). Unset ones keep hearth's defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    /// The penalty window (hearth's `penalty_last_n`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_last_n: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Most tokens per answer (-1: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<i64>,
    /// Context size in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// `repeat_last_n -1` (Ollama: the whole context), as the server's API takes it.
pub const WHOLE_WINDOW: usize = usize::MAX / 2;

/// The `PARAMETER` names hearth takes, in the order `show --modelfile` prints them.
pub const PARAMETERS: &[&str] = &[
    "num_ctx",
    "num_predict",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
];

impl Params {
    pub fn is_empty(&self) -> bool {
        *self == Params::default()
    }

    /// Set `name` from its text in a Modelfile (`PARAMETER name value`);
    /// `stop` accumulates.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(name: &str, v: &str, what: &str) -> Result<T, String> {
            v.trim()
                .parse()
                .map_err(|_| format!("PARAMETER {name} must be {what}, got {v:?}"))
        }
        let n = name.to_ascii_lowercase();
        match n.as_str() {
            "temperature" => self.temperature = Some(num(&n, value, "a number")?),
            "top_k" => self.top_k = Some(num(&n, value, "a whole number >= 0")?),
            "top_p" => self.top_p = Some(num(&n, value, "a number")?),
            "min_p" => self.min_p = Some(num(&n, value, "a number")?),
            "repeat_penalty" => self.repeat_penalty = Some(num(&n, value, "a number")?),
            "repeat_last_n" => {
                let v: i64 = num(&n, value, "a whole number")?;
                // Ollama: -1 means the whole context; hearth's window is bounded
                self.repeat_last_n = Some(if v < 0 { WHOLE_WINDOW } else { v as usize });
            }
            "presence_penalty" => self.presence_penalty = Some(num(&n, value, "a number")?),
            "frequency_penalty" => self.frequency_penalty = Some(num(&n, value, "a number")?),
            "seed" => {
                let v: i64 = num(&n, value, "a whole number")?;
                self.seed = Some(v as u64);
            }
            "num_predict" => {
                let v: i64 = num(&n, value, "a whole number (-1: no limit)")?;
                if v == 0 || v < -2 {
                    return Err(format!(
                        "PARAMETER num_predict must be -1 (no limit) or at least 1, got {v}"
                    ));
                }
                self.num_predict = Some(if v < 0 { -1 } else { v });
            }
            "num_ctx" => {
                let v: usize = num(&n, value, "a whole number of tokens >= 1")?;
                if v == 0 {
                    return Err("PARAMETER num_ctx must be at least 1".into());
                }
                self.num_ctx = Some(v);
            }
            "stop" => {
                if value.is_empty() {
                    return Err("PARAMETER stop needs a text to stop at".into());
                }
                self.stop.push(value.to_string())
            }
            other => return Err(unknown_parameter(other)),
        }
        Ok(())
    }

    /// Set `name` from a JSON value (`/api/create`'s `parameters` object).
    pub fn set_json(&mut self, name: &str, v: &serde_json::Value) -> Result<(), String> {
        use serde_json::Value;
        match v {
            Value::Array(items) if name.eq_ignore_ascii_case("stop") => {
                for s in items {
                    let s = s
                        .as_str()
                        .ok_or_else(|| format!("parameters.stop must hold texts, got {s}"))?;
                    self.set("stop", s)?;
                }
                Ok(())
            }
            Value::String(s) => self.set(name, s),
            Value::Number(n) => self.set(name, &n.to_string()),
            Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => {
                // known names get their type's message; unknown ones say so
                self.set(name, &v.to_string())
                    .map_err(|e| e.replace("PARAMETER ", "parameters."))
            }
        }
    }

    /// `self` with every value `over` sets replacing it (`stop`: replaced
    /// when `over` has any).
    pub fn overlaid(&self, over: &Params) -> Params {
        Params {
            temperature: over.temperature.or(self.temperature),
            top_k: over.top_k.or(self.top_k),
            top_p: over.top_p.or(self.top_p),
            min_p: over.min_p.or(self.min_p),
            repeat_penalty: over.repeat_penalty.or(self.repeat_penalty),
            repeat_last_n: over.repeat_last_n.or(self.repeat_last_n),
            presence_penalty: over.presence_penalty.or(self.presence_penalty),
            frequency_penalty: over.frequency_penalty.or(self.frequency_penalty),
            seed: over.seed.or(self.seed),
            num_predict: over.num_predict.or(self.num_predict),
            num_ctx: over.num_ctx.or(self.num_ctx),
            stop: if over.stop.is_empty() {
                self.stop.clone()
            } else {
                over.stop.clone()
            },
        }
    }

    /// The most tokens per answer they set: `Some(None)` = no limit.
    pub fn max_tokens(&self) -> Option<Option<usize>> {
        self.num_predict
            .map(|n| if n < 0 { None } else { Some(n as usize) })
    }

    /// Each set value as `(name, text)`, in [`PARAMETERS`] order (`stop` once per text).
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = Vec::new();
        let mut put = |k: &'static str, x: Option<String>| {
            if let Some(x) = x {
                v.push((k, x));
            }
        };
        put("num_ctx", self.num_ctx.map(|x| x.to_string()));
        put("num_predict", self.num_predict.map(|x| x.to_string()));
        put("temperature", self.temperature.map(|x| x.to_string()));
        put("top_k", self.top_k.map(|x| x.to_string()));
        put("top_p", self.top_p.map(|x| x.to_string()));
        put("min_p", self.min_p.map(|x| x.to_string()));
        put("repeat_penalty", self.repeat_penalty.map(|x| x.to_string()));
        put(
            "repeat_last_n",
            self.repeat_last_n
                .map(|x| if x == WHOLE_WINDOW { -1 } else { x as i64 }.to_string()),
        );
        put(
            "presence_penalty",
            self.presence_penalty.map(|x| x.to_string()),
        );
        put(
            "frequency_penalty",
            self.frequency_penalty.map(|x| x.to_string()),
        );
        put("seed", self.seed.map(|x| x.to_string()));
        for s in &self.stop {
            v.push(("stop", s.clone()));
        }
        v
    }
}

fn unknown_parameter(name: &str) -> String {
    const OLLAMA_ONLY: &[&str] = &[
        "mirostat",
        "mirostat_eta",
        "mirostat_tau",
        "tfs_z",
        "typical_p",
        "num_keep",
        "penalize_newline",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "use_mmap",
        "use_mlock",
        "num_thread",
        "numa",
        "low_vram",
        "f16_kv",
        "vocab_only",
        "logits_all",
    ];
    let why = if OLLAMA_ONLY.contains(&name) {
        "is one of Ollama's that hearth does not have"
    } else {
        "is not a parameter"
    };
    format!(
        "PARAMETER {name} {why}; the parameters are {}",
        PARAMETERS.join(", ")
    )
}

/// A parsed Modelfile: where the weights come from, and what it sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Modelfile {
    /// `FROM`: a store name or a GGUF path (relative paths are relative to
    /// the Modelfile's folder).
    pub from: String,
    pub defaults: ModelDefaults,
}

fn err(line: usize, msg: impl Into<String>) -> StoreError {
    StoreError::Modelfile {
        line: Some(line),
        msg: msg.into(),
    }
}

/// Strip one level of Ollama's quoting (`"""x"""`, `"x"`); `None` while a
/// quote is still open.
fn unquote(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix("\"\"\"") {
        return (rest.len() >= 3)
            .then(|| rest.strip_suffix("\"\"\""))
            .flatten();
    }
    if let Some(rest) = s.strip_prefix('"') {
        return rest.strip_suffix('"');
    }
    Some(s)
}

/// How a value is written back: bare when that reads back the same, else
/// in `"""` (a text with `"""` at the end of one of its lines cannot be
/// quoted in a Modelfile and would not read back the same).
pub fn quote(s: &str) -> String {
    let bare_ok = !s.is_empty()
        && !s.contains(['\n', '\r'])
        && s.trim() == s
        && !s.starts_with('"')
        && !s.starts_with('#');
    if bare_ok {
        s.to_string()
    } else {
        format!("\"\"\"{s}\"\"\"")
    }
}

impl Modelfile {
    /// Parse Modelfile text. Errors name the line.
    pub fn parse(text: &str) -> Result<Modelfile, StoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.split('\n').collect();
        let mut mf = Modelfile::default();
        let mut has_from = false;
        let mut i = 0;
        while i < lines.len() {
            let lineno = i + 1;
            let line = lines[i].trim_end_matches('\r').trim_start();
            i += 1;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name_end = line
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(line.len());
            let (name, rest) = line.split_at(name_end);
            let cmd = name.to_ascii_lowercase();
            let known = [
                "from",
                "system",
                "template",
                "parameter",
                "license",
                "message",
                "adapter",
                "draft",
                "renderer",
                "parser",
                "requires",
            ];
            if known.contains(&cmd.as_str()) && rest.trim().is_empty() {
                let what = match cmd.as_str() {
                    "parameter" | "message" => " a name then a value",
                    _ => " a value",
                };
                return Err(err(lineno, format!("{name} needs{what}")));
            }
            if !known.contains(&cmd.as_str()) || !rest.starts_with([' ', '\t']) {
                return Err(err(
                    lineno,
                    format!(
                        "{:?} is not an instruction; a Modelfile's lines start with FROM, SYSTEM, PARAMETER, TEMPLATE, LICENSE, MESSAGE or # (a comment)",
                        line.split_whitespace().next().unwrap_or(line)
                    ),
                ));
            }
            let mut rest = rest.trim_start_matches([' ', '\t']);
            // PARAMETER name / MESSAGE role come before the value
            let mut key = String::new();
            if cmd == "parameter" || cmd == "message" {
                let end = rest.find([' ', '\t']).unwrap_or(rest.len());
                key = rest[..end].to_string();
                rest = rest[end..].trim_start_matches([' ', '\t']);
                let ok =
                    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return Err(err(
                        lineno,
                        format!("{} needs a name then a value", cmd.to_ascii_uppercase()),
                    ));
                }
            }
            // the value: to the end of the line, or a quote that may span lines
            let mut value = rest.trim_end_matches('\r').to_string();
            while unquote(value.trim()).is_none() {
                if i >= lines.len() {
                    return Err(err(
                        lineno,
                        "this quoted value is never closed (a \"\"\" or \" is missing at the end of a line)",
                    ));
                }
                value.push('\n');
                value.push_str(lines[i].trim_end_matches('\r'));
                i += 1;
            }
            let value = unquote(value.trim()).unwrap_or_default().to_string();
            let d = &mut mf.defaults;
            match cmd.as_str() {
                "from" => {
                    if value.is_empty() {
                        return Err(err(lineno, "FROM needs a store model name or a GGUF path"));
                    }
                    if has_from {
                        return Err(err(lineno, "more than one FROM; a model has one"));
                    }
                    has_from = true;
                    mf.from = value;
                }
                "system" => d.system = Some(value),
                "template" => d.template = Some(value),
                "license" => d.license.push(value),
                "parameter" => d.parameters.set(&key, &value).map_err(|m| err(lineno, m))?,
                "message" => {
                    let role = key.to_ascii_lowercase();
                    if !matches!(role.as_str(), "system" | "user" | "assistant") {
                        return Err(err(
                            lineno,
                            format!("MESSAGE role {key:?} must be system, user or assistant"),
                        ));
                    }
                    d.messages.push(PresetMessage {
                        role,
                        content: value,
                    });
                }
                "requires" => {} // the Ollama version a Modelfile wants: nothing to do here
                other => {
                    return Err(err(
                        lineno,
                        format!(
                            "{} is not supported by hearth (no adapters, draft models or Ollama renderers/parsers); remove that line",
                            other.to_ascii_uppercase()
                        ),
                    ))
                }
            }
        }
        if !has_from {
            return Err(StoreError::Modelfile {
                line: None,
                msg: "no FROM line: say which model it starts from (FROM qwen2.5-coder:0.5b, or FROM ./model.gguf)".into(),
            });
        }
        mf.defaults.from = mf.from.clone();
        Ok(mf)
    }
}

impl ModelDefaults {
    /// `self` with everything `over` sets replacing it (a model created
    /// from a created model inherits its settings).
    pub fn overlaid(&self, over: &ModelDefaults) -> ModelDefaults {
        ModelDefaults {
            from: over.from.clone(),
            system: over.system.clone().or_else(|| self.system.clone()),
            template: over.template.clone().or_else(|| self.template.clone()),
            license: if over.license.is_empty() {
                self.license.clone()
            } else {
                over.license.clone()
            },
            parameters: self.parameters.overlaid(&over.parameters),
            messages: if over.messages.is_empty() {
                self.messages.clone()
            } else {
                over.messages.clone()
            },
        }
    }

    /// The Modelfile that makes this model again: `FROM` the given place
    /// (the model's own GGUF file, say) and every setting.
    pub fn to_modelfile(&self, from: &str) -> String {
        let mut s = format!("FROM {}\n", quote(from));
        if let Some(t) = &self.template {
            s.push_str(&format!("TEMPLATE {}\n", quote(t)));
        }
        if let Some(t) = &self.system {
            s.push_str(&format!("SYSTEM {}\n", quote(t)));
        }
        for (k, v) in self.parameters.lines() {
            s.push_str(&format!("PARAMETER {k} {}\n", quote(&v)));
        }
        for m in &self.messages {
            s.push_str(&format!("MESSAGE {} {}\n", m.role, quote(&m.content)));
        }
        for l in &self.license {
            s.push_str(&format!("LICENSE {}\n", quote(l)));
        }
        s
    }

    /// Ollama's `parameters` text of `/api/show`: `name value` per line.
    pub fn parameters_text(&self) -> String {
        self.parameters
            .lines()
            .iter()
            .map(|(k, v)| {
                let v = if *k == "stop" {
                    format!("{v:?}")
                } else {
                    v.clone()
                };
                format!("{k:<20}{v}")
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether `src` is written in Ollama's Go template syntax (`{{ .System }}`,
/// `{{ if .Prompt }}`, `{{ range .Messages }}`, `{{ end }}`) rather than Jinja.
pub fn looks_like_go_template(src: &str) -> bool {
    let mut rest = src;
    while let Some(a) = rest.find("{{") {
        let inner = &rest[a + 2..];
        let end = inner.find("}}").unwrap_or(inner.len());
        let body = inner[..end].trim_start_matches('-').trim();
        let word = body.split_whitespace().next().unwrap_or("");
        if body.starts_with('.')
            || body.starts_with('$')
            || matches!(
                word,
                "if" | "range" | "end" | "else" | "with" | "template" | "define" | "block"
            )
        {
            return true;
        }
        rest = &inner[end..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_instruction() {
        let text = "# a comment\n\
            FROM qwen2.5-coder:0.5b\n\
            from ignored-second\n";
        let e = Modelfile::parse(text).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("more than one FROM"),
            "{e}"
        );

        let text = "\u{feff}FROM ./models/x.gguf\r\n\
            SYSTEM \"\"\"You are Mario.\nStay in character.\"\"\"\n\
            PARAMETER temperature 0.2\n\
            PARAMETER num_ctx 2048\n\
            parameter stop <|im_end|>\n\
            PARAMETER stop \"two words\"\n\
            TEMPLATE {{ messages[0].content }}\n\
            LICENSE \"\"\"MIT\n\nCopyright\"\"\"\n\
            MESSAGE user Is Toronto in Canada?\n\
            MESSAGE assistant yes\n\
            REQUIRES 0.6.0\n";
        let m = Modelfile::parse(text).unwrap();
        assert_eq!(m.from, "./models/x.gguf");
        let d = &m.defaults;
        assert_eq!(
            d.system.as_deref(),
            Some("You are Mario.\nStay in character.")
        );
        assert_eq!(d.parameters.temperature, Some(0.2));
        assert_eq!(d.parameters.num_ctx, Some(2048));
        assert_eq!(d.parameters.stop, vec!["<|im_end|>", "two words"]);
        assert_eq!(d.template.as_deref(), Some("{{ messages[0].content }}"));
        assert_eq!(d.license, vec!["MIT\n\nCopyright"]);
        assert_eq!(d.messages.len(), 2);
        assert_eq!(d.messages[1].role, "assistant");
        assert_eq!(d.messages[0].content, "Is Toronto in Canada?");
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        for (text, needle) in [
            ("SYSTEM hi\n", "no FROM"),
            ("FROM x\nPARAMETER temprature 1\n", "line 2"),
            (
                "FROM x\nPARAMETER mirostat 1\n",
                "Ollama's that hearth does not have",
            ),
            ("FROM x\nPARAMETER top_k lots\n", "whole number"),
            ("FROM x\nPARAMETER num_ctx 0\n", "at least 1"),
            ("FROM x\nMESSAGE tool hi\n", "system, user or assistant"),
            ("FROM x\nSYSTEM \"\"\"open\nnever closed\n", "never closed"),
            ("FROM x\nADAPTER ./lora.gguf\n", "not supported"),
            ("FROM x\nBOGUS y\n", "not an instruction"),
            ("FROM x\nPARAMETER\n", "needs a name"),
        ] {
            let e = Modelfile::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn written_back_it_reads_the_same() {
        let mut d = ModelDefaults {
            from: "base".into(),
            system: Some("  leading space, \"quotes\", and\nnew lines ".into()),
            template: Some("{% for m in messages %}{{ m.content }}{% endfor %}".into()),
            license: vec!["Apache 2.0".into(), "#not a comment".into()],
            ..Default::default()
        };
        for (k, v) in [
            ("temperature", "0.7"),
            ("top_k", "20"),
            ("repeat_last_n", "-1"),
            ("seed", "42"),
            ("num_predict", "-1"),
            ("stop", "<|end|>"),
            ("stop", " space"),
            ("stop", "\"quoted\""),
        ] {
            d.parameters.set(k, v).unwrap();
        }
        d.messages.push(PresetMessage {
            role: "user".into(),
            content: "hello there".into(),
        });
        let text = d.to_modelfile("/models/x.gguf");
        let back = Modelfile::parse(&text).unwrap();
        assert_eq!(back.from, "/models/x.gguf");
        let mut want = d.clone();
        want.from = "/models/x.gguf".into();
        assert_eq!(back.defaults, want, "{text}");
    }

    #[test]
    fn later_settings_win() {
        let mut base = ModelDefaults {
            system: Some("old".into()),
            ..Default::default()
        };
        base.parameters.set("temperature", "0.1").unwrap();
        base.parameters.set("stop", "a").unwrap();
        let mut over = ModelDefaults::default();
        over.parameters.set("top_k", "5").unwrap();
        let m = base.overlaid(&over);
        assert_eq!(m.system.as_deref(), Some("old"));
        assert_eq!(
            (m.parameters.temperature, m.parameters.top_k),
            (Some(0.1), Some(5))
        );
        assert_eq!(m.parameters.stop, vec!["a"]);
    }

    #[test]
    fn go_templates_are_recognised() {
        for go in [
            "{{ .System }}",
            "{{- if .Prompt }}x{{ end }}",
            "{{ range .Messages }}{{ .Content }}{{ end }}",
        ] {
            assert!(looks_like_go_template(go), "{go}");
        }
        for jinja in [
            "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}",
            "{{- messages[0].content -}}",
            "plain text",
        ] {
            assert!(!looks_like_go_template(jinja), "{jinja}");
        }
    }
}
