"""scikit-learn reference timing for benches/vectorize.rs.

    python3 benches/reference/sklearn_tfidf.py /tmp/nsmc_train_tokens.txt

Reads one pre-tokenized document per line (space-separated), as the Rust bench does with
MALMOI_TOKENS, and times TfidfVectorizer.fit_transform (best of 5, wall clock and CPU seconds) for unigrams and for
unigrams + bigrams with min_df=2, on tokens split by str.split (no re-tokenizing).
"""
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer


def best_of(n, f):
    best, best_cpu = float("inf"), float("inf")
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time()
        out = f()
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best, best_cpu, out


def main(path):
    with open(path, encoding="utf-8") as f:
        docs = [line.rstrip("\n").split() for line in f]
    identity = lambda d: d  # noqa: E731
    cases = {
        "unigrams": {},
        "uni+bigrams, min_df=2": {"ngram_range": (1, 2), "min_df": 2},
    }
    for name, params in cases.items():
        make = lambda: TfidfVectorizer(tokenizer=identity, preprocessor=identity,  # noqa: E731
                                       token_pattern=None, lowercase=False, **params)
        seconds, cpu, x = best_of(5, lambda: make().fit_transform(docs))
        print(f"scikit-learn {name}: {seconds:.3f} s wall, {cpu:.2f} CPU-s "
              f"({x.shape[0]} docs, {x.shape[1]} terms, {x.nnz} non-zeros)")


if __name__ == "__main__":
    main(sys.argv[1])
