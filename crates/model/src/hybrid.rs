//! Hybrid models (Qwen3.5, `arch/qwen35.rs`): blocks whose token mixer is
//! either Gated DeltaNet linear attention, with a fixed-size recurrent state
//! per sequence, or gated softmax attention over the KV cache. This file has
//! their weights ([`HybridLayer`]), their per-sequence state ([`Recurrent`],
//! held by the `Session` next to its KV cache, with snapshots for prefix
//! reuse) and their forward pass (`Model::forward_chunk_hybrid`, called by
//! `forward.rs` for every chunk of such a model).
//!
//! The delta rule (`delta.rs`) runs in its chunked form, per value head, for
//! prompt chunks and decode steps alike: blocks of `delta::CHUNK` positions
//! at fixed offsets from the sequence's start, the state advanced once per
//! block, the unfinished block's rows kept with it — so a chunk's result is
//! the decode steps' result bit for bit, however a prompt is split — with
//! the heads of all sequences of a chunk spread over the pool. A sequence's
//! scan reads only its own rows and state, so batching never changes its
//! values. `Model::set_delta_rule` switches to the per-token form, the
//! reference the tests compare with.

mod state;

pub(crate) use state::Recurrent;
pub use state::{MAX_SNAPSHOTS, PINNED_SNAPSHOTS};

use crate::attention::{attend_groups, AttnShape, SharedMut};
use crate::config::{Config, SsmSpec};
use crate::delta::{self, CHUNK};
use crate::forward::KvViews;
use crate::ops;
use crate::session::{Scratch, Session};
use crate::weights::{Ffn, Loader, Matrix};
use crate::{Model, ModelError};
use gguf::GgufFile;
use half::slice::HalfFloatSliceExt;
use kernels::ThreadPool;

/// The token mixer of one hybrid block.
#[derive(Debug)]
pub enum Mixer {
    /// Gated full attention.
    Attention(Box<GatedAttnWeights>),
    /// Gated DeltaNet.
    Delta(Box<DeltaWeights>),
}

/// One gated full-attention layer's weights: `wq` gives [q | gate] per
/// head (2·q_dim rows).
#[derive(Debug)]
pub struct GatedAttnWeights {
    pub wq: Matrix,
    pub wk: Matrix,
    pub wv: Matrix,
    pub wo: Matrix,
    pub q_norm: Vec<f32>, // [head_dim]
    pub k_norm: Vec<f32>, // [head_dim]
}

/// One Gated DeltaNet layer's weights. Shapes [rows, cols].
#[derive(Debug)]
pub struct DeltaWeights {
    pub wqkv: Matrix,      // [conv_dim, n_embd]
    pub wz: Matrix,        // [value_dim, n_embd] (`attn_gate`)
    pub conv: Vec<f32>,    // [conv_dim][d_conv] (`ssm_conv1d`)
    pub dt_bias: Vec<f32>, // [n_v_heads]
    pub a: Vec<f32>,       // [n_v_heads] (−exp(A_log))
    pub w_beta: Matrix,    // [n_v_heads, n_embd]
    pub w_alpha: Matrix,   // [n_v_heads, n_embd]
    pub norm: Vec<f32>,    // [head_dim]
    pub w_out: Matrix,     // [n_embd, value_dim]
}

/// One hybrid block.
#[derive(Debug)]
pub struct HybridLayer {
    pub attn_norm: Vec<f32>, // [n_embd]
    pub mixer: Mixer,
    /// The FFN's pre-norm (`post_attention_norm` in the file).
    pub ffn_norm: Vec<f32>, // [n_embd]
    /// A SwiGLU MLP (`qwen35`) or a mixture of experts with its shared
    /// expert (`qwen35moe`).
    pub ffn: Ffn,
}

