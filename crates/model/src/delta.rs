//! The gated delta rule of a Gated DeltaNet layer (`hybrid.rs`), one value
//! head at a time, in two forms:
//!
//! - [`per_token`], the recurrence as written (ggml-cpu's
//!   `ggml_compute_forward_gated_delta_net` order): per token
//!   S ← S·exp(g); u = β(v − S k); S ← S + u kᵀ; o = S q / √d.
//!   Kept as the oracle the chunked form is tested against
//!   (`Model::set_delta_rule`).
//! - [`chunked`], what the model runs for prompts and decode steps alike:
//!   the chunked form of the gated delta rule (Yang, Kautz, Hatamizadeh,
//!   "Gated Delta Networks: Improving Mamba2 with Delta Rule", ICLR 2025,
//!   §3.3; flash-linear-attention's `chunk_gated_delta_rule`; llama.cpp's
//!   `llm_build_delta_net_base::build_delta_net_chunking` in
//!   `src/models/delta-net-base.cpp`). Within a block of [`CHUNK`] tokens
//!   with state S₀ at its start and cumulative log-decays Gₜ = Σ_{i≤t} gᵢ,
//!   the state after token t is Sₜ = e^{Gₜ} S₀ + Σ_{j≤t} e^{Gₜ−Gⱼ} uⱼ kⱼᵀ,
//!   so
//!
//!   uₜ = βₜ (vₜ − e^{Gₜ} S₀kₜ − Σ_{j<t} e^{Gₜ−Gⱼ} (kⱼ·kₜ) uⱼ)
//!   oₜ = (e^{Gₜ} S₀qₜ + Σ_{j≤t} e^{Gₜ−Gⱼ} (kⱼ·qₜ) uⱼ) / √d
//!   S_C = e^{G_C} S₀ + Σ_j e^{G_C−Gⱼ} uⱼ kⱼᵀ  (once per block)
//!
//!   (the WY/UT form solves the first line for a whole block as
//!   (I + A)⁻¹ with A the strictly lower β-scaled, decayed K Kᵀ; here the
//!   same triangular system is solved by forward substitution, row by row).
//!   The d²-sized work is matrix products: S₀Kᵀ, S₀Qᵀ and the intra-block
//!   K Kᵀ, Q Kᵀ by `kernels::matmul_serial` (F32), the block's state update
//!   as CHUNK rank-1 updates per state row; what is left per token is
//!   O(CHUNK·d). Decays enter only as
//!   e^{Gₜ−Gⱼ} ≤ 1 and e^{Gₜ} (never divided by), so long blocks do not
//!   overflow.
//!
//! Blocks sit at fixed positions of the sequence (block b is positions
//! b·CHUNK .. (b+1)·CHUNK), and the state only advances at a block's end: in
//! between, the block's key rows, u rows and cumulative decays so far are
//! kept with the state ([`Pending`]). Every value of token t is then a
//! function of the state at its block's start and of its block's tokens up
//! to t, each computed by the same operations (every matmul element is one
//! dot product in a fixed order, whatever the number of rows): a sequence's
//! outputs are the same bits whether its tokens come in one call, in
//! several, one at a time (decode), batched with other sequences, or after
//! a snapshot restore. Against [`per_token`] they differ by rounding only
//! (the `delta_rule_*` tests bound it).

use kernels::{GgmlType, QuantizedActs};

/// Tokens per block of the chunked form. 32: the per-token cost is ~3d² for
/// the state products (independent of the block size) plus ~3·CHUNK·d for
/// the intra-block terms, and the pending rows kept per sequence grow with
/// it.
pub const CHUNK: usize = 32;

/// The view of `x` as the bytes of ggml F32 values (little-endian targets).
fn f32_bytes(x: &[f32]) -> &[u8] {
    // SAFETY: any f32 is 4 initialised bytes; u8 has alignment 1; the slice
    // covers exactly `x`'s memory and borrows it.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<u8>(), std::mem::size_of_val(x)) }
}

