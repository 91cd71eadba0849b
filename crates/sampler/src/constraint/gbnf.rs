//! llama.cpp's GBNF grammars (the `grammar` field of llama-server, `--grammar-file`)
//! as llguidance Lark grammars.
//!
//! GBNF (llama.cpp `grammars/README.md`, parser in `src/llama-grammar.cpp`):
//! rules `name ::= alternatives`, a rule ending at a newline that is not
//! inside parentheses; string literals `"..."` and character classes
//! `[a-z]`, `[^"\\]` with the escapes `\n \r \t \\ \" \[ \] \- \xHH \uHHHH
//! \UHHHHHHHH`; `.` any character; `( ... )` groups; `* + ? {m} {m,} {m,n}`;
//! `# comments`; `<token>` / `<[id]>` tokens and `!<[id]>` any token but one;
//! `root` the start. Everything matches character by character with no
//! whitespace skipped, which Lark rules without `%ignore` do too.
//!
//! In Lark an uppercase name is a terminal (one lexeme, compiled to a regular
//! expression) and a lowercase one a context-free rule; llguidance is much
//! faster when character-level pieces are terminals (its `docs/syntax.md`),
//! so a GBNF rule that refers (directly or through others) to no
//! non-terminal rule and no token becomes a terminal, the rest rules — the
//! conversion llguidance's own `gbnf_to_lark.py` does. Rule names are
//! renamed (`json-value` → `json_value_3` / `JSON_VALUE_3`) since Lark's case
//! carries meaning.

use std::collections::HashMap;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the GBNF grammar is not valid: {msg} (line {line})")]
pub struct GbnfError {
    pub msg: String,
    pub line: usize,
}

#[derive(Clone, Debug)]
enum Node {
    Lit(String),
    /// Character class: negated, (first, last) ranges.
    Class(bool, Vec<(char, char)>),
    Any,
    Ref(String),
    /// `<...>` or `<[n]>` as llguidance writes them (already in Lark form).
    Token(String),
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Rep(Box<Node>, u64, Option<u64>),
}

/// Whether `text` is already llguidance Lark (`%llguidance` or a `start:` rule).
pub fn is_lark(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with("%llguidance")
            || t.strip_prefix("start")
                .is_some_and(|r| r.trim_start().starts_with(':'))
    })
}

