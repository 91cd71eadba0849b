//! Throughput measurement in the manner of llama.cpp's `llama-bench`: prompt
//! processing of `p` tokens and generation of `n` tokens, each measured with
//! `depth` tokens already in the KV cache, repeated `reps` times.

use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, SeqInput};
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct BenchConfig {
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub depth: usize,
    pub reps: usize,
    /// Sequences decoding together for the parallel generation measurement
    /// (`0` or `1`: not measured): each step is one batched forward call of
    /// one row per sequence, as the scheduler runs concurrent requests.
    pub parallel: usize,
    /// Build the weight panels for the parallel measurement, as `hearth
    /// serve` and `hearth batch` do (`LoadedModel::build_panel_caches`).
    pub panel_cache: bool,
    /// Also measure generation under this grammar: each step computes the
    /// grammar's token mask and samples greedily among the allowed tokens
    /// (the cost of constrained decoding, next to the plain `tg`); a
    /// finished grammar starts over.
    pub grammar: Option<sampler::Grammar>,
}

/// min / median / max of a series.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(xs: &[f64]) -> Spread {
        if xs.is_empty() {
            return Spread::default();
        }
        let mut v = xs.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Spread {
            min: v[0],
            median,
            max: v[n - 1],
        }
    }
}

#[derive(Clone, Debug)]
pub struct BenchResult {
    /// Prompt processing, tokens per second (one entry per repetition).
    pub pp: Vec<f64>,
    /// Generation, tokens per second.
    pub tg: Vec<f64>,
    /// Parallel generation, aggregate tokens per second of all sequences.
    pub tg_parallel: Vec<f64>,
    /// Generation under the grammar, tokens per second.
    pub tg_grammar: Vec<f64>,
    /// Memory of the weight panels built for the parallel measurement.
    pub panel_cache_bytes: u64,
}

/// Deterministic pseudo-random token ids (avoiding the first ids, which are
/// often control tokens).
fn tokens(n: usize, n_vocab: usize, seed: u64) -> Vec<u32> {
    let mut s = seed | 1;
    let lo = 100.min(n_vocab / 2);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (lo + (s % (n_vocab - lo) as u64) as usize) as u32
        })
        .collect()
}

/// A prompt of at least 16 tokens for every tokenizer.
const FIRST_TOKEN_PROMPT: &str = "Write a short poem about the sea, the wind, the rain and the long grey winter evenings by the fire.";

/// The first 16 tokens of a fixed prompt through a fresh session to the
/// first sampled token, as `hearth run` reaches its first token after
/// loading (in a process that just loaded the model, the weights' pages are
/// mapped in on first touch here). Returns the prompt's tokens.
pub fn first_token(lm: &LoadedModel, pool: &ThreadPool) -> Result<usize, EngineError> {
    let first: Vec<u32> = lm
        .tokenizer
        .encode(FIRST_TOKEN_PROMPT, lm.tokenizer.add_bos(), false)
        .into_iter()
        .take(16)
        .collect();
    let mut s = lm.model.session(first.len() + 1, first.len())?;
    lm.model.forward(pool, &mut s, &first, Logits::Last)?;
    let _ = sampler::argmax(s.logits());
    Ok(first.len())
}

