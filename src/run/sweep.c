// sweep.c: many configs' runs as numbered tasks, here or on Slurm (see sweep.h).
// realpath, gethostname
#undef _POSIX_C_SOURCE
#define _XOPEN_SOURCE 700
#include "run/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/config.h"
#include "io/results.h"
#include "run/experiment.h"
#include "run/multirun.h"
#include "run/reproduce.h"
#include "run/slurm.h"

#define SWEEP_MAX_CONFIGS 256

typedef struct {
    int cfg, point, seed; // which config, and the (point, seed) of its multirun plan
} Task;

typedef struct {
    char out[2048];          // DIR as given, relative to workdir
    char workdir[PATH_MAX];  // where config and data paths are relative to
    int quick;
    int nconfigs;
    const char *path[SWEEP_MAX_CONFIGS]; // config files as given (point into json or the caller's argv)
    char sha[SWEEP_MAX_CONFIGS][65];      // their sha256 now
    ExperimentConfig *cfg;   // [nconfigs]
    MultiRun *mr;            // [nconfigs]: each config's plan, rooted at out/<name>
    int ntasks;
    Task *task;              // [ntasks]
    char *tsv;               // tasks.tsv as planned from the configs now
    cJSON *json;             // sweep.json
} Sweep;

static void sweep_free(Sweep *sw) {
    if (sw->mr)
        for (int i = 0; i < sw->nconfigs; i++) multirun_free(&sw->mr[i]);
    free(sw->cfg);
    free(sw->mr);
    free(sw->task);
    free(sw->tsv);
    cJSON_Delete(sw->json);
    memset(sw, 0, sizeof *sw);
}

static void join(char *out, size_t n, const char *a, const char *b) { snprintf(out, n, "%s/%s", a, b); }

static int exists(const char *path) { return access(path, F_OK) == 0; }

// Plan: load every config (all checked before anything runs), lay out its runs under out/<name>, number the
// tasks config by config, point by point, seed by seed, and write the tasks.tsv text.
static Status plan(Sweep *sw, const char *const *configs, int n, const char *out, int quick) {
    if (n <= 0) return bl_fail(BL_ERR_USAGE, "no config given: a sweep with no task (e.g. experiments/papers/*.ini)");
    if (n > SWEEP_MAX_CONFIGS) return bl_fail(BL_ERR_USAGE, "more than %d configs in one sweep", SWEEP_MAX_CONFIGS);
    snprintf(sw->out, sizeof sw->out, "%s", out);
    sw->quick = quick;
    sw->nconfigs = n;
    sw->cfg = calloc((size_t)n, sizeof *sw->cfg);
    sw->mr = calloc((size_t)n, sizeof *sw->mr);
    if (!sw->cfg || !sw->mr) return bl_fail(BL_ERR_RUN, "out of memory");
    int total = 0;
    for (int i = 0; i < n; i++) {
        sw->path[i] = configs[i];
        Status st = config_load(configs[i], &sw->cfg[i]);
        if (!st) st = sha256_file_hex(configs[i], sw->sha[i]);
        if (st) return st;
        for (int j = 0; j < i; j++)
            if (!strcmp(sw->cfg[i].experiment.name, sw->cfg[j].experiment.name))
                return bl_fail(BL_ERR_USAGE, "%s and %s have the same experiment name '%s'; their runs would mix",
                               configs[j], configs[i], sw->cfg[i].experiment.name);
        char root[2048 + CONFIG_NAME_MAX];
        snprintf(root, sizeof root, "%s/%s", out, sw->cfg[i].experiment.name);
        if (strlen(root) >= sizeof sw->mr[i].root) return bl_fail(BL_ERR_USAGE, "%s: path too long", root);
        multirun_plan(&sw->cfg[i], root, quick, &sw->mr[i]);
        total += sw->mr[i].npoints * sw->mr[i].nseeds;
    }
    sw->task = calloc((size_t)total, sizeof *sw->task);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!sw->task || !f) {
        if (f) fclose(f);
        free(text);
        return bl_fail(BL_ERR_RUN, "out of memory");
    }
    fprintf(f, "# id\tconfig\tconfig_sha256\tseed\tpoint\trun_folder\n");
    for (int i = 0; i < n; i++)
        for (int p = 0; p < sw->mr[i].npoints; p++)
            for (int s = 0; s < sw->mr[i].nseeds; s++) {
                char dir[2300], point[CONFIG_NAME_MAX + 40] = "-";
                multirun_dir(&sw->mr[i], &sw->cfg[i], p, s, dir, sizeof dir);
                if (sw->cfg[i].sweep.enabled)
                    snprintf(point, sizeof point, "%s.%s=%s", sw->cfg[i].sweep.section, sw->cfg[i].sweep.key,
                             sw->mr[i].value[p]);
                fprintf(f, "%d\t%s\t%s\t%llu\t%s\t%s\n", sw->ntasks, configs[i], sw->sha[i],
                        (unsigned long long)sw->mr[i].seed[s], point, dir);
                sw->task[sw->ntasks++] = (Task){i, p, s};
            }
    fclose(f);
    sw->tsv = text;
    if (!sw->ntasks) return bl_fail(BL_ERR_USAGE, "a sweep with no task");
    return BL_OK;
}

// ---------------------------------------------------------------------------------------------- sweep.json

