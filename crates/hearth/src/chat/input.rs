//! Where chat lines come from: a line editor with persistent history on a
//! terminal, plain lines otherwise.

use std::io::BufRead;
use std::path::PathBuf;

pub enum Read {
    Line(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D or end of input.
    Eof,
}

pub enum Input {
    Tty {
        ed: Box<rustyline::DefaultEditor>,
        history: PathBuf,
    },
    Plain(std::io::StdinLock<'static>),
}

impl Input {
    pub fn tty() -> anyhow::Result<Input> {
        let cfg = rustyline::Config::builder()
            .auto_add_history(false)
            .max_history_size(10_000)?
            .build();
        let mut ed = rustyline::DefaultEditor::with_config(cfg)?;
        let history = crate::paths::history_file();
        let _ = ed.load_history(&history);
        Ok(Input::Tty {
            ed: Box::new(ed),
            history,
        })
    }

    pub fn plain() -> Input {
        Input::Plain(std::io::stdin().lock())
    }

    pub fn read(&mut self, prompt: &str) -> anyhow::Result<Read> {
        match self {
            Input::Tty { ed, .. } => match ed.readline(prompt) {
                Ok(l) => Ok(Read::Line(l)),
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Read::Interrupted),
                Err(rustyline::error::ReadlineError::Eof) => Ok(Read::Eof),
                // The terminal went away.
                Err(rustyline::error::ReadlineError::Io(_)) => Ok(Read::Eof),
                Err(e) => Err(e.into()),
            },
            Input::Plain(r) => {
                let mut buf = Vec::new();
                if r.read_until(b'\n', &mut buf)? == 0 {
                    return Ok(Read::Eof);
                }
                let s = String::from_utf8(buf).map_err(|_| {
                    crate::exit::InputError("a line on standard input is not valid UTF-8; convert it to UTF-8 first (e.g. with iconv)".into())
                })?;
                let s = s.strip_suffix('\n').unwrap_or(&s);
                Ok(Read::Line(s.strip_suffix('\r').unwrap_or(s).to_string()))
            }
        }
    }

    /// Remember an entry (appended to the history file at once, so it
    /// survives a closed terminal).
    pub fn remember(&mut self, entry: &str) {
        if let Input::Tty { ed, history } = self {
            if entry.trim().is_empty() {
                return;
            }
            let _ = ed.add_history_entry(entry);
            if let Some(dir) = history.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = ed.append_history(history);
            // The history is private: readable by its owner only.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&*history, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

/// Read one message: a line, a `"""` block (possibly over many lines), or
/// pasted text with newlines. `None` at end of input.
pub fn read_message(input: &mut Input, prompt: &str, more: &str) -> anyhow::Result<Option<Read>> {
    let first = match input.read(prompt)? {
        Read::Line(l) => l,
        other => return Ok(Some(other)),
    };
    let t = first.trim_start();
    if let Some(after) = t.strip_prefix("\"\"\"") {
        // """ ... """ on one line.
        if let Some(body) = after.trim_end().strip_suffix("\"\"\"") {
            input.remember(&first);
            return Ok(Some(Read::Line(body.to_string())));
        }
        let mut lines = vec![after.to_string()];
        loop {
            match input.read(more)? {
                Read::Line(l) => {
                    if let Some(body) = l.trim_end().strip_suffix("\"\"\"") {
                        lines.push(body.to_string());
                        break;
                    }
                    lines.push(l);
                }
                Read::Interrupted => return Ok(Some(Read::Interrupted)),
                Read::Eof => break,
            }
        }
        let text = lines.join("\n");
        let text = text.strip_prefix('\n').unwrap_or(&text).to_string();
        input.remember(&format!("\"\"\"{}\"\"\"", lines.join("\n")));
        return Ok(Some(Read::Line(text)));
    }
    input.remember(&first);
    Ok(Some(Read::Line(first)))
}
