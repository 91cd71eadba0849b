//! A persistent thread pool: workers are spawned once and then spin briefly /
//! park between jobs. `run(n, f)` hands out task indices through an atomic
//! counter; the caller works too and returns when every task has finished.
//!
//! Not re-entrant in the parallel sense: a `run` issued from inside a task (on
//! any pool) runs its tasks serially on the current thread, so nesting never
//! deadlocks. Concurrent `run` calls from different threads on the same pool are
//! serialized by a mutex.

use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How long idle workers / the waiting caller spin before parking/yielding.
const SPIN_ITERS: u32 = 1 << 14;

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// A type-erased pointer to the caller's closure. Only dereferenced while the
/// caller is blocked in `run` (see the protocol in `ThreadPool::run`).
#[derive(Clone, Copy)]
struct JobPtr(*const (dyn Fn(usize) + Sync));
// SAFETY: the pointee is `Sync`, and `run` keeps it alive until every worker
// that obtained the pointer has announced it is done with it.
unsafe impl Send for JobPtr {}

/// Shared between the caller of `run` and the workers.
///
/// Protocol (all `generation`/`active`/`sleepers` accesses are `SeqCst`):
/// - `generation` is odd while a job is open, even otherwise. The caller writes
///   `job`/`n_tasks`, then bumps `generation` to odd (open); after every task is
///   done it bumps it to even (closed) and waits until `active == 0`.
/// - A worker that sees a new odd generation `g` increments `active`, then
///   re-reads `generation`: only if it is still `g` does it read `job`. So either
///   the close comes after that increment (and the caller waits for the worker),
///   or the worker sees the change and backs off without touching the job.
/// - Idle workers spin, then park on `wake`: they count themselves in
///   `sleepers` and re-check `generation` under `park`; the caller only takes
///   `park` and notifies when `sleepers > 0` (no syscall in the hot path).
struct Shared {
    job: UnsafeCell<Option<JobPtr>>,
    n_tasks: AtomicUsize,
    generation: AtomicU64,
    shutdown: AtomicBool,
    park: Mutex<()>,
    wake: Condvar,
    sleepers: AtomicUsize,
    /// Next task index to hand out.
    next: AtomicUsize,
    /// Tasks finished in the current job.
    done: AtomicUsize,
    /// Workers currently holding the job pointer.
    active: AtomicUsize,
    panicked: AtomicBool,
    /// Workers that have started (see `ThreadPool::new`).
    started: AtomicUsize,
}

// SAFETY: `job` is written only by the caller of `run` (serialized by
// `run_lock`) while no job is open and no worker is active, and read by workers
// only under the protocol above.
unsafe impl Sync for Shared {}

/// Persistent worker threads plus the calling thread.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    run_lock: Mutex<()>,
    n_threads: usize,
}

