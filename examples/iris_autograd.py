"""Iris with the autograd engine: an MLP with BatchNorm and Dropout, Adam, a cosine
learning-rate schedule and gradient clipping. Prints the validation accuracy.

    python examples/iris_autograd.py [--epochs 150] [--seed 42]
"""
from __future__ import annotations

import argparse

import numpy as np

from dptrain import ag


def load_iris_split(seed):
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    x, y = load_iris(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=30, stratify=y, random_state=seed)
    mu, sd = x_tr.mean(axis=0), x_tr.std(axis=0)       # standardise with training statistics only
    return [((a - mu) / sd).astype(np.float32) for a in (x_tr, x_va)] + [y_tr, y_va]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    ag.manual_seed(args.seed)
    x_tr, x_va, y_tr, y_va = load_iris_split(args.seed)
    model = ag.Sequential(
        ag.Linear(4, 64, activation="relu"),
        ag.BatchNorm(64),
        ag.Dropout(0.3),
        ag.Linear(64, 32, activation="relu"),
        ag.Linear(32, 3),
    )
    opt = ag.optim.Adam(model.parameters(), lr=1e-3)
    sched = ag.optim.CosineLR(opt, T_max=args.epochs)
    loader = ag.DataLoader(x_tr, y_tr, batch_size=32, shuffle=True, seed=args.seed)

    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for xb, yb in loader:
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(xb), yb)
            grads = ag.backward(loss)
            ag.clip_grad_norm(model.parameters(), grads, max_norm=5.0)
            opt.step(grads)
            total += loss.item() * len(xb)
        sched.step()
        if epoch % 25 == 0 or epoch == args.epochs:
            model.eval()
            with ag.no_grad():
                acc = float((model(x_va).numpy().argmax(axis=1) == y_va).mean())
            print(f"epoch {epoch:3d}  loss {total / len(x_tr):.4f}  val_accuracy {acc:.4f}  lr {opt.lr:.2e}")
    print(f"validation accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
