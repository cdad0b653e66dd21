//! The contextual disambiguator: which reading of an ambiguous word the
//! sentence around it supports.
//!
//! There is no annotated corpus, so the model learns from unambiguous
//! relatives (issue 24's plan): in unlabelled text, 걸으며 and 걷는 can only
//! be 걷/VV and 걸고 only 걸/VV, so the words around them show which contexts
//! go with which reading. Training analyses every text, collects the labels
//! that compete in some ambiguous word ([`Candidates::choices`] with more
//! than one label), and counts, for each unambiguous occurrence of such a
//! label, the features of its context:
//!
//! * `bag`: content morphemes (nouns, verbs, adjectives, adverbs…) of the
//!   other words within [`ContextParams::window`] words, for long-distance cues
//!   (그림 … 걸었다, 공원 … 걸었다);
//! * `prev`: the previous word's last morpheme (구간/NNG 을/JKO → `을/JKO`);
//! * `prev_content`: the previous word's first content morpheme;
//! * `next`: the next word's first morpheme.
//!
//! A reading is then scored naive-Bayes style, each present feature adding
//! `log P(f | label) / P(f)` with `P(f | label) = (c(label, f) + α P(f)) /
//! (c(label) + α)` (a pair dropped as rare counting as often as the
//! background predicts, see [`ContextModel::evidence`]), minus the reading's
//! lattice cost above the best divided by
//! [`ContextParams::temperature`]; a label never seen unambiguously gets the
//! weakest evidence of the others less [`ContextParams::unseen_penalty`].
//! Another reading replaces MeCab-ko's only when its label may be contested
//! (a different form, or verb against adjective) and its score is higher by
//! [`ContextParams::mecab_bonus`], which training sets on held-out text so that
//! at most [`ContextParams::max_change`] of all words change. α and the weight
//! of distant words are chosen on held-out unambiguous occurrences; only the
//! words whose MeCab-ko label the model overturned there are searched for other
//! readings, which keeps the engine fast.

mod features;
mod file;
mod train;

use lindera::dictionary::Dictionary;
use rustc_hash::{FxHashMap, FxHashSet};
use std::fmt::Write as _;

use super::candidates::{Candidates, Choice};
use super::morpheme::{EXPRESSION_FIELD, Morpheme, READING_FIELD, TYPE_FIELD};
use features::{Kind, Offers, feature_key};
pub use train::TrainReport;

/// The settings that change the model's decisions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextParams {
    /// Lattice cost units per nat of context evidence (mecab-ko-dic costs).
    pub temperature: f64,
    /// Smoothing toward the feature's background rate (chosen on held-out text).
    pub alpha: f64,
    /// Weight of the `bag` features against the neighbours' (chosen on held-out text).
    pub bag_weight: f64,
    /// Context evidence a label never seen unambiguously lacks against the
    /// weakest seen label (nats).
    pub unseen_penalty: f64,
    /// Words on each side that count as context.
    pub window: usize,
    /// The lattice cost above the best within which other readings compete.
    pub margin: i64,
    /// While training, a word is unambiguous when no other label is within
    /// this cost of the best: strongly marked forms (늦는다 is a verb) teach
    /// the readings a wider margin lets compete.
    pub train_margin: i64,
    /// Pairs seen fewer times are dropped when the model is trained.
    pub min_count: u32,
    /// Words are searched for other readings only when the model overturned
    /// MeCab-ko's choice of their label at least this often in held-out text.
    pub gate_rate: f64,
    /// The share of all words whose analysis the model may change, in
    /// held-out text: it sets [`mecab_bonus`](Self::mecab_bonus).
    pub max_change: f64,
    /// How much higher another reading must score than MeCab-ko's to replace
    /// it (nats; chosen in training from [`max_change`](Self::max_change)).
    pub mecab_bonus: f64,
}

impl Default for ContextParams {
    fn default() -> Self {
        Self {
            temperature: 1000.0,
            alpha: 20.0,
            bag_weight: 0.5,
            unseen_penalty: 1.0,
            window: 8,
            margin: 3000,
            train_margin: 1000,
            min_count: 2,
            gate_rate: 0.002,
            max_change: 0.015,
            mecab_bonus: 0.0,
        }
    }
}

