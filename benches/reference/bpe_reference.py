"""Reference runs of Hugging Face `tokenizers` for malmoi's byte-level BPE.

  python3 benches/reference/bpe_reference.py train CORPUS --lines N --vocab-size V --out PATH
      trains like `cargo run --release --example bpe` (same specials, min_frequency 2) and
      prints the training time
  python3 benches/reference/bpe_reference.py compare A.json B.json
      checks that two tokenizer.json files have the same vocab and merges
  python3 benches/reference/bpe_reference.py encode TOKENIZER CORPUS --lines N --out IDS.txt
      loads TOKENIZER (e.g. one saved by malmoi) and writes the ids of each line
  RAYON_NUM_THREADS=T python3 benches/reference/bpe_reference.py throughput TOKENIZER CORPUS --lines N
      encode_batch tokens/s (best of 5), the figure benches/bpe.rs compares against

Lines are split like Rust's str::lines (on \\n, a trailing \\r removed).
"""

import argparse
import json
import time

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers


def read_lines(path, limit):
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines[:limit] if limit else lines


def train(args):
    lines = read_lines(args.corpus, args.lines)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        special_tokens=["<pad>", "<unk>", "</s>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    start = time.perf_counter()
    tokenizer.train_from_iterator(lines, trainer)
    seconds = time.perf_counter() - start
    tokenizer.save(args.out)
    print(f"trained {tokenizer.get_vocab_size()} tokens on {len(lines)} lines in {seconds:.2f} s")


def compare(args):
    a, b = (json.load(open(path, encoding="utf-8")) for path in (args.a, args.b))
    same_vocab = a["model"]["vocab"] == b["model"]["vocab"]
    merges_a, merges_b = a["model"]["merges"], b["model"]["merges"]
    first_diff = next((i for i, (x, y) in enumerate(zip(merges_a, merges_b)) if x != y), None)
    print(f"vocab identical: {same_vocab}; merges {len(merges_a)} vs {len(merges_b)}, first difference at {first_diff}")
    if first_diff is not None:
        print("  ", merges_a[first_diff], merges_b[first_diff])


def encode(args):
    tokenizer = Tokenizer.from_file(args.tokenizer)
    lines = read_lines(args.corpus, args.lines)
    with open(args.out, "w", encoding="utf-8") as out:
        for encoding in tokenizer.encode_batch(lines):
            out.write(" ".join(map(str, encoding.ids)) + "\n")
    print(f"wrote ids of {len(lines)} lines to {args.out}")


def throughput(args):
    tokenizer = Tokenizer.from_file(args.tokenizer)
    lines = read_lines(args.corpus, args.lines)
    tokenizer.encode_batch(lines[:1000])  # warm up
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        encodings = tokenizer.encode_batch(lines)
        best = min(best, time.perf_counter() - start)
    tokens = sum(len(e.ids) for e in encodings)
    print(f"{tokens} tokens in {best:.3f} s = {tokens / best:,.0f} tokens/s ({len(lines)} lines)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train")
    p.add_argument("corpus")
    p.add_argument("--lines", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--out", default="tokenizer_py.json")
    p.set_defaults(run=train)
    p = sub.add_parser("compare")
    p.add_argument("a")
    p.add_argument("b")
    p.set_defaults(run=compare)
    for name, run in (("encode", encode), ("throughput", throughput)):
        p = sub.add_parser(name)
        p.add_argument("tokenizer")
        p.add_argument("corpus")
        p.add_argument("--lines", type=int, default=0)
        if name == "encode":
            p.add_argument("--out", default="ids.txt")
        p.set_defaults(run=run)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
