//! The scheduler on a real model: concurrent greedy requests give exactly the
//! text each gives alone; cancellation; a full queue is refused; prefix reuse
//! does not change results.

use engine::scheduler::{Event, Scheduler, SchedulerConfig, SubmitError};
use engine::{GenerateRequest, LoadedModel, Message, Prompt, SamplingParams, ThreadPool};
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::sync::Arc;

fn greedy(prompt: Prompt, n: usize) -> GenerateRequest {
    GenerateRequest {
        prompt,
        max_tokens: Some(n),
        sampling: SamplingParams {
            temperature: 0.0,
            ..Default::default()
        },
        stop: vec![],
        ..Default::default()
    }
}

fn alone(lm: &LoadedModel, req: &GenerateRequest) -> String {
    let pool = ThreadPool::new(2);
    let mut s = lm.model.session(512, 64).unwrap();
    let mut out = String::new();
    lm.generate(&pool, &mut s, req, |t| {
        out.push_str(t);
        ControlFlow::Continue(())
    })
    .unwrap();
    out
}

fn cfg() -> SchedulerConfig {
    SchedulerConfig {
        threads: 2,
        max_active: 8,
        max_queue: 16,
        ctx_budget: 4096,
        max_seq_ctx: 1024,
    }
}

/// Submit; the events come back through a channel.
fn submit(s: &Scheduler, req: GenerateRequest) -> mpsc::Receiver<Event> {
    submit_with(s, req, None)
}

fn submit_with(
    s: &Scheduler,
    req: GenerateRequest,
    top_logprobs: Option<usize>,
) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    let sink = Box::new(move |e| {
        if tx.send(e).is_ok() {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    });
    s.submit(req, top_logprobs, sink).unwrap();
    rx
}

fn collect(rx: mpsc::Receiver<Event>) -> (String, engine::GenerateStats) {
    let mut text = String::new();
    for e in rx {
        match e {
            Event::Token(t) => text.push_str(&t.text),
            Event::Done(s) => return (text, s),
            Event::Error(e) => panic!("{e}"),
            Event::Prefill { .. } => {}
        }
    }
    panic!("no Done event")
}

#[test]
fn concurrent_greedy_equals_alone() {
    let Some(p) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let prompts = [
        "The capital of France is",
        "def fibonacci(n):",
        "Once upon a time",
        "1, 2, 3, 4,",
    ];
    let reqs: Vec<GenerateRequest> = prompts
        .iter()
        .map(|t| greedy(Prompt::Raw(t.to_string()), 24))
        .collect();
    let want: Vec<String> = reqs.iter().map(|r| alone(&lm, r)).collect();
    let s = Scheduler::new(lm.clone(), cfg());
    let rxs: Vec<_> = reqs.iter().map(|r| submit(&s, r.clone())).collect();
    for (i, rx) in rxs.into_iter().enumerate() {
        let (text, stats) = collect(rx);
        assert_eq!(text, want[i], "request {i}");
        assert_eq!(stats.output_tokens, 24);
    }
}

