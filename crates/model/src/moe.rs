//! The mixture-of-experts feed-forward (qwen3moe, gpt-oss, qwen35moe,
//! gemma4), as llama.cpp's
//! `llm_graph_context::build_moe_ffn` computes it: router logits
//! (`ffn_gate_inp`, plus its bias), the experts chosen per row (softmax then
//! top-k, or top-k then softmax over those), their weights (renormalised and
//! scaled where the architecture says), each chosen expert's gated MLP, and
//! the weighted sum of their outputs.
//!
//! A chunk's rows are grouped by expert: every (row, slot) pair is placed in
//! expert order (rows ascending within an expert), so each active expert's
//! matrices are read once per chunk, by one matrix product over the rows
//! routed to it. Every output element is still one dot product in its
//! format's fixed order (the matmul's invariant), and a row's weighted sum
//! runs over its own slots in top-k order, so a row's result never depends
//! on the rows around it.

use crate::config::{Config, Gating, Moe};
use crate::forward::par_glu;
use crate::ops;
use crate::session::Scratch;
use crate::weights::{Experts, Matrix, SharedExpert};
use crate::{Model, ModelError};
use kernels::{GgmlType, MatmulJob, QuantizedActs, ThreadPool};

/// Working memory of a mixture-of-experts layer for chunks of up to `cap`
/// rows (all sized at creation but the per-expert activations, which only
/// grow: a decode step allocates nothing once one has run).
#[derive(Default)]
pub(crate) struct MoeScratch {
    /// [cap][n_expert] router logits (then probabilities)
    logits: Vec<f32>,
    /// [cap][k] each row's experts in top-k order, and their weights
    chosen: Vec<u32>,
    weights: Vec<f32>,
    /// [n_expert + 1] where each expert's rows start in the grouped order
    start: Vec<usize>,
    /// [n_expert] fill cursor while grouping
    cursor: Vec<usize>,
    /// [cap * k] grouped position of each (row, slot)
    at: Vec<usize>,
    /// [cap * k] row of each grouped position
    rows: Vec<u32>,
    /// experts with rows this chunk, ascending
    active: Vec<u32>,
    /// [cap * k][n_embd] inputs, grouped; later the experts' outputs
    x: Vec<f32>,
    /// [cap * k][n_ff_exp] gate (then activation) and up, grouped
    gate: Vec<f32>,
    up: Vec<f32>,
    /// [cap] each row's smallest routing margin over the layers so far
    /// (see `Session::route_margins`)
    pub(crate) margins: Vec<f32>,
    /// rows of `margins` the last chunk left (those wanting logits)
    pub(crate) n_margins: usize,
    /// per active expert (by rank in `active`): its rows quantized for the
    /// gate, up (when of another activation type) and down matrices
    acts_gate: Vec<QuantizedActs>,
    acts_up: Vec<QuantizedActs>,
    acts_down: Vec<QuantizedActs>,
    /// [cap] a shared expert's gate logits, [cap][n_embd] its outputs
    shared_gate: Vec<f32>,
    shared_out: Vec<f32>,
    /// [cap][n_embd] Gemma 4's router input (see `Experts::router_scale`)
    router_x: Vec<f32>,
}

impl MoeScratch {
    pub(crate) fn new(c: &Config, moe: &Moe, cap: usize) -> MoeScratch {
        let (ne, k) = (moe.n_expert, moe.n_expert_used);
        let acts = || {
            (0..ne.min(cap * k))
                .map(|_| {
                    let mut a = QuantizedActs::new();
                    a.set_rounding(kernels::ActRounding::LlamaCppX86);
                    a
                })
                .collect()
        };
        MoeScratch {
            logits: vec![0.0; cap * ne],
            margins: vec![f32::INFINITY; cap],
            n_margins: 0,
            chosen: vec![0; cap * k],
            weights: vec![0.0; cap * k],
            start: vec![0; ne + 1],
            cursor: vec![0; ne],
            at: vec![0; cap * k],
            rows: vec![0; cap * k],
            active: Vec::with_capacity(ne),
            x: vec![0.0; cap * k * c.n_embd],
            gate: vec![0.0; cap * k * moe.n_ff_exp],
            up: vec![0.0; cap * k * moe.n_ff_exp],
            acts_gate: acts(),
            acts_up: acts(),
            acts_down: acts(),
            shared_gate: vec![0.0; if moe.n_ff_shexp > 0 { cap } else { 0 }],
            shared_out: vec![
                0.0;
                if moe.n_ff_shexp > 0 {
                    cap * c.n_embd
                } else {
                    0
                }
            ],
            router_x: vec![
                0.0;
                if c.gemma4.is_some() {
                    cap * c.n_embd
                } else {
                    0
                }
            ],
        }
    }
}

