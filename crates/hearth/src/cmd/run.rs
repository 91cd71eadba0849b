//! `hearth run`: generate from a prompt, streaming text to standard output.

use crate::cli::RunArgs;
use crate::exit::{InputError, UsageError};
use engine::{
    GenerateRequest, LoadOptions, LoadedModel, Message, Prompt, SamplingParams, ThreadPool,
};
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;

pub fn run(mut a: RunArgs) -> anyhow::Result<()> {
    let default = crate::config::load()?
        .model
        .unwrap_or_else(|| store::DEFAULT_MODEL.into());
    let model = super::pull::split_model_prompt(a.model.take(), &mut a.prompt, &default);
    a.model = Some(model.clone());
    let constrained = a.json_schema.is_some() || a.grammar_file.is_some() || a.regex.is_some();
    if a.prompt.is_none() && !a.raw && !a.json && !constrained && std::io::stdin().is_terminal() {
        return crate::chat::run(crate::chat::args_from_run(&a));
    }
    if a.max_tokens < -1 {
        return Err(UsageError(format!(
            "-n/--max-tokens must be -1 (no limit) or 0 or more, not {}",
            a.max_tokens
        ))
        .into());
    }
    // the dials are checked before the model is loaded
    SamplingParams {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        min_p: a.min_p,
        repeat_penalty: a.repeat_penalty,
        ..SamplingParams::default()
    }
    .validate()
    .map_err(|e| engine::EngineError::Sampling(e.to_string()))?;
    if !a.no_escape {
        // as llama.cpp's -p: `"Summarise:\n\n"` means two line breaks
        a.prompt = a
            .prompt
            .map(|p| crate::escape::process(&p, "the prompt"))
            .transpose()?;
        a.system = a
            .system
            .map(|s| crate::escape::process(&s, "--system"))
            .transpose()?;
        a.stop = a
            .stop
            .iter()
            .map(|s| crate::escape::process(s, "--stop"))
            .collect::<Result<_, _>>()?;
    }
    let grammar = super::grammar_from_flags(
        a.json_schema.as_deref(),
        a.grammar_file.as_deref(),
        a.regex.as_deref(),
    )?;
    let text = super::prompt_with_stdin(a.prompt.clone())?;
    if text.trim().is_empty() {
        return Err(InputError(
            "the prompt is empty; give a prompt as an argument or on standard input".into(),
        )
        .into());
    }
    let t_load = std::time::Instant::now();
    let path = super::pull::resolve_model(&model)?;
    // a created model's own settings, under the flags (over config.toml)
    let md = store::defaults_of(&path).unwrap_or_default();
    with_model_defaults(&mut a, &md);
    // The context asked for (checked against the trained one) or the default;
    // refused before the weights load when it cannot fit, a warning when tight.
    let opts = LoadOptions {
        ctx: a.ctx_size.into(),
        mapped: a.weights.mmap,
        ..LoadOptions::default()
    };
    let mut loaded = super::load_file(&path, &opts)?;
    // an embedding model is refused at once (`hearth embed` is its command)
    loaded.model.check_generates()?;
    crate::chat::loader::set_template(&mut loaded.model, &md)?;
    let (mut lm, n_ctx, weights) = (loaded.model, loaded.n_ctx, loaded.weights);
    super::attach_draft(&mut lm, a.spec.draft.as_deref(), n_ctx, 1, a.weights.mmap)?;
    let lm = lm;
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    super::spec_panels(&lm, &a.spec.speculation(), threads)?;
    let pool = ThreadPool::new(threads);
    let mut sess = lm.session(n_ctx)?;
    // A file without a chat template of its own (a base model, often) runs
    // as plain text completion: a made-up template made one loop until the
    // context was full.
    let own_template = lm.template.as_ref().is_ok_and(|t| !t.is_builtin());
    if !a.raw && !own_template {
        eprintln!(
            "hearth: note: {model} has no chat template in its file; running the prompt as plain text completion (--raw says so without this note)"
        );
    }
    let prompt = if a.raw {
        Prompt::Raw(text)
    } else if !own_template {
        Prompt::Raw(match &a.system {
            Some(s) => format!("{s}\n\n{text}"),
            None => text,
        })
    } else {
        let mut msgs = Vec::new();
        if let Some(s) = &a.system {
            msgs.push(Message::system(s.clone()));
        }
        msgs.extend(
            md.messages
                .iter()
                .map(|m| Message::new(m.role.clone(), m.content.clone())),
        );
        msgs.push(Message::user(text));
        Prompt::Chat(msgs)
    };
    let sampling = SamplingParams {
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        min_p: a.min_p,
        repeat_penalty: a.repeat_penalty,
        seed: a.seed.unwrap_or_else(seed_from_time),
        // the dials run has no flags for: the model's, else hearth's
        ..server::defaults::sampling_of(&md.parameters, SamplingParams::default())
    };
    let reasoning = if a.raw {
        None
    } else {
        lm.reasoning_format().map(|format| engine::Reasoning {
            format,
            budget: a.thinking_budget,
        })
    };
    // (the answer's grammar for the output's shape: a harmony chat's whole
    // output; a plain-text prompt's as it is)
    let chat = matches!(prompt, Prompt::Chat(_));
    let constraint =
        super::compile_grammar(&lm, grammar.as_ref(), reasoning.as_ref().filter(|_| chat))?;
    let req = GenerateRequest {
        constraint,
        reasoning,
        prompt,
        max_tokens: if a.max_tokens < 0 {
            None
        } else {
            Some(a.max_tokens as usize)
        },
        sampling,
        stop: a.stop.clone(),
        spec: a.spec.speculation(),
        ..Default::default()
    };
    let load_secs = t_load.elapsed().as_secs_f64();
    let mut looping = engine::RepeatDetector::new(a.loop_stop);
    if a.json {
        return print_json(&lm, &pool, &mut sess, &req, load_secs, n_ctx, &mut looping);
    }
    let mut out = std::io::stdout().lock();
    let mut write_failed = None;
    // A thinking model's reasoning: dimmed before the answer on a terminal,
    // else on standard error (the answer alone on standard output).
    let tty = std::io::stdout().is_terminal();
    let style = crate::style::Style {
        color: crate::style::color_enabled(),
    };
    let mut thought = false;
    let never = std::sync::atomic::AtomicBool::new(false);
    sess.clear();
    let stats = lm
        .generate_split(&pool, &mut sess, &req, &never, |p| {
            let mut w = || -> std::io::Result<()> {
                if !p.reasoning.is_empty() && !a.hide_thinking {
                    if tty {
                        out.write_all(style.dim(p.reasoning).as_bytes())?;
                    } else {
                        eprint!("{}", p.reasoning);
                    }
                    thought = true;
                }
                if !p.text.is_empty() {
                    if std::mem::take(&mut thought) {
                        if tty {
                            out.write_all(b"\n\n")?;
                        } else {
                            eprintln!();
                        }
                    }
                    out.write_all(p.text.as_bytes())?;
                }
                out.flush()
            };
            match w() {
                Ok(()) if looping.feed(p.text) => ControlFlow::Break(()),
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    write_failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?
        .stats;
    if let Some(e) = write_failed {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(e.into());
    }
    writeln!(out)?;
    if let Some(p) = looping.period() {
        eprintln!("hearth: stopped: the answer kept repeating the same {p}-character passage (--loop-stop 0 lets it run)");
    }
    if stats.context_full {
        eprintln!(
            "hearth: stopped: the context of {n_ctx} tokens is full (raise it with --ctx-size)"
        );
    }
    if a.verbose {
        eprintln!(
            "load {:.2} s (weights {}) | prompt {} tokens, {:.1} tok/s | generation {} tokens, {:.1} tok/s | {} threads | finish: {} | peak RSS {}",
            load_secs,
            weights.describe_now(lm.model.file()),
            stats.prompt_tokens,
            stats.prompt_tokens as f64 / stats.prompt_seconds.max(1e-9),
            stats.output_tokens,
            stats.output_tokens as f64 / stats.gen_seconds.max(1e-9),
            threads,
            stats.finish.as_str(),
            super::bench::peak_rss_bytes()
                .map(store::human_bytes)
                .unwrap_or_else(|| "unknown".into())
        );
        if req.spec.is_on() {
            eprintln!("{}", super::spec_summary(&stats.spec));
        }
    }
    Ok(())
}

/// Put a created model's settings (its Modelfile's) into the settings not
/// given as flags.
fn with_model_defaults(a: &mut RunArgs, d: &store::modelfile::ModelDefaults) {
    let given = |id: &str| a.given.contains(&id);
    let p = &d.parameters;
    macro_rules! take {
        ($f:ident) => {
            if let (false, Some(v)) = (given(stringify!($f)), p.$f) {
                a.$f = v;
            }
        };
    }
    take!(temperature);
    take!(top_k);
    take!(top_p);
    take!(min_p);
    take!(repeat_penalty);
    if let (false, Some(v)) = (given("seed"), p.seed) {
        a.seed = Some(v);
    }
    if let (false, Some(v)) = (given("max_tokens"), p.num_predict) {
        a.max_tokens = v;
    }
    if let (false, Some(v)) = (given("ctx_size"), p.num_ctx) {
        a.ctx_size = Some(v);
    }
    if let (false, Some(s)) = (given("system"), &d.system) {
        a.system = Some(s.clone());
    }
    if a.stop.is_empty() {
        a.stop = p.stop.clone();
    }
}

fn seed_from_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}

/// `--json`: one object with the whole text, why it ended, and usage.
fn print_json(
    lm: &LoadedModel,
    pool: &ThreadPool,
    sess: &mut engine::Session,
    req: &GenerateRequest,
    load_secs: f64,
    n_ctx: usize,
    looping: &mut engine::RepeatDetector,
) -> anyhow::Result<()> {
    let (mut text, mut reasoning) = (String::new(), String::new());
    sess.clear();
    let never = std::sync::atomic::AtomicBool::new(false);
    let stats = lm
        .generate_split(pool, sess, req, &never, |p| {
            text.push_str(p.text);
            reasoning.push_str(p.reasoning);
            if looping.feed(p.text) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?
        .stats;
    let finish = if looping.period().is_some() {
        "repetition"
    } else {
        stats.finish.as_str()
    };
    let v = serde_json::json!({
        "model": lm.path.display().to_string(),
        "text": text,
        "reasoning": (!reasoning.is_empty()).then_some(reasoning),
        "tokens": stats.tokens,
        "finish_reason": finish,
        "context_full": stats.context_full,
        "usage": {
            "prompt_tokens": stats.prompt_tokens,
            "completion_tokens": stats.output_tokens,
            "total_tokens": stats.prompt_tokens + stats.output_tokens,
            "context_size": n_ctx,
        },
        "timings": {
            "load_seconds": load_secs,
            "prompt_seconds": stats.prompt_seconds,
            "generation_seconds": stats.gen_seconds,
            "prompt_tokens_per_second": stats.prompt_tokens as f64 / stats.prompt_seconds.max(1e-9),
            "generation_tokens_per_second": stats.output_tokens as f64 / stats.gen_seconds.max(1e-9),
        },
        "peak_rss_bytes": super::bench::peak_rss_bytes(),
    });
    let mut v = v;
    if req.spec.is_on() {
        v["speculative"] = serde_json::json!({
            "drafted_tokens": stats.spec.drafted,
            "accepted_tokens": stats.spec.accepted,
            "verify_steps": stats.spec.steps,
            "acceptance_rate": stats.spec.acceptance(),
        });
    }
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{v}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