static Status save_json(const Sweep *sw) {
    char path[2200];
    join(path, sizeof path, sw->out, "sweep.json");
    return json_write_atomic(path, sw->json);
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

// Open the sweep in dir: read sweep.json, move to its working folder, and check that neither tasks.tsv nor any
// config changed since it was planned (strict), then plan again from the configs. Not strict (--status): a change
// is printed and the plan made from tasks.tsv's folders alone is not available (sw->cfg NULL).
static Status sweep_open(const char *dir, int strict, Sweep *sw) {
    memset(sw, 0, sizeof *sw);
    char path[PATH_MAX + 32], abs[PATH_MAX];
    if (!realpath(dir, abs)) return bl_fail(BL_ERR_USAGE, "%s: no such sweep folder", dir);
    join(path, sizeof path, abs, "sweep.json");
    if (!(sw->json = json_read_file(path)))
        return bl_fail(BL_ERR_DATA, "%s: missing or not JSON (not a folder written by `backdoorlab sweep`)", path);
    const char *work = jstr(sw->json, "workdir"), *out = jstr(sw->json, "out"), *tsv_sha = jstr(sw->json, "tasks_sha256");
    const cJSON *configs = cJSON_GetObjectItemCaseSensitive(sw->json, "configs");
    if (!work || !out || !tsv_sha || !cJSON_IsArray(configs) || cJSON_GetArraySize(configs) < 1 ||
        cJSON_GetArraySize(configs) > SWEEP_MAX_CONFIGS)
        return bl_fail(BL_ERR_DATA, "%s: not a sweep description (workdir, out, tasks_sha256, configs)", path);
    if (chdir(work) != 0)
        return bl_fail(BL_ERR_RUN, "%s: cannot enter the sweep's working folder %s: %s (configs and data paths are "
                       "relative to it; on a cluster it must be on a shared filesystem)", path, work, strerror(errno));
    snprintf(sw->workdir, sizeof sw->workdir, "%s", work);
    // out must be this folder, seen from the working folder
    char here[PATH_MAX];
    if (!realpath(out, here) || strcmp(here, abs))
        return bl_fail(BL_ERR_DATA, "%s: records the sweep folder as %s/%s, which is not %s", path, work, out, abs);
    char tsv_path[2200], now[65];
    join(tsv_path, sizeof tsv_path, out, "tasks.tsv");
    Status st = sha256_file_hex(tsv_path, now);
    if (st) return bl_fail(BL_ERR_DATA, "%s: cannot read the task list", tsv_path);
    if (strcmp(now, tsv_sha))
        return bl_fail(BL_ERR_USAGE, "%s changed since the sweep was planned (sha256 %.12s…, recorded %.12s…): "
                       "plan a new sweep in a new folder", tsv_path, now, tsv_sha);
    const char *paths[SWEEP_MAX_CONFIGS];
    int n = 0, changed = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, configs) {
        const char *p = jstr(c, "path"), *sha = jstr(c, "sha256");
        if (!p || !sha) return bl_fail(BL_ERR_DATA, "%s: a config without path or sha256", path);
        char cur[65];
        if (sha256_file_hex(p, cur) != BL_OK || strcmp(cur, sha)) {
            bl_fail(BL_ERR_USAGE, "%s changed since the sweep was planned (%s): resuming would mix the results of "
                    "two configs; plan a new sweep in a new folder", p, exists(p) ? "its sha256 differs" : "it is gone");
            if (strict) return BL_ERR_USAGE;
            fprintf(stderr, "backdoorlab sweep: warning: %s\n", bl_errmsg());
            changed = 1;
        }
        paths[n++] = p;
    }
    int quick = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(sw->json, "quick"));
    if (changed) return BL_OK; // status only: no plan from changed configs
    cJSON *keep = sw->json;
    sw->json = NULL;
    st = plan(sw, paths, n, out, quick);
    sw->json = keep;
    if (st) return st;
    size_t len = 0;
    char *disk = read_file_bytes(tsv_path, 1L << 30, &len);
    int same = disk && len == strlen(sw->tsv) && !memcmp(disk, sw->tsv, len);
    free(disk);
    if (!same)
        return bl_fail(BL_ERR_USAGE, "%s: the configs now expand into other tasks than this list (a different "
                       "backdoorlab version?); plan a new sweep in a new folder", tsv_path);
    return BL_OK;
}

// ---------------------------------------------------------------------------------------------- one task

// Whether task t is finished: DONE, a manifest with this run's identity, supply-chain/DONE when configured.
static int task_finished(const Sweep *sw, int t, char *why, size_t why_n) {
    const Task *k = &sw->task[t];
    char dir[2300], path[2400];
    multirun_dir(&sw->mr[k->cfg], &sw->cfg[k->cfg], k->point, k->seed, dir, sizeof dir);
    snprintf(why, why_n, "no DONE");
    join(path, sizeof path, dir, "DONE");
    if (!exists(path)) return 0;
    ExperimentConfig *one = malloc(sizeof *one);
    char want[65] = "";
    int ok = one && !multirun_config(&sw->cfg[k->cfg], sw->path[k->cfg], &sw->mr[k->cfg], k->point, k->seed,
                                     sw->quick, one) &&
             !experiment_config_identity(one, want);
    int chain = ok && one->supply_chain.enabled;
    free(one);
    bl_clear_error();
    join(path, sizeof path, dir, "manifest.json");
    cJSON *m = json_read_file(path);
    const char *got = jstr(m, "training_config_sha256");
    ok = ok && got && !strcmp(got, want);
    cJSON_Delete(m);
    if (!ok) {
        snprintf(why, why_n, "DONE, but its manifest.json is not this task's config");
        return 0;
    }
    join(path, sizeof path, dir, "supply-chain/DONE");
    if (chain && !exists(path)) {
        snprintf(why, why_n, "no supply-chain/DONE");
        return 0;
    }
    return 1;
}

static void record_path(const Sweep *sw, int t, const char *what, char *out, size_t n) {
    snprintf(out, n, "%s/logs/task-%d.%s", sw->out, t, what);
}

// Run task t here (skipped when finished; returns 1 then). Leaves logs/task-T.started (who runs it) and, on
// failure, logs/task-T.failed (the error).
static Status run_task_locked(Sweep *sw, int t, int threads, int progress);

static Status run_task(Sweep *sw, int t, int threads, int progress, int *skipped) {
    char why[128], path[2200], logs[2200];
    *skipped = task_finished(sw, t, why, sizeof why);
    if (*skipped) return BL_OK; // the common case on a resumed sweep: no file touched
    join(logs, sizeof logs, sw->out, "logs");
    Status st = ensure_dir(logs);
    if (st) return st;
    // one process per task: two writing one folder could interleave their files. A POSIX record lock (NFS
    // has them through lockd) dies with its process, so a killed task never leaves the task locked.
    record_path(sw, t, "lock", path, sizeof path);
    int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (lock < 0) return bl_fail(BL_ERR_RUN, "%s: %s", path, strerror(errno));
    if (fcntl(lock, F_SETLK, &fl) != 0) {
        close(lock);
        return bl_fail(BL_ERR_RUN, "task %d is being run by another process right now (%s is locked)", t, path);
    }
    *skipped = task_finished(sw, t, why, sizeof why); // it may have finished while we waited to get here
    st = *skipped ? BL_OK : run_task_locked(sw, t, threads, progress);
    close(lock); // releases the lock
    return st;
}

