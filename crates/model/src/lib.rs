//! Models: hyper-parameters, weights as views into the memory-mapped GGUF
//! file, one file per architecture, and the forward pass. A loaded [`Model`]
//! is immutable and `Sync`: one model serves many [`Session`]s, each holding
//! its own KV cache.

mod arch;
mod attention;
pub mod config;
mod error;
mod forward;
pub mod ops;
mod session;
mod weights;

pub use config::{Activation, Arch, Config};
pub use error::ModelError;
pub use forward::{Logits, SeqInput};
pub use session::{Scratch, Session, DEFAULT_BATCH};
pub use weights::{Layer, Matrix, Weights};

use gguf::GgufFile;
use std::path::Path;

/// A loaded model: the mapped file, its configuration and weight views.
pub struct Model {
    file: GgufFile,
    pub config: Config,
    pub weights: Weights,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("file", &self.file.path())
            .field("arch", &self.config.arch)
            .finish()
    }
}

impl Model {
    /// Open a GGUF file and load the model in it.
    pub fn load(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Self::from_gguf(GgufFile::open(path)?)
    }

    /// Load the model of an already opened GGUF file.
    pub fn from_gguf(file: GgufFile) -> Result<Model, ModelError> {
        let arch_name = file.architecture().unwrap_or("(none)").to_string();
        if Arch::from_name(&arch_name).is_none() {
            return Err(ModelError::UnsupportedArch {
                path: file.path().into(),
                arch: arch_name,
                supported: config::SUPPORTED,
            });
        }
        let n_vocab = match file.tensor("token_embd.weight") {
            Some(t) if t.dims.len() >= 2 => t.dims[1] as usize,
            _ => {
                return Err(ModelError::MissingTensor {
                    path: file.path().into(),
                    tensor: "token_embd.weight".into(),
                    arch: arch_name,
                })
            }
        };
        let config = Config::from_gguf(&file, n_vocab)?;
        let weights = weights::load(&file, &config)?;
        Ok(Model {
            file,
            config,
            weights,
        })
    }

    /// The underlying GGUF file (metadata for tokenizer and templates).
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// A new session with room for `n_ctx` positions, processing prompts in
    /// chunks of `batch` tokens.
    pub fn session(&self, n_ctx: usize, batch: usize) -> Result<Session, ModelError> {
        if n_ctx == 0 {
            return Err(ModelError::ContextOverflow {
                needed: 1,
                used: 0,
                n_ctx,
                max: self.config.n_ctx_train,
            });
        }
        Session::new(&self.config, n_ctx, batch)
    }
}

#[cfg(test)]
mod sync_check {
    fn assert_sync<T: Sync + Send>() {}
    #[test]
    fn model_is_sync_and_send() {
        assert_sync::<super::Model>();
    }
}
