//! `/api/show`'s `model_info` and `capabilities`, read from the model file.

use serde_json::{json, Value};

/// Arrays longer than this are `null` in `/api/show`'s `model_info` unless
/// the request says `"verbose": true` (as Ollama does for the vocabulary).
const SHOW_ARRAY_ITEMS: usize = 64;

fn gguf_json(v: &gguf::Value, verbose: bool) -> Value {
    use gguf::Value as G;
    match v {
        G::U8(x) => json!(x),
        G::I8(x) => json!(x),
        G::U16(x) => json!(x),
        G::I16(x) => json!(x),
        G::U32(x) => json!(x),
        G::I32(x) => json!(x),
        G::U64(x) => json!(x),
        G::I64(x) => json!(x),
        G::F32(x) => json!(x),
        G::F64(x) => json!(x),
        G::Bool(x) => json!(x),
        G::String(x) => json!(x),
        G::Array { items, .. } if !verbose && items.len() > SHOW_ARRAY_ITEMS => Value::Null,
        G::Array { items, .. } => {
            Value::Array(items.iter().map(|i| gguf_json(i, verbose)).collect())
        }
    }
}

/// `/api/show`'s `model_info` (every metadata key of the file, as Ollama
/// gives it, plus `general.parameter_count`) and `capabilities`:
/// `embedding` for an embedding model, else `completion`, `tools` when the
/// chat template (`template`, else the file's) renders a tools list and
/// `thinking` when it has a reasoning
/// format hearth splits (`engine::ReasoningFormat`).
pub fn model_info(
    path: &std::path::Path,
    verbose: bool,
    template: Option<&str>,
) -> (serde_json::Map<String, Value>, Vec<&'static str>) {
    let mut info = serde_json::Map::new();
    let Ok(f) = gguf::GgufFile::open(path) else {
        return (info, vec!["completion"]);
    };
    for (k, v) in &f.metadata {
        info.insert(k.clone(), gguf_json(v, verbose));
    }
    let params: u64 = f.tensors.iter().map(|t| t.n_elements()).sum();
    info.entry("general.parameter_count")
        .or_insert(json!(params));
    let embedding = engine::fit::is_embedding_arch(f.get_str("general.architecture").unwrap_or(""));
    let mut caps = vec![if embedding { "embedding" } else { "completion" }];
    // the template the model runs with (a `NAME.jinja` beside it, else the file's)
    let template = template
        .or(f.get_str("tokenizer.chat_template"))
        .unwrap_or("");
    if !embedding {
        if template.contains("tools") {
            caps.push("tools");
        }
        if engine::ReasoningFormat::from_template(template).is_some() {
            caps.push("thinking");
        }
    }
    (info, caps)
}
