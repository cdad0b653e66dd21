//! [`ByteLevelBpe`]: the tokenizer users hold, tying added tokens, the ByteLevel
//! pre-tokenizer, the BPE model and the post-processor together.

use std::path::Path;

use rayon::prelude::*;

use super::added_tokens::{AddedToken, AddedVocabulary, Segment};
use super::byte_level::char_to_byte;
use super::error::{BpeError, Result};
use super::hf_json;
use super::model::BpeModel;
use super::post_process::PostProcessor;
use super::pretokenize::ByteLevelPreTokenizer;

/// The result of encoding one text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids, in order.
    pub ids: Vec<u32>,
    /// The token of each id, in the vocabulary's byte-level spelling (`Ġ` for a space).
    pub tokens: Vec<String>,
}

/// A GPT-2 style byte-level BPE tokenizer, compatible with Hugging Face `tokenizer.json`.
///
/// Text is first split around added tokens (`<pad>`, `</s>`…), the rest into GPT-2 words,
/// each word's UTF-8 bytes into byte symbols, which the ranked merges join into tokens.
/// Any UTF-8 text encodes and decodes back unchanged (unless the tokenizer adds a prefix
/// space or a post-processor adds tokens). Encoding is `&self` and thread-safe; words are
/// cached in a bounded cache shared by all threads.
///
/// ```
/// use malmoi_tokenize::bpe::{BpeTrainer, ByteLevelBpe};
///
/// let corpus = ["안녕하세요 세계", "hello world", "안녕 hello"];
/// let tokenizer: ByteLevelBpe = BpeTrainer::new()
///     .vocab_size(300)
///     .special_tokens(["<pad>", "</s>"])
///     .train(corpus)?;
/// let encoding = tokenizer.encode("안녕 world</s>")?;
/// assert_eq!(encoding.ids.last(), tokenizer.token_to_id("</s>").as_ref());
/// assert_eq!(encoding.tokens[1], "Ġworld");
/// assert_eq!(tokenizer.decode(&encoding.ids)?, "안녕 world</s>");
/// assert_eq!(tokenizer.decode_skip_special(&encoding.ids)?, "안녕 world");
/// # Ok::<(), malmoi_tokenize::bpe::BpeError>(())
/// ```
#[derive(Debug)]
pub struct ByteLevelBpe {
    model: BpeModel,
    added: AddedVocabulary,
    pre_tokenizer: ByteLevelPreTokenizer,
    decoder: ByteLevelPreTokenizer,
    post_processor: PostProcessor,
}

impl ByteLevelBpe {
    pub(crate) fn from_parts(
        model: BpeModel,
        added: AddedVocabulary,
        pre_tokenizer: ByteLevelPreTokenizer,
        decoder: ByteLevelPreTokenizer,
        post_processor: PostProcessor,
    ) -> Self {
        Self { model, added, pre_tokenizer, decoder, post_processor }
    }

