//! Prebuilt weight panels (`Model::build_panel_caches`) on the real models:
//! a batched prefill and batched decode steps give the same logits, bit for
//! bit, with the panels as without them (qwen2.5-coder's Q5_0 and smollm2's
//! Q4_1 matrices have panels on AVX2; where this CPU's kernels have none the
//! build holds nothing and the comparison still runs).

use model::{Logits, Model, SeqInput};

fn run_batch(m: &Model, pool: &kernels::ThreadPool) -> Vec<Vec<f32>> {
    let prompts: Vec<Vec<u32>> = (0..8u32)
        .map(|i| (0..(5 + 3 * i)).map(|j| 100 + 37 * i + 11 * j).collect())
        .collect();
    let mut sessions: Vec<_> = (0..8).map(|_| m.session(64, 16).unwrap()).collect();
    let mut scratch = m.batch_scratch(prompts.iter().map(Vec::len).sum());
    let mut out = Vec::new();
    let mut seqs: Vec<SeqInput> = sessions
        .iter_mut()
        .zip(&prompts)
        .map(|(sess, p)| SeqInput {
            sess,
            tokens: p,
            logits: true,
        })
        .collect();
    m.forward_batch(pool, &mut scratch, &mut seqs).unwrap();
    drop(seqs);
    out.extend(sessions.iter().map(|s| s.logits().to_vec()));
    for step in 0..3u32 {
        let toks: Vec<[u32; 1]> = (0..8).map(|i| [200 + step * 8 + i]).collect();
        let mut seqs: Vec<SeqInput> = sessions
            .iter_mut()
            .zip(&toks)
            .map(|(sess, t)| SeqInput {
                sess,
                tokens: t,
                logits: true,
            })
            .collect();
        m.forward_batch(pool, &mut scratch, &mut seqs).unwrap();
        drop(seqs);
        out.extend(sessions.iter().map(|s| s.logits().to_vec()));
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
            && !std::is_x86_feature_detected!("avx512bw")
            && std::env::var_os("HEARTH_SIMD").is_none()
            && std::env::var_os("HEARTH_FORCE_SCALAR").is_none()
        {
            assert!(
                held > 0,
                "{short}: an AVX2 CPU has panels for its Q5_0/Q4_1 matrices"
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
