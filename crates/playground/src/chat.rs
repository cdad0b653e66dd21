//! `POST /v1/chat/completions`: validation of the knobs, the generation on a blocking thread,
//! and the answer whole or as server-sent events.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::hash::BuildHasher;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use malmoi_transformer::generation::{FinishReason, GeneratedToken, GenerationConfig, TextGeneration};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::App;
use crate::api::{
    AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice, ChunkChoice, Delta, Logprobs,
    TokenLogprob, TopLogprob, Usage,
};
use crate::error::ApiError;
use crate::models::{ServedChatModel, chat_messages};

/// Most stop sequences (OpenAI's limit).
const MAX_STOP: usize = 4;
/// Most alternatives per token (OpenAI's limit).
const MAX_TOP_LOGPROBS: usize = 20;
/// Events buffered between the generator and a slow client.
const STREAM_BUFFER: usize = 32;

/// A validated request: what to generate and how to answer.
struct Plan {
    model: Arc<ServedChatModel>,
    prompt: Vec<u32>,
    prompt_tokens: usize,
    prompt_truncated: bool,
    config: GenerationConfig,
    logprobs: bool,
    stream: bool,
    include_usage: bool,
    id: String,
    created: u64,
}

/// A range check for an optional knob.
fn in_range(param: &str, value: Option<f32>, low: f32, high: f32, low_open: bool) -> Result<(), ApiError> {
    let Some(v) = value else { return Ok(()) };
    let above_low = if low_open { v > low } else { v >= low };
    if v.is_finite() && above_low && v <= high {
        return Ok(());
    }
    let open = if low_open { "(" } else { "[" };
    Err(ApiError::invalid(param, format!("{param} must be in {open}{low}, {high}], got {v}")))
}

impl Plan {
    fn new(request: ChatCompletionRequest, app: &App) -> Result<Self, ApiError> {
        let model = app
            .models
            .language_model(request.model.as_deref())
            .ok_or_else(|| match (&request.model, &app.models.sentiment) {
                (Some(id), Some(s)) if *id == s.id => {
                    ApiError::invalid("model", format!("`{id}` is a sentiment model: use POST /v1/sentiment"))
                }
                (id, _) => ApiError::model_not_found(id.as_deref().unwrap_or("")),
            })?
            .clone();
        if let Some(n) = request.n
            && n != 1
        {
            return Err(ApiError::invalid("n", format!("only n = 1 is supported, got {n}")));
        }
        if request.messages.is_empty() {
            return Err(ApiError::invalid("messages", "messages must hold at least one message"));
        }
        in_range("temperature", request.temperature, 0.0, 2.0, false)?;
        in_range("top_p", request.top_p, 0.0, 1.0, true)?;
        in_range("frequency_penalty", request.frequency_penalty, -2.0, 2.0, false)?;
        in_range("presence_penalty", request.presence_penalty, -2.0, 2.0, false)?;
        let (max_param, max_tokens) = match (request.max_completion_tokens, request.max_tokens) {
            (Some(m), _) => ("max_completion_tokens", m),
            (None, Some(m)) => ("max_tokens", m),
            (None, None) => ("max_tokens", app.limits.default_max_tokens.min(app.limits.max_tokens)),
        };
        if max_tokens == 0 || max_tokens > app.limits.max_tokens {
            return Err(ApiError::invalid(
                max_param,
                format!(
                    "{max_param} must be between 1 and this server's cap {}, got {max_tokens}",
                    app.limits.max_tokens
                ),
            ));
        }
        let stop = request.stop.map(|s| s.into_vec()).unwrap_or_default();
        if stop.len() > MAX_STOP {
            return Err(ApiError::invalid("stop", format!("at most {MAX_STOP} stop sequences, got {}", stop.len())));
        }
        if stop.iter().any(String::is_empty) {
            return Err(ApiError::invalid("stop", "a stop sequence is empty"));
        }
        let logprobs = request.logprobs.unwrap_or(false);
        let top_logprobs = request.top_logprobs.unwrap_or(0);
        if request.top_logprobs.is_some() && !logprobs {
            return Err(ApiError::invalid("top_logprobs", "top_logprobs needs \"logprobs\": true"));
        }
        if top_logprobs > MAX_TOP_LOGPROBS {
            return Err(ApiError::invalid(
                "top_logprobs",
                format!("top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {top_logprobs}"),
            ));
        }
        let stream = request.stream.unwrap_or(false);
        if request.stream_options.is_some() && !stream {
            return Err(ApiError::invalid("stream_options", "stream_options needs \"stream\": true"));
        }
        let prompt =
            model.prompt_ids(&chat_messages(&request.messages)).map_err(|e| ApiError::invalid("messages", e))?;
        let prompt_tokens = prompt.len();
        let temperature = request.temperature.unwrap_or(1.0);
        let config = GenerationConfig {
            max_new_tokens: max_tokens,
            do_sample: temperature > 0.0,
            temperature,
            top_p: request.top_p.unwrap_or(1.0),
            frequency_penalty: request.frequency_penalty.unwrap_or(0.0),
            presence_penalty: request.presence_penalty.unwrap_or(0.0),
            stop,
            seed: request.seed.unwrap_or_else(|| RandomState::new().hash_one(SystemTime::now())),
            top_logprobs: if logprobs { top_logprobs } else { 0 },
            ..GenerationConfig::default()
        };
        config.validate().map_err(|e| ApiError::invalid("messages", e.to_string()))?;
        Ok(Plan {
            prompt_truncated: prompt_tokens > model.context_length(),
            model,
            prompt,
            prompt_tokens,
            config,
            logprobs,
            stream,
            include_usage: request.stream_options.is_some_and(|o| o.include_usage),
            id: completion_id(),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        })
    }

