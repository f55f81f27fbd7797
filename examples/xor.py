"""XOR: a 2-4-1 network learns it; a linear model (logistic regression) cannot.

    python examples/xor.py [--steps 2000] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np

from dptrain import ag

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
Y = np.array([[0], [1], [1], [0]], np.float32)


def train(model, steps, lr):
    opt = ag.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        with ag.grad_tape():
            loss = ag.binary_cross_entropy(model(X), Y)
        opt.step(ag.backward(loss))
    with ag.no_grad():
        p = model(X).numpy()
    acc = float(((p > 0.5) == (Y > 0.5)).mean())
    return loss.item(), acc, p.ravel()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    ag.manual_seed(args.seed)

    linear = ag.Linear(2, 1, activation="sigmoid")
    mlp = ag.Sequential(ag.Linear(2, 4, activation="tanh"), ag.Linear(4, 1, activation="sigmoid"))
    results = {}
    for name, model in (("linear", linear), ("2-4-1 mlp", mlp)):
        loss, acc, p = train(model, args.steps, lr=0.05)
        results[name] = acc
        print(f"{name:>10}: loss {loss:.4f}  accuracy {acc:.2f}  outputs {np.round(p, 3).tolist()}")
    print(f"linear accuracy: {results['linear']:.2f}")
    print(f"mlp accuracy: {results['2-4-1 mlp']:.2f}")
    return results


if __name__ == "__main__":
    main()
