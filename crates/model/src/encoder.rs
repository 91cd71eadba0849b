//! Embedding models: bidirectional encoders (`bert`, `nomic-bert`) run in one
//! pass over a whole text, as llama.cpp's `src/models/bert.cpp` graph does
//! (the one graph both architectures share):
//!
//! ```text
//! x = tok_embd[t] + token_types[0] (+ position_embd[pos], bert)
//! x = LayerNorm(x)                                   token_embd_norm
//! per layer:
//!   q, k, v = x·Wqkv + b             (RoPE on q and k, nomic-bert)
//!   a = softmax(q·kᵀ / sqrt(head_dim) + mask) · v    every token sees every token
//!   x1 = LayerNorm(a·Wo + bo + x)                    attn_output_norm
//!   f = GELU(x1·Wup + bup)·Wdown + bdown             bert
//!     = (SiLU(x1·Wgate) ⊙ x1·Wup)·Wdown              nomic-bert
//!   x = LayerNorm(f + x1)                            layer_output_norm
//! ```
//!
//! The result is every token's final hidden state; the text's vector is
//! pooled from them as the file says (`pooling.rs`). There is no KV cache
//! (nothing is generated) and no vocabulary projection. Token types are
//! always type 0 ("sentence A"), as llama.cpp hard-codes them. Attention is
//! bidirectional unless the file says `attention.causal` (llama.cpp's default
//! when the key is absent is causal, and hearth follows it).
//!
//! The matrix products are the decoder's (`Model::project_many`, weights in
//! the map, activations rounded or quantized as ggml does); the attention
//! products are f32 matrix products too, as ggml computes them without a
//! cache: scores = K·Qᵀ per head, then Vᵀ·softmax.

use crate::config::{Config, Meta};
use crate::session::ActSet;
use crate::weights::{Loader, Matrix, Weights};
use crate::{Model, ModelError};
use gguf::{GgmlType, GgufFile};
use kernels::{MatmulJob, QuantizedActs, ThreadPool};
use std::sync::Mutex;

/// The MLP of an encoder block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderFfn {
    /// `GELU(x·Wup + b)·Wdown + b` (bert).
    Gelu,
    /// `(SiLU(x·Wgate) ⊙ x·Wup)·Wdown` (nomic-bert).
    SwiGlu,
}

/// How positions enter an encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncoderPositions {
    /// Learned absolute position embeddings added to the input
    /// (`position_embd`, bert).
    Learned,
    /// Rotary embeddings on Q and K (nomic-bert; `Config::pos.rope`).
    Rope,
}

/// What an embedding model's configuration adds to [`Config`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncoderSpec {
    /// Attention only to earlier tokens (`{arch}.attention.causal`; llama.cpp
    /// defaults to true, every converted BERT file says false).
    pub causal: bool,
    /// LayerNorm epsilon (`{arch}.attention.layer_norm_epsilon`).
    pub norm_eps: f32,
    pub ffn: EncoderFfn,
    pub positions: EncoderPositions,
    /// Rows of `token_types` (`tokenizer.ggml.token_type_count`).
    pub n_token_types: usize,
}

/// Read the encoder's keys into `c` (called by `arch/bert.rs` and
/// `arch/nomic_bert.rs`), as llama.cpp's `load_arch_hparams` and
/// `load_arch_tensors` require them.
pub(crate) fn configure(
    c: &mut Config,
    m: &Meta,
    ffn: EncoderFfn,
    positions: EncoderPositions,
) -> Result<(), ModelError> {
    let eps_key = m.key("attention.layer_norm_epsilon");
    let norm_eps = m.f("attention.layer_norm_epsilon")?.ok_or_else(|| {
        m.bad(
            &eps_key,
            "is missing; the file is not a complete encoder model",
        )
    })?;
    let types_key = "tokenizer.ggml.token_type_count";
    let n_token_types = match m.f.get(types_key) {
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 && n <= 1 << 16 => n as usize,
            _ => {
                return Err(m.bad(
                    types_key,
                    &format!("is {}, expected a positive count", v.display_short(4)),
                ))
            }
        },
        None => {
            return Err(m.bad(
                types_key,
                &format!("is missing; a {} model needs its token type count", m.arch),
            ))
        }
    };
    if c.q_dim() != c.n_embd || c.n_head_kv != c.n_head {
        return Err(m.bad(
            &m.key("attention.head_count"),
            "with the head size does not make embedding_length with one K/V head per head, which an encoder needs",
        ));
    }
    for l in &mut c.layers {
        l.rope = positions == EncoderPositions::Rope;
    }
    c.encoder = Some(EncoderSpec {
        causal: m.b("attention.causal")?.unwrap_or(true),
        norm_eps,
        ffn,
        positions,
        n_token_types,
    });
    Ok(())
}

