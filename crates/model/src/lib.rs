//! Models: hyper-parameters, weights as views into the memory-mapped GGUF
//! file, one file per architecture, and the forward pass. A loaded [`Model`]
//! is immutable and `Sync`: one model serves many [`Session`]s, each holding
//! its own KV cache.

mod arch;
mod attention;
pub mod config;
mod delta;
pub mod encoder;
mod error;
mod forward;
mod gemma4;
mod hybrid;
mod moe;
pub mod ops;
mod pooling;
mod session;
mod weights;

pub use config::{
    Activation, Arch, AttnTemp, Config, Gating, Gemma4Spec, LayerSpec, Moe, Positions, Scales,
};
pub use delta::CHUNK as DELTA_CHUNK;
pub use encoder::{EncodeKnobs, EncoderSpec};
pub use error::ModelError;
pub use forward::{Logits, SeqInput};
pub use gemma4::{G4Layer, G4Ple, G4Weights};
pub use hybrid::{DeltaRule, DeltaWeights, GatedAttnWeights, HybridLayer, Mixer};
pub use pooling::Pooling;
pub use session::{Scratch, Session, DEFAULT_BATCH};
pub use weights::{Experts, Ffn, Layer, Matrix, SharedExpert, Weights};

use gguf::GgufFile;
use std::path::Path;

