//! Level 3: dispatched (SIMD) kernels vs the scalar reference, matmul vs
//! vec_dot, batch determinism, and bad-input errors.

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{
    dequantize, dequantize_acts, matmul, matmul_reference_raw, simd_level, try_vec_dot, vec_dot,
    vec_dot_scalar_raw, vec_dot_type, GgmlType, QuantizedActs, ThreadPool,
};

fn sizes(ty: GgmlType) -> Vec<usize> {
    match ty.block_size() {
        1 => vec![
            1, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 1000, 4099,
        ],
        32 => vec![32, 64, 96, 128, 160, 256, 320, 1024, 4096 + 32],
        _ => vec![256, 512, 768, 2816, 4096],
    }
}

/// Every format's SIMD path reproduces the scalar reference's float ops exactly.
fn bit_exact(_ty: GgmlType) -> bool {
    true
}

#[test]
fn simd_matches_scalar_all_formats() {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && std::env::var("HEARTH_FORCE_SCALAR").is_err()
    {
        // "avx2", or "avx2+vnni" / "avx512" / "avx512+vnni" where the CPU
        // has them
        assert!(simd_level().starts_with("avx"), "{}", simd_level());
    }
    if let Ok(want) = std::env::var("HEARTH_EXPECT_SIMD") {
        // the level a capped or emulated run is there to test
        assert_eq!(simd_level(), want, "HEARTH_EXPECT_SIMD");
    }
    eprintln!("simd level: {}", simd_level());
    let mut rng = Rng::new(42);
    for ty in WEIGHT_TYPES {
        for k in sizes(ty) {
            for rep in 0..4 {
                let w = random_weights(&mut rng, ty, k);
                let mut x = random_acts(&mut rng, k);
                if rep == 3 {
                    // extremes: saturating activations / zero blocks
                    for (i, v) in x.iter_mut().enumerate() {
                        *v = if i % 5 == 0 {
                            0.0
                        } else if i % 2 == 0 {
                            1.0
                        } else {
                            -1.0
                        };
                    }
                }
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 1, k);
                let want = vec_dot_scalar_raw(ty, &w, acts.row(0)).unwrap();
                let got = vec_dot(ty, &w, &acts, 0);
                if bit_exact(ty) {
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{ty} k={k} rep={rep}: simd {got} scalar {want}"
                    );
                } else {
                    let mut wf = vec![0f32; k];
                    let mut af = vec![0f32; k];
                    dequantize(ty, &w, &mut wf).unwrap();
                    dequantize_acts(vec_dot_type(ty), acts.row(0), &mut af).unwrap();
                    let mag: f32 = wf.iter().zip(&af).map(|(a, b)| (a * b).abs()).sum();
                    let tol = 2e-6 * mag
                        + 1e-6
                        + if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                            1e-3 * mag
                        } else {
                            0.0
                        };
                    assert!(
                        (got - want).abs() <= tol,
                        "{ty} k={k} rep={rep}: simd {got} scalar {want} (tol {tol})"
                    );
                }
            }
        }
    }
}

#[test]
fn matmul_equals_its_scalar_reference_and_is_batch_deterministic() {
    let pool = ThreadPool::new(3);
    let mut rng = Rng::new(9);
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 512 } else { 96 };
        for n_out in [1usize, 5, 37] {
            let w: Vec<u8> = (0..n_out)
                .flat_map(|_| random_weights(&mut rng, ty, k))
                .collect();
            let x = random_acts(&mut rng, 7 * k);
            let mut acts7 = QuantizedActs::new();
            acts7.quantize(ty, &x, 7, k);
            let mut out7 = vec![0f32; 7 * n_out];
            matmul(&pool, ty, &w, n_out, k, &acts7, &mut out7).unwrap();
            let rb = w.len() / n_out;
            for r in 0..7 {
                for o in 0..n_out {
                    // the scalar reference of matmul's op order (vec_dot's, or
                    // the two-lane order of Q4_0/Q4_1/Q5_0/Q5_1 on AVX2)
                    let v =
                        matmul_reference_raw(ty, &w[o * rb..(o + 1) * rb], acts7.row(r)).unwrap();
                    assert_eq!(
                        v.to_bits(),
                        out7[r * n_out + o].to_bits(),
                        "{ty} r={r} o={o}"
                    );
                }
                let mut acts1 = QuantizedActs::new();
                acts1.quantize(ty, &x[r * k..(r + 1) * k], 1, k);
                let mut out1 = vec![0f32; n_out];
                matmul(&pool, ty, &w, n_out, k, &acts1, &mut out1).unwrap();
                for o in 0..n_out {
                    assert_eq!(
                        out1[o].to_bits(),
                        out7[r * n_out + o].to_bits(),
                        "{ty} batch determinism r={r} o={o}"
                    );
                }
            }
        }
    }
}

