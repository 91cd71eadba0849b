"""Weight types: the Q4_K and Q6_K quantizers, `encode` (any ggml type,
checked by dequantizing with gguf-py), and which types each file type
gives which tensors."""

from __future__ import annotations

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T


# ---------------------------------------------------------------- K-quants

def _f16(x):
    return x.astype(np.float16)


def quantize_q4_k(rows: np.ndarray) -> np.ndarray:
    """Q4_K blocks (ggml `block_q4_K`: d, dmin (f16), 12 bytes of 6-bit
    scales and mins, 128 bytes of nibbles) for float32 rows of a multiple of
    256: per 32-value sub-block scale = (max - min) / 15 and min = -min(x, 0),
    both quantized to 6 bits against the super-block's d and dmin."""
    x = rows.astype(np.float32).reshape(-1, 8, 32)
    nb = x.shape[0]
    mn = np.minimum(x.min(axis=2), np.float32(0))
    mx = x.max(axis=2)
    scale = (mx - mn) / np.float32(15)
    mins = -mn
    d = _f16(scale.max(axis=1) / np.float32(63))
    dmin = _f16(mins.max(axis=1) / np.float32(63))
    df, dminf = d.astype(np.float32), dmin.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(scale / df[:, None]), 0).clip(0, 63).astype(np.uint8)
        m = np.where(dminf[:, None] > 0, np.rint(mins / dminf[:, None]), 0).clip(0, 63).astype(np.uint8)
        dl = df[:, None] * sc.astype(np.float32)
        ml = dminf[:, None] * m.astype(np.float32)
        q = np.where(dl[:, :, None] > 0, np.rint((x + ml[:, :, None]) / dl[:, :, None]), 0)
    q = q.clip(0, 15).astype(np.uint8).reshape(nb, 4, 2, 32)
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << np.uint8(4))).reshape(nb, 128)
    scales = np.zeros((nb, 12), dtype=np.uint8)
    scales[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    scales[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    scales[:, 8:12] = (sc[:, 4:8] & 0xF) | ((m[:, 4:8] & 0xF) << 4)
    out = np.concatenate([d.view(np.uint8).reshape(nb, 2), dmin.view(np.uint8).reshape(nb, 2),
                          scales, qs], axis=1)
    return out.reshape(rows.shape[0], -1)


def quantize_q6_k(rows: np.ndarray) -> np.ndarray:
    """Q6_K blocks (ggml `block_q6_K`: 128 bytes of low nibbles, 64 of high
    bit pairs, 16 int8 scales, d (f16)): per 16-value sub-block scale =
    max|x| / 31, quantized to int8 against the super-block's d."""
    x = rows.astype(np.float32).reshape(-1, 16, 16)
    nb = x.shape[0]
    scale = np.abs(x).max(axis=2) / np.float32(31)
    d = _f16(scale.max(axis=1) / np.float32(127))
    df = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(df[:, None] > 0, np.rint(scale / df[:, None]), 0).clip(-128, 127)
        dl = df[:, None] * sc.astype(np.float32)
        q = np.where(dl[:, :, None] > 0, np.rint(x / dl[:, :, None]), 0)
    q = (q.clip(-32, 31) + 32).astype(np.uint8).reshape(nb, 2, 4, 32)  # [half][quarter][l]
    ql = np.concatenate([q[:, :, 0, :] & 0xF | ((q[:, :, 2, :] & 0xF) << 4),
                         q[:, :, 1, :] & 0xF | ((q[:, :, 3, :] & 0xF) << 4)], axis=2).reshape(nb, 128)
    qh = ((q[:, :, 0, :] >> 4) | ((q[:, :, 1, :] >> 4) << 2) | ((q[:, :, 2, :] >> 4) << 4)
          | ((q[:, :, 3, :] >> 4) << 6)).reshape(nb, 64)
    out = np.concatenate([ql, qh, sc.astype(np.int8).view(np.uint8), d.view(np.uint8).reshape(nb, 2)],
                         axis=1)
    return out.reshape(rows.shape[0], -1)


def encode(w: np.ndarray, ty: T) -> np.ndarray:
    """A [rows, cols] float32 matrix in type `ty`, checked by dequantizing it
    with gguf-py."""
    if ty == T.F32:
        return w.astype(np.float32)
    if ty == T.F16:
        return w.astype(np.float16)
    if ty == T.Q4_K:
        q = quantize_q4_k(w)
    elif ty == T.Q6_K:
        q = quantize_q6_k(w)
    else:
        q = gguf.quants.quantize(w, ty)
    back = gguf.quants.dequantize(q, ty).reshape(w.shape)
    err = np.abs(back - w).max() / max(np.abs(w).max(), 1e-30)
    limit = {T.Q8_0: 0.01, T.Q6_K: 0.04, T.Q5_0: 0.07, T.Q4_K: 0.12, T.MXFP4: 0.35}[ty]
    assert err < limit, (ty.name, err)
    return q


# ---------------------------------------------------------------- types per file

def weight_types(wtype: str):
    """(token_embd, output, default layer matrix, attn_v/ffn_down) types."""
    return {
        "F32": (T.F32, T.F32, T.F32, T.F32),
        "F16": (T.F16, T.F16, T.F16, T.F16),
        "Q8_0": (T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0),
        "Q5_0": (T.Q5_0, T.Q8_0, T.Q5_0, T.Q5_0),
        # llama-quantize's Q4_K_M recipe, roughly: Q6_K for the output and
        # the value / down projections, Q4_K elsewhere
        "Q4_K_M": (T.Q4_K, T.Q6_K, T.Q4_K, T.Q6_K),
        "MXFP4": (T.Q8_0, T.Q8_0, T.Q8_0, T.Q8_0),  # the experts: MXFP4 (expert_type)
    }[wtype]


def expert_type(wtype: str, default: T) -> T:
    """The experts' type: MXFP4 in an MXFP4 file (llama.cpp's MXFP4_MOE)."""
    return T.MXFP4 if wtype == "MXFP4" else default


FILE_TYPE = {"F32": 0, "F16": 1, "Q8_0": 7, "Q5_0": 8, "Q4_K_M": 15, "MXFP4": 38}
