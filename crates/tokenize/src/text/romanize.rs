//! Revised Romanization of Korean (국어의 로마자 표기법, Ministry of Culture and Tourism, 2000).
//!
//! The rules romanize the *standard pronunciation*, so [`romanize`] first applies the sound
//! changes that the rules' article 1 of chapter 3 lists, at every boundary between two Hangul
//! syllables of a word, then spells the sounds with the tables of chapter 2:
//!
//! * liaison (연음): 설악 → [서락] `seorak`, 백암 → [배감] `baegam`, 닭이 → [달기] `dalgi`;
//! * nasalization (비음화): 백마 → [뱅마] `baengma`, 종로 → [종노] `jongno`, 왕십리 → [왕심니]
//!   `wangsimni`;
//! * liquidization (유음화): 신라 → [실라] `silla`, 별내 → [별래] `byeollae`;
//! * palatalization (구개음화): 해돋이 → [해도지] `haedoji`, 같이 → [가치] `gachi`, 굳히다 → [구치다]
//!   `guchida`;
//! * aspiration (거센소리되기): 좋고 → [조코] `joko`, 놓다 → [노타] `nota`, 잡혀 → [자펴] `japyeo`;
//!   ㅎ before a vowel is silent (좋아 → [조아] `joa`);
//! * final consonants are their representative sound (월곶 → `wolgot`, 벚꽃 → `beotkkot`,
//!   한밭 → `hanbat`), ㄹ is `r` before a vowel and `l` elsewhere, ㄹㄹ is `ll` (울릉 → `ulleung`);
//! * tensification (된소리되기) is not written (압구정 → `apgujeong`, 낙동강 → `nakdonggang`), nor is ㅢ
//!   simplified (광희문 → `gwanghuimun`).
//!
//! What a string of syllables does not show is left at the general rule: the ㄴ/ㄹ insertion of
//! compounds (학여울 [항녀울] gives `hagyeoul`, not `hangnyeoul`), the ㄴㄴ of compounds like 신문로
//! [신문노] (gives `sinmullo`), and the rule that nouns keep ㅎ after ㄱ, ㄷ, ㅂ (묵호 gives `muko`, not
//! `mukho`). Output is lowercase without the optional hyphens; the capitals of proper names are
//! the caller's business. Characters other than Hangul syllables (Latin, digits, spaces, lone
//! jamo) are copied unchanged and separate words, so no sound change crosses them.

use super::jamo::Syllable;

/// Romanizes every Hangul syllable of `text` by the Revised Romanization rules.
///
/// ```
/// use malmoi_tokenize::text::romanize::romanize;
///
/// assert_eq!(romanize("신라"), "silla");
/// assert_eq!(romanize("백마 같이"), "baengma gachi");
/// assert_eq!(romanize("좋고 OK"), "joko OK");
/// ```
pub fn romanize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut word: Vec<Sound> = Vec::new();
    for c in text.chars() {
        match Syllable::from_char(c) {
            Some(syllable) => word.push(Sound::of(syllable)),
            None => {
                spell_word(&mut word, &mut out);
                out.push(c);
            }
        }
    }
    spell_word(&mut word, &mut out);
    out
}

/// One syllable as it is pronounced: initial consonant (ㅇ for none), vowel and final consonant,
/// all as compatibility jamo.
#[derive(Debug, Clone, Copy)]
struct Sound {
    initial: char,
    vowel: char,
    last: Option<char>,
}

impl Sound {
    fn of(syllable: Syllable) -> Self {
        Self { initial: syllable.initial(), vowel: syllable.medial(), last: syllable.final_consonant() }
    }
}

/// Applies the sound changes of a word's syllable boundaries, appends its spelling to `out` and
/// empties `word`.
fn spell_word(word: &mut Vec<Sound>, out: &mut String) {
    for i in 1..word.len() {
        let (last, initial) = join(word[i - 1].last, word[i].initial, word[i].vowel);
        word[i - 1].last = last;
        word[i].initial = initial;
    }
    let mut previous_final = None;
    for sound in word.iter() {
        out.push_str(if sound.initial == 'ㄹ' && previous_final == Some('ㄹ') {
            "l"
        } else {
            initial(sound.initial)
        });
        out.push_str(vowel(sound.vowel));
        let last = sound.last.map(representative);
        out.push_str(last.map_or("", final_sound));
        previous_final = last;
    }
    word.clear();
}

