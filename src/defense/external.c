// external.c: a defence that is any command (NIST TrojAI's file contract): the testbed writes what a defender has
// as safetensors and .npy files, runs the command with a timeout, and reads back whatever it returned, which the
// evaluator scores exactly as a built-in defence's output (README: "Write your own defence").
//
//   <work>/in/      model.safetensors, train_{x,y}.npy, clean_{x,y}.npy, inputs_x.npy, task.json
//   <work>/out/     any of score.txt, sample_scores.npy (+ sample_flags.npy), input_scores.npy
//                   (+ clean_input_scores.npy), flagged_labels.json, model.safetensors
//   <work>/scratch/ the command's working directory
//
// <work> is a fresh folder under $TMPDIR (default /tmp), outside the run folder, so the paths the command gets
// lead nowhere near poison.csv or any other ground truth. The command runs in its own process group (a timeout
// kills all of it); its stdout and stderr are kept beside the summary. Anything missing, malformed, non-finite or
// of the wrong length is a failure of the defence with the reason and the command's stderr tail, never a guess.
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "defense/defense.h"
#include "defense/features.h"
#include "defense/mitigate.h"
#include "io/npy.h"
#include "io/results.h"
#include "run/interop.h"

static const DefenseParamSpec g_params[] = {
    {"cmd", DEF_TEXT, 0, 0, 0, "the command; run as `CMD --in DIR --out DIR --scratch DIR` by /bin/sh"},
    {"timeout", DEF_INT, 3600, 1, 604800, "seconds before the command (its whole process group) is killed"},
    {"keep", DEF_INT, 0, 0, 1, "1: keep the work folder (in/, out/, scratch/) under $TMPDIR for debugging"},
};

#define TAIL_BYTES 1500

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

// The last TAIL_BYTES of a file, for error messages ("" when unreadable).
static void file_tail(const char *path, char *out, size_t n) {
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : 0;
    long from = len > (long)n - 1 ? len - (long)n + 1 : 0;
    if (fseek(f, from, SEEK_SET) == 0) out[fread(out, 1, n - 1, f)] = 0;
    fclose(f);
    for (char *c = out; *c; c++)
        if ((unsigned char)*c < 32 && *c != '\n') *c = ' ';
}

// Append 'text' to buf as one single-quoted shell word.
static void shell_quote(char *buf, size_t n, const char *text) {
    size_t len = strlen(buf);
    if (len + 1 < n) buf[len++] = '\'';
    for (const char *c = text; *c && len + 5 < n; c++) {
        if (*c == '\'') memcpy(buf + len, "'\\''", 4), len += 4;
        else buf[len++] = *c;
    }
    if (len + 1 < n) buf[len++] = '\'';
    buf[len] = 0;
}

