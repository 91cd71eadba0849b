//! Colour only for people: on when standard output is a terminal and
//! `NO_COLOR` is unset or empty (https://no-color.org), off otherwise.

use std::io::IsTerminal;

pub fn color_enabled() -> bool {
    std::io::stdout().is_terminal()
        && !matches!(std::env::var_os("NO_COLOR"), Some(v) if !v.is_empty())
}

#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Secondary information (status lines, stats).
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn error(&self, s: &str) -> String {
        self.wrap("31", s)
    }
}
