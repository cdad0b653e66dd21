//! The BPE model: vocabulary, ranked merges and the encoding of one word.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use super::byte_level::{BYTE_TO_CHAR, symbols_to_bytes};
use super::cache::WordCache;
use super::error::{BpeError, Result};

/// Two adjacent token ids.
pub(crate) type Pair = (u32, u32);

/// Default number of words kept by the encoding cache.
pub(crate) const DEFAULT_CACHE_CAPACITY: usize = 100_000;

/// A pending merge: (rank, position of its left symbol, id of the merged token).
type QueuedMerge = Reverse<(u32, u32, u32)>;

/// Buffers of [`BpeModel::merge_word`], kept per thread so words allocate nothing.
#[derive(Default)]
struct Scratch {
    symbols: Vec<Symbol>,
    queue: BinaryHeap<QueuedMerge>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// A byte-level BPE model: token ids, merge ranks and a cache of encoded words.
#[derive(Debug)]
pub struct BpeModel {
    vocab: FxHashMap<String, u32>,
    id_to_token: Vec<Option<String>>,
    /// `merges[(a, b)] = (rank, id of a+b)`: lower ranks merge first.
    merges: FxHashMap<Pair, (u32, u32)>,
    /// The pairs in rank order, as saved in `tokenizer.json`.
    ranked_pairs: Vec<Pair>,
    /// Id of the token for each single byte, if the vocabulary has one.
    byte_ids: [Option<u32>; 256],
    /// Tokens that are valid byte-level strings, by their bytes (for `ignore_merges`).
    bytes_to_id: FxHashMap<Box<[u8]>, u32>,
    unk_id: Option<u32>,
    fuse_unk: bool,
    ignore_merges: bool,
    cache: WordCache,
}

/// One symbol of a word being merged: a doubly linked list over a vector.
#[derive(Clone, Copy, Debug)]
struct Symbol {
    id: u32,
    prev: i32,
    next: i32,
    /// Number of bytes covered; 0 marks a symbol merged into its left neighbour.
    len: u32,
}

/// How far the largest vocabulary id may exceed the number of tokens (unused ids cost one
/// table slot each).
const MAX_ID_GAP: usize = 1 << 20;

impl BpeModel {
    /// Builds a model from a vocabulary and merges given as token pairs in rank order.
    ///
    /// `source` names the file for error messages. Fails when a merge uses a token that is
    /// not in the vocabulary or produces one that is not.
    pub(crate) fn new(
        vocab: FxHashMap<String, u32>,
        merges: &[(String, String)],
        unk_token: Option<String>,
        fuse_unk: bool,
        ignore_merges: bool,
        source: &std::path::Path,
    ) -> Result<Self> {
        let format_error = |message: String| BpeError::Format { path: source.to_path_buf(), message };
        let size = vocab.values().map(|&id| id as usize + 1).max().unwrap_or(0);
        // The id table is dense: allow gaps in the ids, but not ones that would make a small
        // file allocate gigabytes (an id of 4·10^9 in a ten-token vocabulary).
        if size > vocab.len() + MAX_ID_GAP {
            return Err(format_error(format!(
                "model.vocab has {} tokens but ids up to {}: ids more than {MAX_ID_GAP} beyond the \
                 vocabulary size are not supported",
                vocab.len(),
                size - 1
            )));
        }
        let mut id_to_token = vec![None; size];
        for (token, &id) in &vocab {
            if let Some(other) = id_to_token[id as usize].replace(token.clone()) {
                return Err(format_error(format!("model.vocab gives id {id} to both {other:?} and {token:?}")));
            }
        }
        let unk_id = match unk_token {
            Some(unk) => Some(
                vocab
                    .get(&unk)
                    .copied()
                    .ok_or_else(|| format_error(format!("model.unk_token {unk:?} is not in model.vocab")))?,
            ),
            None => None,
        };
        let id_of = |token: &str, rank: usize| {
            vocab.get(token).copied().ok_or_else(|| {
                format_error(format!("model.merges[{rank}] uses {token:?}, which is not in model.vocab"))
            })
        };
        let mut merge_map = FxHashMap::default();
        let mut ranked_pairs = Vec::with_capacity(merges.len());
        for (rank, (left, right)) in merges.iter().enumerate() {
            let pair = (id_of(left, rank)?, id_of(right, rank)?);
            let merged = id_of(&format!("{left}{right}"), rank)?;
            // As in `tokenizers`, a repeated pair keeps its last rank.
            if merge_map.insert(pair, (rank as u32, merged)).is_some() {
                ranked_pairs.retain(|&p| p != pair);
            }
            ranked_pairs.push(pair);
        }
        let byte_ids = std::array::from_fn(|b| vocab.get(BYTE_TO_CHAR[b].encode_utf8(&mut [0; 4]) as &str).copied());
        let bytes_to_id = match ignore_merges {
            true => vocab
                .iter()
                .filter_map(|(token, &id)| Some((symbols_to_bytes(token)?.into_boxed_slice(), id)))
                .collect(),
            false => FxHashMap::default(),
        };
        Ok(Self {
            vocab,
            id_to_token,
            merges: merge_map,
            ranked_pairs,
            byte_ids,
            bytes_to_id,
            unk_id,
            fuse_unk,
            ignore_merges,
            cache: WordCache::new(DEFAULT_CACHE_CAPACITY),
        })
    }

