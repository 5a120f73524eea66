"""test_bdl.py: self-test of bdl.py, spectral.py, strip.py and export_check.py without the C side.

    /usr/bin/python3 scripts/defenses/test_bdl.py

Builds small random models as safetensors files per the contract (/tmp/contract.md), checks bdl.py's logits
against a loop-by-loop NumPy reference and, when torch is importable, against the nn.Sequential of
export_check.py (1e-4); checks that truncated or garbled files raise ValueError; runs both defences on a tiny
synthetic in/ directory and export_check.py on a pair of .npy files. Prints one line per check; exit 1 on failure.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import bdl  # noqa: E402
import export_check  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

failures = []


def check(name, ok, detail=""):
    print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail else ""))
    if not ok:
        failures.append(name)


# ---------------------------------------------------------------------------------------------------------------
# random models in the contract's format

def make_model(path, arch, input_shape, num_classes, kind="images", rng=None):
    """arch: list of (kind, dict of options) as the network description's items; writes PATH, returns the
    tensors. Shapes and the "layers" metadata are computed here independently of bdl.py."""
    rng = rng or np.random.default_rng(0)
    shape, layers, tensors = list(input_shape), [], {}
    for i, (k, o) in enumerate(arch):
        c, h, w = shape
        l = {"index": i, "kind": k, "in": list(shape)}
        if k == "conv":
            oc, ks, s, p = o["out"], o["k"], o.get("stride", 1), o.get("pad", 0)
            tensors["%d.weight" % i] = rng.normal(0, (2 / (c * ks * ks)) ** 0.5, (oc, c, ks, ks))  # He scale: logits O(1-10)
            tensors["%d.bias" % i] = rng.normal(0, 0.1, oc)
            shape = [oc, (h + 2 * p - ks) // s + 1, (w + 2 * p - ks) // s + 1]
            l.update(out_channels=oc, kernel_size=ks, stride=s, padding=p)
        elif k in ("maxpool", "avgpool"):
            ks, s = o["k"], o.get("stride", o["k"])
            shape = [c, (h - ks) // s + 1, (w - ks) // s + 1]
            l.update(kernel_size=ks, stride=s)
        elif k == "flatten":
            shape = [c * h * w, 1, 1]
        elif k == "dense":
            n = o["n"]
            tensors["%d.weight" % i] = rng.normal(0, (2 / (c * h * w)) ** 0.5, (n, c * h * w))
            tensors["%d.bias" % i] = rng.normal(0, 0.1, n)
            shape = [n, 1, 1]
            l.update(out_features=n, in_features=c * h * w)
        elif k == "standardize":
            tensors["%d.mean" % i] = rng.normal(0, 1, c // 2)
            tensors["%d.scale" % i] = rng.uniform(0.5, 2, c // 2)
        l["out"] = list(shape)
        layers.append(l)
    meta = {"format": "backdoorlab-model/1", "architecture": ", ".join(k for k, _ in arch),
            "layers": json.dumps(layers), "num_classes": str(num_classes),
            "input_shape": ",".join(map(str, input_shape)), "input_kind": kind}
    tensors = {k: v.astype(np.float32) for k, v in tensors.items()}
    bdl.write_safetensors(path, tensors, meta)
    return tensors


def ref_logits(tensors, arch, x):
    """Loop-by-loop forward pass in float64: the definitions, not the fast paths."""
    a = x.astype(np.float64)
    for i, (k, o) in enumerate(arch):
        if k == "conv":
            w, b = tensors["%d.weight" % i], tensors["%d.bias" % i]
            s, p, ks = o.get("stride", 1), o.get("pad", 0), o["k"]
            a = np.pad(a, ((0, 0), (0, 0), (p, p), (p, p)))
            oh, ow = (a.shape[2] - ks) // s + 1, (a.shape[3] - ks) // s + 1
            y = np.zeros((a.shape[0], w.shape[0], oh, ow))
            for r in range(oh):
                for q in range(ow):
                    patch = a[:, :, r * s:r * s + ks, q * s:q * s + ks]
                    y[:, :, r, q] = np.einsum("bckl,ockl->bo", patch, w) + b
            a = y
        elif k == "relu":
            a = np.maximum(a, 0)
        elif k in ("maxpool", "avgpool"):
            ks, s = o["k"], o.get("stride", o["k"])
            oh, ow = (a.shape[2] - ks) // s + 1, (a.shape[3] - ks) // s + 1
            y = np.zeros(a.shape[:2] + (oh, ow))
            for r in range(oh):
                for q in range(ow):
                    win = a[:, :, r * s:r * s + ks, q * s:q * s + ks]
                    y[:, :, r, q] = win.max(axis=(2, 3)) if k == "maxpool" else win.mean(axis=(2, 3))
            a = y
        elif k == "flatten":
            a = a.reshape(a.shape[0], -1)
        elif k == "dense":
            a = a.reshape(a.shape[0], -1) @ tensors["%d.weight" % i].T + tensors["%d.bias" % i]
        elif k == "standardize":
            a = a.reshape(a.shape[0], -1)
            f = a.shape[1] // 2
            flags = a[:, f:]
            vals = np.where(flags > 0.5, 0, a[:, :f])
            a = np.concatenate([(vals - tensors["%d.mean" % i]) * tensors["%d.scale" % i], flags], axis=1)
    return a.reshape(a.shape[0], -1)


ARCHS = {
    # odd sizes so the floor in pooling and strided convolution matters
    "small-cnn": ([("conv", {"out": 4, "k": 3, "pad": 1}), ("relu", {}), ("maxpool", {"k": 2}),
                   ("conv", {"out": 6, "k": 3, "stride": 2, "pad": 1}), ("relu", {}), ("avgpool", {"k": 2, "stride": 1}),
                   ("flatten", {}), ("dense", {"n": 7}), ("relu", {}), ("dense", {"n": 3})], (2, 11, 11), "images"),
    "reference-cnn": ([("conv", {"out": 16, "k": 5}), ("relu", {}), ("maxpool", {"k": 2}), ("conv", {"out": 32, "k": 5}),
                       ("relu", {}), ("maxpool", {"k": 2}), ("flatten", {}), ("dense", {"n": 128}), ("relu", {}),
                       ("dense", {"n": 10})], (1, 28, 28), "images"),
    "dense-no-flatten": ([("conv", {"out": 3, "k": 3}), ("relu", {}), ("dense", {"n": 4})], (1, 6, 6), "images"),
    "mlp-records": ([("standardize", {}), ("dense", {"n": 8}), ("relu", {}), ("dense", {"n": 3})], (10, 1, 1), "records"),
}


def random_inputs(shape, kind, n, rng):
    if kind == "records":
        f = shape[0] // 2
        vals = rng.normal(0, 2, (n, f)).astype(np.float32)
        flags = (rng.random((n, f)) < 0.3).astype(np.float32)
        vals[flags > 0] = 0
        return np.concatenate([vals, flags], axis=1)
    return rng.random((n,) + tuple(shape), dtype=np.float32)


def test_forward(tmp):
    rng = np.random.default_rng(1)
    for name, (arch, shape, kind) in ARCHS.items():
        path = os.path.join(tmp, name + ".safetensors")
        tensors = make_model(path, arch, shape, arch[-1][1]["n"], kind, rng)
        m = bdl.load_model(path)
        x = random_inputs(shape, kind, 37, rng)
        got = m.logits(x, batch=16)  # batch smaller than n: the batching is exercised too
        want = ref_logits(tensors, arch, x)
        check("%s: numpy logits == reference" % name, got.dtype == np.float32 and got.shape == want.shape
              and np.abs(got - want).max() < 1e-4, "max diff %.3g" % np.abs(got - want).max())
        feats = m.features(x)
        check("%s: features width" % name, feats.shape == (37, m.feature_dim))
        if torch is not None:
            tl, _ = export_check.torch_logits(path, x, 16)
            check("%s: numpy logits == torch" % name, np.abs(got - tl).max() < 1e-4,
                  "max diff %.3g" % np.abs(got - tl).max())


def test_bad_files(tmp):
    rng = np.random.default_rng(2)
    arch, shape, kind = ARCHS["small-cnn"]
    good = os.path.join(tmp, "good.safetensors")
    make_model(good, arch, shape, 3, kind, rng)
    raw = open(good, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])

    def with_header(h, data=raw[8 + n:]):
        b = json.dumps(h).encode()
        b += b" " * (-len(b) % 8)
        return struct.pack("<Q", len(b)) + b + data

    def edit(fn):
        h = json.loads(json.dumps(header))
        fn(h)
        return with_header(h)

    meta_layers = json.loads(header["__metadata__"]["layers"])
    cases = {
        "empty file": b"",
        "truncated length": raw[:5],
        "truncated data": raw[:-4],
        "header longer than file": struct.pack("<Q", len(raw)) + raw[8:],
        "garbled header": raw[:8] + b"{not json" + raw[17:],
        "trailing bytes": raw + b"\0" * 4,
        "offsets out of range": edit(lambda h: h["0.bias"].__setitem__("data_offsets", [0, 10 ** 9])),
        "shape/offsets mismatch": edit(lambda h: h["0.bias"].__setitem__("shape", [5])),
        "dtype F16": edit(lambda h: h["0.bias"].__setitem__("dtype", "F16")),
        "missing tensor": edit(lambda h: h.pop("7.bias")),
        "wrong conv weight shape": edit(lambda h: h["0.weight"].__setitem__("shape", [4, 2, 9, 1])),
        "layers not JSON": edit(lambda h: h["__metadata__"].__setitem__("layers", "[{")),
        "wrong format": edit(lambda h: h["__metadata__"].__setitem__("format", "other/9")),
        "layer out shape wrong": edit(lambda h: h["__metadata__"].__setitem__(
            "layers", json.dumps([dict(l, out=[1, 1, 1]) if l["index"] == 2 else l for l in meta_layers]))),
        "text layer": edit(lambda h: h["__metadata__"].__setitem__(
            "layers", json.dumps([dict(l, kind="embed") if l["index"] == 1 else l for l in meta_layers]))),
    }
    # the second tensor in data order moved 4 bytes back, onto the end of the first
    second = sorted((v["data_offsets"][0], k) for k, v in header.items() if k != "__metadata__")[1][1]
    cases["overlap"] = edit(lambda h: h[second].__setitem__("data_offsets", [o - 4 for o in h[second]["data_offsets"]]))
    for name, blob in cases.items():
        p = os.path.join(tmp, "bad.safetensors")
        with open(p, "wb") as f:
            f.write(blob)
        try:
            bdl.load_model(p)
            check("bad file (%s) raises ValueError" % name, False, "loaded")
        except ValueError as e:
            check("bad file (%s) raises ValueError" % name, True, str(e)[:110])


# ---------------------------------------------------------------------------------------------------------------
# the defences and export_check.py, end to end as the testbed runs them

def make_in_dir(root, rng, model="small-cnn"):
    arch, shape, kind = ARCHS[model]
    d = os.path.join(root, "in")
    os.makedirs(d)
    for sub in ("out", "scratch"):
        os.makedirs(os.path.join(root, sub))
    make_model(os.path.join(d, "model.safetensors"), arch, shape, 3, kind, rng)
    n_train, n_clean, n_inputs = 90, 20, 15
    np.save(os.path.join(d, "train_x.npy"), random_inputs(shape, kind, n_train, rng))
    np.save(os.path.join(d, "train_y.npy"), rng.integers(0, 3, n_train).astype(np.int64))
    np.save(os.path.join(d, "clean_x.npy"), random_inputs(shape, kind, n_clean, rng))
    np.save(os.path.join(d, "clean_y.npy"), rng.integers(0, 3, n_clean).astype(np.int64))
    np.save(os.path.join(d, "inputs_x.npy"), random_inputs(shape, kind, n_inputs, rng))
    task = {"contract": 1, "input_kind": kind, "input_shape": list(shape), "num_classes": 3, "n_train": n_train,
            "n_clean": n_clean, "n_inputs": n_inputs, "seed": 7, "frr_targets": [0.005, 0.01, 0.02, 0.03]}
    with open(os.path.join(d, "task.json"), "w") as f:
        json.dump(task, f)
    return d


def run_defence(script, root, *extra):
    cmd = [sys.executable, os.path.join(HERE, script), "--in", os.path.join(root, "in"), "--out",
           os.path.join(root, "out"), "--scratch", os.path.join(root, "scratch")] + list(extra)
    return subprocess.run(cmd, cwd=os.path.join(root, "scratch"), capture_output=True, text=True)


def test_defences(tmp):
    rng = np.random.default_rng(3)
    root = os.path.join(tmp, "run")
    d = make_in_dir(root, rng)
    out = os.path.join(root, "out")

    r = run_defence("spectral.py", root)
    check("spectral.py exits 0", r.returncode == 0, r.stderr.strip()[-300:])
    if r.returncode == 0:
        s = np.load(os.path.join(out, "sample_scores.npy"))
        f = np.load(os.path.join(out, "sample_flags.npy"))
        check("spectral outputs: float32/uint8 (n_train,)", s.dtype == np.float32 and f.dtype == np.uint8
              and s.shape == f.shape == (90,))
        # reference: the exact top eigenvector (eigh) instead of power iteration, same scores expected
        m = bdl.load_model(os.path.join(d, "model.safetensors"))
        feats = m.features(np.load(os.path.join(d, "train_x.npy"))).astype(np.float64)
        y = np.load(os.path.join(d, "train_y.npy"))
        want, wflags = np.zeros(90), np.zeros(90, np.uint8)
        for c in range(3):
            idx = np.flatnonzero(y == c)
            xc = feats[idx] - feats[idx].mean(0)
            v = np.linalg.eigh(xc.T @ xc / len(idx))[1][:, -1]
            sc = (xc @ v) ** 2
            want[idx] = sc / sc.mean()
            wflags[idx[np.argsort(-sc, kind="stable")[:int(np.ceil(1.5 * 0.1 * len(idx) - 1e-9))]]] = 1
        check("spectral scores == eigh reference", np.abs(s - want).max() < 1e-3 * max(1, want.max()),
              "max diff %.3g" % np.abs(s - want).max())
        check("spectral flags == eigh reference", np.array_equal(f, wflags), "%d flagged" % f.sum())
    leftovers = [n for n in os.listdir(out) if n.startswith(".")]
    check("no temp files left in out/", not leftovers, str(leftovers))

    r = run_defence("strip.py", root, "--n", "8")
    check("strip.py exits 0", r.returncode == 0, r.stderr.strip()[-300:])
    if r.returncode == 0:
        a = np.load(os.path.join(out, "input_scores.npy"))
        b = np.load(os.path.join(out, "clean_input_scores.npy"))
        check("strip outputs: float32 (n_inputs,), (n_clean,), finite, <= 0", a.dtype == b.dtype == np.float32
              and a.shape == (15,) and b.shape == (20,) and np.all(np.isfinite(a)) and np.all(np.isfinite(b))
              and a.max() <= 0 and b.max() <= 0)
        r2 = run_defence("strip.py", root, "--n", "8")
        a2 = np.load(os.path.join(out, "input_scores.npy"))
        check("strip is reproducible (same seed, same scores)", r2.returncode == 0 and np.array_equal(a, a2))
    r = run_defence("strip.py", root, "--n", "50", "--max-clean", "5")
    b = np.load(os.path.join(out, "clean_input_scores.npy"))
    check("strip --n capped, --max-clean 5 gives 5 scores and NaN for the rest",
          r.returncode == 0 and "using 19" in r.stdout and np.sum(np.isfinite(b)) == 5, r.stderr.strip()[-200:])

    # bad input: exit non-zero with a message
    os.rename(os.path.join(d, "train_y.npy"), os.path.join(d, "train_y.bak"))
    np.save(os.path.join(d, "train_y.npy"), np.zeros(89, np.int64))
    r = run_defence("spectral.py", root)
    check("spectral.py: wrong train_y length -> exit 3 + message", r.returncode == 3 and "train_y" in r.stderr,
          r.stderr.strip())
    with open(os.path.join(d, "model.safetensors"), "r+b") as f:
        f.truncate(100)
    r = run_defence("strip.py", root)
    check("strip.py: truncated model -> exit 3 + message", r.returncode == 3 and "safetensors" in r.stderr,
          r.stderr.strip())
    os.remove(os.path.join(d, "task.json"))
    r = run_defence("strip.py", root)
    check("strip.py: no task.json -> non-zero + message", r.returncode != 0 and "task.json" in r.stderr,
          r.stderr.strip())


def test_records_defences(tmp):
    """Both defences on a records model: feature-mixing overlays, standardize in the forward pass."""
    root = os.path.join(tmp, "run-records")
    make_in_dir(root, np.random.default_rng(5), "mlp-records")
    out = os.path.join(root, "out")
    r = run_defence("spectral.py", root)
    ok = r.returncode == 0 and np.load(os.path.join(out, "sample_scores.npy")).shape == (90,)
    check("records: spectral.py runs", ok, r.stderr.strip()[-300:])
    r = run_defence("strip.py", root, "--n", "6", "--mix", "0.3")
    ok = r.returncode == 0 and "feature-mixing (2 features)" in r.stdout and np.all(np.isfinite(np.load(os.path.join(out, "input_scores.npy"))))
    check("records: strip.py runs (feature mixing, round(0.3*5) = 2 features)", ok, (r.stdout + r.stderr).strip()[-300:])


def test_export_check(tmp):
    rng = np.random.default_rng(4)
    for name in ("reference-cnn", "mlp-records"):
        arch, shape, kind = ARCHS[name]
        path = os.path.join(tmp, "ec-%s.safetensors" % name)
        tensors = make_model(path, arch, shape, arch[-1][1]["n"], kind, rng)
        x = random_inputs(shape, kind, 20, rng)
        xp, lp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "logits.npy")
        np.save(xp, x)
        np.save(lp, ref_logits(tensors, arch, x).astype(np.float32))
        script = os.path.join(os.path.dirname(HERE), "export_check.py")
        modes = [["--numpy-only"]] + ([[]] if torch is not None else [])
        for mode in modes:
            r = subprocess.run([sys.executable, script, path, xp, lp] + mode, capture_output=True, text=True)
            check("export_check %s %s: exit 0" % (name, mode or "torch"), r.returncode == 0, (r.stdout + r.stderr).strip())
        np.save(lp, ref_logits(tensors, arch, x).astype(np.float32) + 1e-3)
        for mode in modes:
            r = subprocess.run([sys.executable, script, path, xp, lp] + mode, capture_output=True, text=True)
            check("export_check %s %s: off by 1e-3 -> exit 1" % (name, mode or "torch"), r.returncode == 1,
                  r.stdout.strip())


def main():
    print("torch: %s" % (torch.__version__ if torch is not None else "not importable, torch checks skipped"))
    with tempfile.TemporaryDirectory() as tmp:
        test_forward(tmp)
        test_bad_files(tmp)
        test_defences(tmp)
        test_records_defences(tmp)
        test_export_check(tmp)
    print("%d failure(s)" % len(failures))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
