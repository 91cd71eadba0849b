//! `GET /metrics` in Prometheus' text exposition format (version 0.0.4):
//! requests by route and status, prompt and generated tokens, tokens/s,
//! queue depth, active sequences, KV-cache use, model loads and unloads,
//! speculative decoding's drafted and accepted tokens.
//! Labels are route templates (`/v1/models/{*id}`, never the path a client
//! sent), methods, statuses, model names and unload reasons: never any text
//! of a prompt or an answer.

use crate::{AppState, Shared};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Finished generations inside this window make the tokens/s gauges.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Most finished generations remembered for the window.
const RATE_KEEP: usize = 4096;

#[derive(Default)]
struct Tokens {
    prompt: u64,
    cached: u64,
    generated: u64,
    prompt_seconds: f64,
    gen_seconds: f64,
    requests: u64,
    /// Speculative decoding: verify steps, tokens drafted, tokens accepted.
    spec: engine::SpecStats,
}

/// One finished generation, for the windowed rates.
struct Done {
    at: Instant,
    model: String,
    prompt: usize,
    prompt_seconds: f64,
    generated: usize,
    gen_seconds: f64,
}

#[derive(Default)]
struct Inner {
    /// (route, method, status) → answered requests.
    requests: BTreeMap<(String, String, u16), u64>,
    in_flight: i64,
    tokens: BTreeMap<String, Tokens>,
    recent: VecDeque<Done>,
}

/// The server's counters (one per `AppState`).
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    started: std::sync::OnceLock<Instant>,
}

/// Model loads and unloads, kept by the `Manager`.
#[derive(Default)]
pub struct ModelHistory {
    loads: BTreeMap<String, (u64, f64)>,
    unloads: BTreeMap<(String, &'static str), u64>,
}

impl ModelHistory {
    pub fn loaded(&mut self, model: &str, seconds: f64) {
        let e = self.loads.entry(model.to_string()).or_default();
        e.0 += 1;
        e.1 += seconds;
    }
    pub fn unloaded(&mut self, model: &str, reason: &'static str) {
        *self.unloads.entry((model.to_string(), reason)).or_default() += 1;
    }
}

impl Metrics {
    fn start(&self) -> Instant {
        *self.started.get_or_init(Instant::now)
    }

    /// A generation request finished (its choices' stats).
    pub fn generation(&self, model: &str, stats: &[&engine::GenerateStats]) {
        self.start();
        let mut m = self.inner.lock().unwrap();
        let t = m.tokens.entry(model.to_string()).or_default();
        t.requests += 1;
        for s in stats {
            t.prompt += s.prompt_tokens as u64;
            t.cached += s.cached_tokens as u64;
            t.generated += s.output_tokens as u64;
            t.prompt_seconds += s.prompt_seconds;
            t.gen_seconds += s.gen_seconds;
            t.spec.add(&s.spec);
        }
        let now = Instant::now();
        for s in stats {
            m.recent.push_back(Done {
                at: now,
                model: model.to_string(),
                prompt: s.prompt_tokens.saturating_sub(s.cached_tokens),
                prompt_seconds: s.prompt_seconds,
                // the first token comes with the prompt's logits
                generated: s.output_tokens.saturating_sub(1),
                gen_seconds: s.gen_seconds,
            });
        }
        while m.recent.len() > RATE_KEEP
            || m.recent
                .front()
                .is_some_and(|d| now.duration_since(d.at) > RATE_WINDOW)
        {
            m.recent.pop_front();
        }
    }

    fn request(&self, route: String, method: String, status: u16) {
        let mut m = self.inner.lock().unwrap();
        *m.requests.entry((route, method, status)).or_default() += 1;
    }
}

/// Middleware: count every answered request by route template, method and
/// status (streams count when their headers go out).
pub async fn count_requests(State(st): State<Shared>, req: Request, next: Next) -> Response {
    st.metrics.start();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    st.metrics.inner.lock().unwrap().in_flight += 1;
    let r = next.run(req).await;
    st.metrics.inner.lock().unwrap().in_flight -= 1;
    st.metrics.request(route, method, r.status().as_u16());
    r
}

/// A label value escaped as the format asks (`\\`, `\"`, `\n`).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Out(String);

impl Out {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }
    fn line(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, x)| format!("{k}=\"{}\"", label(x)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {v}");
    }
}

