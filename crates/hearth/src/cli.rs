//! Command-line definitions.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hearth",
    version,
    about = "Run large language models on your own computer: private, offline, no meter.",
    after_help = "Examples:\n  hearth run \"Write a haiku about owning your own computer\"   (default model, pulled on first use)\n  hearth chat smollm2\n  hearth run model.gguf \"Explain mmap in one paragraph\"\n  hearth pull qwen2.5:1.5b; hearth list\n  cat notes.txt | hearth run model.gguf \"Summarise:\" > summary.txt\n  echo \"def add(a, b):\" | hearth run --raw -n 32 model.gguf\n  hearth tokenize model.gguf \"Hello, world\"\n  hearth completions bash > ~/.local/share/bash-completion/completions/hearth\n\nDefaults come from ~/.config/hearth/config.toml (see `hearth chat --help`); flags override it.\nExit codes: 0 ok, 1 other failure, 2 bad command line or config file, 3 bad model, 4 bad input, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Never use the network (same as HEARTH_OFFLINE=1): a model that is not in the store is an error.
    #[arg(long, global = true)]
    pub offline: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Generate text from a prompt (chat template applied unless --raw).
    Run(RunArgs),
    /// Show how a model splits text into tokens.
    Tokenize(TokenizeArgs),
    /// Sentence embeddings of texts, one JSON line each (as /v1/embeddings).
    Embed(crate::cmd::embed::EmbedArgs),
    /// Measure prompt-processing and generation speed (like llama-bench).
    Bench(BenchArgs),
    /// Will a model fit this machine, and how fast will it run?
    Fit(FitArgs),
    /// This machine as hearth sees it: CPU, SIMD, memory, bandwidth, models.
    Doctor(DoctorArgs),
    /// Run one prompt over a folder of documents or a JSONL file: resumable, with progress and a report.
    Batch(crate::cmd::batch::BatchArgs),
    /// Talk with a model in the terminal (line editing, history, /commands).
    Chat(ChatArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Serve models over OpenAI- and Ollama-compatible HTTP APIs (loopback by default).
    Serve(ServeArgs),
    /// List the models a running `hearth serve` has loaded.
    Ps(PsArgs),
    /// Unload a model from a running `hearth serve`.
    Stop(crate::cmd::stop::StopArgs),
    /// Download a model into the store (catalog name, hf.co/OWNER/REPO:FILE or URL).
    Pull(crate::cmd::pull::PullArgs),
    /// Bring a GGUF file you already have into the store.
    Import(crate::cmd::import::ImportArgs),
    /// Make a model of your own from a Modelfile (system prompt, parameters, template).
    Create(crate::cmd::create::CreateArgs),
    /// List the models in the store.
    List(crate::cmd::list::ListArgs),
    /// Show a model's architecture, context length, template, license.
    Show(crate::cmd::show::ShowArgs),
    /// Remove models from the store.
    Rm(crate::cmd::rm::RmArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "With no prompt and standard input a terminal, starts a chat (as `hearth chat`).\nWith a prompt and text piped in, the piped text is appended to the prompt after a blank line.\n\nExamples:\n  hearth run qwen.gguf \"Explain mmap in one paragraph\"\n  hearth run --raw --temperature 0 -n 32 model.gguf \"The capital of France is\"\n  cat notes.txt | hearth run model.gguf\n  cat notes.txt | hearth run model.gguf \"Summarise:\" > summary.txt\n  hearth run --json --temperature 0 model.gguf \"Hi\" | jq .text\n  hearth run --json-schema person.schema.json model.gguf \"Invent a person\""
)]
pub struct RunArgs {
    /// A model name (`qwen2.5-coder:0.5b`) or a .gguf file (default: `model` in config.toml, else qwen2.5-coder:0.5b, pulled on first use).
    pub model: Option<String>,
    /// The prompt; read from standard input when absent (a chat when that is a terminal).
    pub prompt: Option<String>,
    /// Feed the prompt as plain text, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// System message (chat mode).
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens to generate (-1: until the model stops or the context is full).
    #[arg(short = 'n', long = "max-tokens", default_value_t = -1, allow_negative_numbers = true)]
    pub max_tokens: i64,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Keep only the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 40, allow_negative_numbers = true)]
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches P (1 = off).
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = off).
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    pub min_p: f32,
    /// Penalise repeating recent tokens (1 = off).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub repeat_penalty: f32,
    /// Random seed (same seed, same output).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Stop when this text is generated (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
    /// Context size in tokens (default: the model's, capped at 4096).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    /// Threads to compute with (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Print prompt and generation speed to standard error.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub weights: WeightsArgs,
    /// Print one JSON object (text, finish reason, token usage, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// The settings given as flags (filled after parsing: a created model's
    /// own settings apply to the others).
    #[arg(skip)]
    pub given: Vec<&'static str>,
    /// Stop an answer whose last N characters are one passage repeated (4 times or more),
    /// saying so; 0 lets it run until -n or the context ends it.
    #[arg(long, default_value_t = engine::RepeatDetector::DEFAULT_WINDOW, value_name = "N")]
    pub loop_stop: usize,
    /// Take the prompt, --system and --stop exactly as typed (by default \n, \t, \r, \\, \", \' and \xHH
    /// in them are processed, as llama.cpp's -p does; piped text never is).
    #[arg(long)]
    pub no_escape: bool,
    /// The answer is JSON following this JSON Schema file (enforced while sampling).
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<PathBuf>,
    /// The answer follows this grammar file: llama.cpp GBNF (or llguidance Lark).
    #[arg(long, value_name = "FILE")]
    pub grammar_file: Option<PathBuf>,
    /// The whole answer matches this regular expression (Rust regex syntax).
    #[arg(long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// A thinking model's reasoning is not shown (it is shown dimmed by default;
    /// on standard error when standard output is not a terminal).
    #[arg(long)]
    pub hide_thinking: bool,
    /// Most reasoning tokens of a thinking model before it is asked for the answer.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = thinking_budget)]
    pub thinking_budget: Option<usize>,
    #[command(flatten)]
    pub spec: SpecArgs,
}

