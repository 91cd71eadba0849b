//! hearth's model store. Models are plain GGUF files that any program can
//! open, each with a small JSON manifest, under the user's data directory
//! (`HEARTH_MODELS` moves it). Only [`pull`] (and [`resolve`] of an absent
//! model, which pulls) touches the network; `HEARTH_OFFLINE` forbids even that.

pub mod catalog;
mod create;
mod error;
mod find;
pub mod http;
pub mod manifest;
pub mod modelfile;
pub mod name;
pub mod pip;
mod progress;
mod pull;
mod store;

pub use catalog::{Source, DEFAULT_MODEL};
pub use create::{create, defaults_of, modelfile_text, Check};
pub use error::{human_bytes, StoreError};
pub use find::StoredModel;
pub use manifest::{file_type_name, inspect, GgufInfo, Manifest};
pub use progress::{Progress, ProgressEvent, ReportFn};
pub use pull::{import, lock, pull, resolve, resolve_in};
pub use store::{default_root, offline_env, Store, SPACE_MARGIN};
