//! `hearth create NAME -f Modelfile` (and the server's `/api/create`): a store
//! entry of its own — manifest and all — whose GGUF is the `FROM` model's
//! file, hard-linked (a symbolic link where a hard link is impossible), never
//! copied, with the Modelfile's settings in its manifest.

use crate::error::StoreError;
use crate::manifest::{self, Manifest};
use crate::modelfile::{looks_like_go_template, ModelDefaults, Modelfile};
use crate::name::{self, ModelRef};
use crate::progress::Progress;
use crate::store::Store;
use std::path::{Path, PathBuf};

fn bad(msg: impl Into<String>) -> StoreError {
    StoreError::Modelfile {
        line: None,
        msg: msg.into(),
    }
}

/// The settings a GGUF file in the store carries: those of its manifest
/// (`<tag>.json` next to it) when it was made by `create`. `None` for any
/// other file, or when the manifest cannot be read (listing reports that).
pub fn defaults_of(gguf: &Path) -> Option<ModelDefaults> {
    let m = Manifest::read(&gguf.with_extension("json")).ok()?;
    let file = gguf.file_name()?.to_str()?;
    (m.file == file).then_some(m.modelfile).flatten()
}

/// What `FROM` names: a GGUF file, or a model of the store.
enum Base {
    File(PathBuf),
    Model(Box<Manifest>),
}

fn is_path(from: &str) -> bool {
    from.contains(['/', '\\'])
        || from.starts_with(['.', '~'])
        || from.to_ascii_lowercase().ends_with(".gguf")
}

fn expand(from: &str, dir: &Path) -> PathBuf {
    if let Some(rest) = from.strip_prefix("~/") {
        if let Some(h) = std::env::var_os("HOME") {
            return PathBuf::from(h).join(rest);
        }
    }
    let p = PathBuf::from(from);
    if p.is_absolute() {
        p
    } else {
        dir.join(p)
    }
}

fn base_of(store: &Store, from: &str, dir: &Path) -> Result<Base, StoreError> {
    if from.starts_with("http://") || from.starts_with("https://") || from.starts_with("hf.co/") {
        return Err(bad(format!(
            "FROM {from}: a Modelfile starts from a model in the store or a GGUF file; `hearth pull {from}` first, then FROM its name"
        )));
    }
    if is_path(from) {
        let p = expand(from, dir);
        if !p.is_file() {
            return Err(StoreError::BadFile {
                path: p,
                msg: format!("FROM {from}: no such GGUF file"),
            });
        }
        return Ok(Base::File(p));
    }
    Ok(Base::Model(Box::new(store.find_installed(from)?)))
}

/// A check of a Modelfile's settings against the model file they will be
/// used with that needs the engine (the parameters' ranges are the
/// sampler's, a template is compiled and rendered with the model's own
/// tokenizer): the store depends on neither, so its callers hand it in
/// (`server::defaults::check_modelfile`, used by `hearth create` and
/// `/api/create`).
pub type Check<'a> = &'a dyn Fn(&Path, &ModelDefaults) -> Result<(), StoreError>;

/// What the store itself checks of a Modelfile against the model file it
/// will use: `num_ctx` within the trained context, and a template that is
/// not Ollama's Go template syntax. Then `check` (the engine's checks).
fn validate(gguf: &Path, d: &ModelDefaults, check: Check<'_>) -> Result<(), StoreError> {
    let (_, info) = manifest::inspect(gguf)?;
    if let (Some(n), Some(max)) = (d.parameters.num_ctx, info.context_length) {
        if n as u64 > max {
            return Err(bad(format!(
                "PARAMETER num_ctx {n} is larger than this model's trained context of {max} tokens; use at most {max}"
            )));
        }
    }
    if d.template.as_deref().is_some_and(looks_like_go_template) {
        return Err(bad(
            "TEMPLATE is written in Ollama's Go template syntax ({{ .System }}, {{ if .Prompt }}, {{ range .Messages }}); hearth's chat templates are Jinja, the language of a GGUF's own tokenizer.chat_template ({% for message in messages %}{{ message['content'] }}{% endfor %}). Rewrite it in Jinja, or leave TEMPLATE out to keep the model's own (`hearth show --verbose MODEL` prints it)",
        ));
    }
    check(gguf, d)
}

