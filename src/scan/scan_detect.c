// scan_detect.c: the two costly scan checks. [model-scan] runs a registered model-level detector (Neural
// Cleanse) on the clean probe and applies the policy's limits to its per-label figures; [input-scan] looks for a
// small patch that takes over the model's decisions and measures what the runtime monitor would catch of it.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defense/defense.h"
#include "defense/monitor.h"
#include "scan/scan.h"
#include "train/train.h"

// Collect "key=value" detector settings into a NULL-terminated array.
static void settings_of(char (*set)[96], int n, const char *out[SCAN_MAX_ITEMS + 1]) {
    for (int i = 0; i < n; i++) out[i] = set[i];
    out[n] = NULL;
}

int scan_model_judge(const ScanPolicy *pol, int K, const double *ai, const double *l1, const double *asr) {
    int fail_label = -1;
    for (int k = 0; k < K; k++) {
        int outlier = ai[k] > pol->max_anomaly_index;
        int tiny = pol->max_trigger_l1 > 0 && asr[k] >= pol->trigger_asr && l1[k] < pol->max_trigger_l1;
        int fails = pol->rule_both && pol->max_trigger_l1 > 0 ? outlier && tiny : outlier || tiny;
        if (fails && (fail_label < 0 || ai[k] > ai[fail_label])) fail_label = k;
    }
    return fail_label;
}

Status scan_model_level(const ScanPolicy *pol, Model *m, const Dataset *probe, const char *out_dir, int progress,
                        ScanCheckResult *r) {
    const DefenseOps *ops = defense_find(pol->model_detector);
    const char *set[SCAN_MAX_ITEMS + 1];
    settings_of((char(*)[96])pol->model_set, pol->nmodel_set, set);
    DefenseParams dp;
    Status st = defense_params_resolve(ops, set, &dp);
    if (st) return st;
    // The probe stands in for the defender's clean split; a model-level detector reads nothing else.
    DefenseContext ctx = {.model = m, .train = probe, .clean = probe, .params = &dp, .seed = pol->seed,
                          .out_dir = out_dir, .progress = progress};
    DefenseResult res = {0};
    if ((st = ops->run(&ctx, &res))) {
        defense_result_free(&res);
        return bl_fail_ctx(st, "[model-scan] %s", ops->name);
    }
    const cJSON *labels = res.extra_json ? cJSON_GetObjectItemCaseSensitive(res.extra_json, "labels") : NULL;
    cJSON *d = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(d, "labels");
    r->details = d;
    cJSON_AddStringToObject(d, "detector", ops->name);
    cJSON_AddNumberToObject(d, "probe_images", probe->n);
    const int K = res.num_labels;
    double *asr = malloc((size_t)(K > 0 ? K : 1) * sizeof(double));
    if (!asr) {
        defense_result_free(&res);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    int worst = -1, small = -1;
    for (int k = 0; k < K; k++) {
        const cJSON *lk = cJSON_GetArrayItem(labels, k);
        const cJSON *a = lk ? cJSON_GetObjectItemCaseSensitive(lk, "asr") : NULL;
        asr[k] = cJSON_IsNumber(a) ? a->valuedouble : 1.0; // a detector that reports no ASR: assume it succeeded
        if (worst < 0 || res.anomaly_index[k] > res.anomaly_index[worst]) worst = k;
        if (small < 0 || res.label_stat[k] < res.label_stat[small]) small = k;
    }
    int fail_label = scan_model_judge(pol, K, res.anomaly_index, res.label_stat, asr);
    for (int k = 0; k < K; k++) {
        double ai = res.anomaly_index[k], l1 = res.label_stat[k];
        int outlier = ai > pol->max_anomaly_index;
        int tiny = pol->max_trigger_l1 > 0 && asr[k] >= pol->trigger_asr && l1 < pol->max_trigger_l1;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "label", k);
        cJSON_AddNumberToObject(o, "anomaly_index", ai);
        cJSON_AddNumberToObject(o, "l1", l1);
        cJSON_AddNumberToObject(o, "asr", asr[k]);
        cJSON_AddBoolToObject(o, "outlier", outlier);
        cJSON_AddBoolToObject(o, "small_trigger", tiny);
        cJSON_AddItemToArray(arr, o);
    }
    free(asr);
    if (res.notes[0]) cJSON_AddStringToObject(d, "notes", res.notes);
    if (worst < 0) {
        defense_result_free(&res);
        return bl_fail(BL_ERR_RUN, "[model-scan] %s returned no per-label figures", ops->name);
    }
    r->value = res.anomaly_index[worst], r->has_value = 1;
    snprintf(r->figure, sizeof r->figure, "max anomaly index %.2f (label %d); smallest trigger L1 %.1f (label %d)",
             res.anomaly_index[worst], worst, res.label_stat[small], small);
    if (pol->max_trigger_l1 > 0)
        snprintf(r->threshold, sizeof r->threshold,
                 pol->rule_both ? "no label with anomaly index > %g AND a trigger of ASR >= %g at L1 < %g"
                                : "no label with anomaly index > %g, none with a trigger of ASR >= %g at L1 < %g",
                 pol->max_anomaly_index, pol->trigger_asr, pol->max_trigger_l1);
    else snprintf(r->threshold, sizeof r->threshold, "anomaly index <= %g", pol->max_anomaly_index);
    if (fail_label >= 0) {
        r->status = SCAN_FAIL;
        snprintf(r->message, sizeof r->message,
                 "label %d looks like a backdoor target: anomaly index %.2f (limit %g), reversed trigger L1 %.1f%s%.700s",
                 fail_label, res.anomaly_index[fail_label], pol->max_anomaly_index, res.label_stat[fail_label],
                 res.notes[0] ? "; notes: " : "", res.notes);
    } else {
        r->status = SCAN_PASS;
        if (res.notes[0]) snprintf(r->message, sizeof r->message, "notes: %.900s", res.notes);
    }
    defense_result_free(&res);
    return BL_OK;
}

