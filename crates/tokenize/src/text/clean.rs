//! The lecture's Hangul cleaning, `str.replace("[^ㄱ-ㅎㅏ-ㅣ가-힣 ]", "")`,
//! as a configurable character filter.

/// Compatibility consonants ㄱ..ㅎ (U+3131..U+314E).
const CONSONANTS: std::ops::RangeInclusive<char> = 'ㄱ'..='ㅎ';
/// Compatibility vowels ㅏ..ㅣ (U+314F..U+3163).
const VOWELS: std::ops::RangeInclusive<char> = 'ㅏ'..='ㅣ';
/// Precomposed syllables 가..힣 (U+AC00..U+D7A3).
const SYLLABLES: std::ops::RangeInclusive<char> = '가'..='힣';

/// Removes every character outside a chosen set. The default keeps exactly
/// what the lecture's regex `[^ㄱ-ㅎㅏ-ㅣ가-힣 ]` keeps: compatibility jamo,
/// Hangul syllables and the space character.
///
/// ```
/// use malmoi_tokenize::text::HangulCleaner;
///
/// let review = "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나 ㅋㅋ 10점!";
/// assert_eq!(HangulCleaner::new().clean(review), "흠포스터보고 초딩영화줄오버연기조차 가볍지 않구나 ㅋㅋ 점");
///
/// let tidy = HangulCleaner::new().keep_digits(true).collapse_spaces(true);
/// assert_eq!(tidy.clean("  아  더빙..\t진짜 10점 "), "아 더빙 진짜 10점");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HangulCleaner {
    jamo: bool,
    syllables: bool,
    spaces: bool,
    digits: bool,
    latin: bool,
    extra: Vec<char>,
    collapse: bool,
}

impl Default for HangulCleaner {
    fn default() -> Self {
        Self {
            jamo: true,
            syllables: true,
            spaces: true,
            digits: false,
            latin: false,
            extra: Vec::new(),
            collapse: false,
        }
    }
}

impl HangulCleaner {
    /// The lecture's filter: jamo, syllables and spaces.
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// Keep compatibility jamo ㄱ-ㅎ, ㅏ-ㅣ (ㅋㅋ, ㅠㅠ); default `true`.
        keep_jamo => jamo: bool;
        /// Keep syllables 가-힣; default `true`.
        keep_syllables => syllables: bool;
        /// Keep the space character; default `true`.
        keep_spaces => spaces: bool;
        /// Keep ASCII digits 0-9; default `false`.
        keep_digits => digits: bool;
        /// Keep ASCII letters a-z, A-Z; default `false`.
        keep_latin => latin: bool;
        /// Turn any whitespace into single spaces and trim the ends (the
        /// lecture's follow-up `replace('^ +', "")`); default `false`, where
        /// only U+0020 survives and tabs or newlines are deleted.
        collapse_spaces => collapse: bool;
    }

    /// Also keep every character of `chars` (e.g. `".?!"`).
    pub fn keep_chars(mut self, chars: &str) -> Self {
        self.extra.extend(chars.chars());
        self
    }

    /// Whether `c` survives cleaning (whitespace other than U+0020 only
    /// survives, as a space, when collapsing).
    pub fn keeps(&self, c: char) -> bool {
        (self.jamo && (CONSONANTS.contains(&c) || VOWELS.contains(&c)))
            || (self.syllables && SYLLABLES.contains(&c))
            || (self.spaces && c == ' ')
            || (self.digits && c.is_ascii_digit())
            || (self.latin && c.is_ascii_alphabetic())
            || self.extra.contains(&c)
    }

    /// `text` without the characters this cleaner drops.
    pub fn clean(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        if !self.collapse {
            out.extend(text.chars().filter(|&c| self.keeps(c)));
            return out;
        }
        let mut pending_space = false;
        for c in text.chars() {
            if c.is_whitespace() && self.spaces {
                pending_space = !out.is_empty();
            } else if self.keeps(c) {
                if pending_space {
                    out.push(' ');
                    pending_space = false;
                }
                out.push(c);
            }
        }
        out
    }
}

/// The lecture's cleaning with its exact character set: shorthand for
/// `HangulCleaner::new().clean(text)`.
pub fn clean_hangul(text: &str) -> String {
    HangulCleaner::new().clean(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_examples() {
        assert_eq!(clean_hangul("아 더빙.. 진짜 짜증나네요 목소리"), "아 더빙 진짜 짜증나네요 목소리");
        assert_eq!(
            clean_hangul("사이몬페그의 익살스런 연기가 돋보였던 영화!스파이더맨에서"),
            "사이몬페그의 익살스런 연기가 돋보였던 영화스파이더맨에서"
        );
        assert_eq!(clean_hangul("a\tb\n"), "");
        assert_eq!(clean_hangul(""), "");
    }

    #[test]
    fn archaic_jamo_are_outside_the_lecture_ranges() {
        assert!(!HangulCleaner::new().keeps('ㆍ')); // U+318D arae-a
        assert!(HangulCleaner::new().keeps('ㅣ'));
        assert!(!HangulCleaner::new().keep_jamo(false).keeps('ㅋ'));
    }

    #[test]
    fn collapsing_drops_space_made_only_of_removed_characters() {
        let cleaner = HangulCleaner::new().collapse_spaces(true);
        assert_eq!(cleaner.clean(" !! 좋다  ?? 최고 "), "좋다 최고");
        assert_eq!(cleaner.clean(" \t "), "");
    }
}
