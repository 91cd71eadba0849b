//! Real chat templates (the llama-cpp-python sdist's `models/templates`)
//! rendered by hearth exactly as Python's Jinja2 renders them with Hugging
//! Face transformers' `apply_chat_template` conventions: the expected texts
//! (or the error, where the template refuses a conversation) were recorded
//! by scripts/make-template-fixtures.py into tests/fixtures/chat-templates.json.

use serde_json::Value as J;
use sha2::{Digest, Sha256};
use tokenizer::{ChatTemplate, Message, RenderOptions};

/// Where hearth knowingly renders differently from Jinja2: (template, why).
/// Their cases still run; a divergence is printed, not failed, except in the
/// issue's families (`"family": true` in the fixture), which must match.
const KNOWN_DIVERGENT: &[(&str, &str)] = &[(
    "meetkai-functionary-medium-v3.1",
    "`'x'|safe + str` HTML-escapes the str in Jinja2 (markupsafe's Markup.__add__); \
     minijinja concatenates plainly",
)];

/// Python raises where minijinja is lenient: iterating None (templates that
/// loop over `tools` without checking for it) gives an empty loop in hearth.
const LENIENT_ERRORS: &[&str] = &["TypeError: 'NoneType' object is not iterable"];

/// Does the render match the case's text (or its hash, for templates whose
/// texts the fixture does not keep)?
fn same(case: &J, got: &str) -> bool {
    match case.get("text").and_then(J::as_str) {
        Some(want) => want == got,
        None => {
            let h = Sha256::digest(got.as_bytes());
            let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
            case["sha256"].as_str() == Some(hex.as_str())
        }
    }
}

fn fixture() -> J {
    let p = test_models::fixtures_dir().join("chat-templates.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("read fixture")).expect("fixture JSON")
}

fn message(m: &J) -> Message {
    let s = |k: &str| m.get(k).and_then(J::as_str).map(str::to_string);
    Message {
        role: s("role").expect("role"),
        content: s("content").unwrap_or_default(),
        tool_calls: m.get("tool_calls").cloned(),
        tool_call_id: s("tool_call_id"),
        reasoning_content: s("reasoning_content"),
    }
}

/// Renders every case of one template; returns the mismatches and the
/// known divergences.
fn check_template(fx: &J, t: &J) -> Option<(Vec<String>, Vec<String>)> {
    let name = t["name"].as_str().unwrap();
    let path = test_models::llamacpp_file(&format!("models/templates/{name}.jinja"))?;
    let src = std::fs::read_to_string(&path).expect("read template");
    let tmpl = ChatTemplate::from_source(
        name,
        &src,
        t["bos_token"].as_str().unwrap(),
        t["eos_token"].as_str().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut bad = Vec::new();
    let mut known = Vec::new();
    let divergent = KNOWN_DIVERGENT.iter().find(|k| k.0 == name);
    let family = t["family"].as_bool().unwrap();
    for case in t["cases"].as_array().unwrap() {
        let conv_name = case["conversation"].as_str().unwrap();
        let conv = &fx["conversations"][conv_name];
        let msgs: Vec<Message> = conv["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(message)
            .collect();
        let kwargs = case["kwargs"].as_object().unwrap();
        let opts = RenderOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap(),
            tools: conv.get("tools"),
            kwargs: Some(kwargs),
            now: fx["now_unix"].as_i64(),
        };
        let what = format!(
            "{name} / {conv_name} agp={} {kwargs:?}",
            opts.add_generation_prompt
        );
        let got = tmpl.render_with(&msgs, &opts);
        let error = case.get("error").and_then(J::as_str);
        let (problem, lenient) = match (error, got) {
            (None, Ok(r)) if same(case, &r.text) => continue,
            (None, Ok(r)) => {
                let want = case
                    .get("text")
                    .and_then(J::as_str)
                    .unwrap_or("(hash only: run the script with --full)");
                (
                    format!("{what}:\n--- Jinja2\n{want}\n--- hearth\n{}", r.text),
                    false,
                )
            }
            (None, Err(e)) => (format!("{what}: hearth failed: {e}"), false),
            (Some(_), Err(_)) => continue,
            (Some(err), Ok(r)) => (
                format!(
                    "{what}: Jinja2 raised {err:?} but hearth rendered:\n{}",
                    r.text
                ),
                LENIENT_ERRORS.contains(&err),
            ),
        };
        match divergent {
            _ if family => bad.push(problem),
            Some((_, why)) => known.push(format!("{problem}\n(known: {why})")),
            None if lenient => known.push(format!(
                "{problem}\n(known: minijinja iterates None as empty)"
            )),
            None => bad.push(problem),
        }
    }
    Some((bad, known))
}

#[test]
fn real_templates_render_as_jinja2() {
    let fx = fixture();
    let (mut bad, mut known) = (Vec::new(), Vec::new());
    let mut n = 0;
    for t in fx["templates"].as_array().unwrap() {
        let Some((b, k)) = check_template(&fx, t) else {
            return;
        };
        n += t["cases"].as_array().unwrap().len();
        bad.extend(b);
        known.extend(k);
    }
    for k in &known {
        eprintln!("KNOWN DIVERGENCE {k}\n");
    }
    for b in &bad {
        eprintln!("MISMATCH {b}\n");
    }
    eprintln!(
        "{} renders: {} as Jinja2, {} known divergences, {} mismatches",
        n,
        n - known.len() - bad.len(),
        known.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{} of {n} renders differ from Jinja2",
        bad.len()
    );
}
