//! Where the work runs: the local engine (one loaded model, its continuous
//! batching scheduler shared with `hearth serve`) or any OpenAI-compatible
//! server (`--endpoint`), behind one small trait so resume, output and the
//! report are the same for both.

use engine::scheduler::{Event, Scheduler, SchedulerConfig, SubmitError};
use engine::{GenerateRequest, LoadedModel, Message, Prompt, SamplingParams};
use serde_json::{json, Value};
use std::ops::ControlFlow;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One generation.
#[derive(Clone, Debug)]
pub struct Job {
    pub system: Option<String>,
    /// The rendered prompt.
    pub user: String,
    /// Plain text, no chat template.
    pub raw: bool,
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    /// Most reasoning tokens of a thinking model before it is asked for the
    /// answer (`None`: no limit; sent to an endpoint as `thinking_budget`).
    pub thinking_budget: Option<usize>,
    /// Ask for one JSON object (enforced while sampling by the local engine;
    /// asked of an endpoint as `response_format`).
    pub json: bool,
    /// The JSON Schema that object follows.
    pub schema: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub text: String,
    /// A thinking model's reasoning (empty when it has none).
    pub reasoning: String,
    pub finish: String,
    pub prompt_tokens: usize,
    /// Of `prompt_tokens`, those not computed for this job: taken from
    /// another job's cache because the prompts start the same way.
    pub cached_tokens: usize,
    pub output_tokens: usize,
}

#[derive(Clone, Debug)]
pub struct JobError {
    pub message: String,
    /// Every further job would fail the same way (bad key, server gone):
    /// the batch stops instead of failing every record.
    pub fatal: bool,
}

impl JobError {
    pub fn new(message: impl Into<String>) -> JobError {
        JobError {
            message: message.into(),
            fatal: false,
        }
    }
    pub fn fatal(message: impl Into<String>) -> JobError {
        JobError {
            message: message.into(),
            fatal: true,
        }
    }
}

pub type Done = Box<dyn FnOnce(Result<Answer, JobError>) + Send>;

pub trait Backend: Send + Sync {
    /// The model as records name it.
    fn model_label(&self) -> String;
    /// What identifies the model for resume (a different file is other work).
    fn model_key(&self) -> String;
    /// Context of one sequence, in tokens.
    fn ctx(&self) -> usize;
    /// Generations run at once.
    fn parallel(&self) -> usize;
    /// Tokens of the job's whole prompt (template and all).
    fn prompt_tokens(&self, job: &Job) -> Result<usize, JobError>;
    /// Tokens of a piece of text (for splitting long documents).
    fn text_tokens(&self, text: &str) -> usize;
    /// Start `job`; `done` is called once, from another thread.
    fn submit(&self, job: Job, done: Done);
}

fn messages(job: &Job) -> Vec<Message> {
    let mut m = Vec::new();
    if let Some(s) = &job.system {
        m.push(Message::system(s.clone()));
    }
    m.push(Message::user(job.user.clone()));
    m
}

/// The local engine.
pub struct Local {
    lm: Arc<LoadedModel>,
    sched: Scheduler,
    ctx: usize,
    parallel: usize,
    label: String,
    key: String,
    /// The last prompt counted and its tokens: the runner counts a job's
    /// prompt (`prompt_tokens`) just before submitting it, so the
    /// submission reuses them instead of tokenizing the document again.
    last: Mutex<Option<(Job, Vec<u32>)>>,
    /// Speculative decoding of every document (exact: the same outputs).
    spec: engine::Speculation,
    /// The last grammar compiled (every job of a batch asks for the same).
    grammar: Mutex<Option<(GrammarKey, engine::Constraint)>>,
}

impl Local {
    /// `ctx` tokens per sequence, `parallel` sequences decoded together.
    pub fn new(
        lm: Arc<LoadedModel>,
        label: String,
        ctx: usize,
        parallel: usize,
        threads: usize,
    ) -> Local {
        let parallel = parallel.max(1);
        let size = std::fs::metadata(&lm.path).map(|m| m.len()).unwrap_or(0);
        let file = lm
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = format!("{file}:{size}");
        let sched = Scheduler::new(
            lm.clone(),
            SchedulerConfig {
                threads,
                max_active: parallel,
                max_queue: parallel * 2 + 2,
                ctx_budget: ctx * parallel,
                max_seq_ctx: ctx,
            },
        );
        Local {
            lm,
            sched,
            ctx,
            parallel,
            label,
            key,
            last: Mutex::new(None),
            spec: engine::Speculation::OFF,
            grammar: Mutex::new(None),
        }
    }

