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
//! when the chosen entry has none, the caller's `find_expression` looks the
//! surface up for an inflected twin.

use super::analyzer::Morpheme;

/// First tags of morphemes that are replaced by their dictionary form.
const PREDICATE_TAGS: [&str; 6] = ["VV", "VA", "VX", "VCN", "XSV", "XSA"];

/// The first tag of a possibly compound tag such as `VV+EP`.
fn first_tag(tag: &str) -> &str {
    tag.split('+').next().unwrap_or(tag)
}

/// The dictionary form (stem + 다) of a predicate morpheme, `None` for others.
fn dictionary_form(
    morpheme: &Morpheme<'_>,
    find_expression: &impl Fn(&str, &str) -> Option<String>,
) -> Option<String> {
    if !PREDICATE_TAGS.contains(&first_tag(morpheme.tag)) {
        return None;
    }
    let looked_up;
    let expression = match morpheme.expression {
        "*" | "" => {
            looked_up = find_expression(morpheme.surface, morpheme.tag);
            looked_up.as_deref().unwrap_or(morpheme.surface)
        }
        expression => expression,
    };
    let stem = expression
        .split(['/', '+'])
        .next()
        .unwrap_or(morpheme.surface);
    Some(format!("{stem}다"))
}

/// Morphemes with predicates replaced by their dictionary forms and their
/// attached endings dropped. `find_expression(surface, tag)` returns the
/// expression of an inflected dictionary entry with that surface and tag.
pub(crate) fn stem_morphs(
    morphemes: &[Morpheme<'_>],
    find_expression: impl Fn(&str, &str) -> Option<String>,
) -> Vec<String> {
    let mut out = Vec::with_capacity(morphemes.len());
    let mut i = 0;
    while i < morphemes.len() {
        let morpheme = &morphemes[i];
        i += 1;
        let Some(form) = dictionary_form(morpheme, &find_expression) else {
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
