//! The real `openai` and `ollama` Python packages (installed by
//! scripts/setup-test-clients.sh into ~/.cache/hearth/venv-clients, or
//! $HEARTH_CLIENTS_VENV) drive the real server on a loopback port. Each test
//! starts its own server in this process on 127.0.0.1:0 and runs one script
//! of tests/clients/ against it.

use server::ServerConfig;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod common;

use common::TestServer;

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("HEARTH_CLIENTS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME"))
                .join(".cache/hearth/venv-clients")
        });
    let py = venv.join("bin/python");
    if py.exists() {
        return Some(py);
    }
    if std::env::var_os("CI").is_some() || std::env::var_os("HEARTH_REQUIRE_MODELS").is_some() {
        panic!(
            "{} missing; run scripts/setup-test-clients.sh",
            py.display()
        );
    }
    eprintln!(
        "skipping: {} missing (run scripts/setup-test-clients.sh)",
        py.display()
    );
    None
}

struct Opts {
    cfg: ServerConfig,
    parallel: usize,
    queue: usize,
    /// Model bytes loaded at once at most (0 = no limit).
    budget: u64,
    /// Also serve the synthetic embedding models (`bert-embed`,
    /// `nomic-embed`: scripts/setup-synthetic-models.sh).
    embedding: bool,
    /// Also serve the synthetic gpt-oss model (`gpt-oss`, `gpt-oss-think`).
    harmony: bool,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            cfg: ServerConfig {
                quiet: false,
                ..ServerConfig::default()
            },
            parallel: 8,
            queue: 64,
            budget: 0,
            embedding: false,
            harmony: false,
        }
    }
}

const THINK_TEMPLATE: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and enable_thinking is false %}\
<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}{% endif %}";

/// A server whose models directory holds the small test models (as
/// symlinks: `smollm2`, `qwen-coder`), or None when they are not fetched.
fn start(o: Opts) -> Option<TestServer> {
    let smol = test_models::model("smollm2-135m")?;
    let dir = tempfile::tempdir().unwrap();
    common::link(dir.path(), &smol, "smollm2.gguf");
    for (short, name) in [
        ("qwen2.5-coder-0.5b", "qwen-coder"),
        ("gemma3-270m", "gemma3"),
    ] {
        if let Some(p) = test_models::model(short) {
            common::link(dir.path(), &p, &format!("{name}.gguf"));
        }
    }
    // `thinker`: qwen2.5-coder with a thinking template beside it (as a
    // DeepSeek R1 distill's: the generation prompt opens the reasoning; as
    // Qwen3's: `enable_thinking=false` closes it empty)
    if let Some(p) = test_models::model("qwen2.5-coder-0.5b") {
        common::link(dir.path(), &p, "thinker.gguf");
        std::fs::write(dir.path().join("thinker.jinja"), THINK_TEMPLATE).unwrap();
    }
    if o.harmony {
        // `gpt-oss` as it ships and `gpt-oss-think` (its generation prompt
        // opening the analysis channel)
        let p = test_models::synthetic("gpt-oss-mxfp4.gguf")?;
        common::add_gpt_oss(dir.path(), &p);
    }
    if o.embedding {
        for (file, name) in [
            ("bert-f32.gguf", "bert-embed"),
            ("nomic-bert-f16.gguf", "nomic-embed"),
        ] {
            let p = test_models::synthetic(file)?;
            common::link(dir.path(), &p, &format!("{name}.gguf"));
        }
    }
    let sched = common::scheduler(o.parallel, o.queue, 16384, 2048);
    let manager = common::manager(dir.path(), Duration::from_secs(300), o.budget, sched);
    Some(common::serve(dir, manager, o.cfg))
}

fn run_script(srv: &TestServer, py: &PathBuf, script: &str, env: &[(&str, &str)]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let mut cmd = Command::new(py);
    cmd.arg(&path)
        .env("HEARTH_URL", format!("http://{}", srv.addr))
        .env("MODEL", "smollm2");
    cmd.env("MODELS_DIR", srv.dir.path());
    cmd.env("FIXTURES", test_models::fixtures_dir());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run python");
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    println!("{so}");
    eprintln!("{se}");
    assert!(out.status.success(), "{script} failed:\n{so}\n{se}");
}

fn with(script: &str, o: Opts, env: &[(&str, &str)]) {
    let _g = common::serial();
    let Some(py) = python() else { return };
    let Some(srv) = start(o) else { return };
    run_script(&srv, &py, script, env);
}

