//! Structured random input for the tokenizers and the chat-template
//! renderer:
//!
//! - tokenizers built from random vocabulary metadata (SentencePiece and
//!   byte-level BPE; random pieces, token types, scores, merges,
//!   pre-tokenizers, special ids; sometimes wrong types or lengths): loading
//!   answers a tokenizer or an error; a tokenizer then encodes random text
//!   (plain and as a rendered chat with content ranges), decodes random ids
//!   and streams them, never panicking;
//! - the real models' tokenizers (when fetched) on random text of many
//!   scripts: never a panic, and byte-level BPE gives the text back exactly;
//! - chat templates put together from Jinja fragments and damaged copies of
//!   real templates, rendered with random conversations: a text or an
//!   error, never a panic or a hang (renderings are bounded).
//!
//! A fixed seed and a small budget run in CI; `HEARTH_FUZZ_N=1000000` runs
//! more by hand (`HEARTH_FUZZ_SEED` picks another sequence).

use gguf::{GgufFile, GgufWriter, Value, ValueType};
use test_models::fuzz::Rng;
use tokenizer::{ChatTemplate, Message, RenderedChat, StreamDecoder, Tokenizer};

/// This test's own sequence (`HEARTH_FUZZ_SEED` picks another).
const SEED: u64 = 0x746f_6b65;

fn budget(default: u64) -> (u64, u64) {
    test_models::fuzz::budget(default, SEED)
}

/// Pieces text is made of: several scripts, whitespace runs, digits,
/// special-token texts, combining marks, emoji, control characters.
const PIECES: &[&str] = &[
    "a",
    "b",
    "ab",
    "the",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\t",
    "\r\n",
    "0",
    "12",
    "12345",
    "é",
    "e\u{301}",
    "ß",
    "İ",
    "ﬁ",
    "日本",
    "語",
    "한국어",
    "Привет",
    "مرحبا",
    "שלום",
    "हिन्दी",
    "ไทย",
    "💡",
    "👩‍👩‍👧",
    "🇫🇷",
    "\u{0}",
    "\u{7f}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "<|im_start|>",
    "<|im_end|>",
    "<s>",
    "</s>",
    "<start_of_turn>",
    "<|endoftext|>",
    "<",
    "|",
    ">",
    "'s",
    "'ll",
    "n't",
    "\\",
    "\"",
    "{",
    "}",
    "▁",
    "Ġ",
    "<0x0A>",
    ".",
    ",",
    "!?",
    "---",
    "__init__",
    "https://x.y/z?q=1",
];

fn text(r: &mut Rng, max: u64) -> String {
    let mut s = String::new();
    for _ in 0..r.below(max + 1) {
        if r.chance(0.05) {
            // any scalar value
            if let Some(c) = char::from_u32(r.below(0x11_0000) as u32) {
                s.push(c);
            }
        } else {
            s.push_str(r.pick(PIECES));
        }
    }
    s
}

fn str_array(v: &[String]) -> Value {
    Value::Array {
        elem: ValueType::String,
        items: v.iter().map(|s| Value::String(s.clone())).collect(),
    }
}

