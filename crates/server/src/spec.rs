//! Speculative decoding per request: the `speculative` field (a hearth
//! extension in both APIs; in Ollama's under `options`), over the server's
//! default (`hearth serve --spec` / `--draft`). Exact either way: the same
//! output as without it, see `engine::spec`.

use crate::error::ApiError;
use engine::{GenerateStats, LoadedModel, SpecStats, Speculation};
use serde_json::{json, Value};

/// The request's speculation: `default` (the server's) when `v` is absent
/// or null; `true`: prompt lookup, and the draft model where the model has
/// one; `false`: off; an object `{"lookup": bool, "draft": bool, "n_max":
/// 1..=64}` whose absent fields keep the default's. `n_max` (llama.cpp's
/// `speculative.n_max`) caps the tokens drafted per step either way.
pub fn speculation(
    v: Option<&Value>,
    n_max: Option<i64>,
    field: &str,
    default: &Speculation,
) -> Result<Speculation, ApiError> {
    let bad = |what: String| ApiError::bad(field, what);
    let mut s = default.clone();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Bool(on)) => {
            s.lookup = *on;
            s.draft = *on;
        }
        Some(Value::Object(o)) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("lookup", Value::Bool(b)) => s.lookup = *b,
                    ("draft", Value::Bool(b)) => s.draft = *b,
                    ("n_max", x) => s.n_max = n_max_of(x.as_i64(), field, x)?,
                    ("lookup" | "draft", x) => {
                        return Err(bad(format!("{field}.{k} must be true or false, got {x}")))
                    }
                    (k, _) => {
                        return Err(bad(format!(
                            "{field}.{k} is not known; {field} takes lookup (true/false), draft (true/false) and n_max (1 to 64)"
                        )))
                    }
                }
            }
        }
        Some(x) => {
            return Err(bad(format!(
                "{field} must be true, false or an object such as {{\"lookup\": true, \"n_max\": 16}}, got {x}"
            )))
        }
    }
    if let Some(n) = n_max {
        s.n_max = n_max_of(Some(n), "speculative.n_max", &Value::from(n))?;
    }
    Ok(s)
}

/// A request whose object form says `"draft": true` for a model that has no
/// draft model (none given to `hearth serve --draft`, or one of another
/// vocabulary) is refused, naming why; `true` alone means "the draft model
/// where there is one".
pub fn check_draft(v: Option<&Value>, field: &str, lm: &LoadedModel) -> Result<(), ApiError> {
    let asked = v
        .and_then(|v| v.get("draft"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if asked && lm.draft.is_none() {
        return Err(ApiError::bad(
            field,
            format!(
                "{field}.draft: this model has no draft model; start `hearth serve --draft MODEL` with a small model of this model's vocabulary (the same family), or ask for {field}: {{\"lookup\": true}}"
            ),
        ));
    }
    Ok(())
}

/// Speculative decoding's counters summed over `stats` as JSON (the shape of
/// `hearth run --json`'s `speculative`), or `None` when nothing was drafted.
pub fn stats_json<'a>(stats: impl IntoIterator<Item = &'a GenerateStats>) -> Option<Value> {
    let mut t = SpecStats::default();
    for s in stats {
        t.add(&s.spec);
    }
    (t.steps > 0).then(|| counters_json(&t))
}

/// `{"drafted_tokens", "accepted_tokens", "verify_steps", "acceptance_rate"}`.
pub fn counters_json(t: &SpecStats) -> Value {
    json!({
        "drafted_tokens": t.drafted,
        "accepted_tokens": t.accepted,
        "verify_steps": t.steps,
        "acceptance_rate": t.acceptance(),
    })
}

fn n_max_of(n: Option<i64>, field: &str, x: &Value) -> Result<usize, ApiError> {
    match n {
        Some(n) if (1..=64).contains(&n) => Ok(n as usize),
        _ => Err(ApiError::bad(
            field,
            format!("{field} n_max must be a whole number from 1 to 64, got {x}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms() {
        let off = Speculation::OFF;
        let on = |v: Value| speculation(Some(&v), None, "speculative", &off);
        assert_eq!(speculation(None, None, "s", &off).unwrap(), off);
        let t = on(json!(true)).unwrap();
        assert!(t.lookup && t.draft && t.n_max == off.n_max);
        assert_eq!(on(json!(false)).unwrap(), off);
        let o = on(json!({"lookup": true, "n_max": 4})).unwrap();
        assert!(o.lookup && !o.draft && o.n_max == 4);
        // the server's default stays where the request says nothing
        let def = Speculation::lookup();
        assert_eq!(
            speculation(Some(&Value::Null), None, "s", &def).unwrap(),
            def
        );
        let n = speculation(None, Some(5), "s", &def).unwrap();
        assert!(n.lookup && n.n_max == 5);
        for bad in [
            json!("yes"),
            json!({"lookup": 1}),
            json!({"n_max": 0}),
            json!({"n_max": 65}),
            json!({"fast": true}),
        ] {
            let e = on(bad.clone()).unwrap_err();
            assert_eq!(e.param.as_deref(), Some("speculative"), "{bad}");
        }
        assert!(speculation(None, Some(0), "s", &def).is_err());
    }
}
