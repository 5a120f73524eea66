// manifest.c: build, write, read and compare dataset manifests (format and matching rules in manifest.h).
#include "data/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "data/mnist10k.h"
#include "io/results.h"

static const char *const g_idx_names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
static const char *const g_mnist_names[MNIST10K_CLASSES + 1] = {"0.json", "1.json", "2.json", "3.json", "4.json",
                                                                "5.json", "6.json", "7.json", "8.json", "9.json",
                                                                "LICENSE"};
static const char *const g_split_names[DSM_NSPLITS] = {"train", "test"};

// The fixed name of file slot i of a manifest of this kind (NULL past the kind's last slot).
static const char *slot_name(DsmKind kind, int i) {
    if (i < 0) return NULL;
    if (kind == DSM_KIND_IDX) return i < 4 ? g_idx_names[i] : NULL;
    if (kind == DSM_KIND_MNIST10K) return i <= MNIST10K_CLASSES ? g_mnist_names[i] : NULL;
    return NULL;
}

const char *dsm_kind_name(DsmKind kind) {
    return kind == DSM_KIND_IDX ? "idx" : kind == DSM_KIND_MNIST10K ? "mnist10k" : "auto";
}

// For messages: what a folder of this kind holds.
static const char *kind_desc(DsmKind kind) {
    return kind == DSM_KIND_IDX ? "an IDX dataset (train-images-idx3-ubyte, ...)"
                                : "an mnist10k dataset (0.json .. 9.json)";
}

void dsm_free(DsmManifest *m) {
    if (!m) return;
    for (int s = 0; s < DSM_NSPLITS; s++) {
        free(m->split[s].labels);
        free(m->split[s].image_sha256);
    }
    memset(m, 0, sizeof *m);
}

void dsm_report_free(DsmReport *r) {
    if (!r) return;
    free(r->changes);
    memset(r, 0, sizeof *r);
}

// Allocate a split's arrays for n samples (at least one byte each, so pointers are never NULL).
static Status split_alloc(DsmSplit *s, int n) {
    s->n = n;
    s->labels = malloc((size_t)(n ? n : 1));
    s->image_sha256 = malloc((size_t)(n ? n : 1) * 32);
    if (!s->labels || !s->image_sha256) return bl_fail(BL_ERR_RUN, "out of memory for a %d-sample manifest", n);
    return BL_OK;
}

// ---- build ----

// dir/base, or dir/base.gz when only that exists and gz_too (the plain file wins, as in dataset_load_dir). 1 when
// found (path and f filled), 0 when not, -1 when the path is too long.
static int find_file(const char *dir, const char *base, int gz_too, char *path, size_t n, DsmFile *f) {
    const char *ext[2] = {"", ".gz"};
    for (int i = 0; i < 1 + !!gz_too; i++) {
        if ((size_t)snprintf(path, n, "%s/%s%s", dir, base, ext[i]) >= n) return -1;
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            snprintf(f->name, sizeof f->name, "%s", base);
            snprintf(f->file, sizeof f->file, "%s%s", base, ext[i]);
            f->bytes = (uint64_t)sb.st_size;
            return 1;
        }
    }
    return 0;
}

Status dsm_detect_kind(const char *dir, DsmKind *kind) {
    *kind = DSM_KIND_AUTO;
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "dataset folder not given");
    char path[4096];
    DsmFile f;
    for (int i = 0; i < 4; i++) {
        int rc = find_file(dir, g_idx_names[i], 1, path, sizeof path, &f);
        if (rc < 0) return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
        if (rc) {
            *kind = DSM_KIND_IDX;
            return BL_OK;
        }
    }
    if (mnist10k_is_dir(dir)) {
        *kind = DSM_KIND_MNIST10K;
        return BL_OK;
    }
    return bl_fail(BL_ERR_DATA, "%s is not a dataset folder: it has neither the IDX files (train-images-idx3-ubyte, "
                   "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each may be .gz) nor "
                   "mnist10k's 0.json .. 9.json (scripts/fetch-mnist10k.sh)", dir);
}

