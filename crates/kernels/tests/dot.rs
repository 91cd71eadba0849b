//! Level 2: scalar quantized dot products vs f32 math on the dequantized data,
//! and activation quantizers vs llama.cpp's reference rounding rules.

mod common;

use common::{random_acts, random_weights, Rng, WEIGHT_TYPES};
use kernels::{
    dequantize, dequantize_acts, vec_dot_scalar_raw, vec_dot_type, GgmlType, QuantizedActs,
};

#[test]
fn scalar_dot_equals_f32_dot_of_dequantized() {
    let mut rng = Rng::new(7);
    for ty in WEIGHT_TYPES {
        for &k in &[256usize, 512, 1024] {
            for _ in 0..5 {
                let w = random_weights(&mut rng, ty, k);
                let x = random_acts(&mut rng, k);
                let mut acts = QuantizedActs::new();
                acts.quantize(ty, &x, 1, k);
                let mut wf = vec![0f32; k];
                let mut af = vec![0f32; k];
                dequantize(ty, &w, &mut wf).unwrap();
                dequantize_acts(vec_dot_type(ty), acts.row(0), &mut af).unwrap();
                let exact: f64 = wf.iter().zip(&af).map(|(a, b)| *a as f64 * *b as f64).sum();
                let mag: f64 = wf
                    .iter()
                    .zip(&af)
                    .map(|(a, b)| (*a as f64 * *b as f64).abs())
                    .sum();
                let got = vec_dot_scalar_raw(ty, &w, acts.row(0)).unwrap() as f64;
                // Q4_1/Q5_1 use the f16-rounded block sum `s` of Q8_1 for the min term.
                let rel = if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                    2e-3
                } else {
                    1e-5
                };
                assert!(
                    (got - exact).abs() <= rel * mag + 1e-6,
                    "{ty} k={k}: got {got}, f32 math {exact} (mag {mag})"
                );
            }
        }
    }
}

#[test]
fn q8_0_and_q8_1_round_half_away_from_zero() {
    // amax = 127 -> d = 1, id = 1: values are exactly representable halves.
    let mut x = vec![0f32; 32];
    x[0] = 127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = -0.5;
    x[5] = 3.49;
    let mut a = QuantizedActs::new();
    a.quantize(GgmlType::Q8_0, &x, 1, 32);
    let q: Vec<i8> = a.row(0)[2..].iter().map(|&b| b as i8).collect();
    assert_eq!(&q[..6], &[127, 3, -3, 1, -1, 3]);
    assert_eq!(
        half::f16::from_le_bytes([a.row(0)[0], a.row(0)[1]]).to_f32(),
        1.0
    );
    a.quantize(GgmlType::Q4_1, &x, 1, 32);
    assert_eq!(a.ty(), GgmlType::Q8_1);
    let r = a.row(0);
    let q1: Vec<i8> = r[4..].iter().map(|&b| b as i8).collect();
    assert_eq!(&q1[..6], &[127, 3, -3, 1, -1, 3]);
    let sum: i32 = q1.iter().map(|&v| v as i32).sum();
    assert_eq!(half::f16::from_le_bytes([r[2], r[3]]).to_f32(), sum as f32);
}

#[test]
fn q8_k_rounds_half_to_even_with_signed_max() {
    // max = -127 (largest magnitude, negative) -> iscale = 1, d = 1.
    let mut x = vec![0f32; 256];
    x[0] = -127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = 1.5;
    x[5] = 100.0;
    let mut a = QuantizedActs::new();
    a.quantize(GgmlType::Q4_K, &x, 1, 256);
    assert_eq!(a.ty(), GgmlType::Q8_K);
    let r = a.row(0);
    assert_eq!(f32::from_le_bytes([r[0], r[1], r[2], r[3]]), 1.0);
    let q: Vec<i8> = r[4..260].iter().map(|&b| b as i8).collect();
    assert_eq!(&q[..6], &[-127, 2, -2, 0, 2, 100]);
    let bsum0 = i16::from_le_bytes([r[260], r[261]]);
    assert_eq!(bsum0 as i32, q[..16].iter().map(|&v| v as i32).sum::<i32>());
    // positive max: iscale = -127/max is negative, so d is negative and qs flip sign.
    let mut y = vec![0f32; 256];
    y[0] = 127.0;
    y[1] = 1.0;
    a.quantize(GgmlType::Q6_K, &y, 1, 256);
    let r = a.row(0);
    assert_eq!(f32::from_le_bytes([r[0], r[1], r[2], r[3]]), -1.0);
    assert_eq!(r[4] as i8, -127);
    assert_eq!(r[5] as i8, -1);
    // all zero -> all zero bytes
    a.quantize(GgmlType::Q2_K, &vec![0f32; 256], 1, 256);
    assert!(a.row(0).iter().all(|&b| b == 0));
}

#[test]
fn float_acts_round_like_ggml() {
    let x = [
        1.0f32,
        1.0 + 1.0 / 1024.0 + 1e-7,
        3.0e-8,
        -65504.0,
        f32::from_bits(0x3f80_8000),
    ];
    let mut a = QuantizedActs::new();
    a.quantize(GgmlType::F16, &x, 1, x.len());
    for (i, v) in x.iter().enumerate() {
        let got = u16::from_le_bytes([a.row(0)[2 * i], a.row(0)[2 * i + 1]]);
        assert_eq!(got, half::f16::from_f32(*v).to_bits());
    }
    a.quantize(GgmlType::BF16, &x, 1, x.len());
    // 0x3f808000 is a tie between bf16 0x3f80 and 0x3f81: round to even -> 0x3f80.
    assert_eq!(u16::from_le_bytes([a.row(0)[8], a.row(0)[9]]), 0x3f80);
    assert_eq!(u16::from_le_bytes([a.row(0)[0], a.row(0)[1]]), 0x3f80);
}

#[test]
fn llama_cpp_x86_rounding_mode() {
    use kernels::ActRounding;
    // amax = 127 -> 127/amax = 1 exactly: ties go to even in the x86 mode.
    let mut x = vec![0f32; 32];
    x[0] = 127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    x[3] = 0.5;
    x[4] = 1.5;
    let mut a = QuantizedActs::new();
    a.set_rounding(ActRounding::LlamaCppX86);
    a.quantize(GgmlType::Q8_0, &x, 1, 32);
    let q: Vec<i8> = a.row(0)[2..7].iter().map(|&b| b as i8).collect();
    assert_eq!(q, [127, 2, -2, 0, 2]);
    a.quantize(GgmlType::Q5_1, &x, 1, 32);
    let r = a.row(0);
    let q1: Vec<i8> = r[4..9].iter().map(|&b| b as i8).collect();
    assert_eq!(q1, [127, 2, -2, 0, 2]);
    assert_eq!(half::f16::from_le_bytes([r[2], r[3]]).to_f32(), 129.0);
    // Random data: the two modes agree except for rare off-by-one elements.
    let mut rng = common::Rng::new(3);
    let x = random_acts(&mut rng, 4096);
    let mut b = QuantizedActs::new();
    a.quantize(GgmlType::Q8_0, &x, 1, 4096);
    b.quantize(GgmlType::Q8_0, &x, 1, 4096);
    let diff = a
        .row(0)
        .iter()
        .zip(b.row(0))
        .filter(|(p, q)| p != q)
        .count();
    assert!(a
        .row(0)
        .iter()
        .zip(b.row(0))
        .all(|(p, q)| (*p as i8 as i32 - *q as i8 as i32).abs() <= 1));
    assert!(diff < 4096 / 20, "{diff}");
}
