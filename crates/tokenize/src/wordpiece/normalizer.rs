//! [`BertNormalizer`]: the settings of BERT's normalizer, as `tokenizer.json` stores them.

use serde_json::{Value, json};

/// Settings of `tokenizers`' `BertNormalizer`, which cleans, spaces out CJK ideographs, strips
/// accents and lowercases text, in that order:
///
/// - `clean_text`: drops NUL, U+FFFD and control/format/unassigned characters (`\t`, `\n`, `\r`
///   excepted) and turns every whitespace character into a space;
/// - `handle_chinese_chars`: puts spaces around CJK ideographs so each becomes a word;
/// - `strip_accents` (`None`: same as `lowercase`): NFD, then nonspacing marks removed — Hangul
///   syllables therefore end up as conjoining jamo;
/// - `lowercase`: each character's lowercase.
///
/// The normalization itself is `tokenizers`' (run it with
/// [`Tokenizer::normalize_str`](crate::tokenizer::Tokenizer::normalize_str)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BertNormalizer {
    /// Remove control characters and normalize whitespace to spaces.
    pub clean_text: bool,
    /// Surround CJK ideographs with spaces.
    pub handle_chinese_chars: bool,
    /// Remove accents; `None` follows `lowercase`.
    pub strip_accents: Option<bool>,
    /// Lowercase the text.
    pub lowercase: bool,
}

impl Default for BertNormalizer {
    /// The uncased BERT normalizer (`bert-base-uncased`, MiniLM).
    fn default() -> Self {
        Self { clean_text: true, handle_chinese_chars: true, strip_accents: None, lowercase: true }
    }
}

impl BertNormalizer {
    /// The normalizer as `tokenizer.json`'s `normalizer` value.
    pub fn to_json(&self) -> Value {
        json!({
            "type": "BertNormalizer",
            "clean_text": self.clean_text,
            "handle_chinese_chars": self.handle_chinese_chars,
            "strip_accents": self.strip_accents,
            "lowercase": self.lowercase,
        })
    }
}