static Status run_task_locked(Sweep *sw, int t, int threads, int progress) {
    const Task *k = &sw->task[t];
    char path[2200];
    Status st;
    record_path(sw, t, "failed", path, sizeof path);
    unlink(path);
    char host[256] = "", rec[512];
    gethostname(host, sizeof host - 1);
    const char *job = getenv("SLURM_ARRAY_JOB_ID"), *idx = getenv("SLURM_ARRAY_TASK_ID");
    snprintf(rec, sizeof rec, "pid=%ld host=%s slurm_job=%s slurm_index=%s\n", (long)getpid(), host,
             job ? job : "-", idx ? idx : "-");
    record_path(sw, t, "started", path, sizeof path);
    if ((st = write_file_atomic(path, rec, strlen(rec)))) return st;
    ExperimentOptions o = {.mode = EXP_RUN, .config_path = sw->path[k->cfg], .threads = threads,
                           .progress = progress, .quiet = 1};
    st = multirun_run_one(&sw->cfg[k->cfg], &o, sw->quick, &sw->mr[k->cfg], k->point, k->seed);
    if (st) {
        char msg[1200];
        snprintf(msg, sizeof msg, "exit %d: %s\n", (int)st, bl_errmsg());
        record_path(sw, t, "failed", path, sizeof path);
        write_file_atomic(path, msg, strlen(msg)); // best effort: the task's own error is what matters
        msg[strcspn(msg, "\n")] = 0;
        bl_fail(st, "%s", msg);
    }
    return st;
}

Status sweep_task(const char *dir, long id, int threads) {
    Sweep sw;
    Status st = sweep_open(dir, 1, &sw);
    if (!st && (id < 0 || id >= sw.ntasks))
        st = bl_fail(BL_ERR_USAGE, "task %ld: out of range (this sweep has tasks 0..%d)", id, sw.ntasks - 1);
    int skipped = 0;
    double t0 = bl_now();
    if (!st) st = run_task(&sw, (int)id, threads, 0, &skipped);
    if (!st) {
        const Task *k = &sw.task[id];
        char d[2300];
        multirun_dir(&sw.mr[k->cfg], &sw.cfg[k->cfg], k->point, k->seed, d, sizeof d);
        if (skipped) printf("task %ld: %s is finished (DONE, matching manifest): skipped\n", id, d);
        else printf("task %ld: %s done in %.1f s\n", id, d, bl_now() - t0);
    }
    sweep_free(&sw);
    return st;
}

// ---------------------------------------------------------------------------------------------- aggregation

static double run_seconds(const cJSON *metrics) {
    double s = multirun_metric(metrics, "timing/total_seconds");
    return s == s ? s : 0;
}

Status sweep_aggregate(const char *dir) {
    Sweep sw;
    Status st = sweep_open(dir, 1, &sw);
    char path[2200];
    if (!st) {
        join(path, sizeof path, sw.out, "DONE");
        if (unlink(path) != 0 && errno != ENOENT) st = bl_fail(BL_ERR_RUN, "%s: cannot remove", path);
    }
    // every task finished, or a list of those that are not
    int missing = 0;
    char list[1024] = "";
    for (int t = 0; !st && t < sw.ntasks; t++) {
        char why[128];
        if (task_finished(&sw, t, why, sizeof why)) continue;
        if (missing++ < 8) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d (%s)", missing > 1 ? ", " : "", t, why);
    }
    if (!st && missing)
        st = bl_fail(BL_ERR_RUN, "%d of %d task(s) not finished: %s%s; see `backdoorlab sweep --status %s`, then "
                     "`--resume`", missing, sw.ntasks, list, missing > 8 ? ", ..." : "", dir);
    const char *papers[SWEEP_MAX_CONFIGS];
    int npapers = 0;
    for (int i = 0; !st && i < sw.nconfigs; i++) {
        MultiRun *mr = &sw.mr[i];
        if ((st = multirun_load(&sw.cfg[i], mr))) break;
        double seconds = 0; // compute time of the runs (they may have run in parallel)
        for (int p = 0; p < mr->npoints; p++)
            for (int s = 0; s < mr->nseeds; s++) seconds += run_seconds(mr->metrics[p][s]);
        if ((st = multirun_finish(&sw.cfg[i], mr, sw.quick, 0, seconds))) break;
        if (sw.cfg[i].paper.enabled) papers[npapers++] = sw.path[i];
    }
    ReproduceTally tally = {0};
    if (!st && npapers) {
        ReproduceOptions ro = {.quick = sw.quick, .quiet = 0, .report_only = 1, .out = sw.out};
        st = reproduce_run(papers, npapers, &ro, &tally);
    }
    // the report exists even when claims failed: that is a verdict, not a missing result
    if ((!st || (npapers && tally.failed)) && sw.ntasks && !missing) {
        Status done = write_done_marker(sw.out);
        if (!st) st = done;
    }
    if (!st) printf("sweep %s: %d task(s) aggregated%s\n", dir, sw.ntasks, npapers ? "; report in README.md" : "");
    sweep_free(&sw);
    return st;
}

// ---------------------------------------------------------------------------------------------- Slurm

// 'text' for sh, quotes inside escaped.
static void sh_quote(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'') fputs("'\\''", f);
        else fputc(*s, f);
    fputc('\'', f);
}

// The #SBATCH lines both scripts share: the options given to `sweep --slurm`.
static void sbatch_common(FILE *f, const cJSON *sl) {
    const char *keys[] = {"partition", "time", "mem", "account"};
    for (int i = 0; i < 4; i++)
        if (jstr(sl, keys[i])) fprintf(f, "#SBATCH --%s=%s\n", keys[i], jstr(sl, keys[i]));
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(sl, "sbatch_args"))
        if (cJSON_IsString(a)) fprintf(f, "#SBATCH %s\n", a->valuestring);
}

