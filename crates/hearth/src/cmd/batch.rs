//! `hearth batch`: one prompt template over a folder of documents, a list
//! of files or a JSONL file, many in flight at once, resumable. The work
//! itself is in the `batch` crate; this parses, loads and reports.

use crate::exit::{InputError, UsageError};
use batch::{Backend, Format, LongMode, OutFile, Settings, Template};
use clap::{Args, ValueEnum};
use engine::{Cache, LoadOptions, Panels};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
#[command(
    after_help = "Template variables: {{content}} (the document's text), {{filename}}, {{path}}, {{id}};\nfor JSONL input, every field of the record ({{title}}, {{meta.author}}).\nWhen a document is split, the pieces also get {{chunk}} and {{chunks}}; with --drafts, {{draft}} is the draft's number.\n\nEach finished record is appended to the output at once; rerun the same command to go on\nafter an interruption or a crash: inputs already done (same content, prompt, model and\nsampling) are skipped, failed ones retried. Ctrl-C finishes the documents in flight.\n\nExamples:\n  hearth batch notes/ --prompt \"Summarise in 3 bullet points:\\n\\n{{content}}\" -o summaries.jsonl\n  hearth batch docs/ --glob '*.md' --prompt-file tag.txt --json-schema tags.schema.json\n  hearth batch tickets.jsonl --prompt \"Label this ticket: {{title}}\\n{{body}}\" --format csv -o labels.csv\n  hearth batch ideas.jsonl --prompt \"Write a tagline for {{product}}\" --drafts 5 --temperature 0.9\n  hearth batch questions.jsonl --prompt \"{{question}}\" --thinking-budget 256 -m qwen3:4b   # a thinking model: reasoning capped, room for the answer\n  hearth batch docs/ --prompt \"...\" --endpoint http://gpu-box:8000/v1 -m qwen2.5-7b --parallel 32"
)]
pub struct BatchArgs {
    /// A folder (recursed), files, or one .jsonl file of records.
    #[arg(required = true)]
    pub input: Vec<PathBuf>,
    /// The prompt template (see below for its variables).
    #[arg(short = 'p', long, conflicts_with = "prompt_file")]
    pub prompt: Option<String>,
    /// Read the prompt template from a file.
    #[arg(long)]
    pub prompt_file: Option<PathBuf>,
    /// Output file (default: INPUT's name + .out.jsonl or .out.csv, in the current folder).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Model name or .gguf file (default: `model` in config.toml, else qwen2.5-coder:0.5b);
    /// with --endpoint, the server's model name (default: the first it lists).
    #[arg(short = 'm', long)]
    pub model: Option<String>,
    /// Only files matching this pattern, relative to the folder (repeatable), e.g. '*.md', 'reports/**/*.pdf'.
    #[arg(long)]
    pub glob: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// One JSON object per record (enforced while sampling by the local engine); it is parsed, and the record says whether it is valid.
    #[arg(long)]
    pub json: bool,
    /// Like --json, each output following this JSON Schema file (enforced while sampling; validated again).
    #[arg(long)]
    pub json_schema: Option<PathBuf>,
    /// Documents generated at once (continuous batching; default 32 local, fewer if their caches would not fit in memory, 4 with --endpoint).
    #[arg(long)]
    pub parallel: Option<usize>,
    /// Documents longer than the context: split (pieces, then a combining pass), truncate or skip.
    #[arg(long, value_enum, default_value_t = LongArg::Split)]
    pub long: LongArg,
    /// Template of the combining pass of split documents (default: the prompt template, given the pieces' outputs as {{content}}).
    #[arg(long)]
    pub reduce_prompt: Option<String>,
    /// JSONL input: the field holding the text that is split when a record is too long.
    #[arg(long, default_value = "content")]
    pub content_field: String,
    /// System message.
    #[arg(long)]
    pub system: Option<String>,
    /// Feed the rendered template as plain text, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Most tokens per output (-1: until the model stops or the context is full).
    #[arg(
        short = 'n',
        long = "max-tokens",
        default_value_t = 512,
        allow_negative_numbers = true
    )]
    pub max_tokens: i64,
    /// Sampling temperature (default 0: greedy, the same output every run).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Keep only the K most likely tokens (0 = off; with --temperature above 0).
    #[arg(long, default_value_t = 40, allow_negative_numbers = true)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches P (1 = off).
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub min_p: f32,
    /// Penalise recently seen tokens (1 = off).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub repeat_penalty: f32,
    /// Random seed (used when the temperature is above 0).
    #[arg(long, default_value_t = 42, allow_negative_numbers = true)]
    pub seed: u64,
    /// Outputs per input (with --temperature above 0): records ID#1 .. ID#N,
    /// draft k sampled with seed + k - 1 ({{draft}} in the template is k).
    #[arg(long, default_value_t = 1)]
    pub drafts: u32,
    /// Stop generating at this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Most reasoning tokens of a thinking model before it is asked for the
    /// answer, per output (as `hearth run`'s; with --endpoint, sent as
    /// `thinking_budget`, hearth's own request field).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = crate::cli::thinking_budget)]
    pub thinking_budget: Option<usize>,
    /// Context of one document in tokens (prompt + output; default: the model's, up to 4096).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    /// Threads to compute with (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Do not unpack the weights once for batched steps: saves 0.6 to 1.75
    /// bytes of memory per weight of the tensors that have such panels (by
    /// format and CPU; `hearth bench` prints the total; built when they take
    /// at most a quarter of the memory available). Batched steps are slower
    /// without: 8 sequences decoding together on qwen2.5-coder, about 40 %.
    #[arg(long)]
    pub no_panel_cache: bool,
    #[command(flatten)]
    pub weights: crate::cli::WeightsArgs,
    /// (Speculative decoding: the same outputs, sooner when they copy from
    /// the documents; not with --endpoint, whose server decides.)
    #[command(flatten)]
    pub spec: crate::cli::SpecArgs,
    /// Send the work to this OpenAI-compatible server instead (another hearth, vLLM, llama-server...).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// API key for --endpoint (default: $HEARTH_API_KEY, else $OPENAI_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Cloud price to compare with, US dollars per million input tokens (with --price-out).
    #[arg(long, requires = "price_out")]
    pub price_in: Option<f64>,
    /// Cloud price to compare with, US dollars per million output tokens.
    #[arg(long, requires = "price_in")]
    pub price_out: Option<f64>,
    /// No progress display.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print the final report as JSON on standard output.
    #[arg(long)]
    pub report_json: bool,
    /// Take --prompt, --reduce-prompt, --system and --stop exactly as typed (by default \n, \t,
    /// \r, \\, \", \' and \xHH in them are processed, as llama.cpp's -p does).
    #[arg(long)]
    pub no_escape: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LongArg {
    Split,
    Truncate,
    Skip,
}