// Run `sh -c line` in dir with stdout/stderr to files and stdin from /dev/null; kill the process group after
// timeout seconds. *status: the wait status; *timed_out set when it was killed for time.
static Status run_command(const char *line, const char *dir, const char *out_log, const char *err_log, int timeout,
                          int *status, int *timed_out) {
    *timed_out = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return bl_fail(BL_ERR_RUN, "cannot start the command: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY), o = open(out_log, O_WRONLY | O_CREAT | O_TRUNC, 0644),
            e = open(err_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || o < 0 || e < 0 || chdir(dir) != 0) _exit(126);
        dup2(in, 0), dup2(o, 1), dup2(e, 2);
        execl("/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid); // also here, so the kill below reaches the group whichever process runs first
    double t0 = bl_now();
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return BL_OK;
        if (r < 0 && errno != EINTR) return bl_fail(BL_ERR_RUN, "waiting for the command: %s", strerror(errno));
        if (bl_now() - t0 > timeout) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
            *timed_out = 1;
            return BL_OK;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static Status write_task(const DefenseContext *ctx, const char *path) {
    const Model *m = ctx->model;
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "contract", 1);
    cJSON_AddStringToObject(t, "input_kind", interop_input_kind(m));
    int shape[3] = {m->input.c, m->input.h, m->input.w};
    cJSON_AddItemToObject(t, "input_shape", cJSON_CreateIntArray(shape, 3));
    cJSON_AddNumberToObject(t, "num_classes", m->num_classes);
    cJSON_AddNumberToObject(t, "n_train", ctx->train->n);
    cJSON_AddNumberToObject(t, "n_clean", ctx->clean->n);
    cJSON_AddNumberToObject(t, "n_inputs", ctx->inputs ? ctx->inputs->n : 0);
    cJSON_AddNumberToObject(t, "seed", (double)(ctx->seed & ((1ull << 52) - 1))); // exact in a JSON number
    cJSON_AddItemToObject(t, "frr_targets", cJSON_CreateDoubleArray(defense_frr_targets, DEFENSE_NFRR));
    cJSON *r = cJSON_AddObjectToObject(t, "returns");
    cJSON_AddStringToObject(r, "score.txt", "one number in [0,1]: probability that the model is backdoored");
    cJSON_AddStringToObject(r, "sample_scores.npy", "(n_train,) float, higher = more suspicious training sample");
    cJSON_AddStringToObject(r, "sample_flags.npy", "(n_train,) uint8/bool, optional: the samples you flag");
    cJSON_AddStringToObject(r, "input_scores.npy", "(n_inputs,) float, higher = more suspicious input");
    cJSON_AddStringToObject(r, "clean_input_scores.npy",
                            "(n_clean,) float, optional: the same score on the clean split (NaN = not scored); the "
                            "testbed picks each frr_target's threshold from it (without it: AUROC only)");
    cJSON_AddStringToObject(r, "flagged_labels.json", "{\"flagged\": [labels], \"anomaly_index\": [num_classes numbers]"
                                                      " (optional)}");
    cJSON_AddStringToObject(r, "model.safetensors", "a repaired model: the same tensors and shapes as in/");
    Status st = json_write_atomic(path, t);
    cJSON_Delete(t);
    return st;
}

// Read a score vector of n finite values (NaN or inf is a failure: a silently wrong score is worse than none);
// allow_nan: NaN marks a value not computed (clean scores of a calibration subset), at least one must be finite.
static Status read_scores(const char *path, size_t n, int allow_nan, float **out) {
    double *v = NULL;
    Status st = npy_read_vector(path, n, &v);
    if (st) return st;
    float *f = malloc((n ? n : 1) * sizeof(float));
    size_t finite = 0;
    for (size_t i = 0; f && i < n && !st; i++) {
        if (!isfinite(v[i]) && !(allow_nan && isnan(v[i])))
            st = bl_fail(BL_ERR_DATA, "%s: value %zu is not finite (%g)", path, i, v[i]);
        finite += isfinite(v[i]) != 0;
        f[i] = (float)v[i];
    }
    if (f && !st && allow_nan && !finite && n) st = bl_fail(BL_ERR_DATA, "%s: no finite value", path);
    free(v);
    if (!f) return bl_fail(BL_ERR_RUN, "out of memory");
    if (st) free(f);
    else *out = f;
    return st;
}

static Status read_flags(const char *path, size_t n, uint8_t **out) {
    double *v = NULL;
    Status st = npy_read_vector(path, n, &v);
    if (st) return st;
    uint8_t *f = malloc(n ? n : 1);
    for (size_t i = 0; f && i < n && !st; i++) {
        if (v[i] != 0 && v[i] != 1) st = bl_fail(BL_ERR_DATA, "%s: value %zu is %g, not 0 or 1", path, i, v[i]);
        f[i] = v[i] != 0;
    }
    free(v);
    if (!f) return bl_fail(BL_ERR_RUN, "out of memory");
    if (st) free(f);
    else *out = f;
    return st;
}

static Status read_score_txt(const char *path, double *score) {
    char buf[128] = "";
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: %s", path, strerror(errno));
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    buf[len] = 0;
    char *end;
    *score = strtod(buf, &end);
    while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t') end++;
    if (more || end == buf || *end || !isfinite(*score) || *score < 0 || *score > 1)
        return bl_fail(BL_ERR_DATA, "%s: expected one number in [0,1], got '%.40s'", path, buf);
    return BL_OK;
}

static Status read_labels_json(const char *path, int K, DefenseResult *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return bl_fail(BL_ERR_DATA, "%s: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    size_t len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return bl_fail(BL_ERR_RUN, "out of memory");
    buf[len] = 0;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    Status st = BL_OK;
    const cJSON *fl = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "flagged");
    const cJSON *ai = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "anomaly_index") : NULL;
    if (!cJSON_IsArray(fl) || cJSON_GetArraySize(fl) > K) {
        st = bl_fail(BL_ERR_DATA, "%s: expected {\"flagged\": [labels]} with at most %d labels", path, K);
        goto done;
    }
    out->num_labels = K;
    const cJSON *e;
    cJSON_ArrayForEach(e, fl) {
        if (!cJSON_IsNumber(e) || e->valuedouble != (int)e->valuedouble || e->valuedouble < 0 || e->valuedouble >= K) {
            st = bl_fail(BL_ERR_DATA, "%s: flagged label is not an integer in [0, %d)", path, K);
            goto done;
        }
        out->flagged[out->nflagged++] = (int)e->valuedouble;
    }
    if (ai) {
        if (!cJSON_IsArray(ai) || cJSON_GetArraySize(ai) != K) {
            st = bl_fail(BL_ERR_DATA, "%s: anomaly_index must hold %d numbers", path, K);
            goto done;
        }
        if (!(out->anomaly_index = malloc((size_t)K * sizeof(double)))) {
            st = bl_fail(BL_ERR_RUN, "out of memory");
            goto done;
        }
        int k = 0;
        cJSON_ArrayForEach(e, ai) {
            if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
                st = bl_fail(BL_ERR_DATA, "%s: anomaly_index[%d] is not a finite number", path, k);
                goto done;
            }
            out->anomaly_index[k++] = e->valuedouble;
        }
    }
done:
    if (!j) st = bl_fail(BL_ERR_DATA, "%s: not valid JSON", path);
    cJSON_Delete(j);
    return st;
}

