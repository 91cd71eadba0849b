//! Speculative decoding through the real server on a loopback port: the
//! `speculative` field (OpenAI API), `options.speculative` (Ollama's), and
//! `hearth serve --spec/--draft`'s default give the same answers as without
//! speculation — greedy and seeded, prompt lookup and a draft model (the
//! model drafting for itself), alone and batched with plain requests — and
//! report their counters; bad values are 400s naming the field.

use engine::{DraftModel, LoadedModel, Speculation};
use serde_json::{json, Value};
use server::ServerConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::TestServer;

/// A server of smollm2 (and gemma3, of another vocabulary, when present)
/// with smollm2 as the draft model and `default` as what requests get that
/// do not say.
fn start(default: Speculation) -> Option<TestServer> {
    let smol = test_models::model("smollm2-135m")?;
    let dir = tempfile::tempdir().unwrap();
    common::link(dir.path(), &smol, "smollm2.gguf");
    if let Some(p) = test_models::model("gemma3-270m") {
        common::link(dir.path(), &p, "gemma3.gguf");
    }
    let draft = Arc::new(DraftModel::new(LoadedModel::load(&smol).unwrap()));
    let sched = common::scheduler(4, 16, 8192, 1024);
    let manager = common::manager(dir.path(), Duration::from_secs(300), 0, sched)
        .with_speculation(default, Some(draft));
    let cfg = ServerConfig {
        quiet: false,
        ..ServerConfig::default()
    };
    Some(common::serve(dir, manager, cfg))
}

/// One HTTP/1.1 request; (status, JSON body).
fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    let b = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, v)
}

fn post(addr: SocketAddr, path: &str, body: &Value) -> (u16, Value) {
    call(addr, "POST", path, Some(body))
}

/// A request whose answer copies from its prompt, so lookup drafts.
const TEXT: &str = "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step. All that glitters is not gold.";

fn chat_body(spec: Option<Value>, sampling: &Value) -> Value {
    let mut b = json!({
        "model": "smollm2",
        "messages": [{"role": "user", "content": format!("Repeat this text exactly, twice:\n\n{TEXT}")}],
        "max_tokens": 48,
    });
    for (k, v) in sampling.as_object().unwrap() {
        b[k] = v.clone();
    }
    if let Some(s) = spec {
        b["speculative"] = s;
    }
    b
}