/// How the weights are held: the flag shared by `run`, `chat`, `batch`,
/// `serve` and `bench`.
#[derive(Args, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeightsArgs {
    /// Keep the model file mapped instead of copying its weights into memory
    /// (in huge pages): loads sooner and shares memory with other programs
    /// reading the same file, but may decode up to 20 % slower. Also `HEARTH_MMAP=1`.
    /// (A model that fits only tightly is always left mapped.)
    #[arg(long)]
    pub mmap: bool,
}

/// Speculative decoding: the flags shared by `run`, `chat`, `batch`, `serve`
/// and `bench`.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct SpecArgs {
    /// Speculative decoding by prompt lookup: tokens are drafted from the
    /// prompt and the answer so far and several are checked in one step.
    /// Exact: the output is the same as without it, token for token (greedy or
    /// seeded sampling alike); faster when the answer copies from the input
    /// (edits of code or text, extraction, quoting), about as fast otherwise.
    #[arg(long)]
    pub spec: bool,
    /// Speculative decoding with a draft model: a small model of the same
    /// vocabulary (e.g. a smaller size of the same family; refused otherwise)
    /// drafts tokens that the model checks several at a time, where prompt
    /// lookup (--spec) finds nothing. Exact, as --spec.
    #[arg(long, value_name = "MODEL")]
    pub draft: Option<String>,
    /// Tokens drafted per step at most (with --spec or --draft; the number
    /// adapts below it to how many are accepted).
    #[arg(long, value_name = "N", default_value_t = engine::spec::DEFAULT_DRAFT_MAX,
          value_parser = draft_max)]
    pub draft_max: usize,
}

/// `--thinking-budget` (`run`, `batch`): a number of tokens, 0 or more.
pub fn thinking_budget(s: &str) -> Result<usize, String> {
    s.trim().parse::<usize>().map_err(|_| {
        format!("{s:?} is not a number of tokens (0 or more; leave the flag out for no limit)")
    })
}

/// `--draft-max`: 1 to 64.
fn draft_max(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 64")),
    }
}

impl Default for SpecArgs {
    fn default() -> SpecArgs {
        SpecArgs {
            spec: false,
            draft: None,
            draft_max: engine::spec::DEFAULT_DRAFT_MAX,
        }
    }
}

impl SpecArgs {
    /// What requests ask for.
    pub fn speculation(&self) -> engine::Speculation {
        engine::Speculation {
            lookup: self.spec,
            draft: self.draft.is_some(),
            n_max: self.draft_max,
        }
    }
}

