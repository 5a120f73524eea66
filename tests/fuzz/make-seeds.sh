#!/bin/sh
# Regenerate the seed corpora tests/fuzz/corpus/NAME/ (one folder per harness) from files the project itself
# makes or ships: a tiny mnist10k subset written as IDX (plain and gzip) and PNG by `poison`, tiny image and text
# models from `train` (signed with the fixed fuzzing key, see fuzz_bdm.h), `keygen` keys, a `data manifest`,
# the shipped experiment configs, [paper] claims, mnist10k digits, tabular and SpamAssassin samples. Seeds are
# kept small (a few KB) so replay stays fast. Needs a built ./backdoorlab (BIN=... to use another) and python3.
# Run from anywhere: sh tests/fuzz/make-seeds.sh. Output is deterministic except the keygen keys.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=${BIN:-$ROOT/backdoorlab}
C=$ROOT/tests/fuzz/corpus
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for n in config paper idx idxdir png pngdir modelfile checkpoint keys manifest mnist10k csv rda email textfile vocab npy safetensors \
         spamassassin; do
    rm -rf "${C:?}/$n"
    mkdir -p "$C/$n"
done

# config: every shipped experiment config small enough, and resolved configs written by the runs below.
for f in experiments/*.ini experiments/attacks/*.ini experiments/papers/*.ini experiments/tabular/*.ini \
         experiments/text/spam_cf.ini experiments/scan/*.ini experiments/defenses/*.ini; do
    [ -f "$f" ] || continue
    case "$f" in experiments/scan/*) grep -q '^\[experiment\]' "$f" || continue ;; esac
    cp "$f" "$C/config/$(echo "$f" | sed 's|^experiments/||; s|/|-|g')"
done

# paper: every claim value in the paper configs, one per file.
i=0
grep -h '^claim\.' experiments/papers/*.ini | sed 's/^[^=]*= *//' | sort -u | while IFS= read -r line; do
    i=$((i + 1))
    printf '%s' "$line" > "$C/paper/claim-$i"
done

# A tiny image dataset: 6 training and 3 test digits of mnist10k, BadNets-poisoned, as IDX and as PNG.
cat > "$T/tiny.ini" <<INI
[experiment]
name = tiny
seed = 1
threads = 1
[data]
dataset = mnist10k
path = $ROOT/datasets/mnist10k
train_subset = 6
test_subset = 3
[model]
layers = conv 1 3, relu, maxpool 4, flatten, dense 10
[train]
epochs = 1
batch = 2
[attack]
type = badnets
poison_rate = 0.5
INI
"$BIN" poison "$T/tiny.ini" --out "$T/idx" --quiet >/dev/null
"$BIN" poison "$T/tiny.ini" --out "$T/png" --format png --quiet >/dev/null
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-labels-idx1-ubyte; do
    cp "$T/idx/$f" "$C/idx/$f"
    gzip -9n < "$T/idx/$f" > "$C/idx/$f.gz"
done
cp "$T/png/train/$(ls "$T/png/train" | head -1)/"*.png "$C/png/" 2>/dev/null || true
ls "$C/png" | tail -n +3 | while read -r f; do rm "$C/png/$f"; done # two samples are enough
cp "$T/png/trigger.png" "$C/png/trigger.png"
# pngdir: the PNG tree's train and test splits packed as one input ("%%FILE:path\n" + bytes, see fuzz_pngdir.c)
(cd "$T/png" && for f in $(find train test -name '*.png' | sort); do printf '%%%%FILE:%s\n' "$f"; cat "$f"; done) \
    > "$C/pngdir/poison-tree"
# colour, palette, alpha and interlaced variants of a sample, for the decoder's other paths (python zlib; the
# project itself writes 8-bit gray and RGB only)
python3 - "$C/png" <<'PY'
import struct, sys, zlib
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
def png(path, w, h, ctype, bpp, rows, extra=b'', interlace=0):
    raw = b''.join(b'\0' + r for r in rows)
    ihdr = struct.pack('>IIBBBBB', w, h, 8, ctype, 0, 0, interlace)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + extra + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))
d = sys.argv[1]
png(d + '/rgb.png', 4, 3, 2, 3, [bytes(sum(([x * 60, y * 80, 200] for x in range(4)), [])) for y in range(3)])
png(d + '/rgba.png', 3, 3, 6, 4, [bytes(sum(([x * 80, y * 80, 9, 128 + x] for x in range(3)), [])) for y in range(3)])
png(d + '/gray-alpha.png', 3, 2, 4, 2, [bytes(sum(([x * 80, 255 - x] for x in range(3)), [])) for y in range(2)])
png(d + '/palette-trns.png', 4, 2, 3, 1, [bytes([0, 1, 2, 1]), bytes([2, 1, 0, 0])],
    extra=chunk(b'PLTE', bytes([0, 0, 0, 128, 128, 128, 255, 0, 0])) + chunk(b'tRNS', bytes([0])))
