//! The JSON of the API: OpenAI's chat completions (request, response, stream chunks), the
//! model list and the sentiment endpoint. Requests reject unknown fields.

use malmoi_rlhf::Role;
use serde::{Deserialize, Serialize};

/// One turn of `messages`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: Role,
    /// What is said.
    pub content: String,
    /// OpenAI's participant name: accepted and not used.
    #[serde(default)]
    pub name: Option<String>,
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop sequence.
    One(String),
    /// Several (at most four, as OpenAI allows).
    Many(Vec<String>),
}

impl Stop {
    /// The sequences as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamOptions {
    /// Send a last chunk with `usage` before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// The body of `POST /v1/chat/completions`: OpenAI's fields that a local model can honour.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatCompletionRequest {
    /// A model id from `/v1/models`; the first language model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Sampling temperature in [0, 2] (default 1); 0 is greedy decoding.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in (0, 1] (default 1).
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Most tokens to generate (at least 1, at most the server's cap).
    #[serde(default)]
    pub max_tokens: Option<usize>,
    /// OpenAI's newer name for `max_tokens`.
    #[serde(default)]
    pub max_completion_tokens: Option<usize>,
    /// Up to four sequences that end the reply (not included in it).
    #[serde(default)]
    pub stop: Option<Stop>,
    /// In [-2, 2]: subtracts `count · penalty` from each token's logit per earlier use.
    #[serde(default)]
    pub frequency_penalty: Option<f32>,
    /// In [-2, 2]: subtracts `penalty` from each token already used.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Seed of the sampler: the same seed and knobs give the same reply. Random when absent.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Answer as server-sent events.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Options of the stream.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Return each generated token's log-probability.
    #[serde(default)]
    pub logprobs: Option<bool>,
    /// With `logprobs`: how many alternatives (0–20) to give per token.
    #[serde(default)]
    pub top_logprobs: Option<usize>,
    /// Number of replies: only 1 is supported.
    #[serde(default)]
    pub n: Option<usize>,
    /// OpenAI's end-user id: accepted and not used.
    #[serde(default)]
    pub user: Option<String>,
}

/// One alternative token with its log-probability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopLogprob {
    /// The token's text (lossy UTF-8 of its bytes).
    pub token: String,
    /// Natural-log probability.
    pub logprob: f64,
    /// The token's bytes.
    pub bytes: Vec<u8>,
}

/// One generated token with its log-probability and alternatives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenLogprob {
    /// The token's text (lossy UTF-8 of its bytes).
    pub token: String,
    /// Natural-log probability.
    pub logprob: f64,
    /// The token's bytes.
    pub bytes: Vec<u8>,
    /// The most probable tokens at this step, best first.
    pub top_logprobs: Vec<TopLogprob>,
}

/// `choices[].logprobs`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Logprobs {
    /// One entry per token.
    pub content: Vec<TokenLogprob>,
}

/// The assistant's message of a non-streamed reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: String,
    /// The reply.
    pub content: String,
}

/// One choice of a non-streamed reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    /// Always 0.
    pub index: usize,
    /// The reply.
    pub message: AssistantMessage,
    /// Per-token log-probabilities when asked for.
    pub logprobs: Option<Logprobs>,
    /// `stop` (a stop sequence or end of text), `length` (`max_tokens`) or `cancelled`.
    pub finish_reason: String,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    /// Tokens of the rendered prompt (before any truncation to the context).
    pub prompt_tokens: usize,
    /// Tokens generated (an end-of-text token included).
    pub completion_tokens: usize,
    /// Their sum.
    pub total_tokens: usize,
}

/// The response of a non-streamed `POST /v1/chat/completions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix time of the request.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// The one reply.
    pub choices: Vec<Choice>,
    /// Token counts.
    pub usage: Usage,
    /// malmoi's addition: true when the prompt was longer than the model's context and only
    /// its last `context_length` tokens were read (truncation from the left).
    pub prompt_truncated: bool,
}

/// `choices[].delta` of a stream chunk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant` in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One choice of a stream chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: usize,
    /// What the chunk adds.
    pub delta: Delta,
    /// The log-probability of the token that completed this chunk's text, when asked for.
    pub logprobs: Option<Logprobs>,
    /// Set in the last content chunk.
    pub finish_reason: Option<String>,
}

/// One `data:` event of a streamed reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// The same `chatcmpl-…` in every chunk of a reply.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix time of the request.
    pub created: u64,
    /// The model that answers.
    pub model: String,
    /// One choice, or none in the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// Token counts, in the last chunk when `stream_options.include_usage` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// malmoi's addition, in the first chunk: as in [`ChatCompletion::prompt_truncated`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_truncated: Option<bool>,
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// The id to pass as `model`.
    pub id: String,
    /// `model`.
    pub object: String,
    /// 0: unknown.
    pub created: u64,
    /// `malmoi`.
    pub owned_by: String,
    /// malmoi's addition: `text-generation` (chat completions) or `sentiment`.
    pub kind: String,
    /// malmoi's addition: the context in tokens of a language model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_length: Option<usize>,
    /// malmoi's addition: whether a language model has a prompt template (a tuned model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_template: Option<bool>,
}

/// The response of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The loaded models, language models first.
    pub data: Vec<ModelCard>,
}

/// `input` of the sentiment endpoint: one text or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SentimentInput {
    /// One review.
    One(String),
    /// Several reviews.
    Many(Vec<String>),
}

/// The body of `POST /v1/sentiment`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentimentRequest {
    /// The sentiment model's id (optional: there is one).
    #[serde(default)]
    pub model: Option<String>,
    /// The review(s) to judge.
    pub input: SentimentInput,
}

/// One judged review.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentResult {
    /// Its position in `input`.
    pub index: usize,
    /// `positive` or `negative`.
    pub label: String,
    /// Probability that the review is positive.
    pub positive: f32,
    /// Probability that it is negative.
    pub negative: f32,
    /// Tokens after preprocessing.
    pub tokens: usize,
    /// Those in the model's vocabulary.
    pub known_tokens: usize,
    /// Why the verdict deserves no trust (`empty text`, `no Korean words`, …), if it does not.
    pub caveat: Option<String>,
}

/// The response of `POST /v1/sentiment`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentimentResponse {
    /// `list`.
    pub object: String,
    /// The model that judged.
    pub model: String,
    /// One result per input, in order.
    pub data: Vec<SentimentResult>,
}
