//! # malmoi-playground
//!
//! A local web playground over malmoi's models — layer 5, on top of the transformer (GPT
//! generation), rlhf (prompt templates of tuned models) and seq (NSMC sentiment) layers.
//!
//! [`router`] builds the whole HTTP application (the binary `malmoi-playground` serves it; the
//! tests start it in-process on an ephemeral port):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` (`/app.js`, `/style.css`) | the page: system message, chat turns, knobs, model picker, streaming, stop button, token count, "show probabilities" |
//! | `POST /v1/chat/completions` | OpenAI's chat completions, streamed as server-sent events with `"stream": true` |
//! | `GET /v1/models`, `GET /v1/models/{id}` | the loaded models |
//! | `POST /v1/sentiment` | `{"input": "…" or ["…", …]}` → probabilities from the NSMC model |
//!
//! Errors are OpenAI's `{"error": {"message", "type", "param", "code"}}`, on every error status
//! (404, 405, 408, 413, 415, 429, …). [`Limits`] caps the body size, `max_tokens`, and
//! generations running and queued (beyond them: 429), and bounds what a slow or idle client
//! can hold: [`serve_with`] closes a connection whose request headers take longer than
//! `header_read_timeout` (hyper's own setting, which also ends an idle keep-alive connection
//! that sends no next request), the router answers 408 to a body not received within
//! `body_read_timeout`, and at most `max_connections` connections are open at once (more wait
//! in the listen backlog).
//!
//! **Context.** The shipped GPT reads 64 tokens. A longer prompt is truncated from the left
//! (the model reads its last 64 tokens, as [`malmoi_transformer::generation`] does) and the
//! response says so with `"prompt_truncated": true`; `usage.prompt_tokens` counts the whole
//! prompt. Generation may go past the context: each further step reads the last 64 tokens.

pub mod api;
mod chat;
pub mod error;
pub mod models;
mod page;
mod sentiment;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use error::{ApiError, LoadError};
pub use models::{Models, ServedChatModel, ServedSentiment};

use api::{ModelCard, ModelList};

/// The server's caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes (beyond it: 413).
    pub max_body_bytes: usize,
    /// Largest `max_tokens` a request may ask for (beyond it: 400).
    pub max_tokens: usize,
    /// `max_tokens` of a request that gives none.
    pub default_max_tokens: usize,
    /// Generations running at once. 0 refuses every generation with 429.
    pub max_concurrent: usize,
    /// Generations waiting for a running slot; a request beyond running + queued gets 429.
    pub max_queued: usize,
    /// Most texts one sentiment request may hold.
    pub max_sentiment_inputs: usize,
    /// Longest a client may take to send a request's headers, and longest a keep-alive
    /// connection may stay idle between requests; then the connection is closed.
    pub header_read_timeout: Duration,
    /// Longest a client may take to send a request's body (all of it); then 408.
    pub body_read_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 64 KiB bodies, `max_tokens` ≤ 256 (64 by default), as many running generations as
    /// the machine has cores, 64 queued, 256 sentiment texts; 10 s for headers (and idle
    /// keep-alive), 10 s for a body, 256 connections.
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_tokens: 256,
            default_max_tokens: 64,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued: 64,
            max_sentiment_inputs: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 256,
        }
    }
}

/// The application's shared state.
#[derive(Debug)]
pub(crate) struct App {
    pub models: Models,
    pub limits: Limits,
    /// Places for generations running or queued.
    pub admission: Arc<Semaphore>,
    /// Slots for generations running.
    pub running: Arc<Semaphore>,
}