    /// Speculative decoding for every document (`hearth batch --spec`,
    /// `--draft`): the outputs do not change.
    pub fn with_speculation(mut self, spec: engine::Speculation) -> Local {
        self.spec = spec;
        self
    }

    /// How a job's reasoning is split (none for a raw prompt).
    fn reasoning(&self, job: &Job) -> Option<engine::Reasoning> {
        if job.raw {
            return None;
        }
        self.lm.reasoning_format().map(|format| engine::Reasoning {
            format,
            budget: job.thinking_budget,
        })
    }

    /// The constraint of a JSON job: its schema's, or any JSON object, as
    /// the answer of a generation whose reasoning is `reasoning`
    /// ([`engine::LoadedModel::answer_constraint`]: a harmony chat's whole
    /// output).
    fn constraint(
        &self,
        job: &Job,
        reasoning: Option<&engine::Reasoning>,
    ) -> Result<Option<engine::Constraint>, JobError> {
        if !job.json {
            return Ok(None);
        }
        let harmony = reasoning.is_some_and(|r| r.format == engine::ReasoningFormat::Harmony);
        let key = (job.schema.clone(), harmony);
        let mut cache = self
            .grammar
            .lock()
            .map_err(|_| JobError::fatal("lock poisoned"))?;
        if let Some((k, c)) = cache.as_ref() {
            if k == &key {
                return Ok(Some(c.clone()));
            }
        }
        let g = match &job.schema {
            Some(s) => engine::Grammar::JsonSchema(s.clone()),
            None => engine::Grammar::JsonObject,
        };
        // every job would fail the same way
        let c = self
            .lm
            .answer_constraint(&g, reasoning)
            .map_err(|e| JobError::fatal(format!("the JSON schema cannot be enforced: {e}")))?;
        *cache = Some((key, c.clone()));
        Ok(Some(c))
    }

    fn prompt(&self, job: &Job) -> Result<Vec<u32>, JobError> {
        if let Ok(last) = self.last.lock() {
            if let Some((_, ids)) = last.as_ref().filter(|(j, _)| same_prompt(j, job)) {
                return Ok(ids.clone());
            }
        }
        let p = if job.raw {
            Prompt::Raw(job.user.clone())
        } else {
            Prompt::Chat(messages(job))
        };
        let ids = self
            .lm
            .prompt_tokens(&p)
            .map_err(|e| JobError::new(e.to_string()))?;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((job.clone(), ids.clone()));
        }
        Ok(ids)
    }
}

/// Whether two jobs have the same prompt (what tokenization depends on).
fn same_prompt(a: &Job, b: &Job) -> bool {
    a.raw == b.raw && a.json == b.json && a.system == b.system && a.user == b.user
}

/// What a compiled JSON grammar depends on: the job's schema (`None`: any
/// JSON object), and whether it holds a harmony chat's whole output.
type GrammarKey = (Option<Value>, bool);

impl Backend for Local {
    fn model_label(&self) -> String {
        self.label.clone()
    }
    fn model_key(&self) -> String {
        self.key.clone()
    }
    fn ctx(&self) -> usize {
        self.ctx
    }
    fn parallel(&self) -> usize {
        self.parallel
    }
    fn prompt_tokens(&self, job: &Job) -> Result<usize, JobError> {
        self.prompt(job).map(|p| p.len())
    }
    fn text_tokens(&self, text: &str) -> usize {
        self.lm.tokenizer.encode(text, false, false).len()
    }

    fn submit(&self, job: Job, done: Done) {
        let ids = match self.prompt(&job) {
            Ok(ids) => ids,
            Err(e) => return done(Err(e)),
        };
        let reasoning = self.reasoning(&job);
        let constraint = match self.constraint(&job, reasoning.as_ref()) {
            Ok(c) => c,
            Err(e) => return done(Err(e)),
        };
        let req = GenerateRequest {
            prompt: Prompt::Tokens(ids),
            max_tokens: job.max_tokens,
            sampling: job.sampling.clone(),
            stop: job.stop.clone(),
            spec: self.spec.clone(),
            constraint,
            reasoning,
            special_text: false,
        };
        let (mut text, mut reasoning) = (String::new(), String::new());
        let slot: Arc<Mutex<Option<Done>>> = Arc::new(Mutex::new(Some(done)));
        let take = |slot: &Arc<Mutex<Option<Done>>>| slot.lock().ok().and_then(|mut d| d.take());
        let held = slot.clone();
        let sink = Box::new(move |ev: Event| match ev {
            Event::Token(t) => {
                text.push_str(&t.text);
                reasoning.push_str(&t.reasoning);
                ControlFlow::Continue(())
            }
            Event::Done(s) => {
                let finish = s.finish.as_str();
                if let Some(d) = take(&held) {
                    d(Ok(Answer {
                        text: std::mem::take(&mut text),
                        reasoning: std::mem::take(&mut reasoning),
                        finish: finish.to_string(),
                        prompt_tokens: s.prompt_tokens,
                        cached_tokens: s.cached_tokens,
                        output_tokens: s.output_tokens,
                    }));
                }
                ControlFlow::Break(())
            }
            Event::Prefill { .. } => ControlFlow::Continue(()),
            Event::Error(e) => {
                if let Some(d) = take(&held) {
                    d(Err(JobError::new(e.to_string())));
                }
                ControlFlow::Break(())
            }
        });
        // The runner keeps at most `parallel` jobs in flight, well under the
        // queue bound; a refusal is still reported, never dropped.
        if let Err(e) = self.sched.submit(req, None, sink) {
            if let Some(d) = take(&slot) {
                d(Err(JobError {
                    message: e.to_string(),
                    fatal: matches!(e, SubmitError::Stopped),
                }));
            }
        }
    }
}