/// A loaded model: the mapped file, its configuration and weight views.
pub struct Model {
    file: GgufFile,
    pub config: Config,
    /// A decoder's weights; of an embedding model, only the token
    /// embeddings (its blocks are in `encoder`).
    pub weights: Weights,
    /// An embedding model's weights (`bert`, `nomic-bert`: `encoder.rs`).
    pub encoder: Option<encoder::EncoderWeights>,
    /// Prebuilt weight panels by matrix (`Matrix::start`), once
    /// [`Model::build_panel_caches`] ran (see `kernels::PanelCache`).
    panels: std::sync::OnceLock<std::collections::HashMap<usize, kernels::PanelCache>>,
    /// The form of a hybrid model's gated delta rule ([`Model::set_delta_rule`]).
    delta_rule: DeltaRule,
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
        let (weights, encoder) = if config.encoder.is_some() {
            let (w, e) = encoder::load(&file, &config)?;
            (w, Some(e))
        } else {
            (weights::load(&file, &config)?, None)
        };
        Ok(Model {
            file,
            config,
            weights,
            encoder,
            panels: std::sync::OnceLock::new(),
            delta_rule: DeltaRule::default(),
        })
    }

    /// Run a hybrid model's gated delta rule in this form (the chunked one
    /// unless told; the per-token one is the reference it is tested
    /// against). Sessions made before keep their state in the other form's
    /// layout: make them after.
    pub fn set_delta_rule(&mut self, form: DeltaRule) {
        self.delta_rule = form;
    }

    /// The matrices the forward pass multiplies by (not the embedding table,
    /// which is looked up), each once, those of `scope`. None for an
    /// embedding model: its passes are one text each, for which panels are
    /// not built.
    fn matmul_matrices(&self, scope: PanelScope) -> Vec<&weights::Matrix> {
        let routed = scope == PanelScope::All;
        if self.encoder.is_some() {
            return Vec::new();
        }
        let w = &self.weights;
        let mut v: Vec<&weights::Matrix> = Vec::new();
        for l in &w.layers {
            v.extend([&l.wq, &l.wk, &l.wv, &l.wo]);
            match &l.ffn {
                weights::Ffn::Dense { gate, up, down } => v.extend([gate, up, down]),
                weights::Ffn::Moe(e) => v.extend(e.matrices(routed)),
            }
        }
        v.extend(w.hybrid.iter().flat_map(|l| l.matrices(routed)));
        if let Some(g) = &w.gemma4 {
            v.extend(g.matrices(routed));
        }
        v.push(&w.output);
        v.sort_by_key(|m| m.start);
        v.dedup_by_key(|m| m.start);
        v
    }

    /// Memory, in bytes, that [`Model::build_panel_caches`] would take on
    /// this CPU (0 when its kernels have no cached panels for these formats).
    pub fn panel_cache_bytes(&self) -> usize {
        self.panel_cache_bytes_of(PanelScope::All)
    }

    /// [`Model::panel_cache_bytes`] of the matrices of `scope`.
    pub fn panel_cache_bytes_of(&self, scope: PanelScope) -> usize {
        self.matmul_matrices(scope)
            .iter()
            .filter_map(|m| kernels::PanelCache::bytes_for(m.ty, m.rows, m.cols))
            .sum()
    }

    /// Unpack the weight panels of the batched matmul once, for the life of
    /// the model (about an eighth of a batched decode step of 8 sequences,
    /// for [`Model::panel_cache_bytes`] of memory; results are the same bits
    /// either way). Runs on `pool`; a second call does nothing. Returns the
    /// bytes held.
    pub fn build_panel_caches(&self, pool: &kernels::ThreadPool) -> Result<usize, ModelError> {
        self.build_panel_caches_of(pool, PanelScope::All)
    }

    /// [`Model::build_panel_caches`] of the matrices of `scope` (the first
    /// call decides: a second does nothing, whatever its scope).
    pub fn build_panel_caches_of(
        &self,
        pool: &kernels::ThreadPool,
        scope: PanelScope,
    ) -> Result<usize, ModelError> {
        if let Some(p) = self.panels.get() {
            return Ok(p.values().map(|c| c.bytes()).sum());
        }
        let mats = self.matmul_matrices(scope);
        let built = std::sync::Mutex::new(std::collections::HashMap::new());
        let failed = std::sync::Mutex::new(None);
        let bytes = self.file.bytes();
        pool.run(mats.len(), |i| {
            let m = mats[i];
            match kernels::PanelCache::build(m.ty, &bytes[m.start..m.start + m.len], m.rows, m.cols)
            {
                Ok(Some(c)) => {
                    built
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(m.start, c);
                }
                Ok(None) => {}
                Err(e) => {
                    *failed.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(format!("{}: {e}", m.name))
                }
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(ModelError::Kernel(e));
        }
        let map = built.into_inner().unwrap_or_else(|e| e.into_inner());
        let held = map.values().map(|c| c.bytes()).sum();
        let _ = self.panels.set(map);
        Ok(held)
    }

    /// The prebuilt panels of `m`, if built.
    pub(crate) fn panel_cache(&self, m: &weights::Matrix) -> Option<&kernels::PanelCache> {
        self.panels.get().and_then(|p| p.get(&m.start))
    }

    /// The underlying GGUF file (metadata for tokenizer and templates).
    pub fn file(&self) -> &GgufFile {
        &self.file
    }

    /// A new session with room for `n_ctx` positions, processing prompts in
    /// chunks of `batch` tokens. For a LongRoPE model (Phi-3.5, Phi-4-mini)
    /// `n_ctx` also chooses the frequency factors, as llama.cpp's context
    /// size does: the long ones beyond the original training context.
    /// An embedding model has no sessions: it does not generate.
    pub fn session(&self, n_ctx: usize, batch: usize) -> Result<Session, ModelError> {
        if self.encoder.is_some() {
            return Err(ModelError::EmbeddingModel {
                arch: self.config.arch.name(),
            });
        }
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

/// Which matrices [`Model::build_panel_caches_of`] unpacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelScope {
    /// Every matrix with cached panels on this CPU.
    All,
    /// All but a mixture's routed experts: the matrices every row of every
    /// batched step multiplies (attention, dense and shared-expert FFNs, the
    /// router, the vocabulary projection). Each routed expert sees a few
    /// rows of a step, which its row decoder takes about as fast without
    /// panels, and the experts are most of such a file: when the whole
    /// cache does not fit, this part may.
    Dense,
}

#[cfg(test)]
mod sync_check {
    fn assert_sync<T: Sync + Send>() {}
    #[test]
    fn model_is_sync_and_send() {
        assert_sync::<super::Model>();
    }
}
