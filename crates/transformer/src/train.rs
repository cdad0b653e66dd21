//! GPT pre-training as nanoGPT's `train.py` runs it, on the shared engine (`malmoi-train`):
//! random windows of a token stream, AdamW (decay on matrices only, betas 0.9 / 0.95) with the
//! engine's warm-up and cosine decay, clipping, periodic validation loss, checkpoints and exact
//! resume. [`LmTraining`] is the [`TrainStep`]; [`train`] runs it.
//!
//! ```
//! use malmoi_train::{LrSchedule, TrainConfig, Trainer};
//! use malmoi_transformer::train::{LmConfig, train};
//! use malmoi_transformer::{Gpt, GptConfig};
//!
//! let config = GptConfig { vocab_size: 8, block_size: 16, n_layer: 1, n_head: 2, n_embd: 16, ..GptConfig::default() };
//! let mut model = Gpt::new(config, 0)?;
//! let tokens: Vec<u32> = (0..600).map(|i| [1, 2, 3, 4, 5, 3][i % 6]).collect();
//! let run = TrainConfig { max_steps: 40, learning_rate: 1e-2, eval_interval: 20, ..TrainConfig::default() };
//! let lm = LmConfig { batch_size: 8, block_size: 16, eval_windows: 4, weight_decay: 0.1 };
//! let log = train(&mut model, &tokens, &tokens[..200], &lm, &Trainer::new(run))?;
//! let (first, last) = (log.steps[0].loss, log.last_eval().unwrap().metrics["val_loss"]);
//! assert!(last < first / 2.0);
//! # Ok::<(), malmoi_transformer::Error>(())
//! ```

use ndarray::Array2;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use malmoi_tensor::nn::Module;
use malmoi_tensor::no_grad;
use malmoi_tensor::optim::{Adam, AdamW, ParamGroup};
use malmoi_train::{Metrics, StepOutput, TrainLog, TrainStep, Trainer, Update};

use crate::error::{Error, Result};
use crate::gpt::Gpt;

/// The language-model knobs of a run (the engine's are in [`malmoi_train::TrainConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Windows per step.
    pub batch_size: usize,
    /// Tokens per window (at most the model's `block_size`).
    pub block_size: usize,
    /// Validation windows (contiguous, the same every time).
    pub eval_windows: usize,
    /// AdamW's decoupled weight decay on weight matrices (not on biases, norms or positions).
    pub weight_decay: f32,
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig { batch_size: 32, block_size: 64, eval_windows: 256, weight_decay: 0.1 }
    }
}

/// GPT next-token training on a token stream: the [`TrainStep`] of [`train`].
#[derive(Debug)]
pub struct LmTraining<'a> {
    model: &'a mut Gpt,
    train_tokens: &'a [u32],
    val_tokens: &'a [u32],
    config: LmConfig,
}

impl<'a> LmTraining<'a> {
    /// Training of `model` on `train_tokens`, validated on `val_tokens`.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero batch or a block longer than the model's context;
    /// [`Error::Input`] for too few tokens.
    pub fn new(model: &'a mut Gpt, train_tokens: &'a [u32], val_tokens: &'a [u32], config: LmConfig) -> Result<Self> {
        if config.block_size == 0 || config.block_size > model.config().block_size || config.batch_size == 0 {
            return Err(Error::Config(format!(
                "batch {} × block {} must be positive and the block at most the model's {}",
                config.batch_size,
                config.block_size,
                model.config().block_size
            )));
        }
        if train_tokens.len() <= config.block_size + 1 {
            return Err(Error::Input(format!("{} training tokens do not fill one window", train_tokens.len())));
        }
        Ok(LmTraining { model, train_tokens, val_tokens, config })
    }

    /// nanoGPT's optimiser: AdamW with betas (0.9, 0.95), `weight_decay` on matrices and
    /// embeddings only — one optimiser over two parameter groups.
    ///
    /// # Errors
    /// [`Error::Tensor`] for a negative decay.
    pub fn optimizer(&self, learning_rate: f32) -> Result<Adam> {
        let groups = ParamGroup::decay_matrices(self.model.named_parameters(), self.config.weight_decay);
        Ok(AdamW::groups(groups, learning_rate)?.with_betas(0.9, 0.95, 1e-8)?)
    }
}

