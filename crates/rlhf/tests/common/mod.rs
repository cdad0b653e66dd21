//! What the trainer tests share.

use malmoi_rlhf::batch::Sequence;
use malmoi_rlhf::reward::Preference;
use malmoi_transformer::GptConfig;

/// A one-layer GPT small enough for a test: 16 positions, 2 heads, width 16.
pub fn tiny_config(vocab_size: usize, dropout: f32) -> GptConfig {
    GptConfig { vocab_size, block_size: 16, n_layer: 1, n_head: 2, n_embd: 16, dropout, ..GptConfig::default() }
}

/// SFT's toy data: prompt `[p]`, answer `[p + 20, 0]` for p in 1..=16.
#[allow(dead_code, reason = "every test binary includes `common`; only the supervised trainers' tests use it")]
pub fn sft_data() -> Vec<Sequence> {
    (1..=16).map(|p| Sequence::new(vec![p], vec![p + 20, 0]).unwrap()).collect()
}

/// Prompts `[p, p + 1]` for p in 1..=12, each with a "good" and a "bad" answer.
#[allow(dead_code, reason = "every test binary includes `common`; only the supervised trainers' tests use it")]
pub fn toy_pairs() -> Vec<Preference> {
    (1..=12)
        .map(|p| Preference {
            chosen: Sequence::new(vec![p, p + 1], vec![30, 31, 0]).unwrap(),
            rejected: Sequence::new(vec![p, p + 1], vec![20, 21, 0]).unwrap(),
        })
        .collect()
}

/// A tiny policy, its prompts, a rule reward and the checks every on-policy trainer (PPO,
/// GRPO) must pass.
#[allow(dead_code, reason = "every test binary includes `common`; only ppo.rs and grpo.rs use these")]
pub mod on_policy {
    use std::fmt::Debug;

    use ndarray::ArrayD;

    use malmoi_rlhf::grpo::{Grpo, GrpoConfig};
    use malmoi_rlhf::ppo::{KlControl, Ppo, PpoConfig};
    use malmoi_rlhf::rollout::{FnReward, RewardFunction, Rollout};
    use malmoi_rlhf::{Error, Result};
    use malmoi_tensor::nn::Module;
    use malmoi_tokenize::BpeTrainer;
    use malmoi_tokenize::tokenizer::Tokenizer;
    use malmoi_train::Error::NonFinite;
    use malmoi_train::{Checkpoints, Metrics, Session, StepRecord, TrainLog};
    use malmoi_transformer::Gpt;
    use malmoi_transformer::generation::{GenerationConfig, Generator};

    use super::tiny_config;

    /// How the tests' rollouts are sampled: answers of up to 6 tokens.
    fn short_answers() -> GenerationConfig {
        GenerationConfig { max_new_tokens: 6, do_sample: true, ..GenerationConfig::default() }
    }

    /// The PPO run every test varies: 8 rollouts a step in minibatches of 4, two epochs, a fixed
    /// β of 0.02, answers of up to 6 tokens, evaluated every 5 steps.
    pub fn ppo_config(steps: usize) -> PpoConfig {
        PpoConfig {
            steps,
            batch_size: 8,
            mini_batch_size: 4,
            ppo_epochs: 2,
            learning_rate: 3e-3,
            kl: KlControl::Fixed { beta: 0.02 },
            generation: short_answers(),
            eval_interval: 5,
            seed: 7,
            ..PpoConfig::default()
        }
    }

    /// The GRPO run every test varies: 8 answers a step, 4 to each of 2 prompts, in minibatches
    /// of 4, two iterations, β 0.02, answers of up to 6 tokens, evaluated every 5 steps.
    pub fn grpo_config(steps: usize) -> GrpoConfig {
        GrpoConfig {
            steps,
            batch_size: 8,
            num_generations: 4,
            mini_batch_size: 4,
            num_iterations: 2,
            learning_rate: 3e-3,
            beta: 0.02,
            generation: short_answers(),
            eval_interval: 5,
            seed: 7,
            ..GrpoConfig::default()
        }
    }

