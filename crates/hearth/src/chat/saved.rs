//! Saved conversations: `conversations/NAME.json` in the data directory,
//! written atomically (temporary file, fsync, rename).

use engine::Message;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "hearth-conversation";

#[derive(Debug, Serialize, Deserialize)]
pub struct MessageJson {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub format: String,
    pub version: u32,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    pub messages: Vec<MessageJson>,
}

impl Saved {
    pub fn new(model: &str, system: Option<&str>, messages: &[Message]) -> Saved {
        Saved {
            format: FORMAT.into(),
            version: 1,
            model: Some(model.to_string()),
            system: system.map(str::to_string),
            messages: messages
                .iter()
                .map(|m| MessageJson {
                    role: m.role.clone(),
                    content: m.content.clone(),
                })
                .collect(),
        }
    }
    pub fn messages(&self) -> Vec<Message> {
        self.messages
            .iter()
            .map(|m| Message::new(m.role.clone(), m.content.clone()))
            .collect()
    }
}

/// Check a conversation name: letters, digits, `-`, `_`, `.`; no leading dot.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("give a name, e.g. /save notes".into());
    }
    if name.len() > 100
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "'{name}' is not a usable name: use letters, digits, '-', '_' and '.' (not first), at most 100 characters"
        ));
    }
    Ok(())
}

pub fn path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

pub fn save(dir: &Path, name: &str, conv: &Saved) -> Result<PathBuf, String> {
    check_name(name)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = path_in(dir, name);
    let tmp = dir.join(format!(".{name}.json.tmp{}", std::process::id()));
    let json = serde_json::to_string_pretty(conv).expect("serializable");
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        // Conversations are private: readable by their owner only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(json.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })?;
    Ok(path)
}

pub fn load(dir: &Path, name: &str) -> Result<Saved, String> {
    check_name(name)?;
    let path = path_in(dir, name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let names = list(dir);
            let have = if names.is_empty() {
                "none saved yet".to_string()
            } else {
                format!("saved: {}", names.join(", "))
            };
            return Err(format!(
                "no saved conversation named '{name}' ({}; {have})",
                path.display()
            ));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let corrupt = |why: String| {
        format!(
            "{} is corrupt ({why}); nothing was loaded and the current conversation is unchanged",
            path.display()
        )
    };
    let conv: Saved = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if conv.format != FORMAT {
        return Err(corrupt(format!(
            "format is '{}', expected '{FORMAT}'",
            conv.format
        )));
    }
    if conv.version != 1 {
        return Err(corrupt(format!(
            "version {} is not one this hearth reads (1)",
            conv.version
        )));
    }
    for (i, m) in conv.messages.iter().enumerate() {
        if !["user", "assistant", "system"].contains(&m.role.as_str()) {
            return Err(corrupt(format!(
                "message {} has role '{}'; expected user, assistant or system",
                i + 1,
                m.role
            )));
        }
    }
    Ok(conv)
}

/// Names of the saved conversations, sorted.
pub fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".json"))
                        .map(str::to_string)
                })
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let msgs = vec![Message::user("hi"), Message::assistant("hello")];
        save(d.path(), "a", &Saved::new("m.gguf", Some("sys"), &msgs)).unwrap();
        let c = load(d.path(), "a").unwrap();
        assert_eq!(c.messages(), msgs);
        assert_eq!(c.system.as_deref(), Some("sys"));
        assert_eq!(list(d.path()), vec!["a".to_string()]);
        std::fs::write(d.path().join("b.json"), "{\"format\": \"hearth-conv").unwrap();
        let e = load(d.path(), "b").unwrap_err();
        assert!(e.contains("corrupt") && e.contains("b.json"), "{e}");
        let e = load(d.path(), "zz").unwrap_err();
        assert!(
            e.contains("no saved conversation") && e.contains("a, b"),
            "{e}"
        );
        assert!(check_name("../x").is_err());
        assert!(check_name(".x").is_err());
    }
}
