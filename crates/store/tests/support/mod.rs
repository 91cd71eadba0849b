pub mod hfserver;
