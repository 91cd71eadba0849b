//! What a request asks of the answer's shape and of a thinking model,
//! shared by both APIs:
//! - the grammar the answer must follow, enforced while sampling (OpenAI
//!   `response_format` `json_object` / `json_schema`, Ollama `format`,
//!   llama-server's `grammar` (GBNF) and `json_schema`, hearth's `regex`),
//!   compiled for the model so a bad one is a 400 naming what is wrong
//!   before anything streams;
//! - thinking: `think` (Ollama), `reasoning_effort` (OpenAI),
//!   `chat_template_kwargs` (passed to the template: `enable_thinking`…),
//!   `thinking_budget` (hearth: most reasoning tokens before the answer is
//!   asked for).

use crate::error::ApiError;
use engine::{Constraint, ConstraintError, EngineError, Grammar, LoadedModel, Reasoning};
use serde_json::{Map, Value};

/// The grammar a request asks for, the field it came from, and the
/// instruction added to the conversation so the model knows what is wanted.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    pub grammar: Option<(Grammar, String)>,
    pub hint: Option<String>,
}

impl Shape {
    fn one(grammar: Grammar, field: &str, hint: Option<String>) -> Shape {
        Shape {
            grammar: Some((grammar, field.to_string())),
            hint,
        }
    }

    /// The constraint of the answer for `lm` (a 400 naming the field when
    /// the grammar is malformed or uses what cannot be enforced), for a
    /// generation whose reasoning is split as `reasoning` says (None: raw
    /// text, or a model that does not reason): the engine's
    /// [`LoadedModel::answer_constraint`], which every front end uses — a
    /// harmony (gpt-oss) chat's whole output held (analysis messages free,
    /// the final message's body the grammar: `engine::harmony`), elsewhere
    /// the grammar applied from the answer's first token (after a thinking
    /// model's reasoning).
    pub fn compile(
        &self,
        lm: &LoadedModel,
        reasoning: Option<&Reasoning>,
    ) -> Result<Option<Constraint>, ApiError> {
        let Some((g, field)) = &self.grammar else {
            return Ok(None);
        };
        lm.answer_constraint(g, reasoning)
            .map(Some)
            .map_err(|e| api_error(e, field))
    }
}

/// `g` compiled for `lm`: a 400 naming `field` when the grammar is malformed
/// or uses what cannot be enforced.
pub fn compile(lm: &LoadedModel, g: &Grammar, field: &str) -> Result<Constraint, ApiError> {
    lm.constraint(g).map_err(|e| api_error(e, field))
}

/// A grammar's compile error as the API's: a 400 naming `field` when the
/// grammar is malformed or uses what cannot be enforced.
fn api_error(e: EngineError, field: &str) -> ApiError {
    match e {
        EngineError::Constraint(ConstraintError::Invalid(m)) => {
            ApiError::bad(field, format!("{field}: {m}"))
        }
        e => ApiError::internal(e.to_string()),
    }
}

fn schema_hint(schema: &Value) -> String {
    format!(
        "Respond only with a JSON object that follows this JSON Schema:\n{}",
        schema
    )
}

/// OpenAI's `response_format` plus llama-server's `grammar` and
/// `json_schema` and hearth's `regex` (at most one of them).
pub fn openai(
    response_format: Option<&Value>,
    grammar: Option<&str>,
    json_schema: Option<&Value>,
    regex: Option<&str>,
) -> Result<Shape, ApiError> {
    let mut shapes = Vec::new();
    if let Some(rf) = response_format {
        let kind = rf.get("type").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad(
                "response_format.type",
                "response_format needs a type: 'text', 'json_object' or 'json_schema'",
            )
        })?;
        match kind {
            "text" => {}
            "json_object" => shapes.push(Shape::one(
                Grammar::JsonObject,
                "response_format",
                Some(engine::jsonfix::HINT.to_string()),
            )),
            "json_schema" => {
                let schema = rf
                    .get("json_schema")
                    .and_then(|j| j.get("schema"))
                    .ok_or_else(|| {
                        ApiError::bad(
                            "response_format.json_schema.schema",
                            "response_format json_schema needs json_schema.schema (the JSON Schema the answer must follow)",
                        )
                    })?;
                shapes.push(Shape::one(
                    Grammar::JsonSchema(schema.clone()),
                    "response_format.json_schema.schema",
                    Some(schema_hint(schema)),
                ));
            }
            other => {
                return Err(ApiError::bad(
                    "response_format.type",
                    format!("response_format.type '{other}' is not supported; use 'text', 'json_object' or 'json_schema'"),
                ))
            }
        }
    }
    if let Some(g) = grammar.filter(|g| !g.trim().is_empty()) {
        shapes.push(Shape::one(Grammar::Gbnf(g.to_string()), "grammar", None));
    }
    if let Some(s) = json_schema {
        shapes.push(Shape::one(
            Grammar::JsonSchema(s.clone()),
            "json_schema",
            Some(schema_hint(s)),
        ));
    }
    if let Some(r) = regex {
        shapes.push(Shape::one(Grammar::Regex(r.to_string()), "regex", None));
    }
    match shapes.len() {
        0 => Ok(Shape::default()),
        1 => Ok(shapes.pop().unwrap_or_default()),
        _ => {
            let fields: Vec<String> = shapes
                .iter()
                .filter_map(|s| s.grammar.as_ref().map(|g| g.1.clone()))
                .collect();
            Err(ApiError::bad(
                fields[1].clone(),
                format!(
                    "{} each constrain the answer; give only one of them",
                    fields.join(" and ")
                ),
            ))
        }
    }
}

