//! Gemma 4's blocks (`arch/gemma4.rs` reads the configuration): their
//! weights ([`G4Weights`]), the per-layer-embedding scratch and the forward
//! pass of a chunk (`Model::forward_chunk_gemma4`, called by `forward.rs`
//! for every chunk of such a model). Op order as llama.cpp
//! `src/models/gemma4.cpp`:
//!
//! ```text
//! x = embd(tok) * sqrt(n_embd)
//! ple = (rms_norm(P·x / sqrt(n_embd)) * proj_norm + E_pl(tok) * sqrt(n_pl)) / sqrt(2)
//! per layer il:
//!   h = rms_norm(x) * attn_norm
//!   q = rms_norm_head(Wq h) * q_norm, RoPE
//!   if own K/V: k = rms_norm_head(Wk h) * k_norm, RoPE; v = rms_norm_head(Wv h | Wk h)
//!   a = attention(q, K/V of kv_source[il]), scale 1
//!   x = x + rms_norm(Wo a) * post_attention_norm
//!   x = x + rms_norm(down(gelu(gate h') * up h')) * post_ffw_norm,  h' = rms_norm(x) * ffn_norm
//!     (26B-A4B, a layer with experts: the MLP's output is instead
//!      rms_norm(mlp) * post_ffw_norm_1 + rms_norm(moe(h'')) * post_ffw_norm_2,
//!      h'' = rms_norm(x) * pre_ffw_norm_2, the router reading
//!      rms_norm(x) / sqrt(n_embd) * ffn_gate_inp.scale, each expert's output
//!      × its ffn_down_exps.scale; then rms_norm(that) * post_ffw_norm)
//!   x = x + rms_norm(proj(gelu(inp_gate x) * ple[il])) * post_norm
//!   x = x * layer_output_scale
//! logits = softcap(output(rms_norm(x) * output_norm))
//! ```
//!
//! Every step is row by row (the attention reads each row's own
//! sequence), so a sequence's values never depend on the batch around it.

use crate::attention::{attend_groups, AttnShape};
use crate::config::{Config, Gemma4Spec, Moe};
use crate::forward::{par_glu, KvViews};
use crate::ops;
use crate::session::{Scratch, Session};
use crate::weights::{Experts, Loader, Matrix};
use crate::{Model, ModelError};
use half::slice::HalfFloatSliceExt;
use kernels::ThreadPool;

/// One Gemma 4 block's weights. Shapes [rows, cols].
#[derive(Debug)]
pub struct G4Layer {
    pub attn_norm: Vec<f32>, // [n_embd]
    pub wq: Matrix,          // [n_head*hd, n_embd]
    /// [n_head_kv*hd, n_embd]; `None` for a layer reading another's K/V.
    pub wk: Option<Matrix>,
    /// [n_head_kv*hd, n_embd]; `None`: V is the K projection (a layer with
    /// K/V of its own and no `attn_v`) or the layer has no K/V.
    pub wv: Option<Matrix>,
    pub wo: Matrix,               // [n_embd, n_head*hd]
    pub q_norm: Vec<f32>,         // [hd]
    pub k_norm: Option<Vec<f32>>, // [hd]
    pub attn_post_norm: Vec<f32>, // [n_embd]
    pub ffn_norm: Vec<f32>,       // [n_embd]
    pub gate: Matrix,             // [n_ff(il), n_embd]
    pub up: Matrix,               // [n_ff(il), n_embd]
    pub down: Matrix,             // [n_embd, n_ff(il)]
    pub ffn_post_norm: Vec<f32>,  // [n_embd]
    /// 26B-A4B: the mixture of experts beside the MLP (which then is the
    /// shared expert).
    pub moe: Option<G4Moe>,
    /// Per-layer embedding: gate [n_pl, n_embd], projection [n_embd, n_pl],
    /// its norm [n_embd].
    pub ple: Option<(Matrix, Matrix, Vec<f32>)>,
    /// `layer_output_scale`: the block's output × this.
    pub out_scale: Option<f32>,
}

