//! Tiny models built with the project's own GGUF writer: the fast forward
//! pass against a naive f32 reference written independently (llama2.c style),
//! chunking invariance (determinism), and bad-model errors.

use gguf::{GgmlType, GgufWriter, Value};
use model::{Logits, Model, ModelError};

struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.f() * scale).collect()
    }
}

#[derive(Clone, Copy)]
struct Dims {
    vocab: usize,
    d: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    ff: usize,
}

const DIMS: Dims = Dims {
    vocab: 40,
    d: 32,
    layers: 3,
    heads: 4,
    kv_heads: 2,
    hd: 8,
    ff: 48,
};

/// Write a tiny model of `arch` with random F32 weights; returns its bytes and
/// the weights by name for the reference.
fn tiny(
    arch: &str,
    seed: u64,
    tied: bool,
) -> (Vec<u8>, std::collections::HashMap<String, Vec<f32>>) {
    let Dims {
        vocab,
        d,
        layers,
        heads,
        kv_heads,
        hd,
        ff,
    } = DIMS;
    let mut r = Rng(seed);
    let mut w = GgufWriter::new();
    let mut ws = std::collections::HashMap::new();
    w.set_str("general.architecture", arch);
    let k = |s: &str| format!("{arch}.{s}");
    w.set_u32(&k("block_count"), layers as u32);
    w.set_u32(&k("context_length"), 64);
    w.set_u32(&k("embedding_length"), d as u32);
    w.set_u32(&k("feed_forward_length"), ff as u32);
    w.set_u32(&k("attention.head_count"), heads as u32);
    w.set_u32(&k("attention.head_count_kv"), kv_heads as u32);
    w.set_f32(&k("attention.layer_norm_rms_epsilon"), 1e-5);
    if arch == "gemma3" {
        w.set_u32(&k("attention.key_length"), hd as u32);
        w.set_u32(&k("attention.value_length"), hd as u32);
        w.set_u32(&k("attention.sliding_window"), 4);
        w.set_u32(&k("attention.sliding_window_pattern"), 2);
        w.set_f32(&k("rope.freq_base"), 1_000_000.0);
    } else {
        w.set_f32(&k("rope.freq_base"), 10000.0);
    }
    let mut add = |name: &str, dims: &[u64], scale: f32, w: &mut GgufWriter| {
        let n: u64 = dims.iter().product();
        let v = r.vec(n as usize, scale);
        w.add_f32(name, dims, &v).unwrap();
        ws.insert(name.to_string(), v);
    };
    let (d64, q64, kv64, ff64) = (
        d as u64,
        (heads * hd) as u64,
        (kv_heads * hd) as u64,
        ff as u64,
    );
    add("token_embd.weight", &[d64, vocab as u64], 1.0, &mut w);
    add("output_norm.weight", &[d64], 1.0, &mut w);
    if !tied {
        add("output.weight", &[d64, vocab as u64], 0.3, &mut w);
    }
    for i in 0..layers {
        let n = |s: &str| format!("blk.{i}.{s}");
        add(&n("attn_norm.weight"), &[d64], 1.0, &mut w);
        add(&n("attn_q.weight"), &[d64, q64], 0.3, &mut w);
        add(&n("attn_k.weight"), &[d64, kv64], 0.3, &mut w);
        add(&n("attn_v.weight"), &[d64, kv64], 0.3, &mut w);
        add(&n("attn_output.weight"), &[q64, d64], 0.3, &mut w);
        if arch == "qwen2" {
            add(&n("attn_q.bias"), &[q64], 0.2, &mut w);
            add(&n("attn_k.bias"), &[kv64], 0.2, &mut w);
            add(&n("attn_v.bias"), &[kv64], 0.2, &mut w);
        }
        if arch == "gemma3" {
            add(&n("attn_q_norm.weight"), &[hd as u64], 1.0, &mut w);
            add(&n("attn_k_norm.weight"), &[hd as u64], 1.0, &mut w);
            add(&n("post_attention_norm.weight"), &[d64], 1.0, &mut w);
            add(&n("post_ffw_norm.weight"), &[d64], 1.0, &mut w);
        }
        add(&n("ffn_norm.weight"), &[d64], 1.0, &mut w);
        add(&n("ffn_gate.weight"), &[d64, ff64], 0.3, &mut w);
        add(&n("ffn_up.weight"), &[d64, ff64], 0.3, &mut w);
        add(&n("ffn_down.weight"), &[ff64, d64], 0.3, &mut w);
    }
    (w.to_bytes(), ws)
}