/// The final of one syllable and the initial of the next after the sound changes of standard
/// pronunciation; `vowel` is the next syllable's vowel (for palatalization).
fn join(last: Option<char>, initial: char, vowel: char) -> (Option<char>, char) {
    let Some(last) = last else { return (None, initial) };
    match initial {
        'ㅇ' => liaison(last, vowel),
        'ㅎ' => aspirate_before_h(last, vowel),
        _ => match last {
            'ㅎ' | 'ㄶ' | 'ㅀ' => after_h_final(last, initial),
            _ => assimilate(representative(last), initial),
        },
    }
}

/// A final before a syllable without initial consonant moves over (연음); a compound final moves
/// its second consonant; ㅎ is silent; ㄷ, ㅌ before 이 become ㅈ, ㅊ (구개음화).
fn liaison(last: char, vowel: char) -> (Option<char>, char) {
    match (last, vowel) {
        ('ㅇ', _) => (Some('ㅇ'), 'ㅇ'),
        ('ㅎ', _) => (None, 'ㅇ'),
        ('ㄶ', _) => (None, 'ㄴ'),
        ('ㅀ', _) => (None, 'ㄹ'),
        ('ㄷ', 'ㅣ') => (None, 'ㅈ'),
        ('ㅌ', 'ㅣ') => (None, 'ㅊ'),
        ('ㄾ', 'ㅣ') => (Some('ㄹ'), 'ㅊ'),
        _ => match split_compound(last) {
            Some((first, second)) => (Some(first), second),
            None => (None, last),
        },
    }
}

/// A compound final as its two consonants.
fn split_compound(last: char) -> Option<(char, char)> {
    Some(match last {
        'ㄳ' => ('ㄱ', 'ㅅ'),
        'ㄵ' => ('ㄴ', 'ㅈ'),
        'ㄺ' => ('ㄹ', 'ㄱ'),
        'ㄻ' => ('ㄹ', 'ㅁ'),
        'ㄼ' => ('ㄹ', 'ㅂ'),
        'ㄽ' => ('ㄹ', 'ㅅ'),
        'ㄾ' => ('ㄹ', 'ㅌ'),
        'ㄿ' => ('ㄹ', 'ㅍ'),
        'ㅄ' => ('ㅂ', 'ㅅ'),
        _ => return None,
    })
}

/// ㄱ, ㄷ, ㅂ, ㅈ (and the finals sounding so) before ㅎ merge with it into ㅋ, ㅌ, ㅍ, ㅊ; ㄷ + 히 is
/// 치 (굳히다 [구치다]). Sonorant finals keep the ㅎ.
fn aspirate_before_h(last: char, vowel: char) -> (Option<char>, char) {
    let (kept, merged) = match last {
        'ㄺ' => (Some('ㄹ'), 'ㄱ'),
        'ㄼ' => (Some('ㄹ'), 'ㅂ'),
        'ㄵ' => (Some('ㄴ'), 'ㅈ'),
        'ㅈ' => (None, 'ㅈ'),
        'ㅎ' => (None, 'ㅎ'),
        'ㄶ' => (Some('ㄴ'), 'ㅎ'),
        'ㅀ' => (Some('ㄹ'), 'ㅎ'),
        _ => (None, representative(last)),
    };
    let initial = match merged {
        'ㄱ' => 'ㅋ',
        'ㄷ' if vowel == 'ㅣ' => 'ㅊ',
        'ㄷ' => 'ㅌ',
        'ㅂ' => 'ㅍ',
        'ㅈ' => 'ㅊ',
        'ㅎ' => 'ㅎ',
        sonorant => return (Some(sonorant), 'ㅎ'),
    };
    (kept, initial)
}

/// ㅎ (ㄶ, ㅀ) before a consonant: ㄱ, ㄷ, ㅈ become ㅋ, ㅌ, ㅊ (좋고 [조코]), ㅅ becomes ㅆ (닿소 [다쏘]),
/// ㅎ before ㄴ is ㄴ (놓는 [논는]); otherwise the final is its representative sound.
fn after_h_final(last: char, initial: char) -> (Option<char>, char) {
    let rest = match last {
        'ㄶ' => Some('ㄴ'),
        'ㅀ' => Some('ㄹ'),
        _ => None,
    };
    match initial {
        'ㄱ' => (rest, 'ㅋ'),
        'ㄷ' => (rest, 'ㅌ'),
        'ㅈ' => (rest, 'ㅊ'),
        'ㅅ' => (rest, 'ㅆ'),
        'ㄴ' => match rest {
            Some('ㄹ') => (rest, 'ㄹ'),
            _ => (Some('ㄴ'), 'ㄴ'),
        },
        _ => assimilate(rest.unwrap_or('ㄷ'), initial),
    }
}