#[test]
fn matmul_single_thread_pool_and_large_batch() {
    let mut rng = Rng::new(11);
    let ty = GgmlType::Q4_0;
    let (k, n_out, n_rows) = (128, 70, 19);
    let w: Vec<u8> = (0..n_out)
        .flat_map(|_| random_weights(&mut rng, ty, k))
        .collect();
    let x = random_acts(&mut rng, n_rows * k);
    let mut acts = QuantizedActs::new();
    acts.quantize(ty, &x, n_rows, k);
    let mut a = vec![0f32; n_rows * n_out];
    let mut b = vec![0f32; n_rows * n_out];
    matmul(&ThreadPool::new(1), ty, &w, n_out, k, &acts, &mut a).unwrap();
    matmul(&ThreadPool::new(2), ty, &w, n_out, k, &acts, &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let pool = ThreadPool::new(2);
    let mut out = vec![0f32; 32];
    // dequantize: wrong source length, non-block multiple, unsupported type
    assert!(dequantize(GgmlType::Q4_0, &[0u8; 17], &mut out).is_err());
    assert!(dequantize(GgmlType::Q4_0, &[0u8; 18], &mut out[..31]).is_err());
    assert!(dequantize(GgmlType::Q4_K, &[0u8; 144], &mut out).is_err());
    assert!(dequantize(GgmlType::IQ2_XXS, &[0u8; 66], &mut vec![0f32; 256]).is_err());
    assert!(dequantize(GgmlType::Q8_K, &[0u8; 292], &mut vec![0f32; 256]).is_err());
    assert!(dequantize(GgmlType::Q4_0, &[0u8; 18], &mut out).is_ok());
    let e = dequantize(GgmlType::Q4_0, &[0u8; 17], &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Q4_0") && e.contains("18") && e.contains("17"),
        "{e}"
    );

    let mut acts = QuantizedActs::new();
    assert!(acts
        .try_quantize(GgmlType::Q4_K, &[0f32; 32], 1, 32)
        .is_err());
    assert!(acts
        .try_quantize(GgmlType::Q4_0, &[0f32; 31], 1, 32)
        .is_err());
    assert!(acts
        .try_quantize(GgmlType::IQ4_NL, &[0f32; 32], 1, 32)
        .is_err());
    acts.quantize(GgmlType::Q4_0, &[0.5f32; 64], 2, 32);
    // matmul: wrong weight bytes, wrong out len, wrong acts type, wrong k
    assert!(matmul(
        &pool,
        GgmlType::Q4_0,
        &[0u8; 35],
        2,
        32,
        &acts,
        &mut [0f32; 4]
    )
    .is_err());
    assert!(matmul(
        &pool,
        GgmlType::Q4_0,
        &[0u8; 36],
        2,
        32,
        &acts,
        &mut [0f32; 3]
    )
    .is_err());
    assert!(matmul(
        &pool,
        GgmlType::Q4_1,
        &[0u8; 40],
        2,
        32,
        &acts,
        &mut [0f32; 4]
    )
    .is_err());
    assert!(matmul(
        &pool,
        GgmlType::Q4_0,
        &[0u8; 72],
        2,
        64,
        &acts,
        &mut [0f32; 4]
    )
    .is_err());
    assert!(matmul(
        &pool,
        GgmlType::IQ2_XS,
        &[0u8; 36],
        2,
        32,
        &acts,
        &mut [0f32; 4]
    )
    .is_err());
    assert!(matmul(
        &pool,
        GgmlType::Q4_0,
        &[0u8; 36],
        2,
        32,
        &acts,
        &mut [0f32; 4]
    )
    .is_ok());
    assert!(try_vec_dot(GgmlType::Q4_0, &[0u8; 17], &acts, 0).is_err());
    assert!(try_vec_dot(GgmlType::Q4_0, &[0u8; 18], &acts, 2).is_err());
    assert!(try_vec_dot(GgmlType::Q5_0, &[0u8; 22], &acts, 1).is_ok());
}

#[test]
fn quantize_reuses_buffer() {
    let mut acts = QuantizedActs::new();
    acts.quantize(GgmlType::Q4_K, &vec![1.0f32; 4 * 256], 4, 256);
    let p = acts.bytes().as_ptr();
    acts.quantize(GgmlType::Q6_K, &vec![2.0f32; 2 * 256], 2, 256);
    assert_eq!(acts.bytes().as_ptr(), p);
    assert_eq!(acts.n_rows(), 2);
}

/// Quantizing rows over a pool writes the same bytes as one thread, for
/// every activation type and row count; bad sizes are the same errors.
#[test]
fn quantize_on_a_pool_equals_one_thread() {
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(5);
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 512 } else { 96 };
        for n_rows in [1usize, 7, 47, 48, 49, 97] {
            let x = random_acts(&mut rng, n_rows * k);
            let mut one = QuantizedActs::new();
            one.quantize(ty, &x, n_rows, k);
            let mut many = QuantizedActs::new();
            many.try_quantize_on(&pool, ty, &x, n_rows, k).unwrap();
            assert_eq!(one.bytes(), many.bytes(), "{ty} rows {n_rows}");
            assert_eq!((many.n_rows(), many.k(), many.ty()), (n_rows, k, one.ty()));
        }
        let x = vec![0.5f32; 64 * k];
        let mut a = QuantizedActs::new();
        assert!(a
            .try_quantize_on(&pool, ty, &x[..64 * k - 1], 64, k)
            .is_err());
    }
}

