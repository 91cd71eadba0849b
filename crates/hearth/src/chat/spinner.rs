//! A small spinner shown (on a terminal only) while the prompt is processed,
//! erased before the first character of the answer.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub struct Spinner {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Start after a short delay (fast prompts show nothing); `enabled` false → no-op.
    pub fn start(enabled: bool) -> Spinner {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = enabled.then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
                let mut shown = false;
                let mut i = 0;
                std::thread::sleep(Duration::from_millis(250));
                while !stop.load(Ordering::SeqCst) {
                    let mut e = std::io::stderr().lock();
                    let _ = write!(e, "\r{}", FRAMES[i % FRAMES.len()]);
                    let _ = e.flush();
                    shown = true;
                    i += 1;
                    drop(e);
                    std::thread::sleep(Duration::from_millis(80));
                }
                if shown {
                    let mut e = std::io::stderr().lock();
                    let _ = write!(e, "\r\x1b[K");
                    let _ = e.flush();
                }
            })
        });
        Spinner { stop, handle }
    }

    /// Stop and erase (idempotent).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
