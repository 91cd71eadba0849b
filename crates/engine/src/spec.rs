//! Exact speculative decoding.
//!
//! A step that would feed one token `t` feeds `t` and `k` drafted tokens
//! `d1..dk` in one forward call and gets the logits of every row. A row's
//! logits never depend on the rows computed with it (the determinism
//! invariant, `model/tests/tiny.rs`), so row `i` holds exactly the logits
//! plain decoding would have after `t, d1..di`. The sampler then runs over
//! the rows in order, as plain decoding would run over its steps: it samples
//! from row 0; when the token it picks is `d1`, that token is already in the
//! cache and it samples again from row 1, and so on; at the first token that
//! differs from the draft (or after the last row) the pass ends, the cache is
//! cut back past the rejected drafts (`Session::truncate`) and the sampled
//! token is fed next, with new drafts.
//!
//! The sampler is called on the same logits, with the same history, the
//! same number of times and in the same order as without speculation, so the
//! output is the same token for token — for greedy decoding and for seeded
//! sampling alike (the random draws happen at the same positions), penalties
//! and logit biases included, and a per-token constraint (a grammar mask)
//! applied before each sample sees the same prefix. Speculation changes only
//! how many positions each forward call computes. (This is "verify by
//! sampling": a drafted token is accepted exactly when the target's own
//! sample equals it. For drafts chosen deterministically — prompt lookup, or
//! a draft model's argmax, as here — its acceptance probability equals the
//! standard rejection-sampling scheme's, p(draft), and unlike that scheme the
//! output does not change with speculation on or off.)
//!
//! Drafts come from
//! - the text itself ("prompt lookup"): the longest recent n-gram that
//!   ends the prompt+output so far is looked up earlier in it, and the tokens
//!   that followed it there are proposed (edits, summaries and extraction
//!   copy from their input);
//! - a small draft model of the same vocabulary ([`DraftModel`]): its greedy
//!   continuation.
//!
//! How many tokens are drafted adapts per sequence: it doubles (up to
//! `n_max`) while every draft is accepted and falls to what was accepted
//! plus one after a rejection, so a sequence whose drafts keep failing
//! verifies few extra rows.

use crate::common_prefix;
use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, Session};
use std::sync::{Arc, Mutex};

/// Tokens drafted per step at most, by default.
pub const DEFAULT_DRAFT_MAX: usize = 16;

/// Longest and shortest n-gram prompt lookup matches.
const NGRAM_MAX: usize = 4;
const NGRAM_MIN: usize = 2;

/// Draft length a sequence starts with (then adapted, see the module docs).
const START_LEN: usize = 8;

/// Idle draft-model sessions kept for prefix reuse.
const DRAFT_IDLE_KEEP: usize = 8;

/// How a request drafts tokens for speculative decoding. Off by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Speculation {
    /// Draft from the prompt and the output so far (n-gram prompt lookup).
    pub lookup: bool,
    /// Draft with the model's draft model ([`LoadedModel::set_draft`]),
    /// where lookup found nothing. Ignored when the model has none.
    pub draft: bool,
    /// Tokens drafted per step at most (llama.cpp's `--draft-max`).
    pub n_max: usize,
}

impl Default for Speculation {
    fn default() -> Speculation {
        Speculation::OFF
    }
}

impl Speculation {
    /// No speculation.
    pub const OFF: Speculation = Speculation {
        lookup: false,
        draft: false,
        n_max: DEFAULT_DRAFT_MAX,
    };

    /// Prompt lookup only.
    pub fn lookup() -> Speculation {
        Speculation {
            lookup: true,
            ..Speculation::OFF
        }
    }

    /// Whether anything drafts.
    pub fn is_on(&self) -> bool {
        (self.lookup || self.draft) && self.n_max > 0
    }
}

/// Counters of speculative decoding (of one request, or summed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// Forward calls that verified drafted tokens.
    pub steps: u64,
    /// Tokens drafted and verified.
    pub drafted: u64,
    /// Of those, tokens accepted (equal to the token sampled there).
    pub accepted: u64,
}

