"""A Keras fit with fixed weights and no shuffling; run alone (argv: global batch) or under the
launcher (the batch per worker is global batch / world size). Prints one RESULT line."""
import json
import os
import sys

import numpy as np

import dptrain as dt
from dptrain import layers

global_batch, n_train, n_eval = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
world = int(os.environ.get("WORLD_SIZE", "1"))
rng = np.random.default_rng(0)
x = rng.standard_normal((n_train, 6)).astype(np.float32)
y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
xe = rng.standard_normal((n_eval, 6)).astype(np.float32)
ye = (xe[:, 0] - xe[:, 1] > 0).astype(np.int64)
model = dt.Sequential([dt.Input((6,)), layers.Dense(8, activation="tanh"), layers.Dense(2, activation="softmax")])
wr = np.random.default_rng(1)
model.set_weights([wr.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
model.compile(optimizer=dt.optimizers.SGD(learning_rate=0.2, momentum=0.9), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
hist = model.fit(x, y, batch_size=global_batch // world, epochs=3, shuffle=False, validation_data=(xe, ye),
                 verbose=0)
logs = model.evaluate(xe, ye, return_dict=True, verbose=0)
print("RESULT " + json.dumps({"history": hist.history, "evaluate": logs,
                              "weights": [w.tolist() for w in model.get_weights()]}), flush=True)
