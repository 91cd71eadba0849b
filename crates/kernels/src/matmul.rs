//! Matrix multiplication of a raw ggml weight matrix by quantized activations,
//! split across the thread pool in tiles of (output rows x activation rows).

use crate::{dot_fn, tiles, row_bytes, GgmlType, KernelError, QuantizedActs, ThreadPool};

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
    let tl = tiles(weight_ty);
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
        let r_start = at * ACT_TILE;
        let r_end = ((at + 1) * ACT_TILE).min(n_rows);
        let wr = |o: usize| &w[o * rb..(o + 1) * rb];
        let a4 = |r: usize| [acts.row(r), acts.row(r + 1), acts.row(r + 2), acts.row(r + 3)];
        let put = |r: usize, o: usize, v: f32| {
            assert!(r < n_rows && o < n_out);
            // SAFETY: r < n_rows and o < n_out (asserted), so the index is in bounds
            // of `out` (len n_rows*n_out, checked above); (r, o) belongs to this
            // task's tile only.
            unsafe { *optr.0.add(r * n_out + o) = v };
        };
        // Every output is one dot product with the same op order whichever tile
        // kernel computes it (see `Tiles`), so the tiling never changes results.
        let mut o = ot * oc;
        while o < o_end {
            let mut r = r_start;
            if o + 1 < o_end && tl.d21.is_some() {
                let ws = [wr(o), wr(o + 1)];
                if let Some(k) = tl.d24 {
                    while r + 4 <= r_end {
                        let v = k(ws, a4(r));
                        for j in 0..4 {
                            put(r + j, o, v[0][j]);
                            put(r + j, o + 1, v[1][j]);
                        }
                        r += 4;
                    }
                }
                if let Some(k) = tl.d21 {
                    for r in r..r_end {
                        let v = k(ws, acts.row(r));
                        put(r, o, v[0]);
                        put(r, o + 1, v[1]);
                    }
                }
                o += 2;
            } else {
                let w_row = wr(o);
                if let Some(k) = tl.d14 {
                    while r + 4 <= r_end {
                        let v = k(w_row, a4(r));
                        for j in 0..4 {
                            put(r + j, o, v[j]);
                        }
                        r += 4;
                    }
                }
                for r in r..r_end {
                    put(r, o, f(w_row, acts.row(r)));
                }
                o += 1;
            }
        }
    });
    Ok(())
}