/// Ollama's `format`: `"json"` or a JSON Schema object.
pub fn ollama(format: Option<&Value>) -> Result<Shape, ApiError> {
    match format {
        None | Some(Value::Null) => Ok(Shape::default()),
        Some(Value::String(s)) if s.is_empty() => Ok(Shape::default()),
        Some(Value::String(s)) if s == "json" => Ok(Shape::one(
            Grammar::JsonObject,
            "format",
            Some(engine::jsonfix::HINT.to_string()),
        )),
        Some(v @ Value::Object(_)) => Ok(Shape::one(
            Grammar::JsonSchema(v.clone()),
            "format",
            Some(schema_hint(v)),
        )),
        Some(other) => Err(ApiError::bad(
            "format",
            format!("format must be \"json\" or a JSON schema, got {other}"),
        )),
    }
}

/// A request's thinking settings.
#[derive(Clone, Debug, Default)]
pub struct Thinking {
    /// Variables for the chat template.
    pub kwargs: Map<String, Value>,
    /// Most reasoning tokens (`Some(0)`: no reasoning, for templates that
    /// cannot turn it off).
    pub budget: Option<usize>,
}

impl Thinking {
    /// No reasoning (the template told so where it can be, else a budget
    /// of 0).
    pub fn none() -> Thinking {
        let mut t = Thinking::default();
        t.off();
        t
    }

    /// Reasoning on, at most `budget` tokens of it.
    pub fn on(budget: Option<usize>) -> Thinking {
        let mut t = Thinking {
            budget,
            ..Thinking::default()
        };
        t.kwargs.insert("enable_thinking".into(), Value::Bool(true));
        t
    }

    fn off(&mut self) {
        self.kwargs
            .insert("enable_thinking".into(), Value::Bool(false));
        self.budget = Some(0);
    }

    fn level(&mut self, effort: &str) {
        self.kwargs
            .insert("enable_thinking".into(), Value::Bool(true));
        self.kwargs
            .insert("reasoning_effort".into(), Value::String(effort.into()));
    }

    /// How `lm`'s output is split and capped (None when its template marks
    /// no reasoning).
    pub fn reasoning(&self, lm: &LoadedModel) -> Option<Reasoning> {
        lm.reasoning_format().map(|format| Reasoning {
            format,
            budget: self.budget,
        })
    }
}

fn check_budget(budget: Option<i64>, field: &str) -> Result<Option<usize>, ApiError> {
    match budget {
        None => Ok(None),
        Some(b) if b < 0 => Ok(None),
        Some(b) => usize::try_from(b)
            .map(Some)
            .map_err(|_| ApiError::bad(field, format!("{field} is too large"))),
    }
}

/// OpenAI's `reasoning_effort` ("none", "minimal", "low", "medium",
/// "high"), `chat_template_kwargs`, and `thinking_budget` (-1: no limit).
pub fn openai_thinking(
    effort: Option<&str>,
    kwargs: Option<&Map<String, Value>>,
    budget: Option<i64>,
) -> Result<Thinking, ApiError> {
    let mut t = Thinking {
        budget: check_budget(budget, "thinking_budget")?,
        ..Thinking::default()
    };
    match effort {
        None => {}
        Some("none") => t.off(),
        Some(e @ ("minimal" | "low" | "medium" | "high")) => t.level(e),
        Some(other) => {
            return Err(ApiError::bad(
                "reasoning_effort",
                format!(
                "reasoning_effort must be one of none, minimal, low, medium, high; got {other:?}"
            ),
            ))
        }
    }
    if let Some(k) = kwargs {
        for (name, v) in k {
            if name == "enable_thinking" && v == &Value::Bool(false) {
                t.off();
            }
            t.kwargs.insert(name.clone(), v.clone());
        }
    }
    Ok(t)
}

/// Ollama's `think`: `true`/`false` or `"low"`/`"medium"`/`"high"`, and
/// hearth's `thinking_budget`.
pub fn ollama_thinking(think: Option<&Value>, budget: Option<i64>) -> Result<Thinking, ApiError> {
    let mut t = Thinking {
        budget: check_budget(budget, "thinking_budget")?,
        ..Thinking::default()
    };
    match think {
        None | Some(Value::Null) => {}
        Some(Value::Bool(true)) => {
            t.kwargs.insert("enable_thinking".into(), Value::Bool(true));
        }
        Some(Value::Bool(false)) => t.off(),
        Some(Value::String(s)) if matches!(s.as_str(), "low" | "medium" | "high") => t.level(s),
        Some(other) => {
            return Err(ApiError::bad(
                "think",
                format!("think must be true, false, \"low\", \"medium\" or \"high\"; got {other}"),
            ))
        }
    }
    Ok(t)
}
