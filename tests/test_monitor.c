// test_monitor.c: the runtime monitor (defense/monitor.h): its threshold is the registered defence's own, its
// verdicts follow score > threshold, stdin mode reports a torn final record and goes on, PNG folders report
// unreadable files, and bad defences / FRR targets are refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/rng.h"
#include "data/pngdir.h"
#include "defense/monitor.h"

#define D 16 // pixels per image (1,4,4)

// A "backdoored" linear model: class 1's logit is 0.05 * pixel 0 (in 0..255 units: 12.75 at white), class 0's
// is 0.05 * mean of the rest; so a white pixel 0 (the trigger) gives a very confident class 1.
static void build_model(Model *m) {
    assert_int_equal(model_build(m, "flatten, dense 2", (Shape){1, 4, 4}, 2, 64), BL_OK);
    ParamView v[4];
    int nv = model_param_views(m, v, 4);
    assert_int_equal(nv, 2);
    memset(v[0].data, 0, v[0].count * sizeof(float));
    memset(v[1].data, 0, v[1].count * sizeof(float));
    v[0].data[D + 0] = 12.75f; // weight (OUT, IN): row 1, pixel 0
    for (int j = 1; j < D; j++) v[0].data[j] = 12.75f / (D - 1);
}

// n images of random gray levels; triggered ones get a white pixel 0.
static void make_set(Dataset *d, int n, int triggered, uint64_t seed) {
    assert_int_equal(ds_alloc(d, n, 1, 4, 4, 2), BL_OK);
    Rng r = rng_stream(seed, "test-monitor");
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < D; j++) d->images[(size_t)i * D + j] = (uint8_t)(60 + rng_below(&r, 120));
        if (triggered) d->images[(size_t)i * D] = 255;
    }
}

// Parse JSON lines from a buffer: count results, suspicious verdicts and error lines.
static void count_lines(const char *buf, int *results, int *suspicious, int *errors, long *last_index) {
    *results = *suspicious = *errors = 0;
    const char *p = buf;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));
        assert_non_null(o);
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, "index");
        assert_true(cJSON_IsNumber(idx));
        *last_index = (long)idx->valuedouble;
        if (cJSON_GetObjectItemCaseSensitive(o, "error")) (*errors)++;
        else {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "verdict");
            assert_true(cJSON_IsString(v));
            assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "label"));
            assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "latency_ms"));
            (*results)++;
            *suspicious += !strcmp(v->valuestring, "suspicious");
        }
        cJSON_Delete(o);
        p = nl + 1;
    }
}

static void test_threshold_is_the_defences(void **state) {
    (void)state;
    Model m;
    build_model(&m);
    Dataset clean;
    make_set(&clean, 200, 0, 1);
    Monitor mon;
    assert_int_equal(monitor_init(&mon, &m, "confidence", NULL, &clean, 0.01, 5), BL_OK);
    // the registered defence run directly on the same calibration set
    const DefenseOps *ops = defense_find("confidence");
    DefenseParams p;
    assert_int_equal(defense_params_resolve(ops, NULL, &p), BL_OK);
    DefenseResult r = {0};
    DefenseContext ctx = {.model = &m, .clean = &clean, .inputs = &clean, .seed = 5, .params = &p};
    assert_int_equal(ops->run(&ctx, &r), BL_OK);
    assert_true(mon.threshold == r.thresholds[1]); // defense_frr_targets[1] = 0.01
    defense_result_free(&r);
    // refusals: a non-input defence, an FRR without a calibrated threshold
    Monitor bad;
    assert_int_equal(monitor_init(&bad, &m, "spectral", NULL, &clean, 0.01, 5), BL_ERR_USAGE);
    assert_int_equal(monitor_init(&bad, &m, "nope", NULL, &clean, 0.01, 5), BL_ERR_USAGE);
    assert_int_equal(monitor_init(&bad, &m, "confidence", NULL, &clean, 0.07, 5), BL_ERR_USAGE);
    // --set reaches the defence: an unknown key is refused, a valid one is used for calibration and scoring
    assert_int_equal(monitor_init(&bad, &m, "strip", (const char *const[]){"nope=1", NULL}, &clean, 0.01, 5),
                     BL_ERR_USAGE);
    assert_non_null(strstr(bl_errmsg(), "nope"));
    Monitor set;
    assert_int_equal(monitor_init(&set, &m, "strip", (const char *const[]){"n=7", "calib=50", NULL}, &clean, 0.01, 5),
                     BL_OK);
    assert_true(defense_param(set.ops, &set.calib, "n") == 7 && defense_param(set.ops, &set.quick, "n") == 7);
    assert_true(defense_param(set.ops, &set.calib, "calib") == 50 && defense_param(set.ops, &set.quick, "calib") < 50);
    ds_free(&clean);
    model_free(&m);
}

