#!/bin/sh
# Re-train the models listed in tests/golden/weights.txt and compare their weights (tensor bytes only, so the
# provenance's code revision does not matter) with the recorded hashes. Slow (a full run per config: ~1.5 min
# each on 2 cores), so not part of `make test`; run it after touching the trainer, the data path or a kernel:
#   sh scripts/check-weights.sh [build/backdoorlab]      (BACKDOORLAB_KERNEL=generic to check another kernel)
set -eu
BIN=${1:-build/backdoorlab}
GOLDEN=tests/golden/weights.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for cfg in $(grep -v '^#' "$GOLDEN" | awk 'NF {print $1}' | sort -u); do
    out="$tmp/$(basename "$cfg" .ini)"
    echo "check-weights: training $cfg (kernel ${BACKDOORLAB_KERNEL:-default})" >&2
    OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} "$BIN" run "$cfg" --out "$out" --quiet
    grep -v '^#' "$GOLDEN" | awk -v c="$cfg" 'NF && $1 == c {print $2, $3}' | while read -r file want; do
        got=$("$BIN" inspect --model "$out/$file" | awk '$1 == "weights" {print $2}')
        if [ "$got" = "$want" ]; then
            echo "OK   $cfg $file"
        else
            echo "DIFF $cfg $file: $got (want $want)"
            echo x >> "$tmp/failed"
        fi
    done
done
[ ! -f "$tmp/failed" ] || fail=1
[ "$fail" -eq 0 ] && echo "check-weights: all identical" || echo "check-weights: DIFFERENCES (see above)"
exit "$fail"