impl TrainStep for LmTraining<'_> {
    type Error = Error;

    fn model(&mut self) -> &mut dyn Module {
        &mut *self.model
    }

    fn train_step(&mut self, _step: usize, seed: u64, update: &mut Update<'_>) -> Result<StepOutput> {
        let mut rng = StdRng::seed_from_u64(seed);
        let (x, y) = sample_batch(self.train_tokens, self.config.batch_size, self.config.block_size, &mut rng);
        self.model.reseed(rng.random());
        let (_, loss) = self.model.forward(&x, Some(&y))?;
        Ok(StepOutput::loss(update.apply(&loss.expect("targets given"))?))
    }

    fn evaluate(&mut self) -> Result<Metrics> {
        let val_loss = evaluate(self.model, self.val_tokens, self.config.block_size, self.config.eval_windows)?;
        Ok(Metrics::from([("loss".into(), val_loss), ("perplexity".into(), val_loss.exp())]))
    }

    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "lm": self.config })
    }
}

/// Trains `model` on `train_tokens`, validating on `val_tokens`, with `trainer` (its config,
/// checkpoints, progress, stops); the optimiser is [`LmTraining::optimizer`]. Returns the log
/// of the whole run, resumed parts included.
///
/// # Errors
/// As [`LmTraining::new`] and [`Trainer::fit`].
pub fn train(
    model: &mut Gpt,
    train_tokens: &[u32],
    val_tokens: &[u32],
    config: &LmConfig,
    trainer: &Trainer,
) -> Result<TrainLog> {
    let mut step = LmTraining::new(model, train_tokens, val_tokens, config.clone())?;
    let mut optimizer = step.optimizer(trainer.config().learning_rate)?;
    trainer.fit(&mut step, &mut optimizer)
}

/// `batch_size` random windows of `block_size + 1` tokens: inputs and next-token targets.
pub fn sample_batch(
    tokens: &[u32],
    batch_size: usize,
    block_size: usize,
    rng: &mut impl Rng,
) -> (Array2<u32>, Array2<u32>) {
    let starts: Vec<usize> = (0..batch_size).map(|_| rng.random_range(0..tokens.len() - block_size)).collect();
    let x = Array2::from_shape_fn((batch_size, block_size), |(b, t)| tokens[starts[b] + t]);
    let y = Array2::from_shape_fn((batch_size, block_size), |(b, t)| tokens[starts[b] + t + 1]);
    (x, y)
}

/// Mean next-token cross-entropy over up to `max_windows` consecutive windows of `tokens`, in
/// inference mode (the model's mode is restored afterwards).
///
/// # Errors
/// [`Error::Input`] if `tokens` is shorter than one window; forward errors.
pub fn evaluate(model: &mut Gpt, tokens: &[u32], block_size: usize, max_windows: usize) -> Result<f64> {
    let windows = ((tokens.len().saturating_sub(1)) / block_size).min(max_windows);
    if windows == 0 {
        return Err(Error::Input(format!("{} tokens do not fill one window of {block_size}", tokens.len())));
    }
    let was_training = model.is_training();
    model.set_training(false);
    let result = no_grad(|| -> Result<f64> {
        let mut total = 0.0;
        for chunk in (0..windows).collect::<Vec<_>>().chunks(32) {
            let window = |b: usize, t: usize, shift: usize| tokens[chunk[b] * block_size + t + shift];
            let x = Array2::from_shape_fn((chunk.len(), block_size), |(b, t)| window(b, t, 0));
            let y = Array2::from_shape_fn((chunk.len(), block_size), |(b, t)| window(b, t, 1));
            let (_, loss) = model.forward(&x, Some(&y))?;
            total += f64::from(loss.expect("targets given").item()?) * chunk.len() as f64;
        }
        Ok(total / windows as f64)
    });
    model.set_training(was_training);
    result
}
