//! One request, start to finish: render and tokenize the prompt, prefill it,
//! then decode token by token, sampling, stopping, and streaming text out.

use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, Session};
use sampler::{Sampler, SamplingParams, StopMatcher};
use std::ops::ControlFlow;
use std::time::Instant;
use tokenizer::{Message, StreamDecoder};

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
    /// Tokenize a prompt as the request says.
    pub fn prompt_tokens(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        let ids = match prompt {
            Prompt::Raw(text) => self.tokenizer.encode(text, self.tokenizer.add_bos(), false),
            Prompt::Chat(messages) => {
                let t = self.template.as_ref().map_err(|e| EngineError::NoTemplate(e.clone()))?;
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
    /// strings. `on_text` returning `Break` cancels.
    pub fn generate(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        req: &GenerateRequest,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<GenerateStats, EngineError> {
        req.sampling.validate().map_err(|e| EngineError::Sampling(e.to_string()))?;
        let prompt = self.prompt_tokens(&req.prompt)?;
        if prompt.len() > sess.n_ctx() {
            return Err(EngineError::PromptTooLong {
                prompt: prompt.len(),
                n_ctx: sess.n_ctx(),
                max: self.model.config.n_ctx_train,
            });
        }
        sess.clear();
        let t0 = Instant::now();
        self.model.forward(pool, sess, &prompt, Logits::Last)?;
        let prompt_seconds = t0.elapsed().as_secs_f64();

        let mut sampler = Sampler::new(req.sampling.clone(), self.model.config.n_vocab);
        for &t in &prompt {
            sampler.accept(t);
        }
        let mut decoder = StreamDecoder::new();
        let mut stops = StopMatcher::new(req.stop.clone());
        let mut out_tokens = Vec::new();
        let t1 = Instant::now();
        let mut finish = FinishReason::Length;
        let mut context_full = false;
        let mut hit_stop_string = false;
        loop {
            if req.max_tokens.is_some_and(|m| out_tokens.len() >= m) {
                break;
            }
            let tok = sampler.sample(sess.logits());
            sampler.accept(tok);
            out_tokens.push(tok);
            if self.tokenizer.is_eog(tok) {
                finish = FinishReason::Stop;
                break;
            }
            let piece = decoder.push(&self.tokenizer, tok);
            let (emit, hit) = stops.push(&piece);
            if !emit.is_empty() && on_text(&emit).is_break() {
                finish = FinishReason::Cancelled;
                break;
            }
            if hit {
                finish = FinishReason::Stop;
                hit_stop_string = true;
                break;
            }
            if sess.n_past() >= sess.n_ctx() {
                context_full = true;
                break;
            }
            self.model.forward(pool, sess, &[tok], Logits::Last)?;
        }
        // Text held back (an incomplete character, a possible stop-string
        // prefix) is still output unless a stop string ended it or the caller left.
        if finish != FinishReason::Cancelled && !hit_stop_string {
            let rest = decoder.flush();
            let (emit, _) = stops.push(&rest);
            let tail = stops.flush();
            let text = emit + &tail;
            if !text.is_empty() {
                let _ = on_text(&text);
            }
        }
        Ok(GenerateStats {
            prompt_tokens: prompt.len(),
            output_tokens: out_tokens.len(),
            prompt_seconds,
            gen_seconds: t1.elapsed().as_secs_f64(),
            finish,
            tokens: out_tokens,
            context_full,
        })
    }
}

