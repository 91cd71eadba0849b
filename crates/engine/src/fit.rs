//! Hardware fit: what a model will allocate, whether that fits this machine,
//! and how fast it will generate — said before anything is loaded.
//!
//! Memory is what hearth itself allocates: the weights (mapped from the file,
//! resident once read), the KV cache (f16 K and V per layer per position),
//! the scratch of one session, the tokenizer's tables, and a fixed runtime
//! overhead. Generation speed is bounded by memory bandwidth: every weight
//! read by a decode step is read once per token, plus the KV cache up to the
//! current depth, so tokens/s ≈ bandwidth / bytes read per token.

use crate::EngineError;
use gguf::GgufFile;
use model::Config;
use std::time::{Duration, Instant};

/// Bytes hearth will need for a model at a context size.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    pub weights_bytes: u64,
    pub kv_cache_bytes: u64,
    pub scratch_bytes: u64,
    /// The file's header (mapped and read at load), tokenizer tables, chat
    /// template, runtime and thread stacks.
    pub overhead_bytes: u64,
    /// The sum of the above.
    pub memory_bytes: u64,
    /// Bytes read per generated token at depth 0 (weights a decode step reads).
    pub bytes_per_token: u64,
    /// KV-cache bytes per context position.
    pub kv_bytes_per_token: u64,
    /// Transformer layers (each costs a fixed time per token, see `predict_tg`).
    pub n_layer: usize,
}

/// Fixed runtime overhead: binary, allocator arenas, thread stacks.
const RUNTIME_OVERHEAD: u64 = 8 << 20;

/// Embedding rows assumed resident when the embedding table is not also the
/// output projection (only the rows of tokens actually seen are read).
const EMBED_ROWS_RESIDENT: u64 = 2048;

/// The context used when none is asked for is the trained one capped here.
pub const DEFAULT_CTX_CAP: usize = 4096;

/// Everything the estimate is computed from: a model's shape and the sizes of
/// its weights. Read from an open file by [`ModelShape::from_gguf`], or given
/// by the store's catalog for a model not downloaded yet; either way
/// [`estimate_shape`] is the one formula.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelShape {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Length of one head's key (and value) vector.
    pub head_dim: usize,
    pub n_ff: usize,
    /// Rows of the token-embedding table.
    pub n_vocab: usize,
    pub n_ctx_train: usize,
    /// Bytes of all tensor data in the file.
    pub tensor_bytes: u64,
    /// Bytes of the token-embedding table (`token_embd.weight`).
    pub embd_bytes: u64,
    /// Whether the file has its own output projection (`output.weight`);
    /// without one the embedding table is the output and is read every token.
    pub output_tensor: bool,
    /// Heap of the parsed metadata and the tokenizer built from it.
    pub metadata_bytes: u64,
    /// The file less its tensor data: the header (metadata, tensor index),
    /// parsed from the mapping at load, so resident (a few MB with a large
    /// vocabulary: a tenth of a small model).
    pub header_bytes: u64,
    /// Layers that keep K and V per position (fewer than `n_layer` in a
    /// hybrid model, whose linear-attention layers keep a fixed state, and
    /// in Gemma 4, whose last layers read an earlier layer's).
    pub kv_layers: usize,
    /// Floats of K (and of V) per position summed over those layers, when
    /// their sizes differ (Gemma 4: sliding and global layers have their
    /// own head sizes and K/V heads); `None`: `kv_layers` × n_head_kv ×
    /// head_dim.
    pub kv_per_token: Option<u64>,
    /// Bytes of tables other than `token_embd` read one row per token
    /// (Gemma 4's `per_layer_token_embd`, n_vocab rows): like the embedding
    /// table, only the rows of tokens seen are resident, and a step reads one.
    pub row_table_bytes: u64,
    /// What a session holds whatever its length: a hybrid model's recurrent
    /// state, its snapshots and its scratch (0 for the others).
    pub recurrent_bytes: u64,
    /// Bytes of a mixture of experts' expert tensors (`*_exps`) that a token
    /// does not read: only `expert_used_count` of each layer's
    /// `expert_count` experts are active per token, so a decode step reads
    /// that share of them. 0 for a dense model. All of them stay in memory.
    pub idle_expert_bytes: u64,
    /// An embedding model (`bert`, `nomic-bert`): one pass per text, no KV
    /// cache, no generation (so no tokens/s to predict).
    pub embedding: bool,
}

