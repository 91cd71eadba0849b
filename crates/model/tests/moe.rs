//! Mixture-of-experts models (qwen3moe, gpt-oss) built with the project's
//! own GGUF writer, F32 weights: the forward pass against a naive reference
//! written here from the architectures' descriptions (router, softmax, top-k,
//! renormalisation, per-expert SwiGLU or gpt-oss's clamped one, expert and
//! attention biases, attention sinks, alternating sliding-window layers,
//! YaRN), a sequence's logits the same bits alone, in chunks, one token at a
//! time and batched with others (the rows of a batch are grouped by expert),
//! and clear errors for malformed files. The comparison with llama.cpp itself
//! is `synthetic.rs`.

use gguf::{GgufWriter, Value};
use model::{Logits, Model, ModelError, SeqInput};
use std::collections::HashMap;

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f() * scale).collect()
    }
}

const VOCAB: usize = 40;
const D: usize = 32;
const LAYERS: usize = 3;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HD: usize = 8;
const N_EXPERT: usize = 6;
const USED: usize = 2;
const FF: usize = 16;
const WINDOW: usize = 4;
/// gpt-oss's YaRN here: factor 4 over an original context of 8 positions.
const YARN_FACTOR: f32 = 4.0;
const YARN_ORIG: usize = 8;

type Weights = HashMap<String, Vec<f32>>;

/// What a tiny file leaves out or breaks (for the error tests).
#[derive(Default, Clone, Copy)]
struct Variant {
    used: Option<u32>,
    skip_down_exps: bool,
    bad_gate_exps: bool,
}

fn tiny(arch: &str, seed: u64, v: Variant) -> (Vec<u8>, Weights) {
    let oss = arch == "gpt-oss";
    let mut r = Rng(seed);
    let mut w = GgufWriter::new();
    let mut ws = HashMap::new();
    w.set_str("general.architecture", arch);
    let k = |s: &str| format!("{arch}.{s}");
    w.set_u32(&k("block_count"), LAYERS as u32);
    w.set_u32(&k("context_length"), 64);
    w.set_u32(&k("embedding_length"), D as u32);
    w.set_u32(&k("feed_forward_length"), (FF * 4) as u32);
    w.set_u32(&k("expert_feed_forward_length"), FF as u32);
    w.set_u32(&k("expert_count"), N_EXPERT as u32);
    w.set_u32(&k("expert_used_count"), v.used.unwrap_or(USED as u32));
    w.set_u32(&k("attention.head_count"), HEADS as u32);
    w.set_u32(&k("attention.head_count_kv"), KV_HEADS as u32);
    w.set_u32(&k("attention.key_length"), HD as u32);
    w.set_u32(&k("attention.value_length"), HD as u32);
    w.set_f32(&k("attention.layer_norm_rms_epsilon"), 1e-5);
    if oss {
        w.set_f32(&k("rope.freq_base"), 150000.0);
        w.set_u32(&k("attention.sliding_window"), WINDOW as u32);
        w.set(&k("rope.scaling.type"), Value::String("yarn".into()));
        w.set_f32(&k("rope.scaling.factor"), YARN_FACTOR);
        w.set_u32(&k("rope.scaling.original_context_length"), YARN_ORIG as u32);
    } else {
        w.set_f32(&k("rope.freq_base"), 10000.0);
    }
    let mut add = |name: &str, dims: &[u64], scale: f32, w: &mut GgufWriter| {
        let n: u64 = dims.iter().product();
        let v = r.vec(n as usize, scale);
        w.add_f32(name, dims, &v).unwrap();
        ws.insert(name.to_string(), v);
    };
    let (d, q, kv, ff, ne) = (
        D as u64,
        (HEADS * HD) as u64,
        (KV_HEADS * HD) as u64,
        FF as u64,
        N_EXPERT as u64,
    );
    add("token_embd.weight", &[d, VOCAB as u64], 1.0, &mut w);
    add("output_norm.weight", &[d], 1.0, &mut w);
    add("output.weight", &[d, VOCAB as u64], 0.3, &mut w);
    for i in 0..LAYERS {
        let n = |s: &str| format!("blk.{i}.{s}");
        add(&n("attn_norm.weight"), &[d], 1.0, &mut w);
        add(&n("attn_q.weight"), &[d, q], 0.3, &mut w);
        add(&n("attn_k.weight"), &[d, kv], 0.3, &mut w);
        add(&n("attn_v.weight"), &[d, kv], 0.3, &mut w);
        add(&n("attn_output.weight"), &[q, d], 0.3, &mut w);
        if oss {
            add(&n("attn_q.bias"), &[q], 0.5, &mut w);
            add(&n("attn_k.bias"), &[kv], 0.5, &mut w);
            add(&n("attn_v.bias"), &[kv], 0.5, &mut w);
            add(&n("attn_output.bias"), &[d], 0.5, &mut w);
            add(&n("attn_sinks.weight"), &[HEADS as u64], 2.0, &mut w);
            add(&n("post_attention_norm.weight"), &[d], 1.0, &mut w);
            add(&n("ffn_gate_inp.bias"), &[ne], 1.0, &mut w);
            add(&n("ffn_gate_exps.bias"), &[ff, ne], 0.5, &mut w);
            add(&n("ffn_up_exps.bias"), &[ff, ne], 0.5, &mut w);
            add(&n("ffn_down_exps.bias"), &[d, ne], 0.5, &mut w);
        } else {
            add(&n("attn_q_norm.weight"), &[HD as u64], 1.0, &mut w);
            add(&n("attn_k_norm.weight"), &[HD as u64], 1.0, &mut w);
            add(&n("ffn_norm.weight"), &[d], 1.0, &mut w);
        }
        add(&n("ffn_gate_inp.weight"), &[d, ne], 0.5, &mut w);
        // gate weights of ~1.5 per row: gpt-oss's clamp at 7 is reached
        let gate_dims = if v.bad_gate_exps {
            [d, ff + 1, ne]
        } else {
            [d, ff, ne]
        };
        add(&n("ffn_gate_exps.weight"), &gate_dims, 1.5, &mut w);
        add(&n("ffn_up_exps.weight"), &[d, ff, ne], 1.5, &mut w);
        if !v.skip_down_exps {
            add(&n("ffn_down_exps.weight"), &[ff, d, ne], 0.3, &mut w);
        }
    }
    (w.to_bytes(), ws)
}

