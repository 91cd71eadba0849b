//! The forward pass, top to bottom, shared by every architecture; the
//! `Config` flags switch on each family's variations (biases, QK-norm,
//! post-norms, embedding scale, activation, sliding window).
//!
//! Tokens are processed in chunks of up to `Scratch::cap` rows: every matrix
//! product of a chunk is one matrix-matrix call over its rows, and the
//! activations are quantized once per chunk per vec-dot type.

use crate::attention::{attend, AttnShape};
use crate::config::{Activation, Config};
use crate::ops::{self, gelu_ggml, silu};
use crate::session::{ActSet, Session};
use crate::weights::Matrix;
use crate::{Model, ModelError};
use kernels::ThreadPool;

/// Which rows' logits a forward call should compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token's (generation).
    Last,
    /// Every token's (teacher forcing, scoring).
    All,
    /// None (filling the cache only).
    None,
}

impl Model {
    /// Run `tokens` through the model at the session's next positions,
    /// appending their K/V to its cache. Logits land in the session.
    pub fn forward(&self, pool: &ThreadPool, sess: &mut Session, tokens: &[u32], want: Logits) -> Result<(), ModelError> {
        let c = &self.config;
        if sess.n_past + tokens.len() > sess.n_ctx {
            return Err(ModelError::ContextOverflow {
                needed: tokens.len(),
                used: sess.n_past,
                n_ctx: sess.n_ctx,
                max: c.n_ctx_train,
            });
        }
        if let Some(&id) = tokens.iter().find(|&&t| t as usize >= c.n_vocab) {
            return Err(ModelError::BadToken { id, n_vocab: c.n_vocab });
        }
        sess.n_logit_rows = 0;
        if tokens.is_empty() {
            return Ok(());
        }
        let total_rows = match want {
            Logits::All => tokens.len(),
            Logits::Last => 1,
            Logits::None => 0,
        };
        let need = total_rows * c.n_vocab;
        if sess.logits.len() < need {
            sess.logits.resize(need, 0.0);
        }
        sess.reserve(sess.n_past + tokens.len());
        let cap = sess.scratch.cap;
        let n_chunks = tokens.len().div_ceil(cap);
        for (ci, chunk) in tokens.chunks(cap).enumerate() {
            let last_chunk = ci + 1 == n_chunks;
            let rows_out = match want {
                Logits::All => chunk.len(),
                Logits::Last if last_chunk => 1,
                _ => 0,
            };
            self.forward_chunk(pool, sess, chunk, rows_out)?;
        }
        Ok(())
    }

    fn matmul(&self, pool: &ThreadPool, w: &Matrix, acts: &kernels::QuantizedActs, out: &mut [f32]) -> Result<(), ModelError> {
        let data = &self.file.bytes()[w.start..w.start + w.len];
        kernels::matmul(pool, w.ty, data, w.rows, w.cols, acts, out).map_err(|e| ModelError::Kernel(e.to_string()))
    }

    /// out = x · Wᵀ for `rows` rows, quantizing x through `acts` (reused across
    /// matrices of the same vec-dot type until invalidated).
    fn project(
        &self,
        pool: &ThreadPool,
        acts: &mut ActSet,
        x: &[f32],
        rows: usize,
        w: &Matrix,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let a = acts.get(w.ty, &x[..rows * w.cols], rows, w.cols);
        self.matmul(pool, w, a, &mut out[..rows * w.rows])
    }