/// A catalog hybrid's parts that its plain shape does not give (`ssm`:
/// full_attention_interval, ssm.conv_kernel, ssm.state_size,
/// ssm.group_count, ssm.time_step_rank): the layers with a KV cache and the
/// session's fixed recurrent bytes, as `ModelShape::from_gguf` finds them in
/// a file. Returns (kv_layers, recurrent_bytes); (n_layer, 0) without.
pub fn catalog_parts(n_layer: usize, q_dim: usize, ssm: Option<[usize; 5]>) -> (usize, u64) {
    match ssm {
        Some([interval, d_conv, head_dim, n_k_heads, n_v_heads]) if interval > 0 => {
            let h = model::config::SsmSpec {
                recurrent: (0..n_layer).map(|i| (i + 1) % interval != 0).collect(),
                d_conv,
                head_dim,
                n_k_heads,
                n_v_heads,
            };
            let kv = n_layer - h.recurrent.iter().filter(|&&r| r).count();
            (kv, h.session_bytes(q_dim, model::DEFAULT_BATCH) as u64)
        }
        _ => (n_layer, 0),
    }
}

impl ModelShape {
    /// Whether the token-embedding table is read a row per token (not also
    /// the output projection, which reads all of it: an `output.weight` of
    /// its own, or an embedding model's).
    pub fn embeddings_read_by_row(&self) -> bool {
        self.output_tensor || self.embedding
    }

    /// The shape of an open model file (an error for an unsupported or
    /// incomplete one).
    pub fn from_gguf(f: &GgufFile) -> Result<ModelShape, EngineError> {
        let embd = f.tensor("token_embd.weight");
        let n_vocab = embd.and_then(|t| t.dims.get(1).copied()).unwrap_or(0) as usize;
        let c = Config::from_gguf(f, n_vocab)?;
        Ok(ModelShape {
            n_layer: c.n_layer,
            n_embd: c.n_embd,
            n_head: c.n_head,
            n_head_kv: c.n_head_kv,
            head_dim: c.head_dim,
            n_ff: c.n_ff,
            n_vocab,
            n_ctx_train: c.n_ctx_train,
            tensor_bytes: f.tensors.iter().map(|t| t.size).sum(),
            embd_bytes: embd.map_or(0, |t| t.size),
            output_tensor: f.tensor("output.weight").is_some(),
            metadata_bytes: metadata_bytes(f),
            header_bytes: (f.bytes().len() as u64)
                .saturating_sub(f.tensors.iter().map(|t| t.size).sum()),
            kv_layers: c.kv_layers(),
            kv_per_token: c.gemma4.as_ref().map(|_| c.kv_elems_per_token() as u64),
            row_table_bytes: f
                .tensor("per_layer_token_embd.weight")
                .map_or(0, |t| t.size),
            recurrent_bytes: c.recurrent_session_bytes(model::DEFAULT_BATCH) as u64,
            idle_expert_bytes: c.moe.as_ref().map_or(0, |m| {
                let exps: u64 = f
                    .tensors
                    .iter()
                    .filter(|t| t.name.contains("_exps."))
                    .map(|t| t.size)
                    .sum();
                let idle = m.n_expert.saturating_sub(m.n_expert_used) as u64;
                exps / (m.n_expert.max(1) as u64) * idle
            }),
            embedding: c.encoder.is_some(),
        })
    }

    /// Floats of K (and of V) cached per token per layer.
    fn kv_dim(&self) -> usize {
        self.n_head_kv * self.head_dim
    }

    /// Floats of Q per token.
    fn q_dim(&self) -> usize {
        self.n_head * self.head_dim
    }

    /// The context used when none is asked for, before capping it to what fits.
    pub fn default_ctx(&self) -> usize {
        self.n_ctx_train.min(DEFAULT_CTX_CAP)
    }
}

