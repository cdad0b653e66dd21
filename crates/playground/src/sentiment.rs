//! `POST /v1/sentiment`: the NSMC model's verdict on one or more Korean reviews.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;

use crate::App;
use crate::api::{SentimentInput, SentimentRequest, SentimentResponse, SentimentResult};
use crate::error::ApiError;

/// Judges `input` (one text or a list) and returns each text's probabilities.
pub(crate) async fn sentiment(
    State(app): State<Arc<App>>,
    body: Result<Json<SentimentRequest>, JsonRejection>,
) -> Result<Json<SentimentResponse>, ApiError> {
    let Json(request) = body?;
    let Some(model) = app.models.sentiment.clone() else {
        return Err(ApiError::model_not_found(request.model.as_deref().unwrap_or("sentiment")));
    };
    if let Some(id) = &request.model
        && *id != model.id
    {
        return Err(ApiError::model_not_found(id));
    }
    let texts = match request.input {
        SentimentInput::One(text) => vec![text],
        SentimentInput::Many(texts) => texts,
    };
    if texts.is_empty() {
        return Err(ApiError::invalid("input", "input holds no text"));
    }
    if texts.len() > app.limits.max_sentiment_inputs {
        return Err(ApiError::invalid(
            "input",
            format!("at most {} texts per request, got {}", app.limits.max_sentiment_inputs, texts.len()),
        ));
    }
    let judged = Arc::clone(&model);
    let predictions = tokio::task::spawn_blocking(move || judged.pipeline.predict_batch(&texts))
        .await
        .map_err(|e| ApiError::internal(format!("sentiment task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("sentiment model: {e}")))?;
    let data = predictions
        .iter()
        .enumerate()
        .map(|(index, p)| SentimentResult {
            index,
            label: if p.is_positive() { "positive" } else { "negative" }.into(),
            positive: p.sentiment.positive,
            negative: 1.0 - p.sentiment.positive,
            tokens: p.tokens,
            known_tokens: p.known_tokens,
            caveat: p.caveat.map(|c| c.to_string()),
        })
        .collect();
    Ok(Json(SentimentResponse { object: "list".into(), model: model.id.clone(), data }))
}
