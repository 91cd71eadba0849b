//! Matrix multiplication of a raw ggml weight matrix by quantized activations,
//! split across the thread pool in tiles of (output rows x activation rows).

use crate::formats::{kernels, DecodeFn, DecodeNFn, Dot14Fn, DotFn, PanelFn, Rows4Fn};
use crate::panel_cache::Panels;
use crate::{row_bytes, GgmlType, KernelError, PanelCache, QuantizedActs, ThreadPool};

/// Activation rows per tile: a weight row is dotted against this many
/// activation rows while it is hot in cache.
const ACT_TILE: usize = 8;
/// Tiles per thread along the output dimension (load balance on a shared box).
const TILES_PER_THREAD: usize = 8;
/// Weight bytes a row-by-row tile of several activation rows decodes per
/// chunk (every row against it while it is in L2: `run_tile`).
const DECODE_CHUNK_BYTES: usize = 128 << 10;

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

/// The part of a matmul one [`PanelFn`] call computes: `out[r * n_out + o]`
/// for weight rows `o in o0..o1` and activation rows `r in r0..r1`.
///
/// The contract a caller of a `PanelFn` keeps: `w` holds rows `0..o1` of `rb`
/// bytes (whole blocks of the format), `o0` is a multiple of the level's
/// `panel_rows` and `o1 - o0` of 4; activation row `r` (`r0 <= r < r1`, `r0 <
/// r1`) holds the matching blocks of the activation type at `a0 + r * stride`;
/// `out` holds `r1 * n_out` floats (`o1 <= n_out`) of which this call alone
/// writes the listed ones.
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the x86 kernels
pub(crate) struct Tile<'a> {
    pub(crate) w: &'a [u8],
    pub(crate) rb: usize,
    pub(crate) o0: usize,
    pub(crate) o1: usize,
    pub(crate) a0: *const u8,
    pub(crate) stride: usize,
    pub(crate) r0: usize,
    pub(crate) r1: usize,
    pub(crate) out: *mut f32,
    pub(crate) n_out: usize,
    /// The activations' identity ([`QuantizedActs::id`]).
    pub(crate) acts_id: u64,
}

impl Tile<'_> {
    /// What a kernel prepares from this tile's activation rows (`nb` blocks
    /// each) in its `variant` is keyed by. (The x86 tile kernels use it.)
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn prep_key(&self, nb: usize, variant: i64) -> PrepKey {
        PrepKey {
            acts: self.acts_id,
            r0: self.r0,
            r1: self.r1,
            nb,
            variant,
        }
    }
}

/// Which activation rows a tile kernel's per-thread preparation (regrouped
/// or widened copies of the rows) was made from, and how: the activations'
/// identity (new at each quantization), the rows, the blocks per row and the
/// kernel's own variant (e.g. its quant offset). Every tile of a product
/// takes all its activation rows, so a thread's later tiles of the same
/// product (or of another product on the same activations, as Q, K and V
/// are) find the preparation made and skip it: once per thread instead of
/// once per tile (8 per thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PrepKey {
    acts: u64,
    r0: usize,
    r1: usize,
    nb: usize,
    variant: i64,
}

impl PrepKey {
    /// `make()` (the thread's preparation of these rows) unless `made`
    /// already says it was made for this key; `made` holds no key while
    /// making (a panic in a tile leaves no key to a partial copy), this key
    /// after.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) fn make_once(self, made: &mut Option<PrepKey>, make: impl FnOnce()) {
        if *made == Some(self) {
            return;
        }
        *made = None;
        make();
        *made = Some(self);
    }
}

/// A checked job's kernels and tiling, ready to be split into tiles.
#[derive(Clone, Copy)]
struct Plan<'a> {
    dot: DotFn,
    dot_1x4: Option<Dot14Fn>,
    rows4: Option<Rows4Fn>,
    decode: Option<DecodeFn>,
    decode_n: Option<DecodeNFn>,
    /// The whole-tile kernel for this many activation rows (`few` or `panel`).
    tiles: Option<PanelFn>,
    /// Prebuilt panels, read by `tiles`.
    cache: Option<&'a Panels>,
    w: &'a [u8],
    rb: usize,
    n_out: usize,
    n_rows: usize,
    acts: &'a QuantizedActs,
    out: *mut f32,
    /// Output rows per tile, output tiles.
    oc: usize,
    out_tiles: usize,
    /// Activation rows per tile, activation tiles.
    act_tile: usize,
    act_tiles: usize,
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

