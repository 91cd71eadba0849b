//! The sampling pieces, each a small function over a [`Candidates`] list,
//! composable in any order (the [`crate::Sampler`] uses llama.cpp's default
//! order). None of them allocates: they work in place on the candidate list,
//! whose capacity is reserved once.

use std::cmp::Ordering;
use std::collections::VecDeque;

use crate::rng::{det_exp, Rng};

/// One candidate token: id, (possibly modified) logit, and probability
/// (valid only after [`softmax`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenData {
    pub id: u32,
    pub logit: f32,
    pub p: f32,
}

/// Descending logit, ties broken by ascending id: a total, deterministic order.
#[inline]
fn by_logit_desc(a: &TokenData, b: &TokenData) -> Ordering {
    b.logit.total_cmp(&a.logit).then(a.id.cmp(&b.id))
}

/// The working set of candidate tokens.
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    pub data: Vec<TokenData>,
    /// True when `data` is sorted by descending logit (ties: lower id first).
    pub sorted: bool,
}

impl Candidates {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            data: Vec::with_capacity(n),
            sorted: false,
        }
    }

    /// Reset to one candidate per logit, id = index. NaN logits become -inf
    /// so they can never be chosen while a finite logit exists.
    pub fn fill(&mut self, logits: &[f32]) {
        self.data.clear();
        self.data
            .extend(logits.iter().enumerate().map(|(i, &l)| TokenData {
                id: i as u32,
                logit: if l.is_nan() { f32::NEG_INFINITY } else { l },
                p: 0.0,
            }));
        self.sorted = false;
    }

    pub fn from_logits(logits: &[f32]) -> Self {
        let mut c = Self::with_capacity(logits.len());
        c.fill(logits);
        c
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.data.iter().map(|t| t.id)
    }

    /// Sort by descending logit (ties: lower id first). No allocation.
    pub fn sort(&mut self) {
        if !self.sorted {
            self.data.sort_unstable_by(by_logit_desc);
            self.sorted = true;
        }
    }

    /// Move the `k` best candidates to the front, sorted; the rest stay
    /// behind in unspecified order. `sorted` is not set (unless k >= len).
    fn partial_sort(&mut self, k: usize) {
        if self.sorted {
            return;
        }
        if k >= self.data.len() {
            self.sort();
            return;
        }
        if k == 0 {
            return;
        }
        self.data.select_nth_unstable_by(k - 1, by_logit_desc);
        self.data[..k].sort_unstable_by(by_logit_desc);
    }

    /// The best candidate (highest logit, lowest id on ties).
    pub fn best(&self) -> Option<TokenData> {
        if self.sorted {
            return self.data.first().copied();
        }
        let mut best: Option<TokenData> = None;
        for &t in &self.data {
            match best {
                None => best = Some(t),
                Some(b) if by_logit_desc(&t, &b) == Ordering::Less => best = Some(t),
                _ => {}
            }
        }
        best
    }
}

/// Compute `p` for every candidate as the softmax of the logits (in f64 with
/// a platform-independent exp, stored as f32). Order is unchanged.
pub fn softmax(c: &mut Candidates) {
    let Some(max) = c.best().map(|t| t.logit) else {
        return;
    };
    if max == f32::NEG_INFINITY {
        // Nothing finite: uniform over the candidates.
        let p = 1.0 / c.len() as f32;
        c.data.iter_mut().for_each(|t| t.p = p);
        return;
    }
    let mut sum = 0.0f64;
    for t in c.data.iter_mut() {
        let e = det_exp(t.logit as f64 - max as f64);
        t.p = e as f32;
        sum += e;
    }
    let inv = 1.0 / sum;
    for t in c.data.iter_mut() {
        t.p = (t.p as f64 * inv) as f32;
    }
}

/// Add `bias` to the listed tokens' logits. Needs the candidates as
/// [`Candidates::fill`] left them (index = token id); ids past them are ignored.
pub fn logit_bias(c: &mut Candidates, bias: &[(u32, f32)]) {
    assert!(!c.sorted, "logit_bias needs the candidates in id order");
    for &(id, b) in bias {
        if let Some(t) = c.data.get_mut(id as usize) {
            debug_assert_eq!(t.id, id);
            t.logit += b;
        }
    }
}

/// Keep the `k` highest-logit candidates (sorted). `k == 0` is a no-op.
pub fn top_k(c: &mut Candidates, k: usize) {
    if k == 0 || k >= c.len() {
        return;
    }
    c.partial_sort(k);
    c.data.truncate(k);
    c.sorted = true;
}

