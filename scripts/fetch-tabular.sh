#!/bin/sh
# Fetch the built-in tabular datasets (src/data/records/builtin.h) into datasets/tabular/, from two Debian
# packages, extracted with dpkg-deb (nothing is installed, no Python or R is needed at run time):
#   python3-sklearn 1.2.1+dfsg-1: breast_cancer.csv (UCI Breast Cancer Wisconsin (Diagnostic), Wolberg, Street,
#                                  Mangasarian 1995) and its description breast_cancer.rst; licence: BSD-3-Clause
#                                  (sklearn-copyright)
#   r-cran-mlbench 2.1-3-1:        PimaIndiansDiabetes.rda, Satellite.rda, Shuttle.rda, LetterRecognition.rda
#                                  (UCI data sets as R data frames); licence: GPL-2 (mlbench-copyright)
# Each extracted file is pinned by its SHA-256 and refused on mismatch. Idempotent: exits at once when every
# file is there. Run from the repository root (every make target does); DEST overrides the target folder.
set -eu

DEST="${DEST:-datasets/tabular}"
SKLEARN_VER="1.2.1+dfsg-1"
MLBENCH_VER="2.1-3-1"
SK_DATA="usr/lib/python3/dist-packages/sklearn/datasets"
MLB_DATA="usr/lib/R/site-library/mlbench/data"

# "destination-name source-path-in-deb sha256", one file a line.
FILES="breast_cancer.csv $SK_DATA/data/breast_cancer.csv fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed
breast_cancer.rst $SK_DATA/descr/breast_cancer.rst f45e8035b24b5c0515c4fd7a18d1d1d65ec1f0d051564c803ef0f6166c5693f7
sklearn-copyright usr/share/doc/python3-sklearn/copyright 776ecbd53228fd873c0c14ef657b5a89fa20dba286b7e0187bf65a630f88614c
PimaIndiansDiabetes.rda $MLB_DATA/PimaIndiansDiabetes.rda fc134e041577d3ff2b784e1610b6fbbe165f815abc83652ba77a28f4bccb89ec
Satellite.rda $MLB_DATA/Satellite.rda 29f8cf9bb1bc51b769d694c9caf740fd1c36ed6a7c87603edf5985962e330f64
Shuttle.rda $MLB_DATA/Shuttle.rda 5b1db218b76a47c83f575f1ff38d7a7d36e569b0e27d8bf4aa92eae6c0bcb826
LetterRecognition.rda $MLB_DATA/LetterRecognition.rda 967a1a3e10b548d7269cbe50182bcecd6365cc58ea07638bbc34c51f17f34f1d
mlbench-copyright usr/share/doc/r-cran-mlbench/copyright fe11a3f56503da2a55891d46ba5b16e35c09d7b1788bc5a21e4b594b4966ec08"

complete=1
for name in $(echo "$FILES" | cut -d' ' -f1); do
    [ -f "$DEST/$name" ] || complete=0
done
[ "$complete" = 1 ] && exit 0
if [ -e "$DEST" ] && ! rmdir "$DEST" 2>/dev/null; then # an empty folder is fine; anything else is not ours
    echo "fetch-tabular: $DEST exists but is incomplete; remove it and run again" >&2
    exit 1
fi
for tool in apt-get dpkg-deb sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fetch-tabular: need $tool (Debian) to fetch the tabular datasets" >&2
        exit 1
    fi
done

parent=$(dirname "$DEST")
mkdir -p "$parent"
# Staged in a temp folder next to DEST, so the final mv is a rename and a failed run leaves no half-filled DEST.
tmp=$(mktemp -d "$parent/.tabular.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
chmod 755 "$tmp" # apt's _apt user must be able to write the download here

echo "fetch-tabular: downloading python3-sklearn=$SKLEARN_VER r-cran-mlbench=$MLBENCH_VER" >&2
dl() { (cd "$tmp" && apt-get download "python3-sklearn=$SKLEARN_VER" "r-cran-mlbench=$MLBENCH_VER" >&2); }
if ! dl; then
    echo "fetch-tabular: apt-get download failed; refreshing the package lists once" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update >&2
    dl
fi
mkdir "$tmp/x" "$tmp/out"
for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done

echo "$FILES" | while read -r name src sum; do
    if [ ! -f "$tmp/x/$src" ]; then
        echo "fetch-tabular: $src is not in the package; nothing was installed" >&2
        exit 1
    fi
    if [ "$sum" != "-" ]; then
        got=$(sha256sum "$tmp/x/$src" | cut -d' ' -f1)
        if [ "$got" != "$sum" ]; then
            echo "fetch-tabular: SHA-256 mismatch for $src" >&2
            echo "  expected $sum" >&2
            echo "  got      $got" >&2
            echo "  nothing was installed (check the package versions)" >&2
            exit 1
        fi
    fi
    cp "$tmp/x/$src" "$tmp/out/$name"
done
chmod 644 "$tmp/out/"*
mv "$tmp/out" "$DEST"
echo "fetch-tabular: installed $DEST (verified sha256)" >&2
