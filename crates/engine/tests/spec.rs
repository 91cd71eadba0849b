//! Speculative decoding is exact: on the real models, generation with
//! drafts (prompt lookup, a draft model) gives the same tokens, the same
//! streamed pieces in the same order, the same finish and the same cache as
//! plain decoding — greedy and seeded sampling, stop strings, max_tokens, a
//! full context — alone and in the scheduler next to plain sequences.

use engine::scheduler::{Event, Scheduler, SchedulerConfig};
use engine::{
    DraftModel, FinishReason, GenerateRequest, GenerateStats, LoadedModel, Message, Prompt,
    SamplingParams, Speculation, ThreadPool,
};
use std::ops::ControlFlow;
use std::sync::{mpsc, Arc};

/// A code-editing request: the answer copies most of its input.
const CODE: &str = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef mean(values):\n    total = 0\n    for v in values:\n        total = add(total, v)\n    return total / len(values)\n\n\ndef main():\n    numbers = [1, 2, 3, 4, 5]\n    print(\"mean:\", mean(numbers))\n\n\nif __name__ == \"__main__\":\n    main()\n";

fn edit_prompt() -> Prompt {
    Prompt::Chat(vec![Message::user(format!(
        "Rename the function `add` to `plus` everywhere in this code. Answer with the whole edited code only.\n\n```python\n{CODE}```"
    ))])
}

fn req(prompt: Prompt, n: usize, sampling: SamplingParams, spec: Speculation) -> GenerateRequest {
    GenerateRequest {
        prompt,
        max_tokens: Some(n),
        sampling,
        stop: vec![],
        spec,
        ..Default::default()
    }
}

struct Out {
    pieces: Vec<String>,
    stats: GenerateStats,
    cache: Vec<u32>,
}

fn generate(lm: &LoadedModel, r: &GenerateRequest, n_ctx: usize) -> Out {
    let pool = ThreadPool::new(2);
    let mut s = lm.session(n_ctx).unwrap();
    let mut pieces = Vec::new();
    let stats = lm
        .generate(&pool, &mut s, r, |t| {
            pieces.push(t.to_string());
            ControlFlow::Continue(())
        })
        .unwrap();
    Out {
        pieces,
        stats,
        cache: s.tokens().to_vec(),
    }
}

/// Plain and speculative runs agree in everything observable.
fn assert_same(plain: &Out, spec: &Out, what: &str) {
    assert_eq!(spec.stats.tokens, plain.stats.tokens, "{what}: tokens");
    assert_eq!(spec.pieces, plain.pieces, "{what}: streamed pieces");
    assert_eq!(spec.stats.finish, plain.stats.finish, "{what}: finish");
    assert_eq!(
        spec.stats.context_full, plain.stats.context_full,
        "{what}: context_full"
    );
    assert_eq!(spec.cache, plain.cache, "{what}: cached tokens");
    assert_eq!(plain.stats.spec.drafted, 0, "{what}: plain drafted");
}

fn seeded() -> SamplingParams {
    SamplingParams {
        temperature: 0.7,
        repeat_penalty: 1.1,
        seed: 42,
        ..SamplingParams::default()
    }
}

/// The issue's task: qwen2.5-coder editing code with prompt lookup gives
/// the plain greedy answer exactly, most drafts accepted — and some rejected,
/// so the cache is cut back on the way.
#[test]
fn prompt_lookup_is_exact_on_a_code_edit() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = LoadedModel::load(&p).unwrap();
    let n = 160;
    let plain = generate(
        &lm,
        &req(edit_prompt(), n, SamplingParams::greedy(), Speculation::OFF),
        1024,
    );
    let spec = generate(
        &lm,
        &req(
            edit_prompt(),
            n,
            SamplingParams::greedy(),
            Speculation::lookup(),
        ),
        1024,
    );
    assert_same(&plain, &spec, "qwen greedy lookup");
    let st = spec.stats.spec;
    eprintln!("qwen edit: {st:?}, {} tokens", spec.stats.output_tokens);
    assert!(
        plain.pieces.concat().contains("plus("),
        "{}",
        plain.pieces.concat()
    );
    assert!(st.accepted * 2 > spec.stats.output_tokens as u64, "{st:?}");
    assert!(st.accepted < st.drafted, "no draft rejected: {st:?}");
    // the forward calls: fewer than one per token
    assert!(st.steps > 0);
}

