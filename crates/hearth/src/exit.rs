//! Exit codes scripts can rely on (documented in README.md):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure (`batch`: some inputs failed; rerun to retry them) |
//! | 2 | bad command line (unknown flag, bad value) or bad config file |
//! | 3 | the model file is missing, unreadable, not GGUF, corrupt or unsupported |
//! | 4 | bad input: invalid UTF-8, empty prompt, prompt longer than the context; a Modelfile that cannot be used; a failed command or message in a piped chat; `batch`: missing input, bad template or schema, an output file that is not a batch's |
//! | 5 | the model does not fit in the memory available |
//! | 130 | interrupted (Ctrl-C outside an answer in a chat; `batch` after Ctrl-C) |

use engine::EngineError;
use engine::ModelError;

pub const MODEL: u8 = 3;
pub const INPUT: u8 = 4;
pub const NO_FIT: u8 = 5;

/// Error raised for bad input that is not an engine error (e.g. stdin).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A usage problem found after parsing (e.g. no model named anywhere): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<InputError>().is_some() {
        return INPUT;
    }
    if let Some(s) = e.downcast_ref::<store::StoreError>() {
        return if s.is_bad_input() {
            INPUT
        } else if s.is_model_problem() {
            MODEL
        } else if s.is_usage() {
            2
        } else {
            1
        };
    }
    if e.downcast_ref::<crate::config::ConfigError>().is_some()
        || e.downcast_ref::<UsageError>().is_some()
    {
        return 2;
    }
    if let Some(m) = e.downcast_ref::<ModelError>() {
        return model_code(m);
    }
    if let Some(t) = e.downcast_ref::<EngineError>() {
        return match t {
            EngineError::Model(m) => model_code(m),
            EngineError::Tokenizer(_) | EngineError::Mismatch(_) => MODEL,
            EngineError::PromptTooLong { .. } | EngineError::EmptyPrompt => INPUT,
            EngineError::Sampling(_) => 2,
            EngineError::NoTemplate(_) => INPUT,
            EngineError::DoesNotFit(_) => NO_FIT,
            EngineError::Constraint(engine::ConstraintError::Invalid(_)) => INPUT,
            EngineError::Constraint(_) => 1,
            EngineError::ZeroContext | EngineError::ContextTooLarge { .. } => INPUT,
        };
    }
    1
}

fn model_code(m: &ModelError) -> u8 {
    match m {
        ModelError::ContextOverflow { .. } | ModelError::BadToken { .. } => INPUT,
        ModelError::Kernel(_) => 1,
        _ => MODEL,
    }
}