/// Physical-ish core count (`available_parallelism`, at least 1).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Run tasks `next..n_tasks` of a job, claiming indices atomically.
fn work(shared: &Shared, f: &(dyn Fn(usize) + Sync), n_tasks: usize) {
    loop {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= n_tasks {
            break;
        }
        if catch_unwind(AssertUnwindSafe(|| f(i))).is_err() {
            shared.panicked.store(true, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}

/// Whether generation `g` is an open job the worker has not handled yet.
#[inline]
fn is_new_job(g: u64, seen: u64) -> bool {
    g != seen && g & 1 == 1
}

fn worker_loop(shared: Arc<Shared>) {
    IN_TASK.with(|c| c.set(true));
    let sh = &*shared;
    sh.started.fetch_add(1, Ordering::SeqCst);
    let mut seen = 0u64;
    loop {
        // Wait for a new open job: spin, then park.
        let mut spins = 0;
        let g = loop {
            let g = sh.generation.load(Ordering::SeqCst);
            if is_new_job(g, seen) || sh.shutdown.load(Ordering::Relaxed) {
                break g;
            }
            if spins < SPIN_ITERS {
                std::hint::spin_loop();
                spins += 1;
                continue;
            }
            let mut guard = sh.park.lock().unwrap_or_else(|e| e.into_inner());
            sh.sleepers.fetch_add(1, Ordering::SeqCst);
            loop {
                let g = sh.generation.load(Ordering::SeqCst);
                if is_new_job(g, seen) || sh.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                guard = sh.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            sh.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(guard);
            spins = 0;
        };
        if sh.shutdown.load(Ordering::SeqCst) {
            return;
        }
        seen = g;
        sh.active.fetch_add(1, Ordering::SeqCst);
        if sh.generation.load(Ordering::SeqCst) == g {
            // SAFETY: the job of generation `g` is still open and we are counted
            // in `active`, so the caller keeps the closure alive and `job`
            // unchanged until we decrement `active` (see `Shared`).
            let (job, n_tasks) =
                unsafe { ((*sh.job.get()).unwrap(), sh.n_tasks.load(Ordering::Relaxed)) };
            // SAFETY: as above.
            let f = unsafe { &*job.0 };
            work(sh, f, n_tasks);
        }
        sh.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ThreadPool {
    /// A pool of `n_threads` threads counting the caller (so `n_threads - 1`
    /// workers are spawned, once). `0` is treated as 1.
    pub fn new(n_threads: usize) -> Self {
        let n_threads = n_threads.max(1);
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(None),
            n_tasks: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            park: Mutex::new(()),
            wake: Condvar::new(),
            sleepers: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            started: AtomicUsize::new(0),
        });
        let workers = (1..n_threads)
            .map(|i| {
                let s = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("hearth-worker-{i}"))
                    .spawn(move || worker_loop(s))
                    .expect("spawn worker thread")
            })
            .collect();
        // Wait until every worker runs: thread start-up allocates (std's
        // per-thread info), and that must not leak into the caller's first
        // jobs, which would otherwise run without the late worker.
        while shared.started.load(Ordering::SeqCst) < n_threads - 1 {
            std::thread::yield_now();
        }
        ThreadPool {
            shared,
            workers,
            run_lock: Mutex::new(()),
            n_threads,
        }
    }

    pub fn n_threads(&self) -> usize {
        self.n_threads
    }

    /// Run `f(i)` for every `i in 0..n_tasks` across the workers and the
    /// caller; returns when all are done. No allocation, no system call when
    /// the workers are spinning. If a task panics, the panic is re-raised here
    /// after all tasks have finished.
    pub fn run<F: Fn(usize) + Sync>(&self, n_tasks: usize, f: F) {
        if n_tasks == 0 {
            return;
        }
        if self.n_threads == 1 || n_tasks == 1 || IN_TASK.with(|c| c.get()) {
            for i in 0..n_tasks {
                f(i);
            }
            return;
        }
        let _guard = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        let sh = &*self.shared;
        let fref: &(dyn Fn(usize) + Sync) = &f;
        // SAFETY: erase the closure's lifetime; it outlives every use because
        // this function only returns after (1) all tasks are done and (2) the
        // job has been closed and no worker still holds it (`active == 0`).
        let ptr: *const (dyn Fn(usize) + Sync + 'static) =
            unsafe { std::mem::transmute(fref as *const (dyn Fn(usize) + Sync + '_)) };
        sh.next.store(0, Ordering::Relaxed);
        sh.done.store(0, Ordering::Relaxed);
        sh.panicked.store(false, Ordering::Relaxed);
        sh.n_tasks.store(n_tasks, Ordering::Relaxed);
        // SAFETY: no job is open (generation even) and `active == 0` (the
        // previous `run` waited for it), so no worker reads `job` now.
        unsafe { *sh.job.get() = Some(JobPtr(ptr)) };
        sh.generation.fetch_add(1, Ordering::SeqCst); // open (odd)
        if sh.sleepers.load(Ordering::SeqCst) > 0 {
            let _p = sh.park.lock().unwrap_or_else(|e| e.into_inner());
            sh.wake.notify_all();
        }

        IN_TASK.with(|c| c.set(true));
        work(sh, fref, n_tasks);
        IN_TASK.with(|c| c.set(false));

        let mut spins = 0u32;
        while sh.done.load(Ordering::Acquire) < n_tasks {
            if spins < SPIN_ITERS {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        // Close the job so late-waking workers skip it, then wait for the
        // workers that did pick it up to let go of the pointer.
        sh.generation.fetch_add(1, Ordering::SeqCst); // close (even)
        while sh.active.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
        // SAFETY: closed and no worker active: nobody reads `job`.
        unsafe { *sh.job.get() = None };
        if sh.panicked.load(Ordering::Relaxed) {
            panic!("a ThreadPool task panicked");
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        {
            let _p = self.shared.park.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_every_task_once() {
        for threads in [1, 2, 3, 5] {
            let pool = ThreadPool::new(threads);
            for n in [0usize, 1, 2, 3, 7, 100] {
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                for _ in 0..20 {
                    pool.run(n, |i| {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    });
                }
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 20),
                    "threads={threads} n={n}"
                );
            }
        }
    }

    #[test]
    fn nested_and_concurrent_runs() {
        let pool = Arc::new(ThreadPool::new(3));
        let total = AtomicUsize::new(0);
        pool.run(4, |_| {
            pool.run(3, |_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = Arc::clone(&pool);
                std::thread::spawn(move || {
                    let c = AtomicUsize::new(0);
                    for _ in 0..50 {
                        p.run(5, |_| {
                            c.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                    c.load(Ordering::Relaxed)
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 250);
        }
    }

    #[test]
    fn task_panic_propagates_and_pool_survives() {
        let pool = ThreadPool::new(2);
        let r = catch_unwind(AssertUnwindSafe(|| pool.run(8, |i| assert!(i != 5))));
        assert!(r.is_err());
        let c = AtomicUsize::new(0);
        pool.run(8, |_| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(c.load(Ordering::Relaxed), 8);
    }

    #[test]
    fn pool_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<ThreadPool>();
    }
}
