//! hearth's embedding models (`bert`, `nomic-bert`) against llama.cpp on the
//! synthetic encoders of `scripts/make-synthetic-models.py` (real tensor
//! names, metadata keys and WordPiece vocabulary, random weights;
//! `scripts/setup-synthetic-models.sh` makes them in `~/.cache/hearth/synthetic`),
//! with llama.cpp's embeddings as committed fixtures
//! (`scripts/make-synthetic-embed-fixtures.py`, `tests/fixtures/synthetic/embed/`).
//!
//! For every model and text: the same token ids as llama.cpp, and an
//! embedding whose cosine to llama.cpp's is within the type's bound
//! ([`min_cosine`]); unit length; the same vector on a second call. Then the
//! mutation check as a test: with the token-type embedding left out, with
//! causal attention, without positions, or pooled the other way, the result
//! is outside the bound for some text, so each of those steps is proved by
//! the fixtures.

use engine::{EngineError, LoadedModel, ModelError, Prompt, ThreadPool};
use model::{EncodeKnobs, Pooling};
use serde_json::Value;
use std::path::PathBuf;

/// The smallest cosine to llama.cpp's embedding a weight type allows. F32 and
/// F16 compute the same products in another order (F16: activations rounded
/// to f16 as ggml does); Q8_0 quantizes activations to 8 bits, where two
/// sums that differ in the last bit can round to different quanta.
/// Measured: at worst 0.9999999 (F32, F16) and 0.99999995 (Q8_0).
fn min_cosine(ty: &str) -> f64 {
    match ty {
        "F32" | "F16" => 0.99999,
        _ => 0.9999,
    }
}

fn fixtures() -> Vec<Value> {
    let dir = test_models::fixtures_dir().join("synthetic/embed");
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

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// The fixture models of `family` present here, loaded, with their fixture.
fn models(family: &str) -> Vec<(LoadedModel, Value)> {
    let fx: Vec<Value> = fixtures()
        .into_iter()
        .filter(|f| f["family"] == family)
        .collect();
    assert!(!fx.is_empty(), "no fixtures of family {family}");
    fx.into_iter()
        .filter_map(|f| {
            let file = f["file"].as_str().unwrap();
            let path = test_models::synthetic(file)?;
            let lm = LoadedModel::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
            Some((lm, f))
        })
        .collect()
}

fn check_family(family: &str) {
    let pool = ThreadPool::new(2);
    for (lm, fx) in models(family) {
        let file = fx["file"].as_str().unwrap();
        let ty = fx["type"].as_str().unwrap();
        let bound = min_cosine(ty);
        assert!(lm.model.is_embedding(), "{file}");
        assert_eq!(lm.model.config.arch.name(), fx["arch"].as_str().unwrap());
        assert_eq!(
            lm.model.config.pooling.name(),
            fx["pooling"].as_str().unwrap(),
            "{file}: pooling"
        );
        let mut worst = 1.0f64;
        for t in fx["texts"].as_array().unwrap() {
            let text = t["text"].as_str().unwrap();
            let want = floats(&t["embedding"]);
            assert_eq!(
                lm.embed_input(text),
                ids(&t["tokens"]),
                "{file}: tokens of {text:?}"
            );
            let e = lm.embed(&pool, text).unwrap();
            assert_eq!(e.n_tokens, t["tokens"].as_array().unwrap().len());
            assert_eq!(e.vector.len(), want.len());
            let norm: f64 = e.vector.iter().map(|x| (*x as f64).powi(2)).sum();
            assert!((norm - 1.0).abs() < 1e-5, "{file}: |e|^2 = {norm}");
            let c = cosine(&e.vector, &want);
            worst = worst.min(c);
            assert!(
                c > bound,
                "{file} {text:?} ({} tokens): cosine to llama.cpp {c:.7} (bound {bound})",
                e.n_tokens
            );
            assert_eq!(
                lm.embed(&pool, text).unwrap().vector,
                e.vector,
                "{file}: deterministic"
            );
        }
        eprintln!("{file}: worst cosine to llama.cpp {worst:.8} (bound {bound})");
        // it does not generate: every generation path is refused, naming it
        for e in [
            lm.prompt_tokens(&Prompt::Raw("hi".into())).unwrap_err(),
            lm.session(64)
                .err()
                .expect("no session for an embedding model"),
        ] {
            assert!(
                matches!(e, EngineError::Model(ModelError::EmbeddingModel { .. }))
                    && e.to_string().contains("embedding model"),
                "{file}: {e}"
            );
        }
    }
}

/// `knobs` and `pooling` applied to the fixture's short texts (the long one
/// only costs time here): whether every embedding stays within the bound of
/// llama.cpp's, and the worst cosine.
fn agrees(
    lm: &LoadedModel,
    fx: &Value,
    pool: &ThreadPool,
    knobs: EncodeKnobs,
    pooling: Pooling,
) -> (bool, f64) {
    let bound = min_cosine(fx["type"].as_str().unwrap());
    let mut worst = 1.0f64;
    for t in fx["texts"].as_array().unwrap() {
        let tokens = ids(&t["tokens"]);
        if tokens.len() > 100 {
            continue;
        }
        let h = lm.model.encode_with(pool, &tokens, knobs).unwrap();
        let v = pooling.pool(&h, lm.model.config.n_embd);
        worst = worst.min(cosine(&v, &floats(&t["embedding"])));
    }
    (worst > bound, worst)
}

/// Each step matters: leaving it out puts some text outside the bound.
fn check_mutations(family: &str) {
    let pool = ThreadPool::new(2);
    for (lm, fx) in models(family) {
        let file = fx["file"].as_str().unwrap();
        let right = lm.model.config.pooling;
        let wrong = if right == Pooling::Mean {
            Pooling::Cls
        } else {
            Pooling::Mean
        };
        let base = EncodeKnobs::default();
        let (ok, worst) = agrees(&lm, &fx, &pool, base, right);
        assert!(ok, "{file}: unmutated worst cosine {worst}");
        let mutations = [
            (
                "no token types",
                EncodeKnobs {
                    no_token_types: true,
                    ..base
                },
                right,
            ),
            (
                "causal attention",
                EncodeKnobs {
                    force_causal: true,
                    ..base
                },
                right,
            ),
            (
                "no positions",
                EncodeKnobs {
                    no_positions: true,
                    ..base
                },
                right,
            ),
            ("wrong pooling", base, wrong),
        ];
        for (what, knobs, pooling) in mutations {
            let (ok, worst) = agrees(&lm, &fx, &pool, knobs, pooling);
            eprintln!("{file}: {what}: worst cosine {worst:.5}");
            assert!(!ok, "{file}: {what} still agrees with llama.cpp ({worst})");
        }
    }
}

#[test]
fn bert_matches_llama_cpp() {
    check_family("bert");
}

#[test]
fn nomic_bert_matches_llama_cpp() {
    check_family("nomic-bert");
}

#[test]
fn bert_steps_are_each_needed() {
    check_mutations("bert");
}

#[test]
fn nomic_bert_steps_are_each_needed() {
    check_mutations("nomic-bert");
}
