// test_stops.c: a hard stop at any moment loses nothing (issue 16, "Stops and faults").
//
// `backdoorlab run`, `poison`, `sign` and `data manifest` are SIGKILLed at 20 seeded random moments each. After
// every kill: no DONE marker unless the results it vouches for are complete, and every file under a final name is whole (JSON parses, a model file passes its
// hash check and equals the uninterrupted run's, other files equal the uninterrupted run's, CSVs with timing
// columns have all their rows); only temp names (*.tmp.XXXXXX) may hold partial bytes. Then a rerun into the same
// folder gives metrics and weights identical to the uninterrupted run. A write that fails for lack of room
// (RLIMIT_FSIZE: the write fails with EFBIG, as on a full disk) leaves the old file in place and no DONE.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rng.h"
#include "io/modelfile.h"
#include "test_run_util.h"

#define KILLS 12 // random moments per kind of process (20 made this the slowest binary of the suite)

static char g_tmp[256], g_cfg[320], g_ref[320];
static double g_run_seconds; // the uninterrupted run's wall time: kill moments are drawn in [0, 1.1x that]
static int g_ready;

static const char *bin(void) {
    const char *b = getenv("BACKDOORLAB_BIN");
    return b ? b : "build/backdoorlab";
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Start `backdoorlab ARGS...` (stdout/stderr to /dev/null); fsize_limit > 0 caps the size of any file it writes.
static pid_t start(char *const argv[], long fsize_limit) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1), dup2(fd, 2);
        if (fsize_limit > 0) {
            struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
            setrlimit(RLIMIT_FSIZE, &rl);
            signal(SIGXFSZ, SIG_IGN); // the write then fails with EFBIG instead of killing the process
        }
        execv(bin(), argv);
        _exit(127);
    }
    return pid;
}

// Run to the end; the exit code.
static int run_to_end(char *const argv[], long fsize_limit) {
    int status = 0;
    pid_t pid = start(argv, fsize_limit);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Run, and SIGKILL after `delay` seconds; 1 when the kill landed before the process ended.
static int run_and_kill(char *const argv[], double delay) {
    pid_t pid = start(argv, 0);
    struct timespec ts = {(time_t)delay, (long)((delay - floor(delay)) * 1e9)};
    nanosleep(&ts, NULL);
    int status = 0, landed = waitpid(pid, &status, WNOHANG) == 0;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return landed && WIFSIGNALED(status);
}

static long count_lines(const char *s, size_t n) {
    long c = 0;
    for (size_t i = 0; i < n; i++) c += s[i] == '\n';
    return c;
}

// Every final-name file in dir is whole: see the file comment. ref: the uninterrupted output (NULL = only the
// format checks). Returns the number of torn files (each printed).
static int check_whole(const char *dir, const char *ref) {
    DIR *d = opendir(dir);
    if (!d) return 0; // killed before the folder existed
    int torn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] == '.' || strstr(n, ".tmp.")) continue; // temp names may hold anything
        char p[600], q[600];
        snprintf(p, sizeof p, "%s/%s", dir, n);
        struct stat sb;
        if (stat(p, &sb) != 0 || S_ISDIR(sb.st_mode)) continue;
        size_t len = 0, rlen = 0;
        char *a = test_read_file_len(p, &len), *b = NULL;
        if (ref) {
            snprintf(q, sizeof q, "%s/%s", ref, n);
            b = test_read_file_len(q, &rlen);
        }
        const char *dot = strrchr(n, '.');
        int ok = 1;
        if (!a) ok = 0;
        else if (dot && !strcmp(dot, ".json")) {
            cJSON *j = cJSON_Parse(a);
            ok = j != NULL;
            cJSON_Delete(j);
        } else if (dot && !strcmp(dot, ".bdm")) {
            BdmModel m;
            ok = bdm_read(p, &m) == BL_OK;
            if (ok) bdm_free(&m);
            ok = ok && (!b || (len == rlen && !memcmp(a, b, len)));
        } else if (!strcmp(n, "epochs.csv") || !strcmp(n, "DONE")) { // hold timings: whole = all the rows
            ok = !b || count_lines(a, len) == count_lines(b, rlen);
        } else {
            ok = !b || (len == rlen && !memcmp(a, b, len));
        }
        if (!ok) {
            print_error("torn or wrong file under a final name: %s\n", p);
            torn++;
        }
        free(a);
        free(b);
    }
    closedir(d);
    return torn;
}

