//! [`Encoding`]: what encoding one text (or a pair) gives.

/// The result of encoding a text or a pair of texts, as Hugging Face `tokenizers`' `Encoding`.
///
/// All vectors have one entry per token, padding included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// The token of each id, as the vocabulary spells it (`Ġ` for a byte-level space, `▁` for Metaspace's).
    pub tokens: Vec<String>,
    /// Byte range of each token in the text it came from (for a pair, in its own text; `(0, 0)` for
    /// added special tokens and padding). Python `tokenizers` reports character offsets instead.
    pub offsets: Vec<(usize, usize)>,
    /// Segment of each token: 0 for the first text, 1 for the second of a pair (as the post-processor assigns).
    pub type_ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// 1 for tokens the post-processor added (`[CLS]`, `<s>`…) and padding, 0 for tokens of the text.
    pub special_tokens_mask: Vec<u32>,
    /// Index of the word (pre-token) each token belongs to, `None` for added special tokens and padding.
    pub word_ids: Vec<Option<u32>>,
    /// The windows cut off by truncation (each a full encoding), when truncation is set.
    pub overflowing: Vec<Encoding>,
}

impl Encoding {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl From<tokenizers::Encoding> for Encoding {
    fn from(mut encoding: tokenizers::Encoding) -> Self {
        let overflowing = encoding.take_overflowing().into_iter().map(Encoding::from).collect();
        Self {
            ids: encoding.get_ids().to_vec(),
            tokens: encoding.get_tokens().to_vec(),
            offsets: encoding.get_offsets().to_vec(),
            type_ids: encoding.get_type_ids().to_vec(),
            attention_mask: encoding.get_attention_mask().to_vec(),
            special_tokens_mask: encoding.get_special_tokens_mask().to_vec(),
            word_ids: encoding.get_word_ids().to_vec(),
            overflowing,
        }
    }
}
