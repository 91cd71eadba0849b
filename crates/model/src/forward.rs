//! The forward pass, top to bottom, shared by every architecture; the
//! `Config` switches on each family's variations (biases, QK-norm, per-layer
//! RoPE and sliding window, query multipliers, post-norms, residual and
//! logit multipliers, activation). Fused weights (`attn_qkv`, Phi-3's gate+up)
//! are split into views at load, so they need nothing here.
//!
//! Tokens are processed in chunks of up to `Scratch::cap` rows. A chunk may
//! hold rows of several sequences (continuous batching): every matrix product
//! is one matrix-matrix call over all rows, activations are quantized once per
//! chunk per vec-dot type, and attention reads each row's own sequence cache.
//! Each output element is computed the same way whatever the chunk holds, so a
//! sequence's results do not depend on the batch around it.

use crate::attention::{attend_groups, AttnShape, KvView, SharedMut};
use crate::config::{Activation, Config};
use crate::ops;
use crate::session::{ActSet, Group, Scratch, Session};
use crate::weights::{Ffn, Matrix};
use crate::{Model, ModelError};
use half::slice::HalfFloatSliceExt;
use kernels::{f16, ThreadPool};

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

/// One sequence's part of a batched forward call.
pub struct SeqInput<'a> {
    pub sess: &'a mut Session,
    pub tokens: &'a [u32],
    /// Which of the sequence's rows get logits: its last token's
    /// (`Logits::Last`, a decode step or a prompt's last chunk), every
    /// token's (`Logits::All`, the rows verifying drafted tokens in
    /// speculative decoding), or none (a prompt chunk before its last).
    pub logits: Logits,
}

impl Model {
    /// Run `tokens` through the model at the session's next positions,
    /// appending their K/V to its cache. Logits land in the session.
    pub fn forward(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        tokens: &[u32],
        want: Logits,
    ) -> Result<(), ModelError> {
        self.check(sess, tokens)?;
        sess.n_logit_rows = 0;
        if tokens.is_empty() {
            return Ok(());
        }
        let rows_total = match want {
            Logits::All => tokens.len(),
            Logits::Last => 1,
            Logits::None => 0,
        };
        if sess.logits.len() < rows_total * self.config.n_vocab {
            sess.logits.resize(rows_total * self.config.n_vocab, 0.0);
        }
        self.run_chunks(
            pool,
            sess,
            tokens,
            |ci, n_chunks, rows| match want {
                Logits::All => rows,
                Logits::Last if ci + 1 == n_chunks => 1,
                _ => 0,
            },
            |_, _| {},
            false,
        )
    }

    /// One session's `tokens`, chunk by chunk through [`Self::forward_chunk`]
    /// (lengths already checked): `logit_rows(chunk index, chunks, rows)` says
    /// how many of a chunk's last rows want logits, `after(scratch, rows)` runs
    /// once each chunk is done (with `keep_all`, every row's final hidden
    /// state is in the scratch then; otherwise only the logit rows').
    fn run_chunks(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        tokens: &[u32],
        logit_rows: impl Fn(usize, usize, usize) -> usize,
        mut after: impl FnMut(&Scratch, usize),
        keep_all: bool,
    ) -> Result<(), ModelError> {
        sess.reserve(sess.n_past + tokens.len());
        // The session's own scratch, taken out for the call (a move, no allocation).
        let mut scratch = std::mem::take(&mut sess.scratch);
        let cap = scratch.cap;
        let n_chunks = tokens.len().div_ceil(cap);
        let mut result = Ok(());
        for (ci, chunk) in tokens.chunks(cap).enumerate() {
            let rows = chunk.len();
            scratch.groups.clear();
            scratch.groups.push(Group {
                seq: 0,
                row0: 0,
                rows,
                pos0: sess.n_past,
                logit_rows: logit_rows(ci, n_chunks, rows),
            });
            let mut seqs = [&mut *sess];
            result = self.forward_chunk(pool, &mut scratch, &mut seqs, chunk, keep_all);
            if result.is_err() {
                break;
            }
            after(&scratch, rows);
        }
        sess.scratch = scratch;
        result
    }

