//! Composable reward functions: a weighted sum of several (TRL's `reward_funcs` with
//! `reward_weights`) and rule rewards on the answer's text (length, format). Each is a
//! [`RewardFunction`], so PPO takes them as GRPO does; a reward model or a classifier (through
//! [`FnReward`](crate::rollout::FnReward)) joins a sum like any other.

use malmoi_tokenize::tokenizer::Tokenizer;

use crate::error::{Error, Result};
use crate::rollout::{RewardFunction, Rollout};

/// A borrowed reward function is one too, so a sum can use a reward model it does not own.
impl<R: RewardFunction + ?Sized> RewardFunction for &R {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        (**self).rewards(rollouts)
    }

    fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<()> {
        (**self).check_tokenizer(tokenizer)
    }
}

/// `Σ_k w_k · r_k` over several reward functions. Unlike TRL's `nansum`, a NaN from any part
/// stays a NaN, which stops training with the engine's `NonFinite` error.
///
/// ```
/// use malmoi_rlhf::grpo::{FormatReward, LengthReward, TextRule, WeightedSum};
/// use malmoi_rlhf::rollout::FnReward;
///
/// let exclamations = FnReward(|rs: &[malmoi_rlhf::rollout::Rollout]| {
///     Ok(rs.iter().map(|r| r.text.matches('!').count() as f32).collect())
/// });
/// let reward = WeightedSum::new()
///     .with(1.0, exclamations)
///     .with(0.5, LengthReward::chars(20))
///     .with(0.2, FormatReward::new(TextRule::EndsWith("다".into())));
/// assert_eq!(reward.len(), 3);
/// ```
#[derive(Default)]
pub struct WeightedSum<'a> {
    parts: Vec<(f32, Box<dyn RewardFunction + 'a>)>,
}

impl<'a> WeightedSum<'a> {
    /// A sum of nothing (every rollout scores 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `weight · reward`.
    pub fn with(mut self, weight: f32, reward: impl RewardFunction + 'a) -> Self {
        self.parts.push((weight, Box::new(reward)));
        self
    }

    /// How many reward functions are summed.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// True for a sum of nothing.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

impl RewardFunction for WeightedSum<'_> {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        let mut total = vec![0.0_f32; rollouts.len()];
        for (k, (weight, reward)) in self.parts.iter().enumerate() {
            let scores = reward.rewards(rollouts)?;
            if scores.len() != rollouts.len() {
                return Err(Error::Input(format!(
                    "reward function {k} of the sum gave {} scores for {} rollouts",
                    scores.len(),
                    rollouts.len()
                )));
            }
            total.iter_mut().zip(scores).for_each(|(t, s)| *t += weight * s);
        }
        Ok(total)
    }

    fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<()> {
        self.parts.iter().try_for_each(|(_, reward)| reward.check_tokenizer(tokenizer))
    }
}

/// What a [`LengthReward`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthUnit {
    /// The answer's tokens (a closing `<|endoftext|>` included).
    Tokens,
    /// The characters of the answer's text (special tokens dropped).
    Chars,
}

/// A rule reward for answers of a target length `n*`: `−|n − n*| / n*` (0 at the target, −1
/// for an empty answer or one twice as long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthReward {
    /// The length aimed at (at least 1).
    pub target: usize,
    /// What is counted.
    pub unit: LengthUnit,
}

impl LengthReward {
    /// Aims at `target` tokens.
    pub fn tokens(target: usize) -> Self {
        Self { target, unit: LengthUnit::Tokens }
    }

    /// Aims at `target` characters.
    pub fn chars(target: usize) -> Self {
        Self { target, unit: LengthUnit::Chars }
    }

    fn score(&self, rollout: &Rollout) -> f32 {
        let n = match self.unit {
            LengthUnit::Tokens => rollout.sequence.response.len(),
            LengthUnit::Chars => rollout.text.chars().count(),
        };
        let target = self.target.max(1) as f32;
        -(n as f32 - target).abs() / target
    }
}