/// Check job `j` and plan its tiles for `n_threads`, the job one of
/// `n_jobs` handed to the pool together (`None`: nothing to compute).
fn plan<'a>(
    n_threads: usize,
    n_jobs: usize,
    j: &'a mut MatmulJob<'_>,
) -> Result<Option<Plan<'a>>, KernelError> {
    let (weight_ty, w, n_out, k, acts) = (j.weight_ty, j.w, j.n_out, j.k, j.acts);
    let kern = kernels(weight_ty).ok_or(KernelError::Unsupported(weight_ty))?;
    if let Some(c) = j.cache {
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
    if j.out.len() != out_need {
        return Err(KernelError::Length {
            ty: GgmlType::F32,
            what: "output elements (n_rows*n_out)",
            expected: out_need,
            got: j.out.len(),
        });
    }
    if n_out == 0 || n_rows == 0 {
        return Ok(None);
    }
    let tiles = match (n_out >= 4, n_rows) {
        (true, r) if r >= kern.panel_from => kern.panel,
        (true, r) if r >= 2 => kern.few,
        _ => None,
    };
    // read only where this level's panel kernel runs (a cache built under
    // other settings is ignored: same results); with a cache the panel
    // kernel takes every product of 2 and more rows (same bits): below
    // `panel_from`, a format without a `few` kernel would otherwise read its
    // weights once per row (2 or 3 sequences decoding together in `serve`)
    let cache = j
        .cache
        .filter(|_| n_out >= 4 && n_rows >= 2 && kern.cache.is_some())
        .map(|c| &c.panels);
    let tiles = if cache.is_some() { kern.panel } else { tiles };
    // the tiles of all the jobs run together balance the threads: fewer
    // (longer weight streams) per job when there are several
    let per_job = (n_threads * TILES_PER_THREAD)
        .div_ceil(n_jobs.max(1))
        .max(n_threads);
    let out_chunks = n_out.min(per_job).max(1);
    let mut oc = n_out.div_ceil(out_chunks);
    let mut act_tile = ACT_TILE;
    if tiles.is_some() {
        // every activation row in one tile (each panel is built once per
        // tile), whole panels per tile
        oc = oc.next_multiple_of(kern.panel_rows);
        act_tile = n_rows;
    } else if kern.rows4.is_some() {
        oc = oc.next_multiple_of(4);
    }
    Ok(Some(Plan {
        dot: kern.dot,
        dot_1x4: kern.dot_1x4,
        rows4: kern.rows4,
        decode: kern.decode,
        decode_n: kern.decode_n,
        tiles,
        cache,
        w,
        rb,
        n_out,
        n_rows,
        acts,
        out: j.out.as_mut_ptr(),
        oc,
        out_tiles: n_out.div_ceil(oc),
        act_tile,
        act_tiles: n_rows.div_ceil(act_tile),
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
/// matrix (rows contiguous, any alignment). Each element is one dot product in
/// the op order of its format at this SIMD level (scalar reference:
/// [`crate::matmul_reference_raw`]) whatever `n_rows` or the tile kernel used,
/// so a row's result never depends on the batch around it.
pub fn matmul(
    pool: &ThreadPool,
    weight_ty: GgmlType,
    w: &[u8],
    n_out: usize,
    k: usize,
    acts: &QuantizedActs,
    out: &mut [f32],
) -> Result<(), KernelError> {
    matmul_multi(
        pool,
        &mut [MatmulJob {
            weight_ty,
            w,
            n_out,
            k,
            acts,
            out,
            cache: None,
        }],
    )
}

/// [`matmul`] on the calling thread alone, for small products computed
/// inside a pool task (e.g. a recurrent layer's per-head state products):
/// the same tiles and kernels as a one-thread pool, so the same bits as
/// [`matmul`] on any pool (each element is one dot product in its format's
/// op order).
pub fn matmul_serial(
    weight_ty: GgmlType,
    w: &[u8],
    n_out: usize,
    k: usize,
    acts: &QuantizedActs,
    out: &mut [f32],
) -> Result<(), KernelError> {
    let mut job = MatmulJob {
        weight_ty,
        w,
        n_out,
        k,
        acts,
        out,
        cache: None,
    };
    if let Some(p) = plan(1, 1, &mut job)? {
        for t in 0..p.n_tasks() {
            run_tile(&p, t);
        }
    }
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
        let group_len = group.len();
        let mut plans: [Option<Plan<'_>>; MAX_JOBS] = [None; MAX_JOBS];
        for (slot, j) in plans.iter_mut().zip(group.iter_mut()) {
            *slot = plan(pool.n_threads(), group_len, j)?;
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
        if n == 1 {
            pool.run(total, |t| run_tile(plans.get(0), t));
        } else {
            pool.run(total, |t| {
                let j = ends[..n].iter().position(|&e| t < e).unwrap();
                let start = if j == 0 { 0 } else { ends[j - 1] };
                run_tile(plans.get(j), t - start);
            });
        }
    }
    Ok(())
}

/// Compute tile `t` of plan `p`.
fn run_tile(p: &Plan<'_>, t: usize) {
    let (n_out, n_rows, rb, w, acts) = (p.n_out, p.n_rows, p.rb, p.w, p.acts);
    let (ot, at) = (t % p.out_tiles, t / p.out_tiles);
    let o_end = ((ot + 1) * p.oc).min(n_out);
    let r_start = at * p.act_tile;
    let r_end = ((at + 1) * p.act_tile).min(n_rows);
    let wr = |o: usize| &w[o * rb..(o + 1) * rb];
    let put = |r: usize, o: usize, v: f32| {
        assert!(r < n_rows && o < n_out);
        // SAFETY: r < n_rows and o < n_out (asserted), so the index is in bounds
        // of `out` (len n_rows*n_out, checked in `plan`); (r, o) belongs to this
        // task's tile only (see `Plans`).
        unsafe { *p.out.add(r * n_out + o) = v };
    };
    // Every output is one dot product with the same op order whichever
    // kernel computes it (see `crate::formats::Kernels`), so the tiling never
    // changes results.
    let mut o = ot * p.oc;
    if let Some(k) = p.tiles {
        let o1 = o + (o_end - o) / 4 * 4;
        assert!(r_end <= n_rows && o1 <= n_out);
        let tile = Tile {
            w,
            rb,
            o0: o,
            o1,
            a0: acts.bytes().as_ptr(),
            stride: acts.row_stride(),
            r0: r_start,
            r1: r_end,
            out: p.out,
            n_out,
            acts_id: acts.id(),
        };
        // SAFETY: `plan` took the kernel from the current SIMD level's set
        // (its features detected at runtime) for this weight type; the weight
        // matrix holds n_out rows of rb bytes, every activation row k elements
        // of the matching type (checked in `plan`); tiles start at multiples of
        // the level's `panel_rows` (`plan`); rows r_start..r_end x columns
        // o..o1 of `out` belong to this tile only (see `Plans`). A cache was
        // built from this matrix (checked in `plan`) by this level's spec.
        unsafe { k(&tile, p.cache) };
        o = o1;
    }
    if let Some(k) = p.decode {
        // One row: the tile's weights in one stream. Several (2 or 3
        // sequences, a mixture's expert with a few rows, without panels):
        // a chunk of weight rows at a time, every activation row against it
        // while it is in L2, so the weights come from memory once, not once
        // per activation row (a tile can be megabytes). Each output is the
        // same dot either way.
        let chunk = if r_end - r_start > 1 {
            (DECODE_CHUNK_BYTES / rb.max(1)).max(4)
        } else {
            usize::MAX
        };
        // (after whole panels nothing may be left: no call, whose row
        // kernels would lay out each activation row for no output)
        while o < o_end {
            let c1 = o_end.min(o.saturating_add(chunk));
            let row_out = |r: usize| {
                assert!(r < n_rows && c1 <= n_out);
                // SAFETY: (r, o..c1) lies in `out` (len n_rows*n_out, checked
                // in `plan`) and belongs to this task's tile only (see
                // `Plans`); each row's slice is made once per chunk.
                unsafe { std::slice::from_raw_parts_mut(p.out.add(r * n_out + o), c1 - o) }
            };
            let mut r = r_start;
            if let Some(kn) = p.decode_n {
                // up to 4 rows at a time, each weight row unpacked once
                while r_end - r >= 2 {
                    let m = (r_end - r).min(4);
                    let a: [&[u8]; 4] = std::array::from_fn(|i| acts.row(r + i.min(m - 1)));
                    let mut d: [&mut [f32]; 4] = [&mut [], &mut [], &mut [], &mut []];
                    for (i, d) in d.iter_mut().enumerate().take(m) {
                        *d = row_out(r + i);
                    }
                    // SAFETY: a kernel of the current level (see above); it
                    // checks the rows' lengths.
                    unsafe { kn(w, rb, o, c1, &a[..m], &mut d[..m]) };
                    r += m;
                }
            }
            for r in r..r_end {
                // SAFETY: a kernel of the current level (see above); it checks
                // the rows' lengths.
                unsafe { k(w, rb, o, c1, acts.row(r), row_out(r)) };
            }
            o = c1;
        }
        return;
    }
    if let Some(k4) = p.rows4 {
        // the rest in groups of 4 rows, then single rows (a row repeated 4
        // times: each row is computed on its own)
        while o < o_end {
            let m = if o + 4 <= o_end { 4 } else { 1 };
            let ws = if m == 4 {
                [wr(o), wr(o + 1), wr(o + 2), wr(o + 3)]
            } else {
                [wr(o); 4]
            };
            for r in r_start..r_end {
                // SAFETY: a kernel of the current level (see above); it checks
                // the rows' lengths.
                let v = unsafe { k4(ws, acts.row(r)) };
                for j in 0..m {
                    put(r, o + j, v[j]);
                }
            }
            o += m;
        }
        return;
    }
    for o in o..o_end {
        let mut r = r_start;
        if let Some(k) = p.dot_1x4 {
            while r + 4 <= r_end {
                let a4 = [
                    acts.row(r),
                    acts.row(r + 1),
                    acts.row(r + 2),
                    acts.row(r + 3),
                ];
                // SAFETY: as for `k4` above.
                let v = unsafe { k(wr(o), a4) };
                for j in 0..4 {
                    put(r + j, o, v[j]);
                }
                r += 4;
            }
        }
        for r in r..r_end {
            // SAFETY: as for `k4` above.
            put(r, o, unsafe { (p.dot)(wr(o), acts.row(r)) });
        }
    }
}
