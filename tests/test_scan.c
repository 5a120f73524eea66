// test_scan.c: `backdoorlab scan` (src/scan/): the policy reader's file:line errors, the signature check deciding
// before anything costly runs, provenance and data checks, the model-scan rule, the input-scan patch search on
// tiny hand-built models, fail_fast and advisory semantics, budgets, and the reports (JSON read back; JUnit and
// SARIF through scripts/validate-scan-reports.sh: the SARIF 2.1.0 schema and a JUnit structure check).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sodium.h>

#include "core/rng.h"
#include "data/idx.h"
#include "data/manifest.h"
#include "io/keys.h"
#include "io/modelfile.h"
#include "nn/checkpoint.h"
#include "scan/report.h"
#include "scan/scan.h"
#include "test_util.h"

static char g_dir[256];  // temp folder for this run
static char g_ds[65];    // dataset hash of the tiny IDX folder

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

// ---------------------------------------------------------------------------------------------- policy reader

static Status parse(const char *text, ScanPolicy *p) { return scan_policy_parse(text, "p.ini", p); }

static void test_policy_parses(void **state) {
    (void)state;
    ScanPolicy p;
    assert_int_equal(parse("[scan]\nprobe_images = 200\nseed = 7\nfail_fast = no\n"
                           "[signature]\ntrusted_keys = a.pub, b.pub\nbudget_seconds = 1\n"
                           "[provenance]\nmode = advisory\nrequired_fields = seed,dataset_sha256\n"
                           "[model-scan]\nmax_anomaly_index = 2.5\nmax_trigger_l1 = 20\nrule = both\nruns = 2\n"
                           "[input-scan]\ndetector = confidence\nfrr = 0.02\nmax_trigger_l1 = 4\n",
                           &p),
                     BL_OK);
    assert_int_equal(p.probe_images, 200);
    assert_int_equal((int)p.seed, 7);
    assert_int_equal(p.fail_fast, 0);
    assert_int_equal(p.check[SCAN_SIGNATURE].mode, SCAN_REQUIRED);
    assert_int_equal(p.check[SCAN_PROVENANCE].mode, SCAN_ADVISORY);
    assert_int_equal(p.check[SCAN_DATA].mode, SCAN_OFF); // absent section: off
    assert_int_equal(p.nkeys, 2);
    assert_string_equal(p.keys[1], "b.pub");
    assert_int_equal(p.nfields, 2);
    assert_true(p.max_anomaly_index == 2.5 && p.max_trigger_l1 == 20 && p.rule_both == 1);
    assert_int_equal(p.nmodel_set, 1);
    assert_string_equal(p.model_set[0], "runs=2");
    assert_string_equal(p.input_detector, "confidence");
    assert_true(p.max_patch_l1 == 4 && p.frr == 0.02);
    assert_true(p.check[SCAN_SIGNATURE].budget_seconds == 1);
}

// Every error names the file, the line and the key.
static void expect_error(const char *text, const char *where, const char *what) {
    ScanPolicy p;
    assert_int_equal(parse(text, &p), BL_ERR_USAGE);
    if (!strstr(bl_errmsg(), where) || (what && !strstr(bl_errmsg(), what)))
        fail_msg("expected '%s' / '%s' in: %s", where, what ? what : "", bl_errmsg());
}

