"""Hugging Face `tokenizers` reference fixtures for malmoi-tokenize's tokenizer.json loader.

Trains six tokenizers on NSMC (ratings_train.txt, column `document`) with the Python `tokenizers`
library, each shaped like a real checkpoint family, and writes for each of them, under
crates/tokenize/tests/fixtures/hf_tokenizers/<name>/:

  tokenizer.json   the trained tokenizer (vocab ~3000, compact JSON, < 300 KB)
  cases.json       edge cases: a list of {"name", "text", "add_special_tokens", "ids", "tokens",
                   "offsets", "offsets_unit", "offsets_bytes", "decoded", "decoded_skip_special"}.
                   `offsets` is exactly what `Encoding.offsets` gives in Python: character
                   (Unicode scalar value) offsets into `text` (offsets_unit "char");
                   `offsets_bytes` is the same span converted to UTF-8 byte offsets of `text`.
                   decoded = decode(ids, skip_special_tokens=False), decoded_skip_special = decode(ids,
                   skip_special_tokens=True).
  reviews.json     FNV-1a digests over the first 10,000 documents of ratings_test.txt (see DEFINITION).

The tokenizers:
  kogpt2_metaspace_bpe      NFKC, Metaspace("▁", always), BPE with <unk>, Metaspace decoder,
                            specials <s>=0 </s>=1 <usr>=2 <pad>=3 <sys>=4 <unk>=5 <mask>=6 (KoGPT2's ids)
  llama2_byte_fallback_bpe  Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, BPE(byte_fallback,
                            fuse_unk) with <unk> <s> </s> then <0x00>..<0xFF> as vocab 3..258,
                            Replace/ByteFallback/Fuse/Strip decoder, "<s> $A" template
  qwen2_byte_level_bpe      NFC, Split(Qwen2 regex, isolated) + ByteLevel(no prefix, no regex),
                            byte-level BPE, ByteLevel decoder / post-processor (trim_offsets false),
                            <|endoftext|> <|im_start|> <|im_end|> appended after the vocab
  bert_wordpiece            BertNormalizer (no lowercase, no accent stripping), BertPreTokenizer,
                            WordPiece, [CLS] $A [SEP] template, WordPiece decoder
  xlmr_unigram              NFKC + Replace(/ {2,}/, " "), Metaspace, Unigram, <s> $A </s> template
                            (Viterbi re-estimated: UnigramTrainer is not deterministic, see xlmr_unigram)
  components                Strip/NFKD/StripAccents/Lowercase/Replace/NFC normalizers,
                            WhitespaceSplit/Punctuation/Digits/Split pre-tokenizers, WordLevel,
                            Replace/Strip/WordPiece/Fuse decoders, Sequence[ByteLevel, Template]
                            post-processor; plus components/components_split_behaviours.json: the
                            output of each pre-tokenizer and normalizer (with its JSON config) on a
                            few strings.

benches/reference/hf_model_fixtures.py imports the builders (with a vocabulary of 512).
Deterministic: the BPE/WordPiece/WordLevel trainers are deterministic for a fixed corpus; re-running
rewrites identical files.

Run (from anywhere):  python3 benches/reference/hf_tokenizer_fixtures.py
"""
import json
import math
import pathlib
import unicodedata

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/tokenize/tests/fixtures/hf_tokenizers"
NSMC = pathlib.Path("/work/shared/data/nsmc")
REVIEWS, CHUNK = 10_000, 500
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
KOGPT2_SPECIALS = ["<s>", "</s>", "<usr>", "<pad>", "<sys>", "<unk>", "<mask>"]
DEFINITION = (
    "For each review r (documents of ratings_test.txt in file order, header skipped, empty documents kept, "
    "first 10000), enc = tokenizer.encode(r, add_special_tokens=True) and line = ' '.join(map(str, enc.ids)) + "
    "'\\t' + '\\x1f'.join(enc.tokens) + '\\t' + tokenizer.decode(enc.ids, skip_special_tokens=False) + '\\n'. "
    "Chunk k is the concatenation of the lines of reviews [500k, 500k+500). digests[k] = FNV-1a 64-bit "
    "(offset basis 0xcbf29ce484222325, prime 0x100000001b3, xor each byte then multiply mod 2^64) over the "
    "UTF-8 bytes of chunk k, as 16 lowercase hex digits. total_ids = sum of len(enc.ids) over all reviews."
)


