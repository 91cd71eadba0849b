//! A model file with a hostile chat template (a nested loop that writes
//! without end: it hung `hearth run` growing 10 MB/s, and in `serve` kept
//! rendering on a runtime worker after the client left, stalling another
//! model's requests). Both must end quickly with a clear error, and the
//! server must keep answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NESTED: &str = "{% for m in messages %}{% for a in range(100000) %}{% for b in range(100000) %}{{ m.content }}{% endfor %}{% endfor %}{% endfor %}";

/// `src` rewritten to `dst` with `tokenizer.chat_template` set to `template`.
fn with_template(src: &Path, dst: &Path, template: &str) {
    let f = gguf::GgufFile::open(src).unwrap();
    let mut w = gguf::GgufWriter::new().alignment(f.alignment);
    for (k, v) in &f.metadata {
        w.set(k, v.clone());
    }
    w.set_str("tokenizer.chat_template", template);
    for t in &f.tensors {
        w.add_tensor(&t.name, &t.dims, t.ty, f.tensor_data(t).to_vec())
            .unwrap();
    }
    w.write(dst).unwrap();
}

fn hostile_model(dir: &Path) -> Option<std::path::PathBuf> {
    let smol = test_models::model("smollm2-135m")?;
    let p = dir.join("hostile.gguf");
    with_template(&smol, &p, NESTED);
    std::os::unix::fs::symlink(&smol, dir.join("smollm2.gguf")).unwrap();
    Some(p)
}

/// Wait for `child` at most `limit`; kill it if it is still running.
fn wait_at_most(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_stops_a_hostile_template_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(model) = hostile_model(dir.path()) else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["run", "--temperature", "0", "-n", "4"])
        .arg(&model)
        .arg("hi")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // alone it ends in about a second; the machine may be busy
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = status.expect("hearth run did not end within 60 s");
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("chat template") && err.contains("was stopped") && err.contains("--raw"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // the way around it works: the same file as plain completion
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["run", "--raw", "--temperature", "0", "-n", "4"])
        .arg(&model)
        .arg("The capital of France is")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn request(addr: &str, method: &str, path: &str, body: &str, timeout: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn serve_stops_hostile_templates_and_keeps_answering_other_models() {
    let dir = tempfile::tempdir().unwrap();
    if hostile_model(dir.path()).is_none() {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--models-dir"])
        .arg(dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    let chat = |model: &str| {
        format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"max_tokens":3,"temperature":0}}"#
        )
    };
    // load both models first, so what follows measures only the requests
    let r = request(
        &addr,
        "POST",
        "/v1/chat/completions",
        &chat("smollm2"),
        Duration::from_secs(120),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // clients that send a hostile request and leave at once, more than the
    // runtime has workers (2), then ones that wait for the answer
    for _ in 0..4 {
        let mut s = TcpStream::connect(&addr).unwrap();
        let b = chat("hostile");
        write!(s, "POST /api/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()).unwrap();
    }
    let t = Instant::now();
    let waiting: Vec<_> = (0..2)
        .map(|_| {
            let (addr, b) = (addr.clone(), chat("hostile"));
            std::thread::spawn(move || {
                request(
                    &addr,
                    "POST",
                    "/v1/chat/completions",
                    &b,
                    Duration::from_secs(120),
                )
            })
        })
        .collect();
    // another model's request is answered meanwhile
    let other = request(
        &addr,
        "POST",
        "/v1/chat/completions",
        &chat("smollm2"),
        Duration::from_secs(60),
    );
    let other_took = t.elapsed();
    let hostile: Vec<String> = waiting.into_iter().map(|h| h.join().unwrap()).collect();
    let hostile_took = t.elapsed();
    let version = request(&addr, "GET", "/api/version", "", Duration::from_secs(10));
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    assert!(version.starts_with("HTTP/1.1 200"), "{version}");
    for h in &hostile {
        assert!(h.starts_with("HTTP/1.1 500"), "{h}");
        assert!(
            h.contains("chat template") && h.contains("was stopped"),
            "{h}"
        );
    }
    // generous bounds for a busy machine; alone both take a few seconds
    assert!(other_took < Duration::from_secs(60), "{other_took:?}");
    assert!(hostile_took < Duration::from_secs(100), "{hostile_took:?}");
}