// ---------- the naive reference forward (all f32, whole sequence at once) ----------

fn rmsnorm(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let s = 1.0 / (ms + eps).sqrt();
    x.iter().zip(w).map(|(a, b)| a * s * b).collect()
}

/// y[o] = sum_i W[o][i] x[i], W stored row-major [out][in].
fn matvec(w: &[f32], x: &[f32], out: usize) -> Vec<f32> {
    (0..out)
        .map(|o| (0..x.len()).map(|i| w[o * x.len() + i] * x[i]).sum())
        .collect()
}

fn rope(v: &mut [f32], hd: usize, pos: usize, base: f32, neox: bool) {
    for h in v.chunks_mut(hd) {
        for i in 0..hd / 2 {
            let theta = pos as f32 * base.powf(-((2 * i) as f32) / hd as f32);
            let (a, b) = if neox {
                (i, i + hd / 2)
            } else {
                (2 * i, 2 * i + 1)
            };
            let (x0, x1) = (h[a], h[b]);
            h[a] = x0 * theta.cos() - x1 * theta.sin();
            h[b] = x0 * theta.sin() + x1 * theta.cos();
        }
    }
}

fn reference(
    arch: &str,
    ws: &std::collections::HashMap<String, Vec<f32>>,
    tokens: &[u32],
    tied: bool,
) -> Vec<Vec<f32>> {
    let Dims {
        vocab,
        d,
        layers,
        heads,
        kv_heads,
        hd,
        ff,
    } = DIMS;
    let gemma = arch == "gemma3";
    let neox = arch != "llama";
    let g = |n: &str| &ws[n];
    let mut kcache: Vec<Vec<Vec<f32>>> = vec![vec![]; layers];
    let mut vcache: Vec<Vec<Vec<f32>>> = vec![vec![]; layers];
    let mut out = vec![];
    for (pos, &tok) in tokens.iter().enumerate() {
        let mut x: Vec<f32> =
            g("token_embd.weight")[tok as usize * d..(tok as usize + 1) * d].to_vec();
        if gemma {
            x.iter_mut().for_each(|v| *v *= (d as f32).sqrt());
        }
        for l in 0..layers {
            let n = |s: &str| format!("blk.{l}.{s}");
            let swa = gemma && l % 2 < 1;
            let base = if gemma {
                if swa {
                    10000.0
                } else {
                    1_000_000.0
                }
            } else {
                10000.0
            };
            let h = rmsnorm(&x, g(&n("attn_norm.weight")), 1e-5);
            let mut q = matvec(g(&n("attn_q.weight")), &h, heads * hd);
            let mut k = matvec(g(&n("attn_k.weight")), &h, kv_heads * hd);
            let mut v = matvec(g(&n("attn_v.weight")), &h, kv_heads * hd);
            if arch == "qwen2" {
                q.iter_mut()
                    .zip(g(&n("attn_q.bias")))
                    .for_each(|(a, b)| *a += b);
                k.iter_mut()
                    .zip(g(&n("attn_k.bias")))
                    .for_each(|(a, b)| *a += b);
                v.iter_mut()
                    .zip(g(&n("attn_v.bias")))
                    .for_each(|(a, b)| *a += b);
            }
            if gemma {
                q = q
                    .chunks(hd)
                    .flat_map(|c| rmsnorm(c, g(&n("attn_q_norm.weight")), 1e-5))
                    .collect();
                k = k
                    .chunks(hd)
                    .flat_map(|c| rmsnorm(c, g(&n("attn_k_norm.weight")), 1e-5))
                    .collect();
            }
            rope(&mut q, hd, pos, base, neox);
            rope(&mut k, hd, pos, base, neox);
            kcache[l].push(k);
            vcache[l].push(v);
            let mut att = vec![0.0; heads * hd];
            for hh in 0..heads {
                let kvh = hh / (heads / kv_heads);
                let lo = if swa { (pos + 1).saturating_sub(4) } else { 0 };
                let scores: Vec<f32> = (lo..=pos)
                    .map(|j| {
                        (0..hd)
                            .map(|i| q[hh * hd + i] * kcache[l][j][kvh * hd + i])
                            .sum::<f32>()
                            / (hd as f32).sqrt()
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f32::MIN, f32::max);
                let e: Vec<f32> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f32 = e.iter().sum();
                for (idx, j) in (lo..=pos).enumerate() {
                    for i in 0..hd {
                        att[hh * hd + i] += e[idx] / z * vcache[l][j][kvh * hd + i];
                    }
                }
            }
            let mut o = matvec(g(&n("attn_output.weight")), &att, d);
            if gemma {
                o = rmsnorm(&o, g(&n("post_attention_norm.weight")), 1e-5);
            }
            x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
            let h = rmsnorm(&x, g(&n("ffn_norm.weight")), 1e-5);
            let gate = matvec(g(&n("ffn_gate.weight")), &h, ff);
            let up = matvec(g(&n("ffn_up.weight")), &h, ff);
            let act: Vec<f32> = gate
                .iter()
                .zip(&up)
                .map(|(&a, &u)| {
                    let f = if gemma {
                        0.5 * a * (1.0 + (0.797_884_6_f32 * (a + 0.044715 * a * a * a)).tanh())
                    } else {
                        a / (1.0 + (-a).exp())
                    };
                    f * u
                })
                .collect();
            let mut dn = matvec(g(&n("ffn_down.weight")), &act, d);
            if gemma {
                dn = rmsnorm(&dn, g(&n("post_ffw_norm.weight")), 1e-5);
            }
            x.iter_mut().zip(&dn).for_each(|(a, b)| *a += b);
        }
        let h = rmsnorm(&x, g("output_norm.weight"), 1e-5);
        let ow = if tied {
            g("token_embd.weight")
        } else {
            g("output.weight")
        };
        out.push(matvec(ow, &h, vocab));
    }
    out
}

fn load(bytes: Vec<u8>) -> Result<Model, ModelError> {
    Model::from_gguf(gguf::GgufFile::from_bytes("tiny.gguf", bytes)?)
}

#[test]
fn forward_matches_naive_reference_for_every_arch() {
    let pool = kernels::ThreadPool::new(2);
    let tokens: Vec<u32> = vec![1, 5, 9, 3, 17, 22, 8, 39, 0, 12];
    for arch in ["llama", "qwen2", "gemma3"] {
        for tied in [false, true] {
            let (bytes, ws) = tiny(arch, 7, tied);
            let m = load(bytes).unwrap();
            let want = reference(arch, &ws, &tokens, tied);
            let mut s = m.session(32, 4).unwrap();
            m.forward(&pool, &mut s, &tokens, Logits::All).unwrap();
            let got = s.all_logits();
            for (t, row) in want.iter().enumerate() {
                for (i, &w) in row.iter().enumerate() {
                    let g = got[t * DIMS.vocab + i];
                    assert!(
                        (g - w).abs() < 2e-3 * (1.0 + w.abs()),
                        "{arch} tied={tied} pos {t} id {i}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn chunking_and_incremental_decode_give_identical_logits() {
    let pool = kernels::ThreadPool::new(2);
    let tokens: Vec<u32> = (0..20).map(|i| (i * 7 + 3) % 40).collect();
    for arch in ["llama", "qwen2", "gemma3"] {
        let (bytes, _) = tiny(arch, 11, false);
        let m = load(bytes).unwrap();
        let mut whole = m.session(32, 64).unwrap();
        m.forward(&pool, &mut whole, &tokens, Logits::All).unwrap();
        let all = whole.all_logits().to_vec();
        for batch in [1, 3, 7] {
            let mut s = m.session(32, batch).unwrap();
            m.forward(&pool, &mut s, &tokens, Logits::All).unwrap();
            assert_eq!(s.all_logits(), &all[..], "{arch} batch {batch}");
        }
        // one token at a time, as decoding does
        let mut s = m.session(32, 8).unwrap();
        for (t, &tok) in tokens.iter().enumerate() {
            m.forward(&pool, &mut s, &[tok], Logits::Last).unwrap();
            assert_eq!(s.logits(), &all[t * 40..(t + 1) * 40], "{arch} step {t}");
        }
    }
}

#[test]
fn context_overflow_names_both_lengths() {
    let pool = kernels::ThreadPool::new(1);
    let (bytes, _) = tiny("llama", 3, true);
    let m = load(bytes).unwrap();
    let mut s = m.session(8, 4).unwrap();
    let e = m
        .forward(&pool, &mut s, &[1; 9], Logits::Last)
        .unwrap_err()
        .to_string();
    assert!(e.contains("9 tokens") && e.contains("holds 8"), "{e}");
    let e = m
        .forward(&pool, &mut s, &[99], Logits::Last)
        .unwrap_err()
        .to_string();
    assert!(e.contains("99") && e.contains("40"), "{e}");
}

#[test]
fn bad_models_are_clear_errors() {
    // unsupported architecture
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "mamba");
    w.add_f32("token_embd.weight", &[4, 4], &[0.0; 16]).unwrap();
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("\"mamba\"") && e.contains("not supported"),
        "{e}"
    );

    // missing tensor
    let (bytes, _) = tiny("llama", 1, true);
    let f = gguf::GgufFile::from_bytes("x", bytes).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    for t in &f.tensors {
        if t.name != "blk.1.ffn_up.weight" {
            w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
                .unwrap();
        }
    }
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("blk.1.ffn_up.weight") && e.contains("missing"),
        "{e}"
    );

    // unsupported tensor type
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    for t in &f.tensors {
        if t.name == "blk.0.attn_q.weight" {
            let n = t.n_elements();
            w.add_tensor(
                &t.name,
                &t.dims,
                GgmlType::IQ4_NL,
                vec![0; GgmlType::IQ4_NL.bytes_for(n).unwrap() as usize],
            )
            .unwrap();
        } else {
            w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
                .unwrap();
        }
    }
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("IQ4_NL") && e.contains("blk.0.attn_q.weight"),
        "{e}"
    );

    // bad metadata
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    w.set("llama.attention.head_count_kv", Value::U32(3));
    for t in &f.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
            .unwrap();
    }
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(e.contains("head_count_kv"), "{e}");

    // a tensor the architecture does not have (an output bias): refused,
    // not half-loaded
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    for t in &f.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
            .unwrap();
    }
    w.add_f32("blk.1.attn_output.bias", &[DIMS.d as u64], &[0.0; DIMS.d])
        .unwrap();
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("blk.1.attn_output.bias") && e.contains("llama"),
        "{e}"
    );

    // a mixture-of-experts file of a dense architecture's name
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    w.set("llama.expert_count", Value::U32(8));
    for t in &f.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
            .unwrap();
    }
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("expert_count") && e.contains("mixture-of-experts"),
        "{e}"
    );

    // a RoPE scaling hearth does not compute
    let mut w = GgufWriter::new();
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    w.set_str("llama.rope.scaling.type", "dynamic");
    for t in &f.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
            .unwrap();
    }
    let e = load(w.to_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("\"dynamic\"") && e.contains("rope.scaling.type"),
        "{e}"
    );
}

