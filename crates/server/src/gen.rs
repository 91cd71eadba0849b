//! What both APIs share: turning a validated request into scheduler work,
//! collecting or streaming its events, JSON mode, the per-request log line.

use crate::error::{from_engine, ApiError};
use crate::models::Lease;
use crate::AppState;
use engine::scheduler::{Event, SubmitError, TokenEvent};
use engine::{FinishReason, GenerateRequest, GenerateStats, LoadedModel, Prompt};
use std::ops::ControlFlow;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// Events of choice `index`.
pub type Tagged = (usize, Event);

/// Tokenize the prompt here (so an overflow is a 400 before anything
/// streams) and hand the scheduler the ids.
pub fn prepare(
    lm: &LoadedModel,
    lease: &Lease,
    prompt: &Prompt,
    field: &str,
) -> Result<Vec<u32>, ApiError> {
    let ids = lm.prompt_tokens(prompt).map_err(|e| {
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
    pub tokens: Vec<TokenEvent>,
    pub stats: Option<GenerateStats>,
}

/// Wait for all `n` choices.
pub async fn collect(mut rx: UnboundedReceiver<Tagged>, n: usize) -> Result<Vec<Choice>, ApiError> {
    let mut out: Vec<Choice> = (0..n).map(|_| Choice::default()).collect();
    let mut done = 0;
    while done < n {
        let Some((i, ev)) = rx.recv().await else {
            return Err(ApiError::internal(
                "the scheduler stopped before the answer was complete",
            ));
        };
        match ev {
            Event::Token(t) => {
                out[i].text.push_str(&t.text);
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

/// JSON mode (OpenAI `response_format: json_object`, Ollama `format`).
/// The answer is started with `{` (appended to the prompt), generation stops
/// as soon as that object closes (a small JSON state machine over the token
/// texts), and the result is checked: taken as is, or the object inside it,
/// or with what a length cut left open closed; failing that, retried once
/// greedily; failing that, the text is wrapped as `{"response": text}`, so
/// the output always parses.
pub async fn collect_json(
    lease: &Lease,
    req: &GenerateRequest,
    n: usize,
) -> Result<Vec<Choice>, ApiError> {
    let mut req = req.clone();
    if let Prompt::Tokens(ids) = &mut req.prompt {
        ids.extend(lease.slot.lm.tokenizer.encode("{", false, false));
    }
    let mut choices = collect(submit_json(lease, &req, n)?, n).await?;
    for c in choices.iter_mut() {
        c.text = format!("{{{}", c.text);
        if let Some(fixed) = crate::jsonfix::repair(&c.text) {
            c.text = fixed;
            continue;
        }
        let mut r = req.clone();
        r.sampling = engine::SamplingParams::greedy();
        let again = collect(submit_json(lease, &r, 1)?, 1).await?.pop().unwrap();
        let text2 = format!("{{{}", again.text);
        c.text = match crate::jsonfix::repair(&text2) {
            Some(f) => f,
            None => serde_json::json!({ "response": c.text.trim() }).to_string(),
        };
        if let (Some(a), Some(b)) = (&mut c.stats, again.stats) {
            a.output_tokens += b.output_tokens;
            a.gen_seconds += b.gen_seconds;
        }
    }
    for c in choices.iter_mut() {
        if let Some(s) = &mut c.stats {
            if s.finish == FinishReason::Cancelled {
                s.finish = FinishReason::Stop;
            }
        }
    }
    Ok(choices)
}

/// Like [`submit_n`], but each sequence ends once the JSON object it is
/// writing (after an opening `{` already in the prompt) closes.
fn submit_json(
    lease: &Lease,
    req: &GenerateRequest,
    n: usize,
) -> Result<UnboundedReceiver<Tagged>, ApiError> {
    let (tx, rx) = unbounded_channel();
    for i in 0..n {
        let mut r = req.clone();
        r.sampling.seed = r.sampling.seed.wrapping_add(i as u64);
        let tx = tx.clone();
        let mut depth = crate::jsonfix::Depth::open_object();
        let sink = Box::new(move |ev: Event| {
            let mut closed = false;
            if let Event::Token(t) = &ev {
                closed = depth.feed(&t.text);
            }
            if tx.send((i, ev)).is_err() || closed {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        lease
            .slot
            .sched
            .submit(r, None, sink)
            .map_err(|e| match e {
                SubmitError::QueueFull(_) => ApiError::busy(format!("{e}")),
                SubmitError::Stopped => ApiError::internal(e.to_string()),
            })?;
    }
    Ok(rx)
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
    eprintln!(
        "{} {endpoint} model={model} in={tin} cached={cached} out={tout} tok/s={tps} time={:.2}s status={status}",
        rfc3339(SystemTime::now()),
        started.elapsed().as_secs_f64()
    );
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
/// being collected (the handler is dropped, so nothing else would).
pub struct LeftGuard<'a> {
    state: &'a AppState,
    endpoint: &'a str,
    model: &'a str,
    started: Instant,
    armed: bool,
}

impl<'a> LeftGuard<'a> {
    pub fn new(state: &'a AppState, endpoint: &'a str, model: &'a str, started: Instant) -> Self {
        LeftGuard {
            state,
            endpoint,
            model,
            started,
            armed: true,
        }
    }
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for LeftGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            log_request(
                self.state,
                self.endpoint,
                self.model,
                &[],
                "499 (client closed)",
                self.started,
            );
        }
    }
}