// ---------- the naive reference (f32, one position at a time) ----------

fn rmsnorm(x: &[f32], w: &[f32]) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let s = 1.0 / (ms + 1e-5).sqrt();
    x.iter().zip(w).map(|(a, b)| a * s * b).collect()
}

/// y[o] = Σ_i W[o][i] x[i] (+ b[o]), W row-major [out][in].
fn matvec(w: &[f32], x: &[f32], out: usize, b: Option<&[f32]>) -> Vec<f32> {
    (0..out)
        .map(|o| {
            let y: f32 = (0..x.len()).map(|i| w[o * x.len() + i] * x[i]).sum();
            y + b.map_or(0.0, |b| b[o])
        })
        .collect()
}

/// NeoX rotation of each head by the angles `theta[i]` (with YaRN's
/// magnitude `mscale` on sine and cosine).
fn rotate(v: &mut [f32], theta: &[f32], mscale: f32) {
    let half = HD / 2;
    for h in v.chunks_mut(HD) {
        for i in 0..half {
            let (s, c) = (theta[i].sin() * mscale, theta[i].cos() * mscale);
            let (x0, x1) = (h[i], h[i + half]);
            h[i] = x0 * c - x1 * s;
            h[i + half] = x0 * s + x1 * c;
        }
    }
}

/// The angles of position `pos`: plain, or YaRN's (the YaRN paper as ggml
/// implements it: dims rotating fewer than beta_slow = 1 times over the
/// original context interpolated by 1/factor, more than beta_fast = 32 times
/// kept, a linear ramp between; sine and cosine × (1 + 0.1 ln factor)).
fn angles(pos: usize, base: f32, yarn: bool) -> (Vec<f32>, f32) {
    let half = HD / 2;
    let plain: Vec<f32> = (0..half)
        .map(|i| pos as f32 * base.powf(-((2 * i) as f32) / HD as f32))
        .collect();
    if !yarn {
        return (plain, 1.0);
    }
    // the dim whose wavelength fits `turns` times in the original context
    let dim = |turns: f32| {
        HD as f32 * (YARN_ORIG as f32 / (turns * 2.0 * std::f32::consts::PI)).ln()
            / (2.0 * base.ln())
    };
    let (lo, hi) = (
        dim(32.0).floor().max(0.0),
        dim(1.0).ceil().min(HD as f32 - 1.0),
    );
    let theta = plain
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let keep = 1.0 - ((i as f32 - lo) / (hi - lo).max(0.001)).clamp(0.0, 1.0);
            t / YARN_FACTOR * (1.0 - keep) + t * keep
        })
        .collect();
    (theta, 1.0 + 0.1 * YARN_FACTOR.ln())
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().cloned().fold(f32::MIN, f32::max);
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let z: f32 = e.iter().sum();
    e.iter().map(|v| v / z).collect()
}

