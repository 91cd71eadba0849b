//! Chat templates come from model files, so a file can carry a hostile one.
//! Every rendering is bounded in steps and in output and can be cancelled:
//! it ends quickly with an error saying what happened, never hangs.

use gguf::{i32_array, str_array, GgufFile, GgufWriter};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokenizer::{ChatTemplate, Message, Tokenizer, TokenizerError};

/// A byte-level BPE vocabulary of the 256 byte characters and ChatML's
/// special tokens (no merges needed for templates).
fn tok() -> Tokenizer {
    let map = tokenizer::unicode::byte_to_unicode();
    let mut toks: Vec<String> = map.iter().map(|c| c.to_string()).collect();
    toks.extend(["<|im_start|>".to_string(), "<|im_end|>".to_string()]);
    let mut types = vec![1i32; toks.len()];
    let n = types.len();
    types[n - 2] = 3;
    types[n - 1] = 3;
    let mut w = GgufWriter::new();
    w.set_str("general.architecture", "qwen2");
    w.set_str("tokenizer.ggml.model", "gpt2");
    w.set_str("tokenizer.ggml.pre", "qwen2");
    w.set("tokenizer.ggml.tokens", str_array(&toks));
    w.set("tokenizer.ggml.merges", str_array(&["a b".to_string()]));
    w.set("tokenizer.ggml.token_type", i32_array(&types));
    w.set_u32("tokenizer.ggml.eos_token_id", (n - 1) as u32);
    let f = GgufFile::from_bytes("t.gguf", w.to_bytes()).unwrap();
    Tokenizer::from_gguf(&f).unwrap()
}

const NESTED_WRITING: &str =
    "{% for a in range(100000) %}{% for b in range(100000) %}xxxxxxxxxxxxxxxx{% endfor %}{% endfor %}";

#[test]
fn hostile_templates_end_quickly_with_a_clear_error() {
    let tok = tok();
    let msgs = [Message::user("hi")];
    for (src, needle) in [
        // the case: output grows without end (+10 MB/s)
        (NESTED_WRITING, "wrote more than"),
        // a loop that writes nothing
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "did not finish within",
        ),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% set x = a * b %}{% endfor %}{% endfor %}{{ messages[0].content }}",
            "did not finish within",
        ),
        // output captured in a variable is not written, but still costs steps
        (
            "{% for a in range(100000) %}{% set x %}{% for b in range(100000) %}y{% endfor %}{% endset %}{% endfor %}",
            "did not finish within",
        ),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
    ] {
        let t = ChatTemplate::new("tokenizer.chat_template", src, false, &tok).unwrap();
        let start = Instant::now();
        let e = t.render(&msgs, true).unwrap_err().to_string();
        let took = start.elapsed();
        assert!(e.contains(needle), "{src}: {e}");
        assert!(e.contains("chat template"), "{e}");
        // generous for a loaded machine; alone it takes well under a second
        assert!(took < Duration::from_secs(20), "{src}: took {took:?}");
    }
}

/// minijinja panics when it slices an empty string or list backwards
/// (`''[::-1]`; the long fuzz run found it): the template fails with an
/// error, hearth does not.
#[test]
fn a_template_engine_panic_is_the_templates_error() {
    let tok = tok();
    let src = "{% for m in messages %}{{ m.content[::-1] }}{% endfor %}";
    let t = ChatTemplate::new("tokenizer.chat_template", src, false, &tok).unwrap();
    // a message that is not empty renders as Jinja2 would
    assert_eq!(t.render(&[Message::user("ab")], true).unwrap().text, "ba");
    for src in [src, "{{ messages[1:1][::-1] }}"] {
        let t = ChatTemplate::new("tokenizer.chat_template", src, false, &tok).unwrap();
        let e = t
            .render(&[Message::user("")], true)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("chat template") && e.contains("template engine failed"),
            "{src}: {e}"
        );
    }
}

/// Writes a character every 2,000 loop steps: far under the output bound
/// for as long as the test waits, so only the cancel flag can stop it then.
const SLOW_WRITING: &str =
    "{% for a in range(100000) %}{% for b in range(2000) %}{% endfor %}x{% endfor %}";

#[test]
fn a_rendering_is_cancelled_at_its_next_write() {
    let tok = tok();
    let t = ChatTemplate::new("tokenizer.chat_template", SLOW_WRITING, false, &tok).unwrap();
    let cancel = AtomicBool::new(false);
    cancel.store(true, Ordering::Relaxed);
    let e = t
        .render_cancellable(&[Message::user("hi")], None, true, &cancel)
        .unwrap_err();
    assert!(matches!(e, TokenizerError::Cancelled), "{e}");
    // from another thread, while it runs
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    let e = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            cancel.store(true, Ordering::Relaxed);
        });
        t.render_cancellable(&[Message::user("hi")], None, true, &cancel)
            .unwrap_err()
    });
    assert!(matches!(e, TokenizerError::Cancelled), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn real_conversations_are_far_inside_the_bounds() {
    // ChatML (as the qwen2.5 and SmolLM2 files carry it) over 5000 turns of
    // 1 KB each: 5 MB out, well inside both bounds
    let tok = tok();
    let src = "{%- for message in messages -%}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{%- endfor -%}{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}";
    let t = ChatTemplate::new("tokenizer.chat_template", src, false, &tok).unwrap();
    let msgs: Vec<Message> = (0..5000)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            Message::new(role, "z".repeat(1000))
        })
        .collect();
    let r = t.render(&msgs, true).unwrap();
    assert!(r.text.len() > 5_000_000 && r.text.ends_with("<|im_start|>assistant\n"));
    assert_eq!(r.content_ranges.len(), 5000);
}
