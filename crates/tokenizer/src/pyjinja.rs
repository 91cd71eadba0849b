//! What Python's Jinja2 (as Hugging Face transformers sets it up for chat
//! templates) prints differently from minijinja, made to match:
//!
//! - `{{ x }}` writes Python's `str(x)`: `None`, `True`/`False`, floats as
//!   `repr`, lists and dicts as their Python repr (`['a', 1]`, `{'k': None}`);
//! - `tojson` is transformers' override, `json.dumps(x, ensure_ascii=False,
//!   indent=None, separators=None, sort_keys=False)` with those keyword
//!   arguments (Python's spacing: `", "` and `": "`; no HTML escaping).
//!
//! Facts from CPython's `json` encoder and `repr` rules; the code is ours.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Error, ErrorKind, Output, State};
use std::fmt::Write;

/// Sets `env` up to behave as transformers' Jinja2 environment does in
/// the ways listed above (the caller sets trim_blocks, lstrip_blocks and the
/// globals).
pub(crate) fn install(env: &mut minijinja::Environment<'_>) {
    use minijinja::filters as f;
    use std::borrow::Cow;
    env.set_formatter(format);
    env.add_filter("tojson", tojson);
    env.add_filter("string", string);
    env.add_filter("map", |s: &State, v: Value, a: Rest<Value>| {
        f::map(s, v, a).map(generator)
    });
    env.add_filter(
        "select",
        |s: &State, v: Value, t: Option<Cow<'_, str>>, a: Rest<Value>| {
            f::select(s, v, t, a).map(generator)
        },
    );
    env.add_filter(
        "reject",
        |s: &State, v: Value, t: Option<Cow<'_, str>>, a: Rest<Value>| {
            f::reject(s, v, t, a).map(generator)
        },
    );
    env.add_filter(
        "selectattr",
        |s: &State, v: Value, at: Cow<'_, str>, t: Option<Cow<'_, str>>, a: Rest<Value>| {
            f::selectattr(s, v, at, t, a).map(generator)
        },
    );
    env.add_filter(
        "rejectattr",
        |s: &State, v: Value, at: Cow<'_, str>, t: Option<Cow<'_, str>>, a: Rest<Value>| {
            f::rejectattr(s, v, at, t, a).map(generator)
        },
    );
    env.add_test("iterable", is_iterable);
    env.add_test("sequence", is_sequence);
}

/// transformers' `{% generation %}...{% endgeneration %}` (its
/// AssistantTracker extension, which marks assistant text for training
/// masks) renders its body unchanged; minijinja has no such tag, so each
/// becomes `{% if true %}`/`{% endif %}` with the same whitespace control.
pub(crate) fn rewrite_generation_tags(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("generation") {
        return src.into();
    }
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(p) = rest.find("{%") {
        out.push_str(&rest[..p]);
        let tag = &rest[p..];
        // the closing `%}` after the opening `{%` (in `{%}` they overlap)
        let end = tag[2..].find("%}").map(|e| e + 4);
        let rewritten = end.and_then(|e| {
            let inner = &tag[2..e - 2];
            let (open, inner) = match inner.strip_prefix(['-', '+']) {
                Some(i) => (&inner[..1], i),
                None => ("", inner),
            };
            let (inner, close) = match inner.strip_suffix(['-', '+']) {
                Some(i) => (i, &inner[inner.len() - 1..]),
                None => (inner, ""),
            };
            let word = match inner.trim() {
                "generation" => "if true",
                "endgeneration" => "endif",
                _ => return None,
            };
            Some((format!("{{%{open} {word} {close}%}}"), e))
        });
        match rewritten {
            Some((t, e)) => {
                out.push_str(&t);
                rest = &tag[e..];
            }
            None => {
                out.push_str("{%");
                rest = &tag[2..];
            }
        }
    }
    out.push_str(rest);
    out.into()
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Python's `float.__repr__`: the shortest digits that round-trip, in fixed
/// notation when the exponent is in [-4, 16), else `d.ddde+XX`.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits too: "1.5e-7", "-2e16"
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    let (sign, mant) = match mant.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let s = if exp < 0 {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        } else if exp + 1 >= n {
            format!("{digits}{}.0", "0".repeat((exp + 1 - n) as usize))
        } else {
            let (a, b) = digits.split_at((exp + 1) as usize);
            format!("{a}.{b}")
        };
        format!("{sign}{s}")
    } else {
        let (a, b) = digits.split_at(1);
        let frac = if b.is_empty() {
            String::new()
        } else {
            format!(".{b}")
        };
        let es = if exp < 0 { '-' } else { '+' };
        format!("{sign}{a}{frac}e{es}{:02}", exp.abs())
    }
}

