#!/usr/bin/python3
"""export_check.py: check that a model exported by `backdoorlab export` computes what backdoorlab computes.

    /usr/bin/python3 scripts/export_check.py MODEL.safetensors X.npy LOGITS.npy [--tol 1e-4] [--numpy-only]

Builds the torch.nn.Sequential the contract (/tmp/contract.md, issue 17) says the file maps to, one module per
item of the "layers" metadata, loads the tensors with load_state_dict(strict=True) (so names and shapes must be
exactly PyTorch's), runs it on X and compares with LOGITS (backdoorlab's own logits of X). --numpy-only does the
same with scripts/defenses/bdl.py instead of PyTorch (no torch needed). Prints the largest absolute difference;
exit 0 when it is within --tol, 1 when not, 3 on a bad file. Images and records models; text models are refused.
The file is parsed here by hand (bdl.read_safetensors), without the `safetensors` package.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "defenses"))
import bdl  # noqa: E402


def build_torch(layers, records, torch):
    """nn.Sequential for the "layers" metadata. Standardize is a small module with buffers mean and scale, so
    its state_dict keys are "i.mean" and "i.scale" as in the file."""
    nn = torch.nn

    class Standardize(nn.Module):
        """Records preprocessing, src/nn/standardize.c: x (B, 2F) = F values then F missing flags."""

        def __init__(self, f):
            super().__init__()
            self.register_buffer("mean", torch.zeros(f))
            self.register_buffer("scale", torch.ones(f))

        def forward(self, x):
            f = self.mean.shape[0]
            flags = x[:, f:]
            vals = torch.where(flags > 0.5, torch.zeros_like(flags), x[:, :f])
            return torch.cat([(vals - self.mean) * self.scale, flags], dim=1)

    class FlatLinear(nn.Linear):
        """A dense layer straight after a spatial layer (no flatten item): backdoorlab's dense flattens its
        input; nn.Linear does not. Same parameters and names as nn.Linear."""

        def forward(self, x):
            return super().forward(x.flatten(1))

    mods = []
    flat = records  # whether the tensor reaching the item is (B, F) rather than (B, C, H, W)
    for l in layers:
        kind, c_in = l["kind"], l["in"]
        if kind == "conv":
            mods.append(nn.Conv2d(c_in[0], l["out_channels"], l["kernel_size"], stride=l["stride"], padding=l["padding"]))
        elif kind == "relu":
            mods.append(nn.ReLU())
        elif kind == "maxpool":
            mods.append(nn.MaxPool2d(l["kernel_size"], l["stride"]))
        elif kind == "avgpool":
            mods.append(nn.AvgPool2d(l["kernel_size"], l["stride"]))
        elif kind == "flatten":
            mods.append(nn.Flatten())
        elif kind == "dense":
            mods.append((nn.Linear if flat else FlatLinear)(c_in[0] * c_in[1] * c_in[2], l["out_features"]))
        elif kind == "standardize":
            mods.append(Standardize(c_in[0] // 2))
        else:
            raise bdl.BadInput("layer %d: kind %r is not supported by export_check.py" % (l["index"], kind))
        flat = kind in ("flatten", "dense", "standardize") or (kind == "relu" and flat)
    return nn.Sequential(*mods)


def torch_logits(path, x, batch):
    import torch

    tensors, meta = bdl.read_safetensors(path)
    model = bdl.load_model(path)  # validates the metadata against the tensors first, with clear messages
    net = build_torch(model.layers, model.input_kind == "records", torch)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    net.eval()
    # records (N, 2F) go in flat, images as (N, C, H, W), as a PyTorch user would feed them
    shape = (-1, model.input_shape[0]) if model.input_kind == "records" else (-1,) + model.input_shape
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32).reshape(shape))
    out = []
    with torch.no_grad():
        for s in range(0, xt.shape[0], batch):
            out.append(net(xt[s:s + batch]).reshape(-1, model.num_classes).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.num_classes), np.float32), model


def run():
    ap = argparse.ArgumentParser(description="compare an exported model's logits with backdoorlab's")
    ap.add_argument("model", help="MODEL.safetensors from backdoorlab export")
    ap.add_argument("x", help="inputs .npy: (N,C,H,W) images or (N,2F) records")
    ap.add_argument("logits", help="backdoorlab's logits of those inputs, .npy (N, num_classes)")
    ap.add_argument("--tol", type=float, default=1e-4, help="largest absolute difference allowed (default 1e-4)")
    ap.add_argument("--numpy-only", action="store_true", help="use bdl.py's NumPy forward pass instead of PyTorch")
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    try:
        x = np.load(args.x, allow_pickle=False)
        want = np.load(args.logits, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise bdl.BadInput("cannot read %s / %s (%s)" % (args.x, args.logits, e)) from None
    if args.numpy_only:
        model = bdl.load_model(args.model)
        got, engine = model.logits(x, batch=args.batch), "numpy"
    else:
        got, model = torch_logits(args.model, x, args.batch)
        import torch
        engine = "torch " + torch.__version__
    if want.shape != got.shape:
        raise bdl.BadInput("%s has shape %r, the model gives %r for %s" % (args.logits, want.shape, got.shape, args.x))
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = float(diff.max()) if diff.size else 0.0
    agree = float(np.mean(got.argmax(1) == want.argmax(1))) if len(got) else 1.0
    ok = bool(np.isfinite(worst) and worst <= args.tol)
    print(json.dumps({"engine": engine, "n": int(len(got)), "max_abs_diff": worst,
                      "max_abs_logit": float(np.abs(want).max()) if want.size else 0.0,
                      "argmax_agreement": agree, "tol": args.tol, "ok": ok}))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    bdl.main("export_check.py", run)
