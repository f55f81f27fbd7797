"""Keras fit on digits, run alone or under dptrain-launch; prints the History as JSON."""
import json
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import dptrain as dt
from dptrain import ag, layers

out_dir = sys.argv[1]
ctx = dt.distributed.init(timeout=30)
ag.manual_seed(7)
d = load_digits()
x = (d.data / 16.0).astype(np.float32)
x_train, x_test, y_train, y_test = train_test_split(x, d.target, test_size=0.25, random_state=0, stratify=d.target)
model = dt.Sequential([layers.Dense(64, activation="relu", input_shape=(64,)), layers.Dropout(0.2),
                       layers.Dense(10, activation="softmax")])
model.compile(optimizer=dt.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
csv = f"{out_dir}/log.csv"
hist = model.fit(x_train, y_train, epochs=12, batch_size=32 // ctx.world_size, validation_split=0.1, verbose=2,
                 callbacks=[dt.callbacks.CSVLogger(csv)])
acc = model.evaluate(x_test, y_test, return_dict=True)["accuracy"]
print("HISTORY " + json.dumps({"history": hist.history, "test_accuracy": acc}), flush=True)
