//! # malmoi-rlhf
//!
//! ChatGPT's recipe, as the lecture's KoChatGPT tutorial runs it, on malmoi's GPT: supervised
//! fine-tuning on prompt/answer pairs ([`sft`]), a reward model trained from rankings
//! ([`reward`]), PPO against a reward with a KL leash to the SFT model ([`ppo`]), and DPO
//! ([`dpo`]), which learns from the same preferences without a reward model. SFT, the reward
//! model and DPO train through one supervised loop ([`fit`]); PPO has its own
//! ([`ppo::Ppo::train`]); both evaluate on held-out data, show progress and resume from
//! checkpoints. [`losses`] holds the formulas.

pub mod batch;
mod checkpoint;
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
