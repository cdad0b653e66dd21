//! Added (special) tokens: matched in the raw text before pre-tokenization and BPE.

use aho_corasick::{AhoCorasick, MatchKind};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A token matched verbatim in text before BPE, as in `tokenizer.json`'s `added_tokens`.
///
/// Special tokens such as `<pad>`, `<unk>`, `</s>` and `<mask>` are added tokens with
/// `special: true`; [`ByteLevelBpe::decode_skip_special`](super::ByteLevelBpe::decode_skip_special) drops them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedToken {
    /// The token's id.
    pub id: u32,
    /// The exact text that is matched.
    pub content: String,
    /// Match only when not inside a word (no letter, digit or `_` on either side).
    #[serde(default)]
    pub single_word: bool,
    /// Also swallow the whitespace on the left of a match.
    #[serde(default)]
    pub lstrip: bool,
    /// Also swallow the whitespace on the right of a match.
    #[serde(default)]
    pub rstrip: bool,
    /// Match after normalization (this crate has no normalizer, so only the matching order changes).
    #[serde(default = "default_normalized")]
    pub normalized: bool,
    /// A control token (`<pad>`, `</s>`…) rather than an ordinary added word.
    #[serde(default)]
    pub special: bool,
}

fn default_normalized() -> bool {
    true
}

impl AddedToken {
    /// A special token as the trainer adds it: matched verbatim, never normalized.
    pub fn special(id: u32, content: &str) -> Self {
        Self {
            id,
            content: content.to_owned(),
            single_word: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
            special: true,
        }
    }
}

/// A piece of text after added tokens were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Segment<'t> {
    /// Ordinary text, to pre-tokenize and encode with BPE.
    Text(&'t str),
    /// An added token, by id.
    Token(u32),
}

/// The added tokens of a tokenizer with two matchers, used in the same order as
/// `tokenizers`: first the non-normalized tokens on the raw text, then the normalized ones
/// on what is left.
#[derive(Debug)]
pub(crate) struct AddedVocabulary {
    tokens: Vec<AddedToken>,
    by_id: FxHashMap<u32, usize>,
    by_content: FxHashMap<String, u32>,
    raw: Option<Matcher>,
    normalized: Option<Matcher>,
}

/// Leftmost-longest matcher over some added tokens (pattern index → token index).
#[derive(Debug)]
struct Matcher {
    automaton: AhoCorasick,
    token_of_pattern: Vec<usize>,
}

impl AddedVocabulary {
    /// Builds the matchers; fails (with a message) on an empty token or a repeated id.
    pub(crate) fn new(tokens: Vec<AddedToken>) -> Result<Self, String> {
        let mut by_id = FxHashMap::default();
        let mut by_content = FxHashMap::default();
        for (index, token) in tokens.iter().enumerate() {
            if token.content.is_empty() {
                return Err(format!("added_tokens[{index}] (id {}) has empty content", token.id));
            }
            if by_id.insert(token.id, index).is_some() {
                return Err(format!("added_tokens: id {} appears twice", token.id));
            }
            by_content.insert(token.content.clone(), token.id);
        }
        let raw = Matcher::new(&tokens, |t| !t.normalized)?;
        let normalized = Matcher::new(&tokens, |t| t.normalized)?;
        Ok(Self { tokens, by_id, by_content, raw, normalized })
    }

    /// The added tokens in their stored order.
    pub(crate) fn tokens(&self) -> &[AddedToken] {
        &self.tokens
    }

    /// The added token with this id.
    pub(crate) fn get(&self, id: u32) -> Option<&AddedToken> {
        self.by_id.get(&id).map(|&i| &self.tokens[i])
    }

    /// The id of an added token by content.
    pub(crate) fn token_to_id(&self, content: &str) -> Option<u32> {
        self.by_content.get(content).copied()
    }

