//! Dictionary forms of predicates, in the manner of KoNLPy's
//! `Okt.morphs(text, stem=True)`.
//!
//! A predicate morpheme (verb, adjective, auxiliary, 아니다, or the 하다/스럽다
//! derivational suffixes) becomes its stem plus 다, and the endings (E*) glued
//! to it in the same word are absorbed, as Okt does: 만드/VV+는/ETM → 만들다,
//! 탔/VV+EP+다/EC → 타다. The stem comes from mecab-ko-dic's expression field
//! when the entry is inflected (`탔` → `타/VV/*+았/EP/*`, `만드` → `만들/VV/*`).
//! mecab-ko-dic sometimes lists the same stem twice with equal cost, once
//! with and once without an expression (만드/VV in VV.csv and Inflect.csv);
//! [`IrregularStems`] maps such surfaces to their stems.

use std::collections::HashMap;

use lindera::dictionary::Dictionary;

use super::morpheme::{EXPRESSION_FIELD, Morpheme, READING_FIELD, TYPE_FIELD};

/// Stems of the dictionary's single-morpheme inflected predicate entries
/// (surface 만드, tag VV → stem 만들), read from every system entry once.
#[derive(Debug, Default)]
pub(crate) struct IrregularStems {
    by_surface: HashMap<String, Vec<(String, String)>>,
}

impl IrregularStems {
    /// Scans the dictionary's entries (reading, tag, type, expression).
    pub(crate) fn build(dictionary: &Dictionary) -> Self {
        let mut by_surface: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for id in 0..dictionary.prefix_dictionary.word_count() {
            let fields: Vec<&str> = dictionary.word_details_iter(id).collect();
            let (Some(tag), Some(reading), Some(kind), Some(expression)) =
                (fields.first(), fields.get(READING_FIELD), fields.get(TYPE_FIELD), fields.get(EXPRESSION_FIELD))
            else {
                continue;
            };
            if *kind != "Inflect" || !PREDICATE_TAGS.contains(tag) || expression.contains('+') {
                continue;
            }
            let stem = expression.split('/').next().unwrap_or(reading);
            let entries = by_surface.entry(reading.to_string()).or_default();
            if !entries.iter().any(|(t, _)| t == tag) {
                entries.push((tag.to_string(), stem.to_string()));
            }
        }
        Self { by_surface }
    }

    pub(crate) fn stem(&self, surface: &str, tag: &str) -> Option<&str> {
        self.by_surface.get(surface)?.iter().find(|(t, _)| t == tag).map(|(_, stem)| stem.as_str())
    }
}

/// First tags of morphemes that are replaced by their dictionary form.
const PREDICATE_TAGS: [&str; 6] = ["VV", "VA", "VX", "VCN", "XSV", "XSA"];

/// The first tag of a possibly compound tag such as `VV+EP`.
fn first_tag(tag: &str) -> &str {
    tag.split('+').next().unwrap_or(tag)
}

/// The dictionary form (stem + 다) of a predicate morpheme, `None` for others.
fn dictionary_form(morpheme: &Morpheme<'_>, irregular: &IrregularStems) -> Option<String> {
    if !PREDICATE_TAGS.contains(&first_tag(morpheme.tag)) {
        return None;
    }
    let stem = match morpheme.expression {
        "*" | "" => irregular.stem(morpheme.surface, morpheme.tag).unwrap_or(morpheme.surface),
        expression => expression.split(['/', '+']).next().unwrap_or(morpheme.surface),
    };
    Some(format!("{stem}다"))
}

/// Morphemes with predicates replaced by their dictionary forms and their
/// attached endings dropped.
pub(crate) fn stem_morphs(morphemes: &[Morpheme<'_>], irregular: &IrregularStems) -> Vec<String> {
    let mut out = Vec::with_capacity(morphemes.len());
    let mut i = 0;
    while i < morphemes.len() {
        let morpheme = &morphemes[i];
        i += 1;
        let Some(form) = dictionary_form(morpheme, irregular) else {
            out.push(morpheme.surface.to_string());
            continue;
        };
        out.push(form);
        let mut end = morpheme.end;
        while let Some(next) = morphemes.get(i) {
            let attached = next.start == end && first_tag(next.tag).starts_with('E');
            if !attached {
                break;
            }
            end = next.end;
            i += 1;
        }
    }
    out
}
