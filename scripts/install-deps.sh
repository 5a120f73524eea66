#!/bin/sh
# Install, only when missing, what a fresh Debian 12 machine needs to build, test and demo backdoorlab.
# Cheap when everything is present: one dpkg query per package, no apt call.
set -eu
PKGS="gcc make git pkg-config libpng-dev zlib1g-dev libinih-dev libcjson-dev libsodium-dev libcmocka-dev gnuplot-nox dataset-fashion-mnist"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# apt-get update only if the first try fails (stale or empty package lists on a fresh machine)
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends $missing
fi
