// load.c: dataset name -> reader (see load.h).
#include "data/load.h"

#include <stdio.h>
#include <string.h>

#include "data/idx.h"
#include "data/mnist10k.h"
#include "data/pngdir.h"
#include "data/records/builtin.h"
#include "data/text/spamassassin.h"
#include "data/text/textfile.h"

DsKind dataset_kind_of(const char *name) {
    if (name && (!strcmp(name, "csv") || records_is_builtin(name))) return DS_RECORDS;
    if (name && (!strcmp(name, "spamassassin") || !strcmp(name, "text"))) return DS_TOKENS;
    return DS_IMAGES;
}

// Records: subsets, then the schema's training statistics (the attacks' trigger values come from them).
static Status records_finish(int train_subset, int test_subset, DatasetPair *p) {
    Status st = ds_take_first(&p->train, train_subset);
    if (!st) st = ds_take_first(&p->test, test_subset);
    if (!st && (train_subset || test_subset)) st = ds_pair_hash(p);
    if (!st) st = ds_schema_fit(p->schema, &p->train);
    if (st) ds_pair_free(p);
    return st;
}

Status dataset_load(const char *name, const char *path, int train_subset, int test_subset, DatasetPair *out) {
    memset(out, 0, sizeof *out);
    if (name && !strcmp(name, "png")) return dataset_load_png_dir(path, train_subset, test_subset, out);
    if (name && records_is_builtin(name)) {
        RecordsBuiltinOptions o = {.dir = path && *path ? path : NULL};
        Status st = records_load_builtin_ex(name, &o, out);
        return st ? st : records_finish(train_subset, test_subset, out);
    }
    if (name && !strcmp(name, "csv"))
        return bl_fail(BL_ERR_USAGE, "dataset csv needs its options (dataset_load_csv)");
    if (dataset_kind_of(name) == DS_TOKENS) {
        TextOptions o = {.max_tokens = TEXT_DEFAULT_MAX_TOKENS, .subject = 1,
                         .test_fraction = TEXT_DEFAULT_TEST_FRACTION, .split_seed = 1};
        return dataset_load_text(name, path, &o, train_subset, test_subset, out, NULL);
    }
    const char *dir = path && *path ? path : dataset_default_dir(name);
    if (!dir) return bl_fail(BL_ERR_USAGE, "unknown dataset '%s' and no folder given", name ? name : "");
    if (name && !strcmp(name, "mnist10k")) return mnist10k_load(dir, train_subset, test_subset, out);
    return dataset_load_dir(dir, train_subset, test_subset, out);
}

Status dataset_load_csv(const char *spec, const CsvOptions *opt, int train_subset, int test_subset,
                        DatasetPair *out) {
    memset(out, 0, sizeof *out);
    char train[4096], test[4096] = "";
    if (!spec || !*spec) return bl_fail(BL_ERR_USAGE, "dataset csv: no file given (csv:PATH or csv:TRAIN,TEST)");
    if (strlen(spec) >= sizeof train) return bl_fail(BL_ERR_USAGE, "dataset csv: path too long");
    snprintf(train, sizeof train, "%s", spec);
    char *comma = strchr(train, ',');
    if (comma) {
        *comma = 0;
        snprintf(test, sizeof test, "%s", comma + 1);
        if (!train[0] || !test[0]) return bl_fail(BL_ERR_USAGE, "dataset csv:%s: expected csv:TRAIN,TEST", spec);
    }
    CsvOptions o = *opt;
    o.path = train;
    o.test_path = test[0] ? test : NULL;
    Status st = records_load_csv(&o, out);
    return st ? st : records_finish(train_subset, test_subset, out);
}

Status dataset_load_text(const char *name, const char *path, const TextOptions *opt, int train_subset,
                         int test_subset, DatasetPair *out, TextLoadInfo *info) {
    memset(out, 0, sizeof *out);
    Status st;
    if (name && !strcmp(name, "spamassassin")) st = spam_load(path, opt, out, info);
    else if (name && !strcmp(name, "text")) st = textfile_load(path, opt, out, info);
    else return bl_fail(BL_ERR_USAGE, "dataset '%s' is not a text dataset (spamassassin, text:PATH)", name ? name : "");
    if (st) return st;
    st = ds_take_first(&out->train, train_subset);
    if (!st) st = ds_take_first(&out->test, test_subset);
    if (!st && (train_subset || test_subset)) st = ds_pair_hash(out);
    if (st) ds_pair_free(out);
    return st;
}
