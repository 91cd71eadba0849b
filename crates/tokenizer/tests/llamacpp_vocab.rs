//! llama.cpp's own tokenizer test pairs: the vocabulary-only GGUF files of
//! the `llama-cpp-python` sdist (`models/ggml-vocab-<name>.gguf`) with their
//! `.inp` (texts) and `.out` (token ids) files, as `tests/test-tokenizer-0.cpp`
//! reads them: texts separated by `\n__ggml_vocab_test__\n`, one line of
//! space-separated ids per text, tokenized with `add_special = false,
//! parse_special = false`. The sdist is fetched by
//! `scripts/fetch-llamacpp-sdist.sh` (see `test_models::llamacpp_dir`).

use tokenizer::Tokenizer;

/// A text and the ids llama.cpp gives it.
type Pair = (String, Vec<u32>);

/// The test pairs of one vocabulary, in file order.
fn read_pairs(name: &str) -> Option<(gguf::GgufFile, Vec<Pair>)> {
    let vocab = test_models::llamacpp_file(&format!("models/ggml-vocab-{name}.gguf"))?;
    let inp = std::fs::read(vocab.with_extension("gguf.inp")).expect("read .inp");
    let out = std::fs::read_to_string(vocab.with_extension("gguf.out")).expect("read .out");
    // The texts are bytes (test-tokenizer-0.cpp reads them as std::string);
    // every one of these files is valid UTF-8.
    let inp = String::from_utf8(inp).expect(".inp is UTF-8");
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        match rest.find(sep) {
            Some(p) => {
                texts.push(rest[..p].to_string());
                rest = &rest[p + sep.len()..];
            }
            None => {
                texts.push(rest.to_string());
                break;
            }
        }
    }
    let ids: Vec<Vec<u32>> = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().expect("id"))
                .collect()
        })
        .collect();
    assert_eq!(
        texts.len(),
        ids.len(),
        "{name}: .inp and .out disagree on the number of tests"
    );
    assert!(!texts.is_empty(), "{name}: no tests");
    let f = gguf::GgufFile::open(&vocab).expect("open vocab gguf");
    Some((f, texts.into_iter().zip(ids).collect()))
}

