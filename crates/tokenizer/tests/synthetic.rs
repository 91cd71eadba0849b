//! Tiny vocab-only GGUF files built in memory: bad-metadata errors and basic
//! SPM / BPE behaviour without any real model.

use gguf::{f32_array, i32_array, str_array, GgufFile, GgufWriter, Value};
use tokenizer::{ChatTemplate, Message, RenderedChat, StreamDecoder, Tokenizer, TokenizerError};

fn file(w: &GgufWriter) -> GgufFile {
    GgufFile::from_bytes("test.gguf", w.to_bytes()).expect("valid gguf")
}

/// SPM vocab: <unk> <s> </s>, 256 byte tokens, then pieces.
fn spm_writer(extra: &[(&str, f32, i32)]) -> GgufWriter {
    let mut toks = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
    let mut scores = vec![0.0f32; 3];
    let mut types = vec![2, 3, 3];
    for b in 0..256 {
        toks.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(6);
    }
    for (t, s, ty) in extra {
        toks.push(t.to_string());
        scores.push(*s);
        types.push(*ty);
    }
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "llama");
    w.set_str("tokenizer.ggml.model", "llama");
    w.set("tokenizer.ggml.tokens", str_array(&toks));
    w.set("tokenizer.ggml.scores", f32_array(&scores));
    w.set("tokenizer.ggml.token_type", i32_array(&types));
    w
}

fn spm() -> Tokenizer {
    let w = spm_writer(&[
        ("▁", -1.0, 1),
        ("a", -2.0, 1),
        ("b", -2.0, 1),
        ("▁a", -0.5, 1),
        ("ab", -0.7, 1),
        ("▁ab", -0.1, 1),
        ("<|im_start|>", 0.0, 3),
        ("<|im_end|>", 0.0, 3),
        ("é", -3.0, 1),
    ]);
    Tokenizer::from_gguf(&file(&w)).unwrap()
}

/// Byte-level BPE vocab: the 256 GPT-2 byte chars then merges.
fn bpe_writer(pre: &str) -> GgufWriter {
    let map = tokenizer::unicode::byte_to_unicode();
    let mut toks: Vec<String> = map.iter().map(|c| c.to_string()).collect();
    let g = map[b' ' as usize];
    for t in [
        "ab",
        &format!("{g}a"),
        &format!("{g}ab"),
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
    ] {
        toks.push(t.to_string());
    }
    let merges = vec![format!("{g} a"), format!("{g}a b"), "a b".to_string()];
    let mut types = vec![1i32; toks.len()];
    let n = types.len();
    types[n - 3] = 3;
    types[n - 2] = 3;
    types[n - 1] = 3;
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "qwen2");
    w.set_str("tokenizer.ggml.model", "gpt2");
    w.set_str("tokenizer.ggml.pre", pre);
    w.set("tokenizer.ggml.tokens", str_array(&toks));
    w.set("tokenizer.ggml.merges", str_array(&merges));
    w.set("tokenizer.ggml.token_type", i32_array(&types));
    w.set_u32("tokenizer.ggml.eos_token_id", (n - 3) as u32);
    w
}

#[test]
fn missing_tokens() {
    let mut w = GgufWriter::new();
    w.set_str("tokenizer.ggml.model", "llama");
    let e = Tokenizer::from_gguf(&file(&w)).unwrap_err();
    assert!(matches!(e, TokenizerError::MissingTokens));
    assert!(e.to_string().contains("tokenizer.ggml.tokens"));
}

#[test]
fn unknown_model_named() {
    let mut w = spm_writer(&[]);
    w.set_str("tokenizer.ggml.model", "frobnicator");
    let e = Tokenizer::from_gguf(&file(&w)).unwrap_err();
    assert!(e.to_string().contains("frobnicator"), "{e}");
}