pub fn run(a: BatchArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    // as llama.cpp's -p: `--prompt "Summarise:\n\n{{content}}"` means two
    // line breaks (a --prompt-file is taken as it is)
    let escape = |s: &str, what: &str| -> anyhow::Result<String> {
        if a.no_escape {
            Ok(s.to_string())
        } else {
            Ok(crate::escape::process(s, what)?)
        }
    };
    let template_src = match (&a.prompt, &a.prompt_file) {
        (Some(p), _) => escape(p, "--prompt")?,
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| InputError(format!("cannot read --prompt-file '{}': {e}", f.display())))?,
        (None, None) => return Err(UsageError(
            "give the prompt template with --prompt \"...{{content}}...\" or --prompt-file FILE"
                .into(),
        )
        .into()),
    };
    let template = Template::new(&template_src).map_err(|e| InputError(e.to_string()))?;
    let reduce_src = a
        .reduce_prompt
        .as_deref()
        .map(|p| escape(p, "--reduce-prompt"))
        .transpose()?;
    let reduce_template = reduce_src
        .as_deref()
        .map(Template::new)
        .transpose()
        .map_err(|e| InputError(e.to_string()))?;
    let schema = match &a.json_schema {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                InputError(format!("cannot read --json-schema '{}': {e}", p.display()))
            })?;
            Some(serde_json::from_str(&text).map_err(|e| {
                InputError(format!("--json-schema '{}' is not JSON: {e}", p.display()))
            })?)
        }
        None => None,
    };
    let json = if a.json || schema.is_some() {
        Some(batch::JsonSpec::new(schema).map_err(|e| InputError(e.to_string()))?)
    } else {
        None
    };
    if a.temperature < 0.0 || !a.temperature.is_finite() {
        return Err(UsageError(format!(
            "--temperature must be 0 or more (got {})",
            a.temperature
        ))
        .into());
    }
    if a.max_tokens < -1 {
        return Err(UsageError(format!(
            "-n/--max-tokens must be -1 (no limit) or 0 or more, not {}",
            a.max_tokens
        ))
        .into());
    }
    if a.parallel == Some(0) {
        return Err(UsageError("--parallel must be at least 1".into()).into());
    }
    if a.drafts == 0 {
        return Err(UsageError("--drafts must be at least 1".into()).into());
    }
    if a.drafts > 1 && a.temperature == 0.0 {
        return Err(UsageError(format!(
            "--drafts {} with --temperature 0 would give {} identical outputs (greedy is the same every time): add a temperature, e.g. --temperature 0.8",
            a.drafts, a.drafts
        ))
        .into());
    }
    let mut inputs = batch::discover(&a.input, &a.glob).map_err(|e| InputError(e.to_string()))?;
    inputs.items = batch::input::with_drafts(std::mem::take(&mut inputs.items), a.drafts);
    if inputs.items.is_empty() {
        // not an error (a script may run on a folder that is empty today),
        // but never a silent run that did nothing
        let glob = if a.glob.is_empty() {
            String::new()
        } else {
            format!(" matching --glob {}", a.glob.join(", "))
        };
        let skipped = match inputs.skipped.len() {
            0 => String::new(),
            n => format!(
                " ({n} file{} skipped as not supported{})",
                if n == 1 { "" } else { "s" },
                if a.quiet {
                    ": run without -q to see which"
                } else {
                    ", listed below"
                }
            ),
        };
        eprintln!(
            "hearth batch: no inputs found in {}{glob}{skipped}: it reads {} files (folders are searched recursively; --glob to choose) or one record per line of a .jsonl file",
            a.input
                .iter()
                .map(|p| format!("'{}'", p.display()))
                .collect::<Vec<_>>()
                .join(", "),
            batch::input::DOCUMENT_TYPES
        );
    }
    let format = match a.format {
        FormatArg::Jsonl => Format::Jsonl,
        FormatArg::Csv => Format::Csv,
    };
    let out_path = a
        .output
        .clone()
        .unwrap_or_else(|| default_output(&a.input, format));
    if a.input.iter().any(|i| same_file(i, &out_path)) {
        return Err(UsageError(format!(
            "the output '{}' is also an input; choose another -o",
            out_path.display()
        ))
        .into());
    }
    let records = inputs.records;
    if !records && !template.mentions("content") {
        eprintln!("hearth batch: warning: the template does not use {{{{content}}}}: the documents' text will not reach the model");
    }
    let settings = Settings {
        template,
        reduce_template,
        system: a
            .system
            .as_deref()
            .map(|s| escape(s, "--system"))
            .transpose()?,
        raw: a.raw,
        max_tokens: if a.max_tokens < 0 {
            None
        } else {
            Some(a.max_tokens as usize)
        },
        sampling: engine::SamplingParams {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            min_p: a.min_p,
            repeat_penalty: a.repeat_penalty,
            seed: a.seed,
            ..engine::SamplingParams::default()
        },
        stop: a
            .stop
            .iter()
            .map(|s| escape(s, "--stop"))
            .collect::<Result<_, _>>()?,
        thinking_budget: a.thinking_budget,
        json,
        long: match a.long {
            LongArg::Split => LongMode::Split,
            LongArg::Truncate => LongMode::Truncate,
            LongArg::Skip => LongMode::Skip,
        },
        content_field: a.content_field.clone(),
    };
    settings
        .sampling
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    let backend = make_backend(&a)?;
    let keys = batch::keys(
        &inputs.items,
        &settings,
        &backend.model_key(),
        backend.ctx(),
    );
    let (mut out, resume) =
        OutFile::open(&out_path, format, &keys).map_err(|e| InputError(e.to_string()))?;
    let show = !a.quiet;
    if show {
        let done_here = inputs
            .items
            .iter()
            .filter(|i| {
                resume
                    .done
                    .get(&i.id)
                    .is_some_and(|k| keys.get(&i.id) == Some(k))
            })
            .count();
        let drafts = if a.drafts > 1 {
            format!(" x {} drafts", a.drafts)
        } else {
            String::new()
        };
        eprintln!(
            "hearth batch: {} inputs{drafts} ({} already done), model {}, {} at once, writing {}",
            inputs.items.len() / a.drafts as usize,
            done_here,
            backend.model_label(),
            backend.parallel(),
            out_path.display()
        );
        if resume.torn {
            eprintln!("hearth batch: the last record of the output was cut short (an interrupted run): it is redone");
        }
        if resume.retry_failed > 0 {
            eprintln!(
                "hearth batch: retrying {} inputs that failed last time",
                resume.retry_failed
            );
        }
        if resume.stale > 0 {
            eprintln!(
                "hearth batch: {} records were made from other content or settings: moved to {}.stale.jsonl and redone",
                resume.stale,
                out_path.display()
            );
        }
        for s in &inputs.skipped {
            eprintln!("hearth batch: skipped {}: {}", s.path.display(), s.reason);
        }
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    install_interrupt(interrupt.clone());
    let mut progress: Box<dyn batch::progress::Progress> = if !show {
        Box::new(batch::progress::Quiet)
    } else if std::io::stderr().is_terminal() {
        Box::new(batch::progress::Bar::new())
    } else {
        Box::new(batch::progress::Lines::new())
    };
    let mut report = batch::run(
        &inputs.items,
        &settings,
        backend.as_ref(),
        &mut out,
        &keys,
        &resume.done,
        progress.as_mut(),
        &interrupt,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    report.skipped_files = inputs.skipped.len();
    let prices = match (a.price_in, a.price_out) {
        (Some(i), Some(o)) => vec![batch::Price {
            name: "your".into(),
            input_per_million: i,
            output_per_million: o,
            source: "--price-in/--price-out".into(),
        }],
        _ => batch::default_prices(),
    };
    report.price(&prices);
    if a.report_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if show {
        eprint!("{}", report.text());
        eprintln!("output: {}", out.path().display());
    }
    if let Some(why) = &report.stopped {
        if interrupt.load(Ordering::Relaxed) {
            std::process::exit(130);
        }
        anyhow::bail!("the batch stopped early: {why}; rerun the same command to go on");
    }
    if report.failed > 0 {
        anyhow::bail!(
            "{} of {} inputs failed (their records say why); rerun the same command to retry them",
            report.failed,
            report.documents
        );
    }
    Ok(())
}

fn make_backend(a: &BatchArgs) -> anyhow::Result<Box<dyn Backend>> {
    if let Some(url) = &a.endpoint {
        if a.spec.speculation().is_on() {
            return Err(crate::exit::UsageError(
                "--spec and --draft are for local models; with --endpoint the server decides (`hearth serve --spec`)".into(),
            )
            .into());
        }
        let key = a
            .api_key
            .clone()
            .or_else(|| std::env::var("HEARTH_API_KEY").ok())
            .or_else(|| std::env::var("OPENAI_API_KEY").ok())
            .filter(|k| !k.is_empty());
        let ctx = a.ctx_size.unwrap_or(4096);
        let ep = batch::Endpoint::connect(url, key, a.model.clone(), ctx, a.parallel.unwrap_or(4))
            .map_err(|e| anyhow::anyhow!(e))?;
        return Ok(Box::new(ep));
    }
    let default = crate::config::load()?
        .model
        .unwrap_or_else(|| store::DEFAULT_MODEL.into());
    let name = a.model.clone().unwrap_or(default);
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    // Default: 32 documents at once where their caches fit with room to spare
    // (more rows per batched step run faster: 100 short documents on
    // qwen2.5-coder took 50 s at 32, 52 s at 16, 58 s at 8; BENCHMARKS.md),
    // else fewer.
    // All documents in flight share one cache: the engine checks that it fits
    // before loading (the default takes the first that fits, else the
    // smallest); several documents per step unpack the weights once (if they fit).
    let opts = LoadOptions {
        ctx: a.ctx_size.into(),
        cache: match a.parallel {
            Some(p) => Cache::Sequences(p),
            None => Cache::FirstFitting(DEFAULT_PARALLEL.to_vec()),
        },
        panels: (!a.no_panel_cache).then_some(Panels {
            threads,
            limit: None,
        }),
        mapped: a.weights.mmap,
    };
    let loaded = super::load_generator(&name, &opts).map_err(|e| {
        if matches!(e.downcast_ref(), Some(engine::EngineError::DoesNotFit(_))) {
            let p = a.parallel.unwrap_or(1);
            e.context(format!(
                "{p} documents at once; try a smaller --parallel or --ctx-size"
            ))
        } else {
            e
        }
    })?;
    let mut lm = loaded.model;
    super::attach_draft(
        &mut lm,
        a.spec.draft.as_deref(),
        loaded.n_ctx,
        loaded.sequences,
        a.weights.mmap,
    )?;
    Ok(Box::new(
        batch::Local::new(Arc::new(lm), name, loaded.n_ctx, loaded.sequences, threads)
            .with_speculation(a.spec.speculation()),
    ))
}

/// Local `--parallel` defaults, best first: the first whose caches fit.
const DEFAULT_PARALLEL: [usize; 6] = [32, 16, 8, 4, 2, 1];

/// `docs/` → `docs.out.jsonl`; `tickets.jsonl` → `tickets.out.jsonl`;
/// several inputs → `batch.out.jsonl`.
fn default_output(inputs: &[PathBuf], format: Format) -> PathBuf {
    let ext = match format {
        Format::Jsonl => "jsonl",
        Format::Csv => "csv",
    };
    let stem = match inputs {
        [one] => one
            .file_stem()
            .map(|s| s.to_os_string())
            .filter(|s| s != "." && s != "..")
            .or_else(|| {
                one.canonicalize()
                    .ok()
                    .and_then(|c| c.file_name().map(|f| f.to_owned()))
            })
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty() && s != "." && s != "..")
            .unwrap_or_else(|| "batch".into()),
        _ => "batch".into(),
    };
    PathBuf::from(format!("{stem}.out.{ext}"))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// First Ctrl-C: start nothing new, finish what is in flight. Second: quit.
fn install_interrupt(flag: Arc<AtomicBool>) {
    static PRESSES: AtomicUsize = AtomicUsize::new(0);
    let _ = ctrlc::set_handler(move || {
        if PRESSES.fetch_add(1, Ordering::SeqCst) >= 1 {
            std::process::exit(130);
        }
        flag.store(true, Ordering::SeqCst);
    });
}
