"""python-mecab-ko throughput on NSMC, the reference for malmoi's analyser.

Usage:
    python benches/reference/mecab_throughput.py ../shared/data/nsmc/ratings_train.txt [--dicdir DIR]

Analyses every document (`morphs`) in one process and prints documents/s and
morphemes/s. Reading the file is not timed. The TSV is split on tabs (no
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
    morphemes = 0
    for doc in docs:
        morphemes += len(tagger.morphs(doc))
    seconds = time.perf_counter() - started
    print(
        f"python-mecab-ko morphs: {len(docs)} docs in {seconds:.2f} s = "
        f"{len(docs) / seconds:.0f} docs/s, {morphemes / seconds:.0f} morphemes/s"
    )


if __name__ == "__main__":
    main()