#[derive(Args, Debug, Default)]
#[command(after_help = CHAT_HELP)]
pub struct ChatArgs {
    /// The model: a store or catalog name (`smollm2`, `qwen2.5-coder:0.5b`), an `hf.co/` reference, or a path to a .gguf file (default: `model` in config.toml).
    pub model: Option<String>,
    /// System message.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens per answer (-1: until the model stops or the context is full).
    #[arg(short = 'n', long = "max-tokens", allow_negative_numbers = true)]
    pub max_tokens: Option<i64>,
    /// Sampling temperature (0 = greedy) [default: 0.8].
    #[arg(long, allow_negative_numbers = true)]
    pub temperature: Option<f32>,
    /// Keep only the K most likely tokens (0 = off) [default: 40].
    #[arg(long, allow_negative_numbers = true)]
    pub top_k: Option<usize>,
    /// Keep the smallest set of tokens whose probability reaches P (1 = off) [default: 0.95].
    #[arg(long, allow_negative_numbers = true)]
    pub top_p: Option<f32>,
    /// Drop tokens less likely than P times the most likely one (0 = off) [default: 0.05].
    #[arg(long, allow_negative_numbers = true)]
    pub min_p: Option<f32>,
    /// Penalise repeating recent tokens (1 = off) [default: 1.0].
    #[arg(long, allow_negative_numbers = true)]
    pub repeat_penalty: Option<f32>,
    /// Random seed (same seed, same answers).
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Context size in tokens (default: the model's, capped at 4096).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<usize>,
    /// Threads to compute with (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Print speed after every answer.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    #[command(flatten)]
    pub weights: WeightsArgs,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// A thinking model's reasoning is not shown (by default it is, dimmed).
    #[arg(long)]
    pub hide_thinking: bool,
    /// Most reasoning tokens of a thinking model per answer before it is asked for the answer.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = thinking_budget)]
    pub thinking_budget: Option<usize>,
    /// Stop an answer whose last N characters are one passage repeated (4 times or more),
    /// saying so; 0 lets it run until -n or the context ends it [default: 1200].
    #[arg(long, value_name = "N")]
    pub loop_stop: Option<usize>,
}

const CHAT_HELP: &str = "In the chat:
  Enter sends; \"\"\" starts and ends a multi-line message; pasted text may span lines.
  Ctrl-C stops the current answer (the conversation stays); Ctrl-D or /bye leaves.
  /help lists the commands: /set, /show, /model, /clear, /save, /load, /stats, /bye.
When standard input is not a terminal, each line (or \"\"\" block) is one message and
only the answers are printed, so a conversation can be scripted.
Defaults for the model and every flag can be set in ~/.config/hearth/config.toml
($XDG_CONFIG_HOME/hearth/config.toml), e.g. `model = \"/models/qwen.gguf\"`, `temperature = 0.3`;
flags override it. Conversations (/save) and history live in ~/.local/share/hearth.

Examples:
  hearth chat qwen.gguf
  hearth chat --temperature 0.3 --system \"You are terse.\" qwen.gguf
  printf 'Hi\\n/set temperature 0\\nName a colour.\\n' | hearth chat qwen.gguf";

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth completions bash > ~/.local/share/bash-completion/completions/hearth\n  hearth completions zsh > ~/.zfunc/_hearth\n  hearth completions fish > ~/.config/fish/completions/hearth.fish"
)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth tokenize model.gguf \"Hello, world\"\n  hearth tokenize --json --bos model.gguf \"Hello\""
)]
pub struct TokenizeArgs {
    /// A model name or a path to a .gguf file.
    pub model: PathBuf,
    /// The text; read from standard input when absent.
    pub text: Option<String>,
    /// Print {"ids": [...], "pieces": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Prepend the beginning-of-sequence token.
    #[arg(long)]
    pub bos: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth bench model.gguf\n  hearth bench -p 512 -n 128 -d 512 -r 5 --json model.gguf\n  hearth bench -p 0 -n 64 --parallel 8 model.gguf   # 8 sequences decoding together\n  hearth bench -p 0 -n 128 --json-schema person.schema.json model.gguf   # the cost of constrained decoding"
)]
pub struct BenchArgs {
    /// A model name or a path to a .gguf file.
    pub model: PathBuf,
    /// Prompt tokens to process per measurement (0: skip).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    pub prompt: usize,
    /// Tokens to generate per measurement (0: skip).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    pub gen: usize,
    /// Tokens already in the KV cache before each measurement.
    #[arg(short = 'd', long = "depth", default_value_t = 0)]
    pub depth: usize,
    /// Threads (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Repetitions (min/median/max are reported).
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub reps: usize,
    /// Also measure N sequences generating together (batched decode, as `hearth serve` runs concurrent requests): aggregate tok/s.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub parallel: u64,
    /// Also measure generation under this JSON Schema (constrained decoding:
    /// the token mask of each step), reported as `tg_schema` beside `tg`.
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<PathBuf>,
    /// Do not unpack the weights once for batched steps: saves 0.6 to 1.75
    /// bytes of memory per weight of the tensors that have such panels (by
    /// format and CPU; `hearth bench` prints the total; built when they take
    /// at most a quarter of the memory available). Batched steps are slower
    /// without: 8 sequences decoding together on qwen2.5-coder, about 40 %.
    #[arg(long)]
    pub no_panel_cache: bool,
    #[command(flatten)]
    pub weights: WeightsArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// (With --spec or --draft, bench also measures speculative decoding:
    /// greedy generation of -n tokens (default 128) for a code edit, without
    /// and with speculation, its speed-up and acceptance rate.)
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth fit model.gguf\n  hearth fit --ctx 32768 --json model.gguf\n  hearth fit llama3.2:3b          # a catalog model not downloaded: judged from the catalog, not pulled"
)]
pub struct FitArgs {
    /// A .gguf file, or a store or catalog name (a catalog model not downloaded is judged from the catalog's facts, not pulled).
    pub model: PathBuf,
    /// Context size to assess (default: the model's, capped at 4096).
    #[arg(long = "ctx", short = 'c')]
    pub ctx: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  hearth doctor\n  hearth doctor --json")]
pub struct DoctorArgs {
    /// Model files to assess as well.
    pub models: Vec<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  hearth serve                                   # http://127.0.0.1:11434, models from ~/.local/share/hearth/models\n  hearth serve --model qwen.gguf --port 8080\n  HEARTH_API_KEY=secret hearth serve --host 0.0.0.0\n\nEnvironment: HEARTH_HOST (HOST or HOST:PORT), HEARTH_API_KEY, HEARTH_MODELS (models directory)."
)]
pub struct ServeArgs {
    /// Address to listen on (default: $HEARTH_HOST, else 127.0.0.1 — this machine only).
    #[arg(long)]
    pub host: Option<String>,
    /// Port (default 11434, Ollama's, so its clients work unchanged).
    #[arg(long)]
    pub port: Option<u16>,
    /// Open the chat page (served at /) in the default browser once listening.
    #[arg(long)]
    pub open: bool,
    /// Directory of .gguf files, each served under its file name without .gguf
    /// (default: $HEARTH_MODELS, else ~/.local/share/hearth/models).
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Also serve this .gguf file, under its file stem (repeatable).
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// Require `Authorization: Bearer KEY` on every request (default: $HEARTH_API_KEY;
    /// prefer it: a flag shows in the process list).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Allow browser pages from this origin (repeatable; `*` for any). Default: none
    /// (requests from other web pages are refused; the server's own origin is always allowed).
    #[arg(long)]
    pub cors_origin: Vec<String>,
    /// Also answer requests addressed to this host name (repeatable; `*` for any). By
    /// default only loopback names and the address listened on are answered, so a web
    /// page on a DNS name pointed at this machine cannot use the server.
    #[arg(long, value_name = "NAME")]
    pub allowed_host: Vec<String>,
    /// Let /api/pull fetch any URL, also plain http and hosts of this machine or its
    /// network (default: catalog names, hf.co/ references and https URLs of other hosts).
    #[arg(long)]
    pub allow_any_pull: bool,
    /// Seconds a client may take to send a request's headers, and again its body;
    /// idle kept-alive connections are closed after it.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub read_timeout: f64,
    /// Connections open at once at most (also capped by the open-file limit); more
    /// wait until one closes.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Largest request body (e.g. 8M).
    #[arg(long, default_value = "8M")]
    pub max_body: String,
    /// Print prompts and outputs (off by default: they are private).
    #[arg(long)]
    pub log_prompts: bool,
    /// How long a model stays loaded after its last request (e.g. 5m, 1h, 0, -1 = forever).
    #[arg(long, default_value = "5m", allow_hyphen_values = true)]
    pub keep_alive: String,
    /// Model file bytes loaded at once at most; least recently used models are
    /// unloaded to make room (e.g. 8G; default: half the memory).
    #[arg(long)]
    pub memory_budget: Option<String>,
    /// How long /v1/responses keeps a stored response in memory for
    /// previous_response_id (e.g. 30m, 2h; 0 keeps none). Never on disk.
    #[arg(long, default_value = "30m")]
    pub responses_ttl: String,
    /// Sequences generated together per model at most.
    #[arg(long, default_value_t = 8)]
    pub parallel: usize,
    /// Requests waiting per model at most; more are refused with 503.
    #[arg(long, default_value_t = 64)]
    pub queue: usize,
    /// Context of one request in tokens (prompt + output), capped at the model's.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: usize,
    /// Context positions shared by all concurrent requests of one model.
    #[arg(long, default_value_t = 32768)]
    pub ctx_budget: usize,
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
    pub weights: WeightsArgs,
    /// (Speculative decoding here is the default of requests that do not set
    /// `speculative`; the draft model serves the models of its vocabulary.)
    #[command(flatten)]
    pub spec: SpecArgs,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Server address (default: $HEARTH_HOST, else 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Server port (default 11434).
    #[arg(long)]
    pub port: Option<u16>,
    /// API key (default: $HEARTH_API_KEY).
    #[arg(long)]
    pub api_key: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    pub json: bool,
}
