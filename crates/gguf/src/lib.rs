//! The GGUF file format: read (memory-mapped, zero-copy tensor data, every
//! length checked against the file size and hard caps) and write.
//!
//! Specification: llama.cpp `ggml/docs/gguf.md`.

mod error;
mod reader;
#[cfg(target_os = "linux")]
mod resident;
mod types;
mod value;
mod writer;

pub use error::GgufError;
pub use reader::{caps, GgufFile, TensorInfo};
pub use types::GgmlType;
pub use value::{Value, ValueType};
pub use writer::GgufWriter;

/// Helpers to build metadata arrays.
pub fn str_array<S: AsRef<str>>(items: &[S]) -> Value {
    Value::Array {
        elem: ValueType::String,
        items: items
            .iter()
            .map(|s| Value::String(s.as_ref().to_string()))
            .collect(),
    }
}

pub fn f32_array(items: &[f32]) -> Value {
    Value::Array {
        elem: ValueType::F32,
        items: items.iter().map(|&v| Value::F32(v)).collect(),
    }
}

pub fn i32_array(items: &[i32]) -> Value {
    Value::Array {
        elem: ValueType::I32,
        items: items.iter().map(|&v| Value::I32(v)).collect(),
    }
}
