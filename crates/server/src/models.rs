//! Loaded models: load on first request, share among concurrent requests
//! (one scheduler each), unload after the keep-alive expires or when the
//! memory budget needs room (least recently used first, never a model with
//! requests in flight).

use crate::catalog::{Catalog, CatalogError, Entry};
use crate::error::ApiError;
use engine::scheduler::{Scheduler, SchedulerConfig};
use engine::{Cache, Ctx, LoadOptions, LoadedModel, Panels};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a model stays loaded after its last request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeepAlive {
    For(Duration),
    Forever,
}

impl KeepAlive {
    /// Ollama's forms: a number of seconds, or a duration string such as
    /// "5m", "1h30m", "10s", "0"; negative means forever.
    pub fn parse(v: &serde_json::Value) -> Result<KeepAlive, String> {
        match v {
            serde_json::Value::Number(n) => {
                let s = n.as_f64().unwrap_or(0.0);
                if s < 0.0 {
                    Ok(KeepAlive::Forever)
                } else {
                    seconds(s, &n.to_string())
                }
            }
            serde_json::Value::String(s) => parse_duration(s),
            _ => Err("expected a number of seconds or a duration such as \"5m\"".into()),
        }
    }
}

fn parse_duration(s: &str) -> Result<KeepAlive, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('-') {
        parse_duration(rest)?;
        return Ok(KeepAlive::Forever);
    }
    if let Ok(n) = s.parse::<f64>() {
        return seconds(n, s);
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let bad = || {
        format!("'{s}' is not a duration (use e.g. \"30s\", \"5m\", \"1h\", 0, or -1 for forever)")
    };
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        if c == 'm' && chars.peek() == Some(&'s') {
            unit.push(chars.next().unwrap());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        num.clear();
        total += n * match unit.as_str() {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            _ => return Err(bad()),
        };
    }
    if !num.is_empty() {
        return Err(bad());
    }
    seconds(total, s)
}

/// `secs` (not negative) as a keep-alive: longer than any `Duration` (or
/// infinite) is forever; not a number is an error naming `shown`.
fn seconds(secs: f64, shown: &str) -> Result<KeepAlive, String> {
    if secs.is_nan() {
        return Err(format!(
            "'{shown}' is not a duration (use e.g. \"30s\", \"5m\", \"1h\", 0, or -1 for forever)"
        ));
    }
    Ok(Duration::try_from_secs_f64(secs).map_or(KeepAlive::Forever, KeepAlive::For))
}

pub struct Slot {
    pub name: String,
    pub entry: Entry,
    pub lm: Arc<LoadedModel>,
    pub sched: Scheduler,
    pub active: AtomicUsize,
    /// Context of one sequence at most (prompt + output).
    pub ctx: usize,
    /// Memory of the model's prebuilt weight panels (0: none built).
    pub panel_bytes: u64,
    state: Mutex<SlotState>,
}

impl Slot {
    /// Memory the loaded model holds beyond its KV cache: the file's bytes
    /// and its prebuilt weight panels.
    pub fn bytes(&self) -> u64 {
        self.entry.size + self.panel_bytes
    }
}

struct SlotState {
    last_used: Instant,
    keep_alive: KeepAlive,
    /// When the model unloads if no request comes (None while busy or forever).
    expires: Option<Instant>,
}

impl Slot {
    pub fn sched_ctx(&self) -> usize {
        self.ctx
    }
    pub fn expires_at(&self) -> Option<SystemTime> {
        let st = self.state.lock().unwrap();
        match st.keep_alive {
            KeepAlive::Forever => None,
            KeepAlive::For(d) => {
                let base = st
                    .expires
                    .map(|e| e.saturating_duration_since(Instant::now()))
                    .unwrap_or(d);
                Some(SystemTime::now() + base)
            }
        }
    }
}

/// A request's hold on a loaded model; dropping it starts the keep-alive.
pub struct Lease {
    pub slot: Arc<Slot>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut st = self.slot.state.lock().unwrap();
        st.last_used = Instant::now();
        if self.slot.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            st.expires = match st.keep_alive {
                KeepAlive::Forever => None,
                KeepAlive::For(d) => Some(Instant::now() + d),
            };
        }
    }
}

