"""Reference outputs of Keras' legacy Tokenizer and pad_sequences.

Prints the expected values that crates/tokenize/tests/encoding.rs asserts.
Keras' text.py only needs numpy, so keras_legacy.py loads it straight from the wheel
(`pip download keras --no-deps`, unzip) without a deep-learning backend:

    python3 benches/reference/keras_tokenizer_reference.py /path/to/unzipped/keras-wheel
"""
import json
import sys

from keras_legacy import load

Tokenizer, pad_sequences = load(sys.argv[1])

docs = [
    ["영화", "정말", "재밌다", "배우", "연기", "최고"],
    ["영화", "별로", "지루하다", "연기", "별로"],
    ["정말", "최고", "영화", "Best"],
    ["배우", "best", "연기", "좋다"],
]
tests = [["영화", "꿀잼", "최고", "별로", "BEST", "지루하다"], []]

for kwargs in [{}, {"oov_token": "<OOV>"}, {"num_words": 5}, {"num_words": 5, "oov_token": "<OOV>"}]:
    t = Tokenizer(**kwargs)
    t.fit_on_texts(docs)
    seqs = t.texts_to_sequences(tests)
    print(kwargs)
    print("  word_index", list(t.word_index.items()))
    print("  sequences", seqs)
    print("  texts", t.sequences_to_texts(seqs + [[0, 3, 99]]))
    print("  word_docs", sorted(t.word_docs.items()))

t = Tokenizer(oov_token="<OOV>")
t.fit_on_texts(docs)
print("to_json", t.to_json(ensure_ascii=False))

s = [[1], [2, 3], [4, 5, 6]]
for kw in [{}, {"maxlen": 2}, {"maxlen": 2, "padding": "post", "truncating": "post"},
           {"maxlen": 4, "padding": "post", "value": 9}, {"maxlen": 2, "truncating": "post"}]:
    print("pad", kw, pad_sequences(s, **kw).tolist())
