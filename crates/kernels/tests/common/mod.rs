#![allow(dead_code)]
use kernels::{
    matmul_multi, matmul_reference_raw, vec_dot, vec_dot_scalar_raw, GgmlType, MatmulJob,
    PanelCache, QuantizedActs, ThreadPool,
};

/// Tiny deterministic PRNG (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// Roughly normal(0, 1).
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.uniform()).sum::<f32>() * 0.866
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

pub const WEIGHT_TYPES: [GgmlType; 14] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::BF16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2_K,
    GgmlType::Q3_K,
    GgmlType::Q4_K,
    GgmlType::Q5_K,
    GgmlType::Q6_K,
    GgmlType::MXFP4,
];

/// Byte offsets of f16 scale fields inside one block (ggml-common.h layouts).
pub fn f16_fields(ty: GgmlType) -> &'static [usize] {
    use GgmlType::*;
    match ty {
        Q4_0 | Q5_0 | Q8_0 => &[0],
        Q4_1 | Q5_1 | Q4_K | Q5_K => &[0, 2],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
        _ => &[],
    }
}

/// `k` elements of random weights of type `ty`: random bytes with small, finite f16 scales.
pub fn random_weights(rng: &mut Rng, ty: GgmlType, k: usize) -> Vec<u8> {
    match ty {
        GgmlType::F32 => (0..k).flat_map(|_| rng.normal().to_le_bytes()).collect(),
        GgmlType::F16 => (0..k)
            .flat_map(|_| half::f16::from_f32(rng.normal()).to_le_bytes())
            .collect(),
        GgmlType::BF16 => (0..k)
            .flat_map(|_| half::bf16::from_f32(rng.normal()).to_le_bytes())
            .collect(),
        _ => {
            let bs = ty.type_size();
            let nb = k / ty.block_size();
            let mut b = rng.bytes(nb * bs);
            for i in 0..nb {
                if ty == GgmlType::MXFP4 {
                    // E8M0 scale byte: 2^-9 .. 2^6, as real weights have
                    b[i * bs] = 118 + (rng.next_u64() % 16) as u8;
                }
                for &off in f16_fields(ty) {
                    let v = half::f16::from_f32(rng.normal() * 0.05);
                    b[i * bs + off..i * bs + off + 2].copy_from_slice(&v.to_le_bytes());
                }
            }
            b
        }
    }
}

pub fn random_acts(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| rng.normal() * if rng.next_u64() % 17 < 1 { 8.0 } else { 1.0 })
        .collect()
}

/// Each output of `matmul` for these shapes equals the scalar reference of
/// its op order, with and without the matrix's panel cache (where this level
/// builds one).
/// One random weight row of `k` elements of `ty` against one random
/// activation row through the dispatched `vec_dot`, bit for bit against the
/// scalar reference (`what` names the case in the message).
pub fn check_vec_dot(rng: &mut Rng, ty: GgmlType, k: usize, what: &str) {
    let w = random_weights(rng, ty, k);
    let x = random_acts(rng, k);
    let mut acts = QuantizedActs::new();
    acts.quantize(ty, &x, 1, k);
    let want = vec_dot_scalar_raw(ty, &w, acts.row(0)).unwrap();
    let got = vec_dot(ty, &w, &acts, 0);
    assert_eq!(got.to_bits(), want.to_bits(), "{ty} k={k}{what}");
}

pub fn check_matmul(
    pool: &ThreadPool,
    rng: &mut Rng,
    ty: GgmlType,
    k: usize,
    n_out: usize,
    n_rows: usize,
    extreme: bool,
) {
    let w: Vec<u8> = (0..n_out)
        .flat_map(|_| random_weights(rng, ty, k))
        .collect();
    let mut x = random_acts(rng, n_rows * k);
    if extreme {
        // saturating activations (quantized to +-127) and zeros
        for (i, v) in x.iter_mut().enumerate() {
            *v = match i % 5 {
                0 => 0.0,
                1 | 3 => 1.0,
                _ => -1.0,
            };
        }
    }
    let mut acts = QuantizedActs::new();
    acts.quantize(ty, &x, n_rows, k);
    let cache = PanelCache::build(ty, &w, n_out, k).unwrap();
    for cached in [false, true] {
        if cached && cache.is_none() {
            continue;
        }
        let mut out = vec![f32::NAN; n_rows * n_out];
        matmul_multi(
            pool,
            &mut [MatmulJob {
                weight_ty: ty,
                w: &w,
                n_out,
                k,
                acts: &acts,
                out: &mut out,
                cache: if cached { cache.as_ref() } else { None },
            }],
        )
        .unwrap();
        let rb = w.len() / n_out;
        for r in 0..n_rows {
            for o in 0..n_out {
                let wr = &w[o * rb..(o + 1) * rb];
                let want = matmul_reference_raw(ty, wr, acts.row(r)).unwrap();
                let got = out[r * n_out + o];
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{ty} k={k} n_out={n_out} n_rows={n_rows} cached={cached} r={r} o={o}: simd {got} reference {want}"
                );
            }
        }
    }
}
