//! What a model name means in the store's directory: the one listing and the
//! one rule, used by every command (through [`crate::resolve`]) and by the
//! server (which keeps a cache over the listing), so a name finds the same
//! file everywhere.
//!
//! The store's directory holds store models, `<root>/<name>/<tag>.gguf` with
//! their manifests, called `name:tag`, and may hold loose files,
//! `<root>/<stem>.gguf` (put there by hand),
//! called by their stem. A name, as typed, finds:
//!
//! 1. the loose file whose stem it is, exactly;
//! 2. else the store model it names (case-insensitive; a bare name takes the
//!    catalog's default tag, else the only tag present, else `latest`:
//!    [`Store::resolve_ref`]);
//! 3. else, for `NAME:latest`, the loose file `NAME`.
//!
//! Paths are not names: a command takes a path as it is, a server request
//! cannot name a file on disk.

use crate::error::StoreError;
use crate::manifest::Manifest;
use crate::name::{self, ModelRef};
use crate::store::Store;
use std::path::PathBuf;

/// A model file in the store's directory.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredModel {
    /// The name that finds it: `name:tag` for a store model, the file stem
    /// for a loose file.
    pub name: String,
    pub path: PathBuf,
    /// The store model's manifest (`None`: a loose file).
    pub manifest: Option<Manifest>,
}

impl StoredModel {
    fn store(store: &Store, m: Manifest) -> StoredModel {
        let r = ModelRef {
            name: m.name.clone(),
            tag: m.tag.clone(),
        };
        StoredModel {
            name: m.reference(),
            path: store.gguf_path(&r),
            manifest: Some(m),
        }
    }

    fn loose(name: String, path: PathBuf) -> StoredModel {
        StoredModel {
            name,
            path,
            manifest: None,
        }
    }
}

impl Store {
    /// The loose `*.gguf` files directly in the store's directory (sorted by
    /// stem): stem and path.
    pub fn loose_files(&self) -> Vec<(String, PathBuf)> {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut v: Vec<(String, PathBuf)> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| x.eq_ignore_ascii_case("gguf"))
                    && p.is_file()
            })
            .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
            .filter(|(stem, _)| !stem.starts_with('.'))
            .collect();
        v.sort();
        v
    }

    fn loose_file(&self, stem: &str) -> Option<StoredModel> {
        if stem.is_empty() || stem.contains(['/', '\\']) {
            return None;
        }
        self.loose_files()
            .into_iter()
            .find(|(s, _)| s == stem)
            .map(|(s, p)| StoredModel::loose(s, p))
    }

    /// Every model a name can find, sorted by name (store models and loose
    /// files), and the problems met on the way (corrupt manifests; one bad
    /// entry never hides the others). A loose file whose stem is also a store
    /// model's `name:tag` is listed once, as the loose file the name finds.
    pub fn models(&self) -> (Vec<StoredModel>, Vec<StoreError>) {
        let (manifests, problems) = self.list();
        let loose = self.loose_files();
        let mut v: Vec<StoredModel> = manifests
            .into_iter()
            .map(|m| StoredModel::store(self, m))
            .filter(|m| !loose.iter().any(|(s, _)| *s == m.name))
            .collect();
        v.extend(loose.into_iter().map(|(s, p)| StoredModel::loose(s, p)));
        v.sort_by(|a, b| a.name.cmp(&b.name));
        (v, problems)
    }

    /// The model `typed` names in the store's directory, by the rule of this
    /// module; `Ok(None)` when there is none (nothing is fetched). A store
    /// model with a corrupt manifest is an error, not an absence.
    pub fn find(&self, typed: &str) -> Result<Option<StoredModel>, StoreError> {
        let typed = typed.trim();
        if let Some(m) = self.loose_file(typed) {
            return Ok(Some(m));
        }
        let Ok((n, t)) = name::parse_name(typed) else {
            return Ok(None);
        };
        let r = self.resolve_ref(&n, t.as_deref());
        if let Some(m) = self.installed(&r)? {
            return Ok(Some(StoredModel::store(self, m)));
        }
        Ok(typed
            .strip_suffix(":latest")
            .and_then(|base| self.loose_file(base)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, tag: &str) -> Manifest {
        Manifest {
            name: name.into(),
            tag: tag.into(),
            sha256: "0".repeat(64),
            file: format!("{tag}.gguf"),
            ..Manifest::default()
        }
    }

    /// A store model `name:tag` (a manifest and a file; the file's content
    /// does not matter to names).
    fn put(root: &std::path::Path, name: &str, tag: &str) {
        std::fs::create_dir_all(root.join(name)).unwrap();
        std::fs::write(root.join(name).join(format!("{tag}.gguf")), b"GGUF").unwrap();
        let text = serde_json::to_string(&manifest(name, tag)).unwrap();
        std::fs::write(root.join(name).join(format!("{tag}.json")), text).unwrap();
    }

    #[test]
    fn the_rule() {
        let d = tempfile::tempdir().unwrap();
        let st = Store::at(d.path());
        put(d.path(), "smollm2", "135m");
        put(d.path(), "smollm2", "q8");
        put(d.path(), "mine", "v1");
        put(d.path(), "two", "a");
        put(d.path(), "two", "b");
        for f in ["plain.gguf", "Mixed Case.gguf", "mine.gguf", ".hidden.gguf"] {
            std::fs::write(d.path().join(f), b"GGUF").unwrap();
        }
        std::fs::create_dir_all(d.path().join(".tmp")).unwrap();
        std::fs::write(d.path().join(".tmp/x@y.gguf"), b"GGUF").unwrap();
        let name = |t: &str| st.find(t).unwrap().map(|m| m.name);
        let path = |t: &str| st.find(t).unwrap().map(|m| m.path);
        // a bare catalog name: the catalog's default tag when present
        assert_eq!(name("smollm2").as_deref(), Some("smollm2:135m"));
        assert_eq!(name("SmolLM2:Q8").as_deref(), Some("smollm2:q8"));
        assert_eq!(
            path("smollm2:135m"),
            Some(d.path().join("smollm2/135m.gguf"))
        );
        // a loose file by its exact stem, before a store model's bare name
        assert_eq!(path("mine"), Some(d.path().join("mine.gguf")));
        assert_eq!(name("mine:v1").as_deref(), Some("mine:v1"));
        assert_eq!(path("plain:latest"), Some(d.path().join("plain.gguf")));
        assert_eq!(name("Mixed Case").as_deref(), Some("Mixed Case"));
        assert_eq!(name("mixed case"), None);
        // two tags and no default: no name for the bare one
        assert_eq!(name("two"), None);
        for absent in [
            "nope",
            "smollm2:1b",
            ".hidden",
            "x@y",
            "",
            "a/b",
            "../plain",
        ] {
            assert_eq!(name(absent), None, "{absent}");
        }
        let (all, problems) = st.models();
        let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Mixed Case",
                "mine",
                "mine:v1",
                "plain",
                "smollm2:135m",
                "smollm2:q8",
                "two:a",
                "two:b"
            ]
        );
        assert!(problems.is_empty());
        // every listed name finds its own entry
        for m in &all {
            assert_eq!(st.find(&m.name).unwrap().as_ref(), Some(m), "{}", m.name);
        }
        // a corrupt manifest is an error where it is named, a problem in the list
        std::fs::write(d.path().join("two/a.json"), "{").unwrap();
        assert!(matches!(
            st.find("two:a"),
            Err(StoreError::CorruptManifest { .. })
        ));
        assert_eq!(st.models().1.len(), 1);
    }
}
