// multirun.c: several ordinary runs from one config (seeds, [sweep]) and their mean ± sd summary.
#include "run/multirun.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/plot.h"
#include "io/results.h"
#include "run/supply_chain.h"

// After a finished attack run: the supply-chain scenario when the config has a [supply_chain] section (it reloads
// the run and writes supply-chain/ with its own DONE).
static Status play_supply_chain(void *ctx, const char *run_dir, const ExperimentConfig *cfg, int threads,
                                int quiet) {
    (void)ctx;
    return cfg->supply_chain.enabled ? supply_chain_run(run_dir, &cfg->supply_chain, threads, quiet) : BL_OK;
}

// The headline numbers every summary aggregates: (metrics.json path, column title).
static const char *const headline[][2] = {
    {"clean_model/ca", "clean CA"},
    {"backdoored_model/ca", "backdoored CA"},
    {"backdoored_model/asr", "ASR"},
    {"backdoored_model/ra", "RA"},
    {"clean_model/asr", "clean-model ASR"},
};

int config_is_multi(const ExperimentConfig *cfg) { return cfg->experiment.nseeds > 0 || cfg->sweep.enabled; }

void multirun_plan(const ExperimentConfig *cfg, const char *root, int quick, MultiRun *mr) {
    memset(mr, 0, sizeof *mr);
    if (root) snprintf(mr->root, sizeof mr->root, "%s", root);
    else snprintf(mr->root, sizeof mr->root, "results/%s", cfg->experiment.name);
    mr->npoints = cfg->sweep.enabled ? cfg->sweep.nvalues : 1;
    for (int i = 0; i < mr->npoints; i++)
        snprintf(mr->value[i], sizeof mr->value[i], "%s", cfg->sweep.enabled ? cfg->sweep.values[i] : "");
    if (cfg->experiment.nseeds > 0) {
        mr->nseeds = quick ? 1 : cfg->experiment.nseeds;
        memcpy(mr->seed, cfg->experiment.seeds, sizeof mr->seed);
    } else {
        mr->nseeds = 1;
        mr->seed[0] = cfg->experiment.seed;
    }
}

void multirun_dir(const MultiRun *mr, const ExperimentConfig *cfg, int point, int seed_index, char *out, size_t n) {
    if (cfg->sweep.enabled)
        snprintf(out, n, "%s/%s-%s/seed-%llu", mr->root, cfg->sweep.key, mr->value[point],
                 (unsigned long long)mr->seed[seed_index]);
    else
        snprintf(out, n, "%s/seed-%llu", mr->root, (unsigned long long)mr->seed[seed_index]);
}

Status multirun_config(const ExperimentConfig *cfg, const char *config_path, const MultiRun *mr, int point,
                       int seed_index, int quick, ExperimentConfig *out) {
    memcpy(out, cfg, sizeof *out);
    Status st = BL_OK;
    if (cfg->sweep.enabled)
        st = config_set(out, cfg->sweep.section, cfg->sweep.key, mr->value[point], config_path, cfg->sweep.line);
    if (st) return st;
    if (quick && out->train.epochs > cfg->paper.quick_epochs) out->train.epochs = cfg->paper.quick_epochs;
    config_single_run(out, mr->seed[seed_index]);
    return BL_OK;
}

double multirun_metric(const cJSON *metrics, const char *path) {
    const char *minus = strstr(path, " - ");
    if (minus) {
        char a[256];
        snprintf(a, sizeof a, "%.*s", (int)(minus - path), path);
        return multirun_metric(metrics, a) - multirun_metric(metrics, minus + 3);
    }
    const cJSON *node = metrics;
    char part[128];
    for (const char *s = path; node && *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n >= sizeof part) return NAN;
        memcpy(part, s, n);
        part[n] = 0;
        if (cJSON_IsArray(node)) {
            char *end;
            long i = strtol(part, &end, 10);
            node = (*end || i < 0) ? NULL : cJSON_GetArrayItem(node, (int)i);
        } else {
            node = cJSON_GetObjectItemCaseSensitive(node, part);
        }
        s += n + (e ? 1 : 0);
    }
    if (cJSON_IsNumber(node)) return node->valuedouble;
    if (cJSON_IsBool(node)) return cJSON_IsTrue(node) ? 1.0 : 0.0;
    return NAN;
}

void multirun_mean_sd(const double *x, int n, double *mean, double *sd) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m = n ? m / n : NAN;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(v / (n - 1)) : 0.0;
}

void multirun_free(MultiRun *mr) {
    for (int p = 0; p < CONFIG_MAX_SWEEP; p++)
        for (int s = 0; s < CONFIG_MAX_SEEDS; s++) {
            cJSON_Delete(mr->metrics[p][s]);
            mr->metrics[p][s] = NULL;
        }
}

