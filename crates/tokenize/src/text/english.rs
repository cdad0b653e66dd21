//! An English word tokenizer in the spirit of NLTK's `word_tokenize`
//! (Penn Treebank conventions as refined by `NLTKWordTokenizer`).
//!
//! Punctuation becomes separate tokens, except inside numbers (`3.88`,
//! `1,000`, `12:30`) and abbreviations (`U.S.`, `e.g.`); contractions are
//! split (`don't` → `do n't`, `I'm` → `I 'm`, `cannot` → `can not`); double
//! quotes become ` `` ` and `''`. Like `word_tokenize`, which first splits
//! sentences with Punkt, a word-final period is split off at the end of the
//! text and before the next sentence; this tokenizer treats every period
//! followed by whitespace as a sentence end unless the word is an initial
//! (`J.`), contains another period (`U.S.`) or is a common abbreviation
//! (`Mr.`, `Dr.`, `etc.`, …).

/// Abbreviations whose period does not end a sentence (compared in lower case).
const ABBREVIATIONS: [&str; 14] =
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "ltd", "co", "no"];

/// Characters that are always a token of their own.
fn always_split(c: char) -> bool {
    matches!(
        c,
        ';' | '@'
            | '#'
            | '$'
            | '%'
            | '&'
            | '*'
            | '?'
            | '!'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '<'
            | '>'
            | '«'
            | '»'
            | '“'
            | '”'
            | '‘'
            | '’'
            | '„'
            | '\u{2012}'..='\u{2015}'
    )
}

/// Closing brackets and quotes that may follow a sentence-final period.
fn closes(token: &str) -> bool {
    matches!(token, ")" | "]" | "}" | ">" | "''" | "'" | "”" | "’" | "»")
}

/// Splits English text into words and punctuation, like NLTK's
/// `word_tokenize`.
///
/// ```
/// use malmoi_tokenize::text::word_tokenize;
///
/// assert_eq!(
///     word_tokenize("Good muffins cost $3.88 in New York. Please don't buy me two."),
///     ["Good", "muffins", "cost", "$", "3.88", "in", "New", "York", ".",
///      "Please", "do", "n't", "buy", "me", "two", "."]
/// );
/// assert_eq!(word_tokenize("\"Hi,\" she said."), ["``", "Hi", ",", "''", "she", "said", "."]);
/// assert!(word_tokenize("   ").is_empty());
/// ```
pub fn word_tokenize(text: &str) -> Vec<String> {
    let chunks: Vec<&str> = text.split_whitespace().collect();
    let mut tokens = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let is_last = i + 1 == chunks.len();
        split_chunk(chunk, is_last, &mut tokens);
    }
    tokens
}

/// Tokenizes one whitespace-free chunk, appending to `tokens`.
fn split_chunk(chunk: &str, is_last: bool, tokens: &mut Vec<String>) {
    let start = tokens.len();
    let chars: Vec<char> = chunk.chars().collect();
    let mut word = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let run = |ch: char| chars[i..].iter().take_while(|&&x| x == ch).count();
        let symbol: Option<(String, usize)> = match c {
            '"' => Some((quote(tokens, start, &word), 1)),
            '\'' if next == Some('\'') => Some((quote(tokens, start, &word), 2)),
            '`' => Some(("`".repeat(run('`')), run('`'))),
            '.' if next == Some('.') => Some((".".repeat(run('.')), run('.'))),
            '-' if next == Some('-') => Some(("--".to_owned(), 2)),
            ',' | ':' if !next.is_some_and(|n| n.is_ascii_digit()) => Some((c.to_string(), 1)),
            c if always_split(c) => Some((c.to_string(), 1)),
            _ => None,
        };
        match symbol {
            Some((symbol, len)) => {
                flush_word(&mut word, tokens);
                tokens.push(symbol);
                i += len;
            }
            None => {
                word.push(c);
                i += 1;
            }
        }
    }
    flush_word(&mut word, tokens);
    split_final_period(tokens, start, is_last);
}

/// `"` (or `''`) opens a quotation at the start of a chunk or after an
/// opening bracket: ` `` `; anywhere else it closes one: `''`.
fn quote(tokens: &[String], chunk_start: usize, word: &str) -> String {
    let opens = word.is_empty()
        && (tokens.len() == chunk_start
            || tokens.last().is_some_and(|t| matches!(t.as_str(), "(" | "[" | "{" | "<" | "``")));
    if opens { "``" } else { "''" }.to_owned()
}

