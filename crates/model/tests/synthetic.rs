//! hearth against llama.cpp on synthetic models of today's decoder families
//! (Llama 3.x, Qwen3, Phi-3.5/4-mini, SmolLM3, Granite 3.x, Ministral 3,
//! Qwen3-MoE, gpt-oss, Qwen3.5 dense and MoE, Gemma 4 dense and MoE): real
//! architecture names, metadata keys, tensor names and vocabularies, random
//! weights (`scripts/make-synthetic-models.py`; `scripts/setup-synthetic-models.sh`
//! regenerates them bit for bit into `~/.cache/hearth/synthetic`), and
//! llama.cpp's logits on them as committed fixtures
//! (`scripts/make-synthetic-fixtures.py`, `tests/fixtures/synthetic/*.json`).
//!
//! For every model and every recorded sequence (some past 2,048 positions for
//! Llama 3, past the original context for Phi-3's long factors and Ministral's
//! temperature):
//! - at every position, for llama.cpp's top-4 ids, |hearth − llama.cpp| ≤
//!   the type's `max` and ≤ its `mean` on average ([`Bounds`]);
//! - hearth's top-1 is llama.cpp's wherever llama.cpp's top-2 margin is at
//!   least the type's `decisive` margin;
//! - the greedy continuation (one token per step, as generation runs) is
//!   llama.cpp's, up to a step where its top-2 margin is a near tie;
//!
//! and, hearth against itself, the sequence fed one token at a time and
//! batched with another sequence gives the same logits bit for bit.

use model::{Logits, Model, SeqInput};
use serde_json::Value;
use std::path::PathBuf;

/// How close hearth must be to llama.cpp for a weight type. The yardstick is
/// llama.cpp against itself: its flash-attention path and its standard one
/// (which the fixtures use) differ over the top-4 logits of the "medium" runs
/// by a mean of up to 0.018 and at most 0.17 with F32/F16 weights (on
/// smollm3-f16/-f32; these files' attention is sharp, so that positions
/// matter), and by a mean of 0.09–0.17 and up to 0.85 with quantized ones
/// (mistral3-q8_0 … smollm3-q4_k_m): quantizing activations to 8 bits
/// (Q8_0, Q8_K) turns the last-bit differences of any two attention sums
/// into whole-quantum flips. hearth's worst (printed with `--nocapture`) is a
/// mean of 0.015 and 0.098 for F32/F16, 0.17 and 0.86 for the quantized
/// files; the bounds leave about twice that.
struct Bounds {
    /// Largest |logit difference| allowed over llama.cpp's top-4 ids.
    max: f64,
    /// Largest mean |logit difference| allowed.
    mean: f64,
    /// A position whose llama.cpp top-2 margin is at least this is decisive.
    decisive: f64,
}

fn bounds(ty: &str, moe: bool) -> Bounds {
    match (ty, moe) {
        // F32 exact, F16 with activations rounded to f16 (as ggml does)
        ("F32", _) | ("F16", false) => Bounds {
            max: 0.2,
            mean: 0.03,
            decisive: 0.4,
        },
        // A mixture of experts: a routing choice within the last bits of a
        // tie may go the other way, changing that position's output and,
        // through its keys and values, the later positions' (llama.cpp
        // flips them between its own flash-attention and standard paths
        // too: on qwen3moe-f16 a mean of 0.019 and at most 0.96, on
        // qwen3moe-q8_0 / -q4_k_m means of 0.16 / 0.22 and at most 2.0 /
        // 1.5, at the same near ties hearth meets; measured on the quantized
        // files with sharp attention, before they took soft attention —
        // hearth's worst on today's: a mean of 0.17 and at most 1.2). F32
        // files have none.
        ("F16", true) => Bounds {
            max: 2.0,
            mean: 0.04,
            decisive: 0.25,
        },
        (_, true) => Bounds {
            max: 4.0,
            mean: 0.45,
            decisive: 1.5,
        },
        // 8-bit activations against 8-bit activations
        _ => Bounds {
            max: 1.5,
            mean: 0.3,
            decisive: 1.5,
        },
    }
}

/// A routing margin (`Session::route_margins`) below this is a near tie,
/// counted in the report. Such a position's logits are exempt from the
/// type's `max` bound (not from the mean, nor from the decisive top-1):
/// two implementations' router logits differ by more than the bits of F32
/// arithmetic once attention's f16 cache and summation orders have acted
/// (gemma4moe-f32: 2 of its 17 near ties, margins 0.007-0.008, flip an
/// expert against llama.cpp, moving that position's logits by up to 0.4).
const ROUTE_NEAR_TIE: f32 = 0.01;