// DIR/sweep.sbatch and DIR/aggregate.sbatch, from sweep.json.
static Status write_scripts(const Sweep *sw, int ntasks_first_array, int max_array) {
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(sw->json, "slurm");
    const char *bin = jstr(sw->json, "binary");
    int cpus = (int)jnum(sl, "cpus_per_task", 1), k = (int)jnum(sl, "max_parallel", 0);
    char abs[PATH_MAX], path[2200];
    if (!realpath(sw->out, abs)) return bl_fail(BL_ERR_RUN, "%s: %s", sw->out, strerror(errno));
    for (int which = 0; which < 2; which++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f) return bl_fail(BL_ERR_RUN, "out of memory");
        fprintf(f, "#!/bin/sh\n");
        if (!which) {
            fprintf(f, "# backdoorlab sweep: one array task = one run. Submitted by `backdoorlab sweep --slurm` as\n"
                       "#   sbatch --array=IDS sweep.sbatch OFFSET\n"
                       "# task id = OFFSET + SLURM_ARRAY_TASK_ID (MaxArraySize %d caps the index, so a larger sweep is\n"
                       "# several arrays). The --array line below is the first array's; the command line overrides it.\n"
                       "#SBATCH --job-name=backdoorlab-sweep\n#SBATCH --array=0-%d%s",
                    max_array, ntasks_first_array - 1, k > 0 ? "%" : "");
            if (k > 0) fprintf(f, "%d", k);
            fprintf(f, "\n#SBATCH --output=%s/logs/%%A_%%a.out\n#SBATCH --cpus-per-task=%d\n", abs, cpus);
        } else {
            fprintf(f, "# backdoorlab sweep: the aggregation, submitted with --dependency=afterany:<every array job>\n"
                       "# --kill-on-invalid-dep=yes. Writes each config's summary, the reproduce report, DONE.\n"
                       "#SBATCH --job-name=backdoorlab-aggregate\n#SBATCH --output=%s/logs/aggregate_%%j.out\n"
                       "#SBATCH --cpus-per-task=1\n", abs);
        }
        sbatch_common(f, sl);
        fprintf(f, "cd ");
        sh_quote(f, sw->workdir);
        fprintf(f, " || exit 1\n");
        if (!which) {
            fprintf(f, "exec ");
            sh_quote(f, bin);
            fputc(' ', f);
            fprintf(f, "sweep-task ");
            sh_quote(f, abs);
            fprintf(f, " $((${1:-0} + SLURM_ARRAY_TASK_ID)) --threads \"${SLURM_CPUS_PER_TASK:-1}\"\n");
        } else {
            fprintf(f, "exec ");
            sh_quote(f, bin);
            fprintf(f, " sweep --aggregate ");
            sh_quote(f, abs);
            fputc('\n', f);
        }
        fclose(f);
        join(path, sizeof path, sw->out, which ? "aggregate.sbatch" : "sweep.sbatch");
        Status st = text ? write_file_atomic(path, text, len) : bl_fail(BL_ERR_RUN, "out of memory");
        free(text);
        if (st) return st;
    }
    return BL_OK;
}

// "0-2,5,7-8": ids[0..n) (ascending) minus offset, as an --array list.
static void array_spec(const int *ids, int n, int offset, char *out, size_t cap) {
    out[0] = 0;
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && ids[j + 1] == ids[j] + 1) j++;
        size_t l = strlen(out);
        if (j > i) snprintf(out + l, cap - l, "%s%d-%d", l ? "," : "", ids[i] - offset, ids[j] - offset);
        else snprintf(out + l, cap - l, "%s%d", l ? "," : "", ids[i] - offset);
        i = j + 1;
    }
}