def documents(path, limit=None):
    """The `document` column of an NSMC TSV in file order (header skipped, empty documents kept)."""
    docs = []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            docs.append(line.rstrip("\n").split("\t")[1])
            if limit is not None and len(docs) == limit:
                break
    return docs


def special(content):
    return AddedToken(content, special=True, normalized=False)


def trained_merges(tok):
    """The trained BPE model's vocab (dict) and merges (list of [a, b]) as tokenizer.json stores them."""
    model = json.loads(tok.to_str())["model"]
    return model["vocab"], [m.split(" ", 1) if isinstance(m, str) else m for m in model["merges"]]


# ---------------------------------------------------------------- builders

def top_alphabet(tok, texts, limit):
    """The `limit` most frequent characters of the words tok's normalizer and pre-tokenizer make of texts.

    Ties are broken by code point. The trainers' own limit_alphabet breaks ties in hash-map order (so a
    run can keep a different alphabet); passing this list as initial_alphabet with limit_alphabet =
    len(list) keeps exactly these characters."""
    counts = {}
    for text in texts:
        normalized = tok.normalizer.normalize_str(text) if tok.normalizer else text
        for word, _ in tok.pre_tokenizer.pre_tokenize_str(normalized):
            for ch in word:
                counts[ch] = counts.get(ch, 0) + 1
    return sorted(sorted(counts, key=lambda c: (-counts[c], c))[:limit])


def metaspace_bpe(texts, normalizer, specials, vocab_size, limit_alphabet):
    """A BPE with <unk> over Metaspace("▁", always) words, trained after `normalizer`."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    alphabet = top_alphabet(tok, texts, limit_alphabet)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[special(t) for t in specials],
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    return tok


def kogpt2_metaspace_bpe(texts, vocab_size=3000, limit_alphabet=1000):
    """KoGPT2-style: NFKC, Metaspace BPE with <unk>, no post-processor."""
    return metaspace_bpe(texts, normalizers.NFKC(), KOGPT2_SPECIALS, vocab_size, limit_alphabet)


def llama2_byte_fallback_bpe(texts, vocab_size=3000, limit_alphabet=800):
    """Llama-2-style: the trained pieces re-numbered after <unk> <s> </s> and the 256 byte tokens."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    # Training splits at "▁" (as sentencepiece does) so that no merge crosses a word boundary.
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    specials = ["<unk>", "<s>", "</s>"]
    alphabet = top_alphabet(trainer_tok, texts, limit_alphabet)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 256, special_tokens=specials, initial_alphabet=alphabet,
                                  limit_alphabet=len(alphabet), show_progress=False)
    trainer_tok.train_from_iterator(texts, trainer)
    trained, merges = trained_merges(trainer_tok)
    vocab = {t: i for i, t in enumerate(specials)}
    vocab.update({f"<0x{b:02X}>": 3 + b for b in range(256)})
    for piece, i in sorted(trained.items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = i + 256
    tok = Tokenizer(models.BPE(vocab, [tuple(m) for m in merges], unk_token="<unk>", byte_fallback=True,
                               fuse_unk=True))
    tok.normalizer = trainer_tok.normalizer
    tok.add_special_tokens([special(t) for t in specials])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B:1",
                                                       special_tokens=[("<s>", 1)])
    return tok


def qwen2_byte_level_bpe(texts, vocab_size=3000, specials=("<|endoftext|>", "<|im_start|>", "<|im_end|>")):
    """Qwen2-style byte-level BPE; the special tokens are appended after the trained vocabulary."""
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(specials), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    tok.add_special_tokens([special(t) for t in specials])
    return tok


