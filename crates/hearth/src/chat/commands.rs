//! Slash commands: parsing, the sampling dials of `/set`, and "did you mean".

use engine::SamplingParams;

/// (name, arguments, what it does)
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("/help", "", "this list"),
    (
        "/set",
        "DIAL VALUE",
        "change a sampling dial (/set alone lists them)",
    ),
    (
        "/set system",
        "TEXT",
        "set the system message (no TEXT: remove it)",
    ),
    ("/show", "", "model, settings and how full the context is"),
    (
        "/model",
        "NAME",
        "switch to another model (a .gguf path), keeping the conversation",
    ),
    (
        "/clear",
        "",
        "start a new conversation (keeps the system message and settings)",
    ),
    ("/save", "NAME", "save the conversation"),
    (
        "/load",
        "NAME",
        "load a saved conversation (/load alone lists them)",
    ),
    ("/stats", "", "speed of the last answer"),
    ("/bye", "", "leave (also Ctrl-D, /exit, /quit)"),
];

const NAMES: &[&str] = &[
    "/help", "/set", "/show", "/model", "/clear", "/save", "/load", "/stats", "/bye", "/exit",
    "/quit",
];

#[derive(Debug, PartialEq)]
pub enum Cmd {
    Help,
    Set(String, String),
    SetList,
    Show,
    Model(String),
    Clear,
    Save(String),
    Load(String),
    Stats,
    Bye,
}

/// Parse a line starting with `/`. The error is the message to show.
pub fn parse(line: &str) -> Result<Cmd, String> {
    let line = line.trim();
    let (head, rest) = match line.find(char::is_whitespace) {
        Some(i) => (&line[..i], line[i..].trim()),
        None => (line, ""),
    };
    let need = |what: &str| -> Result<String, String> {
        if rest.is_empty() {
            Err(format!("{head} needs {what}"))
        } else {
            Ok(rest.to_string())
        }
    };
    Ok(match head {
        "/help" | "/?" | "/h" => Cmd::Help,
        "/set" => {
            if rest.is_empty() {
                Cmd::SetList
            } else {
                let (k, v) = match rest.find(char::is_whitespace) {
                    Some(i) => (&rest[..i], rest[i..].trim()),
                    None => (rest, ""),
                };
                Cmd::Set(k.to_string(), v.to_string())
            }
        }
        "/show" => Cmd::Show,
        "/model" => Cmd::Model(need("a model, e.g. /model ~/models/qwen.gguf")?),
        "/clear" => Cmd::Clear,
        "/save" => Cmd::Save(need("a name, e.g. /save notes")?),
        "/load" => Cmd::Load(rest.to_string()),
        "/stats" => Cmd::Stats,
        "/bye" | "/exit" | "/quit" => Cmd::Bye,
        _ => {
            let hint = match closest(head, NAMES) {
                Some(c) => format!("did you mean {c}? "),
                None => String::new(),
            };
            return Err(format!(
                "unknown command {head}; {hint}(/help lists the commands; to send a message starting with '/', begin it with a space)"
            ));
        }
    })
}

pub fn help_text() -> String {
    let mut s = String::from("Commands:\n");
    for (name, args, what) in COMMANDS {
        s.push_str(&format!(
            "  {:<22} {what}\n",
            format!("{name} {args}").trim_end()
        ));
    }
    s.push_str(
        "Type \"\"\" to start and end a multi-line message. Ctrl-C stops an answer; Ctrl-D leaves.",
    );
    s
}

/// Levenshtein distance.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&w, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
        .or_else(|| {
            candidates
                .iter()
                .find(|c| c.starts_with(&w) && w.len() >= 3)
                .copied()
        })
}

/// Per-answer settings a chat can change.
#[derive(Clone, Debug)]
pub struct Settings {
    pub sampling: SamplingParams,
    /// None: until the model stops or the context is full.
    pub max_tokens: Option<usize>,
}

/// (name, allowed values) of every dial `/set` knows.
pub const DIALS: &[(&str, &str)] = &[
    ("temperature", "a number >= 0 (0 = greedy)"),
    ("top_k", "a whole number >= 0 (0 = off)"),
    ("top_p", "a number from 0 to 1 (1 = off)"),
    ("min_p", "a number from 0 to 1 (0 = off)"),
    ("repeat_penalty", "a number > 0 (1 = off)"),
    ("presence_penalty", "a number from -2 to 2 (0 = off)"),
    ("frequency_penalty", "a number from -2 to 2 (0 = off)"),
    (
        "penalty_last_n",
        "a whole number >= 0 (tokens the penalties look back; 0 = off)",
    ),
    ("seed", "a whole number from 0 to 18446744073709551615"),
    ("max_tokens", "a whole number >= 1, or -1 for no limit"),
];

pub fn dials_text(s: &Settings) -> String {
    let mut out = String::from("Dials (/set NAME VALUE):\n");
    for (name, allowed) in DIALS {
        out.push_str(&format!(
            "  {:<18} {:<22} {allowed}\n",
            name,
            dial_value(s, name)
        ));
    }
    out.push_str("  system             /set system TEXT");
    out
}

