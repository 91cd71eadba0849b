//! HTTP downloads the way Hugging Face serves files: the `resolve` URL answers
//! with a redirect carrying `X-Linked-Etag` (the file's sha256) and
//! `X-Linked-Size`; the final server honours `Range`, so an interrupted
//! download resumes where it stopped. Only `pull` reaches this module.

use crate::error::StoreError;
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAX_REDIRECTS: usize = 10;
const ATTEMPTS: usize = 5;

/// The Hugging Face endpoint: `HEARTH_HF_ENDPOINT`, else `HF_ENDPOINT`, else
/// `https://huggingface.co`.
pub fn hf_endpoint() -> String {
    std::env::var("HEARTH_HF_ENDPOINT")
        .or_else(|_| std::env::var("HF_ENDPOINT"))
        .unwrap_or_else(|_| "https://huggingface.co".into())
        .trim_end_matches('/')
        .to_string()
}

pub fn hf_url(repo: &str, file: &str) -> String {
    format!("{}/{repo}/resolve/main/{file}", hf_endpoint())
}

/// A finished, verified download.
#[derive(Debug)]
pub struct Downloaded {
    pub sha256: String,
    pub size: u64,
    /// Whether the sha256 was checked against a pinned or server-given value.
    pub verified_against: Option<String>,
}

/// What a `HEAD` told us before the transfer.
#[derive(Debug, Default, Clone)]
struct Probe {
    sha256: Option<String>,
    size: Option<u64>,
}

/// Recorded next to a partial file so a resume only continues the same bytes.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct PartialMeta {
    url: String,
    sha256: Option<String>,
    size: Option<u64>,
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .build()
}

fn http_err(url: &str, msg: impl Into<String>) -> StoreError {
    StoreError::Http {
        url: url.into(),
        msg: msg.into(),
    }
}

fn sha_from_etag(v: &str) -> Option<String> {
    let v = v
        .trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_ascii_lowercase();
    (v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())).then_some(v)
}

/// The host of `url` (lowercase, without port or user info; an IPv6
/// address without brackets), if it has one.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split(['/', '?', '#']).next()?;
    let auth = auth.rsplit('@').next()?.to_ascii_lowercase();
    let host = if let Some(v6) = auth.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        auth.split(':').next()?.to_string()
    };
    let host = host.trim_end_matches('.').to_string();
    (!host.is_empty()).then_some(host)
}

/// Whether `host` names this machine or its local network: `localhost`,
/// `*.localhost`, `*.local`, or an IP address that is loopback, private,
/// link-local, unique-local, carrier-grade NAT or unspecified. (A DNS name
/// that resolves to such an address is not detected.)
pub fn is_local_host(host: &str) -> bool {
    use std::net::IpAddr;
    let h = host.trim_matches(['[', ']']).trim_end_matches('.');
    let h = h.to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") || h.ends_with(".local") {
        return true;
    }
    // forms the resolver takes for IPv4 besides dotted quads (`2130706433`, `127.1`, `0x7f.1`)
    if !h.is_empty()
        && !h.contains(':')
        && h.split('.').all(|p| {
            !p.is_empty()
                && (p.chars().all(|c| c.is_ascii_digit())
                    || p.strip_prefix("0x")
                        .is_some_and(|x| x.chars().all(|c| c.is_ascii_hexdigit())))
        })
        && h.parse::<std::net::Ipv4Addr>().is_err()
    {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        Ok(IpAddr::V6(a)) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_local_host(&v4.to_string());
            }
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
        Err(_) => false,
    }
}

/// Whether a redirect from `from` to `to` may be followed: never from https
/// down to plain http, never from another host to this machine or its
/// local network (a public server cannot send the download to a local one).
fn redirect_allowed(from: &str, to: &str) -> Result<(), String> {
    if from.starts_with("https://") && !to.starts_with("https://") {
        return Err(format!("refusing a redirect from https to {to}"));
    }
    let local = |u: &str| url_host(u).is_some_and(|h| is_local_host(&h));
    if !local(from) && local(to) {
        return Err(format!(
            "refusing a redirect to {to}: a server elsewhere may not send the download to this machine or its network"
        ));
    }
    Ok(())
}