/// The `k` largest of `x`, largest first.
fn top(x: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[b].partial_cmp(&x[a]).unwrap().then(a.cmp(&b)));
    idx.truncate(k);
    idx
}

/// What to leave out of the reference (mutations it must notice).
#[derive(Default, Clone, Copy)]
struct Skip {
    renorm: bool,
    sinks: bool,
    router_bias: bool,
}

fn reference(arch: &str, ws: &Weights, tokens: &[u32], skip: Skip) -> Vec<Vec<f32>> {
    let oss = arch == "gpt-oss";
    let g = |n: &str| &ws[n][..];
    let opt = |n: &str| ws.get(n).map(|v| &v[..]);
    let mut kc: Vec<Vec<Vec<f32>>> = vec![vec![]; LAYERS];
    let mut vc: Vec<Vec<Vec<f32>>> = vec![vec![]; LAYERS];
    let mut out = vec![];
    for (pos, &tok) in tokens.iter().enumerate() {
        let mut x = g("token_embd.weight")[tok as usize * D..(tok as usize + 1) * D].to_vec();
        for l in 0..LAYERS {
            let n = |s: &str| format!("blk.{l}.{s}");
            let h = rmsnorm(&x, g(&n("attn_norm.weight")));
            let mut q = matvec(
                g(&n("attn_q.weight")),
                &h,
                HEADS * HD,
                opt(&n("attn_q.bias")),
            );
            let mut k = matvec(
                g(&n("attn_k.weight")),
                &h,
                KV_HEADS * HD,
                opt(&n("attn_k.bias")),
            );
            let v = matvec(
                g(&n("attn_v.weight")),
                &h,
                KV_HEADS * HD,
                opt(&n("attn_v.bias")),
            );
            if !oss {
                q = q
                    .chunks(HD)
                    .flat_map(|c| rmsnorm(c, g(&n("attn_q_norm.weight"))))
                    .collect();
                k = k
                    .chunks(HD)
                    .flat_map(|c| rmsnorm(c, g(&n("attn_k_norm.weight"))))
                    .collect();
            }
            let (theta, mscale) = angles(pos, if oss { 150000.0 } else { 10000.0 }, oss);
            rotate(&mut q, &theta, mscale);
            rotate(&mut k, &theta, mscale);
            kc[l].push(k);
            vc[l].push(v);
            // gpt-oss: layers 0, 2, ... slide
            let lo = if oss && l % 2 == 0 {
                (pos + 1).saturating_sub(WINDOW)
            } else {
                0
            };
            let mut att = vec![0.0; HEADS * HD];
            for hh in 0..HEADS {
                let kvh = hh / (HEADS / KV_HEADS);
                let mut scores: Vec<f32> = (lo..=pos)
                    .map(|j| {
                        (0..HD)
                            .map(|i| q[hh * HD + i] * kc[l][j][kvh * HD + i])
                            .sum::<f32>()
                            / (HD as f32).sqrt()
                    })
                    .collect();
                // a sink: one more logit in the softmax, with no value
                let sink = oss && !skip.sinks;
                if sink {
                    scores.push(g(&n("attn_sinks.weight"))[hh]);
                }
                let p = softmax(&scores);
                for (idx, j) in (lo..=pos).enumerate() {
                    for i in 0..HD {
                        att[hh * HD + i] += p[idx] * vc[l][j][kvh * HD + i];
                    }
                }
            }
            let o = matvec(
                g(&n("attn_output.weight")),
                &att,
                D,
                opt(&n("attn_output.bias")),
            );
            x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);

            // mixture of experts
            let h = rmsnorm(
                &x,
                g(&n(if oss {
                    "post_attention_norm.weight"
                } else {
                    "ffn_norm.weight"
                })),
            );
            let rb = if skip.router_bias {
                None
            } else {
                opt(&n("ffn_gate_inp.bias"))
            };
            let logits = matvec(g(&n("ffn_gate_inp.weight")), &h, N_EXPERT, rb);
            let (chosen, weights): (Vec<usize>, Vec<f32>) = if oss {
                let c = top(&logits, USED);
                let w = softmax(&c.iter().map(|&e| logits[e]).collect::<Vec<_>>());
                (c, w)
            } else {
                let p = softmax(&logits);
                let c = top(&p, USED);
                let mut w: Vec<f32> = c.iter().map(|&e| p[e]).collect();
                if !skip.renorm {
                    let s: f32 = w.iter().sum();
                    w.iter_mut().for_each(|v| *v /= s);
                }
                (c, w)
            };
            let mut y = vec![0.0f32; D];
            for (&e, &wt) in chosen.iter().zip(&weights) {
                let ex = |name: &str, rows: usize, cols: usize| {
                    &g(&n(name))[e * rows * cols..(e + 1) * rows * cols]
                };
                let eb = |name: &str, len: usize| opt(&n(name)).map(|b| &b[e * len..(e + 1) * len]);
                let gate = matvec(
                    ex("ffn_gate_exps.weight", FF, D),
                    &h,
                    FF,
                    eb("ffn_gate_exps.bias", FF),
                );
                let up = matvec(
                    ex("ffn_up_exps.weight", FF, D),
                    &h,
                    FF,
                    eb("ffn_up_exps.bias", FF),
                );
                let act: Vec<f32> = gate
                    .iter()
                    .zip(&up)
                    .map(|(&a, &u)| {
                        if oss {
                            let a = a.min(7.0);
                            let u = u.clamp(-7.0, 7.0);
                            a / (1.0 + (-1.702 * a).exp()) * (u + 1.0)
                        } else {
                            a / (1.0 + (-a).exp()) * u
                        }
                    })
                    .collect();
                let dn = matvec(
                    ex("ffn_down_exps.weight", D, FF),
                    &act,
                    D,
                    eb("ffn_down_exps.bias", D),
                );
                y.iter_mut().zip(&dn).for_each(|(a, b)| *a += wt * b);
            }
            x.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
        }
        let h = rmsnorm(&x, g("output_norm.weight"));
        out.push(matvec(g("output.weight"), &h, VOCAB, None));
    }
    out
}

