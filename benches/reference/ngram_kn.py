"""Reference for malmoi-lm's modified Kneser-Ney n-gram model.

KenLM's `lmplz` (the estimator) is not pip-installable -- only its query module is -- so this
script estimates interpolated modified Kneser-Ney from its definition (Chen & Goodman 1998,
with KenLM's conventions: n-grams starting with <s> keep raw counts, unigrams interpolate
with the uniform distribution over the vocabulary with <unk> and without <s>), writes the
model as ARPA, and checks itself two ways:

1. every conditional distribution sums to one (over the vocabulary, <s> excluded);
2. Python `kenlm` loading the ARPA file scores the test sentences as the direct interpolation
   formula does (so the ARPA backoff weights are right).

It writes, under crates/lm/tests/fixtures/:
  kn_corpus.txt           a seeded synthetic corpus (one sentence a line; a few empty ones)
  kn_order{3,4}.arpa      the reference models
  kn_order{3,4}_scores.tsv  kenlm's per-token log10 probabilities of the test sentences

Run from the repository root:  python benches/reference/ngram_kn.py
"""

import collections
import math
import os
import random

import kenlm

OUT = "crates/lm/tests/fixtures"
BOS, EOS, UNK = "<s>", "</s>", "<unk>"
TEST_SENTENCES = [
    "나 는 버스 를 탔다",
    "나 는 버스 를 태운다",
    "",
    "영화 가 정말 재밌다",
    "외계어 는 사전 에 없다",
    "를 를 를",
]


def corpus(seed=7, sentences=1000):
    """Sentences from a seeded random Markov chain over a small Korean-like vocabulary."""
    rng = random.Random(seed)
    words = ("나 너 우리 영화 버스 집 학교 는 가 를 에 의 정말 너무 재밌다 탔다 갔다 봤다 "
             "좋다 싫다 최고 최악 배우 연기 이야기 음악 그리고 하지만 또 다시").split()
    rare = [f"{w}{i}" for i, w in enumerate(words * 100)]  # a long tail, picked Zipf-like
    weights = [1 / (i + 1) for i in range(len(rare))]
    follow = {w: rng.sample(words, 6) for w in words + rare}
    lines = []
    for _ in range(sentences):
        length = rng.choice([0] * 1 + list(range(1, 13)))
        sentence = []
        word = rng.choice(words[:8])
        for _ in range(length):
            sentence.append(word)
            u = rng.random()
            if u < 0.8:
                word = rng.choice(follow[word])
            elif u < 0.9:
                word = rng.choice(words)
            else:
                word = rng.choices(rare, weights)[0]
        lines.append(" ".join(sentence))
    return lines


def ngrams(lines, order):
    """Raw counts of every n-gram of <s> w1..wn </s> up to `order`, <s> only in front."""
    counts = [collections.Counter() for _ in range(order)]
    for line in lines:
        tokens = [BOS] + line.split() + [EOS]
        for m in range(1, order + 1):
            for i in range(len(tokens) - m + 1):
                gram = tuple(tokens[i:i + m])
                if gram != (BOS,):
                    counts[m - 1][gram] += 1
    return counts


def adjusted(counts, order):
    """Highest order and <s>-initial n-grams: raw counts; others: distinct left extensions."""
    adj = [collections.Counter() for _ in range(order)]
    adj[order - 1] = collections.Counter(counts[order - 1])
    for m in range(order - 1):
        for gram, c in counts[m].items():
            if gram[0] == BOS:
                adj[m][gram] = c
        for gram in counts[m + 1]:
            if gram[1] != BOS:
                adj[m][gram[1:]] += 1
    adj[0][(UNK,)] += 0
    return adj


def discounts(adj_m):
    n = collections.Counter(c for c in adj_m.values() if 1 <= c <= 4)
    y = n[1] / (n[1] + 2 * n[2])
    d = [j - (j + 1) * y * n[j + 1] / n[j] for j in (1, 2, 3)]
    assert all(0 <= dj <= j for j, dj in zip((1, 2, 3), d)), d  # lmplz refuses such data too
    return d


