#!/bin/sh
# Correctness check of the AArch64 NEON GEMM kernel (src/tensor/sgemm_neon.c) on an x86-64 host: cross-compile
# tests/neon/neon_check.c with the GEMM sources for aarch64 (Debian's gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross, statically linked) and run it under qemu-user (qemu-aarch64). It checks that the NEON
# kernel gives the generic kernel's bits exactly, over many shapes (see the program's header).
#
# Speed is NOT measured here and cannot be: qemu emulates each NEON instruction in software, so its timings say
# nothing about a real AArch64 core. The NEON kernel's speed is unmeasured until someone runs `bench` on AArch64
# hardware.
#
# Usage: sh scripts/test-neon.sh [BUILD]   (objects go to BUILD/neon, default build/neon)
# Prints one line "neon check: PASSED ...", "neon check: FAILED ..." or "neon check: SKIPPED ..." (exit 0 when
# the cross compiler or qemu is missing; scripts/install-deps.sh installs both).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
OUT="$BUILD/neon"
CC=${NEON_CC:-aarch64-linux-gnu-gcc}
QEMU=${NEON_QEMU:-qemu-aarch64}
if ! command -v "$CC" >/dev/null 2>&1 || ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "neon check: SKIPPED (no cross compiler/qemu: $CC, $QEMU)"
    exit 0
fi
# The GEMM and what it needs from core; sgemm_avx*.c compile to empty units on aarch64 and are built anyway, so
# that the check sees the same set of kernel files as the real build. No -fopenmp: the GEMM is serial and
# core.c has its own shims for builds without OpenMP.
SRCS="tests/neon/neon_check.c src/tensor/sgemm.c src/tensor/sgemm_neon.c src/tensor/sgemm_generic.c
src/tensor/sgemm_avx2.c src/tensor/sgemm_avx512.c src/core/core.c"
DEPS="$SRCS src/tensor/sgemm_impl.h src/tensor/sgemm.h src/core/core.h scripts/test-neon.sh"
cd "$ROOT" || exit 1 # BUILD is relative to the repository root, as the Makefile passes it
mkdir -p "$OUT" || exit 1
BIN="$OUT/neon_check"
# rebuild only when a source is newer than the binary
# shellcheck disable=SC2086 # DEPS is a word list
if [ ! -x "$BIN" ] || [ -n "$(find $DEPS -newer "$BIN" 2>/dev/null | head -n 1)" ]; then
    # shellcheck disable=SC2086 # SRCS is a word list
    if ! "$CC" -O3 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wno-unknown-pragmas -ffp-contract=fast \
        -Isrc -static $SRCS -lm -o "$BIN" 2>"$OUT/build.log"; then
        cat "$OUT/build.log"
        echo "neon check: FAILED (cross compilation, $CC)"
        exit 1
    fi
fi
# BACKDOORLAB_KERNEL would change the default kernel the program checks for
log="$OUT/run.log"
env -u BACKDOORLAB_KERNEL "$QEMU" "$BIN" >"$log" 2>&1
rc=$?
summary=$(tail -n 1 "$log")
if [ "$rc" -eq 0 ]; then
    echo "neon check: PASSED under $QEMU: $summary"
    exit 0
fi
cat "$log"
echo "neon check: FAILED (exit status $rc under $QEMU)"
exit 1
