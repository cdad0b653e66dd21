//! Candidate analyses of each word: the lattice's k-best paths and the
//! irregular-conjugation variants, decomposed into dictionary forms.
//!
//! A word's readings start with MeCab-ko's best analysis, followed by the
//! best path through every other first morpheme within the cost margin
//! ([`Lexicon::analyze_alternatives`]) and by the stems the conjugation rules
//! recover ([`Stems::variants`]). A reading's *label* is its first morpheme
//! (form, tag): 걸었다 has the labels 걸/VV and 걷/VV, 종이 has 종이/NNG and
//! 종/NNG. A word with one label is unambiguous; so is a word the user
//! dictionary analyses (its reading is the user's decision).

use std::ops::Range;

use lindera_dictionary::viterbi::LexType;

use super::conjugation::{STEM_TAGS, Stems, predicate_by_ending, stem_change_allowed};
use super::lattice::{Alternatives, Piece};
use super::morpheme::Morpheme;

/// `morpheme` as a plain entry when it is an inflected stem whose change
/// the following ending does not allow (mecab-ko-dic's 걸 → 걷/VV entry before
/// 고: 걸고 is only 걸다), else unchanged.
fn fit_stem_change<'a>(morpheme: Morpheme<'a>, next: &str) -> Morpheme<'a> {
    match morpheme.changed_stem() {
        Some(lemma) if stem_change_allowed(morpheme.surface, lemma, next) == Some(false) => {
            Morpheme { kind: "*", expression: "*", ..morpheme }
        }
        _ => morpheme,
    }
}

/// The surface of an inflected stem entry that names another stem (불 for
/// 붇) when the surface is a stem of its own with the same tag (불다):
/// mecab-ko-dic lists both at one cost, and MeCab-ko's order picks one.
fn plain_twin<'a>(morpheme: &Morpheme<'a>, stems: &Stems) -> Option<&'a str> {
    let changed = morpheme.changed_stem().is_some();
    (changed && stems.contains(morpheme.surface, morpheme.head().1)).then_some(morpheme.surface)
}

/// One analysis of a word, decomposed, and its lattice cost above the best.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    /// Indices into [`Candidates::morphemes`].
    pub morphemes: Range<usize>,
    /// Path cost minus the word's best path cost (0 for the best).
    pub extra: i64,
}

/// Every word's readings for one text, in flat buffers.
#[derive(Debug, Default)]
pub(crate) struct Candidates<'a> {
    pub morphemes: Vec<Morpheme<'a>>,
    pub readings: Vec<Reading>,
    /// Per word, its readings (the first is MeCab-ko's best analysis).
    pub words: Vec<Range<usize>>,
}

/// What the readings are built from: dictionary tables and a way to read a piece.
pub(crate) struct Sources<'a, F: Fn(&Piece) -> Option<Morpheme<'a>>, K: Fn(&str, &str) -> bool> {
    pub stems: &'a Stems,
    pub morpheme: F,
    /// Whether another analysis whose first morpheme has this form and tag
    /// can matter (the context model's labels); the others are not decoded.
    pub worth: K,
}

impl<'a> Candidates<'a> {
    /// The label (first morpheme's form and tag) of a reading.
    pub(crate) fn label(&self, reading: &Reading) -> (&'a str, &'a str) {
        let first = &self.morphemes[reading.morphemes.start];
        (first.surface, first.tag)
    }

