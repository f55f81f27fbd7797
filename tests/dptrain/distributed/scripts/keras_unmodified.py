"""A plain Keras program (no dptrain.distributed call): run alone or under dptrain-launch.

argv: model kind (sequential | functional | subclassed). Prints one RESULT line with the
History, the number of training batches this process ran and a digest of its weights.
"""
import hashlib
import json
import sys

import numpy as np

import dptrain as dt
from dptrain import ag, layers

kind = sys.argv[1]
ag.manual_seed(3)
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)

if kind == "sequential":
    model = dt.Sequential([layers.Dense(16, activation="relu", input_shape=(8,)), layers.Dense(2, activation="softmax")])
elif kind == "functional":
    inp = dt.Input(shape=(8,))
    out = layers.Dense(2, activation="softmax")(layers.Dense(16, activation="relu")(inp))
    model = dt.Model(inp, out)
else:
    class Net(dt.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(16, activation="relu")
            self.head = layers.Dense(2, activation="softmax")

        def call(self, inputs):
            return self.head(self.hidden(inputs))
    model = Net()


class CountBatches(dt.callbacks.Callback):
    batches = 0

    def on_train_batch_end(self, batch, logs=None):
        CountBatches.batches += 1


model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
hist = model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[CountBatches()])
digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())).hexdigest()
print("RESULT " + json.dumps({"history": hist.history, "batches": CountBatches.batches, "digest": digest}), flush=True)
