//! Fused causal attention of one (query row, head) over an f16 KV cache:
//! scores of a tile of keys, online softmax (one rescale per tile), weighted
//! sum of values, without materialising more than a tile of scores.
//!
//! [`attend_row`] dispatches to the AVX2 kernel (`avx2::attn`) where available
//! and to the scalar reference otherwise. The two round differently (the AVX2
//! dot products keep 8 lanes and use FMA), so they agree to float tolerance,
//! not bit for bit; a given build and CPU always takes the same path for every
//! row, so a row's result never depends on the batch around it.

use half::f16;

/// Keys per tile: scores of a tile first, then one rescale of the running
/// sum and accumulator per tile.
pub(crate) const TILE: usize = 32;

/// One KV head's keys and values in an f16 cache: position `j`'s key is
/// `k[j * stride + off..]` (head-size elements), its value the same part of
/// `v`.
#[derive(Clone, Copy, Debug)]
pub struct KvHead<'a> {
    pub k: &'a [f16],
    pub v: &'a [f16],
    /// Elements per position (all heads).
    pub stride: usize,
    /// This head's first element within a position.
    pub off: usize,
}

/// Checks shared by both paths.
fn check(q: &[f32], kv: &KvHead<'_>, lo: usize, pos: usize, out: &[f32]) {
    let hd = q.len();
    assert_eq!(out.len(), hd, "attention: output length");
    assert!(kv.off + hd <= kv.stride, "attention: head outside the row");
    assert!(lo <= pos, "attention: empty key range");
    let need = pos * kv.stride + kv.off + hd;
    assert!(
        kv.k.len() >= need && kv.v.len() >= need,
        "attention: cache shorter than the positions"
    );
}

/// `out = Σ_j softmax_j(q · k_j * scale) v_j` over key positions `lo..=pos` of
/// `kv` (`k_j`, `v_j`: position `j`'s key and value, `q.len()` elements).
pub fn attend_row(q: &[f32], kv: KvHead<'_>, lo: usize, pos: usize, scale: f32, out: &mut [f32]) {
    attend_row_sink(q, kv, lo, pos, scale, f32::NEG_INFINITY, out)
}

/// [`attend_row`] with an attention sink: a logit `sink` that joins the
/// softmax without a value (gpt-oss; llama.cpp `ggml_soft_max_ext`'s
/// sinks), so the weights of the keys sum to less than 1. `NEG_INFINITY`:
/// none (exactly [`attend_row`]). The softmax starts from the sink (running
/// maximum `sink`, sum 1) and goes on as without one.
pub fn attend_row_sink(
    q: &[f32],
    kv: KvHead<'_>,
    lo: usize,
    pos: usize,
    scale: f32,
    sink: f32,
    out: &mut [f32],
) {
    check(q, &kv, lo, pos, out);
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() && q.len().is_multiple_of(8) {
            // SAFETY: avx2, fma and f16c were detected at runtime (`use_avx2`);
            // lengths and ranges checked above; the head size is a multiple of 8.
            unsafe { crate::avx2::attn::attend_rows::<1>([q], kv, lo, pos, scale, sink, [out]) };
            return;
        }
    }
    attend_row_scalar_sink(q, kv, lo, pos, scale, sink, out);
}

/// Most query rows [`attend_rows`] takes at once.
pub const MAX_ROWS: usize = 8;

/// [`attend_row`] for query rows `q` of one head at consecutive positions
/// `pos0..pos0 + q.len()` (output `out[r]` for `q[r]`), all from key `lo`,
/// sharing each key and value load (prefill). Every row's result is bit-identical
/// to its own [`attend_row`] call. At most [`MAX_ROWS`] rows.
pub fn attend_rows(
    q: &[&[f32]],
    kv: KvHead<'_>,
    lo: usize,
    pos0: usize,
    scale: f32,
    out: &mut [&mut [f32]],
) {
    attend_rows_sink(q, kv, lo, pos0, scale, f32::NEG_INFINITY, out)
}

