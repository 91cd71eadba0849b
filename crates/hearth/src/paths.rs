//! Where hearth keeps its files (XDG base directories):
//! - config: `$XDG_CONFIG_HOME/hearth/config.toml` (default `~/.config/hearth`)
//! - data: `$XDG_DATA_HOME/hearth` (default `~/.local/share/hearth`): chat
//!   history (`history`) and saved conversations (`conversations/NAME.json`).

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        // The spec says relative paths are invalid and must be ignored.
        Some(v) if PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("hearth")
}

pub fn config_file() -> PathBuf {
    config_dir().join("config.toml")
}

pub fn data_dir() -> PathBuf {
    xdg("XDG_DATA_HOME", ".local/share").join("hearth")
}

pub fn conversations_dir() -> PathBuf {
    data_dir().join("conversations")
}

pub fn history_file() -> PathBuf {
    data_dir().join("history")
}
