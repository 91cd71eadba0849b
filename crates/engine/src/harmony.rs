//! gpt-oss (harmony) output as grammar pieces: a harmony model writes its
//! answer as a message of its own (`<|channel|>final<|message|>…`), after
//! any analysis messages and a header it writes itself, so a grammar meant
//! for the answer has to hold the whole output to hold the answer
//! ([`harmony_answer`], which [`LoadedModel::answer_constraint`] applies for
//! every front end). The helpers here (`parts`, `mark`, `harmony_analysis`)
//! are shared with the server's strict tool-call grammars (its
//! `harmony_start`).

use crate::{EngineError, LoadedModel, Reasoning, ReasoningFormat};
use sampler::{Constraint, Grammar};
use serde_json::Value;
use tokenizer::Tokenizer;

/// Any text (a Lark regex body).
pub const ANY: &str = r"(.|\n)*";

/// `s` as a Lark string literal.
pub fn lit(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A marker's text split into the model's special tokens and plain text.
#[derive(Debug, PartialEq)]
pub enum Part {
    Text(String),
    Special(u32),
}

/// `s` as the model writes it: each special (control) token of the
/// vocabulary it contains as that token (the grammar engine sees special
/// tokens only by id), the rest as text.
pub fn parts(tok: &Tokenizer, s: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut pos = 0;
    for id in tok.encode(s, false, true) {
        if !tok.token_to_piece(id).is_empty() {
            continue;
        }
        let name = String::from_utf8_lossy(tok.token_to_piece_special(id)).into_owned();
        if name.is_empty() {
            continue;
        }
        if let Some(at) = s[pos..].find(&name) {
            if at > 0 {
                out.push(Part::Text(s[pos..pos + at].to_string()));
            }
            out.push(Part::Special(id));
            pos += at + name.len();
        }
    }
    if pos < s.len() {
        out.push(Part::Text(s[pos..].to_string()));
    }
    out
}

/// `s` as a Lark sequence (special tokens as `<[id]>`); empty for "".
pub fn mark(tok: &Tokenizer, s: &str) -> String {
    parts(tok, s)
        .iter()
        .map(|p| match p {
            Part::Text(t) => lit(t),
            Part::Special(id) => format!("<[{id}]>"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rules of harmony's analysis messages (`analysis`): free text, each
/// ended and the next message started as the template writes them — and as
/// the thinking budget's closing text ([`ReasoningFormat::closing_text`])
/// does.
pub fn harmony_analysis(tok: &Tokenizer) -> String {
    let analysis = mark(tok, "<|channel|>analysis<|message|>");
    let next = mark(tok, "<|start|>assistant");
    let body = match parts(tok, "<|end|>").as_slice() {
        [Part::Special(id)] => format!("HTEXT? <[{id}]>"),
        _ => "think".to_string(),
    };
    format!(
        "analysis: {analysis} {body} {next}\n\
         think[lazy]: /{ANY}<\\|end\\|>/\nHTEXT: /(.|\\n)+/\n"
    )
}

/// A harmony (gpt-oss) model's whole output when the request constrains its
/// answer (a JSON schema, JSON, GBNF, Lark or regex alike): free to think,
/// strict to answer — any analysis messages (free text), then the final
/// message, whose body follows `answer` (held by `@answer` with its own
/// lexer: [`sampler::Grammar::Within`]). Applied to every token
/// ([`Constraint::over_whole_output`]), so the model can neither answer
/// outside the final channel nor write a header of its own; the thinking
/// budget's forced closing text is one of its paths.
pub fn harmony_answer(tok: &Tokenizer, answer: Grammar) -> Grammar {
    let fin = mark(tok, "<|channel|>final<|message|>");
    Grammar::Within {
        outer: format!(
            "start: analysis* final\nfinal: {fin} @{}\n{}",
            sampler::INNER_GRAMMAR,
            harmony_analysis(tok)
        ),
        inner: Box::new(answer),
    }
}

impl LoadedModel {
    /// The constraint of an answer that must follow `g`, for a generation
    /// whose reasoning is split as `reasoning` says (`None`: raw text, or a
    /// model that does not reason) — the one function every front end
    /// (server, `hearth run`/`chat`, `hearth batch`) compiles an answer
    /// grammar with. `g` is compiled alone first, so its errors read as on
    /// any model. For a harmony (gpt-oss) chat the result holds the whole
    /// output ([`harmony_answer`], applied to every token), since there the
    /// answer is a message of its own after a header the model writes;
    /// elsewhere it is `g`'s, applied from the answer's first token (after a
    /// thinking model's reasoning).
    pub fn answer_constraint(
        &self,
        g: &Grammar,
        reasoning: Option<&Reasoning>,
    ) -> Result<Constraint, EngineError> {
        let c = self.constraint(g)?;
        if reasoning.is_some_and(|r| r.format == ReasoningFormat::Harmony) {
            let whole = harmony_answer(&self.tokenizer, g.clone());
            return Ok(self.constraint(&whole)?.over_whole_output());
        }
        Ok(c)
    }
}
