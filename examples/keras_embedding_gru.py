"""Embedding + GRU with a skip connection on a generated sequence task.

Each sequence holds 16 tokens from a vocabulary of 12; the label is which of the
tokens 1, 2, 3 occurs most often (ties never generated). The GRU reads the
embedded sequence; a skip path averages the embeddings over time
(Dense on the flattened embeddings), and both are concatenated before the classifier.
Prints the test accuracy.
"""
import numpy as np

import dptrain as dt
from dptrain import layers

VOCAB, LENGTH = 12, 16


def make_data(n, rng):
    x = rng.integers(0, VOCAB, size=(n, LENGTH))
    counts = np.stack([(x == t).sum(1) for t in (1, 2, 3)], axis=1)
    keep = np.sort(counts, axis=1)[:, -1] > np.sort(counts, axis=1)[:, -2]       # a unique winner
    return x[keep].astype(np.int32), counts[keep].argmax(1)


def main(epochs=12, verbose=0):
    dt.ag.manual_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = make_data(3000, rng)
    x_test, y_test = make_data(600, rng)

    tokens = dt.Input(shape=(LENGTH,), dtype="int32", name="tokens")
    emb = layers.Embedding(VOCAB, 16, name="embed")(tokens)
    seq = layers.GRU(32, name="gru")(emb)
    skip = layers.Dense(32, activation="relu", name="skip")(layers.Flatten()(emb))
    h = layers.Concatenate(name="join")([seq, skip])
    out = layers.Dense(3, activation="softmax", name="winner")(h)
    model = dt.Model(tokens, out, name="embedding_gru")
    model.compile(optimizer=dt.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if verbose:
        model.summary()
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, validation_split=0.1, verbose=verbose)
    result = model.evaluate(x_test, y_test, return_dict=True)
    print(f"Embedding + GRU + skip: test accuracy {result['accuracy']:.4f} (chance 0.33)")
    return result


if __name__ == "__main__":
    main(verbose=2)
