//! One file per architecture: how its metadata and tensors map onto the
//! shared transformer of `forward.rs`.

pub mod gemma3;
pub mod llama;
pub mod qwen2;