/// A greedy step whose llama.cpp top-2 margin is below this is a near tie.
const NEAR_TIE: f64 = 0.5;

/// Rows per forward call when computing every position's logits.
const CHUNK: usize = 64;

fn fixtures() -> Vec<Value> {
    let dir = test_models::fixtures_dir().join("synthetic");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// llama.cpp's top-n of one position: (id, logit) pairs.
fn top(v: &Value) -> Vec<(usize, f64)> {
    v.as_array()
        .unwrap()
        .chunks(2)
        .map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_f64().unwrap()))
        .collect()
}

#[derive(Default)]
struct Stats {
    positions: usize,
    decisive: usize,
    decisive_same: usize,
    top1_same: usize,
    diffs: usize,
    diff_sum: f64,
    diff_max: f64,
    /// positions whose routing came within `ROUTE_NEAR_TIE` of a tie
    route_ties: usize,
    failures: Vec<String>,
}

/// Every position's logits of `tokens`, computed in chunks, each row handed
/// to `each(position, logits, routing margin)` (the margin infinite for a
/// dense model).
fn logits_all(
    m: &Model,
    pool: &kernels::ThreadPool,
    n_ctx: usize,
    tokens: &[u32],
    mut each: impl FnMut(usize, &[f32], f32),
) {
    let nv = m.config.n_vocab;
    let mut s = m.session(n_ctx, CHUNK).unwrap();
    for (ci, chunk) in tokens.chunks(CHUNK).enumerate() {
        m.forward(pool, &mut s, chunk, Logits::All).unwrap();
        let margins = s.route_margins();
        for (r, row) in s.all_logits().chunks(nv).enumerate() {
            each(
                ci * CHUNK + r,
                row,
                margins.get(r).copied().unwrap_or(f32::INFINITY),
            );
        }
    }
}

fn check_run(m: &Model, pool: &kernels::ThreadPool, b: &Bounds, run: &Value, st: &mut Stats) {
    let name = run["name"].as_str().unwrap();
    let n_ctx = run["n_ctx"].as_u64().unwrap() as usize;
    let tokens = ids(&run["tokens"]);
    let tops = run["top"].as_array().unwrap();
    assert_eq!(tops.len(), tokens.len());
    logits_all(m, pool, n_ctx, &tokens, |pos, row, margin| {
        let want = top(&tops[pos]);
        let route_tie = margin < ROUTE_NEAR_TIE;
        if route_tie {
            st.route_ties += 1;
        }
        st.positions += 1;
        let same = argmax(row) == want[0].0;
        st.top1_same += same as usize;
        if want[0].1 - want[1].1 >= b.decisive {
            st.decisive += 1;
            st.decisive_same += same as usize;
            if !same && st.failures.len() < 5 {
                st.failures.push(format!(
                    "{name} pos {pos}: top-1 {} (ours {}, logit {:.3}) with llama.cpp's margin {:.3}",
                    want[0].0,
                    argmax(row),
                    row[argmax(row)],
                    want[0].1 - want[1].1
                ));
            }
        }
        for &(id, logit) in &want {
            let d = (row[id] as f64 - logit).abs();
            st.diffs += 1;
            st.diff_sum += d;
            if d > st.diff_max {
                st.diff_max = d;
            }
            if d > b.max && !route_tie && st.failures.len() < 5 {
                st.failures.push(format!(
                    "{name} pos {pos} id {id}: logit {:.3}, llama.cpp {logit:.3}",
                    row[id]
                ));
            }
        }
    });

    // Greedy continuation, one token per step.
    if let Some(greedy) = run.get("greedy") {
        let want = ids(greedy);
        let steps = run["greedy_top"].as_array().unwrap();
        let prompt = run["prompt"].as_u64().unwrap() as usize;
        let mut s = m.session(n_ctx, CHUNK).unwrap();
        m.forward(pool, &mut s, &tokens[..prompt], Logits::Last)
            .unwrap();
        for (i, &w) in want.iter().enumerate() {
            let t = argmax(s.logits()) as u32;
            if t != w {
                let st2 = top(&steps[i]);
                let margin = st2[0].1 - st2[1].1;
                if margin >= NEAR_TIE {
                    st.failures.push(format!(
                        "{name}: greedy token {i} is {t}, llama.cpp's {w} (its margin {margin:.3})"
                    ));
                }
                break;
            }
            m.forward(pool, &mut s, &[t], Logits::Last).unwrap();
        }
    }
}

