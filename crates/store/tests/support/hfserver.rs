//! A real HTTP server on loopback that serves files the way Hugging Face does:
//! `/{owner}/{repo}/resolve/main/{file}` answers `302` with `X-Linked-Etag`
//! (the sha256, quoted) and `X-Linked-Size`, pointing at `/cdn/...`, which
//! serves the bytes with `Range` support. Faults can be injected per file:
//! drop the connection after N body bytes, throttle, announce a wrong sha256.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Fault {
    /// Close the connection after this many body bytes, for the next `times` responses.
    pub drop_after: Option<u64>,
    pub times: usize,
    /// Send the body in chunks of this size with this pause between them.
    pub throttle: Option<(usize, Duration)>,
    /// Announce this sha256 instead of the real one.
    pub wrong_sha: Option<String>,
    /// Ignore `Range` (always 200).
    pub no_range: bool,
}

struct File {
    data: Arc<Vec<u8>>,
    sha: String,
    fault: Fault,
}

#[derive(Default)]
struct State {
    files: HashMap<String, File>,
    /// (method, path, range start) of every request.
    log: Vec<(String, String, Option<u64>)>,
}

pub struct HfServer {
    pub base: String,
    state: Arc<Mutex<State>>,
}

pub fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

impl HfServer {
    pub fn start() -> HfServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let st = state.clone();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(c, &st);
                });
            }
        });
        HfServer { base, state }
    }

    /// Serve `data` as `repo` (`owner/name`) file `file`.
    pub fn add(&self, repo: &str, file: &str, data: Vec<u8>, fault: Fault) {
        let sha = sha256(&data);
        self.state.lock().unwrap().files.insert(
            format!("{repo}/{file}"),
            File {
                data: Arc::new(data),
                sha,
                fault,
            },
        );
    }

    /// The URL Hugging Face would give for the file.
    pub fn url(&self, repo: &str, file: &str) -> String {
        format!("{}/{repo}/resolve/main/{file}", self.base)
    }

    pub fn log(&self) -> Vec<(String, String, Option<u64>)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Range starts of the GETs of the file bytes.
    pub fn data_gets(&self) -> Vec<u64> {
        self.log()
            .into_iter()
            .filter(|l| l.0 == "GET" && l.1.starts_with("/cdn/"))
            .map(|l| l.2.unwrap_or(0))
            .collect()
    }
}

fn handle(c: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut r = BufReader::new(c.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range = v.trim().trim_end_matches('-').parse::<u64>().ok();
        }
    }
    let mut c = c;
    let mut s = st.lock().unwrap();
    s.log.push((method.clone(), path.clone(), range));
    if let Some(key) = path.strip_prefix("/cdn/") {
        let Some(f) = s.files.get_mut(key) else {
            return respond(&mut c, "404 Not Found", &[], b"");
        };
        let data = f.data.clone();
        let total = data.len() as u64;
        let fault = f.fault.clone();
        let drop_after = if f.fault.times > 0 && method == "GET" {
            f.fault.times -= 1;
            f.fault.drop_after
        } else {
            None
        };
        drop(s);
        let start = if fault.no_range {
            0
        } else {
            range.unwrap_or(0)
        };
        if start > total || (start == total && range.is_some()) {
            return respond(
                &mut c,
                "416 Range Not Satisfiable",
                &[("Content-Range", format!("bytes */{total}"))],
                b"",
            );
        }
        let body = &data[start as usize..];
        let mut headers = vec![
            ("Content-Length", body.len().to_string()),
            ("Accept-Ranges", "bytes".into()),
        ];
        let status = if start > 0 {
            headers.push((
                "Content-Range",
                format!("bytes {start}-{}/{total}", total - 1),
            ));
            "206 Partial Content"
        } else {
            "200 OK"
        };
        write_head(&mut c, status, &headers)?;
        if method == "HEAD" {
            return Ok(());
        }
        let limit = drop_after.map_or(body.len(), |n| (n as usize).min(body.len()));
        let (chunk, pause) = fault.throttle.unwrap_or((1 << 20, Duration::ZERO));
        for piece in body[..limit].chunks(chunk.max(1)) {
            c.write_all(piece)?;
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        c.flush()?;
        let _ = c.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    if let Some((repo_file, _)) = path
        .split_once("/resolve/main/")
        .map(|(a, b)| (format!("{}/{b}", a.trim_start_matches('/')), ()))
    {
        let Some(f) = s.files.get(&repo_file) else {
            return respond(
                &mut c,
                "404 Not Found",
                &[("X-Error-Code", "EntryNotFound".into())],
                b"Entry not found",
            );
        };
        let sha = f.fault.wrong_sha.clone().unwrap_or_else(|| f.sha.clone());
        let size = f.data.len();
        drop(s);
        return respond(
            &mut c,
            "302 Found",
            &[
                ("Location", format!("/cdn/{repo_file}")),
                ("X-Linked-Etag", format!("\"{sha}\"")),
                ("X-Linked-Size", size.to_string()),
                ("ETag", "\"gitsha\"".into()),
            ],
            b"",
        );
    }
    respond(&mut c, "404 Not Found", &[], b"")
}

fn write_head(c: &mut TcpStream, status: &str, headers: &[(&str, String)]) -> std::io::Result<()> {
    let mut h = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    c.write_all(h.as_bytes())
}

fn respond(
    c: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut hs = headers.to_vec();
    hs.push(("Content-Length", body.len().to_string()));
    write_head(c, status, &hs)?;
    c.write_all(body)?;
    c.flush()
}

/// A small valid GGUF model file: `n` f32 values in one tensor, plus metadata.
pub fn tiny_gguf(n: usize, seed: u32) -> Vec<u8> {
    let mut w = gguf::GgufWriter::new();
    w.set_str("general.architecture", "llama");
    w.set_str("general.license", "apache-2.0");
    w.set_u32("llama.context_length", 256);
    let vals: Vec<f32> = (0..n)
        .map(|i| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) as f32)
        .collect();
    w.add_f32("token_embd.weight", &[64, (n / 64) as u64], &vals)
        .unwrap();
    w.to_bytes()
}
