//! gpt-oss's harmony output through the real server on a loopback port, on
//! the synthetic gpt-oss file (real o200k_harmony vocabulary and chat
//! template, random weights — so only the constraint can make its output
//! follow a grammar):
//!
//! - an answer constraint (OpenAI `response_format` json_object /
//!   json_schema, llama-server's `grammar`, hearth's `regex`, Ollama's
//!   `format`, Responses' `text.format`) holds the final message while the
//!   analysis stays free: greedy and seeded, thinking on, capped (budget 0
//!   and 3) and off, on the template as it ships and on one whose
//!   generation prompt opens the analysis channel;
//! - a tool call cut off by the token limit is reported as cut (`length`,
//!   `max_tokens`, `incomplete`), in every API, streamed and not, not as a
//!   finished call with repaired arguments.

use serde_json::{json, Value};
use server::ServerConfig;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

mod common;

use common::TestServer;

/// A server of the synthetic gpt-oss file as `gpt-oss` (its template as it
/// ships: the generation prompt is `<|start|>assistant`) and as
/// `gpt-oss-think` (the generation prompt opens the analysis channel), and
/// of the synthetic qwen3 file as `qwen3`.
fn start() -> Option<TestServer> {
    // gpt-oss's template prints today's date: the day the cut lengths below
    // were chosen on, so the greedy answers are the same every day
    engine::pin_template_clock(1_796_601_600); // 2026-12-07
    let p = test_models::synthetic("gpt-oss-f32.gguf")?;
    let qwen = test_models::synthetic("qwen3-f32.gguf")?;
    let dir = tempfile::tempdir().unwrap();
    common::add_gpt_oss(dir.path(), &p);
    common::link(dir.path(), &qwen, "qwen3.gguf");
    let sched = common::scheduler(4, 64, 16384, 4096);
    let manager = common::manager(dir.path(), Duration::from_secs(300), 0, sched);
    let cfg = ServerConfig {
        quiet: true,
        ..ServerConfig::default()
    };
    Some(common::serve(dir, manager, cfg))
}

