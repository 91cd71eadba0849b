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
//! - [`argmax`], [`log_softmax_top`]: greedy choice and top-k log-probs.

pub mod params;
pub mod pieces;
pub mod rng;
pub mod sampler;
pub mod stop;

pub use params::{SamplerError, SamplingParams, DEFAULT_SEED};
pub use pieces::{Candidates, PenaltyWindow, TokenData};
pub use rng::{Rng, SplitMix64};
pub use sampler::Sampler;
pub use stop::StopMatcher;

/// Index of the largest logit; the lowest id wins ties. NaNs are skipped.
/// Returns 0 for an empty slice or when every logit is NaN.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    let mut best_l = f32::NEG_INFINITY;
    let mut found = false;
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        if !found || l > best_l {
            best = i;
            best_l = l;
            found = true;
        }
    }
    best as u32
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
