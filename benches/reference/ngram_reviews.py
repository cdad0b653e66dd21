"""The reference side of docs/performance.md's n-gram figures on the NSMC reviews.

1. Python `kenlm` loads the ARPA file our `lm` example wrote (3-gram modified Kneser-Ney over
   the morphemes of the 617,385 training reviews) and scores the 5,000 held-out reviews:
   total log10 probability and perplexity (</s> included), to set beside ours.
2. NLTK's `KneserNeyInterpolated` (the estimator pip offers; KenLM's `lmplz` is not on PyPI)
   fits a 3-gram model on the first `--lines` training reviews' morphemes: the time, scaled
   to all lines, is the reference build time; its scoring speed is measured on held-out
   sentences.

First write the morphemes and the model (repository root):
    cargo run --release --example lm -- --dump-morphs /tmp/lm_morphs
    cargo run --release --example lm -- --perplexity
    python benches/reference/ngram_reviews.py --morphs /tmp/lm_morphs \
        --arpa target/lm-models/reviews_morphs_3gram_heldout5000.arpa
"""

import argparse
import math
import time

import kenlm
from nltk.lm import KneserNeyInterpolated
from nltk.lm.preprocessing import padded_everygram_pipeline


def read(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def kenlm_perplexity(arpa, held_out):
    start = time.perf_counter()
    model = kenlm.Model(arpa)
    loaded = time.perf_counter() - start
    total = sum(model.score(line, bos=True, eos=True) for line in held_out)
    tokens = sum(len(line.split()) + 1 for line in held_out)
    print(f"kenlm: loaded in {loaded:.1f} s; held-out log10 p = {total:.4f} over {tokens} tokens, "
          f"perplexity {10 ** (-total / tokens):.4f}")


def nltk_speed(train, held_out, lines):
    sentences = [line.split() for line in train[:lines]]
    start = time.perf_counter()
    grams, vocab = padded_everygram_pipeline(3, sentences)
    model = KneserNeyInterpolated(3)
    model.fit(grams, vocab)
    fit = time.perf_counter() - start
    print(f"nltk: KneserNeyInterpolated(3).fit on {lines} lines in {fit:.1f} s "
          f"-> {fit * len(train) / lines:.0f} s scaled to {len(train)} lines")
    start, scored = time.perf_counter(), 0
    for line in held_out[:20]:
        words = ["<s>", "<s>"] + line.split() + ["</s>"]
        for i in range(2, len(words)):
            model.logscore(words[i], words[i - 2:i])
            scored += 1
    elapsed = time.perf_counter() - start
    print(f"nltk: scoring {scored} tokens in {elapsed:.1f} s ({scored / elapsed:.0f} tokens/s)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--morphs", default="/tmp/lm_morphs")
    parser.add_argument("--arpa", default="target/lm-models/reviews_morphs_3gram_heldout5000.arpa")
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()
    train, held_out = read(f"{args.morphs}/train.txt"), read(f"{args.morphs}/heldout.txt")
    kenlm_perplexity(args.arpa, held_out)
    nltk_speed(train, held_out, args.lines)


if __name__ == "__main__":
    main()
