"""keras.io "Text classification with Transformer" (IMDB), on generated reviews (offline).

A review is 64 token ids; positive and negative reviews draw more of their words from their own
block of the vocabulary. The keras.io model: TokenAndPositionEmbedding, one TransformerBlock
(MultiHeadAttention, feed-forward Sequential, LayerNormalization, Dropout), GlobalAveragePooling1D,
Dropout, Dense(20, relu), Dropout, Dense(2, softmax); Adam, sparse categorical crossentropy.
Run: python examples/keras_io/text_classification_with_transformer.py [--keras] [--epochs N]
"""
import os
import sys
import time

import numpy as np

if "--keras" in sys.argv or os.environ.get("KERAS_IO_BACKEND") == "keras":
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras import layers, ops
else:
    import dptrain as keras
    from dptrain import layers, ops

vocab_size = 2000
maxlen = 64


def make_reviews(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    words = rng.integers(10, vocab_size, (n, maxlen))
    # 15% of a review's words come from its class' 50 words (ids 10-59 positive, 60-109 negative)
    own = rng.integers(10, 60, (n, maxlen)) + 50 * (1 - y)[:, None]
    x = np.where(rng.random((n, maxlen)) < 0.15, own, words)
    return x, y


class TransformerBlock(layers.Layer):
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)])
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


def main(epochs=3, verbose=0):
    keras.utils.set_random_seed(0)
    x_train, y_train = make_reviews(2000, seed=0)
    x_val, y_val = make_reviews(500, seed=1)
    embed_dim, num_heads, ff_dim = 32, 2, 32

    inputs = layers.Input(shape=(maxlen,))
    embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
    x = embedding_layer(inputs)
    transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
    x = transformer_block(x)
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(20, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, validation_data=(x_val, y_val), verbose=verbose)
    seconds = time.perf_counter() - start
    loss, acc = model.evaluate(x_val, y_val, verbose=0)
    print(f"Validation loss: {loss:.4f}")
    print(f"accuracy: {acc:.4f}")
    print(f"train seconds: {seconds:.2f}")
    return {"accuracy": float(acc), "loss": float(loss), "seconds": seconds}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(epochs=int(args[args.index("--epochs") + 1]) if "--epochs" in args else 3, verbose=2)
