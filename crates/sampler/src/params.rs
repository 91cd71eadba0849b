//! Sampling parameters and their validation.

use std::fmt;

/// The seed used when the caller does not supply one. Fixed on purpose:
/// hearth is reproducible by default; callers who want a different stream
/// per request pass their own seed (e.g. from the clock).
pub const DEFAULT_SEED: u64 = 0x4845_4152_5448_0001; // "HEARTH" + 1

/// Parameters of the sampling chain. The chain runs, in llama.cpp's default
/// order: penalties → top-k → top-p → min-p → temperature → random draw.
/// `temperature <= 0` short-circuits to greedy argmax (after penalties).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Divides the logits before the draw. `<= 0` → greedy. Default 0.8.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens. `0` = off. Default 40.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability sum
    /// reaches `top_p`. `1.0` = off. Default 0.95.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` × that of the most
    /// likely token. `0.0` = off. Default 0.05.
    pub min_p: f32,
    /// Positive logits of recently seen tokens are divided by this, negative
    /// ones multiplied. `1.0` = off (default).
    pub repeat_penalty: f32,
    /// Subtracted once from the logit of every recently seen token. `0` = off.
    pub presence_penalty: f32,
    /// Subtracted `count` times from the logit of a token seen `count` times
    /// in the window. `0` = off.
    pub frequency_penalty: f32,
    /// Size of the penalty window (last N accepted tokens). `0` disables all
    /// penalties. Default 64.
    pub penalty_last_n: usize,
    /// Seed of the PRNG. Default [`DEFAULT_SEED`] (fixed, not random).
    pub seed: u64,
    /// Added to the logits of the listed token ids before any other step
    /// (OpenAI's `logit_bias`; first in llama.cpp's chain too);
    /// `f32::NEG_INFINITY` bans a token (`ignore_eos`). Ids past the
    /// vocabulary are ignored. Empty = off (default).
    pub logit_bias: Vec<(u32, f32)>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            penalty_last_n: 64,
            seed: DEFAULT_SEED,
            logit_bias: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Pure greedy decoding: argmax, no filters, no penalties.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            ..Self::default()
        }
    }

    /// Check every field against its allowed range. The error names the
    /// field, the offending value and the range.
    pub fn validate(&self) -> Result<(), SamplerError> {
        fn check(
            field: &'static str,
            value: f32,
            ok: bool,
            allowed: &'static str,
        ) -> Result<(), SamplerError> {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(SamplerError::InvalidParam {
                    field,
                    value: value.to_string(),
                    allowed,
                })
            }
        }
        let t = self.temperature;
        check(
            "temperature",
            t,
            t >= 0.0,
            "a finite number >= 0 (0 = greedy)",
        )?;
        let p = self.top_p;
        check(
            "top_p",
            p,
            (0.0..=1.0).contains(&p),
            "0.0..=1.0 (1.0 = off)",
        )?;
        let p = self.min_p;
        check(
            "min_p",
            p,
            (0.0..=1.0).contains(&p),
            "0.0..=1.0 (0.0 = off)",
        )?;
        let r = self.repeat_penalty;
        check(
            "repeat_penalty",
            r,
            r > 0.0,
            "a finite number > 0 (1.0 = off)",
        )?;
        let x = self.presence_penalty;
        check(
            "presence_penalty",
            x,
            (-2.0..=2.0).contains(&x),
            "-2.0..=2.0 (0.0 = off)",
        )?;
        let x = self.frequency_penalty;
        check(
            "frequency_penalty",
            x,
            (-2.0..=2.0).contains(&x),
            "-2.0..=2.0 (0.0 = off)",
        )?;
        if let Some(&(_, b)) = self
            .logit_bias
            .iter()
            .find(|(_, b)| b.is_nan() || *b == f32::INFINITY)
        {
            return Err(SamplerError::InvalidParam {
                field: "logit_bias",
                value: b.to_string(),
                allowed: "finite numbers (or -inf to ban a token)",
            });
        }
        Ok(())
    }

    /// True when any penalty would change a logit.
    pub fn penalties_active(&self) -> bool {
        self.penalty_last_n > 0
            && (self.repeat_penalty != 1.0
                || self.presence_penalty != 0.0
                || self.frequency_penalty != 0.0)
    }
}

/// Errors of this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamplerError {
    /// A sampling parameter is out of range.
    InvalidParam {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
}

impl fmt::Display for SamplerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplerError::InvalidParam {
                field,
                value,
                allowed,
            } => write!(
                f,
                "invalid sampling parameter `{field}` = {value}: must be {allowed}"
            ),
        }
    }
}

impl std::error::Error for SamplerError {}
