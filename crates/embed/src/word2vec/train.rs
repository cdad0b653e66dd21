//! The training loop: lock-free ("Hogwild") multi-threaded SGD over corpus jobs, with
//! negative sampling and/or hierarchical softmax; each window's update is [`cbow`](super::cbow)'s
//! or [`skip_gram`](super::skip_gram)'s.
//!
//! Per (input, output word) pair the work is `(negative + 1)` (or code-length) dot products
//! and two axpys of `vector_size` floats: about `6 · d · (k + 1)` FLOPs. The inner loop does
//! not allocate: each worker owns its scratch buffers and random generator.

use super::Architecture;
use super::corpus::{Corpus, Job, run_jobs};
use super::huffman::HuffmanTree;
use super::sampling::{Lcg, MAX_EXP, SigmoidTable, UnigramTable};
use crate::error::Result;
use crate::keyed_vectors::{axpy, dot};
use crate::vocab::Vocabulary;
use indicatif::ProgressBar;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// A center word and its context in a sentence of ids: the words at `span` other than `center`.
pub(super) struct Window<'s> {
    pub(super) sentence: &'s [u32],
    pub(super) center: usize,
    pub(super) span: std::ops::Range<usize>,
}

impl Window<'_> {
    /// The center word's id.
    pub(super) fn word(&self) -> u32 {
        self.sentence[self.center]
    }

    /// The context words' ids.
    pub(super) fn context(&self) -> impl Iterator<Item = u32> + '_ {
        self.span.clone().filter(|&c| c != self.center).map(|c| self.sentence[c])
    }
}

/// A weight matrix shared by all worker threads without locks.
///
/// Hogwild (Recht et al. 2011), as in word2vec.c and gensim: threads read and update rows
/// concurrently; two threads occasionally touching the same row lose or mix an update, which
/// SGD tolerates. Strictly, Rust's memory model calls such concurrent non-atomic accesses a
/// data race; we accept this deliberately, as every word2vec implementation does, because
/// atomics would forbid the vectorised dot/axpy that make training fast. `f32` stores are
/// single machine writes on every supported target, so a value is never torn. Within one
/// thread no two live `&mut` rows alias: rows handed out together always come from different
/// matrices, or are used one at a time.
pub(crate) struct SharedRows<'m> {
    ptr: *mut f32,
    rows: usize,
    dim: usize,
    _borrow: PhantomData<&'m mut [f32]>,
}

// SAFETY: see the type's documentation; the pointer stays valid for 'm.
unsafe impl Send for SharedRows<'_> {}
// SAFETY: see the type's documentation.
unsafe impl Sync for SharedRows<'_> {}

impl<'m> SharedRows<'m> {
    pub(crate) fn new(data: &'m mut [f32], dim: usize) -> Self {
        let rows = data.len().checked_div(dim).unwrap_or(0);
        SharedRows { ptr: data.as_mut_ptr(), rows, dim, _borrow: PhantomData }
    }

    /// Row `i`, shared with other threads (see the type's documentation).
    ///
    /// # Safety
    /// The caller must not hold another reference to the same row in this thread.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn row(&self, i: usize) -> &mut [f32] {
        assert!(i < self.rows, "row {i} out of {}", self.rows);
        // SAFETY: in bounds by the assertion; aliasing rules per the type's documentation.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(i * self.dim), self.dim) }
    }
}

/// The weights being trained.
pub(crate) struct Weights<'m> {
    pub syn0: SharedRows<'m>,
    pub syn1neg: SharedRows<'m>,
    pub syn1: SharedRows<'m>,
}

/// Read-only context shared by the workers.
pub(crate) struct Trainer<'c> {
    pub architecture: Architecture,
    pub vector_size: usize,
    pub window: usize,
    pub negative: usize,
    pub hs: bool,
    pub cbow_mean: bool,
    pub alpha: f32,
    pub min_alpha: f32,
    pub seed: u64,
    pub vocab: &'c Vocabulary,
    pub keep: &'c [u32],
    pub unigrams: &'c UnigramTable,
    pub huffman: &'c HuffmanTree,
    pub sigmoid: SigmoidTable,
    /// Raw words of all passes, the denominator of the learning-rate schedule.
    pub planned_words: u64,
}

/// Totals of one training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingReport {
    /// Passes over the corpus.
    pub epochs: usize,
    /// Tokens read, including out-of-vocabulary ones.
    pub raw_words: u64,
    /// Tokens trained on (in vocabulary and kept by subsampling), gensim's "effective words".
    pub effective_words: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl TrainingReport {
    /// Effective words per second, the figure gensim logs.
    pub fn effective_words_per_second(&self) -> f64 {
        self.effective_words as f64 / self.seconds.max(1e-9)
    }
}

/// One worker's private state.
struct Worker {
    rng: Lcg,
    neu1: Vec<f32>,
    neu1e: Vec<f32>,
    ids: Vec<u32>,
    ends: Vec<usize>,
    effective: u64,
}

