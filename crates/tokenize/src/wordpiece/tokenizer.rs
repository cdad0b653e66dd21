//! [`WordPiece`]: the tokenizer users hold — added tokens, BERT normalizer and pre-tokenizer,
//! WordPiece model, post-processor, truncation and padding.

use std::path::Path;

use rayon::prelude::*;

use super::error::{Result, WordPieceError};
use super::hf_json;
use super::model::WordPieceModel;
use super::normalizer::BertNormalizer;
use super::padding::Padding;
use super::post_process::PostProcessor;
use super::pretokenize::for_each_word;
use super::truncation::Truncation;
use crate::bpe::AddedToken;
use crate::bpe::added_tokens::{AddedVocabulary, Segment};

/// The model inputs of one text or pair: ids with their type ids and masks, all of one length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids, special tokens and padding included.
    pub ids: Vec<u32>,
    /// Segment of each id: 0 for the first text, 1 for the second of a pair (BERT's token types).
    pub type_ids: Vec<u32>,
    /// 1 for a real token, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// 1 for a special token (`[CLS]`, `[SEP]`, padding), 0 otherwise.
    pub special_tokens_mask: Vec<u32>,
}

impl Encoding {
    /// Appends `ids` with one type id, marked special or not.
    pub(crate) fn push_all(&mut self, ids: &[u32], type_id: u32, special: u32) {
        self.ids.extend_from_slice(ids);
        let n = self.ids.len();
        self.type_ids.resize(n, type_id);
        self.attention_mask.resize(n, 1);
        self.special_tokens_mask.resize(n, special);
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The decoder's settings: the continuing-subword prefix to glue back and the clean-up of spaces.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Decoder {
    #[serde(default = "default_prefix")]
    pub(crate) prefix: String,
    #[serde(default = "default_cleanup")]
    pub(crate) cleanup: bool,
}

fn default_prefix() -> String {
    "##".to_owned()
}

fn default_cleanup() -> bool {
    true
}

/// A BERT WordPiece tokenizer, compatible with Hugging Face `tokenizer.json`.
///
/// Added tokens (`[CLS]`, `[MASK]`…) are matched first, the rest is normalized (BERT: clean,
/// CJK spacing, accents, lowercase), split into words on whitespace and punctuation, and each
/// word into the longest vocabulary pieces (`un ##aff ##able`), `[UNK]` when impossible. Then the
/// post-processor adds `[CLS] … [SEP]` (and type ids for pairs), truncation and padding apply.
/// Ids equal Python `tokenizers`' for the same `tokenizer.json`.
///
/// ```
/// use malmoi_tokenize::wordpiece::WordPiece;
///
/// let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!", "hi"];
/// let tokenizer = WordPiece::from_vocab(vocab)?;
/// let encoding = tokenizer.encode_pair("Unaffable!", "hi")?;
/// assert_eq!(tokenizer.tokens(&encoding.ids), ["[CLS]", "un", "##aff", "##able", "!", "[SEP]", "hi", "[SEP]"]);
/// assert_eq!(encoding.type_ids, [0, 0, 0, 0, 0, 0, 1, 1]);
/// assert_eq!(tokenizer.decode(&encoding.ids, true)?, "unaffable! hi");
/// # Ok::<(), malmoi_tokenize::wordpiece::WordPieceError>(())
/// ```
#[derive(Debug)]
pub struct WordPiece {
    pub(crate) model: WordPieceModel,
    pub(crate) added: AddedVocabulary,
    pub(crate) normalizer: Option<BertNormalizer>,
    pub(crate) post_processor: PostProcessor,
    pub(crate) decoder: Option<Decoder>,
    pub(crate) truncation: Option<Truncation>,
    pub(crate) padding: Option<Padding>,
}

/// Special tokens of [`WordPiece::from_vocab`], in BERT's order.
const BERT_SPECIALS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

impl WordPiece {
    /// An uncased BERT tokenizer over `vocab` (id = position), which must hold `[UNK]`, `[CLS]`
    /// and `[SEP]`; `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]` present in it become special tokens.
    /// No truncation, no padding.
    pub fn from_vocab<S: AsRef<str>>(vocab: impl IntoIterator<Item = S>) -> Result<Self> {
        let vocab: Vec<String> = vocab.into_iter().map(|t| t.as_ref().to_owned()).collect();
        let specials: Vec<&str> = BERT_SPECIALS.iter().copied().filter(|s| vocab.iter().any(|t| t == s)).collect();
        Self::assemble(vocab, &specials, BertNormalizer::default())
    }

