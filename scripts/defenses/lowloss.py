"""lowloss.py: the README's "Write your own defence" example, a sample-level defence in 20 lines of NumPy.

Idea (Li et al. 2021, anti-backdoor learning): a backdoored model fits its poisoned training samples faster and
better than the clean ones, because the trigger is an easier feature than the real content, so the samples it
fits best, per label, are the suspects. Score = minus the sample's cross-entropy loss under the model (higher =
more suspicious); flag the lowest-loss `--ratio` of each label.

    backdoorlab detect --run results/demo --defense external \
        --set cmd="python3 $PWD/scripts/defenses/lowloss.py --ratio 0.1" --as lowloss
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bdl  # noqa: E402  (safetensors reader, NumPy forward pass, the contract's arguments)


def run():
    args = bdl.parse_args("lowest-loss samples per label", lambda ap: ap.add_argument("--ratio", type=float, default=0.1))
    task = bdl.load_task(args.in_dir)
    model = bdl.load_model(os.path.join(args.in_dir, "model.safetensors"))
    x = bdl.load_npy(args.in_dir, "train_x", task["n_train"], "x")
    y = bdl.load_npy(args.in_dir, "train_y", task["n_train"], "y")
    z = model.logits(x).astype(np.float64)                          # (n, K)
    z -= z.max(axis=1, keepdims=True)
    loss = np.log(np.exp(z).sum(axis=1)) - z[np.arange(y.size), y]  # cross-entropy on the label as trained on
    score = (-loss).astype(np.float32)
    flags = np.zeros(y.size, dtype=np.uint8)
    for c in range(task["num_classes"]):                            # the lowest-loss `ratio` of each label
        idx = np.flatnonzero(y == c)
        flags[idx[np.argsort(loss[idx], kind="stable")[: int(np.ceil(args.ratio * idx.size))]]] = 1
    bdl.save_npy(args.out_dir, "sample_scores", score)
    bdl.save_npy(args.out_dir, "sample_flags", flags)


if __name__ == "__main__":
    bdl.main("lowloss.py", run)
