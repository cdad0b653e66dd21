//! # malmoi-rlhf
//!
//! ChatGPT's recipe, as the lecture's KoChatGPT tutorial runs it, on malmoi's GPT: supervised
//! fine-tuning on prompt/answer pairs ([`sft`]), a reward model trained from rankings
//! ([`reward`]), PPO against a reward with a KL leash to the SFT model ([`ppo`]), and DPO
//! ([`dpo`]), which learns from the same preferences without a reward model. Every trainer runs
//! on the shared engine (`malmoi-train`): SFT, the reward model and DPO as one supervised
//! [`TrainStep`](malmoi_train::TrainStep) ([`fit`]), PPO as another whose step is one batch of
//! rollouts and its PPO epochs ([`ppo::Ppo::train`]). All of them evaluate on held-out data, show
//! progress, log one [`TrainLog`](malmoi_train::TrainLog) and resume exactly from checkpoints.
//! [`losses`] holds the formulas.

pub mod batch;
pub mod data;
pub mod dpo;
pub mod encode;
pub mod error;
pub mod fit;
pub mod losses;
pub mod ppo;
pub mod reward;
pub mod sft;
pub mod template;

pub use error::{Error, Result};
pub use template::{ChatMessage, PromptTemplate, Role};