    /// The id of a vocabulary token.
    pub(crate) fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// The vocabulary token with this id.
    pub(crate) fn id_to_token(&self, id: u32) -> Option<&str> {
        self.id_to_token.get(id as usize)?.as_deref()
    }

    /// Number of tokens in the vocabulary.
    pub(crate) fn len(&self) -> usize {
        self.vocab.len()
    }

    /// The vocabulary as (token, id) pairs in id order.
    pub(crate) fn tokens_by_id(&self) -> impl Iterator<Item = (&str, u32)> {
        self.id_to_token.iter().enumerate().filter_map(|(id, token)| Some((token.as_deref()?, id as u32)))
    }

    /// The merges in rank order, as token strings.
    pub(crate) fn merges_as_tokens(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ranked_pairs.iter().map(|&(a, b)| {
            let token = |id| self.id_to_token(id).unwrap_or_default();
            (token(a), token(b))
        })
    }

    pub(crate) fn unk_token(&self) -> Option<&str> {
        self.id_to_token(self.unk_id?)
    }

    pub(crate) fn fuse_unk(&self) -> bool {
        self.fuse_unk
    }

    pub(crate) fn ignore_merges(&self) -> bool {
        self.ignore_merges
    }

    /// Appends the ids of one pre-tokenized word (raw bytes) to `out`.
    pub(crate) fn encode_word(&self, word: &[u8], out: &mut Vec<u32>) -> Result<()> {
        if self.cache.extend_from(word, out) {
            return Ok(());
        }
        let start = out.len();
        match self.ignore_merges.then(|| self.bytes_to_id.get(word)).flatten() {
            Some(&id) => out.push(id),
            None => self.merge_word(word, out)?,
        }
        self.cache.insert(word, &out[start..]);
        Ok(())
    }

    /// Starts from one symbol per byte and applies merges lowest rank first (leftmost first
    /// among equal ranks), with the same priority queue discipline as `tokenizers`.
    fn merge_word(&self, word: &[u8], out: &mut Vec<u32>) -> Result<()> {
        SCRATCH.with_borrow_mut(|Scratch { symbols, queue }| {
            self.initial_symbols(word, symbols)?;
            queue.clear();
            queue.extend(symbols.windows(2).enumerate().filter_map(|(pos, w)| {
                let &(rank, merged) = self.merges.get(&(w[0].id, w[1].id))?;
                Some(Reverse((rank, pos as u32, merged)))
            }));
            while let Some(Reverse((_, pos, merged))) = queue.pop() {
                self.merge_at(symbols, queue, pos as usize, merged);
            }
            out.extend(symbols.iter().filter(|s| s.len > 0).map(|s| s.id));
            Ok(())
        })
    }

