//! Constrained decoding: at each step only the tokens that keep the output
//! inside a grammar may be sampled. The grammar engine is `llguidance` (the
//! library llama.cpp links for the same job): a JSON Schema, plain JSON, a
//! Lark grammar, a llama.cpp GBNF grammar (converted to Lark here, see
//! [`gbnf`]) or a regular expression is compiled against the model's
//! vocabulary ([`Vocabulary`], built once per model) into a per-sequence
//! [`Constraint`], whose [`Constraint::mask`] is the set of allowed tokens of
//! the current step, computed once per step by walking the vocabulary's
//! token trie with the grammar's lexer (llguidance caches what it can across
//! steps).

pub mod gbnf;

use llguidance::api::{ParserLimits, TopLevelGrammar};
use llguidance::toktrie::{self, ApproximateTokEnv, SimpleVob, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};
use serde_json::Value;
use std::sync::Arc;

/// What the output must follow.
#[derive(Clone, Debug, PartialEq)]
pub enum Grammar {
    /// A JSON Schema (OpenAI `response_format` `json_schema`, Ollama
    /// `format: {schema}`, `--json-schema`). Keys come in the schema's order.
    JsonSchema(Value),
    /// Any JSON object (OpenAI `json_object`, Ollama `format: "json"`).
    JsonObject,
    /// A llama.cpp GBNF grammar (llama-server's `grammar` field, `--grammar-file`).
    /// Text that is already llguidance Lark (starting `%llguidance` or with a
    /// `start:` rule) is taken as Lark.
    Gbnf(String),
    /// An llguidance Lark grammar.
    Lark(String),
    /// A regular expression (Rust `regex` syntax) the whole output matches.
    Regex(String),
    /// A Lark grammar (`outer`) in which `@answer` stands for the grammar
    /// `inner` (which keeps its own lexer): e.g. a whole harmony output
    /// whose final message is the request's JSON schema.
    Within { outer: String, inner: Box<Grammar> },
}

/// The name the outer grammar of [`Grammar::Within`] refers to its inner
/// one by (`@answer`).
pub const INNER_GRAMMAR: &str = "answer";

/// Why a grammar cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The grammar or schema is malformed or asks for something that cannot
    /// be enforced (the message names it).
    #[error("{0}")]
    Invalid(String),
    /// The model's vocabulary could not be indexed for constrained decoding.
    #[error("constrained decoding is not available for this model: {0}")]
    Vocabulary(String),
    /// The grammar engine failed while generating.
    #[error("the output constraint failed: {0}")]
    Failed(String),
}

/// Whitespace a JSON Schema or JSON-object output may use between tokens:
/// one space, or one newline and up to 20 spaces or tabs of indentation (as
/// llama.cpp's schema grammars allow), so a small model cannot run on in
/// whitespace until `max_tokens`.
const JSON_WHITESPACE: &str = r"\x20|\n[\x20\x09]{0,20}";

impl Grammar {
    /// The llguidance grammar for this source.
    fn top_level(&self) -> Result<TopLevelGrammar, ConstraintError> {
        Ok(match self {
            Grammar::JsonSchema(schema) => {
                if !schema.is_object() && !schema.is_boolean() {
                    return Err(ConstraintError::Invalid(format!(
                        "a JSON schema must be an object, got {}",
                        short(schema)
                    )));
                }
                TopLevelGrammar::from_json_schema(with_whitespace(schema.clone()))
            }
            Grammar::JsonObject => TopLevelGrammar::from_json_schema(with_whitespace(
                serde_json::json!({"type": "object"}),
            )),
            Grammar::Gbnf(text) => {
                let lark = if gbnf::is_lark(text) {
                    text.clone()
                } else {
                    gbnf::to_lark(text).map_err(|e| ConstraintError::Invalid(e.to_string()))?
                };
                TopLevelGrammar::from_lark(lark)
            }
            Grammar::Lark(text) => TopLevelGrammar::from_lark(text.clone()),
            Grammar::Regex(rx) => {
                // Checked here so a bad pattern is named as such.
                if let Err(e) = regex_check(rx) {
                    return Err(ConstraintError::Invalid(format!(
                        "the regular expression is not valid: {e}"
                    )));
                }
                TopLevelGrammar::from_regex(rx)
            }
            Grammar::Within { outer, inner } => {
                let mut inner = inner.top_level()?;
                if let Some(first) = inner.grammars.first_mut() {
                    first.name = Some(INNER_GRAMMAR.to_string());
                }
                let mut top = TopLevelGrammar::from_lark(outer.clone());
                top.grammars.extend(inner.grammars);
                top
            }
        })
    }
}