pub struct Manager {
    pub catalog: Catalog,
    pub default_keep_alive: KeepAlive,
    /// Bytes of model files loaded at once at most (0 = no limit).
    pub memory_budget: u64,
    pub sched: SchedulerConfig,
    /// Unpack each model's weight panels once when it loads, for batched
    /// steps (`engine::Panels`; when they fit).
    pub panel_cache: bool,
    /// Keep model files mapped instead of copying their weights into memory
    /// (`--mmap`; `engine::LoadOptions::mapped`).
    pub mapped: bool,
    /// Speculative decoding for requests that do not say (`--spec`, `--draft`).
    pub spec: engine::Speculation,
    /// The draft model (`--draft`), attached to each model of its vocabulary
    /// as it loads.
    pub draft: Option<Arc<engine::DraftModel>>,
    loaded: Mutex<HashMap<String, Arc<Slot>>>,
    /// Serialises loads so one model is not loaded twice at once.
    load_lock: tokio::sync::Mutex<()>,
    /// The model being loaded now, if any (`/health`).
    loading: Mutex<Option<String>>,
    /// Loads and unloads so far (`/metrics`).
    pub history: Mutex<crate::metrics::ModelHistory>,
}

impl Manager {
    pub fn new(
        catalog: Catalog,
        default_keep_alive: KeepAlive,
        memory_budget: u64,
        sched: SchedulerConfig,
    ) -> Manager {
        Manager {
            catalog,
            default_keep_alive,
            memory_budget,
            sched,
            panel_cache: true,
            mapped: false,
            spec: engine::Speculation::OFF,
            draft: None,
            loaded: Mutex::new(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
            loading: Mutex::new(None),
            history: Mutex::new(Default::default()),
        }
    }

    /// Whether models unpack their weight panels at load (default: yes).
    pub fn with_panel_cache(mut self, on: bool) -> Manager {
        self.panel_cache = on;
        self
    }

    /// Whether models keep their files mapped instead of copying their
    /// weights into memory (default: copied, when they fit comfortably).
    pub fn with_mapped(mut self, on: bool) -> Manager {
        self.mapped = on;
        self
    }

    /// The name of the model being loaded now, if any.
    pub fn loading(&self) -> Option<String> {
        self.loading.lock().unwrap().clone()
    }

    /// Speculative decoding by default (requests may say otherwise), and the
    /// draft model for the models of its vocabulary.
    pub fn with_speculation(
        mut self,
        spec: engine::Speculation,
        draft: Option<Arc<engine::DraftModel>>,
    ) -> Manager {
        self.spec = spec;
        self.draft = draft;
        self
    }

    pub fn loaded(&self) -> Vec<Arc<Slot>> {
        let mut v: Vec<_> = self.loaded.lock().unwrap().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    fn take(&self, name: &str, keep_alive: Option<KeepAlive>) -> Option<Lease> {
        let m = self.loaded.lock().unwrap();
        let slot = m.get(name)?.clone();
        let mut st = slot.state.lock().unwrap();
        slot.active.fetch_add(1, Ordering::SeqCst);
        st.last_used = Instant::now();
        st.expires = None;
        // As in Ollama, each request sets how long the model stays after it
        // (its own keep_alive, else the server's default).
        st.keep_alive = keep_alive.unwrap_or(self.default_keep_alive);
        drop(st);
        Some(Lease { slot })
    }

    /// The model called `name`, loaded (on first use) and leased.
    pub async fn get(&self, name: &str, keep_alive: Option<KeepAlive>) -> Result<Lease, ApiError> {
        let entry = self.catalog.resolve(name).map_err(|e| match e {
            CatalogError::NotFound(n) => ApiError::not_found_model(&n),
            e => ApiError::internal(e.to_string()),
        })?;
        if let Some(l) = self.take(&entry.name, keep_alive) {
            return self.admit(l);
        }
        let _g = self.load_lock.lock().await;
        if let Some(l) = self.take(&entry.name, keep_alive) {
            return Ok(l);
        }
        self.make_room(entry.size);
        let path = entry.path.clone();
        // Several sequences per step: unpack the weights once at load, if they
        // fit the memory and the budget left after the loaded models and this one.
        // Speculative decoding's verify steps are batched steps too.
        let batched = self.sched.max_active > 1 || self.spec.is_on() || self.draft.is_some();
        let panels = (self.panel_cache && batched).then(|| {
            (self.memory_budget > 0).then(|| {
                let used: u64 = self
                    .loaded
                    .lock()
                    .unwrap()
                    .values()
                    .map(|s| s.bytes())
                    .sum();
                self.memory_budget.saturating_sub(used + entry.size)
            })
        });
        // A created model's TEMPLATE replaces the file's chat template, its
        // PARAMETER num_ctx the server's context per sequence (at most the
        // trained one in either case); the memory preflight counts the shared
        // context budget.
        let defaults = store::defaults_of(&path);
        let template = defaults.as_ref().and_then(|d| d.template.clone());
        let num_ctx = defaults.as_ref().and_then(|d| d.parameters.num_ctx);
        let opts = LoadOptions {
            ctx: Ctx::AtMost(num_ctx.unwrap_or(self.sched.max_seq_ctx)),
            cache: Cache::Positions(self.sched.ctx_budget),
            panels: panels.map(|limit| Panels {
                threads: self.sched.threads,
                limit,
            }),
            mapped: self.mapped,
        };
        *self.loading.lock().unwrap() = Some(entry.name.clone());
        let load_t = Instant::now();
        // `NAME.jinja` beside the model file is its chat template: another
        // template tried without rewriting the model (over a Modelfile's)
        let tpl = path.with_extension("jinja");
        let tpl_shown = tpl.display().to_string();
        let loaded = tokio::task::spawn_blocking(move || {
            let mut l = engine::load(&path, &opts)?;
            crate::defaults::set_template(&mut l.model, template.as_deref());
            if tpl.is_file() {
                l.model.set_template_file(&tpl)?;
            }
            Ok::<_, engine::EngineError>(l)
        })
        .await;
        *self.loading.lock().unwrap() = None;
        let loaded = loaded
            .map_err(|e| ApiError::internal(format!("loading the model panicked: {e}")))?
            .map_err(|e| {
                // the message names the model, not where its file is on the server
                let msg = e
                    .to_string()
                    .replace(&format!("{}: ", entry.path.display()), "");
                let msg = msg
                    .replace(&entry.path.display().to_string(), "its file")
                    .replace(&tpl_shown, "its template beside it (NAME.jinja)");
                ApiError::internal(format!("could not load model '{}': {msg}", entry.name))
            })?;
        self.history
            .lock()
            .unwrap()
            .loaded(&entry.name, load_t.elapsed().as_secs_f64());
        for w in &loaded.warnings {
            eprintln!("hearth: warning: {w}");
        }
        let panel_bytes = loaded.panel_bytes;
        if panel_bytes > 0 {
            eprintln!(
                "{}: weight panels unpacked for batched steps ({:.0} MB; --no-panel-cache to skip)",
                entry.name,
                panel_bytes as f64 / 1e6
            );
        }
        let mut lm = loaded.model;
        if let Some(d) = &self.draft {
            match lm.set_draft(d.clone()) {
                Ok(()) => eprintln!("{}: drafts by {}", entry.name, d.lm.path.display()),
                Err(_) => eprintln!(
                    "{}: no draft model (the draft's vocabulary is not this model's)",
                    entry.name
                ),
            }
        }
        let lm = Arc::new(lm);
        let mut cfg = self.sched.clone();
        cfg.max_seq_ctx = loaded.n_ctx;
        let ctx = cfg.max_seq_ctx.min(cfg.ctx_budget);
        let sched = Scheduler::new(lm.clone(), cfg);
        let slot = Arc::new(Slot {
            name: entry.name.clone(),
            entry: entry.clone(),
            lm,
            sched,
            active: AtomicUsize::new(0),
            ctx,
            panel_bytes,
            state: Mutex::new(SlotState {
                last_used: Instant::now(),
                keep_alive: keep_alive.unwrap_or(self.default_keep_alive),
                expires: None,
            }),
        });
        self.loaded.lock().unwrap().insert(entry.name.clone(), slot);
        self.admit(self.take(&entry.name, keep_alive).expect("just inserted"))
    }

    /// Refuse a request when the model already has a full batch and a full
    /// queue (503 + Retry-After rather than waiting without bound).
    fn admit(&self, l: Lease) -> Result<Lease, ApiError> {
        let limit = self.sched.max_active.max(1) + self.sched.max_queue.max(1);
        let n = l.slot.active.load(Ordering::SeqCst);
        if n > limit {
            return Err(ApiError::busy(format!(
                "model '{}' is busy: {} requests running or waiting (--parallel {} + --queue {}); retry shortly",
                l.slot.name,
                n - 1,
                self.sched.max_active,
                self.sched.max_queue
            )));
        }
        Ok(l)
    }

    /// Unload idle models, least recently used first, until `need` more
    /// bytes fit in the budget.
    fn make_room(&self, need: u64) {
        if self.memory_budget == 0 {
            return;
        }
        let mut m = self.loaded.lock().unwrap();
        loop {
            let used: u64 = m.values().map(|s| s.bytes()).sum();
            if used + need <= self.memory_budget {
                return;
            }
            let victim = m
                .values()
                .filter(|s| s.active.load(Ordering::SeqCst) == 0)
                .min_by_key(|s| s.state.lock().unwrap().last_used)
                .map(|s| s.name.clone());
            match victim {
                Some(v) => {
                    eprintln!("unloading {v} (memory budget)");
                    m.remove(&v);
                    self.history.lock().unwrap().unloaded(&v, "memory_budget");
                }
                None => return,
            }
        }
    }

    /// Unload a model now if nothing is using it (Ollama's keep_alive 0).
    pub fn unload(&self, name: &str) -> bool {
        let mut m = self.loaded.lock().unwrap();
        if m.get(name)
            .is_some_and(|s| s.active.load(Ordering::SeqCst) == 0)
        {
            m.remove(name);
            self.history.lock().unwrap().unloaded(name, "request");
            return true;
        }
        false
    }

    /// Unload every idle model whose keep-alive has run out.
    pub fn reap(&self) {
        let now = Instant::now();
        let mut m = self.loaded.lock().unwrap();
        let expired: Vec<String> = m
            .values()
            .filter(|s| s.active.load(Ordering::SeqCst) == 0)
            .filter(|s| s.state.lock().unwrap().expires.is_some_and(|e| e <= now))
            .map(|s| s.name.clone())
            .collect();
        for n in expired {
            eprintln!("unloading {n} (idle)");
            m.remove(&n);
            self.history.lock().unwrap().unloaded(&n, "keep_alive");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeepAlive;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn keep_alive_forms() {
        let p = |v| KeepAlive::parse(&v);
        assert_eq!(p(json!(30)), Ok(KeepAlive::For(Duration::from_secs(30))));
        assert_eq!(
            p(json!("1h30m")),
            Ok(KeepAlive::For(Duration::from_secs(5400)))
        );
        assert_eq!(p(json!(-1)), Ok(KeepAlive::Forever));
        assert_eq!(p(json!("-5m")), Ok(KeepAlive::Forever));
        assert!(p(json!("5 parsecs")).is_err());
        assert!(p(json!(true)).is_err());
    }

    /// Found by the million-body request fuzz: seconds past what a
    /// `Duration` holds (or infinite) panicked in `from_secs_f64`; they are
    /// forever now, and not-a-number is an error.
    #[test]
    fn keep_alive_beyond_a_duration_is_forever_not_a_panic() {
        let p = |v| KeepAlive::parse(&v);
        assert_eq!(p(json!(1e30)), Ok(KeepAlive::Forever));
        assert_eq!(p(json!("1e400")), Ok(KeepAlive::Forever));
        assert_eq!(p(json!("inf")), Ok(KeepAlive::Forever));
        assert_eq!(p(json!("99999999999999999999999h")), Ok(KeepAlive::Forever));
        let e = p(json!("nan")).unwrap_err();
        assert!(e.contains("'nan' is not a duration"), "{e}");
        assert!(p(json!("-nan")).is_err());
    }
}