/// The dispatched (SIMD) activation quantizers write exactly the scalar
/// reference's bytes, for both roundings, including ties and extremes.
#[test]
fn simd_quantizers_match_scalar_bytes() {
    use kernels::{quantize_row_scalar_raw, ActRounding};
    let mut rng = Rng::new(77);
    for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q4_K] {
        let aty = vec_dot_type(ty);
        let k = 512;
        for rep in 0..40 {
            let mut x: Vec<f32> = match rep % 5 {
                0 => random_acts(&mut rng, k),
                // exact ties after scaling: multiples of amax/254 and amax/127
                1 => (0..k).map(|i| ((i % 255) as f32 - 127.0) * 0.5).collect(),
                2 => (0..k)
                    .map(|i| ((i * 7919) % 509) as f32 / 4.0 - 63.5)
                    .collect(),
                3 => (0..k)
                    .map(|i| {
                        if i % 3 == 0 {
                            0.0
                        } else {
                            rng.normal() * 1e-30
                        }
                    })
                    .collect(),
                _ => (0..k).map(|_| rng.normal() * 300.0).collect(),
            };
            if rep == 9 {
                x.iter_mut().for_each(|v| *v = 0.0);
            }
            if rep == 14 {
                // largest magnitude occurs twice with both signs
                x[3] = -1000.0;
                x[100] = 1000.0;
            }
            for rounding in [ActRounding::Reference, ActRounding::LlamaCppX86] {
                let mut acts = QuantizedActs::new();
                acts.set_rounding(rounding);
                acts.quantize(ty, &x, 1, k);
                let mut want = vec![0u8; acts.row_stride()];
                quantize_row_scalar_raw(aty, rounding, &x, &mut want).unwrap();
                assert_eq!(acts.row(0), &want[..], "{aty} {rounding:?} rep={rep}");
            }
        }
    }
}