// ----------------------------------------------------------------------------------------------- input-scan

static const char *const g_pos_names[5] = {"bottom-right", "bottom-left", "top-left", "top-right", "center"};

// Stamp an s x s square of value v (every channel) at position pos onto every image of d.
static void stamp_square(Dataset *d, int s, int pos, uint8_t v) {
    int x0 = 0, y0 = 0;
    switch (pos) {
    case 0: x0 = d->w - s, y0 = d->h - s; break;
    case 1: x0 = 0, y0 = d->h - s; break;
    case 2: x0 = 0, y0 = 0; break;
    case 3: x0 = d->w - s, y0 = 0; break;
    default: x0 = (d->w - s) / 2, y0 = (d->h - s) / 2; break;
    }
    size_t img = (size_t)d->c * d->h * d->w;
    for (int i = 0; i < d->n; i++)
        for (int c = 0; c < d->c; c++)
            for (int y = y0; y < y0 + s; y++)
                memset(d->images + i * img + ((size_t)c * d->h + y) * d->w + x0, v, (size_t)s);
}

// Share of the screened inputs the monitor flags.
static Status monitor_rate(Monitor *mon, const Dataset *d, double *rate) {
    FILE *sink = fopen("/dev/null", "w");
    if (!sink) return bl_fail(BL_ERR_RUN, "[input-scan] cannot open /dev/null");
    MonitorStats ms = {0};
    Status st = monitor_screen_dataset(mon, d, 0, sink, &ms);
    fclose(sink);
    *rate = ms.inputs ? (double)ms.flagged / ms.inputs : 0.0;
    return st;
}

