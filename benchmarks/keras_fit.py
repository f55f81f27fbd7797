"""Keras-style `fit` throughput: dptrain vs a plain PyTorch eager loop (and Keras 3 when installed).

Models (the README's):
  MLP: Dense(128, relu, input 784) -> Dropout(0.3) -> Dense(10, softmax); adam; categorical_crossentropy.
  CNN: Conv2D(32, 3x3, relu) on 28x28x1 -> MaxPooling2D -> Conv2D(64, 3x3, relu) -> MaxPooling2D
       -> Flatten -> Dense(10, softmax); adam; categorical_crossentropy.
Both sides train on the same random data, with the same work per step: shuffle each
epoch, gather the batch, forward, loss, backward, Adam update, and the running loss and
accuracy that fit reports. Each measurement is the best of several one-epoch runs.
Prints samples/s and the ratio dptrain / torch (>= 1.0: dptrain is at least as fast).

BLAS/OpenMP threads default to 1 for numpy and torch alike (set OMP_NUM_THREADS to change):
on shared cores, multithreaded BLAS makes small-batch timings erratic for both sides.
Usage: python benchmarks/keras_fit.py [--quick] [--only mlp|cnn]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

_THREADS = os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _THREADS)
os.environ.setdefault("MKL_NUM_THREADS", _THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import dptrain as dt  # noqa: E402
from benchmarks._common import try_import_torch  # noqa: E402
from dptrain import layers  # noqa: E402


def make_data(kind, n, rng):
    if kind == "mlp":
        x = rng.standard_normal((n, 784)).astype(np.float32)
    else:
        x = rng.standard_normal((n, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    return x, np.eye(10, dtype=np.float32)[labels], labels


def dptrain_model(kind):
    if kind == "mlp":
        model = dt.Sequential([layers.Dense(128, activation="relu", input_shape=(784,)), layers.Dropout(0.3),
                               layers.Dense(10, activation="softmax")])
    else:
        model = dt.Sequential([layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                               layers.MaxPooling2D((2, 2)), layers.Conv2D(64, (3, 3), activation="relu"),
                               layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_model(torch, kind):
    nn = torch.nn
    if kind == "mlp":
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 10))


def torch_epoch(torch, model, opt, x, labels, batch_size):
    """One epoch of the loop a PyTorch user writes, reporting loss and accuracy like fit does."""
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(x)
    perm = torch.randperm(n)
    total, correct = 0.0, 0
    model.train()
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        xb, yb = x[idx], labels[idx]
        opt.zero_grad()
        logits = model(xb)
        loss = loss_fn(logits, yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
        correct += int((logits.argmax(1) == yb).sum())
    return total / n, correct / n


def best_of(fn, repeat):
    fn()   # warm-up (builds the compiled step / allocates buffers)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def keras3():
    try:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras
        return keras if int(keras.__version__.split(".")[0]) >= 3 else None
    except Exception:
        return None


def keras_model(keras, kind):
    L = keras.layers
    if kind == "mlp":
        m = keras.Sequential([keras.Input((784,)), L.Dense(128, activation="relu"), L.Dropout(0.3),
                              L.Dense(10, activation="softmax")])
    else:
        m = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(),
                              L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(), L.Flatten(),
                              L.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def run(kind, n, batch_sizes, repeat, torch, keras):
    rng = np.random.default_rng(0)
    x, y, labels = make_data(kind, n, rng)
    print(f"\n{kind.upper()}  ({n} samples per epoch, best of {repeat} epochs)")
    print(f"{'batch':>6} {'dptrain/s':>11} {'torch/s':>11} {'ratio':>7}" + (f" {'keras3/s':>11} {'ratio':>7}"
                                                                             if keras else ""))
    for bs in batch_sizes:
        dt.ag.manual_seed(0)
        model = dptrain_model(kind)
        ours = best_of(lambda: model.fit(x, y, epochs=1, batch_size=bs, verbose=0), repeat)
        line = f"{bs:>6} {n / ours:>11.0f}"
        if torch is not None:
            torch.manual_seed(0)
            tm = torch_model(torch, kind)
            opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
            tx = torch.from_numpy(x if kind == "mlp" else np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            tl = torch.from_numpy(labels)
            peer = best_of(lambda: torch_epoch(torch, tm, opt, tx, tl, bs), repeat)
            line += f" {n / peer:>11.0f} {peer / ours:>6.2f}x"
        else:
            line += f" {'(absent)':>11} {'':>7}"
        if keras is not None:
            km = keras_model(keras, kind)
            kt = best_of(lambda: km.fit(x, y, epochs=1, batch_size=bs, verbose=0), repeat)
            line += f" {n / kt:>11.0f} {kt / ours:>6.2f}x"
        print(line, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and repeats")
    ap.add_argument("--only", choices=("mlp", "cnn"))
    args = ap.parse_args()
    torch = try_import_torch(int(_THREADS))
    keras = keras3()
    print(f"threads={_THREADS}  torch {torch.__version__ if torch else 'absent'}  "
          f"keras {keras.__version__ + ' (torch backend)' if keras else 'absent'}")
    sizes = (32, 128, 512)
    if args.only in (None, "mlp"):
        run("mlp", 2048 if args.quick else 8192, sizes, 2 if args.quick else 4, torch, keras)
    if args.only in (None, "cnn"):
        run("cnn", 512 if args.quick else 2048, sizes, 1 if args.quick else 2, torch, keras)


if __name__ == "__main__":
    main()
