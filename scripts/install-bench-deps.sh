#!/bin/sh
# Install, only when missing, what `make bench-peer` needs beyond scripts/install-deps.sh: Debian's PyTorch and
# numpy for /usr/bin/python3, and OpenBLAS's OpenMP build. python3-torch links its dense layers against
# libblas.so.3, which without OpenBLAS is the reference BLAS (unoptimised loops): that would make PyTorch look
# slower than it is. The OpenMP build (not the pthread one) shares PyTorch's OpenMP threads instead of starting
# its own pool that competes with them for the cores. Cheap when everything is present: one dpkg query per
# package, no apt call. python3-torch is large (about 640 MB with its dependencies on a Debian 12 machine that
# already has the build dependencies).
set -eu
PKGS="python3-torch python3-numpy libopenblas0-openmp"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -n "$missing" ] || exit 0
echo "install-bench-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# apt-get update only if the first try fails (stale or empty package lists on a fresh machine)
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends $missing
fi
