//! What stops a web page from driving the server through the user's
//! browser. Three checks run on every request before anything else:
//!
//! 1. **Host.** The `Host` header must name this machine's loopback
//!    (`localhost`, `*.localhost`, `127.x.x.x`, `::1`), the address the server
//!    listens on (any IP address when it listens on all of them), or a name
//!    given with `--allowed-host`. A DNS-rebinding page (an attacker's name
//!    re-pointed at 127.0.0.1) sends its own name here and is refused; IP
//!    addresses cannot be rebound.
//! 2. **Origin.** A request that can change something (every method but
//!    GET, HEAD and OPTIONS: generation, pull, copy, delete, ...) carrying an
//!    `Origin` other than the server's own (`http://` + its `Host`) is
//!    refused unless `--cors-origin` allows that origin (`*`: any). Browsers
//!    send `Origin` on every cross-origin POST/DELETE, also on the "simple"
//!    requests that need no CORS preflight, so this is what stops a page
//!    from POSTing `text/plain` at the API. (A cross-origin GET changes
//!    nothing and gets no CORS headers, so the page cannot read it.)
//! 3. **JSON only.** A request with a body (POST, PUT, PATCH; a DELETE that
//!    carries one) must
//!    say `Content-Type: application/json`, else 415: the content types a
//!    page may send without a preflight (`text/plain`, forms) never reach a
//!    handler.
//!
//! CORS preflights (`OPTIONS`) of allowed origins are answered by the CORS
//! layer inside this one (after the Host check).

use crate::error::{ApiError, Flavor};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// The names and origins the server answers to.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Host names (lowercase, no port) allowed besides loopback; `*` = any.
    pub hosts: Vec<String>,
    /// The address the server listens on (None: only loopback and `hosts`).
    pub bound: Option<IpAddr>,
    /// Origins allowed cross-origin (`--cors-origin`); `*` = any.
    pub origins: Vec<String>,
}

impl Guard {
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        if name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if self.hosts.iter().any(|h| h == "*" || *h == name) {
            return true;
        }
        let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() else {
            return false;
        };
        ip.is_loopback()
            || ip.to_canonical().is_loopback()
            || match self.bound {
                Some(b) if b.is_unspecified() => true,
                Some(b) => b == ip || b.to_canonical() == ip.to_canonical(),
                None => false,
            }
    }

    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        if self
            .origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
        {
            return true;
        }
        // same origin: the server's own page (`http://` + the Host it was reached by)
        match (host, origin.strip_prefix("http://")) {
            (Some(h), Some(rest)) => same_authority(rest, h),
            _ => false,
        }
    }
}

/// `host[:port]` → (lowercase host without trailing dot, port if given);
/// an IPv6 address keeps its brackets.
fn split_authority(host: &str) -> (String, Option<u16>) {
    let h = host.trim().to_ascii_lowercase();
    let (name, port) = if h.starts_with('[') {
        match h.find(']') {
            Some(i) => (h[..=i].to_string(), h[i + 1..].strip_prefix(':')),
            None => (h.clone(), None),
        }
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) if p.chars().all(|c| c.is_ascii_digit()) => (n.to_string(), Some(p)),
            _ => (h.clone(), None),
        }
    };
    let port = port.and_then(|p| p.parse().ok());
    (name.trim_end_matches('.').to_string(), port)
}

fn host_name(host: &str) -> String {
    split_authority(host).0
}

/// `a` and `b` (`host[:port]`) name the same host and port (80 when absent).
fn same_authority(a: &str, b: &str) -> bool {
    let (na, pa) = split_authority(a.trim_end_matches('/'));
    let (nb, pb) = split_authority(b);
    na == nb && pa.unwrap_or(80) == pb.unwrap_or(80)
}

fn flavor_of(path: &str) -> Flavor {
    crate::flavor_of(path)
}

fn refuse(status: StatusCode, path: &str, msg: String) -> Response {
    ApiError::new(status, msg)
        .flavor(flavor_of(path))
        .into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware: Host, then Origin, then (for requests with a body) the
/// content type.
pub async fn check(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string());
    if let Some(h) = &host {
        if !g.host_allowed(h) {
            let name = host_name(h);
            return refuse(
                StatusCode::FORBIDDEN,
                &path,
                format!(
                    "this server does not answer to the name '{name}' (the request's Host): a web page \
                     on a name pointed at this machine is refused. If you reach the server by that \
                     name, start it with --allowed-host {name}"
                ),
            );
        }
    }
    let reads_only = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !reads_only {
        if let Some(o) = headers.get(header::ORIGIN) {
            let o = o.to_str().unwrap_or("\u{fffd}");
            if !g.origin_allowed(o, host.as_deref()) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    &path,
                    format!(
                        "requests from the web page origin '{o}' are refused; to let pages of that \
                         origin use this server, start it with --cors-origin {o}"
                    ),
                );
            }
        }
        // A DELETE usually has no body (`DELETE /v1/responses/{id}`): only
        // one that carries a body must say it is JSON.
        let has_body = match *req.method() {
            Method::POST | Method::PUT | Method::PATCH => true,
            Method::DELETE => {
                let length = headers
                    .get(header::CONTENT_LENGTH)
                    .map(|v| v.to_str().map_or("?", str::trim));
                headers.contains_key(header::TRANSFER_ENCODING) || length.is_some_and(|n| n != "0")
            }
            _ => false,
        };
        if has_body && !is_json(headers) {
            let got = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!("'{v}'"))
                .unwrap_or_else(|| "none".into());
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &path,
                format!(
                    "the request body must be JSON sent with the header 'Content-Type: application/json' (content type given: {got})"
                ),
            );
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let g = Guard {
            hosts: vec!["box.lan".into()],
            bound: Some("127.0.0.1".parse().unwrap()),
            origins: vec![],
        };
        for ok in [
            "localhost",
            "LOCALHOST:11434",
            "localhost.:80",
            "a.b.localhost:1",
            "127.0.0.1:11434",
            "127.1.2.3",
            "[::1]:11434",
            "[::ffff:127.0.0.1]:1",
            "box.lan:8080",
            "Box.Lan",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "box.lan.evil.example:1",
            "10.0.0.1:11434",
            "[fe80::1]:1",
            "",
            "\u{fffd}",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let any = Guard {
            bound: Some("0.0.0.0".parse().unwrap()),
            ..Guard::default()
        };
        assert!(any.host_allowed("192.168.1.7:11434") && any.host_allowed("[fe80::1]"));
        assert!(!any.host_allowed("myhost.example"));
    }

    #[test]
    fn origins() {
        let g = Guard {
            origins: vec!["http://allowed.example".into()],
            ..Guard::default()
        };
        assert!(g.origin_allowed("http://allowed.example", Some("127.0.0.1:1")));
        assert!(g.origin_allowed("http://127.0.0.1:11434", Some("127.0.0.1:11434")));
        assert!(g.origin_allowed("http://localhost", Some("localhost:80")));
        assert!(!g.origin_allowed("http://127.0.0.1:11435", Some("127.0.0.1:11434")));
        assert!(!g.origin_allowed("https://127.0.0.1:11434", Some("127.0.0.1:11434")));
        assert!(!g.origin_allowed("null", Some("127.0.0.1:11434")));
        assert!(!g.origin_allowed("http://evil.example", Some("127.0.0.1:11434")));
        assert!(!g.origin_allowed("http://evil.example", None));
    }
}
