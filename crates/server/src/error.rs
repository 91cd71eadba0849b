//! Errors as each API shapes them: OpenAI's `{"error": {message, type,
//! param, code}}`, Ollama's `{"error": "message"}`, Anthropic's
//! `{"type": "error", "error": {type, message}}`, llama-server's
//! `{"error": {code, message, type}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    OpenAi,
    Ollama,
    Anthropic,
    /// llama-server's (`/health`, `/tokenize`, `/detokenize`, `/metrics`).
    LlamaCpp,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The request field at fault, if any.
    pub param: Option<String>,
    pub code: Option<&'static str>,
    pub flavor: Flavor,
    pub retry_after: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            param: None,
            code: None,
            flavor: Flavor::OpenAi,
            retry_after: None,
        }
    }
    pub fn bad(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        let param = param.into();
        let mut m = message.into();
        if !m.contains(&param) {
            m = format!("{param}: {m}");
        }
        ApiError {
            param: Some(param),
            ..ApiError::new(StatusCode::BAD_REQUEST, m)
        }
    }
    pub fn not_found_model(name: &str) -> ApiError {
        ApiError {
            param: Some("model".into()),
            code: Some("model_not_found"),
            ..ApiError::new(
                StatusCode::NOT_FOUND,
                format!("model '{name}' not found; GET /v1/models (or /api/tags) lists the models this server has"),
            )
        }
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
    pub fn busy(message: impl Into<String>) -> ApiError {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }
    pub fn flavor(mut self, f: Flavor) -> ApiError {
        self.flavor = f;
        self
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "invalid_request_error",
            413 => "invalid_request_error",
            429 => "rate_limit_error",
            400..=499 => "invalid_request_error",
            503 => "server_busy",
            _ => "server_error",
        }
    }

    /// Anthropic's error types (docs.anthropic.com, "Errors").
    fn anthropic_kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            400..=499 => "invalid_request_error",
            _ => "api_error",
        }
    }

    /// llama-server's error types (its `format_error_response`).
    fn llamacpp_kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            503 => "unavailable_error",
            400..=499 => "invalid_request_error",
            _ => "server_error",
        }
    }

    pub fn body(&self) -> serde_json::Value {
        match self.flavor {
            Flavor::OpenAi => json!({"error": {
                "message": self.message, "type": self.kind(), "param": self.param, "code": self.code,
            }}),
            Flavor::Ollama => json!({"error": self.message}),
            Flavor::Anthropic => json!({"type": "error", "error": {
                "type": self.anthropic_kind(), "message": self.message,
            }}),
            Flavor::LlamaCpp => json!({"error": {
                "code": self.status.as_u16(), "message": self.message, "type": self.llamacpp_kind(),
            }}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Map an engine error to the right status.
pub fn from_engine(e: &engine::EngineError) -> ApiError {
    use engine::EngineError as E;
    match e {
        E::PromptTooLong { .. } => {
            ApiError::bad("messages", e.to_string()).with_code("context_length_exceeded")
        }
        E::EmptyPrompt => ApiError::bad("prompt", e.to_string()),
        E::NoTemplate(_) => ApiError::bad(
            "model",
            format!("{e}; use /v1/completions (or /api/generate with raw) instead"),
        ),
        E::Sampling(m) => {
            let field = m
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
            ApiError::bad(field.to_string(), m.clone())
        }
        E::Model(engine::ModelError::ContextOverflow { .. }) => {
            ApiError::bad("max_tokens", e.to_string())
        }
        E::Model(engine::ModelError::BadToken { .. }) => ApiError::bad("prompt", e.to_string()),
        E::Constraint(engine::ConstraintError::Invalid(m)) => ApiError::bad("response_format", m),
        E::Model(engine::ModelError::EmbeddingModel { .. }) => {
            ApiError::bad("model", e.to_string())
        }
        _ => ApiError::internal(e.to_string()),
    }
}