/// [`attend_rows`] with an attention sink (see [`attend_row_sink`]); every
/// row's result is bit-identical to its own [`attend_row_sink`] call.
pub fn attend_rows_sink(
    q: &[&[f32]],
    kv: KvHead<'_>,
    lo: usize,
    pos0: usize,
    scale: f32,
    sink: f32,
    out: &mut [&mut [f32]],
) {
    assert!(
        q.len() == out.len() && q.len() <= MAX_ROWS,
        "attention: 1 to {MAX_ROWS} rows"
    );
    for (r, (q, o)) in q.iter().zip(out.iter()).enumerate() {
        check(q, &kv, lo, pos0 + r, o);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::use_avx2() && q.iter().all(|x| x.len() % 8 == 0 && x.len() == q[0].len()) {
            use crate::avx2::attn::{attend_rows as ar, attend_rows_512 as ar8};
            let wide = crate::simd::level().has_avx512();
            // SAFETY: avx2, fma and f16c were detected at runtime (`use_avx2`),
            // AVX-512 F/VL where `wide`; lengths and ranges checked above;
            // head sizes equal, multiples of 8.
            unsafe {
                macro_rules! go {
                    ($f:ident, $n:literal, $p:expr, $q:expr, $o:expr) => {{
                        let qs: [&[f32]; $n] = std::array::from_fn(|i| $q[i]);
                        let mut it = $o.iter_mut();
                        let os: [&mut [f32]; $n] =
                            std::array::from_fn(|_| &mut **it.next().unwrap());
                        $f::<$n>(qs, kv, lo, $p, scale, sink, os)
                    }};
                }
                if wide {
                    match q.len() {
                        1 => go!(ar8, 1, pos0, q, out),
                        2 => go!(ar8, 2, pos0, q, out),
                        3 => go!(ar8, 3, pos0, q, out),
                        4 => go!(ar8, 4, pos0, q, out),
                        5 => go!(ar8, 5, pos0, q, out),
                        6 => go!(ar8, 6, pos0, q, out),
                        7 => go!(ar8, 7, pos0, q, out),
                        _ => go!(ar8, 8, pos0, q, out),
                    }
                } else {
                    // at most 4 rows a call (16 registers): each row's result
                    // is its own whatever the rows beside it
                    let mut r0 = 0;
                    for (qc, oc) in q.chunks(4).zip(out.chunks_mut(4)) {
                        let p = pos0 + r0;
                        match qc.len() {
                            1 => go!(ar, 1, p, qc, oc),
                            2 => go!(ar, 2, p, qc, oc),
                            3 => go!(ar, 3, p, qc, oc),
                            _ => go!(ar, 4, p, qc, oc),
                        }
                        r0 += qc.len();
                    }
                }
            }
            return;
        }
    }
    for (r, (q, o)) in q.iter().zip(out.iter_mut()).enumerate() {
        attend_row_scalar_sink(q, kv, lo, pos0 + r, scale, sink, o);
    }
}

/// The scalar reference of [`attend_row`].
pub fn attend_row_scalar(
    q: &[f32],
    kv: KvHead<'_>,
    lo: usize,
    pos: usize,
    scale: f32,
    out: &mut [f32],
) {
    attend_row_scalar_sink(q, kv, lo, pos, scale, f32::NEG_INFINITY, out)
}

/// The scalar reference of [`attend_row_sink`].
pub fn attend_row_scalar_sink(
    q: &[f32],
    kv: KvHead<'_>,
    lo: usize,
    pos: usize,
    scale: f32,
    sink: f32,
    out: &mut [f32],
) {
    check(q, &kv, lo, pos, out);
    let KvHead { k, v, stride, off } = kv;
    let hd = q.len();
    out.fill(0.0);
    // the softmax starts from the sink (exp(sink - sink) = 1), if any
    let mut max = sink;
    let mut sum = if sink == f32::NEG_INFINITY {
        0.0f32
    } else {
        1.0
    };
    let mut scores = [0.0f32; TILE];
    let mut j0 = lo;
    while j0 <= pos {
        let j1 = (j0 + TILE).min(pos + 1);
        let mut tile_max = f32::NEG_INFINITY;
        for (i, j) in (j0..j1).enumerate() {
            let sc = dot(q, &k[j * stride + off..j * stride + off + hd]) * scale;
            scores[i] = sc;
            tile_max = tile_max.max(sc);
        }
        if tile_max > max {
            let corr = crate::exp_ggml(max - tile_max);
            sum *= corr;
            out.iter_mut().for_each(|a| *a *= corr);
            max = tile_max;
        }
        for (i, j) in (j0..j1).enumerate() {
            let p = crate::exp_ggml(scores[i] - max);
            sum += p;
            for (a, x) in out
                .iter_mut()
                .zip(&v[j * stride + off..j * stride + off + hd])
            {
                *a += p * x.to_f32();
            }
        }
        j0 = j1;
    }
    let inv = 1.0 / sum;
    out.iter_mut().for_each(|a| *a *= inv);
}

#[inline]
fn dot(a: &[f32], b: &[f16]) -> f32 {
    // Eight partial sums so the compiler can vectorise the reduction.
    let mut s = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            s[i] += x[i] * y[i].to_f32();
        }
    }
    let mut t: f32 = s.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        t += x * y.to_f32();
    }
    t
}
