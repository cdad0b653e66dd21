//! Random numbers and tables of the training loop: word2vec.c's linear congruential
//! generator, the sigmoid lookup table, and the unigram^0.75 negative-sampling distribution.

/// word2vec.c's 64-bit linear congruential generator: one multiply-add per draw, seeded
/// explicitly so single-threaded training is reproducible.
#[derive(Debug, Clone)]
pub(crate) struct Lcg(u64);

impl Lcg {
    pub(crate) fn new(seed: u64) -> Self {
        Lcg(seed)
    }

    /// Next 32 random bits (the high half of the state).
    #[inline]
    pub(crate) fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(25_214_903_917).wrapping_add(11);
        (self.0 >> 32) as u32
    }

    /// Uniform integer in `0..n`.
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u32() as u64 * n as u64) >> 32) as usize
    }
}

/// Range `[-MAX_EXP, MAX_EXP]` covered by the sigmoid table (as in word2vec.c and gensim).
pub(crate) const MAX_EXP: f32 = 6.0;
const SIGMOID_TABLE_SIZE: usize = 1000;

/// Precomputed logistic sigmoid on `[-6, 6]` at 1000 points (word2vec.c's `expTable`);
/// outside that range the caller skips the update (gensim's rule).
#[derive(Debug, Clone)]
pub(crate) struct SigmoidTable(Vec<f32>);

impl SigmoidTable {
    pub(crate) fn new() -> Self {
        SigmoidTable(
            (0..SIGMOID_TABLE_SIZE)
                .map(|i| {
                    let x = (i as f32 / SIGMOID_TABLE_SIZE as f32 * 2.0 - 1.0) * MAX_EXP;
                    1.0 / (1.0 + (-x).exp())
                })
                .collect(),
        )
    }

    /// σ(x) for `-MAX_EXP < x < MAX_EXP`.
    #[inline]
    pub(crate) fn get(&self, x: f32) -> f32 {
        let i = ((x + MAX_EXP) * (SIGMOID_TABLE_SIZE as f32 / MAX_EXP / 2.0)) as usize;
        self.0[i.min(SIGMOID_TABLE_SIZE - 1)]
    }
}

/// Negative-sampling distribution: word `w` drawn with probability ∝ `count(w)^0.75`.
///
/// word2vec.c materialises this as a 10⁸-entry table and gensim binary-searches a cumulative
/// table; Walker's alias method gives the same distribution exactly with two small arrays
/// (cache-resident for 10⁵ words) and O(1) draws.
#[derive(Debug, Clone)]
pub(crate) struct UnigramTable {
    threshold: Vec<u32>,
    alias: Vec<u32>,
}

impl UnigramTable {
    pub(crate) fn new(counts: &[u64], power: f64) -> Self {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let mut probability = vec![1.0f64; n];
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            probability[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        let threshold = probability.iter().map(|p| (p * u32::MAX as f64).min(u32::MAX as f64) as u32).collect();
        UnigramTable { threshold, alias }
    }

    /// One word index drawn from the distribution.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut Lcg) -> u32 {
        let column = rng.below(self.alias.len());
        if rng.next_u32() < self.threshold[column] { column as u32 } else { self.alias[column] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unigram_table_follows_count_to_the_three_quarters() {
        let counts = [1000u64, 100, 10, 1];
        let table = UnigramTable::new(&counts, 0.75);
        let mut rng = Lcg::new(7);
        let mut seen = [0usize; 4];
        let draws = 2_000_000;
        for _ in 0..draws {
            seen[table.sample(&mut rng) as usize] += 1;
        }
        let z: f64 = counts.iter().map(|&c| (c as f64).powf(0.75)).sum();
        for (w, &c) in counts.iter().enumerate() {
            let expected = (c as f64).powf(0.75) / z;
            let observed = seen[w] as f64 / draws as f64;
            assert!((observed - expected).abs() < 0.003, "word {w}: {observed} vs {expected}");
        }
    }

    #[test]
    fn sigmoid_table_is_close_to_exact() {
        let table = SigmoidTable::new();
        for k in -59..60 {
            let x = k as f32 / 10.0;
            assert!((table.get(x) - 1.0 / (1.0 + (-x).exp())).abs() < 0.01, "σ({x})");
        }
    }
}
