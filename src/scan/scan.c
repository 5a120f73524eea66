// scan.c: run a scan policy's checks in order of cost and decide the verdict; the three cheap checks
// (signature, provenance, data) live here, the detector checks in scan_detect.c.
#include "scan/scan.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/idx.h"
#include "data/manifest.h"
#include "io/keys.h"
#include "io/modelfile.h"
#include "nn/checkpoint.h"
#include "run/experiment.h"

const char *scan_status_name(ScanStatus s) {
    static const char *const n[] = {"not-run", "pass", "fail", "skipped"};
    return s <= SCAN_SKIPPED ? n[s] : "?";
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

__attribute__((format(printf, 2, 3))) static void set_fail(ScanCheckResult *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->status = SCAN_FAIL;
}

// The value of `key` in provenance text ("k=v" lines) into out; 0 when absent.
static int prov_get(const char *prov, const char *key, char *out, size_t n) {
    size_t k = strlen(key);
    for (const char *s = prov; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len > k && !strncmp(s, key, k) && s[k] == '=') {
            snprintf(out, n, "%.*s", (int)(len - k - 1), s + k + 1);
            return 1;
        }
        s = nl ? nl + 1 : NULL;
    }
    return 0;
}

// ----------------------------------------------------------------------------------------------- signature

// Integrity is checked for every model (bdm_read verifies the hash and any signature); trust = the signer is
// one of the listed keys. *key_used receives the matching key path (for loading the weights through it).
static Status check_signature(const ScanPolicy *pol, const ScanOptions *o, const BdmModel *bm, Status read_st,
                              const char *read_msg, ScanCheckResult *r, const char **key_used) {
    cJSON *d = cJSON_CreateObject();
    r->details = d;
    int nkeys = pol->nkeys + o->nextra_keys;
    snprintf(r->threshold, sizeof r->threshold, "intact and signed by one of %d trusted key(s)", nkeys);
    if (read_st) {
        snprintf(r->figure, sizeof r->figure, "unreadable or tampered");
        set_fail(r, "%s", read_msg);
        return BL_OK;
    }
    if (!(bm->flags & BDM_FLAG_SIGNED)) {
        snprintf(r->figure, sizeof r->figure, "unsigned");
        set_fail(r, "model is NOT SIGNED: a consumer cannot tell who produced it (sign it with "
                          "`backdoorlab sign --model M --key KEY.secret`)");
        return BL_OK;
    }
    cJSON_AddStringToObject(d, "signer_fingerprint", bm->signer_fingerprint);
    snprintf(r->figure, sizeof r->figure, "signed by %.16s...", bm->signer_fingerprint);
    cJSON *keys = cJSON_AddArrayToObject(d, "trusted_keys");
    for (int i = 0; i < nkeys; i++) {
        const char *path = i < pol->nkeys ? pol->keys[i] : o->extra_keys[i - pol->nkeys];
        uint8_t pk[KEYS_PUBLIC_BYTES];
        Status st = keys_load_public(path, pk);
        if (st) return bl_fail_ctx(st, "[signature] trusted key %s", path);
        char fp[65];
        keys_fingerprint(pk, fp);
        cJSON *k = cJSON_CreateObject();
        cJSON_AddStringToObject(k, "path", path);
        cJSON_AddStringToObject(k, "fingerprint", fp);
        cJSON_AddItemToArray(keys, k);
        if (!*key_used && !memcmp(pk, bm->signer_pk, KEYS_PUBLIC_BYTES)) {
            *key_used = path;
            cJSON_AddStringToObject(d, "matched_key", path);
            snprintf(r->figure, sizeof r->figure, "signed by %.16s... (%s)", fp, path);
        }
    }
    if (!*key_used)
        set_fail(r, "model is signed by an UNTRUSTED key (fingerprint %s), not by any of the policy's keys",
                 bm->signer_fingerprint);
    else r->status = SCAN_PASS;
    return BL_OK;
}

// ----------------------------------------------------------------------------------------------- provenance