    fn usage(&self, generation: &TextGeneration) -> Usage {
        let completion_tokens = generation.tokens.len();
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens,
            total_tokens: self.prompt_tokens + completion_tokens,
        }
    }

    fn token_logprob(&self, token: &GeneratedToken) -> TokenLogprob {
        let (text, bytes) = self.token_text(token.id);
        TokenLogprob {
            token: text,
            logprob: token.logprob,
            bytes,
            top_logprobs: token
                .top_logprobs
                .iter()
                .map(|&(id, logprob)| {
                    let (token, bytes) = self.token_text(id);
                    TopLogprob { token, logprob, bytes }
                })
                .collect(),
        }
    }

    fn token_text(&self, id: u32) -> (String, Vec<u8>) {
        let bytes = self.model.token_bytes(id);
        (String::from_utf8_lossy(&bytes).into_owned(), bytes)
    }

    fn chunk(&self, delta: Delta, logprobs: Option<Logprobs>, finish_reason: Option<String>) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.id.clone(),
            choices: vec![ChunkChoice { index: 0, delta, logprobs, finish_reason }],
            usage: None,
            prompt_truncated: None,
        }
    }
}

/// `chatcmpl-` and a number unique within the process.
fn completion_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let salt = RandomState::new().hash_one(0u8) & 0xffff_ffff;
    format!("chatcmpl-{salt:08x}{:06}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Sets its flag when dropped: the request future holding it is gone (the client left).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn generation_error(error: malmoi_transformer::Error) -> ApiError {
    match error {
        malmoi_transformer::Error::Config(m) | malmoi_transformer::Error::Input(m) => ApiError::invalid("messages", m),
        other => ApiError::internal(format!("generation failed: {other}")),
    }
}