// Hash the kind's files into m->files: IDX's four (each may be .gz), mnist10k's ten digit files and LICENSE
// when present.
static Status hash_files(const char *dir, DsmManifest *m) {
    int required = m->kind == DSM_KIND_IDX ? 4 : MNIST10K_CLASSES;
    m->nfiles = 0;
    for (int i = 0; slot_name(m->kind, i); i++) {
        char path[4096];
        DsmFile *f = &m->files[m->nfiles];
        int rc = find_file(dir, slot_name(m->kind, i), m->kind == DSM_KIND_IDX, path, sizeof path, f);
        if (rc < 0) return bl_fail(BL_ERR_USAGE, "dataset folder path too long: %s", dir);
        if (!rc && i < required) {
            if (m->kind == DSM_KIND_IDX)
                return bl_fail(BL_ERR_DATA, "dataset folder %s has no %s (nor %s.gz); a dataset folder holds "
                               "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                               "t10k-labels-idx1-ubyte (each may be .gz)", dir, g_idx_names[i], g_idx_names[i]);
            return bl_fail(BL_ERR_DATA, "mnist10k folder %s has no %s; it holds 0.json .. 9.json (run "
                           "scripts/fetch-mnist10k.sh to fetch them)", dir, g_mnist_names[i]);
        }
        if (!rc) continue; // LICENSE is optional
        Status st = sha256_file_hex(path, f->sha256);
        if (st) return st;
        m->nfiles++;
    }
    return BL_OK;
}

// Load the data as the kind's loader does. IDX reads each split alone, without dataset_load_dir's checks (empty
// split, train/test shape mismatch), so a manifest can describe (and a report show) such a folder.
static Status load_pair(const char *dir, DsmKind kind, DatasetPair *p) {
    if (kind == DSM_KIND_MNIST10K) return mnist10k_load(dir, 0, 0, p);
    memset(p, 0, sizeof *p);
    char img[4096], lab[4096];
    for (int s = 0; s < DSM_NSPLITS; s++) {
        DsmFile f;
        Dataset *d = s ? &p->test : &p->train;
        if (find_file(dir, g_idx_names[2 * s], 1, img, sizeof img, &f) != 1 ||
            find_file(dir, g_idx_names[2 * s + 1], 1, lab, sizeof lab, &f) != 1) {
            ds_pair_free(p);
            return bl_fail(BL_ERR_DATA, "dataset folder %s lost its %s files while being read", dir,
                           g_split_names[s]);
        }
        Status st = idx_read_dataset(img, lab, d);
        if (st) {
            ds_pair_free(p);
            return st;
        }
    }
    Status st = ds_pair_hash(p);
    if (st) ds_pair_free(p);
    return st;
}

// A sample's source position and its place in the loaded split, for sorting into source order.
typedef struct {
    int orig;  // orig_index
    int i;     // index in the loaded split
} OrigPos;

static int cmp_orig(const void *a, const void *b) {
    const OrigPos *x = a, *y = b;
    return (x->orig > y->orig) - (x->orig < y->orig);
}

// Record a loaded split sample by sample in source order (orig_index ascending; see manifest.h for why).
static Status split_fill(DsmSplit *sp, const Dataset *d) {
    Status st = split_alloc(sp, d->n);
    if (st) return st;
    sp->c = d->c, sp->h = d->h, sp->w = d->w;
    OrigPos *order = malloc((size_t)(d->n ? d->n : 1) * sizeof *order); // (n)
    if (!order) return bl_fail(BL_ERR_RUN, "out of memory for a %d-sample manifest", d->n);
    for (int i = 0; i < d->n; i++) order[i] = (OrigPos){d->orig_index[i], i};
    if (d->n > 1) qsort(order, (size_t)d->n, sizeof *order, cmp_orig);
    size_t ss = (size_t)ds_sample_size(d);
    for (int j = 0; j < d->n; j++) {
        int i = order[j].i;
        sp->labels[j] = d->labels[i];
        crypto_hash_sha256(sp->image_sha256 + 32 * (size_t)j, d->images + ss * (size_t)i, ss);
    }
    free(order);
    return BL_OK;
}

Status dsm_build(const char *dir, DsmKind kind, DsmManifest *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "dataset folder not given");
    if (sodium_init() < 0) return bl_fail(BL_ERR_RUN, "libsodium failed to initialise");
    Status st = kind == DSM_KIND_AUTO ? dsm_detect_kind(dir, &kind) : BL_OK;
    if (st) return st;
    if (kind != DSM_KIND_IDX && kind != DSM_KIND_MNIST10K)
        return bl_fail(BL_ERR_USAGE, "dsm_build: unknown dataset kind %d", (int)kind);
    DsmManifest m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    DatasetPair p;
    memset(&p, 0, sizeof p);
    if (!(st = hash_files(dir, &m)) && !(st = load_pair(dir, kind, &p))) {
        for (int s = 0; s < DSM_NSPLITS && !st; s++) st = split_fill(&m.split[s], s ? &p.test : &p.train);
        memcpy(m.dataset_sha256, p.sha256_hex, sizeof m.dataset_sha256);
    }
    ds_pair_free(&p);
    if (st) {
        dsm_free(&m);
        return st;
    }
    *out = m;
    return BL_OK;
}