#[test]
fn batched_sequences_equal_each_alone() {
    use model::SeqInput;
    let pool = kernels::ThreadPool::new(2);
    for arch in ["llama", "qwen2", "gemma3"] {
        let (bytes, _) = tiny(arch, 5, false);
        let m = load(bytes).unwrap();
        let prompts: [&[u32]; 3] = [&[1, 2, 3, 4, 5, 6, 7], &[9, 8], &[30, 31, 32, 33]];
        // Alone: prefill, then three one-token steps feeding fixed tokens.
        let mut alone = Vec::new();
        for p in prompts {
            let mut s = m.session(32, 4).unwrap();
            m.forward(&pool, &mut s, p, Logits::Last).unwrap();
            let mut rows = vec![s.logits().to_vec()];
            for t in [11u32, 12, 13] {
                m.forward(&pool, &mut s, &[t], Logits::Last).unwrap();
                rows.push(s.logits().to_vec());
            }
            alone.push(rows);
        }
        // Batched: all prompts in one call (mixed lengths), then joint steps.
        let mut sessions: Vec<_> = (0..3).map(|_| m.session(32, 4).unwrap()).collect();
        let mut scratch = m.batch_scratch(16);
        {
            let mut seqs: Vec<SeqInput> = sessions
                .iter_mut()
                .zip(prompts)
                .map(|(sess, p)| SeqInput {
                    sess,
                    tokens: p,
                    logits: Logits::Last,
                })
                .collect();
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
        }
        for (i, s) in sessions.iter().enumerate() {
            assert_eq!(s.logits(), &alone[i][0][..], "{arch} seq {i} prefill");
        }
        for (step, t) in [11u32, 12, 13].iter().enumerate() {
            let toks = [*t];
            let mut seqs: Vec<SeqInput> = sessions
                .iter_mut()
                .map(|sess| SeqInput {
                    sess,
                    tokens: &toks,
                    logits: Logits::Last,
                })
                .collect();
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
            for (i, s) in sessions.iter().enumerate() {
                assert_eq!(
                    s.logits(),
                    &alone[i][step + 1][..],
                    "{arch} seq {i} step {step}"
                );
            }
        }
    }
}

