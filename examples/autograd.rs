//! A character-level language model in the style of Bengio et al. (2003),
//! trained with malmoi-tensor's autograd on real Korean movie reviews.
//!
//! ```text
//! cargo run --release --example autograd [-- [CORPUS] [--lines 4000] [--steps 3000]
//!     [--context 4] [--seed 7] [--samples 8]]   # --help lists them
//! ```
//!
//! CORPUS has one text per line (default `../shared/data/nsmc/reviews_unlabeled.txt`).
//! Each character is predicted from the previous `--context` characters: their
//! embeddings are concatenated, passed through a tanh hidden layer, and a
//! softmax over the character vocabulary gives the next character (the model
//! of "A Neural Probabilistic Language Model", as in Karpathy's makemore).
//! Training prints the training and validation loss as they fall, then samples
//! new reviews from the model. Every random choice derives from `--seed`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use malmoi::tensor::nn::{Embedding, Linear, Module, named_children};
use malmoi::tensor::optim::{AdamW, Optimizer, Schedule};
use malmoi::tensor::{Tensor, VarBuilder, clip_grad_norm, no_grad};
use ndarray::{Array2, ArrayD, Axis};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

type BoxError = Box<dyn std::error::Error>;

/// Trains a character-level MLP language model on Korean text and samples from it.
#[derive(Parser)]
struct Args {
    /// One text per line.
    #[arg(default_value = "../shared/data/nsmc/reviews_unlabeled.txt")]
    corpus: PathBuf,
    /// Texts read from the corpus.
    #[arg(long, default_value_t = 4000)]
    lines: usize,
    /// Optimisation steps.
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Characters the model sees before the one it predicts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    context: u16,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Texts sampled at the end.
    #[arg(long, default_value_t = 8)]
    samples: usize,
}

/// Characters seen at least `MIN_COUNT` times; id 0 marks the start and end
/// of a text, id 1 stands for every rarer character. Ids are `u32`, as
/// `Embedding::forward` reads them.
struct Vocab {
    chars: Vec<char>,
    ids: HashMap<char, u32>,
}

const BOUNDARY: u32 = 0;
const UNKNOWN: u32 = 1;
const MIN_COUNT: usize = 3;

impl Vocab {
    fn build(texts: &[String]) -> Vocab {
        let mut counts: HashMap<char, usize> = HashMap::new();
        texts.iter().flat_map(|t| t.chars()).for_each(|c| *counts.entry(c).or_default() += 1);
        let mut frequent: Vec<(char, usize)> = counts.into_iter().filter(|&(_, n)| n >= MIN_COUNT).collect();
        frequent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let chars: Vec<char> = ['·', '□'].into_iter().chain(frequent.into_iter().map(|(c, _)| c)).collect();
        let ids = (0..).zip(&chars).skip(2).map(|(id, &c)| (c, id)).collect();
        Vocab { chars, ids }
    }

    fn id(&self, c: char) -> u32 {
        self.ids.get(&c).copied().unwrap_or(UNKNOWN)
    }

    fn char(&self, id: u32) -> char {
        self.chars[id as usize]
    }

    fn len(&self) -> usize {
        self.chars.len()
    }
}

/// Every (previous `context` characters → next character) pair of the texts,
/// with the boundary before the first character and as the last target.
fn training_pairs(texts: &[String], vocab: &Vocab, context: usize) -> (Array2<u32>, Vec<u32>) {
    let (mut windows, mut targets) = (Vec::new(), Vec::new());
    for text in texts {
        let mut window = vec![BOUNDARY; context];
        for id in text.chars().map(|c| vocab.id(c)).chain([BOUNDARY]) {
            windows.extend_from_slice(&window);
            targets.push(id);
            window.rotate_left(1);
            window[context - 1] = id;
        }
    }
    let windows = Array2::from_shape_vec((targets.len(), context), windows).expect("context ids per target");
    (windows, targets)
}

/// Embedding → concatenation → tanh hidden layer → logits over characters.
struct CharMlp {
    embedding: Embedding,
    hidden: Linear,
    output: Linear,
}

impl CharMlp {
    fn new(vocab: usize, context: usize, vb: &VarBuilder) -> malmoi::tensor::Result<CharMlp> {
        let (dim, hidden) = (24, 256);
        Ok(CharMlp {
            embedding: Embedding::new(vocab, dim, None, vb.pp("embedding"))?,
            hidden: Linear::new(context * dim, hidden, true, vb.pp("hidden"))?,
            output: Linear::new(hidden, vocab, true, vb.pp("output"))?,
        })
    }

    /// Logits `(B, vocab)` for context windows `(B, context)`.
    fn logits(&self, windows: &ArrayD<u32>) -> malmoi::tensor::Result<Tensor> {
        let vectors = self.embedding.forward(windows)?;
        let batch = windows.shape()[0];
        let concatenated = vectors.reshape(&[batch, vectors.len() / batch])?;
        self.output.forward(&self.hidden.forward(&concatenated)?.tanh())
    }

    /// Mean cross-entropy of predicting `targets` from `windows`.
    fn loss(&self, windows: &ArrayD<u32>, targets: &[u32]) -> malmoi::tensor::Result<Tensor> {
        // cross_entropy reads class indices.
        let classes = targets.iter().map(|&id| id as usize).collect::<ndarray::Array1<usize>>().into_dyn();
        self.logits(windows)?.cross_entropy(&classes, None)
    }

