//! The tool-call readers on every family's real template rendering.
use super::*;
use serde_json::Value;

/// Every family's fixture (its real template's rendering of an
/// assistant turn with calls) reads back as the calls and content it
/// was made from: whole, and streamed in pieces of every size.
#[test]
fn every_family_reads_its_templates_rendering() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tool-calls");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let fx: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let src = std::fs::read_to_string(
            std::path::Path::new(&std::env::var("HOME").unwrap())
                .join(".cache/hearth/llamacpp/llama_cpp_python-0.3.36/vendor/llama.cpp/models/templates")
                .join(fx["template"].as_str().unwrap()),
        )
        .ok();
        let family = path.file_stem().unwrap().to_string_lossy().to_string();
        let format = match src {
            Some(s) => ToolFormat::from_template(&s),
            None => expected_format(&family),
        };
        assert_eq!(format, expected_format(&family), "{family}");
        for case in fx["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            // what a model writes: the turn up to its end-of-turn token
            let text = strip_end(text);
            // gpt-oss: its reasoning (where its template puts an assistant
            // turn's text) split off first, as the engine does
            let split;
            let text = if format == ToolFormat::Harmony {
                let mut sp =
                    engine::reasoning::Splitter::new(engine::ReasoningFormat::Harmony, false);
                let mut a = sp.push(text).answer;
                a.push_str(&sp.finish().answer);
                split = a;
                split.as_str()
            } else {
                text
            };
            let mut want: Vec<(String, Value)> = case["calls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["arguments"].clone(),
                    )
                })
                .collect();
            // (gpt-oss's template renders one call per turn: `<|call|>` ends it)
            want.retain(|(n, _)| text.contains(n.as_str()));
            let names = vec!["get_weather".to_string(), "get_time".to_string()];
            let whole = parse(format, text, true);
            let got: Vec<(String, Value)> = whole
                .calls
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        serde_json::from_str(&c.args)
                            .unwrap_or_else(|e| panic!("{family}: args {:?}: {e}", c.args)),
                    )
                })
                .collect();
            assert_eq!(got, want, "{family} {}: {text:?}", case["case"]);
            // (a template may drop an assistant turn's text beside its calls)
            let content = case["content"].as_str().unwrap();
            let content = if text.contains(content) { content } else { "" };
            let strip_think = whole.content.replace("<think>", "").replace("</think>", "");
            assert_eq!(strip_think.trim(), content, "{family}: {text:?}");
            for size in [1, 2, 3, 7, 1000] {
                let mut s = ToolStream::new(format, names.clone(), "");
                let mut deltas = Vec::new();
                let chars: Vec<char> = text.chars().collect();
                for piece in chars.chunks(size) {
                    deltas.extend(s.push(&piece.iter().collect::<String>()));
                }
                deltas.extend(s.finish());
                let mut calls: Vec<(String, String)> = Vec::new();
                let mut streamed = String::new();
                for d in deltas {
                    match d {
                        Delta::Content(c) => streamed.push_str(&c),
                        Delta::Start { index, name } => {
                            assert_eq!(index, calls.len());
                            calls.push((name, String::new()));
                        }
                        Delta::Args { index, text } => calls[index].1.push_str(&text),
                    }
                }
                let got: Vec<(String, Value)> = calls
                    .into_iter()
                    .map(|(n, a)| {
                        (
                            n,
                            serde_json::from_str(&a).unwrap_or_else(|e| {
                                panic!("{family} streamed by {size}: {a:?}: {e}")
                            }),
                        )
                    })
                    .collect();
                assert_eq!(got, want, "{family} streamed by {size}");
                assert_eq!(
                    streamed
                        .replace("<think>", "")
                        .replace("</think>", "")
                        .trim(),
                    content,
                    "{family} streamed by {size}"
                );
            }
            n += 1;
        }
    }
    assert!(n >= 30, "{n} cases");
}

fn expected_format(family: &str) -> ToolFormat {
    match family {
        "hermes-qwen2.5" | "hermes-2-pro" | "qwen3" | "granite-4.0" => ToolFormat::Hermes,
        "llama-3.1" | "llama-3.2" | "llama-3.3" => ToolFormat::Llama3,
        "mistral-nemo" => ToolFormat::MistralList,
        "mistral-small-3.2" | "devstral" => ToolFormat::MistralArgs,
        "qwen3-coder" => ToolFormat::QwenXml,
        "gpt-oss" => ToolFormat::Harmony,
        "granite-3.3" => ToolFormat::GraniteList,
        "deepseek-r1" => ToolFormat::DeepSeek,
        other => panic!("no expected format for {other}"),
    }
}

/// The rendered turn without the end-of-turn marker the model's
/// end-of-generation token stands for.
fn strip_end(t: &str) -> &str {
    let mut t = t.trim_end();
    for end in [
        "<|im_end|>",
        "<|eot_id|>",
        "<|eom_id|>",
        "</s>",
        "<|end_of_text|>",
        "<|call|>",
        "<｜end▁of▁sentence｜>",
        "<|return|>",
    ] {
        if let Some(i) = t.find(end) {
            t = t[..i].trim_end();
        }
    }
    t
}