// Read everything the command left in out/ into r. A malformed file is the defence's failure (BL_ERR_RUN: the
// CLI exits 1), except a repaired model, which is refused like any bad model file (BL_ERR_DATA: exit 3).
static Status read_outputs(const DefenseContext *ctx, const char *out, DefenseResult *r, cJSON *returned) {
    char p[4400];
    Status st = BL_OK;
    int found = 0;
#define OUT_PATH(name) (snprintf(p, sizeof p, "%s/%s", out, name), p)
    if (exists(OUT_PATH("score.txt"))) {
        if ((st = read_score_txt(p, &r->model_score))) goto bad;
        r->has_model_score = 1, found++;
        cJSON_AddItemToArray(returned, cJSON_CreateString("score.txt"));
    }
    if (exists(OUT_PATH("sample_scores.npy"))) {
        if ((st = read_scores(p, (size_t)ctx->train->n, 0, &r->sample_score))) goto bad;
        found++;
        cJSON_AddItemToArray(returned, cJSON_CreateString("sample_scores.npy"));
        if (exists(OUT_PATH("sample_flags.npy"))) {
            if ((st = read_flags(p, (size_t)ctx->train->n, &r->sample_flag))) goto bad;
            cJSON_AddItemToArray(returned, cJSON_CreateString("sample_flags.npy"));
        }
    }
    if (exists(OUT_PATH("input_scores.npy"))) {
        if (!ctx->inputs || (st = read_scores(p, (size_t)ctx->inputs->n, 0, &r->input_score))) {
            if (!st) st = bl_fail(BL_ERR_DATA, "%s: there were no inputs to screen", p);
            goto bad;
        }
        found++;
        cJSON_AddItemToArray(returned, cJSON_CreateString("input_scores.npy"));
        for (int f = 0; f < DEFENSE_NFRR; f++) r->thresholds[f] = NAN; // no calibration: AUROC only
        if (exists(OUT_PATH("clean_input_scores.npy"))) {
            float *cs = NULL;
            if ((st = read_scores(p, (size_t)ctx->clean->n, 1, &cs))) goto bad;
            for (int f = 0; f < DEFENSE_NFRR && ctx->clean->n > 0; f++)
                r->thresholds[f] = feat_upper_threshold(cs, ctx->clean->n, defense_frr_targets[f]);
            free(cs);
            cJSON_AddItemToArray(returned, cJSON_CreateString("clean_input_scores.npy"));
        }
    }
    if (exists(OUT_PATH("flagged_labels.json"))) {
        if ((st = read_labels_json(p, ctx->model->num_classes, r))) goto bad;
        found++;
        cJSON_AddItemToArray(returned, cJSON_CreateString("flagged_labels.json"));
    }
    if (exists(OUT_PATH("model.safetensors"))) {
        if ((st = mit_clone(ctx->model, ctx->model->max_batch, &r->repaired))) return st;
        if ((st = interop_model_read(p, r->repaired)))
            return bl_fail_ctx(st, "the repaired model the command returned is refused");
        found++;
        cJSON_AddItemToArray(returned, cJSON_CreateString("model.safetensors"));
    }
#undef OUT_PATH
    if (!found) return bl_fail(BL_ERR_RUN, "the command wrote none of the result files the contract names");
    return BL_OK;
bad:;
    char why[1024];
    snprintf(why, sizeof why, "%s", bl_errmsg());
    return bl_fail(BL_ERR_RUN, "the command's result is unusable: %s", why);
}