/// A LayerNorm's weight and bias.
#[derive(Debug)]
pub struct Norm {
    pub w: Vec<f32>,
    pub b: Vec<f32>,
}

/// One encoder block's weights. Shapes: [rows, cols].
#[derive(Debug)]
pub struct EncoderLayer {
    pub wq: Matrix, // [n_embd, n_embd]
    pub wk: Matrix,
    pub wv: Matrix,
    pub bq: Option<Vec<f32>>,
    pub bk: Option<Vec<f32>>,
    pub bv: Option<Vec<f32>>,
    pub wo: Matrix, // [n_embd, n_embd]
    pub bo: Option<Vec<f32>>,
    pub attn_out_norm: Norm,
    pub w_up: Matrix, // [n_ff, n_embd]
    pub b_up: Option<Vec<f32>>,
    /// SwiGLU's gate (nomic-bert).
    pub w_gate: Option<Matrix>, // [n_ff, n_embd]
    pub w_down: Matrix, // [n_embd, n_ff]
    pub b_down: Option<Vec<f32>>,
    pub out_norm: Norm,
}

/// An encoder's weights beyond the token embeddings (which stay in
/// [`Weights::tok_embd`]).
#[derive(Debug)]
pub struct EncoderWeights {
    /// Row 0 of `token_types` (every token is type 0), if the file has them.
    pub type0: Option<Vec<f32>>,
    /// `position_embd` [n_ctx_train, n_embd] (bert).
    pub pos_embd: Option<Matrix>,
    /// `token_embd_norm`.
    pub embd_norm: Norm,
    pub layers: Vec<EncoderLayer>,
}