/// Send a request, following redirects by hand so the `X-Linked-*` headers of
/// every hop are seen. Returns the final response.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    range_from: u64,
    probe: &mut Probe,
) -> Result<ureq::Response, StoreError> {
    let mut cur = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let mut req = agent.request(method, &cur);
        if range_from > 0 {
            req = req.set("Range", &format!("bytes={range_from}-"));
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(416, r)) => return Ok(r),
            Err(ureq::Error::Status(code, r)) => {
                let hint = match code {
                    401 | 403 => "; the file may be gated or private (accept its license on the website, or download it yourself and `hearth import` it)",
                    404 => "; check the repository and file name",
                    _ => "",
                };
                return Err(http_err(
                    url,
                    format!("the server answered {code} {}{hint}", r.status_text()),
                ));
            }
            Err(ureq::Error::Transport(t)) => return Err(http_err(url, t.to_string())),
        };
        if let Some(s) = resp.header("x-linked-etag").and_then(sha_from_etag) {
            probe.sha256 = Some(s);
        }
        if let Some(n) = resp
            .header("x-linked-size")
            .and_then(|v| v.trim().parse().ok())
        {
            probe.size = Some(n);
        }
        if (300..400).contains(&resp.status()) {
            let loc = resp
                .header("location")
                .ok_or_else(|| http_err(url, "redirect without a Location header"))?;
            let next = resp
                .get_url()
                .parse::<url_join::Base>()
                .map(|b| b.join(loc))
                .unwrap_or_else(|_| loc.to_string());
            redirect_allowed(&cur, &next).map_err(|m| http_err(url, m))?;
            cur = next;
            continue;
        }
        return Ok(resp);
    }
    Err(http_err(url, "too many redirects"))
}

/// Minimal relative-URL resolution for `Location` headers.
mod url_join {
    pub struct Base(String);
    impl std::str::FromStr for Base {
        type Err = ();
        fn from_str(s: &str) -> Result<Base, ()> {
            Ok(Base(s.to_string()))
        }
    }
    impl Base {
        pub fn join(&self, loc: &str) -> String {
            if loc.contains("://") {
                return loc.to_string();
            }
            let (scheme, rest) = self.0.split_once("://").unwrap_or(("https", &self.0));
            let host = rest.split('/').next().unwrap_or("");
            if let Some(l) = loc.strip_prefix("//") {
                return format!("{scheme}://{l}");
            }
            if loc.starts_with('/') {
                return format!("{scheme}://{host}{loc}");
            }
            let path = rest.split(['?', '#']).next().unwrap_or("");
            let dir = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(path.len())];
            format!("{scheme}://{dir}{loc}")
        }
    }
}

fn content_length(r: &ureq::Response) -> Option<u64> {
    r.header("content-length")
        .and_then(|v| v.trim().parse().ok())
}

/// Ask the server what the file is (sha256 and size) without fetching it.
fn probe(agent: &ureq::Agent, url: &str) -> Result<Probe, StoreError> {
    let mut p = Probe::default();
    let r = call(agent, "HEAD", url, 0, &mut p)?;
    if p.size.is_none() && r.status() == 200 {
        p.size = content_length(&r);
    }
    Ok(p)
}

