//! Helpers the `hearth` binary's structured-output tests share (`mod
//! common;` in structured.rs and harmony.rs).

// each test binary uses its own part of this
#![allow(dead_code)]

use serde_json::Value;
use std::process::Output;

/// Standard output of a command that must have succeeded (both streams
/// shown when it did not).
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `text` is JSON that follows `schema`, its keys in the order of the
/// schema's `properties` (as the grammar writes them); the value parsed.
/// `what` says which output it is.
pub fn validate(schema: &Value, text: &str, what: &str) -> Value {
    let v: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text:?}"));
    let val = jsonschema::validator_for(schema).unwrap();
    let errs: Vec<String> = val.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(
        errs.is_empty(),
        "{what}: {text} does not validate: {errs:?}"
    );
    if let (Some(p), Some(o)) = (schema["properties"].as_object(), v.as_object()) {
        let want: Vec<&String> = p.keys().filter(|k| o.contains_key(*k)).collect();
        assert_eq!(
            o.keys().collect::<Vec<_>>(),
            want,
            "{what}: key order in {text}"
        );
    }
    v
}
