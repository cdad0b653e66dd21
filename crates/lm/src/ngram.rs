//! The n-gram model: tables of log10 probabilities and backoff weights, queried like KenLM.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::error::Result;
use crate::model::{LanguageModel, NextWord, SENTENCE_END, SentenceScore};
use crate::smoothing::Smoothing;
use crate::vocab::{BOS, EOS, UNK, Vocab};

/// The highest order a model may have.
pub const MAX_ORDER: usize = 10;

/// log10 probability given to `<s>`, which is never predicted (the ARPA convention).
pub(crate) const BOS_LOG10_PROB: f64 = -99.0;

/// One n-gram's estimates, as in an ARPA file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// log10 p(last word | the words before it).
    pub log10_prob: f64,
    /// log10 of the backoff weight when this n-gram is the context (0 when it is none).
    pub backoff: f64,
}

/// The n-grams of one order, keyed by their word ids (oldest first).
pub(crate) type Table = FxHashMap<Box<[u32]>, Entry>;

/// A backoff n-gram language model over tokens: built by [`crate::NgramBuilder`] or read from
/// an ARPA file.
///
/// A word's probability comes from the longest n-gram of the model that ends with it, plus
/// the backoff weights of the longer contexts that were skipped (KenLM's query semantics).
/// Sentences start with the context `<s>` and end with the predicted `</s>`; a token outside
/// the vocabulary is scored as `<unk>` and counted in [`SentenceScore::oov`].
#[derive(Debug, Clone)]
pub struct NgramModel {
    vocab: Vocab,
    tables: Vec<Table>,
    smoothing: Smoothing,
}

impl NgramModel {
    pub(crate) fn new(vocab: Vocab, tables: Vec<Table>, smoothing: Smoothing) -> Self {
        Self { vocab, tables, smoothing }
    }

    /// The highest order (3 for a trigram model).
    pub fn order(&self) -> usize {
        self.tables.len()
    }

    /// The token ↔ id table.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// How the scores were estimated (ARPA files load as [`Smoothing::KneserNey`]-style backoff models).
    pub fn smoothing(&self) -> Smoothing {
        self.smoothing
    }

    /// Number of n-grams of each order, unigrams first.
    pub fn ngram_counts(&self) -> Vec<usize> {
        self.tables.iter().map(|table| table.len()).collect()
    }

    /// The estimates of one n-gram (`["버스", "를"]`), if the model has it.
    pub fn entry(&self, ngram: &[&str]) -> Option<Entry> {
        let ids: Option<Vec<u32>> = ngram.iter().map(|word| self.vocab.get(word)).collect();
        let ids = ids?;
        self.tables.get(ids.len().checked_sub(1)?)?.get(&ids[..]).copied()
    }

    pub(crate) fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// log10 of the probability (or stupid-backoff score) of word id `word` after the ids
    /// `history` (oldest first; only the last `order - 1` are used).
    pub fn log10_prob_id(&self, history: &[u32], word: u32) -> f64 {
        let history = &history[history.len().saturating_sub(self.order() - 1)..];
        let mut key = [0u32; MAX_ORDER];
        let (found, mut log10_prob) = (0..=history.len())
            .rev()
            .find_map(|used| {
                key[..used].copy_from_slice(&history[history.len() - used..]);
                key[used] = word;
                self.tables[used].get(&key[..=used]).map(|entry| (used, entry.log10_prob))
            })
            .unwrap_or((0, self.tables[0][&[UNK][..]].log10_prob));
        match self.smoothing {
            Smoothing::KneserNey => {
                for used in found + 1..=history.len() {
                    if let Some(context) = self.tables[used - 1].get(&history[history.len() - used..]) {
                        log10_prob += context.backoff;
                    }
                }
            }
            Smoothing::StupidBackoff { alpha } => log10_prob += (history.len() - found) as f64 * alpha.log10(),
        }
        log10_prob
    }

    /// Scores a tokenised sentence: each token after `<s>` and the tokens before it, then `</s>`.
    pub fn score_tokens<S: AsRef<str>>(&self, tokens: &[S]) -> SentenceScore {
        let mut history = Vec::with_capacity(tokens.len() + 2);
        history.push(BOS);
        let mut words = Vec::with_capacity(tokens.len() + 1);
        let mut log10_probs = Vec::with_capacity(tokens.len() + 1);
        let mut oov = 0;
        let ids = tokens.iter().map(|token| (token.as_ref(), self.vocab.get(token.as_ref())));
        for (word, id) in ids.chain(std::iter::once((SENTENCE_END, Some(EOS)))) {
            let id = id.unwrap_or_else(|| {
                oov += 1;
                UNK
            });
            log10_probs.push(self.log10_prob_id(&history, id));
            history.push(id);
            words.push(word.to_owned());
        }
        SentenceScore::new(words, log10_probs, oov)
    }

    /// The `k` most probable next tokens after the tokenised `prefix` (from the sentence
    /// start), `</s>` included, `<unk>` and `<s>` never.
    pub fn next_tokens<S: AsRef<str>>(&self, prefix: &[S], k: usize) -> Vec<NextWord> {
        let mut history = vec![BOS];
        history.extend(prefix.iter().map(|token| self.vocab.id_or_unk(token.as_ref())));
        let mut scored: Vec<(u32, f64)> = (0..self.vocab.len() as u32)
            .into_par_iter()
            .filter(|&id| id != UNK && id != BOS)
            .map(|id| (id, self.log10_prob_id(&history, id)))
            .collect();
        let by_score = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if k < scored.len() {
            scored.select_nth_unstable_by(k, by_score);
            scored.truncate(k);
        }
        scored.sort_unstable_by(by_score);
        scored
            .into_iter()
            .map(|(id, log10_prob)| NextWord { word: self.vocab.word(id).to_owned(), prob: 10f64.powf(log10_prob) })
            .collect()
    }
}

/// Whitespace-tokenised text, scored like KenLM's `query` (and Python `kenlm`'s `full_scores`).
impl LanguageModel for NgramModel {
    fn name(&self) -> String {
        match self.smoothing {
            Smoothing::KneserNey => format!("{}-gram", self.order()),
            Smoothing::StupidBackoff { .. } => format!("{}-gram stupid backoff", self.order()),
        }
    }

    fn score(&self, text: &str) -> Result<SentenceScore> {
        Ok(self.score_tokens(&text.split_whitespace().collect::<Vec<_>>()))
    }

    fn next_words(&self, prefix: &str, k: usize) -> Result<Vec<NextWord>> {
        Ok(self.next_tokens(&prefix.split_whitespace().collect::<Vec<_>>(), k))
    }
}