/// `matmul_multi` equals one `matmul` per job, bit for bit, with mixed weight
/// types (and so mixed activation types) in one call, and more jobs than one
/// pool pass takes.
#[test]
fn matmul_multi_equals_separate_matmuls() {
    use kernels::{matmul_multi, MatmulJob};
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(21);
    let k = 512;
    let n_rows = 6;
    let x = random_acts(&mut rng, n_rows * k);
    let specs: Vec<(GgmlType, usize)> = (0..11)
        .map(|i| {
            (
                WEIGHT_TYPES[i % WEIGHT_TYPES.len()],
                [3usize, 17, 64, 1][i % 4],
            )
        })
        .collect();
    let ws: Vec<Vec<u8>> = specs
        .iter()
        .map(|&(ty, n_out)| {
            (0..n_out)
                .flat_map(|_| random_weights(&mut rng, ty, k))
                .collect()
        })
        .collect();
    let acts: Vec<QuantizedActs> = specs
        .iter()
        .map(|&(ty, _)| {
            let mut a = QuantizedActs::new();
            a.quantize(ty, &x, n_rows, k);
            a
        })
        .collect();
    let mut want: Vec<Vec<f32>> = Vec::new();
    for (i, &(ty, n_out)) in specs.iter().enumerate() {
        let mut o = vec![0f32; n_rows * n_out];
        matmul(&pool, ty, &ws[i], n_out, k, &acts[i], &mut o).unwrap();
        want.push(o);
    }
    let mut got: Vec<Vec<f32>> = specs
        .iter()
        .map(|&(_, n)| vec![f32::NAN; n_rows * n])
        .collect();
    let mut jobs: Vec<MatmulJob> = specs
        .iter()
        .zip(&ws)
        .zip(&acts)
        .zip(got.iter_mut())
        .map(|(((&(ty, n_out), w), a), out)| MatmulJob {
            weight_ty: ty,
            w,
            n_out,
            k,
            acts: a,
            out,
            cache: None,
        })
        .collect();
    matmul_multi(&pool, &mut jobs).unwrap();
    drop(jobs);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let gb: Vec<u32> = g.iter().map(|v| v.to_bits()).collect();
        let wb: Vec<u32> = w.iter().map(|v| v.to_bits()).collect();
        assert_eq!(gb, wb, "job {i} {:?}", specs[i]);
    }
    // a bad job is an error, nothing panics
    let mut out = vec![0f32; 3];
    let mut bad = [MatmulJob {
        weight_ty: GgmlType::Q4_0,
        w: &[0u8; 17],
        n_out: 1,
        k: 32,
        acts: &acts[0],
        out: &mut out,
        cache: None,
    }];
    assert!(matmul_multi(&pool, &mut bad).is_err());
}

/// Dispatched dequantization equals the scalar reference bit for bit.
#[test]
fn simd_dequantize_matches_scalar() {
    let mut rng = Rng::new(31);
    for ty in WEIGHT_TYPES {
        for k in sizes(ty) {
            let w = random_weights(&mut rng, ty, k);
            let mut got = vec![0f32; k];
            dequantize(ty, &w, &mut got).unwrap();
            let mut want = vec![0f32; k];
            kernels::dequantize_scalar_raw(ty, &w, &mut want).unwrap();
            let gb: Vec<u32> = got.iter().map(|v| v.to_bits()).collect();
            let wb: Vec<u32> = want.iter().map(|v| v.to_bits()).collect();
            assert_eq!(gb, wb, "{ty} k={k}");
        }
    }
}

/// Prefill-sized products (the panel kernels: 4 weight rows unpacked once and
/// dotted with every activation row) equal the scalar reference of matmul's op
/// order bit for bit, whatever the batch, odd row counts and weight-row tails
/// included, and stay close to the f32 product of the dequantized matrices.
#[test]
fn prefill_matmul_equals_vec_dot_with_tails() {
    let pool = ThreadPool::new(2);
    let mut rng = Rng::new(21);
    for ty in WEIGHT_TYPES {
        let k = if ty.block_size() == 256 { 512 } else { 160 };
        for (n_out, n_rows) in [
            (4usize, 12usize),
            (7, 13),
            (37, 9),
            (70, 33),
            (9, 64),
            (6, 4),
            (5, 6),
            (11, 2),
        ] {
            let w: Vec<u8> = (0..n_out)
                .flat_map(|_| random_weights(&mut rng, ty, k))
                .collect();
            let x = random_acts(&mut rng, n_rows * k);
            let mut acts = QuantizedActs::new();
            acts.quantize(ty, &x, n_rows, k);
            let mut out = vec![0f32; n_rows * n_out];
            matmul(&pool, ty, &w, n_out, k, &acts, &mut out).unwrap();
            let rb = w.len() / n_out;
            let mut wf = vec![0f32; k];
            let mut af = vec![0f32; k];
            for o in 0..n_out {
                dequantize(ty, &w[o * rb..(o + 1) * rb], &mut wf).unwrap();
                for r in 0..n_rows {
                    let v =
                        matmul_reference_raw(ty, &w[o * rb..(o + 1) * rb], acts.row(r)).unwrap();
                    let got = out[r * n_out + o];
                    assert_eq!(
                        v.to_bits(),
                        got.to_bits(),
                        "{ty} n_out={n_out} n_rows={n_rows} r={r} o={o}"
                    );
                    dequantize_acts(acts.ty(), acts.row(r), &mut af).unwrap();
                    let want: f32 = wf.iter().zip(&af).map(|(a, b)| a * b).sum();
                    let scale: f32 = wf.iter().zip(&af).map(|(a, b)| (a * b).abs()).sum();
                    assert!(
                        (got - want).abs() <= 1e-3 * scale + 1e-4,
                        "{ty}: {got} vs f32 {want}"
                    );
                }
            }
            // the same rows alone give the same bits
            for r in [0, n_rows / 2, n_rows - 1] {
                let mut one = QuantizedActs::new();
                one.quantize(ty, &x[r * k..(r + 1) * k], 1, k);
                let mut o1 = vec![0f32; n_out];
                matmul(&pool, ty, &w, n_out, k, &one, &mut o1).unwrap();
                for o in 0..n_out {
                    assert_eq!(
                        o1[o].to_bits(),
                        out[r * n_out + o].to_bits(),
                        "{ty} alone r={r} o={o}"
                    );
                }
            }
        }
    }
}