/// Read an encoder's tensors (names per gguf-py `constants.py`, shapes and
/// optional ones per llama.cpp's `load_arch_tensors` of `bert` and
/// `nomic-bert`). The decoder [`Weights`] it returns hold only the token
/// embeddings (no layers: the decoder pass never runs on this model).
pub(crate) fn load(f: &GgufFile, c: &Config) -> Result<(Weights, EncoderWeights), ModelError> {
    let spec = c.encoder.expect("an encoder configuration");
    let l = Loader::new(f, c.arch);
    let (d, ff) = (c.n_embd, c.n_ff);
    let tok_embd = l.matrix("token_embd.weight", c.n_vocab, d)?;
    let type0 = if l.has("token_types.weight") {
        let t = l.matrix("token_types.weight", spec.n_token_types, d)?;
        let mut row = vec![0f32; d];
        let bytes = &f.bytes()[t.start..t.start + t.row_bytes()];
        kernels::dequantize(t.ty, bytes, &mut row)
            .map_err(|e| ModelError::Kernel(e.to_string()))?;
        Some(row)
    } else {
        None
    };
    let pos_embd = match spec.positions {
        EncoderPositions::Learned => Some(l.matrix("position_embd.weight", c.n_ctx_train, d)?),
        EncoderPositions::Rope => None,
    };
    let norm = |name: &str| -> Result<Norm, ModelError> {
        Ok(Norm {
            w: l.vector(&format!("{name}.weight"), d)?,
            b: l.vector(&format!("{name}.bias"), d)?,
        })
    };
    let embd_norm = norm("token_embd_norm")?;
    // A classification head (rerankers) is loaded and unused by llama.cpp
    // unless the pooling is "rank", which hearth refuses; counted as read.
    for name in [
        "cls.weight",
        "cls.bias",
        "cls.output.weight",
        "cls.output.bias",
    ] {
        if l.has(name) {
            l.mark_used(name);
        }
    }
    let mut layers = Vec::with_capacity(c.n_layer);
    for i in 0..c.n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        let (wq, wk, wv, bq, bk, bv);
        if l.has(&n("attn_qkv.weight")) {
            [wq, wk, wv] = l.split_matrix(&n("attn_qkv.weight"), [d, d, d], d)?;
            if let Some(b) = l.opt_vector(&n("attn_qkv.bias"), 3 * d)? {
                (bq, bk, bv) = (
                    Some(b[..d].to_vec()),
                    Some(b[d..2 * d].to_vec()),
                    Some(b[2 * d..].to_vec()),
                );
            } else {
                (bq, bk, bv) = (
                    l.opt_vector(&n("attn_q.bias"), d)?,
                    l.opt_vector(&n("attn_k.bias"), d)?,
                    l.opt_vector(&n("attn_v.bias"), d)?,
                );
            }
        } else {
            wq = l.matrix(&n("attn_q.weight"), d, d)?;
            wk = l.matrix(&n("attn_k.weight"), d, d)?;
            wv = l.matrix(&n("attn_v.weight"), d, d)?;
            bq = l.opt_vector(&n("attn_q.bias"), d)?;
            bk = l.opt_vector(&n("attn_k.bias"), d)?;
            bv = l.opt_vector(&n("attn_v.bias"), d)?;
        }
        // llama.cpp's nomic-bert graph ignores MLP biases it would load, so
        // hearth does not read them: a file with them is refused, unused.
        let gelu = spec.ffn == EncoderFfn::Gelu;
        let mlp_bias = |s: &str, len: usize| -> Result<Option<Vec<f32>>, ModelError> {
            if gelu {
                l.opt_vector(&n(s), len)
            } else {
                Ok(None)
            }
        };
        layers.push(EncoderLayer {
            wq,
            wk,
            wv,
            bq,
            bk,
            bv,
            wo: l.matrix(&n("attn_output.weight"), d, d)?,
            bo: l.opt_vector(&n("attn_output.bias"), d)?,
            attn_out_norm: norm(&n("attn_output_norm"))?,
            w_up: l.matrix(&n("ffn_up.weight"), ff, d)?,
            b_up: mlp_bias("ffn_up.bias", ff)?,
            w_gate: match spec.ffn {
                EncoderFfn::SwiGlu => Some(l.matrix(&n("ffn_gate.weight"), ff, d)?),
                EncoderFfn::Gelu => None,
            },
            w_down: l.matrix(&n("ffn_down.weight"), d, ff)?,
            b_down: mlp_bias("ffn_down.bias", d)?,
            out_norm: norm(&n("layer_output_norm"))?,
        });
    }
    l.check_all_used()?;
    let weights = Weights {
        output: tok_embd.clone(),
        tok_embd,
        output_norm: Vec::new(),
        layers: Vec::new(),
        hybrid: Vec::new(),
        gemma4: None,
    };
    Ok((
        weights,
        EncoderWeights {
            type0,
            pos_embd,
            embd_norm,
            layers,
        },
    ))
}

/// LayerNorm of each row of `x` ([rows][n]) in place, as ggml's `norm` then
/// `mul` by `w` and `add` of `b`: the mean and the variance summed in double.
pub fn layer_norm(x: &mut [f32], n: usize, norm: &Norm, eps: f32) {
    for row in x.chunks_exact_mut(n) {
        let mean = (row.iter().map(|&v| v as f64).sum::<f64>() as f32) / n as f32;
        let mut sum2 = 0f64;
        for v in row.iter_mut() {
            *v -= mean;
            sum2 += (*v * *v) as f64;
        }
        let scale = 1.0 / ((sum2 / n as f64) as f32 + eps).sqrt();
        for ((v, &w), &b) in row.iter_mut().zip(&norm.w).zip(&norm.b) {
            *v = *v * scale * w + b;
        }
    }
}

