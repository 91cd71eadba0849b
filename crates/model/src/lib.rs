//! model crate
