// fuzz_pngdir: PNG-folder datasets (data/pngdir.c, `dataset = png:PATH`) through dataset_load_png_dir. The
// input is a small archive of the tree: entries "%%FILE:<relative path>\n<file bytes>" back to back (make-seeds.sh
// packs `poison --format png` output this way), so the fuzzer varies class folder names, file names, which
// splits exist, and every image. Paths are confined to the harness's folder: characters outside
// [A-Za-z0-9._-] become '_', "." and ".." components become "_", at most 4 components and 32 files.
#include "fuzz_util.h"
#include "data/dataset.h"
#include "data/pngdir.h"

#define MARK "%%FILE:"
#define MARK_LEN 7

static const uint8_t *find_mark(const uint8_t *p, const uint8_t *end) {
    for (; p + MARK_LEN <= end; p++)
        if (*p == '%' && memcmp(p, MARK, MARK_LEN) == 0) return p;
    return end;
}

// Sanitise path into out ("tree/" + at most 4 safe components); 0 when nothing usable is left.
static int safe_path(const uint8_t *s, size_t n, char *out, size_t outn) {
    char comp[4][64];
    int nc = 0;
    size_t i = 0;
    while (i < n && nc < 4) {
        size_t k = 0;
        while (i < n && s[i] == '/') i++;
        while (i < n && s[i] != '/') {
            char c = (char)s[i++];
            int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                     c == '_' || c == '-';
            if (k < sizeof comp[0] - 1) comp[nc][k++] = ok ? c : '_';
        }
        if (!k) continue;
        comp[nc][k] = 0;
        if (!strcmp(comp[nc], ".") || !strcmp(comp[nc], "..")) strcpy(comp[nc], "_");
        nc++;
    }
    if (!nc) return 0;
    int w = snprintf(out, outn, "tree");
    for (int c = 0; c < nc; c++) w += snprintf(out + w, outn - (size_t)w, "/%s", comp[c]);
    return 1;
}

// Write one file of the tree; a path that collides with an earlier file or folder ("a" then "a/b") is skipped.
static void try_write(const char *rel, const uint8_t *body, size_t n) {
    char path[600];
    int w = snprintf(path, sizeof path, "%s/", fz_dir());
    snprintf(path + w, sizeof path - (size_t)w, "%s", rel);
    for (char *s = path + w; (s = strchr(s, '/')); s++) {
        *s = 0;
        mkdir(path, 0700); // fails harmlessly when it exists; the fopen below then decides
        *s = '/';
    }
    struct stat sb;
    if (stat(path, &sb) == 0) return; // a duplicate name: the first entry wins
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(body, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
    char tree[600];
    snprintf(tree, sizeof tree, "%s/tree", fz_dir());
    fz_rm_tree(tree);
    if (mkdir(tree, 0700)) fz_die("mkdir", tree);
    const uint8_t *end = data + len, *p = find_mark(data, end);
    for (int files = 0; p < end && files < 32; files++) {
        const uint8_t *name = p + MARK_LEN, *nl = name;
        while (nl < end && *nl != '\n') nl++;
        const uint8_t *body = nl < end ? nl + 1 : end, *next = find_mark(body, end);
        char rel[400];
        if (safe_path(name, (size_t)(nl - name), rel, sizeof rel)) try_write(rel, body, (size_t)(next - body));
        p = next;
    }
    DatasetPair pair;
    if (dataset_load_png_dir(tree, 0, 0, &pair) == BL_OK) ds_pair_free(&pair);
    return 0;
}