static void test_policy_errors(void **state) {
    (void)state;
    expect_error("[signature]\nmode = required\ntrusted_key = a.pub\n", "p.ini:3: [signature] trusted_key",
                 "unknown key; [signature] takes: mode, budget_seconds, trusted_keys");
    expect_error("[scan]\n\n[modelscan]\nx = 1\n", "p.ini:4:", "unknown section [modelscan]");
    expect_error("[data]\nmode = sometimes\n", "p.ini:2: [data] mode", "required|advisory|off");
    expect_error("[provenance]\nrequired_fields = seed\nrequired_fields = seed\n", "p.ini:3: [provenance] required_fields",
                 "already set on line 2");
    expect_error("[provenance]\nallowed_dataset_hashes = abc\n", "p.ini:2:", "not 64 hex digits");
    expect_error("[input-scan]\nfrr = 0.05\n", "p.ini:2: [input-scan] frr", "0.005, 0.01");
    expect_error("[model-scan]\ndetector = strip\n", "p.ini:2: [model-scan] detector", "not a model-level detector");
    // A detector parameter is checked against the detector's own table, naming its line.
    expect_error("[model-scan]\nruns = 2\nstepz = 3\n", "p.ini:3:", "unknown parameter 'stepz'");
    expect_error("[input-scan]\ndetector = confidence\n\nn = 20\n", "p.ini:4:", "unknown parameter 'n'");
    expect_error("[model-scan]\nruns = 2.5\n", "p.ini:2:", "runs");
    expect_error("[scan]\nprobe_images = 5\n", "p.ini:2: [scan] probe_images", "[10, 1000000]");
    expect_error("mode = required\n", "p.ini:1:", "before any section");
    expect_error("[signature]\nthis is not ini\n", "p.ini:2:", "syntax error");
}

// ---------------------------------------------------------------------------------------------- fixtures

#define PIX 16 // 1x4x4 images

// A 2-class linear model. backdoor = 1: class 1's logit is 12.75 * pixel 0 (the trigger: a white top-left pixel),
// class 0's is 12.75 * the mean of the rest. backdoor = 0: class 0 = 12.75 * mean of all pixels, class 1 = 6.
static void save_model2(const char *path, int backdoor, const char *prov) {
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 2", (Shape){1, 4, 4}, 2, 64), BL_OK);
    ParamView v[4];
    assert_int_equal(model_param_views(&m, v, 4), 2);
    memset(v[0].data, 0, v[0].count * sizeof(float));
    memset(v[1].data, 0, v[1].count * sizeof(float));
    if (backdoor) {
        v[0].data[PIX + 0] = 12.75f;
        for (int j = 1; j < PIX; j++) v[0].data[j] = 12.75f / (PIX - 1);
    } else {
        for (int j = 0; j < PIX; j++) v[0].data[j] = 12.75f / PIX;
        v[1].data[1] = 6.0f;
    }
    assert_int_equal(model_save(&m, path, prov, NULL), BL_OK);
    model_free(&m);
}

// A 4-class model for Neural Cleanse: classes 0..2 answer the mean of their own image row (rows 1..3), class 3
// answers pixel 0 alone with a large weight (a one-pixel backdoor): its reversed trigger is far smaller (L1 about
// 0.6 against about 2.9 for the others; anomaly index about 29).
static void save_model4(const char *path, const char *prov) {
    Model m;
    assert_int_equal(model_build(&m, "flatten, dense 4", (Shape){1, 4, 4}, 4, 64), BL_OK);
    ParamView v[4];
    assert_int_equal(model_param_views(&m, v, 4), 2);
    memset(v[0].data, 0, v[0].count * sizeof(float));
    memset(v[1].data, 0, v[1].count * sizeof(float));
    for (int k = 0; k < 3; k++)
        for (int x = 0; x < 4; x++) v[0].data[k * PIX + (k + 1) * 4 + x] = 3.0f;
    v[0].data[3 * PIX + 0] = 30.0f;
    v[1].data[3] = -10.0f;
    assert_int_equal(model_save(&m, path, prov, NULL), BL_OK);
    model_free(&m);
}

// n clean images of random gray levels (60..180), labels = row-brightest class; written as an IDX images file.
static void make_images(Dataset *d, int n, uint64_t seed) {
    assert_int_equal(ds_alloc(d, n, 1, 4, 4, 2), BL_OK);
    Rng r = rng_stream(seed, "test-scan");
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < PIX; j++) d->images[(size_t)i * PIX + j] = (uint8_t)(60 + rng_below(&r, 120));
        d->labels[i] = (uint8_t)rng_below(&r, 2);
    }
}

