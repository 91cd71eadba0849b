//! OpenAI request bodies and their checks: every field parsed, range-checked
//! and turned into a `GenerateRequest` (`plan`), with the checks that need
//! the model (`for_model`) and the chat messages (`chat_messages`).

use crate::error::ApiError;
use crate::models::KeepAlive;
use engine::{GenerateRequest, Message, Prompt};
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
    /// `{"type": "text" | "json_object" | "json_schema", "json_schema": {"schema": ...}}`.
    pub response_format: Option<Value>,
    /// llama-server's GBNF grammar for the answer.
    pub grammar: Option<String>,
    /// llama-server's JSON Schema for the answer.
    pub json_schema: Option<Value>,
    /// hearth: a regular expression the whole answer matches.
    pub regex: Option<String>,
    /// "none", "minimal", "low", "medium", "high": a thinking model's effort
    /// (passed to the template; "none" turns thinking off).
    pub reasoning_effort: Option<String>,
    /// Extra chat template variables (`{"enable_thinking": false}`).
    pub chat_template_kwargs: Option<serde_json::Map<String, Value>>,
    /// hearth: most reasoning tokens before the answer is asked for (-1: no limit).
    pub thinking_budget: Option<i64>,
    pub keep_alive: Option<Value>,
    /// OpenAI's `{"token id": bias}`, bias in -100..=100.
    pub logit_bias: Option<std::collections::HashMap<String, f32>>,
    /// llama.cpp server's / vLLM's extension: never end on an
    /// end-of-generation token (run to `max_tokens` or the context's end).
    #[serde(default)]
    pub ignore_eos: bool,
    /// hearth's extension: speculative decoding for this request (`true`,
    /// `false`, or `{"lookup", "draft", "n_max"}`; see `crate::spec`).
    pub speculative: Option<Value>,
    /// llama.cpp server's name for the most tokens drafted per step.
    #[serde(rename = "speculative.n_max")]
    pub speculative_n_max: Option<i64>,
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
    /// The grammar asked for (compiled once the model is known).
    pub(super) shape: crate::structured::Shape,
    pub(super) thinking: crate::structured::Thinking,
    pub(super) keep_alive: Option<KeepAlive>,
    /// The function definitions rendered: the answer is read for calls of
    /// them, after the start a forcing `tool_choice` wrote (see
    /// `tools::prompt_with_tools`).
    pub(super) tools: Option<(crate::tools::ToolSet, String)>,
}

/// `d`: the model's own settings (a created model's), under the request's.
pub(super) fn plan(
    c: &Common,
    default_max: Option<usize>,
    d: &crate::defaults::Defaults,
) -> Result<Plan, ApiError> {
    let mut s = d.sampling();
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
            return Err(ApiError::bad(
                "logit_bias",
                format!("logit_bias keys are token ids (as strings, e.g. \"50256\"), got {k:?}"),
            ));
        };
        if !(-100.0..=100.0).contains(&b) {
            return Err(ApiError::bad(
                "logit_bias",
                format!("logit_bias values must be between -100 and 100, got {b} for token {id}"),
            ));
        }
        s.logit_bias.push((id, b));
    }
    s.logit_bias.sort_unstable_by_key(|&(id, _)| id);
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
        None => d.max_tokens().unwrap_or(default_max),
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
    let stop: Vec<String> = d.stop(
        stop.unwrap_or_default()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
    );
    let shape = crate::structured::openai(
        c.response_format.as_ref(),
        c.grammar.as_deref(),
        c.json_schema.as_ref(),
        c.regex.as_deref(),
    )?;
    let thinking = crate::structured::openai_thinking(
        c.reasoning_effort.as_deref(),
        c.chat_template_kwargs.as_ref(),
        c.thinking_budget,
    )?;
    let keep_alive = match &c.keep_alive {
        None => None,
        Some(v) => Some(KeepAlive::parse(v).map_err(|e| ApiError::bad("keep_alive", e))?),
    };
    let req = GenerateRequest {
        prompt: Prompt::Tokens(Vec::new()),
        max_tokens,
        sampling: s,
        stop,
        ..Default::default()
    };
    Ok(Plan {
        req,
        n,
        shape,
        thinking,
        keep_alive,
        tools: None,
    })
}

pub(super) fn chat_messages(
    msgs: Vec<ChatMessage>,
    hint: Option<&str>,
    d: &crate::defaults::Defaults,
) -> Result<Vec<Message>, ApiError> {
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
                calls
                    .into_iter()
                    .enumerate()
                    .map(|(j, c)| {
                        crate::tools::call_for_template(
                            &format!("messages[{i}].tool_calls[{j}]"),
                            c,
                        )
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Some(_) => {
                return Err(ApiError::bad(
                    format!("messages[{i}].tool_calls"),
                    format!("messages[{i}].tool_calls belongs to assistant messages only"),
                ))
            }
            None => None,
        };
        out.push(Message {
            role,
            content,
            tool_calls,
            tool_call_id: m.tool_call_id,
            ..Default::default()
        });
    }
    d.apply_chat(&mut out);
    if let Some(hint) = hint {
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
/// vocabulary, `ignore_eos` as a ban on its end-of-generation tokens, the
/// grammar compiled for its vocabulary (and for the output's shape:
/// `p.req.reasoning` is set before, for a chat).
pub(super) fn for_model(
    p: &mut Plan,
    c: &Common,
    lm: &engine::LoadedModel,
) -> Result<(), ApiError> {
    let n_vocab = lm.model.config.n_vocab;
    if let Some(&(id, _)) = p
        .req
        .sampling
        .logit_bias
        .iter()
        .find(|(id, _)| *id as usize >= n_vocab)
    {
        return Err(ApiError::bad(
            "logit_bias",
            format!(
                "logit_bias names token {id}, but this model's vocabulary has ids 0..{}",
                n_vocab - 1
            ),
        ));
    }
    p.req.constraint = p.shape.compile(lm, p.req.reasoning.as_ref())?;
    if c.ignore_eos {
        let bias = &mut p.req.sampling.logit_bias;
        bias.extend(
            lm.tokenizer
                .eog_ids()
                .iter()
                .map(|&id| (id, f32::NEG_INFINITY)),
        );
    }
    Ok(())
}
