use gguf::*;

fn sample() -> GgufWriter {
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "llama");
    w.set("u8", Value::U8(7))
        .set("i8", Value::I8(-7))
        .set("u16", Value::U16(700))
        .set("i16", Value::I16(-700))
        .set("u32", Value::U32(70000))
        .set("i32", Value::I32(-70000))
        .set("f32", Value::F32(1.5))
        .set("bool", Value::Bool(true))
        .set("u64", Value::U64(1 << 40))
        .set("i64", Value::I64(-(1 << 40)))
        .set("f64", Value::F64(2.25))
        .set("s", Value::String("héllo".into()))
        .set(
            "empty",
            Value::Array {
                elem: ValueType::U32,
                items: vec![],
            },
        )
        .set(
            "nested",
            Value::Array {
                elem: ValueType::Array,
                items: vec![
                    str_array(&["a", "b"]),
                    Value::Array {
                        elem: ValueType::I32,
                        items: vec![Value::I32(1)],
                    },
                ],
            },
        );
    w.add_f32("a", &[3, 2], &[1., 2., 3., 4., 5., 6.]).unwrap();
    w.add_tensor("q", &[64], GgmlType::Q8_0, vec![1u8; 68])
        .unwrap();
    w
}

#[test]
fn every_value_type_round_trips_v3_and_v2() {
    for version in [3, 2] {
        let w = sample().version(version);
        let f = GgufFile::from_bytes("mem.gguf", w.to_bytes()).unwrap();
        assert_eq!(f.version, version);
        for (k, v) in &w_meta(&w) {
            assert_eq!(f.get(k), Some(v), "{k}");
        }
        let a = f.tensor("a").unwrap();
        assert_eq!(a.dims, vec![3, 2]);
        assert_eq!(a.ty, GgmlType::F32);
        let bytes = f.tensor_data(a);
        assert_eq!(f32::from_le_bytes(bytes[20..24].try_into().unwrap()), 6.0);
        let q = f.tensor("q").unwrap();
        assert_eq!(q.size, 68);
        assert_eq!(f.tensor_data(q), &[1u8; 68][..]);
        assert_eq!((f.data_offset + q.offset) % 32, 0);
    }
}

fn w_meta(w: &GgufWriter) -> Vec<(String, Value)> {
    let f = GgufFile::from_bytes("x", w.to_bytes()).unwrap();
    assert!(f.metadata.len() >= 14);
    f.metadata.clone()
}

#[test]
fn alignment_is_honoured() {
    let w = sample().alignment(64);
    let f = GgufFile::from_bytes("mem.gguf", w.to_bytes()).unwrap();
    assert_eq!(f.alignment, 64);
    for t in &f.tensors {
        assert_eq!((f.data_offset + t.offset) % 64, 0);
    }
}

#[test]
fn open_maps_a_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.gguf");
    sample().write(&p).unwrap();
    let f = GgufFile::open(&p).unwrap();
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(f.tensors.len(), 2);
}

fn err(bytes: Vec<u8>) -> String {
    GgufFile::from_bytes("bad.gguf", bytes)
        .unwrap_err()
        .to_string()
}

#[test]
fn not_gguf() {
    let e = err(b"PK\x03\x04 zip file".to_vec());
    assert!(
        e.contains("bad.gguf") && e.contains("not a GGUF file"),
        "{e}"
    );
    let e = err(vec![]);
    assert!(e.contains("not a GGUF file"), "{e}");
}

#[test]
fn unsupported_version() {
    let mut b = sample().to_bytes();
    b[4] = 1;
    assert!(err(b).contains("version 1 is not supported"));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let b = sample().to_bytes();
    for cut in 0..b.len() - 1 {
        let r = GgufFile::from_bytes("cut.gguf", b[..cut].to_vec());
        // The final padding is not needed by any tensor, so a cut inside it
        // may still parse; anything earlier must fail.
        if let Ok(f) = r {
            let last = f
                .tensors
                .iter()
                .map(|t| f.data_offset + t.offset + t.size)
                .max()
                .unwrap();
            assert!(cut as u64 >= last, "cut at {cut} parsed");
        }
    }
}

#[test]
fn tensor_past_end_of_file() {
    let b = sample().to_bytes();
    let f = GgufFile::from_bytes("x", b.clone()).unwrap();
    let q = f.tensor("q").unwrap();
    let end = (f.data_offset + q.offset + q.size) as usize;
    let e = err(b[..end - 1].to_vec());
    assert!(e.contains("truncated") && e.contains("\"q\""), "{e}");
}