impl SpecStats {
    /// Accepted / drafted (0 when nothing was drafted).
    pub fn acceptance(&self) -> f64 {
        if self.drafted == 0 {
            0.0
        } else {
            self.accepted as f64 / self.drafted as f64
        }
    }

    pub fn add(&mut self, o: &SpecStats) {
        self.steps += o.steps;
        self.drafted += o.drafted;
        self.accepted += o.accepted;
    }
}

/// A small model of the same vocabulary that drafts tokens for a larger one,
/// with its idle sessions (kept for prefix reuse: a chat's next turn, or the
/// next request with the same system prompt).
pub struct DraftModel {
    pub lm: LoadedModel,
    idle: Mutex<Vec<Session>>,
}

impl DraftModel {
    pub fn new(lm: LoadedModel) -> DraftModel {
        DraftModel {
            lm,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A session holding the longest prefix of `history` among the idle
    /// ones, or a new one of `n_ctx` positions.
    fn take(&self, history: &[u32], n_ctx: usize) -> Result<Session, EngineError> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let best = idle
            .iter()
            .enumerate()
            .map(|(i, s)| (i, common_prefix(s.tokens(), history)))
            .max_by_key(|&(_, n)| n);
        if let Some((i, _)) = best {
            let mut s = idle.swap_remove(i);
            s.set_n_ctx(n_ctx);
            return Ok(s);
        }
        drop(idle);
        let n_ctx = n_ctx.min(self.lm.model.config.n_ctx_train).max(1);
        Ok(self.lm.model.session(n_ctx, model::DEFAULT_BATCH)?)
    }

    fn give(&self, s: Session) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.push(s);
        if idle.len() > DRAFT_IDLE_KEEP {
            idle.remove(0);
        }
    }

    /// Greedy continuation of `history` by the draft model, up to `k`
    /// tokens, each an id below `n_vocab` (the target's vocabulary), up to
    /// (without) an end-of-generation token.
    fn draft(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        history: &[u32],
        k: usize,
        n_vocab: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), EngineError> {
        // what the session already holds of the history is kept; at least
        // the last token is fed, so that logits exist
        let keep = common_prefix(sess.tokens(), history).min(history.len() - 1);
        // (a hybrid draft model's session may keep less: back to a snapshot)
        let keep = sess.truncate(keep);
        if history.len() + k > sess.n_ctx() {
            return Ok(());
        }
        let m = &self.lm.model;
        m.forward(pool, sess, &history[keep..], Logits::Last)?;
        for i in 0..k {
            let t = sampler::argmax(sess.logits());
            // nothing is drafted past the end of the answer (an end token
            // is the target's to sample: after it nothing is verified)
            if t as usize >= n_vocab || self.lm.tokenizer.is_eog(t) {
                break;
            }
            out.push(t);
            if i + 1 < k {
                m.forward(pool, sess, &[t], Logits::Last)?;
            }
        }
        Ok(())
    }
}

/// Why a draft model cannot draft for a target, or `Ok`: the same tokenizer
/// kind and, for every id both have, the same token text (the draft's ids
/// past the target's vocabulary are never proposed).
pub fn check_vocab(
    target: &tokenizer::Tokenizer,
    draft: &tokenizer::Tokenizer,
) -> Result<(), String> {
    if target.kind() != draft.kind() {
        return Err(format!(
            "the tokenizers differ in kind ({:?} and {:?})",
            target.kind(),
            draft.kind()
        ));
    }
    let (nt, nd) = (target.n_vocab(), draft.n_vocab());
    // llama.cpp allows the vocabularies' sizes to differ by padding only
    if nt.abs_diff(nd) > 128 {
        return Err(format!("the vocabularies have {nt} and {nd} tokens"));
    }
    if target.bos() != draft.bos() {
        return Err("their beginning-of-sequence tokens differ".into());
    }
    if let Some(id) = (0..nt.min(nd) as u32).find(|&i| target.token_text(i) != draft.token_text(i))
    {
        return Err(format!(
            "token {id} is {:?} in one and {:?} in the other",
            target.token_text(id),
            draft.token_text(id)
        ));
    }
    Ok(())
}