    /// A tokenizer over `vocab` (id = position) with these special tokens, BERT's template and
    /// WordPiece decoder, no truncation or padding.
    pub(crate) fn assemble(vocab: Vec<String>, specials: &[&str], normalizer: BertNormalizer) -> Result<Self> {
        let vocab: rustc_hash::FxHashMap<String, u32> =
            vocab.into_iter().enumerate().map(|(id, t)| (t, id as u32)).collect();
        let config = |message: String| WordPieceError::Config(message);
        let id = |token: &str| vocab.get(token).copied().ok_or_else(|| config(format!("vocabulary has no {token}")));
        let post_processor = PostProcessor::bert(("[CLS]", id("[CLS]")?), ("[SEP]", id("[SEP]")?));
        let specials = specials.iter().map(|&t| Ok(AddedToken::special(id(t)?, t))).collect::<Result<Vec<_>>>()?;
        let added = AddedVocabulary::new(specials).map_err(config)?;
        let model = WordPieceModel::new(vocab, "[UNK]".into(), default_prefix(), 100).map_err(config)?;
        Ok(Self {
            model,
            added,
            normalizer: Some(normalizer),
            post_processor,
            decoder: Some(Decoder { prefix: default_prefix(), cleanup: true }),
            truncation: None,
            padding: None,
        })
    }

    /// Loads a Hugging Face `tokenizer.json` with a WordPiece model.
    ///
    /// Errors name the file and what is wrong: unreadable, not JSON, `[UNK]` missing from the
    /// vocabulary, an added token whose id disagrees with the vocabulary, an unsupported component…
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        hf_json::from_file(path.as_ref())
    }

    /// Reads a tokenizer from `tokenizer.json` text (errors name the source `<memory>`).
    pub fn from_json_str(json: &str) -> Result<Self> {
        hf_json::from_json_str(json, Path::new("<memory>"))
    }

    /// The tokenizer as `tokenizer.json` text, loadable by Python `tokenizers`.
    pub fn to_json_string(&self) -> Result<String> {
        hf_json::to_json_string(self).map_err(|source| WordPieceError::Json { path: "<memory>".into(), source })
    }

