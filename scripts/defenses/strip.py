"""strip.py: STRIP (Gao et al. 2019) as an external input-level defence.

    python3 scripts/defenses/strip.py --in IN --out OUT --scratch SCR [--n 100] [--max-clean M]
                                      [--overlay 0] [--alpha 0.5] [--mix 0.5]

A mirror of src/defense/strip.c: each input is overlaid with N distinct images of the defender's clean split
(additive and saturated at 1 as the official code, or with --overlay 1 the alpha blend alpha*x + (1-alpha)*bg;
records: each overlay replaces round(mix*F) of the input's features, value and missing flag together, with a
clean record's), the model's softmax entropy in bits is averaged over the N overlays, and the score is -H
(higher = more suspicious: a triggered input keeps its prediction under any overlay, low entropy).
clean_input_scores.npy is the same score on the clean split, each clean image overlaid with N *other* clean
images (never itself), so the testbed can set thresholds at its false-rejection targets.

Differences from strip.c, and why:
  - random draws come from numpy's default_rng(task.json seed), not the C "strip" stream (not reproducible in
    Python bit for bit), so scores agree in distribution, not value by value. The order of use is the C one: the
    clean split is shuffled first, its images are scored in that order, then the inputs.
  - strip.c scores a calibration subset of calib = 2000 clean images and fits the boundary itself; here every
    clean image is scored (or the first --max-clean of the shuffled split; the others get NaN) and the testbed
    picks the thresholds from clean_input_scores.npy.

Writes out/input_scores.npy (float32, n_inputs) and out/clean_input_scores.npy (float32, n_clean).
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdl  # noqa: E402

BATCH = 512  # overlaid images per forward pass


def options(ap):
    ap.add_argument("--n", type=int, default=100, help="clean images overlaid on each input (the paper: 100)")
    ap.add_argument("--max-clean", type=int, default=None,
                    help="score at most this many clean images (default: all); the rest get NaN")
    ap.add_argument("--overlay", type=int, choices=(0, 1), default=0,
                    help="images: 0 = additive, saturated (official code); 1 = alpha blend")
    ap.add_argument("--alpha", type=float, default=0.5, help="--overlay 1: weight of the input in the blend")
    ap.add_argument("--mix", type=float, default=0.5,
                    help="records: fraction of the features each overlay replaces (at least one)")


def entropy_bits(logits):
    """Softmax entropies in bits of logits (R, K), in double as feat_softmax / feat_entropy_bits."""
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(p > 0, p * np.log2(p), 0.0)
    return -t.sum(axis=1)


class Overlayer:
    """Builds the N overlaid versions of one input. x and pool are float32 (n, sz) rows."""

    def __init__(self, pool, records, additive, alpha, mixk, rng):
        self.pool, self.records, self.additive, self.alpha, self.mixk, self.rng = pool, records, additive, alpha, mixk, rng

    def __call__(self, x, draw):
        bg = self.pool[draw]  # (N, sz)
        if self.records:
            f = x.shape[0] // 2
            out = np.repeat(x[None, :], len(draw), axis=0)
            # mixk distinct features per overlay, uniformly (C: a partial Fisher-Yates over the features)
            cols = self.rng.random((len(draw), f)).argsort(axis=1)[:, :self.mixk]
            rows = np.arange(len(draw))[:, None]
            out[rows, cols] = bg[rows, cols]
            out[rows, cols + f] = bg[rows, cols + f]
            return out
        v = x[None, :] + bg if self.additive else self.alpha * x[None, :] + (1 - self.alpha) * bg
        return np.minimum(v, np.float32(1)).astype(np.float32, copy=False)


def mean_entropies(model, src, order, n_overlays, pool, self_in_pool, overlayer, rng, what):
    """Mean entropy of each src[order[i]] under n_overlays distinct pool images (never itself when
    self_in_pool: one spare is drawn and the input, or the spare, dropped), as strip_entropies."""
    p = pool.shape[0]
    want = min(p, n_overlays + (1 if self_in_pool else 0))
    per = max(1, BATCH // n_overlays)  # inputs per forward pass
    h = np.empty(len(order), dtype=np.float64)
    next_report = 0.0
    for s in range(0, len(order), per):
        block, sizes = [], []
        for si in order[s:s + per]:
            draw = rng.choice(p, size=want, replace=False)
            if self_in_pool:
                draw = draw[draw != si]
            draw = draw[:n_overlays]
            block.append(overlayer(src[si], draw))
            sizes.append(len(draw))
        e = entropy_bits(model.logits(np.concatenate(block), batch=BATCH))
        pos = 0
        for j, m in enumerate(sizes):
            h[s + j] = e[pos:pos + m].sum() / max(m, 1)
            pos += m
        done = min(len(order), s + per) / max(1, len(order))
        if done >= next_report:
            print("strip %-6s %d/%d" % (what, min(len(order), s + per), len(order)), file=sys.stderr, flush=True)
            next_report += 0.1
    return h


def run():
    args = bdl.parse_args("STRIP (Gao et al. 2019), external input-level defence", options)
    if args.n < 1 or not 0 <= args.alpha <= 1 or not 0 <= args.mix <= 1 or (args.max_clean is not None and args.max_clean < 0):
        print("strip.py: error: --n >= 1, --alpha and --mix in [0, 1], --max-clean >= 0", file=sys.stderr)
        sys.exit(bdl.EXIT_USAGE)
    task = bdl.load_task(args.in_dir)
    model = bdl.load_model(os.path.join(args.in_dir, "model.safetensors"))
    n_clean, n_inputs = task["n_clean"], task["n_inputs"]
    pool = bdl.load_npy(args.in_dir, "clean_x", n_clean, "x")
    inputs = bdl.load_npy(args.in_dir, "inputs_x", n_inputs, "x")
    size = int(np.prod(model.input_shape))
    pool, inputs = pool.reshape(n_clean, -1), inputs.reshape(n_inputs, -1)
    if pool.shape[1] != size or inputs.shape[1] != size:
        raise bdl.BadInput("clean_x/inputs_x have %d/%d values per sample, the model takes %d"
                           % (pool.shape[1], inputs.shape[1], size))
    if n_clean < 3:
        raise bdl.BadInput("the defender's clean split has %d sample(s); STRIP needs at least 3" % n_clean)
    records = model.input_kind == "records"
    if records:  # values then missing flags; a missing value's slot enters as 0, as batch_load does
        f = size // 2
        pool[:, :f][pool[:, f:] > 0.5] = 0
        inputs[:, :f][inputs[:, f:] > 0.5] = 0
    mixk = max(1, int(math.floor(args.mix * (size // 2) + 0.5))) if records else 0  # lround
    n = args.n
    if n > n_clean - 1:
        print("n = %d overlays > clean split - 1; using %d" % (n, n_clean - 1))
        n = n_clean - 1
    m = n_clean if args.max_clean is None else min(args.max_clean, n_clean)

    rng = np.random.default_rng(task["seed"])
    overlayer = Overlayer(pool, records, args.overlay == 0, np.float32(args.alpha), mixk, rng)
    order = rng.permutation(n_clean)[:m]  # the C code shuffles the clean split first, then scores in that order
    h_clean = mean_entropies(model, pool, order, n, pool, True, overlayer, rng, "clean")
    h_in = mean_entropies(model, inputs, np.arange(n_inputs), n, pool, False, overlayer, rng, "inputs")

    if m and not np.all(np.isfinite(h_clean)):
        raise bdl.BadInput("the clean entropies are not finite (the model outputs NaN?)")
    bad = int(np.sum(~np.isfinite(h_in)))
    if bad:
        print("%d input(s) gave non-finite entropies" % bad)
    clean_scores = np.full(n_clean, np.nan, dtype=np.float32)
    clean_scores[order] = (-h_clean).astype(np.float32)
    kind = "feature-mixing (%d features)" % mixk if records else "additive" if args.overlay == 0 else "alpha-blend"
    print("overlays %d (%s), clean scored %d/%d, clean entropy mean %.6g std %.6g, inputs %d"
          % (n, kind, m, n_clean, h_clean.mean() if m else float("nan"),
             h_clean.std(ddof=1) if m > 1 else float("nan"), n_inputs))
    bdl.save_npy(args.out_dir, "input_scores", (-h_in).astype(np.float32))
    bdl.save_npy(args.out_dir, "clean_input_scores", clean_scores)


if __name__ == "__main__":
    bdl.main("strip.py", run)
