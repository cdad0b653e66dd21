//! Irregular conjugations that mecab-ko-dic stores as a changed stem.
//!
//! mecab-ko-dic gives most ㅂ-, 르- and ㅎ-irregular forms an expression that
//! names the dictionary stem (구워 → `굽/VV+어/EC`), but it stores many ㄷ-
//! and ㅅ-irregular and ㄹ-dropping forms as a plain morpheme with the changed
//! stem: 걸었다 is only 걸/VV + 었/EP + 다/EF, never 걷/VV. [`Stems::variants`]
//! undoes those changes by the rules of Korean conjugation, keeping only stems
//! the dictionary lists as verbs or adjectives:
//!
//! | rule | stem + ending | e.g. |
//! | --- | --- | --- |
//! | ㄷ → ㄹ before a vowel | final ㄹ + ending in ㅇ | 걸+었 → 걷, 들+어 → 듣, 물+으니 → 묻 |
//! | ㅅ dropped before a vowel | no final + ending in ㅇ | 지+었 → 짓, 이+어 → 잇, 나+아 → 낫 |
//! | ㄹ dropped before ㄴ, ㅂ, ㅅ | no final + ending in ㄴ/ㅂ/ㅅ | 나+는 → 날 |
//! | ㄹ dropped, ㄴ as the final | last syllable's final ㄴ | 가+는 → 가늘 + ㄴ |

use lindera::dictionary::Dictionary;
use rustc_hash::FxHashMap;

use crate::text::Syllable;

/// Tags whose stems conjugate.
pub(crate) const STEM_TAGS: [&str; 3] = ["VV", "VA", "VCP"];

/// Tags a recovered stem may take.
const PREDICATE_TAGS: [&str; 2] = ["VV", "VA"];

/// The dictionary's verb and adjective stems, for checking recovered ones.
#[derive(Debug, Default)]
pub(crate) struct Stems {
    /// Stem → its predicate tags (borrowed from [`PREDICATE_TAGS`]).
    tags: FxHashMap<String, Vec<&'static str>>,
}

/// A recovered stem: its form and tag, and how much of the next morpheme
/// it takes into the stem (the 는 of 가는 → 가늘 + ㄴ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Variant<'a> {
    pub stem: &'a str,
    pub tag: &'static str,
    /// The ending that remains (`ㄴ` for 가늘 + ㄴ), when it changes.
    pub ending: Option<&'static str>,
}

impl Stems {
    /// Collects every VV and VA entry's surface.
    pub(crate) fn build(dictionary: &Dictionary) -> Self {
        let mut tags: FxHashMap<String, Vec<&'static str>> = FxHashMap::default();
        for id in 0..dictionary.prefix_dictionary.word_count() {
            let mut fields = dictionary.word_details_iter(id);
            let Some(&tag) = fields.next().and_then(|tag| PREDICATE_TAGS.iter().find(|&&t| t == tag)) else {
                continue;
            };
            let Some(surface) = fields.nth(2) else { continue };
            let listed = tags.entry(surface.to_string()).or_default();
            if !listed.contains(&tag) {
                listed.push(tag);
            }
        }
        Self { tags }
    }

    /// Whether the dictionary lists `stem` with `tag` (VV or VA).
    pub(crate) fn contains(&self, stem: &str, tag: &str) -> bool {
        self.tags.get(stem).is_some_and(|tags| tags.contains(&tag))
    }