impl LoadedModel {
    /// Draft tokens with `draft` for speculative decoding (requests asking
    /// for it: [`Speculation::draft`]). Refused, with the reason, when its
    /// vocabulary is not this model's.
    pub fn set_draft(&mut self, draft: Arc<DraftModel>) -> Result<(), EngineError> {
        check_vocab(&self.tokenizer, &draft.lm.tokenizer).map_err(|why| {
            EngineError::Mismatch(format!(
                "the draft model {} cannot draft for {}: {why}; a draft model must share the model's vocabulary (the same family, e.g. a smaller model of it)",
                draft.lm.path.display(),
                self.path.display()
            ))
        })?;
        self.draft = Some(draft);
        Ok(())
    }
}

/// The n-gram prompt lookup: the longest n-gram (`NGRAM_MAX` down to
/// `NGRAM_MIN` tokens) that ends `history` and also occurs earlier in it, at
/// its latest earlier place; the up to `k` tokens that followed it there go
/// to `out`.
pub fn lookup(history: &[u32], k: usize, out: &mut Vec<u32>) {
    let len = history.len();
    for n in (NGRAM_MIN..=NGRAM_MAX).rev() {
        if len <= n {
            continue;
        }
        let pat = &history[len - n..];
        if let Some(i) = (0..len - n).rev().find(|&i| &history[i..i + n] == pat) {
            let from = i + n;
            out.extend_from_slice(&history[from..(from + k).min(len)]);
            if !out.is_empty() {
                return;
            }
        }
    }
}

/// One sequence's speculation: its drafter (with the draft model's session),
/// the drafts of the verify pass in flight, and its counters.
pub(crate) struct Speculator {
    params: Speculation,
    draft: Option<Arc<DraftModel>>,
    draft_sess: Option<Session>,
    n_vocab: usize,
    /// Tokens to draft next (adapted).
    len: usize,
    /// The pass in flight: the token fed at `base`, then the tokens drafted
    /// after it (`feed[1..]`, empty when nothing was drafted).
    feed: Vec<u32>,
    /// The logits row of the pass in flight to sample next.
    row: usize,
    /// Positions in the cache before the pass in flight.
    base: usize,
    /// Scratch for the history the draft model continues.
    history: Vec<u32>,
    pub stats: SpecStats,
}

impl Speculator {
    pub fn new(params: &Speculation, lm: &LoadedModel) -> Speculator {
        let draft = if params.draft { lm.draft.clone() } else { None };
        let mut params = params.clone();
        if lm.model.config.ssm.is_some() {
            // a hybrid model's recurrent state cannot be cut back past
            // rejected drafts: no speculation (plain decoding, same output)
            params.n_max = 0;
        }
        let len = START_LEN.min(params.n_max);
        Speculator {
            params,
            draft,
            draft_sess: None,
            n_vocab: lm.model.config.n_vocab,
            len,
            feed: Vec::new(),
            row: 0,
            base: 0,
            history: Vec::new(),
            stats: SpecStats::default(),
        }
    }

    /// Whether this sequence drafts at all.
    pub fn is_on(&self) -> bool {
        self.params.n_max > 0 && (self.params.lookup || self.draft.is_some())
    }

    /// The rows of the pass [`Self::propose`] made.
    pub fn fed(&self) -> &[u32] {
        &self.feed
    }

    /// The drafts of the pass in flight.
    fn drafts(&self) -> &[u32] {
        self.feed.get(1..).unwrap_or(&[])
    }

