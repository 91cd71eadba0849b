use std::path::PathBuf;

/// Errors loading or running a model. Messages name the file and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] gguf::GgufError),
    #[error("{path}: architecture {arch:?} is not supported (hearth runs: {supported}); use a model of a supported architecture")]
    UnsupportedArch {
        path: PathBuf,
        arch: String,
        supported: &'static str,
    },
    #[error("{path}: tensor {tensor:?} has type {ty}, which hearth cannot compute with yet (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, MXFP4); use another quantization of this model")]
    UnsupportedType {
        path: PathBuf,
        tensor: String,
        ty: gguf::GgmlType,
    },
    #[error("{path}: missing tensor {tensor:?}; the file is incomplete or not a {arch} model")]
    MissingTensor {
        path: PathBuf,
        tensor: String,
        arch: String,
    },
    #[error("{path}: tensor {tensor:?} is not part of a {arch} model as hearth runs it (a variant hearth does not compute, e.g. extra biases or experts); nothing was loaded. Use a standard {arch} file")]
    UnexpectedTensor {
        path: PathBuf,
        tensor: String,
        arch: String,
    },
    #[error("{path}: tensor {tensor:?} has shape {got:?}, expected {want:?}; the file does not match its own metadata")]
    BadShape {
        path: PathBuf,
        tensor: String,
        got: Vec<u64>,
        want: Vec<u64>,
    },
    #[error("{path}: metadata {key:?} {problem}")]
    BadMetadata {
        path: PathBuf,
        key: String,
        problem: String,
    },
    #[error("the input is {needed} tokens but the context holds {n_ctx} ({used} already used); shorten the input or raise the context size (--ctx-size, at most {max} for this model)")]
    ContextOverflow {
        needed: usize,
        used: usize,
        n_ctx: usize,
        max: usize,
    },
    #[error("token id {id} is outside the vocabulary of {n_vocab} tokens")]
    BadToken { id: u32, n_vocab: usize },
    #[error("this is an embedding model ({arch}): it turns text into vectors (hearth embed, /v1/embeddings, /api/embed), it does not generate text; use a chat or completion model for that")]
    EmbeddingModel { arch: &'static str },
    #[error("this model ({arch}) is not an embedding model (an encoder); its embeddings come from its hidden states (Model::hidden_states)")]
    NotAnEncoder { arch: &'static str },
    #[error("kernel: {0}")]
    Kernel(String),
}