fn regex_check(rx: &str) -> Result<(), String> {
    // llguidance parses with regex-syntax too; its error is shorter this way.
    llguidance::derivre::RegexBuilder::new()
        .mk_regex(rx)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The schema with hearth's bounded JSON whitespace, unless it sets its own
/// (`x-guidance`, llguidance's options key).
fn with_whitespace(mut schema: Value) -> Value {
    if let Value::Object(m) = &mut schema {
        if !m.contains_key("x-guidance") {
            m.insert(
                "x-guidance".into(),
                serde_json::json!({ "whitespace_pattern": JSON_WHITESPACE }),
            );
        }
    }
    schema
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// A model's vocabulary indexed for constrained decoding (llguidance's token
/// trie and its precomputed slices). Built once per model; shared by every
/// sequence.
pub struct Vocabulary {
    factory: ParserFactory,
    n_vocab: usize,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("n_vocab", &self.n_vocab)
            .finish()
    }
}

/// One token as the grammar engine sees it.
pub enum TokenBytes<'a> {
    /// Ordinary text (may be empty: such tokens are never allowed).
    Text(&'a [u8]),
    /// A special (control) token with this name, e.g. `<|im_end|>`: allowed
    /// only where a grammar names it (or as end of generation).
    Special(&'a [u8]),
}

impl Vocabulary {
    /// Index a vocabulary: `tokens` gives each id's bytes in order,
    /// `end_of_generation` the ids that end an answer (allowed exactly where
    /// the grammar is complete). As llama.cpp builds it for llguidance
    /// (`common/llguidance.cpp`): a special token is its name behind a 0xFF
    /// byte, which no text token contains.
    pub fn new<'a>(
        tokens: impl ExactSizeIterator<Item = TokenBytes<'a>>,
        end_of_generation: &[u32],
    ) -> Result<Vocabulary, ConstraintError> {
        let n = tokens.len();
        let words: Vec<Vec<u8>> = tokens
            .map(|t| match t {
                TokenBytes::Text(b) => b.to_vec(),
                TokenBytes::Special(name) if !name.is_empty() => {
                    let mut w = Vec::with_capacity(name.len() + 1);
                    w.push(TokTrie::SPECIAL_TOKEN_MARKER);
                    w.extend_from_slice(name);
                    w
                }
                TokenBytes::Special(_) => Vec::new(),
            })
            .collect();
        let eog: Vec<u32> = end_of_generation
            .iter()
            .copied()
            .filter(|&t| (t as usize) < n)
            .collect();
        let Some(&first) = eog.first() else {
            return Err(ConstraintError::Vocabulary(
                "the model names no end-of-generation token".into(),
            ));
        };
        if n == 0 || n > u32::MAX as usize {
            return Err(ConstraintError::Vocabulary(format!(
                "{n} tokens in the vocabulary"
            )));
        }
        let info = TokRxInfo::new(n as u32, first);
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&eog);
        let env: toktrie::TokEnv = Arc::new(ApproximateTokEnv::new(trie));
        let mut factory = ParserFactory::new_simple(&env)
            .map_err(|e| ConstraintError::Vocabulary(e.to_string()))?;
        factory.quiet();
        *factory.limits_mut() = ParserLimits::default();
        Ok(Vocabulary {
            factory,
            n_vocab: n,
        })
    }

    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// Compile `grammar` into a fresh per-sequence constraint. Errors name
    /// what is wrong or unsupported (e.g. `Unimplemented keys: ["uniqueItems"]`
    /// for a schema keyword that cannot be enforced: never a silent
    /// downgrade).
    pub fn compile(&self, grammar: &Grammar) -> Result<Constraint, ConstraintError> {
        let top = grammar.top_level()?;
        let parser = self
            .factory
            .create_parser(top)
            .map_err(|e| ConstraintError::Invalid(clean_error(&e.to_string())))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(ConstraintError::Invalid(clean_error(&e)));
        }
        Ok(Constraint {
            matcher,
            mask: None,
            whole: false,
        })
    }
}