// IDX-style mode: indices run on across calls, verdict lines match the counts, clean inputs are rarely
// flagged, triggered ones always (confidence).
static void test_dataset_verdicts(void **state) {
    (void)state;
    Model m;
    build_model(&m);
    Dataset clean, cin, tin;
    make_set(&clean, 200, 0, 1);
    make_set(&cin, 100, 0, 2);
    make_set(&tin, 100, 1, 3);
    const char *defs[] = {"confidence", "strip"};
    for (int d = 0; d < 2; d++) {
        Monitor mon;
        assert_int_equal(monitor_init(&mon, &m, defs[d], NULL, &clean, 0.01, 5), BL_OK);
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        assert_non_null(out);
        MonitorStats st = {0};
        assert_int_equal(monitor_screen_dataset(&mon, &cin, 0, out, &st), BL_OK);
        long clean_flagged = st.flagged;
        assert_int_equal(monitor_screen_dataset(&mon, &tin, 100, out, &st), BL_OK);
        fclose(out);
        int res, sus, err;
        long last = -1;
        count_lines(buf, &res, &sus, &err, &last);
        free(buf);
        assert_int_equal(res, 200);
        assert_int_equal(err, 0);
        assert_int_equal(last, 199);
        assert_int_equal(st.inputs, 200);
        assert_int_equal(sus, st.flagged);
        assert_true(clean_flagged <= 10); // ~1% FRR target on 100 clean inputs
        // confidence: every triggered input caught. (STRIP's additive overlays saturate this linear toy model's
        // inputs, so it only checks the plumbing here; test_defense.c tests STRIP's detection itself.)
        if (d == 0) assert_int_equal(st.flagged - clean_flagged, 100);
    }
    ds_free(&clean);
    ds_free(&cin);
    ds_free(&tin);
    model_free(&m);
}

// stdin mode: 3.5 records give three verdicts and one error line, and the counts agree.
static void test_raw_truncated(void **state) {
    (void)state;
    Model m;
    build_model(&m);
    Dataset clean, tin;
    make_set(&clean, 200, 0, 1);
    make_set(&tin, 4, 1, 3);
    Monitor mon;
    assert_int_equal(monitor_init(&mon, &m, "confidence", NULL, &clean, 0.01, 5), BL_OK);
    FILE *in = fmemopen(tin.images, 3 * D + D / 2, "rb");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(in);
    assert_non_null(out);
    MonitorStats st = {0};
    assert_int_equal(monitor_screen_raw(&mon, in, out, &st), BL_OK);
    fclose(in);
    fclose(out);
    int res, sus, err;
    long last = -1;
    count_lines(buf, &res, &sus, &err, &last);
    assert_non_null(strstr(buf, "short record: 8 of 16 bytes"));
    free(buf);
    assert_int_equal(res, 3);
    assert_int_equal(sus, 3);
    assert_int_equal(err, 1);
    assert_int_equal(last, 3);
    assert_int_equal(st.inputs, 3);
    assert_int_equal(st.errors, 1);
    ds_free(&clean);
    ds_free(&tin);
    model_free(&m);
}

// PNG folder: good files are screened, a file that is not a PNG gives an error line.
static void test_pngdir(void **state) {
    (void)state;
    Model m;
    build_model(&m);
    Dataset clean, tin;
    make_set(&clean, 200, 0, 1);
    make_set(&tin, 3, 1, 3);
    char dir[] = "/tmp/test_monitor_XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(dataset_write_png_dir(dir, "test", &tin), BL_OK); // dir/test/0/0000{0,1,2}.png
    char sub[256], junk[300];
    snprintf(sub, sizeof sub, "%s/test/0", dir);
    snprintf(junk, sizeof junk, "%s/zz-junk.png", sub);
    FILE *f = fopen(junk, "wb");
    assert_non_null(f);
    fputs("not a png", f);
    fclose(f);
    Monitor mon;
    assert_int_equal(monitor_init(&mon, &m, "confidence", NULL, &clean, 0.01, 5), BL_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    MonitorStats st = {0};
    assert_int_equal(monitor_screen_pngdir(&mon, sub, out, &st), BL_OK);
    fclose(out);
    int res, sus, err;
    long last = -1;
    count_lines(buf, &res, &sus, &err, &last);
    free(buf);
    assert_int_equal(res, 3);
    assert_int_equal(sus, 3);
    assert_int_equal(err, 1);
    for (int i = 0; i < 3; i++) {
        char p[320];
        snprintf(p, sizeof p, "%s/%05d.png", sub, i);
        assert_int_equal(unlink(p), 0);
    }
    assert_int_equal(unlink(junk), 0);
    assert_int_equal(rmdir(sub), 0);
    snprintf(sub, sizeof sub, "%s/test", dir);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(dir), 0);
    ds_free(&clean);
    ds_free(&tin);
    model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_is_the_defences),
        cmocka_unit_test(test_dataset_verdicts),
        cmocka_unit_test(test_raw_truncated),
        cmocka_unit_test(test_pngdir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