/// Seeded sampling (temperature, top-k/p, min-p, a repeat penalty): the
/// random draws happen at the same positions, so the tokens are the same.
#[test]
fn prompt_lookup_is_exact_for_seeded_sampling() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = LoadedModel::load(&p).unwrap();
    let plain = generate(
        &lm,
        &req(edit_prompt(), 96, seeded(), Speculation::OFF),
        1024,
    );
    let spec = generate(
        &lm,
        &req(edit_prompt(), 96, seeded(), Speculation::lookup()),
        1024,
    );
    assert_same(&plain, &spec, "qwen seeded lookup");
    assert!(spec.stats.spec.accepted > 0, "{:?}", spec.stats.spec);
}

/// The other architectures (Llama, Gemma 3 with its sliding window), greedy
/// and seeded, with prompt lookup on text that repeats.
#[test]
fn prompt_lookup_is_exact_on_other_architectures() {
    let prompt = Prompt::Chat(vec![Message::user(
        "Repeat this list exactly, then add one more line in the same style:\n- red apples are sweet\n- green apples are sour\n- yellow apples are soft\n- red apples are sweet",
    )]);
    let mut seeded_drafted = 0;
    for name in ["smollm2-135m", "gemma3-270m"] {
        let Some(p) = test_models::model(name) else {
            return;
        };
        let lm = LoadedModel::load(&p).unwrap();
        for sampling in [SamplingParams::greedy(), seeded()] {
            let what = format!("{name} t={}", sampling.temperature);
            let plain = generate(
                &lm,
                &req(prompt.clone(), 64, sampling.clone(), Speculation::OFF),
                512,
            );
            let spec = generate(
                &lm,
                &req(prompt.clone(), 64, sampling.clone(), Speculation::lookup()),
                512,
            );
            assert_same(&plain, &spec, &what);
            if sampling.temperature == 0.0 {
                assert!(spec.stats.spec.drafted > 0, "{what}: {:?}", spec.stats.spec);
            } else {
                seeded_drafted += spec.stats.spec.drafted;
            }
        }
    }
    assert!(seeded_drafted > 0, "no drafts in the seeded runs");
}

/// Stop strings in the middle of an accepted run, max_tokens inside one,
/// and a context that fills up: each ends where plain decoding ends.
#[test]
fn stops_limits_and_full_context_end_where_plain_does() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = LoadedModel::load(&p).unwrap();
    let g = SamplingParams::greedy();
    let base = generate(
        &lm,
        &req(edit_prompt(), 80, g.clone(), Speculation::OFF),
        1024,
    );
    let text = base.pieces.concat();
    // a stop string from the middle of the copied code
    let stop = "total = plus";
    assert!(text.contains(stop), "{text}");
    for max in [80, 37, 1] {
        let mut r = req(edit_prompt(), max, g.clone(), Speculation::OFF);
        r.stop = vec![stop.into()];
        let plain = generate(&lm, &r, 1024);
        r.spec = Speculation::lookup();
        let spec = generate(&lm, &r, 1024);
        assert_same(&plain, &spec, &format!("stop string, max {max}"));
        if max == 80 {
            assert_eq!(plain.stats.finish, FinishReason::Stop);
        }
        if max == 37 {
            assert_eq!(spec.stats.output_tokens, 37);
            assert_eq!(spec.stats.finish, FinishReason::Length);
        }
    }
    // a context that fills up while drafts are being accepted
    let prompt_len = lm.prompt_tokens(&edit_prompt()).unwrap().len();
    let n_ctx = prompt_len + 50;
    let r = req(edit_prompt(), 500, g.clone(), Speculation::OFF);
    let plain = generate(&lm, &r, n_ctx);
    let spec = generate(
        &lm,
        &GenerateRequest {
            spec: Speculation::lookup(),
            ..r
        },
        n_ctx,
    );
    assert!(plain.stats.context_full);
    assert_same(&plain, &spec, "full context");
}

