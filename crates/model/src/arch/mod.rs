//! One file per architecture: how its metadata and tensors map onto the
//! shared transformer of `forward.rs`. Each `configure` reads the family's
//! own keys into the `Config` and says how its RoPE is built (`RopeSpec`).

pub mod gemma3;
pub mod granite;
pub mod llama;
pub mod mistral3;
pub mod phi3;
pub mod qwen2;
pub mod qwen3;
pub mod smollm3;