impl ModelShape {
    /// The shape of the model file at `path` (its header only: no weights
    /// are read).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<ModelShape, EngineError> {
        let f = GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?;
        ModelShape::from_gguf(&f)
    }
}

/// Whether hearth runs models of this architecture (`general.architecture`).
pub fn arch_supported(arch: &str) -> bool {
    model::Arch::from_name(arch).is_some()
}

/// Whether models of this architecture are embedding models (`bert`,
/// `nomic-bert`): they make embeddings, not text, so no generation speed is
/// predicted for them.
pub fn is_embedding_arch(arch: &str) -> bool {
    model::Arch::from_name(arch).is_some_and(|a| a.is_embedding())
}

/// The error for `what` (a model's name) being of an architecture hearth
/// does not run.
pub fn unsupported_arch(what: &str, arch: &str) -> EngineError {
    model::ModelError::UnsupportedArch {
        path: what.into(),
        arch: arch.into(),
        supported: model::config::SUPPORTED,
    }
    .into()
}

/// What one session at `n_ctx` positions costs for this model file.
pub fn estimate(f: &GgufFile, n_ctx: usize) -> Result<MemoryEstimate, EngineError> {
    Ok(estimate_shape(&ModelShape::from_gguf(f)?, n_ctx))
}

/// Byte ranges of the file's tables read a row at a time, which the estimate
/// counts as resident only for the rows of tokens seen: the token-embedding
/// table when it is not also the output projection (or of an embedding
/// model), and the per-token tables beside it (Gemma 4's per-layer
/// embeddings). The weights' copy into memory leaves them mapped
/// ([`gguf::GgufFile::make_resident`]), so what is resident stays what is
/// estimated.
pub fn row_tables(f: &GgufFile, s: &ModelShape) -> Vec<std::ops::Range<usize>> {
    let mut names = vec!["per_layer_token_embd.weight"];
    if s.embeddings_read_by_row() {
        names.push("token_embd.weight");
    }
    names
        .into_iter()
        .filter_map(|n| f.tensor(n))
        .map(|t| {
            let at = (f.data_offset + t.offset) as usize;
            at..at + t.size as usize
        })
        .collect()
}

/// What one session at `n_ctx` positions costs for a model of this shape.
///
/// `weights_bytes` counts the weights that are resident while running: every
/// matrix a forward pass reads, and of an embedding table that is not also the
/// output projection only the rows of tokens seen (mapped pages are resident
/// once read; the rest of the file stays on disk).
pub fn estimate_shape(s: &ModelShape, n_ctx: usize) -> MemoryEstimate {
    // An embedding model keeps no cache: a text is one pass. A hybrid
    // model keeps K/V for its attention layers only, plus a fixed recurrent
    // state (counted as part of its cache).
    let kv_bytes_per_token = if s.embedding {
        0
    } else {
        // f16 K and V
        2 * 2 * s.kv_per_token.unwrap_or((s.kv_layers * s.kv_dim()) as u64)
    };
    let kv_cache_bytes = kv_bytes_per_token * n_ctx as u64 + s.recurrent_bytes;
    let scratch_bytes = if s.embedding {
        // a text is at most the trained context (longer is refused or cut),
        // whatever the positions asked for (a server's shared budget)
        encoder_scratch_bytes(s, n_ctx.min(s.n_ctx_train))
    } else {
        scratch_bytes(s)
    };
    // A decode step reads every matrix once, except the token-embedding table
    // (one row) unless it doubles as the output projection, and a mixture of
    // experts' idle experts; every matrix is resident. An embedding model
    // reads its matrices once per text and the rows of its tokens.
    let rows_seen = EMBED_ROWS_RESIDENT.min(s.n_vocab as u64);
    let (resident, embed_rows) = if s.embeddings_read_by_row() {
        let row = s.embd_bytes / (s.n_vocab.max(1) as u64);
        (s.tensor_bytes.saturating_sub(s.embd_bytes), row * rows_seen)
    } else {
        (s.tensor_bytes, 0)
    };
    // per-token tables beside the embeddings (Gemma 4's per-layer ones)
    let table_row = s.row_table_bytes / (s.n_vocab.max(1) as u64);
    let (resident, embed_rows) = (
        resident.saturating_sub(s.row_table_bytes),
        embed_rows + table_row * rows_seen,
    );
    let weights_bytes = resident + embed_rows;
    let bytes_per_token = resident.saturating_sub(s.idle_expert_bytes);
    let overhead_bytes = RUNTIME_OVERHEAD + s.metadata_bytes + s.header_bytes;
    MemoryEstimate {
        weights_bytes,
        kv_cache_bytes,
        scratch_bytes,
        overhead_bytes,
        memory_bytes: weights_bytes + kv_cache_bytes + scratch_bytes + overhead_bytes,
        bytes_per_token,
        kv_bytes_per_token,
        n_layer: s.n_layer,
    }
}

