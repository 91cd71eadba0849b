//! The prompt template: `{{content}}`, `{{filename}}`, `{{path}}` and, for
//! JSONL records, any field of the record (`{{title}}`, `{{meta.author}}`).
//! Rendered with minijinja (Jinja syntax, so `{% if %}` works too); a
//! variable the input does not have is an error naming it, not an empty
//! string.

use crate::BatchError;
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;

pub struct Template {
    env: Environment<'static>,
    source: String,
}

impl Template {
    pub fn new(source: &str) -> Result<Template, BatchError> {
        if source.trim().is_empty() {
            return Err(BatchError::Template(
                "the prompt template is empty; give --prompt or --prompt-file".into(),
            ));
        }
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.add_template_owned("prompt", source.to_string())
            .map_err(|e| {
                BatchError::Template(format!("the prompt template does not parse: {e}"))
            })?;
        Ok(Template {
            env,
            source: source.to_string(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template mentions variable `name` at all.
    pub fn mentions(&self, name: &str) -> bool {
        self.env
            .get_template("prompt")
            .map(|t| t.undeclared_variables(false).contains(name))
            .unwrap_or(false)
    }

    /// Render with `vars` (a JSON object). `what` names the input in errors.
    pub fn render(&self, vars: &Value, what: &str) -> Result<String, String> {
        let t = self.env.get_template("prompt").map_err(|e| e.to_string())?;
        t.render(vars).map_err(|e| match e.kind() {
            minijinja::ErrorKind::UndefinedError => {
                let have: Vec<&str> = match vars {
                    Value::Object(m) => m.keys().map(|k| k.as_str()).collect(),
                    _ => Vec::new(),
                };
                let mut missing: Vec<String> = t
                    .undeclared_variables(false)
                    .into_iter()
                    .filter(|v| !have.contains(&v.as_str()))
                    .collect();
                missing.sort();
                let uses = if missing.is_empty() {
                    "a field".to_string()
                } else {
                    missing
                        .iter()
                        .map(|m| format!("{{{{{m}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!(
                    "the template uses {uses}, which {what} does not have (available: {})",
                    names(vars)
                )
            }
            _ => format!("the template failed on {what}: {e}"),
        })
    }
}

fn names(vars: &Value) -> String {
    match vars {
        Value::Object(m) => m.keys().map(|k| k.as_str()).collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_fields_and_names_missing_ones() {
        let t = Template::new("Summarise {{filename}}:\n{{content}}").unwrap();
        assert!(t.mentions("content") && t.mentions("filename") && !t.mentions("path"));
        let s = t
            .render(
                &json!({"content": "a {{b}} c", "filename": "x.txt"}),
                "x.txt",
            )
            .unwrap();
        assert_eq!(s, "Summarise x.txt:\na {{b}} c");
        let e = t.render(&json!({"content": "c"}), "line 3").unwrap_err();
        assert!(
            e.contains("{{filename}}, which line 3") && e.contains("available: content"),
            "{e}"
        );
        let t = Template::new("{{ meta.author }}").unwrap();
        assert_eq!(
            t.render(&json!({"meta": {"author": "Ann"}}), "r").unwrap(),
            "Ann"
        );
        assert!(Template::new("{{ unclosed").is_err());
        assert!(Template::new("  ").is_err());
    }
}
