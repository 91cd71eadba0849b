//! Matrix multiplication of a raw ggml weight matrix by quantized activations,
//! split across the thread pool in tiles of (output rows x activation rows).

use crate::{
    dot_fn, row_bytes, tiles, DotFn, GgmlType, KernelError, PanelCache, QuantizedActs, ThreadPool,
    Tiles,
};

/// Activation rows per tile: a weight row is dotted against this many
/// activation rows while it is hot in cache.
const ACT_TILE: usize = 8;
/// Tiles per thread along the output dimension (load balance on a shared box).
const TILES_PER_THREAD: usize = 8;
/// Fewest activation rows for which the panel kernel (weight rows unpacked
/// once into a transposed scratch panel) is used.
const PANEL_MIN_ROWS: usize = 12;

/// One matrix product for [`matmul_multi`]: `out = acts · wᵀ` as in [`matmul`].
pub struct MatmulJob<'a> {
    pub weight_ty: GgmlType,
    /// Raw bytes of a `[n_out, k]` ggml weight matrix.
    pub w: &'a [u8],
    pub n_out: usize,
    pub k: usize,
    /// Activations quantized for `weight_ty` (`acts.k() == k`).
    pub acts: &'a QuantizedActs,
    /// `acts.n_rows() * n_out` outputs, row-major by activation row.
    pub out: &'a mut [f32],
    /// The matrix's prebuilt panels, if any ([`PanelCache::build`] on this
    /// `w`; an error if built from another matrix). Same results without.
    pub cache: Option<&'a PanelCache>,
}

/// A checked job, ready to be split into tiles.
#[derive(Clone, Copy)]
struct Plan<'a> {
    ty: GgmlType,
    f: DotFn,
    tl: Tiles,
    w: &'a [u8],
    rb: usize,
    n_out: usize,
    n_rows: usize,
    acts: &'a QuantizedActs,
    out: *mut f32,
    /// Output rows per tile, output tiles, activation tiles.
    oc: usize,
    out_tiles: usize,
    /// Activation rows per tile.
    act_tile: usize,
    act_tiles: usize,
    /// Prebuilt panels (only with the two-lane panel kernel of this level).
    cache: Option<&'a PanelCache>,
}

impl Plan<'_> {
    fn n_tasks(&self) -> usize {
        self.out_tiles * self.act_tiles
    }
}

/// Plans shared with the pool's tasks.
struct Plans<'a, 'b>(&'b [Plan<'a>]);
// SAFETY: tasks write disjoint elements of each plan's `out` (each (row, col)
// belongs to exactly one tile), and `run` returns only after all tasks finish,
// while the `&mut [f32]` borrows are still held by the caller.
unsafe impl Sync for Plans<'_, '_> {}

impl<'a> Plans<'a, '_> {
    /// (A method, so closures capture the `Sync` wrapper, not its field.)
    fn get(&self, i: usize) -> &Plan<'a> {
        &self.0[i]
    }
}

/// Check one job and plan its tiles (`None`: nothing to compute).
#[allow(clippy::too_many_arguments)]
fn plan<'a>(
    n_threads: usize,
    weight_ty: GgmlType,
    w: &'a [u8],
    n_out: usize,
    k: usize,
    acts: &'a QuantizedActs,
    out: &mut [f32],
    cache: Option<&'a PanelCache>,
) -> Result<Option<Plan<'a>>, KernelError> {
    let f = dot_fn(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    if let Some(c) = cache {
        if !c.matches(weight_ty, w, n_out, k) {
            return Err(KernelError::PanelCache(format!(
                "{c:?}, matrix {weight_ty} {n_out}x{k} of {} bytes",
                w.len()
            )));
        }
    }
    acts.check_for(weight_ty)?;
    if acts.k() != k {
        return Err(KernelError::Length {
            ty: acts.ty(),
            what: "activation row length k",
            expected: k,
            got: acts.k(),
        });
    }
    let rb = weight_row_bytes(weight_ty, w, n_out, k)?;
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
        return Ok(None);
    }
    let mut tl = tiles(weight_ty);
    // the two-lane panel (`rows4` set) pays from 4 activation rows on
    let min_rows = if tl.rows4.is_some() {
        4
    } else {
        PANEL_MIN_ROWS
    };
    if n_rows < min_rows || n_out < 4 {
        tl.panel = None;
        if n_rows >= 2 && n_out >= 4 {
            // a few rows: the format's few-rows kernel, if any, in the panel's place
            tl.panel = tl.few;
        }
    }
    let out_chunks = n_out.min(n_threads * TILES_PER_THREAD).max(1);
    let mut oc = n_out.div_ceil(out_chunks);
    let mut act_tile = ACT_TILE;
    if tl.panel.is_some() {
        // every activation row in one tile (the panel is built once per 4
        // weight rows), whole panels per tile
        // (Q4_0/Q5_0/Q8_0 on AVX2: the one-lane panels hold 8 rows)
        oc = oc.next_multiple_of(if tl.panel8 { 8 } else { 4 });
        act_tile = n_rows;
    } else if tl.rows4.is_some() {
        oc = oc.next_multiple_of(4);
    }
    Ok(Some(Plan {
        ty: weight_ty,
        f,
        tl,
        w,
        rb,
        n_out,
        n_rows,
        acts,
        out: out.as_mut_ptr(),
        oc,
        out_tiles: n_out.div_ceil(oc),
        act_tile,
        act_tiles: n_rows.div_ceil(act_tile),
        // read only where this level's panel kernels run (a cache built
        // under other settings is ignored: same results; for a K-quant, the
        // cached rows serve the few-rows case too, by `kpanel`: same bits)
        cache: cache.filter(|_| tl.panel.is_some() && crate::panel_cache::applies(weight_ty)),
    }))
}

