//! Generation that keeps the KV cache between calls (multi-turn chat): the
//! whole conversation is rendered and tokenized each turn, the longest common
//! prefix with what the session already holds is kept, and only the rest is
//! fed through the model. A cancel flag is checked during prefill (between
//! chunks) and before every generated token.

use crate::spec::Speculator;
use crate::step::Stepper;
use crate::{EngineError, FinishReason, GenerateRequest, GenerateStats, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, Session};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Tokens fed per forward call during prefill (the cancel flag is checked between them).
const PREFILL_CHUNK: usize = 256;

/// Where a hybrid model (recurrent state that cannot be cut back) pins its
/// state so that other prompts sharing the start can begin there: just after
/// the prompt's first end-of-turn token — the end of the system prompt (or
/// of the first message, when there is none) — when more of the prompt
/// follows. None for other models, whose cache is reusable at any position.
pub fn reuse_point(lm: &LoadedModel, prompt: &[u32]) -> Option<usize> {
    lm.model.config.ssm.as_ref()?;
    let end = prompt.iter().position(|&t| lm.tokenizer.is_eog(t))? + 1;
    (end < prompt.len()).then_some(end)
}

/// Where a hybrid model's prompt chunk also ends, so that its state is
/// snapshotted there: just after the prompt's last end-of-turn token — the
/// end of the last message before the answer's own turn — when more of the
/// prompt follows (the generation prompt). The next turn's prompt holds this
/// one up to there, but renders the answer's turn anew (a template may write
/// it differently from the generation prompt, e.g. dropping the thinking),
/// so a snapshot at the prompt's end is often past where the two agree and
/// the state would be recomputed from an older one. None for other models.
pub fn turn_point(lm: &LoadedModel, prompt: &[u32]) -> Option<usize> {
    lm.model.config.ssm.as_ref()?;
    let end = prompt.iter().rposition(|&t| lm.tokenizer.is_eog(t))? + 1;
    (end < prompt.len()).then_some(end)
}

/// Where the prompt chunk starting at `at` ends: `at + chunk` or the
/// prompt's end, but at the first of `cuts` past `at` (a hybrid model's
/// reuse and turn points) when it comes sooner.
pub(crate) fn chunk_end(at: usize, len: usize, chunk: usize, cuts: &[Option<usize>]) -> usize {
    cuts.iter()
        .flatten()
        .filter(|&&p| p > at)
        .fold(len.min(at + chunk), |e, &p| e.min(p))
}

/// Length of the longest common prefix of two token sequences.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A piece of generated output: answer text and reasoning text (either may
/// be empty).
#[derive(Clone, Copy, Debug)]
pub struct Piece<'a> {
    pub text: &'a str,
    pub reasoning: &'a str,
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
        self.generate_split(pool, sess, req, cancel, |p| {
            if p.text.is_empty() {
                ControlFlow::Continue(())
            } else {
                on_text(p.text)
            }
        })
    }

    /// [`LoadedModel::generate_cached`] with the reasoning of a request that
    /// splits it ([`GenerateRequest::reasoning`]) passed apart: `on_piece`
    /// gets each piece of answer text and of reasoning as it completes.
    pub fn generate_split(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        req: &GenerateRequest,
        cancel: &AtomicBool,
        mut on_piece: impl FnMut(Piece<'_>) -> ControlFlow<()>,
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
        // a hybrid model's session may keep less (its recurrent state goes
        // back to a snapshot): feed from what it kept
        let keep = sess.truncate(keep);
        if keep == 0 {
            sess.clear();
        }
        // a hybrid model: a chunk ends at the end of the system prompt,
        // whose state is pinned there for the next conversation
        let pin = reuse_point(self, &prompt);
        // and one at the end of the last message before the answer's turn
        let turn = turn_point(self, &prompt);
        if pin == Some(keep) {
            sess.pin_snapshot();
        }
        let t0 = Instant::now();
        let mut cancelled = false;
        let mut at = keep;
        while at < prompt.len() {
            if cancel.load(Ordering::Relaxed) {
                cancelled = true;
                break;
            }
            let end = chunk_end(at, prompt.len(), PREFILL_CHUNK, &[pin, turn]);
            self.model
                .forward(pool, sess, &prompt[at..end], Logits::Last)?;
            at = end;
            if pin == Some(at) {
                sess.pin_snapshot();
            }
        }
        let prompt_seconds = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let mut finish = FinishReason::Length;
        let mut context_full = false;
        let mut step = Stepper::new(req, &self.tokenizer, &prompt);
        let mut spec = Speculator::new(&req.spec, self);
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
                let s = step.next(&self.tokenizer, spec.logits(sess))?;
                let (token, end) = (s.token, s.end);
                if (!s.text.is_empty() || !s.reasoning.is_empty())
                    && on_piece(Piece {
                        text: s.text,
                        reasoning: s.reasoning,
                    })
                    .is_break()
                {
                    finish = FinishReason::Cancelled;
                    break;
                }
                if end.is_some() {
                    finish = FinishReason::Stop;
                    break;
                }
                // a drafted token, already in the cache: its row's logits
                // are next (speculative decoding, `spec.rs`)
                if spec.accept(token, sess) {
                    continue;
                }
                if sess.n_past() >= sess.n_ctx() {
                    context_full = true;
                    break;
                }
                // drafts leave room in the context and stay within
                // max_tokens (the k drafts' rows sample k + 1 tokens)
                let mut limit = sess.n_ctx() - sess.n_past() - 1;
                if let Some(m) = req.max_tokens {
                    limit = limit.min(m.saturating_sub(step.out.len() + 1));
                }
                let feed = spec.propose(pool, sess, token, limit);
                let want = if feed.len() > 1 {
                    Logits::All
                } else {
                    Logits::Last
                };
                self.model.forward(pool, sess, feed, want)?;
            }
        }
        spec.finish(sess);
        if finish != FinishReason::Cancelled {
            let (text, reasoning) = step.finish();
            if !text.is_empty() || !reasoning.is_empty() {
                let _ = on_piece(Piece {
                    text: &text,
                    reasoning: &reasoning,
                });
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
                spec: spec.stats,
                reasoning_tokens: step.reasoning_tokens,
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
