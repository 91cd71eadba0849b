//! The chat page: `GET /` (for a browser: a request that accepts
//! `text/html`) and its files under `/ui/`, all compiled into the binary from
//! `crates/server/web/` (no CDN, no font file, no request to any other
//! origin), plus the page's own JSON endpoints (`api.rs`): `GET /ui/models`
//! (models with the `fit` verdict), `POST /ui/extract` (a document's text),
//! `POST /ui/tokens` (token counts for the context meter and documents).
//!
//! The page's files are public (they hold nothing secret, and the page has
//! to load to ask for the API key); its endpoints are behind the key like
//! every other. Every file goes out with a strict Content-Security-Policy:
//! scripts, styles, images and connections from this origin only, so even
//! a model answer that smuggled markup into the page could not make it load
//! or send anything elsewhere.

mod api;

pub use api::{DOC_MAX_BYTES, EXTRACT_MAX_BODY};

use crate::Shared;
use axum::extract::{DefaultBodyLimit, Path};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::OnceLock;

/// One file of the page.
struct Asset {
    path: &'static str,
    mime: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($path:literal => $mime:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            mime: $mime,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
        }),*]
    };
}

/// Every file under `crates/server/web/` except `test/` (a unit test checks
/// that none is missing).
static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
    "app.js" => "text/javascript; charset=utf-8",
    "composer.js" => "text/javascript; charset=utf-8",
    "convs.js" => "text/javascript; charset=utf-8",
    "docs.js" => "text/javascript; charset=utf-8",
    "messages.js" => "text/javascript; charset=utf-8",
    "meter.js" => "text/javascript; charset=utf-8",
    "models.js" => "text/javascript; charset=utf-8",
    "panels.js" => "text/javascript; charset=utf-8",
    "pull.js" => "text/javascript; charset=utf-8",
    "send.js" => "text/javascript; charset=utf-8",
    "state.js" => "text/javascript; charset=utf-8",
    "lib/api.js" => "text/javascript; charset=utf-8",
    "lib/conv.js" => "text/javascript; charset=utf-8",
    "lib/db.js" => "text/javascript; charset=utf-8",
    "lib/fmt.js" => "text/javascript; charset=utf-8",
    "lib/markdown.js" => "text/javascript; charset=utf-8",
    "lib/stream.js" => "text/javascript; charset=utf-8",
    "vendor/marked.esm.js" => "text/javascript; charset=utf-8",
    "vendor/highlight.min.js" => "text/javascript; charset=utf-8",
    "vendor/hljs-theme.css" => "text/css; charset=utf-8",
    "vendor/LICENSE.marked" => "text/plain; charset=utf-8",
    "vendor/LICENSE.highlight.js" => "text/plain; charset=utf-8",
    "vendor/README.md" => "text/plain; charset=utf-8",
};

/// The page may load and talk to its own origin only; nothing inline, no
/// plugins, no frames, no form posts anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page's routes: its files and its JSON endpoints. The caller puts
/// them behind the same layers as the APIs; [`is_public`] tells the key
/// check which requests are for the files.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/ui/models", get(api::models))
        .route("/ui/tokens", post(api::tokens))
        .route(
            "/ui/extract",
            // base64 in JSON: a third more than the document's own cap
            post(api::extract).layer(DefaultBodyLimit::max(api::EXTRACT_MAX_BODY)),
        )
        .route("/ui/{*path}", get(asset).head(asset))
}

/// Whether a request is for one of the page's files (served without the
/// API key: the page itself asks for it).
pub fn is_public(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if path == "/" {
        return wants_html(headers);
    }
    path.strip_prefix("/ui/")
        .is_some_and(|p| ASSETS.iter().any(|a| a.path == p))
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// `GET /`: the page for a browser, the one-line answer Ollama's clients
/// and scripts expect for anything else.
pub async fn root(headers: HeaderMap) -> Response {
    if wants_html(&headers) {
        return serve(0, &headers);
    }
    "hearth is running".into_response()
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().position(|a| a.path == path) {
        Some(i) => serve(i, &headers),
        None => crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no such file of the chat page: /ui/{path}"),
        )
        .into_response(),
    }
}

/// A strong validator per file (the files change only with the binary).
fn etag(i: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    &TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                // FNV-1a: stable across runs and builds of the same bytes
                let h = a.bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
                    (h ^ b as u64).wrapping_mul(0x100000001b3)
                });
                format!("\"{h:016x}-{}\"", a.bytes.len())
            })
            .collect()
    })[i]
}

fn serve(i: usize, req: &HeaderMap) -> Response {
    let a = &ASSETS[i];
    let tag = etag(i);
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, a.mime)], a.bytes).into_response()
    };
    let h = r.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_static(tag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of `web/` (but the tests) is compiled in, so the page
    /// never asks for one the binary lacks.
    #[test]
    fn every_page_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut found = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                let rel = p
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if p.is_dir() {
                    if rel != "test" {
                        dirs.push(p);
                    }
                } else {
                    found.push(rel);
                }
            }
        }
        found.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        listed.sort();
        assert_eq!(found, listed, "crates/server/web/ and ASSETS differ");
        assert_eq!(ASSETS[0].path, "index.html");
    }

    #[test]
    fn page_files_are_public_endpoints_are_not() {
        let mut html = HeaderMap::new();
        html.insert(header::ACCEPT, HeaderValue::from_static("text/html,*/*"));
        let none = HeaderMap::new();
        assert!(is_public(&Method::GET, "/", &html));
        assert!(!is_public(&Method::GET, "/", &none));
        assert!(is_public(&Method::GET, "/ui/app.js", &none));
        assert!(is_public(&Method::HEAD, "/ui/style.css", &none));
        assert!(!is_public(&Method::POST, "/ui/app.js", &none));
        assert!(!is_public(&Method::GET, "/ui/models", &none));
        assert!(!is_public(&Method::GET, "/ui/../v1/models", &none));
        assert!(!is_public(&Method::GET, "/v1/models", &html));
    }
}
