//! Constrained decoding on a real model: every schema of
//! `tests/fixtures/schemas` yields output that validates (keys in the
//! schema's order), alone and batched with the others — token for token the
//! same —, and a thinking model's reasoning is split from its answer, capped
//! by its budget, with the grammar applied to the answer only.

use engine::scheduler::{Event, Scheduler, SchedulerConfig};
use engine::{
    ChatTemplate, GenerateRequest, Grammar, LoadedModel, Message, Piece, Prompt, Reasoning,
    ReasoningFormat, SamplingParams, ThreadPool,
};
use serde_json::Value;
use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};

/// (name, prompt, schema) of every fixture schema.
fn schemas() -> Vec<(String, String, Value)> {
    let dir = test_models::fixtures_dir().join("schemas");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let f: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                f["prompt"].as_str().unwrap().to_string(),
                f["schema"].clone(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 4);
    v
}

/// The output parses, validates against `schema`, and its keys (at every
/// level) come in the schema's `properties` order.
pub fn check(schema: &Value, text: &str) {
    let v: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    let val = jsonschema::validator_for(schema).unwrap();
    let errs: Vec<String> = val.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errs.is_empty(), "{text} does not validate: {errs:?}");
    fn order(schema: &Value, v: &Value, text: &str) {
        if let (Some(props), Some(obj)) = (
            schema.get("properties").and_then(Value::as_object),
            v.as_object(),
        ) {
            let want: Vec<&String> = props.keys().filter(|k| obj.contains_key(*k)).collect();
            let got: Vec<&String> = obj.keys().collect();
            assert_eq!(got, want, "keys out of the schema's order in {text}");
            for (k, sub) in props {
                if let Some(x) = obj.get(k) {
                    order(sub, x, text);
                }
            }
        }
    }
    order(schema, &v, text);
}

fn request(lm: &LoadedModel, prompt: &str, schema: &Value) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Chat(vec![
            Message::system("Answer with a JSON object."),
            Message::user(prompt),
        ]),
        max_tokens: Some(160),
        sampling: SamplingParams::greedy(),
        constraint: Some(lm.constraint(&Grammar::JsonSchema(schema.clone())).unwrap()),
        ..Default::default()
    }
}