    /// Loads a Hugging Face `tokenizer.json` of a byte-level BPE tokenizer.
    ///
    /// Errors name the file and what is wrong: unreadable, not JSON, a merge with a token
    /// outside the vocabulary, an unsupported component…
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        hf_json::from_file(path.as_ref())
    }

    /// Reads a tokenizer from `tokenizer.json` text (errors name the source `<memory>`).
    pub fn from_json_str(json: &str) -> Result<Self> {
        hf_json::from_json_str(json, Path::new("<memory>"))
    }

    /// The tokenizer as `tokenizer.json` text, loadable by Python `tokenizers`.
    pub fn to_json_string(&self) -> Result<String> {
        hf_json::to_json_string(self).map_err(|source| BpeError::Json { path: "<memory>".into(), source })
    }

    /// Saves the tokenizer as `tokenizer.json` (written to a temporary file, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json =
            hf_json::to_json_string(self).map_err(|source| BpeError::Json { path: path.to_path_buf(), source })?;
        hf_json::write_atomically(path, &json)
    }

    /// Encodes `text` into ids and tokens, adding the post-processor's tokens if any
    /// (like `tokenizers`' `encode(text)`). Empty text gives an empty encoding.
    pub fn encode(&self, text: &str) -> Result<Encoding> {
        let ids = self.encode_ids(text)?;
        let tokens = ids.iter().map(|&id| self.id_to_token(id).unwrap_or_default().to_owned()).collect();
        Ok(Encoding { ids, tokens })
    }

    /// Encodes `text` into ids only, skipping the token strings of [`encode`](Self::encode).
    pub fn encode_ids(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::with_capacity(text.len() / 2);
        let mut segments = Vec::new();
        self.added.split(text, &mut segments);
        for segment in segments {
            match segment {
                Segment::Token(id) => ids.push(id),
                Segment::Text(piece) => self.encode_text(piece, &mut ids)?,
            }
        }
        self.post_processor.apply(&mut ids);
        Ok(ids)
    }

    /// Pre-tokenizes a piece without added tokens and encodes its words.
    fn encode_text(&self, piece: &str, ids: &mut Vec<u32>) -> Result<()> {
        let mut result = Ok(());
        self.pre_tokenizer.for_each_word(piece, |word| {
            if result.is_ok() {
                result = self.model.encode_word(word.as_bytes(), ids);
            }
        });
        result
    }

    /// Encodes many texts in parallel (rayon's global pool), in order.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Encoding>> {
        texts.par_iter().map(|text| self.encode(text.as_ref())).collect()
    }

    /// Encodes many texts into ids in parallel, in order.
    pub fn encode_batch_ids<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>> {
        texts.par_iter().map(|text| self.encode_ids(text.as_ref())).collect()
    }

    /// Decodes ids back into text, special tokens included, so `decode(encode(s)) == s`.
    ///
    /// Byte sequences that are not UTF-8 (possible for arbitrary ids) become U+FFFD, as in
    /// `tokenizers`. An id outside the vocabulary is an error.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.decode_with(ids, false)
    }

    /// Decodes ids back into text without the special tokens (`tokenizers`' default).
    pub fn decode_skip_special(&self, ids: &[u32]) -> Result<String> {
        self.decode_with(ids, true)
    }

    fn decode_with(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        let mut bytes = Vec::with_capacity(ids.len() * 3);
        for &id in ids {
            if let Some(added) = self.added.get(id) {
                if !(skip_special && added.special) {
                    bytes.extend_from_slice(added.content.as_bytes());
                }
                continue;
            }
            let token = self.model.id_to_token(id).ok_or(BpeError::UnknownId { id, vocab_size: self.vocab_size() })?;
            push_token_bytes(token, &mut bytes);
        }
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The id of a token (added tokens first, then the vocabulary), in byte-level spelling.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.added.token_to_id(token).or_else(|| self.model.token_to_id(token))
    }

    /// The token with this id, in byte-level spelling.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        match self.added.get(id) {
            Some(added) => Some(&added.content),
            None => self.model.id_to_token(id),
        }
    }

    /// Number of tokens: the vocabulary plus added tokens that are not in it.
    pub fn vocab_size(&self) -> usize {
        let extra = self.added.tokens().iter().filter(|t| self.model.token_to_id(&t.content).is_none()).count();
        self.model.len() + extra
    }

    /// The added tokens (special tokens included), as in `tokenizer.json`.
    pub fn added_tokens(&self) -> &[AddedToken] {
        self.added.tokens()
    }

    /// The settings of the ByteLevel pre-tokenizer.
    pub fn pre_tokenizer(&self) -> &ByteLevelPreTokenizer {
        &self.pre_tokenizer
    }

    pub(crate) fn decoder(&self) -> &ByteLevelPreTokenizer {
        &self.decoder
    }

    pub(crate) fn model(&self) -> &BpeModel {
        &self.model
    }

    pub(crate) fn post_processor(&self) -> &PostProcessor {
        &self.post_processor
    }
}

/// Appends the bytes a vocabulary token stands for; a token with characters outside the
/// byte-level map stands for its own UTF-8 (as in `tokenizers`' ByteLevel decoder).
fn push_token_bytes(token: &str, bytes: &mut Vec<u8>) {
    let start = bytes.len();
    for c in token.chars() {
        match char_to_byte(c) {
            Some(b) => bytes.push(b),
            None => {
                bytes.truncate(start);
                bytes.extend_from_slice(token.as_bytes());
                return;
            }
        }
    }
}
