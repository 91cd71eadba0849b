//! Weights as views into the memory-mapped GGUF file. Matrices stay in the map
//! (never dequantized whole); only small vectors (norms, biases) are copied out
//! as f32.

use crate::config::{Arch, Config};
use crate::ModelError;
use gguf::{GgmlType, GgufFile};

/// A weight matrix of `rows` output features by `cols` inputs, stored in the
/// map at `start..start + len` (ggml layout: each row of `cols` contiguous).
#[derive(Clone, Debug)]
pub struct Matrix {
    pub name: String,
    pub ty: GgmlType,
    pub start: usize,
    pub len: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    /// Bytes of one row.
    pub fn row_bytes(&self) -> usize {
        self.len / self.rows
    }
}

/// A block's feed-forward: a gated MLP, or a mixture of them.
#[derive(Debug)]
pub enum Ffn {
    Dense {
        gate: Matrix, // [n_ff, n_embd]
        up: Matrix,   // [n_ff, n_embd]
        down: Matrix, // [n_embd, n_ff]
    },
    Moe(Box<Experts>),
}

/// A mixture of experts' weights: the router and, per expert, views of its
/// rows of the 3-D `ffn_{gate,up,down}_exps` tensors (llama.cpp's
/// `[n_expert][rows][cols]` layout: expert e's matrix is a contiguous range
/// of rows, read in place).
#[derive(Debug)]
pub struct Experts {
    pub router: Matrix,                // [n_expert, n_embd]
    pub router_bias: Option<Vec<f32>>, // [n_expert]
    pub gate: Vec<Matrix>,             // n_expert x [n_ff_exp, n_embd]
    pub up: Vec<Matrix>,               // n_expert x [n_ff_exp, n_embd]
    pub down: Vec<Matrix>,             // n_expert x [n_embd, n_ff_exp]
    pub gate_bias: Option<Vec<f32>>,   // [n_expert][n_ff_exp]
    pub up_bias: Option<Vec<f32>>,     // [n_expert][n_ff_exp]
    pub down_bias: Option<Vec<f32>>,   // [n_expert][n_embd]
    /// qwen35moe's shared expert (every token's), added to the routed sum.
    pub shared: Option<SharedExpert>,
    /// Gemma 4 (`ffn_gate_inp.scale`, [n_embd]): the router reads the
    /// residual stream RMS-normed (no weight), / sqrt(n_embd), × this,
    /// instead of the experts' normed input.
    pub router_scale: Option<Vec<f32>>,
    /// Gemma 4 (`ffn_down_exps.scale`, [n_expert]): each expert's output ×
    /// its scale, before the routing weight.
    pub down_scale: Option<Vec<f32>>,
}

impl Experts {
    /// The matrices the forward pass multiplies by; the routed experts'
    /// (each multiplies only the rows routed to it: a few rows each in a
    /// batched step) only if `routed`.
    pub(crate) fn matrices(&self, routed: bool) -> Vec<&Matrix> {
        let mut v = vec![&self.router];
        if routed {
            v.extend(self.gate.iter().chain(&self.up).chain(&self.down));
        }
        if let Some(sh) = &self.shared {
            v.extend([&sh.gate, &sh.up, &sh.down, &sh.gate_inp]);
        }
        v
    }
}

/// A shared expert: a SwiGLU MLP scaled per token by σ(x·`gate_inp`).
#[derive(Debug)]
pub struct SharedExpert {
    pub gate: Matrix,     // [n_ff_shexp, n_embd] (`ffn_gate_shexp`)
    pub up: Matrix,       // [n_ff_shexp, n_embd] (`ffn_up_shexp`)
    pub down: Matrix,     // [n_embd, n_ff_shexp] (`ffn_down_shexp`)
    pub gate_inp: Matrix, // [1, n_embd] (`ffn_gate_inp_shexp`, a vector in the file)
}

