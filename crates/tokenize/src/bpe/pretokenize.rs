//! GPT-2's split of text into words before BPE, as the trainer counts words.
//!
//! GPT-2 splits with `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
//! The `regex` crate has no look-ahead, so the split uses the pattern without `\s+(?!\S)` and
//! restores its effect by hand: a run of two or more whitespace characters followed by a
//! non-space gives its last character back, so that `"  world"` splits as `" "`, `" world"`,
//! exactly as Hugging Face `tokenizers` (Oniguruma) does.

use std::sync::LazyLock;

use regex::Regex;

/// GPT-2's pattern without the look-ahead alternative (see the module documentation),
/// anchored: it is applied to the rest of the text, where a word always starts at once,
/// which spares the engine a reverse search for the match start.
static GPT2_SPLIT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\A(?:'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+)")
        .expect("the GPT-2 split pattern is a valid regex")
});

/// Splits `text` into GPT-2 words; the pieces concatenate to `text`.
///
/// ```
/// use malmoi_tokenize::bpe::gpt2_words;
/// let words: Vec<&str> = gpt2_words("I'll pay 1,000원  now!\n").collect();
/// assert_eq!(words, ["I", "'ll", " pay", " 1", ",", "000", "원", " ", " now", "!", "\n"]);
/// ```
pub fn gpt2_words(text: &str) -> Gpt2Words<'_> {
    Gpt2Words { text, pos: 0 }
}

/// Iterator over the GPT-2 words of a text, made by [`gpt2_words`].
#[derive(Clone, Debug)]
pub struct Gpt2Words<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Iterator for Gpt2Words<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let rest = &self.text[self.pos..];
        let first = rest.chars().next()?;
        // Every character matches one alternative, so the anchored pattern always matches;
        // the fallback only guards against that reasoning being wrong.
        let len = GPT2_SPLIT.find(rest).map_or(first.len_utf8(), |m| keep_last_space_for_next_word(rest, m.end()));
        self.pos += len;
        Some(&rest[..len])
    }
}

/// Emulates `\s+(?!\S)` for a match `text[..end]`: a whitespace run of two or more
/// characters that is followed by a non-space ends one character early, leaving that
/// character to start the next word.
fn keep_last_space_for_next_word(text: &str, end: usize) -> usize {
    if end == text.len() {
        return end;
    }
    let mut chars = text[..end].char_indices().rev();
    match (chars.next(), chars.next()) {
        (Some((last_at, last)), Some(_)) if last.is_whitespace() => last_at,
        _ => end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        gpt2_words(text).collect()
    }

    #[test]
    fn whitespace_runs_give_their_last_space_to_the_next_word() {
        assert_eq!(words("a  b"), ["a", " ", " b"]);
        assert_eq!(words("a \n\n c  "), ["a", " \n\n", " c", "  "]);
        assert_eq!(words("x\n\ny"), ["x", "\n", "\n", "y"]);
        assert_eq!(words("  \u{3000}d"), ["  ", "\u{3000}", "d"]);
    }

    #[test]
    fn contractions_letters_numbers_and_symbols() {
        assert_eq!(words("'sx's 'S"), ["'s", "x", "'s", " '", "S"]);
        assert_eq!(words(" 12.5"), [" 12", ".", "5"]);
        assert_eq!(words("안녕하세요 세계!!"), ["안녕하세요", " 세계", "!!"]);
        assert_eq!(words("e\u{200b}f"), ["e", "\u{200b}", "f"]);
    }
}