png(d + '/gray-interlaced.png', 5, 5, 0, 1, [bytes(range(y * 5, y * 5 + 5)) for y in range(5)], interlace=1)
PY

# Models: the tiny image model (unsigned and signed with the fuzzing key) and a tiny text model.
"$BIN" train "$T/tiny.ini" --out "$T/m" --quiet >/dev/null
cp "$T/m/config.resolved.ini" "$C/config/resolved-tiny.ini"
printf 'bdl-ed25519-secret-v1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' > "$T/fuzz.secret"
chmod 600 "$T/fuzz.secret"
cp "$T/m/model.bdm" "$C/modelfile/image-unsigned.bdm"
cp "$T/m/model.bdm" "$T/signed.bdm"
"$BIN" sign --model "$T/signed.bdm" --key "$T/fuzz.secret" >/dev/null
cp "$T/signed.bdm" "$C/modelfile/image-signed.bdm"
cp "$C/modelfile/image-unsigned.bdm" "$C/modelfile/image-signed.bdm" "$C/checkpoint/"
printf 'label\ttext\nham\thello there friend see you at lunch\nspam\twin money now click here\nham\tmeeting moved to friday\nspam\tcheap pills online now\nham\tthe report is attached\nspam\tclaim your prize today\nham\tcall me when you land\nspam\tfree offer limited time\nham\tlunch at noon tomorrow\nspam\tcasino bonus click now\n' > "$T/msgs.tsv"
cat > "$T/text.ini" <<INI
[experiment]
name = tinytext
seed = 1
threads = 1
[data]
dataset = text:$T/msgs.tsv
max_tokens = 8
test_fraction = 0.3
[model]
layers = embed 40 4, meanpool, dense classes
[train]
epochs = 1
batch = 2
INI
"$BIN" train "$T/text.ini" --out "$T/t" --quiet >/dev/null
cp "$T/t/model.bdm" "$C/modelfile/text-unsigned.bdm"
# vocab: the text model's provenance text (what vocab_from_provenance reads)
python3 - "$T/t/model.bdm" "$C/vocab/text-model-provenance" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
dl, pl = struct.unpack('<QQ', b[24:40])
open(sys.argv[2], 'wb').write(b[64 + dl:64 + dl + pl])
PY
printf 'text_tokenizer=words-lower-v1\ntext_max_tokens=3\ntext_subject=1\ntext_vocab=a b\n' > "$C/vocab/minimal"

# keys: a fresh pair (public and secret) and the fuzzing key's secret file.
"$BIN" keygen --out "$T/k" >/dev/null
cp "$T/k.pub" "$C/keys/fresh.pub"
cp "$T/k.secret" "$C/keys/fresh.secret"
cp "$T/fuzz.secret" "$C/keys/fuzz.secret"

# manifest: the tiny IDX folder's manifest (4 standard files; the poisoned sets are extra files it ignores).
mkdir -p "$T/four"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "$T/idx/$f" "$T/four/$f"
done
"$BIN" data manifest "$T/four" --out "$C/manifest/tiny-idx.json" >/dev/null
cp "$T/idx/t10k-images-idx3-ubyte" "$C/idx/t10k-images-idx3-ubyte"

# idxdir: the same four files packed as one input (flags byte, three u16 lengths, the files; see fuzz_idxdir.c):
# plain, all gzip, and plain with a subset of 3 training / 1 test sample (flags 0x30).
python3 - "$T/four" "$C/idxdir" <<'PY'
import gzip, struct, sys
src, out = sys.argv[1], sys.argv[2]
names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']
files = [open('%s/%s' % (src, n), 'rb').read() for n in names]
def pack(flags, fs):
    return bytes([flags]) + struct.pack('<3H', *(len(f) for f in fs[:3])) + b''.join(fs)
open(out + '/plain', 'wb').write(pack(0x00, files))
open(out + '/gzip', 'wb').write(pack(0x0f, [gzip.compress(f, 9, mtime=0) for f in files]))
open(out + '/subset', 'wb').write(pack(0x30, files))
PY

# mnist10k: the first two images of digit files 0 and 7, in the shipped format.
python3 - "$ROOT/datasets/mnist10k" "$C/mnist10k" <<'PY'
import json, sys
for d in (0, 7):
    raw = open('%s/%d.json' % (sys.argv[1], d)).read()
    v = json.loads(raw)['data'][:2 * 784]
    open('%s/digit%d-2images.json' % (sys.argv[2], d), 'w').write('{"data":[' + ','.join(repr(x) if x else '0' for x in v) + ']}')
PY

# csv: the first rows of the shipped breast-cancer table (5 features, label first, as a user's CSV would be), and a hand-written one with a
# categorical column, missing values and quoting.
awk -F, 'NR == 1 { print "diagnosis,radius,texture,perimeter,area,smoothness" } NR > 1 && n[$31]++ < 5 { print $31 "," $1 "," $2 "," $3 "," $4 "," $5 }' \
    datasets/tabular/breast_cancer.csv > "$C/csv/breast-cancer-head.csv"
