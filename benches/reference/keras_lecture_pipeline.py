"""The lecture's NSMC preprocessing with python-mecab-ko and Keras' Tokenizer:
expected values for `lecture_pipeline_matches_mecab_and_keras` in
crates/tokenize/tests/encoding.rs.

clean with [^ㄱ-ㅎㅏ-ㅣ가-힣 ] → MeCab morphs → lecture stopwords removed →
Tokenizer fit → rare words (count < 3) → Tokenizer(num_words) →
texts_to_sequences → pad_sequences(maxlen=30).

    python3 benches/reference/keras_lecture_pipeline.py /path/to/unzipped/keras-wheel
"""
import re
import sys

import mecab

from keras_legacy import load

Tokenizer, pad_sequences = load(sys.argv[1])

STOPWORDS = ['의', '가', '이', '은', '들', '는', '좀', '잘', '강', '과', '도', '를', '으로', '자', '에', '와', '한', '하다']
DOCS = 2000


def documents(path, n):
    rows = open(path, encoding="utf-8").read().splitlines()[1 : n + 1]
    return [row.split("\t")[1] for row in rows]


m = mecab.MeCab()


def preprocess(doc):
    doc = re.sub("[^ㄱ-ㅎㅏ-ㅣ가-힣 ]", "", doc)
    return [w for w in m.morphs(doc) if w not in STOPWORDS]


train = [preprocess(d) for d in documents("../shared/data/nsmc/ratings_train.txt", DOCS)]
test = [preprocess(d) for d in documents("../shared/data/nsmc/ratings_test.txt", 5)]
t = Tokenizer()
t.fit_on_texts(train)
threshold = 3
total = len(t.word_index)
rare = sum(1 for c in t.word_counts.values() if c < threshold)
total_freq = sum(t.word_counts.values())
rare_freq = sum(c for c in t.word_counts.values() if c < threshold)
vocab_size = total - rare + 1
print("total, rare, total_freq, rare_freq, vocab_size =", total, rare, total_freq, rare_freq, vocab_size)
t2 = Tokenizer(vocab_size)
t2.fit_on_texts(train)
print("top 10:", list(t2.word_index.items())[:10])
x = pad_sequences(t2.texts_to_sequences(test), maxlen=30)
print("padded test[:5]:", x.tolist())
