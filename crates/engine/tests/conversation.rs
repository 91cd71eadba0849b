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

fn tokens_req(ids: &[u32], n: usize) -> GenerateRequest {
    GenerateRequest {
        prompt: Prompt::Tokens(ids.to_vec()),
        max_tokens: Some(n),
        sampling: SamplingParams::greedy(),
        stop: vec![],
        ..Default::default()
    }
}

/// The answer (text and token ids) of a fresh session.
fn fresh_answer(lm: &LoadedModel, pool: &ThreadPool, ids: &[u32], n: usize) -> (String, Vec<u32>) {
    let mut fresh = lm.model.session(512, model::DEFAULT_BATCH).unwrap();
    let mut text = String::new();
    let st = lm
        .generate(pool, &mut fresh, &tokens_req(ids, n), |t| {
            text.push_str(t);
            ControlFlow::Continue(())
        })
        .unwrap();
    (text, st.tokens)
}

/// A hybrid model (Qwen3.5: recurrent DeltaNet state next to the KV cache):
/// a second turn costs its own tokens only, a turn that cuts the history
/// back to the end of an earlier prompt restores the state snapshotted there
/// instead of recomputing, a cut between snapshots recomputes from the one
/// before — and every answer is the one a fresh session gives.
#[test]
fn hybrid_turns_process_only_new_tokens() {
    let Some(path) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = LoadedModel::load(path).unwrap();
    let pool = ThreadPool::new(2);
    let no = AtomicBool::new(false);
    let mut sess = lm.model.session(512, model::DEFAULT_BATCH).unwrap();
    let p1: Vec<u32> = (1000..1040).collect();
    let run = |sess: &mut model::Session, ids: &[u32], n: usize| {
        let mut text = String::new();
        let st = lm
            .generate_cached(&pool, sess, &tokens_req(ids, n), &no, |t| {
                text.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        (text, st)
    };
    let (_, s1) = run(&mut sess, &p1, 8);
    assert_eq!(s1.reused_tokens, 0);

    // turn 2: the history (prompt and answer, as the session holds them)
    // plus a new message of 12 tokens: only those 12 are computed
    let mut p2 = sess.tokens().to_vec();
    assert!(p2.len() > p1.len());
    p2.extend(2000..2012u32);
    let (a2, s2) = run(&mut sess, &p2, 8);
    assert_eq!(
        s2.reused_tokens,
        p2.len() - 12,
        "only the new turn's tokens"
    );
    assert_eq!(s2.stats.prompt_tokens - s2.reused_tokens, 12);
    assert_eq!((a2, s2.stats.tokens), fresh_answer(&lm, &pool, &p2, 8));

    // turn 3 forks right after the first prompt: its state was snapshotted
    // there, so the 40 tokens are reused, not recomputed
    let mut p3 = p1.clone();
    p3.extend(3000..3010u32);
    let (a3, s3) = run(&mut sess, &p3, 8);
    assert_eq!(s3.reused_tokens, p1.len());
    assert_eq!((a3, s3.stats.tokens), fresh_answer(&lm, &pool, &p3, 8));

    // a fork inside the first prompt: no snapshot there, so from the start
    let mut p4 = p1[..20].to_vec();
    p4.extend(4000..4010u32);
    let (a4, s4) = run(&mut sess, &p4, 8);
    assert_eq!(s4.reused_tokens, 0);
    assert_eq!((a4, s4.stats.tokens), fresh_answer(&lm, &pool, &p4, 8));
}

/// A hybrid model: two different conversations with the same system prompt
/// on one session. The first pins its recurrent state at the end of the
/// system prompt (a prompt chunk ends there); the second restores it and
/// computes only its own part — its user message and the template around
/// it — with the answer a fresh session gives. A third conversation after
/// a longer chat (more turn-end snapshots) still finds the pinned state.
#[test]
fn hybrid_conversations_share_the_system_prompt_state() {
    let Some(path) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = LoadedModel::load(path).unwrap();
    let pool = ThreadPool::new(2);
    let no = AtomicBool::new(false);
    let mut sess = lm.model.session(512, model::DEFAULT_BATCH).unwrap();
    let system = Message::system(
        "You are a careful assistant. Answer in one short sentence, and say so when you do not know.",
    );
    let conv = |user: &str| vec![system.clone(), Message::user(user)];
    let run = |sess: &mut model::Session, msgs: &[Message]| {
        let mut text = String::new();
        let st = lm
            .generate_cached(&pool, sess, &req(msgs, 6), &no, |t| {
                text.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        (text, st)
    };
    let a = conv("Name a fruit.");
    let a_ids = lm.prompt_tokens(&req(&a, 1).prompt).unwrap();
    let pin = engine::reuse_point(&lm, &a_ids).expect("a system prompt ending inside the prompt");
    let (_, s1) = run(&mut sess, &a);
    assert_eq!(s1.reused_tokens, 0);
    assert_eq!(sess.pinned_snapshot(), Some(pin));

    let b = conv("What is the capital of Peru?");
    let b_ids = lm.prompt_tokens(&req(&b, 1).prompt).unwrap();
    assert_eq!(b_ids[..pin], a_ids[..pin], "the same system prompt");
    let (tb, s2) = run(&mut sess, &b);
    assert_eq!(s2.reused_tokens, pin, "the system prompt is not recomputed");
    assert_eq!(s2.stats.prompt_tokens - s2.reused_tokens, b_ids.len() - pin);
    assert_eq!((tb, s2.stats.tokens), fresh_answer(&lm, &pool, &b_ids, 6));

    // the second conversation goes on for three more turns (each a
    // snapshot at its prompt's end, more than a session keeps), then a
    // third conversation starts: the pinned state is still there
    for k in 0..3u32 {
        let mut ids = sess.tokens().to_vec();
        ids.extend(5000 + 10 * k..5008 + 10 * k);
        let st = lm
            .generate_cached(&pool, &mut sess, &tokens_req(&ids, 4), &no, |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(st.stats.prompt_tokens - st.reused_tokens, 8);
    }
    let c = conv("Count to three.");
    let c_ids = lm.prompt_tokens(&req(&c, 1).prompt).unwrap();
    let (tc, s3) = run(&mut sess, &c);
    assert_eq!(s3.reused_tokens, pin);
    assert_eq!((tc, s3.stats.tokens), fresh_answer(&lm, &pool, &c_ids, 6));
}

/// A hybrid model in a real chat: each turn's prompt is the conversation
/// rendered anew by the model's template, which writes the answer's turn
/// differently from what the session holds after generating it (the
/// generation prompt's opening, the answer re-tokenized). A prompt chunk ends
/// just after each prompt's last end-of-turn token (`turn_point`), so the
/// next turn restores the state snapshotted there and computes only from
/// there on — not from the system prompt or an older chunk's end — and
/// every answer is the one a fresh session gives.
#[test]
fn hybrid_chat_turns_restore_at_the_last_message() {
    let Some(path) = test_models::synthetic("qwen35-f16.gguf") else {
        return;
    };
    let lm = LoadedModel::load(path).unwrap();
    let pool = ThreadPool::new(2);
    let no = AtomicBool::new(false);
    let mut sess = lm.model.session(1024, model::DEFAULT_BATCH).unwrap();
    let mut msgs = vec![Message::system(
        "You are a helpful assistant. Answer briefly.",
    )];
    for k in 0..5 {
        msgs.push(Message::user(format!(
            "Turn {k}: tell me something about the number {} and why it matters.",
            7 * k + 3
        )));
        let ids = lm.prompt_tokens(&req(&msgs, 1).prompt).unwrap();
        let turn =
            engine::turn_point(&lm, &ids).expect("a generation prompt after the last message");
        let held = engine::common_prefix(sess.tokens(), &ids);
        let mut text = String::new();
        let st = lm
            .generate_cached(&pool, &mut sess, &req(&msgs, 8), &no, |t| {
                text.push_str(t);
                ControlFlow::Continue(())
            })
            .unwrap();
        if k > 0 {
            // the previous prompt's turn point is where this one is sure to
            // agree with it; the snapshot there (or a later one) is used
            assert!(
                st.reused_tokens >= prev_turn_of(&lm, &msgs),
                "turn {k}: reused {} of {} (held {held}, turn point {turn})",
                st.reused_tokens,
                ids.len()
            );
        }
        assert_eq!(
            (text.clone(), st.stats.tokens),
            fresh_answer(&lm, &pool, &ids, 8)
        );
        msgs.push(Message::assistant(text.clone()));
    }
}

/// The turn point of the previous turn's prompt: `msgs` without its last
/// user message (and the answer before it), rendered with the generation
/// prompt.
fn prev_turn_of(lm: &LoadedModel, msgs: &[Message]) -> usize {
    let prev = &msgs[..msgs.len() - 2];
    let ids = lm.prompt_tokens(&req(prev, 1).prompt).unwrap();
    engine::turn_point(lm, &ids).unwrap()
}
