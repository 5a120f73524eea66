// test_records.c: the tabular readers (data/records/): CSV -> Table -> DatasetPair (one-hot, missing values,
// splits, class order), every bad-input case of the CSV reader, the .rda reader on hand-built R serialization
// streams (xz, gzip, plain; truncated at every byte, corrupted, hostile lengths and types), and the five built-in
// datasets on the real files in datasets/tabular/ (skipped when scripts/fetch-tabular.sh has not run).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
// cmocka needs the above first.
#include <cmocka.h>

#include <lzma.h>
#include <zlib.h>

#include "test_util.h"

#include "core/core.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/records/builtin.h"
#include "data/records/csv.h"
#include "data/records/rda.h"
#include "data/records/table.h"

// ---- helpers ----

static char g_dir[256]; // per-test temp folder

static int setup_dir(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bl_test_records_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static const char *tpath(const char *name) {
    static char buf[64][512]; // rotating, so a test can hold many paths at once
    static int k;
    k = (k + 1) % 64;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len) assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
}

// Write a text file into the temp folder and return its path.
static const char *put(const char *name, const char *text) {
    const char *p = tpath(name);
    spit(p, text, strlen(text));
    return p;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void assert_msg_has(const char *needle) {
    if (!strstr(bl_errmsg(), needle)) fail_msg("error message '%s' lacks '%s'", bl_errmsg(), needle);
}

// Load a CSV pair with label `label`, split by test_path when given (else 0.25 of each class, seed 1).
static Status load_csv(const char *path, const char *test_path, const char *label, DatasetPair *p) {
    CsvOptions o = {.path = path, .test_path = test_path, .label_column = label, .test_fraction = 0.25, .seed = 1};
    return records_load_csv(&o, p);
}

// Expect loading to fail with `st` and a message containing every needle (NULL-terminated list).
static void expect_csv_fail(const CsvOptions *o, Status st, ...) {
    DatasetPair p;
    bl_clear_error();
    Status got = records_load_csv(o, &p);
    if (got != st) fail_msg("expected status %d, got %d (%s)", st, got, bl_errmsg());
    assert_null(p.schema);
    assert_null(p.train.features);
    va_list ap;
    va_start(ap, st);
    for (const char *n; (n = va_arg(ap, const char *));) assert_msg_has(n);
    va_end(ap);
}

static int feature_index(const DatasetPair *p, const char *name) {
    for (int f = 0; f < p->schema->nfeatures; f++)
        if (strcmp(p->schema->feature_names[f], name) == 0) return f;
    fail_msg("no feature '%s'", name);
    return -1;
}

// ---- CSV: good input ----

static void test_csv_two_files_roundtrip(void **state) {
    (void)state;
    const char *tr = put("tr.csv", "age,colour,score,label\n"
                                   "30,red,1.5,yes\n"
                                   "40,blue,2.5,no\n"
                                   "50,red,NA,yes\n"
                                   "60,,3.5,no\n");
    const char *te = put("te.csv", "age,colour,score,label\n"
                                   "35,blue,-1e3,no\n"
                                   "45,?,0.25,yes\n");
    DatasetPair p;
    assert_int_equal(load_csv(tr, te, "label", &p), BL_OK);
    assert_int_equal(p.train.kind, DS_RECORDS);
    assert_int_equal(p.train.n, 4);
    assert_int_equal(p.test.n, 2);
    // age, colour=blue, colour=red (sorted levels), score
    assert_int_equal(p.train.c, 4);
    assert_int_equal(p.train.h * p.train.w, 1);
    assert_ptr_equal(p.train.schema, p.schema);
    assert_ptr_equal(p.test.schema, p.schema);
    assert_string_equal(p.schema->feature_names[0], "age");
    assert_string_equal(p.schema->feature_names[1], "colour=blue");
    assert_string_equal(p.schema->feature_names[2], "colour=red");
    assert_string_equal(p.schema->feature_names[3], "score");
    assert_int_equal(p.schema->num_classes, 2);
    assert_string_equal(p.schema->class_names[0], "no");
    assert_string_equal(p.schema->class_names[1], "yes");
    const float want_tr[4][4] = {{30, 0, 1, 1.5f}, {40, 1, 0, 2.5f}, {50, 0, 1, 0}, {60, 0, 0, 3.5f}};
    const uint8_t miss_tr[4][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 1}, {0, 1, 1, 0}};
    const uint8_t lab_tr[4] = {1, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        for (int f = 0; f < 4; f++) {
            assert_true(p.train.features[i * 4 + f] == want_tr[i][f]);
            assert_int_equal(p.train.missing[i * 4 + f], miss_tr[i][f]);
        }
        assert_int_equal(p.train.labels[i], lab_tr[i]);
        assert_int_equal(p.train.orig_index[i], i);
    }
    assert_true(p.test.features[0] == 35 && p.test.features[1] == 1 && p.test.features[2] == 0);
    assert_true(p.test.features[3] == -1000.0f);
    assert_int_equal(p.test.missing[5], 1); // "?" colour: both one-hot slots missing
    assert_int_equal(p.test.missing[6], 1);
    assert_int_equal(p.test.missing[4], 0);
    assert_int_equal(p.test.labels[0], 0);
    assert_int_equal(p.test.labels[1], 1);
    assert_true(strncmp(p.source, "csv:", 4) == 0 && strchr(p.source, ','));
    assert_int_equal(strlen(p.sha256_hex), 64);
    ds_pair_free(&p);
}

static void test_csv_unseen_level_is_error(void **state) {
    (void)state;
    const char *tr = put("tr.csv", "colour,label\nred,a\nblue,b\nred,b\n");
    const char *te = put("te.csv", "colour,label\nred,a\n\ngreen,b\n");
    CsvOptions o = {.path = tr, .test_path = te, .label_column = "label"};
    expect_csv_fail(&o, BL_ERR_DATA, "te.csv", "line 4", "'colour'", "'green'", "training", NULL);
    // within one file: class c has two rows and sends one to the test set; if that is the only "purple" row,
    // the load fails naming line 6, else purple is a training level and a feature
    const char *one = put("one.csv", "colour,label\nred,a\nred,a\nred,b\nred,b\npurple,c\nred,c\n");
    CsvOptions o2 = {.path = one, .label_column = "label", .test_fraction = 0.5, .seed = 3};
    DatasetPair p;
    Status st = records_load_csv(&o2, &p);
    if (st == BL_OK) { // purple went to training: it must be a feature then
        (void)feature_index(&p, "colour=purple");
        ds_pair_free(&p);
    } else {
        assert_int_equal(st, BL_ERR_DATA);
        assert_msg_has("line 6");
        assert_msg_has("'purple'");
    }
}

