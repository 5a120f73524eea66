#!/usr/bin/python3
"""bench_peer.py: the PyTorch side of `make bench-peer` (scripts/bench-peer.sh runs it beside
`backdoorlab bench --peer` and prints the two side by side).

What is the same as backdoorlab's figures:
  - the network: reference-cnn (src/nn/model.c): conv 16 5, relu, maxpool 2, conv 32 5, relu, maxpool 2,
    flatten, dense 128, relu, dense 10 on 1x28x28, no padding, stride 1, biases everywhere; float32;
  - the step: batch 64 of random data already in memory, softmax cross-entropy, backward, SGD lr 0.01
    momentum 0.9 (no weight decay, no Nesterov); 5 warm-up steps, then the median of 7 timed runs of 20 steps;
  - the epoch: Fashion-MNIST's 60,000 training images from /usr/share/datasets/fashion-mnist, decoded (numpy +
    gzip) before the clock starts, as backdoorlab loads its dataset before train_model; each timed epoch
    shuffles, gathers each batch of 64 from the uint8 images and scales it to [0,1] floats, runs the step, and
    counts the loss and accuracy per batch (backdoorlab's loop does the same); median of E epochs;
  - the thread count: the caller sets OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS) and --threads, and the script
    calls torch.set_num_threads with it.

What differs (honestly):
  - PyTorch computes each layer its own way: convolutions through oneDNN (MKL-DNN) in Debian's build, the dense
    layers through whichever BLAS libblas.so.3 points at (scripts/install-bench-deps.sh installs OpenBLAS's
    OpenMP build, so it is not the reference BLAS), pooling and the rest in ATen's own kernels. backdoorlab
    runs im2col + its own sgemm. Neither side is given a faster or slower algorithm on purpose.
  - Memory layout: PyTorch's default NCHW makes oneDNN reorder every convolution's tensors; channels_last
    (NHWC) avoids that and was 1.5-2x faster here. By default (--layout best) the step is timed in both
    layouts and PyTorch's figures are the faster one's (the epoch runs in that layout); both are printed.
  - The data loader is a plain tensor gather (images[idx].float() / 255), the fastest loader PyTorch offers
    for data held in memory; torch.utils.data.DataLoader would be slower and is not used.
  - Python drives the loop: the interpreter's per-layer dispatch overhead is part of PyTorch's figure, as it
    is for anyone who trains with PyTorch.
  - Initial weights and the shuffle differ (PyTorch's default init and torch.randperm); neither changes the
    work done per step.
  - OpenMP waiting is the same, not each side's default: backdoorlab sets GOMP_SPINCOUNT=1000 for itself when
    the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, and bench-peer.sh then exports the same for this
    script; libgomp's default (spin 300,000 rounds) would be a few percent faster for either side alone on
    the cores and far slower on a shared machine. What the user exports applies to both.

Usage: /usr/bin/python3 scripts/bench_peer.py [--threads N] [--epochs E] [--data DIR]
                                              [--layout best|nchw|channels_last] [--json]
Prints the figures as text, or one JSON line with the same keys as `backdoorlab bench --peer --json`.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 64


def reference_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))


def sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    out = model(x)
    loss = F.cross_entropy(out, y)
    loss.backward()
    opt.step()
    return out, loss


def to_layout(t, layout):
    return t.to(memory_format=torch.channels_last) if layout == "channels_last" else t


def bench_step(layout, reps=7, steps=20):
    torch.manual_seed(1)
    model, x = to_layout(reference_cnn(), layout), to_layout(torch.rand(BATCH, 1, 28, 28), layout)
    y = torch.randint(0, 10, (BATCH,))
    opt = sgd(model)
    for _ in range(5):  # warm-up (oneDNN primitive creation, allocator)
        step(model, opt, x, y)
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step(model, opt, x, y)
        t.append((time.perf_counter() - t0) / steps)
    sec = statistics.median(t)
    flops = 0.0  # same count as backdoorlab's step_flops_per_image: 2*weights*outputs, x3 (x2 for layer 1)
    for i, (w, oh) in enumerate([(16 * 25, 24 * 24), (32 * 16 * 25, 8 * 8), (512 * 128, 1), (128 * 10, 1)]):
        flops += 2.0 * w * oh * (2 if i == 0 else 3)
    return BATCH / sec, flops * BATCH / sec * 1e-9


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if data[2] != 0x08:
        sys.exit(f"bench_peer.py: {path}: not unsigned-byte IDX data")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def bench_epochs(data_dir, epochs, layout):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    X = torch.from_numpy(images.copy()).reshape(-1, 1, 28, 28)  # uint8, as backdoorlab keeps its images
    Y = torch.from_numpy(labels.astype(np.int64))
    n = X.shape[0]
    torch.manual_seed(1)
    model = to_layout(reference_cnn(), layout)
    opt = sgd(model)
    gen = torch.Generator().manual_seed(1)
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            x = to_layout(X[idx].float().mul_(1.0 / 255.0), layout)
            y = Y[idx]
            out, loss = step(model, opt, x, y)
            lv = loss.item()  # backdoorlab checks every batch's loss for NaN (divergence guard)
            if lv != lv:
                sys.exit("bench_peer.py: training diverged")
            loss_sum += lv * len(idx)
            correct += int((out.argmax(1) == y).sum())
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates), rates, correct / n


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def blas_line():
    """The 'BLAS_INFO=..., USE_MKLDNN=...' facts of torch.__config__.show(), plus what libblas.so.3 is."""
    cfg = torch.__config__.show()
    keep = []
    for key in ("BLAS_INFO", "USE_MKLDNN", "USE_OPENMP"):
        for part in cfg.replace("\n", ",").split(","):
            if key + "=" in part:
                keep.append(part[part.index(key + "="):].strip())
    for line in cfg.splitlines():
        if "MKL-DNN" in line or "oneDNN" in line:
            keep.append(line.strip(" -"))
        if "CPU capability usage" in line:
            keep.append(line.strip(" -"))
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if os.path.exists(blas):
        keep.append("libblas.so.3 -> " + blas)
    return "; ".join(keep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--layout", choices=["best", "nchw", "channels_last"], default="best")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    by_layout = {}
    for layout in (["nchw", "channels_last"] if a.layout == "best" else [a.layout]):
        by_layout[layout] = bench_step(layout)
    layout = max(by_layout, key=lambda k: by_layout[k][0])
    step_ips, gflops = by_layout[layout]
    epoch, rates, acc = (0.0, [], 0.0)
    if a.epochs > 0:
        epoch, rates, acc = bench_epochs(a.data, a.epochs, layout)
    r = {"tool": "pytorch", "cpu": cpu_model(), "torch": torch.__version__, "config": blas_line(),
         "threads": torch.get_num_threads(), "layout": layout,
         "step_img_s_by_layout": {k: round(v[0], 1) for k, v in by_layout.items()}, "step_img_s": round(step_ips, 1), "step_gflops": round(gflops, 2),
         "epoch_img_s": round(epoch, 1), "epochs_img_s": [round(x, 1) for x in rates],
         "last_epoch_train_acc": round(acc, 4)}
    if a.json:
        print(json.dumps(r))
    else:
        print(f"PyTorch {r['torch']} ({r['config']}), {r['cpu']}, {r['threads']} thread(s)")
        print(f"reference-cnn training step, batch 64: {step_ips:.0f} img/s ({gflops:.1f} GFLOP/s, median of 7 x 20, "
              f"{layout}; by layout: " + ", ".join(f"{k} {v[0]:.0f}" for k, v in by_layout.items()) + ")")
        if rates:
            print(f"real epoch on {a.data}: {epoch:.0f} img/s (median of {len(rates)} epochs: "
                  + " ".join(f"{x:.0f}" for x in rates) + f"; train accuracy {acc:.3f})")


if __name__ == "__main__":
    main()
