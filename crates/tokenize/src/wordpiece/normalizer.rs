//! BERT's normalizer, with the semantics of `tokenizers`' `BertNormalizer`.

use serde::{Deserialize, Serialize};
use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// Cleans, spaces out CJK ideographs, strips accents and lowercases text, in that order.
///
/// - `clean_text`: drops NUL, U+FFFD and control/format/unassigned characters (`\t`, `\n`, `\r`
///   excepted) and turns every whitespace character into a space;
/// - `handle_chinese_chars`: puts spaces around CJK ideographs so each becomes a word;
/// - `strip_accents` (default: same as `lowercase`): NFD, then nonspacing marks removed — Hangul
///   syllables therefore end up as conjoining jamo, as in `tokenizers`;
/// - `lowercase`: each character's lowercase (no final-sigma rule).
///
/// ```
/// use malmoi_tokenize::wordpiece::BertNormalizer;
///
/// assert_eq!(BertNormalizer::default().normalize("Héllo\tWORLD 中文"), "hello world  中  文 ");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BertNormalizer {
    /// Remove control characters and normalize whitespace to spaces.
    #[serde(default = "yes")]
    pub clean_text: bool,
    /// Surround CJK ideographs with spaces.
    #[serde(default = "yes")]
    pub handle_chinese_chars: bool,
    /// Remove accents; `None` follows `lowercase`.
    #[serde(default)]
    pub strip_accents: Option<bool>,
    /// Lowercase the text.
    #[serde(default = "yes")]
    pub lowercase: bool,
}

fn yes() -> bool {
    true
}

impl Default for BertNormalizer {
    /// The uncased BERT normalizer (`bert-base-uncased`, MiniLM).
    fn default() -> Self {
        Self { clean_text: true, handle_chinese_chars: true, strip_accents: None, lowercase: true }
    }
}

impl BertNormalizer {
    /// The normalized text.
    pub fn normalize(&self, text: &str) -> String {
        let mut spaced = String::with_capacity(text.len() + 8);
        for c in text.chars() {
            if self.clean_text && (c == '\0' || c == '\u{fffd}' || is_control(c)) {
                continue;
            }
            let c = if self.clean_text && is_whitespace(c) { ' ' } else { c };
            if self.handle_chinese_chars && is_chinese_char(c) {
                spaced.extend([' ', c, ' ']);
            } else {
                spaced.push(c);
            }
        }
        let strip_accents = self.strip_accents.unwrap_or(self.lowercase);
        if !strip_accents && !self.lowercase {
            return spaced;
        }
        let mut out = String::with_capacity(spaced.len());
        let mut push = |c: char| {
            if self.lowercase {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        };
        if strip_accents {
            spaced.chars().nfd().filter(|c| !c.is_mark_nonspacing()).for_each(&mut push);
        } else {
            spaced.chars().for_each(&mut push);
        }
        out
    }
}

/// `\t`, `\n`, `\r` and Unicode whitespace.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Control, format, unassigned, private-use and surrogate characters, except `\t`, `\n`, `\r`.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// A character of the CJK Unified Ideographs blocks (BERT's definition of "Chinese").
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cased_normalizer_keeps_case_and_accents() {
        let cased = BertNormalizer { lowercase: false, ..BertNormalizer::default() };
        assert_eq!(cased.normalize("Café\u{0}\u{200b}!"), "Café!");
    }

    #[test]
    fn strips_accents_before_lowercasing() {
        assert_eq!(BertNormalizer::default().normalize("İΣΑΣ"), "iσασ");
        assert_eq!(BertNormalizer::default().normalize("가"), "\u{1100}\u{1161}");
    }
}
