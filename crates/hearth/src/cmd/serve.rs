//! `hearth serve`: the OpenAI- and Ollama-compatible HTTP API (crate
//! `server`). Loopback by default; prints where it listens, the models it
//! has, and one line per request without its content.

use crate::cli::ServeArgs;
use crate::exit::{InputError, UsageError};
use engine::scheduler::SchedulerConfig;
use server::catalog::Catalog;
use server::{AppState, KeepAlive, Manager, ServerConfig};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub const DEFAULT_PORT: u16 = 11434;

/// Where to listen or connect: `--host`/`--port`, else `HEARTH_HOST`
/// (`HOST` or `HOST:PORT`), else 127.0.0.1:11434.
pub fn address(host: Option<&str>, port: Option<u16>) -> anyhow::Result<SocketAddr> {
    let env = std::env::var("HEARTH_HOST").ok().filter(|s| !s.is_empty());
    let spec = host
        .map(str::to_string)
        .or(env)
        .unwrap_or_else(|| "127.0.0.1".into());
    let spec = spec
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (h, p) = match spec.parse::<SocketAddr>() {
        Ok(sa) => (sa.ip(), Some(sa.port())),
        Err(_) => match spec.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
                (parse_ip(h)?, p.parse().ok())
            }
            _ => (parse_ip(spec.trim_matches(['[', ']']))?, None),
        },
    };
    Ok(SocketAddr::new(h, port.or(p).unwrap_or(DEFAULT_PORT)))
}

fn parse_ip(h: &str) -> anyhow::Result<IpAddr> {
    if h == "localhost" {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    h.parse().map_err(|_| {
        InputError(format!(
            "--host '{h}' is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)"
        ))
        .into()
    })
}

/// The API key: `--api-key`, else `HEARTH_API_KEY`; an empty one is an
/// error (it would otherwise mean "no key" and open the server silently).
fn api_key(
    flag: Option<String>,
    env: Option<std::ffi::OsString>,
) -> anyhow::Result<Option<String>> {
    if let Some(k) = flag {
        if k.trim().is_empty() {
            return Err(UsageError(
                "--api-key is empty: give a key, or leave the flag out to serve without one".into(),
            )
            .into());
        }
        return Ok(Some(k));
    }
    match env {
        None => Ok(None),
        Some(k) => {
            let k = k
                .into_string()
                .map_err(|_| UsageError("HEARTH_API_KEY is not valid UTF-8".into()))?;
            if k.trim().is_empty() {
                return Err(UsageError(
                    "HEARTH_API_KEY is set but empty: set a key, or unset it (`unset HEARTH_API_KEY`) to serve without one"
                        .into(),
                )
                .into());
            }
            Ok(Some(k))
        }
    }
}

/// `--max-connections`, lowered so that connections cannot use up the
/// process's open-file limit (model files, the store and pip need some).
fn connection_cap(wanted: usize) -> usize {
    let wanted = wanted.max(1);
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the limits into `lim`, a valid rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0
            && lim.rlim_cur != libc::RLIM_INFINITY
        {
            let reserve = 64u64;
            #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
            let room = (lim.rlim_cur as u64).saturating_sub(reserve).max(8);
            return wanted.min(room as usize);
        }
    }
    wanted
}

/// "8G", "512M", "1.5GiB", a number of bytes.
fn parse_size(s: &str) -> anyhow::Result<u64> {
    let t = s.trim().to_ascii_uppercase();
    let t = t.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| InputError(format!("'{s}' is not a size (e.g. 8G, 512M)")))?;
    Ok((n * mult as f64) as u64)
}

