#!/bin/sh
# Run every test binary in BUILD/tests (plus the NEON check under qemu and the fuzz replay, one test each),
# aggregate cmocka's per-group counts into one closing line "N passed, N failed", and exit non-zero on any failure
# (a crashed binary counts as one failure).
#
# TEST_JOBS binaries run at once (default: the number of cores). Much of the suite is not compute-bound on both
# cores (process starts, gnuplot, Chromium, Python, qemu, the ASan replay, a Slurm cluster starting), so two at a
# time fill the gaps; slowest first, so the long ones do not end the run alone. A binary's log is printed whole
# when it ends. test_stops runs alone after the others: it kills runs at moments drawn from the wall time of one
# run, which a neighbour would change. TEST_JOBS=1 gives the old one-at-a-time run.
#
# Usage: sh scripts/run-tests.sh [BUILD]        (sh scripts/run-tests.sh --one BUILD LOGDIR NAME: internal)
if [ "${1:-}" = --one ]; then # one job: run it, keep its log, exit status and wall time; print the log whole
    BUILD=$2 LOGDIR=$3 name=$4
    log="$LOGDIR/$name"
    t0=$(date +%s)
    case "$name" in
    neon) sh "$(dirname "$0")/test-neon.sh" "$BUILD" >"$log" 2>&1 ;;
    fuzz-replay) sh "$(dirname "$0")/../tests/fuzz/replay.sh" "${FUZZ_BUILD:-build/fuzz}" >"$log" 2>&1 ;;
    *) "$BUILD/tests/$name" >"$log" 2>&1 ;;
    esac
    echo $? >"$log.rc"
    echo $(($(date +%s) - t0)) >"$log.secs"
    flock "$LOGDIR/.print" cat "$log"
    exit 0
fi

BUILD=${1:-build}
export BACKDOORLAB_BIN="$BUILD/backdoorlab"
# OpenMP threads that spin while waiting make a shared or busy machine crawl (10x slower seen here when two jobs
# share 2 cores); sleeping waiters cost little and never change a result.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
JOBS=${TEST_JOBS:-$(nproc)}
SELF="$0"
LOGDIR=$(mktemp -d)
trap 'rm -rf "$LOGDIR"' EXIT

# The slow ones first (their order on the AVX-512 host, 2026-12-04); every other binary after them.
SLOW="test_text_run test_external test_sweep test_pipeline test_reproduce test_tabular test_defense_records
test_html_pages test_run_report test_supply_chain test_mitigation neon fuzz-replay"
all=""
for t in "$BUILD"/tests/test_*; do
    case "$t" in *.d | *.o) continue ;; esac
    [ -x "$t" ] || continue
    all="$all $(basename "$t")"
done
order=""
for n in $SLOW; do
    case " $all " in *" $n "*) order="$order $n" ;; esac
done
order="$order neon fuzz-replay"
for n in $all; do
    case " $order " in *" $n "*) ;; *) [ "$n" = test_stops ] || order="$order $n" ;; esac
done
order=$(echo $order | tr ' ' '\n' | awk '!seen[$0]++')

start=$(date +%s)
echo "$order" | xargs -P "$JOBS" -I{} sh "$SELF" --one "$BUILD" "$LOGDIR" {}
case " $all " in *" test_stops "*) sh "$SELF" --one "$BUILD" "$LOGDIR" test_stops ;; esac

passed=0
failed=0
times=""
for n in $order test_stops; do
    log="$LOGDIR/$n"
    [ -f "$log.rc" ] || continue
    rc=$(cat "$log.rc")
    times="$times$(cat "$log.secs") $n
"
    case "$n" in
    neon | fuzz-replay) # one test each
        if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "!! $n failed"; fi
        continue ;;
    esac
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $n exited with status $rc without reporting a failed test (crash?)"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
# Wall time per binary, slowest first (with TEST_JOBS > 1 they overlap, so they add up to more than the total).
printf '%s' "$times" | sort -rn | awk '{ l = l sprintf("%s %ds, ", $2, $1) } END { printf "time per binary (s): %s", l }'
echo "wall $(($(date +%s) - start)) s with TEST_JOBS=$JOBS"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
