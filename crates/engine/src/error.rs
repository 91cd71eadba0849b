/// Errors from loading or generating.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Model(#[from] model::ModelError),
    #[error(transparent)]
    Tokenizer(#[from] tokenizer::TokenizerError),
    #[error("{0}")]
    Sampling(String),
    /// A grammar / schema that cannot be used, or one that failed mid-way.
    #[error(transparent)]
    Constraint(#[from] sampler::ConstraintError),
    #[error("{0}")]
    Mismatch(String),
    #[error("the prompt is {prompt} tokens but the context holds {n_ctx}; shorten the prompt or raise the context size (--ctx-size, at most {max} for this model)")]
    PromptTooLong {
        prompt: usize,
        n_ctx: usize,
        max: usize,
    },
    #[error("the prompt is empty; give some text")]
    EmptyPrompt,
    #[error("{0}")]
    DoesNotFit(String),
    #[error("--ctx-size must be at least 1")]
    ZeroContext,
    #[error("--ctx-size {asked} is larger than this model's trained context of {trained} tokens; use at most {trained}")]
    ContextTooLarge { asked: usize, trained: usize },
    #[error("this model has no chat template: {0}; use --raw to send the prompt as plain text")]
    NoTemplate(String),
}