    /// Merges the symbol at `pos` with its right neighbour into `merged`, unless the queue
    /// entry went stale, and queues the merges this makes possible with both neighbours.
    fn merge_at(&self, symbols: &mut [Symbol], queue: &mut BinaryHeap<QueuedMerge>, pos: usize, merged: u32) {
        let current = symbols[pos];
        if current.len == 0 || current.next < 0 {
            return;
        }
        let right_pos = current.next as usize;
        let right = symbols[right_pos];
        if self.merges.get(&(current.id, right.id)).map(|m| m.1) != Some(merged) {
            return;
        }
        symbols[pos] = Symbol { id: merged, len: current.len + right.len, next: right.next, ..current };
        symbols[right_pos].len = 0;
        if right.next >= 0 {
            symbols[right.next as usize].prev = pos as i32;
        }
        if current.prev >= 0
            && let Some(&(rank, id)) = self.merges.get(&(symbols[current.prev as usize].id, merged))
        {
            queue.push(Reverse((rank, current.prev as u32, id)));
        }
        if right.next >= 0
            && let Some(&(rank, id)) = self.merges.get(&(merged, symbols[right.next as usize].id))
        {
            queue.push(Reverse((rank, pos as u32, id)));
        }
    }

    /// Fills `symbols` with one symbol per byte; bytes missing from the vocabulary become
    /// `unk_token` (fused when `fuse_unk`) or an error when there is none.
    fn initial_symbols(&self, word: &[u8], symbols: &mut Vec<Symbol>) -> Result<()> {
        symbols.clear();
        for &byte in word {
            let (id, is_unk) = match (self.byte_ids[byte as usize], self.unk_id) {
                (Some(id), _) => (id, false),
                (None, Some(unk)) => (unk, true),
                (None, None) => return Err(BpeError::ByteNotInVocab { byte }),
            };
            if let Some(last) = symbols.last_mut().filter(|s| is_unk && self.fuse_unk && s.id == id) {
                last.len += 1;
                continue;
            }
            let n = symbols.len() as i32;
            if let Some(last) = symbols.last_mut() {
                last.next = n;
            }
            symbols.push(Symbol { id, prev: n - 1, next: -1, len: 1 });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vocabulary a b c bc ab abc with merges (b c), (a b).
    fn model(ignore_merges: bool) -> BpeModel {
        let vocab = ["a", "b", "c", "bc", "ab", "abc"].iter().enumerate();
        let vocab = vocab.map(|(id, t)| (t.to_string(), id as u32)).collect();
        let merges = [("b".to_owned(), "c".to_owned()), ("a".to_owned(), "b".to_owned())];
        BpeModel::new(vocab, &merges, None, false, ignore_merges, std::path::Path::new("test")).unwrap()
    }

    fn encode(model: &BpeModel, word: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        model.encode_word(word.as_bytes(), &mut ids)?;
        Ok(ids)
    }

    #[test]
    fn lower_rank_merges_first() {
        let model = model(false);
        assert_eq!(encode(&model, "abc").unwrap(), [0, 3]);
        assert_eq!(encode(&model, "abab").unwrap(), [4, 4]);
        // Cached words give the same answer.
        assert_eq!(encode(&model, "abc").unwrap(), [0, 3]);
    }

    #[test]
    fn ignore_merges_takes_whole_words_from_the_vocabulary() {
        assert_eq!(encode(&model(true), "abc").unwrap(), [5]);
    }

    #[test]
    fn bytes_outside_the_vocabulary_become_unk() {
        let vocab = ["a", "b", "<unk>"].iter().enumerate();
        let vocab: FxHashMap<String, u32> = vocab.map(|(id, t)| (t.to_string(), id as u32)).collect();
        let path = std::path::Path::new("test");
        let unk = Some("<unk>".to_owned());
        let fused = BpeModel::new(vocab.clone(), &[], unk.clone(), true, false, path).unwrap();
        assert_eq!(encode(&fused, "axxb").unwrap(), [0, 2, 1]);
        let unfused = BpeModel::new(vocab, &[], unk, false, false, path).unwrap();
        assert_eq!(encode(&unfused, "axxb").unwrap(), [0, 2, 2, 1]);
        assert_eq!(unfused.unk_token(), Some("<unk>"));
    }

    #[test]
    fn bytes_outside_the_vocabulary_are_an_error() {
        let err = encode(&model(false), "abd").unwrap_err();
        assert!(matches!(err, BpeError::ByteNotInVocab { byte: b'd' }));
    }
}
