//! Prebuilt weight panels (`Model::build_panel_caches`) on the real models:
//! a batched prefill and batched decode steps give the same logits, bit for
//! bit, with the panels as without them (qwen2.5-coder's Q5_0 and smollm2's
//! Q4_1 matrices have panels on AVX2; where this CPU's kernels have none the
//! build holds nothing and the comparison still runs).

use model::{Logits, Model, PanelScope, SeqInput};

/// One batched forward call: sequence `i` gets `tokens[i]`; returns each
/// sequence's logits.
fn step(
    m: &Model,
    pool: &kernels::ThreadPool,
    scratch: &mut model::Scratch,
    sessions: &mut [model::Session],
    tokens: &[&[u32]],
) -> Vec<Vec<f32>> {
    let mut seqs: Vec<SeqInput> = sessions
        .iter_mut()
        .zip(tokens)
        .map(|(sess, &tokens)| SeqInput {
            sess,
            tokens,
            logits: Logits::Last,
        })
        .collect();
    m.forward_batch(pool, scratch, &mut seqs).unwrap();
    drop(seqs);
    sessions.iter().map(|s| s.logits().to_vec()).collect()
}

fn run_batch(m: &Model, pool: &kernels::ThreadPool) -> Vec<Vec<f32>> {
    let prompts: Vec<Vec<u32>> = (0..8u32)
        .map(|i| (0..(5 + 3 * i)).map(|j| 100 + 37 * i + 11 * j).collect())
        .collect();
    let mut sessions: Vec<_> = (0..8).map(|_| m.session(64, 16).unwrap()).collect();
    let mut scratch = m.batch_scratch(prompts.iter().map(Vec::len).sum());
    let refs: Vec<&[u32]> = prompts.iter().map(Vec::as_slice).collect();
    let mut out = step(m, pool, &mut scratch, &mut sessions, &refs);
    for s in 0..3u32 {
        let toks: Vec<[u32; 1]> = (0..8).map(|i| [200 + s * 8 + i]).collect();
        let refs: Vec<&[u32]> = toks.iter().map(|t| t.as_slice()).collect();
        out.extend(step(m, pool, &mut scratch, &mut sessions, &refs));
    }
    out
}

#[test]
fn panels_change_no_bit() {
    let pool = kernels::ThreadPool::new(2);
    for short in ["qwen2.5-coder-0.5b", "smollm2-135m"] {
        let Some(path) = test_models::model(short) else {
            eprintln!("skipping {short}: not fetched (scripts/fetch-test-models.sh)");
            continue;
        };
        let plain = Model::load(&path).unwrap();
        let want = run_batch(&plain, &pool);
        // one row alone agrees too (decode of a single sequence never reads panels)
        let mut s = plain.session(64, 16).unwrap();
        plain
            .forward(&pool, &mut s, &[100, 111, 122, 133, 144], Logits::Last)
            .unwrap();
        assert_eq!(s.logits(), &want[0][..], "{short}: batched vs alone");
        drop(plain);

        let m = Model::load(&path).unwrap();
        let expect = m.panel_cache_bytes();
        let held = m.build_panel_caches(&pool).unwrap();
        assert_eq!(held, expect, "{short}: built what was estimated");
        assert_eq!(
            m.build_panel_caches(&pool).unwrap(),
            held,
            "a second build holds the same"
        );
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2")
            && (!std::is_x86_feature_detected!("avx512bw")
                || std::is_x86_feature_detected!("avx512vnni"))
            && std::env::var_os("HEARTH_SIMD").is_none()
            && std::env::var_os("HEARTH_FORCE_SCALAR").is_none()
        {
            assert!(
                held > 0,
                "{short}: an AVX2 or AVX-512 VNNI CPU has panels for its Q5_0/Q4_1 matrices"
            );
        }
        let got = run_batch(&m, &pool);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let same = g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{short}: logits row {i} differ with panels");
        }
    }
}

/// A mixture of experts with the panels of all but its routed experts (what
/// a machine gets when the whole cache does not fit: `PanelScope::Dense`):
/// the same logits, bit for bit, as without panels, the routed experts'
/// few rows decoded row by row beside cached attention and vocabulary.
#[test]
fn a_mixtures_dense_panels_change_no_bit() {
    let Some(path) = test_models::synthetic("qwen3moe-q4_k_m.gguf") else {
        return;
    };
    let pool = kernels::ThreadPool::new(2);
    let plain = Model::load(&path).unwrap();
    let want = run_batch(&plain, &pool);
    drop(plain);
    let m = Model::load(&path).unwrap();
    let (all, dense) = (
        m.panel_cache_bytes(),
        m.panel_cache_bytes_of(PanelScope::Dense),
    );
    // the routed experts (Q4_K/Q6_K) have panels wherever the rest do
    assert!(
        dense <= all && (all == 0 || dense < all),
        "dense {dense}, all {all}"
    );
    let held = m.build_panel_caches_of(&pool, PanelScope::Dense).unwrap();
    assert_eq!(held, dense, "built what was estimated");
    let got = run_batch(&m, &pool);
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let same = g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "logits row {i} differ with the dense panels");
    }
}