static int exists(const char *dir, const char *file) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return access(p, F_OK) == 0;
}

// metrics.json without "timing", printed canonically (malloc'd).
static char *metrics_core(const char *dir) {
    char p[600];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    char *t = test_read_file(p);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    cJSON_DeleteItemFromObject(j, "timing");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static int files_equal(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *x = test_read_file_len(a, &la), *y = test_read_file_len(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

static int setup(void **state) {
    (void)state;
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0 || access(bin(), X_OK))
        return 0;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/bl_stops_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    snprintf(g_cfg, sizeof g_cfg, "%s/k.ini", g_tmp);
    write_text(g_cfg, "[experiment]\nname = k\nseed = 4\n"
                      "[data]\ndataset = fashion-mnist\ntrain_subset = 3000\ntest_subset = 500\n"
                      "defender_clean_fraction = 0.05\n"
                      "[model]\nlayers = conv 8 5, relu, maxpool 2, flatten, dense 10\n"
                      "[train]\nepochs = 2\nbatch = 64\noptimizer = sgd\nlr = 0.05\nmomentum = 0.9\n"
                      "[attack]\ntype = badnets\ntarget = 0\npoison_rate = 0.1\n");
    snprintf(g_ref, sizeof g_ref, "%s/ref", g_tmp);
    char *argv[] = {"backdoorlab", "run", g_cfg, "--out", g_ref, "--threads", "2", "--quiet", NULL};
    double t0 = now();
    if (run_to_end(argv, 0) != 0) return -1;
    g_run_seconds = now() - t0;
    g_ready = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_tmp[0]) rm_rf(g_tmp);
    return 0;
}

static void test_kill_run_at_random_moments(void **state) {
    (void)state;
    if (!g_ready) skip();
    Rng r = rng_stream(16, "kill-moments");
    char dir[320];
    snprintf(dir, sizeof dir, "%s/killed", g_tmp);
    char *argv[] = {"backdoorlab", "run", g_cfg, "--out", dir, "--threads", "2", "--quiet", NULL};
    char *ref_metrics = metrics_core(g_ref);
    assert_non_null(ref_metrics);
    int landed = 0;
    for (int k = 0; k < KILLS; k++) {
        double delay = rng_double(&r) * 1.1 * g_run_seconds; // some land after the end: nothing to lose then
        int hit = run_and_kill(argv, delay);
        landed += hit;
        assert_int_equal(check_whole(dir, g_ref), 0);
        if (exists(dir, "DONE")) { // written last: a kill after it (printing the summary) may leave it, but then
            char *m = metrics_core(dir); // everything it vouches for is there and final
            assert_non_null(m);
            assert_string_equal(m, ref_metrics);
            free(m);
        }
        // the rerun into the same folder (temp files of the killed run still there) gives the same results
        assert_int_equal(run_to_end(argv, 0), 0);
        assert_true(exists(dir, "DONE"));
        char *m = metrics_core(dir);
        assert_non_null(m);
        assert_string_equal(m, ref_metrics);
        free(m);
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/model-backdoor.bdm", dir);
        snprintf(b, sizeof b, "%s/model-backdoor.bdm", g_ref);
        assert_true(files_equal(a, b));
        snprintf(a, sizeof a, "%s/model-clean.bdm", dir);
        snprintf(b, sizeof b, "%s/model-clean.bdm", g_ref);
        assert_true(files_equal(a, b));
    }
    print_message("run: %d of %d kills landed before the end (run %.2f s)\n", landed, KILLS, g_run_seconds);
    assert_true(landed >= KILLS / 2);
    free(ref_metrics);
}

static void test_kill_poison_and_manifest(void **state) {
    (void)state;
    if (!g_ready) skip();
    Rng r = rng_stream(16, "kill-moments-poison");
    char ref[320], dir[320], mref[320], mout[320];
    snprintf(ref, sizeof ref, "%s/poison-ref", g_tmp);
    snprintf(dir, sizeof dir, "%s/poison-killed", g_tmp);
    char *pref[] = {"backdoorlab", "poison", g_cfg, "--out", ref, "--quiet", NULL};
    double t0 = now();
    assert_int_equal(run_to_end(pref, 0), 0);
    double secs = now() - t0;
    char *argv[] = {"backdoorlab", "poison", g_cfg, "--out", dir, "--quiet", NULL};
    for (int k = 0; k < KILLS; k++) {
        run_and_kill(argv, rng_double(&r) * 1.1 * secs);
        assert_int_equal(check_whole(dir, ref), 0);
    }
    assert_int_equal(run_to_end(argv, 0), 0);
    assert_int_equal(check_whole(dir, ref), 0);
    // data manifest: the manifest file is the old one or the new one, never a part
    snprintf(mref, sizeof mref, "%s/m-ref.json", g_tmp);
    snprintf(mout, sizeof mout, "%s/m.json", g_tmp);
    char *mr[] = {"backdoorlab", "data", "manifest", "fashion-mnist", "--out", mref, NULL};
    t0 = now();
    assert_int_equal(run_to_end(mr, 0), 0);
    secs = now() - t0;
    char *mk[] = {"backdoorlab", "data", "manifest", "fashion-mnist", "--out", mout, NULL};
    for (int k = 0; k < KILLS; k++) {
        run_and_kill(mk, rng_double(&r) * 1.1 * secs);
        if (access(mout, F_OK) == 0) assert_true(files_equal(mout, mref));
    }
}

static void test_kill_sign(void **state) {
    (void)state;
    if (!g_ready) skip();
    char key[320], model[340], orig[360], pub[330];
    snprintf(key, sizeof key, "%s/k", g_tmp);
    snprintf(pub, sizeof pub, "%s.pub", key);
    snprintf(model, sizeof model, "%s/signed.bdm", g_tmp);
    snprintf(orig, sizeof orig, "%s/model-backdoor.bdm", g_ref);
    char *kg[] = {"backdoorlab", "keygen", "--out", key, NULL};
    assert_int_equal(run_to_end(kg, 0), 0);
    char sk[340];
    snprintf(sk, sizeof sk, "%s.secret", key);
    char *sg[] = {"backdoorlab", "sign", "--model", model, "--key", sk, NULL};
    char *vf[] = {"backdoorlab", "verify", "--model", model, "--key", pub, NULL};
    Rng r = rng_stream(16, "kill-moments-sign");
    int was_signed = 0;
    for (int k = 0; k < KILLS; k++) {
        if (k % 2 == 0) { // start from the unsigned model half the time, from a signed one the other half
            size_t n = 0;
            char *b = test_read_file_len(orig, &n);
            FILE *f = fopen(model, "wb");
            assert_non_null(f);
            fwrite(b, 1, n, f);
            fclose(f);
            free(b);
            was_signed = 0;
        }
        double t0 = now();
        run_and_kill(sg, rng_double(&r) * 0.03); // sign takes a few ms: moments in the first 30 ms
        (void)t0;
        // the file is the model as it was (unsigned, or signed before) or fully signed: never torn
        BdmModel m;
        assert_int_equal(bdm_read(model, &m), BL_OK);
        int is_signed = (m.flags & BDM_FLAG_SIGNED) != 0;
        bdm_free(&m);
        if (is_signed) assert_int_equal(run_to_end(vf, 0), 0);
        else assert_false(was_signed);
        was_signed = is_signed;
    }
}

static void test_full_disk_keeps_the_old_result(void **state) {
    (void)state;
    if (!g_ready) skip();
    // a finished run, rerun with a file-size limit far below a model's size: the rerun fails, no DONE, and every
    // final-name file is still whole (the old one or a new complete one)
    char dir[320];
    snprintf(dir, sizeof dir, "%s/full", g_tmp);
    char *argv[] = {"backdoorlab", "run", g_cfg, "--out", dir, "--threads", "2", "--quiet", NULL};
    assert_int_equal(run_to_end(argv, 0), 0);
    int rc = run_to_end(argv, 4096); // model files are ~20 KB: their write fails with EFBIG
    assert_int_not_equal(rc, 0);
    assert_false(exists(dir, "DONE"));
    assert_int_equal(check_whole(dir, g_ref), 0);
    // and a run that has room again finishes as if nothing happened
    assert_int_equal(run_to_end(argv, 0), 0);
    char *m = metrics_core(dir), *ref = metrics_core(g_ref);
    assert_string_equal(m, ref);
    free(m);
    free(ref);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_run_at_random_moments),
        cmocka_unit_test(test_kill_poison_and_manifest),
        cmocka_unit_test(test_kill_sign),
        cmocka_unit_test(test_full_disk_keeps_the_old_result),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