#[test]
fn unknown_pre() {
    // an unknown pre-tokenizer would split text differently from the model's
    // own tokenizer: refused at load, naming it (as llama.cpp does)
    for pre in ["weird-pre", "gpt2", "deepseek-v3"] {
        let f = file(&bpe_writer(pre));
        for e in [
            Tokenizer::from_gguf(&f).unwrap_err(),
            Tokenizer::from_gguf_strict(&f).unwrap_err(),
        ] {
            assert!(
                matches!(e, TokenizerError::UnknownPre(ref p) if p == pre),
                "{e}"
            );
            assert!(e.to_string().contains(&format!("{pre:?}")), "{e}");
        }
    }
    // SentencePiece and WordPiece have no pre-tokenizer: the name is ignored
    let mut w = spm_writer(&[]);
    w.set_str("tokenizer.ggml.pre", "weird-pre");
    assert!(Tokenizer::from_gguf(&file(&w)).is_ok());
    // a missing name is llama.cpp's 'default', with a warning
    let mut w = bpe_writer("x");
    w.set_str("tokenizer.ggml.pre", "");
    let t = Tokenizer::from_gguf(&file(&w)).unwrap();
    assert!(t
        .warnings()
        .iter()
        .any(|w| w.contains("tokenizer.ggml.pre")));
}

#[test]
fn wrong_types_and_lengths() {
    let mut w = spm_writer(&[]);
    w.set_u32("tokenizer.ggml.tokens", 5);
    assert!(matches!(
        Tokenizer::from_gguf(&file(&w)).unwrap_err(),
        TokenizerError::WrongType { .. }
    ));

    let mut w = spm_writer(&[]);
    w.set("tokenizer.ggml.scores", f32_array(&[0.0, 1.0]));
    let e = Tokenizer::from_gguf(&file(&w)).unwrap_err();
    assert!(matches!(e, TokenizerError::LengthMismatch { .. }), "{e}");

    let mut w = spm_writer(&[]);
    w.set("tokenizer.ggml.token_type", i32_array(&[1]));
    assert!(matches!(
        Tokenizer::from_gguf(&file(&w)).unwrap_err(),
        TokenizerError::LengthMismatch { .. }
    ));

    let mut w = spm_writer(&[]);
    w.set_str("tokenizer.ggml.model", "gpt2");
    assert!(matches!(
        Tokenizer::from_gguf(&file(&w)).unwrap_err(),
        TokenizerError::MissingMerges
    ));

    let mut w = spm_writer(&[]);
    w.set("tokenizer.ggml.tokens", str_array::<&str>(&[]));
    w.set("tokenizer.ggml.scores", f32_array(&[]));
    w.set("tokenizer.ggml.token_type", i32_array(&[]));
    assert!(matches!(
        Tokenizer::from_gguf(&file(&w)).unwrap_err(),
        TokenizerError::MissingTokens
    ));
}

#[test]
fn out_of_range_ids_never_panic() {
    let mut w = spm_writer(&[("a", -1.0, 1)]);
    w.set_u32("tokenizer.ggml.bos_token_id", 99999);
    w.set_u32("tokenizer.ggml.eos_token_id", 99999);
    w.set("tokenizer.ggml.eot_token_id", Value::I32(-5));
    let t = Tokenizer::from_gguf(&file(&w)).unwrap();
    assert_eq!(t.bos(), Some(1)); // default kept, like llama.cpp
    assert_eq!(t.eos(), Some(2));
    assert!(!t.warnings().is_empty());
    assert_eq!(t.token_to_piece(1 << 30), b"");
    assert_eq!(t.token_text(u32::MAX), "");
    assert!(!t.is_eog(u32::MAX));
    assert!(t.check_ids(&[0, 1, 2]).is_ok());
    assert!(matches!(
        t.check_ids(&[0, 100000]),
        Err(TokenizerError::IdOutOfRange { id: 100000, .. })
    ));
    assert_eq!(t.decode(&[u32::MAX, 5000]), "");
}

