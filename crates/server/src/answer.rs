//! The one place the Anthropic Messages and OpenAI Responses APIs
//! (`anthropic/`, `responses/`) ask the generation path for more than plain
//! text, and read how an answer ended:
//!
//! - [`Wants::thinking`]: a thinking model's reasoning, turned on, off or
//!   capped as the request asks (Anthropic `thinking`, Responses
//!   `reasoning.effort`), split from its answer by the engine
//!   (`GenerateRequest::reasoning`; each token event carries its reasoning
//!   and its answer text apart) and returned as Anthropic `thinking` blocks
//!   or a Responses `reasoning` item;
//! - [`Wants::schema`]: an answer that is JSON, of a schema (Responses
//!   `text.format`), enforced while sampling by the structured-output
//!   constraint ([`Schema::constraint`]); the reasoning before it stays free.

use crate::error::ApiError;
use crate::structured::{Shape, Thinking};
use engine::scheduler::TokenEvent;
use engine::{FinishReason, GenerateStats, LoadedModel, Message};
use serde_json::Value;

/// An output schema (Responses `text.format: {"type": "json_schema"}`).
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub description: Option<String>,
    /// The JSON schema the answer must follow (None: any JSON object).
    pub schema: Option<Value>,
}

impl Schema {
    /// The constraint that makes the answer JSON (of the schema), for `lm`:
    /// a 400 naming `text.format.schema` when the schema cannot be enforced.
    /// Enforced whether or not the request says `strict` (as the Chat
    /// Completions route does). `reasoning`: how the generation's reasoning
    /// is split ([`Shape::compile`]).
    pub fn constraint(
        &self,
        lm: &LoadedModel,
        reasoning: Option<&engine::Reasoning>,
    ) -> Result<Option<engine::Constraint>, ApiError> {
        let (g, field) = match &self.schema {
            Some(v) => (engine::Grammar::JsonSchema(v.clone()), "text.format.schema"),
            None => (engine::Grammar::JsonObject, "text.format"),
        };
        Shape {
            grammar: Some((g, field.into())),
            hint: None,
        }
        .compile(lm, reasoning)
    }
}

/// What a request asks of the answer beyond plain text.
#[derive(Clone, Debug, Default)]
pub struct Wants {
    /// A thinking model's reasoning: template variables (`enable_thinking`,
    /// `reasoning_effort`) and a budget of reasoning tokens.
    pub thinking: Thinking,
    /// The answer is JSON (of this schema).
    pub schema: Option<Schema>,
}

/// A piece of generated text: reasoning or answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Thinking(String),
    Text(String),
}

/// The pieces of one token event: its reasoning, then its answer text
/// (empty ones left out).
pub fn pieces(t: &TokenEvent) -> Vec<Piece> {
    let mut out = Vec::new();
    if !t.reasoning.is_empty() {
        out.push(Piece::Thinking(t.reasoning.clone()));
    }
    if !t.text.is_empty() {
        out.push(Piece::Text(t.text.clone()));
    }
    out
}

/// Text for the system message of a request whose answer must be JSON (of
/// a schema): JSON mode's hint, and the schema. Kept beside the constraint:
/// the model writes better JSON when told what it is.
pub fn json_instructions(s: &Schema) -> String {
    let mut t = engine::jsonfix::HINT.to_string();
    if let Some(d) = &s.description {
        t.push_str(&format!("\n\nWhat it describes: {d}"));
    }
    if let Some(schema) = &s.schema {
        t.push_str(&format!(
            "\n\nThe JSON object must follow this JSON schema:\n{schema}"
        ));
    }
    t
}

/// Put [`json_instructions`] in the conversation's system message.
pub fn add_json_instructions(msgs: &mut Vec<Message>, s: &Schema) {
    let hint = json_instructions(s);
    match msgs.first_mut() {
        Some(m) if m.role == "system" => m.content = format!("{}\n\n{hint}", m.content),
        _ => msgs.insert(0, Message::system(hint)),
    }
}

/// How a generation ended, as the APIs tell it apart.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    /// The model ended its turn (an end-of-generation token).
    Turn,
    /// This stop text was generated (it is not in the answer).
    Stop(String),
    /// The token limit (or the context) was reached.
    Length,
}

/// Which of `stop` ended a generation that stopped without an
/// end-of-generation token: the earliest one in the decoded tokens (the
/// stop matcher cuts at the earliest).
pub fn end_of(lm: &LoadedModel, s: &GenerateStats, stop: &[String]) -> End {
    match s.finish {
        FinishReason::Length => End::Length,
        FinishReason::Cancelled => End::Turn,
        FinishReason::Stop => {
            if s.tokens.last().is_none_or(|&t| lm.tokenizer.is_eog(t)) || stop.is_empty() {
                return End::Turn;
            }
            let text = lm.tokenizer.decode(&s.tokens);
            stop.iter()
                .filter_map(|x| text.find(x.as_str()).map(|at| (at, x)))
                .min_by_key(|(at, x)| (*at, std::cmp::Reverse(x.len())))
                .map(|(_, x)| End::Stop(x.clone()))
                .unwrap_or(End::Turn)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{end_of, End};
    use engine::{FinishReason, GenerateStats, LoadedModel};

    #[test]
    fn the_stop_text_met_first_is_named() {
        let Some(p) = test_models::model("smollm2-135m") else {
            return;
        };
        let lm = LoadedModel::load(p).unwrap();
        let stats = |text: &str, finish| GenerateStats {
            prompt_tokens: 1,
            cached_tokens: 0,
            output_tokens: 1,
            prompt_seconds: 0.0,
            gen_seconds: 0.0,
            finish,
            tokens: lm.tokenizer.encode(text, false, false),
            context_full: false,
            spec: Default::default(),
            reasoning_tokens: 0,
        };
        let stop = ["5".to_string(), " 3".to_string(), " 3,".to_string()];
        let s = stats("1, 2, 3, 4, 5", FinishReason::Stop);
        assert_eq!(end_of(&lm, &s, &stop), End::Stop(" 3,".into()));
        assert_eq!(end_of(&lm, &s, &stop[..1]), End::Stop("5".into()));
        // an end-of-generation token last: the model ended its turn
        let mut eog = s.clone();
        eog.tokens.push(lm.tokenizer.eog_ids()[0]);
        assert_eq!(end_of(&lm, &eog, &stop), End::Turn);
        assert_eq!(end_of(&lm, &s, &[]), End::Turn);
        let cut = stats("1, 2", FinishReason::Length);
        assert_eq!(end_of(&lm, &cut, &stop), End::Length);
    }
}