// Submit tasks ids[0..n) (ascending) as arrays split at MaxArraySize, then the aggregation after them and after
// the jobs in wait_for (":J1:J2", tasks of an earlier submission still queued; "" for none).
static Status submit(Sweep *sw, const int *ids, int n, const char *wait_for, int dry_run) {
    Status st = BL_OK;
    if (!dry_run && (st = slurm_require("sbatch"))) return st;
    int max_array = 1001;
    if ((st = slurm_max_array_size(&max_array))) {
        if (!dry_run) return st;
        fprintf(stderr, "backdoorlab sweep: %s; --dry-run assumes MaxArraySize = 1001\n", bl_errmsg());
        bl_clear_error();
        st = BL_OK;
    }
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(sw->json, "slurm");
    int k = (int)jnum(sl, "max_parallel", 0);
    int first = 0;
    while (first < n && ids[first] / max_array == ids[0] / max_array) first++;
    char logs[2200];
    join(logs, sizeof logs, sw->out, "logs"); // sbatch does not create the folder of --output: without it a task dies
    if ((st = ensure_dir(logs))) return st;
    if ((st = write_scripts(sw, n ? ids[first - 1] + 1 - (ids[0] / max_array) * max_array : 1, max_array)))
        return st;
    char abs[PATH_MAX], script[PATH_MAX + 32], agg[PATH_MAX + 32];
    if (!realpath(sw->out, abs)) return bl_fail(BL_ERR_RUN, "%s: %s", sw->out, strerror(errno));
    join(script, sizeof script, abs, "sweep.sbatch");
    join(agg, sizeof agg, abs, "aggregate.sbatch");
    cJSON *subs = cJSON_GetObjectItemCaseSensitive(sw->json, "submissions");
    if (!subs) subs = cJSON_AddArrayToObject(sw->json, "submissions");
    char deps[4096];
    snprintf(deps, sizeof deps, "%s", wait_for);
    int arrays = 0;
    for (int i = 0; i < n && !st;) {
        int offset = (ids[i] / max_array) * max_array, j = i;
        while (j < n && ids[j] / max_array * max_array == offset) j++;
        char spec[8192], arg_array[8300], arg_off[32], job[32] = "";
        array_spec(ids + i, j - i, offset, spec, sizeof spec);
        if (k > 0) snprintf(arg_array, sizeof arg_array, "--array=%s%%%d", spec, k);
        else snprintf(arg_array, sizeof arg_array, "--array=%s", spec);
        snprintf(arg_off, sizeof arg_off, "%d", offset);
        char *args[] = {arg_array, script, arg_off};
        printf("sbatch --parsable %s %s %s", arg_array, script, arg_off);
        if (dry_run) {
            snprintf(job, sizeof job, "<array job %d>", arrays + 1);
            printf("   (dry run: not submitted)\n");
        } else if (!(st = slurm_sbatch(args, 3, job))) {
            printf("   -> job %s\n", job);
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "job", job);
            cJSON_AddNumberToObject(s, "offset", offset);
            cJSON_AddItemToObject(s, "tasks", cJSON_CreateIntArray(ids + i, j - i));
            cJSON_AddItemToArray(subs, s);
            st = save_json(sw); // before the next sbatch: what was submitted is on record whatever follows
        }
        snprintf(deps + strlen(deps), sizeof deps - strlen(deps), ":%s", job);
        arrays++;
        i = j;
    }
    if (st) {
        printf("\n");
        return st;
    }
    char dep[4200], job[32] = "";
    snprintf(dep, sizeof dep, "--dependency=afterany%s", deps);
    char *aargs[] = {dep, "--kill-on-invalid-dep=yes", agg};
    char **a = deps[0] ? aargs : aargs + 2; // nothing to wait for: the aggregation alone
    int na = deps[0] ? 3 : 1;
    printf("sbatch --parsable");
    for (int i = 0; i < na; i++) printf(" %s", a[i]);
    if (dry_run) {
        printf("   (dry run: not submitted)\n");
        printf("dry run: %d task(s) in %d array(s) (MaxArraySize %d); scripts in %s/\n", n, arrays, max_array, sw->out);
        return BL_OK;
    }
    // an earlier aggregation still waiting would run beside the new one: cancel it if it has not started
    const cJSON *old;
    cJSON_ArrayForEach(old, cJSON_GetObjectItemCaseSensitive(sw->json, "aggregate_jobs")) {
        char o1[256], e1[256];
        int code;
        char *cancel[] = {"scancel", "--state=PENDING", old->valuestring, NULL};
        if (cJSON_IsString(old) && slurm_exec(cancel, o1, sizeof o1, e1, sizeof e1, &code) != BL_OK) bl_clear_error();
    }
    if ((st = slurm_sbatch(a, na, job))) {
        printf("\n");
        return st;
    }
    printf("   -> job %s\n", job);
    cJSON *aj = cJSON_GetObjectItemCaseSensitive(sw->json, "aggregate_jobs");
    if (!aj) aj = cJSON_AddArrayToObject(sw->json, "aggregate_jobs");
    cJSON_AddItemToArray(aj, cJSON_CreateString(job));
    if ((st = save_json(sw))) return st;
    printf("submitted %d task(s) in %d array job(s) and the aggregation (job %s). Follow with `backdoorlab sweep "
           "--status %s`; logs in %s/logs/\n", n, arrays, job, sw->out, sw->out);
    return BL_OK;
}

// ---------------------------------------------------------------------------------------------- status

typedef enum { T_DONE, T_RUNNING, T_FAILED, T_PENDING } TaskState;

// The latest Slurm submission of task t: its job id and array index (0 when never submitted).
static int task_submission(const Sweep *sw, int t, const char **job, int *index) {
    int found = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sw->json, "submissions")) {
        const cJSON *id;
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(s, "tasks"))
            if (cJSON_IsNumber(id) && (int)id->valuedouble == t) {
                *job = jstr(s, "job");
                *index = t - (int)jnum(s, "offset", 0);
                found = *job != NULL;
            }
    }
    return found;
}

// Slurm's state of JOB_INDEX in states ("JOB_INDEX STATE" lines), or NULL; the last line wins.
static const char *slurm_state(const char *states, const char *job, int index, char *buf, size_t n) {
    char key[64];
    snprintf(key, sizeof key, "%s_%d ", job, index);
    const char *hit = NULL;
    for (const char *p = states; (p = strstr(p, key)); p++)
        if (p == states || p[-1] == '\n') hit = p + strlen(key);
    if (!hit) return NULL;
    snprintf(buf, n, "%.*s", (int)strcspn(hit, " \n+"), hit);
    return buf;
}

static TaskState task_state(const Sweep *sw, int t, const char *states, char *detail, size_t n) {
    char why[128], path[2200];
    if (task_finished(sw, t, why, sizeof why)) return T_DONE;
    const char *job = NULL;
    int index = 0, submitted = task_submission(sw, t, &job, &index);
    char sbuf[64];
    const char *state = submitted ? slurm_state(states, job, index, sbuf, sizeof sbuf) : NULL;
    if (state && (!strcmp(state, "RUNNING") || !strcmp(state, "COMPLETING") || !strcmp(state, "CONFIGURING"))) {
        snprintf(detail, n, "Slurm job %s_%d %s", job, index, state);
        return T_RUNNING;
    }
    if (state && (!strcmp(state, "PENDING") || !strcmp(state, "REQUEUED") || !strcmp(state, "SUSPENDED"))) {
        snprintf(detail, n, "Slurm job %s_%d %s", job, index, state);
        return T_PENDING;
    }
    char log[PATH_MAX + 64] = "";
    long pid = 0;
    char host[256] = "", sjob[64] = "", sidx[32] = "";
    record_path(sw, t, "started", path, sizeof path);
    char *rec = read_text_file(path, 4096);
    int started = rec && sscanf(rec, "pid=%ld host=%255s slurm_job=%63s slurm_index=%31s", &pid, host, sjob, sidx) == 4;
    free(rec);
    if (started && strcmp(sjob, "-")) snprintf(log, sizeof log, "; log %s/logs/%s_%s.out", sw->out, sjob, sidx);
    record_path(sw, t, "failed", path, sizeof path);
    char *failed = read_text_file(path, 1024);
    if (failed) {
        failed[strcspn(failed, "\n")] = 0;
        snprintf(detail, n, "failed: %s%s", failed, log);
        free(failed);
        return T_FAILED;
    }
    // a process holding the task's lock is running it, wherever it is (Slurm's answer may be missing or late)
    record_path(sw, t, "lock", path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int held = fd >= 0 && fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    if (fd >= 0) close(fd);
    if (held) {
        snprintf(detail, n, "running (pid %ld on %s%s%s)", pid, host, strcmp(sjob, "-") ? ", Slurm job " : "",
                 strcmp(sjob, "-") ? sjob : "");
        return T_RUNNING;
    }
    if (!started && submitted && !state) {
        snprintf(detail, n, "submitted, never started, no longer queued (see %.1000s/logs/)", sw->out);
        return T_FAILED;
    }
    if (started) {
        snprintf(detail, n, "ended without DONE (killed, cancelled, timed out or its node failed%s%s)%s",
                 state ? "; Slurm: " : "", state ? state : "", log);
        return T_FAILED;
    }
    if (state) { // a finished state but never started (e.g. cancelled while pending)
        snprintf(detail, n, "never ran (Slurm job %s_%d %s)", job, index, state);
        return T_FAILED;
    }
    snprintf(detail, n, "%s", submitted ? "submitted" : "not run yet");
    return T_PENDING;
}

// Job ids of every submission, for squeue/sacct.
static int submission_jobs(const Sweep *sw, const char **jobs, int cap) {
    int n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sw->json, "submissions"))
        if (n < cap && jstr(s, "job")) jobs[n++] = jstr(s, "job");
    return n;
}

