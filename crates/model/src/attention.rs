//! Causal self-attention over the KV cache, fused: scores, softmax and the
//! weighted sum of values in one pass per (row, head) with a running maximum
//! (online softmax), so no score matrix is materialised. Grouped-query heads
//! read their shared K/V head in place.

use kernels::ThreadPool;

/// A raw pointer that may be shared across the pool's threads. Each task
/// writes a disjoint range of the buffer it points to.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);
// SAFETY: only used to hand disjoint sub-slices of one buffer to tasks of a
// single `ThreadPool::run`, which returns only after every task has finished,
// so no two threads touch the same element and the borrow outlives the tasks.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    #[inline]
    pub fn get(self) -> *mut f32 {
        self.0
    }
}

pub(crate) struct AttnShape {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// Keys further back than this many positions are masked (sliding window).
    pub window: Option<usize>,
}

/// `out[t][h]` = softmax_j(q[t][h] · k[j][g] * scale) · v[j][g] over cached
/// positions j ≤ pos0 + t (and within the window), where g = h / (n_head/n_head_kv).
///
/// q, out: [rows][n_head*head_dim]; k_cache, v_cache: [positions][n_head_kv*head_dim].
pub(crate) fn attend(
    pool: &ThreadPool,
    s: &AttnShape,
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    pos0: usize,
    rows: usize,
    out: &mut [f32],
) {
    let hd = s.head_dim;
    let q_dim = s.n_head * hd;
    let kv_dim = s.n_head_kv * hd;
    let group = s.n_head / s.n_head_kv;
    assert!(q.len() >= rows * q_dim && out.len() >= rows * q_dim);
    assert!(k_cache.len() >= (pos0 + rows) * kv_dim && v_cache.len() >= (pos0 + rows) * kv_dim);
    let out_ptr = SharedMut(out.as_mut_ptr());
    pool.run(rows * s.n_head, |task| {
        let t = task / s.n_head;
        let h = task % s.n_head;
        let g = h / group;
        let pos = pos0 + t;
        let lo = match s.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        };
        let qh = &q[t * q_dim + h * hd..t * q_dim + (h + 1) * hd];
        // SAFETY: task (t, h) is the only writer of out[t*q_dim + h*hd ..][..hd];
        // the range is in bounds (asserted above) and `out` outlives `run`.
        let acc = unsafe { std::slice::from_raw_parts_mut(out_ptr.get().add(t * q_dim + h * hd), hd) };
        acc.fill(0.0);
        let mut max = f32::NEG_INFINITY;
        let mut sum = 0.0f32;
        for j in lo..=pos {
            let kj = &k_cache[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
            let score = dot(qh, kj) * s.scale;
            let vj = &v_cache[j * kv_dim + g * hd..j * kv_dim + (g + 1) * hd];
            if score > max {
                let corr = (max - score).exp();
                sum = sum * corr + 1.0;
                for (a, &v) in acc.iter_mut().zip(vj) {
                    *a = *a * corr + v;
                }
                max = score;
            } else {
                let p = (score - max).exp();
                sum += p;
                for (a, &v) in acc.iter_mut().zip(vj) {
                    *a += p * v;
                }
            }
        }
        let inv = 1.0 / sum;
        for a in acc.iter_mut() {
            *a *= inv;
        }
    });
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums so the compiler can vectorise the reduction.
    let mut s = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            s[i] += x[i] * y[i];
        }
    }
    let mut t: f32 = s.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        t += x * y;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain softmax attention, the oracle for the fused one.
    fn naive(s: &AttnShape, q: &[f32], k: &[f32], v: &[f32], pos0: usize, rows: usize) -> Vec<f32> {
        let hd = s.head_dim;
        let (qd, kvd) = (s.n_head * hd, s.n_head_kv * hd);
        let mut out = vec![0.0; rows * qd];
        for t in 0..rows {
            for h in 0..s.n_head {
                let g = h / (s.n_head / s.n_head_kv);
                let pos = pos0 + t;
                let lo = s.window.map(|w| (pos + 1).saturating_sub(w)).unwrap_or(0);
                let scores: Vec<f32> = (lo..=pos)
                    .map(|j| (0..hd).map(|d| q[t * qd + h * hd + d] * k[j * kvd + g * hd + d]).sum::<f32>() * s.scale)
                    .collect();
                let m = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = scores.iter().map(|x| (x - m).exp()).collect();
                let z: f32 = e.iter().sum();
                for (i, j) in (lo..=pos).enumerate() {
                    for d in 0..hd {
                        out[t * qd + h * hd + d] += e[i] / z * v[j * kvd + g * hd + d];
                    }
                }
            }
        }
        out
    }

    #[test]
    fn fused_matches_naive_with_gqa_and_window() {
        let pool = ThreadPool::new(2);
        let mut seed = 1u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0
        };
        for window in [None, Some(3)] {
            let s = AttnShape { n_head: 4, n_head_kv: 2, head_dim: 8, scale: 0.35, window };
            let (pos0, rows) = (5, 4);
            let q: Vec<f32> = (0..rows * 32).map(|_| rnd() * 3.0).collect();
            let k: Vec<f32> = (0..(pos0 + rows) * 16).map(|_| rnd() * 3.0).collect();
            let v: Vec<f32> = (0..(pos0 + rows) * 16).map(|_| rnd()).collect();
            let mut out = vec![0.0; rows * 32];
            attend(&pool, &s, &q, &k, &v, pos0, rows, &mut out);
            let want = naive(&s, &q, &k, &v, pos0, rows);
            for (a, b) in out.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }
}
