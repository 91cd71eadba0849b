//! Structured random input for the GGUF reader: files built by the writer
//! from random metadata (every value type, nested arrays, odd strings) and
//! random tensors, then damaged the ways files get damaged or forged
//! (flipped bits, counts and lengths replaced by boundary values, bytes cut,
//! inserted or removed). The reader must answer every one with a value or
//! an error, never a panic, and an undamaged file must read back exactly.
//!
//! A fixed seed and a small budget run in CI; `HEARTH_FUZZ_N=1000000` runs
//! more by hand (`HEARTH_FUZZ_SEED` picks another sequence).

use gguf::{GgmlType, GgufFile, GgufWriter, Value, ValueType};
use test_models::fuzz::Rng;

/// This test's own sequence (`HEARTH_FUZZ_SEED` picks another).
const SEED: u64 = 0x6767_7566;

fn budget(default: u64) -> (u64, u64) {
    test_models::fuzz::budget(default, SEED)
}

fn string(r: &mut Rng) -> String {
    let pool = [
        "general.architecture",
        "llama",
        "tokenizer.ggml.tokens",
        "",
        "é",
        "\u{0}",
        "ünï",
        "<|im_start|>",
        "a.b.c",
        "💡",
        "x",
    ];
    let mut s = String::new();
    for _ in 0..r.below(4) {
        s.push_str(pool[r.below(pool.len() as u64) as usize]);
    }
    s
}

fn scalar(r: &mut Rng, t: ValueType) -> Value {
    let x = r.next();
    match t {
        ValueType::U8 => Value::U8(x as u8),
        ValueType::I8 => Value::I8(x as i8),
        ValueType::U16 => Value::U16(x as u16),
        ValueType::I16 => Value::I16(x as i16),
        ValueType::U32 => Value::U32(x as u32),
        ValueType::I32 => Value::I32(x as i32),
        ValueType::F32 => Value::F32(f32::from_bits(x as u32)),
        ValueType::Bool => Value::Bool(x & 1 == 1),
        ValueType::String => Value::String(string(r)),
        ValueType::U64 => Value::U64(x),
        ValueType::I64 => Value::I64(x as i64),
        ValueType::F64 => Value::F64(f64::from_bits(x)),
        ValueType::Array => unreachable!(),
    }
}

fn value(r: &mut Rng, depth: u32) -> Value {
    let t = ValueType::from_id(r.below(13) as u32).unwrap();
    if t == ValueType::Array {
        let elem = if depth < 2 && r.chance(0.3) {
            ValueType::Array
        } else {
            ValueType::from_id([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12][r.below(12) as usize])
                .unwrap()
        };
        let n = r.below(6);
        let items = (0..n)
            .map(|_| {
                if elem == ValueType::Array {
                    value_of_array(r, depth + 1)
                } else {
                    scalar(r, elem)
                }
            })
            .collect();
        return Value::Array { elem, items };
    }
    scalar(r, t)
}

fn value_of_array(r: &mut Rng, depth: u32) -> Value {
    loop {
        let v = value(r, depth);
        if matches!(v, Value::Array { .. }) {
            return v;
        }
    }
}

/// A tensor as built: name, dims, type, data.
type Built = (String, Vec<u64>, GgmlType, Vec<u8>);

/// A valid file and the metadata and tensors it holds.
fn build(r: &mut Rng) -> (Vec<u8>, Vec<(String, Value)>, Vec<Built>) {
    let mut w = GgufWriter::new();
    if r.chance(0.2) {
        w = w.version(2);
    }
    if r.chance(0.2) {
        w = w.alignment(1 << (r.below(6) + 3));
    }
    let mut meta = Vec::new();
    for i in 0..r.below(8) {
        let k = format!("k{i}.{}", string(r));
        let v = value(r, 0);
        w.set(&k, v.clone());
        meta.push((k, v));
    }
    let types = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_K,
        GgmlType::Q6_K,
    ];
    let mut tensors = Vec::new();
    for i in 0..r.below(5) {
        let ty = types[r.below(types.len() as u64) as usize];
        let bs = ty.block_size() as u64;
        let dims: Vec<u64> = match r.below(3) {
            0 => vec![bs * (1 + r.below(3))],
            1 => vec![bs * (1 + r.below(2)), 1 + r.below(3)],
            _ => vec![bs, 1 + r.below(2), 1 + r.below(2)],
        };
        let n: u64 = dims.iter().product();
        let bytes = ty.bytes_for(n).unwrap() as usize;
        let data: Vec<u8> = (0..bytes).map(|_| r.next() as u8).collect();
        let name = format!("t{i}");
        w.add_tensor(&name, &dims, ty, data.clone()).unwrap();
        tensors.push((name, dims, ty, data));
    }
    (w.to_bytes(), meta, tensors)
}