impl HybridLayer {
    /// The matrices the forward pass multiplies by (a mixture's routed
    /// experts only if `routed`: `Experts::matrices`).
    pub(crate) fn matrices(&self, routed: bool) -> Vec<&Matrix> {
        let mut v = match &self.ffn {
            Ffn::Dense { gate, up, down } => vec![gate, up, down],
            Ffn::Moe(e) => e.matrices(routed),
        };
        match &self.mixer {
            Mixer::Attention(a) => v.extend([&a.wq, &a.wk, &a.wv, &a.wo]),
            Mixer::Delta(d) => v.extend([&d.wqkv, &d.wz, &d.w_beta, &d.w_alpha, &d.w_out]),
        }
        v
    }
}

/// Read a hybrid model's blocks (tensor names per llama.cpp
/// `llama_model_qwen35::load_arch_tensors`). Blocks past `c.n_layer` (a
/// multi-token-prediction head) are accepted unread.
pub(crate) fn load_layers(
    l: &Loader,
    f: &GgufFile,
    c: &Config,
    h: &SsmSpec,
) -> Result<Vec<HybridLayer>, ModelError> {
    let (d, ff, hd, kv) = (c.n_embd, c.n_ff, c.head_dim, c.kv_dim());
    let mut layers = Vec::with_capacity(c.n_layer);
    for i in 0..c.n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        let mixer = if h.recurrent[i] {
            let conv_m = l.matrix(&n("ssm_conv1d.weight"), h.conv_dim(), h.d_conv)?;
            let mut conv = vec![0.0; h.conv_dim() * h.d_conv];
            kernels::dequantize(
                conv_m.ty,
                &f.bytes()[conv_m.start..conv_m.start + conv_m.len],
                &mut conv,
            )
            .map_err(|e| ModelError::Kernel(e.to_string()))?;
            Mixer::Delta(Box::new(DeltaWeights {
                wqkv: l.matrix(&n("attn_qkv.weight"), h.conv_dim(), d)?,
                wz: l.matrix(&n("attn_gate.weight"), h.value_dim(), d)?,
                conv,
                dt_bias: l.vector(&n("ssm_dt.bias"), h.n_v_heads)?,
                a: l.vector(&n("ssm_a"), h.n_v_heads)?,
                w_beta: l.matrix(&n("ssm_beta.weight"), h.n_v_heads, d)?,
                w_alpha: l.matrix(&n("ssm_alpha.weight"), h.n_v_heads, d)?,
                norm: l.vector(&n("ssm_norm.weight"), h.head_dim)?,
                w_out: l.matrix(&n("ssm_out.weight"), d, h.value_dim())?,
            }))
        } else {
            Mixer::Attention(Box::new(GatedAttnWeights {
                wq: l.matrix(&n("attn_q.weight"), 2 * c.q_dim(), d)?,
                wk: l.matrix(&n("attn_k.weight"), kv, d)?,
                wv: l.matrix(&n("attn_v.weight"), kv, d)?,
                wo: l.matrix(&n("attn_output.weight"), d, c.q_dim())?,
                q_norm: l.vector(&n("attn_q_norm.weight"), hd)?,
                k_norm: l.vector(&n("attn_k_norm.weight"), hd)?,
            }))
        };
        layers.push(HybridLayer {
            attn_norm: l.vector(&n("attn_norm.weight"), d)?,
            mixer,
            ffn_norm: l.vector(&n("post_attention_norm.weight"), d)?,
            ffn: match &c.moe {
                Some(moe) => Ffn::Moe(Box::new(crate::weights::experts(l, c, moe, i)?)),
                None => Ffn::Dense {
                    gate: l.matrix(&n("ffn_gate.weight"), ff, d)?,
                    up: l.matrix(&n("ffn_up.weight"), ff, d)?,
                    down: l.matrix(&n("ffn_down.weight"), d, ff)?,
                },
            },
        });
    }
    // the multi-token-prediction blocks, not run
    for t in &f.tensors {
        let extra = t
            .name
            .strip_prefix("blk.")
            .and_then(|r| r.split('.').next())
            .and_then(|i| i.parse::<usize>().ok())
            .is_some_and(|i| i >= c.n_layer);
        if extra {
            l.mark_used(&t.name);
        }
    }
    Ok(layers)
}

