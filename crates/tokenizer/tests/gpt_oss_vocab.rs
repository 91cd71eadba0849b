//! gpt-oss's vocabulary (o200k_harmony: byte-level BPE with the `gpt-4o`
//! pre-tokenizer, 201,088 tokens, the harmony specials) against llama.cpp:
//! the synthetic gpt-oss file (`scripts/make-synthetic-models.py`, its
//! vocabulary built from tiktoken's o200k_base) and llama.cpp's tokenization
//! of a few texts on it, recorded by `scripts/make-synthetic-fixtures.py` in
//! `tests/fixtures/synthetic/gpt-oss-f32.json` (`tokenize`): plain text,
//! contractions and whitespace runs, code and digits, non-Latin scripts and
//! emoji, and harmony conversations (channels, a tool call) whose special
//! tokens must come out as single ids.

use serde_json::Value;
use tokenizer::Tokenizer;

fn fixture() -> Value {
    let p = test_models::fixtures_dir().join("synthetic/gpt-oss-f32.json");
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn o200k_harmony_matches_llama_cpp() {
    let fx = fixture();
    let Some(path) = test_models::synthetic(fx["file"].as_str().unwrap()) else {
        return;
    };
    let f = gguf::GgufFile::open(&path).unwrap();
    let tok = Tokenizer::from_gguf(&f).unwrap();
    let tk = &fx["tokenize"];
    assert_eq!(tok.n_vocab(), 201_088);
    assert_eq!(tok.pre(), "gpt-4o");
    assert_eq!(tok.bos(), tk["bos"].as_u64().map(|x| x as u32));
    assert_eq!(tok.eos(), tk["eos"].as_u64().map(|x| x as u32));
    let mut eog = tok.eog_ids().to_vec();
    eog.sort_unstable();
    assert_eq!(eog, ids(&tk["eog"]), "end-of-generation ids");
    for t in [
        "<|start|>",
        "<|channel|>",
        "<|message|>",
        "<|end|>",
        "<|call|>",
    ] {
        assert!(tok.token_id(t).is_some(), "{t} missing");
    }
    for case in tk["texts"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want = ids(&case["ids"]);
        let got = tok.encode(text, false, true);
        assert_eq!(got, want, "{text:?}");
        let back = String::from_utf8(tok.decode_bytes(&got, true)).unwrap();
        assert_eq!(back, text, "decoding {text:?} with specials");
    }
}
