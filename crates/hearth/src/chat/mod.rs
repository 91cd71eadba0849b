//! `hearth chat`: a conversation in the terminal. The KV cache is kept
//! between turns (only new tokens are processed), Ctrl-C stops an answer,
//! slash commands change settings, models and saved conversations. When
//! standard input or output is not a terminal it runs as a plain filter:
//! one message per line (or `"""` block), answers only, no colours.

mod commands;
mod input;
pub(crate) mod loader;
mod saved;
mod spinner;

use crate::cli::{ChatArgs, RunArgs};
use crate::exit::UsageError;
use crate::style::Style;
use commands::{Cmd, Settings};
use engine::{
    CachedStats, EngineError, GenerateRequest, LoadedModel, Message, Prompt, SamplingParams,
    Session, ThreadPool,
};
use input::{Input, Read};
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set while an answer is being generated (Ctrl-C then cancels it).
static GENERATING: AtomicBool = AtomicBool::new(false);
/// Set by Ctrl-C during an answer.
static CANCEL: AtomicBool = AtomicBool::new(false);

/// `hearth run MODEL` with no prompt on a terminal: a chat with run's settings.
/// (Only the flags given count: the chat reads config.toml and the model's
/// own settings itself.)
pub fn args_from_run(a: &RunArgs) -> ChatArgs {
    let given = |id: &str| a.given.contains(&id);
    ChatArgs {
        model: a.model.clone(),
        system: a.system.clone().filter(|_| given("system")),
        max_tokens: given("max_tokens").then_some(a.max_tokens),
        temperature: given("temperature").then_some(a.temperature),
        top_k: given("top_k").then_some(a.top_k),
        top_p: given("top_p").then_some(a.top_p),
        min_p: given("min_p").then_some(a.min_p),
        repeat_penalty: given("repeat_penalty").then_some(a.repeat_penalty),
        seed: a.seed.filter(|_| given("seed")),
        ctx_size: a.ctx_size.filter(|_| given("ctx_size")),
        threads: a.threads,
        verbose: a.verbose,
        weights: a.weights,
        spec: a.spec.clone(),
        hide_thinking: a.hide_thinking,
        thinking_budget: a.thinking_budget,
        loop_stop: Some(a.loop_stop),
    }
}

struct Chat {
    lm: LoadedModel,
    model_name: String,
    pool: ThreadPool,
    threads: usize,
    sess: Session,
    ctx_req: Option<usize>,
    /// Keep model files mapped (`--mmap`), for `/model` too.
    mapped: bool,
    system: Option<String>,
    /// The conversation, without the system message.
    messages: Vec<Message>,
    /// The model's own turns before the conversation (a Modelfile's MESSAGE).
    preset: Vec<Message>,
    /// The model's own stop texts (a Modelfile's PARAMETER stop).
    stop: Vec<String>,
    settings: Settings,
    last: Option<CachedStats>,
    style: Style,
    interactive: bool,
    verbose: bool,
    hide_thinking: bool,
    /// `--thinking-budget`: most reasoning tokens per answer.
    thinking_budget: Option<usize>,
    /// Commands and messages that failed (a piped chat then exits with 4).
    failures: std::cell::Cell<usize>,
    /// Speculative decoding asked for (`--spec`, `--draft`).
    spec: engine::Speculation,
    /// The `--draft` model, attached again to each model `/model` loads when
    /// their vocabularies match.
    draft: Option<std::sync::Arc<engine::DraftModel>>,
    /// `--loop-stop`: characters of an answer that may repeat one passage.
    loop_stop: usize,
}

/// Why the chat ends.
enum Leave {
    Bye,
    /// Standard output is gone (closed terminal, closed pipe).
    OutputGone,
}

