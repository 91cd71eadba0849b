//! Keeping a model's scheduler alive through a bug: a panic while serving
//! ends the requests in hand (their event sinks are dropped with the
//! runner, so their clients get the scheduler's error), and a fresh runner
//! takes the queue. Without it one bad request left the model loaded with
//! a dead scheduler, refusing everyone until it was unloaded.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Calls `run_once` until it returns without panicking; each panic is
/// reported on stderr (its message only: never a prompt) as a bug of
/// `what`. Returns how many panics it survived.
pub(crate) fn restart_on_panic(what: &str, mut run_once: impl FnMut()) -> usize {
    let mut panics = 0;
    loop {
        match catch_unwind(AssertUnwindSafe(&mut run_once)) {
            Ok(()) => return panics,
            Err(p) => {
                panics += 1;
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                eprintln!(
                    "hearth: {what} hit a bug ({msg}) and restarted; the requests in progress ended with an error. Please report it."
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::restart_on_panic;

    #[test]
    fn panics_restart_and_a_normal_return_ends() {
        let mut calls = 0;
        let panics = restart_on_panic("a test", || {
            calls += 1;
            if calls < 3 {
                panic!("bug number {calls}");
            }
        });
        assert_eq!((calls, panics), (3, 2));
    }
}