static Status check_provenance(const ScanPolicy *pol, const BdmModel *bm, ScanCheckResult *r) {
    cJSON *d = cJSON_CreateObject();
    r->details = d;
    cJSON *prov = cJSON_AddObjectToObject(d, "provenance");
    int nlines = 0;
    for (const char *s = bm->provenance; s && *s;) { // every field, for the report
        const char *nl = strchr(s, '\n'), *eq = strchr(s, '=');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (eq && eq < s + len) {
            char k[128], v[512];
            snprintf(k, sizeof k, "%.*s", (int)BL_MIN((size_t)(eq - s), sizeof k - 1), s);
            snprintf(v, sizeof v, "%.*s", (int)BL_MIN((size_t)(s + len - eq - 1), sizeof v - 1), eq + 1);
            cJSON_AddStringToObject(prov, k, v);
            nlines++;
        }
        s = nl ? nl + 1 : NULL;
    }
    char missing[600] = "", v[512], ds[128] = "";
    size_t w = 0;
    for (int i = 0; i < pol->nfields; i++)
        if ((!prov_get(bm->provenance, pol->fields[i], v, sizeof v) || !*v) && w < sizeof missing)
            w += (size_t)snprintf(missing + w, sizeof missing - w, "%s%s", w ? ", " : "", pol->fields[i]);
    prov_get(bm->provenance, "dataset_sha256", ds, sizeof ds);
    int allowed = pol->nhashes == 0;
    for (int i = 0; i < pol->nhashes; i++) allowed |= !strcmp(ds, pol->hashes[i]);
    snprintf(r->figure, sizeof r->figure, "%d field(s), dataset_sha256 %.16s%s", nlines, *ds ? ds : "(none)",
             *ds ? "..." : "");
    snprintf(r->threshold, sizeof r->threshold, "%d required field(s)%s", pol->nfields,
             pol->nhashes ? ", dataset hash on the allowed list" : "");
    if (*missing) set_fail(r, "provenance lacks required field(s): %s", missing);
    else if (!allowed)
        set_fail(r, "the model was trained on dataset %s, which is not on the policy's allowed list (%d hash(es))",
                 *ds ? ds : "(none recorded)", pol->nhashes);
    else r->status = SCAN_PASS;
    return BL_OK;
}

// ----------------------------------------------------------------------------------------------- data

static Status check_data(const ScanPolicy *pol, const ScanOptions *o, const BdmModel *bm, ScanCheckResult *r) {
    cJSON *d = cJSON_CreateObject();
    r->details = d;
    DsmManifest expected = {0}, actual = {0};
    DsmReport rep = {0};
    int have_exp = 0, have_act = 0, have_rep = 0;
    Status st = BL_OK;
    char ds[128] = "";
    prov_get(bm->provenance, "dataset_sha256", ds, sizeof ds);
    snprintf(r->threshold, sizeof r->threshold, "model's dataset = %s%s", *pol->manifest ? "the policy's manifest" : "--data",
             o->data && *pol->manifest ? ", --data matches it sample for sample" : "");
    if (*pol->manifest) {
        if ((st = dsm_read(pol->manifest, &expected))) {
            st = bl_fail_ctx(st, "[data] manifest");
            goto done;
        }
        have_exp = 1;
        cJSON_AddStringToObject(d, "manifest", pol->manifest);
    }
    if (o->data) {
        cJSON_AddStringToObject(d, "data", o->data);
        if (is_dir(o->data)) st = have_exp ? dsm_build_checked(o->data, DSM_KIND_AUTO, &expected, pol->manifest, &actual)
                                           : dsm_build(o->data, DSM_KIND_AUTO, &actual);
        else st = dsm_read(o->data, &actual);
        if (st == BL_ERR_DATA && have_exp) { // e.g. a folder of another kind than the manifest: a finding
            snprintf(r->figure, sizeof r->figure, "data does not match");
            set_fail(r, "--data %s: %s", o->data, bl_errmsg());
            st = BL_OK;
            goto done;
        }
        if (st) goto done;
        have_act = 1;
    } else if (pol->require_data) {
        snprintf(r->figure, sizeof r->figure, "no --data given");
        set_fail(r, "the policy requires the training data (--data DIR or --data MANIFEST.json)");
        goto done;
    } else if (!have_exp) {
        st = bl_fail(BL_ERR_USAGE, "the policy's [data] check needs a manifest (its `manifest` key or --data)");
        goto done;
    }
    const DsmManifest *ref = have_exp ? &expected : &actual;
    cJSON_AddStringToObject(d, "model_dataset_sha256", ds);
    cJSON_AddStringToObject(d, "manifest_dataset_sha256", ref->dataset_sha256);
    if (have_exp && have_act) {
        if ((st = dsm_compare(&expected, &actual, &rep))) goto done;
        have_rep = 1;
        cJSON_AddNumberToObject(d, "differing_samples", rep.nchanges);
        r->value = rep.nchanges, r->has_value = 1;
    }
    snprintf(r->figure, sizeof r->figure, "dataset %.16s...", *ds ? ds : "(none)");
    if (have_rep && !dsm_report_ok(&rep)) {
        snprintf(r->figure, sizeof r->figure, "%d sample(s) differ", rep.nchanges);
        set_fail(r,
                 "--data %s does not match the manifest %s: train +%d -%d ~%d, test +%d -%d ~%d (`backdoorlab data "
                 "verify` lists them)",
                 o->data, pol->manifest, rep.added[0], rep.removed[0], rep.changed[0], rep.added[1], rep.removed[1],
                 rep.changed[1]);
    } else if (strcmp(ds, ref->dataset_sha256)) {
        set_fail(r, "the model's provenance says it was trained on dataset %s, the manifest describes %s",
                 *ds ? ds : "(none recorded)", ref->dataset_sha256);
    } else {
        r->status = SCAN_PASS;
        if (have_rep) snprintf(r->figure, sizeof r->figure, "0 samples differ; dataset %.16s...", ds);
    }
done:
    if (have_rep) dsm_report_free(&rep);
    if (have_exp) dsm_free(&expected);
    if (have_act) dsm_free(&actual);
    return st;
}