/// An OpenAI-compatible server: `POST {base}/v1/chat/completions` (or
/// `/v1/completions` for `--raw`) from `parallel` worker threads, retrying
/// 429/5xx answers and dropped connections with backoff (honouring
/// `Retry-After`).
pub struct Endpoint {
    base: String,
    model: String,
    ctx: usize,
    parallel: usize,
    tx: Mutex<mpsc::Sender<(Job, Done)>>,
}

/// The model to ask `base` for, from what it lists: the name given when it
/// is listed (or the server lists nothing to check against); else the one
/// listed name it is short for, as hearth's and Ollama's servers match
/// names (case aside: `smollm2` for `smollm2:135m` or `smollm2:latest`,
/// `NAME:latest` for a listed `NAME`). Without a name, the only model
/// listed. Never a guess: several candidates are refused, naming them.
pub fn pick_model(base: &str, listed: &[String], asked: Option<&str>) -> Result<String, String> {
    let Some(m) = asked else {
        return match listed {
            [] => Err(format!("{base} lists no models; name one with -m")),
            [only] => Ok(only.clone()),
            _ => Err(format!(
                "{base} serves several models; name one with -m: {}",
                listed.join(", ")
            )),
        };
    };
    if listed.is_empty() || listed.iter().any(|l| l == m) {
        return Ok(m.to_string());
    }
    let lower = m.to_lowercase();
    let bare = lower.strip_suffix(":latest").unwrap_or(&lower);
    let matches: Vec<&String> = listed
        .iter()
        .filter(|l| {
            let l = l.to_lowercase();
            l == lower
                || l == bare
                || (!lower.contains(':') && l.split_once(':').is_some_and(|(n, _)| n == lower))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "{base} does not serve model '{m}'; it lists: {}",
            listed.join(", ")
        )),
        several => Err(format!(
            "'{m}' could be any of {} on {base}; name one with -m",
            several
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Attempts per request before it is recorded as failed.
const ATTEMPTS: u32 = 6;

impl Endpoint {
    /// Check the server answers (`GET /v1/models`) and knows `model`
    /// ([`pick_model`]).
    pub fn connect(
        url: &str,
        api_key: Option<String>,
        model: Option<String>,
        ctx: usize,
        parallel: usize,
    ) -> Result<Endpoint, String> {
        let base = base_url(url)?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(900))
            .build();
        let models_url = format!("{base}/v1/models");
        let mut req = agent.get(&models_url);
        if let Some(k) = &api_key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        let listed: Vec<String> = match req.call() {
            Ok(r) => r
                .into_json::<Value>()
                .ok()
                .and_then(|v| v.get("data").and_then(|d| d.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|m| m.get("id").and_then(|i| i.as_str()).map(String::from))
                .collect(),
            Err(ureq::Error::Status(401 | 403, _)) => {
                return Err(format!(
                    "{models_url} refused the request (401/403): give the right key with --api-key"
                ))
            }
            Err(ureq::Error::Status(code, r)) => {
                return Err(format!(
                    "{models_url} answered {code}: {}",
                    error_message(r)
                ))
            }
            Err(e) => {
                return Err(format!(
                    "cannot reach {models_url}: {e}; is the server running?"
                ))
            }
        };
        let model = pick_model(&base, &listed, model.as_deref())?;
        let parallel = parallel.max(1);
        let (tx, rx) = mpsc::channel::<(Job, Done)>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..parallel {
            let rx = rx.clone();
            let agent = agent.clone();
            let (base, model, key) = (base.clone(), model.clone(), api_key.clone());
            let _ = std::thread::Builder::new()
                .name(format!("hearth-batch-http-{i}"))
                .spawn(move || loop {
                    let next = rx.lock().ok().and_then(|r| r.recv().ok());
                    let Some((job, done)) = next else { return };
                    done(request(&agent, &base, &model, key.as_deref(), &job));
                });
        }
        Ok(Endpoint {
            base,
            model,
            ctx,
            parallel,
            tx: Mutex::new(tx),
        })
    }
}

/// `http://h:p`, `http://h:p/`, `http://h:p/v1` → `http://h:p`.
fn base_url(url: &str) -> Result<String, String> {
    let u = url.trim().trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(format!(
            "--endpoint '{url}' must start with http:// or https://"
        ));
    }
    Ok(u.strip_suffix("/v1").unwrap_or(u).to_string())
}

fn error_message(r: ureq::Response) -> String {
    let body = r.into_string().unwrap_or_default();
    serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(String::from)
        })
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// The body of `job`'s request to an OpenAI-compatible server, and its path.
fn request_body(model: &str, job: &Job) -> (Value, &'static str) {
    let s = &job.sampling;
    let mut body = json!({
        "model": model,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "seed": s.seed,
        "stream": false,
    });
    if let Some(m) = job.max_tokens {
        body["max_tokens"] = json!(m);
    }
    if !job.stop.is_empty() {
        body["stop"] = json!(job.stop);
    }
    // hearth's extension (as `hearth serve` reads it); only when asked for
    if let (Some(b), false) = (job.thinking_budget, job.raw) {
        body["thinking_budget"] = json!(b.min(i64::MAX as usize));
    }
    let path = if job.raw {
        let mut p = job.user.clone();
        if let Some(sys) = &job.system {
            p = format!("{sys}\n\n{p}");
        }
        body["prompt"] = json!(p);
        "/v1/completions"
    } else {
        body["messages"] = json!(messages(job)
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect::<Vec<_>>());
        if job.json {
            body["response_format"] = match &job.schema {
                Some(s) => {
                    json!({"type": "json_schema", "json_schema": {"name": "output", "schema": s, "strict": true}})
                }
                None => json!({"type": "json_object"}),
            };
        }
        "/v1/chat/completions"
    };
    (body, path)
}

fn request(
    agent: &ureq::Agent,
    base: &str,
    model: &str,
    key: Option<&str>,
    job: &Job,
) -> Result<Answer, JobError> {
    let (body, path) = request_body(model, job);
    let url = format!("{base}{path}");
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(1 << (attempt - 1).min(4)));
        }
        let mut req = agent.post(&url);
        if let Some(k) = key {
            req = req.set("Authorization", &format!("Bearer {k}"));
        }
        match req.send_json(body.clone()) {
            Ok(r) => {
                let v: Value = r
                    .into_json()
                    .map_err(|e| JobError::new(format!("{url}: unreadable answer: {e}")))?;
                return parse_answer(&v, job.raw)
                    .ok_or_else(|| JobError::new(format!("{url}: the answer has no choices[0]")));
            }
            Err(ureq::Error::Status(code @ (429 | 500 | 502 | 503 | 504), r)) => {
                let wait = r
                    .header("Retry-After")
                    .and_then(|s| s.trim().parse::<u64>().ok());
                last = format!("{url} answered {code}: {}", error_message(r));
                if let Some(w) = wait {
                    std::thread::sleep(Duration::from_secs(w.min(60)));
                }
            }
            Err(ureq::Error::Status(code @ (401 | 403), _)) => {
                return Err(JobError::fatal(format!(
                    "{url} refused the request ({code}): check --api-key"
                )))
            }
            Err(ureq::Error::Status(code, r)) => {
                return Err(JobError::new(format!(
                    "{url} answered {code}: {}",
                    error_message(r)
                )))
            }
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(JobError::fatal(format!(
        "{last} (gave up after {ATTEMPTS} attempts)"
    )))
}

