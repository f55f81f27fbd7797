"""Convolution and recurrent training steps with an `ag` loop and the same loop in PyTorch CPU;
prints samples/s for both and the ratio ag / torch (>= 1.0: dptrain is at least as fast).

Models (every step: forward, softmax cross-entropy, backward, Adam update):
  cnn   the README CNN on 28x28x1: Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu)
        -> global average pooling -> Dense(10); batch 32 and 128.
  fcn   a Conv1D FCN over length 176 (1 channel): 3 x [Conv1D(64, 3, same) -> BatchNorm -> ReLU]
        -> global average pooling -> Dense(10); batch 32 and 128.
  lstm, gru   LSTM(32) / GRU(32) over T = 16, 64, 256, 1024 steps of 8 features, batch 64; the
        last state -> Dense(10). Also prints microseconds per time step (flat when linear in T).

Both frameworks see the same data in the same order with the same number of threads (numpy's
BLAS via threadpoolctl, torch.set_num_threads); they are timed alternately in the same run,
best of --repeats rounds each, after a warm-up round. The header names numpy's BLAS and the
kernels it chose: OpenBLAS picks them from the CPU when it loads and falls back to older ones on
CPUs it does not know (OPENBLAS_CORETYPE, set before Python starts, overrides the choice).

    python benchmarks/conv_rnn.py [--only cnn,fcn,lstm,gru] [--threads 1,2] [--repeats 3]
                                  [--seq-lens 16,64,256,1024] [--profile cnn:32|lstm:256|...]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dptrain import ag  # noqa: E402
from engine.modules import init  # noqa: E402

CLASSES = 10
FEATURES, UNITS, RNN_BATCH = 8, 32, 64


# --- data --------------------------------------------------------------------------------------
def make_batches(kind, batch, steps, seq_len=None, seed=0):
    """`steps` (x, labels) batches, channels-last as dptrain takes them."""
    rng = np.random.default_rng(seed)
    if kind == "cnn":
        shape = (batch, 28, 28, 1)
    elif kind == "fcn":
        shape = (batch, 176, 1)
    else:
        shape = (batch, seq_len, FEATURES)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, CLASSES, batch))
            for _ in range(steps)]


def torch_layout(kind, x):
    """Channels-first copies for torch's convolutions (made once, outside the timing)."""
    if kind == "cnn":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if kind == "fcn":
        return np.ascontiguousarray(x.transpose(0, 2, 1))
    return x


# --- dptrain (ag) models ---------------------------------------------------------------------------
class AgCNN(ag.Module):
    def __init__(self):
        super().__init__()
        self.new_param("w1", init.glorot_uniform((3, 3, 1, 32)))
        self.new_param("b1", init.zeros((32,)))
        self.new_param("w2", init.glorot_uniform((3, 3, 32, 64)))
        self.new_param("b2", init.zeros((64,)))
        self.head = ag.Linear(64, CLASSES)

    def forward(self, x):
        x = ag.relu(ag.conv2d(x, self.w1, self.b1))
        x = ag.max_pool2d(x, 2)
        x = ag.relu(ag.conv2d(x, self.w2, self.b2))
        return self.head(ag.mean(x, axis=(1, 2)))


class AgFCN(ag.Module):
    def __init__(self, channels=(1, 64, 64, 64)):
        super().__init__()
        self.blocks = len(channels) - 1
        for i, (cin, cout) in enumerate(zip(channels, channels[1:])):
            self.new_param(f"w{i}", init.glorot_uniform((3, cin, cout)))
            self.new_param(f"b{i}", init.zeros((cout,)))
            setattr(self, f"bn{i}", ag.BatchNorm(cout))
        self.head = ag.Linear(channels[-1], CLASSES)

    def forward(self, x):
        for i in range(self.blocks):
            x = ag.conv1d(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"), padding="same")
            x = ag.relu(getattr(self, f"bn{i}")(x))
        return self.head(ag.mean(x, axis=1))


class AgRNN(ag.Module):
    def __init__(self, cell):
        super().__init__()
        self.rnn = getattr(ag, cell.upper())(FEATURES, UNITS)
        self.head = ag.Linear(UNITS, CLASSES)

    def forward(self, x):
        return self.head(self.rnn(x))


class AgRunner:
    def __init__(self, kind):
        ag.manual_seed(0)
        self.model = {"cnn": AgCNN, "fcn": AgFCN}[kind]() if kind in ("cnn", "fcn") else AgRNN(kind)
        self.opt = ag.optim.Adam(self.model.parameters(), lr=1e-3)

    def steps(self, batches):
        model, opt = self.model, self.opt
        loss = None
        for x, y in batches:
            xb = ag.tensor(x)
            with ag.grad_tape():
                loss = ag.softmax_cross_entropy_loss(model(xb), y)
            opt.step(ag.backward(loss))
        return loss.item()


# --- torch models -----------------------------------------------------------------------------------
def torch_model(torch, kind):
    nn = torch.nn
    if kind == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, CLASSES))
    if kind == "fcn":
        layers, cin = [], 1
        for _ in range(3):
            layers += [nn.Conv1d(cin, 64, 3, padding="same"), nn.BatchNorm1d(64), nn.ReLU()]
            cin = 64
        return nn.Sequential(*layers, nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, CLASSES))

    class RNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, kind.upper())(FEATURES, UNITS, batch_first=True)
            self.head = nn.Linear(UNITS, CLASSES)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1])
    return RNN()


