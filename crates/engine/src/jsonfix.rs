//! Finding a JSON object in free text (tool-call bodies, answers of a remote
//! endpoint that does not constrain its output).

/// The instruction JSON modes add to the conversation (server and batch).
pub const HINT: &str = "Respond only with a valid JSON object.";

/// The answer as a JSON object's text, if one can be found in it: as is,
/// inside code fences or chatter, cut short by a length limit (open
/// strings, arrays and objects are closed), or written JavaScript-style
/// (bare keys, single quotes, trailing commas), which small models do.
pub fn repair(text: &str) -> Option<String> {
    let t = text.trim();
    if is_object(t) {
        return Some(t.to_string());
    }
    let start = t.find('{')?;
    let body = &t[start..];
    find_object(body).or_else(|| {
        let relaxed = relax(body);
        if relaxed != body {
            find_object(&relaxed)
        } else {
            None
        }
    })
}

fn find_object(body: &str) -> Option<String> {
    // The longest prefix ending in '}' that parses.
    for (i, _) in body
        .match_indices('}')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let cand = &body[..=i];
        if is_object(cand) {
            return Some(cand.to_string());
        }
    }
    let closed = close(body);
    if is_object(&closed) {
        return Some(closed);
    }
    None
}

/// JavaScript-style object text towards JSON: bare keys quoted
/// (`{topic: 1}` → `{"topic": 1}`), single-quoted strings double-quoted,
/// trailing commas before `}` or `]` dropped.
fn relax(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 16);
    let mut i = 0;
    let mut quote: Option<char> = None;
    let mut esc = false;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if esc {
                esc = false;
                if !(q == '\'' && c == '\'') {
                    out.push('\\');
                }
                out.push(c);
            } else if c == '\\' {
                esc = true;
            } else if c == q {
                quote = None;
                out.push('"');
            } else if c == '"' {
                out.push_str("\\\"");
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                out.push('"');
                i += 1;
            }
            ',' => {
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                if !matches!(next, Some('}') | Some(']')) {
                    out.push(',');
                }
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_alphanumeric() || chars[j] == '_' || chars[j] == '$')
                {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                let next = chars[j..].iter().find(|c| !c.is_whitespace());
                let prev = out.trim_end().chars().last();
                if next == Some(&':') && matches!(prev, Some('{') | Some(',')) {
                    out.push('"');
                    out.push_str(&word);
                    out.push('"');
                } else {
                    out.push_str(&word);
                }
                i = j;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn is_object(s: &str) -> bool {
    matches!(
        serde_json::from_str::<serde_json::Value>(s),
        Ok(serde_json::Value::Object(_))
    )
}

/// Close the strings, arrays and objects a truncated JSON text left open.
fn close(s: &str) -> String {
    let mut stack = Vec::new();
    let mut in_str = false;
    let mut esc = false;
    for c in s.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            '}' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    let mut out = s.trim_end().to_string();
    if in_str {
        if esc {
            out.pop();
        }
        out.push('"');
    }
    let trimmed = out.trim_end();
    let mut out = trimmed.trim_end_matches([',', ':']).to_string();
    if out.ends_with(':') || trimmed.ends_with(':') {
        out.push_str(":null");
    }
    while let Some(c) = stack.pop() {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::repair;
    #[test]
    fn repairs() {
        assert_eq!(repair(" {\"a\": 1} ").unwrap(), "{\"a\": 1}");
        assert_eq!(
            repair("```json\n{\"a\": [1, 2]}\n```").unwrap(),
            "{\"a\": [1, 2]}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&repair("{\"a\": [1, \"b").unwrap()).is_ok()
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&repair("{\"a\": {\"b\": 2,").unwrap())
                .is_ok()
        );
        assert!(repair("no json here").is_none());
    }

    #[test]
    fn javascript_style_objects_are_relaxed_into_json() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(&repair(s).unwrap()).unwrap();
        assert_eq!(
            v("{topic:\"Arctic terns\", animal:false}"),
            serde_json::json!({"topic": "Arctic terns", "animal": false})
        );
        assert_eq!(
            v("Sure! {'a': 'it\\'s \"x\"', b: [1, 2,],}"),
            serde_json::json!({"a": "it's \"x\"", "b": [1, 2]})
        );
        // Words inside strings and values stay as they are.
        assert_eq!(
            v("{note: \"key: value, true\", ok: true}"),
            serde_json::json!({"note": "key: value, true", "ok": true})
        );
        assert!(repair("no object here").is_none());
    }
}
