//! The decode loop allocates nothing per token: after the first step (which
//! sizes the session's buffers), a one-token forward pass does no heap
//! allocation. Counted with a global allocator wrapper, on the threads doing
//! the work only (this test's thread and the pool's workers), so the test
//! harness's own threads cannot disturb the count.

use gguf::GgufWriter;
use model::{Logits, Model};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static TRACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn tracked() -> bool {
    TRACK.try_with(|t| t.get()).unwrap_or(false)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if tracked() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if tracked() {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A tiny llama, or (`moe`) a qwen3moe of 8 experts, 2 per token.
fn tiny(moe: bool) -> Model {
    let (d, ff, vocab, layers, ne) = (64u64, 128u64, 50u64, 2, 8u64);
    let arch = if moe { "qwen3moe" } else { "llama" };
    let k = |s: &str| format!("{arch}.{s}");
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", arch);
    w.set_u32(&k("block_count"), layers);
    w.set_u32(&k("context_length"), 256);
    w.set_u32(&k("embedding_length"), d as u32);
    w.set_u32(&k("feed_forward_length"), ff as u32);
    w.set_u32(&k("attention.head_count"), 4);
    w.set_u32(&k("attention.head_count_kv"), 2);
    if moe {
        w.set_u32(&k("expert_count"), ne as u32);
        w.set_u32(&k("expert_used_count"), 2);
        w.set_u32(&k("expert_feed_forward_length"), ff as u32);
    }
    let mut s = 1u32;
    let mut v = |n: u64| -> Vec<f32> {
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 9) as f32 / (1 << 23) as f32 - 0.5
            })
            .collect()
    };
    w.add_f32("token_embd.weight", &[d, vocab], &v(d * vocab))
        .unwrap();
    w.add_f32("output_norm.weight", &[d], &v(d)).unwrap();
    for i in 0..layers {
        let n = |x: &str| format!("blk.{i}.{x}");
        w.add_f32(&n("attn_norm.weight"), &[d], &v(d)).unwrap();
        w.add_f32(&n("ffn_norm.weight"), &[d], &v(d)).unwrap();
        w.add_f32(&n("attn_q.weight"), &[d, d], &v(d * d)).unwrap();
        w.add_f32(&n("attn_k.weight"), &[d, 32], &v(d * 32))
            .unwrap();
        w.add_f32(&n("attn_v.weight"), &[d, 32], &v(d * 32))
            .unwrap();
        w.add_f32(&n("attn_output.weight"), &[d, d], &v(d * d))
            .unwrap();
        if moe {
            w.add_f32(&n("attn_q_norm.weight"), &[16], &v(16)).unwrap();
            w.add_f32(&n("attn_k_norm.weight"), &[16], &v(16)).unwrap();
            w.add_f32(&n("ffn_gate_inp.weight"), &[d, ne], &v(d * ne))
                .unwrap();
            for (name, dims) in [
                ("ffn_gate_exps.weight", [d, ff, ne]),
                ("ffn_up_exps.weight", [d, ff, ne]),
                ("ffn_down_exps.weight", [ff, d, ne]),
            ] {
                w.add_f32(&n(name), &dims, &v(d * ff * ne)).unwrap();
            }
        } else {
            w.add_f32(&n("ffn_gate.weight"), &[d, ff], &v(d * ff))
                .unwrap();
            w.add_f32(&n("ffn_up.weight"), &[d, ff], &v(d * ff))
                .unwrap();
            w.add_f32(&n("ffn_down.weight"), &[ff, d], &v(d * ff))
                .unwrap();
        }
    }
    Model::from_gguf(gguf::GgufFile::from_bytes("alloc.gguf", w.to_bytes()).unwrap()).unwrap()
}

#[test]
fn decoding_a_token_allocates_nothing() {
    // one test for both (the counter is global): a dense model, and a
    // mixture of experts whose decode steps route to other experts
    for moe in [false, true] {
        decode_allocates_nothing(tiny(moe));
    }
}

fn decode_allocates_nothing(m: Model) {
    let pool = kernels::ThreadPool::new(2);
    // Make sure the worker thread has started (its start-up allocates its
    // name): run tasks until one ran off this thread.
    let main = std::thread::current().id();
    let off_main = std::sync::atomic::AtomicBool::new(false);
    while !off_main.load(Ordering::Relaxed) {
        pool.run(64, |_| {
            TRACK.with(|t| t.set(true));
            if std::thread::current().id() != main {
                off_main.store(true, Ordering::Relaxed);
            }
            std::thread::sleep(std::time::Duration::from_micros(50));
        });
    }
    let mut s = m.session(200, 16).unwrap();
    m.forward(&pool, &mut s, &[1, 2, 3], Logits::Last).unwrap();
    m.forward(&pool, &mut s, &[4], Logits::Last).unwrap();
    let before = ALLOCS.load(Ordering::Relaxed);
    for t in 0..100u32 {
        // positions 4..104 stay within the first KV-cache capacity (200 ≤ 256)
        m.forward(&pool, &mut s, &[t % 50], Logits::Last).unwrap();
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "{} allocations in 100 decode steps of a {}",
        after - before,
        m.config.arch.name()
    );
}
