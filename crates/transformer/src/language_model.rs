//! A [`Generator`] (GPT + byte-level BPE) as a [`LanguageModel`], so it scores sentences and
//! suggests continuations beside the n-gram and LSTM models.
//!
//! A text is scored as GPT saw reviews in training: `<|endoftext|>` opens it, each BPE token
//! is predicted from the ones before, and `<|endoftext|>` after the last one is the sentence
//! end. Byte-level BPE has no unknown tokens, so `oov` is always 0. A text longer than the
//! context is scored with a sliding window of `block_size` tokens advanced by half a block
//! (`transformers`' strided perplexity): every token is predicted from at least half a block
//! of context. Suggestions are the most probable next BPE tokens (pieces of words, decoded to
//! text).

use ndarray::Array2;

use malmoi_lm::{LanguageModel, NextWord, SENTENCE_END, SentenceScore};

use crate::error::Error;
use crate::generation::Generator;
use crate::generation::logits::log_softmax;

impl Generator {
    /// The ids the model reads for `text`: `<|endoftext|>` then the text's tokens, cut to the
    /// context from the left.
    fn scored_ids(&self, text: &str) -> Result<Vec<u32>, Error> {
        let eos = self.end_of_text().ok_or_else(|| Error::Input("the tokenizer has no <|endoftext|>".into()))?;
        let mut ids = vec![eos];
        ids.extend(self.tokenizer.encode_ids(text, false)?);
        Ok(ids)
    }

    /// Natural-log probabilities of every next token after each position of `ids` (at most
    /// `block_size` of them).
    fn log_probs(&self, ids: &[u32]) -> Result<Vec<Vec<f64>>, Error> {
        let row = Array2::from_shape_vec((1, ids.len()), ids.to_vec()).expect("one row");
        let logits = self.model.forward_cached(&row, &mut self.model.new_cache(1))?;
        Ok(logits
            .index_axis(ndarray::Axis(0), 0)
            .rows()
            .into_iter()
            .map(|r| log_softmax(r.as_slice().expect("row-major")))
            .collect())
    }

    /// The natural-log probability of each `ids[t + 1]` given `ids[..=t]`, with a sliding
    /// window once the text outgrows the context.
    fn target_log_probs(&self, ids: &[u32]) -> Result<Vec<f64>, Error> {
        let (inputs, targets) = (&ids[..ids.len() - 1], &ids[1..]);
        let block = self.model.config().block_size;
        let mut scored = Vec::with_capacity(targets.len());
        let mut start = 0;
        loop {
            let end = (start + block).min(inputs.len());
            let log_probs = self.log_probs(&inputs[start..end])?;
            for position in scored.len()..end {
                scored.push(log_probs[position - start][targets[position] as usize]);
            }
            if end == inputs.len() {
                return Ok(scored);
            }
            start += (block / 2).max(1);
        }
    }

    /// The text `id` adds after `context` (the sentence end for `<|endoftext|>`).
    fn next_piece(&self, context: &[u32], id: u32) -> Result<String, Error> {
        if Some(id) == self.end_of_text() {
            return Ok(SENTENCE_END.to_string());
        }
        let mut ids = context.to_vec();
        ids.push(id);
        Ok(self.token_pieces(&ids)?.pop().expect("one piece per id"))
    }
}

impl LanguageModel for Generator {
    fn name(&self) -> String {
        let c = self.model.config();
        format!("GPT ({} layers × {}, BPE {})", c.n_layer, c.n_embd, c.vocab_size)
    }

    fn score(&self, text: &str) -> malmoi_lm::Result<SentenceScore> {
        let score = || -> Result<SentenceScore, Error> {
            let mut ids = self.scored_ids(text)?;
            ids.push(ids[0]);
            let log10: Vec<f64> =
                self.target_log_probs(&ids)?.into_iter().map(|lp| lp / std::f64::consts::LN_10).collect();
            let targets = &ids[1..];
            let mut tokens = self.token_pieces(&targets[..targets.len() - 1])?;
            tokens.push(SENTENCE_END.to_string());
            Ok(SentenceScore::new(tokens, log10, 0))
        };
        score().map_err(malmoi_lm::Error::model)
    }

    fn next_words(&self, prefix: &str, k: usize) -> malmoi_lm::Result<Vec<NextWord>> {
        let suggest = || -> Result<Vec<NextWord>, Error> {
            let context = self.scored_ids(prefix)?;
            let block = self.model.config().block_size;
            let log_probs = self.log_probs(&context[context.len().saturating_sub(block)..])?;
            let last = log_probs.last().expect("at least <|endoftext|>");
            let mut ranked: Vec<(u32, f64)> = (0..).zip(last.iter().copied()).collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked
                .into_iter()
                .take(k)
                .map(|(id, lp)| Ok(NextWord { word: self.next_piece(&context[1..], id)?, prob: lp.exp() }))
                .collect()
        };
        suggest().map_err(malmoi_lm::Error::model)
    }
}
