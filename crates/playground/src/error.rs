//! Errors: [`ApiError`], the OpenAI-shaped error a request gets, and [`LoadError`], why the
//! server could not start.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A GPT directory (config, weights, tokenizer) failed to load.
    #[error("language model {path}: {source}")]
    Gpt {
        /// The directory.
        path: PathBuf,
        /// The loader's error.
        source: malmoi_transformer::Error,
    },
    /// A model directory's prompt template is malformed.
    #[error("prompt template of {path}: {source}")]
    Template {
        /// The directory.
        path: PathBuf,
        /// The template's error.
        source: malmoi_rlhf::Error,
    },
    /// The Korean morphological analyser the sentiment model needs could not start.
    #[error("Korean analyser: {0}")]
    Analyzer(#[from] malmoi_tokenize::korean::KoreanError),
    /// The sentiment pipeline failed to load.
    #[error("sentiment model {path}: {source}")]
    Sentiment {
        /// The directory.
        path: PathBuf,
        /// The loader's error.
        source: malmoi_seq::Error,
    },
    /// No language model was given.
    #[error("no language model: give at least one --model-dir")]
    NoLanguageModel,
}

/// An error answered to a request, as OpenAI shapes it:
/// `{"error": {"message", "type", "param", "code"}}` with an HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `rate_limit_error`, `server_error`, …).
    pub kind: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    /// A machine-readable code (`invalid_value`, `model_not_found`, …).
    pub code: Option<&'static str>,
}

/// The JSON body of an [`ApiError`].
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    /// A 400 `invalid_request_error` about `param`.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: Some(param.to_string()),
            code: Some("invalid_value"),
        }
    }

    /// A 404 for a model id no loaded model has.
    pub fn model_not_found(id: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("the model `{id}` does not exist (GET /v1/models lists the loaded ones)"),
            kind: "invalid_request_error",
            param: Some("model".into()),
            code: Some("model_not_found"),
        }
    }

    /// A 429: every generation slot and queue place is taken.
    pub fn busy(limit: usize) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!("too many generations at once (at most {limit} running or queued); try again shortly"),
            kind: "rate_limit_error",
            param: None,
            code: Some("rate_limit_exceeded"),
        }
    }

    /// A 500 for a failure inside the server.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            param: None,
            code: None,
        }
    }

    /// A 404 for a path the server does not serve.
    pub fn no_route(path: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("no route for {path}"),
            kind: "invalid_request_error",
            param: None,
            code: Some("unknown_url"),
        }
    }

    /// The error body as JSON text (also sent as a server-sent event when a stream fails).
    pub fn to_json(&self) -> String {
        let body = ErrorBody {
            error: ErrorDetail {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        serde_json::to_string(&body).expect("an error body serialises")
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    /// Bad JSON, unknown fields, a wrong content type or a body over the size cap.
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_json",
        };
        let message = rejection.body_text();
        // serde names the offending field: `unknown field `temprature`, expected one of …`
        let unknown = message
            .split_once("unknown field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(field, _)| field.to_string());
        ApiError {
            status,
            code: Some(if unknown.is_some() { "unknown_field" } else { code }),
            param: unknown,
            message,
            kind: "invalid_request_error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body: serde_json::Value = serde_json::from_str(&self.to_json()).expect("valid JSON");
        (self.status, Json(body)).into_response()
    }
}