#[test]
fn cancel_and_queue_full() {
    let Some(p) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let s = Scheduler::new(
        lm,
        SchedulerConfig {
            max_active: 1,
            max_queue: 1,
            ..cfg()
        },
    );
    // A request whose sink stops after 3 tokens is cancelled.
    let (tx, rx) = mpsc::channel();
    let mut n = 0;
    s.submit(
        greedy(Prompt::Raw("Once upon a time".into()), 200),
        None,
        Box::new(move |e| {
            let done = matches!(e, Event::Done(_));
            let _ = tx.send(e);
            n += 1;
            if n >= 3 && !done {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }),
    )
    .unwrap();
    // Fill the queue: at most one waiting; some submission must be refused.
    let mut refused = false;
    let mut keep = Vec::new();
    for _ in 0..4 {
        match s.submit(
            greedy(Prompt::Raw("Hello".into()), 50),
            None,
            Box::new(|_| ControlFlow::Continue(())),
        ) {
            Ok(()) => keep.push(()),
            Err(SubmitError::QueueFull(_)) => refused = true,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused, "a full queue must refuse");
    let (_, stats) = collect(rx);
    assert_eq!(stats.finish, engine::FinishReason::Cancelled);
    assert!(stats.output_tokens <= 4, "{}", stats.output_tokens);
}

#[test]
fn prefix_reuse_keeps_results() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let s = Scheduler::new(lm.clone(), cfg());
    let turn1 = vec![Message::user("Name a prime number.")];
    let (a1, _) = collect(submit(&s, greedy(Prompt::Chat(turn1.clone()), 12)));
    let mut turn2 = turn1.clone();
    turn2.push(Message::assistant(a1.clone()));
    turn2.push(Message::user("And another one?"));
    let req2 = greedy(Prompt::Chat(turn2), 12);
    let (a2, st2) = collect(submit(&s, req2.clone()));
    assert_eq!(a2, alone(&lm, &req2));
    assert!(st2.prompt_tokens > 20);
}

/// A long prompt is read in chunks between decode steps: the streams
/// already running keep producing tokens meanwhile, its result equals the
/// same request alone, and a caller that leaves during the prompt cancels it
/// before the prompt is finished.
#[test]
fn long_prompts_prefill_in_chunks_interleaved_and_cancellable() {
    let Some(p) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let long_text: String = (0..22)
        .map(|i| format!("Line {i}: the quick brown fox jumps over the lazy dog. "))
        .collect();
    let long = greedy(Prompt::Raw(long_text.clone()), 8);
    let n_long = lm.prompt_tokens(&long.prompt).unwrap().len();
    assert!(n_long > 3 * engine::scheduler::PREFILL_ROWS, "{n_long}");
    let short = greedy(Prompt::Raw("Once upon a time".into()), 48);
    let want_long = alone(&lm, &long);
    let want_short = alone(&lm, &short);

    let s = Scheduler::new(lm.clone(), cfg());
    // One channel for both, tagged, to see the interleaving.
    let (tx, rx) = mpsc::channel::<(char, Event)>();
    let tx2 = tx.clone();
    s.submit(
        short,
        None,
        Box::new(move |e| {
            if tx.send(('s', e)).is_ok() {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }),
    )
    .unwrap();
    // Let the short one start generating first: its first token, not a
    // fixed wait (a fast machine finished all 48 tokens within 300 ms, and
    // then nothing ran beside the long prompt).
    let mut text_s = String::new();
    loop {
        match rx.recv().unwrap() {
            ('s', Event::Token(t)) => {
                text_s.push_str(&t.text);
                break;
            }
            (_, Event::Error(e)) => panic!("{e}"),
            (_, Event::Done(_)) => panic!("the short request ended before its first token"),
            _ => {}
        }
    }
    s.submit(
        long,
        None,
        Box::new(move |e| {
            if tx2.send(('l', e)).is_ok() {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }),
    )
    .unwrap();
    let mut text_l = String::new();
    let mut done = 0;
    let mut short_tokens_during_prefill = 0;
    let mut prefill_seen = Vec::new();
    let mut long_prefilling = false;
    while done < 2 {
        let (who, e) = rx.recv().unwrap();
        match (who, e) {
            ('l', Event::Prefill { done, total }) => {
                assert_eq!(total, n_long);
                prefill_seen.push(done);
                long_prefilling = done < total;
            }
            ('s', Event::Token(t)) => {
                short_tokens_during_prefill += long_prefilling as usize;
                text_s.push_str(&t.text);
            }
            ('l', Event::Token(t)) => {
                long_prefilling = false;
                text_l.push_str(&t.text);
            }
            (_, Event::Done(_)) => done += 1,
            (_, Event::Error(e)) => panic!("{e}"),
            _ => {}
        }
    }
    assert_eq!(text_s, want_short);
    assert_eq!(text_l, want_long);
    assert!(
        prefill_seen.len() >= 3 && prefill_seen.windows(2).all(|w| w[0] < w[1]),
        "{prefill_seen:?}"
    );
    assert!(
        short_tokens_during_prefill >= 2,
        "the short stream stalled during the long prompt"
    );

    // Leaving during the prompt: cancelled before it is read whole. (Other
    // text: the same prompt would be served from the finished one's cache.)
    let other: String = (0..22)
        .map(|i| format!("Row {i}: pack my box with five dozen liquor jugs. "))
        .collect();
    let (tx, rx) = mpsc::channel::<Event>();
    let mut calls = 0;
    s.submit(
        greedy(Prompt::Raw(other), 8),
        None,
        Box::new(move |e| {
            let prefill = matches!(e, Event::Prefill { .. });
            let _ = tx.send(e);
            calls += 1;
            if prefill && calls >= 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }),
    )
    .unwrap();
    let mut last_done = 0;
    for e in rx {
        match e {
            Event::Prefill { done, .. } => last_done = done,
            Event::Done(st) => {
                assert_eq!(st.finish, engine::FinishReason::Cancelled);
                assert_eq!(st.output_tokens, 0);
                break;
            }
            Event::Token(_) => panic!("no token after a cancel during the prompt"),
            Event::Error(e) => panic!("{e}"),
        }
    }
    assert!(last_done < n_long, "{last_done}");
}

/// Collect (each token's log-probability bits, stats).
fn collect_lp(rx: mpsc::Receiver<Event>) -> (Vec<u32>, engine::GenerateStats) {
    let mut lp = Vec::new();
    for e in rx {
        match e {
            Event::Token(t) if t.id != u32::MAX => lp.push(t.logprob.to_bits()),
            Event::Token(_) | Event::Prefill { .. } => {}
            Event::Done(s) => return (lp, s),
            Event::Error(e) => panic!("{e}"),
        }
    }
    panic!("no Done event")
}

/// Requests that arrive together with the same long system prompt compute it
/// once: the others copy it from the first one's cache (reported as cached
/// prompt tokens), and every token's log-probability is bit for bit the one
/// the same request gets alone on a fresh scheduler (nothing shared).
#[test]
fn concurrent_requests_share_a_prompt_prefix() {
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let system = "You are a careful assistant for a small bakery. Answer in one short sentence, \
                  mention the bakery's name (Hearth & Crumb) and never use lists.";
    let asks = [
        "What time do you open?",
        "Do you sell rye bread?",
        "Can I order a cake?",
        "Is there parking?",
    ];
    let reqs: Vec<GenerateRequest> = asks
        .iter()
        .map(|q| {
            greedy(
                Prompt::Chat(vec![Message::system(system), Message::user(*q)]),
                10,
            )
        })
        .collect();
    let want: Vec<Vec<u32>> = reqs
        .iter()
        .map(|r| {
            let (lp, st) = collect_lp(submit_with(
                &Scheduler::new(lm.clone(), cfg()),
                r.clone(),
                Some(0),
            ));
            assert_eq!(st.cached_tokens, 0);
            lp
        })
        .collect();
    let s = Scheduler::new(lm.clone(), cfg());
    let rxs: Vec<_> = reqs
        .iter()
        .map(|r| submit_with(&s, r.clone(), Some(0)))
        .collect();
    let mut shared = 0;
    for (i, rx) in rxs.into_iter().enumerate() {
        let (lp, stats) = collect_lp(rx);
        assert!(lp.len() >= 8, "{} tokens", lp.len());
        assert_eq!(
            lp, want[i],
            "request {i}: log-probabilities differ from the request alone"
        );
        assert!(stats.cached_tokens < stats.prompt_tokens);
        if stats.cached_tokens >= 30 {
            shared += 1;
        }
    }
    // the system prompt is ~45 tokens: computed once, copied three times
    assert!(
        shared >= 3,
        "{shared} of 4 requests reused the shared prefix"
    );
}

/// A hybrid model (Qwen3.5: recurrent state next to the KV cache) in the
/// scheduler: requests decoded together give bit for bit the log-probabilities
/// each gets alone (a row's scan never depends on its neighbours), and a
/// later request that continues an earlier prompt reuses that prompt (its
/// recurrent state snapshotted at its end), with the same result as alone.
#[test]
fn hybrid_model_batches_and_reuses_prefixes() {
    let Some(p) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let base: Vec<u32> = (500..548).collect();
    let reqs: Vec<GenerateRequest> = (0..4u32)
        .map(|i| {
            let mut ids = base.clone();
            ids.extend((0..6 + 3 * i).map(|t| 7000 + 100 * i + t));
            greedy(Prompt::Tokens(ids), 10)
        })
        .collect();
    let alone_lp = |r: &GenerateRequest| {
        collect_lp(submit_with(
            &Scheduler::new(lm.clone(), cfg()),
            r.clone(),
            Some(0),
        ))
        .0
    };
    let want: Vec<Vec<u32>> = reqs.iter().map(alone_lp).collect();
    let s = Scheduler::new(lm.clone(), cfg());
    let rxs: Vec<_> = reqs
        .iter()
        .map(|r| submit_with(&s, r.clone(), Some(0)))
        .collect();
    for (i, rx) in rxs.into_iter().enumerate() {
        let (lp, _) = collect_lp(rx);
        assert_eq!(lp.len(), 10);
        assert_eq!(lp, want[i], "request {i} batched differs from alone");
    }

    // a follow-up of request 0's prompt on the same scheduler (its idle
    // session holds that prompt and its answer)
    let Prompt::Tokens(first) = &reqs[0].prompt else {
        unreachable!()
    };
    let mut ids = first.clone();
    ids.extend(9000..9009u32);
    let follow = greedy(Prompt::Tokens(ids), 10);
    let (lp, st) = collect_lp(submit_with(&s, follow.clone(), Some(0)));
    assert_eq!(st.cached_tokens, first.len(), "the first prompt is reused");
    assert_eq!(lp, alone_lp(&follow));
}

/// A hybrid model in the scheduler: requests with the same system prompt
/// (two different conversations) start from its state instead of
/// recomputing it — a later one from the idle session of an earlier one
/// (its state pinned at the system prompt's end), one arriving together with
/// another by copying it from the running one — and each gives bit for bit
/// the log-probabilities it gets alone.
#[test]
fn hybrid_requests_share_the_system_prompt_state() {
    let Some(p) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let system = Message::system(
        "You are a careful assistant. Answer in one short sentence, and say so when you do not know.",
    );
    let conv = |user: &str| greedy(Prompt::Chat(vec![system.clone(), Message::user(user)]), 6);
    let alone_lp = |r: &GenerateRequest| {
        collect_lp(submit_with(
            &Scheduler::new(lm.clone(), cfg()),
            r.clone(),
            Some(0),
        ))
        .0
    };
    let reqs = [
        conv("Name a fruit."),
        conv("What is the capital of Peru?"),
        conv("Count to three."),
        conv("Say hello in French."),
    ];
    let ids = lm.prompt_tokens(&reqs[0].prompt).unwrap();
    let pin = engine::reuse_point(&lm, &ids).expect("a system prompt ending inside the prompt");
    let want: Vec<Vec<u32>> = reqs.iter().map(alone_lp).collect();

    // one after the other
    let s = Scheduler::new(lm.clone(), cfg());
    let (lp, st) = collect_lp(submit_with(&s, reqs[0].clone(), Some(0)));
    assert_eq!((lp, st.cached_tokens), (want[0].clone(), 0));
    let (lp, st) = collect_lp(submit_with(&s, reqs[1].clone(), Some(0)));
    assert_eq!(st.cached_tokens, pin, "the system prompt is not recomputed");
    assert_eq!(lp, want[1]);

    // together, on a fresh scheduler: one computes the system prompt, the
    // other copies its state
    let s = Scheduler::new(lm.clone(), cfg());
    let rxs: Vec<_> = reqs[2..]
        .iter()
        .map(|r| submit_with(&s, r.clone(), Some(0)))
        .collect();
    let got: Vec<_> = rxs.into_iter().map(collect_lp).collect();
    assert_eq!(got[0].0, want[2]);
    assert_eq!(got[1].0, want[3]);
    let cached: Vec<usize> = got.iter().map(|g| g.1.cached_tokens).collect();
    assert!(
        cached.contains(&0) && cached.contains(&pin),
        "cached {cached:?}, the system prompt is {pin} tokens"
    );
}

/// A hybrid model's chat through the scheduler (as `serve` runs it): each
/// turn is the conversation rendered anew, which writes the answer's turn
/// differently from what the session held; a prompt chunk ends after the
/// prompt's last end-of-turn token (`engine::turn_point`), so the next turn
/// starts from the state snapshotted there, not from the system prompt's —
/// and every answer is the one it gets alone.
#[test]
fn hybrid_chat_turns_restore_at_the_last_message() {
    let Some(p) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let s = Scheduler::new(lm.clone(), cfg());
    let mut msgs = vec![Message::system(
        "You are a helpful assistant. Answer briefly.",
    )];
    let mut prev_turn = None;
    for k in 0..4 {
        msgs.push(Message::user(format!(
            "Turn {k}: tell me something about the number {} and why it matters.",
            7 * k + 3
        )));
        let req = greedy(Prompt::Chat(msgs.clone()), 8);
        let ids = lm.prompt_tokens(&req.prompt).unwrap();
        let (text, st) = collect(submit(&s, req.clone()));
        if let Some(t) = prev_turn {
            assert!(
                st.cached_tokens >= t,
                "turn {k}: cached {} of {}, the last prompt's last message ended at {t}",
                st.cached_tokens,
                ids.len()
            );
        }
        assert_eq!(text, alone(&lm, &req));
        prev_turn = engine::turn_point(&lm, &ids);
        assert!(prev_turn.is_some());
        msgs.push(Message::assistant(text));
    }
}