/// The Lark form of a GBNF grammar.
pub fn to_lark(src: &str) -> Result<String, GbnfError> {
    let mut p = Parser {
        s: src.chars().collect(),
        pos: 0,
    };
    let mut rules: Vec<(String, Node)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    p.space(true);
    while p.pos < p.s.len() {
        let (name, body) = p.rule()?;
        match index.get(&name) {
            // a later definition replaces an earlier one, as in llama.cpp
            Some(&i) => rules[i].1 = body,
            None => {
                index.insert(name.clone(), rules.len());
                rules.push((name, body));
            }
        }
    }
    let Some(&root) = index.get("root") else {
        return Err(GbnfError {
            msg: "there is no `root` rule (the start of the grammar)".into(),
            line: 1,
        });
    };
    for (_, body) in &rules {
        let mut missing = None;
        visit_refs(body, &mut |r| {
            if !index.contains_key(r) && missing.is_none() {
                missing = Some(r.to_string());
            }
        });
        if let Some(m) = missing {
            return Err(GbnfError {
                msg: format!("rule `{m}` is used but never defined"),
                line: 1,
            });
        }
    }
    // Terminal rules: fixed point of "everything below is terminal".
    let mut terminal = vec![false; rules.len()];
    loop {
        let mut changed = false;
        for (i, (_, body)) in rules.iter().enumerate() {
            if i == root || terminal[i] {
                continue;
            }
            if is_terminal(body, &|r| terminal[index[r]]) {
                terminal[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let names: Vec<String> = rules
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            if i == root {
                return "start".to_string();
            }
            let mut s: String = n
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
                s.insert(0, 'r');
            }
            let s = format!("{s}_{i}");
            if terminal[i] {
                s.to_ascii_uppercase()
            } else {
                s
            }
        })
        .collect();
    let mut out = String::from("%llguidance {}\n\n");
    for (i, (_, body)) in rules.iter().enumerate() {
        let _ = write!(out, "{}: ", names[i]);
        emit(body, &mut out, true, &|r| names[index[r]].clone());
        out.push('\n');
    }
    Ok(out)
}

fn visit_refs(n: &Node, f: &mut impl FnMut(&str)) {
    match n {
        Node::Ref(r) => f(r),
        Node::Seq(v) | Node::Alt(v) => v.iter().for_each(|c| visit_refs(c, f)),
        Node::Rep(c, _, _) => visit_refs(c, f),
        _ => {}
    }
}

fn is_terminal(n: &Node, term: &dyn Fn(&str) -> bool) -> bool {
    match n {
        Node::Lit(_) | Node::Class(..) | Node::Any => true,
        Node::Token(_) => false,
        Node::Ref(r) => term(r),
        Node::Seq(v) | Node::Alt(v) => v.iter().all(|c| is_terminal(c, term)),
        Node::Rep(c, _, _) => is_terminal(c, term),
    }
}

fn atomic(n: &Node) -> bool {
    match n {
        Node::Seq(v) | Node::Alt(v) => v.len() == 1 && atomic(&v[0]),
        _ => true,
    }
}

/// A character inside a regex character class, escaped unless plainly safe.
fn class_char(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

fn emit(n: &Node, out: &mut String, top: bool, name: &dyn Fn(&str) -> String) {
    match n {
        Node::Lit(s) => out.push_str(&serde_json::Value::String(s.clone()).to_string()),
        Node::Class(neg, ranges) => {
            out.push_str("/[");
            if *neg {
                out.push('^');
            }
            for &(a, b) in ranges {
                class_char(a, out);
                if b != a {
                    out.push('-');
                    class_char(b, out);
                }
            }
            out.push_str("]/");
        }
        Node::Any => out.push_str("/(?s:.)/"),
        Node::Ref(r) => out.push_str(&name(r)),
        Node::Token(t) => out.push_str(t),
        Node::Seq(v) => {
            if v.is_empty() {
                out.push_str("\"\"");
            }
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                if matches!(c, Node::Alt(a) if a.len() > 1) {
                    out.push('(');
                    emit(c, out, false, name);
                    out.push(')');
                } else {
                    emit(c, out, false, name);
                }
            }
        }
        Node::Alt(v) => {
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(if top { "\n    | " } else { " | " });
                }
                emit(c, out, false, name);
            }
        }
        Node::Rep(c, min, max) => {
            let wrap = !atomic(c);
            if wrap {
                out.push('(');
            }
            emit(c, out, false, name);
            if wrap {
                out.push(')');
            }
            match (min, max) {
                (0, None) => out.push('*'),
                (1, None) => out.push('+'),
                (0, Some(1)) => out.push('?'),
                (m, Some(x)) if m == x => {
                    let _ = write!(out, "{{{m}}}");
                }
                (m, Some(x)) => {
                    let _ = write!(out, "{{{m},{x}}}");
                }
                (m, None) => {
                    let _ = write!(out, "{{{m},}}");
                }
            }
        }
    }
}