class KneserNey:
    def __init__(self, lines, order):
        self.order = order
        self.adj = adjusted(ngrams(lines, order), order)
        self.d = [discounts(a) for a in self.adj]
        self.vocab = sorted(g[0] for g in self.adj[0])  # <unk> and </s> in, <s> out
        self.ctx = []
        for m, a in enumerate(self.adj):
            stats = collections.defaultdict(lambda: [0, 0.0])
            for gram, c in a.items():
                s = stats[gram[:-1]]
                s[0] += c
                s[1] += self.disc(m, c)
            self.ctx.append({h: (den, mass / den) for h, (den, mass) in stats.items()})

    def disc(self, m, c):
        return 0.0 if c == 0 else self.d[m][min(c, 3) - 1]

    def prob(self, history, word):
        """p(word | history) by the interpolation recursion (history: tuple, oldest first)."""
        history = history[len(history) - min(len(history), self.order - 1):]
        p = 1.0 / len(self.vocab)
        for m in range(len(history) + 1):
            h = history[len(history) - m:]
            if h not in self.ctx[m]:
                continue  # an unseen context leaves the lower-order estimate unchanged
            den, gamma = self.ctx[m][h]
            c = self.adj[m].get(h + (word,), 0)
            p = (c - self.disc(m, c)) / den + gamma * p
        return p

    def check_normalised(self):
        for m in range(self.order):
            for h in self.ctx[m]:
                total = sum(self.prob(h, w) for w in self.vocab)
                assert abs(total - 1.0) < 1e-9, (h, total)

    def write_arpa(self, path):
        with open(path, "w") as f:
            f.write("\\data\\\n")
            sizes = [len(a) + (1 if m == 0 else 0) for m, a in enumerate(self.adj)]
            for m, size in enumerate(sizes):
                f.write(f"ngram {m + 1}={size}\n")
            for m, a in enumerate(self.adj):
                f.write(f"\n\\{m + 1}-grams:\n")
                grams = sorted(a) + ([(BOS,)] if m == 0 else [])
                for gram in grams:
                    lp = -99.0 if gram == (BOS,) else math.log10(self.prob(gram[:-1], gram[-1]))
                    line = f"{lp:.7f}\t{' '.join(gram)}"
                    if m + 1 < self.order and gram[-1] not in (EOS, UNK) and gram in self.ctx[m + 1]:
                        line += f"\t{math.log10(self.ctx[m + 1][gram][1]):.7f}"
                    f.write(line + "\n")
            f.write("\n\\end\\\n")


def main():
    lines = corpus()
    with open(f"{OUT}/kn_corpus.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    for order in (3, 4):
        model = KneserNey(lines, order)
        model.check_normalised()
        arpa = f"{OUT}/kn_order{order}.arpa"
        model.write_arpa(arpa)
        lm = kenlm.Model(arpa)
        with open(f"{OUT}/kn_order{order}_scores.tsv", "w") as f:
            for sentence in TEST_SENTENCES:
                history = (BOS,)
                scores = []
                for (lp, _, _), word in zip(lm.full_scores(sentence), sentence.split() + [EOS]):
                    known = word if (word,) in model.adj[0] else UNK
                    direct = math.log10(model.prob(history, known))
                    assert abs(lp - direct) < 1e-4, (sentence, word, lp, direct)
                    scores.append(lp)
                    history += (known,)
                assert abs(sum(scores) - lm.score(sentence)) < 1e-4
                f.write(sentence + "\t" + " ".join(f"{s:.6f}" for s in scores) + "\n")
        print(f"order {order}: discounts {[[round(x, 4) for x in d] for d in model.d]}, "
              f"n-grams {[len(a) for a in model.adj]}, kenlm agrees with the direct formula")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    main()