fn number_str(v: &Value) -> String {
    if v.is_integer() {
        v.to_string()
    } else {
        match f64::try_from(v.clone()) {
            Ok(f) => float_repr(f),
            Err(_) => v.to_string(),
        }
    }
}

/// `str.isprintable()` closely enough for repr: control, format, private
/// use, unassigned code points and whitespace other than the space are not.
fn printable(c: char) -> bool {
    use crate::unicode::{flags, F_CONTROL, F_LETTER, F_MARK, F_NUMBER, F_PUNCT, F_SYMBOL, F_WS};
    if c == ' ' {
        return true;
    }
    let f = flags(c);
    f & (F_CONTROL | F_WS) == 0 && f & (F_LETTER | F_MARK | F_NUMBER | F_PUNCT | F_SYMBOL) != 0
}

/// Python's `repr(str)`.
fn str_repr(s: &str, out: &mut String) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if printable(c) => out.push(c),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(q);
}

/// Python's `repr` of a template value (what `str()` gives inside a list or dict).
fn repr(v: &Value, out: &mut String) -> Result<(), Error> {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("None"),
        ValueKind::Bool => out.push_str(if v.is_true() { "True" } else { "False" }),
        ValueKind::Number => out.push_str(&number_str(v)),
        ValueKind::String => str_repr(v.as_str().unwrap_or_default(), out),
        ValueKind::Seq | ValueKind::Iterable => {
            out.push('[');
            for (i, item) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(&item, out)?;
            }
            out.push(']');
        }
        ValueKind::Map => {
            out.push('{');
            for (i, k) in v.try_iter()?.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(&k, out)?;
                out.push_str(": ");
                repr(&v.get_item(&k)?, out)?;
            }
            out.push('}');
        }
        _ => {
            let _ = write!(out, "{v}");
        }
    }
    Ok(())
}

/// The output formatter: `{{ x }}` as Jinja2 writes it (`str(x)`; an
/// undefined value is empty).
pub(crate) fn format(out: &mut Output, _state: &State, v: &Value) -> Result<(), Error> {
    let s = match v.kind() {
        ValueKind::Undefined => return Ok(()),
        ValueKind::String => {
            return out
                .write_str(v.as_str().unwrap_or_default())
                .map_err(Error::from)
        }
        ValueKind::Number => number_str(v),
        ValueKind::None
        | ValueKind::Bool
        | ValueKind::Seq
        | ValueKind::Map
        | ValueKind::Iterable => {
            let mut s = String::new();
            repr(v, &mut s)?;
            s
        }
        _ => v.to_string(),
    };
    out.write_str(&s).map_err(Error::from)
}

/// Python's `str(x)`: the `string` filter.
pub(crate) fn string(v: &Value) -> Result<Value, Error> {
    Ok(match v.kind() {
        ValueKind::String => v.clone(),
        ValueKind::Undefined => Value::from(""),
        ValueKind::Number => Value::from(number_str(v)),
        ValueKind::None
        | ValueKind::Bool
        | ValueKind::Seq
        | ValueKind::Map
        | ValueKind::Iterable => {
            let mut s = String::new();
            repr(v, &mut s)?;
            Value::from(s)
        }
        _ => Value::from(v.to_string()),
    })
}

/// Jinja2's `map`, `select`, `reject`, `selectattr` and `rejectattr` give
/// generators, not lists: iterable (`for`, `|list`, `|join`, `|first`) but
/// not JSON-serializable. The filters are minijinja's, their results wrapped
/// in an iterable. (Python's `len()` of a generator fails too; minijinja's
/// `length` still counts it, as it must for `range()`, which has a length.)
pub(crate) fn generator(items: Vec<Value>) -> Value {
    Value::make_object_iterable(items, |v| Box::new(v.iter().cloned()))
}