Status dsm_build_checked(const char *dir, DsmKind kind, const DsmManifest *expected, const char *expected_path,
                         DsmManifest *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return bl_fail(BL_ERR_USAGE, "dataset folder not given");
    DsmKind found = kind;
    Status st = kind == DSM_KIND_AUTO ? dsm_detect_kind(dir, &found) : BL_OK;
    if (st) return st;
    if (found != expected->kind)
        return bl_fail(BL_ERR_DATA, "manifest %s describes %s, but %s %s %s: they cannot match; check the "
                       "dataset and the manifest (a manifest of this folder: `backdoorlab data manifest %s --out "
                       "NEW.json`)", expected_path, kind_desc(expected->kind), dir,
                       kind == DSM_KIND_AUTO ? "is" : "is to be read as", kind_desc(found), dir);
    return dsm_build(dir, found, out);
}

// ---- JSON ----

Status dsm_write(const DsmManifest *m, const char *path) {
    cJSON *root = cJSON_CreateObject();
    Status st = BL_OK;
    if (!root) return bl_fail(BL_ERR_RUN, "out of memory writing %s", path);
    cJSON_AddStringToObject(root, "format", "backdoorlab-dataset-manifest");
    cJSON_AddNumberToObject(root, "version", DSM_VERSION);
    cJSON_AddStringToObject(root, "kind", dsm_kind_name(m->kind));
    cJSON_AddStringToObject(root, "dataset_sha256", m->dataset_sha256);
    cJSON *files = cJSON_AddArrayToObject(root, "files");
    for (int i = 0; i < m->nfiles && files; i++) {
        cJSON *f = cJSON_CreateObject();
        if (!f || !cJSON_AddItemToArray(files, f)) break;
        cJSON_AddStringToObject(f, "name", m->files[i].name);
        cJSON_AddStringToObject(f, "file", m->files[i].file);
        cJSON_AddNumberToObject(f, "bytes", (double)m->files[i].bytes);
        cJSON_AddStringToObject(f, "sha256", m->files[i].sha256);
    }
    for (int s = 0; s < DSM_NSPLITS; s++) {
        const DsmSplit *sp = &m->split[s];
        cJSON *o = cJSON_AddObjectToObject(root, g_split_names[s]);
        if (!o) break;
        cJSON_AddNumberToObject(o, "n", sp->n);
        int shape[3] = {sp->c, sp->h, sp->w};
        cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(shape, 3));
        cJSON *labels = cJSON_AddArrayToObject(o, "labels"), *hashes = cJSON_AddArrayToObject(o, "image_sha256");
        for (int i = 0; i < sp->n && labels && hashes; i++) {
            char hex[65];
            sodium_bin2hex(hex, sizeof hex, sp->image_sha256 + 32 * (size_t)i, 32);
            cJSON_AddItemToArray(labels, cJSON_CreateNumber(sp->labels[i]));
            cJSON_AddItemToArray(hashes, cJSON_CreateString(hex));
        }
    }
    // cJSON's Add* calls silently drop an item they cannot allocate, so check that everything made it in.
    int complete = cJSON_GetArraySize(files) == m->nfiles;
    for (int s = 0; s < DSM_NSPLITS && complete; s++) {
        cJSON *o = cJSON_GetObjectItemCaseSensitive(root, g_split_names[s]);
        complete = o && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "labels")) == m->split[s].n &&
                   cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "image_sha256")) == m->split[s].n;
    }
    st = complete ? json_write_atomic(path, root) : bl_fail(BL_ERR_RUN, "out of memory writing %s", path);
    cJSON_Delete(root);
    return st;
}

