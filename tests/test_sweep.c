// test_sweep.c: `backdoorlab sweep` (issue 18): tasks here and on a real single-node Slurm started by
// scripts/slurm-local.sh, byte-identical runs either way, a task killed by scancel and resumed, the reproduce
// report from a Slurm sweep, and the bad inputs (no sbatch, no task, task id out of range, a changed sweep, a
// failed task). Runs the built binary (BACKDOORLAB_BIN) as a user would, from the repository root.
// realpath, usleep, mkdtemp
#undef _POSIX_C_SOURCE
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "test_run_util.h"

static char g_bin[PATH_MAX], g_tmp[256], g_slurm[300];
static int g_have_slurm;

// Run a shell command; its stdout+stderr into out (if given). Returns the exit status.
static int sh(char *out, size_t cap, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[8300];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = 0;
    char buf[4096];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, p)) > 0)
        if (out && n + 1 < cap) {
            size_t take = k < cap - 1 - n ? k : cap - 1 - n;
            memcpy(out + n, buf, take);
            n += take;
        }
    if (out) out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

// 2 seeds x 2 poison rates on a 2,000-image subset, 1 epoch; [paper] claims so the aggregation writes the
// reproduce report (unverified: shown, never failing a full run).
static const char *k_tiny = "[experiment]\nname = %s\nseeds = 1,2\nthreads = 1\n[data]\ntrain_subset = 2000\n"
                            "test_subset = 500\n[train]\nepochs = 1\n[attack]\ntype = badnets\ntarget = 0\n"
                            "[sweep]\nkey = attack.poison_rate\nvalues = 0.05,0.1\n[paper]\n"
                            "reference = A. Nobody. Tiny. 2026\nquick_epochs = 1\n"
                            "claim.asr = backdoored_model/asr @ 0.1 | 99%% | 5 | 10 | unverified\nsource.asr = none\n"
                            "claim.ca = clean_model/ca @ 0.05 | 30%% | 5 | 10 | unverified\nsource.ca = none\n";

static void tiny_config(const char *path, const char *name) {
    char text[2048];
    snprintf(text, sizeof text, k_tiny, name);
    write_file(path, text);
}

static void assert_same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = test_read_file_len(a, &na), *y = test_read_file_len(b, &nb);
    if (!x || !y || na != nb || memcmp(x, y, na)) fail_msg("%s and %s differ", a, b);
    free(x);
    free(y);
}

// Every run of sweep A equal to sweep B's: metrics (without timing) and both models' bytes.
static void assert_same_runs(const char *a, const char *b, const char *name, int nseeds, const char *const *points,
                             int npoints) {
    for (int p = 0; p < npoints; p++)
        for (int s = 1; s <= nseeds; s++) {
            char da[PATH_MAX], db[PATH_MAX], fa[PATH_MAX + 32], fb[PATH_MAX + 32];
            snprintf(da, sizeof da, "%s/%s/%s%sseed-%d", a, name, points[p], *points[p] ? "/" : "", s);
            snprintf(db, sizeof db, "%s/%s/%s%sseed-%d", b, name, points[p], *points[p] ? "/" : "", s);
            snprintf(fa, sizeof fa, "%s/DONE", db);
            if (!exists(fa)) fail_msg("%s: no DONE", db);
            char *ma = metrics_without_timing(da), *mb = metrics_without_timing(db);
            assert_string_equal(ma, mb);
            free(ma);
            free(mb);
            const char *files[] = {"model-clean.bdm", "model-backdoor.bdm", "poison.csv"};
            for (int k = 0; k < 3; k++) {
                snprintf(fa, sizeof fa, "%s/%s", da, files[k]);
                snprintf(fb, sizeof fb, "%s/%s", db, files[k]);
                assert_same_file(fa, fb);
            }
        }
}

static time_t mtime(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_mtime : 0;
}

// Wait until this private cluster has no job left (at most `seconds`).
static void wait_idle(int seconds) {
    char out[8192];
    for (int i = 0; i < seconds * 5; i++) {
        if (sh(out, sizeof out, "squeue -h") == 0 && !out[0]) return;
        usleep(200000);
    }
    sh(out, sizeof out, "squeue");
    fail_msg("Slurm still has jobs after %d s:\n%s", seconds, out);
}

// ---------------------------------------------------------------------------------------------- here