fn add_bias(x: &mut [f32], b: &Option<Vec<f32>>) {
    if let Some(b) = b {
        crate::ops::add_bias(x, b);
    }
}

/// What the encoder's steps can switch off, for tests that prove each step
/// matters (a mutation check against the reference fixtures). The default
/// computes the model as its file says.
#[derive(Clone, Copy, Debug, Default)]
pub struct EncodeKnobs {
    /// Leave out the token-type embedding.
    pub no_token_types: bool,
    /// Attend causally whatever the file says.
    pub force_causal: bool,
    /// Leave out the positions (learned embeddings or RoPE).
    pub no_positions: bool,
}

impl Model {
    /// Whether this is an embedding model (an encoder: `bert`, `nomic-bert`),
    /// which makes embeddings ([`Model::encode`]) and never text.
    pub fn is_embedding(&self) -> bool {
        self.encoder.is_some()
    }

    /// Every token's final hidden state (`[n][n_embd]`) of an embedding
    /// model, in one bidirectional pass over `tokens` (see the module docs).
    pub fn encode(&self, pool: &ThreadPool, tokens: &[u32]) -> Result<Vec<f32>, ModelError> {
        self.encode_with(pool, tokens, EncodeKnobs::default())
    }

    /// [`Model::encode`] with steps switched off (tests only).
    #[doc(hidden)]
    pub fn encode_with(
        &self,
        pool: &ThreadPool,
        tokens: &[u32],
        knobs: EncodeKnobs,
    ) -> Result<Vec<f32>, ModelError> {
        let c = &self.config;
        let (Some(spec), Some(w)) = (c.encoder, self.encoder.as_ref()) else {
            return Err(ModelError::NotAnEncoder {
                arch: c.arch.name(),
            });
        };
        let n = tokens.len();
        if n == 0 || n > c.n_ctx_train {
            return Err(ModelError::ContextOverflow {
                needed: n.max(1),
                used: 0,
                n_ctx: c.n_ctx_train,
                max: c.n_ctx_train,
            });
        }
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= c.n_vocab) {
            return Err(ModelError::BadToken {
                id,
                n_vocab: c.n_vocab,
            });
        }
        let (d, ff, hd) = (c.n_embd, c.n_ff, c.head_dim);
        let bytes = self.file.bytes();
        let row = |m: &Matrix, i: usize, out: &mut [f32]| -> Result<(), ModelError> {
            let rb = m.row_bytes();
            let at = m.start + i * rb;
            kernels::dequantize(m.ty, &bytes[at..at + rb], out)
                .map_err(|e| ModelError::Kernel(e.to_string()))
        };

        // ---- input embeddings ----
        let mut x = vec![0f32; n * d];
        let mut tmp = vec![0f32; d];
        for (t, &tok) in tokens.iter().enumerate() {
            let xr = &mut x[t * d..(t + 1) * d];
            row(&self.weights.tok_embd, tok as usize, xr)?;
            if let (Some(ty), false) = (&w.type0, knobs.no_token_types) {
                crate::ops::add_assign(xr, ty);
            }
            if let (Some(p), false) = (&w.pos_embd, knobs.no_positions) {
                row(p, t, &mut tmp)?;
                crate::ops::add_assign(xr, &tmp);
            }
        }
        layer_norm(&mut x, d, &w.embd_norm, spec.norm_eps);

