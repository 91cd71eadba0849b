//! engine crate