// One metric at one point: the seeds' finite values into x (returns how many), with their mean and sd (NAN if none).
static int point_values(const MultiRun *mr, int point, const char *path, double x[CONFIG_MAX_SEEDS], double *mean,
                        double *sd) {
    int n = 0;
    for (int s = 0; s < mr->nseeds; s++) {
        double v = multirun_metric(mr->metrics[point][s], path);
        if (isfinite(v)) x[n++] = v;
    }
    *mean = *sd = NAN;
    if (n) multirun_mean_sd(x, n, mean, sd);
    return n;
}

// The same as JSON: mean, sd, min, max and the values (null when no seed has the metric).
static cJSON *stat_json(const MultiRun *mr, int point, const char *path, double *mean, double *sd) {
    double x[CONFIG_MAX_SEEDS];
    int n = point_values(mr, point, path, x, mean, sd);
    if (!n) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    double lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    cJSON_AddNumberToObject(o, "mean", *mean);
    cJSON_AddNumberToObject(o, "sd", *sd);
    cJSON_AddNumberToObject(o, "min", lo);
    cJSON_AddNumberToObject(o, "max", hi);
    cJSON_AddItemToObject(o, "values", cJSON_CreateDoubleArray(x, n));
    return o;
}

// Whether every sweep value is a number (then a plot against it makes sense).
static int sweep_numeric(const MultiRun *mr) {
    for (int p = 0; p < mr->npoints; p++) {
        char *end;
        strtod(mr->value[p], &end);
        if (end == mr->value[p] || *end) return 0;
    }
    return mr->npoints > 1;
}

