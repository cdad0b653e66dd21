"""Generate the byte-level BPE fixture with Hugging Face `tokenizers`.

Writes crates/tokenize/tests/fixtures/bpe/:
  corpus.txt            training corpus (the sentences below, written for this fixture)
  tokenizer.json        trained by tokenizers' BpeTrainer (vocab 800, min_frequency 2,
                        specials <pad> <unk> </s> <mask>, 256-byte initial alphabet)
  tokenizer_prefix.json the same model with add_prefix_space=True and a
                        TemplateProcessing post-processor "$A </s>"
  expected.json         ids and tokens of every sentence under both tokenizers
  random_cases.json     ids of 1,000 seeded random strings drawn from all of Unicode plus
                        contractions, odd whitespace and special tokens (both tokenizers)
  added_cases.json      added tokens with single_word / lstrip / rstrip / normalized set,
                        and the ids tokenizers gives for edge-case texts once they are added

Run from the repository root:  python3 benches/reference/bpe_fixture.py
"""

import json
import pathlib
import random

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

OUT = pathlib.Path("crates/tokenize/tests/fixtures/bpe")

KOREAN = [
    "아버지가방에들어가신다",
    "아버지가 방에 들어가신다.",
    "오늘 날씨가 정말 좋네요!",
    "이 영화 진짜 재밌어요 ㅋㅋㅋㅋ",
    "배우들 연기가 너무 어색해서 몰입이 안 됐다",
    "스토리는 뻔했지만 음악이 좋았습니다",
    "별점 1점도 아깝다... 시간 낭비였음",
    "감독의 전작보다 훨씬 나아졌네요",
    "가족과 함께 보기 좋은 영화입니다.",
    "ㅠㅠ 마지막 장면에서 울었어요",
    "말모이는 '말을 모은다'는 뜻입니다.",
    "한국어 형태소 분석은 쉽지 않다",
    "서울특별시 종로구 세종대로 175",
    "대한민국의 수도는 서울이다.",
    "저는 학생이에요. 당신은요?",
    "그 책을 읽고 나서 생각이 바뀌었다",
    "밥 먹었어? 아직 안 먹었어.",
    "ㄱㄴㄷㄹㅁㅂㅅㅇㅈㅊㅋㅌㅍㅎ",
    "ㅏㅑㅓㅕㅗㅛㅜㅠㅡㅣ",
    "햏햏 똠방각하 쓉쓉 뷁",
    "정말    띄어쓰기가     이상한 문장",
    "줄바꿈이\n있는\n문장",
    "탭\t으로\t나뉜\t문장",
    "이 제품은 29,900원에 판매됩니다",
    "2024년 3월 15일 오후 3시 30분",
    "전화번호는 010-1234-5678 입니다",
    "최고예요!!!!!!!!",
    "헐.... 대박....",
    "진짜?ㅋㅋ 말도 안돼ㅋㅋㅋ",
    "사랑해요 ❤️ 고마워요 🙏",
    "평점 ★★★★☆ 네 개 반",
    "“인용 부호”와 ‘작은 따옴표’",
    "괄호(이런 것)와 [대괄호]와 {중괄호}",
    "한자 漢字 섞인 文章도 있다",
    "이모지만 😀😃😄😁",
    "  앞에 공백이 있는 문장",
    "뒤에 공백이 있는 문장   ",
    "영화관에서 팝콘을 먹으며 봤는데 생각보다 재미있었다",
    "원작 소설을 먼저 읽었는데 영화가 더 좋았다",
    "연기, 연출, 음악 모두 완벽했다",
]