/// Scratch of an embedding model's pass over `n_ctx` tokens (`model::encoder`):
/// per token the residual stream, Q, K, V, attention and output rows, the
/// MLP's two rows and their activations; and the attention's
/// (`model::encoder::attention_scratch_bytes`).
fn encoder_scratch_bytes(c: &ModelShape, n_ctx: usize) -> u64 {
    let per_row = (6 * c.n_embd + 2 * c.n_ff) as u64 * 4 + c.n_embd.max(c.n_ff) as u64 * 2;
    n_ctx as u64 * per_row + model::encoder::attention_scratch_bytes(c.n_head, c.head_dim, n_ctx)
}

/// [`ModelShape::metadata_bytes`] of a file not at hand, from its vocabulary
/// size, its BPE merges (0 for SentencePiece) and whether its tokens carry
/// scores (SentencePiece): per token a short string in the metadata tree
/// (64 bytes), its copy in the tokenizer (about 9 bytes of text, 32 of entry)
/// and a 32-byte token type; per score 32; per merge a string (64) and its
/// pair entry (40); plus the chat template and the other keys. Within 2 % of
/// [`metadata_bytes`] on the three test models.
pub fn metadata_bytes_estimate(n_vocab: usize, n_merges: usize, scores: bool) -> u64 {
    let per_token = 64 + 9 + 32 + 32 + if scores { 32 } else { 0 };
    n_vocab as u64 * per_token + n_merges as u64 * 104 + (16 << 10)
}

/// Heap taken by the parsed metadata (one 32-byte value per item, strings on
/// the heap in 16-byte steps) plus the tokenizer built from it (token bytes
/// with a 24-byte entry each, 8 bytes of score and type, 40 per merge).
fn metadata_bytes(f: &GgufFile) -> u64 {
    fn tree(v: &gguf::Value) -> u64 {
        match v {
            gguf::Value::String(s) => 32 + (s.len() as u64).div_ceil(16) * 16 + 16,
            gguf::Value::Array { items, .. } => 32 + items.iter().map(tree).sum::<u64>(),
            _ => 32,
        }
    }
    let tree_bytes: u64 = f
        .metadata
        .iter()
        .map(|(k, v)| k.len() as u64 + tree(v))
        .sum();
    let tokens = f.get_array("tokenizer.ggml.tokens").unwrap_or(&[]);
    let token_bytes: u64 = tokens
        .iter()
        .map(|t| t.as_str().map_or(0, |s| s.len() as u64) + 32)
        .sum();
    let merges = f
        .get_array("tokenizer.ggml.merges")
        .map_or(0, |m| m.len() as u64);
    tree_bytes + token_bytes + merges * 40
}

/// Scratch of one session: the per-chunk buffers (see `model::Scratch`), the
/// quantized copies of activations, and one row of logits.
fn scratch_bytes(c: &ModelShape) -> u64 {
    let rows = model::DEFAULT_BATCH as u64;
    let per_row = (3 * c.n_embd + 2 * c.q_dim() + 2 * c.kv_dim() + 2 * c.n_ff) as u64 * 4;
    let acts = rows * (c.n_embd.max(c.n_ff) as u64) * 2;
    rows * per_row + acts + 2 * c.n_vocab as u64 * 4
}

/// How a model sits in the memory available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Fits,
    Tight,
    DoesNotFit,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fits => "fits",
            Verdict::Tight => "tight",
            Verdict::DoesNotFit => "does not fit",
        }
    }
}

