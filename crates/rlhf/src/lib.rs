//! # malmoi-rlhf
//!
//! ChatGPT's recipe, as the lecture's KoChatGPT tutorial runs it, on malmoi's GPT: supervised
//! fine-tuning on prompt/answer pairs ([`sft`]), a reward model trained from rankings
//! ([`reward`]), and DPO ([`dpo`]), which learns from the same preferences without a reward
//! model. All three train through one loop ([`fit`]) with held-out evaluation, progress and
//! resumable checkpoints; [`losses`] holds their formulas.

pub mod batch;
pub mod dpo;
pub mod encode;
pub mod error;
pub mod fit;
pub mod losses;
pub mod reward;
pub mod sft;
pub mod template;

pub use error::{Error, Result};
pub use template::{ChatMessage, PromptTemplate, Role};
