//! sampler crate