#[test]
fn spm_merges_bytes_and_space_prefix() {
    let t = spm();
    let id = |s: &str| t.token_id(s).unwrap();
    // default add_space_prefix = true for SPM
    assert_eq!(t.encode("ab", false, false), vec![id("▁ab")]);
    assert_eq!(t.encode("ab a", false, false), vec![id("▁ab"), id("▁a")]);
    // byte fallback for unknown chars: 'c' -> <0x63>, 'ü' -> 2 bytes
    assert_eq!(t.encode("c", false, false), vec![id("▁"), id("<0x63>")]);
    assert_eq!(
        t.encode("ü", false, false),
        vec![id("▁"), id("<0xC3>"), id("<0xBC>")]
    );
    assert_eq!(t.decode(&t.encode("ü ab", false, false)), " ü ab");
    assert!(t.add_bos());
    assert_eq!(t.encode("a", true, false), vec![1, id("▁a")]);
    // special tokens: parsed only when asked
    let s = t.encode("<|im_start|>ab", false, true);
    assert_eq!(s, vec![id("<|im_start|>"), id("▁ab")]);
    let plain = t.encode("<|im_start|>ab", false, false);
    assert!(!plain.contains(&id("<|im_start|>")));
    assert_eq!(t.token_to_piece(id("<|im_start|>")), b"");
    assert_eq!(
        t.token_to_piece_special(id("<|im_start|>")),
        b"<|im_start|>"
    );
    assert_eq!(t.decode(&plain), " <|im_start|>ab");
    assert!(t.is_eog(id("<|im_end|>")));
    assert!(t.is_eog(2));
}

#[test]
fn spm_no_space_prefix() {
    let mut w = spm_writer(&[("a", -1.0, 1), ("▁a", -0.5, 1)]);
    w.set("tokenizer.ggml.add_space_prefix", Value::Bool(false));
    w.set("tokenizer.ggml.add_bos_token", Value::Bool(false));
    let t = Tokenizer::from_gguf(&file(&w)).unwrap();
    assert_eq!(
        t.encode("a a", true, false),
        vec![t.token_id("a").unwrap(), t.token_id("▁a").unwrap()]
    );
}

#[test]
fn bpe_basic() {
    for pre in [
        "default",
        "gpt-2",
        "llama-bpe",
        "qwen2",
        "smollm",
        "falcon",
        "qwen35",
    ] {
        let t = Tokenizer::from_gguf(&file(&bpe_writer(pre))).unwrap();
        assert!(t.warnings().is_empty(), "{pre}: {:?}", t.warnings());
        let g = tokenizer::unicode::byte_to_unicode()[b' ' as usize];
        let ids = t.encode("ab ab a", false, false);
        assert_eq!(
            ids,
            vec![
                t.token_id("ab").unwrap(),
                t.token_id(&format!("{g}ab")).unwrap(),
                t.token_id(&format!("{g}a")).unwrap()
            ],
            "{pre}"
        );
        for s in [
            "",
            " ",
            "héllo wörld 😀 123456",
            "\t\n\r\n  x",
            "<|im_start|>x",
        ] {
            assert_eq!(t.decode(&t.encode(s, false, false)), s, "{pre} {s:?}");
        }
        let sp = t.encode("<|im_start|>ab<|im_end|>", false, true);
        assert_eq!(sp.len(), 3);
        assert!(t.is_eog(t.token_id("<|im_end|>").unwrap()));
        assert!(t.is_eog(t.token_id("<|endoftext|>").unwrap()));
        assert!(!t.is_eog(t.token_id("<|im_start|>").unwrap()));
    }
}

