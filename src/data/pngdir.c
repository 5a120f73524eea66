// pngdir.c: the class-per-folder PNG dataset tree (files decoded by io/png.c).
#include "data/pngdir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/idx.h" // IDX_MAX_N: the same sample cap as IDX files
#include "io/png.h"
#include "io/results.h"

// ---------------------------------------------------------------------------------------------- tree reader

typedef struct {
    char *name;  // file name (no folder)
    char *path;  // full path
    int label;   // class index
} PngEntry;

typedef struct {
    char name[256]; // folder name
    int label;      // class index
} ClassDir;

static int cmp_classdir_name(const void *pa, const void *pb) {
    return strcmp(((const ClassDir *)pa)->name, ((const ClassDir *)pb)->name);
}

static int cmp_entry(const void *pa, const void *pb) {
    const PngEntry *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    return c ? c : (a->label > b->label) - (a->label < b->label);
}

static int is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

// The class folders of root/split, sorted by name. *n = 0 and BL_ERR_DATA when there are none.
static Status list_classes(const char *root, const char *split, ClassDir *dirs, int *n) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", root, split);
    *n = 0;
    DIR *d = opendir(path);
    if (!d)
        return bl_fail(BL_ERR_DATA, "PNG dataset %s has no %s/ folder (%s); the layout is %s/train/<class>/*.png and "
                       "%s/test/<class>/*.png", root, split, strerror(errno), root, root);
    Status st = BL_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char sub[4500];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (!is_dir(sub)) continue;
        if (*n == 256) {
            st = bl_fail(BL_ERR_DATA, "%s has more than 256 class folders; backdoorlab labels are 0..255", path);
            break;
        }
        if (strlen(e->d_name) >= sizeof dirs[0].name) {
            st = bl_fail(BL_ERR_DATA, "%s: class folder name too long: %.60s...", path, e->d_name);
            break;
        }
        snprintf(dirs[*n].name, sizeof dirs[0].name, "%s", e->d_name);
        (*n)++;
    }
    closedir(d);
    if (st) return st;
    if (*n == 0) return bl_fail(BL_ERR_DATA, "%s has no class folders; put the images in %s/<class>/*.png", path, path);
    qsort(dirs, (size_t)*n, sizeof *dirs, cmp_classdir_name);
    return BL_OK;
}

// Decimal digits only and < 256: the value; else -1.
static int numeric_name(const char *s) {
    if (!*s || strlen(s) > 8) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        v = v * 10 + (*s - '0');
    }
    return v < 256 ? v : -1;
}

// Give every class folder of train and test its label (see pngdir.h). *num_classes = largest label + 1.
static Status assign_labels(const char *root, ClassDir *tr, int ntr, ClassDir *te, int nte, int *num_classes) {
    int numeric = 1;
    for (int i = 0; i < ntr; i++) numeric &= numeric_name(tr[i].name) >= 0;
    for (int i = 0; i < nte; i++) numeric &= numeric_name(te[i].name) >= 0;
    int k = 0;
    if (numeric) {
        ClassDir *sets[2] = {tr, te};
        int ns[2] = {ntr, nte};
        for (int s = 0; s < 2; s++) {
            int seen[256];
            memset(seen, -1, sizeof seen);
            for (int i = 0; i < ns[s]; i++) {
                int v = numeric_name(sets[s][i].name);
                if (seen[v] >= 0)
                    return bl_fail(BL_ERR_DATA, "%s/%s: class folders '%s' and '%s' are the same class %d; keep one",
                                   root, s ? "test" : "train", sets[s][seen[v]].name, sets[s][i].name, v);
                seen[v] = i;
                sets[s][i].label = v;
                k = BL_MAX(k, v + 1);
            }
        }
    } else {
        for (int i = 0; i < ntr; i++) tr[i].label = i;
        for (int i = 0; i < nte; i++) {
            ClassDir *hit = bsearch(&te[i], tr, (size_t)ntr, sizeof *tr, cmp_classdir_name);
            if (!hit)
                return bl_fail(BL_ERR_DATA, "%s/test/%s has no matching %s/train/%s folder; with named (non-numeric) "
                               "class folders train and test need the same names", root, te[i].name, root,
                               te[i].name);
            te[i].label = hit->label;
        }
        k = ntr;
    }
    *num_classes = k;
    return BL_OK;
}