/// A context model for [`Engine::Context`](super::Engine::Context): counts of
/// context features per reading, learnt from unlabelled text.
///
/// ```no_run
/// use malmoi_tokenize::korean::{Analyzer, ContextModel, ContextParams, Engine};
///
/// let plain = Analyzer::builder().engine(Engine::Context).build()?;
/// let reviews = ["공원을 천천히 걸으며 생각했다", "벽에 시계를 걸고 나왔다"];
/// let (model, report) = ContextModel::train(&plain, &reviews, ContextParams::default(), false)?;
/// println!("{report}");
/// let analyzer = Analyzer::builder().engine(Engine::Context).context_model(model).build()?;
/// println!("{:?}", analyzer.pos("주말에 공원을 두 시간 걸었다")?);
/// # Ok::<(), malmoi_tokenize::korean::KoreanError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContextModel {
    params: ContextParams,
    /// Interned `form/TAG` strings and their ids.
    names: Vec<String>,
    ids: FxHashMap<String, u32>,
    /// Labels that compete in some ambiguous word.
    ambiguous: FxHashSet<u32>,
    /// Labels that compete with another label seen unambiguously: the words
    /// whose best reading starts with one are searched for other readings.
    gated: FxHashSet<u32>,
    /// Unambiguous occurrences per label.
    label_count: FxHashMap<u32, u32>,
    /// Occurrences of each feature over all counted examples.
    feature_count: FxHashMap<u64, u32>,
    /// Co-occurrences of a label and a feature.
    /// Per label, its co-occurrences with each feature, sorted by feature:
    /// one label's counts sit together in memory.
    pairs: FxHashMap<u32, Vec<(u64, u32)>>,
    /// Counted examples.
    total: u64,
}

/// Whether context may replace MeCab-ko's label `mecab` by `other`: a
/// different form (걸 → 걷, 종이 → 종, 나 → 날), or the same stem as verb or
/// adjective (늦/VA → 늦/VV). Other tag changes of one form (하/VV → 하/VX,
/// NNG → NNP, MAG → IC) follow syntax, which MeCab-ko's connection costs
/// model and a bag of context words does not.
fn contestable(mecab: (&str, &str), other: (&str, &str)) -> bool {
    const PREDICATES: [&str; 2] = ["VV", "VA"];
    mecab.0 != other.0 || (PREDICATES.contains(&mecab.1) && PREDICATES.contains(&other.1))
}

/// A feature of a word that the model has counts for.
struct Present {
    key: u64,
    weight: f64,
    /// α P(f): the smoothing every label's count of it gets.
    smoothing: f64,
    /// ln P(f).
    ln_background: f64,
    /// `ln((min_count - 1 + α P(f)) / P(f))`: the term of a label whose pair
    /// with it was dropped though expected at least `min_count - 1` times
    /// (see [`ContextModel::evidence`]).
    dropped: f64,
    /// P(f) itself, to tell which labels expect the pair often.
    background: f64,
}

/// A word's features the model has counts for, with the smoothing they
/// were prepared for: what [`ContextModel::evidence`] scores each label on.
struct Scoring {
    /// α, the smoothing toward the background rate.
    alpha: f64,
    /// A dropped pair's largest possible count, `min_count - 1`.
    pruned: f64,
    features: Vec<Present>,
}

/// Buffers of [`ContextModel::decide`] for one text: the words' offers are
/// built when the first ambiguous word needs them.
#[derive(Default)]
struct Buffers {
    token: String,
    features: Vec<u64>,
    offers: Option<Offers<u32>>,
}

/// `form/TAG` into a reusable buffer.
fn token<'b>(buffer: &'b mut String, form: &str, tag: &str) -> &'b str {
    buffer.clear();
    let _ = write!(buffer, "{form}/{tag}");
    buffer
}

impl ContextModel {
    /// The settings the model decides with.
    pub fn params(&self) -> ContextParams {
        self.params
    }

    /// Whether a word whose best reading starts with `form`/`tag` is worth
    /// searching for other readings: the label competes with one the model
    /// has context for.
    fn is_gated(&self, form: &str, tag: &str, buffer: &mut String) -> bool {
        self.ids.get(token(buffer, form, tag)).is_some_and(|id| self.gated.contains(id))
    }

    /// The system dictionary entries whose words are searched for other
    /// readings, as a bit per word id: those whose first dictionary form is
    /// a searched label (see [`ContextParams::gate_rate`]). User entries and
    /// unknown words are never searched, so a user entry overrides context.
    pub(crate) fn searched_entries(&self, dictionary: &Dictionary) -> Vec<u64> {
        let count = dictionary.prefix_dictionary.word_count();
        let mut bits = vec![0u64; count.div_ceil(64)];
        let mut buffer = String::new();
        for id in 0..count {
            let fields: Vec<&str> = dictionary.word_details_iter(id).collect();
            let field = |i: usize| fields.get(i).copied().unwrap_or("*");
            let entry = Morpheme {
                surface: field(READING_FIELD),
                tag: field(0),
                kind: field(TYPE_FIELD),
                expression: field(EXPRESSION_FIELD),
                start: 0,
                end: 0,
            };
            let (form, tag) = entry.head();
            if self.is_gated(form, tag, &mut buffer) {
                bits[id / 64] |= 1 << (id % 64);
            }
        }
        bits
    }

