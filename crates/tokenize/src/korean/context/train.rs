//! Learning a context model from unlabelled text: three passes over the
//! texts (competing labels, contexts of unambiguous occurrences, calibration
//! on the held-out tenth).

use std::collections::HashMap;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::super::analyzer::Analyzer;
use super::super::candidates::Candidates;
use super::super::error::KoreanError;
use super::features::{Kind, Offers, feature_key};
use super::{Buffers, ContextModel, ContextParams};

/// What training saw and how well the model predicts held-out unambiguous
/// occurrences among their competitors (pseudo-disambiguation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    /// Texts analysed.
    pub texts: usize,
    /// Words with more than one label.
    pub ambiguous_words: u64,
    /// Distinct labels that compete somewhere.
    pub competing_labels: usize,
    /// Labels whose words are searched for other readings (see [`ContextParams::gate_rate`]).
    pub searched_labels: usize,
    /// Unambiguous occurrences counted.
    pub examples: u64,
    /// Held-out occurrences scored (every tenth text), of labels with a seen competitor.
    pub held_out: u64,
    /// Per-label mean share of them whose label the context picks among its
    /// competitors, with the chosen weights.
    pub held_out_accuracy: f64,
    /// The same for a most-frequent-label rule.
    pub held_out_majority: f64,
    /// Every (alpha, bag weight, accuracy) tried.
    pub grid: Vec<(f64, f64, f64)>,
    /// The chosen smoothing.
    pub alpha: f64,
    /// The chosen weight of distant words.
    pub bag_weight: f64,
    /// The chosen margin over MeCab-ko's choice.
    pub mecab_bonus: f64,
}

impl std::fmt::Display for TrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} texts, {} ambiguous words, {} competing labels ({} searched), {} examples; held out {}: context {:.1}% vs majority {:.1}% (per-label mean), alpha {} bag weight {}, margin over MeCab-ko {:.2}",
            self.texts,
            self.ambiguous_words,
            self.competing_labels,
            self.searched_labels,
            self.examples,
            self.held_out,
            100.0 * self.held_out_accuracy,
            100.0 * self.held_out_majority,
            self.alpha,
            self.bag_weight,
            self.mecab_bonus
        )
    }
}

/// Texts analysed per parallel batch while training.
const BATCH: usize = 4096;

/// Every tenth text is held out of the counts and scored.
const HOLD_OUT_EVERY: usize = 10;

/// An unambiguous occurrence: its label and its context features.
type Example = (String, Vec<(Kind, String)>);

impl ContextModel {
    /// Learns a model from unlabelled `texts` analysed by `analyzer` (whose
    /// own context model, if any, is not used): the labels that compete in
    /// ambiguous words, then the contexts of their unambiguous occurrences.
    /// Every tenth text is held out and scored (see [`TrainReport`]).
    /// `progress` draws a progress bar on stderr.
    pub fn train<S: AsRef<str> + Sync>(
        analyzer: &Analyzer,
        texts: &[S],
        params: ContextParams,
        progress: bool,
    ) -> Result<(Self, TrainReport), KoreanError> {
        let mut model = ContextModel { params, ..Self::default() };
        let mut report = TrainReport { texts: texts.len(), ..TrainReport::default() };
        let competitors = model.collect_competitors(analyzer, texts, progress, &mut report)?;
        let held_out = model.count_examples(analyzer, texts, progress, &mut report)?;
        model.select_weights(&held_out, &competitors, &mut report);
        model.calibrate(analyzer, texts, progress, &mut report)?;
        Ok((model, report))
    }