    /// Splits raw `text` around the tokens matched before normalization (`normalized: false`).
    pub(crate) fn split_raw<'t>(&self, text: &'t str, out: &mut Vec<Segment<'t>>) {
        split_with(self.raw.as_ref(), &self.tokens, text, out);
    }

    /// Splits normalized `text` around the tokens matched after normalization (`normalized: true`).
    pub(crate) fn split_normalized<'t>(&self, text: &'t str, out: &mut Vec<Segment<'t>>) {
        split_with(self.normalized.as_ref(), &self.tokens, text, out);
    }

    /// Splits `text` into ordinary text and added tokens, appending to `out`.
    pub(crate) fn split<'t>(&self, text: &'t str, out: &mut Vec<Segment<'t>>) {
        let mut first_pass = Vec::new();
        split_with(self.raw.as_ref(), &self.tokens, text, &mut first_pass);
        for segment in first_pass {
            match segment {
                Segment::Text(piece) => split_with(self.normalized.as_ref(), &self.tokens, piece, out),
                token => out.push(token),
            }
        }
    }
}

impl Matcher {
    fn new(tokens: &[AddedToken], keep: impl Fn(&AddedToken) -> bool) -> Result<Option<Self>, String> {
        let token_of_pattern: Vec<usize> = (0..tokens.len()).filter(|&i| keep(&tokens[i])).collect();
        if token_of_pattern.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(token_of_pattern.iter().map(|&i| &tokens[i].content))
            .map_err(|e| format!("added_tokens cannot be matched: {e}"))?;
        Ok(Some(Self { automaton, token_of_pattern }))
    }
}

/// Appends the pieces of `text` around the matches of `matcher`, honouring
/// `single_word`, `lstrip` and `rstrip`.
fn split_with<'t>(matcher: Option<&Matcher>, tokens: &[AddedToken], text: &'t str, out: &mut Vec<Segment<'t>>) {
    let Some(matcher) = matcher else {
        if !text.is_empty() {
            out.push(Segment::Text(text));
        }
        return;
    };
    let mut done = 0;
    for found in matcher.automaton.find_iter(text) {
        let token = &tokens[matcher.token_of_pattern[found.pattern().as_usize()]];
        let (mut start, mut end) = (found.start(), found.end());
        if start < done || (token.single_word && !stands_alone(text, start, end)) {
            continue;
        }
        if token.lstrip {
            start = done.max(text[..start].trim_end().len());
        }
        if token.rstrip {
            end = text.len() - text[end..].trim_start().len();
        }
        if done < start {
            out.push(Segment::Text(&text[done..start]));
        }
        out.push(Segment::Token(token.id));
        done = end;
    }
    if done < text.len() {
        out.push(Segment::Text(&text[done..]));
    }
}

/// True when `text[start..end]` has no word character immediately on either side.
fn stands_alone(text: &str, start: usize, end: usize) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    !text[..start].chars().next_back().is_some_and(is_word) && !text[end..].chars().next().is_some_and(is_word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> AddedVocabulary {
        let mut mask = AddedToken::special(3, "<mask>");
        mask.lstrip = true;
        AddedVocabulary::new(vec![AddedToken::special(0, "<pad>"), AddedToken::special(2, "</s>"), mask]).unwrap()
    }

    #[test]
    fn splits_around_special_tokens() {
        let mut out = Vec::new();
        vocabulary().split("a</s><pad>b  <mask>c", &mut out);
        assert_eq!(
            out,
            [
                Segment::Text("a"),
                Segment::Token(2),
                Segment::Token(0),
                Segment::Text("b"),
                Segment::Token(3),
                Segment::Text("c")
            ]
        );
    }

    #[test]
    fn rejects_empty_and_repeated_tokens() {
        assert!(AddedVocabulary::new(vec![AddedToken::special(0, "")]).is_err());
        assert!(AddedVocabulary::new(vec![AddedToken::special(0, "a"), AddedToken::special(0, "b")]).is_err());
    }
}
