// cmd_detect.c: `backdoorlab detect --defense NAME --run results/<exp> [--set key=value ...]`: run a defence on
// a finished attack run (no retraining of the attack), on the backdoored model and on the clean model as the
// control, and write results/<exp>/defense/<name>/{scores.csv, scores-clean.csv, summary.json}.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "defense/defense.h"
#include "defense/evaluate.h"
#include "io/results.h"
#include "run/experiment.h"
#include "run/run_report.h"

#define DETECT_MAX_SETTINGS 64

static void detect_usage(void) {
    printf("usage: backdoorlab detect --defense NAME|all --run results/<exp> [--set key=value ...]\n"
           "       backdoorlab detect --defense NAME --runs DIR1 DIR2 ... [--out DIR] [--set key=value ...]\n"
           "                          [--as LABEL] [--inputs N] [--no-control] [--trusted-key KEY.pub] [--threads N]\n"
           "                          [--quiet]\n\n"
           "Runs a defence on a finished attack run: on the backdoored model, and on the clean model as the\n"
           "control row. The defence sees the training set without poison flags, the model and the defender's\n"
           "clean split; only the evaluator reads poison.csv. Writes results/<exp>/defense/<name>/scores.csv,\n"
           "scores-clean.csv and summary.json, adds the summary to metrics.json under \"defenses\", and prints a\n"
           "table. The run is refused if it has no DONE marker or its models do not match manifest.json (exit 3).\n\n"
           "  --defense NAME   one of the defences below, or `all` (each with its defaults)\n"
           "  --set key=value  a parameter of the defence (repeatable); unknown keys and out-of-range values fail\n"
           "  --as LABEL       store the results as defense/LABEL (e.g. strip-blend for a variant); default NAME\n"
           "  --inputs N       input-level detectors screen N clean + N triggered test inputs (default 2000;\n"
           "                   0 = the whole test set)\n"
           "  --no-control     skip the clean-model control run\n"
           "  --runs DIR...    a set of models (TrojAI-style): the defence on every run's backdoored model and its\n"
           "                   clean control, then ROC-AUC, cross-entropy and Brier score of the model scores\n"
           "                   (score.txt of an external defence) over the set, in --out DIR/summary.json\n"
           "                   (default results/model-sets/<name>)\n"
           "external defences (--defense external --set cmd=\"python3 /abs/path/mydef.py\" [--set timeout=S]): the\n"
           "  command runs in a scratch folder as `CMD --in IN --out OUT --scratch DIR`; IN holds model.safetensors,\n"
           "  train_{x,y}.npy, clean_{x,y}.npy, inputs_x.npy and task.json; OUT may receive score.txt,\n"
           "  sample_scores.npy (+ sample_flags.npy), input_scores.npy (+ clean_input_scores.npy),\n"
           "  flagged_labels.json, model.safetensors. README: \"Write your own defence\".\n"
           "  --trusted-key K  refuse the run unless both models are signed by K (KEY.pub); default: the run\n"
           "                   config's [model] trusted_key, if any\n"
           "  --threads N      OpenMP threads\n"
           "  --quiet          no table\n\ndefences:\n");
    for (int i = 0; i < defense_count(); i++) {
        const DefenseOps *d = defense_at(i);
        char buf[4096];
        printf("  %-16s [%s] %s\n", d->name, defense_level_name(d->level), d->summary);
        defense_params_describe(d, buf, sizeof buf);
        printf("%s", buf);
    }
}

// A number from the summary, or NaN when missing/null.
static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void pct(double v) {
    if (isfinite(v)) printf(" %7.2f%%", 100 * v);
    else printf(" %8s", "-");
}

static void num(double v, const char *fmt) {
    if (isfinite(v)) printf(fmt, v);
    else printf(" %7s", "-");
}

