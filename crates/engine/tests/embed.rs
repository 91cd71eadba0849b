//! Sentence embeddings against llama.cpp's (mean pooling of the output-norm
//! hidden states, L2-normalized; fixture made by
//! scripts/make-embedding-fixtures.py), and their basic properties.

use engine::{EngineError, LoadedModel, ThreadPool};

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

#[test]
fn embeddings_match_llama_cpp() {
    let fx: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test_models::fixtures_dir().join("reference/embeddings.json"))
            .unwrap(),
    )
    .unwrap();
    let pool = ThreadPool::new(2);
    let mut ran = 0;
    for (short, m) in fx["models"].as_object().unwrap() {
        let Some(path) = test_models::model(short) else {
            continue;
        };
        let lm = LoadedModel::load(path).unwrap();
        let mut got = Vec::new();
        for t in m["texts"].as_array().unwrap() {
            let want: Vec<f32> = t["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let e = lm.embed(&pool, t["text"].as_str().unwrap()).unwrap();
            assert_eq!(
                e.n_tokens as u64,
                t["n_tokens"].as_u64().unwrap(),
                "{short}: token count"
            );
            assert_eq!(e.vector.len(), want.len());
            let norm: f64 = cosine(&e.vector, &e.vector);
            assert!((norm - 1.0).abs() < 1e-4, "{short}: |e|^2 = {norm}");
            // the same direction as llama.cpp's (quantized kernels differ in
            // the last bits, so not bit for bit)
            let c = cosine(&e.vector, &want);
            assert!(
                c > 0.999,
                "{short} {:?}: cosine to llama.cpp {c}",
                t["text"]
            );
            got.push(e.vector);
        }
        // the paraphrase is closer than the unrelated sentence
        assert!(
            cosine(&got[0], &got[1]) > cosine(&got[0], &got[2]) + 0.1,
            "{short}"
        );
        // deterministic
        let again = lm
            .embed(&pool, m["texts"][0]["text"].as_str().unwrap())
            .unwrap();
        assert_eq!(again.vector, got[0]);
        assert!(matches!(
            lm.embed(&pool, "  "),
            Err(EngineError::EmptyPrompt)
        ));
        ran += 1;
    }
    if std::env::var_os("HEARTH_REQUIRE_MODELS").is_some() {
        assert_eq!(ran, 2, "both fixture models must be present");
    }
}