/// Nucleus sampling: keep the smallest prefix of the sorted candidates whose
/// probability sum is `>= p` (and at least `min_keep`). `p >= 1` is a no-op.
/// Leaves the list sorted with `p` set (from the softmax over the candidates
/// present before the cut; not renormalized).
pub fn top_p(c: &mut Candidates, p: f32, min_keep: usize) {
    if p >= 1.0 || c.is_empty() {
        return;
    }
    softmax(c);
    let min_keep = min_keep.max(1);
    // Large unsorted lists: the nucleus is usually inside the top 256, so try
    // a partial sort first and fall back to a full sort.
    let mut sorted_prefix = c.len();
    if !c.sorted && c.len() > 1024 {
        sorted_prefix = 256;
        c.partial_sort(sorted_prefix);
    } else {
        c.sort();
    }
    let mut cum = 0.0f64;
    let mut keep = c.len();
    for i in 0..c.len() {
        if i == sorted_prefix {
            // The nucleus is larger than the partially sorted prefix.
            c.sort();
            sorted_prefix = c.len();
        }
        cum += c.data[i].p as f64;
        if cum >= p as f64 && i + 1 >= min_keep {
            keep = i + 1;
            break;
        }
    }
    // data[..keep] is sorted: either keep <= sorted_prefix, or the loop ran
    // past the prefix and fully sorted the list.
    c.data.truncate(keep);
    c.sorted = true;
}

/// Keep candidates whose probability is `>= p * p_max`, i.e. whose logit is
/// `>= max_logit + ln(p)` (and at least `min_keep`). `p <= 0` is a no-op.
/// Order (and the `sorted` flag) is preserved.
pub fn min_p(c: &mut Candidates, p: f32, min_keep: usize) {
    if p <= 0.0 || c.is_empty() {
        return;
    }
    let max = c.best().map(|t| t.logit).unwrap_or(f32::NEG_INFINITY);
    let threshold = max + p.ln();
    let passing = c.data.iter().filter(|t| t.logit >= threshold).count();
    if passing >= min_keep.max(1) {
        c.data.retain(|t| t.logit >= threshold);
    } else {
        top_k(c, min_keep.max(1));
    }
}

/// Divide logits by `t`. `t <= 0` keeps only the best candidate (greedy).
pub fn temperature(c: &mut Candidates, t: f32) {
    if c.is_empty() {
        return;
    }
    if t <= 0.0 {
        top_k(c, 1);
        return;
    }
    if t != 1.0 {
        for d in c.data.iter_mut() {
            d.logit /= t;
        }
    }
}

/// Draw one candidate from the softmax of the current logits using `rng`.
/// Consumes exactly one `u64` from the generator.
pub fn sample_dist(c: &mut Candidates, rng: &mut Rng) -> u32 {
    let u = rng.next_f64();
    if c.is_empty() {
        return 0;
    }
    softmax(c);
    let mut cum = 0.0f64;
    let mut total = 0.0f64;
    for t in &c.data {
        total += t.p as f64;
    }
    let target = u * total;
    for t in &c.data {
        cum += t.p as f64;
        if target < cum {
            return t.id;
        }
    }
    // Rounding: fall back to the last candidate with non-zero probability.
    c.data
        .iter()
        .rev()
        .find(|t| t.p > 0.0)
        .unwrap_or(&c.data[0])
        .id
}

/// Repeat / presence / frequency penalties over the last `last_n` accepted
/// tokens (llama.cpp semantics). Counts live in a dense per-vocab table, so
/// accepting and applying allocate nothing.
#[derive(Debug, Clone)]
pub struct PenaltyWindow {
    last_n: usize,
    window: VecDeque<u32>,
    counts: Vec<u32>,
}

impl PenaltyWindow {
    /// `last_n` may be huge ("the whole context", as Ollama's
    /// `repeat_last_n: -1` is read): the window grows as tokens come, from
    /// a bounded first allocation.
    pub fn new(last_n: usize, n_vocab: usize) -> Self {
        Self {
            last_n,
            window: VecDeque::with_capacity(last_n.min(4096)),
            counts: vec![0; if last_n == 0 { 0 } else { n_vocab }],
        }
    }

    /// Record a token. Tokens `>= n_vocab` are ignored.
    pub fn accept(&mut self, token: u32) {
        if self.last_n == 0 || token as usize >= self.counts.len() {
            return;
        }
        if self.window.len() == self.last_n {
            if let Some(old) = self.window.pop_front() {
                self.counts[old as usize] -= 1;
            }
        }
        self.window.push_back(token);
        self.counts[token as usize] += 1;
    }

    pub fn reset(&mut self) {
        self.window.clear();
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// How often `token` occurs in the window.
    pub fn count(&self, token: u32) -> u32 {
        self.counts.get(token as usize).copied().unwrap_or(0)
    }

    /// The tokens in the window, oldest first.
    pub fn window(&self) -> impl Iterator<Item = u32> + '_ {
        self.window.iter().copied()
    }

    /// Apply the penalties to every candidate seen in the window:
    /// `logit > 0 → logit / repeat`, `logit <= 0 → logit * repeat`, then
    /// `logit -= count * frequency + presence`.
    pub fn apply(&self, c: &mut Candidates, repeat: f32, frequency: f32, presence: f32) {
        if self.window.is_empty() {
            return;
        }
        for t in c.data.iter_mut() {
            let count = self.count(t.id);
            if count == 0 {
                continue;
            }
            t.logit = penalize(t.logit, count, repeat, frequency, presence);
        }
        c.sorted = false;
    }
}

/// The penalty formula for one logit of a token seen `count > 0` times.
pub fn penalize(logit: f32, count: u32, repeat: f32, frequency: f32, presence: f32) -> f32 {
    let l = if logit <= 0.0 {
        logit * repeat
    } else {
        logit / repeat
    };
    l - (count as f32 * frequency + presence)
}
