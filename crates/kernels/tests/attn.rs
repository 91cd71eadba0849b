//! Attention of one (row, head): dispatched kernel (AVX2 where available) vs
//! the scalar reference vs a plain f64 softmax.

mod common;

use common::Rng;
use kernels::{attend_row, attend_row_scalar, f16, KvHead};

fn naive(q: &[f32], kv: KvHead<'_>, lo: usize, pos: usize, scale: f32) -> Vec<f64> {
    let KvHead { k, v, stride, off } = kv;
    let hd = q.len();
    let s: Vec<f64> = (lo..=pos)
        .map(|j| {
            (0..hd)
                .map(|d| q[d] as f64 * k[j * stride + off + d].to_f64())
                .sum::<f64>()
                * scale as f64
        })
        .collect();
    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
    let z: f64 = e.iter().sum();
    (0..hd)
        .map(|d| {
            (lo..=pos)
                .zip(&e)
                .map(|(j, p)| p / z * v[j * stride + off + d].to_f64())
                .sum()
        })
        .collect()
}

#[test]
fn attention_kernel_matches_scalar_and_naive() {
    let mut rng = Rng::new(77);
    for hd in [8usize, 12, 64, 72, 256] {
        let n_kv = 2;
        let stride = n_kv * hd;
        for (lo, pos) in [
            (0usize, 0usize),
            (0, 3),
            (0, 31),
            (0, 32),
            (5, 70),
            (0, 130),
            (40, 41),
        ] {
            let n = (pos + 1) * stride;
            let k: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let v: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let q: Vec<f32> = (0..hd).map(|_| rng.normal() * 2.0).collect();
            let scale = 1.0 / (hd as f32).sqrt();
            for off in [0, hd] {
                let mut a = vec![0f32; hd];
                let mut b = vec![0f32; hd];
                let kv = KvHead {
                    k: &k,
                    v: &v,
                    stride,
                    off,
                };
                attend_row(&q, kv, lo, pos, scale, &mut a);
                attend_row_scalar(&q, kv, lo, pos, scale, &mut b);
                let want = naive(&q, kv, lo, pos, scale);
                for d in 0..hd {
                    assert!(
                        (a[d] - b[d]).abs() <= 1e-5 * (1.0 + b[d].abs()),
                        "hd={hd} lo={lo} pos={pos} d={d}: {} vs scalar {}",
                        a[d],
                        b[d]
                    );
                    assert!(
                        (b[d] as f64 - want[d]).abs() <= 1e-4,
                        "hd={hd} lo={lo} pos={pos} d={d}: scalar {} vs naive {}",
                        b[d],
                        want[d]
                    );
                }
            }
        }
    }
}

