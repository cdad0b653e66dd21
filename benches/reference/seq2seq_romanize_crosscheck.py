"""Cross-checks malmoi's rule-based romanizer (malmoi_tokenize::text::romanize) against the
PyPI package korean-romanizer on NSMC words, and both against the official examples.

    pip install korean-romanizer==0.28.0
    cargo run --release --example seq2seq -- train ...      # writes target/seq2seq/held_out.tsv
    python benches/reference/seq2seq_romanize_crosscheck.py target/seq2seq/held_out.tsv

Prints the share of words on which the two agree, the most frequent disagreements, and how
many of the official examples (Revised Romanization, 2000) korean-romanizer gets right
(malmoi gets all but 학여울, 알약, 신문로, 묵호, 집현전, which need word structure; see its tests).
"""

import collections
import sys

from korean_romanizer.romanizer import Romanizer

# (word, official romanization) from the rules' own examples; lowercase.
OFFICIAL = [
    ("백마", "baengma"), ("종로", "jongno"), ("왕십리", "wangsimni"), ("별내", "byeollae"), ("신라", "silla"),
    ("해돋이", "haedoji"), ("같이", "gachi"), ("굳히다", "guchida"), ("좋고", "joko"), ("놓다", "nota"),
    ("잡혀", "japyeo"), ("낳지", "nachi"), ("압구정", "apgujeong"), ("낙동강", "nakdonggang"), ("죽변", "jukbyeon"),
    ("낙성대", "nakseongdae"), ("합정", "hapjeong"), ("팔당", "paldang"), ("샛별", "saetbyeol"), ("울산", "ulsan"),
    ("구미", "gumi"), ("영동", "yeongdong"), ("백암", "baegam"), ("옥천", "okcheon"), ("합덕", "hapdeok"),
    ("호법", "hobeop"), ("월곶", "wolgot"), ("벚꽃", "beotkkot"), ("한밭", "hanbat"), ("구리", "guri"),
    ("설악", "seorak"), ("칠곡", "chilgok"), ("임실", "imsil"), ("울릉", "ulleung"), ("대관령", "daegwallyeong"),
    ("광희문", "gwanghuimun"), ("학여울", "hangnyeoul"), ("알약", "allyak"), ("신문로", "sinmunno"),
    ("묵호", "mukho"), ("집현전", "jiphyeonjeon"),
]


def their_romanization(word):
    try:
        return Romanizer(word).romanize()
    except KeyError:  # korean-romanizer 0.28 has no spelling for some finals (e.g. a word-final ㄶ)
        return None


def main():
    rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1], encoding="utf-8")][1:]
    disagreements = collections.Counter()
    agree = failed = 0
    for word, ours, *_ in rows:
        theirs = their_romanization(word)
        failed += theirs is None
        if theirs == ours:
            agree += 1
        else:
            disagreements[(word, ours, theirs)] += 1
    print(f"korean-romanizer agrees with malmoi on {agree}/{len(rows)} words ({100 * agree / len(rows):.2f} %); "
          f"it fails on {failed}")
    for (word, ours, theirs), _ in list(disagreements.items())[:15]:
        print(f"  {word}\tmalmoi {ours}\tkorean-romanizer {theirs}")
    theirs_right = sum(their_romanization(w) == r for w, r in OFFICIAL)
    print(f"korean-romanizer matches {theirs_right}/{len(OFFICIAL)} official examples")
    # malmoi's agreement with these examples is tested in crates/tokenize/tests/romanize.rs


if __name__ == "__main__":
    main()
