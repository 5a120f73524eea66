// cmd_data.c: `backdoorlab data manifest DATASET --out M.json` and `backdoorlab data verify DATASET --manifest
// M.json`: record a dataset folder sample by sample, and later report exactly what changed in it.
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "data/dataset.h"
#include "data/manifest.h"

static void usage(FILE *f) {
    fprintf(f, "usage: backdoorlab data manifest DATASET --out M.json\n"
               "       backdoorlab data verify DATASET --manifest M.json\n\n"
               "DATASET is a folder with the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
               "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each may be .gz), or a known dataset name\n"
               "(fashion-mnist). `manifest` records each file's SHA-256 and every sample's label and image hash;\n"
               "`verify` lists every added, removed and changed sample (exit 0 when all samples match, 3 when not).\n");
}

// A folder as given, or the install folder of a known dataset name.
static const char *resolve(const char *arg) {
    struct stat sb;
    if (stat(arg, &sb) == 0 || !dataset_default_dir(arg)) return arg;
    return dataset_default_dir(arg);
}

static const char *g_split[2] = {"train", "test"};

static void print_change(const DsmChange *c) {
    if (c->kind == DSM_ADDED) {
        printf("  added   %s[%d]  label %d\n", g_split[c->split], c->new_index, c->new_label);
    } else if (c->kind == DSM_REMOVED) {
        printf("  removed %s[%d]  label %d\n", g_split[c->split], c->old_index, c->old_label);
    } else {
        char where[64] = "";
        if (c->new_index != c->old_index) snprintf(where, sizeof where, " (now at %d)", c->new_index);
        char label[64];
        if (c->old_label != c->new_label) snprintf(label, sizeof label, "label %d -> %d", c->old_label, c->new_label);
        else snprintf(label, sizeof label, "label %d", c->old_label);
        printf("  changed %s[%d]%s  %s, image %s\n", g_split[c->split], c->old_index, where, label,
               c->image_changed ? "changed" : "same");
    }
}

static int verify(const char *dir, const char *manifest_path) {
    DsmManifest want, have;
    Status st = dsm_read(manifest_path, &want);
    if (st) return cli_report(st);
    if ((st = dsm_build(dir, &have))) {
        dsm_free(&want);
        return cli_report(st);
    }
    DsmReport r;
    if ((st = dsm_compare(&want, &have, &r))) {
        dsm_free(&want);
        dsm_free(&have);
        return cli_report(st);
    }
    printf("dataset %s against manifest %s\n", dir, manifest_path);
    for (int i = 0; i < DSM_NFILES; i++)
        if (r.file_changed[i])
            printf("  file %s: stored bytes differ (manifest: %s, now: %s)\n", want.files[i].name, want.files[i].file,
                   have.files[i].file);
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
            if (r.changes[i].split == s) print_change(&r.changes[i]);
    }
    int ok = dsm_report_ok(&r);
    if (ok)
        printf("OK: every sample matches the manifest (dataset sha256 %s)%s\n", have.dataset_sha256,
               r.file_changed[0] + r.file_changed[1] + r.file_changed[2] + r.file_changed[3]
                   ? "; the file bytes differ only in encoding" : "");
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
    const char *dir = resolve(dataset);
    if (!is_manifest) return verify(dir, manifest);
    DsmManifest m;
    Status st = dsm_build(dir, &m);
    if (!st) st = dsm_write(&m, out);
    if (!st)
        printf("wrote %s: %d train + %d test samples of %s (dataset sha256 %s)\n", out, m.split[0].n, m.split[1].n,
               dir, m.dataset_sha256);
    dsm_free(&m);
    return cli_report(st);
}
