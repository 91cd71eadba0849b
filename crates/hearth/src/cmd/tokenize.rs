//! `hearth tokenize`: ids and pieces of a text, one per line, or JSON.

use crate::cli::TokenizeArgs;
use std::io::Write;

pub fn run(a: TokenizeArgs) -> anyhow::Result<()> {
    let text = super::text_or_stdin(a.text, "text")?;
    let tok = engine::load_tokenizer(super::pull::resolve_model(&a.model)?)?;
    let ids = tok.encode_with_bos(&text, a.bos, false);
    let pieces: Vec<String> = ids
        .iter()
        .map(|&id| String::from_utf8_lossy(tok.token_to_piece(id)).into_owned())
        .collect();
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({ "ids": ids, "pieces": pieces });
        writeln!(out, "{v}")?;
    } else {
        for (id, p) in ids.iter().zip(&pieces) {
            writeln!(out, "{id:>7} {p:?}")?;
        }
    }
    Ok(())
}
