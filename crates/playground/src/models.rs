//! The models a playground serves: language models (the shipped GPT and any SFT / PPO / DPO
//! directory), each with the prompt template it was tuned on, and the NSMC sentiment pipeline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use malmoi_rlhf::template::Role;
use malmoi_rlhf::{ChatMessage, PromptTemplate};
use malmoi_seq::sentiment::SentimentPipeline;
use malmoi_tokenize::korean::Analyzer;
use malmoi_transformer::CausalLm;
use malmoi_transformer::generation::Generator;

use crate::error::LoadError;

/// A language model the playground serves.
#[derive(Debug)]
pub struct ServedChatModel {
    /// Its id in the API: the directory's name, made unique with `-2`, `-3`, … when needed.
    pub id: String,
    /// The directory it was loaded from.
    pub dir: PathBuf,
    /// The model (any architecture the transformer crate runs), its tokenizer, chat template
    /// and generation defaults.
    pub generator: Generator<Box<dyn CausalLm>>,
    /// The template a tuned model was trained with (`prompt_template.txt`); `None` for a
    /// plain language model, which continues the conversation's text as it is.
    pub template: Option<PromptTemplate>,
}

impl ServedChatModel {
    /// Loads a model directory under the id `id`.
    ///
    /// # Errors
    /// [`LoadError::Gpt`] or [`LoadError::Template`].
    pub fn load(id: String, dir: &Path) -> Result<Self, LoadError> {
        let generator =
            Generator::from_pretrained(dir).map_err(|source| LoadError::Gpt { path: dir.to_path_buf(), source })?;
        let template =
            PromptTemplate::load(dir).map_err(|source| LoadError::Template { path: dir.to_path_buf(), source })?;
        Ok(ServedChatModel { id, dir: dir.to_path_buf(), generator, template })
    }

    /// The model's context, in tokens.
    pub fn context_length(&self) -> usize {
        self.generator.model.context_size()
    }

    /// Which template turns a conversation into the prompt: `prompt_template.txt` (a model tuned
    /// here), the checkpoint's own chat template, or none (the turns' text as it is).
    pub fn template_kind(&self) -> Option<&'static str> {
        if self.template.is_some() {
            Some("prompt_template.txt")
        } else if self.generator.tokenizer_config.chat_template.is_some() {
            Some("chat_template")
        } else {
            None
        }
    }

    /// The prompt ids for a conversation: through the tuned model's prompt template, else the
    /// checkpoint's chat template, else the turns' text (see [`render`](Self::render)). What
    /// the messages say never becomes a special token; only a chat template's own markup does.
    ///
    /// # Errors
    /// A message when the conversation cannot be rendered or encoded.
    pub fn prompt_ids(&self, messages: &[ChatMessage]) -> Result<Vec<u32>, String> {
        if self.template.is_none() && self.generator.tokenizer_config.chat_template.is_some() {
            let turns: Vec<malmoi_tokenize::chat_template::ChatMessage> = messages
                .iter()
                .map(|m| malmoi_tokenize::chat_template::ChatMessage::new(role_name(m.role), m.content.clone()))
                .collect();
            return self.generator.chat_ids(&turns, true).map_err(|e| e.to_string());
        }
        let text = self.render(messages)?;
        self.generator.untrusted_prompt_ids(&text).map_err(|e| format!("cannot encode the prompt: {e}"))
    }

    /// The text the model continues for a conversation.
    ///
    /// A tuned model gets its template's rendering (KoChatGPT's notation, `<사람>: …` /
    /// `<챗봇>: …`, inside the `### Instruction(명령어):` slot; the last turn must be the user's).
    /// A plain language model gets the turns' text as it is: a single message's content (so a
    /// one-message "chat" with `영화가` continues `영화가`), several in the same notation one per
    /// line; it may end with an assistant turn, which the model then continues.
    ///
    /// # Errors
    /// A message (the template's own check) when the conversation cannot be rendered.
    pub fn render(&self, messages: &[ChatMessage]) -> Result<String, String> {
        match &self.template {
            Some(template) => template.render_chat(messages).map_err(|e| e.to_string()),
            None => Ok(malmoi_rlhf::template::conversation_text(messages)),
        }
    }

    /// The raw bytes of token `id` (a special token's text for added tokens; empty for an unknown id).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        self.generator.tokenizer.token_bytes(id).unwrap_or_default()
    }
}

/// The NSMC sentiment model.
#[derive(Debug)]
pub struct ServedSentiment {
    /// Its id in the API (the directory's name).
    pub id: String,
    /// The pipeline.
    pub pipeline: SentimentPipeline,
}

impl ServedSentiment {
    /// Loads a sentiment pipeline directory with the default Korean analyser.
    ///
    /// # Errors
    /// [`LoadError::Analyzer`] or [`LoadError::Sentiment`].
    pub fn load(dir: &Path) -> Result<Self, LoadError> {
        let analyzer = Analyzer::new()?;
        let pipeline = SentimentPipeline::load(dir, analyzer)
            .map_err(|source| LoadError::Sentiment { path: dir.to_path_buf(), source })?;
        Ok(ServedSentiment { id: dir_name(dir), pipeline })
    }
}

/// Everything the server serves.
#[derive(Debug, Clone)]
pub struct Models {
    /// Language models, in the order given; the first is the default.
    pub language: Vec<Arc<ServedChatModel>>,
    /// The sentiment model, if one was loaded.
    pub sentiment: Option<Arc<ServedSentiment>>,
}

impl Models {
    /// Loads language model directories (ids from their names, made unique) and, if given, a
    /// sentiment directory.
    ///
    /// # Errors
    /// [`LoadError::NoLanguageModel`] for an empty list; any loader's error.
    pub fn load(model_dirs: &[PathBuf], sentiment_dir: Option<&Path>) -> Result<Self, LoadError> {
        if model_dirs.is_empty() {
            return Err(LoadError::NoLanguageModel);
        }
        let mut language: Vec<Arc<ServedChatModel>> = Vec::new();
        for dir in model_dirs {
            let base = dir_name(dir);
            let mut id = base.clone();
            let mut n = 1;
            while language.iter().any(|m| m.id == id) || sentiment_dir.is_some_and(|s| dir_name(s) == id) {
                n += 1;
                id = format!("{base}-{n}");
            }
            language.push(Arc::new(ServedChatModel::load(id, dir)?));
        }
        let sentiment = sentiment_dir.map(ServedSentiment::load).transpose()?.map(Arc::new);
        Ok(Models { language, sentiment })
    }

    /// The language model `id`, or the default one for `None`.
    pub fn language_model(&self, id: Option<&str>) -> Option<&Arc<ServedChatModel>> {
        match id {
            None => self.language.first(),
            Some(id) => self.language.iter().find(|m| m.id == id),
        }
    }
}

/// A directory's last component (`models/gpt` → `gpt`), `model` if it has none.
fn dir_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(dir)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

/// OpenAI's name of a role, as chat templates read it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// A conversation's messages as the template takes them.
pub fn chat_messages(messages: &[crate::api::Message]) -> Vec<ChatMessage> {
    messages.iter().map(|m| ChatMessage::new(m.role, m.content.clone())).collect()
}