/// The handler.
pub(crate) async fn completions(
    State(app): State<Arc<App>>,
    body: Result<Json<ChatCompletionRequest>, JsonRejection>,
) -> Response {
    match respond(app, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn respond(
    app: Arc<App>,
    body: Result<Json<ChatCompletionRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let plan = Plan::new(request, &app)?;
    let admitted = Arc::clone(&app.admission)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy(app.limits.max_concurrent + app.limits.max_queued))?;
    let running = Arc::clone(&app.running)
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the generation slots are closed"))?;
    let permits = (admitted, running);
    if plan.stream { Ok(stream(plan, permits)) } else { complete(plan, permits).await }
}

/// The whole reply at once; stops generating if the request is dropped.
async fn complete(plan: Plan, permits: (OwnedSemaphorePermit, OwnedSemaphorePermit)) -> Result<Response, ApiError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(Arc::clone(&cancelled));
    let plan = Arc::new(plan);
    let task_plan = Arc::clone(&plan);
    let generation = tokio::task::spawn_blocking(move || {
        let _permits = permits;
        task_plan.model.generator.continue_ids(&task_plan.prompt, &task_plan.config, |_, _| {
            if cancelled.load(Ordering::Relaxed) { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("generation task failed: {e}")))?
    .map_err(generation_error)?;
    let logprobs =
        plan.logprobs.then(|| Logprobs { content: generation.tokens.iter().map(|t| plan.token_logprob(t)).collect() });
    let completion = ChatCompletion {
        id: plan.id.clone(),
        object: "chat.completion".into(),
        created: plan.created,
        model: plan.model.id.clone(),
        choices: vec![Choice {
            index: 0,
            message: AssistantMessage { role: "assistant".into(), content: generation.text.clone() },
            logprobs,
            finish_reason: generation.finish_reason.as_openai().into(),
        }],
        usage: plan.usage(&generation),
        prompt_truncated: plan.prompt_truncated,
    };
    Ok(Json(completion).into_response())
}

fn event(value: &impl serde::Serialize) -> Event {
    Event::default().data(serde_json::to_string(value).expect("chunks serialise"))
}

/// Server-sent events: a role chunk, one chunk per piece of final text, a chunk with the
/// finish reason, a usage chunk if asked, then `[DONE]`. A client that disconnects closes the
/// channel, and the next piece stops the generation.
fn stream(plan: Plan, permits: (OwnedSemaphorePermit, OwnedSemaphorePermit)) -> Response {
    let (tx, rx) = mpsc::channel::<Event>(STREAM_BUFFER);
    let mut first = plan.chunk(Delta { role: Some("assistant".into()), content: Some(String::new()) }, None, None);
    first.prompt_truncated = Some(plan.prompt_truncated);
    tx.try_send(event(&first)).expect("an empty channel has room");
    tokio::task::spawn_blocking(move || {
        let _permits = permits;
        let result = plan.model.generator.continue_ids(&plan.prompt, &plan.config, |piece, token| {
            let logprobs = plan.logprobs.then(|| Logprobs { content: vec![plan.token_logprob(token)] });
            let chunk = plan.chunk(Delta { role: None, content: Some(piece.to_string()) }, logprobs, None);
            if tx.blocking_send(event(&chunk)).is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
        let generation = match result {
            Ok(generation) if generation.finish_reason == FinishReason::Cancelled => return,
            Ok(generation) => generation,
            Err(error) => {
                let _ = tx.blocking_send(Event::default().data(generation_error(error).to_json()));
                let _ = tx.blocking_send(Event::default().data("[DONE]"));
                return;
            }
        };
        let last = plan.chunk(Delta::default(), None, Some(generation.finish_reason.as_openai().into()));
        let _ = tx.blocking_send(event(&last));
        if plan.include_usage {
            let mut usage = plan.chunk(Delta::default(), None, None);
            usage.choices.clear();
            usage.usage = Some(plan.usage(&generation));
            let _ = tx.blocking_send(event(&usage));
        }
        let _ = tx.blocking_send(Event::default().data("[DONE]"));
    });
    Sse::new(ReceiverStream::new(rx).map(Ok::<_, Infallible>)).into_response()
}