Status sweep_status(const char *dir) {
    Sweep sw;
    Status st = sweep_open(dir, 0, &sw);
    if (!st && !sw.cfg)
        st = bl_fail(BL_ERR_USAGE, "%s: a config changed since the sweep was planned, so its tasks cannot be "
                     "checked against it (see the warning above)", dir);
    if (st) {
        sweep_free(&sw);
        return st;
    }
    const char *jobs[512];
    int njobs = submission_jobs(&sw, jobs, 512);
    char *states = njobs ? slurm_task_states(jobs, njobs) : NULL;
    int count[4] = {0};
    char *failed = NULL;
    size_t failed_n = 0;
    FILE *f = open_memstream(&failed, &failed_n);
    // the code revisions of the finished runs: a config is checked by its hash, the code only shown here
    char rev[8][100];
    int rev_n[8] = {0}, nrev = 0;
    for (int t = 0; t < sw.ntasks; t++) {
        char detail[1600] = "";
        TaskState s = task_state(&sw, t, states ? states : "", detail, sizeof detail);
        count[s]++;
        if (s == T_DONE) {
            const Task *k = &sw.task[t];
            char d[2300], path[2400];
            multirun_dir(&sw.mr[k->cfg], &sw.cfg[k->cfg], k->point, k->seed, d, sizeof d);
            join(path, sizeof path, d, "manifest.json");
            cJSON *m = json_read_file(path);
            const char *r = jstr(m, "git_revision") ? jstr(m, "git_revision") : "unknown";
            int i = 0;
            while (i < nrev && strcmp(rev[i], r)) i++;
            if (i == nrev && nrev < 8) snprintf(rev[nrev++], sizeof rev[0], "%s", r);
            if (i < nrev) rev_n[i]++;
            cJSON_Delete(m);
        }
        if (s == T_FAILED && f) {
            const Task *k = &sw.task[t];
            char d[2300];
            multirun_dir(&sw.mr[k->cfg], &sw.cfg[k->cfg], k->point, k->seed, d, sizeof d);
            fprintf(f, "  task %d (%s): %s\n", t, d, detail);
        }
    }
    if (f) fclose(f);
    char done[2200];
    join(done, sizeof done, sw.out, "DONE");
    printf("sweep %s: %d task(s): %d done, %d running, %d failed, %d pending; aggregation %s\n", dir, sw.ntasks,
           count[T_DONE], count[T_RUNNING], count[T_FAILED], count[T_PENDING],
           exists(done) ? "done (DONE)" : "not done yet");
    if (nrev > 1) { // results of several code versions in one sweep: say so, the researcher decides
        printf("finished runs come from %d code revisions:", nrev);
        for (int i = 0; i < nrev; i++) printf(" %s (%d)", rev[i], rev_n[i]);
        printf("; to redo them with one, start a new sweep folder\n");
    }
    if (count[T_FAILED]) printf("failed (rerun them with `backdoorlab sweep --resume %s`):\n%s", dir, failed);
    if (njobs && states && !*states && count[T_DONE] < sw.ntasks)
        printf("(Slurm knows none of this sweep's jobs any more: states from DONE markers and task records)\n");
    free(failed);
    free(states);
    sweep_free(&sw);
    return BL_OK;
}

// ---------------------------------------------------------------------------------------------- start, resume

// Submit the tasks that are neither finished nor queued or running (those are left alone, and the new
// aggregation waits for them too).
static Status submit_remaining(Sweep *sw, const char *dir, int dry_run) {
    Status st = BL_OK;
    const char *jobs[512];
    int njobs = submission_jobs(sw, jobs, 512);
    char *states = njobs ? slurm_task_states(jobs, njobs) : NULL;
    int *ids = malloc(sizeof *ids * (size_t)sw->ntasks), n = 0, live = 0, done = 0;
    char wait_for[4096] = "";
    if (!ids) st = bl_fail(BL_ERR_RUN, "out of memory");
    for (int t = 0; !st && t < sw->ntasks; t++) {
        char detail[1600];
        TaskState s = task_state(sw, t, states ? states : "", detail, sizeof detail);
        const char *job = NULL;
        int index = 0;
        if (s == T_DONE) {
            done++;
            continue;
        }
        int submitted = task_submission(sw, t, &job, &index);
        int queued = s == T_RUNNING || (submitted && s == T_PENDING && strstr(detail, "Slurm job"));
        if (!queued) {
            ids[n++] = t;
            continue;
        }
        live++;
        if (!job) continue; // running outside Slurm (a sweep-task by hand): nothing to wait for by job id
        char key[48], padded[4100];
        snprintf(key, sizeof key, ":%s:", job);
        snprintf(padded, sizeof padded, "%s:", wait_for); // ":12:" must not match inside ":123:"
        if (!strstr(padded, key))
            snprintf(wait_for + strlen(wait_for), sizeof wait_for - strlen(wait_for), ":%s", job);
    }
    free(states);
    if (!st)
        printf("sweep %s: %d task(s) to submit, %d finished, %d still queued or running (left alone)\n", dir, n, done,
               live);
    if (!st && live && !n)
        printf("nothing to submit; the aggregation already waits for the queued tasks\n");
    else if (!st)
        st = submit(sw, ids, n, wait_for, dry_run);
    free(ids);
    return st;
}



