//! The tokenizer behind [`Tokenizer::encode_untrusted`](super::Tokenizer::encode_untrusted):
//! special tokens written in the text are neither split out of it nor reachable through the model.
//!
//! `tokenizers`' `encode_special_tokens` only stops the added vocabulary from matching them; a
//! model that also holds them can still produce them from text: a Unigram model (XLM-R) matches
//! the piece `<s>` in "<s>" like any other piece, a WordLevel model after WhitespaceSplit finds
//! the word, a BPE merge can build one. SentencePiece never matches its control symbols, so here
//! the model's copies of the special tokens (all but the unknown token) are renamed to spellings no
//! text contains — a NUL, a random 128-bit nonce of this process, a NUL — and merges that would
//! build or use them are dropped. The renamed tokens leave the copy's added vocabulary too
//! (`tokenizers` would otherwise give them new ids and shift the ids of the added tokens after
//! them); the post-processor keeps its own ids. Ids are unchanged, and text without special tokens
//! encodes exactly as with [`Tokenizer::encode`](super::Tokenizer::encode).

use std::collections::HashSet;

use serde_json::Value;

use super::error::{Result, TokenizerError};

/// A copy of `inner` for untrusted text: `specials` (the special added tokens) cannot come out of text.
pub(crate) fn untrusted_copy(inner: &tokenizers::Tokenizer, specials: &[&str]) -> Result<tokenizers::Tokenizer> {
    let invalid = |e: serde_json::Error| TokenizerError::Invalid(format!("untrusted copy: {e}"));
    let mut json = serde_json::to_value(inner).map_err(invalid)?;
    let nonce = format!("\u{0}{:032x}\u{0}", rand::random::<u128>());
    let renamed = disable_in_model(&mut json["model"], specials, &nonce);
    if let Some(Value::Array(added)) = json.get_mut("added_tokens") {
        added.retain(|token| !token.get("content").and_then(Value::as_str).is_some_and(|c| renamed.contains(c)));
    }
    let mut copy: tokenizers::Tokenizer = serde_json::from_value(json).map_err(invalid)?;
    copy.set_encode_special_tokens(true);
    for (id, token) in inner.get_added_tokens_decoder() {
        if !renamed.contains(token.content.as_str()) && copy.token_to_id(&token.content) != Some(id) {
            return Err(TokenizerError::Invalid(format!(
                "untrusted copy: added token {:?} lost id {id}",
                token.content
            )));
        }
    }
    Ok(copy)
}

/// Renames the model's entries of `specials` (except its unknown token) with `nonce` in front and
/// drops the merges involving them; returns the tokens renamed.
fn disable_in_model<'a>(model: &mut Value, specials: &[&'a str], nonce: &str) -> HashSet<&'a str> {
    let unk = unknown_token(model);
    let disabled: HashSet<&str> = specials.iter().copied().filter(|&s| Some(s) != unk.as_deref()).collect();
    let mut renamed = HashSet::new();
    match model.get_mut("vocab") {
        Some(Value::Object(map)) => {
            for &token in &disabled {
                if let Some(id) = map.remove(token) {
                    map.insert(format!("{nonce}{token}"), id);
                    renamed.insert(token);
                }
            }
        }
        Some(Value::Array(pieces)) => {
            for piece in pieces {
                let Some(&token) = piece.get(0).and_then(Value::as_str).and_then(|p| disabled.get(p)) else {
                    continue;
                };
                piece[0] = Value::String(format!("{nonce}{token}"));
                renamed.insert(token);
            }
        }
        _ => {}
    }
    if let Some(Value::Array(merges)) = model.get_mut("merges") {
        merges.retain(|merge| !merge_parts(merge).is_some_and(|(a, b)| involves(&disabled, &a, &b)));
    }
    renamed
}

/// The model's unknown token: `unk_token`, or the piece at Unigram's `unk_id`.
fn unknown_token(model: &Value) -> Option<String> {
    if let Some(token) = model.get("unk_token").and_then(Value::as_str) {
        return Some(token.to_owned());
    }
    let id = model.get("unk_id")?.as_u64()? as usize;
    Some(model.get("vocab")?.get(id)?.get(0)?.as_str()?.to_owned())
}

/// The two tokens of a merge, written `"a b"` or `["a", "b"]`.
fn merge_parts(merge: &Value) -> Option<(String, String)> {
    match merge {
        Value::String(pair) => pair.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())),
        Value::Array(pair) => Some((pair.first()?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned())),
        _ => None,
    }
}

fn involves(disabled: &HashSet<&str>, a: &str, b: &str) -> bool {
    disabled.contains(a) || disabled.contains(b) || disabled.contains(format!("{a}{b}").as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renames_specials_but_not_the_unknown_token_and_drops_their_merges() {
        let mut model = json!({
            "type": "BPE", "unk_token": "<unk>",
            "vocab": {"<unk>": 0, "<s>": 1, "<": 2, "s": 3, ">": 4, "<s": 5},
            "merges": [["<", "s"], "<s >", ["s", ">"]]
        });
        let renamed = disable_in_model(&mut model, &["<unk>", "<s>", "</s>"], "#");
        assert_eq!(renamed, HashSet::from(["<s>"]));
        assert_eq!(model["vocab"]["#<s>"], 1);
        assert_eq!(model["vocab"]["<unk>"], 0);
        assert!(model["vocab"].get("<s>").is_none());
        assert_eq!(model["merges"], json!([["<", "s"], ["s", ">"]]));
    }

    #[test]
    fn renames_unigram_pieces_by_position() {
        let mut model = json!({"type": "Unigram", "unk_id": 1, "vocab": [["<s>", 0.0], ["<unk>", 0.0], ["a", -1.0]]});
        assert_eq!(disable_in_model(&mut model, &["<s>", "<unk>"], "#"), HashSet::from(["<s>"]));
        assert_eq!(model["vocab"], json!([["#<s>", 0.0], ["<unk>", 0.0], ["a", -1.0]]));
    }
}