fn content(v: &Value) -> String {
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

fn counters(v: &Value) -> (u64, u64) {
    (
        v["drafted_tokens"].as_u64().unwrap_or(0),
        v["accepted_tokens"].as_u64().unwrap_or(0),
    )
}

#[test]
fn answers_with_speculation_are_the_answers_without() {
    let _g = common::serial();
    let Some(srv) = start(Speculation::OFF) else {
        return;
    };
    let a = srv.addr;
    let greedy = json!({"temperature": 0});
    let seeded = json!({"temperature": 0.8, "seed": 7});
    for sampling in [&greedy, &seeded] {
        let (st, plain) = post(a, "/v1/chat/completions", &chat_body(None, sampling));
        assert_eq!(st, 200, "{plain}");
        assert!(plain["usage"].get("speculative").is_none(), "{plain}");
        let plain = content(&plain);
        assert!(!plain.is_empty());
        for spec in [
            json!({"lookup": true}),
            json!({"draft": true}),
            json!(true),
            json!({"lookup": true, "draft": true, "n_max": 3}),
        ] {
            let (st, v) = post(
                a,
                "/v1/chat/completions",
                &chat_body(Some(spec.clone()), sampling),
            );
            assert_eq!(st, 200, "{v}");
            assert_eq!(content(&v), plain, "{spec} {sampling}");
            let (drafted, accepted) = counters(&v["usage"]["speculative"]);
            assert!(drafted > 0, "{spec} {sampling}: {v}");
            // smollm2 drafting for itself greedily drafts what it decodes
            if spec == json!({"draft": true}) && sampling == &greedy {
                assert_eq!(accepted, drafted, "{v}");
            }
        }
    }
    // `speculative.n_max` (llama.cpp's name) alone keeps the default: off
    let mut b = chat_body(None, &greedy);
    b["speculative.n_max"] = json!(4);
    let (st, v) = post(a, "/v1/chat/completions", &b);
    assert_eq!(st, 200, "{v}");
    assert!(v["usage"].get("speculative").is_none(), "{v}");

    // Ollama's API: options.speculative; the counters in the final object
    let ollama = |spec: Option<Value>| {
        let mut o = json!({"temperature": 0, "num_predict": 40});
        if let Some(s) = spec {
            o["speculative"] = s;
        }
        let (st, v) = post(
            a,
            "/api/generate",
            &json!({"model": "smollm2", "stream": false, "options": o,
                    "prompt": format!("Repeat this text exactly:\n\n{TEXT}")}),
        );
        assert_eq!(st, 200, "{v}");
        v
    };
    let plain = ollama(None);
    let spec = ollama(Some(json!(true)));
    assert_eq!(spec["response"], plain["response"]);
    assert!(counters(&spec["speculative"]).0 > 0, "{spec}");
    assert!(plain.get("speculative").is_none(), "{plain}");

    // /api/ps: the model's totals so far
    let (st, ps) = call(a, "GET", "/api/ps", None);
    assert_eq!(st, 200);
    let m = ps["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "smollm2")
        .unwrap_or_else(|| panic!("{ps}"));
    let (drafted, accepted) = counters(&m["speculative"]);
    assert!(drafted > 0 && accepted > 0 && accepted <= drafted, "{ps}");

    // /metrics: the same totals as counters
    let text = {
        let mut s = TcpStream::connect(a).unwrap();
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    let metric = |name: &str| -> u64 {
        let key = format!("{name}{{model=\"smollm2\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("{key}: {text}"))
            .trim()
            .parse::<f64>()
            .unwrap() as u64
    };
    assert_eq!(metric("hearth_speculative_drafted_tokens_total"), drafted);
    assert_eq!(metric("hearth_speculative_accepted_tokens_total"), accepted);
    assert!(metric("hearth_speculative_verify_steps_total") > 0);
}

/// Four requests at once — two speculating (lookup; the draft model), two
/// plain — in the scheduler's batched steps: each answer is the one it gets
/// alone. `hearth serve --spec`'s default applies where a request says
/// nothing, and `false` turns it off.
#[test]
fn batched_speculating_and_plain_requests_answer_as_alone() {
    let _g = common::serial();
    let Some(srv) = start(Speculation::lookup()) else {
        return;
    };
    let a = srv.addr;
    let greedy = json!({"temperature": 0});
    let body = |i: usize, spec: Option<Value>| {
        let mut b = chat_body(spec, &greedy);
        b["messages"][0]["content"] = json!(format!(
            "Repeat this text exactly ({i}):\n\n{}",
            TEXT.split(". ").nth(i % 3).unwrap()
        ));
        b
    };
    let specs = [
        Some(json!(false)),
        None,
        Some(json!({"lookup": false, "draft": true})),
        Some(json!(false)),
    ];
    let alone: Vec<String> = (0..4)
        .map(|i| {
            let (st, v) = post(a, "/v1/chat/completions", &body(i, Some(json!(false))));
            assert_eq!(st, 200, "{v}");
            assert!(v["usage"].get("speculative").is_none(), "{v}");
            content(&v)
        })
        .collect();
    let together: Vec<Value> = std::thread::scope(|s| {
        let hs: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let b = body(i, spec.clone());
                s.spawn(move || post(a, "/v1/chat/completions", &b))
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                let (st, v) = h.join().unwrap();
                assert_eq!(st, 200, "{v}");
                v
            })
            .collect()
    });
    for (i, v) in together.iter().enumerate() {
        assert_eq!(content(v), alone[i], "request {i} ({:?})", specs[i]);
        let drafted = counters(&v["usage"]["speculative"]).0;
        assert_eq!(drafted > 0, specs[i] != Some(json!(false)), "{i}: {v}");
    }
}

#[test]
fn bad_speculative_values_are_400s_naming_the_field() {
    let _g = common::serial();
    let Some(srv) = start(Speculation::OFF) else {
        return;
    };
    let a = srv.addr;
    let greedy = json!({"temperature": 0});
    for bad in [
        json!("yes"),
        json!({"lookup": 1}),
        json!({"n_max": 0}),
        json!({"n_max": 65}),
        json!({"fast": true}),
    ] {
        let (st, v) = post(
            a,
            "/v1/chat/completions",
            &chat_body(Some(bad.clone()), &greedy),
        );
        assert_eq!(st, 400, "{bad}: {v}");
        assert_eq!(v["error"]["param"], "speculative", "{bad}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("speculative"),
            "{v}"
        );
    }
    let mut b = chat_body(None, &greedy);
    b["speculative.n_max"] = json!(100);
    let (st, v) = post(a, "/v1/chat/completions", &b);
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1 to 64"),
        "{v}"
    );

    let (st, v) = post(
        a,
        "/api/generate",
        &json!({"model": "smollm2", "prompt": "hi", "stream": false,
                "options": {"speculative": {"lookup": "on"}}}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("options.speculative.lookup"),
        "{v}"
    );

    // gemma3's vocabulary is not the draft's: it has no draft model, and a
    // request that insists on one is told so (`true` alone still works)
    if test_models::model("gemma3-270m").is_some() {
        let mut b = chat_body(Some(json!({"draft": true})), &greedy);
        b["model"] = json!("gemma3");
        b["max_tokens"] = json!(4);
        let (st, v) = post(a, "/v1/chat/completions", &b);
        assert_eq!(st, 400, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains("no draft model") && msg.contains("--draft"),
            "{v}"
        );
        b["speculative"] = json!(true);
        let (st, v) = post(a, "/v1/chat/completions", &b);
        assert_eq!(st, 200, "{v}");
    }
}