/// hearth against itself: a sequence's logits one token at a time, in one
/// chunk, and batched with another sequence are the same bits.
fn check_determinism(m: &Model, pool: &kernels::ThreadPool, run: &Value) {
    let n_ctx = run["n_ctx"].as_u64().unwrap() as usize;
    let tokens = ids(&run["tokens"]);
    let tokens = &tokens[..tokens.len().min(24)];
    let other: Vec<u32> = tokens.iter().rev().copied().collect();
    let nv = m.config.n_vocab;
    let mut whole = m.session(n_ctx, 64).unwrap();
    m.forward(pool, &mut whole, tokens, Logits::All).unwrap();
    let all = whole.all_logits().to_vec();
    let mut one = m.session(n_ctx, 64).unwrap();
    for (t, &tok) in tokens.iter().enumerate() {
        m.forward(pool, &mut one, &[tok], Logits::Last).unwrap();
        assert_eq!(
            one.logits(),
            &all[t * nv..(t + 1) * nv],
            "one token at a time, step {t}"
        );
    }
    // batched: the first half of both sequences together, then the rest
    // one token per step together
    let (mut a, mut b) = (m.session(n_ctx, 8).unwrap(), m.session(n_ctx, 8).unwrap());
    let mut scratch = m.batch_scratch(64);
    let h = tokens.len() / 2;
    for t in h - 1..tokens.len() {
        let (ta, tb) = if t + 1 == h {
            (&tokens[..h], &other[..h])
        } else {
            (&tokens[t..t + 1], &other[t..t + 1])
        };
        let mut seqs = [
            SeqInput {
                sess: &mut a,
                tokens: ta,
                logits: Logits::Last,
            },
            SeqInput {
                sess: &mut b,
                tokens: tb,
                logits: Logits::Last,
            },
        ];
        m.forward_batch(pool, &mut scratch, &mut seqs).unwrap();
        assert_eq!(
            a.logits(),
            &all[t * nv..(t + 1) * nv],
            "batched, position {t}"
        );
    }
}

fn check_family(family: &str) {
    let pool = kernels::ThreadPool::new(kernels::default_threads());
    let mut seen = 0;
    // HEARTH_SYNTHETIC_ONLY=name[,name...] checks only those models
    let only = std::env::var("HEARTH_SYNTHETIC_ONLY").unwrap_or_default();
    // a family's test is named as the family, `_` for `-` (gpt_oss)
    let named =
        |f: &Value| f["family"].as_str().map(|s| s.replace('-', "_")) == Some(family.into());
    for fx in fixtures().iter().filter(|f| named(f)) {
        seen += 1;
        if !only.is_empty() && !only.split(',').any(|n| fx["model"] == n) {
            continue;
        }
        let file = fx["file"].as_str().unwrap();
        let Some(path) = test_models::synthetic(file) else {
            continue;
        };
        let m = Model::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(m.config.arch.name(), fx["arch"].as_str().unwrap());
        let ty = fx["type"].as_str().unwrap();
        let b = bounds(ty, m.config.moe.is_some());
        let mut st = Stats::default();
        let runs = fx["runs"].as_array().unwrap();
        for run in runs {
            check_run(&m, &pool, &b, run, &mut st);
        }
        check_determinism(&m, &pool, &runs[0]);
        let mean = st.diff_sum / st.diffs as f64;
        eprintln!(
            "{file}: {} positions, top-1 {}/{}, decisive {}/{}; |logit diff| mean {mean:.4} max {:.4} (bounds {} / {}){}",
            st.positions,
            st.top1_same,
            st.positions,
            st.decisive_same,
            st.decisive,
            st.diff_max,
            b.mean,
            b.max,
            if m.config.moe.is_some() {
                format!("; routing near ties at {} positions", st.route_ties)
            } else {
                String::new()
            }
        );
        if mean > b.mean {
            st.failures
                .push(format!("mean |logit diff| {mean:.4} > {}", b.mean));
        }
        assert!(
            st.failures.is_empty(),
            "{file}:\n{}",
            st.failures.join("\n")
        );
    }
    assert!(seen > 0, "no fixtures of family {family}");
}

macro_rules! families {
    ($($f:ident),* $(,)?) => {
        /// The families with a test below.
        const FAMILIES: &[&str] = &[$(stringify!($f)),*];
        $(
            #[test]
            fn $f() {
                check_family(stringify!($f));
            }
        )*
    };
}

families!(
    llama3, qwen3, phi3, smollm3, granite, mistral3, qwen3moe, gpt_oss, qwen35, qwen35moe, gemma4,
    gemma4moe
);

#[test]
fn every_fixture_family_is_tested() {
    for fx in fixtures() {
        let f = fx["family"].as_str().unwrap();
        assert!(
            FAMILIES.contains(&f.replace('-', "_").as_str()),
            "{}: family {f} has no test (add it to families!)",
            fx["file"]
        );
    }
}