    /// Whether the model has context for `form`/`tag` (seen unambiguously):
    /// a reading with another label can never replace MeCab-ko's choice
    /// (see [`Self::challenger`]), so it need not be decoded.
    pub(crate) fn has_seen(&self, form: &str, tag: &str, buffer: &mut String) -> bool {
        self.ids.get(token(buffer, form, tag)).is_some_and(|id| self.label_count.get(id).is_some_and(|&n| n > 0))
    }

    /// Whether `form`/`tag` competes in some ambiguous word of the training texts.
    fn is_ambiguous(&self, form: &str, tag: &str, buffer: &mut String) -> bool {
        self.ids.get(token(buffer, form, tag)).is_some_and(|id| self.ambiguous.contains(id))
    }

    /// The reading chosen for each word: MeCab-ko's unless the word has
    /// several labels and context and cost favour another.
    pub(crate) fn choose(&self, candidates: &Candidates<'_>, chosen: &mut Vec<usize>) {
        chosen.clear();
        let mut buffers = Buffers::default();
        for word in 0..candidates.words.len() {
            let reading = match self.decide(candidates, word, &mut buffers) {
                Some((_, other, margin)) if margin > self.params.mecab_bonus => other.reading,
                Some((mecab, ..)) => mecab.reading,
                None => candidates.words[word].start,
            };
            chosen.push(reading);
        }
    }