/// The row bytes of the `[n_out, k]` weight matrix `w` of `ty`, checking that
/// `w` is exactly that matrix.
pub(crate) fn weight_row_bytes(
    ty: GgmlType,
    w: &[u8],
    n_out: usize,
    k: usize,
) -> Result<usize, KernelError> {
    let rb = row_bytes(ty, k)?;
    let need = rb.checked_mul(n_out).ok_or(KernelError::Length {
        ty,
        what: "weight bytes",
        expected: usize::MAX,
        got: w.len(),
    })?;
    if w.len() != need {
        return Err(KernelError::Length {
            ty,
            what: "weight matrix bytes (n_out*row)",
            expected: need,
            got: w.len(),
        });
    }
    Ok(rb)
}

/// `out[r * n_out + o] = dot(weight row o, activation row r)` for `o in 0..n_out`,
/// `r in 0..acts.n_rows()`. `w` is the raw bytes of a `[n_out, k]` ggml weight
/// matrix (rows contiguous, any alignment). Each element is computed with the
/// same accumulation order as `vec_dot` regardless of `n_rows` or the tile
/// kernel used, so a row's result never depends on the batch around it.
pub fn matmul(
    pool: &ThreadPool,
    weight_ty: GgmlType,
    w: &[u8],
    n_out: usize,
    k: usize,
    acts: &QuantizedActs,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let Some(p) = plan(pool.n_threads(), weight_ty, w, n_out, k, acts, out, None)? else {
        return Ok(());
    };
    let plans = [p];
    let plans = Plans(&plans);
    let plans = &plans;
    pool.run(p.n_tasks(), |t| run_tile(plans.get(0), t));
    Ok(())
}

/// Most jobs one [`matmul_multi`] call hands to the pool at once.
const MAX_JOBS: usize = 8;

