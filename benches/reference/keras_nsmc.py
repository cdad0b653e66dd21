"""The lecture's NSMC sentiment pipeline in Keras, as the reference malmoi-seq is measured against.

Okt morphemes with stems -> the lecture's stopwords -> Keras Tokenizer (words with frequency < 3
dropped) -> pad_sequences(maxlen=30) -> Embedding(vocab, 100) -> LSTM(128) -> Dense(1, sigmoid);
RMSprop, batch 64, validation_split 0.2, EarlyStopping(val_loss, patience 4), at most 15 epochs,
best checkpoint kept; test accuracy on ratings_test.txt.

Run (CPU; tensorflow-cpu, konlpy with a JVM):
    pip install tensorflow-cpu konlpy
    python benches/reference/keras_nsmc.py --data ../shared/data/nsmc

Prints vocabulary size, seconds per epoch, epochs run, test accuracy and peak memory (ru_maxrss).
"""
import argparse
import os
import resource
import time

import numpy as np


def read_tsv(path):
    """NSMC files have no quoting: split every line on tabs as it is."""
    ids, docs, labels = [], [], []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            docs.append(parts[1])
            labels.append(int(parts[2]))
    return docs, np.array(labels)


STOPWORDS = ['의', '가', '이', '은', '들', '는', '좀', '잘', '강', '과', '도', '를', '으로', '자', '에', '와', '한', '하다']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/nsmc")
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()

    import re
    from konlpy.tag import Okt
    from tensorflow import keras
    from tensorflow.keras.preprocessing.text import Tokenizer
    from tensorflow.keras.preprocessing.sequence import pad_sequences

    okt = Okt()

    def tokenize(docs):
        out = []
        for d in docs:
            d = re.sub("[^ㄱ-ㅎㅏ-ㅣ가-힣 ]", "", d).strip()
            out.append([w for w in okt.morphs(d, stem=True) if w not in STOPWORDS])
        return out

    train_docs, y_train = read_tsv(os.path.join(args.data, "ratings_train.txt"))
    test_docs, y_test = read_tsv(os.path.join(args.data, "ratings_test.txt"))
    t0 = time.time()
    x_train, x_test = tokenize(train_docs), tokenize(test_docs)
    t_tok = time.time() - t0
    print(f"tokenized {len(train_docs) + len(test_docs)} docs in {t_tok:.1f} s "
          f"({(len(train_docs) + len(test_docs)) / t_tok:.0f} docs/s)")

    tok = Tokenizer()
    tok.fit_on_texts(x_train)
    rare = sum(1 for c in tok.word_counts.values() if c < 3)
    vocab_size = len(tok.word_index) - rare + 1
    tok = Tokenizer(vocab_size)
    tok.fit_on_texts(x_train)
    x_train, x_test = tok.texts_to_sequences(x_train), tok.texts_to_sequences(x_test)
    keep = [i for i, s in enumerate(x_train) if len(s) >= 1]
    x_train = [x_train[i] for i in keep]
    y_train = y_train[keep]
    x_train, x_test = pad_sequences(x_train, maxlen=30), pad_sequences(x_test, maxlen=30)
    print(f"vocabulary {vocab_size}")

    model = keras.Sequential([
        keras.layers.Embedding(vocab_size, 100),
        keras.layers.LSTM(128),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.time()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.time() - self.t)

    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    history = model.fit(
        x_train, y_train, epochs=args.epochs, batch_size=64, validation_split=0.2, verbose=2,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", mode="min", patience=4),
                   keras.callbacks.ModelCheckpoint("/tmp/keras_nsmc_best.keras", monitor="val_acc",
                                                   mode="max", save_best_only=True), Timer()])
    best = keras.models.load_model("/tmp/keras_nsmc_best.keras")
    _, acc = best.evaluate(x_test, y_test, verbose=0)
    print(f"epochs {len(history.history['loss'])}, seconds/epoch {np.mean(times):.1f}, "
          f"test accuracy {acc * 100:.2f} %, peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