/// Share of available memory a model may take and still "fit" comfortably,
/// and the share past which it does not fit at all.
const COMFORT: f64 = 0.7;
const LIMIT: f64 = 0.9;

pub fn verdict(memory: u64, available: u64) -> Verdict {
    let m = memory as f64;
    let a = available as f64;
    if m <= a * COMFORT {
        Verdict::Fits
    } else if m <= a * LIMIT {
        Verdict::Tight
    } else {
        Verdict::DoesNotFit
    }
}

/// The largest context (≤ `n_ctx_train`) whose estimate stays within the
/// usable share of `available`; 0 when even the weights do not fit.
pub fn max_ctx(e: &MemoryEstimate, n_ctx_train: usize, available: u64) -> usize {
    let usable = (available as f64 * LIMIT) as u64;
    let fixed = e.memory_bytes - e.kv_cache_bytes;
    if fixed >= usable {
        return 0;
    }
    if e.kv_bytes_per_token == 0 {
        // no cache (an embedding model): the context costs only scratch
        return n_ctx_train;
    }
    (((usable - fixed) / e.kv_bytes_per_token) as usize).min(n_ctx_train)
}

/// Share of the probed read bandwidth the decode kernels sustain, and the
/// fixed cost per layer per token (thread synchronisation and the small
/// element-wise steps), both measured with `hearth bench` against
/// `hearth doctor`'s probe on the three test models (BENCHMARKS.md).
const BANDWIDTH_EFFICIENCY: f64 = 0.75;
const LAYER_OVERHEAD_S: f64 = 60e-6;

/// Predicted generation tokens/s at `depth` tokens of context, from the
/// memory read bandwidth (bytes/s): a decode step streams the weights it
/// reads and the KV cache so far, plus a fixed cost per layer.
pub fn predict_tg(e: &MemoryEstimate, depth: usize, bandwidth: f64) -> f64 {
    let bytes = e.bytes_per_token + e.kv_bytes_per_token * depth as u64;
    let secs =
        bytes as f64 / (bandwidth * BANDWIDTH_EFFICIENCY) + e.n_layer as f64 * LAYER_OVERHEAD_S;
    1.0 / secs
}

/// The kernel's transparent huge page mode (`always`, `madvise` or `never`,
/// Linux's `/sys/kernel/mm/transparent_hugepage/enabled`): the weights' copy
/// into memory ([`crate::Weights::Resident`]) gets 2 MB pages in the first
/// two.
pub fn huge_page_mode() -> Option<String> {
    let s = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").ok()?;
    let (_, rest) = s.split_once('[')?;
    Some(rest.split_once(']')?.0.to_string())
}

/// Total and available memory in bytes (Linux `/proc/meminfo`).
pub fn memory_info() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = s.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|kb| kb * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// Measure memory read bandwidth (bytes/s) with `threads` threads reading a
/// buffer much larger than the caches, for about `budget`.
pub fn probe_bandwidth(threads: usize, budget: Duration) -> Option<f64> {
    const BYTES: usize = 256 << 20;
    let words = BYTES / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let threads = threads.max(1);
    let chunk = words / threads;
    let t0 = Instant::now();
    let mut best = 0.0f64;
    let mut sink = 0u64;
    while t0.elapsed() < budget {
        let t = Instant::now();
        let sums: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = buf
                .chunks(chunk)
                .map(|c| {
                    s.spawn(move || {
                        // Eight independent lanes so the loop is load-bound.
                        let mut acc = [0u64; 8];
                        for w in c.chunks_exact(8) {
                            for i in 0..8 {
                                acc[i] = acc[i].wrapping_add(w[i]);
                            }
                        }
                        acc.iter().fold(0u64, |a, &b| a.wrapping_add(b))
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0)).collect()
        });
        let dt = t.elapsed().as_secs_f64();
        sink = sums.iter().fold(sink, |a, &b| a.wrapping_add(b));
        if dt > 0.0 {
            best = best.max(BYTES as f64 / dt);
        }
    }
    std::hint::black_box(sink);
    (best > 0.0).then_some(best)
}