fn load(bytes: Vec<u8>) -> Result<Model, ModelError> {
    Model::from_gguf(gguf::GgufFile::from_bytes("tiny.gguf", bytes)?)
}

const TOKENS: [u32; 14] = [1, 5, 9, 3, 17, 22, 8, 39, 0, 12, 30, 30, 2, 25];

fn max_diff(got: &[f32], want: &[Vec<f32>]) -> f32 {
    want.iter()
        .flatten()
        .zip(got)
        .map(|(w, g)| (w - g).abs() / (1.0 + w.abs()))
        .fold(0.0, f32::max)
}

#[test]
fn forward_matches_naive_reference() {
    let pool = kernels::ThreadPool::new(2);
    for arch in ["qwen3moe", "gpt-oss"] {
        let (bytes, ws) = tiny(arch, 7, Variant::default());
        let m = load(bytes).unwrap();
        assert_eq!(m.config.arch.name(), arch);
        let mut s = m.session(32, 4).unwrap();
        m.forward(&pool, &mut s, &TOKENS, Logits::All).unwrap();
        let got = s.all_logits();
        let d = max_diff(got, &reference(arch, &ws, &TOKENS, Skip::default()));
        assert!(d < 2e-3, "{arch}: relative difference {d}");
        eprintln!("{arch}: relative difference {d}");
        // the reference tells each feature apart (mutation checks of the
        // reference itself: leaving a step out shows)
        let skips: &[Skip] = if arch == "gpt-oss" {
            &[
                Skip {
                    sinks: true,
                    ..Skip::default()
                },
                Skip {
                    router_bias: true,
                    ..Skip::default()
                },
            ]
        } else {
            &[Skip {
                renorm: true,
                ..Skip::default()
            }]
        };
        for &skip in skips {
            let d = max_diff(got, &reference(arch, &ws, &TOKENS, skip));
            eprintln!("{arch}: without a step: {d}");
            assert!(d > 2e-2, "{arch}: a left-out step changes only {d}");
        }
    }
}