static void print_row(DefenseLevel level, const char *label, const cJSON *o) {
    printf("%-11s", label);
    switch (level) {
    case DEF_SAMPLES:
        num(jnum(o, "flagged"), " %7.0f"); // no flags (an external defence's scores only): "-"
        num(jnum(o, "tp"), " %7.0f");
        num(jnum(o, "fp"), " %7.0f");
        pct(jnum(o, "tpr"));
        pct(jnum(o, "fpr"));
        pct(jnum(o, "precision"));
        num(jnum(o, "f1"), " %7.3f");
        num(jnum(o, "auroc"), " %7.3f");
        break;
    case DEF_INPUTS: {
        num(jnum(o, "auroc"), " %7.3f");
        const cJSON *far = cJSON_GetObjectItemCaseSensitive(o, "far_at_frr");
        const cJSON *frr = cJSON_GetObjectItemCaseSensitive(o, "frr_actual");
        for (int f = 0; f < DEFENSE_NFRR; f++) {
            char key[16];
            snprintf(key, sizeof key, "%g", defense_frr_targets[f]);
            double a = jnum(far, key), r = jnum(frr, key);
            if (isfinite(a)) printf("  %6.2f%% (%5.2f%%)", 100 * a, 100 * r);
            else printf("  %17s", "-");
        }
        break;
    }
    case DEF_MODEL: {
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "flagged_labels"), *it;
        char buf[128] = "";
        size_t len = 0;
        cJSON_ArrayForEach(it, fl) {
            if (len + 8 >= sizeof buf) break;
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d", len ? "," : "", (int)it->valuedouble);
        }
        printf(" %-14s", buf[0] ? buf : "none");
        num(jnum(o, "max_anomaly_index"), " %8.2f");
        const cJSON *tf = cJSON_GetObjectItemCaseSensitive(o, "target_found");
        printf(" %8s", cJSON_IsBool(tf) ? (cJSON_IsTrue(tf) ? "yes" : "no") : "-");
        num(jnum(o, "trigger_jaccard"), " %8.3f");
        break;
    }
    case DEF_MITIGATION:
        pct(jnum(o, "ca_before"));
        pct(jnum(o, "ca_after"));
        pct(jnum(o, "asr_before"));
        pct(jnum(o, "asr_after"));
        pct(jnum(o, "ra_after"));
        num(jnum(o, "der"), " %7.3f");
        break;
    case DEF_ANY: break;
    }
    printf(" %8.1f\n", jnum(o, "seconds"));
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(o, "notes");
    if (cJSON_IsString(notes) && notes->valuestring[0]) printf("  notes: %s\n", notes->valuestring);
}

static void print_section(DefenseLevel level, const cJSON *sum) {
    printf("%-11s", "model");
    switch (level) {
    case DEF_SAMPLES:
        printf(" %7s %7s %7s %8s %8s %8s %7s %7s", "flagged", "TP", "FP", "TPR", "FPR", "prec", "F1", "AUROC");
        break;
    case DEF_INPUTS:
        printf(" %7s", "AUROC");
        for (int f = 0; f < DEFENSE_NFRR; f++) {
            char h[32];
            snprintf(h, sizeof h, "FAR@FRR %g%%", 100 * defense_frr_targets[f]);
            printf("  %17s", h);
        }
        break;
    case DEF_MODEL: printf(" %-14s %8s %8s %8s", "flagged labels", "max AI", "target", "jaccard"); break;
    case DEF_MITIGATION:
        printf(" %8s %8s %8s %8s %8s %7s", "CA", "CA after", "ASR", "ASRafter", "RA after", "DER");
        break;
    case DEF_ANY: break;
    }
    printf(" %8s\n", "seconds");
    print_row(level, "backdoored", sum);
    const cJSON *cm = cJSON_GetObjectItemCaseSensitive(sum, "clean_model");
    if (cJSON_IsObject(cm)) print_row(level, "clean (ctl)", cm);
    if (level == DEF_INPUTS) printf("(FAR at each target FRR; the FRR actually measured on clean test inputs in brackets)\n");
}

// Whether the summary's "returned" list (external defences) holds kind.
static int returned(const cJSON *o, const char *kind) {
    const cJSON *it, *r = cJSON_GetObjectItemCaseSensitive(o, "returned");
    cJSON_ArrayForEach(it, r) if (cJSON_IsString(it) && !strcmp(it->valuestring, kind)) return 1;
    return 0;
}

