//! Corpus BLEU computed as sacrebleu 2.x computes it (`sacrebleu.corpus_bleu` with one reference
//! per segment): 4-gram precisions clipped by the reference counts, summed over the corpus,
//! "exp" smoothing for orders without a match, and the brevity penalty on the corpus lengths.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// How segments are split into tokens before counting n-grams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BleuTokenizer {
    /// sacrebleu's default `13a` (mteval-v13a): punctuation and symbols split off words.
    #[default]
    Mteval13a,
    /// sacrebleu's `char`: every non-space character is a token (for transliteration, where
    /// a segment is one word).
    Char,
}

/// A corpus BLEU score and the statistics behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bleu {
    /// The score, 0–100.
    pub score: f64,
    /// n-gram precisions in percent, n = 1..4 (smoothed where no n-gram matched).
    pub precisions: [f64; 4],
    /// The brevity penalty.
    pub brevity_penalty: f64,
    /// Tokens in all hypotheses.
    pub hypothesis_length: usize,
    /// Tokens in all references.
    pub reference_length: usize,
}

/// Corpus BLEU of `hypotheses` against one reference each, as `sacrebleu.corpus_bleu(hyps,
/// [refs], tokenize=…)` computes it.
///
/// ```
/// use malmoi_seq::seq2seq::bleu::{BleuTokenizer, corpus_bleu};
///
/// let perfect = corpus_bleu(&["silla"], &["silla"], BleuTokenizer::Char);
/// assert!((perfect.score - 100.0).abs() < 1e-9);
/// let partial = corpus_bleu(&["sinla"], &["silla"], BleuTokenizer::Char);
/// assert!(partial.score < 50.0);
/// ```
///
/// # Panics
/// Never; segments beyond the shorter of the two lists are ignored, so pass equal lengths.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hypotheses: &[H], references: &[R], tokenizer: BleuTokenizer) -> Bleu {
    let (mut correct, mut total) = ([0usize; 4], [0usize; 4]);
    let (mut hypothesis_length, mut reference_length) = (0, 0);
    for (hypothesis, reference) in hypotheses.iter().zip(references) {
        let hypothesis = tokenize(hypothesis.as_ref(), tokenizer);
        let reference = tokenize(reference.as_ref(), tokenizer);
        hypothesis_length += hypothesis.len();
        reference_length += reference.len();
        for n in 1..=4 {
            let reference_counts = ngram_counts(&reference, n);
            for (gram, count) in ngram_counts(&hypothesis, n) {
                total[n - 1] += count;
                correct[n - 1] += count.min(reference_counts.get(&gram).copied().unwrap_or(0));
            }
        }
    }
    score(correct, total, hypothesis_length, reference_length)
}

/// sacrebleu's `BLEU.compute_bleu` with `smooth_method='exp'`.
fn score(correct: [usize; 4], total: [usize; 4], hypothesis_length: usize, reference_length: usize) -> Bleu {
    let brevity_penalty = match hypothesis_length {
        0 => 0.0,
        h if h < reference_length => (1.0 - reference_length as f64 / h as f64).exp(),
        _ => 1.0,
    };
    let mut bleu = Bleu { score: 0.0, precisions: [0.0; 4], brevity_penalty, hypothesis_length, reference_length };
    if correct.iter().all(|&c| c == 0) {
        return bleu;
    }
    let mut smooth = 1.0;
    for n in 0..4 {
        if total[n] == 0 {
            break;
        }
        bleu.precisions[n] = if correct[n] == 0 {
            smooth *= 2.0;
            100.0 / (smooth * total[n] as f64)
        } else {
            100.0 * correct[n] as f64 / total[n] as f64
        };
    }
    let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
    bleu.score = brevity_penalty * (bleu.precisions.iter().map(|&p| log(p)).sum::<f64>() / 4.0).exp();
    bleu
}

fn ngram_counts(tokens: &[String], n: usize) -> HashMap<&[String], usize> {
    let mut counts = HashMap::new();
    for gram in tokens.windows(n) {
        *counts.entry(gram).or_insert(0) += 1;
    }
    counts
}

/// The tokens of one segment (trailing whitespace stripped first, as sacrebleu does).
fn tokenize(segment: &str, tokenizer: BleuTokenizer) -> Vec<String> {
    let segment = segment.trim_end();
    match tokenizer {
        BleuTokenizer::Char => segment.chars().filter(|c| !c.is_whitespace()).map(String::from).collect(),
        BleuTokenizer::Mteval13a => tokenize_13a(segment).split_whitespace().map(String::from).collect(),
    }
}

/// The regular expressions of sacrebleu's `TokenizerRegexp`, applied in order.
static RULES_13A: LazyLock<[(Regex, &str); 4]> = LazyLock::new(|| {
    let rule = |pattern: &str, replacement| (Regex::new(pattern).expect("valid 13a pattern"), replacement);
    [
        rule(r"([\{-~\[-` -&\(-\+:-@/])", " $1 "),
        rule(r"([^0-9])([\.,])", "$1 $2 "),
        rule(r"([\.,])([^0-9])", " $1 $2"),
        rule(r"([0-9])(-)", "$1 $2 "),
    ]
});

/// sacrebleu's `Tokenizer13a`, before the final whitespace split.
fn tokenize_13a(segment: &str) -> String {
    let mut line = segment.replace("<skipped>", "").replace("-\n", "").replace('\n', " ");
    if line.contains('&') {
        line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (pattern, replacement) in RULES_13A.iter() {
        line = pattern.replace_all(&line, *replacement).into_owned();
    }
    line
}