// ----------------------------------------------------------------------------------------------- probe + model

// The first n clean probe images: an IDX images file (labels unknown: zero) or a run folder's defender split.
static Status load_probe(const char *path, int n, int num_classes, Dataset *out) {
    Dataset all = {0};
    Status st;
    if (is_dir(path)) {
        LoadedRun *run = calloc(1, sizeof *run);
        if (!run) return bl_fail(BL_ERR_RUN, "out of memory");
        st = experiment_load_run(path, 0, NULL, run);
        if (!st) st = ds_copy(&run->defender, &all);
        experiment_loaded_free(run);
        free(run);
    } else {
        uint8_t *pix = NULL;
        int cnt = 0, c = 0, h = 0, w = 0;
        st = idx_read_images(path, &pix, &cnt, &c, &h, &w);
        if (!st) st = ds_alloc(&all, cnt, c, h, w, num_classes);
        if (!st) memcpy(all.images, pix, (size_t)cnt * c * h * w);
        bl_free(pix);
    }
    if (st) return bl_fail_ctx(st, "--probe %s", path);
    if (all.kind != DS_IMAGES) {
        ds_free(&all);
        return bl_fail(BL_ERR_USAGE, "--probe %s: the detector checks need images", path);
    }
    if (all.n > n && (st = ds_take_first(&all, n))) {
        ds_free(&all);
        return st;
    }
    *out = all;
    return BL_OK;
}

// The model's input shape and class count from its provenance ("input=1x28x28", "classes=10").
static Status model_shape(const BdmModel *bm, Shape *in, int *classes) {
    char v[64];
    if (!prov_get(bm->provenance, "input", v, sizeof v) || sscanf(v, "%dx%dx%d", &in->c, &in->h, &in->w) != 3 ||
        !prov_get(bm->provenance, "classes", v, sizeof v) || sscanf(v, "%d", classes) != 1 || *classes < 2)
        return bl_fail(BL_ERR_DATA, "the model's provenance does not give input=CxHxW and classes=K, which the "
                                    "detector checks need");
    return BL_OK;
}

// ----------------------------------------------------------------------------------------------- the run

static void finish_check(ScanReport *rep, ScanCheckResult *r, double t0) {
    r->seconds = bl_now() - t0;
    if (r->budget > 0 && r->seconds > r->budget && r->status == SCAN_PASS) {
        r->status = SCAN_FAIL;
        snprintf(r->message, sizeof r->message, "took %.1f s, over its budget of %.1f s", r->seconds, r->budget);
    } else if (r->budget > 0 && r->seconds > r->budget) {
        size_t n = strlen(r->message);
        snprintf(r->message + n, sizeof r->message - n, " (and took %.1f s, over its budget of %.1f s)", r->seconds,
                 r->budget);
    }
    if (r->status == SCAN_FAIL) {
        if (r->mode == SCAN_REQUIRED) rep->failed_required++;
        else rep->failed_advisory++;
    }
}

