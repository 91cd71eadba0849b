//! Token sampling for hearth.
//!
//! Small composable pieces in the spirit of llama.cpp's samplers
//! (`src/llama-sampler.cpp`), written from scratch:
//!
//! - [`pieces`]: [`Candidates`] plus greedy, temperature, top-k, top-p, min-p,
//!   softmax, a seeded draw, and repeat / presence / frequency penalties
//!   over a window of the last N tokens ([`PenaltyWindow`]).
//! - [`Sampler`]: the standard chain configured by [`SamplingParams`],
//!   seeded and reproducible (own xoshiro256** PRNG and a libm-free exp, so a
//!   seed gives the same tokens on every platform), allocation-free per token.
//! - [`StopMatcher`]: stop strings over streamed text.
//! - [`constraint`]: constrained decoding (JSON Schema, JSON, GBNF/Lark
//!   grammars, regexes) through llguidance; [`Sampler::sample_masked`] samples
//!   among the tokens a grammar allows.
//! - [`RepeatDetector`]: an answer repeating one passage endlessly.
//! - [`argmax`], [`log_softmax_top`]: greedy choice and top-k log-probs.

pub mod constraint;
pub mod params;
pub mod pieces;
pub mod repeat;
pub mod rng;
pub mod sampler;
pub mod stop;

pub use constraint::{Constraint, ConstraintError, Grammar, Mask, Vocabulary, INNER_GRAMMAR};
pub use params::{SamplerError, SamplingParams, DEFAULT_SEED};
pub use pieces::{Candidates, PenaltyWindow, TokenData};
pub use repeat::RepeatDetector;
pub use rng::{Rng, SplitMix64};
pub use sampler::Sampler;
pub use stop::StopMatcher;

/// Index of the largest logit; the lowest id wins ties. NaNs are skipped.
/// Returns 0 for an empty slice or when every logit is NaN.
pub fn argmax(logits: &[f32]) -> u32 {
    // Two passes the compiler vectorizes (this runs once per generated token
    // over the whole vocabulary, ~150 k logits for Qwen): the largest non-NaN
    // value (`f32::max` returns the other operand when one is NaN), then the
    // first index holding it. Same answer as a single scan with `>`: the first
    // of equal maxima (`-0.0 == 0.0` included) wins.
    const L: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; L];
    let chunks = logits.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &x) in lanes.iter_mut().zip(c) {
            *m = m.max(x);
        }
    }
    let best_l = tail
        .iter()
        .chain(lanes.iter())
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    // every logit NaN (or none): 0; -inf maxima are found like any other
    logits.iter().position(|&l| l == best_l).unwrap_or(0) as u32
}

/// The `k` most likely tokens with their log-probabilities under the full
/// softmax of `logits`, most likely first (ties: lower id first). NaN logits
/// are treated as -inf. Returns fewer than `k` pairs when the vocab is
/// smaller.
pub fn log_softmax_top(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    if logits.is_empty() || k == 0 {
        return Vec::new();
    }
    let clean = |l: f32| if l.is_nan() { f32::NEG_INFINITY } else { l };
    let max = logits
        .iter()
        .copied()
        .map(clean)
        .fold(f32::NEG_INFINITY, f32::max);
    let log_z = if max == f32::NEG_INFINITY {
        (logits.len() as f64).ln()
    } else {
        let sum: f64 = logits
            .iter()
            .map(|&l| rng::det_exp(clean(l) as f64 - max as f64))
            .sum();
        max as f64 + sum.ln()
    };
    let mut c = Candidates::from_logits(logits);
    pieces::top_k(&mut c, k);
    c.sort();
    c.data
        .iter()
        .map(|t| {
            let lp = if max == f32::NEG_INFINITY {
                -log_z
            } else {
                t.logit as f64 - log_z
            };
            (t.id, lp as f32)
        })
        .collect()
}