/// Past its K/V the last layer runs only for the rows that want logits (the
/// others' output feeds nothing): a prompt's last-row logits — whole, chunked,
/// or after a prefill without logits — and every step after it equal what
/// computing every row gives, bit for bit, alone and batched.
#[test]
fn last_layer_skips_rows_without_changing_logits() {
    use model::SeqInput;
    let pool = kernels::ThreadPool::new(2);
    let tokens: Vec<u32> = (0..13).map(|i| (i * 5 + 2) % 40).collect();
    let n = tokens.len();
    let v = DIMS.vocab;
    for arch in ["llama", "qwen2", "gemma3"] {
        let (bytes, _) = tiny(arch, 17, false);
        let m = load(bytes).unwrap();
        // every row computed (Logits::All), then one more step
        let mut whole = m.session(32, 64).unwrap();
        m.forward(&pool, &mut whole, &tokens, Logits::All).unwrap();
        let last = whole.all_logits()[(n - 1) * v..n * v].to_vec();
        m.forward(&pool, &mut whole, &[7], Logits::Last).unwrap();
        let next = whole.logits().to_vec();
        for chunk in [4, 64] {
            let mut s = m.session(32, chunk).unwrap();
            m.forward(&pool, &mut s, &tokens, Logits::Last).unwrap();
            assert_eq!(s.logits(), &last[..], "{arch} chunk {chunk} prompt");
            m.forward(&pool, &mut s, &[7], Logits::Last).unwrap();
            assert_eq!(s.logits(), &next[..], "{arch} chunk {chunk} step");
        }
        let mut s = m.session(32, 64).unwrap();
        m.forward(&pool, &mut s, &tokens[..n - 1], Logits::None)
            .unwrap();
        m.forward(&pool, &mut s, &tokens[n - 1..], Logits::Last)
            .unwrap();
        assert_eq!(
            s.logits(),
            &last[..],
            "{arch} after a prefill without logits"
        );
        // batched: one sequence wants no logits, one wants its last row
        let mut a = m.session(32, 4).unwrap();
        let mut b = m.session(32, 4).unwrap();
        let mut scratch = m.batch_scratch(32);
        {
            let mut seqs = [
                SeqInput {
                    sess: &mut a,
                    tokens: &tokens[..n - 1],
                    logits: Logits::None,
                },
                SeqInput {
                    sess: &mut b,
                    tokens: &tokens,
                    logits: Logits::Last,
                },
            ];
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
        }
        assert_eq!(b.logits(), &last[..], "{arch} batched prompt");
        {
            let mut seqs = [
                SeqInput {
                    sess: &mut a,
                    tokens: &tokens[n - 1..],
                    logits: Logits::Last,
                },
                SeqInput {
                    sess: &mut b,
                    tokens: &[7],
                    logits: Logits::Last,
                },
            ];
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
        }
        assert_eq!(a.logits(), &last[..], "{arch} batched, after no logits");
        assert_eq!(b.logits(), &next[..], "{arch} batched step");
    }
}

