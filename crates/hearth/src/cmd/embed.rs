//! `hearth embed`: sentence embeddings on the command line, one JSON line per
//! text (the text argument, or each non-empty line of standard input), the
//! same vectors `hearth serve` answers on `/v1/embeddings` and `/api/embed`:
//! an embedding model's (`bert`, `nomic-bert`, pooled as its file says) or a
//! decoder's (the mean of its final hidden states).

use crate::exit::InputError;
use std::io::{BufRead, Write};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each output line is {\"index\": i, \"text\": ..., \"tokens\": n, \"embedding\": [...]}, unit length.\nAn embedding model (bert, nomic-bert: nomic-embed-text, all-minilm, bge) pools its final hidden\nstates as its file says (mean or CLS); any other model gives the mean of its final hidden states\nafter its output norm (llama.cpp's pooling either way).\n\nExamples:\n  hearth embed nomic-embed-text \"The cat sat on the mat.\"\n  cut -f2 titles.tsv | hearth embed all-minilm > vectors.jsonl\n  hearth embed qwen2.5-coder \"search_query: what is mmap\""
)]
pub struct EmbedArgs {
    /// A model name or a path to a .gguf file.
    pub model: std::path::PathBuf,
    /// The text; without it, every non-empty line of standard input is one text.
    pub text: Option<String>,
    /// Threads (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
}

pub fn run(a: EmbedArgs) -> anyhow::Result<()> {
    // the default context: a text is embedded in a session of its own length,
    // at most the trained context
    let lm = super::load_model(&a.model, &engine::LoadOptions::default())?.model;
    let pool = engine::ThreadPool::new(a.threads.unwrap_or_else(engine::default_threads).max(1));
    let mut out = std::io::stdout().lock();
    let one = |i: usize, text: &str, out: &mut dyn Write| -> anyhow::Result<()> {
        let e = lm.embed(&pool, text).map_err(|e| match e {
            engine::EngineError::EmptyPrompt => InputError(format!("text {i} is empty")).into(),
            e => anyhow::Error::from(e),
        })?;
        let v = serde_json::json!({"index": i, "text": text, "tokens": e.n_tokens, "embedding": e.vector});
        writeln!(out, "{v}")?;
        Ok(())
    };
    if let Some(t) = a.text {
        return one(0, &t, &mut out);
    }
    let mut i = 0;
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| {
            InputError(format!(
                "reading standard input: {e} (the input must be UTF-8 text, one text per line)"
            ))
        })?;
        if line.trim().is_empty() {
            continue;
        }
        one(i, &line, &mut out)?;
        out.flush()?;
        i += 1;
    }
    if i == 0 {
        return Err(InputError(
            "nothing to embed: give a text, or lines of text on standard input".into(),
        )
        .into());
    }
    Ok(())
}
