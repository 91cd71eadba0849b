//! A model file's bytes moved, while the model runs, from the file's map into
//! anonymous memory in 2 MB pages at the same addresses.
//!
//! Decoding one token reads every weight once, so its speed is the rate at
//! which memory streams. The same bytes streamed faster from anonymous memory
//! in transparent huge pages than from a mapped file's page cache: the
//! Llama-3.2-3B shape decoded 3-22 % faster depending on how the page cache
//! happened to hold the file (BENCHMARKS.md, tenth session); the copy makes
//! it the same every time.
//!
//! A copy made before the model starts costs its load 0.1-2 s (allocating
//! huge pages may wait for the kernel to compact memory), so the copy is made
//! in the background instead: the file is mapped at a 2 MB-aligned address,
//! the model reads it there at once, and a thread reads the file (`pread`)
//! into a fresh anonymous region advised `MADV_HUGEPAGE`, 8 MB at a time,
//! each piece moved by `mremap` over its part of the file's map as soon as
//! it is read (so the process holds little more than the file at any time).
//! Every address holds the same bytes before, during and after a move, so
//! readers never notice it; the kernel makes each move atomic for them (it
//! holds the address space's write lock while the map is replaced: a
//! concurrent page fault waits for it and then finds the new pages). Ranges
//! the caller names (tables read a row at a time) are left mapped, so only
//! their rows read become resident, as with the map alone. Linux only;
//! elsewhere the file stays mapped.
//!
//! The price is memory the kernel cannot drop and read again under pressure,
//! which is why the engine asks for it only for a model that fits
//! comfortably (`engine::load`).

use std::fs::File;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The size of a transparent huge page on x86-64 and most ARM64 kernels.
const HUGE: usize = 2 << 20;
/// Bytes read and moved at a time (a multiple of [`HUGE`]).
const PIECE: usize = 8 << 20;

/// Where the background copy is.
const MAPPED: u8 = 0;
const COPYING: u8 = 1;
const RESIDENT: u8 = 2;
const FAILED: u8 = 3;

/// A read-only view of a file's bytes at a 2 MB-aligned address, mapped
/// from the file and, once [`Placed::start_copy`] finishes, held in
/// anonymous memory at the same address.
pub(crate) struct Placed {
    addr: usize,
    len: usize,
    shared: Arc<Shared>,
    job: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: AtomicU8,
    cancel: AtomicBool,
}

impl Placed {
    /// Map the first `len` (> 0) bytes of `file` read-only at a 2 MB-aligned
    /// address.
    pub(crate) fn map(file: &File, len: usize) -> std::io::Result<Placed> {
        use std::os::fd::AsRawFd;
        let span = len + HUGE;
        // SAFETY: a new private reservation of `span` bytes that nothing
        // else refers to; checked for failure below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let base = base as usize;
        let addr = base.next_multiple_of(HUGE);
        // SAFETY: [addr, addr + len) lies inside the reservation just made
        // (addr - base < HUGE), which only this function knows of;
        // MAP_FIXED replaces that part of it with the file's pages.
        let got = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_FIXED,
                file.as_raw_fd(),
                0,
            )
        };
        let end = (addr + len).next_multiple_of(page_size());
        // SAFETY: the parts of the reservation before `addr` and after the
        // file's pages, which nothing uses.
        unsafe {
            if addr > base {
                libc::munmap(base as *mut libc::c_void, addr - base);
            }
            if base + span > end {
                libc::munmap(end as *mut libc::c_void, base + span - end);
            }
        }
        if got == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            // SAFETY: what is left of the reservation, unused.
            unsafe { libc::munmap(addr as *mut libc::c_void, end - addr) };
            return Err(e);
        }
        Ok(Placed {
            addr,
            len,
            shared: Arc::new(Shared {
                state: AtomicU8::new(MAPPED),
                cancel: AtomicBool::new(false),
            }),
            job: Mutex::new(None),
        })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: [addr, addr + len) stays mapped readable until drop, and
        // its bytes never change: they are the file's (which hearth never
        // writes while it is open), and the background copy only replaces
        // the pages under them with pages holding the same bytes.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }

    /// Start copying the bytes in `ranges` (from [`to_copy`]) into huge
    /// pages, by one thread in the background; a second call does nothing.
    pub(crate) fn start_copy(&self, file: File, ranges: Vec<Range<usize>>) {
        let mut job = self.job.lock().unwrap();
        if job.is_some() {
            return;
        }
        self.shared.state.store(COPYING, Ordering::SeqCst);
        let (addr, len, shared) = (self.addr, self.len, self.shared.clone());
        let spawned = std::thread::Builder::new()
            .name("hearth-weights-copy".into())
            .spawn(move || {
                let done = copy_in(&file, addr, len, &ranges, &shared.cancel);
                shared
                    .state
                    .store(if done { RESIDENT } else { FAILED }, Ordering::SeqCst);
            });
        match spawned {
            Ok(j) => *job = Some(j),
            // no thread to be had: the file stays mapped
            Err(_) => self.shared.state.store(FAILED, Ordering::SeqCst),
        }
    }

    /// Whether the bytes are held in anonymous memory now.
    pub(crate) fn is_resident(&self) -> bool {
        self.shared.state.load(Ordering::SeqCst) == RESIDENT
    }

    /// Whether a copy started and gave up (the file stays mapped).
    pub(crate) fn failed(&self) -> bool {
        self.shared.state.load(Ordering::SeqCst) == FAILED
    }

    /// Wait for a copy started to end; whether the bytes are resident.
    pub(crate) fn wait(&self) -> bool {
        if let Some(j) = self.job.lock().unwrap().take() {
            let _ = j.join();
        }
        self.is_resident()
    }
}