Status scan_input_level(const ScanPolicy *pol, Model *m, const Dataset *probe, ScanCheckResult *r) {
    if (probe->n < 20) return bl_fail(BL_ERR_USAGE, "[input-scan] needs at least 20 probe images, got %d", probe->n);
    const int K = m->num_classes, nc = probe->n / 2, ns = probe->n - nc;
    int *idx = malloc((size_t)probe->n * sizeof(int));
    uint8_t *pred0 = malloc((size_t)ns), *pred1 = malloc((size_t)ns);
    long *den = calloc((size_t)K, sizeof(long)), *num = calloc((size_t)K, sizeof(long));
    Dataset calib = {0}, screen = {0}, stamped = {0};
    Status st = BL_OK;
    if (!idx || !pred0 || !pred1 || !den || !num) {
        st = bl_fail(BL_ERR_RUN, "[input-scan] out of memory");
        goto done;
    }
    // First half calibrates the monitor, second half is stamped and screened: no image does both.
    for (int i = 0; i < probe->n; i++) idx[i] = i;
    if ((st = ds_select(probe, idx, nc, &calib)) || (st = ds_select(probe, idx + nc, ns, &screen))) goto done;
    predict(m, &screen, pred0, NULL);
    for (int i = 0; i < ns; i++)
        for (int t = 0; t < K; t++) den[t] += pred0[i] != t;
    cJSON *d = cJSON_CreateObject(), *cands = cJSON_AddArrayToObject(d, "candidates");
    r->details = d;
    double best = -1;
    int best_s = 0, best_pos = 0, best_v = 0, best_t = 0, ncand = 0;
    for (int s = 1; (double)s * s <= pol->max_patch_l1 && s <= screen.h && s <= screen.w; s++)
        for (int pos = 0; pos < 5; pos++)
            for (int v = 0; v < 2; v++) {
                ds_free(&stamped);
                if ((st = ds_copy(&screen, &stamped))) goto done;
                stamp_square(&stamped, s, pos, v ? 0 : 255);
                predict(m, &stamped, pred1, NULL);
                memset(num, 0, (size_t)K * sizeof(long));
                for (int i = 0; i < ns; i++)
                    if (pred1[i] != pred0[i]) num[pred1[i]]++;
                double a = 0;
                int at = 0;
                for (int t = 0; t < K; t++)
                    if (den[t] && (double)num[t] / den[t] > a) a = (double)num[t] / den[t], at = t;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "side", s);
                cJSON_AddStringToObject(o, "position", g_pos_names[pos]);
                cJSON_AddStringToObject(o, "value", v ? "black" : "white");
                cJSON_AddNumberToObject(o, "l1", s * s);
                cJSON_AddNumberToObject(o, "asr", a);
                cJSON_AddNumberToObject(o, "target", at);
                cJSON_AddItemToArray(cands, o);
                ncand++;
                if (a > best) best = a, best_s = s, best_pos = pos, best_v = v, best_t = at;
            }
    if (!ncand) {
        st = bl_fail(BL_ERR_USAGE, "[input-scan] max_trigger_l1 = %g admits no candidate square", pol->max_patch_l1);
        goto done;
    }
    // What the runtime monitor would catch of the strongest candidate, and what it costs on clean inputs.
    const char *set[SCAN_MAX_ITEMS + 1];
    settings_of((char(*)[96])pol->input_set, pol->ninput_set, set);
    Monitor mon;
    if ((st = monitor_init(&mon, m, pol->input_detector, set, &calib, pol->frr, pol->seed))) goto done;
    ds_free(&stamped);
    if ((st = ds_copy(&screen, &stamped))) goto done;
    stamp_square(&stamped, best_s, best_pos, best_v ? 0 : 255);
    double clean_rate = 0, cand_rate = 0;
    if ((st = monitor_rate(&mon, &screen, &clean_rate)) || (st = monitor_rate(&mon, &stamped, &cand_rate))) goto done;
    cJSON_AddNumberToObject(d, "candidates_tried", ncand);
    cJSON_AddNumberToObject(d, "probe_calibration", nc);
    cJSON_AddNumberToObject(d, "probe_screened", ns);
    cJSON *b = cJSON_AddObjectToObject(d, "strongest");
    cJSON_AddNumberToObject(b, "side", best_s);
    cJSON_AddStringToObject(b, "position", g_pos_names[best_pos]);
    cJSON_AddStringToObject(b, "value", best_v ? "black" : "white");
    cJSON_AddNumberToObject(b, "asr", best);
    cJSON_AddNumberToObject(b, "target", best_t);
    cJSON_AddStringToObject(d, "monitor", pol->input_detector);
    cJSON_AddNumberToObject(d, "monitor_frr_target", pol->frr);
    cJSON_AddNumberToObject(d, "monitor_threshold", mon.threshold);
    cJSON_AddNumberToObject(d, "monitor_clean_flagged", clean_rate);
    cJSON_AddNumberToObject(d, "monitor_candidate_flagged", cand_rate);
    r->value = best, r->has_value = 1;
    snprintf(r->figure, sizeof r->figure,
             "strongest candidate: %s %dx%d %s -> class %d, ASR %.3f; %s flags %.1f%% of it, %.1f%% of clean", best_v ? "black" : "white",
             best_s, best_s, g_pos_names[best_pos], best_t, best, pol->input_detector, 100 * cand_rate, 100 * clean_rate);
    snprintf(r->threshold, sizeof r->threshold, "no square with L1 <= %g reaches ASR %g", pol->max_patch_l1,
             pol->max_asr);
    if (best >= pol->max_asr) {
        r->status = SCAN_FAIL;
        snprintf(r->message, sizeof r->message,
                 "a %dx%d %s square at %s sends %.1f%% of the probe images it can move to class %d: a patch trigger",
                 best_s, best_s, best_v ? "black" : "white", g_pos_names[best_pos], 100 * best, best_t);
    } else {
        r->status = SCAN_PASS;
    }
done:
    free(idx);
    free(pred0);
    free(pred1);
    free(den);
    free(num);
    ds_free(&calib);
    ds_free(&screen);
    ds_free(&stamped);
    return st;
}