    /// The logits to sample next: the row of the pass in flight.
    pub fn logits<'a>(&self, sess: &'a Session) -> &'a [f32] {
        if self.drafts().is_empty() {
            return sess.logits();
        }
        &sess.all_logits()[self.row * self.n_vocab..(self.row + 1) * self.n_vocab]
    }

    /// After sampling `tok` from [`Self::logits`]: `true` when it is the
    /// token drafted there, so it is in the cache already and the next row
    /// holds the logits after it (sample again, feed nothing); `false` when
    /// `tok` is to be fed (the cache cut back past any rejected drafts).
    pub fn accept(&mut self, tok: u32, sess: &mut Session) -> bool {
        let n = self.drafts().len();
        if n == 0 {
            return false;
        }
        if self.row < n {
            if tok == self.drafts()[self.row] {
                self.row += 1;
                self.stats.accepted += 1;
                return true;
            }
            sess.truncate(self.base + 1 + self.row);
        }
        let ok = self.row;
        self.len = if ok == n {
            (self.len * 2).min(self.params.n_max)
        } else {
            (ok + 1).min(self.params.n_max)
        };
        self.feed.clear();
        self.row = 0;
        false
    }

    /// What to feed after sampling `next` (which `sess` does not hold yet):
    /// `next`, then at most `limit` drafted tokens — from prompt lookup, else
    /// from the draft model. The caller feeds them in one pass right after,
    /// with every row's logits (`Logits::All`) when there are drafts
    /// (`len() > 1`), else the last's.
    pub fn propose(
        &mut self,
        pool: &ThreadPool,
        sess: &Session,
        next: u32,
        limit: usize,
    ) -> &[u32] {
        self.feed.clear();
        self.feed.push(next);
        self.row = 0;
        self.base = sess.n_past();
        let k = self.len.min(limit);
        if k == 0 || !self.is_on() {
            return &self.feed;
        }
        self.history.clear();
        self.history.extend_from_slice(sess.tokens());
        self.history.push(next);
        if self.params.lookup {
            lookup(&self.history, k, &mut self.feed);
        }
        if self.feed.len() == 1 {
            if let Some(d) = self.draft.clone() {
                let mut ds = match self.draft_sess.take() {
                    Some(s) => Ok(s),
                    None => d.take(&self.history, sess.n_ctx()),
                };
                if let Ok(s) = &mut ds {
                    // a draft that fails (its context too small) drafts nothing
                    if d.draft(pool, s, &self.history, k, self.n_vocab, &mut self.feed)
                        .is_err()
                    {
                        self.feed.truncate(1);
                    }
                }
                self.draft_sess = ds.ok();
            }
        }
        let n = self.feed.len() - 1;
        if n > 0 {
            self.stats.steps += 1;
            self.stats.drafted += n as u64;
        }
        &self.feed
    }

    /// Generation ended: cut the cache back to the positions plain decoding
    /// would hold (nothing past the tokens confirmed), and hand the draft
    /// session back for reuse.
    pub fn finish(&mut self, sess: &mut Session) {
        if !self.drafts().is_empty() {
            sess.truncate(self.base + 1 + self.row);
        }
        self.feed.clear();
        self.row = 0;
        if let (Some(d), Some(s)) = (&self.draft, self.draft_sess.take()) {
            d.give(s);
        }
    }
}

