#!/bin/sh
# Run every test binary in BUILD/tests, aggregate cmocka's per-group counts into one closing line
# "N passed, N failed", and exit non-zero on any failure (a crashed binary counts as one failure).
BUILD=${1:-build}
export BACKDOORLAB_BIN="$BUILD/backdoorlab"
# OpenMP threads that spin while waiting make a shared or busy machine crawl (10x slower seen here when two jobs
# share 2 cores); sleeping waiters cost little and never change a result.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
passed=0
failed=0
for t in "$BUILD"/tests/test_*; do
    case "$t" in *.d|*.o) continue ;; esac
    [ -x "$t" ] || continue
    log=$(mktemp)
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    rm -f "$log"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $t exited with status $rc without reporting a failed test (crash?)"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
if sh "$(dirname "$0")/test-neon.sh" "$BUILD"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi # NEON kernel under qemu: one test
if sh "$(dirname "$0")/../tests/fuzz/replay.sh" "${FUZZ_BUILD:-build/fuzz}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi # fuzz seeds + regressions: one test
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
