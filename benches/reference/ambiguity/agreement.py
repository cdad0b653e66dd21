"""How much the context engine changes MeCab-ko's analysis of ordinary text.

Usage:
    cargo build --release --example morphs
    M=target/release/examples/morphs
    $M --engine context --no-context-model --dump-pos ../shared/data/nsmc/ratings_test.txt > /tmp/mecab_lemmas.tsv
    $M --engine context --dump-pos ../shared/data/nsmc/ratings_test.txt > /tmp/context.tsv
    python benches/reference/ambiguity/agreement.py /tmp/mecab_lemmas.tsv /tmp/context.tsv [--show 20]

Both dumps are `id<TAB>form/TAG form/TAG ...` from `morphs --dump-pos`. The first is the
context engine without a model, i.e. MeCab-ko's best analysis in dictionary form (the
reference); the second the engine with its model. Prints the share of documents analysed
identically, the share of the reference's morphemes kept (difflib's matching blocks), and the
most frequent replacements.
"""

import argparse
import collections
import difflib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from mecab_agreement import read_dump  # noqa: E402  (the dump reader of the MeCab-ko comparison)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference", help="dump of MeCab-ko's best analysis in dictionary form")
    ap.add_argument("candidate", help="dump of the context engine")
    ap.add_argument("--show", type=int, default=15, help="most frequent replacements to print")
    args = ap.parse_args()
    reference, candidate = read_dump(args.reference), read_dump(args.candidate)
    missing = sorted(set(reference) ^ set(candidate))
    if missing:
        raise SystemExit(f"the dumps differ in {len(missing)} ids, e.g. {missing[:5]}")
    same_docs = kept = total = 0
    changes = collections.Counter()
    for key, ours in reference.items():
        theirs = candidate[key]
        total += len(ours)
        if ours == theirs:
            same_docs += 1
            kept += len(ours)
            continue
        matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
        kept += sum(block.size for block in matcher.get_matching_blocks())
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op != "equal":
                changes[(" ".join(ours[a0:a1]), " ".join(theirs[b0:b1]))] += 1
    n = len(reference)
    print(f"documents analysed identically: {same_docs:,} / {n:,} = {100 * same_docs / max(n, 1):.2f}%")
    print(f"reference morphemes kept: {kept:,} / {total:,} = {100 * kept / max(total, 1):.2f}%")
    print(f"most frequent replacements ({sum(changes.values()):,} in all):")
    for (before, after), count in changes.most_common(args.show):
        print(f"  {count:6,}  {before}  ->  {after}")


if __name__ == "__main__":
    main()
