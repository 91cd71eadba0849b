//! Causal self-attention over the KV cache, fused: scores, softmax and the
//! weighted sum of values in one pass per (row, head) with a running maximum
//! (online softmax), so no score matrix is materialised. Grouped-query heads
//! read their shared K/V head in place.

use crate::session::Group;
use kernels::{f16, ThreadPool};

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

pub(crate) struct AttnShape<'a> {
    pub n_head: usize,
    pub n_head_kv: usize,
    pub head_dim: usize,
    pub scale: f32,
    /// Keys further back than this many positions are masked (sliding window).
    pub window: Option<usize>,
    /// A sink logit per head joining each softmax (gpt-oss), if any.
    pub sinks: Option<&'a [f32]>,
}

/// Where attention finds a sequence's cached keys and values for one layer:
/// ([positions][n_head_kv*head_dim], same) for sequence `seq`.
pub(crate) trait KvView: Sync {
    fn kv(&self, seq: usize) -> (&[f16], &[f16]);
}

/// One sequence's cache, for the single-sequence case and tests.
#[cfg(test)]
pub(crate) struct OneKv<'a> {
    pub k: &'a [f16],
    pub v: &'a [f16],
}

#[cfg(test)]
impl KvView for OneKv<'_> {
    fn kv(&self, _seq: usize) -> (&[f16], &[f16]) {
        (self.k, self.v)
    }
}

/// `out[t][h]` = softmax_j(q[t][h] · k[j][g] * scale) · v[j][g] over the cached
/// positions j ≤ pos(t) (and within the window) of row t's own sequence, where
/// g = h / (n_head/n_head_kv). One task per (row, head) across all groups.
///
/// q, out: [rows][n_head*head_dim].
pub(crate) fn attend_groups(
    pool: &ThreadPool,
    s: &AttnShape<'_>,
    q: &[f32],
    groups: &[Group],
    kv: &dyn KvView,
    out: &mut [f32],
) {
    let hd = s.head_dim;
    let q_dim = s.n_head * hd;
    let kv_dim = s.n_head_kv * hd;
    let group = s.n_head / s.n_head_kv;
    let rows: usize = groups.iter().map(|g| g.rows).sum();
    assert!(q.len() >= rows * q_dim && out.len() >= rows * q_dim);
    for g in groups {
        let (k, v) = kv.kv(g.seq);
        assert!(k.len() >= (g.pos0 + g.rows) * kv_dim && v.len() >= (g.pos0 + g.rows) * kv_dim);
        assert!(g.row0 + g.rows <= rows);
    }
    // Tasks: (block of up to RB consecutive rows of one group, head). A block
    // shares its key/value loads; each row's result is the same as alone.
    const RB: usize = kernels::ATTN_MAX_ROWS;
    let blocks: usize = groups.iter().map(|g| g.rows.div_ceil(RB)).sum();
    if let Some(sk) = s.sinks {
        assert_eq!(sk.len(), s.n_head, "one sink per head");
    }
    let out_ptr = SharedMut(out.as_mut_ptr());
    pool.run(blocks * s.n_head, |task| {
        let (mut b, h) = (task / s.n_head, task % s.n_head);
        // The group holding this block (few groups: a linear scan is cheapest).
        let g = groups
            .iter()
            .find(|g| {
                let nb = g.rows.div_ceil(RB);
                if b < nb {
                    true
                } else {
                    b -= nb;
                    false
                }
            })
            .expect("blocks are covered by groups");
        let (k_cache, v_cache) = kv.kv(g.seq);
        let kvh = h / group;
        let head = kernels::KvHead {
            k: k_cache,
            v: v_cache,
            stride: kv_dim,
            off: kvh * hd,
        };
        let row0 = g.row0 + b * RB;
        let nr = (g.rows - b * RB).min(RB);
        let pos0 = g.pos0 + b * RB;
        let lo = |pos: usize| match s.window {
            Some(w) => (pos + 1).saturating_sub(w),
            None => 0,
        };
        let sink = s.sinks.map_or(f32::NEG_INFINITY, |sk| sk[h]);
        let qh = |r: usize| &q[r * q_dim + h * hd..r * q_dim + (h + 1) * hd];
        // SAFETY: task (block, h) is the only writer of out[r*q_dim + h*hd ..][..hd]
        // for its rows r; the ranges are in bounds (asserted above), disjoint,
        // and `out` outlives `run`.
        let acc = |r: usize| unsafe {
            std::slice::from_raw_parts_mut(out_ptr.get().add(r * q_dim + h * hd), hd)
        };
        if lo(pos0) == lo(pos0 + nr - 1) {
            let qs: [&[f32]; RB] = std::array::from_fn(|i| qh(row0 + i.min(nr - 1)));
            let mut outs: [&mut [f32]; RB] =
                std::array::from_fn(|i| if i < nr { acc(row0 + i) } else { &mut [][..] });
            kernels::attend_rows_sink(
                &qs[..nr],
                head,
                lo(pos0),
                pos0,
                s.scale,
                sink,
                &mut outs[..nr],
            );
        } else {
            for i in 0..nr {
                kernels::attend_row_sink(
                    qh(row0 + i),
                    head,
                    lo(pos0 + i),
                    pos0 + i,
                    s.scale,
                    sink,
                    acc(row0 + i),
                );
            }
        }
    });
}

