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
    assert!(
        !rest.contains(secret),
        "the prompt must not be logged: {rest}"
    );
}
