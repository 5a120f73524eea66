#!/bin/sh
# The lab course (experiments/course/README.md): every lab in order, or only the labs named on the command line
# (sh experiments/course/run.sh 03 05). Results in results/course/<lab>/; stops at the first failure; prints the
# wall time of each lab and of the whole course. `make course` runs it after building.
#   BIN      the backdoorlab binary (default build/backdoorlab)
#   OUT      results folder (default results/course)
set -eu
BIN=${BIN:-build/backdoorlab}
OUT=${OUT:-results/course}
DIR=$(dirname "$0")
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

LABS="01-implant 02-poison-count 03-strip-position 04-find-poison 05-neural-cleanse 06-remove 07-supply-chain 08a-spam 08b-clinical"
if [ $# -gt 0 ]; then
    sel=""
    for want in "$@"; do
        hit=""
        for lab in $LABS; do case $lab in "$want"*) sel="$sel $lab"; hit=1 ;; esac; done
        [ -n "$hit" ] || { echo "run.sh: no lab named $want* (labs: $LABS)" >&2; exit 2; }
    done
    LABS=$sel
fi

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# (`if ! lab` turns off set -e inside lab(), so each command that can fail returns explicitly.)
# Labs 5-7 train lab 1's exact model pair; --reuse-clean takes lab 1's clean model when it is there (the
# backdoored model is trained again: it is the lab's subject). Without lab 1's folder the clean model is trained.
reuse() { [ -f "$OUT/01-implant/DONE" ] && echo "--reuse-clean $OUT/01-implant" || true; }

lab() {
    name=$1
    case $name in
    03-strip-position)
        "$BIN" run "$DIR/$name.ini" --out "$OUT/$name" || return 1
        # the same STRIP with the alpha-blend overlay, on both trigger positions (detect reloads the runs)
        for point in "$OUT/$name"/position-*/seed-*/; do
            "$BIN" detect --defense strip --set n=20 --set overlay=1 --as strip-blend --run "$point" || return 1
        done ;;
    05-*|06-*|07-*)
        "$BIN" run "$DIR/$name.ini" --out "$OUT/$name" $(reuse) ;;
    *)
        "$BIN" run "$DIR/$name.ini" --out "$OUT/$name" ;;
    esac
}

[ -x "$BIN" ] || { echo "run.sh: $BIN not found: run make first" >&2; exit 1; }
mkdir -p "$OUT"
times=""
t0=$(now)
for name in $LABS; do
    echo "=== lab $name: $DIR/$name.ini -> $OUT/$name/"
    t=$(now)
    if ! lab "$name"; then
        echo "=== lab $name FAILED after $(secs "$t" "$(now)") s" >&2
        exit 1
    fi
    s=$(secs "$t" "$(now)")
    echo "=== lab $name: $s s"
    times="$times$name $s
"
done
echo
echo "course: wall time per lab (threads 2; $(grep -c avx512f /proc/cpuinfo 2>/dev/null | awk '{print ($1 > 0) ? "AVX-512 host" : "no AVX-512"}'), load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s' "$times" | awk '{ printf "  %-20s %7.1f s\n", $1, $2 }'
echo "  total                $(secs "$t0" "$(now)") s"
