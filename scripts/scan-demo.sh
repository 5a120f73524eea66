#!/bin/sh
# scan-demo.sh: the README's scan walk-through on the demo's models (results/demo, from `make demo`).
# A publisher signs the clean model; the same publisher's pipeline also signs the backdoored one (a poisoned
# supplier: the signature cannot help); an attacker swaps in the backdoored model signed with its own key, ships it
# unsigned, or edits one byte of the signed clean model. Each is scanned with experiments/scan/strict.ini
# (POLICY overrides); verdicts and times go to results/scan-demo/summary.csv, reports beside them.
set -eu
BIN=${BIN:-build/backdoorlab}
POLICY=${POLICY:-experiments/scan/strict.ini}
PROBE=${PROBE:-/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz}
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
D=results/scan-demo
[ -f results/demo/DONE ] || { echo "scan-demo: run \`make demo\` (or $BIN run experiments/demo.ini) first" >&2; exit 2; }
mkdir -p "$D"
[ -f "$D/publisher.pub" ] || "$BIN" keygen --out "$D/publisher" >/dev/null
[ -f "$D/attacker.pub" ] || "$BIN" keygen --out "$D/attacker" >/dev/null
[ -f "$D/fashion-mnist.manifest.json" ] || "$BIN" data manifest fashion-mnist --out "$D/fashion-mnist.manifest.json" >/dev/null
cp results/demo/model-clean.bdm "$D/clean.bdm"
cp results/demo/model-backdoor.bdm "$D/backdoor.bdm"
cp results/demo/model-backdoor.bdm "$D/swapped.bdm"
cp results/demo/model-backdoor.bdm "$D/unsigned.bdm"
"$BIN" sign --model "$D/clean.bdm" --key "$D/publisher.secret" >/dev/null
"$BIN" sign --model "$D/backdoor.bdm" --key "$D/publisher.secret" >/dev/null
"$BIN" sign --model "$D/swapped.bdm" --key "$D/attacker.secret" >/dev/null
cp "$D/clean.bdm" "$D/tampered.bdm"
# one byte of the first weight's payload (offset 2,000 lies in the tensor data of this 321 KB file)
printf '\377' | dd of="$D/tampered.bdm" bs=1 seek=2000 conv=notrunc 2>/dev/null
echo "model,exit,seconds" > "$D/summary.csv.tmp"
for m in clean backdoor swapped unsigned tampered; do
    t0=$(date +%s.%N)
    rc=0
    "$BIN" scan --model "$D/$m.bdm" --policy "$POLICY" --probe "$PROBE" --data "$DATA" --out-dir "$D/$m-triggers" \
        --json "$D/$m.json" --junit "$D/$m.xml" --sarif "$D/$m.sarif" > "$D/$m.txt" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    cat "$D/$m.txt"
    echo "$m,$rc,$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")" >> "$D/summary.csv.tmp"
done
mv "$D/summary.csv.tmp" "$D/summary.csv"
cat "$D/summary.csv"
