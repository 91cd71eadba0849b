//! Sampling a token allocates nothing once the Sampler exists.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sampler::{Rng, Sampler, SamplingParams, StopMatcher};

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(|c| c.get())
}

#[test]
fn sample_and_accept_do_not_allocate() {
    let n = 32_000;
    let mut r = Rng::new(1);
    let logits: Vec<f32> = (0..n).map(|_| (r.next_f64() * 10.0 - 5.0) as f32).collect();
    let configs = [
        SamplingParams::default(),
        SamplingParams::greedy(),
        SamplingParams {
            repeat_penalty: 1.3,
            frequency_penalty: 0.2,
            presence_penalty: 0.1,
            ..SamplingParams::greedy()
        },
        SamplingParams {
            top_k: 0,
            top_p: 0.9,
            min_p: 0.0,
            repeat_penalty: 1.1,
            ..Default::default()
        },
        SamplingParams {
            top_k: 0,
            top_p: 0.999,
            min_p: 0.0,
            ..Default::default()
        },
        SamplingParams {
            top_k: 0,
            top_p: 1.0,
            min_p: 0.01,
            temperature: 1.5,
            ..Default::default()
        },
    ];
    for params in configs {
        let before_new = allocs();
        let mut s = Sampler::new(params.clone(), n);
        assert!(
            allocs() > before_new,
            "the counting allocator must see Sampler::new"
        );
        let before = allocs();
        for _ in 0..100 {
            s.sample_and_accept(&logits);
        }
        s.reset();
        s.sample_and_accept(&logits);
        assert_eq!(allocs() - before, 0, "{params:?}");
    }
}

/// Watching for stop strings allocates nothing per chunk once the held text
/// and the output have their capacity: emitted text, a held stop prefix, its
/// release, multi-byte characters.
#[test]
fn stop_matching_does_not_allocate() {
    let mut m = StopMatcher::new(vec!["<|end|>".into(), "ÉTÉ".into()]);
    let chunks = [" Hello", " <|", "en", "d", "x", " É", "T", "é", " world"];
    let mut out = String::with_capacity(1 << 16);
    for c in chunks {
        assert!(!m.push_into(c, &mut out));
    }
    let before = allocs();
    for _ in 0..100 {
        for c in chunks {
            assert!(!m.push_into(c, &mut out));
        }
    }
    assert_eq!(allocs() - before, 0);
    assert_eq!(out, " Hello <|endx ÉTé world".repeat(101));
    assert!(m.push_into("<|end|>", &mut out));
}