pub fn run(
    lm: &LoadedModel,
    pool: &ThreadPool,
    cfg: &BenchConfig,
) -> Result<BenchResult, EngineError> {
    let m = &lm.model;
    let n_vocab = m.config.n_vocab;
    let n_ctx = cfg.depth + cfg.prompt_tokens.max(cfg.gen_tokens) + 1;
    if n_ctx > m.config.n_ctx_train {
        return Err(EngineError::PromptTooLong {
            prompt: n_ctx,
            n_ctx: m.config.n_ctx_train,
            max: m.config.n_ctx_train,
        });
    }
    let mut sess = m.session(n_ctx, 512)?;
    let depth_tokens = tokens(cfg.depth, n_vocab, 7);
    let prompt = tokens(cfg.prompt_tokens, n_vocab, 11);
    let mut res = BenchResult {
        pp: Vec::new(),
        tg: Vec::new(),
        tg_parallel: Vec::new(),
        tg_grammar: Vec::new(),
        panel_cache_bytes: 0,
    };
    let proto = match &cfg.grammar {
        Some(g) => Some(lm.constraint(g)?),
        None => None,
    };
    let mut greedy = sampler::Sampler::new(sampler::SamplingParams::greedy(), n_vocab);
    // One untimed warm-up pass pages the weights in and settles the threads.
    m.forward(
        pool,
        &mut sess,
        &prompt[..prompt.len().min(16)],
        Logits::Last,
    )?;
    for _ in 0..cfg.reps.max(1) {
        if cfg.prompt_tokens > 0 {
            sess.clear();
            m.forward(pool, &mut sess, &depth_tokens, Logits::None)?;
            let t = Instant::now();
            m.forward(pool, &mut sess, &prompt, Logits::Last)?;
            res.pp
                .push(cfg.prompt_tokens as f64 / t.elapsed().as_secs_f64());
        }
        if cfg.gen_tokens > 0 {
            sess.clear();
            m.forward(pool, &mut sess, &depth_tokens, Logits::None)?;
            let mut tok = prompt.first().copied().unwrap_or(1);
            let t = Instant::now();
            for _ in 0..cfg.gen_tokens {
                m.forward(pool, &mut sess, &[tok], Logits::Last)?;
                tok = sampler::argmax(sess.logits());
            }
            res.tg
                .push(cfg.gen_tokens as f64 / t.elapsed().as_secs_f64());
        }
        if let (Some(proto), true) = (&proto, cfg.gen_tokens > 0) {
            sess.clear();
            m.forward(pool, &mut sess, &depth_tokens, Logits::None)?;
            let mut c = proto.clone();
            let mut tok = prompt.first().copied().unwrap_or(1);
            let t = Instant::now();
            for _ in 0..cfg.gen_tokens {
                m.forward(pool, &mut sess, &[tok], Logits::Last)?;
                if c.is_finished() {
                    c = proto.clone();
                }
                let mask = c.mask()?;
                tok = greedy.sample_masked(sess.logits(), mask).unwrap_or(0);
                c.accept(tok)?;
            }
            res.tg_grammar
                .push(cfg.gen_tokens as f64 / t.elapsed().as_secs_f64());
        }
    }
    if cfg.parallel > 1 && cfg.gen_tokens > 0 {
        drop(sess);
        if cfg.panel_cache {
            res.panel_cache_bytes = lm.build_panel_caches(pool.n_threads(), None)?;
        }
        res.tg_parallel = parallel(lm, pool, cfg, n_ctx, &depth_tokens)?;
    }
    Ok(res)
}

/// `cfg.parallel` sequences, each with `cfg.depth` tokens of its own in its
/// cache, generate `cfg.gen_tokens` tokens each in lock-step batched steps.
fn parallel(
    lm: &LoadedModel,
    pool: &ThreadPool,
    cfg: &BenchConfig,
    n_ctx: usize,
    depth_tokens: &[u32],
) -> Result<Vec<f64>, EngineError> {
    let m = &lm.model;
    let np = cfg.parallel;
    let mut sessions = (0..np)
        .map(|_| m.session(n_ctx, 512))
        .collect::<Result<Vec<_>, _>>()?;
    let mut scratch = m.batch_scratch(np);
    let mut out = Vec::new();
    for _ in 0..cfg.reps.max(1) {
        let mut toks = Vec::with_capacity(np);
        for (i, s) in sessions.iter_mut().enumerate() {
            s.clear();
            m.forward(pool, s, depth_tokens, Logits::None)?;
            // distinct first tokens, so the sequences do not march in step
            toks.push(tokens(1, m.config.n_vocab, 100 + i as u64)[0]);
        }
        let t = Instant::now();
        for _ in 0..cfg.gen_tokens {
            let mut seqs: Vec<SeqInput> = sessions
                .iter_mut()
                .zip(toks.iter())
                .map(|(s, t)| SeqInput {
                    sess: s,
                    tokens: std::slice::from_ref(t),
                    logits: Logits::Last,
                })
                .collect();
            m.forward_batch(pool, &mut scratch, &mut seqs)?;
            drop(seqs);
            for (s, t) in sessions.iter().zip(toks.iter_mut()) {
                *t = sampler::argmax(s.logits());
            }
        }
        out.push((np * cfg.gen_tokens) as f64 / t.elapsed().as_secs_f64());
    }
    Ok(out)
}
