//! [`Tokenizer`]: Hugging Face's tokenizer pipeline behind malmoi's API and errors.

use std::path::Path;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;
use tokenizers::{
    EncodeInput, NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
};

use super::added::AddedToken;
use super::components::find_unknown;
use super::encoding::Encoding;
use super::error::{Result, TokenizerError};
use super::padding::Padding;
use super::scores::match_reference;
use super::truncation::Truncation;
use super::untrusted::untrusted_copy;
use super::vocabulary::Vocabulary;

/// Where JSON given as a string or bytes comes from, in error messages.
const MEMORY: &str = "<memory>";

/// A complete Hugging Face tokenizer: normalizer → pre-tokenizer → model → post-processor,
/// decoder, added tokens, truncation and padding, read from and written to `tokenizer.json`.
///
/// Every component `tokenizers` 0.23 has is supported (normalizers NFC…NFKD, Lowercase, Strip,
/// Replace, Prepend, BertNormalizer, Precompiled, Sequence; pre-tokenizers ByteLevel, Metaspace,
/// Split, Whitespace, Punctuation, Digits, BertPreTokenizer, Sequence…; models BPE, WordPiece,
/// Unigram, WordLevel; post-processors TemplateProcessing, ByteLevel, BertProcessing,
/// RobertaProcessing, Sequence; every decoder), because the pipeline *is* Hugging Face's own
/// Rust crate, built with its pure-Rust regex engine (docs/architecture.md says why).
/// Encoding is `&self` and thread-safe.
///
/// ```
/// use malmoi_tokenize::tokenizer::Tokenizer;
///
/// let json = r#"{
///   "version": "1.0", "truncation": null, "padding": null,
///   "added_tokens": [{"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false,
///                     "rstrip": false, "normalized": false, "special": true}],
///   "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"},
///   "post_processor": null, "decoder": null,
///   "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "영화": 1, "good": 2, "[SEP]": 3}, "unk_token": "[UNK]"}
/// }"#;
/// let tokenizer = Tokenizer::from_json_str(json)?;
/// let encoding = tokenizer.encode("영화 GOOD [SEP]", true)?;
/// assert_eq!(encoding.ids, [1, 2, 3]);
/// assert_eq!(encoding.offsets[1], (7, 11)); // byte offsets into the text
/// assert_eq!(tokenizer.encode_untrusted("[SEP]", true)?.ids, [0, 0, 0]); // "[", "sep", "]"
/// assert_eq!(tokenizer.decode(&encoding.ids, true)?, "영화 good");
/// # Ok::<(), malmoi_tokenize::tokenizer::TokenizerError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    /// The same tokenizer with special tokens not recognised in text, made on first use.
    untrusted: OnceLock<std::result::Result<tokenizers::Tokenizer, String>>,
    vocabulary: Vocabulary,
}

impl Tokenizer {
    /// Wraps a `tokenizers` tokenizer.
    pub fn from_hf(inner: tokenizers::Tokenizer) -> Self {
        let vocabulary = Vocabulary::of(&inner);
        Self { inner, untrusted: OnceLock::new(), vocabulary }
    }