/// Several rows at once (up to `ATTN_MAX_ROWS`: 8 with AVX-512's registers,
/// by 4 on AVX2) give each row exactly its own one-row result.
#[test]
fn attention_rows_at_once_equal_one_row_each() {
    use kernels::{attend_rows, ATTN_MAX_ROWS as MAX};
    let mut rng = Rng::new(78);
    for hd in [8usize, 12, 24, 64, 256] {
        let stride = 3 * hd;
        for (lo, pos0) in [
            (0usize, 0usize),
            (0, 29),
            (0, 30),
            (3, 31),
            (0, 64),
            (10, 95),
            (0, 200),
        ] {
            let n = (pos0 + MAX) * stride;
            let k: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let v: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let qs: Vec<Vec<f32>> = (0..MAX)
                .map(|_| (0..hd).map(|_| rng.normal() * 2.0).collect())
                .collect();
            let scale = 0.3;
            for rows in 1..=MAX {
                for off in [0, 2 * hd] {
                    let q: Vec<&[f32]> = qs[..rows].iter().map(|x| x.as_slice()).collect();
                    let mut outs = vec![vec![0f32; hd]; rows];
                    let mut o: Vec<&mut [f32]> =
                        outs.iter_mut().map(|x| x.as_mut_slice()).collect();
                    let kv = KvHead {
                        k: &k,
                        v: &v,
                        stride,
                        off,
                    };
                    attend_rows(&q, kv, lo, pos0, scale, &mut o);
                    for r in 0..rows {
                        let mut one = vec![0f32; hd];
                        attend_row(&qs[r], kv, lo, pos0 + r, scale, &mut one);
                        for d in 0..hd {
                            assert_eq!(
                                one[d].to_bits(),
                                outs[r][d].to_bits(),
                                "hd={hd} lo={lo} pos0={pos0} rows={rows} r={r} d={d}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Attention sinks (gpt-oss): a logit per head joining the softmax without a
/// value. Dispatched vs scalar vs a plain f64 softmax with the sink as one
/// more score; several rows at once equal each row alone; no sink (-inf) is
/// exactly the plain kernel.
#[test]
fn attention_with_a_sink() {
    use kernels::{
        attend_row_scalar_sink, attend_row_sink, attend_rows_sink, ATTN_MAX_ROWS as MAX,
    };
    let mut rng = Rng::new(79);
    for hd in [8usize, 64] {
        let stride = 2 * hd;
        for (lo, pos0) in [(0usize, 0usize), (0, 5), (3, 40), (0, 70)] {
            let n = (pos0 + MAX) * stride;
            let k: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let v: Vec<f16> = (0..n).map(|_| f16::from_f32(rng.normal())).collect();
            let qs: Vec<Vec<f32>> = (0..MAX)
                .map(|_| (0..hd).map(|_| rng.normal() * 2.0).collect())
                .collect();
            let kv = KvHead {
                k: &k,
                v: &v,
                stride,
                off: hd,
            };
            let scale = 1.0 / (hd as f32).sqrt();
            for sink in [-3.0f32, 0.5, 4.0, 40.0] {
                let mut outs = vec![vec![0f32; hd]; MAX];
                {
                    let q: Vec<&[f32]> = qs.iter().map(|x| x.as_slice()).collect();
                    let mut o: Vec<&mut [f32]> =
                        outs.iter_mut().map(|x| x.as_mut_slice()).collect();
                    attend_rows_sink(&q, kv, lo, pos0, scale, sink, &mut o);
                }
                for r in 0..MAX {
                    let pos = pos0 + r;
                    let (mut a, mut b) = (vec![0f32; hd], vec![0f32; hd]);
                    attend_row_sink(&qs[r], kv, lo, pos, scale, sink, &mut a);
                    attend_row_scalar_sink(&qs[r], kv, lo, pos, scale, sink, &mut b);
                    assert_eq!(a, outs[r], "rows at once, hd={hd} pos={pos} sink={sink}");
                    // the plain softmax with the sink as one more score
                    let s: Vec<f64> = (lo..=pos)
                        .map(|j| {
                            (0..hd)
                                .map(|d| qs[r][d] as f64 * k[j * stride + hd + d].to_f64())
                                .sum::<f64>()
                                * scale as f64
                        })
                        .collect();
                    let m = s.iter().cloned().fold(sink as f64, f64::max);
                    let z = s.iter().map(|x| (x - m).exp()).sum::<f64>() + (sink as f64 - m).exp();
                    for d in 0..hd {
                        let want: f64 = (lo..=pos)
                            .zip(&s)
                            .map(|(j, x)| (x - m).exp() / z * v[j * stride + hd + d].to_f64())
                            .sum();
                        assert!((a[d] - b[d]).abs() <= 1e-5 * (1.0 + b[d].abs()));
                        assert!(
                            (b[d] as f64 - want).abs() <= 1e-4,
                            "hd={hd} pos={pos} sink={sink} d={d}: {} vs {want}",
                            b[d]
                        );
                    }
                }
            }
            // no sink: the plain kernel, bit for bit
            let (mut a, mut b) = (vec![0f32; hd], vec![0f32; hd]);
            attend_row_sink(&qs[0], kv, lo, pos0, scale, f32::NEG_INFINITY, &mut a);
            attend_row(&qs[0], kv, lo, pos0, scale, &mut b);
            assert_eq!(a, b);
        }
    }
}