fn check(name: &str) {
    let Some((f, pairs)) = read_pairs(name) else {
        return;
    };
    let tok = Tokenizer::from_gguf(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut bad = Vec::new();
    for (text, want) in &pairs {
        let got = tok.encode(text, false, false);
        if &got != want {
            bad.push(format!("{text:?}\n   want {want:?}\n   got  {got:?}"));
        }
    }
    for b in &bad {
        eprintln!("MISMATCH {name}: {b}");
    }
    eprintln!(
        "{name}: {}/{} pairs match",
        pairs.len() - bad.len(),
        pairs.len()
    );
    assert!(
        bad.is_empty(),
        "{name}: {} of {} pairs differ from llama.cpp",
        bad.len(),
        pairs.len()
    );
}

macro_rules! vocab_tests {
    ($($fn_name:ident => $vocab:literal,)*) => {
        $(
            #[test]
            fn $fn_name() {
                check($vocab);
            }
        )*
    };
}

vocab_tests! {
    llama_bpe => "llama-bpe",
    llama_spm => "llama-spm",
    qwen2 => "qwen2",
    qwen35 => "qwen35",
    phi_3 => "phi-3",
    gemma_4 => "gemma-4",
    gpt_2 => "gpt-2",
    bert_bge => "bert-bge",
    deepseek_llm => "deepseek-llm",
    deepseek_coder => "deepseek-coder",
    command_r => "command-r",
    falcon => "falcon",
    starcoder => "starcoder",
    refact => "refact",
    mpt => "mpt",
}

/// Beyond the .inp/.out pairs: llama.cpp's special token ids, EOG set,
/// token_to_piece and encoding with special tokens added and parsed, for the
/// same vocabularies (tests/fixtures/tokenizer/vocabs.json, recorded by
/// scripts/make-vocab-fixtures.py with llama.cpp itself).
#[test]
fn specials_pieces_and_special_encoding_match_llama_cpp() {
    use serde_json::Value as J;
    let p = test_models::fixtures_dir().join("tokenizer/vocabs.json");
    let fx: J = serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).unwrap();
    let mut bad = Vec::new();
    for (name, v) in fx.as_object().unwrap() {
        let Some(path) = test_models::llamacpp_file(&format!("models/ggml-vocab-{name}.gguf"))
        else {
            return;
        };
        let f = gguf::GgufFile::open(&path).unwrap();
        let tok = Tokenizer::from_gguf(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
        let id = |k: &str| v["ids"][k].as_u64().map(|x| x as u32);
        let mut check = |what: String, ok: bool| {
            if !ok {
                bad.push(format!("{name}: {what}"));
            }
        };
        check(
            "n_vocab".into(),
            tok.n_vocab() as u64 == v["n_vocab"].as_u64().unwrap(),
        );
        for (k, got) in [
            ("bos", tok.bos()),
            ("eos", tok.eos()),
            ("eot", tok.eot()),
            ("sep", tok.sep()),
            ("pad", tok.pad()),
        ] {
            check(format!("{k}: want {:?} got {got:?}", id(k)), got == id(k));
        }
        let add_bos = v["add_bos"].as_bool().unwrap() && id("bos").is_some();
        check(format!("add_bos: want {add_bos}"), tok.add_bos() == add_bos);
        let eog: Vec<u32> = v["eog"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        check(
            format!("eog: want {eog:?} got {:?}", tok.eog_ids()),
            tok.eog_ids() == eog.as_slice(),
        );
        for p in v["pieces"].as_array().unwrap() {
            let t = p[0].as_u64().unwrap() as u32;
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let (plain, special) = (
                hex(tok.token_to_piece(t)),
                hex(tok.token_to_piece_special(t)),
            );
            check(
                format!(
                    "piece {t} {:?}: want {}/{} got {plain}/{special}",
                    tok.token_text(t),
                    p[1],
                    p[2]
                ),
                plain == p[1].as_str().unwrap() && special == p[2].as_str().unwrap(),
            );
        }
        for e in v["encode"].as_array().unwrap() {
            let (text, add, parse) = (
                e[0].as_str().unwrap(),
                e[1].as_bool().unwrap(),
                e[2].as_bool().unwrap(),
            );
            let want: Vec<u32> = e[3]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let got = tok.encode(text, add, parse);
            check(format!("encode {text:?} add_special={add} parse_special={parse}:\n   want {want:?}\n   got  {got:?}"), got == want);
        }
    }
    for b in &bad {
        eprintln!("MISMATCH {b}");
    }
    assert!(bad.is_empty(), "{} differences from llama.cpp", bad.len());
}

/// The llama-bpe vocabulary as a GGUF in memory with `tokenizer.ggml.pre`
/// replaced (what scripts/make-vocab-fixtures.py gave llama.cpp).
fn with_pre(f: &gguf::GgufFile, pre: &str) -> gguf::GgufFile {
    let mut w = gguf::GgufWriter::new();
    for key in [
        "general.architecture",
        "general.name",
        "tokenizer.ggml.model",
        "tokenizer.ggml.tokens",
        "tokenizer.ggml.token_type",
        "tokenizer.ggml.merges",
        "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id",
    ] {
        if let Some(v) = f.get(key) {
            w.set(key, v.clone());
        }
    }
    w.set_str("tokenizer.ggml.pre", pre);
    gguf::GgufFile::from_bytes("override.gguf", w.to_bytes()).expect("gguf")
}

/// Pre-tokenizers with no test vocabulary of their own (tekken, gpt-4o,
/// llama4, ...): llama.cpp's ids for the llama-bpe vocabulary with the name
/// replaced (tests/fixtures/tokenizer/pre-overrides.json).
#[test]
fn pre_tokenizers_without_test_vocabularies_match_llama_cpp() {
    use serde_json::Value as J;
    let p = test_models::fixtures_dir().join("tokenizer/pre-overrides.json");
    let fx: J = serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).unwrap();
    let base = fx["base"].as_str().unwrap();
    let Some(path) = test_models::llamacpp_file(&format!("models/ggml-vocab-{base}.gguf")) else {
        return;
    };
    let f = gguf::GgufFile::open(&path).unwrap();
    let texts: Vec<&str> = fx["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let ids = |v: &J| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let mut bad = Vec::new();
    for (pre, v) in fx["pre"].as_object().unwrap() {
        let tok = Tokenizer::from_gguf(&with_pre(&f, pre)).unwrap_or_else(|e| panic!("{pre}: {e}"));
        let bos = v["bos"].as_u64().map(|x| x as u32);
        if tok.bos() != bos || tok.add_bos() != (v["add_bos"].as_bool().unwrap() && bos.is_some()) {
            bad.push(format!(
                "{pre}: bos {:?}/{} want {bos:?}/{}",
                tok.bos(),
                tok.add_bos(),
                v["add_bos"]
            ));
        }
        for (i, want) in v["ids"].as_array().unwrap().iter().enumerate() {
            let (want, got) = (ids(want), tok.encode(texts[i], false, false));
            if got != want {
                bad.push(format!(
                    "{pre} {:?}\n   want {want:?}\n   got  {got:?}",
                    texts[i]
                ));
            }
        }
        for (i, want) in v["ids_special"].as_array().unwrap().iter().enumerate() {
            let (want, got) = (ids(want), tok.encode(texts[i], true, true));
            if got != want {
                bad.push(format!(
                    "{pre} add_special {:?}\n   want {want:?}\n   got  {got:?}",
                    texts[i]
                ));
            }
        }
    }
    // the splits themselves, from llama.cpp's expressions run by Python's re
    // on the collapsed text (ids alone can hide a split difference)
    for (name, stage) in [
        ("tekken", tokenizer::unicode::Stage::Tekken),
        ("gpt-4o", tokenizer::unicode::Stage::Gpt4o),
    ] {
        for (i, want) in fx["splits"][name].as_array().unwrap().iter().enumerate() {
            let want: Vec<&str> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            let got = tokenizer::unicode::split(texts[i], &[stage]);
            if got != want {
                bad.push(format!(
                    "{name} split {:?}\n   want {want:?}\n   got  {got:?}",
                    texts[i]
                ));
            }
        }
    }
    for b in &bad {
        eprintln!("MISMATCH {b}");
    }
    assert!(bad.is_empty(), "{} differences from llama.cpp", bad.len());
}