    /// Loads a `tokenizer.json`. Errors name the file and, for a component of an unknown type,
    /// the component, its type and where it sits.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io { path: path.to_path_buf(), source })?;
        parse(&bytes, path)
    }

    /// Reads `tokenizer.json` text (errors name the source `<memory>`).
    pub fn from_json_str(json: &str) -> Result<Self> {
        parse(json.as_bytes(), Path::new(MEMORY))
    }

    /// Reads `tokenizer.json` bytes (errors name the source `<memory>`).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Self> {
        parse(bytes.as_ref(), Path::new(MEMORY))
    }

    /// Builds a tokenizer from a `tokenizer.json` value (what a trainer assembles).
    pub fn from_json_value(mut json: Value) -> Result<Self> {
        match_reference(&mut json);
        from_value(&json, Path::new(MEMORY))
    }

    /// The tokenizer as pretty-printed `tokenizer.json` text, as Python `tokenizers` saves it.
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(&self.inner)
            .map_err(|source| TokenizerError::Json { path: Path::new(MEMORY).to_path_buf(), source })
    }

    /// Saves the tokenizer as `tokenizer.json`, atomically (a temporary file, then a rename).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_string_pretty(&self.inner)
            .map_err(|source| TokenizerError::Json { path: path.to_path_buf(), source })?;
        malmoi_fs::write_atomically(path, json.as_bytes())
            .map_err(|source| TokenizerError::Io { path: path.to_path_buf(), source })
    }

    /// The wrapped `tokenizers` tokenizer, for what this API does not cover.
    pub fn as_hf(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Encodes one text, recognising added tokens in it (`"<|endoftext|>"` becomes that token);
    /// `add_special_tokens` lets the post-processor add its tokens (`[CLS] … [SEP]`, `<s>`).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Encoding> {
        encode_with(&self.inner, text, add_special_tokens)
    }

    /// Encodes text from a user: special tokens written in it are *not* recognised but encoded as
    /// ordinary text (`tokenizers`' `encode_special_tokens`, OpenAI's `disallowed_special=()`),
    /// so a user cannot inject `<|endoftext|>` or `[SEP]`. Unlike `tokenizers`, the model cannot
    /// produce them either (XLM-R's Unigram would match `<s>` as a piece); only the unknown token
    /// can still stand for what the model cannot spell. Added tokens that are not special are
    /// still recognised; `add_special_tokens` still lets the post-processor add its tokens; text
    /// without special tokens encodes exactly as with [`encode`](Self::encode). The first call
    /// builds that private copy of the tokenizer (a second vocabulary in memory).
    pub fn encode_untrusted(&self, text: &str, add_special_tokens: bool) -> Result<Encoding> {
        encode_with(self.untrusted()?, text, add_special_tokens)
    }

    /// The ids of [`encode_untrusted`](Self::encode_untrusted).
    pub fn encode_ids_untrusted(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        encode_ids_with(self.untrusted()?, text, add_special_tokens)
    }

    /// The copy of the tokenizer for untrusted text, made on first use.
    fn untrusted(&self) -> Result<&tokenizers::Tokenizer> {
        let copy = self.untrusted.get_or_init(|| {
            let specials: Vec<&str> = self.special_tokens().map(|token| token.content.as_str()).collect();
            untrusted_copy(&self.inner, &specials).map_err(|e| e.to_string())
        });
        copy.as_ref().map_err(|message| TokenizerError::Invalid(message.clone()))
    }

    /// Encodes a pair of texts (`[CLS] a [SEP] b [SEP]` with type ids 0 then 1 for BERT).
    pub fn encode_pair(&self, first: &str, second: &str, add_special_tokens: bool) -> Result<Encoding> {
        let encoding = self
            .inner
            .encode((first, second), add_special_tokens)
            .map_err(|e| TokenizerError::tokenizers("encode_pair", e))?;
        Ok(encoding.into())
    }

    /// Encodes many texts in parallel (rayon), in order, padded together if padding is set.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S], add_special_tokens: bool) -> Result<Vec<Encoding>> {
        let inputs: Vec<EncodeInput> = texts.iter().map(|text| text.as_ref().into()).collect();
        let encodings = self
            .inner
            .encode_batch(inputs, add_special_tokens)
            .map_err(|e| TokenizerError::tokenizers("encode_batch", e))?;
        Ok(encodings.into_iter().map(Encoding::from).collect())
    }

    /// Encodes many pairs of texts in parallel, in order, padded together if padding is set.
    pub fn encode_pair_batch<A, B>(&self, pairs: &[(A, B)], add_special_tokens: bool) -> Result<Vec<Encoding>>
    where
        A: AsRef<str> + Sync,
        B: AsRef<str> + Sync,
    {
        let inputs: Vec<EncodeInput> = pairs.iter().map(|(a, b)| (a.as_ref(), b.as_ref()).into()).collect();
        let encodings = self
            .inner
            .encode_batch(inputs, add_special_tokens)
            .map_err(|e| TokenizerError::tokenizers("encode_pair_batch", e))?;
        Ok(encodings.into_iter().map(Encoding::from).collect())
    }

    /// The ids of [`encode`](Self::encode), without computing offsets.
    pub fn encode_ids(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        encode_ids_with(&self.inner, text, add_special_tokens)
    }

    /// The ids of [`encode_batch`](Self::encode_batch), in parallel, without computing offsets.
    pub fn encode_batch_ids<S: AsRef<str> + Sync>(
        &self,
        texts: &[S],
        add_special_tokens: bool,
    ) -> Result<Vec<Vec<u32>>> {
        let inputs: Vec<EncodeInput> = texts.iter().map(|text| text.as_ref().into()).collect();
        let encodings = self
            .inner
            .encode_batch_fast(inputs, add_special_tokens)
            .map_err(|e| TokenizerError::tokenizers("encode_batch_ids", e))?;
        Ok(encodings.into_iter().map(|encoding| encoding.get_ids().to_vec()).collect())
    }

    /// The normalizer alone applied to `text` (`text` itself without one), as Python's
    /// `tokenizer.normalizer.normalize_str`.
    pub fn normalize_str(&self, text: &str) -> Result<String> {
        let mut normalized = NormalizedString::from(text);
        if let Some(normalizer) = self.inner.get_normalizer() {
            normalizer.normalize(&mut normalized).map_err(|e| TokenizerError::tokenizers("normalize", e))?;
        }
        Ok(normalized.get().to_owned())
    }

    /// The pre-tokenizer alone applied to `text` (one piece without one): each piece with its
    /// byte range in `text`, as Python's `tokenizer.pre_tokenizer.pre_tokenize_str` (which gives
    /// character ranges).
    pub fn pre_tokenize_str(&self, text: &str) -> Result<Vec<(String, (usize, usize))>> {
        let mut pieces = PreTokenizedString::from(text);
        if let Some(pre_tokenizer) = self.inner.get_pre_tokenizer() {
            pre_tokenizer.pre_tokenize(&mut pieces).map_err(|e| TokenizerError::tokenizers("pre_tokenize", e))?;
        }
        let splits = pieces.get_splits(OffsetReferential::Original, OffsetType::Byte);
        Ok(splits.into_iter().map(|(piece, offsets, _)| (piece.to_owned(), offsets)).collect())
    }

    /// Decodes ids into text through the decoder, leaving out special tokens if `skip_special_tokens`.
    ///
    /// An id outside the vocabulary is an error (Python `tokenizers` silently drops it).
    /// Byte sequences that are not UTF-8 become U+FFFD, as in `tokenizers`.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        if let Some(&id) = ids.iter().find(|&&id| !self.is_known(id)) {
            return Err(TokenizerError::UnknownId { id, max_token_id: self.max_token_id() });
        }
        self.inner.decode(ids, skip_special_tokens).map_err(|e| TokenizerError::tokenizers("decode", e))
    }

    /// Whether `id` names a token (of the model or an added one).
    pub fn is_known(&self, id: u32) -> bool {
        self.vocabulary.known.contains(id)
    }

    /// Whether the decoder turns `<0x..>` byte tokens into bytes (SentencePiece's byte fallback).
    pub(crate) fn has_byte_fallback_decoder(&self) -> bool {
        self.vocabulary.byte_fallback_decoder
    }

    /// Whether the decoder maps GPT-2's byte-level characters back to bytes.
    pub(crate) fn has_byte_level_decoder(&self) -> bool {
        self.vocabulary.byte_level_decoder
    }

    /// Whether the decoder is ByteLevel alone, which decodes all tokens' bytes as one string.
    pub(crate) fn has_plain_byte_level_decoder(&self) -> bool {
        self.vocabulary.plain_byte_level_decoder
    }

    /// The id of a token (added tokens first, then the model's vocabulary).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The token with this id, as the vocabulary spells it.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The vocabulary, token → id, with or without the added tokens.
    pub fn vocab(&self, with_added_tokens: bool) -> std::collections::HashMap<String, u32> {
        self.inner.get_vocab(with_added_tokens)
    }

    /// Number of tokens: the model's vocabulary plus the added tokens that are not in it
    /// (`tokenizers`' `get_vocab_size(with_added_tokens=True)`).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The largest id of the vocabulary and the added tokens (`None` if there are no tokens);
    /// an embedding needs `max_token_id + 1` rows.
    pub fn max_token_id(&self) -> Option<u32> {
        self.vocabulary.known.max()
    }

    /// The added tokens, special or not, by id.
    pub fn added_tokens(&self) -> &[AddedToken] {
        &self.vocabulary.added
    }

    /// The special tokens (`<|endoftext|>`, `[CLS]`…), by id.
    pub fn special_tokens(&self) -> impl Iterator<Item = &AddedToken> {
        self.vocabulary.added.iter().filter(|token| token.special)
    }

    /// Whether `id` is a special added token.
    pub fn is_special(&self, id: u32) -> bool {
        self.vocabulary
            .added
            .binary_search_by_key(&id, |token| token.id)
            .is_ok_and(|i| self.vocabulary.added[i].special)
    }

    /// The truncation applied to every encoding, if any.
    pub fn truncation(&self) -> Option<Truncation> {
        self.inner.get_truncation().map(Truncation::from_hf)
    }

    /// Sets (or with `None` removes) truncation. A `stride` too large for `max_length` is an error.
    pub fn set_truncation(&mut self, truncation: Option<Truncation>) -> Result<()> {
        self.inner
            .with_truncation(truncation.as_ref().map(Truncation::to_hf))
            .map_err(|e| TokenizerError::tokenizers("set_truncation", e))?;
        self.untrusted = OnceLock::new();
        Ok(())
    }

    /// The padding applied to encodings, if any.
    pub fn padding(&self) -> Option<Padding> {
        self.inner.get_padding().map(Padding::from_hf)
    }

    /// Sets (or with `None` removes) padding.
    pub fn set_padding(&mut self, padding: Option<Padding>) {
        self.inner.with_padding(padding.as_ref().map(Padding::to_hf));
        self.untrusted = OnceLock::new();
    }
}

