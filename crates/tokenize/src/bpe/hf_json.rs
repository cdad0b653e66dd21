//! Reading and writing Hugging Face `tokenizer.json` files for byte-level BPE.
//!
//! Supported: `model` of type `BPE` (merges as `"a b"` strings or `["a", "b"]` pairs),
//! `added_tokens`, a `ByteLevel` pre-tokenizer and decoder, no normalizer, no truncation or
//! padding, and the post-processors of [`PostProcessor`]. Anything else is reported as a
//! [`BpeError::Format`] naming the field, never silently ignored.

use std::fs;
use std::path::Path;

use rustc_hash::FxHashMap;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::added_tokens::{AddedToken, AddedVocabulary};
use super::error::{BpeError, Result};
use super::model::BpeModel;
use super::post_process::PostProcessor;
use super::pretokenize::ByteLevelPreTokenizer;
use super::tokenizer::ByteLevelBpe;

/// The top level of `tokenizer.json`, as read.
#[derive(Deserialize)]
struct TokenizerFile {
    #[serde(default)]
    truncation: Value,
    #[serde(default)]
    padding: Value,
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
    #[serde(default)]
    dropout: Option<f64>,
    #[serde(default)]
    unk_token: Option<String>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    fuse_unk: bool,
    #[serde(default)]
    byte_fallback: bool,
    #[serde(default)]
    ignore_merges: bool,
    vocab: FxHashMap<String, u32>,
    merges: Vec<MergeFile>,
}

/// One merge: `"a b"` (older files) or `["a", "b"]` (newer files).
#[derive(Deserialize)]
#[serde(untagged)]
enum MergeFile {
    Joined(String),
    Pair([String; 2]),
}

/// Reads a tokenizer from `tokenizer.json` text; `source` names it in errors.
pub(crate) fn from_json_str(json: &str, source: &Path) -> Result<ByteLevelBpe> {
    let file: TokenizerFile =
        serde_json::from_str(json).map_err(|e| BpeError::Json { path: source.to_path_buf(), source: e })?;
    let format_error = |message: String| BpeError::Format { path: source.to_path_buf(), message };
    require_null(&file.truncation, "truncation").map_err(format_error)?;
    require_null(&file.padding, "padding").map_err(format_error)?;
    require_null(&file.normalizer, "normalizer").map_err(format_error)?;
    let pre_tokenizer = byte_level_component(file.pre_tokenizer, "pre_tokenizer").map_err(format_error)?;
    let decoder = byte_level_component(file.decoder, "decoder").map_err(format_error)?;
    let post_processor = PostProcessor::from_json(file.post_processor).map_err(format_error)?;
    let model = model_from_file(file.model, source)?;
    for token in &file.added_tokens {
        check_added_token(token, &model).map_err(format_error)?;
    }
    let added = AddedVocabulary::new(file.added_tokens).map_err(format_error)?;
    Ok(ByteLevelBpe::from_parts(model, added, pre_tokenizer, decoder, post_processor))
}

/// Reads a tokenizer from a `tokenizer.json` file.
pub(crate) fn from_file(path: &Path) -> Result<ByteLevelBpe> {
    let json = fs::read_to_string(path).map_err(|e| BpeError::Io { path: path.to_path_buf(), source: e })?;
    from_json_str(&json, path)
}

/// An added token must agree with the vocabulary on its id, both ways.
fn check_added_token(token: &AddedToken, model: &BpeModel) -> std::result::Result<(), String> {
    check_added_token_with(token, model.token_to_id(&token.content), model.id_to_token(token.id))
}

/// Checks an added token against what the vocabulary says of its content and of its id.
pub(crate) fn check_added_token_with(
    token: &AddedToken,
    model_id: Option<u32>,
    model_token: Option<&str>,
) -> std::result::Result<(), String> {
    if let Some(model_id) = model_id.filter(|&id| id != token.id) {
        return Err(format!(
            "added token {:?} has id {} but model.vocab gives it id {model_id}",
            token.content, token.id
        ));
    }
    if let Some(other) = model_token.filter(|&other| other != token.content) {
        return Err(format!(
            "added token {:?} has id {}, which model.vocab gives to {other:?}",
            token.content, token.id
        ));
    }
    Ok(())
}

fn require_null(value: &Value, field: &str) -> std::result::Result<(), String> {
    match value {
        Value::Null => Ok(()),
        _ => Err(format!("{field} must be null: this crate does not implement it (found {value})")),
    }
}