/// A Gemma 4 layer's mixture of experts (llama.cpp `load_arch_tensors`:
/// `ffn_gate_inp` and its `.scale`, `ffn_gate_up_exps` or
/// `ffn_gate_exps` + `ffn_up_exps`, `ffn_down_exps` and its `.scale`, and
/// the norms `pre_ffw_norm_2`, `post_ffw_norm_1`, `post_ffw_norm_2`).
#[derive(Debug)]
pub struct G4Moe {
    pub experts: Experts,
    pub pre_norm_2: Vec<f32>,  // [n_embd]
    pub post_norm_1: Vec<f32>, // [n_embd]
    pub post_norm_2: Vec<f32>, // [n_embd]
}

/// Per-layer embeddings' global tensors.
#[derive(Debug)]
pub struct G4Ple {
    /// `per_layer_token_embd`: [n_vocab, n_layer*n_pl], looked up per token.
    pub tok: Matrix,
    /// `per_layer_model_proj`: [n_layer*n_pl, n_embd].
    pub model_proj: Matrix,
    /// `per_layer_proj_norm`: [n_pl], shared by every layer's slice.
    pub proj_norm: Vec<f32>,
}

/// A Gemma 4 model's blocks.
#[derive(Debug)]
pub struct G4Weights {
    pub layers: Vec<G4Layer>,
    pub ple: Option<G4Ple>,
    /// [max head size] of 1.0: V's norm has no weight.
    ones: Vec<f32>,
}

impl G4Weights {
    /// The matrices the forward pass multiplies by (a mixture's routed
    /// experts only if `routed`: `Experts::matrices`).
    pub(crate) fn matrices(&self, routed: bool) -> Vec<&Matrix> {
        let mut v = Vec::new();
        for l in &self.layers {
            v.extend([&l.wq, &l.wo, &l.gate, &l.up, &l.down]);
            v.extend(l.wk.iter().chain(&l.wv));
            if let Some(m) = &l.moe {
                v.extend(m.experts.matrices(routed));
            }
            if let Some((g, p, _)) = &l.ple {
                v.extend([g, p]);
            }
        }
        if let Some(p) = &self.ple {
            v.push(&p.model_proj);
        }
        v
    }
}

