//! Errors: [`ApiError`], the OpenAI-shaped error a request gets, and [`LoadError`], why the
//! server could not start.

use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
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

    /// A 408: the request body did not arrive within `timeout` (the connection is then closed).
    pub fn body_timeout(timeout: Duration) -> Self {
        ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!("the request body did not arrive within {} s", timeout.as_secs_f64()),
            kind: "invalid_request_error",
            param: None,
            code: Some("request_timeout"),
        }
    }

    /// A 413: the request body is longer than `max_bytes`.
    pub fn body_too_large(max_bytes: usize) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the request body is larger than {max_bytes} bytes"),
            kind: "invalid_request_error",
            param: None,
            code: Some("request_too_large"),
        }
    }

    /// The error for a response of `status` that the router made without a body of its own
    /// (405 for a known path with another method, …): `what` says what was asked.
    pub fn from_status(status: StatusCode, what: &str) -> Self {
        let reason = status.canonical_reason().unwrap_or("error");
        ApiError {
            status,
            message: format!("{what}: {}", reason.to_lowercase()),
            kind: if status.is_server_error() { "server_error" } else { "invalid_request_error" },
            param: None,
            code: Some(status_code_name(status)),
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

/// OpenAI-style codes of the statuses a router answers by itself.
fn status_code_name(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "unknown_url",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "request_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    }
}

impl IntoResponse for ApiError {
    /// The JSON body with the status; a 408 also closes the connection (the rest of the body
    /// is never read).
    fn into_response(self) -> Response {
        let body: serde_json::Value = serde_json::from_str(&self.to_json()).expect("valid JSON");
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Middleware: an error response (4xx, 5xx) that is not JSON — the router's own 405, an
/// extractor's plain-text rejection — gets the OpenAI error body for its status, its headers
/// (`Allow`, …) kept.
pub(crate) async fn json_error_bodies(request: Request, next: Next) -> Response {
    let what = format!("{} {}", request.method(), request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(ApiError::from_status(status, &what).to_json()))
}
