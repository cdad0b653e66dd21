"""Writes crates/seq/tests/fixtures/seq2seq/bleu.json: corpora of hypothesis/reference pairs
with sacrebleu's corpus BLEU (default settings, tokenize='13a' and 'char'), for the
seq2seq BLEU test.

    pip install sacrebleu==2.6.0
    python benches/reference/seq2seq_bleu_fixture.py
"""

import json
import pathlib
import random

import sacrebleu

ROMAN = ["silla", "baengma", "jongno", "wangsimni", "gachi", "haedoji", "joko", "nota", "yeonghwa",
         "jeongmal", "jaemiitda", "choego", "gamdong", "baeu", "yeongisa", "sarang", "neomu", "johayo"]
SENTENCES = [
    "The cat sat on the mat.",
    "It's 3.14, not 3,000 -- or is it 3-4?",
    "Hello, world! \"Quoted\" (parenthesised) & <tagged>",
    "a b c d e f g",
    "the quick brown fox jumps over the lazy dog",
    "Prices rose 5.5% in 2024; analysts (e.g. J. Smith) disagree.",
    "&quot;entities&quot; &amp; more",
]


def corrupt(text, rng):
    chars = list(text)
    for _ in range(rng.randint(0, 3)):
        op = rng.choice(["drop", "swap", "insert", "replace"])
        if not chars:
            break
        i = rng.randrange(len(chars))
        if op == "drop":
            del chars[i]
        elif op == "swap" and i + 1 < len(chars):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == "insert":
            chars.insert(i, rng.choice("aeiou ,."))
        else:
            chars[i] = rng.choice("bcdfgkmnprst")
    return "".join(chars)


def case(name, hyps, refs):
    out = {"name": name, "hypotheses": hyps, "references": refs}
    for tokenize in ["13a", "char"]:
        bleu = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize)
        out[tokenize] = {"score": bleu.score, "precisions": bleu.precisions, "bp": bleu.bp,
                         "sys_len": bleu.sys_len, "ref_len": bleu.ref_len}
    return out


def main():
    rng = random.Random(0)
    cases = [
        case("identical", ROMAN, ROMAN),
        case("romanizations with typos", [corrupt(w, rng) for w in ROMAN], ROMAN),
        case("sentences with typos", [corrupt(s, rng) for s in SENTENCES], SENTENCES),
        case("short hypotheses", [s[: len(s) // 2] for s in SENTENCES], SENTENCES),
        case("long hypotheses", [s + " " + s for s in SENTENCES[:3]], SENTENCES[:3]),
        case("no match", ["xyz", "qqq"], ["abc", "def"]),
        case("only unigrams match", ["c a t", "d o g"], ["a c t", "g o d"]),
        case("trailing whitespace", ["silla  ", "jongno\t"], ["silla", "jongno"]),
    ]
    path = pathlib.Path(__file__).resolve().parents[2] / "crates/seq/tests/fixtures/seq2seq/bleu.json"
    path.write_text(json.dumps({"sacrebleu": sacrebleu.__version__, "cases": cases}, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
