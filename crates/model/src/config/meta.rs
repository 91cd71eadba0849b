//! Typed access to a model's `{arch}.*` metadata keys, with errors that name
//! the key and say what was wrong (llama.cpp `llama_model_loader::get_key`,
//! `get_key_or_arr`).

use crate::ModelError;
use gguf::GgufFile;

/// Typed metadata access with errors that name the key.
pub(crate) struct Meta<'a> {
    pub f: &'a GgufFile,
    pub arch: &'static str,
}

impl<'a> Meta<'a> {
    pub fn bad(&self, key: &str, problem: &str) -> ModelError {
        ModelError::BadMetadata {
            path: self.f.path().to_path_buf(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub fn key(&self, k: &str) -> String {
        format!("{}.{}", self.arch, k)
    }

    pub fn u(&self, k: &str) -> Result<Option<usize>, ModelError> {
        let key = self.key(k);
        match self.f.get(&key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(x) if x <= (1 << 32) => Ok(Some(x as usize)),
                _ => Err(self.bad(
                    &key,
                    &format!("is {}, expected a non-negative integer", v.display_short(4)),
                )),
            },
        }
    }

    /// A per-layer value: one integer for every layer, or an array of
    /// `n_layer` of them (llama.cpp `get_key_or_arr`).
    pub fn u_layers(&self, k: &str, n_layer: usize) -> Result<Option<Vec<usize>>, ModelError> {
        let key = self.key(k);
        let Some(v) = self.f.get(&key) else {
            return Ok(None);
        };
        if let Some(a) = v.as_array() {
            let items: Option<Vec<usize>> = a
                .iter()
                .map(|x| x.as_u64().filter(|&u| u <= 1 << 32).map(|u| u as usize))
                .collect();
            return match items {
                Some(items) if items.len() == n_layer => Ok(Some(items)),
                _ => Err(self.bad(
                    &key,
                    &format!(
                        "is {}, expected {n_layer} non-negative integers (one per layer)",
                        v.display_short(4)
                    ),
                )),
            };
        }
        Ok(self.u(k)?.map(|x| vec![x; n_layer]))
    }

    pub fn req_u(&self, k: &str) -> Result<usize, ModelError> {
        match self.u(k)? {
            Some(0) => Err(self.bad(&self.key(k), "is 0")),
            Some(x) => Ok(x),
            None => Err(self.bad(&self.key(k), "is missing; the file is not a complete model")),
        }
    }

    pub fn f(&self, k: &str) -> Result<Option<f32>, ModelError> {
        let key = self.key(k);
        match self.f.get(&key) {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() => Ok(Some(x as f32)),
                _ => Err(self.bad(
                    &key,
                    &format!("is {}, expected a number", v.display_short(4)),
                )),
            },
        }
    }

    pub fn b(&self, k: &str) -> Result<Option<bool>, ModelError> {
        let key = self.key(k);
        match self.f.get(&key) {
            None => Ok(None),
            Some(v) => match v.as_bool() {
                Some(x) => Ok(Some(x)),
                None => Err(self.bad(
                    &key,
                    &format!("is {}, expected true or false", v.display_short(4)),
                )),
            },
        }
    }
}
