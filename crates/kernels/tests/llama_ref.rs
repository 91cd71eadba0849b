//! Cross-check against llama.cpp's own C code (fixture made by
//! scripts/make-kernel-fixtures.py via tools/llama_ref_harness.c): activation
//! quantizers must match byte for byte; dot products must match llama.cpp's
//! AVX2 kernels bit for bit (both our AVX2 and scalar paths) and its generic C
//! kernels to float rounding.

use kernels::{
    dequantize, dequantize_acts, vec_dot, vec_dot_scalar_raw, vec_dot_type, ActRounding, GgmlType,
    QuantizedActs,
};
use serde_json::Value;

fn load() -> Value {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kernels/llama_ref.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn ty(name: &str) -> GgmlType {
    GgmlType::all().find(|t| t.name() == name).unwrap()
}

fn acts_of(fx: &Value) -> (Vec<f32>, usize, usize) {
    let k = fx["k"].as_u64().unwrap() as usize;
    let rows = fx["rows"].as_u64().unwrap() as usize;
    let x = fx["acts_bits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| f32::from_bits(v.as_u64().unwrap() as u32))
        .collect();
    (x, k, rows)
}

#[test]
fn activation_quantizers_match_llama_cpp_bytes() {
    let fx = load();
    let (x, k, rows) = acts_of(&fx);
    let cases = [
        ("Q8_0_ref", GgmlType::Q4_0, ActRounding::Reference),
        ("Q8_0_x86", GgmlType::Q4_0, ActRounding::LlamaCppX86),
        ("Q8_1_ref", GgmlType::Q4_1, ActRounding::Reference),
        ("Q8_1_x86", GgmlType::Q4_1, ActRounding::LlamaCppX86),
        ("Q8_K_ref", GgmlType::Q4_K, ActRounding::Reference),
        ("Q8_K_ref", GgmlType::Q6_K, ActRounding::LlamaCppX86),
        ("F16", GgmlType::F16, ActRounding::Reference),
        ("BF16", GgmlType::BF16, ActRounding::Reference),
    ];
    for (name, wty, rounding) in cases {
        let mut a = QuantizedActs::new();
        a.set_rounding(rounding);
        a.quantize(wty, &x, rows, k);
        for r in 0..rows {
            let want = hex(fx["acts"][name][r]["b"].as_str().unwrap());
            assert_eq!(a.row(r), &want[..], "{name} ({rounding:?}) row {r}");
        }
    }
}

#[test]
fn dots_match_llama_cpp_generic_and_avx2() {
    let fx = load();
    let (x, k, rows) = acts_of(&fx);
    for wfx in fx["weights"].as_array().unwrap() {
        let wty = ty(wfx["type"].as_str().unwrap());
        let wrows: Vec<Vec<u8>> = wfx["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| hex(r["b"].as_str().unwrap()))
            .collect();
        let bits = |key: &str| -> Vec<f32> {
            wfx[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| f32::from_bits(v.as_u64().unwrap() as u32))
                .collect()
        };
        let (gen, simd) = (bits("generic_ref_bits"), bits("avx2_x86_bits"));
        let mut exact = [0usize; 2];
        for (mode, rounding, want) in [
            (0, ActRounding::Reference, &gen),
            (1, ActRounding::LlamaCppX86, &simd),
        ] {
            let mut a = QuantizedActs::new();
            a.set_rounding(rounding);
            a.quantize(wty, &x, rows, k);
            for (o, w) in wrows.iter().enumerate() {
                let mut wf = vec![0f32; k];
                dequantize(wty, w, &mut wf).unwrap();
                for r in 0..rows {
                    let mut af = vec![0f32; k];
                    dequantize_acts(vec_dot_type(wty), a.row(r), &mut af).unwrap();
                    let mag: f32 = wf.iter().zip(&af).map(|(p, q)| (p * q).abs()).sum();
                    let got = if mode == 0 {
                        vec_dot_scalar_raw(wty, w, a.row(r)).unwrap()
                    } else {
                        vec_dot(wty, w, &a, r)
                    };
                    let exp = want[o * rows + r];
                    let tol = 1e-5 * mag + 1e-7;
                    assert!(
                        (got - exp).abs() <= tol,
                        "{wty} {rounding:?} o={o} r={r}: ours {got} llama.cpp {exp} (tol {tol})"
                    );
                    exact[mode] += (got.to_bits() == exp.to_bits()) as usize;
                    if mode == 1 {
                        // Our dispatched kernel and our scalar reference both reproduce
                        // llama.cpp's AVX2 kernel bit for bit.
                        assert_eq!(
                            got.to_bits(),
                            exp.to_bits(),
                            "{wty} o={o} r={r}: ours {got} llama.cpp AVX2 {exp}"
                        );
                        let sc = vec_dot_scalar_raw(wty, w, a.row(r)).unwrap();
                        assert_eq!(
                            sc.to_bits(),
                            exp.to_bits(),
                            "{wty} scalar o={o} r={r}: ours {sc} llama.cpp AVX2 {exp}"
                        );
                    }
                }
            }
        }
        eprintln!(
            "{wty}: bit-exact vs llama.cpp generic {}/{}, vs AVX2 {}/{}",
            exact[0],
            rows * rows,
            exact[1],
            rows * rows
        );

        // float formats: a length with a tail after the 32-wide main loop;
        // MXFP4: an odd number of blocks (its AVX2 loop takes pairs)
        let tail: Vec<f32> = bits("avx2_tail_bits");
        if !tail.is_empty() {
            let n = wfx["tail_n"].as_u64().unwrap() as usize;
            let xs: Vec<f32> = (0..rows)
                .flat_map(|r| x[r * k..r * k + n].to_vec())
                .collect();
            let mut a = QuantizedActs::new();
            a.set_rounding(ActRounding::LlamaCppX86);
            a.quantize(wty, &xs, rows, n);
            let rb = n / wty.block_size() * wty.type_size();
            for (o, w) in wrows.iter().enumerate() {
                for r in 0..rows {
                    let got = vec_dot(wty, &w[..rb], &a, r);
                    let sc = vec_dot_scalar_raw(wty, &w[..rb], a.row(r)).unwrap();
                    let exp = tail[o * rows + r];
                    assert_eq!(
                        got.to_bits(),
                        exp.to_bits(),
                        "{wty} n={n} o={o} r={r}: ours {got} llama.cpp {exp}"
                    );
                    assert_eq!(
                        sc.to_bits(),
                        exp.to_bits(),
                        "{wty} scalar n={n} o={o} r={r}: ours {sc} llama.cpp {exp}"
                    );
                }
            }
        }
    }
}
