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
//! Errors are OpenAI's `{"error": {"message", "type", "param", "code"}}`. [`Limits`] caps the
//! body size, `max_tokens`, and generations running and queued (beyond them: 429).
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

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::Uri;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::sync::Semaphore;

pub use error::{ApiError, LoadError};
pub use models::{LanguageModel, Models, SentimentModel};

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
}

impl Default for Limits {
    /// 64 KiB bodies, `max_tokens` ≤ 256 (64 by default), as many running generations as
    /// the machine has cores, 64 queued, 256 sentiment texts.
    fn default() -> Self {
        Limits {
            max_body_bytes: 64 * 1024,
            max_tokens: 256,
            default_max_tokens: 64,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued: 64,
            max_sentiment_inputs: 256,
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
        .with_state(app)
}

/// Serves `router` on `listener` until the process ends. Connections send without Nagle's
/// delay, so each streamed token leaves at once (with it, small writes wait for the peer's
/// delayed acknowledgement: about 40 ms per reply on loopback).
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // a socket that cannot take the option still works, only with Nagle's delay
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router).await
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
        chat_template: Some(m.template.is_some()),
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