#[test]
fn openai_client() {
    with("openai_basic.py", Opts::default(), &[]);
}

#[test]
fn ollama_client() {
    // Its pull test fetches from a plain-http stand-in host on loopback,
    // which only `--allow-any-pull` lets through (`pull::tests` checks the refusal).
    let mut o = Opts::default();
    o.cfg.allow_any_pull = true;
    with("ollama_basic.py", o, &[]);
}

#[test]
fn eight_concurrent_streams_match_greedy_alone() {
    with("concurrency.py", Opts::default(), &[]);
}

#[test]
fn killed_client_frees_its_sequence() {
    // One sequence at a time: if the killed one kept running, the next
    // request would wait behind its long generation.
    with(
        "disconnect.py",
        Opts {
            parallel: 1,
            ..Opts::default()
        },
        &[],
    );
}

#[test]
fn full_queue_answers_503() {
    with(
        "queue_full.py",
        Opts {
            parallel: 1,
            queue: 1,
            ..Opts::default()
        },
        &[],
    );
}

#[test]
fn auth_cors_body_limit() {
    let cfg = ServerConfig {
        api_key: Some("s3cret-key".into()),
        cors_origins: vec!["http://allowed.example".into()],
        max_body: 64 * 1024,
        ..ServerConfig::default()
    };
    with(
        "security.py",
        Opts {
            cfg,
            ..Opts::default()
        },
        &[("API_KEY", "s3cret-key")],
    );
}

#[test]
fn no_cors_headers_by_default() {
    with("security.py", Opts::default(), &[("MODE", "open")]);
}

#[test]
fn memory_budget_unloads_least_recently_used() {
    // Room for qwen2.5-coder (~0.5 GB) but not for it and smollm2 together.
    with(
        "memory_budget.py",
        Opts {
            budget: 520_000_000,
            ..Opts::default()
        },
        &[],
    );
}

#[test]
fn embedding_models_embed_and_refuse_chat() {
    let fixtures = test_models::fixtures_dir().join("synthetic/embed");
    with(
        "embedding_models.py",
        Opts {
            embedding: true,
            ..Opts::default()
        },
        &[("EMBED_FIXTURES", fixtures.to_str().unwrap())],
    );
}

#[test]
fn every_model_family_chats() {
    with("families.py", Opts::default(), &[]);
}

#[test]
fn anthropic_client() {
    with("anthropic_basic.py", Opts::default(), &[]);
}

#[test]
fn openai_responses_client() {
    with("responses_basic.py", Opts::default(), &[]);
}

#[test]
fn health_metrics_tokenize() {
    with("ops.py", Opts::default(), &[]);
}

#[test]
fn modelfiles_through_the_ollama_client() {
    with("create.py", Opts::default(), &[]);
}

#[test]
fn api_key_guards_the_new_endpoints() {
    let cfg = ServerConfig {
        api_key: Some("k3y-for-new-apis".into()),
        ..ServerConfig::default()
    };
    with(
        "keys.py",
        Opts {
            cfg,
            ..Opts::default()
        },
        &[("API_KEY", "k3y-for-new-apis")],
    );
}

#[test]
fn stored_responses_expire() {
    let cfg = ServerConfig {
        responses_ttl: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    with(
        "responses_expiry.py",
        Opts {
            cfg,
            ..Opts::default()
        },
        &[],
    );
}

#[test]
fn structured_output_with_both_clients() {
    with("structured.py", Opts::default(), &[]);
}

#[test]
fn thinking_kept_apart_with_both_clients() {
    with("thinking.py", Opts::default(), &[]);
}

#[test]
fn web_pages_cannot_drive_the_server() {
    let cfg = ServerConfig {
        cors_origins: vec!["http://allowed.example".into()],
        allowed_hosts: vec!["box.lan".into()],
        ..ServerConfig::default()
    };
    with(
        "browser.py",
        Opts {
            cfg,
            ..Opts::default()
        },
        &[],
    );
}

#[test]
fn error_bodies_name_no_server_paths() {
    with("paths.py", Opts::default(), &[]);
}

/// gpt-oss's harmony read back through the server with the real clients:
/// `analysis` as reasoning (OpenAI `reasoning_content`, Ollama
/// `message.thinking`), `final` as the answer, a forced `commentary
/// to=functions.NAME` as a tool call; streamed and not.
#[test]
fn harmony_channels_with_both_clients() {
    with(
        "harmony.py",
        Opts {
            harmony: true,
            ..Opts::default()
        },
        &[],
    );
}