// Run every unfinished task here, then aggregate. Continues past a failed task so that one bad run does not cost
// the others; fails at the end naming them.
// The result line of a finished task.
static void print_task_line(const Sweep *sw, int t, const cJSON *m, double seconds) {
    const Task *k = &sw->task[t];
    char d[2300];
    multirun_dir(&sw->mr[k->cfg], &sw->cfg[k->cfg], k->point, k->seed, d, sizeof d);
    printf("[%d/%d] %s: CA %.2f%%, ASR %.2f%% (clean model: CA %.2f%%, ASR %.2f%%), %.1f s\n", t + 1, sw->ntasks, d,
           100 * multirun_metric(m, "backdoored_model/ca"), 100 * multirun_metric(m, "backdoored_model/asr"),
           100 * multirun_metric(m, "clean_model/ca"), 100 * multirun_metric(m, "clean_model/asr"), seconds);
}

// Start `backdoorlab sweep-task ABSDIR T --threads N` with its output in logs/task-T.out.
static pid_t spawn_task(const Sweep *sw, const char *bin, const char *abs, int t, int threads) {
    char id[16], th[16], log[2300];
    snprintf(id, sizeof id, "%d", t);
    snprintf(th, sizeof th, "%d", threads);
    record_path(sw, t, "out", log, sizeof log);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        char *argv[] = {(char *)bin, "sweep-task", (char *)abs, id, "--threads", th, NULL};
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

// --jobs N: N tasks at a time, each its own `sweep-task` process (a crash costs one task, and processes scale
// where threads on 2 cores give 1.5x). The same bytes as one after another: a run depends on its config alone.
static Status run_parallel(Sweep *sw, int jobs, int threads, int *ran, int *skipped_n, int *failed, char *list,
                           size_t list_n) {
    char bin[PATH_MAX], abs[PATH_MAX], logs[2200];
    if (!realpath("/proc/self/exe", bin) || !realpath(sw->out, abs))
        return bl_fail(BL_ERR_RUN, "cannot resolve this program's or the sweep's path");
    join(logs, sizeof logs, sw->out, "logs");
    Status st = ensure_dir(logs);
    if (st) return st;
    if (threads <= 0) threads = bl_max_threads() / jobs > 0 ? bl_max_threads() / jobs : 1;
    pid_t pid[64];
    int task[64], running = 0, next = 0;
    double start[64];
    if (jobs > 64) jobs = 64;
    while (next < sw->ntasks || running) {
        while (running < jobs && next < sw->ntasks) {
            int t = next++;
            char why[128];
            if (task_finished(sw, t, why, sizeof why)) {
                (*skipped_n)++;
                printf("[%d/%d] task %d: finished earlier, skipped\n", t + 1, sw->ntasks, t);
                continue;
            }
            pid_t p = spawn_task(sw, bin, abs, t, threads);
            if (p < 0) return bl_fail(BL_ERR_RUN, "fork: %s", strerror(errno));
            pid[running] = p, task[running] = t, start[running] = bl_now();
            running++;
        }
        if (!running) break;
        int ws;
        pid_t p = wait(&ws);
        if (p < 0) {
            if (errno == EINTR) continue;
            return bl_fail(BL_ERR_RUN, "wait: %s", strerror(errno));
        }
        int slot = 0;
        while (slot < running && pid[slot] != p) slot++;
        if (slot == running) continue; // not ours
        int t = task[slot];
        double secs = bl_now() - start[slot];
        pid[slot] = pid[running - 1], task[slot] = task[running - 1], start[slot] = start[running - 1];
        running--;
        const Task *k = &sw->task[t];
        char d[2300], path[2400];
        multirun_dir(&sw->mr[k->cfg], &sw->cfg[k->cfg], k->point, k->seed, d, sizeof d);
        snprintf(path, sizeof path, "%s/metrics.json", d);
        cJSON *m = WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? json_read_file(path) : NULL;
        if (m) {
            (*ran)++;
            print_task_line(sw, t, m, secs);
            cJSON_Delete(m);
        } else {
            char log[2300];
            record_path(sw, t, "out", log, sizeof log);
            fprintf(stderr, "backdoorlab sweep: task %d (%s) failed (%s %d); its output: %s\n", t, d,
                    WIFEXITED(ws) ? "exit" : "signal", WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws), log);
            if ((*failed)++ < 8)
                snprintf(list + strlen(list), list_n - strlen(list), "%s%d", *failed > 1 ? ", " : "", t);
        }
        fflush(stdout);
    }
    return BL_OK;
}

static Status run_local(Sweep *sw, const char *dir, int jobs, int threads, int progress) {
    int failed = 0, ran = 0, skipped_n = 0;
    char list[512] = "";
    double t0 = bl_now();
    if (jobs > 1) {
        Status st = run_parallel(sw, jobs, threads, &ran, &skipped_n, &failed, list, sizeof list);
        if (st) return st;
    }
    for (int t = 0; jobs <= 1 && t < sw->ntasks; t++) {
        const Task *k = &sw->task[t];
        char d[2300];
        multirun_dir(&sw->mr[k->cfg], &sw->cfg[k->cfg], k->point, k->seed, d, sizeof d);
        double t1 = bl_now();
        int skipped = 0;
        Status st = run_task(sw, t, threads, progress, &skipped);
        if (skipped) {
            skipped_n++;
            printf("[%d/%d] %s: finished earlier, skipped\n", t + 1, sw->ntasks, d);
        } else if (st) {
            fprintf(stderr, "backdoorlab sweep: task %d: %s\n", t, bl_errmsg());
            if (failed++ < 8) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", failed > 1 ? ", " : "", t);
        } else {
            ran++;
            print_task_line(sw, t, sw->mr[k->cfg].metrics[k->point][k->seed], bl_now() - t1);
        }
        fflush(stdout);
    }
    printf("%d task(s) run, %d skipped (finished earlier), %d failed, %.1f s\n", ran, skipped_n, failed, bl_now() - t0);
    if (failed)
        return bl_fail(BL_ERR_RUN, "%d task(s) failed (%s%s); fix the cause, then `backdoorlab sweep --resume %s`",
                       failed, list, failed > 8 ? ", ..." : "", dir);
    return sweep_aggregate(sw->out); // sw->out: DIR seen from the working folder, where --resume moved us
}