        let causal = spec.causal || knobs.force_causal;
        let (mut q, mut k, mut v) = (vec![0f32; n * d], vec![0f32; n * d], vec![0f32; n * d]);
        let (mut att, mut o) = (vec![0f32; n * d], vec![0f32; n * d]);
        let (mut up, mut gate) = (vec![0f32; n * ff], vec![0f32; n * ff]);
        let mut acts = ActSet::default();
        for (il, layer) in w.layers.iter().enumerate() {
            // ---- attention ----
            acts.invalidate();
            self.project_many(
                pool,
                &mut acts,
                &x,
                n,
                [
                    (&layer.wq, &mut q),
                    (&layer.wk, &mut k),
                    (&layer.wv, &mut v),
                ],
            )?;
            add_bias(&mut q, &layer.bq);
            add_bias(&mut k, &layer.bk);
            add_bias(&mut v, &layer.bv);
            if let (Some(rope), false) = (c.rope_for(il, false), knobs.no_positions) {
                for t in 0..n {
                    rope.apply(&mut q[t * d..(t + 1) * d], hd, t);
                    rope.apply(&mut k[t * d..(t + 1) * d], hd, t);
                }
            }
            let shape = HeadShape {
                n,
                n_head: c.n_head,
                head_dim: hd,
                scale: c.attn_scale,
                causal,
            };
            attend(pool, &shape, &q, &k, &v, &mut att)?;
            acts.invalidate();
            self.project(pool, &mut acts, &att, n, &layer.wo, &mut o)?;
            add_bias(&mut o, &layer.bo);
            // x1 = LayerNorm(o + x), kept in x
            crate::ops::add_assign(&mut x, &o);
            layer_norm(&mut x, d, &layer.attn_out_norm, spec.norm_eps);

            // ---- feed-forward ----
            acts.invalidate();
            let act_in = match &layer.w_gate {
                Some(wg) => {
                    self.project_many(
                        pool,
                        &mut acts,
                        &x,
                        n,
                        [(wg, &mut gate), (&layer.w_up, &mut up)],
                    )?;
                    kernels::swiglu(&mut gate, &up);
                    &gate
                }
                None => {
                    self.project(pool, &mut acts, &x, n, &layer.w_up, &mut up)?;
                    add_bias(&mut up, &layer.b_up);
                    crate::ops::gelu_in_place(&mut up);
                    &up
                }
            };
            acts.invalidate();
            self.project(pool, &mut acts, act_in, n, &layer.w_down, &mut o)?;
            add_bias(&mut o, &layer.b_down);
            crate::ops::add_assign(&mut x, &o);
            layer_norm(&mut x, d, &layer.out_norm, spec.norm_eps);
        }
        Ok(x)
    }
}

/// One attention call's shape.
struct HeadShape {
    /// Tokens.
    n: usize,
    n_head: usize,
    head_dim: usize,
    /// Scale on q·k.
    scale: f32,
    /// Mask out later tokens.
    causal: bool,
}

/// f32 rows of `x` as the bytes of an F32 ggml matrix.
fn f32_bytes(x: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(x.iter().flat_map(|v| v.to_le_bytes()));
}

/// Score floats held at once by [`attend`] (64 MB, and as much again for
/// their copy as activations): heads are taken in groups that fit, so a long
/// text costs a bounded scratch, not `n_head * n²` floats.
const SCORE_FLOATS: usize = 1 << 24;

/// Heads [`attend`] takes at once for `n` tokens.
fn heads_at_once(n_head: usize, n: usize) -> usize {
    (SCORE_FLOATS / (n * n).max(1)).clamp(1, n_head)
}

/// Bytes of scratch [`Model::encode`]'s attention takes for `n` tokens (what
/// `hearth fit` counts): per head of a group its scores and their copy as
/// activations, its K, Vᵀ and Q.
pub fn attention_scratch_bytes(n_head: usize, head_dim: usize, n: usize) -> u64 {
    let g = heads_at_once(n_head, n) as u64;
    let n = n as u64;
    g * (2 * n * n + 3 * n * head_dim as u64) * 4
}

/// Multi-head attention of `n` tokens over each other (q, k, v, out:
/// `[n][n_head * head_dim]`), as ggml's attention without a cache and
/// without flash attention: per head the scores `kq = K·Qᵀ` (an f32 matrix
/// product), `softmax(kq * scale + mask)` with the exponentials summed in
/// double, then `Vᵀ·p`. The heads of a group ([`heads_at_once`]) run their
/// products as one pool pass each.
fn attend(
    pool: &ThreadPool,
    s: &HeadShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
) -> Result<(), ModelError> {
    let g = heads_at_once(s.n_head, s.n);
    for h0 in (0..s.n_head).step_by(g) {
        attend_heads(pool, s, h0..(h0 + g).min(s.n_head), q, k, v, out)?;
    }
    Ok(())
}

