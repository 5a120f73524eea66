"""spectral.py: Spectral Signatures (Tran, Li, Madry 2018) as an external sample-level defence.

    python3 scripts/defenses/spectral.py --in IN --out OUT --scratch SCR [--eps 0.1] [--uncentred 0]
                                         [--iters 100] [--min-class 3] [--normalise 1]

A mirror of src/defense/spectral.c, same parameters and defaults, so its numbers can be set beside the
built-in one's: per label, the training samples' penultimate representations (the input of the last layer), the
top right-singular vector of the centred rows (power iteration on the Gram matrix X^T X / n, in double), score =
squared projection of the centred row (uncentred = 1: |projection| of the raw row), divided by the label's mean
score when normalise = 1; the top ceil(1.5 * eps * n_label) of each label are flagged (ties: lower index first).
Labels with fewer than min_class samples or non-finite activations are skipped (score 0, not flagged).

The one difference: the power iteration starts from numpy's default_rng(task seed) normals, not from the C
"spectral" stream, so when a label's top two singular values are close and 100 iterations do not converge the
direction can differ slightly; when it converges (the usual case) the scores agree to float rounding.

Writes out/sample_scores.npy (float32, n_train) and out/sample_flags.npy (uint8, n_train).
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdl  # noqa: E402


def options(ap):
    ap.add_argument("--eps", type=float, default=0.1, help="expected poison fraction per label (0..0.5); the top "
                    "ceil(1.5*eps*n) of each label are flagged")
    ap.add_argument("--uncentred", type=int, choices=(0, 1), default=0,
                    help="1 = score |v.R_i| on uncentred representations, as the official and ART code")
    ap.add_argument("--iters", type=int, default=100, help="power iterations for the top singular vector")
    ap.add_argument("--min-class", type=int, default=3, help="labels with fewer samples are skipped")
    ap.add_argument("--normalise", type=int, choices=(0, 1), default=1,
                    help="1 = divide scores by their label's mean before the global ranking; 0 = raw scores")


def top_singular(xc, iters, rng):
    """Top eigenvector of G = xc^T xc / n (xc centred, float64) by power iteration, as feat_top_singular.
    Returns (v, sigma2); sigma2 = 0 when G is zero."""
    n, d = xc.shape
    g = xc.T @ xc / n
    v = rng.standard_normal(d)
    v /= np.linalg.norm(v)
    lam = 0.0
    for _ in range(iters):
        u = g @ v
        nu = float(np.linalg.norm(u))
        if not (nu > 0) or not math.isfinite(nu):  # zero matrix: any unit vector is "top"; keep v
            lam = 0.0
            break
        lam = nu
        v = u / nu
    return v, lam


def run():
    args = bdl.parse_args("Spectral Signatures (Tran et al. 2018), external sample-level defence", options)
    if not 0 <= args.eps <= 0.5 or not 1 <= args.iters <= 10000 or args.min_class < 2:
        print("spectral.py: error: --eps must be in [0, 0.5], --iters in [1, 10000], --min-class >= 2", file=sys.stderr)
        sys.exit(bdl.EXIT_USAGE)
    task = bdl.load_task(args.in_dir)
    model = bdl.load_model(os.path.join(args.in_dir, "model.safetensors"))
    n, k = task["n_train"], model.num_classes
    x = bdl.load_npy(args.in_dir, "train_x", n, "x")
    y = bdl.load_npy(args.in_dir, "train_y", n, "y")
    bdl.check_labels(y, k, "train_y.npy")

    r = model.features(x)  # (n, D) float32
    del x
    scores = np.zeros(n, dtype=np.float32)
    flags = np.zeros(n, dtype=np.uint8)
    rng = np.random.default_rng(task["seed"])  # one stream across labels, drawn in label order, as the C code
    for c in range(k):
        idx = np.flatnonzero(y == c)  # ascending, as feat_label_rows
        nc = idx.size
        if nc == 0:
            continue
        if nc < args.min_class:
            print("label %d: %d sample(s) < min_class %d, skipped" % (c, nc, args.min_class))
            continue
        rc = r[idx]
        if not np.all(np.isfinite(rc)):
            print("label %d: non-finite activations, skipped" % c)
            continue
        rc64 = rc.astype(np.float64)
        mean = rc64.mean(axis=0)
        v, sigma2 = top_singular(rc64 - mean, args.iters, rng)
        if not sigma2 > 0:
            print("label %d: all representations identical, nothing to rank" % c)
            continue
        p = (rc64 - (0 if args.uncentred else mean)) @ v
        s64 = np.abs(p) if args.uncentred else p * p
        s = s64.astype(np.float32)  # C keeps each score as a float, but sums the doubles for the label mean
        total = float(np.sum(s64))
        norm = nc / total if args.normalise and total > 0 else 1.0  # score / (label mean score)
        scores[idx] = (s.astype(np.float64) * norm).astype(np.float32)
        remove = min(nc, int(math.ceil(1.5 * args.eps * nc - 1e-9)))
        order = np.argsort(-s, kind="stable")  # descending; ties keep the lower index first
        flags[idx[order[:remove]]] = 1
        print("label %d: n %d, top eigenvalue %.6g, flagged %d" % (c, nc, sigma2, remove))

    bdl.save_npy(args.out_dir, "sample_scores", scores)
    bdl.save_npy(args.out_dir, "sample_flags", flags)


if __name__ == "__main__":
    bdl.main("spectral.py", run)
