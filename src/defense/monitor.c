// monitor.c: screen a stream of inputs with a registered input-level defence; see monitor.h.
//
// Why chunks: STRIP and the confidence detector score a batch of inputs per call, and calling them per chunk
// keeps the stream responsive (stdin is answered every MONITOR_CHUNK inputs, or at EOF) while amortising the
// model's batched forward. The full calibration runs once in monitor_init; later calls use the smallest
// allowed `calib`, whose thresholds are discarded, so the scores are the registered defence's own.
#include "defense/monitor.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/png.h"
#include "defense/features.h"

#define MONITOR_MAX_SETTINGS 32

Status monitor_init(Monitor *mon, Model *m, const char *defense, const char *const *settings, const Dataset *clean,
                    double frr, uint64_t seed) {
    memset(mon, 0, sizeof *mon);
    const DefenseOps *ops = defense_find(defense);
    if (!ops || ops->level != DEF_INPUTS)
        return bl_fail(BL_ERR_USAGE, "monitor: '%s' is not an input-level defence (use strip or confidence)",
                       defense ? defense : "(null)");
    int fi = -1;
    for (int f = 0; f < DEFENSE_NFRR; f++)
        if (fabs(defense_frr_targets[f] - frr) < 1e-12) fi = f;
    if (fi < 0)
        return bl_fail(BL_ERR_USAGE, "monitor: --frr %g is not a calibrated target (use 0.005, 0.01, 0.02 or 0.03)",
                       frr);
    if (!clean || clean->n < 1) return bl_fail(BL_ERR_DATA, "monitor: the calibration set is empty");
    if ((size_t)ds_sample_size(clean) != shape_size(m->input))
        return bl_fail(BL_ERR_DATA, "monitor: calibration images are %dx%dx%d but the model takes %dx%dx%d",
                       clean->c, clean->h, clean->w, m->input.c, m->input.h, m->input.w);
    Status st = defense_params_resolve(ops, settings, &mon->calib);
    if (st) return bl_fail_ctx(st, "monitor: --set for %s", ops->name);
    // the same parameters with the smallest calibration the defence accepts, for the scoring calls (their
    // thresholds are unused)
    char quick[64] = "";
    const char *qset[MONITOR_MAX_SETTINGS + 2];
    int nq = 0;
    for (int i = 0; settings && settings[i]; i++) {
        if (nq == MONITOR_MAX_SETTINGS) return bl_fail(BL_ERR_USAGE, "monitor: more than %d settings", nq);
        if (strncmp(settings[i], "calib=", 6)) qset[nq++] = settings[i];
    }
    for (int i = 0; i < ops->nparams; i++)
        if (!strcmp(ops->params[i].key, "calib")) {
            snprintf(quick, sizeof quick, "calib=%g", ops->params[i].min < 1 ? 1 : ops->params[i].min);
            qset[nq++] = quick;
        }
    qset[nq] = NULL;
    if ((st = defense_params_resolve(ops, qset, &mon->quick))) return st;
    mon->ops = ops, mon->model = m, mon->clean = clean, mon->seed = seed, mon->frr = frr;
    // one full calibration call; its single screened input (a clean image) is only there to satisfy the API
    Dataset one = {0};
    int first = 0;
    if ((st = ds_select(clean, &first, 1, &one))) return st;
    DefenseResult r = {0};
    DefenseContext ctx = {.model = m, .clean = clean, .inputs = &one, .seed = seed, .params = &mon->calib};
    st = ops->run(&ctx, &r);
    if (!st) mon->threshold = r.thresholds[fi];
    if (!st && r.notes[0]) fprintf(stderr, "monitor: %s: %s\n", ops->name, r.notes);
    defense_result_free(&r);
    ds_free(&one);
    return st;
}

static void emit(FILE *out, cJSON *o) {
    char *s = cJSON_PrintUnformatted(o);
    if (s) fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void emit_error(FILE *out, long index, const char *file, const char *msg, MonitorStats *st) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", (double)index);
    if (file) cJSON_AddStringToObject(o, "file", file);
    cJSON_AddStringToObject(o, "error", msg);
    emit(out, o);
    st->errors++;
}

