//! The batch loop: keep `parallel` generations in flight, turn each input
//! into one job (or, when too long, pieces and a combining pass), write each
//! record the moment its input is finished.

use crate::backend::{Answer, Backend, Job, JobError};
use crate::input::{Item, Source};
use crate::long::{self, LongMode};
use crate::output::{OutFile, Record};
use crate::progress::Progress;
use crate::report::Report;
use crate::template::Template;
use crate::BatchError;
use engine::SamplingParams;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// `--json` / `--json-schema`.
pub struct JsonSpec {
    pub schema: Option<Value>,
    validator: Option<jsonschema::Validator>,
}

impl JsonSpec {
    pub fn new(schema: Option<Value>) -> Result<JsonSpec, BatchError> {
        let validator = match &schema {
            Some(s) => Some(
                jsonschema::validator_for(s)
                    .map_err(|e| BatchError::Input(format!("the JSON schema is not valid: {e}")))?,
            ),
            None => None,
        };
        Ok(JsonSpec { schema, validator })
    }

    /// The output as JSON, and why it is not valid (if it is not).
    fn check(&self, text: &str) -> (Option<Value>, Option<String>) {
        let Some(fixed) = engine::jsonfix::repair(text) else {
            return (None, Some("the output holds no JSON object".into()));
        };
        let v: Value = match serde_json::from_str(&fixed) {
            Ok(v) => v,
            Err(e) => return (None, Some(format!("the output is not valid JSON: {e}"))),
        };
        if let Some(val) = &self.validator {
            let errs: Vec<String> = val
                .iter_errors(&v)
                .take(5)
                .map(|e| format!("{} (at {})", e, e.instance_path))
                .collect();
            if !errs.is_empty() {
                return (
                    Some(v),
                    Some(format!("does not match the schema: {}", errs.join("; "))),
                );
            }
        }
        (Some(v), None)
    }

    fn hint(&self) -> String {
        match &self.schema {
            Some(s) => {
                format!("Respond only with a JSON object that follows this JSON Schema:\n{s}")
            }
            None => engine::jsonfix::HINT.into(),
        }
    }
}

pub struct Settings {
    pub template: Template,
    /// Template of the combining pass for split inputs (default: `template`).
    pub reduce_template: Option<Template>,
    pub system: Option<String>,
    pub raw: bool,
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    pub stop: Vec<String>,
    /// Most reasoning tokens of a thinking model before it is asked for the
    /// answer (`--thinking-budget`; `None`: no limit).
    pub thinking_budget: Option<usize>,
    pub json: Option<JsonSpec>,
    pub long: LongMode,
    /// JSONL: the field holding the text to split when a record is too long.
    pub content_field: String,
}

/// Each input's key: its content digest with everything that shapes the
/// output (prompt, model, sampling, limits). A rerun redoes an input whose
/// key changed.
/// `v` as JSON text with every object's keys sorted, whatever order the
/// objects were built in: the key of an input must not change with how
/// serde_json keeps maps (insertion order, which the grammar engine needs).
fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

pub fn keys(items: &[Item], s: &Settings, model_key: &str, ctx: usize) -> HashMap<String, String> {
    let p = &s.sampling;
    let mut settings = json!({
        "template": s.template.source(),
        "reduce": s.reduce_template.as_ref().map(|t| t.source()),
        "system": s.system, "raw": s.raw, "max_tokens": s.max_tokens, "stop": s.stop,
        "sampling": [p.temperature, p.top_k as f32, p.top_p, p.min_p, p.repeat_penalty, p.presence_penalty, p.frequency_penalty],
        "penalty_last_n": p.penalty_last_n, "seed": p.seed,
        "json": s.json.as_ref().map(|j| j.schema.clone().unwrap_or(json!(true))),
        "long": s.long.as_str(), "content_field": s.content_field,
        "model": model_key, "ctx": ctx,
    });
    // (only when given: the keys of batches without it stay as they were)
    if let Some(b) = s.thinking_budget {
        settings["thinking_budget"] = json!(b);
    }
    let settings = canonical(&settings);
    items
        .iter()
        .map(|it| {
            let mut h = Sha256::new();
            h.update(it.digest.as_bytes());
            h.update([0]);
            h.update(settings.as_bytes());
            if let Some(k) = it.draft {
                h.update(format!("\0draft {k}").as_bytes());
            }
            let d = h.finalize();
            (
                it.id.clone(),
                d[..16].iter().map(|b| format!("{b:02x}")).collect(),
            )
        })
        .collect()
}