impl Trainer<'_> {
    /// Trains `epochs` passes over `corpus` on `workers` threads.
    pub(crate) fn run(
        &self,
        corpus: &Corpus<'_>,
        epochs: usize,
        workers: usize,
        weights: &Weights<'_>,
        progress: &ProgressBar,
    ) -> Result<(u64, u64)> {
        let done = AtomicU64::new(0);
        let states = run_jobs(
            corpus,
            epochs,
            workers,
            |w| Worker {
                rng: Lcg::new(self.seed.wrapping_add(w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
                neu1: vec![0.0; self.vector_size],
                neu1e: vec![0.0; self.vector_size],
                ids: Vec::new(),
                ends: Vec::new(),
                effective: 0,
            },
            |worker, job| {
                let alpha = self.learning_rate(done.load(Ordering::Relaxed));
                let raw = self.encode(corpus, job, worker);
                self.train_job(worker, weights, alpha);
                worker.effective += worker.ids.len() as u64;
                done.fetch_add(raw, Ordering::Relaxed);
                progress.inc(raw);
            },
        )?;
        Ok((done.into_inner(), states.iter().map(|w| w.effective).sum()))
    }

    /// Linearly decaying learning rate after `done` raw words of this run.
    fn learning_rate(&self, done: u64) -> f32 {
        let progress = done as f64 / self.planned_words.max(1) as f64;
        let alpha = self.alpha as f64 - (self.alpha - self.min_alpha) as f64 * progress;
        alpha.max(self.min_alpha as f64) as f32
    }

    /// Turns a job into vocabulary ids (dropping unknown and subsampled words) with sentence
    /// ends; returns the number of raw tokens.
    fn encode(&self, corpus: &Corpus<'_>, job: &Job<'_>, worker: &mut Worker) -> u64 {
        let Worker { rng, ids, ends, .. } = worker;
        ids.clear();
        ends.clear();
        let mut raw = 0;
        corpus.visit(job, |token| match token {
            Some(token) => {
                raw += 1;
                if let Some(id) = self.vocab.index(token) {
                    let keep = self.keep[id];
                    if keep == u32::MAX || keep > rng.next_u32() {
                        ids.push(id as u32);
                    }
                }
            }
            None => {
                if ends.last() != Some(&ids.len()) {
                    ends.push(ids.len());
                }
            }
        });
        raw
    }

    /// Trains on the sentences encoded in `worker`, with AVX2 when the CPU has it.
    fn train_job(&self, worker: &mut Worker, weights: &Weights<'_>, alpha: f32) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { self.train_job_avx2(worker, weights, alpha) };
        }
        self.train_sentences(worker, weights, alpha);
    }

    /// [`train_sentences`](Self::train_sentences) compiled for AVX2: everything below it is
    /// inlined, so its dot products and axpys use 256-bit vectors.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn train_job_avx2(&self, worker: &mut Worker, weights: &Weights<'_>, alpha: f32) {
        self.train_sentences(worker, weights, alpha);
    }

    #[inline(always)]
    fn train_sentences(&self, worker: &mut Worker, weights: &Weights<'_>, alpha: f32) {
        for s in 0..worker.ends.len() {
            let start = if s == 0 { 0 } else { worker.ends[s - 1] };
            let end = worker.ends[s];
            self.train_sentence(worker, weights, start..end, alpha);
        }
    }

    #[inline(always)]
    fn train_sentence(&self, worker: &mut Worker, weights: &Weights<'_>, span: std::ops::Range<usize>, alpha: f32) {
        let Worker { rng, neu1, neu1e, ids, .. } = worker;
        let sentence = &ids[span];
        for pos in 0..sentence.len() {
            let reach = self.window - rng.below(self.window);
            let lo = pos.saturating_sub(reach);
            let hi = (pos + reach + 1).min(sentence.len());
            let window = Window { sentence, center: pos, span: lo..hi };
            match self.architecture {
                Architecture::SkipGram => self.skip_gram(weights, &window, alpha, neu1e, rng),
                Architecture::Cbow => self.cbow(weights, &window, alpha, (neu1, neu1e), rng),
            }
        }
    }

    /// Predicts `word` from `input`: updates the output rows (hierarchical softmax along the
    /// word's Huffman path, and/or the word against `negative` sampled noise words) and
    /// accumulates the input's gradient into `neu1e`.
    #[inline(always)]
    pub(super) fn output_layer(
        &self,
        weights: &Weights<'_>,
        input: &[f32],
        word: u32,
        alpha: f32,
        neu1e: &mut [f32],
        rng: &mut Lcg,
    ) {
        if self.hs {
            let path = self.huffman.points(word as usize);
            for (&point, &code) in path.iter().zip(self.huffman.codes(word as usize)) {
                // SAFETY: syn1 rows never alias `input` (syn0 or a private buffer).
                let output = unsafe { weights.syn1.row(point as usize) };
                let f = dot(input, output);
                if f <= -MAX_EXP || f >= MAX_EXP {
                    continue;
                }
                let g = (1.0 - code as f32 - self.sigmoid.get(f)) * alpha;
                axpy(g, output, neu1e);
                axpy(g, input, output);
            }
        }
        for d in 0..self.negative + usize::from(self.negative > 0) {
            let (target, label) = if d == 0 {
                (word, 1.0)
            } else {
                let noise = self.unigrams.sample(rng);
                if noise == word {
                    continue;
                }
                (noise, 0.0)
            };
            // SAFETY: syn1neg rows never alias `input`.
            let output = unsafe { weights.syn1neg.row(target as usize) };
            let f = dot(input, output);
            // Saturated: skip the update, as gensim does (word2vec.c would apply the limit
            // 0 or 1, i.e. a full-strength step for a noise word scored above 6).
            if f <= -MAX_EXP || f >= MAX_EXP {
                continue;
            }
            let g = (label - self.sigmoid.get(f)) * alpha;
            axpy(g, output, neu1e);
            axpy(g, input, output);
        }
    }
}
