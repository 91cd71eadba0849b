//! The store on disk: `<root>/<name>/<tag>.gguf` (a plain GGUF file any
//! program can open) and `<root>/<name>/<tag>.json` (its manifest). A model is
//! visible once its manifest exists; the GGUF is renamed into place first, the
//! manifest last, both from `<root>/.tmp` on the same file system.

use crate::catalog;
use crate::error::StoreError;
use crate::manifest::{self, Manifest};
use crate::name::{self, ModelRef, Spec};
use std::path::{Path, PathBuf};

/// Extra free space kept beyond what a download needs.
pub const SPACE_MARGIN: u64 = 16 << 20;

#[derive(Clone, Debug)]
pub struct Store {
    pub root: PathBuf,
    /// Refuse every network access.
    pub offline: bool,
}

/// Whether `HEARTH_OFFLINE` is set (to anything but `0`/`false`/`no`/`off`).
pub fn offline_env() -> bool {
    env_flag("HEARTH_OFFLINE")
}

fn env_flag(k: &str) -> bool {
    std::env::var(k).is_ok_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    })
}

/// The default store directory: `HEARTH_MODELS`, else the platform's data
/// directory (`$XDG_DATA_HOME` or `~/.local/share` on Linux, `~/Library/Application
/// Support` on macOS, `%APPDATA%` on Windows) + `hearth/models`.
pub fn default_root() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("hearth")
        .join("models")
}