static void test_bad_input(void **state) {
    (void)state;
    char out[16384], cfg[400], cfg2[400], dir[400], bad[400];
    snprintf(cfg, sizeof cfg, "%s/bad.ini", g_tmp);
    snprintf(cfg2, sizeof cfg2, "%s/other.ini", g_tmp);
    snprintf(dir, sizeof dir, "%s/bad-sweep", g_tmp);
    tiny_config(cfg, "bad");
    tiny_config(cfg2, "other");
    // no config, no --out, --dry-run without --slurm: usage
    assert_int_equal(sh(out, sizeof out, "%s sweep --out %s", g_bin, dir), 2);
    assert_non_null(strstr(out, "no task"));
    assert_int_equal(sh(out, sizeof out, "%s sweep %s", g_bin, cfg), 2);
    assert_int_equal(sh(out, sizeof out, "%s sweep %s --out %s --dry-run", g_bin, cfg, dir), 2);
    // no sbatch on PATH: an error naming the Debian package, nothing written
    assert_int_equal(sh(out, sizeof out, "PATH=/nonexistent %s sweep %s --out %s --slurm", g_bin, cfg, dir), 1);
    assert_non_null(strstr(out, "slurm-wlm"));
    assert_false(exists(dir));
    // a failed task: the others still run, the sweep fails naming it, status names it with its error
    snprintf(bad, sizeof bad, "%s/broken.ini", g_tmp);
    write_file(bad, "[experiment]\nname = broken\nseeds = 1,2\n[data]\ndataset = png:/nonexistent/x\n"
                    "[attack]\ntype = badnets\ntarget = 0\n");
    assert_int_equal(sh(out, sizeof out, "%s sweep %s %s --out %s --threads 2", g_bin, cfg, bad, dir), 1);
    assert_non_null(strstr(out, "2 task(s) failed (4, 5)"));
    assert_int_equal(sh(out, sizeof out, "%s sweep --status %s", g_bin, dir), 0);
    assert_non_null(strstr(out, "6 task(s): 4 done, 0 running, 2 failed, 0 pending; aggregation not done yet"));
    assert_non_null(strstr(out, "task 4 ("));
    assert_non_null(strstr(out, "/nonexistent/x has no train/ folder"));
    // the aggregation refuses while tasks are missing, naming them
    assert_int_equal(sh(out, sizeof out, "%s sweep --aggregate %s", g_bin, dir), 1);
    assert_non_null(strstr(out, "2 of 6 task(s) not finished: 4 (no DONE), 5 (no DONE)"));
    // a task id out of range; a non-number
    assert_int_equal(sh(out, sizeof out, "%s sweep-task %s 6", g_bin, dir), 2);
    assert_non_null(strstr(out, "out of range (this sweep has tasks 0..5)"));
    assert_int_equal(sh(out, sizeof out, "%s sweep-task %s x1", g_bin, dir), 2);
    // another sweep into the same folder is refused
    assert_int_equal(sh(out, sizeof out, "%s sweep %s --out %s", g_bin, cfg2, dir), 2);
    assert_non_null(strstr(out, "holds another sweep"));
    // resume after a config changed: refused, naming it; tasks.tsv edited: refused, naming it
    write_file(bad, "[experiment]\nname = broken\nseeds = 1,2\n[data]\ndataset = png:/nonexistent/y\n"
                    "[attack]\ntype = badnets\ntarget = 0\n");
    assert_int_equal(sh(out, sizeof out, "%s sweep --resume %s", g_bin, dir), 2);
    assert_non_null(strstr(out, "broken.ini changed since the sweep was planned"));
    char tsv[500];
    snprintf(tsv, sizeof tsv, "%s/tasks.tsv", dir);
    assert_int_equal(sh(out, sizeof out, "sed -i 's/^5\\t/9\\t/' %s", tsv), 0);
    assert_int_equal(sh(out, sizeof out, "%s sweep --resume %s", g_bin, dir), 2);
    assert_non_null(strstr(out, "tasks.tsv changed since the sweep was planned"));
    // a finished task is skipped by sweep-task
    assert_int_equal(sh(out, sizeof out, "%s sweep-task %s 0", g_bin, dir), 2); // tasks.tsv still edited
    assert_int_equal(sh(out, sizeof out, "sed -i 's/^9\\t/5\\t/' %s", tsv), 0);
    write_file(bad, "[experiment]\nname = broken\nseeds = 1,2\n[data]\ndataset = png:/nonexistent/x\n"
                    "[attack]\ntype = badnets\ntarget = 0\n");
    assert_int_equal(sh(out, sizeof out, "%s sweep-task %s 0", g_bin, dir), 0);
    assert_non_null(strstr(out, "skipped"));
    // not a sweep folder
    assert_int_equal(sh(out, sizeof out, "%s sweep --status %s", g_bin, g_tmp), 3);
}