pub fn dial_value(s: &Settings, name: &str) -> String {
    let p = &s.sampling;
    match name {
        "temperature" => p.temperature.to_string(),
        "top_k" => p.top_k.to_string(),
        "top_p" => p.top_p.to_string(),
        "min_p" => p.min_p.to_string(),
        "repeat_penalty" => p.repeat_penalty.to_string(),
        "presence_penalty" => p.presence_penalty.to_string(),
        "frequency_penalty" => p.frequency_penalty.to_string(),
        "penalty_last_n" => p.penalty_last_n.to_string(),
        "seed" => p.seed.to_string(),
        "max_tokens" => s.max_tokens.map_or("-1".into(), |n| n.to_string()),
        _ => String::new(),
    }
}

/// Apply `/set NAME VALUE` to a copy of `s`; the error says the allowed values.
pub fn set_dial(s: &Settings, name: &str, value: &str) -> Result<(Settings, &'static str), String> {
    let key = name.to_lowercase().replace('-', "_");
    let key = match key.as_str() {
        "temp" => "temperature".to_string(),
        "num_predict" | "n" | "max_tokens" => "max_tokens".to_string(),
        "repeat_last_n" => "penalty_last_n".to_string(),
        _ => key,
    };
    let Some(&(dial, allowed)) = DIALS.iter().find(|d| d.0 == key) else {
        let names: Vec<&str> = DIALS.iter().map(|d| d.0).chain(["system"]).collect();
        let hint = closest(&key, &names)
            .map(|c| format!("did you mean {c}? "))
            .unwrap_or_default();
        return Err(format!(
            "unknown setting '{name}'; {hint}settings: {}",
            names.join(", ")
        ));
    };
    if value.is_empty() {
        return Err(format!("/set {dial} needs a value: {allowed}"));
    }
    let bad = || format!("{dial} must be {allowed}; got '{value}'");
    let f = || {
        value
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(bad)
    };
    let u = || value.parse::<usize>().map_err(|_| bad());
    let mut n = s.clone();
    let p = &mut n.sampling;
    match dial {
        "temperature" => p.temperature = f()?,
        "top_k" => p.top_k = u()?,
        "top_p" => p.top_p = f()?,
        "min_p" => p.min_p = f()?,
        "repeat_penalty" => p.repeat_penalty = f()?,
        "presence_penalty" => p.presence_penalty = f()?,
        "frequency_penalty" => p.frequency_penalty = f()?,
        "penalty_last_n" => p.penalty_last_n = u()?,
        "seed" => p.seed = value.parse::<u64>().map_err(|_| bad())?,
        "max_tokens" => {
            n.max_tokens = match value.parse::<i64>() {
                Ok(-1) => None,
                Ok(v) if v >= 1 => Some(v as usize),
                _ => return Err(bad()),
            }
        }
        _ => unreachable!(),
    }
    if n.sampling.validate().is_err() {
        return Err(bad());
    }
    Ok((n, dial))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            sampling: SamplingParams::default(),
            max_tokens: None,
        }
    }

    #[test]
    fn parsing_and_suggestions() {
        assert_eq!(
            parse("/set temperature 0.3").unwrap(),
            Cmd::Set("temperature".into(), "0.3".into())
        );
        assert_eq!(
            parse("/set system You are  terse.").unwrap(),
            Cmd::Set("system".into(), "You are  terse.".into())
        );
        assert_eq!(parse("/bye").unwrap(), Cmd::Bye);
        let e = parse("/sav x").unwrap_err();
        assert!(e.contains("did you mean /save?"), "{e}");
        let e = parse("/stat").unwrap_err();
        assert!(
            e.contains("did you mean /stats?") || e.contains("/set"),
            "{e}"
        );
        let e = parse("/usr/bin/env").unwrap_err();
        assert!(!e.contains("did you mean"), "{e}");
        assert!(parse("/save").is_err());
    }

    #[test]
    fn dials() {
        let (s, _) = set_dial(&settings(), "temperature", "0.3").unwrap();
        assert_eq!(s.sampling.temperature, 0.3);
        let e = set_dial(&settings(), "top_p", "1.5").unwrap_err();
        assert!(e.contains("from 0 to 1") && e.contains("1.5"), "{e}");
        let e = set_dial(&settings(), "temperature", "hot").unwrap_err();
        assert!(e.contains(">= 0"), "{e}");
        let e = set_dial(&settings(), "temprature", "1").unwrap_err();
        assert!(e.contains("did you mean temperature?"), "{e}");
        let (s, _) = set_dial(&settings(), "max-tokens", "-1").unwrap();
        assert_eq!(s.max_tokens, None);
        assert!(set_dial(&settings(), "max_tokens", "0").is_err());
        assert!(set_dial(&settings(), "temperature", "NaN").is_err());
    }
}