// Screen chunk's k images (labels zero); names (may be NULL) are file names for the JSON lines.
static Status screen_chunk(Monitor *mon, Dataset *chunk, int k, const long *index, char *const *names, FILE *out,
                           MonitorStats *st) {
    if (k == 0) return BL_OK;
    const int K = mon->model->num_classes;
    int saved = chunk->n;
    chunk->n = k;
    double t0 = bl_now();
    DefenseResult r = {0};
    DefenseContext ctx = {.model = mon->model, .clean = mon->clean, .inputs = chunk, .seed = mon->seed,
                          .params = &mon->quick};
    Status s = mon->ops->run(&ctx, &r);
    float *logits = malloc((size_t)k * K * sizeof(float));
    if (!s && !logits) s = bl_fail(BL_ERR_RUN, "monitor: out of memory");
    if (!s) s = feat_logits(mon->model, chunk, NULL, k, logits);
    double dt = bl_now() - t0;
    chunk->n = saved;
    for (int i = 0; !s && i < k; i++) {
        int pred = 0;
        for (int c = 1; c < K; c++)
            if (logits[(size_t)i * K + c] > logits[(size_t)i * K + pred]) pred = c;
        float sc = r.input_score[i];
        int flag = isfinite(sc) && sc > mon->threshold;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)index[i]);
        if (names) cJSON_AddStringToObject(o, "file", names[i]);
        cJSON_AddNumberToObject(o, "label", pred);
        if (isfinite(sc)) cJSON_AddNumberToObject(o, "score", sc);
        else cJSON_AddNullToObject(o, "score");
        cJSON_AddStringToObject(o, "verdict", flag ? "suspicious" : "clean");
        cJSON_AddNumberToObject(o, "latency_ms", 1000 * dt / k);
        emit(out, o);
        st->inputs++;
        st->flagged += flag;
    }
    st->seconds += dt;
    fflush(out);
    free(logits);
    defense_result_free(&r);
    return s;
}

static Status chunk_alloc(const Monitor *mon, Dataset *chunk) {
    Shape in = mon->model->input;
    return ds_alloc(chunk, MONITOR_CHUNK, in.c, in.h, in.w, mon->model->num_classes);
}

// Messages: each chunk is a selection of d (the messages keep d's lexicon; the model maps words through its own
// vocabulary), labels zeroed: the monitor does not know them.
static Status screen_messages(Monitor *mon, const Dataset *d, long first_index, FILE *out, MonitorStats *st) {
    if (d->c != mon->model->input.c || mon->model->input.h != 1 || mon->model->input.w != 1 || !mon->model->vocab)
        return bl_fail(BL_ERR_DATA, "monitor: the inputs are messages of %d words but the model is not a text model "
                       "reading %d", d->c, d->c);
    int idx[MONITOR_CHUNK];
    long index[MONITOR_CHUNK];
    Status s = BL_OK;
    for (int i = 0; !s && i < d->n; i += MONITOR_CHUNK) {
        int k = BL_MIN(MONITOR_CHUNK, d->n - i);
        for (int j = 0; j < k; j++) idx[j] = i + j, index[j] = first_index + i + j;
        Dataset chunk;
        if ((s = ds_select(d, idx, k, &chunk))) break;
        memset(chunk.labels, 0, (size_t)k);
        s = screen_chunk(mon, &chunk, k, index, NULL, out, st);
        ds_free(&chunk);
    }
    return s;
}

