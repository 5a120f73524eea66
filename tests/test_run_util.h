// test_run_util.h: helpers for tests that run whole experiments (header-only; include after <cmocka.h>, which its
// assertions need): write a config, run it into a folder, read a number back from its metrics.json.
#ifndef BL_TEST_RUN_UTIL_H
#define BL_TEST_RUN_UTIL_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/experiment.h"
#include "test_util.h"

static inline void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// `backdoorlab run CFG --out OUT --threads 2 --quiet`.
static inline Status run(const char *cfg, const char *out) {
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = cfg, .out_dir = out, .threads = 2, .quiet = 1};
    return experiment_run(&o);
}

// metrics.json's MODEL/KEY (a number), or -1.
static inline double metric(const char *dir, const char *model, const char *key) {
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    char *text = test_read_file(p);
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, model), key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    cJSON_Delete(j);
    return d;
}

// 1 when both files exist and hold the same bytes.
static inline int files_equal(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *x = test_read_file_len(a, &la), *y = test_read_file_len(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

// DIR/metrics.json without its "timing" object (the one part that differs between identical runs), printed
// canonically (malloc'd); NULL when it is missing or not JSON.
static inline char *metrics_without_timing(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    char *t = test_read_file(p);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    free(t);
    if (!j) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(j, "timing");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

#endif
