"""Regression of a noisy 4 sin(x) with an MLP and Adam. Prints the final MSE against
the noise-free curve and saves a plot of the fit (when matplotlib is installed).

    python examples/sine_regression.py [--epochs 300] [--plot sine_fit.png]
"""
from __future__ import annotations

import argparse

import numpy as np

from dptrain import ag


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", default="sine_fit.png", help="output image ('' for none)")
    args = ap.parse_args(argv)

    ag.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-np.pi, np.pi, size=(512, 1)).astype(np.float32)
    y = (4 * np.sin(x) + rng.normal(0, 0.3, size=x.shape)).astype(np.float32)
    x_test = np.linspace(-np.pi, np.pi, 200, dtype=np.float32)[:, None]
    y_true = 4 * np.sin(x_test)

    model = ag.Sequential(ag.Linear(1, 64, activation="tanh"), ag.Linear(64, 64, activation="tanh"),
                          ag.Linear(64, 1))
    opt = ag.optim.Adam(model.parameters(), lr=1e-2)
    sched = ag.optim.CosineLR(opt, T_max=args.epochs, lr_min=1e-4)
    loader = ag.DataLoader(x, y, batch_size=64, seed=args.seed)
    for epoch in range(1, args.epochs + 1):
        for xb, yb in loader:
            with ag.grad_tape():
                loss = ag.mse_loss(model(xb), yb)
            opt.step(ag.backward(loss))
        sched.step()
        if epoch % 100 == 0:
            print(f"epoch {epoch:4d}  train mse {loss.item():.4f}")

    with ag.no_grad():
        pred = model(x_test).numpy()
    mse = float(np.mean((pred - y_true) ** 2))
    print(f"final mse vs 4 sin(x): {mse:.4f}")
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: no plot")
        else:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.scatter(x[:, 0], y[:, 0], s=4, alpha=0.4, label="noisy samples")
            ax.plot(x_test[:, 0], y_true[:, 0], "k--", label="4 sin(x)")
            ax.plot(x_test[:, 0], pred[:, 0], "r", label="MLP fit")
            ax.legend()
            ax.set_title(f"sine regression, mse {mse:.4f}")
            fig.savefig(args.plot, dpi=100)
            plt.close(fig)
            print(f"plot saved to {args.plot}")
    return mse


if __name__ == "__main__":
    main()