/// Reads a pre-tokenizer or decoder, which must be `ByteLevel`.
fn byte_level_component(value: Value, field: &str) -> std::result::Result<ByteLevelPreTokenizer, String> {
    match value.get("type").and_then(Value::as_str) {
        Some("ByteLevel") => serde_json::from_value(value).map_err(|e| format!("{field}: {e}")),
        Some(other) => Err(format!("{field} type {other:?} is not supported (only ByteLevel)")),
        None => Err(format!("{field} must be a ByteLevel object, found {value}")),
    }
}

fn model_from_file(model: ModelFile, source: &Path) -> Result<BpeModel> {
    let unsupported = |message: &str| BpeError::Format { path: source.to_path_buf(), message: message.to_owned() };
    match model.kind.as_deref() {
        None | Some("BPE") => {}
        Some(other) => return Err(unsupported(&format!("model type {other:?} is not BPE"))),
    }
    if model.dropout.is_some() {
        return Err(unsupported("model.dropout is not supported (must be null)"));
    }
    if model.byte_fallback {
        return Err(unsupported("model.byte_fallback is not supported by byte-level BPE"));
    }
    // GPT-2's and RoBERTa's files spell "none" as an empty string.
    let affixes = [&model.continuing_subword_prefix, &model.end_of_word_suffix];
    if affixes.iter().any(|affix| affix.as_deref().is_some_and(|a| !a.is_empty())) {
        return Err(unsupported(
            "model.continuing_subword_prefix and end_of_word_suffix are not supported (must be null or \"\")",
        ));
    }
    let merges = model
        .merges
        .into_iter()
        .enumerate()
        .map(|(rank, merge)| match merge {
            MergeFile::Pair([a, b]) => Ok((a, b)),
            MergeFile::Joined(joined) => match joined.split_once(' ') {
                Some((a, b)) if !b.contains(' ') => Ok((a.to_owned(), b.to_owned())),
                _ => Err(unsupported(&format!(
                    "model.merges[{rank}] = {joined:?} is not two tokens separated by a space"
                ))),
            },
        })
        .collect::<Result<Vec<_>>>()?;
    BpeModel::new(model.vocab, &merges, model.unk_token, model.fuse_unk, model.ignore_merges, source)
}

/// The top level of `tokenizer.json`, as written (same key order as `tokenizers`).
#[derive(Serialize)]
struct TokenizerOut<'a> {
    version: &'static str,
    truncation: Option<()>,
    padding: Option<()>,
    added_tokens: &'a [AddedToken],
    normalizer: Option<()>,
    pre_tokenizer: Tagged<'a>,
    post_processor: &'a Value,
    decoder: Tagged<'a>,
    model: ModelOut<'a>,
}

/// A ByteLevel component with its `"type"` tag first.
#[derive(Serialize)]
struct Tagged<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    settings: &'a ByteLevelPreTokenizer,
}

#[derive(Serialize)]
struct ModelOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    dropout: Option<f64>,
    unk_token: Option<&'a str>,
    continuing_subword_prefix: Option<&'a str>,
    end_of_word_suffix: Option<&'a str>,
    fuse_unk: bool,
    byte_fallback: bool,
    ignore_merges: bool,
    vocab: VocabOut<'a>,
    merges: Vec<[&'a str; 2]>,
}

/// The vocabulary, written in id order.
struct VocabOut<'a>(&'a BpeModel);

impl Serialize for VocabOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (token, id) in self.0.tokens_by_id() {
            map.serialize_entry(token, &id)?;
        }
        map.end()
    }
}

/// The tokenizer as `tokenizer.json` text (pretty-printed, as `tokenizers` saves it).
pub(crate) fn to_json_string(tokenizer: &ByteLevelBpe) -> serde_json::Result<String> {
    let model = tokenizer.model();
    let out = TokenizerOut {
        version: "1.0",
        truncation: None,
        padding: None,
        added_tokens: tokenizer.added_tokens(),
        normalizer: None,
        pre_tokenizer: Tagged { kind: "ByteLevel", settings: tokenizer.pre_tokenizer() },
        post_processor: &tokenizer.post_processor().json,
        decoder: Tagged { kind: "ByteLevel", settings: tokenizer.decoder() },
        model: ModelOut {
            kind: "BPE",
            dropout: None,
            unk_token: model.unk_token(),
            continuing_subword_prefix: None,
            end_of_word_suffix: None,
            fuse_unk: model.fuse_unk(),
            byte_fallback: false,
            ignore_merges: model.ignore_merges(),
            vocab: VocabOut(model),
            merges: model.merges_as_tokens().map(|(a, b)| [a, b]).collect(),
        },
    };
    serde_json::to_string_pretty(&out)
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename.
pub(crate) fn write_atomically(path: &Path, text: &str) -> Result<()> {
    malmoi_fs::write_atomically(path, text.as_bytes())
        .map_err(|source| BpeError::Io { path: path.to_path_buf(), source })
}