/// Splits a period off the word before any closing brackets or quotes at
/// the end of a chunk, when the chunk ends a sentence.
fn split_final_period(tokens: &mut Vec<String>, chunk_start: usize, is_last: bool) {
    let closers = tokens[chunk_start..].iter().rev().take_while(|t| closes(t)).count();
    let Some(pos) = (tokens.len() - closers).checked_sub(1).filter(|&p| p >= chunk_start) else {
        return;
    };
    let token = &tokens[pos];
    let Some(stem) = token.strip_suffix('.') else {
        return;
    };
    if stem.is_empty() || stem.ends_with('.') || (!is_last && is_abbreviation(stem)) {
        return;
    }
    let stem = stem.to_owned();
    tokens[pos] = ".".to_owned();
    // The stem may itself end in a contraction ("can't.") — split it now.
    let mut rest = Vec::new();
    split_word(&stem, &mut rest);
    tokens.splice(pos..pos, rest);
}

fn is_abbreviation(stem: &str) -> bool {
    let mut chars = stem.chars();
    let single_letter = chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none();
    single_letter
        || stem.contains('.')
        || ABBREVIATIONS.iter().any(|a| a.eq_ignore_ascii_case(stem.trim_start_matches('\'')))
}

fn flush_word(word: &mut String, tokens: &mut Vec<String>) {
    if !word.is_empty() {
        split_word(word, tokens);
        word.clear();
    }
}

/// Splits quotes and contractions off one word.
fn split_word(word: &str, tokens: &mut Vec<String>) {
    let word = match opening_apostrophe(word) {
        Some(rest) => {
            tokens.push("'".to_owned());
            rest
        }
        None => word,
    };
    // A word ending in a period is split later, if it ends a sentence.
    if word.ends_with('.') {
        tokens.push(word.to_owned());
        return;
    }
    let (stem, suffix_1) = split_suffix(word, &["'s", "'S", "'m", "'M", "'d", "'D", "'"]);
    let (stem, suffix_2) = split_suffix(stem, &["'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"]);
    match split_whole_word_contraction(stem) {
        Some((a, b)) => tokens.extend([a.to_owned(), b.to_owned()]),
        None => tokens.push(stem.to_owned()),
    }
    tokens.extend([suffix_2, suffix_1].into_iter().flatten().map(str::to_owned));
}

/// `'hello` → `'` + `hello`, but not `'s`, `'re`, `'ll`, … (contractions).
fn opening_apostrophe(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('\'')?;
    if !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let lower = rest.to_lowercase();
    let contraction = ["re", "ve", "ll", "m", "t", "s", "d", "n"].iter().any(|suffix| {
        lower.strip_prefix(suffix).is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    });
    (!contraction).then_some(rest)
}

/// Splits the first matching `suffix` off `word` when something other than
/// an apostrophe precedes it.
fn split_suffix<'a>(word: &'a str, suffixes: &[&'static str]) -> (&'a str, Option<&'static str>) {
    for &suffix in suffixes {
        if let Some(stem) = word.strip_suffix(suffix)
            && !stem.is_empty()
            && !stem.ends_with('\'')
        {
            return (stem, Some(suffix));
        }
    }
    (word, None)
}

/// MacIntyre's contractions: `cannot` → `can not`, `gonna` → `gon na`, ….
fn split_whole_word_contraction(word: &str) -> Option<(&str, &str)> {
    const PAIRS: [(&str, &str); 8] = [
        ("can", "not"),
        ("d", "'ye"),
        ("gim", "me"),
        ("gon", "na"),
        ("got", "ta"),
        ("lem", "me"),
        ("more", "'n"),
        ("wan", "na"),
    ];
    PAIRS.iter().find_map(|(a, b)| {
        let matches = word.len() == a.len() + b.len()
            && word.is_char_boundary(a.len())
            && word[..a.len()].eq_ignore_ascii_case(a)
            && word[a.len()..].eq_ignore_ascii_case(b);
        matches.then(|| word.split_at(a.len()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str) -> Vec<String> {
        word_tokenize(text)
    }

    #[test]
    fn sentence_ends_but_not_abbreviations() {
        assert_eq!(tok("Mr. Smith left. He ran."), ["Mr.", "Smith", "left", ".", "He", "ran", "."]);
        assert_eq!(tok("The U.S. is big"), ["The", "U.S.", "is", "big"]);
        assert_eq!(tok("I live in the U.S."), ["I", "live", "in", "the", "U.S", "."]);
        assert_eq!(tok("J. R. R. Tolkien"), ["J.", "R.", "R.", "Tolkien"]);
    }

    #[test]
    fn contractions_before_a_final_period() {
        assert_eq!(tok("I can't."), ["I", "ca", "n't", "."]);
        assert_eq!(tok("(It's done.)"), ["(", "It", "'s", "done", ".", ")"]);
    }

    #[test]
    fn odd_input_never_panics() {
        for text in ["", "'", "''", "\"", ".", "..", "n't", "'s", "-", "--", "…", "가.", "'t", "é'"] {
            let _ = tok(text);
        }
    }
}
