// cmd_data.c: `backdoorlab data manifest DATASET --out M.json` and `backdoorlab data verify DATASET --manifest
// M.json`: record a dataset folder (IDX or mnist10k) sample by sample, and later report exactly what changed in it.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/dataset.h"
#include "data/load.h"
#include "data/manifest.h"

static void usage(FILE *f) {
    fprintf(f, "usage: backdoorlab data manifest DATASET --out M.json\n"
               "       backdoorlab data verify DATASET --manifest M.json\n\n"
               "DATASET is a folder with the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
               "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each may be .gz), a folder with mnist10k's\n"
               "0.json .. 9.json, or a known dataset name (fashion-mnist, mnist10k). `manifest` records each file's\n"
               "SHA-256 and every sample's label and image hash (mnist10k: of its fixed train/test split, listed\n"
               "digit file by digit file); `verify` lists every added, removed and changed sample (exit 0 when all\n"
               "samples match, 3 when not). A manifest of one kind never matches a folder of the other.\n");
}

// A folder as given (its kind decided from its files), or the install folder of a known dataset name (of that
// name's kind).
static const char *resolve(const char *arg, DsmKind *kind) {
    struct stat sb;
    *kind = DSM_KIND_AUTO;
    if (stat(arg, &sb) == 0 || !dataset_default_dir(arg)) return arg;
    *kind = !strcmp(arg, "mnist10k") ? DSM_KIND_MNIST10K : DSM_KIND_IDX;
    return dataset_default_dir(arg);
}

static const char *g_split[2] = {"train", "test"};

// want/have: the manifest and the folder's, for naming a mnist10k sample's digit file and image.
static void print_change(const DsmChange *c, const DsmManifest *want, const DsmManifest *have) {
    char src[48], from[64] = "";
    int s = c->split;
    if (*dsm_sample_source(c->kind == DSM_ADDED ? have : want, s, c->kind == DSM_ADDED ? c->new_index : c->old_index,
                           src, sizeof src))
        snprintf(from, sizeof from, "  (%s)", src);
    if (c->kind == DSM_ADDED) {
        printf("  added   %s[%d]  label %d%s\n", g_split[s], c->new_index, c->new_label, from);
    } else if (c->kind == DSM_REMOVED) {
        printf("  removed %s[%d]  label %d%s\n", g_split[s], c->old_index, c->old_label, from);
    } else {
        char where[64] = "";
        if (c->new_index != c->old_index) snprintf(where, sizeof where, " (now at %d)", c->new_index);
        char label[64];
        if (c->old_label != c->new_label) snprintf(label, sizeof label, "label %d -> %d", c->old_label, c->new_label);
        else snprintf(label, sizeof label, "label %d", c->old_label);
        printf("  changed %s[%d]%s  %s, image %s%s\n", g_split[s], c->old_index, where, label,
               c->image_changed ? "changed" : "same", from);
    }
}

