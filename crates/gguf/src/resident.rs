//! A model file's bytes copied into anonymous memory in 2 MB pages.
//!
//! Decoding one token reads every weight once, so its speed is the rate at
//! which memory streams. The same bytes can stream faster from anonymous
//! memory backed by transparent huge pages than from a mapped file's page
//! cache, whose pages are often 4 KB (a TLB miss every 4 KB) and scattered:
//! a plain two-thread read measured 28-30 GB/s from the mapped file against
//! 33-36 GB/s from such a copy, and the Llama-3.2-3B shape decoded about
//! 15 % faster (BENCHMARKS.md, tenth session). How much depends on how the
//! page cache happens to hold the file; the copy makes it the same every
//! time. The price is the copy at load and memory that cannot be dropped and
//! read again under pressure, which is why the engine copies only a model
//! that fits comfortably (`engine::load`).
//!
//! Huge pages are asked for with `madvise(MADV_HUGEPAGE)` (transparent huge
//! pages in `madvise` or `always` mode); where the kernel gives none the copy
//! is still ordinary anonymous memory. The bytes are read from the file
//! (`pread`), not through its map, so the process never holds both.

use std::fs::File;

/// Bytes held in a private anonymous mapping whose start is 2 MB aligned.
pub(crate) struct Resident {
    map: memmap2::MmapMut,
    off: usize,
    len: usize,
}

/// The size of a transparent huge page on x86-64 and most ARM64 kernels.
const HUGE: usize = 2 << 20;

impl Resident {
    /// The first `len` bytes of `file`, read by `threads` threads (`map`:
    /// the same bytes mapped, copied from where positioned reads are not
    /// available).
    pub(crate) fn read(
        file: &File,
        map: &[u8],
        len: usize,
        threads: usize,
    ) -> std::io::Result<Resident> {
        // one huge page more than needed so the start can be aligned; the
        // untouched rest never gets memory
        let mut region = memmap2::MmapMut::map_anon(len + HUGE)?;
        let off = (HUGE - region.as_ptr() as usize % HUGE) % HUGE;
        // Best effort: a kernel without transparent huge pages refuses the
        // advice, and the copy is then plain anonymous memory.
        let _ = region.advise(memmap2::Advice::HugePage);
        let chunk = len.div_ceil(threads.max(1)).next_multiple_of(HUGE);
        let dst = &mut region[off..off + len];
        std::thread::scope(|s| {
            let parts: Vec<_> = dst
                .chunks_mut(chunk)
                .enumerate()
                .map(|(i, d)| s.spawn(move || fill(file, map, i * chunk, d)))
                .collect();
            parts
                .into_iter()
                .try_for_each(|p| p.join().expect("a copying thread panicked"))
        })?;
        Ok(Resident {
            map: region,
            off,
            len,
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.map[self.off..self.off + self.len]
    }
}

/// `dst` ← the file's bytes from `at`.
#[cfg(unix)]
fn fill(file: &File, _map: &[u8], at: usize, dst: &mut [u8]) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.read_exact_at(dst, at as u64)
}

#[cfg(not(unix))]
fn fill(_file: &File, map: &[u8], at: usize, dst: &mut [u8]) -> std::io::Result<()> {
    dst.copy_from_slice(&map[at..at + dst.len()]);
    Ok(())
}
