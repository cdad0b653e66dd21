//! Inputs the benches share: NSMC reviews, and synthetic Zipf-distributed words.

// every bench uses only part of this module
#![allow(dead_code)]

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The first `count` reviews of `../shared/data/nsmc/reviews_unlabeled.txt` (beside the
/// repository), one per line.
pub fn nsmc_lines(count: usize) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/nsmc/reviews_unlabeled.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (the bench needs ../shared/data beside the repository)", path.display()));
    text.lines().take(count).map(str::to_owned).collect()
}

/// Zipf(1) over word types `w0`, `w1`, … (`w0` the most frequent), sampled by inverse
/// transform on the harmonic CDF.
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution over `types` word types.
    pub fn new(types: usize) -> Self {
        let cdf = (1..=types)
            .scan(0.0, |acc, k| {
                *acc += 1.0 / k as f64;
                Some(*acc)
            })
            .collect();
        Zipf { cdf }
    }

    /// One word drawn from `rng`.
    pub fn word(&self, rng: &mut impl Rng) -> String {
        let u = rng.random::<f64>() * self.cdf[self.cdf.len() - 1];
        format!("w{}", self.cdf.partition_point(|&h| h < u))
    }
}

/// Sentences of 5–30 words over `types` Zipf-distributed types, drawn with `seed`, until they
/// hold at least `words` words.
pub fn zipf_sentences(seed: u64, types: usize, words: usize) -> Vec<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let zipf = Zipf::new(types);
    let (mut total, mut sentences) = (0, Vec::new());
    while total < words {
        let len = rng.random_range(5..30);
        total += len;
        sentences.push((0..len).map(|_| zipf.word(&mut rng)).collect());
    }
    sentences
}