static void print_table(const DefenseOps *ops, const LoadedRun *lr, const cJSON *sum) {
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(sum, "attack");
    printf("\n== %s on %s (%s; %d training samples, %d defender) ==\n", ops->name, lr->dir,
           cJSON_IsString(att) ? att->valuestring : "?", lr->poisoned.n, lr->defender.n);
    if (ops->level != DEF_ANY) {
        print_section(ops->level, sum);
        return;
    }
    // an external defence: one section per kind of result it returned
    static const struct { const char *kind; DefenseLevel level; } kinds[] = {
        {"samples", DEF_SAMPLES}, {"inputs", DEF_INPUTS}, {"model", DEF_MODEL}, {"mitigation", DEF_MITIGATION}};
    for (size_t k = 0; k < BL_ARRAY_LEN(kinds); k++)
        if (returned(sum, kinds[k].kind)) print_section(kinds[k].level, sum);
    if (returned(sum, "score")) {
        const cJSON *cm = cJSON_GetObjectItemCaseSensitive(sum, "clean_model");
        printf("model score (probability backdoored): backdoored %.3f", jnum(sum, "model_score"));
        if (cJSON_IsObject(cm)) printf(", clean (ctl) %.3f", jnum(cm, "model_score"));
        printf("\n");
    }
}

// metrics.json gets the summary under "defenses" (read, update, write atomically).
static Status update_metrics_json(const char *dir, const char *name, const cJSON *sum) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return BL_OK; // a run without metrics.json: nothing to update
    char *buf = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len > 0 && len < (1L << 26) && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
        fread(buf, 1, (size_t)len, f) == (size_t)len)
        buf[len] = 0;
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    cJSON *mj = buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    if (!mj) return bl_fail(BL_ERR_DATA, "%s: cannot read it as JSON to add the defence summary", path);
    cJSON *defs = cJSON_GetObjectItemCaseSensitive(mj, "defenses");
    if (!cJSON_IsObject(defs)) {
        cJSON_DeleteItemFromObject(mj, "defenses");
        defs = cJSON_AddObjectToObject(mj, "defenses");
    }
    cJSON_DeleteItemFromObject(defs, name);
    cJSON_AddItemToObject(defs, name, cJSON_Duplicate(sum, 1));
    Status st = json_write_atomic(path, mj);
    cJSON_Delete(mj);
    return st;
}

// Options shared by every run a detect call covers.
typedef struct {
    const DefenseOps *one; // NULL = all
    const char *label, *trusted_key;
    const char *const *settings;
    int threads, inputs, control, quiet;
} DetectOpts;

// Run the defence(s) on one finished run. *model_sum (may be NULL) receives a copy of the (single) defence's summary.
static Status detect_run(const char *run, const DetectOpts *o, cJSON **model_sum) {
    int all = o->one == NULL;
    LoadedRun *lr = calloc(1, sizeof *lr);
    if (!lr) return bl_fail(BL_ERR_RUN, "out of memory");
    Status st = experiment_load_run(run, o->threads, o->trusted_key, lr);
    if (st) {
        free(lr);
        return st;
    }
    DefenseRunData rd;
    experiment_defense_data(lr, &rd);
    rd.max_inputs = o->inputs;
    rd.progress = isatty(2);
    if (!o->control) rd.clean = NULL;
    for (int i = 0; i < defense_count() && !st; i++) {
        const DefenseOps *ops = all ? defense_at(i) : o->one;
        if (!all && i > 0) break;
        if (all && ops->level == DEF_ANY) continue; // `all`: the built-in ones (an external needs its command)
        if (all && !(ops->kinds & DS_KIND_BIT(lr->data.test.kind))) { // `all`: the ones that fit this data
            if (!o->quiet)
                printf("%s: skipped (does not support %s)\n", ops->name, ds_kind_name(lr->data.test.kind));
            continue;
        }
        char out_dir[4400];
        const char *as = o->label ? o->label : ops->name;
        snprintf(out_dir, sizeof out_dir, "%s/defense/%s", lr->dir, as);
        cJSON *sum = NULL;
        st = defense_run_and_evaluate(ops->name, all ? NULL : o->settings, &rd, out_dir, NULL, &sum);
        if (!st) st = update_metrics_json(lr->dir, as, sum);
        if (!st && !o->quiet) {
            print_table(ops, lr, sum);
            printf("results in %s/\n", out_dir);
        }
        if (!st && model_sum) *model_sum = cJSON_Duplicate(sum, 1);
        cJSON_Delete(sum);
    }
    if (!st) st = run_report_write(lr->dir); // the run's report.html, now with this defence
    experiment_loaded_free(lr);
    free(lr);
    return st;
}

