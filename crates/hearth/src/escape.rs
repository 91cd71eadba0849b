//! Escape sequences in prompts typed on the command line, as llama.cpp's
//! `-p` processes them (`string_process_escapes` in its common/common.cpp):
//! `\n`, `\r`, `\t`, `\'`, `\"`, `\\` and `\xHH`; any other backslash stays
//! as it is. `--no-escape` keeps the text exactly as typed.

use crate::exit::UsageError;

/// `s` with its escape sequences processed; `what` names the flag in the
/// error when a `\xHH` makes the text invalid UTF-8.
pub fn process(s: &str, what: &str) -> Result<String, UsageError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        let simple = match c {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(x) = simple {
            out.push(x);
            i += 2;
            continue;
        }
        if c == b'x' && i + 3 < b.len() {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b'\\');
        out.push(c);
        i += 2;
    }
    String::from_utf8(out).map_err(|_| {
        UsageError(format!(
            "{what}: a \\x escape makes the text invalid UTF-8; write the character itself, or pass --no-escape"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::process;

    #[test]
    fn like_llama_cpp() {
        let p = |s: &str| process(s, "--prompt").unwrap();
        assert_eq!(p(r"Summarise:\n\n{{content}}"), "Summarise:\n\n{{content}}");
        assert_eq!(p(r"a\tb\rc\\n\'\x41\x4a"), "a\tb\rc\\n'AJ");
        assert_eq!(p(r#"say \"hi\""#), "say \"hi\"");
        // unknown escapes and a trailing backslash stay
        assert_eq!(p(r"C:\dir\q \x4 \xZZ end\"), r"C:\dir\q \x4 \xZZ end\");
        assert_eq!(p("é\\n"), "é\n");
        assert!(process(r"\xff", "--prompt").is_err());
    }
}
