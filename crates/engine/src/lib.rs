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
pub mod harmony;
pub mod jsonfix;
mod load;
pub mod reasoning;
mod restart;
pub mod scheduler;
pub mod spec;
mod step;

pub use conversation::{common_prefix, reuse_point, turn_point, CachedStats, Piece};
pub use embed::Embedding;
pub use error::EngineError;
pub use generate::{FinishReason, GenerateRequest, GenerateStats, Prompt};
pub use kernels::{check_simd_env, default_threads, simd_level, ThreadPool};
pub use load::{load, load_tokenizer, Cache, Ctx, LoadOptions, Loaded, Panels, Weights};
pub use model::{Logits, Model, ModelError, PanelScope, Session};
pub use reasoning::{Reasoning, ReasoningFormat};
pub use sampler::{
    Constraint, ConstraintError, Grammar, RepeatDetector, SamplerError, SamplingParams,
    INNER_GRAMMAR,
};
pub use spec::{DraftModel, SpecStats, Speculation};
pub use tokenizer::{pin_template_clock, ChatTemplate, Message, RenderOptions, Tokenizer};

use std::path::{Path, PathBuf};

/// A model ready to generate: weights, tokenizer, chat template.
pub struct LoadedModel {
    pub path: PathBuf,
    pub model: Model,
    pub tokenizer: Tokenizer,
    /// The chat template (the file's own, or a built-in one for its family);
    /// an error kept for when a chat is asked of a model that has none.
    pub template: Result<ChatTemplate, String>,
    /// A model of the same vocabulary that drafts tokens for speculative
    /// decoding ([`LoadedModel::set_draft`]; used by requests whose
    /// [`Speculation::draft`] is set).
    pub draft: Option<std::sync::Arc<DraftModel>>,
    /// The vocabulary indexed for constrained decoding, built on first use
    /// ([`LoadedModel::constraint`]).
    constraint_vocab: std::sync::OnceLock<Result<std::sync::Arc<sampler::Vocabulary>, String>>,
}

impl LoadedModel {
    /// Load a GGUF model file as it is: no memory preflight, no context
    /// settled (tests, and [`load`], which programs use).
    pub fn load(path: impl AsRef<Path>) -> Result<LoadedModel, EngineError> {
        Self::from_gguf(gguf::GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?)
    }

    /// Load from an already opened GGUF file.
    pub(crate) fn from_gguf(file: gguf::GgufFile) -> Result<LoadedModel, EngineError> {
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
            draft: None,
            constraint_vocab: std::sync::OnceLock::new(),
        })
    }

    /// A session of `n_ctx` positions (prompts read in chunks of
    /// `model::DEFAULT_BATCH` tokens).
    pub fn session(&self, n_ctx: usize) -> Result<Session, EngineError> {
        Ok(self.model.session(n_ctx, model::DEFAULT_BATCH)?)
    }

    /// Build the model's weight panels for batched work (see
    /// `kernels::PanelCache`: faster batched steps of a few sequences, for
    /// 0.6 to 1.75 bytes per weight of the formats that have them, by format
    /// and CPU) when they take at most a quarter of the memory available now;
    /// `limit` caps them further (a server's memory budget left). A mixture
    /// of experts whose whole cache does not fit gets the panels of all but
    /// its routed experts if those fit (`model::PanelScope::Dense`). Returns
    /// the bytes held (0: none built — this CPU or these formats have none,
    /// or no room).
    pub fn build_panel_caches(
        &self,
        threads: usize,
        limit: Option<u64>,
    ) -> Result<u64, EngineError> {
        // A copy of the weights ([`Weights::Resident`]) counts as available,
        // as the mapped file's pages it replaced did (the page cache).
        let own = self.model.file();
        let own = if own.copy_started() {
            own.file_size()
        } else {
            0
        };
        let room = fit::memory_info().map_or(0, |(_, avail)| (avail + own) / 4);
        let room = room.min(limit.unwrap_or(u64::MAX));
        // everything if it fits, else (a mixture of experts) all but the
        // routed experts
        for scope in [PanelScope::All, PanelScope::Dense] {
            let need = self.model.panel_cache_bytes_of(scope) as u64;
            if need == 0 {
                return Ok(0);
            }
            if need <= room {
                let pool = ThreadPool::new(threads.max(1));
                return Ok(self.model.build_panel_caches_of(&pool, scope)? as u64);
            }
        }
        Ok(0)
    }

    /// Use the chat template in the file at `path` (Jinja, as a GGUF's
    /// `tokenizer.chat_template`) instead of the model's own.
    pub fn set_template_file(&mut self, path: &Path) -> Result<(), EngineError> {
        let src = std::fs::read_to_string(path).map_err(|e| {
            EngineError::Mismatch(format!(
                "cannot read the chat template {}: {e}",
                path.display()
            ))
        })?;
        let t = ChatTemplate::new(&path.display().to_string(), &src, false, &self.tokenizer)?;
        self.template = Ok(t);
        Ok(())
    }
}