/// Random tokenizer metadata, mostly well-formed, sometimes not.
fn vocab(r: &mut Rng) -> GgufWriter {
    let bpe = r.chance(0.5);
    let mut toks: Vec<String> = Vec::new();
    let mut types: Vec<i32> = Vec::new();
    if bpe {
        for c in tokenizer::unicode::byte_to_unicode() {
            toks.push(c.to_string());
            types.push(1);
        }
    } else {
        for (t, ty) in [("<unk>", 2), ("<s>", 3), ("</s>", 3)] {
            toks.push(t.into());
            types.push(ty);
        }
        if r.chance(0.8) {
            for b in 0..256 {
                toks.push(format!("<0x{b:02X}>"));
                types.push(6);
            }
        }
    }
    for _ in 0..r.below(60) {
        let mut t = text(r, 3);
        if bpe {
            // byte-level pieces are spelled in the byte-to-char alphabet
            let map = tokenizer::unicode::byte_to_unicode();
            t = t.bytes().map(|b| map[b as usize]).collect();
        } else if r.chance(0.5) {
            t = format!("▁{t}");
        }
        if t.is_empty() || toks.contains(&t) {
            continue;
        }
        toks.push(t);
        types.push(r.pick(&[1, 1, 1, 1, 2, 3, 4, 5, 6, 0, 7]));
    }
    for sp in [
        "<|im_start|>",
        "<|im_end|>",
        "<|endoftext|>",
        "<start_of_turn>",
    ] {
        if r.chance(0.5) && !toks.contains(&sp.to_string()) {
            toks.push(sp.into());
            types.push(r.pick(&[3, 4]));
        }
    }
    let n = toks.len();
    let mut w = GgufWriter::new();
    w.set_str(
        "general.architecture",
        r.pick(&["llama", "qwen2", "gemma3"]),
    );
    w.set_str(
        "tokenizer.ggml.model",
        if r.chance(0.97) {
            if bpe {
                "gpt2"
            } else {
                "llama"
            }
        } else {
            r.pick(&["bert", "", "t5"])
        },
    );
    if bpe || r.chance(0.2) {
        let pre = r.pick(&[
            "default",
            "llama3",
            "gpt2",
            "qwen2",
            "smollm",
            "starcoder",
            "tekken",
            "",
            "unknown-pre",
        ]);
        w.set_str("tokenizer.ggml.pre", pre);
    }
    if r.chance(0.97) {
        w.set("tokenizer.ggml.tokens", str_array(&toks));
    } else {
        w.set("tokenizer.ggml.tokens", Value::U32(3));
    }
    let types_n = if r.chance(0.97) {
        n
    } else {
        r.below(n as u64 + 2) as usize
    };
    w.set(
        "tokenizer.ggml.token_type",
        Value::Array {
            elem: ValueType::I32,
            items: (0..types_n)
                .map(|i| Value::I32(*types.get(i).unwrap_or(&1)))
                .collect(),
        },
    );
    if !bpe || r.chance(0.1) {
        let scores_n = if r.chance(0.97) {
            n
        } else {
            r.below(n as u64 + 2) as usize
        };
        w.set(
            "tokenizer.ggml.scores",
            Value::Array {
                elem: ValueType::F32,
                items: (0..scores_n)
                    .map(|_| {
                        Value::F32(if r.chance(0.02) {
                            f32::NAN
                        } else {
                            -(r.below(1000) as f32) / 10.0
                        })
                    })
                    .collect(),
            },
        );
    }
    if bpe && r.chance(0.95) {
        // merges of pairs whose concatenation is in the vocabulary, plus junk
        let mut merges = Vec::new();
        for t in &toks {
            let cs: Vec<char> = t.chars().collect();
            if cs.len() >= 2 && r.chance(0.7) {
                let cut = 1 + r.below(cs.len() as u64 - 1) as usize;
                let (a, b): (String, String) =
                    (cs[..cut].iter().collect(), cs[cut..].iter().collect());
                merges.push(format!("{a} {b}"));
            }
        }
        if r.chance(0.1) {
            merges.push(text(r, 2));
        }
        w.set("tokenizer.ggml.merges", str_array(&merges));
    }
    for key in [
        "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id",
        "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.padding_token_id",
        "tokenizer.ggml.eot_token_id",
    ] {
        if r.chance(0.4) {
            let id = if r.chance(0.9) {
                r.below(n as u64)
            } else {
                r.next() % (1 << 33)
            };
            w.set(key, Value::U32(id as u32));
        }
    }
    for key in [
        "tokenizer.ggml.add_bos_token",
        "tokenizer.ggml.add_eos_token",
        "tokenizer.ggml.add_space_prefix",
    ] {
        if r.chance(0.3) {
            w.set(key, Value::Bool(r.chance(0.5)));
        }
    }
    w
}

/// Everything a caller does with a tokenizer, on random input.
fn exercise(r: &mut Rng, tok: &Tokenizer) {
    let n = tok.n_vocab() as u64;
    for _ in 0..4 {
        let t = text(r, 12);
        let ids = tok.encode(&t, r.chance(0.5), r.chance(0.5));
        for &id in &ids {
            assert!((id as u64) < n, "id {id} out of the vocabulary of {n}");
        }
        // a rendered chat: random content ranges on char boundaries
        let mut ranges = Vec::new();
        let bounds: Vec<usize> = t.char_indices().map(|(i, _)| i).chain([t.len()]).collect();
        let mut at = 0;
        while at < bounds.len() && r.chance(0.6) {
            let s = at + r.below(3) as usize;
            let e = s + r.below(4) as usize;
            if e >= bounds.len() {
                break;
            }
            ranges.push((bounds[s], bounds[e]));
            at = e;
        }
        let _ = tok.encode_chat(&RenderedChat {
            text: t.clone(),
            content_ranges: ranges,
        });
        let _ = tok.decode(&ids);
        let mut d = StreamDecoder::with_special(r.chance(0.5));
        let mut out = String::new();
        for &id in &ids {
            out.push_str(&d.push(tok, id));
        }
        out.push_str(&d.flush());
        // ids from anywhere (also out of range)
        let junk: Vec<u32> = (0..r.below(6)).map(|_| r.below(n + 3) as u32).collect();
        if tok.check_ids(&junk).is_ok() {
            let _ = tok.decode(&junk);
            let _ = tok.decode_bytes(&junk, true);
            for &id in &junk {
                let _ = tok.token_to_piece(id);
                let _ = tok.token_to_piece_special(id);
                let _ = tok.is_eog(id);
            }
        }
    }
}

