//! Context features: what each word offers its neighbours, and how features are keyed.

use super::super::candidates::Candidates;

/// Tags whose morphemes are context words for the `bag` features.
const CONTENT_TAGS: [&str; 10] = ["NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "MAG", "XR", "SL"];

/// Kinds of context feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Kind {
    Bag = 0,
    Prev = 1,
    PrevContent = 2,
    Next = 3,
}

pub(super) const KINDS: [(Kind, &str); 4] =
    [(Kind::Bag, "bag"), (Kind::Prev, "prev"), (Kind::PrevContent, "prev_content"), (Kind::Next, "next")];

/// A feature: its kind and the interned morpheme.
pub(super) fn feature_key(kind: Kind, token: u32) -> u64 {
    (u64::from(kind as u8) << 32) | u64::from(token)
}

/// What each word offers its neighbours as context, from its best reading:
/// its content morphemes, its last morpheme, its first content morpheme and
/// its first morpheme, as tokens `T` (interned ids, or `(form, tag)`).
pub(super) struct Offers<T> {
    content: Vec<T>,
    words: Vec<Offer<T>>,
}

/// One word's part of [`Offers`].
struct Offer<T> {
    /// Its content morphemes' range in [`Offers::content`].
    content: std::ops::Range<usize>,
    last: Option<T>,
    first_content: Option<T>,
    first: Option<T>,
}

impl<T: Copy> Offers<T> {
    /// Every word's offer; `token` turns a morpheme into a token (`None`: unknown, left out).
    pub(super) fn build<'a>(candidates: &Candidates<'a>, mut token: impl FnMut(&'a str, &'a str) -> Option<T>) -> Self {
        let mut offers = Offers { content: Vec::new(), words: Vec::with_capacity(candidates.words.len()) };
        for word in &candidates.words {
            let best = &candidates.morphemes[candidates.readings[word.start].morphemes.clone()];
            let start = offers.content.len();
            let mut first_content = None;
            for m in best.iter().filter(|m| CONTENT_TAGS.contains(&m.tag)) {
                let id = token(m.surface, m.tag);
                first_content = first_content.or(Some(id));
                offers.content.extend(id);
            }
            let last = best.last().and_then(|m| token(m.surface, m.tag));
            let first = best.first().and_then(|m| token(m.surface, m.tag));
            let content = start..offers.content.len();
            offers.words.push(Offer { content, last, first_content: first_content.flatten(), first });
        }
        offers
    }

    /// The features of `word`: the content of the words within `window`,
    /// the previous word's last and first content morpheme, the next word's first.
    pub(super) fn visit(&self, word: usize, window: usize, mut visit: impl FnMut(Kind, T)) {
        let hi = (word + window + 1).min(self.words.len());
        for other in (word.saturating_sub(window)..hi).filter(|&w| w != word) {
            for &token in &self.content[self.words[other].content.clone()] {
                visit(Kind::Bag, token);
            }
        }
        if let Some(previous) = word.checked_sub(1).map(|w| &self.words[w]) {
            if let Some(last) = previous.last {
                visit(Kind::Prev, last);
            }
            if let Some(content) = previous.first_content {
                visit(Kind::PrevContent, content);
            }
        }
        if let Some(first) = self.words.get(word + 1).and_then(|w| w.first) {
            visit(Kind::Next, first);
        }
    }
}

pub(super) fn kind_name(feature: u64) -> &'static str {
    let kind = (feature >> 32) as u8;
    KINDS.iter().find(|(k, _)| *k as u8 == kind).map_or("bag", |(_, name)| name)
}

pub(super) fn kind_named(name: Option<&str>) -> Result<Kind, String> {
    KINDS
        .iter()
        .find(|(_, n)| Some(*n) == name)
        .map(|(k, _)| *k)
        .ok_or_else(|| format!("unknown feature kind {name:?}"))
}
