//! Sentence embeddings: a text's final hidden states (after the output
//! norm), mean-pooled over its tokens and L2-normalized — llama.cpp's
//! `LLAMA_POOLING_TYPE_MEAN` with `normalize` (checked against it in
//! tests/embed.rs on the committed fixture).

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

    /// The embedding of `tokens` (mean of the output-norm hidden states,
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
        let mut sess = self
            .model
            .session(tokens.len(), model::DEFAULT_BATCH.min(tokens.len()).max(1))?;
        let h = self.model.hidden_states(pool, &mut sess, tokens)?;
        let d = self.model.config.n_embd;
        let mut v = vec![0f32; d];
        for row in h.chunks_exact(d) {
            v.iter_mut().zip(row).for_each(|(a, b)| *a += b);
        }
        let n = tokens.len() as f32;
        v.iter_mut().for_each(|a| *a /= n);
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
