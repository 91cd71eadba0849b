//! The one way a program loads a model to run it: a model file plus
//! [`LoadOptions`] → [`Loaded`] (the model, the context it got, the
//! warnings). Every `hearth` command and the server load through [`load`];
//! a model name becomes a file before that, by the store's rule
//! (`store::resolve` in commands, the server's catalog over `store::Store::find`).
//!
//! In order: the file is opened (mmap + validation); the context is settled
//! (the one asked for, checked against the trained context, or the default:
//! the trained context capped at [`fit::DEFAULT_CTX_CAP`] and at what fits);
//! the memory preflight refuses a model whose weights and caches cannot fit
//! the memory available, with the numbers and what to do, and warns when it
//! is tight; the weights are copied into memory in huge pages unless memory
//! is tight or a mapped file was asked for ([`LoadOptions::mapped`]: decode
//! streams the weights faster from the copy); then the weights, tokenizer
//! and chat template load; last, when asked, the weight panels for batched
//! steps are unpacked (when they fit).

use crate::fit::{self, ModelShape};
use crate::{EngineError, LoadedModel};
use std::path::Path;

/// The context of one sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ctx {
    /// The trained context, capped at [`fit::DEFAULT_CTX_CAP`] and at what
    /// fits in the memory available.
    #[default]
    Default,
    /// This many positions, as the user asked (`--ctx-size`): an error when
    /// 0 or larger than the model's trained context.
    Exactly(usize),
    /// At most this many positions: capped at the trained context without
    /// error (a server's `--ctx-size`, the same for every model it serves).
    AtMost(usize),
}

impl From<Option<usize>> for Ctx {
    /// `Some(n)`: exactly `n`; `None`: the default.
    fn from(asked: Option<usize>) -> Ctx {
        asked.map_or(Ctx::Default, Ctx::Exactly)
    }
}

/// The KV-cache memory the preflight counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cache {
    /// This many sequences at once, each of the full context.
    Sequences(usize),
    /// The first of these sequence counts (best first) whose caches fit
    /// comfortably; else the last one, refused or warned about as it is.
    FirstFitting(Vec<usize>),
    /// This many positions shared by every sequence (a server's context
    /// budget).
    Positions(usize),
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::Sequences(1)
    }
}

/// Unpack the weight panels for batched steps after loading
/// ([`LoadedModel::build_panel_caches`]: only when they fit), when there will
/// be batched steps: more than one sequence, or a shared positions budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Panels {
    /// Threads that unpack them.
    pub threads: usize,
    /// Bytes they may take at most, beyond the quarter of the available
    /// memory they never exceed (a server's memory budget left).
    pub limit: Option<u64>,
}

/// How to load a model. The default: the default context, one sequence, no
/// panels, the weights copied into memory when they fit comfortably.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    pub ctx: Ctx,
    pub cache: Cache,
    pub panels: Option<Panels>,
    /// Keep the weights in the mapped file instead of copying them into
    /// memory in huge pages (`--mmap`): loads faster and shares the page
    /// cache with other processes using the file; decodes slower.
    pub mapped: bool,
}

/// How a loaded model's weights are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// Being copied (in the background, from the map, at the same
    /// addresses) into anonymous memory in huge pages
    /// ([`gguf::GgufFile::make_resident`]).
    Resident,
    /// Mapped from the file, as asked ([`LoadOptions::mapped`]).
    MappedAsAsked,
    /// Mapped from the file because memory is tight: a copy could not be
    /// given back to the system under pressure, a mapped file can.
    MappedMemoryTight,
    /// Mapped from the file because no copy could be made (this system
    /// has no way to, or the file could not be mapped again).
    MappedNoCopy,
}

impl Weights {
    /// One phrase for `bench` and `--verbose`, told for now: a copy started
    /// at load may have finished, be under way, or have given up (`file`:
    /// the model's).
    pub fn describe_now(self, file: &gguf::GgufFile) -> &'static str {
        match self {
            Weights::Resident if file.is_resident() => "copied into memory (huge pages)",
            Weights::Resident if file.copy_failed() => "mapped from the file (the copy gave up)",
            Weights::Resident => "being copied into memory (huge pages, in the background)",
            Weights::MappedAsAsked => "mapped from the file (--mmap)",
            Weights::MappedMemoryTight => "mapped from the file (memory is tight)",
            Weights::MappedNoCopy => "mapped from the file (no copy could be made)",
        }
    }
}

