//! One request, start to finish: render and tokenize the prompt, prefill it,
//! then decode token by token, sampling, stopping, and streaming text out.

use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;
use model::Session;
use sampler::SamplingParams;
use std::ops::ControlFlow;
use tokenizer::Message;

/// What to feed the model.
#[derive(Clone, Debug)]
pub enum Prompt {
    /// Plain text, tokenized as is (BOS as the model's metadata says);
    /// special tokens named in it are parsed as such.
    Raw(String),
    /// A conversation rendered through the chat template.
    Chat(Vec<Message>),
    /// Token ids, fed as they are.
    Tokens(Vec<u32>),
}

#[derive(Clone, Debug)]
pub struct GenerateRequest {
    pub prompt: Prompt,
    /// Most tokens to generate; `None` = until end of generation or the
    /// context is full.
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    /// Speculative decoding (exact: the same tokens as without, see
    /// [`crate::spec`]); off by default.
    pub spec: crate::Speculation,
    /// The grammar the answer must follow (compiled for this model:
    /// [`LoadedModel::constraint`]); each sequence advances its own copy.
    /// It applies to the answer, not to a thinking model's reasoning.
    pub constraint: Option<sampler::Constraint>,
    /// Split a thinking model's reasoning from its answer (and cap it):
    /// the reasoning streams apart (`TokenEvent::reasoning`).
    pub reasoning: Option<crate::reasoning::Reasoning>,
    /// Output control tokens as their text (`[TOOL_CALLS]`, `<|python_tag|>`):
    /// for readers of formats that mark tool calls with special tokens.
    pub special_text: bool,
}

impl Default for GenerateRequest {
    fn default() -> Self {
        GenerateRequest {
            prompt: Prompt::Tokens(Vec::new()),
            max_tokens: None,
            sampling: SamplingParams::default(),
            stop: Vec::new(),
            constraint: None,
            reasoning: None,
            special_text: false,
            spec: crate::Speculation::default(),
        }
    }
}

/// Why generation ended (OpenAI's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// An end-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached or the context is full.
    Length,
    /// The caller asked to stop.
    Cancelled,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::Cancelled => "cancelled",
        }
    }
}

#[derive(Clone, Debug)]
pub struct GenerateStats {
    pub prompt_tokens: usize,
    /// Of `prompt_tokens`, how many came from a cache (an earlier turn's or
    /// another request's shared prefix) instead of being computed.
    pub cached_tokens: usize,
    pub output_tokens: usize,
    pub prompt_seconds: f64,
    pub gen_seconds: f64,
    pub finish: FinishReason,
    /// Generated token ids (including a final end-of-generation token, if any).
    pub tokens: Vec<u32>,
    /// True when generation stopped because the context was full.
    pub context_full: bool,
    /// Speculative decoding's counters (all 0 without it).
    pub spec: crate::SpecStats,
    /// Of `output_tokens`, those inside a thinking model's reasoning.
    pub reasoning_tokens: usize,
}

impl LoadedModel {
    /// Compile `grammar` for this model's vocabulary (indexed once, on first
    /// use): a fresh per-sequence constraint for [`GenerateRequest::constraint`].
    /// A grammar or schema that is malformed or asks for what cannot be
    /// enforced is an error naming it.
    pub fn constraint(
        &self,
        grammar: &sampler::Grammar,
    ) -> Result<sampler::Constraint, EngineError> {
        let vocab = self
            .constraint_vocab
            .get_or_init(|| {
                let t = &self.tokenizer;
                let pieces = (0..t.n_vocab() as u32).map(|id| {
                    let plain = t.token_to_piece(id);
                    if plain.is_empty() {
                        sampler::constraint::TokenBytes::Special(t.token_to_piece_special(id))
                    } else {
                        sampler::constraint::TokenBytes::Text(plain)
                    }
                });
                sampler::Vocabulary::new(pieces, t.eog_ids())
                    .map(std::sync::Arc::new)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| {
                EngineError::Constraint(sampler::ConstraintError::Vocabulary(e.clone()))
            })?;
        vocab.compile(grammar).map_err(EngineError::Constraint)
    }

    /// An error naming the model as an embedding model when it is one
    /// (`bert`, `nomic-bert`: it makes embeddings, never text).
    pub fn check_generates(&self) -> Result<(), EngineError> {
        if self.model.is_embedding() {
            return Err(model::ModelError::EmbeddingModel {
                arch: self.model.config.arch.name(),
            }
            .into());
        }
        Ok(())
    }

    /// Tokenize a prompt as the request says (an error for an embedding
    /// model, which does not generate: every generation path starts here).
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        self.prompt_tokens_cancellable(prompt, &std::sync::atomic::AtomicBool::new(false))
    }

    /// [`Self::prompt_tokens`] whose chat-template rendering (bounded in steps
    /// and output, as every rendering) stops once `cancel` is set.
    pub fn prompt_tokens_cancellable(
        &self,
        prompt: &Prompt,
        cancel: &std::sync::atomic::AtomicBool,
    ) -> Result<Vec<u32>, EngineError> {
        self.check_generates()?;
        let ids = match prompt {
            // Raw text is the caller's own template: special tokens written in
            // it (`<|im_start|>`) are those tokens, as llama.cpp and Ollama read
            // raw prompts; BOS as the model asks, unless the text starts with it.
            Prompt::Raw(text) => self
                .tokenizer
                .encode_chat(&tokenizer::RenderedChat::trusted(text.clone())),
            Prompt::Chat(messages) => {
                let t = self
                    .template
                    .as_ref()
                    .map_err(|e| EngineError::NoTemplate(e.clone()))?;
                let rendered = t.render_cancellable(messages, None, true, cancel)?;
                self.tokenizer.encode_chat(&rendered)
            }
            Prompt::Tokens(ids) => ids.clone(),
        };
        if ids.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        Ok(ids)
    }

    /// Generate for `req` in `sess` (cleared first), calling `on_text` with
    /// each piece of text as soon as it is complete UTF-8 and clear of stop
    /// strings. `on_text` returning `Break` cancels. (The loop itself is
    /// `generate_cached`, which keeps a shared prefix; here nothing is kept.)
    pub fn generate(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        req: &GenerateRequest,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<GenerateStats, EngineError> {
        sess.clear();
        let never = std::sync::atomic::AtomicBool::new(false);
        self.generate_cached(pool, sess, req, &never, on_text)
            .map(|c| c.stats)
    }
}