// Read a whole file of at most DSM_MAX_FILE_BYTES bytes.
static Status read_text(const char *path, char **out, size_t *len) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_USAGE, "cannot open manifest %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return bl_fail(BL_ERR_USAGE, "manifest %s is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > DSM_MAX_FILE_BYTES) {
        fclose(f);
        return bl_fail(BL_ERR_DATA, "manifest %s is %lld bytes, more than the %llu a manifest can be", path,
                       (long long)sb.st_size, (unsigned long long)DSM_MAX_FILE_BYTES);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return bl_fail(BL_ERR_RUN, "out of memory reading %s", path);
    }
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    if (got != n) {
        free(buf);
        return bl_fail(BL_ERR_RUN, "reading %s: short read (file changed while reading?)", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return BL_OK;
}

// A string field that must be 64 lowercase hex digits; copies it into out[65].
static int get_hex(const cJSON *o, const char *key, char out[65]) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) != 64) return 0;
    for (int i = 0; i < 64; i++) {
        char c = v->valuestring[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    memcpy(out, v->valuestring, 65);
    return 1;
}

// An integer field in [lo, hi].
static int get_int(const cJSON *v, long long lo, long long hi, long long *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long long)d) return 0;
    *out = (long long)d;
    return 1;
}

static Status parse_split(const char *path, const cJSON *root, int s, DsmSplit *sp) {
    const char *sn = g_split_names[s];
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, sn);
    if (!cJSON_IsObject(o)) return bl_fail(BL_ERR_DATA, "manifest %s: no \"%s\" object", path, sn);
    long long n, dims[3];
    if (!get_int(cJSON_GetObjectItemCaseSensitive(o, "n"), 0, IDX_MAX_N, &n))
        return bl_fail(BL_ERR_DATA, "manifest %s: %s.n must be an integer in 0..%d", path, sn, IDX_MAX_N);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
    long long caps[3] = {IDX_MAX_CHANNELS, IDX_MAX_SIDE, IDX_MAX_SIDE};
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 3)
        return bl_fail(BL_ERR_DATA, "manifest %s: %s.shape must be [C, H, W]", path, sn);
    for (int i = 0; i < 3; i++)
        if (!get_int(cJSON_GetArrayItem(shape, i), 1, caps[i], &dims[i]))
            return bl_fail(BL_ERR_DATA, "manifest %s: %s.shape[%d] must be an integer in 1..%lld", path, sn, i,
                           caps[i]);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(o, "labels");
    const cJSON *hashes = cJSON_GetObjectItemCaseSensitive(o, "image_sha256");
    if (!cJSON_IsArray(labels) || cJSON_GetArraySize(labels) != n)
        return bl_fail(BL_ERR_DATA, "manifest %s: %s.labels must be an array of %lld labels", path, sn, n);
    if (!cJSON_IsArray(hashes) || cJSON_GetArraySize(hashes) != n)
        return bl_fail(BL_ERR_DATA, "manifest %s: %s.image_sha256 must be an array of %lld hashes", path, sn, n);
    Status st = split_alloc(sp, (int)n);
    if (st) return st;
    sp->c = (int)dims[0], sp->h = (int)dims[1], sp->w = (int)dims[2];
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, labels) {
        long long l;
        if (!get_int(v, 0, 255, &l))
            return bl_fail(BL_ERR_DATA, "manifest %s: %s.labels[%d] must be an integer in 0..255", path, sn, i);
        sp->labels[i++] = (uint8_t)l;
    }
    i = 0;
    cJSON_ArrayForEach(v, hashes) {
        size_t bin_len = 0;
        const char *end = NULL;
        if (!cJSON_IsString(v) || strlen(v->valuestring) != 64 ||
            sodium_hex2bin(sp->image_sha256 + 32 * (size_t)i, 32, v->valuestring, 64, NULL, &bin_len, &end) != 0 ||
            bin_len != 32 || *end != '\0')
            return bl_fail(BL_ERR_DATA, "manifest %s: %s.image_sha256[%d] must be 64 hex digits", path, sn, i);
        i++;
    }
    return BL_OK;
}