/// `out[r][o] = dot(w row o, acts row r)`: `w` [n_out][k] F32, `acts`
/// rows of k F32 values.
fn mm(acts: &QuantizedActs, w: &[f32], n_out: usize, k: usize, out: &mut [f32]) {
    kernels::matmul_serial(
        GgmlType::F32,
        f32_bytes(&w[..n_out * k]),
        n_out,
        k,
        acts,
        &mut out[..acts.n_rows() * n_out],
    )
    .expect("F32 products of checked shapes");
}

/// The rows of one value head over a run of tokens, contiguous: q, k, v
/// `[rows][hd]` (q and k L2-normed), `g` the log-decays, `beta` the
/// write strengths.
pub(crate) struct HeadRows<'a> {
    pub q: &'a [f32],
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub g: &'a [f32],
    pub beta: &'a [f32],
}

impl HeadRows<'_> {
    fn len(&self) -> usize {
        self.g.len()
    }
}

/// The current block's rows kept with one value head's state (see the
/// module doc): key rows `[CHUNK][hd]` (of its key head, shared with the
/// other value heads reading it: read only here, see `store_keys`), u rows
/// `[CHUNK][hd]` and cumulative log-decays `[CHUNK]` (this head's).
pub(crate) struct Pending<'a> {
    pub k: &'a [f32],
    pub u: &'a mut [f32],
    pub g: &'a mut [f32],
}

/// Buffers of [`chunked`], reused across its blocks.
#[derive(Default)]
struct Work {
    acts: QuantizedActs,
    kb: Vec<f32>, // [CHUNK][hd] the block's key rows
    ks: Vec<f32>, // [CHUNK][hd] S₀ k per new row
    qs: Vec<f32>, // [CHUNK][hd] S₀ q per new row
    kk: Vec<f32>, // [CHUNK][CHUNK] k_new · k_j
    qk: Vec<f32>, // [CHUNK][CHUNK] q_new · k_j
    cg: Vec<f32>, // [CHUNK] e^{G_C−G_j}
    acc: Vec<f32>,
}

