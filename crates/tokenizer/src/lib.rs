//! tokenizer crate