// An mnist10k manifest lists what mnist10k_load makes, in source order: 1x28x28 images, labels 0..9
// non-decreasing in each split, every digit in train, exactly MNIST10K_TEST_PER_CLASS of each in test.
// dsm_sample_source relies on this.
static Status check_mnist10k(const char *path, const DsmManifest *m) {
    for (int s = 0; s < DSM_NSPLITS; s++) {
        const DsmSplit *sp = &m->split[s];
        const char *sn = g_split_names[s];
        if (sp->c != 1 || sp->h != MNIST10K_SIDE || sp->w != MNIST10K_SIDE)
            return bl_fail(BL_ERR_DATA, "manifest %s: an mnist10k %s.shape must be [1, 28, 28]", path, sn);
        int count[MNIST10K_CLASSES] = {0};
        for (int i = 0; i < sp->n; i++) {
            if (sp->labels[i] >= MNIST10K_CLASSES || (i && sp->labels[i] < sp->labels[i - 1]))
                return bl_fail(BL_ERR_DATA, "manifest %s: an mnist10k %s.labels must be digits 0..9 in file order "
                               "(non-decreasing); %s.labels[%d] is not", path, sn, sn, i);
            count[sp->labels[i]]++;
        }
        for (int k = 0; k < MNIST10K_CLASSES; k++)
            if (s ? count[k] != MNIST10K_TEST_PER_CLASS : count[k] < 1)
                return bl_fail(BL_ERR_DATA, "manifest %s: an mnist10k %s split has %d image(s) of digit %d, expected "
                               "%s%d", path, sn, count[k], k, s ? "" : "at least ", s ? MNIST10K_TEST_PER_CLASS : 1);
    }
    return BL_OK;
}

Status dsm_read(const char *path, DsmManifest *out) {
    memset(out, 0, sizeof *out);
    if (!path || !*path) return bl_fail(BL_ERR_USAGE, "no manifest file given");
    char *text;
    size_t len = 0;
    Status st = read_text(path, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return bl_fail(BL_ERR_DATA, "manifest %s is not valid JSON", path);
    DsmManifest m;
    memset(&m, 0, sizeof m);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    long long version = 0;
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    if (!cJSON_IsObject(root) || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "backdoorlab-dataset-manifest"))
        st = bl_fail(BL_ERR_DATA, "%s is not a backdoorlab dataset manifest (no \"format\": "
                     "\"backdoorlab-dataset-manifest\"); write one with `backdoorlab data manifest`", path);
    else if (!get_int(cJSON_GetObjectItemCaseSensitive(root, "version"), 0, 1000000, &version) || version < 1 ||
             version > DSM_VERSION)
        st = bl_fail(BL_ERR_DATA, "manifest %s: version must be 1..%d (newer manifests need a newer backdoorlab)",
                     path, DSM_VERSION);
    else if (version == 1 && kind)
        st = bl_fail(BL_ERR_DATA, "manifest %s: a version 1 manifest has no \"kind\" (it is always idx)", path);
    else if (version >= 2 && !(cJSON_IsString(kind) && (!strcmp(kind->valuestring, "idx") ||
                                                        !strcmp(kind->valuestring, "mnist10k"))))
        st = bl_fail(BL_ERR_DATA, "manifest %s: kind must be \"idx\" or \"mnist10k\"", path);
    else if (!get_hex(root, "dataset_sha256", m.dataset_sha256))
        st = bl_fail(BL_ERR_DATA, "manifest %s: dataset_sha256 must be 64 hex digits", path);
    if (!st) {
        m.kind = version == 1 || !strcmp(kind->valuestring, "idx") ? DSM_KIND_IDX : DSM_KIND_MNIST10K;
        int lo = m.kind == DSM_KIND_IDX ? 4 : MNIST10K_CLASSES, hi = m.kind == DSM_KIND_IDX ? 4 : MNIST10K_CLASSES + 1;
        int nf = cJSON_IsArray(files) ? cJSON_GetArraySize(files) : -1;
        if (nf < lo || nf > hi)
            st = m.kind == DSM_KIND_IDX
                     ? bl_fail(BL_ERR_DATA, "manifest %s: \"files\" must list the 4 IDX files", path)
                     : bl_fail(BL_ERR_DATA, "manifest %s: \"files\" must list 0.json .. 9.json and optionally "
                               "LICENSE", path);
        else m.nfiles = nf;
    }
    for (int i = 0; i < m.nfiles && !st; i++) {
        const char *want = slot_name(m.kind, i);
        const cJSON *f = cJSON_GetArrayItem(files, i);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(f, "file");
        long long bytes;
        if (!cJSON_IsString(name) || strcmp(name->valuestring, want) || !cJSON_IsString(file) ||
            strlen(file->valuestring) >= sizeof m.files[i].file ||
            !get_int(cJSON_GetObjectItemCaseSensitive(f, "bytes"), 0, (long long)1 << 53, &bytes) ||
            !get_hex(f, "sha256", m.files[i].sha256)) {
            st = bl_fail(BL_ERR_DATA, "manifest %s: files[%d] must be {\"name\": \"%s\", \"file\": ..., \"bytes\": "
                         "..., \"sha256\": 64 hex digits}", path, i, want);
            break;
        }
        snprintf(m.files[i].name, sizeof m.files[i].name, "%s", want);
        snprintf(m.files[i].file, sizeof m.files[i].file, "%s", file->valuestring);
        m.files[i].bytes = (uint64_t)bytes;
    }
    for (int s = 0; s < DSM_NSPLITS && !st; s++) st = parse_split(path, root, s, &m.split[s]);
    if (!st && m.kind == DSM_KIND_MNIST10K) st = check_mnist10k(path, &m);
    cJSON_Delete(root);
    if (st) {
        dsm_free(&m);
        return st;
    }
    *out = m;
    return BL_OK;
}

