//! Continuous batching: one scheduler thread per loaded model runs every
//! active sequence's next decode step together, admits new requests between
//! steps, shares one context budget among them, and reuses the KV cache of a
//! shared prompt prefix (a conversation's earlier turns) from a finished
//! sequence.
//!
//! Callers submit a request with an event callback; the callback returning
//! `ControlFlow::Break` (e.g. the client disconnected) cancels that sequence at
//! the next step. A full queue is refused at once (`SubmitError::QueueFull`)
//! so servers can answer 503 instead of hanging.

use crate::common_prefix;
use crate::generate::{FinishReason, GenerateRequest, GenerateStats};
use crate::spec::Speculator;
use crate::step::{End, Stepper};
use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;
use model::{Logits, Scratch, SeqInput, Session};
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod metrics;
mod prefix;

use metrics::Counters;
pub use metrics::{Load, SchedulerStats};
use prefix::{shared_prefix, MIN_SHARE};

/// One generated token, as it streams out.
#[derive(Clone, Debug)]
pub struct TokenEvent {
    pub id: u32,
    /// Answer text now complete and clear of stop strings (may be empty).
    pub text: String,
    /// Reasoning text now complete (empty unless the request splits a
    /// thinking model's reasoning: `GenerateRequest::reasoning`).
    pub reasoning: String,
    /// Natural-log probability of the chosen token under the model (before
    /// sampling filters), and the `top_logprobs` most likely alternatives.
    pub logprob: f32,
    pub top_logprobs: Vec<(u32, f32)>,
}

/// What a request's callback receives.
#[derive(Debug)]
pub enum Event {
    Token(TokenEvent),
    /// Last event of a successful request.
    Done(GenerateStats),
    /// Last event of a failed request.
    Error(EngineError),
    /// Prompt processing advanced (`done` of `total` prompt tokens in the
    /// cache). Sent between prefill chunks, so a caller that answers
    /// `Break` (its client left) cancels even a long prompt at once.
    Prefill {
        done: usize,
        total: usize,
    },
}

pub type EventSink = Box<dyn FnMut(Event) -> ControlFlow<()> + Send>;

/// Scheduler limits.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    pub threads: usize,
    /// Sequences decoded together at most.
    pub max_active: usize,
    /// Requests waiting at most before new ones are refused.
    pub max_queue: usize,
    /// Total KV-cache positions shared by all active sequences.
    pub ctx_budget: usize,
    /// Context of one sequence at most (prompt + generation).
    pub max_seq_ctx: usize,
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the request queue is full ({0} waiting); retry shortly")]
    QueueFull(usize),
    #[error("the scheduler has stopped")]
    Stopped,
}

struct Job {
    req: GenerateRequest,
    sink: EventSink,
    /// Log-probabilities wanted per token: `None` none, `Some(k)` the chosen
    /// token's and the `k` most likely.
    top_logprobs: Option<usize>,
}

/// Handle to a model's scheduler thread. Dropping it stops the thread after
/// the work in hand.
pub struct Scheduler {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    max_queue: usize,
    counters: Arc<Counters>,
    ctx_budget: usize,
}

impl Scheduler {
    pub fn new(lm: Arc<LoadedModel>, cfg: SchedulerConfig) -> Scheduler {
        let (tx, rx) = mpsc::sync_channel::<Job>(cfg.max_queue.max(1));
        let max_queue = cfg.max_queue.max(1);
        let counters = Arc::new(Counters::default());
        let ctx_budget = cfg.ctx_budget;
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("hearth-scheduler".into())
            .spawn(move || {
                crate::restart::restart_on_panic("the scheduler", || {
                    Runner::new(lm.clone(), cfg.clone(), c.clone()).run(&rx)
                });
            })
            .expect("spawn scheduler thread");
        Scheduler {
            tx: Some(tx),
            thread: Some(thread),
            max_queue,
            counters,
            ctx_budget,
        }
    }