static void test_csv_missing_markers(void **state) {
    (void)state;
    const char *f = put("m.csv", "x,y,label\n1,-999,a\n-999,2,b\n,3,a\nNA,4,b\n");
    const char *const mv[] = {"-999", ""};
    CsvOptions o = {.path = f, .test_path = f, .label_column = "label", .missing_values = mv, .nmissing_values = 2};
    // "NA" is no longer a missing marker, so x is a mixed column -> an error naming it
    expect_csv_fail(&o, BL_ERR_DATA, "line 5", "column 1", "'x'", "'NA'", "not a number", NULL);
    const char *g = put("g.csv", "x,y,label\n1,-999,a\n-999,2,b\n,3,a\n7,4,b\n");
    o.path = o.test_path = g;
    DatasetPair p;
    assert_int_equal(records_load_csv(&o, &p), BL_OK);
    const uint8_t want[4][2] = {{0, 1}, {1, 0}, {1, 0}, {0, 0}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            assert_int_equal(p.train.missing[i * 2 + j], want[i][j]);
            if (want[i][j]) assert_true(p.train.features[i * 2 + j] == 0.0f);
        }
    ds_pair_free(&p);
    // an empty missing_values list: nothing is missing, so an empty cell makes x categorical-or-mixed
    const char *const none[] = {NULL};
    CsvOptions o3 = {.path = g, .test_path = g, .label_column = "label", .missing_values = none, .nmissing_values = 0};
    expect_csv_fail(&o3, BL_ERR_DATA, "'x'", NULL);
}

