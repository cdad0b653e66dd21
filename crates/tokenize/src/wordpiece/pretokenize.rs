//! BERT's pre-tokenizer: words split on whitespace, each punctuation character a word of its own.

use unicode_categories::UnicodeCategories;

/// Calls `f` with each word of `text`: maximal runs of characters that are neither whitespace
/// nor punctuation, and every punctuation character alone (`tokenizers`' `BertPreTokenizer`).
pub(crate) fn for_each_word<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    let mut start = None;
    for (i, c) in text.char_indices() {
        let punctuation = is_bert_punctuation(c);
        if punctuation || c.is_whitespace() {
            if let Some(s) = start.take() {
                f(&text[s..i]);
            }
            if punctuation {
                f(&text[i..i + c.len_utf8()]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

/// ASCII punctuation (`$`, `+`, `^`… included) and Unicode punctuation (categories P*).
fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whitespace_and_punctuation() {
        let mut words = Vec::new();
        for_each_word("  don't  stop—now!", |w| words.push(w));
        assert_eq!(words, ["don", "'", "t", "stop", "—", "now", "!"]);
    }
}
