//! The engine: a loaded model with its tokenizer and chat template, and
//! generation from text to tokens and back (prompt → tokens → forward passes →
//! sampling → streamed text). Scheduling of many requests at once builds on
//! this.

pub mod bench;
mod conversation;
mod embed;
mod error;
pub mod fit;
mod generate;
pub mod jsonfix;
pub mod scheduler;
mod step;

pub use conversation::{common_prefix, CachedStats};
pub use embed::Embedding;
pub use error::EngineError;
pub use generate::{FinishReason, GenerateRequest, GenerateStats, Prompt};
pub use kernels::ThreadPool;
pub use model::{Logits, Model, Session};
pub use sampler::SamplingParams;
pub use tokenizer::{ChatTemplate, Message, Tokenizer};

use std::path::{Path, PathBuf};

/// A model ready to generate: weights, tokenizer, chat template.
pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Model,
    pub tokenizer: Tokenizer,
    /// The chat template (the file's own, or a built-in one for its family);
    /// an error kept for when a chat is asked of a model that has none.
    pub template: Result<ChatTemplate, String>,
}

impl LoadedModel {
    /// Load a GGUF model file.
    pub fn load(path: impl AsRef<Path>) -> Result<LoadedModel, EngineError> {
        Self::from_gguf(gguf::GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?)
    }

    /// Load a model after checking it fits the memory available at `n_ctx`
    /// positions (default: [`fit::default_ctx`]): refused with the numbers
    /// when it cannot fit; the second value is a warning when it is tight.
    pub fn load_checked(
        path: impl AsRef<Path>,
        n_ctx: Option<usize>,
    ) -> Result<(LoadedModel, Option<String>), EngineError> {
        let f = gguf::GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?;
        let ctx = match n_ctx {
            Some(n) => n,
            None => fit::default_ctx(&f)?,
        };
        let warning = fit::preflight(&f, ctx)?;
        Ok((Self::from_gguf(f)?, warning))
    }

    /// Load from an already opened GGUF file.
    pub fn from_gguf(file: gguf::GgufFile) -> Result<LoadedModel, EngineError> {
        let path = file.path().to_path_buf();
        let model = Model::from_gguf(file)?;
        let tokenizer = Tokenizer::from_gguf(model.file())?;
        if tokenizer.n_vocab() != model.config.n_vocab {
            return Err(EngineError::Mismatch(format!(
                "{}: the tokenizer has {} tokens but the embedding matrix has {} rows; the file is inconsistent",
                path.display(),
                tokenizer.n_vocab(),
                model.config.n_vocab
            )));
        }
        let template = ChatTemplate::from_gguf(model.file(), &tokenizer).map_err(|e| e.to_string());
        Ok(LoadedModel {
            path,
            model,
            tokenizer,
            template,
        })
    }

    /// The context size to use when the caller names none: the trained
    /// context, capped at 4096 positions and at what fits in memory.
    pub fn default_ctx(&self) -> usize {
        fit::default_ctx(self.model.file()).unwrap_or(self.model.config.n_ctx_train.min(4096))
    }
}