ENGLISH = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure you're right, but it's late and we'll see.",
    "They've said they'd come; I'll believe it when I see it.",
    "DON'T SHOUT. It'S rude.",
    "rock 'n' roll isn't dead",
    "She said: \"Byte-level BPE never fails.\"",
    "e-mail me at someone@example.com or visit https://example.com/a?b=c&d=e",
    "The price rose 3.5% to $1,234.56 in Q3 2024.",
    "Call 555-0100 before 9:30am.",
    "Numbers: 0 1 12 123 1234 12345 123456 1234567",
    "pi = 3.14159265358979",
    "x += y * (z - 1) / 2;",
    "fn main() { println!(\"hi\"); }",
    "def f(x):\n    return x ** 2\n",
    "    indented with four spaces",
    "trailing spaces   ",
    "multiple\n\n\nnewlines",
    "windows\r\nline\r\nendings",
    "tabs\tand\t\tmore\ttabs",
    "A B C D E F G",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "lowercase UPPERCASE MiXeD CaSe",
    "hyphen-ated and under_scored and dot.ted",
    "ellipsis... and dashes -- and em—dash",
    "What?! Really?? No!!!",
    "#hashtag @mention $cash %percent ^caret &and *star",
    "naïve café résumé coöperate",
    "Ünïcödé àccénts ñ ç ø å",
    "straße Größe",
    "Ελληνικά κείμενο",
    "Русский текст здесь",
    "日本語のテキストです。",
    "中文文本测试。",
    "العربية نص",
    "עברית טקסט",
    "हिन्दी पाठ",
    "ไทย ข้อความ",
    "I love this movie so much",
    "worst movie ever, total waste of time",
]

MIXED = [
    "오늘 meeting은 3시에 있어요",
    "GPT-2 스타일 byte-level BPE 토크나이저",
    "Rust로 만든 한국어 NLP 라이브러리 malmoi",
    "이 영화 IMDb 평점이 8.5/10 이래",
    "Netflix에서 봤는데 꿀잼 👍",
    "카톡으로 보내줘 ok? 알겠어 ㅇㅋ",
    "배송 완료: 주문번호 #A-20240315-001",
    "email은 kim@example.kr 입니다",
    "Python 3.11과 Rust 1.88 비교",
    "머신러닝(Machine Learning)과 딥러닝(Deep Learning)",
    "BTS의 'Dynamite'는 2020년 노래다",
    "K-pop and 한류 (Hallyu) are popular",
    "CPU 사용률 99% 🔥🔥🔥",
    "RLHF = SFT + RM + PPO",
    "서울 → 부산 KTX 2시간 30분",
    "가격: ₩15,000 / $11.50 / €10.20",
    "x² + y² = z²",
    "1st 2nd 3rd 4th 첫째 둘째",
    "iPhone15Pro를 샀다",
    "ABC가나다123",
]

EMOJI_AND_SYMBOLS = [
    "😀",
    "👍🏽 thumbs up with skin tone",
    "👨‍👩‍👧‍👦 family ZWJ sequence",
    "🇰🇷🇺🇸 flags",
    "❤️‍🔥 heart on fire",
    "🏳️‍🌈 rainbow flag",
    "✨🎉🎊 party 🥳",
    "emoji😀inside😃words",
    "⌘⌥⇧⌃ keyboard symbols",
    "∀x∈ℝ, ∃y: x<y",
    "→ ← ↑ ↓ ↔",
    "© ® ™ § ¶ †",
    "½ ¼ ¾ ⅓",
    "①②③ ⓐⓑⓒ",
    "░▒▓█",
]

WHITESPACE = [
    " ",
    "  ",
    "\n",
    "\t",
    " \n ",
    "a",
    "a ",
    " a",
    "a  b",
    "a   b",
    "a \n b",
    "a\u00a0b non-breaking",
    "a\u3000b ideographic space",
    "a\u2003b em space",
    "a\u200bb zero width space",
    "a\u200db zero width joiner",
    "a\ufeffb byte order mark",
    "a\u0085b next line",
    "a\u2028b line separator",
    "\u0000\u0001\u0002 control characters \u007f",
    "e\u0301 combining acute",
    "\ud55c\u1112\u1161\u11ab jamo mix",
    "a\r\nb\rc\nd",
    "   \t\n   ",
    "end with newline\n",
]

SPECIAL = [
    "<pad><pad><pad>",
    "first sentence</s>second sentence</s>",
    "The capital of France is <mask>.",
    "한국의 수도는 <mask>입니다.</s>",
    "<unk> token in text",
    "no special < pad > tokens </ s> here",
    "<mask><mask> double mask",
    "</s>",
]

BASE = KOREAN + ENGLISH + MIXED + EMOJI_AND_SYMBOLS + WHITESPACE + SPECIAL


def variants(sentences):
    """Derived sentences: pairs joined by different whitespace, numbers spliced in."""
    out = []
    joins = [" ", "  ", "\n", " \n", "\t", ""]
    for i, s in enumerate(sentences):
        t = sentences[(i * 7 + 3) % len(sentences)]
        out.append(s + joins[i % len(joins)] + t)
    for i in range(0, len(sentences), 3):
        out.append(f"{i * 1234567 % 100000} {sentences[i]} {i}.{i % 10}")
    return out


