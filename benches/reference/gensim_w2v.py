"""gensim reference for malmoi-embed's word2vec.

Train and time (the side-by-side comparison in docs/performance.md):
    python3 benches/reference/gensim_w2v.py --corpus /tmp/corpus.txt [--sg] --out /tmp/gensim.bin
Same hyper-parameters as `cargo run --release --example word2vec`: vector 100, window 5,
min_count 5, negative 5, sample 1e-3, 5 epochs, 2 workers. Prints effective words/s as gensim
logs it, and the nearest neighbours of the query words.

Write the small fixture read by crates/embed/tests/keyed_vectors.rs:
    python3 benches/reference/gensim_w2v.py --fixture crates/embed/tests/fixtures
"""
import argparse
import logging
import time


def fixture(out_dir):
    from gensim.models import Word2Vec
    sentences = [s.split() for s in [
        "나 는 오늘 영화 를 보 았 다",
        "영화 가 정말 재미있 다",
        "배우 의 연기 가 좋 았 다",
        "오늘 은 사과 와 배 를 먹 었 다",
        "사과 가 달 다",
        "영화 배우 가 멋지 다",
    ] * 20]
    model = Word2Vec(sentences, vector_size=8, window=2, min_count=1, epochs=5, seed=3, workers=1)
    model.wv.save_word2vec_format(f"{out_dir}/gensim_vectors.txt", binary=False)
    model.wv.save_word2vec_format(f"{out_dir}/gensim_vectors.bin", binary=True)
    pairs = [("영화", "배우"), ("사과", "배"), ("오늘", "다"), ("영화", "사과")]
    with open(f"{out_dir}/gensim_similarities.tsv", "w", encoding="utf-8") as f:
        for a, b in pairs:
            f.write(f"{a}\t{b}\t{model.wv.similarity(a, b):.7f}\n")
    # query \t positive words \t negative words \t gensim's top 3 as word:score
    queries = [("most_similar", ["영화"], []), ("most_similar", ["배우", "사과"], ["영화"]),
               ("most_similar_cosmul", ["배우", "사과"], ["영화"]), ("most_similar_cosmul", ["오늘"], [])]
    with open(f"{out_dir}/gensim_queries.tsv", "w", encoding="utf-8") as f:
        for name, pos, neg in queries:
            top = getattr(model.wv, name)(positive=pos, negative=neg, topn=3)
            answer = " ".join(f"{w}:{s:.7f}" for w, s in top)
            f.write(f"{name}\t{' '.join(pos)}\t{' '.join(neg)}\t{answer}\n")
        odd = model.wv.doesnt_match(["영화", "배우", "연기", "사과"])
        f.write(f"doesnt_match\t영화 배우 연기 사과\t\t{odd}:0\n")


def train(args):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.INFO)
    corpus = LineSentence(args.corpus)
    model = Word2Vec(vector_size=100, window=5, min_count=5, negative=5, sample=1e-3,
                     sg=1 if args.sg else 0, workers=args.workers, epochs=5, seed=args.seed)
    t = time.time()
    model.build_vocab(corpus)
    print(f"vocabulary: {len(model.wv)} words ({time.time() - t:.1f} s)")
    t = time.time()
    trained, raw = model.train(corpus, total_examples=model.corpus_count, epochs=model.epochs)
    seconds = time.time() - t
    print(f"gensim {'skip-gram' if args.sg else 'CBOW'}: {raw} raw, {trained} effective words "
          f"in {seconds:.1f} s = {trained / seconds:.0f} effective words/s")
    if args.out:
        model.wv.save_word2vec_format(args.out, binary=True)
    for word in args.queries:
        if word in model.wv:
            near = ", ".join(f"{w} {s:.3f}" for w, s in model.wv.most_similar(word, topn=10))
            print(f"{word}: {near}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--corpus")
    p.add_argument("--sg", action="store_true")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out")
    p.add_argument("--fixture")
    p.add_argument("queries", nargs="*")
    a = p.parse_args()
    fixture(a.fixture) if a.fixture else train(a)