impl RewardFunction for LengthReward {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        Ok(rollouts.iter().map(|r| self.score(r)).collect())
    }
}

/// A test on an answer's text with its surrounding whitespace trimmed (what a format regex
/// such as TRL's `^<think>.*?</think><answer>.*?</answer>$` checks, without the regex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRule {
    /// The text starts with this.
    StartsWith(String),
    /// The text ends with this.
    EndsWith(String),
    /// The text contains this.
    Contains(String),
    /// At least one of the rules holds.
    AnyOf(Vec<TextRule>),
    /// Every rule holds.
    AllOf(Vec<TextRule>),
}

impl TextRule {
    /// Whether `text` (trimmed) satisfies the rule.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.trim();
        match self {
            TextRule::StartsWith(s) => text.starts_with(s.as_str()),
            TextRule::EndsWith(s) => text.ends_with(s.as_str()),
            TextRule::Contains(s) => text.contains(s.as_str()),
            TextRule::AnyOf(rules) => rules.iter().any(|r| r.matches(text)),
            TextRule::AllOf(rules) => rules.iter().all(|r| r.matches(text)),
        }
    }
}

/// A rule reward: 1 for an answer whose text satisfies the rule, else 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatReward {
    /// The rule.
    pub rule: TextRule,
}

impl FormatReward {
    /// Rewards answers that satisfy `rule`.
    pub fn new(rule: TextRule) -> Self {
        Self { rule }
    }
}

impl RewardFunction for FormatReward {
    fn rewards(&self, rollouts: &[Rollout]) -> Result<Vec<f32>> {
        Ok(rollouts.iter().map(|r| if self.rule.matches(&r.text) { 1.0 } else { 0.0 }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Sequence;
    use crate::rollout::FnReward;

    fn rollout(text: &str, tokens: usize) -> Rollout {
        Rollout {
            prompt_index: 0,
            sequence: Sequence::new(vec![1], vec![2; tokens]).unwrap(),
            prompt_text: String::new(),
            text: text.into(),
        }
    }

    #[test]
    fn rule_rewards_score_length_and_format() {
        let rollouts = [rollout("좋은 영화다", 4), rollout(" <a>x</a>", 8), rollout("", 1)];
        assert_eq!(LengthReward::tokens(4).rewards(&rollouts).unwrap(), vec![0.0, -1.0, -0.75]);
        assert_eq!(LengthReward::chars(6).rewards(&rollouts).unwrap(), vec![0.0, -0.5, -1.0]);
        let tagged = TextRule::AllOf(vec![TextRule::StartsWith("<a>".into()), TextRule::EndsWith("</a>".into())]);
        assert_eq!(FormatReward::new(tagged).rewards(&rollouts).unwrap(), vec![0.0, 1.0, 0.0]);
        let either = TextRule::AnyOf(vec![TextRule::EndsWith("다".into()), TextRule::Contains("x".into())]);
        assert_eq!(FormatReward::new(either).rewards(&rollouts).unwrap(), vec![1.0, 1.0, 0.0]);
    }

    #[test]
    fn a_weighted_sum_adds_its_parts_and_keeps_nan() {
        let rollouts = [rollout("다", 2), rollout("abc", 4)];
        let format = FormatReward::new(TextRule::EndsWith("다".into()));
        let sum = WeightedSum::new().with(2.0, &format).with(-0.5, LengthReward::tokens(2));
        assert_eq!(sum.rewards(&rollouts).unwrap(), vec![2.0, 0.5]);
        assert_eq!(WeightedSum::new().rewards(&rollouts).unwrap(), vec![0.0, 0.0]);
        let nan = FnReward(|rs: &[Rollout]| Ok(vec![f32::NAN; rs.len()]));
        assert!(sum.with(1.0, nan).rewards(&rollouts).unwrap().iter().all(|r| r.is_nan()));
        let short = FnReward(|_: &[Rollout]| Ok(vec![1.0]));
        assert!(matches!(WeightedSum::new().with(1.0, short).rewards(&rollouts), Err(Error::Input(_))));
    }
}
