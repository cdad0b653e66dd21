#!/usr/bin/env bash
# word2vec side by side with gensim in one run: for each seed, train malmoi then gensim on the
# same tokenized corpus with the same hyper-parameters (vector 100, window 5, min_count 5,
# negative 5, sample 1e-3, 5 epochs, 2 workers), score both sets of vectors with the same Rust
# code (Spearman on the word pairs, 3CosAdd on the analogies) and print one table.
#
#   benches/reference/word2vec_vs_gensim.sh /tmp/unlabeled_morphs.txt [--sg] [SEED ...]
#
# The corpus comes from `cargo run --release --example tokenize_corpus -- \
#   ../shared/data/nsmc/reviews_unlabeled.txt /tmp/unlabeled_morphs.txt`. Needs `pip install gensim`.
# Both trainers run niced, one after the other. MALMOI_W2V overrides the example binary.
set -euo pipefail
corpus=${1:?usage: $0 CORPUS [--sg] [SEED ...]}
shift
sg=()
if [[ ${1:-} == --sg ]]; then sg=(--sg); shift; fi
seeds=("${@:-1}")
root=$(cd "$(dirname "$0")/../.." && pwd)
fixtures=$root/crates/embed/tests/fixtures
score=(--pairs "$fixtures/nsmc_word_pairs.tsv" --analogies "$fixtures/nsmc_analogies.txt")
if [[ -z ${MALMOI_W2V:-} ]]; then
    (cd "$root" && cargo build --release --example word2vec --quiet)
    MALMOI_W2V=$root/target/release/examples/word2vec
fi
out=$(mktemp -d)
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" "$2" | head -1; }
rows=()
for seed in "${seeds[@]}"; do
    echo "== seed $seed: malmoi (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    /usr/bin/time -f "%U %S" -o "$out/ours.cpu" nice "$MALMOI_W2V" --corpus "$corpus" "${sg[@]}" --workers 2 \
        --seed "$seed" --quiet --out "$out/ours.bin" "${score[@]}" > "$out/ours.log"
    cat "$out/ours.log" >&2
    echo "== seed $seed: gensim (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    /usr/bin/time -f "%U %S" -o "$out/gensim.cpu" nice python3 "$root/benches/reference/gensim_w2v.py" \
        --corpus "$corpus" "${sg[@]}" --workers 2 --seed "$seed" --out "$out/gensim.bin" 2> /dev/null > "$out/gensim.log"
    "$MALMOI_W2V" --vectors "$out/gensim.bin" "${score[@]}" >> "$out/gensim.log"
    grep -v "^vocabulary" "$out/gensim.log" >&2
    ours_s=$(sed -n 's/.* in \([0-9.]*\) s = .*/\1/p' "$out/ours.log")
    gensim_s=$(sed -n 's/.* in \([0-9.]*\) s = .*/\1/p' "$out/gensim.log")
    cpu() { awk '{printf "%.1f", $1 + $2}' "$1"; }
    rows+=("| $seed | $(field Spearman "$out/gensim.log") | $(field analogies: "$out/gensim.log")% | ${gensim_s} s, $(cpu "$out/gensim.cpu") CPU-s \
| $(field Spearman "$out/ours.log") | $(field analogies: "$out/ours.log")% | ${ours_s} s, $(cpu "$out/ours.cpu") CPU-s |")
done
model=CBOW
[[ ${#sg[@]} -gt 0 ]] && model=skip-gram
echo
echo "$model, $(basename "$corpus")"
echo "| seed | gensim Spearman | gensim analogies | gensim training | malmoi Spearman | malmoi analogies | malmoi training |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
rm -rf "$out"