/// Softmax of `x` in place as ggml's `soft_max` computes it on the CPU: the
/// maximum, `exp(x - max)` with llama.cpp's vector `exp`, the sum in double,
/// each value times the reciprocal rounded to float.
fn softmax(x: &mut [f32]) {
    let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = kernels::exp_ggml(*v - max);
        sum += *v as f64;
    }
    let inv = (1.0 / sum) as f32;
    x.iter_mut().for_each(|v| *v *= inv);
}

/// The indices of the `out.len()` largest values of `x`, largest first (ties:
/// the lower index first), as ggml's descending `argsort` then its first k.
fn top_k(x: &[f32], out: &mut [u32]) {
    let k = out.len();
    for (i, &v) in x.iter().enumerate() {
        // insertion into the sorted prefix of the first i values (k is
        // small: 4 or 8)
        let mut j = i.min(k);
        while j > 0 && v > x[out[j - 1] as usize] {
            if j < k {
                out[j] = out[j - 1];
            }
            j -= 1;
        }
        if j < k {
            out[j] = i as u32;
        }
    }
}

/// The gap between the last chosen expert's score and the best unchosen
/// one's (`x` the scores, `chosen` their top k; infinite if all are chosen).
fn gap(x: &[f32], chosen: &[u32]) -> f32 {
    let last = x[chosen[chosen.len() - 1] as usize];
    let next = x
        .iter()
        .enumerate()
        .filter(|(i, _)| !chosen.contains(&(*i as u32)))
        .fold(f32::NEG_INFINITY, |m, (_, &v)| m.max(v));
    last - next
}

/// Route one row: its experts (`chosen`, top-k order) and their weights
/// from its router logits (`logits`, overwritten). Returns the routing
/// margin: how far, in router logits, the choice was from a tie.
fn route(moe: &Moe, logits: &mut [f32], chosen: &mut [u32], weights: &mut [f32]) -> f32 {
    let margin;
    match moe.gating {
        Gating::Softmax => {
            softmax(logits);
            top_k(logits, chosen);
            for (w, &e) in weights.iter_mut().zip(chosen.iter()) {
                *w = logits[e as usize];
            }
            // a ratio of probabilities is a difference of logits
            let last = logits[chosen[chosen.len() - 1] as usize];
            margin = last.ln() - (last - gap(logits, chosen)).ln();
        }
        Gating::SoftmaxTopK => {
            top_k(logits, chosen);
            margin = gap(logits, chosen);
            for (w, &e) in weights.iter_mut().zip(chosen.iter()) {
                *w = logits[e as usize];
            }
            softmax(weights);
        }
    }
    if moe.norm_weights {
        // ggml_sum_rows (a double sum), clamped to f16's smallest normal
        let sum = (weights.iter().map(|&w| w as f64).sum::<f64>() as f32).max(6.103_515_6e-5);
        weights.iter_mut().for_each(|w| *w /= sum);
    }
    if let Some(s) = moe.weights_scale {
        weights.iter_mut().for_each(|w| *w *= s);
    }
    margin
}

/// A pointer to a slice's elements that the pool's tasks may share, each
/// task touching its own element only.
#[derive(Clone, Copy)]
struct Slots<T>(*mut T);
// SAFETY: used only to give each task of one `ThreadPool::run` a distinct
// element; `run` returns after every task, while the slice is still borrowed.
unsafe impl<T: Send> Send for Slots<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Slots<T> {}