static void test_csv_split_stratified(void **state) {
    (void)state;
    char *text = malloc(8192);
    assert_non_null(text);
    int len = snprintf(text, 8192, "v,label\n");
    for (int i = 0; i < 100; i++) len += snprintf(text + len, 8192 - (size_t)len, "%d,%s\n", i, i % 10 < 7 ? "p" : "q");
    const char *f = put("s.csv", text);
    free(text);
    CsvOptions o = {.path = f, .label_column = "label", .test_fraction = 0.2, .seed = 42};
    DatasetPair a, b, c;
    assert_int_equal(records_load_csv(&o, &a), BL_OK);
    assert_int_equal(records_load_csv(&o, &b), BL_OK);
    o.seed = 43;
    assert_int_equal(records_load_csv(&o, &c), BL_OK);
    assert_int_equal(a.train.n, 80);
    assert_int_equal(a.test.n, 20);
    int per[2] = {0, 0};
    for (int i = 0; i < a.test.n; i++) per[a.test.labels[i]]++;
    assert_int_equal(per[0], 14); // round(0.2 * 70)
    assert_int_equal(per[1], 6);  // round(0.2 * 30)
    // file order kept, a partition of 0..99, value = row index
    uint8_t seen[100] = {0};
    for (int s = 0; s < 2; s++) {
        const Dataset *d = s ? &a.test : &a.train;
        for (int i = 0; i < d->n; i++) {
            if (i) assert_true(d->orig_index[i] > d->orig_index[i - 1]);
            assert_true(d->features[i] == (float)d->orig_index[i]);
            seen[d->orig_index[i]]++;
        }
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_string_equal(a.sha256_hex, b.sha256_hex); // same seed, same split
    assert_string_not_equal(a.sha256_hex, c.sha256_hex);
    ds_pair_free(&a);
    ds_pair_free(&b);
    ds_pair_free(&c);
    o.test_fraction = 1.0;
    expect_csv_fail(&o, BL_ERR_USAGE, "test_fraction", NULL);
    o.test_fraction = 0.0;
    expect_csv_fail(&o, BL_ERR_USAGE, "test_fraction", NULL);
    o.test_fraction = 0.001; // rounds to no test rows at all
    expect_csv_fail(&o, BL_ERR_DATA, "test set is empty", NULL);
}

static void test_csv_numeric_labels_and_index(void **state) {
    (void)state;
    const char *f = put("n.csv", "cls,a,b\n10,1,2\n2,3,4\n3,5,6\n10,7,8\n");
    DatasetPair p;
    assert_int_equal(load_csv(f, f, "0", &p), BL_OK); // index 0 = "cls"
    assert_int_equal(p.schema->num_classes, 3);
    assert_string_equal(p.schema->class_names[0], "2"); // numeric order, not text order
    assert_string_equal(p.schema->class_names[1], "3");
    assert_string_equal(p.schema->class_names[2], "10");
    assert_int_equal(p.train.labels[0], 2);
    assert_int_equal(p.train.c, 2);
    assert_string_equal(p.schema->feature_names[0], "a");
    ds_pair_free(&p);
    // a column literally named "1" wins over index 1
    const char *g = put("g.csv", "x,1,y\n1,a,5\n2,b,6\n");
    assert_int_equal(load_csv(g, g, "1", &p), BL_OK);
    assert_string_equal(p.schema->class_names[0], "a");
    assert_int_equal(p.train.c, 2);
    ds_pair_free(&p);
    CsvOptions o = {.path = f, .test_path = f, .label_column = "7"};
    expect_csv_fail(&o, BL_ERR_DATA, "label column '7' not found", NULL);
}

static void test_csv_feature_columns(void **state) {
    (void)state;
    const char *f = put("fc.csv", "a,b,c,label\n1,2,3,x\n4,5,6,y\n");
    const char *const cols[] = {"c", "0"};
    CsvOptions o = {.path = f, .test_path = f, .label_column = "label", .feature_columns = cols, .nfeature_columns = 2};
    DatasetPair p;
    assert_int_equal(records_load_csv(&o, &p), BL_OK);
    assert_int_equal(p.train.c, 2);
    assert_string_equal(p.schema->feature_names[0], "c");
    assert_string_equal(p.schema->feature_names[1], "a");
    assert_true(p.train.features[0] == 3 && p.train.features[1] == 1);
    ds_pair_free(&p);
    const char *const bad[] = {"nope"};
    o.feature_columns = bad;
    o.nfeature_columns = 1;
    expect_csv_fail(&o, BL_ERR_DATA, "feature column 'nope' not found", NULL);
    const char *const lab[] = {"a", "label"};
    o.feature_columns = lab;
    o.nfeature_columns = 2;
    expect_csv_fail(&o, BL_ERR_USAGE, "both the label and a feature", NULL);
    const char *const twice[] = {"a", "0"};
    o.feature_columns = twice;
    expect_csv_fail(&o, BL_ERR_USAGE, "listed twice", NULL);
    // categorical_columns forces a numeric-looking column into one-hot
    const char *const cat[] = {"b"};
    CsvOptions o2 = {.path = f, .test_path = f, .label_column = "label", .categorical_columns = cat,
                     .ncategorical_columns = 1};
    assert_int_equal(records_load_csv(&o2, &p), BL_OK);
    assert_int_equal(p.train.c, 4);
    (void)feature_index(&p, "b=2");
    (void)feature_index(&p, "b=5");
    ds_pair_free(&p);
    const char *const nocat[] = {"zzz"};
    o2.categorical_columns = nocat;
    expect_csv_fail(&o2, BL_ERR_USAGE, "'zzz'", NULL);
}

static void test_csv_bom_crlf_quotes(void **state) {
    (void)state;
    const char *f = put("q.csv", "\xEF\xBB\xBF" "id,\"note, with comma\",label\r\n"
                                 "1,\"line one\r\nline two\",a\r\n"
                                 "2,\"say \"\"hi\"\"\",b\r\n"
                                 "  3 , plain ,a\r\n");
    Table t;
    CsvOptions o = {0};
    assert_int_equal(csv_read_tables(f, NULL, &o, &t, NULL), BL_OK);
    assert_int_equal(t.ncols, 3);
    assert_int_equal(t.nrows, 3);
    assert_string_equal(t.cols[0].name, "id"); // BOM gone
    assert_string_equal(t.cols[1].name, "note, with comma");
    assert_int_equal(t.cols[0].kind, TABLE_NUMERIC);
    assert_true(t.cols[0].num[2] == 3.0);      // spaces around unquoted fields trimmed
    assert_int_equal(t.cols[1].kind, TABLE_CATEGORICAL);
    assert_string_equal(t.cols[1].levels[t.cols[1].code[0]], "line one\r\nline two");
    assert_string_equal(t.cols[1].levels[t.cols[1].code[1]], "say \"hi\"");
    assert_string_equal(t.cols[1].levels[t.cols[1].code[2]], "plain");
    assert_int_equal(t.row_line[0], 2);
    assert_int_equal(t.row_line[1], 4); // the quoted newline moved it down a line
    assert_int_equal(t.row_line[2], 5);
    table_free(&t);
    // a line number after a multi-line field is right in an error too
    const char *g = put("g.csv", "a,b\n1,\"x\ny\"\n2,z\n3\n");
    CsvOptions o2 = {.path = g, .test_path = g, .label_column = "b"};
    expect_csv_fail(&o2, BL_ERR_DATA, "g.csv", "line 5", "1 fields", "has 2", NULL);
    // pandas-style unnamed index column, and no final newline
    const char *h = put("h.csv", ",x,label\n0,1.5,a\n1,2.5,b");
    assert_int_equal(csv_read_tables(h, NULL, &o, &t, NULL), BL_OK);
    assert_string_equal(t.cols[0].name, "column1");
    assert_int_equal(t.nrows, 2);
    table_free(&t);
}

// ---- CSV: bad input ----

static void test_csv_bad_input(void **state) {
    (void)state;
    CsvOptions o = {.label_column = "label", .test_fraction = 0.5, .seed = 1};
#define BAD(name, text, ...)                                                                                            \
    do {                                                                                                                \
        o.path = put(name, text);                                                                                      \
        expect_csv_fail(&o, __VA_ARGS__, NULL);                                                                         \
    } while (0)
    BAD("ragged.csv", "a,b,label\n1,2,x\n3,4\n5,6,y\n", BL_ERR_DATA, "ragged.csv", "line 3", "2 fields", "ragged");
    BAD("ragged2.csv", "a,b,label\n1,2,x,9\n", BL_ERR_DATA, "line 2", "4 fields");
    BAD("mixed.csv", "a,b,label\n1,2,x\n3,oops,y\n5,6,x\n", BL_ERR_DATA, "mixed.csv", "line 3", "column 2", "'b'",
        "'oops'", "2 other cells");
    BAD("nan.csv", "a,b,label\n1,2,x\n3,NaN,y\n5,6,x\n7,8,y\n", BL_ERR_DATA, "nan.csv", "line 3", "'b'", "not finite");
    BAD("inf.csv", "a,b,label\n1,2,x\n3,4,y\n-inf,6,x\n7,8,y\n", BL_ERR_DATA, "line 4", "'a'", "not finite");
    BAD("huge.csv", "a,b,label\n1,2,x\n3,1e999,y\n5,6,x\n7,8,y\n", BL_ERR_DATA, "line 3", "not finite");
    BAD("flt.csv", "a,b,label\n1,2,x\n3,1e39,y\n5,6,x\n7,8,y\n", BL_ERR_DATA, "line 3", "float32");
    BAD("empty.csv", "", BL_ERR_DATA, "empty.csv", "empty file");
    BAD("blank.csv", "\n\r\n\n", BL_ERR_DATA, "empty file");
    BAD("bom.csv", "\xEF\xBB\xBF", BL_ERR_DATA, "empty file");
    BAD("hdronly.csv", "a,b,label\n", BL_ERR_DATA, "no data rows");
    BAD("nohdr.csv", "1,2,3\n4,5,6\n", BL_ERR_DATA, "nohdr.csv", "line 1", "no header");
    BAD("nolabel.csv", "a,b,c\n1,2,x\n", BL_ERR_DATA, "nolabel.csv", "label column 'label' not found");
    BAD("duplabel.csv", "label,a,label\nx,1,y\n", BL_ERR_DATA, "line 1", "column 3", "'label'", "like column 1");
    BAD("dupcol.csv", "a,a,label\n1,2,x\n", BL_ERR_DATA, "'a'", "unique");
    BAD("nalabel.csv", "a,label\n1,x\n2,NA\n3,y\n", BL_ERR_DATA, "line 3", "label is missing");
    BAD("unterminated.csv", "a,label\n1,\"x\n2,y\n", BL_ERR_DATA, "unterminated.csv", "ends inside a quoted field");
    BAD("strayquote.csv", "a,label\n1,x\"y\n", BL_ERR_DATA, "line 2");
    BAD("afterquote.csv", "a,label\n1,\"x\"y\n", BL_ERR_DATA, "line 2");
    o.path = tpath("nul.csv");
    spit(o.path, "a,label\n1,x\n2,\0y\n", 17);
    expect_csv_fail(&o, BL_ERR_DATA, "line 3", "NUL", NULL);
    BAD("onlylabel.csv", "label\nx\ny\n", BL_ERR_DATA, "no feature columns");
    // a 10 MB field: refused with the 1 MiB limit named
    size_t big = 10u << 20;
    char *text = malloc(big + 64);
    assert_non_null(text);
    int h = snprintf(text, 64, "a,label\n1,x\n2,");
    memset(text + h, 'z', big);
    memcpy(text + h + big, "\n", 2);
    o.path = tpath("big.csv");
    spit(o.path, text, strlen(text));
    free(text);
    expect_csv_fail(&o, BL_ERR_DATA, "big.csv", "line 3", "column 2", "1 MiB", NULL);
    o.path = tpath("does-not-exist.csv");
    expect_csv_fail(&o, BL_ERR_DATA, "does-not-exist.csv", "cannot open", NULL);
    o.path = g_dir; // a folder
    expect_csv_fail(&o, BL_ERR_DATA, "not a regular file", NULL);
    CsvOptions none = {.path = put("ok.csv", "a,label\n1,x\n")};
    expect_csv_fail(&none, BL_ERR_USAGE, "label_column", NULL);
#undef BAD
}

static void test_csv_two_files_mismatch(void **state) {
    (void)state;
    const char *tr = put("tr.csv", "a,b,label\n1,x,p\n2,y,q\n");
    CsvOptions o = {.path = tr, .label_column = "label"};
    o.test_path = put("te1.csv", "a,label\n1,p\n");
    expect_csv_fail(&o, BL_ERR_DATA, "te1.csv", "same header", NULL);
    o.test_path = put("te2.csv", "a,c,label\n1,x,p\n");
    expect_csv_fail(&o, BL_ERR_DATA, "te2.csv", "column 2 is 'c'", NULL);
    // joint type inference: "b" is categorical in train, numbers in test -> categorical in both (no mixed error
    // since no file mixes... the union does): both numbers and words -> mixed error names the first word
    o.test_path = put("te3.csv", "a,b,label\n1,7,p\n");
    expect_csv_fail(&o, BL_ERR_DATA, "'b'", "not a number", NULL);
    // a test label that training never saw is a class of its own (counted, never predicted)
    o.test_path = put("te4.csv", "a,b,label\n1,x,r\n");
    DatasetPair p;
    assert_int_equal(records_load_csv(&o, &p), BL_OK);
    assert_int_equal(p.schema->num_classes, 3);
    assert_string_equal(p.schema->class_names[2], "r");
    ds_pair_free(&p);
}

// Random byte flips in a small valid CSV: every outcome is a clean load or a clean BL_ERR_DATA/BL_ERR_USAGE.
static void test_csv_random_corruption(void **state) {
    (void)state;
    const char *clean = "a,b,colour,label\n1,2.5,red,x\n3,\"4\",blue,y\n5,NA,\"gr,een\",x\n7,8,red,y\n"
                        "9,10,blue,x\n11,12,red,y\n";
    size_t n = strlen(clean);
    Rng r = rng_stream(11, "test");
    const char *path = tpath("fuzz.csv");
    for (int it = 0; it < 1500; it++) {
        char buf[256];
        memcpy(buf, clean, n);
        int flips = 1 + (int)rng_below(&r, 3);
        for (int k = 0; k < flips; k++) {
            size_t at = rng_below(&r, n);
            const char pick[] = ",\"\n\r?NA0x\xff";
            buf[at] = rng_below(&r, 2) ? pick[rng_below(&r, sizeof pick - 1)] : (char)(buf[at] ^ (1 << rng_below(&r, 8)));
        }
        spit(path, buf, n);
        CsvOptions o = {.path = path, .label_column = "label", .test_fraction = 0.3, .seed = (uint64_t)it};
        DatasetPair p;
        Status st = records_load_csv(&o, &p);
        if (st == BL_OK) ds_pair_free(&p);
        else if (st != BL_ERR_DATA && st != BL_ERR_USAGE) fail_msg("iteration %d: status %d (%s)", it, st, bl_errmsg());
    }
}

static void test_table_long_names_cut(void **state) {
    (void)state;
    char text[512];
    char longname[200];
    memset(longname, 'n', 61);
    memcpy(longname + 61, "\xC3\xA9\xC3\xA9", 4); // two 2-byte characters straddling the 63-byte cut
    longname[65] = '\0';
    snprintf(text, sizeof text, "%s,label\n1,a\n2,b\n", longname);
    const char *f = put("long.csv", text);
    DatasetPair p;
    assert_int_equal(load_csv(f, f, "label", &p), BL_OK);
    assert_int_equal(strlen(p.schema->feature_names[0]), 63); // 61 + one whole é
    ds_pair_free(&p);
}

// ---- .rda fixtures: a tiny R serialization writer ----

typedef struct {
    uint8_t *b;  // bytes
    size_t n;    // used
    size_t cap;  // allocated
} Buf;

static void b_raw(Buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->b = realloc(b->b, b->cap);
        assert_non_null(b->b);
    }
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void b_int(Buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    b_raw(b, x, 4);
}
static void b_dbl(Buf *b, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    b_int(b, (uint32_t)(u >> 32));
    b_int(b, (uint32_t)u);
}
static void b_char(Buf *b, const char *s) { // CHARSXP (ASCII flag), NULL = NA_STRING
    if (!s) {
        b_int(b, 9);
        b_int(b, 0xFFFFFFFFu);
        return;
    }
    b_int(b, 0x00040009);
    b_int(b, (uint32_t)strlen(s));
    b_raw(b, s, strlen(s));
}
static void b_sym(Buf *b, const char *s) {
    b_int(b, 1);
    b_char(b, s);
}
static void b_ref(Buf *b, int idx) { b_int(b, (uint32_t)idx << 8 | 255); }
static void b_strs(Buf *b, int n, const char *const *s) {
    b_int(b, 16);
    b_int(b, (uint32_t)n);
    for (int i = 0; i < n; i++) b_char(b, s[i]);
}

#define NA_INT_BITS 0x80000000u
static double r_na_real(void) { // R's NA_real_: a NaN with payload 1954
    uint64_t u = 0x7FF00000000007A2ull;
    double d;
    memcpy(&d, &u, 8);
    return d;
}

// RDX2 header, XDR, version 2 (or 3 with an encoding).
static void b_header(Buf *b, int version) {
    b_raw(b, version == 3 ? "RDX3\nX\n" : "RDX2\nX\n", 7);
    b_int(b, (uint32_t)version);
    b_int(b, 0x00040200);
    b_int(b, 0x00030500);
    if (version == 3) {
        b_int(b, 5);
        b_raw(b, "UTF-8", 5);
    }
}

// The standard fixture: object "df" = data.frame(x = c(1.5, NA, NaN, -2), n = c(1L, NA, 3L, 4L),
// f = factor(c("lo", "hi", NA, "lo"), levels = c("lo", "hi")), s = c("u", NA, "v", "u"), b = c(TRUE, FALSE, NA,
// TRUE)), compact row.names. Symbols: 1 df, 2 levels, 3 class, 4 names, 5 row.names. `bad_col` (a type code)
// puts an item of that type in place of the fourth column (0 = no change).
static Buf make_rda(int version, int bad_col) {
    Buf b = {0};
    b_header(&b, version);
    b_int(&b, 0x00000402);   // pairlist with tag
    b_sym(&b, "df");         // ref 1
    b_int(&b, 0x00000313);   // VECSXP, object, attributes
    b_int(&b, 5);
    b_int(&b, 14); // x
    b_int(&b, 4);
    b_dbl(&b, 1.5);
    b_dbl(&b, r_na_real());
    b_dbl(&b, NAN);
    b_dbl(&b, -2);
    b_int(&b, 13); // n
    b_int(&b, 4);
    b_int(&b, 1);
    b_int(&b, NA_INT_BITS);
    b_int(&b, 3);
    b_int(&b, 4);
    b_int(&b, 0x0000030d); // f: factor
    b_int(&b, 4);
    b_int(&b, 1);
    b_int(&b, 2);
    b_int(&b, NA_INT_BITS);
    b_int(&b, 1);
    b_int(&b, 0x00000402); // its attributes: levels, class
    b_sym(&b, "levels");   // ref 2
    const char *lv[] = {"lo", "hi"};
    b_strs(&b, 2, lv);
    b_int(&b, 0x00000402);
    b_sym(&b, "class"); // ref 3
    const char *fc[] = {"factor"};
    b_strs(&b, 1, fc);
    b_int(&b, 254);
    if (bad_col) { // an item of an unsupported type (e.g. 4 = ENVSXP) in place of column s
        b_int(&b, (uint32_t)bad_col);
        b_int(&b, 0);
    } else {
        const char *sv[] = {"u", NULL, "v", "u"};
        b_strs(&b, 4, sv);
    }
    b_int(&b, 10); // b: logical
    b_int(&b, 4);
    b_int(&b, 1);
    b_int(&b, 0);
    b_int(&b, NA_INT_BITS);
    b_int(&b, 1);
    b_int(&b, 0x00000402); // data.frame attributes: names, row.names, class
    b_sym(&b, "names");    // ref 4
    const char *nm[] = {"x", "n", "f", "s", "b"};
    b_strs(&b, 5, nm);
    b_int(&b, 0x00000402);
    b_sym(&b, "row.names"); // ref 5
    b_int(&b, 13);
    b_int(&b, 2);
    b_int(&b, NA_INT_BITS);
    b_int(&b, (uint32_t)-4);
    b_int(&b, 0x00000402);
    b_ref(&b, 3); // "class" again, as R writes it
    const char *dc[] = {"data.frame"};
    b_strs(&b, 1, dc);
    b_int(&b, 254); // end of the data.frame's attributes
    b_int(&b, 254); // end of the top-level pairlist
    return b;
}

static Buf xz(const Buf *in) {
    Buf out = {0};
    out.cap = in->n + in->n / 2 + 1024;
    out.b = malloc(out.cap);
    assert_non_null(out.b);
    assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in->b, in->n, out.b, &out.n, out.cap),
                     LZMA_OK);
    return out;
}