/// The chunked gated delta rule for one value head: `s` ([hd][hd], row j
/// for value dim j) is the state at the start of the block holding
/// position `pos0`, `pend` that block's rows before `pos0` (`pos0 % CHUNK`
/// of them); the rows of `x` are positions `pos0..`. Writes `out`
/// ([rows][hd]) and leaves `s` and `pend` as they are after the last row.
pub(crate) fn chunked(
    s: &mut [f32],
    pend: Pending<'_>,
    hd: usize,
    pos0: usize,
    x: &HeadRows<'_>,
    out: &mut [f32],
) {
    let Pending {
        k: pk,
        u: pu,
        g: pg,
    } = pend;
    let scale = 1.0 / (hd as f32).sqrt();
    let n = x.len();
    let mut w = Work::default();
    w.kb.resize(CHUNK * hd, 0.0);
    w.ks.resize(CHUNK * hd, 0.0);
    w.qs.resize(CHUNK * hd, 0.0);
    w.kk.resize(CHUNK * CHUNK, 0.0);
    w.qk.resize(CHUNK * CHUNK, 0.0);
    w.acc.resize(hd, 0.0);
    w.cg.resize(CHUNK, 0.0);
    let mut js = pos0 % CHUNK; // block rows before this segment
    w.kb[..js * hd].copy_from_slice(&pk[..js * hd]);
    let mut r0 = 0;
    while r0 < n {
        let m = (CHUNK - js).min(n - r0);
        let (kn, qn) = (&x.k[r0 * hd..(r0 + m) * hd], &x.q[r0 * hd..(r0 + m) * hd]);
        w.kb[js * hd..(js + m) * hd].copy_from_slice(kn);
        let nb = js + m; // block rows so far
                         // S₀k and S₀q of the new rows; their products with the block's keys
        w.acts.quantize(GgmlType::F32, kn, m, hd);
        mm(&w.acts, s, hd, hd, &mut w.ks);
        mm(&w.acts, &w.kb, nb, hd, &mut w.kk);
        w.acts.quantize(GgmlType::F32, qn, m, hd);
        mm(&w.acts, s, hd, hd, &mut w.qs);
        mm(&w.acts, &w.kb, nb, hd, &mut w.qk);
        for r in 0..m {
            let jt = js + r;
            let t = r0 + r;
            let gt = if jt == 0 { 0.0 } else { pg[jt - 1] } + x.g[t];
            pg[jt] = gt;
            let decay = gt.exp();
            // u_t, by forward substitution over the block's earlier rows
            let v = &x.v[t * hd..(t + 1) * hd];
            let ks = &w.ks[r * hd..(r + 1) * hd];
            for ((a, &vi), &si) in w.acc.iter_mut().zip(v).zip(ks) {
                *a = vi - decay * si;
            }
            for j in 0..jt {
                let c = (gt - pg[j]).exp() * w.kk[r * nb + j];
                for (a, &uj) in w.acc.iter_mut().zip(&pu[j * hd..(j + 1) * hd]) {
                    *a -= c * uj;
                }
            }
            let b = x.beta[t];
            for (u, &a) in pu[jt * hd..(jt + 1) * hd].iter_mut().zip(&w.acc) {
                *u = b * a;
            }
            // o_t
            let qs = &w.qs[r * hd..(r + 1) * hd];
            for (a, &si) in w.acc.iter_mut().zip(qs) {
                *a = decay * si;
            }
            for j in 0..=jt {
                let c = (gt - pg[j]).exp() * w.qk[r * nb + j];
                for (a, &uj) in w.acc.iter_mut().zip(&pu[j * hd..(j + 1) * hd]) {
                    *a += c * uj;
                }
            }
            for (o, &a) in out[t * hd..(t + 1) * hd].iter_mut().zip(&w.acc) {
                *o = a * scale;
            }
        }
        if nb == CHUNK {
            // the block is whole: S ← e^{G_C} S₀ + Σ_j e^{G_C−G_j} u_j k_jᵀ,
            // a product of [hd][CHUNK] by [CHUNK][hd] accumulated as rank-1
            // updates row by row (each state row stays in L1 while its
            // CHUNK updates run; F32 dot products of length CHUNK would be
            // dominated by their call overhead)
            let gl = pg[CHUNK - 1];
            let decay = gl.exp();
            for (c, &gj) in w.cg.iter_mut().zip(pg.iter()) {
                *c = (gl - gj).exp();
            }
            for (vi, row) in s.chunks_exact_mut(hd).enumerate() {
                row.iter_mut().for_each(|x| *x *= decay);
                for (j, kj) in w.kb.chunks_exact(hd).enumerate() {
                    let c = w.cg[j] * pu[j * hd + vi];
                    for (x, &k) in row.iter_mut().zip(kj) {
                        *x += c * k;
                    }
                }
            }
            js = 0;
        } else {
            js = nb;
        }
        r0 += m;
    }
}

