//! Level 1: our dequantization vs the Python `gguf` package (fixtures made by
//! scripts/make-kernel-fixtures.py), and our Q8_0 quantizer vs gguf's.

mod common;

use kernels::{dequantize, GgmlType, QuantizedActs};
use std::path::PathBuf;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kernels")
}

fn load(name: &str) -> serde_json::Value {
    let p = fixture_dir().join(format!("{name}.json"));
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&s).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ulp_diff(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    let (ia, ib) = (a.to_bits() as i32, b.to_bits() as i32);
    if (ia < 0) != (ib < 0) {
        // opposite signs: distance through zero
        return (ia & 0x7fff_ffff) as u32 + (ib & 0x7fff_ffff) as u32;
    }
    ia.abs_diff(ib)
}

#[test]
fn dequantize_matches_gguf_python() {
    for ty in common::WEIGHT_TYPES {
        let fx = load(ty.name());
        let n = fx["n"].as_u64().unwrap() as usize;
        let bytes = hex(fx["bytes"].as_str().unwrap());
        let want: Vec<f32> = fx["values_bits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| f32::from_bits(v.as_u64().unwrap() as u32))
            .collect();
        assert_eq!(want.len(), n);
        let mut got = vec![0f32; n];
        dequantize(ty, &bytes, &mut got).unwrap();
        let mut exact = 0;
        for i in 0..n {
            let d = ulp_diff(got[i], want[i]);
            assert!(
                d <= 1,
                "{ty} element {i}: ours {} vs gguf {} ({d} ulp)",
                got[i],
                want[i]
            );
            exact += (d == 0) as usize;
        }
        eprintln!("{ty}: {exact}/{n} bit-exact, rest within 1 ulp");
    }
}

#[test]
fn q8_0_quantize_matches_gguf_python() {
    let fx = load("quantize_Q8_0");
    let x: Vec<f32> = fx["input_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| f32::from_bits(v.as_u64().unwrap() as u32))
        .collect();
    let want = hex(fx["bytes"].as_str().unwrap());
    let mut acts = QuantizedActs::new();
    acts.quantize(GgmlType::Q4_0, &x, 1, x.len());
    assert_eq!(acts.ty(), GgmlType::Q8_0);
    assert_eq!(acts.row(0), &want[..]);
}