static Buf gz(const Buf *in) {
    Buf out = {0};
    out.cap = in->n + 1024;
    out.b = malloc(out.cap);
    assert_non_null(out.b);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = in->b;
    z.avail_in = (uInt)in->n;
    z.next_out = out.b;
    z.avail_out = (uInt)out.cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.n = z.total_out;
    deflateEnd(&z);
    return out;
}

static void check_fixture_table(const Table *t) {
    assert_int_equal(t->ncols, 5);
    assert_int_equal(t->nrows, 4);
    assert_null(t->row_line);
    const TableCol *x = &t->cols[0], *n = &t->cols[1], *f = &t->cols[2], *s = &t->cols[3], *b = &t->cols[4];
    assert_string_equal(x->name, "x");
    assert_int_equal(x->kind, TABLE_NUMERIC);
    assert_true(x->num[0] == 1.5 && x->num[3] == -2.0);
    assert_int_equal(x->missing[1], 1); // NA_real_
    assert_int_equal(x->missing[2], 1); // any NaN
    assert_int_equal(x->missing[0] + x->missing[3], 0);
    assert_int_equal(n->kind, TABLE_NUMERIC);
    assert_int_equal(n->missing[1], 1);
    assert_true(n->num[2] == 3.0);
    assert_int_equal(f->kind, TABLE_CATEGORICAL);
    assert_int_equal(f->factor_order, 1);
    assert_int_equal(f->nlevels, 2);
    assert_string_equal(f->levels[0], "lo");
    assert_int_equal(f->code[0], 0);
    assert_int_equal(f->code[1], 1);
    assert_int_equal(f->missing[2], 1);
    assert_int_equal(f->code[2], -1);
    assert_int_equal(s->kind, TABLE_CATEGORICAL);
    assert_int_equal(s->factor_order, 0);
    assert_int_equal(s->missing[1], 1);
    assert_string_equal(s->levels[s->code[2]], "v");
    assert_int_equal(b->kind, TABLE_NUMERIC);
    assert_true(b->num[0] == 1.0 && b->num[1] == 0.0);
    assert_int_equal(b->missing[2], 1);
}