/// Several independent matrix products (e.g. the Q, K and V projections, or an
/// MLP's gate and up) in one pass over the thread pool: one `run` and one
/// barrier instead of one per matrix, with the work of all of them balanced
/// across the threads. Results are bit-identical to calling [`matmul`] on each
/// job. Jobs may use different weight types and activations. All jobs are
/// checked before any is computed; no allocation.
pub fn matmul_multi(pool: &ThreadPool, jobs: &mut [MatmulJob<'_>]) -> Result<(), KernelError> {
    for group in jobs.chunks_mut(MAX_JOBS) {
        let mut plans: [Option<Plan<'_>>; MAX_JOBS] = [None; MAX_JOBS];
        for (slot, j) in plans.iter_mut().zip(group.iter_mut()) {
            *slot = plan(
                pool.n_threads(),
                j.weight_ty,
                j.w,
                j.n_out,
                j.k,
                j.acts,
                j.out,
                j.cache,
            )?;
        }
        let mut dense: [Option<Plan<'_>>; MAX_JOBS] = [None; MAX_JOBS];
        let mut ends = [0usize; MAX_JOBS];
        let (mut n, mut total) = (0, 0);
        for p in plans.iter().flatten() {
            total += p.n_tasks();
            dense[n] = Some(*p);
            ends[n] = total;
            n += 1;
        }
        if n == 0 {
            continue;
        }
        let firsts: [Plan<'_>; MAX_JOBS] = std::array::from_fn(|i| dense[i.min(n - 1)].unwrap());
        let plans = Plans(&firsts[..n]);
        let plans = &plans;
        pool.run(total, |t| {
            let j = ends[..n].iter().position(|&e| t < e).unwrap();
            let start = if j == 0 { 0 } else { ends[j - 1] };
            run_tile(plans.get(j), t - start);
        });
    }
    Ok(())
}

/// Compute tile `t` of plan `p`.
fn run_tile(p: &Plan<'_>, t: usize) {
    let (n_out, n_rows, rb, w, acts, tl, f) = (p.n_out, p.n_rows, p.rb, p.w, p.acts, p.tl, p.f);
    let (ot, at) = (t % p.out_tiles, t / p.out_tiles);
    let o_end = ((ot + 1) * p.oc).min(n_out);
    let r_start = at * p.act_tile;
    let r_end = ((at + 1) * p.act_tile).min(n_rows);
    let wr = |o: usize| &w[o * rb..(o + 1) * rb];
    let a4 = |r: usize| {
        [
            acts.row(r),
            acts.row(r + 1),
            acts.row(r + 2),
            acts.row(r + 3),
        ]
    };
    let put = |r: usize, o: usize, v: f32| {
        assert!(r < n_rows && o < n_out);
        // SAFETY: r < n_rows and o < n_out (asserted), so the index is in bounds
        // of `out` (len n_rows*n_out, checked in `plan`); (r, o) belongs to this
        // task's tile only (see `Plans`).
        unsafe { *p.out.add(r * n_out + o) = v };
    };
    // Every output is one dot product with the same op order whichever tile
    // kernel computes it (see `Tiles`), so the tiling never changes results.
    let mut o = ot * p.oc;
    if let Some(k) = tl.panel {
        let n4 = (o_end - o) / 4;
        assert!(r_end <= n_rows && o + 4 * n4 <= n_out);
        // SAFETY: `plan` picked a panel kernel only at the current SIMD level
        // (features checked at runtime) for this weight type; the weight matrix
        // holds n_out rows of rb bytes, every activation row k elements of the
        // matching type (checked in `plan`), and rows r_start..r_end x columns
        // o..o + 4 n4 of `out` belong to this tile only (see `Plans`). A cache
        // was built from this matrix (checked in `plan`) at this SIMD level
        // (`panel_cache::applies`): it holds the n_out / 4 panels `k` builds.
        unsafe {
            let (a0, stride) = (acts.bytes().as_ptr(), acts.row_stride());
            match p.cache {
                Some(c) => c.run(p.ty, w, rb, o, n4, a0, stride, r_start, r_end, p.out, n_out),
                _ => k(p.ty, w, rb, o, n4, a0, stride, r_start, r_end, p.out, n_out),
            }
        };
        o += 4 * n4;
    }
    if let Some(k4) = tl.rows4 {
        // two-lane format: the rest in groups of 4 rows, then single rows (a
        // row repeated 4 times: each lane is computed on its own)
        while o < o_end {
            let ws = if o + 4 <= o_end {
                [wr(o), wr(o + 1), wr(o + 2), wr(o + 3)]
            } else {
                [wr(o); 4]
            };
            let m = if o + 4 <= o_end { 4 } else { 1 };
            for r in r_start..r_end {
                let v = k4(ws, acts.row(r));
                for j in 0..m {
                    put(r, o + j, v[j]);
                }
            }
            o += m;
        }
        return;
    }
    while o < o_end {
        // two weight rows at a time where a 2-row kernel exists
        let m = if o + 1 < o_end && tl.d21.is_some() {
            2
        } else {
            1
        };
        let mut r = r_start;
        if let (2, Some(k)) = (m, tl.d24) {
            let ws = [wr(o), wr(o + 1)];
            while r + 4 <= r_end {
                let v = k(ws, a4(r));
                for j in 0..4 {
                    put(r + j, o, v[0][j]);
                    put(r + j, o + 1, v[1][j]);
                }
                r += 4;
            }
        } else if let Some(k) = tl.d14 {
            let r0 = r;
            for oo in o..o + m {
                r = r0;
                while r + 4 <= r_end {
                    let v = k(wr(oo), a4(r));
                    for j in 0..4 {
                        put(r + j, oo, v[j]);
                    }
                    r += 4;
                }
            }
        }
        match (m, tl.d21) {
            (2, Some(k)) => {
                let ws = [wr(o), wr(o + 1)];
                for r in r..r_end {
                    let v = k(ws, acts.row(r));
                    put(r, o, v[0]);
                    put(r, o + 1, v[1]);
                }
            }
            _ => {
                for oo in o..o + m {
                    for r in r..r_end {
                        put(r, oo, f(wr(oo), acts.row(r)));
                    }
                }
            }
        }
        o += m;
    }
}
