"""How much the context engine changes MeCab-ko's analysis of ordinary text.

Usage:
    cargo build --release --example morphs
    M=target/release/examples/morphs
    $M --engine context --no-context-model --dump-pos ../shared/data/nsmc/ratings_test.txt > /tmp/mecab_lemmas.tsv
    $M --engine context --dump-pos ../shared/data/nsmc/ratings_test.txt > /tmp/context.tsv
    python benches/reference/ambiguity/agreement.py /tmp/mecab_lemmas.tsv /tmp/context.tsv [--show 20] \
        [--judge ../shared/data/nsmc/ratings_test.txt]

Both dumps are `id<TAB>form/TAG form/TAG ...` from `morphs --dump-pos`. The first is the
context engine without a model, i.e. MeCab-ko's best analysis in dictionary form (the
reference); the second the engine with its model. Prints the share of documents analysed
identically, the share of the reference's morphemes kept (difflib's matching blocks), and the
most frequent replacements.

`--judge TEXTS` (the `id<TAB>text...` file both dumps came from, header skipped) asks Kiwi
(kiwipiepy, its default model) about every replacement: Kiwi's morphemes for the whole text,
forms NFC and tags folded as `score.py` folds them, decide the replacement "right" when every
morpheme it brings is among Kiwi's and one it removes is not, "wrong" for the reverse, and
"unclear" otherwise. Kiwi scores 91.5 % on the project's ambiguity set, so this is a noisy judge
of many changes (thousands), beside the set's exact judge of few.
"""

import argparse
import collections
import difflib
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from mecab_agreement import read_dump  # noqa: E402  (the dump reader of the MeCab-ko comparison)
from score import norm_form, norm_tag  # noqa: E402  (one folding of forms and tags for every system)


def read_texts(path):
    """`id<TAB>text...` per line after the header."""
    with open(path, encoding="utf-8") as f:
        f.readline()
        return dict(line.rstrip("\n").split("\t")[:2] for line in f if "\t" in line)


def folded(morpheme):
    """`form/TAG` as (form, tag), folded as score.py folds every system's."""
    form, _, tag = morpheme.rpartition("/")
    return norm_form(form), norm_tag(tag)


def verdict(before, after, kiwi):
    """Whether Kiwi's morphemes side with the replacement of `before` by `after`."""
    brings = all(folded(m) in kiwi for m in after) and any(folded(m) not in kiwi for m in before)
    keeps = all(folded(m) in kiwi for m in before) and any(folded(m) not in kiwi for m in after)
    return "right" if brings else "wrong" if keeps else "unclear"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("reference", help="dump of MeCab-ko's best analysis in dictionary form")
    ap.add_argument("candidate", help="dump of the context engine")
    ap.add_argument("--show", type=int, default=15, help="most frequent replacements to print")
    ap.add_argument("--judge", metavar="TEXTS", help="the texts both dumps came from: Kiwi judges each replacement")
    args = ap.parse_args()
    reference, candidate = read_dump(args.reference), read_dump(args.candidate)
    missing = sorted(set(reference) ^ set(candidate))
    if missing:
        raise SystemExit(f"the dumps differ in {len(missing)} ids, e.g. {missing[:5]}")
    same_docs = kept = total = 0
    changes = collections.Counter()
    verdicts = collections.Counter()
    if args.judge:
        from kiwipiepy import Kiwi

        kiwi, texts = Kiwi(num_workers=1), read_texts(args.judge)
    for key, ours in reference.items():
        theirs = candidate[key]
        total += len(ours)
        if ours == theirs:
            same_docs += 1
            kept += len(ours)
            continue
        matcher = difflib.SequenceMatcher(a=ours, b=theirs, autojunk=False)
        kept += sum(block.size for block in matcher.get_matching_blocks())
        judged = None
        if args.judge:
            judged = {(norm_form(t.form), norm_tag(t.tag)) for t in kiwi.tokenize(texts[key])}
        for op, a0, a1, b0, b1 in matcher.get_opcodes():
            if op != "equal":
                changes[(" ".join(ours[a0:a1]), " ".join(theirs[b0:b1]))] += 1
                if judged is not None:
                    verdicts[verdict(ours[a0:a1], theirs[b0:b1], judged)] += 1
    n = len(reference)
    print(f"documents analysed identically: {same_docs:,} / {n:,} = {100 * same_docs / max(n, 1):.2f}%")
    print(f"reference morphemes kept: {kept:,} / {total:,} = {100 * kept / max(total, 1):.2f}%")
    print(f"most frequent replacements ({sum(changes.values()):,} in all):")
    for (before, after), count in changes.most_common(args.show):
        print(f"  {count:6,}  {before}  ->  {after}")
    if verdicts:
        n = sum(verdicts.values())
        shares = ", ".join(f"{v} {verdicts[v]:,} ({100 * verdicts[v] / n:.1f}%)" for v in ("right", "wrong", "unclear"))
        print(f"replacements judged by Kiwi: {shares}")


if __name__ == "__main__":
    main()