impl Store {
    /// The user's store (`HEARTH_MODELS` or the data directory), offline when
    /// `HEARTH_OFFLINE` is set.
    pub fn from_env() -> Store {
        Store {
            root: default_root(),
            offline: env_flag("HEARTH_OFFLINE"),
        }
    }

    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store {
            root: root.into(),
            offline: false,
        }
    }

    pub fn gguf_path(&self, r: &ModelRef) -> PathBuf {
        self.root.join(&r.name).join(format!("{}.gguf", r.tag))
    }

    pub fn manifest_path(&self, r: &ModelRef) -> PathBuf {
        self.root.join(&r.name).join(format!("{}.json", r.tag))
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join(".tmp")
    }

    pub(crate) fn lock_path(&self, r: &ModelRef) -> PathBuf {
        self.root
            .join(".locks")
            .join(format!("{}@{}.lock", r.name, r.tag))
    }

    /// Create the store's directories and prove they are writable.
    pub fn ensure_writable(&self) -> Result<(), StoreError> {
        let dir_err = |source| StoreError::StoreDir {
            path: self.root.clone(),
            source,
        };
        for d in [self.root.clone(), self.tmp_dir(), self.root.join(".locks")] {
            std::fs::create_dir_all(&d).map_err(dir_err)?;
        }
        tempfile::NamedTempFile::new_in(self.tmp_dir()).map_err(dir_err)?;
        Ok(())
    }

    /// Refuse when fewer than `need` (+ a margin) bytes are free in the store.
    pub fn check_space(&self, need: u64) -> Result<(), StoreError> {
        let free = fs2::available_space(&self.root).map_err(|e| {
            StoreError::io(format!("checking free space in {}", self.root.display()), e)
        })?;
        let want = need.saturating_add(SPACE_MARGIN);
        if free < want {
            return Err(StoreError::DiskFull {
                path: self.root.clone(),
                need: want,
                free,
            });
        }
        Ok(())
    }

    /// The manifest of an installed model (`Ok(None)` when absent).
    pub fn installed(&self, r: &ModelRef) -> Result<Option<Manifest>, StoreError> {
        let p = self.manifest_path(r);
        if !p.exists() {
            return Ok(None);
        }
        let m = Manifest::read(&p)?;
        if m.name != r.name || m.tag != r.tag || m.file != format!("{}.gguf", r.tag) {
            return Err(StoreError::CorruptManifest {
                path: p,
                msg: format!(
                    "it describes {}:{} ({}) but is stored as {r}",
                    m.name, m.tag, m.file
                ),
            });
        }
        if !self.gguf_path(r).is_file() {
            return Err(StoreError::CorruptManifest {
                path: p,
                msg: format!("its model file {} is missing", self.gguf_path(r).display()),
            });
        }
        Ok(Some(m))
    }

    /// Every model (sorted by name), and the problems met on the way (corrupt
    /// manifests): one bad entry never hides the others.
    pub fn list(&self) -> (Vec<Manifest>, Vec<StoreError>) {
        let (mut out, mut bad) = (Vec::new(), Vec::new());
        let Ok(names) = std::fs::read_dir(&self.root) else {
            return (out, bad);
        };
        for d in names.flatten() {
            let dn = d.file_name().to_string_lossy().into_owned();
            if dn.starts_with('.') || !d.path().is_dir() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(d.path()) else {
                continue;
            };
            for f in files.flatten() {
                let p = f.path();
                if p.extension().is_none_or(|x| x != "json") {
                    continue;
                }
                let tag = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let r = ModelRef {
                    name: dn.clone(),
                    tag,
                };
                match self.installed(&r) {
                    Ok(Some(m)) => out.push(m),
                    Ok(None) => {}
                    Err(e) => bad.push(e),
                }
            }
        }
        out.sort_by(|a, b| (&a.name, &a.tag).cmp(&(&b.name, &b.tag)));
        (out, bad)
    }

    /// Installed references, `name:tag`.
    pub fn installed_names(&self) -> Vec<String> {
        self.list().0.iter().map(Manifest::reference).collect()
    }

    /// `name[:tag]` → a full reference: an explicit tag as given; a bare name
    /// takes the catalog's default tag, else the only installed tag, else
    /// `latest`.
    pub fn resolve_ref(&self, name: &str, tag: Option<&str>) -> ModelRef {
        if let Some(t) = tag {
            return ModelRef {
                name: name.into(),
                tag: t.into(),
            };
        }
        if let Some(e) = catalog::find(name, None) {
            if self.manifest_path(&e.model_ref()).exists() || !self.has_other_tags(name) {
                return e.model_ref();
            }
        }
        let tags = self.tags_of(name);
        if tags.len() == 1 {
            return ModelRef {
                name: name.into(),
                tag: tags[0].clone(),
            };
        }
        ModelRef {
            name: name.into(),
            tag: name::LATEST.into(),
        }
    }

    fn tags_of(&self, name: &str) -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(self.root.join(name)) else {
            return vec![];
        };
        let mut v: Vec<String> = rd
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        v.sort();
        v
    }

    fn has_other_tags(&self, name: &str) -> bool {
        !self.tags_of(name).is_empty()
    }

    /// Parse and resolve a name the user typed for `show`/`rm`: it must be a
    /// store name, and present.
    pub fn find_installed(&self, typed: &str) -> Result<Manifest, StoreError> {
        let (n, t) = name::parse_name(typed)?;
        let r = self.resolve_ref(&n, t.as_deref());
        match self.installed(&r)? {
            Some(m) => Ok(m),
            None => {
                let mut sugg = catalog::suggestions(typed, &self.installed_names());
                sugg.retain(|s| self.installed_names().contains(s));
                if sugg.is_empty() {
                    Err(StoreError::NotInstalled(r.to_string()))
                } else {
                    Err(StoreError::UnknownModel {
                        name: r.to_string(),
                        suggestions: sugg,
                    })
                }
            }
        }
    }

    /// Remove a model (file and manifest; the manifest first, so a half-removed
    /// model is never visible).
    /// A model whose manifest is corrupt is removed too (its `name:tag` comes
    /// from its place in the store); the returned manifest then only names it.
    pub fn remove(&self, typed: &str) -> Result<Manifest, StoreError> {
        let (n, t) = name::parse_name(typed)?;
        let r0 = self.resolve_ref(&n, t.as_deref());
        let m = match self.find_installed(typed) {
            Ok(m) => m,
            Err(StoreError::CorruptManifest { .. }) if self.manifest_path(&r0).exists() => {
                Manifest {
                    name: r0.name.clone(),
                    tag: r0.tag.clone(),
                    size: std::fs::metadata(self.gguf_path(&r0))
                        .map(|m| m.len())
                        .unwrap_or(0),
                    file: format!("{}.gguf", r0.tag),
                    ..Manifest::default()
                }
            }
            Err(e) => return Err(e),
        };
        let r = ModelRef {
            name: m.name.clone(),
            tag: m.tag.clone(),
        };
        let lock = crate::pull::lock(self, &r, &mut crate::Progress::quiet())?;
        let io = |p: &Path, e| StoreError::io(format!("removing {}", p.display()), e);
        let mp = self.manifest_path(&r);
        std::fs::remove_file(&mp).map_err(|e| io(&mp, e))?;
        let gp = self.gguf_path(&r);
        if gp.exists() {
            std::fs::remove_file(&gp).map_err(|e| io(&gp, e))?;
        }
        let _ = std::fs::remove_dir(self.root.join(&r.name));
        drop(lock);
        let _ = std::fs::remove_file(self.lock_path(&r));
        Ok(m)
    }

    /// Move a verified file into the store under `r` and write its manifest.
    /// `tmp` must be in the store's `.tmp` (same file system, so rename is atomic).
    pub(crate) fn install(
        &self,
        r: &ModelRef,
        tmp: &Path,
        source: &str,
        sha256: &str,
        license_hint: Option<&str>,
    ) -> Result<Manifest, StoreError> {
        let (_f, info) = manifest::inspect(tmp)?;
        let size = std::fs::metadata(tmp)
            .map_err(|e| StoreError::io(format!("reading {}", tmp.display()), e))?
            .len();
        let m = Manifest {
            name: r.name.clone(),
            tag: r.tag.clone(),
            source: source.into(),
            sha256: sha256.into(),
            size,
            architecture: info.architecture.clone(),
            parameters: manifest::human_params(info.parameter_count),
            parameter_count: info.parameter_count,
            quantization: info.quantization.clone(),
            license: info
                .license
                .clone()
                .or(license_hint.map(str::to_string))
                .unwrap_or_else(|| "unknown".into()),
            added: manifest::now_rfc3339(),
            file: format!("{}.gguf", r.tag),
            modelfile: None,
        };
        self.place(r, tmp, &m)?;
        Ok(m)
    }

    /// Rename `tmp` (in the store's `.tmp`) into place as `r`'s GGUF, then
    /// write its manifest `m`: the model becomes visible last.
    pub(crate) fn place(&self, r: &ModelRef, tmp: &Path, m: &Manifest) -> Result<(), StoreError> {
        let dir = self.root.join(&r.name);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::StoreDir {
            path: dir.clone(),
            source,
        })?;
        let mt = self.tmp_dir().join(format!("{}@{}.json", r.name, r.tag));
        let mut text = serde_json::to_string_pretty(m)
            .map_err(|e| StoreError::io("writing manifest", e.into()))?;
        text.push('\n');
        let written = std::fs::File::create(&mt).and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()
        });
        written.map_err(|e| StoreError::io(format!("writing {}", mt.display()), e))?;
        let gp = self.gguf_path(r);
        std::fs::rename(tmp, &gp)
            .map_err(|e| StoreError::io(format!("moving the model into {}", gp.display()), e))?;
        let mp = self.manifest_path(r);
        std::fs::rename(&mt, &mp)
            .map_err(|e| StoreError::io(format!("writing {}", mp.display()), e))?;
        Ok(())
    }

    /// Whether `s` names a model: an existing or path-like file, a URL or
    /// hf.co reference, a model of the store's directory (also one whose
    /// manifest is corrupt: using it says so), or a catalog name. Used by `run`
    /// to tell `hearth run MODEL` from `hearth run "prompt"`.
    pub fn is_model_spec(&self, s: &str) -> bool {
        if !matches!(self.find(s), Ok(None)) {
            return true;
        }
        match name::parse_spec(s) {
            // a prompt may contain `/`: only an existing file or a `.gguf` name is a path here
            Ok(Spec::Path(p)) => {
                p.exists()
                    || (s.to_ascii_lowercase().ends_with(".gguf")
                        && !s.contains(char::is_whitespace))
            }
            Ok(Spec::Hf { .. }) | Ok(Spec::Url(_)) => true,
            Ok(Spec::Name(n, t)) => {
                let r = self.resolve_ref(&n, t.as_deref());
                self.manifest_path(&r).exists() || catalog::knows_name(&n)
            }
            Err(_) => false,
        }
    }
}
