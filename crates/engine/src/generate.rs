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
    /// Plain text, tokenized as is (BOS as the model's metadata says).
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
}

impl LoadedModel {
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
        self.check_generates()?;
        let ids = match prompt {
            Prompt::Raw(text) => self.tokenizer.encode(text, self.tokenizer.add_bos(), false),
            Prompt::Chat(messages) => {
                let t = self
                    .template
                    .as_ref()
                    .map_err(|e| EngineError::NoTemplate(e.clone()))?;
                let rendered = t.render(messages, true)?;
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
