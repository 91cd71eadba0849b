//! A `Session`: one sequence's KV cache and the scratch buffers its forward
//! passes use. The model's weights are shared and immutable; everything that
//! changes while generating lives here.

use crate::config::Config;
use crate::ModelError;
use kernels::{GgmlType, QuantizedActs};

/// Activations quantized once per vec-dot type and reused by every matrix of
/// that type that reads the same input.
pub(crate) struct ActSet {
    slots: Vec<(GgmlType, QuantizedActs, bool)>,
}

impl ActSet {
    fn new() -> ActSet {
        ActSet { slots: Vec::new() }
    }

    /// Forget the quantized copies (the input changed).
    pub fn invalidate(&mut self) {
        for s in &mut self.slots {
            s.2 = false;
        }
    }

    /// Activations for weights of type `wty`, quantizing `x` ([rows][k]) if
    /// this vec-dot type has not been made since the last `invalidate`.
    pub fn get(&mut self, wty: GgmlType, x: &[f32], rows: usize, k: usize) -> &QuantizedActs {
        let vt = kernels::vec_dot_type(wty);
        let i = match self.slots.iter().position(|s| s.0 == vt) {
            Some(i) => i,
            None => {
                self.slots.push((vt, QuantizedActs::new(), false));
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        if !slot.2 {
            slot.1.quantize(wty, x, rows, k);
            slot.2 = true;
        }
        &self.slots[i].1
    }
}

/// Per-chunk working memory, sized for `cap` token rows. Shapes per row.
pub(crate) struct Scratch {
    pub cap: usize,
    pub x: Vec<f32>,    // [cap][n_embd]  residual stream
    pub xn: Vec<f32>,   // [cap][n_embd]  normed input of a sub-block
    pub q: Vec<f32>,    // [cap][q_dim]
    pub k: Vec<f32>,    // [cap][kv_dim]
    pub v: Vec<f32>,    // [cap][kv_dim]
    pub att: Vec<f32>,  // [cap][q_dim]   attention output per head
    pub o: Vec<f32>,    // [cap][n_embd]  projected sub-block output
    pub gate: Vec<f32>, // [cap][n_ff]
    pub up: Vec<f32>,   // [cap][n_ff]
    pub acts_in: ActSet,  // quantized xn
    pub acts_mid: ActSet, // quantized att or gate
}

impl Scratch {
    fn new(c: &Config, cap: usize) -> Scratch {
        Scratch {
            cap,
            x: vec![0.0; cap * c.n_embd],
            xn: vec![0.0; cap * c.n_embd],
            q: vec![0.0; cap * c.q_dim()],
            k: vec![0.0; cap * c.kv_dim()],
            v: vec![0.0; cap * c.kv_dim()],
            att: vec![0.0; cap * c.q_dim()],
            o: vec![0.0; cap * c.n_embd],
            gate: vec![0.0; cap * c.n_ff],
            up: vec![0.0; cap * c.n_ff],
            acts_in: ActSet::new(),
            acts_mid: ActSet::new(),
        }
    }
}

/// KV cache of one layer: [capacity][kv_dim] keys and values, f32.
pub(crate) struct LayerCache {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

/// One sequence being generated.
pub struct Session {
    pub(crate) n_ctx: usize,
    pub(crate) n_past: usize,
    /// Positions the cache has room for now (grows by doubling up to n_ctx).
    pub(crate) kv_cap: usize,
    pub(crate) kv_dim: usize,
    pub(crate) cache: Vec<LayerCache>,
    pub(crate) scratch: Scratch,
    /// [rows][n_vocab]: logits of the last forward call.
    pub(crate) logits: Vec<f32>,
    pub(crate) n_logit_rows: usize,
    pub(crate) n_vocab: usize,
    /// Tokens whose K/V are in the cache, in order.
    pub(crate) tokens: Vec<u32>,
}

/// Default tokens per forward chunk during prompt processing.
pub const DEFAULT_BATCH: usize = 64;

impl Session {
    pub(crate) fn new(c: &Config, n_ctx: usize, batch: usize) -> Result<Session, ModelError> {
        let batch = batch.clamp(1, 4096);
        let kv_cap = n_ctx.min(256);
        let kv_dim = c.kv_dim();
        Ok(Session {
            n_ctx,
            n_past: 0,
            kv_cap,
            kv_dim,
            cache: (0..c.n_layer)
                .map(|_| LayerCache { k: vec![0.0; kv_cap * kv_dim], v: vec![0.0; kv_cap * kv_dim] })
                .collect(),
            scratch: Scratch::new(c, batch),
            logits: Vec::with_capacity(c.n_vocab),
            n_logit_rows: 0,
            n_vocab: c.n_vocab,
            tokens: Vec::with_capacity(n_ctx.min(8192)),
        })
    }

    /// Make room for `n` positions in every layer's cache (amortised: grows by
    /// doubling, so decoding allocates only when a boundary is crossed).
    pub(crate) fn reserve(&mut self, n: usize) {
        if n <= self.kv_cap {
            return;
        }
        let cap = n.max(self.kv_cap * 2).min(self.n_ctx);
        for l in &mut self.cache {
            l.k.resize(cap * self.kv_dim, 0.0);
            l.v.resize(cap * self.kv_dim, 0.0);
        }
        self.kv_cap = cap;
    }

    /// Context size (positions) of this session.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Positions already in the cache.
    pub fn n_past(&self) -> usize {
        self.n_past
    }

    /// The tokens in the cache.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Drop cached positions from `n` on (keeps a shared prefix for reuse).
    pub fn truncate(&mut self, n: usize) {
        if n < self.n_past {
            self.n_past = n;
            self.tokens.truncate(n);
        }
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.truncate(0);
        self.n_logit_rows = 0;
    }

    /// Logits of the last position computed by the last forward call.
    pub fn logits(&self) -> &[f32] {
        let r = self.n_logit_rows;
        if r == 0 {
            return &[];
        }
        &self.logits[(r - 1) * self.n_vocab..r * self.n_vocab]
    }

    /// Logits of every row the last forward call was asked for ([rows][n_vocab]).
    pub fn all_logits(&self) -> &[f32] {
        &self.logits[..self.n_logit_rows * self.n_vocab]
    }

    /// Bytes held by the KV cache now.
    pub fn kv_bytes(&self) -> usize {
        self.cache.len() * 2 * self.kv_cap * self.kv_dim * 4
    }
}
