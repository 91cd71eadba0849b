"""The dataclasses the tables are made of: a model's shape (Shape), one
sequence the fixtures evaluate (Run), a decoder family (Family) and one
synthetic model (Synth). The tables themselves are in families.py, the
families' metadata and blocks in blocks.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


# ---------------------------------------------------------------- shapes

@dataclass(frozen=True)
class Shape:
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    tied: bool
    n_vocab: int = 0  # 0: the vocabulary's size
    n_expert: int = 0       # a mixture of experts: n_ff is each expert's length
    n_expert_used: int = 0
    ssm: tuple = ()   # hybrids: (d_conv, head_dim, key heads, value heads); () derives them
    g4: "G4" = None    # gemma4's per-layer shapes (see G4); head_dim is the global layers'

    @property
    def q_dim(self):
        return self.n_head * self.head_dim

    @property
    def kv_dim(self):
        return self.n_head_kv * self.head_dim


@dataclass(frozen=True)
class Run:
    """One sequence the fixtures script evaluates: `n_tokens` seeded random
    token ids in a context of `n_ctx` (which chooses LongRoPE's factors), all
    positions' logits, and for `greedy` > 0 that many greedy tokens after the
    first `prompt` ids."""
    name: str
    n_ctx: int
    n_tokens: int
    prompt: int = 0
    greedy: int = 0


# ---------------------------------------------------------------- families

@dataclass(frozen=True)
class Family:
    arch: str                          # general.architecture
    vocab: str                         # models/ggml-vocab-<vocab>.gguf
    template: str | None               # models/templates/<template>
    meta: Callable[[Shape], dict]      # "<arch>.<key>": value (beyond the common ones)
    runs: tuple                        # the fixtures' sequences (Run)
    long_types: tuple = ("F32", "F16")  # weight types that also get the run named "long"
    rope_dims: Callable[[Shape], int] = lambda s: s.head_dim
    qk_norm: bool = False              # blk.N.attn_{q,k}_norm
    fused_qkv: bool = False            # blk.N.attn_qkv
    fused_gate_up: bool = False        # blk.N.ffn_up of 2*n_ff rows, no ffn_gate
    extra: Callable[[Shape, "Rng"], dict] = lambda s, r: {}  # global extra tensors
    logit_mul: float = 1.0             # the file divides logits by this much
    embd_gain: float = 1.0             # token embeddings' scale (Granite multiplies them by 12)
    moe: bool = False                  # ffn_gate_inp + ffn_{gate,up,down}_exps instead of the dense MLP
    oss: bool = False                  # gpt-oss: q/k/v/output, router and expert biases, attn_sinks,
                                       # post_attention_norm as the feed-forward's norm
    note: str = ""
    # A family whose blocks are not the llama block (hybrids): the tensors of
    # block i, as (name suffix, "mat" | "vd" | "f32", rows, cols, gain or a
    # function of (Rng, n) giving the values); replaces the dense block.
    block: Callable[[Shape, int], list] | None = None
    # Global tensors beyond the common ones, as `block`'s entries (after
    # token_embd): gemma4's per-layer-embedding tables.
    glob: Callable[[Shape], list] | None = None


@dataclass(frozen=True)
class Synth:
    name: str
    family: str
    wtype: str   # F32, F16, Q8_0, Q5_0, Q4_K_M
    shape: Shape
    seed: int
    # a mixture of experts' router logits per expert (see the note on the
    # router in writer.py)
    router_gain: float = 0.0