/// Speculative decoding's verify step: a sequence's rows fed together with
/// `Logits::All` in a batched call (next to another sequence's one decode
/// row) give each row the logits decoding them one at a time gives, bit for
/// bit; and after `Session::truncate` drops rejected rows, feeding other
/// tokens at those positions gives what a session that never saw the
/// rejected ones gives.
#[test]
fn verify_rows_and_truncate_equal_plain_decoding() {
    use model::SeqInput;
    let pool = kernels::ThreadPool::new(2);
    let prompt: Vec<u32> = (0..9).map(|i| (i * 3 + 1) % 40).collect();
    let drafts: [u32; 5] = [5, 17, 23, 2, 38];
    let v = DIMS.vocab;
    for arch in ["llama", "qwen2", "gemma3"] {
        let (bytes, _) = tiny(arch, 23, false);
        let m = load(bytes).unwrap();
        // plain: the prompt, then each drafted token one at a time
        let mut plain = m.session(32, 8).unwrap();
        m.forward(&pool, &mut plain, &prompt, Logits::Last).unwrap();
        let mut rows = Vec::new();
        for &t in &drafts {
            m.forward(&pool, &mut plain, &[t], Logits::Last).unwrap();
            rows.extend_from_slice(plain.logits());
        }
        // verify: all drafted rows in one batched call, beside another sequence
        let mut s = m.session(32, 8).unwrap();
        let mut other = m.session(32, 8).unwrap();
        m.forward(&pool, &mut s, &prompt, Logits::Last).unwrap();
        m.forward(&pool, &mut other, &prompt[..4], Logits::Last)
            .unwrap();
        let mut scratch = m.batch_scratch(16);
        {
            let mut seqs = [
                SeqInput {
                    sess: &mut other,
                    tokens: &[7],
                    logits: Logits::Last,
                },
                SeqInput {
                    sess: &mut s,
                    tokens: &drafts,
                    logits: Logits::All,
                },
            ];
            m.forward_batch(&pool, &mut scratch, &mut seqs).unwrap();
        }
        assert_eq!(s.all_logits(), &rows[..], "{arch} verify rows");
        assert_eq!(s.logits(), &rows[(drafts.len() - 1) * v..], "{arch} last");
        // reject after the second draft: cut back, then feed another token
        s.truncate(prompt.len() + 2);
        m.forward(&pool, &mut s, &[11, 12], Logits::All).unwrap();
        let mut fresh = m.session(32, 8).unwrap();
        let mut seen = prompt.clone();
        seen.extend_from_slice(&drafts[..2]);
        m.forward(&pool, &mut fresh, &seen, Logits::None).unwrap();
        m.forward(&pool, &mut fresh, &[11, 12], Logits::All)
            .unwrap();
        assert_eq!(s.all_logits(), fresh.all_logits(), "{arch} after truncate");
        assert_eq!(s.tokens(), fresh.tokens(), "{arch} tokens");
    }
}
