//! [`Vocabulary`]: what a loaded tokenizer knows about its ids, computed once.

use serde_json::Value;

use super::added::AddedToken;

/// What `tokenizer.json` says about the vocabulary, computed once per load.
#[derive(Clone, Debug)]
pub(crate) struct Vocabulary {
    /// The added tokens, by id.
    pub(crate) added: Vec<AddedToken>,
    /// The ids that name a token.
    pub(crate) known: KnownIds,
    /// Whether the decoder turns `<0xE2>` tokens into bytes (SentencePiece byte fallback).
    pub(crate) byte_fallback_decoder: bool,
    /// Whether the decoder maps GPT-2's byte-level characters back to bytes.
    pub(crate) byte_level_decoder: bool,
    /// Whether the decoder is ByteLevel alone (not inside a `Sequence`).
    pub(crate) plain_byte_level_decoder: bool,
}

/// The set of ids that name a token: a table when ids are dense (they always are in practice),
/// a hash set when a file gives huge ids to few tokens (a table would then take gigabytes).
#[derive(Clone, Debug)]
pub(crate) enum KnownIds {
    Dense(Vec<bool>),
    Sparse(std::collections::HashSet<u32>),
}

impl KnownIds {
    fn new(ids: Vec<u32>) -> Self {
        let max = ids.iter().max().map_or(0, |&max| max as usize + 1);
        if max > 4 * ids.len() + 1024 {
            return Self::Sparse(ids.into_iter().collect());
        }
        let mut known = vec![false; max];
        for id in ids {
            known[id as usize] = true;
        }
        Self::Dense(known)
    }

    pub(crate) fn contains(&self, id: u32) -> bool {
        match self {
            Self::Dense(known) => known.get(id as usize).copied().unwrap_or(false),
            Self::Sparse(known) => known.contains(&id),
        }
    }

    pub(crate) fn max(&self) -> Option<u32> {
        match self {
            Self::Dense(known) => known.len().checked_sub(1).map(|max| max as u32),
            Self::Sparse(known) => known.iter().max().copied(),
        }
    }
}

impl Vocabulary {
    pub(crate) fn of(inner: &tokenizers::Tokenizer) -> Self {
        let mut added: Vec<AddedToken> =
            inner.get_added_tokens_decoder().iter().map(|(&id, token)| AddedToken::from_hf(id, token)).collect();
        added.sort_by_key(|token| token.id);
        let known = KnownIds::new(inner.get_vocab(true).into_values().collect());
        let decoder = inner.get_decoder().and_then(|decoder| serde_json::to_value(decoder).ok());
        let has = |type_name| decoder.as_ref().is_some_and(|decoder| has_type(decoder, type_name));
        let plain_byte_level_decoder =
            decoder.as_ref().and_then(|d| d.get("type")).and_then(Value::as_str) == Some("ByteLevel");
        Self {
            added,
            known,
            byte_fallback_decoder: has("ByteFallback"),
            byte_level_decoder: has("ByteLevel"),
            plain_byte_level_decoder,
        }
    }
}

/// Whether a component (or any member of a `Sequence`) has this `type`.
fn has_type(component: &Value, type_name: &str) -> bool {
    match component {
        Value::Object(map) => {
            map.get("type").and_then(Value::as_str) == Some(type_name) || map.values().any(|v| has_type(v, type_name))
        }
        Value::Array(items) => items.iter().any(|v| has_type(v, type_name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_ids_use_a_set_not_a_table() {
        let sparse = KnownIds::new(vec![0, 1, 4_000_000_000]);
        assert!(matches!(sparse, KnownIds::Sparse(_)));
        assert!(sparse.contains(4_000_000_000) && !sparse.contains(2));
        assert_eq!(sparse.max(), Some(4_000_000_000));
        let dense = KnownIds::new(vec![0, 2]);
        assert!(dense.contains(2) && !dense.contains(1) && !dense.contains(3));
        assert_eq!(KnownIds::new(vec![]).max(), None);
    }
}
