//! Download progress: an indicatif bar (bytes, rate, ETA) on a terminal,
//! plain lines otherwise, nothing when quiet.

use crate::error::human_bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Quiet,
    Report,
}

/// What a [`Progress::reporting`] callback is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressEvent<'a> {
    /// A one-line message (what is happening, which source failed).
    Note(&'a str),
    /// A transfer's state: when it starts, then at most every 1 % or 250 ms,
    /// and when it reaches its total.
    Transfer {
        label: &'a str,
        total: Option<u64>,
        done: u64,
    },
}

/// The callback of [`Progress::reporting`].
pub type ReportFn = Box<dyn FnMut(ProgressEvent<'_>) + Send>;

pub struct Progress {
    mode: Mode,
    report: Option<ReportFn>,
    bar: Option<ProgressBar>,
    label: String,
    total: Option<u64>,
    pos: u64,
    start_pos: u64,
    started: Instant,
    last_line: Instant,
    next_pct: u64,
}

impl Progress {
    /// A bar when standard error is a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        Progress::with(if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        })
    }

    /// Silent (library users, tests).
    pub fn quiet() -> Progress {
        Progress::with(Mode::Quiet)
    }

    /// Every message and transfer state handed to `f` (e.g. an HTTP
    /// endpoint streaming a pull's progress), nothing printed.
    pub fn reporting(f: impl FnMut(ProgressEvent<'_>) + Send + 'static) -> Progress {
        let mut p = Progress::with(Mode::Report);
        p.report = Some(Box::new(f));
        p
    }

    fn with(mode: Mode) -> Progress {
        Progress {
            mode,
            report: None,
            bar: None,
            label: String::new(),
            total: None,
            pos: 0,
            start_pos: 0,
            started: Instant::now(),
            last_line: Instant::now(),
            next_pct: 10,
        }
    }

    /// Whether a live bar is drawn (standard error is a terminal).
    pub fn is_terminal(&self) -> bool {
        self.mode == Mode::Bar
    }

    /// A one-line message (what is happening, which source failed).
    pub fn note(&mut self, msg: &str) {
        if let Some(f) = self.report.as_mut() {
            return f(ProgressEvent::Note(msg));
        }
        match (&self.bar, self.mode) {
            (_, Mode::Quiet | Mode::Report) => {}
            (Some(b), _) => b.println(format!("hearth: {msg}")),
            (None, _) => eprintln!("hearth: {msg}"),
        }
    }

    /// Start a transfer of `total` bytes (if known), `pos` already done.
    pub fn start(&mut self, label: &str, total: Option<u64>, pos: u64) {
        self.finish();
        self.label = label.to_string();
        self.total = total;
        self.pos = pos;
        self.start_pos = pos;
        self.started = Instant::now();
        self.last_line = Instant::now();
        self.next_pct = 10;
        if let Some(f) = self.report.as_mut() {
            f(ProgressEvent::Transfer {
                label,
                total,
                done: pos,
            });
            self.next_pct = total.filter(|&t| t > 0).map_or(0, |t| pos * 100 / t + 1);
        }
        if self.mode == Mode::Bar {
            let b = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let style = if total.is_some() {
                "{msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
            } else {
                "{msg} {bytes} {binary_bytes_per_sec}"
            };
            b.set_style(
                ProgressStyle::with_template(style)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_message(label.to_string());
            b.set_position(pos);
            self.bar = Some(b);
        } else if self.mode == Mode::Lines {
            let of = total
                .map(|t| format!("{} in all", human_bytes(t)))
                .unwrap_or_else(|| "size unknown".into());
            let from = if pos > 0 {
                format!(", resuming at {}", human_bytes(pos))
            } else {
                String::new()
            };
            eprintln!("hearth: {label}: {of}{from}");
        }
    }

    pub fn inc(&mut self, n: u64) {
        self.pos += n;
        match self.mode {
            Mode::Bar => {
                if let Some(b) = &self.bar {
                    b.set_position(self.pos);
                }
            }
            Mode::Lines => {
                let pct = self.total.filter(|&t| t > 0).map(|t| self.pos * 100 / t);
                let due = match pct {
                    Some(p) => p >= self.next_pct,
                    None => self.last_line.elapsed().as_secs() >= 10,
                };
                if due {
                    if let Some(p) = pct {
                        self.next_pct = (p / 10 + 1) * 10;
                    }
                    self.last_line = Instant::now();
                    eprintln!("hearth: {}: {}", self.label, self.status());
                }
            }
            Mode::Report => {
                let pct = self.total.filter(|&t| t > 0).map(|t| self.pos * 100 / t);
                let at_end = self.total == Some(self.pos);
                if at_end
                    || pct.is_some_and(|p| p >= self.next_pct)
                    || self.last_line.elapsed().as_millis() >= 250
                {
                    self.next_pct = pct.map_or(0, |p| p + 1);
                    self.last_line = Instant::now();
                    let (label, total, done) = (&self.label, self.total, self.pos);
                    if let Some(f) = self.report.as_mut() {
                        f(ProgressEvent::Transfer { label, total, done });
                    }
                }
            }
            Mode::Quiet => {}
        }
    }

    fn status(&self) -> String {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = (self.pos - self.start_pos) as f64 / secs;
        match self.total {
            Some(t) => {
                let eta = if rate > 0.0 {
                    (t.saturating_sub(self.pos)) as f64 / rate
                } else {
                    0.0
                };
                format!(
                    "{} / {} ({}%), {}/s, ETA {:.0} s",
                    human_bytes(self.pos),
                    human_bytes(t),
                    self.pos * 100 / t.max(1),
                    human_bytes(rate as u64),
                    eta
                )
            }
            None => format!("{}, {}/s", human_bytes(self.pos), human_bytes(rate as u64)),
        }
    }

    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