    /// The final hidden states of `tokens` after the output norm, `[n][n_embd]`
    /// (what sentence embeddings pool), computed at the session's next
    /// positions with their K/V appended to its cache, as in [`Self::forward`];
    /// no logits.
    pub fn hidden_states(
        &self,
        pool: &ThreadPool,
        sess: &mut Session,
        tokens: &[u32],
    ) -> Result<Vec<f32>, ModelError> {
        self.check(sess, tokens)?;
        sess.n_logit_rows = 0;
        let d = self.config.n_embd;
        let mut out = Vec::with_capacity(tokens.len() * d);
        if tokens.is_empty() {
            return Ok(out);
        }
        // x: [rows][d], the residual stream after the last layer
        self.run_chunks(
            pool,
            sess,
            tokens,
            |_, _, _| 0,
            |s, rows| out.extend_from_slice(&s.x[..rows * d]),
            true,
        )?;
        ops::rms_norm(&mut out, d, &self.weights.output_norm, self.config.rms_eps);
        Ok(out)
    }

    /// Run several sequences' tokens through the model in one batched pass
    /// (continuous batching). Each sequence gets the logits its `logits`
    /// asks for in its session (`Session::logits` the last row's,
    /// `Session::all_logits` every row's). The rows of all sequences must fit
    /// in `scratch` (its capacity).
    pub fn forward_batch(
        &self,
        pool: &ThreadPool,
        scratch: &mut Scratch,
        seqs: &mut [SeqInput],
    ) -> Result<(), ModelError> {
        let total: usize = seqs.iter().map(|s| s.tokens.len()).sum();
        if total > scratch.cap {
            return Err(ModelError::Kernel(format!(
                "batch of {total} rows exceeds the scratch capacity {}",
                scratch.cap
            )));
        }
        // the rows' tokens, in the scratch's reused buffer (taken out for the call)
        let mut tokens = std::mem::take(&mut scratch.tokens);
        tokens.clear();
        scratch.groups.clear();
        for (i, s) in seqs.iter_mut().enumerate() {
            self.check(s.sess, s.tokens)?;
            s.sess.n_logit_rows = 0;
            if s.tokens.is_empty() {
                continue;
            }
            let logit_rows = match s.logits {
                Logits::Last => 1,
                Logits::All => s.tokens.len(),
                Logits::None => 0,
            };
            if s.sess.logits.len() < logit_rows * self.config.n_vocab {
                s.sess.logits.resize(logit_rows * self.config.n_vocab, 0.0);
            }
            s.sess.reserve(s.sess.n_past + s.tokens.len());
            scratch.groups.push(Group {
                seq: i,
                row0: tokens.len(),
                rows: s.tokens.len(),
                pos0: s.sess.n_past,
                logit_rows,
            });
            tokens.extend_from_slice(s.tokens);
        }
        let result = if tokens.is_empty() {
            Ok(())
        } else {
            let mut sessions: Vec<&mut Session> = seqs.iter_mut().map(|s| &mut *s.sess).collect();
            self.forward_chunk(pool, scratch, &mut sessions, &tokens, false)
        };
        scratch.tokens = tokens;
        result
    }

    /// A scratch for batched calls of up to `rows` rows.
    pub fn batch_scratch(&self, rows: usize) -> Scratch {
        Scratch::new(&self.config, rows.max(1))
    }