    fn forward_chunk(&self, pool: &ThreadPool, sess: &mut Session, tokens: &[u32], rows_out: usize) -> Result<(), ModelError> {
        let c: &Config = &self.config;
        let n = tokens.len();
        let pos0 = sess.n_past;
        let (d, qd, kvd, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.head_dim);
        let s = &mut sess.scratch;

        // x: [n][d] ← token embeddings (scaled for Gemma).
        let emb = &self.weights.tok_embd;
        for (t, &tok) in tokens.iter().enumerate() {
            let rb = emb.row_bytes();
            let row = &self.file.bytes()[emb.start + tok as usize * rb..emb.start + (tok as usize + 1) * rb];
            kernels::dequantize(emb.ty, row, &mut s.x[t * d..(t + 1) * d]).map_err(|e| ModelError::Kernel(e.to_string()))?;
            if let Some(scale) = c.embed_scale {
                s.x[t * d..(t + 1) * d].iter_mut().for_each(|v| *v *= scale);
            }
        }

        for (il, layer) in self.weights.layers.iter().enumerate() {
            let swa = c.swa_layers[il];
            // ---- attention ----
            ops::rms_norm_into(&mut s.xn[..n * d], &s.x[..n * d], d, &layer.attn_norm, c.rms_eps);
            s.acts_in.invalidate();
            self.project(pool, &mut s.acts_in, &s.xn, n, &layer.wq, &mut s.q)?; // q: [n][qd]
            self.project(pool, &mut s.acts_in, &s.xn, n, &layer.wk, &mut s.k)?; // k: [n][kvd]
            self.project(pool, &mut s.acts_in, &s.xn, n, &layer.wv, &mut s.v)?; // v: [n][kvd]
            if let Some(b) = &layer.bq {
                ops::add_bias(&mut s.q[..n * qd], b);
            }
            if let Some(b) = &layer.bk {
                ops::add_bias(&mut s.k[..n * kvd], b);
            }
            if let Some(b) = &layer.bv {
                ops::add_bias(&mut s.v[..n * kvd], b);
            }
            if let (Some(qn), Some(kn)) = (&layer.q_norm, &layer.k_norm) {
                ops::rms_norm(&mut s.q[..n * qd], hd, qn, c.rms_eps);
                ops::rms_norm(&mut s.k[..n * kvd], hd, kn, c.rms_eps);
            }
            let rope = if swa { c.rope_swa.as_ref().unwrap_or(&c.rope) } else { &c.rope };
            for t in 0..n {
                rope.apply(&mut s.q[t * qd..(t + 1) * qd], hd, pos0 + t);
                rope.apply(&mut s.k[t * kvd..(t + 1) * kvd], hd, pos0 + t);
            }
            // Append this chunk's K/V to the cache: positions pos0..pos0+n.
            // Values are rounded to f16 as llama.cpp's default f16 cache
            // stores them, and so is q, which ggml converts to f16 for the
            // q·k product against that cache.
            let cache = &mut sess.cache[il];
            for (dst, &src) in cache.k[pos0 * kvd..(pos0 + n) * kvd].iter_mut().zip(&s.k[..n * kvd]) {
                *dst = ops::round_f16(src);
            }
            for (dst, &src) in cache.v[pos0 * kvd..(pos0 + n) * kvd].iter_mut().zip(&s.v[..n * kvd]) {
                *dst = ops::round_f16(src);
            }
            s.q[..n * qd].iter_mut().for_each(|x| *x = ops::round_f16(*x));
            let shape = AttnShape {
                n_head: c.n_head,
                n_head_kv: c.n_head_kv,
                head_dim: hd,
                scale: c.attn_scale,
                window: if swa { c.sliding_window } else { None },
            };
            attend(pool, &shape, &s.q, &cache.k, &cache.v, pos0, n, &mut s.att); // att: [n][qd]
            s.acts_mid.invalidate();
            self.project(pool, &mut s.acts_mid, &s.att, n, &layer.wo, &mut s.o)?; // o: [n][d]
            if let Some(w) = &layer.attn_post_norm {
                ops::rms_norm(&mut s.o[..n * d], d, w, c.rms_eps);
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);

            // ---- feed-forward ----
            ops::rms_norm_into(&mut s.xn[..n * d], &s.x[..n * d], d, &layer.ffn_norm, c.rms_eps);
            s.acts_in.invalidate();
            self.project(pool, &mut s.acts_in, &s.xn, n, &layer.w_gate, &mut s.gate)?; // gate: [n][ff]
            self.project(pool, &mut s.acts_in, &s.xn, n, &layer.w_up, &mut s.up)?; // up: [n][ff]
            let act = match c.act {
                Activation::Silu => silu,
                Activation::GeluTanh => gelu_ggml,
            };
            ops::glu(&mut s.gate[..n * c.n_ff], &s.up[..n * c.n_ff], act);
            s.acts_mid.invalidate();
            self.project(pool, &mut s.acts_mid, &s.gate, n, &layer.w_down, &mut s.o)?; // o: [n][d]
            if let Some(w) = &layer.ffn_post_norm {
                ops::rms_norm(&mut s.o[..n * d], d, w, c.rms_eps);
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);
        }

        sess.n_past += n;
        sess.tokens.extend_from_slice(tokens);

        if rows_out > 0 {
            // The last `rows_out` rows: final norm, then the vocabulary projection.
            let first = n - rows_out;
            ops::rms_norm_into(
                &mut s.xn[..rows_out * d],
                &s.x[first * d..n * d],
                d,
                &self.weights.output_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            let base = sess.n_logit_rows * c.n_vocab;
            let out = &mut sess.logits[base..base + rows_out * c.n_vocab];
            let w = &self.weights.output;
            let a = s.acts_in.get(w.ty, &s.xn[..rows_out * d], rows_out, d);
            self.matmul(pool, w, a, out)?;
            if let Some(cap) = c.final_softcap {
                out.iter_mut().for_each(|v| *v = (*v / cap).tanh() * cap);
            }
            sess.n_logit_rows += rows_out;
        }
        Ok(())
    }
}