/// [`attend`] for the heads `heads`.
fn attend_heads(
    pool: &ThreadPool,
    s: &HeadShape,
    heads: std::ops::Range<usize>,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
) -> Result<(), ModelError> {
    let (n, hd) = (s.n, s.head_dim);
    let d = s.n_head * hd;
    let nh = heads.len();
    let kerr = |e: kernels::KernelError| ModelError::Kernel(e.to_string());
    // per head: K as an [n, hd] F32 "weight" matrix, Vᵀ as [hd, n], Q as
    // activations [n][hd]
    let mut k_mats = vec![Vec::new(); nh];
    let mut vt_mats = vec![Vec::new(); nh];
    let mut q_acts: Vec<QuantizedActs> = (0..nh).map(|_| QuantizedActs::new()).collect();
    let mut col = vec![0f32; n * hd];
    for (i, h) in heads.clone().enumerate() {
        for t in 0..n {
            col[t * hd..(t + 1) * hd].copy_from_slice(&k[t * d + h * hd..t * d + (h + 1) * hd]);
        }
        f32_bytes(&col, &mut k_mats[i]);
        for t in 0..n {
            col[t * hd..(t + 1) * hd].copy_from_slice(&q[t * d + h * hd..t * d + (h + 1) * hd]);
        }
        q_acts[i]
            .try_quantize(GgmlType::F32, &col, n, hd)
            .map_err(kerr)?;
        for t in 0..n {
            for e in 0..hd {
                col[e * n + t] = v[t * d + h * hd + e];
            }
        }
        f32_bytes(&col, &mut vt_mats[i]);
    }

    // scores[i]: [n (query)][n (key)]
    let mut scores = vec![0f32; nh * n * n];
    {
        let mut jobs: Vec<MatmulJob> = scores
            .chunks_mut(n * n)
            .zip(k_mats.iter().zip(&q_acts))
            .map(|(out, (w, a))| MatmulJob {
                weight_ty: GgmlType::F32,
                w,
                n_out: n,
                k: hd,
                acts: a,
                out,
                cache: None,
            })
            .collect();
        kernels::matmul_multi(pool, &mut jobs).map_err(kerr)?;
    }
    drop(q_acts);
    drop(k_mats);

    // softmax of each row, heads over the pool
    {
        let rows: Vec<Mutex<&mut [f32]>> = scores.chunks_mut(n * n).map(Mutex::new).collect();
        pool.run(nh, |i| {
            let mut sc = rows[i].lock().unwrap_or_else(|e| e.into_inner());
            for (r, row) in sc.chunks_exact_mut(n).enumerate() {
                softmax_row(row, s.scale, if s.causal { r + 1 } else { n });
            }
        });
    }

    // out_h = p·V: Vᵀ as the weight matrix, the probabilities as activations
    let mut p_acts: Vec<QuantizedActs> = (0..nh).map(|_| QuantizedActs::new()).collect();
    for (a, p) in p_acts.iter_mut().zip(scores.chunks(n * n)) {
        a.try_quantize(GgmlType::F32, p, n, n).map_err(kerr)?;
    }
    drop(scores);
    let mut heads_out = vec![0f32; nh * n * hd];
    {
        let mut jobs: Vec<MatmulJob> = heads_out
            .chunks_mut(n * hd)
            .zip(vt_mats.iter().zip(&p_acts))
            .map(|(out, (w, a))| MatmulJob {
                weight_ty: GgmlType::F32,
                w,
                n_out: hd,
                k: n,
                acts: a,
                out,
                cache: None,
            })
            .collect();
        kernels::matmul_multi(pool, &mut jobs).map_err(kerr)?;
    }
    for (ho, h) in heads_out.chunks(n * hd).zip(heads) {
        for t in 0..n {
            out[t * d + h * hd..t * d + (h + 1) * hd].copy_from_slice(&ho[t * hd..(t + 1) * hd]);
        }
    }
    Ok(())
}