static void sign_with(const char *model, const char *base) {
    char sec[700];
    snprintf(sec, sizeof sec, "%s.secret", base);
    uint8_t sk[64];
    assert_int_equal(keys_load_secret(sec, sk), BL_OK);
    assert_int_equal(bdm_sign(model, sk, NULL, NULL), BL_OK);
    sodium_memzero(sk, sizeof sk);
}

static char g_pub[600], g_other_pub[600], g_probe[900], g_data[300], g_manifest[300];
static char g_prov[512];

static int setup(void **state) {
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_scan_XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    char base[300], other[300];
    path_in(base, sizeof base, "pub");
    path_in(other, sizeof other, "other");
    if (keys_generate(base, NULL) || keys_generate(other, NULL)) return -1;
    snprintf(g_pub, sizeof g_pub, "%s.pub", base);
    snprintf(g_other_pub, sizeof g_other_pub, "%s.pub", other);
    // A tiny IDX dataset folder, its manifest, and a probe file.
    path_in(g_data, sizeof g_data, "data");
    mkdir(g_data, 0755);
    Dataset tr = {0}, te = {0};
    make_images(&tr, 40, 1);
    make_images(&te, 200, 2);
    char p[400];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", g_data);
    if (idx_write_images(p, &tr)) return -1;
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", g_data);
    if (idx_write_labels(p, &tr)) return -1;
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", g_data);
    if (idx_write_images(p, &te)) return -1;
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", g_data);
    if (idx_write_labels(p, &te)) return -1;
    snprintf(g_probe, sizeof g_probe, "%s/t10k-images-idx3-ubyte", g_data);
    ds_free(&tr);
    ds_free(&te);
    DsmManifest m;
    if (dsm_build(g_data, DSM_KIND_AUTO, &m)) return -1;
    snprintf(g_ds, sizeof g_ds, "%s", m.dataset_sha256);
    path_in(g_manifest, sizeof g_manifest, "manifest.json");
    if (dsm_write(&m, g_manifest)) return -1;
    dsm_free(&m);
    snprintf(g_prov, sizeof g_prov, "role=model\ninput=1x4x4\nclasses=2\nseed=1\ndataset_sha256=%s\n", g_ds);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    rm_rf(g_dir);
    return 0;
}

static Status run_scan(const char *policy_text, const char *model, const char *probe, const char *data,
                       ScanReport *rep) {
    ScanPolicy pol;
    Status st = parse(policy_text, &pol);
    if (st) return st;
    const char *keys[1] = {g_pub};
    ScanOptions o = {.model = model, .probe = probe, .data = data, .extra_keys = keys, .nextra_keys = 1};
    return scan_run(&pol, &o, rep);
}

// ---------------------------------------------------------------------------------------------- signature