/// One transformer block's weights. Shapes in comments: [rows, cols].
#[derive(Debug)]
pub struct Layer {
    pub attn_norm: Vec<f32>,              // [n_embd]
    pub wq: Matrix,                       // [q_dim, n_embd]
    pub wk: Matrix,                       // [kv_dim, n_embd]
    pub wv: Matrix,                       // [kv_dim, n_embd]
    pub wo: Matrix,                       // [n_embd, q_dim]
    pub bo: Option<Vec<f32>>,             // [n_embd]
    pub sinks: Option<Vec<f32>>,          // [n_head]
    pub bq: Option<Vec<f32>>,             // [q_dim]
    pub bk: Option<Vec<f32>>,             // [kv_dim]
    pub bv: Option<Vec<f32>>,             // [kv_dim]
    pub q_norm: Option<Vec<f32>>,         // [head_dim]
    pub k_norm: Option<Vec<f32>>,         // [head_dim]
    pub attn_post_norm: Option<Vec<f32>>, // [n_embd]
    pub ffn_norm: Vec<f32>,               // [n_embd]
    pub ffn: Ffn,
    pub ffn_post_norm: Option<Vec<f32>>, // [n_embd]
}

/// All weights of a model.
#[derive(Debug)]
pub struct Weights {
    pub tok_embd: Matrix,      // [n_vocab, n_embd]
    pub output: Matrix,        // [n_vocab, n_embd] (tok_embd when tied)
    pub output_norm: Vec<f32>, // [n_embd]
    pub layers: Vec<Layer>,
    /// A hybrid model's blocks (`layers` is empty then); see `hybrid.rs`.
    pub hybrid: Vec<crate::hybrid::HybridLayer>,
    /// A Gemma 4 model's blocks (`layers` is empty then); see `gemma4.rs`.
    pub gemma4: Option<crate::gemma4::G4Weights>,
}

pub(crate) struct Loader<'a> {
    pub f: &'a GgufFile,
    pub arch: Arch,
    /// Names of the tensors read so far.
    used: std::cell::RefCell<std::collections::HashSet<String>>,
}

impl<'a> Loader<'a> {
    pub fn new(f: &'a GgufFile, arch: Arch) -> Loader<'a> {
        Loader {
            f,
            arch,
            used: Default::default(),
        }
    }

    fn missing(&self, name: &str) -> ModelError {
        ModelError::MissingTensor {
            path: self.f.path().into(),
            tensor: name.into(),
            arch: self.arch.name().into(),
        }
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.f.tensor(name).is_some()
    }

    fn info(&self, name: &str, want: &[u64]) -> Result<&'a gguf::TensorInfo, ModelError> {
        let t = self.f.tensor(name).ok_or_else(|| self.missing(name))?;
        let got: Vec<u64> = t.dims.to_vec();
        let mut trimmed = got.clone();
        while trimmed.len() > want.len() && trimmed.last() == Some(&1) {
            trimmed.pop();
        }
        if trimmed != want {
            return Err(ModelError::BadShape {
                path: self.f.path().into(),
                tensor: name.into(),
                got,
                want: want.to_vec(),
            });
        }
        if !t.ty.is_supported() {
            return Err(ModelError::UnsupportedType {
                path: self.f.path().into(),
                tensor: name.into(),
                ty: t.ty,
            });
        }
        self.used.borrow_mut().insert(name.to_string());
        Ok(t)
    }

    /// A [rows, cols] matrix (ggml dims [cols, rows]).
    pub fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Matrix, ModelError> {
        let t = self.info(name, &[cols as u64, rows as u64])?;
        Ok(Matrix {
            name: name.to_string(),
            ty: t.ty,
            start: (self.f.data_offset + t.offset) as usize,
            len: t.size as usize,
            rows,
            cols,
        })
    }