Status scan_run(const ScanPolicy *pol, const ScanOptions *o, ScanReport *rep) {
    memset(rep, 0, sizeof *rep);
    double t_start = bl_now();
    snprintf(rep->model_path, sizeof rep->model_path, "%s", o->model);
    snprintf(rep->policy_path, sizeof rep->policy_path, "%s", pol->path);
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        rep->check[i].id = (ScanCheckId)i;
        rep->check[i].mode = pol->check[i].mode;
        rep->check[i].budget = pol->check[i].budget_seconds;
    }
    // Usage mistakes first, before any check: a scan that cannot do what the policy asks is not a verdict.
    if (!is_file(o->model)) return bl_fail(BL_ERR_USAGE, "--model %s: no such file", o->model);
    int detectors = pol->check[SCAN_MODEL].mode != SCAN_OFF || pol->check[SCAN_INPUT].mode != SCAN_OFF;
    if (detectors && !o->probe)
        return bl_fail(BL_ERR_USAGE, "the policy's [model-scan]/[input-scan] need clean probe images: --probe CLEAN");
    if (pol->check[SCAN_SIGNATURE].mode != SCAN_OFF && pol->nkeys + o->nextra_keys == 0)
        return bl_fail(BL_ERR_USAGE, "the policy's [signature] check has no trusted key: set trusted_keys or pass "
                                     "--trusted-key KEY.pub");
    if (o->data && !is_dir(o->data) && !is_file(o->data))
        return bl_fail(BL_ERR_USAGE, "--data %s: no such file or folder", o->data);

    // One read validates the whole file (hash, signature) before anything else looks at it.
    BdmModel bm = {0};
    double t_read = bl_now(); // the read is the signature check's cost, so its time counts there
    Status read_st = bdm_read(o->model, &bm), st = BL_OK;
    char read_msg[1024];
    snprintf(read_msg, sizeof read_msg, "%s", read_st ? bl_errmsg() : "");
    if (read_st == BL_ERR_RUN) return read_st; // could not open or read it at all
    if (!read_st) {
        snprintf(rep->model_sha256, sizeof rep->model_sha256, "%s", bm.sha256_hex);
        snprintf(rep->signer, sizeof rep->signer, "%s", bm.signer_fingerprint);
    }
    const char *key_used = NULL;
    Dataset probe = {0};
    Model m = {0};
    int have_model = 0, stop = 0;
    for (int i = 0; i < SCAN_NCHECKS && !st; i++) {
        ScanCheckResult *r = &rep->check[i];
        if (r->mode == SCAN_OFF) continue;
        if (stop) {
            r->status = SCAN_SKIPPED;
            snprintf(r->message, sizeof r->message, "%s",
                     rep->check[SCAN_SIGNATURE].status == SCAN_FAIL && rep->check[SCAN_SIGNATURE].mode == SCAN_REQUIRED
                         ? "skipped: the model failed its signature check, so nothing in it is looked at"
                         : "skipped: a required check failed before it (fail_fast)");
            continue;
        }
        if (i != SCAN_SIGNATURE && read_st) { // nothing trustworthy to look at
            st = bl_fail(BL_ERR_DATA, "%s", read_msg);
            break;
        }
        double t0 = i == SCAN_SIGNATURE ? t_read : bl_now();
        switch ((ScanCheckId)i) {
        case SCAN_SIGNATURE: st = check_signature(pol, o, &bm, read_st, read_msg, r, &key_used); break;
        case SCAN_PROVENANCE: st = check_provenance(pol, &bm, r); break;
        case SCAN_DATA: st = check_data(pol, o, &bm, r); break;
        case SCAN_MODEL:
        case SCAN_INPUT:
            if (!have_model) {
                Shape in;
                int classes;
                if ((st = model_shape(&bm, &in, &classes))) break;
                if ((st = load_probe(o->probe, pol->probe_images, classes, &probe))) break;
                if (probe.c != in.c || probe.h != in.h || probe.w != in.w) {
                    st = bl_fail(BL_ERR_USAGE, "--probe %s: images are %dx%dx%d, the model takes %dx%dx%d", o->probe,
                                 probe.c, probe.h, probe.w, in.c, in.h, in.w);
                    break;
                }
                // Loaded again through the key the signature check matched: the weights used are those verified.
                if ((st = model_load_trusted(o->model, key_used, in, classes, 256, NULL, &m, NULL))) break;
                have_model = 1;
            }
            st = i == SCAN_MODEL ? scan_model_level(pol, &m, &probe, o->out_dir, o->progress, r)
                                 : scan_input_level(pol, &m, &probe, r);
            break;
        default: break;
        }
        if (st) break;
        finish_check(rep, r, t0);
        if (r->status == SCAN_FAIL && r->mode == SCAN_REQUIRED && (pol->fail_fast || i == SCAN_SIGNATURE)) stop = 1;
        if (i == SCAN_SIGNATURE && read_st && r->mode != SCAN_REQUIRED) { // advisory: still no verdict on junk
            st = bl_fail(BL_ERR_DATA, "%s", read_msg);
            break;
        }
    }
    if (have_model) model_free(&m);
    ds_free(&probe);
    if (!read_st) bdm_free(&bm);
    rep->seconds = bl_now() - t_start;
    rep->exit_code = rep->failed_required ? SCAN_EXIT_POLICY : 0;
    return st;
}

void scan_report_free(ScanReport *rep) {
    for (int i = 0; i < SCAN_NCHECKS; i++) {
        cJSON_Delete(rep->check[i].details);
        rep->check[i].details = NULL;
    }
}