ADDED_CASES = [
    "a[SW]b", "a [SW] b", "[SW]", "_[SW]", "é[SW]", "한[SW] x", "a.[SW].b", "1[SW]",
    "a   [L]b", "a[R]   b", "x  [LR]  y", "[L][L]  [R] [R]", "  [LR][LR]  ",
    "말모이는 말모이다", "<mask>x <mask>", "<mask><mask>x", "[L]\n\t[R]\n",
]


RANDOM_PIECES = [
    " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u200b", "\u0085", "\u2028", "\x0b", "\x1c",
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "<pad>", "</s>", "<mask>", "한", "ㄱ", "\u1100", "a", "Z", "1",
    "\u0663", "\u216b", "\u00bd", "\u00b2", "😀", "👨‍👩‍👧", "e\u0301", "!", "...",
]


def random_text(rng):
    """Up to 30 pieces, half from RANDOM_PIECES, half random code points of every plane."""
    parts = []
    for _ in range(rng.randint(0, 30)):
        if rng.random() < 0.5:
            parts.append(rng.choice(RANDOM_PIECES))
            continue
        while True:
            cp = rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF), rng.randint(0x3000, 0xFFFF),
                             rng.randint(0x10000, 0x10FFFF)])
            if not 0xD800 <= cp <= 0xDFFF:
                parts.append(chr(cp))
                break
    return "".join(parts)


def write_random_cases(tokenizer, prefixed):
    rng = random.Random(20240315)
    texts = [random_text(rng) for _ in range(1000)]
    cases = [{"text": t, "ids": tokenizer.encode(t).ids, "prefix_ids": prefixed.encode(t).ids} for t in texts]
    (OUT / "random_cases.json").write_text(json.dumps(cases, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def write_added_cases(tokenizer):
    """Adds tokens with every matching option and records how texts around them encode."""
    extended = Tokenizer.from_str(tokenizer.to_str())
    extended.add_tokens([
        AddedToken("[SW]", single_word=True),
        AddedToken("[L]", lstrip=True),
        AddedToken("[R]", rstrip=True),
        AddedToken("말모이", normalized=True),
        AddedToken("<mask>x", normalized=False),
    ])
    extended.add_special_tokens([AddedToken("[LR]", lstrip=True, rstrip=True, special=True)])
    added = json.loads(extended.to_str())["added_tokens"]
    cases = [{"text": text, "ids": extended.encode(text).ids} for text in ADDED_CASES]
    (OUT / "added_cases.json").write_text(
        json.dumps({"added_tokens": added, "cases": cases}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def main():
    sentences = BASE + variants(BASE)
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = [s for s in sentences if "\n" not in s and "\r" not in s and "\u0085" not in s and "\u2028" not in s]
    (OUT / "corpus.txt").write_text("\n".join(corpus) + "\n", encoding="utf-8")

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=800,
        min_frequency=2,
        special_tokens=["<pad>", "<unk>", "</s>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Train on exactly the lines of corpus.txt, as the Rust trainer test reads them.
    lines = (OUT / "corpus.txt").read_text(encoding="utf-8").split("\n")[:-1]
    tokenizer.train_from_iterator(lines, trainer)
    tokenizer.save(str(OUT / "tokenizer.json"))

    prefixed = Tokenizer.from_str(tokenizer.to_str())
    prefixed.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    prefixed.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tokenizer.token_to_id("</s>"))]
    )
    prefixed.save(str(OUT / "tokenizer_prefix.json"))

    cases = []
    for s in sentences:
        plain = tokenizer.encode(s)
        pre = prefixed.encode(s)
        assert tokenizer.decode(plain.ids, skip_special_tokens=False) == s, repr(s)
        cases.append({"text": s, "ids": plain.ids, "tokens": plain.tokens, "prefix_ids": pre.ids})
    (OUT / "expected.json").write_text(json.dumps(cases, ensure_ascii=False, indent=0), encoding="utf-8")
    write_added_cases(tokenizer)
    write_random_cases(tokenizer, prefixed)
    print(f"{len(cases)} sentences, vocab {tokenizer.get_vocab_size()}, corpus {len(lines)} lines")


if __name__ == "__main__":
    main()
