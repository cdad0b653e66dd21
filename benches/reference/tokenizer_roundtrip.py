"""Tokenizers saved by malmoi's `tokenizer::Tokenizer` load in Python `tokenizers` with the same ids.

Not needed by the Rust tests (they reload what they save); run once to check the other direction:

    MALMOI_SAVE_TOKENIZERS_TO=/tmp/malmoi_saved cargo test -p malmoi-tokenize --test hf_tokenizers saved
    python3 benches/reference/tokenizer_roundtrip.py /tmp/malmoi_saved

For each `<name>.json` saved there, the fixture `crates/tokenize/tests/fixtures/hf_tokenizers/<name>/tokenizer.json`
is the original: both are loaded with Python `tokenizers`, and the ids, tokens and decoded text of the
fixture's cases and of the first 10,000 NSMC test reviews (`../shared/data/nsmc` or MALMOI_NSMC_DIR)
must be equal.
"""

import json
import os
import sys
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "crates/tokenize/tests/fixtures/hf_tokenizers"
NSMC = Path(os.environ.get("MALMOI_NSMC_DIR", ROOT.parent / "shared/data/nsmc"))


def reviews(limit=10_000):
    path = NSMC / "ratings_test.txt"
    if not path.is_file():
        print(f"no {path}: checking the fixture cases only")
        return []
    with open(path, encoding="utf-8") as f:
        next(f)
        return [line.rstrip("\n").split("\t")[1] for _, line in zip(range(limit), f)]


def main():
    saved_dir = Path(sys.argv[1])
    texts_common = reviews()
    failures = 0
    for saved in sorted(saved_dir.glob("*.json")):
        original = Tokenizer.from_file(str(FIXTURES / saved.stem / "tokenizer.json"))
        ours = Tokenizer.from_file(str(saved))
        cases = json.loads((FIXTURES / saved.stem / "cases.json").read_text(encoding="utf-8"))
        texts = [c["text"] for c in cases] + texts_common
        same = 0
        for text in texts:
            a, b = original.encode(text), ours.encode(text)
            if (a.ids, a.tokens, original.decode(a.ids)) == (b.ids, b.tokens, ours.decode(b.ids)):
                same += 1
            elif failures < 10:
                print(f"  {saved.stem}: {text!r}: {a.ids} vs {b.ids}")
        failures += len(texts) - same
        print(f"{saved.stem}: {same} / {len(texts)} texts give equal ids, tokens and decoded text "
              f"(vocab {ours.get_vocab_size()} vs {original.get_vocab_size()})")
    print(f"tokenizers {tokenizers.__version__}: {'all equal' if failures == 0 else f'{failures} differences'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