pub fn run(a: ChatArgs) -> anyhow::Result<()> {
    let cfg = crate::config::load()?;
    let Some(model_name) = a.model.clone().or(cfg.model.clone()) else {
        return Err(UsageError(format!(
            "no model given: name one (hearth chat MODEL) or set `model` in {}",
            crate::paths::config_file().display()
        ))
        .into());
    };
    // flags, then the model's own settings (a created model's), then config.toml
    let (path, md) = loader::find(&model_name)?;
    let mp = &md.parameters;
    let mut sampling = server::defaults::sampling_of(mp, SamplingParams::default());
    macro_rules! pick {
        ($f:ident) => {
            if let Some(v) = a.$f.or(mp.$f).or(cfg.$f) {
                sampling.$f = v;
            }
        };
    }
    pick!(temperature);
    pick!(top_k);
    pick!(top_p);
    pick!(min_p);
    pick!(repeat_penalty);
    sampling.seed = a
        .seed
        .or(mp.seed)
        .or(cfg.seed)
        .unwrap_or_else(seed_from_time);
    sampling
        .validate()
        .map_err(|e| EngineError::Sampling(e.to_string()))?;
    let max_tokens = match a.max_tokens.or(mp.num_predict).or(cfg.max_tokens) {
        None | Some(-1) => None,
        Some(n) if n >= 1 => Some(n as usize),
        Some(n) => {
            return Err(UsageError(format!(
                "--max-tokens must be -1 (no limit) or at least 1, not {n}"
            ))
            .into())
        }
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let style = Style {
        color: interactive && crate::style::color_enabled(),
    };
    let threads = a
        .threads
        .or(cfg.threads)
        .unwrap_or_else(engine::default_threads)
        .max(1);
    let ctx_req = a.ctx_size.or(mp.num_ctx).or(cfg.ctx_size);
    if ctx_req == Some(0) {
        return Err(UsageError("--ctx-size must be at least 1".into()).into());
    }
    let loaded = loader::load(&path, &md, ctx_req, a.weights.mmap)?;
    let mut lm = loaded.model;
    let draft = crate::cmd::attach_draft(
        &mut lm,
        a.spec.draft.as_deref(),
        loaded.n_ctx,
        1,
        a.weights.mmap,
    )?;
    crate::cmd::spec_panels(&lm, &a.spec.speculation(), threads)?;
    let sess = lm.session(loaded.n_ctx)?;
    let mut chat = Chat {
        lm,
        model_name,
        pool: ThreadPool::new(threads),
        threads,
        sess,
        ctx_req,
        mapped: a.weights.mmap,
        system: a
            .system
            .clone()
            .or(md.system.clone())
            .or(cfg.system.clone())
            .filter(|s| !s.trim().is_empty()),
        messages: Vec::new(),
        preset: preset_of(&md),
        stop: md.parameters.stop.clone(),
        settings: Settings {
            sampling,
            max_tokens,
        },
        last: None,
        style,
        interactive,
        verbose: a.verbose,
        hide_thinking: a.hide_thinking,
        thinking_budget: a.thinking_budget,
        failures: std::cell::Cell::new(0),
        spec: a.spec.speculation(),
        draft,
        loop_stop: a
            .loop_stop
            .unwrap_or(engine::RepeatDetector::DEFAULT_WINDOW),
    };
    chat.note_template();
    // Ctrl-C: during an answer, stop it; otherwise leave like a shell program.
    let _ = ctrlc::set_handler(|| {
        if GENERATING.load(Ordering::SeqCst) {
            CANCEL.store(true, Ordering::SeqCst);
        } else {
            std::process::exit(130);
        }
    });
    let mut input = if interactive {
        Input::tty()?
    } else {
        Input::plain()
    };
    if interactive {
        println!(
            "{}",
            style.dim(&format!(
                "hearth {} · {} · context {} tokens\nType a message, /help for commands, \"\"\" for several lines; Ctrl-C stops an answer, Ctrl-D or /bye leaves.",
                env!("CARGO_PKG_VERSION"),
                chat.model_name,
                chat.sess.n_ctx()
            ))
        );
    }
    let prompt = if interactive { ">>> " } else { "" };
    let more = if interactive { "... " } else { "" };
    loop {
        let line = match input::read_message(&mut input, prompt, more)? {
            Some(Read::Line(l)) => l,
            Some(Read::Interrupted) => {
                chat.info("(Ctrl-D or /bye to leave)");
                continue;
            }
            Some(Read::Eof) | None => break,
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = if line.starts_with('/') {
            match commands::parse(&line) {
                Ok(cmd) => chat.command(cmd),
                Err(msg) => {
                    chat.error(&msg);
                    Ok(None)
                }
            }
        } else {
            chat.turn(line)
        };
        match result? {
            Some(Leave::Bye) => break,
            Some(Leave::OutputGone) => return Ok(()),
            None => {}
        }
    }
    let n = chat.failures.get();
    if !interactive && n > 0 {
        return Err(crate::exit::InputError(format!(
            "{n} of the piped commands or messages failed (see above)"
        ))
        .into());
    }
    Ok(())
}

impl Chat {
    /// One line when the file has no chat template of its own (a base
    /// model, often): hearth's built-in one for the family is a guess.
    fn note_template(&self) {
        match &self.lm.template {
            Ok(t) if t.is_builtin() => eprintln!(
                "hearth: note: {} has no chat template in its file; using hearth's {} one (a base model may not answer as a chat: `hearth run --raw` continues text instead)",
                self.model_name,
                t.name()
            ),
            _ => {}
        }
    }

    fn info(&self, s: &str) {
        if self.interactive {
            println!("{}", self.style.dim(s));
        } else {
            eprintln!("{s}");
        }
    }

    fn error(&self, s: &str) {
        self.failures.set(self.failures.get() + 1);
        if self.interactive {
            println!("{}", self.style.error(s));
        } else {
            eprintln!("hearth: {s}");
        }
    }

    fn conversation(&self) -> Vec<Message> {
        let mut v = Vec::with_capacity(self.messages.len() + 1);
        if let Some(s) = &self.system {
            v.push(Message::system(s.clone()));
        }
        v.extend(self.preset.iter().cloned());
        v.extend(self.messages.iter().cloned());
        v
    }

    fn context_full_hint(&self) -> String {
        format!(
            "Type /clear to start a new conversation (/save NAME first to keep this one), or restart with a larger --ctx-size (at most {} for this model).",
            self.lm.model.config.n_ctx_train
        )
    }

    /// One user message and the streamed answer.
    fn turn(&mut self, text: String) -> anyhow::Result<Option<Leave>> {
        let mut conv = self.conversation();
        conv.push(Message::user(text.clone()));
        let prompt = Prompt::Chat(conv);
        let n_prompt = match self.lm.prompt_tokens(&prompt) {
            Ok(ids) => ids.len(),
            Err(e) => {
                self.error(&e.to_string());
                return Ok(None);
            }
        };
        let n_ctx = self.sess.n_ctx();
        if n_prompt >= n_ctx {
            self.error(&format!(
                "The context is full: the conversation with this message takes {n_prompt} tokens and the context holds {n_ctx}. Nothing was sent. {}",
                self.context_full_hint()
            ));
            return Ok(None);
        }
        let req = GenerateRequest {
            prompt,
            max_tokens: self.settings.max_tokens,
            sampling: self.settings.sampling.clone(),
            stop: self.stop.clone(),
            spec: self.spec.clone(),
            reasoning: self.lm.reasoning_format().map(|format| engine::Reasoning {
                format,
                budget: self.thinking_budget,
            }),
            ..Default::default()
        };
        let (style, hide) = (self.style, self.hide_thinking);
        let mut thought = false;
        let mut answer = String::new();
        let mut write_err = None;
        let mut looping = engine::RepeatDetector::new(self.loop_stop);
        CANCEL.store(false, Ordering::SeqCst);
        GENERATING.store(true, Ordering::SeqCst);
        let result = {
            let mut spin = spinner::Spinner::start(self.interactive);
            let mut out = std::io::stdout().lock();
            let r = self
                .lm
                .generate_split(&self.pool, &mut self.sess, &req, &CANCEL, |p| {
                    spin.stop();
                    // a thinking model's reasoning, dimmed, before the answer;
                    // the conversation keeps the answer only
                    let mut shown = String::new();
                    if !p.reasoning.is_empty() && !hide {
                        shown.push_str(&style.dim(p.reasoning));
                        thought = true;
                    }
                    if !p.text.is_empty() {
                        if std::mem::take(&mut thought) {
                            shown.push_str("\n\n");
                        }
                        shown.push_str(p.text);
                    }
                    answer.push_str(p.text);
                    match out.write_all(shown.as_bytes()).and_then(|_| out.flush()) {
                        Ok(()) if looping.feed(p.text) => ControlFlow::Break(()),
                        Ok(()) => ControlFlow::Continue(()),
                        Err(e) => {
                            write_err = Some(e);
                            ControlFlow::Break(())
                        }
                    }
                });
            spin.stop();
            r
        };
        GENERATING.store(false, Ordering::SeqCst);
        if write_err.is_some() {
            return Ok(Some(Leave::OutputGone));
        }
        let st = match result {
            Ok(s) => s,
            Err(e) => {
                self.error(&e.to_string());
                return Ok(None);
            }
        };
        let cancelled = st.stats.finish == engine::FinishReason::Cancelled;
        if println_ok().is_err() {
            return Ok(Some(Leave::OutputGone));
        }
        // What was shown is what the conversation holds: never drop text.
        if !(cancelled && answer.is_empty()) {
            self.messages.push(Message::user(text));
            self.messages.push(Message::assistant(answer));
        }
        if let Some(p) = looping.period() {
            self.info(&format!(
                "(stopped: the answer kept repeating the same {p}-character passage; --loop-stop 0 lets it run)"
            ));
        } else if cancelled {
            self.info("(stopped)");
        }
        if st.stats.context_full {
            self.error(&format!(
                "The context is full ({n_ctx} tokens): the answer was cut off here. {}",
                self.context_full_hint()
            ));
        }
        if self.verbose {
            self.info(&stats_line(&st));
        }
        self.last = Some(st);
        if self.interactive {
            println!();
        }
        Ok(None)
    }

    fn command(&mut self, cmd: Cmd) -> anyhow::Result<Option<Leave>> {
        match cmd {
            Cmd::Help => self.info(&commands::help_text()),
            Cmd::Bye => return Ok(Some(Leave::Bye)),
            Cmd::SetList => self.info(&commands::dials_text(&self.settings)),
            Cmd::Set(k, v) if k == "system" => {
                if v.trim().is_empty() {
                    self.system = None;
                    self.info("System message removed.");
                } else {
                    self.system = Some(v);
                    self.info("System message set.");
                }
            }
            Cmd::Set(k, v) => match commands::set_dial(&self.settings, &k, &v) {
                Ok((s, dial)) => {
                    self.settings = s;
                    self.info(&format!(
                        "Set {dial} to {}.",
                        commands::dial_value(&self.settings, dial)
                    ));
                }
                Err(e) => self.error(&e),
            },
            Cmd::Show => self.show(),
            Cmd::Stats => match &self.last {
                Some(st) => self.info(&stats_line(st)),
                None => self.info("No answer yet."),
            },
            Cmd::Clear => {
                self.messages.clear();
                self.sess.clear();
                self.info("Cleared the conversation (the system message and settings stay).");
            }
            Cmd::Model(name) => {
                self.info(&format!("Loading {name}..."));
                match loader::find(&name)
                    .and_then(|(path, md)| {
                        Ok((loader::load(&path, &md, self.ctx_req, self.mapped)?, md))
                    })
                    .map_err(|e| e.to_string())
                    .and_then(|(l, md)| {
                        let s = l.model.session(l.n_ctx).map_err(|e| e.to_string())?;
                        Ok((l.model, md, s))
                    }) {
                    Ok((mut lm, md, sess)) => {
                        if let Some(d) = &self.draft {
                            if let Err(e) = lm.set_draft(d.clone()) {
                                self.info(&format!("{e}; no draft model for {name}."));
                            }
                        }
                        if let Err(e) = crate::cmd::spec_panels(&lm, &self.spec, self.threads) {
                            self.info(&format!("{e}"));
                        }
                        self.lm = lm;
                        self.sess = sess;
                        // the new model's own turns and stop texts (the
                        // system message and dials stay the chat's)
                        self.preset = preset_of(&md);
                        self.stop = md.parameters.stop.clone();
                        self.model_name = name;
                        self.info(&format!(
                            "Now talking with {} (context {} tokens); the conversation goes on.",
                            self.model_name,
                            self.sess.n_ctx()
                        ));
                        self.note_template();
                    }
                    Err(e) => self.error(&format!("{e}; still using {}", self.model_name)),
                }
            }
            Cmd::Save(name) => {
                let conv =
                    saved::Saved::new(&self.model_name, self.system.as_deref(), &self.messages);
                match saved::save(&crate::paths::conversations_dir(), &name, &conv) {
                    Ok(p) => self.info(&format!(
                        "Saved {} messages to {}.",
                        self.messages.len(),
                        p.display()
                    )),
                    Err(e) => self.error(&e),
                }
            }
            Cmd::Load(name) if name.is_empty() => {
                let names = saved::list(&crate::paths::conversations_dir());
                if names.is_empty() {
                    self.info("No saved conversations yet (/save NAME).");
                } else {
                    self.info(&format!("Saved conversations: {}", names.join(", ")));
                }
            }
            Cmd::Load(name) => match saved::load(&crate::paths::conversations_dir(), &name) {
                Ok(c) => {
                    let mut msgs = c.messages();
                    let mut system = c.system.clone();
                    if msgs.first().is_some_and(|m| m.role == "system") {
                        system = Some(msgs.remove(0).content);
                    }
                    self.messages = msgs;
                    self.system = system;
                    self.info(&format!(
                        "Loaded '{name}': {} messages.",
                        self.messages.len()
                    ));
                    let used = self.lm.count_chat_tokens(&self.conversation()).unwrap_or(0);
                    if used >= self.sess.n_ctx() {
                        self.error(&format!(
                            "This conversation takes {used} tokens, more than the context of {}; the next message will not fit. {}",
                            self.sess.n_ctx(),
                            self.context_full_hint()
                        ));
                    }
                }
                Err(e) => self.error(&e),
            },
        }
        Ok(None)
    }

    fn show(&self) {
        let c = &self.lm.model.config;
        let conv = self.conversation();
        let used = if conv.is_empty() {
            0
        } else {
            self.lm.count_chat_tokens(&conv).unwrap_or(0)
        };
        let p = &self.settings.sampling;
        let mut s = String::new();
        s.push_str(&format!(
            "model       {} ({})\n",
            self.model_name,
            self.lm.path.display()
        ));
        s.push_str(&format!(
            "            {} · {} layers · {} trained context · template {}\n",
            c.arch.name(),
            c.n_layer,
            c.n_ctx_train,
            self.lm
                .template
                .as_ref()
                .map(|t| t.name().to_string())
                .unwrap_or_else(|_| "none".into())
        ));
        let n_ctx = self.sess.n_ctx();
        if used > n_ctx {
            // an answer cut off at a full context is kept whole, with the
            // template's end of turn it no longer fits
            s.push_str(&format!(
                "context     full: the conversation is {used} tokens, more than the {n_ctx} the context holds ({} in the KV cache) · {} messages; /clear starts anew\n",
                self.sess.n_past(),
                self.messages.len()
            ));
        } else {
            s.push_str(&format!(
                "context     {used} of {n_ctx} tokens used ({} in the KV cache) · {} messages\n",
                self.sess.n_past(),
                self.messages.len()
            ));
        }
        s.push_str(&format!(
            "system      {}\n",
            self.system.as_deref().unwrap_or("(none)")
        ));
        s.push_str(&format!(
            "sampling    temperature {} · top_k {} · top_p {} · min_p {} · repeat_penalty {} · presence_penalty {} · frequency_penalty {} · penalty_last_n {} · seed {}\n",
            p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.presence_penalty, p.frequency_penalty, p.penalty_last_n, p.seed
        ));
        s.push_str(&format!(
            "max_tokens  {} · threads {}",
            self.settings
                .max_tokens
                .map_or("-1 (no limit)".to_string(), |n| n.to_string()),
            self.threads
        ));
        if self.spec.is_on() {
            s.push_str(&format!(
                "\nspeculative prompt lookup {} · draft model {} · at most {} drafted tokens per step",
                if self.spec.lookup { "on" } else { "off" },
                match (&self.lm.draft, &self.draft) {
                    (Some(d), _) => d.lm.path.display().to_string(),
                    (None, Some(_)) => "none (its vocabulary is not this model's)".into(),
                    (None, None) => "none".into(),
                },
                self.spec.n_max
            ));
        }
        self.info(&s);
    }
}

/// A Modelfile's MESSAGE turns as the chat's messages.
fn preset_of(d: &store::modelfile::ModelDefaults) -> Vec<Message> {
    d.messages
        .iter()
        .map(|m| Message::new(m.role.clone(), m.content.clone()))
        .collect()
}

fn println_ok() -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(b"\n")?;
    out.flush()
}

fn stats_line(st: &CachedStats) -> String {
    let s = &st.stats;
    let new = s.prompt_tokens - st.reused_tokens;
    format!(
        "prompt {} tokens ({} reused from the cache, {} processed at {:.1} tok/s) · answer {} tokens at {:.1} tok/s · finish: {}",
        s.prompt_tokens,
        st.reused_tokens,
        new,
        new as f64 / s.prompt_seconds.max(1e-9),
        s.output_tokens,
        s.output_tokens as f64 / s.gen_seconds.max(1e-9),
        s.finish.as_str()
    ) + &if s.spec.drafted > 0 {
        format!(" · {}", crate::cmd::spec_summary(&s.spec))
    } else {
        String::new()
    }
}

fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}
