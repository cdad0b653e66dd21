//! Reading and writing Hugging Face `tokenizer.json` files with a WordPiece model.
//!
//! Supported: `model` of type `WordPiece`, `added_tokens`, a `BertNormalizer` (or none), a
//! `BertPreTokenizer`, `TemplateProcessing` / `BertProcessing` (or no) post-processor, a
//! `WordPiece` decoder (or none), `truncation` and `padding`. Anything else is a
//! [`WordPieceError::Format`] naming the field, never silently ignored.

use std::fs;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::error::{Result, WordPieceError};
use super::model::WordPieceModel;
use super::normalizer::BertNormalizer;
use super::padding::Padding;
use super::post_process::PostProcessor;
use super::tokenizer::{Decoder, WordPiece};
use super::truncation::Truncation;
use crate::bpe::AddedToken;
use crate::bpe::added_tokens::AddedVocabulary;
use crate::bpe::hf_json::{check_added_token_with, write_atomically};

/// The top level of `tokenizer.json`, as read.
#[derive(Deserialize)]
struct TokenizerFile {
    #[serde(default)]
    truncation: Option<Truncation>,
    #[serde(default)]
    padding: Option<Padding>,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
    #[serde(default)]
    normalizer: Value,
    #[serde(default)]
    pre_tokenizer: Value,
    #[serde(default)]
    post_processor: Value,
    #[serde(default)]
    decoder: Value,
    model: ModelFile,
}

/// `tokenizer.json`'s `model`, as read.
#[derive(Deserialize)]
struct ModelFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    unk_token: String,
    #[serde(default = "default_prefix")]
    continuing_subword_prefix: String,
    #[serde(default = "default_max_chars")]
    max_input_chars_per_word: usize,
    vocab: FxHashMap<String, u32>,
}

fn default_prefix() -> String {
    "##".to_owned()
}

fn default_max_chars() -> usize {
    100
}

/// Reads a tokenizer from a `tokenizer.json` file.
pub(crate) fn from_file(path: &Path) -> Result<WordPiece> {
    let json = fs::read_to_string(path).map_err(|e| WordPieceError::Io { path: path.to_path_buf(), source: e })?;
    from_json_str(&json, path)
}

/// Reads a tokenizer from `tokenizer.json` text; `source` names it in errors.
pub(crate) fn from_json_str(json: &str, source: &Path) -> Result<WordPiece> {
    let file: TokenizerFile =
        serde_json::from_str(json).map_err(|e| WordPieceError::Json { path: source.to_path_buf(), source: e })?;
    parts(file).map_err(|message| WordPieceError::Format { path: source.to_path_buf(), message })
}

fn parts(file: TokenizerFile) -> std::result::Result<WordPiece, String> {
    match file.model.kind.as_deref() {
        None | Some("WordPiece") => {}
        Some(other) => return Err(format!("model type {other:?} is not WordPiece")),
    }
    let normalizer = component(file.normalizer, "normalizer", "BertNormalizer")?;
    let pre_tokenizer: Option<Value> = component(file.pre_tokenizer, "pre_tokenizer", "BertPreTokenizer")?;
    if pre_tokenizer.is_none() {
        return Err("pre_tokenizer must be BertPreTokenizer (found null)".into());
    }
    let decoder = component(file.decoder, "decoder", "WordPiece")?;
    let post_processor = PostProcessor::from_json(file.post_processor)?;
    let model = file.model;
    let model = WordPieceModel::new(
        model.vocab,
        model.unk_token,
        model.continuing_subword_prefix,
        model.max_input_chars_per_word,
    )
    .map_err(|e| format!("model: {e}"))?;
    for token in &file.added_tokens {
        check_added_token_with(token, model.token_to_id(&token.content), model.id_to_token(token.id))?;
    }
    let added = AddedVocabulary::new(file.added_tokens)?;
    Ok(WordPiece {
        model,
        added,
        normalizer,
        post_processor,
        decoder,
        truncation: file.truncation,
        padding: file.padding,
    })
}

/// A component that is `null` or an object of type `kind` (its settings parsed into `T`).
fn component<T: serde::de::DeserializeOwned>(
    value: Value,
    field: &str,
    kind: &str,
) -> std::result::Result<Option<T>, String> {
    match value.get("type").and_then(Value::as_str) {
        None if value.is_null() => Ok(None),
        Some(found) if found == kind => serde_json::from_value(value).map(Some).map_err(|e| format!("{field}: {e}")),
        Some(other) => Err(format!("{field} type {other:?} is not supported (only {kind})")),
        None => Err(format!("{field} must be a {kind} object or null, found {value}")),
    }
}

/// The top level of `tokenizer.json`, as written (same key order as `tokenizers`).
#[derive(Serialize)]
struct TokenizerOut<'a> {
    version: &'static str,
    truncation: Option<&'a Truncation>,
    padding: Option<&'a Padding>,
    added_tokens: &'a [AddedToken],
    normalizer: Option<Tagged<'a, BertNormalizer>>,
    pre_tokenizer: Tagged<'a, Empty>,
    post_processor: &'a Value,
    decoder: Option<Tagged<'a, Decoder>>,
    model: ModelOut<'a>,
}

/// A component with its `"type"` tag first.
#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    settings: &'a T,
}

/// A component without settings.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct ModelOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    unk_token: &'a str,
    continuing_subword_prefix: &'a str,
    max_input_chars_per_word: usize,
    vocab: VocabOut<'a>,
}

/// The vocabulary, written in id order.
struct VocabOut<'a>(&'a WordPieceModel);

impl Serialize for VocabOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let tokens = self.0.tokens_by_id();
        let mut map = serializer.serialize_map(Some(tokens.len()))?;
        for (token, id) in tokens {
            map.serialize_entry(token, &id)?;
        }
        map.end()
    }
}

/// The tokenizer as `tokenizer.json` text (pretty-printed, as `tokenizers` saves it).
pub(crate) fn to_json_string(tokenizer: &WordPiece) -> serde_json::Result<String> {
    let model = &tokenizer.model;
    let out = TokenizerOut {
        version: "1.0",
        truncation: tokenizer.truncation.as_ref(),
        padding: tokenizer.padding.as_ref(),
        added_tokens: tokenizer.added.tokens(),
        normalizer: tokenizer.normalizer.as_ref().map(|settings| Tagged { kind: "BertNormalizer", settings }),
        pre_tokenizer: Tagged { kind: "BertPreTokenizer", settings: &Empty {} },
        post_processor: &tokenizer.post_processor.json,
        decoder: tokenizer.decoder.as_ref().map(|settings| Tagged { kind: "WordPiece", settings }),
        model: ModelOut {
            kind: "WordPiece",
            unk_token: model.unk_token(),
            continuing_subword_prefix: model.prefix(),
            max_input_chars_per_word: model.max_input_chars_per_word(),
            vocab: VocabOut(model),
        },
    };
    serde_json::to_string_pretty(&out)
}

/// Writes the tokenizer to `path` atomically.
pub(crate) fn save(tokenizer: &WordPiece, path: &Path) -> Result<()> {
    let json = to_json_string(tokenizer).map_err(|source| WordPieceError::Json { path: path.to_path_buf(), source })?;
    write_atomically(path, &json).map_err(|e| match e {
        crate::bpe::BpeError::Io { path, source } => WordPieceError::Io { path, source },
        other => WordPieceError::Config(other.to_string()),
    })
}
