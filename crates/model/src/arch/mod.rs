//! One file per architecture: how its metadata and tensors map onto the
//! shared transformer of `forward.rs`. Each `configure` reads the family's
//! own keys into the `Config` and says how its RoPE is built (`RopeSpec`).

pub mod bert;
pub mod gemma3;
pub mod gemma4;
pub mod gpt_oss;
pub mod granite;
pub mod llama;
pub mod mistral3;
pub mod nomic_bert;
pub mod phi3;
pub mod qwen2;
pub mod qwen3;
pub mod qwen35;
pub mod qwen3moe;
pub mod smollm3;

use crate::config::{Meta, MAX_EXPERTS};
use crate::ModelError;

/// A mixture of experts' `expert_count` and `expert_used_count`, checked as
/// llama.cpp checks them (both set, at most `MAX_EXPERTS`, used <= count).
pub(crate) fn expert_counts(m: &Meta) -> Result<(usize, usize), ModelError> {
    let n_expert = m.req_u("expert_count")?;
    if n_expert > MAX_EXPERTS {
        return Err(m.bad(
            &m.key("expert_count"),
            &format!(
                "is {n_expert}, more than the {MAX_EXPERTS} experts llama.cpp and hearth allow"
            ),
        ));
    }
    let used = m.req_u("expert_used_count")?;
    if used > n_expert {
        return Err(m.bad(
            &m.key("expert_used_count"),
            &format!("is {used}, more than expert_count {n_expert}"),
        ));
    }
    Ok((n_expert, used))
}