fn patch_u64_after(b: &mut [u8], needle: &[u8], value: u64) {
    let at = b.windows(needle.len()).position(|w| w == needle).unwrap() + needle.len();
    b[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn absurd_lengths() {
    // string length of key "s"'s value
    let mut b = sample().to_bytes();
    let mut needle = b"s".to_vec();
    needle.extend_from_slice(&8u32.to_le_bytes());
    patch_u64_after(
        &mut b,
        &[&1u64.to_le_bytes()[..], &needle[..]].concat(),
        u64::MAX / 2,
    );
    let e = err(b);
    assert!(e.contains("limit") || e.contains("truncated"), "{e}");

    // array count
    let mut b = sample().to_bytes();
    let mut needle = b"empty".to_vec();
    needle.extend_from_slice(&9u32.to_le_bytes());
    needle.extend_from_slice(&4u32.to_le_bytes());
    patch_u64_after(&mut b, &needle, 1 << 60);
    let e = err(b);
    assert!(e.contains("claims") && e.contains("elements"), "{e}");

    // tensor count
    let mut b = sample().to_bytes();
    b[8..16].copy_from_slice(&(1u64 << 50).to_le_bytes());
    assert!(err(b).contains("tensor count"));
}

#[test]
fn unknown_tensor_type_and_bad_dims() {
    let mut w = GgufWriter::new();
    w.add_f32("t", &[4], &[0.; 4]).unwrap();
    let b = w.to_bytes();
    // type id sits right after name + n_dims + dims
    let name_at = b.windows(1).rposition(|x| x == b"t").unwrap();
    let type_at = name_at + 1 + 4 + 8;
    let mut bad = b.clone();
    bad[type_at..type_at + 4].copy_from_slice(&77u32.to_le_bytes());
    assert!(err(bad).contains("unknown type id 77"));
    let mut bad = b.clone();
    bad[name_at + 1..name_at + 5].copy_from_slice(&9u32.to_le_bytes());
    assert!(err(bad).contains("dimensions"));
}

#[test]
fn duplicate_keys_rejected() {
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&2u64.to_le_bytes());
    for _ in 0..2 {
        b.extend_from_slice(&1u64.to_le_bytes());
        b.push(b'k');
        b.extend_from_slice(&4u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
    }
    assert!(err(b).contains("twice"));
}

#[test]
fn missing_file_and_directory() {
    let e = GgufFile::open("/nonexistent/model.gguf")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/model.gguf") && e.contains("cannot open"),
        "{e}"
    );
    let d = tempfile::tempdir().unwrap();
    let e = GgufFile::open(d.path()).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
}

#[test]
fn real_models_open() {
    for (short, arch, n) in [
        ("smollm2-135m", "llama", 272),
        ("gemma3-270m", "gemma3", 236),
        ("qwen2.5-coder-0.5b", "qwen2", 291),
    ] {
        let Some(p) = test_models::model(short) else {
            continue;
        };
        let f = GgufFile::open(&p).unwrap();
        assert_eq!(f.architecture(), Some(arch));
        assert_eq!(f.tensors.len(), n, "{short}");
        assert!(f.tensors.iter().all(|t| t.ty.is_supported()));
    }
}

/// A file of several of the copy's 8 MB pieces, the last one partial.
fn big_sample() -> GgufWriter {
    let mut w = sample();
    let n = (19 << 20) + 12345;
    let data: Vec<u8> = (0..n as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    w.add_tensor("big", &[n as u64], GgmlType::I8, data)
        .unwrap();
    w
}

/// [`big_sample`] written to a temporary directory (kept while the first is
/// alive): its path and bytes.
fn big_file() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.gguf");
    big_sample().write(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (dir, p, bytes)
}

#[test]
fn a_resident_copy_holds_the_same_bytes_aligned() {
    let (_dir, p, want) = big_file();
    for round in 0..3 {
        let mut f = GgufFile::open(&p).unwrap();
        assert!(!f.is_resident() && !f.copy_started());
        let started = f.make_resident(&[]).unwrap();
        assert_eq!(started, cfg!(target_os = "linux"));
        // readable at once (the map), the same bytes after the copy
        assert_eq!(f.bytes(), &want[..], "round {round}");
        assert_eq!(f.wait_resident(), started);
        assert_eq!(f.is_resident(), started);
        assert_eq!(f.bytes(), &want[..], "round {round}");
        // the bytes start on a huge page, so every tensor keeps its alignment
        if started {
            assert_eq!(f.bytes().as_ptr() as usize % (2 << 20), 0);
        }
        let big = f.tensor("big").unwrap().clone();
        let at = (f.data_offset + big.offset) as usize;
        assert_eq!(f.tensor_data(&big), &want[at..at + big.size as usize]);
        // a second call changes nothing
        assert_eq!(f.make_resident(&[]).unwrap(), started);
        assert_eq!(f.bytes(), &want[..]);
    }
    // an image already in memory stays as it is
    let mut m = GgufFile::from_bytes("mem.gguf", want.clone()).unwrap();
    assert!(!m.make_resident(&[]).unwrap());
    assert!(!m.is_resident() && !m.wait_resident());
}

/// Readers going over the bytes while the copy moves under them see the
/// file's bytes at every moment, and nothing faults.
#[test]
fn readers_see_the_same_bytes_while_the_copy_moves_in() {
    let (_dir, p, want) = big_file();
    let sum = |b: &[u8]| {
        b.iter()
            .fold(0u64, |h, &x| h.wrapping_mul(31).wrapping_add(x as u64))
    };
    let expect = sum(&want);
    for _ in 0..8 {
        let mut f = GgufFile::open(&p).unwrap();
        f.make_resident(&[]).unwrap();
        let f = &f;
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    while !f.is_resident() && f.copy_started() {
                        assert_eq!(sum(f.bytes()), expect);
                    }
                    assert_eq!(sum(f.bytes()), expect);
                });
            }
            f.wait_resident();
        });
    }
}