// ---- comparison ----

// Growable list of changes.
typedef struct {
    DsmReport *r; // the report whose changes array grows
    int cap;      // allocated entries
} ChangeList;

static Status add_change(ChangeList *cl, DsmChange c) {
    DsmReport *r = cl->r;
    if (r->nchanges == cl->cap) {
        int cap = cl->cap ? 2 * cl->cap : 64;
        DsmChange *p = realloc(r->changes, (size_t)cap * sizeof *p);
        if (!p) return bl_fail(BL_ERR_RUN, "out of memory listing dataset differences");
        r->changes = p;
        cl->cap = cap;
    }
    r->changes[r->nchanges++] = c;
    if (c.kind == DSM_ADDED) r->added[c.split]++;
    else if (c.kind == DSM_REMOVED) r->removed[c.split]++;
    else r->changed[c.split]++;
    return BL_OK;
}

// Sample i of a equals sample j of b (label and image).
static int same(const DsmSplit *a, int i, const DsmSplit *b, int j) {
    return a->labels[i] == b->labels[j] && memcmp(a->image_sha256 + 32 * (size_t)i, b->image_sha256 + 32 * (size_t)j,
                                                  32) == 0;
}

static DsmChange changed(int s, const DsmSplit *a, int i, const DsmSplit *b, int j) {
    return (DsmChange){s, DSM_CHANGED, i, j, a->labels[i], b->labels[j],
                       memcmp(a->image_sha256 + 32 * (size_t)i, b->image_sha256 + 32 * (size_t)j, 32) != 0};
}
static DsmChange removed(int s, const DsmSplit *a, int i) {
    return (DsmChange){s, DSM_REMOVED, i, -1, a->labels[i], -1, 0};
}
static DsmChange added(int s, const DsmSplit *b, int j) {
    return (DsmChange){s, DSM_ADDED, -1, j, -1, b->labels[j], 0};
}

// One edit of the alignment: old sample x removed (is_insert 0) or new sample y added (is_insert 1), at grid
// point (x, y) relative to the compared window.
typedef struct {
    int x, y;      // grid point the edit starts from
    int is_insert; // 1: new sample y added; 0: old sample x removed
} Edit;

// Myers' O((N+M)D) greedy diff of a[p, p+N) against b[p, p+M) with at most dmax edits. On success *edits
// (forward order, *nedits of them) is malloc'ed and 1 is returned; 0 when more than dmax edits are needed;
// -1 on out of memory.
static int myers(const DsmSplit *a, const DsmSplit *b, int p, int N, int M, int dmax, Edit **edits, int *nedits) {
    *edits = NULL;
    *nedits = 0;
    int off = dmax + 1;
    int *V = calloc((size_t)(2 * dmax + 3), sizeof *V);
    int *trace = NULL; // V after each round d, entries k = -d..d, stored at trace[d*d + d + k]
    size_t tcap = 0;
    int D = -1;
    if (!V) return -1;
    for (int d = 0; d <= dmax && D < 0; d++) {
        for (int k = -d; k <= d; k += 2) {
            int x = (k == -d || (k != d && V[off + k - 1] < V[off + k + 1])) ? V[off + k + 1] : V[off + k - 1] + 1;
            int y = x - k;
            while (x < N && y < M && same(a, p + x, b, p + y)) x++, y++;
            V[off + k] = x;
            if (x >= N && y >= M) D = d;
            if (D >= 0) break;
        }
        size_t need = (size_t)(d + 1) * (size_t)(d + 1);
        if (need > tcap) {
            size_t cap = BL_MAX(need, 2 * tcap);
            int *t = realloc(trace, cap * sizeof *t);
            if (!t) {
                free(V), free(trace);
                return -1;
            }
            trace = t, tcap = cap;
        }
        memcpy(trace + (size_t)d * d, V + off - d, (size_t)(2 * d + 1) * sizeof *V);
    }
    free(V);
    if (D < 0) {
        free(trace);
        return 0;
    }
    Edit *e = malloc((size_t)(D ? D : 1) * sizeof *e);
    if (!e) {
        free(trace);
        return -1;
    }
    // Walk back from (N, M), replaying each round's choice of predecessor diagonal.
    int x = N, y = M;
    for (int d = D; d > 0; d--) {
        const int *Vp = trace + (size_t)(d - 1) * (d - 1) + (d - 1); // Vp[k] for k = -(d-1)..d-1
        int k = x - y;
        int down = k == -d || (k != d && Vp[k - 1] < Vp[k + 1]);
        int pk = down ? k + 1 : k - 1;
        int px = Vp[pk], py = px - pk;
        e[d - 1] = (Edit){px, py, down};
        x = px, y = py;
    }
    free(trace);
    *edits = e;
    *nedits = D;
    return 1;
}

