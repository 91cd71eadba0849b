//! kernels crate