/// Working memory of a hybrid model's chunk, per row.
#[derive(Default)]
pub(crate) struct HybridScratch {
    qg: Vec<f32>,    // [cap][2*q_dim]   query and gate of an attention layer
    mixed: Vec<f32>, // [cap][conv_dim]  q, k, v before the convolution
    conv: Vec<f32>,  // [cap][conv_dim]  after it (and SiLU, L2 norms)
    z: Vec<f32>,     // [cap][value_dim] the output gate
    beta: Vec<f32>,  // [cap][n_v_heads]
    g: Vec<f32>,     // [cap][n_v_heads] log of the decay
    out: Vec<f32>,   // [cap][value_dim] the delta rule's output
}

impl HybridScratch {
    pub(crate) fn new(c: &Config, cap: usize) -> HybridScratch {
        let Some(h) = &c.ssm else {
            return HybridScratch::default();
        };
        HybridScratch {
            qg: vec![0.0; cap * 2 * c.q_dim()],
            mixed: vec![0.0; cap * h.conv_dim()],
            conv: vec![0.0; cap * h.conv_dim()],
            z: vec![0.0; cap * h.value_dim()],
            beta: vec![0.0; cap * h.n_v_heads],
            g: vec![0.0; cap * h.n_v_heads],
            out: vec![0.0; cap * h.value_dim()],
        }
    }
}

/// Most taps of the causal convolution a file may ask for (`ssm.conv_kernel`,
/// checked at load; Qwen3.5's is 4).
pub(crate) const MAX_CONV_TAPS: usize = 16;

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// ggml's `softplus` (`op_softplus`).
fn softplus(x: f32) -> f32 {
    if x > 20.0 {
        x
    } else {
        (1.0 + x.exp()).ln()
    }
}

/// llama.cpp's `build_gdn_l2_norm`: `rms_norm(x, eps/n) / sqrt(n)`, i.e.
/// x / sqrt(Σx² + eps), in ggml's order (sum in double).
fn l2_norm(x: &mut [f32], eps: f32) {
    let n = x.len() as f32;
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len() as f64) as f32;
    let scale = 1.0 / (mean + eps / n).sqrt();
    let post = 1.0 / n.sqrt();
    for v in x {
        *v = *v * scale * post;
    }
}