    fn check(&self, sess: &Session, tokens: &[u32]) -> Result<(), ModelError> {
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
            return Err(ModelError::BadToken {
                id,
                n_vocab: c.n_vocab,
            });
        }
        Ok(())
    }

    pub(crate) fn matmul(
        &self,
        pool: &ThreadPool,
        w: &Matrix,
        acts: &kernels::QuantizedActs,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let data = &self.file.bytes()[w.start..w.start + w.len];
        let mut job = [kernels::MatmulJob {
            weight_ty: w.ty,
            w: data,
            n_out: w.rows,
            k: w.cols,
            acts,
            out,
            cache: self.panel_cache(w),
        }];
        kernels::matmul_multi(pool, &mut job).map_err(|e| ModelError::Kernel(e.to_string()))
    }

    /// out = x · Wᵀ for `rows` rows, quantizing x through `acts` (reused across
    /// matrices of the same vec-dot type until invalidated).
    pub(crate) fn project(
        &self,
        pool: &ThreadPool,
        acts: &mut ActSet,
        x: &[f32],
        rows: usize,
        w: &Matrix,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let a = acts.get(pool, w.ty, &x[..rows * w.cols], rows, w.cols);
        self.matmul(pool, w, a, &mut out[..rows * w.rows])
    }

    /// out_i = x · W_iᵀ for several matrices reading the same input, as one
    /// pool run (`kernels::matmul_multi`; same results as separate calls).
    pub(crate) fn project_many<const N: usize>(
        &self,
        pool: &ThreadPool,
        acts: &mut ActSet,
        x: &[f32],
        rows: usize,
        jobs: [(&Matrix, &mut [f32]); N],
    ) -> Result<(), ModelError> {
        for (w, _) in jobs.iter() {
            acts.get(pool, w.ty, &x[..rows * w.cols], rows, w.cols);
        }
        let acts = &*acts;
        let bytes = self.file.bytes();
        let mut list = jobs.map(|(w, out)| kernels::MatmulJob {
            weight_ty: w.ty,
            w: &bytes[w.start..w.start + w.len],
            n_out: w.rows,
            k: w.cols,
            acts: acts.peek(w.ty),
            out: &mut out[..rows * w.rows],
            cache: self.panel_cache(w),
        });
        kernels::matmul_multi(pool, &mut list).map_err(|e| ModelError::Kernel(e.to_string()))
    }

    /// One chunk: `tokens` are the rows of `s.groups` (each group a run of
    /// rows of one sequence of `sessions`). Unless `keep_all`, the last layer
    /// goes on past its K/V only for the rows that want logits.
    fn forward_chunk(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        tokens: &[u32],
        keep_all: bool,
    ) -> Result<(), ModelError> {
        if self.config.ssm.is_some() {
            return self.forward_chunk_hybrid(pool, s, sessions, tokens);
        }
        if self.config.gemma4.is_some() {
            return self.forward_chunk_gemma4(pool, s, sessions, tokens);
        }
        let c: &Config = &self.config;
        // rows computed: all of them, until the last layer keeps only those
        // wanting logits (unless `keep_all`)
        let mut n = tokens.len();
        let mut compacted = false;
        let n_layers = self.weights.layers.len();
        let (d, qd, kvd, hd) = (c.n_embd, c.q_dim(), c.kv_dim(), c.head_dim);

        if let Some(ms) = &mut s.moe {
            ms.margins[..n].fill(f32::INFINITY);
        }
        self.embed_rows(s, tokens)?;

        for (il, layer) in self.weights.layers.iter().enumerate() {
            let swa = c.layers[il].swa;
            // ---- attention ----
            par_rms_norm_into(
                pool,
                &mut s.xn[..n * d],
                &s.x[..n * d],
                d,
                &layer.attn_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            // q: [n][qd], k: [n][kvd], v: [n][kvd] in one pool run
            self.project_many(
                pool,
                &mut s.acts_in,
                &s.xn,
                n,
                [
                    (&layer.wq, &mut s.q),
                    (&layer.wk, &mut s.k),
                    (&layer.wv, &mut s.v),
                ],
            )?;
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
                par_rms_norm(pool, &mut s.q[..n * qd], hd, qn, c.rms_eps);
                par_rms_norm(pool, &mut s.k[..n * kvd], hd, kn, c.rms_eps);
            }
            // RoPE (the layer's, for each sequence's factor set), then any
            // query multiplier (Phi-3's 1/sqrt(head_dim), Mistral 3's
            // temperature), row by row at each row's position.
            let mut sc = [(0.0f32, 1.0f32); 256];
            for g in &s.groups {
                let rope = c.rope_for(il, sessions[g.seq].rope_long);
                for t in g.row0..g.row0 + g.rows {
                    let pos = g.pos0 + t - g.row0;
                    let (q, k) = (
                        &mut s.q[t * qd..(t + 1) * qd],
                        &mut s.k[t * kvd..(t + 1) * kvd],
                    );
                    if let Some(rope) = rope {
                        if rope.n_rot / 2 <= sc.len() {
                            // one (sin, cos) per angle for all heads of q and k
                            let sc = &mut sc[..rope.n_rot / 2];
                            rope.sin_cos(pos, sc);
                            rope.apply_with(q, hd, sc);
                            rope.apply_with(k, hd, sc);
                        } else {
                            rope.apply(q, hd, pos);
                            rope.apply(k, hd, pos);
                        }
                    }
                    if let Some(m) = c.q_mul(pos) {
                        q.iter_mut().for_each(|v| *v *= m);
                    }
                }
            }
            // Append each group's K/V to its sequence's f16 cache (as
            // llama.cpp's default cache); q is rounded to f16 too, as ggml
            // converts it to f16 for the q·k product.
            for g in &s.groups {
                let cache = &mut sessions[g.seq].cache[il];
                let (src, dst) = (
                    g.row0 * kvd..(g.row0 + g.rows) * kvd,
                    g.pos0 * kvd..(g.pos0 + g.rows) * kvd,
                );
                cache.k[dst.clone()].convert_from_f32_slice(&s.k[src.clone()]);
                cache.v[dst].convert_from_f32_slice(&s.v[src]);
            }
            if il + 1 == n_layers && !keep_all {
                n = s.keep_logit_rows(qd, d);
                compacted = true;
                if n == 0 {
                    break;
                }
            }
            ops::round_f16_slice(&mut s.q[..n * qd]);
            let shape = AttnShape {
                n_head: c.n_head,
                n_head_kv: c.n_head_kv,
                head_dim: hd,
                scale: c.attn_scale,
                window: if swa { c.sliding_window } else { None },
                sinks: layer.sinks.as_deref(),
            };
            {
                let views = KvViews {
                    sessions: &*sessions,
                    layer: il,
                };
                let groups = if compacted { &s.tail } else { &s.groups };
                attend_groups(pool, &shape, &s.q, groups, &views, &mut s.att);
                // att: [n][qd]
            }
            s.acts_mid.invalidate();
            self.project(pool, &mut s.acts_mid, &s.att, n, &layer.wo, &mut s.o)?; // o: [n][d]
            if let Some(b) = &layer.bo {
                ops::add_bias(&mut s.o[..n * d], b);
            }
            if let Some(w) = &layer.attn_post_norm {
                par_rms_norm(pool, &mut s.o[..n * d], d, w, c.rms_eps);
            }
            if let Some(r) = c.scales.residual {
                s.o[..n * d].iter_mut().for_each(|v| *v *= r);
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);

            // ---- feed-forward ----
            par_rms_norm_into(
                pool,
                &mut s.xn[..n * d],
                &s.x[..n * d],
                d,
                &layer.ffn_norm,
                c.rms_eps,
            );
            s.acts_in.invalidate();
            match &layer.ffn {
                Ffn::Dense { gate, up, down } => {
                    // gate: [n][ff], up: [n][ff] in one pool run
                    self.project_many(
                        pool,
                        &mut s.acts_in,
                        &s.xn,
                        n,
                        [(gate, &mut s.gate), (up, &mut s.up)],
                    )?;
                    par_glu(pool, c.act, &mut s.gate[..n * c.n_ff], &s.up[..n * c.n_ff]);
                    s.acts_mid.invalidate();
                    self.project(pool, &mut s.acts_mid, &s.gate, n, down, &mut s.o)?;
                    // o: [n][d]
                }
                Ffn::Moe(experts) => self.moe_ffn(pool, s, n, experts)?, // o: [n][d]
            }
            if let Some(w) = &layer.ffn_post_norm {
                par_rms_norm(pool, &mut s.o[..n * d], d, w, c.rms_eps);
            }
            if let Some(r) = c.scales.residual {
                s.o[..n * d].iter_mut().for_each(|v| *v *= r);
            }
            ops::add_assign(&mut s.x[..n * d], &s.o[..n * d]);
        }
        if let Some(ms) = &mut s.moe {
            ms.n_margins = n;
        }
        self.finish_chunk(pool, s, sessions, tokens, compacted)
    }

    /// x: [n][d] ← the tokens' embeddings (scaled for Gemma).
    pub(crate) fn embed_rows(&self, s: &mut Scratch, tokens: &[u32]) -> Result<(), ModelError> {
        let d = self.config.n_embd;
        let emb = &self.weights.tok_embd;
        let rb = emb.row_bytes();
        for (t, &tok) in tokens.iter().enumerate() {
            let at = emb.start + tok as usize * rb;
            let x = &mut s.x[t * d..(t + 1) * d];
            kernels::dequantize(emb.ty, &self.file.bytes()[at..at + rb], x)
                .map_err(|e| ModelError::Kernel(e.to_string()))?;
            if let Some(scale) = self.config.scales.embed {
                x.iter_mut().for_each(|v| *v *= scale);
            }
        }
        Ok(())
    }

    /// After the last block: advance each sequence past its rows, then the
    /// logits of the rows that want them (already gathered to the front of
    /// `s.x` when `compacted`).
    pub(crate) fn finish_chunk(
        &self,
        pool: &ThreadPool,
        s: &mut Scratch,
        sessions: &mut [&mut Session],
        tokens: &[u32],
        compacted: bool,
    ) -> Result<(), ModelError> {
        let c: &Config = &self.config;
        let d = c.n_embd;
        for g in &s.groups {
            let sess = &mut sessions[g.seq];
            sess.n_past += g.rows;
            sess.tokens
                .extend_from_slice(&tokens[g.row0..g.row0 + g.rows]);
        }

        // Rows wanting logits: gather, final norm, one vocabulary projection
        // for all of them, then hand each sequence its rows.
        let out_rows: usize = s.groups.iter().map(|g| g.logit_rows).sum();
        if out_rows == 0 {
            return Ok(());
        }
        if s.out_rows.len() < out_rows * d {
            s.out_rows.resize(out_rows * d, 0.0);
        }
        let nv = c.n_vocab;
        // one sequence wanting logits (a lone decode or prompt): the
        // projection writes into its session's logits, no copy
        let lone = {
            let mut g = s.groups.iter().filter(|g| g.logit_rows > 0);
            match (g.next(), g.next()) {
                (Some(g), None) => Some(g.seq),
                _ => None,
            }
        };
        if lone.is_none() && s.logits.len() < out_rows * nv {
            s.logits.resize(out_rows * nv, 0.0);
        }
        if compacted {
            // already gathered, in group order
            s.out_rows[..out_rows * d].copy_from_slice(&s.x[..out_rows * d]);
        } else {
            let mut r = 0;
            for g in &s.groups {
                let first = g.row0 + g.rows - g.logit_rows;
                for t in first..g.row0 + g.rows {
                    s.out_rows[r * d..(r + 1) * d].copy_from_slice(&s.x[t * d..(t + 1) * d]);
                    r += 1;
                }
            }
        }
        ops::rms_norm(
            &mut s.out_rows[..out_rows * d],
            d,
            &self.weights.output_norm,
            c.rms_eps,
        );
        s.acts_in.invalidate();
        let w = &self.weights.output;
        let a = s
            .acts_in
            .get(pool, w.ty, &s.out_rows[..out_rows * d], out_rows, d);
        let logits = match lone {
            Some(seq) => {
                let sess = &mut *sessions[seq];
                let base = sess.n_logit_rows * nv;
                &mut sess.logits[base..base + out_rows * nv]
            }
            None => &mut s.logits[..out_rows * nv],
        };
        self.matmul(pool, w, a, logits)?;
        if let Some(m) = c.scales.logit {
            logits.iter_mut().for_each(|v| *v *= m);
        }
        if let Some(cap) = c.scales.final_softcap {
            logits.iter_mut().for_each(|v| *v = (*v / cap).tanh() * cap);
        }
        if let Some(seq) = lone {
            sessions[seq].n_logit_rows += out_rows;
            return Ok(());
        }
        // each sequence's rows into its session, the copies over the pool
        // (16 decode rows are 10 MB of logits for a 152k vocabulary)
        let mut copies = std::mem::take(&mut s.copies);
        copies.clear();
        let mut r = 0;
        for g in &s.groups {
            if g.logit_rows == 0 {
                continue;
            }
            let sess = &mut sessions[g.seq];
            let base = sess.n_logit_rows * nv;
            let dst = sess.logits[base..base + g.logit_rows * nv].as_mut_ptr();
            copies.push((SharedMut(dst), r, g.logit_rows));
            sess.n_logit_rows += g.logit_rows;
            r += g.logit_rows;
        }
        let src = &s.logits[..out_rows * nv];
        pool.run(copies.len(), |i| {
            let (dst, r0, n) = copies[i];
            let from = &src[r0 * nv..(r0 + n) * nv];
            // SAFETY: `dst` is `n * nv` floats of one session's logits (each
            // group a different sequence: disjoint), alive past `run`, and
            // never overlapping the scratch's `src`.
            unsafe { std::ptr::copy_nonoverlapping(from.as_ptr(), dst.get(), from.len()) };
        });
        s.copies = copies;
        Ok(())
    }
}