#[test]
fn dropped_while_copying_is_clean() {
    let (_dir, p, _) = big_file();
    for _ in 0..20 {
        let mut f = GgufFile::open(&p).unwrap();
        f.make_resident(&[]).unwrap();
        drop(f);
    }
}

#[test]
fn a_file_cut_short_after_opening_stays_mapped() {
    let (_dir, p, _) = big_file();
    let mut f = GgufFile::open(&p).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    // the copy cannot read the bytes the map promised: it gives up, and
    // the file stays mapped (its first MB still readable)
    if f.make_resident(&[]).unwrap() {
        assert!(!f.wait_resident());
        assert!(f.copy_failed());
    }
    assert!(!f.is_resident());
    assert_eq!(f.architecture(), Some("llama"));
    assert_eq!(&f.bytes()[..4], b"GGUF");
}

/// The path of the mapping that holds `addr` in this process ("" for
/// anonymous memory), from /proc/self/maps.
#[cfg(target_os = "linux")]
fn mapped_file_at(addr: usize) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (lo, hi) = f.next().unwrap().split_once('-').unwrap();
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).unwrap(),
            usize::from_str_radix(hi, 16).unwrap(),
        );
        if (lo..hi).contains(&addr) {
            return f.nth(4).unwrap_or("").to_string();
        }
    }
    panic!("{addr:#x} is not mapped")
}

/// A table left out of the copy stays mapped from the file (only its rows
/// read become resident); the rest moves into memory; the bytes are the
/// file's throughout.
#[cfg(target_os = "linux")]
#[test]
fn a_skipped_table_stays_mapped_from_the_file() {
    let (_dir, p, want) = big_file();
    let mut f = GgufFile::open(&p).unwrap();
    let big = f.tensor("big").unwrap().clone();
    let at = (f.data_offset + big.offset) as usize;
    let table = at..at + big.size as usize;
    assert!(f.make_resident(std::slice::from_ref(&table)).unwrap());
    assert!(f.wait_resident());
    assert_eq!(f.bytes(), &want[..]);
    let base = f.bytes().as_ptr() as usize;
    let huge = 2 << 20;
    let inside = base + table.start.next_multiple_of(huge) + huge;
    assert!(
        mapped_file_at(inside).ends_with("t.gguf"),
        "{}",
        mapped_file_at(inside)
    );
    // the header, before the table, was copied
    assert_eq!(mapped_file_at(base), "");
    // nothing skipped: all of it copied
    let mut g = GgufFile::open(&p).unwrap();
    g.make_resident(&[]).unwrap();
    assert!(g.wait_resident());
    let base = g.bytes().as_ptr() as usize;
    assert_eq!(mapped_file_at(base + table.start + huge), "");
}