Status monitor_screen_dataset(Monitor *mon, const Dataset *d, long first_index, FILE *out, MonitorStats *st) {
    if (d->kind == DS_TOKENS) return screen_messages(mon, d, first_index, out, st);
    const int sz = ds_sample_size(d);
    if ((size_t)sz != shape_size(mon->model->input))
        return bl_fail(BL_ERR_DATA, "monitor: input images are %dx%dx%d but the model takes %dx%dx%d", d->c, d->h,
                       d->w, mon->model->input.c, mon->model->input.h, mon->model->input.w);
    Dataset chunk = {0};
    Status s = chunk_alloc(mon, &chunk);
    long index[MONITOR_CHUNK];
    for (int i = 0; !s && i < d->n; i += MONITOR_CHUNK) {
        int k = BL_MIN(MONITOR_CHUNK, d->n - i);
        memcpy(chunk.images, d->images + (size_t)i * sz, (size_t)k * sz);
        for (int j = 0; j < k; j++) index[j] = first_index + i + j;
        s = screen_chunk(mon, &chunk, k, index, NULL, out, st);
    }
    ds_free(&chunk);
    return s;
}

Status monitor_screen_raw(Monitor *mon, FILE *in, FILE *out, MonitorStats *st) {
    const size_t sz = shape_size(mon->model->input);
    Dataset chunk = {0};
    Status s = chunk_alloc(mon, &chunk);
    long index[MONITOR_CHUNK], next = 0;
    int eof = 0;
    while (!s && !eof) {
        int k = 0;
        while (k < MONITOR_CHUNK) {
            size_t got = fread(chunk.images + (size_t)k * sz, 1, sz, in);
            if (got == sz) {
                index[k++] = next++;
                continue;
            }
            eof = 1;
            if (got > 0) { // screen what came before, then report the torn record
                s = screen_chunk(mon, &chunk, k, index, NULL, out, st);
                k = 0;
                char msg[160];
                snprintf(msg, sizeof msg, "short record: %zu of %zu bytes before end of input", got, sz);
                emit_error(out, next++, NULL, msg, st);
                fflush(out);
            }
            break;
        }
        if (!s) s = screen_chunk(mon, &chunk, k, index, NULL, out, st);
    }
    if (!s && ferror(in)) s = bl_fail(BL_ERR_DATA, "monitor: read error on the input stream");
    ds_free(&chunk);
    return s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

Status monitor_screen_pngdir(Monitor *mon, const char *dir, FILE *out, MonitorStats *st) {
    DIR *dp = opendir(dir);
    if (!dp) return bl_fail(BL_ERR_DATA, "monitor: cannot open folder %s", dir);
    char **files = NULL;
    size_t n = 0, cap = 0;
    Status s = BL_OK;
    for (struct dirent *e; (e = readdir(dp));) {
        size_t L = strlen(e->d_name);
        if (L < 5 || strcmp(e->d_name + L - 4, ".png")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nf = realloc(files, cap * sizeof *files);
            if (!nf) {
                s = bl_fail(BL_ERR_RUN, "monitor: out of memory");
                break;
            }
            files = nf;
        }
        if (!(files[n] = strdup(e->d_name))) {
            s = bl_fail(BL_ERR_RUN, "monitor: out of memory");
            break;
        }
        n++;
    }
    closedir(dp);
    if (n) qsort(files, n, sizeof *files, cmp_str);
    const Shape in = mon->model->input;
    const size_t sz = shape_size(in);
    Dataset chunk = {0};
    if (!s) s = chunk_alloc(mon, &chunk);
    long index[MONITOR_CHUNK];
    char *names[MONITOR_CHUNK];
    int k = 0;
    for (size_t i = 0; !s && i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        uint8_t *pix = NULL;
        int w = 0, h = 0;
        Status ps = png_read(path, in.c, &pix, NULL, &w, &h);
        if (ps) emit_error(out, (long)i, files[i], bl_errmsg(), st);
        else if (w != in.w || h != in.h) {
            char msg[160];
            snprintf(msg, sizeof msg, "image is %dx%d, the model takes %dx%d", w, h, in.w, in.h);
            emit_error(out, (long)i, files[i], msg, st);
        } else {
            memcpy(chunk.images + (size_t)k * sz, pix, sz);
            index[k] = (long)i, names[k] = files[i];
            if (++k == MONITOR_CHUNK) s = screen_chunk(mon, &chunk, k, index, names, out, st), k = 0;
        }
        bl_free(pix);
    }
    if (!s) s = screen_chunk(mon, &chunk, k, index, names, out, st);
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
    ds_free(&chunk);
    return s;
}