/// Consonant assimilation between a representative final and the next initial: ㄹ after any
/// final but ㄴ, ㄹ is ㄴ; ㄴ next to ㄹ is ㄹ (유음화); ㄱ, ㄷ, ㅂ before ㄴ, ㅁ are ㅇ, ㄴ, ㅁ (비음화).
fn assimilate(last: char, initial: char) -> (Option<char>, char) {
    let (last, initial) = match (last, initial) {
        ('ㄴ', 'ㄹ') | ('ㄹ', 'ㄴ') => ('ㄹ', 'ㄹ'),
        ('ㄹ', 'ㄹ') => ('ㄹ', 'ㄹ'),
        (_, 'ㄹ') => (last, 'ㄴ'),
        _ => (last, initial),
    };
    let last = match (last, initial) {
        ('ㄱ', 'ㄴ' | 'ㅁ') => 'ㅇ',
        ('ㄷ', 'ㄴ' | 'ㅁ') => 'ㄴ',
        ('ㅂ', 'ㄴ' | 'ㅁ') => 'ㅁ',
        _ => last,
    };
    (Some(last), initial)
}

/// The sound a final consonant has at the end of a syllable: one of ㄱ ㄴ ㄷ ㄹ ㅁ ㅂ ㅇ.
fn representative(last: char) -> char {
    match last {
        'ㄱ' | 'ㄲ' | 'ㅋ' | 'ㄳ' | 'ㄺ' => 'ㄱ',
        'ㄴ' | 'ㄵ' | 'ㄶ' => 'ㄴ',
        'ㄹ' | 'ㄼ' | 'ㄽ' | 'ㄾ' | 'ㅀ' => 'ㄹ',
        'ㅁ' | 'ㄻ' => 'ㅁ',
        'ㅂ' | 'ㅍ' | 'ㅄ' | 'ㄿ' => 'ㅂ',
        'ㅇ' => 'ㅇ',
        _ => 'ㄷ', // ㄷ ㅅ ㅆ ㅈ ㅊ ㅌ ㅎ
    }
}

/// Chapter 2, article 2: consonants before a vowel.
fn initial(consonant: char) -> &'static str {
    match consonant {
        'ㄱ' => "g",
        'ㄲ' => "kk",
        'ㄴ' => "n",
        'ㄷ' => "d",
        'ㄸ' => "tt",
        'ㄹ' => "r",
        'ㅁ' => "m",
        'ㅂ' => "b",
        'ㅃ' => "pp",
        'ㅅ' => "s",
        'ㅆ' => "ss",
        'ㅈ' => "j",
        'ㅉ' => "jj",
        'ㅊ' => "ch",
        'ㅋ' => "k",
        'ㅌ' => "t",
        'ㅍ' => "p",
        'ㅎ' => "h",
        _ => "", // ㅇ
    }
}

/// Chapter 2, article 2: a representative final sound.
fn final_sound(consonant: char) -> &'static str {
    match consonant {
        'ㄱ' => "k",
        'ㄴ' => "n",
        'ㄷ' => "t",
        'ㄹ' => "l",
        'ㅁ' => "m",
        'ㅂ' => "p",
        _ => "ng", // ㅇ
    }
}

/// Chapter 2, article 1: the 21 vowels in jamo order, ㅏ ㅐ ㅑ ㅒ ㅓ ㅔ ㅕ ㅖ ㅗ ㅘ ㅙ ㅚ ㅛ ㅜ ㅝ ㅞ ㅟ ㅠ ㅡ ㅢ ㅣ
/// (consecutive code points from ㅏ).
const VOWELS: [&str; 21] = [
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu", "eu",
    "ui", "i",
];

/// The spelling of a vowel jamo.
fn vowel(vowel: char) -> &'static str {
    let index = (vowel as u32).wrapping_sub('ㅏ' as u32) as usize;
    VOWELS.get(index).copied().unwrap_or("i")
}