impl<T> Slots<T> {
    /// The element at `i` (a method, so closures capture the `Sync` wrapper).
    ///
    /// # Safety
    /// `i` is in bounds of the slice the pointer came from, and no other
    /// reference to that element is alive.
    #[allow(clippy::mut_from_ref)]
    unsafe fn at(&self, i: usize) -> &mut T {
        // SAFETY: per the contract above.
        unsafe { &mut *self.0.add(i) }
    }
}

/// Up to this many matrix products per `kernels::matmul_multi` call.
const JOBS: usize = 8;

/// Run the first `n` of `jobs` (the rest stay `None`) in one call.
fn run_jobs<'a>(
    pool: &ThreadPool,
    jobs: &mut [Option<MatmulJob<'a>>; JOBS],
    n: usize,
    empty: &'a QuantizedActs,
) -> Result<(), ModelError> {
    if n == 0 {
        return Ok(());
    }
    let mut list: [MatmulJob<'a>; JOBS] = std::array::from_fn(|i| {
        jobs[i].take().unwrap_or(MatmulJob {
            weight_ty: GgmlType::F32,
            w: &[],
            n_out: 0,
            k: 0,
            acts: empty,
            out: &mut [],
            cache: None,
        })
    });
    kernels::matmul_multi(pool, &mut list[..n]).map_err(|e| ModelError::Kernel(e.to_string()))
}

/// `x[r] += bias[e]` for each row r of `x` (`[rows][n]`).
fn add_expert_bias(x: &mut [f32], bias: &Option<Vec<f32>>, e: usize, n: usize) {
    if let Some(b) = bias {
        ops::add_bias(x, &b[e * n..(e + 1) * n]);
    }
}