/// A chat's next turn reuses the cache: after a speculative turn it holds
/// what plain decoding leaves, so the turns that follow agree too.
#[test]
fn cached_turns_with_speculation_equal_plain() {
    let Some(p) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = LoadedModel::load(&p).unwrap();
    let pool = ThreadPool::new(2);
    let no = std::sync::atomic::AtomicBool::new(false);
    let mut texts: Vec<Vec<String>> = Vec::new();
    for spec in [Speculation::OFF, Speculation::lookup()] {
        let mut sess = lm.session(1024).unwrap();
        let mut msgs = vec![Message::user(
            "Copy this sentence twice: the quick brown fox jumps over the lazy dog.",
        )];
        let mut turns = Vec::new();
        for next in ["Now copy it once more.", "And once more, in capitals."] {
            let mut a = String::new();
            let r = req(
                Prompt::Chat(msgs.clone()),
                40,
                SamplingParams::greedy(),
                spec.clone(),
            );
            lm.generate_cached(&pool, &mut sess, &r, &no, |t| {
                a.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
            turns.push(a.clone());
            msgs.push(Message::assistant(a));
            msgs.push(Message::user(next));
        }
        texts.push(turns);
    }
    assert_eq!(texts[0], texts[1]);
}

/// A draft model: the model drafting for itself drafts exactly what it
/// decodes greedily, so every draft is accepted; the output is plain
/// decoding's. Combined with lookup, and with seeded sampling (drafts then
/// are rejected at times), still exact.
#[test]
fn draft_model_is_exact_and_itself_accepts_everything() {
    let Some(p) = test_models::model("smollm2-135m") else {
        return;
    };
    let mut lm = LoadedModel::load(&p).unwrap();
    lm.set_draft(Arc::new(DraftModel::new(LoadedModel::load(&p).unwrap())))
        .unwrap();
    let prompt = Prompt::Chat(vec![Message::user(
        "Write a short story about a lighthouse keeper.",
    )]);
    let draft_only = Speculation {
        draft: true,
        ..Speculation::OFF
    };
    let plain = generate(
        &lm,
        &req(
            prompt.clone(),
            48,
            SamplingParams::greedy(),
            Speculation::OFF,
        ),
        512,
    );
    let spec = generate(
        &lm,
        &req(
            prompt.clone(),
            48,
            SamplingParams::greedy(),
            draft_only.clone(),
        ),
        512,
    );
    assert_same(&plain, &spec, "self-draft greedy");
    let st = spec.stats.spec;
    assert!(st.drafted > 0);
    assert_eq!(st.accepted, st.drafted, "{st:?}");
    // fewer verify passes than tokens
    assert!((st.steps as usize) < spec.stats.output_tokens / 2, "{st:?}");
    let both = Speculation {
        lookup: true,
        draft: true,
        n_max: 5,
    };
    for (sampling, spec) in [
        (seeded(), draft_only),
        (SamplingParams::greedy(), both.clone()),
        (seeded(), both),
    ] {
        let what = format!("t={} {spec:?}", sampling.temperature);
        let plain = generate(
            &lm,
            &req(prompt.clone(), 48, sampling.clone(), Speculation::OFF),
            512,
        );
        let s = generate(&lm, &req(prompt.clone(), 48, sampling, spec), 512);
        assert_same(&plain, &s, &what);
        assert!(s.stats.spec.drafted > 0, "{what}");
    }
}

#[test]
fn draft_model_of_another_vocabulary_is_refused() {
    let (Some(a), Some(b)) = (
        test_models::model("smollm2-135m"),
        test_models::model("gemma3-270m"),
    ) else {
        return;
    };
    let mut lm = LoadedModel::load(&a).unwrap();
    let d = Arc::new(DraftModel::new(LoadedModel::load(&b).unwrap()));
    let e = lm.set_draft(d).unwrap_err().to_string();
    assert!(
        e.contains("cannot draft") && e.contains("vocabulary"),
        "{e}"
    );
    assert!(lm.draft.is_none());
}

fn submit(s: &Scheduler, r: GenerateRequest) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    s.submit(
        r,
        Some(2),
        Box::new(move |e| {
            if tx.send(e).is_ok() {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }),
    )
    .unwrap();
    rx
}

/// (token ids with their log-probabilities, text, stats) of a scheduled request.
type Collected = (Vec<(u32, f32, Vec<(u32, f32)>)>, String, GenerateStats);

fn collect(rx: mpsc::Receiver<Event>) -> Collected {
    let (mut toks, mut text) = (Vec::new(), String::new());
    for e in rx {
        match e {
            Event::Token(t) => {
                text.push_str(&t.text);
                toks.push((t.id, t.logprob, t.top_logprobs));
            }
            Event::Done(s) => return (toks, text, s),
            Event::Error(e) => panic!("{e}"),
            Event::Prefill { .. } => {}
        }
    }
    panic!("no Done event")
}

/// In the scheduler, speculating and plain sequences batched together each
/// give what they give alone without speculation: tokens, text, log-probs;
/// the scheduler's counters add up the requests' own.
#[test]
fn scheduler_mixes_speculating_and_plain_sequences_exactly() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let reqs = [
        req(
            edit_prompt(),
            64,
            SamplingParams::greedy(),
            Speculation::lookup(),
        ),
        req(
            edit_prompt(),
            64,
            SamplingParams::greedy(),
            Speculation::OFF,
        ),
        req(
            Prompt::Raw("def fibonacci(n):".into()),
            40,
            SamplingParams::greedy(),
            Speculation::lookup(),
        ),
        req(edit_prompt(), 48, seeded(), Speculation::lookup()),
        req(
            Prompt::Raw("1, 2, 3, 4, 5, 6, 7, 8,".into()),
            40,
            SamplingParams::greedy(),
            Speculation {
                n_max: 3,
                ..Speculation::lookup()
            },
        ),
    ];
    let cfg = SchedulerConfig {
        threads: 2,
        max_active: 8,
        max_queue: 16,
        ctx_budget: 8192,
        max_seq_ctx: 1024,
    };
    // alone, plain: one at a time through the scheduler without speculation
    let s = Scheduler::new(lm.clone(), cfg.clone());
    let want: Vec<Collected> = reqs
        .iter()
        .map(|r| {
            collect(submit(
                &s,
                GenerateRequest {
                    spec: Speculation::OFF,
                    ..r.clone()
                },
            ))
        })
        .collect();
    assert_eq!(s.stats().spec.drafted, 0);
    drop(s);
    // the plain engine loop agrees
    let alone = generate(
        &lm,
        &GenerateRequest {
            spec: Speculation::OFF,
            ..reqs[0].clone()
        },
        1024,
    );
    assert_eq!(alone.stats.tokens, want[0].2.tokens);
    // together, some speculating
    let s = Scheduler::new(lm.clone(), cfg);
    let rxs: Vec<_> = reqs.iter().map(|r| submit(&s, r.clone())).collect();
    let mut total = engine::SpecStats::default();
    for (i, rx) in rxs.into_iter().enumerate() {
        let got = collect(rx);
        assert_eq!(got.0.len(), want[i].0.len(), "request {i}: token count");
        for (k, (g, w)) in got.0.iter().zip(&want[i].0).enumerate() {
            assert_eq!(g.0, w.0, "request {i} token {k}");
            assert_eq!(g.1.to_bits(), w.1.to_bits(), "request {i} logprob {k}");
            assert_eq!(g.2, w.2, "request {i} top logprobs {k}");
        }
        assert_eq!(got.1, want[i].1, "request {i} text");
        assert_eq!(got.2.tokens, want[i].2.tokens, "request {i}");
        assert_eq!(got.2.finish, want[i].2.finish, "request {i}");
        if reqs[i].spec.is_on() {
            total.add(&got.2.spec);
        } else {
            assert_eq!(got.2.spec.drafted, 0);
        }
    }
    assert!(total.accepted > 0, "{total:?}");
    assert!(total.accepted < total.drafted, "{total:?}");
    // the counters are updated before the Done event is sent
    assert_eq!(s.stats().spec, total);
}