// An unsigned, tampered or foreign-signed model fails [signature] and nothing after it runs: the probe path does
// not even exist, so reading it first would have been an error instead of a verdict.
static void test_signature_decides_first(void **state) {
    (void)state;
    const char *policy = "[signature]\n[model-scan]\nruns = 1\n[input-scan]\n";
    char m[300], missing_probe[300];
    path_in(m, sizeof m, "sig.bdm");
    path_in(missing_probe, sizeof missing_probe, "no-such-probe");
    ScanReport rep;

    save_model2(m, 1, g_prov); // unsigned
    double t0 = bl_now();
    assert_int_equal(run_scan(policy, m, missing_probe, NULL, &rep), BL_OK);
    assert_true(bl_now() - t0 < 1.0);
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    assert_int_equal(rep.check[SCAN_SIGNATURE].status, SCAN_FAIL);
    assert_non_null(strstr(rep.check[SCAN_SIGNATURE].message, "NOT SIGNED"));
    assert_int_equal(rep.check[SCAN_MODEL].status, SCAN_SKIPPED);
    assert_int_equal(rep.check[SCAN_INPUT].status, SCAN_SKIPPED);
    scan_report_free(&rep);

    char other_base[300];
    snprintf(other_base, sizeof other_base, "%.*s", (int)(strlen(g_other_pub) - 4), g_other_pub);
    sign_with(m, other_base); // signed, by the wrong key
    assert_int_equal(run_scan(policy, m, missing_probe, NULL, &rep), BL_OK);
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    assert_non_null(strstr(rep.check[SCAN_SIGNATURE].message, "UNTRUSTED"));
    assert_int_equal(rep.check[SCAN_MODEL].status, SCAN_SKIPPED);
    scan_report_free(&rep);

    char base[300];
    snprintf(base, sizeof base, "%.*s", (int)(strlen(g_pub) - 4), g_pub);
    sign_with(m, base); // the trusted key, then one weight byte changed
    FILE *f = fopen(m, "r+b");
    assert_non_null(f);
    fseek(f, 300, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    assert_int_equal(run_scan(policy, m, missing_probe, NULL, &rep), BL_OK);
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    assert_int_equal(rep.check[SCAN_SIGNATURE].status, SCAN_FAIL);
    assert_int_equal(rep.check[SCAN_MODEL].status, SCAN_SKIPPED);
    scan_report_free(&rep);

    // Signed by the trusted key and intact: the signature passes, and the missing probe is now an error (exit 2/3).
    save_model2(m, 1, g_prov);
    sign_with(m, base);
    assert_int_not_equal(run_scan(policy, m, missing_probe, NULL, &rep), BL_OK);
    assert_int_equal(rep.check[SCAN_SIGNATURE].status, SCAN_PASS);
    scan_report_free(&rep);

    // The same tampered file with the signature check off is bad input (3), not a verdict.
    f = fopen(m, "r+b");
    fseek(f, 300, SEEK_SET);
    c = fgetc(f);
    fseek(f, 300, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
    assert_int_equal(run_scan("[provenance]\n", m, NULL, NULL, &rep), BL_ERR_DATA);
    scan_report_free(&rep);
}

// ---------------------------------------------------------------------------------------------- provenance, data

static void test_provenance_and_data(void **state) {
    (void)state;
    char m[300], pol[1400];
    path_in(m, sizeof m, "prov.bdm");
    save_model2(m, 0, g_prov);
    ScanReport rep;
    snprintf(pol, sizeof pol, "[provenance]\nrequired_fields = seed, dataset_sha256\nallowed_dataset_hashes = %s\n"
                              "[data]\nmanifest = %s\n", g_ds, g_manifest);
    assert_int_equal(run_scan(pol, m, NULL, g_data, &rep), BL_OK);
    assert_int_equal(rep.exit_code, 0);
    assert_int_equal(rep.check[SCAN_PROVENANCE].status, SCAN_PASS);
    assert_int_equal(rep.check[SCAN_DATA].status, SCAN_PASS);
    scan_report_free(&rep);

    // A missing field, and a dataset hash not on the list; fail_fast off so both checks report.
    snprintf(pol, sizeof pol, "[scan]\nfail_fast = no\n[provenance]\nrequired_fields = seed, code_revision\n"
                              "[data]\nmanifest = %s\n", g_manifest);
    assert_int_equal(run_scan(pol, m, NULL, NULL, &rep), BL_OK);
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    assert_non_null(strstr(rep.check[SCAN_PROVENANCE].message, "code_revision"));
    assert_int_equal(rep.check[SCAN_DATA].status, SCAN_PASS); // ran despite the failure before it
    scan_report_free(&rep);
    snprintf(pol, sizeof pol, "[provenance]\nallowed_dataset_hashes = %064d\n", 0);
    assert_int_equal(run_scan(pol, m, NULL, NULL, &rep), BL_OK);
    assert_int_equal(rep.check[SCAN_PROVENANCE].status, SCAN_FAIL);
    assert_non_null(strstr(rep.check[SCAN_PROVENANCE].message, "not on the policy's allowed list"));
    scan_report_free(&rep);

    // The data folder with one training label changed no longer matches the manifest.
    char lab[400];
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte", g_data);
    FILE *f = fopen(lab, "r+b");
    assert_non_null(f);
    fseek(f, 8 + 5, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 8 + 5, SEEK_SET);
    fputc(c ^ 1, f);
    fclose(f);
    snprintf(pol, sizeof pol, "[data]\nmanifest = %s\n", g_manifest);
    assert_int_equal(run_scan(pol, m, NULL, g_data, &rep), BL_OK);
    assert_int_equal(rep.check[SCAN_DATA].status, SCAN_FAIL);
    assert_non_null(strstr(rep.check[SCAN_DATA].message, "~1"));
    scan_report_free(&rep);
    f = fopen(lab, "r+b");
    fseek(f, 8 + 5, SEEK_SET);
    fputc(c, f);
    fclose(f);

    // A model whose provenance names another dataset fails [data] even with matching data; advisory keeps exit 0.
    save_model2(m, 0, "input=1x4x4\nclasses=2\ndataset_sha256=00\n");
    snprintf(pol, sizeof pol, "[data]\nmode = advisory\nmanifest = %s\nrequire_data = yes\n", g_manifest);
    assert_int_equal(run_scan(pol, m, NULL, g_data, &rep), BL_OK);
    assert_int_equal(rep.check[SCAN_DATA].status, SCAN_FAIL);
    assert_int_equal(rep.failed_advisory, 1);
    assert_int_equal(rep.exit_code, 0);
    scan_report_free(&rep);
}

// ---------------------------------------------------------------------------------------------- detectors

static void test_model_judge(void **state) {
    (void)state;
    ScanPolicy p;
    scan_policy_defaults(&p);
    double ai[4] = {0.5, 2.5, -1, 1.9}, l1[4] = {40, 30, 60, 8}, asr[4] = {1, 1, 1, 0.95};
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), 1); // anomaly index only
    p.max_trigger_l1 = 10;
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), 1); // both fail: the larger index first
    p.rule_both = 1;
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), -1); // no label fails both
    l1[1] = 9;
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), 1);
    p.rule_both = 0, p.max_anomaly_index = 3;
    asr[3] = 0.5; // a small mask that does not reach trigger_asr is no trigger
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), 1);
    l1[1] = 30;
    assert_int_equal(scan_model_judge(&p, 4, ai, l1, asr), -1);
}