Status sweep_start(const char *const *configs, int nconfigs, const char *dir, const SweepOptions *o) {
    Sweep sw;
    memset(&sw, 0, sizeof sw);
    Status st = plan(&sw, configs, nconfigs, dir, o->quick);
    if (!st && o->slurm && !o->dry_run) st = slurm_require("sbatch"); // before anything is written
    char path[2200], cwd[PATH_MAX];
    if (!st && !getcwd(cwd, sizeof cwd)) st = bl_fail(BL_ERR_RUN, "getcwd: %s", strerror(errno));
    if (!st) st = ensure_dir(dir);
    // a folder with a sweep already: the same tasks continue (finished ones skipped), other tasks are refused
    join(path, sizeof path, dir, "tasks.tsv");
    cJSON *before = NULL; // the same sweep started earlier: its submissions stay on record
    if (!st && exists(path)) {
        size_t len = 0;
        char *old = read_file_bytes(path, 1L << 30, &len);
        int same = old && len == strlen(sw.tsv) && !memcmp(old, sw.tsv, len);
        free(old);
        if (!same)
            st = bl_fail(BL_ERR_USAGE, "%s holds another sweep (its tasks.tsv lists other tasks); use a new --out "
                         "folder, or `backdoorlab sweep --resume %s` to finish that one", dir, dir);
        join(path, sizeof path, dir, "sweep.json");
        if (!st) before = json_read_file(path);
        join(path, sizeof path, dir, "tasks.tsv");
    }
    if (!st) st = write_file_atomic(path, sw.tsv, strlen(sw.tsv));
    char tsv_sha[65], bin[PATH_MAX];
    if (!st) st = sha256_file_hex(path, tsv_sha);
    if (!st && !realpath("/proc/self/exe", bin)) st = bl_fail(BL_ERR_RUN, "cannot find this program's path");
    if (!st) {
        cJSON *j = sw.json = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "tool", "backdoorlab sweep");
        cJSON_AddStringToObject(j, "workdir", cwd);
        cJSON_AddStringToObject(j, "out", dir);
        cJSON_AddStringToObject(j, "binary", bin);
        cJSON_AddBoolToObject(j, "quick", o->quick);
        cJSON_AddStringToObject(j, "mode", o->slurm ? "slurm" : "local");
        cJSON_AddNumberToObject(j, "tasks", sw.ntasks);
        cJSON_AddStringToObject(j, "tasks_sha256", tsv_sha);
        cJSON *cs = cJSON_AddArrayToObject(j, "configs");
        for (int i = 0; i < sw.nconfigs; i++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "path", configs[i]);
            cJSON_AddStringToObject(c, "sha256", sw.sha[i]);
            cJSON_AddStringToObject(c, "name", sw.cfg[i].experiment.name);
            cJSON_AddBoolToObject(c, "paper", sw.cfg[i].paper.enabled);
            cJSON_AddItemToArray(cs, c);
        }
        if (o->slurm) {
            cJSON *sl = cJSON_AddObjectToObject(j, "slurm");
            const char *keys[] = {"partition", "time", "mem", "account"};
            const char *vals[] = {o->partition, o->time, o->mem, o->account};
            for (int i = 0; i < 4; i++)
                if (vals[i]) cJSON_AddStringToObject(sl, keys[i], vals[i]);
            cJSON_AddNumberToObject(sl, "cpus_per_task", o->cpus_per_task > 0 ? o->cpus_per_task : 1);
            cJSON_AddNumberToObject(sl, "max_parallel", o->max_parallel);
            cJSON *a = cJSON_AddArrayToObject(sl, "sbatch_args");
            for (int i = 0; i < o->nsbatch_args; i++) cJSON_AddItemToArray(a, cJSON_CreateString(o->sbatch_args[i]));
        }
        const char *keep[] = {"submissions", "aggregate_jobs"};
        for (int i = 0; i < 2; i++) {
            cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(before, keep[i]);
            if (cJSON_IsArray(old)) cJSON_AddItemToObject(j, keep[i], old);
            else cJSON_Delete(old);
        }
        if (!cJSON_GetObjectItemCaseSensitive(j, "submissions")) cJSON_AddArrayToObject(j, "submissions");
        st = save_json(&sw);
    }
    cJSON_Delete(before);
    for (int i = 0; !st && i < sw.nconfigs; i++) st = multirun_begin(&sw.cfg[i], &sw.mr[i]);
    join(path, sizeof path, dir, "DONE");
    if (!st && unlink(path) != 0 && errno != ENOENT) st = bl_fail(BL_ERR_RUN, "%s: cannot remove", path);
    if (!st)
        printf("sweep %s: %d config(s), %d task(s) (%s/tasks.tsv)\n", dir, sw.nconfigs, sw.ntasks, dir);
    if (!st && !o->slurm) {
        st = run_local(&sw, dir, o->jobs, o->threads, o->progress);
    } else if (!st) {
        st = submit_remaining(&sw, dir, o->dry_run);
    }
    sweep_free(&sw);
    return st;
}

Status sweep_resume(const char *dir, const SweepOptions *o) {
    Sweep sw;
    Status st = sweep_open(dir, 1, &sw);
    int slurm = !st && !strcmp(jstr(sw.json, "mode") ? jstr(sw.json, "mode") : "", "slurm");
    if (!st && !slurm) {
        printf("sweep %s: resuming here (%d task(s); finished ones are skipped)\n", dir, sw.ntasks);
        st = run_local(&sw, dir, o->jobs, o->threads, o->progress);
    } else if (!st) {
        st = submit_remaining(&sw, dir, o->dry_run);
    }
    sweep_free(&sw);
    return st;
}
