//! `hearth run`: generate from a prompt, streaming text to standard output.

use crate::cli::RunArgs;
use crate::exit::InputError;
use engine::{
    GenerateRequest, LoadOptions, LoadedModel, Message, Prompt, SamplingParams, ThreadPool,
};
use std::io::Write;
use std::ops::ControlFlow;

pub fn run(mut a: RunArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let default = crate::config::load()?
        .model
        .unwrap_or_else(|| store::DEFAULT_MODEL.into());
    let model = super::pull::split_model_prompt(a.model.take(), &mut a.prompt, &default);
    a.model = Some(model.clone());
    if a.prompt.is_none() && !a.raw && !a.json && std::io::stdin().is_terminal() {
        return crate::chat::run(crate::chat::args_from_run(&a));
    }
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
        ..LoadOptions::default()
    };
    let mut loaded = super::load_file(&path, &opts)?;
    // an embedding model is refused at once (`hearth embed` is its command)
    loaded.model.check_generates()?;
    crate::chat::loader::set_template(&mut loaded.model, &md)?;
    let (lm, n_ctx) = (loaded.model, loaded.n_ctx);
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    let pool = ThreadPool::new(threads);
    let mut sess = lm.session(n_ctx)?;
    let prompt = if a.raw {
        Prompt::Raw(text)
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
    let req = GenerateRequest {
        prompt,
        max_tokens: if a.max_tokens < 0 {
            None
        } else {
            Some(a.max_tokens as usize)
        },
        sampling,
        stop: a.stop.clone(),
    };
    let load_secs = t_load.elapsed().as_secs_f64();
    if a.json {
        return print_json(&lm, &pool, &mut sess, &req, load_secs, n_ctx);
    }
    let mut out = std::io::stdout().lock();
    let mut write_failed = None;
    let stats = lm.generate(&pool, &mut sess, &req, |text| {
        match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                write_failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = write_failed {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(e.into());
    }
    writeln!(out)?;
    if stats.context_full {
        eprintln!(
            "hearth: stopped: the context of {n_ctx} tokens is full (raise it with --ctx-size)"
        );
    }
    if a.verbose {
        eprintln!(
            "load {:.2} s | prompt {} tokens, {:.1} tok/s | generation {} tokens, {:.1} tok/s | {} threads | finish: {} | peak RSS {} bytes",
            load_secs,
            stats.prompt_tokens,
            stats.prompt_tokens as f64 / stats.prompt_seconds.max(1e-9),
            stats.output_tokens,
            stats.output_tokens as f64 / stats.gen_seconds.max(1e-9),
            threads,
            stats.finish.as_str(),
            super::bench::peak_rss_bytes().unwrap_or(0)
        );
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
) -> anyhow::Result<()> {
    let mut text = String::new();
    let stats = lm.generate(pool, sess, req, |t| {
        text.push_str(t);
        ControlFlow::Continue(())
    })?;
    let v = serde_json::json!({
        "model": lm.path.display().to_string(),
        "text": text,
        "tokens": stats.tokens,
        "finish_reason": stats.finish.as_str(),
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
    });
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{v}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