fn alone(lm: &LoadedModel, req: &GenerateRequest) -> (String, engine::GenerateStats) {
    let pool = ThreadPool::new(2);
    let mut s = lm.model.session(1024, 64).unwrap();
    let mut out = String::new();
    let stats = lm
        .generate(&pool, &mut s, req, |t| {
            out.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    (out, stats)
}

#[test]
fn schemas_validate_alone_and_batched() {
    let Some(path) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(path).unwrap());
    let cases = schemas();
    let mut want = Vec::new();
    for (name, prompt, schema) in &cases {
        let req = request(&lm, prompt, schema);
        let (text, stats) = alone(&lm, &req);
        eprintln!("{name}: {text}");
        check(schema, &text);
        // the grammar ended it (or the end-of-generation token), not the limit
        assert_eq!(stats.finish, engine::FinishReason::Stop, "{name}: {text}");
        want.push(text);
    }
    // all at once through the scheduler: the same text, token for token
    let sched = Scheduler::new(
        lm.clone(),
        SchedulerConfig {
            threads: 2,
            max_active: 8,
            max_queue: 16,
            ctx_budget: 8 * 1024,
            max_seq_ctx: 1024,
        },
    );
    let (tx, rx) = mpsc::channel();
    for (i, (_, prompt, schema)) in cases.iter().enumerate() {
        let tx = tx.clone();
        let mut text = String::new();
        sched
            .submit(
                request(&lm, prompt, schema),
                None,
                Box::new(move |ev| {
                    match ev {
                        Event::Token(t) => text.push_str(&t.text),
                        Event::Done(_) => tx.send((i, Ok(std::mem::take(&mut text)))).unwrap(),
                        Event::Error(e) => tx.send((i, Err(e.to_string()))).unwrap(),
                        Event::Prefill { .. } => {}
                    }
                    ControlFlow::Continue(())
                }),
            )
            .unwrap();
    }
    drop(tx);
    let mut got = vec![String::new(); cases.len()];
    for (i, r) in rx {
        got[i] = r.unwrap();
    }
    assert_eq!(got, want);
}

#[test]
fn grammars_of_every_kind_hold() {
    let Some(path) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = LoadedModel::load(path).unwrap();
    let gen_n = |g: Grammar, prompt: &str, n: usize| {
        let req = GenerateRequest {
            prompt: Prompt::Chat(vec![Message::user(prompt)]),
            max_tokens: Some(n),
            sampling: SamplingParams {
                seed: 7,
                temperature: 0.9,
                ..Default::default()
            },
            constraint: Some(lm.constraint(&g).unwrap()),
            ..Default::default()
        };
        alone(&lm, &req)
    };
    let gen = |g: Grammar, prompt: &str| gen_n(g, prompt, 60);
    let (t, _) = gen(
        Grammar::Regex("(yes|no), [a-z ]{3,20}\\.".into()),
        "Is the sky blue?",
    );
    let re = regex_lite(&t);
    assert!(re, "{t:?}");
    let (t, _) = gen(
        Grammar::Gbnf(
            "root ::= item (\", \" item){2}\nitem ::= [0-9]{1,2} \" \" (\"apples\" | \"pears\")\n"
                .into(),
        ),
        "Count some fruit.",
    );
    let parts: Vec<&str> = t.split(", ").collect();
    assert_eq!(parts.len(), 3, "{t:?}");
    for p in parts {
        let (n, f) = p.split_once(' ').unwrap();
        assert!(
            n.parse::<u32>().unwrap() < 100 && (f == "apples" || f == "pears"),
            "{t:?}"
        );
    }
    // room to close the object (a length cut leaves it open)
    let (t, _) = gen_n(Grammar::JsonObject, "Describe a cat.", 400);
    assert!(
        serde_json::from_str::<Value>(&t).unwrap().is_object(),
        "{t:?}"
    );
    // a bad grammar is refused up front, naming the problem
    let e = lm
        .constraint(&Grammar::Gbnf("root ::= missing\n".into()))
        .unwrap_err();
    assert!(e.to_string().contains("`missing`"), "{e}");
    let e = lm
        .constraint(&Grammar::JsonSchema(
            serde_json::json!({"type": "string", "format": "phone-number"}),
        ))
        .unwrap_err();
    assert!(e.to_string().contains("phone-number"), "{e}");
}

/// `(yes|no), [a-z ]{3,20}\.` checked by hand.
fn regex_lite(t: &str) -> bool {
    let Some(rest) = t.strip_prefix("yes, ").or_else(|| t.strip_prefix("no, ")) else {
        return false;
    };
    let Some(body) = rest.strip_suffix('.') else {
        return false;
    };
    (3..=20).contains(&body.len()) && body.chars().all(|c| c.is_ascii_lowercase() || c == ' ')
}

/// A DeepSeek-R1-style template (the generation prompt opens the reasoning)
/// on a real model: the reasoning streams apart, the budget closes it, and
/// the answer after it follows the schema.
#[test]
fn reasoning_is_split_capped_and_the_answer_constrained() {
    let Some(path) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let mut lm = LoadedModel::load(path).unwrap();
    let src = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";
    lm.template = Ok(ChatTemplate::new("test-think", src, false, &lm.tokenizer).unwrap());
    let format = lm.reasoning_format().unwrap();
    assert_eq!(format, ReasoningFormat::think());
    let schema = serde_json::json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false});
    let req = GenerateRequest {
        prompt: Prompt::Chat(vec![Message::user(
            "What is 12 times 12? Think step by step, then answer in JSON.",
        )]),
        max_tokens: Some(120),
        sampling: SamplingParams::greedy(),
        constraint: Some(lm.constraint(&Grammar::JsonSchema(schema.clone())).unwrap()),
        reasoning: Some(Reasoning {
            format,
            budget: Some(24),
        }),
        ..Default::default()
    };
    let pool = ThreadPool::new(2);
    let mut s = lm.model.session(1024, 64).unwrap();
    let (mut answer, mut thought) = (String::new(), String::new());
    let mut pieces = 0;
    let st = lm
        .generate_split(&pool, &mut s, &req, &AtomicBool::new(false), |p: Piece| {
            answer.push_str(p.text);
            thought.push_str(p.reasoning);
            pieces += 1;
            ControlFlow::Continue(())
        })
        .unwrap()
        .stats;
    eprintln!("reasoning: {thought:?}\nanswer: {answer:?}");
    // streamed in many pieces, the reasoning apart, closed by the budget
    assert!(pieces > 10);
    assert!(!thought.is_empty() && !thought.contains("<think>") && !thought.contains("</think>"));
    assert!(st.reasoning_tokens > 0 && st.reasoning_tokens <= 24);
    let text = lm.tokenizer.decode(&st.tokens);
    assert!(text.contains("</think>"), "{text:?}");
    check(&schema, &answer);
}
