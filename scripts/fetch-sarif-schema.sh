#!/bin/sh
# Fetch the SARIF 2.1.0 JSON schema (OASIS, as published in the schemastore: sarif-2.1.0-rtm.5.json) from the npm
# package @microsoft/jest-sarif@1.0.0-beta.0 (MIT), which ships it for its own validating matchers, into
# build/schemas/. The tarball is pinned by its SHA-512 (the registry's dist.integrity) and refused on mismatch.
# Idempotent. Used by scripts/validate-scan-reports.sh (tests/test_scan.c validates scan's SARIF output with it).
set -eu
URL="https://registry.npmjs.org/@microsoft/jest-sarif/-/jest-sarif-1.0.0-beta.0.tgz"
SHA512="0357ce84f77a21ce620e4e05f583f0d6a341e1717eefe22f891ef197caf617a433424c7972963d2ec1a4dab1318852047016e3a559d29b058606e9004a4890f4"
DEST="${DEST:-build/schemas}"
FILE="sarif-2.1.0-rtm.5.json"
[ -f "$DEST/$FILE" ] && exit 0
mkdir -p "$DEST"
tmp=$(mktemp -d "$DEST/.sarif.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "fetch-sarif-schema: downloading $URL" >&2
if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$tmp/p.tgz" "$URL"
else wget -q -O "$tmp/p.tgz" "$URL"; fi
got=$(sha512sum "$tmp/p.tgz" | cut -d' ' -f1)
if [ "$got" != "$SHA512" ]; then
    echo "fetch-sarif-schema: SHA-512 mismatch for $URL (expected $SHA512, got $got); nothing installed" >&2
    exit 1
fi
tar --no-same-owner -xzf "$tmp/p.tgz" -C "$tmp" "package/lib/schemas/$FILE"
chmod 644 "$tmp/package/lib/schemas/$FILE"
mv "$tmp/package/lib/schemas/$FILE" "$DEST/$FILE"
echo "fetch-sarif-schema: installed $DEST/$FILE (verified sha512)" >&2