/// The gated delta rule token by token (the oracle): `s` ([hd][hd], row j
/// for value dim j) advanced over the rows of `x`, output row j =
/// (S q)_j / √hd. Order as ggml-cpu's `gated_delta_net`.
pub(crate) fn per_token(s: &mut [f32], hd: usize, x: &HeadRows<'_>, out: &mut [f32]) {
    let scale = 1.0 / (hd as f32).sqrt();
    let mut delta = vec![0.0f32; hd];
    for t in 0..x.len() {
        let row = t * hd..(t + 1) * hd;
        let (q, k, v) = (&x.q[row.clone()], &x.k[row.clone()], &x.v[row.clone()]);
        let decay = x.g[t].exp();
        s.iter_mut().for_each(|x| *x *= decay);
        let b = x.beta[t];
        for (j, dj) in delta.iter_mut().enumerate() {
            *dj = (v[j] - dot(&s[j * hd..(j + 1) * hd], k)) * b;
        }
        for (j, &dj) in delta.iter().enumerate() {
            for (x, &ki) in s[j * hd..(j + 1) * hd].iter_mut().zip(k) {
                *x += ki * dj;
            }
        }
        for (j, oj) in out[row].iter_mut().enumerate() {
            *oj = dot(&s[j * hd..(j + 1) * hd], q) * scale;
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    // eight lanes, as a SIMD dot product sums
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ar.iter().zip(br) {
        s += x * y;
    }
    s
}

/// The state the pending rows stand for: `s` (the block's start) advanced
/// over the `n` rows of `pend` — what [`per_token`] holds at that point.
/// For tests and comparisons; the model never needs it.
#[cfg(test)]
pub(crate) fn current_state(s: &[f32], pend: &Pending<'_>, hd: usize, n: usize) -> Vec<f32> {
    let mut out = s.to_vec();
    if n == 0 {
        return out;
    }
    let gl = pend.g[n - 1];
    let decay = gl.exp();
    out.iter_mut().for_each(|x| *x *= decay);
    for j in 0..n {
        let c = (gl - pend.g[j]).exp();
        for vi in 0..hd {
            let u = c * pend.u[j * hd + vi];
            for ki in 0..hd {
                out[vi * hd + ki] += u * pend.k[j * hd + ki];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1).
    pub(super) struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// One head's inputs as the layer makes them: q, k L2-normed, g a
    /// log-decay in (−3, 0) (softplus(·)·(−exp(A))), β in (0, 1).
    pub(super) struct Inputs {
        q: Vec<f32>,
        k: Vec<f32>,
        v: Vec<f32>,
        g: Vec<f32>,
        beta: Vec<f32>,
    }

    pub(super) fn inputs(seed: u64, n: usize, hd: usize) -> Inputs {
        let mut r = Lcg(seed);
        let mut unit = |n: usize| -> Vec<f32> {
            let mut x: Vec<f32> = (0..n * hd).map(|_| r.next()).collect();
            for row in x.chunks_mut(hd) {
                let s = row.iter().map(|v| v * v).sum::<f32>().sqrt();
                row.iter_mut().for_each(|v| *v /= s);
            }
            x
        };
        let (q, k) = (unit(n), unit(n));
        let v = (0..n * hd).map(|_| 2.0 * r.next()).collect();
        let g = (0..n).map(|_| -1.5 * (r.next() + 1.0)).collect();
        let beta = (0..n).map(|_| 0.5 * (r.next() + 1.0)).collect();
        Inputs { q, k, v, g, beta }
    }

    impl Inputs {
        pub(super) fn rows(&self, a: usize, b: usize, hd: usize) -> HeadRows<'_> {
            HeadRows {
                q: &self.q[a * hd..b * hd],
                k: &self.k[a * hd..b * hd],
                v: &self.v[a * hd..b * hd],
                g: &self.g[a..b],
                beta: &self.beta[a..b],
            }
        }
    }

    /// A head's chunked state as a sequence keeps it (`hybrid.rs`).
    pub(super) struct Chunked {
        s: Vec<f32>,
        pk: Vec<f32>,
        pu: Vec<f32>,
        pg: Vec<f32>,
        pos: usize,
    }

    impl Chunked {
        pub(super) fn new(hd: usize) -> Chunked {
            Chunked {
                s: vec![0.0; hd * hd],
                pk: vec![0.0; CHUNK * hd],
                pu: vec![0.0; CHUNK * hd],
                pg: vec![0.0; CHUNK],
                pos: 0,
            }
        }

        /// Rows `a..b` of `x` (the next positions), their outputs into `out`.
        pub(super) fn run(&mut self, x: &Inputs, a: usize, b: usize, hd: usize, out: &mut [f32]) {
            assert_eq!(a, self.pos);
            let pend = Pending {
                k: &self.pk,
                u: &mut self.pu,
                g: &mut self.pg,
            };
            chunked(
                &mut self.s,
                pend,
                hd,
                a,
                &x.rows(a, b, hd),
                &mut out[a * hd..b * hd],
            );
            // the caller keeps the unfinished block's key rows (`delta_net`)
            for pos in a.max(b - b % CHUNK)..b {
                let j = pos % CHUNK;
                self.pk[j * hd..(j + 1) * hd].copy_from_slice(&x.k[pos * hd..(pos + 1) * hd]);
            }
            self.pos = b;
        }

        fn state(&self, hd: usize) -> Vec<f32> {
            let pend = Pending {
                k: &self.pk,
                u: &mut self.pu.clone(),
                g: &mut self.pg.clone(),
            };
            current_state(&self.s, &pend, hd, self.pos % CHUNK)
        }
    }

    fn max_diff(a: &[f32], b: &[f32]) -> (f32, f32) {
        let d = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        let m = b.iter().map(|x| x.abs()).fold(0.0, f32::max);
        (d, m)
    }

    /// The tolerance of the chunked form against the per-token one: over
    /// 100 positions (three whole blocks and a partial one) of heads of 64
    /// and 128, outputs and states differ by at most 2e-5 of their largest
    /// magnitude (f32 rounding of a different summation order; measured
    /// worst 2.4e-6 relative, most 3e-7). A form that drops the decay, the β or a
    /// block's state update is off by O(1).
    pub(crate) const TOLERANCE: f32 = 2e-5;

    #[test]
    fn delta_rule_chunked_matches_per_token() {
        for (seed, hd, n) in [(1, 64, 100), (2, 128, 70), (3, 64, CHUNK)] {
            let x = inputs(seed, n, hd);
            let mut want = vec![0.0; n * hd];
            let mut s_ref = vec![0.0; hd * hd];
            // the per-token state at a few points, the chunked form stopped there
            for stop in [1, CHUNK - 1, CHUNK, n] {
                let stop = stop.min(n);
                s_ref.fill(0.0);
                per_token(&mut s_ref, hd, &x.rows(0, stop, hd), &mut want[..stop * hd]);
                let mut c = Chunked::new(hd);
                let mut got = vec![0.0; n * hd];
                c.run(&x, 0, stop, hd, &mut got);
                let (d, m) = max_diff(&got[..stop * hd], &want[..stop * hd]);
                assert!(
                    d <= TOLERANCE * m,
                    "hd {hd}, {stop} rows: outputs differ by {d:e} (largest {m})"
                );
                let (d, m) = max_diff(&c.state(hd), &s_ref);
                assert!(
                    d <= TOLERANCE * m,
                    "hd {hd}, {stop} rows: states differ by {d:e} (largest {m})"
                );
                assert!(m > 0.1, "a state worth comparing");
            }
        }
    }

    /// However a sequence's rows are split into calls (a prompt in chunks,
    /// decode steps one row at a time), the chunked form gives the same bits.
    #[test]
    fn delta_rule_chunked_does_not_depend_on_calls() {
        let (hd, n) = (64, 110);
        let x = inputs(7, n, hd);
        let mut whole = Chunked::new(hd);
        let mut want = vec![0.0; n * hd];
        whole.run(&x, 0, n, hd, &mut want);
        for cuts in [
            vec![1, 2, 3, 40, 41, 64, 65, 100],
            vec![31, 32, 33, 63, 96, 97],
            (1..n).collect(),
        ] {
            let mut c = Chunked::new(hd);
            let mut got = vec![0.0; n * hd];
            let mut a = 0;
            for b in cuts.into_iter().chain([n]) {
                c.run(&x, a, b, hd, &mut got);
                a = b;
            }
            assert!(got == want, "outputs");
            assert!(
                c.s == whole.s && c.pu == whole.pu && c.pg == whole.pg,
                "state"
            );
        }
    }
}

#[cfg(test)]
mod cost {
    use super::tests::*;
    use super::*;

    /// Both forms on one Qwen3.5-4B-shaped head (d = 128) over a 512-token
    /// prompt, for instruction counts by hand:
    /// `valgrind --tool=callgrind <model lib test binary> --ignored
    /// delta_rule_cost_probe` then `callgrind_annotate --inclusive=yes`
    /// (`delta::chunked` against `delta::per_token`).
    #[test]
    #[ignore = "an instruction-count probe, run under callgrind by hand"]
    fn delta_rule_cost_probe() {
        let (hd, n) = (128, 512);
        let x = inputs(5, n, hd);
        let mut out = vec![0.0; n * hd];
        let mut s = vec![0.0; hd * hd];
        per_token(&mut s, hd, &x.rows(0, n, hd), &mut out);
        let mut c = Chunked::new(hd);
        c.run(&x, 0, n, hd, &mut out);
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
