//! # malmoi-rlhf
//!
//! ChatGPT's recipe, as the lecture's KoChatGPT tutorial runs it, on malmoi's GPT: supervised
//! fine-tuning on prompt/answer pairs ([`sft`]), a reward model trained from rankings
//! ([`reward`]), PPO against a reward with a KL leash to the SFT model ([`ppo`]), DPO
//! ([`dpo`]), which learns from the same preferences without a reward model, and GRPO
//! ([`grpo`]), PPO's objective with the other answers to the same prompt as the baseline and
//! composable reward functions; [`rollout`] holds the answers the two sample and the
//! [`RewardFunction`](rollout::RewardFunction) that scores them, [`policy`] the rest of what
//! they share, among it the frozen reference ([`policy::frozen_reference`]). Each of the five
//! tunes every weight or, with
//! `lora: Some(..)` in its knobs, LoRA adapters against the base with its adapters off
//! ([`lora`]). Every trainer runs on the shared engine
//! (`malmoi-train`): SFT, the reward model and DPO as one supervised
//! [`TrainStep`](malmoi_train::TrainStep) ([`fit`]),
//! PPO and GRPO as others whose step is one batch of rollouts and its epochs
//! ([`ppo::Ppo::train`], [`grpo::Grpo::train`]). All of them evaluate on held-out data, show
//! progress, log one [`TrainLog`](malmoi_train::TrainLog) and resume exactly from checkpoints.
//! [`losses`] holds the formulas.

pub mod batch;
pub mod data;
pub mod dpo;
pub mod encode;
pub mod error;
pub mod fit;
pub mod grpo;
pub mod lora;
pub mod losses;
pub mod policy;
pub mod ppo;
pub mod reward;
pub mod rollout;
pub mod sft;
pub mod template;

pub use error::{Error, Result};
pub use template::{ChatMessage, PromptTemplate, Role};