// ---------------------------------------------------------------------------------------------- Slurm

static const char *const k_points[] = {"poison_rate-0.05", "poison_rate-0.1"};

static void test_slurm_same_as_local(void **state) {
    (void)state;
    if (!g_have_slurm) fail_msg("no local Slurm (see %s/slurm-local.log)", g_tmp);
    char out[32768], cfg[400], local[400], slurm[400], repro[400], path[600], path2[600];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", g_tmp);
    snprintf(local, sizeof local, "%s/local", g_tmp);
    snprintf(slurm, sizeof slurm, "%s/slurm", g_tmp);
    snprintf(repro, sizeof repro, "%s/repro", g_tmp);
    tiny_config(cfg, "tiny");
    // here: 2 tasks at a time as processes (--jobs), and in-process through `reproduce`
    assert_int_equal(sh(out, sizeof out, "%s sweep %s --out %s --jobs 2", g_bin, cfg, local), 0);
    assert_non_null(strstr(out, "4 task(s) run, 0 skipped (finished earlier), 0 failed"));
    assert_int_equal(sh(out, sizeof out, "%s reproduce %s --out %s --threads 2 --quiet", g_bin, cfg, repro), 0);
    // MaxArraySize = 3 here: 4 tasks are two arrays (0-2, and 0 with offset 3)
    int rc = sh(out, sizeof out, "%s sweep %s --out %s --slurm --cpus-per-task 1 --max-parallel 2 "
                "--sbatch-arg=--comment=backdoorlab-test", g_bin, cfg, slurm);
    if (rc) fail_msg("sweep --slurm: %s", out);
    assert_non_null(strstr(out, "--array=0-2%2"));
    assert_non_null(strstr(out, "--array=0%2"));
    assert_non_null(strstr(out, "--dependency=afterany:"));
    assert_non_null(strstr(out, "--kill-on-invalid-dep=yes"));
    snprintf(path, sizeof path, "%s/sweep.sbatch", slurm);
    char *script = test_read_file(path);
    assert_non_null(script);
    assert_non_null(strstr(script, "#SBATCH --array=0-2%2"));
    assert_non_null(strstr(script, "#SBATCH --comment=backdoorlab-test"));
    assert_non_null(strstr(script, "sweep-task"));
    assert_non_null(strstr(script, "--threads \"${SLURM_CPUS_PER_TASK:-1}\""));
    free(script);
    wait_idle(300);
    assert_int_equal(sh(out, sizeof out, "%s sweep --status %s", g_bin, slurm), 0);
    assert_non_null(strstr(out, "4 task(s): 4 done, 0 running, 0 failed, 0 pending; aggregation done"));
    assert_same_runs(local, slurm, "tiny", 2, k_points, 2);
    assert_same_runs(repro, slurm, "tiny", 2, k_points, 2);
    // the aggregation ran after every task, and wrote what the local sweep wrote
    snprintf(path, sizeof path, "%s/DONE", slurm);
    time_t agg = mtime(path);
    assert_true(agg > 0);
    for (int p = 0; p < 2; p++)
        for (int s = 1; s <= 2; s++) {
            snprintf(path2, sizeof path2, "%s/tiny/%s/seed-%d/DONE", slurm, k_points[p], s);
            assert_true(mtime(path2) > 0 && mtime(path2) <= agg);
        }
    assert_int_equal(sh(out, sizeof out, "ls %s/logs/aggregate_*.out", slurm), 0);
    const char *same[] = {"tiny/summary.md", "tiny/sweep.csv", "claims.csv"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s", local, same[k]);
        snprintf(path2, sizeof path2, "%s/%s", slurm, same[k]);
        assert_same_file(path, path2);
    }
    snprintf(path, sizeof path, "%s/claims.csv", repro);
    assert_same_file(path, path2); // the Slurm sweep's report has reproduce's claims, means and verdicts
    // submitting again submits nothing but the aggregation
    assert_int_equal(sh(out, sizeof out, "%s sweep --resume %s --dry-run", g_bin, slurm), 0);
    assert_non_null(strstr(out, "0 task(s) to submit"));
    assert_null(strstr(out, "--array"));
}