impl Model {
    /// The mixture-of-experts feed-forward of `n` rows: `s.xn` (the normed
    /// input, `[n][n_embd]`) → `s.o` (`[n][n_embd]`). Gemma 4's router reads
    /// the residual stream `s.x` instead (see `Experts::router_scale`).
    pub(crate) fn moe_ffn(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        n: usize,
        w: &Experts,
    ) -> Result<(), ModelError> {
        let c = &self.config;
        let moe = c.moe.as_ref().expect("a mixture-of-experts model");
        let (d, ne, k, ff) = (c.n_embd, moe.n_expert, moe.n_expert_used, moe.n_ff_exp);
        let Scratch {
            x,
            xn,
            o,
            acts_in,
            moe: ms,
            ..
        } = s;
        let ms = ms.as_mut().expect("a scratch made for this model");

        // router logits [n][ne] (and bias), then each row's experts and weights
        match &w.router_scale {
            None => self.project(pool, acts_in, xn, n, &w.router, &mut ms.logits)?,
            Some(scale) => {
                // Gemma 4 (llama.cpp gemma4.cpp): ggml_rms_norm of the
                // residual, ggml_scale by 1/sqrt(n_embd), ggml_mul by the
                // scale, in that order
                let rx = &mut ms.router_x[..n * d];
                rx.copy_from_slice(&x[..n * d]);
                let inv = 1.0 / (d as f32).sqrt();
                for row in rx.chunks_exact_mut(d) {
                    let ss: f32 = row.iter().map(|v| v * v).sum::<f32>() / d as f32;
                    let r = 1.0 / (ss + c.rms_eps).sqrt();
                    for (v, &g) in row.iter_mut().zip(scale) {
                        *v = *v * r * inv * g;
                    }
                }
                acts_in.invalidate();
                self.project(pool, acts_in, &ms.router_x, n, &w.router, &mut ms.logits)?;
                acts_in.invalidate();
            }
        }
        if let Some(b) = &w.router_bias {
            ops::add_bias(&mut ms.logits[..n * ne], b);
        }
        for r in 0..n {
            let margin = route(
                moe,
                &mut ms.logits[r * ne..(r + 1) * ne],
                &mut ms.chosen[r * k..(r + 1) * k],
                &mut ms.weights[r * k..(r + 1) * k],
            );
            ms.margins[r] = ms.margins[r].min(margin);
        }

        // group the (row, slot) pairs by expert, rows ascending within one
        ms.cursor.fill(0);
        for &e in &ms.chosen[..n * k] {
            ms.cursor[e as usize] += 1;
        }
        ms.active.clear();
        let mut total = 0;
        for e in 0..ne {
            ms.start[e] = total;
            if ms.cursor[e] > 0 {
                ms.active.push(e as u32);
            }
            total += ms.cursor[e];
            ms.cursor[e] = ms.start[e];
        }
        ms.start[ne] = total;
        for r in 0..n {
            for slot in 0..k {
                let e = ms.chosen[r * k + slot] as usize;
                let p = ms.cursor[e];
                ms.cursor[e] += 1;
                ms.rows[p] = r as u32;
                ms.at[r * k + slot] = p;
            }
        }
        for (p, &r) in ms.rows[..total].iter().enumerate() {
            let r = r as usize;
            ms.x[p * d..(p + 1) * d].copy_from_slice(&xn[r * d..(r + 1) * d]);
        }

        // each active expert's rows quantized for its gate (and up) matrix
        let n_active = ms.active.len();
        let (gty, uty) = (w.gate[0].ty, w.up[0].ty);
        let same = kernels::vec_dot_type(gty) == kernels::vec_dot_type(uty);
        {
            let (ag, au) = (
                Slots(ms.acts_gate.as_mut_ptr()),
                Slots(ms.acts_up.as_mut_ptr()),
            );
            let (x, start, active) = (&ms.x, &ms.start, &ms.active);
            assert!(ms.acts_gate.len() >= n_active && ms.acts_up.len() >= n_active);
            pool.run(n_active, |i| {
                let e = active[i] as usize;
                let (p0, p1) = (start[e], start[e + 1]);
                let rows = &x[p0 * d..p1 * d];
                // SAFETY: task i alone touches element i (< n_active, asserted
                // in bounds) of each list.
                unsafe { ag.at(i) }.quantize(gty, rows, p1 - p0, d);
                if !same {
                    // SAFETY: as above.
                    unsafe { au.at(i) }.quantize(uty, rows, p1 - p0, d);
                }
            });
        }

        // gate and up of every active expert, a few experts per pool run
        let empty = QuantizedActs::new();
        let bytes = self.file.bytes();
        let view = |m: &Matrix| &bytes[m.start..m.start + m.len];
        {
            let (mut g_rest, mut u_rest) = (&mut ms.gate[..total * ff], &mut ms.up[..total * ff]);
            let mut jobs: [Option<MatmulJob>; JOBS] = Default::default();
            let mut nj = 0;
            for (i, &e) in ms.active.iter().enumerate() {
                let e = e as usize;
                let m = ms.start[e + 1] - ms.start[e];
                let (ge, gr) = std::mem::take(&mut g_rest).split_at_mut(m * ff);
                let (ue, ur) = std::mem::take(&mut u_rest).split_at_mut(m * ff);
                (g_rest, u_rest) = (gr, ur);
                let ag = &ms.acts_gate[i];
                let au = if same { ag } else { &ms.acts_up[i] };
                for (mat, acts, out) in [(&w.gate[e], ag, ge), (&w.up[e], au, ue)] {
                    jobs[nj] = Some(MatmulJob {
                        weight_ty: mat.ty,
                        w: view(mat),
                        n_out: mat.rows,
                        k: mat.cols,
                        acts,
                        out,
                        cache: self.panel_cache(mat),
                    });
                    nj += 1;
                }
                if nj == JOBS {
                    run_jobs(pool, &mut jobs, nj, &empty)?;
                    nj = 0;
                }
            }
            run_jobs(pool, &mut jobs, nj, &empty)?;
        }
        for &e in &ms.active {
            let e = e as usize;
            let (p0, p1) = (ms.start[e], ms.start[e + 1]);
            add_expert_bias(&mut ms.gate[p0 * ff..p1 * ff], &w.gate_bias, e, ff);
            add_expert_bias(&mut ms.up[p0 * ff..p1 * ff], &w.up_bias, e, ff);
        }
        par_glu(
            pool,
            c.act,
            &mut ms.gate[..total * ff],
            &ms.up[..total * ff],
        );

        // down: each active expert's activations quantized, then multiplied
        let dty = w.down[0].ty;
        {
            let ad = Slots(ms.acts_down.as_mut_ptr());
            let (g, start, active) = (&ms.gate, &ms.start, &ms.active);
            assert!(ms.acts_down.len() >= n_active);
            pool.run(n_active, |i| {
                let e = active[i] as usize;
                let (p0, p1) = (start[e], start[e + 1]);
                // SAFETY: task i alone touches element i (< n_active, asserted).
                unsafe { ad.at(i) }.quantize(dty, &g[p0 * ff..p1 * ff], p1 - p0, ff);
            });
        }
        {
            let mut y_rest = &mut ms.x[..total * d];
            let mut jobs: [Option<MatmulJob>; JOBS] = Default::default();
            let mut nj = 0;
            for (i, &e) in ms.active.iter().enumerate() {
                let e = e as usize;
                let m = ms.start[e + 1] - ms.start[e];
                let (ye, yr) = std::mem::take(&mut y_rest).split_at_mut(m * d);
                y_rest = yr;
                let mat = &w.down[e];
                jobs[nj] = Some(MatmulJob {
                    weight_ty: mat.ty,
                    w: view(mat),
                    n_out: mat.rows,
                    k: mat.cols,
                    acts: &ms.acts_down[i],
                    out: ye,
                    cache: self.panel_cache(mat),
                });
                nj += 1;
                if nj == JOBS {
                    run_jobs(pool, &mut jobs, nj, &empty)?;
                    nj = 0;
                }
            }
            run_jobs(pool, &mut jobs, nj, &empty)?;
        }
        for &e in &ms.active {
            let e = e as usize;
            let (p0, p1) = (ms.start[e], ms.start[e + 1]);
            if let Some(sc) = &w.down_scale {
                ms.x[p0 * d..p1 * d].iter_mut().for_each(|v| *v *= sc[e]);
            }
            add_expert_bias(&mut ms.x[p0 * d..p1 * d], &w.down_bias, e, d);
        }

        // each row: its experts' outputs times their weights, summed in the
        // row's top-k order (as llama.cpp: one product each, added in turn)
        for r in 0..n {
            let out = &mut o[r * d..(r + 1) * d];
            for slot in 0..k {
                let p = ms.at[r * k + slot];
                let wt = ms.weights[r * k + slot];
                let y = &ms.x[p * d..(p + 1) * d];
                if slot == 0 {
                    for (a, &v) in out.iter_mut().zip(y) {
                        *a = v * wt;
                    }
                } else {
                    for (a, &v) in out.iter_mut().zip(y) {
                        *a += v * wt;
                    }
                }
            }
        }
        if let Some(sh) = &w.shared {
            self.shared_expert(pool, s, n, sh)?;
        }
        Ok(())
    }

