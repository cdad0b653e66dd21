//! Building an n-gram model from tokenised sentences: interning the tokens, counting, smoothing.

use crate::counts::count;
use crate::error::{Error, Result};
use crate::ngram::{MAX_ORDER, NgramModel};
pub use crate::smoothing::Smoothing;
use crate::vocab::{BOS, EOS, SPECIALS, Vocab};
use crate::{kneser_ney, stupid_backoff};

/// Builds an [`NgramModel`] from tokenised sentences.
///
/// Each sentence is padded with `<s>` on the left and `</s>` on the right, so an empty
/// sentence still counts the bigram `<s> </s>`. The vocabulary is every token seen; tokens
/// outside it are scored as `<unk>` (whose probability under Kneser-Ney is the share of the
/// lowest order spread uniformly over the vocabulary, as in KenLM).
///
/// ```
/// use malmoi_lm::NgramBuilder;
///
/// let sentences = [vec!["나", "는", "버스", "를", "탔다"], vec!["나", "는", "집", "에", "갔다"]];
/// let model = NgramBuilder::new(3).discount_fallback([0.5, 1.0, 1.5]).fit(&sentences)?;
/// let seen = model.score_tokens(&["나", "는", "버스", "를", "탔다"]);
/// let unseen = model.score_tokens(&["버스", "는", "나", "를", "탔다"]);
/// assert!(seen.log10_prob > unseen.log10_prob);
/// # Ok::<(), malmoi_lm::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct NgramBuilder {
    order: usize,
    smoothing: Smoothing,
    discount_fallback: Option<[f64; 3]>,
}

impl NgramBuilder {
    /// A builder of `order`-gram models with modified Kneser-Ney smoothing.
    pub fn new(order: usize) -> Self {
        Self { order, smoothing: Smoothing::KneserNey, discount_fallback: None }
    }

    /// Chooses the smoothing.
    pub fn smoothing(mut self, smoothing: Smoothing) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// Kneser-Ney discounts (D1, D2, D3+) to use for an order whose count-of-counts cannot
    /// give them (small or artificial data), like `lmplz --discount_fallback`. Without it such
    /// data is an [`Error::Discount`].
    pub fn discount_fallback(mut self, discounts: [f64; 3]) -> Self {
        self.discount_fallback = Some(discounts);
        self
    }

    /// Counts the n-grams of `sentences` (tokens as strings) and estimates the model.
    pub fn fit<T, S>(&self, sentences: &[T]) -> Result<NgramModel>
    where
        T: AsRef<[S]> + Sync,
        S: AsRef<str> + Sync,
    {
        self.check()?;
        if sentences.is_empty() {
            return Err(Error::EmptyModel);
        }
        let (vocab, ids) = intern(sentences)?;
        let full = count(&ids, self.order);
        let tables = match self.smoothing {
            Smoothing::KneserNey => kneser_ney::estimate(self.order, full, self.discount_fallback)?,
            Smoothing::StupidBackoff { .. } => stupid_backoff::estimate(self.order, full),
        };
        Ok(NgramModel::new(vocab, tables, self.smoothing))
    }

    fn check(&self) -> Result<()> {
        if !(1..=MAX_ORDER).contains(&self.order) {
            return Err(Error::InvalidArgument(format!("order {} is outside 1..={MAX_ORDER}", self.order)));
        }
        if let Smoothing::StupidBackoff { alpha } = self.smoothing
            && !(alpha > 0.0 && alpha <= 1.0)
        {
            return Err(Error::InvalidArgument(format!("stupid backoff alpha {alpha} is outside (0, 1]")));
        }
        if let Some(d) = self.discount_fallback
            && !d.iter().enumerate().all(|(i, &d)| d >= 0.0 && d <= (i + 1) as f64)
        {
            return Err(Error::InvalidArgument(format!("fallback discounts {d:?}: D_j must be in [0, j]")));
        }
        Ok(())
    }
}

/// Interns every token; `<s>` and `</s>` inside a sentence are rejected (`<unk>` is kept as
/// the unknown word).
fn intern<T, S>(sentences: &[T]) -> Result<(Vocab, Vec<Vec<u32>>)>
where
    T: AsRef<[S]>,
    S: AsRef<str>,
{
    let mut vocab = Vocab::default();
    let mut ids = Vec::with_capacity(sentences.len());
    for (index, sentence) in sentences.iter().enumerate() {
        let sentence = sentence.as_ref();
        let mut sentence_ids = Vec::with_capacity(sentence.len());
        for token in sentence {
            let token = token.as_ref();
            if token == SPECIALS[BOS as usize] || token == SPECIALS[EOS as usize] {
                return Err(Error::InvalidArgument(format!("sentence {index} contains the reserved token {token}")));
            }
            sentence_ids.push(vocab.intern(token));
        }
        ids.push(sentence_ids);
    }
    Ok((vocab, ids))
}