/// The gated activation over the pool (elementwise: the split never changes
/// a value).
pub(crate) fn par_glu(pool: &ThreadPool, act: Activation, gate: &mut [f32], up: &[f32]) {
    const CHUNK: usize = 4096;
    let n = gate.len();
    let f = |g: &mut [f32], u: &[f32]| match act {
        Activation::Silu => kernels::swiglu(&mut g[..], u),
        Activation::GeluTanh => ops::glu_gelu(g, u),
        Activation::SwigluOai => ops::glu_swiglu_oai(g, u),
    };
    if n <= CHUNK || pool.n_threads() == 1 {
        return f(gate, up);
    }
    let ptr = crate::attention::SharedMut(gate.as_mut_ptr());
    pool.run(n.div_ceil(CHUNK), |t| {
        let (a, b) = (t * CHUNK, ((t + 1) * CHUNK).min(n));
        // SAFETY: task t alone touches gate[a..b] (disjoint ranges, in bounds),
        // and `gate` outlives `run`.
        let g = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(a), b - a) };
        f(g, &up[a..b]);
    });
}

/// [`ops::rms_norm`] of the rows of `x` ([rows][n]) over the pool
/// ([`par_rows_mut`]): each row's bits are its own (`ops::rms_norm` sums a
/// row the same way whichever rows are beside it), so the split never shows.
pub(crate) fn par_rms_norm(pool: &ThreadPool, x: &mut [f32], n: usize, w: &[f32], eps: f32) {
    par_rows_mut(pool, x, n, n, |_, xs| ops::rms_norm(xs, n, w, eps));
}

