//! Structured random request bodies for every endpoint that takes one:
//! bodies built from each API's fields with random values (wrong types,
//! boundary numbers, odd strings, nesting, unknown fields, fields left out),
//! sometimes damaged as text. Each goes through the whole router (guard,
//! auth, body limit, parsing, validation, the handler). Every answer must
//! be a well-formed API answer: never a panic, never a 500, and a 400 names
//! the field at fault (`body` only when the body is not a JSON object).
//!
//! Phase one has no model, so the bulk runs fast (bodies stop at the model
//! lookup, after every check that needs no model); phase two serves the
//! small real model and keeps answers to a few tokens.
//!
//! A fixed seed and a small budget run in CI; `HEARTH_FUZZ_N=1000000` runs
//! more by hand (`HEARTH_FUZZ_SEED` picks another sequence).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use engine::scheduler::SchedulerConfig;
use serde_json::{json, Map, Value};
use server::catalog::Catalog;
use server::{AppState, KeepAlive, Manager, ServerConfig};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// The shared generator ([`test_models::fuzz::Rng`]), and how often a field
/// gets a value of any kind (`wild`).
struct Rng(test_models::fuzz::Rng, f64);

impl std::ops::Deref for Rng {
    type Target = test_models::fuzz::Rng;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Rng {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// This test's own sequence (`HEARTH_FUZZ_SEED` picks another).
const SEED: u64 = 0x7265_7175;

fn budget(default: u64) -> (u64, u64) {
    test_models::fuzz::budget(default, SEED)
}

fn string(r: &mut Rng) -> String {
    let pool = [
        "",
        "hi",
        "user",
        "assistant",
        "system",
        "tool",
        "json",
        "json_object",
        "text",
        "none",
        "auto",
        "required",
        "function",
        "5m",
        "-1",
        "0",
        "1e400",
        "NaN",
        "é",
        "💡",
        "\u{0}",
        "<|im_start|>",
        "smollm2",
        "smollm2:latest",
        "x:y:z",
        "../x",
        "/etc/passwd",
        "{{",
        "%s",
        "a\nb",
        "float",
        "base64",
        "stop",
        " ",
    ];
    let mut s = String::new();
    for _ in 0..r.below(3) + 1 {
        s.push_str(r.pick(&pool));
    }
    if r.chance(0.01) {
        s.push_str(&"z".repeat(r.below(5000) as usize));
    }
    s
}

fn number(r: &mut Rng) -> Value {
    if r.1 < 0.05 && r.chance(0.97) {
        // tame: a value in the range most fields take
        return json!((r.below(100) as f64) / 100.0);
    }
    match r.below(10) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(r.below(5)),
        3 => json!(-(r.below(1000) as i64)),
        4 => json!(u64::MAX),
        5 => json!(i64::MIN),
        6 => json!(1e30),
        7 => json!(-1e-30),
        8 => json!((r.below(400) as f64) / 100.0),
        _ => json!(r.next() as i64),
    }
}

/// An integer field's value: tame, a small count; else any number.
fn int(r: &mut Rng) -> Value {
    if r.1 < 0.05 && r.chance(0.98) {
        return json!(r.below(50));
    }
    number(r)
}

/// Any JSON value.
fn any(r: &mut Rng, depth: u32) -> Value {
    match r.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(r.chance(0.5)),
        2 | 3 => number(r),
        4 => json!(string(r)),
        5 => Value::Array((0..r.below(4)).map(|_| any(r, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..r.below(4) {
                m.insert(string(r), any(r, depth + 1));
            }
            Value::Object(m)
        }
    }
}

/// Usually a value of the expected kind, sometimes anything.
fn field(r: &mut Rng, good: impl FnOnce(&mut Rng) -> Value) -> Value {
    let wild = r.1;
    if r.chance(wild) {
        any(r, 1)
    } else {
        good(r)
    }
}

fn object(r: &mut Rng, fields: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    let keep = if r.1 < 0.05 { 0.99 } else { 0.85 };
    for (k, v) in fields {
        if r.chance(keep) {
            m.insert(k.to_string(), v);
        }
    }
    if r.chance(0.1) {
        m.insert(string(r), any(r, 1));
    }
    Value::Object(m)
}

fn tool(r: &mut Rng) -> Value {
    let name = if r.chance(0.8) {
        json!("get_weather")
    } else {
        any(r, 2)
    };
    let parameters = if r.chance(0.8) {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    } else {
        any(r, 2)
    };
    let description = json!(string(r));
    let function = object(
        r,
        vec![
            ("name", name),
            ("description", description),
            ("parameters", parameters),
        ],
    );
    object(r, vec![("type", json!("function")), ("function", function)])
}

fn tool_call(r: &mut Rng) -> Value {
    let args = if r.chance(0.5) {
        json!("{\"city\": \"Paris\"}")
    } else {
        any(r, 2)
    };
    let function = object(r, vec![("name", json!("get_weather")), ("arguments", args)]);
    object(
        r,
        vec![
            ("id", json!("call_1")),
            ("type", json!("function")),
            ("function", function),
        ],
    )
}

fn openai_message(r: &mut Rng) -> Value {
    let content = match r.below(4) {
        0 => Value::Null,
        1 => {
            json!([{"type": "text", "text": string(r)}, {"type": r.pick(&["text", "image_url"]), "text": string(r)}])
        }
        _ => json!(string(r)),
    };
    let role = field(r, |r| {
        json!(r.pick(&["system", "user", "assistant", "tool", "developer", "x"]))
    });
    let calls = field(r, |r| {
        json!((0..r.below(2) + 1)
            .map(|_| tool_call(r))
            .collect::<Vec<_>>())
    });
    let mut v = object(r, vec![("role", role), ("content", content)]);
    if r.chance(0.15) {
        v["tool_calls"] = calls;
    }
    if r.chance(0.1) {
        v["tool_call_id"] = json!("call_1");
    }
    v
}

fn ollama_message(r: &mut Rng) -> Value {
    let role = field(r, |r| {
        json!(r.pick(&["system", "user", "assistant", "tool", "x"]))
    });
    let content = field(r, |r| json!(string(r)));
    let mut v = object(r, vec![("role", role), ("content", content)]);
    if r.chance(0.1) {
        v["images"] = field(r, |r| json!([string(r)]));
    }
    if r.chance(0.1) {
        v["tool_calls"] = field(
            r,
            |r| json!([{"function": {"name": "get_weather", "arguments": any(r, 2)}}]),
        );
    }
    v
}

/// Tokens to generate: kept small when a model answers (phase two).
fn few(r: &mut Rng, model: bool) -> Value {
    if model {
        json!(r.below(4))
    } else {
        field(r, number)
    }
}

fn common(r: &mut Rng, model: bool) -> Vec<(&'static str, Value)> {
    let stop = field(r, |r| {
        if r.chance(0.5) {
            json!(string(r))
        } else {
            json!([string(r), string(r)])
        }
    });
    let bias = field(
        r,
        |r| json!({ r.below(50000).to_string(): (r.below(300) as f64) - 150.0, string(r): 1 }),
    );
    let rf = field(
        r,
        |r| json!({"type": r.pick(&["json_object", "text", "json_schema", "x"])}),
    );
    vec![
        ("max_tokens", few(r, model)),
        ("max_completion_tokens", few(r, model)),
        ("temperature", field(r, number)),
        ("top_p", field(r, number)),
        ("top_k", field(r, int)),
        ("min_p", field(r, number)),
        ("repeat_penalty", field(r, number)),
        (
            "n",
            if model {
                json!(1 + r.below(2))
            } else {
                field(r, number)
            },
        ),
        ("stream", field(r, |r| json!(r.chance(0.5)))),
        (
            "stream_options",
            field(r, |r| json!({"include_usage": r.chance(0.5)})),
        ),
        ("stop", stop),
        ("seed", field(r, int)),
        ("presence_penalty", field(r, number)),
        ("frequency_penalty", field(r, number)),
        ("response_format", rf),
        ("logit_bias", bias),
        ("ignore_eos", field(r, |r| json!(r.chance(0.5)))),
        ("user", json!(string(r))),
    ]
}

fn options(r: &mut Rng, model: bool) -> Value {
    let fields = vec![
        ("temperature", field(r, number)),
        ("top_k", field(r, int)),
        ("top_p", field(r, number)),
        ("min_p", field(r, number)),
        ("seed", field(r, int)),
        (
            "num_predict",
            if model {
                json!(r.below(4))
            } else {
                field(r, number)
            },
        ),
        ("stop", field(r, |r| json!([string(r)]))),
        ("repeat_penalty", field(r, number)),
        ("presence_penalty", field(r, number)),
        ("frequency_penalty", field(r, number)),
        ("repeat_last_n", field(r, int)),
        ("num_ctx", field(r, int)),
    ];
    object(r, fields)
}

fn model_name(r: &mut Rng, model: bool) -> Value {
    if model && r.chance(0.9) {
        json!(r.pick(&["smollm2", "smollm2:latest"]))
    } else {
        field(r, |r| json!(string(r)))
    }
}

/// A random request: (method, path, body text).
fn request(r: &mut Rng, model: bool) -> (&'static str, String, String) {
    let routes: &[&str] = if model {
        &[
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
            "/api/chat",
            "/api/generate",
            "/api/embed",
            "/api/embeddings",
            "/api/show",
        ]
    } else {
        &[
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
            "/api/chat",
            "/api/generate",
            "/api/embed",
            "/api/embeddings",
            "/api/show",
            "/api/pull",
            "/api/copy",
            "/api/delete",
        ]
    };
    let path = r.pick(routes);
    let m = model_name(r, model);
    let body = match path {
        "/v1/chat/completions" => {
            let msgs = field(r, |r| {
                json!((0..r.below(4) + 1)
                    .map(|_| openai_message(r))
                    .collect::<Vec<_>>())
            });
            let mut f = vec![("model", m), ("messages", msgs)];
            f.extend(common(r, model));
            f.push(("logprobs", field(r, |r| json!(r.chance(0.5)))));
            f.push(("top_logprobs", field(r, |r| json!(r.below(25)))));
            if r.chance(0.2) {
                f.push((
                    "tools",
                    field(r, |r| {
                        json!((0..r.below(3)).map(|_| tool(r)).collect::<Vec<_>>())
                    }),
                ));
                f.push(("tool_choice", field(r, |r| match r.below(4) {
                    0 => json!("auto"),
                    1 => json!("none"),
                    2 => json!("required"),
                    _ => json!({"type": "function", "function": {"name": r.pick(&["get_weather", "other"])}}),
                })));
            }
            object(r, f)
        }
        "/v1/completions" => {
            let prompt = field(r, |r| match r.below(3) {
                0 => json!(string(r)),
                1 => json!([string(r)]),
                _ => json!((0..r.below(5)).map(|_| r.below(60000)).collect::<Vec<_>>()),
            });
            let mut f = vec![("model", m), ("prompt", prompt)];
            f.extend(common(r, model));
            f.push(("logprobs", field(r, |r| json!(r.below(7)))));
            f.push(("echo", field(r, |r| json!(r.chance(0.5)))));
            object(r, f)
        }
        "/v1/embeddings" => {
            let input = field(r, |r| match r.below(3) {
                0 => json!(string(r)),
                1 => json!([string(r), string(r)]),
                _ => json!([[1, 2, 3]]),
            });
            let fields = vec![
                ("model", m),
                ("input", input),
                (
                    "encoding_format",
                    field(r, |r| json!(r.pick(&["float", "base64", "x"]))),
                ),
                ("dimensions", field(r, int)),
            ];
            object(r, fields)
        }
        "/api/chat" => {
            let msgs = field(r, |r| {
                json!((0..r.below(4))
                    .map(|_| ollama_message(r))
                    .collect::<Vec<_>>())
            });
            let mut f = vec![
                ("model", m),
                ("messages", msgs),
                ("stream", field(r, |r| json!(r.chance(0.5)))),
                (
                    "format",
                    field(r, |r| {
                        if r.chance(0.5) {
                            json!("json")
                        } else {
                            json!({"type": "object"})
                        }
                    }),
                ),
                ("options", options(r, model)),
            ];
            if !model {
                f.push((
                    "keep_alive",
                    field(r, |r| json!(r.pick(&["5m", "0", "-1", "1h30m", "soon"]))),
                ));
            }
            if r.chance(0.2) {
                f.push(("tools", field(r, |r| json!([tool(r)]))));
            }
            object(r, f)
        }
        "/api/generate" => {
            let fields = vec![
                ("model", m),
                ("prompt", field(r, |r| json!(string(r)))),
                ("system", field(r, |r| json!(string(r)))),
                ("raw", field(r, |r| json!(r.chance(0.5)))),
                ("stream", field(r, |r| json!(r.chance(0.5)))),
                ("format", field(r, |_| json!("json"))),
                ("options", options(r, model)),
                ("images", field(r, |r| json!([string(r)]))),
            ];
            object(r, fields)
        }
        "/api/embed" => {
            let fields = vec![
                ("model", m),
                (
                    "input",
                    field(r, |r| {
                        if r.chance(0.5) {
                            json!(string(r))
                        } else {
                            json!([string(r)])
                        }
                    }),
                ),
                ("truncate", field(r, |r| json!(r.chance(0.5)))),
                ("options", options(r, model)),
            ];
            object(r, fields)
        }
        "/api/embeddings" => {
            let fields = vec![
                ("model", m),
                ("prompt", field(r, |r| json!(string(r)))),
                ("options", options(r, model)),
            ];
            object(r, fields)
        }
        "/api/copy" => {
            let fields = vec![
                ("source", m),
                ("destination", field(r, |r| json!(string(r)))),
            ];
            object(r, fields)
        }
        "/api/pull" => {
            let name = field(r, |r| {
                json!(r.pick(&[
                    "smollm2:135m",
                    "hf.co/o/r:f.gguf",
                    "https://example.com/m.gguf",
                    "http://127.0.0.1:1/m.gguf",
                    "nosuch",
                    "/tmp/x.gguf"
                ]))
            });
            let fields = vec![
                ("model", name),
                ("stream", field(r, |r| json!(r.chance(0.5)))),
                ("insecure", json!(true)),
            ];
            object(r, fields)
        }
        _ => {
            let fields = vec![("model", m), ("name", field(r, |r| json!(string(r))))];
            object(r, fields)
        }
    };
    let mut text = if r.chance(0.02) {
        any(r, 0).to_string()
    } else {
        body.to_string()
    };
    // damaged as text: a cut, a flipped byte
    if r.chance(0.05) {
        let at = r.below(text.len() as u64 + 1) as usize;
        let mut b = text.into_bytes();
        if r.chance(0.5) {
            b.truncate(at);
        } else if at < b.len() {
            b[at] ^= 1 << r.below(8);
        }
        text = String::from_utf8_lossy(&b).into_owned();
    }
    let method = if path == "/api/delete" {
        "DELETE"
    } else {
        "POST"
    };
    (method, path.to_string(), text)
}

fn state(dir: &std::path::Path) -> Arc<AppState> {
    let cat = Catalog::new(Some(dir.to_path_buf()), Vec::new());
    let sched = SchedulerConfig {
        threads: 2,
        max_active: 4,
        max_queue: 64,
        ctx_budget: 8192,
        max_seq_ctx: 1024,
    };
    Arc::new(AppState::new(
        Manager::new(cat, KeepAlive::For(Duration::from_secs(300)), 0, sched)
            .with_panel_cache(false),
        ServerConfig {
            quiet: true,
            max_body: 1 << 20,
            ..ServerConfig::default()
        },
    ))
}

/// Send one request through the router; the answer's status and body.
async fn send(app: &axum::Router, method: &str, path: &str, body: String) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:11434")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// What every answer must be.
fn check_answer(
    path: &str,
    body: &str,
    status: StatusCode,
    text: &str,
    model: bool,
) -> Result<(), String> {
    let s = status.as_u16();
    if s >= 500 && !(s == 503 && model) {
        return Err(format!("status {s}"));
    }
    if status.is_success() {
        return Ok(());
    }
    if ![400, 403, 404, 413, 415].contains(&s) {
        return Err(format!("unexpected status {s}"));
    }
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("error body is not JSON ({e}): {text}"))?;
    let msg = if path.starts_with("/api/") {
        v["error"].as_str().map(str::to_string)
    } else {
        v["error"]["message"].as_str().map(str::to_string)
    };
    let msg = msg.ok_or_else(|| format!("not the API's error shape: {text}"))?;
    if msg.is_empty() {
        return Err("empty error message".into());
    }
    // a 400 names the field at fault; `body` only when the body is not a JSON object
    let is_object = serde_json::from_str::<Value>(body).is_ok_and(|b| b.is_object());
    if s == 400 && is_object && !path.starts_with("/api/") && v["error"]["param"] == json!("body") {
        return Err(format!("400 names `body` for a JSON object: {text}"));
    }
    if s == 400 && is_object && msg.starts_with("body:") {
        return Err(format!("400 names `body` for a JSON object: {text}"));
    }
    Ok(())
}

fn run_phase(n: u64, seed: u64, dir: &std::path::Path, model: bool) {
    let st = state(dir);
    let app = server::app_on(st, Some("127.0.0.1".parse().unwrap()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // with a model, mostly valid bodies: they reach generation
    let mut r = Rng(
        test_models::fuzz::Rng(seed),
        if model { 0.01 } else { 0.12 },
    );
    let mut by_status = std::collections::BTreeMap::new();
    for i in 0..n {
        let (method, path, body) = request(&mut r, model);
        let app2 = app.clone();
        let (m2, p2, b2) = (method, path.clone(), body.clone());
        let res = rt.block_on(async move {
            tokio::spawn(async move { send(&app2, m2, &p2, b2).await }).await
        });
        let (status, text) = match res {
            Ok(x) => x,
            Err(e) => panic!(
                "case {i} (seed {seed}, model {model}) panicked ({e}): {method} {path} {body}"
            ),
        };
        if let Err(why) = check_answer(&path, &body, status, &text, model) {
            panic!("case {i} (seed {seed}, model {model}): {why}\n{method} {path} {body}\n-> {status} {text}");
        }
        *by_status.entry(status.as_u16()).or_insert(0u64) += 1;
    }
    eprintln!(
        "request fuzz ({}): {n} bodies, seed {seed}, answers {by_status:?}",
        if model { "with smollm2" } else { "no model" }
    );
}

#[test]
fn random_request_bodies_get_well_formed_answers() {
    // /api/pull must not reach the network
    std::env::set_var("HEARTH_OFFLINE", "1");
    let (n, seed) = budget(3_000);
    let dir = tempfile::tempdir().unwrap();
    run_phase(n, seed, dir.path(), false);
    let Some(smol) = test_models::model("smollm2-135m") else {
        return;
    };
    std::os::unix::fs::symlink(&smol, dir.path().join("smollm2.gguf")).unwrap();
    // answers generate tokens here: a fiftieth of the budget
    run_phase((n / 50).max(60), seed ^ 1, dir.path(), true);
}

/// A wrong-typed field of the fields both OpenAI endpoints share (a
/// flattened struct, where the parser loses the path) is named, not `body`.
#[test]
fn wrong_typed_fields_are_named_not_body() {
    let dir = tempfile::tempdir().unwrap();
    let app = server::app_on(state(dir.path()), None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (path, body, field) in [
        (
            "/v1/chat/completions",
            r#"{"model":"m","messages":[],"seed":0.5}"#,
            "seed",
        ),
        (
            "/v1/chat/completions",
            r#"{"model":"m","messages":[],"max_tokens":"ten","seed":1}"#,
            "max_tokens",
        ),
        (
            "/v1/completions",
            r#"{"model":"m","prompt":"p","stream":"yes"}"#,
            "stream",
        ),
        (
            "/v1/completions",
            r#"{"model":"m","prompt":"p","stop":5,"n":1}"#,
            "stop",
        ),
        (
            "/v1/chat/completions",
            r#"{"model":"m","messages":[{"role":1}]}"#,
            "messages[0].role",
        ),
    ] {
        let (status, text) = rt.block_on(send(&app, "POST", path, body.to_string()));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert_eq!(v["error"]["param"], json!(field), "{body}: {text}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{text}"
        );
    }
}

/// The bodies the million-body runs found (a panic each), kept as cases:
/// a keep-alive past what a `Duration` holds, and a negative
/// `repeat_last_n` (the whole context) whose penalty window overflowed its
/// allocation and took the model's scheduler down for every later request.
#[test]
fn bodies_the_long_runs_found() {
    std::env::set_var("HEARTH_OFFLINE", "1");
    let dir = tempfile::tempdir().unwrap();
    let app = server::app_on(state(dir.path()), None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let no_model = r#"{"model":"hiauto","messages":[{"role":"user","content":"0"}],"stream":false,"keep_alive":1e+30}"#;
    let (status, text) = rt.block_on(send(&app, "POST", "/api/chat", no_model.into()));
    check_answer("/api/chat", no_model, status, &text, false).unwrap();
    let Some(smol) = test_models::model("smollm2-135m") else {
        return;
    };
    std::os::unix::fs::symlink(&smol, dir.path().join("smollm2.gguf")).unwrap();
    for n in [-27, -1, 0] {
        let body = format!(
            r#"{{"model":"smollm2","messages":[{{"role":"user","content":"hi"}}],"stream":false,"options":{{"num_predict":2,"repeat_last_n":{n},"repeat_penalty":1.3}}}}"#
        );
        let (status, text) = rt.block_on(send(&app, "POST", "/api/chat", body));
        assert_eq!(status, StatusCode::OK, "repeat_last_n {n}: {text}");
    }
}
