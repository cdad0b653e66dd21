//! Typed errors of the transformer crate.

use std::path::PathBuf;

/// Everything that can go wrong in `malmoi-transformer`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shapes, ids out of range, checkpoint problems…).
    #[error(transparent)]
    Tensor(#[from] malmoi_tensor::Error),
    /// A tokenizer file or an id the tokenizer refused (boxed: it is large).
    #[error(transparent)]
    Tokenizer(Box<malmoi_tokenize::TokenizerError>),
    /// A chat template that is missing, does not compile, or refused a conversation.
    #[error(transparent)]
    ChatTemplate(Box<malmoi_tokenize::chat_template::ChatTemplateError>),
    /// The training engine: a checkpoint, a log, a non-finite loss or metric.
    #[error(transparent)]
    Train(#[from] malmoi_train::Error),
    /// A LoRA adapter or configuration refused (a target matching nothing, a rank too large, an
    /// adapter for another base, an unsupported `adapter_config.json` key…): what every
    /// [`LoraModel`](crate::lora::LoraModel) method reports beside file and checkpoint errors.
    #[error(transparent)]
    Lora(#[from] malmoi_tensor::nn::lora::LoraError),
    /// A configuration value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Config(String),
    /// `config.json` holds a key this crate does not know, or a known key with a value whose
    /// meaning it does not implement.
    #[error("config.json: unsupported key `{key}`{}", if .reason.is_empty() { String::new() } else { format!(": {}", .reason) })]
    UnsupportedConfigKey {
        /// The key.
        key: String,
        /// Why it is refused (empty for an unknown key).
        reason: String,
    },
    /// A checkpoint lacks a tensor the model needs.
    #[error("checkpoint {path}: missing tensor `{name}`")]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// A checkpoint holds a tensor the model has no place for.
    #[error("checkpoint {path}: unexpected tensor `{name}`")]
    UnexpectedTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },
    /// Input ids or a prompt the model cannot take.
    #[error("invalid input: {0}")]
    Input(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file could not be parsed.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// An [`Error::Json`] for `path`.
    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> Error {
        let path = path.into();
        move |source| Error::Json { path, source }
    }
}

impl From<malmoi_tokenize::TokenizerError> for Error {
    fn from(error: malmoi_tokenize::TokenizerError) -> Self {
        Error::Tokenizer(Box::new(error))
    }
}

impl From<malmoi_tokenize::chat_template::ChatTemplateError> for Error {
    fn from(error: malmoi_tokenize::chat_template::ChatTemplateError) -> Self {
        Error::ChatTemplate(Box::new(error))
    }
}