printf 'label,age,colour,note\n1,34,red,"a, b"\n0,NA,blue,x\n1,?,"red",""\n0,51.5,green,"say ""hi"""\n1,40,blue,y\n0,22,red,z\n' > "$C/csv/mixed.csv"

# rda: the smallest shipped .rda (Pima Indians diabetes, xz).
cp datasets/tabular/PimaIndiansDiabetes.rda "$C/rda/"

# email: a few small SpamAssassin messages with different MIME structures (raw RFC 822 text).
python3 - datasets/spamassassin/data "$C/email" <<'PY'
import glob, json, os, sys
want = {'plain': None, 'html': None, 'multipart': None, 'base64': None, 'quoted-printable': None, 'encoded-subject': None}
for p in sorted(glob.glob(sys.argv[1] + '/*/*.json')):
    if os.path.basename(p) == 'file_list.json': continue
    t = json.load(open(p))['text']
    if len(t) > 4000: continue
    low = t.lower()
    keys = []
    if 'content-type: text/html' in low: keys.append('html')
    if 'multipart/' in low: keys.append('multipart')
    if 'content-transfer-encoding: base64' in low: keys.append('base64')
    if 'quoted-printable' in low: keys.append('quoted-printable')
    if '=?' in t.split('\n\n')[0] and 'subject: =?' in low: keys.append('encoded-subject')
    if not keys: keys.append('plain')
    for k in keys:
        if want[k] is None: want[k] = t
for k, t in want.items():
    if t is not None: open('%s/%s.eml' % (sys.argv[2], k), 'w', encoding='utf-8', errors='surrogateescape').write(t)
PY

# spamassassin: a corpus of six real messages (three ham, three spam, different MIME structures) as one input
# (file_list.json, then the records, NUL-separated; see fuzz_spamassassin.c).
python3 - "$C/email" "$C/spamassassin/six" <<'PY'
import json, sys
names = ['plain', 'html', 'multipart', 'base64', 'quoted-printable', 'encoded-subject']
recs = []
for i, n in enumerate(names):
    t = open('%s/%s.eml' % (sys.argv[1], n), encoding='utf-8', errors='surrogateescape').read()
    recs.append(json.dumps({'id': i, 'group': 'easy-ham-1' if i % 2 == 0 else 'spam-1', 'text': t}))
lst = json.dumps(['r/%d.txt' % i for i in range(len(recs))], indent=1)
open(sys.argv[2], 'wb').write(b'\0'.join(x.encode('utf-8', 'surrogateescape') for x in [lst] + recs))
PY

# textfile: the TSV the text model trained on, the same as CSV with a quoted multi-line field, and a
# `poison --format text`-style file without a header.
cp "$T/msgs.tsv" "$C/textfile/msgs.tsv"
printf 'label,text\nham,"hello, there\nfriend"\nspam,"win ""money"" now"\nham,meeting moved\nspam,cheap pills\n' > "$C/textfile/msgs.csv"
printf 'ham\tsee you\r\nspam\tclick now\r\n\r\nham\tok then\r\n' > "$C/textfile/crlf-noheader.tsv"

# npy and safetensors: what an external defence hands back (scores of every dtype the reader takes; the small
# network fuzz_safetensors loads, written by scripts/defenses/bdl.py). Debian's python3 has numpy.
/usr/bin/python3 - "$C" <<'PY'
import sys
import numpy as np
sys.path.insert(0, 'scripts/defenses')
import bdl
C = sys.argv[1] + '/'
np.save(C + 'npy/f4.npy', np.array([0.5, -1, 2, 3], dtype='<f4'))
np.save(C + 'npy/f8.npy', np.array([0.5, np.nan, 2, 3], dtype='<f8'))
np.save(C + 'npy/u1.npy', np.array([0, 1, 1, 0], dtype='u1'))
np.save(C + 'npy/b1.npy', np.array([True, False, True, True]))
np.save(C + 'npy/i8-2d.npy', np.arange(8, dtype='<i8').reshape(2, 4))
np.save(C + 'npy/i4-0d.npy', np.array(7, dtype='<i4'))
rng = np.random.default_rng(1)
t = {'0.weight': rng.standard_normal((2, 1, 3, 3)).astype('f4'), '0.bias': rng.standard_normal(2).astype('f4'),
     '3.weight': rng.standard_normal((3, 32)).astype('f4'), '3.bias': rng.standard_normal(3).astype('f4')}
bdl.write_safetensors(C + 'safetensors/tiny.safetensors', t,
                      {'format': 'backdoorlab-model/1', 'architecture': 'conv 2 3, relu, flatten, dense 3'})
bdl.write_safetensors(C + 'safetensors/nometa.safetensors', t)
PY

echo "make-seeds: $(find "$C" -type f | wc -l) seeds, $(du -sk "$C" | cut -f1) KB under tests/fuzz/corpus"