fn parse_answer(v: &Value, raw: bool) -> Option<Answer> {
    let c = v.get("choices")?.get(0)?;
    let text = if raw {
        c.get("text")?
    } else {
        c.pointer("/message/content")?
    };
    let usage = |k: &str| {
        v.pointer(&format!("/usage/{k}"))
            .and_then(|x| x.as_u64())
            .unwrap_or(0) as usize
    };
    Some(Answer {
        text: text.as_str().unwrap_or("").to_string(),
        // a thinking model's reasoning, as llama-server, vLLM and hearth send it
        reasoning: c
            .pointer("/message/reasoning_content")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string(),
        finish: c
            .get("finish_reason")
            .and_then(|f| f.as_str())
            .unwrap_or("stop")
            .to_string(),
        prompt_tokens: usage("prompt_tokens"),
        // OpenAI's usage.prompt_tokens_details.cached_tokens (absent: 0)
        cached_tokens: usage("prompt_tokens_details/cached_tokens"),
        output_tokens: usage("completion_tokens"),
    })
}

impl Backend for Endpoint {
    fn model_label(&self) -> String {
        self.model.clone()
    }
    fn model_key(&self) -> String {
        format!("{}@{}", self.model, self.base)
    }
    fn ctx(&self) -> usize {
        self.ctx
    }
    fn parallel(&self) -> usize {
        self.parallel
    }
    /// Estimated: an OpenAI-compatible server has no tokenize call. About
    /// four characters per token is typical for English; three is used so
    /// the estimate errs towards splitting.
    fn prompt_tokens(&self, job: &Job) -> Result<usize, JobError> {
        Ok(self.text_tokens(&job.user)
            + job.system.as_deref().map_or(0, |s| self.text_tokens(s))
            + 16)
    }
    fn text_tokens(&self, text: &str) -> usize {
        text.chars().count().div_ceil(3)
    }
    fn submit(&self, job: Job, done: Done) {
        let stopped = || JobError::fatal("the request threads have stopped");
        let Ok(tx) = self.tx.lock() else {
            return done(Err(stopped()));
        };
        if let Err(mpsc::SendError((_, done))) = tx.send((job, done)) {
            done(Err(stopped()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thinking_budget_is_sent_only_when_given() {
        let mut job = Job {
            system: None,
            user: "hi".into(),
            raw: false,
            max_tokens: Some(8),
            sampling: SamplingParams::default(),
            stop: vec![],
            thinking_budget: None,
            json: false,
            schema: None,
        };
        let (b, path) = request_body("m", &job);
        assert_eq!(path, "/v1/chat/completions");
        assert!(b.get("thinking_budget").is_none(), "{b}");
        job.thinking_budget = Some(3);
        assert_eq!(request_body("m", &job).0["thinking_budget"], 3);
        job.thinking_budget = Some(usize::MAX);
        assert_eq!(request_body("m", &job).0["thinking_budget"], i64::MAX);
        // plain text completion: no reasoning split, no budget
        job.raw = true;
        let (b, path) = request_body("m", &job);
        assert_eq!(path, "/v1/completions");
        assert!(b.get("thinking_budget").is_none(), "{b}");
    }

    #[test]
    fn endpoint_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:11434/v1/").unwrap(),
            "http://127.0.0.1:11434"
        );
        assert_eq!(base_url("https://x.example").unwrap(), "https://x.example");
        assert!(base_url("127.0.0.1:8080").unwrap_err().contains("http://"));
    }
}

#[cfg(test)]
mod pick_tests {
    use super::pick_model;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_are_matched_as_the_servers_match_them_and_never_guessed() {
        let b = "http://h";
        let one = names(&["smollm2:135m"]);
        assert_eq!(
            pick_model(b, &one, Some("smollm2")).unwrap(),
            "smollm2:135m"
        );
        assert_eq!(
            pick_model(b, &one, Some("SmolLM2")).unwrap(),
            "smollm2:135m"
        );
        assert_eq!(
            pick_model(b, &one, Some("smollm2:135m")).unwrap(),
            "smollm2:135m"
        );
        assert!(pick_model(b, &one, Some("smollm2:q8"))
            .unwrap_err()
            .contains("does not serve"));
        assert_eq!(pick_model(b, &one, None).unwrap(), "smollm2:135m");
        let loose = names(&["mine", "qwen:latest"]);
        assert_eq!(pick_model(b, &loose, Some("mine:latest")).unwrap(), "mine");
        assert_eq!(pick_model(b, &loose, Some("qwen")).unwrap(), "qwen:latest");
        // several: refused, naming them
        let e = pick_model(b, &loose, None).unwrap_err();
        assert!(
            e.contains("several") && e.contains("mine, qwen:latest"),
            "{e}"
        );
        let tags = names(&["smollm2:135m", "smollm2:q8"]);
        let e = pick_model(b, &tags, Some("smollm2")).unwrap_err();
        assert!(e.contains("smollm2:135m, smollm2:q8"), "{e}");
        assert!(pick_model(b, &[], None)
            .unwrap_err()
            .contains("lists no models"));
        // a server that lists nothing to check against gets the name as given
        assert_eq!(pick_model(b, &[], Some("gpt-x")).unwrap(), "gpt-x");
    }
}