/// Single-sequence form of [`attend_groups`]: rows are positions pos0.. of one cache.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn attend(
    pool: &ThreadPool,
    s: &AttnShape<'_>,
    q: &[f32],
    k_cache: &[f16],
    v_cache: &[f16],
    pos0: usize,
    rows: usize,
    out: &mut [f32],
) {
    let groups = [Group {
        seq: 0,
        row0: 0,
        rows,
        pos0,
        logit_rows: 0,
    }];
    attend_groups(
        pool,
        s,
        q,
        &groups,
        &OneKv {
            k: k_cache,
            v: v_cache,
        },
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain softmax attention, the oracle for the fused one.
    fn naive(s: &AttnShape, q: &[f32], k: &[f16], v: &[f16], pos0: usize, rows: usize) -> Vec<f32> {
        let hd = s.head_dim;
        let (qd, kvd) = (s.n_head * hd, s.n_head_kv * hd);
        let mut out = vec![0.0; rows * qd];
        for t in 0..rows {
            for h in 0..s.n_head {
                let g = h / (s.n_head / s.n_head_kv);
                let pos = pos0 + t;
                let lo = s.window.map(|w| (pos + 1).saturating_sub(w)).unwrap_or(0);
                let scores: Vec<f32> = (lo..=pos)
                    .map(|j| {
                        (0..hd)
                            .map(|d| q[t * qd + h * hd + d] * k[j * kvd + g * hd + d].to_f32())
                            .sum::<f32>()
                            * s.scale
                    })
                    .collect();
                let sink = s.sinks.map_or(f32::NEG_INFINITY, |sk| sk[h]);
                let m = scores.iter().cloned().fold(sink, f32::max);
                let e: Vec<f32> = scores.iter().map(|x| (x - m).exp()).collect();
                let z: f32 = e.iter().sum::<f32>() + (sink - m).exp();
                for (i, j) in (lo..=pos).enumerate() {
                    for d in 0..hd {
                        out[t * qd + h * hd + d] += e[i] / z * v[j * kvd + g * hd + d].to_f32();
                    }
                }
            }
        }
        out
    }

    #[test]
    fn fused_matches_naive_with_gqa_window_and_sinks() {
        let pool = ThreadPool::new(2);
        let mut seed = 1u32;
        let mut rnd = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0
        };
        let sinks = [2.5f32, -1.0, 0.3, 9.0];
        for (window, sinks) in [
            (None, None),
            (Some(3), None),
            (None, Some(&sinks[..])),
            (Some(3), Some(&sinks[..])),
        ] {
            let s = AttnShape {
                n_head: 4,
                n_head_kv: 2,
                head_dim: 8,
                scale: 0.35,
                window,
                sinks,
            };
            let (pos0, rows) = (5, 4);
            let q: Vec<f32> = (0..rows * 32).map(|_| rnd() * 3.0).collect();
            let k: Vec<f16> = (0..(pos0 + rows) * 16)
                .map(|_| f16::from_f32(rnd() * 3.0))
                .collect();
            let v: Vec<f16> = (0..(pos0 + rows) * 16)
                .map(|_| f16::from_f32(rnd()))
                .collect();
            let mut out = vec![0.0; rows * 32];
            attend(&pool, &s, &q, &k, &v, pos0, rows, &mut out);
            let want = naive(&s, &q, &k, &v, pos0, rows);
            for (a, b) in out.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }
}