/// llguidance's message without its internal trace lines.
fn clean_error(e: &str) -> String {
    let first = e.lines().next().unwrap_or(e).trim();
    first.to_string()
}

/// One sequence's grammar state. Cloning gives an independent copy at the
/// same state (e.g. for `n` choices).
#[derive(Clone)]
pub struct Constraint {
    matcher: Matcher,
    /// The allowed tokens of the current step, once computed.
    mask: Option<SimpleVob>,
    /// It covers the whole output, a thinking model's reasoning included
    /// (see [`Constraint::over_whole_output`]).
    whole: bool,
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The allowed tokens of one step: bit `i % 32` of word `i / 32` is set when
/// token `i` may come next.
#[derive(Clone, Copy, Debug)]
pub struct Mask<'a> {
    pub words: &'a [u32],
}

impl Mask<'_> {
    #[inline]
    pub fn allows(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 32)
            .is_some_and(|w| w >> (id % 32) & 1 == 1)
    }

    /// Every allowed id, ascending.
    pub fn for_each(&self, mut f: impl FnMut(u32)) {
        for (i, &w) in self.words.iter().enumerate() {
            let mut w = w;
            while w != 0 {
                let b = w.trailing_zeros();
                f(i as u32 * 32 + b);
                w &= w - 1;
            }
        }
    }
}

impl Constraint {
    /// This constraint for a grammar of the whole output: the engine
    /// applies it to every token, a thinking model's reasoning and the
    /// messages between included (gpt-oss's tool calls are messages of their
    /// own beside the reasoning and the answer), instead of the answer only.
    pub fn over_whole_output(mut self) -> Constraint {
        self.whole = true;
        self
    }

    /// Whether it covers the whole output ([`Self::over_whole_output`]).
    pub fn is_whole_output(&self) -> bool {
        self.whole
    }