// The score a model-level verdict gives a model: the external command's probability, else NaN (with
// anomaly = the largest anomaly index, which ranks models but is no probability).
static double model_prob(const cJSON *o, double *anomaly) {
    *anomaly = jnum(o, "max_anomaly_index");
    return jnum(o, "model_score");
}

// --runs: every run's backdoored model (label 1) and clean control (label 0) as one set of models, scored as
// TrojAI scores a detector: ROC-AUC, cross-entropy and Brier score of the probabilities (clipped to [1e-12,
// 1 - 1e-12] for the cross-entropy, as TrojAI's evaluation does), written to out_dir/summary.json.
static Status model_set_summary(char **runs, int nruns, cJSON **sums, const char *name, const char *out_dir,
                                int quiet) {
    int n = 0, nprob = 0;
    float score[2 * 256], anom[2 * 256];
    uint8_t y[2 * 256];
    double ce = 0, brier = 0;
    cJSON *j = cJSON_CreateObject(), *models = cJSON_AddArrayToObject(j, "models");
    cJSON_AddStringToObject(j, "defense", name);
    for (int r = 0; r < nruns; r++) {
        const cJSON *side[2] = {sums[r], cJSON_GetObjectItemCaseSensitive(sums[r], "clean_model")};
        for (int k = 0; k < 2; k++) {
            if (!cJSON_IsObject(side[k])) continue;
            double a, p = model_prob(side[k], &a);
            y[n] = (uint8_t)(k == 0);
            score[n] = (float)p, anom[n] = (float)a;
            if (isfinite(p)) {
                double q = fmin(fmax(p, 1e-12), 1 - 1e-12);
                ce -= y[n] ? log(q) : log(1 - q);
                brier += (p - y[n]) * (p - y[n]);
                nprob++;
            }
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "run", runs[r]);
            cJSON_AddStringToObject(m, "model", k == 0 ? "backdoored" : "clean");
            if (isfinite(p)) cJSON_AddNumberToObject(m, "score", p);
            if (isfinite(a)) cJSON_AddNumberToObject(m, "max_anomaly_index", a);
            cJSON_AddItemToArray(models, m);
            n++;
        }
    }
    cJSON_AddNumberToObject(j, "models_backdoored", nruns);
    cJSON_AddNumberToObject(j, "models_clean", n - nruns);
    if (nprob == n && n > 0) {
        double auc = eval_auroc(score, y, n);
        if (isfinite(auc)) cJSON_AddNumberToObject(j, "roc_auc", auc);
        cJSON_AddNumberToObject(j, "cross_entropy", ce / n);
        cJSON_AddNumberToObject(j, "brier", brier / n);
    } else {
        double auc = eval_auroc(anom, y, n);
        if (isfinite(auc)) cJSON_AddNumberToObject(j, "roc_auc_anomaly_index", auc);
        cJSON_AddStringToObject(j, "note", "not every model got a probability (score.txt): cross-entropy and Brier "
                                           "need one; ROC-AUC from the largest anomaly index where there is one");
    }
    char path[4500];
    snprintf(path, sizeof path, "%s/summary.json", out_dir);
    Status st = ensure_dir(out_dir);
    if (!st) st = json_write_atomic(path, j);
    if (!st && !quiet) {
        printf("\n== %s over %d models (%d backdoored, %d clean) ==\n", name, n, nruns, n - nruns);
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(j, "roc_auc")))
            printf("ROC-AUC %.3f   cross-entropy %.4f   Brier %.4f\n", v->valuedouble, ce / n, brier / n);
        else if ((v = cJSON_GetObjectItemCaseSensitive(j, "roc_auc_anomaly_index")))
            printf("ROC-AUC (anomaly index) %.3f\n", v->valuedouble);
        else
            printf("no ROC-AUC (a set needs both clean and backdoored models with scores)\n");
        printf("results in %s\n", path);
    }
    cJSON_Delete(j);
    return st;
}

