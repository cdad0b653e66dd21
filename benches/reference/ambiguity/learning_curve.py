"""How the context engine's accuracy on the ambiguity set grows with its training text.

Usage:
    cargo build --release --example morphs
    python benches/reference/ambiguity/learning_curve.py --malmoi-bin target/release/examples/morphs \
        [--corpus ../shared/data/nsmc/reviews_unlabeled.txt] [--parts 8 4 2 1]

For each part p, trains a context model on the first 1/p of the corpus's lines
(`morphs --train-context MODEL --corpus PREFIX`), analyses the set with it
(`morphs --engine context --context-model MODEL --dump-pos`) and scores the dump
with `score.py` (the set's one metric). Prints one Markdown row per size: lines,
the training report's unambiguous examples and held-out accuracy, and the set's
accuracy per kind. Models and dumps go to a temporary folder.
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from score import SET_PATH, read_set

HERE = Path(__file__).resolve().parent
KINDS = ["irregular", "verb_adjective", "noun_particle", "long_distance", "overall"]
DEFAULT_CORPUS = HERE.parents[2].parent / "shared/data/nsmc/reviews_unlabeled.txt"


def train(binary, corpus, model):
    """Trains a model; returns (examples, held-out accuracy) from its report."""
    done = subprocess.run(
        [binary, "--train-context", str(model), "--corpus", str(corpus)], capture_output=True, text=True, check=True
    )
    report = done.stdout + done.stderr
    examples = re.search(r"(\d+) examples", report)
    held_out = re.search(r"context ([\d.]+)%", report)
    if not (examples and held_out):
        sys.exit(f"no training report in:\n{report}")
    return int(examples.group(1)), float(held_out.group(1))


def score(binary, model, sentences, folder):
    """The set's accuracy per kind with `model`, analysing `sentences` (`id<TAB>sentence`)."""
    dump = folder / "dump.tsv"
    with open(dump, "w", encoding="utf-8") as out:
        subprocess.run(
            [binary, "--engine", "context", "--context-model", str(model), "--dump-pos", str(sentences)],
            stdout=out,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    results = folder / "results.json"
    subprocess.run(
        [sys.executable, str(HERE / "score.py"), "--malmoi", str(dump), "--no-reference", "--json", str(results)],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    by_kind = json.loads(results.read_text(encoding="utf-8"))["by_kind"]
    return {kind: 100 * by_kind[kind]["malmoi (file)"]["accuracy"] for kind in KINDS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--malmoi-bin", required=True, help="target/release/examples/morphs")
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="one text per line")
    ap.add_argument("--parts", type=int, nargs="+", default=[8, 4, 2, 1], help="train on the first 1/p of the lines")
    args = ap.parse_args()
    lines = Path(args.corpus).read_text(encoding="utf-8").splitlines(keepends=True)
    print("| lines | examples | held-out | " + " | ".join(KINDS) + " |")
    print("|---:|---:|---:|" + "---:|" * len(KINDS))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sentences = folder / "set_input.tsv"
        sentences.write_text("".join(f"{r['id']}\t{r['sentence']}\n" for r in read_set(SET_PATH)), encoding="utf-8")
        for part in args.parts:
            prefix = folder / "corpus.txt"
            prefix.write_text("".join(lines[: len(lines) // part]), encoding="utf-8")
            model = folder / "model.tsv"
            examples, held_out = train(args.malmoi_bin, prefix, model)
            accuracy = score(args.malmoi_bin, model, sentences, folder)
            cells = " | ".join(f"{accuracy[k]:.1f}%" for k in KINDS)
            print(f"| {len(lines) // part:,} | {examples:,} | {held_out:.1f}% | {cells} |", flush=True)


if __name__ == "__main__":
    main()