// ---- .rda: good input ----

static void test_rda_fixture_all_containers(void **state) {
    (void)state;
    for (int version = 2; version <= 3; version++) {
        Buf plain = make_rda(version, 0);
        Buf x = xz(&plain), g = gz(&plain);
        const Buf *forms[3] = {&plain, &x, &g};
        for (int k = 0; k < 3; k++) {
            Table t;
            Status st = rda_read_mem(forms[k]->b, forms[k]->n, "fixture.rda", "df", &t);
            if (st) fail_msg("version %d form %d: %s", version, k, bl_errmsg());
            check_fixture_table(&t);
            table_free(&t);
        }
        // through a file, object chosen automatically
        spit(tpath("f.rda"), x.b, x.n);
        Table t;
        assert_int_equal(rda_read(tpath("f.rda"), NULL, &t), BL_OK);
        check_fixture_table(&t);
        assert_string_equal(t.source, tpath("f.rda"));
        table_free(&t);
        free(plain.b);
        free(x.b);
        free(g.b);
    }
}

static void test_rda_to_pair(void **state) {
    (void)state;
    Buf plain = make_rda(2, 0);
    Table t;
    assert_int_equal(rda_read_mem(plain.b, plain.n, "fixture.rda", "df", &t), BL_OK);
    free(plain.b);
    // label = the logical column b has a missing value -> error naming row 3
    DatasetPair p;
    TableSpec spec = {.label = "b", .test_fraction = 0.5, .seed = 1};
    assert_int_equal(table_to_pair(&t, &t, &spec, &p), BL_ERR_DATA);
    assert_msg_has("row 3");
    assert_msg_has("label is missing");
    // label = n after making it complete; features x, f (one-hot in factor order lo, hi), s
    t.cols[1].missing[1] = 0;
    t.cols[1].num[1] = 2;
    const char *const feats[] = {"x", "f", "s"};
    TableSpec spec2 = {.label = "n", .features = feats, .nfeatures = 3};
    assert_int_equal(table_to_pair(&t, &t, &spec2, &p), BL_OK);
    assert_int_equal(p.train.c, 1 + 2 + 2);
    assert_string_equal(p.schema->feature_names[1], "f=lo");
    assert_string_equal(p.schema->feature_names[2], "f=hi");
    assert_string_equal(p.schema->feature_names[3], "s=u");
    assert_int_equal(p.schema->num_classes, 4);
    assert_int_equal(p.train.missing[2 * 5 + 1], 1); // row 3's factor is NA: both slots missing
    assert_int_equal(p.train.missing[2 * 5 + 2], 1);
    assert_true(p.train.features[1 * 5 + 2] == 1.0f); // row 2 is "hi"
    ds_pair_free(&p);
    // +Inf in a numeric feature is a data error with the row
    t.cols[0].num[3] = INFINITY;
    assert_int_equal(table_to_pair(&t, &t, &spec2, &p), BL_ERR_DATA);
    assert_msg_has("row 4");
    assert_msg_has("'x'");
    table_free(&t);
}

