//! Which models the server can serve, by name: the models of the model
//! store's directory (store models as `name:tag`, loose `*.gguf` files by
//! their stem), found by the store's own rule (`store::Store::find`, the one
//! every `hearth` command follows, so a name means the same file to both),
//! and files named on the command line (by their stem). Everything else in
//! the server asks only [`Catalog`], which keeps the store's listing as a
//! cache for the model lists; `/api/pull` (`pull.rs`) fills the directory
//! through the store and refreshes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;
use store::{Store, StoredModel};

/// One servable model.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
    /// True when the file is a loose file of the models directory; files
    /// named by `--model` are never deleted.
    pub in_dir: bool,
}

/// Facts read from the file's metadata (cheap: the header only).
#[derive(Clone, Debug, Default)]
pub struct Details {
    pub family: String,
    pub parameter_size: String,
    pub quantization_level: String,
    pub context_length: Option<u64>,
    pub chat_template: Option<String>,
}

pub struct Catalog {
    store: Option<Store>,
    extra: Vec<PathBuf>,
    entries: RwLock<BTreeMap<String, Entry>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("model '{0}' not found; `GET /v1/models` lists the models this server has")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Io(String),
}

impl Catalog {
    /// Serve the models of the store in `dir` (if given; a missing directory
    /// is empty) and each file of `extra`.
    pub fn new(dir: Option<PathBuf>, extra: Vec<PathBuf>) -> Catalog {
        let c = Catalog {
            store: dir.map(Store::at),
            extra,
            entries: RwLock::new(BTreeMap::new()),
        };
        c.refresh();
        c
    }

    pub fn dir(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.root.as_path())
    }

    /// A file named with `--model`, by its stem (or `stem:latest`).
    fn extra_named(&self, name: &str) -> Option<Entry> {
        let stem = name.strip_suffix(":latest").unwrap_or(name);
        self.extra
            .iter()
            .filter_map(|p| entry_for(p, false))
            .find(|e| e.name == stem)
    }

    /// Re-read the directory (files added or removed by hand show up).
    pub fn refresh(&self) {
        let mut m = BTreeMap::new();
        if let Some(st) = &self.store {
            for sm in st.models().0 {
                if let Some(en) = entry_of(sm) {
                    m.insert(en.name.clone(), en);
                }
            }
        }
        for p in &self.extra {
            if let Some(en) = entry_for(p, false) {
                m.insert(en.name.clone(), en);
            }
        }
        *self.entries.write().unwrap() = m;
    }

    pub fn list(&self) -> Vec<Entry> {
        self.refresh();
        self.entries.read().unwrap().values().cloned().collect()
    }

    /// The model called `name`: a `--model` file by its stem, else what the
    /// store's rule finds (`store::Store::find`: a loose file by its exact
    /// stem, a store model as `name:tag` or a bare name, `name:latest` for a
    /// loose file `name`).
    pub fn resolve(&self, name: &str) -> Result<Entry, CatalogError> {
        if let Some(e) = self.extra_named(name) {
            return Ok(e);
        }
        let found = match &self.store {
            Some(st) => st
                .find(name)
                .map_err(|e| CatalogError::Refused(e.to_string()))?,
            None => None,
        };
        let e = found
            .and_then(entry_of)
            .ok_or_else(|| CatalogError::NotFound(name.to_string()))?;
        self.entries
            .write()
            .unwrap()
            .insert(e.name.clone(), e.clone());
        Ok(e)
    }

    /// Delete a model: a loose file of the models directory, or a store
    /// model (its manifest and file); never a file named by `--model`.
    pub fn delete(&self, name: &str) -> Result<(), CatalogError> {
        let e = self.resolve(name)?;
        let named_by_flag = self.extra_named(name).is_some();
        if !e.in_dir && !named_by_flag {
            // a store model (what `/api/copy` and `/api/pull` make): removed
            // as `hearth rm` does, manifest and file
            let st = self
                .store
                .as_ref()
                .ok_or_else(|| CatalogError::NotFound(name.into()))?;
            st.remove(&e.name)
                .map_err(|x| CatalogError::Io(x.to_string()))?;
            self.refresh();
            return Ok(());
        }
        if !e.in_dir {
            return Err(CatalogError::Refused(format!(
                "model '{name}' was given with --model {}; hearth does not delete files it was pointed at",
                e.path.display()
            )));
        }
        std::fs::remove_file(&e.path)
            .map_err(|x| CatalogError::Io(format!("deleting {}: {x}", e.path.display())))?;
        self.refresh();
        Ok(())
    }

    /// Make `dest` (`name` or `name:tag`) another name for `source`: a
    /// store entry like `hearth import` makes (hard-linked when it can be,
    /// its manifest with the file's sha256), so that `hearth list` and
    /// `hearth rm` see it. Reads the whole file (blocking).
    pub fn copy(&self, source: &str, dest: &str) -> Result<(), CatalogError> {
        let e = self.resolve(source)?;
        let st = self
            .store
            .as_ref()
            .ok_or_else(|| CatalogError::Refused("no models directory to copy into".into()))?;
        if self.resolve(dest).is_ok() {
            return Err(CatalogError::Refused(format!(
                "model '{dest}' already exists"
            )));
        }
        store::name::parse_name(dest).map_err(|x| {
            CatalogError::Refused(format!(
                "destination '{dest}' is not a valid model name: {x}"
            ))
        })?;
        store::import(st, &e.path, Some(dest), &mut store::Progress::quiet()).map_err(
            |x| match x {
                store::StoreError::Exists(n) => {
                    CatalogError::Refused(format!("model '{n}' already exists"))
                }
                other => CatalogError::Io(other.to_string()),
            },
        )?;
        self.refresh();
        Ok(())
    }
}