    /// For a word with several labels, MeCab-ko's choice, the best other
    /// one and by how much the other's score is higher (see [`Self::challenger`]).
    fn decide<'a>(
        &self,
        candidates: &Candidates<'a>,
        word: usize,
        buffers: &mut Buffers,
    ) -> Option<(Choice<'a>, Choice<'a>, f64)> {
        if candidates.words[word].len() < 2 {
            return None;
        }
        let mut choices = candidates.choices(word);
        let mecab = choices[0].label;
        choices.retain(|choice| choice.label == mecab || contestable(mecab, choice.label));
        if choices.len() < 2 {
            return None;
        }
        if let Some(chosen) = candidates.by_grammar(&choices) {
            let margin = if chosen.label == mecab { f64::NEG_INFINITY } else { f64::INFINITY };
            return Some((choices[0], chosen, margin));
        }
        let Buffers { token: buffer, features, offers } = buffers;
        let offers = offers.get_or_insert_with(|| {
            Offers::build(candidates, |form, tag| self.ids.get(token(buffer, form, tag)).copied())
        });
        features.clear();
        offers.visit(word, self.params.window, |kind, id| features.push(feature_key(kind, id)));
        let (other, margin) = self.challenger(&choices, features, buffer);
        Some((choices[0], other, margin))
    }

    /// The best other choice and how far its score exceeds MeCab-ko's
    /// (`choices[0]`; the others are those that may contest it). A score is
    /// the context evidence minus the extra lattice cost over
    /// [`ContextParams::temperature`]; a label never seen
    /// unambiguously gets the weakest evidence of the others less
    /// [`ContextParams::unseen_penalty`]: context cannot speak for it.
    fn challenger<'a>(&self, choices: &[Choice<'a>], features: &[u64], buffer: &mut String) -> (Choice<'a>, f64) {
        let scoring = self.present(features, self.params.bag_weight, self.params.alpha);
        let evidence: Vec<Option<f64>> = choices
            .iter()
            .map(|choice| {
                let label = self.ids.get(token(buffer, choice.label.0, choice.label.1))?;
                let seen = self.label_count.get(label).is_some_and(|&n| n > 0);
                seen.then(|| self.evidence(*label, &scoring))
            })
            .collect();
        let weakest = evidence.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let unseen = if weakest.is_finite() { weakest - self.params.unseen_penalty } else { 0.0 };
        let score = |choice: &Choice<'_>, evidence: Option<f64>| {
            evidence.unwrap_or(unseen) - choice.extra as f64 / self.params.temperature
        };
        let mecab = score(&choices[0], evidence[0]);
        let mut best = (choices[0], f64::NEG_INFINITY);
        for (choice, &evidence) in choices.iter().zip(&evidence).skip(1) {
            let margin = score(choice, evidence) - mecab;
            if margin > best.1 {
                best = (*choice, margin);
            }
        }
        best
    }

    /// Σ log P(f | label) / P(f) over the present features, `bag` ones weighted.
    ///
    /// `P(f | label) = (c(label, f) + α P(f)) / (c(label) + α)`. Training keeps
    /// a pair only from [`ContextParams::min_count`] on, so a feature missing
    /// from the label's pairs was seen with it fewer times, not never: its
    /// count is taken to be what the background rate predicts, `c(label) P(f)`,
    /// at most `min_count - 1`. Counting it as 0 would make every rare feature
    /// a frequent label happened to miss strong evidence against it (느낌/NNG
    /// would lose to 느/NNG).
    fn evidence(&self, label: u32, scoring: &Scoring) -> f64 {
        let Some(&n) = self.label_count.get(&label) else { return 0.0 };
        let (n, pairs) = (f64::from(n), self.pairs.get(&label).map_or(&[][..], Vec::as_slice));
        let ln_total = (n + scoring.alpha).ln();
        let mut total = 0.0;
        let mut weights = 0.0;
        for feature in &scoring.features {
            weights += feature.weight;
            total += feature.weight
                * match pairs.binary_search_by_key(&feature.key, |&(key, _)| key) {
                    Ok(at) => (f64::from(pairs[at].1) + feature.smoothing).ln() - feature.ln_background,
                    // Expected at least `pruned` times: counted as `pruned`.
                    Err(_) if n * feature.background >= scoring.pruned => feature.dropped,
                    // Expected fewer: counted as expected, ln((n P(f) + α P(f)) / P(f)).
                    Err(_) => ln_total,
                };
        }
        total - weights * ln_total
    }

    /// The features the model has counts for, with their weights and background rates, for `alpha`.
    fn present(&self, features: &[u64], bag_weight: f64, alpha: f64) -> Scoring {
        let pruned = f64::from(self.params.min_count.saturating_sub(1));
        let features = features
            .iter()
            .filter_map(|&key| {
                let background = f64::from(*self.feature_count.get(&key)?) / self.total as f64;
                let weight = if key >> 32 == Kind::Bag as u64 { bag_weight } else { 1.0 };
                let (smoothing, ln_background) = (alpha * background, background.ln());
                let dropped = (pruned + smoothing).ln() - ln_background;
                Some(Present { key, weight, smoothing, ln_background, dropped, background })
            })
            .collect();
        Scoring { alpha, pruned, features }
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model with one feature (seen 100 times in 100,000 examples) and a
    /// label seen 10,000 times whose pair with it was dropped as rare.
    fn model(min_count: u32) -> (ContextModel, u64) {
        let mut model =
            ContextModel { params: ContextParams { min_count, ..ContextParams::default() }, ..Default::default() };
        let (label, token) = (model.intern("많/VA"), model.intern("영화/NNG"));
        let key = feature_key(Kind::Prev, token);
        model.label_count.insert(label, 10_000);
        model.feature_count.insert(key, 100);
        model.total = 100_000;
        (model, key)
    }

    #[test]
    fn a_dropped_pair_counts_as_often_as_the_background_predicts_up_to_the_cut() {
        let alpha = 20.0;
        let (model, key) = model(2);
        let present = model.present(&[key], 1.0, alpha);
        // Expected 10,000 × 0.001 = 10 co-occurrences; dropped means fewer than 2, so 1.
        let want = ((1.0 + alpha * 0.001) / 0.001_f64).ln() - (10_000.0 + alpha).ln();
        approx::assert_abs_diff_eq!(model.evidence(0, &present), want, epsilon = 1e-12);
        let never = alpha.ln() - (10_000.0 + alpha).ln();
        assert!(model.evidence(0, &present) > never + 3.0, "a dropped pair is not a pair never seen");
    }

    #[test]
    fn a_dropped_pair_a_label_expects_rarely_counts_as_expected() {
        let alpha = 20.0;
        let (mut model, key) = model(5);
        model.label_count.insert(0, 1_000);
        // Expected 1,000 × 0.001 = 1 co-occurrence, under the cut of 4: counted as 1.
        let want = ((1.0 + alpha * 0.001) / 0.001_f64).ln() - (1_000.0 + alpha).ln();
        let present = model.present(&[key], 1.0, alpha);
        approx::assert_abs_diff_eq!(model.evidence(0, &present), want, epsilon = 1e-12);
    }

    #[test]
    fn without_a_cut_a_missing_pair_was_never_seen() {
        let alpha = 20.0;
        let (model, key) = model(1);
        let present = model.present(&[key], 1.0, alpha);
        approx::assert_abs_diff_eq!(model.evidence(0, &present), alpha.ln() - (10_000.0 + alpha).ln(), epsilon = 1e-12);
    }
}
