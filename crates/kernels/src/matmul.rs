//! Matrix multiplication of a raw ggml weight matrix by quantized activations,
//! split across the thread pool in tiles of (output rows x activation rows).

use crate::{dot4_fn, dot_fn, row_bytes, GgmlType, KernelError, QuantizedActs, ThreadPool};

/// Activation rows per tile: a weight row is dotted against this many
/// activation rows while it is hot in cache.
const ACT_TILE: usize = 8;
/// Tiles per thread along the output dimension (load balance on a shared box).
const TILES_PER_THREAD: usize = 8;

struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint elements of `out` (each (row, col) belongs to
// exactly one tile), and `run` returns only after all tasks finish, while the
// `&mut [f32]` borrow is still held by `matmul`.
unsafe impl Sync for OutPtr {}

/// `out[r * n_out + o] = dot(weight row o, activation row r)` for `o in 0..n_out`,
/// `r in 0..acts.n_rows()`. `w` is the raw bytes of a `[n_out, k]` ggml weight
/// matrix (rows contiguous, any alignment). Each element is computed by the same
/// `vec_dot` with the same accumulation order regardless of `n_rows`, so a row's
/// result never depends on the batch around it.
pub fn matmul(
    pool: &ThreadPool,
    weight_ty: GgmlType,
    w: &[u8],
    n_out: usize,
    k: usize,
    acts: &QuantizedActs,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let f = dot_fn(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    let f4 = dot4_fn(weight_ty);
    acts.check_for(weight_ty)?;
    if acts.k() != k {
        return Err(KernelError::Length {
            ty: acts.ty(),
            what: "activation row length k",
            expected: k,
            got: acts.k(),
        });
    }
    let rb = row_bytes(weight_ty, k)?;
    let w_need = rb.checked_mul(n_out).ok_or(KernelError::Length {
        ty: weight_ty,
        what: "weight bytes",
        expected: usize::MAX,
        got: w.len(),
    })?;
    if w.len() != w_need {
        return Err(KernelError::Length {
            ty: weight_ty,
            what: "weight matrix bytes (n_out*row)",
            expected: w_need,
            got: w.len(),
        });
    }
    let n_rows = acts.n_rows();
    let out_need = n_rows.saturating_mul(n_out);
    if out.len() != out_need {
        return Err(KernelError::Length {
            ty: GgmlType::F32,
            what: "output elements (n_rows*n_out)",
            expected: out_need,
            got: out.len(),
        });
    }
    if n_out == 0 || n_rows == 0 {
        return Ok(());
    }

    let out_chunks = n_out.min(pool.n_threads() * TILES_PER_THREAD).max(1);
    let oc = n_out.div_ceil(out_chunks);
    let out_tiles = n_out.div_ceil(oc);
    let act_tiles = n_rows.div_ceil(ACT_TILE);
    let optr = OutPtr(out.as_mut_ptr());
    let optr = &optr;

    pool.run(out_tiles * act_tiles, |t| {
        let (ot, at) = (t % out_tiles, t / out_tiles);
        let o_end = ((ot + 1) * oc).min(n_out);
        let r_end = ((at + 1) * ACT_TILE).min(n_rows);
        for o in ot * oc..o_end {
            let w_row = &w[o * rb..(o + 1) * rb];
            let mut r0 = at * ACT_TILE;
            if let Some(f4) = f4 {
                while r0 + 4 <= r_end {
                    let v = f4(
                        w_row,
                        [acts.row(r0), acts.row(r0 + 1), acts.row(r0 + 2), acts.row(r0 + 3)],
                    );
                    for (j, v) in v.into_iter().enumerate() {
                        // SAFETY: as below, (r0 + j, o) is in bounds and this task's own.
                        unsafe { *optr.0.add((r0 + j) * n_out + o) = v };
                    }
                    r0 += 4;
                }
            }
            for r in r0..r_end {
                let v = f(w_row, acts.row(r));
                // SAFETY: r < n_rows and o < n_out so the index is in bounds of
                // `out` (len n_rows*n_out, checked above); this (r, o) pair is
                // written by this task only.
                unsafe { *optr.0.add(r * n_out + o) = v };
            }
        }
    });
    Ok(())
}