#[test]
fn random_vocabularies_never_panic() {
    let (n, seed) = budget(2_000);
    let mut r = Rng(seed);
    let (mut built, mut refused) = (0, 0);
    for i in 0..n {
        let w = vocab(&mut r);
        let f = GgufFile::from_bytes("fuzz.gguf", w.to_bytes()).expect("writer output reads");
        let sub = r.next();
        let res = std::panic::catch_unwind(|| {
            let mut r = Rng(sub);
            match Tokenizer::from_gguf(&f) {
                Ok(tok) => {
                    exercise(&mut r, &tok);
                    true
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    false
                }
            }
        });
        match res {
            Ok(true) => built += 1,
            Ok(false) => refused += 1,
            Err(_) => panic!("case {i} (seed {seed}, HEARTH_FUZZ_N={n}) panicked"),
        }
    }
    eprintln!("tokenizer fuzz: {n} random vocabularies ({built} built, {refused} refused), seed {seed}, no panic");
}

#[test]
fn real_tokenizers_on_random_text() {
    let (n, seed) = budget(5_000);
    for short in ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"] {
        let Some(p) = test_models::model(short) else {
            continue;
        };
        let f = GgufFile::open(&p).unwrap();
        let tok = Tokenizer::from_gguf(&f).unwrap();
        let byte_level = tok.kind() == tokenizer::ModelKind::Bpe;
        // bytes the vocabulary has no token for are dropped, as llama.cpp
        // drops them (SmolLM2 has none for 0xF1: U+4B8EE comes back as its
        // last three bytes in llama.cpp too)
        let map = tokenizer::unicode::byte_to_unicode();
        let missing: Vec<bool> = (0..256)
            .map(|b| tok.token_id(&map[b].to_string()).is_none())
            .collect();
        let mut r = Rng(seed);
        for i in 0..n {
            let t = text(&mut r, 24);
            let res = std::panic::catch_unwind(|| {
                let ids = tok.encode(&t, false, false);
                if byte_level {
                    // byte-level BPE loses nothing else (no special token is parsed)
                    let back = tok.decode_bytes(&ids, true);
                    let want: Vec<u8> = t.bytes().filter(|&b| !missing[b as usize]).collect();
                    assert!(
                        back == want,
                        "{short}: decode(encode(text)) != text: {:?}",
                        String::from_utf8_lossy(&back)
                    );
                }
                let _ = tok.encode(&t, true, true);
            });
            if let Err(e) = res {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{short}: case {i} (seed {seed}) text {t:?}: {msg}");
            }
        }
        eprintln!(
            "tokenizer fuzz: {short}: {n} random texts, seed {seed}, no panic{}",
            if byte_level {
                ", each decoded back exactly"
            } else {
                ""
            }
        );
    }
}

/// Jinja pieces real chat templates are made of.
const FRAGMENTS: &[&str] = &[
    "{{ bos_token }}",
    "{{ eos_token }}",
    "{% for message in messages %}",
    "{% endfor %}",
    "{% if message['role'] == 'system' %}",
    "{% if messages[0]['role'] == 'system' %}",
    "{% elif message.role == 'assistant' %}",
    "{% else %}",
    "{% endif %}",
    "{{ message['content'] }}",
    "{{ message.content | trim }}",
    "{{ message['content'].strip() }}",
    "{{ message.content.split('\\n')[0] }}",
    "{{ '<|im_start|>' + message['role'] + '\\n' }}",
    "{{ message.role | upper }}",
    "{% set ns = namespace(found=false) %}",
    "{% set ns.found = true %}",
    "{% if loop.first %}",
    "{% if loop.last and add_generation_prompt %}",
    "{{ loop.index0 }}",
    "{% if tools %}{{ tools | tojson }}{% endif %}",
    "{% for t in tools or [] %}{{ t.function.name }}{% endfor %}",
    "{{ raise_exception('bad role') }}",
    "{{ strftime_now('%Y-%m-%d') }}",
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    "{%- if message.tool_calls %}{% for c in message.tool_calls %}{{ c.function.arguments | tojson }}{% endfor %}{% endif %}",
    "{{ messages | length }}",
    "{{ (messages | selectattr('role', 'equalto', 'user') | list | last).content }}",
    "{% macro m(x) %}[{{ x }}]{% endmacro %}{{ m(message.content) }}",
    "{{ message.content[::-1] }}",
    "{{ message['content'] * 2 }}",
    "{{ undefined_variable.attr }}",
    "{{ 1 / 0 }}",
    "{{ message.content | replace('a', 'b') }}",
    "{% raw %}{{ not a tag }}{% endraw %}",
    "text with {braces} and % signs",
    "\n",
    "{#- a comment -#}",
    "{{",
    "{%",
    "}}",
    "{% endfor",
];