/// A weight matrix of `n_out` rows of `k` elements of `ty`.
struct Weights<'a> {
    ty: GgmlType,
    w: &'a [u8],
    n_out: usize,
    k: usize,
}

/// `matmul` of weights `m` with `n_rows` activation rows of `k` elements all
/// equal to `a` equals the scalar reference of matmul's op order bit for bit;
/// returns the outputs (`[r][o]` flattened).
fn constant_rows_match_reference(
    pool: &ThreadPool,
    m: &Weights<'_>,
    a: f32,
    n_rows: usize,
    what: &str,
) -> Vec<f32> {
    let (ty, w, n_out, k) = (m.ty, m.w, m.n_out, m.k);
    let x = vec![a; n_rows * k];
    let mut acts = QuantizedActs::new();
    acts.quantize(ty, &x, n_rows, k);
    let mut out = vec![0f32; n_rows * n_out];
    matmul(pool, ty, w, n_out, k, &acts, &mut out).unwrap();
    let rb = w.len() / n_out;
    for r in 0..n_rows {
        for o in 0..n_out {
            let want = matmul_reference_raw(ty, &w[o * rb..(o + 1) * rb], acts.row(r)).unwrap();
            assert_eq!(
                want.to_bits(),
                out[r * n_out + o].to_bits(),
                "{ty} {what} a={a} rows={n_rows} r={r} o={o}"
            );
        }
    }
    out
}

/// The one-lane kernels sum i16 products of offset activations (Q4_0/Q5_0:
/// `y + 128`) and subtract the offset's share, or (Q8_0) multiply `|w|` by
/// `y` with `w`'s sign: the extreme quants (Q8_0's -128 included) against
/// extreme activations must still give the reference's exact value, through
/// the panels (4+ rows) and the 4x1 kernel alike.
#[test]
fn one_lane_extremes_do_not_overflow() {
    let pool = ThreadPool::new(2);
    let k = 256;
    for (ty, bytes) in [
        (GgmlType::Q4_0, 18usize),
        (GgmlType::Q5_0, 22),
        (GgmlType::Q8_0, 34),
    ] {
        let quants: [u8; 2] = if ty == GgmlType::Q8_0 {
            [0x7F, 0x80]
        } else {
            [0xFF, 0x00]
        };
        for wq in quants {
            for a in [1.0f32, -1.0] {
                // every quant at its top (0xFF: nibble 15 and, for Q5_0, the
                // high bit set; Q8_0: 127) or bottom (Q8_0: -128), d = 1.0
                // (f16 0x3C00)
                let mut blk = vec![wq; bytes];
                blk[0] = 0x00;
                blk[1] = 0x3C;
                // a panel of 16 and a last one of 4 (AVX-512 VNNI), of 8 and
                // 8 + 4 (AVX2), and a single row
                let n_out = 21;
                let w: Vec<u8> = std::iter::repeat_n(blk, n_out * k / 32).flatten().collect();
                for n_rows in [1usize, 4, 6, 9] {
                    let m = Weights {
                        ty,
                        w: &w,
                        n_out,
                        k,
                    };
                    let wants =
                        constant_rows_match_reference(&pool, &m, a, n_rows, &format!("wq={wq:#x}"));
                    for want in wants {
                        // and the value itself: every product is (q - offset) * ±127 * d_y
                        let q = match (ty, wq) {
                            (GgmlType::Q8_0, _) => wq as i8 as f32,
                            (GgmlType::Q4_0, 0xFF) => 7.0,
                            (GgmlType::Q4_0, _) => -8.0,
                            (_, 0xFF) => 15.0,
                            _ => -16.0,
                        };
                        let exact = q * a * k as f32;
                        assert!(
                            (want - exact).abs() <= 1e-3 * exact.abs(),
                            "{ty}: {want} vs {exact}"
                        );
                    }
                }
            }
        }
    }
}