// Turn an edit script into changes: consecutive edits (no matching sample between them) form a block whose
// removals and additions are paired in order as changed; the surplus is removed or added.
static Status emit_edits(ChangeList *cl, int s, const DsmSplit *a, const DsmSplit *b, int p, const Edit *e, int ne) {
    Status st = BL_OK;
    for (int i = 0; i < ne && !st;) {
        int j = i, ex = e[i].x, ey = e[i].y; // block [i, j); (ex, ey) = where the next edit must start
        int dels[2] = {-1, 0}, ins[2] = {-1, 0}; // first index and count of removed / added samples
        while (j < ne && e[j].x == ex && e[j].y == ey) {
            int *v = e[j].is_insert ? ins : dels;
            if (v[0] < 0) v[0] = e[j].is_insert ? ey : ex;
            v[1]++;
            if (e[j].is_insert) ey++;
            else ex++;
            j++;
        }
        // Within a block the removed old samples and the added new samples are each contiguous.
        int paired = BL_MIN(dels[1], ins[1]);
        for (int k = 0; k < paired && !st; k++) st = add_change(cl, changed(s, a, p + dels[0] + k, b, p + ins[0] + k));
        for (int k = paired; k < dels[1] && !st; k++) st = add_change(cl, removed(s, a, p + dels[0] + k));
        for (int k = paired; k < ins[1] && !st; k++) st = add_change(cl, added(s, b, p + ins[0] + k));
        i = j;
    }
    return st;
}

static Status compare_split(ChangeList *cl, int s, const DsmSplit *a, const DsmSplit *b) {
    DsmReport *r = cl->r;
    r->shape_changed[s] = a->c != b->c || a->h != b->h || a->w != b->w;
    int p = 0, q = 0; // common prefix and suffix lengths
    while (p < a->n && p < b->n && same(a, p, b, p)) p++;
    while (q < a->n - p && q < b->n - p && same(a, a->n - 1 - q, b, b->n - 1 - q)) q++;
    int N = a->n - p - q, M = b->n - p - q;
    if (N == 0 && M == 0) return BL_OK;
    // By position, the window costs 2 edits per differing position (plus the length difference); only an
    // alignment that does better is worth it, and it is given at most DSM_MAX_EDITS.
    long long pos_cost = (long long)abs(N - M);
    for (int i = 0; i < BL_MIN(N, M); i++) pos_cost += 2 * !same(a, p + i, b, p + i);
    int budget = (int)BL_MIN((long long)DSM_MAX_EDITS, pos_cost - 1);
    Edit *e = NULL;
    int ne = 0, rc = budget >= 0 && !r->shape_changed[s] ? myers(a, b, p, N, M, budget, &e, &ne) : 0;
    if (rc < 0) return bl_fail(BL_ERR_RUN, "out of memory aligning dataset samples");
    Status st = BL_OK;
    if (rc == 1) {
        st = emit_edits(cl, s, a, b, p, e, ne);
    } else {
        // Within budget, a failed alignment proves position is a minimal match; beyond it, it may not be.
        r->by_position[s] = pos_cost - 1 > DSM_MAX_EDITS;
        for (int i = 0; i < BL_MIN(N, M) && !st; i++)
            if (!same(a, p + i, b, p + i)) st = add_change(cl, changed(s, a, p + i, b, p + i));
        for (int i = M; i < N && !st; i++) st = add_change(cl, removed(s, a, p + i));
        for (int i = N; i < M && !st; i++) st = add_change(cl, added(s, b, p + i));
    }
    free(e);
    return st;
}

