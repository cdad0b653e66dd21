//! `FreqDist` against NLTK's `FreqDist` and invariants on arbitrary tokens.

use malmoi_tokenize::freq::FreqDist;
use proptest::prelude::*;

const TEXT: &str = "the quick brown fox jumps over the lazy dog and the dog sleeps \
                    while the fox runs and runs over hills";

#[test]
fn agrees_with_nltk_freqdist() {
    // NLTK 3.10: FreqDist(TEXT.split()) → N, B, most_common(6), hapaxes(), freq('fox'), max().
    let fd: FreqDist = TEXT.split_whitespace().collect();
    assert_eq!((fd.total(), fd.unique()), (21, 13));
    assert_eq!(fd.most_common(6), [("the", 4), ("fox", 2), ("over", 2), ("dog", 2), ("and", 2), ("runs", 2)]);
    assert_eq!(fd.hapaxes(), ["quick", "brown", "jumps", "lazy", "sleeps", "while", "hills"]);
    assert!((fd.freq("fox") - 0.09523809523809523).abs() < 1e-15);
    assert_eq!(fd.max(), Some("the"));
    assert_eq!(fd.count("cat"), 0);
}

#[test]
fn lecture_korean_counts() {
    // Token counts as in the lecture's ko.vocab(): spaces and punctuation count too.
    let tokens = ["육아휴직", "의", " ", "육아휴직", "(", "의", ")", "의"];
    let fd: FreqDist = tokens.into_iter().collect();
    assert_eq!(fd.most_common(2), [("의", 3), ("육아휴직", 2)]);
    assert_eq!(fd.count(" "), 1);
}

proptest! {
    #[test]
    fn invariants_hold_for_any_tokens(tokens in prop::collection::vec("[a-d]{0,2}|\\PC{0,3}", 0..60), n in 0usize..20) {
        let fd: FreqDist = tokens.iter().collect();
        prop_assert_eq!(fd.total(), tokens.len());
        prop_assert_eq!(fd.iter().map(|(_, c)| c).sum::<usize>(), tokens.len());

        // most_common(n) is the prefix of a stable sort of first-occurrence order.
        let mut all: Vec<(&str, usize)> = fd.iter().collect();
        all.sort_by_key(|&(_, c)| std::cmp::Reverse(c));
        all.truncate(n);
        prop_assert_eq!(fd.most_common(n), all);

        // Merging two halves equals counting everything at once.
        let (a, b) = tokens.split_at(tokens.len() / 2);
        let mut merged: FreqDist = a.iter().collect();
        merged.merge(&b.iter().collect());
        prop_assert_eq!(merged, fd.clone());

        let rare = fd.rare_words(2);
        prop_assert_eq!(rare.rare, fd.hapaxes().len());
    }
}