    /// A SwiGLU MLP of `n` rows: `s.xn` (its activations in `s.acts_in`)
    /// → `s.o`, through `s.gate` / `s.up`.
    pub(crate) fn swiglu_mlp(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        n: usize,
        gate: &Matrix,
        up: &Matrix,
        down: &Matrix,
    ) -> Result<(), ModelError> {
        let ff = gate.rows;
        self.project_many(
            pool,
            &mut s.acts_in,
            &s.xn,
            n,
            [(gate, &mut s.gate), (up, &mut s.up)],
        )?;
        kernels::swiglu(&mut s.gate[..n * ff], &s.up[..n * ff]);
        s.acts_mid.invalidate();
        self.project(pool, &mut s.acts_mid, &s.gate, n, down, &mut s.o)
    }

    /// qwen35moe's shared expert added to the routed experts' sum in `s.o`:
    /// o += SwiGLU-MLP(xn) × σ(xn · gate_inp), per row (llama.cpp
    /// `qwen35moe.cpp` `build_layer_ffn`: `ggml_mul` by the sigmoid, then
    /// `ggml_add` to the routed output).
    fn shared_expert(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        n: usize,
        sh: &SharedExpert,
    ) -> Result<(), ModelError> {
        let d = self.config.n_embd;
        let ff = sh.gate.rows;
        let Scratch {
            xn,
            o,
            gate,
            up,
            acts_in,
            acts_mid,
            moe: ms,
            ..
        } = s;
        let ms = ms.as_mut().expect("a scratch made for this model");
        self.project_many(
            pool,
            acts_in,
            xn,
            n,
            [
                (&sh.gate, &mut gate[..]),
                (&sh.up, &mut up[..]),
                (&sh.gate_inp, &mut ms.shared_gate[..]),
            ],
        )?;
        kernels::swiglu(&mut gate[..n * ff], &up[..n * ff]);
        acts_mid.invalidate();
        self.project(pool, acts_mid, gate, n, &sh.down, &mut ms.shared_out)?;
        for r in 0..n {
            let g = sigmoid(ms.shared_gate[r]);
            let y = &ms.shared_out[r * d..(r + 1) * d];
            for (a, &v) in o[r * d..(r + 1) * d].iter_mut().zip(y) {
                *a += v * g;
            }
        }
        Ok(())
    }
}