#[test]
fn never_panics_on_odd_input() {
    let t = spm();
    let b = Tokenizer::from_gguf(&file(&bpe_writer("qwen2"))).unwrap();
    let mut seed = 12345u64;
    for _ in 0..300 {
        let mut s = String::new();
        for _ in 0..(seed % 40) {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let c = char::from_u32((seed >> 33) as u32 % 0x30000).unwrap_or('?');
            s.push(c);
            if (seed >> 5) & 7 == 0 {
                s.push_str("<|im_start|>");
            }
        }
        for tk in [&t, &b] {
            let ids = tk.encode(&s, true, true);
            let mut d = StreamDecoder::new();
            for &i in &ids {
                d.push(tk, i);
            }
            d.flush();
        }
    }
}

#[test]
fn templates() {
    let t = Tokenizer::from_gguf(&file(&bpe_writer("qwen2"))).unwrap();
    // no template in file, vocab has <|im_start|>: ChatML built-in
    let f = file(&bpe_writer("qwen2"));
    let ct = ChatTemplate::from_gguf(&f, &t).unwrap();
    assert!(ct.is_builtin());
    let r = ct
        .render(&[Message::system("S"), Message::user("<|im_end|>hi")], true)
        .unwrap();
    assert_eq!(r.text, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n<|im_end|>hi<|im_end|>\n<|im_start|>assistant\n");
    let ids = t.encode_chat(&r);
    let end = t.token_id("<|im_end|>").unwrap();
    assert_eq!(ids.iter().filter(|&&i| i == end).count(), 2);
    assert_eq!(
        t.encode_chat(&RenderedChat::trusted(r.text.clone()))
            .iter()
            .filter(|&&i| i == end)
            .count(),
        3
    );

    // bad template: clear error naming it, no panic
    let mut w = bpe_writer("qwen2");
    w.set_str(
        "tokenizer.chat_template",
        "{% for m in messages %}{{ m.content }",
    );
    let e = ChatTemplate::from_gguf(&file(&w), &t).unwrap_err();
    assert!(e.to_string().contains("tokenizer.chat_template"), "{e}");

    // raise_exception surfaces the message
    let mut w = bpe_writer("qwen2");
    w.set_str(
        "tokenizer.chat_template",
        "{{ raise_exception('roles must alternate') }}",
    );
    let ct = ChatTemplate::from_gguf(&file(&w), &t).unwrap();
    let e = ct.render(&[Message::user("x")], true).unwrap_err();
    assert!(e.to_string().contains("roles must alternate"), "{e}");

    // python methods + strftime_now
    let mut w = bpe_writer("qwen2");
    w.set_str(
        "tokenizer.chat_template",
        "{% for m in messages %}{{ m.content.strip().upper() }}{% if m.content.startswith(' h') %}!{% endif %}{% endfor %}{{ strftime_now('%Y')|length }}",
    );
    let ct = ChatTemplate::from_gguf(&file(&w), &t).unwrap();
    let r = ct.render(&[Message::user(" hi ")], false).unwrap();
    assert_eq!(r.text, "HI!4");

    // no template, no known tokens: NoTemplate
    let s = spm();
    let sf = file(&spm_writer(&[]));
    let s2 = Tokenizer::from_gguf(&sf).unwrap();
    let _ = s;
    assert!(matches!(
        ChatTemplate::from_gguf(&sf, &s2).unwrap_err(),
        TokenizerError::NoTemplate { .. }
    ));

    // gemma by architecture
    let mut w = spm_writer(&[("<start_of_turn>", 0.0, 3), ("<end_of_turn>", 0.0, 3)]);
    w.set_str("general.architecture", "gemma3");
    let gf = file(&w);
    let gt = Tokenizer::from_gguf(&gf).unwrap();
    let ct = ChatTemplate::from_gguf(&gf, &gt).unwrap();
    let r = ct
        .render(&[Message::user("hi"), Message::assistant("yo")], true)
        .unwrap();
    assert_eq!(r.text, "<s><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nyo<end_of_turn>\n<start_of_turn>model\n");
    let ids = gt.encode_chat(&r);
    assert_eq!(ids.iter().filter(|&&i| i == 1).count(), 1, "single BOS");
}
