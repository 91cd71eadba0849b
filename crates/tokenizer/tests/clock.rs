//! The date templates print (`strftime_now`): pinned for the process by
//! `pin_template_clock` (its own test binary: the pin is process-wide), so
//! a template that prints today's date gives the same prompt every day; a
//! render's own `now` still wins.

use gguf::{i32_array, str_array, GgufFile, GgufWriter};
use tokenizer::{pin_template_clock, ChatTemplate, Message, RenderOptions, Tokenizer};

/// A byte-level BPE vocabulary of the 256 byte characters (templates need
/// nothing more).
fn tok() -> Tokenizer {
    let map = tokenizer::unicode::byte_to_unicode();
    let toks: Vec<String> = map.iter().map(|c| c.to_string()).collect();
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "qwen2");
    w.set_str("tokenizer.ggml.model", "gpt2");
    w.set_str("tokenizer.ggml.pre", "qwen2");
    w.set("tokenizer.ggml.token_type", i32_array(&vec![1; toks.len()]));
    w.set("tokenizer.ggml.tokens", str_array(&toks));
    w.set("tokenizer.ggml.merges", str_array(&["a b".to_string()]));
    let f = GgufFile::from_bytes("t.gguf", w.to_bytes()).unwrap();
    Tokenizer::from_gguf(&f).unwrap()
}

#[test]
fn a_pinned_clock_fixes_the_templates_date() {
    let tok = tok();
    let src = "Today: {{ strftime_now('%Y-%m-%d %H:%M') }}. {{ messages[0].content }}";
    let t = ChatTemplate::new("tokenizer.chat_template", src, false, &tok).unwrap();
    let msgs = [Message::user("hi")];
    pin_template_clock(1_796_601_600 + 3_600 * 13 + 60 * 5);
    assert_eq!(
        t.render(&msgs, true).unwrap().text,
        "Today: 2026-12-07 13:05. hi"
    );
    // a render's own instant wins over the pin
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: Some(0),
        ..Default::default()
    };
    assert_eq!(
        t.render_with(&msgs, &opts).unwrap().text,
        "Today: 1970-01-01 00:00. hi"
    );
}