    /// What the checks call on a trainer: PPO's and GRPO's methods of these names.
    pub trait Trainer {
        /// Trains on `prompts`, evaluating on `held_out`.
        fn train(&mut self, prompts: &[Vec<u32>], held_out: &[Vec<u32>], session: Session) -> Result<TrainLog>;
        /// The held-out metrics of `prompts`.
        fn evaluate(&self, prompts: &[Vec<u32>]) -> Result<Metrics>;
        /// The first `n` prompts and their answers.
        fn samples(&self, prompts: &[Vec<u32>], n: usize) -> Result<Vec<(String, String)>>;
    }

    /// [`Trainer`] for a trainer type whose inherent methods have its names.
    macro_rules! trainer {
        ($trainer:ident) => {
            impl<R: RewardFunction> Trainer for $trainer<'_, R> {
                fn train(&mut self, prompts: &[Vec<u32>], held_out: &[Vec<u32>], session: Session) -> Result<TrainLog> {
                    $trainer::train(self, prompts, held_out, session)
                }

                fn evaluate(&self, prompts: &[Vec<u32>]) -> Result<Metrics> {
                    $trainer::evaluate(self, prompts)
                }

                fn samples(&self, prompts: &[Vec<u32>], n: usize) -> Result<Vec<(String, String)>> {
                    $trainer::samples(self, prompts, n)
                }
            }
        };
    }
    trainer!(Ppo);
    trainer!(Grpo);

    /// The trainer under test as a closure: `train(generator, prompts, held_out)` builds it on
    /// `generator` and runs it on `prompts`, evaluating on `held_out`.
    pub trait Train: Fn(&mut Generator, &[Vec<u32>], &[Vec<u32>]) -> Result<TrainLog> {}

    impl<F: Fn(&mut Generator, &[Vec<u32>], &[Vec<u32>]) -> Result<TrainLog>> Train for F {}

    /// A byte-level BPE tokenizer with `<|endoftext|>`, trained on `texts`.
    pub fn tokenizer(texts: &[&str]) -> Tokenizer {
        BpeTrainer::new().vocab_size(260).special_tokens(["<|endoftext|>"]).train(texts.iter().copied()).unwrap()
    }

    /// A tiny GPT with its tokenizer, initialised by `seed`.
    pub fn policy(seed: u64) -> Generator {
        let tokenizer = tokenizer(&["abc abd", "bca"]);
        let config = tiny_config(tokenizer.vocab_size(), 0.0);
        Generator::new(Gpt::new(config, seed).unwrap(), tokenizer).unwrap()
    }

    /// Six short prompts, rendered through the policy's template.
    pub fn prompts(generator: &Generator) -> Vec<Vec<u32>> {
        ["ab", "b", "c", "ca", "bb", "cc"].iter().map(|p| generator.prompt_ids(p).unwrap()).collect()
    }

    /// A fresh [`policy`] seeded `seed` and its [`prompts`].
    pub fn fresh(seed: u64) -> (Generator, Vec<Vec<u32>>) {
        let generator = policy(seed);
        let prompts = prompts(&generator);
        (generator, prompts)
    }

    /// A rule reward: the share of the answer's tokens from the lower half of the vocabulary
    /// (about ½ for the untuned policy, and varying between answers, so GRPO's groups teach).
    pub fn share_of_low_ids(rollouts: &[Rollout]) -> Result<Vec<f32>> {
        let low = |r: &Rollout| r.sequence.response.iter().filter(|&&id| id < 130).count() as f32;
        Ok(rollouts.iter().map(|r| low(r) / r.sequence.response.len() as f32).collect())
    }

    /// A broken reward: NaN for every answer.
    pub fn nan_rewards(rollouts: &[Rollout]) -> Result<Vec<f32>> {
        Ok(vec![f32::NAN; rollouts.len()])
    }

    /// A reward made of a plain function.
    pub type RuleReward = FnReward<fn(&[Rollout]) -> Result<Vec<f32>>>;

    /// [`share_of_low_ids`] as a reward.
    pub static LOW_IDS: RuleReward = FnReward(share_of_low_ids);

    /// [`nan_rewards`] as a reward.
    pub static NAN_REWARDS: RuleReward = FnReward(nan_rewards);

    /// Every parameter's values, in order.
    pub fn weights(model: &dyn Module) -> Vec<ArrayD<f32>> {
        model.named_parameters().iter().map(|(_, t)| t.to_array()).collect()
    }

    /// A step's metric.
    pub fn metric(step: &StepRecord, name: &str) -> f64 {
        step.metrics[name]
    }

    /// The mean of a metric over steps.
    pub fn mean_of(steps: &[StepRecord], name: &str) -> f64 {
        steps.iter().map(|s| metric(s, name)).sum::<f64>() / steps.len() as f64
    }

    /// The log's chart, as SVG text.
    pub fn plotted(log: &TrainLog) -> String {
        let dir = tempfile::tempdir().unwrap();
        log.plot(&dir.path().join("run.svg"), 1).unwrap();
        std::fs::read_to_string(dir.path().join("run.svg")).unwrap()
    }

    /// Trains a fresh [`policy`] seeded `seed` on its [`prompts`], the first `held_out` of them
    /// held out.
    pub fn train_fresh(seed: u64, held_out: usize, train: impl Train) -> TrainLog {
        let (mut generator, prompts) = fresh(seed);
        train(&mut generator, &prompts, &prompts[..held_out]).unwrap()
    }

    /// Trains `trainer` (of a fresh [`policy`] with [`share_of_low_ids`]) for 60 steps on
    /// `prompts`, evaluated on them every 5 steps, and asserts what that shows: the rollouts'
    /// reward and the held-out reward rise by more than 0.2 from an untuned policy at KL 0 to its
    /// reference; every step logs `step_metrics`, a clip fraction in [0, 1] and a positive
    /// entropy; afterwards the trainer gives 4 samples and evaluates as the last evaluation did.
    /// Returns the log and the last held-out KL.
    pub fn assert_the_reward_rises(
        trainer: &mut dyn Trainer,
        prompts: &[Vec<u32>],
        step_metrics: &[&str],
    ) -> (TrainLog, f64) {
        let log = trainer.train(prompts, prompts, Session::default()).unwrap();
        let (first_reward, last_reward) = log.first_and_last("val_reward").unwrap();
        let (first_kl, last_kl) = log.first_and_last("val_kl").unwrap();
        let (early, late) = (mean_of(&log.steps[..10], "reward"), mean_of(&log.steps[50..], "reward"));
        assert!(late > early + 0.2, "rollout reward {early} → {late}");
        assert!(first_kl.abs() < 1e-4, "the untuned policy is its own reference: KL {first_kl}");
        assert!(last_reward > first_reward + 0.2, "held-out reward {first_reward} → {last_reward}");
        assert_eq!((log.steps.len(), log.evals.len()), (60, 13), "60 steps, evaluated at the start and every 5");
        for step in &log.steps {
            assert!(step_metrics.iter().all(|name| step.metrics.contains_key(*name)), "step {}", step.step);
            assert!((0.0..=1.0).contains(&metric(step, "clip_fraction")) && metric(step, "entropy") > 0.0);
        }
        assert_eq!(trainer.samples(prompts, 4).unwrap().len(), 4);
        let evaluated = trainer.evaluate(prompts).unwrap()["reward"];
        assert_eq!(evaluated, last_reward, "the samples' evaluation is the last one");
        (log, last_kl)
    }

    /// Asserts that `run` (a fresh process each time: only the checkpoint folder carries over)
    /// gives the same log and weights `W` twice, and that a run killed after step 3 resumes to
    /// the uninterrupted one's steps, weights and last evaluation. Returns the uninterrupted run
    /// and the killed one.
    pub fn assert_resumes_exactly<W: PartialEq + Debug>(run: impl Fn(Session) -> (TrainLog, W)) -> [(TrainLog, W); 2] {
        let whole = run(Session::default());
        let again = run(Session::default());
        assert_eq!(whole.0.without_times(), again.0.without_times());
        assert_eq!(whole.1, again.1);
        let dir = tempfile::tempdir().unwrap();
        let checkpointed = || Session { checkpoints: Some(Checkpoints::new(dir.path())), ..Session::default() };
        let first_half = run(Session { stop_at_step: Some(3), ..checkpointed() });
        assert_eq!(first_half.0.steps.len(), 3);
        let resumed = run(checkpointed());
        assert_eq!(resumed.0.steps, whole.0.steps, "every step, the step's own state included");
        assert_eq!(resumed.1, whole.1, "the weights");
        let last = |log: &TrainLog| log.last_eval().map(|e| (e.step, e.metrics["val_reward"], e.metrics["val_kl"]));
        assert_eq!(last(&resumed.0), last(&whole.0));
        [whole, first_half]
    }

    /// Asserts that `trainer` (given a reward of NaNs) stops at step 1 on the NaN reward, and
    /// with held-out prompts at step 0, where the engine evaluates first.
    pub fn assert_nan_rewards_stop(trainer: &mut dyn Trainer, prompts: &[Vec<u32>]) {
        let result = trainer.train(prompts, &[], Session::default());
        assert!(matches!(result, Err(Error::Train(NonFinite { step: 1, ref what })) if what == "reward"));
        let result = trainer.train(prompts, prompts, Session::default());
        assert!(matches!(result, Err(Error::Train(NonFinite { step: 0, .. }))));
    }

    /// Asserts that `trainer` refuses an empty prompt, one that fills the context of 16, an id
    /// outside the vocabulary and no prompts.
    pub fn assert_bad_prompts_refused(trainer: &mut dyn Trainer) {
        for bad in [vec![vec![]], vec![vec![1; 16]], vec![vec![9999]], vec![]] {
            assert!(matches!(trainer.train(&bad, &[], Session::default()), Err(Error::Input(_))), "{bad:?}");
        }
    }

    /// Asserts that training is deterministic for a seed on one thread, and the same on two
    /// (rollouts are seeded per answer and every reduction runs in a fixed order), on a fresh
    /// policy seeded 9 with 2 prompts held out.
    pub fn assert_one_thread_and_two_give_the_same_run(train: impl Train + Sync) {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| train_fresh(9, 2, &train).without_times())
        };
        let one = run(1);
        assert_eq!(one, run(1));
        assert_eq!(one, run(2));
    }

    /// The tests every on-policy trainer must pass, written once: `$trainer` is the trainer type
    /// (`Ppo`, `Grpo`), and the invoking file has `config(steps)`, the knobs of its runs
    /// ([`ppo_config`], [`grpo_config`]).
    #[allow(unused_macros, reason = "trainers.rs includes `common` but runs no on-policy trainer")]
    macro_rules! on_policy_tests {
        ($trainer:ident) => {
            #[test]
            fn non_finite_rewards_stop_the_run() {
                use $crate::common::on_policy::{NAN_REWARDS, assert_nan_rewards_stop, fresh};
                let (mut generator, prompts) = fresh(3);
                let mut trainer = $trainer::new(&mut generator, &NAN_REWARDS, config(2)).unwrap();
                assert_nan_rewards_stop(&mut trainer, &prompts);
            }

            #[test]
            fn bad_prompts_are_refused() {
                use $crate::common::on_policy::{LOW_IDS, assert_bad_prompts_refused, policy};
                let mut generator = policy(4);
                assert_bad_prompts_refused(&mut $trainer::new(&mut generator, &LOW_IDS, config(1)).unwrap());
            }

            #[test]
            fn one_thread_and_two_threads_give_the_same_run() {
                use ::malmoi_train::Session;
                use $crate::common::on_policy::{LOW_IDS, assert_one_thread_and_two_give_the_same_run};
                assert_one_thread_and_two_give_the_same_run(|generator, prompts, held_out| {
                    $trainer::new(generator, &LOW_IDS, config(4))?.train(prompts, held_out, Session::default())
                });
            }
        };
    }
    #[allow(unused_imports, reason = "trainers.rs includes `common` but runs no on-policy trainer")]
    pub(crate) use on_policy_tests;
}
