//! A persistent thread pool: workers are spawned once and then spin briefly /
//! park between jobs. `run(n, f)` hands out task indices through an atomic
//! counter; the caller works too and returns when every task has finished.
//!
//! Not re-entrant in the parallel sense: a `run` issued from inside a task (on
//! any pool) runs its tasks serially on the current thread, so nesting never
//! deadlocks. Concurrent `run` calls from different threads on the same pool are
//! serialized by a mutex.

use std::cell::Cell;
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

struct State {
    job: Option<JobPtr>,
    n_tasks: usize,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Bumped (under `state`) for every new job and on shutdown.
    generation: AtomicU64,
    /// Next task index to hand out.
    next: AtomicUsize,
    /// Tasks finished in the current job.
    done: AtomicUsize,
    /// Workers currently holding the job pointer.
    active: AtomicUsize,
    panicked: AtomicBool,
}

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

fn worker_loop(shared: Arc<Shared>) {
    IN_TASK.with(|c| c.set(true));
    let mut seen = 0u64;
    loop {
        let mut spins = 0;
        while shared.generation.load(Ordering::Acquire) == seen && spins < SPIN_ITERS {
            std::hint::spin_loop();
            spins += 1;
        }
        let (job, n_tasks) = {
            let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if st.shutdown {
                    return;
                }
                let g = shared.generation.load(Ordering::Acquire);
                if g != seen {
                    seen = g;
                    break;
                }
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            match st.job {
                // Registering while holding the lock: the caller clears `job`
                // under the same lock before waiting for `active` to reach 0.
                Some(j) => {
                    shared.active.fetch_add(1, Ordering::AcqRel);
                    (j, st.n_tasks)
                }
                None => continue,
            }
        };
        // SAFETY: `job` was taken while `state.job` was set; the caller does not
        // return (so the closure stays alive) until `active` drops back to 0.
        let f = unsafe { &*job.0 };
        work(&shared, f, n_tasks);
        shared.active.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ThreadPool {
    /// A pool of `n_threads` threads counting the caller (so `n_threads - 1`
    /// workers are spawned, once). `0` is treated as 1.
    pub fn new(n_threads: usize) -> Self {
        let n_threads = n_threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                job: None,
                n_tasks: 0,
                shutdown: false,
            }),
            wake: Condvar::new(),
            generation: AtomicU64::new(0),
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
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
    /// caller; returns when all are done. No allocation. If a task panics, the
    /// panic is re-raised here after all tasks have finished.
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
        // job has been withdrawn and no worker still holds it (`active == 0`).
        let ptr: *const (dyn Fn(usize) + Sync + 'static) =
            unsafe { std::mem::transmute(fref as *const (dyn Fn(usize) + Sync + '_)) };
        sh.next.store(0, Ordering::Relaxed);
        sh.done.store(0, Ordering::Relaxed);
        sh.panicked.store(false, Ordering::Relaxed);
        {
            let mut st = sh.state.lock().unwrap_or_else(|e| e.into_inner());
            st.job = Some(JobPtr(ptr));
            st.n_tasks = n_tasks;
            sh.generation.fetch_add(1, Ordering::AcqRel);
        }
        sh.wake.notify_all();

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
        // Withdraw the job so late-waking workers skip it, then wait for the
        // workers that did pick it up to let go of the pointer.
        sh.state.lock().unwrap_or_else(|e| e.into_inner()).job = None;
        while sh.active.load(Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        if sh.panicked.load(Ordering::Relaxed) {
            panic!("a ThreadPool task panicked");
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            st.shutdown = true;
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
        }
        self.shared.wake.notify_all();
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