    /// The stems `stem` (tagged `tag`) + `ending` may stand for by the
    /// irregular rules, other than `stem` itself.
    pub(crate) fn variants(&self, stem: &str, tag: &str, ending: &str) -> Vec<Variant<'_>> {
        let mut out = Vec::new();
        if !STEM_TAGS.contains(&tag) {
            return out;
        }
        let (Some(last), Some(next)) = (last_syllable(stem), ending.chars().next()) else {
            return out;
        };
        let head = &stem[..stem.len() - last.to_char().len_utf8()];
        let next_initial = Syllable::from_char(next).map(Syllable::initial);
        // A verb stays a verb; 이/VCP + 었 can only be 잇다's verb stem.
        let wanted = if tag == "VCP" { "VV" } else { tag };
        let mut push = |form: String, remaining: Option<&'static str>| {
            if let Some((stem, tags)) = self.tags.get_key_value(&form) {
                out.extend(tags.iter().filter(|&&t| t == wanted).map(|&tag| Variant { stem, tag, ending: remaining }));
            }
        };
        match (last.final_consonant(), next_initial) {
            (Some('ㄹ'), Some('ㅇ')) => push(with_final(head, last, Some('ㄷ')), None),
            (None, Some('ㅇ')) => push(with_final(head, last, Some('ㅅ')), None),
            (None, Some('ㄴ' | 'ㅂ' | 'ㅅ')) => push(with_final(head, last, Some('ㄹ')), None),
            _ => {}
        }
        if let Some(fused) = ending_fused_with_n(ending) {
            let form = format!("{stem}{}", with_final("", fused, Some('ㄹ')));
            if let Some((stem, tags)) = self.tags.get_key_value(&form)
                && tags.contains(&"VA")
            {
                out.push(Variant { stem, tag: "VA", ending: Some("ㄴ") });
            }
        }
        out
    }
}

/// Whether mecab-ko-dic's changed stem `surface` (an inflected entry whose
/// expression names `lemma`, e.g. 걸 for 걷) may stand before `ending`:
/// `Some(false)` when the change is one of the rules above and the ending
/// does not call for it (걸 + 고 is never 걷), `None` for other changes.
pub(crate) fn stem_change_allowed(surface: &str, lemma: &str, ending: &str) -> Option<bool> {
    let (Some(changed), Some(original)) = (last_syllable(surface), last_syllable(lemma)) else { return None };
    let same_head =
        surface[..surface.len() - changed.to_char().len_utf8()] == lemma[..lemma.len() - original.to_char().len_utf8()];
    if !same_head || (changed.initial(), changed.medial()) != (original.initial(), original.medial()) {
        return None;
    }
    let next = ending.chars().next().and_then(Syllable::from_char).map(Syllable::initial);
    let vowel = next == Some('ㅇ');
    match (changed.final_consonant(), original.final_consonant()) {
        (Some('ㄹ'), Some('ㄷ')) | (None, Some('ㅅ')) => Some(vowel),
        (None, Some('ㄹ')) => {
            Some(matches!(next, Some('ㄴ' | 'ㅂ' | 'ㅅ')) || ending.starts_with(['ㄴ', 'ㄹ', 'ᆫ', 'ᆯ', 'ㅂ', 'ᆸ', '오']))
        }
        _ => None,
    }
}

/// Verb or adjective, when the ending after the stem only goes with one:
/// the present adnominal 는, the present declaratives ㄴ다 / 는다, the
/// propositive, imperatives and purpose endings take verbs (늦는다, 밝는
/// 새벽); a bare sentence-final 다 and the adjective forms of 데 / 구나 / 군
/// take adjectives (늦다, 밝은데). `last` says whether the ending ends the word.
pub(crate) fn predicate_by_ending(ending: &str, tag: &str, last: bool) -> Option<&'static str> {
    const VERB: [(&str, &str); 15] = [
        ("는", "ETM"),
        ("는다", "EF"),
        ("ㄴ다", "EF"),
        ("는다", "EC"),
        ("ㄴ다", "EC"),
        ("자", "EF"),
        ("어라", "EF"),
        ("아라", "EF"),
        ("려고", "EC"),
        ("으려고", "EC"),
        ("러", "EC"),
        ("으러", "EC"),
        ("는데", "EC"),
        ("는구나", "EF"),
        ("는군", "EF"),
    ];
    const ADJECTIVE: [(&str, &str); 5] = [("ㄴ데", "EC"), ("은데", "EC"), ("구나", "EF"), ("군", "EF"), ("다", "EF")];
    if VERB.contains(&(ending, tag)) {
        return Some("VV");
    }
    let adjective = ADJECTIVE.contains(&(ending, tag)) && (ending != "다" || last);
    adjective.then_some("VA")
}

/// The stem's last syllable.
fn last_syllable(stem: &str) -> Option<Syllable> {
    stem.chars().next_back().and_then(Syllable::from_char)
}

/// `head` followed by `last` with its final consonant replaced.
fn with_final(head: &str, last: Syllable, final_consonant: Option<char>) -> String {
    let changed = Syllable::from_jamo(last.initial(), last.medial(), final_consonant).unwrap_or(last);
    format!("{head}{}", changed.to_char())
}