// ---- .rda: bad input ----

static void expect_rda_fail(const uint8_t *b, size_t n, const char *needle) {
    Table t;
    bl_clear_error();
    Status st = rda_read_mem(b, n, "bad.rda", "df", &t);
    if (st != BL_ERR_DATA) fail_msg("expected BL_ERR_DATA, got %d (%s) for '%s'", st, bl_errmsg(), needle ? needle : "");
    assert_null(t.cols);
    if (needle) assert_msg_has(needle);
}

static void test_rda_truncated_everywhere(void **state) {
    (void)state;
    Buf plain = make_rda(2, 0);
    for (size_t cut = 0; cut < plain.n; cut++) expect_rda_fail(plain.b, cut, "bad.rda");
    Buf x = xz(&plain);
    for (size_t cut = 0; cut < x.n; cut += 7) expect_rda_fail(x.b, cut, NULL);
    expect_rda_fail(x.b, x.n - 1, "xz");
    Buf g = gz(&plain);
    for (size_t cut = 2; cut < g.n - 8; cut += 5) expect_rda_fail(g.b, cut, NULL);
    free(plain.b);
    free(x.b);
    free(g.b);
}

static void test_rda_bad_headers_and_types(void **state) {
    (void)state;
    Buf b = make_rda(2, 0);
    b.b[3] = '9'; // RDX9
    expect_rda_fail(b.b, b.n, "not an R data file");
    memcpy(b.b, "RDA2\nA\n", 7);
    expect_rda_fail(b.b, b.n, "ASCII");
    memcpy(b.b, "RDX2\nB\n", 7);
    expect_rda_fail(b.b, b.n, "not XDR");
    memcpy(b.b, "RDX2\nX\n", 7);
    b.b[10] = 7; // version 7
    expect_rda_fail(b.b, b.n, "version 7");
    free(b.b);
    expect_rda_fail((const uint8_t *)"BZh91AY&SY", 10, "bzip2");
    expect_rda_fail((const uint8_t *)"hello world", 11, "not an R data file");
    // an environment (type 4) as a column
    Buf e = make_rda(2, 4);
    expect_rda_fail(e.b, e.n, "R type 4");
    assert_msg_has("byte offset");
    free(e.b);
    // a closure (3), ALTREP (238)
    Buf c = make_rda(2, 238);
    expect_rda_fail(c.b, c.n, "R type 238");
    free(c.b);
    // trailing garbage
    Buf t = make_rda(2, 0);
    b_int(&t, 0);
    expect_rda_fail(t.b, t.n, "unexpected bytes");
    free(t.b);
}

// Overwrite the int32 at the first occurrence (after the header) of the 8-byte pattern (type, length).
static void patch_len(Buf *b, uint32_t type, uint32_t len, uint32_t new_len) {
    uint8_t pat[8] = {(uint8_t)(type >> 24), (uint8_t)(type >> 16), (uint8_t)(type >> 8), (uint8_t)type,
                      (uint8_t)(len >> 24),  (uint8_t)(len >> 16),  (uint8_t)(len >> 8),  (uint8_t)len};
    for (size_t i = 23; i + 8 <= b->n; i++)
        if (memcmp(b->b + i, pat, 8) == 0) {
            uint8_t v[4] = {(uint8_t)(new_len >> 24), (uint8_t)(new_len >> 16), (uint8_t)(new_len >> 8),
                            (uint8_t)new_len};
            memcpy(b->b + i + 4, v, 4);
            return;
        }
    fail_msg("pattern not found");
}