static int has_png_suffix(const char *name) {
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

static void free_entries(PngEntry *e, int n) {
    for (int i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].path);
    }
    free(e);
}

// Every *.png in the class folders of root/split, sorted by (file name, label).
static Status list_files(const char *root, const char *split, const ClassDir *dirs, int ndirs, PngEntry **out,
                         int *nout) {
    *out = NULL;
    *nout = 0;
    int n = 0, cap = 0;
    PngEntry *e = NULL;
    Status st = BL_OK;
    for (int c = 0; c < ndirs && !st; c++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s/%s", root, split, dirs[c].name);
        DIR *d = opendir(path);
        if (!d) {
            st = bl_fail(BL_ERR_DATA, "cannot open %s: %s", path, strerror(errno));
            break;
        }
        for (struct dirent *de; (de = readdir(d));) {
            if (de->d_name[0] == '.' || !has_png_suffix(de->d_name)) continue;
            char full[4800];
            snprintf(full, sizeof full, "%s/%s", path, de->d_name);
            if (!is_file(full)) continue;
            if (n == IDX_MAX_N) {
                st = bl_fail(BL_ERR_DATA, "%s/%s holds more than %d images", root, split, IDX_MAX_N);
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                PngEntry *ne = realloc(e, (size_t)cap * sizeof *e);
                if (!ne) {
                    st = bl_fail(BL_ERR_RUN, "out of memory listing %s", path);
                    break;
                }
                e = ne;
            }
            e[n].name = strdup(de->d_name);
            e[n].path = strdup(full);
            e[n].label = dirs[c].label;
            n++;
            if (!e[n - 1].name || !e[n - 1].path) {
                st = bl_fail(BL_ERR_RUN, "out of memory listing %s", path);
                break;
            }
        }
        closedir(d);
    }
    if (st) {
        free_entries(e, n);
        return st;
    }
    if (n == 0) {
        free(e);
        return bl_fail(BL_ERR_DATA, "%s/%s has no .png files in its class folders", root, split);
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    *out = e;
    *nout = n;
    return BL_OK;
}

// Probe the first n entries: same size as (*w, *h) (set from the first file when 0), 8-bit or less; *color |= any
// colour file.
static Status probe_entries(const PngEntry *e, int n, int *w, int *h, int *color) {
    for (int i = 0; i < n; i++) {
        PngInfo info;
        Status st = png_probe(e[i].path, &info);
        if (st) return st;
        if (info.depth == 16)
            return bl_fail(BL_ERR_DATA, "%s has 16-bit samples; backdoorlab images are 8-bit: save it as 8-bit",
                           e[i].path);
        if (!*w) {
            *w = info.w;
            *h = info.h;
        } else if (info.w != *w || info.h != *h) {
            return bl_fail(BL_ERR_DATA, "%s is %dx%d but the dataset's images are %dx%d (from %s); all images must "
                           "have the same size: resize them first", e[i].path, info.w, info.h, *w, *h, e[0].path);
        }
        *color |= info.color;
    }
    return BL_OK;
}

static Status decode_entries(const PngEntry *e, int n, int c, int h, int w, int num_classes, Dataset *out) {
    Status st = ds_alloc(out, n, c, h, w, num_classes);
    if (st) return st;
    size_t ss = (size_t)ds_sample_size(out);
    for (int i = 0; i < n; i++) {
        uint8_t *pix;
        int pw, ph;
        if ((st = png_read(e[i].path, c, &pix, NULL, &pw, &ph))) break;
        if (pw != w || ph != h) { // changed since the probe
            bl_free(pix);
            st = bl_fail(BL_ERR_DATA, "%s is %dx%d, expected %dx%d", e[i].path, pw, ph, w, h);
            break;
        }
        memcpy(out->images + (size_t)i * ss, pix, ss);
        bl_free(pix);
        out->labels[i] = (uint8_t)e[i].label;
    }
    if (st) ds_free(out);
    return st;
}


Status dataset_load_png_dir(const char *path, int train_subset, int test_subset, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (!path || !*path) return bl_fail(BL_ERR_USAGE, "PNG dataset folder not given (dataset = png:PATH)");
    if (train_subset < 0 || test_subset < 0)
        return bl_fail(BL_ERR_USAGE, "dataset subset sizes must be >= 0 (got %d and %d)", train_subset, test_subset);
    ClassDir *tr = calloc(256, sizeof *tr), *te = calloc(256, sizeof *te);
    PngEntry *etr = NULL, *ete = NULL;
    int ntr = 0, nte = 0, nftr = 0, nfte = 0, k = 0, w = 0, h = 0, color = 0;
    int usetr = 0, usete = 0; // how many of the listed files are decoded (the subsets)
    DatasetPair p;
    memset(&p, 0, sizeof p);
    Status st = tr && te ? BL_OK : bl_fail(BL_ERR_RUN, "out of memory");
    if (!st) st = list_classes(path, "train", tr, &ntr);
    if (!st) st = list_classes(path, "test", te, &nte);
    if (!st) st = assign_labels(path, tr, ntr, te, nte, &k);
    if (!st && k < 2)
        st = bl_fail(BL_ERR_DATA, "PNG dataset %s has only %d class; classification needs at least 2", path, k);
    if (!st) st = list_files(path, "train", tr, ntr, &etr, &nftr);
    if (!st) st = list_files(path, "test", te, nte, &ete, &nfte);
    if (!st) {
        usetr = train_subset > 0 && train_subset < nftr ? train_subset : nftr;
        usete = test_subset > 0 && test_subset < nfte ? test_subset : nfte;
        st = probe_entries(etr, usetr, &w, &h, &color);
    }
    if (!st) st = probe_entries(ete, usete, &w, &h, &color);
    if (!st) st = decode_entries(etr, usetr, color ? 3 : 1, h, w, k, &p.train);
    if (!st) st = decode_entries(ete, usete, color ? 3 : 1, h, w, k, &p.test);
    if (!st) st = ds_pair_hash(&p);
    if (!st) {
        snprintf(p.source, sizeof p.source, "png:%s", path);
        *out = p;
    } else {
        ds_pair_free(&p);
    }
    free(tr);
    free(te);
    if (etr) free_entries(etr, nftr);
    if (ete) free_entries(ete, nfte);
    return st;
}

// ---------------------------------------------------------------------------------------------- tree writer

Status dataset_write_png_dir(const char *dir, const char *split, const Dataset *d) {
    if (d->c != 1 && d->c != 3)
        return bl_fail(BL_ERR_USAGE, "cannot write %d-channel images as PNG (1 or 3 channels)", d->c);
    int maxi = 0;
    for (int i = 0; i < d->n; i++) maxi = BL_MAX(maxi, d->orig_index[i]);
    int digits = 5;
    for (long v = 100000; v <= maxi; v *= 10) digits++;
    char path[4400];
    int made[256] = {0};
    size_t hw = (size_t)d->h * d->w, ss = (size_t)ds_sample_size(d);
    uint8_t *rgb = d->c == 3 ? bl_alloc(ss) : NULL; // (h, w, 3) interleaved copy of one image
    if (d->c == 3 && !rgb) return BL_ERR_RUN;
    Status st = BL_OK;
    for (int i = 0; i < d->n && !st; i++) {
        int y = d->labels[i];
        if (!made[y]) {
            snprintf(path, sizeof path, "%s/%s/%d", dir, split, y);
            if ((st = ensure_dir(path))) break;
            made[y] = 1;
        }
        if ((size_t)snprintf(path, sizeof path, "%s/%s/%d/%0*d.png", dir, split, y, digits, d->orig_index[i]) >=
            sizeof path) {
            st = bl_fail(BL_ERR_USAGE, "output path too long: %s", dir);
            break;
        }
        const uint8_t *img = d->images + (size_t)i * ss; // (c, h, w)
        if (d->c == 1) {
            st = png_write_gray(path, img, d->w, d->h);
        } else {
            for (size_t p = 0; p < hw; p++)
                for (int ch = 0; ch < 3; ch++) rgb[p * 3 + (size_t)ch] = img[(size_t)ch * hw + p];
            st = png_write_rgb(path, rgb, d->w, d->h);
        }
    }
    bl_free(rgb);
    return st;
}