    /// Pass 1: interns the label sets of ambiguous words; returns, for each
    /// label, the set it competes in most often.
    fn collect_competitors<S: AsRef<str> + Sync>(
        &mut self,
        analyzer: &Analyzer,
        texts: &[S],
        progress: bool,
        report: &mut TrainReport,
    ) -> Result<HashMap<u32, Vec<u32>>, KoreanError> {
        let bar = progress_bar(progress, texts.len(), "context model: ambiguous words");
        let mut sets: HashMap<Vec<u32>, u64> = HashMap::new();
        for batch in texts.chunks(BATCH) {
            let observed: Vec<Vec<Vec<String>>> = batch
                .par_iter()
                .map(|text| analyzer.with_candidates(text.as_ref(), true, self.params.margin, ambiguous_label_sets))
                .collect::<Result<_, _>>()?;
            for labels in observed.into_iter().flatten() {
                let mut ids: Vec<u32> = labels.iter().map(|label| self.intern(label)).collect();
                ids.sort_unstable();
                *sets.entry(ids).or_default() += 1;
                report.ambiguous_words += 1;
            }
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        let mut competitors: HashMap<u32, (u64, Vec<u32>)> = HashMap::new();
        for (set, count) in sets {
            for &label in &set {
                self.ambiguous.insert(label);
                let entry = competitors.entry(label).or_default();
                if count > entry.0 || (count == entry.0 && set < entry.1) {
                    *entry = (count, set.clone());
                }
            }
        }
        report.competing_labels = self.ambiguous.len();
        Ok(competitors.into_iter().map(|(label, (_, set))| (label, set)).collect())
    }

    /// Pass 3, on the held-out texts: how far context must beat MeCab-ko's
    /// choice ([`ContextParams::mecab_bonus`]) so that at most
    /// [`ContextParams::max_change`] of all words change, and which labels are
    /// worth searching: those whose MeCab-ko choice is then overturned in at
    /// least [`ContextParams::gate_rate`] of their ambiguous occurrences (and
    /// twice). Words starting with any other label keep MeCab-ko's choice.
    fn calibrate<S: AsRef<str> + Sync>(
        &mut self,
        analyzer: &Analyzer,
        texts: &[S],
        progress: bool,
        report: &mut TrainReport,
    ) -> Result<(), KoreanError> {
        let held: Vec<&str> = texts.iter().step_by(HOLD_OUT_EVERY).map(AsRef::as_ref).collect();
        let bar = progress_bar(progress, held.len(), "context model: calibration");
        let mut words = 0usize;
        let mut margins: Vec<(String, f64)> = Vec::new();
        for batch in held.chunks(BATCH) {
            let observed: Vec<(usize, Vec<(String, f64)>)> = batch
                .par_iter()
                .map(|text| {
                    analyzer.with_candidates(text, true, self.params.margin, |c| (c.words.len(), self.margins(c)))
                })
                .collect::<Result<_, _>>()?;
            for (count, found) in observed {
                words += count;
                margins.extend(found);
            }
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        let mut sorted: Vec<f64> = margins.iter().map(|(_, m)| *m).collect();
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        let allowed = (self.params.max_change * words as f64) as usize;
        self.params.mecab_bonus = sorted.get(allowed).copied().unwrap_or(0.0).max(0.0);
        let mut tally: HashMap<String, (u64, u64)> = HashMap::new();
        for (label, margin) in margins {
            let entry = tally.entry(label).or_default();
            entry.0 += 1;
            entry.1 += u64::from(margin > self.params.mecab_bonus);
        }
        for (label, (occurrences, flips)) in tally {
            if flips >= 2 && flips as f64 >= self.params.gate_rate * occurrences as f64 {
                let id = self.intern(&label);
                self.gated.insert(id);
            }
        }
        report.searched_labels = self.gated.len();
        report.mecab_bonus = self.params.mecab_bonus;
        Ok(())
    }

    /// MeCab-ko's label of each ambiguous word and the best other label's margin over it.
    fn margins(&self, candidates: &Candidates<'_>) -> Vec<(String, f64)> {
        let mut buffers = Buffers::default();
        (0..candidates.words.len())
            .filter_map(|word| self.decide(candidates, word, &mut buffers))
            .map(|(mecab, _, margin)| (format!("{}/{}", mecab.label.0, mecab.label.1), margin))
            .collect()
    }

    /// Pass 2: counts the features of unambiguous occurrences of competing
    /// labels (keeping the frequent pairs); returns the held-out occurrences
    /// uncounted.
    fn count_examples<S: AsRef<str> + Sync>(
        &mut self,
        analyzer: &Analyzer,
        texts: &[S],
        progress: bool,
        report: &mut TrainReport,
    ) -> Result<Vec<(u32, Vec<u64>)>, KoreanError> {
        let bar = progress_bar(progress, texts.len(), "context model: contexts");
        let mut held_out = Vec::new();
        let mut pairs = FxHashMap::default();
        for (batch_index, batch) in texts.chunks(BATCH).enumerate() {
            let observed: Vec<Vec<Example>> = batch
                .par_iter()
                .map(|text| analyzer.with_candidates(text.as_ref(), true, self.params.margin, |c| self.examples(c)))
                .collect::<Result<_, _>>()?;
            for (offset, examples) in observed.into_iter().enumerate() {
                let hold = (batch_index * BATCH + offset).is_multiple_of(HOLD_OUT_EVERY);
                for (label, features) in examples {
                    let label = self.intern(&label);
                    let features: Vec<u64> =
                        features.iter().map(|(kind, name)| feature_key(*kind, self.intern(name))).collect();
                    if hold {
                        held_out.push((label, features));
                    } else {
                        self.count(label, &features, &mut pairs);
                        report.examples += 1;
                    }
                }
            }
            bar.inc(batch.len() as u64);
        }
        bar.finish_and_clear();
        self.keep_frequent(pairs);
        Ok(held_out)
    }

    /// The unambiguous words of a text whose label competes elsewhere.
    fn examples(&self, candidates: &Candidates<'_>) -> Vec<Example> {
        let mut buffer = String::new();
        let mut out = Vec::new();
        let offers = Offers::build(candidates, |form, tag| Some((form, tag)));
        for word in 0..candidates.words.len() {
            let mut choices = candidates.choices(word);
            choices.retain(|choice| choice.extra <= self.params.train_margin);
            let only = match choices.as_slice() {
                [only] => *only,
                pair => match candidates.by_grammar(pair) {
                    Some(chosen) => chosen,
                    None => continue,
                },
            };
            if !self.is_ambiguous(only.label.0, only.label.1, &mut buffer) {
                continue;
            }
            let mut features = Vec::new();
            offers.visit(word, self.params.window, |kind, (form, tag)| features.push((kind, format!("{form}/{tag}"))));
            out.push((format!("{}/{}", only.label.0, only.label.1), features));
        }
        out
    }

    fn count(&mut self, label: u32, features: &[u64], pairs: &mut FxHashMap<(u32, u64), u32>) {
        self.total += 1;
        *self.label_count.entry(label).or_default() += 1;
        for &feature in features {
            *self.feature_count.entry(feature).or_default() += 1;
            *pairs.entry((label, feature)).or_default() += 1;
        }
    }

    /// Keeps the pairs and features seen at least `min_count` times, the
    /// pairs grouped by label and sorted by feature.
    fn keep_frequent(&mut self, pairs: FxHashMap<(u32, u64), u32>) {
        let min = self.params.min_count;
        self.feature_count.retain(|_, count| *count >= min);
        for ((label, feature), count) in pairs.into_iter().filter(|&(_, count)| count >= min) {
            self.pairs.entry(label).or_default().push((feature, count));
        }
        self.pairs.values_mut().for_each(|pairs| pairs.sort_unstable());
    }

    /// Pseudo-disambiguation: each held-out occurrence against the seen
    /// labels its own label competes with most often, scored by context alone
    /// and averaged per label (the balance of an evaluation set, where
    /// always picking one reading gets one in two). Chooses the smoothing and
    /// the weight of distant words that do best, among a small grid.
    fn select_weights(
        &mut self,
        held_out: &[(u32, Vec<u64>)],
        competitors: &HashMap<u32, Vec<u32>>,
        report: &mut TrainReport,
    ) {
        let seen = |label: &u32| self.label_count.get(label).is_some_and(|&n| n > 0);
        let tasks: Vec<(u32, &[u64], Vec<u32>)> = held_out
            .iter()
            .filter_map(|(label, features)| {
                let set: Vec<u32> = competitors.get(label)?.iter().copied().filter(seen).collect();
                (set.len() > 1 && set.contains(label)).then_some((*label, features.as_slice(), set))
            })
            .collect();
        report.held_out = tasks.len() as u64;
        let mut best = (f64::NEG_INFINITY, self.params.alpha, self.params.bag_weight);
        for alpha in [5.0, 20.0, 50.0, 100.0] {
            for bag_weight in [0.1, 0.25, 0.5, 1.0] {
                let accuracy = balanced_accuracy(&tasks, |label, features| {
                    self.evidence(label, &self.present(features, bag_weight, alpha))
                });
                report.grid.push((alpha, bag_weight, accuracy));
                if accuracy > best.0 {
                    best = (accuracy, alpha, bag_weight);
                }
            }
        }
        (report.held_out_accuracy, self.params.alpha, self.params.bag_weight) = best;
        (report.alpha, report.bag_weight) = (best.1, best.2);
        report.held_out_majority =
            balanced_accuracy(&tasks, |label, _| f64::from(self.label_count.get(&label).copied().unwrap_or(0)));
    }
}

/// Mean over labels of the share of their occurrences `score` ranks first
/// among the competitors.
fn balanced_accuracy(tasks: &[(u32, &[u64], Vec<u32>)], score: impl Fn(u32, &[u64]) -> f64 + Sync) -> f64 {
    let mut per_label: HashMap<u32, (u64, u64)> = HashMap::new();
    let outcomes: Vec<(u32, bool)> = tasks
        .par_iter()
        .map(|(label, features, set)| {
            let pick = set
                .iter()
                .copied()
                .map(|l| (score(l, features), l))
                .fold((f64::NEG_INFINITY, u32::MAX), |a, b| if b.0 > a.0 { b } else { a });
            (*label, pick.1 == *label)
        })
        .collect();
    for (label, right) in outcomes {
        let entry = per_label.entry(label).or_default();
        entry.0 += u64::from(right);
        entry.1 += 1;
    }
    let n = per_label.len().max(1) as f64;
    per_label.values().map(|&(right, total)| right as f64 / total as f64).sum::<f64>() / n
}

/// The label sets (`form/TAG`) of a text's ambiguous words.
fn ambiguous_label_sets(candidates: &Candidates<'_>) -> Vec<Vec<String>> {
    (0..candidates.words.len())
        .map(|word| candidates.choices(word))
        .filter(|choices| choices.len() > 1)
        .map(|choices| choices.iter().map(|c| format!("{}/{}", c.label.0, c.label.1)).collect())
        .collect()
}

fn progress_bar(show: bool, len: usize, message: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} texts ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(message);
    bar
}
