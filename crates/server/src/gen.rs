//! What both APIs share: turning a validated request into scheduler work,
//! collecting or streaming its events, the per-request log line.

use crate::error::{from_engine, ApiError};
use crate::models::Lease;
use crate::AppState;
use engine::scheduler::{Event, SubmitError, TokenEvent};
use engine::{FinishReason, GenerateRequest, GenerateStats, Prompt};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Events of choice `index`.
pub type Tagged = (usize, Event);

/// Run `f` — rendering a chat template, tokenizing: work a model file can
/// make long — on a blocking thread, not on the async runtime's workers
/// (another model's requests must not wait behind it). `f` gets a flag that
/// is set when the request is dropped (its client left), to stop early.
pub async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce(&AtomicBool) -> T + Send + 'static,
) -> Result<T, ApiError> {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let _guard = SetOnDrop(cancel.clone());
    tokio::task::spawn_blocking(move || f(&cancel))
        .await
        .map_err(|e| ApiError::internal(format!("preparing the prompt failed: {e}")))
}

/// Render and tokenize the prompt here (so an overflow is a 400 before
/// anything streams; off the runtime, cancelled with the request) and hand
/// the scheduler the ids.
pub async fn prepare(lease: &Lease, prompt: Prompt, field: &str) -> Result<Vec<u32>, ApiError> {
    let slot = lease.slot.clone();
    let ids = off_runtime(move |cancel| slot.lm.prompt_tokens_cancellable(&prompt, cancel))
        .await?
        .map_err(|e| {
            let mut a = from_engine(&e);
            if a.status.is_client_error() {
                a.param = Some(field.to_string());
            }
            a
        })?;
    check_prompt_len(lease, ids, field)
}

/// A 400 naming the model as an embedding model when it is one: it makes
/// embeddings (`/v1/embeddings`, `/api/embed`), it does not `what` (chat,
/// complete, generate). Every text endpoint asks this right after the model
/// is leased.
pub fn refuse_embedding(lease: &Lease, what: &str) -> Result<(), ApiError> {
    let m = &lease.slot.lm.model;
    if !m.is_embedding() {
        return Ok(());
    }
    Err(ApiError::bad(
        "model",
        format!(
            "{} is an embedding model ({}): it turns text into vectors (/v1/embeddings, /api/embed) and does not {what}; use a chat or completion model for that",
            lease.slot.name,
            m.config.arch.name()
        ),
    ))
}

/// `ids` if they leave room to answer in the model's context, else a 400
/// naming `field`.
pub fn check_prompt_len(lease: &Lease, ids: Vec<u32>, field: &str) -> Result<Vec<u32>, ApiError> {
    let max = lease.slot.sched_ctx();
    if ids.len() >= max {
        return Err(ApiError::bad(
            field,
            format!(
                "the prompt is {} tokens but this model's context holds {max}; shorten {field}",
                ids.len()
            ),
        )
        .with_code("context_length_exceeded"));
    }
    Ok(ids)
}

/// Submit one choice; its events arrive on `tx` tagged with `index`. When
/// the receiver is gone (the client left), the sink answers `Break` and the
/// scheduler cancels the sequence at its next step.
pub fn submit(
    lease: &Lease,
    req: GenerateRequest,
    top: Option<usize>,
    index: usize,
    tx: UnboundedSender<Tagged>,
) -> Result<(), ApiError> {
    let sink = Box::new(move |ev: Event| {
        if tx.send((index, ev)).is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    lease
        .slot
        .sched
        .submit(req, top, sink)
        .map_err(|e| match e {
            SubmitError::QueueFull(_) => ApiError::busy(format!("{e}")),
            SubmitError::Stopped => ApiError::internal(e.to_string()),
        })
}

/// Submit `n` choices (seed + i for choice i).
pub fn submit_n(
    lease: &Lease,
    req: &GenerateRequest,
    top: Option<usize>,
    n: usize,
) -> Result<UnboundedReceiver<Tagged>, ApiError> {
    let (tx, rx) = unbounded_channel();
    for i in 0..n {
        let mut r = req.clone();
        r.sampling.seed = r.sampling.seed.wrapping_add(i as u64);
        submit(lease, r, top, i, tx.clone())?;
    }
    Ok(rx)
}

/// One finished choice.
#[derive(Debug, Default)]
pub struct Choice {
    pub text: String,
    /// A thinking model's reasoning (empty when it has none).
    pub reasoning: String,
    pub tokens: Vec<TokenEvent>,
    pub stats: Option<GenerateStats>,
}

/// Wait for all `n` choices.
pub async fn collect(rx: UnboundedReceiver<Tagged>, n: usize) -> Result<Vec<Choice>, ApiError> {
    collect_noting(rx, n, None).await
}

/// [`collect`], noting each event in `seen` as it comes (so that a client
/// that leaves mid-answer is logged with what its request cost).
async fn collect_noting(
    mut rx: UnboundedReceiver<Tagged>,
    n: usize,
    seen: Option<&std::sync::Mutex<Seen>>,
) -> Result<Vec<Choice>, ApiError> {
    let mut out: Vec<Choice> = (0..n).map(|_| Choice::default()).collect();
    let mut done = 0;
    while done < n {
        let Some((i, ev)) = rx.recv().await else {
            return Err(ApiError::internal(
                "the scheduler stopped before the answer was complete",
            ));
        };
        if let Some(seen) = seen {
            // a poisoned lock only loses the log line's counts
            if let Ok(mut s) = seen.lock() {
                s.note(i, &ev);
            }
        }
        match ev {
            Event::Token(t) => {
                out[i].text.push_str(&t.text);
                out[i].reasoning.push_str(&t.reasoning);
                out[i].tokens.push(t);
            }
            Event::Done(s) => {
                out[i].stats = Some(s);
                done += 1;
            }
            Event::Error(e) => return Err(from_engine(&e)),
            Event::Prefill { .. } => {}
        }
    }
    Ok(out)
}

pub fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
    }
}