/// Half of the machine's memory (Linux), else no limit.
fn default_budget() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/meminfo") else {
        return 0;
    };
    s.lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<u64>().ok())
        .map(|kb| kb * 1024 / 2)
        .unwrap_or(0)
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let addr = address(a.host.as_deref(), a.port)?;
    let open = a.open;
    let dir = a.models_dir.clone().unwrap_or_else(store::default_root); // the model store (same as catalog::default_dir on Linux)
    for p in &a.model {
        if !p.is_file() {
            return Err(InputError(format!("--model {}: no such file", p.display())).into());
        }
    }
    let cat = Catalog::new(Some(dir.clone()), a.model.clone());
    let keep_alive = KeepAlive::parse(&serde_json::Value::String(a.keep_alive.clone()))
        .map_err(|e| InputError(format!("--keep-alive: {e}")))?;
    let budget = match &a.memory_budget {
        Some(s) => parse_size(s)?,
        None => default_budget(),
    };
    let threads = a.threads.unwrap_or_else(engine::default_threads).max(1);
    let sched = SchedulerConfig {
        threads,
        max_active: a.parallel.max(1),
        max_queue: a.queue.max(1),
        ctx_budget: a.ctx_budget.max(a.ctx_size),
        max_seq_ctx: a.ctx_size.max(16),
    };
    let api_key = api_key(a.api_key.clone(), std::env::var_os("HEARTH_API_KEY"))?;
    let read_timeout = match std::time::Duration::try_from_secs_f64(a.read_timeout) {
        Ok(d) if a.read_timeout > 0.0 && d.as_secs() <= 365 * 24 * 3600 => d,
        _ => {
            return Err(UsageError(format!(
                "--read-timeout {} must be a number of seconds above 0 (at most a year)",
                a.read_timeout
            ))
            .into())
        }
    };
    let cfg = ServerConfig {
        api_key,
        cors_origins: a.cors_origin.clone(),
        max_body: parse_size(&a.max_body)? as usize,
        log_prompts: a.log_prompts,
        quiet: false,
        // (the address listened on, --host, is always answered to)
        allowed_hosts: a.allowed_host.clone(),
        allow_any_pull: a.allow_any_pull,
        read_timeout,
        max_connections: connection_cap(a.max_connections),
        responses_ttl: match KeepAlive::parse(&serde_json::Value::String(a.responses_ttl.clone())) {
            Ok(KeepAlive::For(d)) => d,
            _ => {
                return Err(InputError(format!(
                    "--responses-ttl '{}' is not a duration (e.g. 30m, 2h, 0 to keep none)",
                    a.responses_ttl
                ))
                .into())
            }
        },
        ..ServerConfig::default()
    };
    let models = cat.list();
    let secured = cfg.api_key.is_some();
    // The draft model, loaded once, drafts for every served model of its vocabulary.
    let draft = match &a.spec.draft {
        None => None,
        Some(name) => {
            let opts = engine::LoadOptions {
                ctx: engine::Ctx::AtMost(a.ctx_size.max(16)),
                cache: engine::Cache::Sequences(a.parallel.max(1)),
                panels: None,
                mapped: a.weights.mmap,
            };
            let d = super::load_generator(name, &opts)?.model;
            eprintln!("hearth serve: draft model {}", d.path.display());
            Some(Arc::new(engine::DraftModel::new(d)))
        }
    };
    let state = Arc::new(AppState::new(
        Manager::new(cat, keep_alive, budget, sched)
            .with_panel_cache(!a.no_panel_cache)
            .with_mapped(a.weights.mmap)
            .with_speculation(a.spec.speculation(), draft),
        cfg,
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {addr}: {e}; another server may use this port (try --port)"
            )
        })?;
        let local = listener.local_addr()?;
        let page = super::browser::page_url(local);
        eprintln!("hearth serve: listening on http://{local}");
        eprintln!("  chat in your browser: {}", super::browser::link(&page));
        eprintln!("  OpenAI API: http://{local}/v1   Ollama API: http://{local}/api");
        if !local.ip().is_loopback() {
            eprintln!(
                "  warning: reachable from other machines{}",
                if secured {
                    ""
                } else {
                    " WITHOUT an API key (set --api-key or HEARTH_API_KEY)"
                }
            );
        }
        if secured {
            eprintln!("  API key required (Authorization: Bearer ...)");
        }
        eprintln!(
            "  models: {} from {}{}",
            models.len(),
            dir.display(),
            if models.is_empty() {
                " (none yet: put .gguf files there or pass --model PATH)"
            } else {
                ""
            }
        );
        for m in &models {
            eprintln!(
                "    {:<32} {:>8.1} MB  {}",
                m.name,
                m.size as f64 / 1e6,
                m.path.display()
            );
        }
        if open {
            if let Err(note) = super::browser::open(&page) {
                eprintln!("  {note}");
            }
        }
        server::run(listener, state, shutdown_signal()).await?;
        eprintln!("hearth serve: stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    // Streams still open get a few seconds to finish, then the process ends.
    std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_secs(5));
        eprintln!("hearth serve: stopped (requests still streaming were cut off)");
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::{address, parse_size};

    #[test]
    fn addresses() {
        // HEARTH_HOST is not set in the test environment unless by hand.
        if std::env::var_os("HEARTH_HOST").is_some() {
            return;
        }
        assert_eq!(address(None, None).unwrap().to_string(), "127.0.0.1:11434");
        assert_eq!(
            address(Some("0.0.0.0"), Some(8080)).unwrap().to_string(),
            "0.0.0.0:8080"
        );
        assert_eq!(
            address(Some("127.0.0.1:9000"), None).unwrap().to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(
            address(Some("http://localhost:9000/"), None)
                .unwrap()
                .to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(
            address(Some("::1"), Some(1)).unwrap().to_string(),
            "[::1]:1"
        );
        assert_eq!(
            address(Some("[::1]:7"), None).unwrap().to_string(),
            "[::1]:7"
        );
        assert!(address(Some("example.com"), None).is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8M").unwrap(), 8 << 20);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
    }
}