static Status external_run(const DefenseContext *ctx, DefenseResult *out) {
    extern const DefenseOps external_defense;
    const char *cmd = defense_param_text(&external_defense, ctx->params, "cmd");
    int timeout = (int)defense_param(&external_defense, ctx->params, "timeout");
    int keep = (int)defense_param(&external_defense, ctx->params, "keep");
    if (!*cmd) return bl_fail(BL_ERR_USAGE, "defence 'external' needs a command: --set cmd=\"python3 mydef.py\"");
    const char *tmp = getenv("TMPDIR");
    char work[4096], in[4200], outd[4200], scratch[4200], path[4400], line[8192];
    snprintf(work, sizeof work, "%s/backdoorlab-external-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) return bl_fail(BL_ERR_RUN, "cannot make a work folder %s: %s", work, strerror(errno));
    snprintf(in, sizeof in, "%s/in", work);
    snprintf(outd, sizeof outd, "%s/out", work);
    snprintf(scratch, sizeof scratch, "%s/scratch", work);
    Status st = BL_OK;
    if ((st = ensure_dir(in)) || (st = ensure_dir(outd)) || (st = ensure_dir(scratch))) goto done;
    // what a defender has, and nothing else
    snprintf(path, sizeof path, "%s/model.safetensors", in);
    if ((st = interop_model_write(ctx->model, NULL, NULL, path))) goto done;
    if ((st = interop_dataset_write(ctx->model, ctx->train, in, "train", 1))) goto done;
    if ((st = interop_dataset_write(ctx->model, ctx->clean, in, "clean", 1))) goto done;
    if (ctx->inputs && (st = interop_dataset_write(ctx->model, ctx->inputs, in, "inputs", 0))) goto done;
    snprintf(path, sizeof path, "%s/task.json", in);
    if ((st = write_task(ctx, path))) goto done;

    snprintf(line, sizeof line, "%s --in ", cmd);
    shell_quote(line, sizeof line, in);
    snprintf(line + strlen(line), sizeof line - strlen(line), " --out ");
    shell_quote(line, sizeof line, outd);
    snprintf(line + strlen(line), sizeof line - strlen(line), " --scratch ");
    shell_quote(line, sizeof line, scratch);
    char out_log[4400], err_log[4400], tail[TAIL_BYTES];
    snprintf(out_log, sizeof out_log, "%s/command-stdout.txt", ctx->out_dir);
    snprintf(err_log, sizeof err_log, "%s/command-stderr.txt", ctx->out_dir);
    int status = 0, timed_out = 0;
    double t0 = bl_now();
    if (ctx->progress) fprintf(stderr, "external: running %s\n", cmd);
    if ((st = run_command(line, scratch, out_log, err_log, timeout, &status, &timed_out))) goto done;
    double secs = bl_now() - t0;
    file_tail(err_log, tail, sizeof tail);
    cJSON *ex = cJSON_CreateObject();
    out->extra_json = ex;
    cJSON_AddStringToObject(ex, "command", cmd);
    cJSON_AddNumberToObject(ex, "command_seconds", secs);
    if (timed_out) {
        st = bl_fail(BL_ERR_RUN, "the command was killed after its timeout of %d s; stderr ends: %s", timeout, tail);
        goto done;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status)) cJSON_AddNumberToObject(ex, "exit_status", WEXITSTATUS(status));
        st = bl_fail(BL_ERR_RUN, "the command %s %d%s; stderr ends: %s", WIFEXITED(status) ? "exited with" : "died of signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                     WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (command not found?)" : "", tail);
        goto done;
    }
    cJSON_AddNumberToObject(ex, "exit_status", 0);
    if ((st = read_outputs(ctx, outd, out, cJSON_AddArrayToObject(ex, "files")))) {
        bl_fail_ctx(st, "defence 'external' (%s)%s%s", cmd, tail[0] ? "; stderr ends: " : "", tail);
        goto done;
    }
    if (tail[0]) cJSON_AddStringToObject(ex, "stderr_tail", tail);
done:
    if (keep) fprintf(stderr, "external: work folder kept: %s\n", work);
    else remove_tree(work);
    return st;
}

const DefenseOps external_defense = {
    .name = "external",
    .level = DEF_ANY,
    .kinds = DS_KIND_BIT(DS_IMAGES) | DS_KIND_BIT(DS_RECORDS) | DS_KIND_BIT(DS_TOKENS),
    .params = g_params,
    .nparams = (int)BL_ARRAY_LEN(g_params),
    .summary = "any command over files (TrojAI-style): in/ safetensors + .npy, out/ scores, labels or a repaired "
               "model; README \"Write your own defence\"",
    .run = external_run,
};
