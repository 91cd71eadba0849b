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
    /// True when the file is a loose file of the models directory (so
    /// `/api/delete` and `/api/copy` may touch it); store models are removed
    /// with `hearth rm`, and files named by `--model` are never deleted.
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

    /// Delete a model file from the models directory.
    pub fn delete(&self, name: &str) -> Result<(), CatalogError> {
        let e = self.resolve(name)?;
        if !e.in_dir && e.name.contains(':') {
            return Err(CatalogError::Refused(format!(
                "model '{}' is in the model store; remove it with `hearth rm {}`",
                e.name, e.name
            )));
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

    /// Make `dest` another name for `source` (a hard link, or a copy, in
    /// the models directory).
    pub fn copy(&self, source: &str, dest: &str) -> Result<(), CatalogError> {
        let e = self.resolve(source)?;
        let dir = self
            .dir()
            .ok_or_else(|| CatalogError::Refused("no models directory to copy into".into()))?;
        if dest.is_empty() || dest.contains(['/', '\\']) || dest.starts_with('.') {
            return Err(CatalogError::Refused(format!("destination '{dest}' is not a valid model name (no slashes, not starting with '.')")));
        }
        let target = dir.join(format!("{dest}.gguf"));
        if target.exists() {
            return Err(CatalogError::Refused(format!(
                "model '{dest}' already exists"
            )));
        }
        if std::fs::hard_link(&e.path, &target).is_err() {
            std::fs::copy(&e.path, &target)
                .map_err(|x| CatalogError::Io(format!("copying to {}: {x}", target.display())))?;
        }
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
        .map(file_type_name)
        .unwrap_or_default();
    Details {
        family: arch,
        parameter_size: size_label,
        quantization_level: quant,
        context_length: ctx,
        chat_template: f.get_str("tokenizer.chat_template").map(str::to_string),
    }
}

/// llama.cpp's `general.file_type` numbers.
fn file_type_name(t: u64) -> String {
    match t {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        32 => "BF16",
        _ => return format!("type{t}"),
    }
    .to_string()
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
        assert!(
            c.delete("qwen2.5-coder:0.5b").is_err(),
            "store models are removed with hearth rm"
        );
    }
}