/// One HTTP/1.0 POST (so a stream comes unchunked, to the connection's
/// end); (status, body text).
fn post_text(addr: SocketAddr, path: &str, body: &Value) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    let b = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// A POST whose answer is one JSON object (200 asserted).
fn post(addr: SocketAddr, path: &str, body: &Value) -> Value {
    let (st, text) = post_text(addr, path, body);
    assert_eq!(st, 200, "{body}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// A streamed POST's events: SSE `data:` lines or NDJSON lines, as JSON
/// (`[DONE]` left out).
fn post_stream(addr: SocketAddr, path: &str, body: &Value) -> Vec<Value> {
    let (st, text) = post_text(addr, path, body);
    assert_eq!(st, 200, "{body}: {text}");
    text.lines()
        .map(|l| l.strip_prefix("data: ").unwrap_or(l).trim())
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

const MARKERS: [&str; 7] = [
    "<|channel|>",
    "<|message|>",
    "<|start|>",
    "<|end|>",
    "<|call|>",
    "<|return|>",
    "<|constrain|>",
];

/// The schema the answers must follow: required keys, an enum, a bounded
/// integer (short, so a random model finishes it within the limit).
fn schema() -> Value {
    json!({"type": "object",
        "properties": {"unit": {"type": "string", "enum": ["c", "f"]},
                       "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["unit", "days"], "additionalProperties": false})
}

/// `content` is what the constraint asked for: a JSON object (of `schema`
/// when given). An answer cut by the limit (`finished` false) only has to
/// be on its way to one.
fn check_json(content: &str, schema: Option<&Value>, finished: bool, what: &str) {
    assert!(
        !MARKERS.iter().any(|m| content.contains(m)),
        "{what}: harmony markers in the answer: {content:?}"
    );
    if !finished {
        assert!(
            content.is_empty() || content.starts_with('{'),
            "{what}: cut answer {content:?}"
        );
        return;
    }
    let v: Value = serde_json::from_str(content)
        .unwrap_or_else(|e| panic!("{what}: {e}: not JSON: {content:?}"));
    assert!(v.is_object(), "{what}: {content:?}");
    if let Some(s) = schema {
        let valid = jsonschema::validator_for(s).unwrap();
        assert!(valid.is_valid(&v), "{what}: {v} does not follow {s}");
    }
}

/// The thinking settings tried: none given, a budget of 0 and of 3,
/// `reasoning_effort` low (no budget) and none (off).
fn thinking_variants() -> Vec<Value> {
    vec![
        json!({}),
        json!({"thinking_budget": 0}),
        json!({"thinking_budget": 3}),
        json!({"reasoning_effort": "low", "thinking_budget": 3}),
        json!({"reasoning_effort": "low"}),
        json!({"reasoning_effort": "none"}),
    ]
}

fn with(mut body: Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[test]
fn an_answer_constraint_holds_the_final_message() {
    let _g = common::serial();
    let Some(srv) = start() else {
        return;
    };
    let a = srv.addr;
    let ask = json!([{"role": "user", "content": "What is the weather in Paris? Answer in JSON."}]);
    let formats = [
        (json!({"type": "json_object"}), None),
        (
            json!({"type": "json_schema", "json_schema": {"name": "w", "schema": schema()}}),
            Some(schema()),
        ),
    ];
    let samplings = [
        json!({"temperature": 0}),
        json!({"temperature": 1.0, "seed": 1}),
        json!({"temperature": 1.0, "seed": 2}),
        json!({"temperature": 0.8, "top_p": 0.95, "seed": 3}),
    ];
    let mut finished = 0;
    for model in ["gpt-oss", "gpt-oss-think"] {
        for (rf, sch) in &formats {
            for s in &samplings {
                for t in thinking_variants() {
                    let body = with(
                        with(
                            json!({"model": model, "messages": ask, "max_tokens": 160,
                                "response_format": rf}),
                            s,
                        ),
                        &t,
                    );
                    let v = post(a, "/v1/chat/completions", &body);
                    let c = &v["choices"][0];
                    let content = c["message"]["content"].as_str().unwrap_or("");
                    let fin = c["finish_reason"].as_str().unwrap();
                    let what = format!("{model} {} {s} {t} -> {fin}", rf["type"]);
                    check_json(content, sch.as_ref(), fin == "stop", &what);
                    if fin == "stop" {
                        finished += 1;
                    }
                    // a capped reasoning leaves room for the schema's short
                    // answer (a random model's free JSON object may run on)
                    let capped =
                        t.get("thinking_budget").is_some() || t["reasoning_effort"] == "none";
                    if capped && sch.is_some() {
                        assert_eq!(fin, "stop", "{what}: {v}");
                    }
                }
            }
        }
    }
    assert!(finished >= 32, "only {finished} answers finished");
}

/// The other routes that take an answer grammar hold it on gpt-oss too:
/// llama-server's `grammar` (GBNF) and hearth's `regex` (chat), Ollama's
/// `format` (/api/chat and /api/generate), Responses' `text.format`;
/// streamed as well.
#[test]
fn every_route_holds_the_answer_on_harmony() {
    let _g = common::serial();
    let Some(srv) = start() else {
        return;
    };
    let a = srv.addr;
    let ask = json!([{"role": "user", "content": "Weather in Paris?"}]);
    for model in ["gpt-oss", "gpt-oss-think"] {
        for extra in [json!({"thinking_budget": 3}), json!({"thinking_budget": 0})] {
            let what = format!("{model} {extra}");
            let chat = |k: &str, v: Value| {
                with(
                    json!({"model": model, "messages": ask, "max_tokens": 160,
                        "temperature": 0, k: v}),
                    &extra,
                )
            };
            // GBNF and a regular expression
            let v = post(
                a,
                "/v1/chat/completions",
                &chat(
                    "grammar",
                    json!("root ::= (\"yes\" | \"no\") \", \" [a-z]{2,8} \".\""),
                ),
            );
            let t = v["choices"][0]["message"]["content"].as_str().unwrap();
            let re = regex_lite(t);
            assert!(re, "{what} grammar: {v}");
            let v = post(
                a,
                "/v1/chat/completions",
                &chat("regex", json!("(yes|no), [a-z]{2,8}\\.")),
            );
            let t = v["choices"][0]["message"]["content"].as_str().unwrap();
            assert!(regex_lite(t), "{what} regex: {v}");
            // streamed: the answer's deltas make the same JSON
            let mut b = chat(
                "response_format",
                json!({"type": "json_schema", "json_schema": {"name": "w", "schema": schema()}}),
            );
            b["stream"] = json!(true);
            let evs = post_stream(a, "/v1/chat/completions", &b);
            let text: String = evs
                .iter()
                .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
                .collect();
            let fin = evs
                .iter()
                .find_map(|e| e["choices"][0]["finish_reason"].as_str())
                .unwrap();
            assert_eq!(fin, "stop", "{what} stream: {text:?}");
            check_json(&text, Some(&schema()), true, &format!("{what} stream"));

            // Ollama: /api/chat and /api/generate, `format` a schema and "json"
            let budget = extra["thinking_budget"].clone();
            for (path, key, val) in [
                ("/api/chat", "messages", ask.clone()),
                ("/api/generate", "prompt", json!("Weather in Paris?")),
            ] {
                let v = post(
                    a,
                    path,
                    &json!({"model": model, key: val, "stream": false, "format": schema(),
                        "thinking_budget": budget,
                        "options": {"temperature": 0, "num_predict": 160}}),
                );
                let t = v["message"]["content"]
                    .as_str()
                    .or(v["response"].as_str())
                    .unwrap();
                assert_eq!(v["done_reason"], "stop", "{what} {path}: {v}");
                check_json(t, Some(&schema()), true, &format!("{what} {path}"));
            }
            // Responses: text.format
            let v = post(
                a,
                "/v1/responses",
                &json!({"model": model, "input": ask, "temperature": 0,
                    "max_output_tokens": 160, "thinking_budget": budget,
                    "text": {"format": {"type": "json_schema", "name": "w", "schema": schema()}}}),
            );
            assert_eq!(v["status"], "completed", "{what} responses: {v}");
            let t = v["output"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["type"] == "message")
                .map(|o| o["content"][0]["text"].as_str().unwrap())
                .unwrap();
            check_json(t, Some(&schema()), true, &format!("{what} responses"));
        }
    }
}

/// `(yes|no), [a-z]{2,8}\.` (the grammar and regex tests' answer).
fn regex_lite(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("yes, ").or(t.strip_prefix("no, ")) else {
        return false;
    };
    let Some(word) = rest.strip_suffix('.') else {
        return false;
    };
    (2..=8).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_lowercase())
}

/// A strict tool whose call the tests cut off.
fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "w", "strict": true,
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
            "required": ["city"], "additionalProperties": false}}})
}

/// A call cut off by the token limit is reported as cut in every API: not
/// as a finished call whose arguments were "repaired" into an object.
#[test]
fn a_call_cut_by_the_limit_is_not_a_finished_call() {
    let _g = common::serial();
    let Some(srv) = start() else {
        return;
    };
    let a = srv.addr;
    let ask = json!([{"role": "user", "content": "weather in Paris?"}]);
    // (with a limit that stops each model inside the call's arguments)
    for (model, cut_at) in [("gpt-oss", 40), ("qwen3", 20)] {
        let chat = |max: u32| {
            json!({"model": model, "messages": ask, "max_tokens": max, "temperature": 0,
                "tool_choice": "required", "tools": [weather_tool()]})
        };
        // the whole call, given room
        let v = post(a, "/v1/chat/completions", &chat(400));
        let c = &v["choices"][0];
        assert_eq!(c["finish_reason"], "tool_calls", "{model}: {v}");
        let full = c["message"]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap()
            .to_string();
        let args: Value = serde_json::from_str(&full).unwrap();
        assert!(args["city"].is_string(), "{model}: {v}");
        // cut: "length", the arguments as written so far (not JSON)
        let v = post(a, "/v1/chat/completions", &chat(cut_at));
        let c = &v["choices"][0];
        assert_eq!(c["finish_reason"], "length", "{model}: {v}");
        let calls = c["message"]["tool_calls"]
            .as_array()
            .unwrap_or_else(|| panic!("{model}: {v}"));
        assert_eq!(calls.len(), 1, "{model}: {v}");
        let cut = calls[0]["function"]["arguments"].as_str().unwrap();
        assert!(
            serde_json::from_str::<Value>(cut).is_err(),
            "{model}: cut {cut:?}"
        );
        // streamed: the same; the text as written is a prefix of the whole
        // call's (streamed as written too)
        let streamed = |max: u32| {
            let mut b = chat(max);
            b["stream"] = json!(true);
            let evs = post_stream(a, "/v1/chat/completions", &b);
            let fins: Vec<String> = evs
                .iter()
                .filter_map(|e| e["choices"][0]["finish_reason"].as_str().map(String::from))
                .collect();
            let args: String = evs
                .iter()
                .flat_map(|e| e["choices"][0]["delta"]["tool_calls"].as_array().cloned())
                .flatten()
                .filter_map(|d| d["function"]["arguments"].as_str().map(String::from))
                .collect();
            (fins, args)
        };
        let (fins, sargs) = streamed(cut_at);
        assert_eq!(fins, ["length"], "{model}");
        assert_eq!(sargs, cut, "{model}");
        let (fins, whole) = streamed(400);
        assert_eq!(fins, ["tool_calls"], "{model}");
        assert_eq!(
            serde_json::from_str::<Value>(&whole).unwrap(),
            args,
            "{model}"
        );
        assert!(
            whole.starts_with(cut),
            "{model}: cut {cut:?}, whole {whole:?}"
        );

        // Ollama: the cut call left out, done_reason "length"
        let ob = |stream: bool| {
            json!({"model": model, "messages": ask, "stream": stream, "tools": [weather_tool()],
                "options": {"temperature": 0, "num_predict": cut_at}})
        };
        let v = post(a, "/api/chat", &ob(false));
        assert_eq!(v["done_reason"], "length", "{model}: {v}");
        if let Some(calls) = v["message"]["tool_calls"].as_array() {
            for c in calls {
                // (a call finished before the limit is fine: a real object)
                assert!(c["function"]["arguments"].is_object(), "{model}: {v}");
            }
        }
        let lines = post_stream(a, "/api/chat", &ob(true));
        assert_eq!(
            lines.last().unwrap()["done_reason"],
            "length",
            "{model}: {lines:?}"
        );
        for l in &lines {
            for c in l["message"]["tool_calls"].as_array().into_iter().flatten() {
                assert!(c["function"]["arguments"].is_object(), "{model}: {l}");
            }
        }

        // Anthropic: stop_reason max_tokens, no unfinished tool_use
        let ab = |stream: bool| {
            json!({"model": model, "messages": ask, "max_tokens": cut_at, "temperature": 0,
                "stream": stream, "tool_choice": {"type": "any"},
                "tools": [{"name": "get_weather", "description": "w", "strict": true,
                    "input_schema": weather_tool()["function"]["parameters"]}]})
        };
        let v = post(a, "/v1/messages", &ab(false));
        assert_eq!(v["stop_reason"], "max_tokens", "{model}: {v}");
        assert!(
            !v["content"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["type"] == "tool_use"),
            "{model}: {v}"
        );
        let evs = post_stream(a, "/v1/messages", &ab(true));
        let stop = evs
            .iter()
            .find(|e| e["type"] == "message_delta")
            .map(|e| e["delta"]["stop_reason"].clone());
        assert_eq!(stop, Some(json!("max_tokens")), "{model}: {evs:?}");

        // Responses: incomplete, the call item incomplete with the raw text
        let rb = |stream: bool| {
            json!({"model": model, "input": ask, "max_output_tokens": cut_at, "temperature": 0,
                "stream": stream, "tool_choice": "required",
                "tools": [{"type": "function", "name": "get_weather", "description": "w",
                    "parameters": weather_tool()["function"]["parameters"]}]})
        };
        let v = post(a, "/v1/responses", &rb(false));
        assert_eq!(v["status"], "incomplete", "{model}: {v}");
        assert_eq!(
            v["incomplete_details"]["reason"], "max_output_tokens",
            "{model}: {v}"
        );
        // (its prompt is not the chat's: the limit may stop the model
        // before the call's name on qwen3; a call there must be cut, and on
        // gpt-oss there is one)
        let check_fc = |output: &Value, whole: &Value| {
            let fc = output
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["type"] == "function_call");
            assert!(fc.is_some() || model != "gpt-oss", "{model}: {whole}");
            if let Some(fc) = fc {
                assert_eq!(fc["status"], "incomplete", "{model}: {whole}");
                let args = fc["arguments"].as_str().unwrap();
                assert!(
                    serde_json::from_str::<Value>(args).is_err(),
                    "{model}: {whole}"
                );
            }
        };
        check_fc(&v["output"], &v);
        let evs = post_stream(a, "/v1/responses", &rb(true));
        let last = evs.last().unwrap();
        assert_eq!(last["type"], "response.incomplete", "{model}: {last}");
        check_fc(&last["response"]["output"], last);
    }
}
