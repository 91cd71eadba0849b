//! Progress: a bar with done/total, tokens/s and ETA on a terminal; one
//! line per record otherwise (logs, CI, `2> file`); nothing with `--quiet`.

use crate::output::Record;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Instant;

pub trait Progress {
    /// `total` inputs to process in this run (already done ones excluded).
    fn start(&mut self, total: usize);
    /// One record written.
    fn record(&mut self, r: &Record);
    /// Something worth saying between records.
    fn note(&mut self, msg: &str);
    fn finish(&mut self);
}

/// Counts shared by the displays.
struct Tally {
    total: usize,
    done: usize,
    out_tokens: usize,
    started: Instant,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            total: 0,
            done: 0,
            out_tokens: 0,
            started: Instant::now(),
        }
    }
    fn tok_s(&self) -> f64 {
        self.out_tokens as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }
    fn eta(&self) -> String {
        if self.done == 0 {
            return "?".into();
        }
        let per = self.started.elapsed().as_secs_f64() / self.done as f64;
        crate::report::duration(per * (self.total.saturating_sub(self.done)) as f64)
    }
}

/// The terminal bar (indicatif, on standard error).
pub struct Bar {
    bar: ProgressBar,
    t: Tally,
}

impl Bar {
    pub fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} docs | {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Bar {
            bar,
            t: Tally::new(),
        }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&mut self, total: usize) {
        self.t = Tally::new();
        self.t.total = total;
        self.bar.set_length(total as u64);
        self.bar.set_message("starting");
    }
    fn record(&mut self, r: &Record) {
        self.t.done += 1;
        self.t.out_tokens += r.output_tokens;
        if let Some(e) = &r.error {
            self.bar.println(format!("failed: {}: {e}", r.id));
        }
        self.bar.set_position(self.t.done as u64);
        self.bar.set_message(format!(
            "{:.1} tok/s | ETA {}",
            self.t.tok_s(),
            self.t.eta()
        ));
    }
    fn note(&mut self, msg: &str) {
        self.bar.println(msg);
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// One line per record on standard error.
pub struct Lines {
    t: Tally,
}

impl Lines {
    pub fn new() -> Lines {
        Lines { t: Tally::new() }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl Progress for Lines {
    fn start(&mut self, total: usize) {
        self.t = Tally::new();
        self.t.total = total;
    }
    fn record(&mut self, r: &Record) {
        self.t.done += 1;
        self.t.out_tokens += r.output_tokens;
        let what = match &r.error {
            Some(e) => format!("failed: {e}"),
            None => format!(
                "{} in, {} out, {:.1} s, {}",
                r.prompt_tokens, r.output_tokens, r.seconds, r.finish_reason
            ),
        };
        eprintln!(
            "[{}/{}] {}: {what} | {:.1} tok/s | ETA {}",
            self.t.done,
            self.t.total,
            r.id,
            self.t.tok_s(),
            self.t.eta()
        );
    }
    fn note(&mut self, msg: &str) {
        eprintln!("{msg}");
    }
    fn finish(&mut self) {}
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&mut self, _: usize) {}
    fn record(&mut self, _: &Record) {}
    fn note(&mut self, _: &str) {}
    fn finish(&mut self) {}
}