static int verify(const char *dir, DsmKind kind, const char *manifest_path) {
    DsmManifest want, have;
    Status st = dsm_read(manifest_path, &want);
    if (st) return cli_report(st);
    if ((st = dsm_build_checked(dir, kind, &want, manifest_path, &have))) {
        dsm_free(&want);
        return cli_report(st);
    }
    DsmReport r;
    if ((st = dsm_compare(&want, &have, &r))) {
        dsm_free(&want);
        dsm_free(&have);
        return cli_report(st);
    }
    printf("dataset %s (%s) against manifest %s\n", dir, dsm_kind_name(have.kind), manifest_path);
    int files_differ = 0;
    for (int i = 0; i < r.nfiles; i++) {
        if (!r.file_changed[i]) continue;
        files_differ = 1;
        if (i >= want.nfiles)
            printf("  file %s: not in the manifest (new)\n", have.files[i].name);
        else if (i >= have.nfiles)
            printf("  file %s: in the manifest, now missing\n", want.files[i].name);
        else if (strcmp(want.files[i].file, have.files[i].file))
            printf("  file %s: stored bytes differ (manifest: %s, now: %s)\n", want.files[i].name,
                   want.files[i].file, have.files[i].file);
        else
            printf("  file %s: stored bytes differ\n", want.files[i].name);
    }
    for (int s = 0; s < DSM_NSPLITS; s++) {
        printf("%s: %d samples (manifest: %d): %d changed, %d added, %d removed\n", g_split[s], have.split[s].n,
               want.split[s].n, r.changed[s], r.added[s], r.removed[s]);
        if (r.shape_changed[s])
            printf("  sample shape is %dx%dx%d, manifest says %dx%dx%d\n", have.split[s].c, have.split[s].h,
                   have.split[s].w, want.split[s].c, want.split[s].h, want.split[s].w);
        if (r.by_position[s])
            printf("  (more than %d insertions/removals would be needed to align the samples, e.g. a reordered\n"
                   "   copy; compared by position instead)\n", DSM_MAX_EDITS);
        for (int i = 0; i < r.nchanges; i++)
            if (r.changes[i].split == s) print_change(&r.changes[i], &want, &have);
    }
    int ok = dsm_report_ok(&r);
    if (ok)
        printf("OK: every sample matches the manifest (dataset sha256 %s)%s\n", have.dataset_sha256,
               files_differ ? "; the files differ only in bytes that hold no sample (encoding, LICENSE)" : "");
    else
        fprintf(stderr, "backdoorlab data verify: MISMATCH: %d sample(s) differ from the manifest%s\n", r.nchanges,
                r.shape_changed[0] || r.shape_changed[1] ? " and the sample shape changed" : "");
    dsm_report_free(&r);
    dsm_free(&want);
    dsm_free(&have);
    return ok ? 0 : (int)BL_ERR_DATA;
}

int cmd_data(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    const char *sub = argc >= 2 ? argv[1] : NULL, *dataset = NULL, *out = NULL, *manifest = NULL;
    if (!sub || (strcmp(sub, "manifest") && strcmp(sub, "verify"))) {
        fprintf(stderr, "backdoorlab data: expected `manifest` or `verify`%s%s\n", sub ? ", got " : "",
                sub ? sub : "");
        usage(stderr);
        return 2;
    }
    int is_manifest = !strcmp(sub, "manifest");
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (is_manifest && !strcmp(argv[i], "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!is_manifest && !strcmp(argv[i], "--manifest") && i + 1 < argc) {
            manifest = argv[++i];
        } else if (argv[i][0] != '-' && !dataset) {
            dataset = argv[i];
        } else {
            fprintf(stderr, "backdoorlab data %s: unexpected argument '%s' (see --help)\n", sub, argv[i]);
            return 2;
        }
    }
    if (!dataset || (is_manifest ? !out : !manifest)) {
        fprintf(stderr, "backdoorlab data %s: needs DATASET and %s (see --help)\n", sub,
                is_manifest ? "--out M.json" : "--manifest M.json");
        return 2;
    }
    if (dataset_kind_of(dataset) == DS_TOKENS) { // manifests list image files; a text set's identity is its hash
        fprintf(stderr, "backdoorlab data %s: %s holds messages (tokens); manifests cover image datasets (IDX folders, "
                "mnist10k). A text dataset is identified by the dataset sha256 every run manifest records.\n", sub,
                dataset);
        return 2;
    }
    DsmKind kind;
    const char *dir = resolve(dataset, &kind);
    if (!is_manifest) return verify(dir, kind, manifest);
    DsmManifest m;
    Status st = dsm_build(dir, kind, &m);
    if (!st) st = dsm_write(&m, out);
    if (!st)
        printf("wrote %s: %d train + %d test samples of %s (%s, %d files; dataset sha256 %s)\n", out, m.split[0].n,
               m.split[1].n, dir, dsm_kind_name(m.kind), m.nfiles, m.dataset_sha256);
    dsm_free(&m);
    return cli_report(st);
}