/// `x` as rows of `row_len` elements, split into runs of whole rows over the
/// pool: `f(r0, rows)` for each run, `r0` its first row's index. One run on
/// the calling thread when there is little work (`row_work` elements of it
/// per row). For element-wise steps whose rows are independent: each row is
/// computed the same way in any run.
pub(crate) fn par_rows_mut(
    pool: &ThreadPool,
    x: &mut [f32],
    row_len: usize,
    row_work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    // work per run, at least
    const CHUNK: usize = 16384;
    if row_len == 0 {
        return f(0, x);
    }
    let rows = x.len() / row_len;
    assert_eq!(rows * row_len, x.len(), "whole rows");
    let per = (CHUNK / row_work.max(1)).max(1);
    if rows <= per || pool.n_threads() == 1 {
        return f(0, x);
    }
    let ptr = crate::attention::SharedMut(x.as_mut_ptr());
    pool.run(rows.div_ceil(per), |t| {
        let (a, b) = (t * per, ((t + 1) * per).min(rows));
        // SAFETY: task t alone touches rows a..b of `x` (disjoint ranges, in
        // bounds: b <= rows), and `x` outlives `run`.
        let xs = unsafe {
            std::slice::from_raw_parts_mut(ptr.get().add(a * row_len), (b - a) * row_len)
        };
        f(a, xs);
    });
}

/// `out = rms_norm(x) * w` over the pool (see [`par_rms_norm`]).
fn par_rms_norm_into(pool: &ThreadPool, out: &mut [f32], x: &[f32], n: usize, w: &[f32], eps: f32) {
    out.copy_from_slice(x);
    par_rms_norm(pool, out, n, w, eps);
}

/// Each group's K/V cache of one layer, for attention.
pub(crate) struct KvViews<'a, 'b> {
    pub sessions: &'a [&'b mut Session],
    pub layer: usize,
}

impl KvView for KvViews<'_, '_> {
    fn kv(&self, seq: usize) -> (&[f16], &[f16]) {
        let c = &self.sessions[seq].cache[self.layer];
        (&c.k, &c.v)
    }
}