    /// Queue a request. Events go to `sink` from the scheduler thread.
    pub fn submit(
        &self,
        req: GenerateRequest,
        top_logprobs: Option<usize>,
        sink: EventSink,
    ) -> Result<(), SubmitError> {
        let tx = self.tx.as_ref().ok_or(SubmitError::Stopped)?;
        match tx.try_send(Job {
            req,
            sink,
            top_logprobs,
        }) {
            Ok(()) => {
                self.counters.submitted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(SubmitError::QueueFull(self.max_queue)),
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Stopped),
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One sequence being generated.
struct Active {
    job: Job,
    sess: Session,
    step: Stepper,
    /// Speculative decoding: drafts, the verify pass in flight.
    spec: Speculator,
    prompt_tokens: usize,
    /// Prompt tokens taken from a cache (see `session_for`).
    cached_tokens: usize,
    started: Instant,
    prompt_seconds: f64,
    gen_started: Instant,
    /// Context positions reserved for this sequence in the shared budget.
    reserved: usize,
    /// The token to feed at the next step.
    next: u32,
    /// Prompt tokens not yet in the cache (fed in chunks between decode steps).
    pending: Vec<u32>,
    /// The session holds logits to sample from.
    ready: bool,
    /// A hybrid model: where its prompt's system part ends (a prompt chunk
    /// ends there and the state is pinned, for the next request sharing it;
    /// `conversation::reuse_point`).
    pin: Option<usize>,
    /// A hybrid model: where its prompt's last message before the answer's
    /// turn ends (a prompt chunk ends there too, so the state is snapshotted
    /// for the next turn; `conversation::turn_point`).
    turn: Option<usize>,
}

/// Prompt tokens fed per step, over all sequences still prefilling: the
/// decode rows of the others ride along in the same pass, so a long prompt
/// neither stalls the running streams for its whole length nor escapes
/// cancellation.
pub const PREFILL_ROWS: usize = 64;

/// Drafted tokens verified per step at most, over all sequences
/// (speculative decoding): each is one more row in the batched pass.
pub const SPEC_ROWS: usize = 64;

struct Runner {
    lm: Arc<LoadedModel>,
    cfg: SchedulerConfig,
    pool: ThreadPool,
    active: Vec<Active>,
    waiting: VecDeque<Job>,
    /// Finished sessions kept for prefix reuse (most recent last).
    idle: Vec<Session>,
    reserved: usize,
    /// Working memory of the batched decode step.
    scratch: Scratch,
    /// Per active sequence in this step: prompt tokens fed, and whether its
    /// logits are wanted (reused between steps).
    feeds: Vec<(usize, bool)>,
    counters: Arc<Counters>,
}

const IDLE_KEEP: usize = 4;

impl Runner {
    fn new(lm: Arc<LoadedModel>, cfg: SchedulerConfig, counters: Arc<Counters>) -> Runner {
        let pool = ThreadPool::new(cfg.threads.max(1));
        let scratch = lm
            .model
            .batch_scratch(cfg.max_active.max(1) + PREFILL_ROWS + SPEC_ROWS);
        Runner {
            lm,
            cfg,
            pool,
            active: Vec::new(),
            waiting: VecDeque::new(),
            idle: Vec::new(),
            reserved: 0,
            scratch,
            feeds: Vec::new(),
            counters,
        }
    }

    /// A job came out of the channel.
    fn take(&mut self, j: Job) {
        self.counters.taken.fetch_add(1, Ordering::Relaxed);
        self.waiting.push_back(j);
    }

    /// Make the queue and cache use visible to [`Scheduler::load`].
    fn publish(&self) {
        let c = &self.counters;
        c.waiting.store(self.waiting.len(), Ordering::Relaxed);
        c.active.store(self.active.len(), Ordering::Relaxed);
        let used = self.active.iter().map(|a| a.sess.n_past()).sum();
        c.kv_used.store(used, Ordering::Relaxed);
        c.kv_reserved.store(self.reserved, Ordering::Relaxed);
    }

    fn run(mut self, rx: &Receiver<Job>) {
        let mut open = true;
        loop {
            // Take in new requests: block only when there is nothing to do.
            if self.active.is_empty() && self.waiting.is_empty() {
                if !open {
                    return;
                }
                match rx.recv() {
                    Ok(j) => self.take(j),
                    Err(_) => return,
                }
            }
            // Move queued requests in only while the waiting list has room:
            // the rest stay in the bounded channel, so a full queue is
            // refused at submission (`QueueFull`) instead of growing here.
            while open && self.waiting.len() < self.cfg.max_queue.max(1) {
                match rx.try_recv() {
                    Ok(j) => self.take(j),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => open = false,
                }
            }
            self.admit();
            self.publish();
            if self.active.is_empty() {
                // Waiting requests that do not fit yet: wait for news.
                if !self.waiting.is_empty() && open {
                    match rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(j) => self.take(j),
                        Err(RecvTimeoutError::Disconnected) => open = false,
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                continue;
            }
            self.step();
            self.publish();
        }
    }

    /// Start waiting requests while the budget and the batch have room.
    fn admit(&mut self) {
        while self.active.len() < self.cfg.max_active.max(1) {
            let Some(job) = self.waiting.pop_front() else {
                break;
            };
            let prompt = match self.lm.prompt_tokens(&job.req.prompt) {
                Ok(p) => p,
                Err(e) => {
                    finish_err(job, e);
                    continue;
                }
            };
            let max_ctx = self.seq_ctx();
            if prompt.len() >= max_ctx {
                finish_err(
                    job,
                    EngineError::PromptTooLong {
                        prompt: prompt.len(),
                        n_ctx: max_ctx,
                        max: self.lm.model.config.n_ctx_train,
                    },
                );
                continue;
            }
            let want = match job.req.max_tokens {
                Some(m) => (prompt.len() + m + 1).min(max_ctx),
                None => max_ctx,
            };
            if self.reserved + want > self.cfg.ctx_budget && !self.active.is_empty() {
                self.waiting.push_front(job);
                break;
            }
            if let Err(e) = job.req.sampling.validate() {
                finish_err(job, EngineError::Sampling(e.to_string()));
                continue;
            }
            match self.start(job, prompt, want) {
                Ok(a) => {
                    self.reserved += a.reserved;
                    self.active.push(a);
                }
                Err(b) => {
                    let (job, e) = *b;
                    finish_err(job, e)
                }
            }
        }
    }

    /// The most positions one sequence may hold.
    fn seq_ctx(&self) -> usize {
        self.cfg
            .max_seq_ctx
            .min(self.cfg.ctx_budget)
            .min(self.lm.model.config.n_ctx_train)
    }

    /// A session for `prompt`: an idle one sharing the longest prefix (its
    /// cache is kept up to the shared part), else a new one. A longer prefix
    /// in a running sequence's cache is copied at the next pass
    /// (`share_prefixes`).
    fn session_for(
        &mut self,
        prompt: &[u32],
        n_ctx: usize,
    ) -> Result<(Session, usize), EngineError> {
        let best = self
            .idle
            .iter()
            .enumerate()
            .map(|(i, s)| (i, common_prefix(s.tokens(), prompt)))
            .filter(|&(_, n)| n > 0)
            .max_by_key(|&(_, n)| n);
        if let Some((i, n)) = best {
            let mut s = self.idle.swap_remove(i);
            // Keep at least one prompt token to compute, so logits exist.
            let keep = n.min(prompt.len() - 1);
            // (a hybrid model's session may keep less: back to a snapshot)
            let keep = s.truncate(keep);
            s.set_n_ctx(n_ctx);
            return Ok((s, keep));
        }
        // Created for the scheduler's context per sequence (which chooses a
        // LongRoPE model's factors, the same for every session, so prefixes
        // can move between them), then capped at this request's.
        let mut s = self
            .lm
            .model
            .session(self.seq_ctx(), model::DEFAULT_BATCH)?;
        s.set_n_ctx(n_ctx);
        Ok((s, 0))
    }

    fn start(
        &mut self,
        job: Job,
        prompt: Vec<u32>,
        n_ctx: usize,
    ) -> Result<Active, Box<(Job, EngineError)>> {
        let t0 = Instant::now();
        let (mut sess, reused) = match self.session_for(&prompt, n_ctx) {
            Ok(x) => x,
            Err(e) => return Err(Box::new((job, e))),
        };
        let pin = crate::conversation::reuse_point(&self.lm, &prompt);
        let turn = crate::conversation::turn_point(&self.lm, &prompt);
        if pin == Some(reused) {
            sess.pin_snapshot();
        }
        let step = Stepper::new(&job.req, &self.lm.tokenizer, &prompt);
        let spec = Speculator::new(&job.req.spec, &self.lm);
        Ok(Active {
            sess,
            step,
            spec,
            prompt_tokens: prompt.len(),
            cached_tokens: reused,
            started: t0,
            prompt_seconds: 0.0,
            gen_started: t0,
            reserved: n_ctx,
            next: 0,
            pending: prompt[reused..].to_vec(),
            ready: false,
            pin,
            turn,
            job,
        })
    }

    /// Sample every sequence that has logits, emit, retire the finished
    /// ones, then run one batched pass: a decode row for each generating
    /// sequence plus the next prompt chunk of those still prefilling.
    fn step(&mut self) {
        let mut i = 0;
        while i < self.active.len() {
            let done = if self.active[i].ready {
                match self.sample_one(i) {
                    Ok(d) => d,
                    Err(e) => {
                        // the request's grammar failed: this sequence ends with the error
                        let a = self.active.swap_remove(i);
                        self.reserved -= a.reserved;
                        self.idle.push(a.sess);
                        if self.idle.len() > IDLE_KEEP {
                            self.idle.remove(0);
                        }
                        finish_err(a.job, e);
                        continue;
                    }
                }
            } else {
                let a = &mut self.active[i];
                let total = a.prompt_tokens;
                let ev = Event::Prefill {
                    done: total - a.pending.len(),
                    total,
                };
                (a.job.sink)(ev)
                    .is_break()
                    .then_some(FinishReason::Cancelled)
            };
            if let Some(finish) = done {
                let a = self.active.swap_remove(i);
                self.retire(a, finish);
            } else {
                i += 1;
            }
        }
        if self.active.is_empty() {
            return;
        }
        self.share_prefixes();
        // Rows of this pass: decode rows first, then prompt chunks (oldest
        // request first) up to PREFILL_ROWS. A prompt whose next tokens an
        // earlier one is reading in this pass waits, and copies them after
        // it (`share_prefixes`), instead of computing them twice.
        // Generating sequences that speculate draft their next tokens now,
        // within SPEC_ROWS over all of them (oldest request first).
        let mut spec_room = SPEC_ROWS;
        let pool = &self.pool;
        for a in self.active.iter_mut().filter(|a| a.pending.is_empty()) {
            let sess = &a.sess;
            let mut limit = (sess.n_ctx() - sess.n_past()).saturating_sub(1);
            if let Some(m) = a.job.req.max_tokens {
                limit = limit.min(m.saturating_sub(a.step.out.len() + 1));
            }
            let n = a
                .spec
                .propose(pool, sess, a.next, limit.min(spec_room))
                .len();
            spec_room -= n - 1;
        }
        let mut room = PREFILL_ROWS;
        let feeds = &mut self.feeds;
        feeds.clear();
        for (i, a) in self.active.iter().enumerate() {
            if a.pending.is_empty() {
                feeds.push((0, true));
                continue;
            }
            let n_past = a.sess.n_past();
            let waits = self.active[..i]
                .iter()
                .zip(feeds.iter())
                .any(|(b, &(nb, _))| {
                    nb > 0
                        && !b.pending.is_empty()
                        && shared_prefix(
                            b.sess.tokens(),
                            &b.pending[..nb],
                            a.sess.tokens(),
                            &a.pending,
                        ) >= n_past + MIN_SHARE
                });
            let n = if waits {
                0
            } else {
                crate::conversation::chunk_end(
                    n_past,
                    n_past + a.pending.len(),
                    room,
                    &[a.pin, a.turn],
                ) - n_past
            };
            room -= n;
            feeds.push((n, n == a.pending.len()));
        }
        let batch = {
            let mut seqs: Vec<SeqInput> = self
                .active
                .iter_mut()
                .zip(feeds.iter())
                .map(|(a, &(n, logits))| {
                    let Active {
                        sess,
                        spec,
                        pending,
                        ..
                    } = a;
                    let (tokens, logits) = Self::rows(spec, pending, n, logits);
                    SeqInput {
                        sess,
                        tokens,
                        logits,
                    }
                })
                .collect();
            self.lm
                .model
                .forward_batch(&self.pool, &mut self.scratch, &mut seqs)
        };
        let feeds = &self.feeds;
        if batch.is_err() {
            // Something in the batch failed (no sequence advanced: inputs
            // are checked before any position is committed): retry one by
            // one so only the culprit fails.
            let mut failed = Vec::new();
            for (k, (a, &(n, logits))) in self.active.iter_mut().zip(feeds).enumerate() {
                let Active {
                    sess,
                    spec,
                    pending,
                    ..
                } = &mut *a;
                let (tokens, want) = Self::rows(spec, pending, n, logits);
                match self.lm.model.forward(&self.pool, sess, tokens, want) {
                    Ok(()) if a.pending.is_empty() => a.ready = true,
                    Ok(()) => Self::advance(a, n),
                    Err(e) => failed.push((k, e)),
                }
            }
            for (k, e) in failed.into_iter().rev() {
                let a = self.active.swap_remove(k);
                self.reserved -= a.reserved;
                finish_err(a.job, e.into());
            }
            self.pin_reuse_points();
            return;
        }
        for (a, &(n, _)) in self.active.iter_mut().zip(feeds) {
            if a.pending.is_empty() {
                a.ready = true;
            } else {
                // Ready once the last chunk (the one with logits) is in.
                Self::advance(a, n);
            }
        }
        self.pin_reuse_points();
    }

    /// A sequence's rows in this pass: a generating one's token and drafts
    /// (every row's logits when there are drafts), else its next `n` prompt
    /// tokens (the last chunk's last row's logits).
    fn rows<'a>(
        spec: &'a Speculator,
        pending: &'a [u32],
        n: usize,
        logits: bool,
    ) -> (&'a [u32], Logits) {
        if pending.is_empty() {
            let feed = spec.fed();
            let want = if feed.len() > 1 {
                Logits::All
            } else {
                Logits::Last
            };
            (feed, want)
        } else if logits {
            (&pending[..n], Logits::Last)
        } else {
            (&pending[..n], Logits::None)
        }
    }

    /// `n` more prompt tokens of `a` are in its cache.
    fn advance(a: &mut Active, n: usize) {
        a.pending.drain(..n);
        if a.pending.is_empty() {
            a.ready = true;
            let now = Instant::now();
            a.prompt_seconds = now.duration_since(a.started).as_secs_f64();
            a.gen_started = now;
        }
    }

    /// Sample active sequence `i`'s next token — and, where its drafts are
    /// confirmed (speculative decoding), the tokens after it, each from its
    /// own row of the verify pass — and emit them; `Some` when it is finished.
    fn sample_one(&mut self, i: usize) -> Result<Option<FinishReason>, EngineError> {
        let lm = &self.lm;
        let a = &mut self.active[i];
        loop {
            let logits = a.spec.logits(&a.sess);
            let st = a.step.next(&lm.tokenizer, logits)?;
            let tok = st.token;
            if st.end == Some(End::Eog) {
                return Ok(Some(FinishReason::Stop));
            }
            let (logprob, top) = match a.job.top_logprobs {
                Some(k) => (
                    log_prob_of(logits, tok),
                    if k > 0 {
                        sampler::log_softmax_top(logits, k)
                    } else {
                        Vec::new()
                    },
                ),
                None => (f32::NAN, Vec::new()),
            };
            let ev = Event::Token(TokenEvent {
                id: tok,
                text: st.text.to_owned(),
                reasoning: st.reasoning.to_owned(),
                logprob,
                top_logprobs: top,
            });
            if (a.job.sink)(ev).is_break() {
                return Ok(Some(FinishReason::Cancelled));
            }
            if matches!(st.end, Some(End::StopString | End::Complete)) {
                return Ok(Some(FinishReason::Stop));
            }
            if a.job.req.max_tokens.is_some_and(|m| a.step.out.len() >= m) {
                return Ok(Some(FinishReason::Length));
            }
            // a drafted token, already in the cache: sample from its row
            if a.spec.accept(tok, &mut a.sess) {
                continue;
            }
            if a.sess.n_past() >= a.sess.n_ctx() {
                return Ok(Some(FinishReason::Length));
            }
            a.next = tok;
            return Ok(None);
        }
    }

    fn retire(&mut self, mut a: Active, finish: FinishReason) {
        self.reserved -= a.reserved;
        // the cache back to the confirmed tokens (none of a pass in flight)
        a.spec.finish(&mut a.sess);
        let c = &self.counters;
        let sp = a.spec.stats;
        c.spec_steps.fetch_add(sp.steps, Ordering::Relaxed);
        c.spec_drafted.fetch_add(sp.drafted, Ordering::Relaxed);
        c.spec_accepted.fetch_add(sp.accepted, Ordering::Relaxed);
        if finish != FinishReason::Cancelled {
            let (text, reasoning) = a.step.finish();
            if !text.is_empty() || !reasoning.is_empty() {
                let _ = (a.job.sink)(Event::Token(TokenEvent {
                    id: u32::MAX,
                    text,
                    reasoning,
                    logprob: f32::NAN,
                    top_logprobs: Vec::new(),
                }));
            }
        }
        let context_full = finish == FinishReason::Length && a.sess.n_past() >= a.sess.n_ctx();
        let stats = GenerateStats {
            prompt_tokens: a.prompt_tokens,
            cached_tokens: a.cached_tokens,
            output_tokens: a.step.out.len(),
            prompt_seconds: a.prompt_seconds,
            gen_seconds: a.gen_started.elapsed().as_secs_f64(),
            finish,
            tokens: std::mem::take(&mut a.step.out),
            context_full,
            spec: a.spec.stats,
            reasoning_tokens: a.step.reasoning_tokens,
        };
        let _ = a.started;
        let _ = (a.job.sink)(Event::Done(stats));
        // Keep the session (its cache holds prompt + output) for prefix reuse.
        self.idle.push(a.sess);
        if self.idle.len() > IDLE_KEEP {
            self.idle.remove(0);
        }
    }
}

fn finish_err(mut job: Job, e: EngineError) {
    let _ = (job.sink)(Event::Error(e));
}

/// ln softmax(logits)[tok], computed stably.
fn log_prob_of(logits: &[f32], tok: u32) -> f32 {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&l| ((l - max) as f64).exp()).sum();
    logits[tok as usize] - max - sum.ln() as f32
}
