// fuzz_idxdir: a whole IDX dataset folder (data/idx.c dataset_load_dir): the four files read together, so the
// checks between them run too (image and label counts, train vs test shapes, class counts, subsets, hashing).
// Input layout: byte 0 = flags (bit i: file i is named with ".gz", which must not matter: zlib reads the bytes),
// bytes 1..6 = lengths of files 0..2 (u16, little-endian), then files 0, 1, 2 and, with what is left, file 3.
// Files in order: train-images, train-labels, t10k-images, t10k-labels. Seeds: make-seeds.sh.
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    static const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                   "t10k-labels-idx1-ubyte"};
    if (len < 7) return 0;
    char dir[600], path[700], rel[100];
    snprintf(dir, sizeof dir, "%s/idxdir", fz_dir());
    fz_rm_tree(dir); // the previous input's files (with other names) must not linger
    size_t at = 7;
    for (int i = 0; i < 4; i++) {
        size_t n = i < 3 ? (size_t)(data[1 + 2 * i] | data[2 + 2 * i] << 8) : len - at;
        if (n > len - at) n = len - at;
        snprintf(rel, sizeof rel, "idxdir/%s%s", names[i], data[0] >> i & 1 ? ".gz" : "");
        fz_write(path, sizeof path, rel, data + at, n, 0600);
        at += n;
    }
    DatasetPair p;
    // subsets from the flags' high bits: none, or a few samples (ds_take_first on small and too-large requests)
    int sub = data[0] >> 4;
    if (dataset_load_dir(dir, sub, sub / 2, &p) == BL_OK) ds_pair_free(&p);
    return 0;
}
