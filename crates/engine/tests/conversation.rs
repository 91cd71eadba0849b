//! `generate_cached`: reusing the KV cache across turns gives exactly what a
//! fresh session gives, processes only the new tokens, and honours cancel.

use engine::{
    FinishReason, GenerateRequest, LoadedModel, Message, Prompt, SamplingParams, ThreadPool,
};
use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;

fn req(msgs: &[Message], n: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Chat(msgs.to_vec()),
        max_tokens: Some(n),
        sampling: SamplingParams::greedy(),
        stop: vec![],
        ..Default::default()
    }
}

#[test]
fn cached_turns_match_fresh_sessions() {
    let Some(path) = test_models::model("smollm2-135m") else {
        return;
    };
    let lm = LoadedModel::load(path).unwrap();
    let pool = ThreadPool::new(2);
    let no = AtomicBool::new(false);
    let mut sess = lm.model.session(512, model::DEFAULT_BATCH).unwrap();
    let mut msgs = vec![Message::user("Name a fruit.")];
    let mut a1 = String::new();
    let s1 = lm
        .generate_cached(&pool, &mut sess, &req(&msgs, 12), &no, |t| {
            a1.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(s1.reused_tokens, 0);
    msgs.push(Message::assistant(a1));
    msgs.push(Message::user("And a vegetable?"));
    let mut a2 = String::new();
    let s2 = lm
        .generate_cached(&pool, &mut sess, &req(&msgs, 12), &no, |t| {
            a2.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(
        s2.reused_tokens > s1.stats.prompt_tokens,
        "reused {} of {}",
        s2.reused_tokens,
        s2.stats.prompt_tokens
    );

    // A fresh session (the plain generate path) gives the same second answer.
    let mut fresh = lm.model.session(512, model::DEFAULT_BATCH).unwrap();
    let mut b2 = String::new();
    let f = lm
        .generate(&pool, &mut fresh, &req(&msgs, 12), |t| {
            b2.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(a2, b2);
    assert_eq!(s2.stats.tokens, f.tokens);

    // An edited history: the cache is cut back to the shared prefix.
    msgs[0] = Message::user("Name a colour.");
    let s3 = lm
        .generate_cached(&pool, &mut sess, &req(&msgs, 4), &no, |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(s3.reused_tokens < s1.stats.prompt_tokens);

    // Cancelled before starting: nothing generated.
    let yes = AtomicBool::new(true);
    let s4 = lm
        .generate_cached(&pool, &mut sess, &req(&msgs, 4), &yes, |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(s4.stats.finish, FinishReason::Cancelled);
    assert_eq!(s4.stats.output_tokens, 0);
}