fn meta_path(part: &Path) -> PathBuf {
    let mut s = part.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// Remove a partial download and its record.
pub fn discard_partial(part: &Path) {
    let _ = std::fs::remove_file(part);
    let _ = std::fs::remove_file(meta_path(part));
}

/// Download `url` into `part`, resuming what is already there when it is the
/// same file, and verify the result: against `pinned` when given, else against
/// the server's `X-Linked-Etag` sha256. `space` is called with the bytes still
/// to fetch, before any are written, to refuse early when the disk is full.
pub fn download(
    url: &str,
    pinned: Option<&str>,
    part: &Path,
    progress: &mut Progress,
    space: &dyn Fn(u64) -> Result<(), StoreError>,
) -> Result<Downloaded, StoreError> {
    if crate::store::offline_env() {
        return Err(StoreError::Offline(format!("downloading {url}")));
    }
    let agent = agent();
    let info = probe(&agent, url)?;
    if let (Some(p), Some(s)) = (pinned, &info.sha256) {
        if p != s {
            return Err(StoreError::Checksum {
                what: url.into(),
                expected: p.into(),
                actual: format!("{s} (announced by the server)"),
            });
        }
    }
    let expected = pinned.map(str::to_string).or_else(|| info.sha256.clone());
    let meta = PartialMeta {
        url: url.into(),
        sha256: expected.clone(),
        size: info.size,
    };
    let old: Option<PartialMeta> = std::fs::read(meta_path(part))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    if old.as_ref() != Some(&meta) || expected.is_none() {
        discard_partial(part);
    }
    let io =
        |what: &str, e: std::io::Error| StoreError::io(format!("{what} {}", part.display()), e);
    std::fs::write(
        meta_path(part),
        serde_json::to_vec(&meta).unwrap_or_default(),
    )
    .map_err(|e| io("writing", e))?;
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(part)
        .map_err(|e| io("opening", e))?;
    let mut have = file.metadata().map_err(|e| io("reading", e))?.len();
    if let Some(total) = info.size {
        if have > total {
            file.set_len(0).map_err(|e| io("truncating", e))?;
            have = 0;
        }
        space(total - have)?;
    }
    let mut hasher = Sha256::new();
    if have > 0 {
        hash_prefix(&mut file, have, &mut hasher).map_err(|e| io("reading", e))?;
    }
    progress.start(&short_name(url), info.size, have);
    let mut last_err = String::new();
    let mut attempt = 0;
    loop {
        if info.size == Some(have) {
            break;
        }
        if attempt == ATTEMPTS {
            progress.finish();
            return Err(http_err(url, format!("{last_err} (gave up after {ATTEMPTS} attempts; {have} bytes are kept, run the same pull again to resume)")));
        }
        if attempt > 0 {
            progress.note(&format!(
                "connection lost ({last_err}); retrying from byte {have}"
            ));
            std::thread::sleep(Duration::from_millis(200 << attempt.min(3)));
        }
        attempt += 1;
        let mut p = Probe::default();
        let resp = match call(&agent, "GET", url, have, &mut p) {
            Ok(r) => r,
            Err(StoreError::Http { msg, .. }) => {
                last_err = msg;
                continue;
            }
            Err(e) => return Err(e),
        };
        match resp.status() {
            206 => {
                let start = resp.header("content-range").and_then(|v| {
                    v.trim()
                        .strip_prefix("bytes ")?
                        .split('-')
                        .next()?
                        .parse::<u64>()
                        .ok()
                });
                if start != Some(have) {
                    return Err(http_err(url, format!("asked for bytes from {have}, the server sent a range starting at {start:?}")));
                }
            }
            200 => {
                if have > 0 {
                    progress.note("the server does not resume downloads; starting over");
                    file.set_len(0).map_err(|e| io("truncating", e))?;
                    have = 0;
                    hasher = Sha256::new();
                    progress.start(&short_name(url), info.size, 0);
                }
            }
            416 if info.size.is_none() => break,
            s => {
                return Err(http_err(
                    url,
                    format!("unexpected answer {s} {}", resp.status_text()),
                ))
            }
        }
        let body_len = content_length(&resp);
        let mut reader = resp.into_reader();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        let ended_clean = loop {
            match reader.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    file.write_all(&buf[..n]).map_err(|e| io("writing", e))?;
                    hasher.update(&buf[..n]);
                    have += n as u64;
                    got += n as u64;
                    progress.inc(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    last_err = e.to_string();
                    break false;
                }
            }
        };
        file.flush().map_err(|e| io("writing", e))?;
        if ended_clean {
            let short = body_len.is_some_and(|l| got < l) || info.size.is_some_and(|t| have < t);
            if !short {
                break;
            }
            last_err = format!("the connection closed after {got} bytes");
        }
    }
    progress.finish();
    file.sync_all().map_err(|e| io("syncing", e))?;
    if let Some(t) = info.size {
        if have != t {
            discard_partial(part);
            return Err(http_err(
                url,
                format!("got {have} bytes, the server announced {t}"),
            ));
        }
    }
    let actual = hex(&hasher.finalize());
    if let Some(exp) = &expected {
        if *exp != actual {
            discard_partial(part);
            return Err(StoreError::Checksum {
                what: url.into(),
                expected: exp.clone(),
                actual,
            });
        }
    }
    let _ = std::fs::remove_file(meta_path(part));
    Ok(Downloaded {
        sha256: actual,
        size: have,
        verified_against: expected,
    })
}

fn hash_prefix(file: &mut File, len: u64, hasher: &mut Sha256) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    let mut r = (&mut *file).take(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    file.seek(SeekFrom::End(0))?;
    Ok(())
}

fn short_name(url: &str) -> String {
    url.split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .to_string()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// sha256 of a whole file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn join_and_etag() {
        let b: super::url_join::Base = "http://127.0.0.1:8/o/r/resolve/main/f.gguf"
            .parse()
            .unwrap();
        assert_eq!(b.join("/cdn/x"), "http://127.0.0.1:8/cdn/x");
        assert_eq!(b.join("https://cdn.example/x"), "https://cdn.example/x");
        assert_eq!(
            b.join("g.gguf"),
            "http://127.0.0.1:8/o/r/resolve/main/g.gguf"
        );
        let s = "a".repeat(64);
        assert_eq!(super::sha_from_etag(&format!("\"{s}\"")), Some(s));
    }

    #[test]
    fn local_hosts_and_redirects() {
        use super::{is_local_host, redirect_allowed, url_host};
        assert_eq!(
            url_host("https://u:p@Example.COM:8443/x.gguf").as_deref(),
            Some("example.com")
        );
        assert_eq!(url_host("http://[::1]:8/x").as_deref(), Some("::1"));
        assert_eq!(url_host("https:///x"), None);
        for local in [
            "localhost",
            "LOCALHOST.",
            "a.localhost",
            "printer.local",
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "[::1]",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(is_local_host(local), "{local}");
        }
        for public in [
            "huggingface.co",
            "8.8.8.8",
            "2606:4700::1111",
            "cdn-lfs.hf.co",
            "1.2.3.4",
        ] {
            assert!(!is_local_host(public), "{public}");
        }
        assert!(redirect_allowed("https://huggingface.co/a", "https://cdn.hf.co/b").is_ok());
        assert!(redirect_allowed("https://huggingface.co/a", "http://cdn.hf.co/b").is_err());
        assert!(redirect_allowed("https://evil.example/a", "https://127.0.0.1/b").is_err());
        assert!(redirect_allowed("http://127.0.0.1:8/a", "http://127.0.0.1:8/b").is_ok());
        assert_eq!(super::sha_from_etag("\"abc\""), None);
    }
}
