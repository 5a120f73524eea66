"""bdl.py: the NumPy side of backdoorlab's external-defence contract (issue 17, /tmp/contract.md, version 1).

What a defence written in Python needs and nothing more:
  - read_safetensors / write_safetensors: the safetensors format parsed by hand (u64 LE header length, JSON
    header, raw little-endian data), F32 tensors only, every offset and shape checked (ValueError otherwise);
  - load_model: the network described by the file's "layers" metadata, run forward in NumPy (float32) for the
    image and record layer kinds (conv, relu, maxpool, avgpool, flatten, dense, standardize);
  - parse_args / load_inputs / save_npy / main: the --in/--out/--scratch command line, in/ read and checked
    against task.json, outputs written atomically, errors turned into a message on stderr and an exit code.

Text models (embed, meanpool, conv1d, maxtime) are refused for now: the contract lets the Python side do so.
Run with an interpreter that has NumPy (on Debian: /usr/bin/python3).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

CONTRACT = 1
MODEL_FORMAT = "backdoorlab-model/1"
HEADER_MAX = 100 * 1024 * 1024  # the safetensors reference refuses headers above 100 MB too

# Exit codes, as backdoorlab's own: 1 runtime failure, 2 usage, 3 bad or corrupt input data or model.
EXIT_RUN, EXIT_USAGE, EXIT_DATA = 1, 2, 3


class BadInput(ValueError):
    """Bad or corrupt input (model file, .npy, task.json): exit code 3."""


# ---------------------------------------------------------------------------------------------------------------
# safetensors

def read_safetensors(path):
    """Read a safetensors file. Returns (tensors: name -> float32 ndarray, metadata: dict of str -> str).

    Checks, as the reference implementation does: the header fits in the file, is a JSON object, every tensor
    has dtype F32, a shape of non-negative ints and data_offsets [begin, end] with end - begin = 4 * prod(shape),
    the tensors do not overlap and together cover the data section exactly (no gap, no trailing bytes)."""
    with open(path, "rb") as f:
        raw = f.read()
    where = "%s: not a valid safetensors file" % path
    if len(raw) < 8:
        raise BadInput("%s: %d bytes, shorter than the 8-byte header length (truncated?)" % (where, len(raw)))
    (n,) = struct.unpack("<Q", raw[:8])
    if n > HEADER_MAX or 8 + n > len(raw):
        raise BadInput("%s: header length %d does not fit in the %d-byte file (truncated?)" % (where, n, len(raw)))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput("%s: header is not JSON (%s)" % (where, e)) from None
    if not isinstance(header, dict):
        raise BadInput("%s: header is not a JSON object" % where)
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise BadInput("%s: __metadata__ must map strings to strings" % where)
    data = memoryview(raw)[8 + n:]
    spans, tensors = [], {}
    for name, t in header.items():
        if not isinstance(t, dict) or set(t) != {"dtype", "shape", "data_offsets"}:
            raise BadInput("%s: tensor %r needs exactly dtype, shape and data_offsets" % (where, name))
        if t["dtype"] != "F32":
            raise BadInput("%s: tensor %r has dtype %r; only F32 is expected" % (where, name, t["dtype"]))
        shape, off = t["shape"], t["data_offsets"]
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise BadInput("%s: tensor %r has a bad shape %r" % (where, name, shape))
        if (not isinstance(off, list) or len(off) != 2 or not all(isinstance(o, int) for o in off)
                or not 0 <= off[0] <= off[1] <= len(data)):
            raise BadInput("%s: tensor %r has data_offsets %r outside the %d data bytes" % (where, name, off, len(data)))
        count = int(np.prod(shape, dtype=np.int64))
        if off[1] - off[0] != 4 * count:
            raise BadInput("%s: tensor %r: shape %r needs %d bytes, data_offsets span %d"
                           % (where, name, shape, 4 * count, off[1] - off[0]))
        spans.append((off[0], off[1], name))
        # copy: the arrays outlive `raw` and must be writeable
        tensors[name] = np.frombuffer(data[off[0]:off[1]], dtype="<f4").astype(np.float32).reshape(shape)
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            raise BadInput("%s: tensor %r starts at byte %d of the data, expected %d (%s)"
                           % (where, name, begin, pos, "overlap" if begin < pos else "gap"))
        pos = end
    if pos != len(data):
        raise BadInput("%s: the tensors cover %d of the %d data bytes" % (where, pos, len(data)))
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    """Write float32 tensors (name -> array) and string metadata as safetensors, atomically (temp + rename).
    Tensors are laid out in name order; the header is padded with spaces to a multiple of 8, as the contract."""
    header, chunks, pos = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [pos, pos + a.nbytes]}
        chunks.append(a.tobytes())
        pos += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# layers: each a function over a float32 batch (B, C, H, W), or (B, F) after flatten / for records

def _windows(x, k, s):
    """(B, C, H, W) -> (B, C, OH, OW, k, k) strided view of every k x k window at stride s (floor mode)."""
    v = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))
    return v[:, :, ::s, ::s]


def conv2d(x, w, b, stride, pad):
    """x (B, C, H, W), w (OUT, C, K, K), b (OUT) -> (B, OUT, OH, OW): im2col + one matmul, in chunks of the
    batch so the column matrix stays below ~64 MB whatever the batch."""
    out_c, c, k, _ = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    wm = w.reshape(out_c, c * k * k).T  # (C*K*K, OUT), rows in (c, kh, kw) order = PyTorch's weight layout
    step = max(1, (16 << 20) // max(1, c * k * k * oh * ow))
    y = np.empty((x.shape[0], out_c, oh, ow), dtype=np.float32)
    for s in range(0, x.shape[0], step):
        win = _windows(x[s:s + step], k, stride)                      # (b, C, OH, OW, K, K)
        col = win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * k * k)  # (b*OH*OW, C*K*K)
        r = col @ wm + b                                              # (b*OH*OW, OUT)
        y[s:s + step] = r.reshape(-1, oh, ow, out_c).transpose(0, 3, 1, 2)
    return y


def pool2d(x, k, stride, op):
    """Max or average pooling, no padding, windows overhanging the edge dropped (PyTorch's floor mode)."""
    win = _windows(x, k, stride)
    return (win.max(axis=(4, 5)) if op == "max" else win.mean(axis=(4, 5), dtype=np.float32)).astype(np.float32)


def standardize(x, mean, scale):
    """x (B, 2F): F values then F missing flags. As src/nn/standardize.c: a flag counts when > 0.5, its value
    enters as 0; out = (value - mean) * scale, flags passed through."""
    f = mean.shape[0]
    x = x.reshape(x.shape[0], 2 * f)
    flags = x[:, f:]
    vals = np.where(flags > 0.5, np.float32(0), x[:, :f])
    return np.concatenate([(vals - mean) * scale, flags], axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# model

IMAGE_KINDS = {"conv", "relu", "maxpool", "avgpool", "flatten", "dense", "standardize"}
TEXT_KINDS = {"embed", "meanpool", "conv1d", "maxtime"}


def _int(meta, key, path):
    try:
        return int(meta[key])
    except (KeyError, ValueError):
        raise BadInput("%s: metadata %r missing or not an integer" % (path, key)) from None


class Model:
    """A backdoorlab model read from safetensors. layers: the "layers" metadata (list of dicts); params:
    per layer a dict of its tensors; input_shape (C, H, W) of one sample; num_classes."""

    def __init__(self, path):
        tensors, meta = read_safetensors(path)
        self.path, self.meta = path, meta
        if meta.get("format") != MODEL_FORMAT:
            raise BadInput("%s: metadata format is %r, expected %r" % (path, meta.get("format"), MODEL_FORMAT))
        self.num_classes = _int(meta, "num_classes", path)
        try:
            self.input_shape = tuple(int(v) for v in meta["input_shape"].split(","))
            self.layers = json.loads(meta["layers"])
        except (KeyError, ValueError) as e:
            raise BadInput("%s: metadata input_shape/layers missing or malformed (%s)" % (path, e)) from None
        self.input_kind = meta.get("input_kind", "images")
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise BadInput("%s: input_shape %r is not C,H,W" % (path, meta["input_shape"]))
        if not isinstance(self.layers, list) or not self.layers:
            raise BadInput("%s: metadata layers is not a non-empty JSON array" % path)
        self.params = []
        used = set()
        shape = list(self.input_shape)
        for i, l in enumerate(self.layers):
            if not isinstance(l, dict) or l.get("index") != i or "kind" not in l:
                raise BadInput("%s: layers[%d] is not {\"index\": %d, \"kind\": ...}" % (path, i, i))
            kind = l["kind"]
            if kind in TEXT_KINDS:
                raise BadInput("%s: layer %d is %r: text models are not supported by bdl.py yet" % (path, i, kind))
            if kind not in IMAGE_KINDS:
                raise BadInput("%s: layer %d has unknown kind %r" % (path, i, kind))
            if list(l.get("in", [])) != shape:
                raise BadInput("%s: layer %d (%s) says its input is %r, the layers before give %r"
                               % (path, i, kind, l.get("in"), shape))
            names = {"conv": ("weight", "bias"), "dense": ("weight", "bias"),
                     "standardize": ("mean", "scale")}.get(kind, ())
            p = {}
            for nm in names:
                key = "%d.%s" % (i, nm)
                if key not in tensors:
                    raise BadInput("%s: tensor %r (layer %d, %s) is missing" % (path, key, i, kind))
                p[nm] = tensors[key]
                used.add(key)
            shape = self._check_layer(l, p, shape)
            if list(l.get("out", [])) != shape:
                raise BadInput("%s: layer %d (%s) says its output is %r, computed %r" % (path, i, kind, l.get("out"), shape))
            self.params.append(p)
        extra = sorted(set(tensors) - used)
        if extra:
            raise BadInput("%s: tensors not used by any layer: %s" % (path, ", ".join(extra)))
        if shape[0] * shape[1] * shape[2] != self.num_classes:
            raise BadInput("%s: the network outputs %r values, num_classes is %d" % (path, shape, self.num_classes))
        # the penultimate representation is the input of the last layer, as feat_dim/feat_penultimate in
        # src/defense/features.c (the last layer is "dense classes" in every preset)
        self.feature_dim = int(np.prod(self.layers[-1]["in"]))

    def _check_layer(self, l, p, shape):
        """Check one layer's parameters against its metadata; return its output shape [C, H, W]."""
        c, h, w = shape
        kind, i = l["kind"], l["index"]

        def need(cond, what):
            if not cond:
                raise BadInput("%s: layer %d (%s): %s" % (self.path, i, kind, what))

        if kind == "conv":
            oc, k, s, pd = (l.get(key) for key in ("out_channels", "kernel_size", "stride", "padding"))
            need(all(isinstance(v, int) for v in (oc, k, s, pd)) and oc > 0 and k > 0 and s > 0 and pd >= 0,
                 "out_channels/kernel_size/stride/padding missing or invalid")
            need(p["weight"].shape == (oc, c, k, k), "weight shape %r, expected %r" % (p["weight"].shape, (oc, c, k, k)))
            need(p["bias"].shape == (oc,), "bias shape %r, expected (%d,)" % (p["bias"].shape, oc))
            need(h + 2 * pd >= k and w + 2 * pd >= k, "kernel %d does not fit %dx%d with padding %d" % (k, h, w, pd))
            return [oc, (h + 2 * pd - k) // s + 1, (w + 2 * pd - k) // s + 1]
        if kind in ("maxpool", "avgpool"):
            k, s = l.get("kernel_size"), l.get("stride")
            need(isinstance(k, int) and isinstance(s, int) and k > 0 and s > 0 and h >= k and w >= k,
                 "kernel_size/stride missing or the window does not fit %dx%d" % (h, w))
            return [c, (h - k) // s + 1, (w - k) // s + 1]
        if kind == "dense":
            n_in, n_out = c * h * w, l.get("out_features")
            need(isinstance(n_out, int) and n_out > 0, "out_features missing or invalid")
            need(l.get("in_features", n_in) == n_in, "in_features %r, the input has %d values" % (l.get("in_features"), n_in))
            need(p["weight"].shape == (n_out, n_in), "weight shape %r, expected %r" % (p["weight"].shape, (n_out, n_in)))
            need(p["bias"].shape == (n_out,), "bias shape %r, expected (%d,)" % (p["bias"].shape, n_out))
            return [n_out, 1, 1]
        if kind == "flatten":
            return [c * h * w, 1, 1]
        if kind == "standardize":
            need(h == 1 and w == 1 and c % 2 == 0, "needs a records input (2F,1,1), got %r" % (shape,))
            need(p["mean"].shape == (c // 2,) and p["scale"].shape == (c // 2,), "mean/scale shapes must be (%d,)" % (c // 2))
            return shape
        return shape  # relu

    def _layer(self, i, x):
        l, p = self.layers[i], self.params[i]
        kind = l["kind"]
        if kind == "conv":
            return conv2d(x, p["weight"], p["bias"], l["stride"], l["padding"])
        if kind == "relu":
            return np.maximum(x, np.float32(0))
        if kind in ("maxpool", "avgpool"):
            return pool2d(x, l["kernel_size"], l["stride"], kind[:3])
        if kind == "flatten":
            return x.reshape(x.shape[0], -1, 1, 1)
        if kind == "dense":  # any input is flattened first, as src/nn/dense.c
            return (x.reshape(x.shape[0], -1) @ p["weight"].T + p["bias"]).reshape(x.shape[0], -1, 1, 1)
        if kind == "standardize":
            return standardize(x, p["mean"], p["scale"]).reshape(x.shape[0], -1, 1, 1)
        raise AssertionError(kind)

    def _prepare(self, x):
        """Any (N, ...) array whose samples hold prod(input_shape) values -> float32 (N, C, H, W)."""
        x = np.asarray(x)
        if x.ndim < 1 or int(np.prod(x.shape[1:])) != int(np.prod(self.input_shape)):
            raise BadInput("inputs of shape %r do not match the model's input %r per sample" % (x.shape, self.input_shape))
        return np.ascontiguousarray(x, dtype=np.float32).reshape((x.shape[0],) + self.input_shape)

    def _run(self, x, upto, batch):
        x = self._prepare(x)
        outs = []
        for s in range(0, x.shape[0], batch):
            a = x[s:s + batch]
            for i in range(upto):
                a = self._layer(i, a)
            outs.append(a.reshape(a.shape[0], -1))
        if not outs:
            width = self.num_classes if upto == len(self.layers) else self.feature_dim
            return np.zeros((0, width), dtype=np.float32)
        return np.concatenate(outs).astype(np.float32, copy=False)

    def logits(self, x, batch=512):
        """Logits (N, num_classes) of inputs x (N, C, H, W) or (N, 2F) for records, float32."""
        return self._run(x, len(self.layers), batch)

    def features(self, x, batch=512):
        """Penultimate activations (N, feature_dim): the input of the last layer (the last dense)."""
        if len(self.layers) < 2:
            raise BadInput("%s: the model has no penultimate layer" % self.path)
        return self._run(x, len(self.layers) - 1, batch)


def load_model(path):
    return Model(path)


# ---------------------------------------------------------------------------------------------------------------
# the contract's command line and files

def parse_args(description, add_options=None, argv=None):
    """--in DIR --out DIR --scratch DIR (all required, as the testbed passes them) plus the defence's own
    options, added by add_options(parser)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--in", dest="in_dir", required=True, help="the contract's in/ directory (read only)")
    ap.add_argument("--out", dest="out_dir", required=True, help="where the results go")
    ap.add_argument("--scratch", dest="scratch_dir", required=True, help="working space")
    if add_options:
        add_options(ap)
    return ap.parse_args(argv)


def load_task(in_dir):
    path = os.path.join(in_dir, "task.json")
    try:
        with open(path) as f:
            task = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise BadInput("%s: cannot read the task description (%s)" % (path, e)) from None
    if not isinstance(task, dict) or task.get("contract") != CONTRACT:
        raise BadInput("%s: contract %r, this script speaks contract %d"
                       % (path, task.get("contract") if isinstance(task, dict) else None, CONTRACT))
    for key in ("num_classes", "n_train", "n_clean", "n_inputs", "seed"):
        if not isinstance(task.get(key), int) or task[key] < 0:
            raise BadInput("%s: %r missing or not a non-negative integer" % (path, key))
    return task


def load_npy(in_dir, name, rows, kind):
    """Load in/NAME.npy (no pickles) and check it has `rows` rows. kind: "x" (float inputs) or "y" (labels)."""
    path = os.path.join(in_dir, name + ".npy")
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise BadInput("%s: cannot read (%s)" % (path, e)) from None
    if a.ndim < 1 or a.shape[0] != rows:
        raise BadInput("%s: shape %r, task.json says %d rows" % (path, a.shape, rows))
    if kind == "y":
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise BadInput("%s: labels must be a 1-D integer array, got %s %r" % (path, a.dtype, a.shape))
        return a.astype(np.int64)
    if a.dtype.kind != "f":
        raise BadInput("%s: dtype %s; this script handles float inputs (images, records), not token ids" % (path, a.dtype))
    return a.astype(np.float32, copy=False)


def check_labels(y, num_classes, what):
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise BadInput("%s: labels outside 0..%d" % (what, num_classes - 1))


def save_npy(out_dir, name, array):
    """Write out/NAME.npy atomically: a temp name in out/ (same file system), then os.replace."""
    final = os.path.join(out_dir, name + ".npy")
    tmp = os.path.join(out_dir, ".%s.tmp%d.npy" % (name, os.getpid()))
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)


def main(prog, fn):
    """Run fn(); turn errors into one line on stderr and backdoorlab's exit codes (3 bad input, 1 other)."""
    try:
        fn()
    except BadInput as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        sys.exit(EXIT_DATA)
    except (OSError, ValueError, MemoryError) as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        sys.exit(EXIT_RUN)
