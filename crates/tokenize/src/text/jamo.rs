//! Hangul syllables ↔ jamo. A syllable 가-힣 is `initial + medial (+ final)`:
//! `0xAC00 + (initial × 21 + medial) × 28 + final` (Unicode §3.12).
//!
//! [`decompose`] writes compatibility jamo (ㄱ, ㅏ: what people type and
//! what the lecture's cleaning keeps); [`decompose_conjoining`] writes the
//! conjoining jamo of Unicode NFD; [`compose`] reads either.

const SYLLABLE_BASE: u32 = 0xAC00;
const MEDIALS: u32 = 21;
const FINALS: u32 = 28; // including "no final"
const SYLLABLE_COUNT: u32 = 19 * MEDIALS * FINALS;

const INITIAL_BASE: u32 = 0x1100;
const MEDIAL_BASE: u32 = 0x1161;
const FINAL_BASE: u32 = 0x11A7; // final index 0 means none

/// Compatibility jamo for the 19 initial consonants.
const COMPAT_INITIALS: [char; 19] =
    ['ㄱ', 'ㄲ', 'ㄴ', 'ㄷ', 'ㄸ', 'ㄹ', 'ㅁ', 'ㅂ', 'ㅃ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅉ', 'ㅊ', 'ㅋ', 'ㅌ', 'ㅍ', 'ㅎ'];
/// The 21 medial vowels are consecutive in the compatibility block.
const COMPAT_MEDIAL_BASE: u32 = 0x314F;
/// Compatibility jamo for the 27 final consonants (index 1..=27).
const COMPAT_FINALS: [char; 27] = [
    'ㄱ', 'ㄲ', 'ㄳ', 'ㄴ', 'ㄵ', 'ㄶ', 'ㄷ', 'ㄹ', 'ㄺ', 'ㄻ', 'ㄼ', 'ㄽ', 'ㄾ', 'ㄿ', 'ㅀ', 'ㅁ', 'ㅂ', 'ㅄ', 'ㅅ',
    'ㅆ', 'ㅇ', 'ㅈ', 'ㅊ', 'ㅋ', 'ㅌ', 'ㅍ', 'ㅎ',
];

/// One precomposed Hangul syllable split into its parts.
///
/// ```
/// use malmoi_tokenize::text::Syllable;
///
/// let s = Syllable::from_char('값').unwrap();
/// assert_eq!((s.initial(), s.medial(), s.final_consonant()), ('ㄱ', 'ㅏ', Some('ㅄ')));
/// assert_eq!(Syllable::from_jamo('ㅎ', 'ㅏ', Some('ㄴ')).unwrap().to_char(), '한');
/// assert!(Syllable::from_char('a').is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Syllable {
    initial: u8,
    medial: u8,
    /// 0 = no final consonant.
    final_: u8,
}

impl Syllable {
    /// Splits a syllable 가-힣; `None` for any other character.
    pub fn from_char(c: char) -> Option<Self> {
        let offset = (c as u32).checked_sub(SYLLABLE_BASE)?;
        (offset < SYLLABLE_COUNT).then_some(Self {
            initial: (offset / (MEDIALS * FINALS)) as u8,
            medial: (offset / FINALS % MEDIALS) as u8,
            final_: (offset % FINALS) as u8,
        })
    }

    /// Builds a syllable from jamo, each compatibility or conjoining; `None`
    /// when a part cannot take its position (e.g. ㄸ as a final).
    pub fn from_jamo(initial: char, medial: char, final_consonant: Option<char>) -> Option<Self> {
        Some(Self {
            initial: initial_index(initial)?,
            medial: medial_index(medial)?,
            final_: match final_consonant {
                Some(c) => final_index(c)?,
                None => 0,
            },
        })
    }

    /// The precomposed character.
    pub fn to_char(self) -> char {
        let code = SYLLABLE_BASE + (self.initial as u32 * MEDIALS + self.medial as u32) * FINALS + self.final_ as u32;
        char::from_u32(code).expect("syllable parts are in range")
    }

    /// Initial consonant as a compatibility jamo.
    pub fn initial(self) -> char {
        COMPAT_INITIALS[self.initial as usize]
    }

    /// Medial vowel as a compatibility jamo.
    pub fn medial(self) -> char {
        char::from_u32(COMPAT_MEDIAL_BASE + self.medial as u32).expect("medial in range")
    }

    /// Final consonant as a compatibility jamo, if any.
    pub fn final_consonant(self) -> Option<char> {
        (self.final_ > 0).then(|| COMPAT_FINALS[self.final_ as usize - 1])
    }

