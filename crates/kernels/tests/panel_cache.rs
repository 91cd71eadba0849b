//! Prebuilt weight panels (`PanelCache`): the matmul with a cache equals the
//! matmul without it and the scalar reference bit for bit, for every format
//! with cached panels (Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, Q4_K/Q6_K) and batch shape; a
//! cache passed with another matrix is an error.

mod common;

use common::{random_acts, random_weights, Rng};
use kernels::{
    matmul, matmul_multi, matmul_reference_raw, GgmlType, MatmulJob, PanelCache, QuantizedActs,
    ThreadPool,
};

const CACHED: [GgmlType; 7] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4_K,
    GgmlType::Q6_K,
];

fn job<'a>(
    ty: GgmlType,
    w: &'a [u8],
    n_out: usize,
    k: usize,
    acts: &'a QuantizedActs,
    out: &'a mut [f32],
    cache: Option<&'a PanelCache>,
) -> MatmulJob<'a> {
    MatmulJob {
        weight_ty: ty,
        w,
        n_out,
        k,
        acts,
        out,
        cache,
    }
}

#[test]
fn cached_panels_give_the_same_bits() {
    let mut rng = Rng::new(77);
    let mut built = 0;
    for threads in [1, 2] {
        let pool = ThreadPool::new(threads);
        for ty in CACHED {
            let shapes: &[(usize, usize)] = if ty.block_size() == 256 {
                &[(4, 256), (36, 512), (70, 256)]
            } else {
                &[(4, 32), (36, 256), (132, 96)]
            };
            for &(n_out, k) in shapes {
                let w: Vec<u8> = (0..n_out)
                    .flat_map(|_| random_weights(&mut rng, ty, k))
                    .collect();
                let cache = PanelCache::build(ty, &w, n_out, k).unwrap();
                let Some(cache) = cache else {
                    // this CPU's kernels have no cached panels (no AVX2, AVX-512, ...)
                    assert!(PanelCache::bytes_for(ty, n_out, k).is_none());
                    continue;
                };
                built += 1;
                assert_eq!(Some(cache.bytes()), PanelCache::bytes_for(ty, n_out, k));
                for n_rows in [1usize, 2, 3, 4, 5, 7, 8, 9, 13, 16, 21] {
                    let x = random_acts(&mut rng, n_rows * k);
                    let mut acts = QuantizedActs::new();
                    acts.quantize(ty, &x, n_rows, k);
                    let mut plain = vec![0f32; n_rows * n_out];
                    matmul(&pool, ty, &w, n_out, k, &acts, &mut plain).unwrap();
                    let mut cached = vec![f32::NAN; n_rows * n_out];
                    matmul_multi(
                        &pool,
                        &mut [job(ty, &w, n_out, k, &acts, &mut cached, Some(&cache))],
                    )
                    .unwrap();
                    for r in 0..n_rows {
                        for o in 0..n_out {
                            let want = matmul_reference_raw(
                                ty,
                                &w[o * w.len() / n_out..(o + 1) * w.len() / n_out],
                                acts.row(r),
                            )
                            .unwrap();
                            let (p, c) = (plain[r * n_out + o], cached[r * n_out + o]);
                            assert_eq!(
                                c.to_bits(),
                                p.to_bits(),
                                "{ty} {n_out}x{k} rows {n_rows} ({r}, {o})"
                            );
                            assert_eq!(
                                c.to_bits(),
                                want.to_bits(),
                                "{ty} {n_out}x{k} rows {n_rows} ({r}, {o}) vs reference"
                            );
                        }
                    }
                }
                // the same cache with another matrix of the same shape: an error
                let other: Vec<u8> = w.clone();
                let x = random_acts(&mut rng, 4 * k);
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 4, k);
                let mut out = vec![0f32; 4 * n_out];
                let err = matmul_multi(
                    &pool,
                    &mut [job(ty, &other, n_out, k, &acts, &mut out, Some(&cache))],
                )
                .unwrap_err();
                assert!(err.to_string().contains("panel cache"), "{err}");
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
        && !std::is_x86_feature_detected!("avx512bw")
        && std::env::var_os("HEARTH_SIMD").is_none()
        && std::env::var_os("HEARTH_FORCE_SCALAR").is_none()
    {
        assert!(built > 0, "an AVX2 CPU builds panel caches");
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = built;
}

/// Formats without cached panels, and shapes that do not split into panels,
/// get none.
#[test]
fn no_cache_where_it_does_not_apply() {
    assert!(PanelCache::bytes_for(GgmlType::F16, 64, 256).is_none());
    assert!(PanelCache::bytes_for(GgmlType::Q5_K, 64, 256).is_none());
    assert!(PanelCache::bytes_for(GgmlType::Q6_K, 64, 96).is_none());
    assert!(PanelCache::bytes_for(GgmlType::Q5_0, 6, 256).is_none());
    let mut rng = Rng::new(3);
    let w: Vec<u8> = (0..8)
        .flat_map(|_| random_weights(&mut rng, GgmlType::Q5_K, 256))
        .collect();
    assert!(PanelCache::build(GgmlType::Q5_K, &w, 8, 256)
        .unwrap()
        .is_none());
    // a wrong length is an error, not a panic
    if PanelCache::bytes_for(GgmlType::Q5_0, 8, 64).is_some() {
        assert!(PanelCache::build(GgmlType::Q5_0, &w[..10], 8, 64).is_err());
    }
}
