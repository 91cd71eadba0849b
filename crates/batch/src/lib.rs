//! `hearth batch`: grind through a folder of documents (or a JSONL file of
//! records) with one prompt template, many documents in flight at once
//! through the engine's continuous-batching scheduler (or any
//! OpenAI-compatible server), every finished record appended to the output
//! at once, so a rerun picks up where a killed batch stopped.
//!
//! - [`input`]: finding the inputs and their ids;
//! - [`template`]: rendering the prompt;
//! - [`long`]: splitting or cutting what does not fit the context;
//! - [`backend`]: the local engine or an `--endpoint`;
//! - [`output`]: the append-only output file and resume;
//! - [`run`]: the loop that feeds the backend and writes records;
//! - [`progress`], [`report`]: what the person watching sees.

pub mod backend;
pub mod input;
pub mod long;
pub mod output;
pub mod progress;
pub mod report;
mod run;
pub mod template;

pub use backend::{Backend, Endpoint, Local};
pub use input::{discover, Inputs, Item};
pub use long::LongMode;
pub use output::{Format, OutFile, Record, Resume};
pub use report::{default_prices, Price, Report};
pub use run::{keys, run, JsonSpec, Settings};
pub use template::Template;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Template(String),
    #[error("{0}")]
    Output(String),
    #[error("{0}")]
    Backend(String),
}
