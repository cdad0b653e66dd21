//! Intrinsic evaluation of [`KeyedVectors`], as gensim's `evaluate_word_pairs` and
//! `evaluate_word_analogies`: Spearman correlation with human similarity scores, and
//! analogy accuracy by 3CosAdd.

use crate::error::Result;
use crate::keyed_vectors::KeyedVectors;

/// Result of [`KeyedVectors::evaluate_word_pairs`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairScore {
    /// Spearman rank correlation between the given scores and cosine similarities.
    pub spearman: f64,
    /// Pairs scored (both words known).
    pub used: usize,
    /// Pairs skipped because a word is unknown.
    pub skipped: usize,
}

/// Result of [`KeyedVectors::evaluate_word_analogies`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalogyScore {
    /// Fraction of answered questions whose top 3CosAdd answer is the expected word.
    pub accuracy: f64,
    /// Questions answered (all four words known).
    pub used: usize,
    /// Questions skipped because a word is unknown.
    pub skipped: usize,
}

impl KeyedVectors {
    /// Spearman correlation of cosine similarity with `(word, word, score)` judgements; pairs
    /// with unknown words are skipped and counted.
    ///
    /// ```
    /// use malmoi_embed::KeyedVectors;
    /// let kv = KeyedVectors::from_flat(
    ///     vec!["a".into(), "b".into(), "c".into()], 2, vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0]).unwrap();
    /// let pairs = [("a", "b", 9.0), ("a", "c", 1.0), ("b", "c", 2.0), ("a", "zzz", 5.0)];
    /// let score = kv.evaluate_word_pairs(&pairs);
    /// assert!((score.spearman - 1.0).abs() < 1e-12);
    /// assert_eq!((score.used, score.skipped), (3, 1));
    /// ```
    pub fn evaluate_word_pairs(&self, pairs: &[(&str, &str, f64)]) -> PairScore {
        let (mut human, mut model) = (Vec::new(), Vec::new());
        for &(a, b, score) in pairs {
            if let Ok(similarity) = self.similarity(a, b) {
                human.push(score);
                model.push(similarity as f64);
            }
        }
        PairScore { spearman: spearman(&human, &model), used: human.len(), skipped: pairs.len() - human.len() }
    }

    /// Accuracy on analogy questions `a : b = c : d` (is `d` the best 3CosAdd answer?);
    /// questions with unknown words are skipped and counted.
    pub fn evaluate_word_analogies(&self, questions: &[[&str; 4]]) -> Result<AnalogyScore> {
        let (mut correct, mut used) = (0usize, 0usize);
        for [a, b, c, d] in questions {
            if ![a, b, c, d].iter().all(|w| self.contains(w)) {
                continue;
            }
            used += 1;
            let best = self.analogy(a, b, c, 1)?;
            correct += usize::from(best.first().is_some_and(|(w, _)| w == d));
        }
        Ok(AnalogyScore {
            accuracy: if used == 0 { 0.0 } else { correct as f64 / used as f64 },
            used,
            skipped: questions.len() - used,
        })
    }
}

/// Spearman's rank correlation (average ranks for ties); 0 for fewer than two points.
fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    pearson(&ranks(x), &ranks(y))
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && v[order[end]] == v[order[start]] {
            end += 1;
        }
        let average = (start + end - 1) as f64 / 2.0;
        order[start..end].iter().for_each(|&i| ranks[i] = average);
        start = end;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sx = x.iter().map(|a| (a - mx).powi(2)).sum::<f64>().sqrt();
    let sy = y.iter().map(|b| (b - my).powi(2)).sum::<f64>().sqrt();
    if sx == 0.0 || sy == 0.0 { 0.0 } else { cov / (sx * sy) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_matches_scipy_with_ties() {
        // scipy.stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]).statistic = 0.7631578947368421
        let r = spearman(&[1.0, 2.0, 2.0, 3.0, 5.0], &[2.0, 1.0, 4.0, 4.0, 9.0]);
        assert!((r - 0.7631578947368421).abs() < 1e-12, "{r}");
    }
}
