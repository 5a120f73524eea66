// multirun.h: a config with `seeds = 1,2,3` and/or a [sweep] is several ordinary runs, one per (sweep value, seed),
// each a complete run folder of its own, followed by a summary with mean ± sd over the seeds:
//
//   ROOT/config.resolved.ini        the multi-run config as resolved
//   ROOT/[KEY-VALUE/]seed-N/        one run each (`backdoorlab run` output, DONE included)
//   ROOT/summary.json, summary.md   mean, sd, min, max and per-seed values of the headline metrics, per point
//   ROOT/sweep.csv/.gp/.png         ASR and CA against the swept value (numeric sweeps; the PNG needs gnuplot)
//   ROOT/DONE                       last
#ifndef BL_MULTIRUN_H
#define BL_MULTIRUN_H

#include <cjson/cJSON.h>

#include "io/config.h"
#include "run/experiment.h"

typedef struct {
    int npoints;                           // sweep values (1 without a sweep)
    int nseeds;                            // seeds run at every point
    char value[CONFIG_MAX_SWEEP][32];      // sweep value of each point ("" without a sweep)
    uint64_t seed[CONFIG_MAX_SEEDS];       // the seeds
    char root[2048];                       // folder of the whole set
    cJSON *metrics[CONFIG_MAX_SWEEP][CONFIG_MAX_SEEDS]; // each run's metrics.json once executed (owned)
} MultiRun;

// Whether cfg is several runs (seeds given or a [sweep]).
int config_is_multi(const ExperimentConfig *cfg);

// Lay out the runs of cfg under root (NULL = results/<name>). quick = 1 keeps only the first seed.
void multirun_plan(const ExperimentConfig *cfg, const char *root, int quick, MultiRun *mr);

// Folder of one run.
void multirun_dir(const MultiRun *mr, const ExperimentConfig *cfg, int point, int seed_index, char *out, size_t n);

// The config of one run: the sweep value applied, seed set, seeds/[sweep]/[paper] cleared; quick = 1 trains at
// most [paper] quick_epochs epochs.
Status multirun_config(const ExperimentConfig *cfg, const char *config_path, const MultiRun *mr, int point,
                       int seed_index, int quick, ExperimentConfig *out);

// Run every point and seed (each an experiment_run with opt's threads/progress), then write the summary files
// and DONE. opt->config_path names the multi-run config; opt->out_dir is ignored (mr->root is used). Prints one
// line per run and a summary table unless opt->quiet. mr->metrics is filled.
Status multirun_execute(const ExperimentConfig *cfg, const ExperimentOptions *opt, int quick, MultiRun *mr);

// The pieces of multirun_execute, for `sweep` (run/sweep.h), which runs them as separate tasks:
// begin (root folder, config.resolved.ini, old DONE removed), one run (experiment_run into its folder with the
// supply-chain scenario after it and the first point's clean model offered for reuse; fills mr->metrics[p][s]),
// finish (sweep plot for numeric sweeps, summary.json/.md, DONE; seconds = the time the runs took).
Status multirun_begin(const ExperimentConfig *cfg, const MultiRun *mr);
Status multirun_run_one(const ExperimentConfig *cfg, const ExperimentOptions *opt, int quick, MultiRun *mr, int p,
                        int s);
Status multirun_finish(const ExperimentConfig *cfg, const MultiRun *mr, int quick, int quiet, double seconds);

// Read back the runs of a finished multi-run laid out by multirun_plan (each must have DONE) into mr->metrics,
// without running anything (`reproduce --report-only`).
Status multirun_load(const ExperimentConfig *cfg, MultiRun *mr);

// A number from one run's metrics: `a/b/0` (object keys and array indices; true/false count as 1/0) or
// `A - B`. NAN when a part is missing or not a number.
double multirun_metric(const cJSON *metrics, const char *path);

// Mean and sample standard deviation of x[0..n) (sd 0 for n = 1).
void multirun_mean_sd(const double *x, int n, double *mean, double *sd);

void multirun_free(MultiRun *mr);

// `backdoorlab run CONFIG`: one experiment_run, or the multi-run above when CONFIG has seeds or a [sweep].
Status experiment_run_any(const ExperimentOptions *opt);

#endif
