#!/usr/bin/env bash
# Issue 13's reference comparisons in one run, on the same tokenized corpora:
#   1. TF-IDF fit_transform (unigrams; uni+bigrams with min_df=2): scikit-learn, then malmoi,
#      each best of 5, with the speed-up per case;
#   2. skip-gram word2vec: malmoi, then gensim, per seed (word2vec_vs_gensim.sh --sg).
#
#   benches/reference/side_by_side.sh /tmp/train_morphs.txt /tmp/unlabeled_morphs.txt [SEED ...]
#
# Corpora: `cargo run --release --example tokenize_corpus -- --tsv-column 1 \
#   ../shared/data/nsmc/ratings_train.txt /tmp/train_morphs.txt` and the same for
#   reviews_unlabeled.txt (no --tsv-column). Needs `pip install scikit-learn gensim`.
set -euo pipefail
train=${1:?usage: $0 TRAIN_MORPHS UNLABELED_MORPHS [SEED ...]}
unlabeled=${2:?usage: $0 TRAIN_MORPHS UNLABELED_MORPHS [SEED ...]}
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
(cd "$root" && cargo build --release --example tfidf --example word2vec --quiet)
out=$(mktemp -d)
echo "== TF-IDF, $(basename "$train") (load $(cut -d' ' -f1-3 /proc/loadavg))"
python3 "$root/benches/reference/sklearn_tfidf.py" "$train" | tee "$out/sklearn.log"
"$root/target/release/examples/tfidf" --tokens "$train" | tee "$out/malmoi.log"
wall() { sed -n "s/^$1 $2: \([0-9.]*\) s wall.*/\1/p" "$3"; }
for case in "unigrams" "uni+bigrams, min_df=2"; do
    s=$(wall scikit-learn "$case" "$out/sklearn.log")
    m=$(wall malmoi "$case" "$out/malmoi.log")
    awk -v c="$case" -v s="$s" -v m="$m" 'BEGIN { printf "TF-IDF %s: scikit-learn %.3f s, malmoi %.3f s: %.1fx\n", c, s, m, s / m }'
done
echo
echo "== skip-gram, $(basename "$unlabeled")"
MALMOI_W2V=$root/target/release/examples/word2vec "$root/benches/reference/word2vec_vs_gensim.sh" "$unlabeled" --sg "$@"
rm -rf "$out"