fn messages(r: &mut Rng) -> Vec<Message> {
    (0..r.below(6))
        .map(|_| {
            let role = r.pick(&["system", "user", "assistant", "tool", "", "User", "<|im_end|>"]);
            let mut m = Message::new(role, text(r, 8));
            if role == "assistant" && r.chance(0.3) {
                m.tool_calls = Some(serde_json::json!([{"id": "c1", "type": "function", "function": {"name": text(r, 1), "arguments": {"x": 1}}}]));
            }
            if role == "tool" && r.chance(0.5) {
                m.tool_call_id = Some("c1".into());
            }
            m
        })
        .collect()
}

#[test]
fn random_templates_never_panic_or_hang() {
    let (n, seed) = budget(3_000);
    // (for bos/eos texts, and ChatML's tokens so its built-in applies)
    let tok = {
        let mut r = Rng(1);
        loop {
            let w = vocab(&mut r);
            let f = GgufFile::from_bytes("v.gguf", w.to_bytes()).unwrap();
            if let Ok(t) = Tokenizer::from_gguf(&f) {
                if t.token_id("<|im_start|>").is_some() {
                    break t;
                }
            }
        }
    };
    // real templates to damage: the built-ins and the test models' own
    let mut real: Vec<String> = [Some("gemma3"), Some("qwen2")]
        .iter()
        .filter_map(|a| ChatTemplate::builtin_for(*a, &tok))
        .map(|t| t.source().to_string())
        .collect();
    for short in ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"] {
        if let Some(p) = test_models::model(short) {
            if let Some(s) = GgufFile::open(&p)
                .unwrap()
                .get_str("tokenizer.chat_template")
            {
                real.push(s.to_string());
            }
        }
    }
    let mut r = Rng(seed);
    let (mut rendered, mut errors) = (0, 0);
    for i in 0..n {
        let src = if r.chance(0.5) {
            (0..1 + r.below(10))
                .map(|_| r.pick(FRAGMENTS))
                .collect::<String>()
        } else {
            let mut s: Vec<char> = real[r.below(real.len() as u64) as usize].chars().collect();
            for _ in 0..1 + r.below(4) {
                let at = r.below(s.len() as u64 + 1) as usize;
                match r.below(3) {
                    0 if at < s.len() => {
                        s.remove(at);
                    }
                    1 => {
                        for c in r.pick(FRAGMENTS).chars().rev() {
                            s.insert(at, c);
                        }
                    }
                    _ => {
                        let c = r.pick(&[
                            '{', '}', '%', '-', '\'', '"', '(', ')', '[', ']', '|', '.', ' ',
                        ]);
                        s.insert(at, c);
                    }
                }
            }
            s.into_iter().collect()
        };
        let msgs = messages(&mut r);
        let tools = r.chance(0.3).then(|| {
            serde_json::json!([{"type": "function", "function": {"name": "f", "description": text(&mut r, 2), "parameters": {"type": "object"}}}])
        });
        let agp = r.chance(0.7);
        let res = std::panic::catch_unwind(|| {
            let t = ChatTemplate::new("fuzz", &src, false, &tok)?;
            t.render_with_tools(&msgs, tools.as_ref(), agp)
        });
        match res {
            Ok(Ok(_)) => rendered += 1,
            Ok(Err(e)) => {
                assert!(!e.to_string().is_empty());
                errors += 1
            }
            Err(_) => panic!("case {i} (seed {seed}) panicked on template {src:?} with {msgs:?}"),
        }
    }
    eprintln!("template fuzz: {n} random templates ({rendered} rendered, {errors} errors), seed {seed}, no panic");
}