/// The share of the machine's CPU time (0..1) that other programs used
/// while `f` ran (Linux: `/proc/stat` less this process's own time from
/// `/proc/self/stat`), with `f`'s result: a bandwidth probe beside a busy
/// machine measures less than the machine has. `None` where unknown.
pub fn others_busy_during<T>(f: impl FnOnce() -> T) -> (T, Option<f64>) {
    fn machine() -> Option<(u64, u64)> {
        // cpu  user nice system idle iowait irq softirq steal ...
        let s = std::fs::read_to_string("/proc/stat").ok()?;
        let v: Vec<u64> = s
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() < 5 {
            return None;
        }
        let total: u64 = v.iter().sum();
        Some((total, total - v[3] - v[4]))
    }
    fn own() -> Option<u64> {
        // fields after the ")" of the command name: utime is the 12th, stime the 13th
        let s = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = &s[s.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
    }
    let before = machine().zip(own());
    let out = f();
    let after = machine().zip(own());
    let share = match (before, after) {
        (Some(((t0, b0), o0)), Some(((t1, b1), o1))) if t1 > t0 => {
            let others = (b1 - b0).saturating_sub(o1.saturating_sub(o0));
            Some((others as f64 / (t1 - t0) as f64).clamp(0.0, 1.0))
        }
        _ => None,
    };
    (out, share)
}

/// Above this share of the CPU used by other programs during the bandwidth
/// probe, `doctor` and `fit` say their speed predictions may be low.
pub const BUSY_SHARE: f64 = 0.25;

/// Check a model against the memory available before loading it: an error
/// with the numbers and what to do when it cannot fit, a warning string when
/// it is tight.
pub fn preflight(f: &GgufFile, n_ctx: usize) -> Result<Option<String>, EngineError> {
    let shape = ModelShape::from_gguf(f)?;
    let e = estimate_shape(&shape, n_ctx);
    let Some((_, available)) = memory_info() else {
        return Ok(None);
    };
    match verdict(e.memory_bytes, available) {
        Verdict::Fits => Ok(None),
        Verdict::Tight => Ok(Some(format!(
            "memory is tight: {} needs {} (weights {}, KV cache {} for {} positions) of {} available",
            f.path().display(),
            gib(e.memory_bytes),
            gib(e.weights_bytes),
            gib(e.kv_cache_bytes),
            n_ctx,
            gib(available)
        ))),
        Verdict::DoesNotFit => {
            let best = max_ctx(&e, shape.n_ctx_train, available);
            let hint = if best >= 256 {
                format!("use a smaller context (--ctx-size {best} fits)")
            } else {
                "use a smaller model or a smaller quantization of it (see `hearth fit`)".to_string()
            };
            Err(EngineError::DoesNotFit(format!(
                "{} needs {} (weights {}, KV cache {} for {} positions) but only {} is available; {hint}",
                f.path().display(),
                gib(e.memory_bytes),
                gib(e.weights_bytes),
                gib(e.kv_cache_bytes),
                n_ctx,
                gib(available)
            )))
        }
    }
}

/// Bytes as GiB with two decimals (MiB below 1 GiB).
pub fn gib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// The context to use when none is asked for: the trained context, capped at
/// [`DEFAULT_CTX_CAP`] and at what fits in the memory available.
pub fn default_ctx(f: &GgufFile) -> Result<usize, EngineError> {
    let shape = ModelShape::from_gguf(f)?;
    let want = shape.default_ctx();
    let Some((_, available)) = memory_info() else {
        return Ok(want);
    };
    let e = estimate_shape(&shape, want);
    let fits = max_ctx(&e, shape.n_ctx_train, available);
    Ok(if fits >= 256 { want.min(fits) } else { want })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokenizer-heap estimate used for models not at hand stays within
    /// 2 % of the heap counted from the file, on the three test models.
    #[test]
    fn metadata_estimate_close_to_the_files() {
        for (short, _, _) in test_models::MODELS {
            let Some(path) = test_models::model(short) else {
                continue;
            };
            let f = GgufFile::open(&path).unwrap();
            let n_vocab = f.get_array("tokenizer.ggml.tokens").unwrap().len();
            let n_merges = f.get_array("tokenizer.ggml.merges").map_or(0, |m| m.len());
            let est = metadata_bytes_estimate(
                n_vocab,
                n_merges,
                f.get("tokenizer.ggml.scores").is_some(),
            );
            let exact = metadata_bytes(&f);
            let off = (est as f64 - exact as f64) / exact as f64;
            assert!(
                off.abs() < 0.02,
                "{short}: estimate {est} vs {exact} ({:+.2} %)",
                off * 100.0
            );
        }
    }

    /// A hybrid model (Qwen3.5): K/V counted for its attention layers only,
    /// and the session's fixed recurrent state with its snapshots (a pinned
    /// one too) — what a
    /// session that has filled its context (and taken its snapshots) holds,
    /// plus the hybrid blocks' scratch.
    #[test]
    fn hybrid_cache_is_attention_kv_plus_recurrent_state() {
        let Some(path) = test_models::synthetic("qwen35-f16.gguf") else {
            return;
        };
        let m = model::Model::load(&path).unwrap();
        let c = &m.config;
        let est = estimate(m.file(), 256).unwrap();
        assert!(c.kv_layers() < c.n_layer);
        assert_eq!(
            est.kv_bytes_per_token,
            (c.kv_layers() * 2 * c.kv_dim() * 2) as u64
        );
        let pool = kernels::ThreadPool::new(2);
        let mut sess = m.session(256, model::DEFAULT_BATCH).unwrap();
        let ids: Vec<u32> = (100..356).collect();
        // a system prompt's state pinned, then chunks with their snapshots
        m.forward(&pool, &mut sess, &ids[..16], model::Logits::None)
            .unwrap();
        sess.pin_snapshot();
        m.forward(&pool, &mut sess, &ids[16..], model::Logits::None)
            .unwrap();
        let scratch =
            c.recurrent_session_bytes(model::DEFAULT_BATCH) - c.recurrent_session_bytes(0);
        assert_eq!(est.kv_cache_bytes, (sess.kv_bytes() + scratch) as u64);
    }

    /// Gemma 4: K/V counted for the layers that keep their own (the shared
    /// ones read an earlier layer's), each at its own size (sliding and
    /// global layers differ): what a session holds; the per-layer
    /// embedding table counted like the embedding table, by rows seen.
    #[test]
    fn gemma4_cache_counts_shared_kv_once() {
        let Some(path) = test_models::synthetic("gemma4-f32.gguf") else {
            return;
        };
        let m = model::Model::load(&path).unwrap();
        let c = &m.config;
        let g = c.gemma4.as_ref().unwrap();
        let shared = (0..c.n_layer).filter(|&il| g.kv_source[il] != il).count();
        assert!(shared > 0);
        assert_eq!(c.kv_layers(), c.n_layer - shared);
        let est = estimate(m.file(), 256).unwrap();
        let pool = kernels::ThreadPool::new(2);
        let mut sess = m.session(256, model::DEFAULT_BATCH).unwrap();
        let ids: Vec<u32> = (100..356).collect();
        m.forward(&pool, &mut sess, &ids, model::Logits::None)
            .unwrap();
        assert_eq!(est.kv_cache_bytes, sess.kv_bytes() as u64);
        assert!(est.kv_bytes_per_token < (c.n_layer * 2 * c.kv_dim() * 2) as u64);
        let s = ModelShape::from_gguf(m.file()).unwrap();
        let table = m.file().tensor("per_layer_token_embd.weight").unwrap().size;
        assert_eq!(s.row_table_bytes, table);
        assert!(est.weights_bytes < s.tensor_bytes - table / 2);
    }

    /// The one formula: a file's estimate is its shape's.
    #[test]
    fn file_estimate_is_the_shape_estimate() {
        let Some(path) = test_models::model("qwen2.5-coder-0.5b") else {
            return;
        };
        let f = GgufFile::open(&path).unwrap();
        let s = ModelShape::from_gguf(&f).unwrap();
        assert_eq!(estimate(&f, 1000).unwrap(), estimate_shape(&s, 1000));
        assert!(s.output_tensor && s.embd_bytes > 0 && s.tensor_bytes < f.file_size());
        let e = estimate_shape(&s, 0);
        assert_eq!(e.bytes_per_token, s.tensor_bytes - s.embd_bytes);
    }
}