/// One input being processed.
struct Task {
    item: usize,
    started: Instant,
    vars: Value,
    /// Pieces combined so far: 0 while mapping the original text.
    depth: usize,
    /// True when the jobs in hand produce the final output.
    last: bool,
    pending: VecDeque<(usize, Job)>,
    outstanding: usize,
    results: Vec<Option<Answer>>,
    prompt_tokens: usize,
    cached_tokens: usize,
    output_tokens: usize,
    chunks: Option<usize>,
    truncated: bool,
    error: Option<String>,
    /// A job of this input was lost to a fatal backend error: no record (a
    /// rerun retries the input).
    lost: bool,
}

type Msg = (usize, usize, Result<Answer, JobError>);

/// A job's way back. Dropped unanswered (the backend lost the job: its
/// thread died), it answers with a fatal error, so the loop never waits for
/// an answer that cannot come.
struct Reply {
    tx: mpsc::Sender<Msg>,
    task: usize,
    part: usize,
    sent: bool,
}

impl Reply {
    fn send(mut self, res: Result<Answer, JobError>) {
        self.sent = true;
        let _ = self.tx.send((self.task, self.part, res));
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.sent {
            let lost = JobError::fatal(
                "the engine dropped a job without answering (it stopped unexpectedly)",
            );
            let _ = self.tx.send((self.task, self.part, Err(lost)));
        }
    }
}

struct Runner<'a> {
    s: &'a Settings,
    be: &'a dyn Backend,
    items: &'a [Item],
    keys: &'a HashMap<String, String>,
    tx: mpsc::Sender<Msg>,
    tasks: HashMap<usize, Task>,
    order: VecDeque<usize>,
    next_task: usize,
    inflight: usize,
    report: Report,
}

/// Process every input of `items` not in `done` (id → key of records
/// already written with the same key), appending records to `out`.
/// `interrupt` set means: start nothing new, finish what is in flight.
#[allow(clippy::too_many_arguments)]
pub fn run(
    items: &[Item],
    s: &Settings,
    be: &dyn Backend,
    out: &mut OutFile,
    keys: &HashMap<String, String>,
    done: &HashMap<String, String>,
    progress: &mut dyn Progress,
    interrupt: &AtomicBool,
) -> Result<Report, BatchError> {
    let t0 = Instant::now();
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut r = Runner {
        s,
        be,
        items,
        keys,
        tx,
        tasks: HashMap::new(),
        order: VecDeque::new(),
        next_task: 0,
        inflight: 0,
        report: Report {
            documents: items.len(),
            drafts: items.iter().filter_map(|i| i.draft).max().unwrap_or(1),
            ..Report::default()
        },
    };
    let todo: VecDeque<usize> = (0..items.len())
        .filter(|&i| {
            let it = &items[i];
            let already = done
                .get(&it.id)
                .is_some_and(|k| keys.get(&it.id) == Some(k));
            if already {
                r.report.already_done += 1;
            }
            !already
        })
        .collect();
    let mut todo = todo;
    progress.start(todo.len());
    let mut stopping: Option<String> = None;
    loop {
        if stopping.is_none() && interrupt.load(Ordering::Relaxed) {
            stopping = Some(
                "interrupted; records in flight were finished, rerun the same command to go on"
                    .into(),
            );
            progress.note("hearth batch: interrupted: finishing the documents in flight (Ctrl-C again to quit now)");
        }
        // Fill the free slots: pieces of inputs in hand first, then new inputs.
        while stopping.is_none() && r.inflight < be.parallel() {
            if let Some(job) = r.next_pending() {
                r.submit(job);
                continue;
            }
            let Some(i) = todo.pop_front() else { break };
            if let Some(rec) = r.start(i) {
                write(out, progress, &mut r.report, &rec)?;
            }
        }
        if r.inflight == 0 {
            break;
        }
        let Ok((task_id, part, res)) = rx.recv() else {
            break;
        };
        r.inflight -= 1;
        if let Err(e) = &res {
            if e.fatal && stopping.is_none() {
                stopping = Some(e.message.clone());
                progress.note(&format!("hearth batch: stopping: {}", e.message));
            }
        }
        if let Some(rec) = r.finish_job(task_id, part, res, stopping.is_some()) {
            write(out, progress, &mut r.report, &rec)?;
        }
    }
    progress.finish();
    let mut report = r.report;
    report.stopped = stopping;
    report.wall_seconds = t0.elapsed().as_secs_f64();
    report.output_tokens_per_second = report.output_tokens as f64 / report.wall_seconds.max(1e-9);
    Ok(report)
}