/// The HTTP application over `models` with `limits`.
pub fn router(models: Models, limits: Limits) -> Router {
    let admitted = if limits.max_concurrent == 0 { 0 } else { limits.max_concurrent + limits.max_queued };
    let app = Arc::new(App {
        admission: Arc::new(Semaphore::new(admitted)),
        running: Arc::new(Semaphore::new(limits.max_concurrent)),
        models,
        limits: limits.clone(),
    });
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(get_model))
        .route("/v1/chat/completions", post(chat::completions))
        .route("/v1/sentiment", post(sentiment::sentiment))
        .fallback(|uri: Uri| async move { ApiError::no_route(uri.path()) })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(BodyDeadline::from(&limits), read_body_in_time))
        .layer(middleware::from_fn(error::json_error_bodies))
        .with_state(app)
}

/// What [`read_body_in_time`] allows a request body.
#[derive(Debug, Clone, Copy)]
struct BodyDeadline {
    timeout: Duration,
    max_bytes: usize,
}

impl From<&Limits> for BodyDeadline {
    fn from(limits: &Limits) -> Self {
        BodyDeadline { timeout: limits.body_read_timeout, max_bytes: limits.max_body_bytes }
    }
}

/// Reads the whole request body within the deadline before the handler runs (every body this
/// server takes is a small JSON document): a body still incomplete then gets 408 and the
/// connection is closed, one over the size cap 413. A deadline for the whole body, not per
/// chunk, so a client trickling a byte at a time is cut off too.
async fn read_body_in_time(
    State(deadline): State<BodyDeadline>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = tokio::time::timeout(deadline.timeout, axum::body::to_bytes(body, deadline.max_bytes))
        .await
        .map_err(|_| ApiError::body_timeout(deadline.timeout))?
        .map_err(|_| ApiError::body_too_large(deadline.max_bytes))?;
    Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
}

/// Serves `router` on `listener` with the default connection limits ([`serve_with`]).
///
/// # Errors
/// None in practice: failed accepts are retried.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with(listener, router, Limits::default()).await
}

/// Serves `router` on `listener` until the process ends, over HTTP/1.1, with `limits`'
/// `header_read_timeout` (hyper's own, for headers and idle keep-alive) and `max_connections`.
/// Connections send without Nagle's delay, so each streamed token leaves at once (with it,
/// small writes wait for the peer's delayed acknowledgement: about 40 ms per reply on
/// loopback).
///
/// # Errors
/// None in practice: a failed accept (the peer gone, no file descriptor left) is retried.
pub async fn serve_with(listener: TcpListener, router: Router, limits: Limits) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    loop {
        let permit = Arc::clone(&open).acquire_owned().await.expect("the semaphore is never closed");
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                // the peer gave up, or no descriptor is left: wait a little as axum::serve does
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // a socket that cannot take the option still works, only with Nagle's delay
        let _ = tcp.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router.clone()));
        tokio::spawn(async move {
            // a client that breaks the protocol or times out only loses its own connection
            let _ = connection.with_upgrades().await;
            drop(permit);
        });
    }
}

/// The cards of every loaded model.
fn model_cards(models: &Models) -> Vec<ModelCard> {
    let language = models.language.iter().map(|m| ModelCard {
        id: m.id.clone(),
        object: "model".into(),
        created: 0,
        owned_by: "malmoi".into(),
        kind: "text-generation".into(),
        context_length: Some(m.context_length()),
        chat_template: Some(m.template_kind().is_some()),
    });
    let sentiment = models.sentiment.iter().map(|m| ModelCard {
        id: m.id.clone(),
        object: "model".into(),
        created: 0,
        owned_by: "malmoi".into(),
        kind: "sentiment".into(),
        context_length: None,
        chat_template: None,
    });
    language.chain(sentiment).collect()
}

/// `GET /v1/models`.
async fn list_models(State(app): State<Arc<App>>) -> Json<ModelList> {
    Json(ModelList { object: "list".into(), data: model_cards(&app.models) })
}

/// `GET /v1/models/{id}`.
async fn get_model(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<ModelCard>, ApiError> {
    model_cards(&app.models).into_iter().find(|c| c.id == id).map(Json).ok_or_else(|| ApiError::model_not_found(&id))
}
