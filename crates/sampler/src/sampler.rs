//! The sampler: a fixed chain of the pieces, configured by [`SamplingParams`].

use crate::constraint::Mask;
use crate::params::SamplingParams;
use crate::pieces::{self, Candidates, PenaltyWindow};
use crate::rng::Rng;

/// A seeded, stateful sampler. All scratch space is allocated in
/// [`Sampler::new`]; `sample` and `accept` allocate nothing (as long as the
/// logits are at most `n_vocab` long).
///
/// Chain (llama.cpp's default order): logit bias → penalties → top-k →
/// top-p → min-p → temperature → draw. With `temperature <= 0`: logit bias →
/// penalties → argmax (lowest id wins ties), and the PRNG is not advanced.
///
/// `sample` does not record the token; call [`Sampler::accept`] with the
/// token actually used (or [`Sampler::sample_and_accept`]).
#[derive(Debug, Clone)]
pub struct Sampler {
    params: SamplingParams,
    n_vocab: usize,
    cands: Candidates,
    penalties: PenaltyWindow,
    rng: Rng,
}

impl Sampler {
    /// `params` should have passed [`SamplingParams::validate`]; invalid
    /// values are not rejected here, they behave as documented per piece.
    pub fn new(params: SamplingParams, n_vocab: usize) -> Self {
        let penalties = PenaltyWindow::new(params.penalty_last_n, n_vocab);
        let rng = Rng::new(params.seed);
        Self {
            params,
            n_vocab,
            cands: Candidates::with_capacity(n_vocab),
            penalties,
            rng,
        }
    }

    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// Choose the next token from `logits` (one per vocab entry).
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        let p = &self.params;
        let penalize = p.penalties_active();
        let bias = !p.logit_bias.is_empty();
        if p.temperature <= 0.0 && !penalize {
            if !bias {
                return crate::argmax(logits);
            }
            if let Some(t) = greedy_biased(logits, &p.logit_bias) {
                return t;
            }
        }
        self.cands.fill(logits);
        if bias {
            pieces::logit_bias(&mut self.cands, &p.logit_bias);
        }
        if penalize {
            self.penalties.apply(
                &mut self.cands,
                p.repeat_penalty,
                p.frequency_penalty,
                p.presence_penalty,
            );
        }
        if p.temperature <= 0.0 {
            return self.cands.best().map(|t| t.id).unwrap_or(0);
        }
        pieces::top_k(&mut self.cands, p.top_k);
        pieces::top_p(&mut self.cands, p.top_p, 1);
        pieces::min_p(&mut self.cands, p.min_p, 1);
        pieces::temperature(&mut self.cands, p.temperature);
        pieces::sample_dist(&mut self.cands, &mut self.rng)
    }

    /// Like [`Sampler::sample`], among the tokens `mask` allows only (a
    /// grammar's next step, see [`crate::constraint`]). The chain is the same
    /// over the allowed candidates; `None` when the mask allows no token of
    /// `logits`. Greedy without bias or penalties takes the plain argmax when
    /// the mask allows it (the common case inside a grammar), else the best
    /// allowed token (lowest id on ties).
    pub fn sample_masked(&mut self, logits: &[f32], mask: Mask<'_>) -> Option<u32> {
        let p = &self.params;
        let penalize = p.penalties_active();
        let bias = !p.logit_bias.is_empty();
        if p.temperature <= 0.0 && !penalize {
            let a = if bias {
                greedy_biased(logits, &p.logit_bias)
            } else {
                Some(crate::argmax(logits))
            };
            if let Some(a) = a.filter(|&a| mask.allows(a)) {
                return Some(a);
            }
            if !bias {
                let mut best: Option<(f32, u32)> = None;
                mask.for_each(|id| {
                    let Some(&l) = logits.get(id as usize) else {
                        return;
                    };
                    let l = if l.is_nan() { f32::NEG_INFINITY } else { l };
                    if best.is_none_or(|(b, _)| l > b) {
                        best = Some((l, id));
                    }
                });
                return best.map(|(_, id)| id);
            }
        }
        // The allowed candidates, in id order.
        let c = &mut self.cands;
        c.data.clear();
        c.sorted = false;
        mask.for_each(|id| {
            if let Some(&l) = logits.get(id as usize) {
                c.data.push(crate::TokenData {
                    id,
                    logit: if l.is_nan() { f32::NEG_INFINITY } else { l },
                    p: 0.0,
                });
            }
        });
        if c.data.is_empty() {
            return None;
        }
        for &(id, b) in &p.logit_bias {
            if let Ok(i) = c.data.binary_search_by_key(&id, |t| t.id) {
                c.data[i].logit += b;
            }
        }
        if penalize {
            self.penalties
                .apply(c, p.repeat_penalty, p.frequency_penalty, p.presence_penalty);
        }
        if p.temperature <= 0.0 {
            return c.best().map(|t| t.id);
        }
        pieces::top_k(c, p.top_k);
        pieces::top_p(c, p.top_p, 1);
        pieces::min_p(c, p.min_p, 1);
        pieces::temperature(c, p.temperature);
        Some(pieces::sample_dist(c, &mut self.rng))
    }

    /// Record a generated (or prompt) token for the penalties.
    pub fn accept(&mut self, token: u32) {
        self.penalties.accept(token);
    }

    /// `sample` followed by `accept` of the chosen token.
    pub fn sample_and_accept(&mut self, logits: &[f32]) -> u32 {
        let t = self.sample(logits);
        self.accept(t);
        t
    }

    /// Forget the penalty window and restart the PRNG from the seed, so the
    /// sampler behaves exactly as freshly constructed.
    pub fn reset(&mut self) {
        self.penalties.reset();
        self.rng = Rng::new(self.params.seed);
    }

    /// The candidates left after the last non-greedy `sample` (for
    /// debugging and tests).
    pub fn last_candidates(&self) -> &Candidates {
        &self.cands
    }

    pub fn penalty_window(&self) -> &PenaltyWindow {
        &self.penalties
    }
}

/// Greedy choice under a logit bias without building the candidate list
/// (the whole vocabulary) each token: the plain argmax, unless a biased token
/// beats it once biased. `None` (use the candidate path) when the argmax is
/// itself biased (e.g. a banned end-of-generation token), not finite, or
/// zero (where `total_cmp` and `>` order -0 and +0 differently), so the
/// answer always equals `Candidates::best` after `pieces::logit_bias`.
fn greedy_biased(logits: &[f32], bias: &[(u32, f32)]) -> Option<u32> {
    let a = crate::argmax(logits);
    let m = *logits.get(a as usize)?;
    if !m.is_finite() || m == 0.0 || bias.iter().any(|&(id, _)| id == a) {
        return None;
    }
    let mut best = (m, a);
    for &(id, _) in bias {
        let Some(&l) = logits.get(id as usize) else {
            continue;
        };
        let l = if l.is_nan() { f32::NEG_INFINITY } else { l };
        // the same sum, in the same order, as `pieces::logit_bias`
        let v = bias
            .iter()
            .filter(|&&(j, _)| j == id)
            .fold(l, |acc, &(_, b)| acc + b);
        if v.total_cmp(&best.0).then(best.1.cmp(&id)) == std::cmp::Ordering::Greater {
            best = (v, id);
        }
    }
    Some(best.1)
}