/// The one line per request `hearth serve` prints: no content unless
/// `--log-prompts`.
pub fn log_request(
    state: &AppState,
    endpoint: &str,
    model: &str,
    stats: &[&GenerateStats],
    status: &str,
    started: Instant,
) {
    if !stats.is_empty() {
        state.metrics.generation(model, stats);
    }
    if state.cfg.quiet {
        return;
    }
    let tin: usize = stats.iter().map(|s| s.prompt_tokens).sum();
    let cached: usize = stats.iter().map(|s| s.cached_tokens).sum();
    let tout: usize = stats.iter().map(|s| s.output_tokens).sum();
    let gen: f64 = stats.iter().map(|s| s.gen_seconds).fold(0.0, f64::max);
    // The first token comes from the prompt's logits: the rate is over the rest.
    let steps: usize = stats
        .iter()
        .map(|s| s.output_tokens.saturating_sub(1))
        .max()
        .unwrap_or(0);
    let tps = if gen > 0.0 && steps > 0 {
        format!("{:.1}", tout.saturating_sub(stats.len()) as f64 / gen)
    } else {
        "-".into()
    };
    let mut sp = engine::SpecStats::default();
    for s in stats {
        sp.add(&s.spec);
    }
    // speculative decoding: tokens accepted / drafted
    let spec = if sp.steps > 0 {
        format!(" spec={}/{}", sp.accepted, sp.drafted)
    } else {
        String::new()
    };
    eprintln!(
        "{} {endpoint} model={model} in={tin} cached={cached} out={tout} tok/s={tps}{spec} time={:.2}s status={status}",
        rfc3339(SystemTime::now()),
        started.elapsed().as_secs_f64()
    );
}

/// What a streamed request got to before its client left: each sequence's
/// prompt size (from its prefill events) and the tokens sent, so that a
/// disconnect is logged with the work it cost, not zeros.
#[derive(Default)]
pub struct Seen {
    prompt: Vec<usize>,
    out: usize,
}

impl Seen {
    pub fn note(&mut self, i: usize, ev: &Event) {
        match ev {
            Event::Prefill { total, .. } => {
                if self.prompt.len() <= i {
                    self.prompt.resize(i + 1, 0);
                }
                self.prompt[i] = *total;
            }
            Event::Token(_) => self.out += 1,
            _ => {}
        }
    }

    /// Nothing was seen (the client left before its prompt was read).
    pub fn is_empty(&self) -> bool {
        self.prompt.is_empty() && self.out == 0
    }

    /// The finished sequences' stats when every one finished, else what
    /// was seen (as one cancelled sequence's stats).
    pub fn stats(&self, finished: &[GenerateStats], n: usize) -> Vec<GenerateStats> {
        if finished.len() == n {
            return finished.to_vec();
        }
        vec![GenerateStats {
            prompt_tokens: self.prompt.iter().sum(),
            cached_tokens: 0,
            output_tokens: self.out,
            prompt_seconds: 0.0,
            gen_seconds: 0.0,
            finish: FinishReason::Cancelled,
            tokens: Vec::new(),
            context_full: false,
            spec: Default::default(),
            reasoning_tokens: 0,
        }]
    }
}