/// The whole exposition.
pub fn render(st: &AppState) -> String {
    let mut o = Out(String::new());
    let uptime = st.metrics.start().elapsed().as_secs_f64();
    o.head("hearth_up", "gauge", "1 while the server runs.");
    o.line("hearth_up", &[], 1.0);
    o.head(
        "hearth_uptime_seconds",
        "gauge",
        "Seconds since the server started counting.",
    );
    o.line("hearth_uptime_seconds", &[], uptime);
    {
        let m = st.metrics.inner.lock().unwrap();
        o.head(
            "hearth_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status.",
        );
        for ((route, method, status), n) in &m.requests {
            let s = status.to_string();
            o.line(
                "hearth_requests_total",
                &[("route", route), ("method", method), ("status", &s)],
                *n as f64,
            );
        }
        o.head(
            "hearth_requests_in_flight",
            "gauge",
            "Requests being answered now (this scrape included).",
        );
        o.line("hearth_requests_in_flight", &[], m.in_flight as f64);
        type Field = fn(&Tokens) -> f64;
        let counters: [(&str, &str, Field); 9] = [
            (
                "hearth_generation_requests_total",
                "Generation requests finished, by model.",
                |t| t.requests as f64,
            ),
            (
                "hearth_prompt_tokens_total",
                "Prompt tokens of finished generations, by model.",
                |t| t.prompt as f64,
            ),
            (
                "hearth_prompt_tokens_cached_total",
                "Prompt tokens taken from a cache instead of computed, by model.",
                |t| t.cached as f64,
            ),
            (
                "hearth_generated_tokens_total",
                "Tokens generated, by model.",
                |t| t.generated as f64,
            ),
            (
                "hearth_prompt_seconds_total",
                "Seconds spent reading prompts, by model.",
                |t| t.prompt_seconds,
            ),
            (
                "hearth_generation_seconds_total",
                "Seconds spent generating, by model.",
                |t| t.gen_seconds,
            ),
            (
                "hearth_speculative_verify_steps_total",
                "Speculative decoding: steps that verified drafted tokens, by model.",
                |t| t.spec.steps as f64,
            ),
            (
                "hearth_speculative_drafted_tokens_total",
                "Speculative decoding: tokens drafted and verified, by model.",
                |t| t.spec.drafted as f64,
            ),
            (
                "hearth_speculative_accepted_tokens_total",
                "Speculative decoding: drafted tokens accepted (accepted / drafted is the acceptance rate), by model.",
                |t| t.spec.accepted as f64,
            ),
        ];
        for (name, help, f) in counters {
            o.head(name, "counter", help);
            for (model, t) in &m.tokens {
                o.line(name, &[("model", model)], f(t));
            }
        }
        // tokens/s over the generations finished in the last minute
        let now = Instant::now();
        let mut rates: BTreeMap<&str, (f64, f64, f64, f64)> = BTreeMap::new();
        for d in m
            .recent
            .iter()
            .filter(|d| now.duration_since(d.at) <= RATE_WINDOW)
        {
            let r = rates.entry(&d.model).or_default();
            r.0 += d.prompt as f64;
            r.1 += d.prompt_seconds;
            r.2 += d.generated as f64;
            r.3 += d.gen_seconds;
        }
        o.head(
            "hearth_prompt_tokens_per_second",
            "gauge",
            "Prompt tokens computed per second of prompt reading, over the generations finished in the last 60 s, by model.",
        );
        for (model, r) in &rates {
            let v = if r.1 > 0.0 { r.0 / r.1 } else { 0.0 };
            o.line("hearth_prompt_tokens_per_second", &[("model", model)], v);
        }
        o.head(
            "hearth_generation_tokens_per_second",
            "gauge",
            "Tokens generated per second of one sequence's generation, over the generations finished in the last 60 s, by model.",
        );
        for (model, r) in &rates {
            let v = if r.3 > 0.0 { r.2 / r.3 } else { 0.0 };
            o.line(
                "hearth_generation_tokens_per_second",
                &[("model", model)],
                v,
            );
        }
    }
    let loaded = st.mgr.loaded();
    o.head("hearth_models_loaded", "gauge", "Models loaded now.");
    o.line("hearth_models_loaded", &[], loaded.len() as f64);
    o.head(
        "hearth_model_loading",
        "gauge",
        "1 while a model is being loaded.",
    );
    o.line(
        "hearth_model_loading",
        &[],
        if st.mgr.loading().is_some() { 1.0 } else { 0.0 },
    );
    let loads: Vec<_> = loaded.iter().map(|s| (s, s.sched.load())).collect();
    type LoadField = fn(&crate::models::Slot, &engine::scheduler::Load) -> f64;
    let gauges: [(&str, &str, LoadField); 8] = [
        (
            "hearth_model_memory_bytes",
            "Memory a loaded model holds beyond its KV cache (file and weight panels), by model.",
            |s, _| s.bytes() as f64,
        ),
        (
            "hearth_requests_active",
            "Requests holding a loaded model (generating or waiting), by model.",
            |s, _| s.active.load(std::sync::atomic::Ordering::SeqCst) as f64,
        ),
        (
            "hearth_queue_depth",
            "Requests waiting for the scheduler, by model.",
            |_, l| l.queued as f64,
        ),
        (
            "hearth_active_sequences",
            "Sequences being generated together, by model.",
            |_, l| l.active as f64,
        ),
        (
            "hearth_kv_cache_used_positions",
            "KV-cache positions filled by the active sequences, by model.",
            |_, l| l.kv_used as f64,
        ),
        (
            "hearth_kv_cache_reserved_positions",
            "KV-cache positions reserved by the active sequences (prompt + max_tokens), by model.",
            |_, l| l.kv_reserved as f64,
        ),
        (
            "hearth_kv_cache_budget_positions",
            "KV-cache positions shared by all sequences of a model (--ctx-budget).",
            |_, l| l.kv_budget as f64,
        ),
        (
            "hearth_kv_cache_usage_ratio",
            "Reserved over budget positions, 0 to 1, by model.",
            |_, l| {
                if l.kv_budget > 0 {
                    l.kv_reserved as f64 / l.kv_budget as f64
                } else {
                    0.0
                }
            },
        ),
    ];
    for (name, help, f) in gauges {
        o.head(name, "gauge", help);
        for (s, l) in &loads {
            o.line(name, &[("model", &s.name)], f(s, l));
        }
    }
    let h = st.mgr.history.lock().unwrap();
    o.head(
        "hearth_model_loads_total",
        "counter",
        "Model loads, by model.",
    );
    for (model, (n, _)) in &h.loads {
        o.line("hearth_model_loads_total", &[("model", model)], *n as f64);
    }
    o.head(
        "hearth_model_load_seconds_total",
        "counter",
        "Seconds spent loading models, by model.",
    );
    for (model, (_, secs)) in &h.loads {
        o.line(
            "hearth_model_load_seconds_total",
            &[("model", model)],
            *secs,
        );
    }
    o.head(
        "hearth_model_unloads_total",
        "counter",
        "Model unloads, by model and reason (keep_alive, memory_budget, request).",
    );
    for ((model, reason), n) in &h.unloads {
        o.line(
            "hearth_model_unloads_total",
            &[("model", model), ("reason", reason)],
            *n as f64,
        );
    }
    o.0
}

#[cfg(test)]
mod tests {
    use super::{label, Out};

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut o = Out(String::new());
        o.head("x_total", "counter", "X.");
        o.line("x_total", &[("model", "m\"1")], 2.0);
        o.line("x_total", &[], 0.5);
        assert_eq!(
            o.0,
            "# HELP x_total X.\n# TYPE x_total counter\nx_total{model=\"m\\\"1\"} 2\nx_total 0.5\n"
        );
    }
}