    /// Saves the tokenizer as `tokenizer.json` (written to a temporary file, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        hf_json::save(self, path.as_ref())
    }

    /// Encodes one text: `[CLS] text [SEP]` (per the post-processor), truncated and padded as
    /// configured — `tokenizers`' `encode(text)`.
    pub fn encode(&self, text: &str) -> Result<Encoding> {
        let mut encodings = [self.encode_unpadded(text, None)?];
        if let Some(padding) = &self.padding {
            padding.apply(&mut encodings);
        }
        let [encoding] = encodings;
        Ok(encoding)
    }

    /// Encodes a pair: `[CLS] a [SEP] b [SEP]` with type ids 0 then 1 — `tokenizers`' `encode(a, b)`.
    pub fn encode_pair(&self, a: &str, b: &str) -> Result<Encoding> {
        let mut encodings = [self.encode_unpadded(a, Some(b))?];
        if let Some(padding) = &self.padding {
            padding.apply(&mut encodings);
        }
        let [encoding] = encodings;
        Ok(encoding)
    }

    /// Encodes texts in parallel; with `BatchLongest` padding all come out as long as the longest.
    pub fn encode_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Encoding>> {
        let encodings = texts.par_iter().map(|t| self.encode_unpadded(t.as_ref(), None)).collect();
        self.pad_batch(encodings)
    }

    /// Encodes pairs in parallel, padded together like [`encode_batch`](Self::encode_batch).
    pub fn encode_pair_batch<A: AsRef<str> + Sync, B: AsRef<str> + Sync>(
        &self,
        pairs: &[(A, B)],
    ) -> Result<Vec<Encoding>> {
        let encodings = pairs.par_iter().map(|(a, b)| self.encode_unpadded(a.as_ref(), Some(b.as_ref()))).collect();
        self.pad_batch(encodings)
    }

    fn pad_batch(&self, encodings: Result<Vec<Encoding>>) -> Result<Vec<Encoding>> {
        let mut encodings = encodings?;
        if let Some(padding) = &self.padding {
            padding.apply(&mut encodings);
        }
        Ok(encodings)
    }

    /// Ids of `text`'s tokens alone: no special tokens, truncation or padding.
    pub fn tokenize_ids(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        let mut scratch = String::new();
        let mut raw = Vec::new();
        self.added.split_raw(text, &mut raw);
        for segment in raw {
            match segment {
                Segment::Token(id) => ids.push(id),
                Segment::Text(piece) => self.encode_piece(piece, &mut scratch, &mut ids),
            }
        }
        ids
    }

    /// Normalizes a piece without raw added tokens, then matches the normalized added tokens
    /// and encodes the words of the rest.
    fn encode_piece(&self, piece: &str, scratch: &mut String, ids: &mut Vec<u32>) {
        let normalized = match &self.normalizer {
            Some(normalizer) => std::borrow::Cow::Owned(normalizer.normalize(piece)),
            None => std::borrow::Cow::Borrowed(piece),
        };
        let mut segments = Vec::new();
        self.added.split_normalized(&normalized, &mut segments);
        for segment in segments {
            match segment {
                Segment::Token(id) => ids.push(id),
                Segment::Text(text) => for_each_word(text, |word| self.model.encode_word(word, scratch, ids)),
            }
        }
    }

    fn encode_unpadded(&self, a: &str, b: Option<&str>) -> Result<Encoding> {
        let mut a = self.tokenize_ids(a);
        let mut b = b.map(|b| self.tokenize_ids(b));
        if let Some(truncation) = &self.truncation {
            let added = self.post_processor.added_tokens(b.is_some());
            truncation.apply(&mut a, b.as_mut(), added)?;
        }
        Ok(self.post_processor.apply(&a, b.as_deref()))
    }

    /// Decodes ids into text: `##` pieces glued to the previous token, other tokens separated by
    /// a space, spaces before punctuation cleaned up (`tokenizers`' WordPiece decoder).
    /// `skip_special` drops special tokens (`tokenizers`' default). An unknown id is an error.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        let mut out = String::with_capacity(ids.len() * 4);
        let mut first = true;
        for &id in ids {
            if skip_special && self.added.get(id).is_some_and(|t| t.special) {
                continue;
            }
            let token = self.id_to_token(id).ok_or(WordPieceError::UnknownId { id, vocab_size: self.vocab_size() })?;
            match &self.decoder {
                Some(decoder) => push_decoded(decoder, token, first, &mut out),
                None => {
                    if !first {
                        out.push(' ');
                    }
                    out.push_str(token);
                }
            }
            first = false;
        }
        Ok(out)
    }

    /// The token of each id (ids outside the vocabulary are left out).
    pub fn tokens(&self, ids: &[u32]) -> Vec<&str> {
        ids.iter().filter_map(|&id| self.id_to_token(id)).collect()
    }

    /// The id of a token (added tokens first, then the vocabulary).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.added.token_to_id(token).or_else(|| self.model.token_to_id(token))
    }

    /// The token with this id.
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

    /// The normalizer, if any.
    pub fn normalizer(&self) -> Option<&BertNormalizer> {
        self.normalizer.as_ref()
    }

    /// The truncation settings, if any.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// Sets or removes truncation (`tokenizers`' `enable_truncation` / `no_truncation`).
    pub fn set_truncation(&mut self, truncation: Option<Truncation>) {
        self.truncation = truncation;
    }

    /// The padding settings, if any.
    pub fn padding(&self) -> Option<&Padding> {
        self.padding.as_ref()
    }

    /// Sets or removes padding (`tokenizers`' `enable_padding` / `no_padding`).
    pub fn set_padding(&mut self, padding: Option<Padding>) {
        self.padding = padding;
    }
}

/// Appends one decoded token: glued when it has the prefix, else after a space (not for the
/// first), with `tokenizers`' clean-up of spaces applied to the token.
fn push_decoded(decoder: &Decoder, token: &str, first: bool, out: &mut String) {
    let piece = match token.strip_prefix(decoder.prefix.as_str()) {
        Some(rest) if !first => rest.to_owned(),
        _ if first => token.to_owned(),
        _ => format!(" {token}"),
    };
    if decoder.cleanup {
        out.push_str(&cleanup(&piece));
    } else {
        out.push_str(&piece);
    }
}

/// `tokenizers`' clean-up: no space before `.`, `?`, `!`, `,` and English clitics.
fn cleanup(text: &str) -> String {
    text.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}