#[test]
fn phi4_mini_functools() {
    // Phi-4-mini's format (its template is not in llama.cpp's set)
    let t = "functools[{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}]";
    let p = parse(ToolFormat::Phi4, t, true);
    assert_eq!(p.calls.len(), 1);
    assert_eq!(p.calls[0].args, "{\"tz\": \"UTC\"}");
    assert_eq!(
        ToolFormat::from_template("{{ '<|tool|>' + tools + '<|/tool|>' }}"),
        ToolFormat::Phi4
    );
}

#[test]
fn plain_answers_stay_content() {
    for f in [
        ToolFormat::Hermes,
        ToolFormat::Llama3,
        ToolFormat::MistralArgs,
        ToolFormat::Harmony,
        ToolFormat::QwenXml,
    ] {
        let mut s = ToolStream::new(f, vec!["x".into()], "");
        let mut out = String::new();
        for piece in ["It is ", "sunny {warm} ", "in <Paris>."] {
            for d in s.push(piece) {
                if let Delta::Content(c) = d {
                    out.push_str(&c);
                }
            }
        }
        for d in s.finish() {
            if let Delta::Content(c) = d {
                out.push_str(&c);
            }
        }
        assert_eq!(out, "It is sunny {warm} in <Paris>.", "{f:?}");
    }
}

/// Hermes calls without their tags but in a JSON code fence (as
/// qwen2.5-coder writes them) stream as calls, streamed in pieces of every
/// size; a fence of other code stays content.
#[test]
fn fenced_bare_calls_stream_as_calls() {
    let t = "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n```";
    let whole = parse(ToolFormat::Hermes, t, true);
    assert_eq!((whole.content.as_str(), whole.calls.len()), ("", 1));
    assert_eq!(whole.calls[0].args, "{\"city\": \"Paris\"}");
    for size in 1..8 {
        let mut s = ToolStream::new(ToolFormat::Hermes, vec!["get_weather".into()], "");
        let (mut content, mut args, mut names) = (String::new(), String::new(), Vec::new());
        let chars: Vec<char> = t.chars().collect();
        let mut deltas = Vec::new();
        for piece in chars.chunks(size) {
            deltas.extend(s.push(&piece.iter().collect::<String>()));
        }
        deltas.extend(s.finish());
        for d in deltas {
            match d {
                Delta::Content(c) => content.push_str(&c),
                Delta::Start { name, .. } => names.push(name),
                Delta::Args { text, .. } => args.push_str(&text),
            }
        }
        assert_eq!(
            (content.as_str(), names, args.as_str()),
            ("", vec!["get_weather".to_string()], "{\"city\": \"Paris\"}"),
            "pieces of {size}"
        );
    }
    let code = "```python\nprint({\"name\": 1})\n```";
    assert_eq!(parse(ToolFormat::Hermes, code, true).content, code);
    let odd = "```json\n{\"a\": 1}\n```";
    let p = parse(ToolFormat::Hermes, odd, true);
    assert_eq!((p.content.as_str(), p.calls.len()), (odd, 0));
}

/// A forcing `tool_choice` on gpt-oss opens a commentary message to the
/// function, as its template renders an assistant call; what the model then
/// writes (the arguments, or the name and the rest of the header) reads back
/// as that call, whole and streamed.
#[test]
fn harmony_forced_calls_read_back() {
    let names = vec!["get_weather".to_string(), "get_time".to_string()];
    for (prefix, out, name, args) in [
        (
            ToolFormat::Harmony
                .forced_prefix(Some("get_weather"))
                .unwrap(),
            "{\"city\":\"Paris\"}<|call|>",
            "get_weather",
            "{\"city\":\"Paris\"}",
        ),
        (
            ToolFormat::Harmony.forced_prefix(None).unwrap(),
            "get_time <|constrain|>json<|message|>{\"tz\": \"UTC\"}<|call|>",
            "get_time",
            "{\"tz\": \"UTC\"}",
        ),
    ] {
        assert!(prefix.starts_with("<|channel|>commentary to=functions."));
        let p = parse(ToolFormat::Harmony, &format!("{prefix}{out}"), true);
        assert_eq!(p.calls.len(), 1, "{prefix}{out}");
        assert_eq!(
            (p.calls[0].name.as_str(), p.calls[0].args.as_str()),
            (name, args)
        );
        assert_eq!(p.content.trim(), "");
        let mut s = ToolStream::new(ToolFormat::Harmony, names.clone(), &prefix);
        let mut got_args = String::new();
        let mut got_name = String::new();
        let mut deltas = Vec::new();
        for ch in out.chars() {
            deltas.extend(s.push(&ch.to_string()));
        }
        deltas.extend(s.finish());
        for d in deltas {
            match d {
                Delta::Start { name: n, .. } => got_name.push_str(&n),
                Delta::Args { text, .. } => got_args.push_str(&text),
                Delta::Content(c) => assert!(c.trim().is_empty(), "content {c:?}"),
            }
        }
        assert_eq!((got_name.as_str(), got_args.as_str()), (name, args));
    }
}