def bert_wordpiece(texts, vocab_size=3000, limit_alphabet=1000):
    """KLUE-BERT-style WordPiece: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then the pieces in code-point order.

    WordPieceTrainer numbers the "##" continuation characters in hash-map order, so its ids change from
    run to run (the vocabulary itself does not); WordPiece only needs the set, so the ids are reassigned:
    specials, single characters, "##" + character, then the longer pieces, each group sorted."""
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False,
                                            lowercase=False)
    trainer_tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trainer_tok.normalizer = normalizer
    trainer_tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    alphabet = top_alphabet(trainer_tok, texts, limit_alphabet)
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=[special(t) for t in specials],
                                        initial_alphabet=alphabet, limit_alphabet=len(alphabet), show_progress=False)
    trainer_tok.train_from_iterator(texts, trainer)
    pieces = [t for t in trainer_tok.get_vocab() if t not in specials]
    group = lambda t: (0, t) if len(t) == 1 else (1, t) if t.startswith("##") and len(t) == 3 else (2, t)  # noqa: E731
    vocab = {t: i for i, t in enumerate(specials + sorted(pieces, key=group))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens([special(t) for t in specials])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    return tok


def piece_counts(tok, texts):
    """How often each token occurs when tok encodes texts (no special tokens)."""
    counts = {}
    for enc in tok.encode_batch(texts, add_special_tokens=False):
        for t in enc.tokens:
            counts[t] = counts.get(t, 0) + 1
    return counts


def xlmr_unigram(texts, vocab_size=3000, limit_alphabet=1000, iterations=3):
    """XLM-R/T5-style Unigram: <s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4, then pieces by descending score.

    tokenizers' UnigramTrainer is not deterministic (each run keeps a different vocabulary), so the
    model is estimated here by Viterbi re-estimation: candidate pieces are the vocabulary of a
    deterministic Metaspace BPE twice the target size; each iteration segments the corpus with the
    current Unigram (Viterbi), keeps the most frequent pieces (every single character of the BPE
    alphabet is always kept) and sets score = ln(count / total)."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    seed = metaspace_bpe(texts, normalizer, specials, 2 * vocab_size, limit_alphabet)
    counts = piece_counts(seed, texts)
    alphabet = {p for p in seed.get_vocab() if len(p) == 1}
    for _ in range(iterations):
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        budget = vocab_size - len(specials) - len(alphabet)
        kept = [p for p, _ in ranked if p not in alphabet][:budget] + sorted(alphabet)
        total = sum(counts.get(p, 0) + 0.5 for p in kept)
        scores = sorted(((p, math.log((counts.get(p, 0) + 0.5) / total)) for p in kept), key=lambda kv: (-kv[1], kv[0]))
        tok = Tokenizer(models.Unigram([(t, 0.0) for t in specials] + scores, unk_id=specials.index("<unk>"),
                                       byte_fallback=False))
        tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        counts = piece_counts(tok, texts)
    tok.add_special_tokens([special(t) for t in specials])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return tok


def components(texts, vocab_size=3000):
    """A WordLevel tokenizer whose normalizer, pre-tokenizer, decoder and post-processor are Sequences."""
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([
        normalizers.Strip(left=True, right=True), normalizers.NFKD(), normalizers.StripAccents(),
        normalizers.Lowercase(), normalizers.Replace("``", '"'), normalizers.Replace("''", '"'), normalizers.NFC(),
    ])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Split("ㅋㅋ", behavior="merged_with_previous"),
    ])
    tok.decoder = decoders.Sequence([
        # Strip acts per token before Fuse: tokenizers 0.23.3 panics when Strip(right > 0) meets the empty
        # string that Fuse makes of an empty token list (decode of only special tokens, skipped).
        decoders.Replace("ㅋㅋ", "ㅎㅎ"), decoders.Strip(content=".", left=0, right=1),
        decoders.WordPiece(prefix="##", cleanup=True), decoders.Fuse(),
    ])
    specials = ["[UNK]", "[BOS]", "[EOS]", "[SEP]"]
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=[special(t) for t in specials],
                                        show_progress=False)
    tok.train_from_iterator(texts, trainer)
    ids = {t: tok.token_to_id(t) for t in specials}
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="[BOS] $A [EOS]", pair="[BOS] $A [SEP] $B:1 [EOS]:1",
                                      special_tokens=[(t, ids[t]) for t in ("[BOS]", "[EOS]", "[SEP]")]),
    ])
    return tok


BUILDERS = {
    "kogpt2_metaspace_bpe": kogpt2_metaspace_bpe,
    "llama2_byte_fallback_bpe": llama2_byte_fallback_bpe,
    "qwen2_byte_level_bpe": qwen2_byte_level_bpe,
    "bert_wordpiece": bert_wordpiece,
    "xlmr_unigram": xlmr_unigram,
    "components": components,
}

# Special tokens written inside text, per tokenizer.
SPECIAL_TEXTS = {
    "kogpt2_metaspace_bpe": ["안녕</s>하세요", "<usr> 질문입니다 <sys> 답변<pad><pad>", "<mask>는 <unk>"],
    "llama2_byte_fallback_bpe": ["<s>안녕</s>하세요", "[INST] 질문 [/INST] 답 </s><s>", "<unk>"],
    "qwen2_byte_level_bpe": ["안녕<|endoftext|>하세요", "<|im_start|>user\n안녕<|im_end|>\n<|im_start|>assistant\n",
                             "<|im_end|><|im_end|>"],
    "bert_wordpiece": ["[CLS] 문장 [SEP]", "나는 [MASK]를 좋아해 [SEP] 두번째", "[PAD][UNK]"],
    "xlmr_unigram": ["<s> 문장 </s>", "나는 <mask>를 좋아해", "<pad><unk>"],
    "components": ["[BOS] 영화 [SEP] 최고 [EOS]", "[UNK]ㅋㅋ", "영화[SEP]"],
}

COMMON_TEXTS = [
    ("empty", ""),
    ("review_1", "아 더빙.. 진짜 짜증나네요 목소리"),
    ("review_2", "흠...포스터보고 초딩영화줄....오버연기조차 가볍지 않구나"),
    ("review_3", "너무재밓었다그래서보는것을추천한다"),
    ("review_4", "사이몬페그의 익살스런 연기가 돋보였던 영화!스파이더맨에서 늙어보이기만 했던 커스틴 던스트가 너무나도 이뻐보였다"),
    ("emoji_zwj", "가족 👨‍👩‍👧 사진"),
    ("emoji_flag_skin", "🇰🇷 최고 👍🏽👍"),
    ("bare_jamo", "ㅋㅋㅋ ㅠㅠ ㄱ ㅏ"),
    ("compat_jamo", "ㅎㅏㄴㄱㅜㄱㅇㅓ"),
    ("conjoining_jamo_nfd", unicodedata.normalize("NFD", "한국어 영화")),
    ("mixed_scripts", "한글 English 日本語 中文 العربية 123.45"),
    ("whitespace_runs", "a  b\t\tc\n\nd   "),
    ("leading_trailing_spaces", "   영화 재밌다   "),
    ("only_spaces", "    "),
    ("long_repeat", "ㅋ" * 500),
    ("digits", "2024년 12월 25일 3.14 1,000원"),
    ("punctuation_runs", "!!!???... ~~ ^^;; -_-"),
    ("full_width", "ＡＢＣ１２３ ｶﾀｶﾅ ㈜ ①"),
    ("replacement_and_controls", "a\ufffdb\x00c\x07d\u200be\x7ff\u00a0g\r\nh"),
    ("combining_marks", "cafe\u0301 n\u0303 a\u0308\u0301 가\u0301"),
    ("english_contractions", "It's the movie I'd've LOVED, they're great"),
    ("newlines_review", "첫 줄\n둘째 줄\r\n셋째"),
]


def char_to_byte_offsets(text, offsets):
    """Character offsets into text converted to UTF-8 byte offsets."""
    starts = [0]
    for ch in text:
        starts.append(starts[-1] + len(ch.encode("utf-8")))
    return [[starts[a], starts[b]] for a, b in offsets]


def case(tok, name, text, add_special_tokens):
    enc = tok.encode(text, add_special_tokens=add_special_tokens)
    return {
        "name": name, "text": text, "add_special_tokens": add_special_tokens,
        "ids": enc.ids, "tokens": enc.tokens, "offsets": [list(o) for o in enc.offsets], "offsets_unit": "char",
        "offsets_bytes": char_to_byte_offsets(text, enc.offsets),
        "decoded": tok.decode(enc.ids, skip_special_tokens=False),
        "decoded_skip_special": tok.decode(enc.ids, skip_special_tokens=True),
    }


def cases(tok, name):
    texts = COMMON_TEXTS + [(f"special_in_text_{i}", t) for i, t in enumerate(SPECIAL_TEXTS[name])]
    both = {"empty", "review_1", "emoji_zwj", "whitespace_runs", "long_repeat", "special_in_text_0"}
    out = []
    for case_name, text in texts:
        out.append(case(tok, case_name, text, True))
        if case_name in both:
            out.append(case(tok, case_name, text, False))
    return out


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def review_digests(tok, reviews):
    digests, total, lines = [], 0, []
    for i, review in enumerate(reviews):
        enc = tok.encode(review, add_special_tokens=True)
        total += len(enc.ids)
        lines.append(" ".join(map(str, enc.ids)) + "\t" + "\x1f".join(enc.tokens) + "\t"
                     + tok.decode(enc.ids, skip_special_tokens=False) + "\n")
        if (i + 1) % CHUNK == 0:
            digests.append(fnv1a64("".join(lines).encode("utf-8")))
            lines = []
    assert not lines
    return {"source": "nsmc/ratings_test.txt", "reviews": len(reviews), "chunk": CHUNK, "definition": DEFINITION,
            "digests": digests, "total_ids": total}


# ---------------------------------------------------------------- component behaviours

BEHAVIOUR_TEXTS = [
    "",
    "Hello, world! 영화가 재밌다ㅋㅋㅋ",
    "  leading and  trailing  ",
    "a--b--c-",
    "2024년 12월... 1,000원!!",
    "it's 'quoted' don't",
    "탭\t줄\n바꿈\r\n끝",
    "日本語テキスト 中文字",
    "🇰🇷 👍🏽 ▁already▁ Ġspaced",
]

NORMALIZER_TEXTS = [
    "",
    "Café ÉCOLE naïve",
    "ＡＢＣ１２３ ｶﾀｶﾅ ㈜ ① ﬁ",
    unicodedata.normalize("NFD", "한국어") + " 한국어 ㅎㅏㄴ",
    "  spaces \t around \n ",
    "İSTANBUL ΣΑΣ Straße",
    "a\ufffdb\x00c\x07d\u200be\x7ff\u00a0g\r\nh",
    "中文字 日本語 漢字abc",
    "``quoted'' text",
]


def split_variants():
    patterns = (("string '-'", "-"), ("regex \\s+", Regex(r"\s+")), ("regex \\p{N}+", Regex(r"\p{N}+")))
    for pattern_name, pattern in patterns:
        for behavior in ("removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"):
            for invert in (False, True):
                yield (f"Split({pattern_name}, {behavior}, invert={invert})",
                       pre_tokenizers.Split(pattern, behavior=behavior, invert=invert))


def pre_tokenizer_variants():
    yield from split_variants()
    yield "Whitespace", pre_tokenizers.Whitespace()
    yield "WhitespaceSplit", pre_tokenizers.WhitespaceSplit()
    for behavior in ("isolated", "removed", "merged_with_previous", "merged_with_next", "contiguous"):
        yield f"Punctuation({behavior})", pre_tokenizers.Punctuation(behavior=behavior)
    for individual in (False, True):
        yield f"Digits(individual_digits={individual})", pre_tokenizers.Digits(individual_digits=individual)
    yield "BertPreTokenizer", pre_tokenizers.BertPreTokenizer()
    for scheme in ("always", "first", "never"):
        for split in (True, False):
            yield (f"Metaspace(prepend_scheme={scheme}, split={split})",
                   pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split))
    for use_regex in (True, False):
        for prefix in (False, True):
            yield (f"ByteLevel(add_prefix_space={prefix}, use_regex={use_regex})",
                   pre_tokenizers.ByteLevel(add_prefix_space=prefix, use_regex=use_regex))
    yield "Sequence(qwen2)", pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def normalizer_variants():
    for name in ("NFC", "NFKC", "NFD", "NFKD", "Lowercase", "StripAccents"):
        yield name, getattr(normalizers, name)()
    for left, right in ((True, True), (True, False), (False, True)):
        yield f"Strip(left={left}, right={right})", normalizers.Strip(left=left, right=right)
    yield "Replace(string '  ' -> ' ')", normalizers.Replace("  ", " ")
    yield "Replace(regex \\s+ -> '▁')", normalizers.Replace(Regex(r"\s+"), "▁")
    yield "Prepend('▁')", normalizers.Prepend("▁")
    for clean, chinese, accents, lower in ((True, True, None, True), (True, True, False, False),
                                           (True, True, True, False), (False, False, None, False)):
        yield (f"BertNormalizer(clean_text={clean}, handle_chinese_chars={chinese}, strip_accents={accents}, "
               f"lowercase={lower})",
               normalizers.BertNormalizer(clean_text=clean, handle_chinese_chars=chinese, strip_accents=accents,
                                          lowercase=lower))
    yield "Sequence(NFKC, Replace / {2,}/)", normalizers.Sequence([normalizers.NFKC(),
                                                                    normalizers.Replace(Regex(" {2,}"), " ")])
    yield "Sequence(Prepend, Replace) (llama)", normalizers.Sequence([normalizers.Prepend("▁"),
                                                                       normalizers.Replace(" ", "▁")])
    yield "Sequence(NFD, StripAccents, Lowercase, NFC)", normalizers.Sequence([
        normalizers.NFD(), normalizers.StripAccents(), normalizers.Lowercase(), normalizers.NFC()])


def behaviours():
    pre = [{"name": name, "config": json.loads(p.__getstate__()),
            "outputs": [{"input": s, "output": [[piece, list(off)] for piece, off in p.pre_tokenize_str(s)]}
                        for s in BEHAVIOUR_TEXTS]}
           for name, p in pre_tokenizer_variants()]
    norm = [{"name": name, "config": json.loads(n.__getstate__()),
             "outputs": [{"input": s, "output": n.normalize_str(s)} for s in NORMALIZER_TEXTS]}
            for name, n in normalizer_variants()]
    return {"tokenizers_version": tokenizers.__version__,
            "description": "pre_tokenizers: [piece, [start, end]] from pre_tokenize_str, offsets in characters of "
                           "the input; normalizers: normalize_str output. `config` is the component's JSON as it "
                           "appears inside tokenizer.json.",
            "offsets_unit": "char", "pre_tokenizers": pre, "normalizers": norm}


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"  {path.relative_to(ROOT)}: {path.stat().st_size} bytes")


def main():
    train = documents(NSMC / "ratings_train.txt")
    test = documents(NSMC / "ratings_test.txt", REVIEWS)
    print(f"tokenizers {tokenizers.__version__}: {len(train)} training documents, {len(test)} test reviews")
    for name, build in BUILDERS.items():
        tok = build(train)
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        tok.save(str(folder / "tokenizer.json"), pretty=False)
        print(f"{name}: vocab {tok.get_vocab_size()}, "
              f"tokenizer.json {(folder / 'tokenizer.json').stat().st_size} bytes")
        reloaded = Tokenizer.from_file(str(folder / "tokenizer.json"))
        write_json(folder / "cases.json", cases(reloaded, name))
        write_json(folder / "reviews.json", review_digests(reloaded, test))
    write_json(OUT / "components" / "components_split_behaviours.json", behaviours())


if __name__ == "__main__":
    main()