// sweep.csv and sweep.gp: ASR and both CAs (mean ± sd, percent) against the swept value; sweep.png by gnuplot.
static Status write_sweep_plot(const ExperimentConfig *cfg, const MultiRun *mr, char *note, size_t note_n) {
    char path[2200], *csv = NULL;
    size_t csv_n = 0;
    FILE *f = open_memstream(&csv, &csv_n);
    if (!f) return bl_fail(BL_ERR_RUN, "out of memory");
    fprintf(f, "%s,asr_mean,asr_sd,backdoored_ca_mean,backdoored_ca_sd,clean_ca_mean,clean_ca_sd,seeds\n",
            cfg->sweep.key);
    for (int p = 0; p < mr->npoints; p++) {
        double m[3], sd[3];
        const char *paths[3] = {"backdoored_model/asr", "backdoored_model/ca", "clean_model/ca"};
        double x[CONFIG_MAX_SEEDS];
        for (int k = 0; k < 3; k++) point_values(mr, p, paths[k], x, &m[k], &sd[k]);
        fprintf(f, "%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%d\n", mr->value[p], 100 * m[0], 100 * sd[0], 100 * m[1],
                100 * sd[1], 100 * m[2], 100 * sd[2], mr->nseeds);
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/sweep.csv", mr->root);
    Status st = csv ? write_file_atomic(path, csv, csv_n) : bl_fail(BL_ERR_RUN, "out of memory");
    free(csv);
    if (st) return st;
    char gp[2048];
    int logx = !strcmp(cfg->sweep.key, "poison_count");
    snprintf(gp, sizeof gp,
             "# ASR and clean accuracy against %s.%s (mean and sd over %d seed(s)); run: gnuplot sweep.gp\n"
             "set terminal pngcairo size 800,500\nset output 'sweep.png'\nset datafile separator ','\n"
             "set title '%s: ASR and CA against %s (mean +- sd, %d seed(s))' noenhanced\n"
             "set xlabel '%s' noenhanced\nset ylabel 'percent'\nset yrange [0:105]\nset grid\nset key bottom right\n"
             "%s"
             "plot 'sweep.csv' skip 1 using 1:2:3 with yerrorlines lw 2 title 'ASR (backdoored model)', \\\n"
             "     '' skip 1 using 1:4:5 with yerrorlines title 'CA (backdoored model)', \\\n"
             "     '' skip 1 using 1:6:7 with yerrorlines dt 2 title 'CA (clean model)'\n",
             cfg->sweep.section, cfg->sweep.key, mr->nseeds, cfg->experiment.name, cfg->sweep.key, mr->nseeds,
             cfg->sweep.key, logx ? "set logscale x\n" : "");
    return plot_script(mr->root, "sweep.gp", gp, strlen(gp), "sweep.png", note, note_n);
}

// summary.json and summary.md (and the table on stdout unless quiet).
static Status write_summary(const ExperimentConfig *cfg, const MultiRun *mr, int quick, int quiet, double seconds) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "experiment", cfg->experiment.name);
    cJSON_AddBoolToObject(j, "quick", quick);
    cJSON *seeds = cJSON_AddArrayToObject(j, "seeds");
    for (int s = 0; s < mr->nseeds; s++) cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)mr->seed[s]));
    if (cfg->sweep.enabled) {
        char k[64];
        snprintf(k, sizeof k, "%s.%s", cfg->sweep.section, cfg->sweep.key);
        cJSON_AddStringToObject(j, "sweep_key", k);
    }
    cJSON *points = cJSON_AddArrayToObject(j, "points");
    char *md = NULL;
    size_t md_n = 0;
    FILE *f = open_memstream(&md, &md_n);
    if (!f) {
        cJSON_Delete(j);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    fprintf(f, "# %s: mean ± sd over %d seed(s)%s\n\n", cfg->experiment.name, mr->nseeds,
            quick ? " (quick: fewer seeds and epochs)" : "");
    fprintf(f, "| %s | seeds |", cfg->sweep.enabled ? cfg->sweep.key : "run");
    for (size_t h = 0; h < BL_ARRAY_LEN(headline); h++) fprintf(f, " %s (%%) |", headline[h][1]);
    fprintf(f, "\n|---|---|");
    for (size_t h = 0; h < BL_ARRAY_LEN(headline); h++) fprintf(f, "---|");
    fputc('\n', f);
    for (int p = 0; p < mr->npoints; p++) {
        cJSON *pj = cJSON_CreateObject();
        cJSON_AddItemToArray(points, pj);
        if (cfg->sweep.enabled) cJSON_AddStringToObject(pj, "value", mr->value[p]);
        char dir[2300];
        cJSON *dirs = cJSON_AddArrayToObject(pj, "runs");
        for (int s = 0; s < mr->nseeds; s++) {
            multirun_dir(mr, cfg, p, s, dir, sizeof dir);
            cJSON_AddItemToArray(dirs, cJSON_CreateString(dir));
        }
        cJSON *mj = cJSON_AddObjectToObject(pj, "metrics");
        fprintf(f, "| %s | %d |", cfg->sweep.enabled ? mr->value[p] : "all", mr->nseeds);
        for (size_t h = 0; h < BL_ARRAY_LEN(headline); h++) {
            double mean, sd;
            cJSON_AddItemToObject(mj, headline[h][0], stat_json(mr, p, headline[h][0], &mean, &sd));
            if (isfinite(mean)) fprintf(f, " %.2f ± %.2f |", 100 * mean, 100 * sd);
            else fprintf(f, " – |");
        }
        fputc('\n', f);
    }
    cJSON_AddNumberToObject(j, "seconds", seconds);
    fclose(f);
    char path[2200];
    snprintf(path, sizeof path, "%s/summary.json", mr->root);
    Status st = json_write_atomic(path, j);
    cJSON_Delete(j);
    if (!st && md) {
        snprintf(path, sizeof path, "%s/summary.md", mr->root);
        st = write_file_atomic(path, md, md_n);
    }
    if (!st && !quiet && md) printf("\n%s\n", md);
    free(md);
    return st;
}

Status multirun_begin(const ExperimentConfig *cfg, const MultiRun *mr) {
    Status st = ensure_dir(mr->root);
    if (st) return st;
    char path[2400];
    snprintf(path, sizeof path, "%s/DONE", mr->root);
    if (unlink(path) != 0 && errno != ENOENT) return bl_fail(BL_ERR_RUN, "%s: cannot remove the old DONE marker", path);
    snprintf(path, sizeof path, "%s/config.resolved.ini", mr->root);
    return config_write_resolved(cfg, path);
}

Status multirun_run_one(const ExperimentConfig *cfg, const ExperimentOptions *opt, int quick, MultiRun *mr, int p,
                        int s) {
    ExperimentConfig *one = malloc(sizeof *one);
    if (!one) return bl_fail(BL_ERR_RUN, "out of memory");
    char dir[2300], first[2300], path[2400];
    multirun_dir(mr, cfg, p, s, dir, sizeof dir);
    Status st = multirun_config(cfg, opt->config_path, mr, p, s, quick, one);
    if (!st) {
        ExperimentOptions o = *opt;
        o.cfg = one;
        o.out_dir = dir;
        o.after_done = play_supply_chain;
        o.quiet = 1;
        // a sweep over an attack key retrains the same clean model at every point: take the first point's
        // (experiment_run checks that it was trained exactly as this one would be, and trains when it was not or
        // is not finished yet, so the bytes never depend on the order runs finish in)
        multirun_dir(mr, cfg, 0, s, first, sizeof first);
        o.reuse_clean_from = cfg->sweep.enabled && p > 0 ? first : NULL;
        if ((st = experiment_run(&o))) bl_fail_ctx(st, "%s (run %s)", opt->config_path, dir);
    }
    free(one);
    if (st) return st;
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    cJSON_Delete(mr->metrics[p][s]);
    if (!(mr->metrics[p][s] = json_read_file(path)))
        return bl_fail(BL_ERR_RUN, "%s: cannot read back the run's metrics", path);
    return BL_OK;
}

