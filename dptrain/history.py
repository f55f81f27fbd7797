"""History: the per-epoch logs of a fit (`.history`), and a plot of them."""
from __future__ import annotations

from .models.callback_list import Callback


class History(Callback):
    """Records `logs` at the end of every epoch: `.history` maps each name ("loss", "accuracy",
    "val_loss", ...) to a list with one value per epoch; `.epoch` lists the epoch numbers."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def plot(self, path=None, metrics=None):
        """One panel per metric (training and validation curves); saved to `path` when given.
        Returns the matplotlib Figure. Needs matplotlib (pip install matplotlib)."""
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("History.plot needs matplotlib, which is not installed; "
                              "install it with `pip install matplotlib` (or `pip install dptrain[plot]`)") from None
        names = [k for k in self.history if not k.startswith("val_")] if metrics is None else list(metrics)
        names = [k for k in names if k in self.history or f"val_{k}" in self.history]
        if not names:
            raise ValueError("History.plot: nothing to plot (no epochs recorded, or none of the requested metrics)")
        fig = Figure(figsize=(5 * len(names), 3.6))
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, k in zip(axes, names):
            for key, label in ((k, "training"), (f"val_{k}", "validation")):
                if key in self.history:
                    values = self.history[key]
                    xs = [e + 1 for e in self.epoch] if len(self.epoch) == len(values) else \
                        list(range(1, len(values) + 1))
                    ax.plot(xs, values, marker="o", label=label)
            ax.set_title(k)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig

    def __repr__(self):
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"