/// The K-quant prefill panels add two `vpmaddubsw` results in i16 before the
/// scale multiply (4 products per lane): the extreme quants, scales and
/// activations must still give the reference's exact value, through the
/// panel (12+ rows) and the few-rows and single-row kernels alike.
#[test]
fn k_quant_panel_extremes_do_not_overflow() {
    let pool = ThreadPool::new(2);
    let k = 512;
    // (type, block bytes, quants fill, scales fill): quants at their top or
    // bottom, scales at their largest magnitude of either sign, d = dmin = 1
    let cases = [
        (GgmlType::Q6_K, 210usize, 0xFFu8, 0x7Fu8),
        (GgmlType::Q6_K, 210, 0xFF, 0x80),
        (GgmlType::Q6_K, 210, 0x00, 0x80),
        (GgmlType::Q6_K, 210, 0x00, 0x7F),
        (GgmlType::Q4_K, 144, 0xFF, 0xFF),
        (GgmlType::Q4_K, 144, 0x00, 0xFF),
    ];
    for (ty, bytes, wq, sc) in cases {
        let mut blk = vec![wq; bytes];
        if ty == GgmlType::Q6_K {
            // ql 0..128, qh 128..192, scales 192..208 (i8), d 208..210
            blk[192..208].fill(sc);
            blk[208] = 0x00;
            blk[209] = 0x3C;
        } else {
            // d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 of quants
            blk[..4].copy_from_slice(&[0x00, 0x3C, 0x00, 0x3C]);
            blk[4..16].fill(sc);
        }
        let n_out = 8;
        let w: Vec<u8> = std::iter::repeat_n(blk, n_out * k / 256)
            .flatten()
            .collect();
        for a in [1.0f32, -1.0] {
            for n_rows in [1usize, 6, 13] {
                let what = format!("wq={wq:#x} sc={sc:#x}");
                let m = Weights {
                    ty,
                    w: &w,
                    n_out,
                    k,
                };
                constant_rows_match_reference(&pool, &m, a, n_rows, &what);
            }
        }
    }
}

/// SwiGLU: the vector `exp` (llama.cpp's AVX2 `ggml_v_expf`) stays within a
/// few ULP of the scalar `expf` version over the whole range, the overflow
/// and underflow branches included, and an element's result does not depend
/// on how the buffer is sliced (threads split it at arbitrary points).
#[test]
fn swiglu_matches_scalar_and_ignores_slicing() {
    let mut rng = Rng::new(31);
    let mut gate: Vec<f32> = (0..1003)
        .map(|i| rng.uniform() * 15.0 + (i % 7) as f32 * 0.01)
        .collect();
    gate.extend([
        0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 100.0, -100.0, 150.0, -150.0, 200.0, -200.0, 1e6,
        -1e6,
    ]);
    let up: Vec<f32> = (0..gate.len()).map(|_| rng.uniform() * 2.0).collect();
    let mut whole = gate.clone();
    kernels::swiglu(&mut whole, &up);
    for (i, (&g, &u)) in gate.iter().zip(&up).enumerate() {
        let want = kernels::silu(g) * u;
        let got = whole[i];
        assert!(got.is_finite(), "x={g}: {got}");
        assert!(
            (got - want).abs() <= 4.0 * f32::EPSILON * want.abs() + 1e-37,
            "x={g} u={u}: {got} vs {want}"
        );
    }
    for cut in [1usize, 5, 8, 13, 500, 1001] {
        let mut parts = gate.clone();
        let (a, b) = parts.split_at_mut(cut);
        kernels::swiglu(a, &up[..cut]);
        kernels::swiglu(b, &up[cut..]);
        assert!(
            parts
                .iter()
                .zip(&whole)
                .all(|(x, y)| x.to_bits() == y.to_bits()),
            "cut at {cut}"
        );
    }
}