// Neural Cleanse on the 4-class model: the one-pixel backdoor's label 3 fails the model-level check.
static void test_model_scan_catches(void **state) {
    (void)state;
    char m[300], prov[300];
    path_in(m, sizeof m, "nc.bdm");
    snprintf(prov, sizeof prov, "input=1x4x4\nclasses=4\n");
    save_model4(m, prov);
    ScanReport rep;
    assert_int_equal(run_scan("[model-scan]\nruns = 1\nsteps = 40\n", m, g_probe, NULL, &rep), BL_OK);
    const ScanCheckResult *r = &rep.check[SCAN_MODEL];
    if (r->status != SCAN_FAIL) fail_msg("model-scan did not fail: %s | %s", r->figure, r->message);
    assert_non_null(strstr(r->message, "label 3"));
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    scan_report_free(&rep);
    // The limits decide: a lax anomaly limit passes it, the absolute trigger budget then catches it again.
    assert_int_equal(run_scan("[model-scan]\nruns = 1\nsteps = 40\nmax_anomaly_index = 100\n", m, g_probe, NULL, &rep),
                     BL_OK);
    assert_int_equal(rep.check[SCAN_MODEL].status, SCAN_PASS);
    scan_report_free(&rep);
    assert_int_equal(run_scan("[model-scan]\nruns = 1\nsteps = 40\nmax_anomaly_index = 100\nmax_trigger_l1 = 1.5\n", m,
                              g_probe, NULL, &rep),
                     BL_OK);
    assert_int_equal(rep.check[SCAN_MODEL].status, SCAN_FAIL);
    scan_report_free(&rep);
}