/// The entry of a model of the store's directory (`None`: its file is gone).
fn entry_of(m: StoredModel) -> Option<Entry> {
    let loose = m.manifest.is_none();
    let mut e = entry_for(&m.path, loose)?;
    e.name = m.name;
    Some(e)
}

fn entry_for(p: &Path, in_dir: bool) -> Option<Entry> {
    let md = std::fs::metadata(p).ok()?;
    if !md.is_file() {
        return None;
    }
    let name = p.file_stem()?.to_str()?.to_string();
    Some(Entry {
        name,
        path: p.to_path_buf(),
        size: md.len(),
        modified: md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        in_dir,
    })
}

/// Read a model's details from its GGUF header.
pub fn details(path: &Path) -> Details {
    let Ok(f) = gguf::GgufFile::open(path) else {
        return Details::default();
    };
    let arch = f.architecture().unwrap_or("").to_string();
    let ctx = f.get_u64(&format!("{arch}.context_length"));
    let size_label = f
        .get_str("general.size_label")
        .map(str::to_string)
        .unwrap_or_default();
    let quant = f
        .get_u64("general.file_type")
        .map(store::file_type_name)
        .unwrap_or_default();
    Details {
        family: arch,
        parameter_size: size_label,
        quantization_level: quant,
        context_length: ctx,
        // `NAME.jinja` beside the file overrides its template (as loading does)
        chat_template: std::fs::read_to_string(path.with_extension("jinja"))
            .ok()
            .or_else(|| f.get_str("tokenizer.chat_template").map(str::to_string)),
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;

    #[test]
    fn serves_the_model_store_by_name_and_tag() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("qwen2.5-coder")).unwrap();
        std::fs::write(d.path().join("qwen2.5-coder/0.5b.gguf"), b"GGUF").unwrap();
        let m = store::Manifest {
            name: "qwen2.5-coder".into(),
            tag: "0.5b".into(),
            sha256: "0".repeat(64),
            file: "0.5b.gguf".into(),
            ..Default::default()
        };
        std::fs::write(
            d.path().join("qwen2.5-coder/0.5b.json"),
            serde_json::to_string(&m).unwrap(),
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join(".tmp")).unwrap();
        std::fs::write(d.path().join(".tmp/x@y.gguf"), b"GGUF").unwrap();
        std::fs::write(d.path().join("plain.gguf"), b"GGUF").unwrap();
        let c = Catalog::new(Some(d.path().to_path_buf()), vec![]);
        let names: Vec<String> = c.list().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["plain", "qwen2.5-coder:0.5b"]);
        assert_eq!(
            c.resolve("qwen2.5-coder").unwrap().path,
            d.path().join("qwen2.5-coder/0.5b.gguf")
        );
        assert!(c.resolve("qwen2.5-coder:7b").is_err());
        // a store model is removed as `hearth rm` removes it
        c.delete("qwen2.5-coder:0.5b").unwrap();
        assert!(!d.path().join("qwen2.5-coder/0.5b.json").exists());
        let names: Vec<String> = c.list().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["plain"]);
    }
}