static void test_rda_hostile_lengths(void **state) {
    (void)state;
    const uint32_t huge[] = {1000000000u, 0x7FFFFFFFu, 0xFFFFFFFFu, 0x80000000u, 6};
    for (size_t k = 0; k < BL_ARRAY_LEN(huge); k++) {
        Buf b = make_rda(2, 0);
        patch_len(&b, 14, 4, huge[k]); // the REALSXP column x
        expect_rda_fail(b.b, b.n, NULL);
        free(b.b);
        Buf v = make_rda(2, 0);
        patch_len(&v, 0x313, 5, huge[k]); // the data.frame VECSXP
        expect_rda_fail(v.b, v.n, NULL);
        free(v.b);
        Buf s = make_rda(2, 0);
        patch_len(&s, 16, 5, huge[k]); // the names STRSXP
        expect_rda_fail(s.b, s.n, NULL);
        free(s.b);
    }
    Buf b = make_rda(2, 0);
    patch_len(&b, 14, 4, 1000000000u);
    expect_rda_fail(b.b, b.n, "length 1000000000");
    assert_msg_has("byte offset");
    free(b.b);
    Buf l = make_rda(2, 0);
    patch_len(&l, 14, 4, 0xFFFFFFFFu);
    expect_rda_fail(l.b, l.n, "long vector");
    free(l.b);
    // a CHARSXP claiming 2 GB
    Buf c = make_rda(2, 0);
    patch_len(&c, 0x00040009, 2, 0x7FFFFFF0u); // the first 2-byte string: "df"
    expect_rda_fail(c.b, c.n, "truncated");
    free(c.b);
    // a reference to symbol 9 when 5 exist (the "class" ref is the only 0x3ff ref)
    Buf r = make_rda(2, 0);
    for (size_t i = 0; i + 4 <= r.n; i++)
        if (memcmp(r.b + i, "\x00\x00\x03\xff", 4) == 0) r.b[i + 2] = 9;
    expect_rda_fail(r.b, r.n, "reference 9");
    free(r.b);
    // a factor code outside its levels
    Buf f = make_rda(2, 0);
    for (size_t i = 23; i + 12 <= f.n; i++)
        if (memcmp(f.b + i, "\x00\x00\x03\x0d\x00\x00\x00\x04\x00\x00\x00\x01", 12) == 0) f.b[i + 11] = 9;
    expect_rda_fail(f.b, f.n, "code 9 outside 1..2");
    free(f.b);
    // columns of different lengths
    Buf m = make_rda(2, 0);
    patch_len(&m, 13, 2, 3); // row.names c(NA, -4) -> length 3 with one more int read... corrupt either way
    expect_rda_fail(m.b, m.n, NULL);
    free(m.b);
}

static void test_rda_not_a_data_frame_and_names(void **state) {
    (void)state;
    Buf b = make_rda(2, 0);
    Table t;
    assert_int_equal(rda_read_mem(b.b, b.n, "x.rda", "nope", &t), BL_ERR_DATA);
    assert_msg_has("no object of that name");
    assert_msg_has("'df'");
    free(b.b);
    // a plain integer vector saved as "df"
    Buf v = {0};
    b_header(&v, 2);
    b_int(&v, 0x402);
    b_sym(&v, "df");
    b_int(&v, 13);
    b_int(&v, 1);
    b_int(&v, 7);
    b_int(&v, 254);
    expect_rda_fail(v.b, v.n, "not a data.frame");
    free(v.b);
    // a pairlist tag that is a string, not a symbol
    Buf g = {0};
    b_header(&g, 2);
    b_int(&g, 0x402);
    b_char(&g, "df");
    b_int(&g, 254);
    b_int(&g, 254);
    expect_rda_fail(g.b, g.n, "tag of type 9");
    free(g.b);
    // nesting deeper than the limit: pairlists as values of pairlists
    Buf d = {0};
    b_header(&d, 2);
    for (int i = 0; i < 100; i++) b_int(&d, 0x2);
    expect_rda_fail(d.b, d.n, "nested deeper");
    free(d.b);
}

static void test_rda_random_corruption(void **state) {
    (void)state;
    Buf clean = make_rda(2, 0);
    Rng r = rng_stream(7, "test");
    int ok = 0;
    for (int it = 0; it < 3000; it++) {
        Buf b = {0};
        b_raw(&b, clean.b, clean.n);
        int flips = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < flips; k++) b.b[rng_below(&r, b.n)] ^= (uint8_t)(1u << rng_below(&r, 8));
        Table t;
        Status st = rda_read_mem(b.b, b.n, "fuzz.rda", NULL, &t);
        if (st == BL_OK) {
            ok++;
            table_free(&t);
        } else {
            assert_int_equal(st, BL_ERR_DATA);
        }
        free(b.b);
    }
    assert_true(ok < 3000);
    free(clean.b);
}

static void test_rda_real_file_corrupted(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/PimaIndiansDiabetes.rda", records_builtin_dir());
    if (access(path, R_OK) != 0) skip();
    size_t n;
    uint8_t *b = slurp(path, &n);
    expect_rda_fail(b, n / 2, "xz");
    b[n / 2] ^= 0x55; // xz's CRC catches it
    expect_rda_fail(b, n, NULL);
    free(b);
}

// ---- built-in datasets ----

static int have_builtin(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/LetterRecognition.rda", records_builtin_dir());
    return access(path, R_OK) == 0;
}

// Load `name`, check rows, features and per-class counts (file totals), and that each class's test share is
// round(0.2 n).
static void check_builtin(const char *name, int rows, int features, int k, const int *counts,
                          const char *const *class_names) {
    if (!have_builtin()) skip();
    DatasetPair p;
    Status st = records_load_builtin(name, &p);
    if (st) fail_msg("%s: %s", name, bl_errmsg());
    assert_int_equal(p.train.kind, DS_RECORDS);
    assert_int_equal(p.train.n + p.test.n, rows);
    assert_int_equal(p.train.c, features);
    assert_int_equal(p.test.c, features);
    assert_int_equal(p.schema->nfeatures, features);
    assert_int_equal(p.train.num_classes, k);
    assert_int_equal(p.schema->num_classes, k);
    int tot[TABLE_MAX_CLASSES] = {0}, te[TABLE_MAX_CLASSES] = {0};
    for (int i = 0; i < p.train.n; i++) tot[p.train.labels[i]]++;
    for (int i = 0; i < p.test.n; i++) {
        tot[p.test.labels[i]]++;
        te[p.test.labels[i]]++;
    }
    for (int c = 0; c < k; c++) {
        if (tot[c] != counts[c]) fail_msg("%s class %d (%s): %d rows, expected %d", name, c, p.schema->class_names[c],
                                          tot[c], counts[c]);
        assert_int_equal(te[c], (int)floor(0.2 * counts[c] + 0.5));
        if (class_names) assert_string_equal(p.schema->class_names[c], class_names[c]);
    }
    for (size_t i = 0; i < (size_t)p.train.n * (size_t)features; i++) assert_true(isfinite(p.train.features[i]));
    int want_test = 0;
    for (int c = 0; c < k; c++) want_test += (int)floor(0.2 * counts[c] + 0.5);
    assert_int_equal(p.test.n, want_test);
    DatasetPair q; // the split is fixed: a second load is bit-identical
    assert_int_equal(records_load_builtin(name, &q), BL_OK);
    assert_string_equal(p.sha256_hex, q.sha256_hex);
    assert_string_equal(p.source, q.source);
    ds_pair_free(&q);
    ds_pair_free(&p);
}