impl Model {
    /// One chunk of a hybrid model (see `forward_chunk`): every row of
    /// `s.groups` through every block; logits for the rows that want them.
    pub(crate) fn forward_chunk_hybrid(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        tokens: &[u32],
    ) -> Result<(), ModelError> {
        let c: &Config = &self.config;
        let h = c.ssm.as_ref().expect("a hybrid model");
        let n = tokens.len();
        let d = c.n_embd;
        if let Some(ms) = &mut s.moe {
            ms.margins[..n].fill(f32::INFINITY);
        }
        self.embed_rows(s, tokens)?;
        for (il, layer) in self.weights.hybrid.iter().enumerate() {
            ops::rms_norm_into(
                &mut s.xn[..n * d],
                &s.x[..n * d],
                d,
                &layer.attn_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            match &layer.mixer {
                Mixer::Attention(a) => self.gated_attention(pool, s, sessions, il, n, a)?,
                Mixer::Delta(w) => self.delta_net(pool, s, sessions, il, n, h, w)?,
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);

            // ---- feed-forward (SwiGLU, or the experts) ----
            ops::rms_norm_into(
                &mut s.xn[..n * d],
                &s.x[..n * d],
                d,
                &layer.ffn_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            match &layer.ffn {
                Ffn::Dense { gate, up, down } => {
                    self.swiglu_mlp(pool, s, n, gate, up, down)?;
                }
                Ffn::Moe(experts) => self.moe_ffn(pool, s, n, experts)?,
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);
        }
        if let Some(ms) = &mut s.moe {
            ms.n_margins = n;
        }
        // a prompt chunk's end is a point a later request may reuse
        for g in &s.groups {
            if g.rows > 1 {
                sessions[g.seq].rec.snapshot(g.pos0 + g.rows);
            }
        }
        self.finish_chunk(pool, s, sessions, tokens, false)
    }

    /// Gated full attention of layer `il` on `s.xn`, into `s.o`.
    #[allow(clippy::too_many_arguments)]
    fn gated_attention(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        il: usize,
        n: usize,
        a: &GatedAttnWeights,
    ) -> Result<(), ModelError> {
        let GatedAttnWeights {
            wq,
            wk,
            wv,
            wo,
            q_norm,
            k_norm,
        } = a;
        let c = &self.config;
        let (d, qd, kvd, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.head_dim);
        self.project_many(
            pool,
            &mut s.acts_in,
            &s.xn,
            n,
            [(wq, &mut s.hy.qg), (wk, &mut s.k), (wv, &mut s.v)],
        )?;
        // split [q_h | gate_h] per head: q into s.q, the gate stays in qg
        for t in 0..n {
            for head in 0..c.n_head {
                let src = t * 2 * qd + head * 2 * hd;
                s.q[t * qd + head * hd..t * qd + (head + 1) * hd]
                    .copy_from_slice(&s.hy.qg[src..src + hd]);
            }
        }
        ops::rms_norm(&mut s.q[..n * qd], hd, q_norm, c.rms_eps);
        ops::rms_norm(&mut s.k[..n * kvd], hd, k_norm, c.rms_eps);
        let mut sc = vec![(0.0f32, 1.0f32); c.pos.rope.n_rot / 2];
        for g in &s.groups {
            let rope = c.rope_for(il, sessions[g.seq].rope_long);
            for t in g.row0..g.row0 + g.rows {
                let pos = g.pos0 + t - g.row0;
                if let Some(rope) = rope {
                    rope.sin_cos(pos, &mut sc);
                    rope.apply_with(&mut s.q[t * qd..(t + 1) * qd], hd, &sc);
                    rope.apply_with(&mut s.k[t * kvd..(t + 1) * kvd], hd, &sc);
                }
            }
        }
        for g in &s.groups {
            let cache = &mut sessions[g.seq].cache[il];
            let (src, dst) = (
                g.row0 * kvd..(g.row0 + g.rows) * kvd,
                g.pos0 * kvd..(g.pos0 + g.rows) * kvd,
            );
            cache.k[dst.clone()].convert_from_f32_slice(&s.k[src.clone()]);
            cache.v[dst].convert_from_f32_slice(&s.v[src]);
        }
        ops::round_f16_slice(&mut s.q[..n * qd]);
        let shape = AttnShape {
            n_head: c.n_head,
            n_head_kv: c.n_head_kv,
            head_dim: hd,
            scale: c.attn_scale,
            window: None,
            sinks: None,
        };
        {
            let views = KvViews {
                sessions: &*sessions,
                layer: il,
            };
            attend_groups(pool, &shape, &s.q, &s.groups, &views, &mut s.att);
        }
        // output × sigmoid(gate)
        for t in 0..n {
            for head in 0..c.n_head {
                let gate =
                    &s.hy.qg[t * 2 * qd + head * 2 * hd + hd..t * 2 * qd + (head + 1) * 2 * hd];
                let o = &mut s.att[t * qd + head * hd..t * qd + (head + 1) * hd];
                for (x, &gv) in o.iter_mut().zip(gate) {
                    *x *= sigmoid(gv);
                }
            }
        }
        s.acts_mid.invalidate();
        self.project(pool, &mut s.acts_mid, &s.att, n, wo, &mut s.o)?;
        debug_assert!(s.o.len() >= n * d);
        Ok(())
    }

    /// Gated DeltaNet of layer `il` on `s.xn`, into `s.o`, advancing each
    /// sequence's recurrent state.
    #[allow(clippy::too_many_arguments)]
    fn delta_net(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        il: usize,
        n: usize,
        h: &SsmSpec,
        w: &DeltaWeights,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let (cd, kd, vd, nv, hd) = (
            h.conv_dim(),
            h.key_dim(),
            h.value_dim(),
            h.n_v_heads,
            h.head_dim,
        );
        let hy = &mut s.hy;
        self.project_many(
            pool,
            &mut s.acts_in,
            &s.xn,
            n,
            [
                (&w.wqkv, &mut hy.mixed),
                (&w.wz, &mut hy.z),
                (&w.w_beta, &mut hy.beta),
                (&w.w_alpha, &mut hy.g),
            ],
        )?;
        for t in 0..n {
            for j in 0..nv {
                let b = &mut hy.beta[t * nv + j];
                *b = sigmoid(*b);
                let g = &mut hy.g[t * nv + j];
                *g = softplus(*g + w.dt_bias[j]) * w.a[j];
            }
        }
        // causal conv1d over [state; rows] per group, then SiLU; the state
        // becomes the last d_conv-1 inputs
        let taps = h.d_conv;
        let hist = taps - 1;
        for g in &s.groups {
            let st = &mut sessions[g.seq].rec.layers[il].conv;
            let input = |r: usize| -> &[f32] {
                // row r of [state; rows]
                if r < hist {
                    &st[r * cd..(r + 1) * cd]
                } else {
                    let t = g.row0 + r - hist;
                    &hy.mixed[t * cd..(t + 1) * cd]
                }
            };
            // rows are independent (each reads inputs only): runs of them
            // over the pool
            let out = &mut hy.conv[g.row0 * cd..(g.row0 + g.rows) * cd];
            crate::forward::par_rows_mut(pool, out, cd, cd * taps, |i0, out| {
                for (i, out) in out.chunks_exact_mut(cd).enumerate() {
                    let i = i0 + i;
                    let rows: [&[f32]; MAX_CONV_TAPS] =
                        std::array::from_fn(|k| if k < taps { input(i + k) } else { &[] });
                    for (ch, o) in out.iter_mut().enumerate() {
                        let wc = &w.conv[ch * taps..(ch + 1) * taps];
                        let mut sum = 0.0f32;
                        for (k, &wk) in wc.iter().enumerate() {
                            sum += rows[k][ch] * wk;
                        }
                        *o = silu(sum);
                    }
                }
            });
            // new state: rows g.rows .. g.rows + hist of [state; rows], in
            // place (no allocation per step): the state's own rows moved down
            // first, then the group's last rows
            let kept = hist.saturating_sub(g.rows);
            st.copy_within((hist - kept) * cd..hist * cd, 0);
            for r in kept..hist {
                let t = g.row0 + g.rows + r - hist;
                st[r * cd..(r + 1) * cd].copy_from_slice(&hy.mixed[t * cd..(t + 1) * cd]);
            }
        }
        // q and k L2-normed per head (rows independent: over the pool)
        crate::forward::par_rows_mut(pool, &mut hy.conv[..n * cd], cd, 2 * kd, |_, rows| {
            for row in rows.chunks_exact_mut(cd) {
                for head in row[..2 * kd].chunks_exact_mut(hd) {
                    l2_norm(head, c.rms_eps);
                }
            }
        });
        // the delta rule: one task per (group, value head)
        let per_token = self.delta_rule == DeltaRule::PerToken;
        // per group: the layer's state, u rows and decays (written by the
        // heads' tasks) and key rows (only read during `run`)
        let layers: Vec<[SharedMut; 4]> = s
            .groups
            .iter()
            .map(|g| {
                let l = &mut sessions[g.seq].rec.layers[il];
                [
                    SharedMut(l.state.as_mut_ptr()),
                    SharedMut(l.pu.as_mut_ptr()),
                    SharedMut(l.pg.as_mut_ptr()),
                    SharedMut(l.pk.as_mut_ptr()),
                ]
            })
            .collect();
        let layers = &layers;
        let groups = &s.groups;
        let (conv, beta, gdecay) = (&hy.conv, &hy.beta, &hy.g);
        let out = SharedMut(hy.out.as_mut_ptr());
        let nk = h.n_k_heads;
        pool.run(groups.len() * nv, |task| {
            let (gi, head) = (task / nv, task % nv);
            let g = &groups[gi];
            let kh = head % nk;
            let [st, pu, pg, pk] = layers[gi];
            // SAFETY: each (sequence, head) is one task: its state matrix,
            // u rows and decays [head] of that sequence's layer are touched
            // by it alone (a sequence appears in one group per chunk); the
            // key rows are only read during `run` (written after it); all
            // in bounds (`RecLayer::new`), alive past `run`.
            let (st, pu, pg, pk) = unsafe {
                (
                    std::slice::from_raw_parts_mut(st.get().add(head * hd * hd), hd * hd),
                    std::slice::from_raw_parts_mut(pu.get().add(head * CHUNK * hd), CHUNK * hd),
                    std::slice::from_raw_parts_mut(pg.get().add(head * CHUNK), CHUNK),
                    std::slice::from_raw_parts(pk.get().add(kh * CHUNK * hd), CHUNK * hd),
                )
            };
            // this head's rows, contiguous
            let rows = g.row0..g.row0 + g.rows;
            let gather = |off: usize| -> Vec<f32> {
                rows.clone()
                    .flat_map(|t| &conv[t * cd + off..t * cd + off + hd])
                    .copied()
                    .collect()
            };
            let (q, k, v) = (
                gather(kh * hd),
                gather(kd + kh * hd),
                gather(2 * kd + head * hd),
            );
            let gs: Vec<f32> = rows.clone().map(|t| gdecay[t * nv + head]).collect();
            let bs: Vec<f32> = rows.clone().map(|t| beta[t * nv + head]).collect();
            let x = delta::HeadRows {
                q: &q,
                k: &k,
                v: &v,
                g: &gs,
                beta: &bs,
            };
            let mut o = vec![0.0f32; g.rows * hd];
            if per_token {
                delta::per_token(st, hd, &x, &mut o);
            } else {
                let pend = delta::Pending {
                    k: pk,
                    u: pu,
                    g: pg,
                };
                delta::chunked(st, pend, hd, g.pos0, &x, &mut o);
            }
            for (i, t) in rows.enumerate() {
                // SAFETY: row t, head `head` of out: this task's alone, in bounds
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(out.get().add(t * vd + head * hd), hd)
                };
                dst.copy_from_slice(&o[i * hd..(i + 1) * hd]);
            }
        });
        // the key rows of each sequence's unfinished block, for its next rows
        if !per_token {
            for g in &s.groups {
                let pk = &mut sessions[g.seq].rec.layers[il].pk;
                let end = g.pos0 + g.rows;
                let (first, last) = (g.pos0.max(end - end % CHUNK), end);
                for pos in first..last {
                    let t = g.row0 + pos - g.pos0;
                    let j = pos % CHUNK;
                    for kh in 0..nk {
                        pk[(kh * CHUNK + j) * hd..(kh * CHUNK + j + 1) * hd].copy_from_slice(
                            &hy.conv[t * cd + kd + kh * hd..t * cd + kd + (kh + 1) * hd],
                        );
                    }
                }
            }
        }
        // RMS norm per head × SiLU(z), then ssm_out
        crate::forward::par_rms_norm(pool, &mut hy.out[..n * vd], hd, &w.norm, c.rms_eps);
        let z = &hy.z[..n * vd];
        crate::forward::par_rows_mut(pool, &mut hy.out[..n * vd], vd, vd, |r0, o| {
            for (o, &z) in o.iter_mut().zip(&z[r0 * vd..]) {
                *o *= silu(z);
            }
        });
        s.acts_mid.invalidate();
        self.project(pool, &mut s.acts_mid, &s.hy.out, n, &w.w_out, &mut s.o)
    }
}

/// Which form of the gated delta rule a hybrid model runs (see `delta.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeltaRule {
    /// Blocks of `delta::CHUNK` positions: matrix products per block, the
    /// state advanced once per block. What hearth runs.
    #[default]
    Chunked,
    /// One token after another (ggml-cpu's order): the reference the
    /// chunked form is checked against. Set before a session is made: the
    /// two keep their state differently.
    PerToken,
}