/// Damage `b` in one of the ways files are damaged or forged.
fn damage(r: &mut Rng, b: &mut Vec<u8>) {
    let boundary: [u64; 10] = [
        0,
        1,
        2,
        0x7f,
        0xff,
        0xffff_ffff,
        0x8000_0000_0000_0000,
        u64::MAX,
        u64::MAX - 1,
        1 << 32,
    ];
    for _ in 0..1 + r.below(3) {
        if b.is_empty() {
            b.push(r.next() as u8);
        }
        let at = r.below(b.len() as u64) as usize;
        match r.below(7) {
            0 => b[at] ^= 1 << r.below(8),
            1 => b[at] = r.next() as u8,
            // a count, length, type id or offset replaced by a boundary value
            2 => {
                let v = boundary[r.below(boundary.len() as u64) as usize].to_le_bytes();
                let w = [1usize, 2, 4, 8][r.below(4) as usize];
                for (i, x) in v.iter().take(w).enumerate() {
                    if at + i < b.len() {
                        b[at + i] = *x;
                    }
                }
            }
            3 => b.truncate(at),
            4 => {
                let n = r.below(16) as usize;
                b.drain(at..(at + n).min(b.len()));
            }
            5 => {
                let n = r.below(16) as usize;
                for _ in 0..n {
                    b.insert(at, r.next() as u8);
                }
            }
            _ => {
                // a small u32/u64 (type ids, dims, counts) at a 4-byte boundary
                let at = at & !3;
                let v = (r.below(20) as u32).to_le_bytes();
                for (i, x) in v.iter().enumerate() {
                    if at + i < b.len() {
                        b[at + i] = *x;
                    }
                }
            }
        }
    }
}

/// Read everything a caller could read, so lazy paths run too.
fn touch(f: &GgufFile) -> usize {
    let mut n = 0;
    for (k, v) in &f.metadata {
        n += k.len();
        n += format!("{v:?}").len().min(1);
        let _ = f.get_str(k);
        let _ = f.get_u64(k);
        let _ = f.get_f64(k);
        let _ = f.get_bool(k);
        let _ = f.get_array(k);
    }
    let _ = f.architecture();
    for t in &f.tensors {
        n += f.tensor_data(t).len();
        let _ = t.n_elements();
    }
    n
}

#[test]
fn random_and_damaged_files_never_panic() {
    let (n, seed) = budget(20_000);
    let mut r = Rng(seed);
    let (mut ok, mut refused) = (0u64, 0u64);
    for i in 0..n {
        let (bytes, meta, tensors) = build(&mut r);
        if i % 4 == 0 {
            // undamaged: reads back exactly what was written
            let f = GgufFile::from_bytes("fuzz.gguf", bytes.clone())
                .unwrap_or_else(|e| panic!("case {i} (seed {seed}): a valid file refused: {e}"));
            for (k, v) in &meta {
                let got = f.get(k);
                let same = match (got, v) {
                    // NaN != NaN: compare the bits
                    (Some(Value::F32(a)), Value::F32(b)) => a.to_bits() == b.to_bits(),
                    (Some(Value::F64(a)), Value::F64(b)) => a.to_bits() == b.to_bits(),
                    (Some(g), v) => format!("{g:?}") == format!("{v:?}"),
                    (None, _) => false,
                };
                assert!(same, "case {i} (seed {seed}): {k}: {got:?} != {v:?}");
            }
            for (name, dims, ty, data) in &tensors {
                let t = f.tensor(name).expect("tensor");
                assert_eq!((&t.dims, t.ty), (dims, *ty), "case {i}");
                assert_eq!(f.tensor_data(t), &data[..], "case {i}");
            }
        }
        let mut b = bytes;
        damage(&mut r, &mut b);
        let res = std::panic::catch_unwind(|| match GgufFile::from_bytes("fuzz.gguf", b.clone()) {
            Ok(f) => {
                touch(&f);
                true
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                false
            }
        });
        match res {
            Ok(true) => ok += 1,
            Ok(false) => refused += 1,
            Err(_) => panic!(
                "case {i} (seed {seed}, HEARTH_FUZZ_N={n}) panicked on {} bytes: {:02x?}",
                b.len(),
                &b[..b.len().min(512)]
            ),
        }
    }
    eprintln!("gguf fuzz: {n} damaged files ({ok} read, {refused} refused), seed {seed}, no panic");
}