    /// The tokens allowed next (computed at most once per step).
    pub fn mask(&mut self) -> Result<Mask<'_>, ConstraintError> {
        if self.mask.is_none() {
            let m = self
                .matcher
                .compute_mask_or_eos()
                .map_err(|e| ConstraintError::Failed(clean_error(&e.to_string())))?;
            self.mask = Some(m);
        }
        Ok(Mask {
            words: self.mask.as_ref().map(|m| m.as_slice()).unwrap_or(&[]),
        })
    }

    /// Advance past `token` (one the mask allowed).
    pub fn accept(&mut self, token: u32) -> Result<(), ConstraintError> {
        self.mask = None;
        self.matcher
            .consume_token(token)
            .map_err(|e| ConstraintError::Failed(clean_error(&e.to_string())))
    }

    /// The grammar is complete and nothing more may follow: generation ends.
    pub fn is_finished(&self) -> bool {
        self.matcher.is_stopped()
    }

    /// Whether the output so far is a complete match (end of generation
    /// would be allowed now).
    pub fn is_accepting(&mut self) -> bool {
        self.matcher.is_accepting().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level vocabulary: ids 0..256 are the bytes, 256 is the end.
    fn bytes_vocab() -> Vocabulary {
        let words: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        let special = b"<|end|>".to_vec();
        let it = words
            .iter()
            .map(|w| TokenBytes::Text(w))
            .chain(std::iter::once(TokenBytes::Special(&special)));
        let toks: Vec<TokenBytes> = it.collect();
        Vocabulary::new(toks.into_iter(), &[256]).unwrap()
    }

    fn run(v: &Vocabulary, g: &Grammar, text: &str) -> Result<bool, String> {
        let mut c = v.compile(g).map_err(|e| e.to_string())?;
        for b in text.bytes() {
            if !c.mask().unwrap().allows(b as u32) {
                return Ok(false);
            }
            c.accept(b as u32).unwrap();
        }
        Ok(c.is_finished() || c.mask().unwrap().allows(256))
    }

    #[test]
    fn schema_regex_and_gbnf_constrain_bytes() {
        let v = bytes_vocab();
        let s = Grammar::JsonSchema(serde_json::json!({
            "type": "object",
            "properties": {"b": {"type": "integer"}, "a": {"enum": ["x", "y"]}},
            "required": ["b", "a"], "additionalProperties": false
        }));
        assert_eq!(run(&v, &s, r#"{"b": 3, "a": "y"}"#), Ok(true));
        // keys only in the schema's order
        assert_eq!(run(&v, &s, r#"{"a": "y", "b": 3}"#), Ok(false));
        assert_eq!(run(&v, &s, r#"{"b": 3, "a": "z"}"#), Ok(false));
        let r = Grammar::Regex("[0-9]{3}-[a-z]+".into());
        assert_eq!(run(&v, &r, "123-abc"), Ok(true));
        assert_eq!(run(&v, &r, "12-abc"), Ok(false));
        let g = Grammar::Gbnf("root ::= \"yes\" | \"no\" ws\nws ::= [ \\t]*\n".into());
        assert_eq!(run(&v, &g, "no  "), Ok(true));
        assert_eq!(run(&v, &g, "yes "), Ok(false));
        // unsupported schema keywords are named, not ignored
        let bad = Grammar::JsonSchema(
            serde_json::json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}, "contains": {"const": "a"}}),
        );
        let e = v.compile(&bad).unwrap_err().to_string();
        assert!(e.contains("contains"), "{e}");
    }

    #[test]
    fn a_lazy_rule_leaves_text_free_until_its_trigger() {
        // How the server constrains a `strict` tool's arguments under
        // tool_choice "auto" (Hermes markers): text is free until the call
        // opens, then the call follows its schema, then text is free again.
        let v = bytes_vocab();
        let g = Grammar::Lark(r#"start: (pre call "\n</tool_call>")* POST
pre[lazy]: /(.|\n)*<tool_call>\n/
POST: /(.|\n)*/ & ~/(.|\n)*<tool_call>(.|\n)*/
call: %json {"type":"object","properties":{"name":{"const":"f"},"arguments":{"type":"object","properties":{"h":{"type":"integer"}},"required":["h"],"additionalProperties":false}},"required":["name","arguments"],"additionalProperties":false}
"#.into());
        for (t, want) in [
            ("hello there", true),
            ("", true),
            ("a <tool_ call", true),
            ("x<tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": 3}}\n</tool_call>", true),
            ("x<tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": 3}}\n</tool_call>\nmore text", true),
            ("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": 3}}\n</tool_call><tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": 4}}\n</tool_call>", true),
            ("x<tool_call>\n{\"name\": \"g\"", false),
            ("x<tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": \"3\"", false),
            ("x<tool_call>\n{\"name\": \"f\", \"arguments\": {\"h\": 3}}", false),
            ("x<tool_call>", false),
        ] {
            assert_eq!(run(&v, &g, t), Ok(want), "{t:?}");
        }
    }

    /// An outer Lark grammar holds the request's grammar, whatever its kind,
    /// by `@answer`, each with its own lexer.
    #[test]
    fn an_outer_grammar_holds_any_inner_one() {
        let v = bytes_vocab();
        let outer = "start: THINK? \"final:\" @answer\nTHINK: /[a-z ]+;/\n".to_string();
        let within = |inner: Grammar| Grammar::Within {
            outer: outer.clone(),
            inner: Box::new(inner),
        };
        let s = within(Grammar::JsonSchema(serde_json::json!({
            "type": "object", "properties": {"a": {"enum": ["x", "y"]}},
            "required": ["a"], "additionalProperties": false
        })));
        assert_eq!(run(&v, &s, r#"hm ok;final:{"a": "x"}"#), Ok(true));
        assert_eq!(run(&v, &s, r#"final:{"a": "y"}"#), Ok(true));
        assert_eq!(run(&v, &s, r#"final:{"a": "z"}"#), Ok(false));
        assert_eq!(run(&v, &s, r#"{"a": "x"}"#), Ok(false));
        let o = within(Grammar::JsonObject);
        assert_eq!(run(&v, &o, "final:{}"), Ok(true));
        assert_eq!(run(&v, &o, "final:[]"), Ok(false));
        let r = within(Grammar::Regex("[0-9]{2}".into()));
        assert_eq!(run(&v, &r, "a;final:42"), Ok(true));
        assert_eq!(run(&v, &r, "a;final:4x"), Ok(false));
        let g = within(Grammar::Gbnf("root ::= \"yes\" | \"no\"\n".into()));
        assert_eq!(run(&v, &g, "final:no"), Ok(true));
        assert_eq!(run(&v, &g, "final:maybe"), Ok(false));
        // an inner grammar's error is still named
        let bad = within(Grammar::Regex("(".into()));
        assert!(v.compile(&bad).is_err());
    }
}
