"""Builds the small Korean similarity and analogy sets used to compare malmoi's word2vec
with gensim's on NSMC (docs/performance.md).

How it was made: the word pairs and their 0-10 similarity scores below were written by hand
(by the malmoi-embed author, judging meaning, not co-occurrence: antonyms score low) from
words of the NSMC review corpus; the analogy questions pair male/female words and
evaluative opposites. The script keeps only items whose words all occur at least MIN_COUNT
times in the tokenized corpus (so both models have vectors for them) and writes
    crates/embed/tests/fixtures/nsmc_word_pairs.tsv   (word1 \t word2 \t score)
    crates/embed/tests/fixtures/nsmc_analogies.txt    (a b c d: a is to b as c is to d)

    python3 benches/reference/make_similarity_set.py /tmp/unlabeled_morphs.txt
"""
import itertools
import sys
from collections import Counter

MIN_COUNT = 100

PAIRS = """영화 드라마 8; 영화 작품 8; 재미 재밌 9; 최악 최고 3; 최악 쓰레기 8; 최악 졸작 8;
명작 걸작 9.5; 명작 수작 8.5; 배우 연기 7; 배우 여배우 8.5; 배우 주연 7.5; 감독 연출 7;
스토리 줄거리 9; 결말 엔딩 9.5; 음악 ost 8.5; 음악 노래 8; 공포 호러 9.5; 코미디 웃음 6.5;
애니 애니메이션 10; 애니메이션 만화 8; 원작 소설 7; 감동 눈물 7; 감동 지루 1; 재미 지루 2;
극장 영화관 9.5; 남자 여자 6; 아빠 아버지 9.5; 엄마 어머니 9.5; 아빠 엄마 7; 경찰 형사 8;
경찰 범인 5; 의사 간호사 7; 사랑 연애 8.5; 결혼 이별 4; 전쟁 군인 7; 죽음 전쟁 5; 시간 돈 2;
평점 별점 9.5; 추천 강추 8.5; 추천 비추 3; 스릴러 액션 6; 로맨스 멜로 9; 로맨스 공포 2;
캐릭터 주인공 7; 반전 결말 6; 영상미 화면 7; 영화 아침 0.5; 배우 겨울 0.5; 감동 부산 0.5;
눈물 웃음 4; 아이 어른 5; 가족 친구 5; 한국 일본 7; 미국 헐리우드 7.5; 개봉 재개봉 8;
여름 겨울 5; 명작 쓰레기 1; 수작 졸작 2.5; 웃기 슬프 3; 무섭 공포 8"""

GENDER = [("남자", "여자"), ("아빠", "엄마"), ("아버지", "어머니"), ("아들", "딸"), ("오빠", "언니"),
          ("남편", "아내"), ("왕", "여왕"), ("왕자", "공주"), ("남주", "여주")]
OPPOSITES = [("최고", "최악"), ("명작", "졸작"), ("강추", "비추"), ("걸작", "쓰레기")]


def main(corpus):
    counts = Counter()
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            counts.update(line.split())
    known = lambda *ws: all(counts[w] >= MIN_COUNT for w in ws)  # noqa: E731
    pairs = [p.split() for p in PAIRS.replace("\n", " ").split(";")]
    pairs = [(a, b, s) for a, b, s in pairs if known(a, b)]
    questions = [
        (a, b, c, d)
        for group in (GENDER, OPPOSITES)
        for (a, b), (c, d) in itertools.permutations(group, 2)
        if known(a, b, c, d)
    ]
    out = "crates/embed/tests/fixtures"
    with open(f"{out}/nsmc_word_pairs.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{a}\t{b}\t{s}\n" for a, b, s in pairs)
    with open(f"{out}/nsmc_analogies.txt", "w", encoding="utf-8") as f:
        f.writelines(" ".join(q) + "\n" for q in questions)
    print(f"{len(pairs)} pairs, {len(questions)} analogy questions")


if __name__ == "__main__":
    main(sys.argv[1])