fn encode_with(tokenizer: &tokenizers::Tokenizer, text: &str, add_special_tokens: bool) -> Result<Encoding> {
    let encoding = tokenizer.encode(text, add_special_tokens).map_err(|e| TokenizerError::tokenizers("encode", e))?;
    Ok(encoding.into())
}

fn encode_ids_with(tokenizer: &tokenizers::Tokenizer, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
    let encoding =
        tokenizer.encode_fast(text, add_special_tokens).map_err(|e| TokenizerError::tokenizers("encode", e))?;
    Ok(encoding.get_ids().to_vec())
}

/// Parses `tokenizer.json` bytes read from `path`: JSON syntax first (errors with line and
/// column), then `tokenizers`' reading of the value.
fn parse(bytes: &[u8], path: &Path) -> Result<Tokenizer> {
    let mut json: Value =
        serde_json::from_slice(bytes).map_err(|source| TokenizerError::Json { path: path.to_path_buf(), source })?;
    match_reference(&mut json);
    from_value(&json, path)
}

/// `tokenizers`' reading of a parsed `tokenizer.json`. It panics on some malformed components
/// (a decoder whose JSON it cannot re-read, a bad `Precompiled` charsmap); such a panic is
/// caught and reported as a JSON error naming the file.
fn from_value(json: &Value, path: &Path) -> Result<Tokenizer> {
    match std::panic::catch_unwind(|| tokenizers::Tokenizer::deserialize(json)) {
        Ok(Ok(inner)) => Ok(Tokenizer::from_hf(inner)),
        Ok(Err(source)) => Err(explain(json, path, source)),
        Err(panic) => {
            let message = panic.downcast_ref::<&str>().copied().map(str::to_owned);
            let message = message.or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
            let source = serde::de::Error::custom(format!("tokenizers cannot read it ({message})"));
            Err(TokenizerError::Json { path: path.to_path_buf(), source })
        }
    }
}

/// The error for JSON that `tokenizers` refused: an unknown component if there is one, else its message.
fn explain(json: &Value, path: &Path, source: serde_json::Error) -> TokenizerError {
    match find_unknown(json) {
        Some(unknown) => TokenizerError::UnknownComponent {
            path: path.to_path_buf(),
            component: unknown.component,
            type_name: unknown.type_name,
            location: unknown.location,
            known: unknown.known,
        },
        None => TokenizerError::Json { path: path.to_path_buf(), source },
    }
}