Status dsm_compare(const DsmManifest *expected, const DsmManifest *actual, DsmReport *rep) {
    memset(rep, 0, sizeof *rep);
    if (expected->kind != actual->kind)
        return bl_fail(BL_ERR_DATA, "cannot compare a manifest of %s with one of %s", kind_desc(expected->kind),
                       kind_desc(actual->kind));
    // File slots have fixed names per kind; a slot only one side has (mnist10k's LICENSE) counts as changed.
    rep->nfiles = BL_MAX(expected->nfiles, actual->nfiles);
    for (int i = 0; i < rep->nfiles; i++)
        rep->file_changed[i] = i >= expected->nfiles || i >= actual->nfiles ||
                               strcmp(expected->files[i].sha256, actual->files[i].sha256) != 0 ||
                               strcmp(expected->files[i].file, actual->files[i].file) != 0;
    ChangeList cl = {rep, 0};
    Status st = BL_OK;
    for (int s = 0; s < DSM_NSPLITS && !st; s++) st = compare_split(&cl, s, &expected->split[s], &actual->split[s]);
    if (st) dsm_report_free(rep);
    return st;
}

int dsm_report_ok(const DsmReport *rep) {
    for (int s = 0; s < DSM_NSPLITS; s++)
        if (rep->shape_changed[s]) return 0;
    return rep->nchanges == 0;
}

const char *dsm_sample_source(const DsmManifest *m, int s, int index, char *out, size_t n) {
    if (n) out[0] = '\0';
    if (m->kind != DSM_KIND_MNIST10K || s < 0 || s >= DSM_NSPLITS || index < 0 || index >= m->split[s].n) return out;
    // Source order groups each digit's images (labels non-decreasing, see check_mnist10k); a digit's training
    // images come first in its file, its test images are the file's last ones.
    const DsmSplit *sp = &m->split[s];
    int k = sp->labels[index], first = index;
    while (first > 0 && sp->labels[first - 1] == k) first--;
    int pos = index - first;
    if (s == 1)
        for (int i = 0; i < m->split[0].n; i++) pos += m->split[0].labels[i] == k;
    snprintf(out, n, "%d.json image %d", k, pos);
    return out;
}

Status dsm_require(const char *dir, DsmKind kind, const char *manifest_path) {
    DsmManifest want, have;
    Status st = dsm_read(manifest_path, &want);
    if (st) return st;
    st = dsm_build_checked(dir, kind, &want, manifest_path, &have);
    if (st) {
        dsm_free(&want);
        return st;
    }
    DsmReport r;
    st = dsm_compare(&want, &have, &r);
    if (!st && !dsm_report_ok(&r)) {
        char first[512] = "";
        size_t used = 0;
        for (int i = 0; i < r.nchanges && i < 3 && used < sizeof first; i++) {
            const DsmChange *c = &r.changes[i];
            const char *kind = c->kind == DSM_ADDED ? "added" : c->kind == DSM_REMOVED ? "removed" : "changed";
            int idx = c->kind == DSM_ADDED ? c->new_index : c->old_index;
            char src[48];
            dsm_sample_source(c->kind == DSM_ADDED ? &have : &want, c->split, idx, src, sizeof src);
            used += (size_t)snprintf(first + used, sizeof first - used, "%s%s[%d]%s%s%s %s", i ? ", " : "",
                                     g_split_names[c->split], idx, src[0] ? " (" : "", src, src[0] ? ")" : "", kind);
        }
        st = bl_fail(BL_ERR_DATA, "dataset %s does NOT match its manifest %s: train %d changed, %d added, %d "
                     "removed; test %d changed, %d added, %d removed%s%s%s (refusing to use it; `backdoorlab data "
                     "verify %s --manifest %s` lists every difference)", dir, manifest_path, r.changed[0],
                     r.added[0], r.removed[0], r.changed[1], r.added[1], r.removed[1],
                     r.shape_changed[0] || r.shape_changed[1] ? "; sample shape differs" : "",
                     first[0] ? "; first: " : "", first, dir, manifest_path);
    }
    dsm_report_free(&r);
    dsm_free(&want);
    dsm_free(&have);
    return st;
}