    /// Mean loss over all pairs, in batches, recording no graph.
    fn evaluate(&self, windows: &Array2<u32>, targets: &[u32]) -> malmoi::tensor::Result<f32> {
        no_grad(|| {
            let mut total = 0.0;
            for (w, t) in windows.axis_chunks_iter(Axis(0), 2048).zip(targets.chunks(2048)) {
                total += self.loss(&w.to_owned().into_dyn(), t)?.item()? as f64 * t.len() as f64;
            }
            Ok((total / targets.len() as f64) as f32)
        })
    }

    /// A new text, one character at a time from the predicted distribution.
    fn sample(&self, vocab: &Vocab, context: usize, rng: &mut StdRng) -> malmoi::tensor::Result<String> {
        let mut window = vec![BOUNDARY; context];
        let mut text = String::new();
        for _ in 0..80 {
            let input = ArrayD::from_shape_vec(vec![1, context], window.clone()).expect("one window");
            let probs = no_grad(|| self.logits(&input)?.softmax(-1))?.to_array();
            let mut r: f32 = rng.random();
            let next = probs.iter().position(|&p| {
                r -= p;
                r <= 0.0
            });
            let next = next.map_or(BOUNDARY, |index| index as u32);
            if next == BOUNDARY {
                break;
            }
            text.push(vocab.char(next));
            window.rotate_left(1);
            window[context - 1] = next;
        }
        Ok(text)
    }
}

impl Module for CharMlp {
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        named_children(&[("embedding", &self.embedding), ("hidden", &self.hidden), ("output", &self.output)])
    }
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let context = usize::from(args.context);
    let corpus = std::fs::read_to_string(&args.corpus).map_err(|e| {
        format!("cannot read corpus {}: {e} (give a path: --example autograd -- FILE)", args.corpus.display())
    })?;
    let mut texts: Vec<String> =
        corpus.lines().map(str::trim).filter(|l| !l.is_empty()).take(args.lines).map(String::from).collect();
    let mut rng = StdRng::seed_from_u64(args.seed);
    texts.shuffle(&mut rng);
    let vocab = Vocab::build(&texts);
    let split = texts.len() * 9 / 10;
    let (train_windows, train_targets) = training_pairs(&texts[..split], &vocab, context);
    let (val_windows, val_targets) = training_pairs(&texts[split..], &vocab, context);
    println!(
        "{} texts from {}: {} characters in the vocabulary, {} training and {} validation pairs",
        texts.len(),
        args.corpus.display(),
        vocab.len(),
        train_targets.len(),
        val_targets.len()
    );

    let model = CharMlp::new(vocab.len(), context, &VarBuilder::fresh(rng.random()))?;
    println!(
        "model: {} parameters; uniform guessing would score ln {} = {:.3}",
        model.num_parameters(),
        vocab.len(),
        (vocab.len() as f32).ln()
    );
    let base_lr = 3e-3;
    let mut optimizer = AdamW::new(model.named_parameters(), base_lr)?.with_weight_decay(0.01)?;
    let schedule = Schedule::warmup_cosine(args.steps / 20, args.steps, 0.1)?;
    let batch = 256;
    let initial = model.evaluate(&val_windows, &val_targets)?;
    println!("step     0  validation loss {initial:.3}");

    let progress = ProgressBar::new(args.steps as u64);
    progress.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed_precise}]")?);
    let started = Instant::now();
    let (mut running, mut seen) = (0.0, 0);
    for step in 0..args.steps {
        let rows: Vec<usize> = (0..batch).map(|_| rng.random_range(0..train_targets.len())).collect();
        let windows = train_windows.select(Axis(0), &rows).into_dyn();
        let targets: Vec<u32> = rows.iter().map(|&r| train_targets[r]).collect();

        optimizer.set_learning_rate(schedule.learning_rate(base_lr, step));
        optimizer.zero_grad();
        let loss = model.loss(&windows, &targets)?;
        loss.backward()?;
        clip_grad_norm(&model.parameters(), 1.0)?;
        optimizer.step()?;

        running += loss.item()?;
        seen += 1;
        progress.inc(1);
        if (step + 1) % (args.steps / 10).max(1) == 0 || step + 1 == args.steps {
            let validation = model.evaluate(&val_windows, &val_targets)?;
            progress.suspend(|| {
                println!(
                    "step {:5}  train loss {:.3}  validation loss {validation:.3}  lr {:.2e}",
                    step + 1,
                    running / seen as f32,
                    optimizer.learning_rate()
                )
            });
            progress.set_message(format!("val {validation:.3}"));
            (running, seen) = (0.0, 0);
        }
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let last = model.evaluate(&val_windows, &val_targets)?;
    println!(
        "validation loss {initial:.3} → {last:.3} in {} steps ({elapsed:.1} s, {:.1} ms/step)",
        args.steps,
        1e3 * elapsed / args.steps.max(1) as f64
    );

    println!("samples:");
    for _ in 0..args.samples {
        println!("  {}", model.sample(&vocab, context, &mut rng)?);
    }
    Ok(())
}