Status multirun_finish(const ExperimentConfig *cfg, const MultiRun *mr, int quick, int quiet, double seconds) {
    char note[256] = "";
    Status st;
    if (sweep_numeric(mr) && (st = write_sweep_plot(cfg, mr, note, sizeof note))) return st;
    if (!quiet && note[0]) printf("%s\n", note);
    if ((st = write_summary(cfg, mr, quick, quiet, seconds))) return st;
    return write_done_marker(mr->root);
}

Status multirun_execute(const ExperimentConfig *cfg, const ExperimentOptions *opt, int quick, MultiRun *mr) {
    double t0 = bl_now();
    Status st = multirun_begin(cfg, mr);
    int total = mr->npoints * mr->nseeds, done = 0;
    for (int p = 0; p < mr->npoints && !st; p++)
        for (int s = 0; s < mr->nseeds && !st; s++) {
            double t = bl_now();
            if ((st = multirun_run_one(cfg, opt, quick, mr, p, s))) break;
            done++;
            if (!opt->quiet) {
                char point[80] = "";
                if (cfg->sweep.enabled) snprintf(point, sizeof point, "%s = %s, ", cfg->sweep.key, mr->value[p]);
                printf("[%d/%d] %sseed %llu: CA %.2f%%, ASR %.2f%% (clean model CA %.2f%%), %.1f s\n", done, total,
                       point, (unsigned long long)mr->seed[s],
                       100 * multirun_metric(mr->metrics[p][s], "backdoored_model/ca"),
                       100 * multirun_metric(mr->metrics[p][s], "backdoored_model/asr"),
                       100 * multirun_metric(mr->metrics[p][s], "clean_model/ca"), bl_now() - t);
                fflush(stdout);
            }
        }
    if (st) return st;
    return multirun_finish(cfg, mr, quick, opt->quiet, bl_now() - t0);
}

Status multirun_load(const ExperimentConfig *cfg, MultiRun *mr) {
    for (int p = 0; p < mr->npoints; p++)
        for (int s = 0; s < mr->nseeds; s++) {
            char dir[2300], path[2400];
            multirun_dir(mr, cfg, p, s, dir, sizeof dir);
            snprintf(path, sizeof path, "%s/DONE", dir);
            if (access(path, F_OK) != 0)
                return bl_fail(BL_ERR_DATA, "%s: no finished run (no DONE); run the config first", dir);
            snprintf(path, sizeof path, "%s/metrics.json", dir);
            cJSON_Delete(mr->metrics[p][s]);
            if (!(mr->metrics[p][s] = json_read_file(path)))
                return bl_fail(BL_ERR_DATA, "%s: missing or not JSON", path);
        }
    return BL_OK;
}

Status experiment_run_any(const ExperimentOptions *opt_in) {
    ExperimentOptions scenario = *opt_in;
    scenario.after_done = play_supply_chain;
    const ExperimentOptions *opt = &scenario;
    if (opt->cfg && !config_is_multi(opt->cfg)) return experiment_run(opt);
    ExperimentConfig *cfg = malloc(sizeof *cfg);
    if (!cfg) return bl_fail(BL_ERR_RUN, "out of memory");
    Status st = opt->cfg ? (memcpy(cfg, opt->cfg, sizeof *cfg), BL_OK) : config_load(opt->config_path, cfg);
    if (!st && !config_is_multi(cfg)) {
        ExperimentOptions o = *opt;
        o.cfg = cfg;
        st = experiment_run(&o);
    } else if (!st) {
        if (opt->mode != EXP_RUN) {
            st = bl_fail(BL_ERR_USAGE, "%s: seeds and [sweep] work with `backdoorlab run` (train makes one model)",
                         opt->config_path);
        } else {
            MultiRun *mr = malloc(sizeof *mr);
            if (!mr) st = bl_fail(BL_ERR_RUN, "out of memory");
            else {
                multirun_plan(cfg, opt->out_dir, 0, mr);
                st = multirun_execute(cfg, opt, 0, mr);
                multirun_free(mr);
                free(mr);
            }
        }
    }
    free(cfg);
    return st;
}
