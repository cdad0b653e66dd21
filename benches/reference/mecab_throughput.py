"""python-mecab-ko throughput on NSMC, the reference for malmoi's analyser.

Usage:
    python benches/reference/mecab_throughput.py ../shared/data/nsmc/ratings_train.txt [--dicdir DIR]

Analyses every document (`morphs`) in one process and prints documents/s and
morphemes/s, by wall clock and per CPU-second of the analysing thread (the
latter is what a shared, busy machine still measures fairly). Reading the
file is not timed. The TSV is split on tabs (no
quote handling), exactly as the Rust side reads it.
"""

import argparse
import time

import mecab


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("nsmc")
    parser.add_argument("--dicdir")
    args = parser.parse_args()

    with open(args.nsmc, encoding="utf-8") as f:
        next(f)
        docs = [(line.rstrip("\n").split("\t") + [""])[1] for line in f]
    tagger = mecab.MeCab(dictionary_path=args.dicdir) if args.dicdir else mecab.MeCab()
    tagger.morphs("워밍업")
    started = time.perf_counter()
    cpu_started = time.thread_time()
    morphemes = 0
    for doc in docs:
        morphemes += len(tagger.morphs(doc))
    seconds = time.perf_counter() - started
    cpu_seconds = time.thread_time() - cpu_started
    for label, s in [("wall clock", seconds), ("per CPU-second of this thread", cpu_seconds)]:
        print(
            f"python-mecab-ko morphs, {label}: {len(docs)} docs in {s:.2f} s = "
            f"{len(docs) / s:.0f} docs/s, {morphemes / s:.0f} morphemes/s"
        )


if __name__ == "__main__":
    main()
