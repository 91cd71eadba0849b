//! The fuzz tests' shared harness (gguf's, tokenizer's and server's
//! `tests/fuzz.rs`): a small random number generator, the same sequence
//! everywhere, and how many cases to run with which seed.

/// SplitMix64: small, fast, and the same sequence everywhere. `Rng(seed)`.
pub struct Rng(pub u64);

impl Rng {
    /// The next number (not an `Iterator`: the sequence never ends).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One of `v` (not empty).
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

/// (cases, seed): `HEARTH_FUZZ_N` cases (default `default`) from seed
/// `HEARTH_FUZZ_SEED` (default `seed`, the test's own). A fixed seed and a
/// small number run in CI; `HEARTH_FUZZ_N=1000000` runs more by hand.
pub fn budget(default: u64, seed: u64) -> (u64, u64) {
    let n = std::env::var("HEARTH_FUZZ_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let seed = std::env::var("HEARTH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(seed);
    (n, seed)
}