int cmd_detect(int argc, char **argv) {
    const char *name = NULL, *run = NULL, *label = NULL, *trusted_key = NULL, *settings[DETECT_MAX_SETTINGS + 1];
    const char *set_out = NULL;
    char *runs[256];
    int nset = 0, threads = 0, inputs = 2000, control = 1, quiet = 0, nruns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            detect_usage();
            return 0;
        } else if (!strcmp(argv[i], "--defense") && i + 1 < argc) {
            name = argv[++i];
        } else if (!strcmp(argv[i], "--as") && i + 1 < argc) {
            label = argv[++i];
            int ok = label[0] && label[0] != '.' && strlen(label) < 64;
            for (const char *c = label; ok && *c; c++)
                ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                     *c == '_' || *c == '.';
            if (!ok) {
                fprintf(stderr, "backdoorlab detect: --as needs a name of [A-Za-z0-9._-] (not starting with '.'), "
                                "got '%s'\n", label);
                return 2;
            }
        } else if (!strcmp(argv[i], "--run") && i + 1 < argc) {
            run = argv[++i];
        } else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2)) {
                if (nruns == 256) {
                    fprintf(stderr, "backdoorlab detect: more than 256 runs after --runs\n");
                    return 2;
                }
                runs[nruns++] = argv[++i];
            }
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            set_out = argv[++i];
        } else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (nset == DETECT_MAX_SETTINGS) {
                fprintf(stderr, "backdoorlab detect: more than %d --set options\n", DETECT_MAX_SETTINGS);
                return 2;
            }
            settings[nset++] = argv[++i];
        } else if (!strcmp(argv[i], "--inputs") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || v < 0 || v > 1000000) {
                fprintf(stderr, "backdoorlab detect: --inputs needs an integer in [0, 1000000], got '%s'\n", argv[i]);
                return 2;
            }
            inputs = (int)v;
        } else if (!strcmp(argv[i], "--trusted-key") && i + 1 < argc) {
            trusted_key = argv[++i];
        } else if (!strcmp(argv[i], "--no-control")) {
            control = 0;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((threads = cli_parse_threads(argv[++i])) < 0) return 2;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else {
            fprintf(stderr, "backdoorlab detect: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    settings[nset] = NULL;
    if (!name || !run == !nruns || (set_out && !nruns)) {
        fprintf(stderr, "backdoorlab detect: needs --defense NAME and --run DIR, or --runs DIR... [--out DIR] (see "
                        "--help)\n");
        return 2;
    }
    int all = !strcmp(name, "all");
    if (all && (nset || label)) {
        fprintf(stderr, "backdoorlab detect: --set and --as apply to one defence; name it instead of `all`\n");
        return 2;
    }
    const DefenseOps *one = all ? NULL : defense_find(name);
    if (!all && !one)
        return cli_report(bl_fail(BL_ERR_USAGE, "unknown defence '%s' (known: %s)", name, defense_known_names()));
    if (one) { // parameters are checked before the (slow) reload
        DefenseParams p;
        Status st = defense_params_resolve(one, settings, &p);
        if (st) return cli_report(st);
    }
    DetectOpts o = {one, label, trusted_key, settings, threads, inputs, control, quiet};
    if (!nruns) return cli_report(detect_run(run, &o, NULL));
    if (all || !control) {
        fprintf(stderr, "backdoorlab detect: --runs scores one defence over every run's backdoored and clean model: "
                        "name it (not `all`) and keep the control\n");
        return 2;
    }
    cJSON *sums[256] = {0};
    Status st = BL_OK;
    for (int r = 0; r < nruns && !st; r++) st = detect_run(runs[r], &o, &sums[r]);
    char dir[4400];
    snprintf(dir, sizeof dir, "%s", set_out ? set_out : "");
    if (!set_out) snprintf(dir, sizeof dir, "results/model-sets/%s", label ? label : one->name);
    if (!st) st = model_set_summary(runs, nruns, sums, label ? label : one->name, dir, quiet);
    for (int r = 0; r < nruns; r++) cJSON_Delete(sums[r]);
    return cli_report(st);
}