struct Parser {
    s: Vec<char>,
    pos: usize,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

impl Parser {
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, GbnfError> {
        let line = 1 + self.s[..self.pos.min(self.s.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count();
        Err(GbnfError {
            msg: msg.into(),
            line,
        })
    }

    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn space(&mut self, newline_ok: bool) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || (newline_ok && (c == '\r' || c == '\n')) {
                self.pos += 1;
            } else if c == '#' {
                while self.peek().is_some_and(|c| c != '\r' && c != '\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn name(&mut self) -> Result<String, GbnfError> {
        let start = self.pos;
        while self.peek().is_some_and(is_word) {
            self.pos += 1;
        }
        if self.pos == start {
            return self.err(format!(
                "expected a rule name, found {}",
                self.peek()
                    .map(|c| format!("{c:?}"))
                    .unwrap_or("the end".into())
            ));
        }
        Ok(self.s[start..self.pos].iter().collect())
    }

    fn rule(&mut self) -> Result<(String, Node), GbnfError> {
        let name = self.name()?;
        self.space(false);
        if self.s.get(self.pos..self.pos + 3) != Some(&[':', ':', '=']) {
            return self.err(format!("expected `::=` after the rule name `{name}`"));
        }
        self.pos += 3;
        self.space(true);
        let body = self.alternates(false)?;
        match self.peek() {
            Some('\r') | Some('\n') | None => {}
            Some(c) => return self.err(format!("unexpected {c:?} in rule `{name}`")),
        }
        self.space(true);
        Ok((name, body))
    }

    fn alternates(&mut self, nested: bool) -> Result<Node, GbnfError> {
        let mut alts = vec![self.sequence(nested)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            self.space(true);
            alts.push(self.sequence(nested)?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap()
        } else {
            Node::Alt(alts)
        })
    }

    fn hex(&mut self, n: usize) -> Result<char, GbnfError> {
        let digits: String = self
            .s
            .get(self.pos..self.pos + n)
            .unwrap_or(&[])
            .iter()
            .collect();
        let v = (digits.len() == n)
            .then(|| u32::from_str_radix(&digits, 16).ok())
            .flatten();
        match v.and_then(char::from_u32) {
            Some(c) => {
                self.pos += n;
                Ok(c)
            }
            None => self.err(format!("bad hexadecimal escape {digits:?}")),
        }
    }

    fn char(&mut self) -> Result<char, GbnfError> {
        let Some(c) = self.peek() else {
            return self.err("unexpected end of the grammar");
        };
        self.pos += 1;
        if c != '\\' {
            return Ok(c);
        }
        let Some(e) = self.peek() else {
            return self.err("unexpected end of the grammar after `\\`");
        };
        self.pos += 1;
        Ok(match e {
            'x' => self.hex(2)?,
            'u' => self.hex(4)?,
            'U' => self.hex(8)?,
            't' => '\t',
            'r' => '\r',
            'n' => '\n',
            '\\' | '"' | '[' | ']' | '-' => e,
            other => return self.err(format!("unknown escape `\\{other}`")),
        })
    }

    fn int(&mut self) -> Result<u64, GbnfError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let s: String = self.s[start..self.pos].iter().collect();
        match s.parse::<u64>() {
            Ok(n) if n <= 100_000 => Ok(n),
            Ok(_) => self.err("a repetition count past 100000"),
            Err(_) => self.err("expected a number"),
        }
    }

    fn sequence(&mut self, nested: bool) -> Result<Node, GbnfError> {
        let mut items: Vec<Node> = Vec::new();
        while let Some(c) = self.peek() {
            let node = match c {
                '"' => {
                    self.pos += 1;
                    let mut s = String::new();
                    while self.peek() != Some('"') {
                        if self.peek().is_none() {
                            return self.err("a string literal is not closed");
                        }
                        s.push(self.char()?);
                    }
                    self.pos += 1;
                    Node::Lit(s)
                }
                '[' => {
                    self.pos += 1;
                    let neg = self.peek() == Some('^');
                    if neg {
                        self.pos += 1;
                    }
                    let mut ranges = Vec::new();
                    while self.peek() != Some(']') {
                        if self.peek().is_none() {
                            return self.err("a character class is not closed");
                        }
                        let a = self.char()?;
                        let mut b = a;
                        if self.peek() == Some('-')
                            && self.s.get(self.pos + 1).is_some_and(|&c| c != ']')
                        {
                            self.pos += 1;
                            b = self.char()?;
                            if b < a {
                                return self.err(format!("the range {a:?}-{b:?} is reversed"));
                            }
                        }
                        ranges.push((a, b));
                    }
                    self.pos += 1;
                    if ranges.is_empty() && !neg {
                        return self.err("an empty character class matches nothing");
                    }
                    Node::Class(neg, ranges)
                }
                '.' => {
                    self.pos += 1;
                    Node::Any
                }
                '(' => {
                    self.pos += 1;
                    self.space(true);
                    let inner = self.alternates(true)?;
                    if self.peek() != Some(')') {
                        return self.err("expected `)`");
                    }
                    self.pos += 1;
                    inner
                }
                '<' | '!' => {
                    let not = c == '!';
                    if not {
                        self.pos += 1;
                    }
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c != '>') {
                        self.pos += 1;
                    }
                    if self.peek() != Some('>') {
                        return self.err("a `<token>` is not closed");
                    }
                    self.pos += 1;
                    let t: String = self.s[start..self.pos].iter().collect();
                    if not {
                        match t.strip_prefix("<[").and_then(|r| r.strip_suffix("]>")) {
                            Some(id) if id.parse::<u32>().is_ok() => {
                                Node::Token(format!("<[^{id}]>"))
                            }
                            _ => {
                                return self.err(format!(
                                "`!{t}`: only numeric tokens can be negated here (write `!<[ID]>`)"
                            ))
                            }
                        }
                    } else {
                        Node::Token(t)
                    }
                }
                c if is_word(c) => Node::Ref(self.name()?),
                '*' | '+' | '?' | '{' => {
                    let Some(last) = items.pop() else {
                        return self.err(format!("`{c}` with nothing to repeat"));
                    };
                    self.pos += 1;
                    let (min, max) = match c {
                        '*' => (0, None),
                        '+' => (1, None),
                        '?' => (0, Some(1)),
                        _ => {
                            self.space(nested);
                            let m = self.int()?;
                            self.space(nested);
                            match self.peek() {
                                Some('}') => {
                                    self.pos += 1;
                                    (m, Some(m))
                                }
                                Some(',') => {
                                    self.pos += 1;
                                    self.space(nested);
                                    let x = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                                        Some(self.int()?)
                                    } else {
                                        None
                                    };
                                    self.space(nested);
                                    if self.peek() != Some('}') {
                                        return self.err("expected `}`");
                                    }
                                    self.pos += 1;
                                    if x.is_some_and(|x| x < m) {
                                        return self
                                            .err("a repetition's maximum is below its minimum");
                                    }
                                    (m, x)
                                }
                                _ => return self.err("expected `,` or `}` in a repetition"),
                            }
                        }
                    };
                    Node::Rep(Box::new(last), min, max)
                }
                _ => break,
            };
            items.push(node);
            self.space(nested);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap()
        } else {
            Node::Seq(items)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_rules_terminals_and_escapes() {
        let g = r#"
# a list of answers
root ::= answer ("," ws answer)*   # several
answer ::= "yes" | "no" | num
num ::= [0-9]{1,3} ("." [0-9]+)?
ws ::= [ \t\n]*
"#;
        let l = to_lark(g).unwrap();
        assert!(l.contains("start: ANSWER_1 (\",\" WS_3 ANSWER_1)*"), "{l}");
        assert!(l.contains("NUM_2: /[0-9]/{1,3} (\".\" /[0-9]/+)?"), "{l}");
        assert!(l.contains("WS_3: /[\\x{20}\\x{9}\\x{A}]/*"), "{l}");
        // recursion stays a rule
        let l = to_lark("root ::= \"(\" root \")\" | \"x\"\n").unwrap();
        assert!(l.contains("start: \"(\" start \")\"\n    | \"x\""), "{l}");
        let l = to_lark("root ::= item+\nitem ::= \"[\" item* \"]\"\n").unwrap();
        assert!(l.contains("item_1: \"[\" item_1* \"]\""), "{l}");
        // escapes and any-char
        let l = to_lark("root ::= \"\\\"\\u00e9\" [^\"\\\\] .\n").unwrap();
        assert!(l.contains(r#""\"é" /[^\x{22}\x{5C}]/ /(?s:.)/"#), "{l}");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = to_lark("rot ::= \"a\"\n").unwrap_err();
        assert!(e.msg.contains("root"), "{e}");
        let e = to_lark("root ::= a\n").unwrap_err();
        assert!(e.msg.contains("`a`"), "{e}");
        let e = to_lark("root ::= \"a\nb ::= \"x\"").unwrap_err();
        assert!(e.to_string().contains("not closed"), "{e}");
        let e = to_lark("root = \"a\"\n").unwrap_err();
        assert!(e.to_string().contains("::="), "{e}");
        assert!(is_lark("%llguidance {}\nstart: \"a\"\n"));
        assert!(is_lark("start : /x/\n"));
        assert!(!is_lark("root ::= \"start: \"\n"));
    }
}
