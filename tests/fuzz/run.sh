#!/bin/sh
# Fuzz each harness for FUZZ_SECONDS (default 60), one after another (never in parallel: one core each way is
#  enough and the machine is shared), at nice 19. Usage: run.sh [NAME...] (default: every harness). New corpus entries go to
# $FUZZ_BUILD/corpus/NAME (the committed seeds under tests/fuzz/corpus/NAME are read, never written);
# crashes to $FUZZ_BUILD/crashes/NAME/ (move a reproducer to tests/fuzz/regressions/NAME/ once fixed).
# A summary line per harness (exec/s, cov, ft from libFuzzer's last stats line) goes to $FUZZ_BUILD/fuzz-summary.txt.
cd "$(dirname "$0")/../.." || exit 1
FB=${FUZZ_BUILD:-build/fuzz}
# Harnesses write every input to files (fuzz_util.h, under $TMPDIR): on a tmpfs that costs little, on this VM's disk
# it was most of the time (keys: 868 exec/s on /tmp in an early round, 15,699 on /dev/shm). FUZZ_TMPDIR overrides.
if [ -z "${FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then FUZZ_TMPDIR=/dev/shm; fi
[ -n "${FUZZ_TMPDIR:-}" ] && export TMPDIR="$FUZZ_TMPDIR"
SECS=${FUZZ_SECONDS:-60}
only="$*"
status=0
: > "$FB/fuzz-summary.txt"
for src in tests/fuzz/fuzz_*.c; do
    name=${src#tests/fuzz/fuzz_}
    name=${name%.c}
    case " $only " in "  " | *" $name "*) ;; *) continue ;; esac
    # Longest input worth trying: text formats stay small; binary ones need room for a model or an image.
    case "$name" in
        modelfile|checkpoint|idx|idxdir|png|rda|email|mnist10k) maxlen=16384 ;;
        spamassassin) maxlen=32768 ;; # six real messages are 19 KB
        *) maxlen=4096 ;;
    esac
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    mkdir -p "$FB/corpus/$name" "$FB/crashes/$name"
    log="$FB/fuzz-$name.log"
    echo "fuzz: $name for ${SECS}s (log: $log)"
    nice -n 19 "$FB/fuzz_$name" -max_total_time="$SECS" -max_len=$maxlen -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$FB/crashes/$name/" $dict \
        "$FB/corpus/$name" "tests/fuzz/corpus/$name" > "$log" 2>&1 || status=1
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
    slow=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log")
    line="$name: ${SECS}s, ${runs:-?} runs, exec/s ${execs:-?}; $(echo "$stats" | grep -o 'cov: [0-9]* ft: [0-9]*'); peak rss ${rss:-?} MB; slowest ${slow:-?} s; artifacts: $(ls "$FB/crashes/$name" | wc -l)"
    echo "$line" | tee -a "$FB/fuzz-summary.txt"
done
exit $status