/// ggml's CPU `sigmoid`: 1 / (1 + e^−x).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_is_sorted_descending_with_low_index_first_on_ties() {
        let x = [0.5f32, 2.0, -1.0, 2.0, 7.0, 0.0, 3.0];
        let mut out = [0u32; 4];
        top_k(&x, &mut out);
        assert_eq!(out, [4, 6, 1, 3]);
        let mut one = [0u32; 1];
        top_k(&x, &mut one);
        assert_eq!(one, [4]);
        let mut all = [0u32; 7];
        top_k(&x, &mut all);
        assert_eq!(all, [4, 6, 1, 3, 0, 5, 2]);
    }

    #[test]
    fn routing_weights() {
        let moe = |gating, norm_weights| Moe {
            n_expert: 4,
            n_expert_used: 2,
            n_ff_exp: 8,
            gating,
            norm_weights,
            weights_scale: None,
            n_ff_shexp: 0,
        };
        let logits = [1.0f32, 3.0, 0.0, 2.0];
        let e: Vec<f64> = logits.iter().map(|&x| (x as f64).exp()).collect();
        let z: f64 = e.iter().sum();
        // softmax over all, top 2, renormalised or not
        for norm in [false, true] {
            let (mut l, mut ch, mut w) = (logits, [0u32; 2], [0f32; 2]);
            let margin = route(&moe(Gating::Softmax, norm), &mut l, &mut ch, &mut w);
            assert!((margin - 1.0).abs() < 1e-5, "{margin}");
            assert_eq!(ch, [1, 3]);
            let want = if norm {
                [e[1] / (e[1] + e[3]), e[3] / (e[1] + e[3])]
            } else {
                [e[1] / z, e[3] / z]
            };
            for (a, b) in w.iter().zip(want) {
                assert!((*a as f64 - b).abs() < 1e-6, "{w:?} vs {want:?}");
            }
        }
        // top 2 of the logits, softmax over those
        let (mut l, mut ch, mut w) = (logits, [0u32; 2], [0f32; 2]);
        let margin = route(&moe(Gating::SoftmaxTopK, false), &mut l, &mut ch, &mut w);
        assert_eq!(margin, 1.0);
        assert_eq!(ch, [1, 3]);
        let s = 1.0 + (-1.0f64).exp();
        assert!(
            (w[0] as f64 - 1.0 / s).abs() < 1e-6
                && (w[1] as f64 - (-1.0f64).exp() / s).abs() < 1e-6
        );
    }
}