impl Drop for Placed {
    fn drop(&mut self) {
        // the copy must not move its pages here once the range is given back
        self.shared.cancel.store(true, Ordering::SeqCst);
        if let Some(j) = self.job.get_mut().unwrap().take() {
            let _ = j.join();
        }
        // SAFETY: the range this value mapped (file pages or, after the
        // move, the copy's), no longer borrowed (drop has `&mut self`).
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

/// The parts of `[0, len)` to copy: all but `skip`, each skipped range
/// shrunk to whole huge pages (so every byte outside `skip` is copied), as
/// sorted, disjoint ranges that start on a huge page and end on one or at
/// `len`.
pub(crate) fn to_copy(len: usize, skip: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut holes: Vec<Range<usize>> = skip
        .iter()
        .map(|r| r.start.next_multiple_of(HUGE)..(r.end.min(len) / HUGE) * HUGE)
        .filter(|r| r.start < r.end)
        .collect();
    holes.sort_by_key(|r| r.start);
    let mut out = Vec::new();
    let mut pos = 0;
    for h in holes {
        if h.start > pos {
            out.push(pos..h.start);
        }
        pos = pos.max(h.end);
    }
    if pos < len {
        out.push(pos..len);
    }
    out
}

/// Read the file's bytes in `ranges` (sorted, disjoint, starting on huge
/// pages, within `[0, len)`), 8 MB at a time, into a new anonymous region in
/// huge pages, each piece moved over its part of `[addr, addr + len)` as
/// soon as it is read (so the process never holds much more than the file:
/// the map's pages go as the copy's come); false when anything fails or
/// `cancel` is set first (the pieces moved stay, the rest stays mapped from
/// the file: the same bytes either way).
fn copy_in(
    file: &File,
    addr: usize,
    len: usize,
    ranges: &[Range<usize>],
    cancel: &AtomicBool,
) -> bool {
    use std::os::unix::fs::FileExt;
    let page = page_size();
    let len_r = len.next_multiple_of(page);
    let span = len_r + HUGE;
    // SAFETY: a new private region that nothing else refers to.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return false;
    }
    let base = base as usize;
    let at = base.next_multiple_of(HUGE);
    let release = |from: usize, to: usize| {
        if to > from {
            // SAFETY: a part of this function's own region that it no
            // longer uses and has not moved away.
            unsafe { libc::munmap(from as *mut libc::c_void, to - from) };
        }
    };
    // keep only [at, at + len_r): the region is then exactly the file's
    // offsets, and what is left of it from `pos` on is always its own
    release(base, at);
    release(at + len_r, base + span);
    // Best effort: without transparent huge pages the copy is plain
    // anonymous memory.
    // SAFETY: advice on this function's own region.
    unsafe { libc::madvise(at as *mut libc::c_void, len_r, libc::MADV_HUGEPAGE) };
    let mut pos = 0;
    for r in ranges {
        let end = r.end.next_multiple_of(page).min(len_r);
        // not copied: given back untouched
        release(at + pos, at + r.start);
        pos = r.start;
        while pos < end {
            let n = PIECE.min(end - pos);
            let bytes = n.min(len.saturating_sub(pos));
            // SAFETY: [at + pos, at + pos + n) is still this function's
            // region (everything before `pos` has been moved away or given
            // back, nothing after it), touched by nothing else.
            let dst = unsafe { std::slice::from_raw_parts_mut((at + pos) as *mut u8, bytes) };
            let ok = !cancel.load(Ordering::SeqCst)
                && file.read_exact_at(dst, pos as u64).is_ok()
                // SAFETY: the piece just filled, made read-only like the map
                // it replaces.
                && unsafe { libc::mprotect((at + pos) as *mut libc::c_void, n, libc::PROT_READ) } == 0
                && !cancel.load(Ordering::SeqCst);
            // SAFETY: moves the piece over its part of [addr, addr + len),
            // the map owned by the `Placed` this copy belongs to, which joins
            // this thread before it unmaps that range (and sets `cancel`
            // first, checked just above). Each address keeps the same bytes
            // (past the file's end both are zero), so slices borrowed from it
            // stay valid; the kernel replaces the map under the address
            // space's write lock.
            let ok = ok
                && unsafe {
                    libc::mremap(
                        (at + pos) as *mut libc::c_void,
                        n,
                        n,
                        libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                        (addr + pos) as *mut libc::c_void,
                    )
                } != libc::MAP_FAILED;
            if !ok {
                release(at + pos, at + len_r);
                return false;
            }
            pos += n;
        }
    }
    release(at + pos, at + len_r);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)]
    fn skipped_ranges_shrink_to_whole_huge_pages() {
        const M: usize = HUGE;
        let len = 10 * M + 5;
        assert_eq!(to_copy(len, &[]), vec![0..len]);
        // a table from 1.5 to 6.5 huge pages: pages 2..6 are skipped
        let s = M + M / 2..6 * M + M / 2;
        assert_eq!(
            to_copy(len, std::slice::from_ref(&s)),
            vec![0..2 * M, 6 * M..len]
        );
        // smaller than a huge page: nothing skipped
        assert_eq!(to_copy(len, &[M + 1..2 * M - 1]), vec![0..len]);
        // two, out of order, one reaching past the end, one at the start
        assert_eq!(
            to_copy(len, &[8 * M..len + M, 0..M]),
            vec![M..8 * M, 10 * M..len]
        );
        // overlapping skips merge
        assert_eq!(
            to_copy(len, &[2 * M..5 * M, 4 * M..7 * M]),
            vec![0..2 * M, 7 * M..len]
        );
        // everything skipped
        assert_eq!(to_copy(10 * M, &[0..10 * M]), Vec::<Range<usize>>::new());
    }
}