fn write(
    out: &mut OutFile,
    progress: &mut dyn Progress,
    report: &mut Report,
    rec: &Record,
) -> Result<(), BatchError> {
    out.append(rec)?;
    if rec.failed() {
        report.failed += 1;
    } else {
        report.done += 1;
    }
    if rec.chunks.is_some() {
        report.split += 1;
    }
    if rec.truncated {
        report.truncated += 1;
    }
    if rec.json_valid == Some(false) {
        report.json_invalid += 1;
    }
    report.prompt_tokens += rec.prompt_tokens;
    report.cached_tokens += rec.cached_tokens;
    report.output_tokens += rec.output_tokens;
    progress.record(rec);
    Ok(())
}

impl Runner<'_> {
    fn next_pending(&mut self) -> Option<(usize, usize, Job)> {
        for &t in &self.order {
            if let Some(task) = self.tasks.get_mut(&t) {
                if let Some((part, job)) = task.pending.pop_front() {
                    task.outstanding += 1;
                    return Some((t, part, job));
                }
            }
        }
        None
    }

    fn submit(&mut self, (task, part, job): (usize, usize, Job)) {
        let reply = Reply {
            tx: self.tx.clone(),
            task,
            part,
            sent: false,
        };
        self.inflight += 1;
        self.be.submit(job, Box::new(move |res| reply.send(res)));
    }

    fn record(&self, item: usize) -> Record {
        let it = &self.items[item];
        Record {
            id: it.id.clone(),
            model: self.be.model_label(),
            key: self.keys.get(&it.id).cloned().unwrap_or_default(),
            ..Record::default()
        }
    }

    /// The record of a task that failed part-way, with the tokens it used.
    fn failed_task(&self, task: &Task, error: String) -> Record {
        Record {
            prompt_tokens: task.prompt_tokens,
            cached_tokens: task.cached_tokens,
            output_tokens: task.output_tokens,
            ..self.failed(task.item, error, task.started)
        }
    }

    fn failed(&self, item: usize, error: String, started: Instant) -> Record {
        Record {
            finish_reason: "error".into(),
            error: Some(error),
            seconds: started.elapsed().as_secs_f64(),
            ..self.record(item)
        }
    }

    /// The job of input `item` for template `t` (its seed: the draft's).
    fn job(&self, item: usize, t: &Template, vars: &Value, what: &str) -> Result<Job, String> {
        let user = t.render(vars, what)?;
        let mut system = self.s.system.clone();
        if let Some(j) = &self.s.json {
            system = Some(match system {
                Some(sys) => format!("{sys}\n\n{}", j.hint()),
                None => j.hint(),
            });
        }
        Ok(Job {
            system,
            user,
            raw: self.s.raw,
            max_tokens: self.s.max_tokens,
            sampling: engine::SamplingParams {
                seed: self.s.sampling.seed.wrapping_add(
                    self.items[item]
                        .draft
                        .map_or(0, |k| u64::from(k).saturating_sub(1)),
                ),
                ..self.s.sampling.clone()
            },
            stop: self.s.stop.clone(),
            thinking_budget: self.s.thinking_budget,
            json: self.s.json.is_some(),
            schema: self.s.json.as_ref().and_then(|j| j.schema.clone()),
        })
    }

    /// Tokens kept free for the answer.
    fn reserve(&self) -> usize {
        let ctx = self.be.ctx();
        self.s.max_tokens.unwrap_or(256).min(ctx / 2)
    }

    fn content_key(&self, item: usize) -> &str {
        match self.items[item].source {
            Source::File { .. } => "content",
            _ => &self.s.content_field,
        }
    }

    /// Begin input `item`: a record at once when it cannot be processed.
    fn start(&mut self, item: usize) -> Option<Record> {
        let started = Instant::now();
        let it = &self.items[item];
        let what = format!("input '{}'", it.id);
        let mut vars = match &it.source {
            Source::File { path, .. } => match extract::extract(path) {
                Ok(text) => json!({
                    "content": text,
                    "filename": path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
                    "path": path.to_string_lossy(),
                    "id": it.id,
                }),
                Err(e) => {
                    return Some(self.failed(item, format!("cannot get the text: {e}"), started))
                }
            },
            Source::Record { fields, .. } => {
                let mut m = fields.clone();
                m.entry("id").or_insert(json!(it.id));
                Value::Object(m)
            }
            Source::BadRecord { error, .. } => {
                return Some(self.failed(item, error.clone(), started))
            }
        };
        if let (Some(k), Value::Object(m)) = (it.draft, &mut vars) {
            m.entry("draft").or_insert(json!(k));
        }
        let job = match self.job(item, &self.s.template, &vars, &what) {
            Ok(j) => j,
            Err(e) => return Some(self.failed(item, e, started)),
        };
        let ptoks = match self.be.prompt_tokens(&job) {
            Ok(n) => n,
            Err(e) => return Some(self.failed(item, e.message, started)),
        };
        let ctx = self.be.ctx();
        let reserve = self.reserve();
        let mut task = Task {
            item,
            started,
            vars,
            depth: 0,
            last: true,
            pending: VecDeque::new(),
            outstanding: 0,
            results: vec![None],
            prompt_tokens: 0,
            cached_tokens: 0,
            output_tokens: 0,
            chunks: None,
            truncated: false,
            error: None,
            lost: false,
        };
        if ptoks + reserve <= ctx {
            task.pending.push_back((0, job));
        } else {
            let key = self.content_key(item).to_string();
            let too_long = format!("the prompt is {ptoks} tokens; with {reserve} kept for the answer the context of {ctx} holds {}", ctx - reserve);
            if self.s.long == LongMode::Skip {
                return Some(self.failed(item, format!("{too_long}: skipped (--long skip); use --long split or truncate, or a larger --ctx-size"), started));
            }
            let Some(content) = task
                .vars
                .get(&key)
                .and_then(|c| c.as_str())
                .map(String::from)
            else {
                return Some(self.failed(item, format!("{too_long}, and the record has no text field '{key}' to split; name it with --content-field"), started));
            };
            if let Err(e) = self.plan_long(&mut task, &self.s.template, &key, &content) {
                return Some(self.failed(item, e, started));
            }
        }
        let id = self.next_task;
        self.next_task += 1;
        self.tasks.insert(id, task);
        self.order.push_back(id);
        None
    }

    /// Queue the jobs for `content` that does not fit: pieces (split) or its
    /// beginning (truncate).
    fn plan_long(
        &self,
        task: &mut Task,
        t: &Template,
        key: &str,
        content: &str,
    ) -> Result<(), String> {
        let what = format!("input '{}'", self.items[task.item].id);
        let mut empty = task.vars.clone();
        empty[key] = json!("");
        let overhead = self
            .be
            .prompt_tokens(&self.job(task.item, t, &empty, &what)?)
            .map_err(|e| e.message)?;
        let ctx = self.be.ctx();
        let budget = ctx.saturating_sub(self.reserve() + overhead);
        if budget < 32 {
            return Err(format!(
                "the template ({overhead} tokens) and the {} tokens kept for the answer leave no room for text in the context of {ctx}; use a larger --ctx-size or a smaller --max-tokens",
                self.reserve()
            ));
        }
        let count = |s: &str| self.be.text_tokens(s);
        let mode = if task.depth >= 3 {
            LongMode::Truncate
        } else {
            self.s.long
        };
        let pieces = match mode {
            LongMode::Truncate => {
                task.truncated = true;
                vec![long::truncate(content, budget, &count)]
            }
            _ => long::split(content, budget, &count),
        };
        let pieces = if pieces.is_empty() {
            vec![String::new()]
        } else {
            pieces
        };
        task.last = pieces.len() == 1;
        if pieces.len() > 1 && task.depth == 0 {
            task.chunks = Some(pieces.len());
        }
        let n = pieces.len();
        task.results = vec![None; n];
        for (i, p) in pieces.into_iter().enumerate() {
            let mut v = task.vars.clone();
            v[key] = json!(p);
            if n > 1 {
                v["chunk"] = json!(i + 1);
                v["chunks"] = json!(n);
            }
            task.pending
                .push_back((i, self.job(task.item, t, &v, &what)?));
        }
        Ok(())
    }

    /// A job ended: the input's record when the input is finished.
    fn finish_job(
        &mut self,
        task_id: usize,
        part: usize,
        res: Result<Answer, JobError>,
        stopping: bool,
    ) -> Option<Record> {
        let mut task = self.tasks.remove(&task_id)?;
        task.outstanding -= 1;
        match res {
            Ok(a) => {
                task.prompt_tokens += a.prompt_tokens;
                task.cached_tokens += a.cached_tokens;
                task.output_tokens += a.output_tokens;
                task.results[part] = Some(a);
            }
            Err(e) if e.fatal => {
                // Not this input's fault: no record, a rerun retries it.
                task.lost = true;
                task.pending.clear();
                if task.outstanding > 0 {
                    self.tasks.insert(task_id, task);
                } else {
                    self.order.retain(|&t| t != task_id);
                }
                return None;
            }
            Err(e) => {
                task.error = Some(e.message);
                task.pending.clear();
            }
        }
        if task.outstanding > 0 || !task.pending.is_empty() {
            if stopping {
                task.pending.clear();
            }
            if task.outstanding > 0 || !task.pending.is_empty() {
                self.tasks.insert(task_id, task);
                return None;
            }
        }
        self.order.retain(|&t| t != task_id);
        if task.lost {
            return None;
        }
        if let Some(e) = task.error.take() {
            return Some(self.failed_task(&task, e));
        }
        if task.results.iter().any(|r| r.is_none()) {
            // Stopped before every piece ran: a rerun does it whole.
            return None;
        }
        if task.last {
            return Some(self.complete(task));
        }
        // Combine the pieces' outputs in a further pass.
        if stopping {
            return None;
        }
        let n = task.results.len();
        let combined: String = task
            .results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "[Part {} of {n}]\n{}\n\n",
                    i + 1,
                    r.as_ref().map_or("", |a| a.text.trim())
                )
            })
            .collect();
        let key = self.content_key(task.item).to_string();
        task.depth += 1;
        let t = self.s.reduce_template.as_ref().unwrap_or(&self.s.template);
        let what = format!("input '{}'", self.items[task.item].id);
        let mut v = task.vars.clone();
        v[key.as_str()] = json!(combined);
        let planned = self.job(task.item, t, &v, &what).and_then(|job| {
            let ptoks = self.be.prompt_tokens(&job).map_err(|e| e.message)?;
            if ptoks + self.reserve() <= self.be.ctx() {
                task.results = vec![None];
                task.last = true;
                task.pending.push_back((0, job));
                Ok(())
            } else {
                self.plan_long(&mut task, t, &key, &combined)
            }
        });
        if let Err(e) = planned {
            return Some(self.failed_task(&task, e));
        }
        self.tasks.insert(task_id, task);
        self.order.push_back(task_id);
        None
    }

    fn complete(&self, task: Task) -> Record {
        let a = task
            .results
            .into_iter()
            .next()
            .flatten()
            .unwrap_or_default();
        let mut rec = Record {
            output: a.text.trim().to_string(),
            reasoning: Some(a.reasoning.trim().to_string()).filter(|r| !r.is_empty()),
            finish_reason: a.finish,
            prompt_tokens: task.prompt_tokens,
            cached_tokens: task.cached_tokens,
            output_tokens: task.output_tokens,
            seconds: task.started.elapsed().as_secs_f64(),
            chunks: task.chunks,
            truncated: task.truncated,
            ..self.record(task.item)
        };
        if let Some(j) = &self.s.json {
            let (v, err) = j.check(&rec.output);
            if let Some(v) = &v {
                rec.output = v.to_string();
            }
            rec.json = v;
            rec.json_valid = Some(err.is_none());
            rec.json_error = err;
        }
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Done;
    use crate::output::Format;
    use crate::progress::Quiet;

    /// Fault injection: a backend whose engine loses every job (as a dead
    /// thread would) — the batch must stop with a reason, not hang.
    struct Losing;
    impl Backend for Losing {
        fn model_label(&self) -> String {
            "lost".into()
        }
        fn model_key(&self) -> String {
            "lost".into()
        }
        fn ctx(&self) -> usize {
            512
        }
        fn parallel(&self) -> usize {
            2
        }
        fn prompt_tokens(&self, job: &Job) -> Result<usize, JobError> {
            Ok(job.user.len() / 4)
        }
        fn text_tokens(&self, text: &str) -> usize {
            text.len() / 4
        }
        fn submit(&self, _job: Job, done: Done) {
            std::thread::spawn(move || drop(done));
        }
    }

    #[test]
    fn a_backend_that_loses_jobs_stops_the_batch_without_records() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("in.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"a\",\"x\":1}\n{\"id\":\"b\",\"x\":2}\n{\"id\":\"c\",\"x\":3}\n",
        )
        .unwrap();
        let inputs = crate::input::discover(&[p], &[]).unwrap();
        let s = Settings {
            template: Template::new("x is {{x}}").unwrap(),
            reduce_template: None,
            system: None,
            raw: false,
            max_tokens: Some(8),
            sampling: SamplingParams::default(),
            stop: vec![],
            thinking_budget: None,
            json: None,
            long: LongMode::Split,
            content_field: "content".into(),
        };
        let keys = keys(&inputs.items, &s, "lost", 512);
        let out_path = d.path().join("out.jsonl");
        let (mut out, resume) = OutFile::open(&out_path, Format::Jsonl, &keys).unwrap();
        let r = run(
            &inputs.items,
            &s,
            &Losing,
            &mut out,
            &keys,
            &resume.done,
            &mut Quiet,
            &AtomicBool::new(false),
        )
        .unwrap();
        assert!(
            r.stopped
                .as_deref()
                .is_some_and(|w| w.contains("dropped a job")),
            "{r:?}"
        );
        assert_eq!(r.done + r.failed, 0);
        assert_eq!(std::fs::read_to_string(&out_path).unwrap(), "");
    }
}