    /// A vector of `cols` stored as a 1-D tensor, as a matrix of one row
    /// (llama.cpp multiplies by it as by a [1, cols] matrix).
    pub fn row_matrix(&self, name: &str, cols: usize) -> Result<Matrix, ModelError> {
        let t = self.info(name, &[cols as u64])?;
        Ok(Matrix {
            name: name.to_string(),
            ty: t.ty,
            start: (self.f.data_offset + t.offset) as usize,
            len: t.size as usize,
            rows: 1,
            cols,
        })
    }

    /// A matrix of `parts.iter().sum()` rows stored as one tensor (llama.cpp's
    /// fused `attn_qkv`, Phi-3's gate+up `ffn_up`), as one view per part: the
    /// rows of a ggml matrix are contiguous, so part i is a byte range, and
    /// each output is the same dot product as over the whole matrix.
    pub fn split_matrix<const N: usize>(
        &self,
        name: &str,
        parts: [usize; N],
        cols: usize,
    ) -> Result<[Matrix; N], ModelError> {
        let whole = self.matrix(name, parts.iter().sum(), cols)?;
        let rb = whole.row_bytes();
        let mut row0 = 0;
        Ok(parts.map(|rows| {
            let m = Matrix {
                name: format!("{name}[{row0}..{}]", row0 + rows),
                ty: whole.ty,
                start: whole.start + row0 * rb,
                len: rows * rb,
                rows,
                cols,
            };
            row0 += rows;
            m
        }))
    }