/// Read Gemma 4's blocks (tensor names per llama.cpp
/// `llama_model_gemma4::load_arch_tensors`). K and V projections a layer
/// reading another's cache does not use are accepted unread, as llama.cpp
/// loads them without using them.
pub(crate) fn load(l: &Loader, c: &Config, g: &Gemma4Spec) -> Result<G4Weights, ModelError> {
    let d = c.n_embd;
    let npl = g.n_embd_per_layer;
    let ple = if npl > 0 {
        Some(G4Ple {
            tok: l.matrix("per_layer_token_embd.weight", c.n_vocab, c.n_layer * npl)?,
            model_proj: l.matrix("per_layer_model_proj.weight", c.n_layer * npl, d)?,
            proj_norm: l.vector("per_layer_proj_norm.weight", npl)?,
        })
    } else {
        None
    };
    let mut layers = Vec::with_capacity(c.n_layer);
    for il in 0..c.n_layer {
        let n = |s: &str| format!("blk.{il}.{s}");
        let hd = c.layer_head_dim(il);
        let (q, kv) = (c.n_head * hd, g.n_head_kv[il] * hd);
        let ff = g.n_ff[il];
        let own_kv = g.kv_source[il] == il;
        let (wk, wv, k_norm) = if own_kv {
            (
                Some(l.matrix(&n("attn_k.weight"), kv, d)?),
                if l.has(&n("attn_v.weight")) {
                    Some(l.matrix(&n("attn_v.weight"), kv, d)?)
                } else {
                    None
                },
                Some(l.vector(&n("attn_k_norm.weight"), hd)?),
            )
        } else {
            // present in some files, unused
            for s in ["attn_k.weight", "attn_v.weight", "attn_k_norm.weight"] {
                if l.has(&n(s)) {
                    l.mark_used(&n(s));
                }
            }
            (None, None, None)
        };
        let ple_l = if npl > 0 {
            Some((
                l.matrix(&n("inp_gate.weight"), npl, d)?,
                l.matrix(&n("proj.weight"), d, npl)?,
                l.vector(&n("post_norm.weight"), d)?,
            ))
        } else {
            None
        };
        let out_scale = l
            .opt_vector(&n("layer_output_scale.weight"), 1)?
            .map(|v| v[0]);
        // a layer has experts where the file has their router (llama.cpp:
        // `ffn_gate_inp` is optional per layer)
        let moe = match &c.moe {
            Some(moe) if l.has(&n("ffn_gate_inp.weight")) => Some(load_moe(l, c, moe, il)?),
            _ => None,
        };
        layers.push(G4Layer {
            attn_norm: l.vector(&n("attn_norm.weight"), d)?,
            wq: l.matrix(&n("attn_q.weight"), q, d)?,
            wk,
            wv,
            wo: l.matrix(&n("attn_output.weight"), d, q)?,
            q_norm: l.vector(&n("attn_q_norm.weight"), hd)?,
            k_norm,
            attn_post_norm: l.vector(&n("post_attention_norm.weight"), d)?,
            ffn_norm: l.vector(&n("ffn_norm.weight"), d)?,
            gate: l.matrix(&n("ffn_gate.weight"), ff, d)?,
            up: l.matrix(&n("ffn_up.weight"), ff, d)?,
            down: l.matrix(&n("ffn_down.weight"), d, ff)?,
            ffn_post_norm: l.vector(&n("post_ffw_norm.weight"), d)?,
            moe,
            ple: ple_l,
            out_scale,
        });
    }
    Ok(G4Weights {
        layers,
        ple,
        ones: vec![1.0; c.max_head_dim()],
    })
}

/// Layer `il`'s mixture of experts. The gate and up projections are one
/// `ffn_gate_up_exps` tensor in the files llama.cpp's converter writes
/// (each expert's [2·n_ff_exp, n_embd]: the gate's rows, then the up's),
/// read as two views per expert; or two tensors.
fn load_moe(l: &Loader, c: &Config, moe: &Moe, il: usize) -> Result<G4Moe, ModelError> {
    let n = |s: &str| format!("blk.{il}.{s}");
    let (d, ne, ff) = (c.n_embd, moe.n_expert, moe.n_ff_exp);
    let (gate, up) = if l.has(&n("ffn_gate_up_exps.weight")) {
        let both = l.experts(&n("ffn_gate_up_exps.weight"), ne, 2 * ff, d)?;
        both.into_iter()
            .map(|m| {
                let half = m.len / 2;
                let view = |part: &str, at: usize| Matrix {
                    name: format!("{}.{part}", m.name),
                    ty: m.ty,
                    start: m.start + at,
                    len: half,
                    rows: ff,
                    cols: d,
                };
                (view("gate", 0), view("up", half))
            })
            .unzip()
    } else {
        (
            l.experts(&n("ffn_gate_exps.weight"), ne, ff, d)?,
            l.experts(&n("ffn_up_exps.weight"), ne, ff, d)?,
        )
    };
    Ok(G4Moe {
        experts: Experts {
            router: l.matrix(&n("ffn_gate_inp.weight"), ne, d)?,
            router_bias: None,
            gate,
            up,
            down: l.experts(&n("ffn_down_exps.weight"), ne, d, ff)?,
            gate_bias: None,
            up_bias: None,
            down_bias: None,
            shared: None,
            router_scale: Some(l.vector(&n("ffn_gate_inp.scale"), d)?),
            // optional in llama.cpp (`TENSOR_NOT_REQUIRED`)
            down_scale: l.opt_vector(&n("ffn_down_exps.scale"), ne)?,
        },
        pre_norm_2: l.vector(&n("pre_ffw_norm_2.weight"), d)?,
        post_norm_1: l.vector(&n("post_ffw_norm_1.weight"), d)?,
        post_norm_2: l.vector(&n("post_ffw_norm_2.weight"), d)?,
    })
}

