//! The scheduler on a real model: concurrent greedy requests give exactly the
//! text each gives alone; cancellation; a full queue is refused; prefix reuse
//! does not change results.

use engine::scheduler::{Event, Scheduler, SchedulerConfig, SubmitError};
use engine::{GenerateRequest, LoadedModel, Message, Prompt, SamplingParams, ThreadPool};
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::sync::Arc;

fn greedy(prompt: Prompt, n: usize) -> GenerateRequest {
    GenerateRequest { prompt, max_tokens: Some(n), sampling: SamplingParams { temperature: 0.0, ..Default::default() }, stop: vec![] }
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
    SchedulerConfig { threads: 2, max_active: 8, max_queue: 16, ctx_budget: 4096, max_seq_ctx: 1024 }
}

/// Submit and collect (text, stats) through a channel.
fn submit(s: &Scheduler, req: GenerateRequest) -> mpsc::Receiver<Event> {
    let (tx, rx) = mpsc::channel();
    s.submit(req, None, Box::new(move |e| if tx.send(e).is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }))
        .unwrap();
    rx
}

fn collect(rx: mpsc::Receiver<Event>) -> (String, engine::GenerateStats) {
    let mut text = String::new();
    for e in rx {
        match e {
            Event::Token(t) => text.push_str(&t.text),
            Event::Done(s) => return (text, s),
            Event::Error(e) => panic!("{e}"),
        }
    }
    panic!("no Done event")
}

#[test]
fn concurrent_greedy_equals_alone() {
    let Some(p) = test_models::model("smollm2-135m") else { return };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let prompts = ["The capital of France is", "def fibonacci(n):", "Once upon a time", "1, 2, 3, 4,"];
    let reqs: Vec<GenerateRequest> = prompts.iter().map(|t| greedy(Prompt::Raw(t.to_string()), 24)).collect();
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
    let Some(p) = test_models::model("smollm2-135m") else { return };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let s = Scheduler::new(lm, SchedulerConfig { max_active: 1, max_queue: 1, ..cfg() });
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
        match s.submit(greedy(Prompt::Raw("Hello".into()), 50), None, Box::new(|_| ControlFlow::Continue(()))) {
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
    let Some(p) = test_models::model("qwen2.5-coder-0.5b") else { return };
    let lm = Arc::new(LoadedModel::load(&p).unwrap());
    let s = Scheduler::new(lm.clone(), cfg());
    let turn1 = vec![Message { role: "user".into(), content: "Name a prime number.".into() }];
    let (a1, _) = collect(submit(&s, greedy(Prompt::Chat(turn1.clone()), 12)));
    let mut turn2 = turn1.clone();
    turn2.push(Message { role: "assistant".into(), content: a1.clone() });
    turn2.push(Message { role: "user".into(), content: "And another one?".into() });
    let req2 = greedy(Prompt::Chat(turn2), 12);
    let (a2, st2) = collect(submit(&s, req2.clone()));
    assert_eq!(a2, alone(&lm, &req2));
    assert!(st2.prompt_tokens > 20);
}
