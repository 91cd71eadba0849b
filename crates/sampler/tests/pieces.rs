use sampler::pieces::{self, penalize, Candidates, PenaltyWindow};
use sampler::{argmax, log_softmax_top, Rng};

fn softmax_ref(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn ids(c: &Candidates) -> Vec<u32> {
    c.ids().collect()
}

#[test]
fn argmax_basic_and_ties() {
    assert_eq!(argmax(&[0.1, 3.0, -1.0, 2.9]), 1);
    // Ties: lowest id wins.
    assert_eq!(argmax(&[1.0, 5.0, 5.0, 5.0]), 1);
    assert_eq!(argmax(&[7.0, 7.0]), 0);
    // NaN is skipped; -inf is fine.
    assert_eq!(argmax(&[f32::NAN, f32::NEG_INFINITY, -3.0]), 2);
    assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
    assert_eq!(argmax(&[]), 0);
}

#[test]
fn top_k_keeps_k_best_sorted() {
    let logits = [0.5, 3.0, -1.0, 2.0, 3.0, 0.0, 1.5];
    let mut c = Candidates::from_logits(&logits);
    pieces::top_k(&mut c, 3);
    assert_eq!(c.len(), 3);
    assert!(c.sorted);
    // 3.0 (id 1), 3.0 (id 4), 2.0 (id 3): ties by lower id.
    assert_eq!(ids(&c), vec![1, 4, 3]);

    // k = 0 and k >= len are no-ops.
    let mut c = Candidates::from_logits(&logits);
    pieces::top_k(&mut c, 0);
    assert_eq!(c.len(), logits.len());
    pieces::top_k(&mut c, 100);
    assert_eq!(c.len(), logits.len());

    // Large vocab.
    let big: Vec<f32> = (0..50_000).map(|i| ((i * 7919) % 50_000) as f32).collect();
    let mut c = Candidates::from_logits(&big);
    pieces::top_k(&mut c, 40);
    assert_eq!(c.len(), 40);
    let mut want: Vec<(f32, u32)> = big
        .iter()
        .enumerate()
        .map(|(i, &l)| (l, i as u32))
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(ids(&c), want[..40].iter().map(|x| x.1).collect::<Vec<_>>());
}

#[test]
fn softmax_matches_reference() {
    let logits = [1.0, 2.0, 0.5, 3.0, -1.0];
    let mut c = Candidates::from_logits(&logits);
    pieces::softmax(&mut c);
    let want = softmax_ref(&logits);
    for t in &c.data {
        assert!((t.p as f64 - want[t.id as usize]).abs() < 1e-6);
    }
}

#[test]
fn top_p_cumulative_cut() {
    // Probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625 (logits = ln p).
    let probs = [0.125f32, 0.5, 0.0625, 0.25, 0.0625];
    let logits: Vec<f32> = probs.iter().map(|p| p.ln()).collect();
    let cut = |p: f32| {
        let mut c = Candidates::from_logits(&logits);
        pieces::top_p(&mut c, p, 1);
        ids(&c)
    };
    assert_eq!(cut(0.5), vec![1]); // 0.5 reaches 0.5 exactly
    assert_eq!(cut(0.6), vec![1, 3]); // 0.75
    assert_eq!(cut(0.75), vec![1, 3]);
    assert_eq!(cut(0.8), vec![1, 3, 0]); // 0.875
    assert_eq!(cut(0.9), vec![1, 3, 0, 2]); // 0.9375
    assert_eq!(cut(0.0), vec![1]); // min_keep = 1
    assert_eq!(cut(1.0).len(), 5); // off
                                   // min_keep forces more.
    let mut c = Candidates::from_logits(&logits);
    pieces::top_p(&mut c, 0.1, 3);
    assert_eq!(ids(&c), vec![1, 3, 0]);
}

#[test]
fn top_p_large_vocab_partial_and_full_sort_paths() {
    // Flat distribution over 5000 tokens: nucleus of 0.9 needs 4500 tokens,
    // more than the 256-token partial sort.
    let flat = vec![0.0f32; 5000];
    let mut c = Candidates::from_logits(&flat);
    pieces::top_p(&mut c, 0.9, 1);
    assert!((4499..=4501).contains(&c.len()), "{}", c.len());
    assert_eq!(ids(&c)[..3], [0, 1, 2]);
    // Peaked: nucleus inside the partial sort.
    let mut peaked = vec![0.0f32; 5000];
    peaked[4321] = 20.0;
    peaked[17] = 19.0;
    let mut c = Candidates::from_logits(&peaked);
    pieces::top_p(&mut c, 0.9, 1);
    assert_eq!(ids(&c), vec![4321, 17]);
}

#[test]
fn min_p_relative_cut() {
    // p relative to max: 1, 0.5, 0.1, 0.04 (logits = ln of those + const).
    let rel = [0.1f32, 1.0, 0.04, 0.5];
    let logits: Vec<f32> = rel.iter().map(|p| p.ln() + 3.0).collect();
    let cut = |p: f32| {
        let mut c = Candidates::from_logits(&logits);
        pieces::min_p(&mut c, p, 1);
        let mut v = ids(&c);
        v.sort();
        v
    };
    assert_eq!(cut(0.05), vec![0, 1, 3]);
    assert_eq!(cut(0.2), vec![1, 3]);
    assert_eq!(cut(0.6), vec![1]);
    assert_eq!(cut(0.01), vec![0, 1, 2, 3]);
    assert_eq!(cut(0.0), vec![0, 1, 2, 3]); // off
                                            // Order is preserved (input order here).
    let mut c = Candidates::from_logits(&logits);
    pieces::min_p(&mut c, 0.05, 1);
    assert_eq!(ids(&c), vec![0, 1, 3]);
}

#[test]
fn temperature_scales_and_zero_is_greedy() {
    let mut c = Candidates::from_logits(&[2.0, -4.0, 1.0]);
    pieces::temperature(&mut c, 0.5);
    let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
    assert_eq!(l, vec![4.0, -8.0, 2.0]);
    let mut c = Candidates::from_logits(&[2.0, 5.0, 5.0]);
    pieces::temperature(&mut c, 0.0);
    assert_eq!(ids(&c), vec![1]);
}

#[test]
fn penalty_formula() {
    // Repeat penalty divides positive logits, multiplies negative ones.
    assert_eq!(penalize(3.0, 1, 1.5, 0.0, 0.0), 2.0);
    assert_eq!(penalize(-3.0, 1, 1.5, 0.0, 0.0), -4.5);
    assert_eq!(penalize(0.0, 1, 1.5, 0.0, 0.0), 0.0);
    // Frequency subtracts count * f, presence subtracts once.
    assert_eq!(penalize(3.0, 4, 1.0, 0.25, 0.0), 2.0);
    assert_eq!(penalize(3.0, 4, 1.0, 0.0, 0.5), 2.5);
    assert_eq!(
        penalize(4.0, 2, 2.0, 0.5, 0.25),
        4.0 / 2.0 - (2.0 * 0.5 + 0.25)
    );
}

#[test]
fn penalty_window_counts_and_slides() {
    let mut w = PenaltyWindow::new(3, 10);
    for t in [1, 2, 1] {
        w.accept(t);
    }
    assert_eq!((w.count(1), w.count(2), w.count(3)), (2, 1, 0));
    w.accept(3); // evicts the first 1
    assert_eq!((w.count(1), w.count(2), w.count(3)), (1, 1, 1));
    w.accept(3); // evicts 2
    assert_eq!((w.count(1), w.count(2), w.count(3)), (1, 0, 2));
    assert_eq!(w.window().collect::<Vec<_>>(), vec![1, 3, 3]);
    w.accept(99); // out of vocab: ignored
    assert_eq!(w.window().count(), 3);
    w.reset();
    assert_eq!(w.count(3), 0);

    // Applying: only tokens in the window change.
    let mut w = PenaltyWindow::new(8, 4);
    for t in [0, 0, 2] {
        w.accept(t);
    }
    let mut c = Candidates::from_logits(&[2.0, 2.0, -1.0, 1.0]);
    w.apply(&mut c, 2.0, 0.1, 0.3);
    let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
    assert_eq!(
        l,
        vec![2.0 / 2.0 - (0.2 + 0.3), 2.0, -2.0 - (0.1 + 0.3), 1.0]
    );

    // last_n = 0 disables.
    let mut w = PenaltyWindow::new(0, 4);
    w.accept(1);
    assert_eq!(w.count(1), 0);
}

#[test]
fn sample_dist_follows_probabilities() {
    let logits = [1.0f32, 2.0, 0.5, 3.0, -1.0];
    let want = softmax_ref(&logits);
    let mut rng = Rng::new(42);
    let mut c = Candidates::with_capacity(logits.len());
    let n = 200_000;
    let mut hist = [0usize; 5];
    for _ in 0..n {
        c.fill(&logits);
        hist[pieces::sample_dist(&mut c, &mut rng) as usize] += 1;
    }
    for i in 0..5 {
        let f = hist[i] as f64 / n as f64;
        assert!(
            (f - want[i]).abs() < 0.01,
            "token {i}: freq {f} vs p {}",
            want[i]
        );
    }
}

#[test]
fn log_softmax_top_values() {
    let logits = [1.0f32, 2.0, 0.5, 3.0, -1.0];
    let want = softmax_ref(&logits);
    let top = log_softmax_top(&logits, 3);
    assert_eq!(top.iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 1, 0]);
    for (id, lp) in &top {
        assert!((*lp as f64 - want[*id as usize].ln()).abs() < 1e-5);
    }
    assert_eq!(log_softmax_top(&logits, 10).len(), 5);
    assert!(log_softmax_top(&logits, 0).is_empty());
    // Ties: lower id first; the probabilities sum to 1.
    let top = log_softmax_top(&[0.0, 0.0, 0.0, 0.0], 4);
    assert_eq!(
        top.iter().map(|x| x.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let s: f32 = top.iter().map(|x| x.1.exp()).sum();
    assert!((s - 1.0).abs() < 1e-6);
}

/// The vectorized argmax against a plain scan on vocabulary-sized rows with
/// NaNs, infinities, signed zeros and ties placed in every lane position and
/// in the tail.
#[test]
fn argmax_equals_a_plain_scan() {
    fn scan(l: &[f32]) -> u32 {
        let mut best: Option<(usize, f32)> = None;
        for (i, &x) in l.iter().enumerate() {
            if x.is_nan() {
                continue;
            }
            if best.is_none_or(|(_, b)| x > b) {
                best = Some((i, x));
            }
        }
        best.map_or(0, |b| b.0 as u32)
    }
    let mut rng = Rng::new(7);
    for case in 0..600 {
        let n = [1usize, 3, 15, 16, 17, 33, 1000, 151_936][case % 8];
        let mut l: Vec<f32> = (0..n)
            .map(|_| (rng.next_f64() as f32 - 0.5) * 40.0)
            .collect();
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 25.0];
        for _ in 0..(case % 5) {
            let at = (rng.next_u64() as usize) % n;
            l[at] = specials[(rng.next_u64() as usize) % specials.len()];
        }
        if case % 7 == 0 {
            // all NaN, or all -inf, in part or whole
            let v = if case % 2 == 0 {
                f32::NAN
            } else {
                f32::NEG_INFINITY
            };
            let upto = (rng.next_u64() as usize) % (n + 1);
            l[..upto].iter_mut().for_each(|x| *x = v);
        }
        assert_eq!(argmax(&l), scan(&l), "case {case}, n {n}");
    }
}

/// Found by the million-body request fuzz: Ollama's `repeat_last_n: -27`
/// (any negative: the whole context) became a window of `usize::MAX / 2`
/// whose up-front allocation overflowed and took the scheduler thread down.
#[test]
fn a_whole_context_penalty_window_allocates_as_it_goes() {
    let mut w = PenaltyWindow::new(usize::MAX / 2, 8);
    for t in [1, 2, 1] {
        w.accept(t);
    }
    assert_eq!((w.count(1), w.count(2), w.count(3)), (2, 1, 0));
    let mut c = Candidates::from_logits(&[1.0; 4]);
    w.apply(&mut c, 2.0, 0.0, 0.0);
    let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
    assert_eq!(l, vec![1.0, 0.5, 0.5, 1.0]);
}