/// The ending's syllable when it is one syllable ending in ㄴ (는, 은): the
/// shape of an ㄹ-stem's last syllable fused with the adnominal ㄴ.
fn ending_fused_with_n(ending: &str) -> Option<Syllable> {
    let mut chars = ending.chars();
    let syllable = Syllable::from_char(chars.next()?)?;
    (chars.next().is_none() && syllable.final_consonant() == Some('ㄴ') && syllable.initial() == 'ㄴ')
        .then_some(syllable)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stems(entries: &[(&str, &'static str)]) -> Stems {
        let mut tags: FxHashMap<String, Vec<&'static str>> = FxHashMap::default();
        for &(stem, tag) in entries {
            tags.entry(stem.to_string()).or_default().push(tag);
        }
        Stems { tags }
    }

    fn forms(stems: &Stems, stem: &str, tag: &str, ending: &str) -> Vec<(String, &'static str)> {
        stems.variants(stem, tag, ending).into_iter().map(|v| (v.stem.to_string(), v.tag)).collect()
    }

    #[test]
    fn each_rule_recovers_a_listed_stem() {
        let dict = stems(&[
            ("걷", "VV"),
            ("짓", "VV"),
            ("잇", "VV"),
            ("날", "VV"),
            ("가늘", "VA"),
            ("낫", "VV"),
            ("낫", "VA"),
        ]);
        assert_eq!(forms(&dict, "나", "VA", "아서"), [("낫".to_string(), "VA")]);
        assert_eq!(forms(&dict, "걸", "VV", "었"), [("걷".to_string(), "VV")]);
        assert_eq!(forms(&dict, "지", "VV", "어"), [("짓".to_string(), "VV")]);
        assert_eq!(forms(&dict, "이", "VCP", "었"), [("잇".to_string(), "VV")]);
        assert_eq!(forms(&dict, "나", "VV", "아서"), [("낫".to_string(), "VV")]);
        let flying = forms(&dict, "나", "VV", "는");
        assert_eq!(flying, [("날".to_string(), "VV")]);
        let thin = dict.variants("가", "VV", "는");
        assert_eq!(thin, [Variant { stem: "가늘", tag: "VA", ending: Some("ㄴ") }]);
    }

    #[test]
    fn no_variant_without_the_rule_or_the_stem() {
        let dict = stems(&[("걷", "VV")]);
        assert!(forms(&dict, "걸", "VV", "고").is_empty(), "ㄷ-irregular needs a vowel ending");
        assert!(forms(&dict, "걸", "NNG", "었").is_empty(), "only predicates conjugate");
        assert!(forms(&dict, "알", "VV", "아").is_empty(), "앋 is not in the dictionary");
        assert!(forms(&dict, "걸", "VV", "").is_empty());
    }

    #[test]
    fn endings_that_only_verbs_or_only_adjectives_take() {
        assert_eq!(predicate_by_ending("는", "ETM", false), Some("VV"), "늦는 사람");
        assert_eq!(predicate_by_ending("는다", "EF", true), Some("VV"), "날이 밝는다");
        assert_eq!(predicate_by_ending("다", "EF", true), Some("VA"), "맛이 쓰다");
        assert_eq!(predicate_by_ending("은데", "EC", false), Some("VA"), "밝은데");
        assert_eq!(predicate_by_ending("다", "EF", false), None, "다 before more endings");
        assert_eq!(predicate_by_ending("었", "EP", false), None, "the past takes both");
        assert_eq!(predicate_by_ending("은", "ETM", false), None, "verb past or adjective present");
    }

    #[test]
    fn stem_changes_need_their_endings() {
        assert_eq!(stem_change_allowed("걸", "걷", "었"), Some(true));
        assert_eq!(stem_change_allowed("걸", "걷", "고"), Some(false));
        assert_eq!(stem_change_allowed("지", "짓", "어"), Some(true));
        assert_eq!(stem_change_allowed("지", "짓", "고"), Some(false));
        assert_eq!(stem_change_allowed("나", "날", "는"), Some(true));
        assert_eq!(stem_change_allowed("나", "날", "ㄴ"), Some(true));
        assert_eq!(stem_change_allowed("나", "날", "아"), Some(false));
        assert_eq!(stem_change_allowed("구", "굽", "어"), None, "other changes are not judged");
    }
}