    /// The parts as conjoining jamo (U+1100 block), as in Unicode NFD.
    pub fn conjoining(self) -> (char, char, Option<char>) {
        let jamo = |base: u32, index: u8| char::from_u32(base + index as u32).expect("in range");
        (
            jamo(INITIAL_BASE, self.initial),
            jamo(MEDIAL_BASE, self.medial),
            (self.final_ > 0).then(|| jamo(FINAL_BASE, self.final_)),
        )
    }
}

fn initial_index(c: char) -> Option<u8> {
    let code = c as u32;
    if (INITIAL_BASE..INITIAL_BASE + 19).contains(&code) {
        return Some((code - INITIAL_BASE) as u8);
    }
    COMPAT_INITIALS.iter().position(|&j| j == c).map(|i| i as u8)
}

fn medial_index(c: char) -> Option<u8> {
    let code = c as u32;
    [MEDIAL_BASE, COMPAT_MEDIAL_BASE]
        .into_iter()
        .find(|base| (*base..base + MEDIALS).contains(&code))
        .map(|base| (code - base) as u8)
}

fn final_index(c: char) -> Option<u8> {
    let code = c as u32;
    if (FINAL_BASE + 1..FINAL_BASE + FINALS).contains(&code) {
        return Some((code - FINAL_BASE) as u8);
    }
    COMPAT_FINALS.iter().position(|&j| j == c).map(|i| i as u8 + 1)
}

/// Replaces every syllable by its compatibility jamo; other characters are
/// kept. Compound finals (ㄳ, ㅄ, …) and vowels (ㅘ, …) stay single jamo.
///
/// ```
/// use malmoi_tokenize::text::{compose, decompose};
///
/// assert_eq!(decompose("한글 OK"), "ㅎㅏㄴㄱㅡㄹ OK");
/// assert_eq!(compose("ㅎㅏㄴㄱㅡㄹ OK"), "한글 OK");
/// assert_eq!(compose(&decompose("값이 갔어요")), "값이 갔어요");
/// ```
pub fn decompose(text: &str) -> String {
    decompose_with(text, |s| [Some(s.initial()), Some(s.medial()), s.final_consonant()])
}

/// Replaces every syllable by conjoining jamo (the Hangul part of Unicode
/// NFD); other characters are kept.
pub fn decompose_conjoining(text: &str) -> String {
    decompose_with(text, |s| {
        let (initial, medial, final_consonant) = s.conjoining();
        [Some(initial), Some(medial), final_consonant]
    })
}

fn decompose_with(text: &str, parts: impl Fn(Syllable) -> [Option<char>; 3]) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for c in text.chars() {
        match Syllable::from_char(c) {
            Some(s) => out.extend(parts(s).into_iter().flatten()),
            None => out.push(c),
        }
    }
    out
}

/// Joins jamo sequences (compatibility or conjoining) into syllables.
/// A consonant after a vowel becomes a final unless a vowel follows it,
/// where it starts the next syllable (ㄱㅏㄴㅏ → 가나, ㄱㅏㄴ → 간). Jamo
/// that cannot form a syllable, and every other character, pass through.
/// `compose(&decompose(s)) == s` for any `s` without jamo of its own.
pub fn compose(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_vowel = |i: usize| chars.get(i).is_some_and(|&c| medial_index(c).is_some());
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let (Some(initial), Some(medial)) = (initial_index(chars[i]), chars.get(i + 1).and_then(|&c| medial_index(c)))
        else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        i += 2;
        let mut final_ = 0;
        if let Some(index) = chars.get(i).and_then(|&c| final_index(c))
            && !is_vowel(i + 1)
        {
            final_ = index;
            i += 1;
        }
        out.push(Syllable { initial, medial, final_ }.to_char());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syllable_round_trips_through_both_forms() {
        for code in SYLLABLE_BASE..SYLLABLE_BASE + SYLLABLE_COUNT {
            let c = char::from_u32(code).unwrap();
            let s = c.to_string();
            assert_eq!(compose(&decompose(&s)), s);
            assert_eq!(compose(&decompose_conjoining(&s)), s);
        }
    }

    #[test]
    fn conjoining_form_matches_nfd() {
        // NFD of 한 is U+1112 U+1161 U+11AB.
        assert_eq!(decompose_conjoining("한a"), "\u{1112}\u{1161}\u{11AB}a");
    }

    #[test]
    fn jamo_that_cannot_combine_pass_through() {
        assert_eq!(compose("ㅋㅋㅋ ㅠㅠ"), "ㅋㅋㅋ ㅠㅠ");
        assert_eq!(compose("ㄳㅏ"), "ㄳㅏ"); // ㄳ is never an initial
        assert_eq!(compose("ㄱㅏㄸ"), "가ㄸ"); // ㄸ is never a final
        assert_eq!(compose(""), "");
    }
}
