//! The one place the Anthropic Messages and OpenAI Responses APIs
//! (`anthropic/`, `responses/`) ask the generation path for more than plain
//! text, and read how an answer ended:
//!
//! - [`Wants::thinking`]: a thinking model's reasoning, apart from its answer
//!   (Anthropic `thinking`, Responses `reasoning`);
//! - [`Wants::schema`]: an answer that is JSON, of a schema (Responses
//!   `text.format`).
//!
//! WIRE(structured): the structured-output work (branch `structured`) brings
//! a JSON-schema constraint in the sampler and the split of a reasoning
//! model's thinking from its answer in the generation path. Once it is
//! merged, [`Splitter`] takes its split (today every piece is answer text)
//! and [`collect_json`] hands the schema to its constraint (today: JSON mode,
//! `gen::collect_json`, with the schema written into the system message by
//! [`json_instructions`]). Nothing else in the two APIs needs to change.

use crate::error::ApiError;
use crate::gen::{self, Choice};
use crate::models::Lease;
use engine::{FinishReason, GenerateRequest, GenerateStats, LoadedModel, Message};
use serde_json::Value;

/// An output schema (Responses `text.format: {"type": "json_schema"}`).
#[derive(Clone, Debug, Default)]
pub struct Schema {
    #[allow(dead_code)] // WIRE(structured): for the constraint's messages
    pub name: Option<String>,
    pub description: Option<String>,
    /// The JSON schema the answer must follow (None: any JSON object).
    pub schema: Option<Value>,
    #[allow(dead_code)] // WIRE(structured): constrain strictly
    pub strict: bool,
}

/// What a request asks of the answer beyond plain text.
#[derive(Clone, Debug, Default)]
pub struct Wants {
    /// Return a thinking model's reasoning apart from its answer.
    pub thinking: bool,
    /// Most tokens of reasoning (Anthropic `thinking.budget_tokens`).
    pub thinking_budget: Option<usize>,
    /// The answer is JSON (of this schema).
    pub schema: Option<Schema>,
}

/// A piece of generated text: reasoning or answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Thinking(String),
    Text(String),
}

/// Turns generated text, as it streams, into reasoning and answer pieces.
pub struct Splitter {
    #[allow(dead_code)] // WIRE(structured): read by the split
    thinking: bool,
}

impl Splitter {
    pub fn new(_lm: &LoadedModel, wants: &Wants) -> Splitter {
        Splitter {
            thinking: wants.thinking,
        }
    }

    /// The piece `text` is (None for empty text). WIRE(structured): the
    /// generation path's reasoning split goes here; until then it is all
    /// answer.
    pub fn push(&mut self, text: &str) -> Option<Piece> {
        (!text.is_empty()).then(|| Piece::Text(text.to_string()))
    }

    /// A whole answer as (reasoning, answer).
    pub fn whole(mut self, text: &str) -> (String, String) {
        let (mut thinking, mut answer) = (String::new(), String::new());
        match self.push(text) {
            Some(Piece::Thinking(t)) => thinking = t,
            Some(Piece::Text(t)) => answer = t,
            None => {}
        }
        (thinking, answer)
    }
}

/// Text for the system message of a request whose answer must be JSON (of
/// a schema): JSON mode's hint, and the schema. WIRE(structured): kept with
/// the constraint too (the model writes better JSON when told what it is).
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

/// Generate an answer that is a JSON object (of `schema`'s JSON schema when
/// it has one): enforced while sampling by the grammar of
/// `crate::structured` (llguidance), as the OpenAI API's `response_format`.
pub async fn collect_json(
    lease: &Lease,
    req: &GenerateRequest,
    schema: &Schema,
    guard: &mut gen::LeftGuard<'_>,
) -> Result<Choice, ApiError> {
    let g = match &schema.schema {
        Some(v) => engine::Grammar::JsonSchema(v.clone()),
        None => engine::Grammar::JsonObject,
    };
    let shape = crate::structured::Shape {
        grammar: Some((g, "text.format".into())),
        hint: None,
    };
    let mut req = req.clone();
    req.constraint = shape.compile(&lease.slot.lm)?;
    let rx = gen::submit_n(lease, &req, None, 1)?;
    let mut v = guard.collect(rx, 1).await?;
    Ok(v.remove(0))
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