    /// The views of `n_expert` matrices of [rows, cols] stored as one 3-D
    /// tensor (ggml dims [cols, rows, n_expert]), one per expert.
    pub fn experts(
        &self,
        name: &str,
        n_expert: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Vec<Matrix>, ModelError> {
        let t = self.info(name, &[cols as u64, rows as u64, n_expert as u64])?;
        let start = (self.f.data_offset + t.offset) as usize;
        let each = t.size as usize / n_expert;
        Ok((0..n_expert)
            .map(|e| Matrix {
                name: format!("{name}[{e}]"),
                ty: t.ty,
                start: start + e * each,
                len: each,
                rows,
                cols,
            })
            .collect())
    }

    /// A [rows, cols] tensor of f32-convertible values as one vector
    /// (biases per expert).
    pub fn vector2(&self, name: &str, rows: usize, cols: usize) -> Result<Vec<f32>, ModelError> {
        let t = self.info(name, &[cols as u64, rows as u64])?;
        let mut out = vec![0.0; rows * cols];
        kernels::dequantize(t.ty, self.f.tensor_data(t), &mut out)
            .map_err(|e| ModelError::Kernel(e.to_string()))?;
        Ok(out)
    }

    /// A vector of `n`, as f32.
    pub fn vector(&self, name: &str, n: usize) -> Result<Vec<f32>, ModelError> {
        let t = self.info(name, &[n as u64])?;
        let mut out = vec![0.0; n];
        kernels::dequantize(t.ty, self.f.tensor_data(t), &mut out)
            .map_err(|e| ModelError::Kernel(e.to_string()))?;
        Ok(out)
    }

    pub fn opt_vector(&self, name: &str, n: usize) -> Result<Option<Vec<f32>>, ModelError> {
        if self.has(name) {
            self.vector(name, n).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `name` counts as read (a tensor the configuration consumed).
    pub(crate) fn mark_used(&self, name: &str) {
        self.used.borrow_mut().insert(name.to_string());
    }

    /// Refuse a file holding a tensor nothing read: it is a variant of the
    /// architecture hearth does not compute (llama.cpp refuses such a file
    /// too: "wrong number of tensors"), never half-loaded.
    pub(crate) fn check_all_used(&self) -> Result<(), ModelError> {
        let used = self.used.borrow();
        match self.f.tensors.iter().find(|t| !used.contains(&t.name)) {
            None => Ok(()),
            Some(t) => Err(ModelError::UnexpectedTensor {
                path: self.f.path().into(),
                tensor: t.name.clone(),
                arch: self.arch.name().into(),
            }),
        }
    }
}

/// Read every weight the configuration calls for, checking names and shapes.
/// Tensor names per llama.cpp `src/llama-arch.cpp` (`LLM_TENSOR_NAMES`).
pub(crate) fn load(f: &GgufFile, c: &Config) -> Result<Weights, ModelError> {
    let l = Loader::new(f, c.arch);
    let (d, q, kv, ff) = (c.n_embd, c.q_dim(), c.kv_dim(), c.n_ff);
    for name in &c.rope_tensors {
        l.mark_used(name);
    }
    let tok_embd = l.matrix("token_embd.weight", c.n_vocab, d)?;
    let output = if l.has("output.weight") {
        l.matrix("output.weight", c.n_vocab, d)?
    } else {
        tok_embd.clone()
    };
    let output_norm = l.vector("output_norm.weight", d)?;
    if let Some(h) = &c.ssm {
        let hybrid = crate::hybrid::load_layers(&l, f, c, h)?;
        l.check_all_used()?;
        return Ok(Weights {
            tok_embd,
            output,
            output_norm,
            layers: Vec::new(),
            hybrid,
            gemma4: None,
        });
    }
    if let Some(g) = &c.gemma4 {
        let g4 = crate::gemma4::load(&l, c, g)?;
        l.check_all_used()?;
        return Ok(Weights {
            tok_embd,
            output,
            output_norm,
            layers: Vec::new(),
            hybrid: Vec::new(),
            gemma4: Some(g4),
        });
    }
    let mut layers = Vec::with_capacity(c.n_layer);
    for i in 0..c.n_layer {
        let n = |s: &str| format!("blk.{i}.{s}");
        let req_bias = |s: &str, len: usize| -> Result<Option<Vec<f32>>, ModelError> {
            if c.qkv_bias {
                l.vector(&n(s), len).map(Some)
            } else {
                l.opt_vector(&n(s), len)
            }
        };
        // Q/K/V: three matrices, or one fused `attn_qkv` (llama.cpp
        // `create_tensor_qkv`), with its bias or the three separate ones.
        let (wq, wk, wv, bq, bk, bv);
        if l.has(&n("attn_qkv.weight")) {
            [wq, wk, wv] = l.split_matrix(&n("attn_qkv.weight"), [q, kv, kv], d)?;
            if let Some(b) = l.opt_vector(&n("attn_qkv.bias"), q + 2 * kv)? {
                (bq, bk, bv) = (
                    Some(b[..q].to_vec()),
                    Some(b[q..q + kv].to_vec()),
                    Some(b[q + kv..].to_vec()),
                );
            } else {
                (bq, bk, bv) = (
                    req_bias("attn_q.bias", q)?,
                    req_bias("attn_k.bias", kv)?,
                    req_bias("attn_v.bias", kv)?,
                );
            }
        } else {
            wq = l.matrix(&n("attn_q.weight"), q, d)?;
            wk = l.matrix(&n("attn_k.weight"), kv, d)?;
            wv = l.matrix(&n("attn_v.weight"), kv, d)?;
            bq = req_bias("attn_q.bias", q)?;
            bk = req_bias("attn_k.bias", kv)?;
            bv = req_bias("attn_v.bias", kv)?;
        }
        let ffn = match &c.moe {
            Some(moe) => Ffn::Moe(Box::new(experts(&l, c, moe, i)?)),
            None if c.fused_gate_up => {
                let [gate, up] = l.split_matrix(&n("ffn_up.weight"), [ff, ff], d)?;
                let down = l.matrix(&n("ffn_down.weight"), d, ff)?;
                Ffn::Dense { gate, up, down }
            }
            None => Ffn::Dense {
                gate: l.matrix(&n("ffn_gate.weight"), ff, d)?,
                up: l.matrix(&n("ffn_up.weight"), ff, d)?,
                down: l.matrix(&n("ffn_down.weight"), d, ff)?,
            },
        };
        let head_norm = |s: &str| -> Result<Option<Vec<f32>>, ModelError> {
            if c.qk_norm {
                l.vector(&n(s), c.head_dim).map(Some)
            } else {
                Ok(None)
            }
        };
        let post_norm = |s: &str| -> Result<Option<Vec<f32>>, ModelError> {
            if c.post_norms {
                l.vector(&n(s), d).map(Some)
            } else {
                Ok(None)
            }
        };
        layers.push(Layer {
            attn_norm: l.vector(&n("attn_norm.weight"), d)?,
            wq,
            wk,
            wv,
            wo: l.matrix(&n("attn_output.weight"), d, q)?,
            bo: if c.wo_bias {
                Some(l.vector(&n("attn_output.bias"), d)?)
            } else {
                None
            },
            sinks: if c.attn_sinks {
                Some(l.vector(&n("attn_sinks.weight"), c.n_head)?)
            } else {
                None
            },
            bq,
            bk,
            bv,
            q_norm: head_norm("attn_q_norm.weight")?,
            k_norm: head_norm("attn_k_norm.weight")?,
            attn_post_norm: post_norm("post_attention_norm.weight")?,
            // gpt-oss names its feed-forward norm `post_attention_norm`
            ffn_norm: l.vector(
                &n(if c.arch == Arch::GptOss {
                    "post_attention_norm.weight"
                } else {
                    "ffn_norm.weight"
                }),
                d,
            )?,
            ffn,
            ffn_post_norm: post_norm("post_ffw_norm.weight")?,
        });
    }
    l.check_all_used()?;
    Ok(Weights {
        tok_embd,
        output,
        output_norm,
        layers,
        hybrid: Vec::new(),
        gemma4: None,
    })
}

/// Layer `i`'s mixture of experts (and shared expert, where the
/// configuration has one).
pub(crate) fn experts(
    l: &Loader,
    c: &Config,
    moe: &crate::config::Moe,
    i: usize,
) -> Result<Experts, ModelError> {
    let n = |s: &str| format!("blk.{i}.{s}");
    let (d, ne, ff) = (c.n_embd, moe.n_expert, moe.n_ff_exp);
    let router = l.matrix(&n("ffn_gate_inp.weight"), ne, d)?;
    let biases = c.arch == Arch::GptOss;
    let bias2 = |s: &str, rows: usize, cols: usize| -> Result<Option<Vec<f32>>, ModelError> {
        if biases {
            l.vector2(&n(s), rows, cols).map(Some)
        } else {
            Ok(None)
        }
    };
    Ok(Experts {
        router_bias: if biases {
            Some(l.vector(&n("ffn_gate_inp.bias"), ne)?)
        } else {
            None
        },
        router,
        gate: l.experts(&n("ffn_gate_exps.weight"), ne, ff, d)?,
        up: l.experts(&n("ffn_up_exps.weight"), ne, ff, d)?,
        down: l.experts(&n("ffn_down_exps.weight"), ne, d, ff)?,
        gate_bias: bias2("ffn_gate_exps.bias", ne, ff)?,
        up_bias: bias2("ffn_up_exps.bias", ne, ff)?,
        down_bias: bias2("ffn_down_exps.bias", ne, d)?,
        shared: match moe.n_ff_shexp {
            0 => None,
            fs => Some(SharedExpert {
                gate: l.matrix(&n("ffn_gate_shexp.weight"), fs, d)?,
                up: l.matrix(&n("ffn_up_shexp.weight"), fs, d)?,
                down: l.matrix(&n("ffn_down_shexp.weight"), d, fs)?,
                gate_inp: l.row_matrix(&n("ffn_gate_inp_shexp.weight"), d)?,
            }),
        },
        router_scale: None,
        down_scale: None,
    })
}