static void test_builtin_breast_cancer(void **state) {
    (void)state;
    const int counts[] = {212, 357};
    const char *const names[] = {"malignant", "benign"};
    check_builtin("breast-cancer", 569, 30, 2, counts, names);
    DatasetPair p;
    assert_int_equal(records_load_builtin("breast-cancer", &p), BL_OK);
    assert_string_equal(p.schema->feature_names[0], "mean radius");
    assert_string_equal(p.schema->feature_names[29], "worst fractal dimension");
    // the file's first data row is 17.99,10.38,... class 0; it must be in one of the two splits
    int found = 0;
    for (int s = 0; s < 2; s++) {
        const Dataset *d = s ? &p.test : &p.train;
        for (int i = 0; i < d->n; i++)
            if (d->orig_index[i] == 0) {
                found = 1;
                assert_true(d->features[(size_t)i * 30] == 17.99f);
                assert_int_equal(d->labels[i], 0);
            }
    }
    assert_true(found);
    ds_pair_free(&p);
}

static void test_builtin_pima(void **state) {
    (void)state;
    const int counts[] = {500, 268};
    const char *const names[] = {"neg", "pos"};
    check_builtin("pima-diabetes", 768, 8, 2, counts, names);
    // default: zeros in glucose, pressure, triceps, insulin, mass are missing
    const char *cols[] = {"pregnant", "glucose", "pressure", "triceps", "insulin", "mass", "pedigree", "age"};
    const int want_missing[] = {0, 5, 35, 227, 374, 11, 0, 0};
    for (int mode = 0; mode < 2; mode++) {
        RecordsBuiltinOptions o = {.pima_zeros_as_values = mode};
        DatasetPair p;
        assert_int_equal(records_load_builtin_ex("pima-diabetes", &o, &p), BL_OK);
        for (int f = 0; f < 8; f++) {
            assert_string_equal(p.schema->feature_names[f], cols[f]);
            int miss = 0, zeros = 0;
            for (int s = 0; s < 2; s++) {
                const Dataset *d = s ? &p.test : &p.train;
                for (int i = 0; i < d->n; i++) {
                    miss += d->missing[(size_t)i * 8 + f];
                    zeros += d->features[(size_t)i * 8 + f] == 0.0f;
                }
            }
            assert_int_equal(miss, mode ? 0 : want_missing[f]);
            if (f >= 1 && f <= 5) assert_true(zeros >= want_missing[f]);
        }
        ds_pair_free(&p);
    }
}

static void test_builtin_satellite(void **state) {
    (void)state;
    const int counts[] = {1533, 703, 1358, 626, 707, 1508};
    const char *const names[] = {"red soil", "cotton crop", "grey soil", "damp grey soil", "vegetation stubble",
                                 "very damp grey soil"};
    check_builtin("satellite", 6435, 36, 6, counts, names);
}

static void test_builtin_shuttle(void **state) {
    (void)state;
    const int counts[] = {45586, 50, 171, 8903, 3267, 10, 13};
    const char *const names[] = {"Rad.Flow", "Fpv.Close", "Fpv.Open", "High", "Bypass", "Bpv.Close", "Bpv.Open"};
    check_builtin("shuttle", 58000, 9, 7, counts, names);
}

static void test_builtin_letter(void **state) {
    (void)state;
    const int counts[26] = {789, 766, 736, 805, 768, 775, 773, 734, 755, 747, 739, 761, 792,
                            783, 753, 803, 783, 758, 748, 796, 813, 764, 752, 787, 786, 734}; // A..Z
    const char *names[26];
    static char letters[26][2];
    for (int c = 0; c < 26; c++) {
        letters[c][0] = (char)('A' + c);
        names[c] = letters[c];
    }
    check_builtin("letter", 20000, 16, 26, counts, names);
}

static void test_builtin_errors(void **state) {
    (void)state;
    DatasetPair p;
    assert_int_equal(records_load_builtin("iris", &p), BL_ERR_USAGE);
    assert_msg_has("unknown built-in tabular dataset 'iris'");
    RecordsBuiltinOptions o = {.dir = g_dir};
    assert_int_equal(records_load_builtin_ex("satellite", &o, &p), BL_ERR_DATA);
    assert_msg_has("fetch-tabular.sh");
    assert_int_equal(records_load_builtin_ex("breast-cancer", &o, &p), BL_ERR_DATA);
    assert_msg_has("fetch-tabular.sh");
    assert_true(records_is_builtin("shuttle"));
    assert_false(records_is_builtin("mnist10k"));
    int n = 0;
    while (records_builtin_name(n)) n++;
    assert_int_equal(n, 5);
    // a satellite file that is really the Pima file: shape check
    if (!have_builtin()) return;
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/PimaIndiansDiabetes.rda", records_builtin_dir());
    snprintf(dst, sizeof dst, "%s/Satellite.rda", g_dir);
    size_t len;
    uint8_t *b = slurp(src, &len);
    spit(dst, b, len);
    free(b);
    assert_int_equal(records_load_builtin_ex("satellite", &o, &p), BL_ERR_DATA);
    assert_msg_has("no object of that name");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_csv_two_files_roundtrip),
        T(test_csv_unseen_level_is_error),
        T(test_csv_missing_markers),
        T(test_csv_split_stratified),
        T(test_csv_numeric_labels_and_index),
        T(test_csv_feature_columns),
        T(test_csv_bom_crlf_quotes),
        T(test_csv_bad_input),
        T(test_csv_two_files_mismatch),
        T(test_csv_random_corruption),
        T(test_table_long_names_cut),
        T(test_rda_fixture_all_containers),
        T(test_rda_to_pair),
        T(test_rda_truncated_everywhere),
        T(test_rda_bad_headers_and_types),
        T(test_rda_hostile_lengths),
        T(test_rda_not_a_data_frame_and_names),
        T(test_rda_random_corruption),
        T(test_rda_real_file_corrupted),
        T(test_builtin_breast_cancer),
        T(test_builtin_pima),
        T(test_builtin_satellite),
        T(test_builtin_shuttle),
        T(test_builtin_letter),
        T(test_builtin_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
