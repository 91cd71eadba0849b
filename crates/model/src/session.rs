//! A `Session`: one sequence's KV cache and the scratch buffers its forward
//! passes use. The model's weights are shared and immutable; everything that
//! changes while generating lives here.

use crate::config::Config;
use crate::ModelError;
use kernels::{f16, GgmlType, QuantizedActs};

/// Activations quantized once per vec-dot type and reused by every matrix of
/// that type that reads the same input.
#[derive(Default)]
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

    /// The activations made by `get`/`ensure` for weights of type `wty`.
    pub fn peek(&self, wty: GgmlType) -> &QuantizedActs {
        let vt = kernels::vec_dot_type(wty);
        &self
            .slots
            .iter()
            .find(|s| s.0 == vt && s.2)
            .expect("ensure() before peek()")
            .1
    }

    /// Activations for weights of type `wty`, quantizing `x` ([rows][k]) if
    /// this vec-dot type has not been made since the last `invalidate`.
    pub fn get(
        &mut self,
        pool: &kernels::ThreadPool,
        wty: GgmlType,
        x: &[f32],
        rows: usize,
        k: usize,
    ) -> &QuantizedActs {
        let vt = kernels::vec_dot_type(wty);
        let i = match self.slots.iter().position(|s| s.0 == vt) {
            Some(i) => i,
            None => {
                let mut a = QuantizedActs::new();
                a.set_rounding(kernels::ActRounding::LlamaCppX86);
                self.slots.push((vt, a, false));
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[i];
        if !slot.2 {
            slot.1.quantize_on(pool, wty, x, rows, k);
            slot.2 = true;
        }
        &self.slots[i].1
    }
}

/// Per-chunk working memory, sized for `cap` token rows. Shapes per row.
#[derive(Default)]
pub struct Scratch {
    pub(crate) cap: usize,
    pub(crate) x: Vec<f32>,        // [cap][n_embd]  residual stream
    pub(crate) xn: Vec<f32>,       // [cap][n_embd]  normed input of a sub-block
    pub(crate) q: Vec<f32>,        // [cap][q_dim]
    pub(crate) k: Vec<f32>,        // [cap][kv_dim]
    pub(crate) v: Vec<f32>,        // [cap][kv_dim]
    pub(crate) att: Vec<f32>,      // [cap][q_dim]   attention output per head
    pub(crate) o: Vec<f32>,        // [cap][n_embd]  projected sub-block output
    pub(crate) gate: Vec<f32>,     // [cap][n_ff]
    pub(crate) up: Vec<f32>,       // [cap][n_ff]
    pub(crate) acts_in: ActSet,    // quantized xn
    pub(crate) acts_mid: ActSet,   // quantized att or gate
    pub(crate) out_rows: Vec<f32>, // [rows wanting logits][n_embd] gathered final hidden rows
    pub(crate) logits: Vec<f32>,   // [rows wanting logits][n_vocab]
    /// (session logits, first row, rows) per group, reused between calls
    pub(crate) copies: Vec<(crate::attention::SharedMut, usize, usize)>,
    pub(crate) groups: Vec<Group>, // the row groups of the chunk being computed
    pub(crate) tail: Vec<Group>,   // the last layer's groups: only rows wanting logits
    pub(crate) tokens: Vec<u32>,   // [cap] the rows' tokens of a batched call
    /// A hybrid model's own buffers (`hybrid.rs`); empty for the others.
    pub(crate) hy: crate::hybrid::HybridScratch,
    /// A Gemma 4 model's per-layer-embedding buffers; empty for the others.
    pub(crate) g4: crate::gemma4::G4Scratch,
    /// A mixture-of-experts model's routing and per-expert buffers.
    pub(crate) moe: Option<crate::moe::MoeScratch>,
}

/// The rows of one sequence inside a batched chunk.
#[derive(Clone, Copy, Debug, Default)]
pub struct Group {
    /// Index of the sequence among those passed to the forward call.
    pub seq: usize,
    /// First row of the chunk belonging to this sequence.
    pub row0: usize,
    pub rows: usize,
    /// Position of the first row in the sequence.
    pub pos0: usize,
    /// How many of the group's last rows want logits.
    pub logit_rows: usize,
}

impl Scratch {
    /// Working memory for chunks of up to `cap` rows.
    pub fn new(c: &Config, cap: usize) -> Scratch {
        // the dense MLP's buffers (a mixture of experts has its own, and a
        // shared expert's, qwen35moe, beside them; Gemma 4's `n_ff` is its
        // widest layer's, its MLP kept beside the experts of 26B-A4B)
        let ff = match &c.moe {
            Some(m) if c.gemma4.is_none() => m.n_ff_shexp,
            _ => c.n_ff,
        };
        Scratch {
            cap,
            x: vec![0.0; cap * c.n_embd],
            xn: vec![0.0; cap * c.n_embd],
            q: vec![0.0; cap * c.q_dim()],
            k: vec![0.0; cap * c.kv_dim()],
            v: vec![0.0; cap * c.kv_dim()],
            att: vec![0.0; cap * c.q_dim()],
            o: vec![0.0; cap * c.n_embd],
            gate: vec![0.0; cap * ff],
            up: vec![0.0; cap * ff],
            acts_in: ActSet::new(),
            acts_mid: ActSet::new(),
            out_rows: Vec::new(),
            logits: Vec::new(),
            copies: Vec::new(),
            groups: Vec::with_capacity(16),
            tail: Vec::with_capacity(16),
            tokens: Vec::with_capacity(cap),
            hy: crate::hybrid::HybridScratch::new(c, cap),
            g4: crate::gemma4::G4Scratch::new(c, cap),
            moe: c
                .moe
                .as_ref()
                .map(|m| crate::moe::MoeScratch::new(c, m, cap)),
        }
    }
}

impl Scratch {
    /// Before the last layer's attention (its K/V already stored): keep only
    /// the rows that want logits — each group's last `logit_rows` — moving
    /// their queries (`[n][q_dim]`) and residual rows (`[n][d]`) to the front,
    /// in group order, and describing them in `tail`. Returns their count.
    /// The other rows' last-layer output feeds nothing (as llama.cpp's
    /// `inp_out_ids`), and a row's values never depend on the rows around it.
    pub(crate) fn keep_logit_rows(&mut self, q_dim: usize, d: usize) -> usize {
        self.tail.clear();
        let mut r = 0;
        for g in &self.groups {
            if g.logit_rows == 0 {
                continue;
            }
            let first = g.row0 + g.rows - g.logit_rows;
            // r <= first: each move goes toward the front
            self.q
                .copy_within(first * q_dim..(first + g.logit_rows) * q_dim, r * q_dim);
            self.x
                .copy_within(first * d..(first + g.logit_rows) * d, r * d);
            if let Some(ms) = &mut self.moe {
                ms.margins.copy_within(first..first + g.logit_rows, r);
            }
            self.tail.push(Group {
                seq: g.seq,
                row0: r,
                rows: g.logit_rows,
                pos0: g.pos0 + g.rows - g.logit_rows,
                logit_rows: g.logit_rows,
            });
            r += g.logit_rows;
        }
        r
    }
}

/// KV cache of one layer: [capacity][kv_dim] keys and values, f16 (as
/// llama.cpp's default cache: values are rounded to f16 when stored).
pub(crate) struct LayerCache {
    pub k: Vec<f16>,
    pub v: Vec<f16>,
}

/// One sequence being generated.
pub struct Session {
    pub(crate) n_ctx: usize,
    pub(crate) n_past: usize,
    /// Positions the cache has room for now (grows by doubling up to n_ctx).
    pub(crate) kv_cap: usize,
    /// [n_layer] floats of K (and V) per position of each layer's cache (0
    /// for a layer without one: recurrent, or reading another's).
    pub(crate) kv_dims: Vec<usize>,
    pub(crate) cache: Vec<LayerCache>,
    pub(crate) scratch: Scratch,
    /// [rows][n_vocab]: logits of the last forward call.
    pub(crate) logits: Vec<f32>,
    pub(crate) n_logit_rows: usize,
    pub(crate) n_vocab: usize,
    /// Tokens whose K/V are in the cache, in order.
    pub(crate) tokens: Vec<u32>,
    /// LongRoPE: this session's positions are rotated with the long factors
    /// (its context exceeds the model's original one; fixed at creation).
    pub(crate) rope_long: bool,
    /// A hybrid model's recurrent state after `n_past` positions, with its
    /// snapshots at earlier positions (empty for the others).
    pub(crate) rec: crate::hybrid::Recurrent,
}

/// Default tokens per forward chunk during prompt processing.
pub const DEFAULT_BATCH: usize = 64;

impl Session {
    pub(crate) fn new(c: &Config, n_ctx: usize, batch: usize) -> Result<Session, ModelError> {
        let batch = batch.clamp(1, 4096);
        let kv_cap = n_ctx.min(256);
        // a hybrid model's recurrent layers have no K/V, nor do Gemma 4's
        // layers reading another layer's
        let kv_dims: Vec<usize> = (0..c.n_layer).map(|il| c.layer_kv_dim(il)).collect();
        Ok(Session {
            n_ctx,
            n_past: 0,
            kv_cap,
            cache: kv_dims
                .iter()
                .map(|&kv_dim| {
                    let n = kv_cap * kv_dim;
                    LayerCache {
                        k: vec![f16::ZERO; n],
                        v: vec![f16::ZERO; n],
                    }
                })
                .collect(),
            kv_dims,
            scratch: Scratch::new(c, batch),
            logits: Vec::with_capacity(c.n_vocab),
            n_logit_rows: 0,
            n_vocab: c.n_vocab,
            tokens: Vec::with_capacity(n_ctx.min(8192)),
            rope_long: c.long_rope(n_ctx),
            rec: crate::hybrid::Recurrent::new(c),
        })
    }

    /// Make room for `n` positions in every layer's cache (amortised: grows by
    /// doubling, so decoding allocates only when a boundary is crossed).
    pub(crate) fn reserve(&mut self, n: usize) {
        if n <= self.kv_cap {
            return;
        }
        let cap = n.max(self.kv_cap * 2).min(self.n_ctx);
        for (l, &kv_dim) in self.cache.iter_mut().zip(&self.kv_dims) {
            l.k.resize(cap * kv_dim, f16::ZERO);
            l.v.resize(cap * kv_dim, f16::ZERO);
        }
        self.kv_cap = cap;
    }

    /// Context size (positions) of this session.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Change the context cap (a reused session serving a longer or shorter
    /// request). The cache grows to it on demand; never below what it holds.
    /// A LongRoPE model's factor set stays the one chosen at creation
    /// (`Model::session`), so the cached positions stay valid.
    pub fn set_n_ctx(&mut self, n_ctx: usize) {
        self.n_ctx = n_ctx.max(self.n_past).max(1);
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
    /// A hybrid model's recurrent state cannot be cut back: it goes back to
    /// its newest snapshot at or before `n` (else to the start), so the
    /// session may keep fewer than `n` positions — read [`Self::n_past`]
    /// after. Returns the positions kept.
    pub fn truncate(&mut self, n: usize) -> usize {
        if n < self.n_past {
            let n = if self.rec.is_hybrid() {
                self.rec.restore(n)
            } else {
                n
            };
            self.n_past = n;
            self.tokens.truncate(n);
        }
        self.n_past
    }

    /// A hybrid model: keep the recurrent state at the current position (the
    /// end of a system prompt other conversations share) until the session
    /// is cut back before it or cleared, whatever snapshots come after — so
    /// [`Self::truncate`] and [`Self::copy_prefix_from`] can return to it.
    /// One pinned position per session (a new one unpins the old). Nothing
    /// for other models (their cache can be cut anywhere).
    pub fn pin_snapshot(&mut self) {
        if self.rec.is_hybrid() && self.n_past > 0 {
            self.rec.pin(self.n_past);
        }
    }

    /// The position of the snapshot [`Self::pin_snapshot`] keeps, if any.
    pub fn pinned_snapshot(&self) -> Option<usize> {
        self.rec.pinned()
    }

    /// Whether [`Self::truncate`] can cut anywhere (false for a hybrid
    /// model, whose recurrent state returns to a snapshot).
    pub fn cuts_anywhere(&self) -> bool {
        !self.rec.is_hybrid()
    }

    /// Make this session hold the first `n` cached positions of `src` (their
    /// tokens and K/V rows, copied), and nothing after them: another sequence's
    /// shared prompt prefix without computing it again. A position's K/V
    /// depend only on the tokens up to it, and every row is computed the same
    /// whatever batch it was in, so the copy equals what computing it here
    /// would give. `n` is capped at what `src` holds and at this session's context.
    /// For a hybrid model the recurrent state comes along: `src`'s current
    /// one when `n` is all it holds, else its newest snapshot at or before
    /// `n` (none: nothing is copied). Returns the positions now held.
    pub fn copy_prefix_from(&mut self, src: &Session, n: usize) -> usize {
        let mut n = n.min(src.n_past).min(self.n_ctx);
        if src.rec.is_hybrid() {
            n = self.rec.copy_from(&src.rec, n, src.n_past);
        }
        assert_eq!(self.kv_dims, src.kv_dims, "sessions of different models");
        assert_eq!(
            self.rope_long, src.rope_long,
            "sessions of different LongRoPE factor sets (created for contexts on either side of the original one)"
        );
        self.n_past = 0;
        self.tokens.clear();
        self.n_logit_rows = 0;
        self.reserve(n);
        for ((d, s), &kv_dim) in self.cache.iter_mut().zip(&src.cache).zip(&self.kv_dims) {
            let len = n * kv_dim; // 0 for a layer without a cache
            d.k[..len].copy_from_slice(&s.k[..len]);
            d.v[..len].copy_from_slice(&s.v[..len]);
        }
        self.tokens.extend_from_slice(&src.tokens[..n]);
        self.n_past = n;
        n
    }

    /// How many of the first `n` positions [`Self::copy_prefix_from`] would
    /// take from this session: `n` (capped at what it holds), or for a hybrid
    /// model the newest point at or before `n` where its recurrent state is
    /// known (now, or a snapshot; 0 if none).
    pub fn shareable_prefix(&self, n: usize) -> usize {
        let n = n.min(self.n_past);
        if self.rec.is_hybrid() && n < self.n_past {
            self.rec.snapshot_at_or_before(n)
        } else {
            n
        }
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.truncate(0);
        self.rec.reset();
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

    /// A mixture-of-experts model's routing margins of the last chunk
    /// [`Model::forward`](crate::Model::forward) computed: for each row of
    /// that chunk that got logits (all its rows with `Logits::All`), in the
    /// order of its logits, the smallest gap over the layers between the
    /// last expert the router chose and the best one it did not, in router
    /// logits. A row whose margin is tiny sits at a near tie, where another
    /// implementation's last-bit differences may choose another expert.
    /// Empty for a dense model.
    pub fn route_margins(&self) -> &[f32] {
        match &self.scratch.moe {
            Some(ms) => &ms.margins[..ms.n_margins],
            None => &[],
        }
    }

    /// Bytes held by the KV cache now (and a hybrid model's recurrent
    /// state with its snapshots).
    pub fn kv_bytes(&self) -> usize {
        let kv: usize = self.cache.iter().map(|l| l.k.len() + l.v.len()).sum();
        kv * std::mem::size_of::<f16>() + self.rec.bytes()
    }
}
