// sweep.h: `backdoorlab sweep CONFIG... --out DIR`: every config's seeds × [sweep] points as numbered tasks, run
// here one after another, or handed to Slurm as job arrays (--slurm), into the same folders either way:
//
//   DIR/tasks.tsv          id, config file, its sha256, seed, sweep point, run folder (one line per task)
//   DIR/sweep.json         how the sweep was planned: configs and hashes, options, working folder, binary,
//                          tasks.tsv's sha256, and every Slurm submission (job id, task ids, offset)
//   DIR/<name>/...         each config's runs, the multirun layout (run/multirun.h): [KEY-VALUE/]seed-N/
//   DIR/sweep.sbatch       (--slurm) the array job script: task OFFSET + $SLURM_ARRAY_TASK_ID
//   DIR/aggregate.sbatch   (--slurm) the aggregation job, run after every array (afterany)
//   DIR/logs/              Slurm's logs (%A_%a.out, aggregate_%j.out) and per-task records: task-ID.started,
//                          task-ID.failed (the error of a task that failed)
//   DIR/README.md, claims.csv, summary.json   the reproduce report, when some configs have [paper]
//   DIR/DONE               last, once the aggregation wrote everything
//
// A task whose run folder has DONE and a manifest.json with this task's training_config_sha256 (and, for a
// [supply_chain] config, supply-chain/DONE) is finished and never run again. DONE markers decide; Slurm's job
// states only inform `--status`. A killed task leaves no DONE (experiment_run writes it last); its rerun gives
// the same bytes, because a run's results depend only on its config and seed.
#ifndef BL_SWEEP_H
#define BL_SWEEP_H

#include "core/core.h"

#define SWEEP_MAX_SBATCH_ARGS 16

typedef struct {
    int quick;           // first seed only, at most [paper] quick_epochs epochs (as `reproduce --quick`)
    int threads;         // local runs: > 0 overrides the configs' threads (with jobs > 1: per task, default
                         // the cores / jobs)
    int jobs;            // local runs: tasks at once, each its own process (<= 1: one after another, in-process)
    int progress;        // local runs: progress bars (TTY)
    int slurm;           // hand the tasks to Slurm instead of running them here
    int dry_run;         // --slurm: write the scripts, print the sbatch commands, submit nothing
    const char *partition, *time, *mem, *account; // sbatch options (NULL = the cluster's default)
    int cpus_per_task;   // sbatch --cpus-per-task, and each task's --threads (default 1)
    int max_parallel;    // array throttle %K (0 = none)
    const char *sbatch_args[SWEEP_MAX_SBATCH_ARGS]; // more #SBATCH lines, verbatim
    int nsbatch_args;
} SweepOptions;

// Plan the sweep of configs into dir (tasks.tsv, sweep.json), then run every task here and aggregate, or submit
// (--slurm). A dir that already holds a sweep must hold this same one (then finished tasks are skipped).
Status sweep_start(const char *const *configs, int nconfigs, const char *dir, const SweepOptions *o);

// `backdoorlab sweep-task DIR ID`: run task ID (skipped when finished). threads > 0 overrides the config's.
Status sweep_task(const char *dir, long id, int threads);

// `backdoorlab sweep --aggregate DIR`: the end of a sweep: each config's summary (and plot), the reproduce
// report for [paper] configs, DIR/DONE. Fails, naming them, when tasks are not finished.
Status sweep_aggregate(const char *dir);

// `backdoorlab sweep --status DIR`: done / running / failed / pending counts; failed tasks named with their log.
Status sweep_status(const char *dir);

// `backdoorlab sweep --resume DIR`: run (or submit, for a Slurm sweep) only the tasks that are not finished and
// not queued, then the aggregation. Refuses when tasks.tsv or a config changed since the sweep was planned.
// o: only dry_run, jobs, threads and progress are taken; the rest comes from sweep.json.
Status sweep_resume(const char *dir, const SweepOptions *o);

#endif
