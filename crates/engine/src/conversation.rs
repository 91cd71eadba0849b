//! Generation that keeps the KV cache between calls (multi-turn chat): the
//! whole conversation is rendered and tokenized each turn, the longest common
//! prefix with what the session already holds is kept, and only the rest is
//! fed through the model. A cancel flag is checked during prefill (between
//! chunks) and before every generated token.

use crate::step::Stepper;
use crate::{EngineError, FinishReason, GenerateRequest, GenerateStats, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, Session};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Tokens fed per forward call during prefill (the cancel flag is checked between them).
const PREFILL_CHUNK: usize = 256;

/// Length of the longest common prefix of two token sequences.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Extra statistics of a cached generation.
#[derive(Clone, Debug)]
pub struct CachedStats {
    pub stats: GenerateStats,
    /// Prompt tokens found already in the cache (not recomputed).
    pub reused_tokens: usize,
}

impl LoadedModel {
    /// Like [`LoadedModel::generate`], but keeps whatever prefix of the prompt
    /// `sess` already holds and feeds only the rest. `cancel` set → stops
    /// as soon as possible with [`FinishReason::Cancelled`]. The prompt must
    /// fit in the context (else `PromptTooLong`, session untouched).
    pub fn generate_cached(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        req: &GenerateRequest,
        cancel: &AtomicBool,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<CachedStats, EngineError> {
        req.sampling
            .validate()
            .map_err(|e| EngineError::Sampling(e.to_string()))?;
        let prompt = self.prompt_tokens(&req.prompt)?;
        if prompt.len() > sess.n_ctx() {
            return Err(EngineError::PromptTooLong {
                prompt: prompt.len(),
                n_ctx: sess.n_ctx(),
                max: self.model.config.n_ctx_train,
            });
        }
        // Keep the shared prefix, but always recompute at least the last
        // prompt token so that the logits are those of this prompt.
        let keep = common_prefix(sess.tokens(), &prompt).min(prompt.len() - 1);
        sess.truncate(keep);
        if keep == 0 {
            sess.clear();
        }
        let t0 = Instant::now();
        let mut cancelled = false;
        for chunk in prompt[keep..].chunks(PREFILL_CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            self.model.forward(pool, sess, chunk, Logits::Last)?;
        }
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut finish = FinishReason::Length;
        let mut context_full = false;
        let mut step = Stepper::new(req, self.model.config.n_vocab, &prompt);
        if cancelled {
            finish = FinishReason::Cancelled;
        } else {
            loop {
                if cancel.load(Ordering::Relaxed) {
                    finish = FinishReason::Cancelled;
                    break;
                }
                if req.max_tokens.is_some_and(|m| step.out.len() >= m) {
                    break;
                }
                let s = step.next(&self.tokenizer, sess.logits());
                if !s.text.is_empty() && on_text(s.text).is_break() {
                    finish = FinishReason::Cancelled;
                    break;
                }
                if s.end.is_some() {
                    finish = FinishReason::Stop;
                    break;
                }
                if sess.n_past() >= sess.n_ctx() {
                    context_full = true;
                    break;
                }
                self.model.forward(pool, sess, &[s.token], Logits::Last)?;
            }
        }
        if finish != FinishReason::Cancelled {
            let text = step.finish();
            if !text.is_empty() {
                let _ = on_text(&text);
            }
        }
        let out_tokens = std::mem::take(&mut step.out);
        Ok(CachedStats {
            stats: GenerateStats {
                prompt_tokens: prompt.len(),
                cached_tokens: keep,
                output_tokens: out_tokens.len(),
                prompt_seconds,
                gen_seconds: t1.elapsed().as_secs_f64(),
                finish,
                tokens: out_tokens,
                context_full,
            },
            reused_tokens: keep,
        })
    }

    /// Number of tokens `messages` take when rendered with the generation
    /// prompt (for showing how full the context is).
    pub fn count_chat_tokens(&self, messages: &[tokenizer::Message]) -> Result<usize, EngineError> {
        Ok(self
            .prompt_tokens(&crate::Prompt::Chat(messages.to_vec()))?
            .len())
    }
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn prefix() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
        assert_eq!(common_prefix(&[1, 2], &[1, 2, 3]), 2);
    }
}