/// The speculation benchmark's task (`hearth bench --spec`): edit a piece of
/// code, so the answer copies most of its prompt, as the issue's target
/// measures ("an edit-this-code task").
pub const BENCH_CODE: &str = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n\n\ndef mean(values):\n    total = 0\n    for v in values:\n        total = add(total, v)\n    return total / len(values)\n\n\ndef variance(values):\n    m = mean(values)\n    total = 0\n    for v in values:\n        total = add(total, (v - m) ** 2)\n    return total / len(values)\n\n\ndef main():\n    numbers = [1, 2, 3, 4, 5]\n    print(\"mean:\", mean(numbers))\n    print(\"variance:\", variance(numbers))\n\n\nif __name__ == \"__main__\":\n    main()\n";

/// The benchmark's request: the edit as a chat message (a raw prompt for a
/// model without a chat template), greedy, `n` tokens at most.
pub fn bench_request(lm: &LoadedModel, n: usize, spec: Speculation) -> crate::GenerateRequest {
    let ask = format!(
        "Rename the function `add` to `plus` everywhere in this code. Answer with the whole edited code only.\n\n```python\n{BENCH_CODE}```"
    );
    let prompt = if lm.template.is_ok() {
        crate::Prompt::Chat(vec![crate::Message::user(ask)])
    } else {
        crate::Prompt::Raw(format!("{ask}\n\n```python\n"))
    };
    crate::GenerateRequest {
        prompt,
        max_tokens: Some(n),
        sampling: sampler::SamplingParams::greedy(),
        stop: Vec::new(),
        spec,
        ..Default::default()
    }
}

/// What [`bench`] measured.
#[derive(Clone, Debug, Default)]
pub struct SpecBench {
    /// Generation tokens per second without speculation, per repetition.
    pub plain: Vec<f64>,
    /// ... and with it.
    pub spec: Vec<f64>,
    /// Tokens generated per run.
    pub tokens: usize,
    /// Speculation's counters, summed over the repetitions.
    pub stats: SpecStats,
    /// Whether every speculative run gave plain decoding's tokens (it must:
    /// `false` is a bug).
    pub identical: bool,
}

/// Greedy generation of the code edit ([`bench_request`], up to `n`
/// tokens) `reps` times without and with `spec`, alternating, each in a
/// fresh session; tokens per second of the generation (after the prompt).
pub fn bench(
    lm: &LoadedModel,
    pool: &ThreadPool,
    n: usize,
    reps: usize,
    spec: &Speculation,
) -> Result<SpecBench, EngineError> {
    let plain_req = bench_request(lm, n, Speculation::OFF);
    let spec_req = bench_request(lm, n, spec.clone());
    let n_ctx = lm.prompt_tokens(&plain_req.prompt)?.len() + n + 1;
    let mut sess = lm.session(n_ctx)?;
    let mut out = SpecBench {
        identical: true,
        ..SpecBench::default()
    };
    // as `hearth run --json`'s generation_tokens_per_second
    let rate = |s: &crate::GenerateStats| s.output_tokens as f64 / s.gen_seconds.max(1e-9);
    for _ in 0..reps.max(1) {
        let p = lm.generate(pool, &mut sess, &plain_req, |_| {
            std::ops::ControlFlow::Continue(())
        })?;
        let s = lm.generate(pool, &mut sess, &spec_req, |_| {
            std::ops::ControlFlow::Continue(())
        })?;
        out.plain.push(rate(&p));
        out.spec.push(rate(&s));
        out.tokens = p.output_tokens;
        out.stats.add(&s.spec);
        out.identical &= p.tokens == s.tokens;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn lookup_finds_the_latest_longest_match() {
        let mut out = Vec::new();
        // "1 2 3" occurs at 0 and at 5; the latest earlier one is at 5
        let h = [1, 2, 3, 4, 9, 1, 2, 3, 7, 8, 6, 1, 2, 3];
        lookup(&h, 3, &mut out);
        assert_eq!(out, [7, 8, 6]);
        // capped by the end of the history
        out.clear();
        lookup(&[5, 6, 7, 5, 6], 4, &mut out);
        assert_eq!(out, [7, 5, 6]);
        // no repeated n-gram: nothing
        out.clear();
        lookup(&[1, 2, 3, 4, 5, 6], 4, &mut out);
        assert!(out.is_empty());
        // a single repeated token is not enough
        out.clear();
        lookup(&[1, 2, 3, 1], 4, &mut out);
        assert!(out.is_empty());
        // a longer match wins over a later shorter one
        out.clear();
        lookup(&[7, 1, 2, 3, 4, 0, 2, 3, 5, 1, 2, 3], 2, &mut out);
        assert_eq!(out, [4, 0]);
    }
}
