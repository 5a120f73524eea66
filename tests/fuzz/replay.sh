#!/bin/sh
# Replay every seed (tests/fuzz/corpus/NAME/) and every crash reproducer (tests/fuzz/regressions/NAME/) through
# its harness once, no fuzzing, so a fixed bug stays fixed. Usage: replay.sh [FUZZ_BUILD [NAME]] (default
# build/fuzz, every harness; the binaries must be built: make fuzz-build). Exits non-zero when any input crashes,
# leaks, hangs (-timeout) or trips a sanitizer; prints one line per harness and a total.
cd "$(dirname "$0")/../.." || exit 1
FB=${1:-build/fuzz}
only=${2:-}
status=0
total=0
nh=0
start=$(date +%s)
for src in tests/fuzz/fuzz_*.c; do
    name=${src#tests/fuzz/fuzz_}
    name=${name%.c}
    [ -z "$only" ] || [ "$only" = "$name" ] || continue
    bin="$FB/fuzz_$name"
    if [ ! -x "$bin" ]; then
        echo "fuzz-replay: $bin is not built (make fuzz-build)"
        status=1
        continue
    fi
    list=$(mktemp)
    find "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name" -type f 2>/dev/null | sort > "$list"
    n=$(wc -l < "$list")
    log=$(mktemp)
    # Inputs as arguments: each is run once, in full (no -max_len truncation); -runs=1 per file.
    if [ "$n" -eq 0 ] || xargs "$bin" -timeout=10 -rss_limit_mb=2048 < "$list" > "$log" 2>&1; then
        echo "fuzz-replay: $name: $n inputs ok"
    else
        echo "!! fuzz-replay: $name failed; its output:"
        tail -40 "$log"
        status=1
    fi
    rm -f "$list" "$log"
    total=$((total + n))
    nh=$((nh + 1))
done
echo "fuzz-replay: $nh harnesses, $total inputs, $(( $(date +%s) - start )) s: $([ $status -eq 0 ] && echo clean || echo FAILED)"
exit $status
