//! Ollama's `POST /api/create`: `hearth create` over HTTP, into the store
//! this server serves. Takes Ollama's current body (`model`, `from`,
//! `system`, `template`, `license`, `parameters`, `messages`) and its older
//! one (`modelfile`: the Modelfile's text; `name` for `model`). `from` is a
//! model of the store or an absolute path to a GGUF file on this machine;
//! the new entry links that file, never copies it. Uploaded files (`files`,
//! `adapters`, `/api/blobs`) and `quantize` are refused.

use crate::error::{ApiError, Flavor};
use crate::{Body, Shared};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use store::modelfile::{ModelDefaults, Modelfile, PresetMessage};
use store::StoreError;

#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
pub struct CreateReq {
    pub model: Option<String>,
    pub name: Option<String>,
    pub from: Option<String>,
    /// The Modelfile's text (Ollama's older API).
    pub modelfile: Option<String>,
    pub system: Option<String>,
    pub template: Option<String>,
    pub license: Option<OneOrMany>,
    pub parameters: Option<BTreeMap<String, Value>>,
    pub messages: Option<Vec<PresetMessage>>,
    pub stream: Option<bool>,
    pub quantize: Option<String>,
    pub files: Option<BTreeMap<String, String>>,
    pub adapters: Option<BTreeMap<String, String>>,
}

fn oerr(e: ApiError) -> ApiError {
    e.flavor(Flavor::Ollama)
}

/// A store error as an API error: a bad request is the client's (4xx).
fn store_err(e: &StoreError) -> ApiError {
    let status = match e {
        StoreError::Modelfile { .. }
        | StoreError::BadName(..)
        | StoreError::BadSource(..)
        | StoreError::BadFile { .. }
        | StoreError::NotGguf { .. }
        | StoreError::CorruptManifest { .. } => StatusCode::BAD_REQUEST,
        StoreError::Exists(_) => StatusCode::CONFLICT,
        StoreError::UnknownModel { .. } | StoreError::NotInstalled(_) => StatusCode::NOT_FOUND,
        StoreError::DiskFull { .. } => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    oerr(ApiError::new(status, e.to_string()))
}

/// The Modelfile the request describes: its `modelfile` text (if any) with
/// the separate fields laid over it.
fn modelfile_of(r: CreateReq) -> Result<Modelfile, ApiError> {
    for (field, given) in [
        ("files", r.files.as_ref().is_some_and(|f| !f.is_empty())),
        (
            "adapters",
            r.adapters.as_ref().is_some_and(|f| !f.is_empty()),
        ),
    ] {
        if given {
            return Err(ApiError::bad(
                field,
                format!("{field}: hearth does not take uploaded files; give `from` as a model of the store or the absolute path of a GGUF file on the server's machine"),
            ));
        }
    }
    if r.quantize.is_some() {
        return Err(ApiError::bad(
            "quantize",
            "quantize: hearth does not re-quantize models; create from a GGUF file of the quantization you want",
        ));
    }
    let mut mf = match &r.modelfile {
        Some(text) => {
            Modelfile::parse(text).map_err(|e| ApiError::bad("modelfile", e.to_string()))?
        }
        None => Modelfile::default(),
    };
    let mut over = ModelDefaults {
        system: r.system,
        template: r.template,
        license: match r.license {
            None => Vec::new(),
            Some(OneOrMany::One(l)) => vec![l],
            Some(OneOrMany::Many(v)) => v,
        },
        messages: r.messages.unwrap_or_default(),
        ..Default::default()
    };
    for (i, m) in over.messages.iter().enumerate() {
        if !matches!(m.role.as_str(), "system" | "user" | "assistant") {
            return Err(ApiError::bad(
                format!("messages[{i}].role"),
                format!(
                    "messages[{i}].role {:?} must be system, user or assistant",
                    m.role
                ),
            ));
        }
    }
    for (k, v) in r.parameters.iter().flatten() {
        over.parameters
            .set_json(k, v)
            .map_err(|e| ApiError::bad(format!("parameters.{k}"), e))?;
    }
    if let Some(f) = r.from.filter(|f| !f.trim().is_empty()) {
        mf.from = f.trim().to_string();
    }
    if mf.from.is_empty() {
        return Err(ApiError::bad(
            "from",
            "from: say which model to start from (a model of the store, or the absolute path of a GGUF file)",
        ));
    }
    let rel = std::path::Path::new(&mf.from);
    if (mf.from.contains(['/', '\\']) || mf.from.ends_with(".gguf")) && !rel.is_absolute() {
        return Err(ApiError::bad(
            "from",
            format!("from: {:?} is a relative path; over the API give the absolute path of the GGUF file on the server's machine", mf.from),
        ));
    }
    over.from = mf.from.clone();
    mf.defaults = mf.defaults.overlaid(&over);
    Ok(mf)
}

pub async fn create(
    State(st): State<Shared>,
    body: Result<Body<CreateReq>, ApiError>,
) -> Result<Response, ApiError> {
    let Body(r) = body.map_err(oerr)?;
    let name = r
        .model
        .clone()
        .or(r.name.clone())
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            oerr(ApiError::bad(
                "model",
                "model: missing field (the name of the model to create)",
            ))
        })?;
    let stream = r.stream.unwrap_or(true);
    let mut mf = modelfile_of(r).map_err(oerr)?;
    // `from` names any model this server serves (a store model, a file of
    // its directory or of --model): the store links that model's file
    if !std::path::Path::new(&mf.from).is_absolute() {
        match st.mgr.catalog.resolve(&mf.from) {
            Ok(e) => mf.from = e.path.display().to_string(),
            Err(_) => {
                let mut e = ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("from: model '{}' not found; /api/tags lists the models this server has (or give the absolute path of a GGUF file)", mf.from),
                );
                e.param = Some("from".into());
                return Err(oerr(e));
            }
        }
    }
    let Some(dir) = st.mgr.catalog.dir().map(|d| d.to_path_buf()) else {
        return Err(oerr(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no model store to create models in",
        )));
    };
    let store = store::Store {
        root: dir,
        offline: true,
    };
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let n2 = notes.clone();
    let name2 = name.trim().to_string();
    let made = tokio::task::spawn_blocking(move || {
        let mut p = store::Progress::reporting(move |e| {
            if let store::ProgressEvent::Note(m) = e {
                n2.lock().unwrap().push(m.to_string());
            }
        });
        store::create(
            &store,
            &name2,
            &mf,
            std::path::Path::new("/"),
            &crate::defaults::check_modelfile,
            &mut p,
        )
    })
    .await
    .map_err(|e| {
        oerr(ApiError::internal(format!(
            "creating the model stopped: {e}"
        )))
    })?
    .map_err(|e| store_err(&e))?;
    st.mgr.catalog.refresh();
    // a model of that name loaded before is loaded again with the new settings
    st.mgr.unload(&made.reference());
    let done = json!({"status": "success"});
    if !stream {
        return Ok(Json(done).into_response());
    }
    let mut body = String::new();
    for n in notes.lock().unwrap().iter() {
        body.push_str(&json!({ "status": n }).to_string());
        body.push('\n');
    }
    body.push_str(&done.to_string());
    body.push('\n');
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        body,
    )
        .into_response())
}
