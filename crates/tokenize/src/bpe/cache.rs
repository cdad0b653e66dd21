//! A bounded word → ids cache shared by the threads of a batch encode.

use std::hash::BuildHasher;
use std::sync::RwLock;

use rustc_hash::{FxBuildHasher, FxHashMap};

/// Number of independently locked shards: threads rarely wait on each other.
const SHARDS: usize = 64;

/// Words longer than this (in bytes) are not cached: they are rare and costly to store.
const MAX_WORD_LEN: usize = 256;

/// One shard: word bytes → ids.
type Shard = RwLock<FxHashMap<Box<[u8]>, Box<[u32]>>>;

/// Maps words (as bytes) to their BPE ids. Sharded `RwLock`s keep readers of different
/// shards independent; once a shard is full it stops admitting words (like Hugging Face's
/// cache), so memory stays bounded and lookups never pay for eviction.
pub(crate) struct WordCache {
    shards: Vec<Shard>,
    shard_capacity: usize,
}

impl WordCache {
    /// A cache holding at most about `capacity` words (0 disables caching).
    pub(crate) fn new(capacity: usize) -> Self {
        let shards = if capacity == 0 { 0 } else { SHARDS };
        Self { shards: (0..shards).map(|_| RwLock::default()).collect(), shard_capacity: capacity.div_ceil(SHARDS) }
    }

    fn shard(&self, word: &[u8]) -> Option<&Shard> {
        if self.shards.is_empty() || word.len() > MAX_WORD_LEN {
            return None;
        }
        let hash = FxBuildHasher.hash_one(word);
        // Fx's low bits are weak; the top bits pick the shard.
        self.shards.get((hash >> 58) as usize % self.shards.len())
    }

    /// Appends the cached ids of `word` to `out`; false when the word is not cached.
    pub(crate) fn extend_from(&self, word: &[u8], out: &mut Vec<u32>) -> bool {
        let Some(shard) = self.shard(word) else {
            return false;
        };
        let Ok(map) = shard.read() else { return false };
        match map.get(word) {
            Some(ids) => {
                out.extend_from_slice(ids);
                true
            }
            None => false,
        }
    }

    /// Remembers the ids of `word` if its shard has room.
    pub(crate) fn insert(&self, word: &[u8], ids: &[u32]) {
        let Some(shard) = self.shard(word) else {
            return;
        };
        let Ok(mut map) = shard.write() else { return };
        if map.len() < self.shard_capacity {
            map.insert(word.into(), ids.into());
        }
    }
}

impl std::fmt::Debug for WordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordCache")
            .field("shards", &self.shards.len())
            .field("shard_capacity", &self.shard_capacity)
            .finish()
    }
}
