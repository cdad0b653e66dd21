//! The Korean → Revised Romanization task, derived from the words of a Korean corpus.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use malmoi_tokenize::text::romanize::romanize;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

/// A source text and its reference output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The input, e.g. a Hangul word.
    pub source: String,
    /// The expected output, e.g. its romanization.
    pub target: String,
}

/// A seeded split into training and held-out pairs; no source occurs in both.
#[derive(Debug, Clone)]
pub struct Split {
    /// Pairs to train on.
    pub train: Vec<Pair>,
    /// Pairs to measure on.
    pub held_out: Vec<Pair>,
}

/// The distinct space-separated words of `path` (one text per line) that are made of 1 to
/// `max_len` Hangul syllables, each with its [`romanize`]d form, in first-seen order.
pub fn romanization_pairs(path: &Path, max_len: usize) -> Result<Vec<Pair>> {
    let io_error = |source| Error::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut seen = HashSet::new();
    let mut pairs = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io_error)?;
        for word in line.split_whitespace() {
            let syllables = word.chars().count();
            let hangul = word.chars().all(|c| ('가'..='힣').contains(&c));
            if hangul && syllables <= max_len && seen.insert(word.to_owned()) {
                pairs.push(Pair { source: word.to_owned(), target: romanize(word) });
            }
        }
    }
    Ok(pairs)
}

/// Shuffles `pairs` with `seed` and takes `train` pairs for training and the next `held_out`
/// for measuring. Sources must be distinct (as [`romanization_pairs`] gives them), so no
/// held-out source is ever trained on.
pub fn split(mut pairs: Vec<Pair>, train: usize, held_out: usize, seed: u64) -> Result<Split> {
    if train + held_out > pairs.len() {
        return Err(Error::InvalidArgument(format!(
            "asked for {train} training and {held_out} held-out pairs, but only {} exist",
            pairs.len()
        )));
    }
    pairs.shuffle(&mut StdRng::seed_from_u64(seed));
    pairs.truncate(train + held_out);
    let held_out = pairs.split_off(train);
    Ok(Split { train: pairs, held_out })
}