/// A model loaded by [`load`].
pub struct Loaded {
    pub model: LoadedModel,
    /// The context of one sequence.
    pub n_ctx: usize,
    /// Sequences whose caches the preflight counted (the one picked of
    /// [`Cache::FirstFitting`]; 1 for [`Cache::Positions`]).
    pub sequences: usize,
    /// Bytes of weight panels unpacked (0: none).
    pub panel_bytes: u64,
    /// How the weights are held: copied into memory, or mapped from the
    /// file (and why).
    pub weights: Weights,
    /// Things the user should know (memory is tight), one sentence each.
    pub warnings: Vec<String>,
}

/// Load the model file at `path` (see the module docs).
pub fn load(path: impl AsRef<Path>, opts: &LoadOptions) -> Result<Loaded, EngineError> {
    let mut file = gguf::GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?;
    let shape = ModelShape::from_gguf(&file)?;
    let n_ctx = match opts.ctx {
        Ctx::Exactly(0) => return Err(EngineError::ZeroContext),
        Ctx::Exactly(n) if n > shape.n_ctx_train => {
            return Err(EngineError::ContextTooLarge {
                asked: n,
                trained: shape.n_ctx_train,
            })
        }
        Ctx::Exactly(n) => n,
        Ctx::AtMost(n) => n.min(shape.n_ctx_train).max(1),
        Ctx::Default => fit::default_ctx(&file)?,
    };
    // Several sequences: say how the positions counted were made up.
    let check = |n: usize, positions: usize| {
        fit::preflight(&file, positions).map_err(|e| match e {
            EngineError::DoesNotFit(m) if n > 1 => {
                EngineError::DoesNotFit(format!("{m} ({n} sequences of {n_ctx} positions each)"))
            }
            e => e,
        })
    };
    let (sequences, warning) = match &opts.cache {
        Cache::Sequences(n) => (*n, check(*n, n_ctx * n)?),
        Cache::Positions(n) => (1, check(1, *n)?),
        Cache::FirstFitting(counts) => {
            let mut pick = (1, Ok(None));
            for &n in counts {
                pick = (n, check(n, n_ctx * n));
                if matches!(pick.1, Ok(None)) {
                    break;
                }
            }
            (pick.0, pick.1?)
        }
    };
    // Copy the weights into memory only when they fit comfortably: under
    // pressure the kernel can drop a mapped file's pages and read them again,
    // but not a copy's.
    let weights = if opts.mapped || mmap_env() {
        Weights::MappedAsAsked
    } else if warning.is_some() {
        Weights::MappedMemoryTight
    } else {
        match file.make_resident(&fit::row_tables(&file, &shape)) {
            Ok(true) => Weights::Resident,
            Ok(false) | Err(_) => Weights::MappedNoCopy,
        }
    };
    let model = LoadedModel::from_gguf(file)?;
    let batched = sequences > 1 || matches!(opts.cache, Cache::Positions(_));
    let panel_bytes = match opts.panels {
        Some(p) if batched => model.build_panel_caches(p.threads, p.limit)?,
        _ => 0,
    };
    Ok(Loaded {
        model,
        n_ctx,
        sequences,
        panel_bytes,
        weights,
        warnings: warning.into_iter().collect(),
    })
}

/// `HEARTH_MMAP` set (and not `0`): every load keeps its file mapped, as
/// [`LoadOptions::mapped`] asks.
fn mmap_env() -> bool {
    std::env::var_os("HEARTH_MMAP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The tokenizer of the model file at `path`, without its weights.
pub fn load_tokenizer(path: impl AsRef<Path>) -> Result<crate::Tokenizer, EngineError> {
    let file = gguf::GgufFile::open(path.as_ref()).map_err(model::ModelError::from)?;
    Ok(crate::Tokenizer::from_gguf(&file)?)
}
