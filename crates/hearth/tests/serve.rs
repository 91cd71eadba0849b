//! `hearth serve` as a program: prints where it listens and the models,
//! one line per request without the prompt or the answer; `hearth ps`
//! talks to it. (The APIs themselves are tested in crates/server.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn post(addr: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(s, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_prints_address_models_and_request_lines_without_content() {
    let Some(model) = test_models::model("smollm2-135m") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--models-dir"])
        .arg(dir.path())
        .arg("--model")
        .arg(&model)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    assert!(first.contains("listening on http://127.0.0.1:"), "{first}");
    let stem = model.file_stem().unwrap().to_str().unwrap().to_string();

    let secret = "purple-elephant-secret-prompt";
    let body = format!(
        r#"{{"model":"{stem}","messages":[{{"role":"user","content":"{secret}"}}],"max_tokens":4,"temperature":0}}"#
    );
    let r = post(&addr, "/v1/chat/completions", &body);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = post(
        &addr,
        "/v1/chat/completions",
        r#"{"model":"nope","messages":[]}"#,
    );
    assert!(r.starts_with("HTTP/1.1 4"), "{r}");

    let ps = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["ps", "--host", &addr])
        .output()
        .unwrap();
    let ps_out = String::from_utf8_lossy(&ps.stdout);
    assert!(
        ps.status.success() && ps_out.contains(&stem),
        "{ps_out} {}",
        String::from_utf8_lossy(&ps.stderr)
    );

    // listings, copy and delete get a line too
    let get = {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /api/tags HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get.starts_with("HTTP/1.1 200"), "{get}");
    let r = post(
        &addr,
        "/api/copy",
        &format!(r#"{{"source":"{stem}","destination":"logged-copy"}}"#),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = {
        let mut s = TcpStream::connect(&addr).unwrap();
        let body = r#"{"model":"logged-copy"}"#;
        write!(s, "DELETE /api/delete HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    // a client that leaves after the first tokens: its line counts them
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        let body = format!(
            r#"{{"model":"{stem}","prompt":"Count from one to a hundred:","options":{{"num_predict":400,"temperature":0}}}}"#
        );
        write!(s, "POST /api/generate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        let mut r = BufReader::new(s);
        let mut tokens = 0;
        let mut line = String::new();
        while tokens < 3 {
            line.clear();
            assert!(r.read_line(&mut line).unwrap() > 0);
            if line.contains("\"done\":false") {
                tokens += 1;
            }
        }
    }
    // one that leaves while its whole (non-streamed) answer is being made:
    // its line counts the prompt read before it left
    {
        let mut s = TcpStream::connect(&addr).unwrap();
        let body = format!(
            r#"{{"model":"{stem}","messages":[{{"role":"user","content":"Count from one to a hundred:"}}],"max_tokens":400,"temperature":0,"ignore_eos":true}}"#
        );
        write!(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        std::thread::sleep(Duration::from_millis(800));
    }
    std::thread::sleep(Duration::from_millis(1500));

    // Stop it (SIGTERM via kill) and read everything it printed.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    let _ = child.wait();
    assert!(rest.contains(&stem), "models listed: {rest}");
    assert!(
        rest.contains(&format!("POST /v1/chat/completions model={stem} in="))
            && rest.contains("out=4"),
        "{rest}"
    );
    assert!(
        rest.contains("tok/s=") && rest.contains("status=200"),
        "{rest}"
    );
    assert!(
        rest.contains("status=400"),
        "refused requests get a line too: {rest}"
    );
    for want in [
        "GET /api/tags time=",
        "POST /api/copy time=",
        "DELETE /api/delete time=",
    ] {
        let line = rest.lines().find(|l| l.contains(want));
        assert!(
            line.is_some_and(|l| l.contains("status=200")),
            "{want}: {rest}"
        );
    }
    let left = rest
        .lines()
        .find(|l| l.contains("/api/generate") && l.contains("status=499"))
        .unwrap_or_else(|| panic!("the disconnect is logged: {rest}"));
    assert!(
        !left.contains(" in=0 ") && !left.contains(" out=0 "),
        "logged with what it cost: {left}"
    );
    let left = rest
        .lines()
        .find(|l| l.contains("/v1/chat/completions") && l.contains("status=499"))
        .unwrap_or_else(|| panic!("the non-streamed disconnect is logged: {rest}"));
    assert!(!left.contains(" in=0 "), "logged with what it cost: {left}");
    assert!(
        !rest.contains(secret),
        "the prompt must not be logged: {rest}"
    );
}

/// Start `hearth serve` on a free port with `args`, its open-file limit set
/// to `nofile` (None: inherited); returns the child and its address.
fn spawn_serve(
    args: &[&str],
    nofile: Option<u64>,
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStderr>,
) {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.args(["serve", "--port", "0"])
        .args(args)
        .stderr(Stdio::piped());
    if let Some(n) = nofile {
        // SAFETY: setrlimit is async-signal-safe; it only lowers this child's limit.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("listening on http://"), "{first}");
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    (child, addr, err)
}

#[test]
fn idle_and_half_sent_connections_do_not_starve_the_server() {
    // 300 connections that never finish a request, under a 256-file limit
    // (as the issue found): idle ones, headers cut off, bodies cut off. A
    // real request must still be answered once the read timeout has passed.
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, _err) = spawn_serve(
        &[
            "--read-timeout",
            "2",
            "--models-dir",
            dir.path().to_str().unwrap(),
        ],
        Some(256),
    );
    let mut held = Vec::new();
    for i in 0..300 {
        let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5))
        else {
            continue; // the kernel's queue is full: also a connection that got nowhere
        };
        match i % 3 {
            0 => {}
            1 => {
                let _ = write!(s, "POST /api/show HTTP/1.1\r\nHost: {addr}\r\nContent-Ty");
            }
            _ => {
                let _ = write!(s, "POST /api/show HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\":");
            }
        }
        held.push(s);
    }
    let t = std::time::Instant::now();
    let r = std::thread::scope(|sc| {
        let h = sc.spawn(|| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            write!(
                s,
                "GET /api/version HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        });
        h.join().unwrap()
    });
    let waited = t.elapsed();
    // a kept-alive connection left idle is closed after the read timeout
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /api/version HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let idle = std::time::Instant::now();
    let mut rest = Vec::new();
    let closed = s.read_to_end(&mut rest).is_ok();
    let idle = idle.elapsed();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    drop(held);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(
        waited < Duration::from_secs(15),
        "the real request waited {waited:?}"
    );
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        closed && idle < Duration::from_secs(10),
        "idle keep-alive connection closed after {idle:?}"
    );
}

#[test]
fn empty_api_key_is_an_error_not_an_open_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (args, env) in [
        (
            vec!["serve", "--port", "0", "--models-dir", d, "--api-key", ""],
            None,
        ),
        (
            vec!["serve", "--port", "0", "--models-dir", d, "--api-key", "  "],
            None,
        ),
        (vec!["serve", "--port", "0", "--models-dir", d], Some("")),
    ] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
        c.args(&args).stdin(Stdio::null());
        match env {
            Some(v) => c.env("HEARTH_API_KEY", v),
            None => c.env_remove("HEARTH_API_KEY"),
        };
        // a server that starts would run until killed: give it 10 s
        let mut child = c
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if t.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "{args:?} {env:?}: {err}"
        );
        assert!(err.contains("empty") && !err.contains("listening"), "{err}");
    }
}

/// `--read-timeout` past what a `Duration` holds was a panic (exit 101);
/// it is a usage error like 0 and NaN.
#[test]
fn read_timeout_out_of_range_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for t in ["1e300", "0", "NaN", "inf"] {
        let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .args([
                "serve",
                "--port",
                "0",
                "--models-dir",
                d,
                "--read-timeout",
                t,
            ])
            .env_remove("HEARTH_API_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--read-timeout {t}: {err}");
        assert!(err.contains("--read-timeout"), "{err}");
    }
}
