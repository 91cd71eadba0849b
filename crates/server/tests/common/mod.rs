//! The set-up the server's socket tests share (`mod common;` in spec.rs,
//! clients.rs, web.rs, harmony.rs): a models directory of symlinks, and the
//! real server on 127.0.0.1:0 in this process, on a thread of its own,
//! stopped when its [`TestServer`] is dropped. What each test serves (its
//! models, scheduler, keep-alive, configuration) stays in the test.

// each test binary uses its own part of this
#![allow(dead_code)]

use engine::scheduler::SchedulerConfig;
use server::catalog::Catalog;
use server::{AppState, KeepAlive, Manager, ServerConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One server at a time: the machine is small (and some tests time things).
static SERIAL: Mutex<()> = Mutex::new(());

/// Hold while a test's server runs (a test that failed before does not
/// stop the others).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The models directory (kept as long as the server).
    pub dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `target` in the models directory `dir` as `name` (a symlink).
pub fn link(dir: &Path, target: &Path, name: &str) {
    std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
}

/// The synthetic gpt-oss file `p` (real o200k_harmony vocabulary and chat
/// template, random weights) in `dir` as `gpt-oss` (its template as it
/// ships: the generation prompt is `<|start|>assistant`) and as
/// `gpt-oss-think` (the same template, its generation prompt opening the
/// analysis channel, so the thinking budget's closing text writes the
/// final channel).
pub fn add_gpt_oss(dir: &Path, p: &Path) {
    link(dir, p, "gpt-oss.gguf");
    link(dir, p, "gpt-oss-think.gguf");
    let g = gguf::GgufFile::open(p).unwrap();
    let tpl = g.get_str("tokenizer.chat_template").unwrap();
    let gen = "<|start|>assistant\n{%- endif -%}";
    assert!(
        tpl.trim_end().ends_with(gen),
        "gpt-oss template's generation prompt"
    );
    let think = tpl.trim_end().strip_suffix(gen).unwrap().to_string()
        + "<|start|>assistant<|channel|>analysis<|message|>\n{%- endif -%}";
    std::fs::write(dir.join("gpt-oss-think.jinja"), think).unwrap();
}

/// The scheduler of a test server: 2 threads, the rest as given.
pub fn scheduler(
    max_active: usize,
    max_queue: usize,
    ctx_budget: usize,
    max_seq_ctx: usize,
) -> SchedulerConfig {
    SchedulerConfig {
        threads: 2,
        max_active,
        max_queue,
        ctx_budget,
        max_seq_ctx,
    }
}

/// The models of `dir` (no store), kept loaded `keep_alive` after their last
/// request, at most `budget` bytes of them at once (0: no limit).
pub fn manager(dir: &Path, keep_alive: Duration, budget: u64, sched: SchedulerConfig) -> Manager {
    let cat = Catalog::new(Some(dir.to_path_buf()), Vec::new());
    Manager::new(cat, KeepAlive::For(keep_alive), budget, sched)
}

/// Serve `manager` with `cfg` on 127.0.0.1:0 (a tokio runtime of 2 workers
/// on a thread of its own) until the returned server is dropped; `dir`, the
/// models directory, lives as long.
pub fn serve(dir: tempfile::TempDir, manager: Manager, cfg: ServerConfig) -> TestServer {
    let state = Arc::new(AppState::new(manager, cfg));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(l.local_addr().unwrap()).unwrap();
            server::run(l, state, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().unwrap();
    TestServer {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
        dir,
    }
}
