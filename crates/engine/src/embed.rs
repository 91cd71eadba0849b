//! Sentence embeddings: a text's final hidden states pooled into one vector
//! as the model file says (`model::Pooling`: mean unless the file says cls
//! or last) and L2-normalized, as llama.cpp's pooling with `normalize` does.
//! An embedding model (`bert`, `nomic-bert`) computes them in one
//! bidirectional pass (`Model::encode`); a decoder's are its hidden states
//! after the output norm (`Model::hidden_states`). Checked against llama.cpp
//! in tests/embed.rs (real decoders) and tests/embed_synthetic.rs (the
//! synthetic encoders).

use crate::{EngineError, LoadedModel};
use kernels::ThreadPool;

/// One text's embedding.
#[derive(Clone, Debug)]
pub struct Embedding {
    /// `n_embd` floats, unit length.
    pub vector: Vec<f32>,
    /// Tokens the text became (BOS included when the vocabulary adds one).
    pub n_tokens: usize,
}

impl LoadedModel {
    /// Embed `text` (see the module docs). Each call uses a fresh session
    /// sized to the text; nothing is shared with generation.
    pub fn embed(&self, pool: &ThreadPool, text: &str) -> Result<Embedding, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let tokens = self.embed_input(text);
        let vector = self.embed_tokens(pool, &tokens)?;
        Ok(Embedding {
            vector,
            n_tokens: tokens.len(),
        })
    }

    /// The tokens [`Self::embed`] embeds for `text` (BOS as the vocabulary
    /// says, special-token text taken literally).
    pub fn embed_input(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.tokenizer.add_bos(), false)
    }

    /// The embedding of `tokens` (the hidden states pooled as the model says,
    /// unit length).
    pub fn embed_tokens(&self, pool: &ThreadPool, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        if tokens.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        let max = self.model.config.n_ctx_train;
        if tokens.len() > max {
            return Err(EngineError::PromptTooLong {
                prompt: tokens.len(),
                n_ctx: max,
                max,
            });
        }
        let h = if self.model.is_embedding() {
            self.model.encode(pool, tokens)?
        } else {
            let mut sess = self
                .model
                .session(tokens.len(), model::DEFAULT_BATCH.min(tokens.len()).max(1))?;
            self.model.hidden_states(pool, &mut sess, tokens)?
        };
        let mut v = self.model.config.pooling.pool(&h, self.model.config.n_embd);
        let norm = v
            .iter()
            .map(|a| (*a as f64) * (*a as f64))
            .sum::<f64>()
            .sqrt() as f32;
        if norm > 0.0 {
            v.iter_mut().for_each(|a| *a /= norm);
        }
        Ok(v)
    }
}