static void test_slurm_kill_and_resume(void **state) {
    (void)state;
    if (!g_have_slurm) fail_msg("no local Slurm (see %s/slurm-local.log)", g_tmp);
    char out[32768], cfg[400], local[400], dir[400], path[600];
    snprintf(cfg, sizeof cfg, "%s/long.ini", g_tmp);
    snprintf(local, sizeof local, "%s/long-local", g_tmp);
    snprintf(dir, sizeof dir, "%s/long-slurm", g_tmp);
    // long enough (several seconds a task) to be killed mid-run
    write_file(cfg, "[experiment]\nname = long\nseeds = 1,2\nthreads = 1\n[data]\ntrain_subset = 12000\n"
                    "test_subset = 1000\n[train]\nepochs = 2\n[attack]\ntype = badnets\ntarget = 0\n");
    int rc = sh(out, sizeof out, "%s sweep %s --out %s --slurm", g_bin, cfg, dir);
    if (rc) fail_msg("sweep --slurm: %s", out);
    // task 0 starts: cancel it at once
    snprintf(path, sizeof path, "%s/logs/task-0.started", dir);
    for (int i = 0; i < 600 && !exists(path); i++) usleep(50000);
    char *rec = test_read_file(path);
    assert_non_null(rec);
    char job[64], idx[32];
    assert_int_equal(sscanf(strstr(rec, "slurm_job="), "slurm_job=%63s slurm_index=%31s", job, idx), 2);
    free(rec);
    assert_int_equal(sh(out, sizeof out, "scancel %s_%s", job, idx), 0);
    wait_idle(300);
    snprintf(path, sizeof path, "%s/long/seed-1/DONE", dir);
    assert_false(exists(path)); // killed: no DONE
    assert_int_equal(sh(out, sizeof out, "%s sweep --status %s", g_bin, dir), 0);
    assert_non_null(strstr(out, "2 task(s): 1 done, 0 running, 1 failed, 0 pending; aggregation not done yet"));
    assert_non_null(strstr(out, "task 0 ("));
    assert_non_null(strstr(out, "ended without DONE"));
    assert_non_null(strstr(out, "/logs/"));
    // resume: only task 0 again, then the aggregation
    rc = sh(out, sizeof out, "%s sweep --resume %s", g_bin, dir);
    if (rc) fail_msg("sweep --resume: %s", out);
    assert_non_null(strstr(out, "1 task(s) to submit"));
    assert_non_null(strstr(out, "--array=0 "));
    wait_idle(300);
    assert_int_equal(sh(out, sizeof out, "%s sweep --status %s", g_bin, dir), 0);
    assert_non_null(strstr(out, "2 task(s): 2 done, 0 running, 0 failed, 0 pending; aggregation done"));
    assert_int_equal(sh(out, sizeof out, "%s sweep %s --out %s --threads 2", g_bin, cfg, local), 0);
    const char *none[] = {""};
    assert_same_runs(local, dir, "long", 2, none, 1);
}

// ---------------------------------------------------------------------------------------------- setup

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("BACKDOORLAB_BIN");
    if (!realpath(bin ? bin : "build/backdoorlab", g_bin)) return -1;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl-sweep-XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    // the private Slurm: state in its own folder, daemons stopped in teardown whatever happens
    snprintf(g_slurm, sizeof g_slurm, "%s/slurm-state", g_tmp);
    char out[8192];
    int rc = sh(out, sizeof out, "mkdir -p %s && bash scripts/slurm-local.sh start %s > %s/slurm-local.log 2>&1", g_slurm,
                g_slurm, g_tmp);
    if (rc == 0) {
        char conf[400];
        snprintf(conf, sizeof conf, "%s/slurm.conf", g_slurm);
        setenv("SLURM_CONF", conf, 1);
        g_have_slurm = 1;
    } else {
        sh(out, sizeof out, "tail -20 %s/slurm-local.log", g_tmp);
        fprintf(stderr, "test_sweep: the local Slurm did not start (exit %d):\n%s\n", rc, out);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sh(NULL, 0, "bash scripts/slurm-local.sh stop %s", g_slurm);
    rm_rf(g_tmp);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_slurm_same_as_local),
        cmocka_unit_test(test_slurm_kill_and_resume),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