class TorchRunner:
    def __init__(self, torch, kind):
        self.torch = torch
        torch.manual_seed(0)
        self.model = torch_model(torch, kind)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.kind = kind

    def steps(self, batches):
        torch, model, opt = self.torch, self.model, self.opt
        loss = None
        for x, y in batches:
            xb, yb = torch.from_numpy(torch_layout(self.kind, x)), torch.from_numpy(y)
            opt.zero_grad()
            loss = self.loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        return loss.item()


# --- timing --------------------------------------------------------------------------------------
def compare(kind, batch, steps, repeats, torch, seq_len=None):
    """Best seconds per round of `steps` train steps, for ag and torch, timed alternately."""
    rounds = [make_batches(kind, batch, steps, seq_len, seed=r) for r in range(repeats + 1)]
    runners = {"ag": AgRunner(kind)}
    if torch is not None:
        runners["torch"] = TorchRunner(torch, kind)
    best = {k: float("inf") for k in runners}
    for r in runners.values():        # warm-up round
        r.steps(rounds[0])
    for rep in range(repeats):
        for k, r in runners.items():
            t0 = time.perf_counter()
            r.steps(rounds[rep + 1])
            best[k] = min(best[k], time.perf_counter() - t0)
    return best


def rate_line(label, samples, best, extra=""):
    ag_sps = samples / best["ag"]
    if "torch" not in best:
        return f"{label:>10} {ag_sps:>12,.0f} {'-':>12} {'-':>7}{extra}"
    t_sps = samples / best["torch"]
    return f"{label:>10} {ag_sps:>12,.0f} {t_sps:>12,.0f} {ag_sps / t_sps:>7.2f}{extra}"


def blas_name():
    from threadpoolctl import threadpool_info
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            arch = f", {lib['architecture']} kernels" if lib.get("architecture") else ""
            return f"{lib.get('internal_api')} {lib.get('version')}{arch}"
    return "unknown"


def profile(spec):
    kind, _, size = spec.partition(":")
    size = int(size or (32 if kind in ("cnn", "fcn") else 256))
    if kind in ("cnn", "fcn"):
        batches = make_batches(kind, size, 8)
    else:
        batches = make_batches(kind, RNN_BATCH, 2, seq_len=size)
    runner = AgRunner(kind)
    runner.steps(batches[:1])
    prof = cProfile.Profile()
    prof.enable()
    runner.steps(batches)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="cnn,fcn,lstm,gru")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-sizes", default="32,128", help="for cnn and fcn")
    ap.add_argument("--samples", type=int, default=1024, help="samples per timed round (cnn, fcn)")
    ap.add_argument("--seq-lens", default="16,64,256,1024")
    ap.add_argument("--profile", metavar="KIND[:SIZE]",
                    help="instead of timing, cProfile ag steps (SIZE: batch for cnn/fcn, T for lstm/gru)")
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits
    try:
        import torch
    except ImportError:
        torch = None
    if args.profile:
        threadpool_limits(int(args.threads.split(",")[0]))
        profile(args.profile)
        return
    kinds = args.only.split(",")
    print(f"torch {torch.__version__ if torch else 'absent (ag only)'}; numpy BLAS {blas_name()}; "
          f"best of {args.repeats} rounds")
    for threads in (int(t) for t in args.threads.split(",")):
        threadpool_limits(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        for kind in kinds:
            if kind in ("cnn", "fcn"):
                print(f"\n{kind.upper()}, {threads} thread(s), {args.samples} samples per round")
                print(f"{'batch':>10} {'ag/s':>12} {'torch/s':>12} {'ratio':>7}")
                for bs in (int(b) for b in args.batch_sizes.split(",")):
                    steps = max(1, args.samples // bs)
                    best = compare(kind, bs, steps, args.repeats, torch)
                    print(rate_line(str(bs), steps * bs, best), flush=True)
            else:
                print(f"\n{kind.upper()}({UNITS}), {FEATURES} features, batch {RNN_BATCH}, {threads} thread(s)")
                print(f"{'T':>10} {'ag/s':>12} {'torch/s':>12} {'ratio':>7} {'ag us/step':>11} {'torch us/step':>14}")
                for t in (int(s) for s in args.seq_lens.split(",")):
                    steps = max(2, 512 // t)
                    best = compare(kind, RNN_BATCH, steps, args.repeats, torch, seq_len=t)
                    per = {k: 1e6 * v / (steps * t) for k, v in best.items()}
                    extra = f" {per['ag']:>11.1f}" + (f" {per['torch']:>14.1f}" if "torch" in per else "")
                    print(rate_line(str(t), steps * RNN_BATCH, best, extra), flush=True)


if __name__ == "__main__":
    main()
