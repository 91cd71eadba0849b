//! One answer everywhere (issue 23): `hearth list`/`show` and the server's
//! `/api/tags`, `/api/ps`, `/api/show` say the same about the same file — the
//! file's own `general.file_type`, the manifest's sha256 as the digest, the
//! whole `model_info` with the capabilities — and `/api/copy` makes a store
//! entry that `list` and `rm` see. Real models, the real binary, a real server.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn hearth(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HEARTH_MODELS", store)
        .env("HEARTH_OFFLINE", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status: u16 = out[9..12].parse().unwrap();
    let (_, b) = out.split_once("\r\n\r\n").unwrap();
    (status, serde_json::from_str(b).unwrap_or(Value::Null))
}

struct Serve(std::process::Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(store: &Path) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["serve", "--port", "0", "--models-dir"])
        .arg(store)
        .env("HEARTH_OFFLINE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("listening on http://"), "{first}");
    let addr = first.trim().rsplit("http://").next().unwrap().to_string();
    // keep reading its log so that it never blocks on a full pipe
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    (Serve(child), addr)
}

#[test]
fn list_show_and_the_server_give_one_answer() {
    let (Some(gemma), Some(qwen)) = (
        test_models::model("gemma3-270m"),
        test_models::model("qwen2.5-coder-0.5b"),
    ) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("models");
    ok(&hearth(
        &store,
        &["import", gemma.to_str().unwrap(), "--name", "g3:270m"],
    ));
    ok(&hearth(
        &store,
        &["import", qwen.to_str().unwrap(), "--name", "coder:0.5b"],
    ));

    // the file's own general.file_type (15 = Q4_K_M), not the type most of
    // its matrices have (Q5_0 by count: the answer `list` gave)
    let list: Value = serde_json::from_str(&ok(&hearth(&store, &["list", "--json"]))).unwrap();
    let g = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "g3")
        .unwrap()
        .clone();
    assert_eq!(g["quantization"], "Q4_K_M", "{list}");
    let shown = ok(&hearth(&store, &["show", "g3:270m"]));
    assert!(shown.contains("Q4_K_M"), "{shown}");
    let sha = g["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha.len(), 64);

    let (_srv, addr) = serve(&store);
    let (st, tags) = request(&addr, "GET", "/api/tags", None);
    assert_eq!(st, 200);
    let t = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "g3:270m")
        .unwrap_or_else(|| panic!("{tags}"));
    assert_eq!(t["details"]["quantization_level"], "Q4_K_M", "{t}");
    assert_eq!(
        t["digest"],
        sha.as_str(),
        "the digest is the manifest's sha256"
    );

    // the whole model_info; the vocabulary only when asked for
    let (st, show) = request(
        &addr,
        "POST",
        "/api/show",
        Some(&json!({"model": "g3:270m"})),
    );
    assert_eq!(st, 200, "{show}");
    let info = &show["model_info"];
    assert_eq!(info["general.architecture"], "gemma3");
    assert_eq!(info["general.file_type"], 15);
    assert!(info["gemma3.block_count"].as_u64().unwrap() > 0, "{info}");
    assert!(info["gemma3.attention.head_count"].is_u64(), "{info}");
    assert!(info["general.parameter_count"].as_u64().unwrap() > 200_000_000);
    assert!(
        info["tokenizer.ggml.tokens"].is_null(),
        "vocabulary left out"
    );
    let caps = show["capabilities"].as_array().unwrap();
    assert!(caps.contains(&json!("completion")), "{show}");
    assert!(
        !caps.contains(&json!("tools")),
        "gemma3's template has no tools"
    );
    let (_, verbose) = request(
        &addr,
        "POST",
        "/api/show",
        Some(&json!({"model": "g3:270m", "verbose": true})),
    );
    assert!(
        verbose["model_info"]["tokenizer.ggml.tokens"]
            .as_array()
            .unwrap()
            .len()
            > 200_000
    );
    let (_, show) = request(&addr, "POST", "/api/show", Some(&json!({"model": "coder"})));
    let caps = show["capabilities"].as_array().unwrap();
    assert!(
        caps.contains(&json!("tools")),
        "qwen2.5-coder's template renders tools: {show}"
    );

    // a loaded model's digest in /api/ps is the same
    let (st, _) = request(
        &addr,
        "POST",
        "/api/generate",
        Some(
            &json!({"model": "g3:270m", "prompt": "Hi", "stream": false, "options": {"num_predict": 1}}),
        ),
    );
    assert_eq!(st, 200);
    let (_, ps) = request(&addr, "GET", "/api/ps", None);
    let p = &ps["models"].as_array().unwrap()[0];
    assert_eq!(p["digest"], sha.as_str(), "{ps}");

    // /api/copy: a store entry that `list` and `rm` see, with the same digest
    let (st, body) = request(
        &addr,
        "POST",
        "/api/copy",
        Some(&json!({"source": "g3:270m", "destination": "mine"})),
    );
    assert_eq!(st, 200, "{body}");
    let list: Value = serde_json::from_str(&ok(&hearth(&store, &["list", "--json"]))).unwrap();
    let copy = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "mine" && m["tag"] == "latest")
        .unwrap_or_else(|| panic!("the copy is not listed: {list}"));
    assert_eq!(copy["sha256"], sha.as_str());
    assert!(!store.join("mine.gguf").exists(), "no loose file");
    let (st, body) = request(
        &addr,
        "POST",
        "/api/copy",
        Some(&json!({"source": "g3:270m", "destination": "mine"})),
    );
    assert_eq!(st, 400, "a second copy onto the name is refused: {body}");
    ok(&hearth(&store, &["rm", "mine"]));
    let (_, tags) = request(&addr, "GET", "/api/tags", None);
    assert!(
        !tags.to_string().contains("mine"),
        "removed with rm, gone from the server's list: {tags}"
    );
    // and /api/delete removes a copy as Ollama's does
    let (st, _) = request(
        &addr,
        "POST",
        "/api/copy",
        Some(&json!({"source": "coder", "destination": "c2:x"})),
    );
    assert_eq!(st, 200);
    let (st, body) = request(
        &addr,
        "DELETE",
        "/api/delete",
        Some(&json!({"model": "c2:x"})),
    );
    assert_eq!(st, 200, "{body}");
    let list = ok(&hearth(&store, &["list", "--json"]));
    assert!(!list.contains("\"c2\""), "{list}");
    // the imported originals are untouched
    assert!(
        list.contains("\"g3\"") && list.contains("\"coder\""),
        "{list}"
    );
}