pub fn log_content(state: &AppState, what: &str, text: &str) {
    if state.cfg.log_prompts {
        eprintln!("  {what}: {text:?}");
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh id such as `chatcmpl-1a2b3c…` (unique per process, not secret).
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = t ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    format!("{prefix}-{x:016x}{n:x}")
}

/// RFC 3339 UTC with nanoseconds, as Ollama writes `created_at`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Logs a line for a request whose client left while its whole answer was
/// being collected (the handler is dropped, so nothing else would), with
/// the prompt and output tokens [`LeftGuard::collect`] saw by then.
pub struct LeftGuard<'a> {
    state: &'a AppState,
    endpoint: &'a str,
    model: &'a str,
    started: Instant,
    armed: bool,
    seen: std::sync::Mutex<Seen>,
    n: usize,
}

impl<'a> LeftGuard<'a> {
    pub fn new(state: &'a AppState, endpoint: &'a str, model: &'a str, started: Instant) -> Self {
        LeftGuard {
            state,
            endpoint,
            model,
            started,
            armed: true,
            seen: Default::default(),
            n: 1,
        }
    }

    /// Wait for all `n` choices ([`collect`]), noting what arrives for the
    /// line logged if the client leaves first.
    pub async fn collect(
        &mut self,
        rx: UnboundedReceiver<Tagged>,
        n: usize,
    ) -> Result<Vec<Choice>, ApiError> {
        self.n = n;
        collect_noting(rx, n, Some(&self.seen)).await
    }

    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for LeftGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let stats = match self.seen.lock() {
                Ok(s) if !s.is_empty() => s.stats(&[], self.n),
                _ => Vec::new(),
            };
            let stats: Vec<&GenerateStats> = stats.iter().collect();
            log_request(
                self.state,
                self.endpoint,
                self.model,
                &stats,
                "499 (client closed)",
                self.started,
            );
        }
    }
}

/// A 200 whose body is a server-sent event stream (all three streaming
/// APIs: OpenAI's, Anthropic's and Responses').
pub fn sse_response(body: axum::body::Body) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// What a live event stream (Anthropic's Messages, OpenAI's Responses)
/// makes of a generation's events. It owns what the request holds (its
/// lease) until the stream ends.
pub trait LiveEvents: Send + 'static {
    /// The events of a token (empty: nothing to send).
    fn token(&mut self, t: &TokenEvent) -> String;
    /// The closing events of a finished generation.
    fn done(&mut self, s: &GenerateStats) -> String;
    /// The event of a failed generation (the stream ends after it) and its
    /// HTTP status, for the log line.
    fn error(&mut self, e: &engine::EngineError) -> (String, u16);
}

/// Stream `rx`'s generation as server-sent events: `first` at once, then
/// what `ev` makes of each event as it comes, until the generation ends or
/// the client leaves (which cancels it); then the log line and the output's
/// text for the content log.
pub fn live_sse(
    st: crate::Shared,
    endpoint: &'static str,
    model: String,
    first: String,
    mut rx: UnboundedReceiver<Tagged>,
    started: Instant,
    mut ev: impl LiveEvents,
) -> axum::response::Response {
    use axum::body::Bytes;
    let (tx, brx) = tokio::sync::mpsc::channel::<Result<Bytes, std::convert::Infallible>>(64);
    tokio::spawn(async move {
        let send = |s: String| {
            let tx = tx.clone();
            async move { tx.send(Ok(Bytes::from(s))).await.is_ok() }
        };
        let mut status = "200".to_string();
        let mut text = String::new();
        let mut stats = None;
        if !send(first).await {
            status = "499 (client closed)".into();
        }
        while status == "200" {
            let next = tokio::select! {
                e = rx.recv() => e,
                _ = tx.closed() => {
                    status = "499 (client closed)".into();
                    break;
                }
            };
            let Some((_, e)) = next else { break };
            let out = match e {
                Event::Prefill { .. } => continue,
                Event::Token(t) => {
                    text.push_str(&t.text);
                    let out = ev.token(&t);
                    if out.is_empty() {
                        continue;
                    }
                    out
                }
                Event::Done(s) => {
                    let out = ev.done(&s);
                    stats = Some(s);
                    out
                }
                Event::Error(e) => {
                    let (out, code) = ev.error(&e);
                    status = code.to_string();
                    out
                }
            };
            if !send(out).await {
                status = "499 (client closed)".into();
            }
            if stats.is_some() {
                break;
            }
        }
        drop(rx);
        let refs: Vec<_> = stats.iter().collect();
        log_request(&st, endpoint, &model, &refs, &status, started);
        log_content(&st, "output", &text);
        drop(ev);
    });
    sse_response(axum::body::Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(brx),
    ))
}