    /// The readings of every word of a text, from its best pieces and the
    /// alternatives the lattice found.
    pub(crate) fn build<F: Fn(&Piece) -> Option<Morpheme<'a>>, K: Fn(&str, &str) -> bool>(
        best: &[Piece],
        alternatives: &Alternatives,
        sources: &Sources<'a, F, K>,
    ) -> Self {
        let mut out = Candidates::default();
        for word in &alternatives.words {
            let first = out.readings.len();
            let pieces = &best[word.best.clone()];
            out.push_reading(pieces, 0, sources);
            if pieces.iter().any(|piece| piece.word_id.lex_type() == LexType::User) {
                // A user dictionary word is the user's decision: no other reading competes.
                out.readings.truncate(first + 1);
                out.words.push(first..out.readings.len());
                continue;
            }
            for path in &alternatives.paths[word.paths.clone()] {
                let pieces = &alternatives.pieces[path.pieces.clone()];
                let head = pieces.first().and_then(&sources.morpheme).map(|m| m.head());
                if head.is_some_and(|(form, tag)| STEM_TAGS.contains(&tag) || (sources.worth)(form, tag)) {
                    out.push_reading(pieces, path.extra, sources);
                }
            }
            for index in first..out.readings.len() {
                out.push_variants(index, sources.stems);
            }
            out.words.push(first..out.readings.len());
        }
        out
    }

    /// Decomposes `pieces` into one reading.
    fn push_reading<F: Fn(&Piece) -> Option<Morpheme<'a>>, K: Fn(&str, &str) -> bool>(
        &mut self,
        pieces: &[Piece],
        extra: i64,
        sources: &Sources<'a, F, K>,
    ) {
        let start = self.morphemes.len();
        let mut pending: Option<Morpheme<'a>> = None;
        let mut plain_first = None;
        for morpheme in pieces.iter().filter_map(&sources.morpheme) {
            if let Some(previous) = pending.replace(morpheme) {
                let fitted = fit_stem_change(previous, morpheme.head().0);
                if self.morphemes.len() == start {
                    plain_first = plain_twin(&fitted, sources.stems);
                }
                fitted.decompose_into(&mut self.morphemes);
            }
        }
        if let Some(last) = pending {
            fit_stem_change(last, "").decompose_into(&mut self.morphemes);
        }
        if self.morphemes.len() == start {
            return;
        }
        self.readings.push(Reading { morphemes: start..self.morphemes.len(), extra });
        if let Some(plain) = plain_first {
            let copy = self.morphemes.len();
            self.morphemes.extend_from_within(start..copy);
            self.morphemes[copy].surface = plain;
            self.readings.push(Reading { morphemes: copy..self.morphemes.len(), extra });
        }
    }

    /// Adds a reading for each stem the conjugation rules recover from the
    /// reading's first two morphemes (걸/VV + 었/EP → 걷/VV + 었/EP).
    fn push_variants(&mut self, index: usize, stems: &'a Stems) {
        let range = self.readings[index].morphemes.clone();
        if range.len() < 2 {
            return;
        }
        let (stem, ending) = (self.morphemes[range.start], self.morphemes[range.start + 1]);
        for variant in stems.variants(stem.surface, stem.tag, ending.surface) {
            let start = self.morphemes.len();
            self.morphemes.push(Morpheme { surface: variant.stem, tag: variant.tag, ..stem });
            let ending = Morpheme { surface: variant.ending.unwrap_or(ending.surface), ..ending };
            self.morphemes.push(ending);
            self.morphemes.extend_from_within(range.start + 2..range.end);
            let extra = self.readings[index].extra;
            self.readings.push(Reading { morphemes: start..self.morphemes.len(), extra });
        }
    }

    /// The distinct labels of a word, each with its cheapest reading (the
    /// earlier on equal cost), MeCab-ko's label first.
    pub(crate) fn choices(&self, word: usize) -> Vec<Choice<'a>> {
        let mut choices: Vec<Choice<'a>> = Vec::new();
        for index in self.words[word].clone() {
            let reading = &self.readings[index];
            let label = self.label(reading);
            match choices.iter_mut().find(|choice| choice.label == label) {
                Some(choice) if reading.extra < choice.extra => {
                    choice.extra = reading.extra;
                    choice.reading = index;
                }
                Some(_) => {}
                None => choices.push(Choice { label, extra: reading.extra, reading: index }),
            }
        }
        choices
    }

    /// Of two choices that are one stem as verb and as adjective (쓰/VV,
    /// 쓰/VA), the one the ending's grammar demands
    /// ([`predicate_by_ending`]): a rule no context overrides.
    pub(crate) fn by_grammar(&self, choices: &[Choice<'a>]) -> Option<Choice<'a>> {
        let [a, b] = choices else { return None };
        let tags = [a.label.1, b.label.1];
        if a.label.0 != b.label.0 || !(tags == ["VV", "VA"] || tags == ["VA", "VV"]) {
            return None;
        }
        let reading = &self.readings[a.reading];
        let ending = self.morphemes.get(reading.morphemes.start + 1).filter(|_| reading.morphemes.len() > 1)?;
        let last = reading.morphemes.len() == 2;
        let tag = predicate_by_ending(ending.surface, ending.tag, last)?;
        [*a, *b].into_iter().find(|choice| choice.label.1 == tag)
    }
}

/// One label a word may take and its cheapest reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice<'a> {
    /// The first morpheme's form and tag.
    pub label: (&'a str, &'a str),
    /// The reading's cost above the word's best.
    pub extra: i64,
    /// Index into [`Candidates::readings`].
    pub reading: usize,
}