/// Logits of every position of `tokens`, in one call.
fn all_logits(m: &Model, pool: &kernels::ThreadPool, tokens: &[u32], batch: usize) -> Vec<f32> {
    let mut s = m.session(32, batch).unwrap();
    m.forward(pool, &mut s, tokens, Logits::All).unwrap();
    s.all_logits().to_vec()
}

#[test]
fn a_sequence_gives_the_same_bits_alone_chunked_stepwise_and_batched() {
    let pool = kernels::ThreadPool::new(2);
    for arch in ["qwen3moe", "gpt-oss"] {
        let (bytes, _) = tiny(arch, 11, Variant::default());
        let m = load(bytes).unwrap();
        let all = all_logits(&m, &pool, &TOKENS, 64);
        for batch in [1, 3, 5] {
            assert_eq!(
                all_logits(&m, &pool, &TOKENS, batch),
                all,
                "{arch} batch {batch}"
            );
        }
        let mut s = m.session(32, 8).unwrap();
        for (t, &tok) in TOKENS.iter().enumerate() {
            m.forward(&pool, &mut s, &[tok], Logits::Last).unwrap();
            assert_eq!(
                s.logits(),
                &all[t * VOCAB..(t + 1) * VOCAB],
                "{arch} step {t}"
            );
            // one row per step: each routing margin is that row's
            assert_eq!(s.route_margins().len(), 1);
            assert!(s.route_margins()[0] >= 0.0);
        }
        // batched with two other sequences: their rows share the experts'
        // matrix products, the first half as one prompt, then a token each
        let others: [Vec<u32>; 2] = [
            TOKENS.iter().rev().copied().collect(),
            TOKENS.iter().map(|t| (t * 7 + 1) % VOCAB as u32).collect(),
        ];
        let mut sess: Vec<_> = (0..3).map(|_| m.session(32, 8).unwrap()).collect();
        let mut scratch = m.batch_scratch(32);
        let h = TOKENS.len() / 2;
        for t in h - 1..TOKENS.len() {
            let span = |v: &[u32]| -> Vec<u32> {
                if t + 1 == h {
                    v[..h].to_vec()
                } else {
                    v[t..t + 1].to_vec()
                }
            };
            let toks = [span(&TOKENS), span(&others[0]), span(&others[1])];
            let mut it = sess.iter_mut();
            let mut seqs: Vec<SeqInput> = toks
                .iter()
                .map(|tk| SeqInput {
                    sess: it.next().unwrap(),
                    tokens: tk,
                    logits: Logits::Last,
                })
                .collect();
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
            assert_eq!(
                sess[0].logits(),
                &all[t * VOCAB..(t + 1) * VOCAB],
                "{arch} batched, position {t}"
            );
        }
    }
}

#[test]
fn malformed_mixtures_are_clear_errors() {
    let cases = [
        (
            Variant {
                used: Some(7),
                ..Variant::default()
            },
            "expert_used_count",
        ),
        (
            Variant {
                used: Some(0),
                ..Variant::default()
            },
            "expert_used_count",
        ),
        (
            Variant {
                skip_down_exps: true,
                ..Variant::default()
            },
            "ffn_down_exps",
        ),
        (
            Variant {
                bad_gate_exps: true,
                ..Variant::default()
            },
            "ffn_gate_exps",
        ),
    ];
    for arch in ["qwen3moe", "gpt-oss"] {
        for (v, needle) in cases {
            let (bytes, _) = tiny(arch, 3, v);
            let e = load(bytes).unwrap_err().to_string();
            assert!(e.contains(needle), "{arch}: {e}");
        }
    }
    // a dense architecture with experts is refused, naming the key
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "llama");
    w.set_u32("llama.expert_count", 8);
    w.add_f32("token_embd.weight", &[4, 4], &[0.0; 16]).unwrap();
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("llama.expert_count") && e.contains("mixture-of-experts"),
        "{e}"
    );
}