// The patch search finds the one-pixel trigger of the backdoored 2-class model, not on the clean one.
static void test_input_scan(void **state) {
    (void)state;
    char m[300];
    path_in(m, sizeof m, "in.bdm");
    const char *pol = "[scan]\nprobe_images = 200\n[input-scan]\ndetector = confidence\nmax_trigger_l1 = 1\n";
    ScanReport rep;
    save_model2(m, 1, g_prov);
    assert_int_equal(run_scan(pol, m, g_probe, NULL, &rep), BL_OK);
    const ScanCheckResult *r = &rep.check[SCAN_INPUT];
    assert_int_equal(r->status, SCAN_FAIL);
    assert_true(r->value >= 0.99);
    assert_non_null(strstr(r->message, "top-left"));
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(r->details, "strongest");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(best, "target")->valuedouble, 1);
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(r->details, "candidates_tried")->valuedouble, 10);
    scan_report_free(&rep);

    save_model2(m, 0, g_prov);
    assert_int_equal(run_scan(pol, m, g_probe, NULL, &rep), BL_OK);
    r = &rep.check[SCAN_INPUT];
    if (r->status != SCAN_PASS) fail_msg("clean model failed input-scan: %s", r->figure);
    assert_true(r->value < 0.9);
    assert_int_equal(rep.exit_code, 0);
    scan_report_free(&rep);

    // A budget of (effectively) nothing fails a check that passed, and says why.
    assert_int_equal(run_scan("[scan]\nprobe_images = 200\n[input-scan]\ndetector = confidence\nmax_trigger_l1 = 1\n"
                              "budget_seconds = 0.000001\n",
                              m, g_probe, NULL, &rep),
                     BL_OK);
    assert_int_equal(rep.check[SCAN_INPUT].status, SCAN_FAIL);
    assert_non_null(strstr(rep.check[SCAN_INPUT].message, "over its budget"));
    scan_report_free(&rep);
}

// ---------------------------------------------------------------------------------------------- reports

static int validate(const char *kind, const char *path) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sh scripts/validate-scan-reports.sh %s %s", kind, path);
    return system(cmd);
}

static void test_reports(void **state) {
    (void)state;
    char m[300], pol[600], json[300], xml[300], sarif[300];
    path_in(m, sizeof m, "rep.bdm");
    path_in(json, sizeof json, "r.json");
    path_in(xml, sizeof xml, "r.xml");
    path_in(sarif, sizeof sarif, "r.sarif");
    save_model2(m, 1, g_prov);
    // signature fails ("<&>" in no message, but the path and messages go through the escapers), provenance
    // is advisory and fails, input-scan is skipped.
    snprintf(pol, sizeof pol, "[signature]\n[provenance]\nmode = advisory\nrequired_fields = x<&>\"\n[input-scan]\n");
    ScanReport rep;
    assert_int_equal(run_scan(pol, m, g_probe, NULL, &rep), BL_OK);
    assert_int_equal(rep.exit_code, SCAN_EXIT_POLICY);
    assert_int_equal(rep.check[SCAN_PROVENANCE].status, SCAN_SKIPPED); // fail_fast after the signature
    assert_int_equal(scan_write_json(&rep, json), BL_OK);
    assert_int_equal(scan_write_junit(&rep, xml), BL_OK);
    assert_int_equal(scan_write_sarif(&rep, sarif), BL_OK);
    char *text = test_read_file(json);
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "verdict")->valuestring, "fail");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(j, "exit_code")->valuedouble, 4);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "checks")), 3);
    cJSON_Delete(j);
    free(text);
    text = test_read_file(xml);
    assert_non_null(strstr(text, "failures=\"1\""));
    assert_non_null(strstr(text, "skipped=\"2\""));
    free(text);
    assert_int_equal(validate("--junit", xml), 0);
    assert_int_equal(validate("--sarif", sarif), 0);
    scan_report_free(&rep);

    // Advisory failure and a pass, with fail_fast off: still valid, exit 0.
    snprintf(pol, sizeof pol, "[provenance]\nmode = advisory\nrequired_fields = x<&>\"\n[scan]\nprobe_images = 40\n"
                              "[input-scan]\ndetector = confidence\nmax_trigger_l1 = 1\nmode = advisory\n");
    assert_int_equal(run_scan(pol, m, g_probe, NULL, &rep), BL_OK);
    assert_int_equal(rep.exit_code, 0);
    assert_int_equal(rep.failed_advisory, 2);
    assert_int_equal(scan_write_junit(&rep, xml), BL_OK);
    assert_int_equal(scan_write_sarif(&rep, sarif), BL_OK);
    assert_int_equal(validate("--junit", xml), 0);
    assert_int_equal(validate("--sarif", sarif), 0);
    scan_report_free(&rep);

    // The validators bite: a SARIF with a wrong version and a JUnit whose counts lie are refused.
    text = test_read_file(sarif);
    char *v = strstr(text, "\"2.1.0\"");
    assert_non_null(v);
    v[3] = '9';
    write_text(sarif, text);
    free(text);
    assert_int_not_equal(validate("--sarif", sarif), 0);
    text = test_read_file(xml);
    char *t = strstr(text, "tests=\"2\"");
    assert_non_null(t);
    t[7] = '3';
    write_text(xml, text);
    free(text);
    assert_int_not_equal(validate("--junit", xml), 0);
}