/// ggml's `soft_max_ext` of one row with scale `scale` and a mask that keeps
/// the first `keep` entries (the rest are -inf: exactly 0 after it).
fn softmax_row(row: &mut [f32], scale: f32, keep: usize) {
    let (live, masked) = row.split_at_mut(keep);
    masked.iter_mut().for_each(|v| *v = 0.0);
    let mut max = f32::NEG_INFINITY;
    for v in live.iter_mut() {
        *v *= scale;
        max = max.max(*v);
    }
    let mut sum = 0f64;
    for v in live.iter_mut() {
        *v = kernels::exp_ggml(*v - max);
        sum += *v as f64;
    }
    let inv = (1.0 / sum) as f32;
    live.iter_mut().for_each(|v| *v *= inv);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_norm_centres_and_scales() {
        let norm = Norm {
            w: vec![1.0, 2.0, 1.0, 1.0],
            b: vec![0.0, 0.0, 0.0, 0.5],
        };
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        layer_norm(&mut x, 4, &norm, 0.0);
        // mean 2.5, variance 1.25
        let s = 1.0 / 1.25f32.sqrt();
        let want = [-1.5 * s, -0.5 * s * 2.0, 0.5 * s, 1.5 * s + 0.5];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_masks_and_sums_to_one() {
        let mut r = vec![1.0, 2.0, 3.0, 100.0];
        softmax_row(&mut r, 0.5, 3);
        assert_eq!(r[3], 0.0);
        assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let e = [0.5f32.exp(), 1f32.exp(), 1.5f32.exp()];
        let z: f32 = e.iter().sum();
        for (a, b) in r.iter().zip(e) {
            assert!((a - b / z).abs() < 1e-6);
        }
    }

    /// The attention of [`attend`] (f32 matrix products over the pool) is
    /// the textbook one, bidirectional and causal.
    #[test]
    fn attention_is_the_textbook_one() {
        let (n, nh, hd) = (5, 2, 4);
        let d = nh * hd;
        let f = |i: usize, m: f32| ((i as f32 * 0.37 + m).sin()) * 1.5;
        let q: Vec<f32> = (0..n * d).map(|i| f(i, 0.1)).collect();
        let k: Vec<f32> = (0..n * d).map(|i| f(i, 1.3)).collect();
        let v: Vec<f32> = (0..n * d).map(|i| f(i, 2.9)).collect();
        let pool = ThreadPool::new(2);
        for causal in [false, true] {
            let mut out = vec![0f32; n * d];
            let s = HeadShape {
                n,
                n_head: nh,
                head_dim: hd,
                scale: 0.5,
                causal,
            };
            // all heads at once, and one at a time (as a long text's groups)
            attend(&pool, &s, &q, &k, &v, &mut out).unwrap();
            let mut one = vec![0f32; n * d];
            for h in 0..nh {
                attend_heads(&pool, &s, h..h + 1, &q, &k, &v, &mut one).unwrap();
            }
            assert_eq!(one, out);
            for h in 0..nh {
                for i in 0..n {
                    let last = if causal { i + 1 } else { n };
                    let w: Vec<f64> = (0..last)
                        .map(|j| {
                            let dot: f64 = (0..hd)
                                .map(|e| (q[i * d + h * hd + e] * k[j * d + h * hd + e]) as f64)
                                .sum();
                            (dot * 0.5).exp()
                        })
                        .collect();
                    let z: f64 = w.iter().sum();
                    for e in 0..hd {
                        let want: f64 = (0..last)
                            .map(|j| w[j] / z * v[j * d + h * hd + e] as f64)
                            .sum();
                        let got = out[i * d + h * hd + e] as f64;
                        assert!(
                            (got - want).abs() < 1e-5,
                            "{causal} h{h} i{i} e{e}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