/// Jinja2's `iterable` test (`iter(x)` succeeds): strings, lists, dicts and
/// undefined (which iterates as empty) are, None and numbers are not.
pub(crate) fn is_iterable(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Undefined
            | ValueKind::String
            | ValueKind::Bytes
            | ValueKind::Seq
            | ValueKind::Map
            | ValueKind::Iterable
    )
}

/// Jinja2's `sequence` test (`len(x)` and `x.__getitem__` exist): strings,
/// lists, dicts and undefined are.
pub(crate) fn is_sequence(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Undefined
            | ValueKind::String
            | ValueKind::Bytes
            | ValueKind::Seq
            | ValueKind::Map
    )
}

struct JsonOpts {
    ensure_ascii: bool,
    indent: Option<String>,
    item_sep: String,
    key_sep: String,
    sort_keys: bool,
}

/// `json.dumps`' string escaping (`encode_basestring[_ascii]`).
fn json_str(s: &str, ascii: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ascii && (c as u32) > 0x7E) => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A dict key as `json.dumps` writes it (it converts numbers, booleans and
/// None to strings; other keys are an error).
fn json_key(k: &Value) -> Result<String, Error> {
    Ok(match k.kind() {
        ValueKind::String => k.as_str().unwrap_or_default().to_string(),
        ValueKind::Number => number_str(k),
        ValueKind::Bool => (if k.is_true() { "true" } else { "false" }).into(),
        ValueKind::None => "null".into(),
        other => {
            return Err(invalid(format!(
                "tojson: keys must be str, int, float, bool or None, not {other}"
            )))
        }
    })
}

fn json_value(v: &Value, o: &JsonOpts, level: usize, out: &mut String) -> Result<(), Error> {
    let newline = |out: &mut String, level: usize| {
        if let Some(ind) = &o.indent {
            out.push('\n');
            for _ in 0..level {
                out.push_str(ind);
            }
        }
    };
    match v.kind() {
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if v.is_true() { "true" } else { "false" }),
        ValueKind::Number => {
            let s = number_str(v);
            out.push_str(match s.as_str() {
                "nan" => "NaN",
                "inf" => "Infinity",
                "-inf" => "-Infinity",
                s => s,
            })
        }
        ValueKind::String => json_str(v.as_str().unwrap_or_default(), o.ensure_ascii, out),
        ValueKind::Iterable => {
            return Err(invalid(
                "tojson: Object of type generator is not JSON serializable (add |list)",
            ))
        }
        ValueKind::Seq => {
            let items: Vec<Value> = v.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                newline(out, level + 1);
                json_value(item, o, level + 1, out)?;
            }
            newline(out, level);
            out.push(']');
        }
        ValueKind::Map => {
            let mut items = Vec::new();
            for k in v.try_iter()? {
                let val = v.get_item(&k)?;
                items.push((json_key(&k)?, val));
            }
            if o.sort_keys {
                items.sort_by(|a, b| a.0.cmp(&b.0));
            }
            if items.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            out.push('{');
            for (i, (k, val)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&o.item_sep);
                }
                newline(out, level + 1);
                json_str(k, o.ensure_ascii, out);
                out.push_str(&o.key_sep);
                json_value(val, o, level + 1, out)?;
            }
            newline(out, level);
            out.push('}');
        }
        other => {
            return Err(invalid(format!(
                "tojson: Object of type {other} is not JSON serializable"
            )))
        }
    }
    Ok(())
}

/// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None,
/// sort_keys=False)`, positional or by keyword.
pub(crate) fn tojson(v: &Value, args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let names = ["ensure_ascii", "indent", "separators", "sort_keys"];
    if args.len() > names.len() {
        return Err(invalid("tojson takes at most 4 arguments"));
    }
    let mut given: [Option<Value>; 4] = Default::default();
    for (i, a) in args.0.into_iter().enumerate() {
        given[i] = Some(a);
    }
    for (i, name) in names.iter().enumerate() {
        if kwargs.has(name) {
            given[i] = Some(kwargs.get::<Value>(name)?);
        }
    }
    kwargs.assert_all_used()?;
    let indent = match &given[1] {
        None => None,
        Some(x) if x.is_none() => None,
        Some(x) if x.kind() == ValueKind::String => {
            Some(x.as_str().unwrap_or_default().to_string())
        }
        Some(x) => Some(" ".repeat(x.as_usize().unwrap_or(0))),
    };
    let (item_sep, key_sep) = match &given[2] {
        Some(s) if !s.is_none() => {
            let parts: Vec<Value> = s.try_iter()?.collect();
            match parts.as_slice() {
                [a, b] => (a.to_string(), b.to_string()),
                _ => return Err(invalid("tojson: separators must be (item, key)")),
            }
        }
        _ if indent.is_some() => (",".into(), ": ".into()),
        _ => (", ".into(), ": ".into()),
    };
    let o = JsonOpts {
        ensure_ascii: given[0].as_ref().is_some_and(Value::is_true),
        indent,
        item_sep,
        key_sep,
        sort_keys: given[3].as_ref().is_some_and(Value::is_true),
    };
    let mut out = String::new();
    json_value(v, &o, 0, &mut out)?;
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_python() {
        for (f, s) in [
            (18.0, "18.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1000000000000000.0"),
        ] {
            assert_eq!(float_repr(f), s);
        }
    }

    #[test]
    fn generation_tag() {
        let src = "a{%- generation -%} b {% endgeneration +%}\n{% if x %}{% endif %}";
        assert_eq!(
            rewrite_generation_tags(src),
            "a{%- if true -%} b {% endif +%}\n{% if x %}{% endif %}"
        );
        assert_eq!(rewrite_generation_tags("{{ '{%' }}"), "{{ '{%' }}");
        // `{%}` (its `%}` overlapping the opening; found by the fuzz test)
        let odd = "{%}- set x = 1 -%}{% generation %}";
        assert_eq!(
            rewrite_generation_tags(odd),
            "{%}- set x = 1 -%}{% if true %}"
        );
    }

    #[test]
    fn generators() {
        let mut env = minijinja::Environment::new();
        install(&mut env);
        let r = |src: &str| env.render_str(src, ()).map_err(|e| e.to_string());
        let g = "[{'a': 1}, {'a': 2}, {'a': 3}]|selectattr('a', 'gt', 1)";
        assert_eq!(
            r(&format!(
                "{{% for x in {g} %}}{{{{ x.a }}}}{{{{ loop.last }}}},{{% endfor %}}"
            ))
            .unwrap(),
            "2False,3True,"
        );
        assert_eq!(
            r(&format!(
                "{{{{ {g}|list|length }}}} {{{{ ({g}|first).a }}}}"
            ))
            .unwrap(),
            "2 2"
        );
        assert!(r(&format!("{{{{ {g}|tojson }}}}")).is_err());
        assert_eq!(
            r(&format!("{{{{ {g}|map(attribute='a')|join('-') }}}}")).unwrap(),
            "2-3"
        );
        assert_eq!(
            r("{{ [1, none]|string }}{{ true|string }}"),
            Ok("[1, None]True".into())
        );
    }

    #[test]
    fn repr_and_json() {
        let mut env = minijinja::Environment::new();
        install(&mut env);
        let r = |src: &str| env.render_str(src, ()).unwrap();
        assert_eq!(
            r("{{ none }} {{ true }} {{ 1.0 }} {{ [1, 'a', none] }}"),
            "None True 1.0 [1, 'a', None]"
        );
        assert_eq!(r("{{ {'k': \"it's\"} }}"), "{'k': \"it's\"}");
        assert_eq!(
            r("{{ {'a': [1, 2.5, 'x<y'], 'b': none}|tojson }}"),
            "{\"a\": [1, 2.5, \"x<y\"], \"b\": null}"
        );
        assert_eq!(
            r("{{ [1, {'a': 2}]|tojson(indent=2) }}"),
            "[\n  1,\n  {\n    \"a\": 2\n  }\n]"
        );
        assert_eq!(
            r("{{ 'é\n'|tojson }} {{ 'é'|tojson(ensure_ascii=true) }}"),
            "\"é\\n\" \"\\u00e9\""
        );
        assert_eq!(
            r("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true, separators=(',', ':')) }}"),
            "{\"a\":2,\"b\":1}"
        );
    }
}