// ---------------------------------------------------------------------------------------------- the command

// Exit codes through the binary: 4 for a violation (reports written), 0 for a pass, 2 with file:line for a bad
// policy key (no report written), 2 for a missing --probe the policy needs.
static int cli(const char *args, char *err, size_t n) {
    const char *bin = getenv("BACKDOORLAB_BIN");
    char cmd[3000], pe[300];
    path_in(pe, sizeof pe, "stderr.txt");
    snprintf(cmd, sizeof cmd, "%s scan %s >/dev/null 2>%s", bin ? bin : "build/backdoorlab", args, pe);
    int rc = system(cmd);
    char *e = test_read_file(pe);
    snprintf(err, n, "%s", e ? e : "");
    free(e);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_command(void **state) {
    (void)state;
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (access(bin ? bin : "build/backdoorlab", X_OK) != 0) skip();
    char m[300], pol[300], bad[300], json[300], xml[300], args[2600], err[2000];
    path_in(m, sizeof m, "cli.bdm");
    path_in(pol, sizeof pol, "cli.ini");
    path_in(bad, sizeof bad, "bad.ini");
    path_in(json, sizeof json, "cli.json");
    path_in(xml, sizeof xml, "cli.xml");
    save_model2(m, 1, g_prov); // unsigned
    write_text(pol, "[signature]\n[provenance]\nrequired_fields = seed\n");
    snprintf(args, sizeof args, "--model %s --policy %s --trusted-key %s --json %s --junit %s", m, pol, g_pub, json, xml);
    assert_int_equal(cli(args, err, sizeof err), 4);
    char *text = test_read_file(json);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"verdict\":\t\"fail\""));
    free(text);
    assert_int_equal(access(xml, R_OK), 0);
    write_text(pol, "[provenance]\nrequired_fields = seed\n");
    snprintf(args, sizeof args, "--model %s --policy %s --quiet", m, pol);
    assert_int_equal(cli(args, err, sizeof err), 0);
    write_text(bad, "[provenance]\nrequired_fields = seed\n\n[input-scan]\nmax_asr = 0.9\nprobe = x\n");
    unlink(json);
    snprintf(args, sizeof args, "--model %s --policy %s --json %s", m, bad, json);
    assert_int_equal(cli(args, err, sizeof err), 2);
    if (!strstr(err, "bad.ini:6: ")) fail_msg("no file:line in: %s", err);
    assert_int_not_equal(access(json, F_OK), 0);
    write_text(bad, "[input-scan]\n");
    snprintf(args, sizeof args, "--model %s --policy %s", m, bad);
    assert_int_equal(cli(args, err, sizeof err), 2);
    assert_non_null(strstr(err, "--probe"));
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_parses),     cmocka_unit_test(test_policy_errors),
        cmocka_unit_test(test_signature_decides_first), cmocka_unit_test(test_provenance_and_data),
        cmocka_unit_test(test_model_judge),       cmocka_unit_test(test_model_scan_catches),
        cmocka_unit_test(test_input_scan),        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_command),
    };
    return cmocka_run_group_tests_name("scan", tests, setup, teardown);
}
