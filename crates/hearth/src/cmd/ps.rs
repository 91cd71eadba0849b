//! `hearth ps`: the models a running `hearth serve` has loaded (its
//! `/api/ps`), over plain HTTP/1.1 on the loopback.

use crate::cli::PsArgs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub fn run(a: PsArgs) -> anyhow::Result<()> {
    let v = request(
        a.host.as_deref(),
        a.port,
        a.api_key.as_deref(),
        "GET",
        "/api/ps",
        None,
    )?;
    if a.json {
        println!("{v}");
        return Ok(());
    }
    let models = v["models"].as_array().cloned().unwrap_or_default();
    if models.is_empty() {
        println!("no models loaded");
        return Ok(());
    }
    println!(
        "{:<32} {:>10} {:>8} {:>7}  UNTIL",
        "NAME", "SIZE", "CONTEXT", "ACTIVE"
    );
    for m in models {
        let size = m["size"].as_u64().unwrap_or(0) as f64 / 1e6;
        let until = m["expires_at"].as_str().unwrap_or("");
        let until = if until.starts_with("0001") {
            "forever".to_string()
        } else {
            until.to_string()
        };
        println!(
            "{:<32} {:>7.1} MB {:>8} {:>7}  {}",
            m["name"].as_str().unwrap_or(""),
            size,
            m["context_length"].as_u64().unwrap_or(0),
            m["active_requests"].as_u64().unwrap_or(0),
            until
        );
    }
    Ok(())
}

/// One request to the running server (`--host`/`--port`, else
/// `HEARTH_HOST`; the key from `--api-key` or `HEARTH_API_KEY`), its JSON
/// answer; an error status is an error with the server's message.
pub fn request(
    host: Option<&str>,
    port: Option<u16>,
    api_key: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let addr = super::serve::address(host, port)?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| {
        anyhow::anyhow!("no hearth server at {addr} ({e}); start one with `hearth serve`")
    })?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let key = api_key
        .map(str::to_string)
        .or_else(|| std::env::var("HEARTH_API_KEY").ok())
        .filter(|k| !k.is_empty());
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let body = body.unwrap_or("");
    let ctype = if body.is_empty() {
        String::new()
    } else {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{ctype}Connection: close\r\n\r\n{body}"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    if status != "200" {
        anyhow::bail!("the server at {addr} answered {status}: {}", body.trim());
    }
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some((len, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}
