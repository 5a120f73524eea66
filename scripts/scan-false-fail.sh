#!/bin/sh
# scan-false-fail.sh: how often the strict scan policy fails a CLEAN model. Trains the demo's clean model
# (experiments/demo.ini without its [attack]) with seeds 2..(1+N), then scans each with POLICY.
# Usage: sh scripts/scan-false-fail.sh [N=5] [POLICY=experiments/scan/strict.ini] [OUT=results/scan-false-fail]
# SCAN_PHASE=train only trains; the default also scans (signed copies, probe = the first test images) and writes
# OUT/summary.csv (seed, exit code, seconds, the model-scan's largest anomaly index, its label and that label's
# reversed-trigger L1) and OUT/seed-S/scan.{txt,json,xml,sarif}. A seed already scanned (seed-S/scan.rc) is not
# scanned again. Each training ~1 min, each strict scan 2-4 min (Neural Cleanse) on 2 shared cores.
set -eu
N=${1:-5}
POLICY=${2:-experiments/scan/strict.ini}
OUT=${3:-results/scan-false-fail}
BIN=${BIN:-build/backdoorlab}
PHASE=${SCAN_PHASE:-all}
mkdir -p "$OUT"
s=2
while [ "$s" -le $((N + 1)) ]; do
    d="$OUT/seed-$s"
    if [ ! -f "$d/DONE" ]; then
        # the demo config, seed s, no [attack] section (everything from [attack] to the end goes)
        mkdir -p "$d"
        sed -e "s/^seed = .*/seed = $s/" -e "s/^name = .*/name = scan-clean-seed-$s/" -e '/^\[attack\]/,$d' \
            experiments/demo.ini > "$OUT/seed-$s.ini"
        "$BIN" train "$OUT/seed-$s.ini" --out "$d" --quiet
    fi
    s=$((s + 1))
done
[ "$PHASE" = train ] && exit 0
# The strict policy trusts results/scan-demo/publisher.pub (scripts/scan-demo.sh makes it): sign a copy with it.
K=results/scan-demo/publisher
[ -f "$K.pub" ] || { mkdir -p results/scan-demo && "$BIN" keygen --out "$K" >/dev/null; }
M=results/scan-demo/fashion-mnist.manifest.json
[ -f "$M" ] || "$BIN" data manifest fashion-mnist --out "$M" >/dev/null
echo "seed,exit,seconds,max_anomaly_index,label,label_l1" > "$OUT/summary.csv.tmp"
s=2
while [ "$s" -le $((N + 1)) ]; do
    d="$OUT/seed-$s"
    if [ ! -f "$d/scan.rc" ]; then
        cp "$d/model.bdm" "$d/model-signed.bdm"
        "$BIN" sign --model "$d/model-signed.bdm" --key "$K.secret" >/dev/null
        t0=$(date +%s.%N)
        rc=0
        "$BIN" scan --model "$d/model-signed.bdm" --policy "$POLICY" \
            --probe /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
            --json "$d/scan.json" --junit "$d/scan.xml" --sarif "$d/scan.sarif" > "$d/scan.txt" 2>&1 || rc=$?
        t1=$(date +%s.%N)
        echo "$rc,$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")" > "$d/scan.rc"
    fi
    nc=$(python3 -c '
import json, sys
try:
    c = [c for c in json.load(open(sys.argv[1]))["checks"] if c["check"] == "model-scan"][0]["details"]["labels"]
    w = max(c, key=lambda l: l["anomaly_index"])
    print("%.2f,%d,%.1f" % (w["anomaly_index"], w["label"], w["l1"]))
except Exception:
    print(",,")' "$d/scan.json")
    echo "$s,$(cat "$d/scan.rc"),$nc" >> "$OUT/summary.csv.tmp"
    s=$((s + 1))
done
mv "$OUT/summary.csv.tmp" "$OUT/summary.csv"
cat "$OUT/summary.csv"
