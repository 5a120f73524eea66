#!/bin/sh
# bench-peer.sh (`make bench-peer`): the same network on the same data, trained by backdoorlab and by PyTorch
# (Debian's python3-torch) in the same run on this CPU, and the ratio of the two, so the README's speed claims can
# be checked on the reader's machine. The C side is `backdoorlab bench --peer`, the Python side
# scripts/bench_peer.py; bench_peer.py's header says what is the same and what differs between the two.
#
# Figures (img/s, medians): the reference-cnn training step (batch 64, SGD momentum, random data in memory) at
# 1 thread and at $BENCH_THREADS (default 2) threads, and a real epoch over Fashion-MNIST's 60,000 training
# images at $BENCH_THREADS threads (median of $BENCH_EPOCHS epochs, default 3). Each figure runs in its own process
# with OMP_NUM_THREADS (and OPENBLAS_NUM_THREADS) set to its thread count, the two tools alternating, so drift
# on a shared machine hits both alike. About 1.5-2 minutes on 2 AVX2 cores. Nothing is asserted: a busy machine
# (the load average is printed before and after) drags both sides down, not always equally.
set -eu
BIN=${BIN:-build/backdoorlab}
PY=/usr/bin/python3 # Debian's python, where python3-torch lives (a pyenv python3 may be first on PATH)
T=${BENCH_THREADS:-2}
EPOCHS=${BENCH_EPOCHS:-3}
DATA=${BENCH_DATA:-/usr/share/datasets/fashion-mnist}
HERE=$(dirname "$0")
[ -x "$BIN" ] || { echo "bench-peer: $BIN not built (make)" >&2; exit 2; }
"$PY" -c 'import torch, numpy' 2>/dev/null || { echo "bench-peer: no torch for $PY (sh scripts/install-bench-deps.sh)" >&2; exit 2; }
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || { echo "bench-peer: no Fashion-MNIST in $DATA" >&2; exit 2; }

# The same OpenMP waiting on both sides. backdoorlab restarts itself with GOMP_SPINCOUNT=1000 when the user set
# neither variable (src/cli/main.c: libgomp's default spinning makes jobs that share cores crawl); PyTorch gets
# the same here, where it would otherwise spin for 300,000 rounds. On a quiet machine that costs each side a few
# percent; on a busy one, default spinning cut PyTorch's 2-thread step to a quarter of its 1-thread one.
# Whatever the user exported (OMP_WAIT_POLICY or GOMP_SPINCOUNT) applies to both unchanged.
if [ -z "${OMP_WAIT_POLICY:-}" ] && [ -z "${GOMP_SPINCOUNT:-}" ]; then export GOMP_SPINCOUNT=1000; fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
if grep -q -w avx512f /proc/cpuinfo; then isa="AVX-512 (avx512f)"; elif grep -q -w avx2 /proc/cpuinfo; then isa="AVX2, no avx512f"; else isa="no AVX2"; fi
echo "bench-peer: backdoorlab vs PyTorch, reference-cnn, batch 64, SGD lr 0.01 momentum 0.9, float32"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu:     $cpu, $(nproc) cores available, $isa"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average before the run)"
echo "threads: step at 1 and $T, epoch at $T; both sides: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}"

run_bl() { # threads epochs
    OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 "$BIN" bench --peer --threads "$1" --epochs "$2" --data "$DATA" --json \
        > "$OUT/bl-$1.json"
}
run_py() {
    OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 "$PY" "$HERE/bench_peer.py" --threads "$1" --epochs "$2" --data "$DATA" \
        --json > "$OUT/py-$1.json"
}
start=$(date +%s)
echo "running: step at 1 thread (backdoorlab, then PyTorch) ..."
run_bl 1 0
run_py 1 0
echo "running: step and $EPOCHS epochs at $T threads (backdoorlab, then PyTorch) ..."
run_bl "$T" "$EPOCHS"
run_py "$T" "$EPOCHS"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - start)) s"
echo

"$PY" - "$OUT" "$T" <<'EOF'
import json, sys
out, T = sys.argv[1], int(sys.argv[2])
bl1, py1 = (json.load(open(f"{out}/{k}-1.json")) for k in ("bl", "py"))
blT, pyT = (json.load(open(f"{out}/{k}-{T}.json")) for k in ("bl", "py"))
print(f"backdoorlab: kernel {blT.get('kernel') or '(not reported by this build)'}, flags {blT['flags']}")
print(f"PyTorch:     {pyT['torch']}: {pyT['config']}")
lay = lambda r: ", ".join(f"{k} {v:,.0f}" for k, v in r["step_img_s_by_layout"].items())
print(f"PyTorch layout (faster step kept): 1 thread {py1['layout']} ({lay(py1)}); {T} threads {pyT['layout']} ({lay(pyT)})")
print(f"threads:     backdoorlab {bl1['threads']} / {blT['threads']}, PyTorch {py1['threads']} / {pyT['threads']}")
print()
rows = [("training step, 1 thread (img/s)", bl1["step_img_s"], py1["step_img_s"])]
if T > 1:
    rows.append((f"training step, {T} threads (img/s)", blT["step_img_s"], pyT["step_img_s"]))
    rows.append((f"  {T}-thread scaling", blT["step_img_s"] / bl1["step_img_s"], pyT["step_img_s"] / py1["step_img_s"]))
if blT["epochs_img_s"]:
    n = len(blT["epochs_img_s"])
    rows.append((f"real epoch, Fashion-MNIST, {T} thr. (img/s)", blT["epoch_img_s"], pyT["epoch_img_s"]))
w = max(len(r[0]) for r in rows)
print(f"| {'figure':<{w}} | backdoorlab | PyTorch | ratio |")
print(f"|{'-' * (w + 2)}|-------------|---------|-------|")
for name, b, p in rows:
    fmt = (lambda v: f"{v:.2f}x") if "scaling" in name else (lambda v: f"{v:,.0f}")
    print(f"| {name:<{w}} | {fmt(b):>11} | {fmt(p):>7} | {b / p:4.2f}x |")
print()
print("ratio = backdoorlab / PyTorch (above 1: backdoorlab is faster). Step: median of 7 runs of 20 steps after 5")
if blT["epochs_img_s"]:
    print(f"warm-up steps. Epoch: median of {n} epochs; each epoch, backdoorlab:",
          " ".join(f"{x:,.0f}" for x in blT["epochs_img_s"]), "/ PyTorch:",
          " ".join(f"{x:,.0f}" for x in pyT["epochs_img_s"]))
EOF