/// Gemma 4's sessions keep a cache only for the layers with K/V of their
/// own, each at its width: cutting a session back and copying another's
/// prefix give the logits of computing the tokens afresh.
#[test]
fn gemma4_prefix_reuse() {
    let Some(path) = test_models::synthetic("gemma4-f32.gguf") else {
        return;
    };
    let m = Model::load(&path).unwrap();
    let g = m.config.gemma4.as_ref().unwrap();
    assert!((0..m.config.n_layer).any(|il| g.kv_source[il] != il));
    let pool = kernels::ThreadPool::new(2);
    let tokens: Vec<u32> = (0..40).map(|i| 1000 + 7919 * i % 200_000).collect();
    let mut whole = m.session(256, 64).unwrap();
    m.forward(&pool, &mut whole, &tokens, Logits::All).unwrap();
    let nv = m.config.n_vocab;
    let want = whole.all_logits()[39 * nv..].to_vec();
    // cut back to 25 positions, then the rest again
    assert_eq!(whole.truncate(25), 25);
    m.forward(&pool, &mut whole, &tokens[25..], Logits::Last)
        .unwrap();
    assert_eq!(whole.logits(), &want[..], "after truncate");
    // another session takes the first 30 positions and computes the rest
    let mut other = m.session(256, 64).unwrap();
    assert_eq!(other.copy_prefix_from(&whole, 30), 30);
    m.forward(&pool, &mut other, &tokens[30..], Logits::Last)
        .unwrap();
    assert_eq!(other.logits(), &want[..], "after copy_prefix_from");
}

/// Qwen3.5's gated delta rule in its chunked form (what runs) against the
/// per-token form (ggml-cpu's order, `DeltaRule::PerToken`), through the
/// whole model: a 100-token sequence fed in calls that do not line up with
/// the blocks (37, 1, 40, 22 tokens) gives every position's logits within
/// 1e-2 of the per-token form's (logits of up to ~30 on these files: 3e-4
/// of them; measured at most 1.9e-3 on qwen35-f32, 2.9e-3 on qwen35moe-f32,
/// where a head's values differ by ~3e-7 relative and the random layers
/// amplify it). Dropping the decay or β from the chunked form moves them by
/// whole units.
#[test]
fn qwen35_delta_rule_forms_agree() {
    for file in ["qwen35-f32.gguf", "qwen35moe-f32.gguf"] {
        let Some(path) = test_models::synthetic(file) else {
            continue;
        };
        let pool = kernels::ThreadPool::new(2);
        let chunked = Model::load(&path).unwrap();
        let mut per_token = Model::load(&path).unwrap();
        per_token.set_delta_rule(model::DeltaRule::PerToken);
        let tokens: Vec<u32> = (0..100).map(|i| 1000 + 7919 * i % 150_000).collect();
        let logits = |m: &Model| {
            let mut s = m.session(256, 64).unwrap();
            let mut all = Vec::new();
            let mut a = 0;
            for b in [37, 38, 78, 100] {
                m.forward(&pool, &mut s, &tokens[a..b], Logits::All)
                    .unwrap();
                all.extend_from_slice(s.all_logits());
                a = b;
            }
            all
        };
        let (got, want) = (logits(&chunked), logits(&per_token));
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!("{file}: chunked vs per-token delta rule, max |logit diff| {worst:e}");
        assert!(worst <= 1e-2, "{file}: logits differ by {worst}");
        assert!(
            got != want,
            "{file}: the two forms should round differently"
        );
    }
}

/// A Qwen3.5 file whose convolution has no taps, or more than the engine
/// takes, is refused at load naming the key (not a panic in the first
/// prompt): the synthetic file with its `ssm.conv_kernel` patched.
#[test]
fn qwen35_conv_kernel_out_of_range_is_refused() {
    let Some(path) = test_models::synthetic("qwen35-f32.gguf") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let key = b"qwen35.ssm.conv_kernel";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("the key in the file")
        + key.len();
    // GGUF: the key's string, then its value type (4: u32), then the value
    assert_eq!(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()), 4);
    let load = |taps: u32| {
        let mut b = bytes.clone();
        b[at + 4..at + 8].copy_from_slice(&taps.to_le_bytes());
        Model::from_gguf(gguf::GgufFile::from_bytes("patched.gguf", b).unwrap())
    };
    assert!(load(4).is_ok(), "the file's own value loads");
    for taps in [0u32, 17, 1 << 20] {
        let e = match load(taps) {
            Ok(_) => panic!("taps {taps}: loaded"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains("ssm.conv_kernel") && e.contains(&taps.to_string()),
            "taps {taps}: {e}"
        );
    }
}