/// Make `name` (`name[:tag]`, tag `latest` when absent) from `mf`. A
/// relative `FROM` path is relative to `dir` (the Modelfile's folder). A
/// name already taken by a created model is replaced; one taken by a pulled
/// or imported model is refused (nothing downloaded is ever lost). `check`
/// is the engine's part of the checks (see [`Check`]), run before anything
/// is written.
pub fn create(
    store: &Store,
    name: &str,
    mf: &Modelfile,
    dir: &Path,
    check: Check<'_>,
    progress: &mut Progress,
) -> Result<Manifest, StoreError> {
    let (n, t) = name::parse_name(name)?;
    let r = ModelRef {
        name: n,
        tag: t.unwrap_or_else(|| name::LATEST.into()),
    };
    // what it starts from: its file, its facts, the settings it inherits
    let (file, inherited, known) = match base_of(store, &mf.from, dir)? {
        Base::Model(m) => {
            let f = store.root.join(&m.name).join(&m.file);
            (f, m.modelfile.clone().unwrap_or_default(), Some(*m))
        }
        Base::File(p) => {
            // a store GGUF named by path: its manifest says what it is
            let m = Manifest::read(&p.with_extension("json"))
                .ok()
                .filter(|m| p.file_name().is_some_and(|f| *f == *m.file));
            let inh = m.as_ref().and_then(|m| m.modelfile.clone());
            (p, inh.unwrap_or_default(), m)
        }
    };
    let defaults = inherited.overlaid(&mf.defaults);
    validate(&file, &defaults, check)?;
    store.ensure_writable()?;
    let _lock = crate::pull::lock(store, &r, progress)?;
    if let Some(old) = store.installed(&r)? {
        if old.modelfile.is_none() {
            return Err(StoreError::Exists(r.to_string()));
        }
    }
    let (_, info) = manifest::inspect(&file)?;
    let size = std::fs::metadata(&file)
        .map_err(|e| StoreError::io(format!("reading {}", file.display()), e))?
        .len();
    let sha256 = match &known {
        Some(m) if m.size == size => m.sha256.clone(),
        _ => {
            progress.note(&format!("computing the sha256 of {}", file.display()));
            crate::http::sha256_file(&file)
                .map_err(|e| StoreError::io(format!("reading {}", file.display()), e))?
        }
    };
    let tmp = store.tmp_dir().join(format!("{}@{}.create", r.name, r.tag));
    let _ = std::fs::remove_file(&tmp);
    let target = std::fs::canonicalize(&file)
        .map_err(|e| StoreError::io(format!("reading {}", file.display()), e))?;
    let how = if std::fs::hard_link(&target, &tmp).is_ok() {
        "hard link"
    } else {
        symlink(&target, &tmp)
            .map_err(|e| StoreError::io(format!("linking {}", target.display()), e))?;
        "symbolic link"
    };
    let license = defaults
        .license
        .first()
        .map(|l| l.lines().next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .or(info.license.clone())
        .or(known.as_ref().map(|m| m.license.clone()))
        .unwrap_or_else(|| "unknown".into());
    let m = Manifest {
        name: r.name.clone(),
        tag: r.tag.clone(),
        source: format!("create:{}", mf.from),
        sha256,
        size,
        architecture: info.architecture.clone(),
        parameters: manifest::human_params(info.parameter_count),
        parameter_count: info.parameter_count,
        quantization: info.quantization.clone(),
        license,
        added: manifest::now_rfc3339(),
        file: format!("{}.gguf", r.tag),
        modelfile: Some(defaults),
    };
    // a created model of that name is replaced: invisible first (its
    // manifest goes), then the new file and manifest come in
    let mp = store.manifest_path(&r);
    if mp.exists() {
        std::fs::remove_file(&mp)
            .map_err(|e| StoreError::io(format!("replacing {}", mp.display()), e))?;
    }
    store.place(&r, &tmp, &m).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    progress.note(&format!(
        "created {r} from {} ({how} to {}, no copy)",
        mf.from,
        target.display()
    ));
    Ok(m)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}

/// The Modelfile that makes the model at `gguf` (described by `m`, if it is
/// in the store) again, as `hearth show --modelfile` and `/api/show` print it.
pub fn modelfile_text(gguf: &Path, m: Option<&Manifest>) -> String {
    let d = m.and_then(|m| m.modelfile.clone()).unwrap_or_default();
    let mut s = String::from("# Modelfile generated by hearth\n");
    if let Some(m) = m {
        s.push_str(&format!(
            "# To build a new Modelfile based on this one, replace FROM with:\n# FROM {}\n",
            m.reference()
        ));
        if m.modelfile.is_some() {
            s.push_str(&format!("# (created FROM {})\n", d.from));
        }
    }
    s.push('\n');
    s.push_str(&d.to_modelfile(&gguf.display().to_string()));
    s
}