/// Working memory of a Gemma 4 chunk, per row.
#[derive(Default)]
pub(crate) struct G4Scratch {
    /// [cap][n_layer*n_pl]: every layer's per-layer input.
    ple: Vec<f32>,
    /// [cap][n_layer*n_pl]: the token part of it, then the sum.
    ple_tok: Vec<f32>,
    /// [cap][n_pl]: one layer's gate.
    gate: Vec<f32>,
    /// [cap][n_embd]: a layer with experts: its MLP's (the shared expert's)
    /// normed output.
    shared: Vec<f32>,
}

impl G4Scratch {
    pub(crate) fn new(c: &Config, cap: usize) -> G4Scratch {
        let Some(g) = &c.gemma4 else {
            return G4Scratch::default();
        };
        let all = c.n_layer * g.n_embd_per_layer;
        G4Scratch {
            ple: vec![0.0; cap * all],
            ple_tok: vec![0.0; cap * all],
            gate: vec![0.0; cap * g.n_embd_per_layer],
            shared: vec![0.0; if c.moe.is_some() { cap * c.n_embd } else { 0 }],
        }
    }
}

impl Model {
    /// One chunk of a Gemma 4 model (see `forward_chunk`): every row of
    /// `s.groups` through every block; logits for the rows that want them.
    pub(crate) fn forward_chunk_gemma4(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        tokens: &[u32],
    ) -> Result<(), ModelError> {
        let c: &Config = &self.config;
        let g = c.gemma4.as_ref().expect("a gemma4 model");
        let w = self.weights.gemma4.as_ref().expect("gemma4 weights");
        let n = tokens.len();
        let d = c.n_embd;
        if let Some(ms) = &mut s.moe {
            ms.margins[..n].fill(f32::INFINITY);
        }
        self.embed_rows(s, tokens)?;
        if let Some(p) = &w.ple {
            self.per_layer_inputs(pool, s, tokens, g, p)?;
        }
        for (il, layer) in w.layers.iter().enumerate() {
            self.g4_attention(pool, s, sessions, il, n, g, w, layer)?;

            // ---- feed-forward ----
            ops::rms_norm_into(
                &mut s.xn[..n * d],
                &s.x[..n * d],
                d,
                &layer.ffn_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            let ff = g.n_ff[il];
            self.project_many(
                pool,
                &mut s.acts_in,
                &s.xn,
                n,
                [(&layer.gate, &mut s.gate), (&layer.up, &mut s.up)],
            )?;
            par_glu(pool, c.act, &mut s.gate[..n * ff], &s.up[..n * ff]);
            s.acts_mid.invalidate();
            self.project(pool, &mut s.acts_mid, &s.gate, n, &layer.down, &mut s.o)?;
            if let Some(moe) = &layer.moe {
                self.g4_experts(pool, s, n, moe)?;
            }
            ops::rms_norm(&mut s.o[..n * d], d, &layer.ffn_post_norm, c.rms_eps);
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);

            // ---- per-layer embedding ----
            if let Some((gate, proj, post)) = &layer.ple {
                let npl = g.n_embd_per_layer;
                let all = c.n_layer * npl;
                s.acts_in.invalidate();
                self.project(pool, &mut s.acts_in, &s.x, n, gate, &mut s.g4.gate)?;
                ops::gelu_in_place(&mut s.g4.gate[..n * npl]);
                for t in 0..n {
                    let inp = &s.g4.ple[t * all + il * npl..t * all + (il + 1) * npl];
                    for (a, &b) in s.g4.gate[t * npl..(t + 1) * npl].iter_mut().zip(inp) {
                        *a *= b;
                    }
                }
                s.acts_mid.invalidate();
                self.project(pool, &mut s.acts_mid, &s.g4.gate, n, proj, &mut s.o)?;
                ops::rms_norm(&mut s.o[..n * d], d, post, c.rms_eps);
                ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);
            }
            if let Some(scale) = layer.out_scale {
                s.x[..n * d].iter_mut().for_each(|v| *v *= scale);
            }
        }
        if let Some(ms) = &mut s.moe {
            // the routing margins of the rows that get logits, in the
            // order of their logits (as `Scratch::keep_logit_rows` leaves
            // them for the other architectures)
            let mut r = 0;
            for gr in &s.groups {
                let first = gr.row0 + gr.rows - gr.logit_rows;
                ms.margins.copy_within(first..first + gr.logit_rows, r);
                r += gr.logit_rows;
            }
            ms.n_margins = r;
        }
        self.finish_chunk(pool, s, sessions, tokens, false)
    }

    /// A layer with experts, after its MLP (the shared expert) left its
    /// output in `s.o`: `s.o` ← rms_norm(that) * post_ffw_norm_1 +
    /// rms_norm(experts(rms_norm(x) * pre_ffw_norm_2)) * post_ffw_norm_2
    /// (llama.cpp: `ggml_add(cur_mlp, cur_moe)`).
    fn g4_experts(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        n: usize,
        moe: &G4Moe,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let d = c.n_embd;
        ops::rms_norm(&mut s.o[..n * d], d, &moe.post_norm_1, c.rms_eps);
        s.g4.shared[..n * d].copy_from_slice(&s.o[..n * d]);
        ops::rms_norm_into(
            &mut s.xn[..n * d],
            &s.x[..n * d],
            d,
            &moe.pre_norm_2,
            c.rms_eps,
        );
        s.acts_in.invalidate();
        self.moe_ffn(pool, s, n, &moe.experts)?;
        ops::rms_norm(&mut s.o[..n * d], d, &moe.post_norm_2, c.rms_eps);
        // (float addition commutes: the same bits as mlp + moe)
        ops::add_assign(&mut s.o[..n * d], &s.g4.shared[..n * d]);
        Ok(())
    }

    /// Every layer's per-layer input of each row into `s.g4.ple`
    /// ([n][n_layer][n_pl]), from the scaled embeddings in `s.x`.
    fn per_layer_inputs(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        tokens: &[u32],
        g: &Gemma4Spec,
        p: &G4Ple,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let n = tokens.len();
        let npl = g.n_embd_per_layer;
        let all = c.n_layer * npl;
        // the token's row of the per-layer table × sqrt(n_pl)
        let rb = p.tok.row_bytes();
        let tok_scale = (npl as f32).sqrt();
        for (t, &tok) in tokens.iter().enumerate() {
            let at = p.tok.start + tok as usize * rb;
            let row = &mut s.g4.ple_tok[t * all..(t + 1) * all];
            kernels::dequantize(p.tok.ty, &self.file.bytes()[at..at + rb], row)
                .map_err(|e| ModelError::Kernel(e.to_string()))?;
            row.iter_mut().for_each(|v| *v *= tok_scale);
        }
        // the projection of the embedding, / sqrt(n_embd), normed per layer
        s.acts_in.invalidate();
        self.project(pool, &mut s.acts_in, &s.x, n, &p.model_proj, &mut s.g4.ple)?;
        let proj_scale = 1.0 / (c.n_embd as f32).sqrt();
        let input_scale = 1.0 / 2f32.sqrt();
        let ple = &mut s.g4.ple[..n * all];
        ple.iter_mut().for_each(|v| *v *= proj_scale);
        ops::rms_norm(ple, npl, &p.proj_norm, c.rms_eps);
        for (a, &b) in ple.iter_mut().zip(&s.g4.ple_tok[..n * all]) {
            *a = (*a + b) * input_scale;
        }
        Ok(())
    }

    /// Attention of layer `il`: `s.x` ← `s.x` + its normed output.
    #[allow(clippy::too_many_arguments)]
    fn g4_attention(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        il: usize,
        n: usize,
        g: &Gemma4Spec,
        w: &G4Weights,
        layer: &G4Layer,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let d = c.n_embd;
        let hd = c.layer_head_dim(il);
        // the cache read is the source layer's (of the same kind: the same
        // head size and K/V heads)
        let n_head_kv = g.n_head_kv[g.kv_source[il]];
        let (qd, kvd) = (c.n_head * hd, n_head_kv * hd);
        ops::rms_norm_into(
            &mut s.xn[..n * d],
            &s.x[..n * d],
            d,
            &layer.attn_norm,
            c.rms_eps,
        );
        s.acts_in.invalidate();
        let own_kv = g.kv_source[il] == il;
        match (&layer.wk, &layer.wv) {
            (Some(wk), Some(wv)) => self.project_many(
                pool,
                &mut s.acts_in,
                &s.xn,
                n,
                [(&layer.wq, &mut s.q), (wk, &mut s.k), (wv, &mut s.v)],
            )?,
            (Some(wk), None) => {
                self.project_many(
                    pool,
                    &mut s.acts_in,
                    &s.xn,
                    n,
                    [(&layer.wq, &mut s.q), (wk, &mut s.k)],
                )?;
                s.v[..n * kvd].copy_from_slice(&s.k[..n * kvd]);
            }
            _ => self.project(pool, &mut s.acts_in, &s.xn, n, &layer.wq, &mut s.q)?,
        }
        ops::rms_norm(&mut s.q[..n * qd], hd, &layer.q_norm, c.rms_eps);
        if own_kv {
            let k_norm = layer.k_norm.as_deref().expect("a K norm with K");
            ops::rms_norm(&mut s.k[..n * kvd], hd, k_norm, c.rms_eps);
            ops::rms_norm(&mut s.v[..n * kvd], hd, &w.ones[..hd], c.rms_eps);
        }
        let rope = c.rope_for(il, false).expect("every gemma4 layer rotates");
        let mut sc = vec![(0.0f32, 1.0f32); rope.n_rot / 2];
        for gr in &s.groups {
            for t in gr.row0..gr.row0 + gr.rows {
                let pos = gr.pos0 + t - gr.row0;
                rope.sin_cos(pos, &mut sc);
                rope.apply_with(&mut s.q[t * qd..(t + 1) * qd], hd, &sc);
                if own_kv {
                    rope.apply_with(&mut s.k[t * kvd..(t + 1) * kvd], hd, &sc);
                }
            }
        }
        if own_kv {
            for gr in &s.groups {
                let cache = &mut sessions[gr.seq].cache[il];
                let (src, dst) = (
                    gr.row0 * kvd..(gr.row0 + gr.rows) * kvd,
                    gr.pos0 * kvd..(gr.pos0 + gr.rows) * kvd,
                );
                cache.k[dst.clone()].convert_from_f32_slice(&s.k[src.clone()]);
                cache.v[dst].convert_from_f32_slice(&s.v[src]);
            }
        }
        ops::round_f16_slice(&mut s.q[..n * qd]);
        let shape = AttnShape {
            n_head: c.n_head,
            n_head_kv,
            head_dim: hd,
            scale: c.attn_scale,
            window: if c.layers[il].swa {
                c.sliding_window
            } else {
                None
            },
            sinks: None,
        };
        {
            let views = KvViews {
                sessions: &*sessions,
                layer: g.kv_source[il],
            };
            attend_groups(pool, &shape, &s.q, &s.groups, &views, &mut s.att);
        }
        s.acts_mid.invalidate();
        self.project(pool, &mut s.acts_mid, &s.att, n, &layer.wo, &mut s.o)?;
        ops::rms_norm(&mut s.o[..n * d], d, &layer.attn_post_norm, c.rms_eps);
        ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);
        Ok(())
    }
}
